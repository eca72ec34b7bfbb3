//! Reading what we need of one DICOM file's header (everything before the pixel data).
//!
//! One function, [`read_header`], turns a path into an [`ImageHeader`] or a one-line
//! [`SkipReason`]. It reads files with or without the 128-byte preamble and, as a last
//! resort, raw data sets with no file meta group at all. Per-frame geometry of enhanced
//! multi-frame objects is taken from the functional group sequences. Patient identity is
//! kept only in [`PatientIdentity`], whose `Debug` is redacted.

use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::{tags, uids};
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};

use crate::volume::quantize::Rescale;
use nalgebra::Vector3;

/// Patient name, ID and birth date. Shown only in the banner or with `--phi`; its `Debug`
/// prints nothing of them, so it can never leak through a `{:?}`.
#[derive(Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PatientIdentity {
    pub name: String,
    pub id: String,
    pub birth_date: String,
}

impl std::fmt::Debug for PatientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientIdentity(<redacted>)")
    }
}

/// Geometry and value mapping of one frame (one 2D image).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameInfo {
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    /// `[row spacing, column spacing]` as DICOM PixelSpacing orders it.
    pub pixel_spacing: Option<[f64; 2]>,
    pub rescale: Rescale,
}

/// What the loader needs to know about one image file.
#[derive(Debug, Clone)]
pub struct ImageHeader {
    pub path: PathBuf,
    pub transfer_syntax: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub modality: String,
    pub patient: PatientIdentity,
    pub study_uid: String,
    pub study_date: String,
    pub study_description: String,
    pub series_uid: String,
    /// FrameOfReferenceUID: the patient coordinate system the positions are in.
    pub frame_of_reference_uid: String,
    pub series_number: Option<i32>,
    pub series_description: String,
    pub instance_number: Option<i32>,
    pub image_type: Vec<String>,
    pub rows: u16,
    pub columns: u16,
    pub samples_per_pixel: u16,
    pub photometric: String,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
    pub number_of_frames: u32,
    pub echo_number: Option<i32>,
    pub acquisition_number: Option<i32>,
    pub slice_thickness: Option<f64>,
    pub spacing_between_slices: Option<f64>,
    /// The first WindowCenter / WindowWidth pair, in real units (after the Modality LUT).
    pub window: Option<[f64; 2]>,
    /// One entry per frame.
    pub frames: Vec<FrameInfo>,
    /// Whether the header was read from a data set without a file meta group.
    pub no_meta: bool,
    /// Byte offset of the pixel data's value in the file (None if the header walk did not
    /// reach it): lets a compressed image's own size be read before anything is allocated.
    pub pixel_data_at: Option<u64>,
    /// Siemens mosaic: number of slices tiled into the image, and the slice normal
    /// (from the CSA header) when given.
    pub mosaic: Option<MosaicInfo>,
}

/// What is needed to cut a Siemens mosaic into its slices.
#[derive(Debug, Clone, PartialEq)]
pub struct MosaicInfo {
    pub images: u32,
    pub slice_normal: Option<[f64; 3]>,
}

impl ImageHeader {
    pub fn is_localizer(&self) -> bool {
        self.image_type
            .iter()
            .any(|t| t.eq_ignore_ascii_case("LOCALIZER"))
    }

    pub fn is_mosaic(&self) -> bool {
        self.image_type
            .iter()
            .any(|t| t.eq_ignore_ascii_case("MOSAIC"))
    }
}

