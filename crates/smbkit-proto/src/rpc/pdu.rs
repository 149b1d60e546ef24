//! Connection-oriented DCE/RPC PDUs (C706 §12.6, MS-RPCE §2.2.2).
//!
//! Every PDU starts with the 16-byte common header of C706 §12.6.1:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | `rpc_vers` (5) |
//! | 1 | 1 | `rpc_vers_minor` (0) |
//! | 2 | 1 | `PTYPE` ([`PacketType`]) |
//! | 3 | 1 | `pfc_flags` ([`pfc`]) |
//! | 4 | 4 | `packed_drep`, the data representation ([`DREP_LE_ASCII_IEEE`]) |
//! | 8 | 2 | `frag_length`: the whole PDU, header included |
//! | 10 | 2 | `auth_length`: the authentication value at the end |
//! | 12 | 4 | `call_id` |
//!
//! The header fields are themselves NDR-encoded in the byte order the
//! `packed_drep` announces. We only ever send little-endian, ASCII, IEEE
//! (`[0x10, 0, 0, 0]`), which is what every SMB server answers with, and
//! reject a big-endian peer rather than byte-swap.
//!
//! The client side of one call over a named pipe is: [`bind`] → decode
//! [`BindAck`] → [`request`] (or [`request_fragments`]) → feed what the pipe
//! returns into a [`Reassembler`] until it yields the response stub.

use std::fmt;
use std::ops::Range;

use super::RpcError;
use crate::codec::{DecodeError, Reader, Writer};

/// Size of the common header (C706 §12.6.1).
pub const HEADER_LEN: usize = 16;

/// Size of the `request` and `response` headers: the common header plus
/// `alloc_hint`, `p_cont_id` and `opnum` / `cancel_count` + reserved
/// (C706 §12.6.4.9, §12.6.4.10). Stub data starts here.
pub const REQUEST_HEADER_LEN: usize = 24;

/// Size of the `sec_trailer` that precedes an authentication value
/// (MS-RPCE §2.2.2.11).
const SEC_TRAILER_LEN: usize = 8;

/// `rpc_vers`: the connection-oriented protocol major version (C706 §12.6.1).
pub const RPC_VERS: u8 = 5;

/// `rpc_vers_minor` we send; servers may answer 0 or 1 (C706 §12.6.1,
/// MS-RPCE §1.7).
pub const RPC_VERS_MINOR: u8 = 0;

/// `packed_drep` for little-endian integers, ASCII characters and IEEE
/// floating point (C706 §12.6 "Data representation format label",
/// §14.1).
pub const DREP_LE_ASCII_IEEE: [u8; 4] = [0x10, 0, 0, 0];

/// The `max_xmit_frag` / `max_recv_frag` we offer in [`bind`]: 4280 bytes,
/// the value Windows clients use on named pipes (C706 §12.6.4.3).
pub const MAX_XMIT_FRAG: u16 = 4280;

/// See [`MAX_XMIT_FRAG`].
pub const MAX_RECV_FRAG: u16 = 4280;

/// The presentation context id [`bind`] offers and [`request`] should use.
pub const CONTEXT_ID: u16 = 0;

/// Default cap on a reassembled response stub (16 MiB). The wire allows
/// any number of fragments; a [`Reassembler`] refuses to grow past its cap.
pub const DEFAULT_MAX_STUB: usize = 16 * 1024 * 1024;

/// `pfc_flags` bits of the common header (C706 §12.6.3.1, MS-RPCE
/// §2.2.2.3).
pub mod pfc {
    /// First fragment of a call.
    pub const FIRST_FRAG: u8 = 0x01;
    /// Last fragment of a call.
    pub const LAST_FRAG: u8 = 0x02;
    /// Cancel was pending at the sender (request/response PDUs).
    pub const PENDING_CANCEL: u8 = 0x04;
    /// In `bind`, `bind_ack`, `alter_context`(`_resp`) and `rpc_auth_3`
    /// the same bit means the header-signing capability (MS-RPCE §2.2.2.3).
    pub const SUPPORT_HEADER_SIGN: u8 = 0x04;
    /// Supports concurrent multiplexing of a single connection.
    pub const CONC_MPX: u8 = 0x10;
    /// In a `fault`: the call was guaranteed not to have executed.
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    /// `maybe` call semantics requested.
    pub const MAYBE: u8 = 0x40;
    /// A non-nil object UUID follows the `request` header.
    pub const OBJECT_UUID: u8 = 0x80;
}

crate::wire_enum! {
    /// `PTYPE`, the PDU type (C706 chapter 12 table of PDU types, MS-RPCE §2.2.2.10 for
    /// `rpc_auth_3`). Connectionless types are listed for completeness;
    /// they never appear on a pipe.
    pub struct PacketType(u8) {
        /// `request`: client → server call (C706 §12.6.4.9).
        REQUEST = 0,
        /// `ping` (connectionless only).
        PING = 1,
        /// `response`: server → client result (C706 §12.6.4.10).
        RESPONSE = 2,
        /// `fault`: the call failed (C706 §12.6.4.7).
        FAULT = 3,
        /// `working` (connectionless only).
        WORKING = 4,
        /// `nocall` (connectionless only).
        NOCALL = 5,
        /// `reject` (connectionless only).
        REJECT = 6,
        /// `ack` (connectionless only).
        ACK = 7,
        /// `cl_cancel` (connectionless only).
        CL_CANCEL = 8,
        /// `fack` (connectionless only).
        FACK = 9,
        /// `cancel_ack` (connectionless only).
        CANCEL_ACK = 10,
        /// `bind`: open an association (C706 §12.6.4.3).
        BIND = 11,
        /// `bind_ack`: association accepted (C706 §12.6.4.4).
        BIND_ACK = 12,
        /// `bind_nak`: association refused (C706 §12.6.4.5).
        BIND_NAK = 13,
        /// `alter_context` (C706 §12.6.4.1).
        ALTER_CONTEXT = 14,
        /// `alter_context_resp` (C706 §12.6.4.2).
        ALTER_CONTEXT_RESP = 15,
        /// `rpc_auth_3` (MS-RPCE §2.2.2.10).
        AUTH3 = 16,
        /// `shutdown` (C706 §12.6.4.11).
        SHUTDOWN = 17,
        /// `co_cancel` (C706 §12.6.4.6).
        CO_CANCEL = 18,
        /// `orphaned` (C706 §12.6.4.8).
        ORPHANED = 19,
    }
}

crate::wire_enum! {
    /// `p_cont_def_result_t`: the server's verdict on one presentation
    /// context in a `bind_ack` (C706 §12.6.3.1; `negotiate_ack` is
    /// MS-RPCE §2.2.2.4).
    pub struct ContextResult(u16) {
        /// The context is usable.
        ACCEPTANCE = 0,
        /// Rejected by the server application.
        USER_REJECTION = 1,
        /// Rejected by the RPC runtime; see the reason.
        PROVIDER_REJECTION = 2,
        /// Bind-time feature negotiation answer (MS-RPCE §3.3.1.5.3).
        NEGOTIATE_ACK = 3,
    }
}

