//! Directory searches over SMB1: TRANS2 FIND_FIRST2 and FIND_NEXT2
//! (MS-CIFS §2.2.6.2, §2.2.6.3), FIND_CLOSE2 for one given up on.

use super::*;

/// FIND flags (MS-CIFS §2.2.6.2.1): close at end of search, continue from
/// the last name.
const FIND_CLOSE_AT_EOS: u16 = 0x0002;
const FIND_CONTINUE_FROM_LAST: u16 = 0x0008;
/// Search attributes: hidden, system and directories too.
const SEARCH_ALL: u16 = 0x0016;
/// How long the answer to a FIND_FIRST2 whose caller gave up is awaited, so
/// that the search it opened can be closed.
const LATE_FIND_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// MaxDataCount of FIND_FIRST2 / FIND_NEXT2: the most the 16-bit field
/// allows. A response larger than one message of our MaxBufferSize comes in
/// several parts, which the driver puts together.
const FIND_MAX_DATA: u16 = 0xFFFF;

/// A directory search over SMB1 (TRANS2 FIND_FIRST2 / FIND_NEXT2, MS-CIFS
/// §2.2.6.2, §2.2.6.3): its SID, the information level the server took,
/// the last name seen (FIND_NEXT2 continues from it), and whether the
/// server has ended it (it closes a search at its end). Dropped before the
/// end, it sends FIND_CLOSE2 (MS-CIFS §2.2.4.48) on the connection's own
/// account.
pub(crate) struct Search {
    smb1: Smb1,
    tree: u32,
    sid: u16,
    level: u16,
    last: Option<String>,
    ended: bool,
}

/// The entries of a FIND_FIRST2 or FIND_NEXT2 response at `level`.
fn find_entries(level: u16, data: &[u8], unicode: bool) -> Result<Vec<SharedFile>, Error> {
    use smbkit_proto::smb1::trans2::{
        find_level, parse_find_file_both_directory_info, parse_find_file_id_both_directory_info,
    };
    let entries = if level == find_level::FILE_ID_BOTH_DIRECTORY_INFO {
        parse_find_file_id_both_directory_info(data, unicode)
    } else {
        parse_find_file_both_directory_info(data, unicode)
    }
    .map_err(|e| ProtocolError::decode("directory listing", e))?;
    Ok(entries.into_iter().map(SharedFile::from_entry).collect())
}

impl Smb1 {
    /// Sends FIND_CLOSE2 for `sid` without waiting.
    fn find_close_detached(&self, tree: u32, sid: u16) {
        let req = smbkit_proto::smb1::trans2::FindClose2Request { sid };
        if let Ok(tid) = tid(tree) {
            let _ = self.shared.request_detached(
                command::FIND_CLOSE2,
                tid,
                Instant::now() + LATE_FIND_LIMIT,
                "FIND_CLOSE2",
                |w| {
                    req.encode(w);
                    Ok(())
                },
            );
        }
    }

    /// FIND_FIRST2 with SMB_FIND_FILE_ID_BOTH_DIRECTORY_INFO (MS-SMB
    /// §2.2.8.1.3), which carries the FileId that SMB2 listings have too;
    /// servers that do not know that level get
    /// SMB_FIND_FILE_BOTH_DIRECTORY_INFO. No match (STATUS_NO_SUCH_FILE)
    /// is an empty listing.
    pub(crate) async fn find_first(
        &self,
        tree: u32,
        share: &str,
        dir: &str,
        pattern: &str,
        deadline: Instant,
    ) -> Result<(Search, crate::family::Page), Error> {
        use smbkit_proto::smb1::trans2::find_level;
        let search = if dir.is_empty() {
            format!("\\{pattern}")
        } else {
            format!("\\{dir}\\{pattern}")
        };
        let mut level = find_level::FILE_ID_BOTH_DIRECTORY_INFO;
        let ended = |level| Search {
            smb1: self.clone(),
            tree,
            sid: 0,
            level,
            last: None,
            ended: true,
        };
        loop {
            let r = self
                .find_first_at(tree, share, dir, &search, level, deadline)
                .await;
            match r {
                Err(e)
                    if level == find_level::FILE_ID_BOTH_DIRECTORY_INFO
                        && matches!(
                            e.status(),
                            Some(NtStatus::INVALID_LEVEL | NtStatus::NOT_SUPPORTED)
                        ) =>
                {
                    level = find_level::FILE_BOTH_DIRECTORY_INFO;
                }
                Err(e) if e.status() == Some(NtStatus::NO_SUCH_FILE) => {
                    let page = crate::family::Page {
                        entries: Vec::new(),
                        end: true,
                    };
                    return Ok((ended(level), page));
                }
                Err(e) => return Err(e),
                Ok((sid, end, entries)) => {
                    // Armed (not ended) only now: dropped from here on, it
                    // closes the search the server holds.
                    let s = Search {
                        smb1: self.clone(),
                        tree,
                        sid,
                        level,
                        last: entries.last().map(|e| e.filename.clone()),
                        ended: end,
                    };
                    return Ok((s, crate::family::Page { entries, end }));
                }
            }
        }
    }

