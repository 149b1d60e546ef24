//! SMB1 SESSION_SETUP_ANDX responses, with extended security (and the
//! SPNEGO token it carries) and without (NT LM 0.12 strings).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb1::{SessionSetupResponseExtended, SessionSetupResponseNtlm};
use smbkit_proto::spnego::{parse_neg_token_init, parse_neg_token_resp};

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = SessionSetupResponseExtended::decode(data) {
        // SecurityBlobLength bytes from the message.
        assert!(resp.security_blob.len() <= data.len());
        let _ = parse_neg_token_resp(&resp.security_blob);
        let _ = parse_neg_token_init(&resp.security_blob);
    }
    let _ = SessionSetupResponseNtlm::decode(data);
});
