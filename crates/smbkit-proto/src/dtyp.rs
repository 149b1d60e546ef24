//! Windows security data types of MS-DTYP: SIDs, ACEs, ACLs and
//! self-relative security descriptors, as returned by SMB2 QUERY_INFO with
//! InfoType SMB2_0_INFO_SECURITY (MS-SMB2 §2.2.37, §2.2.38) and sent with
//! SET_INFO.
//!
//! Decoders take server bytes and go through the bounds-checked [`Reader`]:
//! every count, size and offset from the wire is checked against the bytes
//! actually present, so a hostile descriptor is a [`DecodeError`], never a
//! panic, and allocations are bounded by the input size. Encoders produce the
//! self-relative form (for SET_INFO, test servers and round-trip tests).
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::codec::{
    count_u16, wire_u16, wire_u32, wire_u8, DecodeError, EncodeError, Reader, Writer,
};

/// ACE types: the AceType field of ACE_HEADER (MS-DTYP §2.4.4.1).
pub mod ace_type {
    /// ACCESS_ALLOWED_ACE_TYPE (§2.4.4.2 ACCESS_ALLOWED_ACE).
    pub const ACCESS_ALLOWED: u8 = 0x00;
    /// ACCESS_DENIED_ACE_TYPE (§2.4.4.4 ACCESS_DENIED_ACE).
    pub const ACCESS_DENIED: u8 = 0x01;
    /// SYSTEM_AUDIT_ACE_TYPE (§2.4.4.10 SYSTEM_AUDIT_ACE).
    pub const SYSTEM_AUDIT: u8 = 0x02;
    /// SYSTEM_ALARM_ACE_TYPE ("Reserved for future use"; same layout as
    /// SYSTEM_AUDIT_ACE).
    pub const SYSTEM_ALARM: u8 = 0x03;
    /// ACCESS_ALLOWED_COMPOUND_ACE_TYPE ("Reserved for future use"; kept
    /// raw by the decoder).
    pub const ACCESS_ALLOWED_COMPOUND: u8 = 0x04;
    /// ACCESS_ALLOWED_OBJECT_ACE_TYPE (§2.4.4.3 ACCESS_ALLOWED_OBJECT_ACE).
    pub const ACCESS_ALLOWED_OBJECT: u8 = 0x05;
    /// ACCESS_DENIED_OBJECT_ACE_TYPE (§2.4.4.5 ACCESS_DENIED_OBJECT_ACE).
    pub const ACCESS_DENIED_OBJECT: u8 = 0x06;
    /// SYSTEM_AUDIT_OBJECT_ACE_TYPE (§2.4.4.11 SYSTEM_AUDIT_OBJECT_ACE).
    pub const SYSTEM_AUDIT_OBJECT: u8 = 0x07;
    /// SYSTEM_ALARM_OBJECT_ACE_TYPE ("Reserved for future use"; object
    /// layout).
    pub const SYSTEM_ALARM_OBJECT: u8 = 0x08;
    /// ACCESS_ALLOWED_CALLBACK_ACE_TYPE (§2.4.4.6).
    pub const ACCESS_ALLOWED_CALLBACK: u8 = 0x09;
    /// ACCESS_DENIED_CALLBACK_ACE_TYPE (§2.4.4.7).
    pub const ACCESS_DENIED_CALLBACK: u8 = 0x0A;
    /// ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE (§2.4.4.8).
    pub const ACCESS_ALLOWED_CALLBACK_OBJECT: u8 = 0x0B;
    /// ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE (§2.4.4.9).
    pub const ACCESS_DENIED_CALLBACK_OBJECT: u8 = 0x0C;
    /// SYSTEM_AUDIT_CALLBACK_ACE_TYPE (§2.4.4.12).
    pub const SYSTEM_AUDIT_CALLBACK: u8 = 0x0D;
    /// SYSTEM_ALARM_CALLBACK_ACE_TYPE ("Reserved for future use").
    pub const SYSTEM_ALARM_CALLBACK: u8 = 0x0E;
    /// SYSTEM_AUDIT_CALLBACK_OBJECT_ACE_TYPE (§2.4.4.14).
    pub const SYSTEM_AUDIT_CALLBACK_OBJECT: u8 = 0x0F;
    /// SYSTEM_ALARM_CALLBACK_OBJECT_ACE_TYPE ("Reserved for future use").
    pub const SYSTEM_ALARM_CALLBACK_OBJECT: u8 = 0x10;
    /// SYSTEM_MANDATORY_LABEL_ACE_TYPE (§2.4.4.13).
    pub const SYSTEM_MANDATORY_LABEL: u8 = 0x11;
    /// SYSTEM_RESOURCE_ATTRIBUTE_ACE_TYPE (§2.4.4.15).
    pub const SYSTEM_RESOURCE_ATTRIBUTE: u8 = 0x12;
    /// SYSTEM_SCOPED_POLICY_ID_ACE_TYPE (§2.4.4.16).
    pub const SYSTEM_SCOPED_POLICY_ID: u8 = 0x13;
}

/// ACE flags: the AceFlags field of ACE_HEADER (MS-DTYP §2.4.4.1).
pub mod ace_flags {
    /// OBJECT_INHERIT_ACE: non-container children inherit the ACE.
    pub const OBJECT_INHERIT: u8 = 0x01;
    /// CONTAINER_INHERIT_ACE: container children inherit the ACE.
    pub const CONTAINER_INHERIT: u8 = 0x02;
    /// NO_PROPAGATE_INHERIT_ACE: inheriting children do not pass it on.
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    /// INHERIT_ONLY_ACE: the ACE only serves inheritance and does not
    /// control access to the object itself.
    pub const INHERIT_ONLY: u8 = 0x08;
    /// INHERITED_ACE: the ACE was inherited.
    pub const INHERITED: u8 = 0x10;
    /// CRITICAL_ACE_FLAG (later MS-DTYP revisions; access-allowed callback
    /// ACEs only).
    pub const CRITICAL: u8 = 0x20;
    /// SUCCESSFUL_ACCESS_ACE_FLAG: audit successful access (SACL).
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    /// FAILED_ACCESS_ACE_FLAG: audit failed access (SACL).
    pub const FAILED_ACCESS: u8 = 0x80;
}

/// Flags of the object ACEs (MS-DTYP §2.4.4.3 ACCESS_ALLOWED_OBJECT_ACE,
/// Flags field): which GUIDs follow.
pub mod object_ace_flags {
    /// ACE_OBJECT_TYPE_PRESENT: ObjectType is present.
    pub const OBJECT_TYPE_PRESENT: u32 = 0x0000_0001;
    /// ACE_INHERITED_OBJECT_TYPE_PRESENT: InheritedObjectType is present.
    pub const INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x0000_0002;
}

/// ACL revisions: the AclRevision field (MS-DTYP §2.4.5), "MUST be 0x02 or
/// 0x04".
pub mod acl_revision {
    /// ACL_REVISION: ACEs of types 0x00–0x03 (and later the callback and
    /// label types).
    pub const ACL_REVISION: u8 = 0x02;
    /// ACL_REVISION_DS: adds the object ACE types.
    pub const ACL_REVISION_DS: u8 = 0x04;
}

/// Security descriptor control bits: the Control field of
/// SECURITY_DESCRIPTOR (MS-DTYP §2.4.6), with their usual SE_* names.
pub mod control {
    /// SE_OWNER_DEFAULTED (OD).
    pub const SE_OWNER_DEFAULTED: u16 = 0x0001;
    /// SE_GROUP_DEFAULTED (GD).
    pub const SE_GROUP_DEFAULTED: u16 = 0x0002;
    /// SE_DACL_PRESENT (DP): the descriptor carries a DACL; with OffsetDacl
    /// 0 that is a NULL DACL, which grants everyone full access.
    pub const SE_DACL_PRESENT: u16 = 0x0004;
    /// SE_DACL_DEFAULTED (DD).
    pub const SE_DACL_DEFAULTED: u16 = 0x0008;
    /// SE_SACL_PRESENT (SP).
    pub const SE_SACL_PRESENT: u16 = 0x0010;
    /// SE_SACL_DEFAULTED (SD).
    pub const SE_SACL_DEFAULTED: u16 = 0x0020;
    /// SE_DACL_TRUSTED (DT).
    pub const SE_DACL_TRUSTED: u16 = 0x0040;
    /// SE_SERVER_SECURITY (SS).
    pub const SE_SERVER_SECURITY: u16 = 0x0080;
    /// SE_DACL_AUTO_INHERIT_REQ (DC).
    pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    /// SE_SACL_AUTO_INHERIT_REQ (SC).
    pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    /// SE_DACL_AUTO_INHERITED (DI).
    pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
    /// SE_SACL_AUTO_INHERITED (SI).
    pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
    /// SE_DACL_PROTECTED (PD): inheritable ACEs of the parent do not apply.
    pub const SE_DACL_PROTECTED: u16 = 0x1000;
    /// SE_SACL_PROTECTED (PS).
    pub const SE_SACL_PROTECTED: u16 = 0x2000;
    /// SE_RM_CONTROL_VALID (RM): Sbz1 holds resource manager control bits.
    pub const SE_RM_CONTROL_VALID: u16 = 0x4000;
    /// SE_SELF_RELATIVE (SR): the descriptor is in self-relative form.
    pub const SE_SELF_RELATIVE: u16 = 0x8000;
}