crate::wire_enum! {
    /// `p_provider_reason_t`: why a presentation context was rejected
    /// (C706 §12.6.3.1).
    pub struct ProviderReason(u16) {
        /// No reason given.
        REASON_NOT_SPECIFIED = 0,
        /// The server does not offer the interface (UUID and version).
        ABSTRACT_SYNTAX_NOT_SUPPORTED = 1,
        /// None of the offered transfer syntaxes is supported.
        PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2,
        /// The server ran out of resources.
        LOCAL_LIMIT_EXCEEDED = 3,
    }
}

crate::wire_enum! {
    /// `provider_reject_reason` of a `bind_nak` (C706 §12.6.3.1,
    /// MS-RPCE §2.2.2.5).
    pub struct RejectReason(u16) {
        /// No reason given.
        REASON_NOT_SPECIFIED = 0,
        /// Temporary congestion.
        TEMPORARY_CONGESTION = 1,
        /// The server ran out of resources.
        LOCAL_LIMIT_EXCEEDED = 2,
        /// Called presentation address unknown.
        CALLED_PADDR_UNKNOWN = 3,
        /// Protocol version not supported.
        PROTOCOL_VERSION_NOT_SUPPORTED = 4,
        /// Default context not supported.
        DEFAULT_CONTEXT_NOT_SUPPORTED = 5,
        /// User data not readable.
        USER_DATA_NOT_READABLE = 6,
        /// No PSAP available.
        NO_PSAP_AVAILABLE = 7,
        /// Authentication type not recognised (MS-RPCE §2.2.2.5).
        AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8,
        /// Invalid checksum (MS-RPCE §2.2.2.5).
        INVALID_CHECKSUM = 9,
    }
}

crate::wire_enum! {
    /// The `status` of a `fault` PDU: an NCA status code (C706 Appendix E)
    /// or, from Windows servers, a Win32 error code (MS-RPCE §2.2.2.8,
    /// §3.1.1.5.5). Unknown values print as hex.
    pub struct NcaStatus(u32) {
        /// `ERROR_ACCESS_DENIED`, sent when an authorization policy refuses
        /// the call (MS-RPCE §3.2.3.5.1).
        ACCESS_DENIED = 0x0000_0005,
        /// `RPC_S_CANNOT_SUPPORT` (`nca_s_fault_cant_perform`).
        CANNOT_SUPPORT = 0x0000_06D8,
        /// `RPC_X_BAD_STUB_DATA` (`nca_s_fault_ndr`): the server could not
        /// unmarshal the stub.
        BAD_STUB_DATA = 0x0000_06F7,
        /// `nca_s_fault_int_div_by_zero`.
        NCA_S_FAULT_INT_DIV_BY_ZERO = 0x1C00_0001,
        /// `nca_s_fault_addr_error`.
        NCA_S_FAULT_ADDR_ERROR = 0x1C00_0002,
        /// `nca_s_fault_fp_div_zero`.
        NCA_S_FAULT_FP_DIV_ZERO = 0x1C00_0003,
        /// `nca_s_fault_fp_underflow`.
        NCA_S_FAULT_FP_UNDERFLOW = 0x1C00_0004,
        /// `nca_s_fault_fp_overflow`.
        NCA_S_FAULT_FP_OVERFLOW = 0x1C00_0005,
        /// `nca_s_fault_invalid_tag`: bad union discriminant.
        NCA_S_FAULT_INVALID_TAG = 0x1C00_0006,
        /// `nca_s_fault_invalid_bound`: bad array bound.
        NCA_S_FAULT_INVALID_BOUND = 0x1C00_0007,
        /// `nca_rpc_version_mismatch`.
        NCA_RPC_VERSION_MISMATCH = 0x1C00_0008,
        /// `nca_unspec_reject`.
        NCA_UNSPEC_REJECT = 0x1C00_0009,
        /// `nca_s_bad_actid`.
        NCA_S_BAD_ACTID = 0x1C00_000A,
        /// `nca_who_are_you_failed`.
        NCA_WHO_ARE_YOU_FAILED = 0x1C00_000B,
        /// `nca_manager_not_entered`.
        NCA_MANAGER_NOT_ENTERED = 0x1C00_000C,
        /// `nca_s_fault_cancel`.
        NCA_S_FAULT_CANCEL = 0x1C00_000D,
        /// `nca_s_fault_ill_inst`.
        NCA_S_FAULT_ILL_INST = 0x1C00_000E,
        /// `nca_s_fault_fp_error`.
        NCA_S_FAULT_FP_ERROR = 0x1C00_000F,
        /// `nca_s_fault_int_overflow`.
        NCA_S_FAULT_INT_OVERFLOW = 0x1C00_0010,
        /// `nca_s_fault_unspec`.
        NCA_S_FAULT_UNSPEC = 0x1C00_0012,
        /// `nca_s_fault_pipe_empty`.
        NCA_S_FAULT_PIPE_EMPTY = 0x1C00_0014,
        /// `nca_s_fault_pipe_closed`.
        NCA_S_FAULT_PIPE_CLOSED = 0x1C00_0015,
        /// `nca_s_fault_pipe_order`.
        NCA_S_FAULT_PIPE_ORDER = 0x1C00_0016,
        /// `nca_s_fault_pipe_discipline`.
        NCA_S_FAULT_PIPE_DISCIPLINE = 0x1C00_0017,
        /// `nca_s_fault_pipe_comm_error`.
        NCA_S_FAULT_PIPE_COMM_ERROR = 0x1C00_0018,
        /// `nca_s_fault_pipe_memory`.
        NCA_S_FAULT_PIPE_MEMORY = 0x1C00_0019,
        /// `nca_s_fault_context_mismatch`: unknown context handle.
        NCA_S_FAULT_CONTEXT_MISMATCH = 0x1C00_001A,
        /// `nca_s_fault_remote_no_memory`.
        NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1C00_001B,
        /// `nca_invalid_pres_context_id`: the request named a context that
        /// was never bound.
        NCA_INVALID_PRES_CONTEXT_ID = 0x1C00_001C,
        /// `nca_unsupported_authn_level`.
        NCA_UNSUPPORTED_AUTHN_LEVEL = 0x1C00_001D,
        /// `nca_invalid_checksum`.
        NCA_INVALID_CHECKSUM = 0x1C00_001F,
        /// `nca_invalid_crc`.
        NCA_INVALID_CRC = 0x1C00_0020,
        /// `nca_s_fault_user_defined`.
        NCA_S_FAULT_USER_DEFINED = 0x1C00_0021,
        /// `nca_s_fault_tx_open_failed`.
        NCA_S_FAULT_TX_OPEN_FAILED = 0x1C00_0022,
        /// `nca_s_fault_codeset_conv_error`.
        NCA_S_FAULT_CODESET_CONV_ERROR = 0x1C00_0023,
        /// `nca_s_fault_object_not_found`.
        NCA_S_FAULT_OBJECT_NOT_FOUND = 0x1C00_0024,
        /// `nca_s_fault_no_client_stub`.
        NCA_S_FAULT_NO_CLIENT_STUB = 0x1C00_0025,
        /// `nca_s_comm_failure`.
        NCA_S_COMM_FAILURE = 0x1C01_0001,
        /// `nca_op_rng_error`: the opnum is out of range for the interface.
        NCA_OP_RNG_ERROR = 0x1C01_0002,
        /// `nca_unk_if`: unknown interface.
        NCA_UNK_IF = 0x1C01_0003,
        /// `nca_wrong_boot_time`.
        NCA_WRONG_BOOT_TIME = 0x1C01_0006,
        /// `nca_s_you_crashed`.
        NCA_S_YOU_CRASHED = 0x1C01_0009,
        /// `nca_proto_error`: the server saw a protocol error.
        NCA_PROTO_ERROR = 0x1C01_000B,
        /// `nca_out_args_too_big`.
        NCA_OUT_ARGS_TOO_BIG = 0x1C01_0013,
        /// `nca_server_too_busy`.
        NCA_SERVER_TOO_BUSY = 0x1C01_0014,
        /// `nca_unsupported_type`.
        NCA_UNSUPPORTED_TYPE = 0x1C01_0017,
    }
}

