//! A TCP proxy on loopback that adds network latency: every byte is
//! forwarded, in order, no earlier than a fixed one-way delay after the
//! proxy read it, in both directions. A round trip through it therefore
//! takes twice the delay more than a direct one.
//!
//! The delay is a pipe, not a pause: each chunk is stamped when it is read
//! and released at that time plus the delay, while later chunks are already
//! being read, so that nothing accumulates. What limits a transfer through
//! it is what a real link of that latency limits: how much the client keeps
//! in flight per round trip (its own window of outstanding requests), not
//! the proxy. With no delay it forwards about 2 GiB/s on an idle 2-vCPU
//! VM, at about 0.5 s of CPU per GiB.
//!
//! Each chunk is released by a thread that sleeps until it is due, never
//! earlier, and Linux ends such a sleep up to the thread's timer slack late
//! (50 µs by default), plus the time to wake the thread. Threads inherit
//! the slack of the thread that starts them: `smbkit-testserver
//! delay-proxy` sets it to 1 ns first. On a 2-vCPU VM, a 1 ms round trip
//! through that binary then takes 1.1 to 1.3 ms.
//!
//! What it does not model: the TCP handshake (a client's connect completes
//! at once, against the proxy), TCP's own window and slow start (the proxy
//! acknowledges what it reads), bandwidth limits and loss.
//!
//! ```no_run
//! use std::time::Duration;
//! use smbkit_testserver::{DelayProxy, Profile, TestServer};
//!
//! let server = TestServer::start(Profile::Modern).unwrap();
//! // 1 ms round trip: 0.5 ms each way.
//! let proxy = DelayProxy::start(server.port(), Duration::from_micros(500)).unwrap();
//! // ... connect a client to 127.0.0.1:proxy.port() ...
//! ```

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The size of each read from a socket.
const BLOCK: usize = 1 << 20;
/// Reads shorter than this are copied out of the block, which is then read
/// into again; longer ones travel in their block.
const COPY_BELOW: usize = 64 << 10;
/// Blocks per direction of a connection, at most: what is read but not
/// yet written is bounded by this many MiB (plus the short reads, which
/// [`QUEUE`] bounds). The reader waits for a block to come back when all
/// are in flight.
const MAX_BLOCKS: usize = 256;
/// Chunks per direction of a connection in flight, at most.
const QUEUE: usize = 4096;

/// What the proxy's threads share.
#[derive(Default)]
struct Shared {
    stopping: AtomicBool,
    /// Both sockets of every open connection, by connection number, to
    /// close them when the proxy stops.
    conns: Mutex<HashMap<u64, [TcpStream; 2]>>,
    /// Connections accepted so far.
    accepted: AtomicU64,
    /// Bytes forwarded from the server to clients.
    to_client: AtomicU64,
    /// Bytes forwarded from clients to the server.
    to_server: AtomicU64,
}

/// A TCP proxy on 127.0.0.1 that forwards to one server with a fixed
/// one-way delay each way. Dropping it closes every connection and stops
/// listening.
pub struct DelayProxy {
    port: u16,
    one_way: Duration,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DelayProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayProxy")
            .field("port", &self.port)
            .field("one_way", &self.one_way)
            .finish_non_exhaustive()
    }
}

