//! `smbkit._native.Connection`, `smbkit._native.connect` and
//! `smbkit._native.connect_stream`: the async [`smbkit::Connection`] as a
//! Python object.
//!
//! Every operation takes its arguments once and builds an [`Op`]
//! (`crate::ops`); without `callback` it waits for its result with the GIL
//! released (the blocking API, `smbkit.smb.SMBConnection`), with
//! `callback` it runs as a task on the shared runtime and returns an
//! `Operation` handle at once (the asyncio and Twisted APIs).
//!
//! The methods take and return plain Python values (tuples, `bytes`,
//! numbers); the pure-Python layers above build pysmb's objects from them.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use smbkit::{Encryption, Error, Protocol, SharedFile, SignOptions, SmbProtocolFactory};

use crate::bridge::{LoopGuard, PyBridge};
use crate::fileio::{PyReader, PyWriter};
use crate::listing::{PyDirStream, PyWalkStream};
use crate::ops::{dispatch, Failure, Op};
use crate::remote_file::{open_options, PyRemoteFile};
use crate::runtime::attached;

/// What the native layer hands out for a file or folder, in the order of
/// pysmb's `SharedFile(create_time, last_access_time, last_write_time,
/// last_attr_change_time, file_size, alloc_size, file_attributes,
/// short_name, filename, file_id)`.
pub(crate) type FileTuple = (f64, f64, f64, f64, u64, u64, u32, String, String, u64);

pub(crate) fn file_tuple(f: SharedFile) -> FileTuple {
    (
        f.create_time,
        f.last_access_time,
        f.last_write_time,
        f.last_attr_change_time,
        f.file_size,
        f.alloc_size,
        f.file_attributes,
        f.short_name,
        f.filename,
        f.file_id,
    )
}

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A time limit in seconds, as Python passes it.
pub(crate) fn limit(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        PyValueError::new_err(format!(
            "timeout must be a non-negative number of seconds, not {seconds}"
        ))
    })
}

