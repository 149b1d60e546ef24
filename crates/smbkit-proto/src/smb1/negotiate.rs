//! SMB_COM_NEGOTIATE (MS-CIFS §2.2.4.52, MS-SMB §2.2.4.5).

use super::header::{command, flags, flags2, Header, HEADER_LEN};
use crate::codec::{from_utf16le_lossy, wire_u16, DecodeError, EncodeError, Reader, Writer};
use crate::types::NtStatus;

/// The NT LAN Manager dialect string (MS-CIFS §1.7, §2.2.4.52).
pub const NT_LM_0_12: &str = "NT LM 0.12";
/// Dialect string offering SMB 2.0.2 in a multi-protocol negotiate
/// (MS-SMB2 §3.2.4.2.2.1).
pub const SMB_2_002: &str = "SMB 2.002";
/// Dialect string offering SMB 2.1 and later in a multi-protocol negotiate
/// (MS-SMB2 §3.2.4.2.2.1); a server answers it with an SMB2 NEGOTIATE
/// response for dialect 0x02FF.
pub const SMB_2_WILDCARD: &str = "SMB 2.???";

/// The Flags2 a modern client sends with its negotiate (MS-SMB §2.2.3.1):
/// UNICODE | NT_STATUS | EXTENDED_SECURITY | LONG_NAMES. Add
/// [`flags2::SECURITY_SIGNATURE`] to announce signing.
pub const DEFAULT_FLAGS2: u16 =
    flags2::UNICODE | flags2::NT_STATUS | flags2::EXTENDED_SECURITY | flags2::LONG_NAMES;

/// DialectIndex meaning "none of the offered dialects" (MS-CIFS §2.2.4.52.2:
/// "If the server does not support any of the listed dialects, it MUST return
/// a DialectIndex of 0XFFFF").
pub const NO_DIALECT: u16 = 0xFFFF;

/// SecurityMode bits of the NT LM 0.12 response (MS-CIFS §2.2.4.52.2).
pub mod security_mode {
    /// NEGOTIATE_USER_SECURITY: user-level (not share-level) access control.
    pub const USER_SECURITY: u8 = 0x01;
    /// NEGOTIATE_ENCRYPT_PASSWORDS: challenge/response authentication.
    pub const ENCRYPT_PASSWORDS: u8 = 0x02;
    /// NEGOTIATE_SECURITY_SIGNATURES_ENABLED.
    pub const SECURITY_SIGNATURES_ENABLED: u8 = 0x04;
    /// NEGOTIATE_SECURITY_SIGNATURES_REQUIRED.
    pub const SECURITY_SIGNATURES_REQUIRED: u8 = 0x08;
}

/// Capabilities bits of the NT LM 0.12 response (MS-CIFS §2.2.4.52.2,
/// MS-SMB §2.2.4.5.2).
pub mod capabilities {
    /// CAP_RAW_MODE.
    pub const RAW_MODE: u32 = 0x0000_0001;
    /// CAP_MPX_MODE.
    pub const MPX_MODE: u32 = 0x0000_0002;
    /// CAP_UNICODE.
    pub const UNICODE: u32 = 0x0000_0004;
    /// CAP_LARGE_FILES.
    pub const LARGE_FILES: u32 = 0x0000_0008;
    /// CAP_NT_SMBS.
    pub const NT_SMBS: u32 = 0x0000_0010;
    /// CAP_RPC_REMOTE_APIS.
    pub const RPC_REMOTE_APIS: u32 = 0x0000_0020;
    /// CAP_STATUS32: NT status codes.
    pub const NT_STATUS: u32 = 0x0000_0040;
    /// CAP_LEVEL_II_OPLOCKS.
    pub const LEVEL_II_OPLOCKS: u32 = 0x0000_0080;
    /// CAP_LOCK_AND_READ.
    pub const LOCK_AND_READ: u32 = 0x0000_0100;
    /// CAP_NT_FIND.
    pub const NT_FIND: u32 = 0x0000_0200;
    /// CAP_DFS.
    pub const DFS: u32 = 0x0000_1000;
    /// CAP_INFOLEVEL_PASSTHRU (MS-SMB).
    pub const INFOLEVEL_PASSTHRU: u32 = 0x0000_2000;
    /// CAP_LARGE_READX.
    pub const LARGE_READX: u32 = 0x0000_4000;
    /// CAP_LARGE_WRITEX.
    pub const LARGE_WRITEX: u32 = 0x0000_8000;
    /// CAP_LWIO (MS-SMB).
    pub const LWIO: u32 = 0x0001_0000;
    /// CAP_UNIX.
    pub const UNIX: u32 = 0x0080_0000;
    /// CAP_COMPRESSED_DATA (MS-SMB).
    pub const COMPRESSED_DATA: u32 = 0x0200_0000;
    /// CAP_DYNAMIC_REAUTH (MS-SMB).
    pub const DYNAMIC_REAUTH: u32 = 0x2000_0000;
    /// CAP_PERSISTENT_HANDLES (MS-SMB).
    pub const PERSISTENT_HANDLES: u32 = 0x4000_0000;
    /// CAP_EXTENDED_SECURITY (MS-SMB): the response carries ServerGUID and a
    /// SecurityBlob instead of a challenge.
    pub const EXTENDED_SECURITY: u32 = 0x8000_0000;
}

