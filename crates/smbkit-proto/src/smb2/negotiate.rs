//! SMB2 NEGOTIATE request and response (MS-SMB2 §2.2.3, §2.2.4) and the
//! SMB 3.1.1 negotiate contexts (MS-SMB2 §2.2.3.1).

use super::{body, buffer, structure_size, wire_u16, wire_u32, HEADER_LEN};
use crate::codec::{
    checked_range, count_u16, from_utf16le, DecodeError, EncodeError, Reader, Writer,
};
use crate::types::{Command, Dialect};

/// SecurityMode bits of NEGOTIATE (MS-SMB2 §2.2.3, §2.2.4).
pub mod security_mode {
    /// SMB2_NEGOTIATE_SIGNING_ENABLED: "When set, indicates that security
    /// signatures are enabled".
    pub const SIGNING_ENABLED: u16 = 0x0001;
    /// SMB2_NEGOTIATE_SIGNING_REQUIRED: "When set, indicates that security
    /// signatures are required".
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// Global Capabilities bits of NEGOTIATE (MS-SMB2 §2.2.3, §2.2.4).
pub mod capabilities {
    /// SMB2_GLOBAL_CAP_DFS: Distributed File System support.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_GLOBAL_CAP_LEASING: leasing support.
    pub const LEASING: u32 = 0x0000_0002;
    /// SMB2_GLOBAL_CAP_LARGE_MTU: multi-credit operations.
    pub const LARGE_MTU: u32 = 0x0000_0004;
    /// SMB2_GLOBAL_CAP_MULTI_CHANNEL: multiple channels per session.
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    /// SMB2_GLOBAL_CAP_PERSISTENT_HANDLES: persistent handles.
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    /// SMB2_GLOBAL_CAP_DIRECTORY_LEASING: directory leasing.
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// SMB2_GLOBAL_CAP_ENCRYPTION: encryption (SMB 3.0/3.0.2; 3.1.1 uses the
    /// encryption negotiate context instead).
    pub const ENCRYPTION: u32 = 0x0000_0040;
    /// SMB2_GLOBAL_CAP_NOTIFICATIONS: one-way server notifications (3.1.1).
    pub const NOTIFICATIONS: u32 = 0x0000_0080;
}

/// ContextType values of SMB2_NEGOTIATE_CONTEXT (MS-SMB2 §2.2.3.1).
pub mod context_type {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES (§2.2.3.1.1).
    pub const PREAUTH_INTEGRITY_CAPABILITIES: u16 = 0x0001;
    /// SMB2_ENCRYPTION_CAPABILITIES (§2.2.3.1.2).
    pub const ENCRYPTION_CAPABILITIES: u16 = 0x0002;
    /// SMB2_COMPRESSION_CAPABILITIES (§2.2.3.1.3), kept as raw data.
    pub const COMPRESSION_CAPABILITIES: u16 = 0x0003;
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID (§2.2.3.1.4).
    pub const NETNAME_NEGOTIATE_CONTEXT_ID: u16 = 0x0005;
    /// SMB2_TRANSPORT_CAPABILITIES (§2.2.3.1.5), kept as raw data.
    pub const TRANSPORT_CAPABILITIES: u16 = 0x0006;
    /// SMB2_RDMA_TRANSFORM_CAPABILITIES (§2.2.3.1.6), kept as raw data.
    pub const RDMA_TRANSFORM_CAPABILITIES: u16 = 0x0007;
    /// SMB2_SIGNING_CAPABILITIES (§2.2.3.1.7).
    pub const SIGNING_CAPABILITIES: u16 = 0x0008;
}

/// Preauthentication integrity hash algorithm IDs (MS-SMB2 §2.2.3.1.1).
pub mod hash_algorithm {
    /// "SHA-512 as specified in [FIPS180-4]".
    pub const SHA512: u16 = 0x0001;
}

/// Cipher IDs of SMB2_ENCRYPTION_CAPABILITIES (MS-SMB2 §2.2.3.1.2).
pub mod cipher {
    /// AES-128-CCM.
    pub const AES128_CCM: u16 = 0x0001;
    /// AES-128-GCM.
    pub const AES128_GCM: u16 = 0x0002;
    /// AES-256-CCM.
    pub const AES256_CCM: u16 = 0x0003;
    /// AES-256-GCM.
    pub const AES256_GCM: u16 = 0x0004;
}

/// Signing algorithm IDs of SMB2_SIGNING_CAPABILITIES (MS-SMB2 §2.2.3.1.7).
pub mod signing_algorithm {
    /// HMAC-SHA256.
    pub const HMAC_SHA256: u16 = 0x0000;
    /// AES-CMAC.
    pub const AES_CMAC: u16 = 0x0001;
    /// AES-GMAC.
    pub const AES_GMAC: u16 = 0x0002;
}

/// The most negotiate contexts a decoder accepts in one message. Real peers
/// send at most a handful; the cap keeps a hostile NegotiateContextCount
/// from driving work.
pub const MAX_NEGOTIATE_CONTEXTS: usize = 64;

/// Size of the fixed part of the NEGOTIATE request body (MS-SMB2 §2.2.3:
/// StructureSize through Reserved2/ClientStartTime).
const REQUEST_FIXED_LEN: usize = 36;

/// Size of the fixed part of the NEGOTIATE response body (MS-SMB2 §2.2.4:
/// StructureSize through NegotiateContextOffset; StructureSize says 65 because
/// it counts the first byte of Buffer).
const RESPONSE_FIXED_LEN: usize = 64;

/// One SMB2_NEGOTIATE_CONTEXT (MS-SMB2 §2.2.3.1): ContextType (2 bytes),
/// DataLength (2), Reserved (4), Data. Types this crate does not interpret
/// are kept as [`NegotiateContext::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateContext {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES (§2.2.3.1.1): HashAlgorithmCount,
    /// SaltLength, HashAlgorithms, Salt. "HashAlgorithmCount ... This value
    /// MUST be greater than zero."
    PreauthIntegrity {
        /// HashAlgorithms (see [`hash_algorithm`]).
        hash_algorithms: Vec<u16>,
        /// Salt.
        salt: Vec<u8>,
    },
    /// SMB2_ENCRYPTION_CAPABILITIES (§2.2.3.1.2): CipherCount, Ciphers.
    /// "CipherCount ... This value MUST be greater than zero." In a response
    /// the server names exactly one cipher, 0 meaning no common cipher.
    Encryption {
        /// Ciphers (see [`cipher`]), most preferred first.
        ciphers: Vec<u16>,
    },
    /// SMB2_SIGNING_CAPABILITIES (§2.2.3.1.7): SigningAlgorithmCount,
    /// SigningAlgorithms. "SigningAlgorithmCount ... This value MUST be
    /// greater than zero."
    Signing {
        /// SigningAlgorithms (see [`signing_algorithm`]), most preferred first.
        algorithms: Vec<u16>,
    },
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID (§2.2.3.1.4): "NetName (variable): A
    /// Unicode string containing the server name", sent UTF-16LE without a
    /// terminator (a trailing NUL is dropped on decode).
    NetnameNegotiateContextId {
        /// The server name the client connects to.
        netname: String,
    },
    /// Any other context type, data kept verbatim.
    Other {
        /// ContextType.
        context_type: u16,
        /// Data.
        data: Vec<u8>,
    },
}

