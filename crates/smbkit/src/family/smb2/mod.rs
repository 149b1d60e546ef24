//! The SMB 2/3 primitives (MS-SMB2) over the SMB2 driver.
//!
//! Whatever opens, acts and closes goes as one related compound (MS-SMB2
//! §3.2.4.1.4): CREATE + QUERY_INFO + CLOSE, CREATE + SET_INFO + CLOSE,
//! and so on, one round trip each.

use std::sync::{Arc, Mutex};

use smbkit_proto::conn::smb2::handshake::no_cipher_reason;
use smbkit_proto::fscc::{self, info_class, FileAllInformation, FileBasicInformation};
use smbkit_proto::smb2::close::CloseRequest;
use smbkit_proto::smb2::create::{
    access_mask, create_disposition, create_options, impersonation, CreateRequest, CreateResponse,
    FileId,
};
use smbkit_proto::smb2::echo::{EchoRequest, EchoResponse};
use smbkit_proto::smb2::logoff::LogoffRequest;
use smbkit_proto::smb2::query_info::{info_type, QueryInfoRequest, QueryInfoResponse};
use smbkit_proto::smb2::set_info::SetInfoRequest;
use smbkit_proto::smb2::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use smbkit_proto::smb2::tree_disconnect::TreeDisconnectRequest;
use smbkit_proto::{Command, NtStatus};
use tokio::time::Instant;

mod fsctl;
mod handle;
mod ipc;
mod notify;
mod search;
mod transfer;

pub(crate) use ipc::PathQuery;
pub(crate) use search::Search;
pub(crate) use transfer::WriteInFlight;

use super::{Durable, Family, Fid, FileRef, OpenFile, OpenInfo, OpenSpec};
use crate::driver::smb2::Shared;
use crate::driver::{body, Part, Response, Tasks};
use crate::error::{failure, rename_failure, Error, FailureDetail, ProtocolError};
use crate::types::{ServerInfo, SharedFile, TreeInfo};
use smbkit_proto::smb2::durable::{DurableOpen, DurableVersion};

/// Why a connection cannot encrypt, from what was negotiated.
pub(crate) fn why_no_encryption(info: &ServerInfo) -> crate::error::NoEncryption {
    if info.is_guest || info.is_anonymous {
        crate::error::NoEncryption::GuestOrAnonymous
    } else {
        no_cipher_reason(info.dialect, info.capabilities)
    }
}

struct State {
    info: ServerInfo,
    /// The driver's tasks, stopped by [`Smb2::stop`].
    tasks: Mutex<Option<Tasks>>,
}

/// An SMB 2/3 connection's driver and what its primitives need to know.
#[derive(Clone)]
pub(crate) struct Smb2 {
    pub(crate) shared: Arc<Shared>,
    state: Arc<State>,
}

/// Fails with [`Error::OperationFailure`] unless the response succeeded.
fn expect_success(r: &Response, operation: &'static str) -> Result<(), Error> {
    if r.header.status.is_error() {
        return Err(failure(operation, "", "", r.header.status));
    }
    Ok(())
}

fn decode_create(r: &Response) -> Result<CreateResponse, Error> {
    CreateResponse::decode(&r.msg).map_err(|e| ProtocolError::decode("CREATE response", e).into())
}

fn open_info(c: &CreateResponse) -> OpenInfo {
    OpenInfo {
        creation_time: c.creation_time,
        last_access_time: c.last_access_time,
        last_write_time: c.last_write_time,
        change_time: c.change_time,
        size: c.end_of_file,
        alloc_size: c.allocation_size,
        attributes: c.file_attributes,
        file_id: 0,
    }
}

/// The CREATE request of `spec` for `name`.
fn create_request(spec: &OpenSpec, name: &str) -> CreateRequest {
    CreateRequest {
        security_flags: 0,
        requested_oplock_level: 0,
        impersonation_level: impersonation::IMPERSONATION,
        create_flags: 0,
        desired_access: spec.access,
        file_attributes: spec.attributes,
        share_access: spec.share,
        create_disposition: spec.disposition,
        create_options: spec.options,
        name: name.to_string(),
        contexts: Vec::new(),
    }
}

