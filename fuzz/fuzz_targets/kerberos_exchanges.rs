//! Kerberos: the KDC's answers to the AS-REQ (password and keytab) and to
//! the TGS-REQ (from a cached TGT), and the file server's answer to the
//! AP-REQ (SPNEGO NegTokenResp with a GSS AP-REP or KRB-ERROR). Whatever
//! the bytes, the state machines answer with a request, a ticket or a
//! typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbkit_proto::kerberos::{
    service_principal, Ccache, KdcStep, KerberosCredentials, Keytab, Principal, SpnegoKerberos,
    TicketRequest,
};

const TGT_CACHE: &[u8] =
    include_bytes!("../../crates/smbkit-proto/src/kerberos/testdata/krbtgt.ccache");
const SERVICE_CACHE: &[u8] =
    include_bytes!("../../crates/smbkit-proto/src/kerberos/testdata/service.ccache");
const KEYTAB: &[u8] =
    include_bytes!("../../crates/smbkit-proto/src/kerberos/testdata/samba.keytab");
/// While the cached tickets are valid.
const NOW: u64 = 1_796_608_800;

fn service() -> Principal {
    service_principal("cifs", "smbkitdc.smbkit.test", "SMBKIT.TEST")
}

/// Feeds `data`, split at its first byte's value, as one or two KDC answers.
fn kdc(creds: KerberosCredentials, data: &[u8]) {
    let mut req = TicketRequest::new(creds, service(), "FUZZ", NOW);
    let Ok(KdcStep::Send { .. }) = req.start() else {
        return;
    };
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(split);
    if let Ok(KdcStep::Send { .. }) = req.receive(a) {
        let _ = req.receive(b);
    }
}

fuzz_target!(|data: &[u8]| {
    let user = Principal::parse("smbkituser@SMBKIT.TEST").unwrap();
    kdc(
        KerberosCredentials::Password {
            principal: user.clone(),
            password: String::from("pw").into(),
        },
        data,
    );
    if let Ok(keytab) = Keytab::parse(KEYTAB) {
        kdc(
            KerberosCredentials::Keytab {
                principal: user,
                keytab,
            },
            data,
        );
    }
    if let Ok(cache) = Ccache::parse(TGT_CACHE) {
        kdc(KerberosCredentials::Cache(cache), data);
    }
    if let Ok(cache) = Ccache::parse(SERVICE_CACHE) {
        let mut req = TicketRequest::new(KerberosCredentials::Cache(cache), service(), "", NOW);
        if let Ok(KdcStep::Done(t)) = req.start() {
            let mut k = SpnegoKerberos::new(*t);
            if k.initial_token().is_ok() {
                let _ = k.finish(data);
                let _ = k.session_key();
            }
        }
    }
});
