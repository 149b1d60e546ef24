//! `smbkit._native.RemoteFile`: smbkit's [`smbkit::RemoteFile`] (made by
//! `Connection.open`) as a file with a position, read and written in
//! place.
//!
//! It goes through the `AsyncRead`, `AsyncWrite` and `AsyncSeek` of
//! `RemoteFile`, so sequential reads keep several READs in flight ahead of
//! the caller and writes are gathered into WRITEs of the negotiated size,
//! several in flight. Every method blocks with the GIL released, or with
//! `callback` runs as a task (`crate::ops`); calls on one file are served
//! one after another, in the order they were made.

use std::io::{self, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use smbkit::{Error, OpenOptions, RemoteFile};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::bridge::LoopGuard;
use crate::connection::file_tuple;
use crate::ops::{dispatch, Failure, Op};

/// The most a `read` reserves before data arrives.
const READ_RESERVE: usize = 8 << 20;

/// The options of `Connection.open`.
pub(crate) fn open_options(
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    create_new: bool,
    truncate: bool,
) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(read)
        .write(write)
        .append(append)
        .create(create)
        .create_new(create_new)
        .truncate(truncate);
    o
}

/// smbkit's error beneath an I/O error of the traits, or the I/O error.
fn io_failure(e: io::Error) -> Failure {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(smb) = inner.downcast::<Error>() {
                return Failure::Smb(*smb);
            }
        }
        return Failure::Smb(Error::Io(io::Error::other("I/O error")));
    }
    Failure::Smb(Error::Io(e))
}

fn closed_file() -> Failure {
    Failure::Py(PyValueError::new_err("I/O operation on closed file"))
}

/// An open remote file; made by `Connection.open`.
#[pyclass(frozen, module = "smbkit._native", name = "RemoteFile")]
pub struct PyRemoteFile {
    inner: Arc<Mutex<Option<RemoteFile>>>,
    position: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
    size: u64,
    attributes: u32,
    name: String,
    guard: LoopGuard,
}

impl PyRemoteFile {
    pub(crate) fn new(file: RemoteFile, name: String, guard: LoopGuard) -> Self {
        PyRemoteFile {
            size: file.size(),
            attributes: file.attributes(),
            inner: Arc::new(Mutex::new(Some(file))),
            position: Arc::new(AtomicU64::new(0)),
            closed: Arc::new(AtomicBool::new(false)),
            name,
            guard,
        }
    }

    /// An operation on the open file: `work` gets it, then the position is
    /// recorded.
    fn op<T, W>(&self, work: W) -> Op
    where
        T: for<'py> IntoPyObject<'py> + Send + 'static,
        W: for<'f> FnOnce(
                &'f mut RemoteFile,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T, Failure>> + Send + 'f>,
            > + Send
            + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let position = Arc::clone(&self.position);
        Op::simple(async move {
            let mut guard = inner.lock().await;
            let file = guard.as_mut().ok_or_else(closed_file)?;
            let out = work(file).await;
            position.store(file.position(), Ordering::Release);
            out
        })
    }
}

