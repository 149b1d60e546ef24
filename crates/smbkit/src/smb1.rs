//! The SMB1 (NT LM 0.12) driver: one reader task that routes responses by
//! multiplex id (MID) — one message per request, or for a transaction as
//! many as the server splits its response into — a writer task, at most
//! MaxMpxCount requests in flight, and MD5 signing with sequence numbers
//! (MS-CIFS §3.1.4.1, MS-SMB §3.1.4.1). A response whose signature does not
//! verify fails its request and closes the connection (MS-CIFS §3.2.5.1.2).
//!
//! MaxMpxCount (MS-CIFS §2.2.4.52.2) counts the requests the server has not
//! answered yet: a request's slot is freed by the reader task when the last
//! message of its response arrives, not when its caller gets to it. So a
//! caller that sends several requests before it waits for any response (an
//! upload keeping writes in flight) cannot stall on a server that allows
//! fewer (impacket's allows one).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use smbkit_proto::smb1::header::HEADER_LEN;
use smbkit_proto::smb1::header::{self, command, flags, flags2, Header};
use smbkit_proto::smb1::signing::Smb1Signer;
use smbkit_proto::smb1::trans::{split_request, TransAssembler, TransResponsePart};
use smbkit_proto::{NtStatus, Writer};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};
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

/// A transaction response (SMB_COM_TRANSACTION, TRANSACTION2 or
/// NT_TRANSACT) as [`Smb1Shared::request_trans`] delivers it: the
/// parameters and data of every message the server sent for the request,
/// put together (MS-CIFS §3.2.5.x: a response larger than the client's
/// MaxBufferSize comes in several messages with the request's MID, each
/// placing its bytes with ParameterDisplacement and DataDisplacement).
#[derive(Debug, Clone)]
pub(crate) struct TransResp1 {
    /// The header of the last message; its status is the transaction's
    /// (Samba repeats a warning such as STATUS_BUFFER_OVERFLOW in every
    /// part).
    pub header: Header,
    /// Trans_Parameters, complete.
    pub parameters: Vec<u8>,
    /// Trans_Data, complete.
    pub data: Vec<u8>,
    /// How many messages carried the response.
    pub parts: usize,
}

impl TransResp1 {
    /// True if the response's strings are Unicode.
    pub fn unicode(&self) -> bool {
        self.header.flags2 & flags2::UNICODE != 0
    }
}

/// Who waits for the response to a MID.
enum Waiter {
    /// One message.
    One(oneshot::Sender<Result<Resp1, Error>>),
    /// A transaction response, in as many messages as the server sends.
    Trans {
        tx: oneshot::Sender<Result<TransResp1, Error>>,
        asm: TransAssembler,
        parts: usize,
        /// Told of the interim response to a primary request that
        /// secondary requests continue (MS-CIFS §3.2.4.1.x); `None` once
        /// it has come, or when there are no secondaries.
        interim: Option<oneshot::Sender<()>>,
    },
}

impl Waiter {
    fn fail(self, e: Error) {
        match self {
            Waiter::One(tx) => {
                let _ = tx.send(Err(e));
            }
            Waiter::Trans { tx, .. } => {
                let _ = tx.send(Err(e));
            }
        }
    }
}

/// A request whose response has not (completely) arrived.
struct Pending {
    waiter: Waiter,
    /// The sequence number every message of its response carries.
    seq: u32,
    /// The request's command.
    command: u8,
    /// Which request this is among all the connection's, so that a caller
    /// giving up on it cannot hit a later request that reuses its MID.
    serial: u64,
    /// Its MaxMpxCount slot: freed when the last message of its response
    /// arrives, whether or not the caller has looked at it yet.
    slot: OwnedSemaphorePermit,
}

impl Pending {
    /// The transaction `p` still waiting for more of its response, with
    /// what has arrived so far.
    fn trans_continued(
        tx: oneshot::Sender<Result<TransResp1, Error>>,
        asm: TransAssembler,
        parts: usize,
        p: PendingRest,
    ) -> Pending {
        Pending {
            waiter: Waiter::Trans {
                tx,
                asm,
                parts,
                interim: None,
            },
            seq: p.seq,
            command: p.command,
            serial: p.serial,
            slot: p.slot,
        }
    }
}

