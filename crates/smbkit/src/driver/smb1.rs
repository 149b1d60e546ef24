//! The SMB1 side of the driver: [`Core`] for [`Smb1Connection`], and the
//! request calls the family primitives
//! (`crate::family::smb1`) use.

use bytes::{Bytes, BytesMut};
use smbkit_proto::conn::smb1::{Event, Kind, Reply, Request};
use smbkit_proto::conn::{RequestId, Smb1Connection, Transmit};
use smbkit_proto::{EncodeError, Writer};
use tokio::time::Instant;

use super::{Completion, Core, Driver, Pending};
use crate::error::{Error, Internal};

/// One SMB1 response message, verified.
pub(crate) type Resp1 = smbkit_proto::conn::smb1::Response;
/// A whole transaction response.
pub(crate) type TransResp1 = smbkit_proto::conn::smb1::TransResponse;
/// The driver of an SMB1 connection.
pub(crate) type Smb1Shared = Driver<Smb1Connection>;

/// The largest SMB1 frame accepted (READ_ANDX over direct TCP answers up to
/// 16 MiB).
const MAX_FRAME: usize = 16 * 1024 * 1024;

impl Core for Smb1Connection {
    type Output = Reply;
    type Opener = ();
    type Received = BytesMut;

    fn opener(&self) {}
    fn open(_: &(), frame: BytesMut) -> BytesMut {
        frame
    }
    fn handle_received(&mut self, frame: BytesMut, now: std::time::Instant) {
        Smb1Connection::handle_frame(self, frame.freeze(), now)
    }
    fn handle_timeout(&mut self, now: std::time::Instant) {
        Smb1Connection::handle_timeout(self, now)
    }
    fn handle_stream_error(&mut self, why: &str) {
        Smb1Connection::handle_stream_error(self, why)
    }
    fn handle_activity(&mut self, at: std::time::Instant) {
        Smb1Connection::handle_activity(self, at)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Smb1Connection::poll_transmit(self)
    }
    fn has_transmit(&self) -> bool {
        Smb1Connection::has_transmit(self)
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        Smb1Connection::poll_timeout(self)
    }
    fn poll_completion(&mut self) -> Option<Completion<Reply>> {
        loop {
            match self.poll_event()? {
                Event::Completed { id, result } => return Some(Completion::Done(id, result)),
                Event::Closed(_) => return Some(Completion::Closed),
                _ => continue,
            }
        }
    }
    fn cancel(&mut self, id: RequestId) {
        Smb1Connection::cancel(self, id)
    }
    fn detach(&mut self, id: RequestId) {
        Smb1Connection::detach(self, id)
    }
    fn close(&mut self) {
        Smb1Connection::close(self)
    }
    fn is_closed(&self) -> bool {
        Smb1Connection::is_closed(self)
    }
    fn max_frame(&self) -> usize {
        MAX_FRAME
    }
}

/// Undoes what a request whose answer nobody took did: closes the file an
/// NT_CREATE_ANDX opened, disconnects the tree a TREE_CONNECT_ANDX
/// connected.
fn undo_orphaned(core: &mut Smb1Connection, reply: Reply, now: std::time::Instant) {
    let Reply::One(r) = reply else { return };
    let command = r.header.command;
    core.undo_late_answer(&r.header, &r.msg, command, now);
}

fn one(reply: Reply) -> Result<Resp1, Error> {
    match reply {
        Reply::One(r) => Ok(r),
        Reply::Trans(_) => {
            Err(Internal::Unexpected("a transaction reply to a single request").into())
        }
    }
}

/// A request sent with [`Smb1Shared::send`] whose response is still to
/// come. Dropped before the response, it is withdrawn: its MaxMpxCount slot
/// stays taken until the server answers, since the server still counts it.
pub(crate) struct Sent1<'a> {
    pending: Pending<'a, Smb1Connection>,
}

impl Sent1<'_> {
    /// Waits for the response (until the request's deadline); its
    /// signature is verified when signing is active.
    pub(crate) async fn response(self) -> Result<Resp1, Error> {
        one(self.pending.answer().await?)
    }
}

impl Driver<Smb1Connection> {
    /// Starts the driver over a stream on which NEGOTIATE chose NT LM 0.12
    /// and the session is set up already (for scripted peers in tests).
    #[cfg(test)]
    pub(crate) fn open(
        rd: crate::transport::ReadHalf,
        wr: crate::transport::WriteHalf,
        max_mpx: u16,
        max_buffer: u32,
        flags2: u16,
        first_mid: u16,
    ) -> (std::sync::Arc<Smb1Shared>, super::Tasks) {
        let core = Smb1Connection::new(smbkit_proto::conn::smb1::Smb1Config {
            max_mpx,
            max_buffer,
            flags2,
            first_mid,
        });
        Driver::start(core, rd, wr)
    }

