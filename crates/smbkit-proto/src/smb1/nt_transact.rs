//! SMB_COM_NT_TRANSACT (MS-CIFS §2.2.4.62) and the subcommands smbkit
//! sends: NT_TRANSACT_IOCTL (§2.2.7.2, MS-SMB §2.2.7.2), used for
//! FSCTL_SRV_ENUMERATE_SNAPSHOTS, and NT_TRANSACT_QUERY_SECURITY_DESC
//! (§2.2.7.6).
//!
//! Requests are single messages (see the [`trans`](super::trans) module
//! documentation); they are encoded into a writer holding the
//! SMB_COM_NT_TRANSACT header. Responses are decoded with
//! [`TransResponsePart::decode_nt_trans`](super::trans::TransResponsePart::decode_nt_trans)
//! (or [`TransResponsePart::decode`](super::trans::TransResponsePart::decode))
//! and reassembled with a [`TransAssembler`](super::trans::TransAssembler);
//! the complete parameters and data are then decoded with the types here.

use super::andx::begin_bytes;
use super::header::command;
use super::trans::{blocks, expect_word_count, put_parameters_and_data, setup_counts, BlockFields};
use crate::codec::{wire_u32, DecodeError, EncodeError, Reader, Writer};
use crate::dtyp::SecurityDescriptor;

/// NT_TRANSACT subcommand codes, the Function field (MS-CIFS §2.2.2.2).
pub mod function {
    /// NT_TRANSACT_CREATE.
    pub const CREATE: u16 = 0x0001;
    /// NT_TRANSACT_IOCTL.
    pub const IOCTL: u16 = 0x0002;
    /// NT_TRANSACT_SET_SECURITY_DESC.
    pub const SET_SECURITY_DESC: u16 = 0x0003;
    /// NT_TRANSACT_NOTIFY_CHANGE.
    pub const NOTIFY_CHANGE: u16 = 0x0004;
    /// NT_TRANSACT_RENAME.
    pub const RENAME: u16 = 0x0005;
    /// NT_TRANSACT_QUERY_SECURITY_DESC.
    pub const QUERY_SECURITY_DESC: u16 = 0x0006;
    /// NT_TRANSACT_QUERY_QUOTA (MS-SMB).
    pub const QUERY_QUOTA: u16 = 0x0007;
    /// NT_TRANSACT_SET_QUOTA (MS-SMB).
    pub const SET_QUOTA: u16 = 0x0008;
}

/// FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB §2.2.7.2.1): its output
/// (MS-SMB §2.2.7.2.2.1: NumberOfSnapShots, NumberOfSnapShotsReturned,
/// SnapShotArraySize, SnapShotMultiSZ) is the SRV_SNAPSHOT_ARRAY of SMB2,
/// parsed by [`fscc::parse_snapshot_array`](crate::fscc::parse_snapshot_array).
pub const FSCTL_SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;

/// WordCount of an NT_TRANSACT request without setup words: 0x13 +
/// SetupCount (MS-CIFS §2.2.4.62.1).
const NT_TRANS_REQUEST_WORDS: usize = 19;

/// A single-message SMB_COM_NT_TRANSACT request (MS-CIFS §2.2.4.62.1).
///
/// Words: MaxSetupCount (1), Reserved1 (2), TotalParameterCount,
/// TotalDataCount, MaxParameterCount, MaxDataCount, ParameterCount,
/// ParameterOffset, DataCount, DataOffset (4 each), SetupCount (1),
/// Function (2), Setup\[SetupCount\]; Bytes: Pad1, NT_Trans_Parameters, Pad2,
/// NT_Trans_Data. The subcommand requests build one of these; it is public
/// so that other subcommands can be sent too.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NtTransactRequest {
    /// Function: the subcommand (see [`function`]).
    pub function: u16,
    /// Setup words.
    pub setup: Vec<u16>,
    /// NT_Trans_Parameters.
    pub parameters: Vec<u8>,
    /// NT_Trans_Data.
    pub data: Vec<u8>,
    /// MaxSetupCount: the most setup words the client accepts back.
    pub max_setup_count: u8,
    /// MaxParameterCount: the most parameter bytes the client accepts back.
    pub max_parameter_count: u32,
    /// MaxDataCount: the most data bytes the client accepts back.
    pub max_data_count: u32,
}

