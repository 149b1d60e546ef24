//! The operations of [`crate::Connection`] for code without an async
//! runtime, as `reqwest::blocking` offers for HTTP: every method waits for
//! its result and returns it.
//!
//! ```no_run
//! use smbkit::blocking::Connection;
//! use smbkit::SmbProtocolFactory;
//!
//! fn main() -> Result<(), smbkit::Error> {
//!     let factory = SmbProtocolFactory::new("alice", "secret", "MYPC", "FILESERVER")?
//!         .direct_tcp(true);
//!     let conn = Connection::connect(factory, ("fileserver.example", 445))?;
//!     for entry in conn.read_dir("share", "/docs") {
//!         let entry = entry?;
//!         println!("{} {} bytes", entry.name(), entry.len());
//!     }
//!     let mut out = std::fs::File::create("report.pdf")?;
//!     let (_attributes, n) = conn.retrieve_file("share", "/docs/report.pdf", &mut out)?;
//!     println!("{n} bytes");
//!     conn.close()?;
//!     Ok(())
//! }
//! ```
//!
//! # The runtime
//!
//! The async core does the work on one tokio runtime that this module
//! creates the first time it is needed and keeps for the life of the
//! program: a multi-threaded runtime of two worker threads named
//! `smbkit-blocking`, shared by every connection made here. The work is
//! I/O: a connection's traffic is a reader, a writer and a timer task plus
//! the requests of the calls under way, so two threads serve many
//! connections and many calling threads. One runtime per connection would
//! cost threads for each connection and tie the connection to the
//! lifetime of its runtime. The background tasks of connections made by
//! [`Connection::connect`] run there, so between calls a connection still
//! answers the server, sends its keep-alives and notices a dead peer.
//! Signing and encryption run on those two threads too: a program that
//! moves large amounts of encrypted data over many connections at once
//! may prefer the async API on a runtime sized for it.
//!
//! # Calling from any thread
//!
//! Each call spawns its work on that runtime and waits for the outcome on
//! a `std` channel. Nothing here starts or enters a runtime on the calling
//! thread (there is no `block_on`), so the methods work on any thread,
//! from many threads at once on one [`Connection`] (it is `Clone + Send +
//! Sync`), and also inside a tokio runtime, where `block_on` would panic
//! with "Cannot start a runtime from within a runtime". They block the
//! calling thread, however: in async code the async API is the better
//! choice, or the call belongs in `tokio::task::spawn_blocking`. A panic
//! inside the async core is resumed on the calling thread.
//!
//! A connection made by the async API and wrapped with
//! [`Connection::from_async`] keeps its background tasks on the runtime it
//! was made on: that runtime must go on running while the blocking handle
//! is used (a current-thread runtime whose only thread waits in a blocking
//! call here never gets to answer the server).
//!
//! # Transfers through `Read` and `Write`
//!
//! [`Connection::retrieve_file`] runs the async retrieve on the runtime,
//! which hands the data over in chunks of at most 256 KiB through a queue
//! of at most 8 chunks; the calling thread writes them to the caller's
//! [`std::io::Write`] as they come. [`Connection::store_file`] reads the
//! caller's [`std::io::Read`] on the calling thread, 256 KiB at a time,
//! and queues the chunks (8 at most) for the async store. So the caller's
//! reader or writer never leaves the calling thread (it need not be
//! `Send`), the file is never held whole, and a transfer holds at most ten
//! such chunks (2.5 MiB, their buffers reused from chunk to chunk) beyond
//! what the async transfer keeps in flight. A slow reader or writer just
//! slows the transfer down. When the caller's reader or
//! writer fails, the transfer stops at once (its requests are withdrawn
//! and the file is closed by the connection) and the failure is returned
//! as [`Error::Io`].
//!
//! # Iterators
//!
//! [`Connection::read_dir`] and [`Connection::walk`] are iterators of
//! `Result<_, Error>`. Each step that needs the network takes everything
//! the listing has received by then (up to 512 entries) in one round trip
//! to the runtime, so a long listing does not cost a thread hand-over per
//! entry; memory stays bounded as for the async streams.
//! [`Connection::watch`] is an iterator of changes in the same way, which
//! waits as long as nothing changes; [`Watch::next_timeout`] waits at most
//! a given time.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use smbkit_proto::dtyp::SecurityDescriptor;
use smbkit_proto::Dialect;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::factory::SmbProtocolFactory;
use crate::ops::listing::WalkEntry;
use crate::types::{ConnectionEvent, DirEntry, ServerInfo, SharedDevice, SharedFile, TreeInfo};

mod watch;
pub use watch::Watch;

/// Worker threads of the runtime.
const WORKER_THREADS: usize = 2;
/// Name of the runtime's threads.
const THREAD_NAME: &str = "smbkit-blocking";
/// The most bytes in one chunk between a transfer and the calling thread.
const CHUNK: usize = 256 << 10;
/// The most chunks queued between a transfer and the calling thread.
const DEPTH: usize = 8;
/// The most entries one step of a listing iterator takes from the runtime.
const BATCH: usize = 512;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The module's runtime, created on first use.
fn runtime() -> Result<&'static Runtime, Error> {
    static CREATING: Mutex<()> = Mutex::new(());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // One thread builds it; a runtime built and then thrown away could
    // not be dropped inside an async context.
    let _one = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name(THREAD_NAME)
        .enable_all()
        .build()
        .map_err(|e| {
            Error::Io(io::Error::new(
                e.kind(),
                format!("cannot start the {THREAD_NAME} runtime: {e}"),
            ))
        })?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// The error of work whose task ended without an outcome.