/// A [`Pending`] without its waiter.
struct PendingRest {
    seq: u32,
    command: u8,
    serial: u64,
    slot: OwnedSemaphorePermit,
}

/// A request given up on (timed out) whose response has not (completely)
/// arrived: the server still counts its MaxMpxCount slot, and its MID is
/// not reused until the last message of its response has come.
struct Abandoned {
    _slot: OwnedSemaphorePermit,
    seq: u32,
    /// The request's command.
    command: u8,
    /// For a transaction: what has arrived of its response, to know which
    /// message is the last.
    asm: Option<TransAssembler>,
}

/// What [`Smb1Shared::route`] does with one transaction response message.
enum PartOutcome {
    /// More messages follow.
    More(TransAssembler, usize),
    /// The response is complete (or failed).
    Done(Result<TransResp1, Error>),
}

struct State {
    next_mid: u16,
    /// The [`Pending::serial`] of the next request.
    next_serial: u64,
    /// The sequence number of the next request (MS-CIFS §3.1.4.1).
    seq: u32,
    signer: Option<Arc<Smb1Signer>>,
    /// Requests say SMB_FLAGS2_SMB_SECURITY_SIGNATURE before signing starts
    /// (the session setup of a client that wants to sign).
    offer_signing: bool,
    uid: u16,
    pending: HashMap<u16, Pending>,
    abandoned: HashMap<u16, Abandoned>,
}

/// What the SMB1 reader task and the request path share.
pub(crate) struct Smb1Shared {
    state: Mutex<State>,
    tx: mpsc::UnboundedSender<Outgoing>,
    closed: AtomicBool,
    /// Wakes the writer task to close the stream when the connection is
    /// shut down.
    stop_writer: Arc<Notify>,
    mpx: Arc<Semaphore>,
    /// The server's MaxBufferSize: a transaction request larger than this
    /// is sent as a primary and secondary requests.
    max_request: usize,
    /// FLAGS2 of every request.
    pub flags2: u16,
    /// Told whenever the last request given up on has been answered.
    drained: Notify,
    /// A weak handle to itself, for tasks it spawns.
    me: std::sync::Weak<Smb1Shared>,
}

impl Smb1Shared {
    /// Starts the reader and writer over a negotiated stream. `first_mid`
    /// follows the MIDs the handshake used.
    pub(crate) fn start(
        rd: OwnedReadHalf,
        wr: OwnedWriteHalf,
        max_mpx: u16,
        max_buffer: u32,
        flags2: u16,
        first_mid: u16,
    ) -> (Arc<Smb1Shared>, Tasks) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop_writer = Arc::new(Notify::new());
        let shared = Arc::new_cyclic(|me| Smb1Shared {
            me: me.clone(),
            drained: Notify::new(),
            state: Mutex::new(State {
                next_mid: first_mid,
                next_serial: 0,
                seq: 0,
                signer: None,
                offer_signing: false,
                uid: 0,
                pending: HashMap::new(),
                abandoned: HashMap::new(),
            }),
            tx,
            closed: AtomicBool::new(false),
            stop_writer: Arc::clone(&stop_writer),
            mpx: Arc::new(Semaphore::new(usize::from(max_mpx.clamp(1, 256)))),
            max_request: max_buffer as usize,
            flags2,
        });
        let reader = tokio::spawn(reader_task(rd, Arc::downgrade(&shared)));
        let writer = tokio::spawn(writer_task(wr, rx, stop_writer, Arc::downgrade(&shared)));
        (shared, Tasks::new(reader, writer))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// True while requests given up on (timed out or dropped) wait for
    /// their responses.
    pub(crate) fn has_abandoned(&self) -> bool {
        !self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .abandoned
            .is_empty()
    }

