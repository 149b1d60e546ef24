//! Transfers over SMB2: READ and WRITE (MS-SMB2 §2.2.19, §2.2.21), with
//! multi-credit requests of up to 1 MiB.

use super::*;
use crate::error::BadAnswer;

/// Largest single READ/WRITE smbkit sends (the server's limit may be lower).
const MAX_CHUNK: usize = 1024 * 1024;

/// The WRITE request (MS-SMB2 §2.2.21) without its data, which the
/// driver sends right after it: the fixed 48-byte body with DataOffset 112
/// and Length `len`.
fn encode_write_header(
    w: &mut smbkit_proto::Writer,
    offset: u64,
    file_id: FileId,
    len: usize,
) -> Result<(), smbkit_proto::EncodeError> {
    use smbkit_proto::smb2::write::encode_write_request;
    let length = smbkit_proto::codec::wire_u32(len, "SMB2 WRITE Length")?;
    let start = w.len();
    encode_write_request(w, offset, file_id, 0, &[])?;
    // Drop the one-byte Buffer placeholder an empty WRITE carries, and
    // give Length the size of the data that follows.
    w.truncate(start + 48);
    w.patch_u32(start + 4, length);
    Ok(())
}

pub(super) fn read_request(
    file_id: FileId,
    offset: u64,
    len: u32,
) -> smbkit_proto::smb2::read::ReadRequest {
    smbkit_proto::smb2::read::ReadRequest {
        padding: smbkit_proto::smb2::read::DEFAULT_READ_PADDING,
        flags: 0,
        length: len,
        offset,
        file_id,
        minimum_count: 0,
        channel: 0,
        remaining_bytes: 0,
    }
}

/// The data of a READ response (empty at end of file), zero-copy.
fn read_data(r: &Response, share: &str, path: &str, asked: u32) -> Result<bytes::Bytes, Error> {
    match r.header.status {
        NtStatus::SUCCESS => {
            let range = smbkit_proto::smb2::read::read_response_data_range(&r.msg)
                .map_err(|e| ProtocolError::decode("READ response", e))?;
            if range.len() > asked as usize {
                return Err(ProtocolError::BadAnswer(BadAnswer::TooMuchData {
                    what: "READ",
                    got: range.len() as u64,
                    asked: u64::from(asked),
                })
                .into());
            }
            Ok(r.msg.slice(range))
        }
        NtStatus::END_OF_FILE => Ok(bytes::Bytes::new()),
        s => Err(failure("reading", share, path, s)),
    }
}

/// A WRITE must write all it carries.
fn check_written(r: &Response, share: &str, path: &str, len: usize) -> Result<(), Error> {
    if r.header.status.is_error() {
        return Err(failure("writing", share, path, r.header.status));
    }
    let w = smbkit_proto::smb2::write::WriteResponse::decode(&r.msg)
        .map_err(|e| ProtocolError::decode("WRITE response", e))?;
    if w.count as usize != len {
        return Err(ProtocolError::BadAnswer(BadAnswer::WriteCount {
            what: "WRITE",
            written: u64::from(w.count),
            sent: len as u64,
        })
        .into());
    }
    Ok(())
}

/// A WRITE in flight and the data it carries.
pub(crate) struct WriteInFlight<'a> {
    sent: crate::driver::smb2::Sent2<'a>,
    pub(crate) data: bytes::Bytes,
}

impl WriteInFlight<'_> {
    /// Waits for the answer; the buffer comes back once nothing else
    /// holds it.
    pub(crate) async fn finish(
        self,
        share: &str,
        path: &str,
    ) -> Result<Option<bytes::BytesMut>, Error> {
        let r = self.sent.response().await?;
        check_written(&r, share, path, self.data.len())?;
        // The frame has been written and answered: the buffer is ours again.
        Ok(self.data.try_into_mut().ok())
    }
}

