//! SMB_COM_WRITE_ANDX (0x2F; MS-CIFS §2.2.4.43, MS-SMB §2.2.4.3), with
//! 64-bit offsets and CAP_LARGE_WRITEX lengths.

use std::ops::Range;

use super::andx::{check_command, expect_word_count, first_block, put_andx_none};
use super::header::{command, HEADER_LEN};
use crate::codec::{checked_range, wire_u16, wire_u32, DecodeError, EncodeError, Reader, Writer};

/// WriteMode bits (MS-CIFS §2.2.4.43.1).
pub mod write_mode {
    /// WritethroughMode: write to stable storage before responding.
    pub const WRITETHROUGH: u16 = 0x0001;
    /// ReadBytesAvailable: return the bytes available to read from a pipe
    /// in the response's Available field.
    pub const READ_BYTES_AVAILABLE: u16 = 0x0002;
    /// RAW_MODE: the named pipe write is in raw (byte) mode.
    pub const RAW_MODE: u16 = 0x0004;
    /// MSG_START: this write starts a named pipe message.
    pub const MSG_START: u16 = 0x0008;
}

/// Size of the request's parameter words in the 14-word form.
const REQUEST_WORDS: usize = 28;

/// SMB_COM_WRITE_ANDX request in its 14-word form (MS-CIFS §2.2.4.43.1,
/// MS-SMB §2.2.4.3.1).
///
/// Words: AndX (4), FID (2), Offset (4), Timeout (4), WriteMode (2),
/// Remaining (2), DataLengthHigh (2), DataLength (2), DataOffset (2),
/// OffsetHigh (4). Bytes: Pad (1), Data. The data length is DataLength |
/// DataLengthHigh << 16 (more than 0xFFFF needs CAP_LARGE_WRITEX) and
/// DataOffset counts from the start of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAndxRequest {
    /// FID to write to.
    pub fid: u16,
    /// Offset in the file: Offset holds the low 32 bits, OffsetHigh the high.
    pub offset: u64,
    /// WriteMode (see [`write_mode`]).
    pub write_mode: u16,
    /// Remaining: for pipe message writes, the bytes of the message still to
    /// come; normally 0.
    pub remaining: u16,
    /// The data.
    pub data: Vec<u8>,
}

impl WriteAndxRequest {
    /// Appends the whole request to `w`, which holds exactly the SMB1 header
    /// at position 0 (see [`encode_write_andx_header`] for the layout).
    ///
    /// # Errors
    ///
    /// If the data is 4 GiB or more.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        write_header(
            w,
            self.fid,
            self.offset,
            self.write_mode,
            self.remaining,
            self.data.len(),
        )?;
        w.bytes(&self.data);
        Ok(())
    }

    /// Decodes the request (WordCount "MUST be either 0x0C or 0x0E"; with 12
    /// words there is no OffsetHigh), copying the data located as
    /// [`write_andx_data_range`] describes.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "WRITE_ANDX request";
        let (fields, range) = parse_request(msg)?;
        let mut r = Reader::new(&fields);
        r.skip(4, what)?; // AndX
        let fid = r.u16(what)?;
        let offset_low = r.u32(what)?;
        r.skip(4, what)?; // Timeout
        let write_mode = r.u16(what)?;
        let remaining = r.u16(what)?;
        r.skip(6, what)?; // DataLengthHigh, DataLength, DataOffset
        let offset_high = r.u32(what)?;
        Ok(WriteAndxRequest {
            fid,
            offset: (u64::from(offset_high) << 32) | u64::from(offset_low),
            write_mode,
            remaining,
            data: msg[range].to_vec(),
        })
    }
}

