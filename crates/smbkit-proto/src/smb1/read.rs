//! SMB_COM_READ_ANDX (0x2E; MS-CIFS §2.2.4.42, MS-SMB §2.2.4.2), with 64-bit
//! offsets and CAP_LARGE_READX counts.

use std::ops::Range;

use super::andx::{
    check_command, expect_word_count, first_block, put_andx_none, wire_u16, words_reader,
};
use super::header::{command, HEADER_LEN};
use crate::codec::{checked_range, wire_u32, DecodeError, EncodeError, Reader, Writer};

/// Size of the response's parameter words: "WordCount (1 byte): This field
/// MUST be 0x0C".
const RESPONSE_WORDS: usize = 24;
/// Where the response's data block starts for a 32-byte header: after the
/// header, WordCount, the words and ByteCount.
const RESPONSE_BYTES_START: usize = HEADER_LEN + 1 + RESPONSE_WORDS + 2;

/// SMB_COM_READ_ANDX request in its 12-word form (MS-CIFS §2.2.4.42.1,
/// MS-SMB §2.2.4.2.1).
///
/// Words: AndX (4), FID (2), Offset (4), MaxCountOfBytesToReturn (2),
/// MinCountOfBytesToReturn (2), Timeout_or_MaxCountHigh (4), Remaining (2),
/// OffsetHigh (4). ByteCount is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAndxRequest {
    /// FID to read from.
    pub fid: u16,
    /// Offset in the file: Offset holds the low 32 bits, OffsetHigh the high.
    pub offset: u64,
    /// Bytes to read. The low 16 bits go in MaxCountOfBytesToReturn; for
    /// file reads the high 16 bits go in MaxCountHigh (MS-SMB §2.2.4.2.1:
    /// "If the count of bytes to read is larger than 0xFFFF bytes in length,
    /// then the client MUST use the MaxCountHigh field to hold the two most
    /// significant bytes of the count"), which needs CAP_LARGE_READX.
    pub max_count: u32,
    /// MinCountOfBytesToReturn (pipes and devices).
    pub min_count: u16,
    /// For a named pipe read, the Timeout in milliseconds (0xFFFFFFFF: never
    /// time out) that Timeout_or_MaxCountHigh then holds instead of
    /// MaxCountHigh; `None` for file reads.
    pub pipe_timeout: Option<u32>,
    /// Remaining: "bytes remaining to satisfy the request" for pipes;
    /// normally 0.
    pub remaining: u16,
}

impl ReadAndxRequest {
    /// A file read of `count` bytes at `offset`.
    pub fn file(fid: u16, offset: u64, count: u32) -> Self {
        ReadAndxRequest {
            fid,
            offset,
            max_count: count,
            min_count: 0,
            pipe_timeout: None,
            remaining: 0,
        }
    }

