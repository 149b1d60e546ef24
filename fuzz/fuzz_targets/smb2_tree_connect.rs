//! SMB2 TREE_CONNECT response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::TreeConnectResponse;

fuzz_target!(|data: &[u8]| {
    let _ = TreeConnectResponse::decode(data);
});
