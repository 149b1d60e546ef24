//! list_shares, list_snapshots and get_security against real Samba servers
//! started by the test harness, one server per test.

use std::time::{Duration, Instant};

use smbkit::{Connection, Error, NtStatus, SignOptions, SmbProtocolFactory};
use smbkit_testserver::{Profile, TestServer};

mod common;
use common::{check_shares, expected_snapshots};

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

fn factory(srv: &TestServer) -> SmbProtocolFactory {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST").unwrap()
}

async fn connect(srv: &TestServer, f: SmbProtocolFactory) -> Connection {
    f.connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", srv.log_tail(30)))
}

#[tokio::test]
async fn list_shares_over_direct_tcp_and_netbios() {
    let srv = server(Profile::Modern);
    for direct in [true, false] {
        let conn = connect(&srv, factory(&srv).direct_tcp(direct)).await;
        let shares = conn
            .list_shares()
            .await
            .unwrap_or_else(|e| panic!("direct={direct}: {e}\n{}", srv.log_tail(30)));
        check_shares(&shares, Profile::Modern);
        // Again on the same connection: a fresh pipe on the cached IPC$ tree.
        assert_eq!(conn.list_shares().await.unwrap(), shares);
        conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn list_shares_with_signing() {
    let srv = server(Profile::Modern);
    let conn = connect(
        &srv,
        factory(&srv)
            .sign_options(SignOptions::WhenSupported)
            .direct_tcp(true),
    )
    .await;
    assert!(conn.server_info().signing);
    check_shares(&conn.list_shares().await.unwrap(), Profile::Modern);

    let mandatory = server(Profile::SigningMandatory);
    for direct in [true, false] {
        let conn = connect(&mandatory, factory(&mandatory).direct_tcp(direct)).await;
        assert!(conn.server_info().signing);
        let shares = conn
            .list_shares()
            .await
            .unwrap_or_else(|e| panic!("direct={direct}: {e}\n{}", mandatory.log_tail(30)));
        check_shares(&shares, Profile::SigningMandatory);
    }
}

#[tokio::test]
async fn list_shares_over_smb2_1() {
    let srv = server(Profile::Smb21Max);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    check_shares(&conn.list_shares().await.unwrap(), Profile::Smb21Max);
}

#[tokio::test]
async fn list_shares_times_out_precisely_and_the_connection_recovers() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    // Connect IPC$ first, so that the stall hits the pipe exchange.
    conn.tree_connect("IPC$").await.unwrap();
    srv.pause();
    let start = Instant::now();
    let err = conn
        .with_timeout(Duration::from_millis(500))
        .list_shares()
        .await
        .unwrap_err();
    let took = start.elapsed();
    srv.resume();
    match &err {
        Error::Timeout { after, .. } => assert_eq!(*after, Duration::from_millis(500)),
        e => panic!("expected a timeout, got {e:?}"),
    }
    assert!(took >= Duration::from_millis(490), "{took:?}");
    assert!(
        took < Duration::from_millis(650),
        "timed out after {took:?}"
    );
    check_shares(&conn.list_shares().await.unwrap(), Profile::Modern);
}

#[tokio::test]
async fn list_snapshots_of_the_share_root_a_folder_and_a_file() {
    let srv = server(Profile::Modern);
    std::fs::create_dir(srv.snapshots_path().join("docs")).unwrap();
    std::fs::write(srv.snapshots_path().join("docs/report.txt"), b"v3").unwrap();
    srv.chown_to_user(&srv.snapshots_path().join("docs"))
        .unwrap();
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    for path in ["", "/", "docs", "/docs/report.txt", "docs\\report.txt"] {
        let got = conn
            .list_snapshots("snapshots", path)
            .await
            .unwrap_or_else(|e| panic!("{path:?}: {e}\n{}", srv.log_tail(30)));
        assert_eq!(got, expected_snapshots(), "{path:?}");
    }
    // Over NetBIOS with signing too.
    let signed = connect(&srv, factory(&srv).sign_options(SignOptions::WhenSupported)).await;
    assert_eq!(
        signed.list_snapshots("snapshots", "docs").await.unwrap(),
        expected_snapshots()
    );
}

#[tokio::test]
async fn list_snapshots_without_shadow_copies_is_an_operation_failure() {
    let srv = server(Profile::Modern);
    std::fs::write(srv.share_path().join("plain.txt"), b"x").unwrap();
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    for path in ["", "plain.txt"] {
        let err = conn.list_snapshots("share", path).await.unwrap_err();
        match &err {
            Error::OperationFailure {
                status,
                operation,
                path: p,
                ..
            } => {
                assert_eq!(*status, NtStatus::INVALID_DEVICE_REQUEST, "{err}");
                assert_eq!(*operation, "list_snapshots", "{err}");
                assert!(p.starts_with("\\share"), "{err}");
            }
            e => panic!("{path:?}: expected OperationFailure, got {e:?}"),
        }
    }
    let err = conn
        .list_snapshots("snapshots", "no/such/file.txt")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.status(),
            Some(NtStatus::OBJECT_PATH_NOT_FOUND | NtStatus::OBJECT_NAME_NOT_FOUND)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn get_security_of_files_and_folders() {
    let srv = server(Profile::Modern);
    std::fs::write(srv.share_path().join("secret.txt"), b"x").unwrap();
    std::fs::create_dir(srv.share_path().join("dir")).unwrap();
    srv.chown_to_user(&srv.share_path().join("secret.txt"))
        .unwrap();
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    for (share, path) in [
        ("share", "secret.txt"),
        ("share", "/dir"),
        ("share", ""),
        ("readonly", "hello.txt"),
    ] {
        let sd = conn
            .get_security(share, path)
            .await
            .unwrap_or_else(|e| panic!("{share} {path:?}: {e}\n{}", srv.log_tail(30)));
        let owner = sd.owner.as_ref().expect("an owner SID").to_string();
        let group = sd.group.as_ref().expect("a group SID").to_string();
        assert!(owner.starts_with("S-1-"), "{owner}");
        assert!(group.starts_with("S-1-"), "{group}");
        let dacl = sd.dacl.as_ref().expect("a DACL");
        assert!(!dacl.aces.is_empty(), "{sd}");
        assert!(sd.sacl.is_none(), "no SACL was asked for: {sd}");
        for ace in &dacl.aces {
            assert!(ace
                .sid
                .as_ref()
                .is_some_and(|s| s.to_string().starts_with("S-1-")));
        }
    }
    // The file belongs to the test user: its owner is a domain SID
    // (S-1-5-21-…), as is the owner of the folder smbd created for it.
    let sd = conn.get_security("share", "secret.txt").await.unwrap();
    let owner = sd.owner.unwrap().to_string();
    assert!(owner.starts_with("S-1-5-21-"), "{owner}");
}

#[tokio::test]
async fn get_security_of_a_missing_path() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    let err = conn.get_security("share", "nope.txt").await.unwrap_err();
    match &err {
        Error::OperationFailure {
            status,
            operation,
            path,
            ..
        } => {
            assert_eq!(*status, NtStatus::OBJECT_NAME_NOT_FOUND);
            assert_eq!(*operation, "get_security", "{err}");
            assert_eq!(path, "\\share\\nope.txt", "{err}");
        }
        e => panic!("expected OperationFailure, got {e:?}"),
    }
}

#[tokio::test]
async fn missing_share_is_bad_network_name() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    let err = conn.get_security("no-such-share", "x").await.unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
    let err = conn.list_snapshots("no-such-share", "").await.unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
    let err = conn.list_snapshots("bad/share", "").await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

#[tokio::test]
async fn closed_connection_is_not_connected() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv, factory(&srv).direct_tcp(true)).await;
    conn.close().await.unwrap();
    assert!(matches!(conn.list_shares().await, Err(Error::NotConnected)));
    assert!(matches!(
        conn.get_security("share", "").await,
        Err(Error::NotConnected)
    ));
    assert!(matches!(
        conn.list_snapshots("snapshots", "").await,
        Err(Error::NotConnected)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_on_one_connection() {
    let srv = server(Profile::Modern);
    std::fs::write(srv.share_path().join("f.txt"), b"x").unwrap();
    for signed in [false, true] {
        let f = factory(&srv).direct_tcp(true);
        let f = if signed {
            f.sign_options(SignOptions::WhenSupported)
        } else {
            f
        };
        let conn = connect(&srv, f).await;
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let c = conn.clone();
            set.spawn(async move {
                match i % 3 {
                    0 => c.list_shares().await.map(|s| s.len()),
                    1 => c.get_security("share", "f.txt").await.map(|_| 1),
                    _ => c.list_snapshots("snapshots", "").await.map(|s| s.len()),
                }
                .map_err(|e| format!("call {i}: {e}"))
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            let n = r
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(30)));
            assert!(n >= 1);
            ok += 1;
        }
        assert_eq!(ok, 50, "signed={signed}");
        // Every pipe and file was closed: the connection still works.
        check_shares(&conn.list_shares().await.unwrap(), Profile::Modern);
        conn.close().await.unwrap();
    }
}
