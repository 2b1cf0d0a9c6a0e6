//! `redlease`: distributed locks on Redis for shells, cron and CI.
//!
//! This file only sets the stage: a panic hook so that no Rust panic output reaches the
//! user, argument parsing with usage errors mapped to exit 64, a Tokio runtime, and the
//! translation of a command's result into one stderr line and an exit code. The
//! commands themselves live in `cmd/`.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![deny(clippy::dbg_macro, clippy::print_stdout, clippy::print_stderr)]

mod args;
mod child;
mod cli;
mod cmd;
mod connect;
mod exit;
mod holder;
mod local;
mod output;
mod refusal;
mod signals;
mod waiting;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::exit::Failure;

fn main() -> ExitCode {
    output::note_closed_stdout();
    install_panic_hook();
    if let Some(args) = cmd::supervisor::SuperviseArgs::from_args(std::env::args_os()) {
        // `exec`'s supervisor: no runtime, no parsing of the user's options.
        return ExitCode::from(cmd::supervisor::run(&args).unwrap_or_else(|failure| {
            report(&failure);
            failure.code
        }));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_error(&e)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            warn(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let code = match runtime.block_on(cmd::run(&cli)) {
        Ok(code) => code,
        Err(failure) => {
            report(&failure);
            failure.code
        }
    };
    // Stragglers (late node answers, background releases) are not worth waiting for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    ExitCode::from(code)
}

/// Print a clap error or help text; return the exit code: 0 for `--help`/`--version`,
/// 64 (usage) for everything else.
fn usage_error(error: &clap::Error) -> u8 {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            exit::OK
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            exit::USAGE
        }
        _ => {
            let text = error.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "redlease: {text}");
            exit::USAGE
        }
    }
}

/// Print a failure on stderr (one line, `redlease: ` prefixed).
fn report(failure: &Failure) {
    let _ = writeln!(std::io::stderr().lock(), "{failure}");
}

/// Print a warning on stderr (one line, `redlease: ` prefixed). Never fails: a closed
/// stderr is not a reason to stop.
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "redlease: {message}");
}

/// A panic is a bug: say so in one line, without Rust's panic output, and exit 70.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        warn(&format!(
            "internal error{place}; this is a bug in redlease, please report it"
        ));
        std::process::exit(i32::from(exit::INTERNAL));
    }));
}
