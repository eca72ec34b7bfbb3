//! The centred search against known paths: straight and bent tubes, gaps, waypoints.

use super::*;

/// A U-shaped tube of radius `r` mm (two straight legs along k joined by a bend), in
/// 1 mm voxels with 1.5 mm slices; a second, separate tube beside it.
pub(crate) fn u_tube(r: f64, gap_slices: usize) -> Mask {
    let (ni, nj, nk) = (70, 30, 60);
    let geometry = Geometry::axis_aligned([ni, nj, nk], [1.0, 1.0, 1.5], [0.0, 0.0, 0.0]);
    let data = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        let (x, y, z) = (i as f64, j as f64, k as f64 * 1.5);
        let y0 = 15.0;
        // Legs at x = 15 and x = 45 from z = 10 to z = 60; the bend a half torus of
        // radius 15 at z = 60 … 75 around (30, 15, 60).
        let leg =
            |cx: f64| (x - cx).powi(2) + (y - y0).powi(2) <= r * r && (10.0..=60.0).contains(&z);
        let bend = z >= 60.0 && {
            let rho = ((x - 30.0).powi(2) + (z - 60.0).powi(2)).sqrt();
            (rho - 15.0).powi(2) + (y - y0).powi(2) <= r * r
        };
        let broken =
            gap_slices > 0 && x < 30.0 && (30.0..30.0 + 1.5 * gap_slices as f64).contains(&z);
        let other = (x - 63.0).powi(2) + (y - y0).powi(2) <= 9.0 && (10.0..=60.0).contains(&z);
        u8::from(((leg(15.0) || leg(45.0) || bend) && !broken) || other)
    });
    Mask { data, geometry }
}

fn path_length(l: &Lumen, p: &VoxelPath) -> f64 {
    p.voxels
        .windows(2)
        .map(|w| {
            let (a, b) = (l.position(w[0]), l.position(w[1]));
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        })
        .sum()
}

#[test]
fn the_path_keeps_to_the_middle_of_a_bent_tube() {
    let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
    let points = vec![
        ([15.0, 15.0, 15.0], "entry".to_string()),
        ([45.0, 15.0, 15.0], "target".to_string()),
    ];
    let p = lumen.path(&points, &Progress::new()).expect("reachable");
    // Every voxel inside, the straight legs on their axis.
    for v in &p.voxels {
        assert!(lumen.contains(*v));
        let q = lumen.position(*v);
        if q[2] < 58.0 {
            let off = ((q[0] - 15.0).abs().min((q[0] - 45.0).abs())).hypot(q[1] - 15.0);
            assert!(off <= 1.0, "{q:?} is {off} mm off the axis");
        }
    }
    // The centreline: two legs of 45 mm and a half circle of radius 15 mm; the voxel
    // path's staircase makes it a little longer.
    let truth = 2.0 * 45.0 + std::f64::consts::PI * 15.0;
    let length = path_length(&lumen, &p);
    assert!(
        length > truth * 0.99 && length < truth * 1.08,
        "{length} vs {truth}"
    );
}

