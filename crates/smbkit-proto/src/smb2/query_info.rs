//! SMB2 QUERY_INFO request and response (MS-SMB2 §2.2.37, §2.2.38).
//!
//! The information structures themselves (MS-FSCC §2.4, §2.5, MS-DTYP
//! SECURITY_DESCRIPTOR) are parsed elsewhere; these codecs carry them as
//! bytes.

use super::create::{require_structure_bytes, wire_usize, FileId};
use super::{
    body, buffer, decode_output_buffer, encode_output_buffer, structure_size, wire_u16, wire_u32,
    HEADER_LEN,
};
use crate::codec::{DecodeError, EncodeError, Writer};
use crate::types::Command;

/// InfoType of the QUERY_INFO and SET_INFO requests (MS-SMB2 §2.2.37,
/// §2.2.39): "The type of information queried. This field MUST contain one
/// of the following values".
pub mod info_type {
    /// SMB2_0_INFO_FILE: file information (MS-FSCC §2.4).
    pub const FILE: u8 = 0x01;
    /// SMB2_0_INFO_FILESYSTEM: file system information (MS-FSCC §2.5).
    pub const FILESYSTEM: u8 = 0x02;
    /// SMB2_0_INFO_SECURITY: the security descriptor (MS-DTYP §2.4.6).
    pub const SECURITY: u8 = 0x03;
    /// SMB2_0_INFO_QUOTA: quota information (MS-FSCC §2.4.41).
    pub const QUOTA: u8 = 0x04;
}

/// AdditionalInformation bits for [`info_type::SECURITY`] queries and sets
/// (MS-SMB2 §2.2.37, §2.2.39): which parts of the security descriptor.
pub mod security_information {
    /// OWNER_SECURITY_INFORMATION: the owner.
    pub const OWNER: u32 = 0x0000_0001;
    /// GROUP_SECURITY_INFORMATION: the primary group.
    pub const GROUP: u32 = 0x0000_0002;
    /// DACL_SECURITY_INFORMATION: the discretionary ACL.
    pub const DACL: u32 = 0x0000_0004;
    /// SACL_SECURITY_INFORMATION: the system ACL.
    pub const SACL: u32 = 0x0000_0008;
    /// LABEL_SECURITY_INFORMATION: the integrity label.
    pub const LABEL: u32 = 0x0000_0010;
    /// ATTRIBUTE_SECURITY_INFORMATION: resource attributes.
    pub const ATTRIBUTE: u32 = 0x0000_0020;
    /// SCOPE_SECURITY_INFORMATION: the central access policy.
    pub const SCOPE: u32 = 0x0000_0040;
    /// BACKUP_SECURITY_INFORMATION: everything, for backup.
    pub const BACKUP: u32 = 0x0001_0000;
}

/// Flags of the QUERY_INFO request (MS-SMB2 §2.2.37), used with
/// FileFullEaInformation queries; otherwise 0.
pub mod query_info_flags {
    /// SL_RESTART_SCAN: restart the EA scan.
    pub const RESTART_SCAN: u32 = 0x0000_0001;
    /// SL_RETURN_SINGLE_ENTRY: return a single EA.
    pub const RETURN_SINGLE_ENTRY: u32 = 0x0000_0002;
    /// SL_INDEX_SPECIFIED: start at the EA index given.
    pub const INDEX_SPECIFIED: u32 = 0x0000_0004;
}

/// Fixed part of the request body, StructureSize through FileId
/// (StructureSize 41 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 40;

