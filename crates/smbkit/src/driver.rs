//! The tokio driver: one reader task that routes every response to the
//! request waiting for it by MessageId, one writer task that sends whole
//! frames in turn, and the request path that reserves credits, signs,
//! sends and waits.
//!
//! All protocol decisions (message ids, credits, signatures) live in
//! `smbkit-proto`; this module only moves bytes and wakes tasks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::{Bytes, BytesMut};
use smbkit_proto::crypto::{Decryptor, Encryptor, Signer};
use smbkit_proto::smb2::close::CloseRequest;
use smbkit_proto::smb2::create::CreateResponse;
use smbkit_proto::smb2::header::{self, Header};
use smbkit_proto::smb2::transform::{frame_kind, FrameKind};
use smbkit_proto::smb2::CancelRequest;
use smbkit_proto::state::Credits;
use smbkit_proto::{Command, Dialect, EncodeError, NtStatus, Writer};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{Error, ProtocolError};
use crate::transport;

/// One response as the reader task delivers it.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    /// The decoded header.
    pub header: Header,
    /// The whole message (header included), a slice of the received frame.
    pub msg: Bytes,
    /// True if the message arrived encrypted (and so authenticated by the
    /// cipher's tag rather than by a signature).
    pub encrypted: bool,
}

type Waiter = oneshot::Sender<Result<Response, Error>>;

/// A request waiting for its response.
struct Slot {
    tx: Waiter,
    /// The request went out encrypted, so its response must come back
    /// encrypted too (MS-SMB2 §3.3.4.1.4).
    encrypted: bool,
}

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, Slot>,
    /// Requests given up on (timed out and cancelled) whose final response
    /// has not arrived yet: message id → went out encrypted. A response
    /// whose MessageId is neither waited for nor here is a protocol error
    /// (a replayed or forged message).
    cancelled: HashMap<u64, bool>,
    async_ids: HashMap<u64, u64>,
    /// CREATEs in flight whose handle nothing else closes: message id →
    /// tree id.
    creates: HashMap<u64, u32>,
    /// CREATEs given up on (timed out): if the server still opens the file,
    /// the reader closes the handle so that it does not stay open.
    abandoned: HashMap<u64, u32>,
}

/// Signing state of the connection's session.
#[derive(Default)]
pub(crate) struct SessionState {
    pub session_id: u64,
    /// Present once the session key is known and the session is neither
    /// guest nor anonymous.
    pub signer: Option<Arc<Signer>>,
    /// Session.SigningRequired (MS-SMB2 §3.2.1.3).
    pub signing_required: bool,
    /// Encrypts requests with Session.EncryptionKey, once the session has
    /// keys and the dialect and server can encrypt (MS-SMB2 §3.1.4.3).
    pub encryptor: Option<Arc<Encryptor>>,
    /// Decrypts responses with Session.DecryptionKey.
    pub decryptor: Option<Arc<Decryptor>>,
    /// Session.EncryptData: every request of the session is encrypted.
    pub encrypt_all: bool,
    /// Trees whose share asks for encryption (TreeConnect.EncryptData).
    pub encrypted_trees: HashSet<u32>,
}

impl SessionState {
    /// The encryptor for a request of `command` on `tree_id`, if it must be
    /// encrypted (MS-SMB2 §3.2.4.1.8: never NEGOTIATE nor SESSION_SETUP).
    fn encryptor_for(&self, command: Command, tree_id: u32) -> Option<Arc<Encryptor>> {
        if command == Command::NEGOTIATE || command == Command::SESSION_SETUP {
            return None;
        }
        let enc = self.encryptor.as_ref()?;
        if self.encrypt_all || (tree_id != 0 && self.encrypted_trees.contains(&tree_id)) {
            Some(enc.clone())
        } else {
            None
        }
    }
}

/// What the reader task and the request path share.
pub(crate) struct Shared {
    credits: Mutex<Credits>,
    pending: Mutex<Pending>,
    credit_notify: Notify,
    closed: AtomicBool,
    /// Becomes true when the connection is shut down: the reader and
    /// writer tasks then stop, which closes the socket.
    closing: watch::Sender<bool>,
    tx: mpsc::Sender<Outgoing>,
    pub session: RwLock<SessionState>,
    pub dialect: Dialect,
    /// Nonces of the encrypted frames received lately (only the reader
    /// task uses it).
    seen_nonces: Mutex<NonceWindow>,
    /// A weak handle to itself, for tasks the reader spawns.
    me: std::sync::Weak<Shared>,
}

/// The nonces of the last [`NonceWindow::CAPACITY`] encrypted frames
/// received. An authentic frame whose nonce is among them is a replay (a
/// server never reuses a nonce under one key: MS-SMB2 §2.2.41), refused
/// before its MessageId is even looked at; older replays still fail the
/// MessageId check of [`Shared::route_one`].
#[derive(Default)]
struct NonceWindow {
    order: std::collections::VecDeque<[u8; 16]>,
    set: HashSet<[u8; 16]>,
}

impl NonceWindow {
    const CAPACITY: usize = 4096;

