//! The SMB2 packet header (MS-SMB2 §2.2.1) and compound-chain splitting
//! (MS-SMB2 §3.2.4.1.4, §3.3.4.1.3).

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::{Command, NtStatus};

/// Size of the SMB2 header (MS-SMB2 §2.2.1.1/§2.2.1.2: StructureSize "MUST be
/// set to 64, which is the size, in bytes, of the SMB2 header structure").
pub const HEADER_LEN: usize = 64;

/// ProtocolId of an SMB2 header (MS-SMB2 §2.2.1): "The value MUST be set to
/// 0x424D53FE, also represented as (in network order) 0xFE, 'S', 'M', and 'B'."
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];

/// Offset of the 16-byte Signature field within the header (MS-SMB2 §2.2.1).
pub const SIGNATURE_OFFSET: usize = 48;

/// Offset of the NextCommand field within the header (MS-SMB2 §2.2.1).
pub const NEXT_COMMAND_OFFSET: usize = 20;

/// Header Flags bits (MS-SMB2 §2.2.1.2, "Flags").
pub mod flags {
    /// SMB2_FLAGS_SERVER_TO_REDIR: "When set, indicates the message is a response
    /// rather than a request."
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// SMB2_FLAGS_ASYNC_COMMAND: the header is the ASYNC form (MS-SMB2 §2.2.1.1),
    /// carrying an AsyncId instead of Reserved/TreeId.
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// SMB2_FLAGS_RELATED_OPERATIONS: the message is a related operation in a
    /// compounded chain (MS-SMB2 §3.2.4.1.4).
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    /// SMB2_FLAGS_SIGNED: the message is signed (MS-SMB2 §3.1.4.1).
    pub const SIGNED: u32 = 0x0000_0008;
    /// SMB2_FLAGS_PRIORITY_MASK: I/O priority, SMB 3.1.1 only.
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    /// SMB2_FLAGS_DFS_OPERATIONS: the command is a DFS operation.
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    /// SMB2_FLAGS_REPLAY_OPERATION: the command is a replay (SMB 3.x only).
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// An SMB2 packet header, SYNC or ASYNC form (MS-SMB2 §2.2.1.1, §2.2.1.2).
///
/// Layout (offsets from the start of the header): ProtocolId 0..4,
/// StructureSize 4..6, CreditCharge 6..8, Status / (ChannelSequence,
/// Reserved) 8..12, Command 12..14, CreditRequest/CreditResponse 14..16,
/// Flags 16..20, NextCommand 20..24, MessageId 24..32, then either
/// Reserved 32..36 + TreeId 36..40 (SYNC) or AsyncId 32..40 (ASYNC),
/// SessionId 40..48, Signature 48..64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// CreditCharge: credits this request consumes. "In the SMB 2.0.2 dialect,
    /// this field MUST NOT be used and MUST be reserved. The sender MUST set
    /// this to 0, and the receiver MUST ignore it."
    pub credit_charge: u16,
    /// Status in responses. In requests the same four bytes are
    /// ChannelSequence + Reserved (SMB 3.x) or Reserved: leave it 0 unless a
    /// channel sequence must be sent (then `NtStatus(channel_sequence as u32)`).
    pub status: NtStatus,
    /// The command code (MS-SMB2 §2.2.1.2, "Command").
    pub command: Command,
    /// CreditRequest (requests) or CreditResponse (responses).
    pub credits: u16,
    /// Flags (see [`flags`]). On encode, [`flags::ASYNC_COMMAND`] is forced to
    /// agree with [`Header::async_id`].
    pub flags: u32,
    /// NextCommand: offset from this header to the next one in a compound
    /// chain, 0 for the last (or only) message.
    pub next_command: u32,
    /// MessageId.
    pub message_id: u64,
    /// AsyncId: `Some` iff the header is the ASYNC form
    /// ([`flags::ASYNC_COMMAND`] set).
    pub async_id: Option<u64>,
    /// TreeId of the SYNC form; 0 (and not sent) when async.
    pub tree_id: u32,
    /// SessionId.
    pub session_id: u64,
    /// Signature (MS-SMB2 §3.1.4.1); zero when unsigned.
    pub signature: [u8; 16],
}

impl Header {
    /// A request header for `command` with every other field zero, for
    /// building messages (MS-SMB2 §3.2.4.1).
    pub fn request(command: Command) -> Header {
        Header {
            credit_charge: 0,
            status: NtStatus::SUCCESS,
            command,
            credits: 0,
            flags: 0,
            next_command: 0,
            message_id: 0,
            async_id: None,
            tree_id: 0,
            session_id: 0,
            signature: [0; 16],
        }
    }

