//! [`Connection`]: an authenticated SMB session that many tasks can use at
//! once. This module is the public API only: every method hands its work
//! to the operations of [`crate::ops`], which run alike over SMB1 and
//! SMB 2/3.
//!
//! DFS: the operations that name a path (listings, attributes, folders,
//! deletes, renames, opens, transfers, watches, snapshots, security) follow
//! DFS links ([`crate::ops::dfs_route`]): when the server answers
//! STATUS_PATH_NOT_COVERED, the referral for the path
//! ([`Connection::dfs_referral`]) names target servers and shares; the
//! operation goes to the first target that can be reached, over a
//! connection made once with the same factory settings (credentials,
//! signing, encryption, Kerberos for `cifs/<target>`) at the same port, and
//! the referral is kept for its TTL. A target that fails during an
//! operation that can be repeated is replaced by the next; listings as
//! streams ([`Connection::read_dir`], [`Connection::walk`]) follow links
//! when they open each folder; copies follow both paths, and copy on the
//! server when both land on one session, streaming otherwise. Domain-based namespaces (`\\domain\namespace`) are resolved
//! with [`Connection::resolve_dfs_path`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smbkit_proto::dtyp::SecurityDescriptor;
use smbkit_proto::smb2::create::create_disposition;
use smbkit_proto::Dialect;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Error;
use crate::ops::dfs_route::via_dfs;
use crate::ops::transfer::{self, RemoteFile};
use crate::ops::{copy, listing, paths, security, session, shares, snapshots, Ctx, Session};
use crate::types::{ServerInfo, SharedDevice, SharedFile, TreeInfo};

/// Default `search` filter of [`Connection::list_path`]: read-only, hidden,
/// system, directory, archive and normal files (the reference's 65591).
pub const DEFAULT_SEARCH: u32 = smbkit_proto::fscc::search::DEFAULT;

/// An authenticated connection to an SMB server.
///
/// `Connection` is cheap to clone, and every clone talks over the same
/// session: many operations can run at once from many tasks, each waiting
/// only for its own response. Dropping the last clone closes the socket;
/// [`Connection::close`] also logs off first.
///
/// Paths behind DFS links are followed: an operation on such a path goes to
/// the link's target server and share (a connection made with the same
/// settings, at the same port, kept for later operations), the referral is
/// cached for its TTL, and a target that cannot be reached is skipped for
/// the next one (streamed listings and copies too: a copy whose two paths
/// land on two servers streams the data between them).
/// [`Connection::resolve_dfs_path`] resolves a domain-based
/// namespace (`\\domain\namespace`) through a domain controller, and
/// [`Connection::dfs_referral`] asks for a referral directly.
#[derive(Clone)]
pub struct Connection {
    pub(crate) ctx: Ctx,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("dialect", &self.ctx.info().dialect)
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(session: Session) -> Self {
        let session = Arc::new(session);
        session.watch_link(&session.link());
        Connection {
            ctx: Ctx {
                session,
                timeout: None,
            },
        }
    }

    /// True once the server has confirmed, in a signed
    /// FSCTL_VALIDATE_NEGOTIATE_INFO exchange after the first tree
    /// connect, that the NEGOTIATE was not tampered with (SMB 3.0 and 3.0.2
    /// with a signed-in user; MS-SMB2 §3.2.5.5). SMB 3.1.1 protects the
    /// negotiation with its preauth integrity hash instead, and earlier
    /// dialects, guest and anonymous sessions cannot validate: false there.
    pub fn is_negotiate_validated(&self) -> bool {
        self.ctx.family().is_negotiate_validated()
    }

