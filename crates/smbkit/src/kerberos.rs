//! Kerberos for the driver: which credentials and KDCs to use (the
//! factory's settings, `krb5.conf`, `KRB5CCNAME`), and the KDC exchanges of
//! [`TicketRequest`] carried over TCP (RFC 4120 §7.2.2).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smbkit_proto::kerberos::{
    service_principal, Ccache, KdcStep, KerberosCredentials, KerberosError, Keytab, Krb5Conf,
    Principal, ServiceTicket, TicketRequest, NT_PRINCIPAL,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::error::Error;
use crate::factory::SmbProtocolFactory;

/// Whether to authenticate with Kerberos; set with
/// [`SmbProtocolFactory::kerberos`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kerberos {
    /// NTLM only (the default).
    #[default]
    Off,
    /// Kerberos when a ticket can be had; NTLM with the password when it
    /// cannot (no realm, no KDC, no ticket in the cache, a KDC refusal).
    Preferred,
    /// Kerberos or no connection: NTLM is never tried.
    Required,
}

/// A KDC answer larger than this is refused (tickets with large PACs
/// stay far below it).
const MAX_KDC_REPLY: usize = 1 << 20;
/// How long one KDC may take to answer one request.
const KDC_TIMEOUT: Duration = Duration::from_secs(10);
/// A cached service ticket is used again until this long before it expires.
const TICKET_MARGIN: u64 = 60;

