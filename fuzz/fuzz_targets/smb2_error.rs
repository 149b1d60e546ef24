//! SMB2 ERROR response, its error contexts, and the error-shape check the
//! driver runs on every response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::{is_error_response, ErrorResponse};

fuzz_target!(|data: &[u8]| {
    let _ = is_error_response(data);
    if let Ok(resp) = ErrorResponse::decode(data) {
        let _ = resp.contexts();
    }
});