/// `fut`'s smbkit error as a [`Failure`].
async fn smb<T>(fut: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Failure> {
    fut.await.map_err(Failure::Smb)
}

/// An authenticated SMB connection, made by `smbkit._native.connect` or
/// `smbkit._native.connect_stream`.
///
/// Without `callback`, every method waits for its result with the GIL
/// released, so one connection serves many Python threads at once. With
/// `callback`, it returns an `Operation` at once and calls
/// `callback(result, None)` or `callback(None, exception)` from a runtime
/// thread when done. `timeout` (seconds) replaces the operation's default
/// time limit (30 s; 10 s for echo).
#[pyclass(frozen, module = "smbkit._native", name = "Connection")]
pub struct PyConnection {
    inner: smbkit::Connection,
    /// The event loop that carries the bytes, for a bridged connection.
    guard: LoopGuard,
}

impl PyConnection {
    /// The connection, with `timeout` as its time limit when given.
    fn handle(&self, timeout: Option<f64>) -> PyResult<smbkit::Connection> {
        Ok(match timeout {
            Some(t) => self.inner.with_timeout(limit(t)?),
            None => self.inner.clone(),
        })
    }
}

#[pymethods]
impl PyConnection {
    /// True while the connection is open and authenticated.
    #[getter]
    fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// True when the connection speaks SMB2 or SMB3 (not SMB1).
    #[getter]
    fn is_using_smb2(&self) -> bool {
        self.inner.is_using_smb2()
    }

    /// The negotiated dialect, e.g. `"3.1.1"`, or `"1 (NT LM 0.12)"` for
    /// SMB1.
    #[getter]
    fn dialect(&self) -> &'static str {
        self.inner.dialect().version_str()
    }

    /// What was negotiated with the server, as a dict: `dialect`,
    /// `max_read_size`, `max_write_size`, `max_transact_size`,
    /// `capabilities`, `signing`, `signing_required_by_server`,
    /// `encrypted`, `is_guest`, `is_anonymous`.
    fn server_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let info = self.inner.server_info();
        let d = PyDict::new(py);
        d.set_item("dialect", info.dialect.version_str())?;
        d.set_item("max_read_size", info.max_read_size)?;
        d.set_item("max_write_size", info.max_write_size)?;
        d.set_item("max_transact_size", info.max_transact_size)?;
        d.set_item("capabilities", info.capabilities)?;
        d.set_item("signing", info.signing)?;
        d.set_item(
            "signing_required_by_server",
            info.signing_required_by_server,
        )?;
        d.set_item("encrypted", info.encrypted)?;
        d.set_item("is_guest", info.is_guest)?;
        d.set_item("is_anonymous", info.is_anonymous)?;
        Ok(d)
    }

    /// Sends ECHO; returns `data`.
    #[pyo3(signature = (data, *, timeout = None, callback = None))]
    fn echo(
        &self,
        py: Python<'_>,
        data: Vec<u8>,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::new(smb(async move { c.echo(&data).await }), |py, back| {
            Ok(PyBytes::new(py, &back).into_any().unbind())
        });
        dispatch(py, op, callback, &self.guard)
    }

    /// The shares of the server, as `(name, type, comments)` tuples; `type`
    /// is the raw STYPE_* value (special and temporary bits included).
    #[pyo3(signature = (*, timeout = None, callback = None))]
    fn list_shares(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move {
            let shares = c.list_shares().await?;
            Ok(shares
                .into_iter()
                .map(|s| (s.name, s.raw_type, s.comments))
                .collect::<Vec<_>>())
        }));
        dispatch(py, op, callback, &self.guard)
    }

    /// The entries of the folder `path` whose attributes pass `search` and
    /// whose names match `pattern`, as file tuples.
    #[pyo3(signature = (share, path, search = smbkit::DEFAULT_SEARCH, pattern = "*".to_string(), *, timeout = None, callback = None))]
    #[allow(clippy::too_many_arguments)] // one per Python argument
    fn list_path(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        search: u32,
        pattern: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move {
            let files = c.list_path_with(&share, &path, search, &pattern).await?;
            Ok(files.into_iter().map(file_tuple).collect::<Vec<_>>())
        }));
        dispatch(py, op, callback, &self.guard)
    }

    /// The entries of the folder `path` as a stream that lists it page by
    /// page (`DirStream.next_batch`), `.` and `..` left out. Nothing is
    /// sent until the first batch is asked for. `timeout` applies to each
    /// page.
    #[pyo3(signature = (share, path, *, timeout = None))]
    fn read_dir(&self, share: String, path: String, timeout: Option<f64>) -> PyResult<PyDirStream> {
        let c = self.handle(timeout)?;
        Ok(PyDirStream::new(
            c.read_dir(&share, &path),
            self.guard.clone(),
        ))
    }

    /// Everything below the folder `path`, as a stream of `(path below
    /// it, depth, file tuple)` (`WalkStream.next_batch`), listing
    /// `concurrency` folders at once, no deeper than `max_depth` levels
    /// (None: all).
    #[pyo3(signature = (share, path, *, concurrency = smbkit::WALK_CONCURRENCY, max_depth = None, timeout = None))]
    fn walk(
        &self,
        share: String,
        path: String,
        concurrency: usize,
        max_depth: Option<usize>,
        timeout: Option<f64>,
    ) -> PyResult<PyWalkStream> {
        let c = self.handle(timeout)?;
        let mut walk = c.walk(&share, &path).concurrency(concurrency);
        if let Some(d) = max_depth {
            walk = walk.max_depth(d);
        }
        Ok(PyWalkStream::new(walk, self.guard.clone()))
    }

    /// The snapshots of `path`, as seconds since the Unix epoch (UTC).
    #[pyo3(signature = (share, path, *, timeout = None, callback = None))]
    fn list_snapshots(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move {
            let times = c.list_snapshots(&share, &path).await?;
            Ok(times.into_iter().map(unix_seconds).collect::<Vec<_>>())
        }));
        dispatch(py, op, callback, &self.guard)
    }

    /// The attributes of the file or folder `path`, as a file tuple.
    #[pyo3(signature = (share, path, *, timeout = None, callback = None))]
    fn get_attributes(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move {
            Ok(file_tuple(c.get_attributes(&share, &path).await?))
        }));
        dispatch(py, op, callback, &self.guard)
    }

    /// The security descriptor of `path` (owner, group, DACL), as the
    /// bytes of a self-relative SECURITY_DESCRIPTOR (MS-DTYP §2.4.6).
    #[pyo3(signature = (share, path, *, timeout = None, callback = None))]
    fn get_security(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::new(
            smb(async move { c.get_security(&share, &path).await }),
            |py, sd| {
                let bytes = sd.to_bytes().map_err(|e| {
                    PyRuntimeError::new_err(format!("cannot encode the security descriptor: {e}"))
                })?;
                Ok(PyBytes::new(py, &bytes).into_any().unbind())
            },
        );
        dispatch(py, op, callback, &self.guard)
    }

    /// Writes the file `path` from `offset` to `file` (anything with a
    /// `write(bytes)` method), at most `max_length` bytes (`None`: to the
    /// end); returns `(file attributes, bytes written)`. An offset past
    /// the end of the file writes nothing, as pysmb does. `timeout`
    /// applies to each request.
    ///
    /// `file.write` is called once per chunk received, on the thread
    /// that waits (blocking) or on a runtime thread (with `callback`),
    /// attached to the interpreter for that call only.
    #[pyo3(signature = (share, path, file, offset = 0, max_length = None, *, timeout = None, callback = None))]
    #[allow(clippy::too_many_arguments)] // one per Python argument
    fn retrieve_file(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        file: Py<PyAny>,
        offset: u64,
        max_length: Option<u64>,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let progress = Arc::new(AtomicU64::new(0));
        let mut writer = PyWriter::new(file, Arc::clone(&progress));
        let fut = async move {
            let outcome = c
                .retrieve_file_from_offset(&share, &path, &mut writer, offset, max_length)
                .await;
            if let Some(e) = writer.take_error() {
                return Err(Failure::Py(e));
            }
            match outcome {
                Ok(done) => Ok(done),
                Err(e) if offset > 0 && e.status().is_none() && !e.is_timeout() => {
                    // smbkit refuses an offset past the end; pysmb writes
                    // nothing and returns the attributes.
                    let f = c.get_attributes(&share, &path).await?;
                    if offset > f.file_size {
                        Ok((f.file_attributes, 0))
                    } else {
                        Err(Failure::Smb(e))
                    }
                }
                Err(e) => Err(Failure::Smb(e)),
            }
        };
        dispatch(
            py,
            Op::simple(fut).with_progress(progress),
            callback,
            &self.guard,
        )
    }

    /// Writes what `file` (anything with a `read(n)` method returning
    /// `bytes`) yields into `path` from `offset`, creating the file if
    /// needed and emptying it first with `truncate`; returns the bytes
    /// written. `timeout` applies to each request; `file.read` is called
    /// as `retrieve_file` calls `write`.
    #[pyo3(signature = (share, path, file, offset = 0, truncate = true, *, timeout = None, callback = None))]
    #[allow(clippy::too_many_arguments)] // one per Python argument
    fn store_file(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        file: Py<PyAny>,
        offset: u64,
        truncate: bool,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let progress = Arc::new(AtomicU64::new(0));
        let mut reader = PyReader::new(file, Arc::clone(&progress));
        let fut = async move {
            let outcome = c
                .store_file_from_offset(&share, &path, &mut reader, offset, truncate)
                .await;
            if let Some(e) = reader.take_error() {
                return Err(Failure::Py(e));
            }
            outcome.map_err(Failure::Smb)
        };
        dispatch(
            py,
            Op::simple(fut).with_progress(progress),
            callback,
            &self.guard,
        )
    }

    /// Opens the file `path` as a `RemoteFile` for reading and writing at a
    /// position (`read`, `write`, `seek`), as `open()` does locally:
    /// `read`, `write`, `append`, `create`, `create_new` and `truncate` are
    /// those of Rust's `OpenOptions` (at least one of read, write, append).
    /// `timeout` applies to each of the file's operations.
    #[pyo3(signature = (share, path, *, read = true, write = false, append = false, create = false, create_new = false, truncate = false, timeout = None, callback = None))]
    #[allow(clippy::too_many_arguments)] // one per Python argument
    fn open(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        read: bool,
        write: bool,
        append: bool,
        create: bool,
        create_new: bool,
        truncate: bool,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let options = open_options(read, write, append, create, create_new, truncate);
        let name = path.clone();
        let guard = self.guard.clone();
        let op = Op::new(
            smb(async move { c.open(&share, &path, &options).await }),
            move |py, file| Ok(Py::new(py, PyRemoteFile::new(file, name, guard))?.into_any()),
        );
        dispatch(py, op, callback, &self.guard)
    }

    /// Deletes the files matching `pattern` (wildcards in the last
    /// component), and with `delete_matching_folders` the matching folders
    /// with everything in them.
    #[pyo3(signature = (share, pattern, delete_matching_folders = false, *, timeout = None, callback = None))]
    fn delete_files(
        &self,
        py: Python<'_>,
        share: String,
        pattern: String,
        delete_matching_folders: bool,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move {
            c.delete_files(&share, &pattern, delete_matching_folders)
                .await
        }));
        dispatch(py, op, callback, &self.guard)
    }

    /// Sets the FILE_ATTRIBUTE_* bits of every file matching `pattern`.
    #[pyo3(signature = (share, pattern, attributes, *, timeout = None, callback = None))]
    fn reset_file_attributes(
        &self,
        py: Python<'_>,
        share: String,
        pattern: String,
        attributes: u32,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move {
            c.reset_file_attributes(&share, &pattern, attributes).await
        }));
        dispatch(py, op, callback, &self.guard)
    }

    /// Sets the times of `path` given in seconds since the Unix epoch
    /// (UTC); a time left `None` is not changed.
    #[pyo3(signature = (share, path, *, created = None, accessed = None, modified = None, changed = None, timeout = None, callback = None))]
    #[allow(clippy::too_many_arguments)]
    fn set_file_times(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        created: Option<f64>,
        accessed: Option<f64>,
        modified: Option<f64>,
        changed: Option<f64>,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let time = |t: Option<f64>| -> PyResult<Option<std::time::SystemTime>> {
            t.map(|secs| {
                let d = std::time::Duration::try_from_secs_f64(secs.abs()).map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err(format!(
                        "{secs} is not a time in seconds since 1970"
                    ))
                })?;
                Ok(if secs >= 0.0 {
                    std::time::UNIX_EPOCH + d
                } else {
                    std::time::UNIX_EPOCH - d
                })
            })
            .transpose()
        };
        let mut times = smbkit::FileTimes::new();
        times.created = time(created)?;
        times.accessed = time(accessed)?;
        times.modified = time(modified)?;
        times.changed = time(changed)?;
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(
            async move { c.set_file_times(&share, &path, &times).await },
        ));
        dispatch(py, op, callback, &self.guard)
    }

    /// Creates the folder `path` (its parent must exist).
    #[pyo3(signature = (share, path, *, timeout = None, callback = None))]
    fn create_directory(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move { c.create_directory(&share, &path).await }));
        dispatch(py, op, callback, &self.guard)
    }

    /// Deletes the empty folder `path`.
    #[pyo3(signature = (share, path, *, timeout = None, callback = None))]
    fn delete_directory(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move { c.delete_directory(&share, &path).await }));
        dispatch(py, op, callback, &self.guard)
    }

    /// Renames (or moves, within the share) `old_path` to `new_path`.
    #[pyo3(signature = (share, old_path, new_path, *, timeout = None, callback = None))]
    fn rename(
        &self,
        py: Python<'_>,
        share: String,
        old_path: String,
        new_path: String,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(
            async move { c.rename(&share, &old_path, &new_path).await },
        ));
        dispatch(py, op, callback, &self.guard)
    }

    /// Disconnects the trees, logs off and closes the socket (or, over a
    /// bridge, lets the transport close). Closing twice is harmless.
    #[pyo3(signature = (*, timeout = None, callback = None))]
    fn close(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.handle(timeout)?;
        let op = Op::simple(smb(async move { c.close().await }));
        dispatch(py, op, callback, &self.guard)
    }

    fn __repr__(&self) -> String {
        format!(
            "<smbkit._native.Connection dialect={} ready={}>",
            self.inner.dialect().version_str(),
            self.inner.is_ready()
        )
    }
}

