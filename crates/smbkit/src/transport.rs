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

/// A byte stream an SMB connection runs over: TCP, or whatever the caller
/// brings to [`SmbProtocolFactory::connect_stream`](crate::SmbProtocolFactory::connect_stream).
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A connection's stream, whatever its type.
pub(crate) type BoxStream = Box<dyn Stream>;
/// The reading half of a [`BoxStream`].
pub(crate) type ReadHalf = tokio::io::ReadHalf<BoxStream>;
/// The writing half of a [`BoxStream`].
pub(crate) type WriteHalf = tokio::io::WriteHalf<BoxStream>;

/// Splits a stream into the halves the reader and writer tasks own.
pub(crate) fn split(s: BoxStream) -> (ReadHalf, WriteHalf) {
    tokio::io::split(s)
}

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
        return Err(crate::InvalidArgument::NoAddress.into());
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
    let header = nbss::parse_frame_header(h, nbss::SESSION_RESPONSE_MAX)
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
        SessionResponse::Retarget { addr, port } => Err(Error::Unsupported(
            crate::error::Unsupported::NetbiosRetarget { addr, port },
        )),
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
    let len = read_frame_length(s, max).await?;
    pool.clear();
    pool.reserve(len);
    read_body(s, pool, len).await
}

/// [`read_frame`] reading into the blocks of `pool`.
#[cfg(test)]
pub(crate) async fn read_frame_pooled<S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
    pool: &mut RecvPool,
) -> Result<Bytes, Error> {
    Ok(read_frame_pooled_mut(s, max, pool).await?.freeze())
}

/// [`read_frame_pooled`], handing out the frame still writable (to decrypt
/// it in place).
pub(crate) async fn read_frame_pooled_mut<S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
    pool: &mut RecvPool,
) -> Result<BytesMut, Error> {
    let len = read_frame_length(s, max).await?;
    read_body_mut(s, pool.buffer(len), len).await
}

/// Reads frame headers up to that of the next session message (skipping
/// keep-alives) and returns its length, checked against `max`.
async fn read_frame_length<S: AsyncRead + Unpin>(s: &mut S, max: usize) -> Result<usize, Error> {
    loop {
        let mut h = [0u8; 4];
        read_exact_or_closed(s, &mut h).await?;
        let header = nbss::parse_frame_header(h, max)
            .map_err(|e| ProtocolError::decode("frame header", e))?;
        if header.kind == nbss::kind::KEEP_ALIVE {
            continue;
        }
        if header.kind != nbss::kind::SESSION_MESSAGE {
            return Err(
                ProtocolError::UnexpectedMessage(crate::UnexpectedMessage::NetbiosFrame {
                    kind: header.kind,
                })
                .into(),
            );
        }
        return Ok(header.length);
    }
}

/// Reads exactly `len` bytes into the (empty) uninitialised capacity of
/// `buf`, which has room for them, and cuts them off as one frame.
async fn read_body<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
    len: usize,
) -> Result<Bytes, Error> {
    Ok(read_body_mut(s, buf, len).await?.freeze())
}

/// [`read_body`], the frame left writable.
async fn read_body_mut<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
    len: usize,
) -> Result<BytesMut, Error> {
    debug_assert!(buf.is_empty() && buf.capacity() >= len);
    while buf.len() < len {
        let want = (len - buf.len()) as u64;
        let n = (&mut *s).take(want).read_buf(buf).await?;
        if n == 0 {
            return Err(Error::NotConnected);
        }
    }
    Ok(buf.split_to(len))
}

/// Receive memory of one connection: frames are read into blocks that are
/// used again once every frame cut from them has been dropped, so that a
/// steady stream of large responses, several held at once, allocates (and
/// faults in) nothing after the first few.
///
/// A frame of at most a quarter of `min_block` bytes goes into a block of
/// `min_block` bytes that the next frames share; a larger one gets a block
/// of its own size. At most [`RecvPool::MAX_BLOCKS`] blocks are kept: past
/// that the oldest is let go (its memory is freed once its frames are).
#[derive(Debug)]
pub(crate) struct RecvPool {
    blocks: Vec<BytesMut>,
    min_block: usize,
}

