//! The phantom's anatomy: analytic shapes in LPS millimetres and how they are painted.
//!
//! Coordinates: x → patient left, y → posterior, z → superior; the torso is centred on
//! x = y = 0, the aortic arch apex near z = −15 mm, the femoral arteries end near z = −615.
//! Shapes are signed-distance functions (negative inside); [`paint_slice`] blends each
//! tissue in over a one-voxel ramp so iso-surfaces land on the true boundaries.

use nalgebra::Vector3;

use crate::volume::Geometry;

/// One named arterial branch: a smooth centreline sampled at ≤ 1 mm with a radius per point.
#[derive(Debug, Clone)]
pub struct Branch {
    pub name: &'static str,
    pub points: Vec<[f64; 3]>,
    pub radii: Vec<f64>,
}

/// Catmull–Rom through control points, sampled so consecutive points are ≤ 1 mm apart;
/// radii interpolated linearly between the control points' radii.
fn spline(name: &'static str, control: &[([f64; 3], f64)]) -> Branch {
    let p: Vec<Vector3<f64>> = control.iter().map(|c| Vector3::from(c.0)).collect();
    let n = p.len();
    let mut points = Vec::new();
    let mut radii = Vec::new();
    for s in 0..n.saturating_sub(1) {
        let p0 = if s == 0 { p[0] * 2.0 - p[1] } else { p[s - 1] };
        let (p1, p2) = (p[s], p[s + 1]);
        let p3 = if s + 2 < n {
            p[s + 2]
        } else {
            p[n - 1] * 2.0 - p[n - 2]
        };
        let steps = ((p2 - p1).norm() / 0.5).ceil().max(1.0) as usize;
        for t_i in 0..steps {
            let t = t_i as f64 / steps as f64;
            let (t2, t3) = (t * t, t * t * t);
            let q = (p1 * 2.0
                + (p2 - p0) * t
                + (p0 * 2.0 - p1 * 5.0 + p2 * 4.0 - p3) * t2
                + (p1 * 3.0 - p0 - p2 * 3.0 + p3) * t3)
                * 0.5;
            points.push([q.x, q.y, q.z]);
            radii.push(control[s].1 + (control[s + 1].1 - control[s].1) * t);
        }
    }
    if let Some(last) = control.last() {
        points.push(last.0);
        radii.push(last.1);
    }
    Branch {
        name,
        points,
        radii,
    }
}

/// The point of a branch closest to height `z` (for attaching side branches).
fn point_at_z(branch: &Branch, z: f64) -> [f64; 3] {
    branch
        .points
        .iter()
        .copied()
        .min_by(|a, b| (a[2] - z).abs().total_cmp(&(b[2] - z).abs()))
        .unwrap_or([0.0, 0.0, z])
}

/// Cumulative arc length at each point of a polyline (mm, 0 at the first point).
pub fn arc_lengths(points: &[[f64; 3]]) -> Vec<f64> {
    let mut s = Vec::with_capacity(points.len());
    let mut total = 0.0;
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            total += (Vector3::from(*p) - Vector3::from(points[i - 1])).norm();
        }
        s.push(total);
    }
    s
}

/// Blends a branch's radius towards `r_peak` over `peak_s ± half_mm` of arc length with a
/// raised cosine: r = r₀·(1 − w) + r_peak·w, w = ½(1 + cos(π·Δs/half)). The extreme radius
/// is exactly `r_peak`, reached at `peak_s` with zero slope, so the vessel's widest (an
/// aneurysm) or narrowest (a stenosis) cross-section there is a disc of that radius. The
/// profiles used keep |r·r''| < 1, so the union of spheres that paints the vessel has
/// exactly this radius everywhere.
fn reshape(branch: &mut Branch, peak_s: f64, half_mm: f64, r_peak: f64) {
    let s = arc_lengths(&branch.points);
    for (r, si) in branch.radii.iter_mut().zip(s) {
        let d = (si - peak_s).abs();
        if d < half_mm {
            let w = 0.5 * (1.0 + (std::f64::consts::PI * d / half_mm).cos());
            *r = *r * (1.0 - w) + r_peak * w;
        }
    }
}

