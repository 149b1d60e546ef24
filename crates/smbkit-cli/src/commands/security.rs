//! `security` (owner, group and ACL) and `snapshots` (previous versions).

use serde_json::{json, Value};
use smbkit::{Ace, Acl, NtStatus, Sid};

use crate::args::{GlobalOpts, SecurityArgs, SnapshotsArgs};
use crate::commands::Remote;
use crate::error::{CmdResult, Failure, Kind};
use crate::output::{gmt_token, human_time, print, print_json, rfc3339};

/// SE_DACL_PRESENT: with no DACL, a NULL DACL (everyone has full access).
const SE_DACL_PRESENT: u16 = 0x0004;

/// A SID with its name when it has a well-known one (`S-1-1-0
/// (Everyone)`), including Samba's Unix users and groups (S-1-22-1-uid,
/// S-1-22-2-gid).
fn sid_text(sid: &Sid) -> String {
    let name = sid.well_known_name().map(str::to_string).or_else(|| {
        match (sid.authority(), sid.sub_authorities.as_slice()) {
            (22, [1, id]) => Some(format!("Unix user {id}")),
            (22, [2, id]) => Some(format!("Unix group {id}")),
            _ => None,
        }
    });
    match name {
        Some(n) => format!("{sid} ({n})"),
        None => sid.to_string(),
    }
}

/// The file access rights (MS-DTYP §2.4.3, MS-SMB2 §2.2.13.1.1) and the
/// names printed for them.
const RIGHTS: [(u32, &str); 19] = [
    (0x0000_0001, "READ_DATA"),
    (0x0000_0002, "WRITE_DATA"),
    (0x0000_0004, "APPEND_DATA"),
    (0x0000_0008, "READ_EA"),
    (0x0000_0010, "WRITE_EA"),
    (0x0000_0020, "EXECUTE"),
    (0x0000_0040, "DELETE_CHILD"),
    (0x0000_0080, "READ_ATTRIBUTES"),
    (0x0000_0100, "WRITE_ATTRIBUTES"),
    (0x0001_0000, "DELETE"),
    (0x0002_0000, "READ_CONTROL"),
    (0x0004_0000, "WRITE_DAC"),
    (0x0008_0000, "WRITE_OWNER"),
    (0x0010_0000, "SYNCHRONIZE"),
    (0x0100_0000, "ACCESS_SYSTEM_SECURITY"),
    (0x1000_0000, "GENERIC_ALL"),
    (0x2000_0000, "GENERIC_EXECUTE"),
    (0x4000_0000, "GENERIC_WRITE"),
    (0x8000_0000, "GENERIC_READ"),
];

/// The usual combinations, as Windows' security dialogs name them.
const FULL: u32 = 0x001F_01FF;
const COMBINATIONS: [(u32, &str); 5] = [
    (FULL, "FULL"),
    (0x0013_01BF, "MODIFY"),
    (0x0012_00A9, "READ_EXECUTE"),
    (0x0012_0089, "READ"),
    (0x0012_0116, "WRITE"),
];

