//! list_shares, list_snapshots and get_security over SMB1 (NT LM 0.12)
//! against real Samba servers that speak only NT1, with and without
//! mandatory signing, over NetBIOS and direct TCP.

use std::time::{Duration, Instant};

use smbkit::{Connection, Dialect, Error, NtStatus, SmbProtocolFactory};
use smbkit_testserver::{Profile, TestServer};

mod common;
use common::{check_shares, expected_snapshots};

const PROFILES: [Profile; 2] = [Profile::Smb1Only, Profile::Smb1Signing];

fn server(profile: Profile) -> TestServer {
    TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)")
}

/// An SMB1 connection (NetBIOS unless `direct`), checked to be SMB1 and,
/// on the signing profile, signed.
async fn connect(srv: &TestServer, direct: bool) -> Connection {
    let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(direct)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("connect (direct={direct}): {e}\n{}", srv.log_tail(30)));
    assert!(!conn.is_using_smb2());
    assert_eq!(conn.dialect(), Dialect::NT_LM_0_12);
    if srv.profile() == Profile::Smb1Signing {
        assert!(conn.server_info().signing_required_by_server);
        assert!(conn.server_info().signing);
    }
    conn
}

#[tokio::test]
async fn list_shares_over_netbios_and_direct_tcp_with_and_without_signing() {
    for profile in PROFILES {
        let srv = server(profile);
        for direct in [false, true] {
            let conn = connect(&srv, direct).await;
            let shares = conn
                .list_shares()
                .await
                .unwrap_or_else(|e| panic!("{profile} direct={direct}: {e}\n{}", srv.log_tail(30)));
            check_shares(&shares, profile);
            // Again on the same connection: a fresh pipe on the cached IPC$.
            assert_eq!(conn.list_shares().await.unwrap(), shares);
            conn.close().await.unwrap();
        }
    }
}

#[tokio::test]
async fn list_snapshots_of_the_root_a_folder_and_a_file() {
    for profile in PROFILES {
        let srv = server(profile);
        std::fs::create_dir(srv.snapshots_path().join("docs")).unwrap();
        std::fs::write(srv.snapshots_path().join("docs/report.txt"), b"v3").unwrap();
        srv.chown_to_user(&srv.snapshots_path().join("docs"))
            .unwrap();
        for direct in [false, true] {
            let conn = connect(&srv, direct).await;
            for path in ["", "/", "docs", "/docs/report.txt", "docs\\report.txt"] {
                let got = conn
                    .list_snapshots("snapshots", path)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "{profile} direct={direct} {path:?}: {e}\n{}",
                            srv.log_tail(30)
                        )
                    });
                assert_eq!(got, expected_snapshots(), "{profile} {path:?}");
            }
        }
    }
}

#[tokio::test]
async fn list_snapshots_without_shadow_copies_is_an_operation_failure() {
    let srv = server(Profile::Smb1Only);
    std::fs::write(srv.share_path().join("plain.txt"), b"x").unwrap();
    for direct in [false, true] {
        let conn = connect(&srv, direct).await;
        for path in ["", "plain.txt"] {
            let err = conn.list_snapshots("share", path).await.unwrap_err();
            match &err {
                Error::OperationFailure {
                    status,
                    operation,
                    detail,
                    ..
                } => {
                    assert_eq!(*status, NtStatus::INVALID_DEVICE_REQUEST, "{err}");
                    assert_eq!(*operation, "list_snapshots", "{err}");
                    assert_eq!(
                        detail.as_deref(),
                        Some(&smbkit::FailureDetail::NoSnapshotSupport)
                    );
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
        // The connection is still usable after the failures.
        assert_eq!(
            conn.list_snapshots("snapshots", "").await.unwrap(),
            expected_snapshots()
        );
    }
}

#[tokio::test]
async fn get_security_of_files_and_folders() {
    for profile in PROFILES {
        let srv = server(profile);
        std::fs::write(srv.share_path().join("secret.txt"), b"x").unwrap();
        std::fs::create_dir(srv.share_path().join("dir")).unwrap();
        srv.chown_to_user(&srv.share_path().join("secret.txt"))
            .unwrap();
        for direct in [false, true] {
            let conn = connect(&srv, direct).await;
            for (share, path) in [
                ("share", "secret.txt"),
                ("share", "/dir"),
                ("share", ""),
                ("readonly", "hello.txt"),
            ] {
                let sd = conn.get_security(share, path).await.unwrap_or_else(|e| {
                    panic!("{profile} {share} {path:?}: {e}\n{}", srv.log_tail(30))
                });
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
            // The file belongs to the test user: a domain SID.
            let sd = conn.get_security("share", "secret.txt").await.unwrap();
            let owner = sd.owner.unwrap().to_string();
            assert!(owner.starts_with("S-1-5-21-"), "{owner}");
        }
    }
}

#[tokio::test]
async fn get_security_of_a_missing_path_or_share() {
    let srv = server(Profile::Smb1Only);
    for direct in [false, true] {
        let conn = connect(&srv, direct).await;
        let err = conn.get_security("share", "nope.txt").await.unwrap_err();
        match &err {
            Error::OperationFailure { status, path, .. } => {
                assert_eq!(*status, NtStatus::OBJECT_NAME_NOT_FOUND, "{err}");
                assert!(path.contains("nope.txt"), "{path}");
            }
            e => panic!("expected OperationFailure, got {e:?}"),
        }
        let err = conn.get_security("no-such-share", "x").await.unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
        let err = conn.list_snapshots("no-such-share", "").await.unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::BAD_NETWORK_NAME), "{err:?}");
        let err = conn.list_snapshots("bad/share", "").await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_list_shares_on_one_connection() {
    for (profile, direct) in [(Profile::Smb1Only, true), (Profile::Smb1Signing, false)] {
        let srv = server(profile);
        let conn = connect(&srv, direct).await;
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20 {
            let c = conn.clone();
            set.spawn(async move { c.list_shares().await.map_err(|e| format!("call {i}: {e}")) });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            let shares = r
                .unwrap()
                .unwrap_or_else(|e| panic!("{profile}: {e}\n{}", srv.log_tail(30)));
            check_shares(&shares, profile);
            ok += 1;
        }
        assert_eq!(ok, 20, "{profile}");
        check_shares(&conn.list_shares().await.unwrap(), profile);
        conn.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_calls_on_one_connection() {
    let srv = server(Profile::Smb1Signing);
    std::fs::write(srv.share_path().join("f.txt"), b"x").unwrap();
    let conn = connect(&srv, true).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..30 {
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
    while let Some(r) = set.join_next().await {
        let n = r
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(30)));
        assert!(n >= 1);
    }
    check_shares(&conn.list_shares().await.unwrap(), Profile::Smb1Signing);
}

#[tokio::test]
async fn list_shares_times_out_and_the_connection_recovers() {
    let srv = server(Profile::Smb1Only);
    let conn = connect(&srv, true).await;
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
        took < Duration::from_millis(900),
        "timed out after {took:?}"
    );
    check_shares(&conn.list_shares().await.unwrap(), Profile::Smb1Only);
    assert!(conn.get_security("share", "").await.is_ok());
}

#[tokio::test]
async fn closed_connection_is_not_connected() {
    let srv = server(Profile::Smb1Only);
    let conn = connect(&srv, false).await;
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
