//! Copying files: on the server itself, or streamed through the client.
//!
//! A server-side copy (MS-SMB2 §3.2.4.20.1, §3.2.4.20.2) opens the source
//! for reading and asks for its resume key (FSCTL_SRV_REQUEST_RESUME_KEY,
//! §3.3.5.15.5), opens the destination for writing, replacing what it held,
//! sets its size, and sends FSCTL_SRV_COPYCHUNK_WRITE requests naming the
//! source by its key (§3.3.5.15.6): each a list of ranges, within the
//! server's limits (by default those of §3.3.3: chunks of 1 MiB, 16 MiB
//! per request), several in flight at once. The data never crosses the
//! network. A request beyond the server's limits is refused with
//! STATUS_INVALID_PARAMETER and the limits (§2.2.32.1); the copy takes them
//! once and sends what was refused again. SMB1 carries the same FSCTLs in
//! NT_TRANSACT_IOCTL (MS-SMB §2.2.7.2; FSCTL_SRV_COPYCHUNK there, which
//! needs read access to the destination too), through the same family
//! primitive; a server that does not know them (Samba over SMB1) refuses
//! the resume key, before the destination is touched, and the copy fails
//! with [`Unsupported::ServerSideCopy`].
//!
//! The server ties the key to the session that asked for it: both files
//! must be open over the same connection. Between two connections (or
//! servers), or where the server cannot copy by itself, the copy is
//! streamed: the source's reader feeds the destination's store, each with
//! its requests in flight.
//!
//! Like the transfers, the time limit applies to each request, not to the
//! whole copy. A connection lost during a server-side copy fails it with
//! [`Error::NotConnected`]; when the session reconnects, the copy runs
//! again whole on the new connection (it replaces the destination, so
//! running it twice gives the same file).

use std::collections::VecDeque;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use smbkit_proto::smb2::copychunk::{
    Chunk, CopychunkCopy, CopychunkLimits, CopychunkResponse, ResumeKeyResponse, RESUME_KEY_LEN,
};
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options, share_access};
use smbkit_proto::smb2::ioctl::ctl_code;
use smbkit_proto::NtStatus;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::names::smb_path;
use super::{with_limit, Ctx, MAX_REPEATS};
use crate::error::{
    display, BadAnswer, Error, FailureDetail, InvalidArgument, ProtocolError, Unsupported,
};
use crate::family::{Family, FileRef, FsctlAnswer, OpenFile, OpenSpec};

/// FSCTL_SRV_COPYCHUNK_WRITE requests of one copy in flight at once.
const WINDOW: usize = 4;

/// The chunks of the first requests, unless tuned: 16 chunks of 1 MiB,
/// the 16 MiB of MS-SMB2 §3.3.3's ServerSideCopyMaxDataSize.
const FIRST_CHUNKS: u32 = 16;

/// How a copy was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyMethod {
    /// By the server itself (FSCTL_SRV_COPYCHUNK_WRITE): the data did not
    /// cross the network.
    ServerSide,
    /// Read from the source and written to the destination through this
    /// client.
    Streamed,
}

/// What a copy did: the bytes copied, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Copied {
    /// The bytes copied: the size of the source.
    pub bytes: u64,
    /// Server-side or streamed.
    pub method: CopyMethod,
}

/// Reports the bytes copied so far; called from the copy's own task.
pub(crate) type Progress<'a> = &'a mut (dyn FnMut(u64) + Send);

/// The source and destination paths of a copy, normalised and checked.
fn names(
    src_share: &str,
    src_path: &str,
    dst_share: &str,
    dst_path: &str,
    same_session: bool,
) -> Result<(String, String), Error> {
    let src = smb_path(src_path)?;
    let dst = smb_path(dst_path)?;
    if src.is_empty() || dst.is_empty() {
        return Err(InvalidArgument::NoName { operation: "copy" }.into());
    }
    // Names are compared as servers usually do, without case; a file
    // reached under two names is caught by the share modes instead (the
    // source is open without FILE_SHARE_WRITE when the destination is
    // opened).
    if same_session
        && src_share.eq_ignore_ascii_case(dst_share)
        && src.to_lowercase() == dst.to_lowercase()
    {
        return Err(InvalidArgument::CopyOntoItself {
            path: display(src_share, &src),
        }
        .into());
    }
    Ok((src, dst))
}

