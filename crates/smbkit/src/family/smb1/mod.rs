//! The SMB1 (NT LM 0.12) primitives (MS-CIFS, MS-SMB) over the SMB1
//! driver.
//!
//! SMB1 has no compounds; where SMB2 opens, acts and closes in one round
//! trip, SMB1 uses its path-based calls (SMB_COM_RENAME, SMB_COM_DELETE,
//! TRANS2 QUERY_PATH_INFORMATION and SET_PATH_INFORMATION), which are one
//! round trip too.

use std::sync::Arc;

use smbkit_proto::smb1::header::command;
use smbkit_proto::smb1::negotiate::capabilities as caps;
use smbkit_proto::smb1::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options};
use smbkit_proto::{EncodeError, NtStatus, Writer};
use tokio::time::Instant;

mod dfs;
mod fsctl;
mod handle;
mod ipc;
mod notify;
mod search;
mod transfer;

pub(crate) use ipc::PathQuery;
pub(crate) use search::Search;
pub(crate) use transfer::WriteInFlight;

use super::{Family, Fid, FileRef, OpenFile, OpenInfo, OpenSpec};
use crate::driver::smb1::{Resp1, Smb1Shared};
use crate::driver::Tasks;
use crate::error::{failure, rename_failure, Error, ProtocolError};
use crate::types::{ServerInfo, SharedFile, TreeInfo};

/// An SMB1 connection's driver and what its primitives need to know.
#[derive(Clone)]
pub(crate) struct Smb1 {
    pub(crate) shared: Arc<Smb1Shared>,
    info: Arc<ServerInfo>,
    /// The driver's tasks, stopped by [`Smb1::stop`].
    tasks: Arc<std::sync::Mutex<Option<Tasks>>>,
}

/// The MaxBufferSize smbkit announces in SESSION_SETUP_ANDX (MS-CIFS
/// §2.2.4.53.1): the largest message the server may send it. Larger
/// transaction responses come in several messages.
pub(crate) const CLIENT_MAX_BUFFER: u16 = 61440;

/// The most a TRANSACTION2 response can total: its TotalParameterCount
/// and TotalDataCount are 16-bit (MS-CIFS §2.2.4.46.2).
const TRANS2_LIMIT: u32 = 0xFFFF;

/// The 16-bit TID of a tree.
pub(crate) fn tid(tree: u32) -> Result<u16, Error> {
    u16::try_from(tree).map_err(|_| {
        crate::error::Internal::Unexpected("an SMB1 tree id that does not fit 16 bits").into()
    })
}

/// What the pass-through levels FileNetworkOpenInformation and
/// FileInternalInformation (MS-FSCC §2.4.29, §2.4.22) tell of a file, from
/// their data.
pub(crate) fn open_info(network_open: &[u8], internal: &[u8]) -> Result<OpenInfo, Error> {
    let o = smbkit_proto::fscc::FileNetworkOpenInformation::decode(network_open)
        .map_err(|e| ProtocolError::decode("FileNetworkOpenInformation", e))?;
    let file_id = smbkit_proto::Reader::new(internal)
        .u64("FileInternalInformation")
        .map_err(|e| ProtocolError::decode("FileInternalInformation", e))?;
    Ok(OpenInfo {
        creation_time: o.creation_time,
        last_access_time: o.last_access_time,
        last_write_time: o.last_write_time,
        change_time: o.change_time,
        size: o.end_of_file,
        alloc_size: o.allocation_size,
        attributes: o.file_attributes,
        file_id,
    })
}

/// The TID and FID of a file opened over SMB1.
pub(crate) fn tid_fid(file: FileRef) -> Result<(u16, u16), Error> {
    match file.fid {
        Fid::Smb1(fid) => Ok((tid(file.tree)?, fid)),
        Fid::Smb2(_) => Err(crate::error::Internal::WrongFamily.into()),
    }
}

/// A path as SMB1 requests name it: from the share root.
fn rooted(path: &str) -> String {
    format!("\\{path}")
}

impl Smb1 {
    pub(crate) fn new(shared: Arc<Smb1Shared>, tasks: Tasks, info: ServerInfo) -> Self {
        Smb1 {
            shared,
            info: Arc::new(info),
            tasks: Arc::new(std::sync::Mutex::new(Some(tasks))),
        }
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
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = tasks {
            t.close().await;
        }
    }

