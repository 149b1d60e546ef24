//! SMB2 SET_INFO request and response (MS-SMB2 §2.2.39, §2.2.40).

use super::create::{require_structure_bytes, wire_usize, FileId};
use super::{body, buffer, structure_size, wire_u16, wire_u32, HEADER_LEN};
use crate::codec::{DecodeError, EncodeError, Writer};
use crate::types::Command;

/// Fixed part of the request body, StructureSize through FileId
/// (StructureSize 33 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 32;

/// SMB2 SET_INFO Request (MS-SMB2 §2.2.39).
///
/// Body: StructureSize (2, "The client MUST set this field to 33 ...
/// regardless of how long Buffer[] actually is"), InfoType (1),
/// FileInfoClass (1), BufferLength (4), BufferOffset (2), Reserved (2, "The
/// client MUST set this field to 0, and the server MUST ignore it on
/// receipt"), AdditionalInformation (4), FileId (16), Buffer (the
/// information to set). Empty data is sent as one zero Buffer byte; decode
/// requires the 33-byte body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfoRequest {
    /// InfoType (see [`super::query_info::info_type`]).
    pub info_type: u8,
    /// FileInfoClass: an MS-FSCC information class for FILE and FILESYSTEM;
    /// 0 for SECURITY and QUOTA.
    pub file_info_class: u8,
    /// AdditionalInformation: [`super::query_info::security_information`]
    /// bits for SECURITY, otherwise 0.
    pub additional_information: u32,
    /// The open to modify.
    pub file_id: FileId,
    /// The information to set (an MS-FSCC structure, a security descriptor
    /// or FILE_QUOTA_INFORMATION entries).
    pub data: Vec<u8>,
}

impl SetInfoRequest {
    /// Appends the request body to `w` (which holds exactly the SMB2 header
    /// at position 0); the data follows the fixed part, at offset 96.
    ///
    /// # Errors
    ///
    /// If the data exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let offset = wire_u16(w.len() + REQUEST_FIXED_LEN, "SMB2 SET_INFO BufferOffset")?;
        let length = wire_u32(self.data.len(), "SMB2 SET_INFO BufferLength")?;
        w.u16(33)
            .u8(self.info_type)
            .u8(self.file_info_class)
            .u32(length)
            .u16(offset)
            .u16(0)
            .u32(self.additional_information);
        self.file_id.encode(w);
        if self.data.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.data);
        }
        Ok(())
    }

    /// Decodes a SET_INFO request. StructureSize must be 33 and the body at
    /// least 33 bytes; non-empty data must lie after the fixed part and
    /// inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 SET_INFO request";
        let (_, mut r) = body(msg, Command::SET_INFO, what)?;
        structure_size(&mut r, 33, what)?;
        let info_type = r.u8(what)?;
        let file_info_class = r.u8(what)?;
        let length = r.u32(what)?;
        let offset = r.u16(what)?;
        r.skip(2, what)?; // Reserved
        let additional_information = r.u32(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        require_structure_bytes(msg, 33, what)?;
        let data = buffer(
            msg,
            usize::from(offset),
            wire_usize(length),
            HEADER_LEN + REQUEST_FIXED_LEN,
            "SMB2 SET_INFO request buffer",
        )?
        .to_vec();
        Ok(SetInfoRequest {
            info_type,
            file_info_class,
            additional_information,
            file_id,
            data,
        })
    }
}

/// SMB2 SET_INFO Response (MS-SMB2 §2.2.40): a single StructureSize field,
/// "The server MUST set this field to 2, indicating the size of the
/// response structure, not including the header."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetInfoResponse;

impl SetInfoResponse {
    /// Appends the 2-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(2);
    }

    /// Decodes a SET_INFO response; StructureSize must be 2.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 SET_INFO response";
        let (_, mut r) = body(msg, Command::SET_INFO, what)?;
        structure_size(&mut r, 2, what)?;
        Ok(SetInfoResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::query_info::info_type;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn disposition() -> SetInfoRequest {
        SetInfoRequest {
            info_type: info_type::FILE,
            file_info_class: 13, // FileDispositionInformation
            additional_information: 0,
            file_id: FileId {
                persistent: 0x77,
                volatile: 0x88,
            },
            data: vec![1],
        }
    }

    #[test]
    fn request_bytes_and_round_trip() {
        let mut w = request_writer(Command::SET_INFO);
        disposition().encode(&mut w).unwrap();
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x21, 0x00,             // StructureSize 33
            0x01,                   // SMB2_0_INFO_FILE
            0x0D,                   // FileDispositionInformation
            0x01, 0x00, 0x00, 0x00, // BufferLength 1
            0x60, 0x00,             // BufferOffset 96
            0x00, 0x00,             // Reserved
            0x00, 0x00, 0x00, 0x00, // AdditionalInformation
            0x77, 0, 0, 0, 0, 0, 0, 0, 0x88, 0, 0, 0, 0, 0, 0, 0, // FileId
            0x01,                   // DeletePending = TRUE
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(SetInfoRequest::decode(&msg).unwrap(), disposition());
        assert_truncations_fail(&msg, SetInfoRequest::decode);
        mutate_never_panics(&msg, SetInfoRequest::decode);

        let with = |pos: usize, bytes: &[u8]| {
            let mut m = msg.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            SetInfoRequest::decode(&m)
        };
        assert!(with(72, &[0x5F, 0x00]).is_err()); // inside the fixed part
        assert!(with(72, &[0x61, 0x00]).is_err()); // past the end
        assert!(with(68, &[2, 0, 0, 0]).is_err());
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(64, &[0x20, 0x00]).is_err());

        let empty = SetInfoRequest {
            data: vec![],
            ..disposition()
        };
        let mut w = request_writer(Command::SET_INFO);
        empty.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 33);
        assert_eq!(SetInfoRequest::decode(&msg).unwrap(), empty);
        assert_truncations_fail(&msg, SetInfoRequest::decode);
    }

    #[test]
    fn response_round_trip() {
        let mut w = response_writer(Command::SET_INFO, NtStatus::SUCCESS);
        SetInfoResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[64..], &[2, 0]);
        assert_eq!(SetInfoResponse::decode(&msg).unwrap(), SetInfoResponse);
        assert_truncations_fail(&msg, SetInfoResponse::decode);
        let mut bad = msg;
        bad[64] = 9;
        assert!(SetInfoResponse::decode(&bad).is_err());
    }
}
