//! Two Samba servers that make a DFS namespace on loopback, for tests of DFS referrals and of
//! following them.
//!
//! [`DfsSetup::start`] runs two private `smbd`s (each a [`TestServer`] of [`Profile::Legacy`], so
//! SMB1 and SMB 2/3 both work) on the SAME port, one bound to [`FIRST_HOST`] (127.0.0.1) and one to
//! [`SECOND_HOST`] (127.0.0.2), as two machines of a network would be: a DFS target names a server
//! and a share, never a port, so a client that follows a referral with the port it already uses
//! reaches the right server. Before either starts, the port is checked free on both addresses and on
//! [`DOWN_HOST`] (127.0.0.3), where nothing listens.
//!
//! The first server has `host msdfs = yes` and a share [`DFS_ROOT`] with `msdfs root = yes` whose
//! folder holds Samba's msdfs links (symlinks whose target is `msdfs:` and a list of
//! `server\share` targets):
//!
//! | link            | symlink target                            | what it tests                    |
//! |-----------------|-------------------------------------------|----------------------------------|
//! | [`LINK`]        | `msdfs:127.0.0.2\share`                   | a link to the other server       |
//! | [`TWO_TARGETS`] | `msdfs:127.0.0.3\share,127.0.0.2\share`   | failover: the first target is down |
//! | [`LOCAL_LINK`]  | `msdfs:127.0.0.1\share`                   | a link to a share of the root's own server |
//!
//! It also holds a plain folder, [`PLAIN_DIR`], which is no link. Both servers have the harness's
//! `share`, with a file that tells them apart: [`FIRST_FILE`] on the first, [`SECOND_FILE`] on the
//! second, holding [`FIRST_CONTENT`] and [`SECOND_CONTENT`]. User and password are the harness's
//! [`USER`](crate::USER) and [`PASSWORD`](crate::PASSWORD).
//!
//! [`DfsSetup::stop_second`] kills the second server and [`DfsSetup::restart_second`] brings it
//! back on the same address and port, for failover tests.
//!
//! # Following referrals with Samba's `smbclient`
//!
//! `smbclient` (Samba 4.17) connects to the server it is given on the `-p` port, but every
//! connection it makes to follow a referral (to the IPC$ share of the root's server to ask for
//! the referral, then to each target) goes to ports 445 and 139, whatever `-p` or `smb ports`
//! say. For such a client the set-up must listen on 445: [`DfsSetup::start_on_port`]`(445)`, which
//! waits while another set-up (of any test process) holds that port.
//!
//! ```no_run
//! use smbkit_testserver::dfs::{DfsSetup, LINK};
//!
//! let dfs = DfsSetup::start().expect("smbd (run scripts/install-deps)");
//! // \127.0.0.1\dfsroot\link, which the first server refers to \127.0.0.2\share.
//! println!("{} on port {}", dfs.dfs_path(LINK), dfs.port());
//! ```

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::{ExtraConfig, Profile, TestServer};

/// The address of the first server, which holds the DFS root.
pub const FIRST_HOST: &str = "127.0.0.1";
/// The address of the second server.
pub const SECOND_HOST: &str = "127.0.0.2";
/// An address where nothing listens on the set-up's port: the first target of [`TWO_TARGETS`].
pub const DOWN_HOST: &str = "127.0.0.3";
/// The DFS root share of the first server.
pub const DFS_ROOT: &str = "dfsroot";
/// The share both servers have, which the links point at.
pub const SHARE: &str = "share";
/// A link to [`SHARE`] on the second server.
pub const LINK: &str = "link";
/// A link with two targets: [`SHARE`] on [`DOWN_HOST`] first (down), then on the second server.
pub const TWO_TARGETS: &str = "twotargets";
/// A link to [`SHARE`] on the first server itself.
pub const LOCAL_LINK: &str = "locallink";
/// A plain folder in the DFS root: no link.
pub const PLAIN_DIR: &str = "plain";
/// The file in the first server's [`SHARE`].
pub const FIRST_FILE: &str = "first.txt";
/// The content of [`FIRST_FILE`].
pub const FIRST_CONTENT: &[u8] = b"on the first server, 127.0.0.1\n";
/// The file in the second server's [`SHARE`].
pub const SECOND_FILE: &str = "second.txt";
/// The content of [`SECOND_FILE`].
pub const SECOND_CONTENT: &[u8] = b"on the second server, 127.0.0.2\n";

/// How many ports [`DfsSetup::start`] tries.
const PORT_ATTEMPTS: usize = 8;

