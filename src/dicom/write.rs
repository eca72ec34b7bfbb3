//! Writing a volume as a CT image series (one file per slice, explicit VR little endian).
//!
//! Used for the phantom and the bundled sample; later for exports. Stored samples are
//! unsigned 12-bit with RescaleIntercept −1024 so readers must apply the Modality LUT, as
//! with most real CT. UIDs are derived from a caller-given seed, so a regenerated series is
//! byte-identical. File names carry no patient identity.

use std::path::{Path, PathBuf};

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use rayon::prelude::*;

use super::header::PatientIdentity;
use crate::progress::Progress;
use crate::volume::Volume;

/// What goes into the headers besides the voxels.
#[derive(Debug, Clone)]
pub struct CtSeriesOptions {
    pub patient: PatientIdentity,
    pub study_date: String,
    pub study_description: String,
    pub series_description: String,
    pub series_number: i32,
    /// Seed for the study/series/instance UIDs.
    pub uid_seed: String,
    /// Further attributes written into every file (tag, VR, text value), after the rest.
    pub extra: Vec<(Tag, VR, String)>,
}

impl Default for CtSeriesOptions {
    fn default() -> Self {
        CtSeriesOptions {
            patient: PatientIdentity::default(),
            study_date: "20260101".into(),
            study_description: String::new(),
            series_description: String::new(),
            series_number: 1,
            uid_seed: "twinplan".into(),
            extra: Vec::new(),
        }
    }
}

