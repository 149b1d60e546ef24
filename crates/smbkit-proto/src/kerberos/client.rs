//! Obtaining a service ticket: the AS and TGS exchanges (RFC 4120 §3.1,
//! §3.3), sans I/O.
//!
//! [`TicketRequest`] is a state machine: it says what to send to a KDC
//! ([`KdcStep::Send`]), is given the KDC's answer ([`TicketRequest::receive`])
//! and ends with a [`ServiceTicket`] for the file server. The messages are
//! built with sspi's request builders and picky-krb's ASN.1 types; every
//! decryption uses picky-krb's RFC 3961/3962 ciphers.

use std::fmt;

use picky_asn1::restricted_string::IA5String;
use picky_asn1::wrapper::{Asn1SequenceOf, ExplicitContextTag0, ExplicitContextTag1, IntegerAsn1};
use picky_krb::constants::key_usages::{AS_REP_ENC, TGS_REP_ENC_SESSION_KEY};
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::{EtypeInfo2, KerberosStringAsn1, PaData, PrincipalName, Ticket};
use picky_krb::messages::{AsRep, EncAsRepPart, EncKdcRepPart, EncTgsRepPart, KrbError, TgsRep};
use sspi::kerberos::client::generators::{
    generate_as_req, generate_as_req_kdc_body, generate_pa_datas_for_as_req,
    generate_pa_datas_for_as_req_with_key, generate_tgs_req, GenerateAsPaDataOptions,
    GenerateAsReqOptions, GenerateKeytabPaDataOptions, GenerateTgsReqOptions,
};
use sspi::kerberos::EncryptionParams;
use sspi::{ClientRequestFlags, Secret};
use zeroize::Zeroizing;

use super::asn1::{authenticator, generalized_to_unix, small_int};
use super::ccache::{Ccache, Principal};
use super::error::{error_codes, KerberosError};
use super::keytab::Keytab;

/// The principal name type of a user (RFC 4120 §6.2, NT-PRINCIPAL).
pub const NT_PRINCIPAL: u32 = 1;
/// The principal name type of a service instance (RFC 4120 §6.2, NT-SRV-INST).
pub const NT_SRV_INST: u32 = 2;
/// PA-ETYPE-INFO2 (RFC 4120 §5.2.7.5).
const PA_ETYPE_INFO2: u32 = 19;

/// Where the client's long-term secret or tickets come from.
#[derive(Clone)]
pub enum KerberosCredentials {
    /// A password: the client asks the KDC for a ticket-granting ticket.
    Password {
        /// The client principal (`user@REALM`).
        principal: Principal,
        /// The password.
        password: Zeroizing<String>,
    },
    /// The principal's keys from a keytab.
    Keytab {
        /// The client principal.
        principal: Principal,
        /// The keytab.
        keytab: Keytab,
    },
    /// A credential cache, as `kinit` leaves it: its ticket for the file
    /// server if it has a valid one, otherwise its ticket-granting ticket.
    Cache(Ccache),
}

impl fmt::Debug for KerberosCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KerberosCredentials::Password { principal, .. } => f
                .debug_struct("Password")
                .field("principal", &principal.to_string())
                .finish_non_exhaustive(),
            KerberosCredentials::Keytab { principal, .. } => f
                .debug_struct("Keytab")
                .field("principal", &principal.to_string())
                .finish_non_exhaustive(),
            KerberosCredentials::Cache(c) => f
                .debug_struct("Cache")
                .field("principal", &c.default_principal.to_string())
                .finish_non_exhaustive(),
        }
    }
}

impl KerberosCredentials {
    /// The client principal these credentials are for.
    pub fn principal(&self) -> &Principal {
        match self {
            KerberosCredentials::Password { principal, .. }
            | KerberosCredentials::Keytab { principal, .. } => principal,
            KerberosCredentials::Cache(c) => &c.default_principal,
        }
    }
}

/// A session key and its encryption type (RFC 4120 §5.2.9).
#[derive(Clone)]
pub struct SessionKey {
    /// The encryption type (RFC 3961 number).
    pub enctype: i32,
    /// The key.
    pub key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("enctype", &self.enctype)
            .field("len", &self.key.len())
            .finish_non_exhaustive()
    }
}

