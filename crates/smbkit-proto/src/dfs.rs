//! DFS referrals (MS-DFSC): the request a client sends to learn where a
//! path of a DFS namespace really lives, and the server's answer.
//!
//! A client asks on the server's IPC$ tree: over SMB 2/3 with an IOCTL
//! [`FSCTL_DFS_GET_REFERRALS`] (or [`FSCTL_DFS_GET_REFERRALS_EX`]) whose
//! FileId is { 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF } (MS-SMB2
//! §3.2.4.20.3, §3.3.5.15.2), over SMB1 with [`TRANS2_GET_DFS_REFERRAL`]
//! (MS-CIFS §2.2.6.16; [`ReferralRequest::trans2`]). Both carry the same
//! bodies (MS-DFSC §2.1): [`ReferralRequest`] (REQ_GET_DFS_REFERRAL,
//! §2.2.2) or [`ReferralRequestEx`] (REQ_GET_DFS_REFERRAL_EX, §2.2.3) in,
//! [`ReferralResponse`] (RESP_GET_DFS_REFERRAL, §2.2.4) out.
//!
//! The response is an 8-byte header, then NumberOfReferrals entries of one
//! version (1 to 4, §2.2.5), each found by adding the Size of the one
//! before it, then the strings the entries point at. String offsets are
//! relative to the start of the entry that holds them, not to the message
//! (§2.2.5: "Clients MUST add the string offset to the offset of the
//! beginning of the referral entry to find the offset of the string").
//!
//! Decoding checks every size and offset against the message, reads each
//! string as strict NUL-terminated UTF-16LE, and caps what hostile counts
//! and offsets could make it allocate: at most [`MAX_REFERRALS`] entries,
//! [`MAX_EXPANDED_NAMES`] expanded names and [`MAX_STRING_BYTES`] bytes of
//! strings in all (entries may point at one string, which is then decoded
//! for each of them, so the strings can add up to more than the message).

use crate::codec::{
    checked_range, count_u16, from_utf16le, utf16_len, wire_u16, wire_u32, DecodeError,
    EncodeError, Reader, Writer,
};
use crate::smb1::trans::TransRequest;

pub use crate::smb1::trans2::subcommand::GET_DFS_REFERRAL as TRANS2_GET_DFS_REFERRAL;
pub use crate::smb2::ioctl::ctl_code::{FSCTL_DFS_GET_REFERRALS, FSCTL_DFS_GET_REFERRALS_EX};

/// The highest referral version this module reads and writes, and what a
/// client asks for: 4 (MS-DFSC §2.2.2: "The DFS referral versions
/// specified by this document are 1 through 4 inclusive").
pub const MAX_REFERRAL_LEVEL: u16 = 4;

/// The most referral entries [`ReferralResponse::decode`] accepts.
pub const MAX_REFERRALS: usize = 1024;

/// The most expanded names (DC names of a DC referral, §2.2.5.3.2) that
/// [`ReferralResponse::decode`] accepts, all entries together.
pub const MAX_EXPANDED_NAMES: usize = 1024;

/// The most bytes of UTF-16 strings, terminators included, that
/// [`ReferralResponse::decode`] decodes, all entries together.
pub const MAX_STRING_BYTES: usize = 4 << 20;

/// The size of the referral header (PathConsumed, NumberOfReferrals,
/// ReferralHeaderFlags).
const HEADER_LEN: usize = 8;
/// VersionNumber, Size, ServerType and ReferralEntryFlags, which every
/// entry version starts with.
const ENTRY_COMMON_LEN: usize = 8;
/// A DFS_REFERRAL_V2 entry.
const V2_LEN: usize = 22;
/// A DFS_REFERRAL_V3/V4 entry naming a target (§2.2.5.3.1), ServiceSiteGuid
/// included.
const V3_TARGET_LEN: usize = 34;
/// A DFS_REFERRAL_V3/V4 NameListReferral entry without Padding
/// (§2.2.5.3.2).
const V3_NAME_LIST_LEN: usize = 18;

/// Defines a set of wire flag bits as an open newtype: unknown bits
/// survive decoding, and `Debug` names the known ones.
macro_rules! wire_flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($ty:ty) {
            $( $(#[$cmeta:meta])* $flag:ident = $value:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $ty);

        impl $name {
            $( $(#[$cmeta])* pub const $flag: $name = $name($value); )*

            /// True when every bit of `other` is set here.
            pub fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                let mut rest = self.0;
                let mut sep = "";
                $(
                    if rest & $value != 0 {
                        write!(f, "{sep}{}", stringify!($flag))?;
                        rest &= !$value;
                        sep = " | ";
                    }
                )*
                if rest != 0 || sep.is_empty() {
                    write!(f, "{sep}{rest:#x}")?;
                }
                f.write_str(")")
            }
        }
    };
}

wire_flags! {
    /// ReferralHeaderFlags (MS-DFSC §2.2.4): "Only the R, S, and T bits
    /// are defined and used".
    pub struct HeaderFlags(u32) {
        /// R (ReferralServers): the targets are DFS root targets that
        /// answer referral requests themselves.
        REFERRAL_SERVERS = 0x0000_0001,
        /// S (StorageServers): the targets hold the data (link targets,
        /// or root targets that are also storage).
        STORAGE_SERVERS = 0x0000_0002,
        /// T (TargetFailback): the client should fail back to a better
        /// target once it is available again.
        TARGET_FAILBACK = 0x0000_0004,
    }
}

impl HeaderFlags {
    /// The R bit ([`HeaderFlags::REFERRAL_SERVERS`]).
    pub fn referral_servers(self) -> bool {
        self.contains(HeaderFlags::REFERRAL_SERVERS)
    }

    /// The S bit ([`HeaderFlags::STORAGE_SERVERS`]).
    pub fn storage_servers(self) -> bool {
        self.contains(HeaderFlags::STORAGE_SERVERS)
    }

    /// The T bit ([`HeaderFlags::TARGET_FAILBACK`]).
    pub fn target_failback(self) -> bool {
        self.contains(HeaderFlags::TARGET_FAILBACK)
    }
}

wire_flags! {
    /// ReferralEntryFlags of a referral entry (MS-DFSC §2.2.5.3, §2.2.5.4;
    /// versions 1 and 2 define none: "MUST be set to 0x0000 ... and
    /// ignored on receipt").
    pub struct EntryFlags(u16) {
        /// NameListReferral (versions 3 and 4): "MUST be set for a domain
        /// referral response or a DC referral response"; the entry is a
        /// [`NameListReferral`].
        NAME_LIST_REFERRAL = 0x0002,
        /// T (TargetSetBoundary, version 4): "the target corresponding to
        /// this referral entry is the first target of a target set".
        TARGET_SET_BOUNDARY = 0x0004,
    }
}

wire_flags! {
    /// RequestFlags of REQ_GET_DFS_REFERRAL_EX (MS-DFSC §2.2.3).
    pub struct RequestFlags(u16) {
        /// SiteName: RequestData holds SiteNameLength and SiteName.
        SITE_NAME = 0x0001,
    }
}

crate::wire_enum! {
    /// ServerType of a referral entry (MS-DFSC §2.2.5.1 to §2.2.5.3): "the
    /// type of server hosting the target".
    pub struct ServerType(u16) {
        /// "Non-root targets returned": link targets.
        NON_ROOT = 0x0000,
        /// "Root targets returned": DFS root targets.
        ROOT = 0x0001,
    }
}

/// The error of a string that holds a NUL, which a NUL-terminated field
/// cannot carry.
fn check_no_nul(s: &str, what: &'static str) -> Result<(), EncodeError> {
    if s.contains('\0') {
        return Err(EncodeError::Invalid {
            what,
            detail: "contains a NUL character",
        });
    }
    Ok(())
}

/// REQ_GET_DFS_REFERRAL (MS-DFSC §2.2.2): MaxReferralLevel (2 bytes), then
/// RequestFileName, "A null-terminated Unicode string specifying the path
/// to be resolved". Its forms are those of §3.1.4.2; a root or link
/// referral names `\server\root` or `\server\root\link...` (one leading
/// backslash, as in the example of §4.5, `\dfsn-dev\testroot1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRequest {
    /// MaxReferralLevel: "the highest DFS referral version understood by
    /// the client" (1 to 4); the server "MUST respond with a version
    /// number less than or equal to" it (§3.2.5.1).
    pub max_referral_level: u16,
    /// RequestFileName, without its terminator.
    pub request_file_name: String,
}

impl ReferralRequest {
    /// A request for `path` at [`MAX_REFERRAL_LEVEL`].
    pub fn new(path: impl Into<String>) -> Self {
        ReferralRequest {
            max_referral_level: MAX_REFERRAL_LEVEL,
            request_file_name: path.into(),
        }
    }

    /// The request's bytes: the input of FSCTL_DFS_GET_REFERRALS, or the
    /// Trans2_Parameters of TRANS2_GET_DFS_REFERRAL.
    ///
    /// # Errors
    ///
    /// If the name holds a NUL character.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        check_no_nul(
            &self.request_file_name,
            "REQ_GET_DFS_REFERRAL RequestFileName",
        )?;
        let mut w = Writer::new();
        w.u16(self.max_referral_level)
            .utf16(&self.request_file_name)
            .u16(0);
        Ok(w.into_vec())
    }

    /// Decodes a request (for test servers and round trips): the name must
    /// be terminated, and nothing may follow the terminator.
    pub fn decode(input: &[u8]) -> Result<Self, DecodeError> {
        let what = "REQ_GET_DFS_REFERRAL";
        let mut r = Reader::new(input);
        let max_referral_level = r.u16("REQ_GET_DFS_REFERRAL MaxReferralLevel")?;
        let rest = r.rest();
        let (request_file_name, used) =
            terminated(rest, 0, rest.len(), "REQ_GET_DFS_REFERRAL RequestFileName")?;
        r.skip(used, what)?;
        r.expect_end(what)?;
        Ok(ReferralRequest {
            max_referral_level,
            request_file_name,
        })
    }

    /// The SMB_COM_TRANSACTION2 request that carries this referral request
    /// over SMB1 (MS-CIFS §2.2.6.16.1): Setup TRANS2_GET_DFS_REFERRAL, the
    /// request as Trans2_Parameters, no data, MaxParameterCount 0,
    /// MaxSetupCount 0 and `max_data_count`, "the maximum response size"
    /// (§3.2.4.44). Send it on the IPC$ tree.
    ///
    /// # Errors
    ///
    /// If the name holds a NUL character.
    pub fn trans2(&self, max_data_count: u16) -> Result<TransRequest, EncodeError> {
        Ok(TransRequest {
            name: None,
            setup: vec![TRANS2_GET_DFS_REFERRAL],
            parameters: self.to_bytes()?,
            data: Vec::new(),
            max_parameter_count: 0,
            max_data_count,
            max_setup_count: 0,
            flags: 0,
            timeout: 0,
        })
    }
}