/// Reads one string-valued element of a Siemens CSA header (`SV10` format).
fn csa_values(csa: &[u8], wanted: &str) -> Option<Vec<String>> {
    let rd = |o: usize| -> Option<u32> {
        csa.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if csa.get(..4) != Some(b"SV10") {
        return None;
    }
    let n_tags = rd(8)? as usize;
    let mut o = 16usize;
    for _ in 0..n_tags.min(1000) {
        let name_bytes = csa.get(o..o + 64)?;
        let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(64);
        let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
        let n_items = rd(o + 76)? as usize;
        o += 84;
        let mut values = Vec::new();
        for _ in 0..n_items.min(10_000) {
            let len = rd(o + 4)? as usize;
            o += 16;
            let data = csa.get(o..o + len)?;
            let text = String::from_utf8_lossy(data)
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
            if !text.is_empty() {
                values.push(text);
            }
            o += len.div_ceil(4) * 4;
        }
        if name == wanted {
            return Some(values);
        }
    }
    None
}

fn mosaic_info(obj: &InMemDicomObject) -> Option<MosaicInfo> {
    let csa = obj
        .get(Tag(0x0029, 0x1010))
        .and_then(|e| e.to_bytes().ok())
        .map(|b| b.into_owned())
        .unwrap_or_default();
    let images = get_int(obj, Tag(0x0019, 0x100A))
        .map(|n| n as u32)
        .or_else(|| {
            csa_values(&csa, "NumberOfImagesInMosaic")?
                .first()?
                .parse::<f64>()
                .ok()
                .map(|v| v as u32)
        })
        .filter(|n| *n >= 1)?;
    let slice_normal = csa_values(&csa, "SliceNormalVector").and_then(|v| {
        let f: Vec<f64> = v.iter().filter_map(|s| s.parse().ok()).collect();
        (f.len() == 3).then(|| [f[0], f[1], f[2]])
    });
    Some(MosaicInfo {
        images,
        slice_normal,
    })
}

impl ImageHeader {}

/// Why a file is not an image we load; one line, never patient identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkipReason(pub String);

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names of storage classes that hold no voxel volume, by SOP Class UID prefix.
fn non_image_kind(sop_class: &str) -> Option<&'static str> {
    const KINDS: &[(&str, &str)] = &[
        ("1.2.840.10008.1.3.10", "DICOMDIR (media directory)"),
        ("1.2.840.10008.5.1.4.1.1.88.59", "key object selection (KO)"),
        ("1.2.840.10008.5.1.4.1.1.88.", "structured report (SR)"),
        ("1.2.840.10008.5.1.4.1.1.481.", "radiotherapy object (RT)"),
        ("1.2.840.10008.5.1.4.1.1.66.4", "segmentation (SEG)"),
        (
            "1.2.840.10008.5.1.4.1.1.66.",
            "raw data / registration / fiducials",
        ),
        ("1.2.840.10008.5.1.4.1.1.11.", "presentation state (PR)"),
        ("1.2.840.10008.5.1.4.1.1.104.", "encapsulated document"),
        ("1.2.840.10008.5.1.4.1.1.9.", "waveform"),
        ("1.2.840.10008.5.1.4.1.1.67", "real world value mapping"),
        ("1.2.840.10008.5.1.4.1.1.77.1.5.", "ophthalmic measurement"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| sop_class.starts_with(prefix))
        .map(|(_, kind)| *kind)
}

fn trim(s: &str) -> String {
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

fn get_str(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| trim(&s))
        .unwrap_or_default()
}

fn get_int(obj: &InMemDicomObject, tag: Tag) -> Option<i32> {
    obj.get(tag).and_then(|e| e.to_int::<i32>().ok())
}

fn get_u16(obj: &InMemDicomObject, tag: Tag) -> Option<u16> {
    obj.get(tag).and_then(|e| e.to_int::<u16>().ok())
}

fn get_f64(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    obj.get(tag)
        .and_then(|e| e.to_float64().ok())
        .filter(|v| v.is_finite())
}

fn get_floats<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    if v.len() < N || v.iter().take(N).any(|x| !x.is_finite()) {
        return None;
    }
    let mut out = [0.0; N];
    out.copy_from_slice(&v[..N]);
    Some(out)
}

fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag)?.items()?.first()
}

/// Geometry and rescale found in one functional-group item (shared or per-frame).
#[derive(Default, Clone)]
struct GroupValues {
    position: Option<[f64; 3]>,
    orientation: Option<[f64; 6]>,
    pixel_spacing: Option<[f64; 2]>,
    rescale: Option<Rescale>,
    slice_thickness: Option<f64>,
    spacing_between_slices: Option<f64>,
}

