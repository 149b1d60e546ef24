//! MIT keytab files: the `FILE:` keytab format of MIT krb5 ("keytab file
//! format", `doc/formats/keytab_file_format.rst`), which `ktutil`,
//! `samba-tool domain exportkeytab`, Heimdal and Windows' `ktpass` write.
//!
//! A file is the version `0x05 0x02` and then a sequence of records, each
//! a signed 32-bit length and that many bytes: "A positive record length
//! indicates a valid key entry whose size is equal to or less than the
//! record length. A negative length indicates a zero-filled hole whose
//! size is the inverse of the length. A length of 0 indicates the end of
//! the file." MIT leaves a hole where it removes an entry, and may later
//! put a smaller entry into a hole, zero-padded to the hole's size. All
//! integers are big-endian. Version 1 (`0x05 0x01`, native byte order,
//! realm counted among the components, no name type) is refused with a
//! [`DecodeError::Invalid`] naming it.
//!
//! ```text
//! entry     ::= count of components (16) realm (data) component (data)*
//!               name type (32) timestamp (32) key version (8)
//!               enctype (16) key (data) [key version (32)] [...]
//! data      ::= length (16) value
//! ```
//!
//! When at least 4 bytes of the record follow the key, they are a 32-bit
//! key version, which "supersedes the 8-bit key version" unless it is 0
//! (MIT krb5 writes it; Heimdal and Samba also write 32 bits of flags
//! after it, which are not kept).
//!
//! Every length is checked against its record before anything is copied,
//! and component and entry counts are capped ([`MAX_COMPONENTS`],
//! [`MAX_ENTRIES`]). Names are strict UTF-8. Keys are held in
//! [`Zeroizing`] buffers and never printed by `Debug`.

use std::fmt;

use zeroize::Zeroizing;

use super::ccache::{enctype, sign_extend, utf8, wire_i16, Principal};
use crate::codec::{count_u16, wire_u16, DecodeError, EncodeError, Reader, Writer};

pub use super::ccache::MAX_COMPONENTS;

/// The most entries one keytab may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// One key of a keytab.
///
/// `Debug` shows the encryption type and the key's length, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    /// Whose key this is.
    pub principal: Principal,
    /// When the entry was written, in seconds since the Unix epoch.
    pub timestamp: u32,
    /// The key version number: the 32-bit field when present and not 0,
    /// else the 8-bit one.
    pub kvno: u32,
    /// The encryption type (see [`enctype`]).
    pub enctype: i32,
    /// The key bytes, wiped when dropped.
    pub key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabEntry")
            .field("principal", &format_args!("{}", self.principal))
            .field("timestamp", &self.timestamp)
            .field("kvno", &self.kvno)
            .field("enctype", &self.enctype)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

/// An MIT keytab file, version 2.
///
/// ```
/// use smbkit_proto::kerberos::ccache::{enctype, Principal};
/// use smbkit_proto::kerberos::keytab::{Keytab, KeytabEntry};
/// use zeroize::Zeroizing;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let alice = Principal::parse("alice@EXAMPLE.TEST")?;
/// let entry = |kvno, enctype, len| KeytabEntry {
///     principal: alice.clone(),
///     timestamp: 1_700_000_000,
///     kvno,
///     enctype,
///     key: Zeroizing::new(vec![0x11; len]),
/// };
/// let keytab = Keytab {
///     entries: vec![
///         entry(2, enctype::AES128_CTS_HMAC_SHA1_96, 16),
///         entry(2, enctype::AES256_CTS_HMAC_SHA1_96, 32),
///         entry(1, enctype::AES256_CTS_HMAC_SHA1_96, 32),
///     ],
/// };
/// let back = Keytab::parse(&keytab.encode()?)?;
/// assert_eq!(back, keytab);
/// let best = back.find(&alice, None).expect("a key");
/// assert_eq!((best.kvno, best.enctype), (2, enctype::AES256_CTS_HMAC_SHA1_96));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keytab {
    /// The entries in file order (holes left out).
    pub entries: Vec<KeytabEntry>,
}

