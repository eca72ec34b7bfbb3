//! What kind of image is open, and how it should first look. DICOM says its modality; a
//! NIfTI file does not, so it is read from a BIDS JSON sidecar when there is one, else
//! inferred from the values (a CT holds whole numbers with air near −1000 and soft tissue
//! near 0); the user can always change it. The modality decides the units (HU), the window
//! presets offered, the first window (the scanner's, Angio for a CT angiogram with its
//! contrast peak, Soft tissue for other CT, the 1st–99th percentile otherwise) and the
//! default structures. Plain functions over `volume`; no UI.

use serde::{Deserialize, Serialize};

use crate::volume::Volume;
use crate::volume::display::{CT_PRESETS, WindowLevel, auto_window};
use crate::volume::histogram::Histogram;

/// Modalities the series panel offers to switch between.
pub const CHOICES: [&str; 5] = ["CT", "MR", "PT", "US", "OT"];

/// Whether a modality string means CT (values in HU).
pub fn is_ct(modality: &str) -> bool {
    modality.trim().eq_ignore_ascii_case("CT")
}

/// The unit of a modality's values, as read-outs print it ("" when it has none).
pub fn unit(modality: &str) -> &'static str {
    if is_ct(modality) { "HU" } else { "" }
}

/// Where the modality of the open series came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The DICOM Modality attribute.
    Header,
    /// A BIDS JSON sidecar's `Modality`.
    Sidecar,
    /// Inferred from the values (NIfTI without a sidecar).
    Values,
    /// Chosen by the user.
    User,
    /// Nothing says (treated like MR: no units, no HU presets).
    Unknown,
}

/// Whether the values look like a CT in HU: whole numbers, nearly all in the CT range
/// (padding outside the reconstruction circle aside), some air or lung and plenty of soft
/// tissue.
pub fn looks_like_ct(h: &Histogram) -> bool {
    if h.total == 0 || !h.integer_valued() {
        return false;
    }
    const CT_RANGE: (f64, f64) = (-1100.0, 3100.0);
    let in_range = h.fraction_in(CT_RANGE.0, CT_RANGE.1);
    // A single value far below air fills the corners outside the field of view (−2048,
    // −3024 on some scanners); it does not count against the CT range.
    let padding = match h.mode() {
        Some((v, share)) if v < CT_RANGE.0 => share,
        _ => 0.0,
    };
    let outside = 1.0 - in_range - padding;
    outside < 0.01 && h.fraction_in(-1100.0, -600.0) >= 0.01 && h.fraction_in(-200.0, 250.0) >= 0.10
}

/// The HU of a contrast-enhanced blood peak, if the histogram has one: a local maximum
/// between 150 and 600 HU clearly above the valley that separates it from soft tissue
/// (above 600 HU a peak is more likely dense bone, as in the synthetic bench volume's ribs).
pub fn contrast_peak_hu(h: &Histogram) -> Option<f64> {
    const LO: f64 = -200.0;
    const W: f64 = 10.0;
    let raw = h.binned(LO, 1000.0, W);
    // A body to hold the blood: plenty of soft tissue (a dry skull phantom has a bone
    // peak here, not a blood one).
    if raw.is_empty() || h.total == 0 || h.fraction_in(-150.0, 150.0) < 0.10 {
        return None;
    }
    // Five-bin moving average (50 HU) against noise.
    let smooth: Vec<f64> = (0..raw.len())
        .map(|b| {
            let lo = b.saturating_sub(2);
            let hi = (b + 3).min(raw.len());
            raw[lo..hi].iter().sum::<u64>() as f64 / (hi - lo) as f64
        })
        .collect();
    let bin_of = |hu: f64| (((hu - LO) / W) as usize).min(smooth.len() - 1);
    let hu_of = |b: usize| LO + (b as f64 + 0.5) * W;
    let soft = (bin_of(-150.0)..=bin_of(150.0)).max_by(|&a, &b| smooth[a].total_cmp(&smooth[b]))?;
    let (lo, hi) = (bin_of(150.0), bin_of(600.0));
    // Local maxima (over ±3 bins) between 150 and 600 HU — the soft-tissue slope may be
    // higher than the blood peak at 150 HU, so the window's largest bin will not do — each
    // judged against the valley that separates it from soft tissue; the most prominent wins.
    let enough = 1e-3 * h.total as f64;
    let mut best: Option<(f64, usize)> = None;
    for b in (lo + 1).max(soft + 1)..hi {
        let around = b.saturating_sub(3)..(b + 4).min(smooth.len());
        if smooth[around].iter().any(|&v| v > smooth[b]) {
            continue;
        }
        let valley = smooth[soft..b]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let prominence = smooth[b] / valley.max(1.0);
        if smooth[b] >= enough && prominence >= 1.5 && best.is_none_or(|(p, _)| prominence > p) {
            best = Some((prominence, b));
        }
    }
    best.map(|(_, b)| hu_of(b))
}

