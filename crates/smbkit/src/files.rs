//! File operations over SMB2/3: the reference's listPath, getAttributes,
//! createDirectory, deleteDirectory, deleteFiles, rename and friends.
//!
//! Every operation that opens, acts and closes sends its requests as one
//! related compound (MS-SMB2 §3.2.4.1.4) where it can, so that it costs one
//! round trip.

use std::time::Duration;

use smbkit_proto::codec::utf16_len;
use smbkit_proto::fscc::{self, info_class, FileAllInformation, FileBasicInformation};
use smbkit_proto::smb2::close::CloseRequest;
use smbkit_proto::smb2::create::{
    access_mask, create_disposition, create_options, impersonation, share_access, CreateRequest,
    CreateResponse, FileId,
};
use smbkit_proto::smb2::query_directory::{
    query_directory_flags, query_directory_response_data_range, QueryDirectoryRequest,
};
use smbkit_proto::smb2::query_info::{info_type, QueryInfoRequest, QueryInfoResponse};
use smbkit_proto::smb2::set_info::SetInfoRequest;
use smbkit_proto::{Command, NtStatus};
use tokio::time::Instant;

use crate::connection::{with_limit, Connection};
use crate::driver::{body, Part, Response};
use crate::error::{describe_status, Error, ProtocolError};
use crate::types::SharedFile;

/// Default `search` filter of [`Connection::list_path`]: read-only, hidden,
/// system, directory, archive and normal files (the reference's 65591).
pub const DEFAULT_SEARCH: u32 = fscc::search::DEFAULT;

/// The longest path a request can carry, in bytes of UTF-16: the path
/// fields of both families have 16-bit lengths (MS-SMB2 §2.2.13 CREATE
/// NameLength, §2.2.33 QUERY_DIRECTORY FileNameLength; MS-CIFS §2.2.4.64.1
/// NT_CREATE_ANDX NameLength, and the 16-bit ByteCount and
/// TotalParameterCount around every SMB1 path, §2.2.3.3, §2.2.4.46.1).
pub(crate) const MAX_PATH_BYTES: usize = 65535;

/// A remote path in the form the server wants: backslashes, no leading or
/// trailing separator (the share root is the empty string). A path longer
/// than [`MAX_PATH_BYTES`] is rejected here, before anything is sent (the
/// encoders would refuse it too, naming their field).
pub(crate) fn smb_path(path: &str) -> Result<String, Error> {
    if path.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "path {:?} contains a NUL character",
            abbreviate(path)
        )));
    }
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let path = parts.join("\\");
    check_length("path", &path)?;
    Ok(path)
}

/// Fails unless `s` fits [`MAX_PATH_BYTES`] as UTF-16; `what` names it.
pub(crate) fn check_length(what: &str, s: &str) -> Result<(), Error> {
    let bytes = utf16_len(s);
    if bytes > MAX_PATH_BYTES {
        return Err(Error::InvalidArgument(format!(
            "{what} '{}' of {} characters is {bytes} bytes in UTF-16, the limit is \
             {MAX_PATH_BYTES} (a 16-bit length field)",
            abbreviate(s),
            s.chars().count()
        )));
    }
    Ok(())
}

/// The first characters of `s` (all of it if short), for messages about
/// names too long to print whole.
pub(crate) fn abbreviate(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `\share\path` for messages.
pub(crate) fn display(share: &str, path: &str) -> String {
    if path.is_empty() {
        format!("\\{share}")
    } else {
        format!("\\{share}\\{path}")
    }
}

/// Splits `dir\last` into (`dir`, `last`).
pub(crate) fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('\\') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

pub(crate) fn failure(what: &str, share: &str, path: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        message: format!(
            "{what} '{}' failed ({})",
            display(share, path),
            describe_status(status)
        ),
        status,
    }
}