impl Keytab {
    /// The version bytes this module reads and writes: `0x05 0x02`.
    pub const VERSION: u16 = 0x0502;

    /// Parses a whole keytab file.
    ///
    /// Holes are skipped; a record length of 0 ends the file (what follows
    /// it is not read, as in MIT's reader). Bytes of a record after the
    /// entry and its 32-bit key version (Heimdal's flags, or the padding of
    /// an entry put into a larger hole) are ignored. A record or hole that
    /// runs past the end of the file is an error, as is a record length cut
    /// short.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Invalid`] for a version other than `0x0502` (naming
    /// it) or a name that is not UTF-8, [`DecodeError::Truncated`] when a
    /// record, a hole or a field runs past the end of its record or the
    /// file, and [`DecodeError::TooLarge`] for more components or entries
    /// than the limits of this module allow.
    pub fn parse(file: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(file);
        let version = r.u16_be("keytab file format version")?;
        match version {
            Self::VERSION => {}
            0x0501 => {
                return Err(DecodeError::invalid(
                    "keytab file format version",
                    "0x0501 uses the writer's native byte order and is not supported",
                ))
            }
            v if v >> 8 != 5 => {
                return Err(DecodeError::invalid(
                    "keytab file format version",
                    format!("{v:#06x}: not a keytab (the first byte is not 5)"),
                ))
            }
            v => {
                return Err(DecodeError::invalid(
                    "keytab file format version",
                    format!("{v:#06x} is not a known version"),
                ))
            }
        }
        let mut entries = Vec::new();
        while r.remaining() > 0 {
            let size = i32::from_be_bytes(r.array("keytab record length")?);
            if size == 0 {
                break;
            }
            let len = usize::try_from(size.unsigned_abs()).unwrap_or(usize::MAX);
            if size < 0 {
                r.skip(len, "keytab hole")?;
                continue;
            }
            if entries.len() == MAX_ENTRIES {
                return Err(DecodeError::TooLarge {
                    what: "keytab entries",
                    length: MAX_ENTRIES + 1,
                    limit: MAX_ENTRIES,
                });
            }
            entries.push(read_entry(r.take(len, "keytab record")?)?);
        }
        Ok(Keytab { entries })
    }

    /// The file, as MIT krb5 writes it: one record per entry, exactly as
    /// long as the entry, each with the 8-bit key version (the low 8 bits
    /// of [`KeytabEntry::kvno`]) and the 32-bit one.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] when a name or key is longer than its 16-bit length
    /// can say, a principal has more than [`MAX_COMPONENTS`] components,
    /// an enctype does not fit 16 bits, or there are more than
    /// [`MAX_ENTRIES`] entries.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.entries.len() > MAX_ENTRIES {
            return Err(EncodeError::too_many(
                "keytab entries",
                "entries",
                self.entries.len(),
                MAX_ENTRIES,
            ));
        }
        let mut w = Writer::new();
        w.u16_be(Self::VERSION);
        for e in &self.entries {
            let start = w.len();
            w.u32_be(0); // the record length, patched below
            write_entry(&mut w, e)?;
            let len = w.len() - start - 4;
            let size = i32::try_from(len).map_err(|_| {
                EncodeError::too_long(
                    "keytab record length",
                    len,
                    usize::try_from(i32::MAX).unwrap_or(usize::MAX),
                )
            })?;
            w.as_mut_slice()[start..start + 4].copy_from_slice(&size.to_be_bytes());
        }
        Ok(w.into_vec())
    }

    /// The key for `principal` (compared as [`Principal::matches`] does:
    /// realm and first component exactly, host names without ASCII case,
    /// name types ignored) with the highest key version, of `enctype` when
    /// one is given. Without one, among the keys of the highest version
    /// aes256-cts-hmac-sha1-96 is preferred, then aes128-cts-hmac-sha1-96,
    /// then the first other in the file.
    pub fn find(&self, principal: &Principal, enctype: Option<i32>) -> Option<&KeytabEntry> {
        let rank = |e: &KeytabEntry| {
            let preference = match e.enctype {
                enctype::AES256_CTS_HMAC_SHA1_96 => 2,
                enctype::AES128_CTS_HMAC_SHA1_96 => 1,
                _ => 0,
            };
            (e.kvno, preference)
        };
        self.entries
            .iter()
            .filter(|e| e.principal.matches(principal))
            .filter(|e| enctype.is_none_or(|t| e.enctype == t))
            .fold(None, |best: Option<&KeytabEntry>, e| match best {
                Some(b) if rank(b) >= rank(e) => Some(b),
                _ => Some(e),
            })
    }
}

