//! Catheter paths as the plan keeps them: the vessel they run through, the entry, the
//! waypoints and the target the user placed (patient LPS mm), the device chosen, and what
//! was measured when the path was last planned (kept in the plan file so a reopened plan
//! shows its figures before anything is recomputed). Serialisable values only; planning
//! itself is [`crate::catheter`], and the plan's edits ([`crate::document::Command`]) swap
//! whole paths so an undo restores the figures with the points. No viewer, no I/O.

use serde::{Deserialize, Serialize};

use super::PlanStructure;
use crate::catheter::{Constraints, Device, Fit, LumenSpec, NoGo, PathReport};
use crate::geometry::P;
use crate::plan::recipe::{Recipe, Source};
use crate::progress::Progress;
use crate::segment::edit::MaskEdit;
use crate::volume::Volume;

/// The vessel a path runs through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PathVessel {
    /// A structure of the plan: its recipe says how the lumen is made.
    Structure { id: u64 },
    /// The voxels of these values connected to the seeds (the entry when there are none).
    Grown {
        source: Source,
        #[serde(default)]
        seeds_lps_mm: Vec<P>,
    },
}

/// How a path's lumen is made, all of it (what a kept lumen is compared with to know it is
/// still the one the plan asks for).
#[derive(Debug, Clone, PartialEq)]
pub struct LumenRecipe {
    pub spec: LumenSpec,
    /// The points it is grown from, besides the path's stops.
    pub seeds: Vec<P>,
    /// The vessel structure's hand edits.
    pub edits: Vec<MaskEdit>,
    /// The recipes of the structures no path enters.
    pub no_go: Vec<Recipe>,
    /// The floor: the narrowest lumen the path passes (mm).
    pub floor_mm: f64,
}

impl LumenRecipe {
    /// What the path must respect: the floor, the no-go structures' voxels (each built from
    /// its recipe on `volume`) and the hand edits. Err names a no-go structure that cannot
    /// be made.
    pub fn constraints(&self, volume: &Volume, progress: &Progress) -> Result<Constraints, String> {
        let mut no_go = Vec::with_capacity(self.no_go.len());
        for r in &self.no_go {
            let options = r
                .options()
                .ok_or_else(|| format!("the no-go structure {} has an unknown recipe", r.name))?;
            let mask = crate::surface::structure_mask(volume, &options, progress)
                .map_err(|e| format!("the no-go structure {} cannot be made: {e}", r.name))?;
            no_go.push(NoGo {
                name: r.name.clone(),
                voxels: mask.data,
            });
        }
        Ok(Constraints {
            no_go,
            edits: self.edits.clone(),
            min_diameter_mm: self.floor_mm,
        })
    }
}

/// A planned catheter path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CatheterPath {
    pub id: u64,
    pub name: String,
    pub vessel: PathVessel,
    pub entry_lps_mm: P,
    /// Points the path must pass, in order (to force a branch).
    #[serde(default)]
    pub waypoints_lps_mm: Vec<P>,
    pub target_lps_mm: P,
    /// The device whose fit is checked along the path.
    #[serde(default)]
    pub device: Option<Device>,
    /// The narrowest lumen the path may pass (mm), when raised above a 0.035-inch
    /// guidewire's (plan version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_diameter_mm: Option<f64>,
    /// Display colour, 0–1 sRGB.
    pub colour: [f32; 3],
    pub visible: bool,
    /// What was measured when the path was last planned through these points (None until
    /// it has been, or when the target could not be reached: see `problem`).
    #[serde(default)]
    pub report: Option<PathReport>,
    #[serde(default)]
    pub fit: Option<Fit>,
    /// Why the last planning found no path (the message names the gap), if it did not.
    #[serde(default)]
    pub problem: Option<String>,
}

impl CatheterPath {
    /// A visible path not planned yet through `stops` (entry, any waypoints, target; at
    /// least the entry), without a device.
    pub fn through(
        id: u64,
        name: String,
        vessel: PathVessel,
        stops: &[P],
        colour: [f32; 3],
    ) -> Self {
        let entry = stops.first().copied().unwrap_or_default();
        let target = stops.last().copied().unwrap_or(entry);
        CatheterPath {
            id,
            name,
            vessel,
            entry_lps_mm: entry,
            waypoints_lps_mm: stops
                .get(1..stops.len().saturating_sub(1))
                .unwrap_or_default()
                .to_vec(),
            target_lps_mm: target,
            device: None,
            min_diameter_mm: None,
            colour,
            visible: true,
            report: None,
            fit: None,
            problem: None,
        }
    }