fn stopped() -> Error {
    Error::Io(io::Error::other(format!(
        "the {THREAD_NAME} runtime stopped the operation"
    )))
}

/// Polls `fut` to its end, catching a panic.
async fn catch_unwind<F: Future>(fut: F) -> std::thread::Result<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await
}

/// Runs `fut` on the runtime and waits for its output on this thread.
/// Whatever `fut` holds is dropped before the output is handed back.
fn block<F>(fut: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(catch_unwind(fut).await);
    });
    match rx.recv() {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(stopped()),
    }
}

/// [`block`] for futures of a `Result`.
fn run<T, F>(fut: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    block(fut)?
}

/// Drops `v` inside the runtime's context, as async values expect.
fn drop_on_runtime<T>(v: T) {
    match RUNTIME.get() {
        Some(rt) => {
            let _inside = rt.enter();
            drop(v);
        }
        None => drop(v),
    }
}

/// A blocking handle on an authenticated SMB connection: the methods of
/// [`crate::Connection`], which wait for their results.
///
/// `Connection` is `Clone + Send + Sync`, and every clone talks over the
/// same connection: many threads can call it at once, each waiting only
/// for its own operation. Dropping the last clone closes the socket;
/// [`Connection::close`] also logs off first.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: crate::Connection,
}

