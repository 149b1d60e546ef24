//! Change notification: a folder watched through one open handle, one
//! request at a time (SMB2 CHANGE_NOTIFY, SMB1 NT_TRANSACT_NOTIFY_CHANGE),
//! as a stream of [`Change`]s.
//!
//! The handle stays open for the life of the [`Watch`]: the server keeps
//! collecting changes on it between two requests (MS-SMB2 §3.3.5.19,
//! MS-FSA §2.1.5.11, MS-CIFS §3.3.5.59.4), so nothing is lost while a
//! response travels back and the next request goes out. The next request
//! is sent as soon as one completes, before its changes are handed over; a
//! consumer that is slow to take them lets the server's buffer fill, and
//! the server then says so ([`Change::Overflow`]).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use smbkit_proto::fscc::notify::{filter, FileAction, FileNotifyInformation};
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options};
use tokio::time::Instant;

use super::names::smb_path;
use super::{with_limit, Ctx};
use crate::error::Error;
use crate::family::{Family, FileRef, Notified, NotifySpec, OpenFile, OpenSpec};

/// The output buffer a [`Watch`] asks for unless told otherwise: 64 KiB
/// (lowered to what the server allows).
pub const DEFAULT_WATCH_BUFFER: u32 = 64 * 1024;

/// How long the old half of a rename that ends one answer waits for its
/// new half to start the next one (Samba sends the halves apart when the
/// rename happens between two requests).
const RENAME_GRACE: Duration = Duration::from_millis(500);

/// The kinds of change a [`Watch`] reports: the CompletionFilter of MS-SMB2
/// §2.2.35 (the same bits over SMB1), combined with `|`.
///
/// ```
/// use smbkit::NotifyFilter;
/// let f = NotifyFilter::FILE_NAME | NotifyFilter::SIZE;
/// assert!(f.contains(NotifyFilter::SIZE));
/// assert!(!f.contains(NotifyFilter::DIR_NAME));
/// assert_eq!(f.bits(), 0x9);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotifyFilter(u32);

impl NotifyFilter {
    /// Files created, deleted or renamed (FILE_NOTIFY_CHANGE_FILE_NAME).
    pub const FILE_NAME: NotifyFilter = NotifyFilter(filter::FILE_NAME);
    /// Folders created, deleted or renamed (FILE_NOTIFY_CHANGE_DIR_NAME).
    pub const DIR_NAME: NotifyFilter = NotifyFilter(filter::DIR_NAME);
    /// [`NotifyFilter::FILE_NAME`] and [`NotifyFilter::DIR_NAME`].
    pub const NAMES: NotifyFilter = NotifyFilter(filter::NAME);
    /// Attributes changed (FILE_NOTIFY_CHANGE_ATTRIBUTES).
    pub const ATTRIBUTES: NotifyFilter = NotifyFilter(filter::ATTRIBUTES);
    /// A file's size changed (FILE_NOTIFY_CHANGE_SIZE).
    pub const SIZE: NotifyFilter = NotifyFilter(filter::SIZE);
    /// A file was written: its time of last write changed
    /// (FILE_NOTIFY_CHANGE_LAST_WRITE).
    pub const LAST_WRITE: NotifyFilter = NotifyFilter(filter::LAST_WRITE);
    /// The time of last access changed (FILE_NOTIFY_CHANGE_LAST_ACCESS).
    pub const LAST_ACCESS: NotifyFilter = NotifyFilter(filter::LAST_ACCESS);
    /// The creation time changed (FILE_NOTIFY_CHANGE_CREATION).
    pub const CREATION: NotifyFilter = NotifyFilter(filter::CREATION);
    /// Extended attributes changed (FILE_NOTIFY_CHANGE_EA).
    pub const EA: NotifyFilter = NotifyFilter(filter::EA);
    /// The security descriptor changed (FILE_NOTIFY_CHANGE_SECURITY).
    pub const SECURITY: NotifyFilter = NotifyFilter(filter::SECURITY);
    /// Named streams added, removed or renamed
    /// (FILE_NOTIFY_CHANGE_STREAM_NAME).
    pub const STREAM_NAME: NotifyFilter = NotifyFilter(filter::STREAM_NAME);
    /// A named stream's size changed (FILE_NOTIFY_CHANGE_STREAM_SIZE).
    pub const STREAM_SIZE: NotifyFilter = NotifyFilter(filter::STREAM_SIZE);
    /// A named stream was written (FILE_NOTIFY_CHANGE_STREAM_WRITE).
    pub const STREAM_WRITE: NotifyFilter = NotifyFilter(filter::STREAM_WRITE);
    /// Every kind of change.
    pub const ALL: NotifyFilter = NotifyFilter(filter::ALL);

