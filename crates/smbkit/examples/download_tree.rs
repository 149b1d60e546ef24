//! Downloads a folder and everything below it, several files at once.
//!
//! ```text
//! SMB_PASSWORD=secret cargo run -p smbkit --example download_tree -- \
//!     smb://alice@fileserver.example/share/projects ./projects
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use smbkit::{SmbProtocolFactory, SmbUrl};
use tokio::sync::Semaphore;

/// Files downloaded at once.
const PARALLEL: usize = 8;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url: SmbUrl = args
        .next()
        .ok_or("usage: download_tree smb://[user@]host/share/folder LOCAL_DIR")?
        .parse()?;
    let local = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let url = url.with_password(std::env::var("SMB_PASSWORD").ok().as_deref());
    let share = url.share().ok_or("the URL names no share")?.to_string();
    let root = url.path().to_string();

    let conn = SmbProtocolFactory::from_url(&url, "SMBKITCLIENT")?
        .connect(url.host_port())
        .await?;
    tokio::fs::create_dir_all(&local).await?;
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    let mut walk = conn.walk(&share, &root);
    while let Some(item) = walk.next_entry().await? {
        let target = local.join(Path::new(item.path()));
        if item.entry().is_dir() {
            tokio::fs::create_dir_all(&target).await?;
            continue;
        }
        let (conn, share, permits) = (conn.clone(), share.clone(), permits.clone());
        let remote = format!("{root}/{}", item.path());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            let mut file = tokio::fs::File::create(&target).await?;
            let (_, n) = conn.retrieve_file(&share, &remote, &mut file).await?;
            println!("{remote} ({n} bytes)");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    conn.close().await?;
    Ok(())
}
