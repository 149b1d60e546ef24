//! `smbkit::blocking` against real Samba, from plain threads without an
//! async runtime: connect, echo, listings, transfers through `Read` and
//! `Write` (20 MiB compared byte for byte), the iterators against
//! `list_path`, open files, typed errors, one connection used by 8 threads
//! at once, calls from inside a tokio runtime, a connection made by the
//! async API, and SMB1.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, Instant};

use smbkit::blocking::Connection;
use smbkit::{ConnectionEvent, Error, NtStatus, Protocol, SmbProtocolFactory};
use smbkit_testserver::{content, Profile, TestServer};

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    let f = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true);
    if srv.profile().speaks_smb2() {
        f
    } else {
        f.protocol(Protocol::Smb1Only)
    }
}

fn connect(srv: &TestServer) -> Connection {
    Connection::connect(factory(srv), (srv.host(), srv.port()))
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", srv.log_tail(40)))
}

fn put_local(srv: &TestServer, name: &str, data: &[u8]) {
    let p = srv.share_path().join(name);
    std::fs::write(&p, data).unwrap();
    srv.chown_to_user(&p).unwrap();
}

fn status(e: &Error) -> Option<NtStatus> {
    match e {
        Error::OperationFailure { status, .. } => Some(*status),
        _ => None,
    }
}

/// Stores `data` as `name`, retrieves it and checks the bytes.
fn round_trip(conn: &Connection, name: &str, data: &[u8]) {
    let n = conn.store_file("share", name, &mut &data[..]).unwrap();
    assert_eq!(n, data.len() as u64, "{name}");
    let mut out = Vec::new();
    let (attributes, n) = conn.retrieve_file("share", name, &mut out).unwrap();
    assert_eq!(n, data.len() as u64, "{name}");
    assert_eq!(attributes & 0x10, 0, "{name}");
    assert!(out == data, "{name}: content differs");
}

#[test]
fn connect_echo_and_the_simple_operations() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv);
    assert!(conn.is_ready());
    assert!(conn.is_using_smb2());
    assert_eq!(conn.dialect(), conn.server_info().dialect);
    assert_eq!(conn.echo(b"ping").unwrap(), b"ping");
    assert_eq!(
        conn.with_timeout(Duration::from_secs(2))
            .echo(b"quick")
            .unwrap(),
        b"quick"
    );
    let tree = conn.tree_connect("share").unwrap();
    assert_ne!(tree.tree_id, 0);
    conn.tree_disconnect("share").unwrap();

    let shares: BTreeSet<String> = conn
        .list_shares()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(
        shares.contains("share") && shares.contains("IPC$"),
        "{shares:?}"
    );

    put_local(&srv, "a.txt", b"alpha");
    conn.create_directory("share", "/dir").unwrap();
    conn.rename("share", "/a.txt", "/dir/b.txt").unwrap();
    let attrs = conn.get_attributes("share", "/dir/b.txt").unwrap();
    assert_eq!(attrs.file_size, 5);
    assert!(!attrs.is_directory());
    assert!(conn.get_attributes("share", "/dir").unwrap().is_directory());
    conn.reset_file_attributes("share", "/dir/*.txt", smbkit::attributes::READONLY)
        .unwrap();
    assert!(conn
        .get_attributes("share", "/dir/b.txt")
        .unwrap()
        .is_read_only());
    conn.reset_file_attributes("share", "/dir/*.txt", 0)
        .unwrap();
    let names: Vec<String> = conn
        .list_path("share", "/dir")
        .unwrap()
        .into_iter()
        .map(|f| f.filename)
        .filter(|n| n != "." && n != "..")
        .collect();
    assert_eq!(names, ["b.txt"]);
    let only_dirs = conn
        .list_path_with("share", "/", smbkit::search::DIRECTORY, "d*")
        .unwrap();
    assert_eq!(only_dirs.len(), 1, "{only_dirs:?}");
    assert_eq!(only_dirs[0].filename, "dir");
    let err = conn.delete_directory("share", "/dir").unwrap_err();
    assert_eq!(status(&err), Some(NtStatus::DIRECTORY_NOT_EMPTY), "{err:?}");
    conn.delete_files("share", "/dir/*.txt", false).unwrap();
    conn.delete_directory("share", "/dir").unwrap();
    assert!(!srv.share_path().join("dir").exists());

    let sd = conn.get_security("share", "/").unwrap();
    assert!(sd.owner.is_some(), "{sd:?}");
    assert_eq!(conn.list_snapshots("snapshots", "").unwrap().len(), 2);

    let mut events = conn.events();
    assert_eq!(
        events.latest(),
        Some(ConnectionEvent::Connected { reconnects: 0 })
    );
    conn.close().unwrap();
    assert!(!conn.is_ready());
    assert!(matches!(conn.echo(b"x"), Err(Error::NotConnected)));
    assert_eq!(events.next(), Some(ConnectionEvent::Closed));
}

