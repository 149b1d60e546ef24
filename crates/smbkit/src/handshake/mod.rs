//! Connection establishment: the transport, then the handshake of the
//! sans-I/O connection (NEGOTIATE with SMB1 detection, SESSION_SETUP with
//! SPNEGO/NTLM; MS-SMB2 §3.2.4.2, §3.2.5.2, §3.2.5.3) pumped over the stream
//! until the session is established or the server turns out to speak SMB1.

mod smb1;

use std::future::Future;
use std::net::SocketAddr;

use smbkit_proto::conn::smb2::handshake::{
    EncryptionPolicy, Established, Family as Families, SigningPolicy,
};
use smbkit_proto::conn::smb2::Event;
use smbkit_proto::conn::{ConnError, Smb2Config, Smb2Connection};
use smbkit_proto::kerberos::ServiceTicket;
use smbkit_proto::ntlm::{Credentials, NtlmOptions};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::ToSocketAddrs;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::driver::smb2::Shared;
use crate::error::Error;
use crate::factory::{Encryption, Protocol, SignOptions, SmbProtocolFactory};
use crate::family::smb2::Smb2;
use crate::family::Family;
use crate::ops::{Origin, Session};
use crate::transport::{self, BoxStream};
use crate::types::ServerInfo;

impl SmbProtocolFactory {
    /// Connects to `addr` (`"host:port"`, `("host", port)`, a
    /// `SocketAddr`…; IPv4 or IPv6), negotiates, authenticates and returns
    /// a ready [`Connection`]. One factory builds one connection.
    pub async fn connect<A: ToSocketAddrs>(self, addr: A) -> Result<Connection, Error> {
        crate::handshake::connect(self, addr).await
    }

    /// Like [`SmbProtocolFactory::connect`], over a stream the caller has
    /// opened already: a Unix socket, an in-memory duplex, a proxy tunnel,
    /// a TLS or QUIC stream. Unless [`SmbProtocolFactory::direct_tcp`] is
    /// set, the NetBIOS session is requested first, as over port 139.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smbkit::Error> {
    /// use smbkit::SmbProtocolFactory;
    ///
    /// let tcp = tokio::net::TcpStream::connect("192.0.2.10:445").await?;
    /// let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
    ///     .direct_tcp(true)
    ///     .connect_stream(tcp)
    ///     .await?;
    /// conn.echo(b"ping").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_stream<S>(self, stream: S) -> Result<Connection, Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        crate::handshake::connect_stream(self, stream).await
    }

    /// The reference's callback style: connects, then calls
    /// [`AuthHandler::on_auth_ok`] with the ready connection or
    /// [`AuthHandler::on_auth_failed`] with the error.
    ///
    /// ```no_run
    /// use smbkit::{AuthHandler, Connection, Error, SmbProtocolFactory};
    ///
    /// struct Ping;
    /// impl AuthHandler for Ping {
    ///     async fn on_auth_ok(&mut self, conn: Connection) {
    ///         let _ = conn.echo(b"hello").await;
    ///         let _ = conn.close().await;
    ///     }
    ///     async fn on_auth_failed(&mut self, err: Error) {
    ///         eprintln!("auth failed: {err}");
    ///     }
    /// }
    /// # async fn demo() -> Result<(), Error> {
    /// SmbProtocolFactory::new("alice", "secret", "MYPC", "SERVER")?
    ///     .run("192.0.2.10:139", &mut Ping)
    ///     .await;
    /// # Ok(()) }
    /// ```
    pub async fn run<A: ToSocketAddrs, H: AuthHandler>(self, addr: A, handler: &mut H) {
        match self.connect(addr).await {
            Ok(conn) => handler.on_auth_ok(conn).await,
            Err(e) => handler.on_auth_failed(e).await,
        }
    }
}

/// Callbacks for code ported from pysmb's `onAuthOK` / `onAuthFailed`.
pub trait AuthHandler: Send {
    /// Called with the authenticated connection.
    fn on_auth_ok(&mut self, conn: Connection) -> impl Future<Output = ()> + Send;
    /// Called when connecting or authenticating failed.
    fn on_auth_failed(&mut self, err: Error) -> impl Future<Output = ()> + Send;
}

/// Connects to `addr` over TCP, then authenticates. The connection
/// remembers the addresses, to reconnect to them when it is lost and the
/// factory has a reconnect policy.
pub(crate) async fn connect<A: ToSocketAddrs>(
    f: SmbProtocolFactory,
    addr: A,
) -> Result<Connection, Error> {
    connect_nested(f, addr, 0).await
}

