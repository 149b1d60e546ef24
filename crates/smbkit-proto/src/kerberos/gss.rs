//! The AP exchange inside SPNEGO, as SMB's SESSION_SETUP carries it
//! (RFC 4121 §4.1, RFC 4178, MS-KILE §3.2.5, MS-SMB2 §3.2.5.3).

use picky_asn1::wrapper::{ExplicitContextTag0, ExplicitContextTag1, OctetStringAsn1};
use picky_krb::constants::key_usages::AP_REP_ENC;
use picky_krb::data_types::{Checksum, EncApRepPart, KerberosTime};
use picky_krb::messages::{ApRep, KrbError};
use sspi::kerberos::client::generators::generate_ap_req;
use sspi::kerberos::flags::ApOptions;
use sspi::kerberos::EncryptionParams;
use sspi::Secret;
use zeroize::Zeroizing;

use super::asn1::{authenticator, encryption_key, small_int};
use super::client::{int_value, suite_of, ServiceTicket};
use super::error::KerberosError;
use crate::spnego::{self, NegState, OID_KRB5, OID_MS_KRB5};

/// The GSS-API checksum type of the AP-REQ authenticator (RFC 4121 §4.1.1).
const GSS_CHECKSUM_TYPE: u64 = 0x8003;
/// GSS flags asked for: mutual, replay, sequence, confidentiality,
/// integrity (RFC 4121 §4.1.1.1); the same as Windows' SMB client asks.
const GSS_FLAGS: u32 = 0x02 | 0x04 | 0x08 | 0x10 | 0x20;
/// TOK_ID of a KRB_AP_REQ, KRB_AP_REP and KRB_ERROR (RFC 4121 §4.1).
const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
const TOK_AP_REP: [u8; 2] = [0x02, 0x00];
const TOK_ERROR: [u8; 2] = [0x03, 0x00];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Sent,
    Done,
}

