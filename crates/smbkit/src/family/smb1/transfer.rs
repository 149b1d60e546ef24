//! Transfers over SMB1: READ_ANDX and WRITE_ANDX (MS-SMB §2.2.4.2,
//! §2.2.4.3), with the sizes the session setup worked out, and what the
//! server did not write sent again.

use super::*;
use crate::error::BadAnswer;

/// READ_ANDX of up to `len` bytes at `offset` (MS-SMB §2.2.4.2): the data,
/// zero-copy; empty at the end of the file (STATUS_END_OF_FILE or no
/// data). A server may send fewer bytes than asked anywhere in the file
/// (MS-SMB §3.3.5.7), so the caller reads on from where the data ended.
#[allow(clippy::too_many_arguments)]
async fn read_raw(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    len: u32,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<bytes::Bytes, Error> {
    let req = smbkit_proto::smb1::read::ReadAndxRequest::file(fid, offset, len);
    let r = s
        .request(command::READ_ANDX, tid, deadline, "read", |w| req.encode(w))
        .await?;
    match r.header.status {
        NtStatus::SUCCESS => {
            let range = smbkit_proto::smb1::read::read_andx_data_range(&r.msg)
                .map_err(|e| ProtocolError::decode("READ_ANDX response", e))?;
            if range.len() > len as usize {
                return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                    what: "READ_ANDX",
                    got: range.len() as u64,
                    asked: u64::from(len),
                })
                .into());
            }
            Ok(r.msg.slice(range))
        }
        NtStatus::END_OF_FILE => Ok(bytes::Bytes::new()),
        st => Err(failure("reading", share, path, st)),
    }
}

/// WRITE_ANDX of `data` at `offset` (MS-SMB §2.2.4.3), the data sent from
/// its own buffer (signed or not); returns the bytes the server wrote,
/// which may be fewer.
#[allow(clippy::too_many_arguments)]
async fn write_raw(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    data: bytes::Bytes,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<usize, Error> {
    let len = data.len();
    let r = send_write(s, tid, fid, offset, data, deadline)
        .await?
        .response()
        .await?;
    written(&r, len, share, path)
}

/// Sends a WRITE_ANDX of `data` at `offset` without waiting for the
/// response.
async fn send_write(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    data: bytes::Bytes,
    deadline: Instant,
) -> Result<crate::driver::smb1::Sent1<'_>, Error> {
    let len = data.len();
    s.send(
        command::WRITE_ANDX,
        tid,
        deadline,
        "write",
        |w| smbkit_proto::smb1::write::encode_write_andx_header(w, fid, offset, 0, len),
        data,
    )
    .await
}

/// The bytes a WRITE_ANDX response says were written of `len` (Count |
/// CountHigh << 16, MS-SMB §2.2.4.3.2); an error status fails.
fn written(r: &Resp1, len: usize, share: &str, path: &str) -> Result<usize, Error> {
    if r.header.status.is_error() {
        return Err(failure("writing", share, path, r.header.status));
    }
    let resp = smbkit_proto::smb1::write::WriteAndxResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("WRITE_ANDX response", e))?;
    let n = resp.written(len as u32) as usize;
    if n > len {
        return Err(ProtocolError::BadAnswer(BadAnswer::WriteCount {
            what: "WRITE_ANDX",
            written: n as u64,
            sent: len as u64,
        })
        .into());
    }
    Ok(n)
}

/// The error for a WRITE_ANDX of which the server wrote nothing.
fn nothing_written(len: usize) -> Error {
    ProtocolError::BadAnswer(BadAnswer::WriteCount {
        what: "WRITE_ANDX",
        written: 0,
        sent: len as u64,
    })
    .into()
}