    /// The filter of these CompletionFilter bits (bits the protocol does
    /// not define are sent as they are; servers ignore them).
    pub const fn from_bits(bits: u32) -> NotifyFilter {
        NotifyFilter(bits)
    }

    /// The CompletionFilter bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every kind of change of `other` is in `self`.
    pub const fn contains(self, other: NotifyFilter) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if no kind of change is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Default for NotifyFilter {
    /// Names of files and folders, attributes, sizes and writes: what makes
    /// the added, removed, renamed and modified of a folder.
    fn default() -> Self {
        NotifyFilter(filter::NAME | filter::ATTRIBUTES | filter::SIZE | filter::LAST_WRITE)
    }
}

impl std::ops::BitOr for NotifyFilter {
    type Output = NotifyFilter;
    fn bitor(self, rhs: NotifyFilter) -> NotifyFilter {
        NotifyFilter(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for NotifyFilter {
    fn bitor_assign(&mut self, rhs: NotifyFilter) {
        self.0 |= rhs.0;
    }
}

impl std::fmt::Debug for NotifyFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(u32, &str); 12] = [
            (filter::FILE_NAME, "FILE_NAME"),
            (filter::DIR_NAME, "DIR_NAME"),
            (filter::ATTRIBUTES, "ATTRIBUTES"),
            (filter::SIZE, "SIZE"),
            (filter::LAST_WRITE, "LAST_WRITE"),
            (filter::LAST_ACCESS, "LAST_ACCESS"),
            (filter::CREATION, "CREATION"),
            (filter::EA, "EA"),
            (filter::SECURITY, "SECURITY"),
            (filter::STREAM_NAME, "STREAM_NAME"),
            (filter::STREAM_SIZE, "STREAM_SIZE"),
            (filter::STREAM_WRITE, "STREAM_WRITE"),
        ];
        let mut parts: Vec<String> = NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| (*n).to_string())
            .collect();
        let rest = self.0 & !filter::ALL;
        if rest != 0 {
            parts.push(format!("{rest:#x}"));
        }
        write!(f, "NotifyFilter({})", parts.join(" | "))
    }
}

/// How [`crate::Connection::watch`] watches a folder.
///
/// ```
/// use smbkit::{NotifyFilter, WatchOptions};
/// let names_below = WatchOptions {
///     recursive: true,
///     filter: NotifyFilter::NAMES,
///     ..WatchOptions::default()
/// };
/// # let _ = names_below;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Also report what changes in the folders below it, at any depth
    /// (SMB2_WATCH_TREE; SMB1 WatchTree). Default: the folder's own
    /// entries only.
    pub recursive: bool,
    /// The kinds of change reported (default:
    /// [`NotifyFilter::default`]: names, attributes, sizes and writes).
    pub filter: NotifyFilter,
    /// The most bytes of changes one answer of the server carries
    /// ([`DEFAULT_WATCH_BUFFER`] unless set). Each change takes 12 bytes
    /// and its name in UTF-16, rounded up to 4; the server keeps about as
    /// much between two answers, and reports [`Change::Overflow`] beyond
    /// it. Lowered to what the connection allows (SMB 2/3: the negotiated
    /// MaxTransactSize; SMB1: 64 KiB); at least 1.
    pub buffer_size: u32,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            recursive: false,
            filter: NotifyFilter::default(),
            buffer_size: DEFAULT_WATCH_BUFFER,
        }
    }
}

