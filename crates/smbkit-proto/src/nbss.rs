//! NetBIOS session service framing (RFC 1001 / RFC 1002) and the direct TCP
//! transport of MS-SMB2 §2.1.
//!
//! Both transports put a 4-byte header in front of every SMB message. Over
//! NetBIOS (port 139, RFC 1002 §4.3.1) the header is a packet type, a flags
//! byte whose low bit extends the length, and a 16-bit big-endian length;
//! before any message the client sends a SESSION REQUEST naming the server
//! and itself (RFC 1002 §4.3.2) and the server answers with a positive,
//! negative or retarget response. Over direct TCP (port 445, MS-SMB2 §2.1)
//! the header is a zero byte and a 24-bit big-endian length, which is the
//! session-message header with a wider length field, so one parser serves
//! both.

use std::fmt;
use std::net::Ipv4Addr;

use crate::codec::{wire_u32, DecodeError, EncodeError, Reader, Writer};

/// Largest frame accepted by default: a 16 MiB message plus room for the
/// SMB2 headers around it. Callers pass it to [`parse_frame_header`] so a
/// hostile length is rejected before anything is allocated.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024 + 1024;

/// Largest length a session-message header can carry (24 bits).
const MAX_MESSAGE_LEN: usize = (1 << 24) - 1;

/// Packet types of the NetBIOS session service (RFC 1002 §4.3.1).
pub mod kind {
    /// SESSION MESSAGE: carries one SMB message (RFC 1002 §4.3.6 calls it
    /// the session message; MS-SMB2 §2.1 uses the same zero type byte).
    pub const SESSION_MESSAGE: u8 = 0x00;
    /// SESSION REQUEST: the client names the called and calling names
    /// (RFC 1002 §4.3.2).
    pub const SESSION_REQUEST: u8 = 0x81;
    /// POSITIVE SESSION RESPONSE (RFC 1002 §4.3.3).
    pub const POSITIVE_RESPONSE: u8 = 0x82;
    /// NEGATIVE SESSION RESPONSE, with a one-byte error code
    /// (RFC 1002 §4.3.4).
    pub const NEGATIVE_RESPONSE: u8 = 0x83;
    /// RETARGET SESSION RESPONSE, with an IPv4 address and port
    /// (RFC 1002 §4.3.5).
    pub const RETARGET_RESPONSE: u8 = 0x84;
    /// SESSION KEEP ALIVE, with no payload (RFC 1002 §4.3.7).
    pub const KEEP_ALIVE: u8 = 0x85;
}

/// Encodes a NetBIOS name for the session service: the name is upper-cased,
/// space-padded to 15 characters and followed by the `suffix` byte (the
/// NetBIOS service type), then first-level encoded as RFC 1001 §14.1
/// describes — each of the 16 bytes split into two nibbles, each nibble
/// added to `'A'` — giving 32 characters. RFC 1002 §4.1 carries that as a
/// label: the length byte 0x20 in front and a 0x00 terminator (empty scope)
/// behind, 34 bytes in all.
///
/// Names longer than 15 bytes are cut to 15; call [`validate_name`] first
/// to reject them with a message instead.
pub fn encode_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    for (slot, b) in raw.iter_mut().zip(name.bytes().take(15)) {
        *slot = b.to_ascii_uppercase();
    }
    raw[15] = suffix;
    let mut out = Vec::with_capacity(34);
    out.push(0x20);
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0F));
    }
    out.push(0x00);
    out
}

/// Characters pysmb documents as forbidden in NetBIOS names (besides space).
const FORBIDDEN: &str = "\\/:*?\";|+";

/// Why a NetBIOS name is not usable (the rules pysmb documents: 1 to 15
/// characters, ASCII only, no spaces or control characters and none of
/// `\/:*?";|+`). Displays as a sentence for the user, e.g. "NetBIOS name
/// 'ABCDEFGHIJKLMNOPQ' is 17 characters long; the limit is 15".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("NetBIOS name is empty; it needs 1 to 15 characters")]
    Empty,
    /// More than 15 characters.
    #[error("NetBIOS name '{name}' is {count} characters long; the limit is 15")]
    TooLong {
        /// The name.
        name: String,
        /// Its length in characters.
        count: usize,
    },
    /// A character that is not ASCII.
    #[error("NetBIOS name '{name}' contains the non-ASCII character '{character}'; only ASCII characters are allowed")]
    NonAscii {
        /// The name.
        name: String,
        /// The first such character.
        character: char,
    },
    /// A space.
    #[error("NetBIOS name '{name}' contains a space; spaces are not allowed")]
    Space {
        /// The name.
        name: String,
    },
    /// A control character.
    #[error("NetBIOS name {name:?} contains the control character {character:?}; only printable characters are allowed")]
    Control {
        /// The name.
        name: String,
        /// The first such character.
        character: char,
    },
    /// One of `\/:*?";|+`.
    #[error("NetBIOS name '{name}' contains '{character}', which is not allowed; none of {FORBIDDEN} may appear")]
    Forbidden {
        /// The name.
        name: String,
        /// The first such character.
        character: char,
    },
}