/// Writes all of `data` at `offset` with WRITE_ANDX requests: a request the
/// server took only part of is followed by one with the rest. A request of
/// which the server wrote nothing fails the write. Each request has the
/// whole time limit.
#[allow(clippy::too_many_arguments)]
async fn write_all_at(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    mut data: bytes::Bytes,
    share: &str,
    path: &str,
    limit: std::time::Duration,
) -> Result<(), Error> {
    let mut at = offset;
    while !data.is_empty() {
        let deadline = Instant::now() + limit;
        let n = write_raw(s, tid, fid, at, data.clone(), share, path, deadline).await?;
        if n == 0 {
            return Err(nothing_written(data.len()));
        }
        bytes::Buf::advance(&mut data, n);
        at += n as u64;
    }
    Ok(())
}

/// A WRITE_ANDX of an upload in flight.
pub(crate) struct WriteInFlight<'a> {
    pub(crate) sent: crate::driver::smb1::Sent1<'a>,
    pub(crate) data: bytes::Bytes,
    pub(crate) at: u64,
}

impl WriteInFlight<'_> {
    /// Waits for the response and writes what the server did not take;
    /// returns the data's buffer once nothing else holds it, for the next
    /// chunk.
    pub(crate) async fn finish(
        self,
        s: &Smb1Shared,
        tid: u16,
        fid: u16,
        share: &str,
        path: &str,
        limit: std::time::Duration,
    ) -> Result<Option<bytes::BytesMut>, Error> {
        let WriteInFlight { sent, data, at } = self;
        let len = data.len();
        let n = written(&sent.response().await?, len, share, path)?;
        if n == 0 {
            return Err(nothing_written(len));
        }
        if n < len {
            let rest = data.slice(n..);
            write_all_at(s, tid, fid, at + n as u64, rest, share, path, limit).await?;
        }
        // Sent and answered: the buffer is ours again.
        Ok(data.try_into_mut().ok())
    }
}

impl Smb1 {
    /// The READ_ANDX size, already the exact SMB1 limit (see
    /// `max_read` in the SMB1 session setup).
    pub(crate) fn read_size(&self) -> usize {
        self.info.max_read_size.max(1024) as usize
    }

    /// The WRITE_ANDX size (see `max_write` in the SMB1 session setup).
    pub(crate) fn write_size(&self) -> usize {
        self.info.max_write_size.max(1024) as usize
    }

    /// READ_ANDX on an open file.
    pub(crate) async fn read(
        &self,
        file: FileRef,
        offset: u64,
        len: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        let (tid, fid) = tid_fid(file)?;
        read_raw(&self.shared, tid, fid, offset, len, share, path, deadline).await
    }

    /// NT_CREATE_ANDX for reading; the reads come after.
    pub(crate) async fn open_read(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        _offset: u64,
        _len: u32,
        deadline: Instant,
    ) -> Result<crate::family::ReadStart, Error> {
        let f = self
            .open(
                tree,
                share,
                path,
                crate::family::read_spec(),
                "retrieve_file",
                deadline,
            )
            .await?;
        Ok(crate::family::ReadStart::Open(f))
    }

