//! A walk over a DICOM file's element headers that checks every declared value length
//! against the bytes the file really has, before the file is handed to the parser.
//!
//! The parser reserves and zero-fills a value's declared length before reading it, so one
//! corrupted length field in a 500 KB slice made it allocate gigabytes (and spend seconds
//! clearing them) before failing: the fuzzer found 12 GB and 12 s on a single file. The walk
//! reads only headers (values are skipped with a seek), descends into sequence items (a
//! value starting with an item tag), skips encapsulated pixel fragments, and stops at the
//! pixel data when asked to read only the header. What it cannot follow (deflated data sets,
//! undefined-length UN) is left to the parser. Depends on the DICOM dictionary only (for implicit VR).

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
/// Deeper nesting is refused (the parser recurses per level).
const MAX_DEPTH: usize = 64;

/// The VR the standard dictionary gives a tag (implicit VR files carry none).
fn implicit_vr(tag: (u16, u16)) -> Option<[u8; 2]> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    let entry =
        dicom_dictionary_std::StandardDataDictionary.by_tag(dicom_core::Tag(tag.0, tag.1))?;
    let vr = match entry.vr() {
        VirtualVr::Exact(vr) => vr,
        VirtualVr::Xs => dicom_core::VR::US,
        _ => dicom_core::VR::OW,
    };
    let b = vr.to_bytes();
    Some([b[0], b[1]])
}

/// VRs with a 2-byte length in explicit VR; every other VR, unknown ones included (read
/// as UN, as the parser does), has a 2-byte reserved field and a 4-byte length.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    ImplicitLittle,
    ExplicitLittle,
    ExplicitBig,
}

/// An element header: tag, VR (explicit VR only) and declared length.
type Header = ((u16, u16), Option<[u8; 2]>, u32);

struct Walker<R> {
    r: R,
    pos: u64,
    size: u64,
    /// Where the top-level pixel data's value starts, once the walk has met its header.
    pixel_value_at: Option<u64>,
    /// The largest element other than the pixel data (and its fragments) a data set may
    /// hold, where the bytes present do not bound it (inflated data: a few megabytes of a
    /// file inflate to gigabytes of zeros that justify nothing).
    largest_element: Option<u64>,
}