/// One change a [`Watch`] reports. Paths are relative to the watched folder
/// and `/`-separated (`"sub/a.txt"` below it, for a recursive watch).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A file or folder appeared (created, or moved in).
    Added(String),
    /// A file or folder disappeared (deleted, or moved out).
    Removed(String),
    /// A file or folder changed: its data, size, times or attributes, as
    /// the filter asks.
    Modified(String),
    /// A file or folder was renamed from `from` to `to`. The server sends
    /// the two halves of a rename together, or (Samba, when the rename
    /// happens between two requests) the old one at the end of one answer
    /// and the new one at the start of the next: those are put together
    /// too, the old half waiting half a second at most for the new one.
    Renamed {
        /// The old path.
        from: String,
        /// The new path.
        to: String,
    },
    /// The old half of a rename whose new half did not follow it.
    RenamedFrom(String),
    /// The new half of a rename whose old half did not come before it.
    RenamedTo(String),
    /// Any other action the server reports (named streams added, removed
    /// or modified, object ids), with its path.
    Other {
        /// The FILE_ACTION_* value (MS-FSCC §2.7.1).
        action: FileAction,
        /// The path the server named.
        path: String,
    },
    /// More changed than the server could report (STATUS_NOTIFY_ENUM_DIR,
    /// or an answer without changes), or the connection was lost and made
    /// again meanwhile: changes may have been missed, and whoever keeps a
    /// picture of the folder must list it again. The watch goes on, and
    /// every change after this one is reported.
    Overflow,
}

impl Change {
    /// The path the change is about (the new one of a rename); `None` for
    /// [`Change::Overflow`].
    pub fn path(&self) -> Option<&str> {
        match self {
            Change::Added(p)
            | Change::Removed(p)
            | Change::Modified(p)
            | Change::RenamedFrom(p)
            | Change::RenamedTo(p)
            | Change::Other { path: p, .. } => Some(p),
            Change::Renamed { to, .. } => Some(to),
            Change::Overflow => None,
        }
    }
}

impl std::fmt::Display for Change {
    /// One line: `added a.txt`, `renamed a -> b`, `overflow: enumerate
    /// again`, ...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(p) => write!(f, "added {p}"),
            Change::Removed(p) => write!(f, "removed {p}"),
            Change::Modified(p) => write!(f, "modified {p}"),
            Change::Renamed { from, to } => write!(f, "renamed {from} -> {to}"),
            Change::RenamedFrom(p) => write!(f, "renamed from {p}"),
            Change::RenamedTo(p) => write!(f, "renamed to {p}"),
            Change::Other { action, path } => match action.name() {
                Some(n) => write!(f, "{} {path}", n.to_ascii_lowercase()),
                None => write!(f, "action {:#x} {path}", action.0),
            },
            Change::Overflow => f.write_str("overflow: enumerate again"),
        }
    }
}

/// A path as the server named it, `/`-separated.
fn slashed(name: String) -> String {
    if name.contains('\\') {
        name.replace('\\', "/")
    } else {
        name
    }
}

/// The changes of one answer, in its order; an old name followed at once
/// by a new one is one [`Change::Renamed`].
fn changes(entries: Vec<FileNotifyInformation>) -> Vec<Change> {
    let mut out = Vec::with_capacity(entries.len());
    let mut it = entries.into_iter().peekable();
    while let Some(e) = it.next() {
        let path = slashed(e.file_name);
        out.push(match e.action {
            FileAction::ADDED => Change::Added(path),
            FileAction::REMOVED => Change::Removed(path),
            FileAction::MODIFIED => Change::Modified(path),
            FileAction::RENAMED_OLD_NAME => {
                match it.next_if(|n| n.action == FileAction::RENAMED_NEW_NAME) {
                    Some(n) => Change::Renamed {
                        from: path,
                        to: slashed(n.file_name),
                    },
                    None => Change::RenamedFrom(path),
                }
            }
            FileAction::RENAMED_NEW_NAME => Change::RenamedTo(path),
            action => Change::Other { action, path },
        });
    }
    out
}

