//! The protocol families: what SMB 2/3 ([`smb2`]) and SMB1 ([`smb1`]) each
//! offer the operations.
//!
//! ARCHITECTURE: the operations (`crate::ops`) are written once, over
//! [`Family`], which holds the driver of one family and exposes its
//! primitives: tree connect and disconnect, open and close, read and
//! write, a page of a directory search, path queries and changes, pipe
//! transactions, FSCTLs, security queries and echo. A primitive is one
//! request, or, where the family can do the job in one round trip, a few
//! of them: SMB2 sends CREATE + X + CLOSE as one compound; SMB1 has
//! path-based calls (TRANS2 QUERY_PATH_INFORMATION, SMB_COM_RENAME, ...)
//! for the same. Each family's quirks stay behind its primitives (SMB1's
//! read and write sizes, its short writes, the CLOSE that waits for
//! abandoned reads; SMB2's credit charges and compounds).
//!
//! Every handle a primitive leaves open comes back as an [`OpenFile`]:
//! dropped before it is closed (its operation's future was dropped, say),
//! it hands the close to the connection, which sends it on its own
//! account. No operation leaves a handle open on the server.

pub(crate) mod smb1;
pub(crate) mod smb2;

use bytes::{Bytes, BytesMut};
use smbkit_proto::smb2::create::{share_access, FileId};
use smbkit_proto::NtStatus;
use tokio::time::Instant;

use crate::error::Error;
use crate::types::{SharedFile, TreeInfo};

/// Calls the same primitive on whichever family `$self` is.
macro_rules! dispatch {
    ($self:expr, $f:ident => $e:expr) => {
        match $self {
            Family::Smb2($f) => $e,
            Family::Smb1($f) => $e,
        }
    };
}

/// One connection's protocol family and its driver. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Family {
    /// SMB 2.0.2 to 3.1.1.
    Smb2(smb2::Smb2),
    /// SMB1 (NT LM 0.12).
    Smb1(smb1::Smb1),
}

/// What to open and how (MS-SMB2 §2.2.13; SMB1's NT_CREATE_ANDX takes the
/// same access, disposition and option values, MS-SMB §2.2.4.9.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenSpec {
    pub access: u32,
    pub disposition: u32,
    pub options: u32,
    pub attributes: u32,
    pub share: u32,
}

impl OpenSpec {
    /// An open that shares read, write and delete.
    pub(crate) fn new(access: u32, disposition: u32, options: u32) -> Self {
        OpenSpec {
            access,
            disposition,
            options,
            attributes: 0,
            share: share_access::ALL,
        }
    }
}

/// The id of an open file as its family's server gave it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fid {
    /// An SMB2 FileId (MS-SMB2 §2.2.14.1).
    Smb2(FileId),
    /// An SMB1 FID (MS-CIFS §2.2.1.6.1).
    Smb1(u16),
}

/// An open file: its tree and its id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileRef {
    pub tree: u32,
    pub fid: Fid,
}

/// What an open told of the file. Times are FILETIMEs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenInfo {
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub size: u64,
    pub alloc_size: u64,
    pub attributes: u32,
    /// The file id, where the open response carries one (SMB1's extended
    /// response); 0 otherwise.
    pub file_id: u64,
}

/// An open handle that is closed when the operation is done with it:
/// [`OpenFile::close`] closes it and reports the outcome; dropped while
/// still open, it hands the close to the connection (the SMB2 or SMB1
/// state machine sends the CLOSE on its own account), so that neither an
/// error, nor a timeout, nor a dropped future leaves it open on the server.
pub(crate) struct OpenFile {
    family: Family,
    file: FileRef,
    info: OpenInfo,
    open: bool,
    /// How to take the handle back on a new connection, when the server
    /// made it durable.
    durable: Option<Box<Durable>>,
}