impl<R: Read + Seek> Walker<R> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).ok()?;
        self.pos += N as u64;
        Some(b)
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        let n_i64 = i64::try_from(n).map_err(|_| "value length out of range".to_string())?;
        self.r
            .seek_relative(n_i64)
            .map_err(|e| format!("cannot read file: {}", e.kind()))?;
        self.pos += n;
        Ok(())
    }

    /// Element header at the current position: tag, VR (explicit only) and length.
    fn header(&mut self, enc: Encoding) -> Option<Header> {
        let t: [u8; 4] = self.bytes()?;
        let big = enc == Encoding::ExplicitBig;
        let u16_at = |b: [u8; 2]| {
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |b: [u8; 4]| {
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let tag = (u16_at([t[0], t[1]]), u16_at([t[2], t[3]]));
        if tag.0 == 0xFFFE || enc == Encoding::ImplicitLittle {
            return Some((tag, None, u32_at(self.bytes()?)));
        }
        let vr: [u8; 2] = self.bytes()?;
        if SHORT_VRS.iter().any(|v| **v == vr) {
            Some((tag, Some(vr), u32::from(u16_at(self.bytes()?))))
        } else {
            let _reserved: [u8; 2] = self.bytes()?;
            Some((tag, Some(vr), u32_at(self.bytes()?)))
        }
    }

    /// Walks the data set to the end of the file (or the pixel data's header when
    /// `header_only`), as the parser nests it: sequences hold items, items hold elements.
    fn walk(&mut self, enc: Encoding, header_only: bool) -> Result<(), String> {
        self.dataset(enc, None, header_only, 0).map(|_| ())
    }

    /// Elements up to `end` (a defined-length item or the file), or to an item delimiter.
    /// `Ok(false)` stops the walk: the pixel data was reached in header mode, or something
    /// follows that the walk leaves to the parser (undefined-length UN).
    fn dataset(
        &mut self,
        enc: Encoding,
        end: Option<u64>,
        header_only: bool,
        depth: usize,
    ) -> Result<bool, String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
        }
        loop {
            if self.pos >= end.unwrap_or(self.size).min(self.size) {
                return Ok(true);
            }
            let Some((tag, vr, len)) = self.header(enc) else {
                return Err(format!("an element header is cut off at byte {}", self.pos));
            };
            let vr = vr.or_else(|| implicit_vr(tag));
            // An item delimiter ends the item it is in (the parser never skips a length
            // it declares); in the top-level data set it ends nothing. Any other item or
            // sequence tag where an element belongs is read as an ordinary element below.
            if tag == ITEM_END {
                if depth > 0 {
                    return Ok(true);
                }
                continue;
            }
            // The parser stops before the pixel data only in the top-level data set; inside
            // an item (a damaged delimiter left one open) it reads on, and so must the walk.
            if tag == PIXEL_DATA && depth == 0 {
                self.pixel_value_at = Some(self.pos);
                if header_only {
                    if len != UNDEFINED {
                        self.check(tag, len)?;
                    }
                    return Ok(false);
                }
            }
            let un = vr.as_ref().is_some_and(|v| v == b"UN");
            if len == UNDEFINED && un {
                // An SQ of unknown VR, encoded implicit VR inside: left to the parser.
                return Ok(false);
            }
            // Pixel data whose VR says SQ is read by the parser as a sequence (its
            // fragments become items of elements, a JPEG 2000 codestream's bytes their
            // "lengths": 182 MB reserved for a 158 KB file), and so by the walk below.
            let sq = vr.as_ref().is_some_and(|v| v == b"SQ");
            if len == UNDEFINED && tag == PIXEL_DATA && !sq {
                if !self.fragments()? {
                    return Ok(false);
                }
                continue;
            }
            // The parser reads any other undefined-length element as a sequence, whatever
            // its VR (a damaged pixel data tag makes its fragments items of elements).
            if vr.as_ref().is_some_and(|v| v == b"SQ") || len == UNDEFINED {
                if !self.sequence(enc, len, header_only, depth + 1)? {
                    return Ok(false);
                }
                continue;
            }
            self.check(tag, len)?;
            // The parser reads binary values as whole numbers: a length that is not a
            // multiple of the number's size leaves the rest to be read as the next header.
            let width = match vr.as_ref().map(|v| &v[..]) {
                Some(b"US" | b"SS" | b"OW") => 2,
                Some(b"UL" | b"SL" | b"FL" | b"OF" | b"OL" | b"AT") => 4,
                Some(b"FD" | b"OD" | b"SV" | b"UV" | b"OV") => 8,
                _ => 1,
            };
            self.skip(u64::from(len - len % width))?;
        }
    }

    /// The items of a sequence of declared length `len` (or up to its delimiter).
    fn sequence(
        &mut self,
        enc: Encoding,
        len: u32,
        header_only: bool,
        depth: usize,
    ) -> Result<bool, String> {
        let end = if len == UNDEFINED {
            None
        } else {
            self.check(SEQUENCE_END, len)?;
            Some(self.pos + u64::from(len))
        };
        loop {
            if end.is_some_and(|e| self.pos >= e) || self.pos >= self.size {
                return Ok(true);
            }
            let Some((tag, _, item_len)) = self.header(enc) else {
                return Err(format!("an item header is cut off at byte {}", self.pos));
            };
            match tag {
                ITEM => {
                    let item_end = if item_len == UNDEFINED {
                        None
                    } else {
                        self.check(tag, item_len)?;
                        Some(self.pos + u64::from(item_len))
                    };
                    if !self.dataset(enc, item_end, header_only, depth + 1)? {
                        return Ok(false);
                    }
                }
                // Its declared length is ignored by the parser, never skipped.
                SEQUENCE_END => return Ok(true),
                // Anything else inside a sequence (an item delimiter too): the parser gives
                // up on the file.
                _ => return Ok(false),
            }
        }
    }

    /// Encapsulated pixel data: items of fragments up to the sequence delimiter. `Ok(false)`
    /// where the parser gives up (an undefined-length fragment, a foreign tag).
    fn fragments(&mut self) -> Result<bool, String> {
        while self.pos < self.size {
            let Some((tag, _, len)) = self.header(Encoding::ExplicitLittle) else {
                return Err(format!("a fragment header is cut off at byte {}", self.pos));
            };
            match tag {
                ITEM if len != UNDEFINED => self.skip_declared(tag, len)?,
                // Delimiter lengths are not skipped; a non-zero one is refused by the parser.
                SEQUENCE_END => return Ok(true),
                ITEM_END if len == 0 => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    fn skip_declared(&mut self, tag: (u16, u16), len: u32) -> Result<(), String> {
        if len == UNDEFINED {
            return Ok(());
        }
        self.check(tag, len)?;
        self.skip(u64::from(len))
    }

    fn check(&self, tag: (u16, u16), len: u32) -> Result<(), String> {
        let left = self.size.saturating_sub(self.pos);
        if u64::from(len) > left {
            return Err(format!(
                "element ({:04X},{:04X}) declares {len} bytes but the file has {left} left",
                tag.0, tag.1
            ));
        }
        if let Some(most) = self.largest_element
            && tag != PIXEL_DATA
            && tag != ITEM
            && u64::from(len) > most
        {
            return Err(format!(
                "element ({:04X},{:04X}) declares {len} bytes: only the pixel data may be larger \
                 than {} MiB in a deflated data set",
                tag.0,
                tag.1,
                most >> 20
            ));
        }
        Ok(())
    }
}

/// Checks the declared lengths of a DICOM file (with or without preamble and meta group).
/// `Err` says which element claims more than the file holds; `Ok` gives the byte offset of
/// the top-level pixel data's value when the walk reached it.
pub fn check_file(path: &Path, header_only: bool) -> Result<Option<u64>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read file: {}", e.kind()))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read file: {}", e.kind()))?
        .len();
    let mut w = Walker {
        r: BufReader::with_capacity(16 << 10, file),
        pos: 0,
        size,
        pixel_value_at: None,
        largest_element: None,
    };
    let mut magic = [0u8; 132];
    let n = w.r.read(&mut magic).unwrap_or(0);
    let start = if n >= 132 && &magic[128..132] == b"DICM" {
        132
    } else if n >= 4 && &magic[..4] == b"DICM" {
        4
    } else {
        0
    };
    w.r.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot read file: {}", e.kind()))?;
    w.pos = start;
    if start == 0 && !(n >= 8 && magic[0] == 0x08 && magic[1] == 0x00) {
        return Ok(None); // not DICOM-looking: the reader says so itself
    }
    let encoding = if start == 0 {
        // No meta group: the data set's first element says explicit or implicit.
        if n >= 6 && magic[4].is_ascii_uppercase() && magic[5].is_ascii_uppercase() {
            Encoding::ExplicitLittle
        } else {
            Encoding::ImplicitLittle
        }
    } else {
        // The meta group (explicit VR little endian), read for its transfer syntax. The
        // parser reads whole elements, whatever their tags, until it has consumed the
        // group length (0002,0000) says: the data set starts where it stops.
        let mut ts = String::new();
        let mut group_left: Option<u64> = None;
        loop {
            if group_left == Some(0) {
                break;
            }
            let before = w.pos;
            let Some((tag, _, len)) = w.header(Encoding::ExplicitLittle) else {
                return Err("the file meta group is cut off".into());
            };
            if group_left.is_none() && tag.0 != 0x0002 {
                w.r.seek(SeekFrom::Start(before))
                    .map_err(|e| format!("cannot read file: {}", e.kind()))?;
                w.pos = before;
                break;
            }
            if len == UNDEFINED {
                return Ok(None); // the parser refuses this itself
            }
            w.check(tag, len)?;
            if tag == (0x0002, 0x0000) && len == 4 && group_left.is_none() {
                let v: [u8; 4] = w.bytes().ok_or("the file meta group is cut off")?;
                group_left = Some(u64::from(u32::from_le_bytes(v)));
                continue;
            }
            if tag == (0x0002, 0x0010) && len <= 64 {
                let mut v = vec![0u8; len as usize];
                w.r.read_exact(&mut v)
                    .map_err(|e| format!("cannot read file: {}", e.kind()))?;
                w.pos += u64::from(len);
                ts = String::from_utf8_lossy(&v)
                    .trim_end_matches(['\0', ' '])
                    .to_string();
            } else {
                w.skip(u64::from(len))?;
            }
            if let Some(left) = &mut group_left {
                *left = left.saturating_sub(w.pos - before);
            }
        }
        match ts.as_str() {
            "1.2.840.10008.1.2" => Encoding::ImplicitLittle,
            "1.2.840.10008.1.2.2" => Encoding::ExplicitBig,
            // Deflated: the data set is compressed; the parser inflates it, after a
            // count of what it inflates to (a 4 MB file inflated to 4 GiB in memory).
            "1.2.840.10008.1.2.1.99" => {
                check_inflated(path, w.pos, MAX_INFLATED_BYTES, header_only)?;
                return Ok(None);
            }
            _ => Encoding::ExplicitLittle,
        }
    };
    w.walk(encoding, header_only)?;
    Ok(w.pixel_value_at)
}

