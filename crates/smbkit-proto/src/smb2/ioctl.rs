//! SMB2 IOCTL request and response (MS-SMB2 §2.2.31, §2.2.32).
//!
//! The FSCTL payloads themselves (VALIDATE_NEGOTIATE_INFO, DFS referrals,
//! snapshots, ...) are carried as bytes.

use super::create::{align8, require_structure_bytes, wire_usize, FileId};
use super::{body, buffer, wire_u32, HEADER_LEN};
use crate::codec::{count_u16, DecodeError, EncodeError, Reader, Writer};
use crate::types::Command;

/// CtlCode values with SMB2-specific processing (MS-SMB2 §2.2.31) plus
/// MS-FSCC §2.3 codes this library uses.
pub mod ctl_code {
    /// FSCTL_DFS_GET_REFERRALS: the FileId MUST be [`super::FileId::ANY`].
    pub const FSCTL_DFS_GET_REFERRALS: u32 = 0x0006_0194;
    /// FSCTL_DFS_GET_REFERRALS_EX.
    pub const FSCTL_DFS_GET_REFERRALS_EX: u32 = 0x0006_01B0;
    /// FSCTL_PIPE_PEEK.
    pub const FSCTL_PIPE_PEEK: u32 = 0x0011_400C;
    /// FSCTL_PIPE_WAIT: the FileId MUST be [`super::FileId::ANY`].
    pub const FSCTL_PIPE_WAIT: u32 = 0x0011_0018;
    /// FSCTL_PIPE_TRANSCEIVE: write then read a named pipe in one round
    /// trip (DCE/RPC over SMB). "FSCTL_PIPE_TRANSCEIVE is valid only on a
    /// named pipe". A reply longer than MaxOutputResponse comes back with
    /// STATUS_BUFFER_OVERFLOW and the first part of the data.
    pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    /// FSCTL_SRV_COPYCHUNK.
    pub const FSCTL_SRV_COPYCHUNK: u32 = 0x0014_40F2;
    /// FSCTL_SRV_ENUMERATE_SNAPSHOTS: list the previous versions
    /// (@GMT tokens) of a share.
    pub const FSCTL_SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    /// FSCTL_SRV_REQUEST_RESUME_KEY.
    pub const FSCTL_SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    /// FSCTL_SRV_READ_HASH.
    pub const FSCTL_SRV_READ_HASH: u32 = 0x0014_41BB;
    /// FSCTL_SRV_COPYCHUNK_WRITE.
    pub const FSCTL_SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
    /// FSCTL_LMR_REQUEST_RESILIENCY.
    pub const FSCTL_LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO.
    pub const FSCTL_QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    /// FSCTL_SET_REPARSE_POINT.
    pub const FSCTL_SET_REPARSE_POINT: u32 = 0x0009_00A4;
    /// FSCTL_GET_REPARSE_POINT (MS-FSCC §2.3.27).
    pub const FSCTL_GET_REPARSE_POINT: u32 = 0x0009_00A8;
    /// FSCTL_FILE_LEVEL_TRIM.
    pub const FSCTL_FILE_LEVEL_TRIM: u32 = 0x0009_8208;
    /// FSCTL_VALIDATE_NEGOTIATE_INFO (SMB 3.0/3.0.2 secure dialect
    /// negotiation, MS-SMB2 §3.2.5.14.12).
    pub const FSCTL_VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
}

/// Flags of the IOCTL request and response (MS-SMB2 §2.2.31): "This field
/// MUST contain one of the following values".
pub mod ioctl_flags {
    /// SMB2_0_IOCTL_IS_IOCTL: the request is an IOCTL.
    pub const IS_IOCTL: u32 = 0x0000_0000;
    /// SMB2_0_IOCTL_IS_FSCTL: the request is an FSCTL (what SMB2 clients
    /// send for every code in [`super::ctl_code`]).
    pub const IS_FSCTL: u32 = 0x0000_0001;
}

/// Fixed part of the request body, StructureSize through Reserved2
/// (StructureSize 57 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 56;
/// Fixed part of the response body, StructureSize through Reserved2
/// (StructureSize 49 counts one byte of Buffer).
const RESPONSE_FIXED_LEN: usize = 48;

