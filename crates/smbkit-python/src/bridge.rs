//! `smbkit._native.Bridge`: an SMB connection over a transport that Python
//! owns (a Twisted `Protocol`'s, an asyncio `Protocol`'s), with no socket
//! of the native module's own.
//!
//! smbkit connects over any `AsyncRead + AsyncWrite` stream
//! (`SmbProtocolFactory::connect_stream`). A bridge is such a stream whose
//! other end is Python:
//!
//! - **Received bytes**: the event loop's `dataReceived` /
//!   `data_received` calls [`PyBridge::feed`], which appends them to the
//!   inbound buffer and wakes the connection's reader task. When the
//!   buffer grows past [`INBOUND_HIGH`] (the runtime is behind), `feed`
//!   returns False: the protocol pauses reading, and is asked to resume
//!   (`wants_input`) once the reader has caught up below [`INBOUND_LOW`].
//! - **Bytes to send**: the connection's writer task writes into the
//!   outbound buffer, at most `capacity` bytes. The first write into an
//!   empty buffer calls the `wake` callable given to the constructor, once,
//!   from a task of the bridge's own (never from inside smbkit's I/O, so no
//!   lock of smbkit is held while the GIL is taken). `wake` must only
//!   schedule the real work on the loop's thread
//!   (`reactor.callFromThread(drain)`, `loop.call_soon_threadsafe(drain)`);
//!   `drain` then calls [`PyBridge::take_output`] and writes the bytes to
//!   the transport. Until it does, the buffer fills up and the writer task
//!   waits: that is the back-pressure, and a protocol whose transport is
//!   itself full (`pauseProducing`, `pause_writing`) simply stops draining
//!   until it may write again.
//! - **End**: the loop reports a lost connection with [`PyBridge::close`]:
//!   the reader sees the end of the stream, writes fail, and smbkit fails
//!   the connection's operations with `NotConnectedError`. When smbkit
//!   closes or drops the stream (closeConnection, a failed logon),
//!   `output_closed` turns true and `wake` is called: `drain` then closes
//!   the transport after writing what is left.
//!
//! NetBIOS or direct TCP framing is chosen by `is_direct_tcp` of
//! `connect_stream`, as for `connect`.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use bytes::{Buf, BytesMut};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::runtime::{attached, runtime};

/// The default bound of the outbound buffer.
pub(crate) const DEFAULT_CAPACITY: usize = 4 << 20;
/// Inbound bytes past which `feed` asks the protocol to pause reading.
const INBOUND_HIGH: usize = 16 << 20;
/// Inbound bytes below which a paused protocol is asked to resume.
const INBOUND_LOW: usize = 1 << 20;

/// Both directions of a bridge.
struct State {
    inbound: BytesMut,
    read_waker: Option<Waker>,
    /// The transport is gone (or the Python side dropped the bridge).
    input_closed: bool,
    /// `feed` asked the protocol to pause reading.
    input_paused: bool,
    /// The protocol is to resume reading.
    resume: bool,
    outbound: BytesMut,
    write_waker: Option<Waker>,
    /// smbkit shut the stream down or dropped it.
    output_closed: bool,
    /// `wake` was called and the protocol has not drained since.
    woken: bool,
    /// The stream was handed to a connection.
    taken: bool,
    /// The thread that feeds the bridge: the event loop's.
    loop_thread: Option<ThreadId>,
}

/// What the Python object and the stream share.
struct Shared {
    state: Mutex<State>,
    capacity: usize,
    /// Tells the bridge's task to call `wake`.
    notify: Notify,
    wake: Mutex<Option<Py<PyAny>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a call of `wake` unless one is pending (`force`: anyway).
    fn wake_python(&self, st: &mut State, force: bool) {
        if !st.woken || force {
            st.woken = true;
            self.notify.notify_one();
        }
    }

    /// The Python side is gone: the stream ends, writes fail.
    fn close_input(&self) {
        let mut st = self.lock();
        st.input_closed = true;
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
        if let Some(w) = st.write_waker.take() {
            w.wake();
        }
        drop(st);
        self.notify.notify_one();
    }
}