    /// A handle to the same connection whose operations use `timeout`
    /// instead of their defaults.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use std::time::Duration;
    /// conn.with_timeout(Duration::from_millis(500)).echo(b"quick?").await?;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Connection {
        Connection {
            ctx: self.ctx.with_timeout(timeout),
        }
    }

    /// True while the connection is open and authenticated (the reference's
    /// `isReady`).
    pub fn is_ready(&self) -> bool {
        !self.ctx.is_closed()
    }

    /// True when the connection speaks SMB2 or SMB3 (the reference's
    /// `isUsingSMB2`).
    pub fn is_using_smb2(&self) -> bool {
        self.ctx.family().is_smb2()
    }

    /// The negotiated SMB2 dialect.
    pub fn dialect(&self) -> Dialect {
        self.ctx.info().dialect
    }

    /// What was negotiated with the server (on the connection in use now,
    /// when it has been re-established).
    pub fn server_info(&self) -> ServerInfo {
        self.ctx.info()
    }

    /// What happens to the connection's link with the server: connected,
    /// lost, reconnecting, given up, closed (see
    /// [`crate::SmbProtocolFactory::reconnect`]). The receiver holds the
    /// latest event; `changed().await` waits for the next. Events that
    /// follow each other closely (lost, then the first attempt at once)
    /// may be seen merged, as the latest one.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) {
    /// let mut events = conn.events();
    /// tokio::spawn(async move {
    ///     while events.changed().await.is_ok() {
    ///         eprintln!("connection: {:?}", *events.borrow());
    ///     }
    /// });
    /// # }
    /// ```
    pub fn events(&self) -> tokio::sync::watch::Receiver<crate::types::ConnectionEvent> {
        self.ctx.session.events()
    }

    /// Sends ECHO and returns `data`, as the reference does (an SMB2 ECHO
    /// carries no payload; the round trip proves the server answers; over
    /// SMB1 the server sends the data back). Default time limit: 10 s.
    pub async fn echo(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        session::echo(&self.ctx, data).await
    }

    /// Connects the tree `\\remote_name\share` (or returns the one already
    /// connected) and tells what the server said of it.
    pub async fn tree_connect(&self, share: &str) -> Result<TreeInfo, Error> {
        session::tree_connect(&self.ctx, share).await
    }

    /// Disconnects the tree of `share` if it is connected.
    pub async fn tree_disconnect(&self, share: &str) -> Result<(), Error> {
        session::tree_disconnect(&self.ctx, share).await
    }

    /// Disconnects every tree, logs off and closes the socket (the
    /// reference's `closeConnection`). Operations on any clone then fail
    /// with [`Error::NotConnected`]. Closing twice is harmless.
    pub async fn close(&self) -> Result<(), Error> {
        session::close(&self.ctx).await
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

    /// The entries of the folder `path` of `share` as a stream that yields
    /// them as each page of the listing arrives (QUERY_DIRECTORY over SMB
    /// 2/3, FIND_FIRST2/FIND_NEXT2 over SMB1), holding one page at a time:
    /// a folder of a million entries lists in bounded memory. `.` and `..`
    /// are left out. Nothing is sent until the stream is first polled.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let mut entries = conn.read_dir("share", "/docs");
    /// let mut total = 0;
    /// while let Some(e) = entries.next_entry().await? {
    ///     if !e.is_dir() {
    ///         total += e.len();
    ///     }
    /// }
    /// println!("{total} bytes in /docs");
    /// # Ok(()) }
    /// ```
    pub fn read_dir(&self, share: &str, path: &str) -> crate::ReadDir {
        listing::ReadDir::new(self.ctx.clone(), share, path)
    }

    /// Everything below the folder `path` of `share`, as a stream of
    /// [`crate::WalkEntry`] (path below `path`, depth, entry), listing
    /// [`crate::WALK_CONCURRENCY`] folders at once (see
    /// [`crate::Walk::concurrency`], [`crate::Walk::max_depth`]). Memory
    /// stays bounded by one page per folder being listed, plus the paths of
    /// the folders waiting. Reparse points (links, junctions) are listed
    /// but not followed.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let mut total = 0u64;
    /// let mut walk = conn.walk("share", "/");
    /// while let Some(item) = walk.next_entry().await? {
    ///     total += item.entry().len();
    /// }
    /// println!("{total} bytes on the share");
    /// # Ok(()) }
    /// ```
    pub fn walk(&self, share: &str, path: &str) -> crate::Walk {
        listing::Walk::new(self.ctx.clone(), share, path)
    }

    /// Watches the folder `path` of `share` for changes: files and folders
    /// added, removed, modified and renamed in it (and, with
    /// [`crate::WatchOptions::recursive`], below it), as a stream of
    /// [`crate::Change`] that goes on until the [`crate::Watch`] is
    /// dropped. Every change is reported once the server watches the
    /// folder (or, when too many come at once for the server to keep,
    /// [`crate::Change::Overflow`]: list the folder again). Returns once the
    /// server has taken the first request: an ECHO sent after it has been
    /// answered, a server handling the requests of a connection in order.
    /// Samba then registers the watch with its notify daemon by a message,
    /// a moment later; a change made in that moment is not reported (a
    /// caller that must see every change from some point on can make one
    /// of its own and wait for it).
    ///
    /// The folder is opened and stays open; one request at a time waits on
    /// it (SMB 2/3 CHANGE_NOTIFY, MS-SMB2 §2.2.35; SMB1
    /// NT_TRANSACT_NOTIFY_CHANGE, MS-CIFS §2.2.7.4), with the
    /// [options'](crate::WatchOptions) filter and output buffer, and the
    /// next goes out as soon as one is answered: the server keeps the
    /// changes made in between (MS-SMB2 §3.3.5.19), so none is lost. A
    /// request the server has taken waits without time limit and does not
    /// count as an answer owed for dead-peer detection; the connection's
    /// time limit applies to opening the folder and to the server taking
    /// each request. With a reconnect policy, a lost connection is made
    /// again, the folder opened and watched again, and the watch yields
    /// [`crate::Change::Overflow`] (changes made meanwhile are unknown).
    /// Dropping the watch withdraws the request (CANCEL, NT_CANCEL) and
    /// closes the folder.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use smbkit::{Change, NotifyFilter, WatchOptions};
    ///
    /// let options = WatchOptions {
    ///     recursive: true,
    ///     filter: NotifyFilter::NAMES | NotifyFilter::LAST_WRITE,
    ///     ..WatchOptions::default()
    /// };
    /// let mut watch = conn.watch("share", "/inbox", options).await?;
    /// while let Some(change) = watch.next_change().await? {
    ///     match change {
    ///         Change::Added(path) => println!("new: inbox/{path}"),
    ///         Change::Renamed { from, to } => println!("{from} is now {to}"),
    ///         Change::Overflow => println!("missed some: list /inbox again"),
    ///         other => println!("{other}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(
        &self,
        share: &str,
        path: &str,
        options: crate::WatchOptions,
    ) -> Result<crate::Watch, Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| crate::ops::notify::watch(
            c, s, p, options
        )
        .await)
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
        via_dfs!(&self.ctx, share, path, |c, s, p| listing::list_path(
            c, s, p, search, pattern
        )
        .await)
    }

    /// The attributes of the file or folder at `path`; the reference's
    /// `getAttributes`. One round trip (SMB2: CREATE + QUERY_INFO + CLOSE;
    /// SMB1: TRANS2 QUERY_PATH_INFORMATION).
    pub async fn get_attributes(&self, share: &str, path: &str) -> Result<SharedFile, Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| paths::get_attributes(
            c, s, p
        )
        .await)
    }

    /// Creates the folder `path`; the reference's `createDirectory`. The
    /// parent must exist.
    pub async fn create_directory(&self, share: &str, path: &str) -> Result<(), Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| paths::create_directory(
            c, s, p
        )
        .await)
    }

    /// Deletes the empty folder `path`; the reference's `deleteDirectory`.
    /// A folder that is not empty fails with STATUS_DIRECTORY_NOT_EMPTY and
    /// stays as it was.
    pub async fn delete_directory(&self, share: &str, path: &str) -> Result<(), Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| paths::delete_directory(
            c, s, p
        )
        .await)
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
        via_dfs!(&self.ctx, share, pattern, |c, s, p| paths::delete_files(
            c,
            s,
            p,
            delete_matching_folders
        )
        .await)
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
        via_dfs!(&self.ctx, share, pattern, |c, s, p| {
            paths::reset_file_attributes(c, s, p, attributes).await
        })
    }

    /// Sets the times of the file or folder `path` that `times` gives,
    /// leaving the others as they are (SMB2: CREATE + SET_INFO
    /// FileBasicInformation + CLOSE, one round trip; SMB1: TRANS2
    /// SET_PATH_INFORMATION with the pass-through level, MS-SMB
    /// §2.2.2.3.5). The reference's `setLastWriteTime` is
    /// `set_file_times(share, path, &FileTimes::new().modified(t))`. Times
    /// before 1601 cannot be written and are left as they are.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// conn.set_file_times("docs", "report.pdf", &smbkit::FileTimes::new().modified(t))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_file_times(
        &self,
        share: &str,
        path: &str,
        times: &crate::types::FileTimes,
    ) -> Result<(), Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| paths::set_file_times(
            c, s, p, times
        )
        .await)
    }

    /// Renames (or moves, within the share) the file or folder `old_path`
    /// to `new_path`; the reference's `rename`. An existing `new_path` is
    /// not replaced (STATUS_OBJECT_NAME_COLLISION).
    pub async fn rename(&self, share: &str, old_path: &str, new_path: &str) -> Result<(), Error> {
        via_dfs!(once; &self.ctx, share, old_path, |c, s, p, route| {
            let new_path = route.map_path(new_path);
            paths::rename(c, s, p, &new_path).await
        })
    }

    /// Opens the file `path` of `share` as `options` say (read, write,
    /// append, create, create_new, truncate, sharing), as
    /// [`std::fs::OpenOptions::open`] does. The [`RemoteFile`] reads with
    /// [`RemoteFile::read_at`] and [`RemoteFile::reader`], writes with
    /// [`RemoteFile::write_at`] and [`RemoteFile::append`], and has
    /// [`RemoteFile::set_len`], [`RemoteFile::flush`] and
    /// [`RemoteFile::metadata`]. Options that make no sense (truncate
    /// without write, …) are refused with [`Error::InvalidArgument`]
    /// before anything is sent; `create_new` on an existing file fails with
    /// STATUS_OBJECT_NAME_COLLISION.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use smbkit::OpenOptions;
    ///
    /// let f = conn
    ///     .open("share", "/notes.txt", OpenOptions::new().write(true).create(true))
    ///     .await?;
    /// f.write_at(0, b"hello").await?;
    /// f.set_len(5).await?;
    /// f.close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn open(
        &self,
        share: &str,
        path: &str,
        options: &crate::OpenOptions,
    ) -> Result<RemoteFile, Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| transfer::open_with(
            c, s, p, options
        )
        .await)
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
        via_dfs!(&self.ctx, share, path, |c, s, p| transfer::open_file(
            c, s, p
        )
        .await)
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
        via_dfs!(once; &self.ctx, share, path, |c, s, p| transfer::retrieve(c, s, p, writer, 0, None).await)
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
        via_dfs!(once; &self.ctx, share, path, |c, s, p| transfer::retrieve(c, s, p, writer, offset, max_length).await)
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
        via_dfs!(once; &self.ctx, share, path, |c, s, p| {
            transfer::store(c, s, p, reader, 0, create_disposition::OVERWRITE_IF).await
        })
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
        via_dfs!(once; &self.ctx, share, path, |c, s, p| transfer::store(c, s, p, reader, offset, disposition).await)
    }

    /// Copies the file `src_path` of `src_share` to `dst_path` of
    /// `dst_share` on this connection's server, which copies the data
    /// itself: nothing but a few small requests crosses the network.
    /// Returns the bytes copied. The shares may differ. The destination is
    /// created, or replaced when it exists (as [`Connection::store_file`]
    /// does); its folder must exist.
    ///
    /// The source is opened for reading, sharing it with readers only,
    /// and the server gives its resume key (FSCTL_SRV_REQUEST_RESUME_KEY,
    /// MS-SMB2 §3.3.5.15.5); the destination is opened for writing and its
    /// size set, then FSCTL_SRV_COPYCHUNK_WRITE requests (MS-SMB2
    /// §2.2.31.1, §3.3.5.15.6) copy 16 MiB each (16 chunks of 1 MiB, the
    /// limits of MS-SMB2 §3.3.3 that Windows and Samba use; see
    /// [`crate::Tuning::copy_chunk_size`]), four in flight. A server with
    /// smaller limits refuses the first requests with
    /// STATUS_INVALID_PARAMETER and its limits; the copy takes them once
    /// and goes on. As for the transfers, the time limit applies to each
    /// request.
    ///
    /// Errors: a missing source, a missing destination folder, a denied
    /// access are [`Error::OperationFailure`] with operation `"copy"`, the
    /// path concerned and the server's status; a source and destination
    /// that are the same file are [`crate::InvalidArgument::CopyOntoItself`]
    /// (or, under two names, STATUS_SHARING_VIOLATION on the destination,
    /// which is left as it was). A server that cannot copy by itself
    /// (Samba over SMB1) fails with
    /// [`crate::Unsupported::ServerSideCopy`] before the destination is
    /// touched; [`Connection::copy_to`] then streams the data instead. A
    /// connection lost during the copy fails it with
    /// [`Error::NotConnected`], unless the factory reconnects
    /// ([`crate::SmbProtocolFactory::reconnect`]): then it runs again on
    /// the new connection.
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let n = conn
    ///     .copy("share", "/isos/big.iso", "backup", "/isos/big.iso")
    ///     .await?;
    /// println!("{n} bytes copied by the server");
    /// # Ok(()) }
    /// ```
    pub async fn copy(
        &self,
        src_share: &str,
        src_path: &str,
        dst_share: &str,
        dst_path: &str,
    ) -> Result<u64, Error> {
        // Through DFS links the two paths may live on two servers: the
        // data is then streamed between them.
        via_dfs!(once; &self.ctx, src_share, src_path, |c1, s1, p1| {
            via_dfs!(once; &self.ctx, dst_share, dst_path, |c2, s2, p2| {
                if Arc::ptr_eq(&c1.session, &c2.session) {
                    copy::server_side(c1, s1, p1, s2, p2, &mut |_| {}).await
                } else {
                    copy::copy_to(c1, s1, p1, c2, s2, p2, &mut |_| {})
                        .await
                        .map(|c| c.bytes)
                }
            })
        })
    }

    /// Copies the file `src_path` of `src_share` on this connection's
    /// server to `dst_path` of `dst_share` on `dst`'s, the best way there
    /// is: by the server itself ([`Connection::copy`]) when `dst` is this
    /// connection or a clone of it (the server ties a copy's source to the
    /// session that opened it) and the server can; otherwise streamed
    /// through this client, read with several requests in flight and
    /// written likewise, in bounded memory. The destination is created or
    /// replaced. Returns the bytes copied and how.
    ///
    /// Errors as for [`Connection::copy`]. A streamed copy survives a lost
    /// connection as the transfers do, when the factory reconnects.
    ///
    /// ```no_run
    /// # async fn demo(office: smbkit::Connection, nas: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use smbkit::CopyMethod;
    ///
    /// // Within one server: the server copies.
    /// let c = office.copy_to("docs", "report.pdf", &office, "archive", "2024/report.pdf").await?;
    /// assert_eq!(c.method, CopyMethod::ServerSide);
    /// // Between two servers: the data goes through this client.
    /// let c = office.copy_to("docs", "report.pdf", &nas, "backup", "report.pdf").await?;
    /// println!("{} bytes, {:?}", c.bytes, c.method);
    /// # Ok(()) }
    /// ```
    pub async fn copy_to(
        &self,
        src_share: &str,
        src_path: &str,
        dst: &Connection,
        dst_share: &str,
        dst_path: &str,
    ) -> Result<crate::Copied, Error> {
        self.copy_to_with_progress(src_share, src_path, dst, dst_share, dst_path, |_| {})
            .await
    }

    /// [`Connection::copy_to`], calling `progress` with the bytes copied
    /// so far as the copy goes on (after each request of a server-side
    /// copy, each read of a streamed one; from 0 again should the copy
    /// start over on a new connection).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let size = conn.get_attributes("share", "big.iso").await?.file_size;
    /// conn.copy_to_with_progress("share", "big.iso", &conn, "share", "big-copy.iso", |n| {
    ///     eprint!("\r{} %", n * 100 / size.max(1));
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_to_with_progress<F: FnMut(u64) + Send>(
        &self,
        src_share: &str,
        src_path: &str,
        dst: &Connection,
        dst_share: &str,
        dst_path: &str,
        mut progress: F,
    ) -> Result<crate::Copied, Error> {
        via_dfs!(once; &self.ctx, src_share, src_path, |c1, s1, p1| {
            via_dfs!(once; &dst.ctx, dst_share, dst_path, |c2, s2, p2| {
                copy::copy_to(c1, s1, p1, c2, s2, p2, &mut progress).await
            })
        })
    }

    /// Lists the shares of the server; the reference's `listShares`.
    ///
    /// Connects `IPC$`, opens the `srvsvc` named pipe (MS-SRVS §2.1), binds
    /// to the SRVSVC interface v3.0 (MS-RPCE §2.2.2.3, C706 §12.6.4.3) and
    /// calls `NetrShareEnum` at information level 1 (MS-SRVS §3.1.4.8,
    /// §2.2.4.23), continuing with the resume handle while the server
    /// answers ERROR_MORE_DATA. Both PDUs travel in FSCTL_PIPE_TRANSCEIVE
    /// IOCTLs (MS-SMB2 §2.2.31, §3.2.4.20.1); a response larger than one
    /// IOCTL (STATUS_BUFFER_OVERFLOW, MS-SMB2 §3.3.4.4) or split into several
    /// fragments (C706 §12.6.4.10) is read from the pipe until the last
    /// fragment. The pipe is closed whatever happens. `ServerName` is sent
    /// as NULL, which names the server itself (the server ignores it,
    /// MS-SRVS §3.1.4.8).
    ///
    /// Every share the server lists is returned, `IPC$` and other special
    /// shares included (see [`SharedDevice::is_special`]), in the server's
    /// order. Default time limit: the factory's (30 s) for the whole
    /// listing.
    ///
    /// Errors: an RPC `fault` or a refused bind is an
    /// [`Error::OperationFailure`] (ACCESS_DENIED for an access fault,
    /// NOT_SUPPORTED for a refused bind or an unknown interface or
    /// operation); a `NET_API_STATUS` other than success is an
    /// [`Error::OperationFailure`] whose message carries the Win32 error
    /// and whose status is the closest NT status (ACCESS_DENIED for 5);
    /// malformed PDUs or stubs are [`Error::Protocol`].
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// for s in conn.list_shares().await? {
    ///     if !s.is_special {
    ///         println!("{} ({:?}) {}", s.name, s.share_type, s.comments);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Over SMB1 the transaction is SMB_COM_TRANSACTION TransactNmPipe
    /// (MS-CIFS §2.2.5.6), the reads READ_ANDX, and the pipe is opened with
    /// NT_CREATE_ANDX.
    pub async fn list_shares(&self) -> Result<Vec<SharedDevice>, Error> {
        shares::list_shares(&self.ctx).await
    }

    /// The previous versions (snapshots, shadow copies) of `path` on
    /// `share`, as UTC times; the reference's `listSnapshots`.
    ///
    /// `path` may be a file or a folder (the share root is `""` or `"/"`).
    /// Opens it, sends FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB2 §2.2.31,
    /// §3.2.4.20) with a 16-byte MaxOutputResponse, which tells how many
    /// snapshots exist and how large their list is (SRV_SNAPSHOT_ARRAY,
    /// MS-SMB2 §2.2.32.2, §3.3.5.15.1), then asks again with room for the
    /// whole list; each request is one CREATE + IOCTL + CLOSE compound
    /// (MS-SMB2 §3.2.4.1.4), so nothing is left open. The `@GMT-` tokens are
    /// converted to `SystemTime`s and returned in the server's order (Samba's
    /// `shadow:sort`; Windows lists newest first).
    ///
    /// A share without snapshot support is an error, as in the reference:
    /// [`Error::OperationFailure`] with the server's status, which is
    /// STATUS_INVALID_DEVICE_REQUEST from Samba without `shadow_copy2` and
    /// from Windows on file systems without volume shadow copies (or
    /// STATUS_NOT_SUPPORTED). A share that supports snapshots but has none
    /// gives an empty list. Callers that want "none" either way can match
    /// on [`Error::status`]. Default time limit: the factory's (30 s).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// use smbkit::NtStatus;
    /// let snapshots = match conn.list_snapshots("share", "/docs/report.odt").await {
    ///     Ok(v) => v,
    ///     Err(e) if e.status() == Some(NtStatus::INVALID_DEVICE_REQUEST) => Vec::new(),
    ///     Err(e) => return Err(e),
    /// };
    /// for t in snapshots {
    ///     println!("{t:?}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Over SMB1: NT_TRANSACT_IOCTL (MS-CIFS §2.2.7.2).
    pub async fn list_snapshots(&self, share: &str, path: &str) -> Result<Vec<SystemTime>, Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| snapshots::list_snapshots(
            c, s, p
        )
        .await)
    }

    /// The security descriptor of the file or folder `path` on `share`:
    /// its owner, primary group and DACL (the blocking reference's
    /// `getSecurity`).
    ///
    /// Opens `path` with READ_CONTROL and sends QUERY_INFO with InfoType
    /// SMB2_0_INFO_SECURITY and AdditionalInformation OWNER | GROUP | DACL
    /// (MS-SMB2 §2.2.37, §3.2.4.12) in one CREATE + QUERY_INFO + CLOSE
    /// compound (MS-SMB2 §3.2.4.1.4) with a 64 KiB output buffer. Should the
    /// descriptor not fit, the server answers STATUS_BUFFER_TOO_SMALL with
    /// the size it needs in the ERROR response (MS-SMB2 §2.2.2.2,
    /// §3.3.5.20.3), and the query is repeated with that size. The answer
    /// is decoded as a self-relative SECURITY_DESCRIPTOR (MS-DTYP §2.4.6).
    /// Default time limit: the factory's (30 s).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let sd = conn.get_security("share", "/docs/report.odt").await?;
    /// if let Some(owner) = &sd.owner {
    ///     println!("owner {owner}");
    /// }
    /// for ace in sd.dacl.iter().flat_map(|d| &d.aces) {
    ///     println!("{ace}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Over SMB1: NT_TRANSACT_QUERY_SECURITY_DESC (MS-CIFS §2.2.7.6).
    pub async fn get_security(&self, share: &str, path: &str) -> Result<SecurityDescriptor, Error> {
        via_dfs!(&self.ctx, share, path, |c, s, p| security::get_security(
            c, s, p
        )
        .await)
    }
}