/// The changes of one answer after `held`, the old half of a rename that
/// ended the answer before (put together with a new half that starts this
/// one), and the old half that ends this one, if any, to hold back in turn.
fn join(
    held: Option<String>,
    mut entries: Vec<FileNotifyInformation>,
) -> (Vec<Change>, Option<String>) {
    let mut out = Vec::new();
    if let Some(from) = held {
        match entries.first() {
            Some(n) if n.action == FileAction::RENAMED_NEW_NAME => {
                let to = slashed(entries.remove(0).file_name);
                out.push(Change::Renamed {
                    from: slashed(from),
                    to,
                });
            }
            _ => out.push(Change::RenamedFrom(slashed(from))),
        }
    }
    let trailing_old = entries
        .last()
        .is_some_and(|e| e.action == FileAction::RENAMED_OLD_NAME);
    let held = if trailing_old {
        entries.pop().map(|e| e.file_name)
    } else {
        None
    };
    out.extend(changes(entries));
    (out, held)
}

/// How the watched folder is opened: to list it (what a notify needs,
/// MS-SMB2 §3.3.5.19: FILE_LIST_DIRECTORY), sharing everything, so that
/// nobody is kept from changing, renaming or deleting what is in it, or
/// the folder itself.
fn folder_spec() -> OpenSpec {
    OpenSpec::new(
        access_mask::FILE_LIST_DIRECTORY
            | access_mask::FILE_READ_ATTRIBUTES
            | access_mask::SYNCHRONIZE,
        create_disposition::OPEN,
        create_options::DIRECTORY_FILE,
    )
}

/// One notify on its way: the request and the wait for its answer.
type Waiting = Pin<Box<dyn Future<Output = Result<Notified, Error>> + Send>>;

/// The folder opened and watched again after a lost connection.
type Rearming = Pin<Box<dyn Future<Output = Result<Armed, Error>> + Send>>;

/// A folder opened and its first notify taken by the server.
struct Armed {
    dir: OpenFile,
    waiting: Waiting,
    spec: NotifySpec,
    /// The folder as SMB names it.
    smb: Arc<str>,
}

/// The notify on `file`, sent at its first poll; `ack_limit` bounds the
/// wait for the server to take it.
fn notify(
    family: Family,
    file: FileRef,
    spec: NotifySpec,
    share: Arc<str>,
    path: Arc<str>,
    ack_limit: Duration,
) -> Waiting {
    Box::pin(async move {
        let ack_deadline = Instant::now() + ack_limit;
        family
            .change_notify(file, spec, &share, &path, ack_deadline)
            .await
    })
}

/// Opens the folder and arms its first notify: returns once the server has
/// taken it. The server handles the requests of a connection in their
/// order, so an ECHO sent after the notify and answered proves it (SMB1 has
/// no interim response to tell; one way for both families). (Samba's smbd
/// then registers the watch with its notify daemon by a message of its
/// own, which no answer tells of.) On a lost connection, when the session
/// reconnects, it is all done again on the new one.
async fn arm(
    ctx: &Ctx,
    share: Arc<str>,
    path: Arc<str>,
    opts: WatchOptions,
) -> Result<Armed, Error> {
    let smb: Arc<str> = smb_path(&path)?.into();
    ctx.again_if_lost(|| {
        let (share, smb) = (share.clone(), smb.clone());
        async move {
            let (deadline, limit) = ctx.op_deadline();
            let run = async {
                let tree = ctx.tree(&share, deadline).await?;
                let family = ctx.family();
                let dir = family
                    .open(tree, &share, &smb, folder_spec(), "watch", deadline)
                    .await?;
                let spec = NotifySpec {
                    watch_tree: opts.recursive,
                    filter: opts.filter.bits(),
                    out_len: opts.buffer_size.clamp(1, family.notify_limit()),
                };
                let mut waiting = notify(
                    family.clone(),
                    dir.file(),
                    spec,
                    share.clone(),
                    smb.clone(),
                    ctx.op_limit(),
                );
                // Its first poll sends it.
                let first = std::future::poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx))).await;
                if let Poll::Ready(r) = first {
                    let r = r?;
                    waiting = Box::pin(std::future::ready(Ok(r)));
                }
                family.echo(b"", deadline).await?;
                // A server that refuses to watch answers at once: that
                // answer is here by now.
                let now = std::future::poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx))).await;
                if let Poll::Ready(r) = now {
                    let r = r?;
                    waiting = Box::pin(std::future::ready(Ok(r)));
                }
                Ok(Armed {
                    dir,
                    waiting,
                    spec,
                    smb,
                })
            };
            run.await.map_err(|e| with_limit(e, limit))
        }
    })
    .await
}

