//! Directory listings (the reference's listPath): one search per folder,
//! page after page, over either family's search primitives.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;

use super::names::{check_length, smb_path};
use super::Ctx;
use crate::error::{abbreviate, BadAnswer, Error, InvalidArgument, ProtocolError};
use crate::family::{Page, Search};
use crate::types::{DirEntry, SharedFile};

/// The most pages one listing reads.
const MAX_PAGES: usize = 100_000;

/// The error of a listing that is still not done after [`MAX_PAGES`].
fn never_ends() -> Error {
    ProtocolError::BadAnswer(BadAnswer::NoProgress {
        what: "the listing",
        attempts: MAX_PAGES as u32,
    })
    .into()
}

/// Every entry of folder `path` matching `pattern` (`*` and `?` wildcards,
/// matched by the server), unfiltered, `.` and `..` included when the
/// server lists them.
///
/// The search is closed whatever happens: at its end, or, after an error
/// or when the future is dropped, by the connection on its own account.
pub(crate) async fn list_entries(
    ctx: &Ctx,
    share: &str,
    path: &str,
    pattern: &str,
    deadline: Instant,
) -> Result<Vec<SharedFile>, Error> {
    let path = smb_path(path)?;
    if pattern.is_empty() {
        return Err(InvalidArgument::EmptyPattern.into());
    }
    if pattern.contains(['\\', '/', '\0']) {
        return Err(InvalidArgument::PatternWithFolder {
            pattern: abbreviate(pattern),
        }
        .into());
    }
    check_length("pattern", pattern)?;
    let tree = ctx.tree(share, deadline).await?;
    let (mut search, first) = ctx
        .family()
        .find_first(tree, share, &path, pattern, deadline)
        .await?;
    let mut result = first.entries;
    let mut end = first.end;
    let mut pages = 1;
    while !end {
        if pages >= MAX_PAGES {
            return Err(never_ends());
        }
        let page = search.next_page(share, &path, deadline).await?;
        result.extend(page.entries);
        end = page.end;
        pages += 1;
    }
    search.finish(deadline).await?;
    Ok(result)
}

/// The entries of folder `path` whose attributes pass `search` (bits of
/// [`smbkit_proto::fscc::search`], applied here as the reference does) and
/// whose names match `pattern`.
pub(crate) async fn list_path(
    ctx: &Ctx,
    share: &str,
    path: &str,
    search: u32,
    pattern: &str,
) -> Result<Vec<SharedFile>, Error> {
    super::timed_again(ctx, |deadline| async move {
        let entries = list_entries(ctx, share, path, pattern, deadline).await?;
        Ok(entries
            .into_iter()
            .filter(|f| smbkit_proto::fscc::search_matches(search, f.file_attributes))
            .collect())
    })
    .await
}

/// A page of a search, and the search if it goes on.
type PageFuture = Pin<Box<dyn Future<Output = Result<(Option<Search>, Page), Error>> + Send>>;

/// The entries of a folder as they arrive, page by page: made by
/// [`crate::Connection::read_dir`]. It is a [`futures_core::Stream`] of
/// `Result<DirEntry, Error>`, and [`ReadDir::next_entry`] reads it without
/// a stream library.
///
/// At most one page of entries is held at a time, whatever the size of
/// the folder. The entries `.` and `..` are left out. Each page has the
/// connection's time limit. Dropped before its end, the search is closed
/// by the connection on its own account.
pub struct ReadDir {
    ctx: Ctx,
    share: Arc<str>,
    dir: Arc<str>,
    /// The page being read.
    fetching: Option<PageFuture>,
    /// The search, between pages.
    search: Option<Search>,
    page: VecDeque<SharedFile>,
    pages: usize,
    started: bool,
    done: bool,
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir")
            .field("share", &self.share)
            .field("dir", &self.dir)
            .field("pages", &self.pages)
            .field("done", &self.done)
            .finish()
    }
}

impl ReadDir {
    pub(crate) fn new(ctx: Ctx, share: &str, path: &str) -> ReadDir {
        ReadDir {
            ctx,
            share: share.into(),
            dir: path.into(),
            fetching: None,
            search: None,
            page: VecDeque::new(),
            pages: 0,
            started: false,
            done: false,
        }
    }

    /// The next entry; `None` at the end of the folder.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let mut dir = conn.read_dir("share", "/photos");
    /// while let Some(entry) = dir.next_entry().await? {
    ///     println!("{} {}", entry.name(), entry.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_entry(&mut self) -> Result<Option<DirEntry>, Error> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx))
            .await
            .transpose()
    }

    /// Starts reading the next page (the first one opens the search).
    fn fetch(&mut self) -> PageFuture {
        let (ctx, share, dir) = (self.ctx.clone(), self.share.clone(), self.dir.clone());
        let deadline = Instant::now() + ctx.op_limit();
        match self.search.take() {
            // The first page follows DFS links (the search then stays on
            // the server it was opened on).
            None => Box::pin(async move {
                super::dfs_route::via_dfs!(&ctx, &share, &dir, |c, s, d| {
                    async {
                        let path = smb_path(d)?;
                        let tree = c.tree(s, deadline).await?;
                        let (search, page) =
                            c.family().find_first(tree, s, &path, "*", deadline).await?;
                        Ok((Some(search), page))
                    }
                    .await
                })
            }),
            Some(mut search) => Box::pin(async move {
                let path = smb_path(&dir)?;
                let page = search.next_page(&share, &path, deadline).await?;
                Ok((Some(search), page))
            }),
        }
    }
}