/// SMB2 QUERY_INFO Request (MS-SMB2 §2.2.37).
///
/// Body: StructureSize (2, "The client MUST set this field to 41 ...
/// regardless of how long Buffer[] actually is"), InfoType (1),
/// FileInfoClass (1), OutputBufferLength (4), InputBufferOffset (2),
/// Reserved (2, "The client MUST set this field to 0, and the server MUST
/// ignore it on receipt"), InputBufferLength (4), AdditionalInformation
/// (4), Flags (4), FileId (16), Buffer (the input buffer, used by quota
/// and FileFullEaInformation queries). An empty input is sent as
/// InputBufferOffset 0 plus one zero Buffer byte, as Samba does; decode
/// requires the 41-byte body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfoRequest {
    /// InfoType (see [`info_type`]).
    pub info_type: u8,
    /// FileInfoClass: an MS-FSCC information class for FILE and FILESYSTEM
    /// queries; 0 for SECURITY and QUOTA.
    pub file_info_class: u8,
    /// OutputBufferLength: "The maximum number of bytes of information the
    /// server can send in the response."
    pub output_buffer_length: u32,
    /// AdditionalInformation: [`security_information`] bits for SECURITY
    /// queries, the EA index for FileFullEaInformation, otherwise 0.
    pub additional_information: u32,
    /// Flags (see [`query_info_flags`]).
    pub flags: u32,
    /// The open to query.
    pub file_id: FileId,
    /// The input buffer (SMB2_QUERY_QUOTA_INFO, FILE_GET_EA_INFORMATION
    /// list), usually empty.
    pub input: Vec<u8>,
}

impl QueryInfoRequest {
    /// Appends the request body to `w` (which holds exactly the SMB2 header
    /// at position 0); a non-empty input follows the fixed part, at offset
    /// 104.
    ///
    /// # Errors
    ///
    /// If the input exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let input_offset = if self.input.is_empty() {
            0
        } else {
            wire_u16(
                w.len() + REQUEST_FIXED_LEN,
                "SMB2 QUERY_INFO InputBufferOffset",
            )?
        };
        let input_length = wire_u32(self.input.len(), "SMB2 QUERY_INFO InputBufferLength")?;
        w.u16(41)
            .u8(self.info_type)
            .u8(self.file_info_class)
            .u32(self.output_buffer_length)
            .u16(input_offset)
            .u16(0)
            .u32(input_length)
            .u32(self.additional_information)
            .u32(self.flags);
        self.file_id.encode(w);
        if self.input.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.input);
        }
        Ok(())
    }

    /// Decodes a QUERY_INFO request. StructureSize must be 41 and the body
    /// at least 41 bytes; a non-empty input must lie after the fixed part
    /// and inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 QUERY_INFO request";
        let (_, mut r) = body(msg, Command::QUERY_INFO, what)?;
        structure_size(&mut r, 41, what)?;
        let info_type = r.u8(what)?;
        let file_info_class = r.u8(what)?;
        let output_buffer_length = r.u32(what)?;
        let input_offset = r.u16(what)?;
        r.skip(2, what)?; // Reserved
        let input_length = r.u32(what)?;
        let additional_information = r.u32(what)?;
        let flags = r.u32(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        require_structure_bytes(msg, 41, what)?;
        let input = buffer(
            msg,
            usize::from(input_offset),
            wire_usize(input_length),
            HEADER_LEN + REQUEST_FIXED_LEN,
            "SMB2 QUERY_INFO request input buffer",
        )?
        .to_vec();
        Ok(QueryInfoRequest {
            info_type,
            file_info_class,
            output_buffer_length,
            additional_information,
            flags,
            file_id,
            input,
        })
    }
}

/// SMB2 QUERY_INFO Response (MS-SMB2 §2.2.38).
///
/// Body: StructureSize (2, "The server MUST set this field to 9"),
/// OutputBufferOffset (2), OutputBufferLength (4), Buffer (the
/// information).
///
/// A response with STATUS_BUFFER_OVERFLOW has this shape too and carries
/// truncated data (MS-SMB2 §3.3.4.4); decoding does not look at the status.
/// An SMB2 ERROR response also has StructureSize 9: check
/// [`super::is_error_response`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfoResponse {
    /// The information returned.
    pub data: Vec<u8>,
}

