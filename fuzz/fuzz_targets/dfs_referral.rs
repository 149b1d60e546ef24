//! DFS referrals: RESP_GET_DFS_REFERRAL as a server sends it (the output of
//! FSCTL_DFS_GET_REFERRALS, or the data of SMB1's TRANS2_GET_DFS_REFERRAL
//! response), whole IOCTL responses carrying one, and the request decoders
//! of test servers. A response that decodes and encodes again must decode
//! to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::dfs::{
    ReferralEntry, ReferralRequest, ReferralRequestEx, ReferralResponse, MAX_EXPANDED_NAMES,
    MAX_REFERRALS,
};
use smbkit_proto::smb2::ioctl::IoctlResponse;

fn response(data: &[u8]) {
    let Ok(r) = ReferralResponse::decode(data) else {
        return;
    };
    assert!(r.entries.len() <= MAX_REFERRALS);
    let names: usize = r.name_lists().map(|n| n.expanded_names.len()).sum();
    assert!(names <= MAX_EXPANDED_NAMES);
    if let Some(v) = r.version() {
        assert!((1..=4).contains(&v));
        assert!(r.entries.iter().all(|e| e.version() == v));
    }
    for e in &r.entries {
        if let ReferralEntry::Target(t) = e {
            let _ = t.target_set_boundary();
            assert!(!t.target.contains('\0'));
        }
    }
    // What a client does with PathConsumed.
    let _ = r.consumed(r"\srv\root\link\dir\file");
    // Shared strings may make the encoding too long for 16-bit offsets;
    // whatever does encode decodes the same.
    if let Ok(again) = r.to_bytes() {
        assert_eq!(ReferralResponse::decode(&again).as_ref(), Ok(&r));
    }
}

fuzz_target!(|data: &[u8]| {
    response(data);
    if let Ok(io) = IoctlResponse::decode(data) {
        response(&io.output);
    }
    if let Ok(req) = ReferralRequest::decode(data) {
        let again = req.to_bytes().expect("a decoded request encodes");
        assert_eq!(again, data);
    }
    if let Ok(req) = ReferralRequestEx::decode(data) {
        let again = req.to_bytes().expect("a decoded request encodes");
        assert_eq!(ReferralRequestEx::decode(&again).as_ref(), Ok(&req));
    }
});
