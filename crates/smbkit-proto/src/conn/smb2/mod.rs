//! The SMB 2/3 connection state machine (MS-SMB2 §3.2).
//!
//! [`Smb2Connection`] owns everything the client decides about one
//! connection: the handshake ([`handshake`]), message ids and credits
//! (§3.2.4.1.1, §3.2.5.1.4), signing (§3.2.4.1.1, §3.2.5.1.3), encryption
//! and the replay window (§3.2.4.1.8, §3.2.5.1.1.1), request/response
//! matching with interim responses (§3.2.5.1.5), compound chains
//! (§3.2.4.1.4, §3.2.5.1.9), deadlines, CANCEL (§3.2.4.24), the closing
//! of handles that CREATEs given up on opened after all, and the
//! re-authentication of an expired session (§3.2.5.1.7, §3.2.4.2.3,
//! §3.2.5.3.2): a request answered STATUS_NETWORK_SESSION_EXPIRED is held,
//! the session re-authenticated with the configured credentials (nothing
//! else goes out meanwhile), and the request sent again, once; a failed
//! re-authentication fails the held requests and closes the connection.
//!
//! Its life: [`Smb2Connection::new`] queues the first NEGOTIATE; the driver
//! sends what [`Smb2Connection::poll_transmit`] gives, feeds every received
//! frame to [`Smb2Connection::handle_frame`] and the time to
//! [`Smb2Connection::handle_timeout`] when [`Smb2Connection::poll_timeout`]
//! says, and reads [`Event`]s. [`Event::Established`] ends the handshake;
//! from then on [`Smb2Connection::start`] takes requests, each answered by
//! one [`Event::Completed`] unless [`Smb2Connection::cancel`] withdrew it.
//! [`Event::Closed`] is the last event.

#[cfg(test)]
mod error_tests;
pub mod handshake;
#[cfg(test)]
mod notify_tests;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

pub use handshake::{Established, Smb2Config};

use super::book::{Book, Events, Outstanding, Owner};
use super::liveness::{Liveness, Verdict, Watch};
use super::{
    earliest, CommandCode, ConnError, Decryption, InvalidRequest, NoEncryption, NonceWindow,
    RequestId, Transmit, UnexpectedMessage, Violation,
};
use crate::crypto::{Decryptor, Encryptor, Signer};
use crate::smb2::close::CloseRequest;
use crate::smb2::create::{CreateResponse, FileId};
use crate::smb2::header::{self, Header, HEADER_LEN};
use crate::smb2::transform::{frame_kind, FrameKind, NONCE_RANGE};
use crate::smb2::CancelRequest;
use crate::state::Credits;
use crate::{Command, Dialect, NtStatus, Writer};

/// How long the connection gives a CLOSE of its own (for a handle a CREATE
/// given up on opened after all) before it forgets about it.
const INTERNAL_CLOSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One request of a chain, encoded by the caller: [`HEADER_LEN`] bytes of
/// room for the header (which the connection writes), then the body, whose
/// offsets count from the start of the header.
#[derive(Debug, Clone)]
pub struct Part {
    /// The command.
    pub command: Command,
    /// The TreeId (0 for commands outside a tree).
    pub tree_id: u32,
    /// The CreditCharge the request needs (MS-SMB2 §3.1.5.2); 1 for
    /// requests that move at most 64 KiB.
    pub charge: u16,
    /// Header room followed by the body.
    pub msg: Vec<u8>,
}

impl Part {
    /// A part whose body `encode` writes (after the header room); a value
    /// the body cannot carry is an [`EncodeError`](crate::EncodeError).
    pub fn new(
        command: Command,
        tree_id: u32,
        charge: u16,
        encode: impl FnOnce(&mut Writer) -> Result<(), crate::EncodeError>,
    ) -> Result<Part, crate::EncodeError> {
        let mut w = Writer::new();
        w.zeros(HEADER_LEN);
        encode(&mut w)?;
        Ok(Part {
            command,
            tree_id,
            charge,
            msg: w.into_vec(),
        })
    }
}

/// Decrypts received frames with the session's key (MS-SMB2 §3.2.5.1.1.1),
/// without the connection; see [`Smb2Connection::opener`].
#[derive(Clone)]
pub struct Opener {
    decryptor: Option<Arc<Decryptor>>,
}

/// A received frame as [`Opener::open`] left it, for
/// [`Smb2Connection::handle_received`].
pub struct Received(Opened);

enum Opened {
    /// Not encrypted (or not SMB2 at all: the connection decides).
    Plain(BytesMut),
    /// Decrypted and authenticated; its nonce still to be checked.
    Decrypted { plain: Bytes, nonce: [u8; 16] },
    /// Failed to decrypt: closes the connection.
    Failed(ConnError),
}

impl Opener {
    /// Decrypts `frame` in place if it is an encrypted one (a
    /// TRANSFORM_HEADER, its tag, session and nonce checked).
    pub fn open(&self, mut frame: BytesMut) -> Received {
        if frame_kind(&frame) != FrameKind::Transform {
            return Received(Opened::Plain(frame));
        }
        let Some(decryptor) = &self.decryptor else {
            return Received(Opened::Failed(
                Violation::Decryption(Decryption::NoKeys).into(),
            ));
        };
        match decryptor.open(&mut frame) {
            Ok(range) => {
                let mut nonce = [0u8; 16];
                nonce.copy_from_slice(&frame[NONCE_RANGE]);
                Received(Opened::Decrypted {
                    plain: frame.freeze().slice(range),
                    nonce,
                })
            }
            Err(e) => Received(Opened::Failed(
                Violation::Decryption(Decryption::Rejected(e)).into(),
            )),
        }
    }
}

/// Which signing rule a request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signing {
    /// The session's rules (MS-SMB2 §3.2.4.1.1): signed when the session
    /// signs, and TREE_CONNECT always on 3.1.1.
    #[default]
    Session,
    /// Signed whenever the session has a key (FSCTL_VALIDATE_NEGOTIATE_INFO,
    /// MS-SMB2 §3.2.5.5: "the client MUST sign the request").
    Always,
}