impl Connection {
    /// Connects to `addr` (`"host:port"`, `("host", port)`, a
    /// `SocketAddr`…), negotiates, authenticates and returns a ready
    /// connection, as [`SmbProtocolFactory::connect`] does. The name is
    /// resolved on the calling thread by the system resolver, without the
    /// factory's time limit; connecting and authenticating have it.
    pub fn connect<A: ToSocketAddrs>(
        factory: SmbProtocolFactory,
        addr: A,
    ) -> Result<Connection, Error> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(crate::InvalidArgument::NoAddress.into());
        }
        let inner = run(async move { factory.connect(addrs.as_slice()).await })?;
        Ok(Connection { inner })
    }

    /// A blocking handle on a connection made by the async API. Its
    /// background tasks stay on the runtime it was made on, which must go
    /// on running (see the [module documentation](self)).
    pub fn from_async(conn: crate::Connection) -> Connection {
        Connection { inner: conn }
    }

    /// The async connection this handle uses (a clone of it talks over the
    /// same connection).
    pub fn as_async(&self) -> &crate::Connection {
        &self.inner
    }

    /// A handle on the same connection whose operations use `timeout`
    /// instead of their defaults; see [`crate::Connection::with_timeout`].
    pub fn with_timeout(&self, timeout: Duration) -> Connection {
        Connection {
            inner: self.inner.with_timeout(timeout),
        }
    }

    /// True while the connection is open and authenticated; see
    /// [`crate::Connection::is_ready`].
    pub fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// True when the connection speaks SMB2 or SMB3.
    pub fn is_using_smb2(&self) -> bool {
        self.inner.is_using_smb2()
    }

    /// True once the server has confirmed the negotiation; see
    /// [`crate::Connection::is_negotiate_validated`].
    pub fn is_negotiate_validated(&self) -> bool {
        self.inner.is_negotiate_validated()
    }

    /// The negotiated dialect.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    /// What was negotiated with the server; see
    /// [`crate::Connection::server_info`].
    pub fn server_info(&self) -> ServerInfo {
        self.inner.server_info()
    }

    /// What happens to the connection's link with the server, as an
    /// iterator that waits for each next event; see
    /// [`crate::Connection::events`].
    pub fn events(&self) -> Events {
        Events {
            rx: Some(self.inner.events()),
        }
    }

    /// Sends ECHO and returns `data`; see [`crate::Connection::echo`].
    pub fn echo(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let (c, data) = (self.inner.clone(), data.to_vec());
        run(async move { c.echo(&data).await })
    }

    /// Connects the tree of `share`; see [`crate::Connection::tree_connect`].
    pub fn tree_connect(&self, share: &str) -> Result<TreeInfo, Error> {
        let (c, share) = (self.inner.clone(), share.to_string());
        run(async move { c.tree_connect(&share).await })
    }

    /// Disconnects the tree of `share` if it is connected; see
    /// [`crate::Connection::tree_disconnect`].
    pub fn tree_disconnect(&self, share: &str) -> Result<(), Error> {
        let (c, share) = (self.inner.clone(), share.to_string());
        run(async move { c.tree_disconnect(&share).await })
    }

    /// Disconnects every tree, logs off and closes the socket; see
    /// [`crate::Connection::close`].
    pub fn close(&self) -> Result<(), Error> {
        let c = self.inner.clone();
        run(async move { c.close().await })
    }

    /// Lists the folder `path` of `share`; see
    /// [`crate::Connection::list_path`].
    pub fn list_path(&self, share: &str, path: &str) -> Result<Vec<SharedFile>, Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        run(async move { c.list_path(&share, &path).await })
    }

    /// Lists the folder `path` of `share` with a `search` attribute filter
    /// and a name `pattern`; see [`crate::Connection::list_path_with`].
    pub fn list_path_with(
        &self,
        share: &str,
        path: &str,
        search: u32,
        pattern: &str,
    ) -> Result<Vec<SharedFile>, Error> {
        let c = self.inner.clone();
        let (share, path, pattern) = (share.to_string(), path.to_string(), pattern.to_string());
        run(async move { c.list_path_with(&share, &path, search, &pattern).await })
    }

    /// The entries of the folder `path` of `share` as they arrive, `.` and
    /// `..` left out; see [`crate::Connection::read_dir`]. Nothing is sent
    /// before the first call of `next`.
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// let mut total = 0;
    /// for entry in conn.read_dir("share", "/docs") {
    ///     let entry = entry?;
    ///     if !entry.is_dir() {
    ///         total += entry.len();
    ///     }
    /// }
    /// println!("{total} bytes in /docs");
    /// # Ok(()) }
    /// ```
    pub fn read_dir(&self, share: &str, path: &str) -> ReadDir {
        ReadDir {
            entries: Batched::new(self.inner.read_dir(share, path)),
        }
    }

    /// Everything below the folder `path` of `share`, several folders
    /// listed at once; see [`crate::Connection::walk`].
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// for item in conn.walk("share", "/projects").max_depth(3) {
    ///     let item = item?;
    ///     println!("{} ({} bytes)", item.path(), item.entry().len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn walk(&self, share: &str, path: &str) -> Walk {
        Walk {
            entries: Batched::new(self.inner.walk(share, path)),
        }
    }

    /// The attributes of the file or folder at `path`; see
    /// [`crate::Connection::get_attributes`].
    pub fn get_attributes(&self, share: &str, path: &str) -> Result<SharedFile, Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        run(async move { c.get_attributes(&share, &path).await })
    }

    /// Creates the folder `path`; see
    /// [`crate::Connection::create_directory`].
    pub fn create_directory(&self, share: &str, path: &str) -> Result<(), Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        run(async move { c.create_directory(&share, &path).await })
    }

    /// Deletes the empty folder `path`; see
    /// [`crate::Connection::delete_directory`].
    pub fn delete_directory(&self, share: &str, path: &str) -> Result<(), Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        run(async move { c.delete_directory(&share, &path).await })
    }

    /// Deletes the files matching `pattern`, and with
    /// `delete_matching_folders` the matching folders with everything in
    /// them; see [`crate::Connection::delete_files`].
    pub fn delete_files(
        &self,
        share: &str,
        pattern: &str,
        delete_matching_folders: bool,
    ) -> Result<(), Error> {
        let (c, share, pattern) = (self.inner.clone(), share.to_string(), pattern.to_string());
        run(async move {
            c.delete_files(&share, &pattern, delete_matching_folders)
                .await
        })
    }

    /// Sets the attributes of every file matching `pattern` to
    /// `attributes`; see [`crate::Connection::reset_file_attributes`].
    pub fn reset_file_attributes(
        &self,
        share: &str,
        pattern: &str,
        attributes: u32,
    ) -> Result<(), Error> {
        let (c, share, pattern) = (self.inner.clone(), share.to_string(), pattern.to_string());
        run(async move { c.reset_file_attributes(&share, &pattern, attributes).await })
    }

    /// Sets the times of `path` that `times` gives; see
    /// [`crate::Connection::set_file_times`].
    pub fn set_file_times(
        &self,
        share: &str,
        path: &str,
        times: &crate::FileTimes,
    ) -> Result<(), Error> {
        let (c, share, path, times) = (
            self.inner.clone(),
            share.to_string(),
            path.to_string(),
            *times,
        );
        run(async move { c.set_file_times(&share, &path, &times).await })
    }

    /// Renames (or moves, within the share) `old_path` to `new_path`; see
    /// [`crate::Connection::rename`].
    pub fn rename(&self, share: &str, old_path: &str, new_path: &str) -> Result<(), Error> {
        let c = self.inner.clone();
        let (share, old, new) = (
            share.to_string(),
            old_path.to_string(),
            new_path.to_string(),
        );
        run(async move { c.rename(&share, &old, &new).await })
    }

    /// Opens the file at `path` for reading by ranges or as a stream; see
    /// [`crate::Connection::open_file`].
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// let file = conn.open_file("share", "/big.iso")?;
    /// let header = file.read_at(0, 512)?;
    /// let mut reader = file.reader(1024 * 1024, None);
    /// std::io::copy(&mut reader, &mut std::io::sink())?;
    /// file.close()?;
    /// # Ok(()) }
    /// ```
    pub fn open_file(&self, share: &str, path: &str) -> Result<RemoteFile, Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        let file = run(async move { c.open_file(&share, &path).await })?;
        Ok(RemoteFile {
            inner: Some(Arc::new(file)),
        })
    }

    /// Writes the whole file at `path` to `writer`; returns the file's
    /// attributes and the bytes written; see
    /// [`crate::Connection::retrieve_file`]. The data comes in chunks as
    /// it arrives (see the [module documentation](self)).
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// let mut out = std::fs::File::create("report.pdf")?;
    /// let (_attributes, n) = conn.retrieve_file("share", "/docs/report.pdf", &mut out)?;
    /// println!("{n} bytes");
    /// # Ok(()) }
    /// ```
    pub fn retrieve_file<W: Write + ?Sized>(
        &self,
        share: &str,
        path: &str,
        writer: &mut W,
    ) -> Result<(u32, u64), Error> {
        self.retrieve_file_from_offset(share, path, writer, 0, None)
    }

    /// Writes the file at `path` from `offset` to `writer`, at most
    /// `max_length` bytes (`None`: to the end); returns the file's
    /// attributes and the bytes written; see
    /// [`crate::Connection::retrieve_file_from_offset`].
    pub fn retrieve_file_from_offset<W: Write + ?Sized>(
        &self,
        share: &str,
        path: &str,
        writer: &mut W,
        offset: u64,
        max_length: Option<u64>,
    ) -> Result<(u32, u64), Error> {
        let c = self.inner.clone();
        let (share, path) = (share.to_string(), path.to_string());
        let pipe = Pipe::new();
        let mut to_caller = ToCaller(pipe.clone());
        let _task = spawn_transfer(&pipe, async move {
            c.retrieve_file_from_offset(&share, &path, &mut to_caller, offset, max_length)
                .await
        })?;
        pipe.drain_into(writer)
    }

    /// Stores everything `reader` yields as the file at `path`, creating
    /// it or replacing its contents; returns the bytes written; see
    /// [`crate::Connection::store_file`]. The data is read on the calling
    /// thread and sent in chunks (see the [module documentation](self)).
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// let mut input = std::fs::File::open("photo.jpg")?;
    /// let n = conn.store_file("share", "/photos/photo.jpg", &mut input)?;
    /// # Ok(()) }
    /// ```
    pub fn store_file<R: Read + ?Sized>(
        &self,
        share: &str,
        path: &str,
        reader: &mut R,
    ) -> Result<u64, Error> {
        let c = self.inner.clone();
        let (share, path) = (share.to_string(), path.to_string());
        let pipe = Pipe::new();
        let mut from_caller = FromCaller::new(pipe.clone());
        let _task = spawn_transfer(&pipe, async move {
            c.store_file(&share, &path, &mut from_caller).await
        })?;
        pipe.feed_from(reader)
    }

    /// Writes everything `reader` yields into the file at `path` from
    /// `offset`, creating the file if needed, emptying it first with
    /// `truncate`; returns the bytes written; see
    /// [`crate::Connection::store_file_from_offset`].
    pub fn store_file_from_offset<R: Read + ?Sized>(
        &self,
        share: &str,
        path: &str,
        reader: &mut R,
        offset: u64,
        truncate: bool,
    ) -> Result<u64, Error> {
        let c = self.inner.clone();
        let (share, path) = (share.to_string(), path.to_string());
        let pipe = Pipe::new();
        let mut from_caller = FromCaller::new(pipe.clone());
        let _task = spawn_transfer(&pipe, async move {
            c.store_file_from_offset(&share, &path, &mut from_caller, offset, truncate)
                .await
        })?;
        pipe.feed_from(reader)
    }

    /// Copies the file `src_path` of `src_share` to `dst_path` of
    /// `dst_share` on this connection's server, which copies the data
    /// itself; returns the bytes copied; see [`crate::Connection::copy`].
    ///
    /// ```no_run
    /// # fn demo(conn: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// let n = conn.copy("share", "/isos/big.iso", "backup", "/isos/big.iso")?;
    /// println!("{n} bytes copied by the server");
    /// # Ok(()) }
    /// ```
    pub fn copy(
        &self,
        src_share: &str,
        src_path: &str,
        dst_share: &str,
        dst_path: &str,
    ) -> Result<u64, Error> {
        let c = self.inner.clone();
        let (a, b, x, y) = (
            src_share.to_string(),
            src_path.to_string(),
            dst_share.to_string(),
            dst_path.to_string(),
        );
        run(async move { c.copy(&a, &b, &x, &y).await })
    }

    /// Copies the file `src_path` of `src_share` to `dst_path` of
    /// `dst_share` on `dst`'s server: by the server itself when `dst` is
    /// this connection (a clone of it) and the server can, streamed
    /// through this client otherwise; see [`crate::Connection::copy_to`].
    ///
    /// ```no_run
    /// # fn demo(office: smbkit::blocking::Connection, nas: smbkit::blocking::Connection) -> Result<(), smbkit::Error> {
    /// let c = office.copy_to("docs", "report.pdf", &nas, "backup", "report.pdf")?;
    /// println!("{} bytes, {:?}", c.bytes, c.method);
    /// # Ok(()) }
    /// ```
    pub fn copy_to(
        &self,
        src_share: &str,
        src_path: &str,
        dst: &Connection,
        dst_share: &str,
        dst_path: &str,
    ) -> Result<crate::Copied, Error> {
        self.copy_to_with_progress(src_share, src_path, dst, dst_share, dst_path, |_| {})
    }

    /// [`Connection::copy_to`], calling `progress` with the bytes copied
    /// so far as the copy goes on (on a thread of the runtime); see
    /// [`crate::Connection::copy_to_with_progress`].
    pub fn copy_to_with_progress<F: FnMut(u64) + Send + 'static>(
        &self,
        src_share: &str,
        src_path: &str,
        dst: &Connection,
        dst_share: &str,
        dst_path: &str,
        progress: F,
    ) -> Result<crate::Copied, Error> {
        let (c, d) = (self.inner.clone(), dst.inner.clone());
        let (a, b, x, y) = (
            src_share.to_string(),
            src_path.to_string(),
            dst_share.to_string(),
            dst_path.to_string(),
        );
        run(async move { c.copy_to_with_progress(&a, &b, &d, &x, &y, progress).await })
    }

    /// Lists the shares of the server; see
    /// [`crate::Connection::list_shares`].
    pub fn list_shares(&self) -> Result<Vec<SharedDevice>, Error> {
        let c = self.inner.clone();
        run(async move { c.list_shares().await })
    }

    /// The previous versions (snapshots) of `path` on `share`; see
    /// [`crate::Connection::list_snapshots`].
    pub fn list_snapshots(&self, share: &str, path: &str) -> Result<Vec<SystemTime>, Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        run(async move { c.list_snapshots(&share, &path).await })
    }

    /// The security descriptor of the file or folder `path`; see
    /// [`crate::Connection::get_security`].
    pub fn get_security(&self, share: &str, path: &str) -> Result<SecurityDescriptor, Error> {
        let (c, share, path) = (self.inner.clone(), share.to_string(), path.to_string());
        run(async move { c.get_security(&share, &path).await })
    }
}

