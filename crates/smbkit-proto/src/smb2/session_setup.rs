//! SMB2 SESSION_SETUP request and response (MS-SMB2 §2.2.5, §2.2.6).

use super::{body, buffer, structure_size, wire_u16, HEADER_LEN};
use crate::codec::{DecodeError, EncodeError, Writer};
use crate::types::Command;

/// Flags of the SESSION_SETUP request (MS-SMB2 §2.2.5, "Flags"): "If the client
/// implements the SMB 3.x dialect family, this field MUST be set to
/// combination of zero or more of the following values. Otherwise, it MUST be
/// set to 0."
pub mod request_flags {
    /// SMB2_SESSION_FLAG_BINDING: bind an existing session to a new connection.
    pub const BINDING: u8 = 0x01;
}

/// SecurityMode of the SESSION_SETUP request (MS-SMB2 §2.2.5), one byte wide
/// here, same bits as the NEGOTIATE SecurityMode.
pub mod security_mode {
    /// SMB2_NEGOTIATE_SIGNING_ENABLED.
    pub const SIGNING_ENABLED: u8 = 0x01;
    /// SMB2_NEGOTIATE_SIGNING_REQUIRED.
    pub const SIGNING_REQUIRED: u8 = 0x02;
}

/// SessionFlags of the SESSION_SETUP response (MS-SMB2 §2.2.6): "This field
/// MUST contain either 0 or one of the following values".
pub mod session_flags {
    /// SMB2_SESSION_FLAG_IS_GUEST: "the client has been authenticated as a guest user".
    pub const IS_GUEST: u16 = 0x0001;
    /// SMB2_SESSION_FLAG_IS_NULL: "the client has been authenticated as an anonymous user".
    pub const IS_NULL: u16 = 0x0002;
    /// SMB2_SESSION_FLAG_ENCRYPT_DATA: "the server requires encryption of
    /// messages on this session" (SMB 3.x only).
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// Fixed part of the request body: StructureSize through PreviousSessionId
/// (StructureSize is 25 because it counts the first byte of Buffer).
const REQUEST_FIXED_LEN: usize = 24;
/// Fixed part of the response body: StructureSize through
/// SecurityBufferLength (StructureSize 9 counts the first byte of Buffer).
const RESPONSE_FIXED_LEN: usize = 8;

/// SMB2 SESSION_SETUP Request (MS-SMB2 §2.2.5).
///
/// Body: StructureSize (25), Flags (1), SecurityMode (1), Capabilities (4),
/// Channel (4, "MUST NOT be used and MUST be reserved. The client MUST set
/// this to 0"), SecurityBufferOffset (2), SecurityBufferLength (2),
/// PreviousSessionId (8), Buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequest {
    /// Flags (see [`request_flags`]).
    pub flags: u8,
    /// SecurityMode (see [`security_mode`]).
    pub security_mode: u8,
    /// Capabilities (the NEGOTIATE capability bits; only DFS is meaningful).
    pub capabilities: u32,
    /// PreviousSessionId: a session to reconnect/replace, or 0.
    pub previous_session_id: u64,
    /// The GSS/SPNEGO token.
    pub security_buffer: Vec<u8>,
}

impl SessionSetupRequest {
    /// Appends the request body to `w`, which holds exactly the SMB2 header
    /// at position 0. The buffer follows the fixed part, at offset 88.
    ///
    /// # Errors
    ///
    /// If the security buffer exceeds 65535 bytes (SecurityBufferLength is a
    /// 16-bit field).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let len = wire_u16(
            self.security_buffer.len(),
            "SMB2 SESSION_SETUP SecurityBufferLength",
        )?;
        let offset = wire_u16(
            w.len() + REQUEST_FIXED_LEN,
            "SMB2 SESSION_SETUP SecurityBufferOffset",
        )?;
        w.u16(25)
            .u8(self.flags)
            .u8(self.security_mode)
            .u32(self.capabilities)
            .u32(0)
            .u16(offset)
            .u16(len)
            .u64(self.previous_session_id)
            .bytes(&self.security_buffer);
        Ok(())
    }

    /// Decodes a SESSION_SETUP request. StructureSize "MUST" be 25; the
    /// security buffer must lie after the fixed part and inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 SESSION_SETUP request";
        let (_, mut r) = body(msg, Command::SESSION_SETUP, what)?;
        structure_size(&mut r, 25, what)?;
        let flags = r.u8(what)?;
        let security_mode = r.u8(what)?;
        let capabilities = r.u32(what)?;
        r.skip(4, what)?; // Channel
        let offset = r.u16(what)?;
        let length = r.u16(what)?;
        let previous_session_id = r.u64(what)?;
        let security_buffer = buffer(
            msg,
            usize::from(offset),
            usize::from(length),
            HEADER_LEN + REQUEST_FIXED_LEN,
            "SMB2 SESSION_SETUP request SecurityBuffer",
        )?
        .to_vec();
        Ok(SessionSetupRequest {
            flags,
            security_mode,
            capabilities,
            previous_session_id,
            security_buffer,
        })
    }
}

