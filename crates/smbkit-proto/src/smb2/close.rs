//! SMB2 CLOSE request and response (MS-SMB2 §2.2.15, §2.2.16).

use super::create::FileId;
use super::{body, structure_size};
use crate::codec::{DecodeError, Writer};
use crate::types::Command;

/// Flags of the CLOSE request and response (MS-SMB2 §2.2.15, §2.2.16).
pub mod close_flags {
    /// SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB. In the request: "If set, the
    /// server MUST set the attribute fields in the response ... to valid
    /// values. If not set, the client MUST NOT use the values that are
    /// returned in the response." In the response: the attribute fields are
    /// valid, and the server MUST set this flag when it fills them.
    pub const POSTQUERY_ATTRIB: u16 = 0x0001;
}

/// SMB2 CLOSE Request (MS-SMB2 §2.2.15).
///
/// Body (24 bytes): StructureSize (2, "The client MUST set this field to
/// 24"), Flags (2), Reserved (4, "The client MUST set this field to 0, and
/// the server MUST ignore it on receipt"), FileId (16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    /// Flags (see [`close_flags`]).
    pub flags: u16,
    /// The open to close.
    pub file_id: FileId,
}

impl CloseRequest {
    /// Appends the 24-byte request body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(24).u16(self.flags).u32(0);
        self.file_id.encode(w);
    }

    /// Decodes a CLOSE request; StructureSize must be 24.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 CLOSE request";
        let (_, mut r) = body(msg, Command::CLOSE, what)?;
        structure_size(&mut r, 24, what)?;
        let flags = r.u16(what)?;
        r.skip(4, what)?;
        let file_id = FileId::decode(&mut r, what)?;
        Ok(CloseRequest { flags, file_id })
    }
}

/// SMB2 CLOSE Response (MS-SMB2 §2.2.16).
///
/// Body (60 bytes): StructureSize (2, "The server MUST set this field to
/// 60"), Flags (2), Reserved (4, "the client MUST ignore it on receipt"),
/// CreationTime, LastAccessTime, LastWriteTime, ChangeTime, AllocationSize,
/// EndofFile (8 each), FileAttributes (4). When Flags lacks
/// [`close_flags::POSTQUERY_ATTRIB`] the attribute fields "MUST be set to 0"
/// by the server and carry no information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseResponse {
    /// Flags (see [`close_flags`]).
    pub flags: u16,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// AllocationSize in bytes.
    pub allocation_size: u64,
    /// EndofFile: the file size in bytes.
    pub end_of_file: u64,
    /// FileAttributes: MS-FSCC §2.6 FILE_ATTRIBUTE_* bits.
    pub file_attributes: u32,
}

impl CloseResponse {
    /// Appends the 60-byte response body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(60)
            .u16(self.flags)
            .u32(0)
            .u64(self.creation_time)
            .u64(self.last_access_time)
            .u64(self.last_write_time)
            .u64(self.change_time)
            .u64(self.allocation_size)
            .u64(self.end_of_file)
            .u32(self.file_attributes);
    }

    /// Decodes a CLOSE response; StructureSize must be 60. The attribute
    /// fields are returned as sent whatever Flags says.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 CLOSE response";
        let (_, mut r) = body(msg, Command::CLOSE, what)?;
        structure_size(&mut r, 60, what)?;
        let flags = r.u16(what)?;
        r.skip(4, what)?;
        Ok(CloseResponse {
            flags,
            creation_time: r.u64(what)?,
            last_access_time: r.u64(what)?,
            last_write_time: r.u64(what)?,
            change_time: r.u64(what)?,
            allocation_size: r.u64(what)?,
            end_of_file: r.u64(what)?,
            file_attributes: r.u32(what)?,
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

    #[test]
    fn request_bytes_and_round_trip() {
        let req = CloseRequest {
            flags: close_flags::POSTQUERY_ATTRIB,
            file_id: FileId {
                persistent: 0x0102_0304_0506_0708,
                volatile: 0xAABB,
            },
        };
        let mut w = request_writer(Command::CLOSE);
        req.encode(&mut w);
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            24, 0, 1, 0, 0, 0, 0, 0,
            8, 7, 6, 5, 4, 3, 2, 1,
            0xBB, 0xAA, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(CloseRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, CloseRequest::decode);
        mutate_never_panics(&msg, CloseRequest::decode);
        let mut bad = msg.clone();
        bad[64] = 25;
        assert!(CloseRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[12] = 5; // CREATE, not CLOSE
        assert!(CloseRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_round_trip() {
        let resp = CloseResponse {
            flags: close_flags::POSTQUERY_ATTRIB,
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            allocation_size: 8192,
            end_of_file: 5000,
            file_attributes: 0x20,
        };
        let mut w = response_writer(Command::CLOSE, NtStatus::SUCCESS);
        resp.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 60);
        assert_eq!(CloseResponse::decode(&msg).unwrap(), resp);
        assert_truncations_fail(&msg, CloseResponse::decode);
        mutate_never_panics(&msg, CloseResponse::decode);
        let mut bad = msg;
        bad[64] = 9; // an ERROR body
        assert!(CloseResponse::decode(&bad).is_err());
    }
}
