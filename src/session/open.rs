//! Opening studies for the workstation: scan a folder or file into a [`Catalog`] (studies →
//! series, as the series browser lists them), choose the series to show first, and load one
//! series into a volume with its banner and notices. These run in background tasks, so they
//! take a `Progress` (progress and cancel) and never panic on bad input. Patient identity
//! stays in the catalogue's identities and the banner, nowhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dicom::header::PatientIdentity;
use crate::dicom::info::summarize;
use crate::dicom::load::load_series;
use crate::dicom::scan::{ScanReport, SeriesInfo, scan};
use crate::nifti_io;
use crate::progress::Progress;
use crate::session::banner::Banner;
use crate::session::modality::{self, Evidence};
use crate::session::{Level, Notice};
use crate::volume::Volume;
use crate::volume::display::WindowLevel;
use crate::volume::histogram::Histogram;

/// One series as the browser lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    /// Key to load it with (series id, or the file path for NIfTI).
    pub key: String,
    pub number: Option<i32>,
    pub modality: String,
    /// SeriesDescription (free text: hidden in anonymous mode).
    pub description: String,
    /// Columns × rows × slices as loaded (a Siemens mosaic as its tiles).
    pub dims: [usize; 3],
    pub spacing_mm: Option<[f64; 3]>,
    pub orientation: String,
    pub localizer: bool,
    pub notes: Vec<String>,
}

/// One study of one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyEntry {
    /// Index into [`Catalog::identities`].
    pub patient: usize,
    pub date: String,
    /// StudyDescription (free text: hidden in anonymous mode).
    pub description: String,
    pub series: Vec<SeriesEntry>,
}

/// What a scan found, ready for the browser, plus what is needed to load any series.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub source: PathBuf,
    pub identities: Vec<PatientIdentity>,
    pub studies: Vec<StudyEntry>,
    /// Files that could not be read, with reasons (paths are the user's own).
    pub skipped: Vec<(PathBuf, String)>,
    pub files_seen: usize,
    /// What the folder listing left out (link loops, other file systems, a file limit).
    pub listing_notes: Vec<String>,
    report: Option<Arc<ScanReport>>,
}

/// A loaded series, ready to show.
#[derive(Debug, Clone)]
pub struct LoadedSeries {
    pub key: String,
    pub volume: Arc<Volume>,
    pub banner: Banner,
    pub notices: Vec<Notice>,
    /// The modality the workstation treats the series as ("" when unknown), and why.
    pub modality: String,
    pub evidence: Evidence,
    /// The value histogram (for defaults that depend on the modality).
    pub histogram: Arc<Histogram>,
}

impl LoadedSeries {
    pub fn is_ct(&self) -> bool {
        modality::is_ct(&self.modality)
    }

    /// The HU of a CT angiogram's contrast peak (None for other series).
    pub fn contrast_peak_hu(&self) -> Option<f64> {
        if self.is_ct() {
            modality::contrast_peak_hu(&self.histogram)
        } else {
            None
        }
    }

    /// The window this series opens with (see [`modality::default_window`]).
    pub fn default_window(&self) -> (String, WindowLevel) {
        modality::default_window(&self.volume, &self.modality, &self.histogram)
    }