/// SMB2 IOCTL Request (MS-SMB2 §2.2.31).
///
/// Body: StructureSize (2, "The client MUST set this field to 57 ...
/// regardless of how long Buffer[] actually is"), Reserved (2, "The client
/// MUST set this field to 0, and the server MUST ignore it on receipt"),
/// CtlCode (4), FileId (16), InputOffset (4), InputCount (4),
/// MaxInputResponse (4), OutputOffset (4), OutputCount (4),
/// MaxOutputResponse (4), Flags (4), Reserved2 (4, reserved, sent as 0),
/// Buffer.
///
/// The request form of the output buffer is not modelled: encode sends
/// "OutputOffset ... zero" and "OutputCount ... 0" as MS-SMB2 §3.2.4.20
/// asks; decode checks that a non-empty one lies inside the message and
/// otherwise ignores it. An empty input is sent as one zero Buffer byte;
/// decode requires the 57-byte body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlRequest {
    /// CtlCode (see [`ctl_code`]).
    pub ctl_code: u32,
    /// The open the control applies to, or [`FileId::ANY`] for
    /// FSCTL_DFS_GET_REFERRALS and FSCTL_PIPE_WAIT.
    pub file_id: FileId,
    /// The input buffer.
    pub input: Vec<u8>,
    /// MaxInputResponse: the most input-buffer bytes the server may return
    /// (normally 0).
    pub max_input_response: u32,
    /// MaxOutputResponse: the most output bytes the server may return.
    pub max_output_response: u32,
    /// Flags (see [`ioctl_flags`]).
    pub flags: u32,
}

impl IoctlRequest {
    /// Appends the request body to `w` (which holds exactly the SMB2 header
    /// at position 0). InputOffset names the Buffer (offset 120) whether or
    /// not there is input ("The InputOffset field MUST be set to the offset
    /// from the start of the SMB2 header to the beginning of the Buffer
    /// field", §3.2.4.20).
    ///
    /// # Errors
    ///
    /// If the input exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let input_offset = wire_u32(w.len() + REQUEST_FIXED_LEN, "SMB2 IOCTL InputOffset")?;
        let input_count = wire_u32(self.input.len(), "SMB2 IOCTL InputCount")?;
        w.u16(57).u16(0).u32(self.ctl_code);
        self.file_id.encode(w);
        w.u32(input_offset)
            .u32(input_count)
            .u32(self.max_input_response)
            .u32(0) // OutputOffset
            .u32(0) // OutputCount
            .u32(self.max_output_response)
            .u32(self.flags)
            .u32(0);
        if self.input.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.input);
        }
        Ok(())
    }

    /// Decodes an IOCTL request. StructureSize must be 57 and the body at
    /// least 57 bytes; the input and (ignored) output buffers, when
    /// non-empty, must lie after the fixed part and inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 IOCTL request";
        let (_, mut r) = body(msg, Command::IOCTL, what)?;
        ioctl_structure_size(&mut r, 57, what)?;
        r.skip(2, what)?; // Reserved
        let ctl_code = r.u32(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        let input_offset = r.u32(what)?;
        let input_count = r.u32(what)?;
        let max_input_response = r.u32(what)?;
        let output_offset = r.u32(what)?;
        let output_count = r.u32(what)?;
        let max_output_response = r.u32(what)?;
        let flags = r.u32(what)?;
        r.skip(4, what)?; // Reserved2
        require_structure_bytes(msg, 57, what)?;
        let min = HEADER_LEN + REQUEST_FIXED_LEN;
        let input = buffer(
            msg,
            wire_usize(input_offset),
            wire_usize(input_count),
            min,
            "SMB2 IOCTL request input",
        )?
        .to_vec();
        buffer(
            msg,
            wire_usize(output_offset),
            wire_usize(output_count),
            min,
            "SMB2 IOCTL request output",
        )?;
        Ok(IoctlRequest {
            ctl_code,
            file_id,
            input,
            max_input_response,
            max_output_response,
            flags,
        })
    }
}

