//! Cancel safety of the public API, against real Samba: futures of
//! `Connection` and `RemoteReader` dropped at random points, hundreds of
//! times per operation, over SMB2/3 and over SMB1.
//!
//! A future is cut by `tokio::time::timeout`, by `select!` against a timer,
//! by `JoinHandle::abort` after a delay, or right after its n-th poll
//! returned `Pending` (its n-th waiting await point); delays and poll
//! counts are drawn from what an uncut run of the same operation took, so
//! that the cuts fall all along it. The `starved` tests cut each operation
//! at its first poll made without tokio cooperative budget left, where an
//! await on a free lock or channel still returns `Pending`. The bursts
//! abort most of 48 concurrent operations.
//!
//! After each batch of drops the connection must still work and must have
//! lost nothing:
//!
//! * within [`SETTLE`], the server's own open-file table (`smbstatus -L`)
//!   shows nothing open: every handle opened for a dropped future was
//!   closed (opens of named pipes and SMB1 searches are not in that table,
//!   so they are not checked);
//! * ECHO works, and a retrieve of a file of several MiB returns its exact
//!   content;
//! * 64 concurrent `get_attributes` complete within [`WINDOW_LIMIT`] (no
//!   credits or MaxMpxCount slots lost);
//! * more requests than the server ever grants credits for at once
//!   ([`MAX_CREDITS`], set lower than Samba's 8192 for this) complete: a
//!   message id reserved by a dropped request but never sent stops Samba
//!   from granting credits once the client has used the window above it
//!   (Samba's `smb2_set_operation_credit` grants nothing past
//!   `seq_low + smb2 max credits`), and the connection then starves.
//!
//! A `RemoteReader` whose `next_chunk` futures are dropped must go on with
//! exactly the file's bytes, in order; the tree connect tests check the
//! server's tree connects (`smbstatus -S`) instead of its open files.
//!
//! The random choices come from one seed, printed by each test (run with
//! `--nocapture`, or see the failure message); `SMBKIT_CANCEL_SEED=<seed>`
//! replays it (network timing still varies). `SMBKIT_CANCEL_BATCH=1`
//! checks after every single drop, which names the drop that leaked;
//! `SMBKIT_CANCEL_CUTS=polls` (or any of `timeout`, `select`, `polls`,
//! `abort`, `starved`, comma separated) uses only those kinds of cut.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use smbkit::{Connection, Protocol, SignOptions, SmbProtocolFactory};
use smbkit_testserver::{content, fnv1a, ExtraConfig, Profile, TestServer};
use tokio::time::Instant;

/// What Samba grants at most (`smb2 max credits`).
const MAX_CREDITS: usize = 512;
/// How long the server may take to see the handles of dropped futures
/// closed.
const SETTLE: Duration = Duration::from_secs(3);
/// How long 64 concurrent `get_attributes` may take (normally a few
/// milliseconds).
const WINDOW_LIMIT: Duration = Duration::from_secs(1);
/// Time limit of each request of the checks.
const CHECK_LIMIT: Duration = Duration::from_secs(5);
/// Uncut runs that measure an operation before its drops.
const CALIBRATION_RUNS: usize = 5;
/// Size of the small file: one READ (or WRITE) in one compound.
const SMALL: usize = 1000;
/// Size of the large file: several READs of 1 MiB in flight.
const BIG: usize = 3 * (1 << 20) + 12_345;
/// Entries of the listed folder.
const LISTED: usize = 20;

// ---------------------------------------------------------------------
// Randomness

/// SplitMix64: small, seedable, good enough to pick cut points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// The run's seed: `SMBKIT_CANCEL_SEED` (decimal or 0x-hex), else the
/// clock.
fn base_seed() -> u64 {
    match std::env::var("SMBKIT_CANCEL_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("SMBKIT_CANCEL_SEED={s} is not a number"))
        }
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// The kinds of cut to use ([`Cut::kind`] numbers): those named in
/// `SMBKIT_CANCEL_CUTS` (`timeout`, `select`, `polls`, `abort`,
/// `starved`, comma separated), else all but `starved`.
fn allowed_cuts() -> Vec<usize> {
    let names = ["timeout", "select", "polls", "abort", "starved"];
    match std::env::var("SMBKIT_CANCEL_CUTS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|n| {
                let n = n.trim().to_ascii_lowercase();
                names
                    .iter()
                    .position(|&k| k == n)
                    .unwrap_or_else(|| panic!("SMBKIT_CANCEL_CUTS: unknown cut {n:?}"))
            })
            .collect(),
        // Starved cuts have a test of their own (`starved`).
        _ => (0..4).collect(),
    }
}

