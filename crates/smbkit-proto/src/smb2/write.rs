//! SMB2 WRITE request and response (MS-SMB2 §2.2.21, §2.2.22).

use super::create::{buffer_range, require_structure_bytes, wire_usize, FileId};
use super::{body, buffer, structure_size, wire_u16, wire_u32, HEADER_LEN};
use crate::codec::{DecodeError, EncodeError, Writer};
use crate::types::Command;

/// Flags of the WRITE request (MS-SMB2 §2.2.21): "A Flags field indicates
/// how to process the operation. This field MUST be constructed using zero
/// or more of the following values".
pub mod write_flags {
    /// SMB2_WRITEFLAG_WRITE_THROUGH: write the data to persistent storage
    /// before responding (not valid for SMB 2.0.2).
    pub const WRITE_THROUGH: u32 = 0x0000_0001;
    /// SMB2_WRITEFLAG_WRITE_UNBUFFERED: do not cache the data (3.0.2 and
    /// later).
    pub const WRITE_UNBUFFERED: u32 = 0x0000_0002;
}

/// Fixed part of the WRITE request body, StructureSize through Flags
/// (StructureSize 49 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 48;
/// The WRITE response body: StructureSize through WriteChannelInfoLength
/// (StructureSize 17 counts one byte of a Buffer that the response never
/// uses).
const RESPONSE_LEN: usize = 16;

/// Appends a WRITE request body for `data` to `w` (which holds exactly the
/// SMB2 header at position 0), with Channel SMB2_CHANNEL_NONE and
/// RemainingBytes 0, which is what a TCP client sends. The data is appended
/// once, straight from the caller's slice, at offset 112 (DataOffset: "The
/// offset, in bytes, from the beginning of the SMB2 header to the data being
/// written"); empty data is sent as one zero Buffer byte (StructureSize 49
/// counts it).
///
/// # Errors
///
/// If `data` exceeds 4 GiB (Length is a 32-bit field).
pub fn encode_write_request(
    w: &mut Writer,
    offset: u64,
    file_id: FileId,
    flags: u32,
    data: &[u8],
) -> Result<(), EncodeError> {
    encode_request(w, offset, file_id, 0, 0, flags, data)
}

/// The full encoder behind [`encode_write_request`] and
/// [`WriteRequest::encode`].
fn encode_request(
    w: &mut Writer,
    offset: u64,
    file_id: FileId,
    channel: u32,
    remaining_bytes: u32,
    flags: u32,
    data: &[u8],
) -> Result<(), EncodeError> {
    let length = wire_u32(data.len(), "SMB2 WRITE Length")?;
    let data_offset = wire_u16(w.len() + REQUEST_FIXED_LEN, "SMB2 WRITE DataOffset")?;
    w.u16(49).u16(data_offset).u32(length).u64(offset);
    file_id.encode(w);
    w.u32(channel)
        .u32(remaining_bytes)
        .u16(0) // WriteChannelInfoOffset
        .u16(0) // WriteChannelInfoLength
        .u32(flags);
    if data.is_empty() {
        w.u8(0);
    } else {
        w.bytes(data);
    }
    Ok(())
}

/// SMB2 WRITE Request (MS-SMB2 §2.2.21), owned form (for decoding; to send
/// a write without building one, use [`encode_write_request`]).
///
/// Body: StructureSize (2, "The client MUST set this field to 49 ...
/// regardless of how long Buffer[] actually is"), DataOffset (2), Length
/// (4), Offset (8), FileId (16), Channel (4), RemainingBytes (4),
/// WriteChannelInfoOffset (2), WriteChannelInfoLength (2), Flags (4),
/// Buffer.
///
/// Write channel information (RDMA only) is not modelled: encode sends
/// none, decode checks that it lies inside the message and otherwise
/// ignores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    /// Offset into the file: "If the write is being executed on a pipe, the
    /// Offset MUST be set to 0 by the client".
    pub offset: u64,
    /// The open to write to.
    pub file_id: FileId,
    /// Channel (see [`super::read::channel`]).
    pub channel: u32,
    /// RemainingBytes: with an RDMA channel, the bytes to transfer; 0
    /// otherwise.
    pub remaining_bytes: u32,
    /// Flags (see [`write_flags`]).
    pub flags: u32,
    /// The data to write.
    pub data: Vec<u8>,
}

