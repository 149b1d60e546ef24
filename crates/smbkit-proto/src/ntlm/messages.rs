//! NTLM message codecs (MS-NLMP §2.2).
//!
//! All three messages start with the 8-byte signature `"NTLMSSP\0"` and a
//! 32-bit message type, followed by fixed fields and a payload that
//! variable-length fields point into through 8-byte "fields" descriptors
//! (`Len: u16, MaxLen: u16, BufferOffset: u32`, offsets from the start of the
//! message). Decoding validates every offset/length pair with checked
//! arithmetic through [`Reader::slice_at`]; nothing here can panic on input.

use crate::codec::{from_utf16le, utf16le, wire_u16, wire_u32, Reader, Writer};
use crate::DecodeError;

use super::{flags, NtlmError};

/// The signature every NTLM message starts with (MS-NLMP §2.2.1).
pub const NTLMSSP_SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// MessageType of a NEGOTIATE_MESSAGE (MS-NLMP §2.2.1.1).
pub const MESSAGE_TYPE_NEGOTIATE: u32 = 1;
/// MessageType of a CHALLENGE_MESSAGE (MS-NLMP §2.2.1.2).
pub const MESSAGE_TYPE_CHALLENGE: u32 = 2;
/// MessageType of an AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3).
pub const MESSAGE_TYPE_AUTHENTICATE: u32 = 3;

/// Offset of the MIC field in an AUTHENTICATE_MESSAGE that carries a Version
/// (MS-NLMP §2.2.1.3): 64 bytes of fixed fields plus the 8-byte Version.
pub const AUTHENTICATE_MIC_OFFSET: usize = 72;

/// The VERSION structure (MS-NLMP §2.2.2.10): the sender's OS version, for
/// debugging only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
    /// NTLMRevisionCurrent; `NTLMSSP_REVISION_W2K3` = 0x0F.
    pub revision: u8,
}

impl Version {
    /// `NTLMSSP_REVISION_W2K3` (MS-NLMP §2.2.2.10).
    pub const NTLMSSP_REVISION_W2K3: u8 = 0x0f;

    /// What this client announces: 6.1 build 7601, revision 15.
    pub const CLIENT_DEFAULT: Version = Version {
        major: 6,
        minor: 1,
        build: 7601,
        revision: Version::NTLMSSP_REVISION_W2K3,
    };

    /// Writes the 8-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.major)
            .u8(self.minor)
            .u16(self.build)
            .zeros(3)
            .u8(self.revision);
    }

    /// Reads the 8-byte structure.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let major = r.u8("Version.ProductMajorVersion")?;
        let minor = r.u8("Version.ProductMinorVersion")?;
        let build = r.u16("Version.ProductBuild")?;
        r.skip(3, "Version.Reserved")?;
        let revision = r.u8("Version.NTLMRevisionCurrent")?;
        Ok(Version {
            major,
            minor,
            build,
            revision,
        })
    }
}

/// AV_PAIR ids (MS-NLMP §2.2.2.1).
pub mod av_id {
    /// MsvAvEOL: end of the list.
    pub const EOL: u16 = 0x0000;
    /// MsvAvNbComputerName.
    pub const NB_COMPUTER_NAME: u16 = 0x0001;
    /// MsvAvNbDomainName.
    pub const NB_DOMAIN_NAME: u16 = 0x0002;
    /// MsvAvDnsComputerName.
    pub const DNS_COMPUTER_NAME: u16 = 0x0003;
    /// MsvAvDnsDomainName.
    pub const DNS_DOMAIN_NAME: u16 = 0x0004;
    /// MsvAvDnsTreeName.
    pub const DNS_TREE_NAME: u16 = 0x0005;
    /// MsvAvFlags.
    pub const FLAGS: u16 = 0x0006;
    /// MsvAvTimestamp.
    pub const TIMESTAMP: u16 = 0x0007;
    /// MsvAvSingleHost.
    pub const SINGLE_HOST: u16 = 0x0008;
    /// MsvAvTargetName.
    pub const TARGET_NAME: u16 = 0x0009;
    /// MsvAvChannelBindings.
    pub const CHANNEL_BINDINGS: u16 = 0x000a;
}

