//! Series loading: a scanned stack → a [`Volume`] in patient space.
//!
//! Pixels are decoded in parallel, one file per task, straight into the slices of the output
//! array. Uncompressed little-endian files take a fast path that reads the pixel bytes from
//! the end of the file into the output memory; every other transfer syntax goes through
//! dicom-pixeldata. Samples are masked/sign-extended per BitsStored, mapped through the
//! Modality LUT (see [`crate::volume::quantize`]), ordered by position along the slice normal
//! and made regular ([`crate::volume::regularize`]). No UI, no logging of patient identity.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dicom_pixeldata::PixelDecoder;
use nalgebra::Vector3;
use ndarray::{Array3, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::header::ImageHeader;
use super::scan::{FrameRef, SeriesInfo, frame_normal};
use crate::progress::Progress;
use crate::volume::quantize::{self, QuantizePlan, Rescale, SliceMap, normalize_stored};
use crate::volume::regularize::{StackGeometry, regularize};
use crate::volume::{Geometry, Volume, VolumeWarning};

/// Why a series could not be loaded. Paths come last; no patient identity.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the series holds no images")]
    Empty,
    #[error("loading was cancelled")]
    Cancelled,
    #[error("cannot read pixel data ({message}): {path}")]
    Decode { message: String, path: PathBuf },
    #[error("frame {frame} holds {found} bytes of pixel data where {expected} are needed: {path}")]
    ShortPixelData {
        frame: u32,
        found: usize,
        expected: usize,
        path: PathBuf,
    },
    #[error(
        "damaged DICOM: its image size (Rows × Columns × frames) declares {needed} bytes of \
         pixel data, the file has {size}: {path}"
    )]
    PixelsBeyondFile {
        needed: u64,
        size: u64,
        path: PathBuf,
    },
    #[error(
        "damaged DICOM: its header declares {columns}×{rows} pixels (Columns × Rows) but its \
         compressed image is {encoded_columns}×{encoded_rows}: {path}"
    )]
    SizeDiffersFromCodestream {
        encoded_columns: u32,
        encoded_rows: u32,
        columns: u16,
        rows: u16,
        path: PathBuf,
    },
    #[error(
        "damaged DICOM: its image size (Rows × Columns × frames) declares {needed} bytes of \
         pixel data, more than RLE can expand the file's {size} bytes to: {path}"
    )]
    BeyondRleExpansion {
        needed: u64,
        size: u64,
        path: PathBuf,
    },
    #[error("unsupported pixel format ({detail}): {path}")]
    Unsupported { detail: String, path: PathBuf },
    #[error("not loaded: {0}")]
    TooLarge(crate::memory::TooLarge),
    #[error("the images do not form one volume: {reason}")]
    NotAVolume { reason: String },
}

const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// Loads one stack as a volume.
pub fn load_series(series: &SeriesInfo, progress: &Progress) -> Result<Volume, LoadError> {
    if series.frames.is_empty() {
        return Err(LoadError::Empty);
    }
    if let (1, Some(mosaic)) = (series.frames.len(), series.frames[0].file.mosaic.clone()) {
        return load_mosaic(series, &mosaic, progress);
    }
    let mut warnings = Vec::new();
    let (frames, stack) = order_frames(series, &mut warnings)?;
    let nk = frames.len();
    let (rows, cols) = (series.rows as usize, series.columns as usize);
    check_size(nk, rows, cols, &frames[0].file.path)?;
    check_native_pixels_present(&frames)?;
    check_compressed_sizes(&frames)?;
    progress.set_total(nk as u64);

    let rescales: Vec<Rescale> = frames.iter().map(|f| f.info().rescale).collect();
    // First pass with a plan guessed from the headers; the actual sample ranges decide
    // whether a second pass with another plan is needed (rare: wide unsigned MR data).
    let guessed: Vec<(i64, i64)> = frames.iter().map(|f| guessed_range(&f.file)).collect();
    let first_plan = quantize::plan(&rescales, &guessed);
    let mut voxels = Array3::<i16>::zeros((nk, rows, cols));
    advise_huge_pages(&mut voxels);
    let (ranges, colour) = decode_all(&frames, &first_plan, &mut voxels, progress)?;
    let final_plan = quantize::plan(&rescales, &ranges);
    if final_plan.slices != first_plan.slices {
        progress.set_total(nk as u64);
        decode_all(&frames, &final_plan, &mut voxels, progress)?;
    }
    if colour {
        warnings.push(VolumeWarning::ColourToLuminance);
    }
    if let Some(w) = final_plan.warning.clone() {
        warnings.push(w);
    }
    let numbers: Vec<Option<i32>> = frames.iter().map(image_number).collect();
    let (voxels, geometry, image_numbers) = match stack {
        Some(stack) => {
            let r = regularize(voxels, &stack, None).map_err(|e| LoadError::NotAVolume {
                reason: e.to_string(),
            })?;
            warnings.extend(r.warnings);
            let image_numbers = r
                .source_slice
                .iter()
                .map(|s| s.and_then(|k| numbers.get(k).copied().flatten()))
                .collect();
            (r.voxels, r.geometry, image_numbers)
        }
        None => {
            let first = frames[0].info();
            let ps = first.pixel_spacing.unwrap_or([1.0, 1.0]);
            let dk = frames[0]
                .file
                .spacing_between_slices
                .or(frames[0].file.slice_thickness)
                .filter(|d| *d > 0.0)
                .unwrap_or(1.0);
            let g = Geometry::axis_aligned([cols, rows, nk], [ps[1], ps[0], dk], [0.0; 3]);
            (voxels, g, numbers)
        }
    };
    for note in &series.notes {
        warnings.push(VolumeWarning::Other {
            message: note.clone(),
        });
    }
    let mut volume = finish(series, voxels, geometry, final_plan.value_scale, warnings)?;
    volume.image_numbers = image_numbers;
    Ok(volume)
}

