//! Every typed error a caller's input can cause, through the public API,
//! against real Samba over SMB2 and SMB1: each one is matched by variant
//! and fields (never by message text), names the argument or the limit,
//! keeps its cause reachable through `source()`, and leaves the
//! connection working. The server-caused variants are produced by the
//! tests of the features they belong to (encryption, reconnects, limits,
//! listing, shares) and by the protocol core's simulation tests.

use std::error::Error as _;

use smbkit::{
    Cipher, Connection, Error, FailureDetail, InvalidArgument, NtStatus, Protocol,
    SmbProtocolFactory, UrlError,
};
use smbkit_testserver::{Profile, TestServer};

fn server(profile: Profile) -> TestServer {
    let srv =
        TestServer::start(profile).expect("start the test Samba server (run scripts/install-deps)");
    std::fs::write(srv.share_path().join("a.txt"), b"abc").unwrap();
    std::fs::create_dir(srv.share_path().join("dir")).unwrap();
    srv
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

async fn connect(srv: &TestServer) -> Connection {
    factory(srv)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap()
}

/// The `InvalidArgument` inside `r`, or a panic naming what came instead.
#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T, Error>) -> InvalidArgument {
    match r {
        Err(Error::InvalidArgument(e)) => e,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_argument_is_its_own_variant_and_nothing_is_sent() {
    for profile in [Profile::Modern, Profile::Smb1Only] {
        let srv = server(profile);
        let conn = connect(&srv).await;
        let p = format!("{profile:?}");

        assert_eq!(
            invalid(conn.list_path("", "/").await),
            InvalidArgument::EmptyShare,
            "{p}"
        );
        assert!(matches!(
            invalid(conn.list_path("share/dir", "/").await),
            InvalidArgument::ShareCharacter { character: '/', .. }
        ));
        let long_share = "s".repeat(81);
        assert!(matches!(
            invalid(conn.get_attributes(&long_share, "a.txt").await),
            InvalidArgument::ShareTooLong {
                length: 81,
                limit: 80,
                ..
            }
        ));
        assert!(matches!(
            invalid(conn.get_attributes("share", "a\0b").await),
            InvalidArgument::Nul { what: "path", .. }
        ));
        assert_eq!(
            invalid(conn.list_path_with("share", "/", 0x37, "").await),
            InvalidArgument::EmptyPattern
        );
        assert!(matches!(
            invalid(conn.list_path_with("share", "/", 0x37, "dir/*").await),
            InvalidArgument::PatternWithFolder { .. }
        ));
        let long_pattern = "q".repeat(40_000);
        assert!(matches!(
            invalid(conn.list_path_with("share", "/", 0x37, &long_pattern).await),
            InvalidArgument::NameTooLong {
                what: "pattern",
                bytes: 80_000,
                limit: 65_535,
                ..
            }
        ));
        for (e, operation) in [
            (
                invalid(conn.create_directory("share", "/").await),
                "create_directory",
            ),
            (
                invalid(conn.delete_directory("share", "").await),
                "delete_directory",
            ),
            (invalid(conn.rename("share", "/", "b").await), "rename"),
            (
                invalid(conn.delete_files("share", "dir/", false).await),
                "delete_files",
            ),
            (
                invalid(conn.reset_file_attributes("share", "dir\\", 0).await),
                "reset_file_attributes",
            ),
            (
                invalid(conn.store_file("share", "/", &mut &b"x"[..]).await),
                "store_file",
            ),
        ] {
            assert_eq!(e, InvalidArgument::NoName { operation }, "{p}");
        }
        let e = invalid(
            conn.retrieve_file_from_offset("share", "a.txt", &mut Vec::new(), 4, None)
                .await,
        );
        assert_eq!(
            e,
            InvalidArgument::OffsetPastEnd {
                offset: 4,
                path: "\\share\\a.txt".into(),
                size: 3,
            },
            "{p}"
        );

        // A reader outliving the file it was made from.
        let file = conn.open_file("share", "a.txt").await.unwrap();
        let mut reader = file.reader(0, None);
        file.close().await.unwrap();
        assert_eq!(
            invalid(reader.next_chunk().await),
            InvalidArgument::FileClosed {
                path: "\\share\\a.txt".into()
            },
            "{p}"
        );

        // Nothing above reached the server as a request that changed
        // anything, and the connection still works.
        assert_eq!(conn.echo(b"ok").await.unwrap(), b"ok");
        let mut names: Vec<String> = conn
            .list_path("share", "/")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.filename)
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "dir"], "{p}");
    }
}

