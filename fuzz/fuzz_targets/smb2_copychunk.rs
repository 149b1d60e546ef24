//! Server-side copy: the IOCTL responses to FSCTL_SRV_REQUEST_RESUME_KEY and
//! FSCTL_SRV_COPYCHUNK_WRITE (whole messages, whose output buffer is decoded
//! as SRV_REQUEST_RESUME_KEY and SRV_COPYCHUNK_RESPONSE, limits included),
//! the same structures as bare buffers (SMB1's NT_TRANSACT_IOCTL data), and
//! the SRV_COPYCHUNK_COPY request decoder of test servers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::smb2::copychunk::{
    CopychunkCopy, CopychunkLimits, CopychunkResponse, ResumeKeyResponse,
};
use smbkit_proto::smb2::ioctl::IoctlResponse;

fn outputs(output: &[u8]) {
    let _ = ResumeKeyResponse::decode(output);
    if let Ok(r) = CopychunkResponse::decode(output) {
        // What a client does with the limits of a refusal.
        let limits = r.limits();
        let ours = CopychunkLimits::DEFAULT.min(&limits);
        let chunks = ours.chunks_from(0, 1 << 30);
        assert!(chunks.len() <= ours.max_chunks as usize);
        assert!(chunks.iter().all(|c| c.length <= ours.max_chunk_size));
        assert!(
            chunks.iter().map(|c| u64::from(c.length)).sum::<u64>() <= u64::from(ours.max_total)
        );
        let _ = limits.within(&CopychunkLimits::DEFAULT);
    }
    if let Ok(c) = CopychunkCopy::decode(output) {
        // The same request again, its reserved fields zeroed.
        let again = c.to_bytes().expect("a decoded request encodes");
        assert_eq!(again.len(), output.len());
        assert_eq!(CopychunkCopy::decode(&again).as_ref(), Ok(&c));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = IoctlResponse::decode(data) {
        outputs(&r.output);
    }
    outputs(data);
});
