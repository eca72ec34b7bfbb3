//! NIfTI-1 (`.nii`, `.nii.gz`) read and write with patient LPS geometry.
//!
//! NIfTI stores a RAS world affine (sform, else qform, else plain voxel sizes); we convert
//! it to LPS by negating x and y, which is what every other twinplan module speaks. Writes
//! put the same affine in sform and qform (code 1, scanner anatomical) and go through a
//! temporary file renamed into place, so a failed write never leaves half a file. Depends on
//! the `nifti` crate and `volume` only.

use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Rotation3, UnitQuaternion, Vector3};

use ndarray::{Array3, Axis, Ix3};
use nifti::writer::WriterOptions;
use nifti::{IntoNdArray, NiftiObject, NiftiType, NiftiVolume, ReaderOptions};

use crate::volume::{Geometry, ValueScale, Volume, VolumeWarning};

#[derive(Debug, thiserror::Error)]
pub enum NiftiError {
    #[error("cannot read NIfTI ({message}): {path}")]
    Read { message: String, path: PathBuf },
    #[error("unsupported NIfTI content ({detail}): {path}")]
    Unsupported { detail: String, path: PathBuf },
    #[error("not loaded: {0}: {1}")]
    TooLarge(crate::memory::TooLarge, PathBuf),
    #[error("cannot write NIfTI ({message}): {path}")]
    Write { message: String, path: PathBuf },
}

/// True for names ending in `.nii` or `.nii.gz`.
pub fn is_nifti_path(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

const LPS_FROM_RAS: [f64; 3] = [-1.0, -1.0, 1.0];

/// The BIDS JSON sidecar of a NIfTI file (`x.nii` or `x.nii.gz` → `x.json`).
pub fn sidecar_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let lower = name.to_ascii_lowercase();
    let stem_len = if lower.ends_with(".nii.gz") {
        name.len() - 7
    } else if lower.ends_with(".nii") {
        name.len() - 4
    } else {
        return None;
    };
    Some(path.with_file_name(format!("{}.json", &name[..stem_len])))
}

/// The `Modality` a BIDS sidecar declares ("CT", "MR", ...), when there is a readable one.
pub fn sidecar_modality(path: &Path) -> Option<String> {
    let sidecar = sidecar_path(path)?;
    // A sidecar is a small JSON file; anything else (a FIFO would block) is not read.
    crate::fsutil::regular_file(&sidecar, "a sidecar", 1 << 20).ok()?;
    let text = std::fs::read_to_string(sidecar).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let m = json.get("Modality")?.as_str()?.trim().to_ascii_uppercase();
    (!m.is_empty() && m.len() <= 16 && m.chars().all(|c| c.is_ascii_alphanumeric())).then_some(m)
}

/// Rotation matrix of a NIfTI qform quaternion (b, c, d; a is implied).
fn quaternion_matrix(b: f64, c: f64, d: f64) -> Matrix3<f64> {
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    Matrix3::new(
        a * a + b * b - c * c - d * d,
        2.0 * (b * c - a * d),
        2.0 * (b * d + a * c),
        2.0 * (b * c + a * d),
        a * a + c * c - b * b - d * d,
        2.0 * (c * d - a * b),
        2.0 * (b * d - a * c),
        2.0 * (c * d + a * b),
        a * a + d * d - c * c - b * b,
    )
}

/// The RAS affine's 3×3 part (columns = voxel axes scaled by spacing) and translation, in
/// millimetres, and a note when the header's preferred transform could not be used or its
/// units were not millimetres. A transform whose numbers are not finite is never used.
/// A 3×3 part, a translation and notes about how they were read.
type Affine = (Matrix3<f64>, Vector3<f64>, Vec<String>);

