//! DCE/RPC responses from the srvsvc pipe: bind_ack, response fragments
//! (reassembled from arbitrary splits) and the NetrShareEnum stub.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::rpc::{self, BindAck, Reassembler};

fuzz_target!(|data: &[u8]| {
    let _ = BindAck::decode(data);
    let _ = rpc::pdu::parse_response_fragment(data);
    let _ = rpc::srvsvc::parse_netr_share_enum_response(data);
    // Feed the bytes in two pieces, split where the first byte says.
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut r = Reassembler::new(1);
    if let Ok(None) = r.push(&data[..split]) {
        let _ = r.push(&data[split..]);
    }
});