/// Drops per batch: `SMBKIT_CANCEL_BATCH`, else `default`.
fn batch_size(default: usize) -> usize {
    std::env::var("SMBKIT_CANCEL_BATCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

// ---------------------------------------------------------------------
// Cutting futures short

/// How long an operation runs uncut, and how often it waits: cut points
/// are drawn from that range, so that they fall all along its run.
#[derive(Debug, Clone, Copy)]
struct Scale {
    micros: u64,
    polls: u32,
}

impl Scale {
    /// From measured runs (time, times it waited): the shortest time (runs
    /// on a busy machine take longer for lack of CPU, not of work), and one
    /// wait more than the most any run had, so that cut points cover every
    /// await point (such a run may find some answers already there).
    fn of(runs: Vec<(Duration, u32)>) -> Scale {
        let micros = runs.iter().map(|r| r.0).min().unwrap_or_default();
        let polls = runs.iter().map(|r| r.1).max().unwrap_or(0);
        Scale {
            micros: (micros.as_micros() as u64).max(50),
            polls: polls + 1,
        }
    }
}

/// How a future is given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// `tokio::time::timeout` of this many microseconds (tokio's timer
    /// rounds it up to a millisecond tick).
    Timeout(u64),
    /// `select!` against a timer of this many microseconds (a thread's
    /// sleep, finer than tokio's timer); the branch polled first is random,
    /// so with 0 the future may never be polled at all.
    Select(u64),
    /// Spawned, then its `JoinHandle::abort`ed when a timer of this many
    /// microseconds fires.
    Abort(u64),
    /// Dropped once its n-th poll returned `Pending`: at the n-th await
    /// point where it waited.
    Polls(u32),
    /// Polled once with this many units of tokio's cooperative budget
    /// left, then dropped if it returned `Pending`: a task that has done
    /// much work in one go finds its next await on a tokio resource (a
    /// lock, a channel send) pending although the resource is free.
    Starved(u32),
}

impl Cut {
    const KINDS: usize = 5;

    /// A random cut within `scale`; `Abort` only when `abortable`.
    fn random(rng: &mut Rng, abortable: bool, scale: Scale) -> Cut {
        // A zero wait one time in eight: cut before anything happens.
        let micros = if rng.chance(1, 8) {
            0
        } else {
            rng.below(scale.micros * 5 / 4 + 1)
        };
        let kinds: Vec<usize> = allowed_cuts()
            .into_iter()
            .filter(|&k| abortable || k != 3)
            .collect();
        let kinds = if kinds.is_empty() {
            vec![0, 1, 2, 4]
        } else {
            kinds
        };
        match kinds[rng.below(kinds.len() as u64) as usize] {
            0 => Cut::Timeout(micros),
            1 => Cut::Select(micros),
            2 => Cut::Polls(1 + rng.below(u64::from(scale.polls)) as u32),
            3 => Cut::Abort(micros),
            _ => Cut::Starved(rng.below(4) as u32),
        }
    }

    fn kind(self) -> usize {
        match self {
            Cut::Timeout(_) => 0,
            Cut::Select(_) => 1,
            Cut::Polls(_) => 2,
            Cut::Abort(_) => 3,
            Cut::Starved(_) => 4,
        }
    }

    /// Runs `fut` under this cut: `Some` with its output if it finished
    /// first, `None` if it was dropped.
    async fn run<T: Send + 'static>(
        self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        match self {
            Cut::Abort(us) => {
                let task = tokio::spawn(fut);
                precise_sleep(us).await;
                task.abort();
                match task.await {
                    Ok(v) => Some(v),
                    Err(e) if e.is_cancelled() => None,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            }
            cut => cut.run_local(fut).await,
        }
    }

    /// [`Cut::run`] for a future that cannot be spawned (it borrows);
    /// `Abort` is not available there.
    async fn run_local<T>(self, fut: impl Future<Output = T>) -> Option<T> {
        match self {
            Cut::Timeout(us) => tokio::time::timeout(Duration::from_micros(us), fut)
                .await
                .ok(),
            Cut::Select(us) => tokio::select! {
                v = fut => Some(v),
                () = precise_sleep(us) => None,
            },
            Cut::Polls(n) => {
                PollLimit {
                    fut: Box::pin(fut),
                    left: n,
                }
                .await
            }
            Cut::Starved(units) => {
                Starved {
                    fut: Box::pin(fut),
                    units,
                }
                .await
            }
            Cut::Abort(_) => unreachable!("Abort needs Cut::run"),
        }
    }
}

/// Resolves `us` microseconds from now, timed by a thread's sleep (tokio's
/// timer only has millisecond ticks); at once for 0.
async fn precise_sleep(us: u64) {
    if us == 0 {
        return;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_micros(us));
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// Polls the future inside until it is ready or has returned `Pending`
/// `left` times, then drops it (the outer future returns `None`).
struct PollLimit<F: Future> {
    fut: Pin<Box<F>>,
    left: u32,
}

impl<F: Future> Future for PollLimit<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                self.left -= 1;
                if self.left == 0 {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

/// Polls the future inside once with `units` units of tokio's cooperative
/// budget left, and drops it unless it finished.
struct Starved<F: Future> {
    fut: Pin<Box<F>>,
    units: u32,
}

impl<F: Future> Future for Starved<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        use tokio::task::coop::poll_proceed;
        // Take the whole budget one unit at a time; each guard, dropped
        // without `made_progress`, gives back the budget it found.
        let mut taken = Vec::new();
        while let Poll::Ready(unit) = poll_proceed(cx) {
            taken.push(unit);
            assert!(taken.len() < 100_000, "this task has no cooperative budget");
        }
        if taken.is_empty() {
            // The task spent its budget before (on an earlier cut): come
            // back with a fresh one (`poll_proceed` has arranged the wake).
            return Poll::Pending;
        }
        let keep = taken.len().saturating_sub(self.units as usize);
        let given_back = taken.split_off(keep);
        for unit in taken {
            unit.made_progress();
        }
        // Newest first: the last one dropped leaves `units` units.
        for unit in given_back.into_iter().rev() {
            drop(unit);
        }
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Ready(None),
        }
    }
}