/// A failed rename, naming both paths.
pub(crate) fn rename_failure(share: &str, old: &str, new: &str, status: NtStatus) -> Error {
    Error::OperationFailure {
        message: format!(
            "rename '{}' to '{}' failed ({})",
            display(share, old),
            display(share, new),
            describe_status(status)
        ),
        status,
    }
}

/// What to open and how (MS-SMB2 §2.2.13).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenSpec {
    pub access: u32,
    pub disposition: u32,
    pub options: u32,
    pub attributes: u32,
}

impl OpenSpec {
    pub(crate) fn new(access: u32, disposition: u32, options: u32) -> Self {
        OpenSpec {
            access,
            disposition,
            options,
            attributes: 0,
        }
    }

    fn request(&self, name: &str) -> CreateRequest {
        CreateRequest {
            security_flags: 0,
            requested_oplock_level: 0,
            impersonation_level: impersonation::IMPERSONATION,
            create_flags: 0,
            desired_access: self.access,
            file_attributes: self.attributes,
            share_access: share_access::ALL,
            create_disposition: self.disposition,
            create_options: self.options,
            name: name.to_string(),
            contexts: Vec::new(),
        }
    }
}

/// An open file or folder.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub tree_id: u32,
    pub file_id: FileId,
    pub create: CreateResponse,
}

fn decode_create(r: &Response) -> Result<CreateResponse, Error> {
    CreateResponse::decode(&r.msg).map_err(|e| ProtocolError::decode("CREATE response", e).into())
}

impl Connection {
    /// The deadline and limit for an operation whose whole run is timed.
    pub(crate) fn op_deadline(&self) -> (Instant, Duration) {
        let limit = self.op_limit();
        (Instant::now() + limit, limit)
    }

    /// Opens `path` on the tree (one round trip).
    pub(crate) async fn open(
        &self,
        tree_id: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &str,
        deadline: Instant,
    ) -> Result<Handle, Error> {
        let req = spec.request(path);
        let r = self
            .shared()?
            .request(Command::CREATE, tree_id, 1, deadline, "CREATE", |w| {
                req.encode(w)
            })
            .await?;
        if r.header.status != NtStatus::SUCCESS {
            return Err(failure(what, share, path, r.header.status));
        }
        let create = decode_create(&r)?;
        Ok(Handle {
            tree_id,
            file_id: create.file_id,
            create,
        })
    }

    /// Closes a handle; errors are reported but the handle is gone either way.
    pub(crate) async fn close_handle(&self, h: &Handle, deadline: Instant) -> Result<(), Error> {
        let req = CloseRequest {
            flags: 0,
            file_id: h.file_id,
        };
        let r = self
            .shared()?
            .request(Command::CLOSE, h.tree_id, 1, deadline, "CLOSE", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        if r.header.status.is_error() && r.header.status != NtStatus::FILE_CLOSED {
            return Err(Error::OperationFailure {
                message: "CLOSE failed".into(),
                status: r.header.status,
            });
        }
        Ok(())
    }

    /// Sends CREATE, then `middle` on the opened file, then CLOSE, as one
    /// related compound; returns the CREATE response and the middle
    /// responses. A failed CREATE fails the whole operation with its
    /// status; the middle responses are returned whatever their status.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_do_close(
        &self,
        tree_id: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        middle: Vec<(Command, u16, Vec<u8>)>,
        what: &str,
        deadline: Instant,
    ) -> Result<(CreateResponse, Vec<Response>), Error> {
        let req = spec.request(path);
        let mut parts = vec![Part {
            command: Command::CREATE,
            tree_id,
            charge: 1,
            body: body(|w| req.encode(w))?,
        }];
        for (command, charge, b) in middle {
            parts.push(Part {
                command,
                tree_id,
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
            tree_id,
            charge: 1,
            body: body(|w| {
                close.encode(w);
                Ok(())
            })?,
        });
        let mut rs = self
            .shared()?
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

    /// The tree id of `share`, connecting it if needed, within `deadline`.
    pub(crate) async fn tree(&self, share: &str, deadline: Instant) -> Result<u32, Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let t = self.with_timeout(remaining).tree_connect(share).await?;
        Ok(t.tree_id)
    }

    /// Lists the folder `path` of `share`: every entry whose attributes pass
    /// `search` (applied here, as the reference does) and whose name
    /// matches `pattern` (matched by the server; `*` and `?` wildcards).
    ///
    /// The result includes the `.` and `..` entries when the server lists
    /// them and the pattern matches them, as the reference's does.
    /// Default time limit: 30 s for the whole listing.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// for f in conn.list_path("share", "/docs").await? {
    ///     println!("{} {} bytes", f.filename, f.file_size);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_path(&self, share: &str, path: &str) -> Result<Vec<SharedFile>, Error> {
        self.list_path_with(share, path, DEFAULT_SEARCH, "*").await
    }

