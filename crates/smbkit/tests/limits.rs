//! Inputs the protocol cannot carry, through the public API against real
//! Samba: a 40,000-character path for every operation that takes one, a
//! long share name and a long listing pattern, over SMB2 and SMB1. Each is
//! refused with `Error::InvalidArgument` naming the limit, before anything
//! is sent, and the connection goes on working (it was not cut, and no
//! message id, credit or signing sequence number was used up).
//!
//! Past the common 65535-byte path check, the SMB1 requests have limits of
//! their own (two names share one 16-bit ByteCount; a TRANSACTION2's
//! DataOffset is 16 bits): those are refused by the encoders, with the
//! field's name.

use std::fmt::Debug;
use std::fs;

use smbkit::{Connection, Error, InvalidArgument, Protocol, SignOptions, SmbProtocolFactory};
use smbkit_proto::fscc::search;
use smbkit_testserver::{Profile, TestServer};

/// 40,000 characters: 80,000 bytes of UTF-16, past every 16-bit length.
fn long() -> String {
    "p".repeat(40_000)
}

fn server(profile: Profile) -> TestServer {
    let srv =
        TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)");
    fs::write(srv.share_path().join("keep.txt"), b"kept").unwrap();
    fs::create_dir(srv.share_path().join("dir")).unwrap();
    srv.chown_to_user(srv.share_path()).unwrap();
    srv
}

/// A signed connection over SMB2 or SMB1 (`Protocol::Smb1Only`).
async fn connect(srv: &TestServer, smb1: bool) -> Connection {
    let mut f = SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true)
        .sign_options(SignOptions::WhenSupported);
    if smb1 {
        f = f.protocol(Protocol::Smb1Only);
    }
    let conn = f
        .connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", srv.log_tail(20)));
    assert_eq!(conn.is_using_smb2(), !smb1);
    assert!(conn.server_info().signing);
    conn
}

