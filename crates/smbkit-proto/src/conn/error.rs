//! Why a request or a connection failed, as the state machines report it.

use std::time::Duration;

use crate::{DecodeError, NtStatus};

/// What a connection cannot do, and why (each a case a caller can match).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// The server requires signing, and the signing policy is never to
    /// sign.
    #[error(
        "the server requires signing, but sign_options is Never; use WhenRequired or WhenSupported"
    )]
    SigningForbidden,
    /// An SMB1 server that requires signing did not sign its answer to
    /// the session setup.
    #[error("the server requires signing but did not sign its response{hint}")]
    ServerDidNotSign {
        /// What may be the cause (empty if nothing is known).
        hint: &'static str,
    },
    /// The server accepted none of the dialects offered.
    #[error("the server accepted none of the offered dialects ({})", .offered.join(", "))]
    NoCommonDialect {
        /// The dialects offered, as written in the NEGOTIATE.
        offered: Vec<String>,
    },
    /// The caller requires encryption, which this connection cannot do.
    #[error("encryption is required, but {0}")]
    EncryptionRequired(NoEncryption),
    /// The server requires encryption for the session, which this
    /// connection cannot do.
    #[error("the server requires encryption for this session, but {0}")]
    SessionRequiresEncryption(NoEncryption),
    /// A share requires encryption, which this connection cannot do.
    #[error("share '{share}' requires encryption, which this connection cannot do ({why})")]
    ShareRequiresEncryption {
        /// The share.
        share: String,
        /// Why the connection cannot encrypt.
        why: NoEncryption,
    },
    /// The NetBIOS session service sent the client elsewhere (RFC 1002
    /// §4.3.5, RETARGET SESSION RESPONSE), which smbkit does not follow.
    #[error(
        "the server asked to retarget the NetBIOS session to {addr}:{port}; connect there instead"
    )]
    NetbiosRetarget {
        /// The address it named.
        addr: std::net::Ipv4Addr,
        /// The port it named.
        port: u16,
    },
    /// An SMB1 server without CAP_INFOLEVEL_PASSTHRU cannot do `what`.
    #[error("{what} needs the server's CAP_INFOLEVEL_PASSTHRU, which it does not announce")]
    NoInfoLevelPassthrough {
        /// What was asked.
        what: &'static str,
    },
}

/// Why a connection cannot encrypt (MS-SMB2 §3.2.4.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoEncryption {
    /// The dialect is older than SMB 3.0.
    #[error("the server negotiated {0:?}; encryption needs SMB 3.0 or later")]
    DialectTooOld(crate::Dialect),
    /// SMB 3.1.1: the server chose none of the ciphers offered.
    #[error("the server chose no cipher among those offered (or has encryption turned off)")]
    NoCommonCipher,
    /// SMB 3.0/3.0.2: the server does not announce encryption.
    #[error("the server does not offer encryption on {0:?}")]
    NotOffered(crate::Dialect),
    /// Guest and anonymous sessions have no keys.
    #[error("guest and anonymous sessions have no keys to encrypt with")]
    GuestOrAnonymous,
    /// SMB1 (NT LM 0.12) has no encryption.
    #[error("the server speaks only SMB 1 (NT LM 0.12), which cannot encrypt; SMB 3.0 or later is needed")]
    Smb1,
    /// No keys could be derived.
    #[error("no encryption keys could be derived")]
    NoKeys,
    /// No cipher is available.
    #[error("no cipher is available")]
    NoCipher,
}

/// Why a request, or the whole connection, failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The connection is closed (by the caller, or because the stream or
    /// the protocol failed earlier).
    #[error("not connected: the connection to the server is closed")]
    NotConnected,
    /// The request's deadline passed before its answer came.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being done.
        operation: &'static str,
        /// How long was waited.
        after: Duration,
    },
    /// The server refused the credentials.
    #[error("authentication failed: {status} ({message})")]
    AuthFailed {
        /// The status of the failed SESSION_SETUP.
        status: NtStatus,
        /// A description of the status, with hints.
        message: String,
    },
    /// A step of the handshake failed with an error status.
    #[error("{message}: {status}")]
    OperationFailure {
        /// What failed.
        message: String,
        /// The status the server returned.
        status: NtStatus,
    },
    /// The settings forbid what the server requires, or the server cannot
    /// do what the settings require.
    #[error("{0}")]
    Unsupported(Unsupported),
    /// A request that cannot be sent as asked.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] Violation),
    /// The server sent nothing at all for this long while it owed answers
    /// (to requests, or to a keep-alive ECHO): the connection was declared
    /// dead and closed (see [`crate::conn::Liveness`]).
    #[error(
        "the server sent nothing for {silent:?} while it owed answers: the connection is dead"
    )]
    PeerDead {
        /// How long the server was silent.
        silent: Duration,
    },
}

/// A violation of the protocol by the server (or by whatever sits between
/// it and the client).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
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
    /// §3.2.5.1.1.1).
    #[error("an encrypted message was rejected: {0}")]
    Decryption(String),
    /// A response to an encrypted request arrived unencrypted (MS-SMB2
    /// §3.3.4.1.4).
    #[error("unencrypted {command} response to an encrypted request")]
    Unencrypted {
        /// The command of the response.
        command: String,
    },
    /// Anything else the server did wrong.
    #[error("{0}")]
    Unexpected(String),
}

impl From<crate::EncodeError> for ConnError {
    /// A value a request cannot carry: the message names the field and its
    /// limit.
    fn from(e: crate::EncodeError) -> Self {
        ConnError::InvalidArgument(e.to_string())
    }
}

impl Violation {
    /// A decoding failure of `context`.
    pub fn decode(context: &'static str, source: DecodeError) -> Self {
        Violation::Decode { context, source }
    }
}

impl ConnError {
    /// The error the requests in flight get when `self`, raised by a
    /// received message, closes the connection. A frame that failed to
    /// decrypt and an unencrypted response keep their kind, so that a
    /// caller can tell a tampered or downgraded connection from other
    /// failures; anything else becomes [`Violation::Unexpected`] naming
    /// the reason.
    pub(crate) fn for_requests_in_flight(&self) -> ConnError {
        match self {
            ConnError::Protocol(Violation::Decryption(m)) => {
                Violation::Decryption(format!("{m}; the connection was closed")).into()
            }
            ConnError::Protocol(Violation::Unencrypted { command }) => Violation::Unencrypted {
                command: command.clone(),
            }
            .into(),
            ConnError::NotConnected | ConnError::PeerDead { .. } => ConnError::NotConnected,
            e => Violation::Unexpected(format!("connection closed: {e}")).into(),
        }
    }
}