impl NtTransactRequest {
    /// Appends WordCount, Words, ByteCount and Bytes to `w`, which holds
    /// exactly the 32-byte SMB_COM_NT_TRANSACT request header. Parameters
    /// and data are each 4-byte aligned from the header start (3 pad bytes
    /// after a setup-less request's ByteCount); TotalParameterCount =
    /// ParameterCount and TotalDataCount = DataCount (one message).
    ///
    /// # Errors
    ///
    /// If there are more than 236 setup words, or the parameters and data
    /// exceed the 65535 bytes of ByteCount (see the
    /// [`trans`](super::trans) module documentation).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.encode_part(w, &self.parameters, &self.data)
    }

    /// [`NtTransactRequest::encode`] carrying only `parameters` and `data`
    /// (the first bytes of the whole), with the totals of the whole: the
    /// primary request of a transaction continued by
    /// NT_TRANSACT_SECONDARY requests.
    pub(super) fn encode_part(
        &self,
        w: &mut Writer,
        parameters: &[u8],
        data: &[u8],
    ) -> Result<(), EncodeError> {
        let (word_count, setup_count) = setup_counts(
            self.setup.len(),
            NT_TRANS_REQUEST_WORDS,
            "NT_TRANSACT SetupCount",
        )?;
        let total_parameter_count =
            wire_u32(self.parameters.len(), "NT_TRANSACT TotalParameterCount")?;
        let total_data_count = wire_u32(self.data.len(), "NT_TRANSACT TotalDataCount")?;
        let parameter_count = wire_u32(parameters.len(), "NT_TRANSACT ParameterCount")?;
        let data_count = wire_u32(data.len(), "NT_TRANSACT DataCount")?;
        w.u8(word_count)
            .u8(self.max_setup_count)
            .u16(0) // Reserved1
            .u32(total_parameter_count)
            .u32(total_data_count)
            .u32(self.max_parameter_count)
            .u32(self.max_data_count)
            .u32(parameter_count);
        let parameter_offset_pos = w.len();
        w.u32(0).u32(data_count);
        let data_offset_pos = w.len();
        w.u32(0).u8(setup_count).u16(self.function);
        for s in &self.setup {
            w.u16(*s);
        }
        let fields = BlockFields {
            at: [parameter_offset_pos, data_offset_pos, begin_bytes(w)],
            names: [
                "NT_TRANSACT ParameterOffset",
                "NT_TRANSACT DataOffset",
                "NT_TRANSACT ByteCount",
            ],
            wide: true,
        };
        put_parameters_and_data(w, parameters, data, &fields)
    }

    /// Decodes a single-message request (for test servers and round
    /// trips): WordCount must be 19 + SetupCount, the counts must equal the
    /// totals (no secondaries) and the blocks must lie within
    /// SMB_Data.Bytes.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_NT_TRANSACT request";
        let b = blocks(msg, &[command::NT_TRANSACT], what)?;
        let mut r = Reader::new(b.words);
        let max_setup_count = r.u8(what)?;
        r.skip(2, what)?; // Reserved1
        let total_parameter_count = r.u32(what)?;
        let total_data_count = r.u32(what)?;
        let max_parameter_count = r.u32(what)?;
        let max_data_count = r.u32(what)?;
        let parameter_count = r.u32(what)?;
        let parameter_offset = r.u32(what)?;
        let data_count = r.u32(what)?;
        let data_offset = r.u32(what)?;
        let setup_count = usize::from(r.u8(what)?);
        let function = r.u16(what)?;
        expect_word_count(b.words, NT_TRANS_REQUEST_WORDS + setup_count, what)?;
        let setup = (0..setup_count)
            .map(|_| r.u16(what))
            .collect::<Result<Vec<_>, _>>()?;
        if parameter_count != total_parameter_count || data_count != total_data_count {
            return Err(DecodeError::invalid(
                what,
                "counts below the totals: secondary requests are not supported",
            ));
        }
        let block = |offset: u32, count: u32, name: &'static str| -> Result<Vec<u8>, DecodeError> {
            if count == 0 {
                return Ok(Vec::new());
            }
            let (offset, count) = (offset as usize, count as usize);
            match offset.checked_add(count) {
                Some(end) if offset >= b.bytes.start && end <= b.bytes.end => {
                    Ok(msg[offset..end].to_vec())
                }
                _ => Err(DecodeError::OutOfBounds {
                    what: name,
                    offset,
                    length: count,
                    bound: b.bytes.end,
                }),
            }
        };
        Ok(NtTransactRequest {
            function,
            setup,
            parameters: block(parameter_offset, parameter_count, "NT_Trans_Parameters")?,
            data: block(data_offset, data_count, "NT_Trans_Data")?,
            max_setup_count,
            max_parameter_count,
            max_data_count,
        })
    }
}

