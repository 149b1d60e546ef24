//! SMB2 READ request and response (MS-SMB2 §2.2.19, §2.2.20).

use super::create::{buffer_range, require_structure_bytes, wire_usize, FileId};
use super::{body, buffer, structure_size, wire_u32, HEADER_LEN};
use crate::codec::{wire_u8, DecodeError, EncodeError, Writer};
use crate::types::Command;

/// Flags of the READ request (MS-SMB2 §2.2.19): "For the SMB 2.0.2, 2.1 and
/// 3.0 dialects, this field MUST NOT be used and MUST be reserved. The
/// client MUST set this field to 0". For 3.0.2 and 3.1.1 it "MUST contain
/// zero or more of the following values".
pub mod read_flags {
    /// SMB2_READFLAG_READ_UNBUFFERED: read directly from the underlying storage.
    pub const READ_UNBUFFERED: u8 = 0x01;
    /// SMB2_READFLAG_REQUEST_COMPRESSED: ask the server to compress the
    /// response (3.1.1 only).
    pub const REQUEST_COMPRESSED: u8 = 0x02;
}

/// Channel values of the READ and WRITE requests (MS-SMB2 §2.2.19,
/// §2.2.21). Over TCP only [`channel::NONE`] is meaningful.
pub mod channel {
    /// SMB2_CHANNEL_NONE: no channel information is present.
    pub const NONE: u32 = 0x0000_0000;
    /// SMB2_CHANNEL_RDMA_V1.
    pub const RDMA_V1: u32 = 0x0000_0001;
    /// SMB2_CHANNEL_RDMA_V1_INVALIDATE.
    pub const RDMA_V1_INVALIDATE: u32 = 0x0000_0002;
    /// SMB2_CHANNEL_RDMA_TRANSFORM.
    pub const RDMA_TRANSFORM: u32 = 0x0000_0003;
}

/// The Padding a client usually asks for: data right after the 16-byte
/// fixed part of the READ response body (64 + 16 = 0x50), which is what
/// Windows clients send.
pub const DEFAULT_READ_PADDING: u8 = 0x50;

/// Fixed part of the READ request body, StructureSize through
/// ReadChannelInfoLength (StructureSize 49 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 48;
/// Fixed part of the READ response body, StructureSize through
/// Reserved2/Flags (StructureSize 17 counts one byte of Buffer).
const RESPONSE_FIXED_LEN: usize = 16;

/// SMB2 READ Request (MS-SMB2 §2.2.19).
///
/// Body: StructureSize (2, "The client MUST set this field to 49 ...
/// regardless of how long Buffer[] actually is"), Padding (1), Flags (1),
/// Length (4), Offset (8), FileId (16), MinimumCount (4), Channel (4),
/// RemainingBytes (4), ReadChannelInfoOffset (2), ReadChannelInfoLength
/// (2), Buffer.
///
/// The Buffer holds the read channel information (RDMA only); when there is
/// none the client still sends one zero byte (the "1-byte buffer rule":
/// StructureSize 49 counts it, and servers such as Samba reject a 48-byte
/// body). [`ReadRequest::encode`] writes that byte and
/// [`ReadRequest::decode`] insists on it. Read channel information is not
/// modelled: encode sends none, decode checks that it lies inside the
/// message and otherwise ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// Padding: "The requested offset from the start of the SMB2 header, in
    /// bytes, at which to place the data read in the SMB2 READ Response
    /// ... not binding on the server" (see [`DEFAULT_READ_PADDING`]).
    pub padding: u8,
    /// Flags (see [`read_flags`]).
    pub flags: u8,
    /// Length: bytes to read; "can be zero bytes".
    pub length: u32,
    /// Offset into the file: "If the read is being executed on a pipe, the
    /// Offset MUST be set to 0 by the client".
    pub offset: u64,
    /// The open to read from.
    pub file_id: FileId,
    /// MinimumCount: the least number of bytes for the read to succeed.
    pub minimum_count: u32,
    /// Channel (see [`channel`]).
    pub channel: u32,
    /// RemainingBytes: a hint of how much more the client will read (or,
    /// with an RDMA channel, the bytes to transfer).
    pub remaining_bytes: u32,
}

