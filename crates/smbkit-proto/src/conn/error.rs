//! Why a request or a connection failed, as the state machines report it.

use std::time::Duration;

use crate::{DecodeError, NtStatus};

/// What a connection cannot do, and why (each a case a caller can match).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// Kerberos needs SPNEGO, which an SMB1 server without extended
    /// security (or a client with extended security off) cannot carry.
    #[error("Kerberos logon of {principal} needs extended security, which this SMB1 session does not use")]
    KerberosWithoutExtendedSecurity {
        /// The client principal.
        principal: String,
    },
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
    /// The server does not copy files itself over this connection: it
    /// refused FSCTL_SRV_REQUEST_RESUME_KEY as a request it does not know
    /// (MS-SMB2 §3.3.5.15; over SMB1, MS-SMB §3.3.5.11.1). Samba copies
    /// server-side over SMB 2 and later only.
    #[error("the server does not copy files itself over {}: it answered FSCTL_SRV_REQUEST_RESUME_KEY with {status}", if *.smb1 { "SMB1 (Samba does over SMB 2 and later)" } else { "this connection" })]
    ServerSideCopy {
        /// The status of the refusal (STATUS_NOT_SUPPORTED,
        /// STATUS_INVALID_DEVICE_REQUEST, ...).
        status: NtStatus,
        /// True when the connection speaks SMB1.
        smb1: bool,
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
    #[error("{}", auth_failed_message(.user, *.status, .during, .hint))]
    AuthFailed {
        /// The status of the failed SESSION_SETUP.
        status: NtStatus,
        /// The user name that was tried.
        user: String,
        /// The logon, or the re-authentication of an expired session.
        during: AuthStage,
        /// What the client can tell about the cause, beyond the status.
        hint: Option<AuthHint>,
    },
    /// A step of the handshake failed with an error status.
    #[error("{step} failed ({}): {status}", crate::types::describe_status(*.status))]
    HandshakeFailed {
        /// Which step.
        step: HandshakeStep,
        /// The status the server returned.
        status: NtStatus,
    },
    /// The settings forbid what the server requires, or the server cannot
    /// do what the settings require.
    #[error("{0}")]
    Unsupported(Unsupported),
    /// A request that cannot be sent as it was given.
    #[error("{0}")]
    InvalidRequest(#[from] InvalidRequest),
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
    /// The connection was closed because of `cause` while this request
    /// waited for its answer.
    #[error("the connection was closed: {cause}")]
    Closed {
        /// What closed it.
        #[source]
        cause: Box<ConnError>,
    },
    /// The Kerberos exchange with the server failed: the server refused
    /// the ticket (a KRB-ERROR), or its answer did not prove that it holds
    /// the service key (mutual authentication).
    #[error("Kerberos: {0}")]
    Kerberos(#[source] crate::kerberos::KerberosError),
}

fn auth_failed_message(
    user: &str,
    status: NtStatus,
    during: &AuthStage,
    hint: &Option<AuthHint>,
) -> String {
    let during = match during {
        AuthStage::Logon => "",
        AuthStage::Reauthentication => " (re-authenticating an expired session)",
    };
    let hint = match hint {
        Some(h) => format!("; {h}"),
        None => String::new(),
    };
    format!(
        "authentication failed for user '{user}'{during}: {status} ({}){hint}",
        crate::types::describe_status(status)
    )
}

/// When an authentication was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStage {
    /// The session setup that opens the session.
    Logon,
    /// A session setup on an existing session whose authentication expired
    /// (MS-SMB2 §3.2.5.1.7).
    Reauthentication,
}

/// What may have caused a refused logon, when the client can tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthHint {
    /// STATUS_ACCESS_DENIED is what Samba and Windows answer a client that
    /// cannot encrypt when they require encryption (MS-SMB2 §3.3.5.5).
    #[error("the server may require encryption, which this connection cannot do ({0})")]
    MayRequireEncryption(NoEncryption),
}

/// A step of the connection's handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeStep {
    /// The NEGOTIATE exchange.
    #[error("NEGOTIATE")]
    Negotiate,
    /// The session setup (failed with a status that is not a logon
    /// failure).
    #[error("the session setup")]
    SessionSetup,
    /// Re-authenticating an expired session.
    #[error("re-authenticating the expired session")]
    Reauthentication,
}