/// The SPNEGO + Kerberos initiator the SMB connection runs during
/// SESSION_SETUP, once a [`ServiceTicket`] is at hand.
///
/// 1. [`initial_token`](Self::initial_token): a NegTokenInit offering
///    Microsoft's and the standard Kerberos OIDs, whose mechToken is the
///    GSS-API AP-REQ with MUTUAL-REQUIRED and a fresh subkey.
/// 2. [`finish`](Self::finish) with the server's NegTokenResp: the AP-REP is
///    decrypted with the ticket's session key and must echo the
///    authenticator's time (RFC 4120 §3.2.5: mutual authentication); a
///    KRB-ERROR is a typed error.
/// 3. [`session_key`](Self::session_key): the server's subkey from the AP-REP
///    (or ours, if it sent none): MS-KILE §3.1.1.2's session key, which SMB
///    signs and encrypts with.
///
/// SPNEGO's mechListMIC is not sent or checked: both offered mechanisms are
/// Kerberos, so there is no weaker mechanism to be downgraded to (RFC 4178
/// §5 lets the MIC be omitted when the preferred mechanism is selected).
pub struct SpnegoKerberos {
    ticket: ServiceTicket,
    state: State,
    ctime: Option<KerberosTime>,
    cusec: u32,
    subkey: Zeroizing<Vec<u8>>,
    session_key: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for SpnegoKerberos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpnegoKerberos")
            .field("ticket", &self.ticket)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl SpnegoKerberos {
    /// An initiator that presents `ticket`.
    pub fn new(ticket: ServiceTicket) -> Self {
        SpnegoKerberos {
            ticket,
            state: State::Start,
            ctime: None,
            cusec: 0,
            subkey: Zeroizing::new(Vec::new()),
            session_key: None,
        }
    }

    /// The ticket presented.
    pub fn ticket(&self) -> &ServiceTicket {
        &self.ticket
    }

    /// The first token: SPNEGO NegTokenInit with the AP-REQ. Calling it again
    /// restarts the exchange with a new authenticator.
    pub fn initial_token(&mut self) -> Result<Vec<u8>, KerberosError> {
        let suite = suite_of(self.ticket.key.enctype)?;
        let cipher = suite.cipher();
        let mut random = vec![0u8; cipher.key_size()];
        rand::fill(&mut random[..]);
        let subkey = Zeroizing::new(cipher.random_to_key(random));
        let mut value = vec![0u8; 24];
        value[0] = 16; // Lgth of the (absent) channel bindings hash, RFC 4121 §4.1.1
        value[20..24].copy_from_slice(&GSS_FLAGS.to_le_bytes());
        let cksum = Checksum {
            cksumtype: ExplicitContextTag0::from(small_int(GSS_CHECKSUM_TYPE)),
            checksum: ExplicitContextTag1::from(OctetStringAsn1::from(value)),
        };
        let seq = rand::random::<u32>() & 0x3fff_ffff;
        let (auth, ctime, cusec) = authenticator(
            &self.ticket.client,
            Some(cksum),
            Some(encryption_key(self.ticket.key.enctype, &subkey)),
            Some(seq),
        )?;
        let enc_params = EncryptionParams {
            encryption_type: Some(suite),
            ..EncryptionParams::default_for_client()
        };
        let ap_req = generate_ap_req(
            self.ticket.ticket.clone(),
            &Secret::new(self.ticket.key.key.to_vec()),
            &auth,
            &enc_params,
            ApOptions::MUTUAL_REQUIRED,
        )
        .map_err(|e| KerberosError::build("AP-REQ", e))?;
        let ap_req =
            picky_asn1_der::to_vec(&ap_req).map_err(|e| KerberosError::build("AP-REQ", e))?;
        let mut inner = vec![0x06, OID_KRB5.len() as u8];
        inner.extend_from_slice(OID_KRB5);
        inner.extend_from_slice(&TOK_AP_REQ);
        inner.extend_from_slice(&ap_req);
        let gss = der(0x60, &inner);
        self.ctime = Some(ctime);
        self.cusec = cusec;
        self.subkey = subkey;
        self.session_key = None;
        self.state = State::Sent;
        Ok(spnego::neg_token_init(&[OID_MS_KRB5, OID_KRB5], &gss))
    }

    /// Processes the server's last token: the AP-REP (mutual authentication)
    /// or a KRB-ERROR.
    pub fn finish(&mut self, server_token: &[u8]) -> Result<(), KerberosError> {
        if self.state != State::Sent {
            return Err(KerberosError::State("finish() must follow initial_token()"));
        }
        let resp = spnego::parse_neg_token_resp(server_token)
            .map_err(|e| KerberosError::malformed("SPNEGO answer", e))?;
        if let Some(mech) = &resp.supported_mech {
            if mech.as_slice() != OID_KRB5 && mech.as_slice() != OID_MS_KRB5 {
                return Err(KerberosError::malformed(
                    "SPNEGO answer",
                    "the server selected a mechanism other than Kerberos",
                ));
            }
        }
        let token = resp.response_token.as_deref();
        let Some(token) = token else {
            if resp.neg_state == Some(NegState::Reject) {
                return Err(KerberosError::Server {
                    code: 0,
                    name: "SPNEGO reject",
                });
            }
            return Err(KerberosError::MutualAuthFailed("the server sent no AP-REP"));
        };
        let (tok_id, body) = unwrap_gss(token)?;
        if tok_id == TOK_ERROR {
            let err: KrbError = super::asn1::from_der(body)
                .map_err(|e| KerberosError::malformed("KRB-ERROR from the server", e))?;
            return Err(KerberosError::from_server(
                err.0.error_code.0,
                &self.ticket.client,
            ));
        }
        if tok_id != TOK_AP_REP {
            return Err(KerberosError::malformed(
                "server's GSS token",
                format!("TOK_ID {tok_id:02x?} is not an AP-REP"),
            ));
        }
        let ap_rep: ApRep =
            super::asn1::from_der(body).map_err(|e| KerberosError::malformed("AP-REP", e))?;
        let suite = suite_of(self.ticket.key.enctype)?;
        let plain = suite
            .cipher()
            .decrypt(
                &self.ticket.key.key,
                AP_REP_ENC,
                &ap_rep.0.enc_part.0.cipher.0 .0,
            )
            .map_err(|_| {
                KerberosError::MutualAuthFailed("the AP-REP does not decrypt with the ticket's key")
            })?;
        let part: EncApRepPart = super::asn1::from_der(&plain)
            .map_err(|e| KerberosError::malformed("AP-REP encrypted part", e))?;
        let echoed = Some(&part.0.ctime.0) == self.ctime.as_ref()
            && int_value(&part.0.cusec.0) == i64::from(self.cusec);
        if !echoed {
            return Err(KerberosError::MutualAuthFailed(
                "the AP-REP does not echo the authenticator's time",
            ));
        }
        let key = match part.0.subkey.0.as_ref() {
            Some(k) => {
                suite_of(int_value(&k.0.key_type.0))?;
                Zeroizing::new(k.0.key_value.0 .0.clone())
            }
            None => self.subkey.clone(),
        };
        self.session_key = Some(key);
        self.state = State::Done;
        Ok(())
    }

    /// The GSS session key (MS-KILE §3.1.1.2) once [`finish`](Self::finish)
    /// succeeded; SMB 2/3 uses its first 16 bytes (MS-SMB2 §3.2.5.3).
    pub fn session_key(&self) -> Option<&[u8]> {
        self.session_key.as_deref().map(|k| &k[..])
    }
}

/// What a file server does with the AP-REQ in `init_token` (a NegTokenInit
/// from [`SpnegoKerberos::initial_token`]), for tests of the connection
/// machines: decrypts the authenticator with `ticket`'s session key and
/// answers with a NegTokenResp whose AP-REP echoes its time and gives
/// `server_subkey`, encrypted with `answer_key` (the session key, or another
/// key to fake a server that does not hold it).
#[cfg(test)]
pub(crate) fn accept_for_tests(
    init_token: &[u8],
    ticket: &ServiceTicket,
    answer_key: &[u8],
    server_subkey: &[u8],
) -> Vec<u8> {
    use picky_asn1::wrapper::{ExplicitContextTag2, ExplicitContextTag3, Optional};
    use picky_krb::constants::key_usages::AP_REQ_AUTHENTICATOR;
    use picky_krb::data_types::{Authenticator, EncApRepPartInner, EncryptedData};
    use picky_krb::messages::{ApRepInner, ApReq};

    let init = spnego::parse_neg_token_init(init_token).unwrap();
    let (_, body) = unwrap_gss(init.mech_token.as_deref().unwrap()).unwrap();
    let ap_req: ApReq = super::asn1::from_der(body).unwrap();
    let suite = suite_of(ticket.key.enctype).unwrap();
    let plain = suite
        .cipher()
        .decrypt(
            &ticket.key.key,
            AP_REQ_AUTHENTICATOR,
            &ap_req.0.authenticator.0.cipher.0 .0,
        )
        .unwrap();
    let auth: Authenticator = super::asn1::from_der(&plain).unwrap();
    let part = EncApRepPart::from(EncApRepPartInner {
        ctime: ExplicitContextTag0::from(auth.0.ctime.0.clone()),
        cusec: ExplicitContextTag1::from(auth.0.cusec.0.clone()),
        subkey: Optional::from(Some(ExplicitContextTag2::from(encryption_key(
            ticket.key.enctype,
            server_subkey,
        )))),
        seq_number: Optional::from(Some(ExplicitContextTag3::from(small_int(1)))),
    });
    let plain = picky_asn1_der::to_vec(&part).unwrap();
    let cipher = suite
        .cipher()
        .encrypt(answer_key, AP_REP_ENC, &plain)
        .unwrap();
    let rep = ApRep::from(ApRepInner {
        pvno: ExplicitContextTag0::from(small_int(5)),
        msg_type: ExplicitContextTag1::from(small_int(15)),
        enc_part: ExplicitContextTag2::from(EncryptedData {
            etype: ExplicitContextTag0::from(small_int(u64::try_from(ticket.key.enctype).unwrap())),
            kvno: Optional::from(None),
            cipher: ExplicitContextTag2::from(OctetStringAsn1::from(cipher)),
        }),
    });
    let mut inner = vec![0x06, OID_KRB5.len() as u8];
    inner.extend_from_slice(OID_KRB5);
    inner.extend_from_slice(&TOK_AP_REP);
    inner.extend_from_slice(&picky_asn1_der::to_vec(&rep).unwrap());
    spnego::neg_token_resp(Some(&der(0x60, &inner)), None)
}

/// `tag` + DER length + `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(content);
    out
}

