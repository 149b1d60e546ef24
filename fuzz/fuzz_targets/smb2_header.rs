//! SMB2 header decoding and compound-chain splitting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::{split_compound, Header};

fuzz_target!(|data: &[u8]| {
    let _ = Header::decode(data);
    if let Ok(parts) = split_compound(data) {
        for part in parts {
            let _ = Header::decode(part);
        }
    }
});
