//! [`RemoteFile`] as a cursor over the file: [`AsyncRead`], [`AsyncWrite`]
//! and [`AsyncSeek`], as `tokio::fs::File` offers them, with several
//! requests in flight behind the traits.
//!
//! * Reads go through a [`RemoteReader`] started at the position (several
//!   READs ahead); a seek or a write ends it.
//! * Writes are gathered into chunks of the negotiated WRITE size; each
//!   full chunk goes out at once as a WRITE of its own, up to [`WINDOW`]
//!   in flight, so that sequential writing runs at the speed of
//!   `store_file`. `flush` (and `shutdown`) sends what is gathered and
//!   waits until every WRITE is answered; a read waits for the writes
//!   before it, so it sees them.
//! * Every WRITE is positioned: seeking while writes are in flight is
//!   fine. A WRITE lost with the connection is sent again on the durable
//!   handle taken back after a reconnect.

use std::io::SeekFrom;

use tokio::io::AsyncSeek;

use super::*;

/// Where a [`RemoteFile`] stands, and what it has in flight.
#[derive(Default)]
pub(super) struct Cursor {
    /// The position of the next read or write.
    pos: u64,
    /// The reader of the last reads, if it is still at `pos`.
    reader: Option<RemoteReader>,
    /// Bytes written and not sent yet, and where they go.
    gathered: BytesMut,
    gathered_at: u64,
    /// WRITEs sent and not answered yet, oldest first; each gives its
    /// buffer back when answered.
    writes: VecDeque<JoinHandle<Result<Option<BytesMut>, Error>>>,
    /// Buffers of answered WRITEs, for the next chunks (fresh memory would
    /// be faulted in for every chunk).
    spare: Vec<BytesMut>,
    /// The WRITE size, once known.
    chunk: usize,
    /// The end of what has been written, to read past the size the file
    /// had when it was opened without probing.
    written_end: u64,
    /// A seek from the end waiting for the file's size.
    seek_end: Option<JoinHandle<Result<u64, Error>>>,
    seek_end_delta: i64,
    /// A seek started and not completed.
    seeking: bool,
}

impl Drop for Cursor {
    fn drop(&mut self) {
        if let Some(r) = &self.seek_end {
            r.abort();
        }
    }
}

fn io_error(e: Error) -> std::io::Error {
    match e {
        Error::Io(e) => e,
        e => std::io::Error::other(e),
    }
}

/// One WRITE of `data` at `at`, sent again on the handle taken back after
/// a reconnect; the buffer comes back once nothing else holds it.
async fn write_chunk(
    handle: Arc<Handle>,
    at: u64,
    data: Bytes,
    limit: Duration,
) -> Result<Option<BytesMut>, Error> {
    let target = handle.target.clone();
    handle
        .with("writing", |now| {
            let (data, t) = (data.clone(), target.clone());
            async move {
                let sent = now
                    .family
                    .start_write(now.file, at, data, Instant::now() + limit)
                    .await?;
                sent.finish(now.file, &t.share, &t.path, limit)
                    .await
                    .map(|_| ())
            }
        })
        .await
        .map_err(|e| with_limit(e, limit))?;
    Ok(data.try_into_mut().ok())
}

impl RemoteFile {
    /// The position of the next read or write through the traits.
    pub fn position(&self) -> u64 {
        self.cursor.pos
    }

    /// Sends what has been gathered as a WRITE of its own.
    fn send_gathered(&mut self) {
        if self.cursor.gathered.is_empty() {
            return;
        }
        let next = self.cursor.spare.pop().unwrap_or_default();
        let data = std::mem::replace(&mut self.cursor.gathered, next).freeze();
        let at = self.cursor.gathered_at;
        let limit = self.handle.ctx.op_limit();
        self.cursor.writes.push_back(tokio::spawn(write_chunk(
            self.handle.clone(),
            at,
            data,
            limit,
        )));
    }