/// How the source is opened: to read its data, sharing it with readers
/// (and deleters) only, so that nothing writes it during the copy and
/// that the destination, should it be the same file under another name,
/// cannot be opened for writing (STATUS_SHARING_VIOLATION) and emptied.
fn source_spec() -> OpenSpec {
    OpenSpec {
        share: share_access::READ | share_access::DELETE,
        ..OpenSpec::new(
            access_mask::FILE_READ_DATA
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            create_options::NON_DIRECTORY_FILE,
        )
    }
}

/// The FSCTL that copies: FSCTL_SRV_COPYCHUNK_WRITE over SMB 2/3, which
/// needs only write access to the destination (MS-SMB2 §3.3.5.15.6:
/// FILE_WRITE_DATA or FILE_APPEND_DATA); over SMB1, FSCTL_SRV_COPYCHUNK,
/// the only one MS-SMB §2.2.7.2 defines, which needs FILE_READ_DATA on the
/// destination as well.
#[derive(Debug, Clone, Copy)]
struct CopyFsctl {
    code: u32,
    name: &'static str,
    read_destination: bool,
}

impl CopyFsctl {
    fn of(family: &Family) -> CopyFsctl {
        if family.is_smb2() {
            CopyFsctl {
                code: ctl_code::FSCTL_SRV_COPYCHUNK_WRITE,
                name: "FSCTL_SRV_COPYCHUNK_WRITE",
                read_destination: false,
            }
        } else {
            CopyFsctl {
                code: ctl_code::FSCTL_SRV_COPYCHUNK,
                name: "FSCTL_SRV_COPYCHUNK",
                read_destination: true,
            }
        }
    }

    /// How the destination is opened: created, or emptied when it exists
    /// (as `store_file` does), with the access the FSCTL needs.
    fn destination_spec(&self) -> OpenSpec {
        let read = if self.read_destination {
            access_mask::FILE_READ_DATA
        } else {
            0
        };
        OpenSpec::new(
            read | access_mask::FILE_WRITE_DATA
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::FILE_WRITE_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OVERWRITE_IF,
            create_options::NON_DIRECTORY_FILE,
        )
    }
}

/// The limits the first FSCTL_SRV_COPYCHUNK_WRITE requests keep to.
fn first_limits(ctx: &Ctx) -> CopychunkLimits {
    let t = &ctx.session.factory.tuning;
    let size = t
        .copy_chunk_size
        .unwrap_or(CopychunkLimits::DEFAULT.max_chunk_size)
        .max(1);
    let chunks = t.copy_chunks.unwrap_or(FIRST_CHUNKS).max(1);
    CopychunkLimits {
        max_chunks: chunks,
        max_chunk_size: size,
        max_total: size.saturating_mul(chunks),
    }
}

/// A failed step of a copy, on `\share\path`.
fn step_failure(share: &str, path: &str, status: NtStatus, step: &'static str) -> Error {
    Error::OperationFailure {
        operation: "copy",
        path: display(share, path),
        status,
        detail: Some(Box::new(FailureDetail::Step(step))),
    }
}

/// Names the operation of a server's refusal "copy".
fn as_copy(e: Error) -> Error {
    match e {
        Error::OperationFailure {
            path,
            status,
            detail,
            ..
        } => Error::OperationFailure {
            operation: "copy",
            path,
            status,
            detail,
        },
        e => e,
    }
}

/// A server-side copy of `src_path` on `src_share` to `dst_path` on
/// `dst_share`, over `ctx`'s connection; the bytes copied.
pub(crate) async fn server_side(
    ctx: &Ctx,
    src_share: &str,
    src_path: &str,
    dst_share: &str,
    dst_path: &str,
    progress: Progress<'_>,
) -> Result<u64, Error> {
    let (src, dst) = names(src_share, src_path, dst_share, dst_path, true)?;
    let limit = ctx.op_limit();
    let first = first_limits(ctx);
    let mut tries = 0;
    loop {
        let run = Run {
            ctx,
            src_share,
            src: &src,
            dst_share,
            dst: &dst,
            limit,
        };
        match run.copy(first, &mut *progress).await {
            Err(e) if tries < MAX_REPEATS && ctx.session.is_lost(&e) => {
                tries += 1;
                ctx.session.recover().await?;
            }
            r => return r.map_err(|e| with_limit(e, limit)),
        }
    }
}