/// MsvAvFlags bits (MS-NLMP §2.2.2.1).
pub mod av_flags {
    /// The account authentication is constrained.
    pub const CONSTRAINED: u32 = 0x0000_0001;
    /// The client provides message integrity in the MIC field of the AUTHENTICATE_MESSAGE.
    pub const MIC_PRESENT: u32 = 0x0000_0002;
    /// The client provides a target SPN generated from an untrusted source.
    pub const UNTRUSTED_SPN: u32 = 0x0000_0004;
}

/// One AV_PAIR (MS-NLMP §2.2.2.1) of a TargetInfo list, typed where the id is
/// known. MsvAvEOL is not represented: [`AvPairs`] ends the list itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvPair {
    /// MsvAvNbComputerName: the server's NetBIOS computer name.
    NbComputerName(String),
    /// MsvAvNbDomainName: the server's NetBIOS domain name.
    NbDomainName(String),
    /// MsvAvDnsComputerName: the server's FQDN.
    DnsComputerName(String),
    /// MsvAvDnsDomainName: the FQDN of the server's domain.
    DnsDomainName(String),
    /// MsvAvDnsTreeName: the FQDN of the forest.
    DnsTreeName(String),
    /// MsvAvFlags (see [`av_flags`]).
    Flags(u32),
    /// MsvAvTimestamp: the server's FILETIME.
    Timestamp(u64),
    /// MsvAvSingleHost: a Single_Host_Data structure (§2.2.2.2), kept raw.
    SingleHost(Vec<u8>),
    /// MsvAvTargetName: the SPN of the target server.
    TargetName(String),
    /// MsvAvChannelBindings: MD5 of gss_channel_bindings_struct, kept raw.
    ChannelBindings(Vec<u8>),
    /// Any other id, or a name whose value is not valid UTF-16, kept verbatim.
    Unknown {
        /// AvId.
        id: u16,
        /// Value.
        value: Vec<u8>,
    },
}

impl AvPair {
    /// The AvId of this pair.
    pub fn id(&self) -> u16 {
        match self {
            AvPair::NbComputerName(_) => av_id::NB_COMPUTER_NAME,
            AvPair::NbDomainName(_) => av_id::NB_DOMAIN_NAME,
            AvPair::DnsComputerName(_) => av_id::DNS_COMPUTER_NAME,
            AvPair::DnsDomainName(_) => av_id::DNS_DOMAIN_NAME,
            AvPair::DnsTreeName(_) => av_id::DNS_TREE_NAME,
            AvPair::Flags(_) => av_id::FLAGS,
            AvPair::Timestamp(_) => av_id::TIMESTAMP,
            AvPair::SingleHost(_) => av_id::SINGLE_HOST,
            AvPair::TargetName(_) => av_id::TARGET_NAME,
            AvPair::ChannelBindings(_) => av_id::CHANNEL_BINDINGS,
            AvPair::Unknown { id, .. } => *id,
        }
    }

    /// The encoded value (without the 4-byte AvId/AvLen header).
    pub fn value_bytes(&self) -> Vec<u8> {
        match self {
            AvPair::NbComputerName(s)
            | AvPair::NbDomainName(s)
            | AvPair::DnsComputerName(s)
            | AvPair::DnsDomainName(s)
            | AvPair::DnsTreeName(s)
            | AvPair::TargetName(s) => utf16le(s),
            AvPair::Flags(f) => f.to_le_bytes().to_vec(),
            AvPair::Timestamp(t) => t.to_le_bytes().to_vec(),
            AvPair::SingleHost(v)
            | AvPair::ChannelBindings(v)
            | AvPair::Unknown { value: v, .. } => v.clone(),
        }
    }

