//! Paths drawn over the views (centreline, stops, the narrowest point, flagged stretches)
//! and their tubes in the 3D scene (coloured by clearance), rebuilt when the paths change.

use super::*;

/// Paths over a view: on a slice the path itself (dimmed away from the slice), in 3D only
/// its stops (the tube is in the scene); the hovered point, the narrowest point, and the
/// break in the lumen of a path that could not be planned.
pub fn draw(
    painter: &egui::Painter,
    doc: &PlanDoc,
    pui: &PathUi,
    at: &dyn Fn(&P) -> Option<(Pos2, f32)>,
    seg: &dyn Fn(&P, &P) -> f32,
    in_3d: bool,
) {
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        let colour = colour32(path.colour);
        if let Some(r) = report_of(path)
            && !in_3d
        {
            let colours = tube::point_colours(r, path.fit.as_ref());
            for (k, w) in r.points_lps_mm.windows(2).enumerate() {
                let alpha = seg(&w[0], &w[1]);
                if alpha <= 0.0 {
                    continue;
                }
                if let (Some((a, _)), Some((b, _))) = (at(&w[0]), at(&w[1])) {
                    let c = colour32(if path.fit.is_some() {
                        colours[k]
                    } else {
                        path.colour
                    });
                    painter.line_segment(
                        [a, b],
                        Stroke::new(4.0, Color32::from_black_alpha((150.0 * alpha) as u8)),
                    );
                    painter.line_segment([a, b], Stroke::new(2.5, c.gamma_multiply(alpha)));
                }
            }
        }
        // Labels run away from the path: an entry left of its target is labelled leftward.
        let target_x = at(&path.target_lps_mm).map(|(q, _)| q.x);
        for (p, name) in path.stops() {
            if let Some((q, alpha)) = at(&p)
                && alpha > 0.0
            {
                painter.circle(
                    q,
                    5.0,
                    colour.gamma_multiply(alpha),
                    Stroke::new(1.5, Color32::BLACK),
                );
                let selected = pui.selected == Some(path.id);
                if name == "entry" || (name == "target" && selected) {
                    let leftward = name == "entry" && target_x.is_some_and(|x| q.x < x);
                    let (offset, align, text) = match (name.as_str(), leftward) {
                        ("entry", true) => (
                            egui::vec2(-8.0, 6.0),
                            egui::Align2::RIGHT_TOP,
                            path.name.clone(),
                        ),
                        ("entry", false) => (
                            egui::vec2(8.0, 6.0),
                            egui::Align2::LEFT_TOP,
                            path.name.clone(),
                        ),
                        _ => (
                            egui::vec2(8.0, -8.0),
                            egui::Align2::LEFT_BOTTOM,
                            format!("{} target", path.name),
                        ),
                    };
                    painter.text(
                        q + offset,
                        align,
                        text,
                        egui::FontId::proportional(12.5),
                        colour.gamma_multiply(alpha.max(0.6)),
                    );
                }
            }
        }
        if let Some(r) = report_of(path)
            && let Some((q, alpha)) = at(&r.min_lumen_position_lps_mm)
            && alpha > 0.0
        {
            painter.circle_stroke(
                q,
                7.0,
                Stroke::new(2.0, Color32::from_rgb(240, 120, 90).gamma_multiply(alpha)),
            );
            painter.text(
                q + egui::vec2(10.0, 6.0),
                egui::Align2::LEFT_TOP,
                format!("narrowest {:.1} mm", r.min_lumen_diameter_mm),
                egui::FontId::proportional(12.0),
                Color32::from_rgb(240, 150, 120).gamma_multiply(alpha.max(0.6)),
            );
        }
    }
    if let Some((id, i)) = pui.hover
        && let Some(path) = doc.plan().paths.iter().find(|p| p.id == id && p.visible)
        && let Some(r) = report_of(path)
        && let Some(p) = r.points_lps_mm.get(i)
        && let Some((q, alpha)) = at(p)
        && alpha > 0.0
    {
        painter.circle_stroke(q, 9.0, Stroke::new(2.5, Color32::WHITE));
        painter.text(
            q + egui::vec2(12.0, -12.0),
            egui::Align2::LEFT_BOTTOM,
            format!("{:.0} mm · {:.1} mm", r.along_mm[i], r.min_diameters_mm[i]),
            egui::FontId::proportional(13.0),
            Color32::WHITE,
        );
    }
    if let Some(Failure {
        gap: Some((a, b)), ..
    }) = &pui.failure
        && let (Some((pa, _)), Some((pb, _))) = (at(a), at(b))
    {
        let red = Color32::from_rgb(240, 90, 70);
        let n = 12;
        for k in (0..n).step_by(2) {
            let f = |t: f32| pa + (pb - pa) * t;
            painter.line_segment(
                [f(k as f32 / n as f32), f((k + 1) as f32 / n as f32)],
                Stroke::new(2.0, red),
            );
        }
        painter.circle(pa, 5.0, red, Stroke::new(1.5, Color32::BLACK));
        let gap = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        painter.text(
            pa + egui::vec2(8.0, 8.0),
            egui::Align2::LEFT_TOP,
            format!("the lumen ends here: {gap:.1} mm short"),
            egui::FontId::proportional(12.5),
            red,
        );
    }
}