/// One run of a server-side copy.
struct Run<'a> {
    ctx: &'a Ctx,
    src_share: &'a str,
    src: &'a str,
    dst_share: &'a str,
    dst: &'a str,
    limit: std::time::Duration,
}

impl Run<'_> {
    async fn copy(&self, first: CopychunkLimits, progress: Progress<'_>) -> Result<u64, Error> {
        let deadline = Instant::now() + self.limit;
        let src_tree = self.ctx.tree(self.src_share, deadline).await?;
        let dst_tree = self.ctx.tree(self.dst_share, deadline).await?;
        let family = self.ctx.family();
        let source = family
            .open(
                src_tree,
                self.src_share,
                self.src,
                source_spec(),
                "copy",
                deadline,
            )
            .await?;
        let size = source.info().size;
        // Asked before the destination is touched: a server that cannot
        // copy by itself leaves it as it was.
        let key = self.resume_key(&family, &source, deadline).await?;
        let fsctl = CopyFsctl::of(&family);
        let target = family
            .open(
                dst_tree,
                self.dst_share,
                self.dst,
                fsctl.destination_spec(),
                "copy",
                deadline,
            )
            .await?;
        progress(0);
        if size > 0 {
            // Allocated whole at once, rather than grown by each chunk.
            family
                .set_end_of_file(target.file(), size, self.dst_share, self.dst, deadline)
                .await
                .map_err(as_copy)?;
        }
        let copied = self
            .chunks(&family, fsctl, target.file(), key, size, first, progress)
            .await?;
        // On an error above, dropping the guards hands the closes to the
        // connection.
        target.close(Instant::now() + self.limit).await?;
        source.close(Instant::now() + self.limit).await?;
        Ok(copied)
    }

    /// FSCTL_SRV_REQUEST_RESUME_KEY on the source (MS-SMB2 §3.2.4.20.1).
    async fn resume_key(
        &self,
        family: &Family,
        source: &OpenFile,
        deadline: Instant,
    ) -> Result<[u8; RESUME_KEY_LEN], Error> {
        let a = family
            .fsctl(
                source.file(),
                ctl_code::FSCTL_SRV_REQUEST_RESUME_KEY,
                Vec::new(),
                ResumeKeyResponse::MAX_OUTPUT,
                deadline,
            )
            .await?;
        match a.status {
            NtStatus::SUCCESS => Ok(ResumeKeyResponse::decode(&a.output)
                .map_err(|e| ProtocolError::decode("SRV_REQUEST_RESUME_KEY response", e))?
                .resume_key),
            s if unknown_request(s) => Err(Error::Unsupported(Unsupported::ServerSideCopy {
                status: s,
                smb1: !family.is_smb2(),
            })),
            s => Err(step_failure(
                self.src_share,
                self.src,
                s,
                "FSCTL_SRV_REQUEST_RESUME_KEY",
            )),
        }
    }

    /// Sends the FSCTL_SRV_COPYCHUNK_WRITE requests of the whole file, up
    /// to [`WINDOW`] in flight, and checks their answers in order.
    #[allow(clippy::too_many_arguments)]
    async fn chunks(
        &self,
        family: &Family,
        fsctl: CopyFsctl,
        file: FileRef,
        key: [u8; RESUME_KEY_LEN],
        size: u64,
        first: CopychunkLimits,
        progress: Progress<'_>,
    ) -> Result<u64, Error> {
        let mut plan = Plan::new(size, first);
        let mut inflight: VecDeque<(Batch, Task)> = VecDeque::new();
        let mut copied = 0u64;
        loop {
            while inflight.len() < WINDOW {
                let Some(b) = plan.next_batch() else { break };
                let input = CopychunkCopy {
                    source_key: key,
                    chunks: b.chunks.clone(),
                }
                .to_bytes()?;
                let f = family.clone();
                let deadline = Instant::now() + self.limit;
                let task = tokio::spawn(async move {
                    f.fsctl(
                        file,
                        fsctl.code,
                        input,
                        CopychunkResponse::LEN as u32,
                        deadline,
                    )
                    .await
                });
                inflight.push_back((b, Task(task)));
            }
            let Some((b, task)) = inflight.pop_front() else {
                break;
            };
            // Dropping the other tasks on an error withdraws their requests.
            let answer = task.finish().await?;
            let n = plan
                .answer(&b, reply(&answer)?)
                .map_err(|r| self.refused(r, fsctl.name))?;
            if n > 0 {
                copied += n;
                progress(copied);
            }
        }
        if copied != size {
            return Err(ProtocolError::BadAnswer(BadAnswer::WriteCount {
                what: "server-side copy",
                written: copied,
                sent: size,
            })
            .into());
        }
        Ok(copied)
    }

    /// The error of a refused copy request (`what`: its FSCTL).
    fn refused(&self, r: Refusal, what: &'static str) -> Error {
        match r {
            Refusal::Status(s) => step_failure(self.dst_share, self.dst, s, what),
            Refusal::Short { written, sent } => ProtocolError::BadAnswer(BadAnswer::WriteCount {
                what,
                written,
                sent,
            })
            .into(),
            Refusal::BadLimits => ProtocolError::BadAnswer(BadAnswer::Missing {
                what: "SRV_COPYCHUNK_RESPONSE",
                missing: "usable limits (one of them is 0)",
            })
            .into(),
        }
    }
}