    /// Appends the request's blocks (WordCount 12, ByteCount 0) to `w`,
    /// which holds exactly the SMB1 header at position 0. The chain ends
    /// here.
    ///
    /// # Errors
    ///
    /// If [`Self::pipe_timeout`] is set and [`Self::max_count`] exceeds
    /// 0xFFFF: a pipe read has no field for the high bits.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let low = (self.max_count & 0xFFFF) as u16;
        let timeout_or_high = match self.pipe_timeout {
            Some(t) => {
                if self.max_count > 0xFFFF {
                    return Err(EncodeError::too_long(
                        "READ_ANDX MaxCountOfBytesToReturn of a pipe read",
                        usize::try_from(self.max_count).unwrap_or(usize::MAX),
                        0xFFFF,
                    ));
                }
                t
            }
            None => self.max_count >> 16,
        };
        w.u8(12);
        put_andx_none(w);
        w.u16(self.fid)
            .u32(self.offset as u32)
            .u16(low)
            .u16(self.min_count)
            .u32(timeout_or_high)
            .u16(self.remaining)
            .u32((self.offset >> 32) as u32)
            .u16(0);
        Ok(())
    }

    /// Decodes the request (WordCount "MUST be either 0x0A or 0x0C"; with 10
    /// words there is no OffsetHigh). The request does not say whether the
    /// FID is a file or a pipe, so Timeout_or_MaxCountHigh is read as file
    /// reads use it: its low 16 bits are MaxCountHigh, ignored when 0xFFFF
    /// (MS-SMB §3.3.5.7, server processing of READ_ANDX: "If MaxCountHigh
    /// is set to 0xFFFF, then the value MUST be ignored"), and
    /// [`Self::pipe_timeout`] is `None`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "READ_ANDX request";
        let (_, block) = first_block(msg, command::READ_ANDX, what)?;
        let wc = expect_word_count(&block, &[10, 12], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let fid = r.u16(what)?;
        let offset_low = r.u32(what)?;
        let low = r.u16(what)?;
        let min_count = r.u16(what)?;
        let timeout_or_high = r.u32(what)?;
        let remaining = r.u16(what)?;
        let offset_high = if wc == 12 { r.u32(what)? } else { 0 };
        let high = match timeout_or_high & 0xFFFF {
            0xFFFF => 0,
            h => h,
        };
        Ok(ReadAndxRequest {
            fid,
            offset: (u64::from(offset_high) << 32) | u64::from(offset_low),
            max_count: (high << 16) | u32::from(low),
            min_count,
            pipe_timeout: None,
            remaining,
        })
    }
}

/// SMB_COM_READ_ANDX response (MS-CIFS §2.2.4.42.2, MS-SMB §2.2.4.2.2).
///
/// Words: AndX (4), Available (2), DataCompactionMode (2), Reserved1 (2),
/// DataLength (2), DataOffset (2), DataLengthHigh (2), Reserved2 (8).
/// Bytes: Pad, Data. The data length is DataLength | DataLengthHigh << 16
/// and DataOffset counts from the start of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAndxResponse {
    /// Available: bytes left in a named pipe (0xFFFF for files, as Samba
    /// and Windows send it).
    pub available: u16,
    /// The data read.
    pub data: Vec<u8>,
}

impl ReadAndxResponse {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0, as Windows and Samba lay them out: one pad byte
    /// so the data starts at the even offset 60, DataLengthHigh set, and
    /// ByteCount holding the low 16 bits of pad + data (for data of 64 KiB
    /// or more it cannot hold the whole length).
    ///
    /// # Errors
    ///
    /// If the data is 4 GiB or more.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let len = self.data.len();
        wire_u32(len, "READ_ANDX response DataLength and DataLengthHigh")?;
        let bytes_start = w.len() + 1 + RESPONSE_WORDS + 2;
        let pad = bytes_start % 2;
        let data_offset = wire_u16(bytes_start + pad, "READ_ANDX response DataOffset")?;
        w.u8(12);
        put_andx_none(w);
        w.u16(self.available)
            .u16(0) // DataCompactionMode
            .u16(0) // Reserved1
            .u16((len & 0xFFFF) as u16)
            .u16(data_offset)
            .u16((len >> 16) as u16)
            .zeros(8) // Reserved2
            .u16(((pad + len) & 0xFFFF) as u16)
            .zeros(pad)
            .bytes(&self.data);
        Ok(())
    }

    /// Decodes the response, copying the data; see [`read_andx_data_range`]
    /// for the checks and a zero-copy alternative.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let (available, range) = parse_response(msg)?;
        Ok(ReadAndxResponse {
            available,
            data: msg[range].to_vec(),
        })
    }
}