/// One move of a planar centreline: an arc of the given radius turning by an angle
/// (radians, signed about the plane's normal), or a straight run.
#[derive(Debug, Clone, Copy)]
pub enum Move {
    Arc { radius_mm: f64, turn_rad: f64 },
    Line { length_mm: f64 },
}

/// A centreline made of circular arcs and straight runs in the plane through `start`
/// spanned by the unit heading `h0` and the unit `e2` ⟂ `h0`, sampled every ≤ 0.5 mm;
/// returns the points and the final unit heading.
fn planar_turtle(
    start: Vector3<f64>,
    h0: Vector3<f64>,
    e2: Vector3<f64>,
    moves: &[Move],
) -> (Vec<[f64; 3]>, Vector3<f64>) {
    let dir = |h: f64| h0 * h.cos() + e2 * h.sin();
    let mut points = vec![[start.x, start.y, start.z]];
    let (mut p, mut h) = (start, 0.0f64);
    for m in moves {
        match *m {
            Move::Arc {
                radius_mm,
                turn_rad,
            } => {
                let n = ((turn_rad.abs() * radius_mm) / 0.5).ceil().max(1.0) as usize;
                let side = turn_rad.signum();
                // The centre lies on the side the arc turns to.
                let normal = |h: f64| -h0 * h.sin() + e2 * h.cos();
                let c = p + normal(h) * (radius_mm * side);
                for i in 1..=n {
                    let hh = h + turn_rad * i as f64 / n as f64;
                    let q = c - normal(hh) * (radius_mm * side);
                    points.push([q.x, q.y, q.z]);
                }
                h += turn_rad;
                p = c - normal(h) * (radius_mm * side);
            }
            Move::Line { length_mm } => {
                let n = (length_mm / 0.5).ceil().max(1.0) as usize;
                let d = dir(h);
                for i in 1..=n {
                    let q = p + d * (length_mm * i as f64 / n as f64);
                    points.push([q.x, q.y, q.z]);
                }
                p += d * length_mm;
            }
        }
    }
    (points, dir(h))
}

/// Where a branch's radius was reshaped: arc length of the extreme (mm), half-length of
/// the reshaped stretch, the extreme radius and the radius the branch had there before.
#[derive(Debug, Clone, Copy)]
pub struct Reshaped {
    pub peak_s: f64,
    pub half_mm: f64,
    pub radius_mm: f64,
    pub parent_radius_mm: f64,
}

/// Reshapes `branch` (see [`reshape`]) and says where.
fn reshaped(branch: &mut Branch, peak_s: f64, half_mm: f64, radius_mm: f64) -> Reshaped {
    let s = arc_lengths(&branch.points);
    let i = s
        .partition_point(|&l| l < peak_s)
        .min(branch.radii.len() - 1);
    let parent_radius_mm = branch.radii[i];
    reshape(branch, peak_s, half_mm, radius_mm);
    Reshaped {
        peak_s,
        half_mm,
        radius_mm,
        parent_radius_mm,
    }
}

/// The clinical cases painted into the arterial tree, with their analytic truth.
#[derive(Debug, Clone)]
pub struct Cases {
    /// Infrarenal aortic aneurysm.
    pub aneurysm: Reshaped,
    /// Stenosis of the right common iliac artery.
    pub stenosis: Reshaped,
    /// The tortuous left external iliac artery: its moves (after the initial straight
    /// lead-in it has none).
    pub tortuous_moves: Vec<Move>,
}

/// Widest radius of the infrarenal aneurysm (mm): a 40 mm sac, past the 30 mm that defines
/// an aneurysm and below the 55 mm repair threshold, as in a surveillance case.
pub const ANEURYSM_RADIUS_MM: f64 = 20.0;
/// Narrowest radius of the right common iliac stenosis (mm): a 6 mm residual lumen in an
/// artery of ≈ 11.5 mm, a ≈ 50 % diameter stenosis.
pub const STENOSIS_RADIUS_MM: f64 = 3.0;
/// Radius of the tortuous left external iliac's bends (mm).
pub const ILIAC_BEND_RADIUS_MM: f64 = 18.0;