/// NT_TRANSACT_IOCTL request (MS-CIFS §2.2.7.2.1, MS-SMB §2.2.7.2.1).
///
/// WordCount 0x17: SetupCount 4, Setup = FunctionCode (4), FID (2),
/// IsFsctl (1), IsFlags (1); TotalParameterCount, MaxParameterCount and
/// ParameterCount 0; NT_Trans_Data = the input buffer; MaxSetupCount 4.
/// The response (MS-CIFS §2.2.7.2.2) has setup words the client ignores
/// (one per MS-CIFS; MS-SMB §2.2.7.2.2.1 shows four for
/// FSCTL_SRV_ENUMERATE_SNAPSHOTS), no parameters, and the output buffer as
/// NT_Trans_Data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlRequest {
    /// FunctionCode: the IOCTL or FSCTL code.
    pub function_code: u32,
    /// FID of the open file, directory or pipe.
    pub fid: u16,
    /// IsFsctl: TRUE for an FSCTL ("The SMB_Parameters.Words.Setup.IsFsctl
    /// flag is set to 0x01", MS-CIFS §3.2.4.22).
    pub is_fsctl: bool,
    /// IsFlags: 0x01 when the share is in DFS, else 0 (MS-CIFS §3.2.4.22).
    pub is_flags: u8,
    /// NT_Trans_Data: the input buffer.
    pub data: Vec<u8>,
    /// MaxDataCount: the most output bytes the client accepts.
    pub max_data_count: u32,
}

impl IoctlRequest {
    /// FSCTL_SRV_ENUMERATE_SNAPSHOTS on `fid` (an open directory or file
    /// of the share), with no input (MS-SMB §2.2.7.2.1: MaxDataCount "MUST
    /// be greater than or equal to 0x000C"; SMB2 servers refuse less than
    /// 16). A server whose array does not fit `max_data_count` returns only
    /// the 12-byte header with NumberOfSnapShotsReturned 0 and the
    /// SnapShotArraySize needed, so a client asks with a small buffer and
    /// retries with 12 + SnapShotArraySize.
    pub fn enumerate_snapshots(fid: u16, max_data_count: u32) -> Self {
        IoctlRequest {
            function_code: FSCTL_SRV_ENUMERATE_SNAPSHOTS,
            fid,
            is_fsctl: true,
            is_flags: 0,
            data: Vec::new(),
            max_data_count,
        }
    }

    fn to_nt_transact(&self) -> NtTransactRequest {
        NtTransactRequest {
            function: function::IOCTL,
            setup: vec![
                self.function_code as u16,
                (self.function_code >> 16) as u16,
                self.fid,
                u16::from(u8::from(self.is_fsctl)) | (u16::from(self.is_flags) << 8),
            ],
            parameters: Vec::new(),
            data: self.data.clone(),
            max_setup_count: 4,
            max_parameter_count: 0,
            max_data_count: self.max_data_count,
        }
    }

