//! Small helpers over picky-krb's ASN.1 types: authenticators, times and
//! integers.

use picky_asn1::date::GeneralizedTime;
use picky_asn1::wrapper::{
    ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag2, ExplicitContextTag3,
    ExplicitContextTag4, ExplicitContextTag5, ExplicitContextTag6, ExplicitContextTag7,
    GeneralizedTimeAsn1, IntegerAsn1, OctetStringAsn1, Optional,
};
use picky_krb::data_types::{
    Authenticator, AuthenticatorInner, Checksum, EncryptionKey, KerberosTime,
};
use time::OffsetDateTime;

use super::ccache::Principal;
use super::client::principal_name;
use super::error::KerberosError;

/// The largest cusec (RFC 4120 §5.2.4: Microseconds ::= INTEGER (0..999999)).
const MAX_MICROSECONDS: u32 = 999_999;

/// A minimal DER INTEGER for a non-negative value.
pub(crate) fn small_int(v: u64) -> IntegerAsn1 {
    let bytes = v.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    let mut out = bytes[first..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    IntegerAsn1::from_bytes_be_signed(out)
}

/// An Authenticator (RFC 4120 §5.5.1) for `client`, stamped with the
/// system clock (the KDC and the server check it against theirs), and its
/// ctime and cusec (the AP-REP must echo them, §3.2.5).
pub(crate) fn authenticator(
    client: &Principal,
    cksum: Option<Checksum>,
    subkey: Option<EncryptionKey>,
    seq_number: Option<u32>,
) -> Result<(Authenticator, KerberosTime, u32), KerberosError> {
    let now = OffsetDateTime::now_utc();
    let cusec = now.microsecond().min(MAX_MICROSECONDS);
    let ctime: KerberosTime = GeneralizedTimeAsn1::from(GeneralizedTime::from(now));
    let crealm = picky_asn1::restricted_string::IA5String::from_string(client.realm.clone())
        .map_err(|e| KerberosError::build("authenticator realm", e))?;
    let auth = Authenticator::from(AuthenticatorInner {
        authenticator_vno: ExplicitContextTag0::from(small_int(5)),
        crealm: ExplicitContextTag1::from(picky_krb::data_types::Realm::from(crealm)),
        cname: ExplicitContextTag2::from(principal_name(client)?),
        cksum: Optional::from(cksum.map(ExplicitContextTag3::from)),
        cusec: ExplicitContextTag4::from(small_int(u64::from(cusec))),
        ctime: ExplicitContextTag5::from(ctime.clone()),
        subkey: Optional::from(subkey.map(ExplicitContextTag6::from)),
        seq_number: Optional::from(
            seq_number.map(|s| ExplicitContextTag7::from(small_int(u64::from(s)))),
        ),
        authorization_data: Optional::from(None),
    });
    Ok((auth, ctime, cusec))
}

/// An EncryptionKey (RFC 4120 §5.2.9).
pub(crate) fn encryption_key(enctype: i32, key: &[u8]) -> EncryptionKey {
    EncryptionKey {
        key_type: ExplicitContextTag0::from(small_int(u64::try_from(enctype).unwrap_or(0))),
        key_value: ExplicitContextTag1::from(OctetStringAsn1::from(key.to_vec())),
    }
}

/// Seconds since 1970 of a KerberosTime (0 if it is not a valid date).
pub(crate) fn generalized_to_unix(t: &KerberosTime) -> u64 {
    let d: &GeneralizedTime = t;
    let Ok(month) = time::Month::try_from(d.month()) else {
        return 0;
    };
    let Ok(date) = time::Date::from_calendar_date(i32::from(d.year()), month, d.day()) else {
        return 0;
    };
    let Ok(tm) = time::Time::from_hms(d.hour(), d.minute(), d.second()) else {
        return 0;
    };
    u64::try_from(date.with_time(tm).assume_utc().unix_timestamp()).unwrap_or(0)
}

/// The deepest nesting of DER values accepted.
const MAX_DER_DEPTH: u8 = 32;

/// Decodes `bytes` with picky-asn1-der once they are known to be
/// well-formed DER: every length in definite form of at most 4 bytes and
/// inside its parent, tags of at most 5 bytes, nesting at most
/// [`MAX_DER_DEPTH`] deep. The check keeps hostile lengths (2^64 - 1, say)
/// away from the decoder, whose length arithmetic does not expect them.
pub(crate) fn from_der<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    check_der(bytes, 0)?;
    picky_asn1_der::from_bytes(bytes).map_err(|e| e.to_string())
}

/// Walks the TLVs of `b` (see [`from_der`]).
fn check_der(mut b: &[u8], depth: u8) -> Result<(), String> {
    if b.is_empty() && depth == 0 {
        return Err("empty".into());
    }
    while !b.is_empty() {
        let tag = b[0];
        let mut i = 1;
        if tag & 0x1f == 0x1f {
            // High tag number: base-128 bytes, the last without bit 8.
            loop {
                let x = *b.get(i).ok_or("truncated tag")?;
                i += 1;
                if x & 0x80 == 0 {
                    break;
                }
                if i > 5 {
                    return Err("tag too long".into());
                }
            }
        }
        let first = *b.get(i).ok_or("truncated length")?;
        i += 1;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(format!("unsupported length form {first:#04x}"));
            }
            let bytes = b.get(i..i + n).ok_or("truncated length")?;
            i += n;
            bytes.iter().fold(0usize, |a, x| (a << 8) | usize::from(*x))
        };
        let content = b
            .get(i..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| format!("a length of {len} bytes past the end"))?;
        if tag & 0x20 != 0 {
            if depth >= MAX_DER_DEPTH {
                return Err("nested too deep".into());
            }
            check_der(content, depth + 1)?;
        }
        b = &b[i + len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_der_is_refused_before_decoding() {
        // A KRB-ERROR claiming 2^64 - 1 bytes (what a fuzzer found).
        let bad = [
            0x7e, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e,
        ];
        assert!(from_der::<picky_krb::messages::KrbError>(&bad).is_err());
        assert!(
            check_der(&[0x30, 0x80, 0x00, 0x00], 0).is_err(),
            "indefinite length"
        );
        assert!(
            check_der(&[0x30, 0x03, 0x02, 0x05, 0x00], 0).is_err(),
            "child past its parent"
        );
        assert!(check_der(&[0x1f, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00], 0).is_err());
        let mut deep = vec![0x04, 0x00];
        for _ in 0..40 {
            let mut outer = vec![0x30, deep.len() as u8];
            if deep.len() > 127 {
                break;
            }
            outer.extend_from_slice(&deep);
            deep = outer;
        }
        assert!(check_der(&deep, 0).is_err(), "too deep");
        assert!(check_der(&[0x30, 0x03, 0x02, 0x01, 0x05], 0).is_ok());
    }
}
