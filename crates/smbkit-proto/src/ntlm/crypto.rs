//! NTLM one-way functions, responses and key derivation (MS-NLMP §3.3, §3.4.5, §6).
//!
//! These are the building blocks of [`NtlmClient`](super::NtlmClient); they are
//! public because SMB1's non-extended-security logon computes the LM/NT
//! responses for the SESSION_SETUP_ANDX request itself.
//!
//! Notation follows the specification: `K[a..b]` is the inclusive byte range
//! `a..=b`, `Z(n)` is `n` zero bytes. The primitives come from the RustCrypto
//! crates (`md4`, `md-5`, `hmac`, `des`, `rc4`); nothing here re-implements a
//! cipher or hash. The returned keys are plain arrays; callers that keep them
//! wrap them in [`zeroize::Zeroizing`].

use des::cipher::{BlockCipherEncrypt, KeyInit};
use des::Des;
use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use rc4::{Rc4, StreamCipher};
use zeroize::Zeroizing;

use super::flags;

/// HMAC_MD5(K, M) over the concatenation of `parts` (MS-NLMP §6).
pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac =
        <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// MD5 over the concatenation of `parts` (MS-NLMP §6).
pub(crate) fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// MD4(M) (MS-NLMP §6).
fn md4(data: &[u8]) -> [u8; 16] {
    Md4::digest(data).into()
}

/// RC4K(K, D): a fresh RC4 keystream under `key` applied to `data` (MS-NLMP §6).
///
/// `key` must be 1..=256 bytes long; NTLM keys are 8 or 16 bytes.
pub(crate) fn rc4k(key: &[u8], data: &mut [u8]) {
    let mut c = Rc4::new_from_slice(key).expect("NTLM RC4 keys are 5..=16 bytes");
    c.apply_keystream(data);
}

/// A new RC4 handle (RC4Init, MS-NLMP §6).
pub(crate) fn rc4_init(key: &[u8]) -> Rc4 {
    Rc4::new_from_slice(key).expect("NTLM RC4 keys are 5..=16 bytes")
}

/// Expands a 7-byte (56-bit) key into an 8-byte DES key by inserting a
/// (ignored) parity bit after every seven key bits, as DES() in MS-NLMP §6 does.
fn des_key_from_7(k: &[u8; 7]) -> [u8; 8] {
    [
        k[0] & 0xfe,
        (k[0] << 7) | (k[1] >> 1),
        (k[1] << 6) | (k[2] >> 2),
        (k[2] << 5) | (k[3] >> 3),
        (k[3] << 4) | (k[4] >> 4),
        (k[4] << 3) | (k[5] >> 5),
        (k[5] << 2) | (k[6] >> 6),
        k[6] << 1,
    ]
}

