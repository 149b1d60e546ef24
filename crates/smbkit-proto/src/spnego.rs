//! SPNEGO tokens (RFC 4178, [MS-SPNG]) — just what SMB needs.
//!
//! SMB carries GSS-API tokens in its security buffers: the server's
//! NegTokenInit2 hint in the NEGOTIATE response (MS-SPNG §2.2.1), the client's
//! NegTokenInit (RFC 4178 §4.2.1) wrapped in the GSS-API InitialContextToken
//! (RFC 2743 §3.1), and NegTokenResp (RFC 4178 §4.2.2) in both directions.
//!
//! The DER reader is strict about bounds: lengths may use the short or long
//! form (up to four length octets, no indefinite form), every length must fit
//! in what encloses it, and only single-octet tags are accepted. The parser
//! follows the fixed RFC 4178 schema and never descends into unknown elements
//! (unknown context-specific fields are skipped by length, as RFC 4178's
//! extensibility requires), so nesting is bounded; [`MAX_DEPTH`] is checked
//! as a backstop. Nothing here panics on input.
//!
//! [MS-SPNG]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-spng/

use crate::codec::Reader;
use crate::DecodeError;

/// DER content octets of the NTLMSSP mechanism OID 1.3.6.1.4.1.311.2.2.10
/// (MS-NLMP §1.9), without the `06 0a` tag and length.
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// DER content octets of the SPNEGO OID 1.3.6.1.5.5.2 (RFC 4178 §4.1).
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// DER content octets of the Kerberos 5 OID 1.2.840.113554.1.2.2 (RFC 4121).
pub const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// DER content octets of Microsoft's legacy Kerberos OID 1.2.840.48018.1.2.2 (MS-SPNG §1.9).
pub const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// DER content octets of NegoEx 1.3.6.1.4.1.311.2.2.30 (MS-NEGOEX).
pub const OID_NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];

/// The deepest constructed nesting the parser follows.
pub const MAX_DEPTH: usize = 8;

mod tag {
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const BIT_STRING: u8 = 0x03;
    pub const GENERAL_STRING: u8 = 0x1b;
    pub const SEQUENCE: u8 = 0x30;
    pub const APPLICATION_0: u8 = 0x60;
    /// `[n]` constructed, context-specific.
    pub const fn ctx(n: u8) -> u8 {
        0xa0 | n
    }
}

// ---------------------------------------------------------------------------
// DER encoding

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let sig = &bytes[skip..];
        out.push(0x80 | sig.len() as u8);
        out.extend_from_slice(sig);
    }
}

