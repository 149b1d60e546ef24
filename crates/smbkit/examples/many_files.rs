//! Retrieves every file of a folder at once over one connection: the
//! requests of all of them share the connection (its credits and message
//! ids), each waiting only for its own answers.
//!
//! ```text
//! SMB_PASSWORD=secret cargo run -p smbkit --example many_files -- \
//!     smb://alice@fileserver.example/share/small-files
//! ```

use smbkit::{SmbProtocolFactory, SmbUrl};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url: SmbUrl = std::env::args()
        .nth(1)
        .ok_or("usage: many_files smb://[user@]host/share/folder")?
        .parse()?;
    let url = url.with_password(std::env::var("SMB_PASSWORD").ok().as_deref());
    let share = url.share().ok_or("the URL names no share")?.to_string();
    let folder = url.path().to_string();

    let conn = SmbProtocolFactory::from_url(&url, "SMBKITCLIENT")?
        .connect(url.host_port())
        .await?;
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for f in conn.list_path(&share, &folder).await? {
        if f.is_directory() {
            continue;
        }
        let (conn, share, path) = (
            conn.clone(),
            share.clone(),
            format!("{folder}/{}", f.filename),
        );
        tasks.spawn(async move {
            let mut data = Vec::new();
            conn.retrieve_file(&share, &path, &mut data).await?;
            Ok::<_, smbkit::Error>(data.len())
        });
    }
    let (mut files, mut bytes) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        bytes += done??;
        files += 1;
    }
    println!("{files} files, {bytes} bytes in {:?}", started.elapsed());
    conn.close().await?;
    Ok(())
}
