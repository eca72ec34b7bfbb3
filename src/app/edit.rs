//! The structure editor, the Segment Editor's tools in the workstation: paint and erase
//! with a sphere brush dragged on a slice (optionally only over voxels within a value
//! range), scissors drawn round a part in the 3D view (removing it, or keeping only it,
//! through the whole depth), an island kept by a click on a slice, small islands removed.
//! Each stroke, cut or click is one [`MaskEdit`] appended to the structure's recipe by one
//! undoable command; the structure is built again from its recipe, and paths planned in it
//! are planned again (`paths`). The tool's own state (which structure, which tool, the
//! brush) is never saved or undone. egui only; the edits themselves are
//! `segment::edit`'s.

use bevy::prelude::{App, Plugin, Resource};
use bevy_egui::egui::{self, Color32, Pos2, RichText, Stroke};

use super::document::DocWriter;
use super::markups::SliceGeometry;
use super::state::{ViewState, Workspace};
use crate::document::Command;
use crate::geometry::P;
use crate::segment::ValueRange;
use crate::segment::edit::MaskEdit;

/// Registers the editor's state.
pub struct EditPlugin;

impl Plugin for EditPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<EditTool>();
    }
}

/// Which tool is in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EditMode {
    #[default]
    Off,
    Paint,
    Erase,
    Scissors,
    Islands,
}

impl EditMode {
    const ALL: [EditMode; 5] = [
        EditMode::Off,
        EditMode::Paint,
        EditMode::Erase,
        EditMode::Scissors,
        EditMode::Islands,
    ];

    fn name(self) -> &'static str {
        match self {
            EditMode::Off => "Off",
            EditMode::Paint => "Paint",
            EditMode::Erase => "Erase",
            EditMode::Scissors => "Scissors",
            EditMode::Islands => "Islands",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            EditMode::Off => "Views behave as usual.",
            EditMode::Paint => {
                "Drag on a slice: a sphere of the brush's radius is added along the stroke."
            }
            EditMode::Erase => {
                "Drag on a slice: a sphere of the brush's radius is removed along the stroke."
            }
            EditMode::Scissors => {
                "Draw round a part in the 3D view: it is cut through the whole depth, as \
                 seen from the camera."
            }
            EditMode::Islands => "Click a part on a slice to keep only it.",
        }
    }
}

/// The editor's state: the structure being edited, the tool, the brush; a stroke or a
/// scissors outline being drawn.
#[derive(Resource, Debug, Clone)]
pub struct EditTool {
    pub target: Option<u64>,
    pub mode: EditMode,
    pub radius_mm: f64,
    /// Paint or erase only over voxels with values in `range` (Slicer's masking).
    pub only_range: bool,
    pub range: (f64, f64),
    /// Scissors keep what they enclose (else they remove it).
    pub keep_inside: bool,
    pub min_island_ml: f64,
    /// The stroke being dragged (patient mm) and the scissors outline (screen points).
    stroke: Vec<P>,
    lasso: Vec<Pos2>,
}

impl Default for EditTool {
    fn default() -> EditTool {
        EditTool {
            target: None,
            mode: EditMode::Off,
            radius_mm: 3.0,
            only_range: false,
            range: (150.0, 700.0),
            keep_inside: false,
            min_island_ml: 1.0,
            stroke: Vec::new(),
            lasso: Vec::new(),
        }
    }
}

impl EditTool {
    /// The structure edited, when it is in the plan and a tool is in hand.
    fn editing(&self, doc: &DocWriter) -> Option<u64> {
        let id = self.target?;
        (self.mode != EditMode::Off && doc.plan().structures.iter().any(|s| s.id == id))
            .then_some(id)
    }

    fn brush(&self) -> (f64, Option<ValueRange>) {
        let (lo, hi) = (
            self.range.0.min(self.range.1),
            self.range.0.max(self.range.1),
        );
        (
            self.radius_mm,
            self.only_range.then(|| ValueRange::new(lo, hi)),
        )
    }
}

