//! Catheter paths as the plan keeps them: the vessel they run through, the entry, the
//! waypoints and the target the user placed (patient LPS mm), the device chosen, and what
//! was measured when the path was last planned (kept in the plan file so a reopened plan
//! shows its figures before anything is recomputed). Serialisable values only; planning
//! itself is [`crate::plan::path`], and the plan's edits ([`crate::plan::PlanEdit`]) swap
//! whole paths so an undo restores the figures with the points. No viewer, no I/O.

use serde::{Deserialize, Serialize};

use super::geometry::P;
use super::path::{Device, Fit, PathReport};
use crate::session::structures::Source;

/// The vessel a path runs through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A planned catheter path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Entry, waypoints and target in order, with the names errors use.
    pub fn stops(&self) -> Vec<(P, String)> {
        let mut out = vec![(self.entry_lps_mm, "entry".to_string())];
        for (n, w) in self.waypoints_lps_mm.iter().enumerate() {
            out.push((*w, format!("waypoint {}", n + 1)));
        }
        out.push((self.target_lps_mm, "target".to_string()));
        out
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
