//! AndX chains (MS-CIFS §2.2.3.4) and the block parsing shared by the SMB1
//! command codecs.
//!
//! After the 32-byte header, every SMB1 command is an SMB_Parameters block
//! (WordCount, then WordCount 16-bit words; MS-CIFS §2.2.3.2) followed by an
//! SMB_Data block (ByteCount, then ByteCount bytes; MS-CIFS §2.2.3.3). An
//! "AndX" command starts its words with AndXCommand, AndXReserved and
//! AndXOffset, which link further parameter/data block pairs into one
//! message: "AndXOffset ... MUST be set to the offset in bytes from the start
//! of the SMB Header ... to the start of the WordCount field in the next SMB
//! command".
//!
//! The command decoders decode the FIRST block of a message;
//! [`andx_blocks`] walks a whole chain for callers that need the others.

use std::ops::Range;

use super::header::{command, Header, HEADER_LEN};
pub(crate) use crate::codec::wire_u16;
use crate::codec::{from_utf16le, from_utf16le_lossy, DecodeError, EncodeError, Reader, Writer};

/// SMB_COM_NO_ANDX_COMMAND (MS-CIFS §2.2.4.75): the AndXCommand value that
/// ends a chain. Requests that are not chained carry it with AndXOffset 0.
pub const NO_ANDX_COMMAND: u8 = 0xFF;

/// The longest chain [`andx_blocks`] accepts. MS-CIFS §2.2.3.4 sets "no
/// limit on the number of block pairs in a message specifically, only on the
/// total message size"; real chains have two or three blocks.
pub const MAX_ANDX_CHAIN: usize = 16;

/// True for the commands whose parameter words start with the AndX header
/// (MS-CIFS §2.2.3.4: "identified by the NT LAN Manager convention of
/// appending "_ANDX" to the command name"): LOCKING_ANDX, OPEN_ANDX,
/// READ_ANDX, WRITE_ANDX, SESSION_SETUP_ANDX, LOGOFF_ANDX,
/// TREE_CONNECT_ANDX and NT_CREATE_ANDX.
pub fn is_andx_command(cmd: u8) -> bool {
    matches!(
        cmd,
        command::LOCKING_ANDX
            | command::OPEN_ANDX
            | command::READ_ANDX
            | command::WRITE_ANDX
            | command::SESSION_SETUP_ANDX
            | command::LOGOFF_ANDX
            | command::TREE_CONNECT_ANDX
            | command::NT_CREATE_ANDX
    )
}

/// One parameter/data block pair of a message (MS-CIFS §2.2.3.2, §2.2.3.3),
/// located by ranges into the message (offsets from the start of the SMB
/// header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndxBlock {
    /// The command this block belongs to: the header's Command for the first
    /// block, the previous block's AndXCommand for the others.
    pub command: u8,
    /// The parameter words, without the WordCount byte (which is at
    /// `words.start - 1`); `words.len()` is 2 × WordCount.
    pub words: Range<usize>,
    /// The data bytes, without the ByteCount field; `bytes.len()` is
    /// ByteCount.
    pub bytes: Range<usize>,
}

impl AndxBlock {
    /// The block's WordCount.
    pub fn word_count(&self) -> usize {
        self.words.len() / 2
    }
}

