//! Throwaway SMB servers on loopback (Samba, and impacket's), for smbkit's integration tests, demo and benchmarks.
//!
//! [`TestServer::start`] runs a private `smbd` (Samba 4.x) bound to `127.0.0.1` only, on a free port it
//! picks itself, in a fresh temporary directory with its own `smb.conf`, password database, logs and
//! shares. Nothing in `/etc/samba` or `/var/lib/samba` is read or written, and any number of servers
//! run side by side. Dropping the [`TestServer`] stops `smbd`, the `samba-dcerpcd` helpers it started
//! and removes the directory.
//!
//! ```no_run
//! use smbkit_testserver::{Profile, TestServer};
//!
//! let server = TestServer::start(Profile::Modern).expect("smbd (run scripts/install-deps)");
//! std::fs::write(server.share_path().join("a.txt"), b"data").unwrap();
//! println!("smb://{}:{}/{} as {}", server.host(), server.port(), server.share(), server.user());
//! ```
//!
//! Requirements: Debian's `samba`, `smbclient` and `samba-vfs-modules` packages (`scripts/install-deps`
//! installs them) and root, since `smbd` switches to the test user's uid for each connection. One
//! unix account, [`USER`], is created on first use and shared by all servers; each server has its own
//! Samba password database holding it with [`PASSWORD`].
//!
//! What a server has open comes from its own tables: [`TestServer::open_files`] lists every open
//! file and folder (`smbstatus -L`), [`TestServer::tree_connects`] every tree connect
//! (`smbstatus -S`), so that a test can check that a client closed what it opened:
//!
//! ```no_run
//! # use std::time::Duration;
//! # let server = smbkit_testserver::TestServer::start(smbkit_testserver::Profile::Modern).unwrap();
//! // ... a client opens and closes files ...
//! let left = server.wait_until_no_open_files(Duration::from_secs(3)).unwrap();
//! assert!(left.is_empty(), "still open: {left:#?}");
//! ```
//!
//! Environment: `SMBKIT_TEST_LOG_LEVEL` sets smbd's `log level` (default 1; 3 or 10 tell why a request
//! was refused, see [`TestServer::log_tail`]); `SMBKIT_SMBD` names the `smbd` program to run instead
//! of the one found on `PATH` or in `/usr/sbin`.
//!
//! Even when the owning process dies without running `Drop` (killed, `panic = "abort"`), nothing is
//! left behind for long: `smbd` runs in the foreground and exits when its standard input, a pipe held
//! by the [`TestServer`], closes; and a small watchdog shell, which also waits for that, stops the
//! `samba-dcerpcd` helpers and removes the directory.
//!
//! # impacket's SMB server
//!
//! [`ImpacketServer::start`] runs a second, unrelated implementation: impacket's SMB server (the one
//! behind its `smbserver.py`), on `127.0.0.1` and a free port, serving a temporary folder as the share
//! `SHARE` to [`USER`] with [`PASSWORD`], either SMB1 only ([`ImpacketMode::Smb1`]; it allows one
//! request at a time, MaxMpxCount 1) or with `-smb2support` ([`ImpacketMode::Smb2`]: SMB 2.0.2 as
//! well). It needs the Python venv that `scripts/install-deps` makes in `target/impacket-venv` (or
//! `SMBKIT_IMPACKET_PYTHON`), not root, and leaves nothing behind either; see the [`impacket`] module.
//!
//! ```no_run
//! use smbkit_testserver::{ImpacketMode, ImpacketServer};
//!
//! let server = ImpacketServer::start(ImpacketMode::Smb1).expect("impacket (run scripts/install-deps)");
//! std::fs::write(server.share_path().join("a.txt"), b"data").unwrap();
//! println!("smb://{}:{}/{} as {}", server.host(), server.port(), server.share(), server.user());
//! ```

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod ad_dc;
mod delay_proxy;
pub mod dfs;
pub mod impacket;
mod procs;
mod proxy;
mod status;

pub use ad_dc::{ad_dc_available, AdDc, AdDcOptions};
pub use delay_proxy::DelayProxy;
pub use dfs::DfsSetup;
pub use proxy::FaultProxy;
pub use status::{OpenFile, TreeConnect};

pub use impacket::{impacket_available, impacket_python, ImpacketMode, ImpacketServer};

/// The SMB (and unix) user name every test server accepts.
pub const USER: &str = "smbkituser";
/// [`USER`]'s SMB password on every test server (only letters, digits and `-`: safe in shells and URLs).
pub const PASSWORD: &str = "Sm8kit-Pa55w0rd";
/// The address every test server listens on, and only there.
pub const HOST: &str = "127.0.0.1";
/// The content of `hello.txt` on the `readonly` share.
pub const HELLO_CONTENT: &[u8] = b"hello\n";
/// The snapshot folders (under `.snapshots`) of the `snapshots` share, newest first.
pub const SNAPSHOTS: [&str; 2] = ["@GMT-2024.06.30-12.30.00", "@GMT-2024.01.01-00.00.00"];

/// How long [`TestServer::start`] waits for `smbd` to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many ports [`TestServer::start`] tries before giving up.
const PORT_ATTEMPTS: usize = 8;
/// What to tell someone whose machine lacks Samba.
const INSTALL_HINT: &str = "run scripts/install-deps (it installs Debian's samba, smbclient and samba-vfs-modules packages)";

