//! impacket's SMB server (`impacket.smbserver`, the server behind impacket's `smbserver.py`) as a
//! second kind of test server: a different implementation from Samba, with its own limits (SMB1
//! MaxMpxCount 1, no CAP_LARGE_READX/WRITEX, SMB 2.0.2 only with `-smb2support`).
//!
//! [`ImpacketServer::start`] runs it bound to `127.0.0.1` on a port the kernel picks, serving a fresh
//! temporary folder as the share [`ImpacketServer::share`] to [`USER`] with [`PASSWORD`], and waits
//! until it listens. It runs as the test process's own user; no root needed.
//!
//! The Python that runs it comes from `SMBKIT_IMPACKET_PYTHON` if set, else from the venv that
//! `scripts/install-deps` makes in the repository's `target/impacket-venv` (pinned in
//! `scripts/impacket-requirements.txt`).
//!
//! Nothing is left behind if the owner dies without dropping it: the server (a small launcher,
//! `impacket_server.py` beside this file, doing what `smbserver.py` does) reads its standard input,
//! a pipe only the [`ImpacketServer`] writes to, and when that reaches end of file it removes its
//! folder and exits. Dropping the [`ImpacketServer`] closes the pipe, waits for the exit (killing the
//! server after 3 s), and removes the folder too.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{make_temp_dir, HOST, PASSWORD, USER};

/// The launcher run with `python -c`.
const LAUNCHER: &str = include_str!("impacket_server.py");
/// How long [`ImpacketServer::start`] waits for the server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a dropped server has to exit after its standard input closes.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// What to tell someone whose machine lacks the venv.
const INSTALL_HINT: &str = "run scripts/install-deps (it makes target/impacket-venv with the pinned impacket), or set SMBKIT_IMPACKET_PYTHON to a python that imports impacket";

/// Which dialects an [`ImpacketServer`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImpacketMode {
    /// SMB1 (NT LM 0.12) only: `smbserver.py` without `-smb2support`.
    Smb1,
    /// `-smb2support`: SMB 2.0.2 as well (a client that offers it gets SMB2).
    Smb2,
}

impl ImpacketMode {
    /// Both modes.
    pub const ALL: [ImpacketMode; 2] = [ImpacketMode::Smb1, ImpacketMode::Smb2];

    /// `smb1` or `smb2`.
    pub fn name(self) -> &'static str {
        match self {
            ImpacketMode::Smb1 => "smb1",
            ImpacketMode::Smb2 => "smb2",
        }
    }
}

impl fmt::Display for ImpacketMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// impacket's SMB server on `127.0.0.1:<port>` with one read-write share, [`share`](Self::share).
///
/// Dropping it stops the server and removes its folder.
pub struct ImpacketServer {
    mode: ImpacketMode,
    port: u16,
    dir: PathBuf,
    share_path: PathBuf,
    child: Option<Child>,
    /// The server exits (removing `dir`) when this pipe closes.
    stdin: Option<ChildStdin>,
}

impl fmt::Debug for ImpacketServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpacketServer")
            .field("mode", &self.mode)
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl ImpacketServer {
    /// Starts impacket's SMB server in `mode`, bound to 127.0.0.1 only, on a free port the kernel
    /// picks, serving a fresh temporary folder ([`share_path`](Self::share_path)) as the share
    /// `SHARE` to [`USER`] with [`PASSWORD`] (NTLM). Waits until it listens (at most 20 s; it
    /// typically takes half a second, most of it Python importing impacket), else returns an error
    /// carrying the server's output.
    pub fn start(mode: ImpacketMode) -> io::Result<ImpacketServer> {
        let python = impacket_python()?;
        let dir = make_temp_dir()?;
        let mut server = ImpacketServer {
            mode,
            port: 0,
            share_path: dir.join("share"),
            dir,
            child: None,
            stdin: None,
        };
        // From here on, an early return drops `server`, which cleans up.
        fs::create_dir(&server.share_path)?;
        fs::set_permissions(&server.share_path, fs::Permissions::from_mode(0o777))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(server.log_path())?;
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(LAUNCHER)
            .arg(&server.dir)
            .arg(server.share())
            .arg(&server.share_path)
            .arg(USER)
            .arg(PASSWORD)
            .arg(mode.name())
            // Its own process group: a Ctrl-C meant for the tests does not kill it before it has
            // cleaned up (it does so when the tests' end of the pipe closes).
            .process_group(0)
            .current_dir(&server.dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}; {INSTALL_HINT}", python.display()),
                )
            })?;
        server.stdin = child.stdin.take();
        server.child = Some(child);
        server.port = server.wait_listening()?;
        Ok(server)
    }

    /// Waits for the port the launcher writes once it listens.
    fn wait_listening(&mut self) -> io::Result<u16> {
        let started = Instant::now();
        let port_file = self.dir.join("port");
        loop {
            if let Ok(text) = fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse::<u16>() {
                    return Ok(port);
                }
            }
            let child = self
                .child
                .as_mut()
                .ok_or_else(|| io::Error::other("the impacket server vanished"))?;
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Err(io::Error::other(format!(
                    "impacket's SMB server exited while starting ({status}); {INSTALL_HINT}; its output:\n{}",
                    self.log_tail(30)
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "impacket's SMB server did not listen within {START_TIMEOUT:?}; its output:\n{}",
                        self.log_tail(30)
                    ),
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The mode it was started in.
    pub fn mode(&self) -> ImpacketMode {
        self.mode
    }

    /// The TCP port it listens on (direct TCP; it also answers NetBIOS session requests).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address it listens on: `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The user name to log in with: [`USER`].
    pub fn user(&self) -> &str {
        USER
    }

    /// The user's password: [`PASSWORD`].
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// The share's name: `"SHARE"` (impacket upper-cases share names; lookups ignore case).
    pub fn share(&self) -> &str {
        "SHARE"
    }

    /// The local folder behind the share. The server runs as the test process's user, so files
    /// made here are the server's to change and delete too.
    pub fn share_path(&self) -> &Path {
        &self.share_path
    }

    /// The server's temporary folder (the share, the port file, the server's output).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pid of the Python process serving, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last `n` lines of the server's output (its log, and tracebacks of requests it failed):
    /// for test failure messages. Set `SMBKIT_IMPACKET_DEBUG=1` for impacket's debug log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut out = String::from("==> impacket server output <==\n");
        for line in &lines[lines.len().saturating_sub(n)..] {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
}

impl Drop for ImpacketServer {
    /// Closes the server's standard input (it then removes its folder and exits), waits for it,
    /// killing it if it takes longer than 3 s, and removes the folder.
    fn drop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Ok(None) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    _ => break,
                }
            }
        }
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => {
                thread::sleep(Duration::from_millis(20));
                let _ = fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// The Python that runs impacket's server: `SMBKIT_IMPACKET_PYTHON` if set, else the venv
/// `scripts/install-deps` makes in the repository's `target/impacket-venv`.
pub fn impacket_python() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("SMBKIT_IMPACKET_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_file(&p) {
            Ok(p)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "SMBKIT_IMPACKET_PYTHON={} does not exist: {INSTALL_HINT}",
                    p.display()
                ),
            ))
        };
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/impacket-venv");
    let python = venv.join("bin/python");
    if is_file(&python) {
        Ok(python)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no impacket venv at {}: {INSTALL_HINT}", venv.display()),
        ))
    }
}

/// Whether [`impacket_python`] finds a Python (it does not check that it imports impacket).
pub fn impacket_available() -> bool {
    impacket_python().is_ok()
}

fn is_file(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file())
}
