//! Whether the server is still there: dead-peer detection and keep-alive,
//! for both connection state machines.
//!
//! Neither SMB dialect defines a liveness rule for clients; this is the
//! client's own policy, built on what every server must answer: ECHO
//! (MS-SMB2 §2.2.28, §3.2.4.16; MS-CIFS §2.2.4.39 SMB_COM_ECHO).
//!
//! * **Dead peer.** While the connection waits for answers the server owes
//!   it (a request sent and not acknowledged by an interim response), the
//!   server must send something — a response, an interim, a part of a large
//!   answer — at least every [`Liveness::dead_after`]. A connection that
//!   hears nothing at all for that long is declared dead and closed, so
//!   that every waiting and later request fails at once instead of each
//!   waiting out its own timeout. Requests the server has acknowledged with
//!   an interim STATUS_PENDING may take as long as they need.
//! * **Keep-alive.** A connection that has exchanged nothing for
//!   [`Liveness::keepalive`] sends an ECHO of its own. The ECHO is a request
//!   like any other: left unanswered, it makes the connection dead after
//!   `dead_after`. This keeps NAT and firewall state alive on a connection
//!   held open for hours, and notices a server that went away while the
//!   connection was idle.
//!
//! The connection learns that bytes arrive from the frames it is given and,
//! for a frame still being received (a large READ over a slow link), from
//! `handle_activity`, which a driver calls with the time it last read
//! anything.

use std::time::{Duration, Instant};

/// How a connection watches its server. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// With answers owed, the connection is declared dead when nothing has
    /// arrived for this long; `None`: never.
    pub dead_after: Option<Duration>,
    /// An idle connection sends an ECHO after this long without traffic;
    /// `None`: no keep-alive.
    pub keepalive: Option<Duration>,
}

impl Liveness {
    /// Neither dead-peer detection nor keep-alive.
    pub const OFF: Liveness = Liveness {
        dead_after: None,
        keepalive: None,
    };
}

impl Default for Liveness {
    /// Dead after 30 s of silence with answers owed; an ECHO after 60 s
    /// without traffic (well inside the idle timeouts of common NATs and
    /// firewalls, a few minutes and more, and one small exchange a minute).
    fn default() -> Self {
        Liveness {
            dead_after: Some(Duration::from_secs(30)),
            keepalive: Some(Duration::from_secs(60)),
        }
    }
}

/// What the watch tells the connection to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing.
    Fine,
    /// Send a keep-alive ECHO.
    Probe,
    /// The server has been silent this long with answers owed.
    Dead(Duration),
}

/// The state of the watch.
#[derive(Debug)]
pub(crate) struct Watch {
    cfg: Liveness,
    /// When anything last arrived.
    heard: Instant,
    /// When anything last arrived or was sent.
    active: Instant,
    /// Since when answers are owed (None: none are).
    owed_since: Option<Instant>,
}

impl Watch {
    pub(crate) fn new(now: Instant) -> Watch {
        Watch {
            cfg: Liveness::OFF,
            heard: now,
            active: now,
            owed_since: None,
        }
    }

    pub(crate) fn set(&mut self, cfg: Liveness, now: Instant) {
        self.cfg = cfg;
        self.heard = self.heard.max(now);
        self.active = self.active.max(now);
    }

    /// Something arrived at `at`.
    pub(crate) fn heard(&mut self, at: Instant) {
        self.heard = self.heard.max(at);
        self.active = self.active.max(at);
    }

    /// A request went out at `now`.
    pub(crate) fn sent(&mut self, now: Instant) {
        self.active = self.active.max(now);
    }

    /// Whether answers are owed now (the connection says after every
    /// change): silence is measured from the later of the last thing heard
    /// and the moment answers became owed.
    pub(crate) fn owed(&mut self, owed: bool, now: Instant) {
        match (owed, self.owed_since) {
            (true, None) => self.owed_since = Some(now),
            (false, Some(_)) => self.owed_since = None,
            _ => {}
        }
    }

    /// How long a keep-alive ECHO may stay unanswered before it is given
    /// up (dead-peer detection normally ends it sooner).
    pub(crate) fn probe_limit(&self) -> Duration {
        self.cfg
            .dead_after
            .or(self.cfg.keepalive)
            .unwrap_or(Duration::from_secs(60))
    }

    /// When the watch next needs the time; `probing`: a keep-alive ECHO is
    /// out already.
    pub(crate) fn deadline(&self, probing: bool) -> Option<Instant> {
        match self.owed_since {
            Some(since) => self.cfg.dead_after.map(|d| self.heard.max(since) + d),
            None if probing => None,
            None => self.cfg.keepalive.map(|k| self.active + k),
        }
    }

    /// What to do at `now`.
    pub(crate) fn check(&self, probing: bool, now: Instant) -> Verdict {
        match self.owed_since {
            Some(since) => match self.cfg.dead_after {
                Some(d) if now >= self.heard.max(since) + d => {
                    Verdict::Dead(now.saturating_duration_since(self.heard.max(since)))
                }
                _ => Verdict::Fine,
            },
            None if probing => Verdict::Fine,
            None => match self.cfg.keepalive {
                Some(k) if now >= self.active + k => Verdict::Probe,
                _ => Verdict::Fine,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn silence_with_answers_owed_is_death_and_anything_heard_resets_it() {
        let t0 = Instant::now();
        let mut w = Watch::new(t0);
        w.set(
            Liveness {
                dead_after: Some(10 * S),
                keepalive: None,
            },
            t0,
        );
        assert_eq!(w.deadline(false), None, "nothing owed, no keep-alive");
        w.owed(true, t0 + 100 * S);
        assert_eq!(
            w.deadline(false),
            Some(t0 + 110 * S),
            "counted from when owed"
        );
        w.heard(t0 + 105 * S);
        assert_eq!(w.check(false, t0 + 114 * S), Verdict::Fine);
        assert_eq!(w.check(false, t0 + 115 * S), Verdict::Dead(10 * S));
        w.owed(false, t0 + 115 * S);
        assert_eq!(w.check(false, t0 + 1000 * S), Verdict::Fine);
    }

    #[test]
    fn idle_connection_probes_once_per_interval() {
        let t0 = Instant::now();
        let mut w = Watch::new(t0);
        w.set(
            Liveness {
                dead_after: Some(10 * S),
                keepalive: Some(60 * S),
            },
            t0,
        );
        assert_eq!(w.deadline(false), Some(t0 + 60 * S));
        w.sent(t0 + 30 * S);
        assert_eq!(w.check(false, t0 + 60 * S), Verdict::Fine);
        assert_eq!(w.check(false, t0 + 90 * S), Verdict::Probe);
        assert_eq!(
            w.check(true, t0 + 90 * S),
            Verdict::Fine,
            "one probe at a time"
        );
        assert_eq!(w.deadline(true), None);
        assert_eq!(
            Liveness::OFF,
            Liveness {
                dead_after: None,
                keepalive: None
            }
        );
    }
}
