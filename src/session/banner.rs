//! The patient banner and the anonymous mode. Identity (name, ID, birth date) enters the UI
//! only through [`Banner`]; with `anonymous` set every string it produces is free of it, as
//! is the study date. Free text that can carry names (study and series descriptions; a
//! real one reads "SURNAME^Protocol") is not shown at all in anonymous mode, and file paths
//! shown are scrubbed of the patient's name, ID and birth date ([`Banner::scrub`]).
//! Depends on nothing but `dicom::header::PatientIdentity`.

use crate::dicom::header::PatientIdentity;

/// What the banner shows about the open series.
#[derive(Clone, Default, PartialEq)]
pub struct Banner {
    pub identity: PatientIdentity,
    /// DICOM DA (YYYYMMDD) or empty.
    pub study_date: String,
    pub modality: String,
    pub series: String,
}

impl std::fmt::Debug for Banner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Banner")
            .field("identity", &self.identity)
            .field("modality", &self.modality)
            .field("series", &self.series)
            .finish_non_exhaustive()
    }
}

/// `FAMILY^GIVEN^MIDDLE` as "FAMILY, Given Middle"-style text (components kept as written).
pub fn person_name(pn: &str) -> String {
    let parts: Vec<&str> = pn.split('^').map(str::trim).collect();
    match parts.as_slice() {
        [] | [""] => String::new(),
        [family] => (*family).to_string(),
        [family, rest @ ..] => {
            let given: Vec<&str> = rest.iter().copied().filter(|s| !s.is_empty()).collect();
            if given.is_empty() {
                (*family).to_string()
            } else {
                format!("{family}, {}", given.join(" "))
            }
        }
    }
}

/// DICOM DA `YYYYMMDD` as `YYYY-MM-DD` (other text unchanged).
pub fn dicom_date(da: &str) -> String {
    let d = da.trim();
    if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
    } else {
        d.to_string()
    }
}

impl Banner {
    /// The identity half of the banner: name, ID, birth date, study date.
    pub fn identity_line(&self, anonymous: bool) -> String {
        if anonymous {
            return "Anonymous".to_string();
        }
        let name = person_name(&self.identity.name);
        let mut parts = vec![if name.is_empty() {
            "(no name)".to_string()
        } else {
            name
        }];
        if !self.identity.id.trim().is_empty() {
            parts.push(format!("ID {}", self.identity.id.trim()));
        }
        if !self.identity.birth_date.trim().is_empty() {
            parts.push(format!("born {}", dicom_date(&self.identity.birth_date)));
        }
        if !self.study_date.trim().is_empty() {
            parts.push(format!("study {}", dicom_date(&self.study_date)));
        }
        parts.join("  ·  ")
    }

    /// The series half: modality and description (the description, free text that can
    /// hold a name, only outside anonymous mode).
    pub fn series_line(&self, anonymous: bool) -> String {
        let series = if anonymous { "" } else { self.series.as_str() };
        match (self.modality.is_empty(), series.is_empty()) {
            (true, true) => String::new(),
            (false, true) => self.modality.clone(),
            (true, false) => series.to_string(),
            (false, false) => format!("{}  ·  {}", self.modality, series),
        }
    }

    /// A study date as the UI may show it elsewhere (hidden when anonymous).
    pub fn shown_date(date: &str, anonymous: bool) -> String {
        if anonymous {
            "—".to_string()
        } else {
            dicom_date(date)
        }
    }

    /// A description as the UI may show it: hidden when anonymous.
    pub fn shown_description(text: &str, anonymous: bool) -> &str {
        if anonymous { "" } else { text }
    }

