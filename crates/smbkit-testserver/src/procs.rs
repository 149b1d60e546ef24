//! Process bookkeeping through `/proc`, and signals through the shell's `kill` (the workspace forbids
//! `unsafe`, so no libc).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// One line of `/proc/PID/stat`, the parts we need.
#[derive(Debug, Clone)]
pub(crate) struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub state: char,
    pub comm: String,
}

impl ProcInfo {
    /// A zombie (or dead) process holds no resources but its pid: it counts as gone.
    pub fn is_gone(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads `/proc/PID/stat`. The command name may contain spaces and parentheses, so it is cut at the last `)`.
pub(crate) fn stat(pid: u32) -> Option<ProcInfo> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(ProcInfo {
        pid,
        ppid,
        state,
        comm,
    })
}

/// Every process visible in `/proc`.
pub(crate) fn all() -> Vec<ProcInfo> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// True while `pid` exists and is not a zombie.
pub(crate) fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|p| !p.is_gone())
}

/// All living descendants of `root` (children first, then grandchildren, ...), `root` itself excluded.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in all() {
        if !p.is_gone() {
            children.entry(p.ppid).or_default().push(p.pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    let mut i = 0;
    while i < queue.len() {
        if let Some(kids) = children.get(&queue[i]) {
            for &k in kids {
                if !queue.contains(&k) {
                    queue.push(k);
                    out.push(k);
                }
            }
        }
        i += 1;
    }
    out
}

/// The arguments of `pid` (empty for kernel threads, zombies and vanished processes).
pub(crate) fn cmdline(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Living processes started with `config` as their configuration file: `smbd -s CONF` and its forks,
/// `samba-dcerpcd --configfile=CONF` and the `rpcd_*` workers it starts.
pub(crate) fn using_config(config: &Path) -> Vec<ProcInfo> {
    let Some(conf) = config.to_str() else {
        return Vec::new();
    };
    let me = std::process::id();
    all()
        .into_iter()
        .filter(|p| p.pid != me && !p.is_gone())
        .filter(|p| {
            let args = cmdline(p.pid);
            args.iter().enumerate().any(|(i, a)| {
                a.strip_prefix("--configfile=") == Some(conf)
                    || a.strip_prefix("-s") == Some(conf)
                    || (a == conf && i > 0 && matches!(args[i - 1].as_str(), "-s" | "--configfile"))
            })
        })
        .collect()
}

/// Sends `signal` (a name such as `STOP`, `CONT`, `TERM`, `KILL`) to `pids`. Pids that vanished
/// meanwhile are ignored.
pub(crate) fn signal(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    kill(signal, pids.iter().map(u32::to_string));
}

/// Sends `signal` to every process in the process group `pgid`.
pub(crate) fn signal_group(pgid: u32, signal: &str) {
    kill(signal, std::iter::once(format!("-{pgid}")));
}

/// Runs the shell's built-in `kill` (procps' `kill` program is not on every minimal system, `sh` is).
fn kill(signal: &str, targets: impl Iterator<Item = String>) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"kill -s "$0" -- "$@""#)
        .arg(signal)
        .args(targets)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits until none of `pids` is alive, at most `limit`; returns the ones still alive.
pub(crate) fn wait_gone(pids: &[u32], limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until each of `pids` is stopped (state `T`) or gone, at most `limit`.
pub(crate) fn wait_stopped(pids: &[u32], limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let running = pids
            .iter()
            .any(|&p| stat(p).is_some_and(|s| !s.is_gone() && s.state != 'T' && s.state != 't'));
        if !running {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Inodes of the sockets `pid` holds open.
pub(crate) fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .filter_map(|e| {
            let target = fs::read_link(e.ok()?.path()).ok()?;
            let t = target.to_str()?;
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// Inodes of every TCP socket listening on `port`, on any address, IPv4 or IPv6.
pub(crate) fn tcp_listeners(port: u16) -> Vec<u64> {
    let want = format!(":{port:04X}");
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A" {
                if let Ok(inode) = f[9].parse() {
                    out.push(inode);
                }
            }
        }
    }
    out
}

/// The effective uid of this process, from `/proc/self/status`.
pub(crate) fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
