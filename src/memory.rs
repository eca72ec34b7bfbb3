//! How much memory a load may take: the machine's available memory and the check that
//! refuses, before anything is allocated, a volume (and the working room its surfaces
//! need) that would not fit. Sizes come from headers that a damaged or crafted file can
//! set to anything, so every product is checked. Reads `/proc/meminfo` on Linux; no UI.

/// Bytes per voxel a loaded volume needs in the workstation: the volume itself (2) plus
/// room for its default structures (masks, a float field for one structure at a time,
/// the surfaces).
pub const WORKING_BYTES_PER_VOXEL: u64 = 6;

/// Largest volume any reader allocates, whatever the machine (2³² voxels, 8 GiB of i16).
pub const MAX_VOXELS: u64 = 1 << 32;

/// A load that would not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct TooLarge {
    pub what: String,
    pub dims: String,
    pub needed: u64,
    /// None when the fixed voxel limit refused it, not the machine.
    pub available: Option<u64>,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} would need about {} of memory ({}), more than ",
            self.what,
            human(self.needed),
            self.dims
        )?;
        match self.available {
            Some(a) => write!(f, "the {} this machine has available", human(a)),
            None => write!(f, "this tool's limit of {MAX_VOXELS} voxels"),
        }
    }
}

impl std::error::Error for TooLarge {}

/// Memory the system can still give without swapping (Linux `MemAvailable`); `None`
/// where unknown. `TWINPLAN_MEMORY_AVAILABLE` (bytes) overrides it, for tests.
pub fn available_bytes() -> Option<u64> {
    if let Some(v) = std::env::var("TWINPLAN_MEMORY_AVAILABLE")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return Some(v);
    }
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// The most memory this process has held resident so far (Linux `VmHWM`); `None` where
/// unknown. For benchmarks and diagnostics.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Checks a grid of `dims` voxels (any number of axes, e.g. `[cols, rows, slices, frames]`)
/// with `bytes_per_voxel` of memory each: the voxel count within [`MAX_VOXELS`] and the
/// bytes within what the machine has available. Nothing is allocated.
pub fn check_grid(what: &str, dims: &[u64], bytes_per_voxel: u64) -> Result<u64, TooLarge> {
    let dims_text = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    let voxels = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let needed = voxels.and_then(|v| v.checked_mul(bytes_per_voxel));
    match (voxels, needed) {
        (Some(v), Some(n)) if v <= MAX_VOXELS => match available_bytes() {
            Some(a) if n > a => Err(TooLarge {
                what: what.into(),
                dims: format!("{dims_text} voxels"),
                needed: n,
                available: Some(a),
            }),
            _ => Ok(n),
        },
        (_, n) => Err(TooLarge {
            what: what.into(),
            dims: format!("{dims_text} voxels"),
            needed: n.unwrap_or(u64::MAX),
            available: None,
        }),
    }
}

/// Bytes as people read them: `512 MB`, `100.0 GB` (decimal units, as disks and
/// operating systems show them).
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes == u64::MAX {
        "more than 18 EB".into()
    } else if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", (b / 1e3).ceil())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_before_anything_is_allocated() {
        // 100 GB claimed by a header: refused with the figure in the message.
        let e = check_grid("the volume", &[10_000, 10_000, 500], 2).expect_err("too large");
        let text = e.to_string();
        assert!(text.contains("100.0 GB"), "{text}");
        assert!(text.contains("10000×10000×500"), "{text}");
        // Products that overflow are refused, not wrapped.
        let e = check_grid("x", &[u64::MAX, 3], 2).expect_err("overflow");
        assert!(e.available.is_none());
        // An ordinary CT fits.
        assert_eq!(
            check_grid("ct", &[512, 512, 400], 2).expect("fits"),
            512 * 512 * 400 * 2
        );
        assert_eq!(human(209_715_200), "210 MB");
        assert!(available_bytes().is_some_and(|a| a > 1 << 28));
    }
}
