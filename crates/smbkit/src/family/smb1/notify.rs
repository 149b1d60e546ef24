//! Change notification over SMB1: NT_TRANSACT_NOTIFY_CHANGE on an open
//! folder (MS-CIFS §2.2.7.4, §3.2.4.39), which the server holds until
//! something changes.

use super::*;
use crate::family::{notified, Notified, NotifySpec};
use smbkit_proto::smb1::notify::{decode_notify_change_parameters, NotifyChangeRequest};

/// The largest MaxParameterCount of a notify: 64 KiB, the buffer Windows
/// keeps for one.
const NOTIFY_LIMIT: u32 = 0x1_0000;

impl Smb1 {
    /// The largest output buffer an NT_TRANSACT_NOTIFY_CHANGE asks for.
    pub(crate) fn notify_limit(&self) -> u32 {
        NOTIFY_LIMIT
    }

    /// One NT_TRANSACT_NOTIFY_CHANGE on the open folder `file`: what
    /// changed, or that too much did. `slot_deadline` bounds the wait for
    /// a MaxMpxCount slot; once sent the request waits as long as nothing
    /// changes.
    pub(crate) async fn change_notify(
        &self,
        file: FileRef,
        spec: NotifySpec,
        share: &str,
        path: &str,
        slot_deadline: Instant,
    ) -> Result<Notified, Error> {
        let (tid, fid) = tid_fid(file)?;
        let req = NotifyChangeRequest {
            completion_filter: spec.filter,
            fid,
            watch_tree: spec.watch_tree,
            max_parameter_count: spec.out_len,
        };
        let r = self
            .shared
            .request_trans_open_ended(
                command::NT_TRANSACT,
                tid,
                slot_deadline,
                "watch",
                spec.out_len,
                |w| req.encode(w),
            )
            .await?;
        notified(
            r.header.status,
            || decode_notify_change_parameters(&r.parameters),
            share,
            path,
        )
    }
}