/// A ticket for the file server and its session key: what the AP exchange
/// ([`SpnegoKerberos`](super::SpnegoKerberos)) needs. Using it again for a
/// new session or a re-authentication needs no KDC.
#[derive(Clone)]
pub struct ServiceTicket {
    /// The client principal (as the KDC spelled it).
    pub client: Principal,
    /// The service principal the ticket is for.
    pub service: Principal,
    /// When the ticket expires (seconds since 1970).
    pub end_time: u64,
    pub(crate) ticket: Ticket,
    pub(crate) key: SessionKey,
}

impl fmt::Debug for ServiceTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceTicket")
            .field("client", &self.client.to_string())
            .field("service", &self.service.to_string())
            .field("end_time", &self.end_time)
            .field("enctype", &self.key.enctype)
            .finish_non_exhaustive()
    }
}

impl ServiceTicket {
    /// The encryption type of the ticket's session key.
    pub fn enctype(&self) -> i32 {
        self.key.enctype
    }
}

/// What a [`TicketRequest`] needs next.
#[derive(Debug)]
pub enum KdcStep {
    /// Send `request` (a DER-encoded AS-REQ or TGS-REQ, without the 4-byte
    /// length that TCP adds, RFC 4120 §7.2.2) to a KDC of `realm` and give
    /// the answer to [`TicketRequest::receive`].
    Send {
        /// The realm whose KDC must answer.
        realm: String,
        /// The request.
        request: Vec<u8>,
    },
    /// The ticket is ready.
    Done(Box<ServiceTicket>),
}

/// A ticket-granting ticket and its session key.
struct Tgt {
    client: Principal,
    ticket: Ticket,
    key: SessionKey,
}

enum State {
    Start,
    /// An AS-REQ went out; `preauth` says whether it carried PA-ENC-TIMESTAMP.
    As {
        preauth: bool,
        salt: Vec<u8>,
    },
    /// A TGS-REQ went out with this TGT.
    Tgs(Box<Tgt>),
    Done,
}

/// The AS and TGS exchanges that end in a ticket for `service`.
///
/// ```
/// use smbkit_proto::kerberos::{service_principal, KdcStep, KerberosCredentials, Principal, TicketRequest};
///
/// let creds = KerberosCredentials::Password {
///     principal: Principal::parse("alice@EXAMPLE.TEST").unwrap(),
///     password: String::from("secret").into(),
/// };
/// let service = service_principal("cifs", "files.example.test", "EXAMPLE.TEST");
/// let mut req = TicketRequest::new(creds, service, "WORKSTATION", 1_700_000_000);
/// match req.start().unwrap() {
///     KdcStep::Send { realm, request } => {
///         assert_eq!(realm, "EXAMPLE.TEST");
///         assert_eq!(request[0], 0x6a); // [APPLICATION 10] AS-REQ
///     }
///     KdcStep::Done(_) => unreachable!("a password needs the KDC"),
/// }
/// ```
pub struct TicketRequest {
    creds: KerberosCredentials,
    service: Principal,
    workstation: String,
    now: u64,
    state: State,
}

impl fmt::Debug for TicketRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketRequest")
            .field("creds", &self.creds)
            .field("service", &self.service.to_string())
            .finish_non_exhaustive()
    }
}

impl TicketRequest {
    /// A request for a ticket to `service` (e.g. `cifs/host@REALM`) with
    /// `creds`; `workstation` is the client's name (sent as its NetBIOS
    /// address in the AS-REQ), `now` the time in seconds since 1970 (to tell
    /// expired cached tickets).
    pub fn new(
        creds: KerberosCredentials,
        service: Principal,
        workstation: &str,
        now: u64,
    ) -> Self {
        TicketRequest {
            creds,
            service,
            workstation: if workstation.is_empty() {
                "SMBKIT".to_string()
            } else {
                workstation.to_string()
            },
            now,
            state: State::Start,
        }
    }

