//! The `smbkit` binary driven against the harness's Samba: every
//! subcommand's happy path, its main failures and their exit codes, JSON
//! parsed back, recursive transfers of a unicode tree checked by hash,
//! transfers over a connection cut part way (through the harness's fault
//! proxy), and the password prompt answered through a pseudo-terminal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use sha2::{Digest, Sha256};
use smbkit_testserver::{content, ExtraConfig, FaultProxy, Profile, TestServer, SNAPSHOTS};

/// Exit codes (see the README's table).
const USAGE: i32 = 2;
const AUTH: i32 = 3;
const NOT_FOUND: i32 = 4;
const ACCESS_DENIED: i32 = 5;
const TIMEOUT: i32 = 6;
const NETWORK: i32 = 7;
const UNSUPPORTED: i32 = 8;

const SUBCOMMANDS: &[&str] = &[
    "shares",
    "ls",
    "get",
    "put",
    "cat",
    "stat",
    "mkdir",
    "rmdir",
    "rm",
    "mv",
    "snapshots",
    "security",
    "watch",
    "echo",
    "info",
    "completions",
];

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

/// The binary, with no password in its environment and no terminal.
fn smbkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smbkit"));
    c.env_remove("SMBKIT_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    c
}

/// `smb://user@127.0.0.1:port/rest`.
fn url(srv: &TestServer, rest: &str) -> String {
    format!("smb://{}@{}:{}/{rest}", srv.user(), srv.host(), srv.port())
}

