//! `cp`: a remote file, or (-r) a folder tree, copied to another remote
//! place: by the server itself when both ends are the same server and
//! user (one connection, FSCTL_SRV_COPYCHUNK_WRITE), streamed through the
//! client otherwise.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use smbkit::{Connection, CopyMethod, NtStatus};

use crate::args::{CpArgs, GlobalOpts};
use crate::commands::pool::{self, Outcome};
use crate::commands::{again_if_lost, lost_in_flight, Remote};
use crate::error::{is_not_found, CmdResult, Failure, Kind};
use crate::progress::{self, FileBar, Transfers};
use crate::session;
use crate::target::{join, split_last, Target};

/// True when `a` and `b` are reached the same way and log in as the same
/// user (as written: `-U` or `-A` name one user for both), so that one
/// connection, and server-side copies, serve both.
fn same_login(opts: &GlobalOpts, a: &Target, b: &Target) -> bool {
    let same_user = opts.user.is_some()
        || opts.auth_file.is_some()
        || (a.user.as_deref().map(str::to_lowercase) == b.user.as_deref().map(str::to_lowercase)
            && a.domain.as_deref().map(str::to_lowercase)
                == b.domain.as_deref().map(str::to_lowercase)
            && (a.user.is_some() || a.form == b.form));
    a.host.eq_ignore_ascii_case(&b.host)
        && session::port(opts, a) == session::port(opts, b)
        && same_user
}

/// One end of the copies: its connection and share.
#[derive(Clone)]
struct End {
    conn: Connection,
    share: Arc<str>,
    reconnects: bool,
}

impl End {
    fn of(r: &Remote) -> End {
        End {
            conn: r.conn.clone(),
            share: Arc::from(r.share()),
            reconnects: r.reconnects,
        }
    }
}

/// How the copies went, for the summary.
#[derive(Default)]
struct Methods {
    server: AtomicUsize,
    streamed: AtomicUsize,
}

