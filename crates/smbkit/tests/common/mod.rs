//! Expectations about the test server's shares and snapshots that the
//! SMB2 and SMB1 share tests both check.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smbkit::{ShareType, SharedDevice};
use smbkit_testserver::{Profile, SNAPSHOTS};

/// 2024-01-01T00:00:00Z and 2024-06-30T12:30:00Z.
const JAN_1: u64 = 1_704_067_200;
const JUN_30: u64 = JAN_1 + 181 * 86_400 + 12 * 3600 + 30 * 60;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The harness's snapshots, in its (and the server's, `shadow:sort = desc`)
/// order: newest first.
pub fn expected_snapshots() -> Vec<SystemTime> {
    assert_eq!(
        SNAPSHOTS,
        ["@GMT-2024.06.30-12.30.00", "@GMT-2024.01.01-00.00.00"],
        "the harness's snapshots changed"
    );
    vec![at(JUN_30), at(JAN_1)]
}

/// Checks the listing against the harness's smb.conf: four disk shares
/// without comments and IPC$, whose comment Samba derives from
/// `server string = smbkit test server (<profile>)`.
pub fn check_shares(shares: &[SharedDevice], profile: Profile) {
    let by_name: BTreeMap<&str, &SharedDevice> =
        shares.iter().map(|s| (s.name.as_str(), s)).collect();
    assert_eq!(by_name.len(), shares.len(), "duplicate names: {shares:#?}");
    let names: Vec<&str> = by_name.keys().copied().collect();
    assert_eq!(
        names,
        ["IPC$", "encrypted", "readonly", "share", "snapshots"],
        "{shares:#?}"
    );
    for name in ["share", "readonly", "snapshots", "encrypted"] {
        let s = by_name[name];
        assert_eq!(s.share_type, ShareType::Disk, "{s:?}");
        assert!(!s.is_special && !s.is_temporary, "{s:?}");
        assert_eq!(s.raw_type, 0, "{s:?}");
        assert_eq!(s.comments, "", "{s:?}");
    }
    let ipc = by_name["IPC$"];
    assert_eq!(ipc.share_type, ShareType::Ipc, "{ipc:?}");
    assert!(ipc.is_special && !ipc.is_temporary, "{ipc:?}");
    assert_eq!(ipc.raw_type, 0x8000_0003, "{ipc:?}");
    assert_eq!(
        ipc.comments,
        format!("IPC Service (smbkit test server ({profile}))"),
        "{ipc:?}"
    );
}
