//! `smbkit._native.DirStream` and `smbkit._native.WalkStream`: smbkit's
//! [`smbkit::ReadDir`] and [`smbkit::Walk`] streams, read a batch at a
//! time.
//!
//! `next_batch(max)` waits for at least one entry, then takes whatever
//! else is ready at once (the rest of the page), up to `max`: one call per
//! page of the listing, not one per entry. An empty batch is the end.
//! Like every operation, it blocks with the GIL released, or with
//! `callback` runs as a task (`crate::ops`); calls on one stream are
//! served one after another. An error that comes after some entries of a
//! batch is kept and raised by the next call, so no entry is lost.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures_core::Stream;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use smbkit::{DirEntry, Error, ReadDir, Walk};
use tokio::sync::Mutex;

use crate::bridge::LoopGuard;
use crate::connection::{unix_seconds, FileTuple};
use crate::ops::{dispatch, Failure, Op};

/// The entry as a file tuple (see `crate::connection::FileTuple`).
fn entry_tuple(e: &DirEntry) -> FileTuple {
    (
        unix_seconds(e.created()),
        unix_seconds(e.accessed()),
        unix_seconds(e.modified()),
        unix_seconds(e.changed()),
        e.len(),
        e.alloc_size(),
        e.attributes().bits(),
        e.short_name().to_string(),
        e.name().to_string(),
        e.file_id(),
    )
}

/// A stream being read in batches.
struct Batches<S> {
    stream: S,
    /// An error that came after the entries of the last batch.
    error: Option<Error>,
    done: bool,
}

impl<T, S: Stream<Item = Result<T, Error>> + Unpin> Batches<S> {
    fn new(stream: S) -> Self {
        Batches {
            stream,
            error: None,
            done: false,
        }
    }

    /// At least one item (none at the end), and what else is ready, up to
    /// `max`.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<T>, Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        poll_fn(|cx| loop {
            if out.len() >= max {
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.stream).poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => out.push(item),
                Poll::Ready(Some(Err(e))) if out.is_empty() => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Err(e))) => {
                    self.error = Some(e);
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending if out.is_empty() => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Ok(())),
            }
        })
        .await?;
        Ok(out)
    }
}

fn check_max(max: usize) -> PyResult<()> {
    if max == 0 {
        return Err(PyValueError::new_err("max must be at least 1"));
    }
    Ok(())
}

/// The entries of a folder, page by page; made by
/// `Connection.read_dir`. `.` and `..` are left out.
#[pyclass(frozen, module = "smbkit._native", name = "DirStream")]
pub struct PyDirStream {
    inner: Arc<Mutex<Batches<ReadDir>>>,
    guard: LoopGuard,
}

impl PyDirStream {
    pub(crate) fn new(dir: ReadDir, guard: LoopGuard) -> Self {
        PyDirStream {
            inner: Arc::new(Mutex::new(Batches::new(dir))),
            guard,
        }
    }
}

#[pymethods]
impl PyDirStream {
    /// The next entries as file tuples: at least one, at most `max`; an
    /// empty list at the end of the folder.
    #[pyo3(signature = (max = 1024, *, callback = None))]
    fn next_batch(
        &self,
        py: Python<'_>,
        max: usize,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        check_max(max)?;
        let inner = Arc::clone(&self.inner);
        let op = Op::simple(async move {
            let mut b = inner.lock().await;
            let entries = b.next_batch(max).await.map_err(Failure::Smb)?;
            Ok(entries.iter().map(entry_tuple).collect::<Vec<_>>())
        });
        dispatch(py, op, callback, &self.guard)
    }
}

/// Everything below a folder; made by `Connection.walk`. Items are `(path
/// below the root, depth, file tuple)`, folders of different levels
/// interleaved.
#[pyclass(frozen, module = "smbkit._native", name = "WalkStream")]
pub struct PyWalkStream {
    inner: Arc<Mutex<Batches<Walk>>>,
    guard: LoopGuard,
}

impl PyWalkStream {
    pub(crate) fn new(walk: Walk, guard: LoopGuard) -> Self {
        PyWalkStream {
            inner: Arc::new(Mutex::new(Batches::new(walk))),
            guard,
        }
    }
}

#[pymethods]
impl PyWalkStream {
    /// The next items: at least one, at most `max`; an empty list at the
    /// end. A folder that cannot be listed raises its error here; the walk
    /// goes on with the next call.
    #[pyo3(signature = (max = 1024, *, callback = None))]
    fn next_batch(
        &self,
        py: Python<'_>,
        max: usize,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        check_max(max)?;
        let inner = Arc::clone(&self.inner);
        let op = Op::simple(async move {
            let mut b = inner.lock().await;
            let items = b.next_batch(max).await.map_err(Failure::Smb)?;
            Ok(items
                .iter()
                .map(|w| (w.path().to_string(), w.depth(), entry_tuple(w.entry())))
                .collect::<Vec<_>>())
        });
        dispatch(py, op, callback, &self.guard)
    }
}
