//! The SMB1 (NT LM 0.12) connection state machine (MS-CIFS §3.2, MS-SMB
//! §3.2).
//!
//! [`Smb1Connection`] owns what the client decides about an SMB1
//! connection once NEGOTIATE has settled on NT LM 0.12: multiplex ids
//! (MIDs), the MaxMpxCount window, MD5 signing with sequence numbers
//! (MS-CIFS §3.1.4.1), request/response matching, multi-part transaction
//! responses and secondary transaction requests, deadlines, requests given
//! up on, and the closing of files an NT_CREATE_ANDX given up on opened
//! after all. It has the shape of [`Smb2Connection`](super::Smb2Connection):
//! frames and time in, frames, events and the next deadline out, requests
//! started and withdrawn by [`RequestId`].
//!
//! MaxMpxCount (MS-CIFS §2.2.4.52.2) counts the requests the server has not
//! answered: a request's slot is taken when it is sent and freed when the
//! last message of its response arrives, whether or not anybody still
//! waits for it. A request that finds every slot taken waits in a queue,
//! so any number of requests can be started at once, even against a
//! server that allows one (impacket's).

#[cfg(test)]
mod error_tests;
mod handshake;
#[cfg(test)]
mod notify_tests;
#[cfg(test)]
mod tests;

pub use handshake::{Smb1Established, Smb1Setup};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::book::{Book, Events, Owner};
use super::liveness::{Liveness, Verdict, Watch};
use super::{
    earliest, CommandCode, ConnError, InvalidRequest, RequestId, Transmit, UnexpectedMessage,
    Violation,
};
use crate::smb1::header::{command, flags, flags2, Header, HEADER_LEN, PROTOCOL_ID};
use crate::smb1::signing::Smb1Signer;
use crate::smb1::trans::{split_request, TransAssembler, TransResponsePart};
use crate::{NtStatus, Writer};

/// How long the connection gives a CLOSE of its own before it forgets it.
const INTERNAL_CLOSE_LIMIT: Duration = Duration::from_secs(30);

/// The settings NEGOTIATE decided.
#[derive(Debug, Clone, Copy)]
pub struct Smb1Config {
    /// The server's MaxMpxCount: requests it takes at once (at least 1).
    pub max_mpx: u16,
    /// The server's MaxBufferSize: a transaction request larger than this
    /// goes as a primary request and secondary ones (0: no limit).
    pub max_buffer: u32,
    /// FLAGS2 of every request.
    pub flags2: u16,
    /// The MID of the first request (after those the handshake used).
    pub first_mid: u16,
}

/// What a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One response message.
    One,
    /// A TRANSACTION, TRANSACTION2 or NT_TRANSACT response, in as many
    /// messages as the server sends, whose totals may not exceed `limit`
    /// bytes (what the request's MaxParameterCount / MaxDataCount allow).
    Trans {
        /// The most bytes of parameters or data accepted.
        limit: u32,
    },
}

/// A request to send.
#[derive(Debug)]
pub struct Request {
    /// The command.
    pub command: u8,
    /// The TID.
    pub tid: u16,
    /// [`HEADER_LEN`] bytes of room for the header (which the connection
    /// writes), then the parameter words and bytes.
    pub msg: Vec<u8>,
    /// Bytes sent right after the message, as part of it (WRITE_ANDX
    /// data); covered by the signature without being copied.
    pub tail: Bytes,
    /// One message back, or a transaction.
    pub kind: Kind,
    /// When to give up.
    pub deadline: Instant,
    /// What the request does, for errors.
    pub operation: &'static str,
}

impl Request {
    /// A request for one response, its body written by `encode`; a value
    /// the body cannot carry is an [`EncodeError`](crate::EncodeError).
    pub fn new(
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer) -> Result<(), crate::EncodeError>,
    ) -> Result<Request, crate::EncodeError> {
        let mut w = Writer::new();
        w.zeros(HEADER_LEN);
        encode(&mut w)?;
        Ok(Request {
            command,
            tid,
            msg: w.into_vec(),
            tail: Bytes::new(),
            kind: Kind::One,
            deadline,
            operation,
        })
    }
}

/// One response message, verified.
#[derive(Debug, Clone)]
pub struct Response {
    /// The decoded header (a DOS error already turned into its NT status).
    pub header: Header,
    /// The whole message.
    pub msg: Bytes,
}

/// A whole transaction response: the parameters and data of every message
/// the server sent for the request, put together (MS-CIFS §3.2.5.x, each
/// message placing its bytes with ParameterDisplacement and
/// DataDisplacement).
#[derive(Debug, Clone)]
pub struct TransResponse {
    /// The header of the last message; its status is the transaction's.
    pub header: Header,
    /// Trans_Parameters, complete.
    pub parameters: Vec<u8>,
    /// Trans_Data, complete.
    pub data: Vec<u8>,
    /// How many messages carried the response.
    pub parts: usize,
}