impl DelayProxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to
    /// `127.0.0.1:upstream_port`, every byte in either direction delayed by
    /// `one_way` (a round trip by twice that). `Duration::ZERO` forwards
    /// at once.
    pub fn start(upstream_port: u16, one_way: Duration) -> io::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let accept = thread::Builder::new()
            .name("delay-proxy".into())
            .spawn(move || accept_loop(listener, upstream_port, one_way, s))?;
        Ok(DelayProxy {
            port,
            one_way,
            shared,
            accept: Some(accept),
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The delay added in each direction.
    pub fn one_way(&self) -> Duration {
        self.one_way
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

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let conns = std::mem::take(&mut *lock(&self.shared.conns));
        for socket in conns.into_values().flatten() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(listener: TcpListener, upstream_port: u16, one_way: Duration, shared: Arc<Shared>) {
    let mut next_id = 0u64;
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        next_id += 1;
        if let Err(e) = spawn_connection(next_id, client, server, one_way, &shared) {
            eprintln!("delay-proxy: cannot forward a connection: {e}");
        }
    }
}

/// Removes its connection from [`Shared::conns`] once the last of the
/// connection's threads has ended.
struct ConnGuard {
    id: u64,
    shared: Arc<Shared>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        lock(&self.shared.conns).remove(&self.id);
    }
}

fn spawn_connection(
    id: u64,
    client: TcpStream,
    server: TcpStream,
    one_way: Duration,
    shared: &Arc<Shared>,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    lock(&shared.conns).insert(id, [client.try_clone()?, server.try_clone()?]);
    let guard = Arc::new(ConnGuard {
        id,
        shared: shared.clone(),
    });
    let up = Direction {
        from: client.try_clone()?,
        to: server.try_clone()?,
        one_way,
        guard: guard.clone(),
        counter: |s| &s.to_server,
    };
    let down = Direction {
        from: server,
        to: client,
        one_way,
        guard,
        counter: |s| &s.to_client,
    };
    up.spawn("delay-proxy-up")?;
    down.spawn("delay-proxy-down")
}

/// One direction of a connection: a reader thread that stamps what it
/// reads, and a writer thread that sends it on when it is due.
struct Direction {
    from: TcpStream,
    to: TcpStream,
    one_way: Duration,
    guard: Arc<ConnGuard>,
    counter: fn(&Shared) -> &AtomicU64,
}

/// What the reader hands the writer.
enum Data {
    /// The first `len` bytes of a block, which goes back to the reader.
    Block(Vec<u8>, usize),
    /// A short read, copied.
    Copy(Vec<u8>),
    /// The end of the stream (or a read error): shut down the writing side.
    End,
}

struct Chunk {
    data: Data,
    due: Instant,
}

impl Direction {
    fn spawn(self, name: &str) -> io::Result<()> {
        let (chunks_tx, chunks_rx) = mpsc::sync_channel(QUEUE);
        let (blocks_tx, blocks_rx) = mpsc::channel();
        let reader = Reader {
            from: self.from.try_clone()?,
            one_way: self.one_way,
            chunks: chunks_tx,
            blocks: blocks_rx,
            allocated: 0,
            _guard: self.guard.clone(),
        };
        let writer = Writer {
            from: self.from,
            to: self.to,
            chunks: chunks_rx,
            blocks: blocks_tx,
            guard: self.guard,
            counter: self.counter,
        };
        thread::Builder::new()
            .name(format!("{name}-rd"))
            .spawn(move || reader.run())?;
        thread::Builder::new()
            .name(format!("{name}-wr"))
            .spawn(move || writer.run())?;
        Ok(())
    }
}

struct Reader {
    from: TcpStream,
    one_way: Duration,
    chunks: SyncSender<Chunk>,
    /// Blocks the writer is done with.
    blocks: Receiver<Vec<u8>>,
    allocated: usize,
    /// Keeps the connection registered while this thread runs.
    _guard: Arc<ConnGuard>,
}

impl Reader {
    /// A block to read into: a returned one, a new one, or (all in flight)
    /// the next to come back. `None` once the writer has gone.
    fn block(&mut self) -> Option<Vec<u8>> {
        match self.blocks.try_recv() {
            Ok(b) => return Some(b),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        if self.allocated < MAX_BLOCKS {
            self.allocated += 1;
            return Some(vec![0; BLOCK]);
        }
        self.blocks.recv().ok()
    }

    fn run(mut self) {
        let mut block = Vec::new();
        loop {
            if block.is_empty() {
                match self.block() {
                    Some(b) => block = b,
                    None => return,
                }
            }
            let n = match self.from.read(&mut block) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let due = Instant::now() + self.one_way;
            let data = if n < COPY_BELOW {
                Data::Copy(block[..n].to_vec())
            } else {
                Data::Block(std::mem::take(&mut block), n)
            };
            if self.chunks.send(Chunk { data, due }).is_err() {
                return;
            }
        }
        let due = Instant::now() + self.one_way;
        let _ = self.chunks.send(Chunk {
            data: Data::End,
            due,
        });
    }
}

struct Writer {
    /// The socket the reader reads, to stop it when this side fails.
    from: TcpStream,
    to: TcpStream,
    chunks: Receiver<Chunk>,
    blocks: Sender<Vec<u8>>,
    guard: Arc<ConnGuard>,
    counter: fn(&Shared) -> &AtomicU64,
}

impl Writer {
    fn run(mut self) {
        let counter = (self.counter)(&self.guard.shared);
        while let Ok(chunk) = self.chunks.recv() {
            let now = Instant::now();
            if chunk.due > now {
                thread::sleep(chunk.due - now);
            }
            let (buf, bytes) = match chunk.data {
                Data::Block(b, n) => (b, n),
                Data::Copy(b) => {
                    let n = b.len();
                    (b, n)
                }
                Data::End => break,
            };
            if self.to.write_all(&buf[..bytes]).is_err() {
                // The receiving side is gone: so is the connection.
                let _ = self.to.shutdown(Shutdown::Both);
                let _ = self.from.shutdown(Shutdown::Both);
                return;
            }
            counter.fetch_add(bytes as u64, Ordering::Relaxed);
            if buf.len() == BLOCK {
                let _ = self.blocks.send(buf);
            }
        }
        let _ = self.to.shutdown(Shutdown::Write);
    }
}