/// Reads a `data ::= length (16 bits) value` that must be UTF-8.
fn read_string(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    let len = usize::from(r.u16_be(what)?);
    utf8(r.take(len, what)?, what)
}

/// Reads the entry of one record.
fn read_entry(record: &[u8]) -> Result<KeytabEntry, DecodeError> {
    let mut r = Reader::new(record);
    let count = usize::from(r.u16_be("keytab principal component count")?);
    if count > MAX_COMPONENTS {
        return Err(DecodeError::TooLarge {
            what: "keytab principal component count",
            length: count,
            limit: MAX_COMPONENTS,
        });
    }
    let realm = read_string(&mut r, "keytab principal realm")?;
    let mut components = Vec::new();
    for _ in 0..count {
        components.push(read_string(&mut r, "keytab principal component")?);
    }
    let name_type = r.u32_be("keytab principal name type")?;
    let timestamp = r.u32_be("keytab timestamp")?;
    let vno8 = r.u8("keytab key version")?;
    let enctype = sign_extend(r.u16_be("keytab enctype")?);
    let key_len = usize::from(r.u16_be("keytab key length")?);
    let key = Zeroizing::new(r.take(key_len, "keytab key")?.to_vec());
    let mut kvno = u32::from(vno8);
    if r.remaining() >= 4 {
        let vno32 = r.u32_be("keytab 32-bit key version")?;
        if vno32 != 0 {
            kvno = vno32;
        }
    }
    Ok(KeytabEntry {
        principal: Principal {
            name_type,
            realm,
            components,
        },
        timestamp,
        kvno,
        enctype,
        key,
    })
}

fn write_string(w: &mut Writer, s: &[u8], what: &'static str) -> Result<(), EncodeError> {
    w.u16_be(wire_u16(s.len(), what)?).bytes(s);
    Ok(())
}

