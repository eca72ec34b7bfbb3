//! A synthetic contrast-enhanced CT angiogram of an adult torso, with analytic ground truth.
//!
//! The phantom is the bundled sample for users and students and the test fixture for every
//! geometric claim: its arterial tree is a set of smooth centrelines with known radii,
//! landmarks, distances and angles, all in patient LPS millimetres. Tissues are painted by
//! signed distance with a one-voxel partial-volume ramp, so the half-way iso-surface of a
//! vessel lies on its true radius, then scanner-like Gaussian noise is added (deterministic
//! per seed). Depends on `volume` only; writing it as DICOM is `dicom::write`'s job.

mod anatomy;

use nalgebra::{Point3, Vector3};
use ndarray::{Array3, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dicom::PatientIdentity;
use crate::progress::Progress;
use crate::volume::{Geometry, Volume};

pub use anatomy::{
    ANEURYSM_RADIUS_MM, Branch, ILIAC_BEND_RADIUS_MM, STENOSIS_RADIUS_MM, arterial_tree,
};

/// Physical extent of the phantom's field of view (mm): width (x), and height (z).
pub const FOV_WIDTH_MM: f64 = 400.0;
pub const FOV_HEIGHT_MM: f64 = 640.0;
/// z (LPS, mm) of the first (most inferior) slice centre.
pub const Z_BOTTOM_MM: f64 = -620.0;

/// Options of [`generate`].
#[derive(Debug, Clone)]
pub struct PhantomOptions {
    /// Grid size `[nx, ny, nz]`.
    pub size: [usize; 3],
    /// Standard deviation of the added noise, HU.
    pub noise_hu: f64,
    pub seed: u64,
}

impl Default for PhantomOptions {
    fn default() -> Self {
        PhantomOptions {
            size: [256, 256, 256],
            noise_hu: 12.0,
            seed: 1,
        }
    }
}

impl PhantomOptions {
    pub fn with_size(mut self, size: [usize; 3]) -> Self {
        self.size = size;
        self
    }
    pub fn with_noise(mut self, noise_hu: f64) -> Self {
        self.noise_hu = noise_hu;
        self
    }
}

/// The fictitious patient of the phantom (exercises the privacy rules and the banner).
pub fn phantom_patient() -> PatientIdentity {
    PatientIdentity {
        name: "TWINPHANTOM^ADA".into(),
        id: "TP-0042-PHANTOM".into(),
        birth_date: "19700101".into(),
    }
}

/// Ground truth written beside the phantom as `ground_truth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub schema: String,
    pub coordinate_system: String,
    pub units: String,
    pub centrelines: Vec<Centreline>,
    pub landmarks: Vec<Landmark>,
    pub distances: Vec<KnownDistance>,
    pub angles: Vec<KnownAngle>,
    /// The clinical cases (schema 2 on; absent from schema 1 files, which still read).
    #[serde(default)]
    pub cases: Option<ClinicalCases>,
}

/// The phantom's pathology and anatomy variants with their analytic figures, for checking
/// a planner's measures: the widest aneurysm diameter, the narrowest stenosis diameter and
/// where they are, and the tortuosity and bends of a looping iliac artery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicalCases {
    pub aneurysm: Aneurysm,
    pub stenosis: Stenosis,
    pub tortuous_iliac: TortuousArtery,
}

/// A fusiform aneurysm: its lumen is a disc of `max_diameter_mm` perpendicular to the
/// centreline at `max_position_mm`, and returns to the parent radius at `start_mm`/`end_mm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aneurysm {
    pub branch: String,
    pub max_diameter_mm: f64,
    pub max_position_mm: [f64; 3],
    /// The parent artery's diameter at the widest point had there been no aneurysm.
    pub parent_diameter_mm: f64,
    pub start_mm: [f64; 3],
    pub end_mm: [f64; 3],
    pub length_mm: f64,
}

