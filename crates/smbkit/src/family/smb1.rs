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

use super::{Family, Fid, FileRef, OpenFile, OpenInfo, OpenSpec};
use crate::driver::smb1::{Resp1, Smb1Shared};
use crate::driver::Tasks;
use crate::error::{describe_status, failure, rename_failure, Error, ProtocolError};
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

#[cfg(test)]
tokio::task_local! {
    /// A smaller MaxBufferSize for connections made within its scope, so
    /// that tests make the server split transaction responses.
    pub(crate) static TEST_MAX_BUFFER: u16;
}

/// [`CLIENT_MAX_BUFFER`], or the test override.
pub(crate) fn client_max_buffer() -> u16 {
    #[cfg(test)]
    if let Ok(v) = TEST_MAX_BUFFER.try_with(|v| *v) {
        return v;
    }
    CLIENT_MAX_BUFFER
}

/// The most a TRANSACTION2 response can total: its TotalParameterCount
/// and TotalDataCount are 16-bit (MS-CIFS §2.2.4.46.2).
const TRANS2_LIMIT: u32 = 0xFFFF;

/// The 16-bit TID of a tree.
pub(crate) fn tid(tree: u32) -> Result<u16, Error> {
    u16::try_from(tree).map_err(|_| {
        ProtocolError::Unexpected(format!("SMB1 tree id {tree:#x} does not fit 16 bits")).into()
    })
}

