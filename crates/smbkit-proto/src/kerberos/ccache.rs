//! MIT credential cache files: the `FILE:` ccache format of MIT krb5
//! ("ccache file format", `doc/formats/ccache_file_format.rst`), which
//! Heimdal, Samba and `kinit` write too.
//!
//! A file is a 16-bit version (the first byte always 5), a header (version
//! 4 only), the default principal, and then credentials until the end of
//! the file: "There is also no count of credentials or marker at the end of
//! the sequence of credentials; the sequence ends when the file ends."
//! Versions 3 (`0x0503`) and 4 (`0x0504`) are read and written; both are
//! big-endian. Versions 1 and 2 use the writer's native byte order and are
//! refused with a [`DecodeError::Invalid`] naming the version.
//!
//! ```text
//! file        ::= version (16) [header (v4)] principal credential*
//! header      ::= length (16) { tag (16) length (16) value }*
//! principal   ::= name type (32) count of components (32) realm (data) component (data)*
//! credential  ::= client (principal) server (principal) keyblock
//!                 authtime starttime endtime renew_till (32 each)
//!                 is_skey (8) ticket_flags (32) addresses authdata
//!                 ticket (data) second_ticket (data)
//! keyblock    ::= enctype (16) [enctype again (16), v3 only] data
//! addresses   ::= count (32) { addrtype (16) data }*
//! authdata    ::= count (32) { ad_type (16) data }*
//! data        ::= length (32) value
//! ```
//!
//! Configuration entries ("Credential cache configuration entries") are
//! stored as credentials whose server principal has the realm
//! [`CONFIG_REALM`] (`X-CACHECONF:`): `kinit` writes `fast_avail` and
//! `pa_type` there. They are kept in [`Ccache::credentials`] so that a
//! cache is written back whole, marked by [`Credential::is_config`];
//! [`Ccache::tickets`], [`Ccache::tgt`] and [`Ccache::find`] never return
//! them, and [`Ccache::config`] reads their values.
//!
//! Every length is checked against the bytes that remain before anything
//! is copied, and counts are capped ([`MAX_COMPONENTS`], [`MAX_ADDRESSES`],
//! [`MAX_AUTHDATA`], [`MAX_CREDENTIALS`]), so a hostile file costs no more
//! memory than its own size. Names are strict UTF-8. Session keys are held
//! in [`Zeroizing`] buffers and never printed by `Debug`.

use std::fmt;

use zeroize::Zeroizing;

use crate::codec::{count_u32, wire_u32, DecodeError, EncodeError, Reader, Writer};

/// The most components a principal may have (a Kerberos name has one to
/// three in practice).
pub const MAX_COMPONENTS: usize = 64;
/// The most addresses one credential may carry.
pub const MAX_ADDRESSES: usize = 1024;
/// The most authorization data elements one credential may carry.
pub const MAX_AUTHDATA: usize = 1024;
/// The most credentials (configuration entries included) one cache may hold.
pub const MAX_CREDENTIALS: usize = 100_000;

/// The realm of the server principal of a configuration entry ("The server
/// principal has the realm `X-CACHECONF:`").
pub const CONFIG_REALM: &str = "X-CACHECONF:";
/// The first component of the server principal of a configuration entry;
/// the second is the configuration key, the optional third the principal
/// the key is associated with.
pub const CONFIG_NAME: &str = "krb5_ccache_conf_data";

/// The header tag of the KDC time offset ("its tag value is 1, its length
/// is always 8").
const TAG_KDC_OFFSET: u16 = 1;

/// Kerberos encryption type numbers (RFC 3961 §8, RFC 3962, RFC 4757,
/// RFC 8009), as [`SessionKey::enctype`] and the keytab's entries carry
/// them.
pub mod enctype {
    /// des-cbc-crc (RFC 3961; deprecated by RFC 6649).
    pub const DES_CBC_CRC: i32 = 1;
    /// des-cbc-md5 (RFC 3961; deprecated by RFC 6649).
    pub const DES_CBC_MD5: i32 = 3;
    /// des3-cbc-sha1-kd (RFC 3961; deprecated by RFC 8429).
    pub const DES3_CBC_SHA1: i32 = 16;
    /// aes128-cts-hmac-sha1-96 (RFC 3962).
    pub const AES128_CTS_HMAC_SHA1_96: i32 = 17;
    /// aes256-cts-hmac-sha1-96 (RFC 3962): what Active Directory and MIT
    /// prefer.
    pub const AES256_CTS_HMAC_SHA1_96: i32 = 18;
    /// aes128-cts-hmac-sha256-128 (RFC 8009).
    pub const AES128_CTS_HMAC_SHA256_128: i32 = 19;
    /// aes256-cts-hmac-sha384-192 (RFC 8009).
    pub const AES256_CTS_HMAC_SHA384_192: i32 = 20;
    /// rc4-hmac, also arcfour-hmac (RFC 4757; deprecated by RFC 8429).
    pub const RC4_HMAC: i32 = 23;
}

/// The bits of [`Credential::ticket_flags`]: the TicketFlags of RFC 4120
/// §5.3 with bit 0 as the most significant bit of the 32-bit value, as MIT
/// krb5 stores them (`TKT_FLG_*`).
pub mod ticket_flags {
    /// forwardable (bit 1; `klist -f` shows `F`).
    pub const FORWARDABLE: u32 = 0x4000_0000;
    /// forwarded (bit 2; `f`).
    pub const FORWARDED: u32 = 0x2000_0000;
    /// proxiable (bit 3; `P`).
    pub const PROXIABLE: u32 = 0x1000_0000;
    /// proxy (bit 4; `p`).
    pub const PROXY: u32 = 0x0800_0000;
    /// may-postdate (bit 5; `D`).
    pub const MAY_POSTDATE: u32 = 0x0400_0000;
    /// postdated (bit 6; `d`).
    pub const POSTDATED: u32 = 0x0200_0000;
    /// invalid (bit 7; `i`).
    pub const INVALID: u32 = 0x0100_0000;
    /// renewable (bit 8; `R`).
    pub const RENEWABLE: u32 = 0x0080_0000;
    /// initial: issued by the AS exchange, not from a TGT (bit 9; `I`).
    pub const INITIAL: u32 = 0x0040_0000;
    /// pre-authent (bit 10; `A`).
    pub const PRE_AUTHENT: u32 = 0x0020_0000;
    /// hw-authent (bit 11; `H`).
    pub const HW_AUTHENT: u32 = 0x0010_0000;
    /// transited-policy-checked (bit 12; `T`).
    pub const TRANSITED_POLICY_CHECKED: u32 = 0x0008_0000;
    /// ok-as-delegate (bit 13; `O`).
    pub const OK_AS_DELEGATE: u32 = 0x0004_0000;
    /// enc-pa-rep: the KDC protected the padata of its reply (RFC 6806 §11,
    /// bit 15; `klist` does not show it).
    pub const ENC_PA_REP: u32 = 0x0001_0000;
    /// anonymous (RFC 8062, bit 16; `a`).
    pub const ANONYMOUS: u32 = 0x0000_8000;
}