/// Builds the complete SMB_COM_NEGOTIATE request (MS-CIFS §2.2.4.52.1): a
/// 32-byte header (Flags CASE_INSENSITIVE | CANONICALIZED_PATHS, the given
/// `flags2` and `mid`, PIDLow 0xFEFF), WordCount 0 ("This field MUST be
/// 0x00"), ByteCount, and each dialect as BufferFormat 0x02 ("This field MUST
/// be 0x02") followed by the NUL-terminated DialectString.
///
/// `flags2` should be [`DEFAULT_FLAGS2`], plus
/// [`flags2::SECURITY_SIGNATURE`] if signing is wanted.
///
/// # Errors
///
/// If a dialect string contains a NUL, or the strings exceed the 65535 bytes
/// of ByteCount.
pub fn negotiate_request(dialects: &[&str], flags2: u16, mid: u16) -> Result<Vec<u8>, EncodeError> {
    let header = Header {
        command: command::NEGOTIATE,
        status: NtStatus::SUCCESS,
        flags: flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
        flags2,
        pid_high: 0,
        security_features: [0; 8],
        tid: 0,
        pid_low: 0xFEFF,
        uid: 0,
        mid,
    };
    let mut w = Writer::new();
    header.encode(&mut w);
    w.u8(0);
    let count_pos = w.len();
    w.u16(0);
    let start = w.len();
    for d in dialects {
        if d.contains('\0') {
            return Err(EncodeError::Invalid {
                what: "SMB_COM_NEGOTIATE DialectString",
                detail: "contains a NUL character",
            });
        }
        w.u8(0x02).bytes(d.as_bytes()).u8(0);
    }
    let count = wire_u16(w.len() - start, "SMB_COM_NEGOTIATE ByteCount")?;
    w.patch_u16(count_pos, count);
    Ok(w.into_vec())
}

/// Decodes an SMB_COM_NEGOTIATE request (MS-CIFS §2.2.4.52.1) into its
/// dialect strings, for servers. WordCount must be 0, every BufferFormat
/// 0x02 and every DialectString NUL-terminated within ByteCount. Strings
/// are read as Latin-1 (dialect names are ASCII).
pub fn decode_negotiate_request(msg: &[u8]) -> Result<Vec<String>, DecodeError> {
    let what = "SMB_COM_NEGOTIATE request";
    let (_, mut r) = smb1_body(msg, what)?;
    let word_count = r.u8(what)?;
    if word_count != 0 {
        return Err(DecodeError::invalid(
            what,
            format!("WordCount is {word_count} (\"This field MUST be 0x00\")"),
        ));
    }
    let byte_count = r.u16(what)?;
    let mut bytes = r.take(usize::from(byte_count), what)?;
    let mut out = Vec::new();
    while let Some((&format, rest)) = bytes.split_first() {
        if format != 0x02 {
            return Err(DecodeError::invalid(
                what,
                format!("BufferFormat is {format:#04x} (\"This field MUST be 0x02\")"),
            ));
        }
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(DecodeError::invalid(what, "unterminated DialectString"));
        };
        out.push(latin1(&rest[..nul]));
        bytes = &rest[nul + 1..];
    }
    Ok(out)
}

