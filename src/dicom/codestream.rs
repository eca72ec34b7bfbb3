//! What a compressed frame says about itself, read before anything is decoded or allocated:
//! the image size in its own codestream header (JPEG and JPEG-LS start-of-frame, JPEG 2000
//! SIZ) and the most an RLE frame can expand to.
//!
//! The loader allocates the volume from Rows × Columns × frames before it decodes a file,
//! and the decoders allocate from them again; a damaged Rows or Columns in a small
//! compressed file therefore cost hundreds of megabytes (the fuzzer found 157 MB and 210 MB
//! for 78 KB files). Comparing the header with the codestream, and bounding RLE by its
//! largest expansion, refuses such a file first. Reads at most [`PREFIX_BYTES`] of the file
//! from where the header walk found the pixel data. Depends on std only.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much of the pixel data is read to find the codestream header: SIZ comes right after
/// the start of a JPEG 2000 codestream, and a JPEG's start-of-frame follows its tables.
pub const PREFIX_BYTES: u64 = 16 << 10;

/// An RLE segment's packbits code spends at least 2 bytes on a run of at most 128, so no
/// frame decodes to more than this many times its compressed bytes.
pub const RLE_MAX_EXPANSION: u64 = 64;

/// The compression families whose codestreams this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// JPEG baseline, extended and lossless (ISO 10918).
    Jpeg,
    /// JPEG-LS (ISO 14495): a JPEG-style marker stream with its own start-of-frame.
    JpegLs,
    /// JPEG 2000 and High-Throughput JPEG 2000 (ISO 15444).
    Jpeg2000,
    /// DICOM RLE Lossless.
    Rle,
}

impl Family {
    /// The family of a transfer syntax UID, None for native or other encodings.
    pub fn of(transfer_syntax: &str) -> Option<Family> {
        let ts = transfer_syntax.trim_end_matches(['\0', ' ']);
        Some(match ts {
            "1.2.840.10008.1.2.4.50"
            | "1.2.840.10008.1.2.4.51"
            | "1.2.840.10008.1.2.4.57"
            | "1.2.840.10008.1.2.4.70" => Family::Jpeg,
            "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => Family::JpegLs,
            "1.2.840.10008.1.2.4.90"
            | "1.2.840.10008.1.2.4.91"
            | "1.2.840.10008.1.2.4.92"
            | "1.2.840.10008.1.2.4.93"
            | "1.2.840.10008.1.2.4.201"
            | "1.2.840.10008.1.2.4.202"
            | "1.2.840.10008.1.2.4.203" => Family::Jpeg2000,
            "1.2.840.10008.1.2.5" => Family::Rle,
            _ => return None,
        })
    }
}

/// Columns and rows as a codestream declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub columns: u32,
    pub rows: u32,
}

/// The file positioned at the first fragment's item header of encapsulated pixel data whose
/// value starts at byte `pixel_value_at` (the basic offset table item skipped). None when
/// the bytes there are not items.
fn at_first_fragment(
    path: &Path,
    pixel_value_at: u64,
) -> std::io::Result<Option<std::io::BufReader<std::fs::File>>> {
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    f.seek(SeekFrom::Start(pixel_value_at))?;
    let mut item = [0u8; 8];
    // The offset table: an item of its own, usually empty, 4 bytes per frame otherwise.
    if f.read_exact(&mut item).is_err() {
        return Ok(None);
    }
    let Some(table_len) = item_length(&item) else {
        return Ok(None);
    };
    f.seek_relative(i64::from(table_len))?;
    Ok(Some(f))
}

/// The start of the first fragment of encapsulated pixel data whose value starts at byte
/// `pixel_value_at` of the file (the basic offset table item is skipped). None when the
/// bytes there are not items.
pub fn first_fragment(path: &Path, pixel_value_at: u64) -> std::io::Result<Option<Vec<u8>>> {
    let Some(mut f) = at_first_fragment(path, pixel_value_at)? else {
        return Ok(None);
    };
    let mut item = [0u8; 8];
    if f.read_exact(&mut item).is_err() {
        return Ok(None);
    }
    let Some(len) = item_length(&item) else {
        return Ok(None);
    };
    let mut prefix = Vec::new();
    f.take(u64::from(len).min(PREFIX_BYTES))
        .read_to_end(&mut prefix)?;
    Ok(Some(prefix))
}

/// Most fragments [`rle_problem`] looks at (one per frame).
const MAX_FRAGMENTS: usize = 100_000;

