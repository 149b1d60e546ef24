//! Moving file data: retrieve and store (the reference's retrieveFile,
//! retrieveFileFromOffset, storeFile, storeFileFromOffset) and
//! [`RemoteFile`] for callers that stream or read by ranges, written once
//! over the family's READ and WRITE primitives.
//!
//! Large transfers keep several READ or WRITE requests (the negotiated
//! sizes: up to 1 MiB over SMB2 with multi-credit requests; SMB1's
//! READ_ANDX and WRITE_ANDX limits) in flight at once, so the connection
//! is never stop-and-wait; memory stays bounded by that window. Small
//! files cost one round trip over SMB2: CREATE + READ + CLOSE (or CREATE +
//! WRITE + CLOSE) as one compound. As in the reference, the time limit of
//! these operations applies to each request, not to the whole transfer.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smbkit_proto::smb2::create::{access_mask, create_options};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::names::smb_path;
use super::{with_limit, Ctx};
use crate::error::{display, Error};
use crate::family::{read_spec, Family, FileRef, OpenFile, OpenSpec, ReadStart, WriteInFlight};

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

/// Opens the file at `path` for reading.
pub(crate) async fn open_file(ctx: &Ctx, share: &str, path: &str) -> Result<RemoteFile, Error> {
    super::timed(ctx, |deadline| async move {
        let path = smb_path(path)?;
        let tree = ctx.tree(share, deadline).await?;
        let f = ctx
            .family()
            .open(tree, share, &path, read_spec(), "open", deadline)
            .await?;
        Ok(RemoteFile::new(ctx.clone(), share, &path, f))
    })
    .await
}

/// Writes the file at `path` from `offset` to `writer`, at most
/// `max_length` bytes; the file's attributes and the bytes written.
pub(crate) async fn retrieve<W: AsyncWrite + Unpin + ?Sized>(
    ctx: &Ctx,
    share: &str,
    path: &str,
    writer: &mut W,
    offset: u64,
    max_length: Option<u64>,
) -> Result<(u32, u64), Error> {
    let limit = ctx.op_limit();
    retrieve_in(ctx, share, path, writer, offset, max_length, limit)
        .await
        .map_err(|e| with_limit(e, limit))
}

#[allow(clippy::too_many_arguments)]
async fn retrieve_in<W: AsyncWrite + Unpin + ?Sized>(
    ctx: &Ctx,
    share: &str,
    path: &str,
    writer: &mut W,
    offset: u64,
    max_length: Option<u64>,
    limit: Duration,
) -> Result<(u32, u64), Error> {
    let path = smb_path(path)?;
    let deadline = Instant::now() + limit;
    let tree = ctx.tree(share, deadline).await?;
    let family = ctx.family();
    let want = max_length.unwrap_or(u64::MAX);
    let first_len = want.min(family.read_size() as u64) as u32;
    let start = family
        .open_read(tree, share, &path, offset, first_len, deadline)
        .await?;
    let (info, first, open) = match start {
        ReadStart::Done(info, data) => (info, Some(data), None),
        ReadStart::Open(f) => (*f.info(), None, Some(f)),
    };
    if offset > info.size {
        return Err(Error::InvalidArgument(format!(
            "offset {offset} is past the end of '{}' ({} bytes)",
            display(share, &path),
            info.size
        )));
    }
    let mut written = 0u64;
    if let Some(first) = first {
        // The open's round trip brought the first bytes.
        if first_len == 0 {
            return Ok((info.attributes, 0));
        }
        writer.write_all(&first).await?;
        written = first.len() as u64;
        let done =
            (first.len() as u32) < first_len || written >= want || offset + written >= info.size;
        if done {
            writer.flush().await?;
            return Ok((info.attributes, written));
        }
    }
    let f = match open {
        Some(f) => f,
        // A large file: open it again and stream the rest.
        None => {
            family
                .open(
                    tree,
                    share,
                    &path,
                    read_spec(),
                    "retrieve_file",
                    Instant::now() + limit,
                )
                .await?
        }
    };
    let file = RemoteFile::new(ctx.clone(), share, &path, f);
    let mut reader = file.reader(offset + written, max_length.map(|m| m - written));
    while let Some(data) = reader.next_chunk().await? {
        writer.write_all(&data).await?;
        written += data.len() as u64;
    }
    drop(reader);
    // On an error above, dropping the file hands its close to the
    // connection.
    file.close().await?;
    writer.flush().await?;
    Ok((info.attributes, written))
}

