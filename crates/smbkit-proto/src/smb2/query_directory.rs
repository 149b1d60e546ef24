//! SMB2 QUERY_DIRECTORY request and response (MS-SMB2 §2.2.33, §2.2.34).
//!
//! The entries in the response buffer (FILE_*_INFORMATION, MS-FSCC §2.4)
//! are parsed by [`crate::fscc`], not here.

use super::create::{buffer_range, require_structure_bytes, wire_usize, FileId};
use super::{body, buffer, structure_size, wire_u16, wire_u32, HEADER_LEN};
use crate::codec::{from_utf16le, utf16_len, DecodeError, EncodeError, Writer};
use crate::types::Command;

/// Flags of the QUERY_DIRECTORY request (MS-SMB2 §2.2.33): "This field MUST
/// contain zero or more of the following values".
pub mod query_directory_flags {
    /// SMB2_RESTART_SCANS: restart the enumeration from the beginning.
    pub const RESTART_SCANS: u8 = 0x01;
    /// SMB2_RETURN_SINGLE_ENTRY: return only the first matching entry.
    pub const RETURN_SINGLE_ENTRY: u8 = 0x02;
    /// SMB2_INDEX_SPECIFIED: resume from FileIndex.
    pub const INDEX_SPECIFIED: u8 = 0x04;
    /// SMB2_REOPEN: restart the enumeration with a new search pattern.
    pub const REOPEN: u8 = 0x10;
}

/// Fixed part of the request body, StructureSize through
/// OutputBufferLength (StructureSize 33 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 32;
/// Fixed part of the response body, StructureSize through
/// OutputBufferLength (StructureSize 9 counts one byte of Buffer).
const RESPONSE_FIXED_LEN: usize = 8;

/// SMB2 QUERY_DIRECTORY Request (MS-SMB2 §2.2.33).
///
/// Body: StructureSize (2, "The client MUST set this field to 33 ...
/// regardless of how long Buffer[] actually is"), FileInformationClass
/// (1), Flags (1), FileIndex (4), FileId (16), FileNameOffset (2),
/// FileNameLength (2), OutputBufferLength (4), Buffer (the search pattern,
/// UTF-16LE). An empty pattern is sent as one zero Buffer byte, and decode
/// requires the 33-byte body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirectoryRequest {
    /// FileInformationClass (MS-FSCC §2.4, e.g. 0x25
    /// FileIdBothDirectoryInformation); "This field MUST contain one of"
    /// the directory information classes, which this codec does not check.
    pub file_information_class: u8,
    /// Flags (see [`query_directory_flags`]).
    pub flags: u8,
    /// FileIndex: where to resume when [`query_directory_flags::INDEX_SPECIFIED`]
    /// is set, otherwise 0.
    pub file_index: u32,
    /// The directory open to enumerate.
    pub file_id: FileId,
    /// The search pattern, e.g. `*`.
    pub pattern: String,
    /// OutputBufferLength: "The maximum number of bytes the server is
    /// allowed to return in the SMB2 QUERY_DIRECTORY Response."
    pub output_buffer_length: u32,
}

