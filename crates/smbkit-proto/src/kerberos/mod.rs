//! Kerberos V5 inside SPNEGO, client side ([MS-KILE], RFC 4120, RFC 4121).
//!
//! * [`TicketRequest`]: the AS and TGS exchanges that turn a password, a
//!   keytab or a credential cache into a [`ServiceTicket`] for the file
//!   server, sans I/O: it hands out the requests to send to a KDC and takes
//!   the answers.
//! * [`SpnegoKerberos`]: the AP exchange inside SPNEGO during
//!   SESSION_SETUP, with mutual authentication; its session key signs and
//!   encrypts the SMB session.
//! * [`ccache`] and [`keytab`]: MIT's credential cache and keytab files.
//! * [`Krb5Conf`]: the realm and KDC addresses from a `krb5.conf`.
//!
//! Messages are built with sspi's builders and picky-krb's ASN.1 types,
//! and every key derivation, encryption and checksum is picky-krb's
//! (RFC 3961/3962: AES-CTS-HMAC-SHA1 and DES3; RC4-HMAC is not implemented).
//! Authenticators carry the system clock's time, which the KDC and the
//! server check against theirs.
//!
//! [MS-KILE]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/

mod asn1;
pub mod ccache;
mod client;
mod conf;
mod error;
mod gss;
pub mod keytab;

pub use ccache::{Ccache, Credential, Principal};
pub use client::{
    KdcStep, KerberosCredentials, ServiceTicket, SessionKey, TicketRequest, NT_PRINCIPAL,
    NT_SRV_INST,
};
pub use conf::Krb5Conf;
pub use error::{error_codes, error_name, KerberosError};
#[cfg(test)]
pub(crate) use gss::accept_for_tests;
pub use gss::SpnegoKerberos;
pub use keytab::{Keytab, KeytabEntry};

/// The service principal `service/host@REALM` (name type NT-SRV-INST).
pub fn service_principal(service: &str, host: &str, realm: &str) -> Principal {
    Principal {
        name_type: NT_SRV_INST,
        realm: realm.to_string(),
        components: vec![service.to_string(), host.to_string()],
    }
}

#[cfg(test)]
pub(crate) mod test_tickets {
    //! The service ticket of the test credential cache, for tests of the
    //! connection machines.
    use super::*;

    /// `cifs/smbkitdc.smbkit.test` for `smbkituser@SMBKIT.TEST`, aes256.
    pub(crate) fn service_ticket() -> ServiceTicket {
        let cache = Ccache::parse(include_bytes!("testdata/service.ccache")).unwrap();
        let service = service_principal("cifs", "smbkitdc.smbkit.test", "SMBKIT.TEST");
        let mut req = TicketRequest::new(
            KerberosCredentials::Cache(cache),
            service,
            "",
            1_796_608_800,
        );
        match req.start().unwrap() {
            KdcStep::Done(t) => *t,
            KdcStep::Send { .. } => unreachable!("the cache holds the ticket"),
        }
    }

    /// The ticket's session key.
    pub(crate) fn key(t: &ServiceTicket) -> Vec<u8> {
        t.key.key.to_vec()
    }
}
