//! Runs many file transfers at once over one connection, with at most a
//! given number in flight, reporting each failure as it happens.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
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
}

impl Totals {
    /// Ok, or one failure that sums up the failed files, with the kind
    /// (and so the exit code) of the first.
    pub fn into_result(self, verb: &str) -> Result<(), Failure> {
        let n = self.failed.len();
        match self.failed.into_iter().next() {
            None => Ok(()),
            Some((what, first)) => {
                let kind = first.kind;
                let mut f = if n == 1 {
                    Failure::new(kind, format!("{what}: {}", first.message))
                } else {
                    Failure::new(
                        kind,
                        format!(
                            "{n} files could not be {verb} (the first, {what}: {})",
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
/// job is called in messages.
pub async fn run<J, F, Fut>(
    jobs: Vec<J>,
    jobs_at_once: usize,
    progress: &Arc<Transfers>,
    name: impl Fn(&J) -> String,
    work: F,
) -> Totals
where
    J: Send + 'static,
    F: Fn(J) -> Fut,
    Fut: Future<Output = Result<Outcome, Failure>> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(jobs_at_once.max(1)));
    let mut set = JoinSet::new();
    let mut totals = Totals {
        files: 0,
        skipped: 0,
        bytes: 0,
        failed: Vec::new(),
    };
    let record = |totals: &mut Totals, r: Result<(String, Result<Outcome, Failure>), _>| match r {
        Ok((_, Ok(Outcome::Done(n)))) => {
            totals.files += 1;
            totals.bytes += n;
        }
        Ok((_, Ok(Outcome::Skipped))) => totals.skipped += 1,
        Ok((what, Err(f))) => {
            progress.println(&format!("smbkit: {what}: {}", f.message));
            totals.failed.push((what, f));
        }
        Err(e) => totals.failed.push((
            "a transfer".into(),
            Failure::new(Kind::Other, format!("the transfer task failed: {e}")),
        )),
    };
    for job in jobs {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let what = name(&job);
        let fut = work(job);
        set.spawn(async move {
            let r = fut.await;
            drop(permit);
            (what, r)
        });
        while let Some(r) = set.try_join_next() {
            record(&mut totals, r);
        }
    }
    while let Some(r) = set.join_next().await {
        record(&mut totals, r);
    }
    totals
}
