//! Operations on paths: attributes (getAttributes, resetFileAttributes),
//! folders (createDirectory, deleteDirectory), rename, and deletion by
//! pattern (deleteFiles), written once over the family primitives, each of
//! which is one round trip.

use smbkit_proto::fscc;
use smbkit_proto::smb2::create::{access_mask, create_disposition, create_options};
use smbkit_proto::NtStatus;
use tokio::time::Instant;

use super::listing::list_entries;
use super::names::{join, smb_path, split_last};
use super::{timed, Ctx};
use crate::error::{failure, Error, InvalidArgument};
use crate::family::OpenSpec;
use crate::types::SharedFile;

/// The attributes of the file or folder at `path`.
pub(crate) async fn get_attributes(
    ctx: &Ctx,
    share: &str,
    path: &str,
) -> Result<SharedFile, Error> {
    super::timed_again(ctx, |deadline| async move {
        let path = smb_path(path)?;
        let tree = ctx.tree(share, deadline).await?;
        ctx.family().stat(tree, share, &path, deadline).await
    })
    .await
}

/// Creates the folder `path`; the parent must exist.
pub(crate) async fn create_directory(ctx: &Ctx, share: &str, path: &str) -> Result<(), Error> {
    timed(ctx, |deadline| async move {
        let path = smb_path(path)?;
        if path.is_empty() {
            return Err(InvalidArgument::NoName {
                operation: "create_directory",
            }
            .into());
        }
        let tree = ctx.tree(share, deadline).await?;
        let spec = OpenSpec::new(
            access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::CREATE,
            create_options::DIRECTORY_FILE,
        );
        ctx.family()
            .open_close(tree, share, &path, spec, "create_directory", deadline)
            .await
    })
    .await
}

/// Deletes the empty folder `path`.
pub(crate) async fn delete_directory(ctx: &Ctx, share: &str, path: &str) -> Result<(), Error> {
    timed(ctx, |deadline| async move {
        let path = smb_path(path)?;
        if path.is_empty() {
            return Err(InvalidArgument::NoName {
                operation: "delete_directory",
            }
            .into());
        }
        let tree = ctx.tree(share, deadline).await?;
        ctx.family()
            .delete(tree, share, &path, true, "delete_directory", deadline)
            .await
    })
    .await
}

/// Deletes the files matching `pattern` and, with
/// `delete_matching_folders`, the matching folders with everything in
/// them. Nothing matching is STATUS_NO_SUCH_FILE.
pub(crate) async fn delete_files(
    ctx: &Ctx,
    share: &str,
    pattern: &str,
    delete_matching_folders: bool,
) -> Result<(), Error> {
    timed(ctx, |deadline| async move {
        let (tree, path, entries) = matching(ctx, "delete_files", share, pattern, deadline).await?;
        let (dir, _) = split_last(&path);
        let mut matched = false;
        for e in entries {
            let child = join(dir, &e.filename);
            if e.is_directory() {
                if delete_matching_folders {
                    matched = true;
                    delete_tree(ctx, tree, share, &child, deadline).await?;
                }
            } else {
                matched = true;
                ctx.family()
                    .delete(tree, share, &child, false, "delete_files", deadline)
                    .await?;
            }
        }
        if !matched {
            return Err(failure(
                "delete_files",
                share,
                &path,
                NtStatus::NO_SUCH_FILE,
            ));
        }
        Ok(())
    })
    .await
}

/// The entries matching `pattern` (wildcards in its last component),
/// without `.` and `..`: the tree id, the normalised pattern and the
/// entries.
async fn matching(
    ctx: &Ctx,
    operation: &'static str,
    share: &str,
    pattern: &str,
    deadline: Instant,
) -> Result<(u32, String, Vec<SharedFile>), Error> {
    let path = smb_path(pattern)?;
    let (dir, last) = split_last(&path);
    if last.is_empty() || pattern.ends_with(['/', '\\']) {
        return Err(InvalidArgument::NoName { operation }.into());
    }
    let tree = ctx.tree(share, deadline).await?;
    let entries = list_entries(ctx, share, dir, last, deadline)
        .await?
        .into_iter()
        .filter(|e| e.filename != "." && e.filename != "..")
        .collect();
    Ok((tree, path, entries))
}