impl From<crate::Connection> for Connection {
    fn from(conn: crate::Connection) -> Self {
        Connection::from_async(conn)
    }
}

/// The events of a connection's link with the server: made by
/// [`Connection::events`]. Each call of `next` waits for the next event;
/// the iterator ends once the connection is gone.
#[derive(Debug)]
pub struct Events {
    /// `None` once the connection is gone.
    rx: Option<tokio::sync::watch::Receiver<ConnectionEvent>>,
}

impl Events {
    /// The latest event, without waiting (`None` once the iterator has
    /// ended).
    pub fn latest(&self) -> Option<ConnectionEvent> {
        self.rx.as_ref().map(|rx| rx.borrow().clone())
    }
}

impl Iterator for Events {
    type Item = ConnectionEvent;

    fn next(&mut self) -> Option<ConnectionEvent> {
        let mut rx = self.rx.take()?;
        let (rx, event) = block(async move {
            let event = match rx.changed().await {
                Ok(()) => Some(rx.borrow_and_update().clone()),
                Err(_) => None,
            };
            (rx, event)
        })
        .ok()?;
        if event.is_some() {
            self.rx = Some(rx);
        }
        event
    }
}

/// A file opened for reading with [`Connection::open_file`]: the blocking
/// [`crate::RemoteFile`]. It is `Send + Sync`: several threads may read
/// ranges of it at once.
///
/// Close it with [`RemoteFile::close`]; a file dropped without closing is
/// closed in the background (once its readers are gone too).
#[derive(Debug)]
pub struct RemoteFile {
    /// `None` only while being closed or dropped.
    inner: Option<Arc<crate::RemoteFile>>,
}