/// A DCE UUID (C706 Appendix A), kept as its fields so that it can be
/// written in NDR little-endian order (C706 §14.2, `uuid_t` in
/// §12.6.3.1): `time_low`, `time_mid` and `time_hi_and_version` byte-swapped,
/// the last eight bytes as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid {
    /// First 32 bits.
    pub time_low: u32,
    /// Next 16 bits.
    pub time_mid: u16,
    /// Next 16 bits.
    pub time_hi_and_version: u16,
    /// `clock_seq_hi_and_reserved`, `clock_seq_low` and the 6-byte node.
    pub clock_seq_and_node: [u8; 8],
}

impl Uuid {
    /// The UUID whose textual form is the 32 hex digits of `v`, e.g.
    /// `Uuid::from_u128(0x4b324fc8_1670_01d3_1278_5a47bf6ee188)` for
    /// `4b324fc8-1670-01d3-1278-5a47bf6ee188`.
    pub const fn from_u128(v: u128) -> Self {
        let b = v.to_be_bytes();
        Uuid {
            time_low: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            time_mid: u16::from_be_bytes([b[4], b[5]]),
            time_hi_and_version: u16::from_be_bytes([b[6], b[7]]),
            clock_seq_and_node: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }

    /// The 16-byte NDR little-endian encoding (C706 §12.6.3.1 `uuid_t`).
    pub fn to_bytes_le(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..4].copy_from_slice(&self.time_low.to_le_bytes());
        out[4..6].copy_from_slice(&self.time_mid.to_le_bytes());
        out[6..8].copy_from_slice(&self.time_hi_and_version.to_le_bytes());
        out[8..16].copy_from_slice(&self.clock_seq_and_node);
        out
    }

    /// Decodes the 16-byte NDR little-endian encoding.
    pub fn from_bytes_le(b: [u8; 16]) -> Self {
        Uuid {
            time_low: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            time_mid: u16::from_le_bytes([b[4], b[5]]),
            time_hi_and_version: u16::from_le_bytes([b[6], b[7]]),
            clock_seq_and_node: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.clock_seq_and_node;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.time_low,
            self.time_mid,
            self.time_hi_and_version,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            c[6],
            c[7]
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `p_syntax_id_t`: an interface or transfer syntax, a UUID and a version
/// (C706 §12.6.3.1). On the wire the version is one 32-bit `if_version`
/// holding the major version in its low 16 bits and the minor version in
/// its high 16 bits (C706 §12.6.3.1, MS-RPCE §2.2.4.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyntaxId {
    /// The interface or transfer syntax UUID.
    pub uuid: Uuid,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl SyntaxId {
    /// Bytes on the wire: 16 for the UUID, 4 for the version.
    pub const LEN: usize = 20;

    /// A syntax id from its parts.
    pub const fn new(uuid: Uuid, major: u16, minor: u16) -> Self {
        SyntaxId { uuid, major, minor }
    }

    /// Appends the 20-byte `p_syntax_id_t`.
    pub fn encode(&self, w: &mut Writer) {
        w.bytes(&self.uuid.to_bytes_le());
        w.u16(self.major).u16(self.minor);
    }

    /// Reads a 20-byte `p_syntax_id_t`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let uuid = Uuid::from_bytes_le(r.array("p_syntax_id_t.if_uuid")?);
        let major = r.u16("p_syntax_id_t.if_version")?;
        let minor = r.u16("p_syntax_id_t.if_version")?;
        Ok(SyntaxId { uuid, major, minor })
    }
}

/// The NDR 2.0 transfer syntax, `8a885d04-1ceb-11c9-9fe8-08002b104860`
/// version 2.0 (C706 Appendix I, MS-RPCE §2.2.4.12).
pub const NDR20: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860),
    2,
    0,
);

/// The decoded common header of a connection-oriented PDU (C706 §12.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    /// `rpc_vers_minor` (0 or 1).
    pub minor_version: u8,
    /// `PTYPE`.
    pub ptype: PacketType,
    /// `pfc_flags` ([`pfc`]).
    pub flags: u8,
    /// `packed_drep`.
    pub drep: [u8; 4],
    /// `frag_length`: bytes in this PDU, header included (at least 16).
    pub frag_length: u16,
    /// `auth_length`: bytes of authentication value at the end.
    pub auth_length: u16,
    /// `call_id`.
    pub call_id: u32,
}

impl PduHeader {
    /// Decodes and validates the first 16 bytes of `buf`: version 5.0 or
    /// 5.1, little-endian integer representation, `frag_length` of at
    /// least 16. Whether `buf` holds the whole PDU is the caller's
    /// business (see [`pdu_length`]).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let vers = r.u8("rpc_vers")?;
        let minor_version = r.u8("rpc_vers_minor")?;
        let ptype = PacketType(r.u8("PTYPE")?);
        let flags = r.u8("pfc_flags")?;
        let drep: [u8; 4] = r.array("packed_drep")?;
        let frag_length = r.u16("frag_length")?;
        let auth_length = r.u16("auth_length")?;
        let call_id = r.u32("call_id")?;
        if vers != RPC_VERS {
            return Err(DecodeError::invalid(
                "rpc_vers",
                format!("version {vers}, expected {RPC_VERS}"),
            ));
        }
        if minor_version > 1 {
            return Err(DecodeError::invalid(
                "rpc_vers_minor",
                format!("minor version {minor_version}, expected 0 or 1"),
            ));
        }
        if drep[0] & 0xF0 != 0x10 {
            return Err(DecodeError::invalid(
                "packed_drep",
                format!(
                    "integer representation {:#04x} is not little-endian",
                    drep[0]
                ),
            ));
        }
        if usize::from(frag_length) < HEADER_LEN {
            return Err(DecodeError::invalid(
                "frag_length",
                format!("{frag_length} is shorter than the {HEADER_LEN}-byte header"),
            ));
        }
        Ok(PduHeader {
            minor_version,
            ptype,
            flags,
            drep,
            frag_length,
            auth_length,
            call_id,
        })
    }

    /// `PFC_FIRST_FRAG` is set.
    pub fn is_first(&self) -> bool {
        self.flags & pfc::FIRST_FRAG != 0
    }

    /// `PFC_LAST_FRAG` is set.
    pub fn is_last(&self) -> bool {
        self.flags & pfc::LAST_FRAG != 0
    }
}

