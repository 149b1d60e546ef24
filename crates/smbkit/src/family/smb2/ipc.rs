//! Pipes (FSCTL_PIPE_TRANSCEIVE, MS-SMB2 §3.2.4.20.1), snapshots and
//! security queries over SMB2, each query a CREATE + X + CLOSE compound.

use super::*;

/// OutputBufferLength of the first security QUERY_INFO.
const SECURITY_FIRST_OUTPUT: u32 = 64 * 1024;

/// The largest security descriptor accepted when the server asks for a
/// bigger buffer (MS-DTYP descriptors are far smaller in practice).
const SECURITY_MAX_OUTPUT: u32 = 16 * 1024 * 1024;

/// Queries on one path, each a CREATE + query + CLOSE compound.
pub(crate) struct PathQuery<'a> {
    pub(crate) smb2: &'a Smb2,
    pub(crate) tree: u32,
    pub(crate) share: String,
    pub(crate) path: String,
    pub(crate) spec: OpenSpec,
    pub(crate) what: &'static str,
}

/// The middle response of a CREATE + X + CLOSE compound.
fn middle(rs: Vec<Response>, what: &'static str) -> Result<Response, Error> {
    rs.into_iter().next().ok_or_else(|| {
        ProtocolError::BadAnswer(crate::error::BadAnswer::Missing {
            what,
            missing: "the middle part of the compound",
        })
        .into()
    })
}

impl PathQuery<'_> {
    async fn run(
        &self,
        command: Command,
        charge: u16,
        body: Vec<u8>,
        deadline: Instant,
    ) -> Result<Response, Error> {
        let (_, rs) = self
            .smb2
            .open_do_close(
                self.tree,
                &self.share,
                &self.path,
                self.spec,
                vec![(command, charge, body)],
                self.what,
                deadline,
            )
            .await?;
        middle(rs, self.what)
    }

    /// CREATE + IOCTL FSCTL_SRV_ENUMERATE_SNAPSHOTS + CLOSE (MS-SMB2
    /// §2.2.31, §3.3.5.15.1).
    pub(crate) async fn enumerate_snapshots(
        &self,
        out_len: u32,
        deadline: Instant,
    ) -> Result<crate::family::Sized, Error> {
        use smbkit_proto::smb2::ioctl::{ctl_code, ioctl_flags, IoctlRequest, IoctlResponse};
        let req = IoctlRequest {
            ctl_code: ctl_code::FSCTL_SRV_ENUMERATE_SNAPSHOTS,
            file_id: FileId::ANY,
            input: Vec::new(),
            max_input_response: 0,
            max_output_response: out_len,
            flags: ioctl_flags::IS_FSCTL,
        };
        let charge = self.smb2.charge_for(out_len as usize);
        let r = self
            .run(Command::IOCTL, charge, body(|w| req.encode(w))?, deadline)
            .await?;
        let status = r.header.status;
        let data = if status == NtStatus::SUCCESS {
            IoctlResponse::decode(&r.msg)
                .map_err(|e| ProtocolError::decode("IOCTL response", e))?
                .output
                .into()
        } else {
            bytes::Bytes::new()
        };
        Ok(crate::family::Sized {
            status,
            data,
            needed: None,
        })
    }

    /// CREATE + QUERY_INFO SMB2_0_INFO_SECURITY + CLOSE (MS-SMB2 §2.2.37,
    /// §3.2.4.12). Should the descriptor not fit, the server answers
    /// STATUS_BUFFER_TOO_SMALL with the size it needs in the ERROR
    /// response (MS-SMB2 §2.2.2.2, §3.3.5.20.3).
    pub(crate) async fn query_security(
        &self,
        additional: u32,
        out_len: u32,
        deadline: Instant,
    ) -> Result<crate::family::Sized, Error> {
        use smbkit_proto::smb2::ErrorResponse;
        let q = QueryInfoRequest {
            info_type: info_type::SECURITY,
            file_info_class: 0,
            output_buffer_length: out_len,
            additional_information: additional,
            flags: 0,
            file_id: FileId::ANY,
            input: Vec::new(),
        };
        let charge = self.smb2.charge_for(out_len as usize);
        let r = self
            .run(
                Command::QUERY_INFO,
                charge,
                body(|w| q.encode(w))?,
                deadline,
            )
            .await?;
        let status = r.header.status;
        let (data, needed) = match status {
            NtStatus::SUCCESS => {
                let q = QueryInfoResponse::decode(&r.msg)
                    .map_err(|e| ProtocolError::decode("QUERY_INFO response", e))?;
                (q.data.into(), None)
            }
            NtStatus::BUFFER_TOO_SMALL => {
                let e = ErrorResponse::decode(&r.msg)
                    .map_err(|e| ProtocolError::decode("ERROR response", e))?;
                let needed = e
                    .error_data
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                (bytes::Bytes::new(), needed)
            }
            _ => (bytes::Bytes::new(), None),
        };
        Ok(crate::family::Sized {
            status,
            data,
            needed,
        })
    }
}

