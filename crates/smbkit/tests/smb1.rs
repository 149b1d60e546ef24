//! SMB1 (NT LM 0.12) against real Samba: automatic fallback, forced SMB1,
//! NTLMv1 and NTLMv2, signing, echo and tree connect, file operations and
//! transfers.

use smbkit::{Connection, Dialect, Error, NtStatus, Protocol, SignOptions, SmbProtocolFactory};
use smbkit_testserver::{content, fnv1a as hash, Profile, TestServer};
use tokio::io::AsyncReadExt;

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST").unwrap()
}

#[tokio::test]
async fn auto_falls_back_to_smb1_on_an_nt1_only_server() {
    let srv = server(Profile::Smb1Only);
    for direct in [false, true] {
        let conn = factory(&srv)
            .direct_tcp(direct)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap_or_else(|e| panic!("direct={direct}: {e}\n{}", srv.log_tail(40)));
        assert!(!conn.is_using_smb2());
        assert_eq!(conn.dialect(), Dialect::NT_LM_0_12);
        assert_eq!(conn.echo(b"over smb1").await.unwrap(), b"over smb1");
        let t = conn.tree_connect(srv.share()).await.unwrap();
        assert_ne!(t.tree_id, 0);
        let err = conn.tree_connect("no-such-share").await.unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
        conn.tree_disconnect(srv.share()).await.unwrap();
        conn.close().await.unwrap();
        assert!(matches!(conn.echo(b"x").await, Err(Error::NotConnected)));
    }
}

