//! NetBIOS session service framing: the 4-byte frame header, then the
//! SESSION REQUEST answer in the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::nbss::{parse_frame_header, parse_session_response, DEFAULT_MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let Some((head, payload)) = data.split_first_chunk::<4>() else {
        return;
    };
    // The driver's limit, and a limit as tight as the bytes actually present.
    for max in [DEFAULT_MAX_FRAME, payload.len()] {
        if let Ok(header) = parse_frame_header(*head, max) {
            let _ = parse_session_response(header, payload);
        }
    }
});