    /// [`Connection::list_path`] with the reference's `search` attribute
    /// filter (bits of [`smbkit_proto::fscc::search`]) and `pattern`.
    pub async fn list_path_with(
        &self,
        share: &str,
        path: &str,
        search: u32,
        pattern: &str,
    ) -> Result<Vec<SharedFile>, Error> {
        let (deadline, limit) = self.op_deadline();
        self.list_entries(share, path, pattern, deadline)
            .await
            .map(|v| {
                v.into_iter()
                    .filter(|f| fscc::search_matches(search, f.file_attributes))
                    .collect()
            })
            .map_err(|e| with_limit(e, limit))
    }

    /// Every entry of folder `path` matching `pattern`, unfiltered.
    pub(crate) async fn list_entries(
        &self,
        share: &str,
        path: &str,
        pattern: &str,
        deadline: Instant,
    ) -> Result<Vec<SharedFile>, Error> {
        let path = smb_path(path)?;
        if pattern.is_empty() {
            return Err(Error::InvalidArgument("the pattern is empty".into()));
        }
        if pattern.contains(['\\', '/', '\0']) {
            return Err(Error::InvalidArgument(format!(
                "pattern {:?} must be a name pattern, without folders",
                abbreviate(pattern)
            )));
        }
        check_length("pattern", pattern)?;
        if let Some(s1) = self.smb1() {
            return crate::smb1ops::list_entries(self, s1, share, &path, pattern, deadline).await;
        }
        let tree_id = self.tree(share, deadline).await?;
        let spec = OpenSpec::new(
            access_mask::FILE_LIST_DIRECTORY
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            create_options::DIRECTORY_FILE,
        );
        let out_len = self
            .server_info()
            .max_transact_size
            .clamp(4096, 1024 * 1024);
        let charge = self.charge_for(out_len as usize);
        let query = |file_id: FileId, flags: u8| QueryDirectoryRequest {
            file_information_class: info_class::FILE_ID_BOTH_DIRECTORY_INFORMATION,
            flags,
            file_index: 0,
            file_id,
            pattern: pattern.to_string(),
            output_buffer_length: out_len,
        };
        // CREATE + the first QUERY_DIRECTORY in one round trip.
        let create = spec.request(&path);
        let first = query(FileId::ANY, query_directory_flags::RESTART_SCANS);
        let mut rs = self
            .shared()?
            .compound(
                vec![
                    Part {
                        command: Command::CREATE,
                        tree_id,
                        charge: 1,
                        body: body(|w| create.encode(w))?,
                    },
                    Part {
                        command: Command::QUERY_DIRECTORY,
                        tree_id,
                        charge,
                        body: body(|w| first.encode(w))?,
                    },
                ],
                true,
                deadline,
                "listing",
            )
            .await?;
        let mut next = rs.pop();
        let created = rs.remove(0);
        if created.header.status != NtStatus::SUCCESS {
            return Err(failure("listing", share, &path, created.header.status));
        }
        let create = decode_create(&created)?;
        let h = Handle {
            tree_id,
            file_id: create.file_id,
            create,
        };
        let mut result = Vec::new();
        let outcome = loop {
            let r = match next.take() {
                Some(r) => r,
                None => {
                    let req = query(h.file_id, 0);
                    match self
                        .shared()?
                        .request(
                            Command::QUERY_DIRECTORY,
                            tree_id,
                            charge,
                            deadline,
                            "listing",
                            |w| req.encode(w),
                        )
                        .await
                    {
                        Ok(r) => r,
                        Err(e) => break Err(e),
                    }
                }
            };
            match r.header.status {
                NtStatus::SUCCESS => {}
                NtStatus::NO_MORE_FILES => break Ok(()),
                NtStatus::NO_SUCH_FILE if result.is_empty() => break Ok(()),
                s => break Err(failure("listing", share, &path, s)),
            }
            let range = match query_directory_response_data_range(&r.msg) {
                Ok(range) => range,
                Err(e) => break Err(ProtocolError::decode("QUERY_DIRECTORY response", e).into()),
            };
            match fscc::parse_id_both_directory_information(&r.msg[range]) {
                Ok(entries) => result.extend(entries.into_iter().map(SharedFile::from_entry)),
                Err(e) => break Err(ProtocolError::decode("directory listing", e).into()),
            }
        };
        if let Err(e) = outcome {
            self.close_in_background(h);
            return Err(e);
        }
        self.close_handle(&h, deadline).await?;
        Ok(result)
    }

