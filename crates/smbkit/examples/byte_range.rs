//! Reads a byte range of a remote file without downloading the rest: the
//! header of a large archive, the tail of a log.
//!
//! ```text
//! SMB_PASSWORD=secret cargo run -p smbkit --example byte_range -- \
//!     smb://alice@fileserver.example/share/big.zip 0 64
//! ```

use smbkit::{SmbProtocolFactory, SmbUrl};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: byte_range smb://[user@]host/share/path OFFSET LENGTH";
    let url: SmbUrl = args.next().ok_or(usage)?.parse()?;
    let offset: u64 = args.next().ok_or(usage)?.parse()?;
    let len: usize = args.next().ok_or(usage)?.parse()?;
    let url = url.with_password(std::env::var("SMB_PASSWORD").ok().as_deref());
    let share = url.share().ok_or("the URL names no share")?;

    let conn = SmbProtocolFactory::from_url(&url, "SMBKITCLIENT")?
        .connect(url.host_port())
        .await?;
    let file = conn.open_file(share, url.path()).await?;
    println!("{} is {} bytes long", url.path(), file.size());
    let bytes = file.read_at(offset, len).await?;
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        println!("{:08x}  {}", offset + 16 * i as u64, hex.join(" "));
    }
    file.close().await?;
    conn.close().await?;
    Ok(())
}