/// A Kerberos principal name (RFC 4120 §5.2.2 PrincipalName plus its
/// realm), as credential caches and keytabs store it.
///
/// Its text form (`Display`, [`Principal::parse`]) is MIT's
/// (`krb5_unparse_name`): the components joined by `/`, then `@` and the
/// realm, with `/`, `@` and `\` inside a component or the realm escaped by
/// a backslash, as are NUL, newline, tab and backspace (`\0`, `\n`, `\t`,
/// `\b`). When parsing, a `/` in the realm may also stand unescaped.
///
/// ```
/// use smbkit_proto::kerberos::ccache::Principal;
///
/// let p = Principal::parse("cifs/fs1.example.test@EXAMPLE.TEST")?;
/// assert_eq!(p.components, ["cifs", "fs1.example.test"]);
/// assert_eq!(p.realm, "EXAMPLE.TEST");
/// assert_eq!(p.to_string(), "cifs/fs1.example.test@EXAMPLE.TEST");
/// let user = Principal::from_name("alice", "EXAMPLE.TEST")?;
/// assert_eq!(user.to_string(), "alice@EXAMPLE.TEST");
/// # Ok::<(), smbkit_proto::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The name type (RFC 4120 §6.2, e.g. [`Principal::NT_PRINCIPAL`]).
    pub name_type: u32,
    /// The realm, e.g. `EXAMPLE.TEST`.
    pub realm: String,
    /// The name's components, e.g. `["cifs", "fs1.example.test"]`.
    pub components: Vec<String>,
}

impl Principal {
    /// NT-UNKNOWN: the name type is not known.
    pub const NT_UNKNOWN: u32 = 0;
    /// NT-PRINCIPAL: the name of a user or of a service taken as one name.
    pub const NT_PRINCIPAL: u32 = 1;
    /// NT-SRV-INST: a service and its instance, e.g. `krbtgt/REALM`.
    pub const NT_SRV_INST: u32 = 2;
    /// NT-SRV-HST: a service and the host it runs on.
    pub const NT_SRV_HST: u32 = 3;
    /// NT-ENTERPRISE (RFC 6806 §5): a `user@domain` name as one component.
    pub const NT_ENTERPRISE: u32 = 10;

    /// A principal of `name_type` with `realm` and `components`.
    pub fn new(name_type: u32, realm: impl Into<String>, components: Vec<String>) -> Self {
        Principal {
            name_type,
            realm: realm.into(),
            components,
        }
    }

    /// The ticket-granting service of `realm`: `krbtgt/REALM@REALM`
    /// (RFC 4120 §7.3), of type NT-SRV-INST.
    pub fn krbtgt(realm: &str) -> Self {
        Principal::new(
            Self::NT_SRV_INST,
            realm,
            vec!["krbtgt".to_string(), realm.to_string()],
        )
    }

    /// Parses a name with its realm, such as `user@REALM` or
    /// `cifs/host@REALM` (the syntax is described on [`Principal`]). The
    /// name type is NT-SRV-INST for `krbtgt/…`, NT-PRINCIPAL otherwise, as
    /// MIT's `krb5_parse_name` chooses.
    ///
    /// # Errors
    ///
    /// A [`DecodeError::Invalid`] for a name without a realm (see
    /// [`Principal::from_name`]), an empty name or realm, a second `@`, or
    /// a backslash at the end.
    pub fn parse(name: &str) -> Result<Self, DecodeError> {
        let (components, realm) = split_name(name)?;
        let realm = realm.ok_or_else(|| {
            DecodeError::invalid("Kerberos principal name", format!("{name:?} has no realm"))
        })?;
        Ok(Self::with_name_type(components, realm))
    }

    /// Parses `name` as [`Principal::parse`] does, taking `default_realm`
    /// when the name has none.
    ///
    /// # Errors
    ///
    /// As [`Principal::parse`], and for an empty `default_realm` when it
    /// is needed.
    pub fn from_name(name: &str, default_realm: &str) -> Result<Self, DecodeError> {
        let (components, realm) = split_name(name)?;
        let realm = match realm {
            Some(r) => r,
            None if default_realm.is_empty() => {
                return Err(DecodeError::invalid(
                    "Kerberos principal name",
                    format!("{name:?} has no realm and the default realm is empty"),
                ))
            }
            None => default_realm.to_string(),
        };
        Ok(Self::with_name_type(components, realm))
    }

    fn with_name_type(components: Vec<String>, realm: String) -> Self {
        let name_type = if components.len() == 2 && components[0] == "krbtgt" {
            Self::NT_SRV_INST
        } else {
            Self::NT_PRINCIPAL
        };
        Principal::new(name_type, realm, components)
    }

    /// Whether `self` and `other` name the same principal, as
    /// [`Ccache::find`] and the keytab's `find` compare them: the realms
    /// exactly, the first components (the user or service name) exactly,
    /// and the components after the first (host names, which DNS compares
    /// without case) ignoring ASCII case. The name types are not compared:
    /// a KDC may answer a request for an NT-SRV-INST name with an
    /// NT-PRINCIPAL one (Samba does for `cifs/host`).
    pub fn matches(&self, other: &Principal) -> bool {
        self.realm == other.realm
            && self.components.len() == other.components.len()
            && self
                .components
                .iter()
                .zip(&other.components)
                .enumerate()
                .all(|(i, (a, b))| {
                    if i == 0 {
                        a == b
                    } else {
                        a.eq_ignore_ascii_case(b)
                    }
                })
    }

    /// Whether this is the server principal of a configuration entry (its
    /// realm is [`CONFIG_REALM`]).
    pub fn is_config(&self) -> bool {
        self.realm == CONFIG_REALM
    }
}

/// Splits an MIT principal name into its unescaped components and realm.
fn split_name(name: &str) -> Result<(Vec<String>, Option<String>), DecodeError> {
    const WHAT: &str = "Kerberos principal name";
    let mut components = vec![String::new()];
    let mut realm: Option<String> = None;
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        let c = match c {
            '\\' => match chars.next() {
                Some('0') => '\0',
                Some('n') => '\n',
                Some('t') => '\t',
                Some('b') => '\u{8}',
                Some(other) => other,
                None => {
                    return Err(DecodeError::invalid(
                        WHAT,
                        format!("{name:?} ends with a backslash"),
                    ))
                }
            },
            '/' if realm.is_none() => {
                components.push(String::new());
                continue;
            }
            '@' if realm.is_none() => {
                realm = Some(String::new());
                continue;
            }
            '@' => {
                return Err(DecodeError::invalid(
                    WHAT,
                    format!("{name:?} has a second unescaped '@'"),
                ))
            }
            c => c,
        };
        match realm.as_mut() {
            Some(r) => r.push(c),
            None => {
                if let Some(last) = components.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    if components.len() > MAX_COMPONENTS {
        return Err(too_many(WHAT, components.len(), MAX_COMPONENTS));
    }
    if components.len() == 1 && components[0].is_empty() {
        return Err(DecodeError::invalid(WHAT, format!("{name:?} has no name")));
    }
    if realm.as_deref() == Some("") {
        return Err(DecodeError::invalid(
            WHAT,
            format!("{name:?} has an empty realm"),
        ));
    }
    Ok((components, realm))
}

/// Appends `s` to `f` with MIT's escapes.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '\0' => f.write_str("\\0")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\\' | '@' | '/' => write!(f, "\\{c}")?,
            c => write!(f, "{c}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Principal {
    /// `a/b@REALM`, escaped as described on [`Principal`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write_escaped(f, c)?;
        }
        f.write_str("@")?;
        write_escaped(f, &self.realm)
    }
}

/// The session key of a credential (the cache's keyblock).
///
/// `Debug` shows the encryption type and the key's length, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The encryption type (see [`enctype`]); 0 in a configuration entry.
    pub enctype: i32,
    /// The key bytes, wiped when dropped.
    pub key: Zeroizing<Vec<u8>>,
}

impl SessionKey {
    /// A key of `enctype` holding `key`.
    pub fn new(enctype: i32, key: Vec<u8>) -> Self {
        SessionKey {
            enctype,
            key: Zeroizing::new(key),
        }
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("enctype", &self.enctype)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

/// One address a credential is restricted to (RFC 4120 §5.2.5
/// HostAddress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// addr-type (2 for IPv4, 24 for IPv6, RFC 4120 §7.5.3).
    pub addr_type: u16,
    /// The address bytes.
    pub address: Vec<u8>,
}

/// One element of a credential's authorization data (RFC 4120 §5.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthData {
    /// ad-type (negative values are reserved for local use, so the 16-bit
    /// field is sign-extended as MIT does).
    pub ad_type: i32,
    /// ad-data.
    pub data: Vec<u8>,
}

