//! Runs many file transfers at once over one connection, with at most a
//! given number in flight, reporting each failure as it happens.

use std::future::Future;
use std::sync::Arc;

use smbkit::Error;
use tokio::task::JoinSet;

use crate::error::{Failure, Kind};
use crate::progress::Transfers;

/// What one transfer did.
pub enum Outcome {
    /// Moved this many bytes.
    Done(u64),
    /// Nothing to do (a complete file, with --resume).
    Skipped,
}

/// What a pool run did in all.
pub struct Totals {
    /// Files transferred.
    pub files: usize,
    /// Files left alone.
    pub skipped: usize,
    /// Bytes transferred.
    pub bytes: u64,
    /// The failures: what failed and why.
    pub failed: Vec<(String, Failure)>,
    /// Files not transferred because the connection was gone for good:
    /// not started, or stopped.
    pub abandoned: usize,
}

/// True when `f` means the connection is gone for good, so that the
/// other files would fail the same way: every attempt to reconnect
/// failed, or the connection was lost and is not reconnected.
fn connection_gone(f: &Failure, reconnects: bool) -> bool {
    match f.source.as_deref() {
        Some(Error::ReconnectFailed { .. }) => true,
        Some(Error::NotConnected) => !reconnects,
        _ => false,
    }
}

impl Totals {
    /// Ok, or one failure that sums up the failed files, with the kind
    /// (and so the exit code) of the first.
    pub fn into_result(self, verb: &str) -> Result<(), Failure> {
        let n = self.failed.len();
        let abandoned = match self.abandoned {
            0 => String::new(),
            1 => "; 1 more file was not transferred".to_string(),
            k => format!("; {k} more files were not transferred"),
        };
        match self.failed.into_iter().next() {
            None => Ok(()),
            Some((what, first)) => {
                let kind = first.kind;
                let mut f = if n == 1 {
                    Failure::new(kind, format!("{what}: {}{abandoned}", first.message))
                } else {
                    Failure::new(
                        kind,
                        format!(
                            "{n} files could not be {verb} (the first, {what}: {}){abandoned}",
                            first.message
                        ),
                    )
                };
                f.hint = first.hint;
                f.source = first.source;
                Err(f)
            }
        }
    }
}

/// Runs `work` on every job, `jobs_at_once` at a time; `name` tells what a
/// job is called in messages. Once a failure shows that the connection is
/// gone for good (`reconnects`: whether it is made again when lost), the
/// jobs in flight are stopped and the others are not started.
pub async fn run<J, F, Fut>(
    jobs: Vec<J>,
    jobs_at_once: usize,
    reconnects: bool,
    progress: &Arc<Transfers>,
    name: impl Fn(&J) -> String,
    work: F,
) -> Totals
where
    J: Send + 'static,
    F: Fn(J) -> Fut,
    Fut: Future<Output = Result<Outcome, Failure>> + Send + 'static,
{
    let at_once = jobs_at_once.max(1);
    let mut jobs = jobs.into_iter();
    let mut set = JoinSet::new();
    let mut totals = Totals {
        files: 0,
        skipped: 0,
        bytes: 0,
        failed: Vec::new(),
        abandoned: 0,
    };
    let mut gone = false;
    loop {
        // A job starts once one in flight has finished and been counted,
        // so that a failure that ends it all is seen before the next.
        while !gone && set.len() < at_once {
            let Some(job) = jobs.next() else { break };
            let what = name(&job);
            let fut = work(job);
            set.spawn(async move { (what, fut.await) });
        }
        let Some(r) = set.join_next().await else {
            break;
        };
        match r {
            Ok((_, Ok(Outcome::Done(n)))) => {
                totals.files += 1;
                totals.bytes += n;
            }
            Ok((_, Ok(Outcome::Skipped))) => totals.skipped += 1,
            Ok((what, Err(f))) => {
                progress.println(&format!("smbkit: {what}: {}", f.message));
                if !gone && connection_gone(&f, reconnects) {
                    gone = true;
                    set.abort_all();
                }
                totals.failed.push((what, f));
            }
            Err(e) if e.is_cancelled() => totals.abandoned += 1,
            Err(e) => totals.failed.push((
                "a transfer".into(),
                Failure::new(Kind::Other, format!("the transfer task failed: {e}")),
            )),
        }
    }
    totals.abandoned += jobs.len();
    totals
}
