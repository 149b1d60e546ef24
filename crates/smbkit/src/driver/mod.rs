//! The tokio driver: it moves bytes and time between a stream and a
//! sans-I/O connection of `smbkit-proto` (`Smb2Connection` or
//! `Smb1Connection`), which makes every protocol decision. One driver
//! serves both families through the [`Core`] trait; [`smb2`] and [`smb1`]
//! add each family's request calls.
//!
//! Three small tasks run per connection: the reader feeds each received
//! frame to the connection, the writer sends what the connection queued,
//! and the timer tells the connection the time when a deadline passes.
//! Callers start requests on the connection (behind one mutex, held only
//! for the synchronous call) and wait on a oneshot channel for their
//! completion; dropping the wait withdraws the request ([`Core::cancel`]),
//! so no future leaks message ids, credits, slots or handles.

pub(crate) mod smb1;
pub(crate) mod smb2;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use smbkit_proto::conn::{ConnError, Frame, RequestId, Transmit};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::Error;
use crate::transport;

pub(crate) use smb2::{body, Part, Response};

/// What a sans-I/O connection tells the driver.
pub(crate) enum Completion<T> {
    /// A request finished.
    Done(RequestId, Result<T, ConnError>),
    /// The connection closed.
    Closed,
}

/// The interface the driver needs of a sans-I/O connection (both families
/// have the same shape: frames and time in; frames, completions and the
/// next deadline out).
pub(crate) trait Core: Send + 'static {
    /// What a completed request delivers.
    type Output: Send + 'static;
    /// Prepares received frames without the connection (decryption).
    type Opener: Send + 'static;
    /// A frame the opener has prepared.
    type Received: Send;
    /// The opener of this connection's frames (fixed once established).
    fn opener(&self) -> Self::Opener;
    /// Prepares a received frame, outside the connection's lock.
    fn open(opener: &Self::Opener, frame: BytesMut) -> Self::Received;
    fn handle_received(&mut self, frame: Self::Received, now: std::time::Instant);
    fn handle_timeout(&mut self, now: std::time::Instant);
    /// Bytes arrived at `at` (of a frame still being received).
    fn handle_activity(&mut self, at: std::time::Instant);
    fn handle_stream_error(&mut self, why: &str);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn has_transmit(&self) -> bool;
    fn poll_timeout(&self) -> Option<std::time::Instant>;
    fn poll_completion(&mut self) -> Option<Completion<Self::Output>>;
    fn cancel(&mut self, id: RequestId);
    /// Lets a request finish with nobody waiting (see
    /// `Smb2Connection::detach`).
    fn detach(&mut self, id: RequestId);
    fn close(&mut self);
    fn is_closed(&self) -> bool;
    fn max_frame(&self) -> usize;
}

type Waiter<T> = oneshot::Sender<Result<T, Error>>;

/// The connection and who waits for what.
pub(crate) struct State<C: Core> {
    pub(crate) core: C,
    waiters: HashMap<RequestId, Waiter<C::Output>>,
    /// The deadline the timer task sleeps until.
    armed: Option<std::time::Instant>,
}

impl<C: Core> State<C> {
    /// Hands the connection's completions to their waiters; true once the
    /// connection has closed.
    fn deliver(&mut self) -> bool {
        let mut closed = false;
        while let Some(c) = self.core.poll_completion() {
            match c {
                Completion::Done(id, result) => {
                    if let Some(tx) = self.waiters.remove(&id) {
                        let _ = tx.send(result.map_err(Error::from));
                    }
                }
                Completion::Closed => closed = true,
            }
        }
        closed || self.core.is_closed()
    }
}

/// What the callers and the driver's tasks share: the connection, behind
/// one mutex held only for synchronous calls.
pub(crate) struct Driver<C: Core> {
    state: Mutex<State<C>>,
    /// When the reader last read any bytes, for the connection's dead-peer
    /// detection (a large frame arriving slowly is not silence).
    last_read: Arc<LastRead>,
    closed: AtomicBool,
    /// Becomes true when the connection is shut down: the tasks then stop,
    /// which closes the stream.
    closing: watch::Sender<bool>,
    wake_writer: Arc<Notify>,
    wake_timer: Arc<Notify>,
}

/// Handles of a driver's tasks; dropping it stops them.
pub(crate) struct Tasks {
    handles: Vec<JoinHandle<()>>,
}