    /// Decodes the 64-byte header at the start of `msg` (MS-SMB2 §2.2.1).
    ///
    /// Checks ProtocolId ("MUST be set to 0x424D53FE") and StructureSize
    /// ("MUST be set to 64"); the bytes after the header are not examined.
    pub fn decode(msg: &[u8]) -> Result<Header, DecodeError> {
        let mut r = Reader::new(msg);
        let protocol: [u8; 4] = r.array("SMB2 header ProtocolId")?;
        if protocol != PROTOCOL_ID {
            return Err(DecodeError::invalid(
                "SMB2 header ProtocolId",
                format!("{protocol:02x?} is not FE 'SMB'"),
            ));
        }
        // Check the whole header is present before reading any of it, so a
        // truncated header reports the header as what is missing.
        if msg.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "SMB2 header",
                needed: HEADER_LEN,
                available: msg.len(),
            });
        }
        let structure_size = r.u16("SMB2 header StructureSize")?;
        if usize::from(structure_size) != HEADER_LEN {
            return Err(DecodeError::invalid(
                "SMB2 header StructureSize",
                format!("{structure_size}, expected 64"),
            ));
        }
        let credit_charge = r.u16("SMB2 header CreditCharge")?;
        let status = NtStatus(r.u32("SMB2 header Status")?);
        let command = Command(r.u16("SMB2 header Command")?);
        let credits = r.u16("SMB2 header CreditRequest/CreditResponse")?;
        let flags = r.u32("SMB2 header Flags")?;
        let next_command = r.u32("SMB2 header NextCommand")?;
        let message_id = r.u64("SMB2 header MessageId")?;
        let (async_id, tree_id) = if flags & flags::ASYNC_COMMAND != 0 {
            (Some(r.u64("SMB2 header AsyncId")?), 0)
        } else {
            // Reserved: "The client SHOULD set this field to 0. The server MAY
            // ignore this field on receipt."
            r.skip(4, "SMB2 header Reserved")?;
            (None, r.u32("SMB2 header TreeId")?)
        };
        let session_id = r.u64("SMB2 header SessionId")?;
        let signature = r.array("SMB2 header Signature")?;
        Ok(Header {
            credit_charge,
            status,
            command,
            credits,
            flags,
            next_command,
            message_id,
            async_id,
            tree_id,
            session_id,
            signature,
        })
    }

    /// Appends the 64-byte header to `w` (MS-SMB2 §2.2.1). The ASYNC form is
    /// written iff [`Header::async_id`] is `Some`, and the ASYNC_COMMAND flag
    /// is set or cleared to match.
    pub fn encode(&self, w: &mut Writer) {
        w.bytes(&self.to_bytes());
    }

    /// The 64 bytes [`Header::encode`] appends, for writing a header over a
    /// placeholder once its message id is known.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let flags = match self.async_id {
            Some(_) => self.flags | flags::ASYNC_COMMAND,
            None => self.flags & !flags::ASYNC_COMMAND,
        };
        // Async: AsyncId (8). Sync: Reserved (4), TreeId (4).
        let id = match self.async_id {
            Some(id) => id,
            None => u64::from(self.tree_id) << 32,
        };
        let mut b = [0u8; HEADER_LEN];
        let fields: [&[u8]; 12] = [
            &PROTOCOL_ID,
            &64u16.to_le_bytes(),
            &self.credit_charge.to_le_bytes(),
            &self.status.0.to_le_bytes(),
            &self.command.0.to_le_bytes(),
            &self.credits.to_le_bytes(),
            &flags.to_le_bytes(),
            &self.next_command.to_le_bytes(),
            &self.message_id.to_le_bytes(),
            &id.to_le_bytes(),
            &self.session_id.to_le_bytes(),
            &self.signature,
        ];
        let mut at = 0;
        for f in fields {
            b[at..at + f.len()].copy_from_slice(f);
            at += f.len();
        }
        b
    }

    /// True for responses (SMB2_FLAGS_SERVER_TO_REDIR set).
    pub fn is_response(&self) -> bool {
        self.flags & flags::SERVER_TO_REDIR != 0
    }

    /// True for the ASYNC header form (SMB2_FLAGS_ASYNC_COMMAND set).
    pub fn is_async(&self) -> bool {
        self.flags & flags::ASYNC_COMMAND != 0
    }

    /// True if SMB2_FLAGS_SIGNED is set.
    pub fn is_signed(&self) -> bool {
        self.flags & flags::SIGNED != 0
    }
}