    fn decode(id: u16, value: &[u8]) -> Result<AvPair, DecodeError> {
        let name = |ctor: fn(String) -> AvPair| match from_utf16le(value, "AV_PAIR name") {
            Ok(s) => ctor(s),
            // Keep the bytes so that the list we echo is exactly the server's.
            Err(_) => AvPair::Unknown {
                id,
                value: value.to_vec(),
            },
        };
        Ok(match id {
            av_id::NB_COMPUTER_NAME => name(AvPair::NbComputerName),
            av_id::NB_DOMAIN_NAME => name(AvPair::NbDomainName),
            av_id::DNS_COMPUTER_NAME => name(AvPair::DnsComputerName),
            av_id::DNS_DOMAIN_NAME => name(AvPair::DnsDomainName),
            av_id::DNS_TREE_NAME => name(AvPair::DnsTreeName),
            av_id::TARGET_NAME => name(AvPair::TargetName),
            av_id::FLAGS => {
                let b: [u8; 4] = value.try_into().map_err(|_| {
                    DecodeError::invalid(
                        "MsvAvFlags",
                        format!("length {} (expected 4)", value.len()),
                    )
                })?;
                AvPair::Flags(u32::from_le_bytes(b))
            }
            av_id::TIMESTAMP => {
                let b: [u8; 8] = value.try_into().map_err(|_| {
                    DecodeError::invalid(
                        "MsvAvTimestamp",
                        format!("length {} (expected 8)", value.len()),
                    )
                })?;
                AvPair::Timestamp(u64::from_le_bytes(b))
            }
            av_id::SINGLE_HOST => AvPair::SingleHost(value.to_vec()),
            av_id::CHANNEL_BINDINGS => AvPair::ChannelBindings(value.to_vec()),
            _ => AvPair::Unknown {
                id,
                value: value.to_vec(),
            },
        })
    }
}

/// A TargetInfo AV_PAIR list (MS-NLMP §2.2.2.1), in wire order, without the
/// terminating MsvAvEOL (which [`AvPairs::encode`] appends).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AvPairs(pub Vec<AvPair>);

impl AvPairs {
    /// Parses a list. It ends at MsvAvEOL; bytes after it are ignored, and a
    /// list that ends exactly at the end of `buf` without MsvAvEOL is accepted.
    /// A pair whose AvLen runs past the end is an error.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let mut out = Vec::new();
        while r.remaining() > 0 {
            let id = r.u16("AV_PAIR.AvId")?;
            let len = usize::from(r.u16("AV_PAIR.AvLen")?);
            let value = r.take(len, "AV_PAIR.Value")?;
            if id == av_id::EOL {
                break;
            }
            out.push(AvPair::decode(id, value)?);
        }
        Ok(AvPairs(out))
    }

    /// Encodes the list followed by MsvAvEOL.
    pub fn encode(&self) -> Result<Vec<u8>, NtlmError> {
        let mut w = Writer::new();
        for p in &self.0 {
            let v = p.value_bytes();
            let len = wire_u16(v.len(), "AV_PAIR AvLen").map_err(NtlmError::TooLarge)?;
            w.u16(p.id()).u16(len).bytes(&v);
        }
        w.u16(av_id::EOL).u16(0);
        Ok(w.into_vec())
    }

    /// The value of MsvAvTimestamp, if present.
    pub fn timestamp(&self) -> Option<u64> {
        self.0.iter().find_map(|p| match p {
            AvPair::Timestamp(t) => Some(*t),
            _ => None,
        })
    }

    /// The value of MsvAvFlags, if present.
    pub fn flags(&self) -> Option<u32> {
        self.0.iter().find_map(|p| match p {
            AvPair::Flags(f) => Some(*f),
            _ => None,
        })
    }

    /// ORs `bits` into MsvAvFlags, adding the pair (before MsvAvEOL) if absent.
    pub fn add_flags(&mut self, bits: u32) {
        for p in &mut self.0 {
            if let AvPair::Flags(f) = p {
                *f |= bits;
                return;
            }
        }
        self.0.push(AvPair::Flags(bits));
    }

    /// The first name-valued pair with id `id`, if any.
    pub fn name(&self, id: u16) -> Option<&str> {
        self.0.iter().find_map(|p| match p {
            AvPair::NbComputerName(s)
            | AvPair::NbDomainName(s)
            | AvPair::DnsComputerName(s)
            | AvPair::DnsDomainName(s)
            | AvPair::DnsTreeName(s)
            | AvPair::TargetName(s)
                if p.id() == id =>
            {
                Some(s.as_str())
            }
            _ => None,
        })
    }

    /// True if the list holds a pair with id `id`.
    pub fn contains(&self, id: u16) -> bool {
        self.0.iter().any(|p| p.id() == id)
    }
}

