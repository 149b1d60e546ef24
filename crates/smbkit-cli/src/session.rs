//! Opening the connection a command works over, from the global options
//! and the target.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smbkit::{
    Connection, ConnectionEvent, Error, Protocol, ReconnectPolicy, SignOptions, SmbProtocolFactory,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::args::{Encryption, GlobalOpts, Signing};
use crate::auth;
use crate::error::{CmdResult, Failure};
use crate::target::Target;

/// The NetBIOS name to call the server by: `--netbios-name`, else the
/// host's first label when it is a name that fits, else `SERVER`.
pub fn netbios_name(opts: &GlobalOpts, target: &Target) -> String {
    if let Some(n) = &opts.netbios_name {
        return n.clone();
    }
    smbkit::SmbUrl::remote_name_of(&target.host)
}

/// The port to connect to: `--port`, else the target's, else 445 (139 with
/// `--netbios`).
pub fn port(opts: &GlobalOpts, target: &Target) -> u16 {
    opts.port
        .or(target.port)
        .unwrap_or(if opts.netbios { 139 } else { 445 })
}

/// Connects, negotiates and logs in to `target`'s server.
pub async fn connect(opts: &GlobalOpts, target: &Target) -> CmdResult<Connection> {
    connect_with(opts, target, None).await
}

/// Connects as [`connect`] does; with a policy, a lost connection is made
/// again by it, and transfers go on where they were.
pub async fn connect_with(
    opts: &GlobalOpts,
    target: &Target,
    reconnect: Option<ReconnectPolicy>,
) -> CmdResult<Connection> {
    let creds = auth::credentials(opts, target)?;
    let limit = Duration::from_secs_f64(opts.timeout);
    let remote_name = netbios_name(opts, target);
    let factory = SmbProtocolFactory::new(
        creds.user.clone(),
        creds.password,
        &opts.client_name,
        &remote_name,
    )
    .map_err(|e| match e {
        Error::InvalidArgument(smbkit::InvalidArgument::NetbiosName { role, error }) => {
            let option = match role {
                "my_name" => "--client-name",
                _ => "--netbios-name",
            };
            Failure::usage(format!("{option}: {error}"))
        }
        e => Failure::from(e),
    })?
    .domain(creds.domain)
    .use_ntlm_v2(!opts.ntlmv1)
    .sign_options(match opts.signing {
        Signing::Never => SignOptions::Never,
        Signing::Supported => SignOptions::WhenSupported,
        Signing::Required => SignOptions::WhenRequired,
    })
    .protocol(if opts.smb1 {
        Protocol::Smb1Only
    } else if opts.smb2_only {
        Protocol::Smb2Only
    } else {
        Protocol::Auto
    })
    .encryption(match opts.encryption {
        Encryption::IfRequired => smbkit::Encryption::IfRequired,
        Encryption::Preferred => smbkit::Encryption::Preferred,
        Encryption::Required => smbkit::Encryption::Required,
    })
    .direct_tcp(!opts.netbios)
    .kerberos(opts.kerberos_mode())
    .kerberos_host(target.host.clone())
    .timeout(limit)
    .connect_timeout(limit)
    .reconnect(reconnect);
    let factory = opts.kdc.iter().fold(factory, |f, k| f.kdc(k.clone()));
    let factory = match &opts.realm {
        Some(r) => factory.kerberos_realm(r.clone()),
        None => factory,
    };
    let factory = match &opts.keytab {
        Some(p) => factory.kerberos_keytab(p.clone()),
        None => factory,
    };
    let factory = match &opts.krb5_ccache {
        Some(p) => factory.kerberos_ccache(p.clone()),
        None => factory,
    };
    let factory = if opts.cipher.is_empty() {
        factory
    } else {
        let list: Vec<smbkit::Cipher> = opts.cipher.iter().map(|&c| c.into()).collect();
        factory.ciphers(&list).map_err(Failure::from)?
    };
    let port = port(opts, target);
    tracing::debug!(host = %target.host, port, user = %creds.user, "connecting");
    Ok(factory.connect((target.host.as_str(), port)).await?)
}

/// Tells on stderr when the connection is lost and when it is made again,
/// for as long as it is kept; made by [`watch()`].
pub struct Watch {
    events: watch::Receiver<ConnectionEvent>,
    reporter: Arc<Mutex<Reporter>>,
    task: JoinHandle<()>,
}

/// Starts telling what happens to `conn`'s link with the server, when it
/// reconnects by `policy`.
pub fn watch(conn: &Connection, policy: &ReconnectPolicy) -> Watch {
    let reporter = Arc::new(Mutex::new(Reporter::new(policy.attempts)));
    let mut events = conn.events();
    events.borrow_and_update();
    let last = events.clone();
    let r = reporter.clone();
    let task = tokio::spawn(async move {
        while events.changed().await.is_ok() {
            let ev = events.borrow_and_update().clone();
            if ev == ConnectionEvent::Closed {
                break;
            }
            report(&r, &ev);
        }
    });
    Watch {
        events: last,
        reporter,
        task,
    }
}

fn report(reporter: &Mutex<Reporter>, ev: &ConnectionEvent) {
    let mut r = reporter.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(line) = r.on(ev, Instant::now()) {
        crate::progress::message(&line);
    }
}

impl Drop for Watch {
    /// Stops watching; what happened last and was not told yet is told now.
    fn drop(&mut self) {
        self.task.abort();
        let ev = self.events.borrow().clone();
        report(&self.reporter, &ev);
    }
}

