//! The tokio driver of an SMB 2/3 connection: it moves bytes and time
//! between a stream and the sans-I/O [`Smb2Connection`] of
//! `smbkit-proto`, which makes every protocol decision.
//!
//! Three small tasks run per connection: the reader feeds each received
//! frame to the connection, the writer sends what the connection queued,
//! and the timer tells the connection the time when a deadline passes.
//! Callers start requests on the connection (behind one mutex, held only
//! for the synchronous call) and wait on a oneshot channel for their
//! [`Event::Completed`]; dropping the wait withdraws the request
//! ([`Smb2Connection::cancel`]), so no future leaks message ids, credits
//! or handles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use smbkit_proto::conn::smb2::{Event, Request, Signing};
use smbkit_proto::conn::{RequestId, Smb2Connection, Transmit};
use smbkit_proto::smb2::create::CreateResponse;
use smbkit_proto::smb2::header::HEADER_LEN;
use smbkit_proto::{Command, NtStatus, Writer};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::Error;
use crate::transport;

pub(crate) use smbkit_proto::conn::smb2::Response;

/// One request of a compound chain: its command, tree, charge and message
/// (header room, then the body: see [`body`]).
pub(crate) struct Part {
    pub command: Command,
    pub tree_id: u32,
    pub charge: u16,
    pub body: Vec<u8>,
}

/// Encodes a request body after room for its header, so that its offsets
/// count from the header as the protocol wants.
pub(crate) fn body(encode: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    w.zeros(HEADER_LEN);
    encode(&mut w);
    w.into_vec()
}

type Waiter = oneshot::Sender<Result<Vec<Response>, Error>>;

/// The connection and who waits for what.
struct State {
    core: Smb2Connection,
    waiters: HashMap<RequestId, Waiter>,
    /// The deadline the timer task sleeps until.
    armed: Option<std::time::Instant>,
}

impl State {
    /// Hands the connection's events to their waiters; true once the
    /// connection has closed.
    fn deliver(&mut self) -> bool {
        let mut closed = false;
        while let Some(ev) = self.core.poll_event() {
            match ev {
                Event::Completed { id, result } => {
                    if let Some(tx) = self.waiters.remove(&id) {
                        let _ = tx.send(result.map_err(Error::from));
                    }
                }
                Event::Closed(_) => closed = true,
                _ => {}
            }
        }
        closed || self.core.is_closed()
    }
}

/// What the callers and the driver's tasks share.
pub(crate) struct Shared {
    state: Mutex<State>,
    closed: AtomicBool,
    /// Becomes true when the connection is shut down: the tasks then stop,
    /// which closes the stream.
    closing: watch::Sender<bool>,
    wake_writer: Arc<Notify>,
    wake_timer: Arc<Notify>,
}

/// One frame for the SMB1 writer task.
pub(crate) type Outgoing = Transmit;

/// Handles of a driver's tasks; dropping it stops them.
pub(crate) struct Tasks {
    handles: Vec<JoinHandle<()>>,
}

impl Tasks {
    /// The reader and writer task of a connection.
    pub(crate) fn new(reader: JoinHandle<()>, writer: JoinHandle<()>) -> Self {
        Tasks {
            handles: vec![reader, writer],
        }
    }