/// [`connect`] for the target of a DFS link followed `depth` links deep.
pub(crate) async fn connect_nested<A: ToSocketAddrs>(
    f: SmbProtocolFactory,
    addr: A,
    depth: u8,
) -> Result<Connection, Error> {
    let limit = f.connect_timeout;
    let deadline = Instant::now() + limit;
    let addrs: Vec<SocketAddr> = tokio::time::timeout_at(deadline, tokio::net::lookup_host(addr))
        .await
        .map_err(|_| Error::Timeout {
            operation: "resolving the server address",
            after: limit,
        })??
        .collect();
    let client_guid = new_client_guid();
    let (family, info) = dial(&f, &addrs, client_guid).await?;
    let mut session = Session::new(family, f, info, Origin::Address(addrs), client_guid);
    session.dfs.depth = depth;
    Ok(Connection::new(session))
}

/// A random ClientGuid, the same on every connection of one [`Session`].
fn new_client_guid() -> [u8; 16] {
    let mut g = [0u8; 16];
    rand::fill(&mut g[..]);
    g
}

/// Opens a TCP connection to `addrs` and authenticates over it: what
/// connecting and reconnecting share.
pub(crate) async fn dial(
    f: &SmbProtocolFactory,
    addrs: &[SocketAddr],
    client_guid: [u8; 16],
) -> Result<(Family, ServerInfo), Error> {
    let limit = f.connect_timeout;
    let deadline = Instant::now() + limit;
    let stream = transport::open(
        addrs,
        f.direct_tcp,
        &f.remote_name,
        &f.my_name,
        deadline,
        limit,
    )
    .await?;
    establish(f, Box::new(stream), deadline, client_guid).await
}

/// Authenticates over a stream the caller opened (NetBIOS session first
/// unless direct TCP framing is set).
pub(crate) async fn connect_stream<S>(f: SmbProtocolFactory, stream: S) -> Result<Connection, Error>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let limit = f.connect_timeout;
    let deadline = Instant::now() + limit;
    let mut stream: BoxStream = Box::new(stream);
    if !f.direct_tcp {
        tokio::time::timeout_at(
            deadline,
            transport::netbios_session(&mut stream, &f.remote_name, &f.my_name),
        )
        .await
        .map_err(|_| Error::Timeout {
            operation: "establishing the NetBIOS session",
            after: limit,
        })??;
    }
    let client_guid = new_client_guid();
    let (family, info) = establish(&f, stream, deadline, client_guid).await?;
    Ok(Connection::new(Session::new(
        family,
        f,
        info,
        Origin::Stream,
        client_guid,
    )))
}

/// The handshake's settings from the factory's.
fn config(
    f: &SmbProtocolFactory,
    limit: std::time::Duration,
    client_guid: [u8; 16],
    kerberos: Option<ServiceTicket>,
) -> Smb2Config {
    Smb2Config {
        family: match f.protocol {
            Protocol::Auto => Families::Auto,
            Protocol::Smb2Only => Families::Smb2Only,
            Protocol::Smb1Only => Families::Smb1Only,
        },
        extended_security: f.extended_security,
        direct_tcp: f.direct_tcp,
        signing: match f.sign_options {
            SignOptions::Never => SigningPolicy::Never,
            SignOptions::WhenSupported => SigningPolicy::WhenSupported,
            SignOptions::WhenRequired => SigningPolicy::WhenRequired,
        },
        encryption: match f.encryption {
            Encryption::IfRequired => EncryptionPolicy::IfRequired,
            Encryption::Preferred => EncryptionPolicy::Preferred,
            Encryption::Required => EncryptionPolicy::Required,
        },
        ciphers: f.ciphers.clone(),
        credentials: Credentials {
            user: f.username.clone(),
            domain: f.domain.clone(),
            password: f.password.get(),
            workstation: f.my_name.clone(),
        },
        ntlm: NtlmOptions {
            use_ntlm_v2: f.use_ntlm_v2,
            client_time: filetime_now(),
            ..NtlmOptions::default()
        },
        kerberos,
        limit,
        client_guid,
    }
}

/// How the handshake ended.
enum Outcome {
    Smb2(Box<Established>),
    Smb1(Box<smbkit_proto::smb1::negotiate::NegotiateResponse>),
}

