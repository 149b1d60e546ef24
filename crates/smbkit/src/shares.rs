//! Share listing, snapshots (previous versions) and security descriptors:
//! the reference's `listShares` and `listSnapshots`, and the blocking
//! reference's `getSecurity`.
//!
//! * [`Connection::list_shares`] is a DCE/RPC call over SMB2: the
//!   `\PIPE\srvsvc` named pipe on `IPC$` (MS-SRVS §2.1), a `bind` to the
//!   SRVSVC interface (MS-RPCE §2.2.2, C706 §12.6.4.3) and
//!   `NetrShareEnum` at level 1 (MS-SRVS §3.1.4.8), both carried by
//!   FSCTL_PIPE_TRANSCEIVE (MS-SMB2 §2.2.31, §3.2.4.20.1 / MS-FSCC
//!   §2.3.49), with READs for whatever does not fit one IOCTL response.
//! * [`Connection::list_snapshots`] sends FSCTL_SRV_ENUMERATE_SNAPSHOTS
//!   (MS-SMB2 §2.2.31, §2.2.32.2, §3.3.5.15.1).
//! * [`Connection::get_security`] sends QUERY_INFO with InfoType
//!   SMB2_0_INFO_SECURITY (MS-SMB2 §2.2.37, §3.3.5.20.3) and decodes the
//!   self-relative security descriptor (MS-DTYP §2.4.6).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smbkit_proto::dtyp::SecurityDescriptor;
use smbkit_proto::fscc;
use smbkit_proto::rpc::pdu::{self, BindAck, Reassembler};
use smbkit_proto::rpc::srvsvc::{self, ShareEnumResult};
use smbkit_proto::rpc::{NcaStatus, RpcError};
use smbkit_proto::smb2::create::{
    access_mask, create_disposition, create_options, impersonation, share_access, CreateRequest,
    CreateResponse, FileId,
};
use smbkit_proto::smb2::ioctl::{ctl_code, ioctl_flags, IoctlRequest, IoctlResponse};
use smbkit_proto::smb2::query_info::{info_type, security_information, QueryInfoRequest};
use smbkit_proto::smb2::read::{read_response_data_range, ReadRequest};
use smbkit_proto::smb2::write::encode_write_request;
use smbkit_proto::smb2::{ErrorResponse, QueryInfoResponse};
use smbkit_proto::{Command, NtStatus};
use tokio::time::Instant;

use crate::connection::Connection;
use crate::driver::{body, Response};
use crate::error::{describe_status, Error, ProtocolError};
use crate::files::{failure, smb_path, Handle, OpenSpec};
use crate::ops::with_limit;
use crate::types::SharedDevice;

/// Access asked for on the `srvsvc` pipe: what Windows clients ask for
/// (read/write data, EAs and attributes, READ_CONTROL, SYNCHRONIZE).
pub(crate) const PIPE_ACCESS: u32 = access_mask::FILE_READ_DATA
    | access_mask::FILE_WRITE_DATA
    | access_mask::FILE_READ_EA
    | access_mask::FILE_WRITE_EA
    | access_mask::FILE_READ_ATTRIBUTES
    | access_mask::FILE_WRITE_ATTRIBUTES
    | access_mask::READ_CONTROL
    | access_mask::SYNCHRONIZE;

/// The call id of the `bind`; requests use the following ids.
pub(crate) const BIND_CALL_ID: u32 = 1;

/// The most `NetrShareEnum` calls one listing makes (each continuing with
/// the resume handle after ERROR_MORE_DATA).
pub(crate) const MAX_ENUM_CALLS: u32 = 256;

/// The most FSCTL_SRV_ENUMERATE_SNAPSHOTS round trips one listing makes.
const SNAPSHOT_ATTEMPTS: usize = 4;

/// MaxOutputResponse of the first FSCTL_SRV_ENUMERATE_SNAPSHOTS: room for
/// the counts only, the least MS-SMB2 §3.3.5.15.1 allows.
const SNAPSHOT_FIRST_OUTPUT: u32 = 16;