/// Reads a fields descriptor (`Len`, `MaxLen`, `BufferOffset`) and returns `(len, offset)`.
fn read_fields(r: &mut Reader<'_>, what: &'static str) -> Result<(usize, usize), DecodeError> {
    let len = usize::from(r.u16(what)?);
    let _max_len = r.u16(what)?;
    let offset = r.u32(what)? as usize;
    Ok((len, offset))
}

/// The payload bytes a fields descriptor points at; an empty field is empty
/// whatever its offset says.
fn field_bytes<'a>(
    r: &Reader<'a>,
    (len, offset): (usize, usize),
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if len == 0 {
        return Ok(&[]);
    }
    r.slice_at(offset, len, what)
}

/// The smallest offset among non-empty fields, i.e. where the payload starts.
fn payload_start(fields: &[(usize, usize)]) -> Option<usize> {
    fields.iter().filter(|(l, _)| *l > 0).map(|(_, o)| *o).min()
}

/// Decodes a string field: UTF-16LE if `unicode` (odd length or invalid UTF-16
/// is an error), otherwise OEM bytes read as Latin-1.
fn decode_string(b: &[u8], unicode: bool, what: &'static str) -> Result<String, DecodeError> {
    if unicode {
        from_utf16le(b, what)
    } else {
        Ok(b.iter().map(|&c| char::from(c)).collect())
    }
}

/// Encodes a string field: UTF-16LE if `unicode`, otherwise ASCII with `?`
/// for characters outside it (the OEM code page is not known).
pub(crate) fn encode_string(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        utf16le(s)
    } else {
        s.chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect()
    }
}

fn check_header(
    r: &mut Reader<'_>,
    expected_type: u32,
    what: &'static str,
) -> Result<(), DecodeError> {
    let sig = r.take(8, what)?;
    if sig != NTLMSSP_SIGNATURE {
        return Err(DecodeError::invalid(what, "missing NTLMSSP signature"));
    }
    let t = r.u32("NTLM MessageType")?;
    if t != expected_type {
        return Err(DecodeError::invalid(
            what,
            format!("MessageType {t} (expected {expected_type})"),
        ));
    }
    Ok(())
}

/// Writes a fields descriptor for `len` bytes at `offset`.
fn write_fields(
    w: &mut Writer,
    len: usize,
    offset: usize,
    what: &'static str,
) -> Result<(), NtlmError> {
    let l = wire_u16(len, what).map_err(NtlmError::TooLarge)?;
    let o = wire_u32(offset, what).map_err(NtlmError::TooLarge)?;
    w.u16(l).u16(l).u32(o);
    Ok(())
}

/// NEGOTIATE_MESSAGE (MS-NLMP §2.2.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateMessage {
    /// NegotiateFlags (see [`flags`]).
    pub flags: u32,
    /// DomainName (OEM); sent only with `NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED`.
    pub domain: Vec<u8>,
    /// Workstation (OEM); sent only with `NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED`.
    pub workstation: Vec<u8>,
    /// Version; written when `NTLMSSP_NEGOTIATE_VERSION` is set (zeros if `None`).
    pub version: Option<Version>,
}