/// Runs `fut` to the end, counting how long it took and how many times it
/// returned `Pending`.
async fn measure<T>(fut: impl Future<Output = T>) -> (T, Duration, u32) {
    struct Counted<F: Future> {
        fut: Pin<Box<F>>,
        pending: u32,
    }
    impl<F: Future> Future for Counted<F> {
        type Output = (F::Output, u32);
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.fut.as_mut().poll(cx) {
                Poll::Ready(v) => Poll::Ready((v, self.pending)),
                Poll::Pending => {
                    self.pending += 1;
                    Poll::Pending
                }
            }
        }
    }
    let started = Instant::now();
    let (v, pending) = Counted {
        fut: Box::pin(fut),
        pending: 0,
    }
    .await;
    (v, started.elapsed(), pending)
}

// ---------------------------------------------------------------------
// The setting

/// The protocol family under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Smb2,
    Smb1,
}

/// What an operation under test returns: `Err` for a wrong result (an
/// error the operation must not have, wrong content).
type OpFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One test: its server, its connection, the random source and what
/// happened so far.
struct Ctx {
    name: &'static str,
    base_seed: u64,
    seed: u64,
    rng: Rng,
    srv: TestServer,
    conn: Connection,
    small: Vec<u8>,
    big: Vec<u8>,
    /// Per kind of cut: futures that finished, futures dropped.
    finished: [usize; Cut::KINDS],
    dropped: [usize; Cut::KINDS],
    /// The last cuts, newest last, for failure messages.
    recent: Vec<String>,
    /// Drops so far, numbered from 0.
    drops: usize,
}

impl Ctx {
    async fn new(name: &'static str, family: Family) -> Ctx {
        let base_seed = base_seed();
        let seed = base_seed ^ fnv1a(name.as_bytes());
        eprintln!(
            "{name}: seed {seed:#x}; replay with SMBKIT_CANCEL_SEED={base_seed:#x} \
             cargo test -p smbkit --test cancel_safety {name}"
        );
        let srv = match family {
            Family::Smb2 => TestServer::start_with(
                Profile::Modern,
                ExtraConfig {
                    global: format!("smb2 max credits = {MAX_CREDITS}"),
                    sections: String::new(),
                },
            ),
            Family::Smb1 => TestServer::start(Profile::Smb1Only),
        }
        .expect("start the test Samba server (run scripts/install-deps)");
        let small = content(SMALL, 1);
        let big = content(BIG, 2);
        let share = srv.share_path();
        std::fs::write(share.join("small.bin"), &small).unwrap();
        std::fs::write(share.join("big.bin"), &big).unwrap();
        for dir in ["list", "del", "ren", "up", "mk"] {
            std::fs::create_dir(share.join(dir)).unwrap();
        }
        for i in 0..LISTED {
            std::fs::write(share.join(format!("list/f{i:02}.txt")), [i as u8]).unwrap();
        }
        srv.chown_to_user(share).unwrap();
        let conn =
            SmbProtocolFactory::new(srv.user(), srv.password(), "SMBKITCLIENT", "SMBKITTEST")
                .unwrap()
                .direct_tcp(true)
                .sign_options(SignOptions::WhenRequired)
                .protocol(match family {
                    Family::Smb2 => Protocol::Smb2Only,
                    Family::Smb1 => Protocol::Smb1Only,
                })
                .connect((srv.host(), srv.port()))
                .await
                .unwrap_or_else(|e| panic!("connect: {e}\n{}", srv.log_tail(30)));
        assert_eq!(conn.is_using_smb2(), family == Family::Smb2);
        // Connect the share before the drops, so that they do not all land
        // in the first tree connect (its own test cuts those).
        conn.tree_connect("share").await.unwrap();
        Ctx {
            name,
            base_seed,
            seed,
            rng: Rng(seed),
            srv,
            conn,
            small,
            big,
            finished: [0; Cut::KINDS],
            dropped: [0; Cut::KINDS],
            recent: Vec::new(),
            drops: 0,
        }
    }

