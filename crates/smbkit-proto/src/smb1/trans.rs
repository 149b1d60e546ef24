//! SMB_COM_TRANSACTION (MS-CIFS §2.2.4.33) for named pipes, and the
//! machinery shared by the three transaction commands: the generic
//! SMB_COM_TRANSACTION / SMB_COM_TRANSACTION2 request
//! ([`TransRequest`], MS-CIFS §2.2.4.33.1, §2.2.4.46.1), the response part
//! decoder for all three ([`TransResponsePart`], MS-CIFS §2.2.4.33.2,
//! §2.2.4.46.2, §2.2.4.62.2) and the reassembly of responses split across
//! several messages ([`TransAssembler`]).
//!
//! # Requests larger than one message
//!
//! The request encoders produce one message: ParameterCount equals
//! TotalParameterCount and DataCount TotalDataCount. "If the size in bytes
//! of the request exceeds the MaxBufferSize established during session
//! setup, then the transaction MUST use the SMB_COM_TRANSACTION_SECONDARY
//! ... SMB to send the additional command data" (MS-CIFS §2.2.4.33; also
//! §2.2.4.46, §2.2.4.62): [`split_request`] turns such a message into a
//! primary request and secondary requests (MS-CIFS §2.2.4.34, §2.2.4.47,
//! §2.2.4.63), sent after the server's interim response. Request decoders
//! reject a request whose counts announce secondaries.
//!
//! # Responses in several parts
//!
//! A server may return the parameters and data of one transaction in
//! several response messages: each carries TotalParameterCount /
//! TotalDataCount and places its bytes with ParameterDisplacement /
//! DataDisplacement ("Clients SHOULD be prepared to receive Parameters and
//! Data in any order", MS-CIFS §2.2.4.46). Decode each message with
//! [`TransResponsePart::decode`] and feed it to a [`TransAssembler`], which
//! yields the complete parameters and data once every byte has arrived.

use std::collections::BTreeMap;
use std::ops::Range;

use super::andx::{begin_bytes, end_bytes};
use super::header::{command, flags2, Header, HEADER_LEN};
use crate::codec::{from_utf16le, DecodeError, EncodeError, Reader, Writer};
pub(super) use crate::codec::{wire_u16, wire_u32};

/// TRANS_TRANSACT_NMPIPE subcommand, Setup\[0\] of the request (MS-CIFS
/// §2.2.5.6: "This field MUST be set to the transaction subcommand of
/// TRANS_TRANSACT_NMPIPE (0x0026)").
pub const TRANS_TRANSACT_NMPIPE: u16 = 0x0026;

/// The Name of a named-pipe transaction: "\PIPE\" (MS-CIFS §2.2.5.6.1: the
/// name "MUST be set to the name of the pipe being transacted" ... "\PIPE\";
/// the pipe itself is identified by the FID in the setup words).
pub const PIPE_NAME: &str = "\\PIPE\\";

/// The largest TotalParameterCount / TotalDataCount a [`TransAssembler`]
/// accepts by default (16 MiB). NT_TRANSACT totals are 32-bit, so a hostile
/// server could otherwise announce 4 GiB.
pub const MAX_TRANSACTION_TOTAL: u32 = 16 * 1024 * 1024;

/// WordCount of a TRANSACTION / TRANSACTION2 request without setup words:
/// "WordCount (1 byte): This field MUST be 0x0E + SetupCount" (MS-CIFS
/// §2.2.4.33.1).
const TRANS_REQUEST_WORDS: usize = 14;
/// WordCount of a TRANSACTION / TRANSACTION2 response without setup words:
/// 0x0A + SetupCount (MS-CIFS §2.2.4.33.2).
const TRANS_RESPONSE_WORDS: usize = 10;
/// WordCount of an NT_TRANSACT response without setup words: 0x12 +
/// SetupCount (MS-CIFS §2.2.4.62.2).
const NT_TRANS_RESPONSE_WORDS: usize = 18;

// ---------------------------------------------------------------------------
// Helpers shared by the transaction and path-operation codecs
// ---------------------------------------------------------------------------

/// The parameter and data blocks of one SMB1 message (MS-CIFS §2.2.3.2,
/// §2.2.3.3): the header, the Words of SMB_Parameters and the range of
/// SMB_Data.Bytes within the message.
pub(super) struct Blocks<'a> {
    /// The decoded header.
    pub header: Header,
    /// SMB_Parameters.Words (2 × WordCount bytes).
    pub words: &'a [u8],
    /// SMB_Data.Bytes (ByteCount bytes) as a range of the message.
    pub bytes: Range<usize>,
}

impl Blocks<'_> {
    /// True if the header's Flags2 has SMB_FLAGS2_UNICODE.
    pub fn unicode(&self) -> bool {
        self.header.flags2 & flags2::UNICODE != 0
    }
}

/// Decodes the header of `msg`, checks that its command is one of
/// `commands`, and splits off WordCount/Words and ByteCount/Bytes; every
/// byte WordCount and ByteCount announce must be present.
pub(super) fn blocks<'a>(
    msg: &'a [u8],
    commands: &[u8],
    what: &'static str,
) -> Result<Blocks<'a>, DecodeError> {
    let header = Header::decode(msg)?;
    if !commands.contains(&header.command) {
        return Err(DecodeError::invalid(
            what,
            format!("header carries command {:#04x}", header.command),
        ));
    }
    let mut r = Reader::at(msg, HEADER_LEN, what)?;
    let word_count = usize::from(r.u8(what)?);
    let words = r.take(word_count * 2, what)?;
    let byte_count = usize::from(r.u16(what)?);
    let start = r.position();
    r.skip(byte_count, what)?;
    Ok(Blocks {
        header,
        words,
        bytes: start..start + byte_count,
    })
}

/// Fails unless WordCount (in words) is `expected`.
pub(super) fn expect_word_count(
    words: &[u8],
    expected: usize,
    what: &'static str,
) -> Result<(), DecodeError> {
    if words.len() != expected * 2 {
        return Err(DecodeError::invalid(
            what,
            format!("WordCount is {}, expected {expected}", words.len() / 2),
        ));
    }
    Ok(())
}

/// The error for a 32-bit value `v` that does not fit a 16-bit field.
fn narrow(v: u32, what: &'static str) -> EncodeError {
    EncodeError::too_long(
        what,
        usize::try_from(v).unwrap_or(usize::MAX),
        usize::from(u16::MAX),
    )
}

/// WordCount (`base` words plus the setup words) and SetupCount of a
/// transaction message with `setup` setup words. WordCount is one byte, so
/// at most 255 − `base` setup words fit; `what` names the SetupCount.
pub(super) fn setup_counts(
    setup: usize,
    base: usize,
    what: &'static str,
) -> Result<(u8, u8), EncodeError> {
    match (
        u8::try_from(base.saturating_add(setup)),
        u8::try_from(setup),
    ) {
        (Ok(word_count), Ok(setup_count)) => Ok((word_count, setup_count)),
        _ => Err(EncodeError::too_many(
            what,
            "setup words",
            setup,
            usize::from(u8::MAX) - base,
        )),
    }
}

/// Writes a NUL-terminated UTF-16LE SMB_STRING (MS-CIFS §2.2.1.1), preceded
/// by one zero pad byte if needed so that it starts on an even offset from
/// the start of the SMB header ("Unicode strings MUST be 16-bit aligned with
/// respect to the beginning of the SMB Header"); `w` must hold the header
/// at position 0.
///
/// A NUL inside `s` ends the name on the wire; callers must reject such
/// names.
pub(super) fn put_unicode_string(w: &mut Writer, s: &str) {
    w.align(2);
    w.utf16(s).u16(0);
}

/// Splits a NUL-terminated string off the front of `b`: UTF-16LE (strict:
/// an unpaired surrogate is an error) if `unicode`, else OEM bytes read as
/// Latin-1. Returns the string and the bytes consumed, terminator included.
/// A missing terminator is an error.
pub(super) fn take_terminated(
    b: &[u8],
    unicode: bool,
    what: &'static str,
) -> Result<(String, usize), DecodeError> {
    if unicode {
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == 0 && b[i + 1] == 0 {
                return Ok((from_utf16le(&b[..i], what)?, i + 2));
            }
            i += 2;
        }
    } else if let Some(p) = b.iter().position(|&c| c == 0) {
        return Ok((latin1(&b[..p]), p + 1));
    }
    Err(DecodeError::invalid(what, "string is not NUL-terminated"))
}

/// Reads an SMB_STRING that starts at `pos` of `msg` and must end by `end`:
/// for Unicode, a pad byte is skipped first if `pos` is odd (alignment from
/// the start of the header). Returns the string and the position after its
/// terminator.
pub(super) fn read_smb_string(
    msg: &[u8],
    pos: usize,
    end: usize,
    unicode: bool,
    what: &'static str,
) -> Result<(String, usize), DecodeError> {
    let start = if unicode && pos % 2 == 1 {
        pos + 1
    } else {
        pos
    };
    let Some(b) = msg.get(start..end) else {
        return Err(DecodeError::Truncated {
            what,
            needed: start.saturating_sub(pos),
            available: end.saturating_sub(pos),
        });
    };
    let (s, used) = take_terminated(b, unicode, what)?;
    Ok((s, start + used))
}

/// Bytes as Latin-1 characters (OEM strings of non-Unicode messages).
pub(super) fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Returns the range `offset..offset+count` of the message, which must lie
/// within SMB_Data.Bytes (`bytes`). A zero count gives the empty range
/// `0..0` whatever the offset (nothing is read; servers are inconsistent
/// about the offset of an empty block).
fn block_range(
    offset: usize,
    count: usize,
    bytes: &Range<usize>,
    what: &'static str,
) -> Result<Range<usize>, DecodeError> {
    if count == 0 {
        return Ok(0..0);
    }
    match offset.checked_add(count) {
        Some(end) if offset >= bytes.start && end <= bytes.end => Ok(offset..end),
        _ => Err(DecodeError::OutOfBounds {
            what,
            offset,
            length: count,
            bound: bytes.end,
        }),
    }
}