/// SECURITY_INFORMATION bits (MS-DTYP §2.4.7): which parts of a descriptor
/// a QUERY_INFO / SET_INFO addresses (the AdditionalInformation field of
/// MS-SMB2 §2.2.37 / §2.2.39).
pub mod security_information {
    /// OWNER_SECURITY_INFORMATION.
    pub const OWNER: u32 = 0x0000_0001;
    /// GROUP_SECURITY_INFORMATION.
    pub const GROUP: u32 = 0x0000_0002;
    /// DACL_SECURITY_INFORMATION.
    pub const DACL: u32 = 0x0000_0004;
    /// SACL_SECURITY_INFORMATION.
    pub const SACL: u32 = 0x0000_0008;
    /// LABEL_SECURITY_INFORMATION.
    pub const LABEL: u32 = 0x0000_0010;
    /// ATTRIBUTE_SECURITY_INFORMATION.
    pub const ATTRIBUTE: u32 = 0x0000_0020;
    /// SCOPE_SECURITY_INFORMATION.
    pub const SCOPE: u32 = 0x0000_0040;
    /// PROCESS_TRUST_LABEL_SECURITY_INFORMATION.
    pub const PROCESS_TRUST_LABEL: u32 = 0x0000_0080;
    /// BACKUP_SECURITY_INFORMATION.
    pub const BACKUP: u32 = 0x0001_0000;
}

/// Access mask bits (MS-DTYP §2.4.3 ACCESS_MASK) with the file-specific
/// rights of MS-SMB2 §2.2.13.1.1 and the usual file combinations.
pub mod access_mask {
    /// FILE_READ_DATA (directory: FILE_LIST_DIRECTORY).
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// FILE_WRITE_DATA (directory: FILE_ADD_FILE).
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// FILE_APPEND_DATA (directory: FILE_ADD_SUBDIRECTORY).
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// FILE_READ_EA.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// FILE_WRITE_EA.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// FILE_EXECUTE (directory: FILE_TRAVERSE).
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// FILE_DELETE_CHILD.
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    /// FILE_READ_ATTRIBUTES.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// FILE_WRITE_ATTRIBUTES.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// DELETE.
    pub const DELETE: u32 = 0x0001_0000;
    /// READ_CONTROL.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// WRITE_DAC.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// WRITE_OWNER.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// SYNCHRONIZE.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// ACCESS_SYSTEM_SECURITY.
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    /// MAXIMUM_ALLOWED.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// GENERIC_ALL.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// GENERIC_EXECUTE.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// GENERIC_WRITE.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// GENERIC_READ.
    pub const GENERIC_READ: u32 = 0x8000_0000;
    /// FILE_ALL_ACCESS (0x001F01FF): every standard and file right ("FULL").
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
    /// Modify (0x001301BF): read, write, execute and delete ("MODIFY").
    pub const FILE_MODIFY: u32 = 0x0013_01BF;
    /// FILE_GENERIC_READ | FILE_GENERIC_EXECUTE (0x001200A9,
    /// "READ_EXECUTE").
    pub const FILE_READ_EXECUTE: u32 = 0x0012_00A9;
    /// FILE_GENERIC_READ (0x00120089).
    pub const FILE_GENERIC_READ: u32 = 0x0012_0089;
    /// FILE_GENERIC_WRITE (0x00120116).
    pub const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
    /// FILE_GENERIC_EXECUTE (0x001200A0).
    pub const FILE_GENERIC_EXECUTE: u32 = 0x0012_00A0;
}

/// A short name for common access masks (exact matches only): `FULL`,
/// `MODIFY`, `READ_EXECUTE`, `READ`, `WRITE`, `EXECUTE` for the file
/// combinations of [`access_mask`], and `GENERIC_ALL` / `GENERIC_READ` /
/// `GENERIC_WRITE` / `GENERIC_EXECUTE`.
pub fn access_mask_name(mask: u32) -> Option<&'static str> {
    use access_mask::*;
    Some(match mask {
        FILE_ALL_ACCESS => "FULL",
        FILE_MODIFY => "MODIFY",
        FILE_READ_EXECUTE => "READ_EXECUTE",
        FILE_GENERIC_READ => "READ",
        FILE_GENERIC_WRITE => "WRITE",
        FILE_GENERIC_EXECUTE => "EXECUTE",
        GENERIC_ALL => "GENERIC_ALL",
        GENERIC_READ => "GENERIC_READ",
        GENERIC_WRITE => "GENERIC_WRITE",
        GENERIC_EXECUTE => "GENERIC_EXECUTE",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// SID
// ---------------------------------------------------------------------------

/// A security identifier (MS-DTYP §2.4.2), with its packet representation
/// (§2.4.2.2): Revision (1), SubAuthorityCount (1), IdentifierAuthority (6,
/// big-endian), SubAuthority (4 each, little-endian).
///
/// [`fmt::Display`] and [`FromStr`] use the string form of §2.4.2.1
/// (`S-1-5-21-…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    /// Revision: "This value MUST be set to 0x01"; other values are kept as
    /// sent.
    pub revision: u8,
    /// IdentifierAuthority: a 48-bit big-endian value (5 = NT Authority).
    pub identifier_authority: [u8; 6],
    /// SubAuthority values (at most [`Sid::MAX_SUB_AUTHORITIES`]); the last
    /// is usually the RID.
    pub sub_authorities: Vec<u32>,
}

impl Sid {
    /// "The maximum number of elements allowed is 15."
    pub const MAX_SUB_AUTHORITIES: usize = 15;

    /// A revision-1 SID; `None` if `authority` does not fit 48 bits or
    /// there are more than 15 sub-authorities.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Option<Sid> {
        if authority >> 48 != 0 || sub_authorities.len() > Self::MAX_SUB_AUTHORITIES {
            return None;
        }
        let b = authority.to_be_bytes();
        Some(Sid {
            revision: 1,
            identifier_authority: [b[2], b[3], b[4], b[5], b[6], b[7]],
            sub_authorities: sub_authorities.to_vec(),
        })
    }

    /// The identifier authority as a number.
    pub fn authority(&self) -> u64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.identifier_authority);
        u64::from_be_bytes(b)
    }

    /// The last sub-authority (the relative identifier), if any.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// Size of the packet representation: 8 + 4 × sub-authorities.
    pub fn encoded_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// Reads a SID at the cursor. SubAuthorityCount above 15 is an error.
    pub fn read(r: &mut Reader<'_>) -> Result<Sid, DecodeError> {
        let revision = r.u8("SID Revision")?;
        let count = usize::from(r.u8("SubAuthorityCount")?);
        if count > Self::MAX_SUB_AUTHORITIES {
            return Err(DecodeError::invalid(
                "SubAuthorityCount",
                format!("{count} exceeds the maximum of 15"),
            ));
        }
        let identifier_authority = r.array::<6>("IdentifierAuthority")?;
        let mut sub_authorities = Vec::with_capacity(count);
        for _ in 0..count {
            sub_authorities.push(r.u32("SubAuthority")?);
        }
        Ok(Sid {
            revision,
            identifier_authority,
            sub_authorities,
        })
    }

    /// Decodes a SID at the start of `buf`; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Sid, DecodeError> {
        Sid::read(&mut Reader::new(buf))
    }

    /// Appends the packet representation.
    ///
    /// # Errors
    ///
    /// If there are more than 15 sub-authorities (the decoder would refuse
    /// the result).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let count = self.sub_authorities.len();
        if count > Self::MAX_SUB_AUTHORITIES {
            return Err(EncodeError::too_many(
                "SID SubAuthorityCount",
                "sub-authorities",
                count,
                Self::MAX_SUB_AUTHORITIES,
            ));
        }
        w.u8(self.revision)
            .u8(wire_u8(count, "SID SubAuthorityCount")?)
            .bytes(&self.identifier_authority);
        for s in &self.sub_authorities {
            w.u32(*s);
        }
        Ok(())
    }

    /// The packet representation.
    ///
    /// # Errors
    ///
    /// As [`Sid::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_vec())
    }

    /// The name of a well-known SID (MS-DTYP §2.4.2.4), e.g. `Everyone` for
    /// S-1-1-0 or `BUILTIN\Administrators` for S-1-5-32-544; domain RIDs
    /// are named relative to the domain (`Domain Admins` for S-1-5-21-…-512).
    pub fn well_known_name(&self) -> Option<&'static str> {
        if self.revision != 1 {
            return None;
        }
        let subs = self.sub_authorities.as_slice();
        Some(match (self.authority(), subs) {
            (0, [0]) => "NULL",
            (1, [0]) => "Everyone",
            (2, [0]) => "LOCAL",
            (2, [1]) => "CONSOLE LOGON",
            (3, [0]) => "CREATOR OWNER",
            (3, [1]) => "CREATOR GROUP",
            (3, [2]) => "CREATOR OWNER SERVER",
            (3, [3]) => "CREATOR GROUP SERVER",
            (3, [4]) => "OWNER RIGHTS",
            (5, [1]) => "DIALUP",
            (5, [2]) => "NETWORK",
            (5, [3]) => "BATCH",
            (5, [4]) => "INTERACTIVE",
            (5, [6]) => "SERVICE",
            (5, [7]) => "ANONYMOUS LOGON",
            (5, [9]) => "ENTERPRISE DOMAIN CONTROLLERS",
            (5, [10]) => "SELF",
            (5, [11]) => "Authenticated Users",
            (5, [12]) => "RESTRICTED",
            (5, [13]) => "TERMINAL SERVER USER",
            (5, [14]) => "REMOTE INTERACTIVE LOGON",
            (5, [15]) => "This Organization",
            (5, [17]) => "IUSR",
            (5, [18]) => "SYSTEM",
            (5, [19]) => "LOCAL SERVICE",
            (5, [20]) => "NETWORK SERVICE",
            (5, [32, 544]) => "BUILTIN\\Administrators",
            (5, [32, 545]) => "BUILTIN\\Users",
            (5, [32, 546]) => "BUILTIN\\Guests",
            (5, [32, 547]) => "BUILTIN\\Power Users",
            (5, [32, 548]) => "BUILTIN\\Account Operators",
            (5, [32, 549]) => "BUILTIN\\Server Operators",
            (5, [32, 550]) => "BUILTIN\\Print Operators",
            (5, [32, 551]) => "BUILTIN\\Backup Operators",
            (5, [32, 552]) => "BUILTIN\\Replicator",
            (5, [32, 555]) => "BUILTIN\\Remote Desktop Users",
            (5, [32, 568]) => "BUILTIN\\IIS_IUSRS",
            (5, [21, _, _, _, rid]) => match rid {
                500 => "Administrator",
                501 => "Guest",
                502 => "krbtgt",
                512 => "Domain Admins",
                513 => "Domain Users",
                514 => "Domain Guests",
                515 => "Domain Computers",
                516 => "Domain Controllers",
                519 => "Enterprise Admins",
                520 => "Group Policy Creator Owners",
                _ => return None,
            },
            (16, [0x1000]) => "Low Mandatory Level",
            (16, [0x2000]) => "Medium Mandatory Level",
            (16, [0x3000]) => "High Mandatory Level",
            (16, [0x4000]) => "System Mandatory Level",
            _ => return None,
        })
    }
}

