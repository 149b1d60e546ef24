//! What a test server has open, from its own tables: `smbstatus --json`
//! run against the server's `smb.conf` (and so its private lock directory),
//! parsed into [`OpenFile`]s and [`TreeConnect`]s.
//!
//! `smbstatus -L` lists smbd's share-mode database (`locking.tdb`): one
//! entry per open of a file or folder, held until the client closes the
//! handle or its connection ends. Opens of named pipes (IPC$) are not in
//! it. `smbstatus -S` lists the tree connects (`smbXsrv_tcon_global.tdb`).
//! The JSON output (`--json`) exists since Samba 4.16.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One open of a file or folder, as the server's open-file table (what
/// `smbstatus -L` lists) holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    /// The file's local path: [`share_path`](Self::share_path) joined with
    /// [`name`](Self::name).
    pub path: PathBuf,
    /// The name of the share it was opened through, when
    /// [`share_path`](Self::share_path) is the folder of one of the
    /// server's shares (several shares on one folder: the first in
    /// `smb.conf`).
    pub share: Option<String>,
    /// The local folder of the share it was opened through (smbstatus's
    /// `service_path`).
    pub share_path: PathBuf,
    /// The path within the share, with `/` separators; `.` for the share's
    /// root folder.
    pub name: String,
    /// The smbd process holding the open: the one serving the client's
    /// connection.
    pub pid: u32,
    /// The unix uid the file was opened as.
    pub uid: u32,
    /// smbd's number for this open, unique within its process.
    pub share_file_id: u64,
    /// The access granted to the open (FILE_READ_DATA = 0x1, …;
    /// MS-SMB2 §2.2.13.1).
    pub access_mask: u32,
    /// What the open lets others do at the same time (FILE_SHARE_READ = 1,
    /// FILE_SHARE_WRITE = 2, FILE_SHARE_DELETE = 4; MS-SMB2 §2.2.13).
    pub share_access: u32,
    /// The caching the open's oplock or lease grants, as letters (`R`, `W`,
    /// `H`); empty for none.
    pub caching: String,
    /// When it was opened, as smbstatus prints it (RFC 3339).
    pub opened_at: String,
}

/// One tree connect (a session's connection to a share), as `smbstatus -S`
/// lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnect {
    /// The share's name.
    pub share: String,
    /// The smbd process serving the connection.
    pub pid: u32,
    /// The tree id the server gave the client (TreeId; over SMB1 the TID
    /// is its low 16 bits).
    pub tree_id: u32,
    /// The id of the session the tree belongs to (the low 32 bits of the
    /// SMB2 SessionId, or the SMB1 UID).
    pub session_id: u32,
    /// The client's address as smbd saw it.
    pub machine: String,
    /// When the tree was connected (RFC 3339).
    pub connected_at: String,
}

/// The opens of `smbstatus -L --json` output. `shares` maps share folders to
/// share names (first match wins).
pub(crate) fn parse_open_files(
    json: &str,
    shares: &[(String, PathBuf)],
) -> Result<Vec<OpenFile>, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let files = root
        .get("open_files")
        .and_then(Value::as_object)
        .ok_or("no \"open_files\" object")?;
    let mut out = Vec::new();
    for (path, file) in files {
        let share_path = PathBuf::from(text(file, "service_path")?);
        let name = text(file, "filename")?.to_string();
        let share = shares
            .iter()
            .find(|(_, p)| same_folder(p, &share_path))
            .map(|(n, _)| n.clone());
        let opens = file
            .get("opens")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{path}: no \"opens\" object"))?;
        for (key, open) in opens {
            let at = |e: String| format!("{path}, open {key}: {e}");
            let server = open
                .get("server_id")
                .ok_or_else(|| at("no server_id".into()))?;
            out.push(OpenFile {
                path: PathBuf::from(path),
                share: share.clone(),
                share_path: share_path.clone(),
                name: name.clone(),
                pid: number(server, "pid").map_err(at)?,
                uid: number(open, "uid").map_err(at)?,
                share_file_id: number(open, "share_file_id").map_err(at)?,
                access_mask: hex(open, "access_mask").map_err(at)?,
                share_access: hex(open, "sharemode").map_err(at)?,
                caching: open
                    .get("caching")
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                opened_at: text(open, "opened_at").map_err(at)?.to_string(),
            });
        }
    }
    out.sort_by(|a, b| (&a.path, a.pid, a.share_file_id).cmp(&(&b.path, b.pid, b.share_file_id)));
    Ok(out)
}