/// One TLV.
fn tlv(t: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(t);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// The DER of MechTypeList (`SEQUENCE OF MechType`, RFC 4178 §4.2.1) for OIDs
/// given as content octets (like [`OID_NTLMSSP`]). This exact encoding is what
/// the mechListMIC signs (RFC 4178 §5).
pub fn mech_type_list(mech_types: &[&[u8]]) -> Vec<u8> {
    let mut inner = Vec::new();
    for m in mech_types {
        inner.extend(tlv(tag::OID, m));
    }
    tlv(tag::SEQUENCE, &inner)
}

/// The client's first token: the GSS-API InitialContextToken
/// (`[APPLICATION 0] { thisMech = SPNEGO OID, NegotiationToken }`, RFC 2743
/// §3.1) holding `negTokenInit [0]` with `mechTypes` and, if non-empty,
/// `mechToken` (RFC 4178 §4.2.1).
pub fn neg_token_init(mech_types: &[&[u8]], mech_token: &[u8]) -> Vec<u8> {
    let mut seq = tlv(tag::ctx(0), &mech_type_list(mech_types));
    if !mech_token.is_empty() {
        seq.extend(tlv(tag::ctx(2), &tlv(tag::OCTET_STRING, mech_token)));
    }
    let init = tlv(tag::ctx(0), &tlv(tag::SEQUENCE, &seq));
    let mut body = tlv(tag::OID, OID_SPNEGO);
    body.extend(init);
    tlv(tag::APPLICATION_0, &body)
}

/// A client `negTokenResp [1]` (RFC 4178 §4.2.2) with an optional
/// `responseToken [2]` and `mechListMIC [3]`; the client sends no negState.
pub fn neg_token_resp(response_token: Option<&[u8]>, mech_list_mic: Option<&[u8]>) -> Vec<u8> {
    let mut seq = Vec::new();
    if let Some(t) = response_token {
        seq.extend(tlv(tag::ctx(2), &tlv(tag::OCTET_STRING, t)));
    }
    if let Some(m) = mech_list_mic {
        seq.extend(tlv(tag::ctx(3), &tlv(tag::OCTET_STRING, m)));
    }
    tlv(tag::ctx(1), &tlv(tag::SEQUENCE, &seq))
}

/// Encodes a complete NegTokenResp, including negState and supportedMech (for
/// tests and servers).
pub fn encode_neg_token_resp(t: &NegTokenResp) -> Vec<u8> {
    let mut seq = Vec::new();
    if let Some(s) = t.neg_state {
        seq.extend(tlv(tag::ctx(0), &tlv(tag::ENUMERATED, &[s.to_u8()])));
    }
    if let Some(m) = &t.supported_mech {
        seq.extend(tlv(tag::ctx(1), &tlv(tag::OID, m)));
    }
    if let Some(r) = &t.response_token {
        seq.extend(tlv(tag::ctx(2), &tlv(tag::OCTET_STRING, r)));
    }
    if let Some(m) = &t.mech_list_mic {
        seq.extend(tlv(tag::ctx(3), &tlv(tag::OCTET_STRING, m)));
    }
    tlv(tag::ctx(1), &tlv(tag::SEQUENCE, &seq))
}

// ---------------------------------------------------------------------------
// DER decoding

/// Reads one TLV from `r`: returns `(tag, content)`.
fn read_tlv<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<(u8, &'a [u8]), DecodeError> {
    let t = r.u8(what)?;
    if t & 0x1f == 0x1f {
        return Err(DecodeError::invalid(what, "multi-octet DER tag"));
    }
    let first = r.u8(what)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(DecodeError::invalid(what, "indefinite DER length"));
        }
        if n > 4 {
            return Err(DecodeError::TooLarge {
                what,
                length: n,
                limit: 4,
            });
        }
        let mut len = 0usize;
        for b in r.take(n, what)? {
            len = (len << 8) | usize::from(*b);
        }
        len
    };
    let content = r.take(len, what)?;
    Ok((t, content))
}

/// Reads one TLV and requires tag `want`.
fn expect_tlv<'a>(
    r: &mut Reader<'a>,
    want: u8,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    let (t, c) = read_tlv(r, what)?;
    if t != want {
        return Err(DecodeError::invalid(
            what,
            format!("DER tag {t:#04x} (expected {want:#04x})"),
        ));
    }
    Ok(c)
}

/// The content of a TLV that must be exactly one element with tag `want`.
fn only<'a>(buf: &'a [u8], want: u8, what: &'static str) -> Result<&'a [u8], DecodeError> {
    let mut r = Reader::new(buf);
    let c = expect_tlv(&mut r, want, what)?;
    r.expect_end(what)?;
    Ok(c)
}

fn check_depth(depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooLarge {
            what: "SPNEGO nesting depth",
            length: depth,
            limit: MAX_DEPTH,
        });
    }
    Ok(())
}

/// Parses a `SEQUENCE OF OBJECT IDENTIFIER` into OID content octets.
fn parse_mech_type_list(content: &[u8], depth: usize) -> Result<Vec<Vec<u8>>, DecodeError> {
    check_depth(depth)?;
    let seq = only(content, tag::SEQUENCE, "MechTypeList")?;
    let mut r = Reader::new(seq);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        let oid = expect_tlv(&mut r, tag::OID, "MechType")?;
        if oid.is_empty() {
            return Err(DecodeError::invalid("MechType", "empty OID"));
        }
        out.push(oid.to_vec());
    }
    Ok(out)
}

