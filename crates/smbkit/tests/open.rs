//! `Connection::open` with `OpenOptions`, and writing through a
//! `RemoteFile`, against real Samba over SMB 3.1.1, SMB 2.1 and SMB1: every
//! result is checked against the file on the server's disk.

use smbkit::{
    Connection, Error, InvalidArgument, NtStatus, OpenOptions, OpenOptionsError, Protocol,
    SmbProtocolFactory,
};
use smbkit_testserver::{content, Profile, TestServer};

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

fn on_disk(srv: &TestServer, name: &str) -> Vec<u8> {
    std::fs::read(srv.share_path().join(name)).unwrap()
}

fn status(r: Result<impl std::fmt::Debug, Error>) -> NtStatus {
    match r {
        Err(Error::OperationFailure { status, .. }) => status,
        other => panic!("expected OperationFailure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_seek_append_truncate_and_set_len() {
    for profile in PROFILES {
        let srv = server(profile);
        let conn = connect(&srv).await;
        let name = "w.bin";
        let mut new = OpenOptions::new();
        new.read(true).write(true).create_new(true);
        let f = conn.open("share", name, &new).await.unwrap();
        // Writes at scattered offsets, one of them large (pipelined).
        let big = content(3 << 20, 7);
        f.write_at(0, b"head").await.unwrap();
        f.write_at(1000, &big).await.unwrap();
        f.write_at(2, b"XY").await.unwrap();
        let mut want = vec![0u8; 1000 + big.len()];
        want[..4].copy_from_slice(b"head");
        want[1000..].copy_from_slice(&big);
        want[2..4].copy_from_slice(b"XY");
        f.flush().await.unwrap();
        assert!(on_disk(&srv, name) == want, "{profile:?}");
        // Read back through the same handle.
        let back = f.read_at(0, want.len()).await.unwrap();
        assert!(back[..] == want[..], "{profile:?}");
        // Metadata asked of the server.
        let m = f.metadata().await.unwrap();
        assert_eq!(m.file_size, want.len() as u64, "{profile:?}");
        assert_eq!(m.filename, name);
        // set_len both ways.
        f.set_len(10).await.unwrap();
        assert_eq!(on_disk(&srv, name), &want[..10], "{profile:?}");
        f.set_len(5000).await.unwrap();
        let mut grown = want[..10].to_vec();
        grown.resize(5000, 0);
        assert_eq!(on_disk(&srv, name), grown, "{profile:?}");
        // Append at the end.
        assert_eq!(f.append(b"tail").await.unwrap(), 5000);
        grown.extend_from_slice(b"tail");
        assert_eq!(on_disk(&srv, name), grown, "{profile:?}");
        f.close().await.unwrap();

        // create_new on an existing file: the typed collision.
        assert_eq!(
            status(conn.open("share", name, &new).await),
            NtStatus::OBJECT_NAME_COLLISION,
            "{profile:?}"
        );
        // truncate: an existing file cut to nothing.
        let mut trunc = OpenOptions::new();
        trunc.write(true).truncate(true);
        let f = conn.open("share", name, &trunc).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().file_size, 0);
        f.close().await.unwrap();
        assert!(on_disk(&srv, name).is_empty(), "{profile:?}");
        // Without create, a missing file is not found.
        let mut plain = OpenOptions::new();
        plain.write(true);
        assert_eq!(
            status(conn.open("share", "missing.bin", &plain).await),
            NtStatus::OBJECT_NAME_NOT_FOUND,
            "{profile:?}"
        );
        // create without truncate keeps what is there.
        std::fs::write(srv.share_path().join("keep.txt"), b"0123456789").unwrap();
        srv.chown_to_user(&srv.share_path().join("keep.txt"))
            .unwrap();
        let mut keep = OpenOptions::new();
        keep.write(true).create(true);
        let f = conn.open("share", "keep.txt", &keep).await.unwrap();
        f.write_at(4, b"ab").await.unwrap();
        f.close().await.unwrap();
        assert_eq!(on_disk(&srv, "keep.txt"), b"0123ab6789", "{profile:?}");
        // A file opened for reading only refuses writes.
        let mut ro = OpenOptions::new();
        ro.read(true);
        let f = conn.open("share", "keep.txt", &ro).await.unwrap();
        assert_eq!(
            status(f.write_at(0, b"no").await),
            NtStatus::ACCESS_DENIED,
            "{profile:?}"
        );
        f.close().await.unwrap();
        assert!(srv
            .wait_until_no_open_files(std::time::Duration::from_secs(5))
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn options_that_make_no_sense_are_refused_before_anything_is_sent() {
    let srv = server(Profile::Modern);
    let conn = connect(&srv).await;
    let cases: [(OpenOptions, OpenOptionsError); 4] = [
        (OpenOptions::new(), OpenOptionsError::NoAccess),
        (
            OpenOptions::new().read(true).create(true).clone(),
            OpenOptionsError::CreateWithoutWrite,
        ),
        (
            OpenOptions::new().read(true).truncate(true).clone(),
            OpenOptionsError::TruncateWithoutWrite,
        ),
        (
            OpenOptions::new().read(true).share(0x80).clone(),
            OpenOptionsError::ShareAccess(0x80),
        ),
    ];
    for (o, want) in cases {
        match conn.open("share", "x", &o).await {
            Err(Error::InvalidArgument(InvalidArgument::OpenOptions(e))) => {
                assert_eq!(e, want, "{o:?}")
            }
            other => panic!("{o:?}: {other:?}"),
        }
    }
    match conn.open("share", "/", OpenOptions::new().read(true)).await {
        Err(Error::InvalidArgument(InvalidArgument::NoName { operation })) => {
            assert_eq!(operation, "open")
        }
        other => panic!("{other:?}"),
    }
    assert!(!srv.share_path().join("x").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_file_reads_writes_and_seeks_like_a_tokio_file() {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    for profile in PROFILES {
        let srv = server(profile);
        let conn = connect(&srv).await;
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(true);
        let mut f = conn.open("share", "c.bin", &opts).await.unwrap();
        // Sequential writing in odd pieces, through tokio::io::copy too.
        let data = content((5 << 20) + 3, 9);
        let (a, b) = data.split_at(777_777);
        for piece in a.chunks(65_537) {
            f.write_all(piece).await.unwrap();
        }
        let mut rest = b;
        tokio::io::copy(&mut rest, &mut f).await.unwrap();
        f.flush().await.unwrap();
        assert!(on_disk(&srv, "c.bin") == data, "{profile:?}");
        assert_eq!(f.position(), data.len() as u64);
        // Seek and write in the middle; seek from the end and read.
        assert_eq!(f.seek(std::io::SeekFrom::Start(100)).await.unwrap(), 100);
        f.write_all(b"abc").await.unwrap();
        assert_eq!(f.seek(std::io::SeekFrom::Current(-3)).await.unwrap(), 100);
        let mut three = [0u8; 3];
        f.read_exact(&mut three).await.unwrap();
        assert_eq!(&three, b"abc", "{profile:?}");
        let end = f.seek(std::io::SeekFrom::End(-2)).await.unwrap();
        assert_eq!(end, data.len() as u64 - 2);
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, &data[data.len() - 2..], "{profile:?}");
        // Writing past the end, then reading it all back.
        f.seek(std::io::SeekFrom::End(10)).await.unwrap();
        f.write_all(b"after a hole").await.unwrap();
        f.seek(std::io::SeekFrom::Start(0)).await.unwrap();
        let mut all = Vec::new();
        f.read_to_end(&mut all).await.unwrap();
        let mut want = data.clone();
        want[100..103].copy_from_slice(b"abc");
        want.resize(data.len() + 10, 0);
        want.extend_from_slice(b"after a hole");
        assert!(all == want, "{profile:?}: {} bytes read", all.len());
        // A seek before the start is refused.
        assert_eq!(
            f.seek(std::io::SeekFrom::Current(-(all.len() as i64) - 1))
                .await
                .unwrap_err()
                .kind(),
            std::io::ErrorKind::InvalidInput
        );
        // close sends what is gathered.
        f.seek(std::io::SeekFrom::Start(0)).await.unwrap();
        f.write_all(b"LAST").await.unwrap();
        f.close().await.unwrap();
        let disk = on_disk(&srv, "c.bin");
        assert_eq!(&disk[..4], b"LAST", "{profile:?}");
        assert_eq!(disk.len(), want.len());
    }
}