/// Appends a whole WRITE_ANDX request writing `data` at `offset` of `fid`
/// to `w`, which holds exactly the SMB1 header at position 0; Remaining
/// is 0. Same as [`encode_write_andx_header`] followed by the data.
///
/// # Errors
///
/// If `data` is 4 GiB or more.
pub fn encode_write_andx(
    w: &mut Writer,
    fid: u16,
    offset: u64,
    write_mode: u16,
    data: &[u8],
) -> Result<(), EncodeError> {
    write_header(w, fid, offset, write_mode, 0, data.len())?;
    w.bytes(data);
    Ok(())
}

/// Appends everything of a WRITE_ANDX request for `len` bytes at `offset`
/// of `fid` except the data itself, so that the caller can send the data
/// from its own buffer without copying it into `w`.
///
/// `w` must hold exactly the SMB1 header at position 0. Written: WordCount
/// 14, the AndX words (chain end), FID, Offset (low 32 bits), Timeout 0,
/// `write_mode`, Remaining 0, DataLengthHigh and DataLength (`len`'s high
/// and low 16 bits), DataOffset, OffsetHigh, ByteCount, and the one Pad
/// byte of MS-CIFS §2.2.4.43.1 ("UCHAR Pad"). DataOffset is `w.len()` after
/// the call (64 with a 32-byte header): the data must follow immediately,
/// and the message is complete once `len` bytes have been appended.
/// ByteCount holds the low 16 bits of 1 + `len`: for 64 KiB or more it
/// cannot hold the length, and servers use DataLength/DataLengthHigh.
///
/// # Errors
///
/// If `len` is 4 GiB or more.
pub fn encode_write_andx_header(
    w: &mut Writer,
    fid: u16,
    offset: u64,
    write_mode: u16,
    len: usize,
) -> Result<(), EncodeError> {
    write_header(w, fid, offset, write_mode, 0, len)
}

fn write_header(
    w: &mut Writer,
    fid: u16,
    offset: u64,
    write_mode: u16,
    remaining: u16,
    len: usize,
) -> Result<(), EncodeError> {
    wire_u32(len, "WRITE_ANDX DataLength and DataLengthHigh")?;
    // WordCount, words, ByteCount, Pad: the data follows.
    let data_offset = wire_u16(w.len() + 1 + REQUEST_WORDS + 2 + 1, "WRITE_ANDX DataOffset")?;
    w.u8(14);
    put_andx_none(w);
    w.u16(fid)
        .u32(offset as u32)
        .u32(0) // Timeout
        .u16(write_mode)
        .u16(remaining)
        .u16((len >> 16) as u16)
        .u16((len & 0xFFFF) as u16)
        .u16(data_offset)
        .u32((offset >> 32) as u32)
        .u16(((1 + len) & 0xFFFF) as u16)
        .u8(0); // Pad
    Ok(())
}

/// Locates the data of a WRITE_ANDX request without copying it (for
/// servers): the range of `msg` (which starts at the SMB1 header) that holds
/// DataLength | DataLengthHigh << 16 bytes at DataOffset (MS-SMB
/// §2.2.4.3.1).
///
/// WordCount must be 12 or 14 and the ByteCount field present. As for reads,
/// ByteCount is not checked against the data (it cannot hold 64 KiB or
/// more); a non-empty data range must start after the ByteCount field and
/// end inside the message. Empty data yields an empty range whatever
/// DataOffset says.
pub fn write_andx_data_range(msg: &[u8]) -> Result<Range<usize>, DecodeError> {
    parse_request(msg).map(|(_, range)| range)
}