    /// Runs `job` once every request given up on has been answered (or the
    /// connection is gone), in a task of its own.
    pub(crate) fn when_drained<F>(&self, job: impl FnOnce(Arc<Smb1Shared>) -> F + Send + 'static)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            loop {
                let drained = me.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                if me.is_closed() {
                    return;
                }
                if !me.has_abandoned() {
                    break;
                }
                drained.await;
            }
            job(me).await;
        });
    }

    /// Closes the connection: every waiting request fails with
    /// [`Error::NotConnected`], and so does every later one; the writer
    /// task closes the stream.
    pub(crate) fn shut_down(&self, why: &str) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(why, "SMB1 connection closed");
        self.drained.notify_waiters();
        let waiters: Vec<Waiter> = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.abandoned.clear();
            s.pending.drain().map(|(_, p)| p.waiter).collect()
        };
        for w in waiters {
            w.fail(Error::NotConnected);
        }
        self.mpx.close();
        self.stop_writer.notify_one();
    }

    /// Sets the session's UID for later requests.
    pub(crate) fn set_uid(&self, uid: u16) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).uid = uid;
    }

    /// Whether requests sent before signing starts carry
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE (with a zero signature): a client
    /// that can sign says so in its SESSION_SETUP_ANDX (MS-CIFS §2.2.3.1;
    /// Samba negotiates signing from it unless it requires signing anyway).
    pub(crate) fn offer_signing(&self, on: bool) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .offer_signing = on;
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
        let (tx, rx) = oneshot::channel();
        self.exchange(
            command,
            tid,
            deadline,
            operation,
            body,
            tail,
            Waiter::One(tx),
            rx,
            None,
        )
        .await
    }

    /// Sends a TRANSACTION, TRANSACTION2 or NT_TRANSACT request built by
    /// `body` and waits for its whole response: the MID stays registered
    /// until the messages the server sends for it add up to its
    /// TotalParameterCount and TotalDataCount (MS-CIFS §3.2.5.x; see
    /// [`TransAssembler`]), each message verified with the same sequence
    /// number when signing is active (MS-CIFS §3.2.5.1.2: the expected
    /// number is looked up by the response's MID; Samba signs every part
    /// with the request's number + 1). Totals above `limit` bytes (the
    /// most the request's MaxParameterCount / MaxDataCount allow) are a
    /// protocol error. An error response without transaction words is
    /// returned with empty parameters and data; a response of any status
    /// is returned.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request_trans(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        limit: u32,
        body: impl FnOnce(&mut Writer),
    ) -> Result<TransResp1, Error> {
        let (tx, rx) = oneshot::channel();
        let (itx, irx) = oneshot::channel();
        let waiter = Waiter::Trans {
            tx,
            asm: TransAssembler::with_limit(limit),
            parts: 0,
            interim: Some(itx),
        };
        let r = self
            .exchange(
                command,
                tid,
                deadline,
                operation,
                body,
                Bytes::new(),
                waiter,
                rx,
                Some(irx),
            )
            .await?;
        tracing::trace!(
            operation,
            parts = r.parts,
            parameters = r.parameters.len(),
            data = r.data.len(),
            "transaction response"
        );
        Ok(r)
    }

    /// Sends one request (as [`Smb1Shared::request_with_tail`] does) and
    /// returns once it is queued for the socket; [`Sent1::response`] waits
    /// for the answer. Callers that keep several requests in flight from
    /// one task use this instead of a task per request: since a slot is
    /// freed when the response arrives, not when [`Sent1::response`] takes
    /// it, such a caller may send more requests than the server's
    /// MaxMpxCount before it looks at any response (each waits for the
    /// slot of an answered one).
    pub(crate) async fn send(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer),
        tail: Bytes,
    ) -> Result<Sent1<'_>, Error> {
        let (tx, rx) = oneshot::channel();
        let (ticket, _) = self
            .enqueue(
                command,
                tid,
                deadline,
                operation,
                body,
                tail,
                Waiter::One(tx),
                false,
            )
            .await?;
        Ok(Sent1 {
            guard: Abandon {
                shared: self,
                ticket: Some(ticket),
            },
            rx,
            deadline,
            operation,
        })
    }

    /// Sends one request and waits for what `waiter` delivers to `rx`. A
    /// transaction request (`interim` given) larger than the server's
    /// MaxBufferSize goes as a primary request, then, after the server's
    /// interim response, secondary requests ([`split_request`]); see
    /// [`Smb1Shared::send_secondaries`] for their sequence numbers.
    #[allow(clippy::too_many_arguments)]
    async fn exchange<T>(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer),
        tail: Bytes,
        waiter: Waiter,
        rx: oneshot::Receiver<Result<T, Error>>,
        interim: Option<oneshot::Receiver<()>>,
    ) -> Result<T, Error> {
        let (ticket, secondaries) = self
            .enqueue(
                command,
                tid,
                deadline,
                operation,
                body,
                tail,
                waiter,
                interim.is_some(),
            )
            .await?;
        let timeout = || timeout_error(operation, deadline);
        // Dropped before the response (the caller gave up on the future),
        // the request is abandoned as on a timeout.
        let mut guard = Abandon {
            shared: self,
            ticket: Some(ticket),
        };
        let mut rx = rx;
        if let (false, Some(mut irx)) = (secondaries.is_empty(), interim) {
            // The interim response, or the end of the transaction (an
            // error response), or the time limit.
            let interim_came = tokio::select! {
                biased;
                r = &mut rx => return r.unwrap_or(Err(Error::NotConnected)),
                i = &mut irx => i.is_ok(),
                () = tokio::time::sleep_until(deadline) => false,
            };
            if interim_came {
                self.send_secondaries(ticket.mid, secondaries)?;
            }
        }
        match tokio::time::timeout_at(deadline, &mut rx).await {
            Ok(Ok(r)) => {
                guard.ticket = None;
                r
            }
            Ok(Err(_)) => Err(Error::NotConnected),
            Err(_) => {
                if guard.give_up() {
                    return Err(timeout());
                }
                // The reader removed the MID and answered under the lock
                // just as the time ran out: the answer is there.
                match rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => Err(timeout()),
                }
            }
        }
    }

    /// Gives up on the request of `ticket`: if its response has not come,
    /// its MaxMpxCount slot and MID stay taken until it does (or the
    /// connection goes), since the server still works on it. Returns true
    /// if the response had not come.
    fn abandon(&self, ticket: Ticket) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // The MID of an answered request may already be another's.
        if st
            .pending
            .get(&ticket.mid)
            .is_none_or(|p| p.serial != ticket.serial)
        {
            return false;
        }
        let Some(p) = st.pending.remove(&ticket.mid) else {
            return false;
        };
        let asm = match p.waiter {
            Waiter::One(_) => None,
            Waiter::Trans { asm, .. } => Some(asm),
        };
        st.abandoned.insert(
            ticket.mid,
            Abandoned {
                _slot: p.slot,
                seq: p.seq,
                command: p.command,
                asm,
            },
        );
        true
    }

    /// Takes a MaxMpxCount slot and a MID, builds, signs and queues the
    /// request with `waiter` registered for its response; the slot goes
    /// with the registration, and is freed when the response has come. A transaction
    /// request (`trans`) larger than the server's MaxBufferSize is split:
    /// the primary request goes now, the secondary ones are returned.
    #[allow(clippy::too_many_arguments)]
    async fn enqueue(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer),
        tail: Bytes,
        mut waiter: Waiter,
        trans: bool,
    ) -> Result<(Ticket, Vec<Vec<u8>>), Error> {
        if self.is_closed() {
            return Err(Error::NotConnected);
        }
        let slot = tokio::time::timeout_at(deadline, Arc::clone(&self.mpx).acquire_owned())
            .await
            .map_err(|_| timeout_error(operation, deadline))?
            .map_err(|_| Error::NotConnected)?;
        let mut secondaries: Vec<Vec<u8>> = Vec::new();
        let ticket = {
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
                    | if s.signer.is_some() || s.offer_signing {
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
            if trans && self.max_request > 0 {
                if let Some(split) = split_request(&msg, self.max_request)
                    .map_err(|e| Error::InvalidArgument(format!("{operation}: {e}")))?
                {
                    msg = split.primary;
                    secondaries = split.secondaries;
                }
            }
            if secondaries.is_empty() {
                if let Waiter::Trans { interim, .. } = &mut waiter {
                    *interim = None;
                }
            }
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
            let serial = s.next_serial;
            s.next_serial += 1;
            s.pending.insert(
                mid,
                Pending {
                    waiter,
                    seq: seq.wrapping_add(1),
                    command,
                    serial,
                    slot,
                },
            );
            if self.tx.send(out).is_err() {
                s.pending.remove(&mid);
                return Err(Error::NotConnected);
            }
            Ticket { mid, serial }
        };
        Ok((ticket, secondaries))
    }

    /// Sends the secondary requests of the transaction `mid` after its
    /// interim response. Each takes two sequence numbers, as any request
    /// does, though none is answered (Samba counts them so: only NT_CANCEL
    /// is one-way for it); the transaction's response then carries the
    /// last one's number + 1.
    fn send_secondaries(&self, mid: u16, secondaries: Vec<Vec<u8>>) -> Result<(), Error> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.pending.contains_key(&mid) {
            // Answered (or failed) meanwhile.
            return Ok(());
        }
        let signer = s.signer.clone();
        let mut last = None;
        for mut msg in secondaries {
            if let Some(signer) = &signer {
                let seq = s.seq;
                signer.sign(&mut msg, seq);
                s.seq = seq.wrapping_add(2);
                last = Some(seq);
            }
            if self
                .tx
                .send(Outgoing::with_tail(msg, Bytes::new())?)
                .is_err()
            {
                return Err(Error::NotConnected);
            }
        }
        if let (Some(last), Some(p)) = (last, s.pending.get_mut(&mid)) {
            p.seq = last.wrapping_add(1);
        }
        Ok(())
    }

    /// Handles one message from the server. An error return closes the
    /// connection. Returns the tree and FID of a file that a timed-out
    /// NT_CREATE_ANDX opened after all, for the caller to close.
    fn route(&self, msg: Bytes) -> Result<Option<(u16, u16)>, Error> {
        let mut header =
            Header::decode(&msg).map_err(|e| ProtocolError::decode("SMB1 header", e))?;
        if header.flags2 & flags2::NT_STATUS == 0 && header.status.0 != 0 {
            // A DOS error class and code (MS-CIFS §2.2.2.4): callers see
            // the NT status it stands for.
            let (class, code) = smbkit_proto::smb1::dos_error::split(header.status.0);
            header.status = smbkit_proto::smb1::dos_error::to_nt_status(class, code);
        }
        if !header.is_reply() {
            // An oplock break request (exempt from signing, MS-CIFS
            // §3.2.5.1.2): nothing here asks for oplocks.
            tracing::debug!(
                command = header.command,
                "ignored an SMB1 request from the server"
            );
            return Ok(None);
        }
        let mid = header.mid;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let signer = s.signer.clone();
        if let Some(mut a) = s.abandoned.remove(&mid) {
            // The (late) response of a request given up on.
            if let Some(signer) = &signer {
                if !signer.verify(&msg, a.seq) {
                    return Err(bad_signature(&header));
                }
            }
            if let Some(mut asm) = a.asm.take() {
                let more = TransResponsePart::decode(&msg)
                    .ok()
                    .and_then(|part| asm.add(&msg, &part).ok())
                    .is_some_and(|done| done.is_none());
                if more {
                    a.asm = Some(asm);
                    s.abandoned.insert(mid, a);
                    return Ok(None);
                }
            }
            if s.abandoned.is_empty() {
                self.drained.notify_waiters();
            }
            return Ok(late_open(&header, &msg, a.command));
        }
        let Some(p) = s.pending.remove(&mid) else {
            tracing::debug!(mid, "SMB1 response nobody waits for");
            return Ok(None);
        };
        if let Some(signer) = &signer {
            // MS-CIFS §3.2.5.1.2: a message whose signature does not verify
            // is discarded, and the client SHOULD disconnect: a forged or
            // replayed message, or sequence numbers out of step, make every
            // later message suspect too.
            if !signer.verify(&msg, p.seq) {
                let e = bad_signature(&header);
                p.waiter.fail(bad_signature(&header));
                return Err(e);
            }
        }
        if header.command != p.command {
            p.waiter.fail(
                ProtocolError::Unexpected(format!(
                    "the response to SMB1 command {:#04x} carries command {:#04x}",
                    p.command, header.command
                ))
                .into(),
            );
            return Ok(None);
        }
        // The slot is freed as `rest` goes out of scope, unless a
        // transaction waits for more of its response.
        let Pending {
            waiter,
            seq,
            command,
            serial,
            slot,
        } = p;
        let rest = PendingRest {
            seq,
            command,
            serial,
            slot,
        };
        match waiter {
            Waiter::One(tx) => {
                let _ = tx.send(Ok(Resp1 { header, msg }));
            }
            Waiter::Trans {
                tx,
                asm,
                parts,
                interim: Some(itx),
            } if is_interim(&header, &msg) => {
                // MS-CIFS §3.3.5.x: the server has taken the primary
                // request and waits for the secondary ones.
                let _ = itx.send(());
                s.pending
                    .insert(mid, Pending::trans_continued(tx, asm, parts, rest));
            }
            Waiter::Trans { tx, asm, parts, .. } => match trans_part(header, &msg, asm, parts) {
                PartOutcome::More(asm, parts) => {
                    s.pending
                        .insert(mid, Pending::trans_continued(tx, asm, parts, rest));
                }
                PartOutcome::Done(r) => {
                    let _ = tx.send(r);
                }
            },
        }
        Ok(None)
    }
}

