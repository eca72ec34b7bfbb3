//! Mutation fuzzer of the readers: every DICOM and NIfTI file of a corpus folder is mutated
//! (bits flipped, bytes inserted, deleted, duplicated or overwritten; DICOM value lengths,
//! VRs and sequence item/delimiter tags corrupted; geometry and rescale values set to
//! finite-but-huge numbers, NaN, infinity and degenerate orientations; encapsulated
//! fragments split, corrupted, cut off and their RLE headers overwritten; NIfTI header
//! fields and units set to extremes, also inside `.nii.gz`), deflate bombs are built and
//! mutated, one input in a hundred is a FIFO, and each mutant goes the workstation's whole
//! way: folder scan, series load, and the first default structure's segmentation and
//! surface (without smoothing or decimation, which only see the mesh). A loaded grid or a
//! surface holding a coordinate that is not a finite number is a finding too.
//!
//! usage: fuzz_readers CORPUS_DIR WORK_DIR SECONDS [SEED]
//!
//! The input under test is always on disk at `WORK_DIR/case/` (the reader needs a path), so
//! when the process dies (abort, out of memory, killed by the watchdog) the driver script
//! (`benches/fuzz.sh`) keeps that file. In-process findings are written to
//! `WORK_DIR/findings/`: panics (caught), inputs that take over 10 s (the watchdog writes
//! the input and exits with code 3), and inputs whose peak heap use while reading exceeds 4×
//! the largest of the file, its unpacked size and the original file's volume (plus 64 MiB of
//! fixed costs), or while surfacing exceeds 4× the loaded volume plus its worst-case mesh.
//! Prints one JSON line at the end: inputs, seconds, outcome counts, findings, peak RSS.

// A measuring harness, not the application: it starts its own threads.
#![allow(clippy::disallowed_methods)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use twinplan::progress::Progress;
use twinplan::session::{open, structures};

/// Heap accounting: bytes in use now and the peak since the last reset.
struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// With `--replay`, `FUZZ_TRACE_MB=N` prints where the first allocation over N MiB comes from.
static TRACE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let trace = TRACE_BYTES.load(Ordering::Relaxed);
        if trace > 0 && layout.size() > trace {
            // Once: the backtrace allocates, and must not come back here.
            TRACE_BYTES.store(0, Ordering::Relaxed);
            eprintln!(
                "{} bytes from\n{}",
                layout.size(),
                std::backtrace::Backtrace::force_capture()
            );
        }
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = CURRENT.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: small, fast, reproducible from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

#[derive(Clone)]
struct Seed {
    name: String,
    bytes: Vec<u8>,
    gz: bool,
    nifti: bool,
    /// Heap budget for mutants of this file.
    budget: usize,
    /// Bytes of image data once unpacked (the file itself, or its volume).
    work: usize,
    /// A decompression bomb built by the fuzzer.
    bomb: bool,
}