fn ras_affine(h: &nifti::NiftiHeader) -> Result<Affine, String> {
    let mut notes = Vec::new();
    let pix = |n: usize| {
        let v = f64::from(h.pixdim[n]).abs();
        if v > 0.0 && v.is_finite() { v } else { 1.0 }
    };
    let usable = |m: &Matrix3<f64>, t: &Vector3<f64>| {
        m.iter().chain(t.iter()).all(|v| v.is_finite()) && m.determinant().abs() > 1e-12
    };
    let sform = (h.sform_code > 0).then(|| {
        let r = [h.srow_x, h.srow_y, h.srow_z];
        let m = Matrix3::from_fn(|row, col| f64::from(r[row][col]));
        let t = Vector3::new(f64::from(r[0][3]), f64::from(r[1][3]), f64::from(r[2][3]));
        (m, t)
    });
    let qform = (h.qform_code > 0).then(|| {
        let r = quaternion_matrix(
            f64::from(h.quatern_b),
            f64::from(h.quatern_c),
            f64::from(h.quatern_d),
        );
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let s = Matrix3::from_diagonal(&Vector3::new(pix(1), pix(2), pix(3) * qfac));
        let t = Vector3::new(
            f64::from(h.quatern_x),
            f64::from(h.quatern_y),
            f64::from(h.quatern_z),
        );
        (r * s, t)
    });
    let chosen = match (sform, qform) {
        (Some((m, t)), _) if usable(&m, &t) => (m, t),
        (Some(_), Some((m, t))) if usable(&m, &t) => {
            notes.push(
                "the sform is not usable (numbers not finite or axes degenerate): the qform is used"
                    .to_string(),
            );
            (m, t)
        }
        (Some(_), _) => {
            return Err(
                "the sform is not usable (numbers not finite or axes degenerate) and there is no usable qform"
                    .into(),
            );
        }
        (None, Some((m, t))) if usable(&m, &t) => (m, t),
        (None, Some(_)) => {
            return Err("the qform is not usable (numbers not finite)".into());
        }
        (None, None) => (
            Matrix3::from_diagonal(&Vector3::new(pix(1), pix(2), pix(3))),
            Vector3::zeros(),
        ),
    };
    // xyzt_units, bits 0-2: 1 metre, 2 millimetre, 3 micron; 0 (unknown) is read as mm.
    let mm_per_unit = match h.xyzt_units & 0x07 {
        1 => {
            notes.push("the header's spatial unit is the metre: converted to mm".to_string());
            1000.0
        }
        3 => {
            notes.push("the header's spatial unit is the micron: converted to mm".to_string());
            0.001
        }
        _ => 1.0,
    };
    Ok((chosen.0 * mm_per_unit, chosen.1 * mm_per_unit, notes))
}

/// Largest |real value| a NIfTI voxel may hold.
const MAX_VALUE: f64 = 1e15;

/// What the header alone tells: the grid in LPS, the stored-to-real scale and notes.
#[derive(Debug, Clone)]
pub struct NiftiHeaderInfo {
    pub geometry: Geometry,
    pub value_scale: ValueScale,
    pub warnings: Vec<VolumeWarning>,
}

/// Reads only the header of a NIfTI file (never its image data: a small `.nii.gz` can
/// unpack to gigabytes) and returns its grid in LPS, checked as [`read_nifti`] checks it.
pub fn read_nifti_header(path: &Path) -> Result<NiftiHeaderInfo, NiftiError> {
    crate::fsutil::regular_file(path, "a NIfTI file", u64::MAX).map_err(|e| NiftiError::Read {
        message: e.to_string(),
        path: path.to_path_buf(),
    })?;
    let header = nifti::NiftiHeader::from_file(path).map_err(|e| NiftiError::Read {
        message: e.to_string(),
        path: path.to_path_buf(),
    })?;
    let ndim = usize::from(header.dim[0]).clamp(1, 7);
    let dim = |n: usize| {
        if n <= ndim {
            usize::from(header.dim[n]).max(1)
        } else {
            1
        }
    };
    let unsupported = |detail: String| NiftiError::Unsupported {
        detail,
        path: path.to_path_buf(),
    };
    let (geometry, notes) =
        geometry_from_header(&header, [dim(1), dim(2), dim(3)]).map_err(unsupported)?;
    let (scale, scale_note) = header_scale(&header).map_err(unsupported)?;
    let mut warnings: Vec<VolumeWarning> = notes
        .into_iter()
        .chain(scale_note)
        .map(|message| VolumeWarning::Other { message })
        .collect();
    let extra: usize = (4..=ndim).map(dim).product();
    if extra > 1 {
        warnings.push(VolumeWarning::Other {
            message: format!("4D NIfTI with {extra} volumes: the first is shown"),
        });
    }
    Ok(NiftiHeaderInfo {
        geometry,
        value_scale: scale.unwrap_or(ValueScale::IDENTITY),
        warnings,
    })
}

