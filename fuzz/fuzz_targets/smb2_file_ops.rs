//! Responses to the file operations: CREATE, CLOSE, READ, WRITE,
//! QUERY_DIRECTORY, QUERY_INFO and IOCTL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::{close, create, ioctl, query_directory, query_info, read, write};

fuzz_target!(|data: &[u8]| {
    let _ = create::CreateResponse::decode(data);
    let _ = close::CloseResponse::decode(data);
    let _ = read::ReadResponse::decode(data);
    let _ = read::read_response_data_range(data);
    let _ = write::WriteResponse::decode(data);
    let _ = query_directory::QueryDirectoryResponse::decode(data);
    let _ = query_directory::query_directory_response_data_range(data);
    let _ = query_info::QueryInfoResponse::decode(data);
    let _ = ioctl::IoctlResponse::decode(data);
});
