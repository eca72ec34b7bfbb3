//! The one scrubber every message of the command-line tool passes through, and quiet
//! panics inside guarded decoders.
//!
//! Readers [`remember`] each patient identity they meet (name and its parts, ID, birth
//! date in the forms a message could show it); [`scrub`] replaces every one of them, in
//! any letter case, in a text about to be printed or logged: errors, warnings, file lists
//! (a folder is often named after the patient) and debug logs. Only `info --phi` turns it
//! off ([`reveal`]). [`quietly`] runs code whose panics are caught and reported as clean
//! errors by the caller, without the panic's own text on stderr. Std only; no UI, no
//! knowledge of DICOM.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// What a hidden identity is replaced with.
pub const HIDDEN: &str = "[hidden]";

fn known() -> &'static Mutex<BTreeSet<String>> {
    static KNOWN: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(BTreeSet::new()))
}

static REVEALED: AtomicBool = AtomicBool::new(false);

/// Strings shorter than this are not scrubbed alone (they would hit ordinary words); a
/// two-letter surname is still hidden as part of the whole name.
const MIN_LEN: usize = 3;

/// Strings shorter than this are hidden only as whole words (not inside a longer word:
/// a given name "ADA" is hidden in "ADA went" and "ada_ct", not in "adapter").
const WHOLE_WORD_BELOW: usize = 5;

/// The forms in which one identity string can appear in a message.
pub fn forms(value: &str) -> Vec<String> {
    let v = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    let mut out = Vec::new();
    if v.chars().count() < MIN_LEN {
        return out;
    }
    out.push(v.to_string());
    // Person names: FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX, each part alone, and as
    // "GIVEN FAMILY" / "FAMILY, GIVEN".
    let parts: Vec<&str> = v
        .split(['^', ' ', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() > 1 {
        for p in &parts {
            if p.chars().count() >= MIN_LEN {
                out.push((*p).to_string());
            }
        }
        out.push(parts.join(" "));
    }
    // Dates: YYYYMMDD also as YYYY-MM-DD, YYYY.MM.DD and YYYY/MM/DD.
    if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
        for sep in ["-", ".", "/"] {
            out.push(format!("{}{sep}{}{sep}{}", &v[..4], &v[4..6], &v[6..]));
        }
    }
    out
}

/// Remembers identifying strings (a patient's name, ID, birth date) so that [`scrub`]
/// hides them from every later message of this process.
pub fn remember(values: &[&str]) {
    let new: Vec<String> = values.iter().flat_map(|v| forms(v)).collect();
    if new.is_empty() {
        return;
    }
    if let Ok(mut k) = known().lock() {
        k.extend(new);
    }
}

/// Shows identities from now on (`info --phi`, asked for explicitly).
pub fn reveal(on: bool) {
    REVEALED.store(on, Ordering::Relaxed);
}

/// `text` with every remembered identity replaced by [`HIDDEN`], in any letter case.
pub fn scrub(text: &str) -> String {
    if REVEALED.load(Ordering::Relaxed) {
        return text.to_string();
    }
    let mut secrets: Vec<String> = match known().lock() {
        Ok(k) => k.iter().cloned().collect(),
        Err(_) => return text.to_string(),
    };
    // Longest first, so "DOE^JOHN" goes before "DOE".
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in &secrets {
        out = if s.chars().count() < WHOLE_WORD_BELOW {
            replace_words_ignore_case(&out, s, HIDDEN)
        } else {
            replace_ignore_case(&out, s, HIDDEN)
        };
    }
    out
}

/// Replaces every case-insensitive (ASCII) occurrence of `needle`.
pub fn replace_ignore_case(text: &str, needle: &str, with: &str) -> String {
    replace_matches(text, needle, with, false)
}

/// Replaces every case-insensitive (ASCII) occurrence of `needle` that is a whole word: not
/// preceded or followed by a letter or digit.
pub fn replace_words_ignore_case(text: &str, needle: &str, with: &str) -> String {
    replace_matches(text, needle, with, true)
}

fn replace_matches(text: &str, needle: &str, with: &str, whole_words: bool) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    // ASCII lowering keeps every byte offset, so offsets in `lower` are offsets in `text`.
    let lower = text.to_ascii_lowercase();
    let n = needle.to_ascii_lowercase();
    let touches_word = |at: usize, end: usize| {
        whole_words
            && (text[..at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
                || text[end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric))
    };
    let mut out = String::new();
    let mut last = 0;
    for (at, _) in lower.match_indices(&n) {
        let end = at + n.len();
        if at < last || touches_word(at, end) {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// A writer that scrubs what passes through it (for log output: each log line is one
/// write). Bytes that are not UTF-8 are written as their lossy text.
pub struct Scrubbed<W>(pub W);

impl<W: std::io::Write> std::io::Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

static QUIET: AtomicUsize = AtomicUsize::new(0);

/// Runs `f`, catching a panic (`None`) without printing its text: for third-party decoders
/// that panic on malformed data, whose caller reports a clean error instead. Panics on
/// other threads while it runs are quiet too (a decoder may panic on its own workers).
pub fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    install_panic_hook();
    QUIET.fetch_add(1, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.fetch_sub(1, Ordering::SeqCst);
    r.ok()
}

/// Replaces the default panic message (once per process) with one that is silent inside
/// [`quietly`] and scrubbed everywhere else.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if QUIET.load(Ordering::SeqCst) > 0 {
                return;
            }
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            eprintln!("internal error (a bug in twinplan): {}{at}", scrub(&what));
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_remembered_identity_is_hidden() {
        remember(&["ZQTESTSURNAME^Qxgiven", "QX-ID-0042", "19010203"]);
        let text = "/data/zqtestsurname_qxgiven/ct: Qxgiven ZQTESTSURNAME, id qx-id-0042, born 1901-02-03 (19010203)";
        let out = scrub(text);
        for s in [
            "zqtestsurname",
            "qxgiven",
            "qx-id-0042",
            "1901-02-03",
            "19010203",
        ] {
            assert!(!out.to_ascii_lowercase().contains(s), "{s} in {out}");
        }
        assert!(out.contains(HIDDEN) && out.starts_with("/data/"), "{out}");
    }

    #[test]
    fn short_parts_are_not_scrubbed_alone() {
        let f = forms("LI^XY");
        assert!(f.contains(&"LI^XY".to_string()));
        assert!(!f.contains(&"LI".to_string()));
        assert!(forms("AB").is_empty());
    }

    #[test]
    fn short_name_parts_are_hidden_as_words_not_inside_words() {
        remember(&["ZQLONGFAMILYNAME^Qad"]);
        let out = scrub("the qadapter saw Qad, and /data/qad_ct/1.dcm; QAD-2 and zqlongfamilyname");
        assert!(out.contains("qadapter"), "{out}");
        assert!(!out.contains("Qad,") && !out.contains("qad_ct") && !out.contains("QAD-2"));
        assert!(
            !out.to_ascii_lowercase().contains("zqlongfamilyname"),
            "{out}"
        );
        assert_eq!(out.matches(HIDDEN).count(), 4, "{out}");
    }

    #[test]
    fn a_quiet_panic_is_caught() {
        assert_eq!(quietly(|| 7), Some(7));
        let r: Option<()> = quietly(|| panic!("range end index 9 out of range"));
        assert!(r.is_none());
    }
}