/// The length of the PDU at the start of `buf` (its validated
/// `frag_length`), or `None` while fewer than 16 bytes have arrived. Lets a
/// driver cut PDUs out of a byte stream (C706 §12.6.1).
pub fn pdu_length(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    Ok(Some(usize::from(PduHeader::decode(buf)?.frag_length)))
}

/// Starts a PDU: the common header with `frag_length` 0, patched by
/// [`finish`].
fn begin(ptype: PacketType, flags: u8, call_id: u32) -> Writer {
    let mut w = Writer::new();
    w.u8(RPC_VERS)
        .u8(RPC_VERS_MINOR)
        .u8(ptype.0)
        .u8(flags)
        .bytes(&DREP_LE_ASCII_IEEE)
        .u16(0) // frag_length, patched in finish()
        .u16(0) // auth_length: we never authenticate at the RPC level
        .u32(call_id);
    w
}

/// Patches `frag_length` and returns the PDU. Callers keep PDUs within
/// `u16::MAX` bytes.
fn finish(mut w: Writer) -> Vec<u8> {
    let len = u16::try_from(w.len()).unwrap_or(u16::MAX);
    w.patch_u16(8, len);
    w.into_vec()
}

/// Builds a `bind` PDU (C706 §12.6.4.3) offering one presentation context,
/// id [`CONTEXT_ID`], for `abstract_syntax` with the single transfer syntax
/// [`NDR20`]. `max_xmit_frag` and `max_recv_frag` are [`MAX_XMIT_FRAG`] /
/// [`MAX_RECV_FRAG`], `assoc_group_id` is 0 (a new association group) and
/// `pfc_flags` is `FIRST_FRAG | LAST_FRAG`. No authentication verifier:
/// over SMB the pipe is already authenticated by the session (MS-RPCE
/// §2.1.1.2). The result is always 72 bytes.
pub fn bind(call_id: u32, abstract_syntax: SyntaxId) -> Vec<u8> {
    let mut w = begin(PacketType::BIND, pfc::FIRST_FRAG | pfc::LAST_FRAG, call_id);
    // max_xmit_frag, max_recv_frag, assoc_group_id (0: new group).
    w.u16(MAX_XMIT_FRAG).u16(MAX_RECV_FRAG).u32(0);
    // p_cont_list_t: n_context_elem, reserved, reserved2.
    w.u8(1).u8(0).u16(0);
    // p_cont_elem_t: p_cont_id, n_transfer_syn, reserved, then the syntaxes.
    w.u16(CONTEXT_ID).u8(1).u8(0);
    abstract_syntax.encode(&mut w);
    NDR20.encode(&mut w);
    finish(w)
}

/// One entry of a `bind_ack` result list, `p_result_t` (C706 §12.6.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextResultItem {
    /// `result`.
    pub result: ContextResult,
    /// `reason`, meaningful when `result` is a rejection.
    pub reason: ProviderReason,
    /// The transfer syntax the server picked (zero when rejected).
    pub transfer_syntax: SyntaxId,
}

/// A decoded `bind_ack` PDU (C706 §12.6.4.4, MS-RPCE §2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    /// `call_id`, echoing the `bind`.
    pub call_id: u32,
    /// The largest fragment the server will send.
    pub max_xmit_frag: u16,
    /// The largest fragment the server will receive: pass it to
    /// [`request_fragments`].
    pub max_recv_frag: u16,
    /// The association group the server assigned.
    pub assoc_group_id: u32,
    /// `sec_addr`, the server's secondary address (e.g. `\PIPE\srvsvc`),
    /// decoded lossily and without its terminator; informational only.
    pub secondary_address: String,
    /// `p_result_list`, one entry per offered context.
    pub results: Vec<ContextResultItem>,
}

impl BindAck {
    /// Decodes the answer to a [`bind`]. `buf` must hold exactly one PDU.
    ///
    /// A `bind_nak` becomes [`RpcError::BindNak`], a `fault`
    /// [`RpcError::Fault`]. For a `bind_ack` the first result — the one for
    /// our single context — must be `acceptance` with the NDR 2.0 transfer
    /// syntax; otherwise [`RpcError::ContextRejected`] carries the server's
    /// result and reason.
    pub fn decode(buf: &[u8]) -> Result<Self, RpcError> {
        let hdr = PduHeader::decode(buf)?;
        let pdu = whole_pdu(buf, &hdr)?;
        if pdu.len() != buf.len() {
            return Err(DecodeError::invalid(
                "bind_ack",
                format!("{} bytes after the PDU", buf.len() - pdu.len()),
            )
            .into());
        }
        match hdr.ptype {
            PacketType::BIND_ACK => {}
            PacketType::BIND_NAK => {
                let mut r = Reader::at(pdu, HEADER_LEN, "bind_nak")?;
                let reason = RejectReason(r.u16("bind_nak.provider_reject_reason")?);
                return Err(RpcError::BindNak {
                    call_id: hdr.call_id,
                    reason,
                });
            }
            PacketType::FAULT => return Err(fault(pdu, &hdr)),
            other => {
                return Err(DecodeError::invalid(
                    "PTYPE",
                    format!("expected bind_ack, got {other}"),
                )
                .into())
            }
        }
        let mut r = Reader::at(pdu, HEADER_LEN, "bind_ack")?;
        let max_xmit_frag = r.u16("bind_ack.max_xmit_frag")?;
        let max_recv_frag = r.u16("bind_ack.max_recv_frag")?;
        let assoc_group_id = r.u32("bind_ack.assoc_group_id")?;
        let sec_len = usize::from(r.u16("bind_ack.sec_addr.length")?);
        let sec = r.take(sec_len, "bind_ack.sec_addr.port_spec")?;
        let sec = sec.split(|&b| b == 0).next().unwrap_or(&[]);
        let secondary_address = String::from_utf8_lossy(sec).into_owned();
        // The result list is 4-byte aligned relative to the PDU start.
        let pad = (4 - r.position() % 4) % 4;
        r.skip(pad, "bind_ack.pad")?;
        let n_results = r.u8("bind_ack.p_result_list.n_results")?;
        r.skip(3, "bind_ack.p_result_list.reserved")?;
        let mut results = Vec::with_capacity(usize::from(n_results));
        for _ in 0..n_results {
            let result = ContextResult(r.u16("p_result_t.result")?);
            let reason = ProviderReason(r.u16("p_result_t.reason")?);
            let transfer_syntax = SyntaxId::decode(&mut r)?;
            results.push(ContextResultItem {
                result,
                reason,
                transfer_syntax,
            });
        }
        let Some(ours) = results.first() else {
            return Err(DecodeError::invalid("bind_ack.p_result_list", "no results").into());
        };
        if ours.result != ContextResult::ACCEPTANCE {
            return Err(RpcError::ContextRejected {
                result: ours.result,
                reason: ours.reason,
            });
        }
        if ours.transfer_syntax != NDR20 {
            return Err(DecodeError::invalid(
                "p_result_t.transfer_syntax",
                format!(
                    "server accepted {} v{}.{}, which was not offered",
                    ours.transfer_syntax.uuid,
                    ours.transfer_syntax.major,
                    ours.transfer_syntax.minor
                ),
            )
            .into());
        }
        Ok(BindAck {
            call_id: hdr.call_id,
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            secondary_address,
            results,
        })
    }
}

