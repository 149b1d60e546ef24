//! The operations, each written once over the family primitives
//! ([`crate::family::Family`]) and run alike over SMB1 and SMB 2/3.
//!
//! ARCHITECTURE: `Connection` (the public API) is a [`Ctx`]: the
//! [`Session`] its clones share, and the time limit of its operations.
//! Each operation module takes a `&Ctx`, validates its arguments before
//! anything is sent, connects the tree it needs ([`Ctx::tree`]) and calls
//! primitives; per-family differences stay in `crate::family`.
//!
//! * [`session`]: echo, tree connect and disconnect, close.
//! * [`names`]: path normalisation and the limits of names.
//! * [`paths`]: attributes, folders, rename, delete and reset by pattern.
//! * [`listing`]: directory listings, with patterns and paging.
//! * [`transfer`]: retrieve, store, [`transfer::RemoteFile`] and its reader.
//! * [`shares`]: share enumeration over the `srvsvc` pipe.
//! * [`snapshots`], [`security`]: snapshot lists and security descriptors.
//! * [`notify`]: change notification, a folder watched as a stream.
//! * [`copy`]: server-side copies (FSCTL_SRV_COPYCHUNK_WRITE), and copies
//!   streamed between connections.
//! * [`dfs`]: DFS referrals (FSCTL_DFS_GET_REFERRALS,
//!   TRANS2_GET_DFS_REFERRAL).

pub(crate) mod copy;
pub(crate) mod dfs;
pub(crate) mod dfs_route;
pub(crate) mod listing;
pub(crate) mod names;
pub(crate) mod notify;
pub(crate) mod paths;
pub(crate) mod security;
pub(crate) mod session;
pub(crate) mod shares;
pub(crate) mod snapshots;
pub(crate) mod transfer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smbkit_proto::conn::reconnect::{Backoff, Next};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::Error;
use crate::factory::SmbProtocolFactory;
use crate::family::Family;
use crate::types::{ConnectionEvent, ServerInfo, TreeInfo};

/// How many times one step is repeated on a new connection.
pub(crate) const MAX_REPEATS: u32 = 3;

/// Where a session's connections come from.
pub(crate) enum Origin {
    /// TCP to these addresses: a lost connection can be made again.
    Address(Vec<SocketAddr>),
    /// A stream the caller gave: it cannot be opened again.
    Stream,
}

/// One established connection of a session: its family (and driver),
/// what was negotiated, and the trees connected over it. A reconnect
/// replaces the whole link.
pub(crate) struct Link {
    pub(crate) family: Family,
    pub(crate) info: ServerInfo,
    /// Counts the links of the session, from 0.
    pub(crate) generation: u64,
    /// The connected trees by lower-case share name.
    pub(crate) trees: tokio::sync::Mutex<HashMap<String, TreeInfo>>,
}

impl Link {
    fn new(family: Family, info: ServerInfo, generation: u64) -> Arc<Link> {
        Arc::new(Link {
            family,
            info,
            generation,
            trees: tokio::sync::Mutex::new(HashMap::new()),
        })
    }
}

/// What the clones of one connection share: the current link, and what
/// it takes to make another one when it is lost.
pub(crate) struct Session {
    link: std::sync::Mutex<Arc<Link>>,
    pub(crate) factory: SmbProtocolFactory,
    origin: Origin,
    /// The ClientGuid of every NEGOTIATE of the session (MS-SMB2
    /// §3.2.4.2.2.2), which durable reconnects rely on.
    client_guid: [u8; 16],
    /// Held while a reconnect runs: one at a time.
    recovering: tokio::sync::Mutex<()>,
    /// Rounds of reconnect attempts that gave up.
    gave_up: AtomicU32,
    /// Closed by the caller: never reconnected.
    closed: AtomicBool,
    reconnects: AtomicU32,
    events: watch::Sender<ConnectionEvent>,
    /// DFS referrals followed from this session, and the connections to
    /// their targets.
    pub(crate) dfs: dfs_route::Routes,
}

impl Session {
    pub(crate) fn new(
        family: Family,
        factory: SmbProtocolFactory,
        info: ServerInfo,
        origin: Origin,
        client_guid: [u8; 16],
    ) -> Self {
        Session {
            link: std::sync::Mutex::new(Link::new(family, info, 0)),
            factory,
            origin,
            client_guid,
            recovering: tokio::sync::Mutex::new(()),
            gave_up: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            reconnects: AtomicU32::new(0),
            events: watch::channel(ConnectionEvent::Connected { reconnects: 0 }).0,
            dfs: dfs_route::Routes::default(),
        }
    }

