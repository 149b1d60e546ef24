//! Progress bars for transfers (on stderr, only when stdout is a terminal
//! and `--quiet` is not given), and the reader and writer wrappers that
//! feed them.

use std::io::{self, IsTerminal};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::output::human_size;

/// The bars on screen, if any: messages printed while they are go above
/// them ([`message`]).
static ON_SCREEN: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn on_screen() -> std::sync::MutexGuard<'static, Option<MultiProgress>> {
    ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Prints a line to stderr: above the progress bars when they are shown,
/// so that they are not garbled.
pub fn message(line: &str) {
    let bars = on_screen().clone();
    match bars {
        Some(m) => {
            let _ = m.println(line);
        }
        None => eprintln!("{line}"),
    }
}

/// True when transfers should show progress bars.
pub fn wanted(quiet: bool) -> bool {
    !quiet && io::stdout().is_terminal() && io::stderr().is_terminal()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

const FILE_TEMPLATE: &str =
    "{msg:24!} [{bar:30}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta}";
const STREAM_TEMPLATE: &str = "{msg:24!} {spinner} {bytes:>10} {binary_bytes_per_sec:>12}";
const OVERALL_TEMPLATE: &str =
    "{prefix:>24!} [{bar:30}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta}";

/// The progress display of one command's transfers: one bar per file in
/// flight and, for several files, an overall bar with the file count.
pub struct Transfers {
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    enabled: bool,
    files: usize,
    done: AtomicUsize,
    started: Instant,
}

impl Transfers {
    /// A display for `files` files of `total_bytes` bytes in all; draws
    /// nothing unless `enabled`.
    pub fn new(enabled: bool, files: usize, total_bytes: u64) -> Transfers {
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = (files > 1).then(|| {
            let bar = multi.add(
                ProgressBar::new(total_bytes)
                    .with_style(style(OVERALL_TEMPLATE))
                    .with_prefix(format!("0/{files} files")),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if enabled {
            *on_screen() = Some(multi.clone());
        }
        Transfers {
            multi,
            overall,
            enabled,
            files,
            done: AtomicUsize::new(0),
            started: Instant::now(),
        }
    }

    /// A bar for one file of `size` bytes (`None`: unknown, a spinner).
    pub fn file(&self, name: &str, size: Option<u64>) -> FileBar {
        if !self.enabled {
            return FileBar {
                bar: ProgressBar::hidden(),
                overall: self.overall.clone(),
            };
        }
        let bar = match size {
            Some(n) => ProgressBar::new(n).with_style(style(FILE_TEMPLATE)),
            None => ProgressBar::no_length().with_style(style(STREAM_TEMPLATE)),
        }
        .with_message(name.to_string());
        let bar = self.multi.add(bar);
        bar.enable_steady_tick(Duration::from_millis(200));
        FileBar {
            bar,
            overall: self.overall.clone(),
        }
    }

    /// Counts a finished file and removes its bar.
    pub fn file_done(&self, bar: &FileBar) {
        bar.bar.finish_and_clear();
        self.multi.remove(&bar.bar);
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(o) = &self.overall {
            o.set_prefix(format!("{n}/{} files", self.files));
        }
    }

    /// Counts a file that needed no transfer (complete already).
    pub fn skipped(&self, size: u64) {
        if let Some(o) = &self.overall {
            shrink(o, size);
        }
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(o) = &self.overall {
            o.set_prefix(format!("{n}/{} files", self.files));
        }
    }

    /// Prints a line above the bars (to stderr).
    pub fn println(&self, line: &str) {
        if self.enabled {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        if let Some(o) = &self.overall {
            o.finish_and_clear();
        }
        let _ = self.multi.clear();
        self.leave_screen();
    }

    /// Sends later [`message`]s straight to stderr again.
    fn leave_screen(&self) {
        if self.enabled {
            *on_screen() = None;
        }
    }

    /// `N files, SIZE in T s (RATE/s)`.
    pub fn summary(&self, files: usize, bytes: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            format!(" ({}/s)", human_size((bytes as f64 / secs) as u64))
        } else {
            String::new()
        };
        format!(
            "{files} file{}, {} in {secs:.2} s{rate}",
            if files == 1 { "" } else { "s" },
            human_size(bytes)
        )
    }
}

impl Drop for Transfers {
    fn drop(&mut self) {
        self.leave_screen();
    }
}

fn shrink(bar: &ProgressBar, n: u64) {
    if let Some(len) = bar.length() {
        bar.set_length(len.saturating_sub(n));
    }
}

/// The bar of one file (and the overall bar it also advances).
#[derive(Clone)]
pub struct FileBar {
    bar: ProgressBar,
    overall: Option<ProgressBar>,
}

impl FileBar {
    /// Counts `n` more bytes.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if let Some(o) = &self.overall {
            o.inc(n);
        }
    }

    /// Takes back `n` bytes counted before (a file sent again).
    pub fn rewind(&self, n: u64) {
        self.bar.set_position(self.bar.position().saturating_sub(n));
        if let Some(o) = &self.overall {
            o.set_position(o.position().saturating_sub(n));
        }
    }

    /// Counts `n` bytes that were there already (a resumed download): the
    /// file's bar starts at `n`, and the overall total shrinks by `n`, so
    /// that throughputs only count what is transferred now.
    pub fn skip(&self, n: u64) {
        self.bar.set_position(n);
        self.bar.reset_eta();
        if let Some(o) = &self.overall {
            shrink(o, n);
        }
    }
}

/// Records the first error of the local side of a transfer, so that a
/// failure can be blamed on the local file rather than the network.
#[derive(Clone, Default)]
pub struct LocalError(Arc<Mutex<Option<(io::ErrorKind, String)>>>);

impl LocalError {
    fn record(&self, e: &io::Error) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some((e.kind(), e.to_string()));
        }
    }

    /// The first local error, if there was one.
    pub fn get(&self) -> Option<(io::ErrorKind, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A reader or writer that advances a bar and records local errors.
pub struct Counting<T> {
    inner: T,
    bar: FileBar,
    error: LocalError,
    moved: u64,
}

impl<T> Counting<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, bar: FileBar, error: LocalError) -> Counting<T> {
        Counting {
            inner,
            bar,
            error,
            moved: 0,
        }
    }

    /// The bytes read or written so far.
    pub fn moved(&self) -> u64 {
        self.moved
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counting<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.bar.inc(n as u64);
                this.moved += n as u64;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => {
                this.error.record(&e);
                Poll::Ready(Err(e))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Err(e)) = &r {
            this.error.record(e);
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                this.bar.inc(n);
                this.moved += n;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                this.error.record(&e);
                Poll::Ready(Err(e))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
