//! The SMB1 (CIFS) messages smbkit needs: the header (MS-CIFS §2.2.3.1) and
//! SMB_COM_NEGOTIATE (MS-CIFS §2.2.4.52, MS-SMB §2.2.4.5), used for the
//! multi-protocol negotiate that upgrades to SMB2 and to detect SMB1-only
//! servers.
//!
//! As for SMB2, decoders take one message starting at its 32-byte header and
//! turn any malformed or hostile input into a
//! [`DecodeError`](crate::codec::DecodeError), never a panic.

pub mod header;
pub mod negotiate;

pub use header::{Header, HEADER_LEN};
pub use negotiate::{decode_negotiate_request, negotiate_request, NegotiateResponse};