    /// Appends the request to `w` (holding the SMB_COM_NT_TRANSACT header).
    ///
    /// # Errors
    ///
    /// If the input data exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.to_nt_transact().encode(w)
    }

    /// Decodes the request (for test servers and round trips): Function
    /// must be NT_TRANSACT_IOCTL with 4 setup words and no parameters.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "NT_TRANSACT_IOCTL request";
        let t = NtTransactRequest::decode(msg)?;
        match t.setup[..] {
            [lo, hi, fid, flags] if t.function == function::IOCTL && t.parameters.is_empty() => {
                Ok(IoctlRequest {
                    function_code: u32::from(lo) | (u32::from(hi) << 16),
                    fid,
                    is_fsctl: flags & 0xFF != 0,
                    is_flags: (flags >> 8) as u8,
                    data: t.data,
                    max_data_count: t.max_data_count,
                })
            }
            _ => Err(DecodeError::invalid(
                what,
                format!(
                    "Function {:#06x} with setup {:04x?} and {} parameter bytes",
                    t.function,
                    t.setup,
                    t.parameters.len()
                ),
            )),
        }
    }
}

/// NT_TRANSACT_QUERY_SECURITY_DESC request (MS-CIFS §2.2.7.6.1).
///
/// WordCount 0x13, MaxSetupCount 0, SetupCount 0, MaxParameterCount 4
/// ("This field MUST be 0x00000004"); NT_Trans_Parameters: FID (2),
/// Reserved (2, "MUST be 0x0000"), SecurityInfoFields (4); no data.
/// Decode the response with [`QuerySecurityDescResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySecurityDescRequest {
    /// FID of the open file (opened with READ_CONTROL).
    pub fid: u16,
    /// SecurityInfoFields: the parts wanted (see
    /// [`dtyp::security_information`](crate::dtyp::security_information)).
    pub security_information: u32,
    /// MaxDataCount: the largest descriptor the client accepts.
    pub max_data_count: u32,
}

impl QuerySecurityDescRequest {
    fn to_nt_transact(self) -> NtTransactRequest {
        let mut p = Writer::new();
        p.u16(self.fid).u16(0).u32(self.security_information);
        NtTransactRequest {
            function: function::QUERY_SECURITY_DESC,
            setup: Vec::new(),
            parameters: p.into_vec(),
            data: Vec::new(),
            max_setup_count: 0,
            max_parameter_count: 4,
            max_data_count: self.max_data_count,
        }
    }

    /// Appends the request to `w` (holding the SMB_COM_NT_TRANSACT header).
    /// Its fields have fixed sizes, so this does not fail in practice; the
    /// `Result` is that of [`NtTransactRequest::encode`].
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.to_nt_transact().encode(w)
    }

    /// Decodes the request (for test servers and round trips); Reserved is
    /// ignored.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "NT_TRANSACT_QUERY_SECURITY_DESC request";
        let t = NtTransactRequest::decode(msg)?;
        if t.function != function::QUERY_SECURITY_DESC || !t.setup.is_empty() {
            return Err(DecodeError::invalid(
                what,
                format!("Function {:#06x} with setup {:04x?}", t.function, t.setup),
            ));
        }
        let mut r = Reader::new(&t.parameters);
        let fid = r.u16(what)?;
        r.skip(2, what)?;
        Ok(QuerySecurityDescRequest {
            fid,
            security_information: r.u32(what)?,
            max_data_count: t.max_data_count,
        })
    }
}

