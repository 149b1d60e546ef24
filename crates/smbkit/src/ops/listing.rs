//! Directory listings (the reference's listPath): one search per folder,
//! page after page, over either family's search primitives.

use tokio::time::Instant;

use super::names::{check_length, smb_path};
use super::Ctx;
use crate::error::{abbreviate, Error, ProtocolError};
use crate::types::SharedFile;

/// The most pages one listing reads.
const MAX_PAGES: usize = 100_000;

/// Every entry of folder `path` matching `pattern` (`*` and `?` wildcards,
/// matched by the server), unfiltered, `.` and `..` included when the
/// server lists them.
///
/// The search is closed whatever happens: at its end, or, after an error
/// or when the future is dropped, by the connection on its own account.
pub(crate) async fn list_entries(
    ctx: &Ctx,
    share: &str,
    path: &str,
    pattern: &str,
    deadline: Instant,
) -> Result<Vec<SharedFile>, Error> {
    let path = smb_path(path)?;
    if pattern.is_empty() {
        return Err(Error::InvalidArgument("the pattern is empty".into()));
    }
    if pattern.contains(['\\', '/', '\0']) {
        return Err(Error::InvalidArgument(format!(
            "pattern {:?} must be a name pattern, without folders",
            abbreviate(pattern)
        )));
    }
    check_length("pattern", pattern)?;
    let tree = ctx.tree(share, deadline).await?;
    let (mut search, first) = ctx
        .family()
        .find_first(tree, share, &path, pattern, deadline)
        .await?;
    let mut result = first.entries;
    let mut end = first.end;
    let mut pages = 1;
    while !end {
        if pages >= MAX_PAGES {
            return Err(ProtocolError::Unexpected("the listing never ends".into()).into());
        }
        let page = search.next_page(share, &path, deadline).await?;
        result.extend(page.entries);
        end = page.end;
        pages += 1;
    }
    search.finish(deadline).await?;
    Ok(result)
}

/// The entries of folder `path` whose attributes pass `search` (bits of
/// [`smbkit_proto::fscc::search`], applied here as the reference does) and
/// whose names match `pattern`.
pub(crate) async fn list_path(
    ctx: &Ctx,
    share: &str,
    path: &str,
    search: u32,
    pattern: &str,
) -> Result<Vec<SharedFile>, Error> {
    super::timed_again(ctx, |deadline| async move {
        let entries = list_entries(ctx, share, path, pattern, deadline).await?;
        Ok(entries
            .into_iter()
            .filter(|f| smbkit_proto::fscc::search_matches(search, f.file_attributes))
            .collect())
    })
    .await
}