/// DES(K, D) with a 7-byte key, one block (MS-NLMP §6).
fn des7(key: &[u8; 7], data: &[u8; 8]) -> [u8; 8] {
    let k = Zeroizing::new(des_key_from_7(key));
    let cipher = Des::new(&(*k).into());
    let mut block = (*data).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

fn seven(src: &[u8], start: usize) -> [u8; 7] {
    let mut k = [0u8; 7];
    for (i, b) in k.iter_mut().enumerate() {
        *b = src.get(start + i).copied().unwrap_or(0);
    }
    k
}

/// DESL(K, D) (MS-NLMP §6): the 16-byte key `K` padded with Z(5) and split into
/// three 7-byte DES keys, each encrypting the 8-byte `D`:
/// `DES(K[0..6], D) || DES(K[7..13], D) || DES(K[14..15] || Z(5), D)`.
pub fn desl(key: &[u8; 16], data: &[u8; 8]) -> [u8; 24] {
    let mut out = [0u8; 24];
    let k1 = Zeroizing::new(seven(key, 0));
    let k2 = Zeroizing::new(seven(key, 7));
    let k3 = Zeroizing::new(seven(key, 14));
    out[..8].copy_from_slice(&des7(&k1, data));
    out[8..16].copy_from_slice(&des7(&k2, data));
    out[16..].copy_from_slice(&des7(&k3, data));
    out
}

/// NTOWFv1(Passwd) = MD4(UNICODE(Passwd)) — the NT hash (MS-NLMP §3.3.1).
pub fn nt_owf_v1(password: &str) -> [u8; 16] {
    let unicode = Zeroizing::new(crate::codec::utf16le(password));
    md4(&unicode)
}

/// True if `password` can be represented for LMOWFv1: at most 14 characters,
/// all ASCII (the OEM code page is assumed to be ASCII-compatible).
pub(crate) fn lm_password_representable(password: &str) -> bool {
    password.is_ascii() && password.len() <= 14
}

/// LMOWFv1(Passwd) (MS-NLMP §3.3.1): the password upper-cased in the OEM
/// character set, padded with zeros (or truncated) to 14 bytes, split into two
/// 7-byte DES keys that each encrypt the constant `"KGS!@#$%"`.
///
/// Non-ASCII characters are mapped to `?` and passwords longer than 14
/// characters are truncated: the LM hash of such a password is not what a
/// Windows server stores, which is why [`NtlmClient`](super::NtlmClient) sends
/// the NT response in the LM field for them (the `NoLMResponseNTLMv1` rule).
pub fn lm_owf_v1(password: &str) -> [u8; 16] {
    const MAGIC: &[u8; 8] = b"KGS!@#$%";
    let mut oem = Zeroizing::new([0u8; 14]);
    for (slot, c) in oem.iter_mut().zip(password.chars()) {
        let u = c.to_ascii_uppercase();
        *slot = if u.is_ascii() { u as u8 } else { b'?' };
    }
    let k1 = Zeroizing::new(seven(&oem[..], 0));
    let k2 = Zeroizing::new(seven(&oem[..], 7));
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&des7(&k1, MAGIC));
    out[8..].copy_from_slice(&des7(&k2, MAGIC));
    out
}

/// Upper-cases with the simple (1:1) Unicode case mapping, like Windows'
/// `RtlUpcaseUnicodeString` rather than Rust's full mapping (`ß` stays `ß`).
pub(crate) fn upcase_simple(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// NTOWFv2 from an NT hash: `HMAC_MD5(NTOWFv1, UNICODE(Uppercase(User) || UserDom))`
/// (MS-NLMP §3.3.2). Useful when only the NT hash is known.
pub fn nt_owf_v2_from_hash(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let mut id = upcase_simple(user);
    id.push_str(domain);
    hmac_md5(nt_hash, &[&crate::codec::utf16le(&id)])
}

/// NTOWFv2(Passwd, User, UserDom) =
/// `HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(Uppercase(User), UserDom)))`
/// (MS-NLMP §3.3.2). LMOWFv2 is the same value.
pub fn nt_owf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt = Zeroizing::new(nt_owf_v1(password));
    nt_owf_v2_from_hash(&nt, user, domain)
}

/// The NTLMv1 response `DESL(ResponseKey, ServerChallenge)` (MS-NLMP §3.3.1),
/// for both the NT (key = NTOWFv1) and the LM (key = LMOWFv1) response.
pub fn ntlmv1_response(key: &[u8; 16], challenge: &[u8; 8]) -> [u8; 24] {
    desl(key, challenge)
}

/// NTLMv1 with extended session security, the "NTLM2 session response"
/// (MS-NLMP §3.3.1): returns `(NtChallengeResponse, LmChallengeResponse)` =
/// `(DESL(NTOWFv1, MD5(ServerChallenge || ClientChallenge)[0..7]), ClientChallenge || Z(16))`.
pub fn ntlm2_session_response(
    nt_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> ([u8; 24], [u8; 24]) {
    let h = md5(&[server_challenge, client_challenge]);
    let mut c = [0u8; 8];
    c.copy_from_slice(&h[..8]);
    let nt = desl(nt_key, &c);
    let mut lm = [0u8; 24];
    lm[..8].copy_from_slice(client_challenge);
    (nt, lm)
}

/// The NTLMv1 SessionBaseKey `MD4(NTOWFv1)` (MS-NLMP §3.3.1), also SMB1's
/// "user session key" for NT responses.
pub fn session_base_key_v1(nt_key: &[u8; 16]) -> [u8; 16] {
    md4(nt_key)
}

/// The LMv2 response
/// `HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge`
/// (MS-NLMP §3.3.2), where ResponseKeyLM = NTOWFv2.
pub fn lmv2_response(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&hmac_md5(
        response_key,
        &[server_challenge, client_challenge],
    ));
    out[16..].copy_from_slice(client_challenge);
    out
}