impl TransResponse {
    /// True if the response's strings are Unicode.
    pub fn unicode(&self) -> bool {
        self.header.flags2 & flags2::UNICODE != 0
    }
}

/// What a request got.
#[derive(Debug, Clone)]
pub enum Reply {
    /// For [`Kind::One`].
    One(Response),
    /// For [`Kind::Trans`].
    Trans(TransResponse),
}

/// What the connection tells its driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The session setup is done (for a connection made with
    /// [`Smb1Connection::with_session_setup`]): requests are taken.
    Established(Smb1Established),
    /// A request finished.
    Completed {
        /// The request.
        id: RequestId,
        /// Its reply, or why not.
        result: Result<Reply, ConnError>,
    },
    /// The connection is closed; every waiting request has had its
    /// [`Event::Completed`].
    Closed(ConnError),
}

impl Events for Event {
    type Output = Reply;
    fn completed(id: RequestId, result: Result<Reply, ConnError>) -> Self {
        Event::Completed { id, result }
    }
    fn closed(reason: ConnError) -> Self {
        Event::Closed(reason)
    }
}

/// Where an SMB1 request stands.
#[derive(Debug)]
struct Stage {
    /// Not sent yet.
    queued: Option<Request>,
    /// Sent with this MID.
    mid: Option<u16>,
    /// Started with [`Smb1Connection::start_open_ended`].
    open_ended: bool,
}

/// How the response to a MID is being put together.
#[derive(Debug)]
enum Assembly {
    One,
    Trans {
        asm: Box<TransAssembler>,
        parts: usize,
        /// Secondary requests to send once the interim response to the
        /// primary one comes (MS-CIFS §3.2.4.1.x).
        secondaries: Vec<Vec<u8>>,
    },
}

/// A sent request whose response has not (completely) arrived. It holds
/// one MaxMpxCount slot.
#[derive(Debug)]
struct Pending {
    /// `None` once given up on: the response is absorbed when it comes.
    request: Option<RequestId>,
    /// The request it was, given up on or not.
    started_as: RequestId,
    tid: u16,
    /// The sequence number every message of its response carries.
    seq: u32,
    command: u8,
    assembly: Assembly,
    /// The server may hold it as long as it likes (see
    /// [`Smb1Connection::start_open_ended`]): it owes no answer to it.
    open_ended: bool,
}

/// The SMB1 connection state machine. See the [module docs](self).
pub struct Smb1Connection {
    config: Smb1Config,
    next_mid: u16,
    /// The sequence number of the next request (MS-CIFS §3.1.4.1).
    seq: u32,
    signer: Option<Smb1Signer>,
    offer_signing: bool,
    uid: u16,
    book: Book<Stage, Event>,
    pending: HashMap<u16, Pending>,
    /// Dead-peer detection and keep-alive ([`super::liveness`]); its clock
    /// starts with the first time the connection is told.
    watch: Option<Watch>,
    /// The keep-alive ECHO out, if any.
    probe: Option<RequestId>,
    /// The session setup, while it runs.
    handshake: Option<handshake::Handshake1>,
}

impl std::fmt::Debug for Smb1Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smb1Connection")
            .field("config", &self.config)
            .field("requests", &self.book.requests.len())
            .field("pending", &self.pending.len())
            .field("closed", &self.book.closed)
            .finish_non_exhaustive()
    }
}

impl Smb1Connection {
    /// A connection over which NEGOTIATE chose NT LM 0.12.
    pub fn new(config: Smb1Config) -> Smb1Connection {
        Smb1Connection {
            next_mid: config.first_mid,
            config,
            seq: 0,
            signer: None,
            offer_signing: false,
            uid: 0,
            book: Book::default(),
            pending: HashMap::new(),
            watch: None,
            probe: None,
            handshake: None,
        }
    }

    /// The FLAGS2 every request carries.
    pub fn flags2(&self) -> u16 {
        self.config.flags2
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.book.closed.is_some()
    }

    /// Sets the session's UID for later requests.
    pub fn set_uid(&mut self, uid: u16) {
        self.uid = uid;
    }

    /// Whether requests sent before signing starts carry
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE (with a zero signature): a client
    /// that can sign says so in its SESSION_SETUP_ANDX (MS-CIFS §2.2.3.1).
    pub fn offer_signing(&mut self, on: bool) {
        self.offer_signing = on;
    }