/// Runs the binary with the server's password in SMBKIT_PASSWORD.
fn run(srv: &TestServer, args: &[&str]) -> Output {
    smbkit()
        .env("SMBKIT_PASSWORD", srv.password())
        .args(args)
        .output()
        .expect("run smbkit")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects success; returns stdout.
#[track_caller]
fn ok(srv: &TestServer, args: &[&str]) -> String {
    let o = run(srv, args);
    assert_eq!(
        code(&o),
        0,
        "smbkit {args:?} failed:\n{}\n{}",
        stderr(&o),
        srv.log_tail(20)
    );
    stdout(&o)
}

/// Runs and expects exit code `want`; returns stderr.
#[track_caller]
fn fails(srv: &TestServer, args: &[&str], want: i32) -> String {
    let o = run(srv, args);
    assert_eq!(
        code(&o),
        want,
        "smbkit {args:?}: stdout {:?} stderr {:?}",
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

/// A temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "smbkit-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    fn str(&self, p: &str) -> String {
        self.join(p).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file in the `share` share, made here and given to the test user.
fn put_local(srv: &TestServer, name: &str, data: &[u8]) {
    let p = srv.share_path().join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, data).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();
}

/// Relative path → SHA-256 of every file under `root` (folders as "dir").
fn tree_hashes(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            if p.is_dir() {
                out.insert(rel, b"dir".to_vec());
                stack.push(p);
            } else {
                out.insert(rel, Sha256::digest(std::fs::read(&p).unwrap()).to_vec());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Without a server
// ---------------------------------------------------------------------------

#[test]
fn every_subcommand_has_help_with_an_example() {
    let o = smbkit().arg("--help").output().unwrap();
    assert_eq!(code(&o), 0);
    let top = stdout(&o);
    for &sub in SUBCOMMANDS {
        assert!(top.contains(sub), "--help does not list {sub}:\n{top}");
        let o = smbkit().args([sub, "--help"]).output().unwrap();
        assert_eq!(code(&o), 0, "{sub} --help");
        let help = stdout(&o);
        assert!(
            help.contains("Example") && help.contains(&format!("smbkit {sub}")),
            "{sub} --help has no example:\n{help}"
        );
    }
    assert!(top.contains("Exit codes"), "{top}");
}

#[test]
fn shell_completions_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = smbkit().args(["completions", shell]).output().unwrap();
        assert_eq!(code(&o), 0, "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains("smbkit"), "{shell}");
        assert!(script.contains("snapshots"), "{shell}");
    }
}

#[test]
fn usage_errors_exit_with_the_usage_code() {
    let cases: &[&[&str]] = &[
        &[],
        &["ls"],
        &["ls", "fileserver/share"],
        &["ls", "smb://u@h:notaport/share"],
        &["--signing", "sometimes", "info", "smb://u@h"],
        &["--timeout", "0", "info", "smb://u@h"],
        &["--smb1", "--smb2-only", "info", "smb://u@h"],
        &["get", "--resume", "--offset", "3", "smb://u@h/s/f"],
        &["get", "--retries", "2", "--no-retry", "smb://u@h/s/f"],
        &["get", "--retries", "-1", "smb://u@h/s/f"],
        &["put", "--retries", "many", "f", "smb://u@h/s/f"],
    ];
    for args in cases {
        let o = smbkit().args(*args).output().unwrap();
        assert_eq!(code(&o), USAGE, "{args:?}: {}", stderr(&o));
    }
    // Checked before anything is sent: a target without a share…
    let o = smbkit()
        .args(["ls", "smb://u@127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(code(&o), USAGE);
    assert!(stderr(&o).contains("names no share"), "{}", stderr(&o));
    assert!(stderr(&o).contains("smbkit shares"), "{}", stderr(&o));
    // …and passwords on the command line.
    let o = smbkit()
        .args(["ls", "smb://alice:secret@127.0.0.1:1/share"])
        .output()
        .unwrap();
    assert_eq!(code(&o), USAGE);
    assert!(!stderr(&o).contains("secret"), "{}", stderr(&o));
    let o = smbkit()
        .args(["-U", "alice%secret", "ls", "//127.0.0.1/share"])
        .output()
        .unwrap();
    assert_eq!(code(&o), USAGE);
}

#[test]
fn encryption_required_is_refused_clearly_by_a_server_that_cannot() {
    let srv = server(Profile::Smb21Max);
    let o = run(&srv, &["--encryption", "required", "info", &url(&srv, "")]);
    assert_eq!(code(&o), UNSUPPORTED);
    let err = stderr(&o);
    assert!(err.contains("encryption is required"), "{err}");
    assert!(err.contains("SMB 3.0"), "{err}");
}

#[test]
fn encrypted_share_and_encryption_required() {
    let srv = server(Profile::Modern);
    let out = ok(&srv, &["--encryption", "required", "info", &url(&srv, "")]);
    assert!(
        out.contains("encryption:              on (whole session)"),
        "{out}"
    );
    assert!(out.contains("cipher:                  AES-"), "{out}");
    let out = ok(
        &srv,
        &[
            "--encryption",
            "required",
            "--cipher",
            "aes-256-ccm",
            "info",
            &url(&srv, ""),
        ],
    );
    assert!(
        out.contains("cipher:                  AES-256-CCM"),
        "{out}"
    );
    // The share that requires encryption works with the default too.
    let local = srv.encrypted_path().join("hello.txt");
    std::fs::write(&local, b"encrypted hello\n").unwrap();
    srv.chown_to_user(&local).unwrap();
    let out = ok(&srv, &["cat", &url(&srv, "encrypted/hello.txt")]);
    assert_eq!(out, "encrypted hello\n");
}

// ---------------------------------------------------------------------------
// Connection commands
// ---------------------------------------------------------------------------

#[test]
fn info_shows_what_was_negotiated() {
    let srv = server(Profile::Modern);
    let out = ok(&srv, &["info", &url(&srv, "")]);
    for want in [
        "dialect:                 SMB 3.1.1",
        "signing:                 off",
        "encryption:              off",
        "cipher:",
        "max read size:",
        "max write size:",
        "max transact size:",
        "server guid:",
        "server time:",
        "session:                 authenticated",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let out = ok(&srv, &["--signing", "supported", "info", &url(&srv, "")]);
    assert!(
        out.contains("signing:                 on (AES-128-"),
        "{out}"
    );
    // NetBIOS framing on the same port: 3.1.1 is not offered there.
    let port = srv.port().to_string();
    let out = ok(
        &srv,
        &[
            "--netbios",
            "--port",
            &port,
            "info",
            &format!("smb://{}@{}", srv.user(), srv.host()),
        ],
    );
    assert!(out.contains("SMB 3.0.2"), "{out}");
    assert!(out.contains("NetBIOS session service"), "{out}");
}

#[test]
fn echo_reports_round_trips() {
    let srv = server(Profile::Modern);
    let out = ok(&srv, &["echo", "-c", "3", &url(&srv, "")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (i, l) in lines[..3].iter().enumerate() {
        assert!(l.starts_with(&format!("echo seq={i} time=")), "{l}");
        assert!(l.ends_with(" ms"), "{l}");
    }
    assert!(lines[3].starts_with("3 echoes, min/avg/max = "), "{out}");
}

#[test]
fn shares_as_a_table_and_as_json() {
    let srv = server(Profile::Modern);
    let out = ok(&srv, &["shares", &url(&srv, "")]);
    for share in ["share", "readonly", "snapshots", "IPC$"] {
        assert!(
            out.lines().any(|l| l.starts_with(share)),
            "{share} missing:\n{out}"
        );
    }
    let v: Value = serde_json::from_str(&ok(&srv, &["shares", "--json", &url(&srv, "")])).unwrap();
    let list = v.as_array().unwrap();
    let share = list.iter().find(|s| s["name"] == "share").unwrap();
    assert_eq!(share["type"], "disk");
    assert_eq!(share["special"], false);
    let ipc = list.iter().find(|s| s["name"] == "IPC$").unwrap();
    assert_eq!(ipc["type"], "ipc");
    assert_eq!(ipc["special"], true);
}

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

#[test]
fn ls_short_long_json_wildcards_and_hidden_files() {
    let srv = server(Profile::Modern);
    put_local(&srv, "docs/a.txt", b"12345");
    put_local(&srv, "docs/b.log", &content(70_000, 1));
    put_local(&srv, "docs/.secret", b"x");
    std::fs::create_dir_all(srv.share_path().join("docs/sub")).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();

    let out = ok(&srv, &["ls", &url(&srv, "share/docs")]);
    assert_eq!(out, "a.txt\nb.log\nsub/\n");
    let out = ok(&srv, &["ls", "-a", &url(&srv, "share/docs")]);
    assert!(out.contains(".secret\n"), "{out}");

    let out = ok(&srv, &["ls", "-l", &url(&srv, "share/docs")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with('-') && lines[0].ends_with(" a.txt"),
        "{out}"
    );
    assert!(lines[0].contains("     5 "), "{out}");
    assert!(lines[1].contains(" 70000 "), "{out}");
    assert!(
        lines[2].starts_with('d') && lines[2].ends_with(" sub/"),
        "{out}"
    );

    let v: Value =
        serde_json::from_str(&ok(&srv, &["ls", "--json", &url(&srv, "share/docs")])).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["name"], "a.txt");
    assert_eq!(list[0]["path"], "docs/a.txt");
    assert_eq!(list[0]["type"], "file");
    assert_eq!(list[0]["size"], 5);
    assert_eq!(list[1]["size"], 70_000);
    assert_eq!(list[2]["type"], "directory");
    assert!(list[2]["attributes"]
        .as_array()
        .unwrap()
        .contains(&Value::from("DIRECTORY")));
    let modified = list[0]["modified"].as_str().unwrap();
    assert!(
        modified.len() == 20 && modified.ends_with('Z') && &modified[10..11] == "T",
        "{modified}"
    );

    let out = ok(&srv, &["ls", &url(&srv, "share/docs/*.txt")]);
    assert_eq!(out, "a.txt\n");
    let err = fails(&srv, &["ls", &url(&srv, "share/docs/*.none")], NOT_FOUND);
    assert!(err.contains("nothing matches"), "{err}");
    // A file lists as itself.
    let out = ok(&srv, &["ls", "-l", &url(&srv, "share/docs/b.log")]);
    assert!(out.trim_end().ends_with(" b.log"), "{out}");
    // The UNC form, with the user from -U.
    let port = srv.port().to_string();
    let o = smbkit()
        .env("SMBKIT_PASSWORD", srv.password())
        .args([
            "--port",
            &port,
            "-U",
            srv.user(),
            "ls",
            "\\\\127.0.0.1\\share\\docs",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "a.txt\nb.log\nsub/\n");
}

#[test]
fn stat_in_text_and_json() {
    let srv = server(Profile::Modern);
    put_local(&srv, "f.bin", &content(1234, 2));
    let out = ok(&srv, &["stat", &url(&srv, "share/f.bin")]);
    assert!(out.contains("name:       f.bin"), "{out}");
    assert!(out.contains("type:       file"), "{out}");
    assert!(out.contains("size:       1234 "), "{out}");
    assert!(out.contains("modified:   20"), "{out}");
    let v: Value =
        serde_json::from_str(&ok(&srv, &["stat", "--json", &url(&srv, "share/f.bin")])).unwrap();
    assert_eq!(v["size"], 1234);
    assert_eq!(v["type"], "file");
    let v: Value =
        serde_json::from_str(&ok(&srv, &["stat", "--json", &url(&srv, "share")])).unwrap();
    assert_eq!(v["type"], "directory");
}

// ---------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------

#[test]
fn put_get_and_cat_a_file() {
    let srv = server(Profile::Modern);
    let tmp = TempDir::new();
    let data = content(3 * 1024 * 1024 + 17, 3);
    std::fs::write(tmp.join("big.bin"), &data).unwrap();
    // Into an existing folder (the share's root) under its own name.
    let o = run(&srv, &["put", &tmp.str("big.bin"), &url(&srv, "share/")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "put writes nothing to stdout");
    assert!(
        !stderr(&o).contains('\r') && !stderr(&o).contains('\x1b'),
        "no progress bar when stdout is not a terminal: {:?}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(srv.share_path().join("big.bin")).unwrap(),
        data
    );
    // Under another name.
    ok(
        &srv,
        &["put", &tmp.str("big.bin"), &url(&srv, "share/copy.bin")],
    );
    assert_eq!(
        std::fs::read(srv.share_path().join("copy.bin")).unwrap(),
        data
    );

    ok(
        &srv,
        &["get", &url(&srv, "share/copy.bin"), &tmp.str("back.bin")],
    );
    assert_eq!(std::fs::read(tmp.join("back.bin")).unwrap(), data);
    // Into a folder, and to stdout.
    std::fs::create_dir(tmp.join("into")).unwrap();
    ok(
        &srv,
        &["get", &url(&srv, "share/copy.bin"), &tmp.str("into")],
    );
    assert_eq!(std::fs::read(tmp.join("into/copy.bin")).unwrap(), data);
    let o = run(&srv, &["get", &url(&srv, "share/copy.bin"), "-"]);
    assert_eq!(o.stdout, data);
    let o = run(&srv, &["cat", &url(&srv, "share/copy.bin")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, data);
    // --quiet: nothing on stderr.
    let o = run(
        &srv,
        &["-q", "get", &url(&srv, "share/copy.bin"), &tmp.str("q.bin")],
    );
    assert_eq!(code(&o), 0);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    // Standard input.
    let mut child = smbkit()
        .env("SMBKIT_PASSWORD", srv.password())
        .args(["put", "-", &url(&srv, "share/stdin.txt")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"from a pipe\n").unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(srv.share_path().join("stdin.txt")).unwrap(),
        b"from a pipe\n"
    );
}

#[test]
fn get_byte_ranges_and_resume() {
    let srv = server(Profile::Modern);
    let tmp = TempDir::new();
    let data = content(2 * 1024 * 1024 + 5, 4);
    put_local(&srv, "r.bin", &data);
    let u = url(&srv, "share/r.bin");

    let o = run(
        &srv,
        &["get", "--offset", "1000", "--length", "5000", &u, "-"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, &data[1000..6000]);
    let o = run(&srv, &["get", "--offset", "2097150", &u, "-"]);
    assert_eq!(o.stdout, &data[2_097_150..]);
    fails(&srv, &["get", "--offset", "99999999", &u, "-"], USAGE);

    // A partial download is completed, not restarted.
    let part = tmp.join("r.bin");
    std::fs::write(&part, &data[..777_777]).unwrap();
    let err = stderr(&run(&srv, &["get", "-c", &u, &tmp.str("r.bin")]));
    assert!(err.contains("resumed at byte 777777"), "{err}");
    assert_eq!(std::fs::read(&part).unwrap(), data);
    // A complete one is left alone.
    let err = stderr(&run(&srv, &["get", "-c", &u, &tmp.str("r.bin")]));
    assert!(err.contains("complete already"), "{err}");
    assert_eq!(std::fs::read(&part).unwrap(), data);
    // One longer than the remote file is no partial copy.
    std::fs::write(&part, content(data.len() + 1, 9)).unwrap();
    let err = fails(&srv, &["get", "-c", &u, &tmp.str("r.bin")], 1);
    assert!(err.contains("not a partial copy"), "{err}");
}

#[test]
fn recursive_put_and_get_of_a_unicode_tree_match_by_hash() {
    let srv = server(Profile::Modern);
    let tmp = TempDir::new();
    let src = tmp.join("Ünïcödé 树");
    let files: &[(&str, usize)] = &[
        ("naïve.txt", 10),
        ("日本語/データ.bin", 1_500_000),
        ("日本語/空/.keep", 0),
        ("emoji 🎉/größe.bin", 300_000),
        ("emoji 🎉/sub dir/ça va.txt", 65_537),
        ("a/b/c/d/deep.bin", 4096),
        ("many/one.bin", 1),
        ("many/two.bin", 2),
        ("many/three.bin", 3),
        ("many/four.bin", 1 << 20),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let p = src.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content(*len, i as u32 + 10)).unwrap();
    }
    std::fs::create_dir_all(src.join("empty folder")).unwrap();
    let want = tree_hashes(&src);

    // Into the share's root: creates share/Ünïcödé 树/…
    let o = run(
        &srv,
        &[
            "put",
            "-r",
            "-j",
            "3",
            src.to_str().unwrap(),
            &url(&srv, "share"),
        ],
    );
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), srv.log_tail(30));
    assert!(stderr(&o).contains("put 10 files"), "{}", stderr(&o));
    assert_eq!(tree_hashes(&srv.share_path().join("Ünïcödé 树")), want);

    // Putting it again lands in the same place.
    ok(
        &srv,
        &["put", "-r", src.to_str().unwrap(), &url(&srv, "share/")],
    );
    let mut top: Vec<String> = std::fs::read_dir(srv.share_path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["Ünïcödé 树"]);
    // REMOTE without a slash names the copy.
    ok(
        &srv,
        &["put", "-r", src.to_str().unwrap(), &url(&srv, "share/copy")],
    );
    assert_eq!(tree_hashes(&srv.share_path().join("copy")), want);

    // LOCAL names the copy; again, it lands in the same place.
    let tree = url(&srv, "share/Ünïcödé 树");
    let back = tmp.join("back");
    for _ in 0..2 {
        let o = run(&srv, &["get", "-r", &tree, back.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stderr(&o).contains("got 10 files"), "{}", stderr(&o));
        assert_eq!(tree_hashes(&back), want);
    }
    // LOCAL/ receives it under its own name.
    let into = format!("{}/", tmp.str("into"));
    ok(&srv, &["get", "-r", "-j", "1", &tree, &into]);
    assert_eq!(tree_hashes(&tmp.join("into/Ünïcödé 树")), want);

    // Resuming a tree fetches only what is missing or short.
    std::fs::remove_file(back.join("many/two.bin")).unwrap();
    let short = back.join("日本語/データ.bin");
    let full = std::fs::read(&short).unwrap();
    std::fs::write(&short, &full[..1000]).unwrap();
    let o = run(&srv, &["get", "-r", "-c", &tree, back.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("got 2 files"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(8 complete already)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree_hashes(&back), want);

    // Wildcards pick files of one folder.
    let picked = tmp.join("picked");
    ok(
        &srv,
        &[
            "get",
            &url(&srv, "share/Ünïcödé 树/many/t*.bin"),
            picked.to_str().unwrap(),
        ],
    );
    let mut names: Vec<String> = std::fs::read_dir(&picked)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["three.bin", "two.bin"]);
}

// ---------------------------------------------------------------------------
// Lost connections
// ---------------------------------------------------------------------------

/// The size of the large transfers over a cut connection.
const BIG: usize = 64 << 20;

/// Samba with durable handles, which reconnected transfers take back.
/// Writes are synchronous (`aio write size = 0`): with asynchronous ones,
/// Samba may find the file changed since the disconnect and refuse the
/// handle of an upload back.
fn durable_server(profile: Profile) -> TestServer {
    let extra = ExtraConfig {
        global: "durable handles = yes\n\
                 kernel oplocks = no\n\
                 kernel share modes = no\n\
                 posix locking = no\n\
                 smb2 leases = yes\n\
                 aio write size = 0"
            .into(),
        sections: String::new(),
    };
    TestServer::start_with(profile, extra)
        .expect("start the test Samba server (run scripts/install-deps)")
}

/// `smb://user@127.0.0.1:port/rest` through the proxy.
fn proxied(srv: &TestServer, proxy: &FaultProxy, rest: &str) -> String {
    format!("smb://{}@127.0.0.1:{}/{rest}", srv.user(), proxy.port())
}

/// Where two byte strings first differ, for failure messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    if a.len() != b.len() {
        return format!("{} bytes instead of {}", a.len(), b.len());
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("first difference at byte {i}"),
        None => "equal".into(),
    }
}

/// Stderr told of the loss and of the reconnect.
#[track_caller]
fn told_of_reconnect(o: &Output) {
    let err = stderr(o);
    assert!(
        err.contains("connection lost; reconnecting") && err.contains("reconnected"),
        "{err}"
    );
}

#[test]
fn get_survives_a_cut_connection_unless_told_not_to_retry() {
    let srv = durable_server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    let data = content(BIG, 81);
    put_local(&srv, "big.bin", &data);
    let tmp = TempDir::new();
    let u = proxied(&srv, &proxy, "share/big.bin");

    proxy.cut_when_to_client(proxy.bytes_to_client() + (BIG / 2) as u64);
    let before = proxy.connections();
    let o = run(&srv, &["get", &u, &tmp.str("big.bin")]);
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), srv.log_tail(20));
    told_of_reconnect(&o);
    assert!(
        proxy.connections() >= before + 2,
        "the proxy saw no second connection"
    );
    let got = std::fs::read(tmp.join("big.bin")).unwrap();
    assert!(got == data, "{}", first_difference(&got, &data));

    // To standard output too.
    proxy.cut_when_to_client(proxy.bytes_to_client() + (BIG / 3) as u64);
    let o = run(&srv, &["get", &u, "-"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    told_of_reconnect(&o);
    assert!(o.stdout == data, "{}", first_difference(&o.stdout, &data));

    proxy.cut_when_to_client(proxy.bytes_to_client() + (BIG / 2) as u64);
    let err = fails(
        &srv,
        &["get", "--no-retry", &u, &tmp.str("again.bin")],
        NETWORK,
    );
    assert!(!err.contains("reconnecting"), "{err}");
    assert!(err.contains("the connection was lost"), "{err}");
    proxy.cut_when_to_client(proxy.bytes_to_client() + (BIG / 2) as u64);
    fails(
        &srv,
        &["get", "--retries", "0", &u, &tmp.str("again.bin")],
        NETWORK,
    );
}

#[test]
fn put_survives_a_cut_connection_unless_told_not_to_retry() {
    let srv = durable_server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    let data = content(BIG, 82);
    let tmp = TempDir::new();
    std::fs::write(tmp.join("up.bin"), &data).unwrap();
    let local = tmp.str("up.bin");

    proxy.cut_when_to_server(proxy.bytes_to_server() + (BIG / 2) as u64);
    let before = proxy.connections();
    let o = run(
        &srv,
        &["put", &local, &proxied(&srv, &proxy, "share/up.bin")],
    );
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), srv.log_tail(20));
    told_of_reconnect(&o);
    assert!(proxy.connections() >= before + 2);
    let on_disk = std::fs::read(srv.share_path().join("up.bin")).unwrap();
    assert!(on_disk == data, "{}", first_difference(&on_disk, &data));

    // --quiet: the reconnect is not told.
    proxy.cut_when_to_server(proxy.bytes_to_server() + (BIG / 4) as u64);
    let o = run(
        &srv,
        &[
            "-q",
            "put",
            &local,
            &proxied(&srv, &proxy, "share/quiet.bin"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    let on_disk = std::fs::read(srv.share_path().join("quiet.bin")).unwrap();
    assert!(on_disk == data, "{}", first_difference(&on_disk, &data));

    proxy.cut_when_to_server(proxy.bytes_to_server() + (BIG / 2) as u64);
    let err = fails(
        &srv,
        &[
            "put",
            "--no-retry",
            &local,
            &proxied(&srv, &proxy, "share/again.bin"),
        ],
        NETWORK,
    );
    assert!(!err.contains("reconnecting"), "{err}");
    assert!(err.contains("the connection was lost"), "{err}");
}

/// A tree of files of several sizes, `total` bytes in all.
fn reconnect_tree(root: &Path) -> usize {
    let files: &[(&str, usize)] = &[
        ("a.bin", 3 << 20),
        ("b.bin", 5 << 20),
        ("empty.bin", 0),
        ("one.txt", 1),
        ("sub/c.bin", 4 << 20),
        ("sub/d.txt", 10_000),
        ("sub/deeper/e.bin", 2 << 20),
        ("sub/deeper/f.bin", (1 << 20) + 3),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content(*len, i as u32 + 90)).unwrap();
    }
    files.iter().map(|(_, len)| len).sum()
}

#[test]
fn recursive_get_survives_a_cut_connection() {
    let srv = durable_server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    let total = reconnect_tree(&srv.share_path().join("tree"));
    srv.chown_to_user(srv.share_path()).unwrap();
    let want = tree_hashes(&srv.share_path().join("tree"));
    let tmp = TempDir::new();
    let tree = proxied(&srv, &proxy, "share/tree");

    proxy.cut_when_to_client(proxy.bytes_to_client() + (total / 2) as u64);
    let back = tmp.join("back");
    let o = run(&srv, &["get", "-r", &tree, back.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), srv.log_tail(20));
    told_of_reconnect(&o);
    assert!(stderr(&o).contains("got 8 files"), "{}", stderr(&o));
    assert_eq!(tree_hashes(&back), want);

    // Without retries, one file at a time: the file in flight fails, and
    // the ones after it are left alone.
    proxy.cut_when_to_client(proxy.bytes_to_client() + (total / 2) as u64);
    let err = fails(
        &srv,
        &[
            "get",
            "-r",
            "-j",
            "1",
            "--no-retry",
            &tree,
            tmp.str("again").as_str(),
        ],
        NETWORK,
    );
    assert!(err.contains("more files were not transferred"), "{err}");
}

#[test]
fn recursive_put_survives_a_cut_connection() {
    let srv = durable_server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    let tmp = TempDir::new();
    let src = tmp.join("tree");
    let total = reconnect_tree(&src);
    let want = tree_hashes(&src);

    proxy.cut_when_to_server(proxy.bytes_to_server() + (total / 2) as u64);
    let o = run(
        &srv,
        &[
            "put",
            "-r",
            src.to_str().unwrap(),
            &proxied(&srv, &proxy, "share/up"),
        ],
    );
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), srv.log_tail(20));
    told_of_reconnect(&o);
    assert_eq!(tree_hashes(&srv.share_path().join("up")), want);
}

/// SMB1 has no durable handles: the download fails with the network
/// code, naming the file, and the partial copy can be completed with -c.
#[test]
fn a_download_that_cannot_resume_is_a_network_error_naming_the_file() {
    let srv = server(Profile::Smb1Only);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    let data = content(16 << 20, 83);
    put_local(&srv, "old.bin", &data);
    let tmp = TempDir::new();
    let u = proxied(&srv, &proxy, "share/old.bin");

    proxy.cut_when_to_client(proxy.bytes_to_client() + (8 << 20));
    let err = fails(&srv, &["get", &u, &tmp.str("old.bin")], NETWORK);
    assert!(err.contains("old.bin"), "{err}");
    assert!(err.contains("SMB1 has no durable handles"), "{err}");
    assert!(err.contains("get -c"), "{err}");
    let o = run(&srv, &["get", "-c", &u, &tmp.str("old.bin")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(tmp.join("old.bin")).unwrap(), data);
}

/// Every attempt to reconnect fails: the network code, after the
/// attempts asked for.
#[test]
fn a_server_gone_for_good_is_a_network_error_after_the_retries() {
    let mut srv = durable_server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    let data = content(BIG, 84);
    put_local(&srv, "big.bin", &data);
    let tmp = TempDir::new();
    let child = smbkit()
        .env("SMBKIT_PASSWORD", srv.password())
        .args([
            "get",
            "--retries",
            "2",
            &proxied(&srv, &proxy, "share/big.bin"),
            &tmp.str("big.bin"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while proxy.bytes_to_client() < (BIG / 4) as u64 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the download does not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    srv.kill();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), NETWORK, "{err}");
    assert!(err.contains("2 attempts"), "{err}");
    assert!(err.contains("connection lost; reconnecting"), "{err}");
}

/// A tree download whose server goes away for good stops at the first
/// file that cannot reconnect, instead of trying again for each file.
#[test]
fn a_tree_download_stops_once_the_server_is_gone_for_good() {
    let mut srv = durable_server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).unwrap();
    for i in 0..8 {
        put_local(&srv, &format!("t/{i}.bin"), &content(4 << 20, 85 + i));
    }
    let tmp = TempDir::new();
    let child = smbkit()
        .env("SMBKIT_PASSWORD", srv.password())
        .args([
            "get",
            "-r",
            "--retries",
            "2",
            &proxied(&srv, &proxy, "share/t"),
            &tmp.str("t"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while proxy.bytes_to_client() < 8 << 20 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the download does not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    srv.kill();
    let killed = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), NETWORK, "{err}");
    assert!(err.contains("2 attempts"), "{err}");
    assert!(err.contains("more files were not transferred"), "{err}");
    assert!(
        killed.elapsed() < std::time::Duration::from_secs(10),
        "{:?} after the server went away",
        killed.elapsed()
    );
}

// ---------------------------------------------------------------------------
// File operations
// ---------------------------------------------------------------------------

#[test]
fn mkdir_rmdir_rm_and_mv() {
    let srv = server(Profile::Modern);
    let root = srv.share_path().to_path_buf();

    ok(&srv, &["mkdir", &url(&srv, "share/one")]);
    assert!(root.join("one").is_dir());
    let err = fails(&srv, &["mkdir", &url(&srv, "share/one")], 1);
    assert!(err.contains("hint:"), "{err}");
    fails(&srv, &["mkdir", &url(&srv, "share/x/y/z")], NOT_FOUND);
    ok(&srv, &["mkdir", "-p", &url(&srv, "share/x/y/z")]);
    ok(&srv, &["mkdir", "-p", &url(&srv, "share/x/y/z")]);
    assert!(root.join("x/y/z").is_dir());

    let err = fails(&srv, &["rmdir", &url(&srv, "share/x")], 1);
    assert!(err.contains("rm -r"), "{err}");
    ok(&srv, &["rmdir", &url(&srv, "share/x/y/z")]);
    assert!(!root.join("x/y/z").exists());

    for name in ["a.tmp", "b.tmp", "keep.txt", "x/y/in.tmp"] {
        put_local(&srv, name, b"data");
    }
    ok(&srv, &["rm", &url(&srv, "share/*.tmp")]);
    assert!(!root.join("a.tmp").exists() && !root.join("b.tmp").exists());
    assert!(root.join("keep.txt").exists());
    let err = fails(&srv, &["rm", &url(&srv, "share/*.tmp")], NOT_FOUND);
    assert!(err.contains("nothing matches"), "{err}");
    let err = fails(&srv, &["rm", &url(&srv, "share/x")], USAGE);
    assert!(err.contains("rm -r"), "{err}");
    ok(&srv, &["rm", "-r", &url(&srv, "share/x")]);
    assert!(!root.join("x").exists());
    ok(&srv, &["rm", &url(&srv, "share/keep.txt")]);
    assert!(!root.join("keep.txt").exists());

    put_local(&srv, "old.txt", b"moved");
    ok(&srv, &["mv", &url(&srv, "share/old.txt"), "new.txt"]);
    assert_eq!(std::fs::read(root.join("new.txt")).unwrap(), b"moved");
    // Into an existing folder.
    ok(&srv, &["mv", &url(&srv, "share/new.txt"), "/one"]);
    assert!(root.join("one/new.txt").exists());
    // A full target on the same share; a folder moves too.
    ok(
        &srv,
        &["mv", &url(&srv, "share/one"), &url(&srv, "share/two")],
    );
    assert!(root.join("two/new.txt").exists());
    fails(
        &srv,
        &["mv", &url(&srv, "share/two"), &url(&srv, "readonly/two")],
        USAGE,
    );
    fails(&srv, &["mv", &url(&srv, "share/missing"), "x"], NOT_FOUND);
}

#[test]
fn snapshots_are_listed() {
    let srv = server(Profile::Modern);
    let out = ok(&srv, &["snapshots", &url(&srv, "snapshots")]);
    let tokens: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(tokens, SNAPSHOTS, "{out}");
    assert!(out.starts_with("2024-06-30 12:30:00 UTC"), "{out}");
    let v: Value =
        serde_json::from_str(&ok(&srv, &["snapshots", "--json", &url(&srv, "snapshots")])).unwrap();
    assert_eq!(v[0]["time"], "2024-06-30T12:30:00Z");
    assert_eq!(v[1]["token"], SNAPSHOTS[1]);
    fails(&srv, &["snapshots", &url(&srv, "share")], UNSUPPORTED);
}

#[test]
fn security_shows_owner_group_and_acl() {
    let srv = server(Profile::Modern);
    put_local(&srv, "s.txt", b"x");
    let out = ok(&srv, &["security", &url(&srv, "share/s.txt")]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("owner: S-1-"), "{out}");
    assert!(lines[1].starts_with("group: S-1-"), "{out}");
    assert_eq!(lines[2], "dacl:", "{out}");
    assert!(
        lines[3..]
            .iter()
            .any(|l| l.contains("ALLOWED") && l.contains("(Everyone)")),
        "{out}"
    );
    assert!(lines[3..].iter().all(|l| l.contains(": ")), "{out}");
}

// ---------------------------------------------------------------------------
// Failures and their exit codes
// ---------------------------------------------------------------------------

#[test]
fn wrong_password_is_an_authentication_failure() {
    let srv = server(Profile::Modern);
    for args in [
        vec!["ls".to_string(), url(&srv, "share")],
        vec!["info".to_string(), url(&srv, "")],
    ] {
        let o = smbkit()
            .env("SMBKIT_PASSWORD", "not-the-password")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(code(&o), AUTH, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("authentication failed"),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("not-the-password"));
    }
}

#[test]
fn missing_paths_are_not_found() {
    let srv = server(Profile::Modern);
    let tmp = TempDir::new();
    for args in [
        vec!["ls", "share/missing"],
        vec!["stat", "share/missing.txt"],
        vec!["cat", "share/missing.txt"],
        vec!["get", "share/missing.txt"],
        vec!["rm", "share/missing.txt"],
        vec!["rmdir", "share/missing"],
        vec!["security", "share/missing.txt"],
        vec!["ls", "nosuchshare"],
    ] {
        let u = url(&srv, args[1]);
        let err = fails(&srv, &[args[0], &u], NOT_FOUND);
        assert!(err.contains("hint:"), "{args:?}: {err}");
    }
    let err = fails(&srv, &["ls", &url(&srv, "nosuchshare")], NOT_FOUND);
    assert!(err.contains("smbkit shares"), "{err}");
    // Local sources too.
    fails(
        &srv,
        &["put", &tmp.str("nothing-here"), &url(&srv, "share/")],
        NOT_FOUND,
    );
}

#[test]
fn paths_too_long_for_the_protocol_are_usage_errors_naming_the_limit() {
    let srv = server(Profile::Modern);
    let long = "x".repeat(40_000);
    for (command, rest) in [
        ("stat", format!("share/{long}")),
        ("ls", format!("share/{long}")),
        ("cat", format!("share/{long}")),
        ("rm", format!("share/{long}")),
    ] {
        let err = fails(&srv, &[command, &url(&srv, &rest)], USAGE);
        assert!(
            err.contains("80000 bytes in UTF-16, the limit is 65535"),
            "{command}: {err}"
        );
        assert!(!err.contains("panicked"), "{command}: {err}");
        assert!(
            err.len() < 400,
            "{command}: the message repeats the path: {err}"
        );
    }
    let err = fails(&srv, &["ls", &url(&srv, &"s".repeat(40_000))], USAGE);
    assert!(err.contains("the limit is 80"), "{err}");
}

#[test]
fn read_only_share_denies_writes() {
    let srv = server(Profile::Modern);
    let tmp = TempDir::new();
    std::fs::write(tmp.join("f.txt"), b"x").unwrap();
    let err = fails(
        &srv,
        &["put", &tmp.str("f.txt"), &url(&srv, "readonly/f.txt")],
        ACCESS_DENIED,
    );
    assert!(err.contains("access denied"), "{err}");
    fails(
        &srv,
        &["rm", &url(&srv, "readonly/hello.txt")],
        ACCESS_DENIED,
    );
    // Reading works.
    let o = run(&srv, &["cat", &url(&srv, "readonly/hello.txt")]);
    assert_eq!(o.stdout, smbkit_testserver::HELLO_CONTENT);
}

#[test]
fn stopped_and_paused_servers_are_network_errors_and_timeouts() {
    let mut srv = server(Profile::Modern);
    srv.pause();
    let start = std::time::Instant::now();
    let err = fails(&srv, &["--timeout", "1", "info", &url(&srv, "")], TIMEOUT);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert!(err.contains("--timeout"), "{err}");
    srv.resume();
    srv.kill();
    let err = fails(&srv, &["info", &url(&srv, "")], NETWORK);
    assert!(err.contains("port"), "{err}");
}

#[test]
fn smb1_servers_work_too() {
    let srv = server(Profile::Smb1Only);
    for args in [&["info"][..], &["--smb1", "info"][..]] {
        let mut a = args.to_vec();
        let u = url(&srv, "");
        a.push(&u);
        let o = run(&srv, &a);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("NT LM 0.12"), "{out}");
    }
    // File operations work over SMB1 too.
    put_local(&srv, "over-smb1.txt", b"smb1");
    let o = run(&srv, &["ls", &url(&srv, "share")]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("over-smb1.txt"), "{}", stdout(&o));
    let o = run(&srv, &["cat", &url(&srv, "share/over-smb1.txt")]);
    assert_eq!(o.stdout, b"smb1");
}

// ---------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------

#[test]
fn credentials_file_supplies_user_and_password() {
    let srv = server(Profile::Modern);
    put_local(&srv, "c.txt", b"creds");
    let tmp = TempDir::new();
    let creds = tmp.join("creds");
    std::fs::write(
        &creds,
        format!(
            "# smbclient -A format\nusername = {}\npassword = {}\ndomain = {}\n",
            srv.user(),
            srv.password(),
            srv.domain()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let port = srv.port().to_string();
    let o = smbkit()
        .args([
            "-A",
            creds.to_str().unwrap(),
            "--port",
            &port,
            "cat",
            "//127.0.0.1/share/c.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"creds");
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn no_password_and_no_terminal_is_a_usage_error() {
    let srv = server(Profile::Modern);
    let o = smbkit()
        .args(["ls", &url(&srv, "share")])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(code(&o), USAGE, "{}", stderr(&o));
    assert!(stderr(&o).contains("SMBKIT_PASSWORD"), "{}", stderr(&o));
}

#[test]
fn password_prompt_on_a_terminal_does_not_echo() {
    let srv = server(Profile::Modern);
    put_local(&srv, "prompted.txt", b"x");

    // rexpect turns echo off before starting the program; `stty echo`
    // turns it back on, so a password would show if smbkit did not hide it.
    // First, prove that typed text does show on this terminal.
    let mut control = Command::new("sh");
    control.args(["-c", "stty echo; echo ready; read line; echo got-it"]);
    let mut p = rexpect::session::spawn_command(control, Some(20_000)).unwrap();
    p.exp_string("ready").unwrap();
    p.send_line("visible-typing").unwrap();
    let seen = p.exp_eof().unwrap();
    assert!(seen.contains("visible-typing"), "{seen:?}");

    let script = format!(
        "stty echo; exec '{}' ls '{}'",
        env!("CARGO_BIN_EXE_smbkit"),
        url(&srv, "share")
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).env_remove("SMBKIT_PASSWORD");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let before = p
        .exp_string(&format!("Password for {} on 127.0.0.1: ", srv.user()))
        .unwrap();
    // The prompt is written just before echo is switched off (rpassword's
    // order); a person types later than that, and so does this test.
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.send_line(srv.password()).unwrap();
    let after = p.exp_eof().unwrap();
    assert!(!before.contains(srv.password()));
    assert!(
        !after.contains(srv.password()),
        "the password was echoed: {after:?}"
    );
    assert!(after.contains("prompted.txt"), "{after:?}");
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, 0) => {}
        other => panic!("smbkit ended with {other:?}: {after:?}"),
    }
}

// ---------------------------------------------------------------------------
// cp
// ---------------------------------------------------------------------------

#[test]
fn cp_has_help_with_an_example() {
    let o = smbkit().arg("--help").output().unwrap();
    assert!(stdout(&o).contains("cp "), "{}", stdout(&o));
    let o = smbkit().args(["cp", "--help"]).output().unwrap();
    assert_eq!(code(&o), 0);
    let help = stdout(&o);
    assert!(
        help.contains("Example") && help.contains("smbkit cp ") && help.contains("server"),
        "{help}"
    );
    // Both ends must name a share; checked before connecting.
    let o = smbkit()
        .args(["cp", "smb://u@127.0.0.1:1/s/f", "smb://u@127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(code(&o), USAGE, "{}", stderr(&o));
    assert!(stderr(&o).contains("names no share"), "{}", stderr(&o));
}

#[test]
fn cp_on_one_server_is_done_by_the_server() {
    let srv = server(Profile::Modern);
    let data = content(20 * 1024 * 1024 + 3, 40);
    put_local(&srv, "docs/big.bin", &data);
    std::fs::create_dir_all(srv.share_path().join("archive")).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();

    // Into a folder, under its own name.
    let o = run(
        &srv,
        &[
            "cp",
            &url(&srv, "share/docs/big.bin"),
            &url(&srv, "share/archive/"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("copied by the server"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read(srv.share_path().join("archive/big.bin")).unwrap() == data);
    // To a name, in another share; onto an existing file.
    put_local(&srv, "docs/old.bin", &content(50 * 1024 * 1024, 41));
    for dest in ["snapshots/big-copy.bin", "share/docs/old.bin"] {
        let out = run(
            &srv,
            &["cp", &url(&srv, "share/docs/big.bin"), &url(&srv, dest)],
        );
        assert_eq!(code(&out), 0, "{dest}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("copied by the server"),
            "{}",
            stderr(&out)
        );
    }
    assert!(std::fs::read(srv.snapshots_path().join("big-copy.bin")).unwrap() == data);
    assert!(std::fs::read(srv.share_path().join("docs/old.bin")).unwrap() == data);

    // A tree, into the share's root and to a name.
    let files: &[(&str, usize)] = &[
        ("tree/naïve.txt", 10),
        ("tree/日本語/データ.bin", 1_500_000),
        ("tree/日本語/空/.keep", 0),
        ("tree/a/b/c/deep.bin", 4096),
        ("tree/many/one.bin", 1),
        ("tree/many/two.bin", 2 * 1024 * 1024 + 1),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        put_local(&srv, name, &content(*len, i as u32 + 50));
    }
    std::fs::create_dir_all(srv.share_path().join("tree/empty folder")).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();
    let want = tree_hashes(&srv.share_path().join("tree"));
    let o = run(
        &srv,
        &[
            "cp",
            "-r",
            &url(&srv, "share/tree"),
            &url(&srv, "snapshots"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("6 files"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("copied by the server"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree_hashes(&srv.snapshots_path().join("tree")), want);
    ok(
        &srv,
        &[
            "cp",
            "-r",
            "-j",
            "1",
            &url(&srv, "share/tree"),
            &url(&srv, "share/tree-copy"),
        ],
    );
    assert_eq!(tree_hashes(&srv.share_path().join("tree-copy")), want);
    // Again: lands in the same place.
    ok(
        &srv,
        &[
            "cp",
            "-r",
            &url(&srv, "share/tree"),
            &url(&srv, "share/tree-copy"),
        ],
    );
    assert_eq!(tree_hashes(&srv.share_path().join("tree-copy")), want);

    // Failures.
    let e = fails(
        &srv,
        &[
            "cp",
            &url(&srv, "share/missing.bin"),
            &url(&srv, "share/x.bin"),
        ],
        NOT_FOUND,
    );
    assert!(e.contains("missing.bin"), "{e}");
    let e = fails(
        &srv,
        &["cp", &url(&srv, "share/tree"), &url(&srv, "share/t2")],
        USAGE,
    );
    assert!(e.contains("-r"), "{e}");
    let e = fails(
        &srv,
        &[
            "cp",
            "-r",
            &url(&srv, "share/tree"),
            &url(&srv, "share/tree/inner"),
        ],
        USAGE,
    );
    assert!(e.contains("into itself"), "{e}");
    fails(
        &srv,
        &[
            "cp",
            &url(&srv, "share/docs/big.bin"),
            &url(&srv, "share/nowhere/"),
        ],
        NOT_FOUND,
    );
    fails(
        &srv,
        &[
            "cp",
            &url(&srv, "share/docs/big.bin"),
            &url(&srv, "share/no/dir/x.bin"),
        ],
        NOT_FOUND,
    );
    fails(
        &srv,
        &[
            "cp",
            &url(&srv, "share/docs/big.bin"),
            &url(&srv, "readonly/x.bin"),
        ],
        ACCESS_DENIED,
    );
    let left = srv
        .wait_until_no_open_files(std::time::Duration::from_secs(3))
        .unwrap();
    assert!(left.is_empty(), "still open: {left:#?}");
}

#[test]
fn cp_between_servers_and_over_smb1_is_streamed() {
    let a = server(Profile::Modern);
    let b = server(Profile::Smb1Only);
    let data = content(3 * 1024 * 1024 + 5, 60);
    put_local(&a, "f.bin", &data);
    put_local(&a, "t/x.bin", b"x");
    put_local(&a, "t/sub/y.bin", &data);
    let want = tree_hashes(&a.share_path().join("t"));
    // a → b: a file, then a tree.
    let o = run(&a, &["cp", &url(&a, "share/f.bin"), &url(&b, "share/")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("streamed through smbkit"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read(b.share_path().join("f.bin")).unwrap() == data);
    ok(&a, &["cp", "-r", &url(&a, "share/t"), &url(&b, "share/t")]);
    assert_eq!(tree_hashes(&b.share_path().join("t")), want);
    // Within the SMB1 server: Samba does not copy by itself over SMB1.
    let o = run(
        &b,
        &["cp", &url(&b, "share/f.bin"), &url(&b, "share/g.bin")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("streamed through smbkit"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read(b.share_path().join("g.bin")).unwrap() == data);
}