impl Methods {
    fn count(&self, m: CopyMethod) {
        match m {
            CopyMethod::Streamed => &self.streamed,
            _ => &self.server,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// `, by the server` / `, streamed through smbkit` / both counted.
    fn describe(&self) -> String {
        let (s, t) = (
            self.server.load(Ordering::Relaxed),
            self.streamed.load(Ordering::Relaxed),
        );
        match (s, t) {
            (0, 0) => String::new(),
            (_, 0) => ", copied by the server".into(),
            (0, _) => ", streamed through smbkit".into(),
            (s, t) => format!(", {s} copied by the server, {t} streamed through smbkit"),
        }
    }
}

/// One file to copy.
struct Job {
    src: String,
    dst: String,
    size: u64,
}

/// `smbkit cp`.
pub async fn cp(opts: &GlobalOpts, a: &CpArgs) -> CmdResult {
    let dst_target = Target::parse(&a.dest)?;
    session::share(&dst_target)?;
    let policy = a.retry.policy();
    let src = Remote::open_share_with(opts, &a.source, policy).await?;
    let dst = if same_login(opts, &src.target, &dst_target) {
        Remote {
            conn: src.conn.clone(),
            target: dst_target,
            reconnects: src.reconnects,
            _watch: None,
        }
    } else {
        Remote::open_share_with(opts, &a.dest, policy).await?
    };
    let (from, to) = (End::of(&src), End::of(&dst));
    let src_path = src.path().to_string();
    let dst_path = dst.path().to_string();

    // The share's root is a folder; anything else is asked.
    let size = if src_path.is_empty() {
        None
    } else {
        let f = again_if_lost(src.reconnects, || {
            src.conn.get_attributes(src.share(), &src_path)
        })
        .await?;
        (!f.is_directory()).then_some(f.file_size)
    };
    let existing = if dst_path.is_empty() {
        Some(true)
    } else {
        match again_if_lost(dst.reconnects, || {
            dst.conn.get_attributes(dst.share(), &dst_path)
        })
        .await
        {
            Ok(f) => Some(f.is_directory()),
            Err(e) if e.status().is_some_and(is_not_found) => None,
            Err(e) => return Err(e.into()),
        }
    };
    if dst.target.trailing_slash {
        match existing {
            Some(false) => return Err(Failure::usage(format!("'{}' is not a folder", dst.target))),
            None => {
                return Err(Failure::new(
                    Kind::NotFound,
                    format!("the remote folder '{}' does not exist", dst.target),
                )
                .hint(format!("create it with: smbkit mkdir -p {}", dst.target)))
            }
            Some(true) => {}
        }
    }
    let name = if src_path.is_empty() {
        src.share().to_string()
    } else {
        split_last(&src_path).1.to_string()
    };

    let result = if let Some(size) = size {
        let dest = if existing == Some(true) {
            join(&dst_path, &name)
        } else {
            dst_path.clone()
        };
        one(opts, &src, &dst, (&from, &to), &dest, size).await
    } else {
        if !a.recursive {
            return Err(Failure::usage(format!("'{}' is a folder", src.target))
                .hint("add -r to copy it with everything in it"));
        }
        // DEST/ (or a share's root) receives the folder under its own
        // name; otherwise DEST names the copy, so that running the command
        // again lands in the same place.
        let root = if dst.target.trailing_slash || dst_path.is_empty() {
            join(&dst_path, &name)
        } else if existing == Some(false) {
            return Err(Failure::usage(format!(
                "'{}' exists and is not a folder",
                dst.target
            )));
        } else {
            dst_path.clone()
        };
        let same_place = same_login(opts, &src.target, &dst.target)
            && src.share().eq_ignore_ascii_case(dst.share());
        let inside = |p: &str| {
            let (p, s) = (p.to_lowercase(), src_path.to_lowercase());
            s.is_empty() || p == s || p.starts_with(&format!("{s}/"))
        };
        if same_place && inside(&root) {
            return Err(Failure::usage(format!(
                "cannot copy the folder '{}' into itself",
                src.target
            )));
        }
        tree(opts, a, &src, &dst, (&from, &to), &root).await
    };
    let closed = src.conn.close().await;
    let closed_dst = dst.conn.close().await;
    result?;
    closed?;
    Ok(closed_dst?)
}

/// Copies one file; when the connection is lost and made again, the copy
/// runs again whole.
async fn copy_file(from: &End, to: &End, job: &Job, bar: FileBar) -> Result<CopyMethod, Failure> {
    let reconnects = from.reconnects || to.reconnects;
    let mut tries = 0;
    loop {
        let shown = Arc::new(AtomicU64::new(0));
        let (b, s) = (bar.clone(), shown.clone());
        let r = from
            .conn
            .copy_to_with_progress(
                &from.share,
                &job.src,
                &to.conn,
                &to.share,
                &job.dst,
                move |n| {
                    let before = s.swap(n, Ordering::Relaxed);
                    if n >= before {
                        b.inc(n - before);
                    } else {
                        b.rewind(before - n);
                    }
                },
            )
            .await;
        match r {
            Ok(c) => return Ok(c.method),
            Err(e) if lost_in_flight(&e, reconnects, tries) => {
                // Counted again as the copy runs again.
                bar.rewind(shown.load(Ordering::Relaxed));
                tries += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Copies one file of `size` bytes to `dest`.
async fn one(
    opts: &GlobalOpts,
    src: &Remote,
    dst: &Remote,
    (from, to): (&End, &End),
    dest: &str,
    size: u64,
) -> CmdResult {
    let progress = Transfers::new(progress::wanted(opts.quiet), 1, size);
    let (_, name) = split_last(src.path());
    let bar = progress.file(name, Some(size));
    let job = Job {
        src: src.path().to_string(),
        dst: dest.to_string(),
        size,
    };
    let method = copy_file(from, to, &job, bar).await;
    progress.finish();
    let method = method?;
    if !opts.quiet {
        let how = Methods::default();
        how.count(method);
        eprintln!(
            "copied '{}' to '{}': {}{}",
            src.target,
            dst.target.url_of(dest),
            progress.summary(1, job.size),
            how.describe()
        );
    }
    Ok(())
}

/// Copies the folder tree of `src` to `root` of `dst`: the folders
/// first, then the files, several at once.
async fn tree(
    opts: &GlobalOpts,
    a: &CpArgs,
    src: &Remote,
    dst: &Remote,
    (from, to): (&End, &End),
    root: &str,
) -> CmdResult {
    let src_path = src.path().to_string();
    let entries = again_if_lost(src.reconnects, || async {
        let mut walk = src.conn.walk(src.share(), &src_path);
        let mut v = Vec::new();
        while let Some(e) = walk.next_entry().await? {
            v.push(e);
        }
        Ok(v)
    })
    .await?;
    let mut dirs = vec![root.to_string()];
    let mut jobs = Vec::new();
    for e in &entries {
        let rel = e.path();
        if e.entry().is_dir() {
            dirs.push(join(root, rel));
        } else {
            jobs.push(Job {
                src: join(&src_path, rel),
                dst: join(root, rel),
                size: e.entry().len(),
            });
        }
    }
    // Parents before their folders.
    dirs.sort_by_key(|d| d.matches('/').count());
    for d in &dirs {
        match again_if_lost(dst.reconnects, || dst.conn.create_directory(dst.share(), d)).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(NtStatus::OBJECT_NAME_COLLISION) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let progress = Arc::new(Transfers::new(
        progress::wanted(opts.quiet),
        jobs.len(),
        total,
    ));
    let how = Arc::new(Methods::default());
    let totals = pool::run(
        jobs,
        usize::from(a.jobs),
        from.reconnects || to.reconnects,
        &progress,
        |j| j.src.clone(),
        |job| {
            let (from, to) = (from.clone(), to.clone());
            let (progress, how) = (progress.clone(), how.clone());
            async move {
                let bar = progress.file(&job.src, Some(job.size));
                let r = copy_file(&from, &to, &job, bar.clone()).await;
                progress.file_done(&bar);
                how.count(r?);
                Ok(Outcome::Done(job.size))
            }
        },
    )
    .await;
    progress.finish();
    if !opts.quiet {
        eprintln!(
            "copied '{}' to '{}': {}{}",
            src.target,
            dst.target.url_of(root),
            progress.summary(totals.files, totals.bytes),
            how.describe()
        );
    }
    totals.into_result("copied")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn opts(extra: &[&str]) -> GlobalOpts {
        let mut v = vec!["smbkit"];
        v.extend_from_slice(extra);
        v.extend_from_slice(&["info", "smb://h"]);
        crate::args::Cli::try_parse_from(v).unwrap().opts
    }

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn one_connection_serves_the_same_server_and_user() {
        let o = opts(&[]);
        assert!(same_login(
            &o,
            &t("smb://alice@fs/a/x"),
            &t("smb://ALICE@FS/b/y")
        ));
        assert!(same_login(&o, &t("smb://fs/a/x"), &t("smb://fs/b/y")));
        assert!(same_login(&o, &t("//fs/a/x"), &t("\\\\fs\\b\\y")));
        assert!(!same_login(
            &o,
            &t("smb://alice@fs/a"),
            &t("smb://bob@fs/a")
        ));
        assert!(!same_login(
            &o,
            &t("smb://alice@fs/a"),
            &t("smb://alice@nas/a")
        ));
        assert!(!same_login(
            &o,
            &t("smb://alice@fs/a"),
            &t("smb://alice@fs:1445/a")
        ));
        assert!(!same_login(
            &o,
            &t("smb://D;alice@fs/a"),
            &t("smb://E;alice@fs/a")
        ));
        // Anonymous (smb://) and $USER (//host) are different users.
        assert!(!same_login(&o, &t("smb://fs/a"), &t("//fs/a")));
        // -U names the user of both.
        let o = opts(&["-U", "carol"]);
        assert!(same_login(&o, &t("smb://alice@fs/a"), &t("//fs/a")));
        // --port applies to both.
        let o = opts(&["--port", "1445"]);
        assert!(same_login(
            &o,
            &t("smb://alice@fs/a"),
            &t("smb://alice@fs:139/a")
        ));
    }
}
