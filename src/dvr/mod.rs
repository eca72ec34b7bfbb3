//! Direct volume rendering, the part that needs no GPU: transfer functions (opacity and
//! colour over the stored value, HU for CT) and their presets (`assets/transfer_functions/`,
//! compiled in, plus the user's own), the lookup table the shader samples, the brick grid
//! that lets rays skip empty space, the fit of a study into the adapter's texture limits and
//! the stereo geometry. The viewer's `app::volume` uploads and draws what this computes.
//! Depends on `volume` only; no Bevy, no wgpu.

pub mod bricks;
pub mod fit;
pub mod stereo;

use serde::{Deserialize, Serialize};

use crate::volume::histogram::Histogram;

/// How samples along a ray become a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Front-to-back compositing through the transfer function, shaded.
    #[default]
    Composite,
    /// Maximum intensity projection, through the display window.
    Mip,
    /// Minimum intensity projection (airways), through the display window.
    Minip,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Composite => "composite",
            Mode::Mip => "MIP",
            Mode::Minip => "MinIP",
        }
    }

    /// The number the shader switches on.
    pub fn code(self) -> u32 {
        match self {
            Mode::Composite => 0,
            Mode::Mip => 1,
            Mode::Minip => 2,
        }
    }
}

/// A transfer function: opacity and colour points over the value, interpolated linearly.
/// Opacity is per millimetre of ray (as Slicer's and VTK's unit distance of 1 mm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferFunction {
    pub name: String,
    /// "CT", "MR" or "" (any).
    #[serde(default)]
    pub modality: String,
    #[serde(default = "yes")]
    pub shading: bool,
    /// Values are fractions of the series' 1st–99.5th percentile range (MR has no unit).
    #[serde(default)]
    pub relative: bool,
    /// Where the points come from (shown as the preset's tooltip).
    #[serde(default)]
    pub source: String,
    /// `[value, opacity]`, values increasing, opacity 0–1.
    pub opacity: Vec<[f64; 2]>,
    /// `[value, r, g, b]`, values increasing, linear colour 0–1.
    pub colour: Vec<[f64; 4]>,
}

fn yes() -> bool {
    true
}

/// The presets shipped with the application, compiled in (the files in
/// `assets/transfer_functions/`).
const BUNDLED: [(&str, &str); 7] = [
    (
        "ct-angio",
        include_str!("../../assets/transfer_functions/ct-angio.json"),
    ),
    (
        "ct-bone",
        include_str!("../../assets/transfer_functions/ct-bone.json"),
    ),
    (
        "ct-soft-tissue",
        include_str!("../../assets/transfer_functions/ct-soft-tissue.json"),
    ),
    (
        "ct-lung",
        include_str!("../../assets/transfer_functions/ct-lung.json"),
    ),
    (
        "ct-cardiac",
        include_str!("../../assets/transfer_functions/ct-cardiac.json"),
    ),
    (
        "mr-default",
        include_str!("../../assets/transfer_functions/mr-default.json"),
    ),
    (
        "mr-angio",
        include_str!("../../assets/transfer_functions/mr-angio.json"),
    ),
];

/// A preset with its short key (`ct-angio`: the file's stem, what `--volume` takes).
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub key: String,
    pub function: TransferFunction,
    /// Saved by the user (in the configuration folder), not shipped.
    pub user: bool,
}

/// The shipped presets, in menu order.
pub fn bundled() -> Vec<Preset> {
    BUNDLED
        .iter()
        .filter_map(|(key, text)| {
            let function = parse(text).ok()?;
            Some(Preset {
                key: (*key).into(),
                function,
                user: false,
            })
        })
        .collect()
}

/// Reads and checks a transfer function (a preset file's text).
pub fn parse(text: &str) -> Result<TransferFunction, String> {
    let tf: TransferFunction =
        serde_json::from_str(text).map_err(|e| format!("not a transfer function: {e}"))?;
    tf.check()?;
    Ok(tf)
}

/// The preset a study opens with: CT angio for CT, MR default for MR and anything else.
pub fn default_key(is_ct: bool) -> &'static str {
    if is_ct { "ct-angio" } else { "mr-default" }
}

/// The user's presets folder (inside the configuration folder).
pub fn user_dir(config: &std::path::Path) -> std::path::PathBuf {
    config.join("transfer_functions")
}