impl NegotiateMessage {
    /// Encodes the message: 32 fixed bytes, the Version (8) when
    /// `NTLMSSP_NEGOTIATE_VERSION` is set, then the OEM domain and workstation.
    pub fn encode(&self) -> Result<Vec<u8>, NtlmError> {
        let has_version = self.flags & flags::NEGOTIATE_VERSION != 0;
        let header = 32 + if has_version { 8 } else { 0 };
        let mut w = Writer::new();
        w.bytes(NTLMSSP_SIGNATURE)
            .u32(MESSAGE_TYPE_NEGOTIATE)
            .u32(self.flags);
        write_fields(&mut w, self.domain.len(), header, "NEGOTIATE DomainName")?;
        write_fields(
            &mut w,
            self.workstation.len(),
            header + self.domain.len(),
            "NEGOTIATE Workstation",
        )?;
        if has_version {
            self.version
                .unwrap_or(Version {
                    major: 0,
                    minor: 0,
                    build: 0,
                    revision: 0,
                })
                .encode(&mut w);
        }
        w.bytes(&self.domain).bytes(&self.workstation);
        Ok(w.into_vec())
    }

    /// Decodes a NEGOTIATE_MESSAGE (for tests and servers). The Version is read
    /// when the flag is set and the payload leaves room for it.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        check_header(&mut r, MESSAGE_TYPE_NEGOTIATE, "NEGOTIATE_MESSAGE")?;
        let flags = r.u32("NEGOTIATE NegotiateFlags")?;
        // Very old clients end the message after the flags.
        let (dom, wks) = if r.remaining() >= 16 {
            (
                read_fields(&mut r, "NEGOTIATE DomainNameFields")?,
                read_fields(&mut r, "NEGOTIATE WorkstationFields")?,
            )
        } else {
            ((0, 0), (0, 0))
        };
        let start = payload_start(&[dom, wks]).unwrap_or(buf.len());
        let version = if flags & flags::NEGOTIATE_VERSION != 0 && start >= 40 && r.remaining() >= 8
        {
            Some(Version::decode(&mut r)?)
        } else {
            None
        };
        Ok(NegotiateMessage {
            flags,
            domain: field_bytes(&r, dom, "NEGOTIATE DomainName")?.to_vec(),
            workstation: field_bytes(&r, wks, "NEGOTIATE Workstation")?.to_vec(),
            version,
        })
    }
}

/// CHALLENGE_MESSAGE (MS-NLMP §2.2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeMessage {
    /// TargetName: the server's domain or computer name.
    pub target_name: String,
    /// NegotiateFlags chosen by the server.
    pub flags: u32,
    /// ServerChallenge.
    pub server_challenge: [u8; 8],
    /// TargetInfo: the AV_PAIR list (empty when the server sent none).
    pub target_info: AvPairs,
    /// Version, when `NTLMSSP_NEGOTIATE_VERSION` is set and the message has room for it.
    pub version: Option<Version>,
}