impl futures_core::Stream for ReadDir {
    type Item = Result<DirEntry, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(f) = this.page.pop_front() {
                if f.filename == "." || f.filename == ".." {
                    continue;
                }
                return Poll::Ready(Some(Ok(DirEntry::from_shared(f))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.fetching.is_none() {
                if this.started && this.search.is_none() {
                    this.done = true;
                    return Poll::Ready(None);
                }
                if this.pages >= MAX_PAGES {
                    this.done = true;
                    this.search = None;
                    return Poll::Ready(Some(Err(never_ends())));
                }
                this.started = true;
                this.fetching = Some(this.fetch());
            }
            let Some(f) = this.fetching.as_mut() else {
                continue;
            };
            let res = match f.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.fetching = None;
            this.pages += 1;
            match res {
                Ok((search, page)) => {
                    this.page.extend(page.entries);
                    // At the end, dropping the search closes it on the
                    // connection's account.
                    this.search = if page.end { None } else { search };
                }
                Err(e) => {
                    this.done = true;
                    this.page.clear();
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

/// How many folders a [`Walk`] lists at once unless told otherwise.
pub const WALK_CONCURRENCY: usize = 4;

/// One entry of a [`Walk`]: where it is below the walk's root, and what
/// the folder listing said of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    path: String,
    depth: usize,
    entry: DirEntry,
}

impl WalkEntry {
    /// The path below the walk's root, `/`-separated (`"docs/a.txt"`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// 1 for the entries of the root folder, 2 for those of its folders…
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// What the listing said of it.
    pub fn entry(&self) -> &DirEntry {
        &self.entry
    }

    /// The entry, without its path.
    pub fn into_entry(self) -> DirEntry {
        self.entry
    }
}

/// A folder being listed by a [`Walk`]: its path below the root, its
/// depth, and its entries as they come.
struct Listing {
    rel: String,
    depth: usize,
    entries: ReadDir,
}

/// Every file and folder below a folder, as a stream: made by
/// [`crate::Connection::walk`]. Several folders are listed at once
/// ([`Walk::concurrency`]), each holding one page of entries at a time;
/// the folders found wait as paths. Entries come in no fixed order: a
/// folder's entries are in listing order, but those of different folders
/// are interleaved. A folder that cannot be listed yields its error and
/// the walk goes on with the others.
pub struct Walk {
    ctx: Ctx,
    share: Arc<str>,
    root: String,
    concurrency: usize,
    max_depth: usize,
    active: Vec<Listing>,
    /// Folders found and not listed yet: (path below the root, depth).
    pending: VecDeque<(String, usize)>,
    /// Where to start polling the active listings (round robin).
    next: usize,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("share", &self.share)
            .field("root", &self.root)
            .field("active", &self.active.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Walk {
    pub(crate) fn new(ctx: Ctx, share: &str, root: &str) -> Walk {
        Walk {
            ctx,
            share: share.into(),
            root: root.trim_end_matches(['/', '\\']).to_string(),
            concurrency: WALK_CONCURRENCY,
            max_depth: usize::MAX,
            active: Vec::new(),
            pending: VecDeque::from([(String::new(), 0)]),
            next: 0,
        }
    }

    /// Lists up to `n` folders at once (at least 1; [`WALK_CONCURRENCY`]
    /// unless set).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Goes no deeper than `depth` levels below the root (1: the root's own
    /// entries only).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// The next entry; `None` once everything below the root has been
    /// listed.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let mut walk = conn.walk("share", "/projects").concurrency(8);
    /// while let Some(item) = walk.next_entry().await? {
    ///     println!("{} ({} bytes)", item.path(), item.entry().len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_entry(&mut self) -> Result<Option<WalkEntry>, Error> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx))
            .await
            .transpose()
    }

    /// Starts listing pending folders until `concurrency` are active.
    fn start_pending(&mut self) {
        while self.active.len() < self.concurrency {
            let Some((rel, depth)) = self.pending.pop_front() else {
                return;
            };
            let full = if rel.is_empty() {
                self.root.clone()
            } else {
                format!("{}/{rel}", self.root)
            };
            self.active.push(Listing {
                entries: ReadDir::new(self.ctx.clone(), &self.share, &full),
                rel,
                depth,
            });
        }
    }
}

impl futures_core::Stream for Walk {
    type Item = Result<WalkEntry, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            this.start_pending();
            if this.active.is_empty() {
                return Poll::Ready(None);
            }
            let n = this.active.len();
            let mut progressed = false;
            for k in 0..n {
                let i = (this.next + k) % n;
                let l = &mut this.active[i];
                match futures_core::Stream::poll_next(Pin::new(&mut l.entries), cx) {
                    Poll::Pending => {}
                    Poll::Ready(None) => {
                        this.active.swap_remove(i);
                        progressed = true;
                        break;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        this.active.swap_remove(i);
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Some(Ok(entry))) => {
                        let path = if l.rel.is_empty() {
                            entry.name().to_string()
                        } else {
                            format!("{}/{}", l.rel, entry.name())
                        };
                        let depth = l.depth + 1;
                        if entry.is_dir()
                            && !entry.attributes().is_reparse_point()
                            && depth < this.max_depth
                        {
                            this.pending.push_back((path.clone(), depth));
                        }
                        // The next poll starts with the listing after this
                        // one, so that no folder starves the others.
                        this.next = (i + 1) % n;
                        return Poll::Ready(Some(Ok(WalkEntry { path, depth, entry })));
                    }
                }
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }
}