    /// The first step: a cached ticket for the service, or the first request.
    pub fn start(&mut self) -> Result<KdcStep, KerberosError> {
        if !matches!(self.state, State::Start) {
            return Err(KerberosError::State("start() called twice"));
        }
        match &self.creds {
            KerberosCredentials::Cache(cache) => {
                let realm = cache.default_principal.realm.clone();
                if let Some(t) = cache.find(&self.service) {
                    if !t.is_expired_at(self.now) && !t.ticket.is_empty() {
                        let ticket: Ticket = super::asn1::from_der(&t.ticket)
                            .map_err(|e| KerberosError::malformed("cached service ticket", e))?;
                        self.state = State::Done;
                        return Ok(KdcStep::Done(Box::new(ServiceTicket {
                            client: t.client.clone(),
                            service: t.server.clone(),
                            end_time: u64::from(t.end_time),
                            ticket,
                            key: SessionKey {
                                enctype: t.key.enctype,
                                key: t.key.key.clone(),
                            },
                        })));
                    }
                }
                let tgt = cache.tgt(&realm).ok_or_else(|| KerberosError::NoTicket {
                    realm: realm.clone(),
                })?;
                if tgt.is_expired_at(self.now) {
                    return Err(KerberosError::TicketExpired {
                        principal: tgt.client.to_string(),
                        expired_at: Some(u64::from(tgt.end_time)),
                    });
                }
                let ticket: Ticket = super::asn1::from_der(&tgt.ticket)
                    .map_err(|e| KerberosError::malformed("cached ticket-granting ticket", e))?;
                let tgt = Tgt {
                    client: tgt.client.clone(),
                    ticket,
                    key: SessionKey {
                        enctype: tgt.key.enctype,
                        key: tgt.key.key.clone(),
                    },
                };
                self.tgs_request(tgt)
            }
            KerberosCredentials::Password { principal, .. }
            | KerberosCredentials::Keytab { principal, .. } => {
                if principal.realm.is_empty() {
                    return Err(KerberosError::NoRealm(principal.to_string()));
                }
                self.as_request(false, Vec::new(), None)
            }
        }
    }

