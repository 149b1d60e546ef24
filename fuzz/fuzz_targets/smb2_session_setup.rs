//! SMB2 SESSION_SETUP response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::SessionSetupResponse;

fuzz_target!(|data: &[u8]| {
    let _ = SessionSetupResponse::decode(data);
});
