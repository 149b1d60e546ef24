//! Patches a remote file in place, as `tokio::fs::File` would: opens it for
//! reading and writing, seeks to an offset, overwrites some bytes, reads
//! them back, and appends a line at the end, without downloading or
//! uploading the rest of the file.
//!
//! ```text
//! SMB_PASSWORD=secret cargo run -p smbkit --example seek_and_write -- \
//!     smb://alice@fileserver.example/share/notes.txt 6 WORLD
//! ```

use std::io::SeekFrom;

use smbkit::{OpenOptions, SmbProtocolFactory, SmbUrl};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: seek_and_write smb://[user@]host/share/path OFFSET TEXT";
    let url: SmbUrl = args.next().ok_or(usage)?.parse()?;
    let offset: u64 = args.next().ok_or(usage)?.parse()?;
    let text = args.next().ok_or(usage)?;
    let url = url.with_password(std::env::var("SMB_PASSWORD").ok().as_deref());
    let share = url.share().ok_or("the URL names no share")?;

    let conn = SmbProtocolFactory::from_url(&url, "SMBKITCLIENT")?
        .connect(url.host_port())
        .await?;
    let mut file = conn
        .open(share, url.path(), OpenOptions::new().read(true).write(true))
        .await?;

    // Overwrite `text` at `offset`, then read the same bytes back.
    file.seek(SeekFrom::Start(offset)).await?;
    file.write_all(text.as_bytes()).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut back = vec![0; text.len()];
    file.read_exact(&mut back).await?;
    println!("at {offset}: {}", String::from_utf8_lossy(&back));

    // Append a line after the last byte.
    let end = file.seek(SeekFrom::End(0)).await?;
    file.write_all(b"patched by smbkit\n").await?;
    file.flush().await?;
    println!(
        "appended at {end}; the file is now {} bytes",
        file.metadata().await?.file_size
    );

    file.close().await?;
    conn.close().await?;
    Ok(())
}