/// NT_TRANSACT_QUERY_SECURITY_DESC response (MS-CIFS §2.2.7.6.2):
/// NT_Trans_Parameters LengthNeeded (4); NT_Trans_Data the self-relative
/// SECURITY_DESCRIPTOR (MS-DTYP §2.4.6).
///
/// When MaxDataCount is too small the server still sends a complete
/// response, with STATUS_BUFFER_TOO_SMALL, LengthNeeded "set to the length
/// required" and no data ("the NT_Trans_Data.SecurityDescriptor field of
/// the response remains empty", MS-CIFS §3.3.5.59, server processing of
/// NT_TRANSACT_QUERY_SECURITY_DESC): decode the part and
/// assemble it as usual whatever the status, then retry with
/// MaxDataCount = [`QuerySecurityDescResponse::length_needed`] (or
/// [`decode_length_needed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySecurityDescResponse {
    /// LengthNeeded: the size of the descriptor (returned or needed).
    pub length_needed: u32,
    /// The descriptor; `None` when the data is empty (buffer too small).
    pub security_descriptor: Option<SecurityDescriptor>,
}

impl QuerySecurityDescResponse {
    /// Decodes the assembled parameters and data: at least the 4 bytes of
    /// LengthNeeded (more are ignored), and, if there is data, a valid
    /// self-relative descriptor (see [`SecurityDescriptor::decode`]).
    pub fn decode(parameters: &[u8], data: &[u8]) -> Result<Self, DecodeError> {
        let length_needed = decode_length_needed(parameters)?;
        let security_descriptor = if data.is_empty() {
            None
        } else {
            Some(SecurityDescriptor::decode(data)?)
        };
        Ok(QuerySecurityDescResponse {
            length_needed,
            security_descriptor,
        })
    }
}