/// A request (or compound chain) to send.
#[derive(Debug)]
pub struct Request {
    /// The messages, in order; one for a plain request.
    pub parts: Vec<Part>,
    /// Every part after the first works on the file the first opened
    /// (SMB2_FLAGS_RELATED_OPERATIONS, MS-SMB2 §3.2.4.1.4).
    pub related: bool,
    /// Bytes sent right after the (single) message, as part of it: the
    /// data of a WRITE. Copied only when the message must be signed.
    pub tail: Bytes,
    /// The signing rule.
    pub signing: Signing,
    /// When to give up: the request then completes with
    /// [`ConnError::Timeout`] and is cancelled on the server.
    pub deadline: Instant,
    /// What the request does, for errors (e.g. "read").
    pub operation: &'static str,
}

impl Request {
    /// A single request.
    pub fn single(part: Part, deadline: Instant, operation: &'static str) -> Request {
        Request {
            parts: vec![part],
            related: false,
            tail: Bytes::new(),
            signing: Signing::Session,
            deadline,
            operation,
        }
    }
}

/// One response as the connection delivers it: verified (signature or
/// encryption), of any status.
#[derive(Debug, Clone)]
pub struct Response {
    /// The decoded header.
    pub header: Header,
    /// The whole message (header included), a slice of the received frame.
    pub msg: Bytes,
    /// True if the message arrived encrypted (and so was authenticated by
    /// the cipher's tag rather than by a signature).
    pub encrypted: bool,
}

/// What the connection tells its driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The handshake is done: the session is authenticated and requests
    /// can be started.
    Established(Box<Established>),
    /// The server chose SMB1 (NT LM 0.12) in the multi-protocol NEGOTIATE:
    /// this connection is done, and an SMB1 connection takes the stream
    /// over from here.
    Smb1Negotiated(Box<crate::smb1::negotiate::NegotiateResponse>),
    /// A request finished: its responses in order (one per part), or why
    /// not.
    Completed {
        /// The request.
        id: RequestId,
        /// The outcome.
        result: Result<Vec<Response>, ConnError>,
    },
    /// The connection is closed; nothing more will be sent or accepted.
    /// Every request still waiting has had its [`Event::Completed`].
    Closed(ConnError),
}

impl Events for Event {
    type Output = Vec<Response>;
    fn completed(id: RequestId, result: Result<Vec<Response>, ConnError>) -> Self {
        Event::Completed { id, result }
    }
    fn closed(reason: ConnError) -> Self {
        Event::Closed(reason)
    }
}

/// A request not sent yet (waiting for credits, or held until the session
/// is re-authenticated).
#[derive(Debug, Clone)]
struct Queued {
    parts: Vec<Part>,
    related: bool,
    tail: Bytes,
    signing: Signing,
    /// Sent once already and answered STATUS_NETWORK_SESSION_EXPIRED: it is
    /// not sent a third time (MS-SMB2 §3.2.5.1.7 asks for one retry).
    retried: bool,
}

#[derive(Debug)]
struct Sent {
    /// The message id of each part.
    ids: Vec<u64>,
    responses: Vec<Option<Response>>,
    remaining: usize,
    /// A caller's request not retried yet: what it takes to send it again
    /// should the session have expired (MS-SMB2 §3.2.5.1.7). Dropped with
    /// the request, so that a WRITE's tail is not held past its answer.
    retry: Option<Queued>,
    /// How many re-authentications had succeeded when it went out.
    epoch: u64,
}

#[derive(Debug)]
enum Stage {
    Queued(Queued),
    Sent(Sent),
}

/// True if every message of a request releases something the server holds
/// (a handle, a tree, the session): such a request is sent even once its
/// caller has stopped waiting.
fn releases(parts: &[Part]) -> bool {
    parts.iter().all(|p| {
        matches!(
            p.command,
            Command::CLOSE | Command::TREE_DISCONNECT | Command::LOGOFF
        )
    })
}

/// A sent message waiting for its response.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    request: RequestId,
    owner: Owner,
    part: usize,
    command: Command,
    /// Went out encrypted: its response must come back encrypted
    /// (MS-SMB2 §3.3.4.1.4).
    encrypted: bool,
    /// A CREATE whose handle nothing else in its request closes: the tree
    /// it opens in.
    create_tree: Option<u32>,
}

/// A message given up on (timed out or withdrawn) whose final response has
/// not come yet.
#[derive(Debug, Clone, Copy)]
struct Orphan {
    encrypted: bool,
    owner: Owner,
    /// A CREATE: if the server opens the file after all, its handle is
    /// closed when the response comes.
    create_tree: Option<u32>,
}

/// The session's keys and the rules that use them.
#[derive(Default)]
pub(crate) struct SessionKeys {
    pub(crate) session_id: u64,
    /// Present once the session key is known and the session is neither
    /// guest nor anonymous.
    pub(crate) signer: Option<Arc<Signer>>,
    /// Session.SigningRequired (MS-SMB2 §3.2.1.3).
    pub(crate) signing_required: bool,
    /// Encrypts requests with Session.EncryptionKey (MS-SMB2 §3.1.4.3).
    pub(crate) encryptor: Option<Arc<Encryptor>>,
    /// Decrypts responses with Session.DecryptionKey.
    pub(crate) decryptor: Option<Arc<Decryptor>>,
    /// Session.EncryptData: every request of the session is encrypted.
    pub(crate) encrypt_all: bool,
    /// Trees whose share asks for encryption (TreeConnect.EncryptData).
    pub(crate) encrypted_trees: HashSet<u32>,
}

impl SessionKeys {
    /// Whether a request of `command` on `tree_id` must be encrypted
    /// (MS-SMB2 §3.2.4.1.8: never NEGOTIATE nor SESSION_SETUP).
    fn encrypts(&self, command: Command, tree_id: u32) -> bool {
        if command == Command::NEGOTIATE || command == Command::SESSION_SETUP {
            return false;
        }
        self.encryptor.is_some()
            && (self.encrypt_all || (tree_id != 0 && self.encrypted_trees.contains(&tree_id)))
    }
}

