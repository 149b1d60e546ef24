//! SMB2 TREE_DISCONNECT request and response (MS-SMB2 §2.2.11, §2.2.12).

use super::{decode_empty_body, encode_empty_body};
use crate::codec::{DecodeError, Writer};
use crate::types::Command;

/// SMB2 TREE_DISCONNECT Request (MS-SMB2 §2.2.11): StructureSize ("The client
/// MUST set this field to 4") and Reserved (2 bytes, "The client MUST set
/// this to 0, and the server MUST ignore it on receipt"). The tree is named by
/// the TreeId of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeDisconnectRequest;

impl TreeDisconnectRequest {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes a TREE_DISCONNECT request; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(
            msg,
            Command::TREE_DISCONNECT,
            "SMB2 TREE_DISCONNECT request",
        )?;
        Ok(TreeDisconnectRequest)
    }
}

/// SMB2 TREE_DISCONNECT Response (MS-SMB2 §2.2.12): StructureSize ("The server
/// MUST set this field to 4") and Reserved (2 bytes, "The server MUST set this
/// to 0, and the client MUST ignore it on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeDisconnectResponse;

impl TreeDisconnectResponse {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes a TREE_DISCONNECT response; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(
            msg,
            Command::TREE_DISCONNECT,
            "SMB2 TREE_DISCONNECT response",
        )?;
        Ok(TreeDisconnectResponse)
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
        let mut w = request_writer(Command::TREE_DISCONNECT);
        TreeDisconnectRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(
            TreeDisconnectRequest::decode(&msg).unwrap(),
            TreeDisconnectRequest
        );
        assert_truncations_fail(&msg, TreeDisconnectRequest::decode);
        mutate_never_panics(&msg, TreeDisconnectRequest::decode);

        let mut w = response_writer(Command::TREE_DISCONNECT, NtStatus::SUCCESS);
        TreeDisconnectResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(
            TreeDisconnectResponse::decode(&msg).unwrap(),
            TreeDisconnectResponse
        );
        assert_truncations_fail(&msg, TreeDisconnectResponse::decode);
        let mut bad = msg;
        bad[64] = 5;
        assert!(TreeDisconnectResponse::decode(&bad).is_err());
    }
}