/// A durable open's name, how it was opened, and how it was made durable.
#[derive(Debug, Clone)]
pub(crate) struct Durable {
    pub path: String,
    pub spec: OpenSpec,
    pub how: smbkit_proto::smb2::durable::DurableOpen,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile")
            .field("file", &self.file)
            .field("open", &self.open)
            .finish()
    }
}

impl OpenFile {
    pub(crate) fn new(family: Family, file: FileRef, info: OpenInfo) -> Self {
        OpenFile {
            family,
            file,
            info,
            open: true,
            durable: None,
        }
    }

    /// The same guard, for a handle the server made durable.
    pub(crate) fn with_durable(mut self, durable: Durable) -> Self {
        self.durable = Some(Box::new(durable));
        self
    }

    /// How to take the handle back after a reconnect, if it is durable.
    pub(crate) fn durable(&self) -> Option<&Durable> {
        self.durable.as_deref()
    }

    /// Forgets a handle whose connection is gone: nothing to close.
    pub(crate) fn forget(mut self) {
        self.open = false;
    }

    /// The tree and id of the file.
    pub(crate) fn file(&self) -> FileRef {
        self.file
    }

    /// What the open told of the file.
    pub(crate) fn info(&self) -> &OpenInfo {
        &self.info
    }

    /// The family the file was opened over.
    pub(crate) fn family(&self) -> &Family {
        &self.family
    }

    /// Closes the file. Errors are reported, but the handle is gone
    /// either way; once `deadline` has passed the close is left to the
    /// connection.
    pub(crate) async fn close(mut self, deadline: Instant) -> Result<(), Error> {
        if Instant::now() >= deadline {
            return Ok(());
        }
        // From its first poll the CLOSE belongs to the connection, which
        // sends it even when this future is dropped or times out (a CLOSE
        // that never went out stays queued until it does): a second one
        // would risk closing a handle the server has given out again.
        self.open = false;
        self.family.close(self.file, deadline).await
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if self.open {
            self.family.close_detached(self.file);
        }
    }
}

impl Family {
    /// True once the connection is closed or its stream has died.
    pub(crate) fn is_closed(&self) -> bool {
        dispatch!(self, f => f.is_closed())
    }

    /// Waits until the connection is closed or its stream has died (or
    /// its driver is gone).
    pub(crate) fn closed(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        match self {
            Family::Smb2(f) => Box::pin(f.closed()),
            Family::Smb1(f) => Box::pin(f.closed()),
        }
    }

    /// Shuts the connection down and waits until the driver has stopped,
    /// which closes the stream.
    pub(crate) async fn stop(&self, why: &str) {
        dispatch!(self, f => f.stop(why).await)
    }

    /// True over SMB 2/3.
    pub(crate) fn is_smb2(&self) -> bool {
        matches!(self, Family::Smb2(_))
    }

    /// Whether the NEGOTIATE has been validated (SMB 3.0, 3.0.2).
    pub(crate) fn is_negotiate_validated(&self) -> bool {
        dispatch!(self, f => f.is_negotiate_validated())
    }

    /// ECHO; returns the data the caller gets back.
    pub(crate) async fn echo(&self, data: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        dispatch!(self, f => f.echo(data, deadline).await)
    }

    /// Connects `\\remote_name\share`.
    pub(crate) async fn tree_connect(
        &self,
        remote_name: &str,
        share: &str,
        deadline: Instant,
    ) -> Result<TreeInfo, Error> {
        dispatch!(self, f => f.tree_connect(remote_name, share, deadline).await)
    }

    /// Disconnects a tree.
    pub(crate) async fn tree_disconnect(&self, tree: u32, deadline: Instant) -> Result<(), Error> {
        dispatch!(self, f => f.tree_disconnect(tree, deadline).await)
    }

    /// Logs off, best effort.
    pub(crate) async fn logoff(&self, deadline: Instant) {
        dispatch!(self, f => f.logoff(deadline).await)
    }

