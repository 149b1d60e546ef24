//! Following DFS referrals (MS-DFSC §3.1.4): an operation on a path that
//! lies behind a DFS link (the server answers STATUS_PATH_NOT_COVERED) is
//! sent again to the link's target, on a connection to the target's server
//! made with the same credentials and settings; the referral is cached for
//! its TTL, and when a target cannot be reached the next one is tried.
//!
//! Each operation runs as a loop over a [`Route`]: [`Route::current`] says
//! where to send it (this connection, or a target's), [`Route::after`]
//! looks at the result and either ends the loop or moves the route (to the
//! referral's first target, or to the next one).

/// Runs `$body` with `|$c, $s, $p|` (context, share, path) bound to where
/// the operation goes, following DFS referrals and failing over between
/// targets; `once` does not send it again to another target after it
/// started on one (for writes that consumed their input).
macro_rules! via_dfs {
    (once; $ctx:expr, $share:expr, $path:expr, |$c:ident, $s:ident, $p:ident $(, $r:ident)?| $body:expr) => {
        $crate::ops::dfs_route::via_dfs!(@run false, $ctx, $share, $path, |$c, $s, $p $(, $r)?| $body)
    };
    (@run $failover:expr, $ctx:expr, $share:expr, $path:expr, |$c:ident, $s:ident, $p:ident $(, $r:ident)?| $body:expr) => {{
        let mut route = $crate::ops::dfs_route::Route::new($ctx, $share, $path, $failover).await;
        loop {
            let result = {
                $(let $r = &route;)?
                let ($c, $s, $p) = route.current();
                $body
            };
            match route.after(result).await {
                Ok(done) => break done,
                Err(()) => continue,
            }
        }
    }};
    ($ctx:expr, $share:expr, $path:expr, |$c:ident, $s:ident, $p:ident| $body:expr) => {
        $crate::ops::dfs_route::via_dfs!(@run true, $ctx, $share, $path, |$c, $s, $p| $body)
    };
}
pub(crate) use via_dfs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use smbkit_proto::NtStatus;
use tokio::time::{Duration, Instant};

use super::{Ctx, Origin};
use crate::connection::Connection;
use crate::error::Error;

/// How many DFS links one operation follows (a link whose target is in
/// another namespace is followed there too), against referral loops.
const MAX_DEPTH: u8 = 4;
/// The shortest time a referral is kept, whatever its TTL says.
const MIN_TTL: Duration = Duration::from_secs(1);

/// A cached referral: the path prefix it replaces and its targets.
#[derive(Debug, Clone)]
struct Entry {
    /// The prefix, lower-cased, as `\share\link` (without the server).
    prefix: String,
    /// The targets, as `(host, share, path below the share)`, in order.
    targets: Vec<(String, String, String)>,
    /// The target that worked last.
    good: usize,
    expires: Instant,
}

/// The DFS state a session's connections share: the referral cache and
/// the connections to target servers.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    /// How many links were followed to reach this session's server.
    pub(crate) depth: u8,
    cache: Mutex<Vec<Entry>>,
    servers: tokio::sync::Mutex<HashMap<String, Connection>>,
}

/// `\a\b` from `a/b`, `/a/b/`, `\a\b`.
fn normalize(path: &str) -> String {
    let p = path.replace('/', "\\");
    let p = p.trim_matches('\\');
    if p.is_empty() {
        String::new()
    } else {
        format!("\\{p}")
    }
}

/// Whether `full` (lower-cased) lies at or below `prefix` (a component boundary).
fn under(full: &str, prefix: &str) -> bool {
    full.starts_with(prefix)
        && (full.len() == prefix.len() || full.as_bytes().get(prefix.len()) == Some(&b'\\'))
}

/// Splits a referral target or a DFS path, `\host\share[\path]`.
fn split_target(t: &str) -> Option<(String, String, String)> {
    let mut parts = t.trim_start_matches('\\').splitn(3, '\\');
    let host = parts.next().filter(|h| !h.is_empty())?;
    let share = parts.next().filter(|s| !s.is_empty())?;
    let rest = parts.next().map(normalize).unwrap_or_default();
    Some((host.to_string(), share.to_string(), rest))
}