/// The first `frag_length` bytes of `buf`, or an error if fewer arrived.
fn whole_pdu<'a>(buf: &'a [u8], hdr: &PduHeader) -> Result<&'a [u8], DecodeError> {
    let len = usize::from(hdr.frag_length);
    buf.get(..len).ok_or(DecodeError::Truncated {
        what: "PDU (frag_length)",
        needed: len,
        available: buf.len(),
    })
}

/// Turns a `fault` PDU (C706 §12.6.4.7, MS-RPCE §2.2.2.8) into
/// [`RpcError::Fault`]: `status` sits after `alloc_hint`, `p_cont_id`,
/// `cancel_count` and a reserved byte. Any stub data is ignored, as MS-RPCE
/// §2.2.2.8 requires.
fn fault(pdu: &[u8], hdr: &PduHeader) -> RpcError {
    let status =
        Reader::at(pdu, REQUEST_HEADER_LEN, "fault").and_then(|mut r| r.u32("fault.status"));
    match status {
        Ok(status) => RpcError::Fault {
            call_id: hdr.call_id,
            status: NcaStatus(status),
            did_not_execute: hdr.flags & pfc::DID_NOT_EXECUTE != 0,
        },
        Err(e) => e.into(),
    }
}

/// Builds a single-fragment `request` PDU (C706 §12.6.4.9): `alloc_hint`
/// = stub length, `p_cont_id` = `context_id`, `opnum`, then the stub.
///
/// The stub must fit one fragment of [`MAX_XMIT_FRAG`] bytes (4256 bytes
/// of stub), which NetrShareEnum's always does. A longer stub yields the
/// concatenation of the fragments of [`request_fragments`] — send those one
/// write at a time instead.
pub fn request(call_id: u32, context_id: u16, opnum: u16, stub: &[u8]) -> Vec<u8> {
    request_fragments(call_id, context_id, opnum, stub, MAX_XMIT_FRAG).concat()
}

/// Splits a call into `request` fragments of at most `max_frag` bytes
/// (C706 §12.6.4.9; use the server's [`BindAck::max_recv_frag`]). Every
/// fragment but the last carries a multiple of 8 stub bytes, the first has
/// `PFC_FIRST_FRAG`, the last `PFC_LAST_FRAG`, and each `alloc_hint` is the
/// stub bytes remaining from that fragment on. `max_frag` below 32 is
/// treated as 32. An empty stub still makes one fragment.
pub fn request_fragments(
    call_id: u32,
    context_id: u16,
    opnum: u16,
    stub: &[u8],
    max_frag: u16,
) -> Vec<Vec<u8>> {
    let room = (usize::from(max_frag.max(32)) - REQUEST_HEADER_LEN) & !7;
    let mut out = Vec::with_capacity(stub.len() / room + 1);
    let mut offset = 0;
    loop {
        let chunk = &stub[offset..(offset + room).min(stub.len())];
        let mut flags = 0;
        if offset == 0 {
            flags |= pfc::FIRST_FRAG;
        }
        if offset + chunk.len() == stub.len() {
            flags |= pfc::LAST_FRAG;
        }
        let mut w = begin(PacketType::REQUEST, flags, call_id);
        let alloc_hint = u32::try_from(stub.len() - offset).unwrap_or(u32::MAX);
        w.u32(alloc_hint).u16(context_id).u16(opnum).bytes(chunk);
        out.push(finish(w));
        offset += chunk.len();
        if offset == stub.len() {
            return out;
        }
    }
}

/// One `response` fragment located in a buffer (C706 §12.6.4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFragment {
    /// `call_id`.
    pub call_id: u32,
    /// `p_cont_id`.
    pub context_id: u16,
    /// `alloc_hint`: the sender's guess of the stub bytes still to come.
    /// Advisory only; never used to size an allocation here.
    pub alloc_hint: u32,
    /// `PFC_FIRST_FRAG`.
    pub first: bool,
    /// `PFC_LAST_FRAG`.
    pub last: bool,
    /// `frag_length`: bytes of the buffer this fragment occupies.
    pub frag_length: usize,
    /// Where the stub data lies in the buffer that was parsed (after the
    /// 24-byte header, before any `sec_trailer`, authentication padding and
    /// authentication value).
    pub stub: Range<usize>,
}

impl ResponseFragment {
    /// The stub bytes, given the buffer this fragment was parsed from.
    pub fn stub<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.stub.clone()).unwrap_or(&[])
    }
}

/// Parses the `response` PDU at the start of `buf` (C706 §12.6.4.10).
/// `buf` may hold more bytes after it (the next fragment); only
/// `frag_length` bytes are examined.
///
/// A `fault` PDU (C706 §12.6.4.7) becomes [`RpcError::Fault`] carrying the
/// status code. If `auth_length` is non-zero the `sec_trailer`
/// (MS-RPCE §2.2.2.11), its `auth_pad_length` padding and the
/// authentication value are cut off the stub; they are not verified.
pub fn parse_response_fragment(buf: &[u8]) -> Result<ResponseFragment, RpcError> {
    let hdr = PduHeader::decode(buf)?;
    let pdu = whole_pdu(buf, &hdr)?;
    match hdr.ptype {
        PacketType::RESPONSE => {}
        PacketType::FAULT => return Err(fault(pdu, &hdr)),
        other => {
            return Err(
                DecodeError::invalid("PTYPE", format!("expected response, got {other}")).into(),
            )
        }
    }
    let mut r = Reader::at(pdu, HEADER_LEN, "response")?;
    let alloc_hint = r.u32("response.alloc_hint")?;
    let context_id = r.u16("response.p_cont_id")?;
    r.skip(2, "response.cancel_count")?;
    let mut end = pdu.len();
    if hdr.auth_length != 0 {
        let trailer = end
            .checked_sub(usize::from(hdr.auth_length) + SEC_TRAILER_LEN)
            .filter(|&t| t >= REQUEST_HEADER_LEN)
            .ok_or_else(|| {
                DecodeError::invalid(
                    "auth_length",
                    format!(
                        "{} bytes of authentication do not fit a {}-byte fragment",
                        hdr.auth_length,
                        pdu.len()
                    ),
                )
            })?;
        let mut t = Reader::at(pdu, trailer + 2, "sec_trailer")?;
        let pad = usize::from(t.u8("sec_trailer.auth_pad_length")?);
        end = trailer
            .checked_sub(pad)
            .filter(|&e| e >= REQUEST_HEADER_LEN)
            .ok_or_else(|| {
                DecodeError::invalid(
                    "sec_trailer.auth_pad_length",
                    format!("{pad} bytes of padding exceed the stub"),
                )
            })?;
    }
    Ok(ResponseFragment {
        call_id: hdr.call_id,
        context_id,
        alloc_hint,
        first: hdr.is_first(),
        last: hdr.is_last(),
        frag_length: pdu.len(),
        stub: REQUEST_HEADER_LEN..end,
    })
}

