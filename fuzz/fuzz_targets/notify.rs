//! Change notification: the SMB2 CHANGE_NOTIFY response, the
//! FILE_NOTIFY_INFORMATION chain it carries (which is also what the
//! NT_Trans_Parameters of SMB1's NT_TRANSACT_NOTIFY_CHANGE response hold),
//! and the request decoders of test servers. A chain that decodes must
//! encode back to one that decodes to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::fscc::notify::{encode_notify_information, parse_notify_information};
use smbkit_proto::smb1::notify::{
    decode_notify_change_parameters, NotifyChangeRequest, NtCancelRequest,
};
use smbkit_proto::smb2::change_notify::{ChangeNotifyRequest, ChangeNotifyResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_notify_information(data) {
        assert!(entries.len() <= data.len() / 12 + 1);
        let again = encode_notify_information(&entries).expect("entries that decoded encode");
        assert_eq!(
            parse_notify_information(&again).expect("what was encoded decodes"),
            entries
        );
    }
    if let Ok(r) = ChangeNotifyResponse::decode(data) {
        let _ = r.entries();
    }
    let _ = decode_notify_change_parameters(data);
    let _ = ChangeNotifyRequest::decode(data);
    let _ = NotifyChangeRequest::decode(data);
    let _ = NtCancelRequest::decode(data);
});