/// One entry of a credential cache: a ticket and what the client needs to
/// use it, or a configuration entry ([`Credential::is_config`]).
///
/// Times are seconds since the Unix epoch, unsigned as MIT reads them past
/// 2038. `Debug` shows the ticket's length, not its bytes, and never the
/// session key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The client principal (the cache's default principal, usually).
    pub client: Principal,
    /// The service the ticket is for, e.g. `krbtgt/REALM@REALM`.
    pub server: Principal,
    /// The session key shared with `server`.
    pub key: SessionKey,
    /// authtime: when the client first authenticated (the TGT's time for a
    /// service ticket).
    pub auth_time: u32,
    /// starttime: when the ticket becomes valid.
    pub start_time: u32,
    /// endtime: when it expires.
    pub end_time: u32,
    /// renew-till: the last endtime a renewal may reach (0 when the
    /// ticket is not renewable).
    pub renew_till: u32,
    /// is_skey: the ticket is encrypted in the session key of
    /// `second_ticket` (user-to-user, RFC 4120 §2.9.2).
    pub is_skey: bool,
    /// The ticket flags (see [`ticket_flags`]).
    pub ticket_flags: u32,
    /// The addresses the ticket is restricted to (usually none).
    pub addresses: Vec<Address>,
    /// Authorization data the KDC returned alongside the ticket (usually
    /// none).
    pub authdata: Vec<AuthData>,
    /// The DER encoding of the Ticket (RFC 4120 §5.3), or the value of a
    /// configuration entry ("The configuration value is stored in the
    /// ticket field of the entry").
    pub ticket: Vec<u8>,
    /// The second ticket of a user-to-user request (usually empty).
    pub second_ticket: Vec<u8>,
    /// Whether this is a configuration entry rather than a ticket: its
    /// server's realm is [`CONFIG_REALM`]. [`Ccache::parse`] sets it from
    /// the server principal; [`Ccache::encode`] does not read it.
    pub is_config: bool,
}

impl Credential {
    /// Whether the ticket has expired at `now` (seconds since the Unix
    /// epoch): its endtime is not after `now`. A configuration entry, whose
    /// endtime is 0, always counts as expired, which says nothing about its
    /// value.
    pub fn is_expired_at(&self, now: u64) -> bool {
        u64::from(self.end_time) <= now
    }

    /// Whether the server is a ticket-granting service (`krbtgt/…`).
    pub fn is_tgt(&self) -> bool {
        !self.is_config
            && self.server.components.len() == 2
            && self.server.components[0] == "krbtgt"
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("client", &format_args!("{}", self.client))
            .field("server", &format_args!("{}", self.server))
            .field("key", &self.key)
            .field("auth_time", &self.auth_time)
            .field("start_time", &self.start_time)
            .field("end_time", &self.end_time)
            .field("renew_till", &self.renew_till)
            .field("is_skey", &self.is_skey)
            .field("ticket_flags", &format_args!("{:#010x}", self.ticket_flags))
            .field("addresses", &self.addresses)
            .field("authdata", &self.authdata)
            .field("ticket", &format_args!("<{} bytes>", self.ticket.len()))
            .field(
                "second_ticket",
                &format_args!("<{} bytes>", self.second_ticket.len()),
            )
            .field("is_config", &self.is_config)
            .finish()
    }
}

/// An MIT credential cache file (`FILE:` ccache), versions 3 and 4.
///
/// ```
/// use smbkit_proto::kerberos::ccache::{enctype, Ccache, Credential, Principal, SessionKey};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let me = Principal::parse("alice@EXAMPLE.TEST")?;
/// let mut cache = Ccache::new(me.clone());
/// cache.credentials.push(Credential {
///     client: me,
///     server: Principal::krbtgt("EXAMPLE.TEST"),
///     key: SessionKey::new(enctype::AES256_CTS_HMAC_SHA1_96, vec![7; 32]),
///     auth_time: 1_700_000_000,
///     start_time: 1_700_000_000,
///     end_time: 1_700_036_000,
///     renew_till: 0,
///     is_skey: false,
///     ticket_flags: 0,
///     addresses: vec![],
///     authdata: vec![],
///     ticket: vec![0x61, 0x00], // the DER Ticket from the KDC
///     second_ticket: vec![],
///     is_config: false,
/// });
/// let file = cache.encode()?;
/// let back = Ccache::parse(&file)?;
/// assert_eq!(back, cache);
/// let tgt = back.tgt("EXAMPLE.TEST").expect("a TGT");
/// assert!(!tgt.is_expired_at(1_700_000_100));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ccache {
    /// The file format version: [`Ccache::VERSION_4`] or
    /// [`Ccache::VERSION_3`].
    pub version: u16,
    /// The default principal: whose credentials the cache holds.
    pub default_principal: Principal,
    /// The KDC time offset of the version 4 header (tag 1): seconds and
    /// microseconds to add to the client's clock to get the KDC's. `None`
    /// when the header has no such field (always, in version 3).
    pub kdc_offset: Option<(i32, i32)>,
    /// The credentials in file order, configuration entries included
    /// ([`Credential::is_config`]).
    pub credentials: Vec<Credential>,
}

impl Ccache {
    /// Version 4, with a header: what MIT krb5 writes by default.
    pub const VERSION_4: u16 = 0x0504;
    /// Version 3: no header, and the keyblock's enctype written twice.
    pub const VERSION_3: u16 = 0x0503;

    /// An empty version 4 cache for `default_principal`, without a KDC
    /// time offset.
    pub fn new(default_principal: Principal) -> Self {
        Ccache {
            version: Self::VERSION_4,
            default_principal,
            kdc_offset: None,
            credentials: Vec::new(),
        }
    }

    /// Parses a whole credential cache file.
    ///
    /// Unknown header tags are skipped ("A file format implementation
    /// should ignore fields with unknown tags"); a KDC offset tag whose
    /// length is not 8 is an error, and when there are several the last
    /// one counts, as in MIT's reader. The file must end exactly after a
    /// credential: a partial one at the end is an error.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Invalid`] for a version other than `0x0503` and
    /// `0x0504` (naming it) or a name that is not UTF-8,
    /// [`DecodeError::Truncated`] when a field or length runs past the end
    /// of the file, and [`DecodeError::TooLarge`] for more components,
    /// addresses, authorization data or credentials than the limits of
    /// this module allow.
    pub fn parse(file: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(file);
        let version = r.u16_be("ccache file format version")?;
        match version {
            Self::VERSION_3 | Self::VERSION_4 => {}
            0x0501 | 0x0502 => {
                return Err(DecodeError::invalid(
                    "ccache file format version",
                    format!(
                        "{version:#06x} uses the writer's native byte order and is not supported"
                    ),
                ))
            }
            v if v >> 8 != 5 => {
                return Err(DecodeError::invalid(
                    "ccache file format version",
                    format!("{v:#06x}: not a credential cache (the first byte is not 5)"),
                ))
            }
            v => {
                return Err(DecodeError::invalid(
                    "ccache file format version",
                    format!("{v:#06x} is not a known version"),
                ))
            }
        }
        let kdc_offset = if version == Self::VERSION_4 {
            read_header(&mut r)?
        } else {
            None
        };
        let default_principal = read_principal(&mut r, "ccache default principal")?;
        let mut credentials = Vec::new();
        while r.remaining() > 0 {
            if credentials.len() == MAX_CREDENTIALS {
                return Err(too_many(
                    "ccache credentials",
                    MAX_CREDENTIALS + 1,
                    MAX_CREDENTIALS,
                ));
            }
            credentials.push(read_credential(&mut r, version)?);
        }
        Ok(Ccache {
            version,
            default_principal,
            kdc_offset,
            credentials,
        })
    }