/// The NTLMv2 response (MS-NLMP §3.3.2, §2.2.2.7, §2.2.2.8).
///
/// `response_key` is NTOWFv2; `timestamp` is a FILETIME (100 ns since
/// 1601-01-01); `target_info` is the encoded AV_PAIR list (including MsvAvEOL)
/// placed in the NTLMv2_CLIENT_CHALLENGE, i.e. `ServerName` in the spec.
///
/// Computes `temp = 0x01 || 0x01 || Z(6) || Time || ClientChallenge || Z(4) ||
/// ServerName || Z(4)`, `NTProofStr = HMAC_MD5(key, ServerChallenge || temp)`
/// and returns `(NTProofStr || temp, LMv2 response, SessionBaseKey)` with
/// `SessionBaseKey = HMAC_MD5(key, NTProofStr)`.
pub fn ntlmv2_response(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    timestamp: u64,
    target_info: &[u8],
) -> (Vec<u8>, [u8; 24], [u8; 16]) {
    let mut temp = Vec::with_capacity(28 + target_info.len() + 4);
    temp.extend_from_slice(&[0x01, 0x01]); // RespType, HiRespType
    temp.extend_from_slice(&[0u8; 6]); // Reserved1, Reserved2
    temp.extend_from_slice(&timestamp.to_le_bytes());
    temp.extend_from_slice(client_challenge);
    temp.extend_from_slice(&[0u8; 4]); // Reserved3
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0u8; 4]);
    let nt_proof = hmac_md5(response_key, &[server_challenge, &temp]);
    let mut nt = Vec::with_capacity(16 + temp.len());
    nt.extend_from_slice(&nt_proof);
    nt.extend_from_slice(&temp);
    let lm = lmv2_response(response_key, server_challenge, client_challenge);
    let session_base_key = hmac_md5(response_key, &[&nt_proof]);
    (nt, lm, session_base_key)
}

/// KXKEY (MS-NLMP §3.4.5.1): the key exchange key.
///
/// * NTLMv2: the SessionBaseKey.
/// * NTLMv1 with extended session security:
///   `HMAC_MD5(SessionBaseKey, ServerChallenge || LmChallengeResponse[0..7])`.
/// * NTLMv1 with `NTLMSSP_NEGOTIATE_LM_KEY`:
///   `DES(LMOWF[0..6], LmChallengeResponse[0..7]) || DES(LMOWF[7] || 0xBDBDBDBDBDBD, LmChallengeResponse[0..7])`.
/// * NTLMv1 with `NTLMSSP_REQUEST_NON_NT_SESSION_KEY`: `LMOWF[0..7] || Z(8)`.
/// * otherwise NTLMv1: the SessionBaseKey.
///
/// A short `lm_response` is zero-padded (it is 24 bytes in every valid exchange).
pub fn kxkey(
    neg_flags: u32,
    ntlm_v2: bool,
    session_base_key: &[u8; 16],
    lm_owf: &[u8; 16],
    lm_response: &[u8],
    server_challenge: &[u8; 8],
) -> [u8; 16] {
    if ntlm_v2 {
        return *session_base_key;
    }
    let mut lm8 = [0u8; 8];
    for (d, s) in lm8.iter_mut().zip(lm_response) {
        *d = *s;
    }
    if neg_flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY != 0 {
        hmac_md5(session_base_key, &[server_challenge, &lm8])
    } else if neg_flags & flags::NEGOTIATE_LM_KEY != 0 {
        let k1 = Zeroizing::new(seven(lm_owf, 0));
        let mut k2 = Zeroizing::new([0xbdu8; 7]);
        k2[0] = lm_owf[7];
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&des7(&k1, &lm8));
        out[8..].copy_from_slice(&des7(&k2, &lm8));
        out
    } else if neg_flags & flags::REQUEST_NON_NT_SESSION_KEY != 0 {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&lm_owf[..8]);
        out
    } else {
        *session_base_key
    }
}