    /// Stops the tasks and waits until they are gone, which closes the
    /// stream.
    pub(crate) async fn close(mut self) {
        for h in &self.handles {
            h.abort();
        }
        for h in std::mem::take(&mut self.handles) {
            let _ = h.await;
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

/// Withdraws a request whose caller stopped waiting (its future was
/// dropped): the connection cancels it, and a handle its CREATE opened
/// meanwhile is closed.
struct Withdraw<'a> {
    shared: &'a Shared,
    id: RequestId,
    rx: Option<oneshot::Receiver<Result<Vec<Response>, Error>>>,
    /// The tree of a CREATE whose handle nothing else in the request
    /// closes.
    create_tree: Option<u32>,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        let done = rx.try_recv().ok();
        let now = now();
        self.shared.with_state(|st| {
            st.waiters.remove(&self.id);
            st.core.cancel(self.id);
            // Answered, but nobody took the answer: close what it opened.
            if let (Some(tree_id), Some(Ok(responses))) = (self.create_tree, done) {
                if let Some(r) = responses.first() {
                    if r.header.command == Command::CREATE && r.header.status == NtStatus::SUCCESS {
                        if let Ok(c) = CreateResponse::decode(&r.msg) {
                            st.core.close_handle(tree_id, c.file_id, now);
                        }
                    }
                }
            }
        });
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Resolves once the connection is shut down.
async fn shut_down_signal(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|c| *c).await;
}

impl Shared {
    /// Starts the driver's tasks over an established connection.
    pub(crate) fn start(
        core: Smb2Connection,
        rd: transport::ReadHalf,
        wr: transport::WriteHalf,
    ) -> (Arc<Shared>, Tasks) {
        let (closing, closed) = watch::channel(false);
        let max_frame = core.max_frame();
        let wake_writer = Arc::new(Notify::new());
        let wake_timer = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                core,
                waiters: HashMap::new(),
                armed: None,
            }),
            closed: AtomicBool::new(false),
            closing,
            wake_writer: wake_writer.clone(),
            wake_timer: wake_timer.clone(),
        });
        let reader = tokio::spawn(reader_task(
            rd,
            Arc::downgrade(&shared),
            max_frame,
            closed.clone(),
        ));
        let writer = tokio::spawn(writer_task(
            wr,
            Arc::downgrade(&shared),
            wake_writer,
            closed.clone(),
        ));
        let timer = tokio::spawn(timer_task(Arc::downgrade(&shared), wake_timer, closed));
        (
            shared,
            Tasks {
                handles: vec![reader, writer, timer],
            },
        )
    }

    /// Runs `f` on the connection, then delivers its events and wakes the
    /// tasks that have work.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (r, transmit, closed, rearm) = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let r = f(&mut st);
            if st.core.is_closed() {
                // Before any waiter hears of it: a caller that got the
                // error finds the connection closed.
                self.closed.store(true, Ordering::Release);
            }
            let closed = st.deliver();
            let next = st.core.poll_timeout();
            let rearm = match (next, st.armed) {
                (Some(n), Some(a)) => n < a,
                (Some(_), None) => true,
                _ => false,
            };
            if rearm {
                st.armed = next;
            }
            (r, st.core.has_transmit(), closed, rearm)
        };
        if closed {
            self.closed.store(true, Ordering::Release);
            self.closing.send_replace(true);
        }
        if transmit {
            self.wake_writer.notify_one();
        }
        if rearm {
            self.wake_timer.notify_one();
        }
        r
    }

    /// True once the connection is closed or its stream has died.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the connection: every waiting request fails with
    /// [`Error::NotConnected`], the tasks stop, the stream is closed.
    pub(crate) fn shut_down(&self, why: &str) {
        tracing::debug!(why, "closing the connection");
        self.with_state(|st| st.core.close());
    }

    /// Starts `req` and waits for its responses.
    async fn run(&self, req: Request) -> Result<Vec<Response>, Error> {
        let closes = req.parts.iter().any(|p| p.command == Command::CLOSE);
        let create_tree = req
            .parts
            .first()
            .filter(|p| p.command == Command::CREATE && !closes)
            .map(|p| p.tree_id);
        let (tx, rx) = oneshot::channel();
        let now = now();
        let id = self.with_state(|st| {
            let id = st.core.start(req, now)?;
            st.waiters.insert(id, tx);
            Ok::<_, Error>(id)
        })?;
        let mut guard = Withdraw {
            shared: self,
            id,
            rx: Some(rx),
            create_tree,
        };
        let rx = guard.rx.as_mut().ok_or(Error::NotConnected)?;
        let r = rx.await;
        guard.rx = None;
        r.unwrap_or(Err(Error::NotConnected))
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
        encode: impl FnOnce(&mut Writer),
    ) -> Request {
        Request::single(
            smbkit_proto::conn::smb2::Part {
                command,
                tree_id,
                charge,
                msg: body(encode),
            },
            deadline.into_std(),
            operation,
        )
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
        encode: impl FnOnce(&mut Writer),
    ) -> Result<Response, Error> {
        self.run_one(Self::single(
            command, tree_id, charge, deadline, operation, encode,
        ))
        .await
    }

    /// Like [`Shared::request`], but signed whenever the session has a key,
    /// whether or not the session signs its other messages (for
    /// FSCTL_VALIDATE_NEGOTIATE_INFO, MS-SMB2 §3.2.5.5).
    pub(crate) async fn request_signed(
        &self,
        command: Command,
        tree_id: u32,
        deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer),
    ) -> Result<Response, Error> {
        let mut req = Self::single(command, tree_id, 1, deadline, operation, encode);
        req.signing = Signing::Always;
        self.run_one(req).await
    }

    /// Like [`Shared::request`], with `tail` sent right after the encoded
    /// message as part of it (the data of a WRITE, whose header says where
    /// it starts). The tail is only copied when the message must be signed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request_with_tail(
        &self,
        command: Command,
        tree_id: u32,
        charge: u16,
        deadline: Instant,
        operation: &'static str,
        encode: impl FnOnce(&mut Writer),
        tail: Bytes,
    ) -> Result<Response, Error> {
        let mut req = Self::single(command, tree_id, charge, deadline, operation, encode);
        req.tail = tail;
        self.run_one(req).await
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

    /// Counts of the connection's bookkeeping: requests waiting, messages
    /// in flight, credits available.
    #[allow(dead_code)]
    pub(crate) fn stats(&self) -> (usize, usize, u32) {
        self.with_state(|st| {
            (
                st.core.requests_outstanding(),
                st.core.messages_in_flight(),
                st.core.credits_available(),
            )
        })
    }
}