/// The user's saved presets; unreadable files are skipped and named.
pub fn user_presets(config: &std::path::Path) -> (Vec<Preset>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(user_dir(config)) else {
        return (found, problems);
    };
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let key = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match crate::fsutil::regular_file(&path, "a transfer function", 1 << 20)
            .map_err(|e| e.to_string())
            .and_then(|_| std::fs::read_to_string(&path).map_err(|e| e.to_string()))
            .and_then(|t| parse(&t))
        {
            Ok(function) => found.push(Preset {
                key,
                function,
                user: true,
            }),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    (found, problems)
}

/// Saves a preset under a file name made from its name (letters, digits and dashes), written
/// atomically; returns its key.
pub fn save_user_preset(config: &std::path::Path, tf: &TransferFunction) -> Result<String, String> {
    tf.check()?;
    let key: String = tf
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if key.is_empty() {
        return Err("give the preset a name with letters or digits".into());
    }
    let key = format!("user-{key}");
    let dir = user_dir(config);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(tf).map_err(|e| e.to_string())?;
    crate::fsutil::write_atomic(&dir.join(format!("{key}.json")), text.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(key)
}

/// Entries in the lookup table the shader samples (linear filtering between them).
pub const LUT_SIZE: usize = 1024;

/// The transfer function sampled for the shader: `LUT_SIZE` RGBA entries (linear colour,
/// opacity per mm) evenly over `[lo, hi]` in real values; values outside take the end
/// entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    pub lo: f64,
    pub hi: f64,
    pub rgba: Vec<[f32; 4]>,
}

impl Lut {
    /// The entry index of a value (clamped).
    pub fn index(&self, value: f64) -> usize {
        let n = self.rgba.len();
        let t = ((value - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        ((t * (n - 1) as f64).round() as usize).min(n - 1)
    }

    /// Prefix counts of entries with visible opacity, for range queries in O(1):
    /// `count[b + 1] - count[a]` entries in `a..=b` show something.
    pub fn visible_prefix(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.rgba.len() + 1);
        out.push(0);
        let mut c = 0;
        for e in &self.rgba {
            if e[3] > MIN_VISIBLE_OPACITY {
                c += 1;
            }
            out.push(c);
        }
        out
    }
}

/// Opacity per mm below which a sample adds nothing the eye sees (skipped as empty).
pub const MIN_VISIBLE_OPACITY: f32 = 1.0 / 512.0;

impl TransferFunction {
    /// Points sorted, finite, opacity and colour within 0–1, at least two of each.
    pub fn check(&self) -> Result<(), String> {
        if self.opacity.len() < 2 || self.colour.len() < 2 {
            return Err(format!(
                "transfer function {:?} needs at least two opacity and two colour points",
                self.name
            ));
        }
        let sorted = |v: &mut dyn Iterator<Item = f64>| {
            let vals: Vec<f64> = v.collect();
            vals.iter().all(|x| x.is_finite()) && vals.windows(2).all(|w| w[0] <= w[1])
        };
        if !sorted(&mut self.opacity.iter().map(|p| p[0]))
            || !sorted(&mut self.colour.iter().map(|p| p[0]))
        {
            return Err(format!(
                "transfer function {:?}: point values must be finite and increasing",
                self.name
            ));
        }
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        if !self.opacity.iter().all(|p| unit(p[1]))
            || !self.colour.iter().all(|p| p[1..].iter().all(|&c| unit(c)))
        {
            return Err(format!(
                "transfer function {:?}: opacity and colour must lie within 0–1",
                self.name
            ));
        }
        Ok(())
    }

    /// The same function with its values in real units: relative (MR) presets are spread
    /// over the series' 1st–99.5th percentile range; absolute ones are returned as they are.
    pub fn resolved(&self, histogram: &Histogram) -> TransferFunction {
        if !self.relative {
            return self.clone();
        }
        let lo = histogram.quantile(0.01);
        let hi = histogram.quantile(0.995).max(lo + 1.0);
        let map = |v: f64| lo + v * (hi - lo);
        TransferFunction {
            relative: false,
            opacity: self.opacity.iter().map(|p| [map(p[0]), p[1]]).collect(),
            colour: self
                .colour
                .iter()
                .map(|p| [map(p[0]), p[1], p[2], p[3]])
                .collect(),
            ..self.clone()
        }
    }

    /// Opacity per mm at a value.
    pub fn opacity_at(&self, v: f64) -> f64 {
        interpolate(&self.opacity, v, |p| p[1])
    }

    /// Linear colour at a value.
    pub fn colour_at(&self, v: f64) -> [f64; 3] {
        [
            interpolate(&self.colour, v, |p| p[1]),
            interpolate(&self.colour, v, |p| p[2]),
            interpolate(&self.colour, v, |p| p[3]),
        ]
    }

    /// The value range the points span.
    pub fn range(&self) -> (f64, f64) {
        let first = self.opacity[0][0].min(self.colour[0][0]);
        let last =
            self.opacity[self.opacity.len() - 1][0].max(self.colour[self.colour.len() - 1][0]);
        (first, last.max(first + 1.0))
    }

    /// Samples the function for the shader over the points' range.
    pub fn lut(&self) -> Lut {
        let (lo, hi) = self.range();
        let rgba = (0..LUT_SIZE)
            .map(|i| {
                let v = lo + (hi - lo) * i as f64 / (LUT_SIZE - 1) as f64;
                let c = self.colour_at(v);
                [
                    c[0] as f32,
                    c[1] as f32,
                    c[2] as f32,
                    self.opacity_at(v) as f32,
                ]
            })
            .collect();
        Lut { lo, hi, rgba }
    }

    /// Moves every point by `shift` and spreads them by `scale` about their middle, as
    /// window/level moves a window (the editor's mouse drag).
    pub fn shifted_scaled(&self, shift: f64, scale: f64) -> TransferFunction {
        let visible: Vec<f64> = self
            .opacity
            .iter()
            .filter(|p| p[1] > 0.0)
            .map(|p| p[0])
            .collect();
        let centre = if visible.is_empty() {
            let (lo, hi) = self.range();
            0.5 * (lo + hi)
        } else {
            0.5 * (visible[0] + visible[visible.len() - 1])
        };
        let scale = scale.clamp(0.05, 20.0);
        let map = |v: f64| centre + shift + (v - centre) * scale;
        // The end points (−3024 / 3071) stay where they are so the table still spans the
        // whole range; inner points move.
        let move_inner = |i: usize, n: usize, v: f64| {
            if i == 0 || i + 1 == n { v } else { map(v) }
        };
        let no = self.opacity.len();
        let nc = self.colour.len();
        let mut out = self.clone();
        for (i, p) in out.opacity.iter_mut().enumerate() {
            p[0] = move_inner(i, no, p[0]);
        }
        for (i, p) in out.colour.iter_mut().enumerate() {
            p[0] = move_inner(i, nc, p[0]);
        }
        out.keep_sorted();
        out
    }

    /// Re-establishes increasing values (after a drag), clamping each inner point between
    /// its neighbours.
    pub fn keep_sorted(&mut self) {
        fn fix<const N: usize>(points: &mut [[f64; N]]) {
            let n = points.len();
            if n < 2 {
                return;
            }
            let (first, last) = (points[0][0], points[n - 1][0]);
            for i in 1..n - 1 {
                let lo = points[i - 1][0];
                points[i][0] = points[i][0].clamp(lo, last.max(lo));
            }
            if points[0][0] > first {
                points[0][0] = first;
            }
        }
        fix(&mut self.opacity);
        fix(&mut self.colour);
    }
}

fn interpolate<const N: usize>(points: &[[f64; N]], v: f64, f: impl Fn(&[f64; N]) -> f64) -> f64 {
    let n = points.len();
    if n == 0 {
        return 0.0;
    }
    if v <= points[0][0] {
        return f(&points[0]);
    }
    if v >= points[n - 1][0] {
        return f(&points[n - 1]);
    }
    let i = points.partition_point(|p| p[0] <= v).clamp(1, n - 1);
    let (a, b) = (&points[i - 1], &points[i]);
    let span = b[0] - a[0];
    if span <= 0.0 {
        return f(b);
    }
    let t = (v - a[0]) / span;
    f(a) + t * (f(b) - f(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_preset_parses_and_the_defaults_exist() {
        let presets = bundled();
        assert_eq!(
            presets.len(),
            BUNDLED.len(),
            "a bundled preset failed to parse"
        );
        for key in [default_key(true), default_key(false)] {
            assert!(presets.iter().any(|p| p.key == key), "{key} missing");
        }
        for p in &presets {
            assert!(!p.function.source.is_empty(), "{} has no source", p.key);
        }
    }

    #[test]
    fn angio_preset_shows_blood_red_and_bone_ivory_and_soft_tissue_not_at_all() {
        let tf = bundled()
            .into_iter()
            .find(|p| p.key == "ct-angio")
            .map(|p| p.function)
            .unwrap();
        assert_eq!(tf.opacity_at(40.0), 0.0, "soft tissue must be transparent");
        let blood = tf.colour_at(380.0);
        assert!(
            blood[0] > 0.7 && blood[1] < 0.3 && blood[2] < 0.3,
            "{blood:?}"
        );
        let bone = tf.colour_at(1100.0);
        assert!(
            bone.iter().all(|&c| c > 0.7) && bone[2] < bone[0],
            "{bone:?}"
        );
        assert!(tf.opacity_at(380.0) > 0.1 && tf.opacity_at(1100.0) > 0.8);
    }

    #[test]
    fn lut_samples_the_points_and_interpolates_between() {
        let tf = TransferFunction {
            name: "t".into(),
            modality: String::new(),
            shading: false,
            relative: false,
            source: String::new(),
            opacity: vec![[0.0, 0.0], [1023.0, 1.0]],
            colour: vec![[0.0, 0.0, 0.0, 0.0], [1023.0, 1.0, 0.5, 0.25]],
        };
        let lut = tf.lut();
        assert_eq!((lut.lo, lut.hi), (0.0, 1023.0));
        assert!((lut.rgba[512][3] - 512.0 / 1023.0).abs() < 1e-6);
        assert!((lut.rgba[1023][1] - 0.5).abs() < 1e-6);
        assert_eq!(lut.index(-50.0), 0);
        assert_eq!(lut.index(5000.0), LUT_SIZE - 1);
        let prefix = lut.visible_prefix();
        assert_eq!(prefix[0], 0);
        assert!(prefix[LUT_SIZE] as usize >= LUT_SIZE - 2);
    }

    #[test]
    fn shift_and_scale_move_inner_points_and_keep_order() {
        let tf = bundled().into_iter().next().unwrap().function;
        let moved = tf.shifted_scaled(100.0, 1.0);
        assert_eq!(moved.opacity[0][0], tf.opacity[0][0]);
        assert!((moved.opacity[2][0] - (tf.opacity[2][0] + 100.0)).abs() < 1e-9);
        let squeezed = tf.shifted_scaled(0.0, 0.5);
        assert!(squeezed.check().is_ok());
        let wide = tf.shifted_scaled(0.0, 10.0);
        assert!(wide.check().is_ok(), "{:?}", wide.check());
    }

    #[test]
    fn bad_functions_are_refused_with_a_reason() {
        assert!(parse("{}").is_err());
        let e = parse(r#"{"name":"x","opacity":[[5,0],[1,1]],"colour":[[0,0,0,0],[1,1,1,1]]}"#)
            .unwrap_err();
        assert!(e.contains("increasing"), "{e}");
        let e = parse(r#"{"name":"x","opacity":[[0,2],[1,1]],"colour":[[0,0,0,0],[1,1,1,1]]}"#)
            .unwrap_err();
        assert!(e.contains("0–1"), "{e}");
    }

    #[test]
    fn user_presets_round_trip_through_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut tf = bundled().into_iter().next().unwrap().function;
        tf.name = "My aorta / arch".into();
        let key = save_user_preset(dir.path(), &tf).unwrap();
        assert_eq!(key, "user-my-aorta-arch");
        std::fs::write(user_dir(dir.path()).join("broken.json"), "{").unwrap();
        let (found, problems) = user_presets(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].function, tf);
        assert!(found[0].user);
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn relative_presets_spread_over_the_series_range() {
        let tf = bundled()
            .into_iter()
            .find(|p| p.key == "mr-default")
            .map(|p| p.function)
            .unwrap();
        let geometry = crate::volume::Geometry::axis_aligned([10, 10, 10], [1.0; 3], [0.0; 3]);
        let voxels = ndarray::Array3::from_shape_fn((10, 10, 10), |(k, _, _)| (k * 100) as i16);
        let vol = crate::volume::Volume::new(voxels, geometry).unwrap();
        let h = Histogram::of(&vol);
        let r = tf.resolved(&h);
        assert!(!r.relative);
        assert!((r.opacity[0][0] - h.quantile(0.01)).abs() < 1e-9);
        assert!((r.opacity[r.opacity.len() - 1][0] - h.quantile(0.995)).abs() < 1e-9);
    }
}