/// The password: a string, or a callable computing it when the connection
/// authenticates (on the thread that runs the handshake). An exception
/// from the callable is kept in `failure`.
fn password(
    factory: SmbProtocolFactory,
    password: &Bound<'_, PyAny>,
    failure: &Arc<Mutex<Option<PyErr>>>,
) -> PyResult<SmbProtocolFactory> {
    if password.is_instance_of::<PyString>() {
        // Already set by SmbProtocolFactory::new.
        return Ok(factory);
    }
    if !password.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "password must be a str or a callable returning one, not {}",
            password.get_type().name()?
        )));
    }
    let callable = password.clone().unbind();
    let failure = Arc::clone(failure);
    Ok(factory.password_callback(move || {
        attached(|py| {
            match callable
                .bind(py)
                .call0()
                .and_then(|v| v.extract::<String>())
            {
                Ok(p) => p,
                Err(e) => {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    String::new()
                }
            }
        })
        .unwrap_or_default()
    }))
}

/// The Kerberos settings of `options` (keys `mode`: `"off"`, `"preferred"`
/// or `"required"`; `ccache`, `keytab`, `realm`, `host`, `krb5_conf`: str;
/// `kdc`: a list of `host[:port]`); other keys are refused.
fn kerberos(
    mut factory: SmbProtocolFactory,
    options: &Bound<'_, PyDict>,
) -> PyResult<SmbProtocolFactory> {
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        if value.is_none() {
            continue;
        }
        factory = match key.as_str() {
            "mode" => factory.kerberos(match value.extract::<String>()?.as_str() {
                "off" => smbkit::Kerberos::Off,
                "preferred" => smbkit::Kerberos::Preferred,
                "required" => smbkit::Kerberos::Required,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "kerberos must be \"off\", \"preferred\" or \"required\", not {other:?}"
                    )))
                }
            }),
            "ccache" => factory.kerberos_ccache(value.extract::<std::path::PathBuf>()?),
            "keytab" => factory.kerberos_keytab(value.extract::<std::path::PathBuf>()?),
            "realm" => factory.kerberos_realm(value.extract::<String>()?),
            "host" => factory.kerberos_host(value.extract::<String>()?),
            "krb5_conf" => factory.krb5_conf(value.extract::<std::path::PathBuf>()?),
            "kdc" => value
                .extract::<Vec<String>>()?
                .into_iter()
                .fold(factory, |f, k| f.kdc(k)),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown Kerberos option {other:?} (mode, ccache, keytab, realm, host, kdc, krb5_conf)"
                )))
            }
        };
    }
    Ok(factory)
}