    /// The file in the format of [`Ccache::version`], as MIT krb5 writes
    /// it: for version 4 a header holding the KDC offset tag when
    /// [`Ccache::kdc_offset`] is set (and no tags otherwise).
    ///
    /// # Errors
    ///
    /// [`EncodeError`] when the version is neither `0x0503` nor `0x0504`,
    /// a KDC offset is set on a version 3 cache (which has no header), an
    /// enctype or ad-type does not fit the 16 bits that carry it, a field
    /// is longer than its 32-bit length can say, or a count is over the
    /// limit that [`Ccache::parse`] enforces.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let version = self.version;
        if version != Self::VERSION_3 && version != Self::VERSION_4 {
            return Err(EncodeError::Invalid {
                what: "ccache file format version",
                detail: "only 0x0503 and 0x0504 are written",
            });
        }
        if self.credentials.len() > MAX_CREDENTIALS {
            return Err(EncodeError::too_many(
                "ccache credentials",
                "credentials",
                self.credentials.len(),
                MAX_CREDENTIALS,
            ));
        }
        let mut w = Writer::new();
        w.u16_be(version);
        if version == Self::VERSION_4 {
            match self.kdc_offset {
                Some((secs, usecs)) => {
                    w.u16_be(12)
                        .u16_be(TAG_KDC_OFFSET)
                        .u16_be(8)
                        .bytes(&secs.to_be_bytes())
                        .bytes(&usecs.to_be_bytes());
                }
                None => {
                    w.u16_be(0);
                }
            }
        } else if self.kdc_offset.is_some() {
            return Err(EncodeError::Invalid {
                what: "ccache KDC time offset",
                detail: "version 3 has no header to carry it",
            });
        }
        write_principal(&mut w, &self.default_principal)?;
        for c in &self.credentials {
            write_credential(&mut w, c, version)?;
        }
        Ok(w.into_vec())
    }

    /// The credentials that are tickets, not configuration entries.
    pub fn tickets(&self) -> impl Iterator<Item = &Credential> {
        self.credentials.iter().filter(|c| !c.is_config)
    }

    /// The configuration entries.
    pub fn config_entries(&self) -> impl Iterator<Item = &Credential> {
        self.credentials.iter().filter(|c| c.is_config)
    }

    /// The value of the configuration entry `key` (such as `pa_type` or
    /// `fast_avail`), associated with `principal` (its server's third
    /// component is the principal's text form), or with no principal when
    /// `principal` is `None`. The last such entry in the file wins.
    pub fn config(&self, key: &str, principal: Option<&Principal>) -> Option<&[u8]> {
        let want = principal.map(Principal::to_string);
        self.config_entries()
            .filter(|c| {
                let s = &c.server.components;
                s.first().map(String::as_str) == Some(CONFIG_NAME)
                    && s.get(1).map(String::as_str) == Some(key)
                    && s.get(2) == want.as_ref()
                    && s.len() <= 3
            })
            .last()
            .map(|c| c.ticket.as_slice())
    }

    /// The ticket-granting ticket for `realm`: the ticket whose server is
    /// exactly `krbtgt/REALM@REALM`. When there are several, the one that
    /// expires last (the later in the file among equals). Expired tickets
    /// are returned too; see [`Credential::is_expired_at`].
    pub fn tgt(&self, realm: &str) -> Option<&Credential> {
        latest(self.tickets().filter(|c| {
            c.server.realm == realm
                && c.server.components.len() == 2
                && c.server.components[0] == "krbtgt"
                && c.server.components[1] == realm
        }))
    }

    /// The ticket for `server`, compared as [`Principal::matches`] does
    /// (realm and service name exactly, host names without ASCII case,
    /// name types ignored). When there are several, the one that expires
    /// last (the later in the file among equals). Expired tickets are
    /// returned too.
    pub fn find(&self, server: &Principal) -> Option<&Credential> {
        latest(self.tickets().filter(|c| c.server.matches(server)))
    }
}

/// The credential with the latest endtime, the last of equals.
fn latest<'a>(creds: impl Iterator<Item = &'a Credential>) -> Option<&'a Credential> {
    creds.max_by_key(|c| c.end_time)
}

/// A [`DecodeError::TooLarge`] for a count over a limit.
fn too_many(what: &'static str, count: usize, limit: usize) -> DecodeError {
    DecodeError::TooLarge {
        what,
        length: count,
        limit,
    }
}

/// Reads a 32-bit count and checks it against `limit`.
fn read_count(r: &mut Reader<'_>, what: &'static str, limit: usize) -> Result<usize, DecodeError> {
    let n = usize::try_from(r.u32_be(what)?).unwrap_or(usize::MAX);
    if n > limit {
        return Err(too_many(what, n, limit));
    }
    Ok(n)
}

/// Reads `data ::= length (32 bits) value`; the length is checked against
/// what remains before anything is copied.
fn read_data<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], DecodeError> {
    let len = usize::try_from(r.u32_be(what)?).unwrap_or(usize::MAX);
    r.take(len, what)
}

/// Reads a `data` that must be UTF-8.
fn read_string(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    utf8(read_data(r, what)?, what)
}

/// Strict UTF-8, with the offset of the first bad byte in the error.
pub(crate) fn utf8(b: &[u8], what: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(b).map(str::to_string).map_err(|e| {
        DecodeError::invalid(
            what,
            format!("not UTF-8 (bad byte at offset {})", e.valid_up_to()),
        )
    })
}

/// A 16-bit field holding a signed value (enctype, ad-type), sign-extended
/// as MIT does ("enctypes can be negative").
pub(crate) fn sign_extend(v: u16) -> i32 {
    i32::from(i16::from_be_bytes(v.to_be_bytes()))
}

/// The 16-bit form of a signed enctype or ad-type.
pub(crate) fn wire_i16(v: i32, what: &'static str) -> Result<u16, EncodeError> {
    i16::try_from(v)
        .map(|v| u16::from_be_bytes(v.to_be_bytes()))
        .map_err(|_| EncodeError::Invalid {
            what,
            detail: "outside the 16-bit range the file format stores",
        })
}

/// Reads the version 4 header and returns its KDC time offset.
fn read_header(r: &mut Reader<'_>) -> Result<Option<(i32, i32)>, DecodeError> {
    let len = usize::from(r.u16_be("ccache header length")?);
    let mut h = Reader::new(r.take(len, "ccache header")?);
    let mut offset = None;
    while h.remaining() > 0 {
        let tag = h.u16_be("ccache header tag")?;
        let len = usize::from(h.u16_be("ccache header field length")?);
        let value = h.take(len, "ccache header field")?;
        if tag == TAG_KDC_OFFSET {
            if len != 8 {
                return Err(DecodeError::invalid(
                    "ccache KDC time offset",
                    format!("length {len}, the format says 8"),
                ));
            }
            let mut v = Reader::new(value);
            let secs = i32::from_be_bytes(v.array("ccache KDC time offset seconds")?);
            let usecs = i32::from_be_bytes(v.array("ccache KDC time offset microseconds")?);
            offset = Some((secs, usecs));
        }
    }
    Ok(offset)
}

/// Reads a principal (version 3 or 4: name type, component count, realm,
/// components).
fn read_principal(r: &mut Reader<'_>, what: &'static str) -> Result<Principal, DecodeError> {
    let name_type = r.u32_be(what)?;
    let count = read_count(r, "ccache principal component count", MAX_COMPONENTS)?;
    let realm = read_string(r, "ccache principal realm")?;
    let mut components = Vec::new();
    for _ in 0..count {
        components.push(read_string(r, "ccache principal component")?);
    }
    Ok(Principal {
        name_type,
        realm,
        components,
    })
}

