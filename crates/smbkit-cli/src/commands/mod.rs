//! The subcommands, one module per family.

use smbkit::Connection;

use crate::args::{Cli, Cmd, GlobalOpts};
use crate::error::{CmdResult, Failure};
use crate::session;
use crate::target::Target;

mod fileops;
mod get;
mod info;
mod ls;
mod pool;
mod put;
mod security;
mod shares;

/// A connection and the target it was opened for.
pub struct Remote {
    /// The connection.
    pub conn: Connection,
    /// The parsed target.
    pub target: Target,
}

impl Remote {
    /// Parses `target` and connects to its server.
    pub async fn open(opts: &GlobalOpts, target: &str) -> CmdResult<Remote> {
        let target = Target::parse(target).map_err(Failure::usage)?;
        let conn = session::connect(opts, &target).await?;
        Ok(Remote { conn, target })
    }

    /// Parses `target`, checks that it names a share, and connects.
    pub async fn open_share(opts: &GlobalOpts, target: &str) -> CmdResult<Remote> {
        let parsed = Target::parse(target).map_err(Failure::usage)?;
        session::share(&parsed)?;
        let conn = session::connect(opts, &parsed).await?;
        Ok(Remote {
            conn,
            target: parsed,
        })
    }

    /// The target's share (checked by [`Remote::open_share`]).
    pub fn share(&self) -> &str {
        self.target.share.as_deref().unwrap_or_default()
    }

    /// The target's path in its share.
    pub fn path(&self) -> &str {
        &self.target.path
    }

    /// Logs off and closes the connection.
    pub async fn close(self) -> CmdResult {
        Ok(self.conn.close().await?)
    }
}

/// Runs the command line's subcommand.
pub async fn run(cli: &Cli) -> CmdResult {
    let o = &cli.opts;
    match &cli.command {
        Cmd::Shares(a) => shares::shares(o, a).await,
        Cmd::Ls(a) => ls::ls(o, a).await,
        Cmd::Stat(a) => ls::stat(o, a).await,
        Cmd::Get(a) => get::get(o, a).await,
        Cmd::Cat(a) => get::cat(o, a).await,
        Cmd::Put(a) => put::put(o, a).await,
        Cmd::Mkdir(a) => fileops::mkdir(o, a).await,
        Cmd::Rmdir(a) => fileops::rmdir(o, a).await,
        Cmd::Rm(a) => fileops::rm(o, a).await,
        Cmd::Mv(a) => fileops::mv(o, a).await,
        Cmd::Snapshots(a) => security::snapshots(o, a).await,
        Cmd::Security(a) => security::security(o, a).await,
        Cmd::Echo(a) => info::echo(o, a).await,
        Cmd::Info(a) => info::info(o, a).await,
        Cmd::Completions(a) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "smbkit", &mut out);
            crate::output::print(&String::from_utf8_lossy(&out))
        }
    }
}