    /// Entry, waypoints and target in order, with the names errors use.
    pub fn stops(&self) -> Vec<(P, String)> {
        let mut out = vec![(self.entry_lps_mm, "entry".to_string())];
        for (n, w) in self.waypoints_lps_mm.iter().enumerate() {
            out.push((*w, format!("waypoint {}", n + 1)));
        }
        out.push((self.target_lps_mm, "target".to_string()));
        out
    }

    /// How its lumen is made: the values it takes, the points it is grown from (the entry
    /// when there are none), its structure's hand edits and the plan's no-go structures
    /// (its own vessel aside). A structure's recipe is looked up among `structures` (the
    /// plan's); Err says why there is no lumen (the structure was removed, or it is drawn
    /// from the image's outline rather than from values).
    pub fn lumen_recipe(&self, structures: &[PlanStructure]) -> Result<LumenRecipe, String> {
        let (range, seeds, name, edits, own) = match &self.vessel {
            PathVessel::Structure { id } => {
                let s = structures
                    .iter()
                    .find(|s| s.id == *id)
                    .ok_or("the vessel structure it was planned in is no longer in the plan")?;
                (
                    s.recipe.source.lumen_spec(),
                    s.recipe.seeds_mm.clone(),
                    s.recipe.name.clone(),
                    s.recipe.edits.clone(),
                    Some(*id),
                )
            }
            PathVessel::Grown {
                source,
                seeds_lps_mm,
            } => (
                source.lumen_spec(),
                seeds_lps_mm.clone(),
                vessel_source_name(source),
                Vec::new(),
                None,
            ),
        };
        let spec = range.ok_or_else(|| {
            format!("{name} is not made of image values, so it has no lumen to plan in")
        })?;
        let seeds = if seeds.is_empty() {
            vec![self.entry_lps_mm]
        } else {
            seeds
        };
        let no_go = structures
            .iter()
            .filter(|s| s.recipe.no_go && Some(s.id) != own)
            .map(|s| s.recipe.clone())
            .collect();
        Ok(LumenRecipe {
            spec,
            seeds,
            edits,
            no_go,
            floor_mm: self
                .min_diameter_mm
                .filter(|d| d.is_finite() && *d > 0.0)
                .unwrap_or(crate::catheter::GUIDEWIRE_MM),
        })
    }

    /// The vessel's name for the panel ("vessels, grown from the entry", a structure's name).
    pub fn vessel_label(&self, structures: &[PlanStructure]) -> String {
        match &self.vessel {
            PathVessel::Structure { id } => structures
                .iter()
                .find(|s| s.id == *id)
                .map_or_else(|| "a removed structure".into(), |s| s.recipe.name.clone()),
            PathVessel::Grown {
                source,
                seeds_lps_mm,
            } => {
                let name = vessel_source_name(source);
                if seeds_lps_mm.is_empty() {
                    format!("{name}, grown from the entry")
                } else {
                    let n = seeds_lps_mm.len();
                    format!(
                        "{name}, grown from {n} seed{}",
                        if n == 1 { "" } else { "s" }
                    )
                }
            }
        }
    }

    /// Moves stop `index` (in the order of [`CatheterPath::stops`]) to `p`; false when
    /// there is no such stop.
    pub fn set_stop(&mut self, index: usize, p: P) -> bool {
        let n = self.waypoints_lps_mm.len();
        let stop = match index {
            0 => Some(&mut self.entry_lps_mm),
            i if i == n + 1 => Some(&mut self.target_lps_mm),
            i => self.waypoints_lps_mm.get_mut(i - 1),
        };
        stop.map(|s| *s = p).is_some()
    }

    /// Whether every placed point is a finite position.
    pub fn is_finite(&self) -> bool {
        self.stops()
            .iter()
            .all(|(p, _)| p.iter().all(|c| c.is_finite()))
    }

    /// The one-line summary the plan panel and `plan-info` show.
    pub fn label(&self) -> String {
        match (&self.report, &self.problem) {
            (Some(r), _) => {
                let mut s = format!(
                    "{:.1} mm, narrowest {:.1} mm, tortuosity {:.2}",
                    r.length_mm, r.min_lumen_diameter_mm, r.tortuosity
                );
                if let Some(f) = &self.fit {
                    s.push_str(&format!(", SFAR {:.2}", f.max_sfar));
                }
                s
            }
            (None, Some(p)) => format!("no path: {p}"),
            (None, None) => "not planned yet".into(),
        }
    }
}

