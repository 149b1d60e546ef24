//! The SMB 2/3 side of the driver: [`Core`] for [`Smb2Connection`], and the
//! request calls the family primitives
//! (`crate::family::smb2`) use.

use bytes::{Bytes, BytesMut};
use smbkit_proto::conn::smb2::{Event, Opener, Received, Request, Signing};
use smbkit_proto::conn::{RequestId, Smb2Connection, Transmit};
use smbkit_proto::smb2::create::CreateResponse;
use smbkit_proto::smb2::header::HEADER_LEN;
use smbkit_proto::{Command, EncodeError, NtStatus, Writer};
use tokio::time::Instant;

use super::{Completion, Core, Driver, Orphaned, Pending};
use crate::error::Error;

pub(crate) use smbkit_proto::conn::smb2::Response;

/// The driver of an SMB 2/3 connection.
pub(crate) type Shared = Driver<Smb2Connection>;

/// One request of a compound chain: its command, tree, charge and message
/// (header room, then the body: see [`body`]).
pub(crate) struct Part {
    pub command: Command,
    pub tree_id: u32,
    pub charge: u16,
    pub body: Vec<u8>,
}

/// Encodes a request body after room for its header, so that its offsets
/// count from the header as the protocol wants. A value the body cannot
/// carry is [`Error::InvalidArgument`] naming the limit.
pub(crate) fn body(
    encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
) -> Result<Vec<u8>, Error> {
    let mut w = Writer::new();
    w.zeros(HEADER_LEN);
    encode(&mut w)?;
    Ok(w.into_vec())
}

impl Core for Smb2Connection {
    type Output = Vec<Response>;
    type Opener = Opener;
    type Received = Received;

    fn opener(&self) -> Opener {
        Smb2Connection::opener(self)
    }
    fn open(opener: &Opener, frame: BytesMut) -> Received {
        opener.open(frame)
    }
    fn handle_received(&mut self, frame: Received, now: std::time::Instant) {
        Smb2Connection::handle_received(self, frame, now)
    }
    fn handle_timeout(&mut self, now: std::time::Instant) {
        Smb2Connection::handle_timeout(self, now)
    }
    fn handle_stream_error(&mut self, why: &str) {
        Smb2Connection::handle_stream_error(self, why)
    }
    fn handle_activity(&mut self, at: std::time::Instant) {
        Smb2Connection::handle_activity(self, at)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Smb2Connection::poll_transmit(self)
    }
    fn has_transmit(&self) -> bool {
        Smb2Connection::has_transmit(self)
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        Smb2Connection::poll_timeout(self)
    }
    fn poll_completion(&mut self) -> Option<Completion<Vec<Response>>> {
        loop {
            match self.poll_event()? {
                Event::Completed { id, result } => return Some(Completion::Done(id, result)),
                Event::Closed(_) => return Some(Completion::Closed),
                _ => continue,
            }
        }
    }
    fn cancel(&mut self, id: RequestId) {
        Smb2Connection::cancel(self, id)
    }
    fn detach(&mut self, id: RequestId) {
        Smb2Connection::detach(self, id)
    }
    fn close(&mut self) {
        Smb2Connection::close(self)
    }
    fn is_closed(&self) -> bool {
        Smb2Connection::is_closed(self)
    }
    fn max_frame(&self) -> usize {
        Smb2Connection::max_frame(self)
    }
}

/// Undoes what a request whose answer nobody took did: closes the handle
/// its CREATE opened, disconnects the tree its TREE_CONNECT connected.
fn undo_orphaned(core: &mut Smb2Connection, responses: Vec<Response>, now: std::time::Instant) {
    let Some(r) = responses.first() else {
        return;
    };
    if r.header.status != NtStatus::SUCCESS {
        return;
    }
    match r.header.command {
        Command::CREATE => {
            if let Ok(c) = CreateResponse::decode(&r.msg) {
                core.close_handle(r.header.tree_id, c.file_id, now);
            }
        }
        Command::TREE_CONNECT => core.disconnect_tree(r.header.tree_id, now),
        _ => {}
    }
}

/// A request sent with [`Shared::send_with_tail`] whose response is still
/// to come. Dropped before the response, it is withdrawn.
pub(crate) struct Sent2<'a> {
    pending: Pending<'a, Smb2Connection>,
}

