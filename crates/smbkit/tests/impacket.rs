//! The file scenarios against impacket's SMB server, a second implementation beside Samba: over
//! SMB1 (where impacket allows one request at a time, MaxMpxCount 1, and has no large reads or
//! writes) and over SMB 2.0.2 (`-smb2support`). Each scenario is written once and runs in both
//! modules, `smb1` and `smb2`, each test with a server of its own; every transfer is checked by
//! content hash.
//!
//! Not here, because impacket does not implement them: security descriptors (its
//! QUERY_INFO/NT_TRANSACT_QUERY_SECURITY_DESC answers carry no real descriptor), snapshots
//! (FSCTL_SRV_ENUMERATE_SNAPSHOTS), signing and encryption, read-only shares with permissions,
//! SMB 2.1 and later dialects. Where impacket gets something wrong, the scenario says so and checks
//! only what it gets right:
//!
//! * Over SMB1, a listing longer than one FIND_FIRST2 response: its FIND_NEXT2 responses leave out
//!   the padding that each entry's NextEntryOffset counts (smbkit reports a decode error).
//! * Over SMB1, SMB_COM_RENAME onto an existing name replaces it (MS-CIFS §2.2.4.8 says
//!   STATUS_OBJECT_NAME_COLLISION).
//! * Over SMB2, a WRITE past the end of the file is skipped, yet answered as written in full; the
//!   WRITEs of one smbkit upload may reach the server out of order, so an SMB2 upload of more than
//!   one WRITE to impacket can lose data. `smb2::store_several_mib` shows it and is ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use smbkit::{Connection, Error, NtStatus, Protocol, SharedFile, SignOptions, SmbProtocolFactory};
use smbkit_testserver::{content, fnv1a as hash, impacket_available, ImpacketMode, ImpacketServer};

// ---------------------------------------------------------------------------
// Helpers

/// Where a scenario runs: impacket in `mode`, and the client speaking SMB1 or SMB2 to it.
#[derive(Debug, Clone, Copy)]
struct Target {
    mode: ImpacketMode,
    /// NetBIOS session framing instead of direct TCP.
    netbios: bool,
}

impl Target {
    fn server(self) -> ImpacketServer {
        assert!(
            impacket_available(),
            "impacket's venv is missing: run scripts/install-deps"
        );
        ImpacketServer::start(self.mode)
            .unwrap_or_else(|e| panic!("start impacket's SMB server ({}): {e}", self.mode))
    }

    fn smb1(self) -> bool {
        self.mode == ImpacketMode::Smb1
    }

    async fn connect(self, srv: &ImpacketServer) -> Connection {
        let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "IMPACKET")
            .unwrap()
            .direct_tcp(!self.netbios)
            .sign_options(SignOptions::WhenRequired)
            .protocol(if self.smb1() {
                Protocol::Smb1Only
            } else {
                Protocol::Smb2Only
            })
            .timeout(Duration::from_secs(20))
            .connect((srv.host(), srv.port()))
            .await
            .unwrap_or_else(|e| panic!("connect {self:?}: {e}\n{}", srv.log_tail(30)));
        assert_eq!(conn.is_using_smb2(), !self.smb1(), "{self:?}");
        conn
    }
}

/// The local path of `rel` (with `/` separators) in the share.
fn local(srv: &ImpacketServer, rel: &str) -> PathBuf {
    srv.share_path().join(rel)
}

/// Writes a file in the share locally (parents created).
fn put(srv: &ImpacketServer, rel: &str, data: &[u8]) {
    let p = local(srv, rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, data).unwrap();
}

