//! The other SMB1 responses: the header (with DOS error codes and the
//! signature check), TREE_CONNECT_ANDX, NT_CREATE_ANDX, CLOSE, ECHO,
//! LOGOFF_ANDX, TREE_DISCONNECT and the empty responses of the path
//! operations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb1::header::flags2;
use smbkit_proto::smb1::{
    decode_empty_response, dos_error, is_empty_error, CloseResponse, EchoResponse, Header,
    LogoffResponse, NtCreateAndxResponse, Smb1Signer, TreeConnectResponse, TreeDisconnectResponse,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::decode(data) {
        let _ = h.is_reply();
        if h.flags2 & flags2::NT_STATUS == 0 {
            let (class, code) = dos_error::split(h.status.0);
            let _ = dos_error::to_nt_status(class, code);
        }
        let signer = Smb1Signer::new(vec![0x5A; 16]);
        let _ = signer.verify(data, u32::from(h.mid));
    }
    let _ = is_empty_error(data);
    let _ = decode_empty_response(data);
    let _ = TreeConnectResponse::decode(data);
    let _ = NtCreateAndxResponse::decode(data);
    let _ = CloseResponse::decode(data);
    let _ = EchoResponse::decode(data);
    let _ = LogoffResponse::decode(data);
    let _ = TreeDisconnectResponse::decode(data);
});
