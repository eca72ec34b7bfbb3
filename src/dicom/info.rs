//! A printable, serialisable summary of a scan (what `twinplan info` shows).
//!
//! Built from headers only: dimensions, spacing from positions, orientation, irregularities
//! the loader will correct, skipped files with reasons. Patient identity — and the free-text
//! study and series descriptions, which can carry names ("SURNAME^Protocol") — is included
//! only when the caller asks for it (`--phi`). No I/O besides what the caller prints.

use serde::Serialize;

use super::header::PatientIdentity;
use super::load::order_frames;
use super::scan::{ScanReport, SeriesInfo};
use crate::volume::regularize::analyze;

#[derive(Debug, Clone, Serialize)]
pub struct InfoReport {
    pub files_seen: usize,
    pub patients: Vec<PatientInfo>,
    pub skipped: Vec<super::scan::SkippedFile>,
    /// What the folder listing left out (link loops, other file systems, the file limit).
    pub listing_notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientInfo {
    /// Present only with `--phi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<PatientIdentity>,
    pub studies: Vec<StudyInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StudyInfo {
    pub study_uid: String,
    /// StudyDate: only with `--phi` (dates identify too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// StudyDescription: only with `--phi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub series: Vec<SeriesSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesSummary {
    /// What `--series` accepts: the UID, or `UID#n` for a split series.
    pub id: String,
    pub series_uid: String,
    pub series_number: Option<i32>,
    pub modality: String,
    /// SeriesDescription: only with `--phi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `[columns, rows, slices]` as loaded (a Siemens mosaic as its tiles; before any
    /// resampling).
    pub dimensions: [usize; 3],
    /// `[column, row, slice]` spacing in mm; the slice spacing is measured from positions.
    pub spacing_mm: [Option<f64>; 3],
    pub orientation: String,
    pub slice_count: usize,
    pub file_count: usize,
    pub localizer: bool,
    pub warnings: Vec<String>,
}

/// One stack's summary (headers only): loaded dimensions, spacing, warnings.
pub fn summarize(s: &SeriesInfo) -> SeriesSummary {
    let mut load_warnings = Vec::new();
    let mut warnings = Vec::new();
    let (frames, stack) = match order_frames(s, &mut load_warnings) {
        Ok((frames, stack)) => (frames.len(), stack),
        Err(e) => {
            warnings.push(e.to_string());
            (s.frames.len(), None)
        }
    };
    warnings.extend(load_warnings.iter().map(|w| w.to_string()));
    let mut slice_mm = None;
    if let Some(stack) = &stack {
        if stack.positions.len() >= 2 {
            let a = analyze(stack);
            slice_mm = Some(a.gap_median_mm);
            if a.irregular {
                warnings.push(format!(
                    "slice spacing varies ({:.3}–{:.3} mm); will be resampled",
                    a.gap_min_mm, a.gap_max_mm
                ));
            }
            if a.tilted {
                warnings.push(format!("gantry tilt {:.2}°; will be corrected", a.tilt_deg));
            }
        } else {
            slice_mm = Some(stack.single_slice_spacing_mm);
        }
    }
    warnings.extend(s.notes.iter().cloned());
    // A single Siemens mosaic loads as its tiles.
    let mut dimensions = [s.columns as usize, s.rows as usize, frames];
    if let (1, Some(m)) = (
        s.frames.len(),
        s.frames.first().and_then(|f| f.file.mosaic.clone()),
    ) {
        let per_row = (f64::from(m.images)).sqrt().ceil().max(1.0) as usize;
        dimensions = [
            s.columns as usize / per_row,
            s.rows as usize / per_row,
            m.images as usize,
        ];
        slice_mm = s.frames[0]
            .file
            .spacing_between_slices
            .or(s.frames[0].file.slice_thickness);
        warnings.push(format!("Siemens mosaic of {} slices", m.images));
    }
    SeriesSummary {
        id: s.id(),
        series_uid: s.series_uid.clone(),
        series_number: s.series_number,
        modality: s.modality.clone(),
        description: Some(s.description.clone()),
        dimensions,
        spacing_mm: [
            s.pixel_spacing_mm.map(|p| p[0]),
            s.pixel_spacing_mm.map(|p| p[1]),
            slice_mm,
        ],
        orientation: s.orientation.to_string(),
        slice_count: dimensions[2],
        file_count: s.file_count(),
        localizer: s.localizer,
        warnings,
    }
}

/// Summarises a scan; `phi` includes patient name, ID and birth date.
pub fn describe(report: &ScanReport, phi: bool) -> InfoReport {
    InfoReport {
        files_seen: report.files_seen,
        patients: report
            .patients
            .iter()
            .map(|p| PatientInfo {
                identity: phi.then(|| p.identity.clone()),
                studies: p
                    .studies
                    .iter()
                    .map(|st| StudyInfo {
                        study_uid: st.study_uid.clone(),
                        date: phi.then(|| st.date.clone()),
                        description: phi.then(|| st.description.clone()),
                        series: st
                            .series
                            .iter()
                            .map(|s| SeriesSummary {
                                description: if phi {
                                    Some(s.description.clone())
                                } else {
                                    None
                                },
                                ..summarize(s)
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        skipped: report.skipped.clone(),
        listing_notes: report.listing_notes(),
    }
}

fn mm(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "?".into())
}

impl InfoReport {
    /// Human-readable text, one line per series.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let n_series: usize = self
            .patients
            .iter()
            .flat_map(|p| &p.studies)
            .map(|s| s.series.len())
            .sum();
        let _ = writeln!(
            out,
            "{} file(s): {} patient(s), {} image series, {} skipped",
            self.files_seen,
            self.patients.len(),
            n_series,
            self.skipped.len()
        );
        for note in &self.listing_notes {
            let _ = writeln!(out, "Note: {note}");
        }
        for (pn, p) in self.patients.iter().enumerate() {
            match &p.identity {
                Some(id) => {
                    let _ = writeln!(
                        out,
                        "Patient {}: {}  ID {}  born {}",
                        pn + 1,
                        id.name,
                        id.id,
                        id.birth_date
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "Patient {} (identity, dates and descriptions hidden; --phi shows them)",
                        pn + 1
                    );
                }
            }
            for st in &p.studies {
                let _ = writeln!(
                    out,
                    "  Study {}  {}  {}",
                    match st.date.as_deref() {
                        None => "(date hidden)",
                        Some("") => "(no date)",
                        Some(d) => d,
                    },
                    st.description.as_deref().unwrap_or("(description hidden)"),
                    st.study_uid
                );
                for s in &st.series {
                    let _ = writeln!(
                        out,
                        "    Series {:>4}  {:<3} {:<28} {}x{}x{}  {} x {} x {} mm  {}{}",
                        s.series_number
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "-".into()),
                        s.modality,
                        match s.description.as_deref() {
                            None => "-",
                            Some("") => "(no description)",
                            Some(d) => d,
                        },
                        s.dimensions[0],
                        s.dimensions[1],
                        s.dimensions[2],
                        mm(s.spacing_mm[0]),
                        mm(s.spacing_mm[1]),
                        mm(s.spacing_mm[2]),
                        s.orientation,
                        if s.localizer { "  (localizer)" } else { "" }
                    );
                    let _ = writeln!(out, "                id {}", s.id);
                    for w in &s.warnings {
                        let _ = writeln!(out, "                warning: {w}");
                    }
                }
            }
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "Skipped:");
            for s in &self.skipped {
                let _ = writeln!(out, "  {}: {}", s.path.display(), s.reason);
            }
        }
        out
    }
}