impl ChallengeMessage {
    /// Decodes a CHALLENGE_MESSAGE.
    ///
    /// The 32 bytes up to ServerChallenge are required; the Reserved and
    /// TargetInfoFields (48 bytes in all) are read when present, as old servers
    /// end the message early. The Version is read only when the flag is set and
    /// no payload field starts before byte 56. TargetName is UTF-16LE when
    /// `NTLMSSP_NEGOTIATE_UNICODE` is set (odd length is an error), else OEM.
    /// Every field must lie within `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        check_header(&mut r, MESSAGE_TYPE_CHALLENGE, "CHALLENGE_MESSAGE")?;
        let tn = read_fields(&mut r, "CHALLENGE TargetNameFields")?;
        let flags = r.u32("CHALLENGE NegotiateFlags")?;
        let server_challenge = r.array::<8>("CHALLENGE ServerChallenge")?;
        let ti = if r.remaining() >= 16 {
            r.skip(8, "CHALLENGE Reserved")?;
            read_fields(&mut r, "CHALLENGE TargetInfoFields")?
        } else {
            (0, 0)
        };
        let start = payload_start(&[tn, ti]).unwrap_or(buf.len());
        let version = if flags & flags::NEGOTIATE_VERSION != 0 && start >= 56 && r.remaining() >= 8
        {
            Some(Version::decode(&mut r)?)
        } else {
            None
        };
        let unicode = flags & flags::NEGOTIATE_UNICODE != 0;
        let target_name = decode_string(
            field_bytes(&r, tn, "CHALLENGE TargetName")?,
            unicode,
            "CHALLENGE TargetName",
        )?;
        let target_info = AvPairs::decode(field_bytes(&r, ti, "CHALLENGE TargetInfo")?)?;
        Ok(ChallengeMessage {
            target_name,
            flags,
            server_challenge,
            target_info,
            version,
        })
    }

    /// Encodes the message (for tests and servers): 48 fixed bytes, the Version
    /// when `NTLMSSP_NEGOTIATE_VERSION` is set, then TargetName and TargetInfo
    /// (the latter only when non-empty or `NTLMSSP_NEGOTIATE_TARGET_INFO` is set).
    pub fn encode(&self) -> Result<Vec<u8>, NtlmError> {
        let has_version = self.flags & flags::NEGOTIATE_VERSION != 0;
        let header = 48 + if has_version { 8 } else { 0 };
        let name = encode_string(
            &self.target_name,
            self.flags & flags::NEGOTIATE_UNICODE != 0,
        );
        let info =
            if self.target_info.0.is_empty() && self.flags & flags::NEGOTIATE_TARGET_INFO == 0 {
                Vec::new()
            } else {
                self.target_info.encode()?
            };
        let mut w = Writer::new();
        w.bytes(NTLMSSP_SIGNATURE).u32(MESSAGE_TYPE_CHALLENGE);
        write_fields(&mut w, name.len(), header, "CHALLENGE TargetName")?;
        w.u32(self.flags).bytes(&self.server_challenge).zeros(8);
        write_fields(
            &mut w,
            info.len(),
            header + name.len(),
            "CHALLENGE TargetInfo",
        )?;
        if has_version {
            self.version
                .unwrap_or(Version::CLIENT_DEFAULT)
                .encode(&mut w);
        }
        w.bytes(&name).bytes(&info);
        Ok(w.into_vec())
    }
}

/// AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticateMessage {
    /// NegotiateFlags the client settled on.
    pub flags: u32,
    /// LmChallengeResponse.
    pub lm_challenge_response: Vec<u8>,
    /// NtChallengeResponse.
    pub nt_challenge_response: Vec<u8>,
    /// DomainName.
    pub domain: String,
    /// UserName.
    pub user: String,
    /// Workstation.
    pub workstation: String,
    /// EncryptedRandomSessionKey (empty without `NTLMSSP_NEGOTIATE_KEY_EXCH`).
    pub encrypted_random_session_key: Vec<u8>,
    /// Version; written when `NTLMSSP_NEGOTIATE_VERSION` is set or a MIC is present.
    pub version: Option<Version>,
    /// MIC (at byte [`AUTHENTICATE_MIC_OFFSET`]).
    pub mic: Option<[u8; 16]>,
}