fn read_local(srv: &ImpacketServer, rel: &str) -> Vec<u8> {
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

async fn names_of(conn: &Connection, srv: &ImpacketServer, path: &str) -> BTreeSet<String> {
    names(&conn.list_path(srv.share(), path).await.unwrap())
}

async fn retrieve(conn: &Connection, srv: &ImpacketServer, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (_, n) = conn
        .retrieve_file(srv.share(), path, &mut out)
        .await
        .unwrap_or_else(|e| panic!("retrieve {path}: {e}\n{}", srv.log_tail(30)));
    assert_eq!(n as usize, out.len(), "{path}: reported length");
    out
}

/// Asserts `r` failed with [`Error::OperationFailure`] carrying one of `want`.
#[track_caller]
fn failure<T: std::fmt::Debug>(r: Result<T, Error>, want: &[NtStatus]) {
    let err = match r {
        Ok(v) => panic!("expected one of {want:?}, got Ok({v:?})"),
        Err(e) => e,
    };
    let status = err.status();
    assert!(
        matches!(err, Error::OperationFailure { .. }) && status.is_some_and(|s| want.contains(&s)),
        "expected OperationFailure with one of {want:?}, got {err:?}"
    );
}

// ---------------------------------------------------------------------------
// Scenarios

async fn connect_echo_and_close(t: Target) {
    let srv = t.server();
    for netbios in [false, true] {
        let via = Target { netbios, ..t };
        let conn = via.connect(&srv).await;
        let info = conn.server_info();
        assert!(!info.is_guest && !info.is_anonymous, "{via:?}: {info:?}");
        assert!(!info.signing, "{via:?}: impacket does not sign");
        if t.smb1() {
            // What impacket allows: no large reads or writes, so requests are
            // bounded by its MaxBufferSize of 64000.
            assert!(info.max_read_size <= 64000, "{info:?}");
            assert!(info.max_write_size <= 64000, "{info:?}");
        } else {
            assert_eq!(conn.dialect().version_str(), "2.0.2");
        }
        for data in [&b"ping"[..], &content(4000, 1)] {
            assert_eq!(conn.echo(data).await.unwrap(), data, "{via:?}");
        }
        conn.close().await.unwrap();
        assert!(!conn.is_ready());
    }
    // A wrong password is refused.
    let wrong = SmbProtocolFactory::new(srv.user(), "not-the-password", "SMBKITCLIENT", "IMPACKET")
        .unwrap()
        .direct_tcp(true)
        .protocol(if t.smb1() {
            Protocol::Smb1Only
        } else {
            Protocol::Smb2Only
        })
        .connect((srv.host(), srv.port()))
        .await;
    assert!(
        matches!(wrong, Err(Error::AuthFailed { .. })),
        "{:?}",
        wrong.err()
    );
}

async fn list_shares_names_the_share_and_ipc(t: Target) {
    let srv = t.server();
    let conn = t.connect(&srv).await;
    let shares = conn
        .list_shares()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(30)));
    let names: BTreeSet<&str> = shares.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["IPC$", "SHARE"]), "{shares:#?}");
    let share = shares.iter().find(|s| s.name == "SHARE").unwrap();
    assert_eq!(share.share_type, smbkit::ShareType::Disk, "{share:?}");
    // Twice on one connection: the IPC$ tree and the pipe are reused or reopened cleanly.
    assert_eq!(conn.list_shares().await.unwrap().len(), shares.len());
}

async fn list_path_root_subfolder_and_pattern(t: Target) {
    let srv = t.server();
    put(&srv, "a.txt", b"alpha");
    put(&srv, "b.bin", &content(70_000, 2));
    put(&srv, "sub/c.txt", b"charlie");
    put(&srv, "sub/deeper/d.txt", b"delta");
    fs::create_dir(local(&srv, "empty")).unwrap();
    let conn = t.connect(&srv).await;

    let root = conn.list_path(srv.share(), "/").await.unwrap();
    assert_eq!(names(&root), set(["a.txt", "b.bin", "empty", "sub"]));
    let root = by_name(&root);
    assert_eq!(root["a.txt"].file_size, 5);
    assert_eq!(root["b.bin"].file_size, 70_000);
    assert!(!root["a.txt"].is_directory());
    assert!(root["sub"].is_directory() && root["empty"].is_directory());

    assert_eq!(names_of(&conn, &srv, "sub").await, set(["c.txt", "deeper"]));
    assert_eq!(names_of(&conn, &srv, "/sub/deeper/").await, set(["d.txt"]));
    assert!(names_of(&conn, &srv, "empty").await.is_empty());
    let txt = conn
        .list_path_with(
            srv.share(),
            "/",
            smbkit_proto::fscc::search::DEFAULT,
            "*.txt",
        )
        .await
        .unwrap();
    assert_eq!(names(&txt), set(["a.txt"]));
}