/// Appends `edit` to structure `id`'s recipe: one undoable step.
fn commit(doc: &mut DocWriter, id: u64, edit: MaskEdit) {
    let Some(s) = doc.plan().structures.iter().find(|s| s.id == id) else {
        return;
    };
    let mut recipe = s.recipe.clone();
    recipe.edits.push(edit);
    doc.edit(Command::SetRecipe { id, recipe });
}

/// The editor's panel: which structure, which tool, the brush, the structure's edits.
pub fn edit_panel(ui: &mut egui::Ui, ws: &Workspace, doc: &mut DocWriter, et: &mut EditTool) {
    egui::CollapsingHeader::new(RichText::new("Edit structure").heading())
        .id_salt("edit-structure")
        .default_open(false)
        .show(ui, |ui| edit_panel_body(ui, ws, doc, et));
}

fn edit_panel_body(ui: &mut egui::Ui, ws: &Workspace, doc: &mut DocWriter, et: &mut EditTool) {
    if ws.loaded.is_none() {
        ui.label("Load a series first.");
        return;
    }
    let structures = doc.plan().structures.clone();
    if structures.is_empty() {
        ui.label("No structure to edit: add one above.");
        return;
    }
    if et
        .target
        .is_none_or(|id| !structures.iter().any(|s| s.id == id))
    {
        // The newest grown structure (a path's lumen, most often), else the newest.
        et.target = structures
            .iter()
            .rev()
            .find(|s| !s.recipe.seeds_mm.is_empty())
            .or(structures.last())
            .map(|s| s.id);
        et.stroke.clear();
        et.lasso.clear();
    }
    let Some(target) = structures.iter().find(|s| Some(s.id) == et.target) else {
        return;
    };
    ui.horizontal(|ui| {
        ui.label("Structure");
        egui::ComboBox::from_id_salt("edit-target")
            .selected_text(&target.recipe.name)
            .show_ui(ui, |ui| {
                for s in &structures {
                    ui.selectable_value(&mut et.target, Some(s.id), &s.recipe.name);
                }
            });
    });
    ui.horizontal_wrapped(|ui| {
        for m in EditMode::ALL {
            if ui.selectable_label(et.mode == m, m.name()).clicked() {
                et.mode = m;
                et.stroke.clear();
                et.lasso.clear();
            }
        }
    });
    let unit = if ws.is_ct() { "HU" } else { "values" };
    match et.mode {
        EditMode::Paint | EditMode::Erase => {
            ui.add(
                egui::Slider::new(&mut et.radius_mm, 0.5..=25.0)
                    .logarithmic(true)
                    .text("brush radius (mm)")
                    .fixed_decimals(1),
            );
            ui.horizontal(|ui| {
                ui.checkbox(&mut et.only_range, "Only values")
                    .on_hover_text(
                        "Change only the voxels whose values lie in this range (the brush \
                         then follows the vessel's wall)",
                    );
                ui.add_enabled(
                    et.only_range,
                    egui::DragValue::new(&mut et.range.0).speed(5.0),
                );
                ui.label("to");
                ui.add_enabled(
                    et.only_range,
                    egui::DragValue::new(&mut et.range.1).speed(5.0),
                );
                ui.label(unit);
            });
        }
        EditMode::Scissors => {
            ui.horizontal(|ui| {
                ui.radio_value(&mut et.keep_inside, false, "Remove inside");
                ui.radio_value(&mut et.keep_inside, true, "Keep inside");
            });
        }
        EditMode::Islands => {
            ui.horizontal(|ui| {
                ui.label("Remove islands below");
                ui.add(
                    egui::DragValue::new(&mut et.min_island_ml)
                        .speed(0.1)
                        .range(0.01..=1000.0)
                        .suffix(" mL"),
                );
                if ui.button("Remove").clicked() {
                    commit(
                        doc,
                        target.id,
                        MaskEdit::RemoveIslandsBelow {
                            ml: et.min_island_ml,
                        },
                    );
                }
            });
        }
        EditMode::Off => {}
    }
    ui.label(
        RichText::new(et.mode.hint())
            .size(12.0)
            .color(Color32::from_gray(170)),
    );
    let edits = &target.recipe.edits;
    ui.horizontal(|ui| {
        let text = if edits.is_empty() {
            "No hand edits.".to_string()
        } else {
            let last = edits.last().map_or("", |e| e.name());
            format!(
                "{} hand edit{} (last: {last}); Ctrl+Z undoes one.",
                edits.len(),
                if edits.len() == 1 { "" } else { "s" }
            )
        };
        ui.label(RichText::new(text).size(12.0));
        if !edits.is_empty() && ui.small_button("Clear").clicked() {
            let mut recipe = target.recipe.clone();
            recipe.edits.clear();
            doc.edit(Command::SetRecipe {
                id: target.id,
                recipe,
            });
        }
    });
}