/// Splits a received compound chain into its messages (MS-SMB2 §3.2.5.1.9
/// "Handling Compounded Responses", framing per §3.3.4.1.3).
///
/// NextCommand is "the offset, in bytes, from the beginning of the SMB2 header
/// of the first response to the beginning of the 8-byte aligned SMB2 header in
/// the subsequent response"; "each response MUST be processed in order as an
/// individual message with a size, in bytes, as determined by the NextCommand
/// field", and "the final response in the compounded response chain will have
/// NextCommand equal to 0, and it MUST be processed as an individual message
/// of a size equal to the number of bytes remaining in this receive". Each
/// nonzero NextCommand must therefore be a multiple of 8 (§3.2.5.1.9: a
/// response not "at an 8-byte aligned boundary" means the client "SHOULD
/// disconnect"), at least [`HEADER_LEN`], and leave a whole header inside
/// `buf`; the message with NextCommand 0 is the last and extends to the end of
/// `buf` (including any trailing padding). Every message must start with the
/// SMB2 ProtocolId. The returned slices borrow from `buf`; each still holds
/// its padding, which signature verification must cover (MS-SMB2 §3.1.5.1).
pub fn split_compound(buf: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = buf;
    loop {
        if rest.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "compounded SMB2 header",
                needed: HEADER_LEN,
                available: rest.len(),
            });
        }
        if rest[..4] != PROTOCOL_ID {
            return Err(DecodeError::invalid(
                "compounded SMB2 header ProtocolId",
                format!("{:02x?} is not FE 'SMB'", &rest[..4]),
            ));
        }
        let mut r = Reader::at(rest, NEXT_COMMAND_OFFSET, "SMB2 header NextCommand")?;
        let next = r.u32("SMB2 header NextCommand")?;
        if next == 0 {
            out.push(rest);
            return Ok(out);
        }
        let next = usize::try_from(next).map_err(|_| DecodeError::OutOfBounds {
            what: "SMB2 header NextCommand",
            offset: usize::MAX,
            length: HEADER_LEN,
            bound: rest.len(),
        })?;
        if next % 8 != 0 {
            return Err(DecodeError::invalid(
                "SMB2 header NextCommand",
                format!("{next} is not a multiple of 8"),
            ));
        }
        if next < HEADER_LEN {
            return Err(DecodeError::invalid(
                "SMB2 header NextCommand",
                format!("{next} is shorter than a header"),
            ));
        }
        // The next message needs at least a whole header.
        crate::codec::checked_range("SMB2 header NextCommand", next, HEADER_LEN, rest.len())?;
        let (this, tail) = rest.split_at(next);
        out.push(this);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};

    fn sample() -> Header {
        Header {
            credit_charge: 1,
            status: NtStatus::MORE_PROCESSING_REQUIRED,
            command: Command::SESSION_SETUP,
            credits: 33,
            flags: flags::SERVER_TO_REDIR | flags::SIGNED,
            next_command: 0,
            message_id: 2,
            async_id: None,
            tree_id: 0xAABB_CCDD,
            session_id: 0x0000_4000_0000_0011,
            signature: [0x5A; 16],
        }
    }

    #[test]
    fn header_bytes_match_spec_layout() {
        let mut w = Writer::new();
        sample().encode(&mut w);
        let b = w.into_vec();
        assert_eq!(b.len(), HEADER_LEN);
        let expected: Vec<u8> = [
            &[0xFE, b'S', b'M', b'B'][..],
            &[64, 0],                        // StructureSize
            &[1, 0],                         // CreditCharge
            &[0x16, 0x00, 0x00, 0xC0],       // Status
            &[1, 0],                         // Command
            &[33, 0],                        // CreditResponse
            &[0x09, 0, 0, 0],                // Flags
            &[0, 0, 0, 0],                   // NextCommand
            &[2, 0, 0, 0, 0, 0, 0, 0],       // MessageId
            &[0, 0, 0, 0],                   // Reserved
            &[0xDD, 0xCC, 0xBB, 0xAA],       // TreeId
            &[0x11, 0, 0, 0, 0, 0x40, 0, 0], // SessionId
            &[0x5A; 16],                     // Signature
        ]
        .concat();
        assert_eq!(b, expected);
        assert_eq!(&b[SIGNATURE_OFFSET..], &[0x5A; 16]);
    }

    #[test]
    fn sync_and_async_round_trip() {
        let h = sample();
        let mut w = Writer::new();
        h.encode(&mut w);
        let d = Header::decode(w.as_slice()).unwrap();
        assert_eq!(d, h);
        assert!(d.is_response() && d.is_signed() && !d.is_async());

        let mut a = sample();
        a.async_id = Some(0x0123_4567_89AB_CDEF);
        a.tree_id = 0;
        a.status = NtStatus::PENDING;
        let mut w = Writer::new();
        a.encode(&mut w);
        let d = Header::decode(w.as_slice()).unwrap();
        assert!(d.is_async());
        assert_eq!(d.async_id, a.async_id);
        assert_eq!(d.flags, a.flags | flags::ASYNC_COMMAND);
        assert_eq!(
            &w.as_slice()[32..40],
            &0x0123_4567_89AB_CDEFu64.to_le_bytes()
        );
    }

    #[test]
    fn request_builder_is_zeroed() {
        let h = Header::request(Command::ECHO);
        let mut w = Writer::new();
        h.encode(&mut w);
        let b = w.as_slice();
        assert_eq!(&b[..4], &PROTOCOL_ID);
        assert_eq!(&b[12..14], &[0x0D, 0]);
        assert!(b[6..12].iter().all(|&x| x == 0));
        assert!(b[14..].iter().all(|&x| x == 0));
        assert!(!h.is_response());
    }

    #[test]
    fn hostile_headers_fail() {
        let mut w = Writer::new();
        sample().encode(&mut w);
        let good = w.into_vec();
        assert_truncations_fail(&good, Header::decode);
        mutate_never_panics(&good, Header::decode);

        let mut bad = good.clone();
        bad[0] = 0xFF; // SMB1 protocol id
        assert!(Header::decode(&bad).is_err());
        let mut bad = good.clone();
        bad[0] = 0xFD; // transform header
        assert!(Header::decode(&bad).is_err());
        let mut bad = good;
        bad[4] = 63;
        assert!(Header::decode(&bad).is_err());
    }

    fn message(next_command: u32, len: usize) -> Vec<u8> {
        let mut h = Header::request(Command::ECHO);
        h.next_command = next_command;
        let mut w = Writer::new();
        h.encode(&mut w);
        w.u16(4).u16(0);
        w.zeros(len - w.len());
        w.into_vec()
    }

    #[test]
    fn split_compound_walks_the_chain() {
        let a = message(72, 72);
        let b = message(80, 80);
        let c = message(0, 68);
        let chain = [a.clone(), b.clone(), c.clone()].concat();
        let parts = split_compound(&chain).unwrap();
        assert_eq!(parts, vec![&a[..], &b[..], &c[..]]);

        let single = message(0, 68);
        assert_eq!(split_compound(&single).unwrap(), vec![&single[..]]);
    }

    #[test]
    fn split_compound_rejects_bad_next_command() {
        let tail = message(0, 68);
        for bad in [1u32, 4, 60, 63, 65, 70, 0x8000_0000, u32::MAX, u32::MAX - 7] {
            let chain = [message(bad, 72), tail.clone()].concat();
            assert!(
                split_compound(&chain).is_err(),
                "NextCommand {bad} accepted"
            );
        }
        // Pointing exactly at the end, or leaving less than a header.
        let chain = [message(72, 72)].concat();
        assert!(split_compound(&chain).is_err());
        let chain = [message(72, 72), vec![0xFE, b'S', b'M', b'B']].concat();
        assert!(split_compound(&chain).is_err());
        // The next "message" is not SMB2.
        let mut junk = message(0, 68);
        junk[0] = 0xFF;
        let chain = [message(72, 72), junk].concat();
        assert!(split_compound(&chain).is_err());
        // Empty and short input.
        assert!(split_compound(&[]).is_err());
        assert!(split_compound(&[0xFE, b'S', b'M', b'B']).is_err());

        // Any cut before the last header is complete fails.
        let chain = [message(72, 72), message(72, 72), message(0, 68)].concat();
        for len in 0..144 + HEADER_LEN {
            assert!(
                split_compound(&chain[..len]).is_err(),
                "{len}-byte prefix accepted"
            );
        }
        mutate_never_panics(&chain, |m| split_compound(m).map(|v| v.len()));
    }
}