/// Checks a NetBIOS name the way pysmb documents it: 1 to 15 characters,
/// ASCII only, no spaces or control characters and none of `\/:*?";|+`.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let count = name.chars().count();
    if count == 0 {
        return Err(NameError::Empty);
    }
    let name_s = || name.to_string();
    if count > 15 {
        return Err(NameError::TooLong {
            name: name_s(),
            count,
        });
    }
    for c in name.chars() {
        if !c.is_ascii() {
            return Err(NameError::NonAscii {
                name: name_s(),
                character: c,
            });
        }
        if c == ' ' {
            return Err(NameError::Space { name: name_s() });
        }
        if c.is_ascii_control() {
            return Err(NameError::Control {
                name: name_s(),
                character: c,
            });
        }
        if FORBIDDEN.contains(c) {
            return Err(NameError::Forbidden {
                name: name_s(),
                character: c,
            });
        }
    }
    Ok(())
}

/// The complete SESSION REQUEST packet (RFC 1002 §4.3.2), 4-byte header
/// included: the called (server) name with suffix 0x20 (file server
/// service) and the calling (client) name with suffix 0x00 (workstation),
/// each encoded by [`encode_name`]; 72 bytes in all.
pub fn session_request(called: &str, calling: &str) -> Vec<u8> {
    let called = encode_name(called, 0x20);
    let calling = encode_name(calling, 0x00);
    let len = called.len() + calling.len();
    let mut w = Writer::new();
    w.u8(kind::SESSION_REQUEST)
        .u8(0)
        // Two 34-byte names: always 68, which fits in 16 bits.
        .u16_be(len as u16)
        .bytes(&called)
        .bytes(&calling);
    w.into_vec()
}

/// A parsed 4-byte frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The packet type, one of [`kind`].
    pub kind: u8,
    /// The number of payload bytes that follow the header.
    pub length: usize,
}

/// Parses a 4-byte frame header.
///
/// For SESSION_MESSAGE the length is the 24 bits after the type byte, as
/// direct TCP defines it (MS-SMB2 §2.1); RFC 1002 §4.3.1's 17-bit length
/// (7 reserved zero bits, the E extension bit, 16 length bits) is a subset
/// of that, and servers send longer messages over NetBIOS too. For the other
/// packet types the length is the RFC 1002 17-bit one: bit 0 of the flags
/// byte extends the 16-bit length; the reserved flag bits are ignored.
///
/// Fails with [`DecodeError::TooLarge`] when the length exceeds `max`, with
/// [`DecodeError::Invalid`] for an unknown packet type, and for a
/// KEEP_ALIVE whose length is not 0 (RFC 1002 §4.3.7), since callers skip
/// keep-alives without reading a payload.
pub fn parse_frame_header(h: [u8; 4], max: usize) -> Result<FrameHeader, DecodeError> {
    let kind = h[0];
    let length = match kind {
        kind::SESSION_MESSAGE => {
            (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3])
        }
        kind::SESSION_REQUEST
        | kind::POSITIVE_RESPONSE
        | kind::NEGATIVE_RESPONSE
        | kind::RETARGET_RESPONSE
        | kind::KEEP_ALIVE => {
            (usize::from(h[1] & 0x01) << 16) | usize::from(u16::from_be_bytes([h[2], h[3]]))
        }
        other => {
            return Err(DecodeError::invalid(
                "NetBIOS frame type",
                format!("unknown packet type {other:#04x}"),
            ))
        }
    };
    if length > max {
        return Err(DecodeError::TooLarge {
            what: "NetBIOS frame",
            length,
            limit: max,
        });
    }
    if kind == kind::KEEP_ALIVE && length != 0 {
        return Err(DecodeError::invalid(
            "NetBIOS keep-alive",
            format!("length is {length}; a keep-alive carries no payload"),
        ));
    }
    Ok(FrameHeader { kind, length })
}