/// Returns the request's words, padded to the 14-word form (OffsetHigh 0
/// for 12 words), and the data range.
fn parse_request(msg: &[u8]) -> Result<([u8; REQUEST_WORDS], Range<usize>), DecodeError> {
    let what = "WRITE_ANDX request";
    check_command(msg, command::WRITE_ANDX, what)?;
    let mut r = Reader::at(msg, HEADER_LEN, what)?;
    let wc = usize::from(r.u8(what)?);
    if wc != 12 && wc != 14 {
        return Err(DecodeError::invalid(
            what,
            format!("WordCount is {wc}, expected 12 or 14"),
        ));
    }
    let mut fields = [0u8; REQUEST_WORDS];
    fields[..2 * wc].copy_from_slice(r.take(2 * wc, what)?);
    r.skip(2, what)?; // ByteCount
    let bytes_start = r.position();
    let mut words = Reader::new(&fields);
    words.skip(4 + 2 + 4 + 4 + 2 + 2, what)?; // up to DataLengthHigh
    let length_high = words.u16(what)?;
    let length_low = words.u16(what)?;
    let offset = usize::from(words.u16(what)?);
    let length = (usize::from(length_high) << 16) | usize::from(length_low);
    if length == 0 {
        return Ok((fields, bytes_start..bytes_start));
    }
    let data_what = "WRITE_ANDX request Data";
    if offset < bytes_start {
        return Err(DecodeError::OutOfBounds {
            what: data_what,
            offset,
            length,
            bound: msg.len(),
        });
    }
    Ok((fields, checked_range(data_what, offset, length, msg.len())?))
}

/// SMB_COM_WRITE_ANDX response (MS-CIFS §2.2.4.43.2, MS-SMB §2.2.4.3.2;
/// WordCount 6).
///
/// Words: AndX (4), Count (2), Available (2), CountHigh (2), Reserved (2).
/// ByteCount is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteAndxResponse {
    /// Bytes written: Count | CountHigh << 16 as the server sent them (see
    /// [`Self::written`]).
    pub count: u32,
    /// Available: bytes readable from a pipe (with READ_BYTES_AVAILABLE),
    /// else meaningless.
    pub available: u16,
}