    /// Opens `path` (backslashes, no leading separator) on the tree; a
    /// refusal is an error saying `what` failed on `\share\path`.
    pub(crate) async fn open(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<OpenFile, Error> {
        dispatch!(self, f => f.open(tree, share, path, spec, what, deadline).await)
    }

    /// Opens `path` like [`Family::open`], asking the server to make the
    /// handle durable (SMB 2/3: durable handle v2 on 3.x, v1 on 2.x, with
    /// a lease or batch oplock; `writes`: a lease with write caching). A
    /// server may grant it or not; SMB1 opens as usual.
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
        match self {
            Family::Smb2(f) => {
                f.open_durable(tree, share, path, spec, writes, what, deadline)
                    .await
            }
            Family::Smb1(f) => f.open(tree, share, path, spec, what, deadline).await,
        }
    }

    /// Takes the durable handle `old` (described by `d`, opened over a
    /// connection that was lost) back over this one, on `tree`.
    pub(crate) async fn reopen_durable(
        &self,
        tree: u32,
        share: &str,
        d: &Durable,
        old: Fid,
        info: OpenInfo,
        deadline: Instant,
    ) -> Result<OpenFile, Error> {
        match (self, old) {
            (Family::Smb2(f), Fid::Smb2(id)) => {
                f.reopen_durable(tree, share, d, id, info, deadline).await
            }
            _ => Err(Error::NotResumable {
                operation: "reopening",
                path: crate::error::display(share, &d.path),
                reason: crate::error::NotResumableReason::DialectChanged,
            }),
        }
    }

    /// Sets the size of an open file: cut, or extended with zeros.
    pub(crate) async fn set_end_of_file(
        &self,
        file: FileRef,
        len: u64,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.set_end_of_file(file, len, share, path, deadline).await)
    }

    /// Asks the server to write what it caches of an open file to storage.
    pub(crate) async fn flush(
        &self,
        file: FileRef,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.flush(file, share, path, deadline).await)
    }

    /// What an open file is now: times, sizes, attributes, file id.
    pub(crate) async fn query_file(
        &self,
        file: FileRef,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<OpenInfo, Error> {
        dispatch!(self, f => f.query_file(file, share, path, deadline).await)
    }

    /// Closes an open file and waits for the answer.
    pub(crate) async fn close(&self, file: FileRef, deadline: Instant) -> Result<(), Error> {
        dispatch!(self, f => f.close(file, deadline).await)
    }

    /// Hands the close of `file` to the connection; nobody waits.
    pub(crate) fn close_detached(&self, file: FileRef) {
        dispatch!(self, f => f.close_detached(file))
    }

    /// Opens `path` and closes it again (one round trip over SMB2), for
    /// opens whose effect is the point (creating a folder).
    pub(crate) async fn open_close(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.open_close(tree, share, path, spec, what, deadline).await)
    }

    /// The attributes of `path`, in one round trip where the family can.
    pub(crate) async fn stat(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<SharedFile, Error> {
        dispatch!(self, f => f.stat(tree, share, path, deadline).await)
    }

    /// Deletes the file or empty folder `path`.
    pub(crate) async fn delete(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        directory: bool,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.delete(tree, share, path, directory, what, deadline).await)
    }

    /// Sets the times and attributes of `path` that `info` gives (a
    /// zero field leaves its value as it is, MS-FSCC §2.4.7); `what`
    /// names the operation in errors.
    pub(crate) async fn set_basic_info(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        info: &smbkit_proto::fscc::FileBasicInformation,
        what: &'static str,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.set_basic_info(tree, share, path, info, what, deadline).await)
    }

    /// Renames `old` to `new` within the share, replacing nothing.
    pub(crate) async fn rename(
        &self,
        tree: u32,
        share: &str,
        old: &str,
        new: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.rename(tree, share, old, new, deadline).await)
    }
}