/// Writes everything `reader` yields into the file at `path` from
/// `offset`, opened with `disposition`; the bytes written.
pub(crate) async fn store<R: AsyncRead + Unpin + ?Sized>(
    ctx: &Ctx,
    share: &str,
    path: &str,
    reader: &mut R,
    offset: u64,
    disposition: u32,
) -> Result<u64, Error> {
    let limit = ctx.op_limit();
    store_in(ctx, share, path, reader, offset, disposition, limit)
        .await
        .map_err(|e| with_limit(e, limit))
}

#[allow(clippy::too_many_arguments)]
async fn store_in<R: AsyncRead + Unpin + ?Sized>(
    ctx: &Ctx,
    share: &str,
    path: &str,
    reader: &mut R,
    offset: u64,
    disposition: u32,
    limit: Duration,
) -> Result<u64, Error> {
    let path = smb_path(path)?;
    if path.is_empty() {
        return Err(Error::InvalidArgument(
            "store_file needs a file name".into(),
        ));
    }
    let deadline = Instant::now() + limit;
    let tree = ctx.tree(share, deadline).await?;
    let family = ctx.family();
    let chunk = family.write_size();
    let spec = OpenSpec::new(
        access_mask::FILE_WRITE_DATA
            | access_mask::FILE_READ_ATTRIBUTES
            | access_mask::FILE_WRITE_ATTRIBUTES
            | access_mask::SYNCHRONIZE,
        disposition,
        create_options::NON_DIRECTORY_FILE,
    );
    let first = fill_into(reader, chunk, None).await?;
    if first.len() < chunk {
        // Everything fits in one WRITE.
        let n = first.len() as u64;
        family
            .store_small(tree, share, &path, spec, offset, first.freeze(), deadline)
            .await?;
        return Ok(n);
    }
    let f = family
        .open(tree, share, &path, spec, "store_file", deadline)
        .await?;
    let target = Target {
        share: share.into(),
        path: path.as_str().into(),
    };
    // On an error, dropping the file hands its close to the connection.
    let n = write_pipeline(&family, &f, &target, reader, first, offset, chunk, limit).await?;
    f.close(Instant::now() + limit).await?;
    Ok(n)
}