#[test]
fn store_then_retrieve_20_mib() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv);
    let data = content((20 << 20) + 7, 1);
    let started = Instant::now();
    let n = conn
        .store_file("share", "/big.bin", &mut &data[..])
        .unwrap();
    let stored = started.elapsed();
    assert_eq!(n, data.len() as u64);
    assert!(
        std::fs::read(srv.share_path().join("big.bin")).unwrap() == data,
        "the stored file differs"
    );
    let started = Instant::now();
    let mut out = Vec::new();
    let (_, n) = conn.retrieve_file("share", "/big.bin", &mut out).unwrap();
    let retrieved = started.elapsed();
    assert_eq!(n, data.len() as u64);
    assert!(out == data, "the retrieved file differs");
    eprintln!("20 MiB: stored in {stored:?}, retrieved in {retrieved:?}");

    // Into and from files on disk.
    let local = tempfile_path("big-copy.bin");
    let mut file = std::fs::File::create(&local).unwrap();
    conn.retrieve_file("share", "/big.bin", &mut file).unwrap();
    drop(file);
    assert!(std::fs::read(&local).unwrap() == data);
    let mut file = std::fs::File::open(&local).unwrap();
    let n = conn.store_file("share", "/big2.bin", &mut file).unwrap();
    assert_eq!(n, data.len() as u64);
    assert!(std::fs::read(srv.share_path().join("big2.bin")).unwrap() == data);
    std::fs::remove_file(&local).unwrap();

    // From an offset, at most a length.
    let mut out = Vec::new();
    let (_, n) = conn
        .retrieve_file_from_offset("share", "/big.bin", &mut out, 3 << 20, Some(5 << 20))
        .unwrap();
    assert_eq!(n, 5 << 20);
    assert!(out[..] == data[3 << 20..8 << 20]);
    let mut out = Vec::new();
    let (_, n) = conn
        .retrieve_file_from_offset("share", "/big.bin", &mut out, (20 << 20) + 2, None)
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(out[..], data[(20 << 20) + 2..]);

    // Overwriting in the middle, then appending without truncation.
    let patch = content((2 << 20) + 3, 2);
    let n = conn
        .store_file_from_offset("share", "/big.bin", &mut &patch[..], 1 << 20, false)
        .unwrap();
    assert_eq!(n, patch.len() as u64);
    let mut expected = data.clone();
    expected[1 << 20..(1 << 20) + patch.len()].copy_from_slice(&patch);
    assert!(std::fs::read(srv.share_path().join("big.bin")).unwrap() == expected);
    let n = conn
        .store_file_from_offset("share", "/big.bin", &mut &b"tail"[..], 0, true)
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        std::fs::read(srv.share_path().join("big.bin")).unwrap(),
        b"tail"
    );

    // Empty files and small ones (one round trip each way).
    round_trip(&conn, "/empty.bin", b"");
    round_trip(&conn, "/small.bin", b"small");
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("smbkit-blocking-{}-{name}", std::process::id()))
}

