//! Copies against real Samba: server-side (FSCTL_SRV_REQUEST_RESUME_KEY +
//! FSCTL_SRV_COPYCHUNK_WRITE) over SMB 3.1.1 and 2.1, checked on the
//! server's disk: sizes around the chunk and request sizes, a 1 GiB file
//! compared by hash, across shares, onto an existing file; the errors
//! (missing source, missing folder, a file onto itself); the server's
//! limits taken after a refusal; a cut connection; SMB1, where Samba does
//! not copy by itself; and copies streamed between two servers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smbkit::{
    Connection, CopyMethod, Dialect, Error, InvalidArgument, NtStatus, Protocol, ReconnectPolicy,
    SignOptions, SmbProtocolFactory, Tuning, Unsupported,
};
use smbkit_testserver::{content, ExtraConfig, FaultProxy, Profile, TestServer};

const MIB: usize = 1 << 20;

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    let f = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true)
        .sign_options(SignOptions::WhenSupported);
    if srv.profile().speaks_smb2() {
        f
    } else {
        f.protocol(Protocol::Smb1Only)
    }
}

async fn connect(srv: &TestServer) -> Connection {
    factory(srv)
        .connect((srv.host(), srv.port()))
        .await
        .expect("connect")
}

/// Writes `data` as `name` in the folder behind a share, owned by the
/// test user.
fn put_local(srv: &TestServer, dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    srv.chown_to_user(&p).unwrap();
    p
}

/// The SHA-256 of a file, by `sha256sum`.
fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The sizes the copies are checked with: empty, tiny, around one chunk
/// (1 MiB), one request (16 MiB) and several, and not multiples of any.
const SIZES: [usize; 8] = [
    0,
    1,
    4097,
    MIB,
    MIB + 1,
    16 * MIB,
    16 * MIB + 12345,
    37 * MIB + 5,
];

