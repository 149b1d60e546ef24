//! Sans-I/O protocol core of smbkit.
//!
//! Nothing here touches a socket, spawns a task or reads the clock: codecs
//! turn bytes into typed messages and back, NTLM/SPNEGO produce tokens, the
//! crypto module signs and verifies, and the connection state decides message
//! ids and credits. The `smbkit` crate drives all of this over tokio.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod conn;
pub mod crypto;
pub mod dtyp;
pub mod fscc;
pub mod nbss;
pub mod ntlm;
pub mod rpc;
pub mod smb1;
pub mod smb2;
pub mod spnego;
pub mod state;
pub mod types;

pub use codec::{DecodeError, EncodeError, Reader, Writer};
pub use types::{Command, Dialect, NtStatus};