    /// Starts signing with `signer`; the next request gets sequence number
    /// `next_seq` (MS-CIFS §3.2.4.1.1: the session setup that established
    /// the key used 0 and its response 1).
    pub fn activate_signing(&mut self, signer: Smb1Signer, next_seq: u32) {
        self.signer = Some(signer);
        self.seq = next_seq;
    }

    /// True once messages are signed.
    pub fn signing(&self) -> bool {
        self.signer.is_some()
    }

    /// The server's MaxMpxCount slots in use: requests sent whose response
    /// has not completely arrived, given-up ones included.
    pub fn slots_in_use(&self) -> usize {
        self.pending.len()
    }

    /// Requests started and not completed, queued ones included.
    pub fn requests_outstanding(&self) -> usize {
        self.book.user_requests()
    }

    /// True while requests given up on wait for their responses.
    pub fn has_abandoned(&self) -> bool {
        self.pending.values().any(|p| p.request.is_none())
    }

    fn slots(&self) -> usize {
        usize::from(self.config.max_mpx.clamp(1, 256))
    }

    /// Starts a request: it is sent when a MaxMpxCount slot is free, and
    /// ends with one [`Event::Completed`] (none after
    /// [`Smb1Connection::cancel`]).
    pub fn start(&mut self, req: Request, now: Instant) -> Result<RequestId, ConnError> {
        if self.book.closed.is_none() && self.handshake.is_some() {
            return Err(InvalidRequest::Authenticating.into());
        }
        self.start_owned(req, Owner::User, now)
    }

    /// True once the session setup (if any) is done and requests are
    /// taken.
    pub fn is_established(&self) -> bool {
        self.handshake.is_none() && self.book.closed.is_none()
    }

    /// Starts a request nobody waits for (a CLOSE on behalf of a caller
    /// that has gone): it runs to its end or its deadline on its own.
    pub fn start_detached(&mut self, req: Request, now: Instant) -> Result<(), ConnError> {
        self.start_owned(req, Owner::Internal, now).map(|_| ())
    }

    /// Starts a request that the server may hold for as long as it likes:
    /// an NT_TRANSACT_NOTIFY_CHANGE, which "MUST NOT be completed until" a
    /// change happens or it is cancelled (MS-CIFS §3.2.4.39), hours later
    /// perhaps. SMB1 has no interim response, so `req.deadline` bounds only
    /// the wait for a MaxMpxCount slot: once sent, the request has no
    /// deadline, and the server owes no answer to it, so it never makes the
    /// connection look dead ([`super::liveness`]; a keep-alive ECHO still
    /// notices a server that went away). It holds its slot until answered.
    /// [`Smb1Connection::cancel`] withdraws it with SMB_COM_NT_CANCEL
    /// (MS-CIFS §3.2.4.28), which makes the server answer it.
    pub fn start_open_ended(&mut self, req: Request, now: Instant) -> Result<RequestId, ConnError> {
        if self.book.closed.is_none() && self.handshake.is_some() {
            return Err(InvalidRequest::Authenticating.into());
        }
        self.start_with(req, Owner::User, true, now)
    }

    fn start_owned(
        &mut self,
        req: Request,
        owner: Owner,
        now: Instant,
    ) -> Result<RequestId, ConnError> {
        self.start_with(req, owner, false, now)
    }

    fn start_with(
        &mut self,
        req: Request,
        owner: Owner,
        open_ended: bool,
        now: Instant,
    ) -> Result<RequestId, ConnError> {
        if self.book.closed.is_some() {
            return Err(ConnError::NotConnected);
        }
        if req.msg.len() < HEADER_LEN {
            return Err(InvalidRequest::NoRoomForHeader.into());
        }
        let (operation, deadline) = (req.operation, req.deadline);
        let stage = Stage {
            queued: Some(req),
            mid: None,
            open_ended,
        };
        let id = self.book.add(owner, operation, deadline, now, stage);
        self.pump(now);
        Ok(id)
    }

    /// Lets a request run to its end without anybody waiting for it: no
    /// [`Event::Completed`] follows, but it is not withdrawn either (for a
    /// CLOSE, a TREE_DISCONNECT or a LOGOFF whose caller has gone: the
    /// server must still get it). Unknown or finished ids are ignored.
    pub fn detach(&mut self, id: RequestId) {
        self.book.detach(id);
    }

    /// Withdraws a request whose result is no longer wanted. A queued one
    /// is forgotten; a sent one keeps its slot and MID until the server
    /// answers (the server still works on it), and its answer is absorbed.
    pub fn cancel(&mut self, id: RequestId) {
        let queued = self
            .book
            .requests
            .get(&id)
            .is_some_and(|r| r.stage.queued.is_some());
        if let Some(r) = self.book.remove(id, queued) {
            if r.stage.open_ended {
                if let Some(mid) = r.stage.mid {
                    self.send_nt_cancel(mid);
                }
            }
            self.give_up(r.stage.mid);
        }
    }

