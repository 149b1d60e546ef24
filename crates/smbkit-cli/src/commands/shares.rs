//! `shares`: the server's shares.

use serde_json::json;
use smbkit::ShareType;

use crate::args::{GlobalOpts, SharesArgs};
use crate::commands::Remote;
use crate::error::CmdResult;
use crate::output::{print, print_json};

fn type_name(t: ShareType) -> String {
    match t {
        ShareType::Disk => "disk".into(),
        ShareType::Printer => "printer".into(),
        ShareType::CommDevice => "device".into(),
        ShareType::Ipc => "ipc".into(),
        ShareType::Other(n) => format!("type {n}"),
        _ => "other".into(),
    }
}

/// `smbkit shares`: a table of name, type and comment (special shares
/// marked), or JSON.
pub async fn shares(opts: &GlobalOpts, a: &SharesArgs) -> CmdResult {
    let r = Remote::open(opts, &a.target).await?;
    let list = r.conn.list_shares().await?;
    if a.json {
        let v: Vec<_> = list
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "type": type_name(s.share_type),
                    "comment": s.comments,
                    "special": s.is_special,
                    "temporary": s.is_temporary,
                })
            })
            .collect();
        print_json(&serde_json::Value::Array(v))?;
    } else {
        let width = list
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut out = format!("{:<width$}  {:<8} COMMENT\n", "SHARE", "TYPE");
        for s in &list {
            let mut t = type_name(s.share_type);
            if s.is_special {
                t.push('*');
            }
            out.push_str(&format!("{:<width$}  {:<8} {}\n", s.name, t, s.comments));
        }
        print(&out)?;
        if list.iter().any(|s| s.is_special) && !opts.quiet {
            eprintln!("(* administrative share)");
        }
    }
    r.close().await
}
