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
//! # Common tasks
//!
//! Each has a complete program under `examples/` (run against Samba by the
//! tests); the gist:
//!
//! Download a tree, several files at once on one connection
//! (`examples/download_tree.rs`, `examples/many_files.rs`):
//!
//! ```no_run
//! # async fn demo(conn: smbkit::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! let mut walk = conn.walk("docs", "reports");
//! while let Some(item) = walk.next_entry().await? {
//!     if !item.entry().is_dir() {
//!         let mut local = tokio::fs::File::create(item.entry().name()).await?;
//!         let remote = format!("reports/{}", item.path());
//!         conn.retrieve_file("docs", &remote, &mut local).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Upload, watching the bytes go (`examples/upload_with_progress.rs`: any
//! `AsyncRead` works, so wrap it to count):
//!
//! ```no_run
//! # async fn demo(conn: smbkit::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! let mut source = tokio::fs::File::open("report.pdf").await?;
//! let written = conn.store_file("docs", "report.pdf", &mut source).await?;
//! println!("{written} bytes written");
//! # Ok(()) }
//! ```
//!
//! Stream a remote file to stdout, and read a byte range
//! (`examples/cat.rs`, `examples/byte_range.rs`):
//!
//! ```no_run
//! # async fn demo(conn: smbkit::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! let file = conn.open_file("docs", "big.log").await?;
//! let header = file.read_at(0, 64).await?;
//! let mut reader = file.reader(0, None);
//! tokio::io::copy(&mut reader, &mut tokio::io::stdout()).await?;
//! # let _ = header; Ok(()) }
//! ```
//!
//! Seek and write, as with `tokio::fs::File` (`examples/seek_and_write.rs`):
//!
//! ```no_run
//! # async fn demo(conn: smbkit::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::SeekFrom;
//! use tokio::io::{AsyncSeekExt, AsyncWriteExt};
//!
//! let mut file = conn
//!     .open("docs", "notes.txt", smbkit::OpenOptions::new().read(true).write(true))
//!     .await?;
//! file.seek(SeekFrom::Start(6)).await?;
//! file.write_all(b"WORLD").await?;
//! file.close().await?;
//! # Ok(()) }
//! ```
//!
//! Connect through a stream you opened (a tunnel, TLS, an in-memory pipe;
//! `examples/custom_stream.rs`), and use smbkit without async
//! (`examples/blocking.rs`, [`blocking`]):
//!
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream) -> Result<(), smbkit::Error> {
//! let conn = smbkit::SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
//!     .direct_tcp(true)
//!     .connect_stream(stream)
//!     .await?;
//! # let _ = conn; Ok(()) }
//! # fn blocking_use() -> Result<(), smbkit::Error> {
//! let factory = smbkit::SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
//!     .direct_tcp(true);
//! let conn = smbkit::blocking::Connection::connect(factory, ("fileserver.example", 445))?;
//! let files = conn.list_path("docs", "/")?;
//! # let _ = files; Ok(()) }
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
mod kerberos;
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
pub use kerberos::Kerberos;
pub use ops::copy::{Copied, CopyMethod};
pub use ops::dfs_route::DfsLocation;
pub use ops::listing::{ReadDir, Walk, WalkEntry, WALK_CONCURRENCY};
pub use ops::notify::{Change, NotifyFilter, Watch, WatchOptions, DEFAULT_WATCH_BUFFER};
pub use ops::transfer::{OpenOptions, RemoteFile, RemoteReader};
pub use smbkit_proto::crypto::{Cipher, SigningAlgorithm};
/// DFS referral types ([`Connection::dfs_referral`]'s answer), from the protocol core.
pub use smbkit_proto::dfs;
pub use smbkit_proto::dtyp::{Ace, Acl, SecurityDescriptor, Sid};
pub use smbkit_proto::fscc::notify::FileAction;
pub use smbkit_proto::fscc::{attributes, search};
pub use smbkit_proto::kerberos::KerberosError;
pub use smbkit_proto::nbss::NegativeResponse;
pub use smbkit_proto::{Dialect, NtStatus};
pub use types::{
    ConnectionEvent, DirEntry, FileAttributes, FileTimes, ServerInfo, ShareType, SharedDevice,
    SharedFile, TreeInfo,
};
pub use url::{SmbUrl, UrlError, UrlForm, UrlPart};
