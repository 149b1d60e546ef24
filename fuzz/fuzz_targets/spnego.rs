//! SPNEGO tokens from the server: the NEGOTIATE response hint
//! (NegTokenInit2), the NegTokenResp answers, and the SPNEGO+NTLM initiator
//! stepping with the input as the server's token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::ntlm::{Credentials, FixedRandomness, NtlmClient, NtlmOptions, SpnegoNtlm};
use smbkit_proto::spnego::{parse_neg_token_init, parse_neg_token_resp};

/// Fixed randomness so that a crash reproduces from its input alone.
const FIXED: FixedRandomness = FixedRandomness {
    client_challenge: [0xAA; 8],
    exported_session_key: [0x55; 16],
    timestamp: Some(0),
};

fuzz_target!(|data: &[u8]| {
    let _ = parse_neg_token_resp(data);
    if let Ok(init) = parse_neg_token_init(data) {
        let _ = init.offers(smbkit_proto::spnego::OID_NTLMSSP);
    }

    let client = NtlmClient::with_fixed_randomness(
        Credentials::new("User", "Domain", "Password"),
        NtlmOptions::default(),
        FIXED,
    );
    let mut auth = SpnegoNtlm::with_client(client);
    let _ = auth.initial_token();
    if auth.step(data).is_ok() {
        // The same bytes as the server's final token: reject state,
        // mechListMIC verification.
        let _ = auth.finish(data);
    }
});