/// True for the statuses of a server that does not know an FSCTL
/// (MS-SMB2 §3.3.5.15: STATUS_INVALID_DEVICE_REQUEST; STATUS_NOT_SUPPORTED
/// and STATUS_NOT_IMPLEMENTED from others, and from Samba over SMB1).
fn unknown_request(s: NtStatus) -> bool {
    matches!(
        s,
        NtStatus::NOT_SUPPORTED | NtStatus::INVALID_DEVICE_REQUEST | NtStatus::NOT_IMPLEMENTED
    )
}

/// An FSCTL_SRV_COPYCHUNK_WRITE in flight, withdrawn when dropped.
struct Task(JoinHandle<Result<FsctlAnswer, Error>>);

impl Task {
    async fn finish(mut self) -> Result<FsctlAnswer, Error> {
        (&mut self.0).await.map_err(|e| {
            Error::Io(std::io::Error::other(format!(
                "server-side copy task failed: {e}"
            )))
        })?
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What an answer to FSCTL_SRV_COPYCHUNK_WRITE says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Success: the chunks and bytes written.
    Written { chunks: u32, total: u32 },
    /// STATUS_INVALID_PARAMETER with the server's limits.
    Limits(CopychunkLimits),
    /// Any other failure.
    Failed(NtStatus),
}

/// Reads an answer to FSCTL_SRV_COPYCHUNK_WRITE.
fn reply(a: &FsctlAnswer) -> Result<Reply, Error> {
    let decode = |output: &[u8]| {
        CopychunkResponse::decode(output)
            .map_err(|e| Error::from(ProtocolError::decode("SRV_COPYCHUNK_RESPONSE", e)))
    };
    Ok(match a.status {
        NtStatus::SUCCESS => {
            let r = decode(&a.output)?;
            Reply::Written {
                chunks: r.chunks_written,
                total: r.total_bytes_written,
            }
        }
        NtStatus::INVALID_PARAMETER if a.output.len() == CopychunkResponse::LEN => {
            Reply::Limits(decode(&a.output)?.limits())
        }
        s => Reply::Failed(s),
    })
}

/// Why the plan cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The server refused a request with this status.
    Status(NtStatus),
    /// The server wrote another amount than was asked.
    Short { written: u64, sent: u64 },
    /// The server's limits allow nothing.
    BadLimits,
}

/// One request's chunks: the range they cover, and the limits they were
/// made under.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Batch {
    range: Range<u64>,
    chunks: Vec<Chunk>,
    epoch: u32,
}

/// What is left to copy, and how: the ranges not yet asked for (or asked
/// for and refused), the limits requests keep to, and whether the
/// server's own limits have been taken.
#[derive(Debug)]
struct Plan {
    todo: VecDeque<Range<u64>>,
    limits: CopychunkLimits,
    /// Counts the changes of limits: a refusal of a request made under
    /// older limits than the current ones only sends its range again.
    epoch: u32,
    adopted: bool,
}

impl Plan {
    fn new(size: u64, limits: CopychunkLimits) -> Plan {
        Plan {
            todo: std::iter::once(0..size).filter(|r| !r.is_empty()).collect(),
            limits,
            epoch: 0,
            adopted: false,
        }
    }