/// The brush under the pointer and the stroke being drawn, over a slice view.
pub fn draw_on_slice(
    painter: &egui::Painter,
    et: &EditTool,
    doc: &DocWriter,
    g: &SliceGeometry,
    hover: Option<Pos2>,
) {
    if et.editing(doc).is_none() || !matches!(et.mode, EditMode::Paint | EditMode::Erase) {
        return;
    }
    let colour = if et.mode == EditMode::Paint {
        Color32::from_rgb(120, 230, 120)
    } else {
        Color32::from_rgb(250, 110, 90)
    };
    let px = (et.radius_mm / g.slice.pixel_mm * g.map.scale) as f32;
    let screen = |p: &P| {
        let (u, v) = g.slice.pixel_of(&nalgebra::Point3::from(*p));
        let (x, y) = g.map.screen_of(u, v);
        Pos2::new(x as f32, y as f32)
    };
    if et.stroke.len() > 1 {
        let points: Vec<Pos2> = et.stroke.iter().map(screen).collect();
        painter.add(egui::Shape::line(
            points,
            Stroke::new(2.0 * px, colour.gamma_multiply(0.35)),
        ));
    }
    if let Some(p) = et.stroke.first() {
        painter.circle_filled(screen(p), px, colour.gamma_multiply(0.35));
    }
    if let Some(h) = hover {
        painter.circle_stroke(h, px, Stroke::new(1.5, colour));
    }
}

