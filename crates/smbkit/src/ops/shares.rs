//! Share listing (the reference's `listShares`): a DCE/RPC call on the
//! `\\PIPE\\srvsvc` named pipe of `IPC$` (MS-SRVS §2.1), written once over
//! the family's pipe primitives: a `bind` to the SRVSVC interface
//! (MS-RPCE §2.2.2, C706 §12.6.4.3), then `NetrShareEnum` at level 1
//! (MS-SRVS §3.1.4.8). Each PDU but the last of a request is written to
//! the pipe, the last goes in a transaction (SMB2 FSCTL_PIPE_TRANSCEIVE,
//! MS-SMB2 §2.2.31, §3.2.4.20.1; SMB1 TRANS_TRANSACT_NMPIPE, MS-CIFS
//! §2.2.5.6), and what does not fit its answer is read from the pipe.

use smbkit_proto::rpc::pdu::{self, BindAck, Reassembler};
use smbkit_proto::rpc::srvsvc::{self, ShareEnumResult};
use smbkit_proto::rpc::{NcaStatus, RpcError};
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options, share_access};
use smbkit_proto::NtStatus;
use tokio::time::Instant;

use super::Ctx;
use crate::error::{pipe_io_failure, BadAnswer, Error, FailureDetail, Internal, ProtocolError};
use crate::family::{FileRef, OpenSpec};
use crate::types::SharedDevice;

/// Access asked for on the `srvsvc` pipe: what Windows clients ask for
/// (read/write data, EAs and attributes, READ_CONTROL, SYNCHRONIZE).
const PIPE_ACCESS: u32 = access_mask::FILE_READ_DATA
    | access_mask::FILE_WRITE_DATA
    | access_mask::FILE_READ_EA
    | access_mask::FILE_WRITE_EA
    | access_mask::FILE_READ_ATTRIBUTES
    | access_mask::FILE_WRITE_ATTRIBUTES
    | access_mask::READ_CONTROL
    | access_mask::SYNCHRONIZE;

/// The call id of the `bind`; requests use the following ids.
const BIND_CALL_ID: u32 = 1;

/// The most `NetrShareEnum` calls one listing makes (each continuing with
/// the resume handle after ERROR_MORE_DATA).
const MAX_ENUM_CALLS: u32 = 256;

/// Lists the shares of the server.
pub(crate) async fn list_shares(ctx: &Ctx) -> Result<Vec<SharedDevice>, Error> {
    let limit = ctx.family().pipe_limits().io_size;
    let io_size = ctx
        .session
        .factory
        .tuning
        .pipe_io_size
        .map_or(limit, |t| t.min(limit));
    super::timed_again(ctx, |deadline| list_shares_with(ctx, io_size, deadline)).await
}

/// [`list_shares`] with `io_size` bytes of output per pipe transaction and
/// read (small values exercise the continuation reads).
pub(crate) async fn list_shares_with(
    ctx: &Ctx,
    io_size: u32,
    deadline: Instant,
) -> Result<Vec<SharedDevice>, Error> {
    let tree = ctx.tree("IPC$", deadline).await?;
    let mut spec = OpenSpec::new(
        PIPE_ACCESS,
        create_disposition::OPEN,
        create_options::NON_DIRECTORY_FILE,
    );
    spec.share = share_access::READ | share_access::WRITE;
    let name = srvsvc::SRVSVC_PIPE;
    let pipe = ctx
        .family()
        .open(tree, "IPC$", name, spec, "list_shares", deadline)
        .await
        .map_err(|e| match e {
            Error::OperationFailure { status, .. } => pipe_io_failure("opening the pipe", status),
            e => e,
        })?;
    // On an error, dropping the pipe hands its close to the connection.
    let shares = share_enum(ctx, pipe.file(), io_size, deadline).await?;
    pipe.close(deadline).await?;
    Ok(shares.into_iter().map(SharedDevice::from_info).collect())
}