fn write_entry(w: &mut Writer, e: &KeytabEntry) -> Result<(), EncodeError> {
    let p = &e.principal;
    let what = "keytab principal component count";
    if p.components.len() > MAX_COMPONENTS {
        return Err(EncodeError::too_many(
            what,
            "components",
            p.components.len(),
            MAX_COMPONENTS,
        ));
    }
    w.u16_be(count_u16(p.components.len(), what, "components")?);
    write_string(w, p.realm.as_bytes(), "keytab principal realm")?;
    for c in &p.components {
        write_string(w, c.as_bytes(), "keytab principal component")?;
    }
    let [.., vno8] = e.kvno.to_be_bytes();
    w.u32_be(p.name_type)
        .u32_be(e.timestamp)
        .u8(vno8)
        .u16_be(wire_i16(e.enctype, "keytab enctype")?);
    write_string(w, &e.key, "keytab key")?;
    w.u32_be(e.kvno);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::assert_too_large;
    use crate::kerberos::ccache::tests::assert_prefixes;
    use crate::smb2::testutil::mutate_never_panics;

    // Written by MIT krb5 1.20.1's ktutil (`addent -password -p
    // someone@EXAMPLE.TEST -k 3 -e aes256-cts-hmac-sha1-96`, the same with
    // aes128, `HTTP/web.example.test@EXAMPLE.TEST -k 7` aes256, `wkt`);
    // the same after `krb5_kt_remove_entry` of the aes128 key (a hole),
    // and after ktutil then wrote `a@EXAMPLE.TEST` into that hole; and by
    // `samba-tool domain exportkeytab` for smbkituser@SMBKIT.TEST (see
    // testdata/README.md).
    const SOMEONE: &[u8] = include_bytes!("testdata/someone.keytab");
    const HOLE: &[u8] = include_bytes!("testdata/hole.keytab");
    const REUSED: &[u8] = include_bytes!("testdata/reused.keytab");
    const SAMBA: &[u8] = include_bytes!("testdata/samba.keytab");

    // `klist -k -t -K -e` printed "12/07/26 01:54:59" for the ktutil
    // entries, "12/07/26 01:56:03" for a@EXAMPLE.TEST and "12/07/26
    // 01:56:12" for Samba's (UTC).
    const KTUTIL_TIME: u32 = 1_796_608_499;
    const REUSED_TIME: u32 = 1_796_608_563;
    const SAMBA_TIME: u32 = 1_796_608_572;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn entry(name: &str, time: u32, kvno: u32, enctype: i32, key: &str) -> KeytabEntry {
        KeytabEntry {
            principal: Principal::parse(name).unwrap(),
            timestamp: time,
            kvno,
            enctype,
            key: Zeroizing::new(hex(key)),
        }
    }

    /// "3 someone@EXAMPLE.TEST (aes256-cts-hmac-sha1-96) (0x979d…)".
    fn someone_aes256() -> KeytabEntry {
        entry(
            "someone@EXAMPLE.TEST",
            KTUTIL_TIME,
            3,
            18,
            "979d6e51fb555c299fbd5f526db30e6f141c006d3bb60aefa31a896c43484e68",
        )
    }

    /// "3 someone@EXAMPLE.TEST (aes128-cts-hmac-sha1-96) (0x8945…)".
    fn someone_aes128() -> KeytabEntry {
        entry(
            "someone@EXAMPLE.TEST",
            KTUTIL_TIME,
            3,
            17,
            "8945acdadc9ab88a3395d67175c2cace",
        )
    }

    /// "7 HTTP/web.example.test@EXAMPLE.TEST (aes256-cts-hmac-sha1-96)".
    fn http_aes256() -> KeytabEntry {
        entry(
            "HTTP/web.example.test@EXAMPLE.TEST",
            KTUTIL_TIME,
            7,
            18,
            "1b40724b17dba94124b200cad282211a1961493060886433284032cba80b1edb",
        )
    }

    fn principal(name: &str) -> Principal {
        Principal::parse(name).unwrap()
    }

    #[test]
    fn ktutil_keytab_matches_klist() {
        let kt = Keytab::parse(SOMEONE).unwrap();
        assert_eq!(
            kt.entries,
            [someone_aes256(), someone_aes128(), http_aes256()]
        );
        // ktutil's names are NT-PRINCIPAL, services included.
        assert!(kt
            .entries
            .iter()
            .all(|e| e.principal.name_type == Principal::NT_PRINCIPAL));
        // MIT writes the 32-bit key version after the key.
        assert_eq!(&SOMEONE[0x4a..0x50], [0x4e, 0x68, 0x00, 0x00, 0x00, 0x03]);
        assert_eq!(kt.encode().unwrap(), SOMEONE);
    }

    #[test]
    fn holes_are_skipped() {
        // klist lists the aes256 key and the HTTP key; the hole is a record
        // length of -58 and 58 zero bytes where the aes128 entry was.
        assert_eq!(&HOLE[0x50..0x54], (-58i32).to_be_bytes());
        let kt = Keytab::parse(HOLE).unwrap();
        assert_eq!(kt.entries, [someone_aes256(), http_aes256()]);
        let compact = kt.encode().unwrap();
        assert_eq!(compact.len(), HOLE.len() - 62);
        assert_eq!(Keytab::parse(&compact).unwrap(), kt);
    }

    #[test]
    fn an_entry_in_a_larger_hole_is_read_within_its_record() {
        // "1 a@EXAMPLE.TEST (aes128-cts-hmac-sha1-96) (0x354e…)": a 52-byte
        // entry (its 32-bit kvno included) in the 58-byte record of the hole.
        assert_eq!(&REUSED[0x50..0x54], 58i32.to_be_bytes());
        let kt = Keytab::parse(REUSED).unwrap();
        let a = entry(
            "a@EXAMPLE.TEST",
            REUSED_TIME,
            1,
            17,
            "354ef6c41cfab84a1bafe69934d1e461",
        );
        assert_eq!(kt.entries, [someone_aes256(), a, http_aes256()]);
        assert_eq!(Keytab::parse(&kt.encode().unwrap()).unwrap(), kt);
    }

    #[test]
    fn samba_keytab_matches_klist() {
        let kt = Keytab::parse(SAMBA).unwrap();
        let user = "smbkituser@SMBKIT.TEST";
        assert_eq!(
            kt.entries,
            [
                entry(
                    user,
                    SAMBA_TIME,
                    2,
                    enctype::AES256_CTS_HMAC_SHA1_96,
                    "bc0187ea75d5d3bb1f1ea4b91776471bd416a2ebb4a11f8e5aa69aba23344277"
                ),
                entry(
                    user,
                    SAMBA_TIME,
                    2,
                    enctype::AES128_CTS_HMAC_SHA1_96,
                    "11c8dddb92c88438cb46315c96db0927"
                ),
                // "DEPRECATED:arcfour-hmac"
                entry(
                    user,
                    SAMBA_TIME,
                    2,
                    enctype::RC4_HMAC,
                    "e58b0ff7389e3072450f1caaca2097f6"
                ),
            ]
        );
        // Samba writes 32 bits of flags after the 32-bit kvno, which are
        // not kept.
        assert_eq!(&SAMBA[2..6], 0x50i32.to_be_bytes());
        let b = kt.encode().unwrap();
        assert_eq!(b.len(), SAMBA.len() - 3 * 4);
        assert_eq!(Keytab::parse(&b).unwrap(), kt);
    }

    #[test]
    fn find_takes_the_highest_kvno_then_the_strongest_enctype() {
        let kt = Keytab::parse(SOMEONE).unwrap();
        let someone = principal("someone@EXAMPLE.TEST");
        assert_eq!(kt.find(&someone, None), Some(&someone_aes256()));
        assert_eq!(kt.find(&someone, Some(17)), Some(&someone_aes128()));
        assert_eq!(kt.find(&someone, Some(23)), None);
        assert_eq!(kt.find(&principal("other@EXAMPLE.TEST"), None), None);
        assert_eq!(kt.find(&principal("someone@example.test"), None), None);
        // Host names compare without case; name types are not compared.
        let mut http = principal("HTTP/WEB.Example.Test@EXAMPLE.TEST");
        http.name_type = Principal::NT_SRV_HST;
        assert_eq!(kt.find(&http, None), Some(&http_aes256()));
        assert_eq!(
            kt.find(&principal("http/web.example.test@EXAMPLE.TEST"), None),
            None
        );

        let samba = Keytab::parse(SAMBA).unwrap();
        let user = principal("smbkituser@SMBKIT.TEST");
        assert_eq!(samba.find(&user, None).unwrap().enctype, 18);
        assert_eq!(samba.find(&user, Some(23)).unwrap().enctype, 23);

        // A newer key version wins over a stronger enctype; among others
        // of one version, the first in the file.
        let with = |kvno, enctype| KeytabEntry {
            kvno,
            enctype,
            ..someone_aes256()
        };
        let kt = Keytab {
            entries: vec![
                with(1, 18),
                with(2, 23),
                with(2, 16),
                with(2, 17),
                with(1, 17),
            ],
        };
        assert_eq!(kt.find(&someone, None), Some(&with(2, 17)));
        assert_eq!(kt.find(&someone, Some(18)), Some(&with(1, 18)));
        let kt = Keytab {
            entries: vec![with(2, 23), with(2, 16)],
        };
        assert_eq!(kt.find(&someone, None), Some(&with(2, 23)));
        assert_eq!(Keytab::default().find(&someone, None), None);
    }

    #[test]
    fn truncations_fail_except_between_records() {
        for file in [SOMEONE, HOLE, REUSED, SAMBA] {
            let full = Keytab::parse(file).unwrap();
            let parsed = assert_prefixes(file, Keytab::parse, |kt, _| {
                full.entries.starts_with(&kt.entries) && kt.entries.len() < full.entries.len()
            });
            // After the version, and after each record but the last.
            assert_eq!(parsed, 3);
        }
        assert_eq!(Keytab::parse(&[5, 2]).unwrap(), Keytab::default());
    }

    #[test]
    fn corruption_never_panics() {
        for file in [SOMEONE, HOLE, REUSED, SAMBA] {
            mutate_never_panics(file, Keytab::parse);
        }
    }

    fn patched(file: &[u8], at: usize, v: &[u8]) -> Vec<u8> {
        let mut b = file.to_vec();
        b[at..at + v.len()].copy_from_slice(v);
        b
    }

    #[test]
    fn hostile_lengths_and_counts_fail_without_allocating() {
        // The first record: its length at 2, the component count at 6, the
        // realm's length at 8, the key's length at 0x2a.
        for size in [i32::MAX, i32::MIN, -0x10000, 0x100] {
            let r = Keytab::parse(&patched(SOMEONE, 2, &size.to_be_bytes()));
            assert!(
                matches!(r, Err(DecodeError::Truncated { .. })),
                "{size}: {r:?}"
            );
        }
        for count in [0xFFFFu16, 65] {
            assert_eq!(
                Keytab::parse(&patched(SOMEONE, 6, &count.to_be_bytes())),
                Err(DecodeError::TooLarge {
                    what: "keytab principal component count",
                    length: usize::from(count),
                    limit: MAX_COMPONENTS
                })
            );
        }
        let r = Keytab::parse(&patched(SOMEONE, 6, &64u16.to_be_bytes()));
        assert!(matches!(r, Err(DecodeError::Truncated { .. })), "{r:?}");
        assert_eq!(&SOMEONE[0x2a..0x2c], [0x00, 0x20]);
        for at in [8, 0x2a] {
            let r = Keytab::parse(&patched(SOMEONE, at, &[0xFF, 0xFF]));
            assert!(matches!(r, Err(DecodeError::Truncated { .. })), "{r:?}");
        }
        // Bad UTF-8 in the realm.
        assert_eq!(
            Keytab::parse(&patched(SOMEONE, 10, &[0xC0])),
            Err(DecodeError::invalid(
                "keytab principal realm",
                "not UTF-8 (bad byte at offset 0)"
            ))
        );
    }

    #[test]
    fn a_zero_record_length_ends_the_file() {
        let mut b = SOMEONE.to_vec();
        b.extend_from_slice(&[0, 0, 0, 0, 0xde, 0xad]);
        assert_eq!(Keytab::parse(&b).unwrap(), Keytab::parse(SOMEONE).unwrap());
        let first = 4 + 0x4a;
        let mut b = SOMEONE[..first + 2].to_vec();
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Keytab::parse(&b).unwrap().entries, [someone_aes256()]);
        // A record length cut short is not the end.
        assert!(Keytab::parse(&SOMEONE[..first + 4]).is_err());
    }

    #[test]
    fn the_32_bit_kvno_overrides_the_8_bit_one_unless_zero() {
        let one = |kvno| {
            Keytab {
                entries: vec![KeytabEntry {
                    kvno,
                    ..someone_aes256()
                }],
            }
            .encode()
            .unwrap()
        };
        // 300: vno8 is its low byte (44), the 32-bit field says 300.
        let b = one(300);
        let n = b.len();
        assert_eq!(b[n - 4 - 2 - 2 - 32 - 1], 44);
        assert_eq!(Keytab::parse(&b).unwrap().entries[0].kvno, 300);
        // A zero 32-bit kvno leaves the 8-bit one.
        let zero = patched(&b, n - 4, &[0, 0, 0, 0]);
        assert_eq!(Keytab::parse(&zero).unwrap().entries[0].kvno, 44);
        // No 32-bit kvno at all (a record 4 bytes shorter), or fewer than
        // 4 bytes after the key.
        for cut in [4, 1] {
            let mut short = b[..n - cut].to_vec();
            let size = i32::try_from(n - 6 - cut).unwrap();
            short[2..6].copy_from_slice(&size.to_be_bytes());
            assert_eq!(Keytab::parse(&short).unwrap().entries[0].kvno, 44);
        }
        assert_eq!(Keytab::parse(&one(0)).unwrap().entries[0].kvno, 0);
        assert_eq!(
            Keytab::parse(&one(u32::MAX)).unwrap().entries[0].kvno,
            u32::MAX
        );
    }

    #[test]
    fn versions_other_than_2_are_named_in_the_error() {
        for (v, says) in [
            (0x0501u16, "0x0501 uses the writer's native byte order"),
            (0x0503, "0x0503 is not a known version"),
            (0x0205, "0x0205: not a keytab"),
        ] {
            match Keytab::parse(&patched(SOMEONE, 0, &v.to_be_bytes())) {
                Err(DecodeError::Invalid { what, detail }) => {
                    assert_eq!(what, "keytab file format version");
                    assert!(detail.starts_with(says), "{detail}");
                }
                other => panic!("{v:#x}: {other:?}"),
            }
        }
        assert!(Keytab::parse(&[]).is_err());
        assert!(Keytab::parse(&[5]).is_err());
    }

    #[test]
    fn too_many_entries_are_refused() {
        let mut minimal = vec![0, 0, 0, 17, 0, 0, 0, 0];
        minimal.extend_from_slice(&[0; 13]);
        let mut b = vec![5, 2];
        for _ in 0..MAX_ENTRIES {
            b.extend_from_slice(&minimal);
        }
        assert_eq!(Keytab::parse(&b).unwrap().entries.len(), MAX_ENTRIES);
        b.extend_from_slice(&minimal);
        assert_eq!(
            Keytab::parse(&b),
            Err(DecodeError::TooLarge {
                what: "keytab entries",
                length: MAX_ENTRIES + 1,
                limit: MAX_ENTRIES
            })
        );
        let kt = Keytab {
            entries: vec![someone_aes128(); MAX_ENTRIES + 1],
        };
        assert_too_large(kt.encode(), "keytab entries", MAX_ENTRIES + 1, MAX_ENTRIES);
    }

    #[test]
    fn encode_refuses_what_the_format_cannot_carry() {
        let with = |f: &dyn Fn(&mut KeytabEntry)| {
            let mut e = someone_aes256();
            f(&mut e);
            Keytab { entries: vec![e] }.encode()
        };
        assert_too_large(
            with(&|e| e.key = Zeroizing::new(vec![0; 0x1_0000])),
            "keytab key",
            0x1_0000,
            0xFFFF,
        );
        assert_too_large(
            with(&|e| e.principal.realm = "R".repeat(0x1_0000)),
            "keytab principal realm",
            0x1_0000,
            0xFFFF,
        );
        assert_too_large(
            with(&|e| e.principal.components = vec![String::new(); MAX_COMPONENTS + 1]),
            "keytab principal component count",
            MAX_COMPONENTS + 1,
            MAX_COMPONENTS,
        );
        assert!(matches!(
            with(&|e| e.enctype = 40_000),
            Err(EncodeError::Invalid {
                what: "keytab enctype",
                ..
            })
        ));
        let b = with(&|e| e.enctype = -128).unwrap();
        assert_eq!(Keytab::parse(&b).unwrap().entries[0].enctype, -128);
    }

    #[test]
    fn debug_never_shows_keys() {
        let kt = Keytab::parse(SOMEONE).unwrap();
        let shown = format!("{kt:?}");
        for e in &kt.entries {
            assert!(!shown.contains(&format!("{:?}", e.key.as_slice())));
        }
        assert!(shown.contains("principal: someone@EXAMPLE.TEST"));
        assert!(shown.contains("key: <32 bytes>") && shown.contains("key: <16 bytes>"));
    }
}
