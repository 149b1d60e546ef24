//! `put`: files, standard input, or (-r) folder trees.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use smbkit::{Connection, Error, NtStatus};
use tokio::io::AsyncRead;

use crate::args::{GlobalOpts, PutArgs};
use crate::commands::pool::{self, Outcome};
use crate::commands::{again_if_lost, lost_in_flight, Remote};
use crate::error::{is_not_found, CmdResult, Failure, Kind};
use crate::progress::{self, Counting, FileBar, LocalError, Transfers};
use crate::target::join;

/// One file to upload.
struct Job {
    local: PathBuf,
    remote: String,
    size: u64,
}

/// What a local source is.
enum Source {
    Stdin,
    File(PathBuf, u64),
    Dir(PathBuf),
}

/// The last component of a local path, as a remote name.
fn local_name(p: &Path) -> CmdResult<String> {
    let name = p
        .canonicalize()
        .ok()
        .and_then(|c| c.file_name().map(|n| n.to_os_string()))
        .or_else(|| p.file_name().map(|n| n.to_os_string()))
        .ok_or_else(|| Failure::usage(format!("'{}' has no file name", p.display())))?;
    name.into_string().map_err(|n| {
        Failure::usage(format!(
            "the local name {n:?} is not valid Unicode, which SMB names must be"
        ))
    })
}

/// Checks the local sources before connecting.
fn sources(a: &PutArgs) -> CmdResult<Vec<Source>> {
    let mut v = Vec::new();
    for p in &a.local {
        if p == Path::new("-") {
            if a.local.len() > 1 {
                return Err(Failure::usage("- (standard input) can only be put alone"));
            }
            v.push(Source::Stdin);
            continue;
        }
        let m = std::fs::metadata(p).map_err(|e| Failure::local(&e, "read", p))?;
        if m.is_dir() {
            if !a.recursive {
                return Err(Failure::usage(format!("'{}' is a folder", p.display()))
                    .hint("add -r to upload it with everything in it"));
            }
            v.push(Source::Dir(p.clone()));
        } else {
            v.push(Source::File(p.clone(), m.len()));
        }
    }
    Ok(v)
}

/// `smbkit put`.
pub async fn put(opts: &GlobalOpts, a: &PutArgs) -> CmdResult {
    let sources = sources(a)?;
    let r = Remote::open_share_with(opts, &a.remote, a.retry.policy()).await?;
    let dest = r.path().to_string();
    let existing = if dest.is_empty() {
        Some(true)
    } else {
        match again_if_lost(r.reconnects, || r.conn.get_attributes(r.share(), &dest)).await {
            Ok(f) => Some(f.is_directory()),
            Err(e) if e.status().is_some_and(is_not_found) => None,
            Err(e) => return Err(e.into()),
        }
    };
    let into_folder = match existing {
        Some(is_dir) => {
            if r.target.trailing_slash && !is_dir {
                return Err(Failure::usage(format!("'{}' is not a folder", r.target)));
            }
            is_dir
        }
        None if r.target.trailing_slash || sources.len() > 1 => {
            return Err(Failure::new(
                Kind::NotFound,
                format!("the remote folder '{}' does not exist", r.target),
            )
            .hint(format!("create it with: smbkit mkdir -p {}", r.target)))
        }
        None => false,
    };

    if let [Source::Stdin] = sources.as_slice() {
        if into_folder {
            return Err(Failure::usage(
                "standard input needs a remote file name, not a folder",
            ));
        }
        let progress = Transfers::new(progress::wanted(opts.quiet), 1, 0);
        let bar = progress.file("standard input", None);
        let n = send(
            &r.conn,
            r.share(),
            &dest,
            tokio::io::stdin(),
            "standard input",
            bar,
        )
        .await;
        progress.finish();
        let n = n?;
        if !opts.quiet {
            eprintln!("put '{}': {}", r.target, progress.summary(1, n));
        }
        return r.close().await;
    }

    // A file goes into an existing folder under its own name. A folder
    // goes under its own name into `REMOTE/` (trailing slash), the share's
    // root, or the folder given several sources; otherwise REMOTE names
    // the copy, so that running the command again lands in the same place.
    let folder_into = r.target.trailing_slash || dest.is_empty() || sources.len() > 1;
    let mut dirs = Vec::new();
    let mut jobs = Vec::new();
    for s in &sources {
        match s {
            Source::Stdin => {}
            Source::File(p, size) => jobs.push(Job {
                local: p.clone(),
                remote: if into_folder {
                    join(&dest, &local_name(p)?)
                } else {
                    dest.clone()
                },
                size: *size,
            }),
            Source::Dir(p) => {
                let remote = if folder_into {
                    join(&dest, &local_name(p)?)
                } else if existing == Some(false) {
                    return Err(Failure::usage(format!(
                        "'{}' exists and is not a folder",
                        r.target
                    )));
                } else {
                    dest.clone()
                };
                walk(p, &remote, &mut dirs, &mut jobs)?;
            }
        }
    }
    for d in &dirs {
        make_dir(&r, d).await?;
    }
    if jobs.len() == 1 && dirs.is_empty() {
        let job = jobs.remove(0);
        let name = job
            .local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let progress = Transfers::new(progress::wanted(opts.quiet), 1, job.size);
        let bar = progress.file(&name, Some(job.size));
        let n = upload(&Dest::of(opts, &r), &job, bar).await;
        progress.finish();
        let n = n?;
        if !opts.quiet {
            eprintln!(
                "put '{}': {}",
                r.target.url_of(&job.remote),
                progress.summary(1, n)
            );
        }
        return r.close().await;
    }
    many(opts, a, &r, jobs).await
}