/// The ParameterOffset, DataOffset and ByteCount fields of a transaction
/// message: where they were written (to be patched once the blocks are
/// placed), their names for errors, and whether the offsets are 32-bit
/// (NT_TRANSACT messages) or 16-bit.
pub(super) struct BlockFields {
    /// Positions of ParameterOffset, DataOffset and ByteCount in `w`.
    pub at: [usize; 3],
    /// Their names.
    pub names: [&'static str; 3],
    /// 32-bit offsets.
    pub wide: bool,
}

/// Writes Pad1, the parameters, Pad2 and the data the way Windows does:
/// parameters 4-byte aligned from the start of the header, data 4-byte
/// aligned after them (no Pad2 when there is no data); then patches the
/// offsets and ByteCount of `fields`.
pub(super) fn put_parameters_and_data(
    w: &mut Writer,
    parameters: &[u8],
    data: &[u8],
    fields: &BlockFields,
) -> Result<(), EncodeError> {
    w.align(4);
    let parameter_offset = w.len();
    w.bytes(parameters);
    if !data.is_empty() {
        w.align(4);
    }
    let data_offset = w.len();
    w.bytes(data);
    let [po_at, d_at, bc_at] = fields.at;
    let [po_name, d_name, bc_name] = fields.names;
    if fields.wide {
        w.patch_u32(po_at, wire_u32(parameter_offset, po_name)?);
        w.patch_u32(d_at, wire_u32(data_offset, d_name)?);
    } else {
        w.patch_u16(po_at, wire_u16(parameter_offset, po_name)?);
        w.patch_u16(d_at, wire_u16(data_offset, d_name)?);
    }
    end_bytes(w, bc_at, bc_name)
}

/// Reads `n` setup words.
fn read_setup(r: &mut Reader<'_>, n: usize, what: &'static str) -> Result<Vec<u16>, DecodeError> {
    (0..n).map(|_| r.u16(what)).collect()
}

// ---------------------------------------------------------------------------
// Generic TRANSACTION / TRANSACTION2 request
// ---------------------------------------------------------------------------

/// The names of a request's fields, for [`EncodeError`]s.
struct TransFields {
    setup_count: &'static str,
    total_parameter_count: &'static str,
    total_data_count: &'static str,
    parameter_count: &'static str,
    data_count: &'static str,
    parameter_offset: &'static str,
    data_offset: &'static str,
    byte_count: &'static str,
}

const TRANSACTION_FIELDS: TransFields = TransFields {
    setup_count: "TRANSACTION SetupCount",
    total_parameter_count: "TRANSACTION TotalParameterCount",
    total_data_count: "TRANSACTION TotalDataCount",
    parameter_count: "TRANSACTION ParameterCount",
    data_count: "TRANSACTION DataCount",
    parameter_offset: "TRANSACTION ParameterOffset",
    data_offset: "TRANSACTION DataOffset",
    byte_count: "TRANSACTION ByteCount",
};

const TRANSACTION2_FIELDS: TransFields = TransFields {
    setup_count: "TRANSACTION2 SetupCount",
    total_parameter_count: "TRANSACTION2 TotalParameterCount",
    total_data_count: "TRANSACTION2 TotalDataCount",
    parameter_count: "TRANSACTION2 ParameterCount",
    data_count: "TRANSACTION2 DataCount",
    parameter_offset: "TRANSACTION2 ParameterOffset",
    data_offset: "TRANSACTION2 DataOffset",
    byte_count: "TRANSACTION2 ByteCount",
};

/// A single-message SMB_COM_TRANSACTION (MS-CIFS §2.2.4.33.1) or
/// SMB_COM_TRANSACTION2 (MS-CIFS §2.2.4.46.1) request.
///
/// Words: TotalParameterCount, TotalDataCount, MaxParameterCount,
/// MaxDataCount, MaxSetupCount (1), Reserved1 (1), Flags, Timeout (4),
/// Reserved2, ParameterCount, ParameterOffset, DataCount, DataOffset,
/// SetupCount (1), Reserved3 (1), Setup\[SetupCount\]; Bytes: Name, Pad1,
/// Trans_Parameters, Pad2, Trans_Data.
///
/// The subcommand codecs ([`TransactNmPipeRequest`] and the
/// [`trans2`](super::trans2) requests) build one of these; it is public so
/// that other subcommands can be sent too. See the
/// [module documentation](self) for the single-message limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransRequest {
    /// Name: `Some` for SMB_COM_TRANSACTION (the pipe or mailslot name, e.g.
    /// [`PIPE_NAME`]); `None` for SMB_COM_TRANSACTION2, whose Name "is
    /// present but not used" and is sent as an empty string.
    pub name: Option<String>,
    /// Setup words (the subcommand first).
    pub setup: Vec<u16>,
    /// Trans_Parameters.
    pub parameters: Vec<u8>,
    /// Trans_Data.
    pub data: Vec<u8>,
    /// MaxParameterCount: the most parameter bytes the client accepts back.
    pub max_parameter_count: u16,
    /// MaxDataCount: the most data bytes the client accepts back.
    pub max_data_count: u16,
    /// MaxSetupCount: the most setup words the client accepts back.
    pub max_setup_count: u8,
    /// Flags (0x0001 DISCONNECT_TID, 0x0002 NO_RESPONSE).
    pub flags: u16,
    /// Timeout in milliseconds.
    pub timeout: u32,
}

impl TransRequest {
    /// Appends WordCount, Words, ByteCount and Bytes to `w`, which holds
    /// exactly the 32-byte SMB1 header of an SMB_COM_TRANSACTION (if
    /// [`TransRequest::name`] is `Some`) or SMB_COM_TRANSACTION2 request
    /// with SMB_FLAGS2_UNICODE set.
    ///
    /// Name is a Unicode SMB_STRING aligned to 2 bytes from the header
    /// start; for TRANSACTION2 it is the empty Unicode string (with its
    /// alignment byte, 3 zero bytes in all after a one-setup-word request,
    /// as Windows sends). Parameters and data are each 4-byte aligned from
    /// the header start; TotalParameterCount = ParameterCount and
    /// TotalDataCount = DataCount (one message).
    ///
    /// # Errors
    ///
    /// If the setup words, parameters, data or the Bytes block exceed their
    /// 8- or 16-bit fields (see the [module documentation](self)).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.encode_part(w, &self.parameters, &self.data)
    }

    /// [`TransRequest::encode`] carrying only `parameters` and `data` (the
    /// first bytes of [`TransRequest::parameters`] and
    /// [`TransRequest::data`]), with the totals of the whole: the primary
    /// request of a transaction continued by secondary requests.
    fn encode_part(
        &self,
        w: &mut Writer,
        parameters: &[u8],
        data: &[u8],
    ) -> Result<(), EncodeError> {
        let f = if self.name.is_some() {
            &TRANSACTION_FIELDS
        } else {
            &TRANSACTION2_FIELDS
        };
        let (word_count, setup_count) =
            setup_counts(self.setup.len(), TRANS_REQUEST_WORDS, f.setup_count)?;
        let total_parameter_count = wire_u16(self.parameters.len(), f.total_parameter_count)?;
        let total_data_count = wire_u16(self.data.len(), f.total_data_count)?;
        let parameter_count = wire_u16(parameters.len(), f.parameter_count)?;
        let data_count = wire_u16(data.len(), f.data_count)?;
        w.u8(word_count)
            .u16(total_parameter_count)
            .u16(total_data_count)
            .u16(self.max_parameter_count)
            .u16(self.max_data_count)
            .u8(self.max_setup_count)
            .u8(0) // Reserved1
            .u16(self.flags)
            .u32(self.timeout)
            .u16(0) // Reserved2
            .u16(parameter_count);
        let parameter_offset_pos = w.len();
        w.u16(0).u16(data_count);
        let data_offset_pos = w.len();
        w.u16(0).u8(setup_count).u8(0); // DataOffset, SetupCount, Reserved3
        for s in &self.setup {
            w.u16(*s);
        }
        let byte_count_pos = begin_bytes(w);
        match &self.name {
            Some(name) => put_unicode_string(w, name),
            None => {
                w.align(2);
                w.u16(0);
            }
        }
        let fields = BlockFields {
            at: [parameter_offset_pos, data_offset_pos, byte_count_pos],
            names: [f.parameter_offset, f.data_offset, f.byte_count],
            wide: false,
        };
        put_parameters_and_data(w, parameters, data, &fields)
    }

    /// Decodes a single-message SMB_COM_TRANSACTION or SMB_COM_TRANSACTION2
    /// request (for test servers and round trips); the header's command
    /// decides which. WordCount must be 14 + SetupCount, ParameterCount
    /// must equal TotalParameterCount and DataCount TotalDataCount (a
    /// request that needs secondaries is rejected), and the parameter and
    /// data blocks must lie within SMB_Data.Bytes. For TRANSACTION the Name
    /// (Unicode if the header says so, else OEM) must be NUL-terminated
    /// within the Bytes.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_TRANSACTION request";
        let b = blocks(msg, &[command::TRANSACTION, command::TRANSACTION2], what)?;
        let mut r = Reader::new(b.words);
        let total_parameter_count = r.u16(what)?;
        let total_data_count = r.u16(what)?;
        let max_parameter_count = r.u16(what)?;
        let max_data_count = r.u16(what)?;
        let max_setup_count = r.u8(what)?;
        r.skip(1, what)?; // Reserved1
        let flags = r.u16(what)?;
        let timeout = r.u32(what)?;
        r.skip(2, what)?; // Reserved2
        let parameter_count = r.u16(what)?;
        let parameter_offset = r.u16(what)?;
        let data_count = r.u16(what)?;
        let data_offset = r.u16(what)?;
        let setup_count = usize::from(r.u8(what)?);
        r.skip(1, what)?; // Reserved3
        expect_word_count(b.words, TRANS_REQUEST_WORDS + setup_count, what)?;
        let setup = read_setup(&mut r, setup_count, what)?;
        if parameter_count != total_parameter_count || data_count != total_data_count {
            return Err(DecodeError::invalid(
                what,
                "counts below the totals: secondary requests are not supported",
            ));
        }
        let parameters = block_range(
            usize::from(parameter_offset),
            usize::from(parameter_count),
            &b.bytes,
            "Trans_Parameters",
        )?;
        let data = block_range(
            usize::from(data_offset),
            usize::from(data_count),
            &b.bytes,
            "Trans_Data",
        )?;
        let name = if b.header.command == command::TRANSACTION {
            let (name, _) = read_smb_string(msg, b.bytes.start, b.bytes.end, b.unicode(), "Name")?;
            Some(name)
        } else {
            None
        };
        Ok(TransRequest {
            name,
            setup,
            parameters: msg[parameters].to_vec(),
            data: msg[data].to_vec(),
            max_parameter_count,
            max_data_count,
            max_setup_count,
            flags,
            timeout,
        })
    }
}