/// REQ_GET_DFS_REFERRAL_EX (MS-DFSC §2.2.3, §2.2.3.1), the input of
/// FSCTL_DFS_GET_REFERRALS_EX: MaxReferralLevel (2), RequestFlags (2),
/// RequestDataLength (4), then RequestData: RequestFileNameLength (2),
/// RequestFileName, and with the SiteName flag SiteNameLength (2) and
/// SiteName. The lengths count bytes of UTF-16, and the strings are
/// written without terminators (the lengths delimit them); a decoded
/// string that ends with a NUL loses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRequestEx {
    /// MaxReferralLevel, as in [`ReferralRequest`].
    pub max_referral_level: u16,
    /// RequestFileName.
    pub request_file_name: String,
    /// SiteName: "the name of the site to which the DFS client computer
    /// belongs"; `Some` sets the SiteName flag.
    pub site_name: Option<String>,
}

impl ReferralRequestEx {
    /// The request's bytes.
    ///
    /// # Errors
    ///
    /// If a string holds a NUL, or is longer than its 16-bit length field
    /// can say.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let name_len = self.checked_len(
            &self.request_file_name,
            "REQ_GET_DFS_REFERRAL_EX RequestFileNameLength",
        )?;
        let mut flags = RequestFlags::default();
        let mut data_len = 2 + usize::from(name_len);
        let site_len = match &self.site_name {
            Some(site) => {
                let len = self.checked_len(site, "REQ_GET_DFS_REFERRAL_EX SiteNameLength")?;
                flags = flags | RequestFlags::SITE_NAME;
                data_len += 2 + usize::from(len);
                Some(len)
            }
            None => None,
        };
        let data_len = wire_u32(data_len, "REQ_GET_DFS_REFERRAL_EX RequestDataLength")?;
        let mut w = Writer::new();
        w.u16(self.max_referral_level)
            .u16(flags.0)
            .u32(data_len)
            .u16(name_len)
            .utf16(&self.request_file_name);
        if let (Some(site), Some(len)) = (&self.site_name, site_len) {
            w.u16(len).utf16(site);
        }
        Ok(w.into_vec())
    }

    /// The UTF-16 length of `s` for a 16-bit length field `what`.
    fn checked_len(&self, s: &str, what: &'static str) -> Result<u16, EncodeError> {
        check_no_nul(s, what)?;
        wire_u16(utf16_len(s), what)
    }

    /// Decodes a request (for test servers and round trips). RequestData
    /// must be exactly RequestDataLength bytes at the end of the input, and
    /// hold exactly the fields RequestFlags announces.
    pub fn decode(input: &[u8]) -> Result<Self, DecodeError> {
        let what = "REQ_GET_DFS_REFERRAL_EX";
        let mut r = Reader::new(input);
        let max_referral_level = r.u16("REQ_GET_DFS_REFERRAL_EX MaxReferralLevel")?;
        let flags = RequestFlags(r.u16("REQ_GET_DFS_REFERRAL_EX RequestFlags")?);
        let data_len = r.u32("REQ_GET_DFS_REFERRAL_EX RequestDataLength")? as usize;
        let data = r.take(data_len, "REQ_GET_DFS_REFERRAL_EX RequestData")?;
        r.expect_end(what)?;
        let mut d = Reader::new(data);
        let request_file_name = counted(&mut d, "REQ_GET_DFS_REFERRAL_EX RequestFileName")?;
        let site_name = if flags.contains(RequestFlags::SITE_NAME) {
            Some(counted(&mut d, "REQ_GET_DFS_REFERRAL_EX SiteName")?)
        } else {
            None
        };
        d.expect_end("REQ_GET_DFS_REFERRAL_EX RequestData")?;
        Ok(ReferralRequestEx {
            max_referral_level,
            request_file_name,
            site_name,
        })
    }
}

/// A 16-bit byte count and that many bytes of UTF-16LE, less one trailing
/// NUL if there is one; a NUL before the end is refused.
fn counted(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    let len = usize::from(r.u16(what)?);
    let mut bytes = r.take(len, what)?;
    if let Some(stripped) = bytes.strip_suffix(&[0, 0]) {
        bytes = stripped;
    }
    let s = from_utf16le(bytes, what)?;
    if s.contains('\0') {
        return Err(DecodeError::invalid(what, "a NUL before the end"));
    }
    Ok(s)
}

/// The NUL-terminated UTF-16LE string at `at` in `buf`, which must end
/// before `end`; returns it and the bytes it takes, terminator included.
fn terminated(
    buf: &[u8],
    at: usize,
    end: usize,
    what: &'static str,
) -> Result<(String, usize), DecodeError> {
    let Some(region) = buf.get(at..end) else {
        return Err(DecodeError::OutOfBounds {
            what,
            offset: at,
            length: 2,
            bound: end.min(buf.len()),
        });
    };
    let Some(units) = region.chunks_exact(2).position(|c| c == [0, 0]) else {
        return Err(DecodeError::Truncated {
            what,
            needed: (region.len() & !1) + 2,
            available: region.len(),
        });
    };
    let len = units * 2;
    Ok((from_utf16le(&region[..len], what)?, len + 2))
}

/// A referral entry that names a target (MS-DFSC §2.2.5.1, §2.2.5.2,
/// §2.2.5.3.1, §2.2.5.4): a root or link referral's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// VersionNumber: 1 to 4.
    pub version: u16,
    /// ServerType: [`ServerType::ROOT`] when the target is a root target.
    pub server_type: ServerType,
    /// ReferralEntryFlags as received (never
    /// [`EntryFlags::NAME_LIST_REFERRAL`] in versions 3 and 4, where that
    /// makes a [`NameListReferral`]).
    pub flags: EntryFlags,
    /// TimeToLive: how long, in seconds, the client may cache the answer
    /// ("the time-out value ... of the DFS root or DFS link"). Version 1
    /// has none: 0.
    pub ttl: u32,
    /// DFSPath: "the DFS path that corresponds to the DFS root or DFS link
    /// for which target information is returned". Version 1 has none:
    /// empty.
    pub path: String,
    /// DFSAlternatePath: the same path in its other form (8.3 names).
    /// Version 1 has none: empty.
    pub alt_path: String,
    /// The target, `\server\share[\path]`: NetworkAddress, "the network
    /// address of the DFS target" (the ShareName of version 1).
    pub target: String,
}

