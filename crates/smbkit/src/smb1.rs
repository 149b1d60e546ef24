//! The SMB1 (NT LM 0.12) driver: one reader task that routes responses by
//! multiplex id (MID), a writer task, at most MaxMpxCount requests in
//! flight, and MD5 signing with sequence numbers (MS-CIFS §3.1.4.1,
//! MS-SMB §3.1.4.1).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use smbkit_proto::smb1::header::{self, flags, flags2, Header};
use smbkit_proto::smb1::signing::Smb1Signer;
use smbkit_proto::{NtStatus, Writer};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::driver::{Outgoing, Tasks};
use crate::error::{Error, ProtocolError};
use crate::transport;

/// One SMB1 response as the reader task delivers it.
#[derive(Debug, Clone)]
pub(crate) struct Resp1 {
    pub header: Header,
    pub msg: Bytes,
}

type Waiter = oneshot::Sender<Result<Resp1, Error>>;

struct State {
    next_mid: u16,
    /// The sequence number of the next request (MS-CIFS §3.1.4.1).
    seq: u32,
    signer: Option<Arc<Smb1Signer>>,
    uid: u16,
    /// MID → (waiter, the sequence number its response carries, the
    /// request's command).
    pending: HashMap<u16, (Waiter, u32, u8)>,
    /// MaxMpxCount slots of requests given up on (timed out) whose
    /// responses have not come: the server still counts them.
    abandoned: HashMap<u16, OwnedSemaphorePermit>,
}

/// What the SMB1 reader task and the request path share.
pub(crate) struct Smb1Shared {
    state: Mutex<State>,
    tx: mpsc::UnboundedSender<Outgoing>,
    closed: AtomicBool,
    mpx: Arc<Semaphore>,
    /// FLAGS2 of every request.
    pub flags2: u16,
}