    /// NT_CREATE_ANDX, WRITE_ANDX requests until all is written, CLOSE.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_small(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        offset: u64,
        data: bytes::Bytes,
        deadline: Instant,
    ) -> Result<(), Error> {
        let f = self
            .open(tree, share, path, spec, "store_file", deadline)
            .await?;
        let (tid, fid) = tid_fid(f.file())?;
        let limit = deadline.saturating_duration_since(Instant::now());
        write_all_at(&self.shared, tid, fid, offset, data, share, path, limit).await?;
        f.close(deadline).await
    }

    /// Sends a WRITE_ANDX without waiting for its answer.
    pub(crate) async fn start_write(
        &self,
        file: FileRef,
        offset: u64,
        data: bytes::Bytes,
        deadline: Instant,
    ) -> Result<WriteInFlight<'_>, Error> {
        let (tid, fid) = tid_fid(file)?;
        let sent = send_write(&self.shared, tid, fid, offset, data.clone(), deadline).await?;
        Ok(WriteInFlight {
            sent,
            data,
            at: offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smbkit_proto::smb1::header::flags2;
    use smbkit_proto::smb1::header::{flags, Header};
    use smbkit_proto::smb1::write::{WriteAndxRequest, WriteAndxResponse};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
    }

    /// A peer that answers each WRITE_ANDX with `answer(request length)`
    /// bytes written and keeps what it wrote.
    async fn write_peer(
        answer: fn(usize) -> usize,
    ) -> (
        Arc<Smb1Shared>,
        crate::driver::Tasks,
        Arc<std::sync::Mutex<Vec<u8>>>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = l.accept().await.unwrap();
        let file = Arc::new(std::sync::Mutex::new(Vec::new()));
        let f2 = Arc::clone(&file);
        tokio::spawn(async move {
            loop {
                let mut h = [0u8; 4];
                if server.read_exact(&mut h).await.is_err() {
                    return;
                }
                let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                let mut msg = vec![0u8; len];
                server.read_exact(&mut msg).await.unwrap();
                let mut header = Header::decode(&msg).unwrap();
                let req = WriteAndxRequest::decode(&msg).unwrap();
                let n = answer(req.data.len());
                {
                    let mut f = f2.lock().unwrap();
                    let end = req.offset as usize + n;
                    if f.len() < end {
                        f.resize(end, 0);
                    }
                    f[req.offset as usize..end].copy_from_slice(&req.data[..n]);
                }
                header.flags |= flags::REPLY;
                let mut w = smbkit_proto::Writer::new();
                header.encode(&mut w);
                WriteAndxResponse {
                    count: n as u32,
                    available: 0,
                }
                .encode(&mut w);
                let msg = w.into_vec();
                let out = crate::transport::frame(&msg).unwrap();
                tokio::io::AsyncWriteExt::write_all(&mut server, &out)
                    .await
                    .unwrap();
            }
        });
        let (rd, wr) = crate::transport::split(Box::new(client));
        let (s, tasks) = Smb1Shared::open(rd, wr, 16, 0, flags2::NT_STATUS, 1);
        (s, tasks, file)
    }

    #[tokio::test]
    async fn short_writes_continue_with_the_rest() {
        // At most 1000 bytes per request, and half of anything larger.
        let (s, _tasks, file) = write_peer(|n| (n / 2).clamp(1, 1000)).await;
        let data = content(10_000);
        let r = write_all_at(
            &s,
            1,
            2,
            100,
            bytes::Bytes::from(data.clone()),
            "share",
            "f.bin",
            Duration::from_secs(5),
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        {
            let f = file.lock().unwrap();
            assert_eq!(f.len(), 10_100);
            assert!(f[100..] == data[..]);
        }
        // Pipelined as uploads do: three requests in flight, each answered
        // in part, the rest written when its answer is taken.
        let limit = Duration::from_secs(5);
        let mut inflight = Vec::new();
        for k in 0..3u64 {
            let chunk = bytes::Bytes::from(content(3000));
            let at = 20_000 + k * 3000;
            let sent = send_write(&s, 1, 2, at, chunk.clone(), Instant::now() + limit)
                .await
                .unwrap();
            inflight.push(WriteInFlight {
                sent,
                data: chunk,
                at,
            });
        }
        for w in inflight {
            w.finish(&s, 1, 2, "share", "f.bin", limit).await.unwrap();
        }
        let f = file.lock().unwrap();
        assert_eq!(f.len(), 29_000);
        for k in 0..3 {
            let at = 20_000 + k * 3000;
            assert!(f[at..at + 3000] == content(3000)[..], "chunk {k}");
        }
    }

    #[tokio::test]
    async fn a_write_of_nothing_fails() {
        let (s, _tasks, _file) = write_peer(|_| 0).await;
        let err = write_all_at(
            &s,
            1,
            2,
            0,
            bytes::Bytes::from(content(5000)),
            "share",
            "f.bin",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol(ProtocolError::BadAnswer(
                    crate::error::BadAnswer::WriteCount {
                        written: 0,
                        sent: 5000,
                        ..
                    }
                ))
            ),
            "{err:?}"
        );
    }
}