/// Walks the AndX chain of `msg` (which starts at its SMB1 header) and
/// returns every parameter/data block pair, first block first
/// (MS-CIFS §2.2.3.4).
///
/// The walk follows AndXCommand/AndXOffset only out of blocks whose command
/// is an AndX command ([`is_andx_command`]) and that have at least the two
/// AndX words (an error response's WordCount 0 ends the chain), and stops at
/// [`NO_ANDX_COMMAND`], whose AndXOffset "MUST be ignored". Each block's
/// WordCount words, ByteCount field and ByteCount bytes must lie inside the
/// message; each AndXOffset must point inside the message at or after the
/// end of the previous block's bytes, so the chain only moves forward and
/// cannot loop; and a chain longer than [`MAX_ANDX_CHAIN`] is an error.
///
/// A READ_ANDX response whose data exceeds ByteCount (large reads, MS-SMB
/// §2.2.4.2.2) fails the ByteCount check here; use
/// [`read_andx_data_range`](super::read::read_andx_data_range) for those.
pub fn andx_blocks(msg: &[u8]) -> Result<Vec<AndxBlock>, DecodeError> {
    let what = "SMB1 AndX chain";
    let header = Header::decode(msg)?;
    let mut blocks = Vec::new();
    let mut cmd = header.command;
    let mut pos = HEADER_LEN;
    loop {
        if blocks.len() == MAX_ANDX_CHAIN {
            return Err(DecodeError::TooLarge {
                what,
                length: MAX_ANDX_CHAIN + 1,
                limit: MAX_ANDX_CHAIN,
            });
        }
        let block = block_at(msg, pos, cmd, what)?;
        let next = if is_andx_command(cmd) && block.words.len() >= 4 {
            let mut r = Reader::new(&msg[block.words.clone()]);
            let next_cmd = r.u8(what)?;
            r.skip(1, what)?; // AndXReserved
            let offset = usize::from(r.u16(what)?);
            (next_cmd != NO_ANDX_COMMAND).then_some((next_cmd, offset))
        } else {
            None
        };
        let end = block.bytes.end;
        blocks.push(block);
        let Some((next_cmd, offset)) = next else {
            return Ok(blocks);
        };
        if offset < end {
            return Err(DecodeError::invalid(
                "SMB1 AndXOffset",
                format!("{offset} does not move forward (the previous block ends at {end})"),
            ));
        }
        if offset >= msg.len() {
            return Err(DecodeError::OutOfBounds {
                what: "SMB1 AndXOffset",
                offset,
                length: 1,
                bound: msg.len(),
            });
        }
        cmd = next_cmd;
        pos = offset;
    }
}

/// True if `msg` is an SMB1 message whose first block is empty: WordCount 0
/// and ByteCount 0, the form "many servers" use for error responses. The
/// header's Status tells whether it is an error; CLOSE and TREE_DISCONNECT
/// responses have this shape on success too (MS-CIFS §2.2.4.5.2,
/// §2.2.4.51.2).
pub fn is_empty_error(msg: &[u8]) -> bool {
    Header::decode(msg).is_ok() && msg.get(HEADER_LEN..HEADER_LEN + 3) == Some(&[0, 0, 0][..])
}

/// Parses the parameter/data blocks at `pos` (the WordCount byte), checking
/// that the words, the ByteCount field and ByteCount bytes are all present.
pub(crate) fn block_at(
    msg: &[u8],
    pos: usize,
    cmd: u8,
    what: &'static str,
) -> Result<AndxBlock, DecodeError> {
    let mut r = Reader::at(msg, pos, what)?;
    let word_count = usize::from(r.u8(what)?);
    let words_start = r.position();
    r.skip(2 * word_count, what)?;
    let words = words_start..r.position();
    let byte_count = usize::from(r.u16(what)?);
    let bytes_start = r.position();
    r.skip(byte_count, what)?;
    Ok(AndxBlock {
        command: cmd,
        words,
        bytes: bytes_start..r.position(),
    })
}

/// Decodes the header of `msg`, checks that it carries `cmd`, and returns it
/// with the first block.
pub(crate) fn first_block(
    msg: &[u8],
    cmd: u8,
    what: &'static str,
) -> Result<(Header, AndxBlock), DecodeError> {
    let header = check_command(msg, cmd, what)?;
    let block = block_at(msg, HEADER_LEN, cmd, what)?;
    Ok((header, block))
}

/// Decodes the header of `msg` and checks that it carries `cmd`.
pub(crate) fn check_command(
    msg: &[u8],
    cmd: u8,
    what: &'static str,
) -> Result<Header, DecodeError> {
    let header = Header::decode(msg)?;
    if header.command != cmd {
        return Err(DecodeError::invalid(
            what,
            format!(
                "header carries command {:#04x}, not {cmd:#04x}",
                header.command
            ),
        ));
    }
    Ok(header)
}

/// Checks a block's WordCount against the values the specification allows.
pub(crate) fn expect_word_count(
    block: &AndxBlock,
    allowed: &[usize],
    what: &'static str,
) -> Result<usize, DecodeError> {
    let wc = block.word_count();
    if !allowed.contains(&wc) {
        return Err(DecodeError::invalid(
            what,
            format!("WordCount is {wc}, expected one of {allowed:?}"),
        ));
    }
    Ok(wc)
}

/// A reader over the block's parameter words.
pub(crate) fn words_reader<'a>(msg: &'a [u8], block: &AndxBlock) -> Reader<'a> {
    Reader::new(&msg[block.words.clone()])
}

/// A reader over the block's data bytes whose positions are offsets from
/// the start of the header, so that [`read_string`] can see the alignment
/// MS-CIFS measures from there.
pub(crate) fn bytes_reader<'a>(
    msg: &'a [u8],
    block: &AndxBlock,
    what: &'static str,
) -> Result<Reader<'a>, DecodeError> {
    Reader::at(&msg[..block.bytes.end], block.bytes.start, what)
}