/// A vessel source's name: the preset's, or the range's values.
fn vessel_source_name(source: &Source) -> String {
    match source {
        Source::Preset { preset, .. } => preset.replace('_', " "),
        Source::Range { lo, hi } => format!("values {lo}..{hi}"),
        Source::Outline => "the body outline".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::recipe::Recipe;
    use crate::segment::ValueRange;

    fn path(vessel: PathVessel) -> CatheterPath {
        let stops = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        let p = CatheterPath::through(7, "Path 1".into(), vessel, &stops, [1.0, 0.0, 0.0]);
        assert_eq!(p.stops().len(), 3);
        assert_eq!(p.waypoints_lps_mm, vec![[4.0, 5.0, 6.0]]);
        p
    }

    #[test]
    fn each_stop_is_set_by_its_index_in_stops() {
        let mut p = path(PathVessel::Structure { id: 1 });
        for (i, q) in [[0.0; 3], [1.0; 3], [2.0; 3]].iter().enumerate() {
            assert!(p.set_stop(i, *q));
            assert_eq!(p.stops()[i].0, *q);
        }
        assert!(!p.set_stop(3, [9.0; 3]));
        assert_eq!(p.stops().len(), 3);
    }

    fn structure(id: u64, recipe: Recipe) -> PlanStructure {
        PlanStructure {
            id,
            recipe,
            visible: true,
        }
    }

    #[test]
    fn a_paths_lumen_comes_from_its_structure_or_its_own_recipe() {
        use crate::segment::Preset;
        let seeded = Recipe::preset(Preset::Vessels).with_seeds(vec![[0.0, 0.0, -130.0]]);
        // The vessels preset measures the vessel's own values.
        let spec = seeded.source.lumen_spec().expect("a lumen");
        assert_eq!(spec, LumenSpec::Auto);
        let mut seeded = seeded;
        let erase = MaskEdit::stroke(false, &[[1.0, 1.0, 1.0]], 3.0, None).expect("a dab");
        seeded.edits = vec![erase.clone()];
        let mut false_lumen = Recipe::range("false lumen", 100.0, 200.0);
        false_lumen.no_go = true;
        let structures = vec![
            structure(3, Recipe::preset(Preset::Bone)),
            structure(4, seeded),
            structure(5, Recipe::outline()),
            structure(6, false_lumen.clone()),
        ];
        // A structure: its range, its seeds and its hand edits; the no-go structures.
        let p = path(PathVessel::Structure { id: 4 });
        assert_eq!(
            p.lumen_recipe(&structures),
            Ok(LumenRecipe {
                spec,
                seeds: vec![[0.0, 0.0, -130.0]],
                edits: vec![erase],
                no_go: vec![false_lumen.clone()],
                floor_mm: crate::catheter::GUIDEWIRE_MM,
            })
        );
        // A path in the no-go structure itself is not kept out of its own vessel.
        let inside = path(PathVessel::Structure { id: 6 });
        assert!(
            inside
                .lumen_recipe(&structures)
                .is_ok_and(|r| r.no_go.is_empty())
        );
        assert_eq!(p.vessel_label(&structures), "vessels");
        // An unseeded one grows from the entry.
        let bone = path(PathVessel::Structure { id: 3 });
        let r = bone.lumen_recipe(&structures).expect("a lumen");
        assert_eq!(r.spec, LumenSpec::Range(Preset::Bone.range()));
        assert_eq!(r.seeds, vec![[1.0, 2.0, 3.0]]);
        assert!(r.edits.is_empty());
        // Removed, or not made of values: said, not guessed.
        let gone = path(PathVessel::Structure { id: 9 });
        assert!(
            gone.lumen_recipe(&structures)
                .is_err_and(|e| e.contains("no longer"))
        );
        assert_eq!(gone.vessel_label(&structures), "a removed structure");
        let outline = path(PathVessel::Structure { id: 5 });
        assert!(
            outline
                .lumen_recipe(&structures)
                .is_err_and(|e| e.contains("not made of image values"))
        );
        // Its own recipe.
        let grown = path(PathVessel::Grown {
            source: Source::Range {
                lo: 150.0,
                hi: 700.0,
            },
            seeds_lps_mm: vec![[9.0, 9.0, 9.0]],
        });
        assert_eq!(
            grown.lumen_recipe(&[]),
            Ok(LumenRecipe {
                spec: LumenSpec::Range(ValueRange::new(150.0, 700.0)),
                seeds: vec![[9.0, 9.0, 9.0]],
                edits: Vec::new(),
                no_go: Vec::new(),
                floor_mm: crate::catheter::GUIDEWIRE_MM,
            })
        );
        assert_eq!(
            grown.vessel_label(&[]),
            "values 150..700, grown from 1 seed"
        );
    }
}
