//! One way to run any operation of the native module, blocking or not.
//!
//! Every method of `Connection`, `RemoteFile`, `DirStream` and
//! `WalkStream` handles its arguments once and builds an [`Op`]: a
//! `'static` future of the work, and what turns its outcome into Python
//! objects. [`dispatch`] then runs it one of two ways:
//!
//! - without `callback`, on the calling thread with the GIL released
//!   (`crate::runtime::wait`), returning the result or raising;
//! - with `callback`, as a task on the shared runtime, returning at once
//!   an [`Operation`] handle. When the task ends, `callback(result, None)`
//!   or `callback(None, exception)` is called **on a runtime thread**,
//!   attached to the interpreter for that call only. The asyncio and
//!   Twisted layers hand the outcome to their own thread from there
//!   (`loop.call_soon_threadsafe`, `reactor.callFromThread`).
//!
//! [`Operation::cancel`] aborts the task: its future is dropped, which
//! withdraws its requests (smbkit's futures are cancel-safe), and the
//! callback is not called. The handle's state tells which of the two
//! came first, so a callback is called exactly once or not at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use smbkit::Error;
use tokio::task::AbortHandle;

use crate::bridge::LoopGuard;
use crate::errors::to_py_err;
use crate::runtime::{attached, runtime, wait};

/// Why an operation failed: smbkit's error, or an exception raised by
/// Python code it called (a file object's `write` or `read`).
pub(crate) enum Failure {
    Smb(Error),
    Py(PyErr),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Smb(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

impl Failure {
    /// The Python exception.
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Smb(e) => to_py_err(py, &e),
            Failure::Py(e) => e,
        }
    }
}

/// What an operation gives back once done: made into Python objects only
/// then, attached to the interpreter.
type Convert = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The work of an operation.
type Work = Pin<Box<dyn Future<Output = Result<Convert, Failure>> + Send>>;

/// An operation ready to run: its future and, for transfers, a count of
/// the bytes moved so far.
pub(crate) struct Op {
    work: Work,
    progress: Option<Arc<AtomicU64>>,
}

impl Op {
    /// `fut`, whose output `convert` turns into a Python object.
    pub(crate) fn new<T, F, C>(fut: F, convert: C) -> Op
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Failure>> + Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        Op {
            work: Box::pin(async move {
                let value = fut.await?;
                let convert: Convert = Box::new(move |py| convert(py, value));
                Ok(convert)
            }),
            progress: None,
        }
    }

    /// `fut`, whose output converts to Python by `IntoPyObject`.
    pub(crate) fn simple<T, F>(fut: F) -> Op
    where
        T: for<'py> IntoPyObject<'py> + Send + 'static,
        F: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        Op::new(fut, |py, v: T| v.into_py_any(py))
    }

    /// The same operation, counting its bytes in `progress`.
    pub(crate) fn with_progress(mut self, progress: Arc<AtomicU64>) -> Op {
        self.progress = Some(progress);
        self
    }
}

/// Runs `op`: to its end on this thread when `callback` is None, else as a
/// task, returning its [`Operation`] handle. A blocking call on the thread
/// of the event loop that carries the connection's bytes is refused: it
/// would wait forever.
pub(crate) fn dispatch(
    py: Python<'_>,
    op: Op,
    callback: Option<Py<PyAny>>,
    guard: &LoopGuard,
) -> PyResult<Py<PyAny>> {
    match callback {
        None => match guard.check_blocking().and_then(|()| wait(py, op.work))? {
            Ok(convert) => convert(py),
            Err(f) => Err(f.into_py(py)),
        },
        Some(callback) => {
            if !callback.bind(py).is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "callback must be a callable taking (result, error)",
                ));
            }
            let handle = spawn(op, callback)?;
            Ok(Py::new(py, handle)?.into_any())
        }
    }
}

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const CANCELLED: u8 = 2;

/// Aborts a task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts `op` on the runtime; `callback` hears of its end.
///
/// The work runs as a task of its own, awaited by the one that calls
/// back: should it panic (a bug), the callback still hears of it, as a
/// `RuntimeError`, rather than never. Aborting the outer task aborts the
/// work with it.
fn spawn(op: Op, callback: Py<PyAny>) -> PyResult<Operation> {
    let state = Arc::new(AtomicU8::new(RUNNING));
    let mine = Arc::clone(&state);
    let work = op.work;
    let task = runtime()?.spawn(async move {
        let inner = tokio::spawn(work);
        let _abort = AbortOnDrop(inner.abort_handle());
        let outcome = match inner.await {
            Ok(outcome) => outcome,
            Err(e) => Err(Failure::Py(PyRuntimeError::new_err(format!(
                "the operation failed unexpectedly (please report it): {e}"
            )))),
        };
        if mine
            .compare_exchange(RUNNING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return; // cancelled meanwhile: nobody is told
        }
        attached(move |py| {
            let args = match outcome.and_then(|convert| convert(py).map_err(Failure::Py)) {
                Ok(value) => (value, py.None()),
                Err(f) => (py.None(), f.into_py(py).into_value(py).into_any()),
            };
            if let Err(e) = callback.call1(py, args) {
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    });
    Ok(Operation {
        state,
        abort: task.abort_handle(),
        progress: op.progress,
    })
}

/// An operation started with a `callback`: it calls `callback(result,
/// None)` or `callback(None, exception)` once, on a runtime thread, unless
/// cancelled first.
#[pyclass(frozen, module = "smbkit._native", name = "Operation")]
pub struct Operation {
    state: Arc<AtomicU8>,
    abort: AbortHandle,
    progress: Option<Arc<AtomicU64>>,
}

#[pymethods]
impl Operation {
    /// Stops the operation: its requests are withdrawn (the server is told
    /// to cancel them and their answers are ignored) and its callback will
    /// not be called. Returns False when it had ended already (its callback
    /// is called or being called).
    fn cancel(&self) -> bool {
        let won = self
            .state
            .compare_exchange(RUNNING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if won {
            self.abort.abort();
        }
        won
    }

    /// True once the operation has ended or was cancelled.
    #[getter]
    fn done(&self) -> bool {
        self.state.load(Ordering::Acquire) != RUNNING
    }

    /// True if [`Operation::cancel`] stopped it.
    #[getter]
    fn cancelled(&self) -> bool {
        self.state.load(Ordering::Acquire) == CANCELLED
    }

    /// Bytes moved so far by a transfer (retrieve_file, store_file), None
    /// for other operations: a watchdog tells a stalled transfer from a
    /// long one by it.
    #[getter]
    fn progress(&self) -> Option<u64> {
        self.progress.as_ref().map(|p| p.load(Ordering::Relaxed))
    }

    fn __repr__(&self) -> &'static str {
        match self.state.load(Ordering::Acquire) {
            RUNNING => "<smbkit._native.Operation running>",
            DONE => "<smbkit._native.Operation done>",
            _ => "<smbkit._native.Operation cancelled>",
        }
    }
}