    /// The current link.
    pub(crate) fn link(&self) -> Arc<Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Events of the session's link.
    pub(crate) fn events(&self) -> watch::Receiver<ConnectionEvent> {
        self.events.subscribe()
    }

    /// Marks the session closed by the caller: it is not reconnected.
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.events.send_replace(ConnectionEvent::Closed);
    }

    /// True when a lost link is made again.
    pub(crate) fn can_reconnect(&self) -> bool {
        self.factory.reconnect.is_some()
            && matches!(self.origin, Origin::Address(_))
            && !self.closed.load(Ordering::SeqCst)
    }

    /// True when `e` says the link was lost and the session reconnects.
    pub(crate) fn is_lost(&self, e: &Error) -> bool {
        matches!(e, Error::NotConnected) && self.can_reconnect()
    }

    /// Reconnects as soon as `link` is lost, in the background, when the
    /// session reconnects: so that the loss is told when it happens and
    /// durable handles are taken back (by their next use) well within the
    /// time the server keeps them, even on a connection nobody is using.
    /// Holds the session only weakly.
    pub(crate) fn watch_link(self: &Arc<Self>, link: &Link) {
        if !self.can_reconnect() {
            return;
        }
        let closed = link.family.closed();
        let session = Arc::downgrade(self);
        let generation = link.generation;
        tokio::spawn(async move {
            closed.await;
            let Some(s) = session.upgrade() else {
                return;
            };
            if s.can_reconnect() && s.link().generation == generation {
                let _ = s.recover().await;
            }
        });
    }

    /// A live link: the current one, or once it is lost, a new one made
    /// by the reconnect policy. Callers that find the link lost at the
    /// same time wait for one reconnect.
    pub(crate) async fn recover(self: &Arc<Self>) -> Result<Arc<Link>, Error> {
        let rounds_failed = self.gave_up.load(Ordering::SeqCst);
        let _one = self.recovering.lock().await;
        let cur = self.link();
        if !cur.family.is_closed() {
            return Ok(cur);
        }
        if self.gave_up.load(Ordering::SeqCst) != rounds_failed {
            // A round this caller waited for gave up: it hears that, rather
            // than starting a round of its own at once.
            return Err(Error::NotConnected);
        }
        let (Some(policy), Origin::Address(addrs)) = (self.factory.reconnect, &self.origin) else {
            return Err(Error::NotConnected);
        };
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::NotConnected);
        }
        tracing::warn!("the connection to the server was lost; reconnecting");
        self.events.send_replace(ConnectionEvent::Lost);
        // The old driver may still be winding down (a dead peer's tasks).
        cur.family.stop("the connection was lost").await;
        let mut backoff = Backoff::new(policy, std::time::Instant::now());
        let mut last = Error::NotConnected;
        loop {
            let (attempt, at) = match backoff.next(std::time::Instant::now()) {
                Next::Attempt { attempt, at } => (attempt, at),
                Next::GiveUp { attempts } => {
                    self.gave_up.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(attempts, error = %last, "giving up reconnecting");
                    self.events.send_replace(ConnectionEvent::GaveUp {
                        attempts,
                        error: last.to_string(),
                    });
                    return Err(Error::ReconnectFailed {
                        attempts,
                        last: Box::new(last),
                    });
                }
            };
            tokio::time::sleep_until(Instant::from_std(at)).await;
            if self.closed.load(Ordering::SeqCst) {
                return Err(Error::NotConnected);
            }
            tracing::info!(attempt, "reconnecting");
            self.events
                .send_replace(ConnectionEvent::Reconnecting { attempt });
            match crate::handshake::dial(&self.factory, addrs, self.client_guid).await {
                Ok((family, _)) if self.closed.load(Ordering::SeqCst) => {
                    // Closed by the caller while reconnecting.
                    family.stop("closed by the caller").await;
                    return Err(Error::NotConnected);
                }
                Ok((family, info)) => {
                    let link = Link::new(family, info, cur.generation + 1);
                    *self.link.lock().unwrap_or_else(|e| e.into_inner()) = link.clone();
                    self.watch_link(&link);
                    let reconnects = self.reconnects.fetch_add(1, Ordering::SeqCst) + 1;
                    tracing::info!(attempt, reconnects, "reconnected");
                    self.events
                        .send_replace(ConnectionEvent::Connected { reconnects });
                    return Ok(link);
                }
                Err(e @ Error::AuthFailed { .. }) => {
                    // The credentials will not get better by trying again.
                    self.gave_up.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(error = %e, "reconnecting: authentication failed");
                    self.events.send_replace(ConnectionEvent::GaveUp {
                        attempts: attempt,
                        error: e.to_string(),
                    });
                    return Err(Error::ReconnectFailed {
                        attempts: attempt,
                        last: Box::new(e),
                    });
                }
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "reconnect attempt failed");
                    last = e;
                }
            }
        }
    }
}