/// Input on a slice view for the editor: a stroke painted or erased, an island picked.
/// True when it took the input (the view then does not move the cursor).
pub fn slice_input(
    ui: &egui::Ui,
    response: &egui::Response,
    doc: &mut DocWriter,
    et: &mut EditTool,
    g: &SliceGeometry,
) -> bool {
    let Some(id) = et.editing(doc) else {
        return false;
    };
    let (primary, shift) = ui.input(|i| (i.pointer.primary_down(), i.modifiers.shift));
    let patient = |pos: Pos2| {
        let p = g
            .map
            .patient_at_screen(g.slice, f64::from(pos.x), f64::from(pos.y));
        [p.x, p.y, p.z]
    };
    match et.mode {
        EditMode::Paint | EditMode::Erase => {
            if shift {
                return false;
            }
            let (radius, only) = et.brush();
            let paint = et.mode == EditMode::Paint;
            if response.drag_started() && primary {
                et.stroke.clear();
                if let Some(pos) = ui.input(|i| i.pointer.press_origin()) {
                    et.stroke.push(patient(pos));
                }
            }
            if response.dragged()
                && primary
                && let Some(pos) = response.interact_pointer_pos()
            {
                let p = patient(pos);
                // Samples a third of the radius apart: the capsules between them leave no
                // gap, and a slow drag does not pile up points.
                let far = et.stroke.last().is_none_or(|q| {
                    (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f64>().sqrt() >= radius / 3.0
                });
                if far {
                    et.stroke.push(p);
                }
                ui.ctx().request_repaint();
                return true;
            }
            if response.drag_stopped() {
                let points = std::mem::take(&mut et.stroke);
                if let Some(edit) = MaskEdit::stroke(paint, &points, radius, only) {
                    commit(doc, id, edit);
                }
                return true;
            }
            if response.clicked()
                && let Some(pos) = response.interact_pointer_pos()
            {
                if let Some(edit) = MaskEdit::stroke(paint, &[patient(pos)], radius, only) {
                    commit(doc, id, edit);
                }
                return true;
            }
            response.is_pointer_button_down_on() && primary
        }
        EditMode::Islands => {
            if response.clicked()
                && !shift
                && let Some(pos) = response.interact_pointer_pos()
            {
                commit(
                    doc,
                    id,
                    MaskEdit::KeepIslandAt {
                        point_lps_mm: patient(pos),
                    },
                );
                return true;
            }
            false
        }
        EditMode::Scissors | EditMode::Off => false,
    }
}

/// The scissors outline being drawn over the 3D view.
pub fn draw_on_3d(painter: &egui::Painter, et: &EditTool) {
    if et.mode != EditMode::Scissors || et.lasso.len() < 2 {
        return;
    }
    let colour = if et.keep_inside {
        Color32::from_rgb(120, 230, 120)
    } else {
        Color32::from_rgb(250, 200, 80)
    };
    let mut points = et.lasso.clone();
    if let Some(first) = points.first().copied() {
        points.push(first);
    }
    painter.add(egui::Shape::line(points, Stroke::new(2.0, colour)));
}

/// Input on the 3D view for the editor: the scissors outline drawn with the primary button
/// and cut when it is let go. True when it took the input (the camera then does not turn).
pub fn input_3d(
    ui: &egui::Ui,
    response: &egui::Response,
    view: &ViewState,
    doc: &mut DocWriter,
    et: &mut EditTool,
    r: egui::Rect,
) -> bool {
    let Some(id) = et.editing(doc) else {
        return false;
    };
    if et.mode != EditMode::Scissors {
        return false;
    }
    let (primary, shift) = ui.input(|i| (i.pointer.primary_down(), i.modifiers.shift));
    if shift {
        return false;
    }
    if response.drag_started() && primary {
        et.lasso.clear();
        if let Some(pos) = ui.input(|i| i.pointer.press_origin()) {
            et.lasso.push(pos);
        }
    }
    if response.dragged()
        && primary
        && let Some(pos) = response.interact_pointer_pos()
    {
        if et.lasso.last().is_none_or(|q| q.distance(pos) >= 3.0) {
            et.lasso.push(pos);
        }
        ui.ctx().request_repaint();
        return true;
    }
    if response.drag_stopped() {
        let lasso = std::mem::take(&mut et.lasso);
        if let Some(edit) = scissors(view, &lasso, r, et.keep_inside) {
            commit(doc, id, edit);
        }
        return true;
    }
    response.is_pointer_button_down_on() && primary
}

/// The cut a screen outline makes: its points carried onto the plane through the camera's
/// target facing the camera, projected from the eye. None for fewer than three points.
fn scissors(
    view: &ViewState,
    lasso: &[Pos2],
    r: egui::Rect,
    keep_inside: bool,
) -> Option<MaskEdit> {
    if lasso.len() < 3 {
        return None;
    }
    let cam = &view.camera;
    let (w, h) = (f64::from(r.width()), f64::from(r.height()));
    let polygon: Option<Vec<P>> = lasso
        .iter()
        .map(|pos| {
            cam.at_depth_of(
                &cam.target_mm,
                f64::from(pos.x - r.min.x),
                f64::from(pos.y - r.min.y),
                w,
                h,
            )
            .map(|q| [q.x, q.y, q.z])
        })
        .collect();
    let eye = cam.eye_mm();
    let forward = cam.forward();
    Some(MaskEdit::Scissors {
        polygon_lps_mm: polygon?,
        view_dir: [forward.x, forward.y, forward.z],
        eye_lps_mm: Some([eye.x, eye.y, eye.z]),
        keep_inside,
    })
}