/// Turns connection events into lines for stderr. Events may come merged
/// (only the latest is seen), and the same one may be seen twice: each
/// line is told once, and a reconnect whose loss was not seen is told
/// whole.
#[derive(Debug)]
struct Reporter {
    /// The policy's attempts.
    attempts: u32,
    /// When the loss being repaired was seen, if one is.
    lost_at: Option<Instant>,
    /// The last attempt told.
    attempt: u32,
    /// The reconnects told.
    reconnects: u32,
}

impl Reporter {
    fn new(attempts: u32) -> Reporter {
        Reporter {
            attempts,
            lost_at: None,
            attempt: 0,
            reconnects: 0,
        }
    }

    /// The line to print for `ev`, seen at `now`, if there is one.
    fn on(&mut self, ev: &ConnectionEvent, now: Instant) -> Option<String> {
        match *ev {
            ConnectionEvent::Lost => self.lost(now, 1),
            ConnectionEvent::Reconnecting { attempt } => match self.lost_at {
                None => self.lost(now, attempt),
                Some(_) if attempt > self.attempt => {
                    self.attempt = attempt;
                    Some(format!(
                        "smbkit: still reconnecting (attempt {attempt} of {})…",
                        self.attempts
                    ))
                }
                Some(_) => None,
            },
            ConnectionEvent::Connected { reconnects } if reconnects > self.reconnects => {
                self.reconnects = reconnects;
                self.attempt = 0;
                Some(match self.lost_at.take() {
                    Some(at) => format!(
                        "smbkit: reconnected after {}",
                        took(now.saturating_duration_since(at))
                    ),
                    None => "smbkit: connection lost; reconnected".to_string(),
                })
            }
            ConnectionEvent::GaveUp { attempts, .. } if self.lost_at.is_some() => {
                self.lost_at = None;
                self.attempt = 0;
                Some(format!(
                    "smbkit: could not reconnect ({attempts} attempt{} failed)",
                    if attempts == 1 { "" } else { "s" }
                ))
            }
            _ => None,
        }
    }

    /// The loss, first seen at `now` as attempt `attempt`.
    fn lost(&mut self, now: Instant, attempt: u32) -> Option<String> {
        if self.lost_at.is_some() {
            return None;
        }
        self.lost_at = Some(now);
        self.attempt = attempt;
        Some(format!(
            "smbkit: connection lost; reconnecting (attempt {attempt} of {})…",
            self.attempts
        ))
    }
}

/// `250 ms`, `3.2 s`.
fn took(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The share of `target`, or a usage error saying how to name one.
pub fn share(target: &Target) -> CmdResult<&str> {
    target.share.as_deref().ok_or_else(|| {
        Failure::usage(format!("'{target}' names no share")).hint(format!(
            "write {}/SHARE/path; list the shares with: smbkit shares {}",
            target.server_url(),
            target.server_url()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn opts(args: &[&str]) -> GlobalOpts {
        let mut v = vec!["smbkit"];
        v.extend_from_slice(args);
        v.extend_from_slice(&["info", "smb://h"]);
        crate::args::Cli::parse_from(v).opts
    }

    #[test]
    fn reconnects_are_told_once_each() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut r = Reporter::new(10);
        let seen: Vec<Option<String>> = [
            (ConnectionEvent::Lost, 0),
            (ConnectionEvent::Reconnecting { attempt: 1 }, 1),
            (ConnectionEvent::Reconnecting { attempt: 2 }, 100),
            (ConnectionEvent::Reconnecting { attempt: 2 }, 101),
            (ConnectionEvent::Connected { reconnects: 1 }, 500),
            (ConnectionEvent::Connected { reconnects: 1 }, 501),
        ]
        .into_iter()
        .map(|(ev, ms)| r.on(&ev, at(ms)))
        .collect();
        assert_eq!(
            seen,
            [
                Some("smbkit: connection lost; reconnecting (attempt 1 of 10)…".into()),
                None,
                Some("smbkit: still reconnecting (attempt 2 of 10)…".into()),
                None,
                Some("smbkit: reconnected after 500 ms".into()),
                None,
            ]
        );
        // Merged events: a whole reconnect seen as its end only.
        assert_eq!(
            r.on(&ConnectionEvent::Connected { reconnects: 2 }, at(900)),
            Some("smbkit: connection lost; reconnected".into())
        );
        // A loss seen as its third attempt, then given up.
        assert_eq!(
            r.on(&ConnectionEvent::Reconnecting { attempt: 3 }, at(1000)),
            Some("smbkit: connection lost; reconnecting (attempt 3 of 10)…".into())
        );
        let gave_up = ConnectionEvent::GaveUp {
            attempts: 10,
            error: "refused".into(),
        };
        assert_eq!(
            r.on(&gave_up, at(2000)),
            Some("smbkit: could not reconnect (10 attempts failed)".into())
        );
        assert_eq!(r.on(&gave_up, at(2001)), None);
        assert_eq!(r.on(&ConnectionEvent::Closed, at(2002)), None);
    }

    #[test]
    fn default_names_and_ports() {
        let t = Target::parse("smb://u@fileserver.example.com/s").unwrap();
        assert_eq!(netbios_name(&opts(&[]), &t), "FILESERVER");
        assert_eq!(port(&opts(&[]), &t), 445);
        assert_eq!(port(&opts(&["--netbios"]), &t), 139);
        let t = Target::parse("smb://u@10.0.0.1:1445/s").unwrap();
        assert_eq!(netbios_name(&opts(&[]), &t), "SERVER");
        assert_eq!(port(&opts(&[]), &t), 1445);
        assert_eq!(port(&opts(&["--port", "2445"]), &t), 2445);
        assert_eq!(netbios_name(&opts(&["--netbios-name", "NAS"]), &t), "NAS");
    }
}