#[tokio::test]
async fn smb1_only_uses_smb1_on_a_server_that_speaks_both() {
    let srv = server(Profile::Legacy);
    let conn = factory(&srv)
        .protocol(Protocol::Smb1Only)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    assert!(!conn.is_using_smb2());
    conn.echo(b"x").await.unwrap();
    // Auto on the same server still prefers SMB2.
    let conn = factory(&srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    assert!(conn.is_using_smb2());
}

#[tokio::test]
async fn ntlm_v1_and_v2_over_smb1() {
    let srv = server(Profile::Smb1Only);
    for v2 in [true, false] {
        let conn = factory(&srv)
            .use_ntlm_v2(v2)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap_or_else(|e| panic!("v2={v2}: {e}"));
        conn.echo(b"x").await.unwrap();
    }
    let err = SmbProtocolFactory::new(srv.user(), "wrong", "ME", "SRV")
        .unwrap()
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::AuthFailed {
                status: NtStatus::LOGON_FAILURE,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_smb1_sessions() {
    // Samba's SMB1 does not offer signing unless configured to.
    let plain = server(Profile::Smb1Only);
    let conn = factory(&plain)
        .sign_options(SignOptions::WhenSupported)
        .connect((plain.host(), plain.port()))
        .await
        .unwrap();
    assert!(!conn.server_info().signing);

    let srv = server(Profile::Smb1Signing);
    let err = factory(&srv)
        .sign_options(SignOptions::Never)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Unsupported(smbkit::Unsupported::SigningForbidden)
        ),
        "{err:?}"
    );
    let conn = factory(&srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(40)));
    assert!(
        conn.server_info().signing,
        "a server that requires signing gets signed messages"
    );
    // Many requests in flight keep their sequence numbers straight.
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            let d = i.to_le_bytes();
            assert_eq!(c.echo(&d).await.unwrap(), d);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    conn.tree_connect(srv.share()).await.unwrap();
    // NTLMv1 keys sign too.
    let v1 = factory(&srv)
        .use_ntlm_v2(false)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    v1.echo(b"v1").await.unwrap();
    v1.tree_connect(srv.share()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_deleting_and_attributes_over_smb1() {
    let srv = server(Profile::Smb1Signing);
    let conn = factory(&srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    assert!(!conn.is_using_smb2());
    let root = srv.share_path();
    std::fs::create_dir_all(root.join("big")).unwrap();
    for i in 0..1500 {
        std::fs::write(root.join(format!("big/file-{i:04}.txt")), format!("{i}")).unwrap();
    }
    std::fs::write(root.join("big/日本語 😀.txt"), b"unicode").unwrap();
    let names: std::collections::HashSet<String> = conn
        .list_path("share", "big")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.filename)
        .collect();
    assert_eq!(names.len(), 1503, "1500 files, the unicode one, . and ..");
    assert!(names.contains("file-0000.txt") && names.contains("file-1499.txt"));
    assert!(names.contains("日本語 😀.txt"));
    let txt = conn
        .list_path_with("share", "big", smbkit::DEFAULT_SEARCH, "file-00*.txt")
        .await
        .unwrap();
    assert_eq!(txt.len(), 100);
    assert!(conn
        .list_path_with("share", "big", smbkit::DEFAULT_SEARCH, "nothing*")
        .await
        .unwrap()
        .is_empty());

    // delete_files over SMB1: made over SMB so the server may delete them.
    conn.create_directory("share", "del").await.unwrap();
    conn.create_directory("share", "del/sub.tmp").await.unwrap();
    for n in ["a.tmp", "b.tmp", "keep.txt", "sub.tmp/inner.txt"] {
        conn.store_file("share", &format!("del/{n}"), &mut &b"x"[..])
            .await
            .unwrap();
    }
    conn.delete_files("share", "del/*.tmp", false)
        .await
        .unwrap();
    assert!(!root.join("del/a.tmp").exists() && !root.join("del/b.tmp").exists());
    assert!(root.join("del/keep.txt").exists() && root.join("del/sub.tmp").exists());
    conn.delete_files("share", "del/*.tmp", true).await.unwrap();
    assert!(!root.join("del/sub.tmp").exists());
    let err = conn
        .delete_files("share", "del/*.none", false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::NO_SUCH_FILE), "{err:?}");

    // reset_file_attributes over SMB1.
    conn.reset_file_attributes("share", "del/keep.txt", 0x2 | 0x1)
        .await
        .unwrap();
    let a = conn.get_attributes("share", "del/keep.txt").await.unwrap();
    assert_eq!(a.file_attributes & 0x3, 0x3, "{:#x}", a.file_attributes);
    conn.reset_file_attributes("share", "del/keep.txt", 0)
        .await
        .unwrap();
    let a = conn.get_attributes("share", "del/keep.txt").await.unwrap();
    assert_eq!(a.file_attributes & 0x3, 0, "{:#x}", a.file_attributes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_transfers_and_folders_over_smb1() {
    for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = server(profile);
        for direct in [false, true] {
            let conn = factory(&srv)
                .direct_tcp(direct)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap();
            assert!(!conn.is_using_smb2());
            let dir = format!("d{}", direct as u8);
            conn.create_directory("share", &dir).await.unwrap();
            for (i, len) in [0usize, 10, 60 * 1024, 1 << 20, 300_001]
                .into_iter()
                .enumerate()
            {
                let data = content(len, i as u32);
                let name = format!("{dir}/f{i}.bin");
                let n = conn
                    .store_file("share", &name, &mut &data[..])
                    .await
                    .unwrap();
                assert_eq!(n as usize, len);
                assert!(
                    std::fs::read(srv.share_path().join(&name)).unwrap() == data,
                    "{profile:?} {name}"
                );
                let mut out = Vec::new();
                let (_, got) = conn.retrieve_file("share", &name, &mut out).await.unwrap();
                assert_eq!(got as usize, len);
                assert!(out == data, "{profile:?} {name} retrieved");
                if len > 100 {
                    let mut part = Vec::new();
                    conn.retrieve_file_from_offset("share", &name, &mut part, 7, Some(50))
                        .await
                        .unwrap();
                    assert_eq!(part[..], data[7..57]);
                }
                let a = conn.get_attributes("share", &name).await.unwrap();
                assert_eq!(a.file_size as usize, len);
                assert!(!a.is_directory());
            }
            conn.store_file_from_offset(
                "share",
                &format!("{dir}/f1.bin"),
                &mut &b"XY"[..],
                2,
                false,
            )
            .await
            .unwrap();
            let local = std::fs::read(srv.share_path().join(format!("{dir}/f1.bin"))).unwrap();
            assert_eq!(&local[2..4], b"XY");
            assert!(conn
                .get_attributes("share", &dir)
                .await
                .unwrap()
                .is_directory());
            conn.rename(
                "share",
                &format!("{dir}/f1.bin"),
                &format!("{dir}/renamed.bin"),
            )
            .await
            .unwrap();
            assert!(srv.share_path().join(format!("{dir}/renamed.bin")).exists());
            let err = conn
                .retrieve_file("share", &format!("{dir}/missing"), &mut Vec::new())
                .await
                .unwrap_err();
            assert_eq!(
                err.status(),
                Some(NtStatus::OBJECT_NAME_NOT_FOUND),
                "{err:?}"
            );
            let err = conn.delete_directory("share", &dir).await.unwrap_err();
            assert_eq!(err.status(), Some(NtStatus::DIRECTORY_NOT_EMPTY), "{err:?}");
            conn.create_directory("share", &format!("{dir}/empty"))
                .await
                .unwrap();
            conn.delete_directory("share", &format!("{dir}/empty"))
                .await
                .unwrap();
            assert!(!srv.share_path().join(format!("{dir}/empty")).exists());
            let err = conn
                .store_file("readonly", "x.txt", &mut &b"x"[..])
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(NtStatus::ACCESS_DENIED), "{err:?}");
        }
    }
}

#[tokio::test]
async fn offsets_above_4_gib_over_smb1() {
    let srv = server(Profile::Smb1Only);
    let conn = factory(&srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    let path = srv.share_path().join("sparse.bin");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(5 << 30).unwrap();
    drop(f);
    srv.chown_to_user(&path).unwrap();
    let at = (4u64 << 30) + 12345;
    conn.store_file_from_offset("share", "sparse.bin", &mut &b"above 4 GiB"[..], at, false)
        .await
        .unwrap();
    let mut out = Vec::new();
    conn.retrieve_file_from_offset("share", "sparse.bin", &mut out, at - 2, Some(15))
        .await
        .unwrap();
    assert_eq!(out, b"\0\0above 4 GiB\0\0");
    assert_eq!(
        conn.get_attributes("share", "sparse.bin")
            .await
            .unwrap()
            .file_size,
        5 << 30
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logons_without_extended_security() {
    for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = server(profile);
        for v2 in [false, true] {
            for direct in [false, true] {
                let attempt = factory(&srv)
                    .extended_security(false)
                    .use_ntlm_v2(v2)
                    .direct_tcp(direct)
                    .connect((srv.host(), srv.port()))
                    .await;
                if profile == Profile::Smb1Signing {
                    let err = attempt.unwrap_err();
                    assert!(
                        matches!(&err, Error::Unsupported(smbkit::Unsupported::ServerDidNotSign { hint })
                            if hint.contains("extended security")),
                        "{err:?}"
                    );
                    continue;
                }
                let conn = attempt.unwrap_or_else(|e| {
                    panic!(
                        "{profile:?} v2={v2} direct={direct}: {e}\n{}",
                        srv.log_tail(30)
                    )
                });
                assert!(!conn.is_using_smb2());
                assert!(!conn.server_info().signing);
                conn.echo(b"plain").await.unwrap();
                let data = content(200_000, 3);
                let name = format!("plain-{v2}-{direct}.bin");
                conn.store_file("share", &name, &mut &data[..])
                    .await
                    .unwrap();
                let mut out = Vec::new();
                conn.retrieve_file("share", &name, &mut out).await.unwrap();
                assert!(out == data);
            }
        }
        if profile == Profile::Smb1Only {
            let err = SmbProtocolFactory::new(srv.user(), "wrong", "ME", "SRV")
                .unwrap()
                .extended_security(false)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
        }
    }
}

#[tokio::test]
async fn unicode_and_long_names_over_smb1() {
    let srv = server(Profile::Smb1Only);
    let conn = factory(&srv)
        .direct_tcp(true)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    let dir = "Répertoire 日本語 😀";
    conn.create_directory("share", dir).await.unwrap();
    let long = format!("{dir}/{}.txt", "ü".repeat(120));
    let data = content(70_000, 11);
    conn.store_file("share", &long, &mut &data[..])
        .await
        .unwrap();
    let mut out = Vec::new();
    conn.retrieve_file("share", &long, &mut out).await.unwrap();
    assert!(out == data);
    let renamed = format!("{dir}/Ελληνικά 😀.bin");
    conn.rename("share", &long, &renamed).await.unwrap();
    let names: Vec<String> = conn
        .list_path("share", dir)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.filename)
        .collect();
    assert!(names.contains(&"Ελληνικά 😀.bin".to_string()), "{names:?}");
    assert!(srv.share_path().join(&renamed).exists());
    conn.rename("share", dir, "renamed dir ✓").await.unwrap();
    assert!(srv.share_path().join("renamed dir ✓").is_dir());
}

// ---------------------------------------------------------------------------
// Transaction responses in several messages; logons without extended
// security on servers that require signing.
// ---------------------------------------------------------------------------

/// A name of about 200 characters for entry `i`.
fn long_name(i: usize) -> String {
    format!("{i:05}-{}-Ω.txt", "long-name-part".repeat(13))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_a_folder_whose_responses_span_several_messages() {
    // 1500 entries of ~200 UTF-16 characters: each FIND_FIRST2 / FIND_NEXT2
    // response (MaxDataCount 64 KiB) exceeds one 61440-byte message and
    // comes in two parts.
    for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = server(profile);
        let dir = srv.share_path().join("many");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..1500 {
            std::fs::write(dir.join(long_name(i)), b"").unwrap();
        }
        for direct in [false, true] {
            let conn = factory(&srv)
                .direct_tcp(direct)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap();
            assert_eq!(conn.server_info().signing, profile == Profile::Smb1Signing);
            let mut names: Vec<String> = conn
                .list_path("share", "many")
                .await
                .unwrap_or_else(|e| panic!("{profile} direct={direct}: {e}\n{}", srv.log_tail(30)))
                .into_iter()
                .map(|f| f.filename)
                .filter(|n| n != "." && n != "..")
                .collect();
            names.sort();
            let expected: Vec<String> = (0..1500).map(long_name).collect();
            assert_eq!(names.len(), 1500, "{profile} direct={direct}");
            assert!(names == expected, "{profile} direct={direct}");
            // The connection is still in step afterwards.
            assert_eq!(conn.echo(b"after").await.unwrap(), b"after");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logons_without_extended_security_on_servers_that_require_signing() {
    // Samba signs no session set up without extended security, even with
    // `server signing = mandatory`: its response to SESSION_SETUP_ANDX
    // carries the "BSRSPYL " placeholder, not a signature. smbkit refuses
    // to run such a session unsigned.
    let srv = server(Profile::Smb1Signing);
    for v2 in [false, true] {
        for direct in [false, true] {
            let err = factory(&srv)
                .extended_security(false)
                .use_ntlm_v2(v2)
                .direct_tcp(direct)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::Unsupported(smbkit::Unsupported::ServerDidNotSign { hint })
                    if hint.contains("extended_security")),
                "v2={v2} direct={direct}: {err:?}"
            );
        }
    }
    // The same server signs the sessions set up with extended security.
    let conn = factory(&srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap();
    assert!(conn.server_info().signing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_when_supported_by_an_smb1_server_that_offers_it() {
    use smbkit_testserver::ExtraConfig;
    // `server signing = auto`: signing offered, not required.
    let srv = TestServer::start_with(
        Profile::Smb1Only,
        ExtraConfig {
            global: "server signing = auto".into(),
            ..ExtraConfig::default()
        },
    )
    .unwrap();
    for extended in [true, false] {
        for sign in [SignOptions::WhenSupported, SignOptions::WhenRequired] {
            let conn = factory(&srv)
                .extended_security(extended)
                .sign_options(sign)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap_or_else(|e| panic!("{extended} {sign:?}: {e}\n{}", srv.log_tail(30)));
            // Signed when asked for, if the logon gives the server a key.
            let expected = extended && sign == SignOptions::WhenSupported;
            assert_eq!(
                conn.server_info().signing,
                expected,
                "extended={extended} {sign:?}"
            );
            assert_eq!(conn.echo(b"x").await.unwrap(), b"x");
            conn.store_file("share", "auto.txt", &mut &b"signed or not"[..])
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_larger_than_the_servers_buffer_go_in_several_messages() {
    use smbkit_testserver::ExtraConfig;
    // `max xmit = 1024`: a FIND_FIRST2 for a folder path of ~1800
    // characters (its parameters alone ~3.6 KB) is sent as a primary
    // TRANSACTION2 request and three TRANSACTION2_SECONDARY requests after
    // the server's interim response.
    let component = "a-folder-name-of-fifty-characters-more-or-less-xyz";
    let dir = vec![component; 35].join("/");
    for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = TestServer::start_with(
            profile,
            ExtraConfig {
                global: "max xmit = 1024".into(),
                ..ExtraConfig::default()
            },
        )
        .unwrap();
        let local = srv.share_path().join(&dir);
        std::fs::create_dir_all(&local).unwrap();
        for i in 0..20 {
            std::fs::write(local.join(format!("entry {i:02}")), b"").unwrap();
        }
        srv.chown_to_user(srv.share_path()).ok();
        for direct in [false, true] {
            let conn = factory(&srv)
                .direct_tcp(direct)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap_or_else(|e| panic!("{profile} direct={direct}: {e}\n{}", srv.log_tail(30)));
            assert_eq!(conn.server_info().max_transact_size, 1024);
            let mut names: Vec<String> = conn
                .list_path("share", &dir)
                .await
                .unwrap_or_else(|e| panic!("{profile} direct={direct}: {e}\n{}", srv.log_tail(30)))
                .into_iter()
                .map(|f| f.filename)
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            let expected: Vec<String> = (0..20).map(|i| format!("entry {i:02}")).collect();
            assert_eq!(names, expected, "{profile} direct={direct}");
            // Sequence numbers still in step.
            let echo = conn.echo(b"after").await;
            assert!(
                matches!(&echo, Ok(d) if d == b"after"),
                "{profile} direct={direct}: {echo:?}\n{}",
                srv.log_tail(40)
            );
            assert!(!conn.list_path("share", "").await.unwrap().is_empty());
        }
    }
}

/// Puts `data` in the share's folder as `name`, owned by the test user.
fn put_local(srv: &TestServer, name: &str, data: &[u8]) {
    let p = srv.share_path().join(name);
    std::fs::write(&p, data).unwrap();
    srv.chown_to_user(&p).unwrap();
}

async fn connect_smb1(srv: &TestServer, direct: bool) -> Connection {
    let conn = factory(srv)
        .direct_tcp(direct)
        .protocol(Protocol::Smb1Only)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("direct={direct}: {e}\n{}", srv.log_tail(40)));
    assert!(!conn.is_using_smb2());
    conn
}

/// The READ_ANDX and WRITE_ANDX sizes: 0x1FFFF-byte messages (the 17-bit
/// NetBIOS length, and Samba's limit for requests and signed reads), larger
/// reads only over direct TCP without signing.
fn check_io_sizes(conn: &Connection, direct: bool, signed: bool) {
    let info = conn.server_info();
    assert_eq!(info.signing, signed);
    assert_eq!(info.max_write_size, 0x1_FFFF - 64);
    let read = if direct && !signed {
        1024 * 1024
    } else {
        0x1_FFFF - 60
    };
    assert_eq!(info.max_read_size, read, "direct={direct} signed={signed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_file_over_smb1() {
    let data = content(3 * (1 << 20) + 12_345, 42);
    for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = server(profile);
        put_local(&srv, "stream.bin", &data);
        std::fs::create_dir(srv.share_path().join("a folder")).unwrap();
        for direct in [false, true] {
            let conn = connect_smb1(&srv, direct).await;
            let what = format!("{profile} direct={direct}");
            let file = conn.open_file("share", "stream.bin").await.unwrap();
            assert_eq!(file.size(), data.len() as u64, "{what}");
            assert_eq!(file.attributes() & 0x10, 0, "{what}: not a folder");
            let len = data.len() as u64;
            // Ranges inside one read, across the 131011-byte and 1 MiB
            // boundaries, over several reads, at and past the end.
            for (at, n) in [
                (0u64, 100usize),
                (131_011 - 5, 20),
                (1024 * 1024 - 3, 300_000),
                (1234, 2 * 1024 * 1024 + 17),
                (len - 10, 100),
                (len, 10),
                (len + 5, 10),
            ] {
                let got = file.read_at(at, n).await.unwrap();
                let from = (at as usize).min(data.len());
                let to = (from + n).min(data.len());
                assert_eq!(got.len(), to - from, "{what} read_at({at}, {n})");
                assert_eq!(
                    hash(&got),
                    hash(&data[from..to]),
                    "{what} read_at({at}, {n})"
                );
            }
            let mut all = Vec::new();
            file.reader(0, None).read_to_end(&mut all).await.unwrap();
            assert_eq!(all.len(), data.len(), "{what}");
            assert_eq!(hash(&all), hash(&data), "{what}");
            // next_chunk from an offset, bounded.
            let mut reader = file.reader(777, Some(2 * 1024 * 1024));
            let mut part = Vec::new();
            while let Some(b) = reader.next_chunk().await.unwrap() {
                part.extend_from_slice(&b);
            }
            assert_eq!(
                hash(&part),
                hash(&data[777..777 + 2 * 1024 * 1024]),
                "{what}"
            );
            drop(reader);
            file.close().await.unwrap();

            // An empty file: EOF at once.
            put_local(&srv, "empty.bin", b"");
            let empty = conn.open_file("share", "empty.bin").await.unwrap();
            assert_eq!(empty.size(), 0);
            assert!(empty.read_at(0, 10).await.unwrap().is_empty());
            let mut none = Vec::new();
            empty.reader(0, None).read_to_end(&mut none).await.unwrap();
            assert!(none.is_empty());
            // Dropped without close: closed in the background.
            drop(empty);

            let err = conn.open_file("share", "a folder").await.unwrap_err();
            assert_eq!(err.status(), Some(NtStatus::FILE_IS_A_DIRECTORY), "{err:?}");
            let err = conn.open_file("share", "nope").await.unwrap_err();
            assert_eq!(
                err.status(),
                Some(NtStatus::OBJECT_NAME_NOT_FOUND),
                "{err:?}"
            );
            assert!(err.to_string().contains("\\share\\nope"), "{err}");
            // Still usable.
            assert_eq!(conn.echo(b"still there").await.unwrap(), b"still there");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_mib_transfers_over_both_framings() {
    // Not a multiple of any READ_ANDX or WRITE_ANDX size.
    let data = content(9 * (1 << 20) + 4321, 9);
    let srv = server(Profile::Smb1Only);
    for direct in [false, true] {
        let conn = connect_smb1(&srv, direct).await;
        check_io_sizes(&conn, direct, false);
        large_round_trip(&srv, &conn, &data, &format!("direct={direct}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_multi_mib_transfers() {
    let data = content(5 * (1 << 20) + 999, 5);
    let srv = server(Profile::Smb1Signing);
    for direct in [false, true] {
        let conn = connect_smb1(&srv, direct).await;
        check_io_sizes(&conn, direct, true);
        large_round_trip(&srv, &conn, &data, &format!("signed direct={direct}")).await;
    }
}

/// Uploads `data` and reads it back whole and by ranges.
async fn large_round_trip(srv: &TestServer, conn: &Connection, data: &[u8], what: &str) {
    let name = format!("large-{}.bin", hash(what.as_bytes()));
    let n = conn
        .store_file("share", &name, &mut &data[..])
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}\n{}", srv.log_tail(20)));
    assert_eq!(n, data.len() as u64, "{what}");
    let local = std::fs::read(srv.share_path().join(&name)).unwrap();
    assert_eq!(local.len(), data.len(), "{what}");
    assert_eq!(hash(&local), hash(data), "{what}: stored");

    let mut out = Vec::new();
    let (_, got) = conn.retrieve_file("share", &name, &mut out).await.unwrap();
    assert_eq!(got, data.len() as u64, "{what}");
    assert_eq!(hash(&out), hash(data), "{what}: retrieved");

    for (at, max) in [
        (131_011 - 1, Some(3 * 131_011 + 2)),
        (1 << 20, Some(1 << 20)),
        (data.len() as u64 - 3, None),
        (data.len() as u64, None),
    ] {
        let mut part = Vec::new();
        let (_, got) = conn
            .retrieve_file_from_offset("share", &name, &mut part, at, max)
            .await
            .unwrap();
        let from = at as usize;
        let to = max.map_or(data.len(), |m| (from + m as usize).min(data.len()));
        assert_eq!(got as usize, to - from, "{what} from {at}");
        assert_eq!(hash(&part), hash(&data[from..to]), "{what} from {at}");
    }

    // Several chunks written into the middle of the file.
    let patch = content(2 * 131_007 + 10, 3);
    let at = 1_000_000u64;
    conn.store_file_from_offset("share", &name, &mut &patch[..], at, false)
        .await
        .unwrap();
    let mut expected = data.to_vec();
    expected[at as usize..at as usize + patch.len()].copy_from_slice(&patch);
    let local = std::fs::read(srv.share_path().join(&name)).unwrap();
    assert_eq!(hash(&local), hash(&expected), "{what}: patched");
}