impl Smb2 {
    /// The chunk size of READs or WRITEs for a server limit of `max`: up
    /// to 1 MiB with multi-credit requests, 64 KiB without.
    fn chunk_size(&self, max: u32) -> usize {
        let large = self.charge_for(2 * 65536) > 1;
        let cap = if large { MAX_CHUNK } else { 65536 };
        (max as usize).clamp(4096, cap)
    }

    pub(crate) fn read_size(&self) -> usize {
        self.chunk_size(self.info().max_read_size)
    }

    pub(crate) fn write_size(&self) -> usize {
        self.chunk_size(self.info().max_write_size)
    }

    /// READ on an open file.
    pub(crate) async fn read(
        &self,
        file: FileRef,
        offset: u64,
        len: u32,
        share: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<bytes::Bytes, Error> {
        let req = read_request(file_id(file)?, offset, len);
        let charge = self.charge_for(len as usize);
        let r = self
            .shared
            .request(Command::READ, file.tree, charge, deadline, "read", |w| {
                req.encode(w);
                Ok(())
            })
            .await?;
        read_data(&r, share, path, len)
    }

    /// CREATE + READ + CLOSE, one round trip (CREATE + CLOSE for a `len`
    /// of 0).
    pub(crate) async fn open_read(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        offset: u64,
        len: u32,
        deadline: Instant,
    ) -> Result<crate::family::ReadStart, Error> {
        let mut middle = Vec::new();
        if len > 0 {
            let read = read_request(FileId::ANY, offset, len);
            middle.push((
                Command::READ,
                self.charge_for(len as usize),
                body(|w| {
                    read.encode(w);
                    Ok(())
                })?,
            ));
        }
        let (create, rs) = self
            .open_do_close(
                tree,
                share,
                path,
                crate::family::read_spec(),
                middle,
                "retrieve_file",
                deadline,
            )
            .await?;
        let data = if len == 0 {
            bytes::Bytes::new()
        } else {
            match rs.first() {
                // Past the end of the file the READ fails; the caller
                // reports the offset.
                Some(_) if offset > create.end_of_file => bytes::Bytes::new(),
                Some(r) => read_data(r, share, path, len)?,
                None => {
                    return Err(ProtocolError::BadAnswer(BadAnswer::Missing {
                        what: "CREATE + READ",
                        missing: "the READ response",
                    })
                    .into())
                }
            }
        };
        Ok(crate::family::ReadStart::Done(open_info(&create), data))
    }

    /// CREATE + WRITE + CLOSE, one round trip (CREATE + CLOSE for no
    /// data).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_small(
        &self,
        tree: u32,
        share: &str,
        path: &str,
        spec: OpenSpec,
        offset: u64,
        data: bytes::Bytes,
        deadline: Instant,
    ) -> Result<(), Error> {
        use smbkit_proto::smb2::write::encode_write_request;
        let mut middle = Vec::new();
        if !data.is_empty() {
            middle.push((
                Command::WRITE,
                self.charge_for(data.len()),
                body(|w| encode_write_request(w, offset, FileId::ANY, 0, &data))?,
            ));
        }
        let (_, rs) = self
            .open_do_close(tree, share, path, spec, middle, "store_file", deadline)
            .await?;
        if let Some(r) = rs.first() {
            check_written(r, share, path, data.len())?;
        }
        Ok(())
    }

    /// Sends a WRITE without waiting for its answer.
    pub(crate) fn start_write(
        &self,
        file: FileRef,
        offset: u64,
        data: bytes::Bytes,
        deadline: Instant,
    ) -> Result<WriteInFlight<'_>, Error> {
        let id = file_id(file)?;
        let len = data.len();
        let sent = self.shared.send_with_tail(
            Command::WRITE,
            file.tree,
            self.charge_for(len),
            deadline,
            "write",
            |w| encode_write_header(w, offset, id, len),
            data.clone(),
        )?;
        Ok(WriteInFlight { sent, data })
    }
}