/// QUERY_INFO of FileAllInformation (MS-FSCC §2.4.2) on `file_id`, with
/// room for a long name.
fn all_information_query(file_id: FileId) -> QueryInfoRequest {
    QueryInfoRequest {
        info_type: info_type::FILE,
        file_info_class: info_class::FILE_ALL_INFORMATION,
        output_buffer_length: 4096,
        additional_information: 0,
        flags: 0,
        file_id,
        input: Vec::new(),
    }
}

/// The FileAllInformation of a QUERY_INFO response of status SUCCESS, or
/// BUFFER_OVERFLOW (the name did not fit: everything before it did).
fn decode_all_information(r: &Response) -> Result<FileAllInformation, Error> {
    let q = QueryInfoResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("QUERY_INFO response", e))?;
    if r.header.status == NtStatus::SUCCESS {
        FileAllInformation::decode(&q.data)
    } else {
        FileAllInformation::decode_truncated(&q.data)
    }
    .map_err(|e| ProtocolError::decode("FileAllInformation", e).into())
}

/// The FileId of a file opened over SMB2.
pub(crate) fn file_id(file: FileRef) -> Result<FileId, Error> {
    match file.fid {
        Fid::Smb2(id) => Ok(id),
        Fid::Smb1(_) => Err(crate::error::Internal::WrongFamily.into()),
    }
}

impl Smb2 {
    pub(crate) fn new(shared: Arc<Shared>, tasks: Tasks, info: ServerInfo) -> Self {
        Smb2 {
            shared,
            state: Arc::new(State {
                info,
                tasks: Mutex::new(Some(tasks)),
            }),
        }
    }

    fn info(&self) -> &ServerInfo {
        &self.state.info
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    pub(crate) fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.shared.closed()
    }

    /// Shuts the connection down and waits until the driver's tasks are
    /// gone, which closes the stream.
    pub(crate) async fn stop(&self, why: &str) {
        self.shared.shut_down(why);
        let tasks = self
            .state
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(t) = tasks {
            t.close().await;
        }
    }

    /// Whether FSCTL_VALIDATE_NEGOTIATE_INFO has confirmed the
    /// negotiation (the connection runs it after the first tree connect
    /// on SMB 3.0 and 3.0.2).
    pub(crate) fn is_negotiate_validated(&self) -> bool {
        self.shared
            .with_state(|st| st.core.is_negotiate_validated())
    }

    /// The CreditCharge for a request that moves `payload` bytes (MS-SMB2
    /// §3.1.5.2): one credit per 64 KiB with multi-credit requests
    /// (SMB2_GLOBAL_CAP_LARGE_MTU, not on 2.0.2), otherwise 1.
    fn charge_for(&self, payload: usize) -> u16 {
        let info = self.info();
        if info.dialect == smbkit_proto::Dialect::SMB2_0_2
            || info.capabilities & smbkit_proto::smb2::negotiate::capabilities::LARGE_MTU == 0
        {
            1
        } else {
            u16::try_from(payload.saturating_sub(1) / 65536 + 1).unwrap_or(u16::MAX)
        }
    }

    /// ECHO (MS-SMB2 §2.2.28): an SMB2 ECHO carries no payload, so `data`
    /// is handed back as the reference does once the server has answered.
    pub(crate) async fn echo(&self, data: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let r = self
            .shared
            .request(Command::ECHO, 0, 1, deadline, "echo", |w| {
                EchoRequest.encode(w);
                Ok(())
            })
            .await?;
        expect_success(&r, "echo")?;
        EchoResponse::decode(&r.msg).map_err(|e| ProtocolError::decode("ECHO response", e))?;
        Ok(data.to_vec())
    }