/// The settings both ways of connecting share, checked.
struct Settings {
    factory: SmbProtocolFactory,
    /// An exception of the password callable.
    failure: Arc<Mutex<Option<PyErr>>>,
}

impl Settings {
    #[allow(clippy::too_many_arguments)] // one per Python argument
    fn new(
        username: String,
        password: &Bound<'_, PyAny>,
        my_name: &str,
        remote_name: &str,
        domain: String,
        use_ntlm_v2: bool,
        sign_options: u8,
        is_direct_tcp: bool,
        protocol: &str,
        extended_security: bool,
        encryption: &str,
        timeout: Option<f64>,
        kerberos: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Settings> {
        let sign = match sign_options {
            0 => SignOptions::Never,
            1 => SignOptions::WhenSupported,
            2 => SignOptions::WhenRequired,
            other => {
                return Err(PyValueError::new_err(format!(
                    "sign_options must be SIGN_NEVER (0), SIGN_WHEN_SUPPORTED (1) or SIGN_WHEN_REQUIRED (2), not {other}"
                )))
            }
        };
        let protocol = match protocol {
            "auto" => Protocol::Auto,
            "smb1" => Protocol::Smb1Only,
            "smb2" => Protocol::Smb2Only,
            other => {
                return Err(PyValueError::new_err(format!(
                    "protocol must be \"auto\", \"smb1\" or \"smb2\", not {other:?}"
                )))
            }
        };
        let encryption = match encryption {
            "if_required" => Encryption::IfRequired,
            "preferred" => Encryption::Preferred,
            "required" => Encryption::Required,
            other => {
                return Err(PyValueError::new_err(format!(
                "encryption must be \"if_required\", \"preferred\" or \"required\", not {other:?}"
            )))
            }
        };
        let fixed = if password.is_instance_of::<PyString>() {
            password.extract::<String>()?
        } else {
            String::new()
        };
        let bad = |e: Error| PyValueError::new_err(e.to_string());
        let mut factory = SmbProtocolFactory::new(username, fixed, my_name, remote_name)
            .map_err(bad)?
            .domain(domain)
            .use_ntlm_v2(use_ntlm_v2)
            .sign_options(sign)
            .direct_tcp(is_direct_tcp)
            .protocol(protocol)
            .extended_security(extended_security)
            .encryption(encryption);
        if let Some(t) = timeout {
            factory = factory.connect_timeout(limit(t)?);
        }
        if let Some(k) = kerberos {
            factory = self::kerberos(factory, k)?;
        }
        let failure = Arc::new(Mutex::new(None));
        let factory = self::password(factory, password, &failure)?;
        Ok(Settings { factory, failure })
    }

    /// The operation that runs `connecting` and makes the connection.
    fn op<F>(self, connecting: F, guard: LoopGuard) -> Op
    where
        F: std::future::Future<Output = Result<smbkit::Connection, Error>> + Send + 'static,
    {
        let failure = self.failure;
        let fut = async move {
            let outcome = connecting.await;
            if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(Failure::Py(e));
            }
            outcome.map_err(Failure::Smb)
        };
        Op::new(fut, move |py, inner| {
            Ok(Py::new(py, PyConnection { inner, guard })?.into_any())
        })
    }
}