impl RemoteFile {
    fn file(&self) -> &Arc<crate::RemoteFile> {
        self.inner
            .as_ref()
            .expect("a RemoteFile holds its file until it is closed")
    }

    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.file().size()
    }

    /// The file's FILE_ATTRIBUTE_* bits when it was opened.
    pub fn attributes(&self) -> u32 {
        self.file().attributes()
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end of the file;
    /// none past it); see [`crate::RemoteFile::read_at`].
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, Error> {
        let f = self.file().clone();
        run(async move {
            let data = f.read_at(offset, len).await;
            // Let go of the file before the caller goes on, so that a
            // close right after finds it unshared.
            drop(f);
            data
        })
    }

    /// A reader of the file from `offset`, at most `max_length` bytes
    /// (`None`: to the end), that keeps several reads in flight ahead of
    /// the caller; see [`crate::RemoteFile::reader`]. It implements
    /// [`std::io::Read`] and [`std::io::BufRead`];
    /// [`RemoteReader::next_chunk`] hands out the received buffers without
    /// copying.
    pub fn reader(&self, offset: u64, max_length: Option<u64>) -> RemoteReader {
        RemoteReader {
            inner: Some(self.file().reader(offset, max_length)),
            current: Bytes::new(),
        }
    }

    /// Closes the file.
    pub fn close(mut self) -> Result<(), Error> {
        let Some(file) = self.inner.take() else {
            return Ok(());
        };
        match Arc::try_unwrap(file) {
            Ok(file) => run(async move { file.close().await }),
            // Still shared (a read's task has not let go yet): the last
            // holder's drop closes it in the background.
            Err(shared) => {
                drop_on_runtime(shared);
                Ok(())
            }
        }
    }
}

impl Drop for RemoteFile {
    fn drop(&mut self) {
        if let Some(file) = self.inner.take() {
            drop_on_runtime(file);
        }
    }
}

