//! `ls` (a folder, a file, or what a wildcard matches) and `stat`.

use serde_json::Value;
use smbkit::{NtStatus, SharedFile, DEFAULT_SEARCH};

use crate::args::{GlobalOpts, LsArgs, StatArgs};
use crate::commands::Remote;
use crate::error::{CmdResult, Failure, Kind};
use crate::output::{
    attribute_letters, attribute_names, file_json, file_time, human_size, human_time, print,
    print_json, short_time, HIDDEN, SYSTEM,
};
use crate::target::{has_wildcard, join, split_last};

/// The entries `path` stands for: the folder's contents, the files a
/// wildcard in its last part matches, or the file itself; each with its
/// share-relative path. `.` and `..` are left out.
pub async fn entries(r: &Remote, path: &str) -> CmdResult<Vec<(SharedFile, String)>> {
    let share = r.share();
    let (dir, last) = split_last(path);
    let (list, base) = if has_wildcard(last) {
        (
            r.conn
                .list_path_with(share, dir, DEFAULT_SEARCH, last)
                .await?,
            dir,
        )
    } else {
        match r.conn.list_path(share, path).await {
            Ok(list) => (list, path),
            Err(e) if e.status() == Some(NtStatus::NOT_A_DIRECTORY) => {
                let f = r.conn.get_attributes(share, path).await?;
                return Ok(vec![(f, path.to_string())]);
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut v: Vec<(SharedFile, String)> = list
        .into_iter()
        .filter(|f| f.filename != "." && f.filename != "..")
        .map(|f| {
            let p = join(base, &f.filename);
            (f, p)
        })
        .collect();
    v.sort_by(|a, b| {
        a.0.filename
            .to_lowercase()
            .cmp(&b.0.filename.to_lowercase())
            .then_with(|| a.0.filename.cmp(&b.0.filename))
    });
    Ok(v)
}

/// `smbkit ls`: names (folders with a trailing `/`), a long listing, or JSON.
pub async fn ls(opts: &GlobalOpts, a: &LsArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    let mut list = entries(&r, r.path()).await?;
    if list.is_empty() && has_wildcard(split_last(r.path()).1) {
        return Err(Failure::new(
            Kind::NotFound,
            format!("nothing matches '{}'", r.target),
        ));
    }
    if !a.all {
        list.retain(|(f, _)| f.file_attributes & (HIDDEN | SYSTEM) == 0);
    }
    if a.json {
        let v: Vec<Value> = list.iter().map(|(f, p)| file_json(f, p)).collect();
        print_json(&Value::Array(v))?;
    } else if a.long {
        let width = list
            .iter()
            .map(|(f, _)| f.file_size.to_string().len())
            .max()
            .unwrap_or(1);
        let mut out = String::new();
        for (f, _) in &list {
            out.push_str(&format!(
                "{} {:>width$} {} {}{}\n",
                attribute_letters(f.file_attributes),
                f.file_size,
                short_time(file_time(f.last_write_time)),
                f.filename,
                if f.is_directory() { "/" } else { "" }
            ));
        }
        print(&out)?;
    } else {
        let mut out = String::new();
        for (f, _) in &list {
            out.push_str(&f.filename);
            if f.is_directory() {
                out.push('/');
            }
            out.push('\n');
        }
        print(&out)?;
    }
    r.close().await
}

/// `smbkit stat`: one file's or folder's details, or JSON.
pub async fn stat(opts: &GlobalOpts, a: &StatArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    let f = r.conn.get_attributes(r.share(), r.path()).await?;
    if a.json {
        print_json(&file_json(&f, r.path()))?;
    } else {
        let time = |secs: f64| file_time(secs).map(human_time).unwrap_or("-".into());
        let name = if r.path().is_empty() {
            "(the share's root)".to_string()
        } else {
            f.filename.clone()
        };
        let mut out = String::new();
        let mut line = |label: &str, value: String| {
            out.push_str(&format!("{:<12}{value}\n", format!("{label}:")));
        };
        line("name", name);
        line("share", r.share().to_string());
        line("path", format!("/{}", r.path()));
        line(
            "type",
            if f.is_directory() {
                "directory"
            } else {
                "file"
            }
            .into(),
        );
        line(
            "size",
            format!("{} ({})", f.file_size, human_size(f.file_size)),
        );
        line("allocated", f.alloc_size.to_string());
        let names = attribute_names(f.file_attributes);
        line(
            "attributes",
            format!(
                "{} (0x{:08x})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(" ")
                },
                f.file_attributes
            ),
        );
        line("created", time(f.create_time));
        line("modified", time(f.last_write_time));
        line("accessed", time(f.last_access_time));
        line("changed", time(f.last_attr_change_time));
        if f.file_id != 0 {
            line("file id", f.file_id.to_string());
        }
        if !f.short_name.is_empty() {
            line("short name", f.short_name.clone());
        }
        print(&out)?;
    }
    r.close().await
}
