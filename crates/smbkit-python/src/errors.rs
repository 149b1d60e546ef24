//! From [`smbkit::Error`] to the Python exceptions pysmb programs catch.
//!
//! The exception classes are pysmb's, defined in the pure-Python package
//! (`smbkit.smb.base`, `smbkit.smb.smb_structs`) and looked up here once.
//! The mapping reads only what every error offers (its NT status, whether
//! it is a time-out, whether the connection is gone or not ready, its
//! message, and an I/O error beneath it), not the full list of variants.

use std::io;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use smbkit::Error;

/// Where each exception class lives.
const BASE: &str = "smbkit.smb.base";
const STRUCTS: &str = "smbkit.smb.smb_structs";

static NOT_READY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NOT_CONNECTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static OPERATION_FAILURE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PROTOCOL_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNSUPPORTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The Python exception for `e`:
///
/// | the error | the exception |
/// | --- | --- |
/// | the connection is closed or gone (also when closed because of another failure while the operation waited) | `smb.base.NotConnectedError` |
/// | the session is not authenticated | `smb.base.NotReadyError` |
/// | a time limit ran out | `smb.base.SMBTimeout` |
/// | the server answered with an NT status | `smb.smb_structs.OperationFailure`, with `nt_status` (the code) and `nt_status_name` |
/// | the client cannot do what the server requires, or its settings forbid it (signing, dialect, encryption) | `smb.smb_structs.UnsupportedFeature` |
/// | a socket error | `OSError` (its subclass for the error: `ConnectionRefusedError`, ...) |
/// | anything else | `smb.smb_structs.ProtocolError(message)` |
///
/// Every one of them carries smbkit's message.
pub(crate) fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    let message = e.to_string();
    let made = if matches!(e, Error::NotConnected | Error::ConnectionClosed { .. }) {
        raise(py, &NOT_CONNECTED, BASE, "NotConnectedError", (message,))
    } else if matches!(e, Error::NotReady) {
        raise(py, &NOT_READY, BASE, "NotReadyError", (message,))
    } else if e.is_timeout() {
        raise(py, &TIMEOUT, BASE, "SMBTimeout", (message,))
    } else if let Some(status) = e.status() {
        operation_failure(py, message, status)
    } else if matches!(e, Error::Unsupported(_)) {
        raise(py, &UNSUPPORTED, STRUCTS, "UnsupportedFeature", (message,))
    } else if let Some(io) = io_source(e) {
        Ok(PyErr::from(io::Error::new(io.kind(), message)))
    } else {
        raise(py, &PROTOCOL_ERROR, STRUCTS, "ProtocolError", (message,))
    };
    made.unwrap_or_else(|lookup| {
        // The pure-Python package is missing or broken: say what failed,
        // and why its exception could not be made.
        let err = PyRuntimeError::new_err(e.to_string());
        err.set_cause(py, Some(lookup));
        err
    })
}

/// An instance of the class `module.name` made with `args`.
fn raise<'py, A>(
    py: Python<'py>,
    cell: &PyOnceLock<Py<PyType>>,
    module: &str,
    name: &str,
    args: A,
) -> PyResult<PyErr>
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let class = cell.import(py, module, name)?;
    Ok(PyErr::from_value(class.call1(args)?))
}

/// pysmb's `OperationFailure(message, smb_messages)`, made by its
/// `_from_nt_status(message, status, status_name)`: smbkit keeps no raw
/// messages, so the one message listed carries the NT status, which is
/// also set as `nt_status` and `nt_status_name`.
fn operation_failure(py: Python<'_>, message: String, status: smbkit::NtStatus) -> PyResult<PyErr> {
    let class = OPERATION_FAILURE.import(py, STRUCTS, "OperationFailure")?;
    let exc = class.call_method1("_from_nt_status", (message, status.0, status.name()))?;
    Ok(PyErr::from_value(exc))
}

/// The I/O error beneath `e`, if it has one.
fn io_source(e: &Error) -> Option<&io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}