impl QueryDirectoryRequest {
    /// Appends the request body to `w` (which holds exactly the SMB2 header
    /// at position 0); the pattern follows the fixed part, at offset 96.
    ///
    /// # Errors
    ///
    /// If the pattern exceeds 65535 bytes of UTF-16.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let len = wire_u16(
            utf16_len(&self.pattern),
            "SMB2 QUERY_DIRECTORY FileNameLength",
        )?;
        let offset = wire_u16(
            w.len() + REQUEST_FIXED_LEN,
            "SMB2 QUERY_DIRECTORY FileNameOffset",
        )?;
        w.u16(33)
            .u8(self.file_information_class)
            .u8(self.flags)
            .u32(self.file_index);
        self.file_id.encode(w);
        w.u16(offset).u16(len).u32(self.output_buffer_length);
        if self.pattern.is_empty() {
            w.u8(0);
        } else {
            w.utf16(&self.pattern);
        }
        Ok(())
    }

    /// Decodes a QUERY_DIRECTORY request. StructureSize must be 33 and the
    /// body at least 33 bytes; the pattern must lie after the fixed part and
    /// inside the message and be valid UTF-16LE.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 QUERY_DIRECTORY request";
        let (_, mut r) = body(msg, Command::QUERY_DIRECTORY, what)?;
        structure_size(&mut r, 33, what)?;
        let file_information_class = r.u8(what)?;
        let flags = r.u8(what)?;
        let file_index = r.u32(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        let name_offset = r.u16(what)?;
        let name_length = r.u16(what)?;
        let output_buffer_length = r.u32(what)?;
        require_structure_bytes(msg, 33, what)?;
        let pattern = buffer(
            msg,
            usize::from(name_offset),
            usize::from(name_length),
            HEADER_LEN + REQUEST_FIXED_LEN,
            "SMB2 QUERY_DIRECTORY search pattern",
        )?;
        let pattern = from_utf16le(pattern, "SMB2 QUERY_DIRECTORY search pattern")?;
        Ok(QueryDirectoryRequest {
            file_information_class,
            flags,
            file_index,
            file_id,
            pattern,
            output_buffer_length,
        })
    }
}

/// SMB2 QUERY_DIRECTORY Response (MS-SMB2 §2.2.34).
///
/// Body: StructureSize (2, "The server MUST set this field to 9"),
/// OutputBufferOffset (2), OutputBufferLength (4), Buffer (the directory
/// entries, MS-FSCC §2.4, parsed by [`crate::fscc`]).
///
/// An SMB2 ERROR response (e.g. STATUS_NO_MORE_FILES) also has
/// StructureSize 9 and can decode as an empty listing: check
/// [`super::is_error_response`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirectoryResponse {
    /// The enumeration data.
    pub data: Vec<u8>,
}

impl QueryDirectoryResponse {
    /// Appends the response body to `w` (which holds exactly the SMB2 header
    /// at position 0); the data follows the fixed part, at offset 72.
    ///
    /// # Errors
    ///
    /// If the data exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let offset = wire_u16(
            w.len() + RESPONSE_FIXED_LEN,
            "SMB2 QUERY_DIRECTORY OutputBufferOffset",
        )?;
        let length = wire_u32(self.data.len(), "SMB2 QUERY_DIRECTORY OutputBufferLength")?;
        w.u16(9).u16(offset).u32(length).bytes(&self.data);
        Ok(())
    }

    /// Decodes a QUERY_DIRECTORY response, copying the data. Validation is
    /// that of [`query_directory_response_data_range`].
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let range = query_directory_response_data_range(msg)?;
        Ok(QueryDirectoryResponse {
            data: msg[range].to_vec(),
        })
    }
}