impl Sent2<'_> {
    /// Waits for the verified response (of any status).
    pub(crate) async fn response(self) -> Result<Response, Error> {
        self.pending
            .answer()
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotConnected)
    }
}

impl Driver<Smb2Connection> {
    /// Starts `req` and waits for its responses.
    async fn run(&self, req: Request) -> Result<Vec<Response>, Error> {
        let closes = req.parts.iter().any(|p| p.command == Command::CLOSE);
        let opens = req.parts.first().is_some_and(|p| {
            (p.command == Command::CREATE && !closes) || p.command == Command::TREE_CONNECT
        });
        let orphaned: Option<Orphaned<Smb2Connection>> = opens.then_some(undo_orphaned);
        // Requests that release something on the server finish even when
        // their caller has gone.
        let finish_anyway = req.parts.iter().all(|p| {
            matches!(
                p.command,
                Command::CLOSE | Command::TREE_DISCONNECT | Command::LOGOFF
            )
        });
        self.begin(|core, now| core.start(req, now), orphaned, finish_anyway)?
            .answer()
            .await
    }

    async fn run_one(&self, req: Request) -> Result<Response, Error> {
        self.run(req)
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotConnected)
    }

    fn single(
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Request, Error> {
        Ok(Request::single(
            smbkit_proto::conn::smb2::Part {
                command,
                tree_id,
                charge,
                msg: body(encode)?,
            },
            deadline.into_std(),
            operation,
        ))
    }

    /// Sends one request, signed by the session's rules (MS-SMB2
    /// §3.2.4.1.1), and returns its verified response (of any status).
    pub(crate) async fn request(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Response, Error> {
        self.run_one(Self::single(
            command, tree_id, charge, deadline, operation, encode,
        )?)
        .await
    }

    /// Starts one request with `tail` sent right after its message (the
    /// data of a WRITE) and returns once it is queued; [`Sent2::response`]
    /// waits for the answer. Callers that keep several requests in flight
    /// from one task use this instead of a task per request.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_with_tail(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
        tail: Bytes,
    ) -> Result<Sent2<'_>, Error> {
        let mut req = Self::single(command, tree_id, charge, deadline, operation, encode)?;
        req.tail = tail;
        Ok(Sent2 {
            pending: self.begin(|core, now| core.start(req, now), None, false)?,
        })
    }

    /// Sends `parts` as one compound chain (MS-SMB2 §3.2.4.1.4) and returns
    /// their verified responses in order. With `related`, every part after
    /// the first operates on the file the first one opened.
    pub(crate) async fn compound(
        &self,
        parts: Vec<Part>,
        related: bool,
        deadline: Instant,
        operation: &'static str,
    ) -> Result<Vec<Response>, Error> {
        let parts = parts
            .into_iter()
            .map(|p| smbkit_proto::conn::smb2::Part {
                command: p.command,
                tree_id: p.tree_id,
                charge: p.charge,
                msg: p.body,
            })
            .collect();
        self.run(Request {
            parts,
            related,
            tail: Bytes::new(),
            signing: Signing::Session,
            deadline: deadline.into_std(),
            operation,
        })
        .await
    }

    /// Applies the tree encryption policy to a tree just connected (see
    /// [`Smb2Connection::tree_connected`]).
    pub(crate) fn tree_connected(&self, tree_id: u32, share_flags: u32) -> Result<bool, Error> {
        self.with_state(|st| st.core.tree_connected(tree_id, share_flags))
            .map_err(Error::from)
    }

    /// Forgets a disconnected tree.
    pub(crate) fn tree_disconnected(&self, tree_id: u32) {
        self.with_state(|st| st.core.tree_disconnected(tree_id));
    }

    /// Sends one request that the server may hold for as long as it likes
    /// once it has taken it (a CHANGE_NOTIFY: see
    /// [`Smb2Connection::start_open_ended`]) and returns its verified
    /// response (of any status). `ack_deadline` bounds only the wait for the
    /// server's interim response. Dropped, the request is withdrawn: CANCEL
    /// goes out with its AsyncId and the answer is absorbed.
    pub(crate) async fn request_open_ended(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        ack_deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Response, Error> {
        let req = Self::single(command, tree_id, charge, ack_deadline, operation, encode)?;
        self.begin(|core, now| core.start_open_ended(req, now), None, false)?
            .answer()
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotConnected)
    }
}