impl Tasks {
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

/// Undoes what an answer nobody took did (closes the file an open
/// opened), for [`Pending`].
pub(crate) type Orphaned<C> = fn(&mut C, <C as Core>::Output, std::time::Instant);

/// A request started on the connection whose answer is awaited. Dropped
/// before the answer is taken (its future was dropped), it withdraws the
/// request ([`Core::cancel`]); an answer that had come but was not taken
/// goes to its `orphaned` hook, which closes what it opened.
pub(crate) struct Pending<'a, C: Core> {
    driver: &'a Driver<C>,
    id: RequestId,
    rx: Option<oneshot::Receiver<Result<C::Output, Error>>>,
    orphaned: Option<Orphaned<C>>,
    /// Dropped, the request is let finish instead of withdrawn (a CLOSE
    /// must reach the server even when its caller has gone).
    finish_anyway: bool,
}

impl<C: Core> Pending<'_, C> {
    /// Waits for the answer.
    pub(crate) async fn answer(mut self) -> Result<C::Output, Error> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(Error::NotConnected);
        };
        let r = rx.await;
        self.rx = None;
        r.unwrap_or(Err(Error::NotConnected))
    }
}

impl<C: Core> Drop for Pending<'_, C> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        let now = now();
        let orphaned = self.orphaned;
        let finish_anyway = self.finish_anyway;
        self.driver.with_state(|st| {
            // Under the lock, where answers are delivered: either the
            // answer is in the channel already, or the request is still
            // the connection's to withdraw (an answer that arrives on
            // another thread meanwhile cannot slip between the two).
            let done = rx.try_recv().ok();
            st.waiters.remove(&self.id);
            if finish_anyway {
                st.core.detach(self.id);
            } else {
                st.core.cancel(self.id);
            }
            if let (Some(hook), Some(Ok(answer))) = (orphaned, done) {
                hook(&mut st.core, answer, now);
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

impl<C: Core> Driver<C> {
    /// Starts the driver's tasks over an established connection.
    pub(crate) fn start(
        core: C,
        rd: transport::ReadHalf,
        wr: transport::WriteHalf,
    ) -> (Arc<Driver<C>>, Tasks) {
        let (closing, closed) = watch::channel(false);
        let max_frame = core.max_frame();
        let wake_writer = Arc::new(Notify::new());
        let wake_timer = Arc::new(Notify::new());
        let last_read = Arc::new(LastRead::new());
        let shared = Arc::new(Driver {
            state: Mutex::new(State {
                core,
                waiters: HashMap::new(),
                armed: None,
            }),
            last_read: last_read.clone(),
            closed: AtomicBool::new(false),
            closing,
            wake_writer: wake_writer.clone(),
            wake_timer: wake_timer.clone(),
        });
        let reader = tokio::spawn(reader_task(
            Counted {
                inner: rd,
                last_read,
            },
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
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State<C>) -> R) -> R {
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

    /// Waits until the connection is closed (or the driver is gone).
    pub(crate) fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Closes the connection: every waiting request fails with
    /// [`Error::NotConnected`], the tasks stop, the stream is closed.
    pub(crate) fn shut_down(&self, why: &str) {
        tracing::debug!(why, "closing the connection");
        self.with_state(|st| st.core.close());
    }

    /// Starts a request with `start` and returns the wait for its answer.
    pub(crate) fn begin(
        &self,
        start: impl FnOnce(&mut C, std::time::Instant) -> Result<RequestId, ConnError>,
        orphaned: Option<Orphaned<C>>,
        finish_anyway: bool,
    ) -> Result<Pending<'_, C>, Error> {
        let (tx, rx) = oneshot::channel();
        let now = now();
        let id = self.with_state(|st| {
            let id = start(&mut st.core, now)?;
            st.waiters.insert(id, tx);
            Ok::<_, Error>(id)
        })?;
        Ok(Pending {
            driver: self,
            id,
            rx: Some(rx),
            orphaned,
            finish_anyway,
        })
    }
}

/// Receive memory is taken in blocks of at least this size (see
/// [`transport::RecvPool`]).
const RECEIVE_BLOCK: usize = 1024 * 1024;

/// When bytes were last read: nanoseconds since `base`.
struct LastRead {
    base: std::time::Instant,
    nanos: AtomicU64,
}

impl LastRead {
    fn new() -> LastRead {
        LastRead {
            base: std::time::Instant::now(),
            nanos: AtomicU64::new(0),
        }
    }

    fn mark(&self) {
        let n = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(n, Ordering::Relaxed);
    }

    fn get(&self) -> std::time::Instant {
        self.base + std::time::Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

/// The read half, noting when it last read anything.
struct Counted {
    inner: transport::ReadHalf,
    last_read: Arc<LastRead>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last_read.mark();
        }
        r
    }
}

async fn reader_task<C: Core>(
    rd: Counted,
    shared: std::sync::Weak<Driver<C>>,
    max_frame: usize,
    mut closed: watch::Receiver<bool>,
) {
    let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
    // Responses of up to 256 KiB share 1 MiB blocks; larger ones (READs of
    // 1 MiB) get blocks of their own, used again once the frames cut from
    // them are dropped.
    let mut pool = transport::RecvPool::new(RECEIVE_BLOCK);
    // Decryption happens here, off the connection's lock (the keys are
    // fixed once the connection is established).
    let Some(opener) = shared
        .upgrade()
        .map(|s| s.with_state(|st| st.core.opener()))
    else {
        return;
    };
    loop {
        let frame = tokio::select! {
            biased;
            () = shut_down_signal(&mut closed) => return,
            f = transport::read_frame_pooled_mut(&mut rd, max_frame, &mut pool) => f,
        };
        let Some(s) = shared.upgrade() else { return };
        match frame {
            Ok(f) => {
                let received = C::open(&opener, f);
                let now = now();
                s.with_state(|st| st.core.handle_received(received, now));
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

async fn write_one<W: AsyncWrite + Unpin>(wr: &mut BufWriter<W>, f: &Frame) -> std::io::Result<()> {
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

/// Frames with at least this many bytes to sign or encrypt are prepared in
/// tasks of their own (on other worker threads), several at once, while
/// earlier frames are written.
const OFFLOAD_WORK: usize = 64 * 1024;
/// Frames prepared ahead of the one being written.
const PREPARE_AHEAD: usize = 4;

/// A frame being prepared for the wire ([`Transmit::finish`]).
enum Preparing {
    Ready(Result<Frame, ConnError>),
    Offloaded(JoinHandle<Result<Frame, ConnError>>),
}

async fn writer_task<C: Core>(
    wr: transport::WriteHalf,
    shared: std::sync::Weak<Driver<C>>,
    wake: Arc<Notify>,
    mut closed: watch::Receiver<bool>,
) {
    let mut wr = BufWriter::with_capacity(256 * 1024, wr);
    // Frames go out in the order the connection queued them; signing and
    // encryption happen here, off the connection's lock, large frames on
    // other threads while the ones before them are written.
    let mut taken: VecDeque<Transmit> = VecDeque::new();
    let mut preparing: VecDeque<Preparing> = VecDeque::new();
    let send = async {
        loop {
            {
                let Some(s) = shared.upgrade() else {
                    return Ok::<(), String>(());
                };
                let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
                while let Some(t) = st.core.poll_transmit() {
                    taken.push_back(t);
                }
            }
            while preparing.len() < PREPARE_AHEAD {
                let Some(t) = taken.pop_front() else { break };
                preparing.push_back(if t.work() >= OFFLOAD_WORK {
                    Preparing::Offloaded(tokio::spawn(async move { t.finish() }))
                } else {
                    Preparing::Ready(t.finish())
                });
            }
            if !matches!(preparing.front(), Some(Preparing::Ready(_))) {
                // Nothing more to write at once: what is buffered goes out
                // before waiting.
                wr.flush().await.map_err(|e| format!("write failed: {e}"))?;
            }
            let frame = match preparing.pop_front() {
                None => {
                    wake.notified().await;
                    continue;
                }
                Some(Preparing::Ready(f)) => f,
                Some(Preparing::Offloaded(h)) => match h.await {
                    Ok(f) => f,
                    Err(e) => return Err(format!("signing or encryption failed: {e}")),
                },
            };
            let frame = frame.map_err(|e| format!("a frame could not be prepared: {e}"))?;
            write_one(&mut wr, &frame)
                .await
                .map_err(|e| format!("write failed: {e}"))?;
        }
    };
    // Once the connection is shut down nothing more is sent, not even what
    // is queued or half written: the stream is closed as it is.
    tokio::select! {
        biased;
        () = shut_down_signal(&mut closed) => {}
        r = send => {
            if let (Err(why), Some(s)) = (r, shared.upgrade()) {
                s.with_state(|st| st.core.handle_stream_error(&why));
            }
        }
    }
    let _ = wr.shutdown().await;
}

async fn timer_task<C: Core>(
    shared: std::sync::Weak<Driver<C>>,
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
                let read = s.last_read.get();
                s.with_state(|st| {
                    st.core.handle_activity(read);
                    st.core.handle_timeout(now);
                });
            }
        }
    }
}
