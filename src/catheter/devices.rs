//! Devices and whether they fit a planned path: the catalogue of sheaths and catheters the
//! app ships (`assets/devices.json`, compiled in) plus a user's own entries, and the fit of
//! one device along a [`PathReport`]: the sheath-to-femoral-artery ratio (SFAR: the
//! device's *outer* diameter over the lumen's minimal cross-section diameter) at every
//! point, the stretches where it reaches 1.0 (and the known risk threshold 1.05), and
//! those where the path bends tighter than the device allows. Pure data and arithmetic:
//! no viewer, no I/O beyond parsing the catalogue text.

use serde::{Deserialize, Serialize};

use super::metrics::PathReport;
use crate::geometry::P;

/// The catalogue compiled into the binary.
pub const BUNDLED_CATALOGUE: &str = include_str!("../../assets/devices.json");

/// SFAR from which a stretch is flagged: the device is as wide as the lumen.
pub const SFAR_TIGHT: f64 = 1.0;
/// SFAR from which a stretch is highlighted: a known risk threshold for vascular
/// complications of transfemoral access.
pub const SFAR_RISK: f64 = 1.05;

/// What kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// French size = inner diameter.
    Sheath,
    /// French size = outer diameter.
    Catheter,
    /// Entered by the user.
    Custom,
}

/// A device as the fit needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Device {
    pub name: String,
    pub kind: DeviceKind,
    /// French size as labelled (sheath: inner; catheter: outer), when it has one.
    #[serde(default)]
    pub french: Option<f64>,
    /// The diameter that must fit the artery (mm).
    pub outer_diameter_mm: f64,
    /// The tightest bend it takes (mm), when known.
    #[serde(default)]
    pub min_bend_radius_mm: Option<f64>,
}

impl Device {
    /// A user's device of this outer diameter (mm).
    pub fn custom(outer_diameter_mm: f64, min_bend_radius_mm: Option<f64>) -> Device {
        Device {
            name: format!("custom {outer_diameter_mm:.2} mm"),
            kind: DeviceKind::Custom,
            french: None,
            outer_diameter_mm,
            min_bend_radius_mm,
        }
    }

    fn check(&self) -> Result<(), String> {
        let positive = |x: f64| x.is_finite() && x > 0.0 && x < 100.0;
        if self.name.trim().is_empty() {
            return Err("a device without a name".into());
        }
        if !positive(self.outer_diameter_mm) {
            return Err(format!(
                "{}: outer diameter {} mm is not a size",
                self.name, self.outer_diameter_mm
            ));
        }
        if let Some(r) = self.min_bend_radius_mm
            && !(r.is_finite() && (0.0..1000.0).contains(&r))
        {
            return Err(format!("{}: bend radius {r} mm is not a radius", self.name));
        }
        if let (DeviceKind::Sheath, Some(f)) = (self.kind, self.french)
            && self.outer_diameter_mm < f / 3.0
        {
            return Err(format!(
                "{}: a {f} F sheath is {:.2} mm inside, wider than its outer {} mm",
                self.name,
                f / 3.0,
                self.outer_diameter_mm
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
struct CatalogueFile {
    version: u32,
    devices: Vec<Device>,
}

/// The devices to choose from.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    pub devices: Vec<Device>,
}

impl Catalogue {
    /// Parses and checks a catalogue (every entry a real size, names unique).
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let file: CatalogueFile =
            serde_json::from_str(text).map_err(|e| format!("device catalogue: {e}"))?;
        if file.version != 1 {
            return Err(format!(
                "device catalogue version {} (this build reads 1)",
                file.version
            ));
        }
        let mut names = std::collections::HashSet::new();
        for d in &file.devices {
            d.check()?;
            if !names.insert(d.name.to_lowercase()) {
                return Err(format!("device catalogue: {} is listed twice", d.name));
            }
        }
        Ok(Catalogue {
            devices: file.devices,
        })
    }

    /// The catalogue the app ships.
    pub fn bundled() -> Catalogue {
        // Checked by a unit test: the bundled text always parses.
        Catalogue::parse(BUNDLED_CATALOGUE).unwrap_or(Catalogue {
            devices: Vec::new(),
        })
    }

    /// A device by name, ignoring case and spaces at the ends; a bare French size ("14F",
    /// "14 F") finds the sheath of that size.
    pub fn find(&self, name: &str) -> Option<&Device> {
        let want = name.trim().to_lowercase().replace(' ', "");
        self.devices
            .iter()
            .find(|d| d.name.to_lowercase().replace(' ', "") == want)
            .or_else(|| {
                let fr: f64 = want.trim_end_matches(['f', 'r']).parse().ok()?;
                self.devices
                    .iter()
                    .find(|d| d.kind == DeviceKind::Sheath && d.french == Some(fr))
            })
    }
}

/// Why a stretch of the path is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    /// SFAR ≥ 1.0: the device is as wide as the lumen.
    Tight,
    /// SFAR ≥ 1.05: the known risk threshold.
    AtRisk,
    /// The path bends tighter than the device's minimal bend radius.
    Bend,
}

/// A flagged stretch of the path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Flag {
    pub concern: Concern,
    /// Along the path from the entry (mm).
    pub from_mm: f64,
    pub to_mm: f64,
    /// The worst value over it: SFAR, or the tightest radius (mm) for a bend.
    pub worst: f64,
    pub position_lps_mm: P,
}

/// How a device fits along a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fit {
    pub device: Device,
    /// SFAR at each point of the path (outer diameter ÷ minimal cross-section diameter).
    pub sfar: Vec<f64>,
    /// The largest SFAR and where.
    pub max_sfar: f64,
    pub max_sfar_position_lps_mm: P,
    /// The lumen's clearance around the device at each point: half the difference of the
    /// minimal diameter and the device's (mm; negative where it does not fit).
    pub clearance_mm: Vec<f64>,
    pub flags: Vec<Flag>,
}