async fn list_path_of_many_files(t: Target) {
    // Over SMB2, more entries than one QUERY_DIRECTORY response holds. Over SMB1, as many as one
    // FIND_FIRST2 response holds (about 35 KB of entries; see the top of this file for FIND_NEXT2).
    let srv = t.server();
    let count = if t.smb1() { 200 } else { 600 };
    let want: BTreeSet<String> = (0..count)
        .map(|i| format!("file-with-a-longish-name-{i:04}.dat"))
        .collect();
    for (i, name) in want.iter().enumerate() {
        put(&srv, &format!("many/{name}"), &content(i, i as u32));
    }
    let conn = t.connect(&srv).await;
    let list = conn.list_path(srv.share(), "many").await.unwrap();
    assert_eq!(names(&list), want);
    for f in list
        .iter()
        .filter(|f| f.filename != "." && f.filename != "..")
    {
        let i: usize = f.filename[25..29].parse().unwrap();
        assert_eq!(f.file_size, i as u64, "{f:?}");
    }
    // Several listings at once on the one connection (over SMB1, taking turns for impacket's one
    // request in flight).
    let lists = futures_join(
        (0..4)
            .map(|_| {
                let conn = conn.clone();
                let share = srv.share().to_string();
                tokio::spawn(async move { conn.list_path(&share, "many").await })
            })
            .collect(),
    )
    .await;
    for l in lists {
        assert_eq!(names(&l.unwrap()), want);
    }
}