/// Splits a GSS-API token (RFC 2743 §3.1: `[APPLICATION 0] { OID, TOK_ID,
/// message }`) into its TOK_ID and message; a bare AP-REP or KRB-ERROR
/// (some servers omit the framing) is accepted too.
fn unwrap_gss(token: &[u8]) -> Result<([u8; 2], &[u8]), KerberosError> {
    let bad = |d: &str| KerberosError::malformed("server's GSS token", d.to_string());
    match token.first() {
        Some(0x6f) => return Ok((TOK_AP_REP, token)),
        Some(0x7e) => return Ok((TOK_ERROR, token)),
        Some(0x60) => {}
        _ => return Err(bad("not a GSS-API token")),
    }
    let (content, _) = read_len(&token[1..]).ok_or_else(|| bad("bad length"))?;
    let [0x06, oid_len, rest @ ..] = content else {
        return Err(bad("no mechanism OID"));
    };
    let oid_len = usize::from(*oid_len);
    let oid = rest.get(..oid_len).ok_or_else(|| bad("truncated OID"))?;
    if oid != OID_KRB5 && oid != OID_MS_KRB5 {
        return Err(bad("not a Kerberos token"));
    }
    let rest = &rest[oid_len..];
    let (tok, body) = rest.split_at_checked(2).ok_or_else(|| bad("no TOK_ID"))?;
    Ok(([tok[0], tok[1]], body))
}

