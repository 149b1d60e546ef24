//! SMB1 AndX chains: the chain walk, checked block by block, and every
//! chained block decoded by the response decoder of its command (as the
//! first block of a message with the same header).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb1::andx::{andx_blocks, is_andx_command, is_empty_error, MAX_ANDX_CHAIN};
use smbkit_proto::smb1::header::{command, HEADER_LEN};
use smbkit_proto::smb1::{
    decode_empty_response, read_andx_data_range, LogoffResponse, NtCreateAndxResponse,
    SessionSetupResponseExtended, SessionSetupResponseNtlm, TreeConnectResponse, WriteAndxResponse,
};

/// Runs the response decoder(s) of `cmd` on `msg`.
fn decode_as(cmd: u8, msg: &[u8]) {
    match cmd {
        command::SESSION_SETUP_ANDX => {
            let _ = SessionSetupResponseExtended::decode(msg);
            let _ = SessionSetupResponseNtlm::decode(msg);
        }
        command::TREE_CONNECT_ANDX => {
            let _ = TreeConnectResponse::decode(msg);
        }
        command::NT_CREATE_ANDX => {
            let _ = NtCreateAndxResponse::decode(msg);
        }
        command::READ_ANDX => {
            let _ = read_andx_data_range(msg);
        }
        command::WRITE_ANDX => {
            let _ = WriteAndxResponse::decode(msg);
        }
        command::LOGOFF_ANDX => {
            let _ = LogoffResponse::decode(msg);
        }
        _ => {
            let _ = decode_empty_response(msg);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = is_empty_error(data);
    let Ok(blocks) = andx_blocks(data) else {
        return;
    };
    assert!(!blocks.is_empty() && blocks.len() <= MAX_ANDX_CHAIN);
    assert_eq!(blocks[0].command, data[4]);
    assert_eq!(blocks[0].words.start, HEADER_LEN + 1);
    let mut prev_end = HEADER_LEN;
    for (i, b) in blocks.iter().enumerate() {
        let wc_pos = b.words.start - 1;
        assert!(wc_pos >= prev_end, "block {i} does not move forward");
        assert_eq!(usize::from(data[wc_pos]) * 2, b.words.len());
        assert_eq!(b.word_count() * 2, b.words.len());
        assert_eq!(b.bytes.start, b.words.end + 2);
        let byte_count = u16::from_le_bytes([data[b.words.end], data[b.words.end + 1]]);
        assert_eq!(usize::from(byte_count), b.bytes.len());
        assert!(b.bytes.end <= data.len());
        if i > 0 {
            // Linked from the previous block's AndXCommand.
            let prev = &blocks[i - 1];
            assert!(is_andx_command(prev.command) && prev.words.len() >= 4);
            assert_eq!(b.command, data[prev.words.start]);
        }
        prev_end = b.bytes.end;
    }

    // Each block as the only block of a message: the header with the
    // block's command, then the block.
    for b in &blocks[1..] {
        let mut msg = data[..HEADER_LEN].to_vec();
        msg[4] = b.command;
        msg.extend_from_slice(&data[b.words.start - 1..]);
        decode_as(b.command, &msg);
    }
    decode_as(blocks[0].command, data);
});