impl fmt::Display for Sid {
    /// The SID string form of MS-DTYP §2.4.2.1: `S-`, the revision, the
    /// identifier authority in decimal when below 2^32 and otherwise as
    /// `0x` followed by 12 hex digits, then each sub-authority in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = self.authority();
        if auth >> 32 == 0 {
            write!(f, "S-{}-{}", self.revision, auth)?;
        } else {
            write!(f, "S-{}-0x{:012x}", self.revision, auth)?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

/// Why a SID string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid SID string: {0}")]
pub struct ParseSidError(String);

impl FromStr for Sid {
    type Err = ParseSidError;

    /// Parses the SID string form (MS-DTYP §2.4.2.1). Accepted leniently:
    /// a lower-case `s`, an identifier authority in decimal (below 2^48) or
    /// as `0x`/`0X` with 1–12 hex digits (so both `0x000100000003` and
    /// `0x100000003` parse), and zero sub-authorities (`S-1-5`). Components
    /// are plain ASCII digits (no sign, no spaces); at most 15
    /// sub-authorities, each below 2^32.
    fn from_str(s: &str) -> Result<Sid, ParseSidError> {
        let err = |m: &str| ParseSidError(format!("{m} in {s:?}"));
        let mut parts = s.split('-');
        match parts.next() {
            Some("S") | Some("s") => {}
            _ => return Err(err("missing \"S-\" prefix")),
        }
        let revision = parts
            .next()
            .and_then(|p| parse_decimal(p, u64::from(u8::MAX)))
            .ok_or_else(|| err("bad revision"))? as u8;
        let auth_str = parts
            .next()
            .ok_or_else(|| err("missing identifier authority"))?;
        let authority = if let Some(hex) = auth_str
            .strip_prefix("0x")
            .or_else(|| auth_str.strip_prefix("0X"))
        {
            if hex.is_empty() || hex.len() > 12 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err("bad hexadecimal identifier authority"));
            }
            u64::from_str_radix(hex, 16).map_err(|_| err("bad identifier authority"))?
        } else {
            parse_decimal(auth_str, (1u64 << 48) - 1)
                .ok_or_else(|| err("bad identifier authority"))?
        };
        let mut subs = Vec::new();
        for p in parts {
            if subs.len() == Sid::MAX_SUB_AUTHORITIES {
                return Err(err("more than 15 sub-authorities"));
            }
            let v =
                parse_decimal(p, u64::from(u32::MAX)).ok_or_else(|| err("bad sub-authority"))?;
            subs.push(v as u32);
        }
        let mut sid = Sid::new(authority, &subs).ok_or_else(|| err("out of range"))?;
        sid.revision = revision;
        Ok(sid)
    }
}

/// Parses 1–20 ASCII digits into a value no greater than `max`.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|v| *v <= max)
}

// ---------------------------------------------------------------------------
// ACE
// ---------------------------------------------------------------------------

/// The object-specific part of an object ACE (MS-DTYP §2.4.4.3
/// ACCESS_ALLOWED_OBJECT_ACE and the other object types): Flags, then
/// ObjectType and InheritedObjectType GUIDs when the flags say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObjectAceData {
    /// Flags as sent (see [`object_ace_flags`]). When encoding, the two
    /// presence bits are recomputed from the GUID fields; other bits are
    /// written as stored.
    pub flags: u32,
    /// ObjectType: a GUID (16 bytes as on the wire).
    pub object_type: Option<[u8; 16]>,
    /// InheritedObjectType: a GUID (16 bytes as on the wire).
    pub inherited_object_type: Option<[u8; 16]>,
}

/// An access control entry (MS-DTYP §2.4.4): ACE_HEADER (AceType (1),
/// AceFlags (1), AceSize (2)) and a type-specific body.
///
/// Decoding by type:
///
/// * Mask-and-SID types: ACCESS_ALLOWED, ACCESS_DENIED, SYSTEM_AUDIT,
///   SYSTEM_ALARM (0x00–0x03), the non-object callback types (0x09, 0x0A,
///   0x0D, 0x0E), SYSTEM_MANDATORY_LABEL, SYSTEM_RESOURCE_ATTRIBUTE and
///   SYSTEM_SCOPED_POLICY_ID (0x11–0x13): Mask (4), Sid. `object` is
///   `None`.
/// * Object types (0x05–0x08, 0x0B, 0x0C, 0x0F, 0x10): Mask (4), Flags (4),
///   ObjectType (16, if flagged), InheritedObjectType (16, if flagged),
///   Sid. `object` is `Some`.
/// * Any other type (0x04 and unknown values): nothing is interpreted;
///   `access_mask` is 0, `sid` and `object` are `None` and `raw` holds the
///   whole body after the header.
///
/// For the interpreted types, `raw` holds the bytes after the SID that
/// AceSize still covers (callback ApplicationData, resource attribute data,
/// or padding) — usually empty. AceSize must cover the header and every
/// interpreted field; values that are not a multiple of 4 are accepted
/// (and reproduced by the encoder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// AceType (see [`ace_type`]).
    pub ace_type: u8,
    /// AceFlags (see [`ace_flags`]).
    pub ace_flags: u8,
    /// Mask: the access rights (see [`access_mask`]).
    pub access_mask: u32,
    /// The object part of object ACEs.
    pub object: Option<ObjectAceData>,
    /// Sid: the trustee.
    pub sid: Option<Sid>,
    /// Uninterpreted bytes (see above).
    pub raw: Vec<u8>,
}

/// Body layout of an ACE type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AceLayout {
    MaskSid,
    Object,
    Opaque,
}

fn ace_layout(t: u8) -> AceLayout {
    use ace_type::*;
    match t {
        ACCESS_ALLOWED
        | ACCESS_DENIED
        | SYSTEM_AUDIT
        | SYSTEM_ALARM
        | ACCESS_ALLOWED_CALLBACK
        | ACCESS_DENIED_CALLBACK
        | SYSTEM_AUDIT_CALLBACK
        | SYSTEM_ALARM_CALLBACK
        | SYSTEM_MANDATORY_LABEL
        | SYSTEM_RESOURCE_ATTRIBUTE
        | SYSTEM_SCOPED_POLICY_ID => AceLayout::MaskSid,
        ACCESS_ALLOWED_OBJECT
        | ACCESS_DENIED_OBJECT
        | SYSTEM_AUDIT_OBJECT
        | SYSTEM_ALARM_OBJECT
        | ACCESS_ALLOWED_CALLBACK_OBJECT
        | ACCESS_DENIED_CALLBACK_OBJECT
        | SYSTEM_AUDIT_CALLBACK_OBJECT
        | SYSTEM_ALARM_CALLBACK_OBJECT => AceLayout::Object,
        _ => AceLayout::Opaque,
    }
}

impl Ace {
    /// Size of ACE_HEADER.
    pub const HEADER_LEN: usize = 4;

    /// A mask-and-SID ACE (e.g. [`ace_type::ACCESS_ALLOWED`]) with no
    /// trailing data.
    pub fn new(ace_type: u8, ace_flags: u8, access_mask: u32, sid: Sid) -> Ace {
        Ace {
            ace_type,
            ace_flags,
            access_mask,
            object: None,
            sid: Some(sid),
            raw: Vec::new(),
        }
    }

