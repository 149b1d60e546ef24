//! `smbkit._native.Connection` and `smbkit._native.connect`: the async
//! [`smbkit::Connection`] as a Python object whose methods wait for their
//! result with the GIL released.
//!
//! The methods take and return plain Python values (tuples, `bytes`,
//! numbers); the pure-Python layers above (`smbkit.smb.SMBConnection`,
//! and later the asyncio and Twisted APIs) build pysmb's objects from
//! them.

use std::future::Future;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use smbkit::{Error, Protocol, SharedFile, SignOptions, SmbProtocolFactory};

use crate::errors::to_py_err;
use crate::fileio::{PyReader, PyWriter};
use crate::runtime::wait;

/// What the native layer hands out for a file or folder, in the order of
/// pysmb's `SharedFile(create_time, last_access_time, last_write_time,
/// last_attr_change_time, file_size, alloc_size, file_attributes,
/// short_name, filename, file_id)`.
type FileTuple = (f64, f64, f64, f64, u64, u64, u32, String, String, u64);

fn file_tuple(f: SharedFile) -> FileTuple {
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
fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A time limit in seconds, as Python passes it.
fn limit(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        PyValueError::new_err(format!(
            "timeout must be a non-negative number of seconds, not {seconds}"
        ))
    })
}

/// Waits for `fut` and turns its error into the Python exception.
fn run<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    wait(py, fut)?.map_err(|e| to_py_err(py, &e))
}

/// An authenticated SMB connection, made by `smbkit._native.connect`.
///
/// Every method waits for its result with the GIL released, so one
/// connection serves many Python threads at once. `timeout` (seconds)
/// replaces the operation's default time limit (30 s; 10 s for echo).
#[pyclass(frozen, module = "smbkit._native", name = "Connection")]
pub struct PyConnection {
    inner: smbkit::Connection,
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
    #[pyo3(signature = (data, *, timeout = None))]
    fn echo<'py>(
        &self,
        py: Python<'py>,
        data: Vec<u8>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let c = self.handle(timeout)?;
        let back = run(py, async move { c.echo(&data).await })?;
        Ok(PyBytes::new(py, &back))
    }

    /// The shares of the server, as `(name, type, comments)` tuples; `type`
    /// is the raw STYPE_* value (special and temporary bits included).
    #[pyo3(signature = (*, timeout = None))]
    fn list_shares(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<(String, u32, String)>> {
        let c = self.handle(timeout)?;
        let shares = run(py, async move { c.list_shares().await })?;
        Ok(shares
            .into_iter()
            .map(|s| (s.name, s.raw_type, s.comments))
            .collect())
    }

    /// The entries of the folder `path` whose attributes pass `search` and
    /// whose names match `pattern`, as file tuples.
    #[pyo3(signature = (share, path, search = smbkit::DEFAULT_SEARCH, pattern = "*".to_string(), *, timeout = None))]
    fn list_path(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        search: u32,
        pattern: String,
        timeout: Option<f64>,
    ) -> PyResult<Vec<FileTuple>> {
        let c = self.handle(timeout)?;
        let files = run(py, async move {
            c.list_path_with(&share, &path, search, &pattern).await
        })?;
        Ok(files.into_iter().map(file_tuple).collect())
    }

    /// The snapshots of `path`, as seconds since the Unix epoch (UTC).
    #[pyo3(signature = (share, path, *, timeout = None))]
    fn list_snapshots(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
    ) -> PyResult<Vec<f64>> {
        let c = self.handle(timeout)?;
        let times = run(py, async move { c.list_snapshots(&share, &path).await })?;
        Ok(times.into_iter().map(unix_seconds).collect())
    }

    /// The attributes of the file or folder `path`, as a file tuple.
    #[pyo3(signature = (share, path, *, timeout = None))]
    fn get_attributes(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
    ) -> PyResult<FileTuple> {
        let c = self.handle(timeout)?;
        let f = run(py, async move { c.get_attributes(&share, &path).await })?;
        Ok(file_tuple(f))
    }

    /// The security descriptor of `path` (owner, group, DACL), as the
    /// bytes of a self-relative SECURITY_DESCRIPTOR (MS-DTYP §2.4.6).
    #[pyo3(signature = (share, path, *, timeout = None))]
    fn get_security<'py>(
        &self,
        py: Python<'py>,
        share: String,
        path: String,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let c = self.handle(timeout)?;
        let sd = run(py, async move { c.get_security(&share, &path).await })?;
        let bytes = sd.to_bytes().map_err(|e| {
            PyRuntimeError::new_err(format!("cannot encode the security descriptor: {e}"))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the file `path` from `offset` to `file` (anything with a
    /// `write(bytes)` method), at most `max_length` bytes (`None`: to the
    /// end); returns `(file attributes, bytes written)`. An offset past
    /// the end of the file writes nothing, as pysmb does.
    #[pyo3(signature = (share, path, file, offset = 0, max_length = None, *, timeout = None))]
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
    ) -> PyResult<(u32, u64)> {
        let c = self.handle(timeout)?;
        let mut writer = PyWriter::new(file);
        let outcome = wait(
            py,
            c.retrieve_file_from_offset(&share, &path, &mut writer, offset, max_length),
        );
        if let Some(e) = writer.take_error() {
            return Err(e);
        }
        match outcome? {
            Ok(done) => Ok(done),
            Err(e) if offset > 0 && e.status().is_none() && !e.is_timeout() => {
                // smbkit refuses an offset past the end; pysmb writes
                // nothing and returns the attributes.
                let f = run(py, async { c.get_attributes(&share, &path).await })?;
                if offset > f.file_size {
                    Ok((f.file_attributes, 0))
                } else {
                    Err(to_py_err(py, &e))
                }
            }
            Err(e) => Err(to_py_err(py, &e)),
        }
    }

    /// Writes what `file` (anything with a `read(n)` method returning
    /// `bytes`) yields into `path` from `offset`, creating the file if
    /// needed and emptying it first with `truncate`; returns the bytes
    /// written.
    #[pyo3(signature = (share, path, file, offset = 0, truncate = true, *, timeout = None))]
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
    ) -> PyResult<u64> {
        let c = self.handle(timeout)?;
        let mut reader = PyReader::new(file);
        let outcome = wait(
            py,
            c.store_file_from_offset(&share, &path, &mut reader, offset, truncate),
        );
        if let Some(e) = reader.take_error() {
            return Err(e);
        }
        outcome?.map_err(|e| to_py_err(py, &e))
    }

    /// Deletes the files matching `pattern` (wildcards in the last
    /// component), and with `delete_matching_folders` the matching folders
    /// with everything in them.
    #[pyo3(signature = (share, pattern, delete_matching_folders = false, *, timeout = None))]
    fn delete_files(
        &self,
        py: Python<'_>,
        share: String,
        pattern: String,
        delete_matching_folders: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let c = self.handle(timeout)?;
        run(py, async move {
            c.delete_files(&share, &pattern, delete_matching_folders)
                .await
        })
    }

    /// Sets the FILE_ATTRIBUTE_* bits of every file matching `pattern`.
    #[pyo3(signature = (share, pattern, attributes, *, timeout = None))]
    fn reset_file_attributes(
        &self,
        py: Python<'_>,
        share: String,
        pattern: String,
        attributes: u32,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let c = self.handle(timeout)?;
        run(py, async move {
            c.reset_file_attributes(&share, &pattern, attributes).await
        })
    }

    /// Creates the folder `path` (its parent must exist).
    #[pyo3(signature = (share, path, *, timeout = None))]
    fn create_directory(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let c = self.handle(timeout)?;
        run(py, async move { c.create_directory(&share, &path).await })
    }

    /// Deletes the empty folder `path`.
    #[pyo3(signature = (share, path, *, timeout = None))]
    fn delete_directory(
        &self,
        py: Python<'_>,
        share: String,
        path: String,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let c = self.handle(timeout)?;
        run(py, async move { c.delete_directory(&share, &path).await })
    }

    /// Renames (or moves, within the share) `old_path` to `new_path`.
    #[pyo3(signature = (share, old_path, new_path, *, timeout = None))]
    fn rename(
        &self,
        py: Python<'_>,
        share: String,
        old_path: String,
        new_path: String,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let c = self.handle(timeout)?;
        run(
            py,
            async move { c.rename(&share, &old_path, &new_path).await },
        )
    }

    /// Disconnects the trees, logs off and closes the socket. Closing
    /// twice is harmless.
    #[pyo3(signature = (*, timeout = None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let c = self.handle(timeout)?;
        run(py, async move { c.close().await })
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
/// authenticates. An exception from the callable is kept in `failure`.
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
        Python::attach(|py| {
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
    }))
}

