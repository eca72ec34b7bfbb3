//! The growth against shapes whose truth is known: touching tubes, a stenosis, a chamber
//! behind a narrow valve, a branch, bone against a vessel.

use super::*;
use crate::volume::Geometry;

/// Voxel size of the test volumes (mm).
const S: f64 = 0.5;
const BLOOD: f64 = 400.0;
const TISSUE: f64 = 40.0;

/// A volume of `n` voxels (`[i, j, k]`, 0.5 mm) whose value at a point is given by
/// `shape`: the signed distance (mm, negative inside) to the blood it holds and, where
/// set, the value of what lies there; edges partial-volumed over a voxel, with a little
/// deterministic noise.
pub(crate) fn volume(n: [usize; 3], shape: impl Fn([f64; 3]) -> (f64, Option<f64>)) -> Volume {
    let geometry = Geometry::axis_aligned(n, [S, S, S], [0.0, 0.0, 0.0]);
    let voxels = Array3::from_shape_fn((n[2], n[1], n[0]), |(k, j, i)| {
        let p = [i as f64 * S, j as f64 * S, k as f64 * S];
        let (sd, other) = shape(p);
        let fill = (0.5 - sd / S).clamp(0.0, 1.0);
        let base = other.unwrap_or(TISSUE);
        let noise = (((i * 7 + j * 13 + k * 29) % 11) as f64 - 5.0) * 2.0;
        (base + (BLOOD - base) * fill + noise).round() as i16
    });
    Volume::new(voxels, geometry).expect("shape")
}

/// Signed distance to a capsule (segment a→b, radius r).
pub(crate) fn capsule(p: [f64; 3], a: [f64; 3], b: [f64; 3], r: f64) -> f64 {
    let ab = [0, 1, 2].map(|x| b[x] - a[x]);
    let ap = [0, 1, 2].map(|x| p[x] - a[x]);
    let t = ((0..3).map(|x| ab[x] * ap[x]).sum::<f64>()
        / (0..3).map(|x| ab[x] * ab[x]).sum::<f64>())
    .clamp(0.0, 1.0);
    let d2: f64 = (0..3).map(|x| (ap[x] - t * ab[x]).powi(2)).sum();
    d2.sqrt() - r
}

fn grown(v: &Volume, seeds: &[[f64; 3]]) -> Grown {
    let seeds: Vec<Point3<f64>> = seeds.iter().map(|p| Point3::from(*p)).collect();
    grow(v, &seeds, LumenSpec::Auto, None, &Progress::new()).expect("grown")
}

fn inside(g: &Grown, p: [f64; 3]) -> bool {
    g.mask
        .index_of(&Point3::from(p))
        .is_some_and(|idx| g.mask.data[idx] != 0)
}

/// Two parallel tubes 2 mm apart, joined by a bridge of blood 1 mm across.
pub(crate) fn touching() -> Volume {
    volume([60, 30, 60], |p| {
        let a = capsule(p, [10.0, 7.5, 3.0], [10.0, 7.5, 27.0], 4.0);
        let b = capsule(p, [20.0, 7.5, 3.0], [20.0, 7.5, 27.0], 4.0);
        let bridge = ((p[0] - 15.0).abs() - 1.5)
            .max((p[1] - 7.5).abs() - 0.5)
            .max((p[2] - 15.0).abs() - 0.5);
        (a.min(b).min(bridge), None)
    })
}

#[test]
fn touching_vessels_are_cut_apart_and_the_contact_named() {
    let v = touching();
    let g = grown(&v, &[[10.0, 7.5, 10.0]]);
    assert!(inside(&g, [10.0, 7.5, 20.0]));
    assert!(!inside(&g, [20.0, 7.5, 20.0]), "the other tube leaked in");
    // One tube: π·4²·24 + 4/3·π·4³ mm³.
    let truth =
        (std::f64::consts::PI * 16.0 * 24.0 + 4.0 / 3.0 * std::f64::consts::PI * 64.0) / 1000.0;
    let ml = g.volume_ml();
    assert!((ml - truth).abs() / truth < 0.08, "{ml} mL against {truth}");
    eprintln!("{:?} {:?}", g.contacts, g.levels);
    let c = g.contacts.first().expect("the contact is reported");
    assert_eq!(c.seeds, [Some(0), None]);
    assert!((c.at_lps_mm[2] - 15.0).abs() <= 1.5, "{:?}", c.at_lps_mm);
    assert!(c.neck_mm < 3.0 && c.sides_mm[1] > 6.0, "{c:?}");
    // Seeds in both: two structures, kept apart, the contact between them.
    let g = grown(&v, &[[10.0, 7.5, 10.0], [20.0, 7.5, 10.0]]);
    assert_eq!(g.structure_of_seed, vec![0, 1]);
    assert!(g.contact_between(0, 1).is_some());
}