/// A reader that yields at most 1000 bytes a call and is interrupted every
/// seventh call.
struct Trickle<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(7) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(1000).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A writer that takes at most 777 bytes a call and is interrupted every
/// fifth call.
struct Sip {
    out: Vec<u8>,
    calls: usize,
    flushed: bool,
}

impl Write for Sip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(5) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(777);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushed = true;
        Ok(())
    }
}

#[test]
fn small_reads_and_writes_and_interruptions() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv);
    let data = content((3 << 20) + 11, 3);
    let mut input = Trickle {
        data: &data,
        calls: 0,
    };
    let n = conn
        .store_file("share", "/trickle.bin", &mut input)
        .unwrap();
    assert_eq!(n, data.len() as u64);
    let mut sip = Sip {
        out: Vec::new(),
        calls: 0,
        flushed: false,
    };
    let (_, n) = conn
        .retrieve_file("share", "/trickle.bin", &mut sip)
        .unwrap();
    assert_eq!(n, data.len() as u64);
    assert!(sip.out == data, "content differs");
    assert!(sip.flushed, "the writer was not flushed");
}

#[test]
fn read_dir_and_walk_equal_list_path() {
    let srv = server(Profile::Modern);
    let root = srv.share_path().join("tree");
    // More entries than one step of the iterators takes, in several pages.
    for i in 0..1500 {
        std::fs::create_dir_all(root.join(format!("d{}", i % 3))).unwrap();
        std::fs::write(
            root.join(format!("d{}", i % 3))
                .join(format!("f{i:04}.txt")),
            vec![b'x'; i % 13],
        )
        .unwrap();
    }
    std::fs::create_dir_all(root.join("d0/deeper/deepest")).unwrap();
    std::fs::write(root.join("d0/deeper/deepest/leaf"), b"leaf").unwrap();
    std::fs::write(root.join("top.txt"), b"top").unwrap();
    let conn = connect(&srv);

    // read_dir: what list_path lists, without . and ..
    for dir in ["/tree", "/tree/d1", "/tree/d0/deeper"] {
        let listed: BTreeMap<String, (u64, u32)> = conn
            .list_path("share", dir)
            .unwrap()
            .into_iter()
            .filter(|f| f.filename != "." && f.filename != "..")
            .map(|f| (f.filename, (f.file_size, f.file_attributes)))
            .collect();
        let mut streamed = BTreeMap::new();
        for e in conn.read_dir("share", dir) {
            let e = e.unwrap();
            let old = streamed.insert(e.name().to_string(), (e.len(), e.attributes().bits()));
            assert!(old.is_none(), "{} twice", e.name());
        }
        assert_eq!(streamed, listed, "{dir}");
    }

    // walk: the union of list_path over every folder below the root.
    fn list_all(conn: &Connection, dir: &str, rel: &str, out: &mut BTreeMap<String, u64>) {
        for f in conn.list_path("share", dir).unwrap() {
            if f.filename == "." || f.filename == ".." {
                continue;
            }
            let path = if rel.is_empty() {
                f.filename.clone()
            } else {
                format!("{rel}/{}", f.filename)
            };
            out.insert(path.clone(), f.file_size);
            if f.is_directory() {
                list_all(conn, &format!("{dir}/{}", f.filename), &path, out);
            }
        }
    }
    let mut expected = BTreeMap::new();
    list_all(&conn, "/tree", "", &mut expected);
    assert_eq!(expected.len(), 1500 + 3 + 3 + 1);
    for concurrency in [1, 4] {
        let mut walked = BTreeMap::new();
        for item in conn.walk("share", "/tree").concurrency(concurrency) {
            let item = item.unwrap();
            assert_eq!(item.depth(), item.path().matches('/').count() + 1);
            assert!(walked
                .insert(item.path().to_string(), item.entry().len())
                .is_none());
        }
        assert_eq!(walked, expected, "concurrency {concurrency}");
    }
    let top: Vec<_> = conn
        .walk("share", "/tree")
        .max_depth(1)
        .map(|i| i.unwrap().path().to_string())
        .collect();
    assert_eq!(top.len(), 4, "{top:?}");

    // A missing folder: its error, then the end, for good.
    let mut missing = conn.read_dir("share", "/no-such-dir");
    let err = missing.next().unwrap().unwrap_err();
    assert_eq!(
        status(&err),
        Some(NtStatus::OBJECT_NAME_NOT_FOUND),
        "{err:?}"
    );
    assert!(missing.next().is_none());
    assert!(missing.next().is_none());
    let mut walk = conn.walk("share", "/no-such-dir");
    assert!(matches!(
        walk.next(),
        Some(Err(Error::OperationFailure { .. }))
    ));
    assert!(walk.next().is_none());

    // Dropped midway: the connection goes on.
    let mut some = conn.read_dir("share", "/tree/d2");
    assert!(some.next().unwrap().is_ok());
    drop(some);
    assert_eq!(conn.echo(b"still").unwrap(), b"still");
}

