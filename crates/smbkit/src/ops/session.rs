//! Session-wide operations: echo, tree connect and disconnect, and closing
//! the connection.

use std::time::Duration;

use tokio::time::Instant;

use super::{with_limit, Ctx};
use crate::error::{abbreviate, Error, InvalidArgument};
use crate::factory::DEFAULT_ECHO_TIMEOUT;
use crate::types::TreeInfo;

/// The longest share name accepted: 80 characters, the NetBIOS/Windows
/// limit for share names (well inside the 16-bit PathLength of an SMB2
/// TREE_CONNECT, MS-SMB2 §2.2.9, and the ByteCount of an SMB1
/// TREE_CONNECT_ANDX, MS-CIFS §2.2.4.55.1).
const MAX_SHARE_CHARS: usize = 80;

/// Rejects share names the server could never accept.
pub(crate) fn check_share(share: &str) -> Result<(), Error> {
    if share.is_empty() {
        return Err(InvalidArgument::EmptyShare.into());
    }
    if let Some(c) = share.chars().find(|c| matches!(c, '\\' | '/' | '\0')) {
        return Err(InvalidArgument::ShareCharacter {
            share: abbreviate(share),
            character: c,
        }
        .into());
    }
    let count = share.chars().count();
    if count > MAX_SHARE_CHARS {
        return Err(InvalidArgument::ShareTooLong {
            share: abbreviate(share),
            length: count,
            limit: MAX_SHARE_CHARS,
        }
        .into());
    }
    Ok(())
}

/// ECHO; default time limit 10 s.
pub(crate) async fn echo(ctx: &Ctx, data: &[u8]) -> Result<Vec<u8>, Error> {
    let limit = ctx.limit(DEFAULT_ECHO_TIMEOUT);
    ctx.again_if_lost(|| async move {
        let link = ctx.live_link().await?;
        link.family
            .echo(data, Instant::now() + limit)
            .await
            .map_err(|e| with_limit(e, limit))
    })
    .await
}

/// Connects the tree of `share`, or returns the one already connected.
pub(crate) async fn tree_connect(ctx: &Ctx, share: &str) -> Result<TreeInfo, Error> {
    check_share(share)?;
    let limit = ctx.op_limit();
    let deadline = Instant::now() + limit;
    let link = tokio::time::timeout_at(deadline, ctx.live_link())
        .await
        .map_err(|_| Error::Timeout {
            operation: "reconnecting",
            after: limit,
        })??;
    let key = share.to_lowercase();
    let mut trees = tokio::time::timeout_at(deadline, link.trees.lock())
        .await
        .map_err(|_| Error::Timeout {
            operation: "tree connect",
            after: limit,
        })?;
    if let Some(t) = trees.get(&key) {
        return Ok(*t);
    }
    let info = link
        .family
        .tree_connect(ctx.remote_name(), share, deadline)
        .await
        .map_err(|e| with_limit(e, limit))?;
    trees.insert(key, info);
    Ok(info)
}

/// Disconnects the tree of `share` if it is connected.
pub(crate) async fn tree_disconnect(ctx: &Ctx, share: &str) -> Result<(), Error> {
    ctx.check_open()?;
    let limit = ctx.op_limit();
    let deadline = Instant::now() + limit;
    let link = ctx.session.link();
    let removed = link.trees.lock().await.remove(&share.to_lowercase());
    if let Some(t) = removed {
        link.family
            .tree_disconnect(t.tree_id, deadline)
            .await
            .map_err(|e| with_limit(e, limit))?;
    }
    Ok(())
}

/// Disconnects every tree, logs off, and stops the driver, which closes
/// the socket. Closing twice is harmless.
pub(crate) async fn close(ctx: &Ctx) -> Result<(), Error> {
    if ctx.is_closed() {
        return Ok(());
    }
    ctx.session.mark_closed();
    let link = ctx.session.link();
    if link.family.is_closed() {
        return Ok(());
    }
    let deadline = Instant::now() + ctx.limit(Duration::from_secs(5));
    let trees: Vec<TreeInfo> = link.trees.lock().await.drain().map(|(_, t)| t).collect();
    for t in trees {
        let _ = link.family.tree_disconnect(t.tree_id, deadline).await;
    }
    link.family.logoff(deadline).await;
    link.family.stop("closed by the caller").await;
    Ok(())
}