    /// `text` with every trace of the patient's identity replaced, when anonymous (paths
    /// in notices and menus: a folder is often named after the patient).
    pub fn scrub(&self, text: &str, anonymous: bool) -> String {
        if !anonymous {
            return text.to_string();
        }
        let mut out = text.to_string();
        let mut secrets = self.secrets();
        // Longest first, so "DOE^JOHN" goes before "DOE".
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            out = crate::privacy::replace_ignore_case(&out, &s, "▒▒▒");
        }
        out
    }

    /// A file name stem for the study's plan: its modality and series description, in
    /// letters, digits and dashes ("CT-CTA-thorax-abdomen"), never carrying the patient's
    /// identity (a description holding any of it, or a date, is left out); "plan" when
    /// nothing is left.
    pub fn plan_stem(&self) -> String {
        let secrets = self.secrets();
        let leaks = |t: &str| {
            let t = t.to_lowercase();
            secrets.iter().any(|s| t.contains(&s.to_lowercase()))
                || t.chars().filter(char::is_ascii_digit).count() >= 6
        };
        let mut parts = Vec::new();
        for t in [&self.modality, &self.series] {
            if !t.trim().is_empty() && !leaks(t) {
                parts.push(t.trim().to_string());
            }
        }
        let mut stem = String::new();
        for ch in parts.join(" ").chars() {
            if ch.is_ascii_alphanumeric() {
                stem.push(ch);
            } else if !stem.ends_with('-') && !stem.is_empty() {
                stem.push('-');
            }
        }
        let stem: String = stem.trim_end_matches('-').chars().take(48).collect();
        let stem = stem.trim_end_matches('-');
        if stem.is_empty() {
            "plan".to_string()
        } else {
            stem.to_string()
        }
    }

    /// Every identifying string the banner could reveal, for checks.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in [
            &self.identity.name,
            &self.identity.id,
            &self.identity.birth_date,
        ] {
            let s = s.trim();
            if s.len() >= 3 {
                out.push(s.to_string());
                out.push(dicom_date(s));
            }
        }
        for part in self.identity.name.split('^') {
            if part.trim().len() >= 3 {
                out.push(part.trim().to_string());
            }
        }
        if self.study_date.trim().len() == 8 {
            out.push(dicom_date(&self.study_date));
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banner() -> Banner {
        Banner {
            identity: PatientIdentity {
                name: "TWINPHANTOM^ADA".into(),
                id: "TP-0042-PHANTOM".into(),
                birth_date: "19700101".into(),
            },
            study_date: "20250314".into(),
            modality: "CT".into(),
            series: "CTA thorax-abdomen".into(),
        }
    }

    #[test]
    fn banner_shows_identity_unless_anonymous() {
        let b = banner();
        let line = b.identity_line(false);
        assert!(line.contains("TWINPHANTOM, ADA"), "{line}");
        assert!(line.contains("TP-0042-PHANTOM") && line.contains("1970-01-01"));
        assert!(line.contains("2025-03-14"));
        let anon = b.identity_line(true);
        for s in b.secrets() {
            assert!(!anon.contains(&s), "{s} leaked into {anon}");
            assert!(!b.series_line(true).contains(&s));
        }
        assert_eq!(b.series_line(false), "CT  ·  CTA thorax-abdomen");
        assert_eq!(b.series_line(true), "CT");
        let path = "/data/exports/twinphantom_ada/TP-0042-PHANTOM/ct";
        assert_eq!(b.scrub(path, false), path);
        let scrubbed = b.scrub(path, true);
        assert_eq!(scrubbed, "/data/exports/▒▒▒_▒▒▒/▒▒▒/ct");
        assert_eq!(Banner::shown_description("DOE^Head", true), "");
        assert_eq!(Banner::shown_date("20250314", true), "—");
        assert!(!format!("{b:?}").contains("ADA"));
    }

    #[test]
    fn a_plans_name_comes_from_the_study_without_identity() {
        let mut b = banner();
        assert_eq!(b.plan_stem(), "CT-CTA-thorax-abdomen");
        // A description carrying the patient's name, ID or a date is left out.
        for series in [
            "CTA Twinphantom",
            "TP-0042-PHANTOM head",
            "CTA 2025-03-14 post",
        ] {
            b.series = series.into();
            assert_eq!(b.plan_stem(), "CT", "{series}");
        }
        b.modality = String::new();
        assert_eq!(b.plan_stem(), "plan");
        b.series = "Ax T1 / post-Gd (3D)".into();
        assert_eq!(b.plan_stem(), "Ax-T1-post-Gd-3D");
    }

    #[test]
    fn names_and_dates_format() {
        assert_eq!(person_name("DOE^JOHN^Q"), "DOE, JOHN Q");
        assert_eq!(person_name("DOE"), "DOE");
        assert_eq!(person_name(""), "");
        assert_eq!(dicom_date("20010203"), "2001-02-03");
        assert_eq!(dicom_date("2001"), "2001");
    }
}