/// How long [`DfsSetup::start_on_port`] waits for another set-up to give its port up.
pub const CLAIM_TIMEOUT: Duration = Duration::from_secs(120);

/// The links of the DFS root: name and the `msdfs:` symlink target.
const LINKS: [(&str, &str); 3] = [
    (LINK, "msdfs:127.0.0.2\\share"),
    (TWO_TARGETS, "msdfs:127.0.0.3\\share,127.0.0.2\\share"),
    (LOCAL_LINK, "msdfs:127.0.0.1\\share"),
];

/// Two `smbd`s on one port, at [`FIRST_HOST`] and [`SECOND_HOST`], the first with a DFS root; see
/// the [module documentation](self). Dropping it stops both.
#[derive(Debug)]
pub struct DfsSetup {
    first: TestServer,
    second: TestServer,
    root_path: PathBuf,
    /// Released after both servers stopped (fields drop in order).
    _lock: PortLock,
}

/// The lock file that reserves the set-up's port among test processes (see
/// `reserve_port`); removed on drop.
#[derive(Debug)]
struct PortLock(Option<PathBuf>);

impl Drop for PortLock {
    fn drop(&mut self) {
        crate::release_port(self.0.take());
    }
}

impl DfsSetup {
    /// Starts both servers on a port free on [`FIRST_HOST`], [`SECOND_HOST`] and [`DOWN_HOST`] (it
    /// binds all three before launching either), makes the DFS root's links and the two files, and
    /// waits until both listen. Needs what [`TestServer::start`] needs (root and Samba).
    pub fn start() -> io::Result<DfsSetup> {
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let (port, lock) = crate::reserve_port()?;
            let lock = PortLock(Some(lock));
            let started = free_on_all(port).and_then(|()| Self::start_on(port, lock));
            match started {
                Ok(setup) => return Ok(setup),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "no port was free on {FIRST_HOST}, {SECOND_HOST} and {DOWN_HOST} in {PORT_ATTEMPTS} attempts; last: {}",
                last.map(|e| e.to_string()).unwrap_or_default()
            ),
        ))
    }

    /// [`start`](Self::start) on `port` (445 for clients that follow referrals only there; see the
    /// [module documentation](self)). Waits up to [`CLAIM_TIMEOUT`] while another set-up holds the
    /// port (its lock file names a living process), then fails; fails at once when the port is not
    /// free on the three addresses.
    pub fn start_on_port(port: u16) -> io::Result<DfsSetup> {
        let lock = claim_port(port)?;
        free_on_all(port)?;
        Self::start_on(port, lock)
    }

    /// Starts the two servers on `port`, which `lock` reserves.
    fn start_on(port: u16, lock: PortLock) -> io::Result<DfsSetup> {
        let root = ExtraConfig {
            global: "host msdfs = yes".into(),
            sections: format!(
                "\n[{DFS_ROOT}]\n\tpath = {{dir}}/{DFS_ROOT}\n\tmsdfs root = yes\n\tread only = yes\n"
            ),
        };
        let first = TestServer::start_at(Profile::Legacy, root, FIRST_HOST, port)?;
        if let Some(lock) = &lock.0 {
            // The first server's watchdog removes it if this process dies.
            fs::write(
                first.dir().join("port.lock"),
                lock.as_os_str().as_encoded_bytes(),
            )?;
        }
        let root_path = first.dir().join(DFS_ROOT);
        fs::create_dir(&root_path)?;
        for (name, target) in LINKS {
            symlink(target, root_path.join(name))?;
        }
        fs::create_dir(root_path.join(PLAIN_DIR))?;
        fs::write(first.share_path().join(FIRST_FILE), FIRST_CONTENT)?;
        let second =
            TestServer::start_at(Profile::Legacy, ExtraConfig::default(), SECOND_HOST, port)?;
        fs::write(second.share_path().join(SECOND_FILE), SECOND_CONTENT)?;
        Ok(DfsSetup {
            first,
            second,
            root_path,
            _lock: lock,
        })
    }

    /// The port both servers listen on.
    pub fn port(&self) -> u16 {
        self.first.port()
    }

    /// The first server (at [`FIRST_HOST`]), which holds the DFS root: for its logs, its
    /// `smbclient` command, its `share` folder.
    pub fn first(&self) -> &TestServer {
        &self.first
    }

    /// The second server (at [`SECOND_HOST`]).
    pub fn second(&self) -> &TestServer {
        &self.second
    }

    /// The folder behind the first server's [`DFS_ROOT`] share, which holds the links.
    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// The folder behind the first server's [`SHARE`].
    pub fn first_share_path(&self) -> &Path {
        self.first.share_path()
    }

    /// The folder behind the second server's [`SHARE`].
    pub fn second_share_path(&self) -> &Path {
        self.second.share_path()
    }

    /// The links of the DFS root: each name with its `msdfs:` symlink target.
    pub fn links(&self) -> &'static [(&'static str, &'static str)] {
        &LINKS
    }

    /// The DFS path of `name` in the root, as a referral request names it: `\127.0.0.1\dfsroot\name`
    /// (`\127.0.0.1\dfsroot` for an empty name).
    pub fn dfs_path(&self, name: &str) -> String {
        if name.is_empty() {
            format!("\\{FIRST_HOST}\\{DFS_ROOT}")
        } else {
            format!("\\{FIRST_HOST}\\{DFS_ROOT}\\{name}")
        }
    }

    /// An `smbclient` command for `//127.0.0.1/dfsroot` on the set-up's port, logged in as the test
    /// user; add e.g. `-c 'ls link\*'` and run it. It follows the referrals itself, on port 445
    /// only: see the [module documentation](self).
    pub fn smbclient_root(&self) -> Command {
        self.first.smbclient(DFS_ROOT)
    }

    /// Kills the second server (SIGKILL), as if its machine went down: connections to it drop and
    /// its address refuses new ones. [`restart_second`](Self::restart_second) brings it back.
    pub fn stop_second(&mut self) {
        self.second.kill();
    }

    /// Starts the second server again on the same address, port and files.
    pub fn restart_second(&mut self) -> io::Result<()> {
        self.second.restart()
    }
}