/// The fit of `device` along `report`.
pub fn fit(report: &PathReport, device: &Device) -> Fit {
    let od = device.outer_diameter_mm;
    let sfar: Vec<f64> = report
        .min_diameters_mm
        .iter()
        .map(|&d| if d > 1e-9 { od / d } else { f64::MAX })
        .collect();
    let clearance_mm = report
        .min_diameters_mm
        .iter()
        .map(|&d| 0.5 * (d - od))
        .collect();
    let worst = sfar
        .iter()
        .copied()
        .enumerate()
        .fold((0, 0.0), |b, (i, x)| if x > b.1 { (i, x) } else { b });
    let at = |i: usize| report.points_lps_mm.get(i).copied().unwrap_or([0.0; 3]);
    let along = |i: usize| report.along_mm.get(i).copied().unwrap_or(0.0);
    let mut flags = Vec::new();
    // SFAR stretches: at or above 1.0, and within them the stretches at or above 1.05.
    for (concern, threshold) in [(Concern::Tight, SFAR_TIGHT), (Concern::AtRisk, SFAR_RISK)] {
        for (a, b) in runs(&sfar, |x| x >= threshold) {
            let (w, x) = (a..b)
                .map(|i| (i, sfar[i]))
                .fold((a, 0.0), |m, (i, x)| if x > m.1 { (i, x) } else { m });
            flags.push(Flag {
                concern,
                from_mm: along(a),
                to_mm: along(b - 1),
                worst: x,
                position_lps_mm: at(w),
            });
        }
    }
    if let Some(limit) = device.min_bend_radius_mm.filter(|r| *r > 0.0) {
        let k = &report.curvature_per_mm;
        for (a, b) in runs(k, |x| x > 1.0 / limit) {
            let (w, x) = (a..b)
                .map(|i| (i, k[i]))
                .fold((a, 0.0), |m, (i, x)| if x > m.1 { (i, x) } else { m });
            flags.push(Flag {
                concern: Concern::Bend,
                from_mm: along(a),
                to_mm: along(b - 1),
                worst: 1.0 / x,
                position_lps_mm: at(w),
            });
        }
    }
    flags.sort_by(|a, b| a.from_mm.total_cmp(&b.from_mm));
    Fit {
        device: device.clone(),
        max_sfar: worst.1,
        max_sfar_position_lps_mm: at(worst.0),
        sfar,
        clearance_mm,
        flags,
    }
}