async fn get_attributes_of_files_folders_and_missing_paths(t: Target) {
    let srv = t.server();
    put(&srv, "dir/file.bin", &content(123_456, 3));
    put(&srv, "dir/empty", b"");
    let conn = t.connect(&srv).await;

    let f = conn
        .get_attributes(srv.share(), "dir/file.bin")
        .await
        .unwrap();
    assert_eq!(f.filename, "file.bin");
    assert_eq!(f.file_size, 123_456);
    assert!(!f.is_directory());
    let mtime = fs::metadata(local(&srv, "dir/file.bin"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((f.last_write_time - mtime).abs() < 60.0, "{f:?}");

    let d = conn.get_attributes(srv.share(), "/dir").await.unwrap();
    assert!(d.is_directory(), "{d:?}");
    let e = conn.get_attributes(srv.share(), "dir/empty").await.unwrap();
    assert_eq!(e.file_size, 0);

    // Listing and get_attributes agree.
    let listed = by_name(&conn.list_path(srv.share(), "dir").await.unwrap());
    assert_eq!(listed["file.bin"].file_size, f.file_size);
    assert_eq!(listed["file.bin"].is_directory(), f.is_directory());

    for missing in ["nothing.txt", "dir/nothing", "nodir/file"] {
        failure(
            conn.get_attributes(srv.share(), missing).await,
            &[
                NtStatus::OBJECT_NAME_NOT_FOUND,
                NtStatus::OBJECT_PATH_NOT_FOUND,
                NtStatus::NO_SUCH_FILE,
            ],
        );
    }
}

async fn retrieve_several_mib(t: Target) {
    // 5 MiB is about 85 READ_ANDX of impacket's SMB1 limit, each waiting for the one before
    // (MaxMpxCount 1), or 80 SMB2 READs.
    let srv = t.server();
    let data = content(5 * (1 << 20) + 4321, 7);
    put(&srv, "big/file.bin", &data);
    put(&srv, "big/empty", b"");
    let conn = t.connect(&srv).await;
    let started = Instant::now();
    let back = retrieve(&conn, &srv, "big/file.bin").await;
    let took = started.elapsed();
    assert_eq!(hash(&back), hash(&data));
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(retrieve(&conn, &srv, "/big/empty").await.is_empty());
}

async fn store_files_of_one_request(t: Target) {
    // Up to what one WRITE_ANDX carries (63 936 bytes here), or over SMB2 up to 65 535 bytes,
    // which smbkit sends as one CREATE + WRITE + CLOSE.
    let srv = t.server();
    let conn = t.connect(&srv).await;
    conn.create_directory(srv.share(), "up").await.unwrap();
    let top = if t.smb1() { 63_936 } else { 65_535 };
    for (i, len) in [0, 1, 4096, top].into_iter().enumerate() {
        let data = content(len, 40 + i as u32);
        let name = format!("up/file-{len}.bin");
        let n = conn
            .store_file(srv.share(), &name, &mut &data[..])
            .await
            .unwrap_or_else(|e| panic!("store {len} bytes: {e}\n{}", srv.log_tail(30)));
        assert_eq!(n, len as u64);
        assert_eq!(hash(&read_local(&srv, &name)), hash(&data), "{name}");
        assert_eq!(hash(&retrieve(&conn, &srv, &name).await), hash(&data));
    }
    // A store replaces what was there.
    let name = format!("up/file-{top}.bin");
    conn.store_file(srv.share(), &name, &mut &b"short"[..])
        .await
        .unwrap();
    assert_eq!(read_local(&srv, &name), b"short");
}

async fn store_several_mib(t: Target) {
    // More than one request: 5 MiB is about 85 WRITE_ANDX of impacket's SMB1 limit, each waiting
    // for the slot of the one before (MaxMpxCount 1) while the upload keeps sending, or 80 SMB2
    // WRITEs.
    let srv = t.server();
    let conn = t.connect(&srv).await;
    let sizes = [63_937, 65_536, 5 * (1 << 20) + 4321];
    for (i, &len) in sizes.iter().enumerate() {
        let data = content(len, 10 + i as u32);
        let name = format!("file-{len}.bin");
        let started = Instant::now();
        let n = conn
            .store_file(srv.share(), &name, &mut &data[..])
            .await
            .unwrap_or_else(|e| panic!("store {len} bytes: {e}\n{}", srv.log_tail(30)));
        let took = started.elapsed();
        assert_eq!(n, len as u64);
        assert_eq!(hash(&read_local(&srv, &name)), hash(&data), "{name}");
        // Far from any time limit: no request waits for a slot that is not coming.
        assert!(took < Duration::from_secs(15), "{name}: {took:?}");
        let back = retrieve(&conn, &srv, &name).await;
        assert_eq!(hash(&back), hash(&data), "{name}: retrieved");
    }
}

async fn concurrent_stores_and_retrieves_on_one_connection(t: Target) {
    // Several transfers sharing the connection (`smbkit put -j 4`): over SMB1 they take turns for
    // impacket's one slot, and none waits on a slot another holds while it waits itself. (Over
    // SMB2 the files are stored in one WRITE each: see the top of this file.)
    let srv = t.server();
    let conn = t.connect(&srv).await;
    let len = if t.smb1() { 1 << 20 } else { 60_000 };
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("c{i}.bin"), content(len + i * 1000, 20 + i as u32)))
        .collect();
    let stores = files
        .iter()
        .map(|(name, data)| {
            let (conn, share) = (conn.clone(), srv.share().to_string());
            let (name, data) = (name.clone(), data.clone());
            tokio::spawn(async move { conn.store_file(&share, &name, &mut &data[..]).await })
        })
        .collect();
    for (r, (_, data)) in futures_join(stores).await.into_iter().zip(&files) {
        assert_eq!(r.unwrap(), data.len() as u64);
    }
    for (name, data) in &files {
        assert_eq!(hash(&read_local(&srv, name)), hash(data), "{name}");
    }
    let gets = files
        .iter()
        .map(|(name, _)| {
            let (conn, share, name) = (conn.clone(), srv.share().to_string(), name.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                conn.retrieve_file(&share, &name, &mut out)
                    .await
                    .map(|_| out)
            })
        })
        .collect();
    for (r, (name, data)) in futures_join(gets).await.into_iter().zip(&files) {
        assert_eq!(hash(&r.unwrap()), hash(data), "{name}");
    }
}