    /// Reads one ACE at the cursor; exactly AceSize bytes are consumed.
    pub fn read(r: &mut Reader<'_>) -> Result<Ace, DecodeError> {
        let ace_type = r.u8("AceType")?;
        let ace_flags = r.u8("AceFlags")?;
        let size = usize::from(r.u16("AceSize")?);
        if size < Self::HEADER_LEN {
            return Err(DecodeError::invalid(
                "AceSize",
                format!("{size} is smaller than the 4-byte ACE header"),
            ));
        }
        let body = r.take(size - Self::HEADER_LEN, "ACE body")?;
        let mut b = Reader::new(body);
        let mut ace = Ace {
            ace_type,
            ace_flags,
            access_mask: 0,
            object: None,
            sid: None,
            raw: Vec::new(),
        };
        match ace_layout(ace_type) {
            AceLayout::Opaque => {
                ace.raw = body.to_vec();
                return Ok(ace);
            }
            AceLayout::MaskSid => {
                ace.access_mask = b.u32("Mask")?;
            }
            AceLayout::Object => {
                ace.access_mask = b.u32("Mask")?;
                let flags = b.u32("object ACE Flags")?;
                let object_type = if flags & object_ace_flags::OBJECT_TYPE_PRESENT != 0 {
                    Some(b.array::<16>("ObjectType")?)
                } else {
                    None
                };
                let inherited_object_type =
                    if flags & object_ace_flags::INHERITED_OBJECT_TYPE_PRESENT != 0 {
                        Some(b.array::<16>("InheritedObjectType")?)
                    } else {
                        None
                    };
                ace.object = Some(ObjectAceData {
                    flags,
                    object_type,
                    inherited_object_type,
                });
            }
        }
        ace.sid = Some(Sid::read(&mut b)?);
        ace.raw = b.rest().to_vec();
        Ok(ace)
    }

    /// Decodes one ACE at the start of `buf`; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Ace, DecodeError> {
        Ace::read(&mut Reader::new(buf))
    }

    /// Appends the ACE: the header (AceSize computed), then — if `sid` is
    /// `Some` — Mask, the object part (if `object` is `Some`) and the SID,
    /// then `raw`. A decoded ACE encodes back to its original bytes.
    ///
    /// # Errors
    ///
    /// If the ACE exceeds 65535 bytes or the SID has more than 15
    /// sub-authorities.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let start = w.len();
        w.u8(self.ace_type).u8(self.ace_flags).u16(0);
        if let Some(sid) = &self.sid {
            w.u32(self.access_mask);
            if let Some(o) = &self.object {
                let mut flags = o.flags
                    & !(object_ace_flags::OBJECT_TYPE_PRESENT
                        | object_ace_flags::INHERITED_OBJECT_TYPE_PRESENT);
                if o.object_type.is_some() {
                    flags |= object_ace_flags::OBJECT_TYPE_PRESENT;
                }
                if o.inherited_object_type.is_some() {
                    flags |= object_ace_flags::INHERITED_OBJECT_TYPE_PRESENT;
                }
                w.u32(flags);
                if let Some(g) = &o.object_type {
                    w.bytes(g);
                }
                if let Some(g) = &o.inherited_object_type {
                    w.bytes(g);
                }
            }
            sid.encode(w)?;
        }
        w.bytes(&self.raw);
        let size = wire_u16(w.len() - start, "ACE AceSize")?;
        w.patch_u16(start + 2, size);
        Ok(())
    }

    /// The encoded ACE.
    ///
    /// # Errors
    ///
    /// As [`Ace::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_vec())
    }
}

/// The display name of an ACE type (`ALLOWED`, `DENIED`, `AUDIT`, …).
pub fn ace_type_name(t: u8) -> Option<&'static str> {
    use ace_type::*;
    Some(match t {
        ACCESS_ALLOWED => "ALLOWED",
        ACCESS_DENIED => "DENIED",
        SYSTEM_AUDIT => "AUDIT",
        SYSTEM_ALARM => "ALARM",
        ACCESS_ALLOWED_COMPOUND => "ALLOWED_COMPOUND",
        ACCESS_ALLOWED_OBJECT => "ALLOWED_OBJECT",
        ACCESS_DENIED_OBJECT => "DENIED_OBJECT",
        SYSTEM_AUDIT_OBJECT => "AUDIT_OBJECT",
        SYSTEM_ALARM_OBJECT => "ALARM_OBJECT",
        ACCESS_ALLOWED_CALLBACK => "ALLOWED_CALLBACK",
        ACCESS_DENIED_CALLBACK => "DENIED_CALLBACK",
        ACCESS_ALLOWED_CALLBACK_OBJECT => "ALLOWED_CALLBACK_OBJECT",
        ACCESS_DENIED_CALLBACK_OBJECT => "DENIED_CALLBACK_OBJECT",
        SYSTEM_AUDIT_CALLBACK => "AUDIT_CALLBACK",
        SYSTEM_ALARM_CALLBACK => "ALARM_CALLBACK",
        SYSTEM_AUDIT_CALLBACK_OBJECT => "AUDIT_CALLBACK_OBJECT",
        SYSTEM_ALARM_CALLBACK_OBJECT => "ALARM_CALLBACK_OBJECT",
        SYSTEM_MANDATORY_LABEL => "MANDATORY_LABEL",
        SYSTEM_RESOURCE_ATTRIBUTE => "RESOURCE_ATTRIBUTE",
        SYSTEM_SCOPED_POLICY_ID => "SCOPED_POLICY_ID",
        _ => return None,
    })
}

/// Formats a GUID given as its 16 wire bytes (MS-DTYP §2.3.4.2: Data1,
/// Data2, Data3 little-endian, Data4 as bytes) in the usual
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form.
pub fn format_guid(g: &[u8; 16]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

fn fmt_ace_flags(flags: u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const NAMES: [(u8, &str); 8] = [
        (ace_flags::OBJECT_INHERIT, "OI"),
        (ace_flags::CONTAINER_INHERIT, "CI"),
        (ace_flags::NO_PROPAGATE_INHERIT, "NP"),
        (ace_flags::INHERIT_ONLY, "IO"),
        (ace_flags::INHERITED, "ID"),
        (ace_flags::CRITICAL, "CR"),
        (ace_flags::SUCCESSFUL_ACCESS, "SA"),
        (ace_flags::FAILED_ACCESS, "FA"),
    ];
    let mut first = true;
    f.write_str(" [")?;
    for (bit, name) in NAMES {
        if flags & bit != 0 {
            if !first {
                f.write_str("|")?;
            }
            f.write_str(name)?;
            first = false;
        }
    }
    f.write_str("]")
}

impl fmt::Display for Ace {
    /// A one-line rendering: the type name ([`ace_type_name`], or
    /// `TYPE(0x..)`), the SID, the access mask by name
    /// ([`access_mask_name`]) or as `0x%08x`, then the flags in brackets
    /// (`OI|CI|NP|IO|ID|CR|SA|FA`, omitted when 0), object GUIDs and the
    /// size of any trailing data. E.g. `ALLOWED S-1-5-32-544 FULL` or
    /// `DENIED S-1-1-0 0x00000002 [OI|CI]`. Uninterpreted ACEs render as
    /// `ALLOWED_COMPOUND raw=12 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ace_type_name(self.ace_type) {
            Some(n) => f.write_str(n)?,
            None => write!(f, "TYPE(0x{:02x})", self.ace_type)?,
        }
        match &self.sid {
            Some(sid) => {
                write!(f, " {sid} ")?;
                match access_mask_name(self.access_mask) {
                    Some(n) => f.write_str(n)?,
                    None => write!(f, "0x{:08x}", self.access_mask)?,
                }
            }
            None => write!(f, " raw={} bytes", self.raw.len())?,
        }
        if self.ace_flags != 0 {
            fmt_ace_flags(self.ace_flags, f)?;
        }
        if let Some(o) = &self.object {
            if let Some(g) = &o.object_type {
                write!(f, " object={}", format_guid(g))?;
            }
            if let Some(g) = &o.inherited_object_type {
                write!(f, " inherited_object={}", format_guid(g))?;
            }
        }
        if self.sid.is_some() && !self.raw.is_empty() {
            write!(f, " +{} bytes", self.raw.len())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// ACL
// ---------------------------------------------------------------------------

/// An access control list (MS-DTYP §2.4.5): AclRevision (1), Sbz1 (1),
/// AclSize (2), AceCount (2), Sbz2 (2), then AceCount ACEs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// AclRevision (see [`acl_revision`]); kept as sent.
    pub revision: u8,
    /// The ACEs, in order (order matters for evaluation).
    pub aces: Vec<Ace>,
}

impl Acl {
    /// Size of the ACL header.
    pub const HEADER_LEN: usize = 8;

    /// Reads an ACL at the cursor, consuming AclSize bytes.
    ///
    /// AclSize must cover the 8-byte header and lie in the buffer; every
    /// ACE must lie within AclSize; AceCount must be achievable (an ACE
    /// takes at least 4 bytes), so a huge count in a small ACL is refused
    /// before any parsing. Bytes within AclSize after the last ACE are
    /// ignored (the encoder does not reproduce them).
    pub fn read(r: &mut Reader<'_>) -> Result<Acl, DecodeError> {
        let revision = r.u8("AclRevision")?;
        r.skip(1, "Sbz1")?;
        let size = usize::from(r.u16("AclSize")?);
        let count = usize::from(r.u16("AceCount")?);
        r.skip(2, "Sbz2")?;
        if size < Self::HEADER_LEN {
            return Err(DecodeError::invalid(
                "AclSize",
                format!("{size} is smaller than the 8-byte ACL header"),
            ));
        }
        let body = r.take(size - Self::HEADER_LEN, "ACL body")?;
        if count > body.len() / Ace::HEADER_LEN {
            return Err(DecodeError::invalid(
                "AceCount",
                format!("{count} ACEs cannot fit in an AclSize of {size}"),
            ));
        }
        let mut b = Reader::new(body);
        let mut aces = Vec::with_capacity(count);
        for _ in 0..count {
            aces.push(Ace::read(&mut b)?);
        }
        Ok(Acl { revision, aces })
    }

    /// Decodes an ACL at the start of `buf`; bytes after AclSize are
    /// ignored.
    pub fn decode(buf: &[u8]) -> Result<Acl, DecodeError> {
        Acl::read(&mut Reader::new(buf))
    }

    /// Appends the ACL with AclSize and AceCount computed (Sbz1, Sbz2 = 0).
    ///
    /// # Errors
    ///
    /// If the ACL exceeds 65535 bytes or 65535 ACEs, or an ACE cannot be
    /// encoded ([`Ace::encode`]).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let start = w.len();
        let count = count_u16(self.aces.len(), "ACL AceCount", "ACEs")?;
        w.u8(self.revision).u8(0).u16(0).u16(count).u16(0);
        for ace in &self.aces {
            ace.encode(w)?;
        }
        let size = wire_u16(w.len() - start, "ACL AclSize")?;
        w.patch_u16(start + 2, size);
        Ok(())
    }

    /// The encoded ACL.
    ///
    /// # Errors
    ///
    /// As [`Acl::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_vec())
    }
}

