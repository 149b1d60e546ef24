//! The sizes of [`Tuning`] against real Samba, over SMB2 and SMB1: tiny
//! pipe buffers force STATUS_BUFFER_OVERFLOW and continuation reads, a tiny
//! security buffer forces STATUS_BUFFER_TOO_SMALL and the retry with the
//! size the server names, and a small SMB1 MaxBufferSize makes the server
//! split every transaction response over several messages. Each must give
//! exactly what the default sizes give. Also: SMB1 reads that the server
//! answers short in the middle of a file (Samba's 131011-byte limit on
//! signed sessions) read on.

use smbkit::{Connection, Error, InvalidArgument, SmbProtocolFactory, Tuning};
use smbkit_testserver::{content, ExtraConfig, Profile, TestServer};
use tokio::io::AsyncReadExt;

fn factory(srv: &TestServer, direct: bool) -> SmbProtocolFactory {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(direct)
}

async fn connect(f: SmbProtocolFactory, srv: &TestServer) -> Connection {
    f.connect((srv.host(), srv.port()))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", srv.log_tail(30)))
}

fn tuned(t: impl FnOnce(&mut Tuning)) -> Tuning {
    let mut tuning = Tuning::default();
    t(&mut tuning);
    tuning
}

#[test]
fn sizes_below_their_least_are_refused_naming_it() {
    let f = || SmbProtocolFactory::new("u", "p", "A", "B").unwrap();
    for (t, name, least) in [
        (tuned(|t| t.pipe_io_size = Some(23)), "pipe_io_size", 24),
        (tuned(|t| t.security_buffer = Some(0)), "security_buffer", 1),
        (
            tuned(|t| t.smb1_max_buffer = Some(1023)),
            "smb1_max_buffer",
            1024,
        ),
    ] {
        match f().tuning(t) {
            Err(Error::InvalidArgument(
                e @ InvalidArgument::TuningBelowMinimum {
                    setting, minimum, ..
                },
            )) => {
                assert_eq!((setting, minimum), (name, least), "{e}");
                assert!(e.to_string().contains(&least.to_string()), "{e}");
            }
            other => panic!("{t:?}: {:?}", other.map(|_| ())),
        }
    }
    f().tuning(tuned(|t| t.pipe_io_size = Some(24))).unwrap();
}

#[tokio::test]
async fn small_pipe_buffers_read_the_rest() {
    for profile in [Profile::Modern, Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = TestServer::start(profile).unwrap();
        let normal = connect(factory(&srv, true), &srv)
            .await
            .list_shares()
            .await
            .unwrap();
        assert!(normal.len() >= 5, "{normal:?}");
        for io in [24u32, 64, 100, 1000] {
            let f = factory(&srv, true)
                .tuning(tuned(|t| t.pipe_io_size = Some(io)))
                .unwrap();
            let small = connect(f, &srv)
                .await
                .list_shares()
                .await
                .unwrap_or_else(|e| panic!("{profile} io size {io}: {e}\n{}", srv.log_tail(40)));
            assert_eq!(small, normal, "{profile} io size {io}");
        }
    }
}

#[tokio::test]
async fn a_small_security_buffer_is_retried_with_the_size_asked_for() {
    for (profile, direct) in [(Profile::Modern, true), (Profile::Smb1Only, false)] {
        let srv = TestServer::start(profile).unwrap();
        std::fs::write(srv.share_path().join("f.txt"), b"x").unwrap();
        let normal = connect(factory(&srv, direct), &srv)
            .await
            .get_security("share", "f.txt")
            .await
            .unwrap();
        let f = factory(&srv, direct)
            .tuning(tuned(|t| t.security_buffer = Some(8)))
            .unwrap();
        let small = connect(f, &srv)
            .await
            .get_security("share", "f.txt")
            .await
            .unwrap_or_else(|e| panic!("{profile}: {e}\n{}", srv.log_tail(40)));
        assert_eq!(small, normal);
        assert!(small.owner.is_some());
    }
}

/// Gives `path` a POSIX ACL (the `system.posix_acl_access` extended
/// attribute, version 2) with `users` named-user entries.
fn large_acl(path: &std::path::Path, users: u32) {
    const UNDEFINED: u32 = u32::MAX;
    let mut v = 2u32.to_le_bytes().to_vec();
    let mut entry = |tag: u16, perm: u16, id: u32| {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    };
    entry(0x01, 6, UNDEFINED); // ACL_USER_OBJ
    for uid in 0..users {
        entry(0x02, 4, 30_000 + uid); // ACL_USER
    }
    entry(0x04, 4, UNDEFINED); // ACL_GROUP_OBJ
    entry(0x10, 6, UNDEFINED); // ACL_MASK
    entry(0x20, 4, UNDEFINED); // ACL_OTHER
    let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new("setfattr")
        .args(["-n", "system.posix_acl_access", "-v"])
        .arg(format!("0x{hex}"))
        .arg(path)
        .output()
        .expect("run setfattr (Debian's attr package)");
    assert!(out.status.success(), "setfattr: {out:?}");
}