/// Watches folder `path` of `share`: see [`crate::Connection::watch`].
pub(crate) async fn watch(
    ctx: &Ctx,
    share: &str,
    path: &str,
    opts: WatchOptions,
) -> Result<Watch, Error> {
    let (share, path): (Arc<str>, Arc<str>) = (share.into(), path.into());
    let armed = arm(ctx, share.clone(), path.clone(), opts).await?;
    Ok(Watch {
        waiting: Some(armed.waiting),
        reopening: None,
        dir: Some(armed.dir),
        ctx: ctx.clone(),
        share,
        path,
        smb: armed.smb,
        opts,
        spec: armed.spec,
        queue: VecDeque::new(),
        held: None,
        failed: None,
        done: false,
        notifies: 1,
    })
}

/// The changes in a folder, as they happen: made by
/// [`crate::Connection::watch`]. It is a [`futures_core::Stream`] of
/// `Result<Change, Error>` that does not end on its own, and
/// [`Watch::next_change`] reads it without a stream library.
///
/// The folder stays open (its handle is what the server collects changes
/// on) until the watch is dropped or [closed](Watch::close); dropping it at
/// any point withdraws the request waiting (CANCEL over SMB 2/3,
/// NT_CANCEL over SMB1) and closes the folder, on the connection's own
/// account. One request is out at a time; the next goes out as soon as one
/// is answered, before its changes are handed over, and the server keeps
/// what changes in between. A request the server has taken has no time
/// limit and never makes the connection look dead.
///
/// When the connection is lost and the session reconnects
/// ([`crate::SmbProtocolFactory::reconnect`]), the folder is opened again
/// on the new connection, a request is armed, and the watch yields
/// [`Change::Overflow`]: what changed meanwhile is not known. Any other
/// error (the folder deleted, the connection closed or lost for good) is
/// yielded once, after the changes received before it, and ends the watch.
pub struct Watch {
    // Fields drop in order: the waiting request first (its CANCEL goes
    // out), then the folder (its CLOSE).
    waiting: Option<Waiting>,
    reopening: Option<Rearming>,
    dir: Option<OpenFile>,
    ctx: Ctx,
    share: Arc<str>,
    path: Arc<str>,
    /// The folder as SMB names it (in errors).
    smb: Arc<str>,
    opts: WatchOptions,
    spec: NotifySpec,
    queue: VecDeque<Change>,
    /// The old half of a rename that ended an answer, waiting briefly for
    /// its new half to start the next one.
    held: Option<(String, Pin<Box<tokio::time::Sleep>>)>,
    /// The error that ended the watch, to yield once the queue is empty.
    failed: Option<Error>,
    done: bool,
    /// Requests sent so far.
    notifies: u64,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("share", &self.share)
            .field("path", &self.path)
            .field("options", &self.opts)
            .field("buffer", &self.spec.out_len)
            .field("queued", &self.queue.len())
            .field("notifies", &self.notifies)
            .field("done", &self.done)
            .finish()
    }
}