/// Largest data set a deflated file may inflate to (bytes). Deflate packs up to about
/// 1032:1, so a few megabytes can claim gigabytes; no deflated image comes near this.
pub const MAX_INFLATED_BYTES: u64 = 512 << 20;
/// Largest element other than the pixel data in a deflated data set (bytes): the largest
/// real ones (CSA headers, icons, overlays) are a few megabytes.
pub const MAX_DEFLATED_ELEMENT_BYTES: u64 = 16 << 20;

/// Inflates a deflated data set starting at `at` into nothing, counting, and refuses it
/// once it passes `limit` bytes: nothing is kept, so memory stays flat whatever it claims.
/// Then walks the inflated elements (explicit VR little endian, as deflate always is) a
/// second time, checking each declared length against the bytes that really inflate: a
/// damaged stream that inflates to little but declares a 2 GiB element had the parser
/// reserve the 2 GiB.
fn check_inflated(path: &Path, at: u64, limit: u64, header_only: bool) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot read file: {}", e.kind());
    let inflated = || -> Result<_, String> {
        let mut f = std::fs::File::open(path).map_err(io)?;
        f.seek(SeekFrom::Start(at)).map_err(io)?;
        Ok(flate2::read::DeflateDecoder::new(BufReader::new(f)))
    };
    let mut counting = inflated()?.take(limit + 1);
    // Copied into a sink until the stream ends: the bytes that really inflate. A stream
    // that breaks is damaged, and refused: the parser reads it a few bytes at a time and
    // so gets further than a large read, far enough to reserve a declared length.
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match counting.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => size += n as u64,
            Err(e) => {
                return Err(format!(
                    "its deflated data set is damaged ({}) after {size} bytes",
                    e.kind()
                ));
            }
        }
    }
    if size > limit {
        return Err(format!(
            "its deflated data set inflates to more than {} MiB (a decompression bomb)",
            limit >> 20
        ));
    }
    let mut w = Walker {
        r: ForwardOnly(inflated()?.take(size)),
        pos: 0,
        size,
        pixel_value_at: None,
        largest_element: Some(MAX_DEFLATED_ELEMENT_BYTES),
    };
    w.walk(Encoding::ExplicitLittle, header_only)
        .map_err(|e| format!("in its deflated data set, {e}"))
}