// ---------------------------------------------------------------------------
// Requests larger than one message: primary + secondary requests
// ---------------------------------------------------------------------------

/// SMB_COM_TRANSACTION_SECONDARY (MS-CIFS §2.2.4.34).
pub const TRANSACTION_SECONDARY: u8 = 0x26;
/// SMB_COM_TRANSACTION2_SECONDARY (MS-CIFS §2.2.4.47).
pub const TRANSACTION2_SECONDARY: u8 = 0x33;
/// SMB_COM_NT_TRANSACT_SECONDARY (MS-CIFS §2.2.4.63).
pub const NT_TRANSACT_SECONDARY: u8 = 0xA1;

/// A transaction request sent in several messages because it exceeds the
/// server's MaxBufferSize (MS-CIFS §2.2.4.33: "the transaction MUST use the
/// SMB_COM_TRANSACTION_SECONDARY ... SMB to send the additional command
/// data"; likewise §2.2.4.46, §2.2.4.62).
///
/// The client sends [`SplitRequest::primary`], waits for the server's
/// interim response (a response with WordCount 0 and a success status; an
/// error response instead ends the transaction), then sends every
/// [`SplitRequest::secondaries`] message, which the server does not answer;
/// the transaction's response (in one or more messages) follows the last.
/// All carry the primary's MID, TID, UID and PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRequest {
    /// The primary request: the first parameter and data bytes, with
    /// TotalParameterCount and TotalDataCount of the whole.
    pub primary: Vec<u8>,
    /// The secondary requests, whole messages (the primary's header with
    /// the secondary command), each placing its bytes with
    /// ParameterDisplacement and DataDisplacement.
    pub secondaries: Vec<Vec<u8>>,
}

/// Splits `msg`, a single-message SMB_COM_TRANSACTION, TRANSACTION2 or
/// NT_TRANSACT request as the encoders here produce it (header included),
/// into messages of at most `max_message` bytes (the server's
/// MaxBufferSize); `None` if it fits one. Parameters go before data, as in
/// the single message; every message but the last is filled.
///
/// An error if `msg` is not such a request, or if `max_message` leaves no
/// room for a byte of parameters or data after the fixed fields.
pub fn split_request(msg: &[u8], max_message: usize) -> Result<Option<SplitRequest>, DecodeError> {
    if msg.len() <= max_message {
        return Ok(None);
    }
    let what = "transaction request to split";
    // The parts of a request that was itself encoded fit the same fields.
    let reencode = |e: EncodeError| DecodeError::invalid(what, e.to_string());
    let header = Header::decode(msg)?;
    let header_bytes = &msg[..HEADER_LEN];
    // Up to 3 bytes of padding before each block.
    const PADS: usize = 6;
    let room = |fixed: usize| -> Result<usize, DecodeError> {
        match max_message.checked_sub(fixed + PADS) {
            Some(r) if r > 0 => Ok(r),
            _ => Err(DecodeError::invalid(
                what,
                format!("a MaxBufferSize of {max_message} leaves no room for data"),
            )),
        }
    };
    // A writer holding the request's header with `command`.
    let start = |command: u8| {
        let mut h = header_bytes.to_vec();
        h[4] = command;
        let mut w = Writer::new();
        w.bytes(&h);
        w
    };
    let (primary, carried, parameters, data, secondary_command, secondary_words) =
        match header.command {
            command::TRANSACTION | command::TRANSACTION2 => {
                let req = TransRequest::decode(msg)?;
                let mut empty = start(header.command);
                req.encode_part(&mut empty, &[], &[]).map_err(reencode)?;
                let first = room(empty.len())?;
                let (p, d) = take_first(&req.parameters, &req.data, first);
                let mut w = start(header.command);
                req.encode_part(&mut w, p, d).map_err(reencode)?;
                let carried = (p.len(), d.len());
                let (cmd, words) = if header.command == command::TRANSACTION {
                    (TRANSACTION_SECONDARY, 8)
                } else {
                    (TRANSACTION2_SECONDARY, 9)
                };
                (w.into_vec(), carried, req.parameters, req.data, cmd, words)
            }
            command::NT_TRANSACT => {
                let req = super::nt_transact::NtTransactRequest::decode(msg)?;
                let mut empty = start(header.command);
                req.encode_part(&mut empty, &[], &[]).map_err(reencode)?;
                let first = room(empty.len())?;
                let (p, d) = take_first(&req.parameters, &req.data, first);
                let mut w = start(header.command);
                req.encode_part(&mut w, p, d).map_err(reencode)?;
                let carried = (p.len(), d.len());
                (
                    w.into_vec(),
                    carried,
                    req.parameters,
                    req.data,
                    NT_TRANSACT_SECONDARY,
                    18,
                )
            }
            c => {
                return Err(DecodeError::invalid(
                    what,
                    format!("command {c:#04x} is not a transaction"),
                ))
            }
        };
    let (mut p_at, mut d_at) = carried;
    let next = room(HEADER_LEN + 1 + 2 * secondary_words + 2)?;
    let mut secondaries = Vec::new();
    while p_at < parameters.len() || d_at < data.len() {
        let (p, d) = take_first(&parameters[p_at..], &data[d_at..], next);
        let mut w = start(secondary_command);
        let part = TransSecondary {
            total_parameter_count: parameters.len(),
            total_data_count: data.len(),
            parameter_displacement: p_at,
            parameters: p,
            data_displacement: d_at,
            data: d,
        };
        match secondary_command {
            NT_TRANSACT_SECONDARY => part.encode_nt(&mut w),
            TRANSACTION2_SECONDARY => part.encode(&mut w, Some(0xFFFF)),
            _ => part.encode(&mut w, None),
        }
        .map_err(reencode)?;
        p_at += p.len();
        d_at += d.len();
        secondaries.push(w.into_vec());
    }
    Ok(Some(SplitRequest {
        primary,
        secondaries,
    }))
}

/// The first bytes of `parameters`, then of `data`, that fit `room`.
fn take_first<'a>(parameters: &'a [u8], data: &'a [u8], room: usize) -> (&'a [u8], &'a [u8]) {
    let p = parameters.len().min(room);
    let d = data.len().min(room - p);
    (&parameters[..p], &data[..d])
}

/// The content of one secondary transaction request.
struct TransSecondary<'a> {
    total_parameter_count: usize,
    total_data_count: usize,
    parameter_displacement: usize,
    parameters: &'a [u8],
    data_displacement: usize,
    data: &'a [u8],
}

impl TransSecondary<'_> {
    /// SMB_COM_TRANSACTION_SECONDARY (MS-CIFS §2.2.4.34.1, WordCount 8)
    /// or, with a `fid`, SMB_COM_TRANSACTION2_SECONDARY (§2.2.4.47.1,
    /// WordCount 9, FID last).
    fn encode(&self, w: &mut Writer, fid: Option<u16>) -> Result<(), EncodeError> {
        w.u8(if fid.is_some() { 9 } else { 8 })
            .u16(wire_u16(
                self.total_parameter_count,
                "TRANSACTION_SECONDARY TotalParameterCount",
            )?)
            .u16(wire_u16(
                self.total_data_count,
                "TRANSACTION_SECONDARY TotalDataCount",
            )?)
            .u16(wire_u16(
                self.parameters.len(),
                "TRANSACTION_SECONDARY ParameterCount",
            )?);
        let parameter_offset_pos = w.len();
        w.u16(0)
            .u16(wire_u16(
                self.parameter_displacement,
                "TRANSACTION_SECONDARY ParameterDisplacement",
            )?)
            .u16(wire_u16(
                self.data.len(),
                "TRANSACTION_SECONDARY DataCount",
            )?);
        let data_offset_pos = w.len();
        w.u16(0).u16(wire_u16(
            self.data_displacement,
            "TRANSACTION_SECONDARY DataDisplacement",
        )?);
        if let Some(fid) = fid {
            w.u16(fid);
        }
        let fields = BlockFields {
            at: [parameter_offset_pos, data_offset_pos, begin_bytes(w)],
            names: [
                "TRANSACTION_SECONDARY ParameterOffset",
                "TRANSACTION_SECONDARY DataOffset",
                "TRANSACTION_SECONDARY ByteCount",
            ],
            wide: false,
        };
        put_parameters_and_data(w, self.parameters, self.data, &fields)
    }

    /// SMB_COM_NT_TRANSACT_SECONDARY (MS-CIFS §2.2.4.63.1, WordCount 18).
    fn encode_nt(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u8(18)
            .zeros(3)
            .u32(wire_u32(
                self.total_parameter_count,
                "NT_TRANSACT_SECONDARY TotalParameterCount",
            )?)
            .u32(wire_u32(
                self.total_data_count,
                "NT_TRANSACT_SECONDARY TotalDataCount",
            )?)
            .u32(wire_u32(
                self.parameters.len(),
                "NT_TRANSACT_SECONDARY ParameterCount",
            )?);
        let parameter_offset_pos = w.len();
        w.u32(0)
            .u32(wire_u32(
                self.parameter_displacement,
                "NT_TRANSACT_SECONDARY ParameterDisplacement",
            )?)
            .u32(wire_u32(
                self.data.len(),
                "NT_TRANSACT_SECONDARY DataCount",
            )?);
        let data_offset_pos = w.len();
        w.u32(0)
            .u32(wire_u32(
                self.data_displacement,
                "NT_TRANSACT_SECONDARY DataDisplacement",
            )?)
            .u8(0); // Reserved2
        let fields = BlockFields {
            at: [parameter_offset_pos, data_offset_pos, begin_bytes(w)],
            names: [
                "NT_TRANSACT_SECONDARY ParameterOffset",
                "NT_TRANSACT_SECONDARY DataOffset",
                "NT_TRANSACT_SECONDARY ByteCount",
            ],
            wide: true,
        };
        put_parameters_and_data(w, self.parameters, self.data, &fields)
    }
}