#[test]
fn a_break_in_the_vessel_is_reported_never_bridged() {
    let lumen = Lumen::new(&u_tube(5.0, 3), &Progress::new()).expect("lumen");
    let points = vec![
        ([15.0, 15.0, 15.0], "entry".to_string()),
        ([45.0, 15.0, 15.0], "target".to_string()),
    ];
    match lumen.path(&points, &Progress::new()) {
        Err(PathError::Unreachable {
            which,
            nearest_lps_mm,
            gap_mm,
        }) => {
            assert_eq!(which, "target");
            // The entry's side ends just below the break (z < 30).
            assert!(nearest_lps_mm[2] < 30.0, "{nearest_lps_mm:?}");
            assert!(gap_mm >= 24.9, "{gap_mm}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    // The separate tube: unreachable too; a point far from any vessel: outside.
    let to_other = vec![
        ([15.0, 15.0, 15.0], "entry".to_string()),
        ([63.0, 15.0, 30.0], "target".to_string()),
    ];
    assert!(matches!(
        lumen.path(&to_other, &Progress::new()),
        Err(PathError::Unreachable { .. })
    ));
    let outside = vec![
        ([15.0, 15.0, 15.0], "entry".to_string()),
        ([30.0, 2.0, 30.0], "target".to_string()),
    ];
    match lumen.path(&outside, &Progress::new()) {
        Err(PathError::OutsideLumen { which, .. }) => assert_eq!(which, "target"),
        other => panic!("expected outside, got {other:?}"),
    }
}

#[test]
fn a_tree_from_a_stop_gives_the_same_legs_without_searching() {
    let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
    let (entry, target) = ([15.0, 15.0, 15.0], [45.0, 15.0, 15.0]);
    let searched = lumen
        .path(
            &[(entry, "entry".into()), (target, "target".into())],
            &Progress::new(),
        )
        .expect("reachable");
    let root = lumen.snap(entry, "entry").expect("inside");
    let tree = lumen.tree(root, &Progress::new()).expect("tree");
    let traced = lumen
        .path_in_tree(&tree, target, "target")
        .expect("reachable");
    let cost = |p: &VoxelPath| -> f64 {
        p.voxels
            .windows(2)
            .map(|w| {
                let (a, b) = (lumen.position(w[0]), lumen.position(w[1]));
                let r = |v| {
                    let d = lumen.wall_distance(v);
                    1.0 / (d * d)
                };
                distance(&a, &b) * 0.5 * (r(w[0]) + r(w[1]))
            })
            .sum()
    };
    assert_eq!(traced.voxels.first(), searched.voxels.first());
    assert_eq!(traced.voxels.last(), searched.voxels.last());
    assert!((cost(&traced) - cost(&searched)).abs() < 1e-9 * cost(&searched));
    // The whole lumen settled once; the separate tube is not reached from it.
    assert!(tree.settled > searched.settled);
    assert!(matches!(
        lumen.path_in_tree(&tree, [63.0, 15.0, 30.0], "target"),
        Err(PathError::Unreachable { .. })
    ));
}

#[test]
fn known_bounds_give_the_same_lumen_as_a_scan() {
    let mask = u_tube(5.0, 0);
    let scanned = Lumen::new(&mask, &Progress::new()).expect("lumen");
    let (mut lo, mut hi) = ([usize::MAX; 3], [0; 3]);
    for ((k, j, i), &v) in mask.data.indexed_iter() {
        if v != 0 {
            for (a, x) in [i, j, k].into_iter().enumerate() {
                lo[a] = lo[a].min(x);
                hi[a] = hi[a].max(x);
            }
        }
    }
    let known = Lumen::with_bounds(&mask, (lo, hi), &Progress::new()).expect("lumen");
    assert_eq!(known.offset, scanned.offset);
    assert_eq!(known.inside, scanned.inside);
    assert_eq!(known.voxel_count(), scanned.voxel_count());
    assert!(matches!(
        Lumen::with_bounds(&mask, (hi, lo), &Progress::new()),
        Err(PathError::EmptyLumen)
    ));
}

#[test]
fn the_open_set_pops_in_key_order_and_lowers_keys_in_place() {
    let mut open = Open::new(100);
    let mut seed = 3u64;
    let mut keys = vec![f64::INFINITY; 100];
    for _ in 0..400 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let n = (seed >> 33) as usize % 100;
        let f = ((seed >> 13) % 1000) as f64;
        open.set(n, f);
        keys[n] = keys[n].min(f);
    }
    let mut last = (f64::NEG_INFINITY, 0usize);
    let mut seen = 0;
    while let Some(n) = open.pop() {
        assert!((keys[n], n) > last, "{n} popped out of order");
        last = (keys[n], n);
        seen += 1;
    }
    assert_eq!(seen, keys.iter().filter(|k| k.is_finite()).count());
}

#[test]
fn the_nonzero_span_of_a_row() {
    for len in [0usize, 1, 7, 8, 9, 16, 23, 64] {
        for a in 0..len {
            for b in a..len {
                let mut row = vec![0u8; len];
                row[a] = 1;
                row[b] = 3;
                assert_eq!(nonzero_span(&row), Some((a, b)), "{len} {a} {b}");
            }
        }
        assert_eq!(nonzero_span(&vec![0u8; len]), None);
    }
}

#[test]
fn a_click_on_the_wall_snaps_into_the_lumen() {
    let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
    // 6.5 mm from the axis of a 5 mm tube: 1.5 mm outside.
    let v = lumen.snap([21.5, 15.0, 30.0], "entry").expect("snaps");
    assert!(lumen.contains(v));
    assert!(lumen.snap([27.0, 15.0, 30.0], "entry").is_err());
    // Far off the grid: the same clear error, the vessel's nearest point named.
    match lumen.snap([1e300, -1e300, 30.0], "target") {
        Err(PathError::OutsideLumen { nearest_lps_mm, .. }) => {
            assert!(lumen.contains(lumen.snap(nearest_lps_mm, "x").expect("in")))
        }
        other => panic!("expected outside, got {other:?}"),
    }
}