    /// Gives the KDC's answer (without TCP's 4-byte length) to the request
    /// of the last [`KdcStep::Send`].
    pub fn receive(&mut self, reply: &[u8]) -> Result<KdcStep, KerberosError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::As { preauth, salt } => self.as_reply(reply, preauth, salt),
            State::Tgs(tgt) => self.tgs_reply(reply, *tgt),
            s @ (State::Start | State::Done) => {
                self.state = s;
                Err(KerberosError::State(
                    "receive() without a request outstanding",
                ))
            }
        }
    }

    fn client(&self) -> &Principal {
        self.creds.principal()
    }

    fn as_request(
        &mut self,
        preauth: bool,
        salt: Vec<u8>,
        enctype: Option<CipherSuite>,
    ) -> Result<KdcStep, KerberosError> {
        let principal = self.client().clone();
        let realm = principal.realm.clone();
        let username = principal.components.join("/");
        let nonce = rand::random::<u32>() & 0x7fff_ffff;
        let body = generate_as_req_kdc_body(&GenerateAsReqOptions {
            realm: &realm,
            username: &username,
            cname_type: principal.name_type.min(255) as u8,
            snames: &["krbtgt", &realm],
            nonce,
            hostname: &self.workstation,
            context_requirements: ClientRequestFlags::empty(),
        })
        .map_err(|e| KerberosError::build("AS-REQ", e))?;
        let pa_datas = match &self.creds {
            KerberosCredentials::Password { password, .. } => {
                let enc_params = EncryptionParams {
                    encryption_type: enctype.clone(),
                    ..EncryptionParams::default_for_client()
                };
                generate_pa_datas_for_as_req(&GenerateAsPaDataOptions {
                    password: password.as_str(),
                    salt: salt.clone(),
                    enc_params,
                    with_pre_auth: preauth,
                })
            }
            KerberosCredentials::Keytab { keytab, .. } => {
                let (suite, key) = if preauth {
                    self.keytab_key(keytab, enctype.as_ref())?
                } else {
                    (CipherSuite::Aes256CtsHmacSha196, Zeroizing::new(Vec::new()))
                };
                generate_pa_datas_for_as_req_with_key(&GenerateKeytabPaDataOptions {
                    key: Secret::new(key.to_vec()),
                    key_enctype: suite,
                    with_pre_auth: preauth,
                })
            }
            KerberosCredentials::Cache(_) => {
                return Err(KerberosError::State(
                    "a credential cache needs no AS exchange",
                ))
            }
        }
        .map_err(|e| KerberosError::build("AS-REQ pre-authentication", e))?;
        let request = picky_asn1_der::to_vec(&generate_as_req(pa_datas, body))
            .map_err(|e| KerberosError::build("AS-REQ", e))?;
        self.state = State::As { preauth, salt };
        Ok(KdcStep::Send { realm, request })
    }

    /// The keytab's key for the client and `enctype` (the best one when the
    /// KDC has not said).
    fn keytab_key(
        &self,
        keytab: &Keytab,
        enctype: Option<&CipherSuite>,
    ) -> Result<(CipherSuite, Zeroizing<Vec<u8>>), KerberosError> {
        let principal = self.client();
        let wanted = enctype.map(|e| i32::from(u8::from(e)));
        let entry = keytab
            .find(principal, wanted)
            .ok_or_else(|| KerberosError::NoKey {
                principal: principal.to_string(),
                enctype: wanted,
            })?;
        let suite = suite_of(entry.enctype)?;
        Ok((suite, entry.key.clone()))
    }

    fn as_reply(
        &mut self,
        reply: &[u8],
        preauth: bool,
        salt: Vec<u8>,
    ) -> Result<KdcStep, KerberosError> {
        let client = self.client().clone();
        let service = format!("krbtgt/{}", client.realm);
        match reply.first() {
            Some(0x7e) => {
                let err: KrbError = super::asn1::from_der(reply)
                    .map_err(|e| KerberosError::malformed("KRB-ERROR", e))?;
                let code = err.0.error_code.0;
                if code == error_codes::KDC_ERR_PREAUTH_REQUIRED && !preauth {
                    let (suite, salt) = preauth_params(&err, &client)?;
                    return self.as_request(true, salt, Some(suite));
                }
                Err(KerberosError::from_kdc(
                    code,
                    e_text(&err),
                    &client,
                    &service,
                ))
            }
            Some(0x6b) => {
                let rep: AsRep = super::asn1::from_der(reply)
                    .map_err(|e| KerberosError::malformed("AS-REP", e))?;
                let etype = int_value(&rep.0.enc_part.0.etype.0);
                let suite = suite_of(etype)?;
                // The reply's own PA-ETYPE-INFO2 salt wins (RFC 4120 §3.1.5).
                let salt = reply_salt(&rep).unwrap_or(if salt.is_empty() {
                    default_salt(&client)
                } else {
                    salt
                });
                let key = match &self.creds {
                    KerberosCredentials::Password { password, .. } => Zeroizing::new(
                        suite
                            .cipher()
                            .generate_key_from_password(password.as_bytes(), &salt)
                            .map_err(|e| KerberosError::build("key from the password", e))?,
                    ),
                    KerberosCredentials::Keytab { keytab, .. } => {
                        self.keytab_key(keytab, Some(&suite))?.1
                    }
                    KerberosCredentials::Cache(_) => {
                        return Err(KerberosError::State("AS-REP for a credential cache"))
                    }
                };
                let plain = suite
                    .cipher()
                    .decrypt(&key, AS_REP_ENC, &rep.0.enc_part.0.cipher.0 .0)
                    .map_err(|_| KerberosError::WrongPassword {
                        principal: client.to_string(),
                    })?;
                let part = enc_kdc_rep_part(&plain)?;
                let tgt = Tgt {
                    client: principal_from(&rep.0.crealm.0.to_string(), &rep.0.cname.0),
                    ticket: rep.0.ticket.0.clone(),
                    key: session_key_of(&part)?,
                };
                self.tgs_request(tgt)
            }
            _ => Err(KerberosError::malformed(
                "KDC answer to the AS-REQ",
                "neither an AS-REP nor a KRB-ERROR",
            )),
        }
    }

    fn tgs_request(&mut self, tgt: Tgt) -> Result<KdcStep, KerberosError> {
        let realm = tgt.client.realm.clone();
        let suite = suite_of(tgt.key.enctype)?;
        let mut auth = authenticator(&tgt.client, None, None, None)?;
        let service_name = self.service.components.join("/");
        let session_key = Secret::new(tgt.key.key.to_vec());
        let enc_params = EncryptionParams {
            encryption_type: Some(suite),
            ..EncryptionParams::default_for_client()
        };
        let req = generate_tgs_req(GenerateTgsReqOptions {
            realm: &realm,
            service_principal: &service_name,
            session_key: &session_key,
            ticket: tgt.ticket.clone(),
            authenticator: &mut auth.0,
            additional_tickets: None,
            enc_params: &enc_params,
            context_requirements: ClientRequestFlags::empty(),
        })
        .map_err(|e| KerberosError::build("TGS-REQ", e))?;
        let request =
            picky_asn1_der::to_vec(&req).map_err(|e| KerberosError::build("TGS-REQ", e))?;
        self.state = State::Tgs(Box::new(tgt));
        Ok(KdcStep::Send { realm, request })
    }

    fn tgs_reply(&mut self, reply: &[u8], tgt: Tgt) -> Result<KdcStep, KerberosError> {
        let service = self.service.to_string();
        match reply.first() {
            Some(0x7e) => {
                let err: KrbError = super::asn1::from_der(reply)
                    .map_err(|e| KerberosError::malformed("KRB-ERROR", e))?;
                let code = err.0.error_code.0;
                Err(KerberosError::from_kdc(
                    code,
                    e_text(&err),
                    &tgt.client,
                    &service,
                ))
            }
            Some(0x6d) => {
                let rep: TgsRep = super::asn1::from_der(reply)
                    .map_err(|e| KerberosError::malformed("TGS-REP", e))?;
                let suite = suite_of(tgt.key.enctype)?;
                let plain = suite
                    .cipher()
                    .decrypt(
                        &tgt.key.key,
                        TGS_REP_ENC_SESSION_KEY,
                        &rep.0.enc_part.0.cipher.0 .0,
                    )
                    .map_err(|_| {
                        KerberosError::malformed("TGS-REP", "its encrypted part does not decrypt")
                    })?;
                let part = enc_kdc_rep_part(&plain)?;
                let key = session_key_of(&part)?;
                self.state = State::Done;
                Ok(KdcStep::Done(Box::new(ServiceTicket {
                    client: tgt.client,
                    service: principal_from(&part.srealm.0.to_string(), &part.sname.0),
                    end_time: generalized_to_unix(&part.end_time.0),
                    ticket: rep.0.ticket.0.clone(),
                    key,
                })))
            }
            _ => Err(KerberosError::malformed(
                "KDC answer to the TGS-REQ",
                "neither a TGS-REP nor a KRB-ERROR",
            )),
        }
    }
}

