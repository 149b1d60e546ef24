//! SMB_COM_CLOSE (0x04; MS-CIFS §2.2.4.5) and SMB_COM_FLUSH (0x05; MS-CIFS
//! §2.2.4.6).

use super::andx::{expect_word_count, first_block, words_reader};
use super::header::command;
use crate::codec::{DecodeError, Writer};

/// LastTimeModified value that leaves the modification time alone
/// (MS-CIFS §2.2.4.5.1: "If the value is 0x00000000 or 0xFFFFFFFF, the
/// server MUST NOT change the last modification time").
pub const KEEP_LAST_TIME_MODIFIED: u32 = 0;

/// SMB_COM_CLOSE request (MS-CIFS §2.2.4.5.1): WordCount 3 (FID,
/// LastTimeModified), ByteCount 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    /// FID of the open to close.
    pub fid: u16,
    /// LastTimeModified (UTIME, seconds since 1970-01-01 UTC) to set, or
    /// [`KEEP_LAST_TIME_MODIFIED`].
    pub last_time_modified: u32,
}

/// SMB_COM_CLOSE response (MS-CIFS §2.2.4.5.2): WordCount 0, ByteCount 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseResponse;

impl CloseRequest {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(3).u16(self.fid).u32(self.last_time_modified).u16(0);
    }

    /// Decodes the request (WordCount "MUST be 0x03", ByteCount 0).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_CLOSE request";
        let (_, block) = first_block(msg, command::CLOSE, what)?;
        expect_word_count(&block, &[3], what)?;
        expect_no_bytes(block.bytes.len(), what)?;
        let mut r = words_reader(msg, &block);
        let fid = r.u16(what)?;
        let last_time_modified = r.u32(what)?;
        Ok(CloseRequest {
            fid,
            last_time_modified,
        })
    }
}

impl CloseResponse {
    /// Appends the response's blocks (WordCount 0, ByteCount 0) to `w`,
    /// which holds exactly the SMB1 header at position 0.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(0).u16(0);
    }

    /// Decodes the response (WordCount and ByteCount "MUST be" 0). This is
    /// also the shape of an error response: check the header's Status.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_CLOSE response";
        let (_, block) = first_block(msg, command::CLOSE, what)?;
        expect_word_count(&block, &[0], what)?;
        expect_no_bytes(block.bytes.len(), what)?;
        Ok(CloseResponse)
    }
}

fn expect_no_bytes(byte_count: usize, what: &'static str) -> Result<(), DecodeError> {
    if byte_count != 0 {
        return Err(DecodeError::invalid(
            what,
            format!("ByteCount is {byte_count}, expected 0"),
        ));
    }
    Ok(())
}

/// SMB_COM_FLUSH request (MS-CIFS §2.2.4.6.1): WordCount 1 (FID),
/// ByteCount 0. "If the FID is 0xFFFF, the server MUST flush all files
/// opened by the PID"; smbkit always names one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushRequest {
    /// FID of the open whose data is to be written to storage.
    pub fid: u16,
}

impl FlushRequest {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(1).u16(self.fid).u16(0);
    }

    /// Decodes the request (WordCount "MUST be 0x01", ByteCount 0).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_FLUSH request";
        let (_, block) = first_block(msg, command::FLUSH, what)?;
        expect_word_count(&block, &[1], what)?;
        expect_no_bytes(block.bytes.len(), what)?;
        let mut r = words_reader(msg, &block);
        Ok(FlushRequest { fid: r.u16(what)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    #[test]
    fn request_bytes_and_round_trip() {
        let req = CloseRequest {
            fid: 0x4001,
            last_time_modified: 0xFFFF_FFFF,
        };
        let mut w = request_writer(command::CLOSE);
        req.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(
            &msg[32..],
            &[0x03, 0x01, 0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00]
        );
        assert_eq!(CloseRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, CloseRequest::decode);
        mutate_never_panics(&msg, CloseRequest::decode);
        let mut bad = msg;
        bad[39] = 1;
        bad.push(0);
        assert!(CloseRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_round_trips() {
        let mut w = response_writer(command::CLOSE, true);
        CloseResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[32..], &[0, 0, 0]);
        assert_eq!(CloseResponse::decode(&msg), Ok(CloseResponse));
        assert_truncations_fail(&msg, CloseResponse::decode);
        mutate_never_panics(&msg, CloseResponse::decode);
        let mut bad = msg;
        bad[32] = 3;
        assert!(CloseResponse::decode(&bad).is_err());
    }

    #[test]
    fn flush_request_round_trips() {
        let mut w = request_writer(command::FLUSH);
        FlushRequest { fid: 0x4321 }.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[32..], &[1, 0x21, 0x43, 0, 0]);
        assert_eq!(
            FlushRequest::decode(&msg).unwrap(),
            FlushRequest { fid: 0x4321 }
        );
        assert_truncations_fail(&msg, FlushRequest::decode);
        mutate_never_panics(&msg, FlushRequest::decode);
    }
}