/// Streams a remote file with reads in flight ahead of the caller: made by
/// [`RemoteFile::reader`]; the blocking [`crate::RemoteReader`].
///
/// Its [`std::io::Read`] errors carry the [`Error`] as their inner error
/// (`io_error.get_ref()` downcasts to it), as the async reader's do.
pub struct RemoteReader {
    /// `None` only while a read is under way on the runtime, or after a
    /// panic there.
    inner: Option<crate::RemoteReader>,
    /// Received and not handed out yet.
    current: Bytes,
}

impl std::fmt::Debug for RemoteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReader")
            .field("inner", &self.inner)
            .field("buffered", &self.current.len())
            .finish()
    }
}

impl RemoteReader {
    /// The same reader asking for `chunk` bytes per read; see
    /// [`crate::RemoteReader::with_chunk`].
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        self.inner = self.inner.take().map(|r| r.with_chunk(chunk));
        self
    }

    /// The bytes asked for per read now; see
    /// [`crate::RemoteReader::chunk`].
    pub fn chunk(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.chunk())
    }

    /// The next block of the file, in order; `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.current.is_empty() {
            return Ok(Some(std::mem::take(&mut self.current)));
        }
        let Some(mut reader) = self.inner.take() else {
            return Err(crate::Internal::TaskFailed("an earlier read of this reader").into());
        };
        let (reader, chunk) = block(async move {
            let chunk = reader.next_chunk().await;
            (reader, chunk)
        })?;
        self.inner = Some(reader);
        chunk
    }
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let data = self.fill_buf()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for RemoteReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.current.is_empty() {
            match self.next_chunk() {
                Ok(Some(data)) => self.current = data,
                Ok(None) => {}
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amt: usize) {
        self.current.advance(amt.min(self.current.len()));
    }
}

impl Drop for RemoteReader {
    fn drop(&mut self) {
        if let Some(reader) = self.inner.take() {
            drop_on_runtime(reader);
        }
    }
}

/// The entries of a folder as they arrive: made by
/// [`Connection::read_dir`]; the blocking [`crate::ReadDir`]. An iterator
/// of `Result<DirEntry, Error>` that ends after an error.
pub struct ReadDir {
    entries: Batched<crate::ReadDir>,
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir")
            .field("inner", &self.entries.stream)
            .field("buffered", &self.entries.buffered.len())
            .finish()
    }
}

impl Iterator for ReadDir {
    type Item = Result<DirEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next()
    }
}

impl std::iter::FusedIterator for ReadDir {}

/// Everything below a folder: made by [`Connection::walk`]; the blocking
/// [`crate::Walk`]. An iterator of `Result<WalkEntry, Error>`: a folder
/// that cannot be listed yields its error and the walk goes on with the
/// others.
pub struct Walk {
    entries: Batched<crate::Walk>,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("inner", &self.entries.stream)
            .field("buffered", &self.entries.buffered.len())
            .finish()
    }
}

impl Walk {
    /// Lists up to `n` folders at once (at least 1;
    /// [`crate::WALK_CONCURRENCY`] unless set); see
    /// [`crate::Walk::concurrency`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.entries.stream = self.entries.stream.take().map(|w| w.concurrency(n));
        self
    }

    /// Goes no deeper than `depth` levels below the root (1: the root's own
    /// entries only); see [`crate::Walk::max_depth`].
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.entries.stream = self.entries.stream.take().map(|w| w.max_depth(depth));
        self
    }
}

impl Iterator for Walk {
    type Item = Result<WalkEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next()
    }
}

impl std::iter::FusedIterator for Walk {}

/// A stream read in batches on the runtime: each step takes what has
/// arrived (at least one item, at most [`BATCH`]).
struct Batched<S: Stream> {
    /// `None` at the end, or while a batch is read.
    stream: Option<S>,
    buffered: VecDeque<S::Item>,
}