/// Where one operation goes.
pub(crate) struct Route {
    origin: Ctx,
    share: String,
    path: String,
    /// The connection, share and path the operation is sent to now.
    target: Option<(Connection, String, String)>,
    /// The referral being followed and the target in use.
    entry: Option<(Entry, usize, String)>,
    /// The target tried first for this operation, and how many were tried.
    start: usize,
    tried: usize,
    resolved: bool,
    /// Whether a target that fails during the operation is replaced by
    /// the next one.
    failover: bool,
}

impl Route {
    /// A route for `share`/`path` from `ctx`'s connection: a cached
    /// referral's target when one covers the path, the connection itself
    /// otherwise.
    pub(crate) async fn new(ctx: &Ctx, share: &str, path: &str, failover: bool) -> Route {
        let mut r = Route {
            origin: ctx.clone(),
            share: share.trim_matches(|c| c == '\\' || c == '/').to_string(),
            path: path.to_string(),
            target: None,
            entry: None,
            start: 0,
            tried: 0,
            resolved: false,
            failover,
        };
        let cached = {
            let cache = r.routes().cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.is_empty() {
                // No referral followed yet (most sessions): nothing to look up.
                drop(cache);
                return r;
            }
            let full = r.full().to_lowercase();
            let now = Instant::now();
            cache
                .iter()
                .filter(|e| e.expires > now && under(&full, &e.prefix))
                .max_by_key(|e| e.prefix.len())
                .cloned()
        };
        if let Some(e) = cached {
            let rest = r.full()[e.prefix.len()..].to_string();
            r.start = e.good;
            r.resolved = true;
            if r.select(e, rest).await.is_err() {
                r.target = None;
            }
        }
        r
    }

    fn routes(&self) -> &Routes {
        &self.origin.session.dfs
    }

    /// `\share\path` as sent in a referral request (after the server name).
    fn full(&self) -> String {
        format!("\\{}{}", self.share, normalize(&self.path))
    }

    /// `other`, a second path of the same share (a rename's destination),
    /// as it is named where the operation now goes.
    pub(crate) fn map_path(&self, other: &str) -> String {
        let (Some(_), Some((entry, i, _))) = (&self.target, &self.entry) else {
            return other.to_string();
        };
        let full = format!("\\{}{}", self.share, normalize(other));
        if !under(&full.to_lowercase(), &entry.prefix) {
            return other.to_string();
        }
        format!("{}{}", entry.targets[*i].2, &full[entry.prefix.len()..])
    }

    /// The context, share and path to send the operation to.
    pub(crate) fn current(&self) -> (&Ctx, &str, &str) {
        match &self.target {
            Some((c, s, p)) => (&c.ctx, s, p),
            None => (&self.origin, &self.share, &self.path),
        }
    }

    /// Looks at an attempt's result: `Ok(result)` ends the operation;
    /// `Err(())` means send it again to where [`current`](Self::current)
    /// now says.
    pub(crate) async fn after<T>(
        &mut self,
        result: Result<T, Error>,
    ) -> Result<Result<T, Error>, ()> {
        match &result {
            Err(Error::OperationFailure { status, .. })
                if *status == NtStatus::PATH_NOT_COVERED && !self.resolved =>
            {
                self.resolved = true;
                match self.resolve().await {
                    Ok(()) => Err(()),
                    Err(e) => {
                        tracing::debug!(error = %e, "no DFS referral for the path");
                        Ok(result)
                    }
                }
            }
            Err(e) if self.failover && self.entry.is_some() && unreachable(e) => {
                match self.next_target().await {
                    true => Err(()),
                    false => Ok(result),
                }
            }
            _ => {
                if let Some((entry, i, _)) = &self.entry {
                    self.remember(entry.clone(), *i);
                }
                Ok(result)
            }
        }
    }