/// The [`SharedFile`] of `path` from what its open told.
pub(crate) fn shared_file(path: &str, o: &OpenInfo) -> SharedFile {
    let ft = smbkit_proto::fscc::filetime_to_unix;
    SharedFile {
        create_time: ft(o.creation_time),
        last_access_time: ft(o.last_access_time),
        last_write_time: ft(o.last_write_time),
        last_attr_change_time: ft(o.change_time),
        file_size: o.size,
        alloc_size: o.alloc_size,
        file_attributes: o.attributes,
        short_name: String::new(),
        filename: path.rsplit('\\').next().unwrap_or_default().to_string(),
        file_id: o.file_id,
    }
}

/// A page of a directory search, and whether the search has ended.
pub(crate) struct Page {
    pub entries: Vec<SharedFile>,
    pub end: bool,
}

/// A directory search the server holds open until its end. Dropped before
/// its end, it hands its close to the connection.
pub(crate) enum Search {
    Smb2(smb2::Search),
    Smb1(smb1::Search),
}

impl Search {
    /// The next page of entries.
    pub(crate) async fn next_page(
        &mut self,
        share: &str,
        dir: &str,
        deadline: Instant,
    ) -> Result<Page, Error> {
        match self {
            Search::Smb2(s) => s.next_page(share, dir, deadline).await,
            Search::Smb1(s) => s.next_page(share, dir, deadline).await,
        }
    }

    /// Ends the search, closing what the server holds for it.
    pub(crate) async fn finish(self, deadline: Instant) -> Result<(), Error> {
        match self {
            Search::Smb2(s) => s.finish(deadline).await,
            Search::Smb1(s) => {
                s.finish();
                Ok(())
            }
        }
    }
}

impl Family {
    /// Starts a search of folder `dir` for names matching `pattern`; the
    /// search and its first page.
    pub(crate) async fn find_first(
        &self,
        tree: u32,
        share: &str,
        dir: &str,
        pattern: &str,
        deadline: Instant,
    ) -> Result<(Search, Page), Error> {
        match self {
            Family::Smb2(f) => {
                let (s, p) = f.find_first(tree, share, dir, pattern, deadline).await?;
                Ok((Search::Smb2(s), p))
            }
            Family::Smb1(f) => {
                let (s, p) = f.find_first(tree, share, dir, pattern, deadline).await?;
                Ok((Search::Smb1(s), p))
            }
        }
    }
}

/// How a retrieve starts: the family read the first bytes in the open's
/// round trip and closed the file again, or the file is open for reads.
pub(crate) enum ReadStart {
    /// The open's answer and the first bytes (SMB2 CREATE + READ + CLOSE).
    Done(OpenInfo, Bytes),
    /// The open file (no data read yet).
    Open(OpenFile),
}

/// A WRITE sent whose answer is still to come.
pub(crate) enum WriteInFlight<'a> {
    Smb2(smb2::WriteInFlight<'a>),
    Smb1(&'a smb1::Smb1, smb1::WriteInFlight<'a>),
}

impl WriteInFlight<'_> {
    /// The data the WRITE carries.
    pub(crate) fn data(&self) -> &Bytes {
        match self {
            WriteInFlight::Smb2(w) => &w.data,
            WriteInFlight::Smb1(_, w) => &w.data,
        }
    }

    /// Waits for the answer: the bytes are written (SMB1 writes what the
    /// server did not take with further requests, each within `limit`),
    /// and the data's buffer comes back once nothing else holds it.
    pub(crate) async fn finish(
        self,
        file: FileRef,
        share: &str,
        path: &str,
        limit: std::time::Duration,
    ) -> Result<Option<BytesMut>, Error> {
        match self {
            WriteInFlight::Smb2(w) => w.finish(share, path).await,
            WriteInFlight::Smb1(f, w) => {
                let (tid, fid) = smb1::tid_fid(file)?;
                w.finish(&f.shared, tid, fid, share, path, limit).await
            }
        }
    }
}

impl Family {
    /// The bytes one READ asks for.
    pub(crate) fn read_size(&self) -> usize {
        dispatch!(self, f => f.read_size())
    }