/// Binds to SRVSVC and enumerates the shares over the open pipe.
async fn share_enum(
    ctx: &Ctx,
    pipe: FileRef,
    io_size: u32,
    deadline: Instant,
) -> Result<Vec<srvsvc::ShareInfo1>, Error> {
    // Bind (C706 §12.6.4.3); the answer is one bind_ack PDU.
    let bind = pdu::bind(BIND_CALL_ID, srvsvc::SRVSVC_SYNTAX);
    let mut got = Vec::new();
    let ack = pipe_transact(ctx, pipe, &[bind], io_size, deadline, |data| {
        got.extend_from_slice(data);
        match pdu::pdu_length(&got).map_err(rpc_decode)? {
            Some(len) if got.len() >= len => {
                BindAck::decode(&got[..len]).map(Some).map_err(rpc_failure)
            }
            _ => Ok(None),
        }
    })
    .await?;

    // Request fragments must also fit what one message of the family
    // carries.
    let frag = ctx
        .family()
        .pipe_limits()
        .max_fragment
        .min(ack.max_recv_frag);
    let mut calls = ShareEnumCalls::new(ctx.remote_name());
    loop {
        let (call_id, fragments) = calls.next_request(frag)?;
        let mut reassembler = Reassembler::new(call_id);
        let stub = pipe_transact(ctx, pipe, &fragments, io_size, deadline, |data| {
            reassembler.push(data).map_err(rpc_failure)
        })
        .await?;
        if let Some(shares) = calls.take_response(&stub)? {
            return Ok(shares);
        }
    }
}

/// One DCE/RPC exchange on a pipe: every fragment but the last is
/// written, the last goes in the pipe transaction, and what comes back is
/// fed to `feed` until it returns a value; while it wants more, the rest
/// is read from the pipe (after STATUS_BUFFER_OVERFLOW the rest of the
/// message, MS-SMB2 §3.2.4.20.1, MS-CIFS §3.3.5.57.7; otherwise the next
/// fragment).
async fn pipe_transact<T>(
    ctx: &Ctx,
    pipe: FileRef,
    fragments: &[Vec<u8>],
    io_size: u32,
    deadline: Instant,
    mut feed: impl FnMut(&[u8]) -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let family = ctx.family();
    let Some((last, first)) = fragments.split_last() else {
        return Err(Internal::Unexpected("no DCE/RPC PDU to send").into());
    };
    for f in first {
        family.pipe_write(pipe, f, deadline).await?;
    }
    let out = family.pipe_transact(pipe, last, io_size, deadline).await?;
    if let Some(v) = feed(&out)? {
        return Ok(v);
    }
    // The feeders bound what they accumulate (a Reassembler caps the
    // stub, a bind_ack is one PDU) and every read must bring data, so
    // this loop ends, at the latest at the deadline.
    let read_len = family.pipe_limits().read_max.min(io_size);
    loop {
        let data = family.pipe_read(pipe, read_len, deadline).await?;
        if let Some(v) = feed(&data)? {
            return Ok(v);
        }
    }
}

/// The NetrShareEnum calls of one listing (MS-SRVS §3.1.4.8), whatever
/// carries them: each request as DCE/RPC fragments, and the answers
/// gathered while the server says ERROR_MORE_DATA, at most
/// [`MAX_ENUM_CALLS`] times.
pub(crate) struct ShareEnumCalls {
    /// ServerName as the reference sends it: `\\REMOTE_NAME` (the server
    /// ignores it).
    server: String,
    call_id: u32,
    resume: Option<u32>,
    shares: Vec<srvsvc::ShareInfo1>,
}

impl ShareEnumCalls {
    pub(crate) fn new(remote_name: &str) -> Self {
        ShareEnumCalls {
            server: format!("\\\\{remote_name}"),
            call_id: BIND_CALL_ID,
            resume: None,
            shares: Vec::new(),
        }
    }