/// Reads a DER length and returns (content, rest).
fn read_len(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = *b.first()?;
    let (len, skip) = if first < 0x80 {
        (usize::from(first), 1)
    } else {
        let k = usize::from(first & 0x7f);
        if k == 0 || k > 4 {
            return None;
        }
        let mut n = 0usize;
        for i in 0..k {
            n = (n << 8) | usize::from(*b.get(1 + i)?);
        }
        (n, 1 + k)
    };
    let content = b.get(skip..skip.checked_add(len)?)?;
    Some((content, &b[skip + len..]))
}

#[cfg(test)]
mod tests {
    /// What a case expects of the error.
    type Check = fn(&KerberosError) -> bool;
    use picky_asn1::wrapper::{ExplicitContextTag2, ExplicitContextTag3, Optional};
    use picky_krb::data_types::{EncApRepPartInner, EncryptedData};
    use picky_krb::messages::ApRepInner;

    use super::*;
    use crate::kerberos::test_tickets::service_ticket as ticket;

    /// The server's answer: a NegTokenResp with a GSS-wrapped AP-REP whose
    /// encrypted part (with `key`) says `ctime`/`cusec` and gives `subkey`.
    fn ap_rep(key: &[u8], ctime: &KerberosTime, cusec: u32, subkey: Option<&[u8]>) -> Vec<u8> {
        let part = EncApRepPart::from(EncApRepPartInner {
            ctime: ExplicitContextTag0::from(ctime.clone()),
            cusec: ExplicitContextTag1::from(small_int(u64::from(cusec))),
            subkey: Optional::from(
                subkey.map(|k| ExplicitContextTag2::from(encryption_key(18, k))),
            ),
            seq_number: Optional::from(Some(ExplicitContextTag3::from(small_int(7)))),
        });
        let plain = picky_asn1_der::to_vec(&part).unwrap();
        let cipher = suite_of(18)
            .unwrap()
            .cipher()
            .encrypt(key, AP_REP_ENC, &plain)
            .unwrap();
        let rep = ApRep::from(ApRepInner {
            pvno: ExplicitContextTag0::from(small_int(5)),
            msg_type: ExplicitContextTag1::from(small_int(15)),
            enc_part: ExplicitContextTag2::from(EncryptedData {
                etype: ExplicitContextTag0::from(small_int(18)),
                kvno: Optional::from(None),
                cipher: ExplicitContextTag2::from(OctetStringAsn1::from(cipher)),
            }),
        });
        wrap(TOK_AP_REP, &picky_asn1_der::to_vec(&rep).unwrap())
    }