    /// Fails the test with `what`, the seed and the last cuts.
    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{name}: {what}\n\
             seed {seed:#x} (replay: SMBKIT_CANCEL_SEED={base:#x} cargo test -p smbkit \
             --test cancel_safety {name}; add SMBKIT_CANCEL_BATCH=1 to check after every drop)\n\
             finished/dropped by timeout {t0}/{t1}, select {s0}/{s1}, polls {p0}/{p1}, abort {a0}/{a1}, \
             starved {b0}/{b1}\n\
             last cuts (oldest first):\n  {recent}{logs}",
            name = self.name,
            seed = self.seed,
            base = self.base_seed,
            t0 = self.finished[0],
            t1 = self.dropped[0],
            s0 = self.finished[1],
            s1 = self.dropped[1],
            p0 = self.finished[2],
            p1 = self.dropped[2],
            a0 = self.finished[3],
            a1 = self.dropped[3],
            b0 = self.finished[4],
            b1 = self.dropped[4],
            recent = self.recent.join("\n  "),
            logs = if self.conn.is_ready() {
                String::new()
            } else {
                format!(
                    "\nthe connection is closed; the server's logs:\n{}",
                    self.srv.log_tail(40)
                )
            },
        )
    }

    /// Records one cut future's fate; a wrong result fails the test.
    fn record(&mut self, what: &str, cut: Cut, out: Option<Result<(), String>>) {
        let outcome = match &out {
            None => "dropped".to_string(),
            Some(Ok(())) => "finished".to_string(),
            Some(Err(e)) => format!("finished wrongly: {e}"),
        };
        self.recent
            .push(format!("#{} {what} {cut:?}: {outcome}", self.drops));
        if self.recent.len() > 12 {
            self.recent.remove(0);
        }
        self.drops += 1;
        match out {
            None => self.dropped[cut.kind()] += 1,
            Some(Ok(())) => self.finished[cut.kind()] += 1,
            Some(Err(e)) => self.fail(&format!("{what} under {cut:?}: {e}")),
        }
    }

    /// Runs [`CALIBRATION_RUNS`] futures made by `op` uncut to learn its
    /// [`Scale`], then cuts `rounds` more, in batches of `batch`, and checks
    /// the connection after each batch. `op` gets the round number.
    async fn drops(
        &mut self,
        what: &str,
        rounds: usize,
        batch: usize,
        mut op: impl FnMut(&Ctx, usize) -> OpFuture,
    ) {
        let mut runs = Vec::new();
        for i in 0..CALIBRATION_RUNS {
            let (r, took, polls) = measure(op(self, rounds + i)).await;
            if let Err(e) = r {
                self.fail(&format!("{what}, uncut: {e}"));
            }
            runs.push((took, polls));
        }
        let scale = Scale::of(runs);
        eprintln!("{}: {what} takes {scale:?} uncut", self.name);
        let batch = batch_size(batch);
        for i in 0..rounds {
            let fut = op(self, i);
            let cut = Cut::random(&mut self.rng, true, scale);
            let out = cut.run(fut).await;
            self.record(what, cut, out);
            if (i + 1) % batch == 0 || i + 1 == rounds {
                self.check(&format!("after {} drops of {what}", i + 1))
                    .await;
            }
        }
        self.assert_cut_enough();
    }

    /// The test must have dropped a good share of its futures, or it
    /// proves nothing (a busy machine makes some cuts come late).
    fn assert_cut_enough(&self) {
        let dropped: usize = self.dropped.iter().sum();
        let finished: usize = self.finished.iter().sum();
        eprintln!(
            "{}: {dropped} futures dropped, {finished} finished",
            self.name
        );
        if dropped * 8 < dropped + finished || dropped < 10 {
            self.fail("fewer than one future in eight was dropped: the cuts come too late");
        }
    }

    /// The checks after a batch: nothing left open on the server, ECHO, a
    /// whole large retrieve, a full window, a sustained run.
    async fn check(&self, after: &str) {
        let left = tokio::task::block_in_place(|| self.srv.wait_until_no_open_files(SETTLE))
            .unwrap_or_else(|e| self.fail(&format!("smbstatus: {e}")));
        if !left.is_empty() {
            let names: Vec<String> = left
                .iter()
                .map(|f| {
                    format!(
                        "{} (access {:#x}, opened {})",
                        f.name, f.access_mask, f.opened_at
                    )
                })
                .collect();
            self.fail(&format!(
                "{after}: {} handle(s) still open on the server {SETTLE:?} later: {names:?}",
                left.len()
            ));
        }
        let conn = self.conn.with_timeout(CHECK_LIMIT);
        if let Err(e) = conn.echo(b"still there").await {
            self.fail(&format!("{after}: ECHO failed: {e}"));
        }
        let mut out = Vec::new();
        match conn.retrieve_file("share", "big.bin", &mut out).await {
            Ok((_, n)) if n as usize == BIG && out == self.big => {}
            Ok((_, n)) => self.fail(&format!(
                "{after}: retrieve of big.bin gave {n} bytes, differing from byte {}",
                first_difference(&out, &self.big)
            )),
            Err(e) => self.fail(&format!("{after}: retrieve of big.bin failed: {e}")),
        }
        self.full_window(after).await;
        self.sustained(after).await;
    }

    /// 64 `get_attributes` at once all complete, within a second (they
    /// take milliseconds).
    async fn full_window(&self, after: &str) {
        let started = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let conn = self.conn.with_timeout(CHECK_LIMIT);
                tokio::spawn(async move { conn.get_attributes("share", "small.bin").await })
            })
            .collect();
        for t in tasks {
            match t.await.unwrap() {
                Ok(f) if f.file_size == SMALL as u64 => {}
                Ok(f) => self.fail(&format!("{after}: get_attributes says {f:?}")),
                Err(e) => self.fail(&format!(
                    "{after}: one of 64 concurrent get_attributes failed after {:?}: {e}",
                    started.elapsed()
                )),
            }
        }
        if started.elapsed() > WINDOW_LIMIT {
            self.fail(&format!(
                "{after}: 64 concurrent get_attributes took {:?}",
                started.elapsed()
            ));
        }
    }

    /// More ECHOs than the server grants credits for at once, 64 at a time:
    /// they only all complete if no message id was skipped.
    async fn sustained(&self, after: &str) {
        let total = 2 * MAX_CREDITS + 64;
        let mut done = 0;
        while done < total {
            let wave: Vec<_> = (0..64)
                .map(|_| {
                    let conn = self.conn.with_timeout(CHECK_LIMIT);
                    tokio::spawn(async move { conn.echo(b"x").await })
                })
                .collect();
            for t in wave {
                if let Err(e) = t.await.unwrap() {
                    self.fail(&format!(
                        "{after}: ECHO number {done} of a sustained run of {total} failed: {e}"
                    ));
                }
                done += 1;
            }
        }
    }

    /// A connection handle for an operation future.
    fn conn(&self) -> Connection {
        self.conn.clone()
    }

    /// Writes a file into the share (as the test user), for an operation
    /// to act on.
    fn put(&self, path: &str, data: &[u8]) {
        let p = self.srv.share_path().join(path);
        std::fs::write(&p, data).unwrap();
        self.srv.chown_to_user(&p).unwrap();
    }

    fn local(&self, path: &str) -> std::path::PathBuf {
        self.srv.share_path().join(path)
    }
}