// ---------------------------------------------------------------------------
// TRANS_TRANSACT_NMPIPE
// ---------------------------------------------------------------------------

/// TRANS_TRANSACT_NMPIPE request (MS-CIFS §2.2.5.6.1): writes `data` (an
/// RPC PDU) to the named pipe `fid` and reads the answer in one round trip.
///
/// Sent as SMB_COM_TRANSACTION with WordCount 0x10, TotalParameterCount,
/// MaxParameterCount, ParameterCount, MaxSetupCount, Flags and Timeout 0
/// ("This field MUST be set to 0x0000" / "SHOULD be set to 0x0000"),
/// SetupCount 2, Setup = [0x0026, FID], Name [`PIPE_NAME`], Trans_Data =
/// WriteData. The header's TID must be that of IPC$.
///
/// The response's Trans_Data is the ReadData. When the pipe's message is
/// longer than MaxDataCount the server answers STATUS_BUFFER_OVERFLOW
/// (ERRDOS/ERRmoredata) with a complete response carrying the first part
/// ("If the operation returns either STATUS_BUFFER_OVERFLOW ... or success,
/// the server MUST construct a TRANS_TRANSACT_NMPIPE Response", MS-CIFS
/// §3.3.5.57.7); the client reads the rest of the message from the pipe
/// (READ_ANDX). Decode responses with [`TransResponsePart`], which accepts
/// any status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactNmPipeRequest {
    /// FID of the open pipe (from NT_CREATE_ANDX on IPC$).
    pub fid: u16,
    /// WriteData: the bytes written to the pipe.
    pub data: Vec<u8>,
    /// MaxDataCount: "the number of bytes that the client requests to read
    /// from the named pipe".
    pub max_data_count: u16,
}

impl TransactNmPipeRequest {
    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION header
    /// with SMB_FLAGS2_UNICODE), as [`TransRequest::encode`].
    ///
    /// # Errors
    ///
    /// If `data` is longer than 65535 bytes or the message's Bytes block
    /// would be (see the [module documentation](self)).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.to_trans_request().encode(w)
    }

    fn to_trans_request(&self) -> TransRequest {
        TransRequest {
            name: Some(PIPE_NAME.to_string()),
            setup: vec![TRANS_TRANSACT_NMPIPE, self.fid],
            parameters: Vec::new(),
            data: self.data.clone(),
            max_parameter_count: 0,
            max_data_count: self.max_data_count,
            max_setup_count: 0,
            flags: 0,
            timeout: 0,
        }
    }

    /// Decodes the request (for test servers): an SMB_COM_TRANSACTION
    /// request as [`TransRequest::decode`] whose setup is exactly
    /// [TRANS_TRANSACT_NMPIPE, FID] and which carries no parameters. The
    /// Name is not checked (Windows sends "\PIPE\"; other names are legal).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS_TRANSACT_NMPIPE request";
        let header = Header::decode(msg)?;
        if header.command != command::TRANSACTION {
            return Err(DecodeError::invalid(what, "not SMB_COM_TRANSACTION"));
        }
        let t = TransRequest::decode(msg)?;
        match t.setup[..] {
            [TRANS_TRANSACT_NMPIPE, fid] if t.parameters.is_empty() => Ok(TransactNmPipeRequest {
                fid,
                data: t.data,
                max_data_count: t.max_data_count,
            }),
            _ => Err(DecodeError::invalid(
                what,
                format!(
                    "setup {:04x?} with {} parameter bytes",
                    t.setup,
                    t.parameters.len()
                ),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Response parts
// ---------------------------------------------------------------------------

/// One response message of a transaction: SMB_COM_TRANSACTION (MS-CIFS
/// §2.2.4.33.2), SMB_COM_TRANSACTION2 (§2.2.4.46.2) or SMB_COM_NT_TRANSACT
/// (§2.2.4.62.2).
///
/// The parameter and data bytes are not copied: [`TransResponsePart::parameters`]
/// and [`TransResponsePart::data`] are ranges of the message that was
/// decoded (empty ranges `0..0` when the count is 0). Feed the part and its
/// message to a [`TransAssembler`], or, when
/// [`TransResponsePart::is_whole`], use the ranges directly.
///
/// Decoding does not look at the header's Status: servers send complete
/// transaction responses with warning and error statuses too
/// (STATUS_BUFFER_OVERFLOW for a pipe read that did not fit,
/// STATUS_BUFFER_TOO_SMALL with LengthNeeded for
/// NT_TRANSACT_QUERY_SECURITY_DESC). An error response without words
/// (WordCount 0, also the form of the interim response, which a client
/// that sends no secondaries never receives) fails to decode: check the
/// status first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransResponsePart {
    /// TotalParameterCount: parameter bytes of the whole response.
    pub total_parameter_count: u32,
    /// TotalDataCount: data bytes of the whole response.
    pub total_data_count: u32,
    /// ParameterDisplacement: where this part's parameter bytes go.
    pub parameter_displacement: u32,
    /// DataDisplacement: where this part's data bytes go.
    pub data_displacement: u32,
    /// This part's parameter bytes, as a range of the message.
    pub parameters: Range<usize>,
    /// This part's data bytes, as a range of the message.
    pub data: Range<usize>,
    /// Setup words.
    pub setup: Vec<u16>,
}

impl TransResponsePart {
    /// Decodes a response part of any of the three transaction commands,
    /// according to the header's command: [`TransResponsePart::decode_trans`]
    /// for SMB_COM_TRANSACTION and SMB_COM_TRANSACTION2,
    /// [`TransResponsePart::decode_nt_trans`] for SMB_COM_NT_TRANSACT.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        if Header::decode(msg)?.command == command::NT_TRANSACT {
            Self::decode_nt_trans(msg)
        } else {
            Self::decode_trans(msg)
        }
    }

    /// Decodes an SMB_COM_TRANSACTION or SMB_COM_TRANSACTION2 response
    /// (16-bit counts; MS-CIFS §2.2.4.33.2, §2.2.4.46.2).
    ///
    /// Words: TotalParameterCount, TotalDataCount, Reserved1,
    /// ParameterCount, ParameterOffset, ParameterDisplacement, DataCount,
    /// DataOffset, DataDisplacement, SetupCount (1), Reserved2 (1),
    /// Setup\[SetupCount\]. WordCount must be 10 + SetupCount; the blocks
    /// must lie within SMB_Data.Bytes (offsets are from the header start)
    /// and within the totals (displacement + count ≤ total).
    pub fn decode_trans(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_TRANSACTION response";
        let b = blocks(msg, &[command::TRANSACTION, command::TRANSACTION2], what)?;
        let mut r = Reader::new(b.words);
        let total_parameter_count = r.u16(what)?;
        let total_data_count = r.u16(what)?;
        r.skip(2, what)?; // Reserved1
        let parameter_count = r.u16(what)?;
        let parameter_offset = r.u16(what)?;
        let parameter_displacement = r.u16(what)?;
        let data_count = r.u16(what)?;
        let data_offset = r.u16(what)?;
        let data_displacement = r.u16(what)?;
        let setup_count = usize::from(r.u8(what)?);
        r.skip(1, what)?; // Reserved2
        expect_word_count(b.words, TRANS_RESPONSE_WORDS + setup_count, what)?;
        let setup = read_setup(&mut r, setup_count, what)?;
        Self::build(
            &b.bytes,
            [
                u32::from(total_parameter_count),
                u32::from(parameter_count),
                u32::from(parameter_offset),
                u32::from(parameter_displacement),
            ],
            [
                u32::from(total_data_count),
                u32::from(data_count),
                u32::from(data_offset),
                u32::from(data_displacement),
            ],
            setup,
        )
    }

    /// Decodes an SMB_COM_NT_TRANSACT response (32-bit counts; MS-CIFS
    /// §2.2.4.62.2).
    ///
    /// Words: Reserved1 (3), TotalParameterCount, TotalDataCount,
    /// ParameterCount, ParameterOffset, ParameterDisplacement, DataCount,
    /// DataOffset, DataDisplacement (4 each), SetupCount (1),
    /// Setup\[SetupCount\]. WordCount must be 18 + SetupCount; the other
    /// checks are those of [`TransResponsePart::decode_trans`].
    pub fn decode_nt_trans(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_NT_TRANSACT response";
        let b = blocks(msg, &[command::NT_TRANSACT], what)?;
        let mut r = Reader::new(b.words);
        r.skip(3, what)?; // Reserved1
        let total_parameter_count = r.u32(what)?;
        let total_data_count = r.u32(what)?;
        let parameter_count = r.u32(what)?;
        let parameter_offset = r.u32(what)?;
        let parameter_displacement = r.u32(what)?;
        let data_count = r.u32(what)?;
        let data_offset = r.u32(what)?;
        let data_displacement = r.u32(what)?;
        let setup_count = usize::from(r.u8(what)?);
        expect_word_count(b.words, NT_TRANS_RESPONSE_WORDS + setup_count, what)?;
        let setup = read_setup(&mut r, setup_count, what)?;
        Self::build(
            &b.bytes,
            [
                total_parameter_count,
                parameter_count,
                parameter_offset,
                parameter_displacement,
            ],
            [total_data_count, data_count, data_offset, data_displacement],
            setup,
        )
    }

    /// Checks and assembles the fields; `p` and `d` are [total, count,
    /// offset, displacement].
    fn build(
        bytes: &Range<usize>,
        p: [u32; 4],
        d: [u32; 4],
        setup: Vec<u16>,
    ) -> Result<Self, DecodeError> {
        let [total_parameter_count, parameter_count, parameter_offset, parameter_displacement] = p;
        let [total_data_count, data_count, data_offset, data_displacement] = d;
        check_within_total(
            parameter_displacement,
            parameter_count,
            total_parameter_count,
            "ParameterDisplacement",
        )?;
        check_within_total(
            data_displacement,
            data_count,
            total_data_count,
            "DataDisplacement",
        )?;
        let parameters = block_range(
            parameter_offset as usize,
            parameter_count as usize,
            bytes,
            "transaction parameters",
        )?;
        let data = block_range(
            data_offset as usize,
            data_count as usize,
            bytes,
            "transaction data",
        )?;
        Ok(TransResponsePart {
            total_parameter_count,
            total_data_count,
            parameter_displacement,
            data_displacement,
            parameters,
            data,
            setup,
        })
    }

    /// This part's parameter bytes within `msg`, the message it was decoded
    /// from (empty if `msg` is another, shorter message).
    pub fn parameter_bytes<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        msg.get(self.parameters.clone()).unwrap_or(&[])
    }

    /// This part's data bytes within `msg`, the message it was decoded from
    /// (empty if `msg` is another, shorter message).
    pub fn data_bytes<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        msg.get(self.data.clone()).unwrap_or(&[])
    }

    /// True if this part is the whole response: both displacements are 0
    /// and the counts equal the totals.
    pub fn is_whole(&self) -> bool {
        self.parameter_displacement == 0
            && self.data_displacement == 0
            && self.parameters.len() as u64 == u64::from(self.total_parameter_count)
            && self.data.len() as u64 == u64::from(self.total_data_count)
    }
}