impl<T, S> Batched<S>
where
    S: Stream<Item = Result<T, Error>> + Unpin + Send + 'static,
    T: Send + 'static,
{
    fn new(stream: S) -> Self {
        Batched {
            stream: Some(stream),
            buffered: VecDeque::new(),
        }
    }

    fn next(&mut self) -> Option<Result<T, Error>> {
        if let Some(item) = self.buffered.pop_front() {
            return Some(item);
        }
        let mut stream = self.stream.take()?;
        let batch = block(async move {
            let mut items = VecDeque::new();
            let mut ended = false;
            std::future::poll_fn(|cx| {
                while items.len() < BATCH {
                    match Pin::new(&mut stream).poll_next(cx) {
                        Poll::Ready(Some(item)) => items.push_back(item),
                        Poll::Ready(None) => {
                            ended = true;
                            break;
                        }
                        Poll::Pending if items.is_empty() => return Poll::Pending,
                        Poll::Pending => break,
                    }
                }
                Poll::Ready(())
            })
            .await;
            // An ended stream is dropped here, on the runtime.
            ((!ended).then_some(stream), items)
        });
        match batch {
            Ok((stream, items)) => {
                self.stream = stream;
                self.buffered = items;
                self.buffered.pop_front()
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl<S: Stream> Drop for Batched<S> {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            drop_on_runtime(stream);
        }
    }
}

/// The queue between a transfer on the runtime and the calling thread,
/// and the transfer's outcome. Only the calling thread waits on `changed`;
/// only the transfer's task waits on `state.waker`.
struct Pipe<T> {
    state: Mutex<PipeState<T>>,
    /// A chunk was queued or taken, or the transfer ended.
    changed: Condvar,
}

struct PipeState<T> {
    chunks: VecDeque<Bytes>,
    /// Buffers of chunks already handed over, for the next ones (fresh
    /// memory would be faulted in afresh for every chunk).
    spare: Vec<BytesMut>,
    /// The calling thread has queued its last chunk.
    end: bool,
    /// The calling thread's reader or writer failed: its error's kind and
    /// text, for the transfer.
    failed: Option<(io::ErrorKind, String)>,
    /// The transfer's task, waiting for room or for data.
    waker: Option<Waker>,
    /// How the transfer ended (or the panic that ended it), until the
    /// calling thread takes it.
    outcome: Option<std::thread::Result<Result<T, Error>>>,
    /// The transfer has ended.
    done: bool,
}

impl<T> Pipe<T> {
    fn new() -> Arc<Self> {
        Arc::new(Pipe {
            state: Mutex::new(PipeState {
                chunks: VecDeque::new(),
                spare: Vec::new(),
                end: false,
                failed: None,
                waker: None,
                outcome: None,
                done: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PipeState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, st: MutexGuard<'a, PipeState<T>>) -> MutexGuard<'a, PipeState<T>> {
        self.changed.wait(st).unwrap_or_else(|e| e.into_inner())
    }

    /// Records the transfer's outcome, unless it has one already.
    fn finish(&self, outcome: std::thread::Result<Result<T, Error>>) {
        let mut st = self.lock();
        if !st.done {
            st.done = true;
            st.outcome = Some(outcome);
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Keeps the buffer of `chunk`, handed over, for a next chunk, when
    /// nothing else holds it.
    fn recycle(&self, chunk: Bytes) {
        if let Ok(buf) = chunk.try_into_mut() {
            let mut st = self.lock();
            if st.spare.len() < DEPTH {
                st.spare.push(buf);
            }
        }
    }

    /// A buffer for a chunk: a spare one, or a new one.
    fn buffer(&self) -> BytesMut {
        self.lock()
            .spare
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(CHUNK))
    }

    /// Tells the transfer that the calling thread's reader or writer
    /// failed with `e`.
    fn fail(&self, e: &io::Error) {
        let waker = {
            let mut st = self.lock();
            st.failed = Some((e.kind(), e.to_string()));
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// On the calling thread: writes the chunks of a retrieve to `writer`
    /// as they come, then returns the retrieve's outcome.
    fn drain_into<W: Write + ?Sized>(&self, writer: &mut W) -> Result<T, Error> {
        loop {
            let (chunk, waker) = {
                let mut st = self.lock();
                loop {
                    if let Some(chunk) = st.chunks.pop_front() {
                        break (chunk, st.waker.take());
                    }
                    if let Some(outcome) = st.outcome.take() {
                        drop(st);
                        let n = unpanic(outcome)?;
                        writer.flush()?;
                        return Ok(n);
                    }
                    st = self.wait(st);
                }
            };
            if let Some(w) = waker {
                w.wake();
            }
            if let Err(e) = writer.write_all(&chunk) {
                self.fail(&e);
                return Err(Error::Io(e));
            }
            self.recycle(chunk);
        }
    }

    /// On the calling thread: reads `reader` to its end in chunks and
    /// queues them for a store, then returns the store's outcome (early if
    /// the store ends before the input does).
    fn feed_from<R: Read + ?Sized>(&self, reader: &mut R) -> Result<T, Error> {
        loop {
            let mut chunk = self.buffer();
            // A recycled buffer is initialized up to its last length: only
            // the rest is zeroed.
            chunk.resize(CHUNK, 0);
            let mut filled = 0;
            while filled < CHUNK {
                match reader.read(&mut chunk[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.fail(&e);
                        return Err(Error::Io(e));
                    }
                }
            }
            chunk.truncate(filled);
            let last = filled < CHUNK;
            let waker = {
                let mut st = self.lock();
                while st.chunks.len() >= DEPTH && st.outcome.is_none() {
                    st = self.wait(st);
                }
                if let Some(outcome) = st.outcome.take() {
                    drop(st);
                    return unpanic(outcome);
                }
                if !chunk.is_empty() {
                    st.chunks.push_back(chunk.freeze());
                }
                st.end = last;
                st.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            if last {
                break;
            }
        }
        let mut st = self.lock();
        loop {
            if let Some(outcome) = st.outcome.take() {
                drop(st);
                return unpanic(outcome);
            }
            st = self.wait(st);
        }
    }
}

/// The outcome of a transfer's task, its panic resumed here.
fn unpanic<T>(outcome: std::thread::Result<Result<T, Error>>) -> Result<T, Error> {
    match outcome {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Aborts a task when dropped: a transfer whose calling thread has given
/// up (or unwound) stops, and its requests are withdrawn.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Records a transfer's outcome in its pipe; dropped without one (the task
/// was aborted), records that it stopped.
struct Report<T>(Arc<Pipe<T>>);

impl<T> Drop for Report<T> {
    fn drop(&mut self) {
        self.0.finish(Ok(Err(stopped())));
    }
}

/// Spawns the transfer `fut` on the runtime; its outcome goes to `pipe`.
fn spawn_transfer<T, F>(pipe: &Arc<Pipe<T>>, fut: F) -> Result<AbortOnDrop, Error>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    let rt = runtime()?;
    let report = Report(pipe.clone());
    let task = rt.spawn(async move {
        let outcome = catch_unwind(fut).await;
        report.0.finish(outcome);
    });
    Ok(AbortOnDrop(task))
}

/// The writer a retrieve writes to on the runtime: it queues the data for
/// the calling thread.
struct ToCaller<T>(Arc<Pipe<T>>);

impl<T> AsyncWrite for ToCaller<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        {
            let mut st = self.0.lock();
            if let Some((kind, text)) = &st.failed {
                return Poll::Ready(Err(io::Error::new(*kind, text.clone())));
            }
            if st.chunks.len() >= DEPTH {
                st.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        // Only this task queues: the room seen above is still there.
        let n = buf.len().min(CHUNK);
        let mut chunk = self.0.buffer();
        chunk.clear();
        chunk.extend_from_slice(&buf[..n]);
        self.0.lock().chunks.push_back(chunk.freeze());
        self.0.changed.notify_all();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The reader a store reads from on the runtime: the chunks the calling
/// thread queues.
struct FromCaller<T> {
    pipe: Arc<Pipe<T>>,
    /// The chunk being read, and how far.
    current: Bytes,
    at: usize,
}

impl<T> FromCaller<T> {
    fn new(pipe: Arc<Pipe<T>>) -> Self {
        FromCaller {
            pipe,
            current: Bytes::new(),
            at: 0,
        }
    }
}

impl<T> AsyncRead for FromCaller<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at == this.current.len() {
            let done = std::mem::take(&mut this.current);
            this.at = 0;
            this.pipe.recycle(done);
            let mut st = this.pipe.lock();
            match st.chunks.pop_front() {
                Some(chunk) => {
                    this.current = chunk;
                    drop(st);
                    this.pipe.changed.notify_all();
                }
                None => {
                    if let Some((kind, text)) = &st.failed {
                        return Poll::Ready(Err(io::Error::new(*kind, text.clone())));
                    }
                    if !st.end {
                        st.waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    // The end of the input.
                    return Poll::Ready(Ok(()));
                }
            }
        }
        let n = (this.current.len() - this.at).min(buf.remaining());
        buf.put_slice(&this.current[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

// The handles are usable from many threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Connection>();
    send_sync::<RemoteFile>();
    send::<RemoteReader>();
    send::<ReadDir>();
    send::<Walk>();
    send::<Events>();
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A retrieve whose caller does not keep up holds at most DEPTH chunks.
    #[test]
    fn a_slow_caller_bounds_the_queue() {
        let pipe: Arc<Pipe<u64>> = Pipe::new();
        let mut to_caller = ToCaller(pipe.clone());
        let _task = spawn_transfer(&pipe, async move {
            use tokio::io::AsyncWriteExt;
            let block = vec![7u8; 1 << 20];
            for _ in 0..32 {
                to_caller.write_all(&block).await?;
            }
            Ok(32 << 20)
        })
        .unwrap();
        let mut most = 0;
        let mut total = 0u64;
        struct Slow<'a>(&'a Pipe<u64>, &'a mut usize, &'a mut u64);
        impl Write for Slow<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_micros(200));
                *self.1 = (*self.1).max(self.0.lock().chunks.len());
                *self.2 += buf.len() as u64;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let n = pipe
            .drain_into(&mut Slow(&pipe, &mut most, &mut total))
            .unwrap();
        assert_eq!(n, 32 << 20);
        assert_eq!(total, 32 << 20);
        assert!(most <= DEPTH, "{most} chunks queued");
    }

    /// A store whose transfer does not keep up holds at most DEPTH chunks,
    /// and sees the input whole.
    #[test]
    fn a_slow_transfer_bounds_the_queue() {
        let pipe: Arc<Pipe<u64>> = Pipe::new();
        let mut from_caller = FromCaller::new(pipe.clone());
        let p = pipe.clone();
        let _task = spawn_transfer(&pipe, async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0u64;
            loop {
                assert!(p.lock().chunks.len() <= DEPTH);
                let n = from_caller.read(&mut buf).await?;
                if n == 0 {
                    return Ok(total);
                }
                assert!(buf[..n].iter().all(|&b| b == 3));
                total += n as u64;
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
        })
        .unwrap();
        let input = vec![3u8; (20 << 20) + 5];
        let n = pipe.feed_from(&mut input.as_slice()).unwrap();
        assert_eq!(n, input.len() as u64);
    }

    #[test]
    fn a_panic_is_resumed_on_the_calling_thread() {
        let r = std::panic::catch_unwind(|| block(async { panic!("inside") }));
        let panic = r.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"inside"));
    }
}
