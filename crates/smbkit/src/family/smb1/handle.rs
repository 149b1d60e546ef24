//! Requests on an open file's FID over SMB1: its size
//! (TRANS2_SET_FILE_INFORMATION with SMB_SET_FILE_END_OF_FILE_INFO, MS-CIFS
//! §2.2.6.9, §2.2.8.4.7), SMB_COM_FLUSH (MS-CIFS §2.2.4.6) and what it is
//! (TRANS2_QUERY_FILE_INFORMATION with the pass-through levels
//! FileNetworkOpenInformation and FileInternalInformation, MS-SMB
//! §2.2.2.3.5).

use smbkit_proto::fscc::info_class;
use smbkit_proto::smb1::close::FlushRequest;
use smbkit_proto::smb1::trans2::{
    passthrough_level, QueryFileInformationRequest, SetFileInformationRequest,
};

use super::*;

impl Smb1 {
    /// Sets the file's size: cut, or extended with zeros.
    pub(crate) async fn set_end_of_file(
        &self,
        file: FileRef,
        len: u64,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let (_, fid) = tid_fid(file)?;
        let req = SetFileInformationRequest::end_of_file(fid, len);
        self.trans2(
            file.tree,
            share,
            path,
            "setting the size of",
            deadline,
            |w| req.encode(w),
        )
        .await?;
        Ok(())
    }

    /// SMB_COM_FLUSH: the server writes what it caches of the file to
    /// storage.
    pub(crate) async fn flush(
        &self,
        file: FileRef,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let (_, fid) = tid_fid(file)?;
        let req = FlushRequest { fid };
        self.simple(
            command::FLUSH,
            file.tree,
            "flushing",
            share,
            path,
            deadline,
            |w| {
                req.encode(w);
                Ok(())
            },
        )
        .await
    }

    /// What the open file is now: times, sizes, attributes, file id.
    pub(crate) async fn query_file(
        &self,
        file: FileRef,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<OpenInfo, Error> {
        if self.info.capabilities & caps::INFOLEVEL_PASSTHRU == 0 {
            return Err(Error::Unsupported(
                crate::error::Unsupported::NoInfoLevelPassthrough {
                    what: "querying an open file",
                },
            ));
        }
        let (_, fid) = tid_fid(file)?;
        let query = |class: u8| QueryFileInformationRequest {
            fid,
            information_level: passthrough_level(class),
            max_data_count: 512,
        };
        let (open, internal) = (
            query(info_class::FILE_NETWORK_OPEN_INFORMATION),
            query(info_class::FILE_INTERNAL_INFORMATION),
        );
        let ((_, open, _), (_, internal, _)) = tokio::try_join!(
            self.trans2(file.tree, share, path, "querying", deadline, |w| {
                open.encode(w)
            }),
            self.trans2(file.tree, share, path, "querying", deadline, |w| {
                internal.encode(w)
            }),
        )?;
        open_info(&open, &internal)
    }
}