impl NegotiateContext {
    /// The ContextType this context is sent with (see [`context_type`]).
    pub fn context_type(&self) -> u16 {
        match self {
            NegotiateContext::PreauthIntegrity { .. } => {
                context_type::PREAUTH_INTEGRITY_CAPABILITIES
            }
            NegotiateContext::Encryption { .. } => context_type::ENCRYPTION_CAPABILITIES,
            NegotiateContext::Signing { .. } => context_type::SIGNING_CAPABILITIES,
            NegotiateContext::NetnameNegotiateContextId { .. } => {
                context_type::NETNAME_NEGOTIATE_CONTEXT_ID
            }
            NegotiateContext::Other { context_type, .. } => *context_type,
        }
    }

    /// Appends the context's Data field.
    fn encode_data(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            NegotiateContext::PreauthIntegrity {
                hash_algorithms,
                salt,
            } => {
                w.u16(count_u16(
                    hash_algorithms.len(),
                    "SMB2_PREAUTH_INTEGRITY_CAPABILITIES HashAlgorithmCount",
                    "algorithms",
                )?);
                w.u16(wire_u16(
                    salt.len(),
                    "SMB2_PREAUTH_INTEGRITY_CAPABILITIES SaltLength",
                )?);
                for a in hash_algorithms {
                    w.u16(*a);
                }
                w.bytes(salt);
            }
            NegotiateContext::Encryption { ciphers: list }
            | NegotiateContext::Signing { algorithms: list } => {
                w.u16(count_u16(
                    list.len(),
                    "SMB2 negotiate context CipherCount/SigningAlgorithmCount",
                    "algorithms",
                )?);
                for a in list {
                    w.u16(*a);
                }
            }
            NegotiateContext::NetnameNegotiateContextId { netname } => {
                w.utf16(netname);
            }
            NegotiateContext::Other { data, .. } => {
                w.bytes(data);
            }
        }
        Ok(())
    }

    /// Decodes the Data field of a context of type `ty`. Counts and lengths
    /// inside are checked against `data`; bytes after the last field that the
    /// counts describe are ignored.
    fn decode(ty: u16, data: &[u8]) -> Result<NegotiateContext, DecodeError> {
        let mut r = Reader::new(data);
        match ty {
            context_type::PREAUTH_INTEGRITY_CAPABILITIES => {
                let what = "SMB2_PREAUTH_INTEGRITY_CAPABILITIES";
                let count = r.u16(what)?;
                if count == 0 {
                    return Err(DecodeError::invalid(
                        what,
                        "HashAlgorithmCount is 0 (\"This value MUST be greater than zero\")",
                    ));
                }
                let salt_len = r.u16(what)?;
                let hash_algorithms = u16_list(&mut r, count, what)?;
                let salt = r.take(usize::from(salt_len), what)?.to_vec();
                Ok(NegotiateContext::PreauthIntegrity {
                    hash_algorithms,
                    salt,
                })
            }
            context_type::ENCRYPTION_CAPABILITIES => {
                let ciphers = counted_u16_list(&mut r, "SMB2_ENCRYPTION_CAPABILITIES")?;
                Ok(NegotiateContext::Encryption { ciphers })
            }
            context_type::SIGNING_CAPABILITIES => {
                let algorithms = counted_u16_list(&mut r, "SMB2_SIGNING_CAPABILITIES")?;
                Ok(NegotiateContext::Signing { algorithms })
            }
            context_type::NETNAME_NEGOTIATE_CONTEXT_ID => {
                let mut netname = from_utf16le(data, "SMB2_NETNAME_NEGOTIATE_CONTEXT_ID")?;
                while netname.ends_with('\0') {
                    netname.pop();
                }
                Ok(NegotiateContext::NetnameNegotiateContextId { netname })
            }
            _ => Ok(NegotiateContext::Other {
                context_type: ty,
                data: data.to_vec(),
            }),
        }
    }
}

