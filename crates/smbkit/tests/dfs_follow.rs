//! Operations through DFS links: the root's server answers
//! STATUS_PATH_NOT_COVERED for a path behind a link, and the connection
//! follows the referral to the target server (127.0.0.2 on the same port)
//! with the same credentials, caches it, and fails over from a target that
//! is down (127.0.0.3) to the next one. Over SMB 2/3 and SMB1.

use smbkit::{Connection, NtStatus, Protocol, SignOptions, SmbProtocolFactory};
use smbkit_testserver::dfs::{
    DfsSetup, DFS_ROOT, FIRST_CONTENT, FIRST_FILE, FIRST_HOST, LINK, LOCAL_LINK, SECOND_CONTENT,
    SECOND_FILE, TWO_TARGETS,
};
use smbkit_testserver::{PASSWORD, USER};

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
    f.connect((FIRST_HOST, dfs.port())).await.unwrap()
}

fn names(list: Vec<smbkit::SharedFile>) -> Vec<String> {
    let mut v: Vec<String> = list
        .into_iter()
        .map(|e| e.filename)
        .filter(|n| n != "." && n != "..")
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_goes_through_a_link() {
    let dfs = DfsSetup::start().expect("start the DFS set-up (run scripts/install-deps)");
    for smb1 in [false, true] {
        let conn = connect(&dfs, smb1).await;
        let tag = if smb1 { "smb1" } else { "smb2" };
        let on_second = |name: &str| dfs.second_share_path().join(name);

        // Listing and reading behind the link to the other server.
        let listed = names(conn.list_path(DFS_ROOT, LINK).await.unwrap());
        assert!(listed.contains(&SECOND_FILE.to_string()), "{listed:?}");
        let mut out = Vec::new();
        conn.retrieve_file(DFS_ROOT, &format!("{LINK}/{SECOND_FILE}"), &mut out)
            .await
            .unwrap();
        assert_eq!(out, SECOND_CONTENT);
        let attrs = conn
            .get_attributes(DFS_ROOT, &format!("{LINK}\\{SECOND_FILE}"))
            .await
            .unwrap();
        assert_eq!(attrs.file_size, SECOND_CONTENT.len() as u64);

        // Writes land on the second server's disk.
        let dir = format!("{LINK}/dir-{tag}");
        conn.create_directory(DFS_ROOT, &dir).await.unwrap();
        assert!(on_second(&format!("dir-{tag}")).is_dir());
        let data = vec![7u8; 300_000];
        conn.store_file(DFS_ROOT, &format!("{dir}/a.bin"), &mut &data[..])
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(on_second(&format!("dir-{tag}/a.bin"))).unwrap(),
            data
        );
        conn.rename(DFS_ROOT, &format!("{dir}/a.bin"), &format!("{dir}/b.bin"))
            .await
            .unwrap();
        assert!(on_second(&format!("dir-{tag}/b.bin")).is_file());
        let f = conn
            .open_file(DFS_ROOT, &format!("{dir}/b.bin"))
            .await
            .unwrap();
        assert_eq!(f.read_at(299_990, 100).await.unwrap(), vec![7u8; 10]);
        f.close().await.unwrap();
        conn.delete_files(DFS_ROOT, &format!("{dir}/*.bin"), false)
            .await
            .unwrap();
        conn.delete_directory(DFS_ROOT, &dir).await.unwrap();
        assert!(!on_second(&format!("dir-{tag}")).exists());
        conn.get_security(DFS_ROOT, &format!("{LINK}/{SECOND_FILE}"))
            .await
            .unwrap();

        // Streams: read_dir and walk through the link too.
        let mut dir = conn.read_dir(DFS_ROOT, LINK);
        let mut streamed = Vec::new();
        while let Some(e) = dir.next_entry().await.unwrap() {
            streamed.push(e.name().to_string());
        }
        assert!(streamed.contains(&SECOND_FILE.to_string()), "{streamed:?}");
        let mut walk = conn.walk(DFS_ROOT, LINK);
        let mut walked = Vec::new();
        while let Some(e) = walk.next_entry().await.unwrap() {
            walked.push(e.path().to_string());
        }
        assert!(walked.contains(&SECOND_FILE.to_string()), "{walked:?}");

        // A link back to the root's own server, and one whose first target is down.
        let mut out = Vec::new();
        conn.retrieve_file(DFS_ROOT, &format!("{LOCAL_LINK}/{FIRST_FILE}"), &mut out)
            .await
            .unwrap();
        assert_eq!(out, FIRST_CONTENT);
        let mut out = Vec::new();
        conn.retrieve_file(DFS_ROOT, &format!("{TWO_TARGETS}/{SECOND_FILE}"), &mut out)
            .await
            .unwrap();
        assert_eq!(out, SECOND_CONTENT);

        // Not behind a link: the server's own error, untouched.
        match conn.get_attributes(DFS_ROOT, "plain/missing.txt").await {
            Err(smbkit::Error::OperationFailure { status, .. }) => {
                assert_ne!(status, NtStatus::PATH_NOT_COVERED)
            }
            other => panic!("{other:?}"),
        }
        conn.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_through_links() {
    let dfs = DfsSetup::start().expect("start the DFS set-up");
    let conn = connect(&dfs, false).await;
    // Both behind the link: copied by the second server.
    let n = conn
        .copy(
            DFS_ROOT,
            &format!("{LINK}/{SECOND_FILE}"),
            DFS_ROOT,
            &format!("{LINK}/copy.txt"),
        )
        .await
        .unwrap();
    assert_eq!(n, SECOND_CONTENT.len() as u64);
    assert_eq!(
        std::fs::read(dfs.second_share_path().join("copy.txt")).unwrap(),
        SECOND_CONTENT
    );
    // From behind the link to a share of the first server: streamed.
    let n = conn
        .copy(
            DFS_ROOT,
            &format!("{LINK}/{SECOND_FILE}"),
            "share",
            "from-second.txt",
        )
        .await
        .unwrap();
    assert_eq!(n, SECOND_CONTENT.len() as u64);
    assert_eq!(
        std::fs::read(dfs.first_share_path().join("from-second.txt")).unwrap(),
        SECOND_CONTENT
    );
    let copied = conn
        .copy_to(
            DFS_ROOT,
            &format!("{LOCAL_LINK}/{FIRST_FILE}"),
            &conn,
            DFS_ROOT,
            &format!("{LINK}/first.txt"),
        )
        .await
        .unwrap();
    assert_eq!(copied.bytes, FIRST_CONTENT.len() as u64);
    assert_eq!(
        std::fs::read(dfs.second_share_path().join("first.txt")).unwrap(),
        FIRST_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_goes_down_fails_the_operation_and_comes_back() {
    let mut dfs = DfsSetup::start().expect("start the DFS set-up");
    let conn = connect(&dfs, false).await;
    let path = format!("{LINK}/{SECOND_FILE}");
    assert_eq!(
        conn.get_attributes(DFS_ROOT, &path)
            .await
            .unwrap()
            .file_size,
        SECOND_CONTENT.len() as u64
    );
    dfs.stop_second();
    assert!(conn.get_attributes(DFS_ROOT, &path).await.is_err());
    dfs.restart_second().unwrap();
    let mut out = Vec::new();
    conn.retrieve_file(DFS_ROOT, &path, &mut out).await.unwrap();
    assert_eq!(out, SECOND_CONTENT);
}

#[tokio::test(flavor = "multi_thread")]
async fn watching_a_folder_behind_a_link() {
    let dfs = DfsSetup::start().expect("start the DFS set-up");
    let conn = connect(&dfs, false).await;
    conn.create_directory(DFS_ROOT, &format!("{LINK}/watched"))
        .await
        .unwrap();
    let mut w = conn
        .watch(
            DFS_ROOT,
            &format!("{LINK}/watched"),
            smbkit::WatchOptions::default(),
        )
        .await
        .unwrap();
    // Samba registers the watch with its notify daemon a moment after it
    // takes the request: write (through the link too) until it reports.
    for n in 0..40 {
        let name = format!("{LINK}/watched/f{n}.txt");
        conn.store_file(DFS_ROOT, &name, &mut &b"x"[..])
            .await
            .unwrap();
        if let Ok(r) =
            tokio::time::timeout(std::time::Duration::from_millis(500), w.next_change()).await
        {
            let change = r.unwrap().expect("a change");
            assert!(
                matches!(&change, smbkit::Change::Added(p) if p.starts_with('f')),
                "{change:?}"
            );
            assert!(dfs
                .second_share_path()
                .join("watched")
                .join("f0.txt")
                .is_file());
            return;
        }
    }
    panic!("the watch behind the link reports nothing");
}