/// SMB_COM_NEGOTIATE response (MS-CIFS §2.2.4.52.2, MS-SMB §2.2.4.5.2).
///
/// For the NT LAN Manager dialect ("If the server has selected the NT LAN
/// Manager dialect, then WordCount MUST be 0x11") the words are DialectIndex,
/// SecurityMode, MaxMpxCount, MaxNumberVcs, MaxBufferSize, MaxRawSize,
/// SessionKey, Capabilities, SystemTime, ServerTimeZone, ChallengeLength;
/// the bytes are either ServerGUID + SecurityBlob (extended security,
/// MS-SMB §2.2.4.5.2.1) or Challenge + DomainName + ServerName
/// (MS-SMB §2.2.4.5.2.2). "If none of the offered protocols is supported by
/// the server, then WordCount MUST be 0x01 and the dialect index ... MUST be
/// returned as the only parameter": that form decodes with every other
/// field zero/empty/`None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// DialectIndex into the request's dialect list, or [`NO_DIALECT`].
    pub dialect_index: u16,
    /// SecurityMode (see [`security_mode`]).
    pub security_mode: u8,
    /// MaxMpxCount.
    pub max_mpx_count: u16,
    /// MaxNumberVcs.
    pub max_number_vcs: u16,
    /// MaxBufferSize.
    pub max_buffer_size: u32,
    /// MaxRawSize.
    pub max_raw_size: u32,
    /// SessionKey.
    pub session_key: u32,
    /// Capabilities (see [`capabilities`]).
    pub capabilities: u32,
    /// SystemTime (FILETIME).
    pub system_time: u64,
    /// ServerTimeZone, minutes from UTC.
    pub server_time_zone: i16,
    /// Challenge (non-extended security, ChallengeLength 8); `None` when
    /// ChallengeLength is 0 or security is extended.
    pub challenge: Option<[u8; 8]>,
    /// ServerGUID (extended security only).
    pub server_guid: Option<[u8; 16]>,
    /// SecurityBlob (extended security only; may be empty, meaning
    /// client-initiated authentication).
    pub security_blob: Vec<u8>,
    /// DomainName (non-extended security), UTF-16LE if the header's Flags2
    /// has UNICODE, else OEM (read as Latin-1); display-only, decoded lossily.
    pub domain_name: Option<String>,
    /// ServerName (non-extended security), present iff bytes follow
    /// DomainName's terminator: "the client MUST check the SMB_Data.ByteCount
    /// field to determine whether additional data is present beyond the NULL
    /// terminator of the SMB_Data.Bytes.DomainName string".
    pub server_name: Option<String>,
}