/// SMB2 IOCTL Response (MS-SMB2 §2.2.32).
///
/// Body: StructureSize (2, "The server MUST set this field to 49"),
/// Reserved (2), CtlCode (4), FileId (16), InputOffset (4), InputCount (4),
/// OutputOffset (4), OutputCount (4), Flags (4, "MUST be set to 0"),
/// Reserved2 (4), Buffer.
///
/// "If output data is returned, the output offset MUST be set to
/// InputOffset + InputCount rounded up to a multiple of 8": encode lays the
/// buffers out that way and decode rejects output that starts before that
/// point (as Samba's client does). "If the OutputCount field in an SMB2
/// IOCTL Response is 0, the OutputOffset field SHOULD be ignored by the
/// client" (§3.2.5.14): it is.
///
/// An IOCTL that fails usually gets an SMB2 ERROR response (StructureSize
/// 9) instead, which [`IoctlResponse::decode`] rejects with a clear error
/// (use [`super::ErrorResponse`] for it); but FSCTL_PIPE_TRANSCEIVE and
/// FSCTL_PIPE_PEEK answered with STATUS_BUFFER_OVERFLOW, and the
/// copy-chunk FSCTLs answered with STATUS_INVALID_PARAMETER, carry this
/// full body, and decode accepts them since it does not look at the status.
/// Checking InputCount/OutputCount against the request's MaxInputResponse
/// and MaxOutputResponse is the caller's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlResponse {
    /// CtlCode: "The control code of the FSCTL/IOCTL method that was
    /// executed."
    pub ctl_code: u32,
    /// FileId: for FSCTL_DFS_GET_REFERRALS and FSCTL_PIPE_WAIT it "MUST be
    /// set to { 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF } by the server and
    /// MUST be ignored by the client".
    pub file_id: FileId,
    /// The input buffer echoed back ("SHOULD be set to zero" length, except
    /// for pass-through operations).
    pub input: Vec<u8>,
    /// The output buffer.
    pub output: Vec<u8>,
    /// Flags (reserved, 0).
    pub flags: u32,
}

impl IoctlResponse {
    /// Appends the response body to `w` (which holds exactly the SMB2 header
    /// at position 0). InputOffset names the Buffer (offset 112: "The
    /// InputOffset field SHOULD be set to the offset ... to the Buffer[]
    /// field"); the output follows the input at the next multiple of 8, and
    /// OutputOffset is 0 when there is no output ("this value SHOULD be set
    /// to 0").
    ///
    /// # Errors
    ///
    /// If a buffer exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let input_offset = w.len() + RESPONSE_FIXED_LEN;
        let output_offset = if self.output.is_empty() {
            0
        } else {
            // No overflow: the input is in memory, so its end fits a usize.
            (input_offset + self.input.len() + 7) & !7
        };
        let input_offset = wire_u32(input_offset, "SMB2 IOCTL response InputOffset")?;
        let input_count = wire_u32(self.input.len(), "SMB2 IOCTL response InputCount")?;
        let output_offset = wire_u32(output_offset, "SMB2 IOCTL response OutputOffset")?;
        let output_count = wire_u32(self.output.len(), "SMB2 IOCTL response OutputCount")?;
        w.u16(49).u16(0).u32(self.ctl_code);
        self.file_id.encode(w);
        w.u32(input_offset)
            .u32(input_count)
            .u32(output_offset)
            .u32(output_count)
            .u32(self.flags)
            .u32(0);
        w.bytes(&self.input);
        if !self.output.is_empty() {
            w.align(8);
            w.bytes(&self.output);
        }
        Ok(())
    }

    /// Decodes an IOCTL response. StructureSize must be 49 (an SMB2 ERROR
    /// body, StructureSize 9, fails with an error saying so); each
    /// non-empty buffer must lie after the fixed part (offset 112) and
    /// inside the message, and non-empty output must not start before the
    /// end of the input rounded up to 8.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 IOCTL response";
        let (_, mut r) = body(msg, Command::IOCTL, what)?;
        ioctl_structure_size(&mut r, 49, what)?;
        r.skip(2, what)?; // Reserved
        let ctl_code = r.u32(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        let input_offset = wire_usize(r.u32(what)?);
        let input_count = wire_usize(r.u32(what)?);
        let output_offset = wire_usize(r.u32(what)?);
        let output_count = wire_usize(r.u32(what)?);
        let flags = r.u32(what)?;
        r.skip(4, what)?; // Reserved2
        let min = HEADER_LEN + RESPONSE_FIXED_LEN;
        let input = buffer(
            msg,
            input_offset,
            input_count,
            min,
            "SMB2 IOCTL response input",
        )?;
        // The output may not start before the input ends (rounded up to 8).
        let output_min = if input.is_empty() {
            min
        } else {
            align8(input_offset + input_count).unwrap_or(usize::MAX)
        };
        let output = buffer(
            msg,
            output_offset,
            output_count,
            output_min,
            "SMB2 IOCTL response output",
        )?;
        Ok(IoctlResponse {
            ctl_code,
            file_id,
            input: input.to_vec(),
            output: output.to_vec(),
            flags,
        })
    }
}

