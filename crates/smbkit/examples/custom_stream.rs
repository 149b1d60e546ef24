//! Speaks SMB over a stream the caller opened: here a TCP connection with
//! its own socket options, but any `AsyncRead + AsyncWrite` does (a Unix
//! socket to a local proxy, a TLS or QUIC tunnel, an SSH channel, an
//! in-memory duplex in tests).
//!
//! ```text
//! SMB_USER=alice SMB_PASSWORD=secret cargo run -p smbkit --example custom_stream -- 192.0.2.10:445 FILESERVER
//! ```

use std::time::Duration;

use smbkit::SmbProtocolFactory;
use tokio::net::TcpSocket;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args
        .next()
        .ok_or("usage: custom_stream HOST:PORT SERVER_NAME")?
        .parse()?;
    let server_name = args.next().unwrap_or_else(|| "SERVER".into());
    let user = std::env::var("SMB_USER").unwrap_or_default();
    let password = std::env::var("SMB_PASSWORD").unwrap_or_default();

    // The stream, opened and tuned by the caller.
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_keepalive(true)?;
    socket.set_recv_buffer_size(4 << 20)?;
    let stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr)).await??;
    stream.set_nodelay(true)?;

    // Direct TCP framing (port 445); without it the NetBIOS session is
    // requested first, as over port 139.
    let conn = SmbProtocolFactory::new(user, password, "SMBKITCLIENT", &server_name)?
        .direct_tcp(addr.port() != 139)
        .connect_stream(stream)
        .await?;
    println!(
        "SMB {} over a stream of our own",
        conn.dialect().version_str()
    );
    for s in conn.list_shares().await? {
        println!("{:<20} {}", s.name, s.comments);
    }
    conn.close().await?;
    Ok(())
}
