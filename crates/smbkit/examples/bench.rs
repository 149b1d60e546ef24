//! Benchmark: smbkit against Samba's own `smbclient`, side by side, on the
//! same private Samba server (smbkit-testserver, profile `modern`: direct
//! TCP, SMB 3.1.1, no signing unless `--signing`).
//!
//! ```text
//! scripts/bench [--size-mib N] [--files N] [--entries N] [--signing]
//!               [--smb1] [--encrypt [--cipher NAME]]
//!               [--only OP] [--repeat N]
//!               [--warmup N] [--concurrency N] [--threads N] [--reconnect]
//! ```
//!
//! Rows: download of a big file (`retrieve_file` into a sink against
//! `get big.bin /dev/null`), upload of a big file (`store_file` from an
//! in-memory pseudo-random reader against `put <local file>`), retrieval
//! of many 4 KiB files (smbkit: `--concurrency` at a time over one
//! connection; smbclient: one process, one `get` after the other), the
//! listing of a big folder (`list_path` against `ls`), and a copy of the
//! big file within the share (smbkit: `Connection::copy`, done by the
//! server with FSCTL_SRV_COPYCHUNK_WRITE; smbclient, which has no
//! server-side copy: `get` to a local file and `put` of it, in one
//! process). smbkit's copy is also measured through the client,
//! `copy_to` between two connections (the data read and written over the
//! network, no local file), to print what the server-side copy saves.
//!
//! With `--encrypt` both clients encrypt every message (smbkit with
//! `Encryption::Required`, smbclient with `--client-protection=encrypt`)
//! and smbkit's download and upload are also measured unencrypted, in the
//! same run against the same server, to print what encryption costs.
//!
//! Every measurement runs in a fresh process: smbkit's in a child of this
//! binary (`bench child …`), which reports its own peak RSS (VmHWM);
//! smbclient's under `/usr/bin/time` (peak RSS and CPU time). Both are
//! timed the same way, from spawn to exit, and the time the same program
//! needs to connect, log on, connect the share and exit (best of 5) is
//! subtracted, so that the rates compare the operations themselves. Each
//! measurement is repeated `--repeat` times (3 by default) after `--warmup`
//! untimed runs (1 by default), all of smbkit's, then all of smbclient's,
//! and the best is kept; medians are printed too. The CPU time of each
//! client process and of smbd's connection process is measured as well.
//! Trial-by-trial timings go to stderr, the table to stdout.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, ExitCode, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use smbkit::{Connection, Encryption, Protocol, SmbProtocolFactory};
use smbkit_testserver::{ExtraConfig, Profile, TestServer};
use tokio::io::{AsyncRead, ReadBuf};

const USAGE: &str = "\
usage: bench [--size-mib N] [--files N] [--entries N] [--signing] [--smb1]
             [--encrypt [--cipher NAME]] [--only download|upload|small|list|copy] [--repeat N]
             [--warmup N] [--concurrency N] [--threads N] [--reconnect]

Runs smbkit and smbclient side by side against one private Samba server
(needs root, Samba and smbclient: scripts/bench installs them).

  --size-mib N      size of the downloaded and uploaded file (default 1024)
  --files N         number of 4 KiB files retrieved (default 1000)
  --entries N       entries of the listed folder (default 10000)
  --signing         a server that requires signing (both clients sign)
  --smb1            an SMB1-only server (NT LM 0.12): both clients speak SMB1
  --encrypt         both clients encrypt everything (SMB 3.1.1); smbkit's download
                    and upload are also measured unencrypted, for comparison
  --cipher NAME     with --encrypt: the one cipher the server offers
                    (AES-128-GCM, AES-256-GCM, AES-128-CCM or AES-256-CCM)
  --only OP         run one row: download, upload, file-read, file-write
                    (the same transfers through RemoteFile and tokio::io::copy),
                    small, list or copy (the big file copied within the share:
                    by the server for smbkit, get + put for smbclient)
  --repeat N        trials per measurement; the best is kept (default 3)
  --warmup N        untimed rounds before them (default 1)
  --concurrency N   smbkit's retrievals in flight for small files (default 32)
  --threads N       smbkit's tokio worker threads (default: one per CPU)
  --reconnect       smbkit with a reconnect policy, so its files are opened
                    durable with a lease, against a server set up for durable
                    handles (what surviving a lost connection costs)
";

/// The server's NetBIOS name (smbkit-testserver's `netbios name`).
const SERVER_NAME: &str = "SMBKITTEST";
/// Remote names.
const BIG: &str = "big.bin";
const UP_SMBKIT: &str = "up-smbkit.bin";
const UP_SMBCLIENT: &str = "up-smbclient.bin";
const COPY_SMBKIT: &str = "copy-smbkit.bin";
const COPY_SMBCLIENT: &str = "copy-smbclient.bin";
const SMALL_DIR: &str = "small";
const LIST_DIR: &str = "list";
const SMALL_SIZE: usize = 4096;
/// Trials of the connect-only baseline.
const BASELINE_TRIALS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Download,
    Upload,
    /// The download through `RemoteFile` (`AsyncRead`) and `tokio::io::copy`.
    FileRead,
    /// The upload through `RemoteFile` (`AsyncWrite`) and `tokio::io::copy`.
    FileWrite,
    Small,
    List,
    /// The big file copied within the share.
    Copy,
}

impl Op {
    const ALL: [Op; 7] = [
        Op::Download,
        Op::Upload,
        Op::FileRead,
        Op::FileWrite,
        Op::Small,
        Op::List,
        Op::Copy,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Download => "download",
            Op::Upload => "upload",
            Op::FileRead => "file-read",
            Op::FileWrite => "file-write",
            Op::Small => "small",
            Op::List => "list",
            Op::Copy => "copy",
        }
    }

    fn parse(s: &str) -> Result<Op, String> {
        Op::ALL.into_iter().find(|o| o.name() == s).ok_or_else(|| {
            format!(
                "unknown operation {s:?} (download, upload, file-read, file-write, small, list or copy)"
            )
        })
    }
}