/// What a test server speaks and demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// SMB2_02..SMB3_11, NTLMv2 only (Samba defaults), signing default.
    Modern,
    /// server min protocol = NT1 (max SMB3_11), `ntlm auth = yes` (NTLMv1 accepted), lanman auth off.
    Legacy,
    /// Legacy but `server max protocol = NT1`: a server that only speaks SMB1.
    Smb1Only,
    /// Modern + `server signing = mandatory`.
    SigningMandatory,
    /// Modern but `server max protocol = SMB2_10` (a server that cannot encrypt / no SMB3).
    Smb21Max,
    /// Smb1Only + `server signing = mandatory`: an SMB1 server that requires signing.
    Smb1Signing,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 6] = [
        Profile::Modern,
        Profile::Legacy,
        Profile::Smb1Only,
        Profile::SigningMandatory,
        Profile::Smb21Max,
        Profile::Smb1Signing,
    ];

    /// The name the `smbkit-testserver` binary takes: `modern`, `legacy`, `smb1-only`, `signing`, `smb21`, `smb1-signing`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Modern => "modern",
            Profile::Legacy => "legacy",
            Profile::Smb1Only => "smb1-only",
            Profile::SigningMandatory => "signing",
            Profile::Smb21Max => "smb21",
            Profile::Smb1Signing => "smb1-signing",
        }
    }

    /// Parses [`Profile::name`] (and a few spellings of it, case-insensitively).
    pub fn from_name(name: &str) -> Option<Profile> {
        let n = name.to_ascii_lowercase().replace('_', "-");
        Some(match n.as_str() {
            "modern" => Profile::Modern,
            "legacy" => Profile::Legacy,
            "smb1-only" | "smb1only" | "smb1" | "nt1" => Profile::Smb1Only,
            "signing" | "signing-mandatory" | "signingmandatory" => Profile::SigningMandatory,
            "smb21" | "smb21-max" | "smb21max" | "smb2-10" => Profile::Smb21Max,
            "smb1-signing" | "smb1signing" => Profile::Smb1Signing,
            _ => return None,
        })
    }

    /// Whether a client can talk SMB1 (NT LM 0.12) to this profile's server.
    pub fn speaks_smb1(self) -> bool {
        matches!(
            self,
            Profile::Legacy | Profile::Smb1Only | Profile::Smb1Signing
        )
    }

    /// Whether a client can talk SMB2/3 to this profile's server.
    pub fn speaks_smb2(self) -> bool {
        !matches!(self, Profile::Smb1Only | Profile::Smb1Signing)
    }

    /// Whether this profile's server accepts NTLMv1 responses.
    pub fn accepts_ntlmv1(self) -> bool {
        self.speaks_smb1()
    }

    /// The `[global]` lines that make this profile.
    fn global_lines(self) -> &'static str {
        match self {
            Profile::Modern => "",
            Profile::Legacy => {
                "\tserver min protocol = NT1\n\tserver max protocol = SMB3_11\n\tntlm auth = yes\n\tlanman auth = no\n"
            }
            Profile::Smb1Only => {
                "\tserver min protocol = NT1\n\tserver max protocol = NT1\n\tntlm auth = yes\n\tlanman auth = no\n\traw NTLMv2 auth = yes\n"
            }
            Profile::SigningMandatory => "\tserver signing = mandatory\n",
            Profile::Smb21Max => "\tserver max protocol = SMB2_10\n",
            Profile::Smb1Signing => {
                "\tserver min protocol = NT1\n\tserver max protocol = NT1\n\tntlm auth = yes\n\tlanman auth = no\n\traw NTLMv2 auth = yes\n\tserver signing = mandatory\n"
            }
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::from_name(s).ok_or_else(|| {
            format!("unknown profile {s:?} (expected modern, legacy, smb1-only, signing or smb21)")
        })
    }
}

/// What [`TestServer::start_with`] adds to a test server's `smb.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraConfig {
    /// Lines for `[global]` (`name = value`, one a line), placed after the profile's, so that they
    /// override them.
    pub global: String,
    /// Whole sections (`[name]` followed by its lines) appended after the standard shares.
    pub sections: String,
}

impl ExtraConfig {
    /// The text to add, with `{dir}` replaced by the server's directory (so that a section can use
    /// `path = {dir}/share`).
    fn expand(text: &str, dir: &Path) -> String {
        text.replace("{dir}", &dir.display().to_string())
    }
}

/// `lines` as `[global]` lines: each indented, the block ending with a newline.
fn global_block(lines: &str) -> String {
    lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("\t{l}\n"))
        .collect()
}

