//! The file browser every dialog of the workstation uses — open a study, open or save a
//! plan, import and export markups: a folder listing drawn with egui, a folder path that can
//! be typed, and for saving a file name (an existing file can be picked to overwrite it).
//! No platform dialogs (GTK, portals), so it works the same everywhere, Xvfb included. A
//! failure of what the caller did with the choice is shown in the dialog until the next
//! choice; a dialog opened again starts clean. Depends on egui and the file system only.

use std::path::{Path, PathBuf};

use bevy_egui::egui::{self, Color32, RichText};

/// What the dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A study: a file, or the folder being shown.
    OpenStudy,
    /// An existing file.
    OpenFile,
    /// A file to write: a folder and a name.
    Save,
}

/// What the user chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    File(PathBuf),
    Folder(PathBuf),
}

impl Chosen {
    pub fn path(&self) -> &Path {
        match self {
            Chosen::File(p) | Chosen::Folder(p) => p,
        }
    }
}

/// A browser window: the folder shown, what was typed, and the listing.
pub struct FileDialog {
    pub title: String,
    pub mode: Mode,
    pub dir: PathBuf,
    /// The folder field.
    pub typed: String,
    /// The file name (saving).
    pub name: String,
    /// Files shown end with one of these (all files when empty); folders are always shown.
    suffixes: Vec<&'static str>,
    entries: Vec<(String, bool)>,
    listed: Option<PathBuf>,
    error: Option<String>,
    /// Why the last choice did not work (set by the caller).
    pub failure: Option<String>,
    /// Saving: the name field's label and the button's word.
    pub words: (&'static str, &'static str),
}

