//! SP800-108 key derivation and the per-dialect session keys.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CIPHER_AES_256_CCM, CIPHER_AES_256_GCM};
use crate::Dialect;

/// An HMAC-SHA256 instance keyed with `key`.
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC (RFC 2104 §2) is defined for keys of every length: longer keys are
    // hashed, shorter ones zero-padded, so `new_from_slice` cannot fail here.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// SP800-108 counter-mode KDF with HMAC-SHA256 as MS-SMB2 §3.1.4.2 uses it.
///
/// Each 32-byte block is `HMAC-SHA256(key, i || label || 0x00 || context || L)`
/// with the counter `i` (starting at 1) and `L` (the output length in bits)
/// as big-endian 32-bit integers ('r' = 32, PRF = HMAC-SHA256). SMB uses
/// `out_len` 16 (L = 128) or 32 (L = 256, the AES-256 cipher keys); other
/// lengths follow the same construction. The `label` and `context` are used
/// exactly as given: MS-SMB2's labels include their trailing NUL (e.g.
/// `b"SMB2AESCMAC\0"`), and the KDF adds the 0x00 separator after the label
/// itself.
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], out_len: usize) -> Zeroizing<Vec<u8>> {
    // L is a 32-bit field; lengths beyond 512 MiB cannot be expressed and are
    // far outside anything SMB derives, so they saturate instead of wrapping.
    let l_bits = u32::try_from(out_len.saturating_mul(8)).unwrap_or(u32::MAX);
    // Reserve the full size up front so no reallocation leaves key bytes behind.
    let mut out = Zeroizing::new(Vec::with_capacity(out_len));
    let mut counter: u32 = 1;
    while out.len() < out_len {
        let mut mac = hmac_sha256(key);
        mac.update(&counter.to_be_bytes());
        mac.update(label);
        mac.update(&[0u8]);
        mac.update(context);
        mac.update(&l_bits.to_be_bytes());
        let block: Zeroizing<[u8; 32]> = Zeroizing::new(mac.finalize().into_bytes().into());
        let take = (out_len - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
        counter = counter.wrapping_add(1);
    }
    out
}

/// The keys of one authenticated SMB2 session, as the client uses them.
///
/// Which keys exist depends on the dialect (MS-SMB2 §3.2.5.3.1): for 2.0.2
/// and 2.1 the signing and application keys are the session key itself and
/// the encryption and decryption keys are empty (those dialects cannot
/// encrypt). `Debug` never prints key bytes.
#[derive(Clone)]
pub struct SessionKeys {
    /// Session.SigningKey: the key for [`super::Signer`] (16 bytes).
    pub signing_key: Zeroizing<Vec<u8>>,
    /// Session.EncryptionKey: encrypts client-to-server messages
    /// (16 bytes, or 32 for AES-256-CCM/GCM; empty before SMB 3.0).
    pub encryption_key: Zeroizing<Vec<u8>>,
    /// Session.DecryptionKey: decrypts server-to-client messages
    /// (16 bytes, or 32 for AES-256-CCM/GCM; empty before SMB 3.0).
    pub decryption_key: Zeroizing<Vec<u8>>,
    /// Session.ApplicationKey: handed to applications such as RPC over named
    /// pipes (16 bytes; MS-SMB2 §3.3.4.5).
    pub application_key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |k: &Zeroizing<Vec<u8>>| format!("<{} bytes redacted>", k.len());
        f.debug_struct("SessionKeys")
            .field("signing_key", &redacted(&self.signing_key))
            .field("encryption_key", &redacted(&self.encryption_key))
            .field("decryption_key", &redacted(&self.decryption_key))
            .field("application_key", &redacted(&self.application_key))
            .finish()
    }
}