/// The encryption type and salt the KDC asks for in PA-ETYPE-INFO2 (RFC 4120
/// §5.2.7.5); the default salt (realm + name components, §4) when it gives none.
fn preauth_params(
    err: &KrbError,
    client: &Principal,
) -> Result<(CipherSuite, Vec<u8>), KerberosError> {
    let mut suite = CipherSuite::Aes256CtsHmacSha196;
    let mut salt = default_salt(client);
    if let Some(e_data) = err.0.e_data.0.as_ref() {
        let pa_datas: Asn1SequenceOf<PaData> = super::asn1::from_der(&e_data.0 .0)
            .map_err(|e| KerberosError::malformed("KRB-ERROR e-data", e))?;
        let info = pa_datas
            .0
            .iter()
            .find(|p| int_value(&p.padata_type.0) == i64::from(PA_ETYPE_INFO2));
        if let Some(info) = info {
            let entries: EtypeInfo2 = super::asn1::from_der(&info.padata_data.0 .0)
                .map_err(|e| KerberosError::malformed("PA-ETYPE-INFO2", e))?;
            // The KDC lists what it prefers first; take the first we implement.
            let first = entries
                .0
                .iter()
                .find(|e| suite_of(int_value(&e.etype.0)).is_ok())
                .ok_or(KerberosError::UnsupportedEnctype {
                    enctype: entries.0.first().map(|e| int32(&e.etype.0)).unwrap_or(0),
                })?;
            suite = suite_of(int_value(&first.etype.0))?;
            if let Some(s) = first.salt.0.as_ref() {
                salt = s.0.to_string().into_bytes();
            }
        }
    }
    Ok((suite, salt))
}

/// The salt in an AS-REP's own PA-ETYPE-INFO2, if it has one.
fn reply_salt(rep: &AsRep) -> Option<Vec<u8>> {
    let pa = rep.0.padata.0.as_ref()?;
    let info =
        pa.0 .0
            .iter()
            .find(|p| int_value(&p.padata_type.0) == i64::from(PA_ETYPE_INFO2))?;
    let entries: EtypeInfo2 = super::asn1::from_der(&info.padata_data.0 .0).ok()?;
    let salt = entries.0.first()?.salt.0.as_ref()?;
    Some(salt.0.to_string().into_bytes())
}

/// The default salt: the realm followed by the name's components (RFC 4120 §4).
fn default_salt(p: &Principal) -> Vec<u8> {
    let mut s = p.realm.clone();
    for c in &p.components {
        s.push_str(c);
    }
    s.into_bytes()
}

fn e_text(err: &KrbError) -> Option<String> {
    err.0.e_text.0.as_ref().map(|t| t.0.to_string())
}

