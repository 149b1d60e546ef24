//! Moving file data: retrieve and store (the reference's retrieveFile,
//! retrieveFileFromOffset, storeFile, storeFileFromOffset) and
//! [`RemoteFile`] for callers that stream or read by ranges.
//!
//! Large transfers keep several READ or WRITE requests of up to 1 MiB (the
//! negotiated MaxRead/MaxWrite, multi-credit) in flight at once, so the
//! connection is never stop-and-wait; memory stays bounded by that window.
//! Small files cost one round trip: CREATE + READ + CLOSE (or CREATE +
//! WRITE + CLOSE) as one compound. As in the reference, the time limit of
//! these operations applies to each request, not to the whole transfer.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smbkit_proto::codec::wire_u32;
use smbkit_proto::smb2::create::{
    access_mask, create_disposition, create_options, CreateResponse, FileId,
};
use smbkit_proto::smb2::read::{read_response_data_range, ReadRequest, DEFAULT_READ_PADDING};
use smbkit_proto::smb2::write::{encode_write_request, WriteResponse};
use smbkit_proto::{Command, EncodeError, NtStatus, Writer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::driver::{body, Response};
use crate::error::{Error, ProtocolError};
use crate::files::{display, failure, smb_path, Handle, OpenSpec};
use crate::ops::with_limit;

/// Largest single READ/WRITE smbkit sends (the server's limit may be lower).
const MAX_CHUNK: usize = 1024 * 1024;
/// Requests of one transfer in flight at once.
const WINDOW: usize = 8;
/// The smallest read size a reader falls back to after short reads.
const MIN_CHUNK: usize = 4096;

/// Where a transfer's messages point: the share and path, for errors.
#[derive(Debug, Clone)]
struct Target {
    share: Arc<str>,
    path: Arc<str>,
}

impl Connection {
    /// The chunk size of READs or WRITEs for a server limit of `max`.
    fn chunk_size(&self, max: u32) -> usize {
        let large = self.charge_for(2 * 65536) > 1;
        let cap = if large { MAX_CHUNK } else { 65536 };
        (max as usize).clamp(4096, cap)
    }

    pub(crate) fn read_spec() -> OpenSpec {
        OpenSpec::new(
            access_mask::FILE_READ_DATA
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            create_options::NON_DIRECTORY_FILE,
        )
    }

    /// Opens the file at `path` for reading, for callers that stream it
    /// ([`RemoteFile::reader`]) or read it by ranges
    /// ([`RemoteFile::read_at`]).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let file = conn.open_file("share", "/big.iso").await?;
    /// let header = file.read_at(0, 512).await?;
    /// let mut reader = file.reader(1024 * 1024, None);
    /// tokio::io::copy(&mut reader, &mut tokio::io::sink()).await?;
    /// file.close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn open_file(&self, share: &str, path: &str) -> Result<RemoteFile, Error> {
        let limit = self.op_limit();
        let deadline = Instant::now() + limit;
        async {
            let path = smb_path(path)?;
            let tree_id = self.tree(share, deadline).await?;
            let h = if let Some(s1) = self.smb1() {
                let o = crate::smb1ops::open(
                    s1,
                    tree_id as u16,
                    share,
                    &path,
                    Self::read_spec(),
                    "open",
                    deadline,
                )
                .await?;
                FileHandle::Smb1(o)
            } else {
                FileHandle::Smb2(
                    self.open(tree_id, share, &path, Self::read_spec(), "open", deadline)
                        .await?,
                )
            };
            Ok(RemoteFile::new(self.clone(), share, &path, h))
        }
        .await
        .map_err(|e| with_limit(e, limit))
    }

    /// Writes the whole file at `path` to `writer`; returns the file's
    /// attributes and the bytes written (the reference's `retrieveFile`).
    /// The time limit (30 s by default) applies to each request.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let mut out = Vec::new(); // or a tokio::fs::File, a socket: any AsyncWrite
    /// let (_attributes, n) = conn.retrieve_file("share", "/docs/report.pdf", &mut out).await?;
    /// println!("{n} bytes");
    /// # Ok(()) }
    /// ```
    pub async fn retrieve_file<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        share: &str,
        path: &str,
        writer: &mut W,
    ) -> Result<(u32, u64), Error> {
        self.retrieve_file_from_offset(share, path, writer, 0, None)
            .await
    }

    /// Writes the file at `path` from `offset` to `writer`, at most
    /// `max_length` bytes (`None`: to the end of the file; `Some(0)`: only
    /// open it); returns the file's attributes and the bytes written (the
    /// reference's `retrieveFileFromOffset`). An offset past the end of the
    /// file is rejected with [`Error::InvalidArgument`].
    pub async fn retrieve_file_from_offset<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        share: &str,
        path: &str,
        writer: &mut W,
        offset: u64,
        max_length: Option<u64>,
    ) -> Result<(u32, u64), Error> {
        let limit = self.op_limit();
        if let Some(s1) = self.smb1() {
            return crate::smb1ops::retrieve(self, s1, share, path, writer, offset, max_length)
                .await
                .map_err(|e| with_limit(e, limit));
        }
        let path = smb_path(path)?;
        let deadline = Instant::now() + limit;
        let tree_id = self
            .tree(share, deadline)
            .await
            .map_err(|e| with_limit(e, limit))?;
        let chunk = self.chunk_size(self.server_info().max_read_size);
        let want = max_length.unwrap_or(u64::MAX);
        let first_len = want.min(chunk as u64) as u32;
        let target = Target {
            share: share.into(),
            path: path.as_str().into(),
        };

        // One round trip: CREATE + READ + CLOSE.
        let mut middle = Vec::new();
        if first_len > 0 {
            let read = read_request(FileId::ANY, offset, first_len);
            middle.push((
                Command::READ,
                self.charge_for(first_len as usize),
                body(|w| {
                    read.encode(w);
                    Ok(())
                })?,
            ));
        }
        let (create, rs) = self
            .open_do_close(
                tree_id,
                share,
                &path,
                Self::read_spec(),
                middle,
                "retrieve_file",
                deadline,
            )
            .await
            .map_err(|e| with_limit(e, limit))?;
        check_offset(&create, offset, share, &path)?;
        if first_len == 0 {
            return Ok((create.file_attributes, 0));
        }
        let first = match rs.first() {
            Some(r) => read_data(r, &target, first_len)?,
            None => {
                return Err(
                    ProtocolError::Unexpected("no READ response in the compound".into()).into(),
                )
            }
        };
        writer.write_all(&first).await?;
        let mut written = first.len() as u64;
        let done = (first.len() as u32) < first_len
            || written >= want
            || offset + written >= create.end_of_file;
        if !done {
            // A large file: open it again and stream the rest.
            let deadline = Instant::now() + limit;
            let h = self
                .open(
                    tree_id,
                    share,
                    &path,
                    Self::read_spec(),
                    "retrieve_file",
                    deadline,
                )
                .await
                .map_err(|e| with_limit(e, limit))?;
            let file = RemoteFile::new(self.clone(), share, &path, FileHandle::Smb2(h));
            let rest = want - written;
            let mut reader = file.reader(offset + written, Some(rest));
            let copied = async {
                let mut n = 0u64;
                while let Some(data) = reader.next_chunk().await? {
                    writer.write_all(&data).await?;
                    n += data.len() as u64;
                }
                Ok::<u64, Error>(n)
            }
            .await;
            drop(reader);
            match copied {
                Ok(n) => {
                    file.close().await?;
                    written += n;
                }
                // Dropping the file closes it in the background.
                Err(e) => return Err(e),
            }
        }
        writer.flush().await?;
        Ok((create.file_attributes, written))
    }

    /// Stores everything `reader` yields as the file at `path`, creating it
    /// or replacing its contents; returns the bytes written (the
    /// reference's `storeFile`). The time limit (30 s by default) applies
    /// to each request.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let photo: &[u8] = b"...";
    /// let mut input = photo; // or a tokio::fs::File: any AsyncRead
    /// let n = conn.store_file("share", "/photos/photo.jpg", &mut input).await?;
    /// # Ok(()) }
    /// ```
    pub async fn store_file<R: AsyncRead + Unpin + ?Sized>(
        &self,
        share: &str,
        path: &str,
        reader: &mut R,
    ) -> Result<u64, Error> {
        self.store_with(share, path, reader, 0, create_disposition::OVERWRITE_IF)
            .await
    }

    /// Writes everything `reader` yields into the file at `path` starting
    /// at `offset`, creating the file if needed; with `truncate` the file is
    /// emptied first (the reference's `storeFileFromOffset`). Returns the
    /// bytes written.
    pub async fn store_file_from_offset<R: AsyncRead + Unpin + ?Sized>(
        &self,
        share: &str,
        path: &str,
        reader: &mut R,
        offset: u64,
        truncate: bool,
    ) -> Result<u64, Error> {
        let disposition = if truncate {
            create_disposition::OVERWRITE_IF
        } else {
            create_disposition::OPEN_IF
        };
        self.store_with(share, path, reader, offset, disposition)
            .await
    }

    async fn store_with<R: AsyncRead + Unpin + ?Sized>(
        &self,
        share: &str,
        path: &str,
        reader: &mut R,
        offset: u64,
        disposition: u32,
    ) -> Result<u64, Error> {
        let limit = self.op_limit();
        if let Some(s1) = self.smb1() {
            return crate::smb1ops::store(self, s1, share, path, reader, offset, disposition)
                .await
                .map_err(|e| with_limit(e, limit));
        }
        let path = smb_path(path)?;
        if path.is_empty() {
            return Err(Error::InvalidArgument(
                "store_file needs a file name".into(),
            ));
        }
        let deadline = Instant::now() + limit;
        let tree_id = self
            .tree(share, deadline)
            .await
            .map_err(|e| with_limit(e, limit))?;
        let chunk = self.chunk_size(self.server_info().max_write_size);
        let target = Target {
            share: share.into(),
            path: path.as_str().into(),
        };
        let spec = OpenSpec::new(
            access_mask::FILE_WRITE_DATA
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::FILE_WRITE_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            disposition,
            create_options::NON_DIRECTORY_FILE,
        );

        let first = fill(reader, chunk).await?;
        if first.len() < chunk {
            // Everything fits in one WRITE: CREATE + WRITE + CLOSE.
            let mut middle = Vec::new();
            if !first.is_empty() {
                let data = &first;
                middle.push((
                    Command::WRITE,
                    self.charge_for(data.len()),
                    body(|w| encode_write_request(w, offset, FileId::ANY, 0, data))?,
                ));
            }
            let (_, rs) = self
                .open_do_close(tree_id, share, &path, spec, middle, "store_file", deadline)
                .await
                .map_err(|e| with_limit(e, limit))?;
            if let Some(r) = rs.first() {
                check_written(r, &target, first.len())?;
            }
            return Ok(first.len() as u64);
        }

        let h = self
            .open(tree_id, share, &path, spec, "store_file", deadline)
            .await
            .map_err(|e| with_limit(e, limit))?;
        let result = self
            .write_pipeline(&h, &target, reader, first, offset, chunk, limit)
            .await;
        match result {
            Ok(n) => {
                self.close_handle(&h, Instant::now() + limit)
                    .await
                    .map_err(|e| with_limit(e, limit))?;
                Ok(n)
            }
            Err(e) => {
                // Report the failure now; the handle is closed in the background.
                self.close_in_background(h);
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_pipeline<R: AsyncRead + Unpin + ?Sized>(
        &self,
        h: &Handle,
        target: &Target,
        reader: &mut R,
        first: BytesMut,
        offset: u64,
        chunk: usize,
        limit: Duration,
    ) -> Result<u64, Error> {
        let mut inflight: VecDeque<JoinHandle<Result<Option<BytesMut>, Error>>> = VecDeque::new();
        // Buffers of finished WRITEs, reused for the next chunks so that
        // their memory is not faulted in afresh every time.
        let mut spare: Vec<BytesMut> = Vec::new();
        let mut next = offset;
        let mut total = 0u64;
        let mut data = first;
        let result = async {
            loop {
                let len = data.len();
                let conn = self.clone();
                let (tree_id, file_id, t) = (h.tree_id, h.file_id, target.clone());
                let payload = data.freeze();
                let at = next;
                inflight.push_back(tokio::spawn(async move {
                    write_chunk(conn, tree_id, file_id, at, payload, limit, t).await
                }));
                next += len as u64;
                total += len as u64;
                if inflight.len() >= WINDOW {
                    if let Some(front) = inflight.pop_front() {
                        spare.extend(front.await.map_err(join_error)??);
                    }
                }
                if len < chunk {
                    break;
                }
                data = fill_into(reader, chunk, spare.pop()).await?;
                if data.is_empty() {
                    break;
                }
            }
            while let Some(front) = inflight.pop_front() {
                front.await.map_err(join_error)??;
            }
            Ok(total)
        }
        .await;
        for t in inflight {
            t.abort();
        }
        result
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Io(std::io::Error::other(format!("transfer task failed: {e}")))
}

/// Reads from `reader` until `chunk` bytes or end of input.
async fn fill<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    chunk: usize,
) -> Result<BytesMut, Error> {
    fill_into(reader, chunk, None).await
}

/// [`fill`] into `reuse` when given (emptied first).
pub(crate) async fn fill_into<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    chunk: usize,
    reuse: Option<BytesMut>,
) -> Result<BytesMut, Error> {
    let mut buf = match reuse {
        Some(mut b) => {
            b.clear();
            b.reserve(chunk);
            b
        }
        None => BytesMut::with_capacity(chunk),
    };
    while buf.len() < chunk {
        let want = (chunk - buf.len()) as u64;
        let n = (&mut *reader).take(want).read_buf(&mut buf).await?;
        if n == 0 {
            break;
        }
    }
    Ok(buf)
}

fn check_offset(
    create: &CreateResponse,
    offset: u64,
    share: &str,
    path: &str,
) -> Result<(), Error> {
    if offset > create.end_of_file {
        return Err(Error::InvalidArgument(format!(
            "offset {offset} is past the end of '{}' ({} bytes)",
            display(share, path),
            create.end_of_file
        )));
    }
    Ok(())
}

/// The WRITE request (MS-SMB2 §2.2.21) without its data, which the
/// driver sends right after it: the fixed 48-byte body with DataOffset 112
/// and Length `len`.
fn encode_write_header(
    w: &mut Writer,
    offset: u64,
    file_id: FileId,
    len: usize,
) -> Result<(), EncodeError> {
    let length = wire_u32(len, "SMB2 WRITE Length")?;
    let start = w.len();
    encode_write_request(w, offset, file_id, 0, &[])?;
    // Drop the one-byte Buffer placeholder an empty WRITE carries, and
    // give Length the size of the data that follows.
    w.truncate(start + 48);
    w.patch_u32(start + 4, length);
    Ok(())
}

fn read_request(file_id: FileId, offset: u64, len: u32) -> ReadRequest {
    ReadRequest {
        padding: DEFAULT_READ_PADDING,
        flags: 0,
        length: len,
        offset,
        file_id,
        minimum_count: 0,
        channel: 0,
        remaining_bytes: 0,
    }
}

/// The data of a READ response (empty at end of file), zero-copy.
fn read_data(r: &Response, t: &Target, asked: u32) -> Result<Bytes, Error> {
    match r.header.status {
        NtStatus::SUCCESS => {
            let range = read_response_data_range(&r.msg)
                .map_err(|e| ProtocolError::decode("READ response", e))?;
            if range.len() > asked as usize {
                return Err(ProtocolError::Unexpected(format!(
                    "READ returned {} bytes, {asked} were asked for",
                    range.len()
                ))
                .into());
            }
            Ok(r.msg.slice(range))
        }
        NtStatus::END_OF_FILE => Ok(Bytes::new()),
        s => Err(failure("reading", &t.share, &t.path, s)),
    }
}

fn check_written(r: &Response, t: &Target, len: usize) -> Result<(), Error> {
    if r.header.status.is_error() {
        return Err(failure("writing", &t.share, &t.path, r.header.status));
    }
    let w =
        WriteResponse::decode(&r.msg).map_err(|e| ProtocolError::decode("WRITE response", e))?;
    if w.count as usize != len {
        return Err(ProtocolError::Unexpected(format!(
            "the server wrote {} of {len} bytes to '{}'",
            w.count,
            display(&t.share, &t.path)
        ))
        .into());
    }
    Ok(())
}

async fn read_chunk(
    conn: Connection,
    file: FileKey,
    offset: u64,
    len: u32,
    limit: Duration,
    t: Target,
) -> Result<Bytes, Error> {
    let deadline = Instant::now() + limit;
    match file {
        FileKey::Smb2 { tree_id, file_id } => {
            let req = read_request(file_id, offset, len);
            let charge = conn.charge_for(len as usize);
            let r = conn
                .shared()?
                .request(Command::READ, tree_id, charge, deadline, "read", |w| {
                    req.encode(w);
                    Ok(())
                })
                .await
                .map_err(|e| with_limit(e, limit))?;
            read_data(&r, &t, len)
        }
        FileKey::Smb1 { tid, fid } => {
            let s = conn.smb1().ok_or(Error::NotConnected)?;
            crate::smb1ops::read_raw(s, tid, fid, offset, len, &t.share, &t.path, deadline)
                .await
                .map_err(|e| with_limit(e, limit))
        }
    }
}

async fn write_chunk(
    conn: Connection,
    tree_id: u32,
    file_id: FileId,
    offset: u64,
    data: Bytes,
    limit: Duration,
    t: Target,
) -> Result<Option<BytesMut>, Error> {
    let deadline = Instant::now() + limit;
    let charge = conn.charge_for(data.len());
    let len = data.len();
    let keep = data.clone();
    let r = conn
        .shared()?
        .request_with_tail(
            Command::WRITE,
            tree_id,
            charge,
            deadline,
            "write",
            |w| encode_write_header(w, offset, file_id, len),
            data,
        )
        .await
        .map_err(|e| with_limit(e, limit))?;
    check_written(&r, &t, len)?;
    // The frame has been written and answered: the buffer is ours again.
    Ok(keep.try_into_mut().ok())
}

/// The open file behind a [`RemoteFile`].
#[derive(Debug, Clone)]
pub(crate) enum FileHandle {
    /// Opened with an SMB2 CREATE.
    Smb2(Handle),
    /// Opened with an SMB1 NT_CREATE_ANDX.
    Smb1(crate::smb1ops::Open1),
}

/// What a READ names: the tree and the file.
#[derive(Debug, Clone, Copy)]
enum FileKey {
    Smb2 { tree_id: u32, file_id: FileId },
    Smb1 { tid: u16, fid: u16 },
}

impl FileHandle {
    fn size(&self) -> u64 {
        match self {
            FileHandle::Smb2(h) => h.create.end_of_file,
            FileHandle::Smb1(o) => o.create.end_of_file,
        }
    }

    fn attributes(&self) -> u32 {
        match self {
            FileHandle::Smb2(h) => h.create.file_attributes,
            FileHandle::Smb1(o) => o.create.ext_file_attributes,
        }
    }

    fn key(&self) -> FileKey {
        match self {
            FileHandle::Smb2(h) => FileKey::Smb2 {
                tree_id: h.tree_id,
                file_id: h.file_id,
            },
            FileHandle::Smb1(o) => FileKey::Smb1 {
                tid: o.tid,
                fid: o.fid,
            },
        }
    }
}

/// A file opened for reading with [`Connection::open_file`].
///
/// Close it with [`RemoteFile::close`]; a file dropped without closing is
/// closed in the background.
#[derive(Debug)]
pub struct RemoteFile {
    conn: Connection,
    target: Target,
    handle: FileHandle,
    open: bool,
}

impl RemoteFile {
    pub(crate) fn new(conn: Connection, share: &str, path: &str, handle: FileHandle) -> Self {
        RemoteFile {
            conn,
            target: Target {
                share: share.into(),
                path: path.into(),
            },
            handle,
            open: true,
        }
    }

    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.handle.size()
    }

    /// The file's FILE_ATTRIBUTE_* bits when it was opened.
    pub fn attributes(&self) -> u32 {
        self.handle.attributes()
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end of the file;
    /// none past it). Large ranges are read with several requests in flight.
    pub async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, Error> {
        let mut reader = self.reader(offset, Some(len as u64));
        let first = match reader.next_chunk().await? {
            Some(b) => b,
            None => return Ok(Bytes::new()),
        };
        if first.len() == len {
            return Ok(first);
        }
        let mut out = BytesMut::with_capacity(len);
        out.extend_from_slice(&first);
        while let Some(b) = reader.next_chunk().await? {
            out.extend_from_slice(&b);
        }
        Ok(out.freeze())
    }

    /// A reader of the file from `offset`, at most `max_length` bytes
    /// (`None`: to the end), that keeps several reads in flight ahead of
    /// the caller. It implements [`AsyncRead`]; [`RemoteReader::next_chunk`]
    /// hands out the received buffers without copying.
    ///
    /// A read that returns fewer bytes than asked before the size the file
    /// had when opened is not the end: the reader reads on from where the
    /// data ended (and asks for no more than the server sent from then on).
    /// The end of the file is an empty read, or a short one at or past that
    /// size.
    pub fn reader(&self, offset: u64, max_length: Option<u64>) -> RemoteReader {
        let max = self.conn.server_info().max_read_size;
        let chunk = match self.handle {
            FileHandle::Smb2(_) => self.conn.chunk_size(max),
            // Already the exact SMB1 limit (see smb1ops::max_read).
            FileHandle::Smb1(_) => max.max(1024) as usize,
        };
        RemoteReader {
            conn: self.conn.clone(),
            target: self.target.clone(),
            file: self.handle.key(),
            next: offset,
            end: max_length.map(|m| offset.saturating_add(m)),
            known_size: self.size(),
            chunk,
            limit: self.conn.op_limit(),
            inflight: VecDeque::new(),
            current: Bytes::new(),
            done: false,
        }
    }

    /// Closes the file.
    pub async fn close(mut self) -> Result<(), Error> {
        self.open = false;
        let limit = self.conn.op_limit();
        self.conn
            .close_file_handle(&self.handle, Instant::now() + limit)
            .await
            .map_err(|e| with_limit(e, limit))
    }
}

impl Drop for RemoteFile {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_in_background(self.handle.clone());
        }
    }
}