/// The tree and FID of the file a timed-out NT_CREATE_ANDX opened, when
/// `msg` is its (verified) successful response: nobody will close it
/// otherwise, and the open would hold the file until the connection ends.
fn late_open(header: &Header, msg: &[u8], request_command: u8) -> Option<(u16, u16)> {
    use smbkit_proto::smb1::create::NtCreateAndxResponse;
    if request_command != command::NT_CREATE_ANDX
        || header.command != command::NT_CREATE_ANDX
        || header.status != NtStatus::SUCCESS
    {
        return None;
    }
    let fid = NtCreateAndxResponse::decode(msg).ok()?.fid;
    Some((header.tid, fid))
}

/// Closes the file a timed-out NT_CREATE_ANDX opened after all.
fn close_late_open(shared: Arc<Smb1Shared>, tid: u16, fid: u16) {
    tracing::debug!(fid, "closing the file of an NT_CREATE_ANDX that timed out");
    tokio::spawn(async move {
        let req = smbkit_proto::smb1::close::CloseRequest {
            fid,
            last_time_modified: smbkit_proto::smb1::close::KEEP_LAST_TIME_MODIFIED,
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        let _ = shared
            .request(command::CLOSE, tid, deadline, "CLOSE", |w| req.encode(w))
            .await;
    });
}

/// Whether `msg` is an interim response to a primary transaction request: a
/// success without parameter words or bytes (MS-CIFS §2.2.4.33.2:
/// "Interim Response ... WordCount 0x00 ... ByteCount 0x0000").
fn is_interim(header: &Header, msg: &[u8]) -> bool {
    !header.status.is_error()
        && msg.len() >= HEADER_LEN + 3
        && msg[HEADER_LEN..HEADER_LEN + 3] == [0, 0, 0]
}

/// The error of a response whose signature does not verify.
fn bad_signature(header: &Header) -> Error {
    ProtocolError::BadSignature {
        command: format!("SMB1 {:#04x} (MID {})", header.command, header.mid),
    }
    .into()
}

/// Adds one message of a transaction response to `asm`, which has taken
/// `parts` messages so far.
fn trans_part(header: Header, msg: &[u8], mut asm: TransAssembler, parts: usize) -> PartOutcome {
    let part = match TransResponsePart::decode(msg) {
        Ok(part) => part,
        // An error response without the transaction words (WordCount 0).
        Err(_) if header.status.is_error() && parts == 0 => {
            return PartOutcome::Done(Ok(TransResp1 {
                header,
                parameters: Vec::new(),
                data: Vec::new(),
                parts: 1,
            }))
        }
        Err(e) => {
            return PartOutcome::Done(Err(ProtocolError::decode("transaction response", e).into()))
        }
    };
    if parts > 0 && part.parameters.is_empty() && part.data.is_empty() {
        // Every further message must bring bytes: no endless stream of
        // empty parts.
        return PartOutcome::Done(Err(ProtocolError::Unexpected(
            "a transaction response part without parameters or data".into(),
        )
        .into()));
    }
    match asm.add(msg, &part) {
        Ok(Some((parameters, data))) => PartOutcome::Done(Ok(TransResp1 {
            header,
            parameters,
            data,
            parts: parts + 1,
        })),
        Ok(None) => PartOutcome::More(asm, parts + 1),
        Err(e) => PartOutcome::Done(Err(
            ProtocolError::decode("transaction response part", e).into()
        )),
    }
}

fn timeout_error(operation: &'static str, deadline: Instant) -> Error {
    Error::Timeout {
        operation,
        after: deadline.saturating_duration_since(Instant::now()),
    }
}

/// A request sent with [`Smb1Shared::send`] whose response is still to
/// come. Its MaxMpxCount slot is the server's until the response arrives;
/// dropped before that (given up on, or timed out), the request is
/// abandoned (see [`Smb1Shared::abandon`]).
pub(crate) struct Sent1<'a> {
    guard: Abandon<'a>,
    rx: oneshot::Receiver<Result<Resp1, Error>>,
    deadline: Instant,
    operation: &'static str,
}

