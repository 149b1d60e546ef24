//! Pipes (MS-CIFS §2.2.5.6), snapshots (MS-SMB §2.2.7.2) and security
//! (MS-CIFS §2.2.7.6) over SMB1. Transaction responses larger than
//! smbkit's MaxBufferSize come in several messages, which the driver puts
//! together, and transaction requests larger than the server's go as
//! primary and secondary requests. RPC request fragments are still kept
//! within one message of the server's MaxBufferSize
//! (`Smb1::request_room`): all but the last are written with WRITE_ANDX,
//! which cannot be split.

use super::*;
use crate::error::{BadAnswer, Internal};

/// What a transaction, NT_TRANSACT or READ_ANDX message spends besides its
/// data: the 32-byte header, up to 22 words, ByteCount, a name and
/// alignment pads, with room to spare.
const MESSAGE_OVERHEAD: u32 = 256;

/// MaxDataCount of a TRANS_TRANSACT_NMPIPE: the most its 16-bit field
/// allows (the response may come in several messages).
const PIPE_IO: u32 = 0xFFFF;

/// The most output an NT_TRANSACT request asks for (and the largest
/// response total accepted): 1 MiB.
const NT_TRANS_OUTPUT_LIMIT: u32 = 1 << 20;

/// The least MaxDataCount used, whatever the server's MaxBufferSize.
const MIN_ROOM: u32 = 1024;

/// MaxDataCount of the first NT_TRANSACT_QUERY_SECURITY_DESC: room for a
/// DACL of the largest size an ACL can have (its AclSize is 16-bit) and
/// the rest of the descriptor.
const SECURITY_FIRST_OUTPUT: u32 = 80 * 1024;

/// The most data one READ_ANDX response on a pipe carries: smbkit's
/// MaxBufferSize less the headers (a READ_ANDX response is never split).
fn read_room() -> u32 {
    u32::from(CLIENT_MAX_BUFFER).saturating_sub(MESSAGE_OVERHEAD)
}

/// The data bytes a request message can carry to a server whose
/// MaxBufferSize is `max_buffer`.
fn room_for(max_buffer: u32) -> u32 {
    max_buffer
        .saturating_sub(MESSAGE_OVERHEAD)
        .clamp(MIN_ROOM, 0xFFFF)
}

/// The error of a share without snapshot support. Over SMB1 Samba answers
/// the FSCTL with STATUS_NOT_SUPPORTED (its VFS's ENOSYS), where over SMB2
/// it, like Windows, answers STATUS_INVALID_DEVICE_REQUEST (MS-SMB2
/// §3.3.5.15: an FSCTL the object does not support); the status is made
/// the SMB2 one so that callers matching on it see the same on both
/// protocols. The message keeps what the server said.
fn no_snapshot_support(share: &str, path: &str) -> Error {
    Error::OperationFailure {
        operation: "list_snapshots",
        path: crate::error::display(share, path),
        status: NtStatus::INVALID_DEVICE_REQUEST,
        detail: Some(Box::new(crate::error::FailureDetail::NoSnapshotSupport)),
    }
}

/// Queries on one path, opened once.
pub(crate) struct PathQuery {
    pub(crate) file: OpenFile,
    pub(crate) share: String,
    pub(crate) path: String,
}

impl PathQuery {
    /// NT_TRANSACT_IOCTL FSCTL_SRV_ENUMERATE_SNAPSHOTS on the open file (MS-SMB
    /// §2.2.7.2.1, §3.3.5.11.1). STATUS_NOT_SUPPORTED is the error of a share
    /// without snapshots ([`no_snapshot_support`]).
    pub(crate) async fn enumerate_snapshots(
        &self,
        out_len: u32,
        deadline: Instant,
    ) -> Result<crate::family::Sized, Error> {
        use smbkit_proto::smb1::nt_transact::IoctlRequest;
        let f = &self.file;
        let Family::Smb1(me) = f.family() else {
            return Err(Internal::WrongFamily.into());
        };
        let (tid, fid) = tid_fid(f.file())?;
        let req = IoctlRequest::enumerate_snapshots(fid, out_len);
        let r = me
            .shared
            .request_trans(
                command::NT_TRANSACT,
                tid,
                deadline,
                "NT_TRANSACT_IOCTL",
                out_len,
                |w| req.encode(w),
            )
            .await?;
        if r.header.status == NtStatus::NOT_SUPPORTED {
            return Err(no_snapshot_support(&self.share, &self.path));
        }
        Ok(crate::family::Sized {
            status: r.header.status,
            data: r.data.into(),
            needed: None,
        })
    }