/// The factory's Kerberos settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    pub(crate) mode: Kerberos,
    pub(crate) ccache: Option<PathBuf>,
    pub(crate) keytab: Option<PathBuf>,
    pub(crate) realm: Option<String>,
    pub(crate) kdcs: Vec<String>,
    pub(crate) krb5_conf: Option<PathBuf>,
    pub(crate) service_host: Option<String>,
    /// The last service ticket, for reconnecting without a KDC.
    pub(crate) cached: Arc<Mutex<Option<ServiceTicket>>>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The ticket the connection authenticates with: `None` for NTLM (Kerberos
/// off, or Preferred and no ticket to be had).
pub(crate) async fn ticket_for(
    f: &SmbProtocolFactory,
    deadline: Instant,
) -> Result<Option<ServiceTicket>, Error> {
    let s = &f.kerberos;
    if s.mode == Kerberos::Off {
        return Ok(None);
    }
    let cached = s.cached.lock().ok().and_then(|c| c.clone());
    if let Some(t) = cached {
        if t.end_time > now_unix() + TICKET_MARGIN {
            return Ok(Some(t));
        }
    }
    match obtain(f, deadline).await {
        Ok(t) => {
            if let Ok(mut c) = s.cached.lock() {
                *c = Some(t.clone());
            }
            Ok(Some(t))
        }
        Err(e) if s.mode == Kerberos::Preferred => {
            tracing::warn!(error = %e, "no Kerberos ticket; authenticating with NTLM");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Runs the AS/TGS exchanges for a ticket to `cifs/<host>`.
async fn obtain(f: &SmbProtocolFactory, deadline: Instant) -> Result<ServiceTicket, Error> {
    let s = &f.kerberos;
    let conf = load_conf(s.krb5_conf.as_deref())?;
    let creds = credentials(f, &conf)?;
    let host = s
        .service_host
        .clone()
        .unwrap_or_else(|| f.remote_name.to_ascii_lowercase());
    let client = creds.principal().clone();
    let realm = s
        .realm
        .clone()
        .or_else(|| conf.realm_of_host(&host))
        .unwrap_or_else(|| client.realm.clone());
    let service = service_principal("cifs", &host, &realm);
    let mut req = TicketRequest::new(creds, service, &f.my_name, now_unix());
    let mut step = req.start().map_err(Error::Kerberos)?;
    let mut rounds = 0;
    loop {
        match step {
            KdcStep::Done(t) => return Ok(*t),
            KdcStep::Send { realm, request } => {
                rounds += 1;
                if rounds > 8 {
                    return Err(Error::Kerberos(KerberosError::State(
                        "more than 8 KDC exchanges",
                    )));
                }
                let kdcs = if s.kdcs.is_empty() {
                    conf.kdcs(&realm).to_vec()
                } else {
                    s.kdcs.clone()
                };
                let reply = exchange(&realm, &kdcs, &request, deadline).await?;
                step = req.receive(&reply).map_err(Error::Kerberos)?;
            }
        }
    }
}

/// The client's credentials: a keytab if one is set, a credential cache if
/// one is set, the password if there is one, else the default cache.
fn credentials(f: &SmbProtocolFactory, conf: &Krb5Conf) -> Result<KerberosCredentials, Error> {
    let s = &f.kerberos;
    let principal = || client_principal(f, conf);
    if let Some(path) = &s.keytab {
        let bytes = read_file(path, "keytab")?;
        let keytab = Keytab::parse(&bytes)
            .map_err(|e| Error::Kerberos(KerberosError::malformed_file("keytab", path, e)))?;
        return Ok(KerberosCredentials::Keytab {
            principal: principal()?,
            keytab,
        });
    }
    if s.ccache.is_none() {
        let password = f.password.get();
        if !password.is_empty() {
            return Ok(KerberosCredentials::Password {
                principal: principal()?,
                password,
            });
        }
    }
    let path = ccache_path(s.ccache.as_deref(), conf)?;
    let bytes = read_file(&path, "credential cache")?;
    let cache = Ccache::parse(&bytes).map_err(|e| {
        Error::Kerberos(KerberosError::malformed_file("credential cache", &path, e))
    })?;
    Ok(KerberosCredentials::Cache(cache))
}

/// `user@REALM` from the factory's user name and realm, krb5.conf's
/// default realm, or the domain.
fn client_principal(f: &SmbProtocolFactory, conf: &Krb5Conf) -> Result<Principal, Error> {
    let user = f.username.as_str();
    let (name, realm) = match user.rsplit_once('@') {
        Some((n, r)) => (n.to_string(), Some(r.to_string())),
        None => (user.to_string(), None),
    };
    let realm = realm
        .or_else(|| f.kerberos.realm.clone())
        .or_else(|| conf.default_realm.clone())
        .or_else(|| (!f.domain.is_empty()).then(|| f.domain.to_ascii_uppercase()))
        .ok_or_else(|| Error::Kerberos(KerberosError::NoRealm(user.to_string())))?;
    Ok(Principal {
        name_type: NT_PRINCIPAL,
        realm,
        components: name.split('/').map(str::to_string).collect(),
    })
}

/// The credential cache to read: the factory's, `KRB5CCNAME`, krb5.conf's
/// `default_ccache_name`, or `/tmp/krb5cc_<uid>` (MIT's default). Only
/// `FILE:` caches can be read.
fn ccache_path(explicit: Option<&Path>, conf: &Krb5Conf) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let name = std::env::var("KRB5CCNAME")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| conf.default_ccache_name.clone());
    match name {
        Some(n) => match n.split_once(':') {
            Some(("FILE", p)) => Ok(PathBuf::from(p)),
            Some((kind, _)) if !kind.contains('/') => Err(Error::Kerberos(
                KerberosError::UnsupportedCache(kind.to_string()),
            )),
            _ => Ok(PathBuf::from(n)),
        },
        None => Ok(PathBuf::from(format!("/tmp/krb5cc_{}", uid()))),
    }
}

/// The process's user id (the owner of `/proc/self`), 0 if unknown.
fn uid() -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// `krb5.conf`: the factory's, `KRB5_CONFIG`, or `/etc/krb5.conf`; none is
/// an empty configuration.
fn load_conf(explicit: Option<&Path>) -> Result<Krb5Conf, Error> {
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("KRB5_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/krb5.conf"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Krb5Conf::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            Ok(Krb5Conf::default())
        }
        Err(e) => Err(Error::Kerberos(KerberosError::File {
            what: "krb5.conf",
            path: path.display().to_string(),
            detail: e.to_string(),
        })),
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::Kerberos(KerberosError::File {
            what,
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    })
}

/// Sends `request` to the KDCs of `realm` in turn until one answers.
async fn exchange(
    realm: &str,
    kdcs: &[String],
    request: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, Error> {
    if kdcs.is_empty() {
        return Err(Error::Kerberos(KerberosError::KdcUnreachable {
            realm: realm.to_string(),
            detail: "no KDC is known for it (set one, or list it in krb5.conf [realms])"
                .to_string(),
        }));
    }
    let mut tried = Vec::new();
    for kdc in kdcs {
        let limit = deadline
            .saturating_duration_since(Instant::now())
            .min(KDC_TIMEOUT);
        match tokio::time::timeout(limit, ask(kdc, request)).await {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(e)) => tried.push(format!("{kdc}: {e}")),
            Err(_) => tried.push(format!("{kdc}: no answer in {limit:?}")),
        }
    }
    Err(Error::Kerberos(KerberosError::KdcUnreachable {
        realm: realm.to_string(),
        detail: tried.join("; "),
    }))
}

/// One request to one KDC over TCP: a 4-byte big-endian length, then the
/// message, both ways (RFC 4120 §7.2.2).
async fn ask(kdc: &str, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(kdc).await?;
    let len =
        u32::try_from(request.len()).map_err(|_| std::io::Error::other("request too large"))?;
    let mut framed = Vec::with_capacity(4 + request.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    s.write_all(&framed).await?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_KDC_REPLY {
        return Err(std::io::Error::other(format!(
            "the KDC announced a {n}-byte answer (at most {MAX_KDC_REPLY} are read)"
        )));
    }
    let mut reply = vec![0u8; n];
    s.read_exact(&mut reply).await?;
    Ok(reply)
}
