//! `mkdir`, `rmdir`, `rm` and `mv`.

use smbkit::NtStatus;

use crate::args::{GlobalOpts, MkdirArgs, MvArgs, RmArgs, RmdirArgs};
use crate::commands::Remote;
use crate::error::{is_not_found, CmdResult, Failure, Kind};
use crate::target::{has_wildcard, join, normalize, split_last, Target};

/// `smbkit mkdir`: one folder, or (-p) every missing folder on the way.
pub async fn mkdir(opts: &GlobalOpts, a: &MkdirArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    if r.path().is_empty() {
        return Err(Failure::usage(
            "give the path of the folder to create after the share",
        ));
    }
    if a.parents {
        let mut so_far = String::new();
        for part in r.path().split('/') {
            so_far = join(&so_far, part);
            match r.conn.create_directory(r.share(), &so_far).await {
                Ok(()) => {}
                Err(e) if e.status() == Some(NtStatus::OBJECT_NAME_COLLISION) => {
                    let f = r.conn.get_attributes(r.share(), &so_far).await?;
                    if !f.is_directory() {
                        return Err(Failure::new(
                            Kind::Other,
                            format!("'{}' exists and is not a folder", r.target.url_of(&so_far)),
                        ));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    } else {
        r.conn
            .create_directory(r.share(), r.path())
            .await
            .map_err(|e| {
                let status = e.status();
                let f = Failure::from(e);
                match status {
                    Some(NtStatus::OBJECT_PATH_NOT_FOUND) => {
                        f.hint("a folder on the way is missing; mkdir -p creates them all")
                    }
                    Some(NtStatus::OBJECT_NAME_COLLISION) => {
                        f.hint("it exists already (mkdir -p accepts an existing folder)")
                    }
                    _ => f,
                }
            })?;
    }
    r.close().await
}

/// `smbkit rmdir`: an empty folder.
pub async fn rmdir(opts: &GlobalOpts, a: &RmdirArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    if r.path().is_empty() {
        return Err(Failure::usage("a share's root cannot be removed"));
    }
    r.conn.delete_directory(r.share(), r.path()).await?;
    r.close().await
}

/// `smbkit rm`: files (wildcards in the last part); with -r, matching
/// folders and everything in them.
pub async fn rm(opts: &GlobalOpts, a: &RmArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    let path = r.path().to_string();
    let (_, last) = split_last(&path);
    if last.is_empty() {
        return Err(Failure::usage(
            "give the file (or pattern) to remove after the share; rm does not remove a share's root",
        ));
    }
    if !has_wildcard(last) {
        let f = r.conn.get_attributes(r.share(), &path).await?;
        if f.is_directory() && !a.recursive {
            return Err(Failure::usage(format!("'{}' is a folder", r.target))
                .hint("remove it with everything in it with rm -r, or an empty one with rmdir"));
        }
    }
    match r.conn.delete_files(r.share(), &path, a.recursive).await {
        Ok(()) => {}
        Err(e) if e.status() == Some(NtStatus::NO_SUCH_FILE) => {
            let mut f = Failure::new(Kind::NotFound, format!("nothing matches '{}'", r.target));
            if !a.recursive {
                f = f.hint("folders are only removed with -r");
            }
            return Err(f);
        }
        Err(e) => return Err(e.into()),
    }
    r.close().await
}

/// Where `dest` points, as a path in the share of `src`: a full target on
/// the same share, a path from the share's root (`/…`), or a path beside
/// the source.
fn dest_path(src: &Target, dest: &str) -> CmdResult<(String, bool)> {
    if dest.starts_with("smb://") || dest.starts_with("\\\\") || dest.starts_with("//") {
        let d = Target::parse(dest)?;
        let same_share = d.host.eq_ignore_ascii_case(&src.host)
            && d.share.as_deref().map(str::to_lowercase)
                == src.share.as_deref().map(str::to_lowercase);
        if !same_share {
            return Err(Failure::usage(
                "mv moves within one share; to copy between shares or servers, get and put",
            ));
        }
        return Ok((d.path, d.trailing_slash));
    }
    let slash = dest.ends_with(['/', '\\']);
    if dest.starts_with(['/', '\\']) {
        Ok((normalize(dest), slash))
    } else {
        let (parent, _) = split_last(&src.path);
        Ok((join(parent, &normalize(dest)), slash))
    }
}

/// `smbkit mv`: renames or moves within the share; into DEST when DEST is
/// an existing folder.
pub async fn mv(opts: &GlobalOpts, a: &MvArgs) -> CmdResult {
    let src = Target::parse(&a.source)?;
    crate::session::share(&src)?;
    if src.path.is_empty() {
        return Err(Failure::usage("a share's root cannot be moved"));
    }
    let (mut dest, must_be_dir) = dest_path(&src, &a.dest)?;
    let r = Remote::open_share(opts, &a.source).await?;
    let (_, name) = split_last(&src.path);
    let into = if dest.is_empty() {
        true
    } else {
        match r.conn.get_attributes(r.share(), &dest).await {
            Ok(f) => f.is_directory() && dest != src.path,
            Err(e) if e.status().is_some_and(is_not_found) => {
                if must_be_dir {
                    return Err(Failure::new(
                        Kind::NotFound,
                        format!("the folder '{}' does not exist", src.url_of(&dest)),
                    ));
                }
                false
            }
            Err(e) => return Err(e.into()),
        }
    };
    if into {
        dest = join(&dest, name);
    }
    r.conn.rename(r.share(), &src.path, &dest).await?;
    if opts.verbose > 0 {
        eprintln!("moved /{} to /{dest}", src.path);
    }
    r.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let src = Target::parse("smb://u@h/s/dir/a.txt").unwrap();
        assert_eq!(
            dest_path(&src, "b.txt").unwrap(),
            ("dir/b.txt".into(), false)
        );
        assert_eq!(dest_path(&src, "/top/").unwrap(), ("top".into(), true));
        assert_eq!(
            dest_path(&src, "smb://u@H/S/x/y").unwrap(),
            ("x/y".into(), false)
        );
        assert!(dest_path(&src, "smb://u@h/other/x").is_err());
    }
}