/// Reads only the header of a NIfTI file and returns its grid in LPS.
pub fn read_nifti_geometry(path: &Path) -> Result<Geometry, NiftiError> {
    read_nifti_header(path).map(|h| h.geometry)
}

/// The header's scl_slope and scl_inter as a scale (`None`: store values are real values),
/// with a note when they are not numbers (read unscaled, as nibabel and dcm2niix do; the
/// reader had applied a NaN slope and made every voxel 0). Scales beyond ±1e9 are refused.
fn header_scale(h: &nifti::NiftiHeader) -> Result<(Option<ValueScale>, Option<String>), String> {
    let slope = f64::from(h.scl_slope);
    let inter = f64::from(h.scl_inter);
    if !slope.is_finite() || !inter.is_finite() {
        return Ok((
            None,
            Some(format!(
                "scl_slope {slope} / scl_inter {inter} are not numbers: values read unscaled"
            )),
        ));
    }
    if slope == 0.0 || (slope == 1.0 && inter == 0.0) {
        return Ok((None, None));
    }
    let max = crate::dicom::header::MAX_RESCALE;
    if slope.abs() > max || inter.abs() > max {
        return Err(format!(
            "scl_slope {slope:e} / scl_inter {inter:e} are beyond ±{max:e}: not a usable scale"
        ));
    }
    Ok((
        Some(ValueScale {
            slope,
            intercept: inter,
        }),
        None,
    ))
}

fn geometry_from_header(
    header: &nifti::NiftiHeader,
    dims: [usize; 3],
) -> Result<(Geometry, Vec<String>), String> {
    let (m_ras, t_ras, notes) = ras_affine(header)?;
    let flip = Matrix3::from_diagonal(&Vector3::from(LPS_FROM_RAS));
    let m = flip * m_ras;
    let t = flip * t_ras;
    let spacing = [m.column(0).norm(), m.column(1).norm(), m.column(2).norm()];
    if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return Err("degenerate voxel axes".into());
    }
    let g = Geometry::new(
        dims,
        spacing,
        [t.x, t.y, t.z],
        m.column(0).into(),
        m.column(1).into(),
        m.column(2).into(),
    );
    g.check_plausible()?;
    Ok((g, notes))
}

/// The first 3D volume of an n-D array (shape `[ni, nj, nk, ...]`), checked against the header.
fn to_3d<T>(mut a: ndarray::ArrayD<T>, dims: (usize, usize, usize)) -> Result<Array3<T>, String> {
    while a.ndim() > 3 {
        let last = a.ndim() - 1;
        a = a.index_axis_move(Axis(last), 0);
    }
    while a.ndim() < 3 {
        let n = a.ndim();
        a = a.insert_axis(Axis(n));
    }
    let a = a
        .into_dimensionality::<Ix3>()
        .map_err(|_| "unexpected data shape".to_string())?;
    if a.dim() != dims {
        return Err("data shape differs from the header".into());
    }
    Ok(a)
}

/// Refuses a NIfTI file whose header claims more than the machine can hold: the reader
/// holds the whole file's samples (every volume of a 4D file) plus, for non-16-bit data, a
/// float copy of them, then the 16-bit volume and its reordered copy.
fn check_nifti_size(header: &nifti::NiftiHeader) -> Result<u64, crate::memory::TooLarge> {
    let ndim = usize::from(header.dim[0]).clamp(1, 7);
    let dims: Vec<u64> = (1..=ndim)
        .map(|n| u64::from(header.dim[n].max(1)))
        .collect();
    let sample = header.bitpix.clamp(8, 128) as u64 / 8;
    let working = crate::memory::WORKING_BYTES_PER_VOXEL;
    // Samples, then f64 for anything not already small integers, then i16 copies.
    let per_voxel = if sample <= 2 {
        sample + 2 * 2
    } else {
        sample + 8 + 2 * 2
    };
    crate::memory::check_grid("this NIfTI file", &dims, per_voxel.max(working))
}

