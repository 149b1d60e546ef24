//! DFS referrals over SMB1: TRANS2_GET_DFS_REFERRAL on the IPC$ tree
//! (MS-CIFS §2.2.6.16, §3.2.4.44; MS-DFSC §2.1).

use smbkit_proto::dfs::ReferralRequest;

use super::*;
use crate::family::FsctlAnswer;

impl Smb1 {
    /// TRANS2_GET_DFS_REFERRAL with `request` as its parameters, on `tree`
    /// (the IPC$ tree), with MaxDataCount `max_output`: the response's
    /// status and its Trans2_Data, the RESP_GET_DFS_REFERRAL, whatever the
    /// status (an error brings none).
    pub(crate) async fn dfs_referral(
        &self,
        tree: u32,
        request: &ReferralRequest,
        max_output: u16,
        deadline: Instant,
    ) -> Result<FsctlAnswer, Error> {
        let req = request.trans2(max_output)?;
        let r = self
            .shared
            .request_trans(
                command::TRANSACTION2,
                tid(tree)?,
                deadline,
                "TRANS2_GET_DFS_REFERRAL",
                TRANS2_LIMIT,
                |w| req.encode(w),
            )
            .await?;
        super::fsctl::fsctl_answer("TRANS2_GET_DFS_REFERRAL", r, u64::from(max_output))
    }
}