/// Reads `count` little-endian u16 values (the bytes must be present, so
/// the allocation is bounded by the input).
fn u16_list(r: &mut Reader<'_>, count: u16, what: &'static str) -> Result<Vec<u16>, DecodeError> {
    let bytes = r.take(usize::from(count) * 2, what)?;
    Ok(bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect())
}

/// Reads a u16 count that "MUST be greater than zero" and that many u16s.
fn counted_u16_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u16>, DecodeError> {
    let count = r.u16(what)?;
    if count == 0 {
        return Err(DecodeError::invalid(
            what,
            "count is 0 (\"This value MUST be greater than zero\")",
        ));
    }
    u16_list(r, count, what)
}

/// Appends a NegotiateContextList at the next 8-byte boundary (relative to
/// the SMB2 header at position 0 of `w`) and returns its offset. Per
/// MS-SMB2 §2.2.3/§2.2.4 (NegotiateContextList) each subsequent context
/// starts at the first 8-byte-aligned offset after the previous one; no
/// padding follows the last one.
fn encode_context_list(
    w: &mut Writer,
    contexts: &[NegotiateContext],
) -> Result<usize, EncodeError> {
    w.align(8);
    let offset = w.len();
    for (i, c) in contexts.iter().enumerate() {
        if i > 0 {
            w.align(8);
        }
        w.u16(c.context_type());
        let len_pos = w.len();
        w.u16(0).u32(0);
        let start = w.len();
        c.encode_data(w)?;
        let len = wire_u16(w.len() - start, "SMB2 negotiate context DataLength")?;
        w.patch_u16(len_pos, len);
    }
    Ok(offset)
}

/// Decodes `count` negotiate contexts starting at `offset` (from the SMB2
/// header) of `msg`; each one after the first starts at the next 8-byte
/// boundary after its predecessor. Every context header and DataLength is
/// checked against the message.
fn decode_context_list(
    msg: &[u8],
    offset: u32,
    count: u16,
    min_offset: usize,
) -> Result<Vec<NegotiateContext>, DecodeError> {
    let what = "NegotiateContextList";
    let count = usize::from(count);
    if count > MAX_NEGOTIATE_CONTEXTS {
        return Err(DecodeError::TooLarge {
            what: "NegotiateContextCount",
            length: count,
            limit: MAX_NEGOTIATE_CONTEXTS,
        });
    }
    let mut pos = usize::try_from(offset).map_err(|_| DecodeError::OutOfBounds {
        what,
        offset: usize::MAX,
        length: 8,
        bound: msg.len(),
    })?;
    if pos < min_offset {
        return Err(DecodeError::OutOfBounds {
            what: "NegotiateContextOffset",
            offset: pos,
            length: 8,
            bound: msg.len(),
        });
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        if i > 0 {
            pos = pos
                .checked_add(7)
                .map(|p| p & !7)
                .ok_or(DecodeError::OutOfBounds {
                    what,
                    offset: pos,
                    length: 8,
                    bound: msg.len(),
                })?;
        }
        let head = checked_range("SMB2_NEGOTIATE_CONTEXT header", pos, 8, msg.len())?;
        let mut r = Reader::new(&msg[head.clone()]);
        let ty = r.u16("SMB2_NEGOTIATE_CONTEXT ContextType")?;
        let len = r.u16("SMB2_NEGOTIATE_CONTEXT DataLength")?;
        // Reserved: "This field MUST NOT be used and MUST be reserved."
        let data = checked_range(
            "SMB2_NEGOTIATE_CONTEXT Data",
            head.end,
            usize::from(len),
            msg.len(),
        )?;
        out.push(NegotiateContext::decode(ty, &msg[data.clone()])?);
        pos = data.end;
    }
    Ok(out)
}

/// SMB2 NEGOTIATE Request (MS-SMB2 §2.2.3).
///
/// Body: StructureSize (36), DialectCount, SecurityMode, Reserved,
/// Capabilities, ClientGuid, then NegotiateContextOffset (4) +
/// NegotiateContextCount (2) + Reserved2 (2) when Dialects contains 0x0311,
/// otherwise ClientStartTime (8, "The client MUST set this to 0"), then Dialects, Padding
/// and NegotiateContextList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// Dialects ("an array of one or more 16-bit integers specifying the
    /// supported dialect revision numbers").
    pub dialects: Vec<Dialect>,
    /// SecurityMode (see [`security_mode`]).
    pub security_mode: u16,
    /// Capabilities (see [`capabilities`]).
    pub capabilities: u32,
    /// ClientGuid.
    pub client_guid: [u8; 16],
    /// NegotiateContextList. Only sent (and only decoded) when `dialects`
    /// contains SMB 3.1.1: only then are the NegotiateContextOffset/Count
    /// fields present, the offset naming the first 8-byte-aligned context
    /// from the start of the SMB2 header; otherwise the same 8 bytes are
    /// ClientStartTime, sent as 0.
    pub contexts: Vec<NegotiateContext>,
}