impl Smb1Shared {
    /// Starts the reader and writer over a negotiated stream. `first_mid`
    /// follows the MIDs the handshake used.
    pub(crate) fn start(
        rd: OwnedReadHalf,
        wr: OwnedWriteHalf,
        max_mpx: u16,
        flags2: u16,
        first_mid: u16,
    ) -> (Arc<Smb1Shared>, Tasks) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Smb1Shared {
            state: Mutex::new(State {
                next_mid: first_mid,
                seq: 0,
                signer: None,
                uid: 0,
                pending: HashMap::new(),
                abandoned: HashMap::new(),
            }),
            tx,
            closed: AtomicBool::new(false),
            mpx: Arc::new(Semaphore::new(usize::from(max_mpx.clamp(1, 256)))),
            flags2,
        });
        let reader = tokio::spawn(reader_task(rd, Arc::downgrade(&shared)));
        let writer = tokio::spawn(writer_task(wr, rx, Arc::downgrade(&shared)));
        (shared, Tasks::new(reader, writer))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn shut_down(&self, why: &str) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(why, "SMB1 connection closed");
        let waiters: Vec<Waiter> = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.pending.drain().map(|(_, (w, _, _))| w).collect()
        };
        for w in waiters {
            let _ = w.send(Err(Error::NotConnected));
        }
        self.mpx.close();
    }

    /// Sets the session's UID for later requests.
    pub(crate) fn set_uid(&self, uid: u16) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).uid = uid;
    }

    /// Starts signing with `signer`; the next request gets sequence number
    /// `next_seq` (MS-CIFS §3.2.4.1.1: the session setup that established
    /// the key used 0 and its response 1).
    pub(crate) fn activate_signing(&self, signer: Smb1Signer, next_seq: u32) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.signer = Some(Arc::new(signer));
        s.seq = next_seq;
    }

    /// True once messages are signed.
    pub(crate) fn signing(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .signer
            .is_some()
    }

    /// Sends one request built by `body` (after a header this builds) and
    /// waits for its response; the response's signature is verified when
    /// signing is active. Responses of any status are returned.
    pub(crate) async fn request(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer),
    ) -> Result<Resp1, Error> {
        self.request_with_tail(command, tid, deadline, operation, body, Bytes::new())
            .await
    }

    /// [`Smb1Shared::request`] with `tail` appended to the message (the
    /// data of a WRITE_ANDX).
    pub(crate) async fn request_with_tail(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer),
        tail: Bytes,
    ) -> Result<Resp1, Error> {
        self.send(command, tid, deadline, operation, body, tail)
            .await?
            .response()
            .await
    }

    /// Sends one request (as [`Smb1Shared::request_with_tail`] does) and
    /// returns once it is queued for the socket; [`Sent1::response`] waits
    /// for the answer. Callers that keep several requests in flight from
    /// one task use this instead of a task per request.
    pub(crate) async fn send(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer),
        tail: Bytes,
    ) -> Result<Sent1<'_>, Error> {
        if self.is_closed() {
            return Err(Error::NotConnected);
        }
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&self.mpx).acquire_owned())
            .await
            .map_err(|_| timeout_error(operation, deadline))?
            .map_err(|_| Error::NotConnected)?;
        let (tx, rx) = oneshot::channel();
        let mid = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let mut mid = s.next_mid;
            // 0xFFFF is the server's (oplock breaks); skip ids in use.
            while mid == 0xFFFF || s.pending.contains_key(&mid) || s.abandoned.contains_key(&mid) {
                mid = mid.wrapping_add(1);
            }
            s.next_mid = mid.wrapping_add(1);
            let h = Header {
                command,
                status: NtStatus::SUCCESS,
                flags: flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
                flags2: self.flags2
                    | if s.signer.is_some() {
                        flags2::SECURITY_SIGNATURE
                    } else {
                        0
                    },
                pid_high: 0,
                security_features: [0; 8],
                tid,
                pid_low: 0xFEFF,
                uid: s.uid,
                mid,
            };
            let mut w = Writer::new();
            h.encode(&mut w);
            body(&mut w);
            let mut msg = w.into_vec();
            let seq = s.seq;
            // Sequence numbers go in send order: taken, signed and queued
            // under the same lock.
            if let Some(signer) = s.signer.clone() {
                // The signature covers the tail, which still goes out
                // from its own buffer.
                signer.sign_with_tail(&mut msg, &tail, seq);
                s.seq = seq.wrapping_add(2);
            }
            let out = Outgoing::with_tail(msg, tail)?;
            s.pending.insert(mid, (tx, seq.wrapping_add(1), command));
            if self.tx.send(out).is_err() {
                s.pending.remove(&mid);
                return Err(Error::NotConnected);
            }
            mid
        };
        Ok(Sent1 {
            shared: self,
            rx,
            permit: Some(permit),
            mid,
            deadline,
            operation,
        })
    }

    fn route(&self, msg: Bytes) -> Result<(), Error> {
        let mut header =
            Header::decode(&msg).map_err(|e| ProtocolError::decode("SMB1 header", e))?;
        if header.flags2 & flags2::NT_STATUS == 0 && header.status.0 != 0 {
            // A DOS error class and code (MS-CIFS §2.2.2.4): callers see
            // the NT status it stands for.
            let (class, code) = smbkit_proto::smb1::dos_error::split(header.status.0);
            header.status = smbkit_proto::smb1::dos_error::to_nt_status(class, code);
        }
        if !header.is_reply() {
            // An oplock break request: nothing here asks for oplocks.
            tracing::debug!(
                command = header.command,
                "ignored an SMB1 request from the server"
            );
            return Ok(());
        }
        let (waiter, signer) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.abandoned.remove(&header.mid);
            (s.pending.remove(&header.mid), s.signer.clone())
        };
        let Some((w, seq, command)) = waiter else {
            tracing::debug!(mid = header.mid, "SMB1 response nobody waits for");
            return Ok(());
        };
        let result = match signer {
            _ if header.command != command => Err(ProtocolError::Unexpected(format!(
                "the response to SMB1 command {command:#04x} carries command {:#04x}",
                header.command
            ))
            .into()),
            Some(signer) if !signer.verify(&msg, seq) => Err(ProtocolError::BadSignature {
                command: format!("SMB1 {:#04x}", header.command),
            }
            .into()),
            _ => Ok(Resp1 { header, msg }),
        };
        let _ = w.send(result);
        Ok(())
    }
}

fn timeout_error(operation: &'static str, deadline: Instant) -> Error {
    Error::Timeout {
        operation,
        after: deadline.saturating_duration_since(Instant::now()),
    }
}

/// A request sent with [`Smb1Shared::send`] whose response is still to
/// come. It holds its MaxMpxCount slot until then: dropped before the
/// response (given up on, or timed out), the slot stays taken until the
/// server answers, since the server still counts the request.
pub(crate) struct Sent1<'a> {
    shared: &'a Smb1Shared,
    rx: oneshot::Receiver<Result<Resp1, Error>>,
    permit: Option<OwnedSemaphorePermit>,
    mid: u16,
    deadline: Instant,
    operation: &'static str,
}

impl Sent1<'_> {
    /// Waits for the response (until the request's deadline); its
    /// signature is verified when signing is active.
    pub(crate) async fn response(mut self) -> Result<Resp1, Error> {
        match tokio::time::timeout_at(self.deadline, &mut self.rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::NotConnected),
            Err(_) => Err(timeout_error(self.operation, self.deadline)),
        }
    }
}

impl Drop for Sent1<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.pending.remove(&self.mid).is_some() {
                // No response yet: the server still works on it.
                st.abandoned.insert(self.mid, permit);
            }
        }
    }
}