impl Sent1<'_> {
    /// Waits for the response (until the request's deadline); its
    /// signature is verified when signing is active.
    pub(crate) async fn response(mut self) -> Result<Resp1, Error> {
        match tokio::time::timeout_at(self.deadline, &mut self.rx).await {
            Ok(Ok(r)) => {
                self.guard.ticket = None;
                r
            }
            Ok(Err(_)) => Err(Error::NotConnected),
            Err(_) => match self.rx.try_recv() {
                // Answered just as the time ran out.
                Ok(r) => r,
                Err(_) => Err(timeout_error(self.operation, self.deadline)),
            },
        }
    }
}

/// A request's MID and [`Pending::serial`]: which request to give up on.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    mid: u16,
    serial: u64,
}

/// Abandons a request (see [`Smb1Shared::abandon`]) when dropped before
/// its response came.
struct Abandon<'a> {
    shared: &'a Smb1Shared,
    /// `None` once the response has been taken.
    ticket: Option<Ticket>,
}

impl Abandon<'_> {
    /// Abandons the request now; true if its response had not come.
    fn give_up(&mut self) -> bool {
        self.ticket
            .take()
            .is_some_and(|ticket| self.shared.abandon(ticket))
    }
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.give_up();
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
            Ok(f) if f.len() >= 4 && f[..4] == header::PROTOCOL_ID => match s.route(f) {
                Ok(None) => {}
                Ok(Some((tid, fid))) => close_late_open(s, tid, fid),
                Err(e) => {
                    tracing::warn!(error = %e, "closing the SMB1 connection");
                    s.shut_down(&e.to_string());
                    return;
                }
            },
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
    stop: Arc<Notify>,
    shared: std::sync::Weak<Smb1Shared>,
) {
    let mut wr = tokio::io::BufWriter::with_capacity(256 * 1024, wr);
    loop {
        let frame = tokio::select! {
            f = rx.recv() => f,
            () = stop.notified() => None,
        };
        let Some(frame) = frame else { break };
        let res = crate::driver::write_batch(&mut wr, &frame, || rx.try_recv().ok()).await;
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
    use smbkit_proto::smb1::trans::TransResponseFragment;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    fn header(cmd: u8, status: NtStatus) -> Header {
        Header {
            command: cmd,
            status,
            flags: flags::REPLY,
            flags2: flags2::UNICODE | flags2::NT_STATUS,
            pid_high: 0,
            security_features: [0; 8],
            tid: 1,
            pid_low: 0xFEFF,
            uid: 1,
            mid: 7,
        }
    }

    fn message(cmd: u8, status: NtStatus, frag: &TransResponseFragment<'_>) -> Vec<u8> {
        let mut w = Writer::new();
        header(cmd, status).encode(&mut w);
        if cmd == command::NT_TRANSACT {
            frag.encode_nt(&mut w);
        } else {
            frag.encode(&mut w);
        }
        w.into_vec()
    }

    /// Feeds `msgs` one by one as the reader task does.
    fn feed(cmd: u8, status: NtStatus, msgs: &[Vec<u8>], limit: u32) -> Result<TransResp1, Error> {
        let mut asm = TransAssembler::with_limit(limit);
        let mut parts = 0;
        for (i, m) in msgs.iter().enumerate() {
            match trans_part(header(cmd, status), m, asm, parts) {
                PartOutcome::More(a, p) => {
                    assert!(i + 1 < msgs.len(), "incomplete after the last part");
                    asm = a;
                    parts = p;
                }
                PartOutcome::Done(r) => {
                    assert_eq!(i + 1, msgs.len(), "done before the last part");
                    return r;
                }
            }
        }
        unreachable!("no messages")
    }

    #[test]
    fn parts_are_put_together_in_any_order() {
        let params: Vec<u8> = (0..10).collect();
        let data: Vec<u8> = (0..3000u32).map(|v| v as u8).collect();
        for cmd in [
            command::TRANSACTION,
            command::TRANSACTION2,
            command::NT_TRANSACT,
        ] {
            fn frag<'a>(pd: u32, p: &'a [u8], dd: u32, d: &'a [u8]) -> TransResponseFragment<'a> {
                TransResponseFragment {
                    total_parameter_count: 10,
                    total_data_count: 3000,
                    parameter_displacement: pd,
                    data_displacement: dd,
                    setup: &[],
                    parameters: p,
                    data: d,
                }
            }
            let st = NtStatus::BUFFER_OVERFLOW;
            let m1 = message(cmd, st, &frag(0, &params, 0, &data[..1000]));
            let m2 = message(cmd, st, &frag(10, &[], 1000, &data[1000..2500]));
            let m3 = message(cmd, st, &frag(10, &[], 2500, &data[2500..]));
            for order in [[&m1, &m2, &m3], [&m3, &m1, &m2]] {
                let msgs: Vec<Vec<u8>> = order.iter().map(|m| (*m).clone()).collect();
                let r = feed(cmd, st, &msgs, 0xFFFF).unwrap();
                assert_eq!(
                    (r.parameters.as_slice(), r.data.as_slice()),
                    (&params[..], &data[..])
                );
                assert_eq!(r.parts, 3);
                assert_eq!(r.header.status, st);
            }
            // A part beyond the limit, and a part that repeats bytes.
            let e = feed(cmd, st, std::slice::from_ref(&m1), 2999).unwrap_err();
            assert!(matches!(e, Error::Protocol(_)), "{e:?}");
            let e = feed(cmd, st, &[m1.clone(), m1.clone()], 0xFFFF).unwrap_err();
            assert!(matches!(e, Error::Protocol(_)), "{e:?}");
            // A further part that brings nothing.
            let empty = message(cmd, st, &frag(10, &[], 1000, &[]));
            let e = feed(cmd, st, &[m1.clone(), empty], 0xFFFF).unwrap_err();
            assert!(e.to_string().contains("without parameters or data"), "{e}");
        }
    }

    #[test]
    fn an_error_without_words_ends_the_response() {
        let mut w = Writer::new();
        header(command::TRANSACTION2, NtStatus::OBJECT_NAME_NOT_FOUND).encode(&mut w);
        w.u8(0).u16(0);
        let msg = w.into_vec();
        let r = feed(
            command::TRANSACTION2,
            NtStatus::OBJECT_NAME_NOT_FOUND,
            std::slice::from_ref(&msg),
            0xFFFF,
        )
        .unwrap();
        assert_eq!(r.header.status, NtStatus::OBJECT_NAME_NOT_FOUND);
        assert!(r.parameters.is_empty() && r.data.is_empty());
        // A success without words is malformed.
        let e = feed(command::TRANSACTION2, NtStatus::SUCCESS, &[msg], 0xFFFF).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    }

    // Slots of requests given up on.

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
        let (s, tasks) = Smb1Shared::start(rd, wr, 1, 0, flags2::NT_STATUS, 1);
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

    #[tokio::test]
    async fn a_slot_is_free_once_answered_though_the_response_is_not_taken() {
        // One task sends a request, then a second one before it looks at
        // the first's response, as an upload keeping writes in flight
        // does: with MaxMpxCount 1, the second goes out once the first is
        // answered.
        let (s, _tasks, mut seen, mut wr) = one_slot().await;
        let later = Instant::now() + Duration::from_secs(5);
        let first = s
            .send(command::ECHO, 0, later, "echo", echo, Bytes::new())
            .await
            .unwrap();
        let h1 = seen.recv().await.unwrap();
        let peer = tokio::spawn(async move {
            // Not sent before the first is answered.
            let early = tokio::time::timeout(Duration::from_millis(200), seen.recv()).await;
            assert!(early.is_err(), "the second request took a slot in use");
            let mid1 = h1.mid;
            answer(&mut wr, h1).await;
            let h2 = seen.recv().await.unwrap();
            let mid2 = h2.mid;
            answer(&mut wr, h2).await;
            (mid1, mid2)
        });
        let second = s
            .send(command::ECHO, 0, later, "echo", echo, Bytes::new())
            .await
            .unwrap();
        let (mid1, mid2) = peer.await.unwrap();
        assert_eq!(first.response().await.unwrap().header.mid, mid1);
        assert_eq!(second.response().await.unwrap().header.mid, mid2);
    }
}