    /// The bytes one WRITE carries.
    pub(crate) fn write_size(&self) -> usize {
        dispatch!(self, f => f.write_size())
    }

    /// Up to `len` bytes at `offset` of an open file; empty at its end. A
    /// server may send fewer bytes than asked anywhere in the file.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn read(
        &self,
        file: FileRef,
        offset: u64,
        len: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<Bytes, Error> {
        dispatch!(self, f => f.read(file, offset, len, share, path, deadline).await)
    }

    /// Opens `path` for reading, and reads its first `len` bytes at
    /// `offset` in the same round trip where the family can.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_read(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        offset: u64,
        len: u32,
        deadline: Instant,
    ) -> Result<ReadStart, Error> {
        dispatch!(self, f => f.open_read(tree, share, path, offset, len, deadline).await)
    }

    /// Opens `path` with `spec`, writes all of `data` at `offset` and
    /// closes it: one round trip over SMB2.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_small(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        offset: u64,
        data: Bytes,
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.store_small(tree, share, path, spec, offset, data, deadline).await)
    }

    /// Sends a WRITE of `data` at `offset` without waiting for its answer.
    pub(crate) async fn start_write(
        &self,
        file: FileRef,
        offset: u64,
        data: Bytes,
        deadline: Instant,
    ) -> Result<WriteInFlight<'_>, Error> {
        match self {
            Family::Smb2(f) => Ok(WriteInFlight::Smb2(
                f.start_write(file, offset, data, deadline)?,
            )),
            Family::Smb1(f) => Ok(WriteInFlight::Smb1(
                f,
                f.start_write(file, offset, data, deadline).await?,
            )),
        }
    }
}

/// What a change notification watches: below the folder too or not, the
/// CompletionFilter, and the most bytes of changes one answer may carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotifySpec {
    pub watch_tree: bool,
    pub filter: u32,
    pub out_len: u32,
}

/// What one change notification brought.
#[derive(Debug)]
pub(crate) enum Notified {
    /// The changes, in the server's order.
    Changes(Vec<smbkit_proto::fscc::notify::FileNotifyInformation>),
    /// More changed than the answer could carry (STATUS_NOTIFY_ENUM_DIR,
    /// or a success without entries: MS-CIFS §3.2.5.40.3): the folder must
    /// be enumerated again.
    Overflow,
}

/// The outcome of a notify answered with `status`, whose entries `entries`
/// decodes.
pub(crate) fn notified(
    status: NtStatus,
    entries: impl FnOnce() -> Result<
        Vec<smbkit_proto::fscc::notify::FileNotifyInformation>,
        smbkit_proto::DecodeError,
    >,
    share: &str,
    path: &str,
) -> Result<Notified, Error> {
    match status {
        NtStatus::SUCCESS => {
            let entries = entries()
                .map_err(|e| crate::error::ProtocolError::decode("FILE_NOTIFY_INFORMATION", e))?;
            Ok(if entries.is_empty() {
                Notified::Overflow
            } else {
                Notified::Changes(entries)
            })
        }
        NtStatus::NOTIFY_ENUM_DIR => Ok(Notified::Overflow),
        s => Err(crate::error::failure("watch", share, path, s)),
    }
}

impl Family {
    /// The largest output buffer a change notification may ask for.
    pub(crate) fn notify_limit(&self) -> u32 {
        dispatch!(self, f => f.notify_limit())
    }

    /// Waits for changes in the open folder `file` (SMB2 CHANGE_NOTIFY,
    /// SMB1 NT_TRANSACT_NOTIFY_CHANGE): one request, which the server
    /// holds as long as nothing changes; `ack_deadline` bounds only the
    /// wait for the server to take it. Dropped, the request is withdrawn
    /// (CANCEL, NT_CANCEL) and its answer absorbed. The request is sent
    /// at the first poll.
    pub(crate) async fn change_notify(
        &self,
        file: FileRef,
        spec: NotifySpec,
        share: &str,
        path: &str,
        ack_deadline: Instant,
    ) -> Result<Notified, Error> {
        dispatch!(self, f => f.change_notify(file, spec, share, path, ack_deadline).await)
    }
}

