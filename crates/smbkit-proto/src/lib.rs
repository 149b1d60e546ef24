//! Sans-I/O protocol core of smbkit.
//!
//! Nothing here touches a socket, spawns a task or reads the clock: codecs
//! turn bytes into typed messages and back, NTLM/SPNEGO produce tokens, the
//! crypto module signs, verifies and encrypts, and the connection state
//! machines in [`conn`] (one for SMB 2/3, one for SMB1) make every decision
//! about a connection: the handshake, message ids and credits or MIDs and
//! MaxMpxCount, signing and encryption, matching responses to requests,
//! deadlines and cancel. A driver feeds them received frames and the time,
//! and sends what they queue; the `smbkit` crate is such a driver for tokio.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod conn;
pub mod crypto;
pub mod dfs;
pub mod dtyp;
pub mod fscc;
pub mod kerberos;
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