/// Extra room asked for beyond the SnapShotArraySize the server reported,
/// in case a snapshot appears between two requests.
const SNAPSHOT_SLACK: u32 = 128;

/// OutputBufferLength of the first security QUERY_INFO.
const SECURITY_FIRST_OUTPUT: u32 = 64 * 1024;

/// The largest security descriptor accepted when the server asks for a
/// bigger buffer (MS-DTYP descriptors are far smaller in practice).
const SECURITY_MAX_OUTPUT: u32 = 16 * 1024 * 1024;

/// The most security QUERY_INFO round trips one call makes.
const SECURITY_ATTEMPTS: usize = 3;

/// How long a handle left open by a timed-out or cancelled operation is
/// given to close in the background.
const BACKGROUND_CLOSE: Duration = Duration::from_secs(5);

impl Connection {
    /// Lists the shares of the server; the reference's `listShares`.
    ///
    /// Connects `IPC$`, opens the `srvsvc` named pipe (MS-SRVS §2.1), binds
    /// to the SRVSVC interface v3.0 (MS-RPCE §2.2.2.3, C706 §12.6.4.3) and
    /// calls `NetrShareEnum` at information level 1 (MS-SRVS §3.1.4.8,
    /// §2.2.4.23), continuing with the resume handle while the server
    /// answers ERROR_MORE_DATA. Both PDUs travel in FSCTL_PIPE_TRANSCEIVE
    /// IOCTLs (MS-SMB2 §2.2.31, §3.2.4.20.1); a response larger than one
    /// IOCTL (STATUS_BUFFER_OVERFLOW, MS-SMB2 §3.3.4.4) or split into several
    /// fragments (C706 §12.6.4.10) is read from the pipe until the last
    /// fragment. The pipe is closed whatever happens. `ServerName` is sent
    /// as NULL, which names the server itself (the server ignores it,
    /// MS-SRVS §3.1.4.8).
    ///
    /// Every share the server lists is returned, `IPC$` and other special
    /// shares included (see [`SharedDevice::is_special`]), in the server's
    /// order. Default time limit: the factory's (30 s) for the whole
    /// listing.
    ///
    /// Errors: an RPC `fault` or a refused bind is an
    /// [`Error::OperationFailure`] (ACCESS_DENIED for an access fault,
    /// NOT_SUPPORTED for a refused bind or an unknown interface or
    /// operation); a `NET_API_STATUS` other than success is an
    /// [`Error::OperationFailure`] whose message carries the Win32 error
    /// and whose status is the closest NT status (ACCESS_DENIED for 5);
    /// malformed PDUs or stubs are [`Error::Protocol`].
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// for s in conn.list_shares().await? {
    ///     if !s.is_special {
    ///         println!("{} ({:?}) {}", s.name, s.share_type, s.comments);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Over SMB1 the calls go as SMB_COM_TRANSACTION (TransactNmPipe) on the pipe (MS-CIFS §2.2.5.6).
    pub async fn list_shares(&self) -> Result<Vec<SharedDevice>, Error> {
        if let Some(s1) = self.smb1() {
            return crate::smb1_ipc::list_shares(self, s1).await;
        }
        let (deadline, limit) = self.op_deadline();
        self.list_shares_with(self.pipe_io_size(), deadline)
            .await
            .map_err(|e| with_limit(e, limit))
    }

    /// The buffer size of pipe IOCTLs and READs: up to 64 KiB, within what
    /// the server accepts.
    fn pipe_io_size(&self) -> u32 {
        let info = self.server_info();
        info.max_transact_size
            .min(info.max_read_size)
            .clamp(1024, 64 * 1024)
    }

    /// [`Connection::list_shares`] with `io_size` bytes per pipe IOCTL and
    /// READ (small values exercise the continuation reads).
    async fn list_shares_with(
        &self,
        io_size: u32,
        deadline: Instant,
    ) -> Result<Vec<SharedDevice>, Error> {
        let tree_id = self.tree("IPC$", deadline).await?;
        let pipe = self
            .open_pipe(tree_id, srvsvc::SRVSVC_PIPE, deadline)
            .await?;
        let outcome = self.share_enum(&pipe.handle, io_size, deadline).await;
        let closed = pipe.close(deadline).await;
        let shares = outcome?;
        closed?;
        Ok(shares.into_iter().map(SharedDevice::from_info).collect())
    }