/// The index ranges `[a, b)` where `test` holds.
fn runs(values: &[f64], test: impl Fn(f64) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &v) in values.iter().enumerate() {
        match (test(v), start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                out.push((a, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        out.push((a, values.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalogue_parses_and_sizes_sheaths_by_their_outside() {
        let c = Catalogue::parse(BUNDLED_CATALOGUE).expect("the shipped catalogue parses");
        assert!(c.devices.len() >= 10);
        let s14 = c.find("14F").expect("a 14 F sheath");
        assert_eq!(s14.kind, DeviceKind::Sheath);
        // 14 F inside is 4.67 mm; the outside is wider.
        assert!(s14.outer_diameter_mm > 14.0 / 3.0);
        assert_eq!(c.find("  introducer SHEATH 14 f "), Some(s14));
        let cat = c.find("Diagnostic catheter 5 F").expect("a catheter");
        assert!((cat.outer_diameter_mm - 5.0 / 3.0).abs() < 0.01);
        assert!(c.find("no such device").is_none());
    }

    #[test]
    fn a_bad_catalogue_is_refused_with_the_reason() {
        let entry = |od: &str| {
            format!(
                r#"{{"version":1,"devices":[{{"name":"S","kind":"sheath","french":14,"outer_diameter_mm":{od}}}]}}"#
            )
        };
        assert!(Catalogue::parse(&entry("5.4")).is_ok());
        assert!(
            Catalogue::parse(&entry("4.0"))
                .unwrap_err()
                .contains("wider")
        );
        assert!(
            Catalogue::parse(&entry("-1"))
                .unwrap_err()
                .contains("not a size")
        );
        assert!(Catalogue::parse(r#"{"version":2,"devices":[]}"#).is_err());
        assert!(Catalogue::parse("{").is_err());
    }

    fn report(min_d: Vec<f64>, curvature: Vec<f64>) -> PathReport {
        let n = min_d.len();
        let points: Vec<P> = (0..n).map(|i| [0.0, 0.0, i as f64]).collect();
        PathReport {
            along_mm: (0..n).map(|i| i as f64).collect(),
            points_lps_mm: points,
            diameters_mm: min_d.clone(),
            max_diameters_mm: min_d.clone(),
            area_equivalent_diameters_mm: min_d.clone(),
            min_diameters_mm: min_d,
            curvature_per_mm: curvature,
            length_mm: n as f64 - 1.0,
            min_lumen_diameter_mm: 0.0,
            min_lumen_position_lps_mm: [0.0; 3],
            min_lumen_at_mm: 0.0,
            max_lumen_diameter_mm: 0.0,
            max_lumen_position_lps_mm: [0.0; 3],
            tortuosity: 1.0,
            total_bend_deg: 0.0,
            min_radius_of_curvature_mm: None,
            min_radius_position_lps_mm: [0.0; 3],
            bends: Vec::new(),
            bends_over_90: 0,
        }
    }

    #[test]
    fn tight_stretches_and_bends_are_flagged_where_they_are() {
        // An 8 mm artery narrowing to 5 mm over points 10..15; a bend of radius 10 mm at 30..33.
        let min_d: Vec<f64> = (0..40)
            .map(|i| if (10..15).contains(&i) { 5.0 } else { 8.0 })
            .collect();
        let k: Vec<f64> = (0..40)
            .map(|i| if (30..33).contains(&i) { 0.1 } else { 0.0 })
            .collect();
        let dev = Device {
            name: "S".into(),
            kind: DeviceKind::Sheath,
            french: Some(14.0),
            outer_diameter_mm: 5.4,
            min_bend_radius_mm: Some(20.0),
        };
        let f = fit(&report(min_d, k), &dev);
        assert!((f.max_sfar - 5.4 / 5.0).abs() < 1e-12);
        assert_eq!(f.max_sfar_position_lps_mm, [0.0, 0.0, 10.0]);
        assert!((f.clearance_mm[0] - 1.3).abs() < 1e-12);
        assert!(f.clearance_mm[12] < 0.0);
        let of = |c: Concern| {
            f.flags
                .iter()
                .filter(|x| x.concern == c)
                .collect::<Vec<_>>()
        };
        let (tight, risk, bend) = (of(Concern::Tight), of(Concern::AtRisk), of(Concern::Bend));
        assert_eq!(tight.len(), 1);
        assert_eq!((tight[0].from_mm, tight[0].to_mm), (10.0, 14.0));
        assert_eq!(risk.len(), 1, "1.08 ≥ 1.05");
        assert_eq!(bend.len(), 1);
        assert_eq!((bend[0].from_mm, bend[0].to_mm), (30.0, 32.0));
        assert!((bend[0].worst - 10.0).abs() < 1e-12);
        // A 6 F sheath fits everywhere: nothing flagged but the bend it takes easily.
        let small = Device::custom(2.67, Some(5.0));
        assert!(
            fit(&report(vec![8.0; 5], vec![0.1; 5]), &small)
                .flags
                .is_empty()
        );
    }
}