/// EncASRepPart or EncTGSRepPart (RFC 4120 §5.4.2 lets either tag come back).
fn enc_kdc_rep_part(plain: &[u8]) -> Result<EncKdcRepPart, KerberosError> {
    match super::asn1::from_der::<EncAsRepPart>(plain) {
        Ok(p) => Ok(p.0),
        Err(_) => super::asn1::from_der::<EncTgsRepPart>(plain)
            .map(|p| p.0)
            .map_err(|e| KerberosError::malformed("encrypted part of the KDC reply", e)),
    }
}

fn session_key_of(part: &EncKdcRepPart) -> Result<SessionKey, KerberosError> {
    let enctype = int32(&part.key.0.key_type.0);
    suite_of(enctype)?;
    Ok(SessionKey {
        enctype,
        key: Zeroizing::new(part.key.0.key_value.0 .0.clone()),
    })
}

/// The cipher suite of an RFC 3961 encryption type number.
pub(crate) fn suite_of(enctype: impl TryInto<i32>) -> Result<CipherSuite, KerberosError> {
    let enctype: i32 = enctype.try_into().unwrap_or(-1);
    usize::try_from(enctype)
        .ok()
        .and_then(|e| CipherSuite::try_from(e).ok())
        .ok_or(KerberosError::UnsupportedEnctype { enctype })
}

/// The value of a small DER INTEGER (sign-extended; 0 when it does not fit).
pub(crate) fn int_value(i: &IntegerAsn1) -> i64 {
    let b = i.as_signed_bytes_be();
    if b.is_empty() || b.len() > 8 {
        return 0;
    }
    let mut v: i64 = if b[0] & 0x80 != 0 { -1 } else { 0 };
    for x in b {
        v = (v << 8) | i64::from(*x);
    }
    v
}

/// The value of a DER INTEGER that must fit an Int32 (-1 if it does not).
pub(crate) fn int32(i: &IntegerAsn1) -> i32 {
    i32::try_from(int_value(i)).unwrap_or(-1)
}