/// Connects to the first of `addresses` that answers (`(ip, port,
/// scope_id)` tuples, already resolved), negotiates and authenticates.
///
/// `password` is a str or a callable returning one. `sign_options` is
/// pysmb's `SIGN_NEVER` (0), `SIGN_WHEN_SUPPORTED` (1) or
/// `SIGN_WHEN_REQUIRED` (2); `protocol` is `"auto"` (SMB1 and SMB2/3 in
/// one NEGOTIATE), `"smb1"` or `"smb2"`; `extended_security` is for SMB1
/// only; `encryption` is `"if_required"` (what the server asks for),
/// `"preferred"` or `"required"`; `timeout` limits connecting and
/// authenticating. With `callback`, returns an `Operation` at once.
///
/// A refused logon raises `OperationFailure` with the server's status;
/// settings smbkit rejects (a NetBIOS name too long, ...) raise
/// `ValueError`.
#[pyfunction]
#[pyo3(signature = (
    addresses, username, password, my_name, remote_name, *,
    domain = String::new(), use_ntlm_v2 = true, sign_options = 2, is_direct_tcp = false,
    protocol = "auto".to_string(), extended_security = true,
    encryption = "if_required".to_string(), timeout = None, kerberos = None, callback = None
))]
#[allow(clippy::too_many_arguments)] // one per Python argument
pub fn connect(
    py: Python<'_>,
    addresses: Vec<(String, u16, u32)>,
    username: String,
    password: Bound<'_, PyAny>,
    my_name: String,
    remote_name: String,
    domain: String,
    use_ntlm_v2: bool,
    sign_options: u8,
    is_direct_tcp: bool,
    protocol: String,
    extended_security: bool,
    encryption: String,
    timeout: Option<f64>,
    kerberos: Option<Bound<'_, PyDict>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let addrs = addresses
        .iter()
        .map(|(ip, port, scope)| {
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| PyValueError::new_err(format!("{ip:?} is not an IP address")))?;
            Ok(match ip {
                IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, *port, 0, *scope)),
                v4 => SocketAddr::new(v4, *port),
            })
        })
        .collect::<PyResult<Vec<SocketAddr>>>()?;
    if addrs.is_empty() {
        return Err(PyValueError::new_err("no address to connect to"));
    }
    let settings = Settings::new(
        username,
        &password,
        &my_name,
        &remote_name,
        domain,
        use_ntlm_v2,
        sign_options,
        is_direct_tcp,
        &protocol,
        extended_security,
        &encryption,
        timeout,
        kerberos.as_ref(),
    )?;
    let factory = settings.factory.clone();
    let op = settings.op(
        async move { factory.connect(addrs.as_slice()).await },
        LoopGuard::default(),
    );
    dispatch(py, op, callback, &LoopGuard::default())
}