    /// Treat the series as another modality (the user's choice).
    pub fn set_modality(&mut self, m: &str) {
        self.modality = m.trim().to_ascii_uppercase();
        self.evidence = Evidence::User;
        self.banner.modality = self.modality.clone();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read {path}: {message}")]
    Io { message: String, path: PathBuf },
    #[error("no image series found ({skipped} file(s) skipped{notes}) in {path}")]
    NoImages {
        skipped: usize,
        /// What listing left out (", 2 folders reached again through links not re-entered").
        notes: String,
        path: PathBuf,
    },
    #[error("series {key} is not in the catalogue")]
    UnknownSeries { key: String },
    #[error(transparent)]
    Load(#[from] crate::dicom::load::LoadError),
    #[error(transparent)]
    Nifti(#[from] nifti_io::NiftiError),
    #[error("cancelled")]
    Cancelled,
}

impl Catalog {
    /// Whether the series `key` has DICOM files (a cheap [`Catalog::files_of`]).
    pub fn has_files(&self, key: &str) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.series().any(|s| s.id() == key && !s.frames.is_empty()))
    }

    /// The DICOM files of the series `key`, each once, sorted (empty for NIfTI or an
    /// unknown key): what a de-identified export of the series copies.
    pub fn files_of(&self, key: &str) -> Vec<PathBuf> {
        let Some(report) = &self.report else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = report
            .series()
            .filter(|s| s.id() == key)
            .flat_map(|s| s.frames.iter().map(|f| f.file.path.clone()))
            .collect();
        files.sort();
        files.dedup();
        files
    }

    pub fn series(&self) -> impl Iterator<Item = &SeriesEntry> {
        self.studies.iter().flat_map(|s| s.series.iter())
    }

    /// The series to open first: the image stack with most slices (localizers last).
    pub fn default_series(&self) -> Option<&SeriesEntry> {
        self.series()
            .max_by_key(|s| (!s.localizer, s.dims[2] * s.dims[0] * s.dims[1]))
    }

    /// The study holding series `key`.
    pub fn study_of(&self, key: &str) -> Option<&StudyEntry> {
        self.studies
            .iter()
            .find(|st| st.series.iter().any(|s| s.key == key))
    }

    /// A one-line notice about skipped files and what listing left out, if anything
    /// (names the first files in the details).
    pub fn skipped_notice(&self) -> Option<Notice> {
        if self.skipped.is_empty() && self.listing_notes.is_empty() {
            return None;
        }
        const SHOWN: usize = 200;
        let mut details: Vec<String> = self.listing_notes.clone();
        details.extend(
            self.skipped
                .iter()
                .take(SHOWN)
                .map(|(p, why)| format!("{}: {why}", p.display())),
        );
        if self.skipped.len() > SHOWN {
            details.push(format!("… and {} more", self.skipped.len() - SHOWN));
        }
        let title = if self.skipped.is_empty() {
            "Part of the folder was not searched".to_string()
        } else {
            format!(
                "{} of {} file(s) skipped",
                self.skipped.len(),
                self.files_seen
            )
        };
        Some(Notice::new(Level::Warning, title, details.join("\n")))
    }
}

fn entry_of(s: &SeriesInfo) -> SeriesEntry {
    // The same figures `twinplan info` prints: loaded dimensions (mosaics as their tiles),
    // slice spacing measured from positions.
    let summary = summarize(s);
    let spacing = match summary.spacing_mm {
        [Some(c), Some(r), Some(k)] => Some([c, r, k]),
        _ => None,
    };
    SeriesEntry {
        key: s.id(),
        number: s.series_number,
        modality: s.modality.clone(),
        description: s.description.clone(),
        dims: summary.dimensions,
        spacing_mm: spacing,
        orientation: summary.orientation,
        localizer: s.localizer,
        notes: s.notes.clone(),
    }
}

/// Scans a DICOM folder or file, or reads a NIfTI header, into a catalogue.
pub fn scan_path(path: &Path, progress: &Progress) -> Result<Catalog, OpenError> {
    if nifti_io::is_nifti_path(path) {
        let g = nifti_io::read_nifti_geometry(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(Catalog {
            source: path.to_path_buf(),
            identities: vec![PatientIdentity::default()],
            studies: vec![StudyEntry {
                patient: 0,
                date: String::new(),
                description: "NIfTI".into(),
                series: vec![SeriesEntry {
                    key: path.display().to_string(),
                    number: None,
                    modality: String::new(),
                    description: name,
                    dims: g.dims,
                    spacing_mm: Some(g.spacing_mm),
                    orientation: format!("{:?}", g.orientation()),
                    localizer: false,
                    notes: Vec::new(),
                }],
            }],
            skipped: Vec::new(),
            files_seen: 1,
            listing_notes: Vec::new(),
            report: None,
        });
    }
    let report = scan(path, progress).map_err(|e| match e.kind() {
        std::io::ErrorKind::Interrupted => OpenError::Cancelled,
        kind => OpenError::Io {
            message: kind.to_string(),
            path: path.to_path_buf(),
        },
    })?;
    let notes = report.listing_notes();
    if progress.is_cancelled() {
        return Err(OpenError::Cancelled);
    }
    let mut identities = Vec::new();
    let mut studies = Vec::new();
    for (pi, patient) in report.patients.iter().enumerate() {
        identities.push(patient.identity.clone());
        for st in &patient.studies {
            studies.push(StudyEntry {
                patient: pi,
                date: st.date.clone(),
                description: st.description.clone(),
                series: st.series.iter().map(entry_of).collect(),
            });
        }
    }
    let catalog = Catalog {
        source: path.to_path_buf(),
        identities,
        studies,
        skipped: report
            .skipped
            .iter()
            .map(|s| (s.path.clone(), s.reason.clone()))
            .collect(),
        files_seen: report.files_seen,
        listing_notes: notes.clone(),
        report: Some(Arc::new(report)),
    };
    if catalog.series().next().is_none() {
        return Err(OpenError::NoImages {
            skipped: catalog.skipped.len(),
            notes: notes.iter().map(|n| format!("; {n}")).collect(),
            path: path.to_path_buf(),
        });
    }
    Ok(catalog)
}

/// Loads series `key` of the catalogue.
pub fn load_entry(
    catalog: &Catalog,
    key: &str,
    progress: &Progress,
) -> Result<LoadedSeries, OpenError> {
    let entry = catalog
        .series()
        .find(|s| s.key == key)
        .ok_or_else(|| OpenError::UnknownSeries { key: key.into() })?;
    let study = catalog.study_of(key);
    let volume = match &catalog.report {
        None => nifti_io::read_nifti(&catalog.source)?,
        Some(report) => {
            let info = report
                .series()
                .find(|s| s.id() == key)
                .ok_or_else(|| OpenError::UnknownSeries { key: key.into() })?;
            load_series(info, progress)?
        }
    };
    if progress.is_cancelled() {
        return Err(OpenError::Cancelled);
    }
    let mut notices: Vec<Notice> = volume
        .warnings
        .iter()
        .map(|w| {
            let text = w.to_string();
            let summary = text.split(';').next().unwrap_or(&text).to_string();
            Notice::new(Level::Warning, summary, text)
        })
        .collect();
    let histogram = Histogram::of(&volume);
    let (modality, evidence) = if catalog.report.is_some() {
        let m = if volume.modality.is_empty() {
            entry.modality.clone()
        } else {
            volume.modality.clone()
        };
        (m, Evidence::Header)
    } else if let Some(m) = nifti_io::sidecar_modality(&catalog.source) {
        (m, Evidence::Sidecar)
    } else if modality::looks_like_ct(&histogram) {
        notices.push(Notice::new(
            Level::Info,
            "Treated as CT (inferred from its values)",
            "The NIfTI file does not say what it is. Its values are whole numbers with air \
             near −1000 and soft tissue near 0, as in a CT in Hounsfield units, so it is shown \
             as CT: HU read-outs, CT window presets and default surfaces. If that is wrong, \
             change the modality in the Series panel.",
        ));
        ("CT".to_string(), Evidence::Values)
    } else {
        (String::new(), Evidence::Unknown)
    };
    let banner = Banner {
        identity: study
            .and_then(|s| catalog.identities.get(s.patient))
            .cloned()
            .unwrap_or_default(),
        study_date: study.map(|s| s.date.clone()).unwrap_or_default(),
        modality: modality.clone(),
        series: entry.description.clone(),
    };
    Ok(LoadedSeries {
        key: key.to_string(),
        volume: Arc::new(volume),
        banner,
        notices,
        modality,
        evidence,
        histogram: Arc::new(histogram),
    })
}

/// Scan then load the default series.
pub fn open_path(path: &Path, progress: &Progress) -> Result<(Catalog, LoadedSeries), OpenError> {
    let catalog = scan_path(path, progress)?;
    let key = catalog
        .default_series()
        .map(|s| s.key.clone())
        .ok_or_else(|| OpenError::NoImages {
            skipped: catalog.skipped.len(),
            notes: String::new(),
            path: path.to_path_buf(),
        })?;
    let loaded = load_entry(&catalog, &key, progress)?;
    Ok((catalog, loaded))
}

/// The bundled sample study (`sample_data/phantom_cta/dicom`), looked for next to the
/// working directory, the executable and the source tree.
pub fn sample_path() -> Option<PathBuf> {
    let rel = Path::new("sample_data/phantom_cta/dicom");
    let mut candidates = vec![rel.to_path_buf()];
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            candidates.push(dir.join(rel));
        }
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel));
    candidates.into_iter().find(|p| p.is_dir())
}

/// Named points shipped with a study: the bundled phantom's `ground_truth.json` (next to its
/// `dicom` folder) lists landmarks; the viewer seeds the vessel structure at the aortic root.
pub fn study_landmarks(source: &Path) -> Vec<(String, [f64; 3])> {
    let dir = if source.is_dir() {
        source
    } else {
        source.parent().unwrap_or(source)
    };
    let Some(truth) = [
        dir.join("ground_truth.json"),
        dir.join("../ground_truth.json"),
    ]
    .into_iter()
    .find(|p| p.is_file()) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&truth) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    json.get("landmarks")
        .and_then(|l| l.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|l| {
                    let name = l.get("name")?.as_str()?.to_string();
                    let p = l.get("position_mm")?.as_array()?;
                    let xyz: Vec<f64> = p.iter().filter_map(|v| v.as_f64()).collect();
                    (xyz.len() == 3).then(|| (name, [xyz[0], xyz[1], xyz[2]]))
                })
                .collect()
        })
        .unwrap_or_default()
}