/// The tree connects of `smbstatus -S --json` output.
pub(crate) fn parse_tree_connects(json: &str) -> Result<Vec<TreeConnect>, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let tcons = root
        .get("tcons")
        .and_then(Value::as_object)
        .ok_or("no \"tcons\" object")?;
    let mut out = Vec::new();
    for (key, t) in tcons {
        let at = |e: String| format!("tree connect {key}: {e}");
        let server = t
            .get("server_id")
            .ok_or_else(|| at("no server_id".into()))?;
        out.push(TreeConnect {
            share: text(t, "service").map_err(at)?.to_string(),
            pid: number(server, "pid").map_err(at)?,
            tree_id: number(t, "tcon_id").map_err(at)?,
            session_id: number(t, "session_id").map_err(at)?,
            machine: text(t, "machine").map_err(at)?.to_string(),
            connected_at: text(t, "connected_at").map_err(at)?.to_string(),
        });
    }
    out.sort_by_key(|a| (a.pid, a.tree_id));
    Ok(out)
}

/// The share sections of an `smb.conf` and their `path`s, in file order.
pub(crate) fn share_folders(conf: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for line in conf.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            section = (!name.eq_ignore_ascii_case("global")).then(|| name.to_string());
            continue;
        }
        let Some(name) = &section else { continue };
        if let Some((key, value)) = line.split_once('=') {
            if key.trim().eq_ignore_ascii_case("path") {
                out.push((name.clone(), PathBuf::from(value.trim())));
            }
        }
    }
    out
}

/// Whether two folder paths name the same folder, trailing separators aside.
fn same_folder(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no string \"{key}\""))
}

/// A number smbstatus writes as a JSON number or as a decimal string.
fn number<T: TryFrom<u64>>(v: &Value, key: &str) -> Result<T, String> {
    let n = match v.get(key) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("no number \"{key}\""))?;
    T::try_from(n).map_err(|_| format!("\"{key}\" out of range: {n}"))
}