/// What is wrong with the RLE headers of the encapsulated pixel data whose value starts at
/// `pixel_value_at`, if anything: each fragment's 64-byte header must declare 1 to 15
/// segments whose offsets start at 64, never decrease and lie inside the fragment. The
/// decoder trusted the count and reserved 4 bytes per declared segment first (15.8 GB for
/// a damaged header), then sliced past the fragment's end (a panic).
pub fn rle_problem(path: &Path, pixel_value_at: u64) -> std::io::Result<Option<String>> {
    let Some(mut f) = at_first_fragment(path, pixel_value_at)? else {
        return Ok(None);
    };
    let mut item = [0u8; 8];
    for n in 0..MAX_FRAGMENTS {
        if f.read_exact(&mut item).is_err() {
            return Ok(None);
        }
        let Some(len) = item_length(&item) else {
            return Ok(None); // the sequence delimiter, or not an item: the decoder judges
        };
        let mut header = [0u8; 64];
        if len < 64 || f.read_exact(&mut header).is_err() {
            return Ok(Some(format!(
                "RLE fragment {} is {len} bytes, shorter than its 64-byte header",
                n + 1
            )));
        }
        let word = |i: usize| {
            u32::from_le_bytes([
                header[4 * i],
                header[4 * i + 1],
                header[4 * i + 2],
                header[4 * i + 3],
            ])
        };
        let segments = word(0) as usize;
        if !(1..=15).contains(&segments) {
            return Ok(Some(format!(
                "RLE fragment {} declares {segments} segments (1 to 15 exist)",
                n + 1
            )));
        }
        let offsets: Vec<u32> = (1..=segments).map(word).collect();
        let ordered = offsets.first() == Some(&64) && offsets.windows(2).all(|w| w[0] <= w[1]);
        if !ordered || offsets.iter().any(|&o| o > len) {
            return Ok(Some(format!(
                "RLE fragment {} has segment offsets {offsets:?} that do not fit its {len} bytes",
                n + 1
            )));
        }
        f.seek_relative(i64::from(len) - 64)?;
    }
    Ok(None)
}

/// The length of an item header (FFFE,E000), little endian as encapsulation always is.
fn item_length(b: &[u8; 8]) -> Option<u32> {
    (b[..4] == [0xFE, 0xFF, 0x00, 0xE0])
        .then(|| u32::from_le_bytes([b[4], b[5], b[6], b[7]]))
        .filter(|&l| l != u32::MAX)
}