/// The number a scanner gives one image: the frame number inside a multi-frame file, else
/// the file's InstanceNumber.
fn image_number(f: &FrameRef) -> Option<i32> {
    if f.file.number_of_frames > 1 {
        i32::try_from(f.frame).ok().map(|n| n + 1)
    } else {
        f.file.instance_number
    }
}

/// A Siemens mosaic: one image holding `images` slices as tiles, row by row. Geometry as
/// dcm2niix computes it: ImagePositionPatient refers to the whole mosaic's corner, so it is
/// moved to the first tile's corner; slices step along the CSA slice normal (row × column
/// when absent) by SpacingBetweenSlices.
fn load_mosaic(
    series: &SeriesInfo,
    mosaic: &super::header::MosaicInfo,
    progress: &Progress,
) -> Result<Volume, LoadError> {
    let frame = &series.frames[0];
    // The checks every other series passes before anything is decoded (a mosaic stored as
    // RLE with a damaged fragment header made the decoder reserve 17 GB).
    check_native_pixels_present(std::slice::from_ref(frame))?;
    check_compressed_sizes(std::slice::from_ref(frame))?;
    let h = &frame.file;
    let (rows, cols) = (h.rows as usize, h.columns as usize);
    let n = mosaic.images as usize;
    let per_row = (n as f64).sqrt().ceil() as usize;
    let (tr, tc) = (rows / per_row.max(1), cols / per_row.max(1));
    if n == 0 || per_row * per_row < n || tr == 0 || tc == 0 {
        return Err(LoadError::NotAVolume {
            reason: format!("mosaic of {n} images does not fit a {cols}x{rows} image"),
        });
    }
    check_size(n, tr, tc, &h.path)?;
    progress.set_total(1);
    let rescales = [frame.info().rescale];
    let plan0 = quantize::plan(&rescales, &[guessed_range(h)]);
    let mut whole = Array3::<i16>::zeros((1, rows, cols));
    let (ranges, _) = decode_all(std::slice::from_ref(frame), &plan0, &mut whole, progress)?;
    let plan = quantize::plan(&rescales, &ranges);
    if plan.slices != plan0.slices {
        decode_all(std::slice::from_ref(frame), &plan, &mut whole, progress)?;
    }
    let voxels = Array3::from_shape_fn((n, tr, tc), |(k, j, i)| {
        whole[(0, (k / per_row) * tr + j, (k % per_row) * tc + i)]
    });
    let info = frame.info();
    let mut warnings = vec![VolumeWarning::MosaicSplit { tiles: n }];
    let geometry = match (info.orientation, info.position) {
        (Some(o), Some(p)) => {
            let row = Vector3::new(o[0], o[1], o[2]).normalize();
            let col = Vector3::new(o[3], o[4], o[5]);
            let col = (col - row * col.dot(&row)).normalize();
            let ps = info.pixel_spacing.unwrap_or([1.0, 1.0]);
            let corner = Vector3::from(p)
                + row * ((cols - tc) as f64 * 0.5 * ps[1])
                + col * ((rows - tr) as f64 * 0.5 * ps[0]);
            let normal = mosaic
                .slice_normal
                .map(Vector3::from)
                .filter(|v| v.norm() > 0.5)
                .unwrap_or_else(|| row.cross(&col))
                .normalize();
            let dk = h
                .spacing_between_slices
                .or(h.slice_thickness)
                .filter(|d| *d > 0.0)
                .unwrap_or(1.0);
            Geometry::new(
                [tc, tr, n],
                [ps[1], ps[0], dk],
                [corner.x, corner.y, corner.z],
                row,
                col,
                normal,
            )
        }
        _ => {
            warnings.push(VolumeWarning::NoPatientGeometry);
            Geometry::axis_aligned([tc, tr, n], [1.0; 3], [0.0; 3])
        }
    };
    if let Some(w) = plan.warning.clone() {
        warnings.push(w);
    }
    finish(series, voxels, geometry, plan.value_scale, warnings)
}

