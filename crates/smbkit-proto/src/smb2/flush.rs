//! SMB2 FLUSH request and response (MS-SMB2 §2.2.17, §2.2.18).

use super::create::FileId;
use super::{body, decode_empty_body, encode_empty_body, structure_size};
use crate::codec::{DecodeError, Writer};
use crate::types::Command;

/// SMB2 FLUSH Request (MS-SMB2 §2.2.17).
///
/// Body (24 bytes): StructureSize (2, "The client MUST set this field to
/// 24"), Reserved1 (2) and Reserved2 (4) ("The client MUST set this field
/// to 0, and the server MUST ignore it on receipt"), FileId (16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushRequest {
    /// The open whose cached data is to be written to storage.
    pub file_id: FileId,
}

impl FlushRequest {
    /// Appends the 24-byte request body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(24).u16(0).u32(0);
        self.file_id.encode(w);
    }

    /// Decodes a FLUSH request; StructureSize must be 24.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 FLUSH request";
        let (_, mut r) = body(msg, Command::FLUSH, what)?;
        structure_size(&mut r, 24, what)?;
        r.skip(6, what)?;
        let file_id = FileId::decode(&mut r, what)?;
        Ok(FlushRequest { file_id })
    }
}

/// SMB2 FLUSH Response (MS-SMB2 §2.2.18): StructureSize ("The server MUST
/// set this field to 4") and Reserved (2 bytes, "The server MUST set this
/// field to 0, and the client MUST ignore it on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushResponse;

impl FlushResponse {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes a FLUSH response; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(msg, Command::FLUSH, "SMB2 FLUSH response")?;
        Ok(FlushResponse)
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
    fn request_round_trip() {
        let req = FlushRequest {
            file_id: FileId {
                persistent: 3,
                volatile: 4,
            },
        };
        let mut w = request_writer(Command::FLUSH);
        req.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(
            &msg[64..],
            &[24, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(FlushRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, FlushRequest::decode);
        mutate_never_panics(&msg, FlushRequest::decode);
        let mut bad = msg;
        bad[64] = 4;
        assert!(FlushRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_round_trip() {
        let mut w = response_writer(Command::FLUSH, NtStatus::SUCCESS);
        FlushResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(FlushResponse::decode(&msg).unwrap(), FlushResponse);
        assert_truncations_fail(&msg, FlushResponse::decode);
        let mut bad = msg;
        bad[12] = 6; // CLOSE
        assert!(FlushResponse::decode(&bad).is_err());
    }
}