/// The point of a visible path nearest the pointer in the 3D view, within 10 pixels.
pub fn hover_in_view(
    doc: &PlanDoc,
    pui: &mut PathUi,
    pointer: Pos2,
    screen: &dyn Fn(&P) -> Option<Pos2>,
) {
    let mut best: Option<(f32, u64, usize)> = None;
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        let Some(r) = report_of(path) else { continue };
        for (i, p) in r.points_lps_mm.iter().enumerate() {
            if let Some(q) = screen(p) {
                let d = q.distance(pointer);
                if d < 10.0 && best.is_none_or(|b| d < b.0) {
                    best = Some((d, path.id, i));
                }
            }
        }
    }
    if let Some((_, id, i)) = best {
        pui.hover = Some((id, i));
        pui.hover_from_view = true;
        if pui.selected.is_none() {
            pui.selected = Some(id);
        }
    }
}

/// A path's tube entity in the 3D scene.
#[derive(Component)]
pub struct PathTube;

/// What the tubes were last built from: per visible path, its id, points, device size and
/// fit (by their figures), so the scene is rebuilt only when one of those changes.
pub(super) type TubeKey = Vec<(u64, usize, u64, u64)>;

pub(super) fn tube_key(doc: &PlanDoc) -> TubeKey {
    doc.plan()
        .paths
        .iter()
        .filter(|p| p.visible)
        .filter_map(|p| {
            let r = report_of(p)?;
            Some((
                p.id,
                r.points_lps_mm.len(),
                p.device
                    .as_ref()
                    .map_or(0, |d| d.outer_diameter_mm.to_bits()),
                p.fit.as_ref().map_or(0, |f| f.max_sfar.to_bits()) ^ r.length_mm.to_bits(),
            ))
        })
        .collect()
}

/// The tubes follow the plan: a tube of the device's diameter (2 mm without one) per
/// visible path, coloured by clearance.
pub(super) fn sync_tubes(
    scene: SceneAssets,
    doc: Res<PlanDoc>,
    mut last: Local<TubeKey>,
    q: Query<Entity, With<PathTube>>,
) {
    let SceneAssets {
        mut commands,
        mut meshes,
        mut materials,
        mut redraw,
    } = scene;
    let key = tube_key(&doc);
    if key == *last {
        return;
    }
    *last = key;
    for e in &q {
        commands.entity(e).despawn();
    }
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        let Some(r) = report_of(path) else { continue };
        let radius = path
            .device
            .as_ref()
            .map_or(1.0, |d| 0.5 * d.outer_diameter_mm);
        let colours = if path.fit.is_some() {
            tube::point_colours(r, path.fit.as_ref())
        } else {
            vec![path.colour; r.points_lps_mm.len()]
        };
        let t = tube::tube(&r.points_lps_mm, radius, &colours);
        if t.indices.is_empty() {
            continue;
        }
        let mut mesh = Mesh::new(
            PrimitiveTopology::TriangleList,
            RenderAssetUsages::default(),
        );
        mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, t.positions_lps_mm);
        mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, t.normals);
        // The colours are sRGB; the mesh's vertex colours are linear.
        let linear: Vec<[f32; 4]> = t
            .colours
            .iter()
            .map(|c| {
                let l = Color::srgb(c[0], c[1], c[2]).to_linear();
                [l.red, l.green, l.blue, c[3]]
            })
            .collect();
        mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, linear);
        mesh.insert_indices(Indices::U32(t.indices));
        commands.spawn((
            PathTube,
            Mesh3d(meshes.add(mesh)),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::WHITE,
                perceptual_roughness: 0.45,
                reflectance: 0.4,
                ..default()
            })),
            Transform::IDENTITY,
            Visibility::Inherited,
        ));
    }
    redraw.request_frames(3, "paths changed");
}
