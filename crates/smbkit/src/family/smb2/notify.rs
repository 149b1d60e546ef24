//! Change notification over SMB2: CHANGE_NOTIFY on an open folder
//! (MS-SMB2 §2.2.35, §3.2.4.14), answered with an interim STATUS_PENDING
//! and completed when something changes.

use super::*;
use crate::family::{notified, Notified, NotifySpec};
use smbkit_proto::smb2::change_notify::{
    change_notify_flags, ChangeNotifyRequest, ChangeNotifyResponse,
};

impl Smb2 {
    /// The largest output buffer a CHANGE_NOTIFY may ask for: the
    /// negotiated MaxTransactSize (MS-SMB2 §3.3.5.19 refuses more).
    pub(crate) fn notify_limit(&self) -> u32 {
        self.info().max_transact_size.max(1)
    }

    /// One CHANGE_NOTIFY on the open folder `file`: what changed, or that
    /// too much did. `ack_deadline` bounds the wait for the server's
    /// interim response; after it the request waits as long as nothing
    /// changes.
    pub(crate) async fn change_notify(
        &self,
        file: FileRef,
        spec: NotifySpec,
        share: &str,
        path: &str,
        ack_deadline: Instant,
    ) -> Result<Notified, Error> {
        let req = ChangeNotifyRequest {
            flags: if spec.watch_tree {
                change_notify_flags::WATCH_TREE
            } else {
                0
            },
            output_buffer_length: spec.out_len,
            file_id: file_id(file)?,
            completion_filter: spec.filter,
        };
        let charge = self.charge_for(spec.out_len as usize);
        let r = self
            .shared
            .request_open_ended(
                Command::CHANGE_NOTIFY,
                file.tree,
                charge,
                ack_deadline,
                "watch",
                |w| {
                    req.encode(w);
                    Ok(())
                },
            )
            .await?;
        notified(
            r.header.status,
            || ChangeNotifyResponse::decode(&r.msg)?.entries(),
            share,
            path,
        )
    }
}