    /// Asks this connection's server for the referral of the path and
    /// moves to its first target that can be reached.
    async fn resolve(&mut self) -> Result<(), Error> {
        if self.routes().depth >= MAX_DEPTH {
            return Err(Error::Internal(crate::error::Internal::Unexpected(
                "DFS links nested too deep",
            )));
        }
        let server = self.origin.remote_name().to_string();
        let request = format!("\\{server}{}", self.full());
        let conn = Connection {
            ctx: self.origin.clone(),
        };
        let answer = conn.dfs_referral(&request).await?;
        let consumed = answer.consumed(&request).ok_or(Error::Internal(
            crate::error::Internal::Unexpected("a DFS referral consumed more than the path"),
        ))?;
        let rest = request[consumed.len()..].to_string();
        let prefix = consumed[1 + server.len()..].to_lowercase();
        let ttl = answer
            .referrals()
            .map(|r| r.ttl)
            .min()
            .map(|t| Duration::from_secs(u64::from(t)).max(MIN_TTL))
            .unwrap_or(MIN_TTL);
        let targets: Vec<(String, String, String)> = answer
            .referrals()
            .filter_map(|r| split_target(&r.target))
            .collect();
        if targets.is_empty() {
            return Err(Error::Internal(crate::error::Internal::Unexpected(
                "a DFS referral without targets",
            )));
        }
        let entry = Entry {
            prefix,
            targets,
            good: 0,
            expires: Instant::now() + ttl,
        };
        tracing::debug!(prefix = %entry.prefix, targets = ?entry.targets, "following a DFS referral");
        self.start = 0;
        self.select(entry, rest).await
    }

    /// Moves to the next target of `entry` not tried yet, counting from
    /// `start`, that can be reached; `rest` is the path below the
    /// referral's prefix.
    async fn select(&mut self, entry: Entry, rest: String) -> Result<(), Error> {
        let n = entry.targets.len();
        let mut last = None;
        while self.tried < n {
            let i = (self.start + self.tried) % n;
            self.tried += 1;
            let (host, share, base) = entry.targets[i].clone();
            match self.connect(&host).await {
                Ok(c) => {
                    let path = format!("{base}{rest}");
                    self.target = Some((c, share, path));
                    self.entry = Some((entry, i, rest));
                    return Ok(());
                }
                Err(e) => {
                    tracing::debug!(%host, error = %e, "a DFS target cannot be reached; trying the next");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(Error::NotConnected))
    }

    /// After a target failed: the next one, if any.
    async fn next_target(&mut self) -> bool {
        let Some((entry, i, rest)) = self.entry.take() else {
            return false;
        };
        // The connection to a server that failed is not used again.
        let host = entry.targets[i].0.to_lowercase();
        self.routes().servers.lock().await.remove(&host);
        self.select(entry, rest).await.is_ok()
    }

    /// Keeps `entry` with target `i` as the one to use first.
    fn remember(&self, mut entry: Entry, i: usize) {
        entry.good = i;
        let mut cache = self
            .routes()
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        cache.retain(|e| e.expires > now && e.prefix != entry.prefix);
        cache.push(entry);
    }

    async fn connect(&self, host: &str) -> Result<Connection, Error> {
        connect_target(&self.origin, host).await
    }
}

/// A connection to `host` (at the port of `origin`'s connection, or the
/// address [`crate::SmbProtocolFactory::resolve`] gives), made once per
/// session and kept.
async fn connect_target(origin: &Ctx, host: &str) -> Result<Connection, Error> {
    {
        let key = host.to_lowercase();
        let mut servers = origin.session.dfs.servers.lock().await;
        if let Some(c) = servers.get(&key) {
            if c.is_ready() {
                return Ok(c.clone());
            }
        }
        let session = &origin.session;
        let port = match &session.origin {
            Origin::Address(addrs) => addrs.first().map_or(445, |a| a.port()),
            Origin::Stream => 445,
        };
        let mut f = session.factory.clone();
        let label = host.split('.').next().unwrap_or(host);
        if crate::factory::check_name("remote_name", label).is_ok() && !is_ip(host) {
            f.remote_name = label.to_ascii_uppercase();
        }
        f.kerberos.service_host = Some(host.to_string());
        f.kerberos.cached = Arc::new(Mutex::new(None));
        let depth = session.dfs.depth + 1;
        let fixed = f
            .resolve
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, a)| *a);
        let conn = match fixed {
            Some(addr) => crate::handshake::connect_nested(f, addr, depth).await?,
            None => crate::handshake::connect_nested(f, (host, port), depth).await?,
        };
        let conn = match origin.timeout {
            Some(t) => conn.with_timeout(t),
            None => conn,
        };
        servers.insert(key, conn.clone());
        Ok(conn)
    }
}

/// Where a DFS path lives: a connection to its server, the share and the
/// path in it; from [`Connection::resolve_dfs_path`].
#[derive(Debug, Clone)]
pub struct DfsLocation {
    /// A connection to the server that holds the path.
    pub connection: Connection,
    /// The share on it.
    pub share: String,
    /// The path in the share (backslashes, with a leading one; empty for
    /// the share's root).
    pub path: String,
}

