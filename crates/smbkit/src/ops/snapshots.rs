//! Snapshots (previous versions, shadow copies; the reference's
//! `listSnapshots`): FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB2 §2.2.31,
//! §2.2.32.2, §3.3.5.15.1; MS-SMB §2.2.7.2), written once over the
//! family's path queries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smbkit_proto::fscc;
use smbkit_proto::smb2::create::{access_mask, create_disposition};
use smbkit_proto::NtStatus;

use super::names::smb_path;
use super::{timed_again, Ctx};
use crate::error::{failure, BadAnswer, Error, ProtocolError};
use crate::family::{OpenSpec, PathQuery};

/// The most FSCTL_SRV_ENUMERATE_SNAPSHOTS round trips one listing makes.
const SNAPSHOT_ATTEMPTS: usize = 4;

/// The output room of the first FSCTL_SRV_ENUMERATE_SNAPSHOTS: the counts
/// only, the least MS-SMB2 §3.3.5.15.1 allows (MS-SMB §2.2.7.2.1: at least
/// 0x000C; Samba wants 16).
const SNAPSHOT_FIRST_OUTPUT: u32 = 16;

/// Extra room asked for beyond the SnapShotArraySize the server reported,
/// in case a snapshot appears between two requests.
const SNAPSHOT_SLACK: u32 = 128;

/// The snapshots of `path`, as UTC times in the server's order.
pub(crate) async fn list_snapshots(
    ctx: &Ctx,
    share: &str,
    path: &str,
) -> Result<Vec<SystemTime>, Error> {
    timed_again(ctx, |deadline| async move {
        let path = smb_path(path)?;
        let tree = ctx.tree(share, deadline).await?;
        let spec = OpenSpec::new(
            access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            0,
        );
        let family = ctx.family();
        let q = family
            .path_query(tree, share, &path, spec, "list_snapshots", deadline)
            .await?;
        // On an error, dropping the query hands what it holds open to the
        // connection to close.
        let snapshots = enumerate(ctx, &q, share, &path, deadline).await?;
        q.finish(deadline).await?;
        Ok(snapshots)
    })
    .await
}

/// FSCTL_SRV_ENUMERATE_SNAPSHOTS, first with room for the counts, then
/// with room for the whole array.
async fn enumerate(
    ctx: &Ctx,
    q: &PathQuery<'_>,
    share: &str,
    path: &str,
    deadline: tokio::time::Instant,
) -> Result<Vec<SystemTime>, Error> {
    let cap = ctx.family().query_limits().fsctl_max;
    let mut out_len = SNAPSHOT_FIRST_OUTPUT;
    for _ in 0..SNAPSHOT_ATTEMPTS {
        let r = q.enumerate_snapshots(out_len, deadline).await?;
        if r.status == NtStatus::BUFFER_TOO_SMALL && out_len < cap {
            // Not what MS-SMB2 §3.3.5.15.1 prescribes (success with
            // NumberOfSnapShotsReturned 0), but say so politely: ask for
            // more room.
            out_len = out_len.saturating_mul(16).clamp(4096.min(cap), cap);
            continue;
        }
        if r.status != NtStatus::SUCCESS {
            return Err(failure("list_snapshots", share, path, r.status));
        }
        if r.data.len() > out_len as usize {
            return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                what: "FSCTL_SRV_ENUMERATE_SNAPSHOTS",
                got: r.data.len() as u64,
                asked: u64::from(out_len),
            })
            .into());
        }
        let array = fscc::parse_snapshot_array(&r.data)
            .map_err(|e| ProtocolError::decode("SRV_SNAPSHOT_ARRAY", e))?;
        if array.number_returned >= array.number_of_snapshots {
            return array.snapshots.iter().map(|t| snapshot_time(t)).collect();
        }
        let needed = array
            .array_size
            .saturating_add(12)
            .saturating_add(SNAPSHOT_SLACK);
        if needed > cap {
            return Err(ProtocolError::BadAnswer(BadAnswer::TooLarge {
                what: "the snapshot list",
                needed: u64::from(needed),
                limit: u64::from(cap),
            })
            .into());
        }
        out_len = needed.max(out_len.saturating_add(SNAPSHOT_SLACK)).min(cap);
    }
    Err(ProtocolError::BadAnswer(BadAnswer::NoProgress {
        what: "the snapshot list",
        attempts: SNAPSHOT_ATTEMPTS as u32,
    })
    .into())
}

/// A `@GMT-YYYY.MM.DD-HH.MM.SS` token as a `SystemTime` (UTC).
pub(crate) fn snapshot_time(token: &str) -> Result<SystemTime, Error> {
    let secs = fscc::gmt_token_to_unix(token).ok_or_else(|| {
        ProtocolError::decode(
            "snapshot token",
            smbkit_proto::DecodeError::Invalid {
                what: "snapshot token",
                detail: format!("{token:?} is not of the form @GMT-YYYY.MM.DD-HH.MM.SS"),
            },
        )
    })?;
    Ok(if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_tokens_convert_to_utc() {
        assert_eq!(
            snapshot_time("@GMT-2024.01.01-00.00.00").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_704_067_200)
        );
        assert_eq!(
            snapshot_time("@GMT-1969.12.31-23.59.59").unwrap(),
            UNIX_EPOCH - Duration::from_secs(1)
        );
        assert!(matches!(
            snapshot_time("@GMT-2024.13.01-00.00.00"),
            Err(Error::Protocol(_))
        ));
    }
}
