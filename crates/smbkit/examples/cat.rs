//! Streams a remote file to standard output, with several reads in
//! flight ahead of the writer.
//!
//! ```text
//! SMB_PASSWORD=secret cargo run -p smbkit --example cat -- \
//!     smb://alice@fileserver.example/share/logs/today.log | grep ERROR
//! ```

use smbkit::{SmbProtocolFactory, SmbUrl};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url: SmbUrl = std::env::args()
        .nth(1)
        .ok_or("usage: cat smb://[user@]host/share/path")?
        .parse()?;
    let url = url.with_password(std::env::var("SMB_PASSWORD").ok().as_deref());
    let share = url.share().ok_or("the URL names no share")?;

    let conn = SmbProtocolFactory::from_url(&url, "SMBKITCLIENT")?
        .connect(url.host_port())
        .await?;
    let file = conn.open_file(share, url.path()).await?;
    // `RemoteReader` is an `AsyncRead`: anything that copies from one can
    // stream the file.
    let mut reader = file.reader(0, None);
    let mut stdout = tokio::io::stdout();
    tokio::io::copy(&mut reader, &mut stdout).await?;
    drop(reader);
    file.close().await?;
    conn.close().await?;
    Ok(())
}