/// Deletes a folder and everything below it.
async fn delete_tree(
    ctx: &Ctx,
    tree: u32,
    share: &str,
    path: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let family = ctx.family();
    let mut stack = vec![(path.to_string(), false)];
    while let Some((dir, listed)) = stack.pop() {
        if listed {
            family
                .delete(tree, share, &dir, true, "delete_files", deadline)
                .await?;
            continue;
        }
        stack.push((dir.clone(), true));
        for e in list_entries(ctx, share, &dir, "*", deadline).await? {
            if e.filename == "." || e.filename == ".." {
                continue;
            }
            let child = join(&dir, &e.filename);
            if e.is_directory() {
                stack.push((child, false));
            } else {
                family
                    .delete(tree, share, &child, false, "delete_files", deadline)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Sets the attributes of every file matching `pattern` to `attributes`
/// (0 or NORMAL clears them); folders keep their directory bit.
pub(crate) async fn reset_file_attributes(
    ctx: &Ctx,
    share: &str,
    pattern: &str,
    attributes: u32,
) -> Result<(), Error> {
    timed(ctx, |deadline| async move {
        let (tree, path, entries) =
            matching(ctx, "reset_file_attributes", share, pattern, deadline).await?;
        let (dir, _) = split_last(&path);
        let mut matched = false;
        for e in entries {
            matched = true;
            let child = join(dir, &e.filename);
            let mut attrs = if attributes == 0 {
                fscc::attributes::NORMAL
            } else {
                attributes
            };
            if e.is_directory() {
                attrs = (attrs & !fscc::attributes::NORMAL) | fscc::attributes::DIRECTORY;
            }
            let info = fscc::FileBasicInformation::set_attributes(attrs);
            ctx.family()
                .set_basic_info(
                    tree,
                    share,
                    &child,
                    &info,
                    "reset_file_attributes",
                    deadline,
                )
                .await?;
        }
        if !matched {
            return Err(failure(
                "reset_file_attributes",
                share,
                &path,
                NtStatus::NO_SUCH_FILE,
            ));
        }
        Ok(())
    })
    .await
}

/// Sets the times of the file or folder `path` that `times` gives.
pub(crate) async fn set_file_times(
    ctx: &Ctx,
    share: &str,
    path: &str,
    times: &crate::types::FileTimes,
) -> Result<(), Error> {
    timed(ctx, |deadline| async move {
        let path = smb_path(path)?;
        let ft = |t: Option<std::time::SystemTime>| t.map_or(0, fscc::system_time_to_filetime);
        let info = fscc::FileBasicInformation {
            creation_time: ft(times.created),
            last_access_time: ft(times.accessed),
            last_write_time: ft(times.modified),
            change_time: ft(times.changed),
            file_attributes: 0,
        };
        let tree = ctx.tree(share, deadline).await?;
        ctx.family()
            .set_basic_info(tree, share, &path, &info, "set_file_times", deadline)
            .await
    })
    .await
}

/// Renames (or moves, within the share) `old_path` to `new_path`, never
/// replacing an existing `new_path`.
pub(crate) async fn rename(
    ctx: &Ctx,
    share: &str,
    old_path: &str,
    new_path: &str,
) -> Result<(), Error> {
    timed(ctx, |deadline| async move {
        let old = smb_path(old_path)?;
        let new = smb_path(new_path)?;
        if old.is_empty() || new.is_empty() {
            return Err(InvalidArgument::NoName {
                operation: "rename",
            }
            .into());
        }
        let tree = ctx.tree(share, deadline).await?;
        ctx.family().rename(tree, share, &old, &new, deadline).await
    })
    .await
}
