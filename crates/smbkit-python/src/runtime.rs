//! The one tokio runtime of the process, and the way a Python thread waits
//! for smbkit's futures on it.
//!
//! # Why not `smbkit::blocking`
//!
//! `smbkit::blocking` keeps its runtime private and hands transfer data
//! between threads through queues. The Python package needs one runtime
//! that the blocking API (`smbkit.smb.SMBConnection`), and later the
//! asyncio (`smbkit.aio`) and Twisted APIs, all share, so this module owns
//! it and drives the async [`smbkit::Connection`] itself:
//!
//! - The runtime is multi-threaded with two worker threads, created on
//!   first use and kept for the life of the process (a child made by
//!   `fork()` starts its own). The workers run each connection's
//!   background tasks (reading, writing, timers, keep-alive), so a
//!   connection answers the server between calls.
//! - A call runs its future with `Runtime::block_on` **on the calling
//!   Python thread**, with the GIL released ([`wait`]). Many Python threads
//!   can do so at once on one connection; each waits only for its own
//!   operation.
//! - A transfer's future calls the Python file object's `write` or `read`
//!   directly between polls, attaching to the interpreter for that call
//!   only (see `crate::fileio`). The file object is only ever called from
//!   the thread that passed it in, and no queue of this crate holds the
//!   data: each chunk the connection receives becomes one `bytes` object
//!   handed to `write`, each `read` fills the next write request.
//! - While it waits, the call looks for pending signals every
//!   [`SIGNAL_CHECK`]: a Ctrl-C raises `KeyboardInterrupt` in the waiting
//!   thread and drops the future, which withdraws its requests.
//!
//! `block_on` may not be nested inside a runtime context; that happens
//! only when Python code that a transfer calls (a file object's `write`)
//! itself calls smbkit. Such a call runs on a scoped helper thread
//! instead.
//!
//! Operations started without blocking (`crate::ops`) run as tasks on the
//! workers instead, and so do the background tasks of connections made
//! over a `crate::bridge::Bridge`. Whenever code on a worker has to call
//! Python (a file object, a completion callback, a bridge's wake-up), it
//! does so through [`attached`], which first hands the worker's other
//! tasks to another thread (`block_in_place`): waiting for the GIL, or for
//! a slow file object, never holds up the connections' I/O.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::{Handle, Runtime};

/// Worker threads of the runtime: the work is I/O, signing and
/// encryption; the calling threads poll their own operations.
const WORKER_THREADS: usize = 2;

/// How often a waiting call looks for pending signals (Ctrl-C).
pub(crate) const SIGNAL_CHECK: Duration = Duration::from_millis(200);

/// The runtime, and the process it was started in.
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The process's runtime, created on first use.
///
/// A child made by `fork()` (Python's `multiprocessing`, `os.fork`) has
/// none of its parent's threads, so it gets a runtime of its own on first
/// use; the parent's is left alone (dropping it would wait for threads
/// that do not exist in the child). Connections made before the fork
/// belong to the parent.
pub(crate) fn runtime() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("smbkit-python")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the smbkit runtime: {e}")))?;
    // Kept for the life of the process.
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// Runs `fut` to its end on the calling thread with the GIL released, and
/// returns its output; fails with the pending exception if a signal
/// handler raised one (Ctrl-C) while waiting, after dropping `fut`.
pub(crate) fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    py.detach(|| block_on(rt, fut))
}

/// `rt.block_on(fut)`, raced against pending signals; on a scoped thread
/// when the calling thread is already inside a runtime.
fn block_on<F>(rt: &Runtime, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let run = move || {
        rt.block_on(async move {
            tokio::select! {
                biased;
                out = fut => Ok(out),
                err = interrupted() => Err(err),
            }
        })
    };
    if Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|s| match s.spawn(run).join() {
        Ok(out) => out,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Runs `f` attached to the interpreter, first letting the runtime move
/// this worker's other tasks elsewhere when called on a worker thread (a
/// no-op elsewhere). None when the interpreter is shutting down: there is
/// nobody left to call.
pub(crate) fn attached<F, R>(f: F) -> Option<R>
where
    F: for<'py> FnOnce(Python<'py>) -> R,
{
    tokio::task::block_in_place(|| Python::try_attach(f))
}

/// Resolves with the exception a signal handler raised. Signal handlers
/// run only on the main thread; elsewhere this never resolves.
async fn interrupted() -> PyErr {
    loop {
        tokio::time::sleep(SIGNAL_CHECK).await;
        // Not attached while the interpreter shuts down: nothing to check.
        if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
            return e;
        }
    }
}
