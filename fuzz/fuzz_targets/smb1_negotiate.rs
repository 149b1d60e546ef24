//! SMB1 SMB_COM_NEGOTIATE response (the multi-protocol negotiate answer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb1::negotiate::NegotiateResponse;

fuzz_target!(|data: &[u8]| {
    let _ = NegotiateResponse::decode(data);
});