impl FileDialog {
    fn new(title: &str, mode: Mode, dir: &Path, suffixes: &[&'static str]) -> FileDialog {
        // Absolute, so that Up climbs past where the viewer was started.
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let dir = dir.as_path();
        FileDialog {
            title: title.to_string(),
            mode,
            dir: dir.to_path_buf(),
            typed: dir.display().to_string(),
            name: String::new(),
            suffixes: suffixes.to_vec(),
            entries: Vec::new(),
            listed: None,
            error: None,
            failure: None,
            words: ("File name:", "Save"),
        }
    }

    /// Opening a study (a DICOM folder or file, a NIfTI file), starting in `dir`.
    pub fn open_study(dir: &Path) -> FileDialog {
        FileDialog::new("Open folder or file", Mode::OpenStudy, dir, &[])
    }

    /// Opening an existing file ending with one of `suffixes`, starting in `dir`.
    pub fn open_file(title: &str, dir: &Path, suffixes: &[&'static str]) -> FileDialog {
        FileDialog::new(title, Mode::OpenFile, dir, suffixes)
    }

    /// Saving to `path` (its folder shown, its name filled in).
    pub fn save(title: &str, path: &Path, suffixes: &[&'static str]) -> FileDialog {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")));
        let mut d = FileDialog::new(title, Mode::Save, &dir, suffixes);
        d.name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        d
    }

    /// Choosing a new folder to write into at `path` (its parent shown, its name filled in).
    pub fn new_folder(title: &str, path: &Path) -> FileDialog {
        FileDialog {
            words: ("New folder:", "Export"),
            ..FileDialog::save(title, path, &[])
        }
    }

    /// The file a save writes: the name typed, in the folder shown (a typed absolute path
    /// is taken as it is).
    pub fn save_target(&self) -> Option<PathBuf> {
        let name = self.name.trim();
        if name.is_empty() {
            return None;
        }
        Some(self.dir.join(name))
    }

    fn shows(&self, name: &str, is_dir: bool) -> bool {
        is_dir || self.suffixes.is_empty() || self.suffixes.iter().any(|s| name.ends_with(s))
    }

    fn list(&mut self) {
        if self.listed.as_deref() == Some(self.dir.as_path()) {
            return;
        }
        match list_dir(&self.dir) {
            Ok(entries) => {
                self.entries = entries
                    .into_iter()
                    .filter(|(n, d)| self.shows(n, *d))
                    .collect();
                self.error = None;
            }
            Err(e) => {
                self.entries.clear();
                self.error = Some(e);
            }
        }
        self.listed = Some(self.dir.clone());
    }

    fn go_to(&mut self, dir: PathBuf) {
        self.typed = dir.display().to_string();
        self.dir = dir;
    }

    /// Draws the window. Returns what was chosen this frame, if anything, and whether the
    /// window is still open (closed with its ✕).
    pub fn show(&mut self, ctx: &egui::Context) -> (Option<Chosen>, bool) {
        self.list();
        let mut open = true;
        let mut chosen = None;
        let title = self.title.clone();
        egui::Window::new(title)
            .id(egui::Id::new(("file dialog", self.mode as u8)))
            .open(&mut open)
            .collapsible(false)
            .pivot(egui::Align2::CENTER_CENTER)
            .default_pos(ctx.content_rect().center())
            .default_width(580.0)
            .show(ctx, |ui| chosen = self.contents(ui));
        if chosen.is_some() {
            self.failure = None;
        }
        (chosen, open)
    }

    fn contents(&mut self, ui: &mut egui::Ui) -> Option<Chosen> {
        let mut chosen = None;
        ui.horizontal(|ui| {
            if ui.button("⬆ Up").clicked()
                && let Some(p) = self.dir.parent()
            {
                let p = p.to_path_buf();
                self.go_to(p);
            }
            let r = ui.add(egui::TextEdit::singleline(&mut self.typed).desired_width(420.0));
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                let p = PathBuf::from(self.typed.trim());
                if p.is_dir() {
                    self.dir = p;
                } else if p.is_file() && self.mode != Mode::Save {
                    chosen = Some(Chosen::File(p));
                } else {
                    self.error = Some("no such folder".into());
                }
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(Color32::from_rgb(235, 110, 100), e);
        }
        egui::ScrollArea::vertical()
            .min_scrolled_height(260.0)
            .max_height(260.0)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let mut go = None;
                for (name, is_dir) in &self.entries {
                    let label = if *is_dir {
                        format!("📁 {name}")
                    } else {
                        format!("   {name}")
                    };
                    let picked = self.mode == Mode::Save && !*is_dir && self.name == *name;
                    let r = ui.selectable_label(picked, label);
                    if *is_dir && r.clicked() {
                        go = Some((name.clone(), true, true));
                    } else if !*is_dir && (r.clicked() || r.double_clicked()) {
                        go = Some((name.clone(), false, r.double_clicked()));
                    }
                }
                match go {
                    Some((name, true, _)) => {
                        let p = self.dir.join(name);
                        self.go_to(p);
                    }
                    Some((name, false, double)) => match self.mode {
                        Mode::Save => {
                            self.name = name;
                            if double {
                                chosen = self.save_target().map(Chosen::File);
                            }
                        }
                        Mode::OpenFile | Mode::OpenStudy => {
                            if double || self.mode == Mode::OpenFile {
                                chosen = Some(Chosen::File(self.dir.join(name)));
                            }
                        }
                    },
                    None => {}
                }
            });
        ui.separator();
        match self.mode {
            Mode::OpenStudy => {
                if ui
                    .button(format!("Open this folder: {}", self.dir.display()))
                    .clicked()
                {
                    chosen = Some(Chosen::Folder(self.dir.clone()));
                }
            }
            Mode::OpenFile => {
                ui.label(RichText::new("Click a file to open it.").small().weak());
            }
            Mode::Save => {
                ui.horizontal(|ui| {
                    ui.label(self.words.0);
                    let r = ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(330.0));
                    let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    let target = self.save_target();
                    let save = ui.add_enabled(target.is_some(), egui::Button::new(self.words.1));
                    if save.clicked() || enter {
                        chosen = target.map(Chosen::File);
                    }
                });
                if let Some(t) = self.save_target().filter(|t| t.exists()) {
                    ui.label(
                        RichText::new(format!("{} exists and will be replaced.", t.display()))
                            .small()
                            .weak(),
                    );
                }
            }
        }
        if let Some(f) = &self.failure {
            ui.colored_label(Color32::from_rgb(235, 110, 100), f);
        }
        chosen
    }
}

/// A folder's visible entries: (name, is a folder), folders first, by name. Symbolic links
/// are followed, so a linked folder is listed as a folder.
pub fn list_dir(dir: &Path) -> Result<Vec<(String, bool)>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| e.kind().to_string())?;
    let mut entries = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let is_dir = std::fs::metadata(e.path())
            .map(|m| m.is_dir())
            .unwrap_or(false);
        entries.push((name, is_dir));
    }
    entries.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.to_lowercase().cmp(&b.0.to_lowercase()))
    });
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_dialog_lists_linked_folders_as_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("real")).expect("mkdir");
        std::fs::write(dir.path().join("a.dcm"), b"x").expect("write");
        std::fs::write(dir.path().join(".hidden"), b"x").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("linked"))
            .expect("symlink");
        let listed = list_dir(dir.path()).expect("list");
        let mut want = vec![("real".to_string(), true), ("a.dcm".to_string(), false)];
        if cfg!(unix) {
            want.insert(0, ("linked".to_string(), true));
        }
        assert_eq!(listed, want);
        assert!(list_dir(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_save_dialog_starts_in_the_files_folder_with_its_name() {
        let d = FileDialog::save("Save plan", Path::new("/tmp/cases/a.twinplan.json"), &[]);
        assert_eq!(d.dir, PathBuf::from("/tmp/cases"));
        assert_eq!(d.name, "a.twinplan.json");
        assert_eq!(
            d.save_target(),
            Some(PathBuf::from("/tmp/cases/a.twinplan.json"))
        );
        let mut empty = d;
        empty.name = "  ".into();
        assert_eq!(empty.save_target(), None);
    }

    #[test]
    fn listings_show_folders_and_the_files_asked_for() {
        let dir = std::env::temp_dir().join(format!("twinplan-fd-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).expect("temp folder");
        for f in ["b.twinplan.json", "a.mrk.json", "notes.txt", ".hidden.json"] {
            std::fs::write(dir.join(f), b"x").expect("temp file");
        }
        let mut d = FileDialog::open_file("Open plan", &dir, &[".json"]);
        d.list();
        assert_eq!(
            d.entries,
            vec![
                ("sub".to_string(), true),
                ("a.mrk.json".to_string(), false),
                ("b.twinplan.json".to_string(), false)
            ]
        );
        let mut all = FileDialog::open_study(&dir);
        all.list();
        assert_eq!(all.entries.len(), 4);
        std::fs::remove_dir_all(&dir).ok();
    }
}