/// A client MaxBufferSize of 1024 bytes makes Samba send every transaction
/// response above ~950 bytes in parts (a response may not exceed the
/// client's MaxBufferSize, MS-CIFS §2.2.4.53.1): share enumeration over
/// TRANS_TRANSACT_NMPIPE, a security descriptor of 150 ACEs over
/// NT_TRANSACT, a 300-entry listing over TRANS2 FIND_FIRST2/FIND_NEXT2 and
/// the snapshot FSCTL must come back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_responses_in_many_messages_are_put_together() {
    let comment = "a share comment long enough to make the share list span messages";
    let sections: String = (0..60)
        .map(|i| format!("[extra{i:02}]\n\tpath = {{dir}}/share\n\tcomment = {comment} {i}\n"))
        .collect();
    for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
        let srv = TestServer::start_with(
            profile,
            ExtraConfig {
                sections: sections.clone(),
                ..ExtraConfig::default()
            },
        )
        .unwrap();
        let acl_file = srv.share_path().join("acl.txt");
        std::fs::write(&acl_file, b"x").unwrap();
        large_acl(&acl_file, 150);
        let dir = srv.share_path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..300 {
            std::fs::write(dir.join(format!("file number {i:04} of the folder")), b"").unwrap();
        }
        let normal = connect(factory(&srv, true), &srv).await;
        for direct in [false, true] {
            let f = factory(&srv, direct)
                .tuning(tuned(|t| {
                    t.smb1_max_buffer = Some(Tuning::MIN_SMB1_MAX_BUFFER)
                }))
                .unwrap();
            let conn = connect(f, &srv).await;
            assert_eq!(conn.server_info().signing, profile == Profile::Smb1Signing);
            let what = format!("{profile} direct={direct}");

            let shares = conn
                .list_shares()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}\n{}", srv.log_tail(30)));
            assert_eq!(shares, normal.list_shares().await.unwrap(), "{what}");
            for i in 0..60 {
                let name = format!("extra{i:02}");
                let share = shares.iter().find(|d| d.name == name).expect(&name);
                assert_eq!(share.comments, format!("{comment} {i}"));
            }

            let sd = conn.get_security("share", "acl.txt").await.unwrap();
            let aces = sd.dacl.as_ref().map_or(0, |a| a.aces.len());
            assert!(aces >= 150, "{what}: {aces} ACEs");
            assert_eq!(sd, normal.get_security("share", "acl.txt").await.unwrap());

            let mut names: Vec<String> = conn
                .list_path("share", "dir")
                .await
                .unwrap()
                .into_iter()
                .map(|f| f.filename)
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            let expected: Vec<String> = (0..300)
                .map(|i| format!("file number {i:04} of the folder"))
                .collect();
            assert!(names == expected, "{what}: {} names", names.len());

            assert_eq!(
                conn.list_snapshots("snapshots", "").await.unwrap().len(),
                smbkit_testserver::SNAPSHOTS.len(),
                "{what}"
            );
            assert_eq!(conn.echo(b"still in step").await.unwrap(), b"still in step");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb1_short_reads_below_the_size_are_read_on() {
    // Samba answers at most 131011 bytes per READ_ANDX on a signed
    // session: asking for 1 MiB gets short reads in the middle of the
    // file, which must not end it.
    let srv = TestServer::start(Profile::Smb1Signing).unwrap();
    let data = content(5 * 1024 * 1024 + 77, 3);
    let p = srv.share_path().join("short.bin");
    std::fs::write(&p, &data).unwrap();
    srv.chown_to_user(&p).unwrap();
    for direct in [false, true] {
        let conn = connect(factory(&srv, direct), &srv).await;
        let file = conn.open_file("share", "short.bin").await.unwrap();
        let mut reader = file.reader(10, None).with_chunk(1024 * 1024);
        let mut all = Vec::new();
        while let Some(b) = reader.next_chunk().await.unwrap() {
            all.extend_from_slice(&b);
        }
        assert_eq!(all.len(), data.len() - 10);
        assert!(all[..] == data[10..]);
        // Later reads asked for what the server sent.
        assert_eq!(reader.chunk(), 0x1_FFFF - 60);
        drop(reader);
        let mut all = Vec::new();
        file.reader(0, None)
            .with_chunk(200_000)
            .read_to_end(&mut all)
            .await
            .unwrap();
        assert!(all == data);
        file.close().await.unwrap();
    }
}