impl Connection {
    /// Closes an open file of either protocol.
    pub(crate) async fn close_file_handle(
        &self,
        handle: &FileHandle,
        deadline: Instant,
    ) -> Result<(), Error> {
        match handle {
            FileHandle::Smb2(h) => self.close_handle(h, deadline).await,
            FileHandle::Smb1(o) => {
                let s = self.smb1().ok_or(Error::NotConnected)?;
                crate::smb1ops::close_file(s, o, deadline).await
            }
        }
    }

    /// Closes a handle without waiting (after a failure, or on drop).
    pub(crate) fn close_in_background(&self, handle: impl Into<FileHandle>) {
        if !self.is_ready() {
            return;
        }
        let handle = handle.into();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let conn = self.clone();
            rt.spawn(async move {
                let limit = conn.op_limit();
                let _ = conn
                    .close_file_handle(&handle, Instant::now() + limit)
                    .await;
            });
        }
    }
}

impl From<Handle> for FileHandle {
    fn from(h: Handle) -> Self {
        FileHandle::Smb2(h)
    }
}

/// A READ in flight: its offset, the bytes asked for, and the data.
type ReadTask = JoinHandle<Result<(u64, u32, Bytes), Error>>;

/// Streams a remote file with reads in flight ahead of the caller; made by
/// [`RemoteFile::reader`].
pub struct RemoteReader {
    conn: Connection,
    target: Target,
    file: FileKey,
    next: u64,
    end: Option<u64>,
    known_size: u64,
    chunk: usize,
    limit: Duration,
    inflight: VecDeque<ReadTask>,
    current: Bytes,
    done: bool,
}