/// Fails unless displacement + count ≤ total.
fn check_within_total(
    displacement: u32,
    count: u32,
    total: u32,
    what: &'static str,
) -> Result<(), DecodeError> {
    match displacement.checked_add(count) {
        Some(end) if end <= total => Ok(()),
        _ => Err(DecodeError::OutOfBounds {
            what,
            offset: displacement as usize,
            length: count as usize,
            bound: total as usize,
        }),
    }
}

/// The content of one transaction response message, for building responses
/// (test servers and tests): [`TransResponseFragment::encode`] writes the
/// SMB_COM_TRANSACTION / SMB_COM_TRANSACTION2 form,
/// [`TransResponseFragment::encode_nt`] the SMB_COM_NT_TRANSACT form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransResponseFragment<'a> {
    /// TotalParameterCount.
    pub total_parameter_count: u32,
    /// TotalDataCount.
    pub total_data_count: u32,
    /// ParameterDisplacement.
    pub parameter_displacement: u32,
    /// DataDisplacement.
    pub data_displacement: u32,
    /// Setup words.
    pub setup: &'a [u16],
    /// This message's parameter bytes.
    pub parameters: &'a [u8],
    /// This message's data bytes.
    pub data: &'a [u8],
}

impl<'a> TransResponseFragment<'a> {
    /// A fragment carrying the whole response.
    ///
    /// # Errors
    ///
    /// If the parameters or the data are 4 GiB or more (the totals are
    /// 32-bit fields at most).
    pub fn whole(
        setup: &'a [u16],
        parameters: &'a [u8],
        data: &'a [u8],
    ) -> Result<Self, EncodeError> {
        Ok(TransResponseFragment {
            total_parameter_count: wire_u32(parameters.len(), "transaction TotalParameterCount")?,
            total_data_count: wire_u32(data.len(), "transaction TotalDataCount")?,
            parameter_displacement: 0,
            data_displacement: 0,
            setup,
            parameters,
            data,
        })
    }

    /// Appends the SMB_COM_TRANSACTION / TRANSACTION2 response words and
    /// bytes (MS-CIFS §2.2.4.33.2) to `w`, which holds the response header.
    /// Parameters and data are 4-byte aligned from the header start.
    ///
    /// # Errors
    ///
    /// If a count, total, displacement or offset exceeds 16 bits.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let (word_count, setup_count) = setup_counts(
            self.setup.len(),
            TRANS_RESPONSE_WORDS,
            "TRANSACTION response SetupCount",
        )?;
        let wide = |v: u32, what| u16::try_from(v).map_err(|_| narrow(v, what));
        w.u8(word_count)
            .u16(wide(
                self.total_parameter_count,
                "TRANSACTION response TotalParameterCount",
            )?)
            .u16(wide(
                self.total_data_count,
                "TRANSACTION response TotalDataCount",
            )?)
            .u16(0)
            .u16(wire_u16(
                self.parameters.len(),
                "TRANSACTION response ParameterCount",
            )?);
        let parameter_offset_pos = w.len();
        w.u16(0)
            .u16(wide(
                self.parameter_displacement,
                "TRANSACTION response ParameterDisplacement",
            )?)
            .u16(wire_u16(self.data.len(), "TRANSACTION response DataCount")?);
        let data_offset_pos = w.len();
        w.u16(0)
            .u16(wide(
                self.data_displacement,
                "TRANSACTION response DataDisplacement",
            )?)
            .u8(setup_count)
            .u8(0);
        for s in self.setup {
            w.u16(*s);
        }
        let fields = BlockFields {
            at: [parameter_offset_pos, data_offset_pos, begin_bytes(w)],
            names: [
                "TRANSACTION response ParameterOffset",
                "TRANSACTION response DataOffset",
                "TRANSACTION response ByteCount",
            ],
            wide: false,
        };
        put_parameters_and_data(w, self.parameters, self.data, &fields)
    }

    /// Appends the SMB_COM_NT_TRANSACT response words and bytes (MS-CIFS
    /// §2.2.4.62.2) to `w`, which holds the response header.
    ///
    /// # Errors
    ///
    /// If the setup words exceed 237 or the Bytes block 65535 bytes.
    pub fn encode_nt(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let (word_count, setup_count) = setup_counts(
            self.setup.len(),
            NT_TRANS_RESPONSE_WORDS,
            "NT_TRANSACT response SetupCount",
        )?;
        w.u8(word_count)
            .zeros(3)
            .u32(self.total_parameter_count)
            .u32(self.total_data_count)
            .u32(wire_u32(
                self.parameters.len(),
                "NT_TRANSACT response ParameterCount",
            )?);
        let parameter_offset_pos = w.len();
        w.u32(0)
            .u32(self.parameter_displacement)
            .u32(wire_u32(self.data.len(), "NT_TRANSACT response DataCount")?);
        let data_offset_pos = w.len();
        w.u32(0).u32(self.data_displacement).u8(setup_count);
        for s in self.setup {
            w.u16(*s);
        }
        let fields = BlockFields {
            at: [parameter_offset_pos, data_offset_pos, begin_bytes(w)],
            names: [
                "NT_TRANSACT response ParameterOffset",
                "NT_TRANSACT response DataOffset",
                "NT_TRANSACT response ByteCount",
            ],
            wide: true,
        };
        put_parameters_and_data(w, self.parameters, self.data, &fields)
    }
}

// ---------------------------------------------------------------------------
// Reassembly
// ---------------------------------------------------------------------------

/// The complete (parameters, data) of a transaction response, as
/// [`TransAssembler::add`] returns them.
pub type TransPayload = (Vec<u8>, Vec<u8>);

/// Reassembles the parameters and data of a transaction response sent in
/// one or more messages (MS-CIFS §2.2.4.33.2, §2.2.4.46.2, §2.2.4.62.2).
///
/// Parts may arrive in any order. Each part is checked before anything is
/// stored:
///
/// * totals above the limit ([`MAX_TRANSACTION_TOTAL`] by default) are
///   [`DecodeError::TooLarge`];
/// * a total may shrink in a later part but never grow, and may not shrink
///   below bytes already received (the transfer is complete when the bytes
///   received equal the smallest total announced, which is how MS-CIFS
///   §3.3.5.2.5 defines completion for the request direction);
/// * displacement + count must stay within the total, and a block may not
///   overlap (or repeat) bytes already received.
///
/// Because received blocks are disjoint and lie within the totals, the
/// response is complete exactly when the bytes received equal the totals;
/// [`TransAssembler::add`] then returns the parameters and data. Memory
/// grows only with the highest byte received, never beyond the limit. Once
/// complete, or after an error, the assembler must not be reused (further
/// parts are refused once complete).
#[derive(Debug, Clone)]
pub struct TransAssembler {
    limit: u32,
    totals: Option<(u32, u32)>,
    parameters: Piece,
    data: Piece,
    setup: Option<Vec<u16>>,
    complete: bool,
}

impl Default for TransAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl TransAssembler {
    /// An empty assembler with the [`MAX_TRANSACTION_TOTAL`] limit.
    pub fn new() -> Self {
        Self::with_limit(MAX_TRANSACTION_TOTAL)
    }

    /// An empty assembler refusing totals above `limit` bytes.
    pub fn with_limit(limit: u32) -> Self {
        TransAssembler {
            limit,
            totals: None,
            parameters: Piece::default(),
            data: Piece::default(),
            setup: None,
            complete: false,
        }
    }