#[test]
fn open_file_read_at_and_reader() {
    let srv = server(Profile::Modern);
    let data = content((3 << 20) + 1, 4);
    put_local(&srv, "f.bin", &data);
    let conn = connect(&srv);
    let file = conn.open_file("share", "/f.bin").unwrap();
    assert_eq!(file.size(), data.len() as u64);
    assert_eq!(file.attributes() & 0x10, 0);
    assert_eq!(file.read_at(0, 10).unwrap(), data[..10]);
    assert_eq!(
        file.read_at(1 << 20, 5000).unwrap(),
        data[1 << 20..(1 << 20) + 5000]
    );
    let all = file.read_at(0, data.len() + 100).unwrap();
    assert!(all[..] == data[..]);
    assert!(file.read_at(data.len() as u64 + 10, 10).unwrap().is_empty());

    // Ranges read from several threads at once.
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (file, data) = (&file, &data);
            s.spawn(move || {
                for k in 0..8u64 {
                    let at = (t * 8 + k) * 97_531;
                    let got = file.read_at(at, 65_536).unwrap();
                    assert_eq!(got[..], data[at as usize..at as usize + 65_536]);
                }
            });
        }
    });

    // The whole file through Read.
    let mut out = Vec::new();
    file.reader(0, None).read_to_end(&mut out).unwrap();
    assert!(out == data);
    // A range, in small reads and through BufRead.
    let mut r = file.reader(100, Some(200_000)).with_chunk(65_536);
    assert_eq!(r.chunk(), 65_536);
    let mut out = Vec::new();
    let mut buf = [0u8; 999];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert!(out[..] == data[100..200_100]);
    let mut r = file.reader(5, Some(20));
    assert_eq!(r.fill_buf().unwrap(), &data[5..25]);
    r.consume(15);
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, &data[20..25]);
    // Chunks as they come.
    let mut r = file.reader((3 << 20) - 10, None);
    let mut got = Vec::new();
    while let Some(chunk) = r.next_chunk().unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, &data[(3 << 20) - 10..]);
    // A reader left midway, then the file closed.
    let mut r = file.reader(0, None);
    r.read_exact(&mut [0u8; 10]).unwrap();
    drop(r);
    file.close().unwrap();

    // Dropped without closing: closed in the background, then deletable.
    let file = conn.open_file("share", "/f.bin").unwrap();
    assert_eq!(file.read_at(0, 3).unwrap(), data[..3]);
    drop(file);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = conn.delete_files("share", "/f.bin", false) {
        assert!(Instant::now() < deadline, "still open: {e}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn errors_are_typed() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv);
    let mut out = Vec::new();
    let err = conn
        .retrieve_file("share", "/missing.bin", &mut out)
        .unwrap_err();
    match &err {
        Error::OperationFailure { status, path, .. } => {
            assert_eq!(*status, NtStatus::OBJECT_NAME_NOT_FOUND, "{err}");
            assert!(path.contains("missing.bin"), "{path}");
        }
        e => panic!("expected OperationFailure, got {e:?}"),
    }
    assert!(out.is_empty());
    let err = conn.open_file("share", "/missing.bin").unwrap_err();
    assert_eq!(
        status(&err),
        Some(NtStatus::OBJECT_NAME_NOT_FOUND),
        "{err:?}"
    );
    let err = conn.get_attributes("share", "/missing.bin").unwrap_err();
    assert_eq!(
        status(&err),
        Some(NtStatus::OBJECT_NAME_NOT_FOUND),
        "{err:?}"
    );
    let err = conn.tree_connect("no-such-share").unwrap_err();
    assert_eq!(status(&err), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
    let err = conn
        .store_file("readonly", "/new.txt", &mut &b"x"[..])
        .unwrap_err();
    assert_eq!(status(&err), Some(NtStatus::ACCESS_DENIED), "{err:?}");

    // Past the end of a file.
    put_local(&srv, "five.bin", b"12345");
    let err = conn
        .retrieve_file_from_offset("share", "/five.bin", &mut Vec::new(), 6, None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");

    // A writer that fails midway ends the retrieve with its error.
    let data = content(8 << 20, 5);
    put_local(&srv, "eight.bin", &data);
    struct FailsAfter(usize);
    impl Write for FailsAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let err = conn
        .retrieve_file("share", "/eight.bin", &mut FailsAfter(1 << 20))
        .unwrap_err();
    match &err {
        Error::Io(e) => assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}"),
        e => panic!("expected Io, got {e:?}"),
    }
    // A reader that fails midway ends the store with its error.
    struct FailingReader(usize);
    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }
    let err = conn
        .store_file("share", "/partial.bin", &mut FailingReader(3 << 20))
        .unwrap_err();
    match &err {
        Error::Io(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        e => panic!("expected Io, got {e:?}"),
    }
    // The connection goes on.
    assert_eq!(conn.echo(b"after").unwrap(), b"after");
    let mut out = Vec::new();
    conn.retrieve_file("share", "/eight.bin", &mut out).unwrap();
    assert!(out == data);

    // A reader's errors carry the smbkit error.
    let file = conn.open_file("share", "/five.bin").unwrap();
    let mut r = file.reader(0, None);
    file.close().unwrap();
    let e = r.read(&mut [0u8; 4]).unwrap_err();
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
    assert!(matches!(inner, Some(Error::InvalidArgument(_))), "{e:?}");

    // No server there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = Connection::connect(factory(&srv), addr).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    // A bad password.
    let f = SmbProtocolFactory::new(srv.user(), "wrong", "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true);
    let err = Connection::connect(f, (srv.host(), srv.port())).unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::LOGON_FAILURE), "{err:?}");
}

#[test]
fn eight_threads_on_one_connection() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv);
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let conn = conn.clone();
            s.spawn(move || {
                let data = content((2 << 20) + t as usize * 4099, 100 + t);
                let name = format!("/thread-{t}.bin");
                for round in 0..2 {
                    let n = conn.store_file("share", &name, &mut &data[..]).unwrap();
                    assert_eq!(n, data.len() as u64);
                    let mut out = Vec::new();
                    let (_, n) = conn.retrieve_file("share", &name, &mut out).unwrap();
                    assert_eq!(n, data.len() as u64);
                    assert!(out == data, "thread {t} round {round}: content differs");
                    assert_eq!(conn.echo(b"t").unwrap(), b"t");
                    let names: Vec<_> = conn
                        .read_dir("share", "/")
                        .map(|e| e.unwrap().name().to_string())
                        .collect();
                    assert!(names.contains(&name[1..].to_string()), "{names:?}");
                }
            });
        }
    });
    for t in 0..8u32 {
        let data = content((2 << 20) + t as usize * 4099, 100 + t);
        let got = std::fs::read(srv.share_path().join(format!("thread-{t}.bin"))).unwrap();
        assert!(got == data, "thread {t}: the stored file differs");
    }
}

