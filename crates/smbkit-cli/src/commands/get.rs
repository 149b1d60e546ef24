//! `get` (one file, the files a wildcard matches, or a folder tree; byte
//! ranges; resuming) and `cat`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use smbkit::{Connection, Error, NtStatus};
use tokio::io::AsyncWrite;

use crate::args::{CatArgs, GetArgs, GlobalOpts};
use crate::commands::ls::entries;
use crate::commands::pool::{self, Outcome};
use crate::commands::{again_if_lost, lost_in_flight, Remote};
use crate::error::{CmdResult, Failure, Kind};
use crate::progress::{self, Counting, FileBar, LocalError, Transfers};
use crate::target::{has_wildcard, join, split_last};

/// Turns the failure of a transfer into the right message: a local write
/// error is blamed on the local file, anything else on the server.
fn blame(e: Error, local: &LocalError, dest: &str) -> Failure {
    match local.get() {
        Some((kind, msg)) => {
            let k = match kind {
                std::io::ErrorKind::NotFound => Kind::NotFound,
                std::io::ErrorKind::PermissionDenied => Kind::AccessDenied,
                _ => Kind::Other,
            };
            Failure::new(k, format!("cannot write to {dest}: {msg}"))
        }
        None => {
            let folder = e.status() == Some(NtStatus::FILE_IS_A_DIRECTORY);
            let f = Failure::from(e);
            if folder {
                f.hint(
                    "that is a folder: list it with smbkit ls, or download it with smbkit get -r",
                )
            } else {
                f
            }
        }
    }
}

/// `smbkit cat`: the file's bytes to standard output.
pub async fn cat(opts: &GlobalOpts, a: &CatArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    let local = LocalError::default();
    let bar = Transfers::new(false, 1, 0).file("", None);
    let mut out = Counting::new(tokio::io::stdout(), bar, local.clone());
    match r.conn.retrieve_file(r.share(), r.path(), &mut out).await {
        Ok(_) => {}
        Err(_) if local.get().map(|(k, _)| k) == Some(std::io::ErrorKind::BrokenPipe) => {
            return Ok(());
        }
        Err(e) => return Err(blame(e, &local, "standard output")),
    }
    r.close().await
}

