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