fn is_dicom(bytes: &[u8]) -> bool {
    bytes.len() > 132 && &bytes[128..132] == b"DICM"
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(1 << 30)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

const VRS: [&[u8; 2]; 16] = [
    b"OB", b"OW", b"SQ", b"UN", b"UL", b"US", b"CS", b"DS", b"IS", b"LO", b"SH", b"UI", b"FD",
    b"SS", b"UT", b"AT",
];

/// Positions of explicit-VR element headers (a known VR right after a 4-byte tag).
fn vr_positions(b: &[u8]) -> Vec<usize> {
    (4..b.len().saturating_sub(2))
        .filter(|&i| {
            VRS.iter().any(|vr| &b[i..i + 2] == *vr) && b[i - 4..i].iter().any(|&x| x != 0)
        })
        .take(4096)
        .collect()
}

fn mutate_dicom(b: &mut Vec<u8>, rng: &mut Rng) {
    let vrs = vr_positions(b);
    if vrs.is_empty() {
        return;
    }
    let at = vrs[rng.below(vrs.len())];
    match rng.below(5) {
        // Another VR in place of this one (lengths are then read with the wrong width).
        0 => b[at..at + 2].copy_from_slice(VRS[rng.below(VRS.len())]),
        // A 16-bit length set to an extreme.
        1 if at + 4 <= b.len() => {
            let v: u16 = [0, 1, 0xFFFF, 0x7FFF, 0xFFFE][rng.below(5)];
            b[at + 2..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        // A 32-bit length (OB/OW/SQ/UN/UT) set to an extreme, undefined included.
        2 if at + 8 <= b.len() => {
            let v: u32 = [0, 1, 0xFFFF_FFFF, 0x7FFF_FFFF, 0xFFFF_FFFE, 0x8000_0000][rng.below(6)];
            b[at + 4..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        // Sequence nesting: an item, item delimiter or sequence delimiter tag dropped in.
        _ => {
            let tag: [u8; 4] = [
                [0xFE, 0xFF, 0x00, 0xE0],
                [0xFE, 0xFF, 0x0D, 0xE0],
                [0xFE, 0xFF, 0xDD, 0xE0],
            ][rng.below(3)];
            let len: u32 = [0, 0xFFFF_FFFF, 8, 0x4000_0000][rng.below(4)];
            let mut ins = tag.to_vec();
            ins.extend_from_slice(&len.to_le_bytes());
            let pos = at.saturating_sub(4);
            b.splice(pos..pos, ins);
        }
    }
}

fn mutate_nifti_header(b: &mut [u8], rng: &mut Rng) {
    if b.len() < 352 {
        return;
    }
    // (offset, width) of dim[0..8], datatype, bitpix, pixdim[0..8], vox_offset, scl_slope,
    // scl_inter, qform_code, sform_code, quatern b..d, srow_x..z.
    let mut fields: Vec<(usize, usize)> = (0..8).map(|i| (40 + 2 * i, 2)).collect();
    fields.extend([
        (70, 2),
        (72, 2),
        (108, 4),
        (112, 4),
        (116, 4),
        (252, 2),
        (254, 2),
    ]);
    fields.extend((0..8).map(|i| (76 + 4 * i, 4)));
    fields.extend((0..3).map(|i| (256 + 4 * i, 4)));
    fields.extend((0..12).map(|i| (280 + 4 * i, 4)));
    let (off, width) = fields[rng.below(fields.len())];
    if width == 2 {
        let v: i16 = [
            0,
            1,
            -1,
            i16::MAX,
            i16::MIN,
            7,
            3000,
            2 + rng.below(20) as i16,
        ][rng.below(8)];
        b[off..off + 2].copy_from_slice(&v.to_le_bytes());
    } else {
        // Finite but huge (an attack's favourite), not numbers, tiny, and plain values.
        let v: f32 = [
            0.0,
            -1.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
            1e38,
            f32::MAX,
            -f32::MAX,
            1e-30,
            f32::MIN_POSITIVE,
            352.0,
            1e9,
            1e4,
        ][rng.below(15)];
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    // Now and then the spatial unit too (metre, micron, nonsense).
    if rng.below(4) == 0 {
        b[123] = [0, 1, 2, 3, 0x0A, 0xFF][rng.below(6)];
    }
}

/// Values an attacker writes into a DICOM decimal string: finite but huge, not numbers,
/// tiny, negative zero, and degenerate vectors for orientations.
const EXTREME_DS: [&str; 14] = [
    "1e308", "-1e308", "1e155", "NaN", "inf", "-inf", "-0", "1e-308", "0", "3.4e38", "1e9", "-1e5",
    "1e5", "2",
];
/// Whole ImageOrientationPatient values that are not two unit, orthogonal vectors.
const BAD_ORIENTATIONS: [&str; 6] = [
    "0\\0\\0\\0\\0\\0",
    "1\\0\\0\\1\\0\\0",
    "2\\0\\0\\0\\2\\0",
    "1\\0\\0\\0\\0.5\\0.5",
    "1e308\\0\\0\\0\\1e308\\0",
    "1\\0\\0\\0.2\\0.98\\0",
];

/// Rewrites the value of one geometry or rescale element (explicit VR little endian DS:
/// position, orientation, spacing, thickness, rescale) with extreme numbers, fixing its
/// length so that the file stays well formed and the values themselves are what is tested.
fn mutate_dicom_numbers(b: &mut Vec<u8>, rng: &mut Rng) {
    const TAGS: [(u16, u16); 7] = [
        (0x0020, 0x0032),
        (0x0020, 0x0037),
        (0x0028, 0x0030),
        (0x0028, 0x1052),
        (0x0028, 0x1053),
        (0x0018, 0x0050),
        (0x0018, 0x0088),
    ];
    let found: Vec<(usize, (u16, u16))> = (0..b.len().saturating_sub(8))
        .filter(|&i| &b[i + 4..i + 6] == b"DS")
        .filter_map(|i| {
            let g = u16::from_le_bytes([b[i], b[i + 1]]);
            let e = u16::from_le_bytes([b[i + 2], b[i + 3]]);
            TAGS.contains(&(g, e)).then_some((i, (g, e)))
        })
        .collect();
    if found.is_empty() {
        return;
    }
    let (at, tag) = found[rng.below(found.len())];
    let old_len = u16::from_le_bytes([b[at + 6], b[at + 7]]) as usize;
    if at + 8 + old_len > b.len() {
        return;
    }
    let count = match tag {
        (0x0020, 0x0032) => 3,
        (0x0020, 0x0037) => 6,
        (0x0028, 0x0030) => 2,
        _ => 1,
    };
    let mut text = if tag == (0x0020, 0x0037) && rng.below(2) == 0 {
        BAD_ORIENTATIONS[rng.below(BAD_ORIENTATIONS.len())].to_string()
    } else {
        let old = String::from_utf8_lossy(&b[at + 8..at + 8 + old_len]).into_owned();
        let mut parts: Vec<String> = old.trim().split('\\').map(str::to_string).collect();
        parts.resize(count, "0".into());
        let k = rng.below(count);
        parts[k] = EXTREME_DS[rng.below(EXTREME_DS.len())].to_string();
        parts.join("\\")
    };
    if text.len() % 2 == 1 {
        text.push(' ');
    }
    b[at + 6..at + 8].copy_from_slice(&(text.len() as u16).to_le_bytes());
    b.splice(at + 8..at + 8 + old_len, text.into_bytes());
}

/// Where encapsulated pixel data's items start (after the top-level pixel data tag with
/// an undefined length): `(offset of the item header, its declared length)`.
fn fragment_items(b: &[u8]) -> Vec<(usize, u32)> {
    let pixel = [0xE0, 0x7F, 0x10, 0x00];
    let Some(start) = b
        .windows(12)
        .rposition(|w| w[..4] == pixel && w[8..12] == [0xFF; 4])
    else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut at = start + 12;
    while at + 8 <= b.len() && items.len() < 4096 {
        if b[at..at + 4] != [0xFE, 0xFF, 0x00, 0xE0] {
            break;
        }
        let len = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]);
        items.push((at, len));
        at = at.saturating_add(8).saturating_add(len as usize);
    }
    items
}

/// Encapsulated fragments split in two, their lengths corrupted, cut off inside, or their
/// first bytes (an RLE header's segment count and offsets) overwritten.
fn mutate_fragments(b: &mut Vec<u8>, rng: &mut Rng) {
    let items = fragment_items(b);
    // The first item is the basic offset table; fragments follow.
    if items.len() < 2 {
        return;
    }
    let (at, len) = items[1 + rng.below(items.len() - 1)];
    let value = at + 8;
    match rng.below(4) {
        0 if len >= 16 && value + len as usize <= b.len() => {
            let k = (2 + rng.below(len as usize / 2 - 1)) * 2;
            let k = k.min(len as usize - 2);
            b[at + 4..at + 8].copy_from_slice(&(k as u32).to_le_bytes());
            let mut header = vec![0xFE, 0xFF, 0x00, 0xE0];
            header.extend_from_slice(&((len as usize - k) as u32).to_le_bytes());
            b.splice(value + k..value + k, header);
        }
        1 => {
            let v: u32 = [
                0,
                1,
                len.wrapping_add(1),
                len.wrapping_sub(1),
                0xFFFF_FFFF,
                0x7FFF_FFFF,
            ][rng.below(6)];
            b[at + 4..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        2 => {
            let cut = value + rng.below(len as usize + 1);
            b.truncate(cut.min(b.len()));
        }
        _ if value + 64 <= b.len() => {
            let word = |v: u32| v.to_le_bytes();
            let w = rng.below(16);
            let v: u32 = [0, 1, 2, 15, 16, 0xFFFF_FFFF, 64, 63, len, len + 1][rng.below(10)];
            b[value + 4 * w..value + 4 * w + 4].copy_from_slice(&word(v));
        }
        _ => {}
    }
}

/// An explicit VR little endian element.
fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// A deflated-explicit-VR DICOM file whose data set inflates to about `mib` MiB (one
/// huge element of zeros after a few real ones): a decompression bomb, as the attack made.
fn deflate_bomb(mib: usize, pieces: usize) -> Vec<u8> {
    use std::io::Write;
    let uid = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(0);
        }
        v
    };
    let mut meta = Vec::new();
    meta.extend(element(0x0002, 0x0001, b"OB", &[0, 1]));
    meta.extend(element(
        0x0002,
        0x0002,
        b"UI",
        &uid("1.2.840.10008.5.1.4.1.1.2"),
    ));
    meta.extend(element(0x0002, 0x0003, b"UI", &uid("2.25.1234")));
    meta.extend(element(
        0x0002,
        0x0010,
        b"UI",
        &uid("1.2.840.10008.1.2.1.99"),
    ));
    let mut file = vec![0u8; 128];
    file.extend_from_slice(b"DICM");
    file.extend(element(
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    file.extend(meta);
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = z.write_all(&element(0x0008, 0x0060, b"CS", b"CT"));
    let each = (mib << 20) / pieces.max(1);
    let zeros = vec![0u8; 1 << 20];
    for p in 0..pieces.max(1) {
        let mut head = Vec::new();
        head.extend_from_slice(&0x0009u16.to_le_bytes());
        head.extend_from_slice(&(0x1000u16 + p as u16).to_le_bytes());
        head.extend_from_slice(b"OB\0\0");
        head.extend_from_slice(&(each as u32).to_le_bytes());
        let _ = z.write_all(&head);
        let mut left = each;
        while left > 0 {
            let n = left.min(zeros.len());
            let _ = z.write_all(&zeros[..n]);
            left -= n;
        }
    }
    file.extend(z.finish().unwrap_or_default());
    file
}

fn mutate_bytes(b: &mut Vec<u8>, rng: &mut Rng) {
    if b.is_empty() {
        b.push(rng.next() as u8);
        return;
    }
    // Mutations cluster in the header half the time: that is where the structure is.
    let span = if rng.below(2) == 0 {
        b.len().min(4096)
    } else {
        b.len()
    };
    let at = rng.below(span);
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(span);
                b[i] ^= 1 << rng.below(8);
            }
        }
        1 => b[at] = [0x00, 0xFF, 0x7F, 0x80, 0x01][rng.below(5)],
        2 => {
            let n = 1 + rng.below(16);
            let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            b.splice(at..at, ins);
        }
        3 => {
            let end = (at + 1 + rng.below(64)).min(b.len());
            b.drain(at..end);
        }
        4 => {
            let end = (at + 1 + rng.below(64)).min(b.len());
            let chunk = b[at..end].to_vec();
            let to = rng.below(b.len());
            b.splice(to..to, chunk);
        }
        5 => b.truncate(at),
        _ => {
            let n = (1 + rng.below(4)).min(b.len() - at);
            for x in &mut b[at..at + n] {
                *x = rng.next() as u8;
            }
        }
    }
}

fn mutant(seed: &Seed, rng: &mut Rng) -> Vec<u8> {
    let raw_gz = seed.gz && rng.below(8) == 0;
    let mut b = if seed.gz && !raw_gz {
        gunzip(&seed.bytes).unwrap_or_default()
    } else {
        seed.bytes.clone()
    };
    for _ in 0..1 + rng.below(3) {
        match rng.below(7) {
            0 | 1 if seed.nifti && !raw_gz => mutate_nifti_header(&mut b, rng),
            1 if !seed.nifti => mutate_dicom(&mut b, rng),
            2 | 3 if !seed.nifti => mutate_dicom_numbers(&mut b, rng),
            4 if !seed.nifti => mutate_fragments(&mut b, rng),
            // A bomb is tested as built most of the time: a flipped byte mostly breaks it.
            _ if seed.bomb && rng.below(4) != 0 => {}
            _ => mutate_bytes(&mut b, rng),
        }
    }
    if seed.gz && !raw_gz { gzip(&b) } else { b }
}

/// What one input did, and the heap it took on the way.
struct Outcome {
    stage: &'static str,
    /// Peak heap of scan and load (bytes above what was in use before).
    read_peak: usize,
    /// Peak heap of segmentation and surface.
    surface_peak: usize,
    voxels: usize,
    /// A loaded grid or a surface with a coordinate that is not a finite number.
    nonfinite: bool,
}

fn peak_since(before: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(before)
}

/// Scan, load, first surface: the workstation's open path.
fn run_one(path: &Path) -> Outcome {
    let progress = Progress::new();
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut out = Outcome {
        stage: "refused",
        read_peak: 0,
        surface_peak: 0,
        voxels: 0,
        nonfinite: false,
    };
    let opened = open::open_path(path, &progress);
    out.read_peak = peak_since(before);
    let Ok((_, loaded)) = opened else {
        return out;
    };
    out.stage = "loaded";
    out.voxels = loaded.volume.voxels.len();
    let scale = loaded.volume.value_scale;
    if loaded.volume.geometry.check_plausible().is_err()
        || !(scale.slope.is_finite() && scale.intercept.is_finite())
    {
        out.nonfinite = true;
    }
    let recipes = structures::default_recipes(
        &loaded.volume,
        &loaded.modality,
        loaded.contrast_peak_hu(),
        &[],
    );
    // The structure's segmentation and surface, without the mesh post-processing (Taubin
    // smoothing, decimation): on a noisy mutant's million triangles those cost seconds and
    // exercise nothing that came from the file.
    let Some(mut options) = recipes.first().and_then(|r| r.options()) else {
        return out;
    };
    options.smooth_iterations = 0;
    options.target_triangles = None;
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    if let Ok((mesh, _)) = twinplan::surface::surface(&loaded.volume, &options, &progress) {
        out.stage = "surfaced";
        if !mesh.positions_mm.iter().flatten().all(|c| c.is_finite()) {
            out.nonfinite = true;
        }
    }
    out.surface_peak = peak_since(before);
    out
}

/// Heap allowed to the surface stage of a volume: 4x the volume plus its mesh, which on
/// noise reaches about five triangles per voxel (512 bytes per voxel bounds mesh, normals
/// and the closure check), plus fixed costs.
fn surface_budget(voxels: usize) -> usize {
    4 * 2 * voxels + 512 * voxels + (64 << 20)
}

/// Largest volume (bytes of i16) a seed may load to; the largest real test series, the
/// head CT, is 73 MB.
const MAX_SEED_VOLUME: usize = 512 << 20;

fn corpus(root: &Path) -> Result<Vec<Seed>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut seeds = Vec::new();
    for p in files {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&p)?;
        let gz = name.ends_with(".nii.gz");
        let nifti = gz || name.ends_with(".nii");
        if !(nifti || is_dicom(&bytes)) {
            continue;
        }
        // A genuinely huge grid (the attack's 2 MB .nii.gz of a 1024³ grid) is a valid
        // 2 GiB volume: loading it, or a mutant, takes gigabytes by right and would hide
        // every real blow-up under the process's 2 GB ceiling. Its header is tested in
        // tests/hostile.rs; here it is left out.
        if nifti
            && twinplan::nifti_io::read_nifti_header(&p)
                .map(|h| h.geometry.dims.iter().product::<usize>() * 2 > MAX_SEED_VOLUME)
                .unwrap_or(false)
        {
            eprintln!(
                "left out (volume over {} MiB): {}",
                MAX_SEED_VOLUME >> 20,
                p.display()
            );
            continue;
        }
        // The original's volume sets the heap budget; files that do not load are still
        // mutated (their mutants must fail cleanly too).
        PEAK.store(CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
        let volume_bytes = open::open_path(&p, &Progress::new())
            .map(|(_, l)| l.volume.voxels.len() * 2)
            .unwrap_or(0);
        let unpacked = if gz {
            gunzip(&bytes).map_or(0, |b| b.len())
        } else {
            0
        };
        let budget = 4 * bytes.len().max(volume_bytes).max(unpacked) + (64 << 20);
        let ext = if gz {
            ".nii.gz"
        } else if nifti {
            ".nii"
        } else {
            ".dcm"
        };
        let work = bytes.len().max(volume_bytes).max(unpacked);
        seeds.push(Seed {
            name: format!("{}{ext}", seeds.len()),
            bytes,
            gz,
            nifti,
            budget,
            work,
            bomb: false,
        });
    }
    // Deflate bombs: one element inflating to 1 GiB, and two of 384 MiB.
    for (mib, pieces) in [(1024, 1), (768, 2)] {
        let bytes = deflate_bomb(mib, pieces);
        seeds.push(Seed {
            name: format!("{}-bomb.dcm", seeds.len()),
            budget: 4 * bytes.len() + (64 << 20),
            work: bytes.len(),
            bytes,
            gz: false,
            nifti: false,
            bomb: true,
        });
    }
    Ok(seeds)
}

/// Runs saved inputs again (each copied alone into a fresh folder, as the fuzzer ran them)
/// and prints outcome, seconds and peak heap per input.
fn replay(files: &[String]) -> Result<()> {
    for f in files {
        let src = PathBuf::from(f);
        let dir = std::env::temp_dir().join(format!("twinplan-replay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join(&name);
        std::fs::copy(&src, &path)?;
        let nifti = name.ends_with(".nii") || name.ends_with(".nii.gz");
        if !nifti {
            println!(
                "  length walk: {:?}",
                twinplan::dicom::lengths::check_file(&path, true)
            );
        }
        let target = if nifti { path } else { dir.clone() };
        let t = Instant::now();
        match std::panic::catch_unwind(|| run_one(&target)) {
            Ok(o) => println!(
                "{f}: {}, {:.2} s, read peak {} MiB, surface peak {} MiB ({} voxels)",
                o.stage,
                t.elapsed().as_secs_f64(),
                o.read_peak >> 20,
                o.surface_peak >> 20,
                o.voxels
            ),
            Err(_) => println!("{f}: panic"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// A FIFO at `path` (what a folder or a name can hold besides files).
fn make_fifo(path: &Path) -> Result<()> {
    let c = std::ffi::CString::new(path.to_string_lossy().as_bytes())?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(anyhow!("mkfifo {}", path.display()));
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--replay") {
        if let Some(mb) = std::env::var("FUZZ_TRACE_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
        {
            TRACE_BYTES.store(mb << 20, Ordering::Relaxed);
        }
        return replay(&args[1..]);
    }
    let usage = "usage: fuzz_readers CORPUS_DIR WORK_DIR SECONDS [SEED]";
    let root = PathBuf::from(args.first().ok_or_else(|| anyhow!(usage))?);
    let work = PathBuf::from(args.get(1).ok_or_else(|| anyhow!(usage))?);
    let seconds: f64 = args.get(2).ok_or_else(|| anyhow!(usage))?.parse()?;
    let seed: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
    // Panics are findings, caught and counted; keep their reports short.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("panic: {info}");
    }));
    let seeds = corpus(&root)?;
    if seeds.is_empty() {
        return Err(anyhow!("no DICOM or NIfTI files under {}", root.display()));
    }
    let case = work.join("case");
    let findings = work.join("findings");
    std::fs::create_dir_all(&findings)?;
    // Watchdog: the input under test and since when.
    let current: Arc<Mutex<Option<(Instant, PathBuf)>>> = Arc::new(Mutex::new(None));
    {
        let current = Arc::clone(&current);
        let findings = findings.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let slow = current.lock().ok().and_then(|c| {
                    c.as_ref()
                        .filter(|(t, _)| t.elapsed() > Duration::from_secs(10))
                        .cloned()
                });
                if let Some((_, path)) = slow {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let _ = std::fs::copy(&path, findings.join(format!("hang-{seed}-{name}")));
                    eprintln!("hang: over 10 s on {name}");
                    std::process::exit(3);
                }
            }
        });
    }
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = Instant::now();
    let (mut n, mut refused, mut loaded, mut surfaced) = (0u64, 0u64, 0u64, 0u64);
    let (mut panics, mut blowups, mut nonfinite) = (0u64, 0u64, 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        // Big inputs (over 4 MB of image data once unpacked: the NIfTI volumes and masks)
        // are taken a fiftieth as often: each costs a hundred slices' time.
        let s = &seeds[rng.below(seeds.len())];
        if s.work > 4 << 20 && rng.below(50) != 0 {
            continue;
        }
        let bytes = mutant(s, &mut rng);
        let _ = std::fs::remove_dir_all(&case);
        std::fs::create_dir_all(&case)?;
        let path = case.join(format!("{n}-{}", s.name));
        // One input in a hundred is a special file instead: a FIFO under the name (a
        // NIfTI opened directly), or beside the mutant (a folder scan). Opening one blocks.
        let fifo = rng.below(100) == 0;
        if fifo && s.nifti {
            make_fifo(&path)?;
        } else {
            std::fs::write(&path, &bytes)?;
            if fifo {
                make_fifo(&case.join("pipe.dcm"))?;
            }
        }
        if let Ok(mut c) = current.lock() {
            *c = Some((Instant::now(), path.clone()));
        }
        // Scan the folder (as a user opening it) or the NIfTI file itself.
        let target = if s.nifti { path.clone() } else { case.clone() };
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(|| run_one(&target));
        if t.elapsed() > Duration::from_secs(1) {
            eprintln!(
                "slow: {:.1} s on a mutant of {}",
                t.elapsed().as_secs_f64(),
                s.name
            );
            let _ = std::fs::copy(&path, findings.join(format!("slow-{seed}-{n}-{}", s.name)));
        }
        if let Ok(mut c) = current.lock() {
            *c = None;
        }
        n += 1;
        let o = match outcome {
            Ok(o) => o,
            Err(_) => {
                panics += 1;
                let _ = std::fs::copy(&path, findings.join(format!("panic-{seed}-{n}-{}", s.name)));
                continue;
            }
        };
        match o.stage {
            "refused" => refused += 1,
            "surfaced" => surfaced += 1,
            _ => loaded += 1,
        }
        if o.nonfinite {
            nonfinite += 1;
            eprintln!("nonfinite: a grid or surface that is not finite numbers");
            let _ = std::fs::copy(
                &path,
                findings.join(format!("nonfinite-{seed}-{n}-{}", s.name)),
            );
        }
        let over_read = o.read_peak > s.budget;
        let over_surface = o.surface_peak > surface_budget(o.voxels);
        if over_read || over_surface {
            blowups += 1;
            eprintln!(
                "memory: read {} MiB (budget {}), surface {} MiB (budget {}) on a {} byte input",
                o.read_peak >> 20,
                s.budget >> 20,
                o.surface_peak >> 20,
                surface_budget(o.voxels) >> 20,
                bytes.len()
            );
            let _ = std::fs::copy(
                &path,
                findings.join(format!("memory-{seed}-{n}-{}", s.name)),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&case);
    println!(
        "{}",
        serde_json::json!({
            "seed": seed, "inputs": n, "seconds": start.elapsed().as_secs_f64(),
            "corpus_files": seeds.len(), "refused": refused, "loaded_no_surface": loaded,
            "surfaced": surfaced, "panics": panics, "memory_blowups": blowups,
            "nonfinite_outputs": nonfinite,
            "peak_rss_mb": twinplan::memory::peak_resident_bytes().unwrap_or(0) as f64 / 1e6,
        })
    );
    Ok(())
}