/// A concentric stenosis: the lumen is a disc of `min_diameter_mm` at `min_position_mm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stenosis {
    pub branch: String,
    pub min_diameter_mm: f64,
    pub min_position_mm: [f64; 3],
    /// The diameter the artery would have there without the stenosis.
    pub reference_diameter_mm: f64,
    /// 100 × (1 − min ÷ reference).
    pub diameter_reduction_percent: f64,
    pub length_mm: f64,
}

/// An artery made of circular arcs and straight runs: exact tortuosity and bend radii.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TortuousArtery {
    pub branch: String,
    pub length_mm: f64,
    pub chord_mm: f64,
    /// Arc length ÷ chord.
    pub tortuosity: f64,
    pub min_radius_of_curvature_mm: f64,
    /// The arcs, in order from proximal to distal.
    pub bends: Vec<KnownBend>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownBend {
    pub angle_deg: f64,
    pub radius_mm: f64,
    /// The middle of the arc.
    pub apex_mm: [f64; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centreline {
    pub name: String,
    pub points_mm: Vec<[f64; 3]>,
    pub radii_mm: Vec<f64>,
    pub length_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landmark {
    pub name: String,
    pub position_mm: [f64; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownDistance {
    pub name: String,
    pub from: String,
    pub to: String,
    pub distance_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownAngle {
    pub name: String,
    /// Landmark names: the angle is at `vertex`, between the rays to `a` and `b`.
    pub a: String,
    pub vertex: String,
    pub b: String,
    pub angle_deg: f64,
}

/// A generated phantom: the CT volume (HU) and its ground truth.
#[derive(Debug, Clone)]
pub struct Phantom {
    pub volume: Volume,
    pub truth: GroundTruth,
}

#[derive(Debug, thiserror::Error)]
pub enum PhantomError {
    #[error("phantom size {0:?} is out of range (each axis 8..=2048, at most 1024³ voxels)")]
    BadSize([usize; 3]),
    #[error("phantom generation was cancelled")]
    Cancelled,
}

/// The phantom's grid for a given size: axial slices, i → patient left, j → posterior,
/// k → superior, square pixels of `FOV_WIDTH_MM / nx`, slices spanning `FOV_HEIGHT_MM`.
pub fn phantom_geometry(size: [usize; 3]) -> Geometry {
    let [nx, ny, nz] = size;
    let s = FOV_WIDTH_MM / nx as f64;
    let dz = FOV_HEIGHT_MM / nz as f64;
    Geometry::axis_aligned(
        size,
        [s, s, dz],
        [
            -(nx as f64 - 1.0) * 0.5 * s,
            -(ny as f64 - 1.0) * 0.5 * s,
            Z_BOTTOM_MM,
        ],
    )
}

/// SplitMix64: small, fast, deterministic; good enough for noise.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal pair (Box–Muller).
    fn gauss_pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let t = std::f64::consts::TAU * self.uniform();
        (r * t.cos(), r * t.sin())
    }
}

/// Generates the phantom.
pub fn generate(options: &PhantomOptions, progress: &Progress) -> Result<Phantom, PhantomError> {
    // Each axis is checked before the product is formed, so it cannot overflow.
    if options.size.iter().any(|&n| !(8..=2048).contains(&n))
        || options.size.iter().product::<usize>() > 1 << 30
    {
        return Err(PhantomError::BadSize(options.size));
    }
    let geometry = phantom_geometry(options.size);
    let [nx, ny, nz] = options.size;
    let (tree, cases) = anatomy::arterial_tree_with_cases();
    let segments = anatomy::vessel_segments(&tree);
    let ramp_mm = geometry.spacing_mm[0].max(geometry.spacing_mm[2] * 0.5);
    progress.set_total(nz as u64);
    let mut voxels = Array3::<i16>::zeros((nz, ny, nx));
    let cancelled = std::sync::atomic::AtomicBool::new(false);
    voxels
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut plane)| {
            if progress.is_cancelled() {
                cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            let mut values = anatomy::paint_slice(&geometry, k, &segments, ramp_mm);
            let mut rng = SplitMix(options.seed ^ (k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            if options.noise_hu > 0.0 {
                for pair in values.chunks_mut(2) {
                    let (a, b) = rng.gauss_pair();
                    pair[0] += a * options.noise_hu;
                    if pair.len() > 1 {
                        pair[1] += b * options.noise_hu;
                    }
                }
            }
            for (dst, v) in plane.iter_mut().zip(values) {
                *dst = v.round().clamp(-1024.0, 3071.0) as i16;
            }
            progress.inc(1);
        });
    if cancelled.into_inner() {
        return Err(PhantomError::Cancelled);
    }
    let mut volume =
        Volume::new(voxels, geometry).map_err(|_| PhantomError::BadSize(options.size))?;
    volume.modality = "CT".into();
    volume.description = "twinplan CTA phantom".into();
    Ok(Phantom {
        volume,
        truth: ground_truth(&tree, &cases),
    })
}

fn polyline_length(points: &[[f64; 3]]) -> f64 {
    points
        .windows(2)
        .map(|w| (Vector3::from(w[1]) - Vector3::from(w[0])).norm())
        .sum()
}

/// Angle at `vertex` between the rays to `a` and `b`, in degrees.
pub fn angle_deg(a: &Point3<f64>, vertex: &Point3<f64>, b: &Point3<f64>) -> f64 {
    let u = a - vertex;
    let v = b - vertex;
    let c = (u.dot(&v) / (u.norm() * v.norm())).clamp(-1.0, 1.0);
    c.acos().to_degrees()
}

/// The point `distance_mm` along a polyline from its start.
fn point_along(points: &[[f64; 3]], distance_mm: f64) -> [f64; 3] {
    let mut left = distance_mm;
    for w in points.windows(2) {
        let (a, b) = (Vector3::from(w[0]), Vector3::from(w[1]));
        let l = (b - a).norm();
        if l >= left && l > 0.0 {
            let p = a + (b - a) * (left / l);
            return [p.x, p.y, p.z];
        }
        left -= l;
    }
    points.last().copied().unwrap_or_default()
}

fn clinical_cases(tree: &[Branch], cases: &anatomy::Cases) -> Option<ClinicalCases> {
    let find = |name: &str| tree.iter().find(|b| b.name == name);
    let aorta = find("aorta")?;
    let common = find("common_iliac_right")?;
    let tortuous = find("external_iliac_left")?;
    let a = cases.aneurysm;
    let aneurysm = Aneurysm {
        branch: aorta.name.into(),
        max_diameter_mm: 2.0 * a.radius_mm,
        max_position_mm: point_along(&aorta.points, a.peak_s),
        parent_diameter_mm: 2.0 * a.parent_radius_mm,
        start_mm: point_along(&aorta.points, a.peak_s - a.half_mm),
        end_mm: point_along(&aorta.points, a.peak_s + a.half_mm),
        length_mm: 2.0 * a.half_mm,
    };
    let st = cases.stenosis;
    let reference = 2.0 * st.parent_radius_mm;
    let stenosis = Stenosis {
        branch: common.name.into(),
        min_diameter_mm: 2.0 * st.radius_mm,
        min_position_mm: point_along(&common.points, st.peak_s),
        reference_diameter_mm: reference,
        diameter_reduction_percent: 100.0 * (1.0 - 2.0 * st.radius_mm / reference),
        length_mm: 2.0 * st.half_mm,
    };
    let mut bends = Vec::new();
    let mut s = 0.0;
    let mut min_radius = f64::INFINITY;
    for m in &cases.tortuous_moves {
        match *m {
            anatomy::Move::Arc {
                radius_mm,
                turn_rad,
            } => {
                let l = radius_mm * turn_rad.abs();
                bends.push(KnownBend {
                    angle_deg: turn_rad.abs().to_degrees(),
                    radius_mm,
                    apex_mm: point_along(&tortuous.points, s + 0.5 * l),
                });
                min_radius = min_radius.min(radius_mm);
                s += l;
            }
            anatomy::Move::Line { length_mm } => s += length_mm,
        }
    }
    let length = polyline_length(&tortuous.points);
    let (first, last) = (
        tortuous.points[0],
        tortuous.points[tortuous.points.len() - 1],
    );
    let chord = (Vector3::from(last) - Vector3::from(first)).norm();
    Some(ClinicalCases {
        aneurysm,
        stenosis,
        tortuous_iliac: TortuousArtery {
            branch: tortuous.name.into(),
            length_mm: length,
            chord_mm: chord,
            tortuosity: length / chord,
            min_radius_of_curvature_mm: min_radius,
            bends,
        },
    })
}

fn ground_truth(tree: &[Branch], cases: &anatomy::Cases) -> GroundTruth {
    let centrelines: Vec<Centreline> = tree
        .iter()
        .map(|b| Centreline {
            name: b.name.to_string(),
            length_mm: polyline_length(&b.points),
            points_mm: b.points.clone(),
            radii_mm: b.radii.clone(),
        })
        .collect();
    let line = |name: &str| {
        centrelines
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.points_mm.clone())
            .unwrap_or_default()
    };
    let first = |name: &str| line(name).first().copied().unwrap_or_default();
    let last = |name: &str| line(name).last().copied().unwrap_or_default();
    let aorta = line("aorta");
    let apex = aorta
        .iter()
        .copied()
        .max_by(|a, b| a[2].total_cmp(&b[2]))
        .unwrap_or_default();
    let mut landmarks = vec![
        Landmark {
            name: "aortic_root".into(),
            position_mm: first("aorta"),
        },
        Landmark {
            name: "aortic_arch_apex".into(),
            position_mm: apex,
        },
        Landmark {
            name: "aortic_bifurcation".into(),
            position_mm: last("aorta"),
        },
        Landmark {
            name: "renal_ostium_left".into(),
            position_mm: first("renal_left"),
        },
        Landmark {
            name: "renal_ostium_right".into(),
            position_mm: first("renal_right"),
        },
        Landmark {
            name: "iliac_bifurcation_left".into(),
            position_mm: first("external_iliac_left"),
        },
        Landmark {
            name: "iliac_bifurcation_right".into(),
            position_mm: first("external_iliac_right"),
        },
        Landmark {
            name: "femoral_end_left".into(),
            position_mm: last("femoral_left"),
        },
        Landmark {
            name: "femoral_end_right".into(),
            position_mm: last("femoral_right"),
        },
    ];
    // Points 20 mm down each common iliac define the bifurcation angle.
    landmarks.push(Landmark {
        name: "common_iliac_left_20mm".into(),
        position_mm: point_along(&line("common_iliac_left"), 20.0),
    });
    landmarks.push(Landmark {
        name: "common_iliac_right_20mm".into(),
        position_mm: point_along(&line("common_iliac_right"), 20.0),
    });
    let pos = |name: &str| {
        landmarks
            .iter()
            .find(|l| l.name == name)
            .map(|l| Point3::from(l.position_mm))
            .unwrap_or_else(Point3::origin)
    };
    let distance = |name: &str, from: &str, to: &str| KnownDistance {
        name: name.into(),
        from: from.into(),
        to: to.into(),
        distance_mm: (pos(from) - pos(to)).norm(),
    };
    let distances = vec![
        distance(
            "bifurcation_to_left_renal_ostium",
            "aortic_bifurcation",
            "renal_ostium_left",
        ),
        distance(
            "arch_apex_to_bifurcation",
            "aortic_arch_apex",
            "aortic_bifurcation",
        ),
        distance(
            "femoral_end_left_to_right",
            "femoral_end_left",
            "femoral_end_right",
        ),
        distance(
            "renal_ostia_left_to_right",
            "renal_ostium_left",
            "renal_ostium_right",
        ),
    ];
    let angle = |name: &str, a: &str, vertex: &str, b: &str| KnownAngle {
        name: name.into(),
        a: a.into(),
        vertex: vertex.into(),
        b: b.into(),
        angle_deg: angle_deg(&pos(a), &pos(vertex), &pos(b)),
    };
    let angles = vec![
        angle(
            "aortic_bifurcation_angle",
            "common_iliac_left_20mm",
            "aortic_bifurcation",
            "common_iliac_right_20mm",
        ),
        angle(
            "arch_root_bifurcation_angle",
            "aortic_root",
            "aortic_arch_apex",
            "aortic_bifurcation",
        ),
    ];
    GroundTruth {
        schema: "twinplan-phantom-truth/2".into(),
        coordinate_system: "LPS".into(),
        units: "mm".into(),
        cases: clinical_cases(tree, cases),
        centrelines,
        landmarks,
        distances,
        angles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_plausible() {
        let opts = PhantomOptions::default().with_size([48, 48, 64]);
        let a = generate(&opts, &Progress::new()).expect("phantom");
        let b = generate(&opts, &Progress::new()).expect("phantom");
        assert_eq!(a.volume.voxels, b.volume.voxels);
        let min = a.volume.voxels.iter().copied().min().unwrap_or(0);
        let max = a.volume.voxels.iter().copied().max().unwrap_or(0);
        assert!(min <= -900, "air present ({min})");
        assert!(max >= 700, "bone present ({max})");
    }

    #[test]
    fn vessel_centre_is_contrast_and_far_outside_is_air() {
        let opts = PhantomOptions::default()
            .with_size([128, 128, 128])
            .with_noise(0.0);
        let p = generate(&opts, &Progress::new()).expect("phantom");
        let inv = &p.volume.geometry;
        for c in &p.truth.centrelines {
            for (pt, r) in c.points_mm.iter().zip(&c.radii_mm).step_by(7) {
                let ijk = inv.ijk_from_patient(&Point3::from(*pt));
                let idx = ijk.map(|v| v.round() as usize);
                let v = p.volume.voxels[(idx[2], idx[1], idx[0])];
                // At 3.1 mm pixels a 4 mm vessel's centre voxel is partly partial-volumed.
                let floor = if *r >= 6.0 { 300 } else { 150 };
                assert!(v >= floor, "{}: {v} HU at {pt:?}", c.name);
            }
        }
        assert!(p.volume.voxels[(64, 0, 0)] < -900);
    }

    #[test]
    fn oversized_phantom_is_refused_not_allocated() {
        let r = generate(
            &PhantomOptions::default().with_size([2048, 2048, 2048]),
            &Progress::new(),
        );
        assert!(matches!(r, Err(PhantomError::BadSize(_))));
    }

    #[test]
    fn truth_is_consistent() {
        let (tree, cases) = anatomy::arterial_tree_with_cases();
        let t = ground_truth(&tree, &cases);
        let bif = t
            .angles
            .iter()
            .find(|a| a.name == "aortic_bifurcation_angle")
            .expect("angle");
        assert!(
            bif.angle_deg > 30.0 && bif.angle_deg < 90.0,
            "{}",
            bif.angle_deg
        );
        for c in &t.centrelines {
            assert_eq!(c.points_mm.len(), c.radii_mm.len());
            assert!(c.radii_mm.iter().all(|r| (3.0..=20.0).contains(r)));
            // Sampled no coarser than 1.5 mm.
            for w in c.points_mm.windows(2) {
                assert!((Vector3::from(w[1]) - Vector3::from(w[0])).norm() <= 1.5);
            }
        }
        let json = serde_json::to_string(&t).expect("json");
        let back: GroundTruth = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, t);
    }

    /// Circumradius of three points (mm): the discrete radius of curvature.
    fn circumradius(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
        let (a, b, c) = (Vector3::from(a), Vector3::from(b), Vector3::from(c));
        let (ab, bc, ca) = ((b - a).norm(), (c - b).norm(), (a - c).norm());
        let area2 = (b - a).cross(&(c - a)).norm();
        ab * bc * ca / (2.0 * area2)
    }

    #[test]
    fn clinical_cases_match_the_painted_arteries() {
        let (tree, cases) = anatomy::arterial_tree_with_cases();
        let t = ground_truth(&tree, &cases);
        assert_eq!(t.schema, "twinplan-phantom-truth/2");
        let c = t.cases.as_ref().expect("cases");
        let branch = |name: &str| tree.iter().find(|b| b.name == name).expect("branch");
        let nearest = |b: &Branch, p: [f64; 3]| {
            (0..b.points.len())
                .min_by(|&i, &j| {
                    let d = |k: usize| (Vector3::from(b.points[k]) - Vector3::from(p)).norm();
                    d(i).total_cmp(&d(j))
                })
                .expect("points")
        };
        // The aneurysm: the aorta's widest radius below the arch, at the stated point.
        let aorta = branch("aorta");
        let i = nearest(aorta, c.aneurysm.max_position_mm);
        assert!((aorta.radii[i] * 2.0 - c.aneurysm.max_diameter_mm).abs() < 1e-3);
        let infrarenal_max = aorta
            .points
            .iter()
            .zip(&aorta.radii)
            .filter(|(p, _)| p[2] < -200.0)
            .map(|(_, r)| *r)
            .fold(0.0, f64::max);
        assert!((infrarenal_max - ANEURYSM_RADIUS_MM).abs() < 1e-3);
        assert!(c.aneurysm.max_diameter_mm > 1.5 * c.aneurysm.parent_diameter_mm);
        // Infrarenal: the sac begins below the lower renal ostium, with a neck.
        let ostium = t
            .landmarks
            .iter()
            .find(|l| l.name == "renal_ostium_left")
            .expect("ostium");
        assert!(c.aneurysm.start_mm[2] < ostium.position_mm[2] - 10.0);
        // The stenosis: the narrowest point of the right iliac axis, at the stated point.
        let common = branch("common_iliac_right");
        let i = nearest(common, c.stenosis.min_position_mm);
        assert!((common.radii[i] * 2.0 - c.stenosis.min_diameter_mm).abs() < 0.02);
        assert!(common.radii.iter().all(|&r| r >= STENOSIS_RADIUS_MM - 1e-9));
        assert!((40.0..60.0).contains(&c.stenosis.diameter_reduction_percent));
        // The tortuous iliac: arcs of the stated radius (discrete curvature at each apex),
        // two of them ≥ 90°, and a tortuosity well above a straight iliac's.
        let iliac = branch("external_iliac_left");
        for bend in &c.tortuous_iliac.bends {
            let k = nearest(iliac, bend.apex_mm);
            let r = circumradius(iliac.points[k - 4], iliac.points[k], iliac.points[k + 4]);
            assert!(
                (r - bend.radius_mm).abs() < 0.05,
                "{r} vs {}",
                bend.radius_mm
            );
        }
        let big = c
            .tortuous_iliac
            .bends
            .iter()
            .filter(|b| b.angle_deg >= 90.0);
        assert_eq!(big.count(), 2);
        assert!((1.2..1.5).contains(&c.tortuous_iliac.tortuosity));
        // Sampled ≤ 0.5 mm, and continuous with the common iliac and the femoral artery.
        for w in iliac.points.windows(2) {
            assert!((Vector3::from(w[1]) - Vector3::from(w[0])).norm() <= 0.5 + 1e-9);
        }
        let end = |b: &Branch| *b.points.last().expect("points");
        assert_eq!(iliac.points[0], end(branch("common_iliac_left")));
        assert_eq!(branch("femoral_left").points[0], end(iliac));
        // A schema 1 file (no cases) still reads.
        let mut v1 = serde_json::to_value(&t).expect("json");
        v1["schema"] = "twinplan-phantom-truth/1".into();
        v1.as_object_mut().expect("object").remove("cases");
        let old: GroundTruth = serde_json::from_value(v1).expect("schema 1 reads");
        assert!(old.cases.is_none());
        eprintln!("{}", serde_json::to_string_pretty(c).expect("json"));
    }
}