/// Our principal type from a realm and an ASN.1 PrincipalName.
pub(crate) fn principal_from(realm: &str, name: &PrincipalName) -> Principal {
    Principal {
        name_type: u32::try_from(int_value(&name.name_type.0)).unwrap_or(NT_PRINCIPAL),
        realm: realm.to_string(),
        components: name
            .name_string
            .0
             .0
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

/// An ASN.1 PrincipalName from ours.
pub(crate) fn principal_name(p: &Principal) -> Result<PrincipalName, KerberosError> {
    let parts = p
        .components
        .iter()
        .map(|c| {
            IA5String::from_string(c.clone())
                .map(KerberosStringAsn1::from)
                .map_err(|e| KerberosError::build("principal name", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PrincipalName {
        name_type: ExplicitContextTag0::from(small_int(u64::from(p.name_type))),
        name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(parts)),
    })
}

#[cfg(test)]
mod tests {
    /// What a case expects of the error.
    type Check = fn(&KerberosError) -> bool;
    use picky_asn1::wrapper::{
        ExplicitContextTag10, ExplicitContextTag11, ExplicitContextTag12, ExplicitContextTag4,
        ExplicitContextTag5, ExplicitContextTag6, ExplicitContextTag9, GeneralizedTimeAsn1,
        OctetStringAsn1, Optional,
    };
    use picky_krb::data_types::EtypeInfo2Entry;
    use picky_krb::messages::KrbErrorInner;

    use super::*;
    use crate::kerberos::service_principal;

    const TGT_CACHE: &[u8] = include_bytes!("testdata/krbtgt.ccache");
    const SERVICE_CACHE: &[u8] = include_bytes!("testdata/service.ccache");
    /// 2026-12-07 02:00 UTC: while the cached tickets are valid.
    const VALID: u64 = 1_796_608_800;
    /// A day later: they have expired.
    const EXPIRED: u64 = VALID + 86_400;

    fn service() -> Principal {
        service_principal("cifs", "smbkitdc.smbkit.test", "SMBKIT.TEST")
    }

    fn password_request() -> TicketRequest {
        let creds = KerberosCredentials::Password {
            principal: Principal::parse("smbkituser@SMBKIT.TEST").unwrap(),
            password: Zeroizing::new("pw".into()),
        };
        TicketRequest::new(creds, service(), "CLIENT", VALID)
    }

    /// A KRB-ERROR from the KDC with `code` and, optionally, e-data.
    fn krb_error(code: u32, e_data: Option<Vec<u8>>) -> Vec<u8> {
        let now = GeneralizedTimeAsn1::from(picky_asn1::date::GeneralizedTime::from(
            time::OffsetDateTime::UNIX_EPOCH,
        ));
        let realm = || {
            picky_krb::data_types::Realm::from(
                IA5String::from_string("SMBKIT.TEST".into()).unwrap(),
            )
        };
        let err = KrbError::from(KrbErrorInner {
            pvno: ExplicitContextTag0::from(small_int(5)),
            msg_type: ExplicitContextTag1::from(small_int(30)),
            ctime: Optional::from(None),
            cusec: Optional::from(None),
            stime: ExplicitContextTag4::from(now),
            susec: ExplicitContextTag5::from(small_int(0)),
            error_code: ExplicitContextTag6::from(code),
            crealm: Optional::from(None),
            cname: Optional::from(None),
            realm: ExplicitContextTag9::from(realm()),
            sname: ExplicitContextTag10::from(
                principal_name(&Principal::krbtgt("SMBKIT.TEST")).unwrap(),
            ),
            e_text: Optional::from(Some(ExplicitContextTag11::from(KerberosStringAsn1::from(
                IA5String::from_string("said the KDC".into()).unwrap(),
            )))),
            e_data: Optional::from(
                e_data.map(|d| ExplicitContextTag12::from(OctetStringAsn1::from(d))),
            ),
        });
        picky_asn1_der::to_vec(&err).unwrap()
    }

    /// PA-ETYPE-INFO2 for aes256 with `salt`, as the e-data of PREAUTH_REQUIRED.
    fn etype_info(salt: &str) -> Vec<u8> {
        let info: EtypeInfo2 = Asn1SequenceOf::from(vec![EtypeInfo2Entry {
            etype: ExplicitContextTag0::from(small_int(18)),
            salt: Optional::from(Some(ExplicitContextTag1::from(KerberosStringAsn1::from(
                IA5String::from_string(salt.into()).unwrap(),
            )))),
            s2kparams: Optional::from(None),
        }]);
        let pa = PaData {
            padata_type: ExplicitContextTag1::from(small_int(u64::from(PA_ETYPE_INFO2))),
            padata_data: picky_asn1::wrapper::ExplicitContextTag2::from(OctetStringAsn1::from(
                picky_asn1_der::to_vec(&info).unwrap(),
            )),
        };
        picky_asn1_der::to_vec(&Asn1SequenceOf::from(vec![pa])).unwrap()
    }

    fn send(step: KdcStep) -> (String, Vec<u8>) {
        match step {
            KdcStep::Send { realm, request } => (realm, request),
            KdcStep::Done(t) => panic!("expected a request, got {t:?}"),
        }
    }

    #[test]
    fn password_as_exchange_asks_for_preauthentication_then_maps_kdc_errors() {
        let mut req = password_request();
        let (realm, first) = send(req.start().unwrap());
        assert_eq!(realm, "SMBKIT.TEST");
        assert_eq!(first[0], 0x6a, "AS-REQ");
        // PREAUTH_REQUIRED with the salt: a second AS-REQ, now with PA-ENC-TIMESTAMP.
        let required = krb_error(
            error_codes::KDC_ERR_PREAUTH_REQUIRED,
            Some(etype_info("SMBKIT.TESTsmbkituser")),
        );
        let (_, second) = send(req.receive(&required).unwrap());
        assert_eq!(second[0], 0x6a);
        assert!(second.len() > first.len() + 40, "PA-ENC-TIMESTAMP added");
        // A second PREAUTH_REQUIRED is not retried forever.
        assert!(matches!(
            req.receive(&required),
            Err(KerberosError::Kdc {
                code: 25,
                name: "KDC_ERR_PREAUTH_REQUIRED",
                ..
            })
        ));

        let cases: [(u32, Check); 7] = [
            (
                24,
                |e| matches!(e, KerberosError::WrongPassword { principal } if principal == "smbkituser@SMBKIT.TEST"),
            ),
            (6, |e| matches!(e, KerberosError::UnknownPrincipal { .. })),
            (37, |e| {
                matches!(e, KerberosError::ClockSkew { peer: "KDC" })
            }),
            (18, |e| matches!(e, KerberosError::AccountRevoked { .. })),
            (23, |e| matches!(e, KerberosError::PasswordExpired { .. })),
            (14, |e| {
                matches!(e, KerberosError::UnsupportedEnctype { enctype: 0 })
            }),
            (
                12,
                |e| matches!(e, KerberosError::Kdc { code: 12, name: "KDC_ERR_POLICY", text: Some(t) } if t == "said the KDC"),
            ),
        ];
        for (code, check) in cases {
            let mut req = password_request();
            req.start().unwrap();
            let e = req.receive(&krb_error(code, None)).unwrap_err();
            assert!(check(&e), "code {code}: {e:?}");
        }
    }

    #[test]
    fn garbage_and_out_of_order_answers_are_typed_errors() {
        let mut req = password_request();
        assert!(matches!(req.receive(b"x"), Err(KerberosError::State(_))));
        req.start().unwrap();
        assert!(matches!(req.start(), Err(KerberosError::State(_))));
        for bad in [
            &b""[..],
            b"\x6b\x03\x02\x01",
            b"\x7e\x00",
            b"\x30\x00",
            &[0x6b; 64],
        ] {
            let mut req = password_request();
            req.start().unwrap();
            assert!(
                matches!(req.receive(bad), Err(KerberosError::Malformed { .. })),
                "{bad:02x?}"
            );
        }
        // A reply truncated anywhere.
        let full = krb_error(6, Some(etype_info("salt")));
        for cut in 0..full.len() {
            let mut req = password_request();
            req.start().unwrap();
            assert!(req.receive(&full[..cut]).is_err());
        }
    }

    #[test]
    fn a_credential_cache_gives_its_service_ticket_or_asks_with_its_tgt() {
        let cache = Ccache::parse(SERVICE_CACHE).unwrap();
        let mut req = TicketRequest::new(KerberosCredentials::Cache(cache), service(), "", VALID);
        let KdcStep::Done(t) = req.start().unwrap() else {
            panic!("the cached service ticket should do");
        };
        assert_eq!(t.client.to_string(), "smbkituser@SMBKIT.TEST");
        assert_eq!(
            t.service.to_string(),
            "cifs/smbkitdc.smbkit.test@SMBKIT.TEST"
        );
        assert_eq!(t.enctype(), 18);

        // Only a TGT: a TGS-REQ to the user's realm.
        let cache = Ccache::parse(TGT_CACHE).unwrap();
        let mut req = TicketRequest::new(
            KerberosCredentials::Cache(cache.clone()),
            service(),
            "",
            VALID,
        );
        let (realm, tgs_req) = send(req.start().unwrap());
        assert_eq!((realm.as_str(), tgs_req[0]), ("SMBKIT.TEST", 0x6c));
        assert!(matches!(
            req.receive(&krb_error(7, None)),
            Err(KerberosError::UnknownService { service }) if service == "cifs/smbkitdc.smbkit.test@SMBKIT.TEST"
        ));

        // Expired: said without asking anyone.
        let mut req = TicketRequest::new(KerberosCredentials::Cache(cache), service(), "", EXPIRED);
        assert!(matches!(
            req.start(),
            Err(KerberosError::TicketExpired {
                expired_at: Some(_),
                ..
            })
        ));
        // Another realm's TGT is not there.
        let cache = Ccache::parse(TGT_CACHE).unwrap();
        let mut other = cache.clone();
        other.default_principal.realm = "OTHER.TEST".into();
        let mut req = TicketRequest::new(KerberosCredentials::Cache(other), service(), "", VALID);
        assert!(
            matches!(req.start(), Err(KerberosError::NoTicket { realm }) if realm == "OTHER.TEST")
        );
    }

    #[test]
    fn keytab_without_the_key_the_kdc_asks_for() {
        let keytab = Keytab::parse(include_bytes!("testdata/someone.keytab")).unwrap();
        let creds = KerberosCredentials::Keytab {
            principal: Principal::parse("nobody@EXAMPLE.TEST").unwrap(),
            keytab,
        };
        let mut req = TicketRequest::new(creds, service(), "", VALID);
        req.start().unwrap();
        let e = req
            .receive(&krb_error(25, Some(etype_info("EXAMPLE.TESTnobody"))))
            .unwrap_err();
        assert!(
            matches!(&e, KerberosError::NoKey { principal, enctype: Some(18) } if principal == "nobody@EXAMPLE.TEST"),
            "{e:?}"
        );
    }
}
