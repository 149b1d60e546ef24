//! File operations against real Samba, after pysmb's own test suite
//! (listPath, retrieveFile, storeFile, rename, createDirectory,
//! deleteDirectory, getAttributes, deleteFiles, resetFileAttributes) and
//! beyond it: large folders, unicode, failures that must leave the share as
//! it was, concurrency on one connection, path spellings and timeouts.
//!
//! Each scenario is written once and runs twice, over SMB2/3 (module
//! `smb2`) and over SMB1 against a server limited to NT1 (module `smb1`);
//! the table at the end says with which server, framing and signing. Each
//! test starts its own server. Some connect with NetBIOS session service
//! framing, some with direct TCP, some sign; every transfer is checked by
//! content hash.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smbkit::{Connection, Error, NtStatus, Protocol, SharedFile, SignOptions, SmbProtocolFactory};
use smbkit_proto::fscc::{attributes, search};
use smbkit_testserver::{content, fnv1a as hash, Profile, TestServer};

// ---------------------------------------------------------------------------
// Helpers

/// How a test connects: NetBIOS framing or direct TCP, signing or not.
#[derive(Debug, Clone, Copy)]
struct Via {
    direct: bool,
    sign: bool,
}

const NETBIOS: Via = Via {
    direct: false,
    sign: false,
};
const NETBIOS_SIGNED: Via = Via {
    direct: false,
    sign: true,
};
const DIRECT: Via = Via {
    direct: true,
    sign: false,
};
const DIRECT_SIGNED: Via = Via {
    direct: true,
    sign: true,
};

/// Where a scenario runs: the protocol family, the server's profile, and
/// how the client connects to it.
#[derive(Debug, Clone, Copy)]
struct Target {
    smb1: bool,
    profile: Profile,
    via: Via,
}

impl Target {
    /// SMB2/3 against a server of `profile`.
    fn smb2(profile: Profile, via: Via) -> Target {
        Target {
            smb1: false,
            profile,
            via,
        }
    }

    /// SMB1 (NT LM 0.12) against a server limited to NT1. Samba signs SMB1
    /// only when it is configured to, so signed targets get a server that
    /// requires signing.
    fn smb1(via: Via) -> Target {
        Target {
            smb1: true,
            profile: if via.sign {
                Profile::Smb1Signing
            } else {
                Profile::Smb1Only
            },
            via,
        }
    }

    fn server(self) -> TestServer {
        TestServer::start(self.profile)
            .expect("start the test Samba server (run scripts/install-deps)")
    }

    /// The other framing on the same server, unsigned where the server
    /// lets a client not sign.
    fn other_framing(self) -> Target {
        let sign = self.via.sign && self.profile == Profile::Smb1Signing;
        Target {
            via: Via {
                direct: !self.via.direct,
                sign,
            },
            ..self
        }
    }

    async fn connect(self, srv: &TestServer) -> Connection {
        let mut f =
            SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
                .unwrap()
                .direct_tcp(self.via.direct)
                .sign_options(if self.via.sign {
                    SignOptions::WhenSupported
                } else {
                    SignOptions::WhenRequired
                });
        if self.smb1 {
            f = f.protocol(Protocol::Smb1Only);
        }
        let conn = f
            .connect((srv.host(), srv.port()))
            .await
            .unwrap_or_else(|e| panic!("connect {self:?}: {e}\n{}", srv.log_tail(20)));
        assert_eq!(conn.server_info().signing, self.via.sign, "{self:?}");
        assert_eq!(conn.is_using_smb2(), !self.smb1, "{self:?}");
        conn
    }
}

/// The local path of `rel` (with `/` separators) in the `share` share.
fn local(srv: &TestServer, rel: &str) -> PathBuf {
    srv.share_path().join(rel)
}

/// Writes a file in the share locally (parents created), owned by the test user.
fn put(srv: &TestServer, rel: &str, data: &[u8]) {
    let p = local(srv, rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, data).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();
}

/// Makes a folder in the share locally (parents created), owned by the test user.
fn mkdir(srv: &TestServer, rel: &str) {
    fs::create_dir_all(local(srv, rel)).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();
}

fn read_local(srv: &TestServer, rel: &str) -> Vec<u8> {
    fs::read(local(srv, rel)).unwrap_or_else(|e| panic!("read {rel} locally: {e}"))
}

/// The names in a listing, without `.` and `..`.
fn names(list: &[SharedFile]) -> BTreeSet<String> {
    list.iter()
        .map(|f| f.filename.clone())
        .filter(|n| n != "." && n != "..")
        .collect()
}

fn by_name(list: &[SharedFile]) -> BTreeMap<String, SharedFile> {
    list.iter()
        .map(|f| (f.filename.clone(), f.clone()))
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn retrieve(conn: &Connection, share: &str, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (_, n) = conn
        .retrieve_file(share, path, &mut out)
        .await
        .unwrap_or_else(|e| panic!("retrieve {path}: {e}"));
    assert_eq!(n as usize, out.len(), "{path}: reported length");
    out
}

/// The names in the listing of `path` on `share`, without `.` and `..`.
async fn names_of(conn: &Connection, path: &str) -> BTreeSet<String> {
    names(&conn.list_path("share", path).await.unwrap())
}

/// Asserts `r` failed with [`Error::OperationFailure`] carrying one of `want`.
#[track_caller]
fn failure<T: Debug>(r: Result<T, Error>, want: &[NtStatus]) -> Error {
    let err = match r {
        Ok(v) => panic!("expected one of {want:?}, got Ok({v:?})"),
        Err(e) => e,
    };
    assert!(
        matches!(err, Error::OperationFailure { .. }),
        "expected OperationFailure with one of {want:?}, got {err:?}"
    );
    let status = err.status().unwrap();
    assert!(
        want.contains(&status),
        "expected one of {want:?}, got {err:?}"
    );
    err
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

// ---------------------------------------------------------------------------
// list_path

async fn list_path_root_and_subfolder(t: Target) {
    let srv = t.server();
    put(&srv, "rfc1001.txt", &content(1234, 1));
    put(&srv, "empty.bin", b"");
    put(&srv, "Folder A/inner.txt", &content(77, 2));
    put(&srv, "Folder A/deeper/x.dat", &content(5, 3));
    mkdir(&srv, "Folder B");
    let conn = t.connect(&srv).await;

    let root = conn.list_path("share", "/").await.unwrap();
    assert_eq!(
        names(&root),
        set(["rfc1001.txt", "empty.bin", "Folder A", "Folder B"])
    );
    let m = by_name(&root);
    assert_eq!(m["rfc1001.txt"].file_size, 1234);
    assert_eq!(m["empty.bin"].file_size, 0);
    for f in ["rfc1001.txt", "empty.bin"] {
        assert!(!m[f].is_directory(), "{f}: {:?}", m[f]);
    }
    for d in ["Folder A", "Folder B"] {
        assert!(m[d].is_directory(), "{d}: {:?}", m[d]);
        assert!(!m[d].is_normal(), "{d}: a folder is never normal");
    }
    // Samba lists `.` and `..` everywhere, the share root included, and the
    // API passes them on (as the reference does).
    assert!(m.contains_key("."), "'.' missing from the root: {root:?}");
    assert!(m.contains_key(".."), "'..' missing from the root: {root:?}");
    assert!(m["."].is_directory() && m[".."].is_directory());
    assert_eq!(root.len(), 6);

    // The same listing with the other spellings of the root.
    for p in ["", "\\", "/."] {
        let again = conn.list_path("share", p).await.unwrap();
        assert_eq!(names(&again), names(&root), "root spelled {p:?}");
    }

    let sub = conn.list_path("share", "/Folder A").await.unwrap();
    assert_eq!(names(&sub), set(["inner.txt", "deeper"]));
    let m = by_name(&sub);
    assert!(m.contains_key(".") && m.contains_key(".."), "{sub:?}");
    assert_eq!(m["inner.txt"].file_size, 77);
    assert!(m["deeper"].is_directory());
    let deeper = conn.list_path("share", "Folder A/deeper").await.unwrap();
    assert_eq!(names(&deeper), set(["x.dat"]));
    assert_eq!(by_name(&deeper)["x.dat"].file_size, 5);

    let empty = conn.list_path("share", "Folder B").await.unwrap();
    assert!(names(&empty).is_empty(), "{empty:?}");
    conn.close().await.unwrap();
}

async fn list_path_999_files(t: Target) {
    let srv = t.server();
    let dir = local(&srv, "RFC Archive");
    fs::create_dir(&dir).unwrap();
    let mut expected = BTreeMap::new();
    for i in 1..=999u64 {
        let name = format!("rfc{i:04}.txt");
        let size = (i * 37) % 1000;
        fs::write(dir.join(&name), content(size as usize, i as u32)).unwrap();
        expected.insert(name, size);
    }
    srv.chown_to_user(srv.share_path()).unwrap();
    let conn = t.connect(&srv).await;
    let list = conn.list_path("share", "RFC Archive").await.unwrap();
    let got: BTreeMap<String, u64> = list
        .iter()
        .filter(|f| f.filename != "." && f.filename != "..")
        .map(|f| (f.filename.clone(), f.file_size))
        .collect();
    assert_eq!(got.len(), 999);
    assert_eq!(got, expected);
    // No entry listed twice.
    assert_eq!(list.len(), 999 + 2, "999 files plus . and ..");
    assert!(list
        .iter()
        .filter(|f| f.filename.starts_with("rfc"))
        .all(|f| !f.is_directory()));
}

async fn list_path_10000_entries(t: Target) {
    let srv = t.server();
    let dir = local(&srv, "big");
    fs::create_dir(&dir).unwrap();
    for i in 0..10_000 {
        fs::File::create(dir.join(format!("entry-{i:05}-with-a-longer-name-to-fill-buffers")))
            .unwrap();
    }
    let conn = t.connect(&srv).await;
    let start = Instant::now();
    let list = conn.list_path("share", "big").await.unwrap();
    let n = names(&list);
    assert_eq!(n.len(), 10_000, "listed in {:?}", start.elapsed());
    assert_eq!(list.len(), 10_002, "each entry exactly once, plus . and ..");
    for i in (0..10_000).step_by(997) {
        let want = format!("entry-{i:05}-with-a-longer-name-to-fill-buffers");
        assert!(n.contains(&want), "{want} missing");
    }
    assert!(list
        .iter()
        .filter(|f| f.filename.starts_with("entry-"))
        .all(|f| f.file_size == 0 && !f.is_directory()));
}

async fn list_path_directory_only_and_file_only_filters(t: Target) {
    let srv = t.server();
    put(&srv, "f1.txt", b"one");
    put(&srv, "f2.txt", b"two");
    put(&srv, "ro.txt", b"read only");
    put(&srv, "hidden.txt", b"hidden");
    mkdir(&srv, "d1");
    mkdir(&srv, "d2");
    let conn = t.connect(&srv).await;
    conn.reset_file_attributes("share", "ro.txt", attributes::READONLY)
        .await
        .unwrap();
    conn.reset_file_attributes("share", "hidden.txt", attributes::HIDDEN)
        .await
        .unwrap();

    let all = conn.list_path("share", "").await.unwrap();
    assert_eq!(
        names(&all),
        set(["f1.txt", "f2.txt", "ro.txt", "hidden.txt", "d1", "d2"]),
        "the default search lists hidden and read-only entries too"
    );

    let dirs = conn
        .list_path_with("share", "", search::DIRECTORY, "*")
        .await
        .unwrap();
    assert!(dirs.iter().all(SharedFile::is_directory), "{dirs:?}");
    assert_eq!(names(&dirs), set(["d1", "d2"]));

    let files_only =
        search::READONLY | search::HIDDEN | search::SYSTEM | search::ARCHIVE | search::INCL_NORMAL;
    let files = conn
        .list_path_with("share", "/", files_only, "*")
        .await
        .unwrap();
    assert!(files.iter().all(|f| !f.is_directory()), "{files:?}");
    assert_eq!(
        names(&files),
        set(["f1.txt", "f2.txt", "ro.txt", "hidden.txt"])
    );

    // search = NORMAL (0) alone: only "normal" files (attributes 0 or
    // exactly FILE_ATTRIBUTE_NORMAL), as the reference filters.
    let normal = conn
        .list_path_with("share", "/", search::NORMAL, "*")
        .await
        .unwrap();
    assert!(normal.iter().all(SharedFile::is_normal), "{normal:?}");
    assert_eq!(names(&normal), set(["f1.txt", "f2.txt"]), "{normal:?}");

    let ro = conn
        .list_path_with("share", "/", search::READONLY, "*")
        .await
        .unwrap();
    assert_eq!(names(&ro), set(["ro.txt"]), "{ro:?}");
    let hidden = conn
        .list_path_with("share", "/", search::HIDDEN, "*")
        .await
        .unwrap();
    assert_eq!(names(&hidden), set(["hidden.txt"]), "{hidden:?}");
}

async fn list_path_patterns_unicode_and_empty_result(t: Target) {
    let srv = t.server();
    for name in [
        "a.txt",
        "b.txt",
        "c.doc",
        "café.txt",
        "日本語のファイル.txt",
        "smile 😀.txt",
        "😀😀.bin",
        "x1.dat",
        "x22.dat",
    ] {
        put(&srv, &format!("pat/{name}"), name.as_bytes());
    }
    mkdir(&srv, "pat/folder.txt");
    let conn = t.connect(&srv).await;
    let list = |pattern: &'static str| {
        let conn = conn.clone();
        async move {
            let l = conn
                .list_path_with("share", "pat", smbkit::DEFAULT_SEARCH, pattern)
                .await
                .unwrap_or_else(|e| panic!("pattern {pattern:?}: {e}"));
            assert!(
                !l.iter().any(|f| f.filename == "." || f.filename == ".."),
                "pattern {pattern:?} does not match . or ..: {l:?}"
            );
            names(&l)
        }
    };
    assert_eq!(
        list("*.txt").await,
        set([
            "a.txt",
            "b.txt",
            "café.txt",
            "日本語のファイル.txt",
            "smile 😀.txt",
            "folder.txt"
        ])
    );
    assert_eq!(list("x?.dat").await, set(["x1.dat"]));
    assert_eq!(list("c.doc").await, set(["c.doc"]));
    // Unicode in the pattern: Latin-1, CJK, and a non-BMP character (a
    // UTF-16 surrogate pair on the wire).
    assert_eq!(list("caf*").await, set(["café.txt"]));
    assert_eq!(list("*é*").await, set(["café.txt"]));
    assert_eq!(list("日本語*").await, set(["日本語のファイル.txt"]));
    assert_eq!(list("*😀*").await, set(["smile 😀.txt", "😀😀.bin"]));
    assert_eq!(list("😀😀.bin").await, set(["😀😀.bin"]));

    // The names come back intact.
    let all = conn.list_path("share", "pat").await.unwrap();
    let m = by_name(&all);
    for name in [
        "café.txt",
        "日本語のファイル.txt",
        "smile 😀.txt",
        "😀😀.bin",
    ] {
        assert_eq!(m[name].file_size, name.len() as u64, "{name}");
    }

    // Nothing matches: an empty list, not an error.
    assert!(list("*.nothing").await.is_empty());
    assert!(list("zzz*").await.is_empty());
    let none = conn
        .list_path_with("share", "pat", smbkit::DEFAULT_SEARCH, "*.nothing")
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
}

async fn list_path_failures(t: Target) {
    let srv = t.server();
    put(&srv, "plain.txt", b"not a folder");
    let conn = t.connect(&srv).await;
    let err = failure(
        conn.list_path("share", "/no such folder").await,
        &[
            NtStatus::OBJECT_NAME_NOT_FOUND,
            NtStatus::OBJECT_PATH_NOT_FOUND,
        ],
    );
    assert!(
        err.to_string().contains("\\share\\no such folder"),
        "the message names the share and path: {err}"
    );
    let err = failure(
        conn.list_path("share", "missing/deeper").await,
        &[
            NtStatus::OBJECT_NAME_NOT_FOUND,
            NtStatus::OBJECT_PATH_NOT_FOUND,
        ],
    );
    assert!(
        err.to_string().contains("\\share\\missing\\deeper"),
        "{err}"
    );
    let err = failure(
        conn.list_path("share", "plain.txt").await,
        &[NtStatus::NOT_A_DIRECTORY],
    );
    assert!(err.to_string().contains("\\share\\plain.txt"), "{err}");
    failure(
        conn.list_path("nosuchshare", "/").await,
        &[NtStatus::BAD_NETWORK_NAME],
    );
    // Arguments rejected before anything is sent.
    for pattern in ["", "a/b", "a\\b"] {
        let err = conn
            .list_path_with("share", "/", smbkit::DEFAULT_SEARCH, pattern)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(_)),
            "{pattern:?}: {err:?}"
        );
    }
    // The connection is still fine.
    assert_eq!(
        names(&conn.list_path("share", "/").await.unwrap()),
        set(["plain.txt"])
    );
}

