//! FSCTLs on an open file's handle over SMB2: IOCTL with
//! SMB2_0_IOCTL_IS_FSCTL (MS-SMB2 §2.2.31, §2.2.32, §3.2.4.20).

use smbkit_proto::smb2::ioctl::{ioctl_flags, IoctlRequest, IoctlResponse};
use smbkit_proto::smb2::is_error_response;

use super::*;
use crate::error::BadAnswer;
use crate::family::FsctlAnswer;

impl Smb2 {
    /// IOCTL `code` with `input` on the open `file`, with room for
    /// `max_output` bytes of output. The output of a response of any
    /// status is kept when it comes in an IOCTL body (a server answers
    /// some failures with data, MS-SMB2 §3.3.4.4: a copychunk beyond its
    /// limits says them); an SMB2 ERROR body gives no output.
    pub(crate) async fn fsctl(
        &self,
        file: FileRef,
        code: u32,
        input: Vec<u8>,
        max_output: u32,
        deadline: Instant,
    ) -> Result<FsctlAnswer, Error> {
        let charge = self.charge_for(input.len().max(max_output as usize));
        let req = IoctlRequest {
            ctl_code: code,
            file_id: file_id(file)?,
            input,
            max_input_response: 0,
            max_output_response: max_output,
            flags: ioctl_flags::IS_FSCTL,
        };
        let r = self
            .shared
            .request(Command::IOCTL, file.tree, charge, deadline, "IOCTL", |w| {
                req.encode(w)
            })
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && is_error_response(&r.msg) {
            return Ok(FsctlAnswer {
                status,
                output: bytes::Bytes::new(),
            });
        }
        let output = IoctlResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("IOCTL response", e))?
            .output;
        if output.len() > max_output as usize {
            return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                what: "IOCTL",
                got: output.len() as u64,
                asked: u64::from(max_output),
            })
            .into());
        }
        Ok(FsctlAnswer {
            status,
            output: output.into(),
        })
    }
}