impl Referral {
    /// True for a version 4 entry with the TargetSetBoundary bit: the
    /// first target of a target set (the entries before the next such one
    /// are of equal cost, §2.2.5.4).
    pub fn target_set_boundary(&self) -> bool {
        self.version >= 4 && self.flags.contains(EntryFlags::TARGET_SET_BOUNDARY)
    }

    /// True when [`Referral::server_type`] says a root target.
    pub fn is_root(&self) -> bool {
        self.server_type == ServerType::ROOT
    }
}

/// A version 3 or 4 entry with the NameListReferral flag (MS-DFSC
/// §2.2.5.3.2): the answer to a domain referral request (the domain names,
/// one per entry, and no expanded names) or a DC referral request (the
/// domain and its DCs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameListReferral {
    /// VersionNumber: 3 or 4.
    pub version: u16,
    /// ServerType.
    pub server_type: ServerType,
    /// ReferralEntryFlags, [`EntryFlags::NAME_LIST_REFERRAL`] among them.
    pub flags: EntryFlags,
    /// TimeToLive, in seconds.
    pub ttl: u32,
    /// SpecialName: the domain name.
    pub special_name: String,
    /// The expanded names: the DCs of a DC referral, in order
    /// (NumberOfExpandedNames strings from ExpandedNameOffset, one after
    /// the other); empty for a domain referral.
    pub expanded_names: Vec<String>,
}

/// One entry of a [`ReferralResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferralEntry {
    /// A target (root and link referrals).
    Target(Referral),
    /// A name list (domain and DC referrals).
    NameList(NameListReferral),
}

impl ReferralEntry {
    /// The entry's VersionNumber.
    pub fn version(&self) -> u16 {
        match self {
            ReferralEntry::Target(r) => r.version,
            ReferralEntry::NameList(n) => n.version,
        }
    }

    /// The entry's TimeToLive in seconds (0 for version 1).
    pub fn ttl(&self) -> u32 {
        match self {
            ReferralEntry::Target(r) => r.ttl,
            ReferralEntry::NameList(n) => n.ttl,
        }
    }
}

/// RESP_GET_DFS_REFERRAL (MS-DFSC §2.2.4): the output of
/// FSCTL_DFS_GET_REFERRALS (_EX) and the Trans2_Data of the
/// TRANS2_GET_DFS_REFERRAL response.
///
/// Layout: PathConsumed (2), NumberOfReferrals (2), ReferralHeaderFlags
/// (4), the entries, the strings they point at, and padding, which is
/// ignored ("The client MUST ignore the Padding field if present",
/// §3.1.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralResponse {
    /// PathConsumed: how much of the RequestFileName the answer covers, in
    /// BYTES of its UTF-16 form, not characters: "the number of bytes—not
    /// characters—in the prefix of the referral request path that is
    /// matched in the referral response". [`ReferralResponse::consumed`]
    /// turns it into the prefix of the path that was sent.
    pub path_consumed: u16,
    /// ReferralHeaderFlags.
    pub header_flags: HeaderFlags,
    /// The referral entries, in the server's order (the order to try the
    /// targets in).
    pub entries: Vec<ReferralEntry>,
}

impl ReferralResponse {
    /// The entries' version (all have the same, §2.2.5), or `None` when
    /// there is no entry.
    pub fn version(&self) -> Option<u16> {
        self.entries.first().map(ReferralEntry::version)
    }

    /// The entries that name targets, in order.
    pub fn referrals(&self) -> impl Iterator<Item = &Referral> {
        self.entries.iter().filter_map(|e| match e {
            ReferralEntry::Target(r) => Some(r),
            ReferralEntry::NameList(_) => None,
        })
    }

    /// The name list entries, in order.
    pub fn name_lists(&self) -> impl Iterator<Item = &NameListReferral> {
        self.entries.iter().filter_map(|e| match e {
            ReferralEntry::NameList(n) => Some(n),
            ReferralEntry::Target(_) => None,
        })
    }

    /// The prefix of `request_path` (the RequestFileName that was sent)
    /// whose UTF-16 form is [`ReferralResponse::path_consumed`] bytes long:
    /// the part of the path the referral replaces with a target. `None`
    /// when PathConsumed is longer than the path or ends inside a
    /// character.
    ///
    /// ```
    /// # use smbkit_proto::dfs::{HeaderFlags, ReferralResponse};
    /// let r = ReferralResponse { path_consumed: 28, header_flags: HeaderFlags::default(), entries: vec![] };
    /// assert_eq!(r.consumed(r"\srv\root\link\a\b.txt"), Some(r"\srv\root\link"));
    /// ```
    pub fn consumed<'a>(&self, request_path: &'a str) -> Option<&'a str> {
        let want = usize::from(self.path_consumed);
        let mut bytes = 0;
        for (i, c) in request_path.char_indices() {
            if bytes == want {
                return Some(&request_path[..i]);
            }
            bytes += c.len_utf16() * 2;
        }
        (bytes == want).then_some(request_path)
    }

    /// Decodes a response. Every entry must lie in the message and be at
    /// least the fixed size of its version; every string must start
    /// inside the message and end with a NUL there (a version 1 ShareName
    /// inside its entry); all entries must have the same version (§2.2.5:
    /// "All referral entries in a RESP_GET_DFS_REFERRAL message MUST use
    /// the same referral entry structure"). Bytes after the last entry
    /// that no offset names are padding, and ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let path_consumed = r.u16("RESP_GET_DFS_REFERRAL PathConsumed")?;
        let count = usize::from(r.u16("RESP_GET_DFS_REFERRAL NumberOfReferrals")?);
        let header_flags = HeaderFlags(r.u32("RESP_GET_DFS_REFERRAL ReferralHeaderFlags")?);
        if count > MAX_REFERRALS {
            return Err(DecodeError::TooLarge {
                what: "RESP_GET_DFS_REFERRAL NumberOfReferrals",
                length: count,
                limit: MAX_REFERRALS,
            });
        }
        let mut entries = Vec::with_capacity(count.min(r.remaining() / ENTRY_COMMON_LEN));
        let mut strings = Strings::new(buf);
        let mut pos = HEADER_LEN;
        for _ in 0..count {
            let (entry, size) = decode_entry(&mut strings, pos)?;
            if let Some(first) = entries.first().map(ReferralEntry::version) {
                if entry.version() != first {
                    return Err(DecodeError::invalid(
                        "RESP_GET_DFS_REFERRAL",
                        format!(
                            "an entry of version {} after entries of version {first}",
                            entry.version()
                        ),
                    ));
                }
            }
            entries.push(entry);
            pos += size;
        }
        Ok(ReferralResponse {
            path_consumed,
            header_flags,
            entries,
        })
    }

    /// The response's bytes (for test servers and round trips): the header,
    /// the entries one after the other (version 3 and 4 targets with their
    /// zero ServiceSiteGuid, name lists without padding), then the strings.
    /// A DFSPath or DFSAlternatePath equal to one an earlier entry named is
    /// written once and shared, as Windows does (MS-DFSC §4.5); targets,
    /// special and expanded names are written for each entry.
    ///
    /// # Errors
    ///
    /// If the entries are of different versions or of a version outside 1
    /// to 4; a name list is not of version 3 or 4; a version 3 or 4 target
    /// has the NameListReferral flag; a version 1 entry has a path or a
    /// TTL (it carries neither); a string holds a NUL; or there are more
    /// entries or names, or more bytes before a string, than the 16-bit
    /// fields can say.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let count = count_u16(
            self.entries.len(),
            "RESP_GET_DFS_REFERRAL NumberOfReferrals",
            "referrals",
        )?;
        let version = self.version().unwrap_or(MAX_REFERRAL_LEVEL);
        let mut sizes = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            if e.version() != version {
                return Err(EncodeError::Invalid {
                    what: "RESP_GET_DFS_REFERRAL",
                    detail: "the entries are not all of one version",
                });
            }
            sizes.push(entry_len(e)?);
        }
        let strings_at = HEADER_LEN + sizes.iter().sum::<usize>();
        let mut table = StringTable::new(strings_at);
        let mut w = Writer::new();
        w.u16(self.path_consumed)
            .u16(count)
            .u32(self.header_flags.0);
        for (e, &size) in self.entries.iter().zip(&sizes) {
            let at = w.len();
            let size = wire_u16(size, "DFS referral Size")?;
            let rel = |abs: usize, what: &'static str| wire_u16(abs - at, what);
            match e {
                ReferralEntry::Target(t) if t.version == 1 => {
                    w.u16(1).u16(size).u16(t.server_type.0).u16(t.flags.0);
                    w.utf16(&t.target).u16(0);
                }
                ReferralEntry::Target(t) => {
                    let path = rel(
                        table.shared(Shared::Path, &t.path)?,
                        "DFS referral DFSPathOffset",
                    )?;
                    let alt = rel(
                        table.shared(Shared::AltPath, &t.alt_path)?,
                        "DFS referral DFSAlternatePathOffset",
                    )?;
                    let target = rel(table.put(&t.target)?, "DFS referral NetworkAddressOffset")?;
                    w.u16(t.version)
                        .u16(size)
                        .u16(t.server_type.0)
                        .u16(t.flags.0);
                    if t.version == 2 {
                        w.u32(0); // Proximity
                    }
                    w.u32(t.ttl).u16(path).u16(alt).u16(target);
                    if t.version >= 3 {
                        w.zeros(16); // ServiceSiteGuid
                    }
                }
                ReferralEntry::NameList(n) => {
                    let special = rel(
                        table.put(&n.special_name)?,
                        "DFS referral SpecialNameOffset",
                    )?;
                    let names = count_u16(
                        n.expanded_names.len(),
                        "DFS referral NumberOfExpandedNames",
                        "names",
                    )?;
                    let first = table.position();
                    for name in &n.expanded_names {
                        table.put(name)?;
                    }
                    let expanded = rel(first, "DFS referral ExpandedNameOffset")?;
                    w.u16(n.version)
                        .u16(size)
                        .u16(n.server_type.0)
                        .u16((n.flags | EntryFlags::NAME_LIST_REFERRAL).0)
                        .u32(n.ttl)
                        .u16(special)
                        .u16(names)
                        .u16(expanded);
                }
            }
        }
        w.bytes(&table.bytes);
        Ok(w.into_vec())
    }
}