/// A request the state machine cannot send as it was given: a value no
/// message can carry, or a request that is not well formed or comes at the
/// wrong time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// A value does not fit the field that carries it (the error names the
    /// field and its limit).
    #[error("invalid argument: {0}")]
    Unencodable(#[from] crate::EncodeError),
    /// Requests are taken once the session is set up.
    #[error("the connection is still authenticating")]
    Authenticating,
    /// A request without a message.
    #[error("a request needs a message")]
    NoMessage,
    /// Only a request of one message can carry a tail.
    #[error("only a single request can carry a tail")]
    TailOnCompound,
    /// A message shorter than its header.
    #[error("a message without room for its header")]
    NoRoomForHeader,
    /// The message could not be encrypted.
    #[error("the message cannot be encrypted: {0}")]
    CannotEncrypt(#[source] crate::crypto::EncryptError),
    /// An SMB1 transaction request that cannot be split into the
    /// messages the server accepts.
    #[error("the transaction request cannot be split: {0}")]
    Unsplittable(#[source] DecodeError),
    /// The request must be encrypted and the session has no key.
    #[error("the message must be encrypted, and the session has no encryption key")]
    NoEncryptionKey,
}

/// The command of a message, in either protocol family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandCode {
    /// An SMB1 command code (MS-CIFS §2.2.2.1).
    Smb1(u8),
    /// An SMB2 command code.
    Smb2(crate::types::Command),
}

impl std::fmt::Display for CommandCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandCode::Smb1(c) => write!(f, "SMB1 command {c:#04x}"),
            CommandCode::Smb2(c) => write!(f, "{c:?}"),
        }
    }
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
        command: CommandCode,
    },
    /// An unsigned response arrived on a session that requires signing.
    #[error("unsigned {command} response on a session that requires signing")]
    Unsigned {
        /// The command of the response.
        command: CommandCode,
    },
    /// The server's authentication tokens could not be processed.
    #[error("authentication: {0}")]
    Auth(#[source] crate::ntlm::NtlmError),
    /// An encrypted message failed to decrypt or authenticate (MS-SMB2
    /// §3.2.5.1.1.1).
    #[error("an encrypted message was rejected: {0}")]
    Decryption(#[source] Decryption),
    /// A response to an encrypted request arrived unencrypted (MS-SMB2
    /// §3.3.4.1.4).
    #[error("unencrypted {command} response to an encrypted request")]
    Unencrypted {
        /// The command of the response.
        command: CommandCode,
    },
    /// A message that does not belong in the exchange.
    #[error("{0}")]
    UnexpectedMessage(UnexpectedMessage),
    /// The server answered the handshake in a way the protocol forbids.
    #[error("{0}")]
    Handshake(HandshakeViolation),
    /// Secure dialect negotiation (FSCTL_VALIDATE_NEGOTIATE_INFO, MS-SMB2
    /// §3.2.5.14.12) found signs of tampering; the connection was closed.
    #[error("secure dialect negotiation failed (FSCTL_VALIDATE_NEGOTIATE_INFO): {0}")]
    Tampered(Tampering),
    /// The answer to an operation contradicts its request.
    #[error("{0}")]
    BadAnswer(BadAnswer),
}

/// Why an encrypted message was rejected (each closes the connection,
/// MS-SMB2 §3.2.5.1.1.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Decryption {
    /// The frame did not decrypt or authenticate.
    #[error("{0}")]
    Rejected(#[source] crate::crypto::DecryptError),
    /// The frame's nonce was seen before: a replay.
    #[error("an encrypted message with a nonce received before (a replay)")]
    Replay,
    /// The server encrypted a message for a session without encryption keys.
    #[error("the server sent an encrypted message, but this session has no encryption keys")]
    NoKeys,
    /// The decrypted frame does not hold an SMB2 message.
    #[error("an encrypted frame that does not hold an SMB2 message")]
    NotSmb2,
}

/// A message that does not belong where it arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnexpectedMessage {
    /// A frame that is not an SMB1 message, on an SMB1 connection.
    #[error("a frame that is not an SMB1 message arrived")]
    NotSmb1,
    /// A frame that is not an SMB2 message, on an SMB2 connection.
    #[error("a frame that is not an SMB2 message arrived")]
    NotSmb2,
    /// A NetBIOS frame type other than a session message during the
    /// session (RFC 1002 §4.3.1).
    #[error("unexpected NetBIOS frame type {kind:#04x} during the session")]
    NetbiosFrame {
        /// The frame type.
        kind: u8,
    },
    /// The server sent a request (a message without the response flag).
    #[error("the server sent a request ({command})")]
    ServerRequest {
        /// Its command.
        command: CommandCode,
    },
    /// A response whose message id no request is waiting for.
    #[error("a {command} response with MessageId {message_id}, which no request is waiting for")]
    UnknownMessageId {
        /// Its command.
        command: CommandCode,
        /// Its message id.
        message_id: u64,
    },
    /// A response whose command is not its request's.
    #[error("a {response} response to a {request} request (MessageId {message_id})")]
    WrongCommand {
        /// The request's command.
        request: CommandCode,
        /// The response's command.
        response: CommandCode,
        /// The message id.
        message_id: u64,
    },
    /// A part of an SMB1 transaction response without parameters or data.
    #[error("a transaction response part without parameters or data")]
    EmptyTransactionPart,
}