/// The `"hex": "0x…"` member of the object `key`.
fn hex(v: &Value, key: &str) -> Result<u32, String> {
    let s = v
        .get(key)
        .and_then(|o| o.get("hex"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no \"{key}\".\"hex\""))?;
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u32::from_str_radix(digits, 16).map_err(|_| format!("\"{key}\": bad hex {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `smbstatus -L --json` of Samba 4.17 with one file held open by a
    /// client (whitespace added).
    const ONE_OPEN: &str = r#"{"timestamp": "2026-12-06T07:20:38.901984+0000",
      "version": "4.17.12-Debian", "smb_conf": "/tmp/s/smb.conf",
      "open_files": {"/tmp/s/share/sub dir/a b.txt": {
        "service_path": "/tmp/s/share", "filename": "sub dir/a b.txt",
        "fileid": {"devid": 65024, "inode": 10027107, "extid": 0},
        "num_pending_deletes": 0,
        "opens": {"15127/2": {
          "server_id": {"pid": "15127", "task_id": "0", "vnn": "4294967295",
                        "unique_id": "11087561678599616496"},
          "uid": 1001, "share_file_id": "2",
          "sharemode": {"hex": "0x00000003", "READ": true, "WRITE": true,
                        "DELETE": false, "text": "RW"},
          "access_mask": {"hex": "0x00000003", "READ_DATA": true, "text": "RW"},
          "caching": {"READ": false, "WRITE": false, "HANDLE": false,
                      "hex": "0x00000000", "text": ""},
          "oplock": {}, "lease": {},
          "opened_at": "2026-12-06T07:20:37.409445+00:00"}}}}}"#;

    /// `smbstatus -S --json` of Samba 4.17 with one tree connect.
    const ONE_TCON: &str = r#"{"timestamp": "2026-12-06T07:20:39.013957+0000",
      "version": "4.17.12-Debian", "smb_conf": "/tmp/s/smb.conf",
      "tcons": {"1830551679": {"service": "share",
        "server_id": {"pid": "15127", "task_id": "0", "vnn": "4294967295",
                      "unique_id": "11087561678599616496"},
        "tcon_id": "1830551679", "session_id": "3988861098",
        "machine": "127.0.0.1",
        "connected_at": "2026-12-06T07:20:37.408996+00:00",
        "encryption": {"cipher": "-", "degree": "none"},
        "signing": {"cipher": "-", "degree": "none"}}}}"#;

    #[test]
    fn an_open_file_is_parsed() {
        let shares = vec![
            ("readonly".to_string(), PathBuf::from("/tmp/s/ro")),
            ("share".to_string(), PathBuf::from("/tmp/s/share/")),
        ];
        let files = parse_open_files(ONE_OPEN, &shares).unwrap();
        assert_eq!(
            files,
            [OpenFile {
                path: "/tmp/s/share/sub dir/a b.txt".into(),
                share: Some("share".into()),
                share_path: "/tmp/s/share".into(),
                name: "sub dir/a b.txt".into(),
                pid: 15127,
                uid: 1001,
                share_file_id: 2,
                access_mask: 3,
                share_access: 3,
                caching: String::new(),
                opened_at: "2026-12-06T07:20:37.409445+00:00".into(),
            }]
        );
        assert_eq!(parse_open_files(ONE_OPEN, &[]).unwrap()[0].share, None);
    }

    #[test]
    fn nothing_open_is_an_empty_list_and_garbage_an_error() {
        let none = r#"{"timestamp": "x", "open_files": {}}"#;
        assert_eq!(parse_open_files(none, &[]).unwrap(), []);
        // What smbstatus prints (with exit status 0) for a configuration it
        // cannot load.
        let unloaded = r#"{"timestamp": "x", "smb_conf": "/nonexistent/smb.conf"}"#;
        assert!(parse_open_files(unloaded, &[]).is_err());
        assert!(parse_open_files("No locked files", &[]).is_err());
        let bad_hex = ONE_OPEN.replace("\"0x00000003\", \"READ\"", "\"0xZZ\", \"READ\"");
        assert!(parse_open_files(&bad_hex, &[])
            .unwrap_err()
            .contains("bad hex"));
        let no_pid = ONE_OPEN.replace("\"pid\": \"15127\"", "\"pid\": \"x\"");
        assert!(parse_open_files(&no_pid, &[]).is_err());
    }

    #[test]
    fn a_tree_connect_is_parsed() {
        let t = parse_tree_connects(ONE_TCON).unwrap();
        assert_eq!(
            t,
            [TreeConnect {
                share: "share".into(),
                pid: 15127,
                tree_id: 1_830_551_679,
                session_id: 3_988_861_098,
                machine: "127.0.0.1".into(),
                connected_at: "2026-12-06T07:20:37.408996+00:00".into(),
            }]
        );
        assert_eq!(parse_tree_connects(r#"{"tcons": {}}"#).unwrap(), []);
        assert!(parse_tree_connects(r#"{"timestamp": "x"}"#).is_err());
    }

    #[test]
    fn share_folders_come_from_the_sections() {
        let conf = "[global]\n\tpath = /not/a/share\n\tworkgroup = W\n[share]\n\tpath = /s\n\
                    \tread only = no\n[ro]\n\tPath=/r\n# [comment]\n";
        assert_eq!(
            share_folders(conf),
            [
                ("share".to_string(), PathBuf::from("/s")),
                ("ro".to_string(), PathBuf::from("/r"))
            ]
        );
    }
}