impl NegotiateResponse {
    /// Decodes the response (`msg` starts at the SMB1 header, whose Command
    /// must be SMB_COM_NEGOTIATE).
    ///
    /// Accepts WordCount 17 (NT LM 0.12) and WordCount 1 (no common dialect,
    /// or the Core Protocol); anything else, including the WordCount 0 error
    /// form, is an error. ByteCount bytes must be present. Extended security
    /// is recognised by CAP_EXTENDED_SECURITY in Capabilities (MS-SMB §3.2.5.2:
    /// "If the capabilities returned ... include CAP_EXTENDED_SECURITY, then
    /// the response MUST take the form defined in section 2.2.4.5.2") and needs
    /// at least the 16-byte ServerGUID; otherwise ChallengeLength must be 0 or
    /// 8 and the challenge present.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_NEGOTIATE response";
        let (header, mut r) = smb1_body(msg, what)?;
        let word_count = r.u8(what)?;
        let mut resp = NegotiateResponse {
            dialect_index: 0,
            security_mode: 0,
            max_mpx_count: 0,
            max_number_vcs: 0,
            max_buffer_size: 0,
            max_raw_size: 0,
            session_key: 0,
            capabilities: 0,
            system_time: 0,
            server_time_zone: 0,
            challenge: None,
            server_guid: None,
            security_blob: Vec::new(),
            domain_name: None,
            server_name: None,
        };
        match word_count {
            1 => {
                resp.dialect_index = r.u16(what)?;
                let byte_count = r.u16(what)?;
                r.skip(usize::from(byte_count), what)?;
                return Ok(resp);
            }
            17 => {}
            n => {
                return Err(DecodeError::invalid(
                    what,
                    format!(
                    "WordCount {n}: only NT LM 0.12 (17) and no-dialect (1) replies are supported"
                ),
                ))
            }
        }
        resp.dialect_index = r.u16(what)?;
        resp.security_mode = r.u8(what)?;
        resp.max_mpx_count = r.u16(what)?;
        resp.max_number_vcs = r.u16(what)?;
        resp.max_buffer_size = r.u32(what)?;
        resp.max_raw_size = r.u32(what)?;
        resp.session_key = r.u32(what)?;
        resp.capabilities = r.u32(what)?;
        resp.system_time = r.u64(what)?;
        resp.server_time_zone = i16::from_le_bytes(r.array(what)?);
        let challenge_length = r.u8(what)?;
        let byte_count = r.u16(what)?;
        let bytes = r.take(usize::from(byte_count), "SMB_COM_NEGOTIATE response Bytes")?;
        let mut b = Reader::new(bytes);
        if resp.capabilities & capabilities::EXTENDED_SECURITY != 0 {
            resp.server_guid = Some(b.array("SMB_COM_NEGOTIATE ServerGUID")?);
            resp.security_blob = b.rest().to_vec();
            return Ok(resp);
        }
        resp.challenge = match challenge_length {
            0 => None,
            8 => Some(b.array("SMB_COM_NEGOTIATE Challenge")?),
            n => {
                return Err(DecodeError::invalid(
                    "SMB_COM_NEGOTIATE ChallengeLength",
                    format!("{n}, expected 0 or 8"),
                ))
            }
        };
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let rest = b.rest();
        if !rest.is_empty() {
            let (domain, rest) = take_string(rest, unicode);
            resp.domain_name = Some(domain);
            if !rest.is_empty() {
                resp.server_name = Some(take_string(rest, unicode).0);
            }
        }
        Ok(resp)
    }

    /// Appends the response's parameter and data blocks to `w`, which holds
    /// the 32-byte SMB1 header; `unicode` must match that header's
    /// [`flags2::UNICODE`] bit. A [`NO_DIALECT`] index produces the
    /// WordCount 1 form. Strings are written without alignment padding, NUL
    /// terminated, as Windows and Samba do.
    ///
    /// # Errors
    ///
    /// If the data block exceeds the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer, unicode: bool) -> Result<(), EncodeError> {
        if self.dialect_index == NO_DIALECT {
            w.u8(1).u16(NO_DIALECT).u16(0);
            return Ok(());
        }
        let extended = self.capabilities & capabilities::EXTENDED_SECURITY != 0;
        let challenge_length = match (&self.challenge, extended) {
            (Some(_), false) => 8,
            _ => 0,
        };
        w.u8(17)
            .u16(self.dialect_index)
            .u8(self.security_mode)
            .u16(self.max_mpx_count)
            .u16(self.max_number_vcs)
            .u32(self.max_buffer_size)
            .u32(self.max_raw_size)
            .u32(self.session_key)
            .u32(self.capabilities)
            .u64(self.system_time)
            .bytes(&self.server_time_zone.to_le_bytes())
            .u8(challenge_length);
        let count_pos = w.len();
        w.u16(0);
        let start = w.len();
        if extended {
            w.bytes(&self.server_guid.unwrap_or([0; 16]))
                .bytes(&self.security_blob);
        } else {
            if let Some(c) = &self.challenge {
                w.bytes(c);
            }
            if self.domain_name.is_some() || self.server_name.is_some() {
                put_string(w, self.domain_name.as_deref().unwrap_or(""), unicode);
            }
            if let Some(s) = &self.server_name {
                put_string(w, s, unicode);
            }
        }
        let count = wire_u16(w.len() - start, "SMB_COM_NEGOTIATE response ByteCount")?;
        w.patch_u16(count_pos, count);
        Ok(())
    }
}

/// Decodes the SMB1 header, checks the command is SMB_COM_NEGOTIATE and
/// returns a reader at the first parameter byte.
fn smb1_body<'a>(msg: &'a [u8], what: &'static str) -> Result<(Header, Reader<'a>), DecodeError> {
    let header = Header::decode(msg)?;
    if header.command != command::NEGOTIATE {
        return Err(DecodeError::invalid(
            what,
            format!(
                "header carries command {:#04x}, not SMB_COM_NEGOTIATE",
                header.command
            ),
        ));
    }
    Ok((header, Reader::at(msg, HEADER_LEN, what)?))
}