    /// Records `nonce`; false if it is in the window already.
    fn insert(&mut self, nonce: [u8; 16]) -> bool {
        if !self.set.insert(nonce) {
            return false;
        }
        self.order.push_back(nonce);
        if self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// A built request whose message id and credits are reserved and whose
/// response slot is registered.
pub(crate) struct Prepared {
    pub message_id: u64,
    pub bytes: Vec<u8>,
    /// Bytes that follow `bytes` on the wire (WRITE data), not copied.
    pub tail: Bytes,
    /// Set when the request must go out encrypted: then it is not signed,
    /// and [`Shared::dispatch`] encrypts it.
    pub seal: Option<Arc<Encryptor>>,
    rx: oneshot::Receiver<Result<Response, Error>>,
}

/// One request of a compound chain: its body is encoded after a 64-byte
/// header placeholder, so that its offsets are right (see [`body`]).
pub(crate) struct Part {
    pub command: Command,
    pub tree_id: u32,
    pub charge: u16,
    pub body: Vec<u8>,
}

/// Encodes a request body on its own (offsets relative to a header at 0).
pub(crate) fn body(
    encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
) -> Result<Vec<u8>, Error> {
    let mut w = Writer::new();
    w.zeros(header::HEADER_LEN);
    encode(&mut w)?;
    Ok(w.as_slice()[header::HEADER_LEN..].to_vec())
}

/// One frame for the writer task: the 4-byte session-message header, the
/// message, and an optional tail (the data of a WRITE) sent after it
/// without being copied into the message.
pub(crate) struct Outgoing {
    header: [u8; 4],
    msg: Vec<u8>,
    tail: Bytes,
}

impl Outgoing {
    fn new(msg: Vec<u8>) -> Result<Self, Error> {
        Self::with_tail(msg, Bytes::new())
    }

    pub(crate) fn with_tail(msg: Vec<u8>, tail: Bytes) -> Result<Self, Error> {
        let header = smbkit_proto::nbss::message_header(msg.len() + tail.len())
            .map_err(|e| Error::InvalidArgument(format!("message too large to send: {e}")))?;
        Ok(Outgoing { header, msg, tail })
    }

    /// One encrypted frame: `msg` and `tail` are copied once into a new
    /// buffer behind a TRANSFORM_HEADER and encrypted there (MS-SMB2
    /// §3.1.4.3).
    fn sealed(enc: &Encryptor, msg: &[u8], tail: &[u8]) -> Result<Self, Error> {
        let mut frame = Vec::new();
        enc.seal_parts(&[msg, tail], &mut frame)
            .map_err(|e| Error::InvalidArgument(format!("cannot encrypt the message: {e}")))?;
        Self::new(frame)
    }

    fn len(&self) -> usize {
        4 + self.msg.len() + self.tail.len()
    }
}

/// Handles of the driver's tasks; dropping it stops them.
pub(crate) struct Tasks {
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Tasks {
    /// The reader and writer task of a connection.
    pub(crate) fn new(reader: JoinHandle<()>, writer: JoinHandle<()>) -> Self {
        Tasks { reader, writer }
    }

    /// Stops both tasks and waits until they are gone, which closes the
    /// socket.
    pub(crate) async fn close(self) {
        self.reader.abort();
        self.writer.abort();
        let _ = (&mut { self }.reader).await;
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl Shared {
    /// Starts the reader and writer tasks over a negotiated stream.
    pub(crate) fn start(
        rd: OwnedReadHalf,
        wr: OwnedWriteHalf,
        credits: Credits,
        dialect: Dialect,
        max_frame: usize,
    ) -> (Arc<Shared>, Tasks) {
        let (tx, rx) = mpsc::channel::<Outgoing>(256);
        let (closing, closed) = watch::channel(false);
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            credits: Mutex::new(credits),
            pending: Mutex::new(Pending::default()),
            credit_notify: Notify::new(),
            closed: AtomicBool::new(false),
            closing,
            tx,
            session: RwLock::new(SessionState::default()),
            dialect,
            seen_nonces: Mutex::new(NonceWindow::default()),
        });
        let reader = tokio::spawn(reader_task(
            rd,
            Arc::downgrade(&shared),
            max_frame,
            closed.clone(),
        ));
        let writer = tokio::spawn(writer_task(wr, rx, Arc::downgrade(&shared), closed));
        (shared, Tasks { reader, writer })
    }

    /// True once the connection is closed or its stream has died.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the connection closed, fails every waiting request and stops
    /// the reader and writer tasks, which closes the socket ("the client
    /// MUST disconnect", MS-SMB2 §3.2.5.1.1.1, §3.2.5.1.3).
    pub(crate) fn shut_down(&self, why: &str) {
        self.shut_down_with(why, || Error::NotConnected);
    }

    /// Like [`Shared::shut_down`], failing the waiting requests with the
    /// errors `error` makes (the reason the connection had to go).
    pub(crate) fn shut_down_with(&self, why: &str, error: impl Fn() -> Error) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(why, "connection closed");
        self.closing.send_replace(true);
        let waiters: Vec<Slot> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.async_ids.clear();
            p.cancelled.clear();
            p.waiters.drain().map(|(_, w)| w).collect()
        };
        for w in waiters {
            let _ = w.tx.send(Err(error()));
        }
        self.credit_notify.notify_waiters();
    }

    /// Reserves credits (waiting for grants if needed), builds the message
    /// and registers its response slot.
    pub(crate) async fn prepare(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Prepared, Error> {
        // The body first: one that cannot be encoded takes no message id.
        let mut w = Writer::new();
        w.zeros(header::HEADER_LEN);
        body(&mut w)?;
        let (message_id, credits_asked) = self.reserve(charge, deadline).await?;
        let header_charge = self
            .credits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .header_charge(charge);
        let (session_id, seal) = if command == Command::NEGOTIATE {
            (0, None)
        } else {
            let s = self.session.read().unwrap_or_else(|e| e.into_inner());
            (s.session_id, s.encryptor_for(command, tree_id))
        };
        let mut h = Header::request(command);
        h.credit_charge = header_charge;
        h.credits = credits_asked;
        h.message_id = message_id;
        h.tree_id = tree_id;
        h.session_id = session_id;
        w.as_mut_slice()[..header::HEADER_LEN].copy_from_slice(&h.to_bytes());
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.waiters.insert(
                message_id,
                Slot {
                    tx,
                    encrypted: seal.is_some(),
                },
            );
            if command == Command::CREATE {
                p.creates.insert(message_id, tree_id);
            }
        }
        Ok(Prepared {
            message_id,
            bytes: w.into_vec(),
            tail: Bytes::new(),
            seal,
            rx,
        })
    }

    /// Waits until `charge` credits are available and reserves that many
    /// consecutive message ids; returns the first and the credits to ask for.
    async fn reserve(&self, charge: u16, deadline: Instant) -> Result<(u64, u16), Error> {
        loop {
            let notified = self.credit_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return Err(Error::NotConnected);
            }
            {
                let mut c = self.credits.lock().unwrap_or_else(|e| e.into_inner());
                let ask = c.request_for(charge);
                if let Some(id) = c.reserve(charge) {
                    return Ok((id, ask));
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::Timeout {
                    operation: "waiting for credits",
                    after: deadline.saturating_duration_since(Instant::now()),
                });
            }
        }
    }

