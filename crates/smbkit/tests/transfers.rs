//! Retrieve and store against real Samba: content checked byte for byte,
//! small files (compound path) and large ones (pipelined path), offsets,
//! lengths, and streaming readers.

use std::io::Write as _;

use smbkit::{Error, NtStatus, SignOptions, SmbProtocolFactory};
use smbkit_testserver::{content, Profile, TestServer};
use tokio::io::AsyncReadExt;

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

async fn connect(srv: &TestServer, signing: bool) -> smbkit::Connection {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true)
        .sign_options(if signing {
            SignOptions::WhenSupported
        } else {
            SignOptions::WhenRequired
        })
        .connect((srv.host(), srv.port()))
        .await
        .unwrap()
}

fn put_local(srv: &TestServer, name: &str, data: &[u8]) {
    let p = srv.share_path().join(name);
    std::fs::File::create(&p).unwrap().write_all(data).unwrap();
    srv.chown_to_user(&p).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_small_and_large_files() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, false).await;
    for (i, len) in [
        0usize,
        1,
        4096,
        1 << 20,
        (1 << 20) + 1,
        5 * (1 << 20) + 12345,
    ]
    .into_iter()
    .enumerate()
    {
        let data = content(len, i as u32);
        let name = format!("r{i}.bin");
        put_local(&srv, &name, &data);
        let mut out = Vec::new();
        let (attrs, n) = conn.retrieve_file("share", &name, &mut out).await.unwrap();
        assert_eq!(n as usize, len, "{name}");
        assert!(out == data, "{name}: content differs");
        assert_eq!(attrs & 0x10, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_from_offset_with_lengths() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, true).await;
    let data = content(3 * (1 << 20) + 7, 9);
    put_local(&srv, "o.bin", &data);
    let cases: &[(u64, Option<u64>)] = &[
        (0, None),
        (100, None),
        (100, Some(10)),
        (100, Some(0)),
        (1 << 20, Some(2 << 20)),
        (5, Some(100 << 20)),
        (data.len() as u64, None),
        (data.len() as u64 - 1, Some(5)),
    ];
    for &(off, max) in cases {
        let mut out = Vec::new();
        let (_, n) = conn
            .retrieve_file_from_offset("share", "/o.bin", &mut out, off, max)
            .await
            .unwrap();
        let start = off as usize;
        let end = match max {
            Some(m) => (start + m as usize).min(data.len()),
            None => data.len(),
        };
        assert_eq!(n as usize, end - start, "offset {off} max {max:?}");
        assert!(out[..] == data[start..end], "offset {off} max {max:?}");
    }
    let err = conn
        .retrieve_file_from_offset(
            "share",
            "o.bin",
            &mut Vec::new(),
            data.len() as u64 + 1,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument(smbkit::InvalidArgument::OffsetPastEnd { offset, size, .. })
                if offset == size + 1
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_small_and_large_files() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, false).await;
    for (i, len) in [0usize, 10, 65536, 1 << 20, 7 * (1 << 20) + 3]
        .into_iter()
        .enumerate()
    {
        let data = content(len, 100 + i as u32);
        let name = format!("s{i}.bin");
        let n = conn
            .store_file("share", &name, &mut &data[..])
            .await
            .unwrap();
        assert_eq!(n as usize, len);
        let local = std::fs::read(srv.share_path().join(&name)).unwrap();
        assert!(local == data, "{name}: stored content differs");
    }
    // Overwrite with something shorter: the file is replaced, not patched.
    conn.store_file("share", "s4.bin", &mut &b"short"[..])
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(srv.share_path().join("s4.bin")).unwrap(),
        b"short"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_from_offset_and_truncate() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, true).await;
    conn.store_file("share", "f.txt", &mut &b"0123456789"[..])
        .await
        .unwrap();
    conn.store_file_from_offset("share", "f.txt", &mut &b"abc"[..], 4, false)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(srv.share_path().join("f.txt")).unwrap(),
        b"0123abc789"
    );
    conn.store_file_from_offset("share", "f.txt", &mut &b"xy"[..], 2, true)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(srv.share_path().join("f.txt")).unwrap(),
        b"\0\0xy"
    );
    let big = content(3 << 20, 5);
    conn.store_file_from_offset("share", "g.bin", &mut &big[..], 1000, false)
        .await
        .unwrap();
    let local = std::fs::read(srv.share_path().join("g.bin")).unwrap();
    assert_eq!(local.len(), 1000 + big.len());
    assert!(local[1000..] == big[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_reader_and_ranges() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, false).await;
    let data = content(4 * (1 << 20) + 99, 77);
    put_local(&srv, "stream.bin", &data);
    let file = conn.open_file("share", "stream.bin").await.unwrap();
    assert_eq!(file.size(), data.len() as u64);
    let r = file.read_at(1234, 100_000).await.unwrap();
    assert!(r[..] == data[1234..1234 + 100_000]);
    let tail = file.read_at(data.len() as u64 - 10, 100).await.unwrap();
    assert!(tail[..] == data[data.len() - 10..]);
    assert!(file
        .read_at(data.len() as u64 + 5, 10)
        .await
        .unwrap()
        .is_empty());
    let mut reader = file.reader(0, None);
    let mut all = Vec::new();
    reader.read_to_end(&mut all).await.unwrap();
    assert!(all == data);
    drop(reader);
    file.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_failures_name_the_status() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, false).await;
    let err = conn
        .retrieve_file("share", "/no/such/file", &mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.status(),
            Some(NtStatus::OBJECT_PATH_NOT_FOUND | NtStatus::OBJECT_NAME_NOT_FOUND)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("\\share\\no\\such\\file"), "{err}");
    let err = conn
        .store_file("readonly", "x.txt", &mut &b"x"[..])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::ACCESS_DENIED), "{err:?}");
    assert!(!srv.readonly_path().join("x.txt").exists());
    let err = conn
        .retrieve_file("nosuchshare", "x", &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retrieves_on_one_connection() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, true).await;
    let mut expected = Vec::new();
    for i in 0..20 {
        let data = content(300_000 + i * 1000, i as u32);
        put_local(&srv, &format!("c{i}.bin"), &data);
        expected.push(data);
    }
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            c.retrieve_file("share", &format!("c{i}.bin"), &mut out)
                .await
                .unwrap();
            out
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert!(t.await.unwrap() == expected[i], "file {i}");
    }
}

/// The time limit of `store_file` counts from the first chunk of input: a
/// source slower than the limit to give it (a pipe, a user typing) is no
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_from_a_slow_source_is_not_a_timeout() {
    use tokio::io::AsyncWriteExt;
    let srv = server(Profile::Modern);
    let conn = connect(&srv, false).await;
    let quick = conn.with_timeout(std::time::Duration::from_millis(500));
    let (mut tx, mut rx) = tokio::io::duplex(64);
    let feeder = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        tx.write_all(b"late but welcome").await.unwrap();
    });
    let n = quick
        .store_file("share", "slow.txt", &mut rx)
        .await
        .unwrap();
    feeder.await.unwrap();
    assert_eq!(n, 16);
    assert_eq!(
        std::fs::read(srv.share_path().join("slow.txt")).unwrap(),
        b"late but welcome"
    );
}