/// Reads LengthNeeded from the NT_Trans_Parameters of an
/// NT_TRANSACT_QUERY_SECURITY_DESC response (MS-CIFS §2.2.7.6.2), also for
/// a STATUS_BUFFER_TOO_SMALL response.
pub fn decode_length_needed(parameters: &[u8]) -> Result<u32, DecodeError> {
    Reader::new(parameters).u32("LengthNeeded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtyp::{ace_type, control, security_information, Ace, Acl, Sid};
    use crate::fscc::{parse_snapshot_array, SnapshotArray};
    use crate::smb1::trans::testutil::{request_writer, response_writer};
    use crate::smb1::trans::{TransAssembler, TransResponseFragment, TransResponsePart};
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};
    use crate::types::NtStatus;

    fn encode_with(f: impl FnOnce(&mut Writer) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut w = request_writer(command::NT_TRANSACT);
        f(&mut w).unwrap();
        w.into_vec()
    }

    #[test]
    fn query_security_desc_request_matches_hand_computed_bytes() {
        let req = QuerySecurityDescRequest {
            fid: 0x4003,
            security_information: security_information::OWNER
                | security_information::GROUP
                | security_information::DACL,
            max_data_count: 0x1000,
        };
        let msg = encode_with(|w| req.encode(w));
        let mut expected = msg[..32].to_vec();
        assert_eq!(expected[4], 0xA0);
        expected.extend_from_slice(&[
            0x13, // WordCount 19
            0x00, // MaxSetupCount
            0x00, 0x00, // Reserved1
            0x08, 0x00, 0x00, 0x00, // TotalParameterCount 8
            0x00, 0x00, 0x00, 0x00, // TotalDataCount 0
            0x04, 0x00, 0x00, 0x00, // MaxParameterCount 4
            0x00, 0x10, 0x00, 0x00, // MaxDataCount 4096
            0x08, 0x00, 0x00, 0x00, // ParameterCount 8
            0x4C, 0x00, 0x00, 0x00, // ParameterOffset 76
            0x00, 0x00, 0x00, 0x00, // DataCount 0
            0x54, 0x00, 0x00, 0x00, // DataOffset 84
            0x00, // SetupCount
            0x06, 0x00, // Function NT_TRANSACT_QUERY_SECURITY_DESC
            0x0B, 0x00, // ByteCount 11
            0x00, 0x00, 0x00, // Pad1 to 76
            0x03, 0x40, // FID
            0x00, 0x00, // Reserved
            0x07, 0x00, 0x00, 0x00, // SecurityInfoFields OWNER|GROUP|DACL
        ]);
        assert_eq!(msg, expected);
        assert_eq!(QuerySecurityDescRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, QuerySecurityDescRequest::decode);
        mutate_never_panics(&msg, QuerySecurityDescRequest::decode);
    }

    #[test]
    fn ioctl_request_layout_and_round_trip() {
        let req = IoctlRequest::enumerate_snapshots(0x4004, 16);
        let msg = encode_with(|w| req.encode(w));
        assert_eq!(msg[32], 0x17); // WordCount 23
        assert_eq!(msg[68], 4); // SetupCount
        assert_eq!(&msg[69..71], &[0x02, 0x00]); // Function
        assert_eq!(
            &msg[71..79],
            &[0x64, 0x40, 0x14, 0x00, 0x04, 0x40, 0x01, 0x00]
        ); // FunctionCode, FID, IsFsctl, IsFlags
        assert_eq!(&msg[79..81], &[3, 0]); // ByteCount: Pad1 only
        assert_eq!(msg.len(), 84);
        assert_eq!(IoctlRequest::decode(&msg).unwrap(), req);
        let with_input = IoctlRequest {
            function_code: 0x0011_C017,
            fid: 1,
            is_fsctl: true,
            is_flags: 1,
            data: vec![5; 33],
            max_data_count: 1024,
        };
        let msg = encode_with(|w| with_input.encode(w));
        assert_eq!(IoctlRequest::decode(&msg).unwrap(), with_input);
        assert!(QuerySecurityDescRequest::decode(&msg).is_err());
        assert_truncations_fail(&msg, IoctlRequest::decode);
        mutate_never_panics(&msg, IoctlRequest::decode);
        let generic = NtTransactRequest::decode(&msg).unwrap();
        assert_eq!(generic.function, function::IOCTL);
        assert_eq!(generic.data.len(), 33);
    }

    #[test]
    fn generic_request_round_trip() {
        let req = NtTransactRequest {
            function: function::NOTIFY_CHANGE,
            setup: vec![0x17, 0, 9, 1],
            parameters: vec![1, 2, 3],
            data: vec![4; 10],
            max_setup_count: 0,
            max_parameter_count: 4096,
            max_data_count: 0,
        };
        let msg = encode_with(|w| req.encode(w));
        assert_eq!(NtTransactRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, NtTransactRequest::decode);
        mutate_never_panics(&msg, NtTransactRequest::decode);
        let mut bad = msg.clone();
        bad[36] = 4; // TotalParameterCount 4 > ParameterCount 3
        assert!(NtTransactRequest::decode(&bad).is_err());
    }

    fn nt_response(status: NtStatus, setup: &[u16], params: &[u8], data: &[u8]) -> Vec<u8> {
        let mut w = response_writer(command::NT_TRANSACT, status, true);
        TransResponseFragment::whole(setup, params, data)
            .unwrap()
            .encode_nt(&mut w)
            .unwrap();
        w.into_vec()
    }

    fn assemble(msg: &[u8]) -> Result<(Vec<u8>, Vec<u8>), DecodeError> {
        let part = TransResponsePart::decode(msg)?;
        TransAssembler::new()
            .add(msg, &part)?
            .ok_or(DecodeError::invalid("response", "incomplete"))
    }

    fn sample_sd() -> SecurityDescriptor {
        let owner = Sid::new(5, &[21, 1, 2, 3, 1000]).unwrap();
        let everyone = Sid::new(1, &[0]).unwrap();
        SecurityDescriptor {
            revision: 1,
            control: control::SE_SELF_RELATIVE | control::SE_DACL_PRESENT,
            owner: Some(owner.clone()),
            group: Some(owner.clone()),
            sacl: None,
            dacl: Some(Acl {
                revision: 2,
                aces: vec![
                    Ace::new(ace_type::ACCESS_ALLOWED, 0, 0x001F_01FF, owner),
                    Ace::new(ace_type::ACCESS_ALLOWED, 0, 0x0012_00A9, everyone),
                ],
            }),
        }
    }

    #[test]
    fn query_security_desc_responses() {
        let sd = sample_sd();
        let bytes = sd.to_bytes().unwrap();
        let len = bytes.len() as u32;
        // Success: LengthNeeded and the descriptor.
        let msg = nt_response(NtStatus::SUCCESS, &[], &len.to_le_bytes(), &bytes);
        let (p, d) = assemble(&msg).unwrap();
        let resp = QuerySecurityDescResponse::decode(&p, &d).unwrap();
        assert_eq!(resp.length_needed, len);
        assert_eq!(resp.security_descriptor, Some(sd));
        assert_truncations_fail(&msg, assemble);
        mutate_never_panics(&msg, |m| {
            let (p, d) = assemble(m)?;
            QuerySecurityDescResponse::decode(&p, &d)
        });
        // STATUS_BUFFER_TOO_SMALL: parameters only, decodable despite the status.
        let msg = nt_response(NtStatus::BUFFER_TOO_SMALL, &[], &len.to_le_bytes(), &[]);
        let part = TransResponsePart::decode(&msg).unwrap();
        assert!(part.is_whole());
        let (p, d) = assemble(&msg).unwrap();
        assert_eq!(decode_length_needed(&p).unwrap(), len);
        let resp = QuerySecurityDescResponse::decode(&p, &d).unwrap();
        assert_eq!(resp.length_needed, len);
        assert_eq!(resp.security_descriptor, None);
        assert!(decode_length_needed(&p[..3]).is_err());
        // A corrupt descriptor fails.
        assert!(QuerySecurityDescResponse::decode(&p, &bytes[..10]).is_err());
    }

    #[test]
    fn ioctl_snapshot_response() {
        let array = SnapshotArray::from_snapshots(vec![
            "@GMT-2024.06.30-12.30.00".into(),
            "@GMT-2024.01.01-00.00.00".into(),
        ])
        .unwrap();
        let out = array.to_bytes();
        // Setup as MS-SMB §2.2.7.2.2.1 shows it: Function, FunctionCode, FID.
        let setup = [0x0002, 0x4064, 0x0014, 0x4004];
        let msg = nt_response(NtStatus::SUCCESS, &setup, &[], &out);
        let part = TransResponsePart::decode(&msg).unwrap();
        assert_eq!(part.setup, setup);
        let (p, d) = assemble(&msg).unwrap();
        assert!(p.is_empty());
        assert_eq!(parse_snapshot_array(&d).unwrap(), array);
        assert_eq!(msg[32], 0x16); // WordCount 18 + 4 setup words
        assert_truncations_fail(&msg, assemble);
    }

    #[test]
    fn setup_and_byte_count_limits() {
        use crate::codec::testutil::assert_too_large;
        use crate::smb1::andx::testutil::{byte_count, largest_ok};
        let request = |setup: usize, data: usize| {
            let req = NtTransactRequest {
                function: function::IOCTL,
                setup: vec![0; setup],
                parameters: Vec::new(),
                data: vec![0; data],
                max_setup_count: 0,
                max_parameter_count: 0,
                max_data_count: 0,
            };
            let mut w = request_writer(command::NT_TRANSACT);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        // WordCount is one byte: 19 + SetupCount.
        assert_eq!(request(236, 0).unwrap()[32], 255);
        assert_too_large(request(237, 0), "NT_TRANSACT SetupCount", 237, 236);
        // NT_TRANSACT counts are 32 bits, but the one message's ByteCount
        // is 16.
        let n = largest_ok(70_000, |n| request(4, n));
        assert!(byte_count(&request(4, n).unwrap()) >= 65532);
        assert!(matches!(
            request(4, n + 1),
            Err(EncodeError::TooLarge {
                what: "NT_TRANSACT ByteCount",
                limit: 65535,
                ..
            })
        ));
        let ioctl = |n: usize| {
            let mut w = request_writer(command::NT_TRANSACT);
            IoctlRequest {
                data: vec![1; n],
                ..IoctlRequest::enumerate_snapshots(7, 1024)
            }
            .encode(&mut w)
        };
        assert_eq!(largest_ok(70_000, ioctl), n);
    }
}