    fn wrap(tok: [u8; 2], body: &[u8]) -> Vec<u8> {
        let mut inner = vec![0x06, OID_KRB5.len() as u8];
        inner.extend_from_slice(OID_KRB5);
        inner.extend_from_slice(&tok);
        inner.extend_from_slice(body);
        spnego::neg_token_resp(Some(&der(0x60, &inner)), None)
    }

    #[test]
    fn ap_req_then_mutual_authentication_gives_the_servers_subkey() {
        let t = ticket();
        let key = t.key.key.clone();
        let mut k = SpnegoKerberos::new(t);
        assert!(matches!(k.finish(b""), Err(KerberosError::State(_))));
        let token = k.initial_token().unwrap();
        let init = spnego::parse_neg_token_init(&token).unwrap();
        assert_eq!(init.mech_types, [OID_MS_KRB5.to_vec(), OID_KRB5.to_vec()]);
        let (tok, ap_req) = unwrap_gss(init.mech_token.as_deref().unwrap()).unwrap();
        assert_eq!((tok, ap_req[0]), (TOK_AP_REQ, 0x6e), "GSS-wrapped AP-REQ");
        let (ctime, cusec) = (k.ctime.clone().unwrap(), k.cusec);

        let server_key = [0x5au8; 32];
        k.finish(&ap_rep(&key, &ctime, cusec, Some(&server_key)))
            .unwrap();
        assert_eq!(k.session_key(), Some(&server_key[..]));

        // Without a server subkey, ours is the session key.
        k.initial_token().unwrap();
        let ours = k.subkey.clone();
        let (ctime, cusec) = (k.ctime.clone().unwrap(), k.cusec);
        k.finish(&ap_rep(&key, &ctime, cusec, None)).unwrap();
        assert_eq!(k.session_key(), Some(&ours[..]));
        assert_eq!(ours.len(), 32);
    }