fn read_credential(r: &mut Reader<'_>, version: u16) -> Result<Credential, DecodeError> {
    let client = read_principal(r, "ccache credential client")?;
    let server = read_principal(r, "ccache credential server")?;
    let enctype = sign_extend(r.u16_be("ccache keyblock enctype")?);
    if version == Ccache::VERSION_3 {
        // "When version 3 was current (before release 1.0), the keyblock
        // had separate key type and enctype fields": the second is ignored.
        r.u16_be("ccache keyblock enctype (version 3)")?;
    }
    let key = SessionKey {
        enctype,
        key: Zeroizing::new(read_data(r, "ccache keyblock key")?.to_vec()),
    };
    let auth_time = r.u32_be("ccache authtime")?;
    let start_time = r.u32_be("ccache starttime")?;
    let end_time = r.u32_be("ccache endtime")?;
    let renew_till = r.u32_be("ccache renew_till")?;
    // "is_skey (1 byte, 0 or 1)"; MIT keeps any non-zero byte as true.
    let is_skey = r.u8("ccache is_skey")? != 0;
    let ticket_flags = r.u32_be("ccache ticket_flags")?;
    let mut addresses = Vec::new();
    for _ in 0..read_count(r, "ccache address count", MAX_ADDRESSES)? {
        let addr_type = r.u16_be("ccache addrtype")?;
        let address = read_data(r, "ccache address")?.to_vec();
        addresses.push(Address { addr_type, address });
    }
    let mut authdata = Vec::new();
    for _ in 0..read_count(r, "ccache authdata count", MAX_AUTHDATA)? {
        let ad_type = sign_extend(r.u16_be("ccache ad_type")?);
        let data = read_data(r, "ccache authdata")?.to_vec();
        authdata.push(AuthData { ad_type, data });
    }
    let ticket = read_data(r, "ccache ticket")?.to_vec();
    let second_ticket = read_data(r, "ccache second_ticket")?.to_vec();
    let is_config = server.is_config();
    Ok(Credential {
        client,
        server,
        key,
        auth_time,
        start_time,
        end_time,
        renew_till,
        is_skey,
        ticket_flags,
        addresses,
        authdata,
        ticket,
        second_ticket,
        is_config,
    })
}

fn write_data(w: &mut Writer, data: &[u8], what: &'static str) -> Result<(), EncodeError> {
    w.u32_be(wire_u32(data.len(), what)?).bytes(data);
    Ok(())
}

fn write_count(
    w: &mut Writer,
    n: usize,
    limit: usize,
    what: &'static str,
    unit: &'static str,
) -> Result<(), EncodeError> {
    if n > limit {
        return Err(EncodeError::too_many(what, unit, n, limit));
    }
    w.u32_be(count_u32(n, what, unit)?);
    Ok(())
}

fn write_principal(w: &mut Writer, p: &Principal) -> Result<(), EncodeError> {
    w.u32_be(p.name_type);
    write_count(
        w,
        p.components.len(),
        MAX_COMPONENTS,
        "ccache principal component count",
        "components",
    )?;
    write_data(w, p.realm.as_bytes(), "ccache principal realm")?;
    for c in &p.components {
        write_data(w, c.as_bytes(), "ccache principal component")?;
    }
    Ok(())
}