impl fmt::Display for Acl {
    /// `revision N` then one ACE per line (see [`Ace`]'s `Display`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {}", self.revision)?;
        for ace in &self.aces {
            write!(f, "\n{ace}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Security descriptor
// ---------------------------------------------------------------------------

/// A security descriptor (MS-DTYP §2.4.6 SECURITY_DESCRIPTOR) in
/// self-relative form: Revision (1), Sbz1 (1), Control (2), OffsetOwner,
/// OffsetGroup, OffsetSacl, OffsetDacl (4 each, from the start of the
/// descriptor; 0 = absent), then the parts they point at.
///
/// A `dacl` of `None` with [`control::SE_DACL_PRESENT`] set is a NULL DACL
/// (everyone has full access); with the bit clear there is no DACL
/// information at all. Sbz1 (resource manager control bits when
/// SE_RM_CONTROL_VALID is set) is not kept: it is ignored on decoding and
/// written as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// Revision: "MUST be set to 0x01"; kept as sent.
    pub revision: u8,
    /// Control (see [`control`]).
    pub control: u16,
    /// The owner SID.
    pub owner: Option<Sid>,
    /// The primary group SID.
    pub group: Option<Sid>,
    /// The system ACL (auditing).
    pub sacl: Option<Acl>,
    /// The discretionary ACL (access).
    pub dacl: Option<Acl>,
}

impl SecurityDescriptor {
    /// Size of the fixed header.
    pub const HEADER_LEN: usize = 20;

    /// Decodes a self-relative descriptor.
    ///
    /// Each non-zero offset must point past the 20-byte header and inside
    /// `buf`, and the SID or ACL there must lie entirely within `buf`. A
    /// part is parsed whenever its offset is non-zero, whatever the
    /// SE_*_PRESENT bits say. Revision, Control and the layout order are not
    /// constrained (regions may even overlap; each is parsed on its own).
    pub fn decode(buf: &[u8]) -> Result<SecurityDescriptor, DecodeError> {
        let mut r = Reader::new(buf);
        let revision = r.u8("SD Revision")?;
        r.skip(1, "Sbz1")?;
        let control = r.u16("Control")?;
        let off_owner = r.u32("OffsetOwner")?;
        let off_group = r.u32("OffsetGroup")?;
        let off_sacl = r.u32("OffsetSacl")?;
        let off_dacl = r.u32("OffsetDacl")?;
        let owner = Self::part(buf, off_owner, "OffsetOwner")?
            .map(|mut r| Sid::read(&mut r))
            .transpose()?;
        let group = Self::part(buf, off_group, "OffsetGroup")?
            .map(|mut r| Sid::read(&mut r))
            .transpose()?;
        let sacl = Self::part(buf, off_sacl, "OffsetSacl")?
            .map(|mut r| Acl::read(&mut r))
            .transpose()?;
        let dacl = Self::part(buf, off_dacl, "OffsetDacl")?
            .map(|mut r| Acl::read(&mut r))
            .transpose()?;
        Ok(SecurityDescriptor {
            revision,
            control,
            owner,
            group,
            sacl,
            dacl,
        })
    }

    /// A reader at `offset` (None for 0), validated against the header and
    /// the buffer.
    fn part<'a>(
        buf: &'a [u8],
        offset: u32,
        what: &'static str,
    ) -> Result<Option<Reader<'a>>, DecodeError> {
        if offset == 0 {
            return Ok(None);
        }
        let off = offset as usize;
        if off < Self::HEADER_LEN {
            return Err(DecodeError::invalid(
                what,
                format!("{off} points into the 20-byte header"),
            ));
        }
        if off >= buf.len() {
            return Err(DecodeError::OutOfBounds {
                what,
                offset: off,
                length: 1,
                bound: buf.len(),
            });
        }
        Reader::at(buf, off, what).map(Some)
    }

    /// Appends the self-relative form: the header, then owner, group, SACL
    /// and DACL (those present) in that order, offsets relative to the
    /// start of the descriptor. Control is written with
    /// [`control::SE_SELF_RELATIVE`] set, and [`control::SE_SACL_PRESENT`] /
    /// [`control::SE_DACL_PRESENT`] set for an ACL that is present; no bit
    /// is cleared (so a NULL DACL survives). Sbz1 is written as 0.
    ///
    /// # Errors
    ///
    /// If a part cannot be encoded ([`Sid::encode`], [`Acl::encode`]).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let base = w.len();
        let mut ctl = self.control | control::SE_SELF_RELATIVE;
        if self.sacl.is_some() {
            ctl |= control::SE_SACL_PRESENT;
        }
        if self.dacl.is_some() {
            ctl |= control::SE_DACL_PRESENT;
        }
        w.u8(self.revision).u8(0).u16(ctl);
        w.zeros(16); // offsets, patched below
        let offset_of = |w: &Writer, what| wire_u32(w.len() - base, what);
        if let Some(sid) = &self.owner {
            let off = offset_of(w, "SECURITY_DESCRIPTOR OffsetOwner")?;
            w.patch_u32(base + 4, off);
            sid.encode(w)?;
        }
        if let Some(sid) = &self.group {
            let off = offset_of(w, "SECURITY_DESCRIPTOR OffsetGroup")?;
            w.patch_u32(base + 8, off);
            sid.encode(w)?;
        }
        if let Some(acl) = &self.sacl {
            let off = offset_of(w, "SECURITY_DESCRIPTOR OffsetSacl")?;
            w.patch_u32(base + 12, off);
            acl.encode(w)?;
        }
        if let Some(acl) = &self.dacl {
            let off = offset_of(w, "SECURITY_DESCRIPTOR OffsetDacl")?;
            w.patch_u32(base + 16, off);
            acl.encode(w)?;
        }
        Ok(())
    }

    /// The encoded self-relative descriptor.
    ///
    /// # Errors
    ///
    /// As [`SecurityDescriptor::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_vec())
    }

    /// Whether the DACL is a NULL DACL (present flag set, no ACL).
    pub fn has_null_dacl(&self) -> bool {
        self.dacl.is_none() && self.control & control::SE_DACL_PRESENT != 0
    }
}

impl fmt::Display for SecurityDescriptor {
    /// A multi-line rendering: `REVISION:`, `CONTROL:0x....`, `OWNER:`,
    /// `GROUP:` (`-` when absent), then `SACL:` / `DACL:` sections with one
    /// ACE per line (`NULL` for a NULL DACL).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "REVISION:{}", self.revision)?;
        writeln!(f, "CONTROL:0x{:04x}", self.control)?;
        match &self.owner {
            Some(s) => writeln!(f, "OWNER:{s}")?,
            None => writeln!(f, "OWNER:-")?,
        }
        match &self.group {
            Some(s) => write!(f, "GROUP:{s}")?,
            None => write!(f, "GROUP:-")?,
        }
        if let Some(acl) = &self.sacl {
            write!(f, "\nSACL:")?;
            for ace in &acl.aces {
                write!(f, "\n  {ace}")?;
            }
        }
        if let Some(acl) = &self.dacl {
            write!(f, "\nDACL:")?;
            for ace in &acl.aces {
                write!(f, "\n  {ace}")?;
            }
        } else if self.has_null_dacl() {
            write!(f, "\nDACL:NULL")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|c| c.is_ascii_hexdigit()).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn sid(s: &str) -> Sid {
        s.parse().unwrap()
    }