/// Asserts `r` is `Error::InvalidArgument` whose message holds every one
/// of `want`; returns the message.
#[track_caller]
fn invalid<T: Debug>(what: &str, r: Result<T, Error>, want: &[&str]) -> String {
    match r {
        Err(Error::InvalidArgument(e)) => {
            let m = e.to_string();
            for w in want {
                assert!(m.contains(w), "{what}: {m:?} does not say {w:?}");
            }
            assert!(
                m.len() < 300,
                "{what}: the message repeats the input: {m:?}"
            );
            m
        }
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

/// The connection still answers, signed, and the share is as it was.
async fn still_works(conn: &Connection, srv: &TestServer) {
    assert!(conn.is_ready());
    assert_eq!(conn.echo(b"still here").await.unwrap(), b"still here");
    let mut names: Vec<String> = conn
        .list_path("share", "")
        .await
        .unwrap_or_else(|e| panic!("list after the refusals: {e}\n{}", srv.log_tail(20)))
        .into_iter()
        .map(|f| f.filename)
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    assert_eq!(names, ["dir", "keep.txt"]);
    let mut out = Vec::new();
    conn.retrieve_file("share", "keep.txt", &mut out)
        .await
        .unwrap();
    assert_eq!(out, b"kept");
}

/// A server and a signed connection to it over SMB1 or SMB2.
async fn start(smb1: bool) -> (TestServer, Connection) {
    let srv = server(if smb1 {
        Profile::Smb1Signing
    } else {
        Profile::Modern
    });
    let conn = connect(&srv, smb1).await;
    (srv, conn)
}

async fn every_operation_refuses_a_40000_character_path(smb1: bool) {
    let (srv, conn) = start(smb1).await;
    let p = long();
    // The path check names the limit: "path 'pppp…' of 40000 characters
    // is 80000 bytes in UTF-16, the limit is 65535 (a 16-bit length
    // field)".
    let want = ["80000 bytes", "the limit is 65535"];
    let m = invalid("list_path", conn.list_path("share", &p).await, &want);
    assert!(m.starts_with("path 'pppp"), "{m}");
    assert!(
        matches!(
            conn.get_attributes("share", &p).await,
            Err(Error::InvalidArgument(InvalidArgument::NameTooLong {
                what: "path",
                bytes: 80_000,
                limit: 65_535,
                ..
            }))
        ),
        "the path check is typed"
    );
    invalid(
        "get_attributes",
        conn.get_attributes("share", &p).await,
        &want,
    );
    invalid(
        "retrieve_file",
        conn.retrieve_file("share", &p, &mut Vec::new()).await,
        &want,
    );
    invalid(
        "retrieve_file_from_offset",
        conn.retrieve_file_from_offset("share", &p, &mut Vec::new(), 10, Some(10))
            .await,
        &want,
    );
    invalid(
        "store_file",
        conn.store_file("share", &p, &mut &b"data"[..]).await,
        &want,
    );
    invalid("open_file", conn.open_file("share", &p).await, &want);
    invalid(
        "create_directory",
        conn.create_directory("share", &p).await,
        &want,
    );
    invalid(
        "delete_directory",
        conn.delete_directory("share", &p).await,
        &want,
    );
    invalid(
        "delete_files",
        conn.delete_files("share", &p, true).await,
        &want,
    );
    invalid(
        "delete_files with a wildcard",
        conn.delete_files("share", &format!("dir/{p}*"), false)
            .await,
        &["80010 bytes", "the limit is 65535"],
    );
    invalid(
        "rename from a long path",
        conn.rename("share", &p, "new.txt").await,
        &want,
    );
    invalid(
        "rename to a long path",
        conn.rename("share", "keep.txt", &p).await,
        &want,
    );
    invalid("get_security", conn.get_security("share", &p).await, &want);
    invalid(
        "list_snapshots",
        conn.list_snapshots("snapshots", &p).await,
        &want,
    );
    invalid(
        "reset_file_attributes",
        conn.reset_file_attributes("share", &p, 0).await,
        &want,
    );
    still_works(&conn, &srv).await;
    conn.close().await.unwrap();
}

async fn a_long_share_name_and_a_long_pattern_are_refused(smb1: bool) {
    let (srv, conn) = start(smb1).await;
    let share = "s".repeat(40_000);
    let want = ["40000 characters", "the limit is 80"];
    invalid("tree_connect", conn.tree_connect(&share).await, &want);
    invalid("list_path", conn.list_path(&share, "").await, &want);
    invalid(
        "store_file",
        conn.store_file(&share, "f.txt", &mut &b"x"[..]).await,
        &want,
    );
    // 80 characters are accepted, and the server answers for the name.
    let err = conn.tree_connect(&"s".repeat(80)).await.unwrap_err();
    assert!(
        matches!(err, Error::OperationFailure { .. }),
        "{err:?}\n{}",
        srv.log_tail(20)
    );
    invalid(
        "list_path_with a long pattern",
        conn.list_path_with("share", "dir", search::DEFAULT, &long())
            .await,
        &["pattern 'pppp", "80000 bytes", "the limit is 65535"],
    );
    still_works(&conn, &srv).await;
    conn.close().await.unwrap();
}

/// SMB1 fields narrower than the 65535-byte path check: the encoders
/// refuse the request naming the field, the MID and signing sequence
/// number it would have used are not consumed, and the next signed
/// requests verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_encoder_limits_within_the_path_limit() {
    let (srv, conn) = start(true).await;
    // 20,000 characters each: 40,000 bytes per name passes the path
    // check, but SMB_COM_RENAME carries both names in one ByteCount.
    let a = "a".repeat(20_000);
    let b = "b".repeat(20_000);
    for _ in 0..3 {
        invalid(
            "rename",
            conn.rename("share", &a, &b).await,
            &["SMB_COM_RENAME ByteCount: 80011 bytes, the limit is 65535"],
        );
    }
    // A folder of 32,740 characters: TRANS2_FIND_FIRST2 puts `\folder\*`
    // in its parameters, whose end (DataOffset) is a 16-bit offset.
    let folder = "f".repeat(32_740);
    invalid(
        "list_path",
        conn.list_path("share", &folder).await,
        &["TRANSACTION2 DataOffset", "the limit is 65535"],
    );
    invalid(
        "get_attributes",
        conn.get_attributes("share", &folder).await,
        &["TRANSACTION2 DataOffset", "the limit is 65535"],
    );
    // SMB_COM_ECHO sends the data back: it must fit ByteCount.
    invalid(
        "echo",
        conn.echo(&vec![7; 70_000]).await,
        &["SMB_COM_ECHO ByteCount: 70000 bytes, the limit is 65535"],
    );
    let big = vec![7; 65_535];
    assert_eq!(conn.echo(&big).await.unwrap(), big);
    still_works(&conn, &srv).await;
    conn.close().await.unwrap();
}

/// The longest path the check lets through reaches the server, which
/// refuses it by its own rules; the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb2_the_longest_path_reaches_the_server() {
    let (srv, conn) = start(false).await;
    let p = "q".repeat(32_767);
    let err = conn.get_attributes("share", &p).await.unwrap_err();
    assert!(
        matches!(err, Error::OperationFailure { .. }),
        "{err:?}\n{}",
        srv.log_tail(20)
    );
    let err = conn
        .get_attributes("share", &format!("{p}q"))
        .await
        .unwrap_err();
    invalid(
        "one character more",
        Err::<(), _>(err),
        &["65536 bytes", "the limit is 65535"],
    );
    still_works(&conn, &srv).await;
    conn.close().await.unwrap();
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod smb2 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(false).await
                }
            )*
        }
        mod smb1 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(true).await
                }
            )*
        }
    };
}

both!(
    every_operation_refuses_a_40000_character_path,
    a_long_share_name_and_a_long_pattern_are_refused,
);