    /// TREE_CONNECT (MS-SMB2 §2.2.9) and the tree encryption policy (the
    /// connection answers it only once it has validated the negotiation,
    /// where that is due).
    pub(crate) async fn tree_connect(
        &self,
        remote_name: &str,
        share: &str,
        deadline: Instant,
    ) -> Result<TreeInfo, Error> {
        let path = format!("\\\\{remote_name}\\{share}");
        let req = TreeConnectRequest { flags: 0, path };
        let r = self
            .shared
            .request(Command::TREE_CONNECT, 0, 1, deadline, "tree connect", |w| {
                req.encode(w)
            })
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            // What a server answers for a share that requires encryption
            // when the connection cannot encrypt.
            let detail = (r.header.status == NtStatus::ACCESS_DENIED
                && self.info().cipher.is_none())
            .then(|| {
                Box::new(FailureDetail::MayRequireEncryption(why_no_encryption(
                    self.info(),
                )))
            });
            return Err(Error::OperationFailure {
                operation: "tree connect",
                path: crate::error::display(share, ""),
                status: r.header.status,
                detail,
            });
        }
        let t = TreeConnectResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("TREE_CONNECT response", e))?;
        // Ok(whether the tree is encrypted), or Err if the share asks for
        // encryption this connection cannot do.
        let Ok(encrypted) = self.shared.tree_connected(r.header.tree_id, t.share_flags) else {
            let _ = self.tree_disconnect(r.header.tree_id, deadline).await;
            return Err(Error::Unsupported(
                crate::error::Unsupported::ShareRequiresEncryption {
                    share: share.to_string(),
                    why: why_no_encryption(self.info()),
                },
            ));
        };
        let info = TreeInfo {
            tree_id: r.header.tree_id,
            share_type: t.share_type,
            share_flags: t.share_flags,
            capabilities: t.capabilities,
            maximal_access: t.maximal_access,
            encrypted,
        };
        Ok(info)
    }

    /// TREE_DISCONNECT (MS-SMB2 §2.2.11), then forgets whether the tree
    /// was encrypted.
    pub(crate) async fn tree_disconnect(&self, tree: u32, deadline: Instant) -> Result<(), Error> {
        let r = self
            .shared
            .request(
                Command::TREE_DISCONNECT,
                tree,
                1,
                deadline,
                "tree disconnect",
                |w| {
                    TreeDisconnectRequest.encode(w);
                    Ok(())
                },
            )
            .await;
        self.shared.tree_disconnected(tree);
        expect_success(&r?, "tree disconnect")
    }

    /// LOGOFF (MS-SMB2 §2.2.7), best effort.
    pub(crate) async fn logoff(&self, deadline: Instant) {
        let _ = self
            .shared
            .request(Command::LOGOFF, 0, 1, deadline, "logoff", |w| {
                LogoffRequest.encode(w);
                Ok(())
            })
            .await;
    }

    /// CREATE (MS-SMB2 §2.2.13), one round trip.
    pub(crate) async fn open(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<OpenFile, Error> {
        let create = self
            .create(tree, &create_request(&spec, path), deadline)
            .await?
            .map_err(|status| failure(what, share, path, status))?;
        Ok(self.opened(tree, &create))
    }

    /// Sends `req` on `tree`: the decoded response of a successful CREATE,
    /// or the status of a refused one.
    async fn create(
        &self,
        tree: u32,
        req: &CreateRequest,
        deadline: Instant,
    ) -> Result<Result<CreateResponse, NtStatus>, Error> {
        let r = self
            .shared
            .request(Command::CREATE, tree, 1, deadline, "CREATE", |w| {
                req.encode(w)
            })
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Ok(Err(r.header.status));
        }
        decode_create(&r).map(Ok)
    }

    /// CREATE asking for a durable handle (MS-SMB2 §3.2.4.3.5); the guard
    /// knows how to take it back when the server granted it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_durable(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        writes: bool,
        what: &'static str,
        deadline: Instant,
    ) -> Result<OpenFile, Error> {
        let mut create_guid = [0u8; 16];
        let mut lease_key = [0u8; 16];
        rand::fill(&mut create_guid[..]);
        rand::fill(&mut lease_key[..]);
        let info = self.info();
        let how = DurableOpen::new(
            info.dialect,
            info.capabilities,
            writes,
            create_guid,
            lease_key,
        );
        let mut req = create_request(&spec, path);
        (req.requested_oplock_level, req.contexts) = how.request();
        let create = self
            .create(tree, &req, deadline)
            .await?
            .map_err(|status| failure(what, share, path, status))?;
        // Opened either way; kept for a reconnect only if made durable.
        let file = self.opened(tree, &create);
        let granted = how
            .granted(&create.contexts)
            .map_err(|e| ProtocolError::decode("durable handle response", e))?;
        tracing::debug!(path, granted, oplock = create.oplock_level, "durable open");
        Ok(if granted {
            file.with_durable(Durable {
                path: path.to_string(),
                spec,
                how,
            })
        } else {
            file
        })
    }

    /// CREATE with DH2C or DHnC (MS-SMB2 §3.2.4.4): the durable handle
    /// `old` of a lost connection, taken back on `tree` of this one.
    pub(crate) async fn reopen_durable(
        &self,
        tree: u32,
        share: &str,
        d: &Durable,
        old: FileId,
        info: OpenInfo,
        deadline: Instant,
    ) -> Result<OpenFile, Error> {
        use crate::error::NotResumableReason as Why;
        let is3 = self.info().dialect.is_smb3();
        let v2 = matches!(d.how.version, DurableVersion::V2 { .. });
        if is3 != v2 {
            return Err(Error::NotResumable {
                operation: "reopening",
                path: crate::error::display(share, &d.path),
                reason: Why::DialectChanged,
            });
        }
        let mut req = create_request(&d.spec, &d.path);
        (req.requested_oplock_level, req.contexts) = d.how.reconnect(old);
        let create = match self.create(tree, &req, deadline).await? {
            Ok(c) => c,
            Err(status) => {
                tracing::warn!(path = %d.path, %status, "durable handle refused");
                return Err(Error::NotResumable {
                    operation: "reopening",
                    path: crate::error::display(share, &d.path),
                    reason: Why::Refused(status),
                });
            }
        };
        tracing::info!(path = %d.path, "durable handle taken back");
        // The size and times of the first open stay: the file is the same.
        Ok(OpenFile::new(
            Family::Smb2(self.clone()),
            FileRef {
                tree,
                fid: Fid::Smb2(create.file_id),
            },
            info,
        )
        .with_durable(d.clone()))
    }

    /// The guard of a file a CREATE opened.
    fn opened(&self, tree: u32, create: &CreateResponse) -> OpenFile {
        OpenFile::new(
            Family::Smb2(self.clone()),
            FileRef {
                tree,
                fid: Fid::Smb2(create.file_id),
            },
            open_info(create),
        )
    }

    /// CLOSE (MS-SMB2 §2.2.15); STATUS_FILE_CLOSED counts as closed.
    pub(crate) async fn close(&self, file: FileRef, deadline: Instant) -> Result<(), Error> {
        let req = CloseRequest {
            flags: 0,
            file_id: file_id(file)?,
        };
        let r = self
            .shared
            .request(Command::CLOSE, file.tree, 1, deadline, "CLOSE", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        if r.header.status.is_error() && r.header.status != NtStatus::FILE_CLOSED {
            return Err(failure("close", "", "", r.header.status));
        }
        Ok(())
    }

    /// Hands the CLOSE to the connection
    /// ([`smbkit_proto::conn::Smb2Connection::close_handle`]).
    pub(crate) fn close_detached(&self, file: FileRef) {
        if let Fid::Smb2(id) = file.fid {
            let now = Instant::now().into_std();
            self.shared
                .with_state(|st| st.core.close_handle(file.tree, id, now));
        }
    }

    /// Sends CREATE, then `middle` on the opened file, then CLOSE, as one
    /// related compound; returns the CREATE response and the middle
    /// responses. A failed CREATE fails the whole operation with its
    /// status; the middle responses are returned whatever their status.
    #[allow(clippy::too_many_arguments)]
    async fn open_do_close(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        middle: Vec<(Command, u16, Vec<u8>)>,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(CreateResponse, Vec<Response>), Error> {
        let req = create_request(&spec, path);
        let mut parts = vec![Part {
            command: Command::CREATE,
            tree_id: tree,
            charge: 1,
            body: body(|w| req.encode(w))?,
        }];
        for (command, charge, b) in middle {
            parts.push(Part {
                command,
                tree_id: tree,
                charge,
                body: b,
            });
        }
        let close = CloseRequest {
            flags: 0,
            file_id: FileId::ANY,
        };
        parts.push(Part {
            command: Command::CLOSE,
            tree_id: tree,
            charge: 1,
            body: body(|w| {
                close.encode(w);
                Ok(())
            })?,
        });
        let mut rs = self
            .shared
            .compound(parts, true, deadline, "compound request")
            .await?;
        let first = rs.remove(0);
        if first.header.status != NtStatus::SUCCESS {
            return Err(failure(what, share, path, first.header.status));
        }
        let create = decode_create(&first)?;
        rs.pop(); // CLOSE: nothing to report that the caller can act on.
        Ok((create, rs))
    }

    /// CREATE + SET_INFO + CLOSE; a failed SET_INFO is `fail(status)`.
    #[allow(clippy::too_many_arguments)]
    async fn set_info_path(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        class: u8,
        data: Vec<u8>,
        what: &'static str,
        deadline: Instant,
        fail: impl FnOnce(NtStatus) -> Error,
    ) -> Result<(), Error> {
        let set = SetInfoRequest {
            info_type: info_type::FILE,
            file_info_class: class,
            additional_information: 0,
            file_id: FileId::ANY,
            data,
        };
        let status = match self
            .open_do_close(
                tree,
                share,
                path,
                spec,
                vec![(Command::SET_INFO, 1, body(|w| set.encode(w))?)],
                what,
                deadline,
            )
            .await
        {
            // The open failed: the same error as a failed SET_INFO.
            Err(Error::OperationFailure { status, .. }) => status,
            Err(e) => return Err(e),
            Ok((_, rs)) => match rs.first() {
                Some(r) if r.header.status.is_error() => r.header.status,
                _ => return Ok(()),
            },
        };
        Err(fail(status))
    }

    /// CREATE + CLOSE, one round trip.
    pub(crate) async fn open_close(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        self.open_do_close(tree, share, path, spec, vec![], what, deadline)
            .await
            .map(|_| ())
    }

    /// CREATE + QUERY_INFO FileAllInformation + CLOSE (MS-SMB2 §2.2.37,
    /// MS-FSCC §2.4.2): the times, sizes and attributes come from the
    /// CREATE response, the file id from FileAllInformation (read from its
    /// fixed part when the server truncates the name,
    /// STATUS_BUFFER_OVERFLOW).
    pub(crate) async fn stat(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<SharedFile, Error> {
        let q = all_information_query(FileId::ANY);
        let spec = OpenSpec::new(
            access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        let (create, rs) = self
            .open_do_close(
                tree,
                share,
                path,
                spec,
                vec![(Command::QUERY_INFO, 1, body(|w| q.encode(w))?)],
                "get_attributes",
                deadline,
            )
            .await?;
        let mut file = super::shared_file(path, &open_info(&create));
        if let Some(r) = rs.first() {
            let status = r.header.status;
            if status == NtStatus::SUCCESS || status == NtStatus::BUFFER_OVERFLOW {
                file.file_id = decode_all_information(r)?.internal;
            }
        }
        Ok(file)
    }

    /// Deletes by setting the delete disposition (CREATE + SET_INFO
    /// FileDispositionInformation + CLOSE, one round trip), so that
    /// failures such as a non-empty folder are reported rather than
    /// ignored.
    pub(crate) async fn delete(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        directory: bool,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let spec = OpenSpec::new(
            access_mask::DELETE | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            if directory {
                create_options::DIRECTORY_FILE
            } else {
                create_options::NON_DIRECTORY_FILE
            },
        );
        let data = fscc::FileDispositionInformation {
            delete_pending: true,
        }
        .to_bytes();
        self.set_info_path(
            tree,
            share,
            path,
            spec,
            info_class::FILE_DISPOSITION_INFORMATION,
            data,
            what,
            deadline,
            |status| failure(what, share, path, status),
        )
        .await
    }

    /// CREATE + SET_INFO FileBasicInformation + CLOSE.
    pub(crate) async fn set_basic_info(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        info: &FileBasicInformation,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let spec = OpenSpec::new(
            access_mask::FILE_READ_ATTRIBUTES
                | access_mask::FILE_WRITE_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        let data = info.to_bytes();
        self.set_info_path(
            tree,
            share,
            path,
            spec,
            info_class::FILE_BASIC_INFORMATION,
            data,
            what,
            deadline,
            |status| failure(what, share, path, status),
        )
        .await
    }

    /// CREATE + SET_INFO FileRenameInformation + CLOSE.
    pub(crate) async fn rename(
        &self,
        tree: u32,
        share: &str,
        old: &str,
        new: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let data = fscc::FileRenameInformation {
            replace_if_exists: false,
            root_directory: 0,
            file_name: new.to_string(),
        }
        .to_bytes()?;
        let spec = OpenSpec::new(
            access_mask::DELETE | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        self.set_info_path(
            tree,
            share,
            old,
            spec,
            info_class::FILE_RENAME_INFORMATION,
            data,
            "rename",
            deadline,
            |status| rename_failure(share, old, new, status),
        )
        .await
    }
}
