//! File-system information from QUERY_DIRECTORY, QUERY_INFO and IOCTL
//! responses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::fscc;

fuzz_target!(|data: &[u8]| {
    let _ = fscc::parse_id_both_directory_information(data);
    let _ = fscc::parse_both_directory_information(data);
    let _ = fscc::FileAllInformation::decode(data);
    let _ = fscc::FileAllInformation::decode_truncated(data);
    let _ = fscc::FileBasicInformation::decode(data);
    let _ = fscc::FileStandardInformation::decode(data);
    let _ = fscc::FileNetworkOpenInformation::decode(data);
    let _ = fscc::FileFsFullSizeInformation::decode(data);
    if let Ok(a) = fscc::parse_snapshot_array(data) {
        for s in &a.snapshots {
            let _ = fscc::gmt_token_to_unix(s);
        }
    }
});