impl NegotiateRequest {
    /// Appends the request body to `w`, which holds exactly the SMB2 header
    /// at position 0 (offsets are from the start of that header).
    ///
    /// # Errors
    ///
    /// If a count or length does not fit its wire field (more than 65535
    /// dialects or contexts, a context of more than 65535 bytes).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u16(36)
            .u16(count_u16(
                self.dialects.len(),
                "SMB2 NEGOTIATE DialectCount",
                "dialects",
            )?)
            .u16(self.security_mode)
            .u16(0)
            .u32(self.capabilities)
            .bytes(&self.client_guid);
        let ctx_field = w.len();
        w.u64(0);
        for d in &self.dialects {
            w.u16(d.0);
        }
        if self.dialects.contains(&Dialect::SMB3_1_1) && !self.contexts.is_empty() {
            let offset = encode_context_list(w, &self.contexts)?;
            w.patch_u32(
                ctx_field,
                wire_u32(offset, "SMB2 NEGOTIATE NegotiateContextOffset")?,
            );
            w.patch_u16(
                ctx_field + 4,
                count_u16(
                    self.contexts.len(),
                    "SMB2 NEGOTIATE NegotiateContextCount",
                    "contexts",
                )?,
            );
        }
        Ok(())
    }

    /// Decodes a NEGOTIATE request (`msg` starts at its SMB2 header).
    /// StructureSize "MUST" be 36; the Dialects array and every negotiate
    /// context must lie inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 NEGOTIATE request";
        let (_, mut r) = body(msg, Command::NEGOTIATE, what)?;
        structure_size(&mut r, 36, what)?;
        let dialect_count = r.u16(what)?;
        let security_mode = r.u16(what)?;
        r.skip(2, what)?;
        let capabilities = r.u32(what)?;
        let client_guid = r.array(what)?;
        let ctx_offset = r.u32(what)?;
        let ctx_count = r.u16(what)?;
        r.skip(2, what)?;
        let dialects: Vec<Dialect> = u16_list(&mut r, dialect_count, "SMB2 NEGOTIATE Dialects")?
            .into_iter()
            .map(Dialect)
            .collect();
        let contexts = if dialects.contains(&Dialect::SMB3_1_1) && ctx_count > 0 {
            decode_context_list(msg, ctx_offset, ctx_count, HEADER_LEN + REQUEST_FIXED_LEN)?
        } else {
            Vec::new()
        };
        Ok(NegotiateRequest {
            dialects,
            security_mode,
            capabilities,
            client_guid,
            contexts,
        })
    }
}

/// SMB2 NEGOTIATE Response (MS-SMB2 §2.2.4).
///
/// Body: StructureSize (65), SecurityMode, DialectRevision,
/// NegotiateContextCount/Reserved, ServerGuid, Capabilities, MaxTransactSize,
/// MaxReadSize, MaxWriteSize, SystemTime, ServerStartTime,
/// SecurityBufferOffset, SecurityBufferLength, NegotiateContextOffset/
/// Reserved2, Buffer, Padding, NegotiateContextList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// SecurityMode (see [`security_mode`]).
    pub security_mode: u16,
    /// DialectRevision: the selected dialect, or 0x02FF after a
    /// multi-protocol negotiate.
    pub dialect: Dialect,
    /// ServerGuid.
    pub server_guid: [u8; 16],
    /// Capabilities (see [`capabilities`]).
    pub capabilities: u32,
    /// MaxTransactSize.
    pub max_transact_size: u32,
    /// MaxReadSize.
    pub max_read_size: u32,
    /// MaxWriteSize.
    pub max_write_size: u32,
    /// SystemTime (FILETIME).
    pub system_time: u64,
    /// ServerStartTime (FILETIME).
    pub server_start_time: u64,
    /// The security buffer (GSS/SPNEGO token) named by SecurityBufferOffset
    /// ("from the beginning of the SMB2 header") and SecurityBufferLength.
    pub security_buffer: Vec<u8>,
    /// NegotiateContextList; only present when DialectRevision is 0x0311
    /// (otherwise NegotiateContextCount and NegotiateContextOffset are
    /// Reserved and ignored).
    pub contexts: Vec<NegotiateContext>,
}

