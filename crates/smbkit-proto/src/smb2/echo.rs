//! SMB2 ECHO request and response (MS-SMB2 §2.2.28, §2.2.29).

use super::{decode_empty_body, encode_empty_body};
use crate::codec::{DecodeError, Writer};
use crate::types::Command;

/// SMB2 ECHO Request (MS-SMB2 §2.2.28): StructureSize ("The client MUST set
/// this to 4") and Reserved (2 bytes, "The client MUST set this to 0, and the
/// server MUST ignore it on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EchoRequest;

impl EchoRequest {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes an ECHO request; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(msg, Command::ECHO, "SMB2 ECHO request")?;
        Ok(EchoRequest)
    }
}

/// SMB2 ECHO Response (MS-SMB2 §2.2.29): StructureSize ("The server MUST set
/// this to 4") and Reserved (2 bytes, "The server MUST set this to 0, and the
/// client MUST ignore it on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EchoResponse;

impl EchoResponse {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes an ECHO response; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(msg, Command::ECHO, "SMB2 ECHO response")?;
        Ok(EchoResponse)
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
        let mut w = request_writer(Command::ECHO);
        EchoRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(msg.len(), 68);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(EchoRequest::decode(&msg).unwrap(), EchoRequest);
        assert_truncations_fail(&msg, EchoRequest::decode);
        mutate_never_panics(&msg, EchoRequest::decode);

        let mut w = response_writer(Command::ECHO, NtStatus::SUCCESS);
        EchoResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(EchoResponse::decode(&msg).unwrap(), EchoResponse);
        assert_truncations_fail(&msg, EchoResponse::decode);
        // Trailing compound padding is fine.
        let mut padded = msg.clone();
        padded.extend_from_slice(&[0; 4]);
        assert_eq!(EchoResponse::decode(&padded).unwrap(), EchoResponse);
        let mut bad = msg;
        bad[64] = 9;
        assert!(EchoResponse::decode(&bad).is_err());
    }
}