/// Receive memory for frames of up to a quarter of this is taken in
/// blocks of this size: READ_ANDX responses of 128 KiB, several in flight,
/// then share a block (and its pages) instead of each being an allocation
/// of its own.
const RECEIVE_BLOCK: usize = 1024 * 1024;

async fn reader_task(rd: OwnedReadHalf, shared: std::sync::Weak<Shared1Ref>) {
    let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
    let mut pool = transport::RecvPool::new(RECEIVE_BLOCK);
    loop {
        let frame = transport::read_frame_pooled(&mut rd, 16 * 1024 * 1024, &mut pool).await;
        let Some(s) = shared.upgrade() else { return };
        match frame {
            Ok(f) if f.len() >= 4 && f[..4] == header::PROTOCOL_ID => {
                if let Err(e) = s.route(f) {
                    tracing::warn!(error = %e, "closing the SMB1 connection");
                    s.shut_down("protocol error");
                    return;
                }
            }
            Ok(_) => {
                s.shut_down("a frame that is not an SMB1 message arrived");
                return;
            }
            Err(e) => {
                s.shut_down(&format!("read failed: {e}"));
                return;
            }
        }
    }
}

type Shared1Ref = Smb1Shared;

async fn writer_task(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: std::sync::Weak<Smb1Shared>,
) {
    let mut wr = tokio::io::BufWriter::with_capacity(256 * 1024, wr);
    while let Some(frame) = rx.recv().await {
        let mut res = crate::driver::write_one(&mut wr, &frame).await;
        if res.is_ok() {
            while let Ok(next) = rx.try_recv() {
                res = crate::driver::write_one(&mut wr, &next).await;
                if res.is_err() {
                    break;
                }
            }
        }
        if res.is_ok() {
            res = wr.flush().await;
        }
        if let Err(e) = res {
            if let Some(s) = shared.upgrade() {
                s.shut_down(&format!("write failed: {e}"));
            }
            return;
        }
    }
    let _ = wr.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use smbkit_proto::smb1::header::command;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connection with MaxMpxCount 1 to a peer whose received messages
    /// come out of the returned channel; `answer` replies to one of them.
    async fn one_slot() -> (
        Arc<Smb1Shared>,
        Tasks,
        mpsc::UnboundedReceiver<Header>,
        OwnedWriteHalf,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let (mut srd, swr) = server.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let mut h = [0u8; 4];
                if srd.read_exact(&mut h).await.is_err() {
                    return;
                }
                let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                let mut msg = vec![0u8; len];
                srd.read_exact(&mut msg).await.unwrap();
                let _ = tx.send(Header::decode(&msg).unwrap());
            }
        });
        let (rd, wr) = client.into_split();
        let (s, tasks) = Smb1Shared::start(rd, wr, 1, flags2::NT_STATUS, 1);
        (s, tasks, rx, swr)
    }

    async fn answer(wr: &mut OwnedWriteHalf, mut h: Header) {
        h.flags |= flags::REPLY;
        let mut w = Writer::new();
        h.encode(&mut w);
        w.u8(0).u16(0); // WordCount 0, ByteCount 0
        let frame = transport::frame(w.as_slice()).unwrap();
        wr.write_all(&frame).await.unwrap();
    }

    fn echo(w: &mut Writer) {
        w.u8(0).u16(0);
    }

    #[tokio::test]
    async fn a_request_given_up_on_keeps_its_slot_until_answered() {
        for dropped in [false, true] {
            let (s, _tasks, mut seen, mut wr) = one_slot().await;
            let soon = Instant::now() + Duration::from_millis(100);
            if dropped {
                // Sent, then dropped without waiting for the response.
                let sent = s
                    .send(command::ECHO, 0, soon, "echo", echo, Bytes::new())
                    .await
                    .unwrap();
                drop(sent);
            } else {
                let err = s.request(command::ECHO, 0, soon, "echo", echo).await;
                assert!(matches!(err, Err(Error::Timeout { .. })), "{err:?}");
            }
            let first = seen.recv().await.unwrap();
            // The only slot is still the first request's: the next one
            // waits.
            let s2 = Arc::clone(&s);
            let second = tokio::spawn(async move {
                let later = Instant::now() + Duration::from_secs(5);
                s2.request(command::ECHO, 0, later, "echo", echo).await
            });
            let quiet = tokio::time::timeout(Duration::from_millis(300), seen.recv()).await;
            assert!(
                quiet.is_err(),
                "dropped={dropped}: sent before the slot was free"
            );
            // The late answer frees it.
            let first_mid = first.mid;
            answer(&mut wr, first).await;
            let h = seen.recv().await.unwrap();
            let mid = h.mid;
            assert_ne!(mid, first_mid);
            answer(&mut wr, h).await;
            let r = second.await.unwrap().unwrap();
            assert_eq!(r.header.mid, mid);
        }
    }
}