/// WRITEs of `chunk` bytes with up to [`WINDOW`] in flight, answered in
/// order by this task; the buffers of answered WRITEs hold the next
/// chunks.
#[allow(clippy::too_many_arguments)]
async fn write_pipeline<R: AsyncRead + Unpin + ?Sized>(
    family: &Family,
    f: &OpenFile,
    target: &Target,
    reader: &mut R,
    first: BytesMut,
    offset: u64,
    chunk: usize,
    limit: Duration,
) -> Result<u64, Error> {
    let file = f.file();
    let mut inflight: VecDeque<WriteInFlight<'_>> = VecDeque::new();
    // Buffers of finished WRITEs, reused for the next chunks so that
    // their memory is not faulted in afresh every time.
    let mut spare: Vec<BytesMut> = Vec::new();
    let mut next = offset;
    let mut data = first;
    loop {
        let len = data.len();
        let sent = family
            .start_write(file, next, data.freeze(), Instant::now() + limit)
            .await?;
        inflight.push_back(sent);
        next += len as u64;
        if inflight.len() >= WINDOW {
            if let Some(front) = inflight.pop_front() {
                spare.extend(
                    front
                        .finish(file, &target.share, &target.path, limit)
                        .await?,
                );
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
        front
            .finish(file, &target.share, &target.path, limit)
            .await?;
    }
    Ok(next - offset)
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Io(std::io::Error::other(format!("transfer task failed: {e}")))
}

/// Reads from `reader` until `chunk` bytes or end of input, into `reuse`
/// when given (emptied first).
async fn fill_into<R: AsyncRead + Unpin + ?Sized>(
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

/// A file opened for reading with
/// [`Connection::open_file`](crate::Connection::open_file).
///
/// Close it with [`RemoteFile::close`]; a file dropped without closing is
/// closed in the background.
pub struct RemoteFile {
    ctx: Ctx,
    target: Target,
    file: OpenFile,
}

impl std::fmt::Debug for RemoteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFile")
            .field("path", &self.target.path)
            .field("file", &self.file)
            .finish()
    }
}

impl RemoteFile {
    pub(crate) fn new(ctx: Ctx, share: &str, path: &str, file: OpenFile) -> Self {
        RemoteFile {
            ctx,
            target: Target {
                share: share.into(),
                path: path.into(),
            },
            file,
        }
    }

    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.file.info().size
    }

    /// The file's FILE_ATTRIBUTE_* bits when it was opened.
    pub fn attributes(&self) -> u32 {
        self.file.info().attributes
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
        RemoteReader {
            _session: self.ctx.clone(),
            family: self.file.family().clone(),
            target: self.target.clone(),
            file: self.file.file(),
            next: offset,
            end: max_length.map(|m| offset.saturating_add(m)),
            known_size: self.size(),
            chunk: self.file.family().read_size(),
            limit: self.ctx.op_limit(),
            inflight: VecDeque::new(),
            current: Bytes::new(),
            done: false,
        }
    }

    /// Closes the file.
    pub async fn close(self) -> Result<(), Error> {
        let limit = self.ctx.op_limit();
        self.file
            .close(Instant::now() + limit)
            .await
            .map_err(|e| with_limit(e, limit))
    }
}

/// A READ in flight: its offset, the bytes asked for, and the data.
type ReadTask = JoinHandle<Result<(u64, u32, Bytes), Error>>;

/// Streams a remote file with reads in flight ahead of the caller; made by
/// [`RemoteFile::reader`].
pub struct RemoteReader {
    /// Keeps the session (and its driver) alive while reads are in flight.
    _session: Ctx,
    family: Family,
    target: Target,
    file: FileRef,
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
        let (family, t) = (self.family.clone(), self.target.clone());
        let (file, limit) = (self.file, self.limit);
        tokio::spawn(async move {
            family
                .read(file, at, len, &t.share, &t.path, Instant::now() + limit)
                .await
                .map(|b| (at, len, b))
                .map_err(|e| with_limit(e, limit))
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

    /// The same reader asking for `chunk` bytes per read instead of the
    /// size negotiated with the server, within 4 KiB and the most one read
    /// request can ask for ([`RemoteReader::MAX_CHUNK`], or over SMB 2/3
    /// the server's MaxReadSize). A server may answer with less; the
    /// reader then asks for no more than it sent (see
    /// [`RemoteReader::chunk`]).
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        let max = if self.family.is_smb2() {
            self.family.read_size()
        } else {
            Self::MAX_CHUNK
        };
        self.chunk = chunk.clamp(MIN_CHUNK.min(max), max);
        self
    }

    /// The most [`RemoteReader::with_chunk`] asks for per read (SMB1; SMB
    /// 2/3 servers name their own limit).
    pub const MAX_CHUNK: usize = 8 << 20;

    /// The bytes asked for per read now: [`RemoteReader::with_chunk`]'s,
    /// or less once the server has answered reads short (it has a limit of
    /// its own).
    pub fn chunk(&self) -> usize {
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
            // The read stays first in line until its result is taken: a
            // caller that drops this future while it waits loses nothing.
            let Some(front) = self.inflight.front_mut() else {
                self.done = true;
                return Ok(None);
            };
            let res = front.await;
            self.inflight.pop_front();
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