/// Reassembles the response to one call from the bytes read off the pipe.
///
/// Feed it whatever each read returned — several fragments at once, a
/// fragment split across reads, or a mix — and it yields the concatenated
/// stub once the fragment with `PFC_LAST_FRAG` is complete (C706 §12.6.1
/// `pfc_flags`, §12.6.4.10). It checks
/// that the first fragment has `PFC_FIRST_FRAG` and no later one does, that
/// every fragment carries the expected call id, and that the stub stays
/// under its cap. A `fault` PDU ends the call with [`RpcError::Fault`].
/// After any error the stream is unusable.
#[derive(Debug, Clone)]
pub struct Reassembler {
    call_id: u32,
    limit: usize,
    pending: Vec<u8>,
    stub: Vec<u8>,
    started: bool,
    done: bool,
}

impl Reassembler {
    /// A reassembler for the response to `call_id`, capped at
    /// [`DEFAULT_MAX_STUB`] bytes of stub.
    pub fn new(call_id: u32) -> Self {
        Reassembler::with_limit(call_id, DEFAULT_MAX_STUB)
    }

    /// A reassembler with a cap of `limit` stub bytes.
    pub fn with_limit(call_id: u32, limit: usize) -> Self {
        Reassembler {
            call_id,
            limit,
            pending: Vec::new(),
            stub: Vec::new(),
            started: false,
            done: false,
        }
    }

    /// Adds bytes read from the pipe. Returns the whole stub once the last
    /// fragment is complete, `None` while more bytes are needed. Bytes that
    /// follow the last fragment are kept and can be read with
    /// [`Reassembler::remainder`]; pushing more bytes after completion is an
    /// error (an empty push is a no-op).
    pub fn push(&mut self, data: &[u8]) -> Result<Option<Vec<u8>>, RpcError> {
        if self.done {
            if data.is_empty() {
                return Ok(None);
            }
            return Err(DecodeError::invalid(
                "response",
                "data pushed after the last fragment of the call",
            )
            .into());
        }
        self.pending.extend_from_slice(data);
        loop {
            let Some(len) = pdu_length(&self.pending)? else {
                return Ok(None);
            };
            if self.pending.len() < len {
                return Ok(None);
            }
            let frag = parse_response_fragment(&self.pending)?;
            if frag.call_id != self.call_id {
                return Err(DecodeError::invalid(
                    "response.call_id",
                    format!("got call {}, expected {}", frag.call_id, self.call_id),
                )
                .into());
            }
            if frag.first == self.started {
                return Err(DecodeError::invalid(
                    "pfc_flags",
                    if self.started {
                        "PFC_FIRST_FRAG on a continuation fragment"
                    } else {
                        "first fragment lacks PFC_FIRST_FRAG"
                    },
                )
                .into());
            }
            let stub = frag.stub(&self.pending);
            let total = self.stub.len() + stub.len();
            if total > self.limit {
                return Err(DecodeError::TooLarge {
                    what: "response stub",
                    length: total,
                    limit: self.limit,
                }
                .into());
            }
            self.stub.extend_from_slice(stub);
            self.pending.drain(..frag.frag_length);
            self.started = true;
            if frag.last {
                self.done = true;
                return Ok(Some(std::mem::take(&mut self.stub)));
            }
        }
    }