fn group_values(item: &InMemDicomObject) -> GroupValues {
    let mut g = GroupValues::default();
    if let Some(pos) = first_item(item, tags::PLANE_POSITION_SEQUENCE) {
        g.position = get_floats::<3>(pos, tags::IMAGE_POSITION_PATIENT);
    }
    if let Some(ori) = first_item(item, tags::PLANE_ORIENTATION_SEQUENCE) {
        g.orientation = get_floats::<6>(ori, tags::IMAGE_ORIENTATION_PATIENT);
    }
    if let Some(m) = first_item(item, tags::PIXEL_MEASURES_SEQUENCE) {
        g.pixel_spacing = get_floats::<2>(m, tags::PIXEL_SPACING);
        g.slice_thickness = get_f64(m, tags::SLICE_THICKNESS);
        g.spacing_between_slices = get_f64(m, tags::SPACING_BETWEEN_SLICES);
    }
    if let Some(t) = first_item(item, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE) {
        g.rescale = rescale_of(t);
    }
    g
}

/// WindowCenter / WindowWidth (first values) of a data set or functional-group item.
fn window_of(obj: &InMemDicomObject) -> Option<[f64; 2]> {
    let first = |tag| {
        obj.get(tag)?
            .to_multi_float64()
            .ok()?
            .first()
            .copied()
            .filter(|v: &f64| v.is_finite())
    };
    let (c, w) = (first(tags::WINDOW_CENTER)?, first(tags::WINDOW_WIDTH)?);
    (w >= 1.0).then_some([c, w])
}

/// The window of an enhanced object's Frame VOI LUT functional group.
fn voi_window(item: &InMemDicomObject) -> Option<[f64; 2]> {
    window_of(first_item(item, tags::FRAME_VOILUT_SEQUENCE)?)
}

fn rescale_of(obj: &InMemDicomObject) -> Option<Rescale> {
    // Present but not a number (NaN, inf) is kept as it is, for `check_frame` to refuse:
    // read as absent, a NaN intercept put every CT value 1,024 HU off.
    let raw = |tag| {
        let e = obj.get(tag)?;
        let blank = e
            .to_str()
            .map(|t| {
                t.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .is_empty()
            })
            .unwrap_or(false);
        (!blank).then(|| e.to_float64().unwrap_or(f64::NAN))
    };
    let slope = raw(tags::RESCALE_SLOPE);
    let intercept = raw(tags::RESCALE_INTERCEPT);
    if slope.is_none() && intercept.is_none() {
        return None;
    }
    let slope = slope.filter(|s| *s != 0.0).unwrap_or(1.0);
    Some(Rescale {
        slope,
        intercept: intercept.unwrap_or(0.0),
    })
}