    /// The next request's chunks, as many as the limits allow, from the
    /// first range still to copy; `None` when every range has been asked
    /// for.
    fn next_batch(&mut self) -> Option<Batch> {
        let range = self.todo.pop_front()?;
        let chunks = self.limits.chunks_from(range.start, range.end);
        let covered: u64 = chunks.iter().map(|c| u64::from(c.length)).sum();
        if covered == 0 {
            self.todo.push_front(range);
            return None;
        }
        let end = range.start + covered;
        if end < range.end {
            self.todo.push_front(end..range.end);
        }
        Some(Batch {
            range: range.start..end,
            chunks,
            epoch: self.epoch,
        })
    }

    /// Puts `range` back among the ranges still to copy, in order.
    fn again(&mut self, range: Range<u64>) {
        let at = self
            .todo
            .iter()
            .position(|r| r.start > range.start)
            .unwrap_or(self.todo.len());
        self.todo.insert(at, range);
    }

    /// Takes the answer to `b`: the bytes it copied (0 when it is to be
    /// sent again under the server's limits), or why the copy cannot go on.
    fn answer(&mut self, b: &Batch, r: Reply) -> Result<u64, Refusal> {
        let sent = b.range.end - b.range.start;
        match r {
            Reply::Written { chunks, total } => {
                if chunks as usize == b.chunks.len() && u64::from(total) == sent {
                    Ok(sent)
                } else {
                    Err(Refusal::Short {
                        written: u64::from(total),
                        sent,
                    })
                }
            }
            Reply::Limits(server) => {
                if !server.is_usable() {
                    return Err(Refusal::BadLimits);
                }
                if b.epoch < self.epoch {
                    // Sent before the limits were taken.
                    self.again(b.range.clone());
                    return Ok(0);
                }
                if self.adopted || self.limits.within(&server) {
                    // Within the limits it states, or refused again after
                    // taking them: the refusal is not about the limits.
                    return Err(Refusal::Status(NtStatus::INVALID_PARAMETER));
                }
                tracing::debug!(?server, ours = ?self.limits, "taking the server's copychunk limits");
                self.limits = self.limits.min(&server);
                self.epoch += 1;
                self.adopted = true;
                self.again(b.range.clone());
                Ok(0)
            }
            Reply::Failed(s) => Err(Refusal::Status(s)),
        }
    }
}

/// `src_path` on `src_share` of `from` copied to `dst_path` on
/// `dst_share` of `to`: by the server when both are the same session and
/// the server copies by itself, streamed otherwise.
pub(crate) async fn copy_to(
    from: &Ctx,
    src_share: &str,
    src_path: &str,
    to: &Ctx,
    dst_share: &str,
    dst_path: &str,
    progress: Progress<'_>,
) -> Result<Copied, Error> {
    if std::sync::Arc::ptr_eq(&from.session, &to.session) {
        match server_side(
            from,
            src_share,
            src_path,
            dst_share,
            dst_path,
            &mut *progress,
        )
        .await
        {
            Ok(bytes) => {
                return Ok(Copied {
                    bytes,
                    method: CopyMethod::ServerSide,
                })
            }
            Err(Error::Unsupported(Unsupported::ServerSideCopy { status, .. })) => {
                tracing::debug!(%status, "no server-side copy; streaming");
            }
            Err(e) => return Err(e),
        }
    }
    let bytes = streamed(from, src_share, src_path, to, dst_share, dst_path, progress).await?;
    Ok(Copied {
        bytes,
        method: CopyMethod::Streamed,
    })
}

/// A reader that reports how many bytes it has yielded.
struct Counted<'a, R> {
    inner: R,
    done: u64,
    progress: Progress<'a>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<'_, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        if n > 0 {
            this.done += n;
            (this.progress)(this.done);
        }
        r
    }
}

