//! The errors every smbkit operation can fail with.

use std::time::Duration;

use smbkit_proto::nbss::NegativeResponse;
use smbkit_proto::{EncodeError, NtStatus};

pub use smbkit_proto::conn::{NoEncryption, Unsupported};

/// Why an smbkit operation failed.
///
/// The first four variants are the reference's: [`Error::NotReady`] (pysmb's
/// `NotReadyError`), [`Error::NotConnected`] (`NotConnectedError`),
/// [`Error::Timeout`] (`SMBTimeout`) and [`Error::OperationFailure`]
/// (`OperationFailure`), which carries the server's NT status so callers can
/// match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection is not authenticated (yet, or any more).
    #[error("the SMB session is not ready: it is not authenticated")]
    NotReady,
    /// The connection is closed, or its TCP stream has gone.
    #[error("not connected: the connection to the server is closed")]
    NotConnected,
    /// The operation did not complete in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being done.
        operation: &'static str,
        /// The time limit that elapsed.
        after: Duration,
    },
    /// The server refused the credentials.
    #[error("authentication failed for user '{user}': {status} ({message})")]
    AuthFailed {
        /// The NT status of the failed SESSION_SETUP (e.g. STATUS_LOGON_FAILURE).
        status: NtStatus,
        /// The user name that was tried.
        user: String,
        /// A description of the status.
        message: String,
    },
    /// The server answered the operation with an error status.
    #[error("{message}: {status}")]
    OperationFailure {
        /// What failed, naming the share and path where there is one.
        message: String,
        /// The NT status the server returned.
        status: NtStatus,
    },
    /// The NetBIOS session service refused the session (RFC 1002 §4.3.4).
    #[error("the server refused the NetBIOS session for called name '{called_name}': {reason}; the called name must be the server's own NetBIOS name")]
    NetbiosRejected {
        /// The called (server) name that was sent.
        called_name: String,
        /// The NBSS error.
        reason: NegativeResponse,
    },
    /// The server and this client have no usable way to talk, or the
    /// client's settings forbid what the server requires.
    #[error("{0}")]
    Unsupported(Unsupported),
    /// The server sent something that breaks the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// A socket error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An argument was rejected before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The connection was lost and re-established, but this open file or
    /// transfer could not take its handle back (see
    /// [`crate::SmbProtocolFactory::reconnect`]); the connection itself
    /// works again.
    #[error(
        "{operation} of '{path}' cannot go on after the connection was re-established: {reason}"
    )]
    NotResumable {
        /// What was being done ("reading", "writing").
        operation: &'static str,
        /// `\\share\path` of the file.
        path: String,
        /// Why the handle could not be taken back.
        reason: NotResumableReason,
    },
    /// The connection was lost and every attempt to establish it again
    /// failed (see [`crate::SmbProtocolFactory::reconnect`]).
    #[error(
        "the connection was lost and {attempts} attempts to reconnect failed; the last: {last}"
    )]
    ReconnectFailed {
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        last: Box<Error>,
    },
}

/// Why an open file could not be taken back after a reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotResumableReason {
    /// SMB1 has no durable handles.
    #[error("SMB1 has no durable handles")]
    Smb1,
    /// The server did not grant the open a durable handle.
    #[error("the server granted no durable handle")]
    NotDurable,
    /// The server refused to give the durable handle back (it expired, or
    /// the server restarted and lost it).
    #[error("the server refused the durable handle back ({0})")]
    Refused(NtStatus),
    /// The new connection is of another protocol family or dialect family
    /// than the one the file was opened over.
    #[error("the new connection speaks another protocol")]
    DialectChanged,
}

/// An input that a request cannot carry (a path longer than its 16-bit
/// length field, ...) is rejected before anything is sent: the message
/// names the field and its limit, e.g. "invalid argument: SMB2 CREATE
/// NameLength: 80000 bytes, the limit is 65535".
impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

impl Error {
    /// The NT status carried by [`Error::AuthFailed`] or [`Error::OperationFailure`].
    pub fn status(&self) -> Option<NtStatus> {
        match self {
            Error::AuthFailed { status, .. } | Error::OperationFailure { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True for [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

/// A violation of the protocol by the server (or by whatever sits between
/// it and the client).
pub use smbkit_proto::conn::Violation as ProtocolError;

impl From<smbkit_proto::conn::ConnError> for Error {
    fn from(e: smbkit_proto::conn::ConnError) -> Self {
        use smbkit_proto::conn::ConnError as C;
        match e {
            C::NotConnected | C::PeerDead { .. } => Error::NotConnected,
            C::Timeout { operation, after } => Error::Timeout { operation, after },
            C::AuthFailed { status, message } => Error::AuthFailed {
                status,
                user: String::new(),
                message,
            },
            C::OperationFailure { message, status } => Error::OperationFailure { message, status },
            C::Unsupported(m) => Error::Unsupported(m),
            C::InvalidArgument(m) => Error::InvalidArgument(m),
            C::Protocol(v) => Error::Protocol(v),
            e => Error::Protocol(ProtocolError::Unexpected(e.to_string())),
        }
    }
}

/// Describes an NT status in a few words for messages.
pub(crate) fn describe_status(status: NtStatus) -> &'static str {
    smbkit_proto::types::describe_status(status)
}

/// The first characters of `s` (all of it if short), for messages about
/// names too long to print whole.
pub(crate) fn abbreviate(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `\share\path` for messages.
pub(crate) fn display(share: &str, path: &str) -> String {
    if path.is_empty() {
        format!("\\{share}")
    } else {
        format!("\\{share}\\{path}")
    }
}

/// A failed operation on `\share\path`, with the server's status.
pub(crate) fn failure(what: &str, share: &str, path: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        message: format!(
            "{what} '{}' failed ({})",
            display(share, path),
            describe_status(status)
        ),
        status,
    }
}

/// A failed rename, naming both paths.
pub(crate) fn rename_failure(share: &str, old: &str, new: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        message: format!(
            "rename '{}' to '{}' failed ({})",
            display(share, old),
            display(share, new),
            describe_status(status)
        ),
        status,
    }
}

/// A failed IOCTL, WRITE or READ on the srvsvc pipe.
pub(crate) fn pipe_io_failure(what: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        message: format!(
            "list_shares: {what} on the srvsvc pipe failed ({})",
            describe_status(status)
        ),
        status,
    }
}
