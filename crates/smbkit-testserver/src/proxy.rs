//! A fault-injecting TCP proxy on loopback, in front of any server: it
//! forwards bytes both ways until told to stall (forward nothing, keep the
//! sockets open, as a dead route or a hung peer does), to go on again, or
//! to cut every connection (both sockets closed, as when a NAT forgets the
//! connection or a server restarts).
//!
//! ```no_run
//! use smbkit_testserver::{FaultProxy, Profile, TestServer};
//!
//! let server = TestServer::start(Profile::Modern).unwrap();
//! let proxy = FaultProxy::start(server.port()).unwrap();
//! // ... connect a client to 127.0.0.1:proxy.port() ...
//! proxy.stall();
//! // ... the client sees silence ...
//! proxy.cut();
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy's threads share.
#[derive(Default)]
struct Shared {
    stalled: AtomicBool,
    stopping: AtomicBool,
    /// Every socket of every proxied connection, to cut them.
    sockets: Mutex<Vec<TcpStream>>,
    /// Connections accepted so far.
    accepted: AtomicU64,
    /// Bytes forwarded from the server to clients.
    to_client: AtomicU64,
    /// Bytes forwarded from clients to the server.
    to_server: AtomicU64,
    /// Cut every connection once `to_client` reaches this (`u64::MAX`:
    /// never).
    cut_at_to_client: AtomicU64,
    /// Cut every connection once `to_server` reaches this.
    cut_at_to_server: AtomicU64,
    /// For the next connections accepted, in order: cut each after the
    /// server has sent it this many NetBIOS session messages.
    plans: Mutex<std::collections::VecDeque<u64>>,
}

impl Shared {
    fn new() -> Self {
        Shared {
            cut_at_to_client: AtomicU64::new(u64::MAX),
            cut_at_to_server: AtomicU64::new(u64::MAX),
            ..Shared::default()
        }
    }

    fn cut(&self) {
        let sockets = std::mem::take(&mut *lock(&self.sockets));
        for s in sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// A TCP proxy on 127.0.0.1 that forwards to one server until told to
/// stall, resume or cut. Dropping it cuts every connection and stops
/// listening.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to
    /// `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new());
        let s = shared.clone();
        thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || accept_loop(listener, upstream_port, s))?;
        Ok(FaultProxy { port, shared })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forwards nothing more, either way, until [`FaultProxy::resume`];
    /// the sockets stay open.
    pub fn stall(&self) {
        self.shared.stalled.store(true, Ordering::SeqCst);
    }

    /// Forwards again what a stall held back, and what follows.
    pub fn resume(&self) {
        self.shared.stalled.store(false, Ordering::SeqCst);
    }

    /// Closes both sockets of every connection so far (the client sees the
    /// end of its stream); later connections are forwarded as usual.
    pub fn cut(&self) {
        self.shared.cut();
    }

    /// Cuts every connection (as [`FaultProxy::cut`]) the moment the bytes
    /// forwarded to clients reach `total` (counted as
    /// [`FaultProxy::bytes_to_client`] counts them): the data that reaches
    /// it is not forwarded. Once.
    pub fn cut_when_to_client(&self, total: u64) {
        self.shared.cut_at_to_client.store(total, Ordering::SeqCst);
    }

    /// Cuts every connection the moment the bytes forwarded to the server
    /// reach `total` (see [`FaultProxy::bytes_to_server`]). Once.
    pub fn cut_when_to_server(&self, total: u64) {
        self.shared.cut_at_to_server.store(total, Ordering::SeqCst);
    }

