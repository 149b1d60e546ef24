//! The server's own tables: open files and tree connects, as smbstatus sees them, while Samba's
//! smbclient holds files open and after it closes them.

mod support;

use std::fs;
use std::io::Write;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use smbkit_testserver::{OpenFile, Profile, TestServer};
use support::*;

/// An interactive smbclient whose commands the test types. Its output is not read (smbclient
/// buffers it when it goes to a pipe): the server's tables tell what it did. Type a command only
/// once the last one took effect: smbclient may leave a second line already read from the pipe
/// unprocessed until more input comes.
struct Client {
    child: Child,
    stdin: ChildStdin,
    /// smbclient numbers the files it opens 1, 2, … (its `fnum`).
    opened: u32,
}

impl Client {
    fn start(server: &TestServer, share: &str) -> Client {
        let mut child = server
            .smbclient(share)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run smbclient (installed with scripts/install-deps)");
        let stdin = child.stdin.take().unwrap();
        Client {
            child,
            stdin,
            opened: 0,
        }
    }

    /// Types `command`.
    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Opens `path` for reading and writing (smbclient's `open`); returns the number smbclient
    /// gives it, for `close`.
    fn open(&mut self, path: &str) -> u32 {
        self.send(&format!("open \"{path}\""));
        self.opened += 1;
        self.opened
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until `done` holds for what it returns (at most 5 s); returns that.
fn poll<T>(f: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = f();
        if done(&v) || Instant::now() >= deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `open_files` until `done` holds for it (at most 5 s); returns it then.
fn open_files_when(server: &TestServer, done: impl Fn(&[OpenFile]) -> bool) -> Vec<OpenFile> {
    poll(|| server.open_files().unwrap(), |f| done(f))
}

#[test]
fn an_open_file_is_listed_until_it_is_closed() {
    let server = start(Profile::Modern);
    assert_eq!(server.open_files().unwrap(), []);
    assert_eq!(server.tree_connects().unwrap(), []);
    fs::create_dir(server.share_path().join("sub dir")).unwrap();
    fs::write(server.share_path().join("sub dir/a b.txt"), b"a").unwrap();
    fs::write(server.share_path().join("c.txt"), b"c").unwrap();
    server.chown_to_user(server.share_path()).unwrap();

    let mut client = Client::start(&server, "share");
    let a = client.open("sub dir/a b.txt");
    let files = open_files_when(&server, |f| f.len() == 1);
    assert_eq!(files.len(), 1, "{files:#?}");
    let c = client.open("c.txt");
    let files = open_files_when(&server, |f| f.len() == 2);
    assert_eq!(files.len(), 2, "{files:#?}");
    let pid = client_smbd(&server, &files);
    for (f, name) in files.iter().zip(["c.txt", "sub dir/a b.txt"]) {
        assert_eq!(f.name, name, "{f:#?}");
        assert_eq!(f.path, server.share_path().join(name), "{f:#?}");
        assert_eq!(f.share.as_deref(), Some("share"), "{f:#?}");
        assert_eq!(f.share_path, server.share_path(), "{f:#?}");
        assert_eq!(f.pid, pid, "{f:#?}");
        // smbclient's `open` asks for read and write data, sharing read and write.
        assert_eq!(f.access_mask & 0x3, 0x3, "{f:#?}");
        assert_eq!(f.share_access, 0x3, "{f:#?}");
        assert!(!f.opened_at.is_empty(), "{f:#?}");
    }
    assert_ne!(files[0].share_file_id, files[1].share_file_id);
    let tcons = server.tree_connects().unwrap();
    assert_eq!(tcons.len(), 1, "{tcons:#?}");
    assert_eq!(tcons[0].share, "share");
    assert_eq!(tcons[0].pid, pid);
    assert_eq!(tcons[0].machine, "127.0.0.1");

    // Closing one leaves the other.
    client.send(&format!("close {a}"));
    let files = open_files_when(&server, |f| f.len() == 1);
    assert_eq!(files.len(), 1, "{files:#?}");
    assert_eq!(files[0].name, "c.txt");
    client.send(&format!("close {c}"));
    let files = open_files_when(&server, <[OpenFile]>::is_empty);
    assert_eq!(files, []);
    // The tree stays connected while the client is.
    assert_eq!(server.tree_connects().unwrap().len(), 1);
}

#[test]
fn the_end_of_a_connection_closes_its_files() {
    let server = start(Profile::Modern);
    let reader = Client::start(&server, "readonly");
    let mut other = Client::start(&server, "share");
    fs::write(server.share_path().join("o.txt"), b"o").unwrap();
    server
        .chown_to_user(&server.share_path().join("o.txt"))
        .unwrap();
    other.open("o.txt");
    let files = open_files_when(&server, |f| !f.is_empty());
    assert!(files.iter().any(|f| f.name == "o.txt"), "{files:#?}");
    let tcons = poll(|| server.tree_connects().unwrap(), |t| t.len() == 2);
    let mut shares: Vec<&str> = tcons.iter().map(|t| t.share.as_str()).collect();
    shares.sort_unstable();
    assert_eq!(shares, ["readonly", "share"], "{tcons:#?}");

    drop(other);
    let left = server
        .wait_until_no_open_files(Duration::from_secs(5))
        .unwrap();
    assert_eq!(left, []);
    let tcons = poll(|| server.tree_connects().unwrap(), |t| t.len() == 1);
    assert_eq!(tcons.len(), 1, "{tcons:#?}");
    assert_eq!(tcons[0].share, "readonly");
    drop(reader);
    let tcons = poll(|| server.tree_connects().unwrap(), Vec::is_empty);
    assert_eq!(tcons, []);
}

#[test]
fn only_this_servers_files_are_listed() {
    let a = start(Profile::Modern);
    let b = start(Profile::Smb1Only);
    fs::write(a.share_path().join("on-a.txt"), b"a").unwrap();
    a.chown_to_user(&a.share_path().join("on-a.txt")).unwrap();
    let mut client = Client::start(&a, "share");
    client.open("on-a.txt");
    let files = open_files_when(&a, |f| !f.is_empty());
    assert_eq!(files.len(), 1, "{files:#?}");
    assert_eq!(b.open_files().unwrap(), []);
    assert_eq!(b.tree_connects().unwrap(), []);
}

/// The pid of the smbd serving the one client of `files`.
fn client_smbd(server: &TestServer, files: &[OpenFile]) -> u32 {
    let pid = files[0].pid;
    assert!(files.iter().all(|f| f.pid == pid), "{files:#?}");
    assert_ne!(
        Some(pid),
        server.smbd_pid(),
        "the main smbd serves no client"
    );
    pid
}
