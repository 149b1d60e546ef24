//! The reference's RetrieveFileFactory example, in the callback style of
//! code ported from pysmb: `on_auth_ok` runs once the session is
//! authenticated, `on_auth_failed` when it is not.
//!
//! Until file operations exist this pings the server with echo where the
//! reference retrieves a file.
//!
//! ```text
//! SMB_USER=alice SMB_PASSWORD=secret \
//!     cargo run -p smbkit --example retrieve_file_factory -- 192.0.2.10 445 FILESERVER
//! ```

use smbkit::{AuthHandler, Connection, Error, SmbProtocolFactory};

struct RetrieveFileFactory {
    done: Option<Result<(), Error>>,
}

impl AuthHandler for RetrieveFileFactory {
    async fn on_auth_ok(&mut self, conn: Connection) {
        println!(
            "authenticated: SMB {} (signing: {})",
            conn.dialect().version_str(),
            conn.server_info().signing
        );
        let result = conn.echo(b"smbkit").await.map(|data| {
            println!("echo returned {} bytes", data.len());
        });
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
    let user = std::env::var("SMB_USER").unwrap_or_default();
    let password = std::env::var("SMB_PASSWORD").unwrap_or_default();

    let factory = SmbProtocolFactory::new(user, password, "SMBKITCLIENT", &server_name)?
        .direct_tcp(port != 139);
    let mut handler = RetrieveFileFactory { done: None };
    factory.run((host.as_str(), port), &mut handler).await;
    match handler.done {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.into()),
        None => Err("no callback ran".into()),
    }
}