    /// The next request's call id and fragments (of at most `max_frag`
    /// bytes each).
    pub(crate) fn next_request(&mut self, max_frag: u16) -> Result<(u32, Vec<Vec<u8>>), Error> {
        if self.call_id >= BIND_CALL_ID + MAX_ENUM_CALLS {
            return Err(ProtocolError::BadAnswer(BadAnswer::NoProgress {
                what: "NetrShareEnum (ERROR_MORE_DATA)",
                attempts: MAX_ENUM_CALLS,
            })
            .into());
        }
        self.call_id += 1;
        let max = srvsvc::MAX_PREFERRED_LENGTH;
        let stub = match self.resume {
            None => srvsvc::netr_share_enum_request(&self.server, 1, max)?,
            Some(h) => srvsvc::netr_share_enum_request_resume(&self.server, 1, max, h)?,
        };
        let fragments = pdu::request_fragments(
            self.call_id,
            pdu::CONTEXT_ID,
            srvsvc::OPNUM_NETR_SHARE_ENUM,
            &stub,
            max_frag,
        );
        Ok((self.call_id, fragments))
    }

    /// Takes the reassembled response stub; the whole list once the server
    /// has sent it all.
    pub(crate) fn take_response(
        &mut self,
        stub: &[u8],
    ) -> Result<Option<Vec<srvsvc::ShareInfo1>>, Error> {
        let res = srvsvc::parse_netr_share_enum_response(stub)
            .map_err(|e| ProtocolError::decode("NetrShareEnum response", e))?;
        match next_enum_step(res, &mut self.shares)? {
            Some(h) => {
                self.resume = Some(h);
                Ok(None)
            }
            None => Ok(Some(std::mem::take(&mut self.shares))),
        }
    }
}

/// Applies one `NetrShareEnum` answer: appends its entries and returns the
/// resume handle to continue with, or `None` when the enumeration is
/// complete (MS-SRVS §3.1.4.8).
pub(crate) fn next_enum_step(
    res: ShareEnumResult,
    shares: &mut Vec<srvsvc::ShareInfo1>,
) -> Result<Option<u32>, Error> {
    match res.status {
        srvsvc::NERR_SUCCESS => {
            shares.extend(res.shares);
            Ok(None)
        }
        srvsvc::ERROR_MORE_DATA => {
            if res.shares.is_empty() {
                return Err(ProtocolError::BadAnswer(BadAnswer::Missing {
                    what: "NetrShareEnum (ERROR_MORE_DATA)",
                    missing: "any entry",
                })
                .into());
            }
            let Some(h) = res.resume_handle else {
                return Err(ProtocolError::BadAnswer(BadAnswer::Missing {
                    what: "NetrShareEnum (ERROR_MORE_DATA)",
                    missing: "a resume handle",
                })
                .into());
            };
            shares.extend(res.shares);
            Ok(Some(h))
        }
        code => Err(werror_failure(code)),
    }
}

/// A `NET_API_STATUS` error of `NetrShareEnum` as an
/// [`Error::OperationFailure`] with the closest NT status.
fn werror_failure(code: u32) -> Error {
    let (name, status) = match code {
        srvsvc::ERROR_ACCESS_DENIED => ("ERROR_ACCESS_DENIED", NtStatus::ACCESS_DENIED),
        srvsvc::ERROR_NOT_ENOUGH_MEMORY => ("ERROR_NOT_ENOUGH_MEMORY", NtStatus::NO_MEMORY),
        srvsvc::ERROR_INVALID_PARAMETER => ("ERROR_INVALID_PARAMETER", NtStatus::INVALID_PARAMETER),
        srvsvc::ERROR_INVALID_LEVEL => ("ERROR_INVALID_LEVEL", NtStatus::INVALID_LEVEL),
        // NERR_BufTooSmall.
        2123 => ("NERR_BufTooSmall", NtStatus::BUFFER_TOO_SMALL),
        _ => ("", NtStatus::UNSUCCESSFUL),
    };
    Error::OperationFailure {
        operation: "list_shares",
        path: String::new(),
        status,
        detail: Some(Box::new(FailureDetail::Werror {
            code,
            name: (!name.is_empty()).then_some(name),
        })),
    }
}