async fn copies_files_of_every_size(profile: Profile, dialect: Dialect) {
    let srv = server(profile);
    let conn = connect(&srv).await;
    assert_eq!(conn.dialect(), dialect);
    for (i, len) in SIZES.into_iter().enumerate() {
        let data = content(len, i as u32);
        let src = format!("src{i}.bin");
        put_local(&srv, srv.share_path(), &src, &data);
        let dst = format!("copy{i}.bin");
        let n = conn.copy("share", &src, "share", &dst).await.unwrap();
        assert_eq!(n as usize, len, "{src}");
        let copied = std::fs::read(srv.share_path().join(&dst)).unwrap();
        assert!(copied == data, "{dst}: content differs ({len} bytes)");
        // copy_to over the same connection is the same server-side copy.
        let c = conn
            .copy_to("share", &src, &conn, "share", &format!("to{i}.bin"))
            .await
            .unwrap();
        assert_eq!((c.bytes as usize, c.method), (len, CopyMethod::ServerSide));
        assert!(std::fs::read(srv.share_path().join(format!("to{i}.bin"))).unwrap() == data);
    }
    // Nothing left open on the server.
    let left = srv
        .wait_until_no_open_files(Duration::from_secs(3))
        .unwrap();
    assert!(left.is_empty(), "still open: {left:#?}");
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_files_of_every_size_over_smb311() {
    copies_files_of_every_size(Profile::Modern, Dialect::SMB3_1_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_files_of_every_size_over_smb21() {
    copies_files_of_every_size(Profile::Smb21Max, Dialect::SMB2_1).await;
}

/// A 1 GiB file: written on the server's disk, copied by the server,
/// compared by SHA-256 on the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_a_gibibyte_by_hash() {
    use std::io::Write as _;
    let srv = server(Profile::Modern);
    let src = srv.share_path().join("gib.bin");
    {
        let mut f = std::io::BufWriter::with_capacity(MIB, std::fs::File::create(&src).unwrap());
        let block = content(MIB, 77);
        for i in 0..1024u32 {
            // Each mebibyte stamped with its index, so that a chunk
            // copied to the wrong offset shows.
            f.write_all(&i.to_le_bytes()).unwrap();
            f.write_all(&block[4..]).unwrap();
        }
        f.flush().unwrap();
    }
    srv.chown_to_user(&src).unwrap();
    let conn = connect(&srv).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let started = std::time::Instant::now();
    let c = conn
        .copy_to_with_progress(
            "share",
            "gib.bin",
            &conn,
            "share",
            "gib-copy.bin",
            move |n| log.lock().unwrap().push(n),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(c.bytes, 1 << 30);
    assert_eq!(c.method, CopyMethod::ServerSide);
    eprintln!("1 GiB copied by the server in {took:?}");
    assert_eq!(
        sha256(&src),
        sha256(&srv.share_path().join("gib-copy.bin")),
        "the copy differs"
    );
    // Progress: from 0, growing, to the size, once per 16 MiB request.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&0));
    assert_eq!(seen.last(), Some(&(1 << 30)));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.len(), 1 + 64);
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_across_shares_and_onto_existing_files() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv).await;
    // From the read-only share.
    let n = conn
        .copy("readonly", "hello.txt", "share", "hello-copy.txt")
        .await
        .unwrap();
    assert_eq!(n as usize, smbkit_testserver::HELLO_CONTENT.len());
    assert_eq!(
        std::fs::read(srv.share_path().join("hello-copy.txt")).unwrap(),
        smbkit_testserver::HELLO_CONTENT
    );
    // Into another share, and into one that requires encryption.
    let data = content(3 * MIB + 17, 5);
    put_local(&srv, srv.share_path(), "x.bin", &data);
    for (share, dir) in [
        ("snapshots", srv.snapshots_path()),
        ("encrypted", srv.encrypted_path()),
    ] {
        let c = conn
            .copy_to("share", "x.bin", &conn, share, "x-copy.bin")
            .await
            .unwrap();
        assert_eq!(c.method, CopyMethod::ServerSide, "{share}");
        assert!(
            std::fs::read(dir.join("x-copy.bin")).unwrap() == data,
            "{share}"
        );
    }
    // Onto a longer file, and a shorter one: replaced, its size the source's.
    for (name, old) in [("long.bin", 9 * MIB), ("short.bin", 10)] {
        put_local(&srv, srv.share_path(), name, &content(old, 6));
        conn.copy("share", "x.bin", "share", name).await.unwrap();
        let got = std::fs::read(srv.share_path().join(name)).unwrap();
        assert_eq!(got.len(), data.len(), "{name}");
        assert!(got == data, "{name}");
    }
    // Into a sub-folder, with / or \ separators.
    std::fs::create_dir(srv.share_path().join("sub")).unwrap();
    srv.chown_to_user(&srv.share_path().join("sub")).unwrap();
    conn.copy("share", "/x.bin", "share", "sub\\y.bin")
        .await
        .unwrap();
    assert!(std::fs::read(srv.share_path().join("sub/y.bin")).unwrap() == data);
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_errors_name_the_path() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv).await;
    put_local(&srv, srv.share_path(), "a.bin", &content(1000, 1));

    // A missing source: the destination is not created.
    let e = conn
        .copy("share", "missing.bin", "share", "b.bin")
        .await
        .unwrap_err();
    match &e {
        Error::OperationFailure {
            operation, path, ..
        } => {
            assert_eq!(
                (*operation, path.as_str()),
                ("copy", "\\share\\missing.bin")
            );
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(e.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND), "{e}");
    assert!(!srv.share_path().join("b.bin").exists());

    // A destination in a missing folder.
    let e = conn
        .copy("share", "a.bin", "share", "no/such/dir/b.bin")
        .await
        .unwrap_err();
    match &e {
        Error::OperationFailure {
            operation, path, ..
        } => {
            assert_eq!(
                (*operation, path.as_str()),
                ("copy", "\\share\\no\\such\\dir\\b.bin")
            );
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(e.status(), Some(NtStatus::OBJECT_PATH_NOT_FOUND), "{e}");

    // A folder as the source.
    std::fs::create_dir(srv.share_path().join("d")).unwrap();
    let e = conn.copy("share", "d", "share", "e").await.unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::FILE_IS_A_DIRECTORY), "{e}");

    // Onto itself: refused before anything is sent, the file as it was.
    let e = conn
        .copy("share", "a.bin", "share", "/A.BIN")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(InvalidArgument::CopyOntoItself { path }) if path == "\\share\\a.bin"),
        "{e:?}"
    );
    // No name; a missing share.
    for (src, dst) in [("", "x"), ("a.bin", "/")] {
        let e = conn.copy("share", src, "share", dst).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument(InvalidArgument::NoName { operation: "copy" })
            ),
            "{e:?}"
        );
    }
    let e = conn
        .copy("share", "a.bin", "no-such-share", "a.bin")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::BAD_NETWORK_NAME), "{e}");

    // Onto the same file through a second connection (the names cannot be
    // compared): the source is shared for reading only, so the destination
    // cannot be opened for writing, and the file stays as it was.
    let other = connect(&srv).await;
    let e = conn
        .copy_to("share", "a.bin", &other, "share", "a.bin")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::SHARING_VIOLATION), "{e}");
    assert!(std::fs::read(srv.share_path().join("a.bin")).unwrap() == content(1000, 1));
    let left = srv
        .wait_until_no_open_files(Duration::from_secs(3))
        .unwrap();
    assert!(left.is_empty(), "still open: {left:#?}");
}