/// A handshake answer the protocol forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeViolation {
    /// An answer that comes out of order (a session setup response before
    /// the NEGOTIATE, a message of another command, ...).
    #[error("a {0} response out of order during the handshake")]
    OutOfOrder(CommandCode),
    /// The NEGOTIATE response has another MessageId than 0.
    #[error("NEGOTIATE response has MessageId {0} instead of 0")]
    NegotiateMessageId(u64),
    /// An SMB1 NEGOTIATE response with neither extended security nor a
    /// challenge.
    #[error("the SMB1 NEGOTIATE response has neither extended security nor a challenge")]
    NoChallenge,
    /// The server chose a dialect that was not offered.
    #[error("the server chose dialect {0:?}, which was not offered")]
    DialectNotOffered(crate::Dialect),
    /// A 3.1.1 NEGOTIATE response without the SHA-512 preauth integrity
    /// context (MS-SMB2 §3.2.5.2).
    #[error("3.1.1 NEGOTIATE response without a SHA-512 preauth integrity context")]
    NoPreauthIntegrity,
    /// The server chose a cipher that was not offered.
    #[error("the server chose cipher {0:#06x}, which was not offered")]
    CipherNotOffered(u16),
    /// The server's encryption context names other than one cipher.
    #[error("the server's encryption context names {0} ciphers instead of one")]
    CipherCount(usize),
    /// The session setup went on for more rounds than any mechanism needs.
    #[error("the session setup did not finish after {0} rounds")]
    TooManyRounds(u32),
    /// The answer to a re-authentication names another session.
    #[error("the server answered the re-authentication of session {expected:#x} for session {actual:#x}")]
    WrongSession {
        /// The session being re-authenticated.
        expected: u64,
        /// The session the answer names.
        actual: u64,
    },
}

/// What FSCTL_VALIDATE_NEGOTIATE_INFO found.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Tampering {
    /// The response is neither signed nor encrypted.
    #[error("the response is neither signed nor encrypted")]
    NotProtected,
    /// The server refused the request.
    #[error("the server answered ACCESS_DENIED")]
    AccessDenied,
    /// The server's answer differs from its NEGOTIATE response.
    #[error("the server says {said}, the NEGOTIATE response said {negotiated}")]
    Mismatch {
        /// What the server answered now.
        said: String,
        /// What the NEGOTIATE response said.
        negotiated: String,
    },
    /// The response failed the protocol's checks.
    #[error("{0}")]
    BadResponse(Box<Violation>),
    /// The IOCTL had no response.
    #[error("the IOCTL had no response")]
    NoResponse,
}

/// An answer that contradicts its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadAnswer {
    /// More data than was asked for.
    #[error("{what} returned {got} bytes, more than the {asked} asked for")]
    TooMuchData {
        /// Which answer.
        what: &'static str,
        /// Bytes that came.
        got: u64,
        /// Bytes asked for.
        asked: u64,
    },
    /// A write acknowledged with another count than was sent.
    #[error("the server wrote {written} of the {sent} bytes of a {what}")]
    WriteCount {
        /// Which write.
        what: &'static str,
        /// The count the server acknowledged.
        written: u64,
        /// The bytes sent.
        sent: u64,
    },
    /// Something the server says it needs is beyond what the client
    /// accepts.
    #[error("{what} needs {needed} bytes, more than the {limit} smbkit accepts")]
    TooLarge {
        /// What.
        what: &'static str,
        /// What the server asked for.
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// The server keeps answering without getting anywhere (a listing
    /// that never ends, a result that never fits).
    #[error("{what} did not finish after {attempts} requests")]
    NoProgress {
        /// What.
        what: &'static str,
        /// How many requests were made.
        attempts: u32,
    },
    /// STATUS_BUFFER_TOO_SMALL that asks for no more than was offered.
    #[error("STATUS_BUFFER_TOO_SMALL for a {offered}-byte buffer, asking for {needed} bytes")]
    BufferTooSmall {
        /// The buffer offered.
        offered: u32,
        /// The size the server said it needs.
        needed: u32,
    },
    /// A part of the answer is missing.
    #[error("{what}: the answer lacks {missing}")]
    Missing {
        /// Which answer.
        what: &'static str,
        /// What it lacks.
        missing: &'static str,
    },
}

impl From<crate::EncodeError> for ConnError {
    /// A value a request cannot carry: the message names the field and its
    /// limit.
    fn from(e: crate::EncodeError) -> Self {
        ConnError::InvalidRequest(InvalidRequest::Unencodable(e))
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
    /// received message, closes the connection: a violation keeps its kind
    /// (so that a caller can tell a tampered or downgraded connection from
    /// other failures), a lost stream or dead peer is
    /// [`ConnError::NotConnected`], anything else is [`ConnError::Closed`]
    /// naming it.
    pub(crate) fn for_requests_in_flight(&self) -> ConnError {
        match self {
            ConnError::Protocol(v) => ConnError::Protocol(v.clone()),
            ConnError::NotConnected | ConnError::PeerDead { .. } => ConnError::NotConnected,
            ConnError::Closed { cause } => ConnError::Closed {
                cause: cause.clone(),
            },
            e => ConnError::Closed {
                cause: Box::new(e.clone()),
            },
        }
    }
}
