//! What a server sends about durable handles and leases: the create
//! contexts of a CREATE response (durable handle v1/v2 answers, lease
//! answers) and oplock and lease break notifications.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::create::{decode_create_contexts, CreateResponse};
use smbkit_proto::smb2::durable::{
    DurableOpen, DurableReconnectV1, DurableReconnectV2, DurableRequestV1, DurableRequestV2,
    DurableResponseV2, RequestLease,
};
use smbkit_proto::smb2::negotiate::capabilities;
use smbkit_proto::smb2::oplock::BreakNotification;
use smbkit_proto::Dialect;

fuzz_target!(|data: &[u8]| {
    let _ = BreakNotification::decode(data);
    let _ = DurableResponseV2::decode(data);
    let _ = DurableRequestV2::decode(data);
    let _ = DurableReconnectV2::decode(data);
    let _ = DurableReconnectV1::decode(data);
    let _ = DurableRequestV1::check_response(data);
    let _ = RequestLease::decode(data);
    let contexts = decode_create_contexts(data).unwrap_or_default();
    let from_response = CreateResponse::decode(data)
        .map(|r| r.contexts)
        .unwrap_or_default();
    for dialect in [Dialect::SMB2_1, Dialect::SMB3_1_1] {
        let d = DurableOpen::new(dialect, capabilities::LEASING, true, [1; 16], [2; 16]);
        let _ = d.granted(&contexts);
        let _ = d.granted(&from_response);
    }
});