fn write_credential(w: &mut Writer, c: &Credential, version: u16) -> Result<(), EncodeError> {
    write_principal(w, &c.client)?;
    write_principal(w, &c.server)?;
    let enctype = wire_i16(c.key.enctype, "ccache keyblock enctype")?;
    w.u16_be(enctype);
    if version == Ccache::VERSION_3 {
        w.u16_be(enctype);
    }
    write_data(w, &c.key.key, "ccache keyblock key")?;
    w.u32_be(c.auth_time)
        .u32_be(c.start_time)
        .u32_be(c.end_time)
        .u32_be(c.renew_till)
        .u8(u8::from(c.is_skey))
        .u32_be(c.ticket_flags);
    write_count(
        w,
        c.addresses.len(),
        MAX_ADDRESSES,
        "ccache address count",
        "addresses",
    )?;
    for a in &c.addresses {
        w.u16_be(a.addr_type);
        write_data(w, &a.address, "ccache address")?;
    }
    write_count(
        w,
        c.authdata.len(),
        MAX_AUTHDATA,
        "ccache authdata count",
        "elements",
    )?;
    for a in &c.authdata {
        w.u16_be(wire_i16(a.ad_type, "ccache ad_type")?);
        write_data(w, &a.data, "ccache authdata")?;
    }
    write_data(w, &c.ticket, "ccache ticket")?;
    write_data(w, &c.second_ticket, "ccache second_ticket")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::codec::testutil::assert_too_large;
    use crate::smb2::testutil::mutate_never_panics;

    // Captured from MIT krb5 1.20.1 against a Samba 4 AD DC (realm
    // SMBKIT.TEST): `kinit smbkituser` (version 4), then `kvno
    // cifs/smbkitdc.smbkit.test` on a copy, and `kinit -f` with
    // `ccache_type = 3` (see testdata/README.md).
    const KRBTGT: &[u8] = include_bytes!("testdata/krbtgt.ccache");
    const SERVICE: &[u8] = include_bytes!("testdata/service.ccache");
    const V3: &[u8] = include_bytes!("testdata/v3.ccache");

    // What `klist -e -f -C` printed: "12/07/26 01:56:12  12/07/26 11:56:12
    // krbtgt/SMBKIT.TEST@SMBKIT.TEST, renew until 12/08/26 01:56:12"
    // (UTC), the same for the cifs ticket.
    const START: u32 = 1_796_608_572; // 2026-12-07 01:56:12 UTC
    const END: u32 = 1_796_644_572; // 2026-12-07 11:56:12 UTC
    const RENEW: u32 = 1_796_694_972; // 2026-12-08 01:56:12 UTC

    use ticket_flags::*;

    /// A DER TLV: tag, contents, the bytes after it.
    fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (b[0], b[1]);
        let (len, hdr) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x));
            (len, 2 + n)
        };
        (tag, &b[hdr..hdr + len], &b[hdr + len..])
    }

    /// The fields of a DER Ticket (RFC 4120 §5.3) that `klist` and `kvno`
    /// print: realm, sname components, enc-part etype and kvno.
    fn ticket_fields(der: &[u8]) -> (String, Vec<String>, i64, Option<i64>) {
        let int = |b: &[u8]| {
            let (t, v, _) = tlv(b);
            assert_eq!(t, 0x02);
            v.iter().fold(0i64, |a, &x| (a << 8) | i64::from(x))
        };
        let (tag, body, rest) = tlv(der);
        assert_eq!(
            (tag, rest.len()),
            (0x61, 0),
            "[APPLICATION 1] and nothing after"
        );
        let (tag, mut seq, _) = tlv(body);
        assert_eq!(tag, 0x30);
        let (mut realm, mut sname, mut etype, mut kvno) = (String::new(), vec![], 0, None);
        while !seq.is_empty() {
            let (tag, field, rest) = tlv(seq);
            seq = rest;
            match tag {
                0xa0 => assert_eq!(int(field), 5), // tkt-vno
                0xa1 => realm = String::from_utf8(tlv(field).1.to_vec()).unwrap(),
                0xa2 => {
                    let (_, mut name, _) = tlv(field);
                    while !name.is_empty() {
                        let (tag, part, rest) = tlv(name);
                        name = rest;
                        if tag == 0xa1 {
                            let (_, mut strings, _) = tlv(part);
                            while !strings.is_empty() {
                                let (_, s, rest) = tlv(strings);
                                sname.push(String::from_utf8(s.to_vec()).unwrap());
                                strings = rest;
                            }
                        }
                    }
                }
                0xa3 => {
                    let (_, mut enc, _) = tlv(field);
                    while !enc.is_empty() {
                        let (tag, part, rest) = tlv(enc);
                        enc = rest;
                        match tag {
                            0xa0 => etype = int(part),
                            0xa1 => kvno = Some(int(part)),
                            _ => {}
                        }
                    }
                }
                _ => panic!("unexpected Ticket field {tag:#x}"),
            }
        }
        (realm, sname, etype, kvno)
    }

    fn user() -> Principal {
        Principal::parse("smbkituser@SMBKIT.TEST").unwrap()
    }

    /// Checks the two configuration entries `kinit` wrote: "config:
    /// fast_avail(krbtgt/SMBKIT.TEST@SMBKIT.TEST) = yes", "config:
    /// pa_type(krbtgt/SMBKIT.TEST@SMBKIT.TEST) = 2".
    fn check_config_entries(c: &Ccache) {
        let tgs = Principal::krbtgt("SMBKIT.TEST");
        let conf: Vec<_> = c.config_entries().collect();
        assert_eq!(conf.len(), 2);
        for e in &conf {
            assert!(e.is_config && e.server.is_config());
            assert_eq!(e.client, user());
            assert_eq!(e.server.realm, "X-CACHECONF:");
            assert_eq!(e.server.components[0], CONFIG_NAME);
            assert_eq!(e.server.components[2], "krbtgt/SMBKIT.TEST@SMBKIT.TEST");
            assert_eq!((e.key.enctype, e.key.key.len(), e.end_time), (0, 0, 0));
            assert!(e.is_expired_at(0));
            assert!(!e.is_tgt());
        }
        assert_eq!(c.config("fast_avail", Some(&tgs)), Some(&b"yes"[..]));
        assert_eq!(c.config("pa_type", Some(&tgs)), Some(&b"2"[..]));
        assert_eq!(c.config("pa_type", None), None);
        assert_eq!(c.config("refresh_time", Some(&tgs)), None);
        // Never a ticket, even when asked for by name.
        assert!(c.find(&conf[0].server).is_none());
        assert!(c.tickets().all(|t| !t.is_config));
    }

    /// Checks the TGT: "krbtgt/SMBKIT.TEST@SMBKIT.TEST ... Flags: RIA,
    /// Etype (skey, tkt): aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96".
    fn check_tgt(c: &Ccache, flags: u32) {
        let tgt = c.tgt("SMBKIT.TEST").expect("the TGT");
        assert!(tgt.is_tgt() && !tgt.is_config);
        assert_eq!(tgt.client, user());
        assert_eq!(tgt.server, Principal::krbtgt("SMBKIT.TEST"));
        assert_eq!(tgt.server.name_type, Principal::NT_SRV_INST);
        assert_eq!(tgt.server.to_string(), "krbtgt/SMBKIT.TEST@SMBKIT.TEST");
        assert_eq!(tgt.key.enctype, enctype::AES256_CTS_HMAC_SHA1_96);
        assert_eq!(tgt.key.key.len(), 32);
        // authtime is not printed by klist; for an AS reply it is the start.
        assert_eq!(
            (tgt.auth_time, tgt.start_time, tgt.end_time, tgt.renew_till),
            (START, START, END, RENEW)
        );
        assert_eq!(tgt.ticket_flags, flags);
        assert!(!tgt.is_skey);
        assert!(tgt.addresses.is_empty() && tgt.authdata.is_empty());
        assert!(tgt.second_ticket.is_empty());
        assert_eq!(tgt.ticket.len(), 1151);
        let (realm, sname, etype, _) = ticket_fields(&tgt.ticket);
        assert_eq!((realm.as_str(), etype), ("SMBKIT.TEST", 18));
        assert_eq!(sname, tgt.server.components);
        assert!(!tgt.is_expired_at(u64::from(START)));
        assert!(!tgt.is_expired_at(u64::from(END) - 1));
        assert!(tgt.is_expired_at(u64::from(END)));
        assert!(c.tgt("OTHER.TEST").is_none());
    }

    #[test]
    fn captured_tgt_cache_matches_klist() {
        let c = Ccache::parse(KRBTGT).unwrap();
        assert_eq!(c.version, Ccache::VERSION_4);
        // MIT writes the KDC offset tag (zero here: the clocks agree).
        assert_eq!(&KRBTGT[2..8], [0x00, 0x0c, 0x00, 0x01, 0x00, 0x08]);
        assert_eq!(c.kdc_offset, Some((0, 0)));
        assert_eq!(c.default_principal, user());
        assert_eq!(c.default_principal.name_type, Principal::NT_PRINCIPAL);
        assert_eq!(c.default_principal.to_string(), "smbkituser@SMBKIT.TEST");
        assert_eq!(c.credentials.len(), 3);
        assert_eq!(c.tickets().count(), 1);
        check_config_entries(&c);
        // The TGT also has enc-pa-rep (RFC 6806), which klist does not show.
        check_tgt(&c, RENEWABLE | INITIAL | PRE_AUTHENT | ENC_PA_REP);
    }

    #[test]
    fn captured_service_ticket_matches_klist_and_kvno() {
        let c = Ccache::parse(SERVICE).unwrap();
        assert_eq!(c.credentials.len(), 4);
        check_config_entries(&c);
        check_tgt(&c, RENEWABLE | INITIAL | PRE_AUTHENT | ENC_PA_REP);
        // "cifs/smbkitdc.smbkit.test@SMBKIT.TEST ... Flags: RATO, Etype
        // (skey, tkt): aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96",
        // and kvno printed "kvno = 1".
        let spn = Principal::parse("cifs/smbkitdc.smbkit.test@SMBKIT.TEST").unwrap();
        let t = c.find(&spn).expect("the service ticket");
        assert!(!t.is_tgt());
        assert_eq!(
            t.server,
            Principal::new(1, "SMBKIT.TEST", spn.components.clone())
        );
        assert_eq!(t.key.enctype, enctype::AES256_CTS_HMAC_SHA1_96);
        assert_eq!(t.key.key.len(), 32);
        assert_eq!(
            (t.auth_time, t.start_time, t.end_time, t.renew_till),
            (START, START, END, RENEW)
        );
        assert_eq!(
            t.ticket_flags,
            RENEWABLE | PRE_AUTHENT | TRANSITED_POLICY_CHECKED | OK_AS_DELEGATE
        );
        assert_eq!(t.ticket.len(), 1169);
        let (realm, sname, etype, kvno) = ticket_fields(&t.ticket);
        assert_eq!((realm.as_str(), etype, kvno), ("SMBKIT.TEST", 18, Some(1)));
        assert_eq!(sname, ["cifs", "smbkitdc.smbkit.test"]);
        // Host names compare without case, the realm and service exactly.
        let upper = Principal::parse("cifs/SMBKITDC.smbkit.TEST@SMBKIT.TEST").unwrap();
        assert!(std::ptr::eq(c.find(&upper).unwrap(), t));
        assert!(c
            .find(&Principal::parse("CIFS/smbkitdc.smbkit.test@SMBKIT.TEST").unwrap())
            .is_none());
        assert!(c
            .find(&Principal::parse("cifs/smbkitdc.smbkit.test@smbkit.test").unwrap())
            .is_none());
        assert!(c
            .find(&Principal::parse("cifs/other@SMBKIT.TEST").unwrap())
            .is_none());
        assert!(c.find(&Principal::krbtgt("SMBKIT.TEST")).unwrap().is_tgt());
    }

    #[test]
    fn captured_version_3_cache_matches_klist() {
        // "Flags: FRIA", aes256 for both, no addresses.
        let c = Ccache::parse(V3).unwrap();
        assert_eq!(c.version, Ccache::VERSION_3);
        assert_eq!(c.kdc_offset, None);
        assert_eq!(c.default_principal, user());
        assert_eq!(c.credentials.len(), 3);
        check_config_entries(&c);
        check_tgt(
            &c,
            FORWARDABLE | RENEWABLE | INITIAL | PRE_AUTHENT | ENC_PA_REP,
        );
        // The same cache as version 4.
        let mut v4 = c.clone();
        v4.version = Ccache::VERSION_4;
        let b = v4.encode().unwrap();
        assert_eq!(b.len(), V3.len() - 3 * 2 + 2);
        assert_eq!(Ccache::parse(&b).unwrap(), v4);
    }

    #[test]
    fn encode_reproduces_the_captured_files() {
        for file in [KRBTGT, SERVICE, V3] {
            let c = Ccache::parse(file).unwrap();
            assert_eq!(c.encode().unwrap(), file);
        }
    }

    /// Asserts that `parse` fails on every proper prefix of `file` except
    /// those that end exactly after a record, where `is_prefix` must hold;
    /// returns how many prefixes parsed.
    pub(in crate::kerberos) fn assert_prefixes<T: fmt::Debug>(
        file: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, DecodeError>,
        is_prefix: impl Fn(&T, &[u8]) -> bool,
    ) -> usize {
        let mut parsed = 0;
        for len in 0..file.len() {
            if let Ok(v) = parse(&file[..len]) {
                assert!(is_prefix(&v, &file[..len]), "{len}-byte prefix: {v:?}");
                parsed += 1;
            }
        }
        parsed
    }

    #[test]
    fn truncations_fail_except_between_credentials() {
        for file in [KRBTGT, SERVICE, V3] {
            let full = Ccache::parse(file).unwrap();
            let parsed = assert_prefixes(file, Ccache::parse, |c, bytes| {
                c.encode().unwrap() == bytes
                    && full.credentials.starts_with(&c.credentials)
                    && c.credentials.len() < full.credentials.len()
            });
            // No credential, one, ... all but the last.
            assert_eq!(parsed, full.credentials.len());
        }
    }

    #[test]
    fn corruption_never_panics() {
        mutate_never_panics(SERVICE, Ccache::parse);
        mutate_never_panics(V3, Ccache::parse);
    }

    /// A small version 4 cache with one credential whose variable fields
    /// are all empty: its last 16 bytes are the address count, the authdata
    /// count and the two ticket lengths.
    fn small() -> (Ccache, Vec<u8>) {
        let me = Principal::parse("u@R").unwrap();
        let mut c = Ccache::new(me.clone());
        c.credentials.push(Credential {
            client: me,
            server: Principal::krbtgt("R"),
            key: SessionKey::new(0, vec![]),
            auth_time: 1,
            start_time: 2,
            end_time: 3,
            renew_till: 4,
            is_skey: false,
            ticket_flags: 0,
            addresses: vec![],
            authdata: vec![],
            ticket: vec![],
            second_ticket: vec![],
            is_config: false,
        });
        let b = c.encode().unwrap();
        (c, b)
    }

    fn patched(file: &[u8], at: usize, v: u32) -> Vec<u8> {
        let mut b = file.to_vec();
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        b
    }

    #[test]
    fn hostile_lengths_and_counts_fail_without_allocating() {
        let (c, b) = small();
        assert_eq!(Ccache::parse(&b).unwrap(), c);
        let n = b.len();
        // Lengths of u32::MAX are checked against what is left before
        // anything is copied.
        for at in [n - 8, n - 4] {
            let r = Ccache::parse(&patched(&b, at, u32::MAX));
            assert!(
                matches!(r, Err(DecodeError::Truncated { needed, .. }) if needed == u32::MAX as usize),
                "{r:?}"
            );
        }
        // The realm of the default principal (after version, header length,
        // name type and count).
        assert!(matches!(
            Ccache::parse(&patched(&b, 12, u32::MAX)),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(Ccache::parse(&patched(&b, 12, 2)).is_err());
        // Counts over the limits.
        let over = |at, v: u32| Ccache::parse(&patched(&b, at, v));
        for (at, what, limit) in [
            (n - 16, "ccache address count", MAX_ADDRESSES),
            (n - 12, "ccache authdata count", MAX_AUTHDATA),
            (8, "ccache principal component count", MAX_COMPONENTS),
        ] {
            for v in [u32::MAX, limit as u32 + 1] {
                assert_eq!(
                    over(at, v),
                    Err(too_many(what, v as usize, limit)),
                    "{what} {v}"
                );
            }
            // Within the limit, but the elements are missing.
            assert!(matches!(
                over(at, limit as u32),
                Err(DecodeError::Truncated { .. })
            ));
        }
        // A header longer than the file, a field longer than the header.
        let mut h = b.clone();
        h[2..4].copy_from_slice(&0xFFFFu16.to_be_bytes());
        assert!(matches!(
            Ccache::parse(&h),
            Err(DecodeError::Truncated { .. })
        ));
        let offset = |secs: i32, usecs: i32, tag_len: u16| {
            let mut f = vec![0x05, 0x04, 0x00, 0x0c, 0x00, 0x01];
            f.extend_from_slice(&tag_len.to_be_bytes());
            f.extend_from_slice(&secs.to_be_bytes());
            f.extend_from_slice(&usecs.to_be_bytes());
            f.extend_from_slice(&b[4..]);
            Ccache::parse(&f)
        };
        assert_eq!(
            offset(-3, 250_000, 8).unwrap().kdc_offset,
            Some((-3, 250_000))
        );
        assert!(matches!(
            offset(0, 0, 9),
            Err(DecodeError::Truncated { .. })
        ));
        assert_eq!(
            offset(0, 0, 4),
            Err(DecodeError::invalid(
                "ccache KDC time offset",
                "length 4, the format says 8"
            ))
        );
    }

    #[test]
    fn too_many_credentials_are_refused() {
        let (mut c, b) = small();
        let body = &b[4 + 8 + 4 + 1 + 4 + 1..]; // one credential
        let mut f = b[..b.len() - body.len()].to_vec();
        for _ in 0..MAX_CREDENTIALS {
            f.extend_from_slice(body);
        }
        assert_eq!(
            Ccache::parse(&f).unwrap().credentials.len(),
            MAX_CREDENTIALS
        );
        f.extend_from_slice(body);
        assert_eq!(
            Ccache::parse(&f),
            Err(too_many(
                "ccache credentials",
                MAX_CREDENTIALS + 1,
                MAX_CREDENTIALS
            ))
        );
        c.credentials = vec![c.credentials[0].clone(); MAX_CREDENTIALS + 1];
        assert_too_large(
            c.encode(),
            "ccache credentials",
            MAX_CREDENTIALS + 1,
            MAX_CREDENTIALS,
        );
    }

    #[test]
    fn versions_other_than_3_and_4_are_named_in_the_error() {
        for (v, says) in [
            (0x0501u16, "0x0501 uses the writer's native byte order"),
            (0x0502, "0x0502 uses the writer's native byte order"),
            (0x0505, "0x0505 is not a known version"),
            (0x0504u16.swap_bytes(), "0x0405: not a credential cache"),
            (0, "0x0000: not a credential cache"),
        ] {
            let mut f = KRBTGT.to_vec();
            f[..2].copy_from_slice(&v.to_be_bytes());
            match Ccache::parse(&f) {
                Err(DecodeError::Invalid { what, detail }) => {
                    assert_eq!(what, "ccache file format version");
                    assert!(detail.starts_with(says), "{detail}");
                }
                other => panic!("{v:#x}: {other:?}"),
            }
        }
        assert!(Ccache::parse(&[]).is_err());
        assert!(Ccache::parse(&[0x05]).is_err());
    }

    #[test]
    fn names_must_be_utf8() {
        let (_, b) = small();
        let mut bad = b.clone();
        // The default principal's realm "R" (after its length at 12).
        assert_eq!(bad[16], b'R');
        bad[16] = 0xff;
        assert_eq!(
            Ccache::parse(&bad),
            Err(DecodeError::invalid(
                "ccache principal realm",
                "not UTF-8 (bad byte at offset 0)"
            ))
        );
    }

    #[test]
    fn unknown_header_tags_are_skipped_and_fields_round_trip() {
        let (mut c, b) = small();
        let mut f = vec![0x05, 0x04, 0x00, 0x07, 0x7f, 0x00, 0x00, 0x03, 1, 2, 3];
        f.extend_from_slice(&b[4..]);
        assert_eq!(Ccache::parse(&f).unwrap(), c);
        // Everything a credential holds survives a round trip.
        let cred = &mut c.credentials[0];
        cred.key = SessionKey::new(-128, vec![1, 2, 3]);
        cred.is_skey = true;
        cred.ticket_flags = FORWARDABLE | RENEWABLE;
        cred.addresses = vec![
            Address {
                addr_type: 2,
                address: vec![127, 0, 0, 1],
            },
            Address {
                addr_type: 24,
                address: vec![0; 16],
            },
        ];
        cred.authdata = vec![AuthData {
            ad_type: -1,
            data: b"local".to_vec(),
        }];
        cred.ticket = vec![0x61; 300];
        cred.second_ticket = vec![0x61; 5];
        c.kdc_offset = Some((i32::MIN, -1));
        for version in [Ccache::VERSION_4, Ccache::VERSION_3] {
            if version == Ccache::VERSION_3 {
                c.kdc_offset = None;
            }
            c.version = version;
            let b = c.encode().unwrap();
            assert_eq!(Ccache::parse(&b).unwrap(), c);
        }
    }

    #[test]
    fn encode_refuses_what_the_format_cannot_carry() {
        let (mut c, _) = small();
        c.credentials[0].key.enctype = 0x8000;
        assert!(matches!(
            c.encode(),
            Err(EncodeError::Invalid {
                what: "ccache keyblock enctype",
                ..
            })
        ));
        c.credentials[0].key.enctype = -32768;
        assert!(c.encode().is_ok());
        c.credentials[0].authdata = vec![AuthData {
            ad_type: 70000,
            data: vec![],
        }];
        assert!(matches!(
            c.encode(),
            Err(EncodeError::Invalid {
                what: "ccache ad_type",
                ..
            })
        ));
        let (mut c, _) = small();
        c.version = Ccache::VERSION_3;
        c.kdc_offset = Some((1, 0));
        assert!(matches!(
            c.encode(),
            Err(EncodeError::Invalid {
                what: "ccache KDC time offset",
                ..
            })
        ));
        c.version = 0x0502;
        assert!(c.encode().is_err());
        let (mut c, _) = small();
        c.default_principal.components = vec![String::new(); MAX_COMPONENTS + 1];
        assert_too_large(
            c.encode(),
            "ccache principal component count",
            MAX_COMPONENTS + 1,
            MAX_COMPONENTS,
        );
        let (mut c, _) = small();
        c.credentials[0].addresses = vec![
            Address {
                addr_type: 2,
                address: vec![]
            };
            MAX_ADDRESSES + 1
        ];
        assert_too_large(
            c.encode(),
            "ccache address count",
            MAX_ADDRESSES + 1,
            MAX_ADDRESSES,
        );
    }

    #[test]
    fn debug_never_shows_the_session_key() {
        let c = Ccache::parse(SERVICE).unwrap();
        let t = c
            .find(&Principal::parse("cifs/smbkitdc.smbkit.test@SMBKIT.TEST").unwrap())
            .unwrap();
        let key_list = format!("{:?}", t.key.key.as_slice());
        for shown in [format!("{c:?}"), format!("{t:?}"), format!("{:?}", t.key)] {
            assert!(!shown.contains(&key_list));
            assert!(shown.contains("<32 bytes>"), "{shown}");
        }
        assert!(format!("{t:?}").contains("ticket: <1169 bytes>"));
        assert!(format!("{t:?}").contains("server: cifs/smbkitdc.smbkit.test@SMBKIT.TEST"));
    }

    #[test]
    fn principal_names_parse_and_print_as_mit_does() {
        let p = Principal::parse("host/a\\/b\\@c@EX/AMPLE\\@X").unwrap();
        assert_eq!(p.components, ["host", "a/b@c"]);
        assert_eq!(p.realm, "EX/AMPLE@X");
        assert_eq!(p.name_type, Principal::NT_PRINCIPAL);
        assert_eq!(p.to_string(), "host/a\\/b\\@c@EX\\/AMPLE\\@X");
        assert_eq!(Principal::parse(&p.to_string()).unwrap(), p);
        let ctl = Principal::new(1, "R\\", vec!["a\0\n\t\u{8}\\".into()]);
        assert_eq!(ctl.to_string(), "a\\0\\n\\t\\b\\\\@R\\\\");
        assert_eq!(Principal::parse(&ctl.to_string()).unwrap(), ctl);
        assert_eq!(
            Principal::parse("krbtgt/R@R").unwrap(),
            Principal::krbtgt("R")
        );
        assert_eq!(
            Principal::parse("a//b@R").unwrap().components,
            ["a", "", "b"]
        );
        assert_eq!(
            Principal::from_name("alice", "EXAMPLE.TEST").unwrap(),
            Principal::parse("alice@EXAMPLE.TEST").unwrap()
        );
        assert_eq!(
            Principal::from_name("alice@OTHER", "EXAMPLE.TEST")
                .unwrap()
                .realm,
            "OTHER"
        );
        for bad in ["alice", "", "@R", "a@", "a@b@c", "a@R\\", "a\\"] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
        assert!(Principal::from_name("alice", "").is_err());
        let many = format!("{}@R", vec!["x"; MAX_COMPONENTS + 1].join("/"));
        assert!(matches!(
            Principal::parse(&many),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn principals_match_by_realm_service_and_host() {
        let a = Principal::parse("cifs/Host.Example.Test@EXAMPLE.TEST").unwrap();
        let mut b = Principal::parse("cifs/host.example.test@EXAMPLE.TEST").unwrap();
        assert!(a.matches(&b) && b.matches(&a));
        b.name_type = Principal::NT_SRV_HST;
        assert!(a.matches(&b));
        assert!(!a.matches(&Principal::parse("CIFS/host.example.test@EXAMPLE.TEST").unwrap()));
        assert!(!a.matches(&Principal::parse("cifs/host.example.test@example.test").unwrap()));
        assert!(!a.matches(&Principal::parse("cifs@EXAMPLE.TEST").unwrap()));
        assert!(!a.matches(&Principal::parse("cifs/host.example.test/x@EXAMPLE.TEST").unwrap()));
    }

    #[test]
    fn the_latest_ticket_wins() {
        let (mut c, _) = small();
        let mut later = c.credentials[0].clone();
        later.end_time = 10;
        let mut same = later.clone();
        same.auth_time = 99;
        c.credentials.push(later);
        c.credentials.push(same);
        c.credentials.push(c.credentials[0].clone());
        let t = c.tgt("R").unwrap();
        assert_eq!((t.end_time, t.auth_time), (10, 99));
        assert!(std::ptr::eq(c.find(&Principal::krbtgt("R")).unwrap(), t));
    }
}
