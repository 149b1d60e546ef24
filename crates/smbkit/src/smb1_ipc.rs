//! [`Connection::list_shares`], [`Connection::list_snapshots`] and
//! [`Connection::get_security`] over SMB1 (NT LM 0.12).
//!
//! * `list_shares`: `IPC$`, NT_CREATE_ANDX of the `srvsvc` pipe (MS-CIFS
//!   §2.2.4.64), the SRVSVC `bind` and `NetrShareEnum` (MS-SRVS §3.1.4.8)
//!   each in a TRANS_TRANSACT_NMPIPE (MS-CIFS §2.2.5.6), the rest of a
//!   response that does not fit (STATUS_BUFFER_OVERFLOW, MS-CIFS
//!   §3.3.5.57.7) or that comes in several RPC fragments read with
//!   READ_ANDX (MS-SMB §2.2.4.2), and CLOSE.
//! * `list_snapshots`: NT_TRANSACT_IOCTL FSCTL_SRV_ENUMERATE_SNAPSHOTS
//!   (MS-SMB §2.2.7.2), first with a 16-byte MaxDataCount for the counts,
//!   then with room for the whole array.
//! * `get_security`: NT_TRANSACT_QUERY_SECURITY_DESC (MS-CIFS §2.2.7.6),
//!   repeated with LengthNeeded after STATUS_BUFFER_TOO_SMALL.
//!
//! Transaction responses larger than smbkit's MaxBufferSize come in several
//! messages, which the driver puts together, and transaction requests
//! larger than the server's go as primary and secondary requests
//! ([`Smb1Shared::request_trans`](crate::driver::smb1::Smb1Shared)). RPC request fragments are still kept
//! within one message of the server's MaxBufferSize ([`request_room`]):
//! all but the last are written with WRITE_ANDX, which cannot be split.

use std::time::{Duration, SystemTime};

use smbkit_proto::dtyp::{security_information, SecurityDescriptor};
use smbkit_proto::fscc;
use smbkit_proto::rpc::pdu::{self, BindAck, Reassembler};
use smbkit_proto::rpc::srvsvc;
use smbkit_proto::smb1::header::command;
use smbkit_proto::smb1::nt_transact::{
    decode_length_needed, IoctlRequest, QuerySecurityDescRequest,
};
use smbkit_proto::smb1::read::{read_andx_data_range, ReadAndxRequest};
use smbkit_proto::smb1::trans::TransactNmPipeRequest;
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options};
use smbkit_proto::NtStatus;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::driver::smb1::{Smb1Shared, TransResp1};
use crate::error::{describe_status, Error, ProtocolError};
use crate::files::{display, failure, smb_path, OpenSpec};
use crate::ops::with_limit;
use crate::shares::{
    pipe_io_failure, rpc_failure, snapshot_time, ShareEnumCalls, BIND_CALL_ID, PIPE_ACCESS,
};
use crate::smb1ops::{self, Open1};
use crate::types::SharedDevice;

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

/// The most FSCTL_SRV_ENUMERATE_SNAPSHOTS round trips one listing makes.
const SNAPSHOT_ATTEMPTS: usize = 4;

/// MaxDataCount of the first FSCTL_SRV_ENUMERATE_SNAPSHOTS: room for the
/// counts only (MS-SMB §2.2.7.2.1: at least 0x000C; Samba wants 16).
const SNAPSHOT_FIRST_OUTPUT: u32 = 16;

/// Extra room asked for beyond the SnapShotArraySize the server reported,
/// in case a snapshot appears between two requests.
const SNAPSHOT_SLACK: u32 = 128;

/// MaxDataCount of the first NT_TRANSACT_QUERY_SECURITY_DESC: room for a
/// DACL of the largest size an ACL can have (its AclSize is 16-bit) and
/// the rest of the descriptor.
const SECURITY_FIRST_OUTPUT: u32 = 80 * 1024;

/// The most NT_TRANSACT_QUERY_SECURITY_DESC round trips one call makes.
const SECURITY_ATTEMPTS: usize = 3;

/// How long a FID left open by a timed-out or cancelled operation is given
/// to close in the background.
const BACKGROUND_CLOSE: Duration = Duration::from_secs(5);

