//! Python file objects as tokio's `AsyncWrite` and `AsyncRead`, for
//! `retrieve_file` and `store_file`.
//!
//! Both are polled with the GIL released: on the calling thread by
//! `crate::runtime::wait`, or on a runtime worker for an operation started
//! with a callback (`crate::ops`). Each call of the file object's `write`
//! or `read` attaches to the interpreter for that call alone
//! (`crate::runtime::attached`). Each counts the bytes it moved in a
//! shared counter, which `Operation.progress` shows. They never return
//! `Pending`: a slow file object simply holds the transfer back, as a
//! slow disk would. A Python exception from the file object is kept
//! ([`PyWriter::take_error`], [`PyReader::take_error`]) and raised in
//! place of the transfer's error once the transfer has stopped.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::runtime::attached;

/// The error handed to the transfer when the file object raised.
fn failed(what: &str) -> io::Error {
    io::Error::other(format!("the file object's {what}() raised an exception"))
}

/// The error handed to the transfer when the interpreter is shutting down.
fn finalizing() -> io::Error {
    io::Error::other("the Python interpreter is shutting down")
}

/// A Python object with a `write(bytes)` method, as an `AsyncWrite`: each
/// chunk the transfer writes becomes one `bytes` object.
pub(crate) struct PyWriter {
    file: Py<PyAny>,
    error: Option<PyErr>,
    moved: Arc<AtomicU64>,
}

impl PyWriter {
    /// Writes to `file`, counting the bytes in `moved`.
    pub(crate) fn new(file: Py<PyAny>, moved: Arc<AtomicU64>) -> Self {
        PyWriter {
            file,
            error: None,
            moved,
        }
    }

    /// The exception the file object raised, if it did.
    pub(crate) fn take_error(&mut self) -> Option<PyErr> {
        self.error.take()
    }

    /// Calls `write(data)`; returns how much it took. A file object that
    /// returns no count (most do not, or return `None`) took everything,
    /// as pysmb assumes.
    fn write(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<usize> {
        let taken = self
            .file
            .bind(py)
            .call_method1("write", (PyBytes::new(py, data),))?;
        if taken.is_none() {
            return Ok(data.len());
        }
        Ok(match taken.extract::<usize>() {
            Ok(n) => n.min(data.len()),
            Err(_) => data.len(),
        })
    }
}

impl AsyncWrite for PyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(written) = attached(|py| this.write(py, buf)) else {
            return Poll::Ready(Err(finalizing()));
        };
        Poll::Ready(match written {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the file object's write() took no bytes",
            )),
            Ok(n) => {
                this.moved.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                this.error = Some(e);
                Err(failed("write"))
            }
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As pysmb: the file object is left to its owner to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A Python object with a `read(n)` method returning `bytes`, as an
/// `AsyncRead`: the transfer asks for as much as fits its next write
/// request, and `read` is called with that size.
pub(crate) struct PyReader {
    file: Py<PyAny>,
    /// Bytes `read` returned beyond what was asked for, not handed out yet.
    rest: Vec<u8>,
    error: Option<PyErr>,
    moved: Arc<AtomicU64>,
}

impl PyReader {
    /// Reads from `file`, counting the bytes in `moved`.
    pub(crate) fn new(file: Py<PyAny>, moved: Arc<AtomicU64>) -> Self {
        PyReader {
            file,
            rest: Vec::new(),
            error: None,
            moved,
        }
    }

    /// The exception the file object raised, if it did.
    pub(crate) fn take_error(&mut self) -> Option<PyErr> {
        self.error.take()
    }

    /// Calls `read(want)` and copies what it returns into `buf`, keeping
    /// any excess. Nothing copied means the end of the input.
    fn read(&mut self, py: Python<'_>, want: usize, buf: &mut ReadBuf<'_>) -> PyResult<()> {
        let data = self.file.bind(py).call_method1("read", (want,))?;
        let put = |bytes: &[u8], buf: &mut ReadBuf<'_>, rest: &mut Vec<u8>| {
            let n = bytes.len().min(buf.remaining());
            buf.put_slice(&bytes[..n]);
            rest.extend_from_slice(&bytes[n..]);
        };
        if let Ok(bytes) = data.cast::<PyBytes>() {
            put(bytes.as_bytes(), buf, &mut self.rest);
        } else if let Ok(array) = data.cast::<PyByteArray>() {
            put(&array.to_vec(), buf, &mut self.rest);
        } else if data.is_none() {
            // A non-blocking raw file with nothing ready: pysmb treats it
            // as the end of the input too.
        } else {
            return Err(PyTypeError::new_err(format!(
                "the file object's read() must return bytes, not {}; open the file in binary mode",
                data.get_type().name()?
            )));
        }
        Ok(())
    }
}

impl AsyncRead for PyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining();
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        if !this.rest.is_empty() {
            let n = this.rest.len().min(want);
            buf.put_slice(&this.rest[..n]);
            this.rest.drain(..n);
            this.moved.fetch_add(n as u64, Ordering::Relaxed);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let Some(read) = attached(|py| this.read(py, want, buf)) else {
            return Poll::Ready(Err(finalizing()));
        };
        this.moved
            .fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        Poll::Ready(read.map_err(|e| {
            this.error = Some(e);
            failed("read")
        }))
    }
}