impl std::fmt::Debug for RemoteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReader")
            .field("path", &self.target.path)
            .field("next", &self.next)
            .field("in_flight", &self.inflight.len())
            .finish()
    }
}

impl RemoteReader {
    /// Issues reads until the window is full. Reads go as far as the size
    /// the file had when opened; past it (a growing file) one probe at a time.
    fn fill(&mut self) {
        let end = self.end.unwrap_or(u64::MAX);
        while self.inflight.len() < WINDOW && self.next < end {
            if self.next >= self.known_size && !self.inflight.is_empty() {
                break;
            }
            let len = (end - self.next).min(self.chunk as u64) as u32;
            self.inflight.push_back(self.spawn_read(self.next, len));
            self.next += u64::from(len);
            if self.next > self.known_size {
                break;
            }
        }
    }

    fn spawn_read(&self, at: u64, len: u32) -> ReadTask {
        let (conn, t) = (self.conn.clone(), self.target.clone());
        let (file, limit) = (self.file, self.limit);
        tokio::spawn(async move {
            read_chunk(conn, file, at, len, limit, t)
                .await
                .map(|b| (at, len, b))
        })
    }

    fn finish(&mut self) {
        self.done = true;
        for t in self.inflight.drain(..) {
            t.abort();
        }
    }

