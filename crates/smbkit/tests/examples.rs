//! The examples under `examples/`, run against real Samba: each does its
//! job. They must be built as programs first (`cargo build --examples`,
//! which `scripts/test` does).

use std::path::PathBuf;
use std::process::{Command, Output};

use smbkit_testserver::{content, Profile, TestServer};

/// The built example `name`, next to this test's own binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/examples-<hash> → target/<profile>/examples/<name>
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build -p smbkit --examples` first (scripts/test does)",
        path.display()
    );
    path
}

fn run(srv: &TestServer, name: &str, args: &[&str]) -> Output {
    let out = Command::new(example(name))
        .args(args)
        .env("SMB_USER", srv.user())
        .env("SMB_PASSWORD", srv.password())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn url(srv: &TestServer, path: &str) -> String {
    format!("smb://{}@127.0.0.1:{}/share{path}", srv.user(), srv.port())
}

fn put(srv: &TestServer, rel: &str, data: &[u8]) {
    let p = srv.share_path().join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
        srv.chown_to_user(parent).unwrap();
    }
    std::fs::write(&p, data).unwrap();
    srv.chown_to_user(&p).unwrap();
}

#[test]
fn the_examples_do_their_jobs() {
    let srv = TestServer::start(Profile::Modern)
        .expect("start the test Samba server (run scripts/install-deps)");
    let big = content(3 << 20, 1);
    put(&srv, "tree/a.bin", &big);
    put(&srv, "tree/sub/b.txt", b"hello");
    put(&srv, "tree/sub/deeper/c.txt", b"world");

    // cat: the file on stdout.
    let out = run(&srv, "cat", &[&url(&srv, "/tree/a.bin")]);
    assert!(out.stdout == big, "cat printed {} bytes", out.stdout.len());

    // byte_range: a hex dump of the range.
    let out = run(&srv, "byte_range", &[&url(&srv, "/tree/a.bin"), "16", "32"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let want: Vec<String> = big[16..32].iter().map(|b| format!("{b:02x}")).collect();
    assert!(text.contains(&want.join(" ")), "{text}");
    assert!(
        text.contains(&format!("{} bytes long", big.len())),
        "{text}"
    );

    // download_tree: the whole tree, identical.
    let local = srv.dir().join("downloaded");
    run(
        &srv,
        "download_tree",
        &[&url(&srv, "/tree"), local.to_str().unwrap()],
    );
    assert!(std::fs::read(local.join("a.bin")).unwrap() == big);
    assert_eq!(std::fs::read(local.join("sub/b.txt")).unwrap(), b"hello");
    assert_eq!(
        std::fs::read(local.join("sub/deeper/c.txt")).unwrap(),
        b"world"
    );

    // upload_with_progress: the file arrives whole.
    let source = srv.dir().join("source.bin");
    std::fs::write(&source, &big).unwrap();
    let out = run(
        &srv,
        "upload_with_progress",
        &[source.to_str().unwrap(), &url(&srv, "/uploaded.bin")],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("bytes written"));
    assert!(std::fs::read(srv.share_path().join("uploaded.bin")).unwrap() == big);

    // seek_and_write: the bytes at the offset replaced, a line appended.
    put(&srv, "notes.txt", b"hello world\n");
    let out = run(
        &srv,
        "seek_and_write",
        &[&url(&srv, "/notes.txt"), "6", "WORLD"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("at 6: WORLD"), "{text}");
    assert_eq!(
        std::fs::read(srv.share_path().join("notes.txt")).unwrap(),
        b"hello WORLD\npatched by smbkit\n"
    );

    // many_files: every file of the folder.
    for i in 0..20 {
        put(&srv, &format!("many/f{i}"), &content(1000 + i, i as u32));
    }
    let out = run(&srv, "many_files", &[&url(&srv, "/many")]);
    let text = String::from_utf8_lossy(&out.stdout);
    let bytes: usize = (0..20).map(|i| 1000 + i).sum();
    assert!(text.contains(&format!("20 files, {bytes} bytes")), "{text}");

    // custom_stream: shares listed over a stream the example opened.
    let addr = format!("127.0.0.1:{}", srv.port());
    let out = run(&srv, "custom_stream", &[&addr, "SMBKITTEST"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("share ")), "{text}");

    // blocking: a listing and a download without async, into the current
    // folder.
    let cwd = srv.dir().join("blocking-cwd");
    std::fs::create_dir(&cwd).unwrap();
    let out = Command::new(example("blocking"))
        .args(["127.0.0.1", "share", "/tree/sub/b.txt"])
        .env("SMB_USER", srv.user())
        .env("SMB_PASSWORD", srv.password())
        .env("SMB_PORT", srv.port().to_string())
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(cwd.join("b.txt")).unwrap(), b"hello");

    // retrieve_file_factory: the reference's example.
    let port = srv.port().to_string();
    let out = run(
        &srv,
        "retrieve_file_factory",
        &["127.0.0.1", &port, "SMBKITTEST", "share", "/tree/sub/b.txt"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("retrieved 5 bytes"), "{text}");
}
