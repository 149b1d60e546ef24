//! The subcommands, one module per family.

use smbkit::{Connection, Error, ReconnectPolicy};

use crate::args::{Cli, Cmd, GlobalOpts};
use crate::error::CmdResult;
use crate::session;
use crate::target::Target;

mod cp;
mod fileops;
mod get;
mod info;
mod ls;
mod pool;
mod put;
mod security;
mod shares;
mod watch;

/// A connection and the target it was opened for.
pub struct Remote {
    /// The connection.
    pub conn: Connection,
    /// The parsed target.
    pub target: Target,
    /// Whether a lost connection is made again.
    pub reconnects: bool,
    /// Tells what happens to the connection, while it reconnects.
    _watch: Option<session::Watch>,
}

impl Remote {
    /// Parses `target` and connects to its server.
    pub async fn open(opts: &GlobalOpts, target: &str) -> CmdResult<Remote> {
        let target = Target::parse(target)?;
        let conn = session::connect(opts, &target).await?;
        Ok(Remote {
            conn,
            target,
            reconnects: false,
            _watch: None,
        })
    }

    /// Parses `target`, checks that it names a share, and connects.
    pub async fn open_share(opts: &GlobalOpts, target: &str) -> CmdResult<Remote> {
        Remote::open_share_with(opts, target, None).await
    }

    /// As [`Remote::open_share`], reconnecting a lost connection by
    /// `reconnect` (and telling so on stderr, unless `--quiet`).
    pub async fn open_share_with(
        opts: &GlobalOpts,
        target: &str,
        reconnect: Option<ReconnectPolicy>,
    ) -> CmdResult<Remote> {
        let parsed = Target::parse(target)?;
        session::share(&parsed)?;
        let conn = session::connect_with(opts, &parsed, reconnect).await?;
        let watch = reconnect
            .filter(|_| !opts.quiet)
            .map(|p| session::watch(&conn, &p));
        Ok(Remote {
            conn,
            target: parsed,
            reconnects: reconnect.is_some(),
            _watch: watch,
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

/// How many times an operation or a file is tried again after the
/// connection was lost while it was in flight (and made again).
pub const AGAIN: u32 = 3;

/// True when `e` failed an operation because the connection was lost
/// while it was in flight, and running it again may work: the connection
/// `reconnects`, and the operation has been tried `tries` times again.
pub fn lost_in_flight(e: &Error, reconnects: bool, tries: u32) -> bool {
    matches!(e, Error::NotConnected) && reconnects && tries < AGAIN
}

/// Runs `op`, and again when the connection was lost while it was in
/// flight and is made again; for operations that may run twice (reading,
/// listing, creating a folder that may exist).
pub async fn again_if_lost<T, F, Fut>(reconnects: bool, mut op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut tries = 0;
    loop {
        match op().await {
            Err(e) if lost_in_flight(&e, reconnects, tries) => tries += 1,
            r => return r,
        }
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
        Cmd::Cp(a) => cp::cp(o, a).await,
        Cmd::Mkdir(a) => fileops::mkdir(o, a).await,
        Cmd::Rmdir(a) => fileops::rmdir(o, a).await,
        Cmd::Rm(a) => fileops::rm(o, a).await,
        Cmd::Mv(a) => fileops::mv(o, a).await,
        Cmd::Snapshots(a) => security::snapshots(o, a).await,
        Cmd::Security(a) => security::security(o, a).await,
        Cmd::Watch(a) => watch::watch(o, a).await,
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