fn bit_names(mask: u32) -> Vec<String> {
    let mut v: Vec<String> = RIGHTS
        .iter()
        .filter(|(b, _)| mask & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let unknown = RIGHTS.iter().fold(mask, |m, (b, _)| m & !b);
    if unknown != 0 {
        v.push(format!("0x{unknown:x}"));
    }
    v
}

/// An access mask in words: a combination's name (`FULL`, `READ`…),
/// `FULL except …` when only a few rights are missing, else the
/// combinations it holds and the other rights, with the mask in hex.
pub fn rights_text(mask: u32) -> String {
    if let Some((_, n)) = COMBINATIONS.iter().find(|(m, _)| *m == mask) {
        return n.to_string();
    }
    let missing = FULL & !mask;
    if mask & !FULL == 0 && mask & FULL != 0 && missing.count_ones() <= 3 {
        return format!(
            "FULL except {} (0x{mask:08x})",
            bit_names(missing).join("|")
        );
    }
    let mut parts = Vec::new();
    let mut covered = 0;
    for (m, n) in &COMBINATIONS[1..] {
        if mask & m == *m && m & !covered != 0 {
            parts.push(n.to_string());
            covered |= m;
        }
    }
    parts.extend(bit_names(mask & !covered));
    if parts.is_empty() {
        parts.push("none".into());
    }
    format!("{} (0x{mask:08x})", parts.join("|"))
}

/// The inheritance flags as icacls writes them: (OI)(CI)(IO)(NP)(I).
fn flags_text(flags: u8) -> String {
    [
        (0x01, "(OI)"),
        (0x02, "(CI)"),
        (0x08, "(IO)"),
        (0x04, "(NP)"),
        (0x10, "(I)"),
        (0x40, "(SA)"),
        (0x80, "(FA)"),
    ]
    .iter()
    .filter(|(b, _)| flags & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

/// One ACE on one line: `ALLOWED  S-1-1-0 (Everyone): READ (OI)(CI)`.
fn ace_text(ace: &Ace) -> String {
    let kind = match ace.ace_type {
        0 => "ALLOWED",
        1 => "DENIED",
        2 => "AUDIT",
        _ => return ace.to_string(),
    };
    let Some(sid) = &ace.sid else {
        return ace.to_string();
    };
    let flags = flags_text(ace.ace_flags);
    format!(
        "{kind:<8} {}: {}{}{flags}",
        sid_text(sid),
        rights_text(ace.access_mask),
        if flags.is_empty() { "" } else { " " }
    )
}

fn acl_lines(out: &mut String, acl: &Acl) -> bool {
    if acl.aces.is_empty() {
        out.push_str("  (no entries: nobody has access)\n");
    }
    for ace in &acl.aces {
        out.push_str("  ");
        out.push_str(&ace_text(ace));
        out.push('\n');
    }
    acl.aces.iter().any(|a| a.ace_flags & 0x1f != 0)
}

/// `smbkit security`: owner, group and DACL, one ACE a line.
pub async fn security(opts: &GlobalOpts, a: &SecurityArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    let sd = r.conn.get_security(r.share(), r.path()).await?;
    let mut out = String::new();
    let none = || "(none)".to_string();
    out.push_str(&format!(
        "owner: {}\n",
        sd.owner.as_ref().map(sid_text).unwrap_or_else(none)
    ));
    out.push_str(&format!(
        "group: {}\n",
        sd.group.as_ref().map(sid_text).unwrap_or_else(none)
    ));
    let mut inheritance = false;
    match &sd.dacl {
        Some(dacl) => {
            out.push_str("dacl:\n");
            inheritance |= acl_lines(&mut out, dacl);
        }
        None if sd.control & SE_DACL_PRESENT != 0 => {
            out.push_str("dacl: NULL (everyone has full access)\n");
        }
        None => out.push_str("dacl: (not given)\n"),
    }
    if let Some(sacl) = &sd.sacl {
        out.push_str("sacl:\n");
        inheritance |= acl_lines(&mut out, sacl);
    }
    if inheritance {
        out.push_str(
            "(OI) files inherit it, (CI) subfolders inherit it, (IO) inherit only, \
             (NP) not passed further down, (I) inherited\n",
        );
    }
    print(&out)?;
    r.close().await
}

/// `smbkit snapshots`: each snapshot's time and its `@GMT-` token, or JSON.
pub async fn snapshots(opts: &GlobalOpts, a: &SnapshotsArgs) -> CmdResult {
    let r = Remote::open_share(opts, &a.target).await?;
    let list = match r.conn.list_snapshots(r.share(), r.path()).await {
        Ok(v) => v,
        Err(e)
            if matches!(
                e.status(),
                Some(NtStatus::INVALID_DEVICE_REQUEST | NtStatus::NOT_SUPPORTED)
            ) =>
        {
            return Err(Failure::new(
                Kind::Unsupported,
                format!("the share '{}' does not support snapshots", r.share()),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        let v: Vec<Value> = list
            .iter()
            .map(|t| json!({ "time": rfc3339(*t), "token": gmt_token(*t) }))
            .collect();
        print_json(&Value::Array(v))?;
    } else {
        let mut out = String::new();
        for t in &list {
            out.push_str(&format!("{}  {}\n", human_time(*t), gmt_token(*t)));
        }
        print(&out)?;
        if list.is_empty() && !opts.quiet {
            eprintln!("no snapshots");
        }
    }
    r.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_in_words() {
        assert_eq!(rights_text(0x001F_01FF), "FULL");
        assert_eq!(rights_text(0x0012_0089), "READ");
        assert_eq!(rights_text(0x001E_01FF), "FULL except DELETE (0x001e01ff)");
        assert_eq!(
            rights_text(0x0012_0089 | 0x0001_0000),
            "READ|DELETE (0x00130089)"
        );
        assert_eq!(rights_text(0x1000_0000), "GENERIC_ALL (0x10000000)");
        assert_eq!(flags_text(0x13), "(OI)(CI)(I)");
    }

    #[test]
    fn unix_sids_are_named() {
        let sid: Sid = "S-1-22-2-1001".parse().unwrap();
        assert_eq!(sid_text(&sid), "S-1-22-2-1001 (Unix group 1001)");
        let sid: Sid = "S-1-1-0".parse().unwrap();
        assert_eq!(sid_text(&sid), "S-1-1-0 (Everyone)");
    }
}
