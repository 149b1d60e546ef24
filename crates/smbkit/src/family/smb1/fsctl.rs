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
        if r.data.len() > max_output as usize {
            return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                what: "NT_TRANSACT_IOCTL",
                got: r.data.len() as u64,
                asked: u64::from(max_output),
            })
            .into());
        }
        Ok(FsctlAnswer {
            status: r.header.status,
            output: r.data.into(),
        })
    }
}