/// Chunks larger than Samba allows (2 MiB, 32 to a request, 64 MiB): the
/// first requests are refused with STATUS_INVALID_PARAMETER and Samba's
/// limits, which the copy takes; the rest follows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_the_servers_limits_after_a_refusal() {
    let srv = TestServer::start_with(
        Profile::Modern,
        ExtraConfig {
            global: "log level = 3".into(),
            sections: String::new(),
        },
    )
    .expect("start the test Samba server");
    let mut tuning = Tuning::default();
    tuning.copy_chunk_size = Some(2 * MIB as u32);
    tuning.copy_chunks = Some(32);
    let conn = factory(&srv)
        .tuning(tuning)
        .unwrap()
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    let data = content(100 * MIB + 3, 8);
    put_local(&srv, srv.share_path(), "big.bin", &data);
    let n = conn
        .copy("share", "big.bin", "share", "big-copy.bin")
        .await
        .unwrap();
    assert_eq!(n as usize, data.len());
    assert!(std::fs::read(srv.share_path().join("big-copy.bin")).unwrap() == data);
    let log = srv.log_tail(2000);
    assert!(
        log.contains("copy chunk req exceeds limits"),
        "Samba did not refuse a request:\n{log}"
    );

    // Tiny chunks, one to a request: many requests, all in order.
    let mut tuning = Tuning::default();
    tuning.copy_chunk_size = Some(4096);
    tuning.copy_chunks = Some(1);
    let conn = factory(&srv)
        .tuning(tuning)
        .unwrap()
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    let data = content(300_001, 9);
    put_local(&srv, srv.share_path(), "small.bin", &data);
    conn.copy("share", "small.bin", "share", "small-copy.bin")
        .await
        .unwrap();
    assert!(std::fs::read(srv.share_path().join("small-copy.bin")).unwrap() == data);

    // A tuning of 0 is refused.
    let mut tuning = Tuning::default();
    tuning.copy_chunks = Some(0);
    let e = factory(&srv).tuning(tuning).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument(InvalidArgument::TuningBelowMinimum {
                setting: "copy_chunks",
                ..
            })
        ),
        "{e:?}"
    );
}

/// A connection cut during a server-side copy: without a reconnect policy
/// the copy fails with NotConnected; with one it runs again whole on the
/// new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_fails_the_copy_or_runs_it_again() {
    let srv = server(Profile::Modern);
    let proxy = FaultProxy::start(srv.port()).expect("start the proxy");
    let data = content(64 * MIB + 99, 10);
    put_local(&srv, srv.share_path(), "c.bin", &data);
    for reconnect in [false, true] {
        let conn = factory(&srv)
            .dead_peer_timeout(Some(Duration::from_secs(2)))
            .reconnect(reconnect.then_some(ReconnectPolicy {
                attempts: 20,
                first_delay: Duration::from_millis(50),
                max_delay: Duration::from_millis(500),
                give_up_after: Duration::from_secs(30),
            }))
            .connect(("127.0.0.1", proxy.port()))
            .await
            .unwrap();
        conn.tree_connect("share").await.unwrap();
        let connections = proxy.connections();
        // Cut in the middle of the answers: after the opens, the resume
        // key and the size, among the four 16 MiB copy requests.
        proxy.cut_when_to_client(proxy.bytes_to_client() + 900);
        let r = conn.copy("share", "c.bin", "share", "c-copy.bin").await;
        if reconnect {
            assert_eq!(r.unwrap() as usize, data.len());
            assert!(proxy.connections() > connections, "no reconnect");
            assert!(std::fs::read(srv.share_path().join("c-copy.bin")).unwrap() == data);
        } else {
            assert!(matches!(r, Err(Error::NotConnected)), "{r:?}");
        }
    }
}

