//! NTLM CHALLENGE_MESSAGE decoding, and the whole client answer to it
//! (NEGOTIATE -> AUTHENTICATE) for each response variant the client computes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::ntlm::messages::ChallengeMessage;
use smbkit_proto::ntlm::{Credentials, FixedRandomness, NtlmClient, NtlmOptions};

/// Fixed randomness so that a crash reproduces from its input alone.
const FIXED: FixedRandomness = FixedRandomness {
    client_challenge: [0xAA; 8],
    exported_session_key: [0x55; 16],
    timestamp: Some(0),
};

fn options() -> [(Credentials, NtlmOptions); 4] {
    let user = || Credentials::new("User", "Domain", "Password");
    let v2 = NtlmOptions::default();
    let v1_ess = NtlmOptions {
        use_ntlm_v2: false,
        ..NtlmOptions::default()
    };
    let v1 = NtlmOptions {
        use_ntlm_v2: false,
        extended_session_security: false,
        ..NtlmOptions::default()
    };
    [
        (user(), v2),
        (user(), v1_ess),
        (user(), v1),
        (Credentials::anonymous(), v2),
    ]
}

fuzz_target!(|data: &[u8]| {
    let _ = ChallengeMessage::decode(data);
    for (creds, opts) in options() {
        let mut client = NtlmClient::with_fixed_randomness(creds, opts, FIXED);
        let _ = client.negotiate();
        // Each variant takes a different path after the shared decode
        // (NTLMv2 re-encodes the target info, v1 does DES, anonymous skips
        // the key exchange), so all of them run on every input.
        if client.authenticate(data).is_ok() {
            let _ = client.session_key();
        }
    }
});