/// negState (RFC 4178 §4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegState {
    /// accept-completed (0): authentication is complete.
    AcceptCompleted,
    /// accept-incomplete (1): more tokens are needed.
    AcceptIncomplete,
    /// reject (2): authentication failed.
    Reject,
    /// request-mic (3): the acceptor wants a mechListMIC (MS-SPNG §3.2.5.1).
    RequestMic,
    /// Any other value.
    Unknown(u8),
}

impl NegState {
    /// The ENUMERATED value.
    pub fn to_u8(self) -> u8 {
        match self {
            NegState::AcceptCompleted => 0,
            NegState::AcceptIncomplete => 1,
            NegState::Reject => 2,
            NegState::RequestMic => 3,
            NegState::Unknown(v) => v,
        }
    }

    /// From the ENUMERATED value.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => NegState::AcceptCompleted,
            1 => NegState::AcceptIncomplete,
            2 => NegState::Reject,
            3 => NegState::RequestMic,
            v => NegState::Unknown(v),
        }
    }
}

/// A decoded NegTokenResp (RFC 4178 §4.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenResp {
    /// negState `[0]`.
    pub neg_state: Option<NegState>,
    /// supportedMech `[1]`, as OID content octets.
    pub supported_mech: Option<Vec<u8>>,
    /// responseToken `[2]`: the mechanism's token (e.g. an NTLM CHALLENGE_MESSAGE).
    pub response_token: Option<Vec<u8>>,
    /// mechListMIC `[3]`.
    pub mech_list_mic: Option<Vec<u8>>,
}

/// Parses `negTokenResp [1] SEQUENCE { ... }` (RFC 4178 §4.2.2). Bytes after
/// the token are ignored; unknown context tags inside it are skipped.
pub fn parse_neg_token_resp(buf: &[u8]) -> Result<NegTokenResp, DecodeError> {
    let mut r = Reader::new(buf);
    let outer = expect_tlv(&mut r, tag::ctx(1), "NegTokenResp")?;
    let seq = only(outer, tag::SEQUENCE, "NegTokenResp SEQUENCE")?;
    let mut r = Reader::new(seq);
    let mut out = NegTokenResp::default();
    while r.remaining() > 0 {
        let (t, c) = read_tlv(&mut r, "NegTokenResp field")?;
        match t {
            0xa0 => {
                let v = only(c, tag::ENUMERATED, "negState")?;
                let [b] = v else {
                    return Err(DecodeError::invalid(
                        "negState",
                        format!("{}-byte ENUMERATED", v.len()),
                    ));
                };
                out.neg_state = Some(NegState::from_u8(*b));
            }
            0xa1 => out.supported_mech = Some(only(c, tag::OID, "supportedMech")?.to_vec()),
            0xa2 => {
                out.response_token = Some(only(c, tag::OCTET_STRING, "responseToken")?.to_vec())
            }
            0xa3 => out.mech_list_mic = Some(only(c, tag::OCTET_STRING, "mechListMIC")?.to_vec()),
            t if t & 0xe0 == 0xa0 => {} // unknown context-specific field: skip
            t => {
                return Err(DecodeError::invalid(
                    "NegTokenResp field",
                    format!("unexpected DER tag {t:#04x}"),
                ))
            }
        }
    }
    Ok(out)
}

/// A decoded NegTokenInit / NegTokenInit2 (RFC 4178 §4.2.1, MS-SPNG §2.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenInit {
    /// mechTypes `[0]`, as OID content octets, in the sender's order of preference.
    pub mech_types: Vec<Vec<u8>>,
    /// reqFlags `[1]`, the raw BIT STRING content.
    pub req_flags: Option<Vec<u8>>,
    /// mechToken `[2]`.
    pub mech_token: Option<Vec<u8>>,
    /// negHints.hintName (NegTokenInit2 `[3]`); Windows sends
    /// `"not_defined_in_RFC4178@please_ignore"`.
    pub hint_name: Option<String>,
    /// negHints.hintAddress (NegTokenInit2 `[3]`).
    pub hint_address: Option<Vec<u8>>,
    /// mechListMIC (`[3]` in RFC 4178, `[4]` in NegTokenInit2).
    pub mech_list_mic: Option<Vec<u8>>,
}