/// The most data bytes one request message can carry: the server's
/// MaxBufferSize (NEGOTIATE, kept as `max_transact_size`) less the headers,
/// at most 0xFFFF.
fn request_room(conn: &Connection) -> u32 {
    conn.server_info()
        .max_transact_size
        .saturating_sub(MESSAGE_OVERHEAD)
        .clamp(MIN_ROOM, 0xFFFF)
}

/// The most data one READ_ANDX response on a pipe carries: smbkit's
/// MaxBufferSize less the headers (a READ_ANDX response is never split).
fn read_room() -> u32 {
    u32::from(smb1ops::CLIENT_MAX_BUFFER).saturating_sub(MESSAGE_OVERHEAD)
}

/// `list_shares` over SMB1; see [`Connection::list_shares`].
pub(crate) async fn list_shares(
    conn: &Connection,
    s: &Smb1Shared,
) -> Result<Vec<SharedDevice>, Error> {
    let (deadline, limit) = conn.op_deadline();
    list_shares_with(conn, s, PIPE_IO, deadline)
        .await
        .map_err(|e| with_limit(e, limit))
}

/// [`list_shares`] with `io_size` bytes of MaxDataCount per
/// TRANS_TRANSACT_NMPIPE and READ_ANDX (small values exercise the
/// continuation reads).
async fn list_shares_with(
    conn: &Connection,
    s: &Smb1Shared,
    io_size: u32,
    deadline: Instant,
) -> Result<Vec<SharedDevice>, Error> {
    let tid = tid(conn, "IPC$", deadline).await?;
    let spec = OpenSpec::new(
        PIPE_ACCESS,
        create_disposition::OPEN,
        create_options::NON_DIRECTORY_FILE,
    );
    let pipe = FidGuard::open(
        conn,
        s,
        tid,
        "IPC$",
        srvsvc::SRVSVC_PIPE,
        spec,
        "list_shares",
        deadline,
    )
    .await?;
    let outcome = share_enum(conn, s, &pipe.open, io_size, deadline).await;
    let closed = pipe.close(s, deadline).await;
    let shares = outcome?;
    closed?;
    Ok(shares.into_iter().map(SharedDevice::from_info).collect())
}

/// Binds to SRVSVC and enumerates the shares over the open pipe, as
/// `Connection::share_enum` does over SMB2.
async fn share_enum(
    conn: &Connection,
    s: &Smb1Shared,
    pipe: &Open1,
    io_size: u32,
    deadline: Instant,
) -> Result<Vec<srvsvc::ShareInfo1>, Error> {
    let io = u16::try_from(io_size).unwrap_or(u16::MAX);
    let bind = pdu::bind(BIND_CALL_ID, srvsvc::SRVSVC_SYNTAX);
    let mut got = Vec::new();
    let ack = pipe_transact(s, pipe, &[bind], io, deadline, |data| {
        got.extend_from_slice(data);
        match pdu::pdu_length(&got).map_err(|e| ProtocolError::decode("DCE/RPC PDU", e))? {
            Some(len) if got.len() >= len => BindAck::decode(&got[..len])
                .map(Some)
                .map_err(|e| rpc_failure("bind to SRVSVC", e)),
            _ => Ok(None),
        }
    })
    .await?;

    // Request fragments must fit one request message of the server's
    // MaxBufferSize (those written with WRITE_ANDX cannot be split).
    let frag = u16::try_from(request_room(conn))
        .unwrap_or(u16::MAX)
        .min(ack.max_recv_frag);
    let mut calls = ShareEnumCalls::new(conn.remote_name());
    loop {
        let (call_id, fragments) = calls.next_request(frag)?;
        let mut reassembler = Reassembler::new(call_id);
        let stub = pipe_transact(s, pipe, &fragments, io, deadline, |data| {
            reassembler
                .push(data)
                .map_err(|e| rpc_failure("NetrShareEnum", e))
        })
        .await?;
        if let Some(shares) = calls.take_response(&stub)? {
            return Ok(shares);
        }
    }
}