    /// Starts a request; the wait for its answer is returned.
    fn send_request(&self, req: Request) -> Result<Pending<'_, Smb1Connection>, Error> {
        use smbkit_proto::smb1::header::command;
        let opens =
            req.command == command::NT_CREATE_ANDX || req.command == command::TREE_CONNECT_ANDX;
        let orphaned: Option<super::Orphaned<Smb1Connection>> = opens.then_some(undo_orphaned);
        // Requests that release something on the server finish even when
        // their caller has gone.
        let finish_anyway = matches!(
            req.command,
            command::CLOSE | command::TREE_DISCONNECT | command::LOGOFF_ANDX | command::FIND_CLOSE2
        );
        self.begin(|core, now| core.start(req, now), orphaned, finish_anyway)
    }

    /// Sends one request built by `body` and waits for its response; the
    /// response's signature is verified when signing is active. Responses
    /// of any status are returned.
    pub(crate) async fn request(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
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
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
        tail: Bytes,
    ) -> Result<Resp1, Error> {
        self.send(command, tid, deadline, operation, body, tail)
            .await?
            .response()
            .await
    }

    /// Sends a TRANSACTION, TRANSACTION2 or NT_TRANSACT request built by
    /// `body` and waits for its whole response (see
    /// [`smbkit_proto::conn::smb1::Kind::Trans`]); totals above `limit`
    /// bytes are a protocol error.
    pub(crate) async fn request_trans(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        limit: u32,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<TransResp1, Error> {
        let mut req = Request::new(command, tid, deadline.into_std(), operation, body)?;
        req.kind = Kind::Trans { limit };
        match self.send_request(req)?.answer().await? {
            Reply::Trans(t) => {
                tracing::trace!(
                    operation,
                    parts = t.parts,
                    parameters = t.parameters.len(),
                    data = t.data.len(),
                    "transaction response"
                );
                Ok(t)
            }
            Reply::One(_) => {
                Err(Internal::Unexpected("a single-message reply to a transaction").into())
            }
        }
    }

    /// Starts one request and returns once it is queued; [`Sent1::response`]
    /// waits for the answer. Callers that keep several requests in flight
    /// from one task use this instead of a task per request.
    pub(crate) async fn send(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
        tail: Bytes,
    ) -> Result<Sent1<'_>, Error> {
        let mut req = Request::new(command, tid, deadline.into_std(), operation, body)?;
        req.tail = tail;
        Ok(Sent1 {
            pending: self.send_request(req)?,
        })
    }

    /// Starts a request nobody waits for (the FIND_CLOSE2 of a search
    /// given up on): it runs to its end or its deadline on its own.
    pub(crate) fn request_detached(
        &self,
        command: u8,
        tid: u16,
        deadline: Instant,
        operation: &'static str,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<(), Error> {
        let req = Request::new(command, tid, deadline.into_std(), operation, body)?;
        let now = Instant::now().into_std();
        self.with_state(|st| st.core.start_detached(req, now))
            .map_err(Error::from)
    }

    /// Closes a file on the connection's own account, after every request
    /// given up on is answered (Samba 4.17's smbd crashes on a CLOSE that
    /// arrives while READ_ANDXs on the file are pending); nobody waits.
    pub(crate) fn close_file_detached(&self, tid: u16, fid: u16) {
        let now = Instant::now().into_std();
        self.with_state(|st| st.core.close_file(tid, fid, now));
    }

    /// True once messages are signed.
    pub(crate) fn signing(&self) -> bool {
        self.with_state(|st| st.core.signing())
    }

    /// True while requests given up on wait for their responses.
    pub(crate) fn has_abandoned(&self) -> bool {
        self.with_state(|st| st.core.has_abandoned())
    }

    /// Sends a transaction request that the server may hold for as long as
    /// it likes (an NT_TRANSACT_NOTIFY_CHANGE: see
    /// [`Smb1Connection::start_open_ended`]) and waits for its whole
    /// response. `slot_deadline` bounds only the wait for a MaxMpxCount
    /// slot. Dropped, the request is withdrawn with SMB_COM_NT_CANCEL and
    /// the answer is absorbed.
    pub(crate) async fn request_trans_open_ended(
        &self,
        command: u8,
        tid: u16,
        slot_deadline: Instant,
        operation: &'static str,
        limit: u32,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<TransResp1, Error> {
        let mut req = Request::new(command, tid, slot_deadline.into_std(), operation, body)?;
        req.kind = Kind::Trans { limit };
        match self
            .begin(|core, now| core.start_open_ended(req, now), None, false)?
            .answer()
            .await?
        {
            Reply::Trans(t) => Ok(t),
            Reply::One(_) => {
                Err(Internal::Unexpected("a single-message reply to a transaction").into())
            }
        }
    }
}