impl NegTokenInit {
    /// True if `oid` (content octets) is among the offered mechanisms.
    pub fn offers(&self, oid: &[u8]) -> bool {
        self.mech_types.iter().any(|m| m == oid)
    }
}

/// Parses NegHints (MS-SPNG §2.2.1).
fn parse_neg_hints(
    content: &[u8],
    out: &mut NegTokenInit,
    depth: usize,
) -> Result<(), DecodeError> {
    check_depth(depth)?;
    let mut r = Reader::new(content);
    while r.remaining() > 0 {
        let (t, c) = read_tlv(&mut r, "NegHints field")?;
        match t {
            0xa0 => {
                let s = only(c, tag::GENERAL_STRING, "hintName")?;
                out.hint_name = Some(String::from_utf8_lossy(s).into_owned());
            }
            0xa1 => out.hint_address = Some(only(c, tag::OCTET_STRING, "hintAddress")?.to_vec()),
            _ => {}
        }
    }
    Ok(())
}

/// Parses the server's NegTokenInit2 hint (MS-SPNG §2.2.1) or any NegTokenInit
/// (RFC 4178 §4.2.1), either wrapped in the GSS-API InitialContextToken
/// (`60 .. 06 06 2b0601050502 a0 ..`, whose OID must be SPNEGO) or bare
/// (`a0 ..`). Bytes after the token are ignored.
pub fn parse_neg_token_init(buf: &[u8]) -> Result<NegTokenInit, DecodeError> {
    let mut r = Reader::new(buf);
    let (t, c) = read_tlv(&mut r, "SPNEGO token")?;
    let neg_token = match t {
        tag::APPLICATION_0 => {
            let mut inner = Reader::new(c);
            let oid = expect_tlv(&mut inner, tag::OID, "GSS-API thisMech")?;
            if oid != OID_SPNEGO {
                return Err(DecodeError::invalid(
                    "GSS-API thisMech",
                    "not the SPNEGO OID",
                ));
            }
            let tok = expect_tlv(&mut inner, tag::ctx(0), "NegTokenInit")?;
            inner.expect_end("InitialContextToken")?;
            tok
        }
        0xa0 => c,
        t => {
            return Err(DecodeError::invalid(
                "SPNEGO token",
                format!("DER tag {t:#04x} (expected 0x60 or 0xa0)"),
            ))
        }
    };
    let seq = only(neg_token, tag::SEQUENCE, "NegTokenInit SEQUENCE")?;
    let mut r = Reader::new(seq);
    let mut out = NegTokenInit::default();
    // InitialContextToken / [0] / SEQUENCE / field: the fields sit at depth 4.
    let depth = 4;
    while r.remaining() > 0 {
        let (t, c) = read_tlv(&mut r, "NegTokenInit field")?;
        match t {
            0xa0 => out.mech_types = parse_mech_type_list(c, depth + 1)?,
            0xa1 => out.req_flags = Some(only(c, tag::BIT_STRING, "reqFlags")?.to_vec()),
            0xa2 => out.mech_token = Some(only(c, tag::OCTET_STRING, "mechToken")?.to_vec()),
            0xa3 => {
                // NegTokenInit2 negHints (a SEQUENCE) or RFC 4178 mechListMIC.
                let mut inner = Reader::new(c);
                let (it, ic) = read_tlv(&mut inner, "NegTokenInit [3]")?;
                inner.expect_end("NegTokenInit [3]")?;
                match it {
                    tag::SEQUENCE => parse_neg_hints(ic, &mut out, depth + 1)?,
                    tag::OCTET_STRING => out.mech_list_mic = Some(ic.to_vec()),
                    it => {
                        return Err(DecodeError::invalid(
                            "NegTokenInit [3]",
                            format!("DER tag {it:#04x}"),
                        ))
                    }
                }
            }
            0xa4 => out.mech_list_mic = Some(only(c, tag::OCTET_STRING, "mechListMIC")?.to_vec()),
            t if t & 0xe0 == 0xa0 => {}
            t => {
                return Err(DecodeError::invalid(
                    "NegTokenInit field",
                    format!("unexpected DER tag {t:#04x}"),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ntlmssp_oid_encoding() {
        // 1.3.6.1.4.1.311.2.2.10: 1*40+3 = 0x2b, 311 = 0x82 0x37.
        assert_eq!(tlv(tag::OID, OID_NTLMSSP), hex("060a2b0601040182370202 0a"));
    }

    #[test]
    fn neg_token_init_exact_bytes() {
        let tok = neg_token_init(&[OID_NTLMSSP], b"NTLMSSP\0");
        let expected = hex("60 28 06 06 2b0601050502 \
             a0 1e 30 1c \
               a0 0e 30 0c 06 0a 2b06010401823702020a \
               a2 0a 04 08 4e544c4d53535000");
        assert_eq!(tok, expected);
        let parsed = parse_neg_token_init(&tok).unwrap();
        assert_eq!(parsed.mech_types, vec![OID_NTLMSSP.to_vec()]);
        assert_eq!(parsed.mech_token.as_deref(), Some(&b"NTLMSSP\0"[..]));
    }

    #[test]
    fn mech_type_list_der() {
        assert_eq!(
            mech_type_list(&[OID_NTLMSSP]),
            hex("30 0c 06 0a 2b06010401823702020a")
        );
    }

    #[test]
    fn long_form_lengths_round_trip() {
        let big = vec![0x5a; 300];
        let tok = neg_token_resp(Some(&big), Some(&[1; 16]));
        // a1 82 01 4a ... (long form with two length octets)
        assert_eq!(&tok[..2], &[0xa1, 0x82]);
        let p = parse_neg_token_resp(&tok).unwrap();
        assert_eq!(p.response_token.as_deref(), Some(&big[..]));
        assert_eq!(p.mech_list_mic.as_deref(), Some(&[1u8; 16][..]));
        assert_eq!(p.neg_state, None);

        let init = neg_token_init(&[OID_KRB5, OID_NTLMSSP], &big);
        let p = parse_neg_token_init(&init).unwrap();
        assert_eq!(p.mech_types, vec![OID_KRB5.to_vec(), OID_NTLMSSP.to_vec()]);
        assert_eq!(p.mech_token.as_deref(), Some(&big[..]));
    }

    #[test]
    fn full_neg_token_resp_round_trip() {
        let t = NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_NTLMSSP.to_vec()),
            response_token: Some(b"NTLMSSP\0\x02\0\0\0".to_vec()),
            mech_list_mic: None,
        };
        let enc = encode_neg_token_resp(&t);
        assert_eq!(parse_neg_token_resp(&enc).unwrap(), t);
        let t2 = NegTokenResp {
            neg_state: Some(NegState::Unknown(7)),
            ..Default::default()
        };
        assert_eq!(
            parse_neg_token_resp(&encode_neg_token_resp(&t2)).unwrap(),
            t2
        );
    }

    /// The shape of a Windows SMB2 NEGOTIATE response security buffer
    /// (NegTokenInit2 with negHints, MS-SPNG §2.2.1), built by hand.
    #[test]
    fn windows_negotiate_hint() {
        let hint = b"not_defined_in_RFC4178@please_ignore";
        let mut body = hex("a0 30 30 2e \
               a0 1a 30 18 \
                 06 0a 2b06010401823702021e \
                 06 0a 2b06010401823702020a");
        // a3 2a 30 28 a0 26 1b 24 <36 bytes>
        body.extend(hex("a3 2a 30 28 a0 26 1b 24"));
        body.extend_from_slice(hint);
        // Fix the lengths: the SEQUENCE holds a0(0x1c) and a3(0x2c) = 0x48 bytes.
        let seq_content = &body[4..];
        let seq = tlv(tag::SEQUENCE, seq_content);
        let init = tlv(0xa0, &seq);
        let mut gss = tlv(tag::OID, OID_SPNEGO);
        gss.extend(init);
        let tok = tlv(tag::APPLICATION_0, &gss);
        assert_eq!(&tok[..10], &hex("60 54 06 06 2b0601050502")[..]);
        let p = parse_neg_token_init(&tok).unwrap();
        assert_eq!(
            p.mech_types,
            vec![OID_NEGOEX.to_vec(), OID_NTLMSSP.to_vec()]
        );
        assert!(p.offers(OID_NTLMSSP));
        assert!(!p.offers(OID_KRB5));
        assert_eq!(
            p.hint_name.as_deref(),
            Some("not_defined_in_RFC4178@please_ignore")
        );
        assert_eq!(p.mech_token, None);
    }

    /// A server's accept-incomplete answer as Windows sends it (negState,
    /// supportedMech, responseToken), built by hand.
    #[test]
    fn server_challenge_shape() {
        let ntlm = b"NTLMSSP\0\x02\0\0\0";
        let mut seq = hex("a0 03 0a 01 01 a1 0c 06 0a 2b06010401823702020a");
        seq.extend(hex("a2 0e 04 0c"));
        seq.extend_from_slice(ntlm);
        assert_eq!(seq.len(), 0x23);
        let mut tok = hex("a1 25 30 23");
        tok.extend(&seq);
        let p = parse_neg_token_resp(&tok).unwrap();
        assert_eq!(p.neg_state, Some(NegState::AcceptIncomplete));
        assert_eq!(p.supported_mech.as_deref(), Some(OID_NTLMSSP));
        assert_eq!(p.response_token.as_deref(), Some(&ntlm[..]));

        // The final accept-completed with a mechListMIC.
        let fin = hex("a1 1b 30 19 a0 03 0a 01 00 a3 12 04 10 01000000 0102030405060708 00000000");
        let p = parse_neg_token_resp(&fin).unwrap();
        assert_eq!(p.neg_state, Some(NegState::AcceptCompleted));
        assert_eq!(p.mech_list_mic.as_ref().map(Vec::len), Some(16));
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let good = encode_neg_token_resp(&NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_NTLMSSP.to_vec()),
            response_token: Some(vec![7; 40]),
            mech_list_mic: Some(vec![9; 16]),
        });
        for n in 0..good.len() {
            assert!(parse_neg_token_resp(&good[..n]).is_err(), "prefix {n}");
        }
        let init = neg_token_init(&[OID_NTLMSSP], &[1; 20]);
        for n in 0..init.len() {
            assert!(parse_neg_token_init(&init[..n]).is_err(), "prefix {n}");
        }
        let bad: &[&[u8]] = &[
            &[],
            &[0xa1],
            &[0xa1, 0x80],                               // indefinite length
            &[0xa1, 0x85, 1, 0, 0, 0, 0],                // 5 length octets
            &[0xa1, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30], // length past the end
            &[0xa1, 0x02, 0x04, 0x00],                   // not a SEQUENCE
            &[0xbf, 0x01, 0x00],                         // multi-octet tag
            &[0xa1, 0x05, 0x30, 0x03, 0xa0, 0x01, 0x0a], // negState truncated
            &[0xa1, 0x04, 0x30, 0x02, 0x04, 0x00],       // universal tag inside
            &[0x60, 0x04, 0x06, 0x02, 0x2a, 0x03],       // wrong GSS OID
        ];
        for b in bad {
            assert!(parse_neg_token_resp(b).is_err(), "{b:02x?}");
            assert!(parse_neg_token_init(b).is_err(), "{b:02x?}");
        }
        // Inner length longer than the enclosing element.
        let inner_overrun = hex("a1 04 30 05 a0 03 0a 01 01");
        assert!(parse_neg_token_resp(&inner_overrun).is_err());
        // Deterministic pseudo-random garbage must never panic.
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            let len = (x % 64) as usize;
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(x as u8);
            }
            if let Some(f) = v.first_mut() {
                *f = if x & 1 == 0 { 0xa1 } else { 0x60 };
            }
            let _ = parse_neg_token_resp(&v);
            let _ = parse_neg_token_init(&v);
        }
    }

    #[test]
    fn unknown_context_fields_are_skipped() {
        let tok = hex("a1 0a 30 08 a5 01 00 a0 03 0a 01 00");
        assert_eq!(
            parse_neg_token_resp(&tok).unwrap().neg_state,
            Some(NegState::AcceptCompleted)
        );
    }
}