/// The TID and FID of a file opened over SMB1.
pub(crate) fn tid_fid(file: FileRef) -> Result<(u16, u16), Error> {
    match file.fid {
        Fid::Smb1(fid) => Ok((tid(file.tree)?, fid)),
        Fid::Smb2(_) => {
            Err(ProtocolError::Unexpected("an SMB2 file id on an SMB1 connection".into()).into())
        }
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
            return Err(Error::OperationFailure {
                message: format!("echo failed ({})", describe_status(r.header.status)),
                status: r.header.status,
            });
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
            return Err(Error::OperationFailure {
                message: format!(
                    "cannot connect to share '{share}' ({})",
                    describe_status(r.header.status)
                ),
                status: r.header.status,
            });
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
            return Err(Error::OperationFailure {
                message: "tree disconnect failed".into(),
                status: r.header.status,
            });
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
        what: &str,
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
            return Err(Error::OperationFailure {
                message: "CLOSE failed".into(),
                status: r.header.status,
            });
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
        what: &str,
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
        use smbkit_proto::fscc::{info_class, FileNetworkOpenInformation};
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
            let o = FileNetworkOpenInformation::decode(&open)
                .map_err(|e| ProtocolError::decode("FileNetworkOpenInformation", e))?;
            let file_id = smbkit_proto::Reader::new(&internal)
                .u64("FileInternalInformation")
                .map_err(|e| ProtocolError::decode("FileInternalInformation", e))?;
            let info = OpenInfo {
                creation_time: o.creation_time,
                last_access_time: o.last_access_time,
                last_write_time: o.last_write_time,
                change_time: o.change_time,
                size: o.end_of_file,
                alloc_size: o.allocation_size,
                attributes: o.file_attributes,
                file_id,
            };
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
    pub(crate) async fn set_attributes(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        attributes: u32,
        deadline: Instant,
    ) -> Result<(), Error> {
        use smbkit_proto::smb1::trans2::{passthrough_level, SetPathInformationRequest};
        let req = SetPathInformationRequest {
            information_level: passthrough_level(
                smbkit_proto::fscc::info_class::FILE_BASIC_INFORMATION,
            ),
            file_name: rooted(path),
            data: smbkit_proto::fscc::FileBasicInformation::set_attributes(attributes).to_bytes(),
        };
        self.trans2(tree, share, path, "reset_file_attributes", deadline, |w| {
            req.encode(w)
        })
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

/// FIND flags (MS-CIFS §2.2.6.2.1): close at end of search, continue from
/// the last name.
const FIND_CLOSE_AT_EOS: u16 = 0x0002;
const FIND_CONTINUE_FROM_LAST: u16 = 0x0008;
/// Search attributes: hidden, system and directories too.
const SEARCH_ALL: u16 = 0x0016;
/// How long the answer to a FIND_FIRST2 whose caller gave up is awaited, so
/// that the search it opened can be closed.
const LATE_FIND_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// MaxDataCount of FIND_FIRST2 / FIND_NEXT2: the most the 16-bit field
/// allows. A response larger than one message of our MaxBufferSize comes in
/// several parts, which the driver puts together.
const FIND_MAX_DATA: u16 = 0xFFFF;

/// A directory search over SMB1 (TRANS2 FIND_FIRST2 / FIND_NEXT2, MS-CIFS
/// §2.2.6.2, §2.2.6.3): its SID, the information level the server took,
/// the last name seen (FIND_NEXT2 continues from it), and whether the
/// server has ended it (it closes a search at its end). Dropped before the
/// end, it sends FIND_CLOSE2 (MS-CIFS §2.2.4.48) on the connection's own
/// account.
pub(crate) struct Search {
    smb1: Smb1,
    tree: u32,
    sid: u16,
    level: u16,
    last: Option<String>,
    ended: bool,
}

/// The entries of a FIND_FIRST2 or FIND_NEXT2 response at `level`.
fn find_entries(level: u16, data: &[u8], unicode: bool) -> Result<Vec<SharedFile>, Error> {
    use smbkit_proto::smb1::trans2::{
        find_level, parse_find_file_both_directory_info, parse_find_file_id_both_directory_info,
    };
    let entries = if level == find_level::FILE_ID_BOTH_DIRECTORY_INFO {
        parse_find_file_id_both_directory_info(data, unicode)
    } else {
        parse_find_file_both_directory_info(data, unicode)
    }
    .map_err(|e| ProtocolError::decode("directory listing", e))?;
    Ok(entries.into_iter().map(SharedFile::from_entry).collect())
}

impl Smb1 {
    /// Sends FIND_CLOSE2 for `sid` without waiting.
    fn find_close_detached(&self, tree: u32, sid: u16) {
        let req = smbkit_proto::smb1::trans2::FindClose2Request { sid };
        if let Ok(tid) = tid(tree) {
            let _ = self.shared.request_detached(
                command::FIND_CLOSE2,
                tid,
                Instant::now() + LATE_FIND_LIMIT,
                "FIND_CLOSE2",
                |w| {
                    req.encode(w);
                    Ok(())
                },
            );
        }
    }

    /// FIND_FIRST2 with SMB_FIND_FILE_ID_BOTH_DIRECTORY_INFO (MS-SMB
    /// §2.2.8.1.3), which carries the FileId that SMB2 listings have too;
    /// servers that do not know that level get
    /// SMB_FIND_FILE_BOTH_DIRECTORY_INFO. No match (STATUS_NO_SUCH_FILE)
    /// is an empty listing.
    pub(crate) async fn find_first(
        &self,
        tree: u32,
        share: &str,
        dir: &str,
        pattern: &str,
        deadline: Instant,
    ) -> Result<(Search, super::Page), Error> {
        use smbkit_proto::smb1::trans2::find_level;
        let search = if dir.is_empty() {
            format!("\\{pattern}")
        } else {
            format!("\\{dir}\\{pattern}")
        };
        let mut level = find_level::FILE_ID_BOTH_DIRECTORY_INFO;
        let ended = |level| Search {
            smb1: self.clone(),
            tree,
            sid: 0,
            level,
            last: None,
            ended: true,
        };
        loop {
            let r = self
                .find_first_at(tree, share, dir, &search, level, deadline)
                .await;
            match r {
                Err(e)
                    if level == find_level::FILE_ID_BOTH_DIRECTORY_INFO
                        && matches!(
                            e.status(),
                            Some(NtStatus::INVALID_LEVEL | NtStatus::NOT_SUPPORTED)
                        ) =>
                {
                    level = find_level::FILE_BOTH_DIRECTORY_INFO;
                }
                Err(e) if e.status() == Some(NtStatus::NO_SUCH_FILE) => {
                    let page = super::Page {
                        entries: Vec::new(),
                        end: true,
                    };
                    return Ok((ended(level), page));
                }
                Err(e) => return Err(e),
                Ok((sid, end, entries)) => {
                    // Armed (not ended) only now: dropped from here on, it
                    // closes the search the server holds.
                    let s = Search {
                        smb1: self.clone(),
                        tree,
                        sid,
                        level,
                        last: entries.last().map(|e| e.filename.clone()),
                        ended: end,
                    };
                    return Ok((s, super::Page { entries, end }));
                }
            }
        }
    }

    /// One FIND_FIRST2: the search's SID, whether it ended, and its first
    /// entries. The request runs in a task of its own: should `deadline`
    /// pass, or the caller go, before the answer, the task still takes the
    /// answer and closes the search the server opened anyway.
    async fn find_first_at(
        &self,
        tree: u32,
        share: &str,
        dir: &str,
        search: &str,
        level: u16,
        deadline: Instant,
    ) -> Result<(u16, bool, Vec<SharedFile>), Error> {
        use smbkit_proto::smb1::trans2::{FindFirst2Request, FindFirst2ResponseParameters};
        let req = FindFirst2Request {
            search_attributes: SEARCH_ALL,
            search_count: 1024,
            flags: FIND_CLOSE_AT_EOS,
            information_level: level,
            search_storage_type: 0,
            file_name: search.to_string(),
            max_data_count: FIND_MAX_DATA,
        };
        let (me, share2, dir2) = (self.clone(), share.to_string(), dir.to_string());
        let late_deadline = deadline.max(Instant::now() + LATE_FIND_LIMIT);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let answer = async {
                let (params, data, unicode) = me
                    .trans2(tree, &share2, &dir2, "listing", late_deadline, |w| {
                        req.encode(w)
                    })
                    .await?;
                let p = FindFirst2ResponseParameters::decode(&params)
                    .map_err(|e| ProtocolError::decode("FIND_FIRST2 parameters", e))?;
                let end = p.end_of_search != 0;
                match find_entries(level, &data, unicode) {
                    Ok(entries) => Ok((p.sid, end, entries)),
                    Err(e) => {
                        if !end {
                            me.find_close_detached(tree, p.sid);
                        }
                        Err(e)
                    }
                }
            }
            .await;
            if let Err(Ok((sid, false, _))) = tx.send(answer) {
                // Nobody took the open search.
                me.find_close_detached(tree, sid);
            }
        });
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(answer) => answer.unwrap_or(Err(Error::NotConnected)),
            Err(_) => Err(Error::Timeout {
                operation: "listing",
                after: std::time::Duration::ZERO,
            }),
        }
    }
}

