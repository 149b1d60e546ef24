//! Cancel safety against Samba: an operation whose future is dropped
//! after it opened a file, before it closed it, leaves no handle open on
//! the server (the handle's close is handed to the connection), over SMB2
//! and SMB1.

use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use smbkit::{Connection, SmbProtocolFactory};
use smbkit_testserver::{Profile, TestServer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

async fn connect(srv: &TestServer) -> Connection {
    SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
        .unwrap()
        .direct_tcp(true)
        .connect((srv.host(), srv.port()))
        .await
        .unwrap()
}

/// The files the server holds open (`smbstatus -L`), as its lines.
fn open_files(srv: &TestServer) -> String {
    let out = Command::new("smbstatus")
        .arg("-s")
        .arg(srv.config_path())
        .arg("-L")
        .output()
        .expect("run smbstatus");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until the server holds `name` open (`open`) or not.
async fn wait_open(srv: &TestServer, name: &str, open: bool) -> String {
    let mut listing = String::new();
    for _ in 0..100 {
        listing = open_files(srv);
        if listing.contains(name) == open {
            return listing;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} {} open after 5 s:\n{listing}",
        if open { "not" } else { "still" }
    );
}

/// Waits until the transfer has used up its budget (it is then stuck
/// with the file open), then until the server shows `name` open.
async fn stalled(srv: &TestServer, left: &AtomicUsize, name: &str) {
    while left.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_open(srv, name, true).await;
}

/// A writer that takes `budget` bytes, then never takes more.
struct Stalls {
    budget: Arc<AtomicUsize>,
}

impl AsyncWrite for Stalls {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Poll::Pending;
        }
        let n = buf.len().min(left);
        self.budget.fetch_sub(n, Ordering::SeqCst);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A reader that yields `budget` bytes, then never yields more.
struct Trickles {
    budget: Arc<AtomicUsize>,
}

impl AsyncRead for Trickles {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Poll::Pending;
        }
        let n = buf.remaining().min(left);
        buf.put_slice(&vec![7u8; n]);
        self.budget.fetch_sub(n, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }
}

async fn dropped_transfers_close_their_files(profile: Profile) {
    let srv = TestServer::start(profile).unwrap();
    let path = srv.share_path().join("big.bin");
    std::fs::write(&path, smbkit_testserver::content(8 << 20, 1)).unwrap();
    srv.chown_to_user(&path).unwrap();
    let conn = connect(&srv).await;

    // A download stalled by its writer after 3 MiB: the file is open.
    let left = Arc::new(AtomicUsize::new(3 << 20));
    let mut out = Stalls {
        budget: left.clone(),
    };
    let retrieve = conn.retrieve_file("share", "big.bin", &mut out);
    tokio::select! {
        r = retrieve => panic!("{profile}: the retrieve ended: {r:?}"),
        _ = stalled(&srv, &left, "big.bin") => {}
    }
    // The future is gone: the connection closes the file.
    wait_open(&srv, "big.bin", false).await;

    // An upload stalled by its reader after 3 MiB.
    let left = Arc::new(AtomicUsize::new(3 << 20));
    let mut input = Trickles {
        budget: left.clone(),
    };
    let store = conn.store_file("share", "up.bin", &mut input);
    tokio::select! {
        r = store => panic!("{profile}: the store ended: {r:?}"),
        _ = stalled(&srv, &left, "up.bin") => {}
    }
    wait_open(&srv, "up.bin", false).await;

    // A file handed out and dropped unclosed.
    let file = conn.open_file("share", "big.bin").await.unwrap();
    wait_open(&srv, "big.bin", true).await;
    drop(file);
    wait_open(&srv, "big.bin", false).await;

    // The connection goes on.
    assert_eq!(conn.echo(b"after").await.unwrap(), b"after");
    // Whole WRITEs only: the stalled reader's last part never made a
    // whole chunk.
    let size = conn
        .get_attributes("share", "up.bin")
        .await
        .unwrap()
        .file_size;
    assert!(size > 0 && size <= 3 << 20, "{profile}: {size} bytes");
}

#[tokio::test]
async fn dropped_transfers_close_their_files_smb2() {
    dropped_transfers_close_their_files(Profile::Modern).await;
}

#[tokio::test]
async fn dropped_transfers_close_their_files_smb1() {
    dropped_transfers_close_their_files(Profile::Smb1Only).await;
}