    /// Adds `part`, decoded from `msg`. Returns `Ok(Some((parameters,
    /// data)))` when this part completes the response, `Ok(None)` when more
    /// parts are needed, and an error (leaving the assembler unchanged)
    /// for a part that contradicts the totals or earlier parts, or whose
    /// ranges do not lie within `msg`.
    pub fn add(
        &mut self,
        msg: &[u8],
        part: &TransResponsePart,
    ) -> Result<Option<TransPayload>, DecodeError> {
        let what = "transaction response part";
        if self.complete {
            return Err(DecodeError::invalid(
                what,
                "the response is already complete",
            ));
        }
        for (total, name) in [
            (part.total_parameter_count, "TotalParameterCount"),
            (part.total_data_count, "TotalDataCount"),
        ] {
            if total > self.limit {
                return Err(DecodeError::TooLarge {
                    what: name,
                    length: total as usize,
                    limit: self.limit as usize,
                });
            }
        }
        let new_totals = (part.total_parameter_count, part.total_data_count);
        if let Some((tp, td)) = self.totals {
            if new_totals.0 > tp || new_totals.1 > td {
                return Err(DecodeError::invalid(
                    what,
                    format!("totals grew from ({tp}, {td}) to {new_totals:?}"),
                ));
            }
        }
        let parameters = msg
            .get(part.parameters.clone())
            .ok_or(DecodeError::OutOfBounds {
                what: "transaction parameters",
                offset: part.parameters.start,
                length: part.parameters.len(),
                bound: msg.len(),
            })?;
        let data = msg.get(part.data.clone()).ok_or(DecodeError::OutOfBounds {
            what: "transaction data",
            offset: part.data.start,
            length: part.data.len(),
            bound: msg.len(),
        })?;
        self.parameters.check(
            part.parameter_displacement,
            parameters.len(),
            new_totals.0,
            "ParameterDisplacement",
        )?;
        self.data.check(
            part.data_displacement,
            data.len(),
            new_totals.1,
            "DataDisplacement",
        )?;
        // Everything is consistent: store.
        self.totals = Some(new_totals);
        self.parameters
            .apply(part.parameter_displacement, parameters);
        self.data.apply(part.data_displacement, data);
        if self.setup.is_none() {
            self.setup = Some(part.setup.clone());
        }
        if self.parameters.received == u64::from(new_totals.0)
            && self.data.received == u64::from(new_totals.1)
        {
            self.complete = true;
            let mut parameters = std::mem::take(&mut self.parameters.buf);
            let mut data = std::mem::take(&mut self.data.buf);
            parameters.resize(new_totals.0 as usize, 0);
            data.resize(new_totals.1 as usize, 0);
            return Ok(Some((parameters, data)));
        }
        Ok(None)
    }

    /// True once a part has completed the response.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The setup words of the first part added (empty before any).
    pub fn setup(&self) -> &[u16] {
        self.setup.as_deref().unwrap_or(&[])
    }

    /// The current (TotalParameterCount, TotalDataCount), once a part has
    /// been added.
    pub fn totals(&self) -> Option<(u32, u32)> {
        self.totals
    }
}

/// One of the two byte streams of a transaction being reassembled.
#[derive(Debug, Clone, Default)]
struct Piece {
    /// Bytes received so far, zero-filled up to the highest byte received.
    buf: Vec<u8>,
    /// Received blocks: start → end (non-empty, disjoint).
    blocks: BTreeMap<u32, u32>,
    /// Sum of the received block lengths.
    received: u64,
    /// Highest end of a received block.
    max_end: u32,
}

impl Piece {
    /// Checks that `len` bytes at `displacement` fit the (possibly reduced)
    /// `total` and overlap nothing received; also that the bytes already
    /// received fit the total.
    fn check(
        &self,
        displacement: u32,
        len: usize,
        total: u32,
        what: &'static str,
    ) -> Result<(), DecodeError> {
        if self.max_end > total {
            return Err(DecodeError::invalid(
                what,
                format!(
                    "total reduced to {total} below the {} bytes already placed",
                    self.max_end
                ),
            ));
        }
        let end = u32::try_from(len)
            .ok()
            .and_then(|l| displacement.checked_add(l));
        let end = match end {
            Some(end) if end <= total => end,
            _ => {
                return Err(DecodeError::OutOfBounds {
                    what,
                    offset: displacement as usize,
                    length: len,
                    bound: total as usize,
                })
            }
        };
        if len == 0 {
            return Ok(());
        }
        let before = self.blocks.range(..=displacement).next_back();
        let after = self.blocks.range(displacement..).next();
        let overlaps = matches!(before, Some((_, &e)) if e > displacement)
            || matches!(after, Some((&s, _)) if s < end);
        if overlaps {
            return Err(DecodeError::invalid(
                what,
                format!("bytes {displacement}..{end} overlap bytes already received"),
            ));
        }
        Ok(())
    }