    /// One FIND_FIRST2: the search's SID, whether it ended, and its first
    /// entries. The request runs in a task of its own: should `deadline`
    /// pass, or the caller go, before the answer, the task still takes the
    /// answer and closes the search the server opened anyway.
    async fn find_first_at(
        &self,
        tree: u32,
        share: &str,
        dir: &str,
        search: &str,
        level: u16,
        deadline: Instant,
    ) -> Result<(u16, bool, Vec<SharedFile>), Error> {
        use smbkit_proto::smb1::trans2::{FindFirst2Request, FindFirst2ResponseParameters};
        let req = FindFirst2Request {
            search_attributes: SEARCH_ALL,
            search_count: 1024,
            flags: FIND_CLOSE_AT_EOS,
            information_level: level,
            search_storage_type: 0,
            file_name: search.to_string(),
            max_data_count: FIND_MAX_DATA,
        };
        let (me, share2, dir2) = (self.clone(), share.to_string(), dir.to_string());
        let late_deadline = deadline.max(Instant::now() + LATE_FIND_LIMIT);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let answer = async {
                let (params, data, unicode) = me
                    .trans2(tree, &share2, &dir2, "listing", late_deadline, |w| {
                        req.encode(w)
                    })
                    .await?;
                let p = FindFirst2ResponseParameters::decode(&params)
                    .map_err(|e| ProtocolError::decode("FIND_FIRST2 parameters", e))?;
                let end = p.end_of_search != 0;
                match find_entries(level, &data, unicode) {
                    Ok(entries) => Ok((p.sid, end, entries)),
                    Err(e) => {
                        if !end {
                            me.find_close_detached(tree, p.sid);
                        }
                        Err(e)
                    }
                }
            }
            .await;
            if let Err(Ok((sid, false, _))) = tx.send(answer) {
                // Nobody took the open search.
                me.find_close_detached(tree, sid);
            }
        });
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(answer) => answer.unwrap_or(Err(Error::NotConnected)),
            Err(_) => Err(Error::Timeout {
                operation: "listing",
                after: std::time::Duration::ZERO,
            }),
        }
    }
}

impl Search {
    /// FIND_NEXT2 from the last name seen; STATUS_NO_MORE_FILES ends the
    /// search.
    pub(crate) async fn next_page(
        &mut self,
        share: &str,
        dir: &str,
        deadline: Instant,
    ) -> Result<crate::family::Page, Error> {
        use smbkit_proto::smb1::trans2::{FindNext2Request, FindNext2ResponseParameters};
        let done = crate::family::Page {
            entries: Vec::new(),
            end: true,
        };
        if self.ended {
            return Ok(done);
        }
        let Some(last) = self.last.clone() else {
            // Nothing to continue from: end the search here.
            return Ok(done);
        };
        let next = FindNext2Request {
            sid: self.sid,
            search_count: 1024,
            information_level: self.level,
            resume_key: 0,
            flags: FIND_CLOSE_AT_EOS | FIND_CONTINUE_FROM_LAST,
            file_name: last,
            max_data_count: FIND_MAX_DATA,
        };
        let (params, data, unicode) = match self
            .smb1
            .trans2(self.tree, share, dir, "listing", deadline, |w| {
                next.encode(w)
            })
            .await
        {
            Ok(x) => x,
            Err(e) if e.status() == Some(NtStatus::NO_MORE_FILES) => {
                self.ended = true;
                return Ok(done);
            }
            Err(e) => return Err(e),
        };
        let p = FindNext2ResponseParameters::decode(&params)
            .map_err(|e| ProtocolError::decode("FIND_NEXT2 parameters", e))?;
        let entries = find_entries(self.level, &data, unicode)?;
        let end = p.end_of_search != 0;
        if entries.is_empty() && !end {
            return Err(
                ProtocolError::BadAnswer(crate::error::BadAnswer::NoProgress {
                    what: "FIND_NEXT2",
                    attempts: 1,
                })
                .into(),
            );
        }
        if let Some(e) = entries.last() {
            self.last = Some(e.filename.clone());
        }
        self.ended = end;
        Ok(crate::family::Page { entries, end })
    }

    /// Ends the search: the server closed it at its end; one given up on
    /// before is closed with FIND_CLOSE2.
    pub(crate) fn finish(self) {}
}

impl Drop for Search {
    fn drop(&mut self) {
        if !self.ended {
            self.smb1.find_close_detached(self.tree, self.sid);
        }
    }
}