impl Watch {
    /// The next change; waits as long as nothing changes. `Ok(None)` only
    /// once the watch has ended with an error (yielded before).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use smbkit::{Change, WatchOptions};
    /// let mut watch = conn.watch("share", "/inbox", WatchOptions::default()).await?;
    /// while let Some(change) = watch.next_change().await? {
    ///     match change {
    ///         Change::Added(path) => println!("new: {path}"),
    ///         Change::Overflow => println!("too much at once: list /inbox again"),
    ///         other => println!("{other}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_change(&mut self) -> Result<Option<Change>, Error> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx))
            .await
            .transpose()
    }

    /// The share of the watched folder.
    pub fn share(&self) -> &str {
        &self.share
    }

    /// The watched folder, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The options the folder is watched with.
    pub fn options(&self) -> &WatchOptions {
        &self.opts
    }

    /// The output buffer each request asks for (the one of the options,
    /// lowered to what the connection allows).
    pub fn buffer_size(&self) -> u32 {
        self.spec.out_len
    }

    /// Stops watching: withdraws the request waiting and closes the folder,
    /// waiting for the server's answer to the CLOSE (within the
    /// connection's time limit). Dropping the watch does the same without
    /// waiting.
    pub async fn close(mut self) -> Result<(), Error> {
        self.waiting = None;
        self.reopening = None;
        self.done = true;
        match self.dir.take() {
            Some(dir) => {
                let (deadline, limit) = self.ctx.op_deadline();
                dir.close(deadline).await.map_err(|e| with_limit(e, limit))
            }
            None => Ok(()),
        }
    }

    /// Sends the next request on the folder, at once.
    fn rearm(&mut self, cx: &mut Context<'_>) {
        let Some(dir) = &self.dir else { return };
        let mut waiting = notify(
            dir.family().clone(),
            dir.file(),
            self.spec,
            self.share.clone(),
            self.smb.clone(),
            self.ctx.op_limit(),
        );
        self.notifies += 1;
        // Its first poll sends it; an answer this soon is taken at the next.
        match waiting.as_mut().poll(cx) {
            Poll::Pending => self.waiting = Some(waiting),
            Poll::Ready(r) => self.waiting = Some(Box::pin(std::future::ready(r))),
        }
    }

    /// Queues the changes of one answer. An old name that ends it is held
    /// back for [`RENAME_GRACE`], to be put together with a new name that
    /// starts the next one.
    fn take(&mut self, entries: Vec<FileNotifyInformation>) {
        let held = self.held.take().map(|(from, _)| from);
        let (changes, held) = join(held, entries);
        self.queue.extend(changes);
        self.held = held.map(|from| (from, Box::pin(tokio::time::sleep(RENAME_GRACE))));
    }

    /// Gives up waiting for the new half of a held rename.
    fn release_held(&mut self) {
        if let Some((from, _)) = self.held.take() {
            self.queue.push_back(Change::RenamedFrom(slashed(from)));
        }
    }

    /// Ends the watch with `e`, closing the folder.
    fn fail(&mut self, e: Error) {
        self.release_held();
        self.done = true;
        self.waiting = None;
        self.reopening = None;
        self.dir = None;
        self.failed = Some(e);
    }
}

