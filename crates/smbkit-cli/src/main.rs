//! The `smbkit` command-line tool: an SMB client in the spirit of
//! smbclient, scp and rclone, built on the smbkit library.
//!
//! Data and listings go to standard output; messages, progress and errors
//! to standard error. The exit code tells the kind of failure (see
//! [`error::Kind`]).

use std::process::ExitCode;

use clap::Parser;

mod args;
mod auth;
mod commands;
mod error;
mod output;
mod progress;
mod session;
mod target;

use args::Cli;
use error::{hint_for, lost_hint, Failure, Kind};
use target::Target;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.opts.verbose > 0 {
        use std::io::IsTerminal;
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_max_level(if cli.opts.verbose > 1 {
                tracing::Level::TRACE
            } else {
                tracing::Level::DEBUG
            })
            .init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smbkit: cannot start the runtime: {e}");
            return ExitCode::from(Kind::Other.code());
        }
    };
    let result = rt.block_on(commands::run(&cli));
    // Background closes of dropped handles get a moment, not forever.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(&cli, f),
    }
}

/// Prints a failure and its hint, and returns its exit code.
fn report(cli: &Cli, mut f: Failure) -> ExitCode {
    if f.hint.is_none() {
        if let Some(e) = f.source.as_deref() {
            let target = cli.command.target().and_then(|t| Target::parse(t).ok());
            let lost_for_good = matches!(e, smbkit::Error::NotConnected)
                && cli.command.retry().is_some_and(|r| r.policy().is_none());
            f.hint = if lost_for_good {
                Some(lost_hint().into())
            } else {
                hint_for(e, &cli.opts, target.as_ref())
            };
        }
    }
    eprintln!("smbkit: {}", f.message);
    if let Some(h) = &f.hint {
        eprintln!("hint: {h}");
    }
    ExitCode::from(f.kind.code())
}