    /// True once the last fragment has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes received but not consumed: a partial fragment, or after
    /// completion whatever followed the last fragment.
    pub fn remainder(&self) -> &[u8] {
        &self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::srvsvc::SRVSVC_SYNTAX;

    /// The bind of C706 §12.6.4.3 for SRVSVC v3.0, call id 1, written out
    /// field by field.
    #[rustfmt::skip]
    const SRVSVC_BIND: [u8; 72] = [
        // Common header: vers 5.0, PTYPE bind (11), FIRST|LAST, drep.
        0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00,
        // frag_length 72, auth_length 0, call_id 1.
        0x48, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        // max_xmit_frag 4280, max_recv_frag 4280, assoc_group_id 0.
        0xb8, 0x10, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x00,
        // p_cont_list_t: n_context_elem 1, reserved, reserved2.
        0x01, 0x00, 0x00, 0x00,
        // p_cont_elem_t: p_cont_id 0, n_transfer_syn 1, reserved.
        0x00, 0x00, 0x01, 0x00,
        // abstract syntax 4b324fc8-1670-01d3-1278-5a47bf6ee188, version 3.0.
        0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
        0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88,
        0x03, 0x00, 0x00, 0x00,
        // transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860, version 2.0.
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x02, 0x00, 0x00, 0x00,
    ];

    /// A bind_ack as Samba sends it on `\PIPE\srvsvc`, with the result for
    /// context 0 given by `result` / `reason`.
    fn bind_ack_bytes(result: u16, reason: u16) -> Vec<u8> {
        let mut b = vec![
            0x05, 0x00, 0x0c, 0x03, 0x10, 0x00, 0x00, 0x00, // header
            0x44, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // 68 bytes, call 1
            0xb8, 0x10, 0xb8, 0x10, // max_xmit_frag, max_recv_frag
            0xf0, 0x53, 0x00, 0x00, // assoc_group_id 0x53f0
            0x0d, 0x00, // sec_addr.length 13
        ];
        b.extend_from_slice(b"\\PIPE\\srvsvc\0"); // 26 + 13 = 39
        b.push(0); // pad to 40
        b.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // n_results 1
        b.extend_from_slice(&result.to_le_bytes());
        b.extend_from_slice(&reason.to_le_bytes());
        if result == 0 {
            b.extend_from_slice(&SRVSVC_BIND[52..72]); // NDR 2.0
        } else {
            b.extend_from_slice(&[0; 20]);
        }
        assert_eq!(b.len(), 68);
        b
    }

    fn response_fragment(call_id: u32, flags: u8, alloc_hint: u32, stub: &[u8]) -> Vec<u8> {
        let mut w = begin(PacketType::RESPONSE, flags, call_id);
        w.u32(alloc_hint).u16(0).u8(0).u8(0).bytes(stub);
        finish(w)
    }

    fn fault_pdu(call_id: u32, status: u32, flags: u8) -> Vec<u8> {
        let mut w = begin(PacketType::FAULT, flags, call_id);
        w.u32(32).u16(0).u8(0).u8(0).u32(status).u32(0);
        finish(w)
    }

    #[test]
    fn uuid_text_and_wire_forms() {
        assert_eq!(
            SRVSVC_SYNTAX.uuid.to_string(),
            "4b324fc8-1670-01d3-1278-5a47bf6ee188"
        );
        assert_eq!(
            NDR20.uuid.to_string(),
            "8a885d04-1ceb-11c9-9fe8-08002b104860"
        );
        let le = SRVSVC_SYNTAX.uuid.to_bytes_le();
        assert_eq!(le, SRVSVC_BIND[32..48]);
        assert_eq!(Uuid::from_bytes_le(le), SRVSVC_SYNTAX.uuid);
    }

    #[test]
    fn bind_matches_hand_layout() {
        assert_eq!(bind(1, SRVSVC_SYNTAX), SRVSVC_BIND);
        let hdr = PduHeader::decode(&SRVSVC_BIND).unwrap();
        assert_eq!(hdr.ptype, PacketType::BIND);
        assert!(hdr.is_first() && hdr.is_last());
        assert_eq!(pdu_length(&SRVSVC_BIND).unwrap(), Some(72));
        assert_eq!(pdu_length(&SRVSVC_BIND[..15]).unwrap(), None);
    }

    #[test]
    fn bind_ack_accept() {
        let ack = BindAck::decode(&bind_ack_bytes(0, 0)).unwrap();
        assert_eq!(ack.call_id, 1);
        assert_eq!(ack.max_xmit_frag, 4280);
        assert_eq!(ack.max_recv_frag, 4280);
        assert_eq!(ack.assoc_group_id, 0x53f0);
        assert_eq!(ack.secondary_address, "\\PIPE\\srvsvc");
        assert_eq!(ack.results.len(), 1);
        assert_eq!(ack.results[0].result, ContextResult::ACCEPTANCE);
        assert_eq!(ack.results[0].transfer_syntax, NDR20);
    }

    #[test]
    fn bind_ack_reject_carries_reason() {
        let err = BindAck::decode(&bind_ack_bytes(2, 1)).unwrap_err();
        assert_eq!(
            err,
            RpcError::ContextRejected {
                result: ContextResult::PROVIDER_REJECTION,
                reason: ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED,
            }
        );
        assert!(err.to_string().contains("ABSTRACT_SYNTAX_NOT_SUPPORTED"));
    }

    #[test]
    fn bind_ack_with_other_transfer_syntax_is_rejected() {
        let mut b = bind_ack_bytes(0, 0);
        b[48] ^= 0xff; // corrupt the accepted transfer syntax UUID
        assert!(matches!(
            BindAck::decode(&b),
            Err(RpcError::Decode(DecodeError::Invalid { .. }))
        ));
    }

    #[test]
    fn bind_nak_and_fault_answers() {
        let nak = [
            0x05, 0x00, 0x0d, 0x03, 0x10, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
        ];
        assert_eq!(
            BindAck::decode(&nak).unwrap_err(),
            RpcError::BindNak {
                call_id: 1,
                reason: RejectReason::PROTOCOL_VERSION_NOT_SUPPORTED,
            }
        );
        let f = fault_pdu(1, 0x1c01_0003, 0x03);
        assert!(matches!(
            BindAck::decode(&f),
            Err(RpcError::Fault {
                status: NcaStatus::NCA_UNK_IF,
                ..
            })
        ));
    }

    #[test]
    fn bind_ack_truncations_and_trailing_bytes_fail() {
        let b = bind_ack_bytes(0, 0);
        for n in 0..b.len() {
            assert!(BindAck::decode(&b[..n]).is_err(), "prefix {n}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(BindAck::decode(&long).is_err());
        // frag_length shorter than the body it claims to hold.
        let mut short = b.clone();
        short[8] = 40;
        assert!(BindAck::decode(&short[..40]).is_err());
        // n_results 0.
        let mut none = b;
        none[40] = 0;
        none.truncate(44);
        none[8] = 44;
        assert!(BindAck::decode(&none).is_err());
    }

    #[test]
    fn header_validation() {
        let mut b = SRVSVC_BIND;
        b[0] = 4;
        assert!(PduHeader::decode(&b).is_err());
        let mut b = SRVSVC_BIND;
        b[1] = 2;
        assert!(PduHeader::decode(&b).is_err());
        let mut b = SRVSVC_BIND;
        b[4] = 0x00; // big-endian
        assert!(PduHeader::decode(&b).is_err());
        let mut b = SRVSVC_BIND;
        b[8] = 15;
        assert!(PduHeader::decode(&b).is_err());
        assert!(pdu_length(&b).is_err());
    }

    #[test]
    fn request_layout() {
        let pdu = request(7, 0, 15, &[0xaa, 0xbb, 0xcc]);
        assert_eq!(
            pdu,
            [
                0x05, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00, 0x00, // header
                0x1b, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, // 27 bytes, call 7
                0x03, 0x00, 0x00, 0x00, // alloc_hint
                0x00, 0x00, 0x0f, 0x00, // p_cont_id 0, opnum 15
                0xaa, 0xbb, 0xcc,
            ]
        );
        let empty = request(1, 0, 0, &[]);
        assert_eq!(empty.len(), 24);
        assert_eq!(empty[3], pfc::FIRST_FRAG | pfc::LAST_FRAG);
    }

    #[test]
    fn request_fragments_split_on_eight_byte_boundaries() {
        let stub: Vec<u8> = (0..100u8).collect();
        let frags = request_fragments(3, 0, 15, &stub, 60); // room 36 -> 32
        assert_eq!(frags.len(), 4);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let hdr = PduHeader::decode(f).unwrap();
            assert_eq!(usize::from(hdr.frag_length), f.len());
            assert!(f.len() <= 60);
            assert_eq!(hdr.is_first(), i == 0);
            assert_eq!(hdr.is_last(), i == frags.len() - 1);
            let hint = u32::from_le_bytes(f[16..20].try_into().unwrap());
            assert_eq!(hint as usize, 100 - joined.len());
            joined.extend_from_slice(&f[24..]);
        }
        assert_eq!(joined, stub);
        let single = request(3, 0, 15, &stub);
        assert_eq!(single.len(), 124);
        assert_eq!(single[3], pfc::FIRST_FRAG | pfc::LAST_FRAG);
        assert_eq!(single[24..], stub[..]);
        // Absurdly small max_frag still makes progress.
        assert_eq!(request_fragments(1, 0, 0, &stub, 0).len(), 13);
    }

    #[test]
    fn response_fragment_parse() {
        let mut buf = response_fragment(9, 0x03, 4, &[1, 2, 3, 4]);
        buf.extend_from_slice(&[0xee; 5]); // next fragment's bytes
        let f = parse_response_fragment(&buf).unwrap();
        assert_eq!(f.call_id, 9);
        assert!(f.first && f.last);
        assert_eq!(f.frag_length, 28);
        assert_eq!(f.alloc_hint, 4);
        assert_eq!(f.stub(&buf), [1, 2, 3, 4]);
    }

    #[test]
    fn response_with_auth_trailer_excludes_it() {
        // stub (6) + pad (2) + sec_trailer (8) + auth value (16).
        let mut w = begin(PacketType::RESPONSE, 0x03, 2);
        w.u32(6).u16(0).u8(0).u8(0);
        w.bytes(&[1, 2, 3, 4, 5, 6]).zeros(2);
        w.u8(10).u8(6).u8(2).u8(0).u32(0); // sec_trailer, auth_pad_length 2
        w.zeros(16);
        let mut pdu = finish(w);
        pdu[10] = 16; // auth_length
        let f = parse_response_fragment(&pdu).unwrap();
        assert_eq!(f.stub(&pdu), [1, 2, 3, 4, 5, 6]);
        // auth_length larger than the fragment.
        pdu[10] = 200;
        assert!(parse_response_fragment(&pdu).is_err());
        // auth_pad_length reaching into the header.
        pdu[10] = 16;
        pdu[24 + 8 + 2] = 100;
        assert!(parse_response_fragment(&pdu).is_err());
    }

    #[test]
    fn fault_pdu_is_a_typed_error() {
        let f = fault_pdu(5, 0x1c01_0002, 0x03 | pfc::DID_NOT_EXECUTE);
        let err = parse_response_fragment(&f).unwrap_err();
        assert_eq!(
            err,
            RpcError::Fault {
                call_id: 5,
                status: NcaStatus::NCA_OP_RNG_ERROR,
                did_not_execute: true,
            }
        );
        assert!(err.to_string().contains("NCA_OP_RNG_ERROR"));
        let access = fault_pdu(5, 5, 0x03);
        assert!(matches!(
            parse_response_fragment(&access),
            Err(RpcError::Fault {
                status: NcaStatus::ACCESS_DENIED,
                did_not_execute: false,
                ..
            })
        ));
        // A fault ends reassembly, even mid-call.
        let mut re = Reassembler::new(5);
        assert_eq!(re.push(&response_fragment(5, 0x01, 8, &[0; 4])), Ok(None));
        assert!(matches!(re.push(&f), Err(RpcError::Fault { .. })));
        // A fault too short to carry a status is a decode error.
        let mut short = f.clone();
        short.truncate(26);
        short[8] = 26;
        assert!(matches!(
            parse_response_fragment(&short),
            Err(RpcError::Decode(_))
        ));
    }

    #[test]
    fn unexpected_pdu_type_is_rejected() {
        assert!(parse_response_fragment(&SRVSVC_BIND).is_err());
        assert!(BindAck::decode(&SRVSVC_BIND).is_err());
    }

    fn three_fragments() -> (Vec<u8>, Vec<u8>) {
        let stub: Vec<u8> = (0..50u8).collect();
        let mut stream = response_fragment(4, pfc::FIRST_FRAG, 50, &stub[..16]);
        stream.extend(response_fragment(4, 0, 34, &stub[16..40]));
        stream.extend(response_fragment(4, pfc::LAST_FRAG, 10, &stub[40..]));
        (stream, stub)
    }

    #[test]
    fn reassembly_at_every_split() {
        let (stream, stub) = three_fragments();
        for i in 0..=stream.len() {
            let mut re = Reassembler::new(4);
            let first = re.push(&stream[..i]).unwrap();
            if i == stream.len() {
                assert_eq!(first.as_deref(), Some(&stub[..]));
                continue;
            }
            assert_eq!(first, None, "split at {i}");
            assert_eq!(re.push(&stream[i..]).unwrap().as_deref(), Some(&stub[..]));
            assert!(re.is_done());
            assert!(re.remainder().is_empty());
        }
        // Every pair of split points (three reads).
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let mut re = Reassembler::new(4);
                let mut got = None;
                for part in [&stream[..i], &stream[i..j], &stream[j..]] {
                    if let Some(s) = re.push(part).unwrap() {
                        got = Some(s);
                    }
                }
                assert_eq!(got.as_deref(), Some(&stub[..]), "splits {i}, {j}");
            }
        }
        // One byte at a time.
        let mut re = Reassembler::new(4);
        let mut got = None;
        for b in &stream {
            assert!(got.is_none());
            got = re.push(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(got.as_deref(), Some(&stub[..]));
    }

    #[test]
    fn reassembly_keeps_trailing_bytes_and_refuses_more() {
        let (mut stream, stub) = three_fragments();
        stream.extend_from_slice(&[1, 2, 3]);
        let mut re = Reassembler::new(4);
        assert_eq!(re.push(&stream).unwrap().as_deref(), Some(&stub[..]));
        assert_eq!(re.remainder(), [1, 2, 3]);
        assert!(re.push(&[0]).is_err());
    }

    #[test]
    fn reassembly_checks_flags_call_id_and_cap() {
        let (stream, _) = three_fragments();
        // Wrong call id.
        assert!(Reassembler::new(5).push(&stream).is_err());
        // Missing FIRST_FRAG on the first fragment.
        let no_first = response_fragment(4, pfc::LAST_FRAG, 1, &[0]);
        assert!(Reassembler::new(4).push(&no_first).is_err());
        // FIRST_FRAG again on a continuation.
        let mut twice = response_fragment(4, pfc::FIRST_FRAG, 1, &[0]);
        twice.extend(response_fragment(4, pfc::FIRST_FRAG, 1, &[0]));
        assert!(Reassembler::new(4).push(&twice).is_err());
        // Stub cap.
        let mut re = Reassembler::with_limit(4, 40);
        assert!(matches!(
            re.push(&stream),
            Err(RpcError::Decode(DecodeError::TooLarge { .. }))
        ));
        let mut re = Reassembler::with_limit(4, 50);
        assert!(re.push(&stream).unwrap().is_some());
        // A non-response PDU in the stream.
        assert!(Reassembler::new(1).push(&SRVSVC_BIND).is_err());
    }

    #[test]
    fn truncated_response_fragments_fail() {
        let pdu = response_fragment(1, 0x03, 4, &[1, 2, 3, 4]);
        for n in 0..pdu.len() {
            assert!(parse_response_fragment(&pdu[..n]).is_err(), "prefix {n}");
        }
        // frag_length below the 24-byte response header.
        let mut short = pdu.clone();
        short[8] = 20;
        assert!(parse_response_fragment(&short).is_err());
    }

    /// Deterministic xorshift so that the mutation test needs no RNG crate.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn mutated_pdus_never_panic() {
        let (stream, _) = three_fragments();
        let seeds = [bind_ack_bytes(0, 0), fault_pdu(1, 5, 3), stream];
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        for seed in &seeds {
            for _ in 0..3000 {
                let mut b = seed.clone();
                for _ in 0..(xorshift(&mut st) % 4 + 1) {
                    let i = (xorshift(&mut st) as usize) % b.len();
                    b[i] = xorshift(&mut st) as u8;
                }
                let cut = (xorshift(&mut st) as usize) % (b.len() + 1);
                let _ = BindAck::decode(&b[..cut]);
                let _ = parse_response_fragment(&b[..cut]);
                let mut re = Reassembler::new(4);
                let _ = re.push(&b[..cut]).and_then(|_| re.push(&b[cut..]));
            }
        }
    }
}