/// Locates the enumeration data of a QUERY_DIRECTORY response without
/// copying it. StructureSize must be 9; non-empty data must start at or
/// after offset 72 (the end of the fixed part) and end inside `msg`; an
/// OutputBufferLength of 0 yields `msg.len()..msg.len()`.
pub fn query_directory_response_data_range(
    msg: &[u8],
) -> Result<std::ops::Range<usize>, DecodeError> {
    let what = "SMB2 QUERY_DIRECTORY response";
    let (_, mut r) = body(msg, Command::QUERY_DIRECTORY, what)?;
    structure_size(&mut r, 9, what)?;
    let offset = r.u16(what)?;
    let length = r.u32(what)?;
    buffer_range(
        msg,
        usize::from(offset),
        wire_usize(length),
        HEADER_LEN + RESPONSE_FIXED_LEN,
        "SMB2 QUERY_DIRECTORY response data",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn sample_request() -> QueryDirectoryRequest {
        QueryDirectoryRequest {
            file_information_class: 0x25,
            flags: query_directory_flags::RESTART_SCANS,
            file_index: 0,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            pattern: "*".into(),
            output_buffer_length: 65536,
        }
    }

    #[test]
    fn request_bytes_and_round_trip() {
        let mut w = request_writer(Command::QUERY_DIRECTORY);
        sample_request().encode(&mut w).unwrap();
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x21, 0x00,             // StructureSize 33
            0x25,                   // FileIdBothDirectoryInformation
            0x01,                   // RESTART_SCANS
            0x00, 0x00, 0x00, 0x00, // FileIndex
            1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, // FileId
            0x60, 0x00,             // FileNameOffset 96
            0x02, 0x00,             // FileNameLength 2
            0x00, 0x00, 0x01, 0x00, // OutputBufferLength 65536
            b'*', 0x00,
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(
            QueryDirectoryRequest::decode(&msg).unwrap(),
            sample_request()
        );
        assert_truncations_fail(&msg, QueryDirectoryRequest::decode);
        mutate_never_panics(&msg, QueryDirectoryRequest::decode);

        let empty = QueryDirectoryRequest {
            pattern: String::new(),
            ..sample_request()
        };
        let mut w = request_writer(Command::QUERY_DIRECTORY);
        empty.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 33);
        assert_eq!(QueryDirectoryRequest::decode(&msg).unwrap(), empty);
        assert_truncations_fail(&msg, QueryDirectoryRequest::decode);
    }

    #[test]
    fn hostile_requests_fail() {
        let mut w = request_writer(Command::QUERY_DIRECTORY);
        QueryDirectoryRequest {
            pattern: "*.txt".into(),
            ..sample_request()
        }
        .encode(&mut w)
        .unwrap();
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            QueryDirectoryRequest::decode(&m)
        };
        assert!(with(64, &[0x20, 0x00]).is_err());
        assert!(with(88, &[0x5F, 0x00]).is_err()); // into the fixed part
        assert!(with(88, &[0x61, 0x00]).is_err()); // one past the end
        assert!(with(88, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(90, &[0x09, 0x00]).is_err()); // odd length
        assert!(with(90, &[0x0C, 0x00]).is_err()); // too long
        assert!(with(96, &[0x00, 0xDC]).is_err()); // unpaired surrogate
    }

    #[test]
    fn response_round_trip_and_range() {
        let resp = QueryDirectoryResponse {
            data: (0u8..100).collect(),
        };
        let mut w = response_writer(Command::QUERY_DIRECTORY, NtStatus::SUCCESS);
        resp.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(&msg[64..72], &[9, 0, 72, 0, 100, 0, 0, 0]);
        assert_eq!(query_directory_response_data_range(&msg).unwrap(), 72..172);
        assert_eq!(QueryDirectoryResponse::decode(&msg).unwrap(), resp);
        assert_truncations_fail(&msg, QueryDirectoryResponse::decode);
        mutate_never_panics(&msg, QueryDirectoryResponse::decode);

        let with = |pos: usize, bytes: &[u8]| {
            let mut m = msg.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            query_directory_response_data_range(&m)
        };
        assert!(with(66, &[71, 0]).is_err()); // inside the fixed part
        assert!(with(66, &[73, 0]).is_err()); // one past the end
        assert!(with(68, &[101, 0, 0, 0]).is_err());
        assert!(with(66, &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert_eq!(with(66, &[0xFF, 0xFF, 0, 0, 0, 0]).unwrap(), 172..172);
    }

    #[test]
    fn pattern_length_limit() {
        use crate::codec::testutil::{assert_too_large, name};
        let mut req = sample_request();
        req.pattern = name(32767);
        let mut w = request_writer(Command::QUERY_DIRECTORY);
        req.encode(&mut w).unwrap();
        assert_eq!(QueryDirectoryRequest::decode(w.as_slice()).unwrap(), req);
        req.pattern = name(32768);
        let mut w = request_writer(Command::QUERY_DIRECTORY);
        assert_too_large(
            req.encode(&mut w),
            "SMB2 QUERY_DIRECTORY FileNameLength",
            65536,
            65535,
        );
    }
}