/// Derives a session's keys per MS-SMB2 §3.2.5.3.1 with the KDF of §3.1.4.2.
///
/// `session_key` is the full key the GSS mechanism (NTLM, Kerberos) produced.
/// Session.SessionKey is its first 16 bytes, right-padded with zeros when it
/// is shorter (MS-SMB2 §3.2.1.3); it is the input for every key except the
/// AES-256 cipher keys, which are derived from the full key
/// (Session.FullSessionKey), as Windows and Samba do.
///
/// * 2.0.2 / 2.1 (and any other pre-3.0 value): signing key and application
///   key = Session.SessionKey, no encryption or decryption key.
/// * 3.0 / 3.0.2: `KDF(SessionKey, "SMB2AESCMAC\0", "SmbSign\0")` signs;
///   `KDF(.., "SMB2AESCCM\0", "ServerIn \0")` encrypts (client to server);
///   `KDF(.., "SMB2AESCCM\0", "ServerOut\0")` decrypts;
///   `KDF(SessionKey, "SMB2APP\0", "SmbRpc\0")` is the application key.
/// * 3.1.1 (and later): labels `"SMBSigningKey\0"`, `"SMBC2SCipherKey\0"`,
///   `"SMBS2CCipherKey\0"`, `"SMBAppKey\0"`, each with the session's
///   preauth integrity hash (§3.2.5.2) as context. A missing `preauth_hash`
///   is a caller error; the keys are then derived from the all-zero initial
///   hash value and will simply not match the server's.
///
/// The encryption and decryption keys are 32 bytes when `cipher` is
/// AES-256-CCM (3) or AES-256-GCM (4) ('L' = 256), else 16 ('L' = 128).
pub fn derive_session_keys(
    dialect: Dialect,
    session_key: &[u8],
    preauth_hash: Option<&[u8; 64]>,
    cipher: Option<u16>,
) -> SessionKeys {
    let mut short = Zeroizing::new([0u8; 16]);
    let n = session_key.len().min(16);
    short[..n].copy_from_slice(&session_key[..n]);
    let short: &[u8] = &short[..];

    let cipher_len = match cipher {
        Some(CIPHER_AES_256_CCM) | Some(CIPHER_AES_256_GCM) => 32,
        _ => 16,
    };
    let cipher_input: &[u8] = if cipher_len == 32 { session_key } else { short };

    if dialect.0 >= Dialect::SMB3_1_1.0 {
        let zero = [0u8; 64];
        let ctx: &[u8] = match preauth_hash {
            Some(h) => h,
            None => &zero,
        };
        SessionKeys {
            signing_key: kdf(short, b"SMBSigningKey\0", ctx, 16),
            encryption_key: kdf(cipher_input, b"SMBC2SCipherKey\0", ctx, cipher_len),
            decryption_key: kdf(cipher_input, b"SMBS2CCipherKey\0", ctx, cipher_len),
            application_key: kdf(short, b"SMBAppKey\0", ctx, 16),
        }
    } else if dialect.is_smb3() {
        SessionKeys {
            signing_key: kdf(short, b"SMB2AESCMAC\0", b"SmbSign\0", 16),
            encryption_key: kdf(cipher_input, b"SMB2AESCCM\0", b"ServerIn \0", cipher_len),
            decryption_key: kdf(cipher_input, b"SMB2AESCCM\0", b"ServerOut\0", cipher_len),
            application_key: kdf(short, b"SMB2APP\0", b"SmbRpc\0", 16),
        }
    } else {
        SessionKeys {
            signing_key: Zeroizing::new(short.to_vec()),
            encryption_key: Zeroizing::new(Vec::new()),
            decryption_key: Zeroizing::new(Vec::new()),
            application_key: Zeroizing::new(short.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{PreauthHash, CIPHER_AES_128_GCM};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Microsoft Open Specifications blog, "Encryption in SMB 3.0: A protocol
    /// perspective" (2012-10-05), test vector section.
    #[test]
    fn smb30_vector_from_microsoft_blog() {
        let session_key = hex("B4546771B515F766A86735532DD6C4F0");
        let k = derive_session_keys(Dialect::SMB3_0, &session_key, None, None);
        assert_eq!(*k.signing_key, hex("F773CD23C18FD1E08EE510CADA7CF852"));
        assert_eq!(*k.encryption_key, hex("261B72350558F2E9DCF613070383EDBF"));
        assert_eq!(*k.decryption_key, hex("8FE2B57EC34D2DB5B1A9727F526BBDB5"));
        assert_eq!(*k.application_key, hex("77432F808CE99156B5BC6A3676D730D1"));
        // 3.0.2 uses the same labels.
        let k2 = derive_session_keys(Dialect::SMB3_0_2, &session_key, None, None);
        assert_eq!(*k2.signing_key, *k.signing_key);
        // The KDF on its own, with the label/context strings spelled out.
        assert_eq!(
            *kdf(&session_key, b"SMB2AESCMAC\0", b"SmbSign\0", 16),
            hex("F773CD23C18FD1E08EE510CADA7CF852")
        );
    }

    /// Microsoft Open Specifications blog, "SMB 3.1.1 Encryption in Windows
    /// 10" (2015-09-09): AES-128-GCM keys from session key + preauth hash.
    #[test]
    fn smb311_cipher_keys_from_microsoft_blog() {
        let session_key = hex("419FDDF34C1E001909D362AE7FB6AF79");
        let h: [u8; 64] = hex(
            "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB\
             A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770",
        )
        .try_into()
        .unwrap();
        let k = derive_session_keys(
            Dialect::SMB3_1_1,
            &session_key,
            Some(&h),
            Some(CIPHER_AES_128_GCM),
        );
        assert_eq!(*k.encryption_key, hex("A2F5E80E5D59103034F32E52F698E5EC"));
        assert_eq!(*k.decryption_key, hex("748C50868C90F302962A5C35F5F9A8BF"));
        assert_eq!(k.signing_key.len(), 16);
        assert_eq!(k.application_key.len(), 16);
    }

    /// Microsoft Open Specifications blog, "SMB 3.1.1 Pre-authentication
    /// integrity in Windows 10" (2015-08-11): the hash chain over NEGOTIATE
    /// and SESSION_SETUP, then the signing key derived from it.
    #[test]
    fn smb311_preauth_chain_and_signing_key_from_microsoft_blog() {
        let steps: [(&str, &str); 5] = [
            (
                "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000\
                 00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32\
                 6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000\
                 010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000\
                 0200060000000000020002000100",
                "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0\
                 CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426",
            ),
            (
                "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000\
                 000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942\
                 BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001\
                 80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182\
                 3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000\
                 60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51\
                 FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000\
                 5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000\
                 7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000\
                 3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562\
                 6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075\
                 626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4\
                 83CA5B65385A251117BEB30712E50000020004000000000001000200",
                "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99\
                 7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513",
            ),
            (
                "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000\
                 00000000000000000000000000000000000000000000000019000001010000000000000058004A00\
                 0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A\
                 04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000\
                 000F",
                "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33\
                 197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9",
            ),
            (
                "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000\
                 190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003\
                 0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038\
                 00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53\
                 005500540033003100310002000C0053005500540033003100310001000C00530055005400330031\
                 00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1\
                 A1F5ADCBAED00100000000",
                "2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336\
                 4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387",
            ),
            (
                "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000\
                 1900000000100000000000000000000000000000000000001900000101000000000000005800CF01\
                 0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000\
                 001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000\
                 001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055\
                 005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049\
                 0056004500520033003100310000000000000000000000000000000000000000000000000063078E\
                 B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000\
                 0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055\
                 00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004\
                 00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B\
                 8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016\
                 0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F\
                 5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000",
                "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97\
                 51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
            ),
        ];
        let mut h = PreauthHash::new();
        assert_eq!(h.value(), &[0u8; 64]);
        for (msg, expected) in steps {
            h.update(&hex(msg));
            assert_eq!(h.value().to_vec(), hex(expected));
        }
        let session_key = hex("270E1BA896585EEB7AF3472D3B4C75A7");
        let k = derive_session_keys(Dialect::SMB3_1_1, &session_key, Some(h.value()), None);
        assert_eq!(*k.signing_key, hex("73FE7A9A77BEF0BDE49C650D8CCB5F76"));
    }

    #[test]
    fn smb2x_uses_the_session_key_padded_or_truncated() {
        let k = derive_session_keys(Dialect::SMB2_1, &[7u8; 10], None, None);
        let mut expected = vec![7u8; 10];
        expected.resize(16, 0);
        assert_eq!(*k.signing_key, expected);
        assert_eq!(*k.application_key, expected);
        assert!(k.encryption_key.is_empty() && k.decryption_key.is_empty());

        let long: Vec<u8> = (0u8..32).collect();
        let k = derive_session_keys(Dialect::SMB2_0_2, &long, None, None);
        assert_eq!(*k.signing_key, long[..16]);
    }

    #[test]
    fn aes256_keys_are_32_bytes_from_the_full_session_key() {
        let full: Vec<u8> = (1u8..=32).collect();
        let h = [0x5au8; 64];
        for cipher in [CIPHER_AES_256_CCM, CIPHER_AES_256_GCM] {
            let k = derive_session_keys(Dialect::SMB3_1_1, &full, Some(&h), Some(cipher));
            assert_eq!(k.encryption_key.len(), 32);
            assert_eq!(k.decryption_key.len(), 32);
            assert_eq!(*k.encryption_key, *kdf(&full, b"SMBC2SCipherKey\0", &h, 32));
            assert_eq!(*k.decryption_key, *kdf(&full, b"SMBS2CCipherKey\0", &h, 32));
            // Signing and application keys stay 16 bytes from the 16-byte SessionKey.
            assert_eq!(
                *k.signing_key,
                *kdf(&full[..16], b"SMBSigningKey\0", &h, 16)
            );
            assert_eq!(
                *k.application_key,
                *kdf(&full[..16], b"SMBAppKey\0", &h, 16)
            );
        }
    }

    #[test]
    fn kdf_longer_output_is_counter_mode() {
        // L is part of every block, so a 32-byte output is not a 16-byte one
        // extended; and blocks beyond the first use counter 2, 3, ...
        let a = kdf(b"key", b"label\0", b"ctx", 16);
        let b = kdf(b"key", b"label\0", b"ctx", 32);
        assert_ne!(a[..], b[..16]);
        let c = kdf(b"key", b"label\0", b"ctx", 40);
        assert_eq!(c.len(), 40);
        let mut mac = hmac_sha256(b"key");
        mac.update(&2u32.to_be_bytes());
        mac.update(b"label\0");
        mac.update(&[0]);
        mac.update(b"ctx");
        mac.update(&320u32.to_be_bytes());
        let second = mac.finalize().into_bytes();
        assert_eq!(c[32..], second[..8]);
        assert!(kdf(b"key", b"l", b"c", 0).is_empty());
    }

    #[test]
    fn debug_does_not_print_keys() {
        let k = derive_session_keys(Dialect::SMB3_0, &[0xAB; 16], None, None);
        let s = format!("{k:?}");
        assert!(s.contains("redacted"));
        assert!(!s.to_lowercase().contains("ab, "));
    }
}