/// Writes the AndX words of a block that ends its chain: AndXCommand
/// [`NO_ANDX_COMMAND`], AndXReserved 0, AndXOffset 0 (MS-CIFS §3.2.4.1.4:
/// "If SMB_Parameters.AndXCommand contains SMB_COM_NO_ANDX_COMMAND, the
/// chain is terminated").
pub(crate) fn put_andx_none(w: &mut Writer) {
    w.u8(NO_ANDX_COMMAND).u8(0).u16(0);
}

/// Writes a zero ByteCount placeholder and returns its position for
/// [`end_bytes`].
pub(crate) fn begin_bytes(w: &mut Writer) -> usize {
    let pos = w.len();
    w.u16(0);
    pos
}

/// Patches the ByteCount at `pos` with the number of bytes written since.
///
/// # Errors
///
/// If more than 65535 bytes were written: the input asked for a data block
/// that ByteCount cannot describe.
pub(crate) fn end_bytes(w: &mut Writer, pos: usize, what: &'static str) -> Result<(), EncodeError> {
    let count = w.len() - pos - 2;
    w.patch_u16(pos, wire_u16(count, what)?);
    Ok(())
}

/// Writes an SMB_STRING (MS-CIFS §2.2.1.1): with `unicode`, a zero pad byte
/// if needed to reach an even offset from the header start, then UTF-16LE
/// and a 16-bit NUL; otherwise OEM (Latin-1, other characters as '?') and a
/// NUL byte.
pub(crate) fn put_string(w: &mut Writer, s: &str, unicode: bool) {
    if unicode {
        w.align(2).utf16(s).u16(0);
    } else {
        put_oem_string(w, s);
    }
}

/// Writes an OEM_STRING: Latin-1 bytes (other characters as '?') and a NUL.
pub(crate) fn put_oem_string(w: &mut Writer, s: &str) {
    for c in s.chars() {
        w.u8(u8::try_from(u32::from(c)).unwrap_or(b'?'));
    }
    w.u8(0);
}

/// Reads an SMB_STRING (MS-CIFS §2.2.1.1) strictly: UTF-16 must be valid.
/// See [`split_string`] for the layout accepted.
pub(crate) fn read_string(
    r: &mut Reader<'_>,
    unicode: bool,
    what: &'static str,
) -> Result<String, DecodeError> {
    let (raw, consumed) = split_string(r, unicode);
    r.skip(consumed, what)?;
    if unicode {
        if raw.len() % 2 != 0 {
            return Err(DecodeError::invalid(what, "odd UTF-16 byte length"));
        }
        from_utf16le(raw, what)
    } else {
        Ok(latin1(raw))
    }
}

/// Reads an SMB_STRING for display, replacing invalid UTF-16 and dropping
/// an odd final byte. See [`split_string`] for the layout accepted.
pub(crate) fn read_string_lossy(r: &mut Reader<'_>, unicode: bool) -> String {
    let (raw, consumed) = split_string(r, unicode);
    // `consumed` never exceeds what remains.
    let _ = r.skip(consumed, "SMB_STRING");
    if unicode {
        from_utf16le_lossy(raw)
    } else {
        latin1(raw)
    }
}

/// Reads an OEM_STRING (Latin-1 up to a NUL or the end).
pub(crate) fn read_oem_string(r: &mut Reader<'_>) -> String {
    read_string_lossy(r, false)
}

/// Locates the string at the reader's position without consuming it:
/// returns its raw bytes (without terminator) and how many bytes it takes,
/// pad and terminator included.
///
/// A Unicode string at an odd offset from the header start is preceded by a
/// pad byte ("Pad ... to align to a 16-bit boundary"); it is skipped when it
/// is zero, as Windows and Samba send it, so that a sender that does not pad
/// (whose first character is then at the odd offset, non-zero in practice)
/// still decodes. The string runs to a 16-bit NUL at an even distance, or
/// to the end of the bytes when there is none; OEM strings run to a NUL
/// byte or the end.
fn split_string<'a>(r: &Reader<'a>, unicode: bool) -> (&'a [u8], usize) {
    let rest = r.rest();
    if !unicode {
        return match rest.iter().position(|&b| b == 0) {
            Some(nul) => (&rest[..nul], nul + 1),
            None => (rest, rest.len()),
        };
    }
    let pad = usize::from(r.position() % 2 == 1 && rest.first() == Some(&0));
    let body = &rest[pad..];
    let mut i = 0;
    while i + 1 < body.len() {
        if body[i] == 0 && body[i + 1] == 0 {
            return (&body[..i], pad + i + 2);
        }
        i += 2;
    }
    (body, rest.len())
}