    fn accept(
        &mut self,
        res: Result<Result<(u64, u32, Bytes), Error>, tokio::task::JoinError>,
    ) -> Result<Option<Bytes>, Error> {
        match res.map_err(join_error).and_then(|r| r) {
            Ok((at, asked, data)) => {
                let got = data.len() as u64;
                if data.is_empty() {
                    // STATUS_END_OF_FILE or no data: the end of the file.
                    self.finish();
                    return Ok(None);
                }
                if got < u64::from(asked) {
                    let reached = at + got;
                    if reached < self.known_size {
                        // Short, but not at the end: the server sends less
                        // than asked (its own limit). Read the rest of this
                        // range before the reads already in flight, and ask
                        // for no more than it sent from now on.
                        let rest = asked - got as u32;
                        let task = self.spawn_read(reached, rest);
                        self.inflight.push_front(task);
                        self.chunk = self.chunk.min((got as usize).max(MIN_CHUNK));
                    } else {
                        // Short at or past the size the file had: its end.
                        self.finish();
                    }
                } else {
                    self.known_size = self.known_size.max(at + got);
                }
                Ok(Some(data))
            }
            Err(e) => {
                self.finish();
                Err(e)
            }
        }
    }

    /// The same reader asking for `chunk` bytes per read.
    #[cfg(test)]
    pub(crate) fn with_chunk(mut self, chunk: usize) -> Self {
        self.chunk = chunk;
        self
    }

    /// The bytes asked for per read now.
    #[cfg(test)]
    pub(crate) fn chunk(&self) -> usize {
        self.chunk
    }

    /// The next block of the file, in order; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if !self.current.is_empty() {
                return Ok(Some(std::mem::take(&mut self.current)));
            }
            if self.done {
                return Ok(None);
            }
            self.fill();
            let Some(front) = self.inflight.pop_front() else {
                self.done = true;
                return Ok(None);
            };
            let res = front.await;
            if let Some(b) = self.accept(res)? {
                return Ok(Some(b));
            }
        }
    }
}

impl Drop for RemoteReader {
    fn drop(&mut self) {
        for t in self.inflight.drain(..) {
            t.abort();
        }
    }
}

impl AsyncRead for RemoteReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                buf.put_slice(&this.current.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            this.fill();
            let Some(front) = this.inflight.front_mut() else {
                this.done = true;
                return Poll::Ready(Ok(()));
            };
            let res = match Pin::new(front).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.inflight.pop_front();
            match this.accept(res) {
                Ok(Some(b)) => this.current = b,
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(std::io::Error::other(e))),
            }
        }
    }
}