/// Reads an IOCTL StructureSize, naming the SMB2 ERROR body (StructureSize
/// 9, MS-SMB2 §2.2.2) when that is what arrived.
fn ioctl_structure_size(
    r: &mut Reader<'_>,
    expected: u16,
    what: &'static str,
) -> Result<(), DecodeError> {
    let size = r.u16(what)?;
    if size == expected {
        return Ok(());
    }
    let detail = if size == 9 {
        format!(
            "StructureSize is 9, expected {expected}: this is an SMB2 ERROR response \
             (MS-SMB2 §2.2.2), decode it with ErrorResponse"
        )
    } else {
        format!("StructureSize is {size}, expected {expected}")
    };
    Err(DecodeError::invalid(what, detail))
}

/// VALIDATE_NEGOTIATE_INFO request (MS-SMB2 §2.2.31.4): what the client
/// sent in its NEGOTIATE, repeated in a signed FSCTL_VALIDATE_NEGOTIATE_INFO
/// so that the server can tell whether it was tampered with on the way
/// (SMB 3.0 and 3.0.2; 3.1.1 has the preauth integrity hash instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateNegotiateInfoRequest {
    /// Capabilities: "The Capabilities of the client."
    pub capabilities: u32,
    /// Guid: "The ClientGuid of the client."
    pub guid: [u8; 16],
    /// SecurityMode: "The SecurityMode of the client."
    pub security_mode: u16,
    /// Dialects: "The list of SMB2 dialects supported by the client."
    pub dialects: Vec<u16>,
}

impl ValidateNegotiateInfoRequest {
    /// The request as the input buffer of the IOCTL.
    ///
    /// # Errors
    ///
    /// If there are more than 65535 dialects (DialectCount is 16 bits).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let count = count_u16(
            self.dialects.len(),
            "VALIDATE_NEGOTIATE_INFO DialectCount",
            "dialects",
        )?;
        let mut w = crate::Writer::new();
        w.u32(self.capabilities)
            .bytes(&self.guid)
            .u16(self.security_mode)
            .u16(count);
        for &d in &self.dialects {
            w.u16(d);
        }
        Ok(w.into_vec())
    }
}

/// VALIDATE_NEGOTIATE_INFO response (MS-SMB2 §2.2.32.6): the server's
/// view of the negotiation, which the client compares with what it
/// received (MS-SMB2 §3.2.5.14.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidateNegotiateInfoResponse {
    /// Capabilities: "The Capabilities of the server."
    pub capabilities: u32,
    /// Guid: "The ServerGuid of the server."
    pub guid: [u8; 16],
    /// SecurityMode: "The SecurityMode of the server."
    pub security_mode: u16,
    /// Dialect: "The SMB2 dialect in use by the server on the connection."
    pub dialect: u16,
}

impl ValidateNegotiateInfoResponse {
    /// Size of the structure: 24 bytes.
    pub const LEN: usize = 24;

