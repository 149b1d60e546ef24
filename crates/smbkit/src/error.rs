//! The errors every smbkit operation can fail with.

use std::time::Duration;

use smbkit_proto::nbss::NegativeResponse;
use smbkit_proto::{EncodeError, NtStatus};

pub use smbkit_proto::conn::{
    AuthHint, AuthStage, BadAnswer, CommandCode, Decryption, HandshakeStep, HandshakeViolation,
    InvalidRequest, NoEncryption, Tampering, UnexpectedMessage, Unsupported,
};

/// Why an smbkit operation failed.
///
/// The first four variants are the reference's: [`Error::NotReady`] (pysmb's
/// `NotReadyError`), [`Error::NotConnected`] (`NotConnectedError`),
/// [`Error::Timeout`] (`SMBTimeout`) and [`Error::OperationFailure`]
/// (`OperationFailure`), which carries the server's NT status so callers can
/// match on it. Every reason is a value to match, never only text: the
/// sub-enums ([`InvalidArgument`], [`ProtocolError`], [`Unsupported`], ...)
/// say what went wrong, and [`std::error::Error::source`] leads to the
/// underlying cause where there is one.
///
/// ```
/// use smbkit::{Error, InvalidArgument, NtStatus};
///
/// fn explain(e: &Error) -> String {
///     match e {
///         Error::OperationFailure { status, path, .. } if *status == NtStatus::OBJECT_NAME_NOT_FOUND => {
///             format!("{path} does not exist")
///         }
///         Error::InvalidArgument(InvalidArgument::NameTooLong { limit, .. }) => {
///             format!("names are limited to {limit} bytes")
///         }
///         Error::Timeout { operation, .. } => format!("{operation} was too slow"),
///         e => e.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
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
    #[error("{}", auth_failed_message(.user, *.status, *.during, .hint))]
    AuthFailed {
        /// The NT status of the failed SESSION_SETUP (e.g. STATUS_LOGON_FAILURE).
        status: NtStatus,
        /// The user name that was tried.
        user: String,
        /// The logon, or the re-authentication of an expired session.
        during: AuthStage,
        /// What the client can tell about the cause beyond the status.
        hint: Option<AuthHint>,
    },
    /// The server answered the operation with an error status.
    #[error("{}", operation_failure_message(.operation, .path, *.status, .detail))]
    OperationFailure {
        /// What was being done (the operation's name, e.g. `"open"`,
        /// `"list_path"`, `"rename"`, `"tree connect"`).
        operation: &'static str,
        /// `\share\path` the operation was on (`\share` for the share
        /// itself; empty when it concerns no path, as an echo).
        path: String,
        /// The NT status the server returned.
        status: NtStatus,
        /// More about the failure, where there is more.
        #[source]
        detail: Option<Box<FailureDetail>>,
    },
    /// A step of the handshake (NEGOTIATE, the session setup) failed with
    /// a status that is not a logon failure.
    #[error("{step} failed ({}): {status}", describe_status(*.status))]
    HandshakeFailed {
        /// Which step.
        step: HandshakeStep,
        /// The NT status the server returned.
        status: NtStatus,
    },
    /// Kerberos failed: no ticket could be had (wrong password, unknown
    /// principal, clock skew, an expired ticket in the cache, no KDC…), or
    /// the server refused the ticket or failed mutual authentication.
    #[error("Kerberos: {0}")]
    Kerberos(#[source] smbkit_proto::kerberos::KerberosError),
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
    /// An argument was rejected before anything was sent; the value names
    /// the argument and the limit it broke.
    #[error("invalid argument: {0}")]
    InvalidArgument(#[from] InvalidArgument),
    /// The connection was closed because of `cause` while this operation
    /// waited (a failed re-authentication, a failed secure negotiation
    /// check, ...).
    #[error("the connection was closed: {cause}")]
    ConnectionClosed {
        /// Why it was closed.
        #[source]
        cause: Box<Error>,
    },
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
    /// smbkit reached a state it should never reach: a bug, to be reported
    /// with the message.
    #[error("internal error (please report it): {0}")]
    Internal(#[from] Internal),
}

fn auth_failed_message(
    user: &str,
    status: NtStatus,
    during: AuthStage,
    hint: &Option<AuthHint>,
) -> String {
    smbkit_proto::conn::ConnError::AuthFailed {
        status,
        user: user.to_string(),
        during,
        hint: hint.clone(),
    }
    .to_string()
}

fn operation_failure_message(
    operation: &str,
    path: &str,
    status: NtStatus,
    detail: &Option<Box<FailureDetail>>,
) -> String {
    let detail = detail.as_deref();
    let mut m = String::from(operation);
    if !path.is_empty() {
        m.push_str(&format!(" '{path}'"));
    }
    if let Some(FailureDetail::RenameTo(to)) = detail {
        m.push_str(&format!(" to '{to}'"));
    }
    m.push_str(&format!(" failed ({})", describe_status(status)));
    match detail {
        None | Some(FailureDetail::RenameTo(_)) => {}
        Some(d) => m.push_str(&format!(": {d}")),
    }
    m.push_str(&format!(": {status}"));
    m
}

/// More about an [`Error::OperationFailure`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailureDetail {
    /// A rename's destination (`\share\path`).
    #[error("renaming to '{0}'")]
    RenameTo(String),
    /// The step of the operation that failed (e.g. the READ on the srvsvc
    /// pipe of a share listing).
    #[error("{0} failed")]
    Step(&'static str),
    /// `NetrShareEnum` answered a `NET_API_STATUS` error (MS-SRVS
    /// §3.1.4.8); the status is the closest NT status.
    #[error("NetrShareEnum failed with WERROR {code} ({code:#x}){}", .name.map(|n| format!(" {n}")).unwrap_or_default())]
    Werror {
        /// The Win32 error code.
        code: u32,
        /// Its name, where known.
        name: Option<&'static str>,
    },
    /// A DCE/RPC fault or a refused bind (MS-RPCE).
    #[error("{0}")]
    Rpc(#[source] smbkit_proto::rpc::RpcError),
    /// STATUS_ACCESS_DENIED to a tree connect is what a server answers
    /// when the share requires encryption the connection cannot do.
    #[error("the share may require encryption, which this connection cannot do ({0})")]
    MayRequireEncryption(NoEncryption),
    /// The share has no snapshots to list: the server answered
    /// STATUS_NOT_SUPPORTED to FSCTL_SRV_ENUMERATE_SNAPSHOTS.
    #[error("the share has no snapshot support")]
    NoSnapshotSupport,
}

/// An argument rejected before anything was sent. Each case names the
/// argument and, where there is one, the limit it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidArgument {
    /// The share name is empty.
    #[error("the share name is empty")]
    EmptyShare,
    /// The share name holds a separator or a NUL: a share is named alone,
    /// without a path.
    #[error("share name '{share}' contains {character:?}; give the share alone, without a path")]
    ShareCharacter {
        /// The share name (shortened if long).
        share: String,
        /// The character.
        character: char,
    },
    /// The share name is longer than a server accepts.
    #[error("share name '{share}' is {length} characters long, the limit is {limit}")]
    ShareTooLong {
        /// The share name (shortened).
        share: String,
        /// Its length in characters.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A path or pattern holds a NUL character.
    #[error("{what} {value:?} contains a NUL character")]
    Nul {
        /// "path" or "pattern".
        what: &'static str,
        /// The value (shortened if long).
        value: String,
    },
    /// A path or pattern whose UTF-16 form is longer than its 16-bit
    /// length field can say.
    #[error("{what} '{value}' of {chars} characters is {bytes} bytes in UTF-16, the limit is {limit} (a 16-bit length field)")]
    NameTooLong {
        /// "path", "pattern", ...
        what: &'static str,
        /// The value (shortened).
        value: String,
        /// Its length in characters.
        chars: usize,
        /// Its length in UTF-16 bytes.
        bytes: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The listing pattern is empty.
    #[error("the pattern is empty")]
    EmptyPattern,
    /// The listing pattern holds a folder separator: it matches names in
    /// one folder.
    #[error("pattern {pattern:?} must be a name pattern, without folders")]
    PatternWithFolder {
        /// The pattern (shortened).
        pattern: String,
    },
    /// The operation needs a file or folder name, and the path names the
    /// share's root (or ends with a separator).
    #[error("{operation} needs a file or folder name, not the share's root or a path ending with a separator")]
    NoName {
        /// The operation.
        operation: &'static str,
    },
    /// A read offset past the end of the file.
    #[error("offset {offset} is past the end of '{path}' ({size} bytes)")]
    OffsetPastEnd {
        /// The offset asked for.
        offset: u64,
        /// `\share\path`.
        path: String,
        /// The file's size.
        size: u64,
    },
    /// The file was closed before this call.
    #[error("'{path}' has been closed")]
    FileClosed {
        /// `\share\path`.
        path: String,
    },
    /// A copy whose source and destination are the same file.
    #[error("'{path}' cannot be copied onto itself")]
    CopyOntoItself {
        /// `\share\path`.
        path: String,
    },
    /// Open options that cannot go together.
    #[error("open options: {0}")]
    OpenOptions(#[from] OpenOptionsError),
    /// A tuning value below its least.
    #[error("tuning: {setting} {value} is below the least, {minimum}")]
    TuningBelowMinimum {
        /// The setting.
        setting: &'static str,
        /// The value given.
        value: u64,
        /// The least allowed.
        minimum: u64,
    },
    /// An empty list of ciphers.
    #[error("ciphers: the list is empty; offer at least one cipher")]
    NoCiphers,
    /// A NetBIOS name the reference's rules reject.
    #[error("{role}: {error}")]
    NetbiosName {
        /// "my_name" or "remote_name".
        role: &'static str,
        /// What is wrong with it.
        #[source]
        error: smbkit_proto::nbss::NameError,
    },
    /// The server address resolved to no socket address.
    #[error("the server address resolved to nothing")]
    NoAddress,
    /// A DFS path without a server (or domain) and a namespace.
    #[error("'{0}' is not a DFS path: it needs \\\\server-or-domain\\namespace")]
    DfsPath(String),
    /// An `smb://` URL or UNC path that does not parse.
    #[error("{0}")]
    Url(#[from] crate::url::UrlError),
    /// A value a request field cannot carry (a length over its 16-bit
    /// field, ...); the message names the field and its limit, e.g.
    /// "SMB2 CREATE NameLength: 80000 bytes, the limit is 65535".
    #[error("{0}")]
    Unencodable(#[from] EncodeError),
}

/// Open options that cannot go together (see [`crate::OpenOptions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenOptionsError {
    /// Neither read, write nor append.
    #[error("they allow neither read, write nor append")]
    NoAccess,
    /// create or create_new without write or append.
    #[error("create and create_new need write or append")]
    CreateWithoutWrite,
    /// truncate without write.
    #[error("truncate needs write")]
    TruncateWithoutWrite,
    /// Share-access bits other than FILE_SHARE_READ, _WRITE and _DELETE.
    #[error("share access {0:#x} has bits other than FILE_SHARE_READ, _WRITE and _DELETE")]
    ShareAccess(u32),
}

/// A state smbkit should never reach (see [`Error::Internal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Internal {
    /// The protocol core refused a request smbkit built.
    #[error("{0}")]
    Request(#[source] InvalidRequest),
    /// A file of one protocol family used on a connection of the other.
    #[error("a file of one protocol family was used on a connection of the other")]
    WrongFamily,
    /// A background task (signing, encrypting, a blocking reader) failed.
    #[error("a background task failed: {0}")]
    TaskFailed(&'static str),
    /// An answer of a shape the request cannot have.
    #[error("{0}")]
    Unexpected(&'static str),
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
        Error::InvalidArgument(InvalidArgument::Unencodable(e))
    }
}

impl Error {
    /// The NT status carried by [`Error::AuthFailed`],
    /// [`Error::OperationFailure`] or [`Error::HandshakeFailed`].
    pub fn status(&self) -> Option<NtStatus> {
        match self {
            Error::AuthFailed { status, .. }
            | Error::OperationFailure { status, .. }
            | Error::HandshakeFailed { status, .. } => Some(*status),
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
            C::AuthFailed {
                status,
                user,
                during,
                hint,
            } => Error::AuthFailed {
                status,
                user,
                during,
                hint,
            },
            C::HandshakeFailed { step, status } => Error::HandshakeFailed { step, status },
            C::Unsupported(m) => Error::Unsupported(m),
            C::InvalidRequest(InvalidRequest::Authenticating) => Error::NotReady,
            C::InvalidRequest(InvalidRequest::Unencodable(e)) => {
                Error::InvalidArgument(InvalidArgument::Unencodable(e))
            }
            C::InvalidRequest(r) => Error::Internal(Internal::Request(r)),
            C::Protocol(v) => Error::Protocol(v),
            C::Closed { cause } => Error::ConnectionClosed {
                cause: Box::new(Error::from(*cause)),
            },
            C::Kerberos(k) => Error::Kerberos(k),
            _ => Error::Internal(Internal::Unexpected(
                "a connection error of a kind this version does not know",
            )),
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

/// `\share\path` for messages (empty when there is no share).
pub(crate) fn display(share: &str, path: &str) -> String {
    if share.is_empty() {
        String::new()
    } else if path.is_empty() {
        format!("\\{share}")
    } else {
        format!("\\{share}\\{path}")
    }
}

/// A failed operation on `\share\path`, with the server's status.
pub(crate) fn failure(operation: &'static str, share: &str, path: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        operation,
        path: display(share, path),
        status,
        detail: None,
    }
}

/// A failed rename, naming both paths.
pub(crate) fn rename_failure(share: &str, old: &str, new: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        operation: "rename",
        path: display(share, old),
        status,
        detail: Some(Box::new(FailureDetail::RenameTo(display(share, new)))),
    }
}

/// A failed IOCTL, WRITE or READ on the srvsvc pipe.
pub(crate) fn pipe_io_failure(step: &'static str, status: NtStatus) -> Error {
    Error::OperationFailure {
        operation: "list_shares",
        path: display("IPC$", smbkit_proto::rpc::srvsvc::SRVSVC_PIPE),
        status,
        detail: Some(Box::new(FailureDetail::Step(step))),
    }
}