impl Search {
    /// FIND_NEXT2 from the last name seen; STATUS_NO_MORE_FILES ends the
    /// search.
    pub(crate) async fn next_page(
        &mut self,
        share: &str,
        dir: &str,
        deadline: Instant,
    ) -> Result<super::Page, Error> {
        use smbkit_proto::smb1::trans2::{FindNext2Request, FindNext2ResponseParameters};
        let done = super::Page {
            entries: Vec::new(),
            end: true,
        };
        if self.ended {
            return Ok(done);
        }
        let Some(last) = self.last.clone() else {
            // Nothing to continue from: end the search here.
            return Ok(done);
        };
        let next = FindNext2Request {
            sid: self.sid,
            search_count: 1024,
            information_level: self.level,
            resume_key: 0,
            flags: FIND_CLOSE_AT_EOS | FIND_CONTINUE_FROM_LAST,
            file_name: last,
            max_data_count: FIND_MAX_DATA,
        };
        let (params, data, unicode) = match self
            .smb1
            .trans2(self.tree, share, dir, "listing", deadline, |w| {
                next.encode(w)
            })
            .await
        {
            Ok(x) => x,
            Err(e) if e.status() == Some(NtStatus::NO_MORE_FILES) => {
                self.ended = true;
                return Ok(done);
            }
            Err(e) => return Err(e),
        };
        let p = FindNext2ResponseParameters::decode(&params)
            .map_err(|e| ProtocolError::decode("FIND_NEXT2 parameters", e))?;
        let entries = find_entries(self.level, &data, unicode)?;
        let end = p.end_of_search != 0;
        if entries.is_empty() && !end {
            return Err(ProtocolError::Unexpected("FIND_NEXT2 made no progress".into()).into());
        }
        if let Some(e) = entries.last() {
            self.last = Some(e.filename.clone());
        }
        self.ended = end;
        Ok(super::Page { entries, end })
    }