/// The encoded size of `e`, after checking that it can be encoded.
fn entry_len(e: &ReferralEntry) -> Result<usize, EncodeError> {
    match e {
        ReferralEntry::Target(t) => match t.version {
            1 => {
                if t.ttl != 0 || !t.path.is_empty() || !t.alt_path.is_empty() {
                    return Err(EncodeError::Invalid {
                        what: "DFS_REFERRAL_V1",
                        detail:
                            "a version 1 entry carries no DFSPath, DFSAlternatePath or TimeToLive",
                    });
                }
                check_no_nul(&t.target, "DFS_REFERRAL_V1 ShareName")?;
                Ok(ENTRY_COMMON_LEN + utf16_len(&t.target) + 2)
            }
            2 => Ok(V2_LEN),
            3 | 4 if t.flags.contains(EntryFlags::NAME_LIST_REFERRAL) => {
                Err(EncodeError::Invalid {
                    what: "DFS referral ReferralEntryFlags",
                    detail:
                        "a target entry of version 3 or 4 cannot have the NameListReferral flag",
                })
            }
            3 | 4 => Ok(V3_TARGET_LEN),
            _ => Err(unknown_version()),
        },
        ReferralEntry::NameList(n) => match n.version {
            3 | 4 => Ok(V3_NAME_LIST_LEN),
            1 | 2 => Err(EncodeError::Invalid {
                what: "DFS referral VersionNumber",
                detail: "name list entries are of version 3 or 4",
            }),
            _ => Err(unknown_version()),
        },
    }
}

fn unknown_version() -> EncodeError {
    EncodeError::Invalid {
        what: "DFS referral VersionNumber",
        detail: "the versions are 1 to 4",
    }
}

/// The strings that entries share when equal: DFSPath and
/// DFSAlternatePath, each among its own kind.
#[derive(Clone, Copy)]
enum Shared {
    Path = 0,
    AltPath = 1,
}

/// The string buffer of a response being encoded.
struct StringTable {
    /// Where the buffer starts in the message.
    start: usize,
    bytes: Vec<u8>,
    /// The shared strings written, and where, by [`Shared`] kind.
    shared: [Vec<(String, usize)>; 2],
}

impl StringTable {
    fn new(start: usize) -> Self {
        StringTable {
            start,
            bytes: Vec::new(),
            shared: [Vec::new(), Vec::new()],
        }
    }

    /// Where the next string goes in the message.
    fn position(&self) -> usize {
        self.start + self.bytes.len()
    }

    /// Appends `s` and its terminator; returns where it starts.
    fn put(&mut self, s: &str) -> Result<usize, EncodeError> {
        check_no_nul(s, "DFS referral string")?;
        let at = self.position();
        let mut w = Writer::from_vec(std::mem::take(&mut self.bytes));
        w.utf16(s).u16(0);
        self.bytes = w.into_vec();
        Ok(at)
    }

    /// Where the `kind` string `s` is, writing it if no entry named it
    /// yet.
    fn shared(&mut self, kind: Shared, s: &str) -> Result<usize, EncodeError> {
        let known = &self.shared[kind as usize];
        if let Some(&(_, at)) = known.iter().find(|(p, _)| p == s) {
            return Ok(at);
        }
        let at = self.put(s)?;
        self.shared[kind as usize].push((s.to_string(), at));
        Ok(at)
    }
}

/// The strings of a response being decoded, and what may still be spent
/// on them.
struct Strings<'a> {
    buf: &'a [u8],
    /// Bytes of strings left to decode (of [`MAX_STRING_BYTES`]).
    budget: usize,
    /// Expanded names left to decode (of [`MAX_EXPANDED_NAMES`]).
    names: usize,
}

impl<'a> Strings<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Strings {
            buf,
            budget: MAX_STRING_BYTES,
            names: MAX_EXPANDED_NAMES,
        }
    }

    /// The string at `at`, ending before `end`; returns it and the bytes it
    /// takes, terminator included.
    fn at(
        &mut self,
        at: usize,
        end: usize,
        what: &'static str,
    ) -> Result<(String, usize), DecodeError> {
        let (s, len) = terminated(self.buf, at, end, what)?;
        self.budget = self.budget.checked_sub(len).ok_or(DecodeError::TooLarge {
            what: "RESP_GET_DFS_REFERRAL strings",
            length: MAX_STRING_BYTES - self.budget + len,
            limit: MAX_STRING_BYTES,
        })?;
        Ok((s, len))
    }

    /// The string at `offset` from the entry at `entry`, anywhere in the
    /// message.
    fn at_offset(
        &mut self,
        entry: usize,
        offset: u16,
        what: &'static str,
    ) -> Result<String, DecodeError> {
        Ok(self
            .at(entry + usize::from(offset), self.buf.len(), what)?
            .0)
    }
}

/// The fixed size of an entry of `version` (a name list when `name_list`).
fn fixed_len(version: u16, name_list: bool) -> Option<usize> {
    match version {
        1 => Some(ENTRY_COMMON_LEN),
        2 => Some(V2_LEN),
        3 | 4 if name_list => Some(V3_NAME_LIST_LEN),
        3 | 4 => Some(V3_TARGET_LEN),
        _ => None,
    }
}