/// The failure of a pipe request `what` unless it succeeded or said
/// STATUS_BUFFER_OVERFLOW (more of the message waits).
fn pipe_status(r: &Response, what: &'static str) -> Result<(), Error> {
    let status = r.header.status;
    if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
        return Err(crate::error::pipe_io_failure(what, status));
    }
    Ok(())
}

impl Smb2 {
    pub(crate) fn query_limits(&self) -> crate::family::QueryLimits {
        let max_transact = self.info().max_transact_size.max(4096);
        crate::family::QueryLimits {
            security_first: SECURITY_FIRST_OUTPUT.min(max_transact),
            security_max: SECURITY_MAX_OUTPUT,
            fsctl_max: max_transact,
        }
    }

    /// Pipe IOCTLs and READs of up to 64 KiB, within what the server
    /// accepts; fragments as large as the RPC server takes.
    pub(crate) fn pipe_limits(&self) -> crate::family::PipeLimits {
        let info = self.info();
        crate::family::PipeLimits {
            io_size: info
                .max_transact_size
                .min(info.max_read_size)
                .clamp(1024, 64 * 1024),
            read_max: u32::MAX,
            max_fragment: u16::MAX,
        }
    }

    /// IOCTL FSCTL_PIPE_TRANSCEIVE (MS-SMB2 §2.2.31, MS-FSCC §2.3.49).
    pub(crate) async fn pipe_transact(
        &self,
        pipe: FileRef,
        data: &[u8],
        io_size: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        use smbkit_proto::smb2::ioctl::{ctl_code, ioctl_flags, IoctlRequest, IoctlResponse};
        let req = IoctlRequest {
            ctl_code: ctl_code::FSCTL_PIPE_TRANSCEIVE,
            file_id: file_id(pipe)?,
            input: data.to_vec(),
            max_input_response: 0,
            max_output_response: io_size,
            flags: ioctl_flags::IS_FSCTL,
        };
        let charge = self.charge_for(data.len().max(io_size as usize));
        let r = self
            .shared
            .request(Command::IOCTL, pipe.tree, charge, deadline, "IOCTL", |w| {
                req.encode(w)
            })
            .await?;
        pipe_status(&r, "FSCTL_PIPE_TRANSCEIVE")?;
        let out = IoctlResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("IOCTL response", e))?
            .output;
        if out.len() > io_size as usize {
            return Err(
                ProtocolError::BadAnswer(crate::error::BadAnswer::TooMuchData {
                    what: "FSCTL_PIPE_TRANSCEIVE",
                    got: out.len() as u64,
                    asked: u64::from(io_size),
                })
                .into(),
            );
        }
        Ok(out.into())
    }

    /// WRITE of one message to a pipe (MS-SMB2 §2.2.21; offset 0).
    pub(crate) async fn pipe_write(
        &self,
        pipe: FileRef,
        data: &[u8],
        deadline: Instant,
    ) -> Result<(), Error> {
        use smbkit_proto::smb2::write::encode_write_request;
        let id = file_id(pipe)?;
        let charge = self.charge_for(data.len());
        let r = self
            .shared
            .request(Command::WRITE, pipe.tree, charge, deadline, "WRITE", |w| {
                encode_write_request(w, 0, id, 0, data)
            })
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Err(crate::error::pipe_io_failure("WRITE", r.header.status));
        }
        Ok(())
    }

    /// READ of what the pipe holds (MS-SMB2 §2.2.19).
    pub(crate) async fn pipe_read(
        &self,
        pipe: FileRef,
        len: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        let mut req = super::transfer::read_request(file_id(pipe)?, 0, len);
        req.padding = 0x50;
        let charge = self.charge_for(len as usize);
        let r = self
            .shared
            .request(Command::READ, pipe.tree, charge, deadline, "READ", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        pipe_status(&r, "READ")?;
        let range = smbkit_proto::smb2::read::read_response_data_range(&r.msg)
            .map_err(|e| ProtocolError::decode("READ response", e))?;
        crate::family::check_pipe_read(range.len(), len, "READ")?;
        Ok(r.msg.slice(range))
    }
}