    // ---- SID -----------------------------------------------------------

    #[test]
    fn sid_packet_examples() {
        // BUILTIN\Administrators, S-1-5-32-544.
        let b = hex("01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00");
        let s = Sid::decode(&b).unwrap();
        assert_eq!(s.to_string(), "S-1-5-32-544");
        assert_eq!(s.well_known_name(), Some("BUILTIN\\Administrators"));
        assert_eq!(s.to_bytes().unwrap(), b);
        assert_eq!(s.encoded_len(), 16);
        // A domain account.
        let b = hex(
            "01 05 00 00 00 00 00 05 15 00 00 00 11 11 11 11 22 22 22 22 33 33 33 33 b1 04 00 00",
        );
        let s = Sid::decode(&b).unwrap();
        assert_eq!(s.to_string(), "S-1-5-21-286331153-572662306-858993459-1201");
        assert_eq!(s.rid(), Some(1201));
        assert_eq!(s.to_bytes().unwrap(), b);
        // Trailing bytes are ignored.
        let mut more = b.clone();
        more.extend_from_slice(b"garbage");
        assert_eq!(Sid::decode(&more).unwrap(), s);
        // Every truncation fails.
        for len in 0..b.len() {
            assert!(Sid::decode(&b[..len]).is_err());
        }
    }

    #[test]
    fn sid_limits() {
        let mut b = hex("01 10 00 00 00 00 00 05");
        b.extend_from_slice(&[0u8; 64]);
        assert!(Sid::decode(&b).is_err()); // 16 sub-authorities
        b[1] = 15;
        assert_eq!(Sid::decode(&b).unwrap().sub_authorities.len(), 15);
        assert!(Sid::new(1 << 48, &[]).is_none());
        assert!(Sid::new(5, &[0; 16]).is_none());
        let zero = Sid::new(5, &[]).unwrap();
        assert_eq!(zero.to_string(), "S-1-5");
        assert_eq!(Sid::decode(&zero.to_bytes().unwrap()).unwrap(), zero);
    }

    #[test]
    fn sid_string_forms() {
        assert_eq!(sid("S-1-1-0").well_known_name(), Some("Everyone"));
        assert_eq!(sid("S-1-5-18").well_known_name(), Some("SYSTEM"));
        assert_eq!(sid("s-1-5-18"), sid("S-1-5-18"));
        assert_eq!(
            sid("S-1-5-21-1-2-3-512").well_known_name(),
            Some("Domain Admins")
        );
        assert_eq!(sid("S-1-5-21-1-2-3-1000").well_known_name(), None);
        // Authority >= 2^32 prints as 0x + 12 hex digits.
        let big = Sid::new((1 << 32) + 3, &[3, 2, 1]).unwrap();
        assert_eq!(big.to_string(), "S-1-0x000100000003-3-2-1");
        assert_eq!(sid("S-1-0x000100000003-3-2-1"), big);
        assert_eq!(sid("S-1-0x100000003-3-2-1"), big);
        assert_eq!(sid("S-1-0X100000003-3-2-1"), big);
        let max = Sid::new((1 << 48) - 1, &[u32::MAX]).unwrap();
        assert_eq!(max.to_string(), "S-1-0xffffffffffff-4294967295");
        assert_eq!(sid(&max.to_string()), max);
        // Just below 2^32 stays decimal.
        let below = Sid::new(u64::from(u32::MAX), &[]).unwrap();
        assert_eq!(below.to_string(), "S-1-4294967295");
        assert_eq!(sid("S-1-4294967295"), below);
        for bad in [
            "",
            "S",
            "S-",
            "S-1",
            "S-1-",
            "X-1-5-18",
            "S-1-5-",
            "S-1-5--18",
            "S-1-5-+18",
            "S-1-5- 18",
            "S-1-5-4294967296",
            "S-1-0x",
            "S-1-0x1000000000000",
            "S-1-0xg",
            "S-1-281474976710656",
            "S-256-5",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(bad.parse::<Sid>().is_err(), "{bad:?}");
        }
        assert!("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15"
            .parse::<Sid>()
            .is_ok());
    }

    // ---- ACE -----------------------------------------------------------