/// The offset of the first byte where `a` and `b` differ (or the shorter
/// length).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// `Err` with the operation's error.
fn wrong(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what} failed: {e}")
}

// ---------------------------------------------------------------------
// The operations

/// An operation under test, with what it acts on and how its result is
/// checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `retrieve_file` of the small file: CREATE + READ + CLOSE in one
    /// compound over SMB2.
    RetrieveSmall,
    /// `retrieve_file` of the large file: the compound, then a second
    /// CREATE and pipelined READs.
    RetrieveBig,
    /// `store_file` of 3000 bytes (one WRITE) to a new file.
    StoreSmall,
    /// `store_file` of 2 MiB + 99 bytes (pipelined WRITEs) to a new file.
    StoreBig,
    /// `open_file`, `read_at` of 100 bytes, then `close` (or, one time in
    /// two, dropping the `RemoteFile`).
    OpenReadClose,
    /// `list_path` of a folder of [`LISTED`] files.
    ListPath,
    /// `get_attributes` of the small file.
    GetAttributes,
    /// `delete_files` of three fresh files matching a wildcard.
    DeleteFiles,
    /// `rename` of a fresh file.
    Rename,
    /// `create_directory` of a fresh folder.
    CreateDirectory,
    /// `echo`.
    Echo,
    /// `list_shares` (a named pipe on IPC$, DCE/RPC).
    ListShares,
}

impl Op {
    const ALL: [Op; 12] = [
        Op::RetrieveSmall,
        Op::RetrieveBig,
        Op::StoreSmall,
        Op::StoreBig,
        Op::OpenReadClose,
        Op::ListPath,
        Op::GetAttributes,
        Op::DeleteFiles,
        Op::Rename,
        Op::CreateDirectory,
        Op::Echo,
        Op::ListShares,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::RetrieveSmall => "retrieve_file (small)",
            Op::RetrieveBig => "retrieve_file (large)",
            Op::StoreSmall => "store_file (small)",
            Op::StoreBig => "store_file (large)",
            Op::OpenReadClose => "open_file + read_at + close",
            Op::ListPath => "list_path",
            Op::GetAttributes => "get_attributes",
            Op::DeleteFiles => "delete_files",
            Op::Rename => "rename",
            Op::CreateDirectory => "create_directory",
            Op::Echo => "echo",
            Op::ListShares => "list_shares",
        }
    }

    /// Cut futures of this operation per test, and per batch.
    fn rounds(self) -> (usize, usize) {
        match self {
            Op::RetrieveBig => (90, 30),
            Op::StoreBig => (60, 20),
            Op::ListShares => (120, 40),
            _ => (240, 60),
        }
    }

    /// The operation's future for round `i` (files it needs are made
    /// here; `i` keeps the names of rounds apart).
    fn future(self, ctx: &Ctx, i: usize) -> OpFuture {
        let conn = ctx.conn();
        match self {
            Op::RetrieveSmall | Op::RetrieveBig => {
                let (path, want) = if self == Op::RetrieveSmall {
                    ("small.bin", ctx.small.clone())
                } else {
                    ("big.bin", ctx.big.clone())
                };
                Box::pin(async move {
                    let mut out = Vec::new();
                    conn.retrieve_file("share", path, &mut out)
                        .await
                        .map_err(|e| wrong("retrieve_file", e))?;
                    if out != want {
                        return Err(format!(
                            "retrieve_file returned {} bytes, differing from byte {}",
                            out.len(),
                            first_difference(&out, &want)
                        ));
                    }
                    Ok(())
                })
            }
            Op::StoreSmall | Op::StoreBig => {
                let len = if self == Op::StoreSmall {
                    3000
                } else {
                    2 * (1 << 20) + 99
                };
                let data = content(len, 100 + i as u32);
                let path = format!("up/s{i}.bin");
                let local = ctx.local(&path);
                Box::pin(async move {
                    let mut input = data.as_slice();
                    let n = conn
                        .store_file("share", &path, &mut input)
                        .await
                        .map_err(|e| wrong("store_file", e))?;
                    let stored = std::fs::read(&local).map_err(|e| wrong("reading it back", e))?;
                    if n as usize != len || stored != data {
                        return Err(format!(
                            "store_file said {n} bytes; the file has {} bytes, differing from \
                             byte {}",
                            stored.len(),
                            first_difference(&stored, &data)
                        ));
                    }
                    Ok(())
                })
            }
            Op::OpenReadClose => {
                let want = ctx.big.clone();
                let at = (i * 7919) % (BIG - 100);
                Box::pin(async move {
                    let file = conn
                        .open_file("share", "big.bin")
                        .await
                        .map_err(|e| wrong("open_file", e))?;
                    let got = file
                        .read_at(at as u64, 100)
                        .await
                        .map_err(|e| wrong("read_at", e))?;
                    if got[..] != want[at..at + 100] {
                        return Err(format!("read_at({at}, 100) returned other bytes"));
                    }
                    // Half the files are closed, half dropped (closed in
                    // the background).
                    if i.is_multiple_of(2) {
                        file.close().await.map_err(|e| wrong("close", e))?;
                    }
                    Ok(())
                })
            }
            Op::ListPath => Box::pin(async move {
                let entries = conn
                    .list_path("share", "list")
                    .await
                    .map_err(|e| wrong("list_path", e))?;
                let files = entries
                    .iter()
                    .filter(|e| e.filename.starts_with('f'))
                    .count();
                (files == LISTED)
                    .then_some(())
                    .ok_or_else(|| format!("list_path listed {files} of {LISTED} files"))
            }),
            Op::GetAttributes => Box::pin(async move {
                let f = conn
                    .get_attributes("share", "small.bin")
                    .await
                    .map_err(|e| wrong("get_attributes", e))?;
                (f.file_size == SMALL as u64)
                    .then_some(())
                    .ok_or_else(|| format!("get_attributes says {} bytes", f.file_size))
            }),
            Op::DeleteFiles => {
                let locals: Vec<_> = (0..3)
                    .map(|k| {
                        let path = format!("del/d{i}-{k}.tmp");
                        ctx.put(&path, b"doomed");
                        ctx.local(&path)
                    })
                    .collect();
                Box::pin(async move {
                    conn.delete_files("share", &format!("del/d{i}-*.tmp"), false)
                        .await
                        .map_err(|e| wrong("delete_files", e))?;
                    match locals.iter().find(|p| p.exists()) {
                        Some(p) => Err(format!("delete_files left {}", p.display())),
                        None => Ok(()),
                    }
                })
            }
            Op::Rename => {
                let (old, new) = (format!("ren/a{i}"), format!("ren/b{i}"));
                ctx.put(&old, b"moving");
                let (old_local, new_local) = (ctx.local(&old), ctx.local(&new));
                Box::pin(async move {
                    conn.rename("share", &old, &new)
                        .await
                        .map_err(|e| wrong("rename", e))?;
                    (!old_local.exists() && new_local.exists())
                        .then_some(())
                        .ok_or_else(|| "rename finished, but the file did not move".into())
                })
            }
            Op::CreateDirectory => {
                let path = format!("mk/d{i}");
                let local = ctx.local(&path);
                Box::pin(async move {
                    conn.create_directory("share", &path)
                        .await
                        .map_err(|e| wrong("create_directory", e))?;
                    local
                        .is_dir()
                        .then_some(())
                        .ok_or_else(|| "create_directory finished, but there is no folder".into())
                })
            }
            Op::Echo => Box::pin(async move {
                let back = conn.echo(b"ping").await.map_err(|e| wrong("echo", e))?;
                (back == b"ping")
                    .then_some(())
                    .ok_or_else(|| "echo returned other bytes".into())
            }),
            Op::ListShares => Box::pin(async move {
                let shares = conn
                    .list_shares()
                    .await
                    .map_err(|e| wrong("list_shares", e))?;
                shares
                    .iter()
                    .any(|s| s.name == "share")
                    .then_some(())
                    .ok_or_else(|| format!("list_shares: {shares:?}"))
            }),
        }
    }
}