#[derive(Debug, Clone)]
struct Opts {
    size_mib: u64,
    files: usize,
    entries: usize,
    signing: bool,
    smb1: bool,
    encrypt: bool,
    cipher: Option<String>,
    only: Option<Op>,
    repeat: usize,
    warmup: usize,
    concurrency: usize,
    threads: usize,
    reconnect: bool,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        size_mib: 1024,
        files: 1000,
        entries: 10_000,
        signing: false,
        smb1: false,
        encrypt: false,
        reconnect: false,
        cipher: None,
        only: None,
        repeat: 3,
        warmup: 1,
        concurrency: 32,
        threads: 0,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |v: String| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: {v:?} is not a number"))
        };
        match name {
            "--size-mib" => o.size_mib = number(value()?)?.max(1),
            "--files" => o.files = number(value()?)?.max(1) as usize,
            "--entries" => o.entries = number(value()?)? as usize,
            "--signing" => o.signing = true,
            "--smb1" => o.smb1 = true,
            "--encrypt" => o.encrypt = true,
            "--reconnect" => o.reconnect = true,
            "--cipher" => {
                let v = value()?.to_ascii_uppercase();
                if !["AES-128-GCM", "AES-256-GCM", "AES-128-CCM", "AES-256-CCM"]
                    .contains(&v.as_str())
                {
                    return Err(format!(
                        "--cipher: {v:?} is not AES-128-GCM, AES-256-GCM, AES-128-CCM or AES-256-CCM"
                    ));
                }
                o.cipher = Some(v);
            }
            "--only" => o.only = Some(Op::parse(&value()?)?),
            "--repeat" => o.repeat = number(value()?)?.max(1) as usize,
            "--warmup" => o.warmup = number(value()?)? as usize,
            "--concurrency" => o.concurrency = number(value()?)?.max(1) as usize,
            "--threads" => o.threads = number(value()?)? as usize,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.encrypt && o.smb1 {
        return Err("--encrypt and --smb1 exclude each other: SMB1 cannot encrypt".into());
    }
    if o.cipher.is_some() && !o.encrypt {
        return Err("--cipher goes with --encrypt".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("child") {
        child::main(&args[1..])
    } else {
        parse_opts(&args).and_then(|o| parent(&o))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// Shared helpers

/// xorshift64*: fast, good enough to defeat any compression or dedup.
struct Rng(u64);

impl Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// This process's peak resident set size in KiB (VmHWM).
fn vm_hwm_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn small_name(i: usize) -> String {
    format!("f{i:05}")
}

// ---------------------------------------------------------------------------
// The child: one smbkit measurement in a fresh process

mod child {
    use super::*;

    /// What a child is asked to do.
    struct Job {
        op: String,
        port: u16,
        share: String,
        user: String,
        size: u64,
        count: usize,
        concurrency: usize,
        threads: usize,
    }

    pub(super) fn main(args: &[String]) -> Result<(), String> {
        let mut job = Job {
            op: String::new(),
            port: 0,
            share: "share".into(),
            user: String::new(),
            size: 0,
            count: 0,
            concurrency: 32,
            threads: 0,
        };
        let mut it = args.iter();
        job.op = it.next().cloned().ok_or("child needs an operation")?;
        while let Some(k) = it.next() {
            let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
            let n = || v.parse::<u64>().map_err(|_| format!("{k}: bad number {v}"));
            match k.as_str() {
                "--port" => job.port = n()? as u16,
                "--share" => job.share = v.clone(),
                "--user" => job.user = v.clone(),
                "--size" => job.size = n()?,
                "--count" => job.count = n()? as usize,
                "--concurrency" => job.concurrency = n()?.max(1) as usize,
                "--threads" => job.threads = n()? as usize,
                _ => return Err(format!("child: unknown argument {k}")),
            }
        }
        let mut rt = tokio::runtime::Builder::new_multi_thread();
        if job.threads > 0 {
            rt.worker_threads(job.threads);
        }
        let rt = rt
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let line = rt.block_on(run(job))?;
        drop(rt);
        println!("{line} hwm_kib={}", vm_hwm_kib());
        Ok(())
    }

    async fn run(job: Job) -> Result<String, String> {
        let password = std::env::var("BENCH_PASSWORD").unwrap_or_default();
        let t0 = Instant::now();
        let conn = SmbProtocolFactory::new(&job.user, password, "SMBKITBENCH", SERVER_NAME)
            .map_err(|e| e.to_string())?
            .domain("WORKGROUP")
            .direct_tcp(true)
            .protocol(if std::env::var_os("BENCH_SMB1").is_some() {
                Protocol::Smb1Only
            } else {
                Protocol::Smb2Only
            })
            .encryption(if std::env::var_os("BENCH_ENCRYPT").is_some() {
                Encryption::Required
            } else {
                Encryption::IfRequired
            })
            .reconnect(
                std::env::var_os("BENCH_RECONNECT")
                    .is_some()
                    .then(smbkit::ReconnectPolicy::default),
            )
            .connect(("127.0.0.1", job.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        conn.tree_connect(&job.share)
            .await
            .map_err(|e| format!("tree connect: {e}"))?;
        let connect_secs = t0.elapsed().as_secs_f64();
        let info = conn.server_info();
        let session = format!(
            "dialect={} signing={} encryption={}",
            conn.dialect().version_str(),
            match (info.signing, info.signing_algorithm) {
                (true, Some(a)) => format!("{a:?}"),
                (true, None) => "on".into(),
                (false, _) => "off".into(),
            },
            match (info.encrypted, info.cipher) {
                (true, Some(c)) => c.to_string(),
                _ => "off".into(),
            }
        );

        // The destination connection of a copy through the client, made
        // before the clock starts as the first one was.
        let other = if job.op == "copy-streamed" {
            let c = SmbProtocolFactory::new(
                &job.user,
                std::env::var("BENCH_PASSWORD").unwrap_or_default(),
                "SMBKITBENCH",
                SERVER_NAME,
            )
            .map_err(|e| e.to_string())?
            .domain("WORKGROUP")
            .direct_tcp(true)
            .protocol(if std::env::var_os("BENCH_SMB1").is_some() {
                Protocol::Smb1Only
            } else {
                Protocol::Smb2Only
            })
            .encryption(if std::env::var_os("BENCH_ENCRYPT").is_some() {
                Encryption::Required
            } else {
                Encryption::IfRequired
            })
            .connect(("127.0.0.1", job.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
            c.tree_connect(&job.share)
                .await
                .map_err(|e| format!("tree connect: {e}"))?;
            Some(c)
        } else {
            None
        };

        let t1 = Instant::now();
        let mut method = "";
        let (bytes, items) = match job.op.as_str() {
            "connect" => (0, 0),
            "download" => {
                let (_, n) = conn
                    .retrieve_file(&job.share, BIG, &mut tokio::io::sink())
                    .await
                    .map_err(|e| format!("retrieve_file: {e}"))?;
                (n, 1)
            }
            "upload" => {
                let mut reader = PatternReader::new(job.size);
                let n = conn
                    .store_file(&job.share, UP_SMBKIT, &mut reader)
                    .await
                    .map_err(|e| format!("store_file: {e}"))?;
                (n, 1)
            }
            "file-read" => {
                let mut f = conn
                    .open(&job.share, BIG, smbkit::OpenOptions::new().read(true))
                    .await
                    .map_err(|e| format!("open: {e}"))?;
                let n = tokio::io::copy(&mut f, &mut tokio::io::sink())
                    .await
                    .map_err(|e| format!("copy: {e}"))?;
                f.close().await.map_err(|e| format!("close: {e}"))?;
                (n, 1)
            }
            "file-write" => {
                let mut reader = PatternReader::new(job.size);
                let mut f = conn
                    .open(
                        &job.share,
                        UP_SMBKIT,
                        smbkit::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true),
                    )
                    .await
                    .map_err(|e| format!("open: {e}"))?;
                let n = tokio::io::copy(&mut reader, &mut f)
                    .await
                    .map_err(|e| format!("copy: {e}"))?;
                f.close().await.map_err(|e| format!("close: {e}"))?;
                (n, 1)
            }
            "small" => small(&conn, &job).await?,
            "list" => {
                let entries = conn
                    .list_path(&job.share, LIST_DIR)
                    .await
                    .map_err(|e| format!("list_path: {e}"))?;
                let bytes = entries.iter().map(|e| e.filename.len() as u64).sum();
                (bytes, entries.len())
            }
            "copy" | "copy-streamed" => {
                // Over SMB1 Samba does not copy by itself: copy_to streams.
                let to = other.as_ref().unwrap_or(&conn);
                let c = conn
                    .copy_to(&job.share, BIG, to, &job.share, COPY_SMBKIT)
                    .await
                    .map_err(|e| format!("copy_to: {e}"))?;
                method = match c.method {
                    smbkit::CopyMethod::ServerSide => " method=server-side",
                    _ => " method=streamed",
                };
                (c.bytes, 1)
            }
            other => return Err(format!("child: unknown operation {other}")),
        };
        let op_secs = t1.elapsed().as_secs_f64();
        if let Some(c) = other {
            c.close().await.map_err(|e| format!("close: {e}"))?;
        }
        conn.close().await.map_err(|e| format!("close: {e}"))?;
        Ok(format!(
            "RESULT connect_secs={connect_secs:.6} op_secs={op_secs:.6} bytes={bytes} items={items} {session}{method}"
        ))
    }

    /// `job.count` files of `small/`, `job.concurrency` at a time, over
    /// one connection.
    async fn small(conn: &Connection, job: &Job) -> Result<(u64, usize), String> {
        let next = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..job.concurrency.min(job.count) {
            let (conn, next, share, count) =
                (conn.clone(), next.clone(), job.share.clone(), job.count);
            set.spawn(async move {
                let mut bytes = 0u64;
                let mut files = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, String>((bytes, files));
                    }
                    let path = format!("{SMALL_DIR}/{}", small_name(i));
                    let (_, n) = conn
                        .retrieve_file(&share, &path, &mut tokio::io::sink())
                        .await
                        .map_err(|e| format!("retrieve_file {path}: {e}"))?;
                    bytes += n;
                    files += 1;
                }
            });
        }
        let (mut bytes, mut files) = (0, 0);
        while let Some(r) = set.join_next().await {
            let (b, f) = r.map_err(|e| format!("task: {e}"))??;
            bytes += b;
            files += f;
        }
        Ok((bytes, files))
    }

    /// Yields `remaining` pseudo-random bytes by cycling through a 1 MiB
    /// (plus a little, so that chunks do not line up with it) random block.
    struct PatternReader {
        pattern: Vec<u8>,
        pos: usize,
        remaining: u64,
    }

    impl PatternReader {
        fn new(size: u64) -> Self {
            let mut pattern = vec![0u8; (1 << 20) + 4093];
            Rng(0x5eed_1234_abcd_ef01).fill(&mut pattern);
            PatternReader {
                pattern,
                pos: 0,
                remaining: size,
            }
        }
    }

    impl AsyncRead for PatternReader {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = &mut *self;
            while buf.remaining() > 0 && this.remaining > 0 {
                let n = buf
                    .remaining()
                    .min(this.pattern.len() - this.pos)
                    .min(usize::try_from(this.remaining).unwrap_or(usize::MAX));
                buf.put_slice(&this.pattern[this.pos..this.pos + n]);
                this.pos = (this.pos + n) % this.pattern.len();
                this.remaining -= n as u64;
            }
            Poll::Ready(Ok(()))
        }
    }
}

// ---------------------------------------------------------------------------
// The parent: prepares the server, runs the trials, prints the table

/// One finished process run.
#[derive(Debug, Clone)]
struct Trial {
    /// Spawn to exit, as seen by the parent.
    wall: f64,
    /// Peak RSS in KiB.
    rss_kib: Option<u64>,
    /// smbkit only: the child's own timer around the operation.
    op_secs: Option<f64>,
    /// user + system CPU seconds of the client process.
    cpu: Option<f64>,
    /// CPU seconds smbd spent serving it.
    server_cpu: Option<f64>,
    stdout: String,
}

struct Bench<'a> {
    opts: &'a Opts,
    server: TestServer,
    exe: PathBuf,
    /// `/usr/bin/time`, when there.
    time: Option<PathBuf>,
    rss_file: PathBuf,
    upload_src: PathBuf,
    /// With `--encrypt`: set while smbkit runs unencrypted for comparison.
    plain: std::cell::Cell<bool>,
}

/// One row's measurements.
struct Row {
    label: String,
    unit: Unit,
    /// Bytes, files or entries the operation handles.
    amount: f64,
    smbkit: Vec<Trial>,
    smbclient: Vec<Trial>,
    /// With `--encrypt`: smbkit's trials unencrypted.
    smbkit_plain: Vec<Trial>,
    /// The copy row: smbkit's copy through the client (`copy_to` between
    /// two connections).
    smbkit_streamed: Vec<Trial>,
}

#[derive(Clone, Copy)]
enum Unit {
    MBps,
    FilesPerSec,
    EntriesPerSec,
}

fn best(trials: &[Trial]) -> f64 {
    trials.iter().map(|t| t.wall).fold(f64::INFINITY, f64::min)
}

fn median(trials: &[Trial]) -> f64 {
    let mut v: Vec<f64> = trials.iter().map(|t| t.wall).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss(trials: &[Trial]) -> Option<u64> {
    trials.iter().filter_map(|t| t.rss_kib).max()
}

fn parent(opts: &Opts) -> Result<(), String> {
    let profile = match (opts.smb1, opts.signing) {
        (true, true) => Profile::Smb1Signing,
        (true, false) => Profile::Smb1Only,
        (false, true) => Profile::SigningMandatory,
        (false, false) => Profile::Modern,
    };
    if opts.smb1 {
        // The smbkit children read it; smbclient speaks NT1 to this server
        // on its own.
        std::env::set_var("BENCH_SMB1", "1");
    }
    let mut global = opts
        .cipher
        .as_ref()
        .map(|c| format!("server smb3 encryption algorithms = {c}\n"))
        .unwrap_or_default();
    if opts.reconnect {
        // The smbkit children read it.
        std::env::set_var("BENCH_RECONNECT", "1");
        global.push_str(
            "durable handles = yes\nkernel oplocks = no\nkernel share modes = no\n\
             posix locking = no\nsmb2 leases = yes\n",
        );
    }
    let extra = ExtraConfig {
        global,
        sections: String::new(),
    };
    let server =
        TestServer::start_with(profile, extra).map_err(|e| format!("cannot start smbd: {e}"))?;
    let time = Path::new("/usr/bin/time")
        .is_file()
        .then(|| PathBuf::from("/usr/bin/time"));
    if time.is_none() {
        eprintln!(
            "bench: /usr/bin/time not found (Debian package `time`): no smbclient RSS, no client CPU"
        );
    }
    let bench = Bench {
        opts,
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        time,
        rss_file: server.dir().join("bench-rss.txt"),
        upload_src: server.dir().join("bench-upload-source.bin"),
        server,
        plain: std::cell::Cell::new(false),
    };
    let ops: Vec<Op> = match opts.only {
        Some(op) => vec![op],
        None => Op::ALL.to_vec(),
    };
    eprintln!(
        "bench: {} server on 127.0.0.1:{}, preparing files…",
        profile,
        bench.server.port()
    );
    for &op in &ops {
        bench
            .prepare(op)
            .map_err(|e| format!("preparing {}: {e}", op.name()))?;
    }
    // Write back what preparing left dirty, so that no writeback runs
    // under the measurements.
    let _ = Command::new("sync").status();

    // What connecting, logging on, connecting the share and exiting cost.
    eprintln!("bench: baseline (connect, log on, tree connect, exit)");
    let mut base_k = Vec::new();
    let mut base_c = Vec::new();
    for _ in 0..BASELINE_TRIALS {
        base_k.push(bench.smbkit("connect", &[])?);
        base_c.push(bench.smbclient("exit")?);
    }
    let session = base_k[0]
        .stdout
        .split_whitespace()
        .filter(|w| {
            w.starts_with("dialect=") || w.starts_with("signing=") || w.starts_with("encryption=")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let (base_k_best, base_c_best) = (best(&base_k), best(&base_c));
    eprintln!(
        "  smbkit    {}",
        trial_list(&base_k, |t| format!("{:.1} ms", t.wall * 1e3))
    );
    eprintln!(
        "  smbclient {}",
        trial_list(&base_c, |t| format!("{:.1} ms", t.wall * 1e3))
    );

    let cpu_before = CpuSample::take(bench.server.smbd_pid());
    let mut rows = Vec::new();
    for &op in &ops {
        rows.push(bench.measure(op)?);
    }
    let interference = cpu_before.others_since(bench.server.smbd_pid());

    // The table.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "smbkit vs smbclient {} on {} ({} CPUs, {}); server {}, smbkit session: {}",
        smbclient_version(),
        cpu_model(),
        nproc(),
        kernel(),
        profile,
        session
    );
    let _ = writeln!(
        out,
        "best of {} trials each (after {} warm-up), minus the connect+logon+exit baseline (smbkit {:.1} ms, smbclient {:.1} ms)",
        opts.repeat,
        opts.warmup,
        base_k_best * 1e3,
        base_c_best * 1e3
    );
    let _ = writeln!(
        out,
        "smbkit build: {}",
        if cfg!(all(target_feature = "aes", target_feature = "avx2")) {
            "for this CPU (AES-NI, AVX2 and more enabled at compile time)"
        } else {
            "generic (CPU features detected at run time)"
        }
    );
    let _ = writeln!(out, "{interference}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24}{:>16}{:>16}{:>8}{:>13}{:>15}",
        "operation", "smbkit", "smbclient", "ratio", "smbkit RSS", "smbclient RSS"
    );
    for r in &rows {
        let rate_k = r.amount / (best(&r.smbkit) - base_k_best).max(1e-6);
        let rate_c = r.amount / (best(&r.smbclient) - base_c_best).max(1e-6);
        let _ = writeln!(
            out,
            "{:<24}{:>16}{:>16}{:>8.2}{:>13}{:>15}",
            r.label,
            fmt_rate(rate_k, r.unit),
            fmt_rate(rate_c, r.unit),
            rate_k / rate_c,
            fmt_rss(peak_rss(&r.smbkit)),
            fmt_rss(peak_rss(&r.smbclient)),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "ratio = smbkit rate / smbclient rate (above 1: smbkit is faster); MB = 10^6 bytes; RSS = peak of the process over its trials"
    );
    for r in rows.iter().filter(|r| !r.smbkit_streamed.is_empty()) {
        let own = r.amount / (best(&r.smbkit) - base_k_best).max(1e-6);
        let through = r.amount / (best(&r.smbkit_streamed) - base_k_best).max(1e-6);
        let how = if r.smbkit[0].stdout.contains("method=server-side") {
            "copied by the server (FSCTL_SRV_COPYCHUNK_WRITE)"
        } else {
            "streamed: the server does not copy by itself over this protocol"
        };
        let _ = writeln!(
            out,
            "{}: smbkit {how} {}; through smbkit (copy_to between two connections: get + put without a local file) {} = {:.1}x; \
             smbclient has no server-side copy: its column is get to a local file + put of it",
            r.label,
            fmt_rate(own, r.unit),
            fmt_rate(through, r.unit),
            own / through
        );
    }
    for r in rows.iter().filter(|r| !r.smbkit_plain.is_empty()) {
        let enc = r.amount / (best(&r.smbkit) - base_k_best).max(1e-6);
        let plain = r.amount / (best(&r.smbkit_plain) - base_k_best).max(1e-6);
        let _ = writeln!(
            out,
            "{}: smbkit unencrypted {}, encrypted {} = {:.0}% of it",
            r.label,
            fmt_rate(plain, r.unit),
            fmt_rate(enc, r.unit),
            enc / plain * 100.0
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24}{:>20}{:>22}{:>11}{:>20}{:>22}",
        "details (ms)",
        "smbkit best/median",
        "smbclient best/median",
        "smbkit op",
        "smbkit CPU cli/srv",
        "smbclient CPU cli/srv"
    );
    let details = |label: &str, k: &[Trial], c: &[Trial]| {
        let inproc = k
            .iter()
            .filter_map(|t| t.op_secs)
            .fold(f64::INFINITY, f64::min);
        format!(
            "{:<24}{:>20}{:>22}{:>11}{:>20}{:>22}\n",
            label,
            format!("{:.1} / {:.1}", best(k) * 1e3, median(k) * 1e3),
            format!("{:.1} / {:.1}", best(c) * 1e3, median(c) * 1e3),
            if inproc.is_finite() && inproc > 0.0 {
                format!("{:.1}", inproc * 1e3)
            } else {
                String::new()
            },
            cpu_pair(k),
            cpu_pair(c),
        )
    };
    out.push_str(&details("connect+logon+exit", &base_k, &base_c));
    for r in &rows {
        out.push_str(&details(&r.label, &r.smbkit, &r.smbclient));
    }
    let _ = writeln!(
        out,
        "best/median: wall time from spawn to exit; smbkit op: the child's own timer around the operation alone; \
         CPU: median user+system time of the client process / of smbd's connection process (10 ms ticks)"
    );
    print!("{out}");
    io::stdout().flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// Median client and server CPU of some trials, in ms: `client / server`.
fn cpu_pair(trials: &[Trial]) -> String {
    let med = |f: &dyn Fn(&Trial) -> Option<f64>| {
        let mut v: Vec<f64> = trials.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2)
            .map_or("?".to_string(), |x| format!("{:.0}", x * 1e3))
    };
    format!("{} / {}", med(&|t| t.cpu), med(&|t| t.server_cpu))
}

fn trial_list(trials: &[Trial], f: impl Fn(&Trial) -> String) -> String {
    trials.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn fmt_rate(v: f64, unit: Unit) -> String {
    match unit {
        Unit::MBps => format!("{:.0} MB/s", v / 1e6),
        Unit::FilesPerSec => format!("{v:.0} files/s"),
        Unit::EntriesPerSec => format!("{v:.0} ent/s"),
    }
}

fn fmt_rss(kib: Option<u64>) -> String {
    match kib {
        Some(k) => format!("{:.1} MiB", k as f64 / 1024.0),
        None => "n/a".into(),
    }
}

fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

impl Bench<'_> {
    fn size(&self) -> u64 {
        self.opts.size_mib << 20
    }

    fn share_file(&self, name: &str) -> PathBuf {
        self.server.share_path().join(name)
    }

    /// Creates what `op` needs, locally, and reads it once into the page cache.
    fn prepare(&self, op: Op) -> io::Result<()> {
        match op {
            Op::Download | Op::FileRead | Op::Copy => {
                let path = self.share_file(BIG);
                write_random_file(&path, self.size(), 1)?;
                read_all(&path)?;
            }
            Op::Upload | Op::FileWrite => {
                write_random_file(&self.upload_src, self.size(), 2)?;
                read_all(&self.upload_src)?;
            }
            Op::Small => {
                let dir = self.share_file(SMALL_DIR);
                fs::create_dir_all(&dir)?;
                let mut rng = Rng(3);
                let mut buf = vec![0u8; SMALL_SIZE];
                for i in 0..self.opts.files {
                    rng.fill(&mut buf);
                    fs::write(dir.join(small_name(i)), &buf)?;
                }
            }
            Op::List => {
                let dir = self.share_file(LIST_DIR);
                fs::create_dir_all(&dir)?;
                for i in 0..self.opts.entries {
                    fs::File::create(dir.join(format!("entry-{i:06}.txt")))?;
                }
            }
        }
        Ok(())
    }

    fn measure(&self, op: Op) -> Result<Row, String> {
        let o = self.opts;
        let (label, unit, amount) = match op {
            Op::Download => (
                format!("download {}", size_label(self.size())),
                Unit::MBps,
                self.size() as f64,
            ),
            Op::Upload => (
                format!("upload {}", size_label(self.size())),
                Unit::MBps,
                self.size() as f64,
            ),
            Op::FileRead => (
                format!("RemoteFile read {}", size_label(self.size())),
                Unit::MBps,
                self.size() as f64,
            ),
            Op::FileWrite => (
                format!("RemoteFile write {}", size_label(self.size())),
                Unit::MBps,
                self.size() as f64,
            ),
            Op::Small => (
                format!("{} files of 4 KiB", o.files),
                Unit::FilesPerSec,
                o.files as f64,
            ),
            Op::List => (
                format!("list {} entries", o.entries),
                Unit::EntriesPerSec,
                o.entries as f64,
            ),
            Op::Copy => (
                format!("copy {}", size_label(self.size())),
                Unit::MBps,
                self.size() as f64,
            ),
        };
        eprintln!("bench: {label}");
        let mut row = Row {
            label,
            unit,
            amount,
            smbkit: Vec::new(),
            smbclient: Vec::new(),
            smbkit_plain: Vec::new(),
            smbkit_streamed: Vec::new(),
        };
        // Each client runs its warm-up and trials in one block: on VMs,
        // alternating them made whichever client followed the other pay
        // for the server's page cache and heap being rebuilt (see
        // BENCHMARKS.md).
        for smbkit in [true, false] {
            for round in 0..o.warmup + o.repeat {
                let t = if smbkit {
                    self.smbkit_trial(op)?
                } else {
                    self.smbclient_trial(op)?
                };
                let ms = |v: Option<f64>| v.map_or("?".into(), |v| format!("{:.0}", v * 1e3));
                eprintln!(
                    "  {}{} {:.1} ms ({}CPU client {} ms, server {} ms, RSS {})",
                    if round < o.warmup { "warm-up: " } else { "" },
                    if smbkit { "smbkit   " } else { "smbclient" },
                    t.wall * 1e3,
                    t.op_secs
                        .map_or(String::new(), |v| format!("op {:.1} ms, ", v * 1e3)),
                    ms(t.cpu),
                    ms(t.server_cpu),
                    fmt_rss(t.rss_kib)
                );
                if round >= o.warmup {
                    if smbkit {
                        row.smbkit.push(t);
                    } else {
                        row.smbclient.push(t);
                    }
                }
            }
        }
        if op == Op::Copy {
            // The same copy through the client, for what the server's own
            // copy saves.
            for round in 0..o.warmup + o.repeat {
                let t = self.smbkit_copy("copy-streamed")?;
                eprintln!(
                    "  {}smbkit through the client (copy_to, two connections) {:.1} ms",
                    if round < o.warmup { "warm-up: " } else { "" },
                    t.wall * 1e3
                );
                if round >= o.warmup {
                    row.smbkit_streamed.push(t);
                }
            }
        }
        if o.encrypt && matches!(op, Op::Download | Op::Upload) {
            // The same transfer unencrypted, for what encryption costs.
            self.plain.set(true);
            let trials = (0..o.warmup + o.repeat)
                .map(|_| self.smbkit_trial(op))
                .collect::<Result<Vec<_>, _>>();
            self.plain.set(false);
            for (round, t) in trials?.into_iter().enumerate() {
                eprintln!(
                    "  {}smbkit unencrypted {:.1} ms",
                    if round < o.warmup { "warm-up: " } else { "" },
                    t.wall * 1e3
                );
                if round >= o.warmup {
                    row.smbkit_plain.push(t);
                }
            }
        }
        Ok(row)
    }

    /// One smbkit measurement of `op`, checked.
    fn smbkit_trial(&self, op: Op) -> Result<Trial, String> {
        let o = self.opts;
        Ok(match op {
            Op::Download | Op::FileRead => {
                let k = self.smbkit(op.name(), &[])?;
                check_child(&k, self.size(), 1)?;
                k
            }
            Op::Upload | Op::FileWrite => {
                self.clear_uploads()?;
                let k = self.smbkit(op.name(), &[("--size", self.size().to_string())])?;
                check_child(&k, self.size(), 1)?;
                self.check_upload(UP_SMBKIT)?;
                self.clear_uploads()?;
                k
            }
            Op::Small => {
                let k = self.smbkit(
                    "small",
                    &[
                        ("--count", o.files.to_string()),
                        ("--concurrency", o.concurrency.to_string()),
                    ],
                )?;
                check_child(&k, (o.files * SMALL_SIZE) as u64, o.files)?;
                k
            }
            Op::Copy => self.smbkit_copy("copy")?,
            Op::List => {
                let k = self.smbkit("list", &[])?;
                let items = field(&k.stdout, "items").unwrap_or(0.0) as usize;
                if items < o.entries {
                    return Err(format!(
                        "smbkit listed {items} entries, expected {}",
                        o.entries
                    ));
                }
                k
            }
        })
    }

    /// One smbclient measurement of `op`, checked.
    fn smbclient_trial(&self, op: Op) -> Result<Trial, String> {
        let o = self.opts;
        Ok(match op {
            Op::Download | Op::FileRead => {
                let c = self.smbclient(&format!("get {BIG} /dev/null"))?;
                check_smbclient_gets(&c, 1, self.size())?;
                c
            }
            Op::Upload | Op::FileWrite => {
                self.clear_uploads()?;
                let c =
                    self.smbclient(&format!("put {} {UP_SMBCLIENT}", self.upload_src.display()))?;
                self.check_upload(UP_SMBCLIENT)?;
                self.clear_uploads()?;
                c
            }
            Op::Small => {
                let mut cmd = format!("cd {SMALL_DIR}");
                for i in 0..o.files {
                    let _ = write!(cmd, "; get {} /dev/null", small_name(i));
                }
                let c = self.smbclient(&cmd)?;
                check_smbclient_gets(&c, o.files, SMALL_SIZE as u64)?;
                c
            }
            Op::Copy => {
                // smbclient has no server-side copy: the file comes down to
                // a local file and goes up again, in one process.
                self.clear_copies()?;
                let local = self.copy_local();
                let c = self.smbclient(&format!(
                    "get {BIG} {}; put {} {COPY_SMBCLIENT}",
                    local.display(),
                    local.display()
                ))?;
                check_smbclient_gets(&c, 1, self.size())?;
                self.check_copy(COPY_SMBCLIENT)?;
                self.clear_copies()?;
                c
            }
            Op::List => {
                let c = self.smbclient(&format!("cd {LIST_DIR}; ls"))?;
                let listed = c.stdout.matches("entry-").count();
                if listed != o.entries {
                    return Err(format!(
                        "smbclient listed {listed} entries, expected {}",
                        o.entries
                    ));
                }
                c
            }
        })
    }

    /// smbclient's local copy of the big file.
    fn copy_local(&self) -> PathBuf {
        self.server.dir().join("bench-copy-local.bin")
    }

    /// One smbkit copy of the big file (`op`: `copy`, server-side where
    /// the server can; `copy-streamed`, through the client), checked.
    fn smbkit_copy(&self, op: &str) -> Result<Trial, String> {
        self.clear_copies()?;
        let k = self.smbkit(op, &[])?;
        check_child(&k, self.size(), 1)?;
        self.check_copy(COPY_SMBKIT)?;
        self.clear_copies()?;
        Ok(k)
    }

    fn clear_copies(&self) -> Result<(), String> {
        for path in [
            self.share_file(COPY_SMBKIT),
            self.share_file(COPY_SMBCLIENT),
            self.copy_local(),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("removing {}: {e}", path.display())),
            }
        }
        Ok(())
    }

    /// The copy has the big file's size and its first and last bytes.
    fn check_copy(&self, name: &str) -> Result<(), String> {
        let (a, b) = (self.share_file(BIG), self.share_file(name));
        let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let len = fs::metadata(&b)
            .map_err(|e| format!("{name} after the copy: {e}"))?
            .len();
        if len != self.size() {
            return Err(format!(
                "{name} has {len} bytes after the copy, expected {}",
                self.size()
            ));
        }
        if self.size() <= 64 << 20 && read(&a)? != read(&b)? {
            return Err(format!("{name} differs from {BIG}"));
        }
        Ok(())
    }

    fn clear_uploads(&self) -> Result<(), String> {
        for name in [UP_SMBKIT, UP_SMBCLIENT] {
            match fs::remove_file(self.share_file(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("removing {name}: {e}")),
            }
        }
        Ok(())
    }

    fn check_upload(&self, name: &str) -> Result<(), String> {
        let len = fs::metadata(self.share_file(name))
            .map_err(|e| format!("{name} after the upload: {e}"))?
            .len();
        if len != self.size() {
            return Err(format!(
                "{name} has {len} bytes after the upload, expected {}",
                self.size()
            ));
        }
        Ok(())
    }

    /// Runs this binary's child for `op`, timed from spawn to exit.
    fn smbkit(&self, op: &str, extra: &[(&str, String)]) -> Result<Trial, String> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("child")
            .arg(op)
            .arg("--port")
            .arg(self.server.port().to_string())
            .arg("--share")
            .arg(self.server.share())
            .arg("--user")
            .arg(self.server.user())
            .arg("--threads")
            .arg(self.opts.threads.to_string())
            .env("BENCH_PASSWORD", self.server.password())
            .stdin(Stdio::null());
        if self.opts.encrypt && !self.plain.get() {
            cmd.env("BENCH_ENCRYPT", "1");
        }
        for (k, v) in extra {
            cmd.arg(k).arg(v);
        }
        let run = self.run(cmd, "smbkit child", None)?;
        let out = &run.out;
        if !out.status.success() {
            return Err(format!(
                "smbkit child {op} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok(Trial {
            wall: run.wall,
            rss_kib: field(&stdout, "hwm_kib").map(|v| v as u64),
            op_secs: field(&stdout, "op_secs"),
            cpu: run.cpu,
            server_cpu: run.server_cpu,
            stdout,
        })
    }

    /// Runs smbclient with `-c commands`, timed from spawn to exit.
    fn smbclient(&self, commands: &str) -> Result<Trial, String> {
        let mut cmd = self.server.smbclient(self.server.share());
        if self.opts.encrypt {
            cmd.arg("--client-protection=encrypt");
        }
        // One argument may not exceed 128 KiB (MAX_ARG_STRLEN): longer
        // command lists (thousands of gets) go through standard input.
        let stdin = if commands.len() <= 64 * 1024 {
            cmd.arg("-c").arg(commands);
            None
        } else {
            Some(commands.replace("; ", "\n") + "\n")
        };
        let run = self.run(cmd, "smbclient", stdin)?;
        let out = &run.out;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("NT_STATUS_") || stdout.contains("NT_STATUS_") {
            return Err(format!(
                "smbclient -c {:?} failed ({}): {}{}",
                truncate(commands, 80),
                out.status,
                truncate(&stdout, 2000),
                truncate(&stderr, 2000)
            ));
        }
        Ok(Trial {
            wall: run.wall,
            rss_kib: run.rss_kib,
            op_secs: None,
            cpu: run.cpu,
            server_cpu: run.server_cpu,
            stdout: stdout + &stderr,
        })
    }

    /// Runs `cmd` (under `/usr/bin/time` when there, for its peak RSS and
    /// CPU time), timed from spawn to exit, and measures the CPU time smbd
    /// spent meanwhile (its connection process, once reaped).
    fn run(&self, cmd: Command, what: &str, stdin: Option<String>) -> Result<Run, String> {
        let mut cmd = match &self.time {
            Some(time) => {
                let _ = fs::remove_file(&self.rss_file);
                let mut c = Command::new(time);
                c.arg("-f").arg("%M %U %S").arg("-o").arg(&self.rss_file);
                c.arg(cmd.get_program()).args(cmd.get_args());
                for (k, v) in cmd.get_envs() {
                    match v {
                        Some(v) => c.env(k, v),
                        None => c.env_remove(k),
                    };
                }
                c
            }
            None => cmd,
        };
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let smbd = self.server.smbd_pid();
        let children_before = smbd.map(children).unwrap_or_default();
        let server_before = smbd.map(|p| process_ticks(&p.to_string()));
        let t = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
        let feeder = match (stdin, child.stdin.take()) {
            (Some(text), Some(mut pipe)) => Some(std::thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            })),
            _ => None,
        };
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for {what}: {e}"))?;
        if let Some(f) = feeder {
            let _ = f.join();
        }
        let wall = t.elapsed().as_secs_f64();
        // smbd's connection process ends once the client has gone; its CPU
        // time reaches smbd's counters when smbd has reaped it.
        let server_cpu = match (smbd, server_before) {
            (Some(pid), Some(before)) => {
                let deadline = Instant::now() + std::time::Duration::from_secs(2);
                while children(pid).iter().any(|c| !children_before.contains(c))
                    && Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Some(process_ticks(&pid.to_string()).saturating_sub(before) as f64 / 100.0)
            }
            _ => None,
        };
        let (mut rss_kib, mut cpu) = (None, None);
        if self.time.is_some() {
            // `%M %U %S`, after a "Command exited with non-zero status" line if any.
            let text = fs::read_to_string(&self.rss_file).unwrap_or_default();
            let last: Vec<f64> = text
                .lines()
                .last()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if let [m, u, s] = last[..] {
                rss_kib = Some(m as u64);
                cpu = Some(u + s);
            }
        }
        Ok(Run {
            out,
            wall,
            rss_kib,
            cpu,
            server_cpu,
        })
    }
}

/// One process run, measured.
struct Run {
    out: Output,
    wall: f64,
    rss_kib: Option<u64>,
    /// user + system CPU seconds of the process.
    cpu: Option<f64>,
    /// CPU seconds smbd spent meanwhile.
    server_cpu: Option<f64>,
}

/// The pids of the children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|v| v.parse::<u32>().ok()));
            }
        }
    }
    out
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `name=value` from a child's RESULT line.
fn field(stdout: &str, name: &str) -> Option<f64> {
    stdout.split_whitespace().find_map(|w| {
        w.strip_prefix(name)
            .and_then(|r| r.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    })
}

fn check_child(t: &Trial, bytes: u64, items: usize) -> Result<(), String> {
    let got_b = field(&t.stdout, "bytes").unwrap_or(-1.0);
    let got_i = field(&t.stdout, "items").unwrap_or(-1.0);
    if got_b != bytes as f64 || got_i != items as f64 {
        return Err(format!(
            "smbkit moved {got_b} bytes in {got_i} items, expected {bytes} in {items}: {}",
            t.stdout.trim()
        ));
    }
    Ok(())
}

/// smbclient says `getting file \x of size N as /dev/null` for each get.
fn check_smbclient_gets(t: &Trial, files: usize, size: u64) -> Result<(), String> {
    let want = format!("of size {size} as");
    let n = t.stdout.matches(&want).count();
    if n != files {
        return Err(format!(
            "smbclient got {n} files of {size} bytes, expected {files}: {}",
            truncate(&t.stdout, 500)
        ));
    }
    Ok(())
}

fn write_random_file(path: &Path, size: u64, seed: u64) -> io::Result<()> {
    let mut f = io::BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.get_mut().write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()
}

fn read_all(path: &Path) -> io::Result<()> {
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// CPU time counters, to tell how much other work ran during the trials.
struct CpuSample {
    at: Instant,
    /// user + nice + system of the whole machine, in clock ticks.
    busy: u64,
    steal: u64,
    /// This process, its waited-for children (the smbkit children,
    /// /usr/bin/time and its smbclient), smbd and its reaped children.
    ours: u64,
}

impl CpuSample {
    fn take(smbd: Option<u32>) -> CpuSample {
        let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        let get = |i: usize| cpu.get(i).copied().unwrap_or(0);
        let mut ours = process_ticks("self");
        if let Some(pid) = smbd {
            ours += process_ticks(&pid.to_string());
        }
        CpuSample {
            at: Instant::now(),
            busy: get(0) + get(1) + get(2),
            steal: get(7),
            ours,
        }
    }

    /// A line saying how much of the machine other processes used since.
    fn others_since(&self, smbd: Option<u32>) -> String {
        let now = CpuSample::take(smbd);
        // Linux reports these in USER_HZ, 100 on every common build.
        let capacity = now.at.duration_since(self.at).as_secs_f64() * 100.0 * nproc() as f64;
        let busy = now.busy.saturating_sub(self.busy);
        let ours = now.ours.saturating_sub(self.ours);
        let pct = |t: u64| 100.0 * t as f64 / capacity.max(1.0);
        format!(
            "CPU used by other processes during the trials: {:.0}% of the machine (steal {:.0}%); above a few %, rerun on a quiet machine",
            pct(busy.saturating_sub(ours)),
            pct(now.steal.saturating_sub(self.steal))
        )
    }
}

/// utime + stime + cutime + cstime of a process, in clock ticks.
fn process_ticks(pid: &str) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces): state is
    // field 3, utime 14, stime 15, cutime 16, cstime 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .map(|v| v.parse::<u64>().unwrap_or(0))
        .sum()
}

fn kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "unknown kernel".into())
}

fn smbclient_version() -> String {
    Command::new("smbclient")
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            let v = String::from_utf8_lossy(&o.stdout);
            v.trim().trim_start_matches("Version ").to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(version unknown)".into())
}