    /// SMB1 has no negotiation to validate.
    pub(crate) fn is_negotiate_validated(&self) -> bool {
        false
    }

    /// SMB_COM_ECHO (MS-CIFS §2.2.4.39): the server sends the data back.
    pub(crate) async fn echo(&self, data: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let req = smbkit_proto::smb1::echo::EchoRequest {
            echo_count: 1,
            data: data.to_vec(),
        };
        let r = self
            .shared
            .request(command::ECHO, 0, deadline, "echo", |w| req.encode(w))
            .await?;
        if r.header.status.is_error() {
            return Err(failure("echo", "", "", r.header.status));
        }
        let resp = smbkit_proto::smb1::echo::EchoResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("ECHO response", e))?;
        Ok(resp.data)
    }

    /// TREE_CONNECT_ANDX to `\\remote_name\share` (MS-CIFS §2.2.4.55).
    pub(crate) async fn tree_connect(
        &self,
        remote_name: &str,
        share: &str,
        deadline: Instant,
    ) -> Result<TreeInfo, Error> {
        let req = TreeConnectRequest {
            flags: 0x0008,
            password: vec![0],
            path: format!("\\\\{remote_name}\\{share}"),
            service: "?????".into(),
        };
        let r = self
            .shared
            .request(
                command::TREE_CONNECT_ANDX,
                0,
                deadline,
                "tree connect",
                |w| req.encode(w),
            )
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Err(failure("tree connect", share, "", r.header.status));
        }
        let t = TreeConnectResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("TREE_CONNECT_ANDX response", e))?;
        let share_type = match t.service.as_str() {
            "IPC" => 2,
            "LPT1:" => 3,
            _ => 1,
        };
        Ok(TreeInfo {
            tree_id: u32::from(r.header.tid),
            share_type,
            share_flags: u32::from(t.optional_support),
            capabilities: 0,
            maximal_access: t.maximal_access.unwrap_or(0),
            encrypted: false,
        })
    }

    /// TREE_DISCONNECT (MS-CIFS §2.2.4.51).
    pub(crate) async fn tree_disconnect(&self, tree: u32, deadline: Instant) -> Result<(), Error> {
        let r = self
            .shared
            .request(
                command::TREE_DISCONNECT,
                tid(tree)?,
                deadline,
                "tree disconnect",
                |w| {
                    smbkit_proto::smb1::logoff::TreeDisconnectRequest.encode(w);
                    Ok(())
                },
            )
            .await?;
        if r.header.status.is_error() {
            return Err(failure("tree disconnect", "", "", r.header.status));
        }
        Ok(())
    }

    /// LOGOFF_ANDX (MS-CIFS §2.2.4.54), best effort.
    pub(crate) async fn logoff(&self, deadline: Instant) {
        let _ = self
            .shared
            .request(command::LOGOFF_ANDX, 0, deadline, "logoff", |w| {
                smbkit_proto::smb1::logoff::LogoffRequest.encode(w);
                Ok(())
            })
            .await;
    }

    /// NT_CREATE_ANDX (MS-CIFS §2.2.4.64) of `path` (backslashes, no
    /// leading separator) with the SMB2 spec's access, disposition and
    /// options values, which SMB1 shares.
    pub(crate) async fn open(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<OpenFile, Error> {
        let req = smbkit_proto::smb1::create::NtCreateAndxRequest {
            flags: 0,
            root_directory_fid: 0,
            desired_access: spec.access,
            allocation_size: 0,
            ext_file_attributes: spec.attributes,
            share_access: spec.share,
            create_disposition: spec.disposition,
            create_options: spec.options,
            impersonation_level: 2,
            security_flags: 0,
            name: rooted(path),
        };
        let r = self
            .shared
            .request(
                command::NT_CREATE_ANDX,
                tid(tree)?,
                deadline,
                "NT_CREATE_ANDX",
                |w| req.encode(w),
            )
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Err(failure(what, share, path, r.header.status));
        }
        let c = smbkit_proto::smb1::create::NtCreateAndxResponse::decode(&r.msg)
            .map_err(|e| ProtocolError::decode("NT_CREATE_ANDX response", e))?;
        let info = OpenInfo {
            creation_time: c.create_time,
            last_access_time: c.last_access_time,
            last_write_time: c.last_write_time,
            change_time: c.last_change_time,
            size: c.end_of_file,
            alloc_size: c.allocation_size,
            attributes: c.ext_file_attributes,
            file_id: c.extended.as_ref().map_or(0, |e| e.file_id),
        };
        Ok(OpenFile::new(
            Family::Smb1(self.clone()),
            FileRef {
                tree,
                fid: Fid::Smb1(c.fid),
            },
            info,
        ))
    }

    /// CLOSE (MS-CIFS §2.2.4.5). While requests given up on are pending
    /// (the reads of a transfer that timed out, say), the CLOSE waits
    /// until they are answered: Samba 4.17's smbd crashes (close_file_smb)
    /// on a CLOSE that arrives while READ_ANDXs on the file are pending.
    pub(crate) async fn close(&self, file: FileRef, deadline: Instant) -> Result<(), Error> {
        let (tid, fid) = tid_fid(file)?;
        if self.shared.has_abandoned() {
            self.shared.close_file_detached(tid, fid);
            return Ok(());
        }
        let req = smbkit_proto::smb1::close::CloseRequest {
            fid,
            last_time_modified: smbkit_proto::smb1::close::KEEP_LAST_TIME_MODIFIED,
        };
        let r = self
            .shared
            .request(command::CLOSE, tid, deadline, "CLOSE", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        if r.header.status.is_error() {
            return Err(failure("close", "", "", r.header.status));
        }
        Ok(())
    }

    /// Hands the CLOSE to the connection
    /// ([`smbkit_proto::conn::Smb1Connection::close_file`]), which sends
    /// it once the requests given up on are answered.
    pub(crate) fn close_detached(&self, file: FileRef) {
        if let Ok((tid, fid)) = tid_fid(file) {
            self.shared.close_file_detached(tid, fid);
        }
    }

    /// A request whose response has no body: the status says it all.
    #[allow(clippy::too_many_arguments)]
    async fn simple(
        &self,
        cmd: u8,
        tree: u32,
        what: &'static str,
        share: &str,
        path: &str,
        deadline: Instant,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<(), Error> {
        let r = self
            .shared
            .request(cmd, tid(tree)?, deadline, what, body)
            .await?;
        if r.header.status.is_error() {
            return Err(failure(what, share, path, r.header.status));
        }
        Ok(())
    }

    /// One TRANSACTION2 exchange (MS-CIFS §2.2.4.46): its parameters and
    /// data, reassembled from every message of the response, and whether
    /// its strings are Unicode. An error status fails with `what`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn trans2(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        what: &'static str,
        deadline: Instant,
        body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<(Vec<u8>, Vec<u8>, bool), Error> {
        let r = self
            .shared
            .request_trans(
                command::TRANSACTION2,
                tid(tree)?,
                deadline,
                what,
                TRANS2_LIMIT,
                body,
            )
            .await?;
        let status = r.header.status;
        if status.is_error() {
            return Err(failure(what, share, path, status));
        }
        let unicode = r.unicode();
        Ok((r.parameters, r.data, unicode))
    }

    /// NT_CREATE_ANDX, then CLOSE (SMB_COM_CREATE_DIRECTORY is deprecated,
    /// MS-CIFS §2.2.4.1, and Samba fails it on a read-only share with
    /// STATUS_MEDIA_WRITE_PROTECTED where the create gives
    /// STATUS_ACCESS_DENIED).
    pub(crate) async fn open_close(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let f = self.open(tree, share, path, spec, what, deadline).await?;
        f.close(deadline).await
    }

    /// The attributes of `path`: two TRANS2 QUERY_PATH_INFORMATION at once,
    /// for the pass-through (MS-SMB §2.2.2.3.5) FileNetworkOpenInformation
    /// and FileInternalInformation, so that the file id comes along as it
    /// does over SMB2. (Samba answers the pass-through FileAllInformation
    /// with the SMB_QUERY_FILE_ALL_INFO layout, which has no file id.)
    /// Servers without CAP_INFOLEVEL_PASSTHRU get NT_CREATE_ANDX for
    /// attributes only, then CLOSE, and no file id.
    pub(crate) async fn stat(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<SharedFile, Error> {
        use smbkit_proto::fscc::info_class;
        use smbkit_proto::smb1::trans2::{passthrough_level, QueryPathInformationRequest};
        if self.info.capabilities & caps::INFOLEVEL_PASSTHRU != 0 {
            let query = |class: u8| QueryPathInformationRequest {
                information_level: passthrough_level(class),
                file_name: rooted(path),
                max_data_count: 512,
            };
            let (open, internal) = (
                query(info_class::FILE_NETWORK_OPEN_INFORMATION),
                query(info_class::FILE_INTERNAL_INFORMATION),
            );
            let ((_, open, _), (_, internal, _)) = tokio::try_join!(
                self.trans2(tree, share, path, "get_attributes", deadline, |w| {
                    open.encode(w)
                }),
                self.trans2(tree, share, path, "get_attributes", deadline, |w| {
                    internal.encode(w)
                }),
            )?;
            let info = open_info(&open, &internal)?;
            return Ok(super::shared_file(path, &info));
        }
        let spec = OpenSpec::new(
            access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        let f = self
            .open(tree, share, path, spec, "get_attributes", deadline)
            .await?;
        let info = *f.info();
        f.close(deadline).await?;
        Ok(super::shared_file(path, &info))
    }

    /// SMB_COM_DELETE_DIRECTORY (MS-CIFS §2.2.4.2) for a folder;
    /// SMB_COM_DELETE (MS-CIFS §2.2.4.7) for a file.
    pub(crate) async fn delete(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        directory: bool,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        if directory {
            let req = smbkit_proto::smb1::path_ops::DeleteDirectoryRequest {
                directory_name: rooted(path),
            };
            return self
                .simple(
                    command::DELETE_DIRECTORY,
                    tree,
                    what,
                    share,
                    path,
                    deadline,
                    |w| req.encode(w),
                )
                .await;
        }
        let req = smbkit_proto::smb1::path_ops::DeleteRequest {
            search_attributes: 0x06,
            file_name: rooted(path),
        };
        let deleted = self
            .simple(command::DELETE, tree, what, share, path, deadline, |w| {
                req.encode(w)
            })
            .await;
        match deleted {
            // Samba's SMB_COM_DELETE opens the file sharing nothing, so a
            // file open elsewhere (even with FILE_SHARE_DELETE) cannot go
            // that way. Over SMB2 such a file is marked for deletion and
            // goes when its last handle closes: do the same with an open
            // that shares all and deletes on close.
            Err(e) if e.status() == Some(NtStatus::SHARING_VIOLATION) => {
                let spec = OpenSpec::new(
                    access_mask::DELETE
                        | access_mask::FILE_READ_ATTRIBUTES
                        | access_mask::SYNCHRONIZE,
                    create_disposition::OPEN,
                    create_options::NON_DIRECTORY_FILE | create_options::DELETE_ON_CLOSE,
                );
                self.open_close(tree, share, path, spec, what, deadline)
                    .await
            }
            r => r,
        }
    }

    /// TRANS2 SET_PATH_INFORMATION with the pass-through
    /// FileBasicInformation (MS-SMB §2.2.2.3.5).
    pub(crate) async fn set_basic_info(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        info: &smbkit_proto::fscc::FileBasicInformation,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        use smbkit_proto::smb1::trans2::{passthrough_level, SetPathInformationRequest};
        let req = SetPathInformationRequest {
            information_level: passthrough_level(
                smbkit_proto::fscc::info_class::FILE_BASIC_INFORMATION,
            ),
            file_name: rooted(path),
            data: info.to_bytes(),
        };
        self.trans2(tree, share, path, what, deadline, |w| req.encode(w))
            .await
            .map(|_| ())
    }

    /// SMB_COM_RENAME (MS-CIFS §2.2.4.8), files and folders.
    pub(crate) async fn rename(
        &self,
        tree: u32,
        share: &str,
        old: &str,
        new: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let req = smbkit_proto::smb1::path_ops::RenameRequest {
            search_attributes: 0x16, // hidden, system, directory
            old_file_name: rooted(old),
            new_file_name: rooted(new),
        };
        let r = self
            .shared
            .request(command::RENAME, tid(tree)?, deadline, "rename", |w| {
                req.encode(w)
            })
            .await?;
        if r.header.status.is_error() {
            return Err(rename_failure(share, old, new, r.header.status));
        }
        Ok(())
    }
}
