//! SMB2 CHANGE_NOTIFY request and response (MS-SMB2 §2.2.35, §2.2.36).
//!
//! A CHANGE_NOTIFY on an open folder completes when something the
//! CompletionFilter names changes in it (or below it, with
//! [`change_notify_flags::WATCH_TREE`]); the server first answers with an
//! interim STATUS_PENDING (MS-SMB2 §3.3.4.2) and may hold the request for
//! as long as nothing changes. Between two requests on the same open the
//! server keeps collecting changes (MS-SMB2 §3.3.5.19, MS-FSA §2.1.5.11),
//! so a client that sends the next request as soon as one completes loses
//! none.
//!
//! The response's output buffer is a chain of FILE_NOTIFY_INFORMATION
//! entries ([`crate::fscc::notify`]). When the changes do not fit the
//! OutputBufferLength the server answers STATUS_NOTIFY_ENUM_DIR without
//! data (Windows, Samba): the client must enumerate the folder again. A
//! success without data means the same (MS-CIFS §3.2.5.40.3 says so of
//! SMB1; Samba sends it for a request with no room at all).

use super::create::FileId;
use super::{body, decode_output_buffer, encode_output_buffer, structure_size};
use crate::codec::{DecodeError, EncodeError, Writer};
use crate::fscc::notify::{parse_notify_information, FileNotifyInformation};
use crate::types::Command;

/// Flags of the CHANGE_NOTIFY request (MS-SMB2 §2.2.35): "This field MUST
/// be either zero or the following value".
pub mod change_notify_flags {
    /// SMB2_WATCH_TREE: "The request MUST monitor changes on any file or
    /// directory contained beneath the directory specified by FileId."
    pub const WATCH_TREE: u16 = 0x0001;
}

/// The body of the request: StructureSize 32, no variable part.
const REQUEST_LEN: usize = 32;

/// SMB2 CHANGE_NOTIFY Request (MS-SMB2 §2.2.35).
///
/// Body (32 bytes): StructureSize (2, "The client MUST set this field to
/// 32"), Flags (2), OutputBufferLength (4, "The maximum number of bytes
/// the server is allowed to return"), FileId (16, "the directory to
/// monitor"), CompletionFilter (4, [`crate::fscc::notify::filter`] bits),
/// Reserved (4, "This field MUST NOT be used and MUST be reserved. The
/// client MUST set this field to 0").
///
/// A server fails an OutputBufferLength above Connection.MaxTransactSize
/// with STATUS_INVALID_PARAMETER (MS-SMB2 §3.3.5.19); the CreditCharge
/// covers OutputBufferLength like a READ's length (§3.1.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeNotifyRequest {
    /// Flags (see [`change_notify_flags`]).
    pub flags: u16,
    /// OutputBufferLength.
    pub output_buffer_length: u32,
    /// The open folder.
    pub file_id: FileId,
    /// CompletionFilter.
    pub completion_filter: u32,
}

impl ChangeNotifyRequest {
    /// Appends the 32-byte request body to `w` (which holds the SMB2
    /// header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(REQUEST_LEN as u16)
            .u16(self.flags)
            .u32(self.output_buffer_length);
        self.file_id.encode(w);
        w.u32(self.completion_filter).u32(0);
    }

    /// Decodes a CHANGE_NOTIFY request (for test servers and round trips);
    /// StructureSize must be 32; Reserved is ignored.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 CHANGE_NOTIFY request";
        let (_, mut r) = body(msg, Command::CHANGE_NOTIFY, what)?;
        structure_size(&mut r, REQUEST_LEN as u16, what)?;
        let flags = r.u16(what)?;
        let output_buffer_length = r.u32(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        let completion_filter = r.u32(what)?;
        r.skip(4, what)?; // Reserved
        Ok(ChangeNotifyRequest {
            flags,
            output_buffer_length,
            file_id,
            completion_filter,
        })
    }
}

/// SMB2 CHANGE_NOTIFY Response (MS-SMB2 §2.2.36).
///
/// Body: StructureSize (2, "The server MUST set this field to 9"),
/// OutputBufferOffset (2, from the start of the SMB2 header),
/// OutputBufferLength (4), Buffer ("an array of FILE_NOTIFY_INFORMATION
/// structures"). An interim STATUS_PENDING, a STATUS_NOTIFY_ENUM_DIR and
/// error responses carry no buffer (an SMB2 ERROR response also has
/// StructureSize 9: check [`super::is_error_response`] first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotifyResponse {
    /// The FILE_NOTIFY_INFORMATION chain, as bytes.
    pub data: Vec<u8>,
}

impl ChangeNotifyResponse {
    /// A response carrying `entries`.
    ///
    /// # Errors
    ///
    /// As [`crate::fscc::notify::encode_notify_information`].
    pub fn from_entries(entries: &[FileNotifyInformation]) -> Result<Self, EncodeError> {
        Ok(ChangeNotifyResponse {
            data: crate::fscc::notify::encode_notify_information(entries)?,
        })
    }