/// Like `connect`, over the transport of `bridge` (`smbkit._native.Bridge`)
/// instead of a socket of its own: the NetBIOS session is requested first
/// unless `is_direct_tcp`, then the connection negotiates and
/// authenticates. The event loop must keep feeding the bridge meanwhile,
/// so call it with `callback` from the loop's thread.
#[pyfunction]
#[pyo3(signature = (
    bridge, username, password, my_name, remote_name, *,
    domain = String::new(), use_ntlm_v2 = true, sign_options = 2, is_direct_tcp = false,
    protocol = "auto".to_string(), extended_security = true,
    encryption = "if_required".to_string(), timeout = None, kerberos = None, callback = None
))]
#[allow(clippy::too_many_arguments)] // one per Python argument
pub fn connect_stream(
    py: Python<'_>,
    bridge: &Bound<'_, PyBridge>,
    username: String,
    password: Bound<'_, PyAny>,
    my_name: String,
    remote_name: String,
    domain: String,
    use_ntlm_v2: bool,
    sign_options: u8,
    is_direct_tcp: bool,
    protocol: String,
    extended_security: bool,
    encryption: String,
    timeout: Option<f64>,
    kerberos: Option<Bound<'_, PyDict>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let settings = Settings::new(
        username,
        &password,
        &my_name,
        &remote_name,
        domain,
        use_ntlm_v2,
        sign_options,
        is_direct_tcp,
        &protocol,
        extended_security,
        &encryption,
        timeout,
        kerberos.as_ref(),
    )?;
    let guard = bridge.get().guard();
    if callback.is_none() {
        guard.check_blocking()?;
    }
    let stream = bridge.get().take_stream()?;
    let factory = settings.factory.clone();
    let op = settings.op(
        async move { factory.connect_stream(stream).await },
        guard.clone(),
    );
    dispatch(py, op, callback, &guard)
}
