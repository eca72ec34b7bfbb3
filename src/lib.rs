//! twinplan: a surgical-planning workstation's core.
//!
//! The core (everything here but the viewer) turns DICOM and NIfTI into volumes with exact
//! patient geometry and, in later modules, into surfaces, measurements and plans. It must
//! build and test without Bevy: the viewer (`app`) lives behind the `viewer` feature and
//! is the only module that may use Bevy or egui.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
pub mod catheter;
pub mod deid;
pub mod dicom;
pub mod document;
pub mod dvr;
pub mod fsutil;
pub mod geometry;
pub mod memory;
pub mod mesh;
pub mod nifti_io;
pub mod package;
pub mod phantom;
pub mod plan;
pub mod privacy;
pub mod progress;
pub mod segment;
pub mod session;
pub mod surface;
pub mod volume;
pub mod work;

#[cfg(feature = "viewer")]
pub mod app;