/// How files are opened for reading.
pub(crate) fn read_spec() -> OpenSpec {
    use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options};
    OpenSpec::new(
        access_mask::FILE_READ_DATA | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
        create_disposition::OPEN,
        create_options::NON_DIRECTORY_FILE,
    )
}

/// The answer to a query or FSCTL whose output may not fit: its status,
/// its output, and the size the server said it needs
/// (STATUS_BUFFER_TOO_SMALL) when it said one.
pub(crate) struct Sized {
    pub status: NtStatus,
    pub data: Bytes,
    pub needed: Option<u32>,
}

/// How large the messages of pipe transactions may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipeLimits {
    /// The output asked for from a transaction.
    pub io_size: u32,
    /// The largest read of a pipe.
    pub read_max: u32,
    /// The largest request fragment one message can carry.
    pub max_fragment: u16,
}

/// The limits of path queries of one family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryLimits {
    /// The output buffer of the first security query.
    pub security_first: u32,
    /// The largest security descriptor accepted.
    pub security_max: u32,
    /// The largest FSCTL output asked for.
    pub fsctl_max: u32,
}

/// Queries on one path: over SMB2 each one is CREATE + query + CLOSE in
/// one round trip; over SMB1 the path is opened once, queried, and closed
/// by [`PathQuery::finish`] (or, dropped, by the connection).
pub(crate) enum PathQuery<'a> {
    Smb2(smb2::PathQuery<'a>),
    Smb1(smb1::PathQuery),
}

impl PathQuery<'_> {
    /// FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB2 §2.2.31, MS-SMB §2.2.7.2)
    /// with room for `out_len` bytes of SRV_SNAPSHOT_ARRAY.
    pub(crate) async fn enumerate_snapshots(
        &self,
        out_len: u32,
        deadline: Instant,
    ) -> Result<Sized, Error> {
        match self {
            PathQuery::Smb2(q) => q.enumerate_snapshots(out_len, deadline).await,
            PathQuery::Smb1(q) => q.enumerate_snapshots(out_len, deadline).await,
        }
    }

    /// The security descriptor parts of `additional` (OWNER, GROUP, DACL
    /// bits), with room for `out_len` bytes.
    pub(crate) async fn query_security(
        &self,
        additional: u32,
        out_len: u32,
        deadline: Instant,
    ) -> Result<Sized, Error> {
        match self {
            PathQuery::Smb2(q) => q.query_security(additional, out_len, deadline).await,
            PathQuery::Smb1(q) => q.query_security(additional, out_len, deadline).await,
        }
    }

    /// Closes what the queries held open.
    pub(crate) async fn finish(self, deadline: Instant) -> Result<(), Error> {
        match self {
            PathQuery::Smb2(_) => Ok(()),
            PathQuery::Smb1(q) => q.file.close(deadline).await,
        }
    }
}