    #[test]
    fn answers_that_do_not_prove_the_server_are_refused() {
        let t = ticket();
        let key = t.key.key.clone();
        let mut k = SpnegoKerberos::new(t);
        k.initial_token().unwrap();
        let (ctime, cusec) = (k.ctime.clone().unwrap(), k.cusec);
        let cases: Vec<(Vec<u8>, Check)> = vec![
            // Another key: the AP-REP does not decrypt.
            (ap_rep(&[1u8; 32], &ctime, cusec, None), |e| {
                matches!(e, KerberosError::MutualAuthFailed(_))
            }),
            // Not our authenticator's time.
            (ap_rep(&key, &ctime, (cusec + 1) % 1_000_000, None), |e| {
                matches!(e, KerberosError::MutualAuthFailed(_))
            }),
            // No token at all.
            (spnego::neg_token_resp(None, None), |e| {
                matches!(e, KerberosError::MutualAuthFailed(_))
            }),
            // A reject.
            (
                spnego::encode_neg_token_resp(&spnego::NegTokenResp {
                    neg_state: Some(NegState::Reject),
                    ..Default::default()
                }),
                |e| matches!(e, KerberosError::Server { .. }),
            ),
            // Not SPNEGO.
            (b"garbage".to_vec(), |e| {
                matches!(e, KerberosError::Malformed { .. })
            }),
            // NTLM selected.
            (
                spnego::encode_neg_token_resp(&spnego::NegTokenResp {
                    supported_mech: Some(spnego::OID_NTLMSSP.to_vec()),
                    response_token: Some(vec![1]),
                    ..Default::default()
                }),
                |e| matches!(e, KerberosError::Malformed { .. }),
            ),
            // An AP-REQ token id.
            (wrap(TOK_AP_REQ, b"\x30\x00"), |e| {
                matches!(e, KerberosError::Malformed { .. })
            }),
        ];
        for (i, (answer, check)) in cases.into_iter().enumerate() {
            let e = k.finish(&answer).unwrap_err();
            assert!(check(&e), "case {i}: {e:?}");
            assert_eq!(k.session_key(), None);
        }
    }

    #[test]
    fn a_krb_error_from_the_server_is_typed() {
        let mut k = SpnegoKerberos::new(ticket());
        k.initial_token().unwrap();
        // KRB-ERROR KRB_AP_ERR_SKEW as Samba sends it inside the GSS token.
        let err = hex_krb_error(37);
        let e = k.finish(&wrap(TOK_ERROR, &err)).unwrap_err();
        assert!(
            matches!(
                e,
                KerberosError::ClockSkew {
                    peer: "file server"
                }
            ),
            "{e:?}"
        );
        let e = k.finish(&wrap(TOK_ERROR, &hex_krb_error(41))).unwrap_err();
        assert!(
            matches!(
                e,
                KerberosError::Server {
                    code: 41,
                    name: "KRB_AP_ERR_MODIFIED"
                }
            ),
            "{e:?}"
        );
    }

    /// A minimal KRB-ERROR with `code` (RFC 4120 §5.9.1).
    fn hex_krb_error(code: u8) -> Vec<u8> {
        let field = |tag: u8, v: Vec<u8>| der(0xa0 | tag, &v);
        let time = der(0x18, b"20261207020000Z");
        let name = der(
            0x30,
            &[
                field(0, der(0x02, &[2])),
                field(1, der(0x30, &der(0x1b, b"cifs"))),
            ]
            .concat(),
        );
        let seq = [
            field(0, der(0x02, &[5])),
            field(1, der(0x02, &[30])),
            field(4, time),
            field(5, der(0x02, &[0])),
            field(6, der(0x02, &[code])),
            field(9, der(0x1b, b"SMBKIT.TEST")),
            field(10, name),
        ]
        .concat();
        der(0x7e, &der(0x30, &seq))
    }

    #[test]
    fn gss_framing_round_trips_and_rejects_garbage() {
        let mut inner = vec![0x06, OID_KRB5.len() as u8];
        inner.extend_from_slice(OID_KRB5);
        inner.extend_from_slice(&TOK_AP_REP);
        inner.extend_from_slice(&[0x6f; 300]);
        let token = der(0x60, &inner);
        let (tok, body) = unwrap_gss(&token).unwrap();
        assert_eq!(tok, TOK_AP_REP);
        assert_eq!(body.len(), 300);
        for cut in 0..token.len() {
            assert!(unwrap_gss(&token[..cut]).is_err(), "cut at {cut}");
        }
        assert!(unwrap_gss(&[0x60, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut other = token.clone();
        other[4] ^= 1; // another OID
        assert!(unwrap_gss(&other).is_err());
    }
}