/// A remote name that is safe to use as a local file name.
fn safe_name(name: &str) -> Option<&str> {
    (!name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']))
        .then_some(name)
}

/// One file to download.
struct Job {
    remote: String,
    local: PathBuf,
    size: u64,
}

/// `smbkit get`.
pub async fn get(opts: &GlobalOpts, a: &GetArgs) -> CmdResult {
    let r = Remote::open_share_with(opts, &a.remote, a.retry.policy()).await?;
    let path = r.path().to_string();
    let (_, last) = split_last(&path);
    if has_wildcard(last) {
        let matches = entries(&r, &path).await?;
        if matches.is_empty() {
            return Err(Failure::new(
                Kind::NotFound,
                format!("nothing matches '{}'", r.target),
            ));
        }
        let dest = a.local.clone().unwrap_or_else(|| PathBuf::from("."));
        if dest == Path::new("-") {
            return Err(Failure::usage(
                "a wildcard can match several files: give a folder to save them in, not -",
            ));
        }
        ensure_dir(&dest)?;
        let mut jobs = Vec::new();
        for (f, p) in matches {
            let Some(name) = safe_name(&f.filename) else {
                continue;
            };
            if f.is_directory() {
                if a.recursive {
                    walk(&r, &p, &dest.join(name), &mut jobs).await?;
                } else if !opts.quiet {
                    eprintln!("smbkit: skipping the folder {p} (add -r to download folders)");
                }
            } else {
                jobs.push(Job {
                    remote: p,
                    local: dest.join(name),
                    size: f.file_size,
                });
            }
        }
        check_no_range(a)?;
        return many(opts, a, &r, jobs).await;
    }

    let attrs = again_if_lost(r.reconnects, || r.conn.get_attributes(r.share(), &path)).await?;
    let name = if path.is_empty() {
        r.share().to_string()
    } else {
        last.to_string()
    };
    if attrs.is_directory() {
        if !a.recursive {
            return Err(Failure::usage(format!("'{}' is a folder", r.target))
                .hint("add -r to download it with everything in it"));
        }
        check_no_range(a)?;
        let name = safe_name(&name).ok_or_else(|| {
            Failure::new(
                Kind::Other,
                format!("the remote name {name:?} cannot be a local name"),
            )
        })?;
        // LOCAL names the copy (so that running the command again, with
        // -c or without, lands in the same place); `LOCAL/`, `.` and `..`
        // receive it under its own name.
        let dest = match &a.local {
            Some(l) if l == Path::new("-") => {
                return Err(Failure::usage(
                    "a folder cannot be written to standard output",
                ))
            }
            Some(l) if means_into(l) => l.join(name),
            Some(l) => l.clone(),
            None => PathBuf::from(name),
        };
        let mut jobs = Vec::new();
        walk(&r, &path, &dest, &mut jobs).await?;
        return many(opts, a, &r, jobs).await;
    }

    let dest = match &a.local {
        Some(l) if l == Path::new("-") => None,
        Some(l) if l.is_dir() => Some(l.join(&name)),
        Some(l) => Some(l.clone()),
        None => Some(PathBuf::from(&name)),
    };
    one(opts, a, &r, attrs.file_size, &name, dest).await?;
    r.close().await
}

/// True for a local destination written as a folder to put things in:
/// with a trailing separator, or `.` / `..`.
fn means_into(p: &Path) -> bool {
    use std::path::Component;
    p.as_os_str()
        .to_string_lossy()
        .ends_with(std::path::MAIN_SEPARATOR)
        || matches!(
            p.components().next_back(),
            Some(Component::CurDir | Component::ParentDir)
        )
}

fn check_no_range(a: &GetArgs) -> CmdResult {
    if a.offset.is_some() || a.length.is_some() {
        return Err(Failure::usage(
            "--offset and --length apply to a single file, not to several",
        ));
    }
    Ok(())
}

fn ensure_dir(dir: &Path) -> CmdResult {
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::usage(format!(
            "'{}' exists and is not a folder",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Failure::local(&e, "create the folder", dir))
}

/// Lists the remote folder `remote` and everything below it, creating the
/// local folders as it goes and adding a job per file.
async fn walk(r: &Remote, remote: &str, local: &Path, jobs: &mut Vec<Job>) -> CmdResult {
    let mut stack = vec![(remote.to_string(), local.to_path_buf())];
    while let Some((dir, ldir)) = stack.pop() {
        ensure_dir(&ldir)?;
        let listed = again_if_lost(r.reconnects, || r.conn.list_path(r.share(), &dir)).await?;
        for f in listed {
            if f.filename == "." || f.filename == ".." {
                continue;
            }
            let Some(name) = safe_name(&f.filename) else {
                eprintln!(
                    "smbkit: skipping {:?} in {dir}: not usable as a local name",
                    f.filename
                );
                continue;
            };
            let rpath = join(&dir, name);
            if f.is_directory() {
                stack.push((rpath, ldir.join(name)));
            } else {
                jobs.push(Job {
                    remote: rpath,
                    local: ldir.join(name),
                    size: f.file_size,
                });
            }
        }
    }
    Ok(())
}

/// Where a download starts, and whether it appends to what is there.
enum Start {
    /// From `offset`, replacing the local file.
    Fresh(u64),
    /// From the local file's length, appending.
    Resume(u64),
    /// The local file is complete already.
    Complete,
}

/// Where to start a resumed download of a `size`-byte file to `local`.
fn resume_point(local: &Path, size: u64) -> CmdResult<Start> {
    let have = match std::fs::metadata(local) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Start::Fresh(0)),
        Err(e) => return Err(Failure::local(&e, "read", local)),
    };
    if have == size {
        Ok(Start::Complete)
    } else if have > size {
        Err(Failure::new(
            Kind::Other,
            format!(
                "'{}' has {have} bytes, more than the remote file's {size}: it is not a partial copy",
                local.display()
            ),
        )
        .hint("remove it, or download without -c to replace it"))
    } else if have == 0 {
        Ok(Start::Fresh(0))
    } else {
        Ok(Start::Resume(have))
    }
}

/// Where downloads come from: the connection, the share, and whether the
/// connection is made again when lost.
#[derive(Clone)]
struct Origin {
    conn: Connection,
    share: Arc<str>,
    reconnects: bool,
}

impl Origin {
    fn of(r: &Remote) -> Origin {
        Origin {
            conn: r.conn.clone(),
            share: Arc::from(r.share()),
            reconnects: r.reconnects,
        }
    }
}