impl Family {
    /// Prepares queries on `path` opened with `spec`; a refused open is
    /// an error saying `what` failed.
    pub(crate) async fn path_query(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        what: &'static str,
        deadline: Instant,
    ) -> Result<PathQuery<'_>, Error> {
        match self {
            Family::Smb2(f) => Ok(PathQuery::Smb2(smb2::PathQuery {
                smb2: f,
                tree,
                share: share.to_string(),
                path: path.to_string(),
                spec,
                what,
            })),
            Family::Smb1(f) => Ok(PathQuery::Smb1(smb1::PathQuery {
                file: f.open(tree, share, path, spec, what, deadline).await?,
                share: share.to_string(),
                path: path.to_string(),
            })),
        }
    }

    /// The limits of path queries.
    pub(crate) fn query_limits(&self) -> QueryLimits {
        dispatch!(self, f => f.query_limits())
    }

    /// The limits of pipe transactions.
    pub(crate) fn pipe_limits(&self) -> PipeLimits {
        dispatch!(self, f => f.pipe_limits())
    }

    /// Writes `data` to the pipe and reads its answer, up to `io_size`
    /// bytes (MS-SMB2 FSCTL_PIPE_TRANSCEIVE, MS-CIFS
    /// TRANS_TRANSACT_NMPIPE); the rest of a longer answer is read with
    /// [`Family::pipe_read`].
    pub(crate) async fn pipe_transact(
        &self,
        pipe: FileRef,
        data: &[u8],
        io_size: u32,
        deadline: Instant,
    ) -> Result<Bytes, Error> {
        dispatch!(self, f => f.pipe_transact(pipe, data, io_size, deadline).await)
    }

    /// Writes one message to the pipe, all of it.
    pub(crate) async fn pipe_write(
        &self,
        pipe: FileRef,
        data: &[u8],
        deadline: Instant,
    ) -> Result<(), Error> {
        dispatch!(self, f => f.pipe_write(pipe, data, deadline).await)
    }

    /// Reads what the pipe holds, up to `len` bytes, and at least one.
    pub(crate) async fn pipe_read(
        &self,
        pipe: FileRef,
        len: u32,
        deadline: Instant,
    ) -> Result<Bytes, Error> {
        dispatch!(self, f => f.pipe_read(pipe, len, deadline).await)
    }
}

/// A pipe read must bring data, and no more than asked.
pub(crate) fn check_pipe_read(got: usize, asked: u32, what: &'static str) -> Result<(), Error> {
    use crate::error::{BadAnswer, ProtocolError};
    if got == 0 {
        return Err(ProtocolError::BadAnswer(BadAnswer::Missing {
            what,
            missing: "data before the end of the RPC response",
        })
        .into());
    }
    if got > asked as usize {
        return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
            what,
            got: got as u64,
            asked: u64::from(asked),
        })
        .into());
    }
    Ok(())
}

/// The answer to an FSCTL on an open file: its status, and the output the
/// response carried (which some failures do: a copychunk beyond the
/// server's limits tells them).
pub(crate) struct FsctlAnswer {
    pub status: NtStatus,
    pub output: Bytes,
}

impl Family {
    /// FSCTL `code` with `input` on the open `file`, with room for
    /// `max_output` bytes of output (SMB2 IOCTL with
    /// SMB2_0_IOCTL_IS_FSCTL, MS-SMB2 §2.2.31; SMB1 NT_TRANSACT_IOCTL,
    /// MS-SMB §2.2.7.2).
    pub(crate) async fn fsctl(
        &self,
        file: FileRef,
        code: u32,
        input: Vec<u8>,
        max_output: u32,
        deadline: Instant,
    ) -> Result<FsctlAnswer, Error> {
        dispatch!(self, f => f.fsctl(file, code, input, max_output, deadline).await)
    }

    /// The referral primitive of each family: the request with room for
    /// `room` bytes of answer, on the IPC$ tree `tree`; the status and
    /// the RESP_GET_DFS_REFERRAL bytes.
    pub(crate) async fn dfs_referral(
        &self,
        tree: u32,
        request: &smbkit_proto::dfs::ReferralRequest,
        room: u16,
        deadline: Instant,
    ) -> Result<FsctlAnswer, Error> {
        match self {
            Family::Smb2(f) => {
                // MS-SMB2 §3.2.4.20.3: "The FileId field is set to
                // { 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF }".
                let file = FileRef {
                    tree,
                    fid: Fid::Smb2(FileId::ANY),
                };
                f.fsctl(
                    file,
                    smbkit_proto::dfs::FSCTL_DFS_GET_REFERRALS,
                    request.to_bytes()?,
                    u32::from(room),
                    deadline,
                )
                .await
            }
            Family::Smb1(f) => f.dfs_referral(tree, request, room, deadline).await,
        }
    }
}