/// Deterministic pseudo-random test content (xorshift32): the same `len`
/// and `seed` give the same bytes, different seeds different ones.
///
/// ```
/// let a = smbkit_testserver::content(1000, 7);
/// assert_eq!(a, smbkit_testserver::content(1000, 7));
/// assert_ne!(a, smbkit_testserver::content(1000, 8));
/// ```
pub fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(0x9e37_79b9) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// FNV-1a (64 bits) of `data`: enough to tell test contents apart in short
/// assertion messages.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A private `smbd` on `127.0.0.1:<port>` with the shares `share`, `readonly`, `snapshots` and `encrypted`.
///
/// Dropping it stops `smbd`, its `samba-dcerpcd` helpers, and removes its directory.
pub struct TestServer {
    profile: Profile,
    extra: ExtraConfig,
    /// The one address smbd listens on: [`HOST`], unless started by
    /// [`start_at`](Self::start_at).
    host: &'static str,
    /// Started by [`start_at`](Self::start_at): other servers may listen on the same port at other
    /// addresses, so only listeners on `host` count when smbd starts.
    port_shared: bool,
    port: u16,
    dir: PathBuf,
    config: PathBuf,
    client_config: PathBuf,
    share_path: PathBuf,
    readonly_path: PathBuf,
    snapshots_path: PathBuf,
    encrypted_path: PathBuf,
    port_lock: Option<PathBuf>,
    smbd: Option<Child>,
    /// `smbd --foreground` exits when this pipe closes.
    smbd_stdin: Option<ChildStdin>,
    /// Cleans up after us if we die without dropping; see the crate docs.
    watchdog: Option<Child>,
    paused: AtomicBool,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("profile", &self.profile)
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("smbd_pid", &self.smbd_pid())
            .finish_non_exhaustive()
    }
}

/// Why one attempt at starting `smbd` failed.
enum Attempt {
    /// Another port may work.
    PortTaken(String),
    /// Give up.
    Fatal(io::Error),
}

impl TestServer {
    /// Starts a private smbd for `profile` bound to 127.0.0.1 only on a free port it picks itself (never
    /// 139/445), in a fresh temporary directory, with the test user and these shares:
    ///
    /// * `share`: read-write, at [`share_path`](Self::share_path);
    /// * `readonly`: `read only = yes`, at [`readonly_path`](Self::readonly_path), with a file `hello.txt`
    ///   containing `"hello\n"`;
    /// * `snapshots`: read-write, `vfs objects = shadow_copy2` with `shadow:snapdir = .snapshots`,
    ///   `shadow:format = @GMT-%Y.%m.%d-%H.%M.%S`, `shadow:sort = desc`, `shadow:localtime = no`, and the
    ///   (empty) snapshot folders [`SNAPSHOTS`] under `.snapshots` in [`snapshots_path`](Self::snapshots_path);
    /// * `encrypted`: read-write, `smb encrypt = required`, at [`encrypted_path`](Self::encrypted_path).
    ///
    /// Waits until smbd listens (at most 20 s), else returns an error carrying smbd's log tail. Typically
    /// takes well under 100 ms. Needs root and Samba: without `smbd`, the error says to run
    /// `scripts/install-deps`.
    pub fn start(profile: Profile) -> io::Result<TestServer> {
        Self::start_with(profile, ExtraConfig::default())
    }

    /// [`start`](Self::start) with `extra` added to the `smb.conf`: `[global]` lines after the
    /// profile's (e.g. `max xmit = 4096`) and further share sections; `{dir}` in either stands for
    /// the server's directory ([`dir`](Self::dir)), so `path = {dir}/share` is the `share` folder.
    pub fn start_with(profile: Profile, extra: ExtraConfig) -> io::Result<TestServer> {
        Self::start_on(profile, extra, HOST, None)
    }

    /// [`start_with`](Self::start_with) bound to `host` (an address of 127.0.0.0/8) on `port`, which
    /// the caller reserved and checked is free there: one attempt (an `AddrInUse` error when the
    /// port is taken after all), no port lock of its own. For set-ups of several servers on one
    /// port at different addresses ([`dfs`]).
    pub(crate) fn start_at(
        profile: Profile,
        extra: ExtraConfig,
        host: &'static str,
        port: u16,
    ) -> io::Result<TestServer> {
        Self::start_on(profile, extra, host, Some(port))
    }

