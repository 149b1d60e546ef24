//! smbkit: an async SMB/CIFS client.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