/// Bytes as Latin-1 characters.
fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Splits a NUL-terminated string (UTF-16LE without alignment padding, or
/// OEM bytes) off the front of `b`, returning it and what follows the
/// terminator. A missing terminator takes the rest (and drops an odd final
/// byte of UTF-16).
fn take_string(b: &[u8], unicode: bool) -> (String, &[u8]) {
    if unicode {
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == 0 && b[i + 1] == 0 {
                return (from_utf16le_lossy(&b[..i]), &b[i + 2..]);
            }
            i += 2;
        }
        (from_utf16le_lossy(&b[..i]), &[])
    } else {
        match b.iter().position(|&c| c == 0) {
            Some(p) => (latin1(&b[..p]), &b[p + 1..]),
            None => (latin1(b), &[]),
        }
    }
}

/// Writes a NUL-terminated string, UTF-16LE or Latin-1 (non-Latin-1
/// characters become '?').
fn put_string(w: &mut Writer, s: &str, unicode: bool) {
    if unicode {
        w.utf16(s).u16(0);
    } else {
        for c in s.chars() {
            w.u8(u8::try_from(u32::from(c)).unwrap_or(b'?'));
        }
        w.u8(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;

    #[test]
    fn request_matches_hand_computed_bytes() {
        let msg =
            negotiate_request(&[NT_LM_0_12, SMB_2_002, SMB_2_WILDCARD], DEFAULT_FLAGS2, 0).unwrap();
        let mut expected: Vec<u8> = vec![
            0xFF, b'S', b'M', b'B', 0x72, // Protocol, Command
            0, 0, 0, 0,    // Status
            0x18, // Flags: CASE_INSENSITIVE | CANONICALIZED_PATHS
            0x01, 0xC8, // Flags2: LONG_NAMES | EXTENDED_SECURITY | NT_STATUS | UNICODE
            0, 0, // PIDHigh
            0, 0, 0, 0, 0, 0, 0, 0, // SecurityFeatures
            0, 0, // Reserved
            0, 0, // TID
            0xFF, 0xFE, // PIDLow
            0, 0, // UID
            0, 0,    // MID
            0x00, // WordCount
            0x22, 0x00, // ByteCount 34
        ];
        expected.extend_from_slice(b"\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0");
        assert_eq!(msg, expected);
        assert_eq!(
            decode_negotiate_request(&msg).unwrap(),
            vec!["NT LM 0.12", "SMB 2.002", "SMB 2.???"]
        );
        for len in 0..msg.len() {
            assert!(decode_negotiate_request(&msg[..len]).is_err());
        }
        let signed = negotiate_request(
            &[NT_LM_0_12],
            DEFAULT_FLAGS2 | flags2::SECURITY_SIGNATURE,
            9,
        )
        .unwrap();
        let h = Header::decode(&signed).unwrap();
        assert_eq!(h.flags2, 0xC805);
        assert_eq!(h.mid, 9);
    }

    #[test]
    fn hostile_requests_fail() {
        let good = negotiate_request(&[NT_LM_0_12], DEFAULT_FLAGS2, 0).unwrap();
        let mut bad = good.clone();
        bad[32] = 1; // WordCount
        assert!(decode_negotiate_request(&bad).is_err());
        let mut bad = good.clone();
        bad[35] = 0x03; // BufferFormat
        assert!(decode_negotiate_request(&bad).is_err());
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = b'X'; // unterminated
        assert!(decode_negotiate_request(&bad).is_err());
        let mut bad = good;
        bad[33] = 0xFF; // ByteCount past the end
        assert!(decode_negotiate_request(&bad).is_err());
    }

    fn spnego() -> Vec<u8> {
        vec![
            0x60, 0x1c, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x12, 0x30, 0x10,
            0xa0, 0x0e, 0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02,
            0x02, 0x0a,
        ]
    }

    fn reply_header(flags2: u16) -> Vec<u8> {
        let mut m = vec![0xFF, b'S', b'M', b'B', 0x72, 0, 0, 0, 0, 0x98];
        m.extend_from_slice(&flags2.to_le_bytes());
        m.extend_from_slice(&[0; 12]); // PIDHigh, SecurityFeatures, Reserved
        m.extend_from_slice(&[0, 0, 0xFF, 0xFE, 0, 0, 0, 0]); // TID, PIDLow, UID, MID
        assert_eq!(m.len(), 32);
        m
    }

    /// NT LM 0.12 words as a Windows server sends them.
    fn words(capabilities: u32, challenge_length: u8) -> Vec<u8> {
        let mut m = vec![0x11, 0x00, 0x00, 0x03, 0x32, 0x00, 0x01, 0x00];
        m.extend_from_slice(&[0x04, 0x41, 0x00, 0x00]); // MaxBufferSize 16644
        m.extend_from_slice(&[0x00, 0x00, 0x01, 0x00]); // MaxRawSize 65536
        m.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // SessionKey
        m.extend_from_slice(&capabilities.to_le_bytes());
        m.extend_from_slice(&0x01D9_0000_1234_5678u64.to_le_bytes()); // SystemTime
        m.extend_from_slice(&(-60i16).to_le_bytes()); // ServerTimeZone
        m.push(challenge_length);
        assert_eq!(m.len(), 35);
        m
    }

    fn extended_response() -> Vec<u8> {
        let mut m = reply_header(0xC853);
        m.extend(words(0x8000_E3FD, 0));
        let blob = spnego();
        m.extend_from_slice(&u16::try_from(16 + blob.len()).unwrap().to_le_bytes());
        m.extend((0x30..0x40).collect::<Vec<u8>>()); // ServerGUID
        m.extend(blob);
        m
    }

    fn non_extended_response(flags2: u16) -> Vec<u8> {
        let unicode = flags2 & flags2::UNICODE != 0;
        let mut m = reply_header(flags2);
        m.extend(words(0x0000_E3FD, 8));
        let mut bytes = vec![1, 2, 3, 4, 5, 6, 7, 8];
        for s in ["WORKGROUP", "SMBSRV"] {
            if unicode {
                bytes.extend(utf16le(s));
                bytes.extend_from_slice(&[0, 0]);
            } else {
                bytes.extend_from_slice(s.as_bytes());
                bytes.push(0);
            }
        }
        m.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_le_bytes());
        m.extend(bytes);
        m
    }

    #[test]
    fn decodes_extended_security_response() {
        let msg = extended_response();
        let r = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(r.dialect_index, 0);
        assert_eq!(
            r.security_mode,
            security_mode::USER_SECURITY | security_mode::ENCRYPT_PASSWORDS
        );
        assert_eq!(r.max_mpx_count, 50);
        assert_eq!(r.max_number_vcs, 1);
        assert_eq!(r.max_buffer_size, 16644);
        assert_eq!(r.max_raw_size, 65536);
        assert_eq!(
            r.capabilities & capabilities::EXTENDED_SECURITY,
            capabilities::EXTENDED_SECURITY
        );
        assert_eq!(r.system_time, 0x01D9_0000_1234_5678);
        assert_eq!(r.server_time_zone, -60);
        assert_eq!(r.challenge, None);
        assert_eq!(
            r.server_guid,
            Some(core::array::from_fn(|i| 0x30 + i as u8))
        );
        assert_eq!(r.security_blob, spnego());
        assert_eq!(r.domain_name, None);

        let mut w = Writer::new();
        Header::decode(&msg).unwrap().encode(&mut w);
        r.encode(&mut w, true).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
    }

    #[test]
    fn decodes_non_extended_responses() {
        for flags2 in [0xC001u16, 0x4001] {
            let msg = non_extended_response(flags2);
            let r = NegotiateResponse::decode(&msg).unwrap();
            assert_eq!(r.challenge, Some([1, 2, 3, 4, 5, 6, 7, 8]));
            assert_eq!(r.server_guid, None);
            assert!(r.security_blob.is_empty());
            assert_eq!(r.domain_name.as_deref(), Some("WORKGROUP"));
            assert_eq!(r.server_name.as_deref(), Some("SMBSRV"));
            let mut w = Writer::new();
            Header::decode(&msg).unwrap().encode(&mut w);
            r.encode(&mut w, flags2 & flags2::UNICODE != 0).unwrap();
            assert_eq!(w.as_slice(), &msg[..]);
        }
        // DomainName only (older servers): no ServerName.
        let mut msg = reply_header(0xC001);
        msg.extend(words(0x0000_E3FD, 8));
        let mut bytes = vec![9; 8];
        bytes.extend(utf16le("DOM"));
        bytes.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_le_bytes());
        msg.extend(bytes);
        let r = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(r.domain_name.as_deref(), Some("DOM"));
        assert_eq!(r.server_name, None);
    }

    #[test]
    fn decodes_no_dialect_answer() {
        let mut msg = reply_header(0xC001);
        msg.extend_from_slice(&[0x01, 0xFF, 0xFF, 0x00, 0x00]);
        let r = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(r.dialect_index, NO_DIALECT);
        assert_eq!(r.capabilities, 0);
        assert_eq!(r.server_guid, None);
        assert!(r.security_blob.is_empty());
        let mut w = Writer::new();
        Header::decode(&msg).unwrap().encode(&mut w);
        r.encode(&mut w, true).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        for len in 0..msg.len() {
            assert!(NegotiateResponse::decode(&msg[..len]).is_err());
        }
    }

    #[test]
    fn hostile_responses_fail_without_panicking() {
        for msg in [
            extended_response(),
            non_extended_response(0xC001),
            non_extended_response(0x4001),
        ] {
            for len in 0..msg.len() {
                assert!(
                    NegotiateResponse::decode(&msg[..len]).is_err(),
                    "{len}-byte prefix accepted"
                );
            }
            let mut m = msg.clone();
            for i in 0..m.len() {
                let orig = m[i];
                for v in [0x00, 0x01, 0x07, 0x08, 0x10, 0x11, 0x7F, 0x80, 0xFF] {
                    m[i] = v;
                    let _ = NegotiateResponse::decode(&m);
                }
                m[i] = orig;
            }
        }
        let good = extended_response();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            NegotiateResponse::decode(&m)
        };
        assert!(with(4, &[0x73]).is_err()); // not NEGOTIATE
        assert!(with(0, &[0xFE]).is_err()); // SMB2
        for wc in [0u8, 13, 16, 18, 0xFF] {
            assert!(with(32, &[wc]).is_err(), "WordCount {wc} accepted");
        }
        assert!(with(67, &[0xFF, 0xFF]).is_err()); // ByteCount past the end
        assert!(with(67, &[0x0F, 0x00]).is_err()); // shorter than ServerGUID
        let non_ext = non_extended_response(0xC001);
        let mut bad = non_ext.clone();
        bad[66] = 7; // ChallengeLength
        assert!(NegotiateResponse::decode(&bad).is_err());
        let mut bad = non_ext;
        bad[67..69].copy_from_slice(&[4, 0]); // ByteCount shorter than challenge
        assert!(NegotiateResponse::decode(&bad).is_err());
    }

    #[test]
    fn dialect_strings_must_fit_and_hold_no_nul() {
        use crate::codec::testutil::assert_too_large;
        assert_eq!(
            negotiate_request(&["NT LM\0 0.12"], DEFAULT_FLAGS2, 0),
            Err(EncodeError::Invalid {
                what: "SMB_COM_NEGOTIATE DialectString",
                detail: "contains a NUL character",
            })
        );
        // Each one-letter dialect takes 3 bytes of ByteCount.
        let dialects = vec!["X"; 21846];
        let msg = negotiate_request(&dialects[..21845], DEFAULT_FLAGS2, 0).unwrap();
        assert_eq!(decode_negotiate_request(&msg).unwrap().len(), 21845);
        assert_too_large(
            negotiate_request(&dialects, DEFAULT_FLAGS2, 0),
            "SMB_COM_NEGOTIATE ByteCount",
            65538,
            65535,
        );
    }

    #[test]
    fn response_byte_count_limit() {
        use crate::codec::testutil::assert_too_large;
        let msg = extended_response();
        let mut r = NegotiateResponse::decode(&msg).unwrap();
        // ServerGUID (16) and the blob share ByteCount.
        r.security_blob = vec![0x60; 65535 - 16];
        let mut w = Writer::new();
        Header::decode(&msg).unwrap().encode(&mut w);
        r.encode(&mut w, true).unwrap();
        r.security_blob.push(0x60);
        let mut w = Writer::new();
        Header::decode(&msg).unwrap().encode(&mut w);
        assert_too_large(
            r.encode(&mut w, true),
            "SMB_COM_NEGOTIATE response ByteCount",
            65536,
            65535,
        );
    }
}