/// One DCE/RPC exchange on the pipe: every fragment but the last is
/// written with WRITE_ANDX, the last goes in TRANS_TRANSACT_NMPIPE (MS-CIFS
/// §2.2.5.6), and what comes back is fed to `feed` until it returns a
/// value; while it wants more, the rest is read with READ_ANDX (after
/// STATUS_BUFFER_OVERFLOW the rest of the message, otherwise the next
/// fragment).
async fn pipe_transact<T>(
    s: &Smb1Shared,
    pipe: &Open1,
    fragments: &[Vec<u8>],
    io: u16,
    deadline: Instant,
    mut feed: impl FnMut(&[u8]) -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let Some((last, first)) = fragments.split_last() else {
        return Err(Error::InvalidArgument("no PDU to send".into()));
    };
    for f in first {
        pipe_write(s, pipe, f, deadline).await?;
    }
    let req = TransactNmPipeRequest {
        fid: pipe.fid,
        data: last.clone(),
        max_data_count: io,
    };
    let r = s
        .request_trans(
            command::TRANSACTION,
            pipe.tid,
            deadline,
            "TRANS_TRANSACT_NMPIPE",
            u32::from(io),
            |w| req.encode(w),
        )
        .await?;
    let status = r.header.status;
    if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
        return Err(pipe_io_failure("TRANS_TRANSACT_NMPIPE", status));
    }
    let data = &r.data[..];
    if data.len() > usize::from(io) {
        return Err(ProtocolError::Unexpected(format!(
            "TRANS_TRANSACT_NMPIPE returned {} bytes, more than the {io} asked for",
            data.len()
        ))
        .into());
    }
    if let Some(v) = feed(data)? {
        return Ok(v);
    }
    // The feeders bound what they accumulate and every READ_ANDX must bring
    // data, so this loop ends, at the latest at the deadline.
    let read_len = u16::try_from(read_room().min(u32::from(io))).unwrap_or(u16::MAX);
    loop {
        let data = pipe_read(s, pipe, read_len, deadline).await?;
        if let Some(v) = feed(&data)? {
            return Ok(v);
        }
    }
}

/// WRITE_ANDX of one PDU to the pipe (offset 0, MS-CIFS §2.2.4.43).
async fn pipe_write(
    s: &Smb1Shared,
    pipe: &Open1,
    data: &[u8],
    deadline: Instant,
) -> Result<(), Error> {
    let len = data.len();
    let r = s
        .request_with_tail(
            command::WRITE_ANDX,
            pipe.tid,
            deadline,
            "WRITE_ANDX",
            |w| smbkit_proto::smb1::write::encode_write_andx_header(w, pipe.fid, 0, 0, len),
            bytes::Bytes::copy_from_slice(data),
        )
        .await?;
    if r.header.status.is_error() {
        return Err(pipe_io_failure("WRITE_ANDX", r.header.status));
    }
    let resp = smbkit_proto::smb1::write::WriteAndxResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("WRITE_ANDX response", e))?;
    let written = resp.written(len as u32);
    if written as usize != len {
        return Err(ProtocolError::Unexpected(format!(
            "the srvsvc pipe took {written} of the {len} bytes of a PDU"
        ))
        .into());
    }
    Ok(())
}

/// READ_ANDX of up to `length` bytes from the pipe (MS-SMB §2.2.4.2;
/// STATUS_BUFFER_OVERFLOW means more of the message is waiting).
async fn pipe_read(
    s: &Smb1Shared,
    pipe: &Open1,
    length: u16,
    deadline: Instant,
) -> Result<bytes::Bytes, Error> {
    let req = ReadAndxRequest {
        fid: pipe.fid,
        offset: 0,
        max_count: u32::from(length),
        min_count: 0,
        // Timeout_or_MaxCountHigh of a pipe read: 0, return at once.
        pipe_timeout: Some(0),
        remaining: 0,
    };
    let r = s
        .request(command::READ_ANDX, pipe.tid, deadline, "READ_ANDX", |w| {
            req.encode(w)
        })
        .await?;
    let status = r.header.status;
    if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
        return Err(pipe_io_failure("READ_ANDX", status));
    }
    let range =
        read_andx_data_range(&r.msg).map_err(|e| ProtocolError::decode("READ_ANDX response", e))?;
    if range.is_empty() {
        return Err(ProtocolError::Unexpected(
            "the srvsvc pipe returned no data before the end of the RPC response".into(),
        )
        .into());
    }
    if range.len() > usize::from(length) {
        return Err(ProtocolError::Unexpected(format!(
            "READ_ANDX returned {} bytes, more than the {length} asked for",
            range.len()
        ))
        .into());
    }
    Ok(r.msg.slice(range))
}

