//! The workstation's document without any UI: what is open (the scanned catalogue, the
//! loaded series and its patient banner), the structures surfaced from it, the 3D camera,
//! the view layout, and the background-work functions the viewer runs in tasks (open a
//! path, load a series, surface a structure).
//!
//! Everything here is plain data and functions over `dicom`, `nifti_io`, `volume`,
//! `surface` and `mesh`, testable headless. It must not depend on Bevy or egui: the `app`
//! module adapts it to the screen.

pub mod banner;
pub mod camera;
pub mod layout;
pub mod modality;
pub mod open;
pub mod prefs;
pub mod readout;
pub mod section;
pub mod structures;

/// How serious a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// A non-modal message for the user: one line, with details on demand. Never contains
/// patient identity (it is built from errors and warnings that carry none).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Notice {
    pub level: Level,
    pub summary: String,
    pub details: String,
}

impl Notice {
    pub fn new(level: Level, summary: impl Into<String>, details: impl Into<String>) -> Notice {
        Notice {
            level,
            summary: summary.into(),
            details: details.into(),
        }
    }
}