    /// Asks the server to complete the request it holds under `mid` at
    /// once (SMB_COM_NT_CANCEL, MS-CIFS §2.2.4.65): the same UID, TID, PID
    /// and MID, no words, no bytes, and no response. Signed, it takes one
    /// sequence number (nothing answers it), as Windows and Samba count.
    fn send_nt_cancel(&mut self, mid: u16) {
        let Some(p) = self.pending.get(&mid) else {
            return;
        };
        if self.book.closed.is_some() {
            return;
        }
        let h = self.request_header(command::NT_CANCEL, p.tid, mid);
        let mut w = Writer::new();
        h.encode(&mut w);
        crate::smb1::notify::NtCancelRequest.encode(&mut w);
        let mut msg = w.into_vec();
        if let Some(signer) = &self.signer {
            let seq = self.seq;
            signer.sign(&mut msg, seq);
            self.seq = seq.wrapping_add(1);
        }
        if let Ok(t) = Transmit::new(msg, Bytes::new()) {
            tracing::debug!(mid, "NT_CANCEL");
            self.book.transmits.push_back(t);
        }
    }

    /// Whether the server owes answers: a request is pending that it must
    /// answer promptly (not an open-ended one).
    fn answers_owed(&self) -> bool {
        self.pending.values().any(|p| !p.open_ended)
    }

    /// Absorbs the answer to the request sent with `mid`, when it comes.
    fn give_up(&mut self, mid: Option<u16>) {
        if let Some(p) = mid.and_then(|mid| self.pending.get_mut(&mid)) {
            p.request = None;
        }
    }

    /// Closes the connection: every waiting request fails with
    /// [`ConnError::NotConnected`].
    pub fn close(&mut self) {
        self.shut_down(ConnError::NotConnected);
    }

    /// Closes the connection because the stream failed.
    pub fn handle_stream_error(&mut self, why: &str) {
        tracing::debug!(why, "the SMB1 stream failed");
        self.shut_down(ConnError::NotConnected);
    }

    /// The header of a request of `command` on tree `tid` with `mid`
    /// (MS-CIFS §2.2.3.1): the session's flags, its UID, and the
    /// security-signature flag when the session signs or offers to.
    fn request_header(&self, command: u8, tid: u16, mid: u16) -> Header {
        Header {
            command,
            status: NtStatus::SUCCESS,
            flags: flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
            flags2: self.config.flags2
                | if self.signer.is_some() || self.offer_signing {
                    flags2::SECURITY_SIGNATURE
                } else {
                    0
                },
            pid_high: 0,
            security_features: [0; 8],
            tid,
            pid_low: 0xFEFF,
            uid: self.uid,
            mid,
        }
    }

    fn shut_down(&mut self, reason: ConnError) {
        // The other requests in flight learn only that the connection is
        // gone (the request that met the cause got it itself).
        if !self.book.close(&reason, &ConnError::NotConnected) {
            return;
        }
        tracing::debug!(%reason, "SMB1 connection closed");
        self.pending.clear();
        self.book.push_closed(reason);
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.book.poll_transmit()
    }

    /// True if frames wait in [`Smb1Connection::poll_transmit`].
    pub fn has_transmit(&self) -> bool {
        self.book.has_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.book.poll_event()
    }