/// Runs the handshake over `stream`, then hands the stream to the SMB2
/// driver or, when the server chose SMB1, to the SMB1 one.
async fn establish(
    f: &SmbProtocolFactory,
    mut stream: BoxStream,
    deadline: Instant,
    client_guid: [u8; 16],
) -> Result<(Family, ServerInfo), Error> {
    let ticket = crate::kerberos::ticket_for(f, deadline).await?;
    let now = Instant::now();
    let mut core = Smb2Connection::new(
        config(
            f,
            deadline.saturating_duration_since(now),
            client_guid,
            ticket.clone(),
        ),
        now.into_std(),
    );
    let outcome = pump(&mut core, &mut stream).await?;
    let e = match outcome {
        Outcome::Smb1(n) => {
            return tokio::time::timeout_at(
                deadline,
                smb1::connect(f, stream, *n, deadline, ticket),
            )
            .await
            .map_err(|_| Error::Timeout {
                operation: "authenticating",
                after: deadline.saturating_duration_since(now),
            })?;
        }
        Outcome::Smb2(e) => e,
    };
    core.set_liveness(f.liveness, Instant::now().into_std());
    let (rd, wr) = tokio::io::split(stream);
    let (shared, tasks) = Shared::start(core, rd, wr);
    let r = &e.negotiate;
    let info = ServerInfo {
        dialect: e.dialect,
        server_guid: r.server_guid,
        max_read_size: r.max_read_size,
        max_write_size: r.max_write_size,
        max_transact_size: r.max_transact_size,
        system_time: r.system_time,
        server_start_time: r.server_start_time,
        capabilities: r.capabilities,
        signing_required_by_server: e.signing_required_by_server,
        signing: e.signing,
        signing_algorithm: e.signing_algorithm,
        cipher: e.cipher,
        encrypted: e.encrypted,
        is_guest: e.is_guest,
        is_anonymous: e.is_anonymous,
        kerberos_principal: ticket.map(|t| t.client.to_string()),
    };
    tracing::debug!(?info, "session established");
    let smb2 = Smb2::new(shared, tasks, info.clone());
    Ok((Family::Smb2(smb2), info))
}

/// Moves bytes and time between `stream` and the connection until the
/// handshake ends. Reads one frame at a time, so that an SMB1 connection
/// can take the stream over with nothing buffered.
async fn pump(core: &mut Smb2Connection, stream: &mut BoxStream) -> Result<Outcome, Error> {
    loop {
        while let Some(t) = core.poll_transmit() {
            let t = t.finish()?;
            stream.write_all(&t.header).await?;
            stream.write_all(&t.msg).await?;
            stream.write_all(&t.tail).await?;
        }
        stream.flush().await?;
        while let Some(ev) = core.poll_event() {
            match ev {
                Event::Established(e) => return Ok(Outcome::Smb2(e)),
                Event::Smb1Negotiated(n) => return Ok(Outcome::Smb1(n)),
                Event::Closed(e) => return Err(Error::from(e)),
                _ => {}
            }
        }
        let Some(deadline) = core.poll_timeout() else {
            return Err(Error::from(ConnError::NotConnected));
        };
        let deadline = Instant::from_std(deadline);
        tokio::select! {
            frame = transport::read_frame(stream, core.max_frame()) => {
                let frame = frame?;
                core.handle_frame(bytes::BytesMut::from(&frame[..]), Instant::now().into_std());
            }
            () = tokio::time::sleep_until(deadline) => {
                core.handle_timeout(Instant::now().into_std());
            }
        }
    }
}

/// Moves bytes and time between `stream` and an SMB1 connection until its
/// session setup ends.
pub(crate) async fn pump_smb1(
    core: &mut smbkit_proto::conn::Smb1Connection,
    stream: &mut BoxStream,
) -> Result<smbkit_proto::conn::smb1::Smb1Established, Error> {
    use smbkit_proto::conn::smb1::Event as Event1;
    loop {
        while let Some(t) = core.poll_transmit() {
            let t = t.finish()?;
            stream.write_all(&t.header).await?;
            stream.write_all(&t.msg).await?;
            stream.write_all(&t.tail).await?;
        }
        stream.flush().await?;
        while let Some(ev) = core.poll_event() {
            match ev {
                Event1::Established(e) => return Ok(e),
                Event1::Closed(e) => return Err(Error::from(e)),
                _ => {}
            }
        }
        let Some(deadline) = core.poll_timeout() else {
            return Err(Error::from(ConnError::NotConnected));
        };
        let deadline = Instant::from_std(deadline);
        tokio::select! {
            frame = transport::read_frame(stream, smbkit_proto::conn::smb2::handshake::HANDSHAKE_MAX_FRAME) => {
                core.handle_frame(frame?, Instant::now().into_std());
            }
            () = tokio::time::sleep_until(deadline) => {
                core.handle_timeout(Instant::now().into_std());
            }
        }
    }
}

/// The current time as a FILETIME (100 ns intervals since 1601-01-01 UTC).
pub(crate) fn filetime_now() -> u64 {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() + EPOCH_DIFF_SECS) * 10_000_000 + u64::from(d.subsec_nanos() / 100),
        Err(_) => 0,
    }
}
