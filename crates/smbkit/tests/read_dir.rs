//! `Connection::read_dir` against real Samba over SMB 3.1.1, SMB 2.1 and
//! SMB1: the stream yields what `list_path` lists (without `.` and `..`),
//! page by page; errors are typed; a stream dropped midway leaves no
//! search open on the server.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use smbkit::{Connection, Error, FileAttributes, NtStatus, Protocol, SmbProtocolFactory};
use smbkit_testserver::{Profile, TestServer};

const PROFILES: [Profile; 3] = [Profile::Modern, Profile::Smb21Max, Profile::Smb1Only];

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

async fn connect(srv: &TestServer) -> Connection {
    let f = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true);
    let f = if srv.profile().speaks_smb2() {
        f
    } else {
        f.protocol(Protocol::Smb1Only)
    };
    f.connect((srv.host(), srv.port())).await.unwrap()
}

/// Every entry of the stream, by name.
async fn stream_all(conn: &Connection, path: &str) -> BTreeMap<String, smbkit::DirEntry> {
    let mut dir = conn.read_dir("share", path);
    let mut out = BTreeMap::new();
    while let Some(e) = dir.next_entry().await.expect("read_dir") {
        assert!(
            out.insert(e.name().to_string(), e).is_none(),
            "an entry came twice"
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_dir_of_10000_entries_equals_list_path() {
    for profile in PROFILES {
        let srv = server(profile);
        let dir = srv.share_path().join("big");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..10_000 {
            std::fs::write(dir.join(format!("entry-{i:05}.dat")), vec![b'x'; i % 7]).unwrap();
        }
        std::fs::create_dir(dir.join("sub")).unwrap();
        let conn = connect(&srv).await;
        let streamed = stream_all(&conn, "/big").await;
        let listed = conn.list_path("share", "/big").await.unwrap();
        let listed: BTreeMap<_, _> = listed
            .into_iter()
            .filter(|f| f.filename != "." && f.filename != "..")
            .map(|f| (f.filename.clone(), f))
            .collect();
        assert_eq!(streamed.len(), 10_001, "{profile:?}");
        assert_eq!(
            streamed.keys().collect::<Vec<_>>(),
            listed.keys().collect::<Vec<_>>(),
            "{profile:?}"
        );
        for (name, e) in &streamed {
            let f = &listed[name];
            assert_eq!(e.len(), f.file_size, "{profile:?} {name}");
            assert_eq!(
                e.attributes().bits(),
                f.file_attributes,
                "{profile:?} {name}"
            );
            assert_eq!(e.is_dir(), name == "sub", "{profile:?} {name}");
            let m = e
                .modified()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            assert!((m - f.last_write_time).abs() < 1e-3, "{profile:?} {name}");
        }
        // The times are the file's own.
        let e = &streamed["entry-00003.dat"];
        let on_disk = std::fs::metadata(dir.join("entry-00003.dat"))
            .unwrap()
            .modified()
            .unwrap();
        let diff = match e.modified().duration_since(on_disk) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        assert!(diff < Duration::from_millis(1), "{profile:?}: {diff:?}");
        assert_eq!(e.len(), 3);
        assert!(!e.attributes().contains(FileAttributes::DIRECTORY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_typed_and_empty_folders_are_empty() {
    for profile in PROFILES {
        let srv = server(profile);
        std::fs::create_dir(srv.share_path().join("empty")).unwrap();
        let conn = connect(&srv).await;
        assert!(stream_all(&conn, "/empty").await.is_empty(), "{profile:?}");
        let mut missing = conn.read_dir("share", "/no/such/folder");
        match missing.next_entry().await {
            Err(Error::OperationFailure { status, path, .. }) => {
                assert!(
                    matches!(
                        status,
                        NtStatus::OBJECT_PATH_NOT_FOUND | NtStatus::OBJECT_NAME_NOT_FOUND
                    ),
                    "{profile:?}: {status:?}"
                );
                assert!(path.contains("no\\such\\folder"), "{path}");
            }
            other => panic!("{profile:?}: expected OperationFailure, got {other:?}"),
        }
        // After an error the stream has ended.
        assert!(matches!(missing.next_entry().await, Ok(None)));
        let mut bad = conn.read_dir("no-such-share", "/");
        assert!(
            matches!(
                bad.next_entry().await,
                Err(Error::OperationFailure {
                    status: NtStatus::BAD_NETWORK_NAME,
                    ..
                })
            ),
            "{profile:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_midway_leaves_nothing_open() {
    for profile in PROFILES {
        let srv = server(profile);
        let dir = srv.share_path().join("d");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..3000 {
            std::fs::write(dir.join(format!("a-rather-long-file-name-{i:05}.txt")), b"").unwrap();
        }
        let conn = connect(&srv).await;
        let mut stream = conn.read_dir("share", "/d");
        for _ in 0..10 {
            stream.next_entry().await.unwrap().unwrap();
        }
        drop(stream);
        let open = srv
            .wait_until_no_open_files(Duration::from_secs(5))
            .unwrap();
        assert!(open.is_empty(), "{profile:?}: still open: {open:?}");
        // And the connection goes on.
        assert_eq!(stream_all(&conn, "/d").await.len(), 3000, "{profile:?}");
    }
}

/// Entries of the folder the memory test streams.
const HUGE: usize = 200_000;

/// This process's peak resident set size in KiB (VmHWM).
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The measured half of [`streaming_200000_entries_stays_under_32_mib`],
/// run in a process of its own (so that nothing else counts in its peak
/// RSS): streams the folder the parent made and prints the count and the
/// peak RSS.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by streaming_200000_entries_stays_under_32_mib in a child process"]
async fn stream_huge_folder_in_child() {
    let port: u16 = std::env::var("SMBKIT_RSS_PORT").unwrap().parse().unwrap();
    let user = std::env::var("SMBKIT_RSS_USER").unwrap();
    let password = std::env::var("SMBKIT_RSS_PASSWORD").unwrap();
    let conn = SmbProtocolFactory::new(&user, &password, "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true)
        .connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut dir = conn.read_dir("share", "/huge");
    let mut n = 0usize;
    while let Some(e) = dir.next_entry().await.unwrap() {
        assert!(!e.name().is_empty());
        n += 1;
    }
    println!("ENTRIES={n} VMHWM_KIB={}", vm_hwm_kib());
}

#[test]
fn streaming_200000_entries_stays_under_32_mib() {
    let srv = server(Profile::Modern);
    let dir = srv.share_path().join("huge");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..HUGE {
        std::fs::File::create(dir.join(format!("file-{i:06}"))).unwrap();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stream_huge_folder_in_child",
            "--ignored",
            "--nocapture",
        ])
        .env("SMBKIT_RSS_PORT", srv.port().to_string())
        .env("SMBKIT_RSS_USER", srv.user())
        .env("SMBKIT_RSS_PASSWORD", srv.password())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ENTRIES="))
        .unwrap_or_else(|| panic!("no result line in {stdout}"));
    let mut fields = line.split_whitespace().map(|f| {
        f.split_once('=')
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap()
    });
    let (entries, kib) = (fields.next().unwrap(), fields.next().unwrap());
    assert_eq!(entries as usize, HUGE);
    assert!(
        kib < 32 * 1024,
        "peak RSS {} MiB while streaming {HUGE} entries",
        kib / 1024
    );
    eprintln!("streamed {entries} entries with a peak RSS of {kib} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_lists_every_level_concurrently() {
    for profile in PROFILES {
        let srv = server(profile);
        let root = srv.share_path().join("tree");
        // 3 levels: 5 folders of 4 folders of 30 files, plus files at each
        // level.
        let mut expected = std::collections::BTreeSet::new();
        for a in 0..5 {
            let da = format!("a{a}");
            std::fs::create_dir_all(root.join(&da)).unwrap();
            expected.insert(da.clone());
            std::fs::write(root.join(format!("top{a}.txt")), b"t").unwrap();
            expected.insert(format!("top{a}.txt"));
            for b in 0..4 {
                let db = format!("{da}/b{b}");
                std::fs::create_dir_all(root.join(&db)).unwrap();
                expected.insert(db.clone());
                for c in 0..30 {
                    let f = format!("{db}/f{c:02}.bin");
                    std::fs::write(root.join(&f), vec![0u8; c]).unwrap();
                    expected.insert(f);
                }
            }
        }
        let conn = connect(&srv).await;
        for concurrency in [1, 4, 16] {
            let mut walk = conn.walk("share", "/tree").concurrency(concurrency);
            let mut seen = std::collections::BTreeSet::new();
            while let Some(item) = walk.next_entry().await.unwrap() {
                assert_eq!(
                    item.depth(),
                    item.path().matches('/').count() + 1,
                    "{profile:?} {}",
                    item.path()
                );
                if let Some(size) = item
                    .path()
                    .rsplit_once("/f")
                    .and_then(|(_, n)| n.strip_suffix(".bin"))
                {
                    assert_eq!(item.entry().len(), size.parse::<u64>().unwrap());
                }
                assert!(
                    seen.insert(item.path().to_string()),
                    "{profile:?}: {} twice",
                    item.path()
                );
            }
            assert_eq!(seen, expected, "{profile:?} concurrency {concurrency}");
        }
        // max_depth(1): the root's own entries.
        let mut walk = conn.walk("share", "/tree/").max_depth(1);
        let mut top = 0;
        while let Some(item) = walk.next_entry().await.unwrap() {
            assert_eq!(item.depth(), 1);
            top += 1;
        }
        assert_eq!(top, 10, "{profile:?}");
        // A missing root: its error, then the end.
        let mut walk = conn.walk("share", "/missing");
        assert!(matches!(
            walk.next_entry().await,
            Err(Error::OperationFailure { .. })
        ));
        assert!(matches!(walk.next_entry().await, Ok(None)));
    }
}