/// Opens a DICOM file up to (not including) its pixel data; also says whether it has no
/// meta group and where the pixel data's value starts.
fn open_header(path: &Path) -> Result<(DefaultDicomObject, bool, Option<u64>), SkipReason> {
    let pixel_data_at = super::lengths::check_file(path, true)
        .map_err(|e| SkipReason(format!("damaged DICOM: {e}")))?;
    let first = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .read_until(tags::PIXEL_DATA)
        .open_file(path);
    match first {
        Ok(obj) => Ok((obj, false, pixel_data_at)),
        Err(e) => {
            let mut head = [0u8; 132];
            let n = std::fs::File::open(path)
                .and_then(|mut f| f.read(&mut head))
                .map_err(|e| SkipReason(format!("cannot read file: {}", e.kind())))?;
            let has_magic =
                n >= 132 && &head[128..132] == b"DICM" || n >= 4 && &head[..4] == b"DICM";
            if !has_magic {
                if let Some(obj) = open_raw_dataset(path, &head[..n]) {
                    return Ok((obj, true, pixel_data_at));
                }
                return Err(SkipReason("not a DICOM file".into()));
            }
            Err(SkipReason(format!(
                "unreadable DICOM: {}",
                first_line(&e.to_string())
            )))
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(160).collect()
}

/// A data set without preamble or file meta group (old ACR-NEMA style exports). Tried only
/// when the first bytes look like a group 0008 element, so text and image files are not
/// parsed as DICOM by accident.
fn open_raw_dataset(path: &Path, head: &[u8]) -> Option<DefaultDicomObject> {
    if head.len() < 8 || head[0] != 0x08 || head[1] != 0x00 {
        return None;
    }
    let explicit = head[4].is_ascii_uppercase() && head[5].is_ascii_uppercase();
    let ts_uid = if explicit {
        uids::EXPLICIT_VR_LITTLE_ENDIAN
    } else {
        uids::IMPLICIT_VR_LITTLE_ENDIAN
    };
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry.get(ts_uid)?;
    let file = std::fs::File::open(path).ok()?;
    let obj = InMemDicomObject::read_dataset_with_ts(std::io::BufReader::new(file), ts).ok()?;
    let sop_class = get_str(&obj, tags::SOP_CLASS_UID);
    let sop_instance = get_str(&obj, tags::SOP_INSTANCE_UID);
    let meta = dicom_object::FileMetaTableBuilder::new()
        .transfer_syntax(ts_uid)
        .media_storage_sop_class_uid(if sop_class.is_empty() {
            uids::SECONDARY_CAPTURE_IMAGE_STORAGE.to_string()
        } else {
            sop_class
        })
        .media_storage_sop_instance_uid(if sop_instance.is_empty() {
            "2.25.0".to_string()
        } else {
            sop_instance
        })
        .build()
        .ok()?;
    Some(obj.with_exact_meta(meta))
}

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;

/// Opens a whole file, pixel data included (used by the loader's general decoding path).
pub fn open_full(path: &Path, no_meta: bool) -> Result<DefaultDicomObject, String> {
    super::lengths::check_file(path, false).map_err(|e| format!("damaged DICOM: {e}"))?;
    if no_meta {
        let mut head = [0u8; 8];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .map_err(|e| format!("cannot read file: {}", e.kind()))?;
        return open_raw_dataset(path, &head).ok_or_else(|| "unreadable data set".to_string());
    }
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .open_file(path)
        .map_err(|e| first_line(&e.to_string()))
}

/// Reads one file's header. `Err` carries the one-line reason the file is not loaded.
pub fn read_header(path: &Path) -> Result<ImageHeader, SkipReason> {
    let (obj, no_meta, pixel_data_at) = open_header(path)?;
    // Remembered first, so that whatever is said of this file (its path included, even
    // when it is skipped) is scrubbed of them.
    let name = get_str(&obj, tags::PATIENT_NAME);
    let id = get_str(&obj, tags::PATIENT_ID);
    let birth_date = get_str(&obj, tags::PATIENT_BIRTH_DATE);
    crate::privacy::remember(&[&name, &id, &birth_date]);
    let transfer_syntax = trim(obj.meta().transfer_syntax());
    let mut sop_class_uid = get_str(&obj, tags::SOP_CLASS_UID);
    if sop_class_uid.is_empty() {
        sop_class_uid = trim(obj.meta().media_storage_sop_class_uid());
    }
    if let Some(kind) = non_image_kind(&sop_class_uid) {
        return Err(SkipReason(format!("not an image: {kind}")));
    }
    let rows = get_u16(&obj, tags::ROWS);
    let columns = get_u16(&obj, tags::COLUMNS);
    let (Some(rows), Some(columns)) = (rows, columns) else {
        let modality = get_str(&obj, tags::MODALITY);
        return Err(SkipReason(if modality.is_empty() {
            "not an image: no Rows/Columns".to_string()
        } else {
            format!("not an image: {modality} object without pixel data")
        }));
    };
    if rows == 0 || columns == 0 {
        return Err(SkipReason("image with zero rows or columns".into()));
    }
    let bits_allocated = get_u16(&obj, tags::BITS_ALLOCATED).unwrap_or(16);
    if !matches!(bits_allocated, 8 | 16 | 32) {
        return Err(SkipReason(format!(
            "unsupported BitsAllocated {bits_allocated} (binary or unusual pixel data)"
        )));
    }
    let bits_stored = get_u16(&obj, tags::BITS_STORED)
        .filter(|b| *b >= 1 && *b <= bits_allocated)
        .unwrap_or(bits_allocated);
    // HighBit must lie within the allocated bits; anything else (a crafted 65535) is
    // read as the usual bits_stored - 1.
    let high_bit = get_u16(&obj, tags::HIGH_BIT)
        .filter(|&b| b < bits_allocated && b + 1 >= bits_stored)
        .unwrap_or(bits_stored - 1);
    let signed = get_u16(&obj, tags::PIXEL_REPRESENTATION) == Some(1);
    let samples_per_pixel = get_u16(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let number_of_frames = get_int(&obj, tags::NUMBER_OF_FRAMES)
        .filter(|n| *n >= 1)
        .unwrap_or(1) as u32;
    if number_of_frames > 100_000 {
        return Err(SkipReason(format!(
            "implausible NumberOfFrames {number_of_frames}"
        )));
    }

    // Geometry: classic attributes, overridden by shared then per-frame functional groups.
    let mut base = GroupValues {
        position: get_floats::<3>(&obj, tags::IMAGE_POSITION_PATIENT),
        orientation: get_floats::<6>(&obj, tags::IMAGE_ORIENTATION_PATIENT),
        pixel_spacing: get_floats::<2>(&obj, tags::PIXEL_SPACING)
            .or_else(|| get_floats::<2>(&obj, tags::IMAGER_PIXEL_SPACING)),
        rescale: rescale_of(&obj),
        slice_thickness: get_f64(&obj, tags::SLICE_THICKNESS),
        spacing_between_slices: get_f64(&obj, tags::SPACING_BETWEEN_SLICES),
    };
    if let Some(shared) = first_item(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE) {
        merge(&mut base, group_values(shared));
    }
    let per_frame: Vec<GroupValues> = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items())
        .map(|items| items.iter().map(group_values).collect())
        .unwrap_or_default();
    let frames = (0..number_of_frames as usize)
        .map(|f| {
            let mut g = base.clone();
            if let Some(pf) = per_frame.get(f) {
                merge(&mut g, pf.clone());
            }
            FrameInfo {
                position: g.position,
                orientation: g.orientation,
                pixel_spacing: g.pixel_spacing.filter(|s| s[0] > 0.0 && s[1] > 0.0),
                rescale: g.rescale.unwrap_or_default(),
            }
        })
        .collect::<Vec<FrameInfo>>();
    for (n, f) in frames.iter().enumerate() {
        check_frame(f).map_err(|e| {
            SkipReason(if number_of_frames > 1 {
                format!("frame {}: {e}", n + 1)
            } else {
                e
            })
        })?;
    }

    let image_type = obj
        .get(tags::IMAGE_TYPE)
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| v.iter().map(|s| trim(s)).collect())
        .unwrap_or_default();
    Ok(ImageHeader {
        path: path.to_path_buf(),
        transfer_syntax,
        sop_instance_uid: get_str(&obj, tags::SOP_INSTANCE_UID),
        sop_class_uid,
        modality: get_str(&obj, tags::MODALITY),
        patient: PatientIdentity {
            name,
            id,
            birth_date,
        },
        study_uid: get_str(&obj, tags::STUDY_INSTANCE_UID),
        study_date: get_str(&obj, tags::STUDY_DATE),
        study_description: get_str(&obj, tags::STUDY_DESCRIPTION),
        series_uid: get_str(&obj, tags::SERIES_INSTANCE_UID),
        frame_of_reference_uid: get_str(&obj, tags::FRAME_OF_REFERENCE_UID),
        series_number: get_int(&obj, tags::SERIES_NUMBER),
        series_description: get_str(&obj, tags::SERIES_DESCRIPTION),
        instance_number: get_int(&obj, tags::INSTANCE_NUMBER),
        image_type,
        rows,
        columns,
        samples_per_pixel,
        photometric: get_str(&obj, tags::PHOTOMETRIC_INTERPRETATION),
        bits_allocated,
        bits_stored,
        high_bit,
        signed,
        number_of_frames,
        echo_number: get_int(&obj, tags::ECHO_NUMBERS),
        acquisition_number: get_int(&obj, tags::ACQUISITION_NUMBER),
        slice_thickness: base.slice_thickness,
        spacing_between_slices: base.spacing_between_slices,
        window: window_of(&obj)
            .or_else(|| {
                first_item(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).and_then(voi_window)
            })
            .or_else(|| {
                obj.get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
                    .and_then(|e| e.items())
                    .and_then(|items| items.first())
                    .and_then(voi_window)
            }),
        frames,
        no_meta,
        pixel_data_at,
        mosaic: None,
    }
    .with_mosaic(&obj))
}

/// Largest |coordinate| of an image position (mm): 100 m is beyond any scanner's table.
pub const MAX_POSITION_MM: f64 = 1e5;
/// Pixel spacing accepted (mm): from 0.1 µm (microscopy) to 100 mm.
pub const PIXEL_SPACING_MM: (f64, f64) = (1e-4, 100.0);
/// How far ImageOrientationPatient's two vectors may be from unit length and from
/// orthogonal (their dot product) before the image is refused: 0.01 is 0.57°. Within it
/// the loader orthonormalises them (values are written with few decimals).
pub const ORIENTATION_TOLERANCE: f64 = 0.01;
/// Largest |RescaleSlope| or |RescaleIntercept|: beyond it stored values become
/// meaningless (or infinite) real values.
pub const MAX_RESCALE: f64 = 1e9;

/// Refuses a frame whose geometry or rescale no scanner writes: orientation vectors not
/// unit and orthogonal, positions or spacings out of any physical range, rescales that
/// are not numbers. Such values made NaN surfaces, hangs and 4 GB grids.
fn check_frame(f: &FrameInfo) -> Result<(), String> {
    if let Some(o) = f.orientation {
        check_orientation(&o)?;
    }
    if let Some(p) = f.position
        && p.iter().any(|c| c.is_nan() || c.abs() > MAX_POSITION_MM)
    {
        return Err(format!(
            "ImagePositionPatient ({}) mm lies beyond any scanner (|x| > {MAX_POSITION_MM} mm)",
            p.map(num).join(", ")
        ));
    }
    if let Some(ps) = f.pixel_spacing
        && ps
            .iter()
            .any(|v| !(PIXEL_SPACING_MM.0..=PIXEL_SPACING_MM.1).contains(v))
    {
        return Err(format!(
            "PixelSpacing {} mm is outside {}–{} mm",
            ps.map(num).join("\\"),
            PIXEL_SPACING_MM.0,
            PIXEL_SPACING_MM.1
        ));
    }
    let r = f.rescale;
    if !(r.slope.abs() <= MAX_RESCALE && r.intercept.abs() <= MAX_RESCALE) {
        return Err(format!(
            "RescaleSlope {} / RescaleIntercept {} is not a usable value (finite, within ±{MAX_RESCALE:e})",
            num(r.slope),
            num(r.intercept)
        ));
    }
    Ok(())
}

/// A number as a message shows it: plain for ordinary magnitudes, in exponent form for
/// huge or tiny ones (a crafted 1e308 printed as 309 digits).
fn num(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:.4e}")
    } else {
        let t = format!("{v:.4}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Length of a vector without overflow (1e308 squared is infinite).
fn length(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |acc: f64, x| acc.hypot(*x))
}

/// Checks ImageOrientationPatient: two finite vectors of unit length (within
/// [`ORIENTATION_TOLERANCE`]) at right angles (likewise).
pub fn check_orientation(o: &[f64; 6]) -> Result<(), String> {
    let row = Vector3::new(o[0], o[1], o[2]);
    let col = Vector3::new(o[3], o[4], o[5]);
    let (nr, nc) = (length(&o[..3]), length(&o[3..]));
    let shown = || o.map(num).join("\\");
    if !((nr - 1.0).abs() <= ORIENTATION_TOLERANCE && (nc - 1.0).abs() <= ORIENTATION_TOLERANCE) {
        return Err(format!(
            "ImageOrientationPatient {} is not two unit vectors (lengths {} and {})",
            shown(),
            num(nr),
            num(nc)
        ));
    }
    let dot = row.dot(&col) / (nr * nc);
    if dot.is_nan() || dot.abs() > ORIENTATION_TOLERANCE {
        return Err(format!(
            "ImageOrientationPatient {} is not orthogonal (the rows and columns meet at {:.2}°)",
            shown(),
            dot.clamp(-1.0, 1.0).acos().to_degrees()
        ));
    }
    Ok(())
}

impl ImageHeader {
    fn with_mosaic(mut self, obj: &InMemDicomObject) -> ImageHeader {
        if self.is_mosaic() && self.number_of_frames == 1 {
            self.mosaic = mosaic_info(obj);
        }
        self
    }
}

fn merge(into: &mut GroupValues, from: GroupValues) {
    if from.position.is_some() {
        into.position = from.position;
    }
    if from.orientation.is_some() {
        into.orientation = from.orientation;
    }
    if from.pixel_spacing.is_some() {
        into.pixel_spacing = from.pixel_spacing;
    }
    if from.rescale.is_some() {
        into.rescale = from.rescale;
    }
    if from.slice_thickness.is_some() {
        into.slice_thickness = from.slice_thickness;
    }
    if from.spacing_between_slices.is_some() {
        into.spacing_between_slices = from.spacing_between_slices;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(orientation: [f64; 6]) -> FrameInfo {
        FrameInfo {
            position: Some([-120.5, 33.0, 1200.25]),
            orientation: Some(orientation),
            pixel_spacing: Some([0.7, 0.7]),
            rescale: Rescale::default(),
        }
    }

    #[test]
    fn real_orientations_pass_and_degenerate_ones_are_refused() {
        // As scanners write them: six decimals, a hair off unit and orthogonal.
        let oblique = [0.999848, 0.0, 0.017452, -0.000305, 0.999848, 0.017450];
        assert!(check_frame(&frame(oblique)).is_ok());
        assert!(check_frame(&frame([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])).is_ok());
        for (o, says) in [
            ([1e155, 0.0, 0.0, 0.0, 1e155, 0.0], "not two unit vectors"),
            ([1e308, 0.0, 0.0, 0.0, 1e308, 0.0], "lengths 1.0000e308"),
            ([0.0; 6], "not two unit vectors"),
            ([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], "not orthogonal"),
            ([1.0, 0.0, 0.0, 0.2, 0.98, 0.0], "not orthogonal"),
        ] {
            let e = check_frame(&frame(o)).expect_err("refused");
            assert!(
                e.contains(says) && e.contains("ImageOrientationPatient"),
                "{e}"
            );
        }
    }

    #[test]
    fn positions_spacings_and_rescales_beyond_any_scanner_are_refused() {
        let axial = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let mut f = frame(axial);
        f.position = Some([0.0, 0.0, 1e308]);
        let e = check_frame(&f).expect_err("position");
        assert!(e.contains("1.0000e308") && e.len() < 200, "{e}");
        let mut f = frame(axial);
        f.pixel_spacing = Some([1e4, 0.5]);
        assert!(check_frame(&f).is_err_and(|e| e.contains("PixelSpacing")));
        for (slope, intercept) in [(1.0, 1e308), (1.0, f64::NAN), (f64::INFINITY, 0.0)] {
            let mut f = frame(axial);
            f.rescale = Rescale { slope, intercept };
            assert!(check_frame(&f).is_err_and(|e| e.contains("RescaleIntercept")));
        }
        assert_eq!(num(1e308), "1.0000e308");
        assert_eq!(num(-1024.0), "-1024");
        assert_eq!(num(0.5), "0.5");
    }
}