/// The SMB 2/3 connection state machine. See the [module docs](self).
pub struct Smb2Connection {
    credits: Credits,
    dialect: Dialect,
    session: SessionKeys,
    handshake: handshake::Handshake,
    /// Requests (the queue holds those waiting for credits), frames to
    /// send, events.
    book: Book<Stage, Event>,
    in_flight: HashMap<u64, InFlight>,
    orphans: HashMap<u64, Orphan>,
    /// AsyncId of requests that got an interim response.
    async_ids: HashMap<u64, u64>,
    nonces: NonceWindow,
    /// FSCTL_VALIDATE_NEGOTIATE_INFO ([`validate`]).
    validation: validate::Validation,
    negotiate_validated: bool,
    /// Dead-peer detection and keep-alive ([`super::liveness`]).
    watch: Watch,
    /// The keep-alive ECHO out, if any.
    probe: Option<RequestId>,
    /// The re-authentication of the session in progress, if any
    /// (MS-SMB2 §3.2.4.2.3); nothing but its SESSION_SETUP goes out
    /// meanwhile.
    reauth: Option<handshake::Reauth>,
    /// How many re-authentications have succeeded.
    reauths: u64,
    /// Requests started with [`Smb2Connection::start_open_ended`] and not
    /// finished: their deadline is lifted once the server takes them.
    open_ended: HashSet<RequestId>,
}

impl std::fmt::Debug for Smb2Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smb2Connection")
            .field("dialect", &self.dialect)
            .field("credits", &self.credits)
            .field("requests", &self.book.requests.len())
            .field("in_flight", &self.in_flight.len())
            .field("closed", &self.book.closed)
            .finish_non_exhaustive()
    }
}

impl Smb2Connection {
    /// A connection that starts its handshake at `now`: the first NEGOTIATE
    /// is ready in [`Smb2Connection::poll_transmit`].
    pub fn new(config: Smb2Config, now: Instant) -> Smb2Connection {
        let mut c = Smb2Connection {
            credits: Credits::new(),
            dialect: Dialect::SMB2_0_2,
            session: SessionKeys::default(),
            handshake: handshake::Handshake::new(config, now),
            book: Book::default(),
            in_flight: HashMap::new(),
            orphans: HashMap::new(),
            async_ids: HashMap::new(),
            nonces: NonceWindow::default(),
            validation: validate::Validation::default(),
            negotiate_validated: false,
            watch: Watch::new(now),
            probe: None,
            reauth: None,
            reauths: 0,
            open_ended: HashSet::new(),
        };
        c.begin_handshake(now);
        c
    }

