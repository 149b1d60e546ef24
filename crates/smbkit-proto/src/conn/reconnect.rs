//! When to try again after a connection is lost: the reconnect schedule.
//!
//! MS-SMB2 leaves the client to decide when and how often to reconnect
//! (§3.2.4.1.x only says a client "MAY" reconnect durable opens, within
//! the time the server keeps them: §3.3.5.9.7, the durable timeout). This
//! is that decision, without a clock of its own: [`Backoff`] is told the
//! time, and says when the next attempt may start or that it is time to
//! give up.
//!
//! The delays double from [`ReconnectPolicy::first_delay`] up to
//! [`ReconnectPolicy::max_delay`]; the first attempt starts at once (a
//! cut connection is most often a single lost path, and a server that
//! restarted is up again within seconds). Giving up comes after
//! [`ReconnectPolicy::attempts`] failed attempts or once
//! [`ReconnectPolicy::give_up_after`] has passed since the loss,
//! whichever is first; an attempt that would start after that limit is
//! not made.

use std::time::{Duration, Instant};

/// How a lost connection is re-established: how many attempts, how far
/// apart, and for how long in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The most attempts after one loss (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; each later wait doubles.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// No attempt starts later than this after the loss. Servers keep a
    /// durable handle for about a minute by default (Windows and Samba:
    /// 60 s), so waiting much longer only reconnects the session.
    pub give_up_after: Duration,
}

impl Default for ReconnectPolicy {
    /// 10 attempts, 100 ms doubling up to 5 s, for at most 60 s.
    fn default() -> Self {
        ReconnectPolicy {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            give_up_after: Duration::from_secs(60),
        }
    }
}

/// What [`Backoff::next`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start attempt number `attempt` (1-based) at `at`.
    Attempt {
        /// Which attempt this is, from 1.
        attempt: u32,
        /// When it may start.
        at: Instant,
    },
    /// No more attempts: `attempts` were made.
    GiveUp {
        /// How many attempts were made.
        attempts: u32,
    },
}

/// The schedule of attempts after one loss of the connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    lost_at: Instant,
    made: u32,
    last_start: Option<Instant>,
}

impl Backoff {
    /// The schedule for a connection lost at `lost_at`.
    pub fn new(policy: ReconnectPolicy, lost_at: Instant) -> Self {
        Backoff {
            policy,
            lost_at,
            made: 0,
            last_start: None,
        }
    }

    /// How many attempts have been started.
    pub fn attempts_made(&self) -> u32 {
        self.made
    }

    /// The wait before attempt `n` (1-based), counted from the start of
    /// attempt `n - 1`.
    fn delay_before(&self, n: u32) -> Duration {
        if n <= 1 {
            return Duration::ZERO;
        }
        let doublings = (n - 2).min(31);
        self.policy
            .first_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.policy.max_delay)
            .min(self.policy.max_delay)
    }

    /// The next attempt, or giving up. Call it after each failed attempt
    /// (and once at the start); `now` is the time of the call.
    pub fn next(&mut self, now: Instant) -> Next {
        let n = self.made + 1;
        if n > self.policy.attempts.max(1) {
            return Next::GiveUp {
                attempts: self.made,
            };
        }
        let at = match self.last_start {
            None => Some(now),
            Some(last) => last.checked_add(self.delay_before(n)).map(|t| t.max(now)),
        };
        // A time past what `Instant` can hold is past any limit.
        let Some(at) = at else {
            return Next::GiveUp {
                attempts: self.made,
            };
        };
        if let Some(limit) = self.lost_at.checked_add(self.policy.give_up_after) {
            if at > limit {
                return Next::GiveUp {
                    attempts: self.made,
                };
            }
        }
        self.made = n;
        self.last_start = Some(at);
        Next::Attempt { attempt: n, at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            give_up_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn first_attempt_at_once_then_doubling_up_to_the_cap() {
        let t0 = Instant::now();
        let mut b = Backoff::new(policy(), t0);
        let mut starts = Vec::new();
        let mut now = t0;
        loop {
            match b.next(now) {
                Next::Attempt { attempt, at } => {
                    assert_eq!(attempt as usize, starts.len() + 1);
                    starts.push(at - t0);
                    // Each attempt fails 10 ms after it started.
                    now = at + Duration::from_millis(10);
                }
                Next::GiveUp { attempts } => {
                    assert_eq!(attempts, 5);
                    break;
                }
            }
        }
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 100, 300, 600, 900]);
    }

    #[test]
    fn an_attempt_that_took_longer_than_the_delay_is_followed_at_once() {
        let t0 = Instant::now();
        let mut b = Backoff::new(policy(), t0);
        assert!(matches!(b.next(t0), Next::Attempt { at, .. } if at == t0));
        let late = t0 + Duration::from_secs(2);
        assert_eq!(
            b.next(late),
            Next::Attempt {
                attempt: 2,
                at: late
            }
        );
    }

    #[test]
    fn gives_up_once_the_time_limit_would_be_passed() {
        let t0 = Instant::now();
        let p = ReconnectPolicy {
            attempts: 100,
            give_up_after: Duration::from_millis(250),
            ..policy()
        };
        let mut b = Backoff::new(p, t0);
        let mut now = t0;
        let mut made = 0;
        while let Next::Attempt { at, .. } = b.next(now) {
            assert!(at <= t0 + Duration::from_millis(250));
            made += 1;
            now = at;
        }
        // 0, 100 (then 300 would pass the limit).
        assert_eq!(made, 2);
        assert_eq!(b.attempts_made(), 2);
    }

    #[test]
    fn zero_attempts_still_allows_one_and_huge_delays_do_not_overflow() {
        let t0 = Instant::now();
        let p = ReconnectPolicy {
            attempts: 0,
            first_delay: Duration::MAX,
            max_delay: Duration::MAX,
            give_up_after: Duration::from_secs(1),
        };
        let mut b = Backoff::new(p, t0);
        assert!(matches!(b.next(t0), Next::Attempt { attempt: 1, .. }));
        assert_eq!(b.next(t0), Next::GiveUp { attempts: 1 });
        let p = ReconnectPolicy {
            attempts: 40,
            first_delay: Duration::from_secs(u64::MAX / 4),
            max_delay: Duration::MAX,
            give_up_after: Duration::MAX,
        };
        let mut b = Backoff::new(p, t0);
        // A delay near what `Instant` can hold: a far attempt, or giving
        // up where the platform cannot hold the time; never a panic.
        assert!(matches!(b.next(t0), Next::Attempt { attempt: 1, .. }));
        match b.next(t0) {
            Next::Attempt { attempt: 2, at } => assert!(at > t0 + Duration::from_secs(1 << 40)),
            Next::GiveUp { attempts: 1 } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