impl futures_core::Stream for Watch {
    type Item = Result<Change, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(f) = this.reopening.as_mut() {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    this.reopening = None;
                    match r {
                        Ok(armed) => {
                            tracing::info!(path = %this.path, "watching again after a reconnect");
                            this.dir = Some(armed.dir);
                            this.spec = armed.spec;
                            this.smb = armed.smb;
                            this.waiting = Some(armed.waiting);
                            this.notifies += 1;
                            this.release_held();
                            this.queue.push_back(Change::Overflow);
                        }
                        Err(e) => this.fail(e),
                    }
                    continue;
                }
            }
            if let Some(f) = this.waiting.as_mut() {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    this.waiting = None;
                    match r {
                        Ok(n) => {
                            // The next request goes out before these
                            // changes are handed over.
                            this.rearm(cx);
                            match n {
                                Notified::Changes(entries) => this.take(entries),
                                Notified::Overflow => {
                                    this.release_held();
                                    this.queue.push_back(Change::Overflow);
                                }
                            }
                        }
                        Err(e) if this.ctx.session.is_lost(&e) => {
                            tracing::debug!(path = %this.path, "the watch's connection was lost");
                            if let Some(dir) = this.dir.take() {
                                // Its connection is gone, and the handle
                                // with it.
                                dir.forget();
                            }
                            let (ctx, share, path, opts) = (
                                this.ctx.clone(),
                                this.share.clone(),
                                this.path.clone(),
                                this.opts,
                            );
                            this.reopening =
                                Some(Box::pin(async move { arm(&ctx, share, path, opts).await }));
                        }
                        Err(e) => this.fail(e),
                    }
                    continue;
                }
            }
            if let Some(c) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(c)));
            }
            if let Some((_, grace)) = this.held.as_mut() {
                if grace.as_mut().poll(cx).is_ready() {
                    this.release_held();
                    continue;
                }
            }
            if let Some(e) = this.failed.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            return Poll::Pending;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(action: FileAction, name: &str) -> FileNotifyInformation {
        FileNotifyInformation {
            action,
            file_name: name.into(),
        }
    }

    #[test]
    fn renames_fold_when_both_halves_come_together() {
        let got = changes(vec![
            e(FileAction::ADDED, "a"),
            e(FileAction::RENAMED_OLD_NAME, "a"),
            e(FileAction::RENAMED_NEW_NAME, "sub\\b"),
            e(FileAction::RENAMED_OLD_NAME, "c"),
            e(FileAction::MODIFIED, "d"),
            e(FileAction::RENAMED_NEW_NAME, "e"),
            e(FileAction::ADDED_STREAM, "f:s"),
            e(FileAction(0x77), "g"),
            e(FileAction::REMOVED, "h"),
            e(FileAction::RENAMED_OLD_NAME, "i"),
        ]);
        assert_eq!(
            got,
            [
                Change::Added("a".into()),
                Change::Renamed {
                    from: "a".into(),
                    to: "sub/b".into()
                },
                Change::RenamedFrom("c".into()),
                Change::Modified("d".into()),
                Change::RenamedTo("e".into()),
                Change::Other {
                    action: FileAction::ADDED_STREAM,
                    path: "f:s".into()
                },
                Change::Other {
                    action: FileAction(0x77),
                    path: "g".into()
                },
                Change::Removed("h".into()),
                Change::RenamedFrom("i".into()),
            ]
        );
        let lines: Vec<String> = got.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            lines,
            [
                "added a",
                "renamed a -> sub/b",
                "renamed from c",
                "modified d",
                "renamed to e",
                "added_stream f:s",
                "action 0x77 g",
                "removed h",
                "renamed from i",
            ]
        );
        assert_eq!(Change::Overflow.to_string(), "overflow: enumerate again");
        assert_eq!(Change::Overflow.path(), None);
        assert_eq!(got[1].path(), Some("sub/b"));
    }

    #[test]
    fn a_rename_split_over_two_answers_is_put_together() {
        let (got, held) = join(
            None,
            vec![
                e(FileAction::ADDED, "x"),
                e(FileAction::RENAMED_OLD_NAME, "a"),
            ],
        );
        assert_eq!(got, [Change::Added("x".into())]);
        assert_eq!(held.as_deref(), Some("a"));
        let (got, held) = join(
            held,
            vec![
                e(FileAction::RENAMED_NEW_NAME, "d\\b"),
                e(FileAction::RENAMED_OLD_NAME, "c"),
            ],
        );
        assert_eq!(
            got,
            [Change::Renamed {
                from: "a".into(),
                to: "d/b".into()
            }]
        );
        assert_eq!(held.as_deref(), Some("c"));
        // The next answer does not start with the new half.
        let (got, held) = join(held, vec![e(FileAction::REMOVED, "c")]);
        assert_eq!(
            got,
            [Change::RenamedFrom("c".into()), Change::Removed("c".into())]
        );
        assert_eq!(held, None);
        let (got, held) = join(None, vec![e(FileAction::RENAMED_NEW_NAME, "n")]);
        assert_eq!(got, [Change::RenamedTo("n".into())]);
        assert_eq!(held, None);
    }

    #[test]
    fn filters_combine_and_print_their_names() {
        let mut f = NotifyFilter::FILE_NAME;
        f |= NotifyFilter::SECURITY;
        assert_eq!(f.bits(), 0x101);
        assert!(f.contains(NotifyFilter::FILE_NAME) && !f.contains(NotifyFilter::NAMES));
        assert_eq!(format!("{f:?}"), "NotifyFilter(FILE_NAME | SECURITY)");
        assert_eq!(
            format!("{:?}", NotifyFilter::from_bits(0x1_0002)),
            "NotifyFilter(DIR_NAME | 0x10000)"
        );
        assert_eq!(NotifyFilter::default().bits(), 0x1F);
        assert!(NotifyFilter::from_bits(0).is_empty());
        assert_eq!(NotifyFilter::ALL.bits(), 0xFFF);
        let o = WatchOptions::default();
        assert!(!o.recursive);
        assert_eq!(o.buffer_size, DEFAULT_WATCH_BUFFER);
    }
}