#[pymethods]
impl PyRemoteFile {
    /// Reads up to `size` bytes from the position (`size` < 0: to the end
    /// of the file); fewer only at the end of the file, none past it.
    #[pyo3(signature = (size = -1, *, callback = None))]
    fn read(&self, py: Python<'_>, size: i64, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let want = usize::try_from(size).ok();
        let op = self.op(move |file| {
            Box::pin(async move {
                let mut buf = Vec::with_capacity(want.unwrap_or(READ_RESERVE).min(READ_RESERVE));
                match want {
                    Some(n) => {
                        while buf.len() < n {
                            if buf.capacity() == buf.len() {
                                buf.reserve((n - buf.len()).min(READ_RESERVE));
                            }
                            let got = (&mut *file)
                                .take((n - buf.len()) as u64)
                                .read_buf(&mut buf)
                                .await
                                .map_err(io_failure)?;
                            if got == 0 {
                                break;
                            }
                        }
                    }
                    None => {
                        file.read_to_end(&mut buf).await.map_err(io_failure)?;
                    }
                }
                Ok(Bytes(buf))
            })
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// Writes all of `data` at the position; returns its length. Writes
    /// are gathered and sent in the background: `flush` or `close` waits
    /// for their answers (and raises their errors).
    #[pyo3(signature = (data, *, callback = None))]
    fn write(
        &self,
        py: Python<'_>,
        data: Vec<u8>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.op(move |file| {
            Box::pin(async move {
                file.write_all(&data).await.map_err(io_failure)?;
                Ok(data.len())
            })
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// Moves the position: `offset` from the start (`whence` 0), from the
    /// position (1) or from the end of the file (2, asked of the server);
    /// returns the new position.
    #[pyo3(signature = (offset, whence = 0, *, callback = None))]
    fn seek(
        &self,
        py: Python<'_>,
        offset: i64,
        whence: u8,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let to =
            match whence {
                0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| {
                    PyValueError::new_err(format!("negative seek position {offset}"))
                })?),
                1 => SeekFrom::Current(offset),
                2 => SeekFrom::End(offset),
                other => {
                    return Err(PyValueError::new_err(format!(
                "whence must be 0 (os.SEEK_SET), 1 (os.SEEK_CUR) or 2 (os.SEEK_END), not {other}"
            )))
                }
            };
        let op =
            self.op(move |file| Box::pin(async move { file.seek(to).await.map_err(io_failure) }));
        dispatch(py, op, callback, &self.guard)
    }

    /// The position after the operations that have ended.
    fn tell(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// Sends what was written and waits until the server has answered it,
    /// then asks the server to write its cache of the file to storage.
    #[pyo3(signature = (*, callback = None))]
    fn flush(&self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let op = self.op(move |file| {
            Box::pin(async move {
                AsyncWriteExt::flush(file).await.map_err(io_failure)?;
                RemoteFile::flush(file).await.map_err(Failure::Smb)?;
                Ok(())
            })
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// Cuts the file to `length` bytes, or extends it with zeros, after
    /// the writes before.
    #[pyo3(signature = (length, *, callback = None))]
    fn set_len(
        &self,
        py: Python<'_>,
        length: u64,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.op(move |file| {
            Box::pin(async move {
                AsyncWriteExt::flush(file).await.map_err(io_failure)?;
                file.set_len(length).await.map_err(Failure::Smb)
            })
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// What the file is now, asked of the server, as a file tuple.
    #[pyo3(signature = (*, callback = None))]
    fn metadata(&self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let op = self.op(move |file| {
            Box::pin(async move {
                AsyncWriteExt::flush(file).await.map_err(io_failure)?;
                Ok(file_tuple(file.metadata().await.map_err(Failure::Smb)?))
            })
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// Sends what was written, waits for the answers and closes the file.
    /// Closing twice is harmless.
    #[pyo3(signature = (*, callback = None))]
    fn close(&self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let inner = Arc::clone(&self.inner);
        let closed = Arc::clone(&self.closed);
        closed.store(true, Ordering::Release);
        let op = Op::simple(async move {
            let file = inner.lock().await.take();
            match file {
                Some(f) => f.close().await.map_err(Failure::Smb),
                None => Ok(()),
            }
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// The file's size when it was opened.
    #[getter]
    fn size(&self) -> u64 {
        self.size
    }

    /// The file's FILE_ATTRIBUTE_* bits when it was opened.
    #[getter]
    fn attributes(&self) -> u32 {
        self.attributes
    }

    /// The path it was opened with.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// True once `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn __repr__(&self) -> String {
        format!(
            "<smbkit._native.RemoteFile {:?} position={}{}>",
            self.name,
            self.tell(),
            if self.closed() { " closed" } else { "" }
        )
    }
}

/// Bytes read, made into `bytes` once attached.
struct Bytes(Vec<u8>);

impl<'py> IntoPyObject<'py> for Bytes {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyBytes::new(py, &self.0))
    }
}