/// Samba does not copy by itself over SMB1: the resume key is refused,
/// before the destination is touched, and copy_to streams instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_smb1_samba_refuses_and_copy_to_streams() {
    let srv = server(Profile::Smb1Only);
    let conn = connect(&srv).await;
    assert!(!conn.is_using_smb2());
    let data = content(5 * MIB + 3, 11);
    put_local(&srv, srv.share_path(), "s.bin", &data);
    put_local(&srv, srv.share_path(), "old.bin", b"old");
    let e = conn
        .copy("share", "s.bin", "share", "old.bin")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unsupported(Unsupported::ServerSideCopy { smb1: true, .. })
        ),
        "{e:?}"
    );
    eprintln!("{e}");
    assert_eq!(
        std::fs::read(srv.share_path().join("old.bin")).unwrap(),
        b"old"
    );
    let c = conn
        .copy_to("share", "s.bin", &conn, "share", "old.bin")
        .await
        .unwrap();
    assert_eq!(
        (c.bytes as usize, c.method),
        (data.len(), CopyMethod::Streamed)
    );
    assert!(std::fs::read(srv.share_path().join("old.bin")).unwrap() == data);
    let left = srv
        .wait_until_no_open_files(Duration::from_secs(3))
        .unwrap();
    assert!(left.is_empty(), "still open: {left:#?}");
}

/// Between two servers (and between SMB 3.1.1 and SMB1) the data goes
/// through the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_between_two_servers() {
    let a = server(Profile::Modern);
    let b = server(Profile::Smb1Only);
    let ca = connect(&a).await;
    let cb = connect(&b).await;
    for (i, len) in [0, 1, MIB, 9 * MIB + 7].into_iter().enumerate() {
        let data = content(len, 20 + i as u32);
        put_local(&a, a.share_path(), "src.bin", &data);
        let seen = Arc::new(Mutex::new(0u64));
        let last = seen.clone();
        let c = ca
            .copy_to_with_progress("share", "src.bin", &cb, "share", "dst.bin", move |n| {
                *last.lock().unwrap() = n
            })
            .await
            .unwrap();
        assert_eq!((c.bytes as usize, c.method), (len, CopyMethod::Streamed));
        assert_eq!(*seen.lock().unwrap() as usize, len);
        assert!(std::fs::read(b.share_path().join("dst.bin")).unwrap() == data);
        // And back, from SMB1 to SMB 3.1.1, onto the source.
        let c = cb
            .copy_to("share", "dst.bin", &ca, "share", "back.bin")
            .await
            .unwrap();
        assert_eq!(c.bytes as usize, len);
        assert!(std::fs::read(a.share_path().join("back.bin")).unwrap() == data);
    }
    // The errors of a streamed copy are the copy's too.
    let e = ca
        .copy_to("share", "missing.bin", &cb, "share", "x.bin")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OperationFailure { operation: "copy", path, status, .. }
            if path == "\\share\\missing.bin" && *status == NtStatus::OBJECT_NAME_NOT_FOUND),
        "{e:?}"
    );
    let e = ca
        .copy_to("share", "src.bin", &cb, "share", "no/dir/x.bin")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OperationFailure { operation: "copy", path, .. } if path == "\\share\\no\\dir\\x.bin"),
        "{e:?}"
    );
    assert_eq!(e.status(), Some(NtStatus::OBJECT_PATH_NOT_FOUND), "{e}");
}

/// The blocking API, from a plain thread.
#[test]
fn blocking_copies() {
    let srv = server(Profile::Modern);
    let conn = smbkit::blocking::Connection::connect(factory(&srv), (srv.host(), srv.port()))
        .expect("connect");
    let data = content(2 * MIB + 1, 30);
    put_local(&srv, srv.share_path(), "b.bin", &data);
    assert_eq!(
        conn.copy("share", "b.bin", "share", "b1.bin").unwrap() as usize,
        data.len()
    );
    let other = smbkit::blocking::Connection::connect(factory(&srv), (srv.host(), srv.port()))
        .expect("connect");
    let last = Arc::new(Mutex::new(0));
    let seen = last.clone();
    let c = conn
        .copy_to_with_progress("share", "b1.bin", &other, "share", "b2.bin", move |n| {
            *seen.lock().unwrap() = n
        })
        .unwrap();
    assert_eq!(
        (c.bytes as usize, c.method),
        (data.len(), CopyMethod::Streamed)
    );
    assert_eq!(*last.lock().unwrap() as usize, data.len());
    let c = conn
        .copy_to("share", "b2.bin", &conn.clone(), "share", "b3.bin")
        .unwrap();
    assert_eq!(c.method, CopyMethod::ServerSide);
    for name in ["b1.bin", "b2.bin", "b3.bin"] {
        assert!(
            std::fs::read(srv.share_path().join(name)).unwrap() == data,
            "{name}"
        );
    }
    conn.close().unwrap();
}
