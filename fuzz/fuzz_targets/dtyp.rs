//! Security descriptors from QUERY_INFO (SECURITY), and SIDs alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::dtyp::{SecurityDescriptor, Sid};

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = SecurityDescriptor::decode(data) {
        let _ = sd.to_string();
    }
    if let Ok(sid) = Sid::decode(data) {
        let _ = sid.to_string();
    }
});