#[test]
fn a_stenosis_is_a_narrowing_not_a_contact() {
    // A tube of radius 4 narrowed to 1.5 mm over 4 mm.
    let v = volume([30, 30, 100], |p| {
        let axial = ((p[0] - 7.5).powi(2) + (p[1] - 7.5).powi(2)).sqrt();
        let z = p[2];
        let r = if (23.0..=27.0).contains(&z) {
            1.5
        } else if (20.0..23.0).contains(&z) {
            4.0 - (z - 20.0) / 3.0 * 2.5
        } else if (27.0..30.0).contains(&z) {
            1.5 + (z - 27.0) / 3.0 * 2.5
        } else {
            4.0
        };
        let ends = (3.0 - z).max(z - 47.0);
        ((axial - r).max(ends), None)
    });
    let g = grown(&v, &[[7.5, 7.5, 8.0]]);
    assert!(
        inside(&g, [7.5, 7.5, 40.0]),
        "the far side of the stenosis was cut off"
    );
    assert!(g.contacts.is_empty(), "{:?}", g.contacts);
}

#[test]
fn a_chamber_behind_a_narrow_valve_stays_out() {
    // A tube of radius 5 opening through a 1.5 mm neck into a sphere of radius 12.
    let v = volume([60, 60, 110], |p| {
        let tube = capsule(p, [15.0, 15.0, 3.0], [15.0, 15.0, 18.0], 5.0);
        let tube = tube.max(p[2] - 24.0);
        let neck = capsule(p, [15.0, 15.0, 25.0], [15.0, 15.0, 29.0], 1.5);
        let chamber =
            ((p[0] - 15.0).powi(2) + (p[1] - 15.0).powi(2) + (p[2] - 40.0).powi(2)).sqrt() - 12.0;
        (tube.min(neck).min(chamber), None)
    });
    let g = grown(&v, &[[15.0, 15.0, 10.0]]);
    assert!(inside(&g, [15.0, 15.0, 20.0]));
    assert!(!inside(&g, [15.0, 15.0, 40.0]), "the chamber leaked in");
    assert!(g.volume_ml() < 2.5, "{} mL", g.volume_ml());
}

#[test]
fn a_branch_belongs_to_its_vessel() {
    // A tube of radius 6 with a branch of radius 2.5 leaving it at right angles.
    let v = volume([70, 40, 80], |p| {
        let main = capsule(p, [10.0, 10.0, 3.0], [10.0, 10.0, 37.0], 6.0);
        let branch = capsule(p, [10.0, 10.0, 20.0], [32.0, 10.0, 20.0], 2.5);
        (main.min(branch), None)
    });
    let g = grown(&v, &[[10.0, 10.0, 8.0]]);
    assert!(inside(&g, [30.0, 10.0, 20.0]), "the branch was cut off");
}

#[test]
fn bone_against_a_vessel_stays_out_and_its_halo_too() {
    // A tube of radius 4 lying against a block of cortical bone (1100 HU).
    let v = volume([50, 30, 60], |p| {
        let tube = capsule(p, [8.0, 7.5, 3.0], [8.0, 7.5, 27.0], 4.0);
        let bone = p[0] >= 12.0 && p[0] <= 20.0;
        (tube, bone.then_some(1100.0))
    });
    let g = grown(&v, &[[8.0, 7.5, 10.0]]);
    assert!(!inside(&g, [16.0, 7.5, 15.0]));
    let truth =
        (std::f64::consts::PI * 16.0 * 24.0 + 4.0 / 3.0 * std::f64::consts::PI * 64.0) / 1000.0;
    assert!(
        g.volume_ml() < truth * 1.08,
        "{} mL against {truth}",
        g.volume_ml()
    );
    assert!(
        g.levels.bright_hu < 1100.0 && g.levels.core_hu > TISSUE,
        "{:?}",
        g.levels
    );
}

#[test]
fn a_point_in_plain_tissue_is_refused_with_the_reason() {
    let v = touching();
    let e = grow(
        &v,
        &[Point3::new(28.0, 7.5, 20.0)],
        LumenSpec::Auto,
        None,
        &Progress::new(),
    )
    .expect_err("no vessel there");
    assert!(
        matches!(
            e,
            SegmentError::NoContrast { .. } | SegmentError::SeedOutOfRange { .. }
        ),
        "{e}"
    );
}

#[test]
fn otsu_splits_two_groups() {
    let mut v = vec![40.0; 100];
    v.extend(vec![400.0; 50]);
    let t = otsu(&v).expect("split");
    assert!(t > 40.0 && t <= 400.0, "{t}");
}

/// A thoracic aorta: a wide vessel with a thin layer of tissue and lung beyond it. The
/// first sphere holds only blood; the wider ones reach the lung, which is not taken as
/// the vessel's surroundings (it was: a 28 L "lumen" of everything above −56 HU).
#[test]
fn lung_beside_a_wide_vessel_is_not_its_surroundings() {
    let v = volume([60, 60, 40], |p| {
        let r = (p[0] - 15.0).hypot(p[1] - 15.0);
        let lung = (r > 13.0).then_some(-850.0);
        (r - 10.0, lung)
    });
    let levels = Levels::measure(&v, &[Point3::new(15.0, 15.0, 10.0)]).expect("levels");
    assert!(
        (levels.background_hu - TISSUE).abs() < 60.0,
        "background {} (tissue {TISSUE})",
        levels.background_hu
    );
    assert!((levels.peak_hu - BLOOD).abs() < 40.0, "{}", levels.peak_hu);
    let g = grown(&v, &[[15.0, 15.0, 10.0]]);
    let truth = std::f64::consts::PI * 100.0 * 20.0 / 1000.0;
    assert!(
        g.volume_ml() < 1.3 * truth,
        "{} mL against the tube's {truth} mL",
        g.volume_ml()
    );
}