/// A session and the time limit its operations get: what operations run
/// with. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) session: Arc<Session>,
    /// Replaces the operations' default limits when set.
    pub(crate) timeout: Option<Duration>,
}

impl Ctx {
    /// The family of the current link.
    pub(crate) fn family(&self) -> Family {
        self.session.link().family.clone()
    }

    /// What was negotiated on the current link.
    pub(crate) fn info(&self) -> ServerInfo {
        self.session.link().info.clone()
    }

    /// The server's NetBIOS name as the factory was given it.
    pub(crate) fn remote_name(&self) -> &str {
        &self.session.factory.remote_name
    }

    /// True once the connection is closed, or lost with no reconnect
    /// to come.
    pub(crate) fn is_closed(&self) -> bool {
        self.session.closed.load(Ordering::SeqCst)
            || (self.session.link().family.is_closed() && !self.session.can_reconnect())
    }

    /// Fails with [`Error::NotConnected`] once the connection is closed.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if self.is_closed() {
            Err(Error::NotConnected)
        } else {
            Ok(())
        }
    }

    /// A live link: the current one, or a new one if it was lost and the
    /// session reconnects.
    pub(crate) async fn live_link(&self) -> Result<Arc<Link>, Error> {
        self.check_open()?;
        let link = self.session.link();
        if !link.family.is_closed() {
            return Ok(link);
        }
        self.session.recover().await
    }

    /// Runs `op`, and runs it again on a new connection when the
    /// connection was lost while it ran and the session reconnects: for
    /// steps that may be repeated (opens, whole small reads and writes).
    pub(crate) async fn again_if_lost<T, F, Fut>(&self, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut tries = 0;
        loop {
            match op().await {
                Err(e) if tries < MAX_REPEATS && self.session.is_lost(&e) => {
                    tries += 1;
                    self.session.recover().await?;
                }
                r => return r,
            }
        }
    }

    /// The time limit an operation with `default` as its own default gets.
    pub(crate) fn limit(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }

    /// The limit of operations whose default is the factory's timeout.
    pub(crate) fn op_limit(&self) -> Duration {
        self.timeout.unwrap_or(self.session.factory.timeout)
    }

    /// The deadline and limit for an operation whose whole run is timed.
    pub(crate) fn op_deadline(&self) -> (Instant, Duration) {
        let limit = self.op_limit();
        (Instant::now() + limit, limit)
    }

    /// The same session with `timeout` as every operation's limit.
    pub(crate) fn with_timeout(&self, timeout: Duration) -> Ctx {
        Ctx {
            session: self.session.clone(),
            timeout: Some(timeout),
        }
    }

    /// The tree id of `share`, connecting it if needed, within `deadline`.
    pub(crate) async fn tree(&self, share: &str, deadline: Instant) -> Result<u32, Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let t = session::tree_connect(&self.with_timeout(remaining), share).await?;
        Ok(t.tree_id)
    }
}

/// Reports the operation's whole limit in timeout errors.
pub(crate) fn with_limit(e: Error, limit: Duration) -> Error {
    match e {
        Error::Timeout { operation, .. } => Error::Timeout {
            operation,
            after: limit,
        },
        e => e,
    }
}

/// [`timed`] for operations that only read: when the connection is lost
/// while one runs and the session reconnects, it runs again, whole, on the
/// new connection (each run with its own limit).
pub(crate) async fn timed_again<T, F>(ctx: &Ctx, op: impl Fn(Instant) -> F) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, Error>>,
{
    ctx.again_if_lost(|| timed(ctx, &op)).await
}

/// Runs `op` within the factory's limit (or the connection's), reporting
/// that limit in timeout errors.
pub(crate) async fn timed<T, F>(ctx: &Ctx, op: impl FnOnce(Instant) -> F) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, Error>>,
{
    let (deadline, limit) = ctx.op_deadline();
    op(deadline).await.map_err(|e| with_limit(e, limit))
}
