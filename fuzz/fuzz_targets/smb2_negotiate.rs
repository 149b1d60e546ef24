//! SMB2 NEGOTIATE response, including the SMB 3.1.1 negotiate contexts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::NegotiateResponse;

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = NegotiateResponse::decode(data) {
        let _ = resp.preauth_integrity();
        let _ = resp.cipher();
        let _ = resp.signing_algorithm();
    }
});