/// The blocking calls of one small session of work.
fn some_work(srv: &TestServer) {
    let conn = connect(srv);
    assert_eq!(conn.echo(b"inside").unwrap(), b"inside");
    let data = content((2 << 20) + 3, 6);
    round_trip(&conn, "/inside.bin", &data);
    assert!(conn
        .read_dir("share", "/")
        .any(|e| e.unwrap().name() == "inside.bin"));
    // Dropped midway, inside the caller's runtime.
    let file = conn.open_file("share", "/inside.bin").unwrap();
    let mut r = file.reader(0, None);
    r.read_exact(&mut [0u8; 100]).unwrap();
    drop(r);
    drop(file);
    let mut listing = conn.walk("share", "/");
    listing.next().unwrap().unwrap();
    drop(listing);
    conn.close().unwrap();
}

#[tokio::test]
async fn works_inside_a_current_thread_runtime() {
    let srv = server(Profile::Modern);
    some_work(&srv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_multi_thread_runtime() {
    let srv = server(Profile::Modern);
    some_work(&srv);
    // And from spawn_blocking, as async code should call it.
    let srv = std::sync::Arc::new(srv);
    let s = srv.clone();
    tokio::task::spawn_blocking(move || some_work(&s))
        .await
        .unwrap();
}

#[test]
fn wraps_a_connection_made_by_the_async_api() {
    let srv = server(Profile::Modern);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let async_conn = rt
        .block_on(factory(&srv).connect((srv.host(), srv.port())))
        .unwrap();
    let conn: Connection = async_conn.clone().into();
    assert_eq!(conn.echo(b"wrapped").unwrap(), b"wrapped");
    let data = content(3 << 20, 7);
    round_trip(&conn, "/wrapped.bin", &data);
    std::thread::scope(|s| {
        s.spawn(|| round_trip(&conn, "/wrapped2.bin", &data));
    });
    // Both handles talk over the same connection.
    conn.close().unwrap();
    assert!(!async_conn.is_ready());
    assert!(!Connection::from_async(async_conn).as_async().is_ready());
}

#[test]
fn smb1_round_trip() {
    let srv = server(Profile::Smb1Only);
    let conn = connect(&srv);
    assert!(!conn.is_using_smb2());
    assert_eq!(conn.echo(b"over smb1").unwrap(), b"over smb1");
    let data = content((3 << 20) + 5, 8);
    round_trip(&conn, "/smb1.bin", &data);
    let names: Vec<_> = conn
        .read_dir("share", "/")
        .map(|e| e.unwrap().name().to_string())
        .collect();
    assert!(names.contains(&"smb1.bin".to_string()), "{names:?}");
    let walked: Vec<_> = conn.walk("share", "/").map(|e| e.unwrap()).collect();
    assert!(walked.iter().any(|w| w.path() == "smb1.bin"));
    let file = conn.open_file("share", "/smb1.bin").unwrap();
    assert_eq!(file.read_at(1000, 100).unwrap(), data[1000..1100]);
    let mut out = Vec::new();
    file.reader(0, None).read_to_end(&mut out).unwrap();
    assert!(out == data);
    file.close().unwrap();
    let err = conn
        .retrieve_file("share", "/missing.bin", &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(
            status(&err),
            Some(NtStatus::OBJECT_NAME_NOT_FOUND) | Some(NtStatus::NO_SUCH_FILE)
        ),
        "{err:?}"
    );
    conn.close().unwrap();
}