/// The image size a codestream's header declares; None when it cannot be read from these
/// bytes (or the family carries none, as RLE does, or a JPEG defers its height to a DNL
/// marker).
pub fn declared_size(family: Family, bytes: &[u8]) -> Option<Size> {
    match family {
        Family::Jpeg | Family::JpegLs => jpeg_frame_size(bytes),
        Family::Jpeg2000 => j2k_size(bytes),
        Family::Rle => None,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// The marker segments of a JPEG or JPEG-LS stream up to its first start-of-frame
/// (SOF0–SOF15 except DHT, JPG and DAC; SOF55 for JPEG-LS).
fn jpeg_frame_size(b: &[u8]) -> Option<Size> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    loop {
        // A marker: 0xFF (any number of fill bytes) then its code.
        if *b.get(i)? != 0xFF {
            return None;
        }
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let code = *b.get(i)?;
        i += 1;
        match code {
            // Markers without a segment.
            0x01 | 0xD0..=0xD7 => continue,
            // Scan data or the end before any frame header.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = be16(b, i)? as usize;
        let sof =
            matches!(code, 0xC0..=0xCF if !matches!(code, 0xC4 | 0xC8 | 0xCC)) || code == 0xF7;
        if sof {
            // Length, sample precision, then the number of lines and samples per line.
            let rows = be16(b, i + 3)?;
            let columns = be16(b, i + 5)?;
            return (rows > 0).then_some(Size { columns, rows });
        }
        if len < 2 {
            return None;
        }
        i += len;
    }
}

/// The SIZ segment that follows a JPEG 2000 codestream's start (FF4F FF51), found at the
/// start or, for a codestream wrapped in JP2 boxes (seen in the wild), further in.
fn j2k_size(b: &[u8]) -> Option<Size> {
    let at = b.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])? + 4;
    // Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz.
    let (x, y) = (be32(b, at + 4)?, be32(b, at + 8)?);
    let (x0, y0) = (be32(b, at + 12)?, be32(b, at + 16)?);
    Some(Size {
        columns: x.checked_sub(x0)?,
        rows: y.checked_sub(y0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(sof: u8, rows: u16, columns: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        // An APP0 segment and a DHT before the frame header, as real files have.
        b.extend([0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        b.extend([0xFF, 0xFF, 0xC4, 0x00, 0x04, 0x00, 0x00]);
        b.extend([0xFF, sof, 0x00, 0x0B, 0x10]);
        b.extend(rows.to_be_bytes());
        b.extend(columns.to_be_bytes());
        b.extend([0x01, 0x01, 0x11, 0x00]);
        b.extend([0xFF, 0xDA, 0x00, 0x02]);
        b
    }

    #[test]
    fn jpeg_and_jpeg_ls_frame_headers_are_read() {
        for (family, sof) in [
            (Family::Jpeg, 0xC0),
            (Family::Jpeg, 0xC3),
            (Family::JpegLs, 0xF7),
        ] {
            assert_eq!(
                declared_size(family, &jpeg(sof, 300, 512)),
                Some(Size {
                    columns: 512,
                    rows: 300
                })
            );
        }
        // DHT (C4) is a table, not a frame; a height left to a DNL marker is unknown.
        assert_eq!(declared_size(Family::Jpeg, &jpeg(0xC4, 300, 512)), None);
        assert_eq!(declared_size(Family::Jpeg, &jpeg(0xC0, 0, 512)), None);
        // Not a JPEG stream, or cut off before the frame header.
        assert_eq!(declared_size(Family::Jpeg, b"not a jpeg"), None);
        assert_eq!(
            declared_size(Family::Jpeg, &jpeg(0xC0, 300, 512)[..12]),
            None
        );
    }

    #[test]
    fn jpeg2000_siz_is_read_bare_and_inside_jp2_boxes() {
        let mut siz = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00];
        for v in [520u32, 310, 8, 10] {
            siz.extend(v.to_be_bytes());
        }
        let want = Some(Size {
            columns: 512,
            rows: 300,
        });
        assert_eq!(declared_size(Family::Jpeg2000, &siz), want);
        let mut boxed = b"\0\0\0\x0CjP  \r\n\x87\n".to_vec();
        boxed.extend(&siz);
        assert_eq!(declared_size(Family::Jpeg2000, &boxed), want);
        // An offset beyond the size is damage, not a size.
        let mut bad = siz.clone();
        bad[20..24].copy_from_slice(&9999u32.to_be_bytes());
        assert_eq!(declared_size(Family::Jpeg2000, &bad), None);
    }

    #[test]
    fn the_first_fragment_follows_the_offset_table() {
        let mut b = b"header bytes".to_vec();
        let at = b.len() as u64;
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 8, 0, 0, 0]);
        b.extend([0u8; 8]); // an offset table of two frames
        let frame = jpeg(0xC1, 64, 48);
        b.extend([0xFE, 0xFF, 0x00, 0xE0]);
        b.extend((frame.len() as u32).to_le_bytes());
        b.extend(&frame);
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), &b).expect("write");
        let got = first_fragment(f.path(), at).expect("read");
        assert_eq!(got.as_deref(), Some(&frame[..]));
        // Not at an item: nothing.
        assert_eq!(first_fragment(f.path(), 0).expect("read"), None);
    }

    #[test]
    fn rle_headers_are_checked_fragment_by_fragment() {
        // Two frames: a good RLE header (2 segments at 64 and 80), then `second`.
        let fragment = |header: &[u32], len: usize| {
            let mut f = vec![0u8; len];
            for (i, w) in header.iter().enumerate() {
                f[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
            }
            f
        };
        let file = |second: Vec<u8>| {
            let mut b = b"header".to_vec();
            b.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
            for f in [fragment(&[2, 64, 80], 96), second] {
                b.extend([0xFE, 0xFF, 0x00, 0xE0]);
                b.extend((f.len() as u32).to_le_bytes());
                b.extend(f);
            }
            let t = tempfile::NamedTempFile::new().expect("temp file");
            std::fs::write(t.path(), &b).expect("write");
            t
        };
        let ok = file(fragment(&[1, 64], 70));
        assert_eq!(rle_problem(ok.path(), 6).expect("read"), None);
        for (second, says) in [
            (
                fragment(&[0xEC3B_F68F, 64], 70),
                "declares 3963352719 segments",
            ),
            (fragment(&[0], 70), "declares 0 segments"),
            (fragment(&[1, 65], 70), "do not fit"),
            (fragment(&[2, 64, 200], 70), "do not fit"),
            (fragment(&[2, 80, 64], 96), "do not fit"),
            (vec![1, 0, 0, 0], "shorter than its 64-byte header"),
        ] {
            let f = file(second);
            let problem = rle_problem(f.path(), 6).expect("read").expect("a problem");
            assert!(
                problem.contains("fragment 2") && problem.contains(says),
                "{problem}"
            );
        }
    }

    #[test]
    fn transfer_syntaxes_map_to_their_families() {
        assert_eq!(Family::of("1.2.840.10008.1.2.4.70\0"), Some(Family::Jpeg));
        assert_eq!(Family::of("1.2.840.10008.1.2.4.80"), Some(Family::JpegLs));
        assert_eq!(
            Family::of("1.2.840.10008.1.2.4.201"),
            Some(Family::Jpeg2000)
        );
        assert_eq!(Family::of("1.2.840.10008.1.2.5"), Some(Family::Rle));
        assert_eq!(Family::of("1.2.840.10008.1.2.1"), None);
    }
}