/// The arterial tree: aorta (root → arch → descending → bifurcation) with an infrarenal
/// aneurysm, renal arteries, common and external iliac and femoral arteries on both sides,
/// the right common iliac stenosed and the left external iliac tortuous.
pub fn arterial_tree() -> Vec<Branch> {
    arterial_tree_with_cases().0
}

/// The left external iliac: it leaves the common iliac along its end tangent, loops through
/// three arcs of [`ILIAC_BEND_RADIUS_MM`] and runs straight down to the groin (z = −530 mm).
/// Returns it, the groin point, the heading there and the moves that drew it.
fn tortuous_external_iliac(common_left: &Branch) -> (Branch, [f64; 3], Vector3<f64>, Vec<Move>) {
    let n = common_left.points.len();
    let start = Vector3::from(common_left.points[n - 1]);
    let h0 = (start - Vector3::from(common_left.points[n.saturating_sub(2)])).normalize();
    let a0 = h0.cross(&Vector3::z()).normalize();
    let b0 = h0.cross(&a0);
    let psi = 50f64.to_radians();
    let e2 = a0 * psi.cos() + b0 * psi.sin();
    let r = ILIAC_BEND_RADIUS_MM;
    let mut moves = vec![
        Move::Arc {
            radius_mm: r,
            turn_rad: (-20f64).to_radians(),
        },
        Move::Line { length_mm: 6.0 },
        Move::Arc {
            radius_mm: r,
            turn_rad: 120f64.to_radians(),
        },
        Move::Line { length_mm: 12.0 },
        Move::Arc {
            radius_mm: r,
            turn_rad: (-100f64).to_radians(),
        },
    ];
    let (loop_points, heading) = planar_turtle(start, h0, e2, &moves);
    let end_loop = Vector3::from(loop_points[loop_points.len() - 1]);
    let run = ((-530.0 - end_loop.z) / heading.z).max(1.0);
    moves.push(Move::Line { length_mm: run });
    let (points, heading) = planar_turtle(start, h0, e2, &moves);
    let s = arc_lengths(&points);
    let length = s.last().copied().unwrap_or(1.0).max(1e-9);
    let radii = s.iter().map(|si| 5.0 - 0.5 * si / length).collect();
    let groin = points[points.len() - 1];
    let external_left = Branch {
        name: "external_iliac_left",
        points,
        radii,
    };
    (external_left, groin, heading, moves)
}