    /// NT_TRANSACT_QUERY_SECURITY_DESC on the open `f` (MS-CIFS §2.2.7.6,
    /// §3.3.5.59.6); after STATUS_BUFFER_TOO_SMALL, LengthNeeded from the
    /// response's parameters (MS-CIFS §2.2.7.6.2).
    pub(crate) async fn query_security(
        &self,
        additional: u32,
        out_len: u32,
        deadline: Instant,
    ) -> Result<crate::family::Sized, Error> {
        use smbkit_proto::smb1::nt_transact::{decode_length_needed, QuerySecurityDescRequest};
        let f = &self.file;
        let Family::Smb1(me) = f.family() else {
            return Err(Internal::WrongFamily.into());
        };
        let (tid, fid) = tid_fid(f.file())?;
        let req = QuerySecurityDescRequest {
            fid,
            security_information: additional,
            max_data_count: out_len,
        };
        let r = me
            .shared
            .request_trans(
                command::NT_TRANSACT,
                tid,
                deadline,
                "NT_TRANSACT_QUERY_SECURITY_DESC",
                out_len,
                |w| req.encode(w),
            )
            .await?;
        let needed = if r.header.status == NtStatus::BUFFER_TOO_SMALL {
            decode_length_needed(&r.parameters).ok()
        } else {
            None
        };
        Ok(crate::family::Sized {
            status: r.header.status,
            data: r.data.into(),
            needed,
        })
    }
}

impl Smb1 {
    pub(crate) fn query_limits(&self) -> crate::family::QueryLimits {
        crate::family::QueryLimits {
            security_first: SECURITY_FIRST_OUTPUT,
            security_max: NT_TRANS_OUTPUT_LIMIT,
            fsctl_max: NT_TRANS_OUTPUT_LIMIT,
        }
    }

    /// The most data bytes one request message can carry: the server's
    /// MaxBufferSize (NEGOTIATE, kept as `max_transact_size`) less the
    /// headers, at most 0xFFFF.
    fn request_room(&self) -> u32 {
        room_for(self.info.max_transact_size)
    }

    /// TRANS_TRANSACT_NMPIPE asks for up to 0xFFFF bytes; READ_ANDX for
    /// what one response message of smbkit's MaxBufferSize holds; request
    /// fragments fit one message of the server's.
    pub(crate) fn pipe_limits(&self) -> crate::family::PipeLimits {
        crate::family::PipeLimits {
            io_size: PIPE_IO,
            read_max: read_room(),
            max_fragment: u16::try_from(self.request_room()).unwrap_or(u16::MAX),
        }
    }

