//! The errors every smbkit operation can fail with.

use std::time::Duration;

use smbkit_proto::nbss::NegativeResponse;
use smbkit_proto::{DecodeError, EncodeError, NtStatus};

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
    Unsupported(String),
    /// The server sent something that breaks the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// A socket error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An argument was rejected before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
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

/// A violation of the protocol by the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A message could not be decoded.
    #[error("malformed {context}: {source}")]
    Decode {
        /// Which message.
        context: &'static str,
        /// What was wrong.
        #[source]
        source: DecodeError,
    },
    /// A signed response did not verify.
    #[error("the signature of the {command} response does not verify")]
    BadSignature {
        /// The command of the response.
        command: String,
    },
    /// An unsigned response arrived on a session that requires signing.
    #[error("unsigned {command} response on a session that requires signing")]
    Unsigned {
        /// The command of the response.
        command: String,
    },
    /// Authentication tokens could not be processed.
    #[error("authentication: {0}")]
    Auth(String),
    /// An encrypted message failed to decrypt or authenticate (MS-SMB2
    /// §3.2.5.1.1.1); the connection is closed.
    #[error("an encrypted message was rejected: {0}")]
    Decryption(String),
    /// A response to an encrypted request arrived unencrypted.
    #[error("unencrypted {command} response to an encrypted request")]
    Unencrypted {
        /// The command of the response.
        command: String,
    },
    /// Anything else the server did wrong.
    #[error("{0}")]
    Unexpected(String),
}

impl ProtocolError {
    pub(crate) fn decode(context: &'static str, source: DecodeError) -> Self {
        ProtocolError::Decode { context, source }
    }
}

/// Describes an NT status in a few words for messages.
pub(crate) fn describe_status(status: NtStatus) -> &'static str {
    match status {
        NtStatus::LOGON_FAILURE => "unknown user name or bad password",
        NtStatus::WRONG_PASSWORD => "wrong password",
        NtStatus::ACCOUNT_LOCKED_OUT => "the account is locked out",
        NtStatus::ACCOUNT_DISABLED => "the account is disabled",
        NtStatus::ACCOUNT_EXPIRED => "the account has expired",
        NtStatus::PASSWORD_EXPIRED => "the password has expired",
        NtStatus::PASSWORD_MUST_CHANGE => "the password must be changed",
        NtStatus::ACCOUNT_RESTRICTION => "account restrictions prevent this logon",
        NtStatus::INVALID_LOGON_HOURS => "logon is not allowed at this time",
        NtStatus::INVALID_WORKSTATION => "logon is not allowed from this workstation",
        NtStatus::ACCESS_DENIED => "access denied",
        NtStatus::BAD_NETWORK_NAME => "no such share",
        NtStatus::OBJECT_NAME_NOT_FOUND => "no such file or folder",
        NtStatus::OBJECT_PATH_NOT_FOUND => "no such path",
        NtStatus::NOT_SUPPORTED => "not supported by the server",
        NtStatus::OBJECT_NAME_COLLISION => "the name exists already",
        NtStatus::DIRECTORY_NOT_EMPTY => "the folder is not empty",
        NtStatus::FILE_IS_A_DIRECTORY => "it is a folder, not a file",
        NtStatus::NOT_A_DIRECTORY => "it is a file, not a folder",
        NtStatus::SHARING_VIOLATION => "the file is in use",
        NtStatus::CANNOT_DELETE => "the file cannot be deleted (read-only?)",
        NtStatus::DELETE_PENDING => "the file is being deleted",
        NtStatus::OBJECT_NAME_INVALID => "the name is not valid on the server",
        NtStatus::DISK_FULL => "the server's disk is full",
        NtStatus::NETWORK_NAME_DELETED => "the share was disconnected",
        NtStatus::NO_SUCH_FILE => "nothing matches",
        NtStatus::INVALID_DEVICE_REQUEST => "the server does not support this on that share",
        _ => "the server refused the request",
    }
}
