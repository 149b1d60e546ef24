//! Formatting for listings and reports: times (UTC), sizes, attributes,
//! and the JSON form of files.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use smbkit::SharedFile;

use crate::error::{CmdResult, Failure, Kind};

/// FILE_ATTRIBUTE_* bits (MS-FSCC §2.6) and the names printed for them.
const ATTRIBUTE_NAMES: [(u32, &str); 13] = [
    (0x0001, "READONLY"),
    (0x0002, "HIDDEN"),
    (0x0004, "SYSTEM"),
    (0x0010, "DIRECTORY"),
    (0x0020, "ARCHIVE"),
    (0x0080, "NORMAL"),
    (0x0100, "TEMPORARY"),
    (0x0200, "SPARSE_FILE"),
    (0x0400, "REPARSE_POINT"),
    (0x0800, "COMPRESSED"),
    (0x1000, "OFFLINE"),
    (0x2000, "NOT_CONTENT_INDEXED"),
    (0x4000, "ENCRYPTED"),
];

/// FILE_ATTRIBUTE_HIDDEN.
pub const HIDDEN: u32 = 0x0002;
/// FILE_ATTRIBUTE_SYSTEM.
pub const SYSTEM: u32 = 0x0004;

/// The names of the attribute bits set in `attrs`.
pub fn attribute_names(attrs: u32) -> Vec<&'static str> {
    ATTRIBUTE_NAMES
        .iter()
        .filter(|(bit, _)| attrs & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Five letters for `ls -l`: `d` folder, `r` read-only, `h` hidden, `s`
/// system, `a` archive, `-` where unset.
pub fn attribute_letters(attrs: u32) -> String {
    [
        (0x0010, 'd'),
        (0x0001, 'r'),
        (0x0002, 'h'),
        (0x0004, 's'),
        (0x0020, 'a'),
    ]
    .iter()
    .map(|&(bit, c)| if attrs & bit != 0 { c } else { '-' })
    .collect()
}

/// Year, month, day, hour, minute, second (UTC) of seconds since the epoch.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Seconds since the epoch of a `SystemTime` (negative before 1970).
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

/// The Unix time of FILETIME 0 (1601-01-01): a time the server did not set.
const FILETIME_ZERO: f64 = -11_644_473_600.0;

/// A file time the server set, or `None` for FILETIME 0.
pub fn file_time(secs: f64) -> Option<SystemTime> {
    if !secs.is_finite() || secs <= FILETIME_ZERO + 1.0 {
        return None;
    }
    Some(if secs >= 0.0 {
        UNIX_EPOCH + Duration::from_secs_f64(secs)
    } else {
        UNIX_EPOCH - Duration::from_secs_f64(-secs)
    })
}

/// A FILETIME (100 ns units since 1601) as a `SystemTime`, `None` for 0.
pub fn from_filetime(ft: u64) -> Option<SystemTime> {
    (ft != 0)
        .then(|| file_time(ft as f64 / 1e7 + FILETIME_ZERO))
        .flatten()
}

/// `2024-06-30T12:30:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs(t));
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `2024-06-30 12:30:00 UTC`.
pub fn human_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs(t));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// `2024-06-30 12:30` for `ls -l`.
pub fn short_time(t: Option<SystemTime>) -> String {
    match t {
        Some(t) => {
            let (y, mo, d, h, mi, _) = civil(unix_secs(t));
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
        }
        None => format!("{:16}", "-"),
    }
}

/// The `@GMT-YYYY.MM.DD-HH.MM.SS` token that names a snapshot in paths.
pub fn gmt_token(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs(t));
    format!("@GMT-{y:04}.{mo:02}.{d:02}-{h:02}.{mi:02}.{s:02}")
}

/// `1.5 MiB`-style sizes.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The JSON form of a file or folder, `path` being its share-relative path.
///
/// Fields: `name`, `path`, `type` (`file` or `directory`), `size`,
/// `allocation_size`, `attributes` (names), `attributes_raw`, `created`,
/// `modified`, `accessed`, `changed` (RFC 3339 UTC, or null), `file_id`,
/// `short_name`.
pub fn file_json(f: &SharedFile, path: &str) -> Value {
    let t = |secs: f64| file_time(secs).map(rfc3339);
    json!({
        "name": f.filename,
        "path": path,
        "type": if f.is_directory() { "directory" } else { "file" },
        "size": f.file_size,
        "allocation_size": f.alloc_size,
        "attributes": attribute_names(f.file_attributes),
        "attributes_raw": f.file_attributes,
        "created": t(f.create_time),
        "modified": t(f.last_write_time),
        "accessed": t(f.last_access_time),
        "changed": t(f.last_attr_change_time),
        "file_id": f.file_id,
        "short_name": f.short_name,
    })
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) -> CmdResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(
            Kind::Other,
            format!("cannot write to standard output: {e}"),
        )),
    }
}

/// Writes `value` as pretty JSON and a newline to standard output.
pub fn print_json(value: &Value) -> CmdResult {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(Kind::Other, format!("cannot format JSON: {e}")))?;
    s.push('\n');
    print(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = UNIX_EPOCH + Duration::from_secs(1_719_750_600);
        assert_eq!(rfc3339(t), "2024-06-30T12:30:00Z");
        assert_eq!(human_time(t), "2024-06-30 12:30:00 UTC");
        assert_eq!(gmt_token(t), "@GMT-2024.06.30-12.30.00");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(86_400)),
            "1969-12-31T00:00:00Z"
        );
        assert_eq!(file_time(FILETIME_ZERO), None);
        assert_eq!(from_filetime(0), None);
        assert_eq!(
            from_filetime(116_444_736_000_000_000).map(rfc3339),
            Some("1970-01-01T00:00:00Z".into())
        );
    }

    #[test]
    fn sizes_and_attributes() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(attribute_letters(0x10), "d----");
        assert_eq!(attribute_letters(0x21), "-r--a");
        assert_eq!(attribute_names(0x12), vec!["HIDDEN", "DIRECTORY"]);
    }
}
