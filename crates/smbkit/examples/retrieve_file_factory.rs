//! The reference's RetrieveFileFactory example, in the callback style of
//! code ported from pysmb: `on_auth_ok` runs once the session is
//! authenticated and retrieves `service`/`path` into a temporary file,
//! `on_auth_failed` runs when it is not.
//!
//! ```text
//! SMB_USER=alice SMB_PASSWORD=secret \
//!     cargo run -p smbkit --example retrieve_file_factory -- 192.0.2.10 139 FILESERVER smbtest /rfc1001.txt
//! ```

use smbkit::{AuthHandler, Connection, Error, SmbProtocolFactory};

struct RetrieveFileFactory {
    service: String,
    path: String,
    done: Option<Result<(), Error>>,
}

impl RetrieveFileFactory {
    /// The reference's `fileRetrieved`: the contents are in the file.
    fn file_retrieved(&self, file: &std::path::Path, attributes: u32, size: u64) {
        println!(
            "retrieved {} bytes (attributes {attributes:#x}) into {}",
            size,
            file.display()
        );
    }
}

impl AuthHandler for RetrieveFileFactory {
    async fn on_auth_ok(&mut self, conn: Connection) {
        let local = std::env::temp_dir().join(format!("smbkit-retrieved-{}", std::process::id()));
        let result = async {
            let mut file = tokio::fs::File::create(&local).await?;
            let (attributes, size) = conn
                .retrieve_file(&self.service, &self.path, &mut file)
                .await?;
            self.file_retrieved(&local, attributes, size);
            Ok(())
        }
        .await;
        let _ = tokio::fs::remove_file(&local).await;
        let _ = conn.close().await;
        self.done = Some(result);
    }

    async fn on_auth_failed(&mut self, err: Error) {
        println!("Auth failed: {err}");
        self.done = Some(Err(err));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(139);
    let server_name = args.next().unwrap_or_else(|| "SERVER".into());
    let service = args.next().unwrap_or_else(|| "smbtest".into());
    let path = args.next().unwrap_or_else(|| "/rfc1001.txt".into());
    let user = std::env::var("SMB_USER").unwrap_or_default();
    let password = std::env::var("SMB_PASSWORD").unwrap_or_default();

    let factory = SmbProtocolFactory::new(user, password, "SMBKITCLIENT", &server_name)?
        .use_ntlm_v2(true)
        .direct_tcp(port != 139);
    let mut handler = RetrieveFileFactory {
        service,
        path,
        done: None,
    };
    factory.run((host.as_str(), port), &mut handler).await;
    match handler.done {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.into()),
        None => Err("no callback ran".into()),
    }
}