    /// Sends `parts` as one compound chain (MS-SMB2 §3.2.4.1.4) and returns
    /// their verified responses in order. With `related`, every part after
    /// the first operates on the file the first one opened (its FileId
    /// fields should be [`smbkit_proto::smb2::create::FileId::ANY`]).
    pub(crate) async fn compound(
        &self,
        parts: Vec<Part>,
        related: bool,
        deadline: Instant,
        operation: &'static str,
    ) -> Result<Vec<Response>, Error> {
        let total: u16 = parts
            .iter()
            .map(|p| p.charge.max(1))
            .fold(0u16, |a, b| a.saturating_add(b));
        let (first_id, ask) = self.reserve(total, deadline).await?;
        let (session_id, seal) = {
            let s = self.session.read().unwrap_or_else(|e| e.into_inner());
            // One TRANSFORM_HEADER covers the whole chain: encrypt it if
            // any of its requests must be.
            let seal = parts
                .iter()
                .find_map(|p| s.encryptor_for(p.command, p.tree_id));
            (s.session_id, seal)
        };
        let large_mtu = self
            .credits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .large_mtu();
        let n = parts.len();
        let closes = parts.iter().any(|p| p.command == Command::CLOSE);
        let mut frame = Vec::new();
        let mut receivers = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        let mut next_id = first_id;
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
            h.session_id = session_id;
            if related && i > 0 {
                h.flags |= header::flags::RELATED_OPERATIONS;
            }
            let mut w = Writer::new();
            h.encode(&mut w);
            w.bytes(&part.body);
            if i + 1 < n {
                w.align(8);
                let len = w.len() as u32;
                w.patch_u32(header::NEXT_COMMAND_OFFSET, len);
            }
            let mut msg = w.into_vec();
            if seal.is_none() {
                if let Some(signer) = self.request_signer(part.command) {
                    signer.sign(&mut msg);
                }
            }
            frame.extend_from_slice(&msg);
            let (tx, rx) = oneshot::channel();
            {
                let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                p.waiters.insert(
                    next_id,
                    Slot {
                        tx,
                        encrypted: seal.is_some(),
                    },
                );
                if part.command == Command::CREATE && !closes {
                    p.creates.insert(next_id, part.tree_id);
                }
            }
            receivers.push(rx);
            ids.push(next_id);
            next_id += u64::from(charge);
        }
        let result = async {
            let framed = match &seal {
                Some(enc) => Outgoing::sealed(enc, &frame, &[])?,
                None => Outgoing::new(frame)?,
            };
            if self.is_closed() {
                return Err(Error::NotConnected);
            }
            self.tx
                .send(framed)
                .await
                .map_err(|_| Error::NotConnected)?;
            let mut out = Vec::with_capacity(n);
            for rx in receivers {
                out.push(rx.await.map_err(|_| Error::NotConnected)??);
            }
            Ok(out)
        };
        let responses = match tokio::time::timeout_at(deadline, result).await {
            Ok(r) => r?,
            Err(_) => {
                for id in ids {
                    self.cancel(id);
                }
                return Err(Error::Timeout {
                    operation,
                    after: deadline.saturating_duration_since(Instant::now()),
                });
            }
        };
        for r in &responses {
            self.verify(r)?;
        }
        Ok(responses)
    }

    /// Sends a prepared request and waits for its final response.
    pub(crate) async fn dispatch(
        &self,
        p: Prepared,
        deadline: Instant,
        operation: &'static str,
    ) -> Result<Response, Error> {
        let Prepared {
            message_id,
            bytes,
            tail,
            seal,
            rx,
        } = p;
        let result = async {
            let framed = match &seal {
                Some(enc) => Outgoing::sealed(enc, &bytes, &tail)?,
                None => Outgoing::with_tail(bytes, tail)?,
            };
            if self.is_closed() {
                return Err(Error::NotConnected);
            }
            self.tx
                .send(framed)
                .await
                .map_err(|_| Error::NotConnected)?;
            rx.await.map_err(|_| Error::NotConnected)?
        };
        match tokio::time::timeout_at(deadline, result).await {
            Ok(r) => r,
            Err(_) => {
                self.cancel(message_id);
                Err(Error::Timeout {
                    operation,
                    after: deadline.saturating_duration_since(Instant::now()),
                })
            }
        }
    }

    /// Gives up on a request: forgets its slot and asks the server to
    /// cancel it (MS-SMB2 §3.2.4.24), so that it stops working on it. The
    /// CANCEL takes no credit and gets no response; the cancelled request's
    /// own (error) response still returns its credits.
    fn cancel(&self, message_id: u64) {
        let (async_id, encrypted) = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let Some(slot) = p.waiters.remove(&message_id) else {
                // Answered meanwhile.
                return;
            };
            if let Some(tree_id) = p.creates.remove(&message_id) {
                p.abandoned.insert(message_id, tree_id);
            }
            p.cancelled.insert(message_id, slot.encrypted);
            (p.async_ids.get(&message_id).copied(), slot.encrypted)
        };
        if self.is_closed() {
            return;
        }
        let mut h = Header::request(Command::CANCEL);
        h.message_id = message_id;
        h.async_id = async_id;
        h.session_id = self
            .session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .session_id;
        let mut w = Writer::new();
        h.encode(&mut w);
        CancelRequest.encode(&mut w);
        let mut bytes = w.into_vec();
        let encryptor = self
            .session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .encryptor
            .clone();
        let framed = match encryptor {
            // A CANCEL is encrypted like the request it cancels.
            Some(enc) if encrypted => Outgoing::sealed(&enc, &bytes, &[]),
            _ => {
                if let Some(signer) = self.request_signer(Command::CANCEL) {
                    signer.sign(&mut bytes);
                }
                Outgoing::new(bytes)
            }
        };
        if let Ok(framed) = framed {
            // Best effort: a full queue means the connection is in trouble
            // anyway, and the timeout has already been reported.
            let _ = self.tx.try_send(framed);
        }
    }

    /// The signer to use for a request of `command`, if it must be signed
    /// (MS-SMB2 §3.2.4.1.1; TREE_CONNECT is always signed on 3.1.1 for
    /// authenticated, non-guest sessions).
    fn request_signer(&self, command: Command) -> Option<Arc<Signer>> {
        let s = self.session.read().unwrap_or_else(|e| e.into_inner());
        let signer = s.signer.clone()?;
        if s.signing_required
            || (self.dialect == Dialect::SMB3_1_1 && command == Command::TREE_CONNECT)
        {
            Some(signer)
        } else {
            None
        }
    }

    /// Checks a response's signature per MS-SMB2 §3.2.5.1.3 (skipped for a
    /// message that arrived encrypted: its tag authenticated it).
    pub(crate) fn verify(&self, r: &Response) -> Result<(), Error> {
        if r.encrypted {
            return Ok(());
        }
        let (signer, required) = {
            let s = self.session.read().unwrap_or_else(|e| e.into_inner());
            (s.signer.clone(), s.signing_required)
        };
        let command = format!("{:?}", r.header.command);
        if r.header.is_signed() {
            match signer {
                Some(signer) if signer.verify(&r.msg) => Ok(()),
                Some(_) => Err(ProtocolError::BadSignature { command }.into()),
                // A signature we cannot check (no key yet): only acceptable
                // when signing is not required.
                None if !required => Ok(()),
                None => Err(ProtocolError::BadSignature { command }.into()),
            }
        } else if required && signer.is_some() && r.header.status != NtStatus::PENDING {
            Err(ProtocolError::Unsigned { command }.into())
        } else {
            Ok(())
        }
    }

    /// Sends one request, signed by the session's rules (MS-SMB2
    /// §3.2.4.1.1), and returns its verified response (of any status).
    /// NEGOTIATE and SESSION_SETUP use [`Shared::prepare`] and
    /// [`Shared::dispatch`] directly.
    pub(crate) async fn request(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Response, Error> {
        self.request_signing(command, tree_id, charge, deadline, operation, false, body)
            .await
    }

    /// Like [`Shared::request`], but signed whenever the session has a key,
    /// whether or not the session signs its other messages (for
    /// FSCTL_VALIDATE_NEGOTIATE_INFO, MS-SMB2 §3.2.5.5: "the client MUST
    /// sign the request"); an encrypted request is not signed.
    pub(crate) async fn request_signed(
        &self,
        command: Command,
        tree_id: u32,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Response, Error> {
        self.request_signing(command, tree_id, 1, deadline, operation, true, body)
            .await
    }

    /// [`Shared::request`], signing by the session's rules or, with
    /// `always_sign`, whenever there is a key.
    #[allow(clippy::too_many_arguments)]
    async fn request_signing(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        always_sign: bool,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Response, Error> {
        let mut p = self
            .prepare(command, tree_id, charge, deadline, body)
            .await?;
        if p.seal.is_none() {
            let signer = if always_sign {
                self.session
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .signer
                    .clone()
            } else {
                self.request_signer(command)
            };
            if let Some(signer) = signer {
                signer.sign(&mut p.bytes);
            }
        }
        let r = self.dispatch(p, deadline, operation).await?;
        self.verify(&r)?;
        Ok(r)
    }

    /// Like [`Shared::request`], with `tail` sent right after the encoded
    /// message as part of it (the data of a WRITE, whose header says
    /// where it starts). The tail is only copied when the message must be
    /// signed, since the signature covers it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request_with_tail(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
        tail: Bytes,
    ) -> Result<Response, Error> {
        let mut p = self
            .prepare(command, tree_id, charge, deadline, body)
            .await?;
        match self.request_signer(command) {
            Some(signer) if p.seal.is_none() => {
                p.bytes.extend_from_slice(&tail);
                signer.sign(&mut p.bytes);
            }
            _ => p.tail = tail,
        }
        let r = self.dispatch(p, deadline, operation).await?;
        self.verify(&r)?;
        Ok(r)
    }

    /// Closes the handle a timed-out CREATE opened after all.
    fn close_abandoned(&self, tree_id: u32, msg: &Bytes) {
        let Ok(create) = CreateResponse::decode(msg) else {
            return;
        };
        let Some(shared) = self.me.upgrade() else {
            return;
        };
        tracing::debug!(?create.file_id, "closing the handle of a CREATE that timed out");
        tokio::spawn(async move {
            let req = CloseRequest {
                flags: 0,
                file_id: create.file_id,
            };
            let deadline = Instant::now() + std::time::Duration::from_secs(30);
            let _ = shared
                .request(Command::CLOSE, tree_id, 1, deadline, "CLOSE", |w| {
                    req.encode(w);
                    Ok(())
                })
                .await;
        });
    }

    /// Routes one received frame: an SMB2 message or compound chain, or an
    /// encrypted one (MS-SMB2 §3.2.5.1), which is decrypted in place first.
    fn route(&self, mut frame: BytesMut) -> Result<(), Error> {
        match frame_kind(&frame) {
            FrameKind::Smb2 => self.route_chain(frame.freeze(), false),
            FrameKind::Transform => {
                let decryptor = self
                    .session
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .decryptor
                    .clone()
                    .ok_or_else(|| {
                        ProtocolError::Unexpected(
                            "the server sent an encrypted message, but this session has no \
                             encryption keys"
                                .into(),
                        )
                    })?;
                let range = decryptor
                    .open(&mut frame)
                    .map_err(|e| ProtocolError::Decryption(e.to_string()))?;
                let mut nonce = [0u8; 16];
                nonce.copy_from_slice(&frame[smbkit_proto::smb2::transform::NONCE_RANGE]);
                let fresh = self
                    .seen_nonces
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(nonce);
                if !fresh {
                    return Err(ProtocolError::Decryption(
                        "an encrypted message with a nonce received before (a replay)".into(),
                    )
                    .into());
                }
                let plain = frame.freeze().slice(range);
                if frame_kind(&plain) != FrameKind::Smb2 {
                    return Err(ProtocolError::Unexpected(
                        "an encrypted frame that does not hold an SMB2 message".into(),
                    )
                    .into());
                }
                self.route_chain(plain, true)
            }
            _ => Err(ProtocolError::Unexpected(
                "a frame that is not an SMB2 message arrived".into(),
            )
            .into()),
        }
    }

    /// Routes each message of a (possibly compound) chain.
    fn route_chain(&self, frame: Bytes, encrypted: bool) -> Result<(), Error> {
        let parts = header::split_compound(&frame)
            .map_err(|e| ProtocolError::decode("compound response", e))?;
        let base = frame.as_ptr() as usize;
        let ranges: Vec<(usize, usize)> = parts
            .iter()
            .map(|s| (s.as_ptr() as usize - base, s.len()))
            .collect();
        for (off, len) in ranges {
            let msg = frame.slice(off..off + len);
            self.route_one(msg, encrypted)?;
        }
        Ok(())
    }

    fn route_one(&self, msg: Bytes, encrypted: bool) -> Result<(), Error> {
        let header = Header::decode(&msg).map_err(|e| ProtocolError::decode("SMB2 header", e))?;
        if !header.is_response() {
            return Err(ProtocolError::Unexpected(format!(
                "the server sent a request ({:?})",
                header.command
            ))
            .into());
        }
        if header.message_id == u64::MAX {
            // Unsolicited OPLOCK_BREAK / lease break notification: nothing
            // waits for it, and no handles with oplocks are requested.
            tracing::debug!(command = ?header.command, "ignored unsolicited notification");
            return Ok(());
        }
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let id = header.message_id;
        let sent_encrypted = match (p.waiters.get(&id), p.cancelled.get(&id)) {
            (Some(slot), _) => slot.encrypted,
            (None, Some(&e)) => e,
            (None, None) => {
                // Not a response to anything outstanding: a duplicate, a
                // replay or a forgery. Nothing can be trusted after it.
                return Err(ProtocolError::Unexpected(format!(
                    "a {:?} response with MessageId {id}, which no request is waiting for",
                    header.command
                ))
                .into());
            }
        };
        if sent_encrypted && !encrypted {
            // MS-SMB2 §3.3.4.1.4: the response to an encrypted request is
            // encrypted. A plain one was not sent by the server we share
            // keys with, or was downgraded on the way.
            return Err(ProtocolError::Unencrypted {
                command: format!("{:?}", header.command),
            }
            .into());
        }
        {
            let mut c = self.credits.lock().unwrap_or_else(|e| e.into_inner());
            c.grant(header.credits);
        }
        self.credit_notify.notify_waiters();
        if header.status == NtStatus::PENDING && header.is_async() {
            // Interim response (MS-SMB2 §3.2.5.1.5): keep waiting for the
            // final one, remembering its AsyncId.
            if let Some(a) = header.async_id {
                p.async_ids.insert(id, a);
            }
            return Ok(());
        }
        p.async_ids.remove(&id);
        p.creates.remove(&id);
        p.cancelled.remove(&id);
        if let Some(tree_id) = p.abandoned.remove(&id) {
            drop(p);
            if header.status == NtStatus::SUCCESS {
                self.close_abandoned(tree_id, &msg);
            }
            return Ok(());
        }
        if let Some(w) = p.waiters.remove(&id) {
            drop(p);
            let _ = w.tx.send(Ok(Response {
                header,
                msg,
                encrypted,
            }));
        }
        Ok(())
    }
}

/// The error each request in flight gets when `e`, raised by a received
/// message, closes the connection. A frame that failed to decrypt and an
/// unencrypted response keep their kind, so that a caller can tell a
/// tampered or downgraded connection from other failures; anything else
/// becomes [`ProtocolError::Unexpected`] naming the reason.
fn closing_error(e: &Error) -> Error {
    match e {
        Error::Protocol(ProtocolError::Decryption(m)) => {
            ProtocolError::Decryption(format!("{m}; the connection was closed")).into()
        }
        Error::Protocol(ProtocolError::Unencrypted { command }) => ProtocolError::Unencrypted {
            command: command.clone(),
        }
        .into(),
        e => ProtocolError::Unexpected(format!("connection closed: {e}")).into(),
    }
}

/// Resolves once the connection is shut down (or its [`Shared`] is gone).
async fn shut_down_signal(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|c| *c).await;
}