/// Refuses a header whose grid needs more image bytes than the file holds (the reader would
/// reserve them all first): the file's size for `.nii`, the gzip trailer's uncompressed size
/// for `.nii.gz` when the file is too small to unpack past 4 GiB (the trailer counts modulo
/// 4 GiB).
fn check_data_present(path: &Path, header: &nifti::NiftiHeader) -> Result<(), String> {
    let ndim = usize::from(header.dim[0]).clamp(1, 7);
    let samples = (1..=ndim).try_fold(1u64, |n, d| n.checked_mul(u64::from(header.dim[d].max(1))));
    let bytes =
        samples.and_then(|n| n.checked_mul(u64::from(header.bitpix.max(0) as u16).div_ceil(8)));
    let offset = if header.vox_offset.is_finite() && header.vox_offset > 0.0 {
        header.vox_offset as u64
    } else {
        352
    };
    let needed = bytes.and_then(|b| b.checked_add(offset));
    let io = |e: std::io::Error| format!("cannot read file: {}", e.kind());
    let size = std::fs::metadata(path).map_err(io)?.len();
    let gz = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    let holds = if gz {
        // Deflate packs at most about 1032:1.
        if size.saturating_mul(1032) >= 1 << 32 || size < 18 {
            return Ok(());
        }
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(path).map_err(io)?;
        f.seek(SeekFrom::End(-4)).map_err(io)?;
        let mut t = [0u8; 4];
        f.read_exact(&mut t).map_err(io)?;
        // The trailer is the file's own word, which a damaged file can set to anything:
        // no more than deflate can pack into the file's bytes.
        u64::from(u32::from_le_bytes(t)).min(size.saturating_mul(1032))
    } else {
        size
    };
    match needed {
        Some(n) if n <= holds => Ok(()),
        _ => Err(format!(
            "the header's grid needs {} bytes of image data, the file holds {holds}",
            needed.map_or_else(|| "too many".to_string(), |n| n.to_string())
        )),
    }
}

/// Refuses header extensions that claim more bytes than lie between the header and the image
/// data (the reader reserves each extension's declared size first: the fuzzer found 1.4 GB
/// claimed in a 110 KB file). Extensions are read as the reader reads them: from byte 352
/// while their sizes add up to less than `vox_offset − 352`.
fn check_extensions(path: &Path, header: &nifti::NiftiHeader) -> Result<(), String> {
    use std::io::Read;
    // The reader's own conversion: an infinite offset is the largest number, NaN is 0.
    let room = (header.vox_offset as u64).saturating_sub(352);
    if room == 0 {
        return Ok(());
    }
    let io = |e: std::io::Error| format!("cannot read file: {}", e.kind());
    let file = std::fs::File::open(path).map_err(io)?;
    let gz = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    let mut r: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        )))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let mut head = [0u8; 352];
    if r.read_exact(&mut head).is_err() {
        return Ok(()); // too short to hold extensions: the reader says what is wrong
    }
    if head[348] == 0 {
        return Ok(()); // no extensions
    }
    let little = i32::from_le_bytes([head[0], head[1], head[2], head[3]]) == 348;
    let int = |b: [u8; 4]| {
        if little {
            i32::from_le_bytes(b)
        } else {
            i32::from_be_bytes(b)
        }
    };
    let mut at = 0u64;
    while at < room {
        let mut h = [0u8; 8];
        if r.read_exact(&mut h).is_err() {
            return Ok(()); // cut off: the reader fails on it without reserving
        }
        let esize = int([h[0], h[1], h[2], h[3]]);
        let left = room - at;
        if esize < 8 || esize as u64 > left {
            return Err(format!(
                "a header extension declares {esize} bytes where {left} lie before the image data"
            ));
        }
        let skip = esize as u64 - 8;
        let skipped =
            std::io::copy(&mut r.by_ref().take(skip), &mut std::io::sink()).map_err(io)?;
        if skipped < skip {
            return Ok(());
        }
        at += esize as u64;
    }
    Ok(())
}