    /// Ends the search: the server closed it at its end; one given up on
    /// before is closed with FIND_CLOSE2.
    pub(crate) fn finish(self) {}
}

impl Drop for Search {
    fn drop(&mut self) {
        if !self.ended {
            self.smb1.find_close_detached(self.tree, self.sid);
        }
    }
}

// Transfers: READ_ANDX and WRITE_ANDX (MS-SMB §2.2.4.2, §2.2.4.3).

/// READ_ANDX of up to `len` bytes at `offset` (MS-SMB §2.2.4.2): the data,
/// zero-copy; empty at the end of the file (STATUS_END_OF_FILE or no
/// data). A server may send fewer bytes than asked anywhere in the file
/// (MS-SMB §3.3.5.7), so the caller reads on from where the data ended.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read_raw(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    len: u32,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<bytes::Bytes, Error> {
    let req = smbkit_proto::smb1::read::ReadAndxRequest::file(fid, offset, len);
    let r = s
        .request(command::READ_ANDX, tid, deadline, "read", |w| req.encode(w))
        .await?;
    match r.header.status {
        NtStatus::SUCCESS => {
            let range = smbkit_proto::smb1::read::read_andx_data_range(&r.msg)
                .map_err(|e| ProtocolError::decode("READ_ANDX response", e))?;
            if range.len() > len as usize {
                return Err(
                    ProtocolError::Unexpected("READ_ANDX returned more than asked".into()).into(),
                );
            }
            Ok(r.msg.slice(range))
        }
        NtStatus::END_OF_FILE => Ok(bytes::Bytes::new()),
        st => Err(failure("reading", share, path, st)),
    }
}

/// WRITE_ANDX of `data` at `offset` (MS-SMB §2.2.4.3), the data sent from
/// its own buffer (signed or not); returns the bytes the server wrote,
/// which may be fewer.
#[allow(clippy::too_many_arguments)]
async fn write_raw(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    data: bytes::Bytes,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<usize, Error> {
    let len = data.len();
    let r = send_write(s, tid, fid, offset, data, deadline)
        .await?
        .response()
        .await?;
    written(&r, len, share, path)
}

/// Sends a WRITE_ANDX of `data` at `offset` without waiting for the
/// response.
pub(crate) async fn send_write(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    data: bytes::Bytes,
    deadline: Instant,
) -> Result<crate::driver::smb1::Sent1<'_>, Error> {
    let len = data.len();
    s.send(
        command::WRITE_ANDX,
        tid,
        deadline,
        "write",
        |w| smbkit_proto::smb1::write::encode_write_andx_header(w, fid, offset, 0, len),
        data,
    )
    .await
}

/// The bytes a WRITE_ANDX response says were written of `len` (Count |
/// CountHigh << 16, MS-SMB §2.2.4.3.2); an error status fails.
fn written(r: &Resp1, len: usize, share: &str, path: &str) -> Result<usize, Error> {
    if r.header.status.is_error() {
        return Err(failure("writing", share, path, r.header.status));
    }
    let resp = smbkit_proto::smb1::write::WriteAndxResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("WRITE_ANDX response", e))?;
    let n = resp.written(len as u32) as usize;
    if n > len {
        return Err(ProtocolError::Unexpected(format!(
            "the server wrote {n} bytes, {len} were sent"
        ))
        .into());
    }
    Ok(n)
}