/// Receive memory is taken in blocks of at least this size (see
/// [`transport::RecvPool`]).
const RECEIVE_BLOCK: usize = 1024 * 1024;

async fn reader_task(
    rd: OwnedReadHalf,
    shared: std::sync::Weak<Shared>,
    max_frame: usize,
    mut closed: watch::Receiver<bool>,
) {
    let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
    // Responses of up to 256 KiB share 1 MiB blocks; larger ones (READs of
    // 1 MiB) get blocks of their own, used again once the frames cut from
    // them are dropped.
    let mut pool = transport::RecvPool::new(RECEIVE_BLOCK);
    loop {
        let frame = tokio::select! {
            biased;
            () = shut_down_signal(&mut closed) => return,
            f = transport::read_frame_pooled_mut(&mut rd, max_frame, &mut pool) => f,
        };
        let Some(s) = shared.upgrade() else { return };
        match frame {
            Ok(f) => {
                if let Err(e) = s.route(f) {
                    tracing::warn!(error = %e, "closing the connection");
                    // The requests in flight fail with the reason: nothing
                    // read after a bad message can be trusted.
                    s.shut_down_with("protocol error", || closing_error(&e));
                    return;
                }
            }
            Err(e) => {
                s.shut_down(&format!("read failed: {e}"));
                return;
            }
        }
    }
}