/// Cuts futures of `op` at random points (see [`Ctx::drops`]).
async fn drops_of(op: Op, family: Family, name: &'static str) {
    let mut ctx = Ctx::new(name, family).await;
    let (rounds, batch) = op.rounds();
    ctx.drops(op.name(), rounds, batch, |ctx, i| op.future(ctx, i))
        .await;
}

/// `watch` of a folder, a file created in it (again every 200 ms: the
/// server registers the watch a moment after it has taken the request),
/// and the change taken; the watch dropped at the end or cut anywhere: while
/// the folder is opened and the request armed, while the request waits,
/// with changes arrived and not taken, right after the next request went
/// out. Nothing stays open, no message id or credit is lost.
async fn watch_drops(family: Family, name: &'static str) {
    let mut ctx = Ctx::new(name, family).await;
    let dir = ctx.local("watched");
    std::fs::create_dir(&dir).unwrap();
    ctx.srv.chown_to_user(&dir).unwrap();
    ctx.drops("watch", 60, 20, |ctx, i| {
        let conn = ctx.conn();
        Box::pin(async move {
            let options = smbkit::WatchOptions {
                filter: smbkit::NotifyFilter::FILE_NAME,
                ..smbkit::WatchOptions::default()
            };
            let mut w = conn
                .watch("share", "watched", options)
                .await
                .map_err(|e| wrong("watch", e))?;
            for k in 0..50 {
                let mut empty: &[u8] = b"";
                conn.store_file("share", &format!("watched/f{i}-{k}"), &mut empty)
                    .await
                    .map_err(|e| wrong("store_file", e))?;
                match tokio::time::timeout(Duration::from_millis(200), w.next_change()).await {
                    Ok(Ok(Some(smbkit::Change::Added(_)))) => return Ok(()),
                    Ok(r) => return Err(format!("the watch gave {r:?}")),
                    Err(_) => {}
                }
            }
            Err("the watch reported nothing".into())
        })
    })
    .await;
}

/// Every operation cut at its first poll made without cooperative budget
/// left, after 0 to 3 of its awaits on tokio resources went through: the
/// cut lands on the first await that would have waited for nothing, such
/// as the send of a request whose message id and credits are already
/// taken.
async fn starved(family: Family, name: &'static str) {
    let mut ctx = Ctx::new(name, family).await;
    let batch = batch_size(16);
    let mut n = 0;
    for op in Op::ALL {
        for i in 0..16 {
            let fut = op.future(&ctx, 1000 + n);
            n += 1;
            let cut = Cut::Starved((i % 4) as u32);
            let out = cut.run(fut).await;
            ctx.record(op.name(), cut, out);
            if n % batch == 0 {
                ctx.check(&format!(
                    "after {n} starved drops, the last of {}",
                    op.name()
                ))
                .await;
            }
        }
    }
    ctx.assert_cut_enough();
}