/// Connects to the first of `addresses` that answers (`(ip, port,
/// scope_id)` tuples, already resolved), negotiates and authenticates.
///
/// `password` is a str or a callable returning one. `sign_options` is
/// pysmb's `SIGN_NEVER` (0), `SIGN_WHEN_SUPPORTED` (1) or
/// `SIGN_WHEN_REQUIRED` (2); `protocol` is `"auto"` (SMB1 and SMB2/3 in
/// one NEGOTIATE), `"smb1"` or `"smb2"`; `extended_security` is for SMB1
/// only; `timeout` limits connecting and authenticating.
///
/// A refused logon raises `OperationFailure` with the server's status;
/// settings smbkit rejects (a NetBIOS name too long, ...) raise
/// `ValueError`.
#[pyfunction]
#[pyo3(signature = (
    addresses, username, password, my_name, remote_name, *,
    domain = String::new(), use_ntlm_v2 = true, sign_options = 2, is_direct_tcp = false,
    protocol = "auto".to_string(), extended_security = true, timeout = None
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
    timeout: Option<f64>,
) -> PyResult<PyConnection> {
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
    let protocol = match protocol.as_str() {
        "auto" => Protocol::Auto,
        "smb1" => Protocol::Smb1Only,
        "smb2" => Protocol::Smb2Only,
        other => {
            return Err(PyValueError::new_err(format!(
                "protocol must be \"auto\", \"smb1\" or \"smb2\", not {other:?}"
            )))
        }
    };
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
    let fixed = if password.is_instance_of::<PyString>() {
        password.extract::<String>()?
    } else {
        String::new()
    };
    let bad = |e: Error| PyValueError::new_err(e.to_string());
    let mut factory = SmbProtocolFactory::new(username, fixed, &my_name, &remote_name)
        .map_err(bad)?
        .domain(domain)
        .use_ntlm_v2(use_ntlm_v2)
        .sign_options(sign)
        .direct_tcp(is_direct_tcp)
        .protocol(protocol)
        .extended_security(extended_security);
    if let Some(t) = timeout {
        factory = factory.connect_timeout(limit(t)?);
    }
    let failure = Arc::new(Mutex::new(None));
    let factory = self::password(factory, &password, &failure)?;
    let outcome = wait(py, factory.connect(addrs.as_slice()))?;
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    let inner = outcome.map_err(|e| to_py_err(py, &e))?;
    Ok(PyConnection { inner })
}