/// Bytes as Latin-1 characters.
fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the SMB1 codec tests.

    pub use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};

    use super::super::header::{flags, flags2, Header};
    use crate::codec::Writer;
    use crate::types::NtStatus;

    /// Flags2 of the test requests: UNICODE | NT_STATUS | EXTENDED_SECURITY
    /// | LONG_NAMES.
    pub const REQUEST_FLAGS2: u16 =
        flags2::UNICODE | flags2::NT_STATUS | flags2::EXTENDED_SECURITY | flags2::LONG_NAMES;

    /// A request header for `command` encoded into a fresh writer.
    pub fn request_writer(command: u8) -> Writer {
        let h = Header {
            command,
            status: NtStatus::SUCCESS,
            flags: flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
            flags2: REQUEST_FLAGS2,
            pid_high: 0,
            security_features: [0; 8],
            tid: 1,
            pid_low: 0xFEFF,
            uid: 0x0800,
            mid: 5,
        };
        let mut w = Writer::new();
        h.encode(&mut w);
        w
    }

    /// A successful response header for `command`, with or without
    /// FLAGS2_UNICODE, encoded into a fresh writer.
    pub fn response_writer(command: u8, unicode: bool) -> Writer {
        let mut w = request_writer(command);
        let mut h = Header::decode(w.as_slice()).expect("test header");
        h.flags |= flags::REPLY;
        if !unicode {
            h.flags2 &= !flags2::UNICODE;
        }
        w = Writer::new();
        h.encode(&mut w);
        w
    }

    /// The largest `n` up to `hi` for which `encode(n)` succeeds, assuming
    /// it succeeds for 0 and, once it fails, fails for every larger `n`.
    pub fn largest_ok<T, E>(hi: usize, encode: impl Fn(usize) -> Result<T, E>) -> usize {
        assert!(encode(0).is_ok(), "encoding fails already for 0");
        let (mut ok, mut bad) = (0, hi + 1);
        while bad - ok > 1 {
            let mid = ok + (bad - ok) / 2;
            if encode(mid).is_ok() {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        ok
    }

    /// The ByteCount of the first block of `msg` (after WordCount words).
    pub fn byte_count(msg: &[u8]) -> usize {
        let at = super::super::header::HEADER_LEN + 1 + 2 * usize::from(msg[32]);
        usize::from(u16::from_le_bytes([msg[at], msg[at + 1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{mutate_never_panics, request_writer, response_writer};
    use super::*;

    /// SESSION_SETUP_ANDX (WordCount 3) chained to TREE_CONNECT_ANDX
    /// (WordCount 3) chained to a non-AndX ECHO-shaped block.
    fn chain() -> Vec<u8> {
        let mut w = response_writer(command::SESSION_SETUP_ANDX, false);
        // Block 1 at 32: WordCount 3, AndX -> TREE_CONNECT_ANDX at 45.
        w.u8(3).u8(command::TREE_CONNECT_ANDX).u8(0).u16(45).u16(0);
        w.u16(4).bytes(b"Unix"); // 32 + 7 + 2 + 4 = 45
        assert_eq!(w.len(), 45);
        // Block 2 at 45: AndX -> ECHO at 57.
        w.u8(3).u8(command::ECHO).u8(0).u16(57).u16(1);
        w.u16(3).bytes(b"IPC");
        assert_eq!(w.len(), 57);
        // Block 3 at 57: not an AndX command, ends the chain.
        w.u8(1).u16(1).u16(2).bytes(b"hi");
        w.into_vec()
    }

    #[test]
    fn walks_a_chain() {
        let msg = chain();
        let blocks = andx_blocks(&msg).unwrap();
        assert_eq!(
            blocks,
            vec![
                AndxBlock {
                    command: command::SESSION_SETUP_ANDX,
                    words: 33..39,
                    bytes: 41..45,
                },
                AndxBlock {
                    command: command::TREE_CONNECT_ANDX,
                    words: 46..52,
                    bytes: 54..57,
                },
                AndxBlock {
                    command: command::ECHO,
                    words: 58..60,
                    bytes: 62..64,
                },
            ]
        );
        assert_eq!(blocks[1].word_count(), 3);
        assert_eq!(&msg[blocks[2].bytes.clone()], b"hi");
        for len in 0..msg.len() {
            assert!(andx_blocks(&msg[..len]).is_err(), "{len}-byte prefix");
        }
        mutate_never_panics(&msg, andx_blocks);
    }

    #[test]
    fn single_blocks_and_chain_ends() {
        let mut w = response_writer(command::LOGOFF_ANDX, true);
        // AndXCommand 0xFF: AndXOffset is ignored, even if absurd.
        w.u8(2).u8(NO_ANDX_COMMAND).u8(0).u16(0xFFFF).u16(0);
        let blocks = andx_blocks(w.as_slice()).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].bytes, 39..39);

        // An AndX command with an error's WordCount 0 ends the chain.
        let mut w = response_writer(command::READ_ANDX, true);
        w.u8(0).u16(0);
        assert!(is_empty_error(w.as_slice()));
        assert_eq!(andx_blocks(w.as_slice()).unwrap().len(), 1);

        // A non-AndX command's words are not read as an AndX header.
        let mut w = request_writer(command::ECHO);
        w.u8(2).u8(command::READ_ANDX).u8(0).u16(32).u16(0);
        assert_eq!(andx_blocks(w.as_slice()).unwrap().len(), 1);
        assert!(!is_empty_error(w.as_slice()));
    }

    #[test]
    fn hostile_chains_fail() {
        let good = chain();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            andx_blocks(&m)
        };
        // Block 2 points back at itself (a loop) or at block 1.
        assert!(with(48, &[45, 0]).is_err());
        assert!(with(48, &[32, 0]).is_err());
        // Into the middle of the previous block's bytes.
        assert!(with(35, &[43, 0]).is_err());
        // Past the end of the message, and far past it.
        assert!(with(48, &[64, 0]).is_err());
        assert!(with(48, &[0xFF, 0xFF]).is_err());
        // WordCount or ByteCount running past the end.
        assert!(with(57, &[0x40]).is_err());
        assert!(with(60, &[0x03, 0x00]).is_err());
        // Not SMB1.
        assert!(with(0, &[0xFE]).is_err());

        // A chain of MAX_ANDX_CHAIN + 1 LOGOFF_ANDX blocks is refused, one of
        // MAX_ANDX_CHAIN accepted.
        let build = |n: usize| {
            let mut w = response_writer(command::LOGOFF_ANDX, true);
            for i in 0..n {
                let next = w.len() + 7;
                if i + 1 == n {
                    w.u8(2).u8(NO_ANDX_COMMAND).u8(0).u16(0).u16(0);
                } else {
                    w.u8(2).u8(command::LOGOFF_ANDX).u8(0);
                    w.u16(u16::try_from(next).unwrap()).u16(0);
                }
            }
            w.into_vec()
        };
        assert_eq!(
            andx_blocks(&build(MAX_ANDX_CHAIN)).unwrap().len(),
            MAX_ANDX_CHAIN
        );
        assert!(matches!(
            andx_blocks(&build(MAX_ANDX_CHAIN + 1)),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn strings_follow_header_alignment() {
        // A Unicode string at an odd offset has a zero pad byte before it.
        let mut w = Writer::from_vec(vec![0; 33]);
        put_string(&mut w, "ab", true);
        put_string(&mut w, "c", true);
        put_string(&mut w, "d", false);
        assert_eq!(
            &w.as_slice()[33..],
            &[0, b'a', 0, b'b', 0, 0, 0, b'c', 0, 0, 0, b'd', 0][..]
        );
        let msg = w.into_vec();
        let mut r = Reader::at(&msg, 33, "t").unwrap();
        assert_eq!(read_string(&mut r, true, "t").unwrap(), "ab");
        assert_eq!(read_string_lossy(&mut r, true), "c");
        assert_eq!(read_oem_string(&mut r), "d");
        assert_eq!(r.remaining(), 0);
        // Missing terminators run to the end; an unpadded string at an odd
        // offset still decodes.
        let msg = [0xEEu8, b'x', 0, b'y', 0];
        let mut r = Reader::at(&msg, 1, "t").unwrap();
        assert_eq!(read_string_lossy(&mut r, true), "xy");
        assert_eq!(r.remaining(), 0);
        // Strict decoding refuses unpaired surrogates and odd lengths.
        let bad = [0x00, 0xD8];
        assert!(read_string(&mut Reader::new(&bad), true, "t").is_err());
        assert!(read_string(&mut Reader::new(b"x"), true, "t").is_err());
        assert_eq!(read_string_lossy(&mut Reader::new(b"x"), true), "");
    }
}