/// SMB2 SESSION_SETUP Response (MS-SMB2 §2.2.6).
///
/// Body: StructureSize (9, "The server MUST set this to 9 ... regardless of
/// how long Buffer[] actually is"), SessionFlags (2), SecurityBufferOffset
/// (2), SecurityBufferLength (2), Buffer. Note that an SMB2 ERROR response
/// (§2.2.2) also has StructureSize 9; tell them apart with
/// [`super::is_error_response`] before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse {
    /// SessionFlags (see [`session_flags`]).
    pub session_flags: u16,
    /// The GSS/SPNEGO token, possibly empty.
    pub security_buffer: Vec<u8>,
}

impl SessionSetupResponse {
    /// Appends the response body to `w`, which holds exactly the SMB2 header
    /// at position 0. The buffer follows the fixed part, at offset 72.
    ///
    /// # Errors
    ///
    /// If the security buffer exceeds 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let len = wire_u16(
            self.security_buffer.len(),
            "SMB2 SESSION_SETUP SecurityBufferLength",
        )?;
        let offset = wire_u16(
            w.len() + RESPONSE_FIXED_LEN,
            "SMB2 SESSION_SETUP SecurityBufferOffset",
        )?;
        w.u16(9)
            .u16(self.session_flags)
            .u16(offset)
            .u16(len)
            .bytes(&self.security_buffer);
        Ok(())
    }

    /// Decodes a SESSION_SETUP response. StructureSize "MUST" be 9; the
    /// security buffer must lie after the fixed part and inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 SESSION_SETUP response";
        let (_, mut r) = body(msg, Command::SESSION_SETUP, what)?;
        structure_size(&mut r, 9, what)?;
        let session_flags = r.u16(what)?;
        let offset = r.u16(what)?;
        let length = r.u16(what)?;
        let security_buffer = buffer(
            msg,
            usize::from(offset),
            usize::from(length),
            HEADER_LEN + RESPONSE_FIXED_LEN,
            "SMB2 SESSION_SETUP response SecurityBuffer",
        )?
        .to_vec();
        Ok(SessionSetupResponse {
            session_flags,
            security_buffer,
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

    fn ntlm_negotiate_token() -> Vec<u8> {
        let mut t = b"NTLMSSP\0".to_vec();
        t.extend_from_slice(&[1, 0, 0, 0, 0x97, 0x82, 0x08, 0xE2]);
        t.extend_from_slice(&[0; 16]);
        t
    }

    #[test]
    fn request_bytes_and_round_trip() {
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: security_mode::SIGNING_ENABLED,
            capabilities: 1,
            previous_session_id: 0x0102_0304_0506_0708,
            security_buffer: ntlm_negotiate_token(),
        };
        let mut w = request_writer(Command::SESSION_SETUP);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        let mut expected = vec![
            0x19, 0x00, // StructureSize 25
            0x00, 0x01, // Flags, SecurityMode
            0x01, 0x00, 0x00, 0x00, // Capabilities
            0x00, 0x00, 0x00, 0x00, // Channel
            0x58, 0x00, 0x20, 0x00, // SecurityBufferOffset 88, Length 32
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // PreviousSessionId
        ];
        expected.extend(ntlm_negotiate_token());
        assert_eq!(&msg[64..], &expected[..]);
        assert_eq!(SessionSetupRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, SessionSetupRequest::decode);
        mutate_never_panics(&msg, SessionSetupRequest::decode);
    }

    /// A response as a server sends it mid-NTLM: STATUS_MORE_PROCESSING_REQUIRED
    /// with a challenge token at offset 72.
    fn challenge_response() -> Vec<u8> {
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::MORE_PROCESSING_REQUIRED);
        w.bytes(&[0x09, 0x00, 0x00, 0x00, 0x48, 0x00, 0x06, 0x00]);
        w.bytes(&[0xA1, 0x04, 0x30, 0x02, 0xA0, 0x00]);
        w.into_vec()
    }

    #[test]
    fn response_decodes_and_round_trips() {
        let msg = challenge_response();
        let r = SessionSetupResponse::decode(&msg).unwrap();
        assert_eq!(r.session_flags, 0);
        assert_eq!(r.security_buffer, vec![0xA1, 0x04, 0x30, 0x02, 0xA0, 0x00]);
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::MORE_PROCESSING_REQUIRED);
        r.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);

        let guest = SessionSetupResponse {
            session_flags: session_flags::IS_GUEST,
            security_buffer: vec![],
        };
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::SUCCESS);
        guest.encode(&mut w).unwrap();
        assert_eq!(w.len(), 72);
        assert_eq!(SessionSetupResponse::decode(w.as_slice()).unwrap(), guest);
    }

    #[test]
    fn hostile_responses_fail() {
        let good = challenge_response();
        assert_truncations_fail(&good, SessionSetupResponse::decode);
        mutate_never_panics(&good, SessionSetupResponse::decode);
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            SessionSetupResponse::decode(&m)
        };
        assert!(with(64, &[0x0A, 0x00]).is_err()); // StructureSize
        assert!(with(68, &[0x4C, 0x00]).is_err()); // offset: past the end
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err()); // offset + length huge
        assert!(with(68, &[0x00, 0x00]).is_err()); // offset into the header
        assert!(with(68, &[0x44, 0x00]).is_err()); // offset into the fixed part
        assert!(with(70, &[0x07, 0x00]).is_err()); // length one too long
        assert!(with(12, &[0x03, 0x00]).is_err()); // not SESSION_SETUP
                                                   // A zero length with any offset is an empty buffer.
        let m = {
            let mut m = good.clone();
            m[68..72].copy_from_slice(&[0xFF, 0xFF, 0, 0]);
            m
        };
        assert!(SessionSetupResponse::decode(&m)
            .unwrap()
            .security_buffer
            .is_empty());
    }

    #[test]
    fn hostile_requests_fail() {
        let req = SessionSetupRequest {
            flags: request_flags::BINDING,
            security_mode: security_mode::SIGNING_REQUIRED,
            capabilities: 0,
            previous_session_id: 0,
            security_buffer: vec![1, 2, 3],
        };
        let mut w = request_writer(Command::SESSION_SETUP);
        req.encode(&mut w).unwrap();
        let good = w.into_vec();
        assert_eq!(SessionSetupRequest::decode(&good).unwrap(), req);
        let mut bad = good.clone();
        bad[76..78].copy_from_slice(&[0xFF, 0xFF]);
        assert!(SessionSetupRequest::decode(&bad).is_err());
        let mut bad = good;
        bad[78..80].copy_from_slice(&[0x04, 0x00]);
        assert!(SessionSetupRequest::decode(&bad).is_err());
    }

    #[test]
    fn security_buffer_limit() {
        use crate::codec::testutil::assert_too_large;
        let req = |n: usize| SessionSetupRequest {
            flags: 0,
            security_mode: 1,
            capabilities: 0,
            previous_session_id: 0,
            security_buffer: vec![0x60; n],
        };
        let mut w = request_writer(Command::SESSION_SETUP);
        req(65535).encode(&mut w).unwrap();
        let back = SessionSetupRequest::decode(w.as_slice()).unwrap();
        assert_eq!(back.security_buffer.len(), 65535);
        let mut w = request_writer(Command::SESSION_SETUP);
        assert_too_large(
            req(65536).encode(&mut w),
            "SMB2 SESSION_SETUP SecurityBufferLength",
            65536,
            65535,
        );
        let resp = |n: usize| SessionSetupResponse {
            session_flags: 0,
            security_buffer: vec![0xA1; n],
        };
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::SUCCESS);
        resp(65535).encode(&mut w).unwrap();
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::SUCCESS);
        assert_too_large(
            resp(65536).encode(&mut w),
            "SMB2 SESSION_SETUP SecurityBufferLength",
            65536,
            65535,
        );
    }
}