impl QueryInfoResponse {
    /// Appends the response body to `w` (which holds exactly the SMB2 header
    /// at position 0); the data follows the fixed part, at offset 72.
    ///
    /// # Errors
    ///
    /// If the data exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_output_buffer(
            w,
            &self.data,
            "SMB2 QUERY_INFO OutputBufferOffset",
            "SMB2 QUERY_INFO OutputBufferLength",
        )
    }

    /// Decodes a QUERY_INFO response. StructureSize must be 9; non-empty
    /// data must start at or after offset 72 and end inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let data = decode_output_buffer(
            msg,
            Command::QUERY_INFO,
            "SMB2 QUERY_INFO response",
            "SMB2 QUERY_INFO response data",
        )?;
        Ok(QueryInfoResponse { data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn security_query() -> QueryInfoRequest {
        QueryInfoRequest {
            info_type: info_type::SECURITY,
            file_info_class: 0,
            output_buffer_length: 4096,
            additional_information: security_information::OWNER
                | security_information::GROUP
                | security_information::DACL,
            flags: 0,
            file_id: FileId {
                persistent: 5,
                volatile: 6,
            },
            input: vec![],
        }
    }

    #[test]
    fn request_bytes_and_round_trip() {
        let mut w = request_writer(Command::QUERY_INFO);
        security_query().encode(&mut w).unwrap();
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x29, 0x00,             // StructureSize 41
            0x03,                   // SMB2_0_INFO_SECURITY
            0x00,                   // FileInfoClass
            0x00, 0x10, 0x00, 0x00, // OutputBufferLength 4096
            0x00, 0x00,             // InputBufferOffset (no input)
            0x00, 0x00,             // Reserved
            0x00, 0x00, 0x00, 0x00, // InputBufferLength
            0x07, 0x00, 0x00, 0x00, // OWNER|GROUP|DACL
            0x00, 0x00, 0x00, 0x00, // Flags
            5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, // FileId
            0x00,                   // the one Buffer byte
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(QueryInfoRequest::decode(&msg).unwrap(), security_query());
        assert_truncations_fail(&msg, QueryInfoRequest::decode);
        mutate_never_panics(&msg, QueryInfoRequest::decode);

        let quota = QueryInfoRequest {
            info_type: info_type::QUOTA,
            flags: query_info_flags::RESTART_SCAN,
            input: vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..security_query()
        };
        let mut w = request_writer(Command::QUERY_INFO);
        quota.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(&msg[72..74], &[104, 0]);
        assert_eq!(QueryInfoRequest::decode(&msg).unwrap(), quota);
        assert_truncations_fail(&msg, QueryInfoRequest::decode);
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = msg.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            QueryInfoRequest::decode(&m)
        };
        assert!(with(72, &[103, 0]).is_err()); // inside the fixed part
        assert!(with(72, &[105, 0]).is_err()); // one past the end
        assert!(with(76, &[17, 0, 0, 0]).is_err());
        assert!(with(76, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(64, &[40, 0]).is_err());
    }

    #[test]
    fn response_round_trip_and_hostile() {
        let resp = QueryInfoResponse {
            data: vec![0xAB; 24],
        };
        for status in [NtStatus::SUCCESS, NtStatus::BUFFER_OVERFLOW] {
            let mut w = response_writer(Command::QUERY_INFO, status);
            resp.encode(&mut w).unwrap();
            let msg = w.into_vec();
            assert_eq!(&msg[64..72], &[9, 0, 72, 0, 24, 0, 0, 0]);
            assert_eq!(QueryInfoResponse::decode(&msg).unwrap(), resp);
            assert_truncations_fail(&msg, QueryInfoResponse::decode);
            mutate_never_panics(&msg, QueryInfoResponse::decode);
            let with = |pos: usize, bytes: &[u8]| {
                let mut m = msg.clone();
                m[pos..pos + bytes.len()].copy_from_slice(bytes);
                QueryInfoResponse::decode(&m)
            };
            assert!(with(66, &[0, 0]).is_err());
            assert!(with(66, &[73, 0]).is_err());
            assert!(with(68, &[25, 0, 0, 0]).is_err());
            assert!(with(66, &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
            assert!(with(12, &[0x11, 0]).is_err()); // SET_INFO
        }
    }
}
