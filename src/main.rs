//! The `twinplan` binary: parses the command line and dispatches to [`cli`] (one file per
//! command) or the viewer; sets up logging, the privacy scrubber and the panic hook.
//!
//! Each subcommand parses arguments, runs one core call with a progress bar on stderr, and
//! prints results on stdout. Exit codes: 0 success, 1 failure, 2 usage error. Errors are
//! printed once, here, with their context chain; patient identity never appears in them.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use clap::Parser;
use twinplan::dicom;

mod cli;

use cli::{Cli, UsageError, report_peak, run};

fn main() -> ExitCode {
    #[cfg(feature = "viewer")]
    twinplan::app::mark_launch();
    // Output piped into `head` and cut short ends the process quietly, as other command
    // line tools do, instead of a panic on the next print (Rust ignores SIGPIPE).
    // (Elsewhere there is no SIGPIPE: a closed pipe is an ordinary write error.)
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_writer(|| twinplan::privacy::Scrubbed(std::io::stderr()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TWINPLAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .init();
    twinplan::privacy::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            report_peak();
            e.exit()
        }
    };
    let result = run(cli);
    report_peak();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<dicom::DicomError>(),
                    Some(dicom::DicomError::Ambiguous { .. } | dicom::DicomError::NoMatch { .. })
                );
            eprintln!("{}", twinplan::privacy::scrub(&format!("error: {e:#}")));
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