/// A reader that can only skip forward (by reading and dropping), for walking a stream that
/// cannot seek: an inflating one.
struct ForwardOnly<R>(R);

impl<R: Read> Read for ForwardOnly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Seek for ForwardOnly<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        match to {
            SeekFrom::Current(n) if n >= 0 => {
                let skipped =
                    std::io::copy(&mut self.0.by_ref().take(n as u64), &mut std::io::sink())?;
                if skipped < n as u64 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                Ok(0)
            }
            _ => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Explicit VR LE file: preamble, meta group with the transfer syntax, then `body`.
    fn file(body: &[u8]) -> tempfile::NamedTempFile {
        let mut b = vec![0u8; 128];
        b.extend_from_slice(b"DICM");
        let ts = b"1.2.840.10008.1.2.1\0";
        b.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        b.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        b.extend_from_slice(ts);
        b.extend_from_slice(body);
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), &b).expect("write");
        f
    }

    fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&group.to_le_bytes());
        b.extend_from_slice(&elem.to_le_bytes());
        b.extend_from_slice(vr);
        if SHORT_VRS.contains(&vr) {
            b.extend_from_slice(&(value.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&(value.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(value);
        b
    }

    #[test]
    fn honest_lengths_pass_and_a_lying_one_is_named() {
        let mut body = element(0x0010, 0x0010, b"PN", b"Anon^A");
        // A defined-length sequence with one item holding one element.
        let inner = element(0x0008, 0x0100, b"SH", b"T-1234");
        let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
        item.extend_from_slice(&(inner.len() as u32).to_le_bytes());
        item.extend_from_slice(&inner);
        body.extend(element(0x0008, 0x1140, b"SQ", &item));
        body.extend(element(0x7FE0, 0x0010, b"OW", &[0u8; 16]));
        let ok = file(&body);
        assert!(check_file(ok.path(), false).is_ok());
        assert!(check_file(ok.path(), true).is_ok());

        // The nested element claims 2 GB: caught inside the sequence.
        let mut lying = body.clone();
        let at = lying
            .windows(2)
            .position(|w| w == b"SH")
            .expect("nested element");
        lying[at + 2..at + 4].copy_from_slice(&0xFFF0u16.to_le_bytes());
        let f = file(&lying);
        let err = check_file(f.path(), false).expect_err("nested length beyond the file");
        assert!(err.contains("(0008,0100)"), "{err}");

        // Pixel data claiming 100 GB is refused even when only the header is wanted.
        let mut huge = element(0x0010, 0x0010, b"PN", b"Anon^A");
        huge.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        huge.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let f = file(&huge);
        let err = check_file(f.path(), true).expect_err("pixel data beyond the file");
        assert!(
            err.contains("(7FE0,0010)") && err.contains("4294967280"),
            "{err}"
        );
    }

    #[test]
    fn a_binary_value_of_odd_length_shifts_the_walk_as_it_shifts_the_parser() {
        // UL of length 2: the parser reads no number and takes the 2 value bytes as the
        // start of the next header, whose "length" then lands in the next element's text.
        let mut body = element(0x0008, 0x0060, b"UL", b"MR");
        body.extend(element(0x0008, 0x0070, b"LO", b"GE MEDICAL SYSTEMS"));
        let f = file(&body);
        let err = check_file(f.path(), true).expect_err("desynchronised lengths");
        assert!(err.contains("declares"), "{err}");
    }

    #[test]
    fn encapsulated_fragments_are_skipped_not_parsed() {
        let mut body = Vec::new();
        body.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        for fragment in [&[][..], &[0xFF; 10][..]] {
            body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            body.extend_from_slice(&(fragment.len() as u32).to_le_bytes());
            body.extend_from_slice(fragment);
        }
        body.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let f = file(&body);
        assert!(check_file(f.path(), false).is_ok());
    }

    #[test]
    fn fragments_under_another_tag_are_walked_as_the_parser_reads_them() {
        // The fuzzer's finding: the pixel data tag damaged to (0000,0010). The parser reads
        // an undefined-length element that is not pixel data as a sequence, its fragments
        // as items of elements: the compressed bytes' "lengths" then claim gigabytes.
        let mut fragment = vec![0x10, 0x00, 0x10, 0x00, b'O', b'B', 0, 0];
        fragment.extend_from_slice(&0x3400_0000u32.to_le_bytes());
        fragment.extend_from_slice(&[0x5A; 20]);
        let mut body = Vec::new();
        body.extend_from_slice(&[0x00, 0x00, 0x10, 0x00, b'O', b'B', 0, 0]);
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        body.extend_from_slice(&(fragment.len() as u32).to_le_bytes());
        body.extend_from_slice(&fragment);
        body.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let f = file(&body);
        for header_only in [true, false] {
            let err = check_file(f.path(), header_only).expect_err("fragment read as elements");
            assert!(
                err.contains("(0010,0010)") && err.contains("872415232"),
                "{err}"
            );
        }
    }

    /// An undefined-length sequence of one undefined-length item holding `inner`, closed by
    /// `item_end` (normally FFFE,E00D with length 0) and a sequence delimiter.
    fn open_sequence(inner: &[u8], item_end: [u8; 8]) -> Vec<u8> {
        let mut b = vec![0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0];
        b.extend_from_slice(&UNDEFINED.to_le_bytes());
        b.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        b.extend_from_slice(&UNDEFINED.to_le_bytes());
        b.extend_from_slice(inner);
        b.extend_from_slice(&item_end);
        b.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn delimiter_lengths_are_never_skipped() {
        // The fuzzer's finding: an item delimiter declaring 65,280 bytes. The parser ignores
        // the length and reads on at the next header; the walk did skip it, went out of
        // step and missed a lying length the parser then reserved (4 GB).
        let inner = element(0x0008, 0x0100, b"SH", b"T-1234");
        let damaged_end = [0xFE, 0xFF, 0x0D, 0xE0, 0x00, 0xFF, 0x00, 0x00];
        let mut body = open_sequence(&inner, damaged_end);
        body.extend(element(0x0010, 0x0010, b"PN", b"Anon^A"));
        let mut lying = vec![0x18, 0x00, 0x39, 0x0D, b'U', b'N', 0, 0];
        lying.extend_from_slice(&0xFFFF_FF4Eu32.to_le_bytes());
        body.extend(&lying);
        body.extend_from_slice(&[0u8; 64]);
        let f = file(&body);
        let err = check_file(f.path(), true).expect_err("the lying length after the delimiter");
        assert!(err.contains("(0018,0D39)"), "{err}");
    }

    #[test]
    fn pixel_data_inside_an_unclosed_item_does_not_end_the_header_walk() {
        // The fuzzer's finding: a damaged item delimiter left an item open, so the parser
        // met the pixel data inside it, read it as an ordinary element and went on to what
        // follows — a trailing element claiming 1.8 GB. Only a top-level pixel data ends
        // the parser's header read, so only that may end the walk's.
        let mut inner = element(0x0008, 0x0100, b"SH", b"T-1234");
        // (FFFE,E0DE): no delimiter, an element of length 0; the item stays open.
        inner.extend_from_slice(&[0xFE, 0xFF, 0xDE, 0xE0, 0, 0, 0, 0]);
        inner.extend(element(0x7FE0, 0x0010, b"OW", &[0u8; 16]));
        let mut tail = vec![0x00, 0x64, 0x00, 0x07, b'U', b'N', 0, 0];
        tail.extend_from_slice(&0x6D00_0000u32.to_le_bytes());
        inner.extend(&tail);
        let body = open_sequence(&inner, [0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        let f = file(&body);
        let err = check_file(f.path(), true).expect_err("the element after nested pixel data");
        assert!(err.contains("(6400,0700)"), "{err}");
        // Where a top-level pixel data starts is reported.
        let mut top = element(0x0010, 0x0010, b"PN", b"Anon^A");
        let before = 132 + 8 + 20 + top.len() as u64;
        top.extend(element(0x7FE0, 0x0010, b"OW", &[0u8; 16]));
        let f = file(&top);
        assert_eq!(check_file(f.path(), true), Ok(Some(before + 12)));
    }

    #[test]
    fn a_sequence_delimiter_where_an_element_belongs_is_read_as_one() {
        // The parser reads (FFFE,E0DD) inside an item as an element: of undefined length it
        // opens a sequence (whose items are walked), of defined length its value is skipped.
        let mut nested = vec![0xFE, 0xFF, 0xDD, 0xE0];
        nested.extend_from_slice(&UNDEFINED.to_le_bytes());
        nested.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 16, 0, 0, 0]);
        let mut lying = vec![0x08, 0x00, 0x00, 0x01, b'S', b'H'];
        lying.extend_from_slice(&0x7FF0u16.to_le_bytes());
        nested.extend(&lying);
        nested.extend_from_slice(&[0u8; 8]);
        let body = open_sequence(&nested, [0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        let f = file(&body);
        let err = check_file(f.path(), false).expect_err("the element in the opened sequence");
        assert!(err.contains("(0008,0100)"), "{err}");
    }
}
