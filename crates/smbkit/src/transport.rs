//! TCP connect, NetBIOS session establishment and frame I/O.
//!
//! Both framings put a 4-byte header in front of every SMB message: NetBIOS
//! session service (RFC 1002 §4.3.1, port 139) and direct TCP (MS-SMB2 §2.1,
//! port 445). Only NetBIOS needs a SESSION REQUEST first.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smbkit_proto::nbss::{self, SessionResponse};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{lookup_host, TcpStream, ToSocketAddrs};
use tokio::time::Instant;

use crate::error::{Error, ProtocolError};

/// Upper bound on a frame we accept before NEGOTIATE has told the sizes.
pub(crate) const HANDSHAKE_MAX_FRAME: usize = 1024 * 1024;

/// Opens the TCP connection (trying each resolved address in turn) and,
/// unless `direct_tcp`, establishes the NetBIOS session. Everything must
/// finish by `deadline`.
pub(crate) async fn open<A: ToSocketAddrs>(
    addr: A,
    direct_tcp: bool,
    called: &str,
    calling: &str,
    deadline: Instant,
    limit: Duration,
) -> Result<TcpStream, Error> {
    let timeout = |what: &'static str| Error::Timeout {
        operation: what,
        after: limit,
    };
    let addrs: Vec<_> = tokio::time::timeout_at(deadline, lookup_host(addr))
        .await
        .map_err(|_| timeout("resolving the server address"))??
        .collect();
    if addrs.is_empty() {
        return Err(Error::InvalidArgument(
            "the server address resolved to nothing".into(),
        ));
    }
    let mut last_err = None;
    let mut stream = None;
    for a in addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(a)).await {
            Err(_) => return Err(timeout("connecting to the server")),
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => {
                tracing::debug!(%a, error = %e, "connect failed");
                last_err = Some(e);
            }
        }
    }
    let mut stream = match stream {
        Some(s) => s,
        None => {
            return Err(Error::Io(last_err.unwrap_or_else(|| {
                std::io::Error::other("no address could be connected")
            })))
        }
    };
    let _ = stream.set_nodelay(true);
    if !direct_tcp {
        tokio::time::timeout_at(deadline, netbios_session(&mut stream, called, calling))
            .await
            .map_err(|_| timeout("establishing the NetBIOS session"))??;
    }
    Ok(stream)
}

/// Sends the NetBIOS SESSION REQUEST and reads the answer (RFC 1002 §4.3.2).
pub(crate) async fn netbios_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    called: &str,
    calling: &str,
) -> Result<(), Error> {
    stream
        .write_all(&nbss::session_request(called, calling))
        .await?;
    let mut h = [0u8; 4];
    read_exact_or_closed(stream, &mut h).await?;
    let header = nbss::parse_frame_header(h, 64)
        .map_err(|e| ProtocolError::decode("NetBIOS session response", e))?;
    let mut payload = vec![0u8; header.length];
    read_exact_or_closed(stream, &mut payload).await?;
    match nbss::parse_session_response(header, &payload)
        .map_err(|e| ProtocolError::decode("NetBIOS session response", e))?
    {
        SessionResponse::Positive => Ok(()),
        SessionResponse::Negative(reason) => Err(Error::NetbiosRejected {
            called_name: called.to_ascii_uppercase(),
            reason,
        }),
        SessionResponse::Retarget { addr, port } => Err(Error::Unsupported(format!(
            "the server asked to retarget the NetBIOS session to {addr}:{port}; connect there instead"
        ))),
    }
}

async fn read_exact_or_closed<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut [u8],
) -> Result<(), Error> {
    match s.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::NotConnected),
        Err(e) => Err(Error::Io(e)),
    }
}

/// Reads one session message, skipping keep-alives. The length is checked
/// against `max` before anything is allocated.
pub(crate) async fn read_frame<S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
) -> Result<Bytes, Error> {
    read_frame_into(s, max, &mut BytesMut::new()).await
}

/// [`read_frame`] reading into `pool`, whose memory is reused for later
/// frames once the frames handed out before are dropped (large reads then
/// do not fault in fresh pages every time).
pub(crate) async fn read_frame_into<S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
    pool: &mut BytesMut,
) -> Result<Bytes, Error> {
    Ok(read_frame_mut(s, max, pool).await?.freeze())
}

/// [`read_frame_into`], handing out the frame still writable (to decrypt
/// it in place).
pub(crate) async fn read_frame_mut<S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
    pool: &mut BytesMut,
) -> Result<BytesMut, Error> {
    loop {
        let mut h = [0u8; 4];
        read_exact_or_closed(s, &mut h).await?;
        let header = nbss::parse_frame_header(h, max)
            .map_err(|e| ProtocolError::decode("frame header", e))?;
        if header.kind == nbss::kind::KEEP_ALIVE {
            continue;
        }
        if header.kind != nbss::kind::SESSION_MESSAGE {
            return Err(ProtocolError::Unexpected(format!(
                "unexpected NetBIOS frame type {:#04x} during the session",
                header.kind
            ))
            .into());
        }
        // Read exactly this frame into uninitialised memory of the pool.
        pool.clear();
        pool.reserve(header.length);
        while pool.len() < header.length {
            let want = (header.length - pool.len()) as u64;
            let n = (&mut *s).take(want).read_buf(pool).await?;
            if n == 0 {
                return Err(Error::NotConnected);
            }
        }
        return Ok(pool.split_to(header.length));
    }
}

/// Prefixes `msg` with its session-message header.
pub(crate) fn frame(msg: &[u8]) -> Result<Vec<u8>, Error> {
    let h = nbss::message_header(msg.len())
        .map_err(|e| Error::InvalidArgument(format!("message too large to send: {e}")))?;
    let mut out = Vec::with_capacity(4 + msg.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(msg);
    Ok(out)
}
