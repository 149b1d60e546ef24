//! SMB2 LOGOFF request and response (MS-SMB2 §2.2.7, §2.2.8).

use super::{decode_empty_body, encode_empty_body};
use crate::codec::{DecodeError, Writer};
use crate::types::Command;

/// SMB2 LOGOFF Request (MS-SMB2 §2.2.7): StructureSize ("The client MUST set
/// this field to 4") and Reserved (2 bytes, "The client MUST set this to 0,
/// and the server MUST ignore it on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoffRequest;

impl LogoffRequest {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes a LOGOFF request; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(msg, Command::LOGOFF, "SMB2 LOGOFF request")?;
        Ok(LogoffRequest)
    }
}

/// SMB2 LOGOFF Response (MS-SMB2 §2.2.8): StructureSize ("The server MUST set
/// this field to 4") and Reserved (2 bytes, "The server MUST set this to 0,
/// and the client MUST ignore it on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoffResponse;

impl LogoffResponse {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes a LOGOFF response; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(msg, Command::LOGOFF, "SMB2 LOGOFF response")?;
        Ok(LogoffResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    #[test]
    fn round_trip_and_hostile() {
        let mut w = request_writer(Command::LOGOFF);
        LogoffRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(LogoffRequest::decode(&msg).unwrap(), LogoffRequest);
        assert_truncations_fail(&msg, LogoffRequest::decode);
        mutate_never_panics(&msg, LogoffRequest::decode);

        let mut w = response_writer(Command::LOGOFF, NtStatus::SUCCESS);
        LogoffResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(LogoffResponse::decode(&msg).unwrap(), LogoffResponse);
        assert_truncations_fail(&msg, LogoffResponse::decode);
        let mut bad = msg.clone();
        bad[64] = 9;
        assert!(LogoffResponse::decode(&bad).is_err());
        let mut bad = msg;
        bad[12] = Command::ECHO.0 as u8;
        assert!(LogoffResponse::decode(&bad).is_err());
    }
}