/// Locates the data of a READ_ANDX response without copying it: the range
/// of `msg` (which starts at the SMB1 header) that holds DataLength |
/// DataLengthHigh << 16 bytes at DataOffset (MS-SMB §2.2.4.2.2).
///
/// WordCount must be 12 and the ByteCount field present. ByteCount itself
/// is not checked against the data, since for reads of 64 KiB or more it
/// cannot hold the length; instead a non-empty data range must start after
/// the ByteCount field and end inside the message. Empty data yields an
/// empty range whatever DataOffset says. An error response (WordCount 0) is
/// rejected: check the header's Status first.
pub fn read_andx_data_range(msg: &[u8]) -> Result<Range<usize>, DecodeError> {
    parse_response(msg).map(|(_, range)| range)
}

/// Returns Available and the data range of a READ_ANDX response.
fn parse_response(msg: &[u8]) -> Result<(u16, Range<usize>), DecodeError> {
    let what = "READ_ANDX response";
    check_command(msg, command::READ_ANDX, what)?;
    let mut r = Reader::at(msg, HEADER_LEN, what)?;
    let wc = r.u8(what)?;
    if usize::from(wc) * 2 != RESPONSE_WORDS {
        return Err(DecodeError::invalid(
            what,
            format!("WordCount is {wc}, expected 12"),
        ));
    }
    let mut words = Reader::new(r.take(RESPONSE_WORDS, what)?);
    r.skip(2, what)?; // ByteCount
    let bytes_start = r.position();
    debug_assert_eq!(bytes_start, RESPONSE_BYTES_START);
    words.skip(4, what)?; // AndX
    let available = words.u16(what)?;
    words.skip(4, what)?; // DataCompactionMode, Reserved1
    let length_low = words.u16(what)?;
    let offset = usize::from(words.u16(what)?);
    let length_high = words.u16(what)?;
    let length = (usize::from(length_high) << 16) | usize::from(length_low);
    if length == 0 {
        return Ok((available, bytes_start..bytes_start));
    }
    let data_what = "READ_ANDX response Data";
    if offset < bytes_start {
        return Err(DecodeError::OutOfBounds {
            what: data_what,
            offset,
            length,
            bound: msg.len(),
        });
    }
    Ok((
        available,
        checked_range(data_what, offset, length, msg.len())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    #[test]
    fn request_matches_spec_layout() {
        let req = ReadAndxRequest::file(0x4007, 0x0000_0001_0000_2000, 0x0001_0000);
        let mut w = request_writer(command::READ_ANDX);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        // MS-CIFS §2.2.4.42.1 / MS-SMB §2.2.4.2.1, laid out by hand.
        let expected: &[u8] = &[
            0x0C, // WordCount 12
            0xFF, 0x00, 0x00, 0x00, // AndX
            0x07, 0x40, // FID
            0x00, 0x20, 0x00, 0x00, // Offset (low 32 bits)
            0x00, 0x00, // MaxCountOfBytesToReturn: 65536 & 0xFFFF
            0x00, 0x00, // MinCountOfBytesToReturn
            0x01, 0x00, 0x00, 0x00, // MaxCountHigh 1, Reserved
            0x00, 0x00, // Remaining
            0x01, 0x00, 0x00, 0x00, // OffsetHigh
            0x00, 0x00, // ByteCount
        ];
        assert_eq!(&msg[32..], expected);
        assert_eq!(ReadAndxRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, ReadAndxRequest::decode);
        mutate_never_panics(&msg, ReadAndxRequest::decode);

        // A pipe read puts its Timeout in the same field; 0xFFFF as
        // MaxCountHigh is ignored on decode.
        let pipe = ReadAndxRequest {
            pipe_timeout: Some(0xFFFF_FFFF),
            max_count: 4280,
            ..ReadAndxRequest::file(0x4001, 0, 0)
        };
        let mut w = request_writer(command::READ_ANDX);
        pipe.encode(&mut w).unwrap();
        assert_eq!(&w.as_slice()[47..51], &[0xFF; 4]);
        let back = ReadAndxRequest::decode(w.as_slice()).unwrap();
        assert_eq!((back.max_count, back.pipe_timeout), (4280, None));

        // The 10-word form has no OffsetHigh.
        let mut short = msg[..32].to_vec();
        short.push(10);
        short.extend_from_slice(&msg[33..53]);
        short.extend_from_slice(&[0, 0]);
        let back = ReadAndxRequest::decode(&short).unwrap();
        assert_eq!(back.offset, 0x2000);
    }

    /// A Samba reply with "hello": Available 0xFFFF, one pad byte, data at
    /// offset 60, ByteCount 6.
    fn samba_response() -> Vec<u8> {
        let mut w = response_writer(command::READ_ANDX, true);
        w.bytes(&[
            0x0C, 0xFF, 0x00, 0x00, 0x00, // WordCount, AndX
            0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, // Available, DataCompactionMode, Reserved1
            0x05, 0x00, 0x3C, 0x00, 0x00, 0x00, // DataLength, DataOffset 60, DataLengthHigh
            0, 0, 0, 0, 0, 0, 0, 0, // Reserved2
            0x06, 0x00, 0x00, // ByteCount, Pad
        ]);
        w.bytes(b"hello");
        w.into_vec()
    }

    #[test]
    fn response_decodes_and_round_trips() {
        let msg = samba_response();
        assert_eq!(read_andx_data_range(&msg).unwrap(), 60..65);
        let r = ReadAndxResponse::decode(&msg).unwrap();
        assert_eq!(r.available, 0xFFFF);
        assert_eq!(r.data, b"hello");
        let mut w = response_writer(command::READ_ANDX, true);
        r.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, ReadAndxResponse::decode);
        assert_truncations_fail(&msg, read_andx_data_range);
        mutate_never_panics(&msg, ReadAndxResponse::decode);

        // An empty read: empty range, DataOffset not consulted.
        let empty = ReadAndxResponse {
            available: 0,
            data: Vec::new(),
        };
        let mut w = response_writer(command::READ_ANDX, true);
        empty.encode(&mut w).unwrap();
        let mut m = w.into_vec();
        m[45..47].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(read_andx_data_range(&m).unwrap(), 59..59);
        assert_eq!(ReadAndxResponse::decode(&m).unwrap(), empty);
    }

    #[test]
    fn large_read_uses_data_length_high() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let r = ReadAndxResponse {
            available: 0xFFFF,
            data,
        };
        let mut w = response_writer(command::READ_ANDX, true);
        r.encode(&mut w).unwrap();
        let msg = w.into_vec();
        // DataLength 70000 & 0xFFFF, DataLengthHigh 1, ByteCount truncated.
        assert_eq!(&msg[43..45], &0x1170u16.to_le_bytes());
        assert_eq!(&msg[47..49], &[0x01, 0x00]);
        assert_eq!(&msg[57..59], &0x1171u16.to_le_bytes());
        assert_eq!(read_andx_data_range(&msg).unwrap(), 60..70_060);
        assert_eq!(ReadAndxResponse::decode(&msg).unwrap(), r);
        assert!(read_andx_data_range(&msg[..70_059]).is_err());
    }

    #[test]
    fn the_sizes_smbkit_asks_for_split_into_max_count_high() {
        // 0x1FFFF − 60 (a whole 17-bit message), 1 MiB, 0xFFFFFF − 60 (a
        // whole 24-bit message): low 16 bits in MaxCountOfBytesToReturn
        // (request offset 43), high 16 in MaxCountHigh (offset 47).
        for (count, low, high) in [
            (131_011u32, 0xFFC3u16, 0x0001u16),
            (0x10_0000, 0x0000, 0x0010),
            (0xFF_FFC3, 0xFFC3, 0x00FF),
        ] {
            let mut w = request_writer(command::READ_ANDX);
            ReadAndxRequest::file(1, 0, count).encode(&mut w).unwrap();
            let m = w.as_slice();
            assert_eq!(&m[43..45], &low.to_le_bytes(), "{count}");
            assert_eq!(
                &m[47..51],
                &[high as u8, (high >> 8) as u8, 0, 0],
                "{count}"
            );
            assert_eq!(ReadAndxRequest::decode(m).unwrap().max_count, count);
        }
        // And back: a 131011-byte answer is a 0x1FFFF-byte message.
        let r = ReadAndxResponse {
            available: 0xFFFF,
            data: vec![7; 131_011],
        };
        let mut w = response_writer(command::READ_ANDX, true);
        r.encode(&mut w).unwrap();
        assert_eq!(w.len(), 0x1_FFFF);
        assert_eq!(read_andx_data_range(w.as_slice()).unwrap(), 60..0x1_FFFF);
    }

    #[test]
    fn hostile_responses_fail() {
        let good = samba_response();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            read_andx_data_range(&m)
        };
        for wc in [0u8, 10, 11, 13, 0xFF] {
            assert!(with(32, &[wc]).is_err(), "WordCount {wc}");
        }
        assert!(with(43, &[0x06, 0x00]).is_err()); // DataLength one too long
        assert!(with(45, &[0x3A, 0x00]).is_err()); // DataOffset inside the words
        assert!(with(45, &[0x00, 0x00]).is_err()); // DataOffset into the header
        assert!(with(45, &[0xFF, 0xFF]).is_err()); // DataOffset past the end
        assert!(with(47, &[0xFF, 0xFF]).is_err()); // DataLengthHigh huge
        assert!(with(4, &[command::WRITE_ANDX]).is_err());
        // ByteCount is not what locates the data.
        assert_eq!(with(57, &[0x00, 0x00]).unwrap(), 60..65);
        let mut w = response_writer(command::READ_ANDX, true);
        w.bytes(&[0, 0, 0]);
        assert!(ReadAndxResponse::decode(w.as_slice()).is_err());
    }

    #[test]
    fn pipe_read_count_limit() {
        use crate::codec::testutil::assert_too_large;
        let pipe = |count: u32| ReadAndxRequest {
            fid: 1,
            offset: 0,
            max_count: count,
            min_count: 0,
            pipe_timeout: Some(u32::MAX),
            remaining: 0,
        };
        let mut w = request_writer(command::READ_ANDX);
        pipe(0xFFFF).encode(&mut w).unwrap();
        let mut w = request_writer(command::READ_ANDX);
        assert_too_large(
            pipe(0x1_0000).encode(&mut w),
            "READ_ANDX MaxCountOfBytesToReturn of a pipe read",
            0x1_0000,
            0xFFFF,
        );
        // A file read puts the high bits in MaxCountHigh.
        let mut w = request_writer(command::READ_ANDX);
        ReadAndxRequest::file(1, 0, 0x1_0000)
            .encode(&mut w)
            .unwrap();
    }

    #[test]
    fn response_data_offset_limit() {
        use crate::codec::testutil::assert_too_large;
        // DataOffset (16 bits) is where the data starts in `w`: after the
        // 27 bytes of WordCount, words and ByteCount, and a pad byte to an
        // even offset. 65534 is the last even offset that fits.
        let resp = ReadAndxResponse {
            available: 0xFFFF,
            data: b"x".to_vec(),
        };
        let mut w = Writer::new();
        w.zeros(65534 - 27);
        resp.encode(&mut w).unwrap();
        let mut w = Writer::new();
        w.zeros(65535 - 27);
        assert_too_large(
            resp.encode(&mut w),
            "READ_ANDX response DataOffset",
            65536,
            65535,
        );
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn response_data_length_limit() {
        use crate::codec::testutil::assert_too_large;
        // Zeroed, so mapped without being touched: the encoder refuses it
        // before reading it.
        let resp = ReadAndxResponse {
            available: 0xFFFF,
            data: vec![0; 1 << 32],
        };
        let mut w = response_writer(command::READ_ANDX, true);
        assert_too_large(
            resp.encode(&mut w),
            "READ_ANDX response DataLength and DataLengthHigh",
            1 << 32,
            (1 << 32) - 1,
        );
    }
}