/// Receive memory is taken in blocks of at least this size (see
/// [`transport::RecvPool`]).
const RECEIVE_BLOCK: usize = 1024 * 1024;

async fn reader_task(
    rd: transport::ReadHalf,
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
                let now = now();
                s.with_state(|st| st.core.handle_frame(f, now));
                if s.is_closed() {
                    return;
                }
            }
            Err(e) => {
                s.with_state(|st| st.core.handle_stream_error(&format!("read failed: {e}")));
                return;
            }
        }
    }
}

/// Messages at least this large bypass the write buffer and go out with
/// one vectored write.
const DIRECT_WRITE: usize = 64 * 1024;

async fn write_one<W: AsyncWrite + Unpin>(
    wr: &mut BufWriter<W>,
    f: &Transmit,
) -> std::io::Result<()> {
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
pub(crate) async fn write_batch<W: AsyncWrite + Unpin>(
    wr: &mut BufWriter<W>,
    first: &Transmit,
    mut next: impl FnMut() -> Option<Transmit>,
) -> std::io::Result<()> {
    write_one(wr, first).await?;
    while let Some(f) = next() {
        write_one(wr, &f).await?;
    }
    wr.flush().await
}

async fn writer_task(
    wr: transport::WriteHalf,
    shared: std::sync::Weak<Shared>,
    wake: Arc<Notify>,
    mut closed: watch::Receiver<bool>,
) {
    let mut wr = BufWriter::with_capacity(256 * 1024, wr);
    let mut batch: Vec<Transmit> = Vec::new();
    let send = async {
        loop {
            {
                let Some(s) = shared.upgrade() else {
                    return;
                };
                let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
                while let Some(t) = st.core.poll_transmit() {
                    batch.push(t);
                }
            }
            if batch.is_empty() {
                wake.notified().await;
                continue;
            }
            let mut frames = batch.drain(..);
            let res = match frames.next() {
                Some(first) => write_batch(&mut wr, &first, || frames.next()).await,
                None => Ok(()),
            };
            drop(frames);
            if let Err(e) = res {
                if let Some(s) = shared.upgrade() {
                    s.with_state(|st| st.core.handle_stream_error(&format!("write failed: {e}")));
                }
                return;
            }
        }
    };
    // Once the connection is shut down nothing more is sent, not even what
    // is queued or half written: the stream is closed as it is.
    tokio::select! {
        biased;
        () = shut_down_signal(&mut closed) => {}
        () = send => {}
    }
    let _ = wr.shutdown().await;
}

async fn timer_task(
    shared: std::sync::Weak<Shared>,
    wake: Arc<Notify>,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        let next = {
            let Some(s) = shared.upgrade() else { return };
            let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            let next = st.core.poll_timeout();
            st.armed = next;
            next
        };
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shut_down_signal(&mut closed) => return,
            () = wake.notified() => {}
            () = sleep => {
                let Some(s) = shared.upgrade() else { return };
                let now = now();
                s.with_state(|st| st.core.handle_timeout(now));
            }
        }
    }
}
