//! Transitional: the SMB2 handle calls of the modules not yet moved onto
//! the family primitives.

use smbkit_proto::smb2::close::CloseRequest;
use smbkit_proto::smb2::create::{CreateResponse, FileId};
use smbkit_proto::{Command, NtStatus};
use tokio::time::Instant;

use crate::connection::Connection;
use crate::driver::Response;
use crate::error::Error;
pub(crate) use crate::error::{display, failure};
pub(crate) use crate::family::OpenSpec;
pub(crate) use crate::ops::names::smb_path;

/// An open file or folder.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub tree_id: u32,
    pub file_id: FileId,
    #[allow(dead_code)]
    pub create: CreateResponse,
}

impl Connection {
    /// Closes a handle; errors are reported but the handle is gone either way.
    pub(crate) async fn close_handle(&self, h: &Handle, deadline: Instant) -> Result<(), Error> {
        let req = CloseRequest {
            flags: 0,
            file_id: h.file_id,
        };
        let r = self
            .shared()?
            .request(Command::CLOSE, h.tree_id, 1, deadline, "CLOSE", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        if r.header.status.is_error() && r.header.status != NtStatus::FILE_CLOSED {
            return Err(Error::OperationFailure {
                message: "CLOSE failed".into(),
                status: r.header.status,
            });
        }
        Ok(())
    }

    /// CREATE + `middle` + CLOSE as one compound.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_do_close(
        &self,
        tree_id: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        middle: Vec<(Command, u16, Vec<u8>)>,
        what: &str,
        deadline: Instant,
    ) -> Result<(CreateResponse, Vec<Response>), Error> {
        self.smb2()?
            .open_do_close(tree_id, share, path, spec, middle, what, deadline)
            .await
    }
}