    /// Makes the next connections fail part way, one entry each in order:
    /// a connection is cut (both its sockets closed) right after the
    /// server has sent it `n` whole NetBIOS session messages (0: as soon
    /// as it is accepted, before anything is forwarded). For faults at
    /// each step of a handshake: 1 is after the NEGOTIATE response, 2 after
    /// the first SESSION_SETUP response, and so on.
    pub fn fail_next_connections(&self, after_messages: &[u64]) {
        lock(&self.shared.plans).extend(after_messages.iter().copied());
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the server to clients so far.
    pub fn bytes_to_client(&self) -> u64 {
        self.shared.to_client.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from clients to the server so far.
    pub fn bytes_to_server(&self) -> u64 {
        self.shared.to_server.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(listener: TcpListener, upstream_port: u16, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let plan = lock(&shared.plans).pop_front();
        if plan == Some(0) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            continue;
        }
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let pairs = (
            client.try_clone(),
            server.try_clone(),
            server.try_clone(),
            client.try_clone(),
        );
        let (Ok(c_rd), Ok(s_wr), Ok(s_rd), Ok(c_wr)) = pairs else {
            continue;
        };
        {
            let mut sockets = lock(&shared.sockets);
            sockets.push(client);
            sockets.push(server);
        }
        let up = shared.clone();
        let down = shared.clone();
        let _ = thread::Builder::new()
            .name("fault-proxy-up".into())
            .spawn(move || {
                forward(c_rd, s_wr, &up, None, |s| {
                    (&s.to_server, &s.cut_at_to_server)
                })
            });
        let _ = thread::Builder::new()
            .name("fault-proxy-down".into())
            .spawn(move || {
                forward(s_rd, c_wr, &down, plan, |s| {
                    (&s.to_client, &s.cut_at_to_client)
                })
            });
    }
}

/// Counts whole NetBIOS session messages (RFC 1002 §4.3.1: a 4-byte
/// header whose low 17 bits are the length) in a byte stream.
#[derive(Default)]
struct Frames {
    /// Bytes of the current header seen so far.
    header: Vec<u8>,
    /// Bytes of the current message's body still to come.
    body_left: usize,
    /// Whole messages so far.
    whole: u64,
}

impl Frames {
    /// Feeds `data`; returns how many of its bytes end the `target`-th
    /// message, if it ends within them.
    fn feed(&mut self, data: &[u8], target: u64) -> Option<usize> {
        let mut i = 0;
        while i < data.len() {
            if self.body_left == 0 && self.header.len() < 4 {
                self.header.push(data[i]);
                i += 1;
                if self.header.len() == 4 {
                    let h = &self.header;
                    self.body_left = (usize::from(h[1] & 1) << 16)
                        | (usize::from(h[2]) << 8)
                        | usize::from(h[3]);
                    if self.body_left == 0 {
                        self.header.clear();
                        self.whole += 1;
                        if self.whole == target {
                            return Some(i);
                        }
                    }
                }
                continue;
            }
            let take = self.body_left.min(data.len() - i);
            i += take;
            self.body_left -= take;
            if self.body_left == 0 {
                self.header.clear();
                self.whole += 1;
                if self.whole == target {
                    return Some(i);
                }
            }
        }
        None
    }
}

/// Copies `from` to `to` until either ends, holding data back while the
/// proxy is stalled; with `cut_after`, closes both after that many whole
/// NetBIOS messages.
fn forward(
    mut from: TcpStream,
    mut to: TcpStream,
    shared: &Shared,
    cut_after: Option<u64>,
    count: impl Fn(&Shared) -> (&AtomicU64, &AtomicU64),
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut frames = Frames::default();
    loop {
        while shared.stalled.load(Ordering::SeqCst) {
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Data read just before a stall is held back too.
        while shared.stalled.load(Ordering::SeqCst) {
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        if let Some(target) = cut_after {
            if let Some(end) = frames.feed(&buf[..n], target) {
                let _ = to.write_all(&buf[..end]);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
        }
        let (counter, cut_at) = count(shared);
        let limit = cut_at.load(Ordering::SeqCst);
        let before = counter.load(Ordering::SeqCst);
        if before.saturating_add(n as u64) >= limit
            && cut_at
                .compare_exchange(limit, u64::MAX, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            // Forward what comes before the mark, then cut.
            let keep = limit.saturating_sub(before) as usize;
            let _ = to.write_all(&buf[..keep.min(n)]);
            counter.fetch_add(keep.min(n) as u64, Ordering::SeqCst);
            shared.cut();
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::Frames;

    #[test]
    fn frames_are_counted_across_reads() {
        // Two messages: 3 bytes, then 0 bytes, then 2 bytes.
        let stream = [0u8, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9];
        for split in 0..stream.len() {
            let mut f = Frames::default();
            let (a, b) = stream.split_at(split);
            let end = f.feed(a, 3).or_else(|| f.feed(b, 3).map(|i| i + a.len()));
            assert_eq!(end, Some(stream.len()), "split at {split}");
            let mut f = Frames::default();
            let end = f.feed(a, 2).or_else(|| f.feed(b, 2).map(|i| i + a.len()));
            assert_eq!(end, Some(11), "split at {split}");
        }
    }
}
