//! A structure's recipe: how its surface is made from the volume (a named preset, a value
//! range or the body outline; seeds to grow from; colour, opacity and triangle budget).
//! Part of the plan document (the plan file stores recipes, never meshes); running one is
//! `session::structures::build`. Serialisable values only: no I/O, no viewer.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

use crate::segment::{Preset, ValueRange};
use crate::surface::{Selection, SurfaceOptions};

/// What to segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A named preset (see `segment::Preset`), optionally from a higher lower bound (bone
    /// in a CT angiogram starts above the contrast-enhanced blood).
    Preset {
        preset: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_hu: Option<f64>,
    },
    /// A value range in real units (HU for CT).
    Range { lo: f64, hi: f64 },
    /// The body outline at an automatic (Otsu) threshold: any modality, MR's default.
    Outline,
}

impl Source {
    /// The value range it selects (None for the outline, whose threshold is the image's,
    /// and for an unknown preset).
    pub fn range(&self) -> Option<ValueRange> {
        match self {
            Source::Preset { preset, min_hu } => Preset::from_name(preset).map(|p| {
                let r = p.range();
                ValueRange::new(min_hu.map_or(r.lo, |m| m.max(r.lo)), r.hi)
            }),
            Source::Range { lo, hi } => Some(ValueRange::new(*lo, *hi)),
            Source::Outline => None,
        }
    }

    /// How a path's lumen is grown from it: the vessels preset (unchanged) measures the
    /// vessel's own values around the seeds; any other preset or range is taken as given.
    /// None for the outline.
    pub fn lumen_spec(&self) -> Option<crate::catheter::LumenSpec> {
        use crate::catheter::LumenSpec;
        match self {
            Source::Preset {
                preset,
                min_hu: None,
            } if preset == Preset::Vessels.name() => Some(LumenSpec::Auto),
            _ => self.range().map(LumenSpec::Range),
        }
    }
}

/// How a structure is made from the volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recipe {
    pub name: String,
    pub source: Source,
    /// Grow from these points (patient mm) instead of taking every voxel in range.
    pub seeds_mm: Vec<[f64; 3]>,
    /// Linear sRGB-ish display colour, 0–1.
    pub colour: [f32; 3],
    pub opacity: f32,
    /// Decimate to at most this many triangles (None = [`TRIANGLE_BUDGET`]).
    #[serde(default)]
    pub max_triangles: Option<usize>,
    /// Hand edits replayed on the mask, in order (plan version 3; strokes and scissors 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<crate::segment::edit::MaskEdit>,
    /// No catheter path enters it (a false lumen, a thrombus, a stent-graft to avoid; plan
    /// version 4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_go: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Default colours and opacities, chosen to read well together (bone ivory, vessels red,
/// skin translucent).
pub fn preset_look(preset: Preset) -> ([f32; 3], f32) {
    match preset {
        Preset::Bone => ([0.90, 0.86, 0.74], 1.0),
        Preset::Vessels => ([0.80, 0.12, 0.10], 1.0),
        Preset::Skin => ([0.86, 0.66, 0.55], 0.25),
        Preset::Lung => ([0.55, 0.70, 0.90], 0.45),
        Preset::SoftTissue => ([0.75, 0.45, 0.40], 0.5),
    }
}

impl Recipe {
    pub fn preset(preset: Preset) -> Recipe {
        let (colour, opacity) = preset_look(preset);
        Recipe {
            name: preset.name().replace('_', " "),
            source: Source::Preset {
                preset: preset.name().into(),
                min_hu: None,
            },
            seeds_mm: Vec::new(),
            colour,
            opacity,
            max_triangles: None,
            edits: Vec::new(),
            no_go: false,
        }
    }

    pub fn range(name: &str, lo: f64, hi: f64) -> Recipe {
        Recipe {
            name: name.into(),
            source: Source::Range { lo, hi },
            seeds_mm: Vec::new(),
            colour: [0.35, 0.65, 0.85],
            opacity: 1.0,
            max_triangles: None,
            edits: Vec::new(),
            no_go: false,
        }
    }

    /// The head or body outline at an automatic threshold (the MR default).
    pub fn outline() -> Recipe {
        let (colour, opacity) = preset_look(Preset::Skin);
        Recipe {
            name: "outline".into(),
            source: Source::Outline,
            seeds_mm: Vec::new(),
            colour,
            opacity: opacity.max(0.35),
            max_triangles: None,
            edits: Vec::new(),
            no_go: false,
        }
    }

    pub fn with_seeds(mut self, seeds: Vec<[f64; 3]>) -> Recipe {
        self.seeds_mm = seeds;
        self
    }

    /// The value range the recipe selects.
    pub fn range_of(&self) -> Option<ValueRange> {
        self.source.range()
    }

    /// Whether the recipe thresholds in HU, so makes sense only for CT.
    pub fn needs_hu(&self) -> bool {
        matches!(self.source, Source::Preset { .. })
    }

    /// Smooth shells need far fewer triangles than bone to look the same.
    fn default_budget(&self) -> usize {
        match &self.source {
            Source::Preset { preset, .. } if preset == "skin" => TRIANGLE_BUDGET / 4,
            Source::Preset { preset, .. } if preset == "lung" => TRIANGLE_BUDGET / 2,
            Source::Outline => TRIANGLE_BUDGET / 4,
            _ => TRIANGLE_BUDGET,
        }
    }

    /// The surface chain this recipe runs (None for an unknown preset).
    pub fn options(&self) -> Option<SurfaceOptions> {
        let selection = match &self.source {
            // Seeded vessels: the lumen a path would be planned in.
            Source::Preset {
                preset,
                min_hu: None,
            } if preset == Preset::Vessels.name() && !self.seeds_mm.is_empty() => Selection::Lumen,
            Source::Preset {
                preset,
                min_hu: None,
            } => Selection::Preset(Preset::from_name(preset)?),
            Source::Preset { preset, .. } => {
                Selection::PresetIn(Preset::from_name(preset)?, self.range_of()?)
            }
            Source::Range { lo, hi } => Selection::Range(ValueRange::new(*lo, *hi)),
            Source::Outline => Selection::Outline,
        };
        let seeded = !self.seeds_mm.is_empty();
        let mut o = SurfaceOptions::new(selection)
            .with_seeds(self.seeds_mm.iter().map(|p| Point3::from(*p)).collect())
            // Seeded structures follow the intensities (sub-voxel); masks get Taubin to
            // remove voxel stairs without shrinking.
            .with_smoothing(if seeded { 4 } else { 12 })
            .with_target_triangles(Some(
                self.max_triangles.unwrap_or_else(|| self.default_budget()),
            ));
        o.min_island_triangles = 40;
        o.edits = self.edits.clone();
        Some(o)
    }
}

/// Triangles per structure kept for display (software rasterizers stay interactive).
pub const TRIANGLE_BUDGET: usize = 400_000;
