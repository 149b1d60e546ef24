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

mod cursor;

use super::names::smb_path;
use super::{with_limit, Ctx};
use crate::error::{display, Error, InvalidArgument, NotResumableReason, OpenOptionsError};
use crate::family::{
    read_spec, Durable, Family, Fid, FileRef, OpenFile, OpenInfo, OpenSpec, ReadStart,
    WriteInFlight,
};

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
        let f = open_resumable(ctx, share, &path, read_spec(), false, "open", deadline).await?;
        Ok(RemoteFile::new(ctx.clone(), share, &path, f))
    })
    .await
}

/// Opens `path` on the tree of `share`: durable when the session
/// reconnects, so that a reconnect can take the handle back (`writes`: the
/// open writes). Repeated on a new connection when the connection is lost
/// meanwhile.
pub(crate) async fn open_resumable(
    ctx: &Ctx,
    share: &str,
    path: &str,
    spec: OpenSpec,
    writes: bool,
    what: &'static str,
    deadline: Instant,
) -> Result<OpenFile, Error> {
    ctx.again_if_lost(|| async move {
        let tree = ctx.tree(share, deadline).await?;
        let family = ctx.family();
        if ctx.session.can_reconnect() {
            family
                .open_durable(tree, share, path, spec, writes, what, deadline)
                .await
        } else {
            family.open(tree, share, path, spec, what, deadline).await
        }
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
    let want = max_length.unwrap_or(u64::MAX);
    let p = &path;
    let (first_len, start) = ctx
        .again_if_lost(|| async move {
            let tree = ctx.tree(share, deadline).await?;
            let family = ctx.family();
            let first_len = want.min(family.read_size() as u64) as u32;
            let start = family
                .open_read(tree, share, p, offset, first_len, deadline)
                .await?;
            Ok((first_len, start))
        })
        .await?;
    let (info, first, open) = match start {
        ReadStart::Done(info, data) => (info, Some(data), None),
        ReadStart::Open(f) => (*f.info(), None, Some(f)),
    };
    if offset > info.size {
        return Err(InvalidArgument::OffsetPastEnd {
            offset,
            path: display(share, &path),
            size: info.size,
        }
        .into());
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
            let deadline = Instant::now() + limit;
            open_resumable(
                ctx,
                share,
                &path,
                read_spec(),
                false,
                "retrieve_file",
                deadline,
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
        return Err(InvalidArgument::NoName {
            operation: "store_file",
        }
        .into());
    }
    let chunk = ctx.live_link().await?.family.write_size();
    let spec = OpenSpec::new(
        access_mask::FILE_WRITE_DATA
            | access_mask::FILE_READ_ATTRIBUTES
            | access_mask::FILE_WRITE_ATTRIBUTES
            | access_mask::SYNCHRONIZE,
        disposition,
        create_options::NON_DIRECTORY_FILE,
    );
    let first = fill_into(reader, chunk, None).await?.freeze();
    // The time limit counts from here: a slow source (a pipe, a user
    // typing) takes what it takes to give the first chunk.
    let deadline = Instant::now() + limit;
    if first.len() < chunk {
        // Everything fits in one WRITE; repeated whole on a new
        // connection if the connection is lost meanwhile.
        let n = first.len() as u64;
        let (p, data) = (&path, &first);
        ctx.again_if_lost(|| async move {
            let tree = ctx.tree(share, deadline).await?;
            ctx.family()
                .store_small(tree, share, p, spec, offset, data.clone(), deadline)
                .await
        })
        .await?;
        return Ok(n);
    }
    let f = open_resumable(ctx, share, &path, spec, true, "store_file", deadline).await?;
    let handle = Handle::new(ctx.clone(), share, &path, f);
    // On an error, dropping the handle hands its close to the connection.
    let n = write_all(&handle, reader, first, offset, chunk, limit).await?;
    handle.close(Instant::now() + limit).await?;
    Ok(n)
}

/// Writes `first`, then everything `reader` yields, from `offset`; when
/// the connection is lost and the handle is taken back on a new one, the
/// WRITEs whose answers had not come are sent again (the same bytes at
/// the same offsets) and the rest follows.
async fn write_all<R: AsyncRead + Unpin + ?Sized>(
    handle: &Handle,
    reader: &mut R,
    first: Bytes,
    offset: u64,
    chunk: usize,
    limit: Duration,
) -> Result<u64, Error> {
    let mut w = Writes {
        eof: first.len() < chunk,
        next: offset + first.len() as u64,
        redo: VecDeque::from([(offset, first)]),
    };
    loop {
        let now = handle.current()?;
        match write_pipeline(&now, &handle.target, reader, &mut w, chunk, limit).await {
            Ok(()) => return Ok(w.next - offset),
            Err(e) => handle.resume(now.epoch, e, "writing").await?,
        }
    }
}

/// Where a write pipeline stands: the chunks to send (again) first, the
/// offset of the next chunk from the reader, and whether it has ended.
struct Writes {
    redo: VecDeque<(u64, Bytes)>,
    next: u64,
    eof: bool,
}

/// WRITEs of `chunk` bytes with up to [`WINDOW`] in flight, answered in
/// order by this task; the buffers of answered WRITEs hold the next
/// chunks. On an error, the chunks not yet acknowledged go back to the
/// front of `w.redo`.
async fn write_pipeline<R: AsyncRead + Unpin + ?Sized>(
    now: &InUse,
    target: &Target,
    reader: &mut R,
    w: &mut Writes,
    chunk: usize,
    limit: Duration,
) -> Result<(), Error> {
    let (family, file) = (&now.family, now.file);
    let mut inflight: VecDeque<(u64, WriteInFlight<'_>)> = VecDeque::new();
    // Buffers of finished WRITEs, reused for the next chunks so that
    // their memory is not faulted in afresh every time.
    let mut spare: Vec<BytesMut> = Vec::new();
    let unacked = |inflight: VecDeque<(u64, WriteInFlight<'_>)>, w: &mut Writes| {
        for (at, sent) in inflight.into_iter().rev() {
            w.redo.push_front((at, sent.data().clone()));
        }
    };
    loop {
        let (at, data) = if let Some(c) = w.redo.pop_front() {
            c
        } else if w.eof {
            break;
        } else {
            let data = fill_into(reader, chunk, spare.pop()).await?.freeze();
            if data.is_empty() {
                w.eof = true;
                break;
            }
            let at = w.next;
            w.next += data.len() as u64;
            w.eof = data.len() < chunk;
            (at, data)
        };
        match family
            .start_write(file, at, data.clone(), Instant::now() + limit)
            .await
        {
            Ok(sent) => inflight.push_back((at, sent)),
            Err(e) => {
                w.redo.push_front((at, data));
                unacked(inflight, w);
                return Err(e);
            }
        }
        drop(data);
        if inflight.len() >= WINDOW {
            if let Some((at, front)) = inflight.pop_front() {
                let data = front.data().clone();
                match front.finish(file, &target.share, &target.path, limit).await {
                    // Answered: the buffer is ours again once the
                    // request has let go of it.
                    Ok(_) => spare.extend(data.try_into_mut().ok()),
                    Err(e) => {
                        w.redo.push_front((at, data));
                        unacked(inflight, w);
                        return Err(e);
                    }
                }
            }
        }
    }
    while let Some((at, front)) = inflight.pop_front() {
        let data = front.data().clone();
        if let Err(e) = front.finish(file, &target.share, &target.path, limit).await {
            w.redo.push_front((at, data));
            unacked(inflight, w);
            return Err(e);
        }
    }
    Ok(())
}

/// An open file's handle, which a reconnect may replace: the guard of the
/// handle in use, and what taking it back on a new connection needs.
struct Handle {
    ctx: Ctx,
    target: Target,
    info: OpenInfo,
    current: std::sync::Mutex<Current>,
    /// Held while the handle is being taken back: one reopen at a time.
    reopening: tokio::sync::Mutex<()>,
}

struct Current {
    /// `None` once closed.
    file: Option<OpenFile>,
    /// Counts the handles, from 0: a reopen makes the next one.
    epoch: u64,
}

/// The handle in use: its family and id, and which one it is.
#[derive(Clone)]
struct InUse {
    family: Family,
    file: FileRef,
    epoch: u64,
}

impl Handle {
    fn new(ctx: Ctx, share: &str, path: &str, file: OpenFile) -> Arc<Handle> {
        Arc::new(Handle {
            ctx,
            target: Target {
                share: share.into(),
                path: path.into(),
            },
            info: *file.info(),
            current: std::sync::Mutex::new(Current {
                file: Some(file),
                epoch: 0,
            }),
            reopening: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle in use; an error once the file is closed.
    fn current(&self) -> Result<InUse, Error> {
        let c = self.lock();
        match &c.file {
            Some(f) => Ok(InUse {
                family: f.family().clone(),
                file: f.file(),
                epoch: c.epoch,
            }),
            None => Err(InvalidArgument::FileClosed {
                path: display(&self.target.share, &self.target.path),
            }
            .into()),
        }
    }

    /// After `e` failed a request on handle `epoch`: when the connection
    /// was lost and the session reconnects, takes the durable handle back
    /// on the new connection (or finds it taken back already) and returns
    /// Ok, so that the caller repeats what failed. Otherwise the error: `e`
    /// itself, or [`Error::NotResumable`] when the connection came back but
    /// the handle cannot (SMB1, not durable, refused).
    async fn resume(&self, epoch: u64, e: Error, operation: &'static str) -> Result<(), Error> {
        if !self.ctx.session.is_lost(&e) {
            return Err(e);
        }
        let _one = self.reopening.lock().await;
        let (durable, fid) = {
            let c = self.lock();
            if c.epoch != epoch {
                return Ok(());
            }
            let Some(f) = &c.file else {
                return Err(e);
            };
            (f.durable().cloned(), f.file().fid)
        };
        let path = display(&self.target.share, &self.target.path);
        let Some(durable) = durable else {
            // Nothing to take back; the connection itself comes back.
            let link = self.ctx.session.recover().await?;
            return Err(Error::NotResumable {
                operation,
                path,
                reason: if link.family.is_smb2() {
                    NotResumableReason::NotDurable
                } else {
                    NotResumableReason::Smb1
                },
            });
        };
        let f = self.take_back(&durable, fid, operation).await?;
        let mut c = self.lock();
        if let Some(old) = c.file.replace(f) {
            old.forget();
        }
        c.epoch += 1;
        Ok(())
    }

    /// Reconnects if need be and takes the durable handle `fid` back on the
    /// new connection (a connection lost again meanwhile is replaced too,
    /// a few times).
    async fn take_back(
        &self,
        durable: &Durable,
        fid: Fid,
        operation: &'static str,
    ) -> Result<OpenFile, Error> {
        let limit = self.ctx.op_limit();
        let share = &self.target.share;
        let mut tries = 0;
        loop {
            let link = self.ctx.session.recover().await?;
            let deadline = Instant::now() + limit;
            let reopened = async {
                let tree = self.ctx.tree(share, deadline).await?;
                link.family
                    .reopen_durable(tree, share, durable, fid, self.info, deadline)
                    .await
            }
            .await;
            match reopened {
                Ok(f) => return Ok(f),
                Err(e) if tries < super::MAX_REPEATS && self.ctx.session.is_lost(&e) => tries += 1,
                Err(Error::NotResumable { reason, .. }) => {
                    return Err(Error::NotResumable {
                        operation,
                        path: display(share, &self.target.path),
                        reason,
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the handle; once `deadline` has passed the close is left to
    /// the connection. A CLOSE lost with the connection is sent again on
    /// the new one for a durable handle (so that the server lets go of it
    /// now rather than when it expires); a handle that cannot be taken
    /// back is gone with the old connection: everything before the CLOSE
    /// was answered, so that is no error.
    async fn close(&self, deadline: Instant) -> Result<(), Error> {
        let Some(f) = self.lock().file.take() else {
            return Ok(());
        };
        let durable = f.durable().cloned();
        let fid = f.file().fid;
        match f.close(deadline).await {
            Err(e) if self.ctx.session.is_lost(&e) => {
                let path = &self.target.path;
                let Some(d) = durable else {
                    tracing::debug!(%path, "the CLOSE was lost with the connection");
                    return Ok(());
                };
                match self.take_back(&d, fid, "closing").await {
                    Ok(f) => f.close(deadline).await,
                    Err(e) => {
                        tracing::debug!(%path, error = %e, "the CLOSE was lost with the connection");
                        Ok(())
                    }
                }
            }
            r => r,
        }
    }
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

/// An open file: for reading with
/// [`Connection::open_file`](crate::Connection::open_file), or as
/// [`OpenOptions`] say with [`Connection::open`](crate::Connection::open)
/// (then also [`RemoteFile::write_at`], [`RemoteFile::append`],
/// [`RemoteFile::set_len`], [`RemoteFile::flush`]).
///
/// Close it with [`RemoteFile::close`]; a file dropped without closing is
/// closed in the background (once its readers are gone too). With a
/// reconnect policy on the factory, the file survives the loss of the
/// connection: its durable handle is taken back on the new one.
pub struct RemoteFile {
    handle: Arc<Handle>,
    cursor: cursor::Cursor,
}

impl std::fmt::Debug for RemoteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFile")
            .field("path", &self.handle.target.path)
            .field("file", &self.handle.lock().file)
            .finish()
    }
}

impl RemoteFile {
    pub(crate) fn new(ctx: Ctx, share: &str, path: &str, file: OpenFile) -> Self {
        RemoteFile {
            handle: Handle::new(ctx, share, path, file),
            cursor: cursor::Cursor::default(),
        }
    }

    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.handle.info.size
    }

    /// The file's FILE_ATTRIBUTE_* bits when it was opened.
    pub fn attributes(&self) -> u32 {
        self.handle.info.attributes
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
        let family = self.handle.ctx.family();
        RemoteReader {
            handle: self.handle.clone(),
            smb2: family.is_smb2(),
            read_size: family.read_size(),
            next: offset,
            end: max_length.map(|m| offset.saturating_add(m)),
            known_size: self.size(),
            chunk: family.read_size(),
            limit: self.handle.ctx.op_limit(),
            inflight: VecDeque::new(),
            resuming: None,
            current: Bytes::new(),
            done: false,
        }
    }

    /// Closes the file, once what was written through [`AsyncWrite`] has
    /// been sent and answered.
    pub async fn close(mut self) -> Result<(), Error> {
        let limit = self.handle.ctx.op_limit();
        self.flush_writes().await?;
        self.handle
            .close(Instant::now() + limit)
            .await
            .map_err(|e| with_limit(e, limit))
    }
}

/// A READ in flight: the data at its offset.
type ReadTask = JoinHandle<Result<Bytes, Error>>;

/// A READ in flight: its offset, the bytes asked for, the handle it went
/// over, and its task.
struct Read {
    at: u64,
    len: u32,
    epoch: u64,
    task: ReadTask,
}

/// Streams a remote file with reads in flight ahead of the caller; made by
/// [`RemoteFile::reader`].
pub struct RemoteReader {
    /// The file's handle (which keeps the session and its driver alive
    /// while reads are in flight).
    handle: Arc<Handle>,
    smb2: bool,
    read_size: usize,
    next: u64,
    end: Option<u64>,
    known_size: u64,
    chunk: usize,
    limit: Duration,
    inflight: VecDeque<Read>,
    /// Taking the handle back after the connection was lost.
    resuming: Option<JoinHandle<Result<(), Error>>>,
    current: Bytes,
    done: bool,
}

impl std::fmt::Debug for RemoteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReader")
            .field("path", &self.handle.target.path)
            .field("next", &self.next)
            .field("in_flight", &self.inflight.len())
            .finish()
    }
}

/// What one answered READ means for the reader.
enum Step {
    Data(Bytes),
    End,
    /// Nothing to hand out yet (reads were issued again).
    Again,
}

impl RemoteReader {
    /// Issues reads until the window is full. Reads go as far as the size
    /// the file had when opened; past it (a growing file) one probe at a time.
    fn fill(&mut self) -> Result<(), Error> {
        let end = self.end.unwrap_or(u64::MAX);
        while self.inflight.len() < WINDOW && self.next < end {
            if self.next >= self.known_size && !self.inflight.is_empty() {
                break;
            }
            let len = (end - self.next).min(self.chunk as u64) as u32;
            let read = self.spawn_read(self.next, len)?;
            self.inflight.push_back(read);
            self.next += u64::from(len);
            if self.next > self.known_size {
                break;
            }
        }
        Ok(())
    }

    fn spawn_read(&self, at: u64, len: u32) -> Result<Read, Error> {
        let now = self.handle.current()?;
        let t = self.handle.target.clone();
        let limit = self.limit;
        let task = tokio::spawn(async move {
            now.family
                .read(now.file, at, len, &t.share, &t.path, Instant::now() + limit)
                .await
                .map_err(|e| with_limit(e, limit))
        });
        Ok(Read {
            at,
            len,
            epoch: now.epoch,
            task,
        })
    }

    fn finish(&mut self) {
        self.done = true;
        for r in self.inflight.drain(..) {
            r.task.abort();
        }
    }

    /// Takes in the answer of the first READ in flight (`read`).
    fn accept(
        &mut self,
        read: (u64, u32, u64),
        res: Result<Result<Bytes, Error>, tokio::task::JoinError>,
    ) -> Result<Step, Error> {
        let (at, asked, epoch) = read;
        match res.map_err(join_error).and_then(|r| r) {
            Ok(data) => {
                let got = data.len() as u64;
                if data.is_empty() {
                    // STATUS_END_OF_FILE or no data: the end of the file.
                    self.finish();
                    return Ok(Step::End);
                }
                if got < u64::from(asked) {
                    let reached = at + got;
                    if reached < self.known_size {
                        // Short, but not at the end: the server sends less
                        // than asked (its own limit). Read the rest of this
                        // range before the reads already in flight, and ask
                        // for no more than it sent from now on.
                        let rest = asked - got as u32;
                        let read = self.spawn_read(reached, rest)?;
                        self.inflight.push_front(read);
                        self.chunk = self.chunk.min((got as usize).max(MIN_CHUNK));
                    } else {
                        // Short at or past the size the file had: its end.
                        self.finish();
                    }
                } else {
                    self.known_size = self.known_size.max(at + got);
                }
                Ok(Step::Data(data))
            }
            Err(e) if self.handle.ctx.session.is_lost(&e) => {
                // The connection was lost: take the handle back on a new
                // one, then read again from this read on.
                for r in self.inflight.drain(..) {
                    r.task.abort();
                }
                self.next = at;
                let handle = self.handle.clone();
                self.resuming = Some(tokio::spawn(async move {
                    handle.resume(epoch, e, "reading").await
                }));
                Ok(Step::Again)
            }
            Err(e) => {
                self.finish();
                Err(e)
            }
        }
    }

    /// The outcome of taking the handle back.
    fn resumed(
        &mut self,
        res: Result<Result<(), Error>, tokio::task::JoinError>,
    ) -> Result<(), Error> {
        self.resuming = None;
        res.map_err(join_error)
            .and_then(|r| r)
            .inspect_err(|_| self.finish())
    }

    /// The same reader asking for `chunk` bytes per read instead of the
    /// size negotiated with the server, within 4 KiB and the most one read
    /// request can ask for ([`RemoteReader::MAX_CHUNK`], or over SMB 2/3
    /// the server's MaxReadSize). A server may answer with less; the
    /// reader then asks for no more than it sent (see
    /// [`RemoteReader::chunk`]).
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        let max = if self.smb2 {
            self.read_size
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
            // Both waits below keep what they wait for in `self` until its
            // result is taken: a caller that drops this future loses
            // nothing.
            if let Some(r) = &mut self.resuming {
                let res = r.await;
                self.resumed(res)?;
            }
            if let Err(e) = self.fill() {
                self.finish();
                return Err(e);
            }
            let Some(front) = self.inflight.front_mut() else {
                self.done = true;
                return Ok(None);
            };
            let res = (&mut front.task).await;
            let read = (front.at, front.len, front.epoch);
            self.inflight.pop_front();
            match self.accept(read, res)? {
                Step::Data(b) => return Ok(Some(b)),
                Step::End | Step::Again => {}
            }
        }
    }
}

impl Drop for RemoteReader {
    fn drop(&mut self) {
        for r in self.inflight.drain(..) {
            r.task.abort();
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
            if let Some(r) = &mut this.resuming {
                let res = match Pin::new(r).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                };
                if let Err(e) = this.resumed(res) {
                    return Poll::Ready(Err(std::io::Error::other(e)));
                }
            }
            if let Err(e) = this.fill() {
                this.finish();
                return Poll::Ready(Err(std::io::Error::other(e)));
            }
            let Some(front) = this.inflight.front_mut() else {
                this.done = true;
                return Poll::Ready(Ok(()));
            };
            let res = match Pin::new(&mut front.task).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            let read = (front.at, front.len, front.epoch);
            this.inflight.pop_front();
            match this.accept(read, res) {
                Ok(Step::Data(b)) => this.current = b,
                Ok(Step::End | Step::Again) => {}
                Err(e) => return Poll::Ready(Err(std::io::Error::other(e))),
            }
        }
    }
}

/// How [`crate::Connection::open`] opens a file, as
/// [`std::fs::OpenOptions`] does it: what the handle may do and whether the
/// file is created or truncated. Others may read, write and delete the
/// file meanwhile unless [`OpenOptions::share`] says otherwise.
///
/// ```
/// use smbkit::OpenOptions;
///
/// // Create or truncate, for writing.
/// let mut o = OpenOptions::new();
/// o.write(true).create(true).truncate(true);
/// // Add to the end of a log, creating it if needed.
/// let mut log = OpenOptions::new();
/// log.append(true).create(true);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    create_new: bool,
    truncate: bool,
    share: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Nothing asked for yet (set at least one of read, write, append).
    pub fn new() -> Self {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            create: false,
            create_new: false,
            truncate: false,
            share: smbkit_proto::smb2::create::share_access::ALL,
        }
    }

    /// Reads allowed.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Writes allowed.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// Writes allowed, and [`RemoteFile::append`] writes at the end.
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }

    /// Creates the file if it does not exist (needs write or append).
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// Creates the file, failing with STATUS_OBJECT_NAME_COLLISION if it
    /// exists (needs write or append; `create` and `truncate` are then
    /// ignored).
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }

    /// Cuts an existing file to 0 bytes (needs write).
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    /// What others may do with the file while it is open: FILE_SHARE_*
    /// bits ([`smbkit_proto::smb2::create::share_access`]; all by default,
    /// 0 for none).
    pub fn share(&mut self, share_access: u32) -> &mut Self {
        self.share = share_access;
        self
    }

    /// The open these options ask for, or why they make no sense.
    pub(crate) fn spec(&self) -> Result<OpenSpec, Error> {
        use smbkit_proto::smb2::create::create_disposition as d;
        let writes = self.write || self.append;
        if !self.read && !writes {
            return Err(InvalidArgument::OpenOptions(OpenOptionsError::NoAccess).into());
        }
        if (self.create || self.create_new) && !writes {
            return Err(InvalidArgument::OpenOptions(OpenOptionsError::CreateWithoutWrite).into());
        }
        if self.truncate && !self.write && !self.create_new {
            return Err(
                InvalidArgument::OpenOptions(OpenOptionsError::TruncateWithoutWrite).into(),
            );
        }
        if self.share & !smbkit_proto::smb2::create::share_access::ALL != 0 {
            return Err(
                InvalidArgument::OpenOptions(OpenOptionsError::ShareAccess(self.share)).into(),
            );
        }
        let disposition = match (self.create_new, self.create, self.truncate) {
            (true, _, _) => d::CREATE,
            (false, true, true) => d::OVERWRITE_IF,
            (false, true, false) => d::OPEN_IF,
            (false, false, true) => d::OVERWRITE,
            (false, false, false) => d::OPEN,
        };
        let mut access = access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE;
        if self.read {
            access |= access_mask::FILE_READ_DATA;
        }
        if self.write {
            access |= access_mask::FILE_WRITE_DATA | access_mask::FILE_WRITE_ATTRIBUTES;
        }
        if self.append {
            access |= access_mask::FILE_APPEND_DATA | access_mask::FILE_WRITE_ATTRIBUTES;
        }
        let mut spec = OpenSpec::new(access, disposition, create_options::NON_DIRECTORY_FILE);
        spec.share = self.share;
        Ok(spec)
    }

    pub(crate) fn writes(&self) -> bool {
        self.write || self.append
    }
}

/// Opens `path` with `options`.
pub(crate) async fn open_with(
    ctx: &Ctx,
    share: &str,
    path: &str,
    options: &OpenOptions,
) -> Result<RemoteFile, Error> {
    let spec = options.spec()?;
    super::timed(ctx, |deadline| async move {
        let path = smb_path(path)?;
        if path.is_empty() {
            return Err(InvalidArgument::NoName { operation: "open" }.into());
        }
        let f = open_resumable(ctx, share, &path, spec, options.writes(), "open", deadline).await?;
        Ok(RemoteFile::new(ctx.clone(), share, &path, f))
    })
    .await
}

impl Handle {
    /// Runs `op` on the handle in use, and again on the handle taken back
    /// after a reconnect.
    async fn with<T, F, Fut>(&self, operation: &'static str, mut op: F) -> Result<T, Error>
    where
        F: FnMut(InUse) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        loop {
            let now = self.current()?;
            let epoch = now.epoch;
            match op(now).await {
                Err(e) => self.resume(epoch, e, operation).await?,
                r => return r,
            }
        }
    }
}

impl RemoteFile {
    /// Writes all of `data` at `offset` (several WRITEs in flight for a
    /// large one). The file must have been opened for writing.
    pub async fn write_at(&self, offset: u64, data: &[u8]) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        let limit = self.handle.ctx.op_limit();
        let chunk = self.handle.current()?.family.write_size();
        let mut reader = data;
        let first = fill_into(&mut reader, chunk, None).await?.freeze();
        write_all(&self.handle, &mut reader, first, offset, chunk, limit)
            .await
            .map(|_| ())
            .map_err(|e| with_limit(e, limit))
    }

    /// Writes all of `data` at the end of the file as it is now, and
    /// returns where it was written.
    pub async fn append(&self, data: &[u8]) -> Result<u64, Error> {
        let at = self.metadata().await?.file_size;
        self.write_at(at, data).await?;
        Ok(at)
    }

    /// Cuts the file to `len` bytes, or extends it with zeros.
    pub async fn set_len(&self, len: u64) -> Result<(), Error> {
        let limit = self.handle.ctx.op_limit();
        let t = &self.handle.target;
        self.handle
            .with("setting the size", |now| async move {
                now.family
                    .set_end_of_file(now.file, len, &t.share, &t.path, Instant::now() + limit)
                    .await
            })
            .await
            .map_err(|e| with_limit(e, limit))
    }

    /// Asks the server to write what it caches of the file to storage.
    pub async fn flush(&self) -> Result<(), Error> {
        let limit = self.handle.ctx.op_limit();
        let t = &self.handle.target;
        self.handle
            .with("flushing", |now| async move {
                now.family
                    .flush(now.file, &t.share, &t.path, Instant::now() + limit)
                    .await
            })
            .await
            .map_err(|e| with_limit(e, limit))
    }

    /// What the file is now (size, times, attributes), asked of the server.
    pub async fn metadata(&self) -> Result<crate::types::SharedFile, Error> {
        let limit = self.handle.ctx.op_limit();
        let t = &self.handle.target;
        let info = self
            .handle
            .with("querying", |now| async move {
                now.family
                    .query_file(now.file, &t.share, &t.path, Instant::now() + limit)
                    .await
            })
            .await
            .map_err(|e| with_limit(e, limit))?;
        Ok(crate::family::shared_file(&t.path, &info))
    }
}
