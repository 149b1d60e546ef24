//! DFS referrals (MS-DFSC): asking a server where a path of a DFS namespace
//! really lives, written once over both families.
//!
//! The request goes to the server's IPC$ tree (MS-DFSC §3.1.4.2, §2.1):
//! over SMB 2/3 as an IOCTL FSCTL_DFS_GET_REFERRALS whose FileId is
//! { 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF } (MS-SMB2 §3.2.4.20.3), over
//! SMB1 as TRANS2_GET_DFS_REFERRAL (MS-CIFS §3.2.4.44); both carry a
//! REQ_GET_DFS_REFERRAL and bring back a RESP_GET_DFS_REFERRAL, decoded by
//! [`smbkit_proto::dfs`]. Resolving a path through the answer (following
//! links, caching by TTL, failing over between targets) is built on this.

use smbkit_proto::codec::utf16_len;
use smbkit_proto::dfs::{ReferralRequest, ReferralResponse};
use smbkit_proto::NtStatus;

use super::names::MAX_PATH_BYTES;
use super::{timed_again, Ctx};
use crate::connection::Connection;
use crate::error::{abbreviate, Error, InvalidArgument, ProtocolError};

/// The output room of the first request: enough for dozens of targets.
const FIRST_OUTPUT: u16 = 8 * 1024;

/// The output room asked for again after STATUS_BUFFER_OVERFLOW (MS-DFSC
/// §3.1.5.4: "the client SHOULD retry the referral request with a bigger
/// buffer size"): the most SMB1's 16-bit MaxDataCount can say, for both
/// families.
const MAX_OUTPUT: u16 = 0xFFFF;

/// The name of the operation in errors.
const OPERATION: &str = "dfs referral";

impl Connection {
    /// The DFS referral of `path` (MS-DFSC): where the DFS root or link that
    /// `path` lies in really lives. The low-level building block of DFS: it
    /// asks, and returns the server's answer as it is; it does not follow
    /// the referral.
    ///
    /// `path` names a server, a DFS root (a share) and, for a link
    /// referral, a path inside it, with backslashes and one leading
    /// backslash, as MS-DFSC §3.1.4.2 forms it: `\server\root` for the
    /// root, `\server\root\link\more` for a link (the server finds the
    /// link the path starts with). It is sent as given, so
    /// [`ReferralResponse::path_consumed`] counts bytes of its UTF-16 form
    /// and [`ReferralResponse::consumed`] cuts the replaced prefix off it.
    /// (Samba also answers the UNC form `\\server\root\link`, but counts
    /// PathConsumed as if it had one leading backslash; and it answers for
    /// any server name.)
    ///
    /// The request asks for referral version 4 at most
    /// ([`smbkit_proto::dfs::MAX_REFERRAL_LEVEL`]); the server answers with
    /// its highest version up to that (Samba 4.17: 3). Each target is a
    /// [`smbkit_proto::dfs::Referral`] with its `\server\share` target,
    /// TTL and flags, in the order to try them.
    ///
    /// It goes to this connection's server, on its IPC$ tree (connected
    /// if needed): over SMB 2/3 an IOCTL FSCTL_DFS_GET_REFERRALS with
    /// FileId { 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF } (MS-SMB2
    /// §3.2.4.20.3), over SMB1 TRANS2_GET_DFS_REFERRAL (MS-CIFS
    /// §3.2.4.44); an answer too large for 8 KiB is asked for again with
    /// 64 KiB of room (MS-DFSC §3.1.5.4).
    ///
    /// # Errors
    ///
    /// * [`Error::OperationFailure`] with operation `"dfs referral"`,
    ///   `path` and the server's status when it refuses. Samba 4.17
    ///   answers STATUS_NOT_FOUND for a share that is no DFS root (or no
    ///   share), STATUS_OBJECT_PATH_NOT_FOUND for a path in a DFS root that
    ///   is no link, and, when it serves no DFS at all (`host msdfs = no`),
    ///   STATUS_FS_DRIVER_REQUIRED over SMB 2/3 (MS-SMB2 §3.3.5.15.2) and
    ///   STATUS_NOT_IMPLEMENTED over SMB1.
    /// * [`Error::InvalidArgument`] for a path with a NUL or longer than
    ///   a request can carry, before anything is sent.
    /// * [`Error::Protocol`] when the answer does not decode.
    ///
    /// Default time limit: the factory's (30 s).
    ///
    /// ```no_run
    /// # async fn demo(conn: smbkit::Connection) -> Result<(), smbkit::Error> {
    /// let path = r"\fileserver\dfs\projects\report.odt";
    /// let r = conn.dfs_referral(path).await?;
    /// let rest = &path[r.consumed(path).map_or(0, str::len)..];
    /// for target in r.referrals() {
    ///     println!("{}{rest} (for {} s)", target.target, target.ttl);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn dfs_referral(&self, path: &str) -> Result<ReferralResponse, Error> {
        referral(&self.ctx, path).await
    }
}

/// Asks for the referral of `path`; see [`Connection::dfs_referral`].
pub(crate) async fn referral(ctx: &Ctx, path: &str) -> Result<ReferralResponse, Error> {
    let request = checked_request(path)?;
    timed_again(ctx, |deadline| {
        let request = &request;
        async move {
            let tree = ctx.tree("IPC$", deadline).await?;
            let family = ctx.family();
            let mut room = FIRST_OUTPUT;
            loop {
                let answer = family.dfs_referral(tree, request, room, deadline).await?;
                if answer.status == NtStatus::BUFFER_OVERFLOW && room < MAX_OUTPUT {
                    room = MAX_OUTPUT;
                    continue;
                }
                if answer.status != NtStatus::SUCCESS {
                    return Err(Error::OperationFailure {
                        operation: OPERATION,
                        path: path.to_string(),
                        status: answer.status,
                        detail: None,
                    });
                }
                return ReferralResponse::decode(&answer.output)
                    .map_err(|e| ProtocolError::decode("RESP_GET_DFS_REFERRAL", e).into());
            }
        }
    })
    .await
}

/// The request for `path`, refused before anything is sent when it holds
/// a NUL or is longer than a request can carry.
fn checked_request(path: &str) -> Result<ReferralRequest, Error> {
    if path.contains('\0') {
        return Err(InvalidArgument::Nul {
            what: "path",
            value: abbreviate(path),
        }
        .into());
    }
    // SMB1 carries the request in the 16-bit TotalParameterCount, with the
    // level and the terminator.
    let bytes = utf16_len(path);
    let limit = MAX_PATH_BYTES - 4;
    if bytes > limit {
        return Err(InvalidArgument::NameTooLong {
            what: "path",
            value: abbreviate(path),
            chars: path.chars().count(),
            bytes,
            limit,
        }
        .into());
    }
    Ok(ReferralRequest::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_before_sending() {
        let r = checked_request(r"\srv\root\link").unwrap();
        assert_eq!(r.request_file_name, r"\srv\root\link");
        assert_eq!(r.max_referral_level, 4);
        assert!(matches!(
            checked_request("a\0b"),
            Err(Error::InvalidArgument(InvalidArgument::Nul {
                what: "path",
                ..
            }))
        ));
        let longest = "x".repeat((MAX_PATH_BYTES - 4) / 2);
        assert!(checked_request(&longest).is_ok());
        assert!(matches!(
            checked_request(&format!("{longest}y")),
            Err(Error::InvalidArgument(InvalidArgument::NameTooLong { limit, .. }))
                if limit == MAX_PATH_BYTES - 4
        ));
    }
}
