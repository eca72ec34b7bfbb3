//! `twinplan audit`: the installation's audit trail — `show` lists its entries (or, with
//! `--path`, prints where it is), `verify [FILE]` checks its chain, signatures and head and
//! exits 1 naming the first entry that does not hold. Printing only; the work is
//! `twinplan::audit`'s.

use std::path::PathBuf;

use anyhow::Result;
use twinplan::audit::{self, End, Trail};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// List the trail's entries (time, action, objects by salted name), oldest first.
    Show {
        /// Print only where the trail is kept.
        #[arg(long)]
        path: bool,
        /// Print the entries as JSON lines, as stored.
        #[arg(long, conflicts_with = "path")]
        json: bool,
        /// Only the last N entries.
        #[arg(long, conflicts_with = "path")]
        last: Option<usize>,
    },
    /// Check the trail (default: this installation's; or FILE, a copy of one, with its
    /// `audit.head` beside it if there is one): exit 1 naming the first entry that was
    /// edited, deleted, moved or inserted.
    Verify { file: Option<PathBuf> },
}

fn trail() -> Result<Trail> {
    match Trail::user() {
        Some(t) => Ok(t?),
        None => Err(anyhow::anyhow!(
            "no data folder for the audit trail (set TWINPLAN_DATA_DIR)"
        )),
    }
}

pub fn run(a: Args) -> Result<()> {
    match a.command {
        AuditCommand::Show { path, json, last } => {
            let trail = trail()?;
            if path {
                say!("{}", trail.log_path().display());
                return Ok(());
            }
            let entries = match audit::read_entries(&trail.log_path()) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(anyhow::anyhow!("cannot read the audit trail: {}", e.kind())),
            };
            let skip = last.map_or(0, |n| entries.len().saturating_sub(n));
            for e in &entries[skip..] {
                if json {
                    say!("{}", serde_json::to_string(e)?);
                    continue;
                }
                let objects: Vec<String> =
                    e.objects.iter().map(|(k, v)| format!("{k} {v}")).collect();
                say!(
                    "{:>6}  {}  {:<13} {}{}{}",
                    e.seq,
                    e.time,
                    serde_json::to_value(e.action)?.as_str().unwrap_or_default(),
                    objects.join(", "),
                    if e.detail.is_empty() || objects.is_empty() {
                        ""
                    } else {
                        "  "
                    },
                    e.detail
                );
            }
            if entries.is_empty() {
                tell!("the audit trail is empty ({})", trail.log_path().display());
            }
            Ok(())
        }
        AuditCommand::Verify { file } => {
            // This installation's own log is checked against its own key; another one
            // against the key its first entry names.
            let (result, own_key) = match &file {
                None => (trail()?.verify(), true),
                Some(f) => {
                    let head = twinplan::fsutil::folder_of(f).join("audit.head");
                    let own = Trail::user()
                        .and_then(Result::ok)
                        .filter(|t| same_file(&t.log_path(), f));
                    match own {
                        Some(t) => (t.verify(), true),
                        None => (
                            audit::verify_file(f, head.exists().then_some(head.as_path()), None),
                            false,
                        ),
                    }
                }
            };
            match result {
                Ok(v) => {
                    say!(
                        "audit trail verified: {} entries, signed by key {}…",
                        v.entries,
                        v.key.get(..16).unwrap_or_default()
                    );
                    if v.incomplete_tail {
                        say!(
                            "note: the last line is incomplete (a crash while writing it): \
                             that entry was lost; every entry before it verifies"
                        );
                    }
                    match v.end {
                        End::Confirmed => {}
                        End::HeadOneBehind => say!(
                            "note: the head file names the entry before the last (a crash \
                             between writing the last entry and its head)"
                        ),
                        End::Unchecked => say!(
                            "note: no head file to check the end against: entries removed \
                             from the end would not show"
                        ),
                    }
                    if !own_key && v.entries > 0 {
                        say!(
                            "note: checked against the key its first entry names; compare that key with the installation's"
                        );
                    }
                    Ok(())
                }
                Err(b) => {
                    tell!("audit trail broken at {b}");
                    std::process::exit(1);
                }
            }
        }
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