    /// Decodes the IOCTL's output buffer, which must be exactly the 24-byte
    /// structure.
    pub fn decode(output: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(output);
        let v = ValidateNegotiateInfoResponse {
            capabilities: r.u32("VALIDATE_NEGOTIATE_INFO Capabilities")?,
            guid: r.array("VALIDATE_NEGOTIATE_INFO Guid")?,
            security_mode: r.u16("VALIDATE_NEGOTIATE_INFO SecurityMode")?,
            dialect: r.u16("VALIDATE_NEGOTIATE_INFO Dialect")?,
        };
        r.expect_end("VALIDATE_NEGOTIATE_INFO response")?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::smb2::{is_error_response, ErrorResponse};
    use crate::types::NtStatus;

    const PIPE: FileId = FileId {
        persistent: 0x11,
        volatile: 0x22,
    };

    #[test]
    fn validate_negotiate_info_layouts() {
        let req = ValidateNegotiateInfoRequest {
            capabilities: 0x44,
            guid: [7; 16],
            security_mode: 1,
            dialects: vec![0x0202, 0x0210, 0x0300, 0x0302],
        };
        let b = req.to_bytes().unwrap();
        // 4 + 16 + 2 + 2 + 2 per dialect (MS-SMB2 §2.2.31.4).
        assert_eq!(b.len(), 24 + 8);
        assert_eq!(&b[..4], &[0x44, 0, 0, 0]);
        assert_eq!(&b[4..20], &[7; 16]);
        assert_eq!(&b[20..24], &[1, 0, 4, 0]);
        assert_eq!(&b[24..], &[0x02, 0x02, 0x10, 0x02, 0x00, 0x03, 0x02, 0x03]);

        let mut out = Vec::new();
        out.extend_from_slice(&0x2fu32.to_le_bytes());
        out.extend_from_slice(&[9; 16]);
        out.extend_from_slice(&3u16.to_le_bytes());
        out.extend_from_slice(&0x0302u16.to_le_bytes());
        let v = ValidateNegotiateInfoResponse::decode(&out).unwrap();
        assert_eq!(
            v,
            ValidateNegotiateInfoResponse {
                capabilities: 0x2f,
                guid: [9; 16],
                security_mode: 3,
                dialect: 0x0302,
            }
        );
        assert!(ValidateNegotiateInfoResponse::decode(&out[..23]).is_err());
        out.push(0);
        assert!(ValidateNegotiateInfoResponse::decode(&out).is_err());
    }

    fn transceive() -> IoctlRequest {
        IoctlRequest {
            ctl_code: ctl_code::FSCTL_PIPE_TRANSCEIVE,
            file_id: PIPE,
            input: vec![5, 0, 11, 3, 0x10, 0, 0, 0],
            max_input_response: 0,
            max_output_response: 4280,
            flags: ioctl_flags::IS_FSCTL,
        }
    }

    #[test]
    fn request_bytes_and_round_trip() {
        let mut w = request_writer(Command::IOCTL);
        transceive().encode(&mut w).unwrap();
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x39, 0x00,             // StructureSize 57
            0x00, 0x00,             // Reserved
            0x17, 0xC0, 0x11, 0x00, // FSCTL_PIPE_TRANSCEIVE
            0x11, 0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0, // FileId
            0x78, 0x00, 0x00, 0x00, // InputOffset 120
            0x08, 0x00, 0x00, 0x00, // InputCount 8
            0x00, 0x00, 0x00, 0x00, // MaxInputResponse
            0x00, 0x00, 0x00, 0x00, // OutputOffset
            0x00, 0x00, 0x00, 0x00, // OutputCount
            0xB8, 0x10, 0x00, 0x00, // MaxOutputResponse 4280
            0x01, 0x00, 0x00, 0x00, // SMB2_0_IOCTL_IS_FSCTL
            0x00, 0x00, 0x00, 0x00, // Reserved2
            5, 0, 11, 3, 0x10, 0, 0, 0,
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(IoctlRequest::decode(&msg).unwrap(), transceive());
        assert_truncations_fail(&msg, IoctlRequest::decode);
        mutate_never_panics(&msg, IoctlRequest::decode);

        // No input: one Buffer byte, and the FileId of a tree-level FSCTL.
        let dfs = IoctlRequest {
            ctl_code: ctl_code::FSCTL_DFS_GET_REFERRALS,
            file_id: FileId::ANY,
            input: vec![],
            max_output_response: 16,
            ..transceive()
        };
        let mut w = request_writer(Command::IOCTL);
        dfs.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 57);
        assert_eq!(IoctlRequest::decode(&msg).unwrap(), dfs);
        assert_truncations_fail(&msg, IoctlRequest::decode);
    }