impl AuthenticateMessage {
    /// Encodes the message: 64 fixed bytes, the Version (when
    /// `NTLMSSP_NEGOTIATE_VERSION` is set or a MIC is present), the MIC, then
    /// the payload in the order DomainName, UserName, Workstation,
    /// LmChallengeResponse, NtChallengeResponse, EncryptedRandomSessionKey (the
    /// order of the MS-NLMP §4.2 examples). Strings are UTF-16LE with
    /// `NTLMSSP_NEGOTIATE_UNICODE`, else OEM. Empty fields point at the current
    /// payload offset. Fails if a field does not fit its 16-bit length.
    pub fn encode(&self) -> Result<Vec<u8>, NtlmError> {
        let unicode = self.flags & flags::NEGOTIATE_UNICODE != 0;
        let has_version = self.flags & flags::NEGOTIATE_VERSION != 0 || self.mic.is_some();
        let header = 64 + if has_version { 8 } else { 0 } + if self.mic.is_some() { 16 } else { 0 };
        let domain = encode_string(&self.domain, unicode);
        let user = encode_string(&self.user, unicode);
        let wks = encode_string(&self.workstation, unicode);
        let lm = &self.lm_challenge_response;
        let nt = &self.nt_challenge_response;
        let key = &self.encrypted_random_session_key;

        let o_domain = header;
        let o_user = o_domain + domain.len();
        let o_wks = o_user + user.len();
        let o_lm = o_wks + wks.len();
        let o_nt = o_lm + lm.len();
        let o_key = o_nt + nt.len();

        let mut w = Writer::new();
        w.bytes(NTLMSSP_SIGNATURE).u32(MESSAGE_TYPE_AUTHENTICATE);
        write_fields(&mut w, lm.len(), o_lm, "AUTHENTICATE LmChallengeResponse")?;
        write_fields(&mut w, nt.len(), o_nt, "AUTHENTICATE NtChallengeResponse")?;
        write_fields(&mut w, domain.len(), o_domain, "AUTHENTICATE DomainName")?;
        write_fields(&mut w, user.len(), o_user, "AUTHENTICATE UserName")?;
        write_fields(&mut w, wks.len(), o_wks, "AUTHENTICATE Workstation")?;
        write_fields(
            &mut w,
            key.len(),
            o_key,
            "AUTHENTICATE EncryptedRandomSessionKey",
        )?;
        w.u32(self.flags);
        if has_version {
            self.version
                .unwrap_or(Version::CLIENT_DEFAULT)
                .encode(&mut w);
        }
        if let Some(mic) = &self.mic {
            w.bytes(mic);
        }
        w.bytes(&domain)
            .bytes(&user)
            .bytes(&wks)
            .bytes(lm)
            .bytes(nt)
            .bytes(key);
        Ok(w.into_vec())
    }

    /// Decodes an AUTHENTICATE_MESSAGE (for tests and servers). The Version is
    /// read when the flag is set and the payload starts at or after byte 72; the
    /// MIC when the payload starts at or after byte 88.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        check_header(&mut r, MESSAGE_TYPE_AUTHENTICATE, "AUTHENTICATE_MESSAGE")?;
        let lm = read_fields(&mut r, "AUTHENTICATE LmChallengeResponseFields")?;
        let nt = read_fields(&mut r, "AUTHENTICATE NtChallengeResponseFields")?;
        let dom = read_fields(&mut r, "AUTHENTICATE DomainNameFields")?;
        let usr = read_fields(&mut r, "AUTHENTICATE UserNameFields")?;
        let wks = read_fields(&mut r, "AUTHENTICATE WorkstationFields")?;
        let key = read_fields(&mut r, "AUTHENTICATE EncryptedRandomSessionKeyFields")?;
        let flags = r.u32("AUTHENTICATE NegotiateFlags")?;
        let start = payload_start(&[lm, nt, dom, usr, wks, key]).unwrap_or(buf.len());
        let version = if flags & flags::NEGOTIATE_VERSION != 0 && start >= 72 && r.remaining() >= 8
        {
            Some(Version::decode(&mut r)?)
        } else {
            None
        };
        let mic = if version.is_some() && start >= 88 && r.remaining() >= 16 {
            Some(r.array::<16>("AUTHENTICATE MIC")?)
        } else {
            None
        };
        let unicode = flags & flags::NEGOTIATE_UNICODE != 0;
        let s = |f, what| -> Result<String, DecodeError> {
            decode_string(field_bytes(&r, f, what)?, unicode, what)
        };
        Ok(AuthenticateMessage {
            flags,
            lm_challenge_response: field_bytes(&r, lm, "AUTHENTICATE LmChallengeResponse")?
                .to_vec(),
            nt_challenge_response: field_bytes(&r, nt, "AUTHENTICATE NtChallengeResponse")?
                .to_vec(),
            domain: s(dom, "AUTHENTICATE DomainName")?,
            user: s(usr, "AUTHENTICATE UserName")?,
            workstation: s(wks, "AUTHENTICATE Workstation")?,
            encrypted_random_session_key: field_bytes(
                &r,
                key,
                "AUTHENTICATE EncryptedRandomSessionKey",
            )?
            .to_vec(),
            version,
            mic,
        })
    }
}