    /// Polls the WRITEs in flight until at most `keep` are left.
    fn poll_writes(&mut self, cx: &mut Context<'_>, keep: usize) -> Poll<Result<(), Error>> {
        while self.cursor.writes.len() > keep {
            let Some(front) = self.cursor.writes.front_mut() else {
                break;
            };
            let res = match Pin::new(front).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            self.cursor.writes.pop_front();
            if let Some(mut buf) = res.map_err(join_error).and_then(|r| r)? {
                if self.cursor.spare.len() < 2 {
                    buf.clear();
                    self.cursor.spare.push(buf);
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The WRITE size.
    fn write_chunk_size(&mut self) -> Result<usize, Error> {
        if self.cursor.chunk == 0 {
            self.cursor.chunk = self.handle.current()?.family.write_size();
        }
        Ok(self.cursor.chunk)
    }

    /// Waits until everything written so far is answered (for
    /// [`RemoteFile::close`]).
    pub(super) async fn flush_writes(&mut self) -> Result<(), Error> {
        self.send_gathered();
        std::future::poll_fn(|cx| self.poll_writes(cx, 0)).await
    }
}

impl Drop for RemoteFile {
    /// What was written through [`AsyncWrite`] and not flushed yet is sent
    /// in the background (nobody hears of its outcome: flush or close to
    /// know it).
    fn drop(&mut self) {
        if self.cursor.gathered.is_empty() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        self.send_gathered();
    }
}

impl AsyncWrite for RemoteFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        this.cursor.reader = None;
        let chunk = this.write_chunk_size().map_err(io_error)?;
        if this.cursor.gathered.is_empty() {
            this.cursor.gathered_at = this.cursor.pos;
        } else if this.cursor.gathered_at + this.cursor.gathered.len() as u64 != this.cursor.pos {
            this.send_gathered();
            this.cursor.gathered_at = this.cursor.pos;
        }
        // Room for one more WRITE when this chunk fills up.
        if this.cursor.gathered.len() + buf.len() >= chunk {
            match this.poll_writes(cx, WINDOW - 1) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.map_err(io_error)?,
            }
        }
        if this.cursor.gathered.capacity() < chunk {
            this.cursor
                .gathered
                .reserve(chunk - this.cursor.gathered.len());
        }
        let n = buf.len().min(chunk - this.cursor.gathered.len());
        this.cursor.gathered.extend_from_slice(&buf[..n]);
        this.cursor.pos += n as u64;
        this.cursor.written_end = this.cursor.written_end.max(this.cursor.pos);
        if this.cursor.gathered.len() >= chunk {
            this.send_gathered();
            this.cursor.gathered_at = this.cursor.pos;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.send_gathered();
        this.poll_writes(cx, 0).map_err(io_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncRead for RemoteFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        // Reads see the writes before them.
        if !this.cursor.gathered.is_empty() || !this.cursor.writes.is_empty() {
            this.send_gathered();
            match this.poll_writes(cx, 0) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.map_err(io_error)?,
            }
        }
        if this.cursor.reader.is_none() {
            let mut reader = this.reader(this.cursor.pos, None);
            reader.known_size = reader.known_size.max(this.cursor.written_end);
            this.cursor.reader = Some(reader);
        }
        let Some(reader) = this.cursor.reader.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let before = buf.filled().len();
        let r = Pin::new(reader).poll_read(cx, buf);
        this.cursor.pos += (buf.filled().len() - before) as u64;
        r
    }
}

impl AsyncSeek for RemoteFile {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> std::io::Result<()> {
        let this = &mut *self;
        if this.cursor.seeking {
            return Err(std::io::Error::other(
                "a seek is still in progress: poll_complete it first",
            ));
        }
        let invalid = || {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        };
        // What was gathered goes to where it was written.
        this.send_gathered();
        this.cursor.reader = None;
        match position {
            SeekFrom::Start(n) => this.cursor.pos = n,
            SeekFrom::Current(d) => {
                this.cursor.pos = this.cursor.pos.checked_add_signed(d).ok_or_else(invalid)?
            }
            SeekFrom::End(d) => {
                // The size as the server has it once the writes before
                // are answered.
                let handle = self.handle.clone();
                let writes = std::mem::take(&mut self.cursor.writes);
                let limit = handle.ctx.op_limit();
                self.cursor.seek_end_delta = d;
                self.cursor.seek_end = Some(tokio::spawn(async move {
                    for w in writes {
                        w.await.map_err(join_error).and_then(|r| r)?;
                    }
                    let t = handle.target.clone();
                    let info = handle
                        .with("querying", |now| {
                            let t = t.clone();
                            async move {
                                now.family
                                    .query_file(now.file, &t.share, &t.path, Instant::now() + limit)
                                    .await
                            }
                        })
                        .await?;
                    Ok(info.size)
                }));
            }
        }
        self.cursor.seeking = true;
        Ok(())
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        let this = &mut *self;
        if let Some(task) = this.cursor.seek_end.as_mut() {
            let res = match Pin::new(task).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.cursor.seek_end = None;
            this.cursor.seeking = false;
            let size = res.map_err(join_error).and_then(|r| r).map_err(io_error)?;
            this.cursor.pos = size
                .checked_add_signed(this.cursor.seek_end_delta)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "seek to a negative or overflowing position",
                    )
                })?;
        }
        this.cursor.seeking = false;
        Poll::Ready(Ok(this.cursor.pos))
    }
}