async fn open_file_reads_at_offsets_and_streams(t: Target) {
    let srv = t.server();
    let data = content(300_000, 30);
    put(&srv, "r.bin", &data);
    let conn = t.connect(&srv).await;
    let f = conn.open_file(srv.share(), "r.bin").await.unwrap();
    assert_eq!(f.size(), data.len() as u64);
    for (at, len) in [(0, 10), (12_345, 100_000), (299_990, 10), (299_990, 1000)] {
        let got = f.read_at(at, len).await.unwrap();
        let end = (at as usize + len).min(data.len());
        assert_eq!(&got[..], &data[at as usize..end], "at {at} len {len}");
    }
    assert!(f.read_at(300_000, 10).await.unwrap().is_empty());
    let mut reader = f.reader(1000, Some(250_000));
    let mut streamed = Vec::new();
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        streamed.extend_from_slice(&chunk);
    }
    assert_eq!(hash(&streamed), hash(&data[1000..251_000]));
    f.close().await.unwrap();
    // Ranges through retrieve_file_from_offset.
    let mut out = Vec::new();
    conn.retrieve_file_from_offset(srv.share(), "r.bin", &mut out, 100_000, Some(70_000))
        .await
        .unwrap();
    assert_eq!(hash(&out), hash(&data[100_000..170_000]));
}

async fn create_and_delete_directories(t: Target) {
    let srv = t.server();
    let conn = t.connect(&srv).await;
    conn.create_directory(srv.share(), "top").await.unwrap();
    conn.create_directory(srv.share(), "top/mid").await.unwrap();
    conn.create_directory(srv.share(), "/top/mid/low")
        .await
        .unwrap();
    assert!(local(&srv, "top/mid/low").is_dir());
    // An existing name collides.
    failure(
        conn.create_directory(srv.share(), "top").await,
        &[NtStatus::OBJECT_NAME_COLLISION],
    );
    // A folder that is not empty stays.
    put(&srv, "top/mid/file.txt", b"x");
    failure(
        conn.delete_directory(srv.share(), "top/mid").await,
        &[NtStatus::DIRECTORY_NOT_EMPTY],
    );
    assert!(local(&srv, "top/mid/file.txt").exists());
    conn.delete_directory(srv.share(), "top/mid/low")
        .await
        .unwrap();
    assert!(!local(&srv, "top/mid/low").exists());
    assert_eq!(names_of(&conn, &srv, "top/mid").await, set(["file.txt"]));
    // impacket says STATUS_NO_SUCH_FILE where Samba says STATUS_OBJECT_NAME_NOT_FOUND.
    failure(
        conn.delete_directory(srv.share(), "top/nothing").await,
        &[
            NtStatus::OBJECT_NAME_NOT_FOUND,
            NtStatus::OBJECT_PATH_NOT_FOUND,
            NtStatus::NO_SUCH_FILE,
        ],
    );
}