impl ReadRequest {
    /// Appends the 49-byte request body to `w` (which holds the SMB2
    /// header): the fixed part with ReadChannelInfoOffset/Length 0 and one
    /// zero Buffer byte.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(49)
            .u8(self.padding)
            .u8(self.flags)
            .u32(self.length)
            .u64(self.offset);
        self.file_id.encode(w);
        w.u32(self.minimum_count)
            .u32(self.channel)
            .u32(self.remaining_bytes)
            .u16(0)
            .u16(0)
            .u8(0);
    }

    /// Decodes a READ request. StructureSize must be 49 and the body must
    /// hold at least 49 bytes; a non-empty read channel information buffer
    /// must lie after the fixed part and inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 READ request";
        let (_, mut r) = body(msg, Command::READ, what)?;
        structure_size(&mut r, 49, what)?;
        let padding = r.u8(what)?;
        let flags = r.u8(what)?;
        let length = r.u32(what)?;
        let offset = r.u64(what)?;
        let file_id = FileId::decode(&mut r, what)?;
        let minimum_count = r.u32(what)?;
        let channel = r.u32(what)?;
        let remaining_bytes = r.u32(what)?;
        let info_offset = r.u16(what)?;
        let info_length = r.u16(what)?;
        require_structure_bytes(msg, 49, what)?;
        buffer(
            msg,
            usize::from(info_offset),
            usize::from(info_length),
            HEADER_LEN + REQUEST_FIXED_LEN,
            "SMB2 READ request channel information",
        )?;
        Ok(ReadRequest {
            padding,
            flags,
            length,
            offset,
            file_id,
            minimum_count,
            channel,
            remaining_bytes,
        })
    }
}

/// SMB2 READ Response (MS-SMB2 §2.2.20), owned form.
///
/// Body: StructureSize (2, "The server MUST set this field to 17"),
/// DataOffset (1, "The offset, in bytes, from the beginning of the header to
/// the data read"), Reserved (1, "the client MUST ignore it on receipt"),
/// DataLength (4), DataRemaining (4), Reserved2/Flags (4; reserved before
/// 3.1.1, where SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM is the only flag, not
/// modelled here), Buffer.
///
/// For large reads prefer [`read_response_data_range`], which locates the
/// data without copying it. A READ on a named pipe may complete with
/// STATUS_BUFFER_OVERFLOW and still carry this body and data (MS-SMB2
/// §3.3.4.4); decoding does not look at the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResponse {
    /// DataRemaining: "The length, in bytes, of the data being sent on the
    /// Channel specified in the request" (0 over TCP).
    pub data_remaining: u32,
    /// The data read.
    pub data: Vec<u8>,
}

impl ReadResponse {
    /// Appends the response body to `w` (which holds exactly the SMB2 header
    /// at position 0); the data follows the fixed part, at offset 80. An
    /// empty Buffer is sent as one zero byte: "The minimum length is 1 byte"
    /// (a server normally answers an empty read with STATUS_END_OF_FILE
    /// instead).
    ///
    /// # Errors
    ///
    /// If the data exceeds 4 GiB, or `w` holds more than the header (the
    /// one-byte DataOffset could not express the offset).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let offset = wire_u8(
            w.len() + RESPONSE_FIXED_LEN,
            "SMB2 READ response DataOffset",
        )?;
        let length = wire_u32(self.data.len(), "SMB2 READ response DataLength")?;
        w.u16(17)
            .u8(offset)
            .u8(0)
            .u32(length)
            .u32(self.data_remaining)
            .u32(0);
        if self.data.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.data);
        }
        Ok(())
    }

    /// Decodes a READ response, copying the data. Validation is that of
    /// [`read_response_data_range`].
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let (data_remaining, range) = parse_response(msg)?;
        Ok(ReadResponse {
            data_remaining,
            data: msg[range].to_vec(),
        })
    }
}