/// The window a series opens with, and its name: the Angio preset for a CT angiogram, else
/// the scanner's own window when the file carries one, else Soft tissue for CT and the
/// 1st–99th percentile for anything else.
pub fn default_window(volume: &Volume, modality: &str, h: &Histogram) -> (String, WindowLevel) {
    let preset = |name: &str| {
        CT_PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, w)| (n.to_string(), *w))
    };
    if is_ct(modality)
        && contrast_peak_hu(h).is_some()
        && let Some(angio) = preset("Angio")
    {
        return angio;
    }
    if let Some([center, width]) = volume.scanner_window
        && width >= 1.0
    {
        return ("Scanner".into(), WindowLevel::new(center, width));
    }
    if is_ct(modality)
        && let Some(soft) = preset("Soft tissue")
    {
        return soft;
    }
    ("Auto".into(), auto_window(volume))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// A CT-like body: air around, soft tissue inside, optionally contrast blood and bone.
    fn body(blood: bool, padding: Option<i16>) -> Volume {
        let n = 40;
        let vox = Array3::from_shape_fn((n, n, n), |(k, j, i)| {
            let r = ((i as f64 - 20.0).powi(2) + (j as f64 - 20.0).powi(2)).sqrt();
            let noise = ((i * 7 + j * 13 + k * 29) % 21) as i16 - 10;
            if let Some(p) = padding
                && r > 19.5
            {
                return p;
            }
            if r > 15.0 {
                -1000 + noise
            } else if r < 2.0 {
                800 + noise
            } else if blood && (r - 8.0).abs() < 2.5 {
                450 + noise
            } else {
                40 + noise
            }
        });
        Volume::new(vox, Geometry::axis_aligned([n, n, n], [1.0; 3], [0.0; 3])).expect("shape")
    }

    #[test]
    fn ct_is_recognised_by_its_values() {
        let ct = body(false, None);
        assert!(looks_like_ct(&Histogram::of(&ct)));
        // Corners padded with −3024 outside the reconstruction circle: still CT.
        assert!(looks_like_ct(&Histogram::of(&body(false, Some(-3024)))));
        // An MR-like volume: the same shapes at positive intensities.
        let mut mr = body(false, None);
        mr.voxels.mapv_inplace(|v| (v + 1000) / 3);
        assert!(!looks_like_ct(&Histogram::of(&mr)));
        // Fractional values are not HU.
        let mut scaled = body(false, None);
        scaled.value_scale.slope = 0.37;
        assert!(!looks_like_ct(&Histogram::of(&scaled)));
    }

    #[test]
    fn contrast_peak_opens_the_angio_window() {
        let cta = body(true, None);
        let h = Histogram::of(&cta);
        let peak = contrast_peak_hu(&h).expect("peak");
        assert!((peak - 450.0).abs() <= 30.0, "{peak}");
        assert_eq!(default_window(&cta, "CT", &h).0, "Angio");
        let plain = body(false, None);
        let h = Histogram::of(&plain);
        assert_eq!(contrast_peak_hu(&h), None);
        assert_eq!(default_window(&plain, "CT", &h).0, "Soft tissue");
        let mut with_window = plain.clone();
        with_window.scanner_window = Some([60.0, 360.0]);
        let (name, w) = default_window(&with_window, "CT", &h);
        assert_eq!((name.as_str(), w.center, w.width), ("Scanner", 60.0, 360.0));
        assert_eq!(default_window(&plain, "MR", &h).0, "Auto");
        assert_eq!(unit("CT"), "HU");
        assert_eq!(unit("MR"), "");
    }
}