/// `next_chunk` of one reader cut again and again: reading on must give
/// every byte of the file once, in order.
async fn reader_next_chunk(family: Family, name: &'static str) {
    let mut ctx = Ctx::new(name, family).await;
    let rounds = 24;
    let batch = batch_size(8);
    let scale = {
        let file = ctx.conn.open_file("share", "big.bin").await.unwrap();
        let mut reader = file.reader(0, None);
        let mut runs = Vec::new();
        loop {
            let (r, took, polls) = measure(reader.next_chunk()).await;
            runs.push((took, polls));
            if r.unwrap_or_else(|e| ctx.fail(&format!("next_chunk, uncut: {e}")))
                .is_none()
            {
                break;
            }
        }
        drop(reader);
        file.close().await.unwrap();
        Scale::of(runs)
    };
    eprintln!("{name}: next_chunk takes {scale:?} uncut");
    for round in 0..rounds {
        let file = ctx
            .conn
            .open_file("share", "big.bin")
            .await
            .unwrap_or_else(|e| ctx.fail(&format!("open_file: {e}")));
        // Some rounds start inside the file and stop before its end.
        let (start, len) = if round % 3 == 2 {
            (12_345usize, BIG - 2 * 12_345)
        } else {
            (0, BIG)
        };
        let mut reader = file.reader(start as u64, Some(len as u64));
        let want = ctx.big[start..start + len].to_vec();
        let mut got: Vec<u8> = Vec::with_capacity(len);
        loop {
            let chunk = if ctx.rng.chance(2, 3) {
                let cut = Cut::random(&mut ctx.rng, false, scale);
                let out = cut.run_local(reader.next_chunk()).await;
                ctx.record("next_chunk", cut, out.as_ref().map(|_| Ok(())));
                out
            } else {
                Some(reader.next_chunk().await)
            };
            let end = match chunk {
                None => false,
                Some(Ok(Some(b))) => {
                    got.extend_from_slice(&b);
                    false
                }
                Some(Ok(None)) => true,
                Some(Err(e)) => ctx.fail(&format!("round {round}: next_chunk failed: {e}")),
            };
            if got.len() > len || got[..] != want[..got.len()] {
                ctx.fail(&format!(
                    "round {round}: after dropped next_chunk futures the reader gave {} bytes \
                     differing from the file (at {}) from byte {}: bytes were skipped or repeated",
                    got.len(),
                    start,
                    first_difference(&got, &want)
                ));
            }
            if end {
                break;
            }
        }
        if got.len() != len {
            ctx.fail(&format!(
                "round {round}: the reader ended after {} of {len} bytes",
                got.len()
            ));
        }
        drop(reader);
        file.close()
            .await
            .unwrap_or_else(|e| ctx.fail(&format!("close: {e}")));
        if (round + 1) % batch == 0 {
            ctx.check(&format!("after {} rounds of next_chunk", round + 1))
                .await;
        }
    }
    ctx.assert_cut_enough();
}

/// `tree_disconnect` then `tree_connect` of the share, cut anywhere: the
/// server must never be left with a tree the client forgot.
async fn tree_connect(family: Family, name: &'static str) {
    let mut ctx = Ctx::new(name, family).await;
    let rounds = 160;
    let batch = batch_size(40);
    let reconnect = |conn: Connection| async move {
        conn.tree_disconnect("share")
            .await
            .map_err(|e| wrong("tree_disconnect", e))?;
        conn.tree_connect("share")
            .await
            .map(drop)
            .map_err(|e| wrong("tree_connect", e))
    };
    let mut runs = Vec::new();
    for _ in 0..CALIBRATION_RUNS {
        let (r, took, polls) = measure(reconnect(ctx.conn())).await;
        r.unwrap_or_else(|e| ctx.fail(&format!("uncut: {e}")));
        runs.push((took, polls));
    }
    let scale = Scale::of(runs);
    eprintln!("{name}: tree_disconnect + tree_connect takes {scale:?} uncut");
    for i in 0..rounds {
        let fut = reconnect(ctx.conn());
        let cut = Cut::random(&mut ctx.rng, true, scale);
        let out = cut.run(fut).await;
        ctx.record("tree_disconnect + tree_connect", cut, out);
        if (i + 1) % batch == 0 {
            ctx.conn
                .tree_disconnect("share")
                .await
                .unwrap_or_else(|e| ctx.fail(&format!("tree_disconnect: {e}")));
            let left = poll_blocking(SETTLE, || {
                let t = ctx.srv.tree_connects().unwrap();
                let on_share: Vec<_> = t.into_iter().filter(|t| t.share == "share").collect();
                on_share.is_empty().then_some(()).ok_or(on_share)
            });
            if let Err(left) = left {
                ctx.fail(&format!(
                    "after {} drops: the client disconnected the share, but the server still \
                     has {} tree(s) connected to it {SETTLE:?} later: {left:?}",
                    i + 1,
                    left.len()
                ));
            }
            ctx.check(&format!("after {} drops of tree_connect", i + 1))
                .await;
        }
    }
    ctx.assert_cut_enough();
}

