//! Security descriptors (the blocking reference's `getSecurity`): the
//! owner, group and DACL of a path (SMB2 QUERY_INFO
//! SMB2_0_INFO_SECURITY, MS-SMB2 §2.2.37; SMB1
//! NT_TRANSACT_QUERY_SECURITY_DESC, MS-CIFS §2.2.7.6), written once over
//! the family's path queries, and decoded as a self-relative
//! SECURITY_DESCRIPTOR (MS-DTYP §2.4.6).

use smbkit_proto::dtyp::{security_information, SecurityDescriptor};
use smbkit_proto::smb2::create::{access_mask, create_disposition};
use smbkit_proto::NtStatus;
use tokio::time::Instant;

use super::names::smb_path;
use super::{timed_again, Ctx};
use crate::error::{failure, BadAnswer, Error, ProtocolError};
use crate::family::{OpenSpec, PathQuery};

/// The most security queries one call makes.
const SECURITY_ATTEMPTS: usize = 3;

/// The security descriptor of `path`.
pub(crate) async fn get_security(
    ctx: &Ctx,
    share: &str,
    path: &str,
) -> Result<SecurityDescriptor, Error> {
    let limits = ctx.family().query_limits();
    let first = ctx
        .session
        .factory
        .tuning
        .security_buffer
        .map_or(limits.security_first, |t| t.min(limits.security_max));
    timed_again(ctx, |deadline| {
        get_security_with(ctx, share, path, first, deadline)
    })
    .await
}

/// [`get_security`] starting with an output buffer of `first` bytes.
pub(crate) async fn get_security_with(
    ctx: &Ctx,
    share: &str,
    path: &str,
    first: u32,
    deadline: Instant,
) -> Result<SecurityDescriptor, Error> {
    let path = smb_path(path)?;
    let tree = ctx.tree(share, deadline).await?;
    let spec = OpenSpec::new(
        access_mask::READ_CONTROL | access_mask::FILE_READ_ATTRIBUTES | access_mask::SYNCHRONIZE,
        create_disposition::OPEN,
        0,
    );
    let family = ctx.family();
    let q = family
        .path_query(tree, share, &path, spec, "get_security", deadline)
        .await?;
    // On an error, dropping the query hands what it holds open to the
    // connection to close.
    let sd = query(ctx, &q, share, &path, first, deadline).await?;
    q.finish(deadline).await?;
    Ok(sd)
}

/// The owner, group and DACL, asked again with the size the server needs
/// after STATUS_BUFFER_TOO_SMALL.
async fn query(
    ctx: &Ctx,
    q: &PathQuery<'_>,
    share: &str,
    path: &str,
    first: u32,
    deadline: Instant,
) -> Result<SecurityDescriptor, Error> {
    let cap = ctx.family().query_limits().security_max;
    let mut out_len = first.min(cap);
    for _ in 0..SECURITY_ATTEMPTS {
        let additional =
            security_information::OWNER | security_information::GROUP | security_information::DACL;
        let r = q.query_security(additional, out_len, deadline).await?;
        match r.status {
            NtStatus::SUCCESS => {
                if r.data.len() > out_len as usize {
                    return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                        what: "the security query",
                        got: r.data.len() as u64,
                        asked: u64::from(out_len),
                    })
                    .into());
                }
                return SecurityDescriptor::decode(&r.data)
                    .map_err(|e| ProtocolError::decode("security descriptor", e).into());
            }
            NtStatus::BUFFER_TOO_SMALL => {
                out_len = needed_length(r.needed, out_len, cap)?;
            }
            s => return Err(failure("get_security", share, path, s)),
        }
    }
    Err(ProtocolError::BadAnswer(BadAnswer::NoProgress {
        what: "the security descriptor",
        attempts: SECURITY_ATTEMPTS as u32,
    })
    .into())
}

/// The next buffer size after STATUS_BUFFER_TOO_SMALL: the size the server
/// said it needs (MS-SMB2 §2.2.2.2 ErrorData, MS-CIFS §2.2.7.6.2
/// LengthNeeded), or four times the offer when it said none; it must
/// exceed the offer and stay within `cap`.
fn needed_length(needed: Option<u32>, offered: u32, cap: u32) -> Result<u32, Error> {
    let needed = needed.unwrap_or_else(|| offered.saturating_mul(4).min(cap));
    if needed <= offered {
        return Err(ProtocolError::BadAnswer(BadAnswer::BufferTooSmall { offered, needed }).into());
    }
    if needed > cap {
        return Err(ProtocolError::BadAnswer(BadAnswer::TooLarge {
            what: "the security descriptor",
            needed: u64::from(needed),
            limit: u64::from(cap),
        })
        .into());
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_needed_must_grow_and_stay_within_the_cap() {
        assert_eq!(needed_length(Some(120), 8, 4000).unwrap(), 120);
        for (needed, offered) in [(8, 8), (4, 8), (5000, 8)] {
            let e = needed_length(Some(needed), offered, 4000).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Protocol(ProtocolError::BadAnswer(
                        BadAnswer::BufferTooSmall { .. } | BadAnswer::TooLarge { .. }
                    ))
                ),
                "{e:?}"
            );
        }
        // No size given: grow.
        assert_eq!(needed_length(None, 100, 4000).unwrap(), 400);
        assert_eq!(needed_length(None, 3000, 4000).unwrap(), 4000);
        assert!(needed_length(None, 4000, 4000).is_err());
    }
}
