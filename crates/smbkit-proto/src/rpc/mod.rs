//! DCE/RPC over SMB named pipes, as far as share enumeration needs it.
//!
//! Listing the shares of a server is a remote procedure call: the client
//! opens the `\PIPE\srvsvc` named pipe on `IPC$`, binds to the SRVSVC
//! interface and calls `NetrShareEnum` (MS-SRVS §3.1.4.8). Everything that
//! crosses the pipe is a connection-oriented DCE/RPC PDU (C706 §12.6,
//! MS-RPCE §2.2.2) whose stub data is encoded in NDR 2.0 (C706 chapter 14,
//! MS-RPCE §2.2.5).
//!
//! * [`pdu`] builds `bind` and `request` PDUs, decodes `bind_ack` /
//!   `bind_nak`, `response` and `fault` PDUs and reassembles a fragmented
//!   response from the byte stream the pipe delivers.
//! * [`ndr`] is a small bounded NDR 2.0 writer and reader: primitives with
//!   stub-relative alignment, pointers with referent ids and conformant
//!   varying UTF-16 strings.
//! * [`srvsvc`] marshals the `NetrShareEnum` request and decodes its
//!   response.
//!
//! Like the rest of this crate the module is sans-I/O: the `smbkit` driver
//! writes the bytes produced here to the pipe and feeds what it reads back
//! into [`pdu::Reassembler`]. Every count, length and offset taken from the
//! wire is checked before use, so a hostile server yields an [`RpcError`] or
//! a [`DecodeError`], never a panic or an outsized allocation.
#![forbid(unsafe_code)]

pub mod ndr;
pub mod pdu;
pub mod srvsvc;

use thiserror::Error;

use crate::codec::DecodeError;

pub use pdu::{
    BindAck, ContextResult, NcaStatus, PacketType, ProviderReason, Reassembler, RejectReason,
    ResponseFragment, SyntaxId, Uuid,
};
pub use srvsvc::{ShareEnumResult, ShareInfo1};

/// Why an RPC exchange failed: a malformed PDU, or a well-formed PDU in which
/// the server refused the bind or reported a fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The bytes do not form a valid PDU (C706 §12.6, MS-RPCE §2.2.2).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The server answered with a `fault` PDU (C706 §12.6.4.7, MS-RPCE
    /// §2.2.2.8): the call failed with `status`, an NCA status code (C706
    /// Appendix E) or a Win32 error code (MS-RPCE §3.1.1.5.5).
    #[error("RPC fault {status} on call {call_id}{}", if *.did_not_execute { " (call did not execute)" } else { "" })]
    Fault {
        /// The call the fault answers.
        call_id: u32,
        /// The fault status from the PDU body.
        status: NcaStatus,
        /// `PFC_DID_NOT_EXECUTE` was set: the server guarantees the call
        /// was not executed, so it may be retried (C706 §12.6.3.1).
        did_not_execute: bool,
    },
    /// The server refused the whole association with a `bind_nak` PDU
    /// (C706 §12.6.4.5, MS-RPCE §2.2.2.9).
    #[error("bind refused (bind_nak): {reason}")]
    BindNak {
        /// The call id of the `bind_nak`.
        call_id: u32,
        /// `provider_reject_reason` (C706 §12.6.3.1, MS-RPCE §2.2.2.5).
        reason: RejectReason,
    },
    /// The server accepted the association but rejected our presentation
    /// context: the `bind_ack` result for it is not `acceptance` (C706
    /// §12.6.3.1 `p_result_t`, §12.6.4.4).
    #[error("presentation context rejected: {result}, reason {reason}")]
    ContextRejected {
        /// The `p_cont_def_result_t` the server gave.
        result: ContextResult,
        /// The `p_provider_reason_t` the server gave.
        reason: ProviderReason,
    },
}