/// Calls `wake` whenever the stream asks for it, from a task of its own:
/// the writer task never attaches to the interpreter itself.
async fn waker_task(shared: Arc<Shared>) {
    loop {
        shared.notify.notified().await;
        let (input_closed, output_closed) = {
            let st = shared.lock();
            (st.input_closed, st.output_closed)
        };
        if input_closed {
            break;
        }
        let called = attached(|py| {
            let wake = shared
                .wake
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|w| w.clone_ref(py));
            if let Some(wake) = wake {
                if let Err(e) = wake.call0(py) {
                    e.write_unraisable(py, Some(wake.bind(py)));
                }
            }
        });
        if called.is_none() || output_closed {
            break;
        }
    }
    // Nothing more will be called: let the callable (and whatever it
    // holds: the protocol, the bridge) go.
    let wake = shared.wake.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(wake) = wake {
        attached(move |_py| drop(wake));
    }
}

/// The connection's end of a bridge: the stream smbkit reads and writes.
pub(crate) struct BridgeStream {
    shared: Arc<Shared>,
}

impl Drop for BridgeStream {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.output_closed = true;
        if let Some(w) = st.write_waker.take() {
            w.wake();
        }
        self.shared.wake_python(&mut st, true);
    }
}

fn transport_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the transport of the connection is closed",
    )
}

impl AsyncRead for BridgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        let mut st = shared.lock();
        if st.inbound.is_empty() {
            if st.input_closed {
                return Poll::Ready(Ok(())); // the end of the stream
            }
            st.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = st.inbound.len().min(buf.remaining());
        buf.put_slice(&st.inbound[..n]);
        st.inbound.advance(n);
        if st.input_paused && st.inbound.len() < INBOUND_LOW {
            st.input_paused = false;
            st.resume = true;
            shared.wake_python(&mut st, true);
        }
        Poll::Ready(Ok(()))
    }
}

impl BridgeStream {
    /// Queues what fits of `bufs`; Pending while the buffer is full.
    fn queue(&self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let shared = &self.shared;
        let mut st = shared.lock();
        if st.input_closed || st.output_closed {
            return Poll::Ready(Err(transport_closed()));
        }
        let room = shared.capacity.saturating_sub(st.outbound.len());
        if room == 0 {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut taken = 0;
        for b in bufs {
            let n = b.len().min(room - taken);
            st.outbound.extend_from_slice(&b[..n]);
            taken += n;
            if taken == room {
                break;
            }
        }
        if taken > 0 {
            shared.wake_python(&mut st, false);
        }
        Poll::Ready(Ok(taken))
    }
}

impl AsyncWrite for BridgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.queue(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.queue(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // What is queued is the transport's to send; the event loop writes
        // it as soon as it drains.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        st.output_closed = true;
        self.shared.wake_python(&mut st, true);
        Poll::Ready(Ok(()))
    }
}

/// Carries a connection's bytes over a transport that Python owns.
///
/// `Bridge(wake, capacity=4 MiB)`: `wake()` is called from a runtime
/// thread whenever there is something for the event loop to do (bytes to
/// send, reading to resume, the connection to close); it must only
/// schedule `drain` on the loop's thread. Pass the bridge to
/// `connect_stream` to make the connection, then call `feed(data)` for
/// every received chunk and `close()` when the transport is lost.
#[pyclass(frozen, module = "smbkit._native", name = "Bridge")]
pub struct PyBridge {
    shared: Arc<Shared>,
}

impl Drop for PyBridge {
    fn drop(&mut self) {
        self.shared.close_input();
    }
}

/// The event loop a connection's bytes depend on: a call that blocks
/// its thread until the connection answers would wait forever.
#[derive(Clone, Default)]
pub(crate) struct LoopGuard(Option<Arc<Shared>>);

impl LoopGuard {
    /// Fails when called on the thread that feeds the bridge.
    pub(crate) fn check_blocking(&self) -> PyResult<()> {
        let Some(shared) = &self.0 else {
            return Ok(());
        };
        if shared.lock().loop_thread == Some(std::thread::current().id()) {
            return Err(PyRuntimeError::new_err(
                "this connection's bytes travel through the event loop running on this thread, \
                 so a blocking call here would wait forever: use the asyncio or Twisted API \
                 (or pass callback=), or call it from another thread",
            ));
        }
        Ok(())
    }
}

impl PyBridge {
    /// What guards the connection made over this bridge.
    pub(crate) fn guard(&self) -> LoopGuard {
        LoopGuard(Some(Arc::clone(&self.shared)))
    }