/// Locates the data of a READ response without copying it: returns the
/// range of `msg` (one message, starting at its SMB2 header) that holds the
/// DataLength bytes at DataOffset, so that the caller can slice a shared
/// buffer (e.g. `bytes::Bytes::slice`) instead of copying.
///
/// StructureSize must be 17 and the fixed part present; a non-empty data
/// buffer must start at or after offset 80 (the end of the fixed part) and
/// end inside `msg`. A DataLength of 0 yields the empty range
/// `msg.len()..msg.len()` whatever DataOffset says.
pub fn read_response_data_range(msg: &[u8]) -> Result<std::ops::Range<usize>, DecodeError> {
    parse_response(msg).map(|(_, range)| range)
}

/// Shared part of [`ReadResponse::decode`] and [`read_response_data_range`]:
/// returns DataRemaining and the data range.
fn parse_response(msg: &[u8]) -> Result<(u32, std::ops::Range<usize>), DecodeError> {
    let what = "SMB2 READ response";
    let (_, mut r) = body(msg, Command::READ, what)?;
    structure_size(&mut r, 17, what)?;
    let data_offset = r.u8(what)?;
    r.skip(1, what)?; // Reserved
    let data_length = r.u32(what)?;
    let data_remaining = r.u32(what)?;
    r.skip(4, what)?; // Reserved2/Flags
    let range = buffer_range(
        msg,
        usize::from(data_offset),
        wire_usize(data_length),
        HEADER_LEN + RESPONSE_FIXED_LEN,
        "SMB2 READ response data",
    )?;
    Ok((data_remaining, range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn sample_request() -> ReadRequest {
        ReadRequest {
            padding: DEFAULT_READ_PADDING,
            flags: 0,
            length: 0x0001_0000,
            offset: 0x1000,
            file_id: FileId {
                persistent: 0x1122_3344_5566_7788,
                volatile: 0x99,
            },
            minimum_count: 0,
            channel: channel::NONE,
            remaining_bytes: 0,
        }
    }

    #[test]
    fn request_matches_hand_computed_bytes() {
        let mut w = request_writer(Command::READ);
        sample_request().encode(&mut w);
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x31, 0x00,             // StructureSize 49
            0x50,                   // Padding 80
            0x00,                   // Flags
            0x00, 0x00, 0x01, 0x00, // Length 65536
            0x00, 0x10, 0, 0, 0, 0, 0, 0, // Offset 0x1000
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // FileId.Persistent
            0x99, 0, 0, 0, 0, 0, 0, 0, // FileId.Volatile
            0x00, 0x00, 0x00, 0x00, // MinimumCount
            0x00, 0x00, 0x00, 0x00, // Channel NONE
            0x00, 0x00, 0x00, 0x00, // RemainingBytes
            0x00, 0x00,             // ReadChannelInfoOffset
            0x00, 0x00,             // ReadChannelInfoLength
            0x00,                   // Buffer: the one required byte
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(ReadRequest::decode(&msg).unwrap(), sample_request());
        // Every truncation fails, including the one that drops only the
        // Buffer byte.
        assert_truncations_fail(&msg, ReadRequest::decode);
        mutate_never_panics(&msg, ReadRequest::decode);
    }

    #[test]
    fn hostile_requests_fail() {
        let mut w = request_writer(Command::READ);
        sample_request().encode(&mut w);
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            ReadRequest::decode(&m)
        };
        assert!(with(64, &[0x30, 0x00]).is_err()); // StructureSize 48
        assert!(with(12, &[0x09, 0x00]).is_err()); // WRITE, not READ
        assert!(with(108, &[0x6F, 0x00, 0x01, 0x00]).is_err()); // channel info in the fixed part
        assert!(with(108, &[0x70, 0x00, 0x02, 0x00]).is_err()); // one byte past the end
        assert!(with(108, &[0x71, 0x00, 0x01, 0x00]).is_err()); // past the end
        assert!(with(108, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // One byte of channel information at 112 is the Buffer byte itself.
        assert!(with(108, &[0x70, 0x00, 0x01, 0x00]).is_ok());
        // Zero length with any offset is ignored.
        assert!(with(108, &[0xFF, 0xFF, 0x00, 0x00]).is_ok());
    }

    fn response_msg(resp: &ReadResponse, status: NtStatus) -> Vec<u8> {
        let mut w = response_writer(Command::READ, status);
        resp.encode(&mut w).unwrap();
        w.into_vec()
    }

    #[test]
    fn response_round_trip_and_zero_copy_range() {
        let resp = ReadResponse {
            data_remaining: 0,
            data: b"hello, world".to_vec(),
        };
        let msg = response_msg(&resp, NtStatus::SUCCESS);
        #[rustfmt::skip]
        let head: &[u8] = &[
            0x11, 0x00,             // StructureSize 17
            0x50,                   // DataOffset 80
            0x00,                   // Reserved
            0x0C, 0x00, 0x00, 0x00, // DataLength 12
            0x00, 0x00, 0x00, 0x00, // DataRemaining
            0x00, 0x00, 0x00, 0x00, // Reserved2
        ];
        assert_eq!(&msg[64..80], head);
        assert_eq!(read_response_data_range(&msg).unwrap(), 80..92);
        assert_eq!(ReadResponse::decode(&msg).unwrap(), resp);
        assert_truncations_fail(&msg, ReadResponse::decode);
        assert_truncations_fail(&msg, read_response_data_range);
        mutate_never_panics(&msg, ReadResponse::decode);
        mutate_never_panics(&msg, read_response_data_range);

        // A pipe read answered with STATUS_BUFFER_OVERFLOW carries data too.
        let msg = response_msg(&resp, NtStatus::BUFFER_OVERFLOW);
        assert_eq!(ReadResponse::decode(&msg).unwrap(), resp);

        // Data placed further out (a server honouring a larger Padding).
        let mut w = response_writer(Command::READ, NtStatus::SUCCESS);
        w.bytes(&[17, 0, 0x58, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        w.zeros(8).bytes(b"abc");
        let msg = w.into_vec();
        assert_eq!(read_response_data_range(&msg).unwrap(), 88..91);
        let r = ReadResponse::decode(&msg).unwrap();
        assert_eq!((r.data_remaining, &r.data[..]), (9, &b"abc"[..]));
    }

    #[test]
    fn empty_response_and_hostile_offsets() {
        let empty = ReadResponse {
            data_remaining: 0,
            data: vec![],
        };
        let msg = response_msg(&empty, NtStatus::SUCCESS);
        assert_eq!(msg.len(), 64 + 17);
        assert_eq!(ReadResponse::decode(&msg).unwrap(), empty);
        assert_eq!(
            read_response_data_range(&msg).unwrap(),
            msg.len()..msg.len()
        );

        let good = response_msg(
            &ReadResponse {
                data_remaining: 0,
                data: vec![1, 2, 3, 4],
            },
            NtStatus::SUCCESS,
        );
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            read_response_data_range(&m)
        };
        assert!(with(64, &[9, 0]).is_err()); // ERROR body
        assert!(with(66, &[0x00]).is_err()); // data in the header
        assert!(with(66, &[0x4F]).is_err()); // data in the fixed part
        assert!(with(66, &[0x51]).is_err()); // runs one byte past the end
        assert!(with(66, &[0xFF]).is_err());
        assert!(with(68, &[5, 0, 0, 0]).is_err()); // length one too long
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // Zero length with any offset is empty.
        let mut m = good.clone();
        m[66] = 0xFF;
        m[68..72].copy_from_slice(&[0, 0, 0, 0]);
        assert!(ReadResponse::decode(&m).unwrap().data.is_empty());
    }

    #[test]
    fn response_data_offset_limit() {
        use crate::codec::testutil::assert_too_large;
        // DataOffset is one byte: the data must start by offset 255, so
        // the body may start at 255 - 16 at the latest.
        let resp = ReadResponse {
            data_remaining: 0,
            data: b"x".to_vec(),
        };
        let mut w = Writer::new();
        w.zeros(255 - RESPONSE_FIXED_LEN);
        resp.encode(&mut w).unwrap();
        assert_eq!(w.as_slice()[255 - RESPONSE_FIXED_LEN + 2], 255);
        let mut w = Writer::new();
        w.zeros(256 - RESPONSE_FIXED_LEN);
        assert_too_large(
            resp.encode(&mut w),
            "SMB2 READ response DataOffset",
            256,
            255,
        );
    }
}