/// The error for a WRITE_ANDX of which the server wrote nothing.
fn nothing_written(share: &str, path: &str, len: usize, at: u64) -> Error {
    ProtocolError::Unexpected(format!(
        "writing '{}': the server reported success but wrote 0 of {len} bytes at offset {at}",
        crate::error::display(share, path),
    ))
    .into()
}

/// Writes all of `data` at `offset` with WRITE_ANDX requests: a request the
/// server took only part of is followed by one with the rest. A request of
/// which the server wrote nothing fails the write. Each request has the
/// whole time limit.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_all_at(
    s: &Smb1Shared,
    tid: u16,
    fid: u16,
    offset: u64,
    mut data: bytes::Bytes,
    share: &str,
    path: &str,
    limit: std::time::Duration,
) -> Result<(), Error> {
    let mut at = offset;
    while !data.is_empty() {
        let deadline = Instant::now() + limit;
        let n = write_raw(s, tid, fid, at, data.clone(), share, path, deadline).await?;
        if n == 0 {
            return Err(nothing_written(share, path, data.len(), at));
        }
        bytes::Buf::advance(&mut data, n);
        at += n as u64;
    }
    Ok(())
}

/// A WRITE_ANDX of an upload in flight.
pub(crate) struct WriteInFlight<'a> {
    pub(crate) sent: crate::driver::smb1::Sent1<'a>,
    pub(crate) data: bytes::Bytes,
    pub(crate) at: u64,
}

impl WriteInFlight<'_> {
    /// Waits for the response and writes what the server did not take;
    /// returns the data's buffer once nothing else holds it, for the next
    /// chunk.
    pub(crate) async fn finish(
        self,
        s: &Smb1Shared,
        tid: u16,
        fid: u16,
        share: &str,
        path: &str,
        limit: std::time::Duration,
    ) -> Result<Option<bytes::BytesMut>, Error> {
        let WriteInFlight { sent, data, at } = self;
        let len = data.len();
        let n = written(&sent.response().await?, len, share, path)?;
        if n == 0 {
            return Err(nothing_written(share, path, len, at));
        }
        if n < len {
            let rest = data.slice(n..);
            write_all_at(s, tid, fid, at + n as u64, rest, share, path, limit).await?;
        }
        // Sent and answered: the buffer is ours again.
        Ok(data.try_into_mut().ok())
    }
}

impl Smb1 {
    /// The READ_ANDX size, already the exact SMB1 limit (see
    /// `max_read` in the SMB1 session setup).
    pub(crate) fn read_size(&self) -> usize {
        self.info.max_read_size.max(1024) as usize
    }

    /// The WRITE_ANDX size (see `max_write` in the SMB1 session setup).
    pub(crate) fn write_size(&self) -> usize {
        self.info.max_write_size.max(1024) as usize
    }

    /// READ_ANDX on an open file.
    pub(crate) async fn read(
        &self,
        file: FileRef,
        offset: u64,
        len: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        let (tid, fid) = tid_fid(file)?;
        read_raw(&self.shared, tid, fid, offset, len, share, path, deadline).await
    }

    /// NT_CREATE_ANDX for reading; the reads come after.
    pub(crate) async fn open_read(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        _offset: u64,
        _len: u32,
        deadline: Instant,
    ) -> Result<super::ReadStart, Error> {
        let f = self
            .open(
                tree,
                share,
                path,
                super::read_spec(),
                "retrieve_file",
                deadline,
            )
            .await?;
        Ok(super::ReadStart::Open(f))
    }

