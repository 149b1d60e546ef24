//! `watch`: a folder's changes, one line each, as they happen.

use serde_json::{json, Value};
use smbkit::{Change, WatchOptions};

use crate::args::{GlobalOpts, WatchArgs, WatchFilter};
use crate::commands::Remote;
use crate::error::CmdResult;
use crate::output::print;

/// The JSON line of a change.
fn change_json(c: &Change) -> Value {
    match c {
        Change::Added(p) => json!({"change": "added", "path": p}),
        Change::Removed(p) => json!({"change": "removed", "path": p}),
        Change::Modified(p) => json!({"change": "modified", "path": p}),
        Change::Renamed { from, to } => json!({"change": "renamed", "from": from, "to": to}),
        Change::RenamedFrom(p) => json!({"change": "renamed_from", "path": p}),
        Change::RenamedTo(p) => json!({"change": "renamed_to", "path": p}),
        Change::Other { action, path } => json!({
            "change": "other",
            "action": action.name().map_or_else(|| format!("{:#x}", action.0), str::to_string),
            "path": path,
        }),
        Change::Overflow => json!({"change": "overflow"}),
        other => json!({"change": other.to_string()}),
    }
}

/// The line printed for a change.
fn line(c: &Change, json: bool) -> String {
    if json {
        format!("{}\n", change_json(c))
    } else {
        format!("{c}\n")
    }
}

/// `smbkit watch`: prints the folder's changes until interrupted or until
/// `--count` of them.
pub async fn watch(opts: &GlobalOpts, a: &WatchArgs) -> CmdResult {
    let r = Remote::open_share_with(opts, &a.target, a.policy()).await?;
    let options = WatchOptions {
        recursive: a.recursive,
        filter: WatchFilter::combine(&a.filter),
        buffer_size: a.buffer,
    };
    let mut w = r.conn.watch(r.share(), r.path(), options).await?;
    if !opts.quiet {
        crate::progress::message(&format!(
            "watching {}{} (Ctrl-C to stop)",
            r.target,
            if a.recursive { " and below" } else { "" }
        ));
    }
    let mut printed = 0u64;
    while a.count.is_none_or(|n| printed < n) {
        let Some(c) = w.next_change().await? else {
            break;
        };
        print(&line(&c, a.json))?;
        printed += 1;
    }
    w.close().await?;
    r.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_lines() {
        let renamed = Change::Renamed {
            from: "a".into(),
            to: "sub/b".into(),
        };
        assert_eq!(line(&renamed, false), "renamed a -> sub/b\n");
        assert_eq!(
            line(&renamed, true),
            "{\"change\":\"renamed\",\"from\":\"a\",\"to\":\"sub/b\"}\n"
        );
        assert_eq!(
            line(&Change::Overflow, false),
            "overflow: enumerate again\n"
        );
        assert_eq!(line(&Change::Overflow, true), "{\"change\":\"overflow\"}\n");
        assert_eq!(line(&Change::Added("x y".into()), false), "added x y\n");
        assert_eq!(
            change_json(&Change::Other {
                action: smbkit::FileAction::ADDED_STREAM,
                path: "f:s".into()
            }),
            json!({"change": "other", "action": "ADDED_STREAM", "path": "f:s"})
        );
    }
}