    /// The CreditCharge for a request that moves `payload` bytes.
    pub(crate) fn charge_for(&self, payload: usize) -> u16 {
        if self.server_info().dialect == smbkit_proto::Dialect::SMB2_0_2
            || self.server_info().capabilities
                & smbkit_proto::smb2::negotiate::capabilities::LARGE_MTU
                == 0
        {
            1
        } else {
            u16::try_from(payload.saturating_sub(1) / 65536 + 1).unwrap_or(u16::MAX)
        }
    }

    /// The attributes of the file or folder at `path`; the reference's
    /// `getAttributes`. One round trip (CREATE + QUERY_INFO + CLOSE).
    pub async fn get_attributes(&self, share: &str, path: &str) -> Result<SharedFile, Error> {
        let (deadline, limit) = self.op_deadline();
        async {
            let path = smb_path(path)?;
            if let Some(s1) = self.smb1() {
                return crate::smb1ops::get_attributes(self, s1, share, &path, deadline).await;
            }
            let tree_id = self.tree(share, deadline).await?;
            let q = QueryInfoRequest {
                info_type: info_type::FILE,
                file_info_class: info_class::FILE_ALL_INFORMATION,
                output_buffer_length: 4096,
                additional_information: 0,
                flags: 0,
                file_id: FileId::ANY,
                input: Vec::new(),
            };
            let spec = OpenSpec::new(
                access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
                create_disposition::OPEN,
                0,
            );
            let (create, rs) = self
                .open_do_close(
                    tree_id,
                    share,
                    &path,
                    spec,
                    vec![(Command::QUERY_INFO, 1, body(|w| q.encode(w))?)],
                    "get_attributes",
                    deadline,
                )
                .await?;
            let (_, name) = split_last(&path);
            let mut file = SharedFile {
                create_time: fscc::filetime_to_unix(create.creation_time),
                last_access_time: fscc::filetime_to_unix(create.last_access_time),
                last_write_time: fscc::filetime_to_unix(create.last_write_time),
                last_attr_change_time: fscc::filetime_to_unix(create.change_time),
                file_size: create.end_of_file,
                alloc_size: create.allocation_size,
                file_attributes: create.file_attributes,
                short_name: String::new(),
                filename: name.to_string(),
                file_id: 0,
            };
            if let Some(r) = rs.first() {
                let status = r.header.status;
                if status == NtStatus::SUCCESS || status == NtStatus::BUFFER_OVERFLOW {
                    let q = QueryInfoResponse::decode(&r.msg)
                        .map_err(|e| ProtocolError::decode("QUERY_INFO response", e))?;
                    let all = if status == NtStatus::SUCCESS {
                        FileAllInformation::decode(&q.data)
                    } else {
                        FileAllInformation::decode_truncated(&q.data)
                    }
                    .map_err(|e| ProtocolError::decode("FileAllInformation", e))?;
                    file.file_id = all.internal;
                }
            }
            Ok(file)
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// Creates the folder `path`; the reference's `createDirectory`. The
    /// parent must exist.
    pub async fn create_directory(&self, share: &str, path: &str) -> Result<(), Error> {
        let (deadline, limit) = self.op_deadline();
        async {
            let path = smb_path(path)?;
            if path.is_empty() {
                return Err(Error::InvalidArgument(
                    "cannot create the share's root folder".into(),
                ));
            }
            if let Some(s1) = self.smb1() {
                return crate::smb1ops::create_directory(self, s1, share, &path, deadline).await;
            }
            let tree_id = self.tree(share, deadline).await?;
            let spec = OpenSpec::new(
                access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
                create_disposition::CREATE,
                create_options::DIRECTORY_FILE,
            );
            self.open_do_close(
                tree_id,
                share,
                &path,
                spec,
                vec![],
                "create_directory",
                deadline,
            )
            .await?;
            Ok(())
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// Deletes the empty folder `path`; the reference's `deleteDirectory`.
    /// A folder that is not empty fails with STATUS_DIRECTORY_NOT_EMPTY and
    /// stays as it was.
    pub async fn delete_directory(&self, share: &str, path: &str) -> Result<(), Error> {
        let (deadline, limit) = self.op_deadline();
        async {
            let path = smb_path(path)?;
            if path.is_empty() {
                return Err(Error::InvalidArgument(
                    "cannot delete the share's root folder".into(),
                ));
            }
            if let Some(s1) = self.smb1() {
                return crate::smb1ops::delete_directory(self, s1, share, &path, deadline).await;
            }
            let tree_id = self.tree(share, deadline).await?;
            self.delete_one(tree_id, share, &path, true, "delete_directory", deadline)
                .await
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// Deletes one file or (empty) folder by setting its delete disposition
    /// (CREATE + SET_INFO + CLOSE, one round trip), so that failures such
    /// as a non-empty folder are reported rather than ignored.
    pub(crate) async fn delete_one(
        &self,
        tree_id: u32,
        share: &str,
        path: &str,
        directory: bool,
        what: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        if let Some(s1) = self.smb1() {
            return crate::smb1ops::delete_one(self, s1, share, path, directory, deadline).await;
        }
        let spec = OpenSpec::new(
            access_mask::DELETE | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            if directory {
                create_options::DIRECTORY_FILE
            } else {
                create_options::NON_DIRECTORY_FILE
            },
        );
        let set = SetInfoRequest {
            info_type: info_type::FILE,
            file_info_class: info_class::FILE_DISPOSITION_INFORMATION,
            additional_information: 0,
            file_id: FileId::ANY,
            data: fscc::FileDispositionInformation {
                delete_pending: true,
            }
            .to_bytes(),
        };
        let (_, rs) = self
            .open_do_close(
                tree_id,
                share,
                path,
                spec,
                vec![(Command::SET_INFO, 1, body(|w| set.encode(w))?)],
                what,
                deadline,
            )
            .await?;
        match rs.first() {
            Some(r) if r.header.status.is_error() => {
                Err(failure(what, share, path, r.header.status))
            }
            _ => Ok(()),
        }
    }

    /// Deletes the files matching `pattern` (wildcards `*` and `?` in the
    /// last component, e.g. `/logs/*.txt`); the reference's `deleteFiles`.
    /// With `delete_matching_folders`, matching sub-folders are removed too,
    /// with everything in them; otherwise they are left alone. Fails with
    /// STATUS_NO_SUCH_FILE when nothing matches.
    pub async fn delete_files(
        &self,
        share: &str,
        pattern: &str,
        delete_matching_folders: bool,
    ) -> Result<(), Error> {
        let (deadline, limit) = self.op_deadline();
        async {
            let (tree_id, path, entries) = self.matching(share, pattern, deadline).await?;
            let (dir, _) = split_last(&path);
            let mut matched = false;
            for e in entries {
                let child = join(dir, &e.filename);
                if e.is_directory() {
                    if delete_matching_folders {
                        matched = true;
                        self.delete_tree(tree_id, share, &child, deadline).await?;
                    }
                } else {
                    matched = true;
                    self.delete_one(tree_id, share, &child, false, "delete_files", deadline)
                        .await?;
                }
            }
            if !matched {
                return Err(failure(
                    "delete_files",
                    share,
                    &path,
                    NtStatus::NO_SUCH_FILE,
                ));
            }
            Ok(())
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// The entries matching `pattern` (wildcards in its last component),
    /// without `.` and `..`: the tree id, the normalised pattern and the
    /// entries.
    async fn matching(
        &self,
        share: &str,
        pattern: &str,
        deadline: Instant,
    ) -> Result<(u32, String, Vec<SharedFile>), Error> {
        let path = smb_path(pattern)?;
        let (dir, last) = split_last(&path);
        if last.is_empty() || pattern.ends_with(['/', '\\']) {
            return Err(Error::InvalidArgument(format!(
                "pattern '{pattern}' names no file: give a name or wildcard after the last separator"
            )));
        }
        let tree_id = self.tree(share, deadline).await?;
        let entries = self
            .list_entries(share, dir, last, deadline)
            .await?
            .into_iter()
            .filter(|e| e.filename != "." && e.filename != "..")
            .collect();
        Ok((tree_id, path, entries))
    }

    /// Deletes a folder and everything below it.
    async fn delete_tree(
        &self,
        tree_id: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let mut stack = vec![(path.to_string(), false)];
        while let Some((dir, listed)) = stack.pop() {
            if listed {
                self.delete_one(tree_id, share, &dir, true, "delete_files", deadline)
                    .await?;
                continue;
            }
            stack.push((dir.clone(), true));
            for e in self.list_entries(share, &dir, "*", deadline).await? {
                if e.filename == "." || e.filename == ".." {
                    continue;
                }
                let child = join(&dir, &e.filename);
                if e.is_directory() {
                    stack.push((child, false));
                } else {
                    self.delete_one(tree_id, share, &child, false, "delete_files", deadline)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Sets the attributes of every file matching `pattern` to
    /// `attributes` (FILE_ATTRIBUTE_* bits; 0 or
    /// [`smbkit_proto::fscc::attributes::NORMAL`] clears them); the
    /// reference's `resetFileAttributes`. Folders keep their directory bit.
    pub async fn reset_file_attributes(
        &self,
        share: &str,
        pattern: &str,
        attributes: u32,
    ) -> Result<(), Error> {
        let (deadline, limit) = self.op_deadline();
        async {
            let (tree_id, path, entries) = self.matching(share, pattern, deadline).await?;
            let (dir, _) = split_last(&path);
            let mut matched = false;
            for e in entries {
                matched = true;
                let child = join(dir, &e.filename);
                let mut attrs = if attributes == 0 {
                    fscc::attributes::NORMAL
                } else {
                    attributes
                };
                if e.is_directory() {
                    attrs = (attrs & !fscc::attributes::NORMAL) | fscc::attributes::DIRECTORY;
                }
                if let Some(s1) = self.smb1() {
                    crate::smb1ops::set_attributes(self, s1, share, &child, attrs, deadline)
                        .await?;
                    continue;
                }
                let set = SetInfoRequest {
                    info_type: info_type::FILE,
                    file_info_class: info_class::FILE_BASIC_INFORMATION,
                    additional_information: 0,
                    file_id: FileId::ANY,
                    data: FileBasicInformation::set_attributes(attrs).to_bytes(),
                };
                let spec = OpenSpec::new(
                    access_mask::FILE_READ_ATTRIBUTES
                        | access_mask::FILE_WRITE_ATTRIBUTES
                        | access_mask::SYNCHRONIZE,
                    create_disposition::OPEN,
                    0,
                );
                let (_, rs) = self
                    .open_do_close(
                        tree_id,
                        share,
                        &child,
                        spec,
                        vec![(Command::SET_INFO, 1, body(|w| set.encode(w))?)],
                        "reset_file_attributes",
                        deadline,
                    )
                    .await?;
                if let Some(r) = rs.first() {
                    if r.header.status.is_error() {
                        return Err(failure(
                            "reset_file_attributes",
                            share,
                            &child,
                            r.header.status,
                        ));
                    }
                }
            }
            if !matched {
                return Err(failure(
                    "reset_file_attributes",
                    share,
                    &path,
                    NtStatus::NO_SUCH_FILE,
                ));
            }
            Ok(())
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// Renames (or moves, within the share) the file or folder `old_path`
    /// to `new_path`; the reference's `rename`. An existing `new_path` is
    /// not replaced (STATUS_OBJECT_NAME_COLLISION).
    pub async fn rename(&self, share: &str, old_path: &str, new_path: &str) -> Result<(), Error> {
        let (deadline, limit) = self.op_deadline();
        async {
            let old = smb_path(old_path)?;
            let new = smb_path(new_path)?;
            if old.is_empty() || new.is_empty() {
                return Err(Error::InvalidArgument(
                    "rename needs a file or folder, not the share's root".into(),
                ));
            }
            if let Some(s1) = self.smb1() {
                return crate::smb1ops::rename(self, s1, share, &old, &new, deadline).await;
            }
            let tree_id = self.tree(share, deadline).await?;
            let set = SetInfoRequest {
                info_type: info_type::FILE,
                file_info_class: info_class::FILE_RENAME_INFORMATION,
                additional_information: 0,
                file_id: FileId::ANY,
                data: fscc::FileRenameInformation {
                    replace_if_exists: false,
                    root_directory: 0,
                    file_name: new.clone(),
                }
                .to_bytes()?,
            };
            let spec = OpenSpec::new(
                access_mask::DELETE | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
                create_disposition::OPEN,
                0,
            );
            let (_, rs) = self
                .open_do_close(
                    tree_id,
                    share,
                    &old,
                    spec,
                    vec![(Command::SET_INFO, 1, body(|w| set.encode(w))?)],
                    "rename",
                    deadline,
                )
                .await?;
            match rs.first() {
                Some(r) if r.header.status.is_error() => {
                    Err(rename_failure(share, &old, &new, r.header.status))
                }
                _ => Ok(()),
            }
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }
}

/// `dir\name`, or `name` at the root.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}\\{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(smb_path("/a/b/").unwrap(), "a\\b");
        assert_eq!(smb_path("\\a\\\\b").unwrap(), "a\\b");
        assert_eq!(smb_path("").unwrap(), "");
        assert_eq!(smb_path("/").unwrap(), "");
        assert_eq!(smb_path("./x/./y").unwrap(), "x\\y");
        assert_eq!(smb_path("日本/😀.txt").unwrap(), "日本\\😀.txt");
        assert!(smb_path("a\0b").is_err());
        assert_eq!(split_last("a\\b\\c"), ("a\\b", "c"));
        assert_eq!(split_last("c"), ("", "c"));
        assert_eq!(display("s", ""), "\\s");
        assert_eq!(display("s", "a\\b"), "\\s\\a\\b");
    }
}