/// EncryptedRandomSessionKey = `RC4K(KeyExchangeKey, ExportedSessionKey)` (MS-NLMP §3.1.5.1.2).
pub fn encrypt_session_key(
    key_exchange_key: &[u8; 16],
    exported_session_key: &[u8; 16],
) -> [u8; 16] {
    let mut out = *exported_session_key;
    rc4k(key_exchange_key, &mut out);
    out
}

const CLIENT_SIGN_MAGIC: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN_MAGIC: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL_MAGIC: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL_MAGIC: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// SIGNKEY (MS-NLMP §3.4.5.2): `MD5(ExportedSessionKey || magic)` for the
/// client-to-server (`client == true`) or server-to-client direction; `None`
/// without extended session security (NTLMv1 signing uses no signing key).
pub fn sign_key(neg_flags: u32, exported_session_key: &[u8; 16], client: bool) -> Option<[u8; 16]> {
    if neg_flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY == 0 {
        return None;
    }
    let magic = if client {
        CLIENT_SIGN_MAGIC
    } else {
        SERVER_SIGN_MAGIC
    };
    Some(md5(&[exported_session_key, magic]))
}

/// SEALKEY (MS-NLMP §3.4.5.3) for the client-to-server (`client == true`) or
/// server-to-client direction.
///
/// With extended session security: `MD5(key' || magic)` where `key'` is the
/// whole 16-byte key with `NTLMSSP_NEGOTIATE_128`, its first 7 bytes with
/// `NTLMSSP_NEGOTIATE_56`, else its first 5 bytes. Without it: with
/// `NTLMSSP_NEGOTIATE_LM_KEY` (or DATAGRAM) `key[0..6] || 0xA0` (56-bit) or
/// `key[0..4] || 0xE5 0x38 0xB0` (40-bit); otherwise the key itself.
pub fn seal_key(
    neg_flags: u32,
    exported_session_key: &[u8; 16],
    client: bool,
) -> Zeroizing<Vec<u8>> {
    let k = exported_session_key;
    if neg_flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY != 0 {
        let base: &[u8] = if neg_flags & flags::NEGOTIATE_128 != 0 {
            &k[..]
        } else if neg_flags & flags::NEGOTIATE_56 != 0 {
            &k[..7]
        } else {
            &k[..5]
        };
        let magic = if client {
            CLIENT_SEAL_MAGIC
        } else {
            SERVER_SEAL_MAGIC
        };
        Zeroizing::new(md5(&[base, magic]).to_vec())
    } else if neg_flags & (flags::NEGOTIATE_LM_KEY | flags::NEGOTIATE_DATAGRAM) != 0 {
        let mut v = Vec::with_capacity(8);
        if neg_flags & flags::NEGOTIATE_56 != 0 {
            v.extend_from_slice(&k[..7]);
            v.push(0xa0);
        } else {
            v.extend_from_slice(&k[..5]);
            v.extend_from_slice(&[0xe5, 0x38, 0xb0]);
        }
        Zeroizing::new(v)
    } else {
        Zeroizing::new(k.to_vec())
    }
}

/// CRC32 (IEEE 802.3, reflected, as in MS-NLMP §6 "CRC32(M)") for NTLMv1
/// signatures without extended session security. A checksum, not a MAC.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// Fills `buf` from the thread-local CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    rand::fill(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn upcase_is_one_to_one() {
        assert_eq!(upcase_simple("user"), "USER");
        assert_eq!(upcase_simple("straße"), "STRAßE");
        assert_eq!(upcase_simple("émile"), "ÉMILE");
    }
}
