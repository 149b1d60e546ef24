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

pub(crate) mod listing;
pub(crate) mod names;
pub(crate) mod paths;
pub(crate) mod security;
pub(crate) mod session;
pub(crate) mod shares;
pub(crate) mod snapshots;
pub(crate) mod transfer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::factory::SmbProtocolFactory;
use crate::family::Family;
use crate::types::{ServerInfo, TreeInfo};

/// What the clones of one connection share.
pub(crate) struct Session {
    pub(crate) family: Family,
    pub(crate) info: ServerInfo,
    pub(crate) factory: SmbProtocolFactory,
    /// The connected trees by lower-case share name.
    trees: tokio::sync::Mutex<HashMap<String, TreeInfo>>,
}

impl Session {
    pub(crate) fn new(family: Family, factory: SmbProtocolFactory, info: ServerInfo) -> Self {
        Session {
            family,
            info,
            factory,
            trees: tokio::sync::Mutex::new(HashMap::new()),
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
    pub(crate) fn family(&self) -> &Family {
        &self.session.family
    }

    pub(crate) fn info(&self) -> &ServerInfo {
        &self.session.info
    }

    /// The server's NetBIOS name as the factory was given it.
    pub(crate) fn remote_name(&self) -> &str {
        &self.session.factory.remote_name
    }

    /// True once the connection is closed or its stream has died.
    pub(crate) fn is_closed(&self) -> bool {
        self.session.family.is_closed()
    }

    /// Fails with [`Error::NotConnected`] once the connection is closed.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if self.is_closed() {
            Err(Error::NotConnected)
        } else {
            Ok(())
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

/// Runs `op` within the factory's limit (or the connection's), reporting
/// that limit in timeout errors.
pub(crate) async fn timed<T, F>(ctx: &Ctx, op: impl FnOnce(Instant) -> F) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, Error>>,
{
    let (deadline, limit) = ctx.op_deadline();
    op(deadline).await.map_err(|e| with_limit(e, limit))
}
