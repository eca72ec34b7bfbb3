//! Catheter path planning through the patient's vessels, the core of it (Bevy-free): a
//! vessel's lumen and its exact distance to the wall ([`edt`]), and the centred path
//! between an entry, waypoints and a target that never leaves the lumen ([`search`]): a
//! target it cannot reach is reported with the nearest reachable point and the gap, never
//! joined by a straight line; its measures along the way ([`metrics`], [`section`]) and
//! whether a device fits ([`devices`]). Works on segmentation masks in the volume's voxel grid and
//! answers in patient LPS mm; knows nothing of windows, files or patient identity.

pub mod devices;
pub mod edt;
pub mod metrics;
pub mod search;
pub mod section;

pub use devices::{Catalogue, Device, Fit, fit};
pub use metrics::{Bend, PathReport, measure};
pub use search::{Lumen, PathError, SNAP_TOLERANCE_MM, Tree, VoxelPath};
