//! Mutation fuzzer of the readers: every DICOM and NIfTI file of a corpus folder is mutated
//! (bits flipped, bytes inserted, deleted, duplicated or overwritten; DICOM value lengths,
//! VRs and sequence item/delimiter tags corrupted; NIfTI header fields set to extremes, also
//! inside `.nii.gz`) and each mutant goes the workstation's whole way: folder scan, series
//! load, and the first default structure's segmentation and surface (without smoothing or
//! decimation, which only see the mesh).
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
//! Prints one JSON line at the end: inputs, seconds, outcome counts, findings.

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
        let v: f32 = [
            0.0,
            -1.0,
            f32::NAN,
            f32::INFINITY,
            1e30,
            -1e30,
            1e-30,
            352.0,
            1e9,
        ][rng.below(9)];
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
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
        match rng.below(4) {
            0 if seed.nifti && !raw_gz => mutate_nifti_header(&mut b, rng),
            1 if !seed.nifti => mutate_dicom(&mut b, rng),
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
    };
    let opened = open::open_path(path, &progress);
    out.read_peak = peak_since(before);
    let Ok((_, loaded)) = opened else {
        return out;
    };
    out.stage = "loaded";
    out.voxels = loaded.volume.voxels.len();
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
    if twinplan::surface::surface(&loaded.volume, &options, &progress).is_ok() {
        out.stage = "surfaced";
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
    let (mut panics, mut blowups) = (0u64, 0u64);
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
        std::fs::write(&path, &bytes)?;
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
        })
    );
    Ok(())
}