/// A value a request's field cannot carry, though each argument alone is
/// within the path limit: SMB1's rename carries both names in one 16-bit
/// ByteCount. The encoder's error says which field and its limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_too_large_for_its_field_is_unencodable() {
    let srv = server(Profile::Smb1Only);
    let conn = connect(&srv).await;
    let a = "a".repeat(30_000);
    let b = "b".repeat(30_000);
    match invalid(conn.rename("share", &a, &b).await) {
        InvalidArgument::Unencodable(smbkit_proto::EncodeError::TooLarge { limit, .. }) => {
            assert_eq!(limit, 65_535)
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(conn.echo(b"ok").await.unwrap(), b"ok");
}

#[tokio::test]
async fn factory_arguments_are_typed() {
    let e = invalid(SmbProtocolFactory::new("u", "p", "MY PC", "SERVER").map(|_| ()));
    match &e {
        InvalidArgument::NetbiosName { role, error } => {
            assert_eq!(*role, "my_name");
            assert!(matches!(error, smbkit_proto::nbss::NameError::Space { .. }));
        }
        e => panic!("{e:?}"),
    }
    // The NameError is the source.
    let outer = Error::InvalidArgument(e.clone());
    let source = outer.source().expect("InvalidArgument has a source");
    assert!(source.source().is_some(), "the NameError under it");

    let f = SmbProtocolFactory::new("u", "p", "A", "B").unwrap();
    assert_eq!(
        invalid(f.clone().ciphers(&[]).map(|_| ())),
        InvalidArgument::NoCiphers
    );
    f.clone().ciphers(&[Cipher::Aes128Gcm]).unwrap();
    let none: &[std::net::SocketAddr] = &[];
    assert_eq!(
        invalid(f.connect(none).await.map(|_| ())),
        InvalidArgument::NoAddress
    );

    // A URL's own error under InvalidArgument::Url.
    let e: Error = smbkit::SmbUrl::parse("smb://host:99999/share")
        .unwrap_err()
        .into();
    assert!(
        matches!(&e, Error::InvalidArgument(InvalidArgument::Url(UrlError::BadPort(p))) if p == "99999"),
        "{e:?}"
    );
}

/// What the server refuses keeps the operation, both paths of a rename and
/// the status; the detail is the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_keep_operation_path_and_detail() {
    for profile in [Profile::Modern, Profile::Smb1Only] {
        let srv = server(profile);
        let conn = connect(&srv).await;
        let e = conn
            .rename("share", "missing.txt", "b.txt")
            .await
            .unwrap_err();
        match &e {
            Error::OperationFailure {
                operation,
                path,
                status,
                detail,
            } => {
                assert_eq!(*operation, "rename");
                assert_eq!(path, "\\share\\missing.txt");
                assert_eq!(*status, NtStatus::OBJECT_NAME_NOT_FOUND, "{profile:?}");
                assert_eq!(
                    detail.as_deref(),
                    Some(&FailureDetail::RenameTo("\\share\\b.txt".into()))
                );
            }
            e => panic!("{e:?}"),
        }
        assert!(e.source().is_some(), "the detail is the source");
        let e = conn.get_attributes("share", "dir/none").await.unwrap_err();
        assert!(
            matches!(
                &e,
                Error::OperationFailure { operation: "get_attributes", path, detail: None, .. }
                    if path == "\\share\\dir\\none"
            ),
            "{e:?}"
        );
        let e = conn.list_path("nosuchshare", "/").await.unwrap_err();
        assert!(
            matches!(
                &e,
                Error::OperationFailure {
                    operation: "tree connect",
                    status: NtStatus::BAD_NETWORK_NAME,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