/// Polls `f` (blocking) until it is `Ok`, at most `within`; its last result.
fn poll_blocking<E>(within: Duration, f: impl Fn() -> Result<(), E>) -> Result<(), E> {
    tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + within;
        loop {
            let r = f();
            if r.is_ok() || std::time::Instant::now() >= deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// Many operations at once, most of them aborted after a short while:
/// drops that land while requests wait for credits, for MaxMpxCount slots,
/// for room in the send queue, or behind each other.
async fn burst(family: Family, name: &'static str) {
    let mut ctx = Ctx::new(name, family).await;
    let rounds = 30;
    let batch = batch_size(10);
    // The quickest of a few uncut bursts (the first ones on a new
    // connection are slower), so that the cuts fall within most bursts.
    let mut scale = u64::MAX;
    for i in 0..3 {
        let started = Instant::now();
        for t in burst_tasks(&mut ctx, rounds + 1 + i) {
            t.await
                .unwrap()
                .unwrap_or_else(|e| ctx.fail(&format!("uncut: {e}")));
        }
        scale = scale.min(started.elapsed().as_micros() as u64);
    }
    eprintln!("{name}: a burst takes {scale} µs uncut");
    for round in 1..=rounds {
        let tasks = burst_tasks(&mut ctx, round);
        // Most operations of a burst finish long before the slowest (the
        // large retrieve).
        let wait = ctx.rng.below(scale / 10 + 1);
        precise_sleep(wait).await;
        for t in &tasks {
            if ctx.rng.chance(3, 4) {
                t.abort();
            }
        }
        for t in tasks {
            let out = match t.await {
                Ok(r) => Some(r),
                Err(e) if e.is_cancelled() => None,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            ctx.record("one of a burst", Cut::Abort(wait), out);
        }
        if round % batch == 0 {
            ctx.check(&format!("after {round} bursts")).await;
        }
    }
    ctx.assert_cut_enough();
}

/// 48 operations of random kinds (a few large transfers), each in a task
/// of its own.
fn burst_tasks(ctx: &mut Ctx, round: usize) -> Vec<tokio::task::JoinHandle<Result<(), String>>> {
    const KINDS: [Op; 7] = [
        Op::RetrieveSmall,
        Op::StoreSmall,
        Op::OpenReadClose,
        Op::ListPath,
        Op::GetAttributes,
        Op::Echo,
        Op::Rename,
    ];
    (0..48)
        .map(|k| {
            let op = if k == 0 {
                Op::RetrieveBig
            } else {
                KINDS[ctx.rng.below(KINDS.len() as u64) as usize]
            };
            tokio::spawn(op.future(ctx, 10_000 + round * 48 + k))
        })
        .collect()
}

// ---------------------------------------------------------------------
// The tests: each operation over SMB2/3 and over SMB1.

macro_rules! cancel_tests {
    ($($(#[$attr:meta])* $test:ident: $family:ident, $run:expr;)*) => {
        $(
            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let run = $run;
                run(Family::$family, stringify!($test)).await;
            }
        )*
    };
}

cancel_tests! {
    smb2_retrieve_small_file: Smb2, |f, n| drops_of(Op::RetrieveSmall, f, n);
    smb2_retrieve_large_file: Smb2, |f, n| drops_of(Op::RetrieveBig, f, n);
    smb2_store_small_file: Smb2, |f, n| drops_of(Op::StoreSmall, f, n);
    smb2_store_large_file: Smb2, |f, n| drops_of(Op::StoreBig, f, n);
    smb2_open_read_close: Smb2, |f, n| drops_of(Op::OpenReadClose, f, n);
    smb2_list_path: Smb2, |f, n| drops_of(Op::ListPath, f, n);
    smb2_get_attributes: Smb2, |f, n| drops_of(Op::GetAttributes, f, n);
    smb2_delete_files: Smb2, |f, n| drops_of(Op::DeleteFiles, f, n);
    smb2_rename: Smb2, |f, n| drops_of(Op::Rename, f, n);
    smb2_create_directory: Smb2, |f, n| drops_of(Op::CreateDirectory, f, n);
    smb2_echo: Smb2, |f, n| drops_of(Op::Echo, f, n);
    smb2_list_shares: Smb2, |f, n| drops_of(Op::ListShares, f, n);
    smb2_reader_next_chunk: Smb2, reader_next_chunk;
    smb2_tree_connect: Smb2, tree_connect;
    smb2_starved: Smb2, starved;
    smb2_burst: Smb2, burst;
    smb2_watch: Smb2, watch_drops;

    smb1_retrieve_small_file: Smb1, |f, n| drops_of(Op::RetrieveSmall, f, n);
    smb1_retrieve_large_file: Smb1, |f, n| drops_of(Op::RetrieveBig, f, n);
    smb1_store_small_file: Smb1, |f, n| drops_of(Op::StoreSmall, f, n);
    smb1_store_large_file: Smb1, |f, n| drops_of(Op::StoreBig, f, n);
    smb1_open_read_close: Smb1, |f, n| drops_of(Op::OpenReadClose, f, n);
    smb1_list_path: Smb1, |f, n| drops_of(Op::ListPath, f, n);
    smb1_get_attributes: Smb1, |f, n| drops_of(Op::GetAttributes, f, n);
    smb1_delete_files: Smb1, |f, n| drops_of(Op::DeleteFiles, f, n);
    smb1_rename: Smb1, |f, n| drops_of(Op::Rename, f, n);
    smb1_create_directory: Smb1, |f, n| drops_of(Op::CreateDirectory, f, n);
    smb1_echo: Smb1, |f, n| drops_of(Op::Echo, f, n);
    smb1_list_shares: Smb1, |f, n| drops_of(Op::ListShares, f, n);
    smb1_reader_next_chunk: Smb1, reader_next_chunk;
    smb1_tree_connect: Smb1, tree_connect;
    smb1_starved: Smb1, starved;
    smb1_burst: Smb1, burst;
    smb1_watch: Smb1, watch_drops;
}