    /// Starts smbd on `host`, on the `fixed` port or else on a free port it reserves.
    fn start_on(
        profile: Profile,
        extra: ExtraConfig,
        host: &'static str,
        fixed: Option<u16>,
    ) -> io::Result<TestServer> {
        let tools = tools()?;
        match procs::effective_uid() {
            Some(0) => {}
            Some(uid) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("smbkit-testserver needs root (smbd switches to the test user's uid), but runs as uid {uid}"),
                ))
            }
            None => {}
        }
        let (uid, gid) = ensure_user()?;

        let dir = make_temp_dir()?;
        let mut server = TestServer {
            profile,
            extra,
            host,
            port_shared: fixed.is_some(),
            port: 0,
            config: dir.join("smb.conf"),
            client_config: dir.join("client.conf"),
            share_path: dir.join("share"),
            readonly_path: dir.join("ro"),
            snapshots_path: dir.join("snapshots"),
            encrypted_path: dir.join("encrypted"),
            dir,
            port_lock: None,
            smbd: None,
            smbd_stdin: None,
            watchdog: None,
            paused: AtomicBool::new(false),
        };
        // From here on, an early return drops `server`, which cleans up.
        server.watchdog = spawn_watchdog(&server.dir).ok();
        server.populate(uid, gid)?;

        let mut last_reason = String::new();
        let attempts = if fixed.is_some() { 1 } else { PORT_ATTEMPTS };
        for attempt in 0..attempts {
            let (port, lock) = match fixed {
                Some(port) => (port, None),
                None => reserve_port().map(|(port, lock)| (port, Some(lock)))?,
            };
            server.port = port;
            server.port_lock = lock.clone();
            if let Some(lock) = &lock {
                fs::write(
                    server.dir.join("port.lock"),
                    lock.as_os_str().as_encoded_bytes(),
                )?;
            }
            fs::write(&server.config, server.config_text())?;
            if attempt == 0 {
                set_password(&tools.smbpasswd, &server.config)?;
            }
            match server.launch(&tools.smbd) {
                Ok(()) => return Ok(server),
                Err(Attempt::PortTaken(reason)) => {
                    server.stop_smbd_hard();
                    release_port(server.port_lock.take());
                    last_reason = reason;
                }
                Err(Attempt::Fatal(e)) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("smbd could not get a free port in {attempts} attempts; last: {last_reason}"),
        ))
    }

    /// Starts smbd again with the same configuration, port, user and files, after [`kill`](Self::kill)
    /// (or stops the running one first). Waits like [`start`](Self::start).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop_smbd_gracefully();
        let tools = tools()?;
        match self.launch(&tools.smbd) {
            Ok(()) => Ok(()),
            Err(Attempt::PortTaken(reason)) => {
                self.stop_smbd_hard();
                Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "smbd could not listen on port {} again: {reason}",
                        self.port
                    ),
                ))
            }
            Err(Attempt::Fatal(e)) => Err(e),
        }
    }

    /// The profile this server was started with.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The TCP port smbd listens on (direct TCP, which also accepts NetBIOS session requests).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address smbd listens on: `"127.0.0.1"` ([`HOST`]), or for the servers of a
    /// [`DfsSetup`] the address it gave.
    pub fn host(&self) -> &str {
        self.host
    }

    /// The user name to log in with: [`USER`].
    pub fn user(&self) -> &str {
        USER
    }

    /// The user's password: [`PASSWORD`].
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// The workgroup / domain name of the server: `"WORKGROUP"`.
    pub fn domain(&self) -> &str {
        "WORKGROUP"
    }

    /// The name of the read-write share: `"share"`.
    pub fn share(&self) -> &str {
        "share"
    }

    /// The local folder behind the `share` share, so tests can create and inspect files directly.
    ///
    /// Files made here by the (root) test process are readable through SMB but not writable; give them
    /// to the test user with [`chown_to_user`](Self::chown_to_user) when a test writes or deletes them
    /// through SMB, or creates files inside a folder made here.
    pub fn share_path(&self) -> &Path {
        &self.share_path
    }

    /// The local folder behind the `readonly` share (it holds `hello.txt`).
    pub fn readonly_path(&self) -> &Path {
        &self.readonly_path
    }

    /// The local folder behind the `snapshots` share; its snapshots live in `.snapshots/@GMT-…` under it.
    pub fn snapshots_path(&self) -> &Path {
        &self.snapshots_path
    }

    /// The local folder behind the `encrypted` share.
    pub fn encrypted_path(&self) -> &Path {
        &self.encrypted_path
    }

    /// The server's temporary directory (configuration, databases, logs, shares).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's `smb.conf`.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// A client `smb.conf` for Samba's own tools (`smbclient -s`): allows SMB1 (`client min protocol =
    /// NT1`) and keeps their caches in this server's directory.
    pub fn client_config_path(&self) -> &Path {
        &self.client_config
    }

    /// The pid of the main smbd process, while it runs.
    pub fn smbd_pid(&self) -> Option<u32> {
        self.smbd.as_ref().map(Child::id)
    }

    /// An `smbclient` command for `//127.0.0.1/<share>` on this server, logged in as the test user, with
    /// the [client configuration](Self::client_config_path); add e.g. `-c 'ls'`, `-m NT1`, or
    /// `--option=...` and run it.
    pub fn smbclient(&self, share: &str) -> Command {
        let mut cmd = Command::new(find_program("smbclient").unwrap_or_else(|| "smbclient".into()));
        cmd.arg("-s")
            .arg(&self.client_config)
            .arg(format!("//{}/{share}", self.host))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(format!("{USER}%{PASSWORD}"))
            .stdin(Stdio::null());
        cmd
    }

    /// Gives `path` (and everything under it, if a folder) to the test user, so that it can modify or
    /// delete through SMB what the test process created directly in a share's folder.
    pub fn chown_to_user(&self, path: &Path) -> io::Result<()> {
        let (uid, gid) = ensure_user()?;
        chown_tree(path, uid, gid)
    }

    /// The last `n` lines of each of smbd's log files (`log.smbd`, one `log.<client>` per client machine,
    /// smbd's own output), oldest file first, each after a `==> name <==` line: for test failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.dir, n)
    }

    /// Kills smbd (SIGKILL, not a clean shutdown) and its children, for fault tests: connections drop and
    /// the port refuses new ones. The `TestServer` stays alive for inspection; [`restart`](Self::restart)
    /// brings smbd back.
    pub fn kill(&mut self) {
        self.stop_smbd_hard();
    }

    /// Stops (SIGSTOP) smbd: the parent, so that new connections wait in the listen queue unanswered,
    /// and every child, notably the ones serving connections, so that requests on open connections
    /// get no answer. Returns once they are all stopped. Undo with [`resume`](Self::resume).
    pub fn pause(&self) {
        let Some(pid) = self.smbd_pid() else {
            return;
        };
        self.paused.store(true, Ordering::SeqCst);
        // smbd leads its own process group, and its children (including the ones forked for
        // connections) stay in it: one signal stops them all at once.
        procs::signal_group(pid, "STOP");
        let mut all = procs::descendants(pid);
        all.push(pid);
        procs::wait_stopped(&all, Duration::from_secs(1));
    }

    /// Continues (SIGCONT) what [`pause`](Self::pause) stopped.
    pub fn resume(&self) {
        let Some(pid) = self.smbd_pid() else {
            return;
        };
        procs::signal_group(pid, "CONT");
        self.paused.store(false, Ordering::SeqCst);
    }

    /// Every open of a file or folder on this server, from smbd's own open-file table: what
    /// `smbstatus -L` lists, read with `smbstatus -s <this server's smb.conf> -L --json` (Samba 4.16
    /// or later), so only this server's opens. An open stays listed until the client closes the
    /// handle or its connection ends; opens of named pipes (`IPC$`) are not listed.
    ///
    /// ```no_run
    /// # let server = smbkit_testserver::TestServer::start(smbkit_testserver::Profile::Modern).unwrap();
    /// for f in server.open_files().unwrap() {
    ///     println!("{} open in share {:?} by smbd {}", f.name, f.share, f.pid);
    /// }
    /// ```
    pub fn open_files(&self) -> io::Result<Vec<OpenFile>> {
        let out = self.smbstatus("-L")?;
        let conf = fs::read_to_string(&self.config)?;
        status::parse_open_files(&out.stdout, &status::share_folders(&conf))
            .map_err(|e| out.error("-L", &e))
    }

    /// Polls [`open_files`](Self::open_files) (every 20 ms) until nothing is open, at most `within`;
    /// returns what is still open then (empty once everything was closed). For tests that check that
    /// a client closes every handle it opened, also those it closes in the background.
    pub fn wait_until_no_open_files(&self, within: Duration) -> io::Result<Vec<OpenFile>> {
        let deadline = Instant::now() + within;
        loop {
            let open = self.open_files()?;
            if open.is_empty() || Instant::now() >= deadline {
                return Ok(open);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every tree connect (a session connected to a share) on this server: what `smbstatus -S`
    /// lists, read like [`open_files`](Self::open_files).
    pub fn tree_connects(&self) -> io::Result<Vec<TreeConnect>> {
        let out = self.smbstatus("-S")?;
        status::parse_tree_connects(&out.stdout).map_err(|e| out.error("-S", &e))
    }

    /// Runs `smbstatus -s <smb.conf> <what> --json`.
    fn smbstatus(&self, what: &str) -> io::Result<Smbstatus> {
        let program = find_program("smbstatus").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("Samba's smbstatus is not installed: {INSTALL_HINT}"),
            )
        })?;
        let out = Command::new(&program)
            .arg("-s")
            .arg(&self.config)
            .arg(what)
            .arg("--json")
            .stdin(Stdio::null())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{} {what} --json failed ({}): {}",
                program.display(),
                out.status,
                stderr.trim()
            )));
        }
        Ok(Smbstatus {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: stderr.trim().to_string(),
        })
    }

    /// Writes the directory tree, the client configuration and the initial files.
    fn populate(&self, uid: u32, gid: u32) -> io::Result<()> {
        for sub in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "client",
        ] {
            fs::create_dir(self.dir.join(sub))?;
        }
        for (path, mode) in [
            (&self.share_path, 0o777),
            (&self.readonly_path, 0o755),
            (&self.snapshots_path, 0o777),
            (&self.encrypted_path, 0o777),
        ] {
            fs::create_dir(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
        for p in [&self.share_path, &self.snapshots_path, &self.encrypted_path] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
        }
        fs::write(self.readonly_path.join("hello.txt"), HELLO_CONTENT)?;
        for snap in SNAPSHOTS {
            fs::create_dir_all(self.snapshots_path.join(".snapshots").join(snap))?;
        }
        fs::write(&self.client_config, self.client_config_text())
    }

    fn config_text(&self) -> String {
        let d = self.dir.display();
        let log_level = std::env::var("SMBKIT_TEST_LOG_LEVEL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "1".into());
        format!(
            "# smbkit-testserver, profile {profile}
[global]
\tworkgroup = WORKGROUP
\tnetbios name = SMBKITTEST
\tserver string = smbkit test server ({profile})
\tserver role = standalone server
\tpassdb backend = tdbsam
\tmap to guest = never
\tinterfaces = {host}/8
\tbind interfaces only = yes
\tsmb ports = {port}
\tdisable netbios = yes
\tload printers = no
\tprinting = bsd
\tprintcap name = /dev/null
\tdisable spoolss = yes
\tprivate dir = {d}/private
\tlock directory = {d}/lock
\tstate directory = {d}/state
\tcache directory = {d}/cache
\tpid directory = {d}/pid
\tncalrpc dir = {d}/ncalrpc
\tbinddns dir = {d}/binddns
\tlog file = {d}/log.%m
\tlog level = {log_level}
\tmax log size = 0
{profile_lines}{extra_global}
[share]
\tpath = {share}
\tread only = no

[readonly]
\tpath = {ro}
\tread only = yes

[snapshots]
\tpath = {snap}
\tread only = no
\tvfs objects = shadow_copy2
\tshadow:snapdir = .snapshots
\tshadow:format = @GMT-%Y.%m.%d-%H.%M.%S
\tshadow:sort = desc
\tshadow:localtime = no
\t# A relative snapdir is relative to the *mount point* (e.g. /tmp), not the share: pin it here.
\tshadow:mountpoint = {snap}

[encrypted]
\tpath = {enc}
\tread only = no
\tsmb encrypt = required
{extra_sections}",
            extra_global = global_block(&ExtraConfig::expand(&self.extra.global, &self.dir)),
            extra_sections = ExtraConfig::expand(&self.extra.sections, &self.dir),
            profile = self.profile,
            host = self.host,
            port = self.port,
            profile_lines = self.profile.global_lines(),
            share = self.share_path.display(),
            ro = self.readonly_path.display(),
            snap = self.snapshots_path.display(),
            enc = self.encrypted_path.display(),
        )
    }

    fn client_config_text(&self) -> String {
        let c = self.dir.join("client");
        let c = c.display();
        format!(
            "# smbkit-testserver: for Samba's client tools (smbclient -s)
[global]
\tworkgroup = WORKGROUP
\tclient min protocol = NT1
\tclient max protocol = SMB3_11
\tprivate dir = {c}
\tlock directory = {c}
\tstate directory = {c}
\tcache directory = {c}
\tncalrpc dir = {c}
\tlog file = {c}/log.%m
"
        )
    }

    /// Starts smbd on `self.port` and waits until it listens there.
    fn launch(&mut self, smbd: &Path) -> Result<(), Attempt> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("smbd.out"))
            .map_err(Attempt::Fatal)?;
        let err = out.try_clone().map_err(Attempt::Fatal)?;
        // Its own process group: a stopping smbd sends SIGTERM to its whole process group, which
        // would otherwise be ours. It also lets pause() stop the parent and every child at once.
        let mut child = Command::new(smbd)
            .process_group(0)
            .arg("--foreground")
            .arg("--no-process-group")
            .arg("-s")
            .arg(&self.config)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                Attempt::Fatal(io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}; {INSTALL_HINT}", smbd.display()),
                ))
            })?;
        self.smbd_stdin = child.stdin.take();
        let pid = child.id();
        self.smbd = Some(child);
        self.paused.store(false, Ordering::SeqCst);

        let started = Instant::now();
        loop {
            let exited = match self.smbd.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status),
                Some(Ok(None)) => None,
                Some(Err(e)) => return Err(Attempt::Fatal(e)),
                None => return Err(Attempt::Fatal(io::Error::other("smbd vanished"))),
            };
            if let Some(status) = exited {
                return Err(self.exited_early(status));
            }
            let listeners = if self.port_shared {
                dfs::tcp_listeners_at(self.host, self.port)
            } else {
                procs::tcp_listeners(self.port)
            };
            if !listeners.is_empty() {
                let ours = procs::socket_inodes(pid);
                if listeners.iter().any(|i| ours.contains(i)) {
                    if listeners.iter().all(|i| ours.contains(i)) {
                        return Ok(());
                    }
                    // smbd sets SO_REUSEPORT: another root process listening there too would silently
                    // share our connections.
                    return Err(Attempt::PortTaken(format!(
                        "another process also listens on port {} (SO_REUSEPORT)",
                        self.port
                    )));
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Attempt::Fatal(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "smbd did not listen on {}:{} within {START_TIMEOUT:?}\n{}",
                        self.host,
                        self.port,
                        self.log_tail(30)
                    ),
                )));
            }
            thread::sleep(Duration::from_millis(3));
        }
    }

    /// Classifies an smbd that exited while starting.
    fn exited_early(&mut self, status: ExitStatus) -> Attempt {
        self.smbd = None;
        self.smbd_stdin = None;
        let tail = self.log_tail(30);
        if tail.contains("Address already in use") {
            Attempt::PortTaken(format!("port {} already in use", self.port))
        } else {
            Attempt::Fatal(io::Error::other(format!(
                "smbd exited while starting ({status}); its logs:\n{tail}"
            )))
        }
    }

    /// SIGKILLs smbd and all its children at once (they share smbd's process group), like a crash.
    fn stop_smbd_hard(&mut self) {
        let Some(mut child) = self.smbd.take() else {
            return;
        };
        let pid = child.id();
        procs::signal_group(pid, "KILL");
        let _ = child.kill();
        let _ = child.wait();
        self.smbd_stdin = None;
        self.paused.store(false, Ordering::SeqCst);
        // Anything that left the process group (nothing should).
        let orphans: Vec<u32> = procs::using_config(&self.config)
            .into_iter()
            .filter(|p| p.comm.starts_with("smbd") || p.comm == "cleanupd")
            .map(|p| p.pid)
            .collect();
        procs::signal(&orphans, "KILL");
    }

    /// Lets smbd shut down by closing its standard input (it exits at EOF), then makes sure.
    fn stop_smbd_gracefully(&mut self) {
        let Some(pid) = self.smbd_pid() else {
            return;
        };
        if self.paused.load(Ordering::SeqCst) {
            self.resume();
        }
        self.smbd_stdin = None;
        procs::signal(&[pid], "TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut exited = false;
        while Instant::now() < deadline {
            let Some(child) = self.smbd.as_mut() else {
                return;
            };
            if !matches!(child.try_wait(), Ok(None)) {
                exited = true;
                break;
            }
            thread::sleep(Duration::from_millis(3));
        }
        if exited {
            self.smbd = None;
        } else {
            self.stop_smbd_hard();
        }
    }

    /// Stops whatever still runs with our configuration: per-connection smbd processes that outlived
    /// their parent, `samba-dcerpcd` and its `rpcd_*` workers.
    fn stop_helpers(&self) {
        let procs_left = procs::using_config(&self.config);
        if procs_left.is_empty() {
            return;
        }
        // samba-dcerpcd first, so that it reaps its workers as they stop.
        let (dcerpcd, others): (Vec<_>, Vec<_>) = procs_left
            .iter()
            .partition(|p| p.comm.starts_with("samba-dcerpcd"));
        let dcerpcd: Vec<u32> = dcerpcd.iter().map(|p| p.pid).collect();
        let others: Vec<u32> = others.iter().map(|p| p.pid).collect();
        procs::signal(&dcerpcd, "TERM");
        procs::signal(&others, "TERM");
        let mut all = dcerpcd;
        all.extend(others);
        let left = procs::wait_gone(&all, Duration::from_secs(2));
        procs::signal(&left, "KILL");
        procs::wait_gone(&left, Duration::from_secs(1));
    }
}