/// Reads a NIfTI file as a volume (the first 3D volume of a 4D file, with a warning).
pub fn read_nifti(path: &Path) -> Result<Volume, NiftiError> {
    let read_err = |message: String| NiftiError::Read {
        message,
        path: path.to_path_buf(),
    };
    let unsupported = |detail: String| NiftiError::Unsupported {
        detail,
        path: path.to_path_buf(),
    };
    // The header alone first: its grid, scale and sizes decide whether the data may be
    // read at all (geometry and scale are checked before gigabytes are unpacked).
    let info = read_nifti_header(path)?;
    let header = nifti::NiftiHeader::from_file(path).map_err(|e| read_err(e.to_string()))?;
    check_nifti_size(&header).map_err(|e| NiftiError::TooLarge(e, path.to_path_buf()))?;
    check_data_present(path, &header).map_err(read_err)?;
    check_extensions(path, &header).map_err(read_err)?;
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| read_err(e.to_string()))?;
    let header = obj.header().clone();
    let ndim = usize::from(header.dim[0]).clamp(1, 7);
    let dim = |n: usize| {
        if n <= ndim {
            usize::from(header.dim[n]).max(1)
        } else {
            1
        }
    };
    let (ni, nj, nk) = (dim(1), dim(2), dim(3));
    let mut warnings = info.warnings;
    let datatype = header.data_type().map_err(|e| unsupported(e.to_string()))?;
    let (scale, _) = header_scale(&header).map_err(unsupported)?;
    let identity_scale = scale.is_none();
    let small_int = matches!(
        datatype,
        NiftiType::Int16 | NiftiType::Uint8 | NiftiType::Int8
    );
    let dims = (ni, nj, nk);
    let mut volume = obj.into_volume();
    // The reader's conversion asserts that the data fills the header's grid exactly (a
    // damaged header made it panic): check first and say what does not match.
    let samples = volume
        .dim()
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::from(d)));
    let expected = samples.and_then(|n| n.checked_mul(datatype.size_of()));
    if expected != Some(volume.raw_data().len()) {
        return Err(read_err(format!(
            "the header's grid {:?} of {datatype:?} needs {} bytes of image data, the file has {}",
            volume.dim(),
            expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
            volume.raw_data().len()
        )));
    }
    if !(header.scl_slope.is_finite() && header.scl_inter.is_finite()) {
        // The reader applies the header's scale itself: a slope that is not a number
        // (read unscaled, noted above) is taken out of its hands.
        let endianness = header.endianness;
        let raw_dim = volume.dim().to_vec();
        let mut dim8 = [1u16; 8];
        dim8[0] = raw_dim.len().min(7) as u16;
        for (d, v) in dim8[1..].iter_mut().zip(&raw_dim) {
            *d = *v;
        }
        volume = nifti::InMemNiftiVolume::from_raw_fields(
            dim8,
            datatype,
            0.0,
            0.0,
            volume.into_raw_data(),
            endianness,
        )
        .map_err(|e| read_err(e.to_string()))?;
    }
    let (voxels_ijk, value_scale) = if small_int && identity_scale {
        let a = volume
            .into_ndarray::<i16>()
            .map_err(|e| unsupported(e.to_string()))?;
        (to_3d(a, dims).map_err(unsupported)?, ValueScale::IDENTITY)
    } else {
        if matches!(
            datatype,
            NiftiType::Rgb24 | NiftiType::Rgba32 | NiftiType::Complex64 | NiftiType::Complex128
        ) {
            return Err(unsupported(format!("data type {datatype:?}")));
        }
        let a = volume
            .into_ndarray::<f64>()
            .map_err(|e| unsupported(e.to_string()))?;
        let a = to_3d(a, dims).map_err(unsupported)?;
        let finite = a.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
        // Values past ±1e15 are no measurement (the largest scale times the largest
        // sample is 3e13), and their span overflowed the requantising step to infinity.
        if lo < -MAX_VALUE || hi > MAX_VALUE {
            return Err(unsupported(format!(
                "voxel values reach {:.3e}, beyond ±{MAX_VALUE:e}",
                if hi > MAX_VALUE { hi } else { lo }
            )));
        }
        let integral = a.iter().all(|v| !v.is_finite() || v.fract() == 0.0);
        if integral && lo >= f64::from(i16::MIN) && hi <= f64::from(i16::MAX) {
            (
                a.mapv(|v| if v.is_finite() { v as i16 } else { 0 }),
                ValueScale::IDENTITY,
            )
        } else {
            let step = if hi > lo { (hi - lo) / 65535.0 } else { 1.0 };
            let base = lo + 32768.0 * step;
            warnings.push(VolumeWarning::RescaleRequantized { step });
            (
                a.mapv(|v| {
                    if v.is_finite() {
                        ((v - base) / step).round().clamp(-32768.0, 32767.0) as i16
                    } else {
                        0
                    }
                }),
                ValueScale {
                    slope: step,
                    intercept: base,
                },
            )
        }
    };
    let voxels = voxels_ijk
        .permuted_axes([2, 1, 0])
        .as_standard_layout()
        .into_owned();

    let geometry = info.geometry;
    let mut v = Volume::new(voxels, geometry).map_err(|e| unsupported(e.to_string()))?;
    v.value_scale = value_scale;
    v.warnings = warnings;
    v.description = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(v)
}