    #[test]
    fn simple_aces() {
        // Allowed, inherited, FULL, domain SID.
        let b = hex("00 10 24 00 ff 01 1f 00 01 05 00 00 00 00 00 05 15 00 00 00
             11 11 11 11 22 22 22 22 33 33 33 33 6e 04 00 00");
        let a = Ace::decode(&b).unwrap();
        assert_eq!(a.ace_type, ace_type::ACCESS_ALLOWED);
        assert_eq!(a.ace_flags, ace_flags::INHERITED);
        assert_eq!(a.access_mask, access_mask::FILE_ALL_ACCESS);
        assert_eq!(
            a.sid.as_ref().unwrap().to_string(),
            "S-1-5-21-286331153-572662306-858993459-1134"
        );
        assert!(a.raw.is_empty() && a.object.is_none());
        assert_eq!(a.to_bytes().unwrap(), b);
        assert_eq!(
            a.to_string(),
            "ALLOWED S-1-5-21-286331153-572662306-858993459-1134 FULL [ID]"
        );
        // Denied, OI|CI, read-execute-ish mask not in the name table.
        let b = hex("01 03 18 00 a9 00 02 00 01 02 00 00 00 00 00 05 20 00 00 00 21 02 00 00");
        let a = Ace::decode(&b).unwrap();
        assert_eq!(a.to_string(), "DENIED S-1-5-32-545 0x000200a9 [OI|CI]");
        assert_eq!(a.to_bytes().unwrap(), b);
        // Audit with success/failure flags.
        let a = Ace::new(
            ace_type::SYSTEM_AUDIT,
            ace_flags::SUCCESSFUL_ACCESS | ace_flags::FAILED_ACCESS,
            access_mask::DELETE,
            sid("S-1-1-0"),
        );
        let b = a.to_bytes().unwrap();
        assert_eq!(b.len(), 4 + 4 + 12);
        assert_eq!(Ace::decode(&b).unwrap(), a);
        assert_eq!(a.to_string(), "AUDIT S-1-1-0 0x00010000 [SA|FA]");
        assert_eq!(
            Ace::new(0, 0, access_mask::FILE_ALL_ACCESS, sid("S-1-5-32-544")).to_string(),
            "ALLOWED S-1-5-32-544 FULL"
        );
    }

    #[test]
    fn object_aces() {
        let g1: [u8; 16] = core::array::from_fn(|i| i as u8);
        let g2: [u8; 16] = core::array::from_fn(|i| 0xf0 | i as u8);
        for (ot, iot) in [
            (None, None),
            (Some(g1), None),
            (None, Some(g2)),
            (Some(g1), Some(g2)),
        ] {
            for t in [
                ace_type::ACCESS_ALLOWED_OBJECT,
                ace_type::ACCESS_DENIED_OBJECT,
                ace_type::SYSTEM_AUDIT_OBJECT,
            ] {
                let a = Ace {
                    ace_type: t,
                    ace_flags: ace_flags::CONTAINER_INHERIT,
                    access_mask: 0x100,
                    object: Some(ObjectAceData {
                        flags: 0, // presence bits are derived
                        object_type: ot,
                        inherited_object_type: iot,
                    }),
                    sid: Some(sid("S-1-5-11")),
                    raw: Vec::new(),
                };
                let b = a.to_bytes().unwrap();
                let expected_len =
                    4 + 4 + 4 + 16 * (ot.is_some() as usize + iot.is_some() as usize) + 12;
                assert_eq!(b.len(), expected_len);
                let back = Ace::decode(&b).unwrap();
                assert_eq!(back.object.unwrap().object_type, ot);
                assert_eq!(back.object.unwrap().inherited_object_type, iot);
                assert_eq!(back.sid, a.sid);
                assert_eq!(back.to_bytes().unwrap(), b);
                for len in 0..b.len() {
                    assert!(Ace::decode(&b[..len]).is_err());
                }
            }
        }
        let a = Ace {
            ace_type: ace_type::ACCESS_ALLOWED_OBJECT,
            ace_flags: 0,
            access_mask: 0x100,
            object: Some(ObjectAceData {
                flags: 0,
                object_type: Some(
                    hex("86 7a 96 bf e6 0d d0 11 a2 85 00 aa 00 30 49 e2")
                        .try_into()
                        .unwrap(),
                ),
                inherited_object_type: None,
            }),
            sid: Some(sid("S-1-5-10")),
            raw: Vec::new(),
        };
        assert_eq!(
            a.to_string(),
            "ALLOWED_OBJECT S-1-5-10 0x00000100 object=bf967a86-0de6-11d0-a285-00aa003049e2"
        );
    }

    #[test]
    fn callback_and_unknown_aces() {
        // Callback ACE with application data after the SID.
        let mut a = Ace::new(
            ace_type::ACCESS_ALLOWED_CALLBACK,
            0,
            access_mask::FILE_GENERIC_READ,
            sid("S-1-5-32-545"),
        );
        a.raw = b"artx\x01\x02\x03\x04".to_vec();
        let b = a.to_bytes().unwrap();
        assert_eq!(Ace::decode(&b).unwrap(), a);
        assert_eq!(a.to_string(), "ALLOWED_CALLBACK S-1-5-32-545 READ +8 bytes");
        // Compound (0x04) and unknown types stay raw.
        for t in [ace_type::ACCESS_ALLOWED_COMPOUND, 0x14, 0xff] {
            let b = [&[t, 0x01, 12, 0][..], &[1, 2, 3, 4, 5, 6, 7, 8]].concat();
            let a = Ace::decode(&b).unwrap();
            assert_eq!(a.sid, None);
            assert_eq!(a.access_mask, 0);
            assert_eq!(a.raw, vec![1, 2, 3, 4, 5, 6, 7, 8]);
            assert_eq!(a.to_bytes().unwrap(), b);
        }
        let a = Ace::decode(&[0x14, 0, 8, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(a.to_string(), "TYPE(0x14) raw=4 bytes");
        let a = Ace::decode(&[4, 2, 4, 0]).unwrap();
        assert_eq!(a.to_string(), "ALLOWED_COMPOUND raw=0 bytes [CI]");
    }

    #[test]
    fn ace_size_checks() {
        let good = Ace::new(0, 0, 1, sid("S-1-1-0")).to_bytes().unwrap(); // 20 bytes
                                                                          // AceSize below the header.
        for size in 0..4u16 {
            let mut b = good.clone();
            b[2..4].copy_from_slice(&size.to_le_bytes());
            assert!(Ace::decode(&b).is_err());
        }
        // AceSize too small for the SID it must hold.
        let mut b = good.clone();
        b[2..4].copy_from_slice(&16u16.to_le_bytes());
        assert!(Ace::decode(&b).is_err());
        // AceSize past the buffer.
        let mut b = good.clone();
        b[2..4].copy_from_slice(&24u16.to_le_bytes());
        assert!(Ace::decode(&b).is_err());
        // AceSize larger than the fields: padding kept in raw, reproduced.
        let mut b = good.clone();
        b[2..4].copy_from_slice(&24u16.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        let a = Ace::decode(&b).unwrap();
        assert_eq!(a.raw, vec![0; 4]);
        assert_eq!(a.to_bytes().unwrap(), b);
        // A SID claiming 15 sub-authorities inside a small ACE.
        let mut b = good;
        b[9] = 15;
        assert!(Ace::decode(&b).is_err());
    }

    // ---- ACL -----------------------------------------------------------

    fn sample_dacl() -> Acl {
        Acl {
            revision: acl_revision::ACL_REVISION,
            aces: vec![
                Ace::new(
                    0,
                    0,
                    access_mask::FILE_ALL_ACCESS,
                    sid("S-1-5-21-1-2-3-1000"),
                ),
                Ace::new(0, 0, access_mask::FILE_READ_EXECUTE, sid("S-1-22-2-1000")),
                Ace::new(0, 0, access_mask::FILE_READ_EXECUTE, sid("S-1-1-0")),
                Ace::new(
                    1,
                    ace_flags::OBJECT_INHERIT | ace_flags::CONTAINER_INHERIT,
                    access_mask::FILE_WRITE_DATA,
                    sid("S-1-5-7"),
                ),
            ],
        }
    }

    #[test]
    fn acl_round_trip_and_bounds() {
        let acl = sample_dacl();
        let b = acl.to_bytes().unwrap();
        assert_eq!(u16::from_le_bytes([b[2], b[3]]) as usize, b.len());
        assert_eq!(u16::from_le_bytes([b[4], b[5]]), 4);
        assert_eq!(Acl::decode(&b).unwrap(), acl);
        for len in 0..b.len() {
            assert!(Acl::decode(&b[..len]).is_err(), "len={len}");
        }
        // AceCount larger than what AclSize can hold.
        let mut bad = b.clone();
        bad[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(Acl::decode(&bad).is_err());
        // One more ACE than present: runs past AclSize.
        let mut bad = b.clone();
        bad[4..6].copy_from_slice(&5u16.to_le_bytes());
        assert!(Acl::decode(&bad).is_err());
        // AclSize smaller than the ACEs, though the bytes are in the buffer.
        let mut bad = b.clone();
        let short = (b.len() - 4) as u16;
        bad[2..4].copy_from_slice(&short.to_le_bytes());
        assert!(Acl::decode(&bad).is_err());
        // AclSize below the header.
        let mut bad = b.clone();
        bad[2..4].copy_from_slice(&7u16.to_le_bytes());
        assert!(Acl::decode(&bad).is_err());
        // Fewer ACEs than present: the rest is ignored.
        let mut fewer = b;
        fewer[4..6].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(Acl::decode(&fewer).unwrap().aces.len(), 1);
        // Empty ACL.
        let empty = Acl {
            revision: 2,
            aces: vec![],
        };
        assert_eq!(empty.to_bytes().unwrap(), vec![2, 0, 8, 0, 0, 0, 0, 0]);
        assert_eq!(Acl::decode(&empty.to_bytes().unwrap()).unwrap(), empty);
    }

    // ---- security descriptor --------------------------------------------

    /// A descriptor as Samba returns it for a file, built byte by byte:
    /// owner S-1-5-21-1-2-3-1000, group S-1-22-2-1000 (Unix group), DACL
    /// owner FULL, group READ_EXECUTE, Everyone READ_EXECUTE.
    fn samba_like_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        // Header: revision 1, Sbz1 0, control SR|DP = 0x8004.
        b.extend_from_slice(&hex("01 00 04 80"));
        // OffsetOwner 20, OffsetGroup 48, OffsetSacl 0, OffsetDacl 64.
        b.extend_from_slice(&hex("14 00 00 00 30 00 00 00 00 00 00 00 40 00 00 00"));
        // Owner (28 bytes).
        b.extend_from_slice(&hex(
            "01 05 00 00 00 00 00 05 15 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 e8 03 00 00",
        ));
        // Group S-1-22-2-1000 (16 bytes).
        b.extend_from_slice(&hex("01 02 00 00 00 00 00 16 02 00 00 00 e8 03 00 00"));
        // DACL: revision 2, size 8 + 36 + 24 + 20 = 88, 3 ACEs.
        b.extend_from_slice(&hex("02 00 58 00 03 00 00 00"));
        b.extend_from_slice(&hex(
            "00 00 24 00 ff 01 1f 00
             01 05 00 00 00 00 00 05 15 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 e8 03 00 00",
        ));
        b.extend_from_slice(&hex(
            "00 00 18 00 a9 00 12 00 01 02 00 00 00 00 00 16 02 00 00 00 e8 03 00 00",
        ));
        b.extend_from_slice(&hex(
            "00 00 14 00 a9 00 12 00 01 01 00 00 00 00 00 01 00 00 00 00",
        ));
        b
    }

    #[test]
    fn samba_like_descriptor() {
        let b = samba_like_bytes();
        assert_eq!(b.len(), 64 + 88);
        let sd = SecurityDescriptor::decode(&b).unwrap();
        assert_eq!(sd.revision, 1);
        assert_eq!(
            sd.control,
            control::SE_SELF_RELATIVE | control::SE_DACL_PRESENT
        );
        assert_eq!(sd.owner, Some(sid("S-1-5-21-1-2-3-1000")));
        assert_eq!(sd.group, Some(sid("S-1-22-2-1000")));
        assert!(sd.sacl.is_none());
        let dacl = sd.dacl.as_ref().unwrap();
        assert_eq!(dacl.revision, 2);
        let lines: Vec<String> = dacl.aces.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            lines,
            [
                "ALLOWED S-1-5-21-1-2-3-1000 FULL",
                "ALLOWED S-1-22-2-1000 READ_EXECUTE",
                "ALLOWED S-1-1-0 READ_EXECUTE",
            ]
        );
        // The encoder reproduces the layout exactly.
        assert_eq!(sd.to_bytes().unwrap(), b);
        // Every truncation fails.
        for len in 0..b.len() {
            assert!(SecurityDescriptor::decode(&b[..len]).is_err(), "len={len}");
        }
        let text = sd.to_string();
        assert!(text.starts_with("REVISION:1\nCONTROL:0x8004\nOWNER:S-1-5-21-1-2-3-1000\n"));
        assert!(text.ends_with(concat!(
            "DACL:\n",
            "  ALLOWED S-1-5-21-1-2-3-1000 FULL\n",
            "  ALLOWED S-1-22-2-1000 READ_EXECUTE\n",
            "  ALLOWED S-1-1-0 READ_EXECUTE"
        )));
    }

    #[test]
    fn descriptor_offsets_are_validated() {
        let good = samba_like_bytes();
        let set = |field: usize, v: u32| {
            let mut b = good.clone();
            b[field..field + 4].copy_from_slice(&v.to_le_bytes());
            b
        };
        for field in [4, 8, 12, 16] {
            for v in [1u32, 4, 19, good.len() as u32, u32::MAX] {
                assert!(
                    SecurityDescriptor::decode(&set(field, v)).is_err(),
                    "field {field} offset {v}"
                );
            }
        }
        // Offset pointing at a SID that runs past the end.
        assert!(SecurityDescriptor::decode(&set(4, good.len() as u32 - 4)).is_err());
        // Zero offsets mean absent.
        let sd = SecurityDescriptor::decode(&set(4, 0)).unwrap();
        assert!(sd.owner.is_none());
        let header_only = &good[..20];
        let mut empty = header_only.to_vec();
        empty[4..20].fill(0);
        let sd = SecurityDescriptor::decode(&empty).unwrap();
        assert!(sd.owner.is_none() && sd.group.is_none() && sd.dacl.is_none());
        // DP set with no DACL: a NULL DACL.
        assert!(sd.has_null_dacl());
        assert!(sd.to_string().ends_with("DACL:NULL"));
        assert_eq!(
            SecurityDescriptor::decode(&sd.to_bytes().unwrap()).unwrap(),
            sd
        );
    }

    #[test]
    fn descriptor_round_trip_with_sacl() {
        let sd = SecurityDescriptor {
            revision: 1,
            control: control::SE_DACL_PROTECTED,
            owner: Some(sid("S-1-5-32-544")),
            group: Some(sid("S-1-5-18")),
            sacl: Some(Acl {
                revision: 2,
                aces: vec![
                    Ace::new(
                        ace_type::SYSTEM_AUDIT,
                        ace_flags::FAILED_ACCESS,
                        access_mask::FILE_ALL_ACCESS,
                        sid("S-1-1-0"),
                    ),
                    Ace::new(ace_type::SYSTEM_MANDATORY_LABEL, 0, 1, sid("S-1-16-8192")),
                ],
            }),
            dacl: Some(sample_dacl()),
        };
        let b = sd.to_bytes().unwrap();
        let back = SecurityDescriptor::decode(&b).unwrap();
        assert_eq!(
            back.control,
            control::SE_DACL_PROTECTED
                | control::SE_SELF_RELATIVE
                | control::SE_SACL_PRESENT
                | control::SE_DACL_PRESENT
        );
        assert_eq!(back.owner, sd.owner);
        assert_eq!(back.group, sd.group);
        assert_eq!(back.sacl, sd.sacl);
        assert_eq!(back.dacl, sd.dacl);
        assert_eq!(back.to_bytes().unwrap(), b);
        assert_eq!(
            back.sacl.as_ref().unwrap().aces[1]
                .sid
                .as_ref()
                .unwrap()
                .well_known_name(),
            Some("Medium Mandatory Level")
        );
        for len in 0..b.len() {
            assert!(SecurityDescriptor::decode(&b[..len]).is_err(), "len={len}");
        }
    }

    #[test]
    fn windows_layout_descriptor() {
        // Owner, group, then DACL with inherited ACEs and
        // SE_DACL_AUTO_INHERITED, as a Windows server returns it.
        let b = hex("01 00 04 84 14 00 00 00 30 00 00 00 00 00 00 00
             4c 00 00 00 01 05 00 00 00 00 00 05 15 00 00 00
             11 11 11 11 22 22 22 22 33 33 33 33 b1 04 00 00
             01 05 00 00 00 00 00 05 15 00 00 00 11 11 11 11
             22 22 22 22 33 33 33 33 01 02 00 00 02 00 70 00
             04 00 00 00 00 10 18 00 89 00 10 00 01 02 00 00
             00 00 00 05 20 00 00 00 21 02 00 00 00 10 14 00
             ff 01 1f 00 01 01 00 00 00 00 00 05 12 00 00 00
             00 10 18 00 ff 01 1f 00 01 02 00 00 00 00 00 05
             20 00 00 00 20 02 00 00 00 10 24 00 ff 01 1f 00
             01 05 00 00 00 00 00 05 15 00 00 00 11 11 11 11
             22 22 22 22 33 33 33 33 b1 04 00 00");
        let sd = SecurityDescriptor::decode(&b).unwrap();
        assert_eq!(sd.control, 0x8404);
        assert_eq!(
            sd.group.as_ref().unwrap().well_known_name(),
            Some("Domain Users")
        );
        let dacl = sd.dacl.as_ref().unwrap();
        assert_eq!(dacl.aces.len(), 4);
        assert_eq!(
            dacl.aces[0].to_string(),
            "ALLOWED S-1-5-32-545 0x00100089 [ID]"
        );
        assert_eq!(dacl.aces[1].to_string(), "ALLOWED S-1-5-18 FULL [ID]");
        assert_eq!(sd.to_bytes().unwrap(), b);
    }

    /// xorshift64*: deterministic pseudo-random bytes for the no-panic test.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn no_panic_on_mutated_or_random_input() {
        let g: [u8; 16] = core::array::from_fn(|i| i as u8);
        let mut with_object = sample_dacl();
        with_object.aces.push(Ace {
            ace_type: ace_type::ACCESS_ALLOWED_OBJECT,
            ace_flags: 0,
            access_mask: 1,
            object: Some(ObjectAceData {
                flags: 0,
                object_type: Some(g),
                inherited_object_type: Some(g),
            }),
            sid: Some(sid("S-1-5-11")),
            raw: vec![],
        });
        let seeds: Vec<Vec<u8>> = vec![
            samba_like_bytes(),
            SecurityDescriptor {
                revision: 1,
                control: 0,
                owner: Some(sid("S-1-5-32-544")),
                group: None,
                sacl: Some(with_object.clone()),
                dacl: Some(with_object.clone()),
            }
            .to_bytes()
            .unwrap(),
            with_object.to_bytes().unwrap(),
        ];
        let mut state = 0x0123_4567_89AB_CDEFu64;
        for round in 0..20_000 {
            let mut buf = if round % 4 == 0 {
                let len = (rng(&mut state) % 200) as usize;
                (0..len).map(|_| rng(&mut state) as u8).collect()
            } else {
                seeds[round % seeds.len()].clone()
            };
            if !buf.is_empty() {
                for _ in 0..1 + rng(&mut state) % 4 {
                    let i = (rng(&mut state) as usize) % buf.len();
                    buf[i] = rng(&mut state) as u8;
                }
                if rng(&mut state).is_multiple_of(3) {
                    let cut = (rng(&mut state) as usize) % (buf.len() + 1);
                    buf.truncate(cut);
                }
            }
            if let Ok(sd) = SecurityDescriptor::decode(&buf) {
                let _ = sd.to_string();
                // Whatever decodes re-encodes and decodes to the same parts.
                let again = SecurityDescriptor::decode(&sd.to_bytes().unwrap()).unwrap();
                assert_eq!((&again.owner, &again.group), (&sd.owner, &sd.group));
                assert_eq!((&again.sacl, &again.dacl), (&sd.sacl, &sd.dacl));
            }
            if let Ok(acl) = Acl::decode(&buf) {
                let _ = acl.to_string();
                assert_eq!(Acl::decode(&acl.to_bytes().unwrap()).unwrap(), acl);
            }
            if let Ok(ace) = Ace::decode(&buf) {
                let _ = ace.to_string();
                assert_eq!(Ace::decode(&ace.to_bytes().unwrap()).unwrap(), ace);
            }
            if let Ok(s) = Sid::decode(&buf) {
                let _ = s.well_known_name();
                if s.revision == 1 {
                    assert_eq!(s.to_string().parse::<Sid>().unwrap(), s);
                }
            }
            if let Ok(text) = std::str::from_utf8(&buf) {
                let _ = text.parse::<Sid>();
            }
        }
    }

    // ---- encoder limits --------------------------------------------------

    #[test]
    fn sid_sub_authority_limit() {
        use crate::codec::testutil::assert_too_large;
        let mut s = sid("S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14");
        assert_eq!(s.sub_authorities.len(), 15);
        assert_eq!(Sid::decode(&s.to_bytes().unwrap()).unwrap(), s);
        s.sub_authorities.push(14);
        assert_too_large(s.to_bytes(), "SID SubAuthorityCount", 16, 15);
    }

    #[test]
    fn ace_and_acl_size_limits() {
        use crate::codec::testutil::assert_too_large;
        // An ACE without a SID is its 4-byte header and `raw`; AceSize is
        // 16 bits.
        let ace = |raw: usize| Ace {
            ace_type: 0x11,
            ace_flags: 0,
            access_mask: 0,
            object: None,
            sid: None,
            raw: vec![0; raw],
        };
        assert_eq!(ace(65531).to_bytes().unwrap().len(), 65535);
        assert_too_large(ace(65532).to_bytes(), "ACE AceSize", 65536, 65535);
        // An ACL is its 8-byte header and the ACEs; AclSize is 16 bits.
        let acl = |aces: Vec<Ace>| Acl { revision: 2, aces };
        let b = acl(vec![ace(65523)]).to_bytes().unwrap();
        assert_eq!(b.len(), 65535);
        assert_eq!(Acl::decode(&b).unwrap().aces.len(), 1);
        assert_too_large(
            acl(vec![ace(65524)]).to_bytes(),
            "ACL AclSize",
            65536,
            65535,
        );
        // AceCount is 16 bits: 65536 ACEs are refused by count, before
        // their size.
        assert_too_large(
            acl(vec![ace(0); 65536]).to_bytes(),
            "ACL AceCount",
            65536,
            65535,
        );
        let d = SecurityDescriptor {
            revision: 1,
            control: 0,
            owner: None,
            group: None,
            sacl: None,
            dacl: Some(acl(vec![ace(0); 65536])),
        };
        assert_eq!(
            d.to_bytes().unwrap_err().to_string(),
            "ACL AceCount: 65536 ACEs, the limit is 65535"
        );
    }
}