/// Downloads `remote` to `local` (standard output for `None`) from
/// `start`, at most `length` bytes. When the connection is lost and made
/// again at a moment the download cannot go on by itself (while the file
/// is opened or closed), it goes on from the bytes written so far.
async fn fetch(
    from: &Origin,
    remote: &str,
    local: Option<&Path>,
    start: &Start,
    length: Option<u64>,
    bar: FileBar,
) -> Result<u64, Failure> {
    let (offset, append) = match start {
        Start::Fresh(o) => (*o, false),
        Start::Resume(o) => (*o, true),
        Start::Complete => return Ok(0),
    };
    let errors = LocalError::default();
    let (mut out, dest): (Box<dyn AsyncWrite + Unpin + Send>, String) = match local {
        None => (Box::new(tokio::io::stdout()), "standard output".into()),
        Some(p) => {
            let f = if append {
                tokio::fs::OpenOptions::new().append(true).open(p).await
            } else {
                tokio::fs::File::create(p).await
            }
            .map_err(|e| Failure::local(&e, "create", p))?;
            (Box::new(f), format!("'{}'", p.display()))
        }
    };
    let mut w = Counting::new(&mut out, bar, errors.clone());
    let mut tries = 0;
    loop {
        let done = w.moved();
        let rest = length.map(|l| l.saturating_sub(done));
        match from
            .conn
            .retrieve_file_from_offset(&from.share, remote, &mut w, offset + done, rest)
            .await
        {
            Ok((_, n)) => return Ok(done + n),
            Err(e) if errors.get().is_none() && lost_in_flight(&e, from.reconnects, tries) => {
                tries += 1;
            }
            Err(e) => return Err(blame(e, &errors, &dest)),
        }
    }
}

/// Downloads one file of `size` bytes.
async fn one(
    opts: &GlobalOpts,
    a: &GetArgs,
    r: &Remote,
    size: u64,
    name: &str,
    dest: Option<PathBuf>,
) -> CmdResult {
    let start = if a.resume {
        match &dest {
            None => return Err(Failure::usage("-c (resume) needs a local file, not -")),
            Some(p) => resume_point(p, size)?,
        }
    } else {
        let offset = a.offset.unwrap_or(0);
        if offset > size {
            return Err(Failure::usage(format!(
                "--offset {offset} is past the end of the file ({size} bytes)"
            )));
        }
        Start::Fresh(offset)
    };
    if let (Start::Complete, Some(p)) = (&start, &dest) {
        if !opts.quiet {
            eprintln!(
                "smbkit: '{}' is complete already ({size} bytes)",
                p.display()
            );
        }
        return Ok(());
    }
    let from = match start {
        Start::Fresh(o) | Start::Resume(o) => o,
        Start::Complete => size,
    };
    let expected = a.length.map_or(size - from, |l| l.min(size - from));
    let show = progress::wanted(opts.quiet) && dest.is_some();
    let progress = Transfers::new(show, 1, expected);
    let bar = progress.file(name, Some(expected));
    let n = fetch(
        &Origin::of(r),
        r.path(),
        dest.as_deref(),
        &start,
        a.length,
        bar,
    )
    .await;
    progress.finish();
    let n = n?;
    if !opts.quiet {
        if let Some(p) = &dest {
            let resumed = if let Start::Resume(o) = start {
                format!(", resumed at byte {o}")
            } else {
                String::new()
            };
            eprintln!("got '{}': {}{resumed}", p.display(), progress.summary(1, n));
        }
    }
    Ok(())
}

/// Downloads every job, several at once over the one connection.
async fn many(opts: &GlobalOpts, a: &GetArgs, r: &Remote, jobs: Vec<Job>) -> CmdResult {
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let count = jobs.len();
    let progress = Arc::new(Transfers::new(progress::wanted(opts.quiet), count, total));
    let from = Origin::of(r);
    let resume = a.resume;
    let totals = pool::run(
        jobs,
        usize::from(a.jobs),
        r.reconnects,
        &progress,
        |j| j.remote.clone(),
        |job| {
            let from = from.clone();
            let progress = progress.clone();
            async move {
                let start = if resume {
                    resume_point(&job.local, job.size)?
                } else {
                    Start::Fresh(0)
                };
                if let Start::Complete = start {
                    progress.skipped(job.size);
                    return Ok(Outcome::Skipped);
                }
                let bar = progress.file(&job.remote, Some(job.size));
                if let Start::Resume(o) = start {
                    bar.skip(o);
                }
                let n = fetch(
                    &from,
                    &job.remote,
                    Some(&job.local),
                    &start,
                    None,
                    bar.clone(),
                )
                .await;
                progress.file_done(&bar);
                Ok(Outcome::Done(n?))
            }
        },
    )
    .await;
    progress.finish();
    if !opts.quiet {
        let skipped = if totals.skipped > 0 {
            format!(" ({} complete already)", totals.skipped)
        } else {
            String::new()
        };
        eprintln!(
            "got {}{skipped}",
            progress.summary(totals.files, totals.bytes)
        );
    }
    let result = totals.into_result("downloaded");
    let closed = r.conn.close().await;
    result?;
    Ok(closed?)
}
