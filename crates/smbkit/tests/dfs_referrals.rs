//! DFS referrals (`Connection::dfs_referral`) against Samba's DFS root of
//! the `DfsSetup` (two smbds on one port at 127.0.0.1 and 127.0.0.2), over
//! SMB 2/3 (IOCTL FSCTL_DFS_GET_REFERRALS) and SMB1
//! (TRANS2_GET_DFS_REFERRAL): the root, a link to the other server, a link
//! with two targets in order, a link back to the root's own server, a path
//! below a link, and the errors of paths that are not in DFS.

use smbkit::{
    Connection, Error, InvalidArgument, NtStatus, Protocol, SignOptions, SmbProtocolFactory,
};
use smbkit_testserver::dfs::{
    DfsSetup, DOWN_HOST, FIRST_HOST, LINK, LOCAL_LINK, PLAIN_DIR, SECOND_HOST, SHARE, TWO_TARGETS,
};
use smbkit_testserver::{PASSWORD, USER};

/// The TTL Samba gives root and link referrals, in seconds.
const SAMBA_TTL: u32 = 600;

fn setup() -> DfsSetup {
    DfsSetup::start().expect("start the DFS set-up (run scripts/install-deps)")
}

/// A connection to the DFS root's server over SMB 2/3, or SMB1.
async fn connect(dfs: &DfsSetup, smb1: bool) -> Connection {
    let f = SmbProtocolFactory::new(USER, PASSWORD, "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true)
        .sign_options(SignOptions::WhenSupported);
    let f = if smb1 {
        f.protocol(Protocol::Smb1Only)
    } else {
        f
    };
    let conn = f
        .connect((FIRST_HOST, dfs.port()))
        .await
        .expect("connect to the DFS root's server");
    assert_eq!(conn.is_using_smb2(), !smb1);
    conn
}

/// `\server\share` of a referral target.
fn target(host: &str, share: &str) -> String {
    format!("\\{host}\\{share}")
}

/// PathConsumed of all of `path`: its length in bytes of UTF-16.
fn utf16_bytes(path: &str) -> u16 {
    (path.encode_utf16().count() * 2) as u16
}

#[tokio::test(flavor = "multi_thread")]
async fn root_referral() {
    let dfs = setup();
    let path = dfs.dfs_path("");
    assert_eq!(path, r"\127.0.0.1\dfsroot");
    for smb1 in [false, true] {
        let conn = connect(&dfs, smb1).await;
        let r = conn.dfs_referral(&path).await.unwrap();
        // PathConsumed counts bytes, not characters: 18 characters.
        assert_eq!(r.path_consumed, 36, "smb1 {smb1}: {r:#?}");
        assert_eq!(r.path_consumed, utf16_bytes(&path));
        assert_eq!(r.consumed(&path), Some(path.as_str()));
        // Samba answers version 3 to a client that understands 4, and
        // says its root targets are referral servers and storage.
        assert_eq!(r.version(), Some(3), "{r:#?}");
        assert!(r.header_flags.referral_servers() && r.header_flags.storage_servers());
        assert!(!r.header_flags.target_failback());
        let targets: Vec<_> = r.referrals().collect();
        assert_eq!(targets.len(), 1, "{r:#?}");
        let t = targets[0];
        assert!(t.is_root(), "{t:?}");
        assert_eq!(t.target, path);
        assert_eq!((t.path.as_str(), t.alt_path.as_str()), (&*path, &*path));
        assert_eq!(t.ttl, SAMBA_TTL);
        assert!(!t.target_set_boundary());
        assert_eq!(r.name_lists().count(), 0);
        conn.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn link_referral_names_the_other_server() {
    let dfs = setup();
    let path = dfs.dfs_path(LINK);
    for smb1 in [false, true] {
        let conn = connect(&dfs, smb1).await;
        let r = conn.dfs_referral(&path).await.unwrap();
        assert_eq!(r.path_consumed, 46, "smb1 {smb1}: {r:#?}"); // 23 characters
        assert_eq!(r.consumed(&path), Some(path.as_str()));
        assert!(r.header_flags.storage_servers() && !r.header_flags.referral_servers());
        let targets: Vec<_> = r.referrals().collect();
        assert_eq!(targets.len(), 1, "{r:#?}");
        assert_eq!(targets[0].target, target(SECOND_HOST, SHARE));
        assert_eq!(targets[0].path, path);
        assert!(!targets[0].is_root());
        assert!(targets[0].ttl > 0);
        assert_eq!(targets[0].ttl, SAMBA_TTL);

        // A path below the link: only the link is consumed, the rest goes
        // on after the target.
        let deep = format!(r"{path}\dir\file.txt");
        let r = conn.dfs_referral(&deep).await.unwrap();
        assert_eq!(r.path_consumed, 46);
        assert_eq!(r.consumed(&deep), Some(path.as_str()));
        let rest = &deep[path.len()..];
        let t = r.referrals().next().unwrap();
        assert_eq!(
            format!("{}{rest}", t.target),
            r"\127.0.0.2\share\dir\file.txt"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_targets_come_in_order() {
    let dfs = setup();
    let path = dfs.dfs_path(TWO_TARGETS);
    for smb1 in [false, true] {
        let conn = connect(&dfs, smb1).await;
        let r = conn.dfs_referral(&path).await.unwrap();
        assert_eq!(r.path_consumed, utf16_bytes(&path));
        let targets: Vec<&str> = r.referrals().map(|t| t.target.as_str()).collect();
        assert_eq!(
            targets,
            [target(DOWN_HOST, SHARE), target(SECOND_HOST, SHARE)],
            "smb1 {smb1}: {r:#?}"
        );
        assert!(r
            .referrals()
            .all(|t| t.ttl == SAMBA_TTL && t.path == path && !t.is_root()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_back_to_the_roots_server() {
    let dfs = setup();
    let path = dfs.dfs_path(LOCAL_LINK);
    let conn = connect(&dfs, false).await;
    let r = conn.dfs_referral(&path).await.unwrap();
    let targets: Vec<&str> = r.referrals().map(|t| t.target.as_str()).collect();
    assert_eq!(targets, [target(FIRST_HOST, SHARE)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_root_answers_while_the_target_is_down() {
    let mut dfs = setup();
    dfs.stop_second();
    let conn = connect(&dfs, false).await;
    let r = conn.dfs_referral(&dfs.dfs_path(LINK)).await.unwrap();
    assert_eq!(
        r.referrals().next().map(|t| t.target.clone()),
        Some(target(SECOND_HOST, SHARE))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_that_are_not_in_dfs_fail_with_the_status() {
    let dfs = setup();
    let cases = [
        // A share that is no DFS root.
        (format!(r"\{FIRST_HOST}\{SHARE}\x"), NtStatus::NOT_FOUND),
        (format!(r"\{FIRST_HOST}\nosuchshare"), NtStatus::NOT_FOUND),
        // A folder of the root that is no link, and a missing one.
        (dfs.dfs_path(PLAIN_DIR), NtStatus::OBJECT_PATH_NOT_FOUND),
        (dfs.dfs_path("missing"), NtStatus::OBJECT_PATH_NOT_FOUND),
    ];
    for smb1 in [false, true] {
        let conn = connect(&dfs, smb1).await;
        for (path, want) in &cases {
            match conn.dfs_referral(path).await {
                Err(Error::OperationFailure {
                    operation,
                    path: p,
                    status,
                    detail,
                }) => {
                    assert_eq!(operation, "dfs referral");
                    assert_eq!(&p, path);
                    assert_eq!(status, *want, "smb1 {smb1}: {path}");
                    assert!(detail.is_none());
                }
                other => panic!("smb1 {smb1}: {path}: {other:?}"),
            }
        }
        // Refused before anything is sent.
        assert!(matches!(
            conn.dfs_referral("\\srv\\root\0").await,
            Err(Error::InvalidArgument(InvalidArgument::Nul { .. }))
        ));
        // The connection is still good.
        assert!(conn.dfs_referral(&dfs.dfs_path(LINK)).await.is_ok());
    }
}