    /// Opens the named pipe `name` on the IPC$ tree (MS-SMB2 §2.2.13).
    async fn open_pipe(
        &self,
        tree_id: u32,
        name: &str,
        deadline: Instant,
    ) -> Result<OpenGuard, Error> {
        let req = CreateRequest {
            security_flags: 0,
            requested_oplock_level: 0,
            impersonation_level: impersonation::IMPERSONATION,
            create_flags: 0,
            desired_access: PIPE_ACCESS,
            file_attributes: 0,
            share_access: share_access::READ | share_access::WRITE,
            create_disposition: create_disposition::OPEN,
            create_options: create_options::NON_DIRECTORY_FILE,
            name: name.to_string(),
            contexts: Vec::new(),
        };
        let r = self
            .shared()?
            .request(Command::CREATE, tree_id, 1, deadline, "CREATE", |w| {
                req.encode(w)
            })
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Err(Error::OperationFailure {
                message: format!(
                    "cannot open the {name} pipe on IPC$ ({})",
                    describe_status(r.header.status)
                ),
                status: r.header.status,
            });
        }
        let create = CreateResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("CREATE response", e))?;
        Ok(OpenGuard::new(
            self,
            Handle {
                tree_id,
                file_id: create.file_id,
                create,
            },
        ))
    }

    /// Binds to SRVSVC and enumerates the shares over the open pipe.
    async fn share_enum(
        &self,
        pipe: &Handle,
        io_size: u32,
        deadline: Instant,
    ) -> Result<Vec<srvsvc::ShareInfo1>, Error> {
        // Bind (C706 §12.6.4.3); the answer is one bind_ack PDU.
        let bind = pdu::bind(BIND_CALL_ID, srvsvc::SRVSVC_SYNTAX);
        let mut got = Vec::new();
        let ack = self
            .pipe_transact(pipe, &[bind], io_size, deadline, |data| {
                got.extend_from_slice(data);
                match pdu::pdu_length(&got).map_err(rpc_decode)? {
                    Some(len) if got.len() >= len => BindAck::decode(&got[..len])
                        .map(Some)
                        .map_err(|e| rpc_failure("bind to SRVSVC", e)),
                    _ => Ok(None),
                }
            })
            .await?;

        let mut calls = ShareEnumCalls::new(self.remote_name());
        loop {
            let (call_id, fragments) = calls.next_request(ack.max_recv_frag)?;
            let mut reassembler = Reassembler::new(call_id);
            let stub = self
                .pipe_transact(pipe, &fragments, io_size, deadline, |data| {
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

    /// One DCE/RPC exchange on a pipe: every fragment but the last is
    /// written, the last goes in FSCTL_PIPE_TRANSCEIVE, and what comes back
    /// is fed to `feed` until it returns a value; while it wants more, the
    /// rest is READ from the pipe (MS-SMB2 §3.2.4.20.1: "If the server
    /// returns STATUS_BUFFER_OVERFLOW, the client reads the rest").
    async fn pipe_transact<T>(
        &self,
        pipe: &Handle,
        fragments: &[Vec<u8>],
        io_size: u32,
        deadline: Instant,
        mut feed: impl FnMut(&[u8]) -> Result<Option<T>, Error>,
    ) -> Result<T, Error> {
        let Some((last, first)) = fragments.split_last() else {
            return Err(Error::InvalidArgument("no PDU to send".into()));
        };
        for f in first {
            self.pipe_write(pipe, f, deadline).await?;
        }
        let req = IoctlRequest {
            ctl_code: ctl_code::FSCTL_PIPE_TRANSCEIVE,
            file_id: pipe.file_id,
            input: last.clone(),
            max_input_response: 0,
            max_output_response: io_size,
            flags: ioctl_flags::IS_FSCTL,
        };
        let charge = self.charge_for(last.len().max(io_size as usize));
        let r = self
            .shared()?
            .request(
                Command::IOCTL,
                pipe.tree_id,
                charge,
                deadline,
                "IOCTL",
                |w| req.encode(w),
            )
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(pipe_io_failure("FSCTL_PIPE_TRANSCEIVE", status));
        }
        let out = IoctlResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("IOCTL response", e))?
            .output;
        if out.len() > io_size as usize {
            return Err(ProtocolError::Unexpected(format!(
                "FSCTL_PIPE_TRANSCEIVE returned {} bytes, more than the {io_size} asked for",
                out.len()
            ))
            .into());
        }
        if let Some(v) = feed(&out)? {
            return Ok(v);
        }
        // The feeders bound what they accumulate (a Reassembler caps the
        // stub, a bind_ack is one PDU) and every READ must bring data, so
        // this loop ends, at the latest at the deadline.
        loop {
            let data = self.pipe_read(pipe, io_size, deadline).await?;
            if let Some(v) = feed(&data)? {
                return Ok(v);
            }
        }
    }

    /// WRITEs one PDU to a pipe (MS-SMB2 §2.2.21; offset 0 on a pipe).
    async fn pipe_write(&self, pipe: &Handle, data: &[u8], deadline: Instant) -> Result<(), Error> {
        let charge = self.charge_for(data.len());
        let r = self
            .shared()?
            .request(
                Command::WRITE,
                pipe.tree_id,
                charge,
                deadline,
                "WRITE",
                |w| encode_write_request(w, 0, pipe.file_id, 0, data),
            )
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Err(pipe_io_failure("WRITE", r.header.status));
        }
        Ok(())
    }

    /// READs what the pipe holds, up to `length` bytes (MS-SMB2 §2.2.19;
    /// STATUS_BUFFER_OVERFLOW means more of the message is waiting).
    async fn pipe_read(
        &self,
        pipe: &Handle,
        length: u32,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        let req = ReadRequest {
            padding: 0x50,
            flags: 0,
            length,
            offset: 0,
            file_id: pipe.file_id,
            minimum_count: 0,
            channel: 0,
            remaining_bytes: 0,
        };
        let charge = self.charge_for(length as usize);
        let r = self
            .shared()?
            .request(Command::READ, pipe.tree_id, charge, deadline, "READ", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(pipe_io_failure("READ", status));
        }
        let range = read_response_data_range(&r.msg)
            .map_err(|e| ProtocolError::decode("READ response", e))?;
        if range.is_empty() {
            return Err(ProtocolError::Unexpected(
                "the srvsvc pipe returned no data before the end of the RPC response".into(),
            )
            .into());
        }
        if range.len() > length as usize {
            return Err(ProtocolError::Unexpected(format!(
                "READ returned {} bytes, more than the {length} asked for",
                range.len()
            ))
            .into());
        }
        Ok(r.msg.slice(range))
    }

    /// The previous versions (snapshots, shadow copies) of `path` on
    /// `share`, as UTC times; the reference's `listSnapshots`.
    ///
    /// `path` may be a file or a folder (the share root is `""` or `"/"`).
    /// Opens it, sends FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB2 §2.2.31,
    /// §3.2.4.20) with a 16-byte MaxOutputResponse, which tells how many
    /// snapshots exist and how large their list is (SRV_SNAPSHOT_ARRAY,
    /// MS-SMB2 §2.2.32.2, §3.3.5.15.1), then asks again with room for the
    /// whole list; each request is one CREATE + IOCTL + CLOSE compound
    /// (MS-SMB2 §3.2.4.1.4), so nothing is left open. The `@GMT-` tokens are
    /// converted to `SystemTime`s and returned in the server's order (Samba's
    /// `shadow:sort`; Windows lists newest first).
    ///
    /// A share without snapshot support is an error, as in the reference:
    /// [`Error::OperationFailure`] with the server's status, which is
    /// STATUS_INVALID_DEVICE_REQUEST from Samba without `shadow_copy2` and
    /// from Windows on file systems without volume shadow copies (or
    /// STATUS_NOT_SUPPORTED). A share that supports snapshots but has none
    /// gives an empty list. Callers that want "none" either way can match
    /// on [`Error::status`]. Default time limit: the factory's (30 s).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use smbkit::NtStatus;
    /// let snapshots = match conn.list_snapshots("share", "/docs/report.odt").await {
    ///     Ok(v) => v,
    ///     Err(e) if e.status() == Some(NtStatus::INVALID_DEVICE_REQUEST) => Vec::new(),
    ///     Err(e) => return Err(e),
    /// };
    /// for t in snapshots {
    ///     println!("{t:?}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Over SMB1: NT_TRANSACT_IOCTL (MS-CIFS §2.2.7.2).
    pub async fn list_snapshots(&self, share: &str, path: &str) -> Result<Vec<SystemTime>, Error> {
        if let Some(s1) = self.smb1() {
            return crate::smb1_ipc::list_snapshots(self, s1, share, path).await;
        }
        let (deadline, limit) = self.op_deadline();
        async {
            let path = smb_path(path)?;
            let tree_id = self.tree(share, deadline).await?;
            let spec = OpenSpec::new(
                access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
                create_disposition::OPEN,
                0,
            );
            let cap = self.server_info().max_transact_size.max(4096);
            let mut out_len = SNAPSHOT_FIRST_OUTPUT;
            for _ in 0..SNAPSHOT_ATTEMPTS {
                let req = IoctlRequest {
                    ctl_code: ctl_code::FSCTL_SRV_ENUMERATE_SNAPSHOTS,
                    file_id: FileId::ANY,
                    input: Vec::new(),
                    max_input_response: 0,
                    max_output_response: out_len,
                    flags: ioctl_flags::IS_FSCTL,
                };
                let charge = self.charge_for(out_len as usize);
                let (_, rs) = self
                    .open_do_close(
                        tree_id,
                        share,
                        &path,
                        spec,
                        vec![(Command::IOCTL, charge, body(|w| req.encode(w))?)],
                        "list_snapshots",
                        deadline,
                    )
                    .await?;
                let r = middle(&rs, "list_snapshots")?;
                let status = r.header.status;
                if status == NtStatus::BUFFER_TOO_SMALL && out_len < cap {
                    // Not what MS-SMB2 §3.3.5.15.1 prescribes (success
                    // with NumberOfSnapShotsReturned 0), but say so
                    // politely: ask for more room.
                    out_len = out_len.saturating_mul(16).clamp(4096, cap);
                    continue;
                }
                if status != NtStatus::SUCCESS {
                    return Err(failure("list_snapshots", share, &path, status));
                }
                let io = IoctlResponse::decode(&r.msg)
                    .map_err(|e| ProtocolError::decode("IOCTL response", e))?;
                let array = fscc::parse_snapshot_array(&io.output)
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
                         server's {cap}-byte IOCTL limit"
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
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// The security descriptor of the file or folder `path` on `share`:
    /// its owner, primary group and DACL (the blocking reference's
    /// `getSecurity`).
    ///
    /// Opens `path` with READ_CONTROL and sends QUERY_INFO with InfoType
    /// SMB2_0_INFO_SECURITY and AdditionalInformation OWNER | GROUP | DACL
    /// (MS-SMB2 §2.2.37, §3.2.4.12) in one CREATE + QUERY_INFO + CLOSE
    /// compound (MS-SMB2 §3.2.4.1.4) with a 64 KiB output buffer. Should the
    /// descriptor not fit, the server answers STATUS_BUFFER_TOO_SMALL with
    /// the size it needs in the ERROR response (MS-SMB2 §2.2.2.2,
    /// §3.3.5.20.3), and the query is repeated with that size. The answer
    /// is decoded as a self-relative SECURITY_DESCRIPTOR (MS-DTYP §2.4.6).
    /// Default time limit: the factory's (30 s).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let sd = conn.get_security("share", "/docs/report.odt").await?;
    /// if let Some(owner) = &sd.owner {
    ///     println!("owner {owner}");
    /// }
    /// for ace in sd.dacl.iter().flat_map(|d| &d.aces) {
    ///     println!("{ace}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Over SMB1: NT_TRANSACT_QUERY_SECURITY_DESC (MS-CIFS §2.2.7.6).
    pub async fn get_security(&self, share: &str, path: &str) -> Result<SecurityDescriptor, Error> {
        if let Some(s1) = self.smb1() {
            return crate::smb1_ipc::get_security(self, s1, share, path).await;
        }
        let first = SECURITY_FIRST_OUTPUT.min(self.server_info().max_transact_size.max(4096));
        let (deadline, limit) = self.op_deadline();
        self.get_security_with(share, path, first, deadline)
            .await
            .map_err(|e| with_limit(e, limit))
    }

    /// [`Connection::get_security`] starting with an output buffer of
    /// `first` bytes.
    async fn get_security_with(
        &self,
        share: &str,
        path: &str,
        first: u32,
        deadline: Instant,
    ) -> Result<SecurityDescriptor, Error> {
        let path = smb_path(path)?;
        let tree_id = self.tree(share, deadline).await?;
        let spec = OpenSpec::new(
            access_mask::READ_CONTROL
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        let mut out_len = first;
        for _ in 0..SECURITY_ATTEMPTS {
            let q = QueryInfoRequest {
                info_type: info_type::SECURITY,
                file_info_class: 0,
                output_buffer_length: out_len,
                additional_information: security_information::OWNER
                    | security_information::GROUP
                    | security_information::DACL,
                flags: 0,
                file_id: FileId::ANY,
                input: Vec::new(),
            };
            let charge = self.charge_for(out_len as usize);
            let (_, rs) = self
                .open_do_close(
                    tree_id,
                    share,
                    &path,
                    spec,
                    vec![(Command::QUERY_INFO, charge, body(|w| q.encode(w))?)],
                    "get_security",
                    deadline,
                )
                .await?;
            let r = middle(&rs, "get_security")?;
            match r.header.status {
                NtStatus::SUCCESS => {
                    let q = QueryInfoResponse::decode(&r.msg)
                        .map_err(|e| ProtocolError::decode("QUERY_INFO response", e))?;
                    return SecurityDescriptor::decode(&q.data)
                        .map_err(|e| ProtocolError::decode("security descriptor", e).into());
                }
                NtStatus::BUFFER_TOO_SMALL => {
                    out_len = needed_length(r, out_len)?;
                }
                s => return Err(failure("get_security", share, &path, s)),
            }
        }
        Err(ProtocolError::Unexpected(format!(
            "the security descriptor of '{path}' did not fit after {SECURITY_ATTEMPTS} requests"
        ))
        .into())
    }
}

/// The next buffer size after STATUS_BUFFER_TOO_SMALL: the 4-byte length in
/// the ERROR response's ErrorData (MS-SMB2 §2.2.2.2), which must exceed
/// what was offered and stay under [`SECURITY_MAX_OUTPUT`].
fn needed_length(r: &Response, offered: u32) -> Result<u32, Error> {
    let e =
        ErrorResponse::decode(&r.msg).map_err(|e| ProtocolError::decode("ERROR response", e))?;
    let needed = match e.error_data.get(..4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        // No size given: grow.
        None => offered.saturating_mul(4),
    };
    if needed <= offered || needed > SECURITY_MAX_OUTPUT {
        return Err(ProtocolError::Unexpected(format!(
            "STATUS_BUFFER_TOO_SMALL for a {offered}-byte buffer, asking for {needed} bytes"
        ))
        .into());
    }
    Ok(needed)
}

/// The middle response of a CREATE + X + CLOSE compound.
fn middle<'a>(rs: &'a [Response], what: &str) -> Result<&'a Response, Error> {
    rs.first().ok_or_else(|| {
        ProtocolError::Unexpected(format!(
            "{what}: the compound response lacks its middle part"
        ))
        .into()
    })
}

/// A `@GMT-YYYY.MM.DD-HH.MM.SS` token as a `SystemTime` (UTC).
pub(crate) fn snapshot_time(token: &str) -> Result<SystemTime, Error> {
    let secs = fscc::gmt_token_to_unix(token).ok_or_else(|| {
        ProtocolError::Unexpected(format!(
            "snapshot token {token:?} is not of the form @GMT-YYYY.MM.DD-HH.MM.SS"
        ))
    })?;
    Ok(if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    })
}

/// Applies one `NetrShareEnum` answer: appends its entries and returns the
/// resume handle to continue with, or `None` when the enumeration is
/// complete (MS-SRVS §3.1.4.8).
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
            return Err(ProtocolError::Unexpected(format!(
                "NetrShareEnum still answered ERROR_MORE_DATA after {MAX_ENUM_CALLS} calls"
            ))
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
                return Err(ProtocolError::Unexpected(
                    "NetrShareEnum answered ERROR_MORE_DATA without any entry".into(),
                )
                .into());
            }
            let Some(h) = res.resume_handle else {
                return Err(ProtocolError::Unexpected(
                    "NetrShareEnum answered ERROR_MORE_DATA without a resume handle".into(),
                )
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
    let name = if name.is_empty() {
        String::new()
    } else {
        format!(" {name}")
    };
    Error::OperationFailure {
        message: format!("list_shares: NetrShareEnum failed with WERROR {code} ({code:#x}){name}"),
        status,
    }
}

/// An RPC-level failure as an error: faults and refused binds are the
/// server saying no ([`Error::OperationFailure`]); undecodable PDUs are
/// [`Error::Protocol`].
pub(crate) fn rpc_failure(what: &str, e: RpcError) -> Error {
    match e {
        RpcError::Decode(d) => rpc_decode(d),
        RpcError::Fault {
            status,
            did_not_execute,
            ..
        } => {
            let nt = match status {
                NcaStatus::ACCESS_DENIED => NtStatus::ACCESS_DENIED,
                NcaStatus::NCA_OP_RNG_ERROR | NcaStatus::NCA_UNK_IF => NtStatus::NOT_SUPPORTED,
                _ => NtStatus::UNSUCCESSFUL,
            };
            Error::OperationFailure {
                message: format!(
                    "list_shares: {what} failed with RPC fault {status}{}",
                    if did_not_execute {
                        " (the call did not execute)"
                    } else {
                        ""
                    }
                ),
                status: nt,
            }
        }
        e @ (RpcError::BindNak { .. } | RpcError::ContextRejected { .. }) => {
            Error::OperationFailure {
                message: format!("list_shares: the server refused the SRVSVC interface: {e}"),
                status: NtStatus::NOT_SUPPORTED,
            }
        }
        e => ProtocolError::Unexpected(format!("list_shares: {what}: {e}")).into(),
    }
}

fn rpc_decode(d: smbkit_proto::DecodeError) -> Error {
    ProtocolError::decode("DCE/RPC PDU", d).into()
}

/// A failed IOCTL, WRITE or READ on the srvsvc pipe.
pub(crate) fn pipe_io_failure(what: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        message: format!(
            "list_shares: {what} on the srvsvc pipe failed ({})",
            describe_status(status)
        ),
        status,
    }
}

/// An open handle that is closed when the operation ends: inline by
/// [`OpenGuard::close`] while time remains, otherwise (deadline passed, or
/// the operation's future dropped) in the background, so that a timeout or
/// a cancellation does not leave it open on the server.
struct OpenGuard {
    conn: Connection,
    handle: Handle,
    open: bool,
}

impl OpenGuard {
    fn new(conn: &Connection, handle: Handle) -> Self {
        OpenGuard {
            conn: conn.clone(),
            handle,
            open: true,
        }
    }

    async fn close(mut self, deadline: Instant) -> Result<(), Error> {
        if Instant::now() >= deadline {
            // Let Drop close it in the background.
            return Ok(());
        }
        let r = self.conn.close_handle(&self.handle, deadline).await;
        // After a timeout the CLOSE may not have been processed: let Drop
        // send another in the background (a second CLOSE is harmless).
        if !matches!(r, Err(Error::Timeout { .. })) {
            self.open = false;
        }
        r
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if !self.open || !self.conn.is_ready() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let conn = self.conn.clone();
            let handle = self.handle.clone();
            rt.spawn(async move {
                let _ = conn
                    .close_handle(&handle, Instant::now() + BACKGROUND_CLOSE)
                    .await;
            });
        }
    }
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
        let e = rpc_failure("NetrShareEnum", fault);
        assert_eq!(e.status(), Some(NtStatus::ACCESS_DENIED));
        assert!(e.to_string().contains("did not execute"), "{e}");
        let e = rpc_failure(
            "NetrShareEnum",
            RpcError::Fault {
                call_id: 2,
                status: NcaStatus::NCA_OP_RNG_ERROR,
                did_not_execute: false,
            },
        );
        assert_eq!(e.status(), Some(NtStatus::NOT_SUPPORTED));
        let nak = RpcError::BindNak {
            call_id: 1,
            reason: smbkit_proto::rpc::RejectReason(4),
        };
        let e = rpc_failure("bind to SRVSVC", nak);
        assert_eq!(e.status(), Some(NtStatus::NOT_SUPPORTED));
        assert!(e.to_string().contains("refused"), "{e}");
        // A bind_ack that is really garbage is a protocol error.
        let e = BindAck::decode(&[5, 0, 12, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0])
            .map_err(|e| rpc_failure("bind", e))
            .unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    }

    #[test]
    fn snapshot_tokens_convert_to_utc() {
        assert_eq!(
            snapshot_time("@GMT-2024.01.01-00.00.00").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_704_067_200)
        );
        assert_eq!(
            snapshot_time("@GMT-1969.12.31-23.59.59").unwrap(),
            UNIX_EPOCH - Duration::from_secs(1)
        );
        assert!(matches!(
            snapshot_time("@GMT-2024.13.01-00.00.00"),
            Err(Error::Protocol(_))
        ));
    }

    /// Against real Samba: the internal knobs that the public API cannot
    /// reach (tiny pipe buffers force STATUS_BUFFER_OVERFLOW and
    /// continuation READs; a tiny security buffer forces
    /// STATUS_BUFFER_TOO_SMALL and the retry with the size the server asks
    /// for).
    mod live {
        use super::*;
        use crate::SmbProtocolFactory;
        use smbkit_testserver::{Profile, TestServer};

        async fn connect(srv: &TestServer) -> Connection {
            SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
                .unwrap()
                .direct_tcp(true)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap()
        }

        #[tokio::test]
        async fn small_pipe_buffers_read_the_rest() {
            let srv = TestServer::start(Profile::Modern).unwrap();
            let conn = connect(&srv).await;
            let normal = conn.list_shares().await.unwrap();
            for io in [24u32, 64, 100, 1000] {
                let deadline = Instant::now() + Duration::from_secs(30);
                let small = conn
                    .list_shares_with(io, deadline)
                    .await
                    .unwrap_or_else(|e| panic!("io size {io}: {e}\n{}", srv.log_tail(40)));
                assert_eq!(small, normal, "io size {io}");
            }
        }

        #[tokio::test]
        async fn buffer_too_small_is_retried_with_the_size_asked_for() {
            let srv = TestServer::start(Profile::Modern).unwrap();
            std::fs::write(srv.share_path().join("f.txt"), b"x").unwrap();
            let conn = connect(&srv).await;
            let deadline = Instant::now() + Duration::from_secs(30);
            let small = conn
                .get_security_with("share", "f.txt", 8, deadline)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", srv.log_tail(40)));
            assert_eq!(small, conn.get_security("share", "f.txt").await.unwrap());
            assert!(small.owner.is_some());
        }
    }
}
