//! SMB1 READ_ANDX and WRITE_ANDX responses, against the request they
//! answer.
//!
//! Input: the request's byte count (32-bit little-endian: MaxCount of the
//! READ_ANDX, the data length of the WRITE_ANDX), then the response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb1::header::HEADER_LEN;
use smbkit_proto::smb1::{read_andx_data_range, ReadAndxResponse, WriteAndxResponse};

/// Where the Bytes of a READ_ANDX response start: header, WordCount, 12
/// words, ByteCount.
const READ_BYTES_START: usize = HEADER_LEN + 1 + 24 + 2;

fuzz_target!(|data: &[u8]| {
    let Some((requested, msg)) = data.split_first_chunk::<4>() else {
        return;
    };
    let requested = u32::from_le_bytes(*requested);

    let range = read_andx_data_range(msg);
    let decoded = ReadAndxResponse::decode(msg);
    assert_eq!(range.is_ok(), decoded.is_ok());
    if let (Ok(range), Ok(resp)) = (range, decoded) {
        assert!(range.start >= READ_BYTES_START && range.end <= msg.len());
        assert_eq!(resp.data, msg[range.clone()]);
        // What the client accepts: no more than it asked for.
        let _accepted = range.len() <= requested as usize;
    }

    if let Ok(resp) = WriteAndxResponse::decode(msg) {
        let written = resp.written(requested);
        assert!(written <= requested || written <= 0xFFFF);
        assert!(written == resp.count || written == resp.count & 0xFFFF);
    }
});