async fn delete_files_by_pattern(t: Target) {
    let srv = t.server();
    for name in ["a.log", "b.log", "c.txt", "keep/d.log"] {
        put(&srv, &format!("logs/{name}"), name.as_bytes());
    }
    fs::create_dir(local(&srv, "logs/dir.log")).unwrap();
    let conn = t.connect(&srv).await;
    conn.delete_files(srv.share(), "logs/*.log", false)
        .await
        .unwrap();
    assert_eq!(
        names_of(&conn, &srv, "logs").await,
        set(["c.txt", "dir.log", "keep"])
    );
    // With matching folders, and one file by its own name.
    conn.delete_files(srv.share(), "logs/*.log", true)
        .await
        .unwrap();
    conn.delete_files(srv.share(), "/logs/c.txt", false)
        .await
        .unwrap();
    assert_eq!(names_of(&conn, &srv, "logs").await, set(["keep"]));
    assert!(local(&srv, "logs/keep/d.log").exists());
    failure(
        conn.delete_files(srv.share(), "logs/*.none", false).await,
        &[NtStatus::NO_SUCH_FILE, NtStatus::OBJECT_NAME_NOT_FOUND],
    );
}

async fn rename_files_and_folders(t: Target) {
    let srv = t.server();
    put(&srv, "old.txt", b"old");
    put(&srv, "olddir/inner.txt", b"inner");
    put(&srv, "taken.txt", b"taken");
    let conn = t.connect(&srv).await;
    conn.rename(srv.share(), "old.txt", "new.txt")
        .await
        .unwrap();
    assert_eq!(read_local(&srv, "new.txt"), b"old");
    assert!(!local(&srv, "old.txt").exists());
    conn.rename(srv.share(), "/olddir", "/newdir")
        .await
        .unwrap();
    assert_eq!(read_local(&srv, "newdir/inner.txt"), b"inner");
    // Into another folder.
    conn.rename(srv.share(), "new.txt", "newdir/moved.txt")
        .await
        .unwrap();
    assert_eq!(
        names_of(&conn, &srv, "newdir").await,
        set(["inner.txt", "moved.txt"])
    );
    // Onto an existing name, and a missing source: both fail and change nothing. (impacket's
    // SMB1 rename replaces an existing name: not checked there.)
    if !t.smb1() {
        failure(
            conn.rename(srv.share(), "newdir/moved.txt", "taken.txt")
                .await,
            &[NtStatus::OBJECT_NAME_COLLISION],
        );
        assert_eq!(read_local(&srv, "taken.txt"), b"taken");
    }
    failure(
        conn.rename(srv.share(), "missing.txt", "other.txt").await,
        &[
            NtStatus::OBJECT_NAME_NOT_FOUND,
            NtStatus::OBJECT_PATH_NOT_FOUND,
            NtStatus::NO_SUCH_FILE,
        ],
    );
}

/// Awaits every task, in order.
async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

// ---------------------------------------------------------------------------
// The tests: each scenario over SMB1 (`smb1::name`, impacket without
// -smb2support) and SMB 2.0.2 (`smb2::name`).

/// `name[, smb2 ignored: "reason"];`
macro_rules! scenarios {
    ($($name:ident $(, smb2 ignored: $reason:literal)?;)*) => {
        mod smb1 {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Target { mode: ImpacketMode::Smb1, netbios: false }).await
                }
            )*
        }
        mod smb2 {
            use super::*;
            $(
                $(#[ignore = $reason])?
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Target { mode: ImpacketMode::Smb2, netbios: false }).await
                }
            )*
        }
    };
}

scenarios! {
    connect_echo_and_close;
    list_shares_names_the_share_and_ipc;
    list_path_root_subfolder_and_pattern;
    list_path_of_many_files;
    get_attributes_of_files_folders_and_missing_paths;
    retrieve_several_mib;
    store_files_of_one_request;
    store_several_mib, smb2 ignored: "impacket skips SMB2 WRITEs past the end of the file, and the WRITEs of one upload may arrive out of order";
    concurrent_stores_and_retrieves_on_one_connection;
    open_file_reads_at_offsets_and_streams;
    create_and_delete_directories;
    delete_files_by_pattern;
    rename_files_and_folders;
}