impl Drop for TestServer {
    /// Stops smbd and the `samba-dcerpcd` helpers started for this configuration (found by their
    /// `--configfile=` argument), and removes the temporary directory.
    fn drop(&mut self) {
        self.stop_smbd_gracefully();
        self.stop_helpers();
        // smbd may have started a samba-dcerpcd (on demand, for a pipe)
        // just as it was stopped; one that was not yet visible to the first
        // sweep is caught by a second.
        thread::sleep(Duration::from_millis(50));
        self.stop_helpers();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        for _ in 0..5 {
            match fs::remove_dir_all(&self.dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
        release_port(self.port_lock.take());
    }
}

/// What `smbstatus --json` printed.
struct Smbstatus {
    stdout: String,
    stderr: String,
}

impl Smbstatus {
    /// The error for output of `smbstatus <what> --json` that did not parse (`why`).
    fn error(&self, what: &str, why: &str) -> io::Error {
        let hint = if self.stdout.trim_start().starts_with('{') {
            ""
        } else {
            " (Samba before 4.16 has no --json)"
        };
        io::Error::other(format!(
            "smbstatus {what} --json: {why}{hint}; it printed {:?}, and on stderr {:?}",
            self.stdout.chars().take(300).collect::<String>(),
            self.stderr
        ))
    }
}

/// Whether this machine has what [`TestServer::start`] needs from Samba: `smbd`, `smbpasswd` and the
/// `shadow_copy2` VFS module. (It does not check for root.)
pub fn smbd_available() -> bool {
    tools().is_ok()
}

/// Where the Samba programs are.
struct Tools {
    smbd: PathBuf,
    smbpasswd: PathBuf,
}

fn tools() -> io::Result<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(find_tools)
        .as_ref()
        .map_err(|msg| io::Error::new(io::ErrorKind::NotFound, msg.clone()))
}

fn find_tools() -> Result<Tools, String> {
    let smbd = match std::env::var_os("SMBKIT_SMBD") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            if !is_executable(&path) {
                return Err(format!(
                    "SMBKIT_SMBD={} is not an executable smbd: {INSTALL_HINT}",
                    path.display()
                ));
            }
            path
        }
        _ => find_program("smbd")
            .ok_or_else(|| format!("Samba's smbd is not installed: {INSTALL_HINT}"))?,
    };
    let smbpasswd = find_program("smbpasswd")
        .ok_or_else(|| format!("Samba's smbpasswd is not installed: {INSTALL_HINT}"))?;
    // `smbd -b` prints the build options, among them the folder of the VFS modules.
    let build = Command::new(&smbd)
        .arg("-b")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}; {INSTALL_HINT}", smbd.display()))?;
    let text = String::from_utf8_lossy(&build.stdout);
    let modules = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("MODULESDIR:"))
        .map(|d| PathBuf::from(d.trim()));
    if let Some(dir) = modules {
        if !dir.join("vfs/shadow_copy2.so").exists() {
            return Err(format!(
                "Samba's shadow_copy2 VFS module is missing from {}/vfs (package samba-vfs-modules): {INSTALL_HINT}",
                dir.display()
            ));
        }
    }
    Ok(Tools { smbd, smbpasswd })
}