impl CtSeriesOptions {
    pub fn with_patient(mut self, patient: PatientIdentity) -> Self {
        self.patient = patient;
        self
    }
    pub fn with_series_description(mut self, d: impl Into<String>) -> Self {
        self.series_description = d.into();
        self
    }
    pub fn with_uid_seed(mut self, seed: impl Into<String>) -> Self {
        self.uid_seed = seed.into();
        self
    }
    pub fn with_study_description(mut self, d: impl Into<String>) -> Self {
        self.study_description = d.into();
        self
    }
    /// Writes one more text attribute into every file (overriding one set before).
    pub fn with_attribute(mut self, tag: Tag, vr: VR, value: impl Into<String>) -> Self {
        self.extra.push((tag, vr, value.into()));
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write ({message}): {path}")]
    Io { message: String, path: PathBuf },
    #[error("cannot encode DICOM ({message}): {path}")]
    Encode { message: String, path: PathBuf },
    #[error("writing was cancelled")]
    Cancelled,
}

/// A `2.25.` UID (UUID-derived form) from a 128-bit hash of `seed` and `part`.
pub fn derived_uid(seed: &str, part: &str) -> String {
    // Two independent 64-bit FNV-1a hashes give 128 bits; plenty for uniqueness here.
    let fnv = |basis: u64| {
        let mut h = basis;
        for b in seed.bytes().chain([0u8]).chain(part.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let v = (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4));
    format!("2.25.{v}")
}

/// A decimal string (DS) of at most 16 characters, as exact as that allows.
pub fn format_ds(v: f64) -> String {
    let s = format!("{v}");
    if s.len() <= 16 {
        return s;
    }
    for prec in (0..=12).rev() {
        let s = format!("{v:.prec$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.3e}")
}

fn ds(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::Strs(values.iter().map(|v| format_ds(*v)).collect())
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

/// Writes `volume` (values in HU) as a CT series into `dir`, one file per slice, named by
/// `file_name(k)`. Returns the written paths in slice order.
pub fn write_ct_series(
    volume: &Volume,
    dir: &Path,
    options: &CtSeriesOptions,
    file_name: &(dyn Fn(usize) -> String + Sync),
    progress: &Progress,
) -> Result<Vec<PathBuf>, WriteError> {
    let g = &volume.geometry;
    let [ni, nj, nk] = g.dims;
    if ni > usize::from(u16::MAX) || nj > usize::from(u16::MAX) {
        return Err(WriteError::Encode {
            message: format!("{ni}x{nj} pixels exceed DICOM's 65535 rows/columns"),
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| WriteError::Io {
        message: e.kind().to_string(),
        path: dir.to_path_buf(),
    })?;
    let study_uid = derived_uid(&options.uid_seed, "study");
    let series_uid = derived_uid(&options.uid_seed, "series");
    let frame_uid = derived_uid(&options.uid_seed, "frame-of-reference");
    let (i_axis, j_axis) = (g.axis(0), g.axis(1));
    progress.set_total(nk as u64);
    (0..nk)
        .into_par_iter()
        .map(|k| {
            if progress.is_cancelled() {
                return Err(WriteError::Cancelled);
            }
            let path = dir.join(file_name(k));
            let sop_uid = derived_uid(&options.uid_seed, &format!("image-{k}"));
            let mut obj = InMemDicomObject::new_empty();
            put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &sop_uid);
            put_study_and_series(&mut obj, options, [&study_uid, &series_uid], g);
            obj.put(DataElement::new(
                tags::INSTANCE_NUMBER,
                VR::IS,
                PrimitiveValue::from((k + 1).to_string()),
            ));
            let p = g.patient_from_ijk([0.0, 0.0, k as f64]);
            obj.put(DataElement::new(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                ds(&[p.x, p.y, p.z]),
            ));
            obj.put(DataElement::new(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                ds(&[i_axis.x, i_axis.y, i_axis.z, j_axis.x, j_axis.y, j_axis.z]),
            ));
            put_str(&mut obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, &frame_uid);
            obj.put(DataElement::new(tags::SLICE_LOCATION, VR::DS, ds(&[p.z])));
            put_pixel_description(&mut obj, g);
            for (tag, vr, value) in &options.extra {
                put_str(&mut obj, *tag, *vr, value);
            }
            let plane = volume.voxels.index_axis(ndarray::Axis(0), k);
            let stored: Vec<u16> = plane
                .iter()
                .map(|&hu| (i32::from(hu) + 1024).clamp(0, 4095) as u16)
                .collect();
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(stored.into()),
            ));
            let meta = FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
                .media_storage_sop_instance_uid(sop_uid.as_str())
                .implementation_class_uid(derived_uid("twinplan", "implementation"))
                .implementation_version_name("TWINPLAN_0_1")
                .build()
                .map_err(|e| WriteError::Encode {
                    message: e.to_string(),
                    path: path.clone(),
                })?;
            let file_obj = obj.with_exact_meta(meta);
            // Encoded in memory, then written atomically: a full disk leaves no
            // empty or half-written slice behind.
            let mut bytes = Vec::new();
            file_obj
                .write_all(&mut bytes)
                .map_err(|e| WriteError::Encode {
                    message: e.to_string(),
                    path: path.clone(),
                })?;
            crate::fsutil::write_atomic(&path, &bytes).map_err(|e| WriteError::Io {
                message: e.kind().to_string(),
                path: path.clone(),
            })?;
            progress.inc(1);
            Ok(path)
        })
        .collect()
}

/// The patient, study and series elements every slice of the series shares.
fn put_study_and_series(
    obj: &mut InMemDicomObject,
    options: &CtSeriesOptions,
    [study_uid, series_uid]: [&str; 2],
    g: &crate::volume::Geometry,
) {
    put_str(obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100");
    put_str(obj, tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL");
    put_str(obj, tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE);
    put_str(obj, tags::STUDY_DATE, VR::DA, &options.study_date);
    put_str(obj, tags::SERIES_DATE, VR::DA, &options.study_date);
    put_str(obj, tags::MODALITY, VR::CS, "CT");
    put_str(obj, tags::MANUFACTURER, VR::LO, "twinplan phantom");
    put_str(
        obj,
        tags::STUDY_DESCRIPTION,
        VR::LO,
        &options.study_description,
    );
    put_str(
        obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        &options.series_description,
    );
    put_str(obj, tags::PATIENT_NAME, VR::PN, &options.patient.name);
    put_str(obj, tags::PATIENT_ID, VR::LO, &options.patient.id);
    put_str(
        obj,
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        &options.patient.birth_date,
    );
    put_str(
        obj,
        tags::BODY_PART_EXAMINED,
        VR::CS,
        "CHEST_ABDOMEN_PELVIS",
    );
    put_str(obj, tags::KVP, VR::DS, "120");
    obj.put(DataElement::new(
        tags::SLICE_THICKNESS,
        VR::DS,
        ds(&[g.spacing_mm[2]]),
    ));
    put_str(obj, tags::PATIENT_POSITION, VR::CS, "FFS");
    put_str(obj, tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
    put_str(obj, tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
    put_str(obj, tags::STUDY_ID, VR::SH, "1");
    obj.put(DataElement::new(
        tags::SERIES_NUMBER,
        VR::IS,
        PrimitiveValue::from(options.series_number.to_string()),
    ));
}

/// The image pixel description: one 12-bit sample stored in 16, rows and columns, spacing,
/// the display window and the rescale to HU.
fn put_pixel_description(obj: &mut InMemDicomObject, g: &crate::volume::Geometry) {
    let [ni, nj, _] = g.dims;
    obj.put(DataElement::new(
        tags::SAMPLES_PER_PIXEL,
        VR::US,
        PrimitiveValue::from(1u16),
    ));
    put_str(obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(nj as u16),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(ni as u16),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_SPACING,
        VR::DS,
        ds(&[g.spacing_mm[1], g.spacing_mm[0]]),
    ));
    obj.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(16u16),
    ));
    obj.put(DataElement::new(
        tags::BITS_STORED,
        VR::US,
        PrimitiveValue::from(12u16),
    ));
    obj.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(11u16),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(0u16),
    ));
    obj.put(DataElement::new(tags::WINDOW_CENTER, VR::DS, ds(&[40.0])));
    obj.put(DataElement::new(tags::WINDOW_WIDTH, VR::DS, ds(&[400.0])));
    obj.put(DataElement::new(
        tags::RESCALE_INTERCEPT,
        VR::DS,
        ds(&[-1024.0]),
    ));
    obj.put(DataElement::new(tags::RESCALE_SLOPE, VR::DS, ds(&[1.0])));
    put_str(obj, tags::RESCALE_TYPE, VR::LO, "HU");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_fits_and_round_trips() {
        for v in [0.7421875, -190.0, 1.0 / 3.0, -123.456789012345, 1e-7, 0.0] {
            let s = format_ds(v);
            assert!(s.len() <= 16, "{s}");
            let back: f64 = s.parse().expect("parses");
            assert!((back - v).abs() <= 1e-9 * v.abs().max(1.0), "{v} → {s}");
        }
    }

    #[test]
    fn uids_are_valid_and_distinct() {
        let a = derived_uid("seed", "image-1");
        let b = derived_uid("seed", "image-2");
        assert_ne!(a, b);
        assert!(a.len() <= 64);
        assert!(a.chars().all(|c| c.is_ascii_digit() || c == '.'));
    }
}
