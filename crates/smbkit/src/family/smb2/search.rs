//! Directory searches over SMB2: CREATE + QUERY_DIRECTORY as one compound,
//! then QUERY_DIRECTORY until STATUS_NO_MORE_FILES (MS-SMB2 §2.2.33).

use super::*;

/// A directory search over SMB2: the folder's handle and what each
/// QUERY_DIRECTORY asks for (MS-SMB2 §2.2.33).
pub(crate) struct Search {
    smb2: Smb2,
    dir: OpenFile,
    pattern: String,
    out_len: u32,
    charge: u16,
    /// Whether any page brought entries (STATUS_NO_SUCH_FILE before that
    /// is an empty folder, not an error).
    got_any: bool,
}

impl Smb2 {
    /// CREATE of the folder + the first QUERY_DIRECTORY
    /// (FileIdBothDirectoryInformation, MS-FSCC §2.4.17) as one related
    /// compound.
    pub(crate) async fn find_first(
        &self,
        tree: u32,
        share: &str,
        dir: &str,
        pattern: &str,
        deadline: Instant,
    ) -> Result<(Search, crate::family::Page), Error> {
        use smbkit_proto::smb2::query_directory::{query_directory_flags, QueryDirectoryRequest};
        let spec = OpenSpec::new(
            access_mask::FILE_LIST_DIRECTORY
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::SYNCHRONIZE,
            create_disposition::OPEN,
            create_options::DIRECTORY_FILE,
        );
        let out_len = self.info().max_transact_size.clamp(4096, 1024 * 1024);
        let charge = self.charge_for(out_len as usize);
        let create = create_request(&spec, dir);
        let first = QueryDirectoryRequest {
            file_information_class: info_class::FILE_ID_BOTH_DIRECTORY_INFORMATION,
            flags: query_directory_flags::RESTART_SCANS,
            file_index: 0,
            file_id: FileId::ANY,
            pattern: pattern.to_string(),
            output_buffer_length: out_len,
        };
        let mut rs = self
            .shared
            .compound(
                vec![
                    Part {
                        command: Command::CREATE,
                        tree_id: tree,
                        charge: 1,
                        body: body(|w| create.encode(w))?,
                    },
                    Part {
                        command: Command::QUERY_DIRECTORY,
                        tree_id: tree,
                        charge,
                        body: body(|w| first.encode(w))?,
                    },
                ],
                true,
                deadline,
                "listing",
            )
            .await?;
        let query = rs.pop();
        let created = rs.remove(0);
        if created.header.status != NtStatus::SUCCESS {
            return Err(failure("listing", share, dir, created.header.status));
        }
        let create = decode_create(&created)?;
        let mut search = Search {
            smb2: self.clone(),
            dir: self.opened(tree, &create),
            pattern: pattern.to_string(),
            out_len,
            charge,
            got_any: false,
        };
        let r = query.ok_or_else(|| {
            Error::from(ProtocolError::BadAnswer(crate::error::BadAnswer::Missing {
                what: "CREATE + QUERY_DIRECTORY",
                missing: "the QUERY_DIRECTORY response",
            }))
        })?;
        let page = search.page(&r, share, dir)?;
        Ok((search, page))
    }
}

impl Search {
    /// The entries of a QUERY_DIRECTORY response.
    fn page(&mut self, r: &Response, share: &str, dir: &str) -> Result<crate::family::Page, Error> {
        use smbkit_proto::smb2::query_directory::query_directory_response_data_range;
        match r.header.status {
            NtStatus::SUCCESS => {}
            NtStatus::NO_MORE_FILES => {
                return Ok(crate::family::Page {
                    entries: Vec::new(),
                    end: true,
                })
            }
            NtStatus::NO_SUCH_FILE if !self.got_any => {
                return Ok(crate::family::Page {
                    entries: Vec::new(),
                    end: true,
                })
            }
            s => return Err(failure("listing", share, dir, s)),
        }
        let range = query_directory_response_data_range(&r.msg)
            .map_err(|e| ProtocolError::decode("QUERY_DIRECTORY response", e))?;
        let entries = fscc::parse_id_both_directory_information(&r.msg[range])
            .map_err(|e| ProtocolError::decode("directory listing", e))?;
        self.got_any |= !entries.is_empty();
        Ok(crate::family::Page {
            entries: entries.into_iter().map(SharedFile::from_entry).collect(),
            end: false,
        })
    }

    /// QUERY_DIRECTORY, continuing the scan.
    pub(crate) async fn next_page(
        &mut self,
        share: &str,
        dir: &str,
        deadline: Instant,
    ) -> Result<crate::family::Page, Error> {
        use smbkit_proto::smb2::query_directory::QueryDirectoryRequest;
        let req = QueryDirectoryRequest {
            file_information_class: info_class::FILE_ID_BOTH_DIRECTORY_INFORMATION,
            flags: 0,
            file_index: 0,
            file_id: file_id(self.dir.file())?,
            pattern: self.pattern.clone(),
            output_buffer_length: self.out_len,
        };
        let r = self
            .smb2
            .shared
            .request(
                Command::QUERY_DIRECTORY,
                self.dir.file().tree,
                self.charge,
                deadline,
                "listing",
                |w| req.encode(w),
            )
            .await?;
        self.page(&r, share, dir)
    }

    /// Closes the folder.
    pub(crate) async fn finish(self, deadline: Instant) -> Result<(), Error> {
        self.dir.close(deadline).await
    }
}
