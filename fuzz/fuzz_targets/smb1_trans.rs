//! SMB1 TRANSACTION / TRANSACTION2 / NT_TRANSACT responses: the part
//! decoders, the reassembly of a response sent in several messages, and the
//! decoders of the assembled parameters and data (FIND_FIRST2 / FIND_NEXT2,
//! the QUERY_*_INFORMATION levels, QUERY_SECURITY_DESC, the snapshot
//! IOCTL).
//!
//! Input: a 4-byte prefix, then the messages of one response, each as a
//! 16-bit little-endian length and that many bytes (the last one takes what
//! is left if the length runs past the end). Prefix byte 0, bit 0 set: the
//! assembler's limit is the 24-bit value of bytes 1..4 (as the client
//! derives it from the request's MaxParameterCount and MaxDataCount);
//! clear: the default limit.
//!
//! Every accepted part is also written into a plain reference buffer, and a
//! completed response must equal it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::fscc::parse_snapshot_array;
use smbkit_proto::smb1::header::{flags2, Header};
use smbkit_proto::smb1::nt_transact::{decode_length_needed, QuerySecurityDescResponse};
use smbkit_proto::smb1::trans::{TransAssembler, TransResponsePart, MAX_TRANSACTION_TOTAL};
use smbkit_proto::smb1::trans2::{
    decode_query_basic_info, decode_query_standard_info, parse_find_file_both_directory_info,
    parse_find_file_id_both_directory_info, FindFirst2ResponseParameters,
    FindNext2ResponseParameters, SmbQueryFileAllInfo,
};

/// At most this many messages per input.
const MAX_MESSAGES: usize = 8;

/// The reassembled bytes of one stream, kept the simple way.
#[derive(Default)]
struct Model {
    buf: Vec<u8>,
}

impl Model {
    fn put(&mut self, displacement: u32, bytes: &[u8]) {
        let start = displacement as usize;
        let end = start + bytes.len();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.buf[start..end].copy_from_slice(bytes);
    }

    fn finish(&self, total: u32) -> Vec<u8> {
        let mut v = self.buf.clone();
        v.resize(total as usize, 0);
        v
    }
}

/// The decoders the client runs on an assembled response.
fn payload(parameters: &[u8], data: &[u8], unicode: bool) {
    let _ = FindFirst2ResponseParameters::decode(parameters);
    let _ = FindNext2ResponseParameters::decode(parameters);
    for u in [unicode, !unicode] {
        let _ = parse_find_file_both_directory_info(data, u);
        let _ = parse_find_file_id_both_directory_info(data, u);
    }
    let _ = decode_query_basic_info(data);
    let _ = decode_query_standard_info(data);
    let _ = SmbQueryFileAllInfo::decode(data);
    let _ = decode_length_needed(parameters);
    let _ = QuerySecurityDescResponse::decode(parameters, data);
    let _ = parse_snapshot_array(data);
}

fuzz_target!(|data: &[u8]| {
    let Some((prefix, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let limit = if prefix[0] & 1 != 0 {
        u32::from_le_bytes([prefix[1], prefix[2], prefix[3], 0])
    } else {
        MAX_TRANSACTION_TOTAL
    };
    let mut asm = TransAssembler::with_limit(limit);
    let (mut params, mut dat) = (Model::default(), Model::default());
    for _ in 0..MAX_MESSAGES {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (msg, tail) = tail.split_at(len);
        rest = tail;

        let by_command = TransResponsePart::decode(msg);
        let trans = TransResponsePart::decode_trans(msg);
        let nt = TransResponsePart::decode_nt_trans(msg);
        // At most one of the two forms fits a header's command.
        assert!(trans.is_err() || nt.is_err());
        let Ok(part) = by_command else {
            assert!(trans.is_err() && nt.is_err());
            continue;
        };
        assert!(trans.as_ref().ok() == Some(&part) || nt.as_ref().ok() == Some(&part));
        // The ranges lie in the message and within the totals.
        let p = part.parameter_bytes(msg);
        let d = part.data_bytes(msg);
        assert_eq!(p.len(), part.parameters.len());
        assert_eq!(d.len(), part.data.len());
        assert!(
            u64::from(part.parameter_displacement) + p.len() as u64
                <= u64::from(part.total_parameter_count)
        );
        assert!(
            u64::from(part.data_displacement) + d.len() as u64 <= u64::from(part.total_data_count)
        );
        let unicode = Header::decode(msg).is_ok_and(|h| h.flags2 & flags2::UNICODE != 0);
        if part.is_whole() {
            payload(p, d, unicode);
        }

        let (was_complete, totals) = (asm.is_complete(), asm.totals());
        match asm.add(msg, &part) {
            Ok(done) => {
                assert!(!was_complete, "a part was added after completion");
                assert!(part.total_parameter_count.max(part.total_data_count) <= limit);
                params.put(part.parameter_displacement, p);
                dat.put(part.data_displacement, d);
                assert_eq!(
                    asm.totals(),
                    Some((part.total_parameter_count, part.total_data_count))
                );
                if let Some((parameters, data)) = done {
                    assert!(asm.is_complete());
                    assert_eq!(parameters, params.finish(part.total_parameter_count));
                    assert_eq!(data, dat.finish(part.total_data_count));
                    payload(&parameters, &data, unicode);
                }
            }
            // A refused part leaves the assembler as it was.
            Err(_) => {
                assert_eq!(asm.is_complete(), was_complete);
                assert_eq!(asm.totals(), totals);
            }
        }
    }
});