/// Decodes the entry at `pos`; returns it and its Size.
fn decode_entry(
    strings: &mut Strings<'_>,
    pos: usize,
) -> Result<(ReferralEntry, usize), DecodeError> {
    let buf = strings.buf;
    let mut r = Reader::at(buf, pos, "DFS referral entry")?;
    let version = r.u16("DFS referral VersionNumber")?;
    let size = usize::from(r.u16("DFS referral Size")?);
    let server_type = ServerType(r.u16("DFS referral ServerType")?);
    let flags = EntryFlags(r.u16("DFS referral ReferralEntryFlags")?);
    let name_list = version >= 3 && flags.contains(EntryFlags::NAME_LIST_REFERRAL);
    let fixed = fixed_len(version, name_list).ok_or_else(|| {
        DecodeError::invalid(
            "DFS referral VersionNumber",
            format!("version {version}; the versions are 1 to 4"),
        )
    })?;
    if size < fixed {
        return Err(DecodeError::invalid(
            "DFS referral Size",
            format!("{size} bytes, less than the {fixed} of a version {version} entry"),
        ));
    }
    let end = checked_range("DFS referral entry", pos, size, buf.len())?.end;
    // The fixed fields lie within [pos, pos + fixed), inside the entry.
    let entry = match version {
        1 => {
            let (target, _) =
                strings.at(pos + ENTRY_COMMON_LEN, end, "DFS_REFERRAL_V1 ShareName")?;
            ReferralEntry::Target(Referral {
                version,
                server_type,
                flags,
                ttl: 0,
                path: String::new(),
                alt_path: String::new(),
                target,
            })
        }
        _ => {
            if version == 2 {
                r.skip(4, "DFS_REFERRAL_V2 Proximity")?;
            }
            let ttl = r.u32("DFS referral TimeToLive")?;
            if name_list {
                let special = r.u16("DFS referral SpecialNameOffset")?;
                let count = usize::from(r.u16("DFS referral NumberOfExpandedNames")?);
                let first = r.u16("DFS referral ExpandedNameOffset")?;
                let special_name = strings.at_offset(pos, special, "DFS referral SpecialName")?;
                if count > strings.names {
                    return Err(DecodeError::TooLarge {
                        what: "DFS referral NumberOfExpandedNames",
                        length: MAX_EXPANDED_NAMES - strings.names + count,
                        limit: MAX_EXPANDED_NAMES,
                    });
                }
                strings.names -= count;
                let mut at = pos + usize::from(first);
                let mut expanded_names =
                    Vec::with_capacity(count.min(buf.len().saturating_sub(at) / 2));
                for _ in 0..count {
                    let (name, len) = strings.at(at, buf.len(), "DFS referral expanded name")?;
                    expanded_names.push(name);
                    at += len;
                }
                ReferralEntry::NameList(NameListReferral {
                    version,
                    server_type,
                    flags,
                    ttl,
                    special_name,
                    expanded_names,
                })
            } else {
                let path = r.u16("DFS referral DFSPathOffset")?;
                let alt = r.u16("DFS referral DFSAlternatePathOffset")?;
                let target = r.u16("DFS referral NetworkAddressOffset")?;
                ReferralEntry::Target(Referral {
                    version,
                    server_type,
                    flags,
                    ttl,
                    path: strings.at_offset(pos, path, "DFS referral DFSPath")?,
                    alt_path: strings.at_offset(pos, alt, "DFS referral DFSAlternatePath")?,
                    target: strings.at_offset(pos, target, "DFS referral NetworkAddress")?,
                })
            }
        }
    };
    Ok((entry, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};

    /// A version 3 or 4 target entry.
    fn target(version: u16, ttl: u32, path: &str, target: &str) -> ReferralEntry {
        ReferralEntry::Target(Referral {
            version,
            server_type: ServerType::NON_ROOT,
            flags: EntryFlags::default(),
            ttl,
            path: path.into(),
            alt_path: path.into(),
            target: target.into(),
        })
    }

    /// The length of the part of `msg` that decoding reads: up to the end
    /// of its last string (what follows is padding).
    fn used_len(msg: &[u8]) -> usize {
        (0..=msg.len())
            .find(|&n| {
                ReferralResponse::decode(&msg[..n]).as_ref()
                    == Ok(&ReferralResponse::decode(msg).unwrap())
            })
            .unwrap()
    }

    /// Checks that `resp` encodes to bytes that decode to it, that every
    /// truncation of them fails, and that corrupting them never panics.
    fn round_trip(resp: &ReferralResponse) -> Vec<u8> {
        let b = resp.to_bytes().unwrap();
        assert_eq!(&ReferralResponse::decode(&b).unwrap(), resp);
        assert_truncations_fail(&b, ReferralResponse::decode);
        mutate_never_panics(&b, ReferralResponse::decode);
        b
    }

    // Captured from Samba 4.17.12 (smbkit-testserver's DfsSetup, the output
    // of FSCTL_DFS_GET_REFERRALS and the Trans2_Data of TRANS2_GET_DFS_REFERRAL
    // were the same bytes), as the integration test `dfs_referrals` asks.
    /// Samba 4.17's answer to `\127.0.0.1\dfsroot` (MaxReferralLevel 4), the same over SMB2 and SMB1.
    const SAMBA_ROOT: [&str; 5] = [
        "2400010003000000030022000100000058020000220048006e00000000000000",
        "000000000000000000005c003100320037002e0030002e0030002e0031005c00",
        "64006600730072006f006f00740000005c003100320037002e0030002e003000",
        "2e0031005c0064006600730072006f006f00740000005c003100320037002e00",
        "30002e0030002e0031005c0064006600730072006f006f0074000000",
    ];

    /// Samba 4.17's answer to `\127.0.0.1\dfsroot\link` (and to `\\127.0.0.1\dfsroot\link`).
    const SAMBA_LINK: [&str; 6] = [
        "2e00010002000000030022000000000058020000220052008200000000000000",
        "000000000000000000005c003100320037002e0030002e0030002e0031005c00",
        "64006600730072006f006f0074005c006c0069006e006b0000005c0031003200",
        "37002e0030002e0030002e0031005c0064006600730072006f006f0074005c00",
        "6c0069006e006b0000005c003100320037002e0030002e0030002e0032005c00",
        "730068006100720065000000",
    ];

    /// Samba 4.17's answer to `\127.0.0.1\dfsroot\twotargets`.
    const SAMBA_TWO_TARGETS: [&str; 12] = [
        "3a0002000200000003002200000000005802000044008000bc00000000000000",
        "00000000000000000000030022000000000058020000bc00f800340100000000",
        "0000000000000000000000005c003100320037002e0030002e0030002e003100",
        "5c0064006600730072006f006f0074005c00740077006f007400610072006700",
        "65007400730000005c003100320037002e0030002e0030002e0031005c006400",
        "6600730072006f006f0074005c00740077006f00740061007200670065007400",
        "730000005c003100320037002e0030002e0030002e0033005c00730068006100",
        "7200650000005c003100320037002e0030002e0030002e0031005c0064006600",
        "730072006f006f0074005c00740077006f007400610072006700650074007300",
        "00005c003100320037002e0030002e0030002e0031005c006400660073007200",
        "6f006f0074005c00740077006f00740061007200670065007400730000005c00",
        "3100320037002e0030002e0030002e0032005c00730068006100720065000000",
    ];

    /// Samba 4.17's answer to `\127.0.0.1\dfsroot\locallink\sub\file.txt`.
    const SAMBA_LOCAL_BELOW: [&str; 6] = [
        "380001000200000003002200000000005802000022005c009600000000000000",
        "000000000000000000005c003100320037002e0030002e0030002e0031005c00",
        "64006600730072006f006f0074005c006c006f00630061006c006c0069006e00",
        "6b0000005c003100320037002e0030002e0030002e0031005c00640066007300",
        "72006f006f0074005c006c006f00630061006c006c0069006e006b0000005c00",
        "3100320037002e0030002e0030002e0031005c00730068006100720065000000",
    ];

    fn hex(lines: &[&str]) -> Vec<u8> {
        let s: String = lines.concat();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Checks a captured answer: it decodes, every truncation fails (Samba
    /// sends no padding), corruption never panics, and what the encoder
    /// makes of it decodes the same.
    fn samba(lines: &[&str]) -> (Vec<u8>, ReferralResponse) {
        let b = hex(lines);
        let r = ReferralResponse::decode(&b).unwrap();
        assert_truncations_fail(&b, ReferralResponse::decode);
        mutate_never_panics(&b, ReferralResponse::decode);
        let again = r.to_bytes().unwrap();
        assert_eq!(ReferralResponse::decode(&again).unwrap(), r);
        (b, r)
    }

    #[test]
    fn samba_root_referral() {
        let (b, r) = samba(&SAMBA_ROOT);
        let path = r"\127.0.0.1\dfsroot";
        #[rustfmt::skip]
        let fixed: &[u8] = &[
            0x24, 0x00, // PathConsumed: 36 bytes, the 18 characters
            0x01, 0x00, // NumberOfReferrals
            0x03, 0x00, 0x00, 0x00, // ReferralHeaderFlags: R | S
            0x03, 0x00, 0x22, 0x00, // version 3, Size 34
            0x01, 0x00, 0x00, 0x00, // ServerType root, no flags
            0x58, 0x02, 0x00, 0x00, // TimeToLive 600
            0x22, 0x00, 0x48, 0x00, 0x6e, 0x00, // the three offsets
        ];
        assert_eq!(&b[..fixed.len()], fixed);
        assert!(b[26..42].iter().all(|&x| x == 0)); // ServiceSiteGuid
        assert_eq!(usize::from(r.path_consumed), utf16_len(path));
        assert_eq!(r.consumed(path), Some(path));
        assert_eq!(
            r.header_flags,
            HeaderFlags::REFERRAL_SERVERS | HeaderFlags::STORAGE_SERVERS
        );
        assert_eq!(
            r.entries,
            [ReferralEntry::Target(Referral {
                version: 3,
                server_type: ServerType::ROOT,
                flags: EntryFlags::default(),
                ttl: 600,
                path: path.into(),
                alt_path: path.into(),
                target: path.into(),
            })]
        );
    }

    #[test]
    fn samba_link_referrals() {
        let (_, r) = samba(&SAMBA_LINK);
        let link = r"\127.0.0.1\dfsroot\link";
        assert_eq!(r.path_consumed, 46);
        assert_eq!(r.consumed(link), Some(link));
        assert_eq!(r.header_flags, HeaderFlags::STORAGE_SERVERS);
        let t: Vec<&Referral> = r.referrals().collect();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].path.as_str(), t[0].target.as_str(), t[0].ttl),
            (link, r"\127.0.0.2\share", 600)
        );
        assert!(!t[0].is_root() && !t[0].target_set_boundary());

        // Two targets in the link's order. Samba writes every entry's three
        // strings after the entries, none shared (the encoder shares the
        // paths, and is shorter).
        let (b, r) = samba(&SAMBA_TWO_TARGETS);
        assert_eq!(r.path_consumed, 58);
        assert_eq!(
            r.referrals().map(|t| t.target.as_str()).collect::<Vec<_>>(),
            [r"\127.0.0.3\share", r"\127.0.0.2\share"]
        );
        assert_eq!(&b[8 + 12..8 + 18], &[0x44, 0, 0x80, 0, 0xbc, 0]);
        assert_eq!(&b[42 + 12..42 + 18], &[0xbc, 0, 0xf8, 0, 0x34, 0x01]);
        assert!(r.to_bytes().unwrap().len() < b.len());

        // A path below a link: PathConsumed stops at the link.
        let (_, r) = samba(&SAMBA_LOCAL_BELOW);
        let asked = r"\127.0.0.1\dfsroot\locallink\sub\file.txt";
        assert_eq!(r.path_consumed, 56);
        assert_eq!(r.consumed(asked), Some(r"\127.0.0.1\dfsroot\locallink"));
        assert_eq!(r.referrals().next().unwrap().target, r"\127.0.0.1\share");
    }

    #[test]
    fn request_layout_and_round_trip() {
        let req = ReferralRequest::new(r"\srv\root\link");
        let b = req.to_bytes().unwrap();
        let mut want = vec![0x04, 0x00]; // MaxReferralLevel 4
        want.extend(utf16le(r"\srv\root\link"));
        want.extend([0, 0]);
        assert_eq!(b, want);
        assert_eq!(ReferralRequest::decode(&b).unwrap(), req);
        assert_truncations_fail(&b, ReferralRequest::decode);
        // Something after the terminator, or an odd trailing byte.
        let mut longer = b.clone();
        longer.extend([b'x', 0]);
        assert!(ReferralRequest::decode(&longer).is_err());
        longer.truncate(b.len() + 1);
        assert!(ReferralRequest::decode(&longer).is_err());
        // A name that cannot be NUL-terminated.
        assert_eq!(
            ReferralRequest::new("a\0b").to_bytes(),
            Err(EncodeError::Invalid {
                what: "REQ_GET_DFS_REFERRAL RequestFileName",
                detail: "contains a NUL character"
            })
        );
        // An unpaired surrogate is refused, not replaced.
        let mut bad = vec![4, 0, 0x00, 0xD8, 0, 0];
        assert!(matches!(
            ReferralRequest::decode(&bad),
            Err(DecodeError::Invalid { .. })
        ));
        bad[2..4].copy_from_slice(&[b'a', 0]);
        assert_eq!(
            ReferralRequest::decode(&bad).unwrap().request_file_name,
            "a"
        );
    }

    #[test]
    fn trans2_request_carries_the_referral_request() {
        use crate::smb1::header::command;
        use crate::smb1::trans::testutil::request_writer;
        let req = ReferralRequest::new(r"\127.0.0.1\dfsroot");
        let t = req.trans2(4096).unwrap();
        let mut w = request_writer(command::TRANSACTION2);
        t.encode(&mut w).unwrap();
        let back = TransRequest::decode(w.as_slice()).unwrap();
        assert_eq!(back.setup, [0x0010]);
        assert_eq!(back.parameters, req.to_bytes().unwrap());
        assert!(back.data.is_empty());
        assert_eq!(
            (
                back.max_parameter_count,
                back.max_data_count,
                back.max_setup_count
            ),
            (0, 4096, 0)
        );
        assert_eq!(ReferralRequest::decode(&back.parameters).unwrap(), req);
    }

    #[test]
    fn extended_request_layout_and_round_trip() {
        let req = ReferralRequestEx {
            max_referral_level: 4,
            request_file_name: r"\d\r".into(),
            site_name: Some("S1".into()),
        };
        let b = req.to_bytes().unwrap();
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x04, 0x00, // MaxReferralLevel
            0x01, 0x00, // RequestFlags: SiteName
            0x10, 0x00, 0x00, 0x00, // RequestDataLength 16
            0x08, 0x00, b'\\', 0, b'd', 0, b'\\', 0, b'r', 0, // RequestFileName
            0x04, 0x00, b'S', 0, b'1', 0, // SiteName
        ];
        assert_eq!(b, want);
        assert_eq!(ReferralRequestEx::decode(&b).unwrap(), req);
        assert_truncations_fail(&b, ReferralRequestEx::decode);
        mutate_never_panics(&b, ReferralRequestEx::decode);

        let no_site = ReferralRequestEx {
            site_name: None,
            ..req.clone()
        };
        let b = no_site.to_bytes().unwrap();
        assert_eq!(&b[2..8], &[0, 0, 10, 0, 0, 0]);
        assert_eq!(ReferralRequestEx::decode(&b).unwrap(), no_site);

        // A terminated name (as some clients send it) loses its NUL.
        let mut t = vec![4, 0, 0, 0, 6, 0, 0, 0, 4, 0, b'x', 0, 0, 0];
        assert_eq!(
            ReferralRequestEx::decode(&t).unwrap().request_file_name,
            "x"
        );
        // RequestDataLength beyond the input, or short of it.
        t[4] = 7;
        assert!(ReferralRequestEx::decode(&t).is_err());
        t[4] = 5;
        assert!(ReferralRequestEx::decode(&t).is_err());
        // A name length beyond RequestData.
        t[4] = 6;
        t[8] = 6;
        assert!(ReferralRequestEx::decode(&t).is_err());
        // A NUL inside the name.
        let nul = [4, 0, 0, 0, 6, 0, 0, 0, 4, 0, 0, 0, b'x', 0];
        assert!(matches!(
            ReferralRequestEx::decode(&nul),
            Err(DecodeError::Invalid { .. })
        ));
        // Too long for the 16-bit lengths.
        let long = ReferralRequestEx {
            request_file_name: "n".repeat(0x8000),
            ..no_site
        };
        crate::codec::testutil::assert_too_large(
            long.to_bytes(),
            "REQ_GET_DFS_REFERRAL_EX RequestFileNameLength",
            0x10000,
            0xFFFF,
        );
    }

    /// MS-DFSC §4.5 (domain-based DFS root referral packet trace) gives
    /// this response's layout in words, its bytes only as a figure:
    /// PathConsumed 0x26 (the 19 characters of `\dfsn-dev\testroot1`), two
    /// version 3 entries, the second 0x22 bytes after the first, the
    /// strings right after both, and the first entry's
    /// NetworkAddressOffset 0x94, naming `\cfs-41x-2c03\testroot1`.
    /// Relative to the response (which starts at 0x72 in the trace):
    /// entries at 0x08 and 0x2A, strings from 0x4C, that offset at 0x18,
    /// the target at 0x08 + 0x94 = 0x9C. The encoder, sharing the DFSPath
    /// and DFSAlternatePath between entries as Windows does, lays it out
    /// the same way.
    #[test]
    fn the_layout_of_the_spec_example() {
        let path = r"\dfsn-dev\testroot1";
        let resp = ReferralResponse {
            path_consumed: 0x26,
            header_flags: HeaderFlags::REFERRAL_SERVERS,
            entries: vec![
                ReferralEntry::Target(Referral {
                    server_type: ServerType::ROOT,
                    ..match target(3, 300, path, r"\cfs-41x-2c03\testroot1") {
                        ReferralEntry::Target(t) => t,
                        _ => unreachable!(),
                    }
                }),
                ReferralEntry::Target(Referral {
                    server_type: ServerType::ROOT,
                    ..match target(3, 300, path, r"\cfs-41x-2c04\testroot1") {
                        ReferralEntry::Target(t) => t,
                        _ => unreachable!(),
                    }
                }),
            ],
        };
        let b = round_trip(&resp);
        assert_eq!(usize::from(resp.path_consumed), utf16_len(path));
        assert_eq!(resp.consumed(path), Some(path));
        assert_eq!(&b[0..4], &[0x26, 0x00, 0x02, 0x00]);
        assert_eq!(&b[0x08..0x0C], &[0x03, 0x00, 0x22, 0x00]); // V3, Size 0x22
        assert_eq!(&b[0x2A..0x2E], &[0x03, 0x00, 0x22, 0x00]);
        assert_eq!(&b[0x18..0x1A], &[0x94, 0x00]); // NetworkAddressOffset
        let target_at = 0x08 + 0x94;
        assert_eq!(target_at, 0x9C);
        let name = utf16le(r"\cfs-41x-2c03\testroot1");
        assert_eq!(&b[target_at..target_at + name.len()], &name[..]);
        // The strings start after the entries: the DFSPath at 0x4C.
        assert_eq!(&b[0x14..0x16], &[0x44, 0x00]); // DFSPathOffset 0x4C - 0x08
        assert_eq!(&b[0x4C..0x4C + 2 * 19], &utf16le(path)[..]);
        // The second entry shares both paths.
        assert_eq!(&b[0x36..0x3A], &[0x22, 0x00, 0x4A, 0x00]);
    }

    #[test]
    fn every_version_round_trips() {
        // Version 1: the ShareName inside the entry, no TTL, no paths.
        let v1 = ReferralResponse {
            path_consumed: 20,
            header_flags: HeaderFlags::STORAGE_SERVERS,
            entries: vec![
                ReferralEntry::Target(Referral {
                    version: 1,
                    server_type: ServerType::NON_ROOT,
                    flags: EntryFlags::default(),
                    ttl: 0,
                    path: String::new(),
                    alt_path: String::new(),
                    target: r"\a\b".into(),
                }),
                ReferralEntry::Target(Referral {
                    version: 1,
                    server_type: ServerType::ROOT,
                    flags: EntryFlags(0x8000),
                    ttl: 0,
                    path: String::new(),
                    alt_path: String::new(),
                    target: r"\c\d".into(),
                }),
            ],
        };
        let b = round_trip(&v1);
        #[rustfmt::skip]
        let first: &[u8] = &[
            0x01, 0x00, 0x12, 0x00, // version 1, Size 8 + 10
            0x00, 0x00, 0x00, 0x00, // ServerType, ReferralEntryFlags
            b'\\', 0, b'a', 0, b'\\', 0, b'b', 0, 0, 0,
        ];
        assert_eq!(&b[8..26], first);
        assert_eq!(b.len(), 8 + 18 + 18);

        // Version 2: Proximity before the TTL, offsets after it.
        let mut v2 = ReferralResponse {
            path_consumed: 22,
            header_flags: HeaderFlags::STORAGE_SERVERS,
            entries: vec![target(2, 600, r"\srv\root\l", r"\other\share")],
        };
        if let ReferralEntry::Target(t) = &mut v2.entries[0] {
            t.alt_path = r"\SRV\ROOT\L".into();
        }
        let b = round_trip(&v2);
        #[rustfmt::skip]
        let fixed: &[u8] = &[
            0x02, 0x00, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, // Proximity
            0x58, 0x02, 0x00, 0x00, // TimeToLive 600
            0x16, 0x00, 0x2E, 0x00, 0x46, 0x00, // the three offsets
        ];
        assert_eq!(&b[8..30], fixed);

        // Version 3 with several targets, and version 4 with target sets.
        let v3 = ReferralResponse {
            path_consumed: 30,
            header_flags: HeaderFlags::STORAGE_SERVERS | HeaderFlags::TARGET_FAILBACK,
            entries: vec![
                target(3, 1800, r"\srv\root\link", r"\a\share"),
                target(3, 1800, r"\srv\root\link", r"\b\share\sub"),
            ],
        };
        let b = round_trip(&v3);
        assert!(b[8 + 18..8 + 34].iter().all(|&x| x == 0)); // ServiceSiteGuid
        let r = ReferralResponse::decode(&b).unwrap();
        assert_eq!(r.version(), Some(3));
        assert!(r.header_flags.storage_servers() && r.header_flags.target_failback());
        assert!(!r.header_flags.referral_servers());
        assert_eq!(
            r.referrals().map(|t| t.target.as_str()).collect::<Vec<_>>(),
            [r"\a\share", r"\b\share\sub"]
        );
        assert!(r
            .referrals()
            .all(|t| !t.target_set_boundary() && !t.is_root()));

        let mut entries = vec![
            target(4, 300, r"\s\r\l", r"\t1\x"),
            target(4, 300, r"\s\r\l", r"\t2\x"),
            target(4, 300, r"\s\r\l", r"\t3\x"),
        ];
        for i in [0, 2] {
            if let ReferralEntry::Target(t) = &mut entries[i] {
                t.flags = EntryFlags::TARGET_SET_BOUNDARY;
            }
        }
        let v4 = ReferralResponse {
            path_consumed: 12,
            header_flags: HeaderFlags::STORAGE_SERVERS,
            entries,
        };
        let b = round_trip(&v4);
        let r = ReferralResponse::decode(&b).unwrap();
        assert_eq!(
            r.referrals()
                .map(Referral::target_set_boundary)
                .collect::<Vec<_>>(),
            [true, false, true]
        );
        // The same bit means nothing in version 3.
        let mut as_v3 = b.clone();
        for at in [8, 8 + 34, 8 + 68] {
            as_v3[at] = 3;
        }
        let r = ReferralResponse::decode(&as_v3).unwrap();
        assert!(r.referrals().all(|t| !t.target_set_boundary()));
    }

    #[test]
    fn name_list_referrals_round_trip() {
        // A domain referral: one entry per domain, no expanded names.
        let domains = ReferralResponse {
            path_consumed: 0,
            header_flags: HeaderFlags::default(),
            entries: ["CONTOSO", "contoso.example"]
                .iter()
                .map(|d| {
                    ReferralEntry::NameList(NameListReferral {
                        version: 3,
                        server_type: ServerType::NON_ROOT,
                        flags: EntryFlags::NAME_LIST_REFERRAL,
                        ttl: 600,
                        special_name: format!(r"\{d}"),
                        expanded_names: vec![],
                    })
                })
                .collect(),
        };
        let b = round_trip(&domains);
        assert_eq!(&b[8..20], &[3, 0, 18, 0, 0, 0, 2, 0, 0x58, 2, 0, 0]);
        // A DC referral: the domain and its DCs, one after the other.
        let dcs = ReferralResponse {
            path_consumed: 16,
            header_flags: HeaderFlags::default(),
            entries: vec![ReferralEntry::NameList(NameListReferral {
                version: 4,
                server_type: ServerType::ROOT,
                flags: EntryFlags::NAME_LIST_REFERRAL,
                ttl: 900,
                special_name: r"\CONTOSO".into(),
                expanded_names: vec![r"\dc1.contoso.example".into(), r"\dc2".into()],
            })],
        };
        let b = round_trip(&dcs);
        let r = ReferralResponse::decode(&b).unwrap();
        assert_eq!(r.name_lists().count(), 1);
        assert_eq!(r.referrals().count(), 0);
        assert_eq!(r.entries[0].ttl(), 900);
        // Trailing padding (16 bytes in an entry, or after the strings)
        // is ignored.
        let mut padded = b.clone();
        padded.extend([0xAA; 16]);
        assert_eq!(ReferralResponse::decode(&padded).unwrap(), dcs);
        assert_eq!(used_len(&padded), b.len());
    }

    #[test]
    fn encoder_refuses_what_the_format_cannot_say() {
        let bad = |entries: Vec<ReferralEntry>| {
            ReferralResponse {
                path_consumed: 0,
                header_flags: HeaderFlags::default(),
                entries,
            }
            .to_bytes()
        };
        assert!(matches!(
            bad(vec![target(3, 1, "p", "t"), target(4, 1, "p", "t")]),
            Err(EncodeError::Invalid { .. })
        ));
        assert!(bad(vec![target(5, 1, "p", "t")]).is_err());
        assert!(bad(vec![target(0, 1, "p", "t")]).is_err());
        assert!(bad(vec![target(1, 1, "", "t")]).is_err()); // a V1 TTL
        assert!(bad(vec![target(3, 1, "p\0", "t")]).is_err());
        let mut nl = target(3, 1, "p", "t");
        if let ReferralEntry::Target(t) = &mut nl {
            t.flags = EntryFlags::NAME_LIST_REFERRAL;
        }
        assert!(bad(vec![nl]).is_err());
        let v2_list = ReferralEntry::NameList(NameListReferral {
            version: 2,
            server_type: ServerType::NON_ROOT,
            flags: EntryFlags::default(),
            ttl: 0,
            special_name: "d".into(),
            expanded_names: vec![],
        });
        assert!(bad(vec![v2_list]).is_err());
        // Strings beyond the reach of a 16-bit offset.
        let far: Vec<ReferralEntry> = (0..3)
            .map(|i| target(3, 1, &format!("{i}{}", "p".repeat(20_000)), "t"))
            .collect();
        assert!(matches!(bad(far), Err(EncodeError::TooLarge { .. })));
        // Empty: the header alone.
        assert_eq!(bad(vec![]).unwrap(), [0; 8]);
    }

    #[test]
    fn hostile_responses_fail() {
        let good = ReferralResponse {
            path_consumed: 8,
            header_flags: HeaderFlags::STORAGE_SERVERS,
            entries: vec![target(3, 300, r"\s\r", r"\t\s")],
        }
        .to_bytes()
        .unwrap();
        let with = |at: usize, v: u16| {
            let mut m = good.clone();
            m[at..at + 2].copy_from_slice(&v.to_le_bytes());
            ReferralResponse::decode(&m)
        };
        assert!(with(2, 1).is_ok());
        // More entries than there are.
        assert!(with(2, 2).is_err());
        // A count over the cap fails before anything is read or allocated.
        assert_eq!(
            with(2, 0xFFFF),
            Err(DecodeError::TooLarge {
                what: "RESP_GET_DFS_REFERRAL NumberOfReferrals",
                length: 0xFFFF,
                limit: MAX_REFERRALS
            })
        );
        // Unknown versions.
        for v in [0, 5, 0xFFFF] {
            assert!(matches!(with(8, v), Err(DecodeError::Invalid { .. })));
        }
        // A Size short of the fixed fields (0 would loop in place), or
        // beyond the message.
        for size in [0, 8, 33] {
            assert!(matches!(with(10, size), Err(DecodeError::Invalid { .. })));
        }
        assert!(matches!(
            with(10, 0xFFFF),
            Err(DecodeError::OutOfBounds { .. })
        ));
        // String offsets past the end, at the last byte, or onto bytes
        // without a terminator.
        for field in [20, 22, 24] {
            assert!(matches!(
                with(field, 0xFFFF),
                Err(DecodeError::OutOfBounds { .. })
            ));
            let last = (good.len() - 8 - 1) as u16;
            assert!(matches!(
                with(field, last),
                Err(DecodeError::Truncated { .. })
            ));
        }
        // An offset into the entry itself reads whatever is there: bytes
        // that happen to be a string are accepted, bytes that are not
        // valid UTF-16 are refused.
        assert!(with(20, 0).is_ok());
        let mut m = good.clone();
        let at = 8 + usize::from(u16::from_le_bytes([m[24], m[25]]));
        m[at..at + 2].copy_from_slice(&0xDC00u16.to_le_bytes()); // lone low surrogate
        assert!(matches!(
            ReferralResponse::decode(&m),
            Err(DecodeError::Invalid { .. })
        ));
        // Entries of two versions.
        let two = ReferralResponse {
            path_consumed: 0,
            header_flags: HeaderFlags::default(),
            entries: vec![target(3, 1, "p", "a"), target(3, 1, "p", "b")],
        }
        .to_bytes()
        .unwrap();
        let mut mixed = two.clone();
        mixed[8 + 34] = 4;
        assert!(matches!(
            ReferralResponse::decode(&mixed),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn hostile_name_lists_fail() {
        let dcs = ReferralResponse {
            path_consumed: 0,
            header_flags: HeaderFlags::default(),
            entries: vec![ReferralEntry::NameList(NameListReferral {
                version: 3,
                server_type: ServerType::NON_ROOT,
                flags: EntryFlags::NAME_LIST_REFERRAL,
                ttl: 1,
                special_name: "d".into(),
                expanded_names: vec!["a".into(), "b".into()],
            })],
        }
        .to_bytes()
        .unwrap();
        let with = |at: usize, v: u16| {
            let mut m = dcs.clone();
            m[at..at + 2].copy_from_slice(&v.to_le_bytes());
            ReferralResponse::decode(&m)
        };
        assert!(with(22, 2).is_ok());
        assert!(with(22, 0).is_ok()); // a domain referral: no names read
                                      // More names than the message holds, and more than the cap.
        assert!(matches!(with(22, 3), Err(DecodeError::Truncated { .. })));
        assert!(matches!(
            with(22, 0xFFFF),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            with(24, 0xFFFF),
            Err(DecodeError::OutOfBounds { .. })
        ));
        assert!(matches!(
            with(20, 0xFFFF),
            Err(DecodeError::OutOfBounds { .. })
        ));

        // The cap counts the names of all entries: 64 entries of 16 names
        // (all pointing at the same 16 empty strings) reach it, one more
        // name does not fit.
        let many = |names_in_last: u16| {
            let mut w = Writer::new();
            w.u16(0).u16(64).u32(0);
            let strings_at = 8 + 64 * 18;
            for i in 0..64u16 {
                let at = 8 + usize::from(i) * 18;
                let rel = (strings_at - at) as u16;
                let names = if i == 63 { names_in_last } else { 16 };
                w.u16(3).u16(18).u16(0).u16(2).u32(0);
                w.u16(rel).u16(names).u16(rel);
            }
            w.zeros(2 * 17);
            ReferralResponse::decode(w.as_slice())
        };
        let r = many(16).unwrap();
        assert_eq!(
            r.name_lists()
                .map(|n| n.expanded_names.len())
                .sum::<usize>(),
            MAX_EXPANDED_NAMES
        );
        assert!(matches!(many(17), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn shared_strings_are_capped() {
        // 300 entries that all point at one 16 KiB string would decode to
        // 3 × 300 × 16 KiB: the string budget stops it.
        let long = "x".repeat(8190);
        let n = 300usize;
        let mut w = Writer::new();
        w.u16(0).u16(n as u16).u32(0);
        let strings_at = 8 + n * 34;
        for i in 0..n {
            let rel = (strings_at - (8 + i * 34)) as u16;
            w.u16(3).u16(34).u16(0).u16(0).u32(0);
            w.u16(rel).u16(rel).u16(rel).zeros(16);
        }
        w.utf16(&long).u16(0);
        assert_eq!(w.len(), strings_at + 16382);
        match ReferralResponse::decode(w.as_slice()) {
            Err(DecodeError::TooLarge { what, limit, .. }) => {
                assert_eq!(
                    (what, limit),
                    ("RESP_GET_DFS_REFERRAL strings", MAX_STRING_BYTES)
                );
            }
            other => panic!("expected the string cap, got {other:?}"),
        }
        // The same with a short string is fine.
        let mut short = w.as_slice()[..strings_at].to_vec();
        short.extend(utf16le(r"\s\x"));
        short.extend([0, 0]);
        let r = ReferralResponse::decode(&short).unwrap();
        assert_eq!(r.entries.len(), n);
        assert!(r
            .referrals()
            .all(|t| t.target == r"\s\x" && t.path == t.target));
    }

    #[test]
    fn path_consumed_is_in_bytes_of_utf16() {
        let resp = |n| ReferralResponse {
            path_consumed: n,
            header_flags: HeaderFlags::default(),
            entries: vec![],
        };
        let p = r"\srv\dfs\linké\x";
        assert_eq!(resp(0).consumed(p), Some(""));
        assert_eq!(resp(28).consumed(p), Some(r"\srv\dfs\linké"));
        assert_eq!(resp(32).consumed(p), Some(p));
        assert_eq!(resp(27).consumed(p), None); // inside a character
        assert_eq!(resp(34).consumed(p), None); // past the end
                                                // A character outside the BMP is two UTF-16 units, four bytes.
        let q = "\\a\u{1F600}b";
        assert_eq!(resp(8).consumed(q), Some("\\a\u{1F600}"));
        assert_eq!(resp(6).consumed(q), None);
    }

    #[test]
    fn flags_print_their_names() {
        assert_eq!(
            format!(
                "{:?}",
                HeaderFlags::REFERRAL_SERVERS | HeaderFlags::STORAGE_SERVERS
            ),
            "HeaderFlags(REFERRAL_SERVERS | STORAGE_SERVERS)"
        );
        assert_eq!(format!("{:?}", HeaderFlags(0)), "HeaderFlags(0x0)");
        assert_eq!(
            format!("{:?}", EntryFlags(0x0104)),
            "EntryFlags(TARGET_SET_BOUNDARY | 0x100)"
        );
        assert_eq!(format!("{:?}", ServerType(1)), "ROOT");
        assert_eq!(format!("{:?}", ServerType(7)), "ServerType(0x7)");
    }
}
