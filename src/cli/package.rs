//! `twinplan pack`, `unpack` and `keygen`: encrypted case packages (`twinplan::package`).
//! `pack` opens the study and its plan, rebuilds the plan's surfaces, optionally
//! de-identifies the series, and seals it all with the sender's purpose and consent
//! statement for a passphrase (asked twice on the terminal, or `--passphrase-file`, or
//! `TWINPLAN_PASSPHRASE`) or for recipients' public keys; `unpack` shows the statement and
//! writes the case into a new folder, or nothing; `keygen` makes a key pair for
//! recipients. Both record themselves in the audit trail. Parsing and printing only.

use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use anyhow::{Result, anyhow, bail};
use twinplan::package::{self, Consent, Key, Lock, Purpose};

use super::{UsageError, with_progress};

#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// The study: a DICOM folder or file (or NIfTI, without --with-images).
    pub path: PathBuf,
    /// Series to use (UID, UID#n or series number) when the folder holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// The plan to send (it must belong to the series).
    #[arg(long)]
    pub plan: PathBuf,
    /// The package to write (CASE.twinplan).
    #[arg(long)]
    pub out: PathBuf,
    /// Also carry the series' images, de-identified (PS3.15 Basic Profile).
    #[arg(long)]
    pub with_images: bool,
    /// With --with-images: de-identify the headers of images whose pixels may show
    /// identity too (their pixels are NOT cleaned).
    #[arg(long, requires = "with_images")]
    pub allow_burned_in: bool,
    /// Why the case is shared: teaching, second-opinion or rehearsal.
    #[arg(long, value_parser = parse_purpose)]
    pub purpose: Purpose,
    /// Whether the patient's consent to this use was obtained: yes or no.
    #[arg(long, value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub consent: bool,
    /// Who obtained the consent, or decided none was needed (shown to the receiver).
    #[arg(long)]
    pub recorded_by: String,
    /// Anything else the receiver must know (an ethics approval number…).
    #[arg(long, default_value = "")]
    pub note: String,
    /// Seal for this recipient's public key (age1…; repeatable) instead of a passphrase.
    #[arg(long)]
    pub recipient: Vec<String>,
    /// Read the passphrase from the first line of this file (default: the
    /// TWINPLAN_PASSPHRASE environment variable, else asked twice on the terminal).
    #[arg(long, conflicts_with = "recipient")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct UnpackArgs {
    /// The package (CASE.twinplan).
    pub package: PathBuf,
    /// The folder to create (it must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Open with this identity file (from `twinplan keygen`; repeatable) instead of a
    /// passphrase.
    #[arg(long)]
    pub identity: Vec<PathBuf>,
    /// Read the passphrase from the first line of this file (default: the
    /// TWINPLAN_PASSPHRASE environment variable, else asked on the terminal).
    #[arg(long, conflicts_with = "identity")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the new identity (secret; created with mode 0600, never replaced).
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_purpose(s: &str) -> Result<Purpose, String> {
    Purpose::parse(s).ok_or_else(|| "expected teaching, second-opinion or rehearsal".into())
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" => Ok(true),
        "no" | "n" => Ok(false),
        _ => Err("expected yes or no".into()),
    }
}

/// The passphrase: from a file, the environment, or the terminal (twice when sealing).
fn passphrase(file: Option<&Path>, confirm: bool) -> Result<SecretString> {
    if let Some(f) = file {
        twinplan::fsutil::regular_file(f, "passphrase file", 1 << 16)?;
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow!("cannot read {}: {}", f.display(), e.kind()))?;
        let line = text.lines().next().unwrap_or("").to_string();
        return checked(line);
    }
    if let Ok(p) = std::env::var("TWINPLAN_PASSPHRASE") {
        return checked(p);
    }
    let first = rpassword::prompt_password("Passphrase: ").map_err(|_| {
        anyhow!(UsageError(
            "no passphrase: give --passphrase-file, set TWINPLAN_PASSPHRASE, or run on a terminal"
                .into()
        ))
    })?;
    if confirm {
        let again = rpassword::prompt_password("Passphrase again: ")
            .map_err(|e| anyhow!("cannot read the passphrase: {}", e.kind()))?;
        if again != first {
            bail!(UsageError("the two passphrases differ".into()));
        }
    }
    checked(first)
}

fn checked(p: String) -> Result<SecretString> {
    if p.chars().count() < 8 {
        bail!(UsageError(
            "the passphrase must have at least 8 characters".into()
        ));
    }
    Ok(SecretString::from(p))
}