/// The header for a session message of `len` bytes: 0x00 and the 24-bit
/// big-endian length (MS-SMB2 §2.1; also valid NetBIOS framing, RFC 1002
/// §4.3.6).
///
/// # Errors
///
/// If `len` does not fit in 24 bits.
pub fn message_header(len: usize) -> Result<[u8; 4], EncodeError> {
    if len > MAX_MESSAGE_LEN {
        return Err(EncodeError::too_long(
            "NBSS session message Length",
            len,
            MAX_MESSAGE_LEN,
        ));
    }
    let b = wire_u32(len, "NBSS session message Length")?.to_be_bytes();
    Ok([kind::SESSION_MESSAGE, b[1], b[2], b[3]])
}

/// The server's answer to a SESSION REQUEST (RFC 1002 §4.3.3–§4.3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionResponse {
    /// POSITIVE SESSION RESPONSE: the session is established.
    Positive,
    /// NEGATIVE SESSION RESPONSE with its error code.
    Negative(NegativeResponse),
    /// RETARGET SESSION RESPONSE: connect to this address and port instead.
    Retarget {
        /// The address to connect to.
        addr: Ipv4Addr,
        /// The port to connect to.
        port: u16,
    },
}

/// The error code of a NEGATIVE SESSION RESPONSE (RFC 1002 §4.3.4), as an
/// open newtype: unknown codes are kept and shown in hex. `Display` explains
/// the code in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NegativeResponse(pub u8);

impl NegativeResponse {
    /// 0x80: the server is not listening on the called name.
    pub const NOT_LISTENING_ON_CALLED_NAME: NegativeResponse = NegativeResponse(0x80);
    /// 0x81: the server is not listening for the calling name.
    pub const NOT_LISTENING_FOR_CALLING_NAME: NegativeResponse = NegativeResponse(0x81);
    /// 0x82: the called name is not present.
    pub const CALLED_NAME_NOT_PRESENT: NegativeResponse = NegativeResponse(0x82);
    /// 0x83: the called name is present, but the server lacks resources.
    pub const INSUFFICIENT_RESOURCES: NegativeResponse = NegativeResponse(0x83);
    /// 0x8F: unspecified error.
    pub const UNSPECIFIED_ERROR: NegativeResponse = NegativeResponse(0x8F);

    /// RFC 1002's wording for a known code.
    pub fn description(self) -> Option<&'static str> {
        match self.0 {
            0x80 => Some("not listening on called name"),
            0x81 => Some("not listening for calling name"),
            0x82 => Some("called name not present"),
            0x83 => Some("called name present, but insufficient resources"),
            0x8F => Some("unspecified error"),
            _ => None,
        }
    }
}

impl fmt::Display for NegativeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0x80 => write!(
                f,
                "the server is not listening on the called name (NetBIOS error 0x80)"
            ),
            0x81 => write!(
                f,
                "the server is not listening for this calling name (NetBIOS error 0x81)"
            ),
            0x82 => write!(
                f,
                "the called name is not present on the server (NetBIOS error 0x82)"
            ),
            0x83 => write!(
                f,
                "the called name is present, but the server has insufficient resources (NetBIOS error 0x83)"
            ),
            0x8F => write!(f, "unspecified error (NetBIOS error 0x8f)"),
            other => write!(f, "unknown NetBIOS session error {other:#04x}"),
        }
    }
}

/// The most a caller need read of a session response's payload: the
/// longest that [`parse_session_response`] accepts (a positive response
/// echoing the two names of the request, scope included, fits).
pub const SESSION_RESPONSE_MAX: usize = 256;