    /// Stores `bytes` at `displacement` (after [`Piece::check`]).
    fn apply(&mut self, displacement: u32, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let start = displacement as usize;
        let end = start + bytes.len();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.buf[start..end].copy_from_slice(bytes);
        // `check` ensured end fits in u32.
        let end32 = displacement + bytes.len() as u32;
        self.blocks.insert(displacement, end32);
        self.received += bytes.len() as u64;
        self.max_end = self.max_end.max(end32);
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the SMB1 transaction and path-operation tests.

    use crate::codec::Writer;
    use crate::smb1::header::{flags, flags2, Header};
    use crate::types::NtStatus;

    /// Flags2 of the requests: Unicode, NT status, long names.
    pub const FLAGS2: u16 = flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES;

    /// A request header for `command` encoded into a fresh writer.
    pub fn request_writer(command: u8) -> Writer {
        let h = Header {
            command,
            status: NtStatus::SUCCESS,
            flags: flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
            flags2: FLAGS2,
            pid_high: 0,
            security_features: [0; 8],
            tid: 0x0801,
            pid_low: 0x1234,
            uid: 0x0802,
            mid: 9,
        };
        let mut w = Writer::new();
        h.encode(&mut w);
        w
    }

    /// A response header for `command` with `status` encoded into a fresh
    /// writer; `unicode` sets SMB_FLAGS2_UNICODE.
    pub fn response_writer(command: u8, status: NtStatus, unicode: bool) -> Writer {
        let h = Header {
            command,
            status,
            flags: flags::REPLY | flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
            flags2: if unicode {
                FLAGS2
            } else {
                FLAGS2 & !flags2::UNICODE
            },
            pid_high: 0,
            security_features: [0; 8],
            tid: 0x0801,
            pid_low: 0x1234,
            uid: 0x0802,
            mid: 9,
        };
        let mut w = Writer::new();
        h.encode(&mut w);
        w
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{request_writer, response_writer};
    use super::*;
    use crate::codec::utf16le;
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};
    use crate::types::NtStatus;

    fn nmpipe() -> TransactNmPipeRequest {
        TransactNmPipeRequest {
            fid: 0x4001,
            data: (0u8..72).collect(),
            max_data_count: 4280,
        }
    }

    #[test]
    fn transact_nmpipe_request_layout_and_round_trip() {
        let mut w = request_writer(command::TRANSACTION);
        nmpipe().encode(&mut w).unwrap();
        let msg = w.into_vec();
        let mut expected = msg[..32].to_vec();
        expected.push(0x10); // WordCount 14 + 2
        for v in [0u16, 72, 0, 4280] {
            expected.extend_from_slice(&v.to_le_bytes()); // TotalParam, TotalData, MaxParam, MaxData
        }
        expected.extend_from_slice(&[0, 0]); // MaxSetupCount, Reserved1
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // Flags, Timeout
        expected.extend_from_slice(&[0, 0]); // Reserved2
        for v in [0u16, 84, 72, 84] {
            expected.extend_from_slice(&v.to_le_bytes()); // ParamCount/Offset, DataCount/Offset
        }
        expected.extend_from_slice(&[2, 0]); // SetupCount, Reserved3
        expected.extend_from_slice(&[0x26, 0x00, 0x01, 0x40]); // TRANSACT_NMPIPE, FID
        assert_eq!(expected.len(), 65);
        expected.extend_from_slice(&(1u16 + 14 + 2 + 72).to_le_bytes()); // ByteCount
        expected.push(0); // pad to an even offset
        expected.extend(utf16le("\\PIPE\\"));
        expected.extend_from_slice(&[0, 0]);
        expected.extend_from_slice(&[0, 0]); // Pad1 to 84
        assert_eq!(expected.len(), 84);
        expected.extend(0u8..72);
        assert_eq!(msg, expected);
        assert_eq!(TransactNmPipeRequest::decode(&msg).unwrap(), nmpipe());
        let generic = TransRequest::decode(&msg).unwrap();
        assert_eq!(generic.name.as_deref(), Some(PIPE_NAME));
        assert_truncations_fail(&msg, TransactNmPipeRequest::decode);
        mutate_never_panics(&msg, TransactNmPipeRequest::decode);
    }

    #[test]
    fn generic_requests_round_trip() {
        let reqs = [
            TransRequest {
                name: Some("\\MAILSLOT\\BROWSE".into()),
                setup: vec![1, 0, 2],
                parameters: vec![1, 2, 3],
                data: vec![9; 5],
                max_parameter_count: 10,
                max_data_count: 1000,
                max_setup_count: 3,
                flags: 2,
                timeout: 1000,
            },
            TransRequest::default(),
        ];
        for (cmd, req) in [command::TRANSACTION, command::TRANSACTION2]
            .into_iter()
            .zip(reqs)
        {
            let mut req = req;
            if cmd == command::TRANSACTION2 {
                req.name = None;
            }
            let mut w = request_writer(cmd);
            req.encode(&mut w).unwrap();
            let msg = w.into_vec();
            assert_eq!(TransRequest::decode(&msg).unwrap(), req);
            assert_truncations_fail(&msg, TransRequest::decode);
            mutate_never_panics(&msg, TransRequest::decode);
        }
    }

    #[test]
    fn requests_needing_secondaries_are_rejected() {
        let mut w = request_writer(command::TRANSACTION);
        nmpipe().encode(&mut w).unwrap();
        let mut msg = w.into_vec();
        msg[35] = 73; // TotalDataCount 73 > DataCount 72
        assert!(TransRequest::decode(&msg).is_err());
        let mut w = request_writer(command::TRANSACTION);
        nmpipe().encode(&mut w).unwrap();
        let mut msg = w.into_vec();
        msg[61] = 0x27; // another subcommand
        assert!(TransactNmPipeRequest::decode(&msg).is_err());
    }

    fn response(cmd: u8, frag: &TransResponseFragment<'_>) -> Vec<u8> {
        let mut w = response_writer(cmd, NtStatus::SUCCESS, true);
        if cmd == command::NT_TRANSACT {
            frag.encode_nt(&mut w).unwrap();
        } else {
            frag.encode(&mut w).unwrap();
        }
        w.into_vec()
    }

    #[test]
    fn single_part_responses_decode() {
        let params = [1u8, 2, 3, 4, 5];
        let data: Vec<u8> = (0..40).collect();
        for cmd in [
            command::TRANSACTION,
            command::TRANSACTION2,
            command::NT_TRANSACT,
        ] {
            let msg = response(
                cmd,
                &TransResponseFragment::whole(&[7], &params, &data).unwrap(),
            );
            let part = TransResponsePart::decode(&msg).unwrap();
            assert!(part.is_whole());
            assert_eq!(part.setup, vec![7]);
            assert_eq!(part.parameter_bytes(&msg), &params);
            assert_eq!(part.data_bytes(&msg), &data[..]);
            assert_eq!(part.parameters.start % 4, 0);
            assert_eq!(part.data.start % 4, 0);
            let mut asm = TransAssembler::new();
            assert_eq!(
                asm.add(&msg, &part).unwrap(),
                Some((params.to_vec(), data.clone()))
            );
            assert!(asm.is_complete());
            assert_eq!(asm.setup(), &[7]);
            assert!(asm.add(&msg, &part).is_err());
            assert_truncations_fail(&msg, TransResponsePart::decode);
            mutate_never_panics(&msg, TransResponsePart::decode);
        }
        // Empty response (e.g. SET_PATH_INFORMATION with no EA error).
        let msg = response(
            command::TRANSACTION2,
            &TransResponseFragment::whole(&[], &[], &[]).unwrap(),
        );
        let part = TransResponsePart::decode(&msg).unwrap();
        assert_eq!(part.parameters, 0..0);
        assert_eq!(
            TransAssembler::new().add(&msg, &part).unwrap(),
            Some((vec![], vec![]))
        );
    }

    #[test]
    fn windows_style_trans2_response_layout() {
        // WordCount 10, no setup: ByteCount at 53, Pad1 to 56.
        let msg = response(
            command::TRANSACTION2,
            &TransResponseFragment::whole(&[], &[0, 0], &[0xAA; 3]).unwrap(),
        );
        assert_eq!(msg[32], 10);
        let words = &msg[33..53];
        let w = |i: usize| u16::from_le_bytes([words[2 * i], words[2 * i + 1]]);
        assert_eq!([w(0), w(1), w(3), w(4), w(5)], [2, 3, 2, 56, 0]);
        assert_eq!([w(6), w(7), w(8)], [3, 60, 0]);
        assert_eq!(u16::from_le_bytes([msg[53], msg[54]]), 8); // pad 1 + 2 + pad 2 + 3
        assert_eq!(msg.len(), 63);
    }

    #[test]
    fn hostile_parts_fail() {
        let params = [1u8, 2];
        let data = [3u8; 8];
        let good = response(
            command::TRANSACTION2,
            &TransResponseFragment::whole(&[], &params, &data).unwrap(),
        );
        let patch = |pos: usize, v: u16| {
            let mut m = good.clone();
            m[pos..pos + 2].copy_from_slice(&v.to_le_bytes());
            TransResponsePart::decode(&m)
        };
        assert!(patch(33, 1).is_err()); // TotalParameterCount < ParameterCount
        assert!(patch(35, 7).is_err()); // TotalDataCount < DataCount
        assert!(patch(41, 1).is_err()); // ParameterOffset before the Bytes
        assert!(patch(41, 0xFFFF).is_err()); // ParameterOffset past the end
        assert!(patch(43, 1).is_err()); // displacement + count > total
        assert!(patch(47, 62).is_err()); // data runs past ByteCount
        assert!(patch(53, 2).is_err()); // ByteCount shorter than the blocks
        let mut m = good.clone();
        m[32] = 11; // WordCount disagrees with SetupCount
        assert!(TransResponsePart::decode(&m).is_err());
        // Error response without words.
        let mut w = response_writer(command::TRANSACTION2, NtStatus(0xC000_000F), true);
        w.u8(0).u16(0);
        assert!(TransResponsePart::decode(w.as_slice()).is_err());
        // Another command.
        let mut m = good;
        m[4] = command::ECHO;
        assert!(TransResponsePart::decode(&m).is_err());
    }

    /// Splits `params`/`data` into fragments at the given cut points.
    fn fragments(cmd: u8, params: &[u8], data: &[u8], cuts: &[(usize, usize)]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut prev = (0, 0);
        for &(p, d) in cuts.iter().chain([(params.len(), data.len())].iter()) {
            let frag = TransResponseFragment {
                total_parameter_count: params.len() as u32,
                total_data_count: data.len() as u32,
                parameter_displacement: prev.0 as u32,
                data_displacement: prev.1 as u32,
                setup: &[],
                parameters: &params[prev.0..p],
                data: &data[prev.1..d],
            };
            out.push(response(cmd, &frag));
            prev = (p, d);
        }
        out
    }

    fn assemble(msgs: &[Vec<u8>]) -> Result<Option<TransPayload>, DecodeError> {
        let mut asm = TransAssembler::new();
        let mut result = None;
        for (i, m) in msgs.iter().enumerate() {
            let part = TransResponsePart::decode(m)?;
            let r = asm.add(m, &part)?;
            if r.is_some() {
                assert_eq!(i, msgs.len() - 1, "completed early");
            }
            result = r;
        }
        Ok(result)
    }

    #[test]
    fn assembler_two_and_three_parts_in_any_order() {
        let params: Vec<u8> = (0..10).collect();
        let data: Vec<u8> = (0..200u16).map(|v| v as u8).collect();
        for cmd in [command::TRANSACTION2, command::NT_TRANSACT] {
            let two = fragments(cmd, &params, &data, &[(10, 120)]);
            assert_eq!(two.len(), 2);
            let three = fragments(cmd, &params, &data, &[(4, 0), (10, 77)]);
            assert_eq!(three.len(), 3);
            for msgs in [two, three] {
                let n = msgs.len();
                // Every permutation (n ≤ 3).
                let orders: Vec<Vec<usize>> = if n == 2 {
                    vec![vec![0, 1], vec![1, 0]]
                } else {
                    vec![
                        vec![0, 1, 2],
                        vec![0, 2, 1],
                        vec![1, 0, 2],
                        vec![1, 2, 0],
                        vec![2, 0, 1],
                        vec![2, 1, 0],
                    ]
                };
                for order in orders {
                    let shuffled: Vec<Vec<u8>> = order.iter().map(|&i| msgs[i].clone()).collect();
                    assert_eq!(
                        assemble(&shuffled).unwrap(),
                        Some((params.clone(), data.clone())),
                        "order {order:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn assembler_rejects_overlap_duplicates_and_overflow() {
        let params: Vec<u8> = (0..10).collect();
        let data: Vec<u8> = (0..100).collect();
        let cmd = command::TRANSACTION2;
        let msgs = fragments(cmd, &params, &data, &[(5, 50)]);
        // Duplicate part.
        assert!(assemble(&[msgs[0].clone(), msgs[0].clone()]).is_err());
        // Overlapping data: second part starts at 40 instead of 50.
        let overlap = response(
            cmd,
            &TransResponseFragment {
                total_parameter_count: 10,
                total_data_count: 100,
                parameter_displacement: 5,
                data_displacement: 40,
                setup: &[],
                parameters: &params[5..],
                data: &data[40..90],
            },
        );
        assert!(assemble(&[msgs[0].clone(), overlap.clone()]).is_err());
        assert!(assemble(&[overlap, msgs[0].clone()]).is_err());
        // Overflowing: displacement + count beyond the total (rejected by the
        // decoder, and by the assembler for a hand-made part).
        let mut part = TransResponsePart::decode(&msgs[1]).unwrap();
        part.data_displacement = 60;
        let mut asm = TransAssembler::new();
        assert!(asm.add(&msgs[1], &part).is_err());
        part.data_displacement = u32::MAX;
        assert!(asm.add(&msgs[1], &part).is_err());
        // A range outside the message.
        let mut part = TransResponsePart::decode(&msgs[1]).unwrap();
        part.data = 0..10_000;
        assert!(TransAssembler::new().add(&msgs[1], &part).is_err());
        // Totals that grow, or shrink below what was received.
        let first = TransResponsePart::decode(&msgs[0]).unwrap();
        let mut asm = TransAssembler::new();
        assert_eq!(asm.add(&msgs[0], &first).unwrap(), None);
        let mut grown = TransResponsePart::decode(&msgs[1]).unwrap();
        grown.total_data_count = 101;
        assert!(asm.add(&msgs[1], &grown).is_err());
        let mut shrunk = TransResponsePart::decode(&msgs[1]).unwrap();
        shrunk.total_parameter_count = 4;
        assert!(asm.add(&msgs[1], &shrunk).is_err());
        // The failed adds left it unchanged: the real second part completes.
        let second = TransResponsePart::decode(&msgs[1]).unwrap();
        assert_eq!(
            asm.add(&msgs[1], &second).unwrap(),
            Some((params.clone(), data.clone()))
        );
        // A total above the limit.
        let mut big = first.clone();
        big.total_data_count = MAX_TRANSACTION_TOTAL + 1;
        assert!(matches!(
            TransAssembler::new().add(&msgs[0], &big),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(TransAssembler::with_limit(50)
            .add(&msgs[0], &first)
            .is_err());
    }

    #[test]
    fn assembler_accepts_a_reduced_total() {
        // The server announces 100 data bytes, then sends 60 in all and
        // reduces the total in its last part.
        let data: Vec<u8> = (0..60).collect();
        let first = response(
            command::TRANSACTION2,
            &TransResponseFragment {
                total_parameter_count: 2,
                total_data_count: 100,
                parameter_displacement: 0,
                data_displacement: 0,
                setup: &[],
                parameters: &[1, 2],
                data: &data[..30],
            },
        );
        let last = response(
            command::TRANSACTION2,
            &TransResponseFragment {
                total_parameter_count: 2,
                total_data_count: 60,
                parameter_displacement: 2,
                data_displacement: 30,
                setup: &[],
                parameters: &[],
                data: &data[30..],
            },
        );
        assert_eq!(assemble(&[first, last]).unwrap(), Some((vec![1, 2], data)));
    }

    #[test]
    fn nt_trans_part_with_large_totals_is_bounded() {
        // A tiny message announcing 4 GiB must not allocate it.
        let msg = response(
            command::NT_TRANSACT,
            &TransResponseFragment {
                total_parameter_count: 0,
                total_data_count: u32::MAX,
                parameter_displacement: 0,
                data_displacement: u32::MAX - 4,
                setup: &[],
                parameters: &[],
                data: &[1, 2, 3, 4],
            },
        );
        let part = TransResponsePart::decode(&msg).unwrap();
        assert!(matches!(
            TransAssembler::new().add(&msg, &part),
            Err(DecodeError::TooLarge { .. })
        ));
        mutate_never_panics(&msg, |m| {
            let part = TransResponsePart::decode(m)?;
            TransAssembler::new().add(m, &part)
        });
    }

    // -----------------------------------------------------------------------
    // Requests split into primary and secondary requests.
    // -----------------------------------------------------------------------

    /// (command, parameter displacement, parameters, data displacement,
    /// data) of a primary or secondary request.
    fn request_piece(msg: &[u8]) -> (u8, usize, Vec<u8>, usize, Vec<u8>) {
        let cmd = msg[4];
        let b = blocks(
            msg,
            &[
                command::TRANSACTION,
                command::TRANSACTION2,
                command::NT_TRANSACT,
                TRANSACTION_SECONDARY,
                TRANSACTION2_SECONDARY,
                NT_TRANSACT_SECONDARY,
            ],
            "piece",
        )
        .unwrap();
        let mut r = Reader::new(b.words);
        let u16s = |r: &mut Reader<'_>| r.u16("w").unwrap() as usize;
        let u32s = |r: &mut Reader<'_>| r.u32("w").unwrap() as usize;
        let (pc, po, pd, dc, dof, dd) = match cmd {
            command::TRANSACTION | command::TRANSACTION2 => {
                r.skip(18, "w").unwrap();
                let (pc, po, dc, dof) = (u16s(&mut r), u16s(&mut r), u16s(&mut r), u16s(&mut r));
                (pc, po, 0, dc, dof, 0)
            }
            command::NT_TRANSACT => {
                r.skip(19, "w").unwrap();
                let (pc, po, dc, dof) = (u32s(&mut r), u32s(&mut r), u32s(&mut r), u32s(&mut r));
                (pc, po, 0, dc, dof, 0)
            }
            NT_TRANSACT_SECONDARY => {
                r.skip(11, "w").unwrap();
                let v: Vec<usize> = (0..6).map(|_| u32s(&mut r)).collect();
                (v[0], v[1], v[2], v[3], v[4], v[5])
            }
            _ => {
                r.skip(4, "w").unwrap();
                let v: Vec<usize> = (0..6).map(|_| u16s(&mut r)).collect();
                (v[0], v[1], v[2], v[3], v[4], v[5])
            }
        };
        let take = |o: usize, c: usize| {
            if c == 0 {
                return Vec::new();
            }
            assert!(
                o >= b.bytes.start && o + c <= b.bytes.end,
                "block within ByteCount"
            );
            msg[o..o + c].to_vec()
        };
        (cmd, pd, take(po, pc), dd, take(dof, dc))
    }

    #[test]
    fn large_requests_are_split_into_secondaries() {
        let parameters: Vec<u8> = (0..2500u32).map(|v| (v % 251) as u8).collect();
        let data: Vec<u8> = (0..1800u32).map(|v| (v % 241) as u8).collect();
        let nt = crate::smb1::nt_transact::NtTransactRequest {
            function: 3,
            setup: vec![1, 2],
            parameters: parameters.clone(),
            data: data.clone(),
            max_setup_count: 0,
            max_parameter_count: 4,
            max_data_count: 1000,
        };
        let trans = TransRequest {
            name: None,
            setup: vec![1],
            parameters: parameters.clone(),
            data: data.clone(),
            max_parameter_count: 10,
            max_data_count: 4000,
            ..TransRequest::default()
        };
        let mut pipe = trans.clone();
        pipe.name = Some(PIPE_NAME.into());
        for (cmd, second) in [
            (command::TRANSACTION, TRANSACTION_SECONDARY),
            (command::TRANSACTION2, TRANSACTION2_SECONDARY),
            (command::NT_TRANSACT, NT_TRANSACT_SECONDARY),
        ] {
            let mut w = request_writer(cmd);
            match cmd {
                command::NT_TRANSACT => nt.encode(&mut w),
                command::TRANSACTION => pipe.encode(&mut w),
                _ => trans.encode(&mut w),
            }
            .unwrap();
            let msg = w.into_vec();
            assert!(split_request(&msg, msg.len()).unwrap().is_none());
            for max in [500usize, 1024, 4000] {
                let split = split_request(&msg, max).unwrap().unwrap();
                let mut p = vec![0u8; parameters.len()];
                let mut d = vec![0u8; data.len()];
                let (mut pn, mut dn) = (0, 0);
                for (i, m) in std::iter::once(&split.primary)
                    .chain(&split.secondaries)
                    .enumerate()
                {
                    assert!(
                        m.len() <= max,
                        "{cmd:#x} max {max}: part {i} is {}",
                        m.len()
                    );
                    assert_eq!(m[..4], msg[..4]);
                    assert_eq!(m[5..32], msg[5..32], "same header but the command");
                    let (c, pd, pb, dd, db) = request_piece(m);
                    assert_eq!(c, if i == 0 { cmd } else { second });
                    p[pd..pd + pb.len()].copy_from_slice(&pb);
                    d[dd..dd + db.len()].copy_from_slice(&db);
                    pn += pb.len();
                    dn += db.len();
                }
                assert_eq!(
                    (p, d),
                    (parameters.clone(), data.clone()),
                    "{cmd:#x} max {max}"
                );
                assert_eq!((pn, dn), (parameters.len(), data.len()));
                assert!(!split.secondaries.is_empty());
            }
            // No room at all.
            assert!(split_request(&msg, 60).is_err());
        }
        // Not a transaction.
        let mut w = request_writer(command::ECHO);
        w.u8(0).u16(300).zeros(300);
        assert!(split_request(w.as_slice(), 100).is_err());
    }

    #[test]
    fn setup_word_limits() {
        use crate::codec::testutil::assert_too_large;
        // WordCount is one byte: 14 + SetupCount for a request, 10 for a
        // response, 18 for an NT_TRANSACT response.
        let request = |setup: usize| {
            let req = TransRequest {
                setup: vec![0; setup],
                ..TransRequest::default()
            };
            let mut w = request_writer(command::TRANSACTION2);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        let msg = request(241).unwrap();
        assert_eq!(msg[32], 255);
        assert_eq!(TransRequest::decode(&msg).unwrap().setup.len(), 241);
        assert_too_large(request(242), "TRANSACTION2 SetupCount", 242, 241);
        let setup = vec![0u16; 246];
        let fragment = |n: usize| TransResponseFragment::whole(&setup[..n], &[], &[]).unwrap();
        let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
        fragment(245).encode(&mut w).unwrap();
        let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
        assert_too_large(
            fragment(246).encode(&mut w),
            "TRANSACTION response SetupCount",
            246,
            245,
        );
        let mut w = response_writer(command::NT_TRANSACT, NtStatus::SUCCESS, true);
        fragment(237).encode_nt(&mut w).unwrap();
        let mut w = response_writer(command::NT_TRANSACT, NtStatus::SUCCESS, true);
        assert_too_large(
            fragment(238).encode_nt(&mut w),
            "NT_TRANSACT response SetupCount",
            238,
            237,
        );
    }

    #[test]
    fn response_totals_narrow_to_16_bits() {
        use crate::codec::testutil::assert_too_large;
        // A TRANSACTION response carries 16-bit totals and displacements;
        // the fragment holds them as 32 bits, for NT_TRANSACT.
        let mut f = TransResponseFragment::whole(&[], &[], b"x").unwrap();
        f.total_data_count = 0xFFFF;
        f.data_displacement = 0xFFFE;
        let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
        f.encode(&mut w).unwrap();
        f.total_data_count = 0x1_0000;
        let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
        assert_too_large(
            f.encode(&mut w),
            "TRANSACTION response TotalDataCount",
            0x1_0000,
            0xFFFF,
        );
        f.total_data_count = 0xFFFF;
        f.data_displacement = 0x1_0000;
        let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
        assert_too_large(
            f.encode(&mut w),
            "TRANSACTION response DataDisplacement",
            0x1_0000,
            0xFFFF,
        );
        // NT_TRANSACT keeps them whole.
        f.total_data_count = 0x1_0000;
        let mut w = response_writer(command::NT_TRANSACT, NtStatus::SUCCESS, true);
        f.encode_nt(&mut w).unwrap();
    }

    #[test]
    fn pipe_data_fills_byte_count() {
        use crate::codec::testutil::assert_too_large;
        use crate::smb1::andx::testutil::{byte_count, largest_ok};
        let encode = |n: usize| {
            let req = TransactNmPipeRequest {
                data: vec![5; n],
                ..nmpipe()
            };
            let mut w = request_writer(command::TRANSACTION);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        // The name "\PIPE\" and the padding come first in the Bytes.
        let n = largest_ok(70_000, encode);
        let msg = encode(n).unwrap();
        assert!(byte_count(&msg) >= 65532, "{}", byte_count(&msg));
        assert!(matches!(
            encode(n + 1),
            Err(EncodeError::TooLarge {
                what: "TRANSACTION ByteCount",
                limit: 65535,
                ..
            })
        ));
        assert_too_large(encode(65536), "TRANSACTION TotalDataCount", 65536, 65535);
    }
}