impl NegotiateResponse {
    /// Appends the response body to `w`, which holds exactly the SMB2 header
    /// at position 0. Contexts are written only for dialect 0x0311.
    ///
    /// # Errors
    ///
    /// If the security buffer exceeds 65535 bytes or another count or length
    /// does not fit its wire field.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u16(65).u16(self.security_mode).u16(self.dialect.0);
        let count_pos = w.len();
        w.u16(0)
            .bytes(&self.server_guid)
            .u32(self.capabilities)
            .u32(self.max_transact_size)
            .u32(self.max_read_size)
            .u32(self.max_write_size)
            .u64(self.system_time)
            .u64(self.server_start_time);
        let sec_pos = w.len();
        w.u16(0).u16(wire_u16(
            self.security_buffer.len(),
            "SMB2 NEGOTIATE SecurityBufferLength",
        )?);
        let ctx_pos = w.len();
        w.u32(0);
        let sec_offset = wire_u16(w.len(), "SMB2 NEGOTIATE SecurityBufferOffset")?;
        w.patch_u16(sec_pos, sec_offset);
        w.bytes(&self.security_buffer);
        if self.dialect == Dialect::SMB3_1_1 && !self.contexts.is_empty() {
            let offset = encode_context_list(w, &self.contexts)?;
            w.patch_u16(
                count_pos,
                count_u16(
                    self.contexts.len(),
                    "SMB2 NEGOTIATE NegotiateContextCount",
                    "contexts",
                )?,
            );
            w.patch_u32(
                ctx_pos,
                wire_u32(offset, "SMB2 NEGOTIATE NegotiateContextOffset")?,
            );
        }
        Ok(())
    }

    /// Decodes a NEGOTIATE response (`msg` starts at its SMB2 header).
    ///
    /// StructureSize: "The server MUST set this field to 65". The security
    /// buffer must lie after the fixed part and inside the message. For
    /// dialect 0x0311, at most [`MAX_NEGOTIATE_CONTEXTS`] contexts are
    /// accepted, the list must start after the fixed part, and each context's
    /// header and DataLength must lie inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 NEGOTIATE response";
        let (_, mut r) = body(msg, Command::NEGOTIATE, what)?;
        structure_size(&mut r, 65, what)?;
        let security_mode = r.u16(what)?;
        let dialect = Dialect(r.u16(what)?);
        let ctx_count = r.u16(what)?;
        let server_guid = r.array(what)?;
        let capabilities = r.u32(what)?;
        let max_transact_size = r.u32(what)?;
        let max_read_size = r.u32(what)?;
        let max_write_size = r.u32(what)?;
        let system_time = r.u64(what)?;
        let server_start_time = r.u64(what)?;
        let sec_offset = r.u16(what)?;
        let sec_len = r.u16(what)?;
        let ctx_offset = r.u32(what)?;
        let fixed_end = HEADER_LEN + RESPONSE_FIXED_LEN;
        let security_buffer = buffer(
            msg,
            usize::from(sec_offset),
            usize::from(sec_len),
            fixed_end,
            "SMB2 NEGOTIATE SecurityBuffer",
        )?
        .to_vec();
        let contexts = if dialect == Dialect::SMB3_1_1 && ctx_count > 0 {
            decode_context_list(msg, ctx_offset, ctx_count, fixed_end)?
        } else {
            Vec::new()
        };
        Ok(NegotiateResponse {
            security_mode,
            dialect,
            server_guid,
            capabilities,
            max_transact_size,
            max_read_size,
            max_write_size,
            system_time,
            server_start_time,
            security_buffer,
            contexts,
        })
    }

    /// The first preauthentication integrity context, as (HashAlgorithms,
    /// Salt); a 3.1.1 server selects exactly one hash algorithm
    /// (MS-SMB2 §2.2.3.1.1, §3.2.5.2).
    pub fn preauth_integrity(&self) -> Option<(&[u16], &[u8])> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::PreauthIntegrity {
                hash_algorithms,
                salt,
            } => Some((hash_algorithms.as_slice(), salt.as_slice())),
            _ => None,
        })
    }

    /// The cipher the server selected: the first entry of the first
    /// encryption context (MS-SMB2 §2.2.3.1.2; a server with no common cipher
    /// answers 0, §3.3.5.4).
    pub fn cipher(&self) -> Option<u16> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::Encryption { ciphers } => ciphers.first().copied(),
            _ => None,
        })
    }

    /// The signing algorithm the server selected: the first entry of the
    /// first signing context (MS-SMB2 §2.2.3.1.7).
    pub fn signing_algorithm(&self) -> Option<u16> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::Signing { algorithms } => algorithms.first().copied(),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn salt() -> Vec<u8> {
        (0xA0..=0xBF).collect()
    }

    fn request_311() -> NegotiateRequest {
        NegotiateRequest {
            dialects: vec![
                Dialect::SMB2_0_2,
                Dialect::SMB2_1,
                Dialect::SMB3_0,
                Dialect::SMB3_0_2,
                Dialect::SMB3_1_1,
            ],
            security_mode: security_mode::SIGNING_ENABLED,
            capabilities: capabilities::DFS | capabilities::LARGE_MTU | capabilities::ENCRYPTION,
            client_guid: core::array::from_fn(|i| 0x10 + i as u8),
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![hash_algorithm::SHA512],
                    salt: salt(),
                },
                NegotiateContext::Encryption {
                    ciphers: vec![cipher::AES128_GCM, cipher::AES128_CCM],
                },
                NegotiateContext::Signing {
                    algorithms: vec![
                        signing_algorithm::AES_GMAC,
                        signing_algorithm::AES_CMAC,
                        signing_algorithm::HMAC_SHA256,
                    ],
                },
            ],
        }
    }

    #[test]
    fn request_311_matches_hand_computed_bytes() {
        let mut w = request_writer(Command::NEGOTIATE);
        request_311().encode(&mut w).unwrap();
        let msg = w.into_vec();
        let mut expected: Vec<u8> = Vec::new();
        expected.extend_from_slice(&[0x24, 0x00]); // 64: StructureSize 36
        expected.extend_from_slice(&[0x05, 0x00]); // 66: DialectCount
        expected.extend_from_slice(&[0x01, 0x00]); // 68: SecurityMode
        expected.extend_from_slice(&[0x00, 0x00]); // 70: Reserved
        expected.extend_from_slice(&[0x45, 0x00, 0x00, 0x00]); // 72: Capabilities
        expected.extend((0x10..=0x1F).collect::<Vec<u8>>()); // 76: ClientGuid
        expected.extend_from_slice(&[0x70, 0x00, 0x00, 0x00]); // 92: NegotiateContextOffset 112
        expected.extend_from_slice(&[0x03, 0x00, 0x00, 0x00]); // 96: Count 3, Reserved2
        expected.extend_from_slice(&[0x02, 0x02, 0x10, 0x02, 0x00, 0x03, 0x02, 0x03, 0x11, 0x03]); // 100: Dialects
        expected.extend_from_slice(&[0x00, 0x00]); // 110: Padding to 112
        expected.extend_from_slice(&[0x01, 0x00, 0x26, 0x00, 0, 0, 0, 0]); // 112: PREAUTH, DataLength 38
        expected.extend_from_slice(&[0x01, 0x00, 0x20, 0x00, 0x01, 0x00]); // 120: count 1, salt 32, SHA-512
        expected.extend(salt()); // 126..158: Salt
        expected.extend_from_slice(&[0x00, 0x00]); // 158: pad to 160
        expected.extend_from_slice(&[0x02, 0x00, 0x06, 0x00, 0, 0, 0, 0]); // 160: ENCRYPTION, DataLength 6
        expected.extend_from_slice(&[0x02, 0x00, 0x02, 0x00, 0x01, 0x00]); // 168: 2 ciphers: GCM, CCM
        expected.extend_from_slice(&[0x00, 0x00]); // 174: pad to 176
        expected.extend_from_slice(&[0x08, 0x00, 0x08, 0x00, 0, 0, 0, 0]); // 176: SIGNING, DataLength 8
        expected.extend_from_slice(&[0x03, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00]); // 184: GMAC, CMAC, HMAC
        assert_eq!(&msg[64..], &expected[..]);
        assert_eq!(msg.len(), 192);

        let decoded = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(decoded, request_311());
        assert_truncations_fail(&msg, NegotiateRequest::decode);
        mutate_never_panics(&msg, NegotiateRequest::decode);
    }

    #[test]
    fn request_without_311_sends_no_contexts() {
        let mut req = request_311();
        req.dialects = vec![Dialect::SMB2_1, Dialect::SMB3_0];
        let mut w = request_writer(Command::NEGOTIATE);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 36 + 4);
        assert_eq!(&msg[92..100], &[0; 8]); // ClientStartTime
        let decoded = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(decoded.dialects, req.dialects);
        assert!(decoded.contexts.is_empty());
    }

    #[test]
    fn request_round_trips_netname_and_unknown_contexts() {
        let mut req = request_311();
        req.contexts
            .push(NegotiateContext::NetnameNegotiateContextId {
                netname: "fileserver.example".into(),
            });
        req.contexts.push(NegotiateContext::Other {
            context_type: 0x0100,
            data: vec![1, 2, 3],
        });
        req.contexts.push(NegotiateContext::Other {
            context_type: context_type::COMPRESSION_CAPABILITIES,
            data: vec![],
        });
        let mut w = request_writer(Command::NEGOTIATE);
        req.encode(&mut w).unwrap();
        assert_eq!(NegotiateRequest::decode(w.as_slice()).unwrap(), req);
    }

    /// A NEGOTIATE response laid out as Samba sends it for 3.1.1: SPNEGO
    /// NegTokenInit at 128, then preauth, encryption and signing contexts.
    fn samba_response() -> Vec<u8> {
        let spnego: &[u8] = &[
            0x60, 0x1c, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, // GSS-API, SPNEGO OID
            0xa0, 0x12, 0x30, 0x10, 0xa0, 0x0e, 0x30, 0x0c, // NegTokenInit, mechTypes
            0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a, // NTLMSSP
        ];
        assert_eq!(spnego.len(), 30);
        let mut m: Vec<u8> = Vec::new();
        // SMB2 header: response, credit charge 1, credits 1, message id 0.
        m.extend_from_slice(&[0xFE, b'S', b'M', b'B', 0x40, 0x00, 0x01, 0x00]);
        m.extend_from_slice(&[0, 0, 0, 0]); // Status
        m.extend_from_slice(&[0x00, 0x00, 0x01, 0x00]); // Command, CreditResponse
        m.extend_from_slice(&[0x01, 0, 0, 0, 0, 0, 0, 0]); // Flags, NextCommand
        m.extend_from_slice(&[0; 8]); // MessageId
        m.extend_from_slice(&[0; 8]); // Reserved, TreeId
        m.extend_from_slice(&[0; 8]); // SessionId
        m.extend_from_slice(&[0; 16]); // Signature
        assert_eq!(m.len(), 64);
        m.extend_from_slice(&[0x41, 0x00, 0x01, 0x00]); // StructureSize 65, SIGNING_ENABLED
        m.extend_from_slice(&[0x11, 0x03, 0x03, 0x00]); // 3.1.1, 3 contexts
        m.extend((0xC0..=0xCF).collect::<Vec<u8>>()); // ServerGuid
        m.extend_from_slice(&[0x2F, 0, 0, 0]); // Capabilities
        m.extend_from_slice(&[0, 0, 0x80, 0]); // MaxTransactSize 8 MiB
        m.extend_from_slice(&[0, 0, 0x80, 0]); // MaxReadSize
        m.extend_from_slice(&[0, 0, 0x80, 0]); // MaxWriteSize
        m.extend_from_slice(&0x01DA_1234_5678_9ABCu64.to_le_bytes()); // SystemTime
        m.extend_from_slice(&[0; 8]); // ServerStartTime
        m.extend_from_slice(&[0x80, 0x00, 0x1E, 0x00]); // SecurityBuffer 128, 30
        m.extend_from_slice(&[0xA0, 0, 0, 0]); // NegotiateContextOffset 160
        assert_eq!(m.len(), 128);
        m.extend_from_slice(spnego);
        m.extend_from_slice(&[0, 0]); // 158: pad
        m.extend_from_slice(&[0x01, 0x00, 0x26, 0x00, 0, 0, 0, 0]); // 160: preauth
        m.extend_from_slice(&[0x01, 0x00, 0x20, 0x00, 0x01, 0x00]);
        m.extend((0x40..0x60).collect::<Vec<u8>>()); // salt
        m.extend_from_slice(&[0, 0]); // 206: pad
        m.extend_from_slice(&[0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0]); // 208: encryption
        m.extend_from_slice(&[0x01, 0x00, 0x02, 0x00]); // AES-128-GCM
        m.extend_from_slice(&[0, 0, 0, 0]); // 220: pad
        m.extend_from_slice(&[0x08, 0x00, 0x04, 0x00, 0, 0, 0, 0]); // 224: signing
        m.extend_from_slice(&[0x01, 0x00, 0x01, 0x00]); // AES-CMAC
        assert_eq!(m.len(), 236);
        m
    }

    #[test]
    fn decodes_samba_311_response() {
        let msg = samba_response();
        let r = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(r.dialect, Dialect::SMB3_1_1);
        assert_eq!(r.security_mode, security_mode::SIGNING_ENABLED);
        assert_eq!(r.server_guid[0], 0xC0);
        assert_eq!(r.capabilities, 0x2F);
        assert_eq!(r.max_read_size, 8 * 1024 * 1024);
        assert_eq!(r.system_time, 0x01DA_1234_5678_9ABC);
        assert_eq!(r.security_buffer.len(), 30);
        assert_eq!(&r.security_buffer[..2], &[0x60, 0x1c]);
        assert_eq!(r.contexts.len(), 3);
        let (hashes, salt) = r.preauth_integrity().unwrap();
        assert_eq!(hashes, &[hash_algorithm::SHA512]);
        assert_eq!(salt, &(0x40..0x60).collect::<Vec<u8>>()[..]);
        assert_eq!(r.cipher(), Some(cipher::AES128_GCM));
        assert_eq!(r.signing_algorithm(), Some(signing_algorithm::AES_CMAC));

        // Our encoder reproduces Samba's layout byte for byte.
        let mut w = Writer::new();
        crate::smb2::Header::decode(&msg).unwrap().encode(&mut w);
        r.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
    }

    #[test]
    fn response_round_trip_without_contexts() {
        let resp = NegotiateResponse {
            security_mode: security_mode::SIGNING_ENABLED | security_mode::SIGNING_REQUIRED,
            dialect: Dialect::SMB3_0_2,
            server_guid: [9; 16],
            capabilities: capabilities::LEASING,
            max_transact_size: 65536,
            max_read_size: 65536,
            max_write_size: 65536,
            system_time: 1,
            server_start_time: 2,
            security_buffer: vec![0x60, 0x00],
            contexts: vec![],
        };
        let mut w = response_writer(Command::NEGOTIATE, NtStatus::SUCCESS);
        resp.encode(&mut w).unwrap();
        assert_eq!(w.len(), 130);
        assert_eq!(NegotiateResponse::decode(w.as_slice()).unwrap(), resp);
        // Contexts are not sent for other dialects, even if present.
        let mut with_ctx = resp.clone();
        with_ctx.contexts = vec![NegotiateContext::Encryption { ciphers: vec![1] }];
        let mut w = response_writer(Command::NEGOTIATE, NtStatus::SUCCESS);
        with_ctx.encode(&mut w).unwrap();
        assert_eq!(NegotiateResponse::decode(w.as_slice()).unwrap(), resp);
        // An empty security buffer.
        let mut empty = resp;
        empty.security_buffer.clear();
        let mut w = response_writer(Command::NEGOTIATE, NtStatus::SUCCESS);
        empty.encode(&mut w).unwrap();
        assert_eq!(NegotiateResponse::decode(w.as_slice()).unwrap(), empty);
    }

    #[test]
    fn hostile_responses_fail_without_panicking() {
        let good = samba_response();
        assert_truncations_fail(&good, NegotiateResponse::decode);
        mutate_never_panics(&good, NegotiateResponse::decode);

        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            NegotiateResponse::decode(&m)
        };
        // StructureSize.
        assert!(with(64, &[64, 0]).is_err());
        // Wrong command in the header.
        assert!(with(12, &[1, 0]).is_err());
        // Security buffer past the end, overflowing, or inside the header.
        assert!(with(120, &[0xEC, 0x00]).is_err()); // offset 236, length 30
        assert!(with(120, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(120, &[0x00, 0x00]).is_err()); // offset 0
        assert!(with(120, &[0x7F, 0x00]).is_err()); // inside the fixed part
        assert!(with(122, &[0xFF, 0x00]).is_err()); // length 255
                                                    // Context list offset past the end, overflowing, or in the fixed part.
        assert!(with(124, &[0xEC, 0, 0, 0]).is_err());
        assert!(with(124, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(124, &[0xF9, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(124, &[0x40, 0, 0, 0]).is_err());
        // Too many contexts, more than present.
        assert!(matches!(
            with(70, &[65, 0]),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(with(70, &[0xFF, 0xFF]).is_err());
        assert!(with(70, &[4, 0]).is_err());
        // DataLength past the end.
        assert!(with(226, &[0x05, 0x00]).is_err());
        assert!(with(226, &[0xFF, 0xFF]).is_err());
        assert!(with(162, &[0xFF, 0xFF]).is_err());
        // Counts that are zero ("MUST be greater than zero") or too large.
        assert!(with(168, &[0, 0]).is_err());
        assert!(with(168, &[0x20, 0]).is_err());
        assert!(with(170, &[0x21, 0]).is_err()); // salt longer than the data
        assert!(with(216, &[0, 0]).is_err());
        assert!(with(232, &[3, 0]).is_err());
        // Fewer contexts than present is fine: the rest is ignored.
        assert_eq!(with(70, &[1, 0]).unwrap().contexts.len(), 1);
        // Non-3.1.1 dialect: count/offset are Reserved and ignored.
        let r = {
            let mut m = good.clone();
            m[68..72].copy_from_slice(&[0x02, 0x03, 0xFF, 0xFF]);
            m[124..128].copy_from_slice(&[0xFF; 4]);
            NegotiateResponse::decode(&m).unwrap()
        };
        assert_eq!(r.dialect, Dialect::SMB3_0_2);
        assert!(r.contexts.is_empty());
    }

    #[test]
    fn hostile_requests_fail_without_panicking() {
        let mut w = request_writer(Command::NEGOTIATE);
        request_311().encode(&mut w).unwrap();
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            NegotiateRequest::decode(&m)
        };
        assert!(with(66, &[0xFF, 0xFF]).is_err()); // DialectCount past the end
        assert!(with(92, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(92, &[0x40, 0, 0, 0]).is_err()); // into the header
        assert!(with(96, &[0xFF, 0x00]).is_err());
        assert!(with(114, &[0xFF, 0x00]).is_err()); // preauth DataLength
        assert!(with(120, &[0x00, 0x00]).is_err()); // HashAlgorithmCount 0
        assert!(with(168, &[0x00, 0x00]).is_err()); // CipherCount 0
    }

    #[test]
    fn count_and_length_limits() {
        use crate::codec::testutil::assert_too_large;
        let encode = |req: &NegotiateRequest| {
            let mut w = request_writer(Command::NEGOTIATE);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        let mut req = request_311();
        req.contexts.clear();
        req.dialects = vec![Dialect::SMB2_1; 65535];
        let msg = encode(&req).unwrap();
        assert_eq!(
            NegotiateRequest::decode(&msg).unwrap().dialects.len(),
            65535
        );
        req.dialects.push(Dialect::SMB2_1);
        assert_too_large(encode(&req), "SMB2 NEGOTIATE DialectCount", 65536, 65535);

        // NegotiateContextCount: 65535 contexts fit, one more does not.
        let mut req = request_311();
        let other = NegotiateContext::Other {
            context_type: 0x0100,
            data: Vec::new(),
        };
        req.contexts = vec![other.clone(); 65535];
        encode(&req).unwrap();
        req.contexts.push(other);
        assert_too_large(
            encode(&req),
            "SMB2 NEGOTIATE NegotiateContextCount",
            65536,
            65535,
        );

        // A context's DataLength, the salt and the algorithm counts are 16 bits.
        let one = |c: NegotiateContext| {
            let mut req = request_311();
            req.contexts = vec![c];
            encode(&req)
        };
        let data = |n: usize| NegotiateContext::Other {
            context_type: 0x0100,
            data: vec![0; n],
        };
        one(data(65535)).unwrap();
        assert_too_large(
            one(data(65536)),
            "SMB2 negotiate context DataLength",
            65536,
            65535,
        );
        let preauth = |algorithms: usize, salt: usize| NegotiateContext::PreauthIntegrity {
            hash_algorithms: vec![1; algorithms],
            salt: vec![0; salt],
        };
        assert_too_large(
            one(preauth(1, 65536)),
            "SMB2_PREAUTH_INTEGRITY_CAPABILITIES SaltLength",
            65536,
            65535,
        );
        assert_too_large(
            one(preauth(65536, 0)),
            "SMB2_PREAUTH_INTEGRITY_CAPABILITIES HashAlgorithmCount",
            65536,
            65535,
        );
        // 65535 algorithms are 131070 bytes: the DataLength fails instead.
        assert_too_large(
            one(preauth(65535, 0)),
            "SMB2 negotiate context DataLength",
            4 + 2 * 65535,
            65535,
        );
        assert_too_large(
            one(NegotiateContext::Encryption {
                ciphers: vec![1; 65536],
            }),
            "SMB2 negotiate context CipherCount/SigningAlgorithmCount",
            65536,
            65535,
        );
    }

    #[test]
    fn response_security_buffer_limit() {
        use crate::codec::testutil::assert_too_large;
        let mut resp = NegotiateResponse::decode(&samba_response()).unwrap();
        resp.contexts.clear();
        resp.dialect = Dialect::SMB3_0_2;
        resp.security_buffer = vec![7; 65535];
        let mut w = response_writer(Command::NEGOTIATE, NtStatus::SUCCESS);
        resp.encode(&mut w).unwrap();
        let back = NegotiateResponse::decode(w.as_slice()).unwrap();
        assert_eq!(back.security_buffer.len(), 65535);
        resp.security_buffer.push(7);
        let mut w = response_writer(Command::NEGOTIATE, NtStatus::SUCCESS);
        assert_too_large(
            resp.encode(&mut w),
            "SMB2 NEGOTIATE SecurityBufferLength",
            65536,
            65535,
        );
    }
}