impl WriteAndxResponse {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(6);
        put_andx_none(w);
        w.u16((self.count & 0xFFFF) as u16)
            .u16(self.available)
            .u16((self.count >> 16) as u16)
            .u16(0)
            .u16(0);
    }

    /// Decodes the response (WordCount "MUST be 0x06"; the ByteCount bytes
    /// must be present and are ignored).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "WRITE_ANDX response";
        let (_, block) = first_block(msg, command::WRITE_ANDX, what)?;
        expect_word_count(&block, &[6], what)?;
        let mut r = super::andx::words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let low = r.u16(what)?;
        let available = r.u16(what)?;
        let high = r.u16(what)?;
        Ok(WriteAndxResponse {
            count: (u32::from(high) << 16) | u32::from(low),
            available,
        })
    }

    /// The bytes written for a request of `requested` bytes: [`Self::count`],
    /// except that a count larger than the request keeps only its low 16
    /// bits, since servers without large writes have been seen to leave
    /// garbage in CountHigh (which MS-CIFS calls Reserved). Linux's CIFS
    /// client applies the same rule.
    pub fn written(&self, requested: u32) -> u32 {
        if self.count > requested {
            self.count & 0xFFFF
        } else {
            self.count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    #[test]
    fn request_matches_spec_layout() {
        let mut w = request_writer(command::WRITE_ANDX);
        encode_write_andx(
            &mut w,
            0x4007,
            0x0000_0002_0000_0010,
            write_mode::WRITETHROUGH,
            b"abc",
        )
        .unwrap();
        let msg = w.into_vec();
        // MS-CIFS §2.2.4.43.1 / MS-SMB §2.2.4.3.1, laid out by hand.
        let expected: &[u8] = &[
            0x0E, // WordCount 14
            0xFF, 0x00, 0x00, 0x00, // AndX
            0x07, 0x40, // FID
            0x10, 0x00, 0x00, 0x00, // Offset (low 32 bits)
            0x00, 0x00, 0x00, 0x00, // Timeout
            0x01, 0x00, // WriteMode
            0x00, 0x00, // Remaining
            0x00, 0x00, // DataLengthHigh
            0x03, 0x00, // DataLength
            0x40, 0x00, // DataOffset 64
            0x02, 0x00, 0x00, 0x00, // OffsetHigh
            0x04, 0x00, // ByteCount: Pad + 3
            0x00, // Pad
            b'a', b'b', b'c',
        ];
        assert_eq!(&msg[32..], expected);
        assert_eq!(write_andx_data_range(&msg).unwrap(), 64..67);
        let req = WriteAndxRequest::decode(&msg).unwrap();
        assert_eq!(
            req,
            WriteAndxRequest {
                fid: 0x4007,
                offset: 0x0000_0002_0000_0010,
                write_mode: write_mode::WRITETHROUGH,
                remaining: 0,
                data: b"abc".to_vec(),
            }
        );
        let mut w = request_writer(command::WRITE_ANDX);
        req.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, WriteAndxRequest::decode);
        mutate_never_panics(&msg, WriteAndxRequest::decode);

        // The header-only form leaves the data to the caller.
        let mut w = request_writer(command::WRITE_ANDX);
        encode_write_andx_header(
            &mut w,
            0x4007,
            0x0000_0002_0000_0010,
            write_mode::WRITETHROUGH,
            3,
        )
        .unwrap();
        assert_eq!(w.len(), 64);
        w.bytes(b"abc");
        assert_eq!(w.as_slice(), &msg[..]);
    }

    #[test]
    fn large_write_uses_data_length_high() {
        let mut w = request_writer(command::WRITE_ANDX);
        encode_write_andx_header(&mut w, 1, 0, 0, 0x0002_0005).unwrap();
        let m = w.as_slice();
        assert_eq!(&m[51..55], &[0x02, 0x00, 0x05, 0x00]); // DataLengthHigh, DataLength
        assert_eq!(&m[61..63], &[0x06, 0x00]); // ByteCount: (1 + len) & 0xFFFF
        w.zeros(0x0002_0005);
        assert_eq!(
            write_andx_data_range(w.as_slice()).unwrap(),
            64..64 + 0x0002_0005
        );
        assert!(write_andx_data_range(&w.as_slice()[..w.len() - 1]).is_err());
    }

    #[test]
    fn the_largest_write_fills_a_17_bit_message() {
        // 0x1FFFF − 64 = 131007 bytes: DataLengthHigh 1, DataLength 0xFFBF,
        // ByteCount (1 + 131007) & 0xFFFF, and the whole message 0x1FFFF
        // bytes, the most a 17-bit length (and Samba) takes.
        let len = 131_007;
        let mut w = request_writer(command::WRITE_ANDX);
        encode_write_andx_header(&mut w, 1, 0, 0, len).unwrap();
        let m = w.as_slice();
        assert_eq!(&m[51..55], &[0x01, 0x00, 0xBF, 0xFF]);
        assert_eq!(&m[61..63], &0xFFC0u16.to_le_bytes());
        assert_eq!(w.len() + len, 0x1_FFFF);
        // A response with CountHigh reports it whole.
        let resp = WriteAndxResponse {
            count: len as u32,
            available: 0,
        };
        let mut w = response_writer(command::WRITE_ANDX, true);
        resp.encode(&mut w);
        assert_eq!(&w.as_slice()[37..39], &0xFFBFu16.to_le_bytes()); // Count
        assert_eq!(&w.as_slice()[41..43], &[0x01, 0x00]); // CountHigh
        let back = WriteAndxResponse::decode(w.as_slice()).unwrap();
        assert_eq!(back.written(len as u32), len as u32);
    }

    #[test]
    fn twelve_word_requests_and_hostile_ones() {
        // The 12-word form (32-bit offsets) as an old client sends it.
        let mut w = request_writer(command::WRITE_ANDX);
        w.bytes(&[0x0C, 0xFF, 0, 0, 0, 0x01, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        w.bytes(&[
            0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x3C, 0x00, 0x03, 0x00, 0x00, b'h', b'i',
        ]);
        let msg = w.into_vec();
        let req = WriteAndxRequest::decode(&msg).unwrap();
        assert_eq!(
            (req.fid, req.offset, req.data.as_slice()),
            (1, 0x10, &b"hi"[..])
        );

        let good = {
            let mut w = request_writer(command::WRITE_ANDX);
            encode_write_andx(&mut w, 1, 0, 0, b"abc").unwrap();
            w.into_vec()
        };
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            write_andx_data_range(&m)
        };
        for wc in [0u8, 6, 13, 15, 0xFF] {
            assert!(with(32, &[wc]).is_err(), "WordCount {wc}");
        }
        assert!(with(53, &[0x04, 0x00]).is_err()); // DataLength one too long
        assert!(with(51, &[0x01, 0x00]).is_err()); // DataLengthHigh
        assert!(with(55, &[0x3E, 0x00]).is_err()); // DataOffset before the bytes
        assert!(with(55, &[0xFF, 0xFF]).is_err()); // DataOffset past the end
        assert_eq!(with(53, &[0x00, 0x00]).unwrap(), 63..63); // empty
        assert!(with(4, &[command::READ_ANDX]).is_err());
    }

    #[test]
    fn response_decodes_and_round_trips() {
        // Samba's reply to a 3-byte write.
        let mut w = response_writer(command::WRITE_ANDX, true);
        w.bytes(&[
            0x06, 0xFF, 0x00, 0x00, 0x00, 0x03, 0x00, 0xFF, 0xFF, 0x00, 0x00,
        ]);
        w.bytes(&[0x00, 0x00, 0x00, 0x00]);
        let msg = w.into_vec();
        let r = WriteAndxResponse::decode(&msg).unwrap();
        assert_eq!(
            r,
            WriteAndxResponse {
                count: 3,
                available: 0xFFFF
            }
        );
        assert_eq!(r.written(3), 3);
        let mut w = response_writer(command::WRITE_ANDX, true);
        r.encode(&mut w);
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, WriteAndxResponse::decode);
        mutate_never_panics(&msg, WriteAndxResponse::decode);

        // CountHigh.
        let big = WriteAndxResponse {
            count: 0x0001_0010,
            available: 0,
        };
        let mut w = response_writer(command::WRITE_ANDX, true);
        big.encode(&mut w);
        assert_eq!(WriteAndxResponse::decode(w.as_slice()).unwrap(), big);
        assert_eq!(big.written(0x0002_0000), 0x0001_0010);
        assert_eq!(big.written(0x10), 0x10); // garbage CountHigh dropped

        let mut bad = msg;
        bad[32] = 4;
        assert!(WriteAndxResponse::decode(&bad).is_err());
    }

    #[test]
    fn length_and_offset_limits() {
        use crate::codec::testutil::assert_too_large;
        let max = usize::try_from(u32::MAX).unwrap();
        // The header alone says how much data follows: DataLength and
        // DataLengthHigh hold 32 bits.
        let mut w = request_writer(command::WRITE_ANDX);
        encode_write_andx_header(&mut w, 1, 0, 0, max).unwrap();
        #[cfg(target_pointer_width = "64")]
        {
            let mut w = request_writer(command::WRITE_ANDX);
            assert_too_large(
                encode_write_andx_header(&mut w, 1, 0, 0, max + 1),
                "WRITE_ANDX DataLength and DataLengthHigh",
                max + 1,
                max,
            );
        }
        // DataOffset (16 bits): the data follows the 32 bytes of
        // WordCount, words, ByteCount and Pad.
        let mut w = Writer::new();
        w.zeros(65535 - 32);
        encode_write_andx(&mut w, 1, 0, 0, b"x").unwrap();
        let mut w = Writer::new();
        w.zeros(65536 - 32);
        assert_too_large(
            encode_write_andx(&mut w, 1, 0, 0, b"x"),
            "WRITE_ANDX DataOffset",
            65536,
            65535,
        );
    }
}
