//! NTLM session security (MS-NLMP §3.4): signing and sealing after authentication.
//!
//! SMB itself signs with its own algorithms; NTLM session security is needed
//! only for the SPNEGO mechListMIC (RFC 4178 §5, MS-SPNG §3.1.5.1), which is
//! NTLM's GSS_GetMIC over the DER MechTypeList. Sealing is implemented as well
//! because the MS-NLMP §4.2 GSS_WrapEx examples (and their keystream order)
//! are the only published test vectors for signatures with key exchange.

use rc4::{Rc4, StreamCipher};
use zeroize::Zeroizing;

use super::crypto::{crc32, hmac_md5, rc4_init, seal_key, sign_key};
use super::flags;

/// NTLM session security state for one authenticated context (MS-NLMP §3.4).
///
/// Built from the negotiated flags and the ExportedSessionKey. `sign`/`seal`
/// use the client-to-server keys and sequence number, `verify`/`unseal` the
/// server-to-client ones (connection-oriented mode: every call advances the
/// sequence number and the RC4 keystream, so calls must follow message order).
pub struct NtlmSession {
    flags: u32,
    client_sign_key: Option<Zeroizing<[u8; 16]>>,
    server_sign_key: Option<Zeroizing<[u8; 16]>>,
    /// ClientHandle = RC4Init(ClientSealingKey) (§3.4.4.2). Without extended
    /// session security the sealing key is the same in both directions and, as
    /// Windows and Samba do, this single keystream (and `client_seq`) serves
    /// everything sent and received (§3.4.4.1).
    client_handle: Rc4,
    /// ServerHandle = RC4Init(ServerSealingKey); `None` without extended
    /// session security (the client handle is shared).
    server_handle: Option<Rc4>,
    client_seq: u32,
    server_seq: u32,
}

impl std::fmt::Debug for NtlmSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmSession")
            .field("flags", &format_args!("{:#010x}", self.flags))
            .field("client_seq", &self.client_seq)
            .field("server_seq", &self.server_seq)
            .finish_non_exhaustive()
    }
}

/// Compares two byte strings without an early exit.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl NtlmSession {
    /// Derives the signing keys (SIGNKEY, §3.4.5.2), sealing keys (SEALKEY,
    /// §3.4.5.3) and RC4 handles for `neg_flags` and `exported_session_key`.
    pub fn new(neg_flags: u32, exported_session_key: &[u8; 16]) -> Self {
        let ess = neg_flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY != 0;
        let client_handle = rc4_init(&seal_key(neg_flags, exported_session_key, true));
        let server_handle =
            ess.then(|| rc4_init(&seal_key(neg_flags, exported_session_key, false)));
        NtlmSession {
            flags: neg_flags,
            client_sign_key: sign_key(neg_flags, exported_session_key, true).map(Zeroizing::new),
            server_sign_key: sign_key(neg_flags, exported_session_key, false).map(Zeroizing::new),
            client_handle,
            server_handle,
            client_seq: 0,
            server_seq: 0,
        }
    }

    /// The negotiated flags this state was built for.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Computes NTLMSSP_MESSAGE_SIGNATURE for `msg` in one direction
    /// (MAC(), §3.4.4.1 without and §3.4.4.2 with extended session security).
    fn mac(&mut self, msg: &[u8], outgoing: bool) -> [u8; 16] {
        let key_exch = self.flags & flags::NEGOTIATE_KEY_EXCH != 0;
        let mut sig = [0u8; 16];
        sig[0] = 1; // Version
        match &mut self.server_handle {
            Some(server_handle) => {
                let (key, handle, seq) = if outgoing {
                    (
                        &self.client_sign_key,
                        &mut self.client_handle,
                        &mut self.client_seq,
                    )
                } else {
                    (&self.server_sign_key, server_handle, &mut self.server_seq)
                };
                let seq_bytes = seq.to_le_bytes();
                // With ESS a signing key always exists; an all-zero key is only
                // a defensive fallback that no peer would accept.
                let k: &[u8] = key.as_deref().map(|k| &k[..]).unwrap_or(&[0u8; 16]);
                let h = hmac_md5(k, &[&seq_bytes, msg]);
                let mut checksum = [0u8; 8];
                checksum.copy_from_slice(&h[..8]);
                if key_exch {
                    handle.apply_keystream(&mut checksum);
                }
                sig[4..12].copy_from_slice(&checksum);
                sig[12..].copy_from_slice(&seq_bytes);
                *seq = seq.wrapping_add(1);
            }
            None => {
                let mut body = [0u8; 12];
                body[4..8].copy_from_slice(&crc32(msg).to_le_bytes());
                self.client_handle.apply_keystream(&mut body);
                let seq = self.client_seq;
                for (b, s) in body[8..].iter_mut().zip(seq.to_le_bytes()) {
                    *b ^= s;
                }
                // RandomPad is set to zero after encryption (§3.4.4.1).
                sig[8..].copy_from_slice(&body[4..]);
                self.client_seq = seq.wrapping_add(1);
            }
        }
        sig
    }

    /// Signs an outgoing message (GSS_GetMIC, §3.4.3): returns the 16-byte
    /// NTLMSSP_MESSAGE_SIGNATURE (§2.2.2.9) and advances the client sequence number.
    pub fn sign(&mut self, msg: &[u8]) -> [u8; 16] {
        self.mac(msg, true)
    }

    /// Verifies a signature from the server (GSS_VerifyMIC, §3.4.3) and advances
    /// the server sequence number. Without extended session security only the
    /// checksum and sequence number are compared (RandomPad is ignored).
    pub fn verify(&mut self, msg: &[u8], mac: &[u8]) -> bool {
        let shared = self.server_handle.is_none();
        let expected = self.mac(msg, false);
        if mac.len() != 16 || mac.first() != Some(&1) {
            return false;
        }
        if shared {
            ct_eq(&expected[8..], mac.get(8..).unwrap_or(&[]))
        } else {
            ct_eq(&expected, mac)
        }
    }

    /// Seals an outgoing message (GSS_WrapEx, §3.4.3): returns the RC4-encrypted
    /// message and its signature over the plaintext. The message is encrypted
    /// first, so the signature's checksum uses the keystream that follows it.
    pub fn seal(&mut self, msg: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let mut out = msg.to_vec();
        self.client_handle.apply_keystream(&mut out);
        let sig = self.mac(msg, true);
        (out, sig)
    }

    /// Unseals a message from the server (GSS_UnwrapEx, §3.4.3): decrypts it and
    /// verifies `mac` over the plaintext; `None` if the signature is wrong.
    pub fn unseal(&mut self, sealed: &[u8], mac: &[u8]) -> Option<Vec<u8>> {
        let mut out = sealed.to_vec();
        match &mut self.server_handle {
            Some(h) => h.apply_keystream(&mut out),
            None => self.client_handle.apply_keystream(&mut out),
        }
        self.verify(&out, mac).then_some(out)
    }
}