    #[test]
    fn hostile_requests_fail() {
        let mut w = request_writer(Command::IOCTL);
        transceive().encode(&mut w).unwrap();
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            IoctlRequest::decode(&m)
        };
        assert!(with(64, &[0x31, 0x00]).is_err());
        assert!(with(88, &[0x77, 0, 0, 0]).is_err()); // input in the fixed part
        assert!(with(88, &[0x79, 0, 0, 0]).is_err()); // one past the end
        assert!(with(88, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(92, &[9, 0, 0, 0]).is_err());
        assert!(with(92, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // A request-side output buffer must be inside the message too.
        assert!(with(100, &[0x78, 0, 0, 0, 9, 0, 0, 0]).is_err());
        assert!(with(100, &[0x78, 0, 0, 0, 8, 0, 0, 0]).is_ok());
        assert!(with(100, &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]).is_ok());
    }

    fn response_msg(resp: &IoctlResponse, status: NtStatus) -> Vec<u8> {
        let mut w = response_writer(Command::IOCTL, status);
        resp.encode(&mut w).unwrap();
        w.into_vec()
    }

    #[test]
    fn response_round_trips() {
        let resp = IoctlResponse {
            ctl_code: ctl_code::FSCTL_PIPE_TRANSCEIVE,
            file_id: PIPE,
            input: vec![],
            output: (0u8..40).collect(),
            flags: 0,
        };
        // A pipe reply longer than MaxOutputResponse: STATUS_BUFFER_OVERFLOW
        // with data is a normal IOCTL response.
        for status in [NtStatus::SUCCESS, NtStatus::BUFFER_OVERFLOW] {
            let msg = response_msg(&resp, status);
            assert!(!is_error_response(&msg));
            #[rustfmt::skip]
            let head: &[u8] = &[
                0x31, 0x00, 0x00, 0x00,
                0x17, 0xC0, 0x11, 0x00,
                0x11, 0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0,
                0x70, 0x00, 0x00, 0x00, // InputOffset 112
                0x00, 0x00, 0x00, 0x00, // InputCount 0
                0x70, 0x00, 0x00, 0x00, // OutputOffset 112
                0x28, 0x00, 0x00, 0x00, // OutputCount 40
                0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00,
            ];
            assert_eq!(&msg[64..112], head);
            assert_eq!(IoctlResponse::decode(&msg).unwrap(), resp);
            assert_truncations_fail(&msg, IoctlResponse::decode);
            mutate_never_panics(&msg, IoctlResponse::decode);
        }

        // Input and output: output at InputOffset + InputCount rounded to 8.
        let both = IoctlResponse {
            input: vec![1, 2, 3],
            output: vec![4, 5],
            ..resp.clone()
        };
        let msg = response_msg(&both, NtStatus::SUCCESS);
        assert_eq!(&msg[96..100], &[120, 0, 0, 0]);
        assert_eq!(&msg[112..115], &[1, 2, 3]);
        assert_eq!(&msg[120..122], &[4, 5]);
        assert_eq!(IoctlResponse::decode(&msg).unwrap(), both);
        assert_truncations_fail(&msg, IoctlResponse::decode);

        // Neither: OutputOffset 0, and nothing after the fixed part.
        let none = IoctlResponse {
            output: vec![],
            ..resp
        };
        let msg = response_msg(&none, NtStatus::SUCCESS);
        assert_eq!(msg.len(), 64 + 48);
        assert_eq!(&msg[96..100], &[0, 0, 0, 0]);
        assert_eq!(IoctlResponse::decode(&msg).unwrap(), none);
    }

    #[test]
    fn hostile_responses_fail() {
        let both = IoctlResponse {
            ctl_code: ctl_code::FSCTL_SRV_ENUMERATE_SNAPSHOTS,
            file_id: PIPE,
            input: vec![1, 2, 3],
            output: vec![4, 5, 6, 7, 8, 9, 10, 11, 12],
            flags: 0,
        };
        let good = response_msg(&both, NtStatus::SUCCESS);
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            IoctlResponse::decode(&m)
        };
        assert!(with(88, &[0x6F, 0, 0, 0]).is_err()); // input in the fixed part
        assert!(with(88, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(92, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(96, &[0x73, 0, 0, 0]).is_err()); // output overlapping the input
        assert!(with(96, &[0x77, 0, 0, 0]).is_err()); // before the 8-byte boundary
        assert!(with(96, &[0x79, 0, 0, 0]).is_err()); // runs past the end
        assert!(with(96, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(100, &[10, 0, 0, 0]).is_err());
        assert!(with(100, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // Input offset near u32::MAX with a length: no overflow, just an error.
        assert!(with(88, &[0xF8, 0xFF, 0xFF, 0xFF, 0x07, 0, 0, 0]).is_err());
        // OutputCount 0: OutputOffset ignored.
        assert!(with(96, &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]).is_ok());
    }

    #[test]
    fn error_body_fails_cleanly() {
        let mut w = response_writer(Command::IOCTL, NtStatus::INVALID_DEVICE_REQUEST);
        ErrorResponse {
            error_context_count: 0,
            error_data: vec![],
        }
        .encode(&mut w)
        .unwrap();
        let msg = w.into_vec();
        assert!(is_error_response(&msg));
        match IoctlResponse::decode(&msg) {
            Err(DecodeError::Invalid { detail, .. }) => assert!(detail.contains("ERROR")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(ErrorResponse::decode(&msg).is_ok());
    }

    #[test]
    fn validate_negotiate_dialect_count_limit() {
        use crate::codec::testutil::assert_too_large;
        let req = |n: usize| ValidateNegotiateInfoRequest {
            capabilities: 0,
            guid: [0; 16],
            security_mode: 1,
            dialects: vec![0x0302; n],
        };
        assert_eq!(req(65535).to_bytes().unwrap().len(), 24 + 2 * 65535);
        assert_too_large(
            req(65536).to_bytes(),
            "VALIDATE_NEGOTIATE_INFO DialectCount",
            65536,
            65535,
        );
    }
}
