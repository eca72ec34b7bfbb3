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
    let text = std::fs::read_to_string(sidecar_path(path)?).ok()?;
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

/// The RAS affine's 3×3 part (columns = voxel axes scaled by spacing) and translation.
fn ras_affine(h: &nifti::NiftiHeader) -> (Matrix3<f64>, Vector3<f64>) {
    let pix = |n: usize| {
        let v = f64::from(h.pixdim[n]).abs();
        if v > 0.0 && v.is_finite() { v } else { 1.0 }
    };
    if h.sform_code > 0 {
        let r = [h.srow_x, h.srow_y, h.srow_z];
        let m = Matrix3::from_fn(|row, col| f64::from(r[row][col]));
        let t = Vector3::new(f64::from(r[0][3]), f64::from(r[1][3]), f64::from(r[2][3]));
        if m.determinant().abs() > 1e-12 && m.iter().all(|v| v.is_finite()) {
            return (m, t);
        }
    }
    if h.qform_code > 0 {
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
        return (r * s, t);
    }
    (
        Matrix3::from_diagonal(&Vector3::new(pix(1), pix(2), pix(3))),
        Vector3::zeros(),
    )
}

/// Reads only the header of a NIfTI file and returns its grid in LPS.
pub fn read_nifti_geometry(path: &Path) -> Result<Geometry, NiftiError> {
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
    geometry_from_header(&header, [dim(1), dim(2), dim(3)]).map_err(|detail| {
        NiftiError::Unsupported {
            detail,
            path: path.to_path_buf(),
        }
    })
}

fn geometry_from_header(header: &nifti::NiftiHeader, dims: [usize; 3]) -> Result<Geometry, String> {
    let (m_ras, t_ras) = ras_affine(header);
    let flip = Matrix3::from_diagonal(&Vector3::from(LPS_FROM_RAS));
    let m = flip * m_ras;
    let t = flip * t_ras;
    let spacing = [m.column(0).norm(), m.column(1).norm(), m.column(2).norm()];
    if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return Err("degenerate voxel axes".into());
    }
    Ok(Geometry::new(
        dims,
        spacing,
        [t.x, t.y, t.z],
        m.column(0).into(),
        m.column(1).into(),
        m.column(2).into(),
    ))
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
        u64::from(u32::from_le_bytes(t))
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
    // The header alone first: its sizes decide whether the data may be read at all.
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
    let extra: usize = (4..=ndim).map(dim).product();
    let mut warnings = Vec::new();
    if extra > 1 {
        warnings.push(VolumeWarning::Other {
            message: format!("4D NIfTI with {extra} volumes: the first is shown"),
        });
    }
    let datatype = header.data_type().map_err(|e| unsupported(e.to_string()))?;
    let slope = f64::from(header.scl_slope);
    let inter = f64::from(header.scl_inter);
    let identity_scale = slope == 0.0 || !slope.is_finite() || (slope == 1.0 && inter == 0.0);
    let small_int = matches!(
        datatype,
        NiftiType::Int16 | NiftiType::Uint8 | NiftiType::Int8
    );
    let dims = (ni, nj, nk);
    let volume = obj.into_volume();
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

    let geometry = geometry_from_header(&header, [ni, nj, nk]).map_err(unsupported)?;
    let mut v = Volume::new(voxels, geometry).map_err(|e| unsupported(e.to_string()))?;
    v.value_scale = value_scale;
    v.warnings = warnings;
    v.description = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(v)
}

/// Writes a volume as NIfTI-1 (gzip when the name ends in `.gz`), atomically.
pub fn write_nifti(volume: &Volume, path: &Path) -> Result<(), NiftiError> {
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
    let q = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix(&r));
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
    // must have no other dots.
    let tmp = path.with_file_name(format!(
        "twinplan-partial-{}{}",
        std::process::id(),
        if gz { ".nii.gz" } else { ".nii" }
    ));
    let data = volume.voxels.view().permuted_axes([2, 1, 0]);
    let writer = WriterOptions::new(&tmp)
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
    let result = written
        .map_err(|e| write_err(e.to_string()))
        .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| write_err(e.kind().to_string())));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