async fn list_path_timestamps_sizes_and_attributes(t: Target) {
    let srv = t.server();
    put(&srv, "now.txt", &content(4321, 4));
    put(&srv, "old.txt", b"old");
    put(&srv, "chmod-ro.txt", b"chmod 0444");
    put(&srv, "attr-ro.txt", b"READONLY attribute");
    mkdir(&srv, "dir");
    let old = UNIX_EPOCH + Duration::from_secs(1_600_000_000); // 2020-09-13
    fs::File::options()
        .write(true)
        .open(local(&srv, "old.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::set_permissions(
        local(&srv, "chmod-ro.txt"),
        fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let conn = t.connect(&srv).await;
    conn.reset_file_attributes("share", "attr-ro.txt", attributes::READONLY)
        .await
        .unwrap();

    let list = conn.list_path("share", "/").await.unwrap();
    let m = by_name(&list);
    let now_mtime = fs::metadata(local(&srv, "now.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let f = &m["now.txt"];
    assert!(
        (f.last_write_time - unix_secs(now_mtime)).abs() < 60.0,
        "last_write_time {} vs local mtime {}",
        f.last_write_time,
        unix_secs(now_mtime)
    );
    assert!((unix_secs(f.last_write_system_time()) - f.last_write_time).abs() < 1e-3);
    let wall = unix_secs(SystemTime::now());
    for t in [
        f.create_time,
        f.last_access_time,
        f.last_write_time,
        f.last_attr_change_time,
    ] {
        assert!(
            (wall - 3600.0..=wall + 60.0).contains(&t),
            "time {t} not within the last hour: {f:?}"
        );
    }
    assert_eq!(f.file_size, 4321);
    assert!(f.alloc_size >= f.file_size, "{f:?}");
    assert!(f.file_id != 0, "{f:?}");

    let o = &m["old.txt"];
    assert!(
        (o.last_write_time - 1_600_000_000.0).abs() < 1.0,
        "an old mtime comes back as it is: {o:?}"
    );

    // pysmb's "normal": no READONLY, HIDDEN, SYSTEM, ARCHIVE or DIRECTORY.
    let normal = &m["now.txt"];
    assert!(
        !normal.is_read_only() && !normal.is_directory(),
        "{normal:?}"
    );
    assert_eq!(
        normal.is_normal(),
        normal.file_attributes
            & (attributes::READONLY
                | attributes::HIDDEN
                | attributes::SYSTEM
                | attributes::ARCHIVE
                | attributes::DIRECTORY)
            == 0
    );

    // The READONLY attribute set over SMB is reported.
    let ro = &m["attr-ro.txt"];
    assert!(ro.is_read_only(), "{ro:?}");
    assert!(!ro.is_normal());
    // A unix mode without write bits: Samba's `map readonly` defaults to
    // `no`, so the DOS attribute does not follow the mode; whatever Samba
    // says, listing and get_attributes agree.
    let chmod = &m["chmod-ro.txt"];
    let attrs = conn.get_attributes("share", "chmod-ro.txt").await.unwrap();
    assert_eq!(chmod.is_read_only(), attrs.is_read_only(), "{chmod:?}");

    let d = &m["dir"];
    assert!(
        d.is_directory() && !d.is_normal() && !d.is_read_only(),
        "{d:?}"
    );
}

// ---------------------------------------------------------------------------
// retrieve

async fn retrieve_multi_chunk_file(t: Target) {
    let srv = t.server();
    let data = content(3 * (1 << 20) + 12_345, 11);
    put(&srv, "big/rfc1001.bin", &data);
    // Both framings on one server.
    for via in [t, t.other_framing()] {
        let conn = via.connect(&srv).await;
        let mut out = Vec::new();
        let (attrs, n) = conn
            .retrieve_file("share", "/big/rfc1001.bin", &mut out)
            .await
            .unwrap();
        assert_eq!(n, data.len() as u64, "{via:?}");
        assert_eq!(attrs & attributes::DIRECTORY, 0);
        assert_eq!(hash(&out), hash(&data), "{via:?}: content differs");
        conn.close().await.unwrap();
    }
}

const LONG_ASCII: &str = "this-is-a-very-long-file-name-that-goes-on-and-on-well-past-two-hundred-characters-to-check-that-long-names-survive-the-trip-to-the-server-and-back-again-without-being-cut-or-mangled-by-anything-on-the-way.txt";

fn long_unicode() -> String {
    // 70 × 3 bytes of CJK + é + emoji: 74 characters, 225 UTF-8 bytes
    // (Linux allows 255), 77 UTF-16 units.
    format!("{}-é-😀.txt", "長".repeat(70))
}

async fn retrieve_long_and_unicode_names(t: Target) {
    assert!(LONG_ASCII.len() > 200);
    let srv = t.server();
    let uni = long_unicode();
    let names = [
        LONG_ASCII.to_string(),
        uni.clone(),
        "Ünïcödé – naïve café.txt".to_string(),
        "日本語/テスト😀.bin".to_string(),
    ];
    let mut expected = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let data = content(100_000 + i * 7, 20 + i as u32);
        put(&srv, n, &data);
        expected.push(data);
    }
    let conn = t.connect(&srv).await;
    for (n, data) in names.iter().zip(&expected) {
        let out = retrieve(&conn, "share", n).await;
        assert_eq!(hash(&out), hash(data), "{n}");
    }
    // The names list back intact.
    let root = names_of(&conn, "/").await;
    assert!(root.contains(LONG_ASCII), "{root:?}");
    assert!(root.contains(&uni), "{root:?}");
    assert!(root.contains("Ünïcödé – naïve café.txt"), "{root:?}");
    assert_eq!(names_of(&conn, "日本語").await, set(["テスト😀.bin"]));
    // open_file on a long unicode name.
    {
        let file = conn.open_file("share", &uni).await.unwrap();
        assert_eq!(file.size(), expected[1].len() as u64);
        let part = file.read_at(500, 1000).await.unwrap();
        assert_eq!(hash(&part), hash(&expected[1][500..1500]));
        file.close().await.unwrap();
    }
}

async fn retrieve_from_offset_with_large_small_and_zero_max_length(t: Target) {
    let srv = t.server();
    let big = content(3 * (1 << 20) + 999, 31);
    let small = content(5000, 32);
    put(&srv, "big.bin", &big);
    put(&srv, "small.txt", &small);
    let conn = t.connect(&srv).await;
    for (name, data) in [("big.bin", &big), ("small.txt", &small)] {
        let len = data.len() as u64;
        let cases: Vec<(u64, Option<u64>)> = vec![
            (0, None),
            (0, Some(0)),
            (0, Some(1)),
            (0, Some(len)),
            (0, Some(u64::MAX)),
            (1, Some(10)),
            (len / 2, None),
            (len / 2, Some(100)),
            (len / 2, Some(0)),
            (len / 2, Some(10 * len)),
            (len - 1, Some(10)),
            (len, None),
            (len, Some(5)),
            (len, Some(0)),
            (1 << 20, Some(1 << 20)),
            ((1 << 20) - 1, Some(2)),
        ];
        for (offset, max) in cases {
            if offset > len {
                continue;
            }
            let mut out = Vec::new();
            let (attrs, n) = conn
                .retrieve_file_from_offset("share", name, &mut out, offset, max)
                .await
                .unwrap_or_else(|e| panic!("{name} offset {offset} max {max:?}: {e}"));
            let start = offset as usize;
            let end = max.map_or(data.len(), |m| {
                start
                    .saturating_add(m.min(usize::MAX as u64) as usize)
                    .min(data.len())
            });
            assert_eq!(
                n as usize,
                end - start,
                "{name} offset {offset} max {max:?}"
            );
            assert_eq!(out.len(), end - start, "{name} offset {offset} max {max:?}");
            assert_eq!(
                hash(&out),
                hash(&data[start..end]),
                "{name} offset {offset} max {max:?}"
            );
            assert_eq!(attrs & attributes::DIRECTORY, 0);
        }
    }
}

async fn retrieve_failures(t: Target) {
    let srv = t.server();
    mkdir(&srv, "a folder");
    put(&srv, "a folder/file.txt", b"x");
    let conn = t.connect(&srv).await;
    let err = failure(
        conn.retrieve_file("share", "/missing.txt", &mut Vec::new())
            .await,
        &[NtStatus::OBJECT_NAME_NOT_FOUND],
    );
    assert!(err.to_string().contains("\\share\\missing.txt"), "{err}");
    failure(
        conn.retrieve_file("share", "/no/such/dir/file.txt", &mut Vec::new())
            .await,
        &[NtStatus::OBJECT_PATH_NOT_FOUND],
    );
    let mut out = Vec::new();
    let err = failure(
        conn.retrieve_file("share", "a folder", &mut out).await,
        &[NtStatus::FILE_IS_A_DIRECTORY],
    );
    assert!(err.to_string().contains("\\share\\a folder"), "{err}");
    assert!(out.is_empty());
    failure(
        conn.retrieve_file_from_offset("share", "a folder", &mut out, 0, Some(0))
            .await,
        &[NtStatus::FILE_IS_A_DIRECTORY],
    );
    {
        failure(
            conn.open_file("share", "a folder").await,
            &[NtStatus::FILE_IS_A_DIRECTORY],
        );
        failure(
            conn.open_file("share", "nope").await,
            &[NtStatus::OBJECT_NAME_NOT_FOUND],
        );
    }
    // Still usable.
    assert_eq!(retrieve(&conn, "share", "a folder/file.txt").await, b"x");
}

// ---------------------------------------------------------------------------
// store

async fn store_long_and_unicode_names_round_trip(t: Target) {
    let srv = t.server();
    mkdir(&srv, "日本語フォルダ");
    let conn = t.connect(&srv).await;
    let uni = long_unicode();
    let names = [
        LONG_ASCII.to_string(),
        uni,
        "naïve café – ü.txt".to_string(),
        "日本語フォルダ/😀 emoji 😀.bin".to_string(),
    ];
    for (i, name) in names.iter().enumerate() {
        // Small (one compound) and large (pipelined) stores.
        for (j, len) in [1000usize, 2 * (1 << 20) + 17].into_iter().enumerate() {
            let data = content(len, 40 + (i * 2 + j) as u32);
            let n = conn
                .store_file("share", name, &mut &data[..])
                .await
                .unwrap_or_else(|e| panic!("store {name}: {e}"));
            assert_eq!(n, len as u64, "{name}");
            assert_eq!(hash(&read_local(&srv, name)), hash(&data), "{name} locally");
            assert_eq!(
                hash(&retrieve(&conn, "share", name).await),
                hash(&data),
                "{name} retrieved"
            );
            let a = conn.get_attributes("share", name).await.unwrap();
            assert_eq!(a.file_size, len as u64, "{name}");
        }
    }
    assert_eq!(
        names_of(&conn, "日本語フォルダ").await,
        set(["😀 emoji 😀.bin"])
    );
}

async fn store_from_offset(t: Target) {
    let srv = t.server();
    let base = content(10_000, 50);
    put(&srv, "offset.bin", &base);
    let conn = t.connect(&srv).await;

    // Patch the middle without truncating.
    let patch = content(300, 51);
    let n = conn
        .store_file_from_offset("share", "offset.bin", &mut &patch[..], 4000, false)
        .await
        .unwrap();
    assert_eq!(n, 300);
    let mut want = base.clone();
    want[4000..4300].copy_from_slice(&patch);
    assert_eq!(
        hash(&retrieve(&conn, "share", "offset.bin").await),
        hash(&want)
    );

    // Write past the end: the file grows, the gap reads as zeros.
    let tail = content(2 * (1 << 20) + 5, 52);
    conn.store_file_from_offset("share", "offset.bin", &mut &tail[..], 12_000, false)
        .await
        .unwrap();
    want.resize(12_000, 0);
    want.extend_from_slice(&tail);
    assert_eq!(
        hash(&retrieve(&conn, "share", "offset.bin").await),
        hash(&want)
    );
    assert_eq!(read_local(&srv, "offset.bin").len(), want.len());

    // Truncate first, then write at an offset.
    conn.store_file_from_offset("share", "offset.bin", &mut &b"abc"[..], 5, true)
        .await
        .unwrap();
    assert_eq!(
        retrieve(&conn, "share", "offset.bin").await,
        b"\0\0\0\0\0abc"
    );

    // A new file (with a unicode name) written from an offset.
    conn.store_file_from_offset("share", "nouveau é.bin", &mut &b"xyz"[..], 2, false)
        .await
        .unwrap();
    assert_eq!(read_local(&srv, "nouveau é.bin"), b"\0\0xyz");

    // Offset 0 without truncate on an existing file: a patch at the start.
    conn.store_file_from_offset("share", "nouveau é.bin", &mut &b"Q"[..], 0, false)
        .await
        .unwrap();
    assert_eq!(read_local(&srv, "nouveau é.bin"), b"Q\0xyz");
}

async fn store_then_retrieve_round_trip_across_chunk_sizes(t: Target) {
    let srv = t.server();
    let conn = t.connect(&srv).await;
    let chunk = conn.server_info().max_write_size.min(1 << 20) as usize;
    for (i, len) in [
        0usize,
        1,
        65_535,
        65_536,
        65_537,
        chunk - 1,
        chunk,
        chunk + 1,
        3 * chunk + 4321,
    ]
    .into_iter()
    .enumerate()
    {
        let data = content(len, 60 + i as u32);
        let name = format!("rt/{i}-{len}.bin");
        if i == 0 {
            conn.create_directory("share", "rt").await.unwrap();
        }
        assert_eq!(
            conn.store_file("share", &name, &mut &data[..])
                .await
                .unwrap(),
            len as u64
        );
        let back = retrieve(&conn, "share", &name).await;
        assert_eq!(back.len(), len, "{name}");
        assert_eq!(hash(&back), hash(&data), "{name}");
    }
    // Replacing a large file with a small one truncates it.
    conn.store_file("share", "rt/8-big", &mut &content(3 * chunk, 70)[..])
        .await
        .unwrap();
    conn.store_file("share", "rt/8-big", &mut &b"tiny"[..])
        .await
        .unwrap();
    assert_eq!(retrieve(&conn, "share", "rt/8-big").await, b"tiny");
}

async fn store_into_readonly_share_is_denied(t: Target) {
    let srv = t.server();
    let conn = t.connect(&srv).await;
    let before: BTreeSet<_> = fs::read_dir(srv.readonly_path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for (name, len) in [("new.txt", 10usize), ("big.bin", 3 << 20)] {
        let data = content(len, 80);
        let err = failure(
            conn.store_file("readonly", name, &mut &data[..]).await,
            &[NtStatus::ACCESS_DENIED],
        );
        assert!(
            err.to_string().contains(&format!("\\readonly\\{name}")),
            "{err}"
        );
    }
    failure(
        conn.store_file("readonly", "hello.txt", &mut &b"overwrite"[..])
            .await,
        &[NtStatus::ACCESS_DENIED],
    );
    failure(
        conn.store_file_from_offset("readonly", "hello.txt", &mut &b"X"[..], 0, false)
            .await,
        &[NtStatus::ACCESS_DENIED],
    );
    failure(
        conn.create_directory("readonly", "newdir").await,
        &[NtStatus::ACCESS_DENIED, NtStatus::MEDIA_WRITE_PROTECTED],
    );
    let after: BTreeSet<_> = fs::read_dir(srv.readonly_path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing created on the read-only share");
    assert_eq!(
        fs::read(srv.readonly_path().join("hello.txt")).unwrap(),
        smbkit_testserver::HELLO_CONTENT
    );
    // Reading it is fine.
    assert_eq!(
        retrieve(&conn, "readonly", "hello.txt").await,
        smbkit_testserver::HELLO_CONTENT
    );
}

// ---------------------------------------------------------------------------
// rename

async fn rename_files_and_folders_english_and_unicode(t: Target) {
    let srv = t.server();
    let data = content(12_345, 90);
    put(&srv, "report.txt", &data);
    put(&srv, "folder/inside.txt", b"inside");
    let conn = t.connect(&srv).await;

    // File, English.
    conn.rename("share", "report.txt", "report-renamed.txt")
        .await
        .unwrap();
    assert!(!local(&srv, "report.txt").exists());
    assert_eq!(
        hash(&retrieve(&conn, "share", "report-renamed.txt").await),
        hash(&data)
    );
    // File, to and from unicode names.
    conn.rename("share", "/report-renamed.txt", "/rapport é 日本 😀.txt")
        .await
        .unwrap();
    assert_eq!(
        hash(&read_local(&srv, "rapport é 日本 😀.txt")),
        hash(&data)
    );
    conn.rename("share", "rapport é 日本 😀.txt", "ünïcode-again.txt")
        .await
        .unwrap();
    assert_eq!(
        names_of(&conn, "/").await,
        set(["ünïcode-again.txt", "folder"])
    );
    // Move into a folder.
    conn.rename("share", "ünïcode-again.txt", "folder/moved.txt")
        .await
        .unwrap();
    assert_eq!(hash(&read_local(&srv, "folder/moved.txt")), hash(&data));

    // Folder, English then unicode; its content moves along.
    conn.rename("share", "folder", "renamed folder")
        .await
        .unwrap();
    assert!(!local(&srv, "folder").exists());
    assert_eq!(
        names_of(&conn, "renamed folder").await,
        set(["inside.txt", "moved.txt"])
    );
    conn.rename("share", "renamed folder", "dossier-日本語-😀")
        .await
        .unwrap();
    assert_eq!(
        retrieve(&conn, "share", "dossier-日本語-😀/inside.txt").await,
        b"inside"
    );
    assert!(conn
        .get_attributes("share", "dossier-日本語-😀")
        .await
        .unwrap()
        .is_directory());
    assert_eq!(names_of(&conn, "/").await, set(["dossier-日本語-😀"]));
}

async fn rename_onto_existing_name_and_missing_source_fail(t: Target) {
    let srv = t.server();
    let a = content(1000, 91);
    let b = content(2000, 92);
    put(&srv, "a.txt", &a);
    put(&srv, "b.txt", &b);
    mkdir(&srv, "dir1");
    mkdir(&srv, "dir2");
    let conn = t.connect(&srv).await;

    let err = failure(
        conn.rename("share", "a.txt", "b.txt").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    let msg = err.to_string();
    assert!(
        msg.contains("\\share\\a.txt") && msg.contains("\\share\\b.txt"),
        "{msg}"
    );
    assert_eq!(hash(&read_local(&srv, "a.txt")), hash(&a));
    assert_eq!(hash(&read_local(&srv, "b.txt")), hash(&b));
    // A file onto a folder, a folder onto a file, a folder onto a folder.
    failure(
        conn.rename("share", "a.txt", "dir1").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    failure(
        conn.rename("share", "dir1", "b.txt").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    failure(
        conn.rename("share", "dir1", "dir2").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    assert_eq!(
        names_of(&conn, "/").await,
        set(["a.txt", "b.txt", "dir1", "dir2"])
    );
    assert_eq!(hash(&read_local(&srv, "a.txt")), hash(&a));
    assert_eq!(hash(&read_local(&srv, "b.txt")), hash(&b));

    failure(
        conn.rename("share", "missing.txt", "c.txt").await,
        &[NtStatus::OBJECT_NAME_NOT_FOUND],
    );
    failure(
        conn.rename("share", "nodir/missing.txt", "c.txt").await,
        &[NtStatus::OBJECT_PATH_NOT_FOUND],
    );
    failure(
        conn.rename("share", "a.txt", "nodir/c.txt").await,
        &[
            NtStatus::OBJECT_PATH_NOT_FOUND,
            NtStatus::OBJECT_NAME_NOT_FOUND,
        ],
    );
    assert!(!local(&srv, "c.txt").exists());
    assert_eq!(hash(&read_local(&srv, "a.txt")), hash(&a));
    let err = conn.rename("share", "/", "x").await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

// ---------------------------------------------------------------------------
// create_directory / delete_directory

async fn create_and_delete_nested_and_unicode_directories(t: Target) {
    let srv = t.server();
    let conn = t.connect(&srv).await;
    let paths = [
        "level1",
        "level1/level2",
        "level1/level2/level3",
        "/level1/level2/level3/日本語 😀",
        "\\level1\\Ünïcödé",
    ];
    for p in paths {
        conn.create_directory("share", p)
            .await
            .unwrap_or_else(|e| panic!("create {p}: {e}"));
    }
    assert!(local(&srv, "level1/level2/level3/日本語 😀").is_dir());
    assert!(local(&srv, "level1/Ünïcödé").is_dir());
    assert_eq!(names_of(&conn, "level1").await, set(["level2", "Ünïcödé"]));
    let a = conn
        .get_attributes("share", "level1/level2/level3/日本語 😀")
        .await
        .unwrap();
    assert!(a.is_directory(), "{a:?}");
    assert_eq!(a.filename, "日本語 😀");

    // A folder whose parent does not exist.
    failure(
        conn.create_directory("share", "nope/child").await,
        &[NtStatus::OBJECT_PATH_NOT_FOUND],
    );
    assert!(!local(&srv, "nope").exists());

    // Delete deepest first.
    for p in paths.iter().rev() {
        conn.delete_directory("share", p)
            .await
            .unwrap_or_else(|e| panic!("delete {p}: {e}"));
    }
    assert!(!local(&srv, "level1").exists());
    assert!(names_of(&conn, "/").await.is_empty());
    failure(
        conn.delete_directory("share", "level1").await,
        &[NtStatus::OBJECT_NAME_NOT_FOUND],
    );
    for bad in ["", "/"] {
        assert!(matches!(
            conn.create_directory("share", bad).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            conn.delete_directory("share", bad).await,
            Err(Error::InvalidArgument(_))
        ));
    }
}

async fn delete_non_empty_directory_fails_and_keeps_everything(t: Target) {
    let srv = t.server();
    let data = content(5000, 100);
    put(&srv, "full/file.bin", &data);
    mkdir(&srv, "full/sub");
    mkdir(&srv, "only-a-folder/empty");
    let conn = t.connect(&srv).await;
    let err = failure(
        conn.delete_directory("share", "full").await,
        &[NtStatus::DIRECTORY_NOT_EMPTY],
    );
    assert!(err.to_string().contains("\\share\\full"), "{err}");
    assert_eq!(names_of(&conn, "full").await, set(["file.bin", "sub"]));
    assert_eq!(hash(&read_local(&srv, "full/file.bin")), hash(&data));
    // Not left pending deletion either: the folder can still be used.
    conn.store_file("share", "full/later.txt", &mut &b"later"[..])
        .await
        .unwrap();
    assert_eq!(read_local(&srv, "full/later.txt"), b"later");

    // A folder holding only an empty folder is not empty either.
    failure(
        conn.delete_directory("share", "only-a-folder").await,
        &[NtStatus::DIRECTORY_NOT_EMPTY],
    );
    assert!(local(&srv, "only-a-folder/empty").is_dir());

    // delete_directory on a file.
    failure(
        conn.delete_directory("share", "full/file.bin").await,
        &[NtStatus::NOT_A_DIRECTORY],
    );
    assert!(local(&srv, "full/file.bin").exists());
}

async fn create_existing_directory_collides(t: Target) {
    let srv = t.server();
    put(&srv, "existing/keep.txt", b"keep");
    put(&srv, "a-file", b"file");
    let conn = t.connect(&srv).await;
    let err = failure(
        conn.create_directory("share", "existing").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    assert!(err.to_string().contains("\\share\\existing"), "{err}");
    assert_eq!(read_local(&srv, "existing/keep.txt"), b"keep");
    failure(
        conn.create_directory("share", "a-file").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    assert_eq!(read_local(&srv, "a-file"), b"file");
    conn.create_directory("share", "fresh").await.unwrap();
    failure(
        conn.create_directory("share", "/fresh/").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
}

// ---------------------------------------------------------------------------
// get_attributes

async fn get_attributes_of_files_and_folders(t: Target) {
    let srv = t.server();
    put(&srv, "dir/file.bin", &content(123_456, 110));
    put(&srv, "dir/empty", b"");
    put(&srv, "ünï 😀.txt", b"unicode");
    let conn = t.connect(&srv).await;

    let f = conn.get_attributes("share", "dir/file.bin").await.unwrap();
    assert_eq!(f.filename, "file.bin");
    assert_eq!(f.file_size, 123_456);
    assert!(f.alloc_size >= f.file_size, "{f:?}");
    assert!(!f.is_directory());
    assert_ne!(f.file_id, 0, "{f:?}");
    let mtime = fs::metadata(local(&srv, "dir/file.bin"))
        .unwrap()
        .modified()
        .unwrap();
    assert!((f.last_write_time - unix_secs(mtime)).abs() < 60.0, "{f:?}");

    let d = conn.get_attributes("share", "/dir").await.unwrap();
    assert_eq!(d.filename, "dir");
    assert!(d.is_directory(), "{d:?}");
    assert!(!d.is_normal());
    assert_ne!(d.file_id, 0, "{d:?}");
    assert_ne!(d.file_id, f.file_id);

    let e = conn.get_attributes("share", "dir/empty").await.unwrap();
    assert_eq!(e.file_size, 0);
    assert_ne!(e.file_id, f.file_id);
    let u = conn.get_attributes("share", "ünï 😀.txt").await.unwrap();
    assert_eq!(u.filename, "ünï 😀.txt");
    assert_eq!(u.file_size, 7);

    // The root of the share.
    let root = conn.get_attributes("share", "/").await.unwrap();
    assert!(root.is_directory(), "{root:?}");

    // Listing and get_attributes agree.
    let listed = by_name(&conn.list_path("share", "dir").await.unwrap());
    let l = &listed["file.bin"];
    assert_eq!(l.file_size, f.file_size);
    assert_eq!(l.file_attributes, f.file_attributes);
    assert_eq!(l.file_id, f.file_id);
    assert!((l.last_write_time - f.last_write_time).abs() < 1e-6);
    assert!((l.create_time - f.create_time).abs() < 1e-6);

    // After a store the size follows.
    conn.store_file("share", "dir/empty", &mut &content(999, 1)[..])
        .await
        .unwrap();
    assert_eq!(
        conn.get_attributes("share", "dir/empty")
            .await
            .unwrap()
            .file_size,
        999
    );
}

async fn get_attributes_of_missing_paths(t: Target) {
    let srv = t.server();
    put(&srv, "file.txt", b"x");
    let conn = t.connect(&srv).await;
    let err = failure(
        conn.get_attributes("share", "missing.txt").await,
        &[NtStatus::OBJECT_NAME_NOT_FOUND],
    );
    assert!(err.to_string().contains("\\share\\missing.txt"), "{err}");
    failure(
        conn.get_attributes("share", "no/such/path.txt").await,
        &[NtStatus::OBJECT_PATH_NOT_FOUND],
    );
    failure(
        conn.get_attributes("share", "file.txt/below").await,
        &[
            NtStatus::OBJECT_PATH_NOT_FOUND,
            NtStatus::NOT_A_DIRECTORY,
            NtStatus::OBJECT_NAME_NOT_FOUND,
        ],
    );
    assert_eq!(
        conn.get_attributes("share", "file.txt")
            .await
            .unwrap()
            .file_size,
        1
    );
}

// ---------------------------------------------------------------------------
// delete_files

async fn delete_files_by_pattern_keeps_the_rest_and_matching_folders(t: Target) {
    let srv = t.server();
    for name in [
        "a.tmp",
        "b.tmp",
        "日本語.tmp",
        "keep.txt",
        "tmp",
        "a.tmp.txt",
    ] {
        put(&srv, &format!("work/{name}"), name.as_bytes());
    }
    put(&srv, "work/folder.tmp/inner.tmp", b"inner");
    put(&srv, "work/sub/deep.tmp", b"deep");
    put(&srv, "other.tmp", b"not in the folder");
    let conn = t.connect(&srv).await;

    conn.delete_files("share", "work/*.tmp", false)
        .await
        .unwrap();
    assert_eq!(
        names_of(&conn, "work").await,
        set(["keep.txt", "tmp", "a.tmp.txt", "folder.tmp", "sub"])
    );
    // Folders that match stay, with their content; nothing recursive.
    assert_eq!(read_local(&srv, "work/folder.tmp/inner.tmp"), b"inner");
    assert_eq!(read_local(&srv, "work/sub/deep.tmp"), b"deep");
    assert_eq!(read_local(&srv, "other.tmp"), b"not in the folder");
    assert_eq!(read_local(&srv, "work/keep.txt"), b"keep.txt");

    // A single file by name, with a leading backslash.
    conn.delete_files("share", "\\work\\keep.txt", false)
        .await
        .unwrap();
    assert!(!local(&srv, "work/keep.txt").exists());
    // `?` wildcard.
    conn.delete_files("share", "/work/tm?", false)
        .await
        .unwrap();
    assert!(!local(&srv, "work/tmp").exists());
    assert_eq!(
        names_of(&conn, "work").await,
        set(["a.tmp.txt", "folder.tmp", "sub"])
    );
}

async fn delete_files_with_matching_folders_removes_whole_trees(t: Target) {
    let srv = t.server();
    put(&srv, "t/x.cache", b"file");
    put(&srv, "t/keep.txt", b"keep");
    put(&srv, "t/one.cache/a.txt", b"a");
    put(&srv, "t/one.cache/two/b.txt", b"b");
    put(&srv, "t/one.cache/two/three/c.txt", &content(70_000, 3));
    put(&srv, "t/one.cache/two/three/d 😀.txt", b"d");
    mkdir(&srv, "t/one.cache/two/three/four-empty");
    mkdir(&srv, "t/one.cache/two/empty");
    put(
        &srv,
        "t/keep-folder/z.cache",
        b"not matched: one level down",
    );
    let conn = t.connect(&srv).await;

    conn.delete_files("share", "t/*.cache", true).await.unwrap();
    assert_eq!(names_of(&conn, "t").await, set(["keep.txt", "keep-folder"]));
    assert!(!local(&srv, "t/one.cache").exists());
    assert_eq!(
        read_local(&srv, "t/keep-folder/z.cache"),
        b"not matched: one level down"
    );

    // `*` with delete_matching_folders: everything in the folder goes, but
    // not the folder itself (`.` and `..` match `*` too and must be skipped).
    put(&srv, "t/star/a.txt", b"a");
    put(&srv, "t/star/sub/b.txt", b"b");
    conn.delete_files("share", "t/star/*", true).await.unwrap();
    assert!(local(&srv, "t/star").is_dir());
    assert!(names_of(&conn, "t/star").await.is_empty());
    assert!(local(&srv, "t/keep.txt").exists());
    conn.delete_directory("share", "t/star").await.unwrap();

    // A folder alone matching, with delete_matching_folders.
    put(&srv, "t/keep-folder/inner/deeper/f.txt", b"f");
    conn.delete_files("share", "t/keep-folder", true)
        .await
        .unwrap();
    assert_eq!(names_of(&conn, "t").await, set(["keep.txt"]));
}

async fn delete_files_matching_nothing_fails(t: Target) {
    let srv = t.server();
    put(&srv, "d/file.txt", b"x");
    mkdir(&srv, "d/folder.tmp");
    let conn = t.connect(&srv).await;
    let err = failure(
        conn.delete_files("share", "d/*.nothing", false).await,
        &[NtStatus::NO_SUCH_FILE],
    );
    assert!(err.to_string().contains("\\share\\d\\*.nothing"), "{err}");
    // Only a folder matches, and folders are not to be deleted: nothing
    // matched either.
    failure(
        conn.delete_files("share", "d/*.tmp", false).await,
        &[NtStatus::NO_SUCH_FILE],
    );
    assert!(local(&srv, "d/folder.tmp").is_dir());
    // A folder that does not exist.
    failure(
        conn.delete_files("share", "nodir/*.txt", false).await,
        &[
            NtStatus::OBJECT_NAME_NOT_FOUND,
            NtStatus::OBJECT_PATH_NOT_FOUND,
        ],
    );
    assert_eq!(names_of(&conn, "d").await, set(["file.txt", "folder.tmp"]));
    for bad in ["", "/", "\\"] {
        let err = conn.delete_files("share", bad, false).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err:?}");
    }
}

async fn delete_files_failure_leaves_other_files_in_place(t: Target) {
    let srv = t.server();
    put(&srv, "mix/a.log", b"a");
    put(&srv, "mix/b.txt", b"b");
    put(&srv, "mix/c.txt", b"c");
    put(&srv, "mix/locked.log", b"read-only");
    let conn = t.connect(&srv).await;
    // READONLY forbids deletion (STATUS_CANNOT_DELETE).
    conn.reset_file_attributes("share", "mix/locked.log", attributes::READONLY)
        .await
        .unwrap();
    failure(
        conn.delete_files("share", "mix/locked.log", false).await,
        &[NtStatus::CANNOT_DELETE, NtStatus::ACCESS_DENIED],
    );
    assert_eq!(read_local(&srv, "mix/locked.log"), b"read-only");

    let err = failure(
        conn.delete_files("share", "mix/*.log", false).await,
        &[NtStatus::CANNOT_DELETE, NtStatus::ACCESS_DENIED],
    );
    assert!(err.to_string().contains("locked.log"), "{err}");
    assert_eq!(read_local(&srv, "mix/locked.log"), b"read-only");
    assert_eq!(read_local(&srv, "mix/b.txt"), b"b");
    assert_eq!(read_local(&srv, "mix/c.txt"), b"c");

    // A folder tree that cannot be removed: the test user may not delete
    // in a root-owned folder.
    let locked = local(&srv, "mix/rootdir.log");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("inner.txt"), b"root's").unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    failure(
        conn.delete_files("share", "mix/rootdir.log", true).await,
        &[NtStatus::ACCESS_DENIED, NtStatus::CANNOT_DELETE],
    );
    assert_eq!(fs::read(locked.join("inner.txt")).unwrap(), b"root's");
    assert_eq!(read_local(&srv, "mix/b.txt"), b"b");
    assert_eq!(read_local(&srv, "mix/c.txt"), b"c");
    // Once writable again, it goes.
    conn.reset_file_attributes("share", "mix/locked.log", attributes::NORMAL)
        .await
        .unwrap();
    conn.delete_files("share", "mix/locked.log", false)
        .await
        .unwrap();
    assert!(!local(&srv, "mix/locked.log").exists());
}

/// A pattern ending in a separator names a folder, not files: it should be
/// refused like `""` and `"/"` are. Today `smb_path` strips the trailing
/// separator before `delete_files` checks that the last component is not
/// empty, so `"d/"` becomes the pattern `d` in the root: with
/// `delete_matching_folders` the whole folder `d` and its content are
/// deleted.
async fn delete_files_pattern_with_trailing_separator_is_refused(t: Target) {
    let srv = t.server();
    put(&srv, "d/inner.txt", b"keep me");
    put(&srv, "e/inner.txt", b"keep me too");
    let conn = t.connect(&srv).await;
    for (bad, folders) in [("d/", true), ("e\\", true), ("d/", false)] {
        let r = conn.delete_files("share", bad, folders).await;
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{bad:?} (delete_matching_folders={folders}): {r:?}"
        );
    }
    assert_eq!(read_local(&srv, "d/inner.txt"), b"keep me");
    assert_eq!(read_local(&srv, "e/inner.txt"), b"keep me too");
}

// ---------------------------------------------------------------------------
// reset_file_attributes

async fn reset_file_attributes_sets_and_clears(t: Target) {
    let srv = t.server();
    put(&srv, "attrs/file.txt", b"attrs");
    put(&srv, "attrs/other.txt", b"other");
    mkdir(&srv, "attrs/folder");
    let conn = t.connect(&srv).await;
    let before = conn
        .get_attributes("share", "attrs/file.txt")
        .await
        .unwrap();
    assert_eq!(
        before.file_attributes & (attributes::HIDDEN | attributes::READONLY),
        0
    );

    conn.reset_file_attributes(
        "share",
        "attrs/file.txt",
        attributes::HIDDEN | attributes::READONLY,
    )
    .await
    .unwrap();
    let a = conn
        .get_attributes("share", "attrs/file.txt")
        .await
        .unwrap();
    assert_eq!(
        a.file_attributes & (attributes::HIDDEN | attributes::READONLY),
        attributes::HIDDEN | attributes::READONLY,
        "{a:?}"
    );
    assert!(a.is_read_only() && !a.is_normal());
    // The other file is untouched.
    let o = conn
        .get_attributes("share", "attrs/other.txt")
        .await
        .unwrap();
    assert_eq!(o.file_attributes, before.file_attributes);
    // The content too.
    assert_eq!(retrieve(&conn, "share", "attrs/file.txt").await, b"attrs");

    conn.reset_file_attributes("share", "attrs/file.txt", attributes::NORMAL)
        .await
        .unwrap();
    let n = conn
        .get_attributes("share", "attrs/file.txt")
        .await
        .unwrap();
    assert_eq!(
        n.file_attributes & (attributes::HIDDEN | attributes::READONLY),
        0,
        "{n:?}"
    );
    assert!(n.is_normal(), "{n:?}");

    // With a wildcard, folders keep their directory bit.
    conn.reset_file_attributes("share", "attrs/*", attributes::HIDDEN)
        .await
        .unwrap();
    let listed = by_name(&conn.list_path("share", "attrs").await.unwrap());
    for name in ["file.txt", "other.txt", "folder"] {
        assert_ne!(
            listed[name].file_attributes & attributes::HIDDEN,
            0,
            "{name}: {:?}",
            listed[name]
        );
    }
    assert!(listed["folder"].is_directory());
    // `.` and `..` match `*` but are not touched: the folder itself and the
    // share root keep their attributes.
    let parent = conn.get_attributes("share", "attrs").await.unwrap();
    assert_eq!(parent.file_attributes & attributes::HIDDEN, 0, "{parent:?}");
    let root = conn.get_attributes("share", "").await.unwrap();
    assert_eq!(root.file_attributes & attributes::HIDDEN, 0, "{root:?}");
    conn.reset_file_attributes("share", "attrs/*", 0)
        .await
        .unwrap();
    let listed = by_name(&conn.list_path("share", "attrs").await.unwrap());
    for name in ["file.txt", "other.txt", "folder"] {
        assert_eq!(
            listed[name].file_attributes & attributes::HIDDEN,
            0,
            "{name}"
        );
    }
    assert!(listed["folder"].is_directory());
    failure(
        conn.reset_file_attributes("share", "attrs/*.none", 0).await,
        &[NtStatus::NO_SUCH_FILE],
    );
}

async fn set_file_times_sets_only_the_times_given(t: Target) {
    let srv = t.server();
    put(&srv, "times/file.txt", b"times");
    mkdir(&srv, "times/folder");
    let conn = t.connect(&srv).await;
    let before = conn
        .get_attributes("share", "times/file.txt")
        .await
        .unwrap();
    let modified = UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let accessed = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    conn.set_file_times(
        "share",
        "times/file.txt",
        &smbkit::FileTimes::new().modified(modified),
    )
    .await
    .unwrap();
    let after = conn
        .get_attributes("share", "times/file.txt")
        .await
        .unwrap();
    assert_eq!(after.last_write_time, 1_500_000_000.0, "{after:?}");
    assert_eq!(after.file_attributes, before.file_attributes);
    // On the server's disk too.
    let on_disk = fs::metadata(srv.share_path().join("times/file.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(on_disk, modified);
    // Several at once, on a folder.
    conn.set_file_times(
        "share",
        "times/folder",
        &smbkit::FileTimes::new()
            .modified(modified)
            .accessed(accessed),
    )
    .await
    .unwrap();
    let f = conn.get_attributes("share", "times/folder").await.unwrap();
    assert_eq!(f.last_write_time, 1_500_000_000.0, "{f:?}");
    assert_eq!(f.last_access_time, 1_600_000_000.0, "{f:?}");
    assert!(f.is_directory());
    // The content is untouched, and a missing path fails with the
    // server's status (Samba answers the SMB1 pass-through level for a
    // missing path with STATUS_INVALID_HANDLE).
    assert_eq!(retrieve(&conn, "share", "times/file.txt").await, b"times");
    failure(
        conn.set_file_times(
            "share",
            "times/none.txt",
            &smbkit::FileTimes::new().modified(modified),
        )
        .await,
        &[NtStatus::OBJECT_NAME_NOT_FOUND, NtStatus::INVALID_HANDLE],
    );
}

// ---------------------------------------------------------------------------
// Concurrency on one connection

async fn concurrent_get_attributes_200(t: Target) {
    let srv = t.server();
    for i in 0..50 {
        put(&srv, &format!("c/f{i}.bin"), &content(i * 100, i as u32));
    }
    let conn = t.connect(&srv).await;
    let tasks: Vec<_> = (0..200)
        .map(|k| {
            let c = conn.clone();
            tokio::spawn(async move {
                let i = k % 50;
                let a = c
                    .get_attributes("share", &format!("c/f{i}.bin"))
                    .await
                    .unwrap_or_else(|e| panic!("get_attributes #{k}: {e}"));
                (i, a)
            })
        })
        .collect();
    for t in tasks {
        let (i, a) = t.await.unwrap();
        assert_eq!(a.filename, format!("f{i}.bin"));
        assert_eq!(a.file_size, (i * 100) as u64);
    }
    conn.echo(b"still fine").await.unwrap();
}

async fn concurrent_retrieves_20_of_different_sizes(t: Target) {
    let srv = t.server();
    let sizes: Vec<usize> = (0..20)
        .map(|i| match i % 5 {
            0 => i,
            1 => 4096 * i + 3,
            2 => 65_536 * i,
            3 => (1 << 20) + i * 1000,
            _ => 3 * (1 << 20) + i,
        })
        .collect();
    let mut hashes = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let data = content(len, 200 + i as u32);
        put(&srv, &format!("r/{i}.bin"), &data);
        hashes.push(hash(&data));
    }
    let conn = t.connect(&srv).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let c = conn.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                let (_, n) = c
                    .retrieve_file("share", &format!("r/{i}.bin"), &mut out)
                    .await
                    .unwrap_or_else(|e| panic!("retrieve {i}: {e}"));
                (n, out)
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let (n, out) = t.await.unwrap();
        assert_eq!(n as usize, sizes[i], "file {i}");
        assert_eq!(hash(&out), hashes[i], "file {i}");
    }
}

async fn concurrent_listings_of_999_files(t: Target) {
    let srv = t.server();
    let dir = local(&srv, "many");
    fs::create_dir(&dir).unwrap();
    for i in 0..999 {
        fs::write(dir.join(format!("file-{i:03}.txt")), i.to_string()).unwrap();
    }
    let conn = t.connect(&srv).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = conn.clone();
            tokio::spawn(async move { c.list_path("share", "many").await })
        })
        .collect();
    for (k, t) in tasks.into_iter().enumerate() {
        let list = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("listing {k}: {e}"));
        assert_eq!(list.len(), 1001, "listing {k}");
        let n = names(&list);
        assert_eq!(n.len(), 999);
        let m = by_name(&list);
        for i in [0, 1, 500, 998] {
            assert_eq!(
                m[&format!("file-{i:03}.txt")].file_size,
                i.to_string().len() as u64
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Paths

async fn both_separators_with_and_without_leading_one(t: Target) {
    let srv = t.server();
    let data = content(2000, 300);
    put(&srv, "p1/p2/file.txt", &data);
    let conn = t.connect(&srv).await;
    let spellings = [
        "p1/p2/file.txt",
        "/p1/p2/file.txt",
        "p1\\p2\\file.txt",
        "\\p1\\p2\\file.txt",
        "/p1\\p2/file.txt",
        "\\p1/p2\\file.txt",
        "//p1//p2//file.txt",
    ];
    for p in spellings {
        let a = conn
            .get_attributes("share", p)
            .await
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(a.filename, "file.txt", "{p}");
        assert_eq!(a.file_size, 2000, "{p}");
        assert_eq!(hash(&retrieve(&conn, "share", p).await), hash(&data), "{p}");
    }
    for p in ["p1/p2", "/p1/p2", "p1\\p2", "\\p1\\p2\\", "/p1/p2/"] {
        let l = conn.list_path("share", p).await.unwrap();
        assert_eq!(names(&l), set(["file.txt"]), "{p}");
    }
    // Writing operations too.
    for (i, p) in ["/p1/new1", "p1\\new2", "\\p1/new3"]
        .into_iter()
        .enumerate()
    {
        conn.create_directory("share", p).await.unwrap();
        let file = format!("{p}/f{i}.txt");
        conn.store_file("share", &file, &mut &b"x"[..])
            .await
            .unwrap();
        assert!(local(&srv, &format!("p1/new{}/f{i}.txt", i + 1)).exists());
    }
    conn.rename("share", "\\p1\\new1\\f0.txt", "/p1/new1/g0.txt")
        .await
        .unwrap();
    assert!(local(&srv, "p1/new1/g0.txt").exists());
    conn.delete_files("share", "\\p1\\new1\\*.txt", false)
        .await
        .unwrap();
    conn.delete_files("share", "p1/new2/*", false)
        .await
        .unwrap();
    conn.delete_files("share", "/p1\\new3/f2.txt", false)
        .await
        .unwrap();
    for p in ["p1/new1", "\\p1\\new2", "/p1/new3/"] {
        conn.delete_directory("share", p).await.unwrap();
    }
    assert_eq!(names_of(&conn, "p1").await, set(["p2"]));
}

// ---------------------------------------------------------------------------
// Timeouts

async fn timeouts_on_a_paused_server_then_recovery(t: Target) {
    let srv = t.server();
    let data = content(100_000, 400);
    put(&srv, "t.bin", &data);
    mkdir(&srv, "dir");
    let conn = t.connect(&srv).await;
    // Connect the tree first: what times out is the operation itself.
    conn.get_attributes("share", "t.bin").await.unwrap();
    let quick = conn.with_timeout(Duration::from_millis(300));

    srv.pause();
    let mut results = Vec::new();
    macro_rules! timed {
        ($what:expr, $op:expr) => {{
            let start = Instant::now();
            let r = $op;
            results.push(($what, start.elapsed(), r.map(|_| ())));
        }};
    }
    timed!(
        "get_attributes",
        quick.get_attributes("share", "t.bin").await
    );
    timed!("list_path", quick.list_path("share", "dir").await);
    timed!(
        "retrieve_file",
        quick.retrieve_file("share", "t.bin", &mut Vec::new()).await
    );
    timed!(
        "create_directory",
        quick.create_directory("share", "new").await
    );
    timed!(
        "store_file",
        quick.store_file("share", "s.bin", &mut &b"abc"[..]).await
    );
    timed!("echo", quick.echo(b"x").await);
    srv.resume();

    for (what, elapsed, r) in results {
        eprintln!("{what}: {elapsed:?}");
        match r {
            Err(Error::Timeout { after, .. }) => {
                assert_eq!(after, Duration::from_millis(300), "{what}");
            }
            other => panic!("{what}: expected a timeout, got {other:?}"),
        }
        assert!(
            elapsed >= Duration::from_millis(290) && elapsed < Duration::from_millis(450),
            "{what}: timed out after {elapsed:?}"
        );
    }

    // The connection recovers: the late responses are dropped and new
    // requests are answered.
    assert!(conn.is_ready());
    conn.echo(b"back").await.unwrap();
    let a = conn.get_attributes("share", "t.bin").await.unwrap();
    assert_eq!(a.file_size, 100_000);
    assert_eq!(hash(&retrieve(&conn, "share", "t.bin").await), hash(&data));
    let quick_ok = quick.list_path("share", "/").await.unwrap();
    assert!(names(&quick_ok).contains("t.bin"));
    conn.store_file("share", "after.txt", &mut &b"after"[..])
        .await
        .unwrap();
    assert_eq!(read_local(&srv, "after.txt"), b"after");
    conn.close().await.unwrap();
}

// ---------------------------------------------------------------------------
// Beyond the reference's scenarios

/// Unix names that Windows forbids (`?`, `:`, `*`, `\`, `<`, `|`, `"`,
/// trailing dot or space, device names) are listed by Samba under mangled
/// 8.3 names; whatever a listing hands out must open again.
async fn names_windows_forbids_round_trip_through_their_listed_names(t: Target) {
    let srv = t.server();
    let odd = [
        "what?.txt",
        "a:b.txt",
        "star*.txt",
        "back\\slash.txt",
        "lt<gt>.txt",
        "pipe|.txt",
        "quote\".txt",
        "trailing.",
        "trailing ",
        "CON",
    ];
    let mut by_content = BTreeSet::new();
    for n in odd {
        put(&srv, &format!("odd/{n}"), n.as_bytes());
        by_content.insert(n.to_string());
    }
    let conn = t.connect(&srv).await;
    let list = conn.list_path("share", "odd").await.unwrap();
    assert_eq!(names(&list).len(), odd.len(), "{list:?}");
    let mut seen = BTreeSet::new();
    for f in list
        .iter()
        .filter(|f| f.filename != "." && f.filename != "..")
    {
        let path = format!("odd/{}", f.filename);
        let a = conn
            .get_attributes("share", &path)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(a.file_size, f.file_size, "{path}");
        let data = retrieve(&conn, "share", &path).await;
        assert_eq!(data.len() as u64, f.file_size, "{path}");
        seen.insert(String::from_utf8(data).unwrap());
    }
    assert_eq!(
        seen, by_content,
        "each file read back through its listed name"
    );
}

/// Offsets past 4 GiB (sparse files, so nothing big is written).
async fn offsets_past_4_gib(t: Target) {
    const GIB: u64 = 1 << 30;
    let srv = t.server();
    let data = content((1 << 20) + 333, 500);
    let at = 4 * GIB + 12_345;
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::File::create(local(&srv, "sparse.bin")).unwrap();
        f.set_len(5 * GIB).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&data).unwrap();
    }
    srv.chown_to_user(srv.share_path()).unwrap();
    let conn = t.connect(&srv).await;
    let a = conn.get_attributes("share", "sparse.bin").await.unwrap();
    assert_eq!(a.file_size, 5 * GIB);
    let listed = by_name(&conn.list_path("share", "/").await.unwrap());
    assert_eq!(listed["sparse.bin"].file_size, 5 * GIB);

    let mut out = Vec::new();
    let (_, n) = conn
        .retrieve_file_from_offset("share", "sparse.bin", &mut out, at, Some(data.len() as u64))
        .await
        .unwrap();
    assert_eq!(n, data.len() as u64);
    assert_eq!(hash(&out), hash(&data));
    // The tail of the file, to its end.
    let mut out = Vec::new();
    conn.retrieve_file_from_offset("share", "sparse.bin", &mut out, 5 * GIB - 10, None)
        .await
        .unwrap();
    assert_eq!(out, vec![0u8; 10]);
    {
        let file = conn.open_file("share", "sparse.bin").await.unwrap();
        assert_eq!(file.read_at(at + 100, 50).await.unwrap(), data[100..150]);
        file.close().await.unwrap();
    }

    // Store past 4 GiB: small (one compound) and large (pipelined).
    let small = b"written far away";
    conn.store_file_from_offset("share", "far.bin", &mut &small[..], 6 * GIB, false)
        .await
        .unwrap();
    let big = content(2 * (1 << 20) + 1, 501);
    conn.store_file_from_offset("share", "far.bin", &mut &big[..], 4 * GIB + 1, false)
        .await
        .unwrap();
    let meta = fs::metadata(local(&srv, "far.bin")).unwrap();
    assert_eq!(meta.len(), 6 * GIB + small.len() as u64);
    let read_at = |off: u64, len: usize| {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = fs::File::open(local(&srv, "far.bin")).unwrap();
        f.seek(SeekFrom::Start(off)).unwrap();
        let mut buf = vec![0; len];
        f.read_exact(&mut buf).unwrap();
        buf
    };
    assert_eq!(read_at(6 * GIB, small.len()), small);
    assert_eq!(hash(&read_at(4 * GIB + 1, big.len())), hash(&big));
}

/// Samba serves SMB clients case-insensitively: lookups in another case
/// work, and a rename that only changes the case is not a collision.
async fn case_insensitive_lookups_and_case_only_rename(t: Target) {
    let srv = t.server();
    put(&srv, "Dir/Case.txt", b"case");
    let conn = t.connect(&srv).await;
    assert_eq!(
        conn.get_attributes("share", "DIR/CASE.TXT")
            .await
            .unwrap()
            .file_size,
        4
    );
    assert_eq!(retrieve(&conn, "share", "dir/case.TXT").await, b"case");
    conn.rename("share", "Dir/Case.txt", "Dir/CASE.TXT")
        .await
        .unwrap();
    assert_eq!(names_of(&conn, "Dir").await, set(["CASE.TXT"]));
    assert_eq!(read_local(&srv, "Dir/CASE.TXT"), b"case");
    conn.rename("share", "dir", "DIR").await.unwrap();
    assert_eq!(names_of(&conn, "/").await, set(["DIR"]));
}

/// The same operations on a server that stops at SMB 2.1 (HMAC-SHA256
/// signing, no SMB3), over NetBIOS framing.
async fn file_operations_over_smb_2_1_signed(t: Target) {
    let srv = t.server();
    let dir = local(&srv, "many");
    fs::create_dir(&dir).unwrap();
    for i in 0..999 {
        fs::write(dir.join(format!("f{i}")), b"").unwrap();
    }
    let big = content(3 * (1 << 20) + 5, 600);
    put(&srv, "big.bin", &big);
    let conn = t.connect(&srv).await;
    assert_eq!(conn.dialect(), smbkit::Dialect::SMB2_1);
    assert_eq!(names_of(&conn, "many").await.len(), 999);
    assert_eq!(hash(&retrieve(&conn, "share", "big.bin").await), hash(&big));
    let up = content(2 * (1 << 20) + 7, 601);
    failure(
        conn.store_file("share", "up/loaded 😀.bin", &mut &up[..])
            .await,
        &[NtStatus::OBJECT_PATH_NOT_FOUND],
    );
    conn.create_directory("share", "up").await.unwrap();
    conn.store_file("share", "up/loaded 😀.bin", &mut &up[..])
        .await
        .unwrap();
    assert_eq!(
        hash(&retrieve(&conn, "share", "up/loaded 😀.bin").await),
        hash(&up)
    );
    conn.rename("share", "up/loaded 😀.bin", "up/renamed.bin")
        .await
        .unwrap();
    let mut out = Vec::new();
    conn.retrieve_file_from_offset("share", "up/renamed.bin", &mut out, 1 << 20, Some(5000))
        .await
        .unwrap();
    assert_eq!(out, up[1 << 20..(1 << 20) + 5000]);
    conn.delete_files("share", "up/*.bin", false).await.unwrap();
    conn.delete_directory("share", "up").await.unwrap();
    conn.delete_files("share", "many", true).await.unwrap();
    assert_eq!(names_of(&conn, "/").await, set(["big.bin"]));
}

/// Failed requests (error responses, failed compounds) must give their
/// credits (SMB1: MaxMpxCount slots) back: many of them in a row, and many
/// at once, leave the connection as able as before.
async fn failures_do_not_use_up_credits(t: Target) {
    let srv = t.server();
    let big = content(3 * (1 << 20), 700);
    put(&srv, "big.bin", &big);
    mkdir(&srv, "folder");
    let conn = t.connect(&srv).await;
    // A hang here would mean credits ran out: fail instead of waiting.
    let conn = conn.with_timeout(Duration::from_secs(20));
    for i in 0..300 {
        failure(
            conn.get_attributes("share", &format!("missing-{i}")).await,
            &[NtStatus::OBJECT_NAME_NOT_FOUND],
        );
        if i % 3 == 0 {
            failure(
                conn.retrieve_file("share", "folder", &mut Vec::new()).await,
                &[NtStatus::FILE_IS_A_DIRECTORY],
            );
            failure(
                conn.list_path("share", "big.bin").await,
                &[NtStatus::NOT_A_DIRECTORY],
            );
        }
    }
    let tasks: Vec<_> = (0..300)
        .map(|k| {
            let c = conn.clone();
            tokio::spawn(async move {
                if k % 2 == 0 {
                    c.get_attributes("share", &format!("missing-{k}"))
                        .await
                        .map(|_| ())
                } else {
                    c.get_attributes("share", "big.bin").await.map(|_| ())
                }
            })
        })
        .collect();
    for (k, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        if k % 2 == 0 {
            failure(r, &[NtStatus::OBJECT_NAME_NOT_FOUND]);
        } else {
            r.unwrap_or_else(|e| panic!("#{k}: {e}"));
        }
    }
    // Large multi-credit transfers still get their window.
    assert_eq!(hash(&retrieve(&conn, "share", "big.bin").await), hash(&big));
    conn.store_file("share", "copy.bin", &mut &big[..])
        .await
        .unwrap();
    assert_eq!(hash(&read_local(&srv, "copy.bin")), hash(&big));
}

/// Many requests time out at once while the server is stopped; once it
/// runs again, their late answers are dropped and the connection carries
/// on with all its credits (SMB1: MaxMpxCount slots).
async fn many_timeouts_at_once_then_recovery(t: Target) {
    let srv = t.server();
    for i in 0..20 {
        put(&srv, &format!("m/{i}.txt"), &content(i * 10, i as u32));
    }
    let conn = t.connect(&srv).await;
    conn.list_path("share", "m").await.unwrap();
    let quick = conn.with_timeout(Duration::from_millis(300));
    srv.pause();
    let start = Instant::now();
    let tasks: Vec<_> = (0..100)
        .map(|k| {
            let c = quick.clone();
            tokio::spawn(async move {
                let r = c
                    .get_attributes("share", &format!("m/{}.txt", k % 20))
                    .await;
                (r, Instant::now())
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    srv.resume();
    for (k, (r, done)) in results.into_iter().enumerate() {
        assert!(matches!(r, Err(Error::Timeout { .. })), "#{k}: {r:?}");
        let took = done - start;
        assert!(took < Duration::from_millis(500), "#{k}: {took:?}");
    }
    let tasks: Vec<_> = (0..200)
        .map(|k| {
            let c = quick.clone();
            tokio::spawn(async move {
                let i = k % 20;
                let a = c.get_attributes("share", &format!("m/{i}.txt")).await;
                (i, a)
            })
        })
        .collect();
    for t in tasks {
        let (i, a) = t.await.unwrap();
        assert_eq!(a.unwrap().file_size, (i * 10) as u64);
    }
    assert_eq!(names_of(&conn, "m").await.len(), 20);
}

/// Pauses the server the first time data is written to it.
struct PauseOnFirstWrite<'a> {
    srv: &'a TestServer,
    paused: bool,
    out: Vec<u8>,
}

impl tokio::io::AsyncWrite for PauseOnFirstWrite<'_> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if !self.paused {
            self.paused = true;
            self.srv.pause();
        }
        self.out.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Yields `data`, pausing the server once `pause_after` bytes are out.
struct PauseAfter<'a> {
    srv: &'a TestServer,
    data: &'a [u8],
    pos: usize,
    pause_after: usize,
}

impl tokio::io::AsyncRead for PauseAfter<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.pos >= self.pause_after && self.pause_after > 0 {
            self.pause_after = 0;
            self.srv.pause();
        }
        let n = buf
            .remaining()
            .min(self.data.len() - self.pos)
            .min(64 * 1024);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// A large transfer whose server stops in the middle fails with a timeout
/// (the limit applies to each request), and the connection recovers.
async fn transfers_interrupted_by_a_paused_server_time_out(t: Target) {
    let srv = t.server();
    let big = content(24 << 20, 800);
    put(&srv, "big.bin", &big);
    let conn = t.connect(&srv).await;
    conn.get_attributes("share", "big.bin").await.unwrap();
    let quick = conn.with_timeout(Duration::from_millis(300));

    let mut w = PauseOnFirstWrite {
        srv: &srv,
        paused: false,
        out: Vec::new(),
    };
    let start = Instant::now();
    let r = quick.retrieve_file("share", "big.bin", &mut w).await;
    let took = start.elapsed();
    srv.resume();
    eprintln!("retrieve timed out after {took:?}, {} bytes", w.out.len());
    assert!(w.paused);
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(w.out.len() < big.len());
    assert!(w.out[..] == big[..w.out.len()], "what arrived is right");
    assert!(took < Duration::from_secs(2), "{took:?}");

    let data = content(24 << 20, 801);
    let mut reader = PauseAfter {
        srv: &srv,
        data: &data,
        pos: 0,
        pause_after: 3 << 20,
    };
    let start = Instant::now();
    let r = quick.store_file("share", "up.bin", &mut reader).await;
    let took = start.elapsed();
    srv.resume();
    eprintln!("store timed out after {took:?}");
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Back to normal.
    assert_eq!(
        hash(&retrieve(&quick, "share", "big.bin").await),
        hash(&big)
    );
    quick
        .store_file("share", "up.bin", &mut &data[..])
        .await
        .unwrap();
    assert_eq!(hash(&read_local(&srv, "up.bin")), hash(&data));
    // The stored file can go (see timed_out_opens_do_not_leak_server_handles
    // for big.bin, whose handle the timed-out retrieve leaked).
    conn.delete_files("share", "up.bin", false).await.unwrap();
    assert!(!local(&srv, "up.bin").exists());
}

/// Deletes `rel` through SMB and waits (up to 2 s) for it to disappear
/// locally: a file or folder deleted while some handle on it is still open
/// on the server only goes when that handle is closed.
async fn deleted_for_real(conn: &Connection, srv: &TestServer, rel: &str, dir: bool) -> bool {
    let r = if dir {
        conn.delete_directory("share", rel).await
    } else {
        conn.delete_files("share", rel, false).await
    };
    r.unwrap_or_else(|e| panic!("delete {rel}: {e}"));
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if !local(srv, rel).exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// An operation that times out after its CREATE was sent must not leave
/// the handle the server opens for it (whose response comes too late) open
/// for the rest of the connection: the file would stay locked and, once
/// deleted, DELETE_PENDING until the connection closes.
async fn timed_out_opens_do_not_leak_server_handles(t: Target) {
    let srv = t.server();
    put(&srv, "opened.txt", b"x");
    mkdir(&srv, "listed");
    let big = content(8 << 20, 900);
    put(&srv, "retrieved.bin", &big);
    let conn = t.connect(&srv).await;
    conn.get_attributes("share", "opened.txt").await.unwrap();
    let quick = conn.with_timeout(Duration::from_millis(300));

    srv.pause();
    let mut results = Vec::new();
    {
        let r = quick.open_file("share", "opened.txt").await;
        results.push(("open_file", r.map(|_| ())));
    }
    let r = quick.list_path("share", "listed").await;
    results.push(("list_path", r.map(|_| ())));
    srv.resume();
    let mut w = PauseOnFirstWrite {
        srv: &srv,
        paused: false,
        out: Vec::new(),
    };
    let r = quick.retrieve_file("share", "retrieved.bin", &mut w).await;
    results.push(("retrieve_file", r.map(|_| ())));
    srv.resume();
    for (what, r) in results {
        assert!(matches!(r, Err(Error::Timeout { .. })), "{what}: {r:?}");
    }
    // The late responses have arrived once this is answered.
    conn.echo(b"sync").await.unwrap();

    let mut leaked = Vec::new();
    for (rel, dir) in [
        ("opened.txt", false),
        ("listed", true),
        ("retrieved.bin", false),
    ] {
        if !deleted_for_real(&conn, &srv, rel, dir).await {
            let status = conn.get_attributes("share", rel).await;
            leaked.push(format!("{rel}: {status:?}"));
        }
    }
    assert!(
        leaked.is_empty(),
        "still open on the server after the timeout: {leaked:#?}"
    );
}

/// Over SMB1, get_attributes, store_file and list_path open with one
/// request (NT_CREATE_ANDX, FIND_FIRST2) and close with another: when the
/// open times out, its late answer carries a FID or search handle nobody
/// closes unless the client does so when it arrives. (Over SMB2 the same
/// operations are single compounds.)
async fn timed_out_opens_of_quick_operations_do_not_leak(t: Target) {
    let srv = t.server();
    put(&srv, "attrs.txt", b"x");
    for i in 0..300 {
        put(
            &srv,
            &format!("listed/entry-{i:03}-with-a-long-name.txt"),
            b"",
        );
    }
    let conn = t.connect(&srv).await;
    conn.get_attributes("share", "attrs.txt").await.unwrap();
    let quick = conn.with_timeout(Duration::from_millis(300));

    srv.pause();
    let r1 = quick.get_attributes("share", "attrs.txt").await;
    let r2 = quick
        .store_file("share", "stored.txt", &mut &b"s"[..])
        .await;
    let r3 = quick.list_path("share", "listed").await;
    srv.resume();
    for (what, r) in [
        ("get_attributes", r1.map(|_| ())),
        ("store_file", r2.map(|_| ())),
        ("list_path", r3.map(|_| ())),
    ] {
        assert!(matches!(r, Err(Error::Timeout { .. })), "{what}: {r:?}");
    }
    conn.echo(b"sync").await.unwrap();

    let mut leaked = Vec::new();
    for rel in ["attrs.txt", "stored.txt"] {
        if !deleted_for_real(&conn, &srv, rel, false).await {
            let status = conn.get_attributes("share", rel).await;
            leaked.push(format!("{rel}: {status:?}"));
        }
    }
    conn.delete_files("share", "listed/*", false).await.unwrap();
    if !deleted_for_real(&conn, &srv, "listed", true).await {
        leaked.push("listed".into());
    }
    assert!(
        leaked.is_empty(),
        "still open on the server after the timeout: {leaked:#?}"
    );
}

/// SMB1 and SMB2 describe the same files alike: a server that speaks both
/// is asked over each, and every SharedFile field of the listings and of
/// get_attributes must agree (the access time aside: reading may move it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_and_smb2_describe_files_alike() {
    let srv = TestServer::start(Profile::Legacy)
        .expect("start the test Samba server (run scripts/install-deps)");
    put(&srv, "d/plain.txt", &content(1234, 1));
    put(
        &srv,
        "d/A long name needing a short one.txt",
        &content(70_000, 2),
    );
    put(&srv, "d/ünïcödé 😀.bin", b"unicode");
    put(&srv, "d/empty", b"");
    put(&srv, "d/ro.txt", b"read only");
    put(&srv, "d/what?.txt", b"mangled");
    mkdir(&srv, "d/sub folder");
    let smb2 = Target::smb2(Profile::Legacy, NETBIOS).connect(&srv).await;
    let smb1 = Target {
        smb1: true,
        profile: Profile::Legacy,
        via: DIRECT,
    }
    .connect(&srv)
    .await;
    smb2.reset_file_attributes(
        "share",
        "d/ro.txt",
        attributes::READONLY | attributes::HIDDEN,
    )
    .await
    .unwrap();
    let same = |a: &SharedFile, b: &SharedFile, what: &str| {
        let mut a = a.clone();
        let mut b = b.clone();
        a.last_access_time = 0.0;
        b.last_access_time = 0.0;
        assert_eq!(a, b, "{what}: SMB2 (left) and SMB1 (right) differ");
    };
    for dir in ["d", "", "d/sub folder"] {
        let l2 = by_name(&smb2.list_path("share", dir).await.unwrap());
        let l1 = by_name(&smb1.list_path("share", dir).await.unwrap());
        assert_eq!(
            l2.keys().collect::<Vec<_>>(),
            l1.keys().collect::<Vec<_>>(),
            "{dir:?}"
        );
        for (name, f2) in &l2 {
            same(f2, &l1[name], &format!("listing {dir:?}: {name}"));
            if name == "." || name == ".." {
                continue;
            }
            let path = format!("{dir}/{name}");
            let a2 = smb2.get_attributes("share", &path).await.unwrap();
            let a1 = smb1.get_attributes("share", &path).await.unwrap();
            same(&a2, &a1, &format!("get_attributes {path}"));
        }
    }
    let r2 = smb2.get_attributes("share", "/").await.unwrap();
    let r1 = smb1.get_attributes("share", "/").await.unwrap();
    same(&r2, &r1, "get_attributes of the root");
}

/// A file another client has open (sharing everything) is deleted alike
/// over SMB1 and SMB2: marked for deletion, gone once that client closes
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_and_smb2_delete_files_open_elsewhere_alike() {
    let srv = TestServer::start(Profile::Legacy)
        .expect("start the test Samba server (run scripts/install-deps)");
    put(&srv, "held by smb2.txt", b"a");
    put(&srv, "held by smb1.txt", b"b");
    // open_file has no SMB1 form yet: SMB2 holds both files open.
    let holder = Target::smb2(Profile::Legacy, DIRECT).connect(&srv).await;
    let smb2 = Target::smb2(Profile::Legacy, NETBIOS).connect(&srv).await;
    let smb1 = Target {
        smb1: true,
        profile: Profile::Legacy,
        via: DIRECT,
    }
    .connect(&srv)
    .await;
    for (conn, name) in [(&smb2, "held by smb2.txt"), (&smb1, "held by smb1.txt")] {
        let held = holder.open_file("share", name).await.unwrap();
        conn.delete_files("share", name, false)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        held.close().await.unwrap();
        assert!(!local(&srv, name).exists(), "{name}");
    }
}

/// The same failures give the same statuses over SMB1 and SMB2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_and_smb2_fail_alike() {
    let srv = TestServer::start(Profile::Legacy)
        .expect("start the test Samba server (run scripts/install-deps)");
    put(&srv, "file.txt", b"x");
    put(&srv, "full/inner.txt", b"x");
    put(&srv, "locked.log", b"x");
    let rootdir = local(&srv, "rootdir");
    fs::create_dir(&rootdir).unwrap();
    fs::write(rootdir.join("inner.txt"), b"root's").unwrap();
    let smb2 = Target::smb2(Profile::Legacy, NETBIOS).connect(&srv).await;
    let smb1 = Target {
        smb1: true,
        profile: Profile::Legacy,
        via: DIRECT,
    }
    .connect(&srv)
    .await;
    smb2.reset_file_attributes("share", "locked.log", attributes::READONLY)
        .await
        .unwrap();
    let mut differ = Vec::new();
    macro_rules! alike {
        ($what:expr, |$c:ident| $op:expr) => {{
            let status = |r: Result<_, Error>| match r {
                Ok(_) => "Ok".to_string(),
                Err(e) => format!("{:?}", e.status()),
            };
            let $c = &smb2;
            let s2 = status($op.await.map(|_| ()));
            let $c = &smb1;
            let s1 = status($op.await.map(|_| ()));
            eprintln!("{}: SMB2 {s2}, SMB1 {s1}", $what);
            if s1 != s2 {
                differ.push(format!("{}: SMB2 {s2}, SMB1 {s1}", $what));
            }
        }};
    }
    alike!("list missing", |c| c.list_path("share", "missing"));
    alike!("list missing/deeper", |c| c
        .list_path("share", "missing/deeper"));
    alike!("list a file", |c| c.list_path("share", "file.txt"));
    alike!("list no share", |c| c.list_path("nosuchshare", "/"));
    alike!("get_attributes missing", |c| c
        .get_attributes("share", "missing"));
    alike!("get_attributes no/such/path", |c| c
        .get_attributes("share", "no/such/path"));
    alike!("get_attributes file.txt/below", |c| c
        .get_attributes("share", "file.txt/below"));
    alike!("retrieve missing", |c| c.retrieve_file(
        "share",
        "missing",
        &mut Vec::new()
    ));
    alike!("retrieve no/such/dir/x", |c| c.retrieve_file(
        "share",
        "no/such/dir/x",
        &mut Vec::new()
    ));
    alike!("retrieve a folder", |c| c.retrieve_file(
        "share",
        "full",
        &mut Vec::new()
    ));
    alike!("store into readonly", |c| c.store_file(
        "readonly",
        "new.txt",
        &mut &b"x"[..]
    ));
    alike!("store over readonly", |c| c.store_file(
        "readonly",
        "hello.txt",
        &mut &b"x"[..]
    ));
    alike!("store into missing dir", |c| c.store_file(
        "share",
        "nodir/x",
        &mut &b"x"[..]
    ));
    alike!("mkdir readonly", |c| c
        .create_directory("readonly", "newdir"));
    alike!("mkdir existing", |c| c.create_directory("share", "full"));
    alike!("mkdir over a file", |c| c
        .create_directory("share", "file.txt"));
    alike!("mkdir nope/child", |c| c
        .create_directory("share", "nope/child"));
    alike!("rmdir missing", |c| c.delete_directory("share", "missing"));
    alike!("rmdir not empty", |c| c.delete_directory("share", "full"));
    alike!("rmdir a file", |c| c.delete_directory("share", "file.txt"));
    alike!("rename onto file", |c| c.rename(
        "share",
        "file.txt",
        "locked.log"
    ));
    alike!("rename onto folder", |c| c
        .rename("share", "file.txt", "full"));
    alike!("rename missing", |c| c.rename("share", "missing", "x"));
    alike!("rename nodir/missing", |c| c.rename(
        "share",
        "nodir/missing",
        "x"
    ));
    alike!("rename into missing dir", |c| c
        .rename("share", "file.txt", "nodir/x"));
    alike!("delete nothing matches", |c| c.delete_files(
        "share",
        "*.nothing",
        false
    ));
    alike!("delete in missing dir", |c| c.delete_files(
        "share",
        "nodir/*.txt",
        false
    ));
    alike!("delete read-only", |c| c.delete_files(
        "share",
        "locked.log",
        false
    ));
    alike!("delete root's tree", |c| c
        .delete_files("share", "rootdir", true));
    alike!("attributes nothing matches", |c| c
        .reset_file_attributes("share", "*.none", 0));
    assert!(differ.is_empty(), "{differ:#?}");
}

// ---------------------------------------------------------------------------
// The tests: each scenario over SMB2 (`smb2::name`) and, unless it is about
// SMB2 alone, over SMB1 (`smb1::name`, with the other framing and the same
// signing, and `smb1_other_framing::name`, with the same framing as SMB2).

/// `name(worker threads): smb2(Profile, Via), smb1(Via[, "ignore reason"]);`
macro_rules! scenarios {
    ($(
        $name:ident($threads:literal): smb2($profile:ident, $via2:ident)
            $(, smb1($via1:ident $(, $reason:literal)?))?;
    )*) => {
        mod smb2 {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $name() {
                    super::$name(Target::smb2(Profile::$profile, $via2)).await
                }
            )*
        }
        mod smb1 {
            use super::*;
            $($(
                $(#[ignore = $reason])?
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $name() {
                    super::$name(Target::smb1($via1)).await
                }
            )?)*
        }
        /// The SMB1 runs again with the other framing: every scenario over
        /// SMB1 on both NBSS and direct TCP.
        mod smb1_other_framing {
            use super::*;
            $($(
                $(#[ignore = $reason])?
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $name() {
                    super::$name(Target::smb1($via1).other_framing()).await
                }
            )?)*
        }
    };
}

scenarios! {
    list_path_root_and_subfolder(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    list_path_999_files(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    list_path_10000_entries(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    list_path_directory_only_and_file_only_filters(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    list_path_patterns_unicode_and_empty_result(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    list_path_failures(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    list_path_timestamps_sizes_and_attributes(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    // Both framings in each, on one server (see Target::other_framing).
    retrieve_multi_chunk_file(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT);
    retrieve_long_and_unicode_names(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    retrieve_from_offset_with_large_small_and_zero_max_length(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    retrieve_failures(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    store_long_and_unicode_names_round_trip(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    store_from_offset(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    store_then_retrieve_round_trip_across_chunk_sizes(2): smb2(SigningMandatory, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    store_into_readonly_share_is_denied(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    rename_files_and_folders_english_and_unicode(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    rename_onto_existing_name_and_missing_source_fail(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    create_and_delete_nested_and_unicode_directories(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    delete_non_empty_directory_fails_and_keeps_everything(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    create_existing_directory_collides(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    get_attributes_of_files_and_folders(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    get_attributes_of_missing_paths(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    delete_files_by_pattern_keeps_the_rest_and_matching_folders(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    delete_files_with_matching_folders_removes_whole_trees(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    delete_files_matching_nothing_fails(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    delete_files_failure_leaves_other_files_in_place(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    delete_files_pattern_with_trailing_separator_is_refused(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    set_file_times_sets_only_the_times_given(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS);
    reset_file_attributes_sets_and_clears(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    concurrent_get_attributes_200(4): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    concurrent_retrieves_20_of_different_sizes(4): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    concurrent_listings_of_999_files(4): smb2(Modern, DIRECT), smb1(NETBIOS);
    both_separators_with_and_without_leading_one(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    timeouts_on_a_paused_server_then_recovery(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    names_windows_forbids_round_trip_through_their_listed_names(2): smb2(Modern, NETBIOS), smb1(DIRECT);
    offsets_past_4_gib(2): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    case_insensitive_lookups_and_case_only_rename(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    // SMB2 only: SMB 2.1's dialect and HMAC-SHA256 signing.
    file_operations_over_smb_2_1_signed(2): smb2(Smb21Max, NETBIOS_SIGNED);
    failures_do_not_use_up_credits(4): smb2(Modern, DIRECT_SIGNED), smb1(NETBIOS_SIGNED);
    many_timeouts_at_once_then_recovery(4): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
    transfers_interrupted_by_a_paused_server_time_out(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    timed_out_opens_do_not_leak_server_handles(2): smb2(Modern, DIRECT), smb1(NETBIOS);
    timed_out_opens_of_quick_operations_do_not_leak(2): smb2(Modern, NETBIOS_SIGNED), smb1(DIRECT_SIGNED);
}