/// [`arterial_tree`] and where its clinical cases are.
pub fn arterial_tree_with_cases() -> (Vec<Branch>, Cases) {
    let mut aorta = spline(
        "aorta",
        &[
            ([2.0, -38.0, -130.0], 14.0),
            ([0.0, -36.0, -90.0], 14.0),
            ([0.0, -28.0, -45.0], 13.5),
            ([8.0, -8.0, -18.0], 13.0),
            ([20.0, 12.0, -24.0], 12.5),
            ([25.0, 17.0, -60.0], 12.0),
            ([25.0, 15.0, -130.0], 11.5),
            ([24.0, 14.0, -220.0], 11.0),
            ([20.0, 12.0, -300.0], 10.5),
            ([14.0, 8.0, -360.0], 10.0),
            ([8.0, 5.0, -395.0], 9.5),
        ],
    );
    let ostium_left = point_at_z(&aorta, -324.0);
    let ostium_right = point_at_z(&aorta, -316.0);
    // The aneurysm: a 12 mm neck below the lower (left) renal ostium, then a 46 mm sac
    // ending 10 mm above the bifurcation.
    let s_aorta = arc_lengths(&aorta.points);
    let total = s_aorta.last().copied().unwrap_or(0.0);
    let s_ostium = aorta
        .points
        .iter()
        .zip(&s_aorta)
        .min_by(|a, b| (a.0[2] + 324.0).abs().total_cmp(&(b.0[2] + 324.0).abs()))
        .map(|(_, s)| *s)
        .unwrap_or(0.0);
    let sac_start = s_ostium + 12.0;
    let sac_half = ((total - 10.0 - sac_start) * 0.5).max(5.0);
    let aneurysm = reshaped(
        &mut aorta,
        sac_start + sac_half,
        sac_half,
        ANEURYSM_RADIUS_MM,
    );
    let renal_left = spline(
        "renal_left",
        &[
            (ostium_left, 3.5),
            ([40.0, 22.0, -324.0], 3.4),
            ([52.0, 36.0, -332.0], 3.2),
            ([60.0, 42.0, -338.0], 3.0),
        ],
    );
    let renal_right = spline(
        "renal_right",
        &[
            (ostium_right, 3.5),
            ([-8.0, 18.0, -322.0], 3.4),
            ([-40.0, 30.0, -328.0], 3.2),
            ([-60.0, 42.0, -338.0], 3.0),
        ],
    );
    let bif = [8.0, 5.0, -395.0];
    let common = |sign: f64| {
        spline(
            if sign > 0.0 {
                "common_iliac_left"
            } else {
                "common_iliac_right"
            },
            &[
                (bif, 6.0),
                ([8.0 + sign * 20.0, 2.0, -420.0], 5.8),
                ([8.0 + sign * 42.0, 0.0, -450.0], 5.5),
            ],
        )
    };
    let femoral = |sign: f64, start: [f64; 3], second: [f64; 3]| {
        spline(
            if sign > 0.0 {
                "femoral_left"
            } else {
                "femoral_right"
            },
            &[
                (start, 4.5),
                (second, 4.2),
                ([8.0 + sign * 67.0, -38.0, -612.0], 4.0),
            ],
        )
    };
    // Right: a smooth external iliac, and a stenosis half-way down the common iliac.
    let mut common_right = common(-1.0);
    let s_common = arc_lengths(&common_right.points);
    let stenosis = reshaped(
        &mut common_right,
        s_common.last().copied().unwrap_or(0.0) * 0.5,
        10.0,
        STENOSIS_RADIUS_MM,
    );
    let external_right = spline(
        "external_iliac_right",
        &[
            ([-34.0, 0.0, -450.0], 5.0),
            ([-44.0, -15.0, -475.0], 4.9),
            ([-51.0, -32.0, -500.0], 4.7),
            ([-56.0, -40.0, -530.0], 4.5),
        ],
    );
    let femoral_right = femoral(-1.0, [-56.0, -40.0, -530.0], [-58.0, -40.0, -570.0]);
    // Left: the external iliac leaves the common iliac along its end tangent and loops
    // through three arcs of 18 mm radius (20°, 120° and 100°, the last two the ≥ 90° bends
    // the access guidelines ask about) in a plane through the pelvis clear of bone, then
    // runs straight down to the inguinal ligament at z = −530 mm.
    let common_left = common(1.0);
    let (external_left, groin, heading, moves) = tortuous_external_iliac(&common_left);
    let second = Vector3::from(groin) + heading * 25.0;
    let femoral_left = femoral(1.0, groin, [second.x, second.y, second.z]);
    let tree = vec![
        aorta,
        renal_left,
        renal_right,
        common_left,
        external_left,
        femoral_left,
        common_right,
        external_right,
        femoral_right,
    ];
    (
        tree,
        Cases {
            aneurysm,
            stenosis,
            tortuous_moves: moves,
        },
    )
}

/// A conical capsule piece of a vessel: axis a→b, radii ra→rb.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    a: Vector3<f64>,
    b: Vector3<f64>,
    ra: f64,
    rb: f64,
    z_lo: f64,
    z_hi: f64,
}