    /// The stream for the connection; only once.
    pub(crate) fn take_stream(&self) -> PyResult<BridgeStream> {
        let mut st = self.shared.lock();
        if st.taken {
            return Err(PyRuntimeError::new_err(
                "this bridge carries a connection already; make a new one for each connection",
            ));
        }
        if st.input_closed {
            return Err(PyRuntimeError::new_err(
                "this bridge is closed: its transport is gone",
            ));
        }
        st.taken = true;
        Ok(BridgeStream {
            shared: Arc::clone(&self.shared),
        })
    }
}

#[pymethods]
impl PyBridge {
    #[new]
    #[pyo3(signature = (wake, capacity = DEFAULT_CAPACITY))]
    fn new(wake: Bound<'_, PyAny>, capacity: usize) -> PyResult<Self> {
        if !wake.is_callable() {
            return Err(PyValueError::new_err(
                "wake must be a callable taking no arguments",
            ));
        }
        if capacity == 0 {
            return Err(PyValueError::new_err("capacity must be at least 1 byte"));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                inbound: BytesMut::new(),
                read_waker: None,
                input_closed: false,
                input_paused: false,
                resume: false,
                outbound: BytesMut::new(),
                write_waker: None,
                output_closed: false,
                woken: false,
                taken: false,
                loop_thread: None,
            }),
            capacity,
            notify: Notify::new(),
            wake: Mutex::new(Some(wake.unbind())),
        });
        runtime()?.spawn(waker_task(Arc::clone(&shared)));
        Ok(PyBridge { shared })
    }

    /// Hands received bytes to the connection. Returns False when the
    /// connection is behind: pause reading until `wants_input()` says
    /// otherwise (it is checked in `drain`, after a `wake`). Bytes fed
    /// after `close()` are dropped.
    fn feed(&self, data: &[u8]) -> bool {
        let mut st = self.shared.lock();
        st.loop_thread = Some(std::thread::current().id());
        if st.input_closed || data.is_empty() {
            return true;
        }
        st.inbound.extend_from_slice(data);
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
        if st.inbound.len() > INBOUND_HIGH {
            st.input_paused = true;
            return false;
        }
        true
    }

    /// The bytes the connection wrote since the last call (empty if none),
    /// to write to the transport; makes room for more and re-arms `wake`.
    fn take_output<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let data = {
            let mut st = self.shared.lock();
            st.loop_thread = Some(std::thread::current().id());
            st.woken = false;
            if let Some(w) = st.write_waker.take() {
                w.wake();
            }
            st.outbound.split().freeze()
        };
        PyBytes::new(py, &data)
    }

    /// True once after the connection has caught up with bytes fed while
    /// `feed` asked to pause: resume reading.
    fn wants_input(&self) -> bool {
        let mut st = self.shared.lock();
        std::mem::take(&mut st.resume)
    }

    /// True once the connection has closed its end: after taking the last
    /// output, close the transport.
    #[getter]
    fn output_closed(&self) -> bool {
        self.shared.lock().output_closed
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.shared.lock().input_closed
    }

    /// Bytes waiting to be taken by `take_output`.
    #[getter]
    fn pending_output(&self) -> usize {
        self.shared.lock().outbound.len()
    }

    /// The transport is gone: the connection sees the end of its stream
    /// and fails what it has in flight with `NotConnectedError`. `wake` is
    /// not called any more. Closing twice is harmless.
    fn close(&self) {
        self.shared.close_input();
        let wake = self
            .shared
            .wake
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(wake);
    }

    fn __repr__(&self) -> String {
        let st = self.shared.lock();
        format!(
            "<smbkit._native.Bridge inbound={} outbound={} closed={} output_closed={}>",
            st.inbound.len(),
            st.outbound.len(),
            st.input_closed,
            st.output_closed
        )
    }
}