/// Creates the remote folder `path`; one that exists already is fine.
async fn make_dir(r: &Remote, path: &str) -> CmdResult {
    match again_if_lost(r.reconnects, || r.conn.create_directory(r.share(), path)).await {
        Ok(()) => Ok(()),
        Err(e) if e.status() == Some(NtStatus::OBJECT_NAME_COLLISION) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds the local folder `root` and everything below it: the remote
/// folders to create (parents first) and a job per file. Symbolic links
/// to files are followed; links to folders are skipped, so that a loop
/// cannot make the walk endless.
fn walk(root: &Path, remote: &str, dirs: &mut Vec<String>, jobs: &mut Vec<Job>) -> CmdResult {
    dirs.push(remote.to_string());
    let mut stack = vec![(root.to_path_buf(), remote.to_string())];
    while let Some((dir, rdir)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| Failure::local(&e, "list", &dir))?
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::local(&e, "list", &dir))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = e.file_name().into_string().map_err(|n| {
                Failure::usage(format!(
                    "the local name {n:?} in '{}' is not valid Unicode, which SMB names must be",
                    dir.display()
                ))
            })?;
            let link = e.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            let m = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(err) if link => {
                    eprintln!(
                        "smbkit: skipping the broken link '{}': {err}",
                        path.display()
                    );
                    continue;
                }
                Err(err) => return Err(Failure::local(&err, "read", &path)),
            };
            let rpath = join(&rdir, &name);
            if m.is_dir() {
                if link {
                    eprintln!("smbkit: skipping '{}': a link to a folder", path.display());
                    continue;
                }
                dirs.push(rpath.clone());
                stack.push((path, rpath));
            } else if m.is_file() {
                jobs.push(Job {
                    local: path,
                    remote: rpath,
                    size: m.len(),
                });
            } else {
                eprintln!("smbkit: skipping '{}': not a regular file", path.display());
            }
        }
    }
    Ok(())
}

/// Stores what `reader` yields as `remote`.
async fn send<R: AsyncRead + Unpin>(
    conn: &Connection,
    share: &str,
    remote: &str,
    reader: R,
    what: &str,
    bar: FileBar,
) -> Result<u64, Failure> {
    let errors = LocalError::default();
    let mut reader = Counting::new(reader, bar, errors.clone());
    conn.store_file(share, remote, &mut reader)
        .await
        .map_err(|e| blame(e, &errors, what))
}

/// Where uploads go: the connection, the share, whether the connection
/// is made again when lost, and whether to keep quiet.
#[derive(Clone)]
struct Dest {
    conn: Connection,
    share: Arc<str>,
    reconnects: bool,
    quiet: bool,
}

impl Dest {
    fn of(opts: &GlobalOpts, r: &Remote) -> Dest {
        Dest {
            conn: r.conn.clone(),
            share: Arc::from(r.share()),
            reconnects: r.reconnects,
            quiet: opts.quiet,
        }
    }
}

/// Uploads one job. When the connection is lost and made again at a
/// moment the upload cannot go on by itself (while the file is opened or
/// closed), the file is sent again whole.
async fn upload(to: &Dest, job: &Job, bar: FileBar) -> Result<u64, Failure> {
    let what = format!("'{}'", job.local.display());
    let mut tries = 0;
    loop {
        let f = tokio::fs::File::open(&job.local)
            .await
            .map_err(|e| Failure::local(&e, "open", &job.local))?;
        let errors = LocalError::default();
        let mut reader = Counting::new(f, bar.clone(), errors.clone());
        match to
            .conn
            .store_file(&to.share, &job.remote, &mut reader)
            .await
        {
            Ok(n) => return Ok(n),
            Err(e) if errors.get().is_none() && lost_in_flight(&e, to.reconnects, tries) => {
                tries += 1;
                bar.rewind(reader.moved());
                if !to.quiet {
                    progress::message(&format!(
                        "smbkit: {what}: sending it again on the new connection"
                    ));
                }
            }
            Err(e) => return Err(blame(e, &errors, &what)),
        }
    }
}

/// A local read error is blamed on the local file, anything else on the
/// server.
fn blame(e: Error, local: &LocalError, what: &str) -> Failure {
    match local.get() {
        Some((_, msg)) => Failure::new(Kind::Other, format!("cannot read {what}: {msg}")),
        None => e.into(),
    }
}

/// Uploads every job, several at once over the one connection.
async fn many(opts: &GlobalOpts, a: &PutArgs, r: &Remote, jobs: Vec<Job>) -> CmdResult {
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let progress = Arc::new(Transfers::new(
        progress::wanted(opts.quiet),
        jobs.len(),
        total,
    ));
    let to = Dest::of(opts, r);
    let totals = pool::run(
        jobs,
        usize::from(a.jobs),
        r.reconnects,
        &progress,
        |j| j.local.display().to_string(),
        |job| {
            let to = to.clone();
            let progress = progress.clone();
            async move {
                let bar = progress.file(&job.remote, Some(job.size));
                let n = upload(&to, &job, bar.clone()).await;
                progress.file_done(&bar);
                Ok(Outcome::Done(n?))
            }
        },
    )
    .await;
    progress.finish();
    if !opts.quiet {
        eprintln!("put {}", progress.summary(totals.files, totals.bytes));
    }
    let result = totals.into_result("uploaded");
    let closed = r.conn.close().await;
    result?;
    Ok(closed?)
}