/// Takes the lock file of `port` among test processes (the one `reserve_port` takes for the ports
/// it picks), waiting while a living process holds it; a lock left by a process that died is taken
/// over.
fn claim_port(port: u16) -> io::Result<PortLock> {
    let dir = std::env::temp_dir().join("smbkit-testserver-ports");
    fs::create_dir_all(&dir)?;
    let path = dir.join(port.to_string());
    let deadline = Instant::now() + CLAIM_TIMEOUT;
    loop {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                writeln!(f, "{}", std::process::id())?;
                return Ok(PortLock(Some(path)));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let holder = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        match holder {
            // Written by a process that is gone: nobody will remove it.
            Some(pid) if !crate::procs::alive(pid) => {
                let _ = fs::remove_file(&path);
                continue;
            }
            _ if Instant::now() >= deadline => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "port {port} stayed reserved by another test process ({}) for {CLAIM_TIMEOUT:?}",
                        path.display()
                    ),
                ))
            }
            _ => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Fails unless `port` can be bound on each of the set-up's addresses now.
fn free_on_all(port: u16) -> io::Result<()> {
    for host in [FIRST_HOST, SECOND_HOST, DOWN_HOST] {
        TcpListener::bind((host, port)).map_err(|e| {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {port} is not free on {host}: {e}"),
            )
        })?;
    }
    Ok(())
}

/// Inodes of the TCP sockets listening on `host:port` (IPv4), from `/proc/net/tcp`, whose
/// `local_address` is the address as the kernel holds it (network order) printed as a native
/// integer in hex, then the port.
pub(crate) fn tcp_listeners_at(host: &str, port: u16) -> Vec<u64> {
    let Ok(addr) = host.parse::<Ipv4Addr>() else {
        return Vec::new();
    };
    let want = format!("{:08X}:{port:04X}", u32::from_ne_bytes(addr.octets()));
    let Ok(text) = fs::read_to_string("/proc/net/tcp") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... inode
            (f.len() > 9 && f[1] == want && f[3] == "0A")
                .then(|| f[9].parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_told_apart_by_address() {
        let a = TcpListener::bind((FIRST_HOST, 0)).unwrap();
        let port = a.local_addr().unwrap().port();
        let Ok(_b) = TcpListener::bind((SECOND_HOST, port)) else {
            return; // taken meanwhile: nothing to compare
        };
        // /proc/net/tcp is read in pieces, and sockets that come and go
        // meanwhile (other tests) can make one reading miss a line: look
        // a few times.
        let told_apart = || {
            let first = tcp_listeners_at(FIRST_HOST, port);
            let second = tcp_listeners_at(SECOND_HOST, port);
            let mut all = crate::procs::tcp_listeners(port);
            all.sort();
            let mut both = [first.clone(), second.clone()].concat();
            both.sort();
            first.len() == 1
                && second.len() == 1
                && first != second
                && all == both
                && tcp_listeners_at(DOWN_HOST, port).is_empty()
        };
        assert!((0..50).any(|_| told_apart()));
    }
}
