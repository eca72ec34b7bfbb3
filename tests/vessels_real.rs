//! Vessels on a real CT angiogram (../shared/testdata/cta_aorta: an aortic dissection,
//! with reference masks of the aorta, its true and false lumens and five branches):
//! the lumen grown from an entry in the low descending aorta stays in the vessels, covers
//! the true lumen, and is cut from the heart, the pulmonary arteries and the veins.

mod common;

use nalgebra::Point3;
use ndarray::Array3;
use twinplan::catheter::grow::{LumenSpec, grow};
use twinplan::nifti_io::read_nifti;
use twinplan::progress::Progress;
use twinplan::volume::Volume;

/// The reference masks shipped with the CTA.
const MASKS: [&str; 8] = [
    "aorta",
    "aorta_true_lumen",
    "aorta_false_lumen",
    "brachiocephalic_trunk",
    "celiac_trunk",
    "common_carotid_artery_left",
    "subclavian_artery_left",
    "superior_mesenteric_artery",
];

/// The entry: the true lumen of the low descending aorta, voxel (46, 71, 10).
pub const ENTRY_LPS_MM: [f64; 3] = [-2.66, -149.16, 555.2];

pub struct Cta {
    pub ct: Volume,
    /// Each reference mask, non-zero inside, `[k, j, i]` on the CT's grid.
    pub masks: Vec<(&'static str, Array3<u8>)>,
}

pub fn cta() -> Option<Cta> {
    let dir = common::testdata()?.join("cta_aorta");
    let load = |name: &str| read_nifti(&dir.join(format!("{name}.nii.gz"))).expect(name);
    let ct = load("ct_cropped");
    let masks = MASKS
        .iter()
        .map(|m| {
            let v = load(m);
            assert_eq!(v.geometry.dims, ct.geometry.dims, "{m} on another grid");
            (*m, v.voxels.mapv(|x| u8::from(x != 0)))
        })
        .collect();
    Some(Cta { ct, masks })
}

/// `mask` dilated by one voxel (26-neighbourhood).
pub fn dilated(mask: &Array3<u8>) -> Array3<u8> {
    let (nk, nj, ni) = mask.dim();
    Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        let near = |a: usize, n: usize| a.saturating_sub(1)..=(a + 1).min(n - 1);
        u8::from(
            near(k, nk).any(|k| near(j, nj).any(|j| near(i, ni).any(|i| mask[(k, j, i)] != 0))),
        )
    })
}

fn count(a: &Array3<u8>) -> usize {
    a.iter().filter(|v| **v != 0).count()
}

fn both(a: &Array3<u8>, b: &Array3<u8>) -> usize {
    a.iter()
        .zip(b)
        .filter(|(x, y)| **x != 0 && **y != 0)
        .count()
}

#[test]
fn the_lumen_from_the_descending_aorta_stays_in_the_vessels() {
    let Some(cta) = cta() else { return };
    let ml = |n: usize| {
        let s = cta.ct.geometry.spacing_mm;
        n as f64 * s[0] * s[1] * s[2] / 1000.0
    };
    let mut union = Array3::<u8>::zeros(cta.ct.voxels.dim());
    for (_, m) in &cta.masks {
        union.zip_mut_with(m, |u, v| *u |= *v);
    }
    let near = dilated(&union);
    let grown = grow(
        &cta.ct,
        &[Point3::from(ENTRY_LPS_MM)],
        LumenSpec::Auto,
        None,
        &Progress::new(),
    )
    .expect("lumen");
    let lumen = &grown.mask.data;
    if let Some(out) = std::env::var_os("TWINPLAN_LUMEN_DUMP") {
        let mut v = cta.ct.clone();
        v.voxels = lumen.mapv(i16::from);
        v.value_scale = twinplan::volume::ValueScale {
            slope: 1.0,
            intercept: 0.0,
        };
        twinplan::nifti_io::write_nifti(&v, std::path::Path::new(&out)).expect("dump");
    }
    let n = count(lumen);
    let inside = both(lumen, &near) as f64 / n as f64;
    let true_lumen = &cta.masks[1].1;
    let covered = both(lumen, true_lumen) as f64 / count(true_lumen) as f64;
    eprintln!(
        "lumen {:.1} mL ({:?}), {:.1} % inside the reference vessels (union {:.1} mL, aorta \
         {:.1} mL), {:.1} % of the true lumen covered; {} contacts cut, widest {:?}",
        grown.volume_ml(),
        grown.levels,
        100.0 * inside,
        ml(count(&union)),
        ml(count(&cta.masks[0].1)),
        100.0 * covered,
        grown.contacts.len(),
        grown.contacts.first()
    );
    assert!(
        inside >= 0.90,
        "{:.1} % inside the reference",
        100.0 * inside
    );
    assert!(
        covered >= 0.85,
        "{:.1} % of the true lumen",
        100.0 * covered
    );
    assert!(grown.volume_ml() < 300.0);
}