    /// The negotiated dialect (2.0.2 until NEGOTIATE is answered).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.book.closed.is_some()
    }

    /// True once the handshake is done and requests are taken.
    pub fn is_established(&self) -> bool {
        self.handshake.is_done() && !self.is_closed()
    }

    /// True while the session is being re-authenticated after the server
    /// answered STATUS_NETWORK_SESSION_EXPIRED (MS-SMB2 §3.2.5.1.7):
    /// requests are still taken, but wait until it is done.
    pub fn is_reauthenticating(&self) -> bool {
        self.reauth.is_some() && !self.is_closed()
    }

    /// The SessionId (0 before the first SESSION_SETUP response).
    pub fn session_id(&self) -> u64 {
        self.session.session_id
    }

    /// Credits granted and not yet used.
    pub fn credits_available(&self) -> u32 {
        self.credits.available()
    }

    /// Requests started and not yet completed, queued ones included.
    pub fn requests_outstanding(&self) -> usize {
        self.book.user_requests()
    }

    /// Messages sent whose final response has not come, given-up ones
    /// included.
    pub fn messages_in_flight(&self) -> usize {
        self.in_flight.len() + self.orphans.len()
    }

    /// The largest frame the server may send: a READ or IOCTL/QUERY
    /// response of the negotiated size plus headers (1 MiB during the
    /// handshake).
    pub fn max_frame(&self) -> usize {
        self.handshake.max_frame()
    }

    /// Starts a request. It goes out at once when the credits allow, else
    /// when responses grant them; either way it ends with one
    /// [`Event::Completed`] (or never, after [`Smb2Connection::cancel`]).
    pub fn start(&mut self, req: Request, now: Instant) -> Result<RequestId, ConnError> {
        if self.book.closed.is_some() {
            return Err(ConnError::NotConnected);
        }
        if !self.handshake.is_done() {
            return Err(InvalidRequest::Authenticating.into());
        }
        self.start_owned(req, Owner::User, now)
    }

    /// Starts a request that the server may hold for as long as it likes
    /// once it has taken it: a CHANGE_NOTIFY, which the server acknowledges
    /// at once with an interim STATUS_PENDING (MS-SMB2 §3.3.4.2) and
    /// completes when something changes (§3.3.5.19), hours later perhaps.
    /// `req.deadline` bounds only the wait for that interim response (or
    /// for the answer itself, should it come without one); once the interim
    /// has come the request has no deadline. Like every request the server
    /// has acknowledged, it owes nothing meanwhile, so it never makes the
    /// connection look dead ([`super::liveness`]). It ends with one
    /// [`Event::Completed`], or is withdrawn with
    /// [`Smb2Connection::cancel`], which sends CANCEL with its AsyncId.
    pub fn start_open_ended(&mut self, req: Request, now: Instant) -> Result<RequestId, ConnError> {
        let id = self.start(req, now)?;
        if self.book.requests.contains_key(&id) {
            self.open_ended.insert(id);
        }
        Ok(id)
    }

    fn start_owned(
        &mut self,
        req: Request,
        owner: Owner,
        now: Instant,
    ) -> Result<RequestId, ConnError> {
        if req.parts.is_empty() {
            return Err(InvalidRequest::NoMessage.into());
        }
        if req.parts.len() > 1 && !req.tail.is_empty() {
            return Err(InvalidRequest::TailOnCompound.into());
        }
        if req.parts.iter().any(|p| p.msg.len() < HEADER_LEN) {
            return Err(InvalidRequest::NoRoomForHeader.into());
        }
        let stage = Stage::Queued(Queued {
            parts: req.parts,
            related: req.related,
            tail: req.tail,
            signing: req.signing,
            retried: false,
        });
        let id = self
            .book
            .add(owner, req.operation, req.deadline, now, stage);
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

    /// Withdraws a request whose result is no longer wanted (its future was
    /// dropped). A request not sent yet is forgotten; a sent one is
    /// cancelled on the server (MS-SMB2 §3.2.4.24) and its responses are
    /// absorbed when they come, a handle its CREATE opens is closed. No
    /// [`Event::Completed`] follows. Unknown or finished ids are ignored.
    pub fn cancel(&mut self, id: RequestId) {
        self.open_ended.remove(&id);
        let queued = self
            .book
            .requests
            .get(&id)
            .is_some_and(|r| matches!(r.stage, Stage::Queued(_)));
        let Some(r) = self.book.remove(id, queued) else {
            self.abandon_validated(id);
            return;
        };
        if let Stage::Sent(s) = r.stage {
            self.abandon(&s);
        }
    }

    /// Turns the messages of a sent request still waiting into orphans and
    /// asks the server to cancel them.
    fn abandon(&mut self, s: &Sent) {
        for (i, mid) in s.ids.iter().enumerate() {
            if s.responses[i].is_some() {
                continue;
            }
            let Some(f) = self.in_flight.remove(mid) else {
                continue;
            };
            self.orphans.insert(
                *mid,
                Orphan {
                    encrypted: f.encrypted,
                    owner: f.owner,
                    create_tree: f.create_tree,
                },
            );
            self.send_cancel(*mid, f.encrypted);
        }
    }

    /// Sends CANCEL for `message_id` (no credit, no response; encrypted
    /// like the request it cancels).
    fn send_cancel(&mut self, message_id: u64, encrypted: bool) {
        if self.book.closed.is_some() {
            return;
        }
        let mut h = Header::request(Command::CANCEL);
        h.message_id = message_id;
        h.async_id = self.async_ids.get(&message_id).copied();
        h.session_id = self.session.session_id;
        let mut w = Writer::new();
        h.encode(&mut w);
        CancelRequest.encode(&mut w);
        let mut msg = w.into_vec();
        let t = match &self.session.encryptor {
            Some(enc) if encrypted => Transmit::sealed(msg, Bytes::new(), enc.clone()),
            _ => {
                if let Some(s) = self.request_signer(Command::CANCEL, Signing::Session) {
                    s.sign(&mut msg);
                }
                Transmit::new(msg, Bytes::new())
            }
        };
        if let Ok(t) = t {
            self.book.transmits.push_back(t);
        }
    }

    /// Closes the connection at the caller's wish: every request still
    /// waiting completes with [`ConnError::NotConnected`], nothing more is
    /// sent. (A polite close sends TREE_DISCONNECT and LOGOFF first, as
    /// ordinary requests.)
    pub fn close(&mut self) {
        self.shut_down(ConnError::NotConnected);
    }

    /// Closes the connection because the stream failed (read or write
    /// error, end of stream).
    pub fn handle_stream_error(&mut self, why: &str) {
        tracing::debug!(why, "the stream failed");
        self.shut_down(ConnError::NotConnected);
    }

    fn shut_down(&mut self, reason: ConnError) {
        let for_requests = reason.for_requests_in_flight();
        if !self.book.close(&reason, &for_requests) {
            return;
        }
        tracing::debug!(%reason, "connection closed");
        self.reauth = None;
        self.in_flight.clear();
        self.orphans.clear();
        self.async_ids.clear();
        self.open_ended.clear();
        self.validation_closed(&for_requests);
        self.book.push_closed(reason);
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.book.poll_transmit()
    }

    /// True if frames are waiting in [`Smb2Connection::poll_transmit`].
    pub fn has_transmit(&self) -> bool {
        self.book.has_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.book.poll_event()
    }

    /// When [`Smb2Connection::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let requests = earliest(self.book.next_deadline(), self.liveness_deadline());
        let handshake = earliest(self.handshake.deadline(), self.reauth_deadline());
        earliest(requests, handshake)
    }

    /// Lets time pass: requests past their deadline complete with
    /// [`ConnError::Timeout`] and are cancelled on the server; a handshake
    /// or a re-authentication past its deadline closes the connection.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.book.closed.is_some() {
            return;
        }
        if let Some(d) = self.handshake.deadline() {
            if now >= d {
                let e = self.handshake.timeout_error();
                self.shut_down(e);
                return;
            }
        }
        if let Some(e) = self.reauth_timed_out(now) {
            self.reauth_failed(e);
            return;
        }
        // What a request not sent yet was waiting for.
        let waiting = if self.reauth.is_some() {
            "waiting for the session's re-authentication"
        } else {
            "waiting for credits"
        };
        while let Some((id, r)) = self.book.next_expired(now) {
            if let Stage::Queued(q) = &r.stage {
                if r.owner != Owner::Internal && releases(&q.parts) {
                    // Never sent, so the server still holds what it
                    // releases: it stays queued, on the connection's own
                    // account, and its caller hears of the timeout.
                    let e = ConnError::Timeout {
                        operation: waiting,
                        after: now.saturating_duration_since(r.started),
                    };
                    self.book.complete(id, r.owner, Err(e));
                    self.book.keep_internal(id, r, now + INTERNAL_CLOSE_LIMIT);
                    continue;
                }
            }
            let operation = match &r.stage {
                Stage::Queued(_) => {
                    // (A request held for the re-authentication is in no
                    // queue: it is simply not sent again.)
                    self.book.queue.retain(|q| *q != id);
                    waiting
                }
                Stage::Sent(s) => {
                    self.abandon(s);
                    r.operation
                }
            };
            let e = ConnError::Timeout {
                operation,
                after: now.saturating_duration_since(r.started),
            };
            self.finished(id, r.owner, r.deadline, Err(e), now);
            if self.is_closed() {
                return;
            }
        }
        self.check_liveness(now);
    }

    /// Hands a finished request's result to whoever waits for it.
    fn finished(
        &mut self,
        id: RequestId,
        owner: Owner,
        deadline: Instant,
        result: Result<Vec<Response>, ConnError>,
        now: Instant,
    ) {
        self.open_ended.remove(&id);
        match owner {
            Owner::User => self.complete_user(id, deadline, result, now),
            Owner::Handshake => {
                if let Err(e) = result {
                    self.shut_down(e);
                }
            }
            Owner::Reauth => {
                if let Err(e) = result {
                    self.reauth_failed(e);
                }
            }
            Owner::Internal if self.is_validation(id) => self.validation_answered(result, now),
            Owner::Internal => {}
        }
    }

    /// Sends the queued requests the credits allow, in the order they were
    /// started; a request that needs more credits than are available waits
    /// without holding back smaller ones behind it (every response tops the
    /// window up toward [`crate::state::TARGET_CREDITS`], so a large one
    /// does not wait long).
    fn pump(&mut self, now: Instant) {
        let queued = self.book.transmits.len();
        self.send_queued(now);
        if self.book.transmits.len() != queued {
            self.watch.sent(now);
        }
        self.watch.owed(self.answers_owed(), now);
    }

    fn send_queued(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.book.queue.len() {
            if self.book.closed.is_some() || self.credits.available() == 0 {
                return;
            }
            let id = self.book.queue[i];
            let (owner, total) = match self.book.requests.get(&id) {
                Some(Outstanding {
                    owner,
                    stage: Stage::Queued(q),
                    ..
                }) => (
                    *owner,
                    q.parts
                        .iter()
                        .map(|p| p.charge.max(1))
                        .fold(0u16, |a, b| a.saturating_add(b)),
                ),
                _ => {
                    self.book.queue.remove(i);
                    continue;
                }
            };
            if self.reauth.is_some() && owner != Owner::Reauth {
                // MS-SMB2 §3.2.4.2.3: no new request until the
                // re-authentication succeeds; it waits in the queue.
                i += 1;
                continue;
            }
            let ask = self.credits.request_for(total);
            let Some(first_id) = self.credits.reserve(total) else {
                i += 1;
                continue;
            };
            self.book.queue.remove(i);
            let Some(r) = self.book.requests.get_mut(&id) else {
                continue;
            };
            let Stage::Queued(q) = std::mem::replace(
                &mut r.stage,
                Stage::Sent(Sent {
                    ids: Vec::new(),
                    responses: Vec::new(),
                    remaining: 0,
                    retry: None,
                    epoch: 0,
                }),
            ) else {
                continue;
            };
            match self.send(id, owner, q, first_id, ask, total) {
                Ok(sent) => {
                    if let Some(r) = self.book.requests.get_mut(&id) {
                        r.stage = Stage::Sent(sent);
                    }
                }
                Err(e) => {
                    // Nothing went out: the message ids are burnt (the
                    // server never sees them), the request fails.
                    if let Some(r) = self.book.remove(id, false) {
                        self.finished(id, r.owner, r.deadline, Err(e), now);
                        if self.is_closed() {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Writes the headers, signs or encrypts, and queues the frame.
    fn send(
        &mut self,
        id: RequestId,
        owner: Owner,
        q: Queued,
        first_id: u64,
        ask: u16,
        total: u16,
    ) -> Result<Sent, ConnError> {
        // A caller's request keeps what it takes to send it again, once,
        // should the server answer that the session expired (MS-SMB2
        // §3.2.5.1.7). The header room is rewritten on every send, so the
        // parts are kept as the caller encoded them; the tail is a cheap
        // reference-counted clone.
        let retry = (owner == Owner::User && !q.retried).then(|| Queued {
            retried: true,
            ..q.clone()
        });
        let Queued {
            parts,
            related,
            tail,
            signing,
            retried: _,
        } = q;
        let n = parts.len();
        let session_id = self.session.session_id;
        // One TRANSFORM_HEADER covers the whole chain: encrypt it if any of
        // its requests must be.
        let encrypt = parts
            .iter()
            .any(|p| self.session.encrypts(p.command, p.tree_id));
        let large_mtu = self.credits.large_mtu();
        let closes = parts.iter().any(|p| p.command == Command::CLOSE);
        let mut ids = Vec::with_capacity(n);
        let mut frame: Vec<u8> = Vec::new();
        let mut next_id = first_id;
        let mut flights = Vec::with_capacity(n);
        for (i, part) in parts.into_iter().enumerate() {
            let charge = part.charge.max(1);
            let mut h = Header::request(part.command);
            h.credit_charge = if large_mtu { charge } else { 0 };
            h.credits = if i == 0 {
                ask.saturating_sub(total - charge)
            } else {
                charge
            };
            h.message_id = next_id;
            h.tree_id = part.tree_id;
            h.session_id = if part.command == Command::NEGOTIATE {
                0
            } else {
                session_id
            };
            if related && i > 0 {
                h.flags |= header::flags::RELATED_OPERATIONS;
            }
            let mut msg = part.msg;
            {
                let mut w = Writer::new();
                h.encode(&mut w);
                msg[..HEADER_LEN].copy_from_slice(w.as_slice());
            }
            if i + 1 < n {
                let pad = (8 - msg.len() % 8) % 8;
                msg.resize(msg.len() + pad, 0);
                let len = u32::try_from(msg.len()).map_err(|_| {
                    crate::EncodeError::too_long(
                        "SMB2 compound NextCommand",
                        msg.len(),
                        u32::MAX as usize,
                    )
                })?;
                msg[header::NEXT_COMMAND_OFFSET..header::NEXT_COMMAND_OFFSET + 4]
                    .copy_from_slice(&len.to_le_bytes());
            }
            if !encrypt && n > 1 {
                // Parts of a chain are signed one by one (MS-SMB2
                // §3.2.4.1.4); a single message is signed by
                // [`Transmit::finish`].
                if let Some(signer) = self.signer_for(owner, part.command, signing) {
                    signer.sign(&mut msg);
                }
            }
            if owner == Owner::Handshake {
                self.handshake.on_sent(part.command, &msg);
            }
            let track_create = part.command == Command::CREATE && !closes;
            flights.push(InFlight {
                request: id,
                owner,
                part: i,
                command: part.command,
                encrypted: encrypt,
                create_tree: track_create.then_some(part.tree_id),
            });
            ids.push(next_id);
            if n == 1 {
                frame = msg;
            } else {
                frame.extend_from_slice(&msg);
            }
            next_id += u64::from(charge);
        }
        let single_signer = match flights.first() {
            Some(f) if n == 1 && !encrypt => self.signer_for(owner, f.command, signing).cloned(),
            _ => None,
        };
        let t = if encrypt {
            match &self.session.encryptor {
                Some(enc) => Transmit::sealed(frame, tail, enc.clone())?,
                None => return Err(InvalidRequest::NoEncryptionKey.into()),
            }
        } else if let Some(signer) = single_signer {
            Transmit::signed(frame, tail, signer)?
        } else {
            Transmit::new(frame, tail)?
        };
        self.book.transmits.push_back(t);
        if owner == Owner::Handshake && flights.iter().any(|f| f.command == Command::SESSION_SETUP)
        {
            self.install_keys();
        }
        for (mid, f) in ids.iter().zip(flights) {
            self.in_flight.insert(*mid, f);
        }
        Ok(Sent {
            responses: vec![None; n],
            remaining: n,
            ids,
            retry,
            epoch: self.reauths,
        })
    }

    /// The signer for a message of `owner`'s: a re-authentication's
    /// SESSION_SETUP is signed with the session's key whenever it has one
    /// (MS-SMB2 §3.2.4.1.1: a SESSION_SETUP is signed with
    /// Session.SigningKey; the session exists, so the key does), anything
    /// else by [`Smb2Connection::request_signer`].
    fn signer_for(&self, owner: Owner, command: Command, signing: Signing) -> Option<&Arc<Signer>> {
        if owner == Owner::Reauth && command == Command::SESSION_SETUP {
            return self.session.signer.as_ref();
        }
        self.request_signer(command, signing)
    }

    /// The signer for a request of `command`, if it must be signed
    /// (MS-SMB2 §3.2.4.1.1; TREE_CONNECT is always signed on 3.1.1 for
    /// authenticated, non-guest sessions).
    fn request_signer(&self, command: Command, signing: Signing) -> Option<&Arc<Signer>> {
        if command == Command::NEGOTIATE || command == Command::SESSION_SETUP {
            return None;
        }
        let signer = self.session.signer.as_ref()?;
        let sign = match signing {
            Signing::Always => true,
            Signing::Session => {
                self.session.signing_required
                    || (self.dialect == Dialect::SMB3_1_1 && command == Command::TREE_CONNECT)
            }
        };
        sign.then_some(signer)
    }

    /// Takes one received frame (the payload of one session message): an
    /// SMB2 message or compound chain, or an encrypted one, which is
    /// decrypted in place. A frame that breaks the protocol closes the
    /// connection: nothing read after it can be trusted.
    pub fn handle_frame(&mut self, frame: BytesMut, now: Instant) {
        let received = self.opener().open(frame);
        self.handle_received(received, now);
    }

    /// What decrypts received frames, for a driver that wants to do it
    /// outside whatever guards the connection (it needs none of the
    /// connection's state). [`Smb2Connection::handle_received`] then takes
    /// the result. [`Smb2Connection::handle_frame`] does both.
    pub fn opener(&self) -> Opener {
        Opener {
            decryptor: self.session.decryptor.clone(),
        }
    }

    /// Takes a frame [`Opener::open`] has prepared: checks the nonce of an
    /// encrypted one against the replay window and routes its messages. A
    /// frame that breaks the protocol closes the connection.
    pub fn handle_received(&mut self, received: Received, now: Instant) {
        if self.book.closed.is_some() {
            return;
        }
        self.watch.heard(now);
        if let Err(e) = self.route(received, now) {
            tracing::warn!(error = %e, "closing the connection");
            self.shut_down(e);
            return;
        }
        self.pump(now);
    }

    fn route(&mut self, received: Received, now: Instant) -> Result<(), ConnError> {
        match received.0 {
            Opened::Plain(frame) => match frame_kind(&frame) {
                FrameKind::Smb2 if self.handshake.expects_smb1() => {
                    self.handshake_multi_protocol_smb2(&frame, now)
                }
                FrameKind::Smb2 => self.route_chain(frame.freeze(), false, now),
                FrameKind::Smb1 if self.handshake.expects_smb1() => {
                    self.handshake_smb1_response(&frame, now)
                }
                _ => Err(Violation::UnexpectedMessage(UnexpectedMessage::NotSmb2).into()),
            },
            Opened::Decrypted { plain, nonce } => {
                if !self.nonces.insert(nonce) {
                    return Err(Violation::Decryption(Decryption::Replay).into());
                }
                if frame_kind(&plain) != FrameKind::Smb2 {
                    return Err(Violation::Decryption(Decryption::NotSmb2).into());
                }
                self.route_chain(plain, true, now)
            }
            Opened::Failed(e) => Err(e),
        }
    }

    fn route_chain(
        &mut self,
        frame: Bytes,
        encrypted: bool,
        now: Instant,
    ) -> Result<(), ConnError> {
        let ranges: Vec<(usize, usize)> = {
            let parts = header::split_compound(&frame)
                .map_err(|e| Violation::decode("compound response", e))?;
            let base = frame.as_ptr() as usize;
            parts
                .iter()
                .map(|s| (s.as_ptr() as usize - base, s.len()))
                .collect()
        };
        for (off, len) in ranges {
            self.route_one(frame.slice(off..off + len), encrypted, now)?;
            if self.book.closed.is_some() {
                break;
            }
        }
        Ok(())
    }

    fn route_one(&mut self, msg: Bytes, encrypted: bool, now: Instant) -> Result<(), ConnError> {
        let header = Header::decode(&msg).map_err(|e| Violation::decode("SMB2 header", e))?;
        if !header.is_response() {
            return Err(
                Violation::UnexpectedMessage(UnexpectedMessage::ServerRequest {
                    command: CommandCode::Smb2(header.command),
                })
                .into(),
            );
        }
        if header.message_id == u64::MAX {
            // Unsolicited (MS-SMB2 §3.2.5.19): an oplock or lease break.
            self.break_notified(&header, &msg, now);
            return Ok(());
        }
        let mid = header.message_id;
        let sent_encrypted = match (self.in_flight.get(&mid), self.orphans.get(&mid)) {
            (Some(f), _) => f.encrypted,
            (None, Some(o)) => o.encrypted,
            (None, None) => {
                // Not a response to anything outstanding: a duplicate, a
                // replay or a forgery. Nothing can be trusted after it.
                return Err(
                    Violation::UnexpectedMessage(UnexpectedMessage::UnknownMessageId {
                        command: CommandCode::Smb2(header.command),
                        message_id: mid,
                    })
                    .into(),
                );
            }
        };
        if sent_encrypted && !encrypted {
            // MS-SMB2 §3.3.4.1.4: the response to an encrypted request is
            // encrypted. A plain one was not sent by the server we share
            // keys with, or was downgraded on the way.
            return Err(Violation::Unencrypted {
                command: CommandCode::Smb2(header.command),
            }
            .into());
        }
        if let Some(f) = self.in_flight.get(&mid) {
            if f.command != header.command {
                return Err(
                    Violation::UnexpectedMessage(UnexpectedMessage::WrongCommand {
                        request: CommandCode::Smb2(f.command),
                        response: CommandCode::Smb2(header.command),
                        message_id: mid,
                    })
                    .into(),
                );
            }
        }
        self.credits.grant(header.credits);
        if header.status == NtStatus::PENDING && header.is_async() {
            // Interim response (MS-SMB2 §3.2.5.1.5): keep waiting for the
            // final one, remembering its AsyncId.
            if let Some(a) = header.async_id {
                self.async_ids.insert(mid, a);
            }
            if let Some(f) = self.in_flight.get(&mid) {
                if self.open_ended.contains(&f.request) {
                    // Taken by the server: it answers when it has something.
                    self.book.lift_deadline(f.request);
                }
            }
            return Ok(());
        }
        self.async_ids.remove(&mid);
        if let Some(o) = self.orphans.remove(&mid) {
            if header.status == NtStatus::SUCCESS {
                if let Some(tree_id) = o.create_tree {
                    self.close_abandoned(tree_id, &msg, now);
                } else if header.command == Command::TREE_CONNECT && o.owner == Owner::User {
                    // A tree connected for a caller that has gone.
                    self.disconnect_tree(header.tree_id, now);
                }
            }
            return Ok(());
        }
        let Some(f) = self.in_flight.remove(&mid) else {
            return Ok(());
        };
        let response = Response {
            header,
            msg,
            encrypted,
        };
        let Some(r) = self.book.requests.get_mut(&f.request) else {
            return Ok(());
        };
        if r.owner == Owner::Handshake {
            return self.handshake_response(f.request, response, now);
        }
        if r.owner == Owner::Reauth {
            return self.reauth_response(f.request, response, now);
        }
        let Stage::Sent(s) = &mut r.stage else {
            return Ok(());
        };
        s.responses[f.part] = Some(response);
        s.remaining -= 1;
        if s.remaining > 0 {
            return Ok(());
        }
        // MS-SMB2 §3.2.5.1.7: a caller's request answered
        // STATUS_NETWORK_SESSION_EXPIRED is not completed but held, to be
        // sent again (whole, for a chain) once the session is
        // re-authenticated; only once, so that a server that keeps
        // answering so cannot make a loop of it.
        let expired = r.owner == Owner::User
            && s.responses
                .iter()
                .flatten()
                .any(|x| x.header.status == NtStatus::NETWORK_SESSION_EXPIRED);
        let retry = if expired {
            s.retry.take().map(|q| (q, s.epoch))
        } else {
            None
        };
        if let Some((q, epoch)) = retry {
            // A response whose signature does not verify triggers nothing:
            // the request completes with the failure below.
            let authentic = match self.book.requests.get(&f.request).map(|r| &r.stage) {
                Some(Stage::Sent(s)) => {
                    s.responses.iter().flatten().all(|x| self.verify(x).is_ok())
                }
                _ => false,
            };
            if authentic {
                if let Some(r) = self.book.requests.get_mut(&f.request) {
                    r.stage = Stage::Queued(q);
                }
                self.session_expired(f.request, epoch, now);
                return Ok(());
            }
        }
        let Some(r) = self.book.remove(f.request, false) else {
            return Ok(());
        };
        let Stage::Sent(s) = r.stage else {
            return Ok(());
        };
        let responses: Vec<Response> = s.responses.into_iter().flatten().collect();
        let result = responses
            .iter()
            .try_for_each(|r| self.verify(r))
            .map(|()| responses);
        self.finished(f.request, r.owner, r.deadline, result, now);
        Ok(())
    }

    /// Checks a response's signature per MS-SMB2 §3.2.5.1.3 (skipped for a
    /// message that arrived encrypted: its tag authenticated it). An
    /// unsigned STATUS_NETWORK_SESSION_EXPIRED is accepted even when the
    /// session signs: a server cannot be assumed to sign with a session
    /// it considers expired, and the status only triggers a
    /// re-authentication (§3.2.5.1.7), whose final response is verified and
    /// after which the request is sent again and its answer verified as
    /// usual, or fails the request. A signed one must still verify.
    fn verify(&self, r: &Response) -> Result<(), ConnError> {
        if r.encrypted {
            return Ok(());
        }
        let signer = self.session.signer.as_ref();
        let required = self.session.signing_required;
        let command = || CommandCode::Smb2(r.header.command);
        if r.header.is_signed() {
            match signer {
                Some(signer) if signer.verify(&r.msg) => Ok(()),
                Some(_) => Err(Violation::BadSignature { command: command() }.into()),
                // A signature we cannot check (no key yet): only acceptable
                // when signing is not required.
                None if !required => Ok(()),
                None => Err(Violation::BadSignature { command: command() }.into()),
            }
        } else if required
            && signer.is_some()
            && r.header.status != NtStatus::PENDING
            && r.header.status != NtStatus::NETWORK_SESSION_EXPIRED
        {
            Err(Violation::Unsigned { command: command() }.into())
        } else {
            Ok(())
        }
    }

    /// An oplock or lease break notification (MS-SMB2 §3.2.5.19.1,
    /// §3.2.5.19.2): the connection caches nothing, so it accepts the break
    /// at once with the acknowledgment the server asks for, on its own
    /// account (the server would otherwise wait for it before letting
    /// another client in). Anything else with MessageId 0xFFFF... is
    /// ignored.
    fn break_notified(&mut self, header: &Header, msg: &[u8], now: Instant) {
        if header.command != Command::OPLOCK_BREAK || !self.handshake.is_done() {
            tracing::debug!(command = ?header.command, "ignored an unsolicited message");
            return;
        }
        let n = match crate::smb2::oplock::BreakNotification::decode(msg) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "ignored a malformed break notification");
                return;
            }
        };
        let Some(ack) = n.acknowledgment() else {
            tracing::debug!(?n, "break notification without acknowledgment");
            return;
        };
        tracing::debug!(?n, "acknowledging a break");
        // The acknowledgment goes on the tree the notification names (the
        // open's, for an oplock); encrypted like the notification when the
        // session encrypts, by the usual rules.
        self.start_internal(
            Command::OPLOCK_BREAK,
            header.tree_id,
            "break acknowledgment",
            now + INTERNAL_CLOSE_LIMIT,
            now,
            |w| ack.encode(w),
        );
    }

    /// Starts a single request on the connection's own account, whose
    /// answer nobody waits for; its id, unless it could not be started.
    fn start_internal(
        &mut self,
        command: Command,
        tree_id: u32,
        operation: &'static str,
        deadline: Instant,
        now: Instant,
        encode: impl FnOnce(&mut Writer),
    ) -> Option<RequestId> {
        let part = Part::new(command, tree_id, 1, |w| {
            encode(w);
            Ok(())
        })
        .ok()?;
        self.start_owned(
            Request::single(part, deadline, operation),
            Owner::Internal,
            now,
        )
        .ok()
    }

    /// Sets how the connection watches the server (off until set; see
    /// [`super::liveness`]).
    pub fn set_liveness(&mut self, liveness: Liveness, now: Instant) {
        self.watch.set(liveness, now);
    }

    /// Tells the connection that bytes arrived at `at` (part of a frame
    /// still being received), so that a large answer over a slow link does
    /// not look like silence.
    pub fn handle_activity(&mut self, at: Instant) {
        self.watch.heard(at);
    }

    /// Whether the server owes answers it has not acknowledged with an
    /// interim response (sent messages, given-up ones included, minus
    /// those that went async).
    fn answers_owed(&self) -> bool {
        self.in_flight.len() + self.orphans.len() > self.async_ids.len()
    }

    fn probing(&self) -> bool {
        self.probe
            .is_some_and(|id| self.book.requests.contains_key(&id))
    }

    fn liveness_deadline(&self) -> Option<Instant> {
        if !self.handshake.is_done() {
            return None;
        }
        self.watch.deadline(self.probing())
    }

    /// Declares the connection dead, or sends a keep-alive ECHO, when the
    /// watch says so.
    fn check_liveness(&mut self, now: Instant) {
        if !self.handshake.is_done() || self.is_closed() {
            return;
        }
        match self.watch.check(self.probing(), now) {
            Verdict::Fine => {}
            Verdict::Dead(silent) => {
                tracing::warn!(
                    ?silent,
                    "the server has gone silent; closing the connection"
                );
                self.shut_down(ConnError::PeerDead { silent });
            }
            Verdict::Probe => {
                tracing::trace!("keep-alive ECHO");
                let deadline = now + self.watch.probe_limit();
                self.probe =
                    self.start_internal(Command::ECHO, 0, "keep-alive ECHO", deadline, now, |w| {
                        crate::smb2::EchoRequest.encode(w)
                    });
            }
        }
    }

    /// Closes the handle a CREATE given up on opened after all.
    fn close_abandoned(&mut self, tree_id: u32, msg: &[u8], now: Instant) {
        let Ok(create) = CreateResponse::decode(msg) else {
            return;
        };
        tracing::debug!(?create.file_id, "closing the handle of a CREATE given up on");
        self.close_handle(tree_id, create.file_id, now);
    }

    /// Closes a handle on the connection's own account: a CLOSE whose
    /// answer nobody waits for (for a handle whose owner was dropped).
    pub fn close_handle(&mut self, tree_id: u32, file_id: FileId, now: Instant) {
        if self.book.closed.is_some() {
            return;
        }
        let req = CloseRequest { flags: 0, file_id };
        self.start_internal(
            Command::CLOSE,
            tree_id,
            "CLOSE",
            now + INTERNAL_CLOSE_LIMIT,
            now,
            |w| req.encode(w),
        );
    }

    /// Disconnects a tree on the connection's own account (for a tree
    /// connected for a caller that has gone): a TREE_DISCONNECT whose
    /// answer nobody waits for.
    pub fn disconnect_tree(&mut self, tree_id: u32, now: Instant) {
        if self.book.closed.is_some() {
            return;
        }
        self.session.encrypted_trees.remove(&tree_id);
        self.start_internal(
            Command::TREE_DISCONNECT,
            tree_id,
            "TREE_DISCONNECT",
            now + INTERNAL_CLOSE_LIMIT,
            now,
            |w| crate::smb2::tree_disconnect::TreeDisconnectRequest.encode(w),
        );
    }

    /// Records a connected tree and applies the tree encryption policy
    /// (MS-SMB2 §3.2.5.5): a share that asks for encryption
    /// (SMB2_SHAREFLAG_ENCRYPT_DATA) gets its requests encrypted. Returns
    /// whether the tree's messages are encrypted, or an error when the share
    /// asks for encryption this connection cannot do.
    pub fn tree_connected(&mut self, tree_id: u32, share_flags: u32) -> Result<bool, ConnError> {
        let share_encrypts =
            share_flags & crate::smb2::tree_connect::share_flags::ENCRYPT_DATA != 0;
        if !share_encrypts {
            Ok(self.session.encrypt_all)
        } else if self.session.encryptor.is_some() {
            self.session.encrypted_trees.insert(tree_id);
            Ok(true)
        } else {
            Err(ConnError::Unsupported(
                super::Unsupported::ShareRequiresEncryption {
                    share: format!("tree {tree_id:#x}"),
                    why: NoEncryption::NoKeys,
                },
            ))
        }
    }

    /// Forgets a disconnected tree.
    pub fn tree_disconnected(&mut self, tree_id: u32) {
        self.session.encrypted_trees.remove(&tree_id);
    }

    /// True if the session encrypts all its messages.
    pub fn encrypts_all(&self) -> bool {
        self.session.encrypt_all
    }
}
