//! smbkit: an async SMB/CIFS client for tokio.
//!
//! smbkit follows pysmb's `SMBProtocolFactory`: a [`SmbProtocolFactory`]
//! holds the credentials and settings, [`SmbProtocolFactory::connect`]
//! opens the connection (NetBIOS session service or direct TCP),
//! negotiates SMB 2.0.2–3.1.1, authenticates with NTLMv2 or NTLMv1 inside
//! SPNEGO, signs when required or wanted, and hands back a [`Connection`]
//! that any number of tasks may use at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smbkit::Error> {
//! use smbkit::SmbProtocolFactory;
//!
//! let conn = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
//!     .direct_tcp(true)
//!     .connect(("fileserver.example", 445))
//!     .await?;
//! println!("dialect {}", conn.dialect().version_str());
//! conn.echo(b"hello").await?;
//! conn.close().await?;
//! # Ok(()) }
//! ```
//!
//! Every operation has a time limit and fails with a typed [`Error`]:
//! [`Error::NotReady`], [`Error::NotConnected`], [`Error::Timeout`],
//! [`Error::OperationFailure`] (with the server's [`NtStatus`]) and others.
//!
//! The protocol itself lives in `smbkit-proto`, without I/O: its connection
//! state machines make every decision (handshake, message ids and credits,
//! signing, encryption, matching, cancel). This crate is one thin tokio
//! driver that moves bytes and time between them and a stream
//! ([`SmbProtocolFactory::connect`] opens TCP;
//! [`SmbProtocolFactory::connect_stream`] takes any stream you bring), and
//! the operations and public API on top. Dropping any future it returns
//! withdraws its requests: the server is told to cancel them and their
//! answers are absorbed when they come.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
mod connection;
mod driver;
mod error;
mod factory;
mod family;
mod handshake;
mod ops;
mod transport;
mod types;
mod url;

pub use connection::{Connection, DEFAULT_SEARCH};
pub use error::{
    AuthHint, AuthStage, BadAnswer, CommandCode, Decryption, Error, FailureDetail, HandshakeStep,
    HandshakeViolation, Internal, InvalidArgument, InvalidRequest, NoEncryption,
    NotResumableReason, OpenOptionsError, ProtocolError, Tampering, UnexpectedMessage, Unsupported,
};
pub use factory::{
    Encryption, Protocol, ReconnectPolicy, SignOptions, SmbProtocolFactory, Tuning,
    DEFAULT_CIPHERS, DEFAULT_DEAD_PEER, DEFAULT_ECHO_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_TIMEOUT,
};
pub use handshake::AuthHandler;
pub use ops::listing::{ReadDir, Walk, WalkEntry, WALK_CONCURRENCY};
pub use ops::transfer::{OpenOptions, RemoteFile, RemoteReader};
pub use smbkit_proto::crypto::{Cipher, SigningAlgorithm};
pub use smbkit_proto::dtyp::{Ace, Acl, SecurityDescriptor, Sid};
pub use smbkit_proto::fscc::{attributes, search};
pub use smbkit_proto::nbss::NegativeResponse;
pub use smbkit_proto::{Dialect, NtStatus};
pub use types::{
    ConnectionEvent, DirEntry, FileAttributes, FileTimes, ServerInfo, ShareType, SharedDevice,
    SharedFile, TreeInfo,
};
pub use url::{SmbUrl, UrlError, UrlForm, UrlPart};