/// A copy streamed through the client: `src_path` on `src_share` of
/// `from` read and stored as `dst_path` on `dst_share` of `to` (created,
/// or emptied first); the bytes copied.
pub(crate) async fn streamed(
    from: &Ctx,
    src_share: &str,
    src_path: &str,
    to: &Ctx,
    dst_share: &str,
    dst_path: &str,
    progress: Progress<'_>,
) -> Result<u64, Error> {
    let same = std::sync::Arc::ptr_eq(&from.session, &to.session);
    let (src, dst) = names(src_share, src_path, dst_share, dst_path, same)?;
    let limit = from.op_limit();
    let deadline = Instant::now() + limit;
    let f = super::transfer::open_resumable(
        from,
        src_share,
        &src,
        source_spec(),
        false,
        "copy",
        deadline,
    )
    .await
    .map_err(|e| with_limit(e, limit))?;
    let file = super::transfer::RemoteFile::new(from.clone(), src_share, &src, f);
    progress(0);
    let mut reader = Counted {
        inner: file.reader(0, None),
        done: 0,
        progress,
    };
    let n = super::transfer::store(
        to,
        dst_share,
        &dst,
        &mut reader,
        0,
        create_disposition::OVERWRITE_IF,
    )
    .await
    .map_err(as_copy)?;
    drop(reader);
    file.close().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn limits(chunks: u32, size: u32, total: u32) -> CopychunkLimits {
        CopychunkLimits {
            max_chunks: chunks,
            max_chunk_size: size,
            max_total: total,
        }
    }

    /// Runs `plan` against a server of limits `server` that answers each
    /// request in the order sent, `window` in flight; the requests it saw,
    /// or the refusal.
    fn simulate(
        plan: &mut Plan,
        server: CopychunkLimits,
        window: usize,
    ) -> Result<Vec<Batch>, Refusal> {
        let mut inflight: VecDeque<Batch> = VecDeque::new();
        let mut seen = Vec::new();
        let mut copied = Vec::new();
        loop {
            while inflight.len() < window {
                let Some(b) = plan.next_batch() else { break };
                inflight.push_back(b);
            }
            let Some(b) = inflight.pop_front() else { break };
            let total: u64 = b.chunks.iter().map(|c| u64::from(c.length)).sum();
            let within = b.chunks.len() <= server.max_chunks as usize
                && b.chunks.iter().all(|c| c.length <= server.max_chunk_size)
                && total <= u64::from(server.max_total);
            let r = if within {
                copied.push(b.range.clone());
                Reply::Written {
                    chunks: b.chunks.len() as u32,
                    total: total as u32,
                }
            } else {
                Reply::Limits(server)
            };
            plan.answer(&b, r)?;
            seen.push(b);
        }
        // Every byte copied exactly once.
        copied.sort_by_key(|r| r.start);
        for w in copied.windows(2) {
            assert_eq!(w[0].end, w[1].start, "{copied:?}");
        }
        Ok(seen)
    }

    fn covered(seen: &[Batch]) -> u64 {
        seen.iter()
            .flat_map(|b| &b.chunks)
            .map(|c| u64::from(c.length))
            .sum()
    }

    #[test]
    fn requests_keep_to_the_limits() {
        let l = limits(16, MIB as u32, 16 * MIB as u32);
        for size in [
            1,
            MIB - 1,
            MIB,
            MIB + 1,
            16 * MIB,
            16 * MIB + 1,
            100 * MIB + 12345,
        ] {
            let mut plan = Plan::new(size, l);
            let seen = simulate(&mut plan, CopychunkLimits::DEFAULT, 4).unwrap();
            assert_eq!(seen.len() as u64, size.div_ceil(16 * MIB), "{size}");
            // Only what the plan sent, and all of it: every chunk
            // within the limits, the offsets the same on both sides.
            let mut at = 0;
            for c in seen.iter().flat_map(|b| &b.chunks) {
                assert_eq!((c.source_offset, c.target_offset), (at, at));
                assert!(c.length > 0 && u64::from(c.length) <= MIB);
                at += u64::from(c.length);
            }
            assert_eq!(at, size);
            assert!(plan.todo.is_empty());
        }
        // Nothing to copy: no request.
        let mut plan = Plan::new(0, l);
        assert!(plan.next_batch().is_none());
    }

    #[test]
    fn the_server_limits_are_taken_once_and_the_refused_sent_again() {
        // 32 chunks of 2 MiB asked, a server of 16 chunks of 1 MiB and
        // 16 MiB a request: every request of the first window is refused,
        // and sent again under the server's limits.
        let mut plan = Plan::new(200 * MIB + 3, limits(32, 2 * MIB as u32, 64 * MIB as u32));
        let server = limits(16, MIB as u32, 16 * MIB as u32);
        let seen = simulate(&mut plan, server, 4).unwrap();
        assert!(plan.adopted);
        assert_eq!(plan.limits, server);
        let refused = seen.iter().filter(|b| b.epoch == 0).count();
        assert_eq!(refused, 4);
        let after: Vec<_> = seen.iter().filter(|b| b.epoch == 1).collect();
        assert_eq!(after.len() as u64, (200 * MIB + 3).div_ceil(16 * MIB));
        assert!(after.iter().all(|b| b.chunks.len() <= 16));
        assert_eq!(covered(&seen) - covered(&seen[..refused]), 200 * MIB + 3);
        // Looser limits of the server are not taken: ours stay.
        let mut plan = Plan::new(20 * MIB, limits(300, 4 * MIB as u32, 64 * MIB as u32));
        simulate(&mut plan, limits(256, MIB as u32, 128 * MIB as u32), 2).unwrap();
        assert_eq!(plan.limits, limits(256, MIB as u32, 64 * MIB as u32));
    }

    #[test]
    fn refusals_that_are_not_about_limits_fail() {
        let l = limits(16, MIB as u32, 16 * MIB as u32);
        // Refused while within the limits the server states.
        let mut plan = Plan::new(10 * MIB, l);
        let b = plan.next_batch().unwrap();
        assert_eq!(
            plan.answer(&b, Reply::Limits(CopychunkLimits::DEFAULT)),
            Err(Refusal::Status(NtStatus::INVALID_PARAMETER))
        );
        // Refused again after taking the limits.
        let mut plan = Plan::new(10 * MIB, limits(16, 2 * MIB as u32, 32 * MIB as u32));
        let b = plan.next_batch().unwrap();
        assert_eq!(plan.answer(&b, Reply::Limits(l)), Ok(0));
        let b = plan.next_batch().unwrap();
        assert_eq!(b.epoch, 1);
        assert_eq!(
            plan.answer(&b, Reply::Limits(limits(8, MIB as u32, 8 * MIB as u32))),
            Err(Refusal::Status(NtStatus::INVALID_PARAMETER))
        );
        // Limits of 0.
        let mut plan = Plan::new(10 * MIB, l);
        let b = plan.next_batch().unwrap();
        assert_eq!(
            plan.answer(&b, Reply::Limits(limits(0, 0, 0))),
            Err(Refusal::BadLimits)
        );
        // Other statuses, and writes of another size.
        let mut plan = Plan::new(10 * MIB, l);
        let b = plan.next_batch().unwrap();
        assert_eq!(
            plan.answer(&b, Reply::Failed(NtStatus::ACCESS_DENIED)),
            Err(Refusal::Status(NtStatus::ACCESS_DENIED))
        );
        let mut plan = Plan::new(3 * MIB, l);
        let b = plan.next_batch().unwrap();
        assert_eq!(
            plan.answer(
                &b,
                Reply::Written {
                    chunks: 2,
                    total: 2 * MIB as u32
                }
            ),
            Err(Refusal::Short {
                written: 2 * MIB,
                sent: 3 * MIB
            })
        );
    }

    #[test]
    fn ranges_sent_again_keep_their_order() {
        let mut plan = Plan::new(100, limits(1, 10, 10));
        let a = plan.next_batch().unwrap();
        let b = plan.next_batch().unwrap();
        assert_eq!((a.range.clone(), b.range.clone()), (0..10, 10..20));
        plan.again(b.range);
        plan.again(a.range);
        assert_eq!(plan.todo, [0..10, 10..20, 20..100]);
    }

    #[test]
    fn copy_names_are_checked() {
        assert!(names("s", "a.txt", "s", "b.txt", true).is_ok());
        for (src, dst) in [("", "b"), ("a", "/"), ("/", "")] {
            assert!(matches!(
                names("s", src, "s", dst, true),
                Err(Error::InvalidArgument(InvalidArgument::NoName {
                    operation: "copy"
                }))
            ));
        }
        let e = names("Share", "/Dir/A.txt", "share", "dir\\a.TXT", true).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument(InvalidArgument::CopyOntoItself { path }) if path == "\\Share\\Dir\\A.txt"),
            "{e:?}"
        );
        // Other shares, or other connections: not known to be the same.
        assert!(names("s", "a", "t", "a", true).is_ok());
        assert!(names("s", "a", "s", "a", false).is_ok());
    }
}