pub fn pack(a: PackArgs) -> Result<()> {
    let consent = Consent {
        purpose: a.purpose,
        consent_obtained: a.consent,
        recorded_by: a.recorded_by.clone(),
        note: a.note.clone(),
    };
    consent.check().map_err(|e| anyhow!(UsageError(e)))?;
    if !package::is_package_path(&a.out) {
        bail!(UsageError(format!(
            "--out must end in .{}: {}",
            package::EXTENSION,
            a.out.display()
        )));
    }
    if a.out.exists() {
        bail!(UsageError(format!(
            "{} exists: give a new file name",
            a.out.display()
        )));
    }
    let recipients = a
        .recipient
        .iter()
        .map(|r| package::parse_recipient(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!(UsageError(e)))?;
    let lock = if recipients.is_empty() {
        Lock::Passphrase {
            passphrase: passphrase(a.passphrase_file.as_deref(), true)?,
            work_factor: None,
        }
    } else {
        Lock::Recipients(recipients)
    };
    // The study and the files of its series.
    let (volume, files) = if twinplan::nifti_io::is_nifti_path(&a.path) {
        (super::open_volume(&a.path, None)?, Vec::new())
    } else {
        let (volume, report) = with_progress("loading", |p| {
            twinplan::dicom::load_path(&a.path, a.series.as_deref(), p)
        })?;
        super::audit(twinplan::audit::Action::OpenStudy, &volume, &a.path, &[]);
        let series = twinplan::dicom::select_series(&report, a.series.as_deref())?;
        let files: Vec<PathBuf> = series.frames.iter().map(|f| f.file.path.clone()).collect();
        (volume, files)
    };
    let reference = twinplan::plan::file::Reference::of(&volume);
    let plan = twinplan::plan::file::read_for(&a.plan, &reference)?;
    let trail = twinplan::audit::Trail::user()
        .ok_or_else(|| anyhow!("no data folder for the installation's secret"))??;
    let d = twinplan::deid::Deidentifier::new(
        trail
            .installation()
            .keyed_digest("deid-uid", b"twinplan UID remapping"),
        twinplan::deid::Options::default(),
    );
    let case = with_progress("packing", |p| {
        package::case::gather(
            &volume,
            &a.path,
            &files,
            &plan,
            &d,
            a.with_images,
            a.allow_burned_in,
            p,
        )
    })
    .map_err(|e| anyhow!(e))?;
    for s in &case.not_built {
        tell!("note: structure {s} has no surface; the plan still carries its recipe");
    }
    let manifest = package::seal(&a.out, &consent, &case.files, &lock)?;
    let sealed_for = match &lock {
        Lock::Passphrase { .. } => "a passphrase".to_string(),
        Lock::Recipients(r) => format!("{} recipient key(s)", r.len()),
    };
    let detail = format!(
        "purpose {}, consent {}, sealed for {sealed_for}, {} surface(s), {} image(s)",
        consent.purpose.name(),
        if consent.consent_obtained {
            "yes"
        } else {
            "no"
        },
        manifest.surfaces(),
        manifest.images()
    );
    let out = a.out.display().to_string();
    if let Some(why) = twinplan::audit::record_study(
        twinplan::audit::Action::Pack,
        &volume,
        &a.path,
        &[
            ("package", out.as_str()),
            ("recorded_by", consent.recorded_by.as_str()),
        ],
        &detail,
    ) {
        tell!("warning: not recorded in the audit trail: {why}");
    }
    say!(
        "sealed {} for {sealed_for}: the plan, {} surface(s), {} de-identified image(s)",
        a.out.display(),
        manifest.surfaces(),
        manifest.images()
    );
    Ok(())
}

pub fn unpack(a: UnpackArgs) -> Result<()> {
    let key = if a.identity.is_empty() {
        Key::Passphrase(passphrase(a.passphrase_file.as_deref(), false)?)
    } else {
        let mut ids = Vec::new();
        for f in &a.identity {
            ids.extend(package::read_identities(f)?);
        }
        Key::Identities(ids)
    };
    let manifest = with_progress("unpacking", |_| package::unpack(&a.package, &key, &a.out))?;
    let detail = manifest.audit_detail();
    let (pkg, out) = (a.package.display().to_string(), a.out.display().to_string());
    if let Some(why) = twinplan::audit::record(
        twinplan::audit::Action::Unpack,
        &[
            ("package", pkg.as_str()),
            ("output", out.as_str()),
            ("recorded_by", manifest.consent.recorded_by.as_str()),
        ],
        &detail,
    ) {
        tell!("warning: not recorded in the audit trail: {why}");
    }
    say!("{}", manifest.consent.statement());
    say!("Packaged: {} by {}", manifest.created, manifest.tool);
    say!(
        "unpacked into {}: {}{} surface(s), {} image(s)",
        a.out.display(),
        if manifest.has_plan() {
            "the plan, "
        } else {
            ""
        },
        manifest.surfaces(),
        manifest.images()
    );
    Ok(())
}

pub fn keygen(a: KeygenArgs) -> Result<()> {
    let (text, public) = package::new_identity();
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(&a.out)
        .map_err(|e| anyhow!("cannot create {}: {}", a.out.display(), e.kind()))?;
    std::io::Write::write_all(&mut f, text.expose_secret().as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| anyhow!("cannot write {}: {}", a.out.display(), e.kind()))?;
    say!("{public}");
    tell!(
        "identity written to {} (keep it secret); give the public key above to senders",
        a.out.display()
    );
    Ok(())
}