/// Shear below this (degrees between axes off 90°) is rounding in the source's numbers.
const SHEAR_NOTICE_DEG: f64 = 0.01;

/// The rotation nearest to `m` (its polar factor, from a singular value decomposition with
/// a bounded number of iterations) and how far `m`'s columns are from orthogonal, in
/// degrees. `None` for a singular, non-finite or reflecting matrix. nalgebra's
/// `Rotation3::from_matrix` iterates without a limit and never finished on a real sheared
/// volume.
fn nearest_rotation(m: &Matrix3<f64>) -> Option<(Rotation3<f64>, f64)> {
    if !m.iter().all(|v| v.is_finite()) {
        return None;
    }
    let cols: Vec<Vector3<f64>> = (0..3).map(|c| m.column(c).into_owned()).collect();
    if cols.iter().any(|c| c.norm() <= 1e-9) {
        return None;
    }
    let svd = m.try_svd(true, true, 1e-15, 200)?;
    let (u, v_t) = (svd.u?, svd.v_t?);
    let r = u * v_t;
    let det = r.determinant();
    if det.is_nan() || det <= 0.0 || !r.iter().all(|v| v.is_finite()) {
        return None;
    }
    let mut shear: f64 = 0.0;
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let cos = cols[a].dot(&cols[b]) / (cols[a].norm() * cols[b].norm());
        shear = shear.max((90.0 - cos.clamp(-1.0, 1.0).acos().to_degrees()).abs());
    }
    Some((Rotation3::from_matrix_unchecked(r), shear))
}