impl Connection {
    /// Where the DFS path `unc` (`\\domain\namespace\path`, or
    /// `\\server\root\path`) lives, resolved as MS-DFSC §3.1.4.1 does: this
    /// connection's server (a domain controller, for a domain-based
    /// namespace) is asked for the domain referral of `\\domain`; when it
    /// knows the domain, its root referral of `\\domain\namespace` names the
    /// namespace's root servers, and the first one that can be reached is
    /// connected to (with this connection's settings, at its port, or the
    /// address [`crate::SmbProtocolFactory::resolve`] gives). When the first
    /// component is no domain the controller knows, it names a server, and
    /// that server is connected to. Links below the root are then followed
    /// by the operations on the [`DfsLocation`]'s connection, as always.
    ///
    /// ```no_run
    /// # async fn demo(dc: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let loc = dc.resolve_dfs_path(r"\\example.com\public\reports").await?;
    /// for f in loc.connection.list_path(&loc.share, &loc.path).await? {
    ///     println!("{}", f.filename);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`crate::InvalidArgument::DfsPath`] for a path without a server
    /// or domain and a namespace; the referral's errors
    /// ([`Connection::dfs_referral`]); the last target's error when none
    /// can be reached.
    pub async fn resolve_dfs_path(&self, unc: &str) -> Result<DfsLocation, Error> {
        let Some((first, ns, rest)) = split_target(&unc.replace('/', "\\")) else {
            return Err(crate::error::InvalidArgument::DfsPath(unc.to_string()).into());
        };
        let is_domain = match self.dfs_referral(&format!("\\{first}")).await {
            Ok(answer) => answer.name_lists().any(|n| {
                n.special_name
                    .trim_start_matches('\\')
                    .eq_ignore_ascii_case(&first)
                    && !n.expanded_names.is_empty()
            }),
            Err(e) => {
                tracing::debug!(error = %e, %first, "no domain referral: a server name");
                false
            }
        };
        if !is_domain {
            let connection = connect_target(&self.ctx, &first).await?;
            return Ok(DfsLocation {
                connection,
                share: ns,
                path: rest,
            });
        }
        // The root referral names the namespace only (MS-DFSC §3.1.4.1
        // step 6); links below it are followed as the operations meet them.
        let request = format!("\\{first}\\{ns}");
        let answer = self.dfs_referral(&request).await?;
        let consumed = answer.consumed(&request).unwrap_or(&request);
        let below = format!("{}{rest}", &request[consumed.len()..]);
        let mut last = None;
        for (host, share, base) in answer.referrals().filter_map(|r| split_target(&r.target)) {
            match connect_target(&self.ctx, &host).await {
                Ok(connection) => {
                    return Ok(DfsLocation {
                        connection,
                        share,
                        path: format!("{base}{below}"),
                    })
                }
                Err(e) => {
                    tracing::debug!(%host, error = %e, "a namespace root server cannot be reached");
                    last = Some(e);
                }
            }
        }
        Err(
            last.unwrap_or(Error::Internal(crate::error::Internal::Unexpected(
                "a DFS root referral without targets",
            ))),
        )
    }
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// Errors that mean the target's server cannot be reached.
fn unreachable(e: &Error) -> bool {
    match e {
        Error::NotConnected | Error::Io(_) | Error::Timeout { .. } => true,
        Error::ConnectionClosed { cause } => unreachable(cause),
        Error::ReconnectFailed { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_targets() {
        assert_eq!(normalize("a/b/"), "\\a\\b");
        assert_eq!(normalize("/"), "");
        assert!(under("\\root\\link\\x", "\\root\\link"));
        assert!(under("\\root\\link", "\\root\\link"));
        assert!(!under("\\root\\linked", "\\root\\link"));
        assert_eq!(
            split_target("\\127.0.0.2\\share"),
            Some(("127.0.0.2".into(), "share".into(), String::new()))
        );
        assert_eq!(
            split_target("\\srv\\share\\sub\\dir"),
            Some(("srv".into(), "share".into(), "\\sub\\dir".into()))
        );
        assert_eq!(split_target("\\srv"), None);
        assert_eq!(split_target(""), None);
    }
}