impl WriteRequest {
    /// Appends the request body to `w` (which holds exactly the SMB2 header
    /// at position 0); see [`encode_write_request`] for the layout.
    ///
    /// # Errors
    ///
    /// If the data exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_request(
            w,
            self.offset,
            self.file_id,
            self.channel,
            self.remaining_bytes,
            self.flags,
            &self.data,
        )
    }

    /// Decodes a WRITE request, copying the data. Validation is that of
    /// [`write_request_data_range`].
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let (fields, range) = parse_request(msg)?;
        Ok(WriteRequest {
            offset: fields.offset,
            file_id: fields.file_id,
            channel: fields.channel,
            remaining_bytes: fields.remaining_bytes,
            flags: fields.flags,
            data: msg[range].to_vec(),
        })
    }
}

/// Locates the data of a WRITE request without copying it (for a server
/// that slices a shared receive buffer). StructureSize must be 49 and the
/// body at least 49 bytes long; non-empty data must start at or after
/// offset 112 (the end of the fixed part) and end inside `msg`; a Length of
/// 0 yields `msg.len()..msg.len()`. A non-empty write channel information
/// buffer must also lie after the fixed part and inside the message.
pub fn write_request_data_range(msg: &[u8]) -> Result<std::ops::Range<usize>, DecodeError> {
    parse_request(msg).map(|(_, range)| range)
}

/// The fixed fields of a WRITE request, as parsed.
struct RequestFields {
    offset: u64,
    file_id: FileId,
    channel: u32,
    remaining_bytes: u32,
    flags: u32,
}

fn parse_request(msg: &[u8]) -> Result<(RequestFields, std::ops::Range<usize>), DecodeError> {
    let what = "SMB2 WRITE request";
    let (_, mut r) = body(msg, Command::WRITE, what)?;
    structure_size(&mut r, 49, what)?;
    let data_offset = r.u16(what)?;
    let length = r.u32(what)?;
    let offset = r.u64(what)?;
    let file_id = FileId::decode(&mut r, what)?;
    let channel = r.u32(what)?;
    let remaining_bytes = r.u32(what)?;
    let info_offset = r.u16(what)?;
    let info_length = r.u16(what)?;
    let flags = r.u32(what)?;
    require_structure_bytes(msg, 49, what)?;
    let min = HEADER_LEN + REQUEST_FIXED_LEN;
    buffer(
        msg,
        usize::from(info_offset),
        usize::from(info_length),
        min,
        "SMB2 WRITE request channel information",
    )?;
    let range = buffer_range(
        msg,
        usize::from(data_offset),
        wire_usize(length),
        min,
        "SMB2 WRITE request data",
    )?;
    Ok((
        RequestFields {
            offset,
            file_id,
            channel,
            remaining_bytes,
            flags,
        },
        range,
    ))
}

/// SMB2 WRITE Response (MS-SMB2 §2.2.22).
///
/// Body: StructureSize (2, "The server MUST set this field to 17"),
/// Reserved (2, "the client MUST ignore it on receipt"), Count (4),
/// Remaining (4, "This field MUST NOT be used and MUST be reserved. The
/// server MUST set this to 0"), WriteChannelInfoOffset (2) and
/// WriteChannelInfoLength (2) (both reserved, "The server MUST set this to
/// 0, and the client MUST ignore it on receipt"). The Buffer byte that
/// StructureSize 17 counts is never used; encode sends the 16 bytes alone,
/// as Samba does, and decode does not require it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteResponse {
    /// Count: "The number of bytes written."
    pub count: u32,
    /// Remaining: reserved, 0.
    pub remaining: u32,
}