/// Writes a volume as NIfTI-1 (gzip when the name ends in `.gz`), atomically. Returns what
/// the file cannot say exactly (a sheared grid's qform), for the caller to show.
pub fn write_nifti(volume: &Volume, path: &Path) -> Result<Vec<String>, NiftiError> {
    let write_err = |message: String| NiftiError::Write {
        message,
        path: path.to_path_buf(),
    };
    let g = &volume.geometry;
    let flip = Matrix3::from_diagonal(&Vector3::from(LPS_FROM_RAS));
    let dirs_ras = flip * g.direction_matrix();
    let m_ras = dirs_ras * Matrix3::from_diagonal(&Vector3::from(g.spacing_mm));
    let t_ras = flip * g.origin();

    let mut header = nifti::NiftiHeader {
        sform_code: 1,
        qform_code: 1,
        ..Default::default()
    };
    for (row, srow) in [&mut header.srow_x, &mut header.srow_y, &mut header.srow_z]
        .into_iter()
        .enumerate()
    {
        for col in 0..3 {
            srow[col] = m_ras[(row, col)] as f32;
        }
        srow[3] = t_ras[row] as f32;
    }
    // qform: proper rotation plus qfac for left-handed grids.
    let mut r = dirs_ras;
    let qfac = if r.determinant() < 0.0 {
        r.set_column(2, &(-r.column(2)));
        -1.0
    } else {
        1.0
    };
    let (rotation, shear_deg) = nearest_rotation(&r).ok_or_else(|| {
        write_err("the volume's voxel axes are degenerate (no rotation fits them)".into())
    })?;
    let mut warnings = Vec::new();
    if shear_deg > SHEAR_NOTICE_DEG {
        warnings.push(format!(
            "the voxel axes are not orthogonal (sheared by up to {shear_deg:.2}°): the sform \
             keeps the exact geometry, the qform holds its nearest rotation"
        ));
    }
    let q = UnitQuaternion::from_rotation_matrix(&rotation);
    let (w, b, c, d) = (q.w, q.i, q.j, q.k);
    let sign = if w < 0.0 { -1.0 } else { 1.0 };
    header.quatern_b = (sign * b) as f32;
    header.quatern_c = (sign * c) as f32;
    header.quatern_d = (sign * d) as f32;
    header.quatern_x = t_ras.x as f32;
    header.quatern_y = t_ras.y as f32;
    header.quatern_z = t_ras.z as f32;
    header.pixdim = [
        qfac as f32,
        g.spacing_mm[0] as f32,
        g.spacing_mm[1] as f32,
        g.spacing_mm[2] as f32,
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    header.xyzt_units = 2; // millimetres
    header
        .set_description_str("twinplan")
        .map_err(|e| write_err(e.to_string()))?;

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "volume.nii".into());
    let gz = name.to_ascii_lowercase().ends_with(".gz");
    // The nifti writer derives its output name from the extension, so the temporary name
    // has no other dots. It is created exclusively under a random name (a link planted
    // there is never followed); the writer then fills that same file.
    let tmp = crate::fsutil::partial_file(
        crate::fsutil::folder_of(path),
        false,
        if gz { ".nii.gz" } else { ".nii" },
    )
    .map_err(|e| write_err(e.kind().to_string()))?;
    let data = volume.voxels.view().permuted_axes([2, 1, 0]);
    let writer = WriterOptions::new(tmp.path())
        .reference_header(&header)
        .compress(gz);
    // The writer always stores scl_slope = 1, scl_inter = 0: a volume whose samples are
    // not real values already is written as float32 real values instead.
    let written = if volume.value_scale.is_identity() {
        writer.write_nifti(&data)
    } else {
        let scale = volume.value_scale;
        writer.write_nifti(&data.mapv(|v| scale.real(v) as f32))
    };
    // On an error the temporary is removed as it is dropped.
    written.map_err(|e| write_err(e.to_string()))?;
    crate::fsutil::persist(tmp, path).map_err(|e| write_err(e.kind().to_string()))?;
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_claiming_100_gb_is_refused_before_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("huge.nii");
        let g = Geometry::axis_aligned([4, 4, 4], [1.0; 3], [0.0; 3]);
        let v = Volume::new(Array3::zeros((4, 4, 4)), g).expect("shape");
        write_nifti(&v, &path).expect("write");
        let mut bytes = std::fs::read(&path).expect("read");
        // dim[1..=3] (i16 at byte 42, 44, 46): 10000 × 10000 × 500 int16 = 100 GB.
        for (at, n) in [(42usize, 10_000i16), (44, 10_000), (46, 500)] {
            bytes[at..at + 2].copy_from_slice(&n.to_le_bytes());
        }
        std::fs::write(&path, &bytes).expect("write");
        let e = read_nifti(&path).expect_err("refused");
        assert!(matches!(e, NiftiError::TooLarge(..)), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("GB") && text.contains("10000×10000×500"),
            "{text}"
        );
    }

    #[test]
    fn sidecar_modality_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nii = dir.path().join("sub-01_ct.nii.gz");
        assert_eq!(sidecar_path(&nii), Some(dir.path().join("sub-01_ct.json")));
        assert_eq!(sidecar_modality(&nii), None);
        std::fs::write(
            dir.path().join("sub-01_ct.json"),
            r#"{"Modality": "ct", "Manufacturer": "X"}"#,
        )
        .expect("write");
        assert_eq!(sidecar_modality(&nii).as_deref(), Some("CT"));
        std::fs::write(dir.path().join("sub-01_ct.json"), "{not json").expect("write");
        assert_eq!(sidecar_modality(&nii), None);
        assert_eq!(sidecar_path(Path::new("a.json")), None);
    }

    #[test]
    fn oblique_left_handed_round_trip() {
        let i = Vector3::new(0.8, 0.0, 0.6);
        let j = Vector3::new(0.0, 1.0, 0.0);
        let k = -i.cross(&j); // left-handed voxel frame
        let g = Geometry::new([5, 4, 3], [0.7, 0.9, 2.5], [-100.5, 20.25, 33.0], i, j, k);
        let vox = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| (100 * k + 10 * j + i) as i16 - 50);
        let mut v = Volume::new(vox, g.clone()).expect("shape");
        v.value_scale = ValueScale {
            slope: 0.5,
            intercept: -3.0,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["a.nii", "b.nii.gz"] {
            let p = dir.path().join(name);
            write_nifti(&v, &p).expect("write");
            let back = read_nifti(&p).expect("read");
            assert!(back.geometry.max_corner_distance_mm(&g) < 1e-4, "{name}");
            let real = |vol: &Volume| vol.voxels.mapv(|s| vol.value_scale.real(s));
            let diff = (real(&back) - real(&v)).mapv(f64::abs);
            assert!(diff.iter().all(|d| *d < 1e-3), "{name}");
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            2,
            "no temp files left"
        );
    }
}