    /// When [`Smb1Connection::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let watch = match (&self.watch, self.handshake.is_none()) {
            (Some(w), true) if !self.is_closed() => w.deadline(self.probing()),
            _ => None,
        };
        earliest(self.book.next_deadline(), watch)
    }

    /// Sets how the connection watches the server (off until set; see
    /// [`super::liveness`]).
    pub fn set_liveness(&mut self, liveness: Liveness, now: Instant) {
        let mut w = Watch::new(now);
        w.set(liveness, now);
        w.owed(self.answers_owed(), now);
        self.watch = Some(w);
    }

    /// Tells the connection that bytes arrived at `at` (part of a frame
    /// still being received).
    pub fn handle_activity(&mut self, at: Instant) {
        if let Some(w) = &mut self.watch {
            w.heard(at);
        }
    }

    fn probing(&self) -> bool {
        self.probe
            .is_some_and(|id| self.book.requests.contains_key(&id))
    }

    /// Declares the connection dead, or sends a keep-alive ECHO, when the
    /// watch says so.
    fn check_liveness(&mut self, now: Instant) {
        if self.handshake.is_some() || self.is_closed() {
            return;
        }
        let Some(w) = &self.watch else { return };
        let probe_limit = w.probe_limit();
        match w.check(self.probing(), now) {
            Verdict::Fine => {}
            Verdict::Dead(silent) => {
                tracing::warn!(
                    ?silent,
                    "the SMB1 server has gone silent; closing the connection"
                );
                self.shut_down(ConnError::PeerDead { silent });
            }
            Verdict::Probe => {
                // SMB_COM_ECHO with EchoCount 1 and no data (MS-CIFS
                // §2.2.4.39.1): one reply.
                tracing::trace!("keep-alive ECHO");
                self.probe = self.start_internal(
                    command::ECHO,
                    0,
                    "keep-alive ECHO",
                    now + probe_limit,
                    now,
                    |w| {
                        w.u8(1).u16(1).u16(0);
                    },
                );
            }
        }
    }

    /// Lets time pass: requests past their deadline complete with
    /// [`ConnError::Timeout`]; a sent one keeps its slot until answered.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((id, r)) = self.book.next_expired(now) {
            let timeout = ConnError::Timeout {
                operation: r.operation,
                after: now.saturating_duration_since(r.started),
            };
            let releasing = r.stage.queued.as_ref().is_some_and(|q| releases(q.command));
            if r.owner == Owner::User && releasing {
                // Never sent, so the server still holds what it releases:
                // it stays queued, on the connection's own account, and
                // its caller hears of the timeout.
                self.book.complete(id, r.owner, Err(timeout));
                self.book.keep_internal(id, r, now + INTERNAL_CLOSE_LIMIT);
                continue;
            }
            if r.stage.queued.is_some() {
                self.book.queue.retain(|q| *q != id);
            }
            self.give_up(r.stage.mid);
            match r.owner {
                Owner::User => self.book.complete(id, r.owner, Err(timeout)),
                Owner::Handshake => {
                    let e = match &self.handshake {
                        Some(h) => h.timeout_error(),
                        None => ConnError::NotConnected,
                    };
                    self.shut_down(e);
                    return;
                }
                // SMB1 never re-authenticates on its own.
                Owner::Internal | Owner::Reauth => {}
            }
        }
        self.pump(now);
        self.check_liveness(now);
    }

    /// Sends queued requests while slots are free, in order. A CLOSE waits
    /// while READ_ANDX or WRITE_ANDX requests started before it on the same
    /// tree are pending (queued, in flight or given up on): Samba 4.17's
    /// smbd crashes (close_file_smb) on a CLOSE that arrives while
    /// READ_ANDXs on the file are pending, which a transfer dropped midway
    /// would otherwise cause. Later requests pass a waiting CLOSE.
    fn pump(&mut self, now: Instant) {
        let queued = self.book.transmits.len();
        self.send_queued();
        let owed = self.answers_owed();
        if let Some(w) = &mut self.watch {
            if self.book.transmits.len() != queued {
                w.sent(now);
            }
            w.owed(owed, now);
        }
    }

    fn send_queued(&mut self) {
        // The oldest read or write of each tree, pending or queued; worked
        // out once per call, when a CLOSE is first met (sending requests
        // does not change it: a read sent stays pending).
        let mut first_io: Option<HashMap<u16, RequestId>> = None;
        let mut i = 0;
        while i < self.book.queue.len() {
            if self.book.closed.is_some() || self.pending.len() >= self.slots() {
                return;
            }
            let id = self.book.queue[i];
            if let Some(tid) = self.queued_close(id) {
                let first = first_io.get_or_insert_with(|| self.first_io());
                if first.get(&tid).is_some_and(|io| *io < id) {
                    i += 1;
                    continue;
                }
            }
            self.book.queue.remove(i);
            let Some(req) = self
                .book
                .requests
                .get_mut(&id)
                .and_then(|r| r.stage.queued.take())
            else {
                continue;
            };
            match self.send(id, req) {
                Ok(mid) => {
                    let mut open_ended = false;
                    if let Some(r) = self.book.requests.get_mut(&id) {
                        r.stage.mid = Some(mid);
                        open_ended = r.stage.open_ended;
                    }
                    if open_ended {
                        // Sent: from now on the server answers when it has
                        // something.
                        self.book.lift_deadline(id);
                        if let Some(p) = self.pending.get_mut(&mid) {
                            p.open_ended = true;
                        }
                    }
                }
                Err(e) => {
                    if let Some(r) = self.book.remove(id, false) {
                        self.book.complete(id, r.owner, Err(e));
                    }
                }
            }
        }
    }

    /// The tree of the queued request `id` if it is a CLOSE.
    fn queued_close(&self, id: RequestId) -> Option<u16> {
        let q = self.book.requests.get(&id)?.stage.queued.as_ref()?;
        (q.command == command::CLOSE).then_some(q.tid)
    }

    /// The oldest READ_ANDX or WRITE_ANDX of each tree among the requests
    /// pending (in flight or given up on) and queued (see [`Self::pump`]).
    fn first_io(&self) -> HashMap<u16, RequestId> {
        let io = |c: u8| c == command::READ_ANDX || c == command::WRITE_ANDX;
        let mut first: HashMap<u16, RequestId> = HashMap::new();
        let mut note = |tid: u16, id: RequestId| {
            first
                .entry(tid)
                .and_modify(|f| *f = (*f).min(id))
                .or_insert(id);
        };
        for p in self.pending.values().filter(|p| io(p.command)) {
            note(p.tid, p.started_as);
        }
        for id in &self.book.queue {
            let queued = self
                .book
                .requests
                .get(id)
                .and_then(|r| r.stage.queued.as_ref());
            if let Some(q) = queued.filter(|q| io(q.command)) {
                note(q.tid, *id);
            }
        }
        first
    }

    /// Takes a MID, writes the header, splits a large transaction, signs
    /// and queues the request.
    fn send(&mut self, id: RequestId, req: Request) -> Result<u16, ConnError> {
        let tid = req.tid;
        let mut mid = self.next_mid;
        // 0xFFFF is the server's (oplock breaks); skip ids in use.
        while mid == 0xFFFF || self.pending.contains_key(&mid) {
            mid = mid.wrapping_add(1);
        }
        let h = self.request_header(req.command, req.tid, mid);
        let mut msg = req.msg;
        {
            let mut w = Writer::new();
            h.encode(&mut w);
            msg[..HEADER_LEN].copy_from_slice(w.as_slice());
        }
        let assembly = match req.kind {
            Kind::One => Assembly::One,
            Kind::Trans { limit } => {
                let mut secondaries = Vec::new();
                if self.config.max_buffer > 0 {
                    if let Some(split) = split_request(&msg, self.config.max_buffer as usize)
                        .map_err(InvalidRequest::Unsplittable)?
                    {
                        msg = split.primary;
                        secondaries = split.secondaries;
                    }
                }
                Assembly::Trans {
                    asm: Box::new(TransAssembler::with_limit(limit)),
                    parts: 0,
                    secondaries,
                }
            }
        };
        let seq = self.seq;
        if let Some(signer) = &self.signer {
            // The signature covers the tail, which still goes out from its
            // own buffer.
            signer.sign_with_tail(&mut msg, &req.tail, seq);
            self.seq = seq.wrapping_add(2);
        }
        let t = Transmit::new(msg, req.tail)?;
        self.next_mid = mid.wrapping_add(1);
        self.book.transmits.push_back(t);
        self.pending.insert(
            mid,
            Pending {
                request: Some(id),
                started_as: id,
                tid,
                seq: seq.wrapping_add(1),
                command: req.command,
                assembly,
                open_ended: false,
            },
        );
        Ok(mid)
    }

    /// Sends the secondary requests of the transaction `mid` after its
    /// interim response. Each takes two sequence numbers, as any request
    /// does, though none is answered (Samba counts them so); the
    /// transaction's response then carries the last one's number + 1.
    fn send_secondaries(&mut self, mid: u16, secondaries: Vec<Vec<u8>>) -> Result<(), ConnError> {
        let mut last = None;
        for mut msg in secondaries {
            if let Some(signer) = &self.signer {
                let seq = self.seq;
                signer.sign(&mut msg, seq);
                self.seq = seq.wrapping_add(2);
                last = Some(seq);
            }
            self.book
                .transmits
                .push_back(Transmit::new(msg, Bytes::new())?);
        }
        if let (Some(last), Some(p)) = (last, self.pending.get_mut(&mid)) {
            p.seq = last.wrapping_add(1);
        }
        Ok(())
    }

    /// Takes one received frame. A frame that breaks the protocol (not
    /// SMB1, undecodable, a bad signature) closes the connection.
    pub fn handle_frame(&mut self, frame: Bytes, now: Instant) {
        if self.book.closed.is_some() {
            return;
        }
        if let Some(w) = &mut self.watch {
            w.heard(now);
        }
        if let Err(e) = self.route(frame, now) {
            tracing::warn!(error = %e, "closing the SMB1 connection");
            self.shut_down(e);
            return;
        }
        self.pump(now);
    }

    fn route(&mut self, msg: Bytes, now: Instant) -> Result<(), ConnError> {
        if msg.len() < 4 || msg[..4] != PROTOCOL_ID {
            return Err(Violation::UnexpectedMessage(UnexpectedMessage::NotSmb1).into());
        }
        let mut header = Header::decode(&msg).map_err(|e| Violation::decode("SMB1 header", e))?;
        if header.flags2 & flags2::NT_STATUS == 0 && header.status.0 != 0 {
            // A DOS error class and code (MS-CIFS §2.2.2.4): callers see
            // the NT status it stands for.
            let (class, code) = crate::smb1::dos_error::split(header.status.0);
            header.status = crate::smb1::dos_error::to_nt_status(class, code);
        }
        if !header.is_reply() {
            // An oplock break request (exempt from signing, MS-CIFS
            // §3.2.5.1.2): nothing here asks for oplocks.
            tracing::debug!(
                command = header.command,
                "ignored an SMB1 request from the server"
            );
            return Ok(());
        }
        let mid = header.mid;
        let Some(mut p) = self.pending.remove(&mid) else {
            tracing::debug!(mid, "SMB1 response nobody waits for");
            return Ok(());
        };
        if let Some(signer) = &self.signer {
            // MS-CIFS §3.2.5.1.2: a message whose signature does not
            // verify is discarded, and the client SHOULD disconnect.
            if !signer.verify(&msg, p.seq) {
                let e: ConnError = Violation::BadSignature {
                    command: CommandCode::Smb1(header.command),
                }
                .into();
                if let Some(id) = p.request {
                    self.complete(id, Err(e.clone()), now);
                }
                return Err(e);
            }
        }
        if header.command != p.command {
            if let Some(id) = p.request {
                self.complete(
                    id,
                    Err(
                        Violation::UnexpectedMessage(UnexpectedMessage::WrongCommand {
                            request: CommandCode::Smb1(p.command),
                            response: CommandCode::Smb1(header.command),
                            message_id: u64::from(header.mid),
                        })
                        .into(),
                    ),
                    now,
                );
            }
            return Ok(());
        }
        let assembly = std::mem::replace(&mut p.assembly, Assembly::One);
        match assembly {
            Assembly::One => {
                match p.request {
                    Some(id) => self.complete(id, Ok(Reply::One(Response { header, msg })), now),
                    None => self.undo_late_answer(&header, &msg, p.command, now),
                }
                Ok(())
            }
            Assembly::Trans {
                asm,
                parts,
                secondaries,
            } if !secondaries.is_empty() && is_interim(&header, &msg) => {
                // MS-CIFS §3.3.5.x: the server has taken the primary
                // request and waits for the secondary ones.
                p.assembly = Assembly::Trans {
                    asm,
                    parts,
                    secondaries: Vec::new(),
                };
                let given_up = p.request.is_none();
                self.pending.insert(mid, p);
                if given_up {
                    // Nobody waits: the server is told nothing more; the
                    // transaction's slot stays until it answers or the
                    // connection goes.
                    return Ok(());
                }
                self.send_secondaries(mid, secondaries)
            }
            Assembly::Trans { asm, parts, .. } => {
                match trans_part(header, &msg, asm, parts) {
                    PartOutcome::More(asm, parts) => {
                        p.assembly = Assembly::Trans {
                            asm,
                            parts,
                            secondaries: Vec::new(),
                        };
                        self.pending.insert(mid, p);
                    }
                    PartOutcome::Done(r) => {
                        if let Some(id) = p.request {
                            self.complete(id, r.map(Reply::Trans), now);
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn complete(&mut self, id: RequestId, result: Result<Reply, ConnError>, now: Instant) {
        let Some(r) = self.book.remove(id, false) else {
            return;
        };
        match r.owner {
            Owner::User => self.book.complete(id, r.owner, result),
            Owner::Handshake => {
                if let Err(e) = self.session_setup_answer(result, now) {
                    self.shut_down(e);
                }
            }
            // SMB1 never re-authenticates on its own.
            Owner::Internal | Owner::Reauth => {}
        }
    }

    /// Undoes what a request given up on did after all, from its (late,
    /// verified) answer: closes the file an NT_CREATE_ANDX opened, and
    /// disconnects the tree a TREE_CONNECT_ANDX connected. Nobody would do
    /// it otherwise, and the server would hold them until the connection
    /// ends.
    pub fn undo_late_answer(
        &mut self,
        header: &Header,
        msg: &[u8],
        request_command: u8,
        now: Instant,
    ) {
        use crate::smb1::create::NtCreateAndxResponse;
        if request_command != header.command || header.status.is_error() {
            return;
        }
        match header.command {
            command::NT_CREATE_ANDX => {
                let Ok(create) = NtCreateAndxResponse::decode(msg) else {
                    return;
                };
                tracing::debug!(
                    fid = create.fid,
                    "closing the file of an NT_CREATE_ANDX given up on"
                );
                self.close_file(header.tid, create.fid, now);
            }
            command::TREE_CONNECT_ANDX => {
                tracing::debug!(
                    tid = header.tid,
                    "disconnecting the tree of a TREE_CONNECT_ANDX given up on"
                );
                self.disconnect_tree(header.tid, now);
            }
            _ => {}
        }
    }

    /// Disconnects a tree on the connection's own account.
    pub fn disconnect_tree(&mut self, tid: u16, now: Instant) {
        self.start_internal(
            command::TREE_DISCONNECT,
            tid,
            "TREE_DISCONNECT",
            now + INTERNAL_CLOSE_LIMIT,
            now,
            |w| crate::smb1::logoff::TreeDisconnectRequest.encode(w),
        );
    }

    /// Closes a file on the connection's own account (for a handle whose
    /// owner was dropped), after the reads and writes started before it on
    /// its tree.
    pub fn close_file(&mut self, tid: u16, fid: u16, now: Instant) {
        let req = crate::smb1::close::CloseRequest {
            fid,
            last_time_modified: crate::smb1::close::KEEP_LAST_TIME_MODIFIED,
        };
        self.start_internal(
            command::CLOSE,
            tid,
            "CLOSE",
            now + INTERNAL_CLOSE_LIMIT,
            now,
            |w| req.encode(w),
        );
    }

    /// Starts a request on the connection's own account, whose answer
    /// nobody waits for; its id, unless it could not be started.
    fn start_internal(
        &mut self,
        command: u8,
        tid: u16,
        operation: &'static str,
        deadline: Instant,
        now: Instant,
        encode: impl FnOnce(&mut Writer),
    ) -> Option<RequestId> {
        let req = Request::new(command, tid, deadline, operation, |w| {
            encode(w);
            Ok(())
        })
        .ok()?;
        self.start_owned(req, Owner::Internal, now).ok()
    }
}

/// True for the commands that release something the server holds (a FID,
/// a tree, the session, a search): such a request is sent even once its
/// caller has stopped waiting.
fn releases(command: u8) -> bool {
    matches!(
        command,
        command::CLOSE | command::TREE_DISCONNECT | command::LOGOFF_ANDX | command::FIND_CLOSE2
    )
}

/// Whether `msg` is an interim response to a primary transaction request: a
/// success without parameter words or bytes (MS-CIFS §2.2.4.33.2:
/// "Interim Response ... WordCount 0x00 ... ByteCount 0x0000").
fn is_interim(header: &Header, msg: &[u8]) -> bool {
    !header.status.is_error()
        && msg.len() >= HEADER_LEN + 3
        && msg[HEADER_LEN..HEADER_LEN + 3] == [0, 0, 0]
}

enum PartOutcome {
    More(Box<TransAssembler>, usize),
    Done(Result<TransResponse, ConnError>),
}

/// Adds one message of a transaction response to `asm`, which has taken
/// `parts` messages so far.
fn trans_part(
    header: Header,
    msg: &[u8],
    mut asm: Box<TransAssembler>,
    parts: usize,
) -> PartOutcome {
    let part = match TransResponsePart::decode(msg) {
        Ok(part) => part,
        // An error response without the transaction words (WordCount 0),
        // or the STATUS_NOTIFY_ENUM_DIR of a notify whose changes did not
        // fit ("zero bytes are returned", MS-CIFS §2.2.7.4).
        Err(_)
            if (header.status.is_error() || header.status == NtStatus::NOTIFY_ENUM_DIR)
                && parts == 0 =>
        {
            return PartOutcome::Done(Ok(TransResponse {
                header,
                parameters: Vec::new(),
                data: Vec::new(),
                parts: 1,
            }))
        }
        Err(e) => {
            return PartOutcome::Done(Err(Violation::decode("transaction response", e).into()))
        }
    };
    if parts > 0 && part.parameters.is_empty() && part.data.is_empty() {
        // Every further message must bring bytes: no endless stream of
        // empty parts.
        return PartOutcome::Done(Err(Violation::UnexpectedMessage(
            UnexpectedMessage::EmptyTransactionPart,
        )
        .into()));
    }
    match asm.add(msg, &part) {
        Ok(Some((parameters, data))) => PartOutcome::Done(Ok(TransResponse {
            header,
            parameters,
            data,
            parts: parts + 1,
        })),
        Ok(None) => PartOutcome::More(asm, parts + 1),
        Err(e) => PartOutcome::Done(Err(Violation::decode("transaction response part", e).into())),
    }
}