    /// NT_CREATE_ANDX, WRITE_ANDX requests until all is written, CLOSE.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_small(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        offset: u64,
        data: bytes::Bytes,
        deadline: Instant,
    ) -> Result<(), Error> {
        let f = self
            .open(tree, share, path, spec, "store_file", deadline)
            .await?;
        let (tid, fid) = tid_fid(f.file())?;
        let limit = deadline.saturating_duration_since(Instant::now());
        write_all_at(&self.shared, tid, fid, offset, data, share, path, limit).await?;
        f.close(deadline).await
    }

    /// Sends a WRITE_ANDX without waiting for its answer.
    pub(crate) async fn start_write(
        &self,
        file: FileRef,
        offset: u64,
        data: bytes::Bytes,
        deadline: Instant,
    ) -> Result<WriteInFlight<'_>, Error> {
        let (tid, fid) = tid_fid(file)?;
        let sent = send_write(&self.shared, tid, fid, offset, data.clone(), deadline).await?;
        Ok(WriteInFlight {
            sent,
            data,
            at: offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SmbProtocolFactory;
    use smbkit_proto::smb1::header::flags2;
    use smbkit_proto::smb1::header::{flags, Header};
    use smbkit_proto::smb1::write::{WriteAndxRequest, WriteAndxResponse};
    use smbkit_testserver::{Profile, TestServer};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn short_reads_below_the_size_are_read_on() {
        // Samba answers at most 131011 bytes per READ_ANDX on a signed
        // session: asking for 1 MiB gets short reads in the middle of the
        // file, which must not end it.
        let srv = TestServer::start(Profile::Smb1Signing).unwrap();
        let data = content(5 * 1024 * 1024 + 77);
        let p = srv.share_path().join("short.bin");
        std::fs::write(&p, &data).unwrap();
        srv.chown_to_user(&p).unwrap();
        for direct in [false, true] {
            let conn = SmbProtocolFactory::new(srv.user(), srv.password(), "C", "SMBKITTEST")
                .unwrap()
                .direct_tcp(direct)
                .connect((srv.host(), srv.port()))
                .await
                .unwrap();
            let file = conn.open_file("share", "short.bin").await.unwrap();
            let mut reader = file.reader(10, None).with_chunk(1024 * 1024);
            let mut all = Vec::new();
            while let Some(b) = reader.next_chunk().await.unwrap() {
                all.extend_from_slice(&b);
            }
            assert_eq!(all.len(), data.len() - 10);
            assert!(all[..] == data[10..]);
            // Later reads asked for what the server sent.
            assert_eq!(reader.chunk(), 0x1_FFFF - 60);
            drop(reader);
            let mut all = Vec::new();
            file.reader(0, None)
                .with_chunk(200_000)
                .read_to_end(&mut all)
                .await
                .unwrap();
            assert!(all == data);
            file.close().await.unwrap();
        }
    }

    /// A peer that answers each WRITE_ANDX with `answer(request length)`
    /// bytes written and keeps what it wrote.
    async fn write_peer(
        answer: fn(usize) -> usize,
    ) -> (
        Arc<Smb1Shared>,
        crate::driver::Tasks,
        Arc<std::sync::Mutex<Vec<u8>>>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = l.accept().await.unwrap();
        let file = Arc::new(std::sync::Mutex::new(Vec::new()));
        let f2 = Arc::clone(&file);
        tokio::spawn(async move {
            loop {
                let mut h = [0u8; 4];
                if server.read_exact(&mut h).await.is_err() {
                    return;
                }
                let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                let mut msg = vec![0u8; len];
                server.read_exact(&mut msg).await.unwrap();
                let mut header = Header::decode(&msg).unwrap();
                let req = WriteAndxRequest::decode(&msg).unwrap();
                let n = answer(req.data.len());
                {
                    let mut f = f2.lock().unwrap();
                    let end = req.offset as usize + n;
                    if f.len() < end {
                        f.resize(end, 0);
                    }
                    f[req.offset as usize..end].copy_from_slice(&req.data[..n]);
                }
                header.flags |= flags::REPLY;
                let mut w = smbkit_proto::Writer::new();
                header.encode(&mut w);
                WriteAndxResponse {
                    count: n as u32,
                    available: 0,
                }
                .encode(&mut w);
                let msg = w.into_vec();
                let out = crate::transport::frame(&msg).unwrap();
                tokio::io::AsyncWriteExt::write_all(&mut server, &out)
                    .await
                    .unwrap();
            }
        });
        let (rd, wr) = crate::transport::split(Box::new(client));
        let (s, tasks) = Smb1Shared::open(rd, wr, 16, 0, flags2::NT_STATUS, 1);
        (s, tasks, file)
    }

    #[tokio::test]
    async fn short_writes_continue_with_the_rest() {
        // At most 1000 bytes per request, and half of anything larger.
        let (s, _tasks, file) = write_peer(|n| (n / 2).clamp(1, 1000)).await;
        let data = content(10_000);
        let r = write_all_at(
            &s,
            1,
            2,
            100,
            bytes::Bytes::from(data.clone()),
            "share",
            "f.bin",
            Duration::from_secs(5),
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        {
            let f = file.lock().unwrap();
            assert_eq!(f.len(), 10_100);
            assert!(f[100..] == data[..]);
        }
        // Pipelined as uploads do: three requests in flight, each answered
        // in part, the rest written when its answer is taken.
        let limit = Duration::from_secs(5);
        let mut inflight = Vec::new();
        for k in 0..3u64 {
            let chunk = bytes::Bytes::from(content(3000));
            let at = 20_000 + k * 3000;
            let sent = send_write(&s, 1, 2, at, chunk.clone(), Instant::now() + limit)
                .await
                .unwrap();
            inflight.push(WriteInFlight {
                sent,
                data: chunk,
                at,
            });
        }
        for w in inflight {
            w.finish(&s, 1, 2, "share", "f.bin", limit).await.unwrap();
        }
        let f = file.lock().unwrap();
        assert_eq!(f.len(), 29_000);
        for k in 0..3 {
            let at = 20_000 + k * 3000;
            assert!(f[at..at + 3000] == content(3000)[..], "chunk {k}");
        }
    }

    #[tokio::test]
    async fn a_write_of_nothing_fails() {
        let (s, _tasks, _file) = write_peer(|_| 0).await;
        let err = write_all_at(
            &s,
            1,
            2,
            0,
            bytes::Bytes::from(content(5000)),
            "share",
            "f.bin",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("wrote 0 of 5000 bytes") && msg.contains("f.bin"),
            "{msg}"
        );
    }
}

// Pipes (MS-CIFS §2.2.5.6), snapshots (MS-SMB §2.2.7.2) and security
// (MS-CIFS §2.2.7.6). Transaction responses larger than smbkit's
// MaxBufferSize come in several messages, which the driver puts together,
// and transaction requests larger than the server's go as primary and
// secondary requests. RPC request fragments are still kept within one
// message of the server's MaxBufferSize ([`Smb1::request_room`]): all but
// the last are written with WRITE_ANDX, which cannot be split.

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

/// The error of a share without snapshot support. Over SMB1 Samba answers
/// the FSCTL with STATUS_NOT_SUPPORTED (its VFS's ENOSYS), where over SMB2
/// it, like Windows, answers STATUS_INVALID_DEVICE_REQUEST (MS-SMB2
/// §3.3.5.15: an FSCTL the object does not support); the status is made
/// the SMB2 one so that callers matching on it see the same on both
/// protocols. The message keeps what the server said.
fn no_snapshot_support(share: &str, path: &str) -> Error {
    Error::OperationFailure {
        message: format!(
            "list_snapshots '{}' failed (the share has no snapshot support: the server answered \
             STATUS_NOT_SUPPORTED to FSCTL_SRV_ENUMERATE_SNAPSHOTS)",
            crate::error::display(share, path)
        ),
        status: NtStatus::INVALID_DEVICE_REQUEST,
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
    ) -> Result<super::Sized, Error> {
        use smbkit_proto::smb1::nt_transact::IoctlRequest;
        let f = &self.file;
        let Family::Smb1(me) = f.family() else {
            return Err(
                ProtocolError::Unexpected("an SMB2 file on an SMB1 connection".into()).into(),
            );
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
        Ok(super::Sized {
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
    ) -> Result<super::Sized, Error> {
        use smbkit_proto::smb1::nt_transact::{decode_length_needed, QuerySecurityDescRequest};
        let f = &self.file;
        let Family::Smb1(me) = f.family() else {
            return Err(
                ProtocolError::Unexpected("an SMB2 file on an SMB1 connection".into()).into(),
            );
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
        Ok(super::Sized {
            status: r.header.status,
            data: r.data.into(),
            needed,
        })
    }
}

impl Smb1 {
    pub(crate) fn query_limits(&self) -> super::QueryLimits {
        super::QueryLimits {
            security_first: SECURITY_FIRST_OUTPUT,
            security_max: NT_TRANS_OUTPUT_LIMIT,
            fsctl_max: NT_TRANS_OUTPUT_LIMIT,
        }
    }

    /// The most data bytes one request message can carry: the server's
    /// MaxBufferSize (NEGOTIATE, kept as `max_transact_size`) less the
    /// headers, at most 0xFFFF.
    pub(crate) fn request_room(&self) -> u32 {
        self.info
            .max_transact_size
            .saturating_sub(MESSAGE_OVERHEAD)
            .clamp(MIN_ROOM, 0xFFFF)
    }

    /// TRANS_TRANSACT_NMPIPE asks for up to 0xFFFF bytes; READ_ANDX for
    /// what one response message of smbkit's MaxBufferSize holds; request
    /// fragments fit one message of the server's.
    pub(crate) fn pipe_limits(&self) -> super::PipeLimits {
        super::PipeLimits {
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
            return Err(ProtocolError::Unexpected(format!(
                "TRANS_TRANSACT_NMPIPE returned {} bytes, more than the {io} asked for",
                r.data.len()
            ))
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
            return Err(ProtocolError::Unexpected(format!(
                "the srvsvc pipe took {written} of the {len} bytes of a PDU"
            ))
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
        super::check_pipe_read(range.len(), u32::from(length), "READ_ANDX")?;
        Ok(r.msg.slice(range))
    }
}

#[cfg(test)]
mod transaction_tests {
    //! Against real Samba: the internal knobs the public API cannot reach
    //! (tiny pipe buffers force STATUS_BUFFER_OVERFLOW and READ_ANDX
    //! continuations; a tiny security buffer forces STATUS_BUFFER_TOO_SMALL
    //! and the retry with LengthNeeded).
    use super::*;
    use crate::{Connection, SmbProtocolFactory};
    use smbkit_proto::dtyp::security_information;
    use smbkit_proto::smb1::nt_transact::QuerySecurityDescRequest;
    use smbkit_testserver::{Profile, TestServer};
    use std::time::Duration;

    fn smb1(conn: &Connection) -> &Smb1 {
        match conn.ctx.family() {
            Family::Smb1(f) => f,
            Family::Smb2(_) => panic!("an SMB1 connection"),
        }
    }

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
        assert_eq!(smb1(&conn).request_room(), max - MESSAGE_OVERHEAD);
        assert!(read_room() < u32::from(CLIENT_MAX_BUFFER));
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
        TEST_MAX_BUFFER
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
                let s = smb1(&conn);
                let tree = conn.ctx.tree("share", deadline()).await.unwrap();
                let spec = OpenSpec::new(
                    access_mask::READ_CONTROL | access_mask::SYNCHRONIZE,
                    create_disposition::OPEN,
                    0,
                );
                let f = s
                    .open(tree, "share", "acl.txt", spec, "test", deadline())
                    .await
                    .unwrap();
                let (tid, fid) = tid_fid(f.file()).unwrap();
                let req = QuerySecurityDescRequest {
                    fid,
                    security_information: security_information::DACL,
                    max_data_count: SECURITY_FIRST_OUTPUT,
                };
                let r = s
                    .shared
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
                f.close(deadline()).await.unwrap();

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
