//! Requests on an open file's handle (MS-SMB2): its size (SET_INFO
//! FileEndOfFileInformation, §2.2.39), FLUSH (§2.2.17) and what it is
//! (QUERY_INFO FileAllInformation, §2.2.37).

use smbkit_proto::smb2::flush::FlushRequest;

use super::*;

impl Smb2 {
    /// Sets the file's size: cut, or extended with zeros.
    pub(crate) async fn set_end_of_file(
        &self,
        file: FileRef,
        len: u64,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let req = SetInfoRequest {
            info_type: info_type::FILE,
            file_info_class: info_class::FILE_END_OF_FILE_INFORMATION,
            additional_information: 0,
            file_id: file_id(file)?,
            data: len.to_le_bytes().to_vec(),
        };
        let r = self
            .shared
            .request(Command::SET_INFO, file.tree, 1, deadline, "set_len", |w| {
                req.encode(w)
            })
            .await?;
        if r.header.status.is_error() {
            return Err(failure("setting the size of", share, path, r.header.status));
        }
        Ok(())
    }

    /// FLUSH: the server writes what it caches of the file to storage.
    pub(crate) async fn flush(
        &self,
        file: FileRef,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let req = FlushRequest {
            file_id: file_id(file)?,
        };
        let r = self
            .shared
            .request(Command::FLUSH, file.tree, 1, deadline, "flush", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        if r.header.status.is_error() {
            return Err(failure("flushing", share, path, r.header.status));
        }
        Ok(())
    }

    /// What the open file is now: times, sizes, attributes, file id.
    pub(crate) async fn query_file(
        &self,
        file: FileRef,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<OpenInfo, Error> {
        let req = all_information_query(file_id(file)?);
        let r = self
            .shared
            .request(
                Command::QUERY_INFO,
                file.tree,
                1,
                deadline,
                "metadata",
                |w| req.encode(w),
            )
            .await?;
        let status = r.header.status;
        if status != NtStatus::SUCCESS && status != NtStatus::BUFFER_OVERFLOW {
            return Err(failure("querying", share, path, status));
        }
        let all = decode_all_information(&r)?;
        Ok(OpenInfo {
            creation_time: all.basic.creation_time,
            last_access_time: all.basic.last_access_time,
            last_write_time: all.basic.last_write_time,
            change_time: all.basic.change_time,
            size: all.standard.end_of_file,
            alloc_size: all.standard.allocation_size,
            attributes: all.basic.file_attributes,
            file_id: all.internal,
        })
    }
}