/// Parses the answer to a SESSION REQUEST from its header and payload.
///
/// The header's length and the payload's must both be what the packet type
/// carries: 1 byte (the error code) for a negative response, 6 (IPv4
/// address and port, big-endian) for a retarget (RFC 1002 §4.3.4–§4.3.5).
/// A positive response has no payload (RFC 1002 §4.3.3), but one with some
/// is taken all the same, its payload ignored: impacket's SMB server
/// answers with the request's called and calling names, and clients such
/// as pysmb only look at the packet type. A short payload is
/// [`DecodeError::Truncated`]; a longer one, a disagreeing length field, a
/// payload over [`SESSION_RESPONSE_MAX`] or any other packet type is
/// [`DecodeError::Invalid`].
pub fn parse_session_response(
    header: FrameHeader,
    payload: &[u8],
) -> Result<SessionResponse, DecodeError> {
    let (what, size) = match header.kind {
        kind::POSITIVE_RESPONSE if header.length <= SESSION_RESPONSE_MAX => {
            ("NetBIOS positive session response", header.length)
        }
        kind::POSITIVE_RESPONSE => ("NetBIOS positive session response", 0),
        kind::NEGATIVE_RESPONSE => ("NetBIOS negative session response", 1),
        kind::RETARGET_RESPONSE => ("NetBIOS retarget session response", 6),
        other => {
            return Err(DecodeError::invalid(
                "NetBIOS session response",
                format!("packet type {other:#04x} is not an answer to a session request"),
            ))
        }
    };
    if header.length != size {
        return Err(DecodeError::invalid(
            what,
            format!(
                "length field is {}; this packet carries {size} bytes",
                header.length
            ),
        ));
    }
    let mut r = Reader::new(payload);
    let response = match header.kind {
        kind::POSITIVE_RESPONSE => {
            r.skip(size, what)?;
            SessionResponse::Positive
        }
        kind::NEGATIVE_RESPONSE => SessionResponse::Negative(NegativeResponse(r.u8(what)?)),
        _ => {
            let addr = Ipv4Addr::from(r.array::<4>(what)?);
            let port = r.u16_be(what)?;
            SessionResponse::Retarget { addr, port }
        }
    };
    r.expect_end(what)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, length: usize) -> FrameHeader {
        FrameHeader { kind, length }
    }

    #[test]
    fn encode_name_matches_rfc1001_example() {
        // RFC 1001 §14.1: "FRED" padded with spaces encodes to
        // EGFCEFEECACACACACACACACACACACACA; suffix 0x20 is a space too.
        let e = encode_name("FRED", 0x20);
        assert_eq!(e.len(), 34);
        assert_eq!(e[0], 0x20);
        assert_eq!(&e[1..33], b"EGFCEFEECACACACACACACACACACACACA");
        assert_eq!(e[33], 0x00);
        // Upper-casing, and the suffix in the last two characters.
        assert_eq!(encode_name("fred", 0x20), e);
        let ws = encode_name("SERVER", 0x00);
        assert_eq!(&ws[1..33], b"FDEFFCFGEFFCCACACACACACACACACAAA");
        let srv = encode_name("server", 0x20);
        assert_eq!(&srv[1..33], b"FDEFFCFGEFFCCACACACACACACACACACA");
    }

    #[test]
    fn encode_name_truncates_to_15() {
        let e = encode_name("ABCDEFGHIJKLMNOPQRS", 0x1B);
        assert_eq!(e.len(), 34);
        assert_eq!(e, encode_name("ABCDEFGHIJKLMNO", 0x1B));
        assert_eq!(&e[31..33], b"BL");
    }

    #[test]
    fn validate_name_cases() {
        for ok in ["A", "SERVER", "MY-PC_01", "ABCDEFGHIJKLMNO", "x.y", "home$"] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_name("ABCDEFGHIJKLMNOPQ").unwrap_err().to_string(),
            "NetBIOS name 'ABCDEFGHIJKLMNOPQ' is 17 characters long; the limit is 15"
        );
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert!(matches!(
            validate_name("MY PC"),
            Err(NameError::Space { .. })
        ));
        for bad in ['\\', '/', ':', '*', '?', '"', ';', '|', '+'] {
            let name = format!("A{bad}B");
            let err = validate_name(&name).unwrap_err();
            assert!(
                matches!(&err, NameError::Forbidden { character, .. } if *character == bad),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        }
        assert!(matches!(
            validate_name("SERVÉR"),
            Err(NameError::NonAscii {
                character: 'É', ..
            })
        ));
        assert!(matches!(
            validate_name("A\tB"),
            Err(NameError::Control {
                character: '\t',
                ..
            })
        ));
        // Length counts characters, not bytes.
        assert!(matches!(
            validate_name("ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ"),
            Err(NameError::TooLong { count: 16, .. })
        ));
    }

    #[test]
    fn session_request_layout() {
        let p = session_request("server", "client");
        assert_eq!(p.len(), 72);
        assert_eq!(&p[..4], &[0x81, 0x00, 0x00, 0x44]);
        assert_eq!(&p[4..38], &encode_name("SERVER", 0x20)[..]);
        assert_eq!(&p[38..], &encode_name("CLIENT", 0x00)[..]);
        let h = parse_frame_header(p[..4].try_into().unwrap(), 1024).unwrap();
        assert_eq!(h, header(kind::SESSION_REQUEST, 68));
    }

    #[test]
    fn session_message_header_uses_24_bits() {
        let h = parse_frame_header([0x00, 0x01, 0x02, 0x03], DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(h, header(kind::SESSION_MESSAGE, 0x01_0203));
        let h = parse_frame_header([0x00, 0x00, 0x00, 0x40], 64).unwrap();
        assert_eq!(h.length, 64);
        // NBSS-style E bit is just bit 16 of the 24-bit length.
        let h = parse_frame_header([0x00, 0x01, 0x00, 0x00], DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(h.length, 0x1_0000);
        let h = parse_frame_header([0x00, 0xFF, 0xFF, 0xFF], usize::MAX).unwrap();
        assert_eq!(h.length, 0xFF_FFFF);
    }

    #[test]
    fn nbss_header_17_bit_length_with_and_without_e_bit() {
        let h = parse_frame_header([0x83, 0x00, 0x00, 0x01], 64).unwrap();
        assert_eq!(h, header(kind::NEGATIVE_RESPONSE, 1));
        let h = parse_frame_header([0x81, 0x01, 0x00, 0x02], usize::MAX).unwrap();
        assert_eq!(h, header(kind::SESSION_REQUEST, 0x1_0002));
        // Reserved flag bits do not contribute to the length.
        let h = parse_frame_header([0x84, 0xFE, 0x00, 0x06], 64).unwrap();
        assert_eq!(h, header(kind::RETARGET_RESPONSE, 6));
        let h = parse_frame_header([0x82, 0x00, 0x00, 0x00], 64).unwrap();
        assert_eq!(h, header(kind::POSITIVE_RESPONSE, 0));
    }

    #[test]
    fn max_length_is_enforced() {
        assert!(parse_frame_header([0x00, 0x00, 0x00, 0x40], 64).is_ok());
        assert_eq!(
            parse_frame_header([0x00, 0x00, 0x00, 0x41], 64),
            Err(DecodeError::TooLarge {
                what: "NetBIOS frame",
                length: 65,
                limit: 64
            })
        );
        assert!(matches!(
            parse_frame_header([0x00, 0x80, 0x00, 0x00], 1 << 20),
            Err(DecodeError::TooLarge { .. })
        ));
        // The default limit admits every 24-bit length (16 MiB - 1 at most).
        assert!(parse_frame_header([0x00, 0xFF, 0xFF, 0xFF], DEFAULT_MAX_FRAME).is_ok());
        assert!(matches!(
            parse_frame_header([0x83, 0x01, 0x00, 0x00], 64),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn unknown_kind_is_invalid() {
        for k in [0x01u8, 0x80, 0x86, 0xFF] {
            assert!(matches!(
                parse_frame_header([k, 0, 0, 0], 64),
                Err(DecodeError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn keep_alive() {
        let h = parse_frame_header([0x85, 0x00, 0x00, 0x00], 64).unwrap();
        assert_eq!(h, header(kind::KEEP_ALIVE, 0));
        assert!(matches!(
            parse_frame_header([0x85, 0x00, 0x00, 0x04], 64),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn message_header_round_trip_and_limit() {
        assert_eq!(message_header(0).unwrap(), [0, 0, 0, 0]);
        assert_eq!(message_header(0x01_0203).unwrap(), [0, 1, 2, 3]);
        assert_eq!(message_header(0xFF_FFFF).unwrap(), [0, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            message_header(1 << 24).unwrap_err().to_string(),
            "NBSS session message Length: 16777216 bytes, the limit is 16777215"
        );
        assert!(message_header(usize::MAX).is_err());
        for len in [0usize, 1, 64, 65_535, 65_536, 131_071, 131_072, 0xFF_FFFF] {
            let h = parse_frame_header(message_header(len).unwrap(), usize::MAX).unwrap();
            assert_eq!(h, header(kind::SESSION_MESSAGE, len));
        }
    }

    #[test]
    fn positive_response() {
        assert_eq!(
            parse_session_response(header(kind::POSITIVE_RESPONSE, 0), &[]),
            Ok(SessionResponse::Positive)
        );
        assert!(parse_session_response(header(kind::POSITIVE_RESPONSE, 0), &[0]).is_err());
        assert!(parse_session_response(header(kind::POSITIVE_RESPONSE, 2), &[0]).is_err());
        // impacket's: the request's two encoded names (34 bytes each) echoed.
        let names = [encode_name("SERVER", 0x20), encode_name("CLIENT", 0x00)].concat();
        assert_eq!(names.len(), 68);
        assert_eq!(
            parse_session_response(header(kind::POSITIVE_RESPONSE, 68), &names),
            Ok(SessionResponse::Positive)
        );
        let long = vec![0u8; SESSION_RESPONSE_MAX + 1];
        assert!(
            parse_session_response(header(kind::POSITIVE_RESPONSE, long.len()), &long).is_err()
        );
    }

    #[test]
    fn negative_response() {
        let r = parse_session_response(header(kind::NEGATIVE_RESPONSE, 1), &[0x82]).unwrap();
        assert_eq!(
            r,
            SessionResponse::Negative(NegativeResponse::CALLED_NAME_NOT_PRESENT)
        );
        let SessionResponse::Negative(code) = r else {
            unreachable!()
        };
        assert_eq!(
            code.to_string(),
            "the called name is not present on the server (NetBIOS error 0x82)"
        );
        assert_eq!(code.description(), Some("called name not present"));
        assert!(NegativeResponse(0x80)
            .to_string()
            .contains("not listening on the called name"));
        assert!(NegativeResponse(0x81)
            .to_string()
            .contains("not listening for this calling name"));
        assert!(NegativeResponse(0x83)
            .to_string()
            .contains("insufficient resources"));
        assert!(NegativeResponse(0x8F).to_string().contains("unspecified"));
        assert_eq!(
            NegativeResponse(0x42).to_string(),
            "unknown NetBIOS session error 0x42"
        );
        assert_eq!(NegativeResponse(0x42).description(), None);
        // Unknown codes are kept.
        assert_eq!(
            parse_session_response(header(kind::NEGATIVE_RESPONSE, 1), &[0x99]),
            Ok(SessionResponse::Negative(NegativeResponse(0x99)))
        );
    }

    #[test]
    fn retarget_response() {
        let r = parse_session_response(
            header(kind::RETARGET_RESPONSE, 6),
            &[192, 168, 1, 20, 0x00, 0x8B],
        )
        .unwrap();
        assert_eq!(
            r,
            SessionResponse::Retarget {
                addr: Ipv4Addr::new(192, 168, 1, 20),
                port: 139
            }
        );
    }

    #[test]
    fn truncated_and_oversized_payloads_are_errors() {
        assert!(matches!(
            parse_session_response(header(kind::NEGATIVE_RESPONSE, 1), &[]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            parse_session_response(header(kind::RETARGET_RESPONSE, 6), &[10, 0, 0, 1, 0]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            parse_session_response(header(kind::RETARGET_RESPONSE, 6), &[10, 0, 0]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            parse_session_response(header(kind::NEGATIVE_RESPONSE, 1), &[0x80, 0]),
            Err(DecodeError::Invalid { .. })
        ));
        // A header whose length disagrees with the packet type.
        assert!(matches!(
            parse_session_response(header(kind::NEGATIVE_RESPONSE, 0), &[]),
            Err(DecodeError::Invalid { .. })
        ));
        assert!(matches!(
            parse_session_response(header(kind::RETARGET_RESPONSE, 7), &[0; 7]),
            Err(DecodeError::Invalid { .. })
        ));
        // Not a session response at all.
        for k in [
            kind::SESSION_MESSAGE,
            kind::KEEP_ALIVE,
            kind::SESSION_REQUEST,
        ] {
            assert!(matches!(
                parse_session_response(header(k, 0), &[]),
                Err(DecodeError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn every_header_parses_or_errors_without_panicking() {
        for k in 0..=255u8 {
            for flags in [0u8, 1, 0x7F, 0xFF] {
                let _ = parse_frame_header([k, flags, 0xFF, 0xFF], 64);
                let _ = parse_frame_header([k, flags, 0x00, 0x00], 0);
            }
            for len in 0..8 {
                let _ = parse_session_response(header(k, len), &[0u8; 8][..len]);
            }
        }
    }
}