impl WriteResponse {
    /// Appends the 16-byte response body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(17)
            .u16(0)
            .u32(self.count)
            .u32(self.remaining)
            .u16(0)
            .u16(0);
    }

    /// Decodes a WRITE response; StructureSize must be 17 and the 16-byte
    /// fixed part present.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 WRITE response";
        let (_, mut r) = body(msg, Command::WRITE, what)?;
        structure_size(&mut r, 17, what)?;
        r.skip(2, what)?;
        let count = r.u32(what)?;
        let remaining = r.u32(what)?;
        r.skip(RESPONSE_LEN - 12, what)?; // WriteChannelInfoOffset/Length
        Ok(WriteResponse { count, remaining })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::read::channel;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    const FID: FileId = FileId {
        persistent: 0x0A,
        volatile: 0x0B,
    };

    #[test]
    fn encode_write_request_layout() {
        let mut w = request_writer(Command::WRITE);
        encode_write_request(&mut w, 0x2000, FID, write_flags::WRITE_THROUGH, b"xyz").unwrap();
        let msg = w.into_vec();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x31, 0x00,             // StructureSize 49
            0x70, 0x00,             // DataOffset 112
            0x03, 0x00, 0x00, 0x00, // Length 3
            0x00, 0x20, 0, 0, 0, 0, 0, 0, // Offset 0x2000
            0x0A, 0, 0, 0, 0, 0, 0, 0, // FileId.Persistent
            0x0B, 0, 0, 0, 0, 0, 0, 0, // FileId.Volatile
            0x00, 0x00, 0x00, 0x00, // Channel NONE
            0x00, 0x00, 0x00, 0x00, // RemainingBytes
            0x00, 0x00, 0x00, 0x00, // WriteChannelInfoOffset/Length
            0x01, 0x00, 0x00, 0x00, // Flags WRITE_THROUGH
            b'x', b'y', b'z',
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(write_request_data_range(&msg).unwrap(), 112..115);
        let req = WriteRequest::decode(&msg).unwrap();
        assert_eq!(
            req,
            WriteRequest {
                offset: 0x2000,
                file_id: FID,
                channel: channel::NONE,
                remaining_bytes: 0,
                flags: write_flags::WRITE_THROUGH,
                data: b"xyz".to_vec(),
            }
        );
        // The struct encoder produces the same bytes.
        let mut w = request_writer(Command::WRITE);
        req.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, WriteRequest::decode);
        mutate_never_panics(&msg, WriteRequest::decode);
    }

    #[test]
    fn empty_write_sends_one_buffer_byte() {
        let req = WriteRequest {
            offset: 0,
            file_id: FID,
            channel: 0,
            remaining_bytes: 7,
            flags: 0,
            data: vec![],
        };
        let mut w = request_writer(Command::WRITE);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 49);
        assert_eq!(WriteRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, WriteRequest::decode);
    }

    #[test]
    fn hostile_requests_fail() {
        let mut w = request_writer(Command::WRITE);
        encode_write_request(&mut w, 0, FID, 0, &[1, 2, 3, 4]).unwrap();
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            WriteRequest::decode(&m)
        };
        assert!(with(64, &[0x11, 0x00]).is_err()); // StructureSize
        assert!(with(12, &[0x08, 0x00]).is_err()); // READ, not WRITE
        assert!(with(66, &[0x00, 0x00]).is_err()); // data in the header
        assert!(with(66, &[0x6F, 0x00]).is_err()); // data in the fixed part
        assert!(with(66, &[0x71, 0x00]).is_err()); // one byte past the end
        assert!(with(66, &[0xFF, 0xFF]).is_err());
        assert!(with(68, &[5, 0, 0, 0]).is_err()); // length one too long
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(104, &[0x10, 0x00, 0x04, 0x00]).is_err()); // channel info in header
        assert!(with(104, &[0x70, 0x00, 0x05, 0x00]).is_err()); // channel info too long
        assert!(with(104, &[0x70, 0x00, 0x04, 0x00]).is_ok()); // may alias the data
    }

    #[test]
    fn response_round_trip() {
        let resp = WriteResponse {
            count: 65536,
            remaining: 0,
        };
        let mut w = response_writer(Command::WRITE, NtStatus::SUCCESS);
        resp.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(
            &msg[64..],
            &[17, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(WriteResponse::decode(&msg).unwrap(), resp);
        assert_truncations_fail(&msg, WriteResponse::decode);
        mutate_never_panics(&msg, WriteResponse::decode);
        let mut bad = msg;
        bad[64] = 9;
        assert!(WriteResponse::decode(&bad).is_err());
    }
}