/// Finds `name` on `PATH` or in the sbin/bin folders (root's `PATH` may lack `/usr/sbin` under sudo).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .into_iter()
            .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Makes sure the unix account [`USER`] exists; returns its uid and gid. Safe when several processes
/// race to create it.
fn ensure_user() -> io::Result<(u32, u32)> {
    static IDS: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    IDS.get_or_init(create_user)
        .clone()
        .map_err(io::Error::other)
}

fn create_user() -> Result<(u32, u32), String> {
    if let Some(ids) = lookup_user() {
        return Ok(ids);
    }
    let useradd =
        find_program("useradd").ok_or("useradd not found: cannot create the test user")?;
    let mut last = String::new();
    for _ in 0..100 {
        let out = Command::new(&useradd)
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", USER])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run useradd: {e}"))?;
        match out.status.code() {
            // Created, or another process just did.
            Some(0) | Some(9) => break,
            // 1: cannot update the password file, 10: cannot lock it: another useradd holds it.
            Some(1) | Some(10) => {
                last = String::from_utf8_lossy(&out.stderr).into_owned();
                thread::sleep(Duration::from_millis(50));
            }
            _ => {
                return Err(format!(
                    "useradd {USER} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
    }
    lookup_user().ok_or_else(|| format!("could not create the unix user {USER}: {}", last.trim()))
}

/// The uid and gid of [`USER`], from `/etc/passwd` or else `id`.
fn lookup_user() -> Option<(u32, u32)> {
    if let Ok(passwd) = fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4 && f[0] == USER {
                if let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse()) {
                    return Some((uid, gid));
                }
            }
        }
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, USER])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// Puts [`USER`] with [`PASSWORD`] into the tdbsam of `config`.
fn set_password(smbpasswd: &Path, config: &Path) -> io::Result<()> {
    let mut child = Command::new(smbpasswd)
        .arg("-c")
        .arg(config)
        .args(["-s", "-a", USER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "smbpasswd -a {USER} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A fresh, absolute, uniquely named folder under the temporary directory. Absolute matters: smbd
/// passes its `-s` path on to `samba-dcerpcd`, which runs from `/`.
fn make_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    let base = fs::canonicalize(&base).unwrap_or(base);
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "smbkit-{}-{}-{:05x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos & 0xfffff
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Picks a free port and claims it with a lock file, so that no other test process starts a server
/// there before ours listens (smbd's SO_REUSEPORT would let both listen on it).
fn reserve_port() -> io::Result<(u16, PathBuf)> {
    let locks = std::env::temp_dir().join("smbkit-testserver-ports");
    fs::create_dir_all(&locks)?;
    for _ in 0..100 {
        let port = TcpListener::bind((HOST, 0))?.local_addr()?.port();
        if port == 139 || port == 445 {
            continue;
        }
        let lock = locks.join(port.to_string());
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                return Ok((port, lock));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free port without a lock file in smbkit-testserver-ports",
    ))
}

fn release_port(lock: Option<PathBuf>) {
    if let Some(lock) = lock {
        let _ = fs::remove_file(lock);
    }
}

/// Starts the watchdog: a shell in its own process group that waits for EOF on its standard input (a
/// pipe whose writing end only this process holds), then stops everything using `dir/smb.conf` and
/// removes `dir` and the port lock. After a normal drop it is simply killed.
fn spawn_watchdog(dir: &Path) -> io::Result<Child> {
    const SCRIPT: &str = r#"
while read -r _; do :; done
dir=$1
lock=$(cat "$dir/port.lock" 2>/dev/null)
pids=$(grep -l -a -F -e "$dir/smb.conf" /proc/[0-9]*/cmdline 2>/dev/null | sed -e 's#^/proc/##' -e 's#/cmdline$##' | grep -v -x -e "$$")
if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  sleep 1
  kill -KILL $pids 2>/dev/null
fi
rm -rf "$dir"
if [ -n "$lock" ]; then rm -f "$lock"; fi
"#;
    Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("smbkit-testserver-watchdog")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn log_tail(dir: &Path, n: usize) -> String {
    logs_tail(dir, "smbd", n)
}

/// The last `n` lines of each non-empty log of `daemon` in `dir` (its
/// `log.*` files and `<daemon>.out`), oldest first, for failure messages.
pub(crate) fn logs_tail(dir: &Path, daemon: &str, n: usize) -> String {
    let out_file = format!("{daemon}.out");
    let mut files: Vec<(SystemTime, PathBuf)> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name();
                let name = name.to_str()?;
                if !(name.starts_with("log.") || name == out_file) {
                    return None;
                }
                let meta = e.metadata().ok()?;
                (meta.is_file() && meta.len() > 0)
                    .then(|| (meta.modified().unwrap_or(UNIX_EPOCH), e.path()))
            })
            .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        return format!("(no {daemon} logs in {})", dir.display());
    }
    let mut out = String::new();
    for (_, path) in files {
        let text = fs::read(&path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        out.push_str(&format!("==> {name} <==\n"));
        for line in &lines[lines.len().saturating_sub(n)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_helpers_see_this_process() {
        let me = procs::stat(std::process::id()).expect("own /proc entry");
        assert_eq!(me.pid, std::process::id());
        assert!(!me.is_gone());
        let listener = TcpListener::bind((HOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let listening = procs::tcp_listeners(port);
        let mine = procs::socket_inodes(std::process::id());
        assert_eq!(listening.len(), 1);
        assert!(mine.contains(&listening[0]));
        assert!(procs::effective_uid().is_some());
    }

    #[test]
    fn profiles_configure_what_they_promise() {
        let has = |p: Profile, line: &str| p.global_lines().contains(line);
        assert_eq!(Profile::Modern.global_lines(), "");
        assert!(has(Profile::Legacy, "server min protocol = NT1"));
        assert!(has(Profile::Legacy, "ntlm auth = yes"));
        assert!(has(Profile::Legacy, "lanman auth = no"));
        assert!(has(Profile::Smb1Only, "server max protocol = NT1"));
        assert!(has(Profile::SigningMandatory, "server signing = mandatory"));
        assert!(has(Profile::Smb21Max, "server max protocol = SMB2_10"));
        assert!(Profile::Smb1Only.speaks_smb1() && !Profile::Smb1Only.speaks_smb2());
        assert!(!Profile::Modern.speaks_smb1() && !Profile::Modern.accepts_ntlmv1());
    }

    #[test]
    fn password_is_shell_safe() {
        assert!(PASSWORD
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = make_temp_dir().unwrap();
        fs::write(dir.join("log.smbd"), "1\n2\n3\n4\n").unwrap();
        fs::write(dir.join("other.txt"), "x\n").unwrap();
        let tail = log_tail(&dir, 2);
        assert_eq!(tail, "==> log.smbd <==\n3\n4\n");
        fs::remove_dir_all(&dir).unwrap();
        assert!(log_tail(&dir, 2).starts_with("(no smbd logs"));
    }
}
