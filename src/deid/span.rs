//! Where a file's top-level Pixel Data element lies, found by walking the element headers
//! of the data set without decoding a value (lengths only; undefined-length sequences and
//! encapsulated fragments item by item), so the de-identifier can copy the pixels as bytes
//! (`files`) instead of decoding and re-encoding them. Little-endian transfer syntaxes
//! only (explicit or implicit VR); anything else, a header that does not add up, or data
//! after the Pixel Data is `None`, and the caller decodes the whole file. Reads through
//! `pread` from a first chunk it is given; depends on nothing but std.

use std::fs::File;
use std::os::unix::fs::FileExt;

const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Nesting deeper than this is refused (a hostile file cannot recurse us to death).
const MAX_DEPTH: usize = 64;
/// Elements walked at most (a hostile file of empty elements cannot spin us).
const MAX_STEPS: usize = 1 << 20;

/// The file: its first bytes in memory, the rest read on demand.
pub struct Source<'a> {
    pub file: &'a File,
    pub head: &'a [u8],
    pub len: u64,
}

impl Source<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let end = at.checked_add(N as u64)?;
        if end > self.len {
            return None;
        }
        let mut b = [0u8; N];
        if end <= self.head.len() as u64 {
            b.copy_from_slice(&self.head[at as usize..end as usize]);
        } else {
            self.file.read_exact_at(&mut b, at).ok()?;
        }
        Some(b)
    }

    fn tag(&self, at: u64) -> Option<(u16, u16)> {
        let b: [u8; 4] = self.bytes(at)?;
        Some((
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]]),
        ))
    }

    fn u32(&self, at: u64) -> Option<u32> {
        self.bytes::<4>(at).map(u32::from_le_bytes)
    }
}

/// An element's header: its tag, where its value starts, its length (None: undefined,
/// a list of items closed by a delimiter).
struct Header {
    tag: (u16, u16),
    value: u64,
    length: Option<u32>,
}

fn header(src: &Source, at: u64, explicit: bool) -> Option<Header> {
    let tag = src.tag(at)?;
    // Items and delimiters have no VR in any transfer syntax.
    if tag.0 == 0xFFFE || !explicit {
        let len = src.u32(at + 4)?;
        return Some(Header {
            tag,
            value: at + 8,
            length: (len != UNDEFINED).then_some(len),
        });
    }
    let vr: [u8; 2] = src.bytes(at + 4)?;
    let long = matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    );
    if long {
        let len = src.u32(at + 8)?;
        Some(Header {
            tag,
            value: at + 12,
            length: (len != UNDEFINED).then_some(len),
        })
    } else {
        let b: [u8; 2] = src.bytes(at + 6)?;
        Some(Header {
            tag,
            value: at + 8,
            length: Some(u32::from(u16::from_le_bytes(b))),
        })
    }
}

struct Walk<'a> {
    src: &'a Source<'a>,
    explicit: bool,
    steps: usize,
}

impl Walk<'_> {
    fn step(&mut self) -> Option<()> {
        self.steps += 1;
        (self.steps <= MAX_STEPS).then_some(())
    }

    /// The end of the element at `at`.
    fn element_end(&mut self, at: u64, depth: usize) -> Option<u64> {
        self.step()?;
        let h = header(self.src, at, self.explicit)?;
        match h.length {
            Some(len) => h.value.checked_add(u64::from(len)),
            None => self.items_end(h.value, depth + 1),
        }
    }

    /// The end of a list of items closed by a sequence delimiter.
    fn items_end(&mut self, mut at: u64, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        loop {
            self.step()?;
            let h = header(self.src, at, false)?;
            match (h.tag, h.length) {
                (SEQUENCE_END, _) => return Some(h.value),
                (ITEM, Some(len)) => at = h.value.checked_add(u64::from(len))?,
                (ITEM, None) => at = self.data_set_end(h.value, depth + 1)?,
                _ => return None,
            }
        }
    }

    /// The end of an undefined-length item's data set (after its delimiter).
    fn data_set_end(&mut self, mut at: u64, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        loop {
            if self.src.tag(at)? == ITEM_END {
                return Some(at + 8);
            }
            at = self.element_end(at, depth)?;
        }
    }
}

/// The top-level Pixel Data element of the data set starting at `start`: Some(Some(at))
/// where its header starts, when it is the last element; Some(None) when the data set ends
/// without one (and without anything after where it would be). None when the walk fails
/// or when anything follows the pixels (trailing padding, signatures: those need the
/// table, so the whole file is decoded).
pub fn pixel_data(src: &Source, start: u64, explicit: bool) -> Option<Option<u64>> {
    let mut walk = Walk {
        src,
        explicit,
        steps: 0,
    };
    let mut at = start;
    while at < src.len {
        let tag = src.tag(at)?;
        if tag == PIXEL_DATA {
            let end = walk.element_end(at, 0)?;
            return (end == src.len).then_some(Some(at));
        }
        if tag > PIXEL_DATA {
            return None;
        }
        at = walk.element_end(at, 0)?;
    }
    (at == src.len).then_some(None)
}

/// Where the data set starts after the 128-byte preamble, `DICM` and the file meta group
/// (explicit VR little endian, group 0002). None without a preamble.
pub fn data_set_start(src: &Source) -> Option<u64> {
    if src.bytes::<4>(128)? != *b"DICM" {
        return None;
    }
    let mut walk = Walk {
        src,
        explicit: true,
        steps: 0,
    };
    let mut at = 132;
    while src.tag(at)?.0 == 0x0002 {
        at = walk.element_end(at, 0)?;
    }
    Some(at)
}
