//! FSCTLs on an open file's FID over SMB1: NT_TRANSACT_IOCTL with IsFsctl
//! set (MS-CIFS §2.2.7.2, MS-SMB §2.2.7.2).

use smbkit_proto::smb1::nt_transact::IoctlRequest;

use super::*;
use crate::error::BadAnswer;
use crate::family::FsctlAnswer;

impl Smb1 {
    /// NT_TRANSACT_IOCTL `code` with `input` on the open `file`, with room
    /// for `max_output` bytes of output (the response's NT_Trans_Data, of
    /// whatever status).
    pub(crate) async fn fsctl(
        &self,
        file: FileRef,
        code: u32,
        input: Vec<u8>,
        max_output: u32,
        deadline: Instant,
    ) -> Result<FsctlAnswer, Error> {
        let (tid, fid) = tid_fid(file)?;
        let req = IoctlRequest {
            function_code: code,
            fid,
            is_fsctl: true,
            is_flags: 0,
            data: input,
            max_data_count: max_output,
        };
        let r = self
            .shared
            .request_trans(
                command::NT_TRANSACT,
                tid,
                deadline,
                "NT_TRANSACT_IOCTL",
                max_output,
                |w| req.encode(w),
            )
            .await?;
        fsctl_answer("NT_TRANSACT_IOCTL", r, u64::from(max_output))
    }
}

/// The status and data of a transaction response `r` to `what`, which asked
/// for at most `max_output` bytes of data: more is a protocol violation.
pub(super) fn fsctl_answer(
    what: &'static str,
    r: crate::driver::smb1::TransResp1,
    max_output: u64,
) -> Result<FsctlAnswer, Error> {
    if r.data.len() as u64 > max_output {
        return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
            what,
            got: r.data.len() as u64,
            asked: max_output,
        })
        .into());
    }
    Ok(FsctlAnswer {
        status: r.header.status,
        output: r.data.into(),
    })
}