    /// Appends the response body to `w` (which holds exactly the SMB2
    /// header at position 0); the data follows the fixed part, at offset
    /// 72.
    ///
    /// # Errors
    ///
    /// If the data exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_output_buffer(
            w,
            &self.data,
            "SMB2 CHANGE_NOTIFY OutputBufferOffset",
            "SMB2 CHANGE_NOTIFY OutputBufferLength",
        )
    }

    /// Decodes a CHANGE_NOTIFY response. StructureSize must be 9;
    /// non-empty data must start at or after offset 72 and end inside the
    /// message. The status is not looked at.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let data = decode_output_buffer(
            msg,
            Command::CHANGE_NOTIFY,
            "SMB2 CHANGE_NOTIFY response",
            "SMB2 CHANGE_NOTIFY response data",
        )?;
        Ok(ChangeNotifyResponse { data })
    }

    /// The entries of the output buffer (none when it is empty); see
    /// [`parse_notify_information`].
    pub fn entries(&self) -> Result<Vec<FileNotifyInformation>, DecodeError> {
        parse_notify_information(&self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fscc::notify::{filter, FileAction};
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn request() -> ChangeNotifyRequest {
        ChangeNotifyRequest {
            flags: change_notify_flags::WATCH_TREE,
            output_buffer_length: 0x1_0000,
            file_id: FileId {
                persistent: 0x11,
                volatile: 0x22,
            },
            completion_filter: filter::FILE_NAME | filter::DIR_NAME | filter::LAST_WRITE,
        }
    }

    #[test]
    fn request_bytes_and_round_trip() {
        let mut w = request_writer(Command::CHANGE_NOTIFY);
        request().encode(&mut w);
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x20, 0x00,             // StructureSize 32
            0x01, 0x00,             // SMB2_WATCH_TREE
            0x00, 0x00, 0x01, 0x00, // OutputBufferLength 65536
            0x11, 0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0, // FileId
            0x13, 0x00, 0x00, 0x00, // FILE_NAME | DIR_NAME | LAST_WRITE
            0x00, 0x00, 0x00, 0x00, // Reserved
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(&msg[12..14], &[0x0F, 0x00], "command CHANGE_NOTIFY");
        assert_eq!(ChangeNotifyRequest::decode(&msg).unwrap(), request());
        assert_truncations_fail(&msg, ChangeNotifyRequest::decode);
        mutate_never_panics(&msg, ChangeNotifyRequest::decode);
        let mut bad = msg.clone();
        bad[64] = 33;
        assert!(ChangeNotifyRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[12] = 0x0E; // QUERY_DIRECTORY
        assert!(ChangeNotifyRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_with_a_rename_and_a_change_below() {
        let entries = [
            FileNotifyInformation {
                action: FileAction::RENAMED_OLD_NAME,
                file_name: "old.txt".into(),
            },
            FileNotifyInformation {
                action: FileAction::RENAMED_NEW_NAME,
                file_name: "new.txt".into(),
            },
            FileNotifyInformation {
                action: FileAction::MODIFIED,
                file_name: "sub\\deep.bin".into(),
            },
        ];
        let resp = ChangeNotifyResponse::from_entries(&entries).unwrap();
        let mut w = response_writer(Command::CHANGE_NOTIFY, NtStatus::SUCCESS);
        resp.encode(&mut w).unwrap();
        let msg = w.into_vec();
        let n = resp.data.len() as u32;
        assert_eq!(&msg[64..68], &[9, 0, 72, 0]);
        assert_eq!(&msg[68..72], &n.to_le_bytes());
        let got = ChangeNotifyResponse::decode(&msg).unwrap();
        assert_eq!(got, resp);
        assert_eq!(got.entries().unwrap(), entries);
        assert_truncations_fail(&msg, ChangeNotifyResponse::decode);
        mutate_never_panics(&msg, |m| ChangeNotifyResponse::decode(m)?.entries());
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = msg.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            ChangeNotifyResponse::decode(&m)
        };
        assert!(with(66, &[71, 0]).is_err()); // inside the fixed part
        assert!(with(66, &[73, 0]).is_err()); // runs past the end
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(12, &[0x10, 0]).is_err()); // QUERY_INFO
    }

    #[test]
    fn enum_dir_and_empty_responses_have_no_entries() {
        // What Samba and Windows send when the changes did not fit:
        // STATUS_NOTIFY_ENUM_DIR, OutputBufferOffset 72 (or 0), length 0.
        for offset in [72u8, 0] {
            let mut w = response_writer(Command::CHANGE_NOTIFY, NtStatus::NOTIFY_ENUM_DIR);
            w.u16(9).u16(u16::from(offset)).u32(0).u8(0);
            let msg = w.into_vec();
            let r = ChangeNotifyResponse::decode(&msg).unwrap();
            assert!(r.data.is_empty());
            assert!(r.entries().unwrap().is_empty());
        }
    }
}