impl Segment {
    /// Signed distance of `p` to the vessel wall (negative inside).
    #[inline]
    fn sd(&self, p: &Vector3<f64>) -> f64 {
        let ab = self.b - self.a;
        let l2 = ab.norm_squared();
        let t = if l2 > 0.0 {
            ((p - self.a).dot(&ab) / l2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let q = self.a + ab * t;
        (p - q).norm() - (self.ra + (self.rb - self.ra) * t)
    }
}

pub fn vessel_segments(tree: &[Branch]) -> Vec<Segment> {
    let mut out = Vec::new();
    for b in tree {
        for (w, r) in b.points.windows(2).zip(b.radii.windows(2)) {
            let (a, bb) = (Vector3::from(w[0]), Vector3::from(w[1]));
            let rmax = r[0].max(r[1]);
            out.push(Segment {
                a,
                b: bb,
                ra: r[0],
                rb: r[1],
                z_lo: a.z.min(bb.z) - rmax,
                z_hi: a.z.max(bb.z) + rmax,
            });
        }
    }
    out
}

/// Approximate signed distance to an axis-aligned ellipsoid.
#[inline]
fn sd_ellipsoid(p: &Vector3<f64>, c: [f64; 3], r: [f64; 3]) -> f64 {
    let q = Vector3::new(
        (p.x - c[0]) / r[0],
        (p.y - c[1]) / r[1],
        (p.z - c[2]) / r[2],
    );
    (q.norm() - 1.0) * r[0].min(r[1]).min(r[2])
}

/// Approximate signed distance to an ellipse-section cylinder (infinite along z).
#[inline]
fn sd_ellipse(x: f64, y: f64, cx: f64, cy: f64, a: f64, b: f64) -> f64 {
    let q = ((x - cx) / a).hypot((y - cy) / b);
    (q - 1.0) * a.min(b)
}

/// Distance from `p` to segment a–b minus radius r (capsule SDF).
#[inline]
fn sd_capsule(p: &Vector3<f64>, a: [f64; 3], b: [f64; 3], r: f64) -> f64 {
    let (a, b) = (Vector3::from(a), Vector3::from(b));
    let ab = b - a;
    let t = ((p - a).dot(&ab) / ab.norm_squared()).clamp(0.0, 1.0);
    (p - (a + ab * t)).norm() - r
}

/// Blend `hu` into `v` where `sd` < 0, over a ramp of width `w` mm centred on the boundary.
#[inline]
fn paint(v: &mut f64, hu: f64, sd: f64, w: f64) {
    let a = (0.5 - sd / w).clamp(0.0, 1.0);
    if a > 0.0 {
        *v += a * (hu - *v);
    }
}

/// Bone with a cortical shell (1100 HU, 2.5 mm) over cancellous bone (250 HU).
#[inline]
fn paint_bone(v: &mut f64, sd: f64, w: f64) {
    paint(v, 1100.0, sd, w);
    paint(v, 250.0, sd + 2.5, w);
}

const Z_LEGS: f64 = -500.0;

/// Signed distance to the body outline (skin surface).
fn sd_body(x: f64, y: f64, z: f64) -> f64 {
    if z > Z_LEGS {
        // Slightly narrower chest at the top.
        let a = if z > -150.0 {
            160.0 + (z + 150.0) * -0.1
        } else {
            165.0
        };
        sd_ellipse(x, y, 0.0, 0.0, a, 115.0)
    } else {
        let l = sd_ellipse(x, y, 85.0, 0.0, 78.0, 78.0);
        let r = sd_ellipse(x, y, -85.0, 0.0, 78.0, 78.0);
        l.min(r)
    }
}

/// Soft tissue, organs and bones at one point (HU, before vessels and noise).
fn tissue(p: &Vector3<f64>, w: f64) -> f64 {
    let (x, y, z) = (p.x, p.y, p.z);
    let mut v = -1000.0;
    let body = sd_body(x, y, z);
    if body > w {
        return v;
    }
    paint(&mut v, 40.0, body, w); // skin
    paint(&mut v, -100.0, body + 3.0, w); // subcutaneous fat
    paint(&mut v, 50.0, body + 18.0, w); // muscle and viscera
    if z > -270.0 {
        for sx in [-1.0, 1.0] {
            paint(
                &mut v,
                -850.0,
                sd_ellipsoid(p, [sx * 82.0, 5.0, -130.0], [58.0, 78.0, 132.0]),
                w,
            );
        }
        paint(
            &mut v,
            45.0,
            sd_ellipsoid(p, [15.0, -38.0, -192.0], [58.0, 48.0, 55.0]),
            w,
        ); // heart
    }
    if (-370.0..-230.0).contains(&z) {
        paint(
            &mut v,
            60.0,
            sd_ellipsoid(p, [-70.0, -10.0, -300.0], [78.0, 78.0, 62.0]),
            w,
        ); // liver
    }
    if (-400.0..-280.0).contains(&z) {
        for sx in [-1.0, 1.0] {
            paint(
                &mut v,
                170.0,
                sd_ellipsoid(p, [sx * 78.0, 50.0, -340.0], [26.0, 20.0, 52.0]),
                w,
            ); // kidneys
        }
    }
    // Vertebral column: bodies 24 mm tall with 6 mm discs, from the sacrum to the top.
    if z > -475.0 {
        let period = 30.0;
        let phase = (z + 475.0).rem_euclid(period);
        let in_disc = phase > 24.0;
        let body_sd = sd_ellipse(x, y, 0.0, 55.0, 21.0, 18.0);
        if in_disc {
            paint(&mut v, 90.0, body_sd, w);
        } else {
            paint_bone(&mut v, body_sd, w);
            // Posterior arch around the canal and the spinous process.
            let ring = (x.hypot(y - 88.0) - 12.5).abs() - 4.0;
            paint(&mut v, 900.0, ring, w);
            let spinous = sd_capsule(p, [0.0, 100.0, z], [0.0, 118.0, z - 6.0], 4.0);
            paint(&mut v, 900.0, spinous, w);
        }
        paint(&mut v, 30.0, x.hypot(y - 88.0) - 8.0, w); // spinal canal
    }
    // Ribs: tubes following the chest wall, rising posteriorly, 10 pairs.
    if (-300.0..0.0).contains(&z) {
        for n in 0..10 {
            let zr = -40.0 - 24.0 * n as f64;
            let zc = zr + 0.15 * y;
            if (z - zc).abs() > 12.0 {
                continue;
            }
            if x.abs() < 28.0 {
                continue; // spine posteriorly, sternum gap anteriorly
            }
            let ring = sd_ellipse(x, y, 0.0, 0.0, 165.0 - 26.0, 115.0 - 26.0);
            let d = ring.hypot(z - zc) - 5.5;
            paint(&mut v, 850.0, d, w);
            paint(&mut v, 250.0, d + 2.0, w);
        }
    }
    // Pelvis: iliac wings (posterior half-shells), pubic bar, femoral heads and shafts.
    if (-640.0..-370.0).contains(&z) {
        for sx in [-1.0, 1.0] {
            if y > 28.0 {
                let shell =
                    sd_ellipsoid(p, [sx * 78.0, 45.0, -425.0], [48.0, 30.0, 45.0]).abs() - 4.0;
                paint(&mut v, 900.0, shell, w);
            }
            let head = sd_ellipsoid(p, [sx * 95.0, -5.0, -505.0], [22.0, 22.0, 22.0]);
            paint_bone(&mut v, head, w);
            let shaft = sd_capsule(
                p,
                [sx * 95.0, -5.0, -505.0],
                [sx * 100.0, 5.0, -660.0],
                14.0,
            );
            paint_bone(&mut v, shaft, w);
        }
        let pubis = sd_capsule(p, [-55.0, -45.0, -485.0], [55.0, -45.0, -485.0], 9.0);
        paint_bone(&mut v, pubis, w);
    }
    v
}

/// Contrast-enhanced arterial blood, HU.
pub const BLOOD_HU: f64 = 380.0;

/// Paints slice `k` of the phantom: returns row-major `[j][i]` HU values (no noise).
pub fn paint_slice(geometry: &Geometry, k: usize, segments: &[Segment], ramp_mm: f64) -> Vec<f64> {
    let [ni, nj, _] = geometry.dims;
    let z = geometry.patient_from_ijk([0.0, 0.0, k as f64]).z;
    let mut values = Vec::with_capacity(ni * nj);
    for j in 0..nj {
        for i in 0..ni {
            let p = geometry
                .patient_from_ijk([i as f64, j as f64, k as f64])
                .coords;
            values.push(tissue(&p, ramp_mm));
        }
    }
    // Vessels: rasterise each segment crossing this slice over its bounding box only.
    let mut vessel_sd = vec![f64::INFINITY; ni * nj];
    let margin = ramp_mm;
    let [sx, sy, _] = geometry.spacing_mm;
    let o = geometry.origin_mm;
    for s in segments {
        if z < s.z_lo - margin || z > s.z_hi + margin {
            continue;
        }
        let r = s.ra.max(s.rb) + margin;
        let (x_lo, x_hi) = (s.a.x.min(s.b.x) - r, s.a.x.max(s.b.x) + r);
        let (y_lo, y_hi) = (s.a.y.min(s.b.y) - r, s.a.y.max(s.b.y) + r);
        let to_i = |x: f64| ((x - o[0]) / sx).clamp(0.0, (ni - 1) as f64);
        let to_j = |y: f64| ((y - o[1]) / sy).clamp(0.0, (nj - 1) as f64);
        let (i0, i1) = (to_i(x_lo).floor() as usize, to_i(x_hi).ceil() as usize);
        let (j0, j1) = (to_j(y_lo).floor() as usize, to_j(y_hi).ceil() as usize);
        for j in j0..=j1 {
            for i in i0..=i1 {
                let p = geometry
                    .patient_from_ijk([i as f64, j as f64, k as f64])
                    .coords;
                let d = s.sd(&p);
                let slot = &mut vessel_sd[j * ni + i];
                if d < *slot {
                    *slot = d;
                }
            }
        }
    }
    for (v, sd) in values.iter_mut().zip(vessel_sd) {
        if sd.is_finite() {
            paint(v, BLOOD_HU, sd, ramp_mm);
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spline_passes_through_control_points_with_fine_sampling() {
        let b = spline(
            "t",
            &[
                ([0.0, 0.0, 0.0], 5.0),
                ([10.0, 0.0, 0.0], 4.0),
                ([10.0, 10.0, 0.0], 3.0),
            ],
        );
        assert_eq!(b.points[0], [0.0, 0.0, 0.0]);
        assert_eq!(*b.points.last().expect("points"), [10.0, 10.0, 0.0]);
        assert!(
            b.points
                .iter()
                .any(|p| (Vector3::from(*p) - Vector3::new(10.0, 0.0, 0.0)).norm() < 1e-9)
        );
        assert_eq!(b.radii[0], 5.0);
        assert_eq!(*b.radii.last().expect("radii"), 3.0);
    }

    #[test]
    fn arteries_keep_clear_of_bone() {
        // Every centreline point must be at least radius + 6 mm from any bone surface, so
        // a seed in the aorta cannot grow into the spine, pelvis or femur.
        let w = 0.01;
        for b in arterial_tree() {
            for (p, r) in b.points.iter().zip(&b.radii).step_by(3) {
                let c = Vector3::from(*p);
                // Probe a ring around the centreline point at radius r + 6 mm.
                for a in 0..16 {
                    let t = a as f64 * std::f64::consts::TAU / 16.0;
                    for dir in [
                        Vector3::new(t.cos(), t.sin(), 0.0),
                        Vector3::new(t.cos(), 0.0, t.sin()),
                    ] {
                        let q = c + dir * (r + 6.0);
                        let v = tissue(&q, w);
                        assert!(v < 200.0, "{} near bone ({v} HU) at {q:?}", b.name);
                    }
                }
            }
        }
    }
}