/// Messages at least this large bypass the write buffer and go out with
/// one vectored write.
const DIRECT_WRITE: usize = 64 * 1024;

async fn write_one(wr: &mut BufWriter<OwnedWriteHalf>, f: &Outgoing) -> std::io::Result<()> {
    if f.len() < DIRECT_WRITE {
        wr.write_all(&f.header).await?;
        wr.write_all(&f.msg).await?;
        return wr.write_all(&f.tail).await;
    }
    wr.flush().await?;
    let stream = wr.get_mut();
    let mut bufs = [
        std::io::IoSlice::new(&f.header),
        std::io::IoSlice::new(&f.msg),
        std::io::IoSlice::new(&f.tail),
    ];
    let mut slices: &mut [std::io::IoSlice<'_>] = &mut bufs;
    while !slices.is_empty() {
        let n = stream.write_vectored(slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        std::io::IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

/// Writes `first`, then whatever `next` still has queued, then flushes
/// once: frames queued meanwhile go out in one flush.
pub(crate) async fn write_batch(
    wr: &mut BufWriter<OwnedWriteHalf>,
    first: &Outgoing,
    mut next: impl FnMut() -> Option<Outgoing>,
) -> std::io::Result<()> {
    write_one(wr, first).await?;
    while let Some(f) = next() {
        write_one(wr, &f).await?;
    }
    wr.flush().await
}

async fn writer_task(
    wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Outgoing>,
    shared: std::sync::Weak<Shared>,
    mut closed: watch::Receiver<bool>,
) {
    let mut wr = BufWriter::with_capacity(256 * 1024, wr);
    let send = async {
        while let Some(frame) = rx.recv().await {
            let res = write_batch(&mut wr, &frame, || rx.try_recv().ok()).await;
            if let Err(e) = res {
                if let Some(s) = shared.upgrade() {
                    s.shut_down(&format!("write failed: {e}"));
                }
                return false;
            }
        }
        true
    };
    // Once the connection is shut down nothing more is sent, not even what
    // is queued or half written: the socket is closed as it is.
    let drained = tokio::select! {
        biased;
        () = shut_down_signal(&mut closed) => false,
        drained = send => drained,
    };
    if drained {
        let _ = wr.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    //! The encryption rules of the request path and the reader, against a
    //! scripted server on loopback that holds the session's keys: what a
    //! server in the middle of a real connection cannot be made to send.

    use std::time::Duration;

    use smbkit_proto::crypto::{Cipher, SigningAlgorithm};
    use smbkit_proto::smb2::header::flags;
    use smbkit_proto::smb2::{EchoRequest, EchoResponse, TRANSFORM_HEADER_LEN};
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const SESSION: u64 = 0x0000_1000_0000_0025;
    const CIPHER: Cipher = Cipher::Aes128Gcm;
    /// The client's Session.EncryptionKey, the server's DecryptionKey.
    const TO_SERVER: [u8; 16] = [0x11; 16];
    /// The server's Session.EncryptionKey, the client's DecryptionKey.
    const TO_CLIENT: [u8; 16] = [0x22; 16];
    /// Upper bound of every wait.
    const LIMIT: Duration = Duration::from_secs(10);

    async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
        tokio::time::timeout(LIMIT, f)
            .await
            .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
    }

    /// The server end of the connection.
    struct Peer {
        stream: TcpStream,
        /// Encrypts with TO_CLIENT, as the server does.
        enc: Encryptor,
        /// Decrypts with TO_SERVER.
        dec: Decryptor,
    }

    impl Peer {
        /// Reads one frame; returns the SMB2 message (decrypted if it was
        /// encrypted) and whether it was.
        async fn read(&mut self) -> (Vec<u8>, bool) {
            let mut h = [0u8; 4];
            within("reading a request", self.stream.read_exact(&mut h))
                .await
                .unwrap();
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            let mut f = vec![0u8; len];
            within("reading a request", self.stream.read_exact(&mut f))
                .await
                .unwrap();
            match frame_kind(&f) {
                FrameKind::Transform => {
                    let r = self.dec.open(&mut f).unwrap();
                    (f[r].to_vec(), true)
                }
                FrameKind::Smb2 => (f, false),
                k => panic!("unexpected frame {k:?}"),
            }
        }

        /// Reads one request, which must be encrypted; returns its header.
        async fn request(&mut self) -> Header {
            let (msg, encrypted) = self.read().await;
            assert!(
                encrypted,
                "a request of an encrypted session went out in plain"
            );
            Header::decode(&msg).unwrap()
        }

        /// Sends one frame as it is.
        async fn send(&mut self, frame: &[u8]) {
            let h = smbkit_proto::nbss::message_header(frame.len()).unwrap();
            self.stream.write_all(&h).await.unwrap();
            self.stream.write_all(frame).await.unwrap();
        }

        /// `msg` encrypted with the server's key.
        fn seal(&self, msg: &[u8]) -> Vec<u8> {
            let mut f = Vec::new();
            self.enc.seal_parts(&[msg], &mut f).unwrap();
            f
        }

        /// Waits until the client has closed its end of the connection.
        async fn assert_disconnected(&mut self) {
            let mut buf = [0u8; 4096];
            loop {
                match within("the client to disconnect", self.stream.read(&mut buf)).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        }
    }

    /// A driver whose session encrypts everything, and the server end.
    async fn start() -> (Arc<Shared>, Tasks, Peer) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let (rd, wr) = client.into_split();
        let mut credits = Credits::new();
        credits.grant(63);
        let (shared, tasks) = Shared::start(rd, wr, credits, Dialect::SMB3_1_1, 1 << 20);
        {
            let mut s = shared.session.write().unwrap();
            s.session_id = SESSION;
            s.encryptor = Some(Arc::new(
                Encryptor::new(CIPHER, &TO_SERVER, SESSION, [1, 2, 3, 4]).unwrap(),
            ));
            s.decryptor = Some(Arc::new(
                Decryptor::new(CIPHER, &TO_CLIENT, SESSION).unwrap(),
            ));
            s.encrypt_all = true;
        }
        let peer = Peer {
            stream: server,
            enc: Encryptor::new(CIPHER, &TO_CLIENT, SESSION, [5, 6, 7, 8]).unwrap(),
            dec: Decryptor::new(CIPHER, &TO_SERVER, SESSION).unwrap(),
        };
        (shared, tasks, peer)
    }

    async fn echo(shared: &Shared, limit: Duration) -> Result<Response, Error> {
        shared
            .request(Command::ECHO, 0, 1, Instant::now() + limit, "echo", |w| {
                EchoRequest.encode(w);
                Ok(())
            })
            .await
    }

    /// A plaintext ECHO response to `req`.
    fn echo_response(req: &Header) -> Vec<u8> {
        let mut h = Header::request(Command::ECHO);
        h.flags |= flags::SERVER_TO_REDIR;
        h.credits = 1;
        h.message_id = req.message_id;
        h.session_id = req.session_id;
        let mut w = Writer::new();
        h.encode(&mut w);
        EchoResponse.encode(&mut w);
        w.into_vec()
    }

    /// Sends an ECHO, lets `answer` reply for the server, and returns what
    /// the ECHO got.
    async fn echo_answered(
        shared: &Shared,
        peer: &mut Peer,
        answer: impl AsyncFnOnce(&mut Peer, Header),
    ) -> Result<Response, Error> {
        let (r, ()) = tokio::join!(within("echo", echo(shared, LIMIT)), async {
            let req = peer.request().await;
            answer(peer, req).await;
        });
        r
    }

    /// After a bad message: the connection is closed for new requests, and
    /// its socket is closed.
    async fn assert_shut_down(shared: &Shared, peer: &mut Peer) {
        assert!(shared.is_closed());
        let e = within("echo after shut down", echo(shared, LIMIT))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NotConnected), "{e:?}");
        peer.assert_disconnected().await;
    }

    #[test]
    fn nonce_window_refuses_repeats_and_forgets_the_oldest() {
        let mut w = NonceWindow::default();
        let n = |i: usize| {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&(i as u64).to_le_bytes());
            a
        };
        for i in 0..NonceWindow::CAPACITY {
            assert!(w.insert(n(i)));
        }
        assert!(!w.insert(n(0)));
        assert!(!w.insert(n(NonceWindow::CAPACITY - 1)));
        assert!(w.insert(n(NonceWindow::CAPACITY)));
        // The oldest was forgotten to make room (a replay that old is
        // caught by the MessageId check instead).
        assert!(w.insert(n(0)));
        assert_eq!(w.order.len(), NonceWindow::CAPACITY);
        assert_eq!(w.set.len(), NonceWindow::CAPACITY);
    }

    #[tokio::test]
    async fn encrypted_response_is_taken_and_its_replay_refused() {
        let (shared, _tasks, mut peer) = start().await;
        let mut sent = Vec::new();
        let r = echo_answered(&shared, &mut peer, async |p, req| {
            sent = p.seal(&echo_response(&req));
            p.send(&sent).await;
        })
        .await
        .unwrap();
        assert!(r.encrypted);
        assert_eq!(r.header.command, Command::ECHO);
        // The same frame again, as the answer to the next ECHO.
        let e = echo_answered(&shared, &mut peer, async |p, _| p.send(&sent).await)
            .await
            .unwrap_err();
        match &e {
            Error::Protocol(ProtocolError::Decryption(m)) => {
                assert!(m.contains("nonce received before"), "{m}")
            }
            e => panic!("{e:?}"),
        }
        assert_shut_down(&shared, &mut peer).await;
    }

    #[tokio::test]
    async fn duplicated_response_closes_the_connection() {
        let (shared, _tasks, mut peer) = start().await;
        let r = echo_answered(&shared, &mut peer, async |p, req| {
            let f = p.seal(&echo_response(&req));
            p.send(&f).await;
            p.send(&f).await;
        })
        .await;
        assert!(r.unwrap().encrypted);
        peer.assert_disconnected().await;
        assert_shut_down(&shared, &mut peer).await;
    }

    #[tokio::test]
    async fn plaintext_response_is_refused() {
        let (shared, _tasks, mut peer) = start().await;
        let e = echo_answered(&shared, &mut peer, async |p, req| {
            p.send(&echo_response(&req)).await
        })
        .await
        .unwrap_err();
        assert!(
            matches!(&e, Error::Protocol(ProtocolError::Unencrypted { command }) if command == "ECHO"),
            "{e:?}"
        );
        assert_shut_down(&shared, &mut peer).await;
    }

    /// Signing does not stand in for encryption: a plaintext response with
    /// a valid signature is refused all the same.
    #[tokio::test]
    async fn signed_plaintext_response_is_refused() {
        let (shared, _tasks, mut peer) = start().await;
        let signer = Arc::new(Signer::new(SigningAlgorithm::AesCmac, &[0x33; 16]));
        {
            let mut s = shared.session.write().unwrap();
            s.signer = Some(signer.clone());
            s.signing_required = true;
        }
        let e = echo_answered(&shared, &mut peer, async |p, req| {
            let mut msg = echo_response(&req);
            signer.sign(&mut msg);
            assert!(signer.verify(&msg));
            p.send(&msg).await
        })
        .await
        .unwrap_err();
        assert!(
            matches!(&e, Error::Protocol(ProtocolError::Unencrypted { .. })),
            "{e:?}"
        );
        assert_shut_down(&shared, &mut peer).await;
    }

    /// An interim STATUS_PENDING response is held to the same rule.
    #[tokio::test]
    async fn plaintext_interim_response_is_refused() {
        let (shared, _tasks, mut peer) = start().await;
        let e = echo_answered(&shared, &mut peer, async |p, req| {
            let mut h = Header::decode(&echo_response(&req)).unwrap();
            h.status = NtStatus::PENDING;
            h.async_id = Some(7);
            let mut w = Writer::new();
            h.encode(&mut w);
            EchoResponse.encode(&mut w);
            p.send(w.as_slice()).await
        })
        .await
        .unwrap_err();
        assert!(
            matches!(&e, Error::Protocol(ProtocolError::Unencrypted { .. })),
            "{e:?}"
        );
        assert_shut_down(&shared, &mut peer).await;
    }

    /// Frames that do not decrypt: another session, another key, a bit
    /// flipped anywhere, a nested TRANSFORM_HEADER.
    #[tokio::test]
    async fn undecryptable_responses_fail_with_decryption() {
        type Make = Box<dyn Fn(&Peer, &Header) -> Vec<u8>>;
        let flipped = |i: usize| -> Make {
            Box::new(move |p: &Peer, req: &Header| {
                let mut f = p.seal(&echo_response(req));
                f[i] ^= 0x04;
                f
            })
        };
        let cases: Vec<(&str, &str, Make)> = vec![
            (
                "wrong SessionId",
                "encrypted frame for session",
                Box::new(|_: &Peer, req: &Header| {
                    let enc = Encryptor::new(CIPHER, &TO_CLIENT, SESSION + 1, [0; 4]).unwrap();
                    let mut f = Vec::new();
                    enc.seal_parts(&[&echo_response(req)], &mut f).unwrap();
                    f
                }),
            ),
            (
                "wrong key",
                "failed authentication",
                Box::new(|_: &Peer, req: &Header| {
                    let enc = Encryptor::new(CIPHER, &TO_SERVER, SESSION, [0; 4]).unwrap();
                    let mut f = Vec::new();
                    enc.seal_parts(&[&echo_response(req)], &mut f).unwrap();
                    f
                }),
            ),
            (
                "ciphertext",
                "failed authentication",
                flipped(TRANSFORM_HEADER_LEN + 30),
            ),
            ("tag", "failed authentication", flipped(10)),
            ("nonce", "failed authentication", flipped(25)),
            ("OriginalMessageSize", "malformed", flipped(37)),
            ("Reserved", "failed authentication", flipped(41)),
            ("Flags", "malformed", flipped(42)),
            (
                "nested TRANSFORM_HEADER",
                "itself encrypted",
                Box::new(|p: &Peer, req: &Header| p.seal(&p.seal(&echo_response(req)))),
            ),
        ];
        for (case, says, make) in cases {
            let (shared, _tasks, mut peer) = start().await;
            let e = echo_answered(&shared, &mut peer, async |p, req| {
                let f = make(p, &req);
                p.send(&f).await
            })
            .await
            .unwrap_err();
            match &e {
                Error::Protocol(ProtocolError::Decryption(m)) => {
                    assert!(m.contains(says), "{case}: {m}")
                }
                e => panic!("{case}: {e:?}"),
            }
            assert_shut_down(&shared, &mut peer).await;
        }
    }

    /// A frame that decrypts but holds no SMB2 message, or a response
    /// nothing asked for.
    #[tokio::test]
    async fn authentic_but_wrong_content_is_a_protocol_error() {
        let (shared, _tasks, mut peer) = start().await;
        let e = echo_answered(&shared, &mut peer, async |p, _| {
            let f = p.seal(b"\xFFSMB not an SMB2 message at all, long enough to be one");
            p.send(&f).await
        })
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        assert_shut_down(&shared, &mut peer).await;

        let (shared, _tasks, mut peer) = start().await;
        let e = echo_answered(&shared, &mut peer, async |p, req| {
            let mut other = req.clone();
            other.message_id += 40;
            let f = p.seal(&echo_response(&other));
            p.send(&f).await
        })
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        assert_shut_down(&shared, &mut peer).await;
    }

    /// A request given up on: its CANCEL is encrypted like it, the final
    /// response must still come encrypted, and an encrypted one is taken
    /// quietly.
    #[tokio::test]
    async fn cancelled_request_keeps_the_rules() {
        for plaintext_final in [false, true] {
            let (shared, _tasks, mut peer) = start().await;
            let (r, req) = tokio::join!(echo(&shared, Duration::from_millis(200)), async {
                let req = peer.request().await;
                let cancel = peer.request().await;
                assert_eq!(cancel.command, Command::CANCEL);
                assert_eq!(cancel.message_id, req.message_id);
                req
            });
            assert!(r.unwrap_err().is_timeout());
            let mut final_response = Header::decode(&echo_response(&req)).unwrap();
            final_response.status = NtStatus::CANCELLED;
            let mut w = Writer::new();
            final_response.encode(&mut w);
            w.u16(9).u16(0).u32(0).u8(0);
            let msg = w.into_vec();
            if plaintext_final {
                peer.send(&msg).await;
                within("the reader to refuse it", async {
                    while !shared.is_closed() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
                .await;
                assert_shut_down(&shared, &mut peer).await;
            } else {
                let f = peer.seal(&msg);
                peer.send(&f).await;
                let r = echo_answered(&shared, &mut peer, async |p, req| {
                    let f = p.seal(&echo_response(&req));
                    p.send(&f).await
                })
                .await;
                assert!(r.unwrap().encrypted);
                assert!(!shared.is_closed());
            }
        }
    }
}