    /// TRANS_TRANSACT_NMPIPE (MS-CIFS §2.2.5.6).
    pub(crate) async fn pipe_transact(
        &self,
        pipe: FileRef,
        data: &[u8],
        io_size: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        use smbkit_proto::smb1::trans::TransactNmPipeRequest;
        let io = u16::try_from(io_size).unwrap_or(u16::MAX);
        let (tid, fid) = tid_fid(pipe)?;
        let req = TransactNmPipeRequest {
            fid,
            data: data.to_vec(),
            max_data_count: io,
        };
        let r = self
            .shared
            .request_trans(
                command::TRANSACTION,
                tid,
                deadline,
                "TRANS_TRANSACT_NMPIPE",
                u32::from(io),
                |w| req.encode(w),
            )
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(crate::error::pipe_io_failure(
                "TRANS_TRANSACT_NMPIPE",
                status,
            ));
        }
        if r.data.len() > usize::from(io) {
            return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                what: "TRANS_TRANSACT_NMPIPE",
                got: r.data.len() as u64,
                asked: u64::from(io),
            })
            .into());
        }
        Ok(r.data.into())
    }

    /// WRITE_ANDX of one message to the pipe (offset 0, MS-CIFS
    /// §2.2.4.43); the server must take all of it.
    pub(crate) async fn pipe_write(
        &self,
        pipe: FileRef,
        data: &[u8],
        deadline: Instant,
    ) -> Result<(), Error> {
        let (tid, fid) = tid_fid(pipe)?;
        let len = data.len();
        let r = self
            .shared
            .send(
                command::WRITE_ANDX,
                tid,
                deadline,
                "WRITE_ANDX",
                |w| smbkit_proto::smb1::write::encode_write_andx_header(w, fid, 0, 0, len),
                bytes::Bytes::copy_from_slice(data),
            )
            .await?
            .response()
            .await?;
        if r.header.status.is_error() {
            return Err(crate::error::pipe_io_failure("WRITE_ANDX", r.header.status));
        }
        let resp = smbkit_proto::smb1::write::WriteAndxResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("WRITE_ANDX response", e))?;
        let written = resp.written(len as u32);
        if written as usize != len {
            return Err(ProtocolError::BadAnswer(BadAnswer::WriteCount {
                what: "write to the srvsvc pipe",
                written: u64::from(written),
                sent: len as u64,
            })
            .into());
        }
        Ok(())
    }

    /// READ_ANDX of what the pipe holds (MS-SMB §2.2.4.2;
    /// STATUS_BUFFER_OVERFLOW means more of the message is waiting).
    pub(crate) async fn pipe_read(
        &self,
        pipe: FileRef,
        len: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        use smbkit_proto::smb1::read::{read_andx_data_range, ReadAndxRequest};
        let (tid, fid) = tid_fid(pipe)?;
        let length = u16::try_from(len).unwrap_or(u16::MAX);
        let req = ReadAndxRequest {
            fid,
            offset: 0,
            max_count: u32::from(length),
            min_count: 0,
            // Timeout_or_MaxCountHigh of a pipe read: 0, return at once.
            pipe_timeout: Some(0),
            remaining: 0,
        };
        let r = self
            .shared
            .request(command::READ_ANDX, tid, deadline, "READ_ANDX", |w| {
                req.encode(w)
            })
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(crate::error::pipe_io_failure("READ_ANDX", status));
        }
        let range = read_andx_data_range(&r.msg)
            .map_err(|e| ProtocolError::decode("READ_ANDX response", e))?;
        crate::family::check_pipe_read(range.len(), u32::from(length), "READ_ANDX")?;
        Ok(r.msg.slice(range))
    }
}

#[cfg(test)]
mod transaction_tests {
    use super::*;

    #[test]
    fn no_snapshot_support_is_invalid_device_request() {
        let e = no_snapshot_support("share", "a\\b");
        assert_eq!(e.status(), Some(NtStatus::INVALID_DEVICE_REQUEST));
        let msg = e.to_string();
        assert!(
            msg.contains("\\share\\a\\b") && msg.contains("no snapshot support"),
            "{msg}"
        );
        assert!(matches!(
            e,
            Error::OperationFailure { detail: Some(d), .. }
                if *d == crate::error::FailureDetail::NoSnapshotSupport
        ));
    }

    #[test]
    fn requests_fit_one_message_of_the_server() {
        // Samba's MaxBufferSize.
        assert_eq!(room_for(16644), 16644 - MESSAGE_OVERHEAD);
        // Never less than MIN_ROOM, never past what 16-bit counts hold.
        assert_eq!(room_for(100), MIN_ROOM);
        assert_eq!(room_for(1 << 20), 0xFFFF);
        assert!(read_room() < u32::from(CLIENT_MAX_BUFFER));
    }
}
