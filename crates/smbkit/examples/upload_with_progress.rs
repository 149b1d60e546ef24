//! Uploads a local file and shows how far it has got: `store_file` reads
//! from any `AsyncRead`, so a wrapper that counts the bytes it hands out
//! is all a progress display needs.
//!
//! ```text
//! SMB_PASSWORD=secret cargo run -p smbkit --example upload_with_progress -- \
//!     ./big.iso smb://alice@fileserver.example/share/images/big.iso
//! ```

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use smbkit::{SmbProtocolFactory, SmbUrl};
use tokio::io::{AsyncRead, ReadBuf};

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.read.fetch_add(n, Ordering::Relaxed);
        r
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: upload_with_progress LOCAL_FILE smb://[user@]host/share/path";
    let local = args.next().ok_or(usage)?;
    let url: SmbUrl = args.next().ok_or(usage)?.parse()?;
    let url = url.with_password(std::env::var("SMB_PASSWORD").ok().as_deref());
    let share = url.share().ok_or("the URL names no share")?;

    let file = tokio::fs::File::open(&local).await?;
    let total = file.metadata().await?.len();
    let read = Arc::new(AtomicU64::new(0));
    let mut source = Counted {
        inner: file,
        read: read.clone(),
    };

    let conn = SmbProtocolFactory::from_url(&url, "SMBKITCLIENT")?
        .connect(url.host_port())
        .await?;
    let progress = tokio::spawn(async move {
        loop {
            let done = read.load(Ordering::Relaxed);
            eprint!(
                "\r{done} / {total} bytes ({:.0}%)",
                100.0 * done as f64 / total.max(1) as f64
            );
            if done >= total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let written = conn.store_file(share, url.path(), &mut source).await?;
    progress.abort();
    eprintln!("\r{written} bytes written to {url}");
    conn.close().await?;
    Ok(())
}