/// An RPC-level failure as an error: faults and refused binds are the
/// server saying no ([`Error::OperationFailure`]); undecodable PDUs are
/// [`Error::Protocol`].
pub(crate) fn rpc_failure(e: RpcError) -> Error {
    let status = match &e {
        RpcError::Decode(d) => return rpc_decode(d.clone()),
        RpcError::Fault { status, .. } => match *status {
            NcaStatus::ACCESS_DENIED => NtStatus::ACCESS_DENIED,
            NcaStatus::NCA_OP_RNG_ERROR | NcaStatus::NCA_UNK_IF => NtStatus::NOT_SUPPORTED,
            _ => NtStatus::UNSUCCESSFUL,
        },
        RpcError::BindNak { .. } | RpcError::ContextRejected { .. } => NtStatus::NOT_SUPPORTED,
        _ => NtStatus::UNSUCCESSFUL,
    };
    Error::OperationFailure {
        operation: "list_shares",
        path: String::new(),
        status,
        detail: Some(Box::new(FailureDetail::Rpc(e))),
    }
}

fn rpc_decode(d: smbkit_proto::DecodeError) -> Error {
    ProtocolError::decode("DCE/RPC PDU", d).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smbkit_proto::rpc::srvsvc::ShareInfo1;

    fn result(status: u32, names: &[&str], resume: Option<u32>) -> ShareEnumResult {
        ShareEnumResult {
            shares: names
                .iter()
                .map(|n| ShareInfo1 {
                    name: n.to_string(),
                    share_type: 0,
                    remark: String::new(),
                })
                .collect(),
            total_entries: 3,
            resume_handle: resume,
            status,
        }
    }

    #[test]
    fn more_data_continues_with_the_resume_handle() {
        let mut all = Vec::new();
        let step = next_enum_step(
            result(srvsvc::ERROR_MORE_DATA, &["a", "b"], Some(2)),
            &mut all,
        );
        assert_eq!(step.unwrap(), Some(2));
        let step = next_enum_step(result(0, &["c"], Some(0)), &mut all);
        assert_eq!(step.unwrap(), None);
        let names: Vec<_> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);

        // No progress or no handle: refused rather than looping.
        assert!(matches!(
            next_enum_step(result(srvsvc::ERROR_MORE_DATA, &[], Some(2)), &mut all),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            next_enum_step(result(srvsvc::ERROR_MORE_DATA, &["d"], None), &mut all),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn werror_becomes_an_operation_failure() {
        let mut all = Vec::new();
        let e = next_enum_step(result(5, &[], None), &mut all).unwrap_err();
        assert_eq!(e.status(), Some(NtStatus::ACCESS_DENIED));
        let msg = e.to_string();
        assert!(
            msg.contains("WERROR 5") && msg.contains("ERROR_ACCESS_DENIED"),
            "{msg}"
        );
        let e = werror_failure(1234);
        assert_eq!(e.status(), Some(NtStatus::UNSUCCESSFUL));
        assert!(e.to_string().contains("WERROR 1234"), "{e}");
        assert_eq!(werror_failure(124).status(), Some(NtStatus::INVALID_LEVEL));
    }

    #[test]
    fn rpc_errors_are_mapped() {
        let fault = RpcError::Fault {
            call_id: 2,
            status: NcaStatus::ACCESS_DENIED,
            did_not_execute: true,
        };
        let e = rpc_failure(fault);
        assert_eq!(e.status(), Some(NtStatus::ACCESS_DENIED));
        assert!(e.to_string().contains("did not execute"), "{e}");
        let e = rpc_failure(RpcError::Fault {
            call_id: 2,
            status: NcaStatus::NCA_OP_RNG_ERROR,
            did_not_execute: false,
        });
        assert_eq!(e.status(), Some(NtStatus::NOT_SUPPORTED));
        let nak = RpcError::BindNak {
            call_id: 1,
            reason: smbkit_proto::rpc::RejectReason(4),
        };
        let e = rpc_failure(nak);
        assert_eq!(e.status(), Some(NtStatus::NOT_SUPPORTED));
        assert!(
            matches!(
                &e,
                Error::OperationFailure { detail: Some(d), .. }
                    if matches!(**d, FailureDetail::Rpc(RpcError::BindNak { .. }))
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("bind refused"), "{e}");
        // A bind_ack that is really garbage is a protocol error.
        let e = BindAck::decode(&[5, 0, 12, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0])
            .map_err(rpc_failure)
            .unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    }
}