impl RecvPool {
    /// Blocks kept for reuse.
    const MAX_BLOCKS: usize = 16;

    pub(crate) fn new(min_block: usize) -> Self {
        RecvPool {
            blocks: Vec::new(),
            min_block,
        }
    }

    /// An empty buffer with room for `len` bytes.
    fn buffer(&mut self, len: usize) -> &mut BytesMut {
        // A block with room left, or one all of whose frames are gone.
        let found = self.blocks.iter_mut().position(|b| {
            b.clear();
            b.try_reclaim(len)
        });
        let i = match found {
            Some(i) => i,
            None => {
                if self.blocks.len() >= Self::MAX_BLOCKS {
                    self.blocks.remove(0);
                }
                let size = if len <= self.min_block / 4 {
                    self.min_block
                } else {
                    len
                };
                self.blocks.push(BytesMut::with_capacity(size));
                self.blocks.len() - 1
            }
        };
        &mut self.blocks[i]
    }
}

/// Prefixes `msg` with its session-message header.
#[cfg(test)]
pub(crate) fn frame(msg: &[u8]) -> Result<Vec<u8>, Error> {
    let h = nbss::message_header(msg.len()).map_err(Error::from)?;
    let mut out = Vec::with_capacity(4 + msg.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(msg);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Session messages of the given lengths (byte i of frame k is k + i),
    /// with a keep-alive in front of each.
    fn stream(lens: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, &len) in lens.iter().enumerate() {
            out.extend_from_slice(&[nbss::kind::KEEP_ALIVE, 0, 0, 0]);
            out.extend_from_slice(&nbss::message_header(len).unwrap());
            out.extend((0..len).map(|i| (k + i) as u8));
        }
        out
    }

    fn check(k: usize, f: &[u8], len: usize) {
        assert_eq!(f.len(), len, "frame {k}");
        assert!(
            f.iter().enumerate().all(|(i, &b)| b == (k + i) as u8),
            "frame {k}"
        );
    }

    #[tokio::test]
    async fn pooled_frames_share_and_reuse_blocks() {
        let lens: Vec<usize> = (0..40).map(|k| 1000 + k * 37).collect();
        let data = stream(&lens);
        let mut s = &data[..];
        let mut pool = RecvPool::new(16 * 1024);
        // Held all at once: small frames share blocks of 16 KiB.
        let mut held = Vec::new();
        for (k, &len) in lens.iter().enumerate() {
            let f = read_frame_pooled(&mut s, 1 << 20, &mut pool).await.unwrap();
            check(k, &f, len);
            held.push(f);
        }
        assert!(pool.blocks.len() <= RecvPool::MAX_BLOCKS);
        assert!(pool.blocks.len() < lens.len() / 4, "{}", pool.blocks.len());
        for (k, f) in held.iter().enumerate() {
            check(k, f, lens[k]);
        }
        drop(held);

        // Dropped as soon as read: large frames come from one reused block.
        let lens = vec![100_000; 30];
        let data = stream(&lens);
        let mut s = &data[..];
        let mut pool = RecvPool::new(16 * 1024);
        for (k, &len) in lens.iter().enumerate() {
            let f = read_frame_pooled(&mut s, 1 << 20, &mut pool).await.unwrap();
            check(k, &f, len);
        }
        assert_eq!(pool.blocks.len(), 1);

        // Over the limit, and cut short.
        let data = stream(&[5000]);
        let mut pool = RecvPool::new(16 * 1024);
        assert!(read_frame_pooled(&mut &data[..], 4999, &mut pool)
            .await
            .is_err());
        assert!(matches!(
            read_frame_pooled(&mut &data[..data.len() - 1], 5000, &mut pool).await,
            Err(Error::NotConnected)
        ));
    }
}