/// `list_snapshots` over SMB1; see [`Connection::list_snapshots`].
pub(crate) async fn list_snapshots(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
) -> Result<Vec<SystemTime>, Error> {
    let (deadline, limit) = conn.op_deadline();
    async {
        let path = smb_path(path)?;
        let tid = tid(conn, share, deadline).await?;
        let spec = OpenSpec::new(
            access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        let f =
            FidGuard::open(conn, s, tid, share, &path, spec, "list_snapshots", deadline).await?;
        let outcome = enumerate_snapshots(s, &f.open, share, &path, deadline).await;
        let closed = f.close(s, deadline).await;
        let snapshots = outcome?;
        closed?;
        Ok(snapshots)
    }
    .await
    .map_err(|e| with_limit(e, limit))
}

/// FSCTL_SRV_ENUMERATE_SNAPSHOTS on the open `f` until the whole array
/// fits (MS-SMB §2.2.7.2.1, §3.3.5.11.1).
async fn enumerate_snapshots(
    s: &Smb1Shared,
    f: &Open1,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<Vec<SystemTime>, Error> {
    let cap = NT_TRANS_OUTPUT_LIMIT;
    let mut out_len = SNAPSHOT_FIRST_OUTPUT;
    for _ in 0..SNAPSHOT_ATTEMPTS {
        let req = IoctlRequest::enumerate_snapshots(f.fid, out_len);
        let r = s
            .request_trans(
                command::NT_TRANSACT,
                f.tid,
                deadline,
                "NT_TRANSACT_IOCTL",
                out_len,
                |w| req.encode(w),
            )
            .await?;
        let status = r.header.status;
        if status == NtStatus::BUFFER_TOO_SMALL && out_len < cap {
            // Not what MS-SMB prescribes (success with
            // NumberOfSnapShotsReturned 0): ask for more room.
            out_len = out_len.saturating_mul(16).clamp(4096.min(cap), cap);
            continue;
        }
        if status == NtStatus::NOT_SUPPORTED {
            return Err(no_snapshot_support(share, path));
        }
        if status != NtStatus::SUCCESS {
            return Err(failure("list_snapshots", share, path, status));
        }
        let output = &r.data[..];
        if output.len() > out_len as usize {
            return Err(ProtocolError::Unexpected(format!(
                "NT_TRANSACT_IOCTL returned {} bytes, more than the {out_len} asked for",
                output.len()
            ))
            .into());
        }
        let array = fscc::parse_snapshot_array(output)
            .map_err(|e| ProtocolError::decode("SRV_SNAPSHOT_ARRAY", e))?;
        if array.number_returned >= array.number_of_snapshots {
            return array.snapshots.iter().map(|t| snapshot_time(t)).collect();
        }
        let needed = array
            .array_size
            .saturating_add(12)
            .saturating_add(SNAPSHOT_SLACK);
        if needed > cap {
            return Err(ProtocolError::Unexpected(format!(
                "the snapshot list of '{path}' needs {needed} bytes, more than the \
                 {cap} smbkit accepts"
            ))
            .into());
        }
        out_len = needed.max(out_len.saturating_add(SNAPSHOT_SLACK)).min(cap);
    }
    Err(ProtocolError::Unexpected(format!(
        "the snapshot list of '{path}' did not fit after {SNAPSHOT_ATTEMPTS} requests"
    ))
    .into())
}

/// The error of a share without snapshot support. Over SMB1 Samba answers
/// the FSCTL with STATUS_NOT_SUPPORTED (its VFS's ENOSYS), where over SMB2
/// it, like Windows, answers STATUS_INVALID_DEVICE_REQUEST (MS-SMB2
/// §3.3.5.15: an FSCTL the object does not support); the status is made
/// the SMB2 one so that callers matching on it, as
/// [`Connection::list_snapshots`] suggests, see the same on both
/// protocols. The message keeps what the server said.
fn no_snapshot_support(share: &str, path: &str) -> Error {
    Error::OperationFailure {
        message: format!(
            "list_snapshots '{}' failed (the share has no snapshot support: the server answered \
             STATUS_NOT_SUPPORTED to FSCTL_SRV_ENUMERATE_SNAPSHOTS)",
            display(share, path)
        ),
        status: NtStatus::INVALID_DEVICE_REQUEST,
    }
}

/// `get_security` over SMB1; see [`Connection::get_security`].
pub(crate) async fn get_security(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
) -> Result<SecurityDescriptor, Error> {
    let (deadline, limit) = conn.op_deadline();
    let first = SECURITY_FIRST_OUTPUT;
    get_security_with(conn, s, share, path, first, deadline)
        .await
        .map_err(|e| with_limit(e, limit))
}

/// [`get_security`] starting with a MaxDataCount of `first` bytes.
async fn get_security_with(
    conn: &Connection,
    s: &Smb1Shared,
    share: &str,
    path: &str,
    first: u32,
    deadline: Instant,
) -> Result<SecurityDescriptor, Error> {
    let path = smb_path(path)?;
    let tid = tid(conn, share, deadline).await?;
    let spec = OpenSpec::new(
        access_mask::READ_CONTROL | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
        create_disposition::OPEN,
        0,
    );
    let f = FidGuard::open(conn, s, tid, share, &path, spec, "get_security", deadline).await?;
    let outcome = query_security(s, &f.open, share, &path, first, deadline).await;
    let closed = f.close(s, deadline).await;
    let sd = outcome?;
    closed?;
    Ok(sd)
}

/// NT_TRANSACT_QUERY_SECURITY_DESC on the open `f` for the owner, group
/// and DACL (MS-CIFS §2.2.7.6, §3.3.5.59.6).
async fn query_security(
    s: &Smb1Shared,
    f: &Open1,
    share: &str,
    path: &str,
    first: u32,
    deadline: Instant,
) -> Result<SecurityDescriptor, Error> {
    let cap = NT_TRANS_OUTPUT_LIMIT;
    let mut out_len = first.min(cap);
    for _ in 0..SECURITY_ATTEMPTS {
        let req = QuerySecurityDescRequest {
            fid: f.fid,
            security_information: security_information::OWNER
                | security_information::GROUP
                | security_information::DACL,
            max_data_count: out_len,
        };
        let r = s
            .request_trans(
                command::NT_TRANSACT,
                f.tid,
                deadline,
                "NT_TRANSACT_QUERY_SECURITY_DESC",
                out_len,
                |w| req.encode(w),
            )
            .await?;
        match r.header.status {
            NtStatus::SUCCESS => {
                let data = &r.data[..];
                if data.len() > out_len as usize {
                    return Err(ProtocolError::Unexpected(format!(
                        "NT_TRANSACT_QUERY_SECURITY_DESC returned {} bytes, more than the \
                         {out_len} asked for",
                        data.len()
                    ))
                    .into());
                }
                return SecurityDescriptor::decode(data)
                    .map_err(|e| ProtocolError::decode("security descriptor", e).into());
            }
            NtStatus::BUFFER_TOO_SMALL => {
                out_len = needed_length(&r, out_len, cap, path)?;
            }
            st => return Err(failure("get_security", share, path, st)),
        }
    }
    Err(ProtocolError::Unexpected(format!(
        "the security descriptor of '{path}' did not fit after {SECURITY_ATTEMPTS} requests"
    ))
    .into())
}

/// The next MaxDataCount after STATUS_BUFFER_TOO_SMALL: LengthNeeded from
/// the response's parameters (MS-CIFS §2.2.7.6.2), or four times the offer
/// when the server sent none; it must exceed the offer and stay within
/// `cap`.
fn needed_length(r: &TransResp1, offered: u32, cap: u32, path: &str) -> Result<u32, Error> {
    let needed = decode_length_needed(&r.parameters)
        .ok()
        .unwrap_or_else(|| offered.saturating_mul(4).min(cap));
    if needed <= offered {
        return Err(ProtocolError::Unexpected(format!(
            "STATUS_BUFFER_TOO_SMALL for a {offered}-byte buffer, asking for {needed} bytes"
        ))
        .into());
    }
    if needed > cap {
        return Err(ProtocolError::Unexpected(format!(
            "the security descriptor of '{path}' is {needed} bytes, more than the {cap} \
             smbkit accepts"
        ))
        .into());
    }
    Ok(needed)
}

/// The TID of `share`, connecting it if need be.
async fn tid(conn: &Connection, share: &str, deadline: Instant) -> Result<u16, Error> {
    let t = conn.tree(share, deadline).await?;
    u16::try_from(t).map_err(|_| {
        ProtocolError::Unexpected(format!("SMB1 tree id {t:#x} does not fit 16 bits")).into()
    })
}

/// A FID that is closed when the operation ends: inline by
/// [`FidGuard::close`] while time remains, otherwise (deadline passed, or
/// the operation's future dropped) in the background, so that neither a
/// timeout nor a cancellation leaves it open on the server.
struct FidGuard {
    conn: Connection,
    open: Open1,
    closed: bool,
}

impl FidGuard {
    /// NT_CREATE_ANDX of `path` on the tree `tid`.
    #[allow(clippy::too_many_arguments)]
    async fn open(
        conn: &Connection,
        s: &Smb1Shared,
        tid: u16,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &str,
        deadline: Instant,
    ) -> Result<FidGuard, Error> {
        let open = smb1ops::open(s, tid, share, path, spec, what, deadline).await?;
        Ok(FidGuard {
            conn: conn.clone(),
            open,
            closed: false,
        })
    }

    async fn close(mut self, s: &Smb1Shared, deadline: Instant) -> Result<(), Error> {
        if Instant::now() >= deadline {
            // Let Drop close it in the background.
            return Ok(());
        }
        let r = smb1ops::close_file(s, &self.open, deadline).await;
        // After a timeout the CLOSE may not have been processed: let Drop
        // send another in the background (a second CLOSE is harmless).
        if !matches!(r, Err(Error::Timeout { .. })) {
            self.closed = true;
        }
        r.map_err(|e| match e {
            Error::OperationFailure { status, .. } => Error::OperationFailure {
                message: format!("CLOSE failed ({})", describe_status(status)),
                status,
            },
            e => e,
        })
    }
}

impl Drop for FidGuard {
    fn drop(&mut self) {
        if self.closed || !self.conn.is_ready() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let conn = self.conn.clone();
            let (tid, fid) = (self.open.tid, self.open.fid);
            rt.spawn(async move {
                if let Some(s) = conn.smb1() {
                    let req = smbkit_proto::smb1::close::CloseRequest {
                        fid,
                        last_time_modified: smbkit_proto::smb1::close::KEEP_LAST_TIME_MODIFIED,
                    };
                    let _ = s
                        .request(
                            command::CLOSE,
                            tid,
                            Instant::now() + BACKGROUND_CLOSE,
                            "CLOSE",
                            |w| {
                                req.encode(w);
                                Ok(())
                            },
                        )
                        .await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against real Samba: the internal knobs the public API cannot reach
    //! (tiny pipe buffers force STATUS_BUFFER_OVERFLOW and READ_ANDX
    //! continuations; a tiny security buffer forces STATUS_BUFFER_TOO_SMALL
    //! and the retry with LengthNeeded).
    use super::*;
    use crate::SmbProtocolFactory;
    use smbkit_testserver::{Profile, TestServer};

    async fn connect(srv: &TestServer, direct: bool) -> Connection {
        SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
            .unwrap()
            .direct_tcp(direct)
            .connect((srv.host(), srv.port()))
            .await
            .unwrap()
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn small_pipe_buffers_read_the_rest() {
        for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
            let srv = TestServer::start(profile).unwrap();
            let conn = connect(&srv, true).await;
            let s = conn.smb1().expect("an SMB1 connection");
            let normal = conn.list_shares().await.unwrap();
            assert!(normal.len() >= 5, "{normal:?}");
            for io in [24u32, 64, 100, 1000] {
                let small = list_shares_with(&conn, s, io, deadline())
                    .await
                    .unwrap_or_else(|e| panic!("io size {io}: {e}\n{}", srv.log_tail(40)));
                assert_eq!(small, normal, "{profile} io size {io}");
            }
        }
    }

    #[tokio::test]
    async fn buffer_too_small_is_retried_with_length_needed() {
        let srv = TestServer::start(Profile::Smb1Only).unwrap();
        std::fs::write(srv.share_path().join("f.txt"), b"x").unwrap();
        let conn = connect(&srv, false).await;
        let s = conn.smb1().unwrap();
        let small = get_security_with(&conn, s, "share", "f.txt", 8, deadline())
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(40)));
        assert_eq!(small, conn.get_security("share", "f.txt").await.unwrap());
        assert!(small.owner.is_some());
    }

    /// A transaction response carrying `parameters` (no data) and
    /// `status`.
    fn response(status: NtStatus, parameters: &[u8]) -> TransResp1 {
        use smbkit_proto::smb1::header::{flags, flags2, Header};
        TransResp1 {
            header: Header {
                command: command::NT_TRANSACT,
                status,
                flags: flags::REPLY,
                flags2: flags2::UNICODE | flags2::NT_STATUS,
                pid_high: 0,
                security_features: [0; 8],
                tid: 1,
                pid_low: 0xFEFF,
                uid: 1,
                mid: 7,
            },
            parameters: parameters.to_vec(),
            data: Vec::new(),
            parts: 1,
        }
    }

    #[test]
    fn length_needed_must_grow_and_stay_within_the_cap() {
        let too_small = |needed: u32| response(NtStatus::BUFFER_TOO_SMALL, &needed.to_le_bytes());
        assert_eq!(needed_length(&too_small(120), 8, 4000, "f").unwrap(), 120);
        for (needed, offered) in [(8, 8), (4, 8), (5000, 8)] {
            let e = needed_length(&too_small(needed), offered, 4000, "f").unwrap_err();
            assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        }
        // No parameters (an error response without words): grow.
        let bare = response(NtStatus::BUFFER_TOO_SMALL, &[]);
        assert_eq!(needed_length(&bare, 100, 4000, "f").unwrap(), 400);
        assert_eq!(needed_length(&bare, 3000, 4000, "f").unwrap(), 4000);
        assert!(needed_length(&bare, 4000, 4000, "f").is_err());
    }

    #[test]
    fn no_snapshot_support_is_invalid_device_request() {
        let e = no_snapshot_support("share", "a\\b");
        assert_eq!(e.status(), Some(NtStatus::INVALID_DEVICE_REQUEST));
        let msg = e.to_string();
        assert!(
            msg.contains("\\share\\a\\b") && msg.contains("NOT_SUPPORTED"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn requests_fit_one_message_of_the_server() {
        let srv = TestServer::start(Profile::Smb1Only).unwrap();
        let conn = connect(&srv, true).await;
        // Samba's MaxBufferSize ("max xmit", 16644 by default) less the
        // headers.
        let max = conn.server_info().max_transact_size;
        assert!(max > MESSAGE_OVERHEAD + MIN_ROOM, "MaxBufferSize {max}");
        assert_eq!(request_room(&conn), max - MESSAGE_OVERHEAD);
        assert!(read_room() < u32::from(smb1ops::CLIENT_MAX_BUFFER));
    }

    // -----------------------------------------------------------------------
    // Responses the server splits over several messages: a client
    // MaxBufferSize of 1024 bytes makes Samba send every transaction
    // response above ~950 bytes in parts.
    // -----------------------------------------------------------------------

    /// The client MaxBufferSize of [`small_buffer_connect`].
    const SMALL_BUFFER: u16 = 1024;

    /// A connection whose SESSION_SETUP announced [`SMALL_BUFFER`].
    async fn small_buffer_connect(srv: &TestServer, direct: bool) -> Connection {
        smb1ops::TEST_MAX_BUFFER
            .scope(SMALL_BUFFER, connect(srv, direct))
            .await
    }

    /// Gives `path` a POSIX ACL (the `system.posix_acl_access` extended
    /// attribute, version 2) with `users` named-user entries.
    fn large_acl(path: &std::path::Path, users: u32) {
        const UNDEFINED: u32 = u32::MAX;
        let mut v = 2u32.to_le_bytes().to_vec();
        let mut entry = |tag: u16, perm: u16, id: u32| {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&id.to_le_bytes());
        };
        entry(0x01, 6, UNDEFINED); // ACL_USER_OBJ
        for uid in 0..users {
            entry(0x02, 4, 30_000 + uid); // ACL_USER
        }
        entry(0x04, 4, UNDEFINED); // ACL_GROUP_OBJ
        entry(0x10, 6, UNDEFINED); // ACL_MASK
        entry(0x20, 4, UNDEFINED); // ACL_OTHER
        let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
        let out = std::process::Command::new("setfattr")
            .args(["-n", "system.posix_acl_access", "-v"])
            .arg(format!("0x{hex}"))
            .arg(path)
            .output()
            .expect("run setfattr (Debian's attr package)");
        assert!(out.status.success(), "setfattr: {out:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn responses_in_many_messages_are_put_together() {
        use smbkit_testserver::ExtraConfig;
        let comment = "a share comment long enough to make the share list span messages";
        let sections: String = (0..60)
            .map(|i| format!("[extra{i:02}]\n\tpath = {{dir}}/share\n\tcomment = {comment} {i}\n"))
            .collect();
        for profile in [Profile::Smb1Only, Profile::Smb1Signing] {
            let srv = TestServer::start_with(
                profile,
                ExtraConfig {
                    sections: sections.clone(),
                    ..ExtraConfig::default()
                },
            )
            .unwrap();
            let acl_file = srv.share_path().join("acl.txt");
            std::fs::write(&acl_file, b"x").unwrap();
            large_acl(&acl_file, 150);
            let dir = srv.share_path().join("dir");
            std::fs::create_dir(&dir).unwrap();
            for i in 0..300 {
                std::fs::write(dir.join(format!("file number {i:04} of the folder")), b"").unwrap();
            }
            let normal = connect(&srv, true).await;
            for direct in [false, true] {
                let conn = small_buffer_connect(&srv, direct).await;
                assert_eq!(conn.server_info().signing, profile == Profile::Smb1Signing);
                let what = format!("{profile} direct={direct}");

                // NetrShareEnum over TRANS_TRANSACT_NMPIPE.
                let shares = conn
                    .list_shares()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e}\n{}", srv.log_tail(30)));
                assert_eq!(shares, normal.list_shares().await.unwrap(), "{what}");
                for i in 0..60 {
                    let name = format!("extra{i:02}");
                    let share = shares.iter().find(|d| d.name == name).expect(&name);
                    assert_eq!(share.comments, format!("{comment} {i}"));
                }

                // NT_TRANSACT_QUERY_SECURITY_DESC of a large DACL.
                let sd = conn.get_security("share", "acl.txt").await.unwrap();
                let aces = sd.dacl.as_ref().map_or(0, |a| a.aces.len());
                assert!(aces >= 150, "{what}: {aces} ACEs");
                assert_eq!(sd, normal.get_security("share", "acl.txt").await.unwrap());
                // ... which indeed came in several messages.
                let s = conn.smb1().unwrap();
                let tid = tid(&conn, "share", deadline()).await.unwrap();
                let spec = OpenSpec::new(
                    access_mask::READ_CONTROL | access_mask::SYNCHRONIZE,
                    create_disposition::OPEN,
                    0,
                );
                let f = smb1ops::open(s, tid, "share", "acl.txt", spec, "test", deadline())
                    .await
                    .unwrap();
                let req = QuerySecurityDescRequest {
                    fid: f.fid,
                    security_information: security_information::DACL,
                    max_data_count: SECURITY_FIRST_OUTPUT,
                };
                let r = s
                    .request_trans(
                        command::NT_TRANSACT,
                        tid,
                        deadline(),
                        "test",
                        1 << 20,
                        |w| req.encode(w),
                    )
                    .await
                    .unwrap();
                assert_eq!(r.header.status, NtStatus::SUCCESS);
                assert!(r.parts >= 3, "{what}: {} parts", r.parts);
                smb1ops::close_file(s, &f, deadline()).await.unwrap();

                // FIND_FIRST2 / FIND_NEXT2.
                let mut names: Vec<String> = conn
                    .list_path("share", "dir")
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|f| f.filename)
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                names.sort();
                let expected: Vec<String> = (0..300)
                    .map(|i| format!("file number {i:04} of the folder"))
                    .collect();
                assert!(names == expected, "{what}: {} names", names.len());

                // FSCTL_SRV_ENUMERATE_SNAPSHOTS.
                assert_eq!(
                    conn.list_snapshots("snapshots", "").await.unwrap().len(),
                    smbkit_testserver::SNAPSHOTS.len(),
                    "{what}"
                );
                assert_eq!(conn.echo(b"still in step").await.unwrap(), b"still in step");
            }
        }
    }
}
