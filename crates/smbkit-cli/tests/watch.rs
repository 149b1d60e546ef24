//! `smbkit watch` against the harness's Samba: it prints one line per
//! change (or one JSON object with `--json`), recursively with `-r`,
//! filtered with `--filter`, an overflow line with a buffer too small, and
//! stops after `-n` changes; over SMB 3.1.1 and SMB1. Most changes are made
//! on the server's own file system, which Samba watches with inotify (the
//! watched folder itself, not below it: changes below are made through
//! SMB).
//!
//! smbd registers a watch with its notify daemon a moment after it has
//! taken the request; each test first creates files in the folder until
//! the command prints a line (`sync`), and counts from there.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use smbkit_testserver::{Profile, TestServer};

const USAGE: i32 = 2;
const NOT_FOUND: i32 = 4;

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn smbkit(srv: &TestServer) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smbkit"));
    c.env_remove("RUST_LOG")
        .env("SMBKIT_PASSWORD", srv.password())
        .stdin(Stdio::null());
    if !srv.profile().speaks_smb2() {
        c.arg("--smb1");
    }
    c
}

fn url(srv: &TestServer, rest: &str) -> String {
    format!("smb://{}@{}:{}/{rest}", srv.user(), srv.host(), srv.port())
}

/// The lines a child writes to `from`, read by a thread.
fn lines(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// A running `smbkit watch`.
struct Watching {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    args: Vec<String>,
}

impl Watching {
    /// Starts `smbkit watch ARGS` and waits until it says it watches.
    fn start(srv: &TestServer, args: &[&str]) -> Watching {
        let mut child = smbkit(srv)
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run smbkit");
        let w = Watching {
            stdout: lines(child.stdout.take().unwrap()),
            stderr: lines(child.stderr.take().unwrap()),
            child,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        let line = w
            .stderr
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("smbkit watch {:?} did not start", w.args));
        assert!(line.starts_with("watching "), "{line}");
        w
    }

    /// Creates files in the server's folder `dir` (another each half
    /// second) until the command prints a line; returns that line, after
    /// dropping what follows within 300 ms.
    fn sync(&self, dir: &Path) -> String {
        for i in 0..40 {
            std::fs::write(dir.join(format!(".sync-{i}")), b"").unwrap();
            if let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(500)) {
                while self.stdout.recv_timeout(Duration::from_millis(300)).is_ok() {}
                return line;
            }
        }
        panic!("smbkit watch {:?} prints nothing", self.args);
    }

    /// The next line printed, within 10 s.
    fn line(&self) -> String {
        self.stdout
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("smbkit watch {:?} printed nothing", self.args))
    }

    /// Waits for the command to end by itself; its exit code and the
    /// lines it printed since the last taken.
    fn finish(mut self) -> (i32, Vec<String>) {
        let give_up = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > give_up {
                let _ = self.child.kill();
                let err: Vec<String> = self.stderr.try_iter().collect();
                panic!("smbkit watch {:?} did not stop: {err:?}", self.args);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = Vec::new();
        while let Ok(l) = self.stdout.recv_timeout(Duration::from_secs(1)) {
            out.push(l);
        }
        (status.code().unwrap_or(-1), out)
    }

    /// Interrupts the command (as Ctrl-C would end it).
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_prints_one_line_per_change() {
    for profile in [Profile::Modern, Profile::Smb1Only] {
        let srv = server(profile);
        let root = srv.share_path().to_path_buf();
        let dir = root.join("w");
        std::fs::create_dir(&dir).unwrap();
        let w = Watching::start(&srv, &["--filter", "names", &url(&srv, "share/w")]);
        w.sync(&dir);
        std::fs::write(dir.join("a.txt"), b"data").unwrap();
        assert_eq!(w.line(), "added a.txt", "{profile:?}");
        std::fs::rename(dir.join("a.txt"), dir.join("b c.txt")).unwrap();
        assert_eq!(w.line(), "renamed a.txt -> b c.txt", "{profile:?}");
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert_eq!(w.line(), "added sub", "{profile:?}");
        std::fs::remove_file(dir.join("b c.txt")).unwrap();
        assert_eq!(w.line(), "removed b c.txt", "{profile:?}");
        w.kill();
        let open = srv
            .wait_until_no_open_files(Duration::from_secs(5))
            .unwrap();
        assert!(open.is_empty(), "{open:#?}");
    }
}

#[test]
fn watch_stops_after_n_changes_and_closes_the_folder() {
    let srv = server(Profile::Modern);
    let dir = srv.share_path().join("w");
    std::fs::create_dir(&dir).unwrap();
    let w = Watching::start(
        &srv,
        &["--filter", "names", "-n", "3", &url(&srv, "share/w")],
    );
    // The first change printed is one of the three.
    w.sync(&dir);
    std::fs::write(dir.join("x"), b"").unwrap();
    assert_eq!(w.line(), "added x");
    std::fs::write(dir.join("y"), b"").unwrap();
    let (code, rest) = w.finish();
    assert_eq!(code, 0);
    assert_eq!(rest, ["added y"]);
    let open = srv.open_files().unwrap();
    assert!(open.is_empty(), "closed before the exit: {open:#?}");
}

#[test]
fn watch_recursive_as_json_lines() {
    let srv = server(Profile::Modern);
    let dir = srv.share_path().join("w");
    std::fs::create_dir(&dir).unwrap();
    srv.chown_to_user(&dir).unwrap();
    let w = Watching::start(
        &srv,
        &[
            "-r",
            "--filter",
            "files,dirs",
            "--json",
            &url(&srv, "share/w"),
        ],
    );
    let first: Value = serde_json::from_str(&w.sync(&dir)).unwrap();
    assert_eq!(first["change"], "added", "{first}");
    // Through SMB: Samba's inotify watches only the folder itself, so a
    // file made below it on the server's file system would not be seen.
    let run = |args: &[&str]| {
        let o = smbkit(&srv).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {o:?}");
    };
    run(&["mkdir", &url(&srv, "share/w/sub")]);
    let local = std::env::temp_dir().join(format!("smbkit-watch-{}", std::process::id()));
    std::fs::write(&local, b"deep").unwrap();
    run(&[
        "put",
        local.to_str().unwrap(),
        &url(&srv, "share/w/sub/deep.txt"),
    ]);
    let _ = std::fs::remove_file(&local);
    let got: Vec<Value> = [w.line(), w.line()]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(
        got,
        [
            serde_json::json!({"change": "added", "path": "sub"}),
            serde_json::json!({"change": "added", "path": "sub/deep.txt"}),
        ]
    );
    w.kill();
}

#[test]
fn watch_with_a_tiny_buffer_prints_overflows() {
    let srv = server(Profile::Modern);
    let dir = srv.share_path().join("w");
    std::fs::create_dir(&dir).unwrap();
    let w = Watching::start(&srv, &["--buffer", "16", &url(&srv, "share/w")]);
    assert_eq!(w.sync(&dir), "overflow: enumerate again");
    std::fs::write(dir.join("a-long-name.txt"), b"").unwrap();
    assert_eq!(w.line(), "overflow: enumerate again");
    w.kill();
}

#[test]
fn watch_errors_and_usage() {
    let srv = server(Profile::Modern);
    let o = smbkit(&srv)
        .args(["watch", &url(&srv, "share/missing")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(NOT_FOUND), "{o:?}");
    for bad in [
        &["--buffer", "0"][..],
        &["-n", "0"],
        &["--filter", "everything"],
        &["--retries", "2", "--no-retry"],
    ] {
        let o = smbkit(&srv)
            .arg("watch")
            .args(bad)
            .arg(url(&srv, "share"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(USAGE), "{bad:?}: {o:?}");
    }
    let help = smbkit(&srv).args(["watch", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in [
        "--recursive",
        "--filter",
        "--json",
        "overflow: enumerate again",
        "Example",
    ] {
        assert!(help.contains(word), "no {word} in:\n{help}");
    }
}