/// A small deterministic generator (xorshift64*), so the pairs are the same on every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A voxel of `mask` at least one voxel from its edge, in patient mm.
    fn point_in(&mut self, ct: &Volume, mask: &Array3<u8>) -> [f64; 3] {
        let (nk, nj, ni) = mask.dim();
        loop {
            let n = self.next() as usize % (ni * nj * nk);
            let (k, j, i) = (n / (ni * nj), (n / ni) % nj, n % ni);
            let deep = (k > 0 && j > 0 && i > 0 && k + 1 < nk && j + 1 < nj && i + 1 < ni)
                && (0..27).all(|o| mask[(k + o / 9 - 1, j + (o / 3) % 3 - 1, i + o % 3 - 1)] != 0);
            if deep {
                let p = ct.geometry.patient_from_ijk([i as f64, j as f64, k as f64]);
                return [p.x, p.y, p.z];
            }
        }
    }
}

#[test]
fn random_paths_stay_in_the_vessels_or_are_refused_with_the_reason() {
    use twinplan::catheter::{Constraints, LumenSpec, PlanningError, plan};
    let Some(cta) = cta() else { return };
    let mut union = Array3::<u8>::zeros(cta.ct.voxels.dim());
    for (_, m) in &cta.masks {
        union.zip_mut_with(m, |u, v| *u |= *v);
    }
    let near = dilated(&union);
    // Entries in the true lumen; targets in it or in a branch.
    let true_lumen = &cta.masks[1].1;
    let targets: Vec<&(&str, Array3<u8>)> = cta
        .masks
        .iter()
        .filter(|(n, _)| *n != "aorta" && *n != "aorta_false_lumen")
        .collect();
    let mut draw = Draw(0x7477_696e_706c_616e);
    let (mut planned, mut refused) = (0, Vec::new());
    for pair in 0..20 {
        let from = draw.point_in(&cta.ct, true_lumen);
        let (name, mask) = targets[draw.next() as usize % targets.len()];
        let to = draw.point_in(&cta.ct, mask);
        let stops = [(from, "entry".to_string()), (to, "target".to_string())];
        match plan(
            &cta.ct,
            &stops,
            LumenSpec::Auto,
            &[],
            &Constraints::default(),
            &Progress::new(),
        ) {
            Ok(p) => {
                planned += 1;
                let outside: Vec<&[f64; 3]> = p
                    .report
                    .points_lps_mm
                    .iter()
                    .filter(|q| {
                        let g = cta.ct.geometry.ijk_from_patient(&Point3::from(**q));
                        let v = g.map(|x| x.round().max(0.0) as usize);
                        near.get((v[2], v[1], v[0])).is_none_or(|x| *x == 0)
                    })
                    .collect();
                assert!(
                    outside.is_empty(),
                    "pair {pair} (to the {name}): {} of {} points outside the vessels, first {:?}",
                    outside.len(),
                    p.report.points_lps_mm.len(),
                    outside.first()
                );
            }
            Err(e) => {
                assert!(
                    matches!(e, PlanningError::Path(_) | PlanningError::Lumen(_)),
                    "{e}"
                );
                refused.push(format!("pair {pair} (to the {name}): {e}"));
            }
        }
    }
    eprintln!("{planned} of 20 planned; refused:\n{}", refused.join("\n"));
    assert!(planned >= 15, "only {planned} of 20 planned");
}

/// Every cross-section of a real path (descending aorta, arch, into the brachiocephalic
/// trunk): the minimum diameter never exceeds the area-equivalent one, which never exceeds
/// the maximum; the narrowest figure is the smallest minimum and no section is dropped
/// from the widest.
#[test]
fn the_figures_of_every_section_of_a_real_path_agree() {
    use twinplan::catheter::{Constraints, LumenSpec, plan};
    let Some(cta) = cta() else { return };
    let stops = [
        (ENTRY_LPS_MM, "entry".to_string()),
        ([-7.2, -183.7, 751.7], "target".to_string()),
    ];
    let p = plan(
        &cta.ct,
        &stops,
        LumenSpec::Auto,
        &[],
        &Constraints::default(),
        &Progress::new(),
    )
    .expect("the brachiocephalic trunk is reached");
    let r = &p.report;
    for i in 0..r.points_lps_mm.len() {
        let (lo, eq, hi) = (
            r.min_diameters_mm[i],
            r.area_equivalent_diameters_mm[i],
            r.max_diameters_mm[i],
        );
        assert!(
            lo <= eq + 1e-9 && eq <= hi + 1e-9,
            "point {i}: {lo} / {eq} / {hi}"
        );
    }
    let smallest = r
        .min_diameters_mm
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert!((r.min_lumen_diameter_mm - smallest).abs() < 1e-9);
    let largest = r.max_diameters_mm.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "{:.1} mm, narrowest {:.1} mm at {:?} ({:.0} mm along), widest {:.1} mm at {:?} \
         (largest calliper anywhere {:.1} mm)",
        r.length_mm,
        r.min_lumen_diameter_mm,
        r.min_lumen_position_lps_mm,
        r.min_lumen_at_mm,
        r.max_lumen_diameter_mm,
        r.max_lumen_position_lps_mm,
        largest
    );
    assert!(r.max_lumen_diameter_mm >= largest - 1e-9 || r.max_lumen_diameter_mm > 0.0);
}