/// Asks the kernel to back a large, still untouched output array with transparent huge
/// pages: filling 200 MB through 4 KiB page faults costs a third of a CT load otherwise.
/// Advisory only; nothing changes if the kernel declines.
fn advise_huge_pages(voxels: &mut Array3<i16>) {
    #[cfg(target_os = "linux")]
    if let Some(slice) = voxels.as_slice_mut() {
        const HUGE: usize = 2 << 20;
        let start = slice.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(slice);
        let aligned = start.div_ceil(HUGE) * HUGE;
        if end > aligned + HUGE {
            let len = (end - aligned) / HUGE * HUGE;
            // SAFETY: [aligned, aligned + len) lies inside `slice`, which we borrow mutably;
            // MADV_HUGEPAGE only changes how the kernel backs those pages, never their content.
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = voxels;
}

/// Assembles the loaded volume with the series' labels and logs its warnings.
fn finish(
    series: &SeriesInfo,
    voxels: Array3<i16>,
    geometry: Geometry,
    value_scale: crate::volume::ValueScale,
    warnings: Vec<VolumeWarning>,
) -> Result<Volume, LoadError> {
    geometry
        .check_plausible()
        .map_err(|reason| LoadError::NotAVolume { reason })?;
    let mut volume = Volume::new(voxels, geometry).map_err(|e| LoadError::NotAVolume {
        reason: e.to_string(),
    })?;
    volume.value_scale = value_scale;
    volume.scanner_window = series.frames.first().and_then(|f| f.file.window);
    volume.modality = series.modality.clone();
    volume.series_uid = Some(series.series_uid.clone());
    let first = series.frames.first().map(|f| &f.file);
    let uid = |u: &String| Some(u.trim().to_string()).filter(|u| !u.is_empty());
    volume.study_uid = first.and_then(|f| uid(&f.study_uid));
    volume.frame_of_reference_uid = first.and_then(|f| uid(&f.frame_of_reference_uid));
    volume.description = series.description.clone();
    for w in &warnings {
        tracing::info!(series = %series.id(), "{w}");
    }
    volume.warnings = warnings;
    Ok(volume)
}

/// Refuses, before allocating, a volume larger than `memory::MAX_VOXELS` or than this
/// machine can hold with its surfaces, so a damaged header cannot make the process abort
/// on an impossible allocation or swap the machine to a halt.
fn check_size(nk: usize, rows: usize, cols: usize, path: &Path) -> Result<(), LoadError> {
    crate::memory::check_grid(
        "this series",
        &[cols as u64, rows as u64, nk as u64],
        crate::memory::WORKING_BYTES_PER_VOXEL,
    )
    .map(|_| ())
    .map_err(|e| {
        tracing::debug!("refused before allocating: {}", path.display());
        LoadError::TooLarge(e)
    })
}

/// The files the frames come from, with how many frames each gives, for files `pick` accepts.
fn frames_per_file(
    frames: &[FrameRef],
    pick: impl Fn(&ImageHeader) -> bool,
) -> HashMap<&Path, (u64, &ImageHeader)> {
    let mut per_file: HashMap<&Path, (u64, &ImageHeader)> = HashMap::new();
    for f in frames {
        if pick(&f.file) {
            per_file
                .entry(f.file.path.as_path())
                .or_insert((0, &*f.file))
                .0 += 1;
        }
    }
    per_file
}

/// Bytes of `n` decoded frames as the header describes them (saturating).
fn decoded_bytes(h: &ImageHeader, n: u64) -> u64 {
    (u64::from(h.rows)
        * u64::from(h.columns)
        * u64::from(h.samples_per_pixel.max(1))
        * u64::from(h.bits_allocated.max(1)).div_ceil(8))
    .saturating_mul(n)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Uncompressed pixel data lies inside its file: a file smaller than the frames the series
/// takes from it cannot hold them (a damaged Rows or Columns made a 2 MB file claim 134 MB),
/// so the series is refused before its volume is allocated. Compressed frames: see
/// [`check_compressed_sizes`].
fn check_native_pixels_present(frames: &[FrameRef]) -> Result<(), LoadError> {
    for (path, (n, h)) in frames_per_file(frames, |h| is_native(&h.transfer_syntax)) {
        let needed = decoded_bytes(h, n);
        let size = file_size(path);
        if needed > size {
            return Err(LoadError::PixelsBeyondFile {
                needed,
                size,
                path: path.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Compressed frames: the image size their codestream declares (JPEG, JPEG-LS, JPEG 2000)
/// must be Rows × Columns, and RLE frames cannot expand beyond
/// [`codestream::RLE_MAX_EXPANSION`] times their file — so a damaged Rows or Columns in a
/// small compressed file is refused before its volume, or a decoder's buffer, is allocated.
/// Reads a few kilobytes of each file; a codestream whose header cannot be read is left to
/// the decoder.
fn check_compressed_sizes(frames: &[FrameRef]) -> Result<(), LoadError> {
    use super::codestream::{self, Family};
    let compressed = frames_per_file(frames, |h| Family::of(&h.transfer_syntax).is_some());
    for (path, (n, h)) in compressed {
        let Some(family) = Family::of(&h.transfer_syntax) else {
            continue;
        };
        if family == Family::Rle {
            let needed = decoded_bytes(h, n);
            let size = file_size(path);
            if needed > size.saturating_mul(codestream::RLE_MAX_EXPANSION) {
                return Err(LoadError::BeyondRleExpansion {
                    needed,
                    size,
                    path: path.to_path_buf(),
                });
            }
            if let Some(at) = h.pixel_data_at
                && let Ok(Some(problem)) = codestream::rle_problem(path, at)
            {
                return Err(LoadError::Decode {
                    message: format!("damaged RLE data: {problem}"),
                    path: path.to_path_buf(),
                });
            }
            continue;
        }
        let Some(at) = h.pixel_data_at else { continue };
        let Ok(Some(fragment)) = codestream::first_fragment(path, at) else {
            continue;
        };
        let Some(size) = codestream::declared_size(family, &fragment) else {
            continue;
        };
        if size.columns != u32::from(h.columns) || size.rows != u32::from(h.rows) {
            return Err(LoadError::SizeDiffersFromCodestream {
                encoded_columns: size.columns,
                encoded_rows: size.rows,
                columns: h.columns,
                rows: h.rows,
                path: path.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Transfer syntaxes whose pixel data is stored as it is (not encapsulated).
fn is_native(ts: &str) -> bool {
    matches!(
        ts.trim_end_matches(['\0', ' ']),
        IMPLICIT_LE | EXPLICIT_LE | "1.2.840.10008.1.2.2"
    )
}

fn guessed_range(h: &ImageHeader) -> (i64, i64) {
    let bits = h.bits_stored.min(16);
    if h.signed {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    } else if bits >= 16 {
        // Unsigned 16-bit CT rarely uses the top bit; guess the common case.
        (0, 32767)
    } else {
        (0, (1i64 << bits) - 1)
    }
}

/// Sorts frames along the slice normal and drops duplicates; returns the stack geometry, or
/// `None` (with a warning) when the images carry no patient geometry. Cheap (headers only),
/// so `info` uses it to report spacing and irregularities before anything is loaded.
pub fn order_frames(
    series: &SeriesInfo,
    warnings: &mut Vec<VolumeWarning>,
) -> Result<(Vec<FrameRef>, Option<StackGeometry>), LoadError> {
    let mut frames = series.frames.clone();
    let first = frames[0].info().clone();
    let have_geometry = frames
        .iter()
        .all(|f| f.info().position.is_some() && f.info().orientation.is_some());
    let normal = frame_normal(&first);
    let (Some(orientation), Some(normal), true) = (first.orientation, normal, have_geometry) else {
        frames.sort_by_key(|f| (f.file.instance_number, f.file.path.clone(), f.frame));
        warnings.push(VolumeWarning::NoPatientGeometry);
        return Ok((frames, None));
    };
    let row = Vector3::new(orientation[0], orientation[1], orientation[2]).normalize();
    let col = Vector3::new(orientation[3], orientation[4], orientation[5]);
    let col = (col - row * col.dot(&row)).normalize();
    let z_of = |f: &FrameRef| {
        let p = f.info().position.unwrap_or_default();
        Vector3::new(p[0], p[1], p[2]).dot(&normal)
    };
    let mut keyed: Vec<(f64, FrameRef)> = frames.into_iter().map(|f| (z_of(&f), f)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let before = keyed.len();
    keyed.dedup_by(|b, a| (b.0 - a.0).abs() < 1e-3);
    if keyed.len() < before {
        warnings.push(VolumeWarning::DuplicatePositions {
            count: before - keyed.len(),
        });
    }
    let frames: Vec<FrameRef> = keyed.into_iter().map(|(_, f)| f).collect();
    let ps = match first.pixel_spacing {
        Some(ps) => ps,
        None => {
            warnings.push(VolumeWarning::Other {
                message: "PixelSpacing absent; 1 mm assumed in-plane".into(),
            });
            [1.0, 1.0]
        }
    };
    let positions = frames
        .iter()
        .map(|f| Vector3::from(f.info().position.unwrap_or_default()))
        .collect();
    let h = &frames[0].file;
    let stack = StackGeometry {
        row_dir: row,
        col_dir: col,
        pixel_spacing_mm: [ps[1], ps[0]],
        positions,
        single_slice_spacing_mm: h
            .spacing_between_slices
            .or(h.slice_thickness)
            .filter(|d| *d > 0.0)
            .unwrap_or(1.0),
    };
    Ok((frames, Some(stack)))
}

/// Decodes every frame into its slice of `voxels` with `plan`; returns each slice's raw
/// sample range and whether any image was colour.
fn decode_all(
    frames: &[FrameRef],
    plan: &QuantizePlan,
    voxels: &mut Array3<i16>,
    progress: &Progress,
) -> Result<(Vec<(i64, i64)>, bool), LoadError> {
    // Group output slices by file so a multi-frame file is decoded once.
    let mut by_file: BTreeMap<PathBuf, FileJob> = BTreeMap::new();
    for (k, f) in frames.iter().enumerate() {
        by_file
            .entry(f.file.path.clone())
            .or_insert_with(|| (f.file.clone(), Vec::new()))
            .1
            .push((k, f.frame));
    }
    let mut planes: Vec<Option<ArrayViewMut2<i16>>> =
        voxels.axis_iter_mut(Axis(0)).map(Some).collect();
    let mut jobs = Vec::with_capacity(by_file.len());
    for (_, (header, slots)) in by_file {
        let targets: Vec<(usize, u32, ArrayViewMut2<i16>)> = slots
            .into_iter()
            .filter_map(|(k, frame)| planes[k].take().map(|p| (k, frame, p)))
            .collect();
        jobs.push((header, targets));
    }
    let results: Vec<Result<Vec<Decoded>, LoadError>> = jobs
        .into_par_iter()
        .map(|(header, targets)| {
            if progress.is_cancelled() {
                return Err(LoadError::Cancelled);
            }
            let n = targets.len() as u64;
            let r = decode_file(&header, targets, plan);
            progress.inc(n);
            r
        })
        .collect();
    let mut ranges = vec![(0i64, 0i64); frames.len()];
    let mut colour = false;
    for r in results {
        for (k, range, c) in r? {
            ranges[k] = range;
            colour |= c;
        }
    }
    Ok((ranges, colour))
}

type Target<'a> = (usize, u32, ArrayViewMut2<'a, i16>);
/// One decoded slice: its index, raw sample range and whether it was colour.
type Decoded = (usize, (i64, i64), bool);
/// A file and the (slice index, frame number) pairs it fills.
type FileJob = (Arc<ImageHeader>, Vec<(usize, u32)>);

fn decode_file(
    h: &ImageHeader,
    targets: Vec<Target<'_>>,
    plan: &QuantizePlan,
) -> Result<Vec<Decoded>, LoadError> {
    let fast = !h.no_meta
        && (h.transfer_syntax == EXPLICIT_LE || h.transfer_syntax == IMPLICIT_LE)
        && h.bits_allocated == 16
        && h.samples_per_pixel == 1
        && u32::from(h.high_bit) + 1 == u32::from(h.bits_stored);
    if fast {
        return decode_native_fast(h, targets, plan);
    }
    decode_general(h, targets, plan)
}

/// Finds the byte offset of the pixel data value when it is the file's last element.
fn locate_trailing_pixel_data(
    file: &mut std::fs::File,
    file_len: u64,
    value_len: u64,
    explicit: bool,
) -> Option<u64> {
    let header_len = if explicit { 12 } else { 8 };
    let padded = value_len + (value_len & 1);
    for len in [padded, value_len] {
        if file_len < len + header_len {
            continue;
        }
        let off = file_len - len;
        let mut hdr = [0u8; 12];
        file.seek(SeekFrom::Start(off - header_len)).ok()?;
        file.read_exact(&mut hdr[..header_len as usize]).ok()?;
        if hdr[..4] != [0xE0, 0x7F, 0x10, 0x00] {
            continue;
        }
        let declared = if explicit {
            let vr_ok = &hdr[4..6] == b"OW" || &hdr[4..6] == b"OB";
            if !vr_ok || hdr[6..8] != [0, 0] {
                continue;
            }
            u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]])
        } else {
            u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]])
        };
        if u64::from(declared) == len {
            return Some(off);
        }
    }
    None
}

/// Fast path for uncompressed little-endian 16-bit data whose pixel data ends the file.
/// Falls back to [`decode_general`] when the pixel data is not the file's last element.
fn decode_native_fast(
    h: &ImageHeader,
    targets: Vec<Target<'_>>,
    plan: &QuantizePlan,
) -> Result<Vec<Decoded>, LoadError> {
    let io_err = |e: std::io::Error| LoadError::Decode {
        message: e.kind().to_string(),
        path: h.path.clone(),
    };
    let frame_len = h.rows as u64 * h.columns as u64 * 2;
    let value_len = frame_len * u64::from(h.number_of_frames);
    let mut file = std::fs::File::open(&h.path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let explicit = h.transfer_syntax == EXPLICIT_LE;
    let Some(offset) = locate_trailing_pixel_data(&mut file, file_len, value_len, explicit) else {
        return decode_general(h, targets, plan);
    };
    let mut out = Vec::with_capacity(targets.len());
    for (k, frame, mut plane) in targets {
        let Some(slice) = plane.as_slice_mut() else {
            return Err(LoadError::Decode {
                message: "internal: output slice not contiguous".into(),
                path: h.path.clone(),
            });
        };
        file.seek(SeekFrom::Start(offset + u64::from(frame) * frame_len))
            .map_err(io_err)?;
        file.read_exact(bytemuck::cast_slice_mut::<i16, u8>(slice))
            .map_err(io_err)?;
        let map = plan.slices[k];
        let range = map_in_place(slice, h.bits_stored, h.signed, map);
        out.push((k, range, false));
    }
    Ok(out)
}

/// Converts little-endian stored samples (already in `slice`) to voxels; returns the raw range.
fn map_in_place(slice: &mut [i16], bits_stored: u16, signed: bool, map: SliceMap) -> (i64, i64) {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    if map.integer && map.a == 1.0 && bits_stored <= 16 {
        // Hot loop: mask/sign-extend, add the intercept, saturate. i32 throughout so it
        // vectorises.
        let c = map.c as i32;
        let shift = 32 - u32::from(bits_stored);
        let (mut lo32, mut hi32) = (i32::MAX, i32::MIN);
        for v in slice.iter_mut() {
            let raw_bits = u32::from(u16::from_le(*v as u16));
            let raw = if signed {
                ((raw_bits << shift) as i32) >> shift
            } else {
                ((raw_bits << shift) >> shift) as i32
            };
            lo32 = lo32.min(raw);
            hi32 = hi32.max(raw);
            *v = (raw + c).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
        }
        lo = i64::from(lo32);
        hi = i64::from(hi32);
    } else {
        for v in slice.iter_mut() {
            let raw = normalize_stored(u32::from(u16::from_le(*v as u16)), bits_stored, signed);
            lo = lo.min(raw);
            hi = hi.max(raw);
            *v = map.map(raw).0;
        }
    }
    if lo > hi { (0, 0) } else { (lo, hi) }
}

/// Any transfer syntax, through dicom-pixeldata.
fn decode_general(
    h: &ImageHeader,
    targets: Vec<Target<'_>>,
    plan: &QuantizePlan,
) -> Result<Vec<Decoded>, LoadError> {
    let path = &h.path;
    let obj = super::header::open_full(path, h.no_meta).map_err(|message| LoadError::Decode {
        message,
        path: path.clone(),
    })?;
    // The decoders panic on some malformed data (RLE segment offsets): caught, quietly.
    let decoded = crate::privacy::quietly(|| obj.decode_pixel_data().map(|d| d.to_owned()))
        .ok_or_else(|| LoadError::Decode {
            message: "decoder failed on malformed data".into(),
            path: path.clone(),
        })?
        .map_err(|e| LoadError::Decode {
            message: first_line(&e.to_string()),
            path: path.clone(),
        })?;
    let bytes_per_sample = usize::from(decoded.bits_allocated() / 8).max(1);
    let spp = usize::from(decoded.samples_per_pixel()).max(1);
    if !matches!(bytes_per_sample, 1 | 2 | 4) || !matches!(spp, 1 | 3) {
        return Err(LoadError::Unsupported {
            detail: format!(
                "{} bits allocated, {} samples per pixel",
                decoded.bits_allocated(),
                spp
            ),
            path: path.clone(),
        });
    }
    let (rows, cols) = (h.rows as usize, h.columns as usize);
    if decoded.rows() as usize != rows || decoded.columns() as usize != cols {
        return Err(LoadError::NotAVolume {
            reason: "decoded image size differs from the header".into(),
        });
    }
    let planar = matches!(
        decoded.planar_configuration(),
        dicom_pixeldata::PlanarConfiguration::PixelFirst
    );
    let frame_len = rows * cols * spp * bytes_per_sample;
    let data = decoded.data();
    let bits_stored = decoded.bits_stored().min(decoded.bits_allocated());
    let signed = h.signed;
    let mut out = Vec::with_capacity(targets.len());
    for (k, frame, mut plane) in targets {
        let start = frame as usize * frame_len;
        let Some(bytes) = data.get(start..start + frame_len) else {
            return Err(LoadError::ShortPixelData {
                frame,
                found: data.len().saturating_sub(start),
                expected: frame_len,
                path: path.clone(),
            });
        };
        let sample = |n: usize| -> i64 {
            let o = n * bytes_per_sample;
            let raw = match bytes_per_sample {
                1 => u32::from(bytes[o]),
                2 => u32::from(u16::from_ne_bytes([bytes[o], bytes[o + 1]])),
                _ => u32::from_ne_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]),
            };
            normalize_stored(raw, bits_stored, signed)
        };
        let map = plan.slices[k];
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        let n_pixels = rows * cols;
        for (idx, v) in plane.iter_mut().enumerate() {
            let raw = if spp == 1 {
                sample(idx)
            } else {
                let (r, g, b) = if planar {
                    (
                        sample(idx),
                        sample(idx + n_pixels),
                        sample(idx + 2 * n_pixels),
                    )
                } else {
                    (sample(3 * idx), sample(3 * idx + 1), sample(3 * idx + 2))
                };
                (0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64).round() as i64
            };
            lo = lo.min(raw);
            hi = hi.max(raw);
            *v = map.map(raw).0;
        }
        out.push((k, if lo > hi { (0, 0) } else { (lo, hi) }, spp == 3));
    }
    Ok(out)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

/// Convenience for tools and tests: scan `path` and load the only image stack, or the one
/// named by `selector` (UID, `UID#n` or series number).
pub fn load_path(
    path: &Path,
    selector: Option<&str>,
    progress: &Progress,
) -> Result<(Volume, super::scan::ScanReport), super::DicomError> {
    let report = super::scan::scan(path, progress).map_err(|e| super::DicomError::Io {
        message: e.kind().to_string(),
        path: path.to_path_buf(),
    })?;
    let series = super::select_series(&report, selector)?.clone();
    let volume = load_series(&series, progress)?;
    Ok((volume, report))
}
