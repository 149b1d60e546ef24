//! MS-NLMP §4.2 test vectors and robustness tests.
//!
//! Common inputs (§4.2.1): user "User", domain "Domain", password "Password",
//! server name "Server", workstation "COMPUTER", RandomSessionKey 0x55 x 16,
//! time 0, ClientChallenge 0xaa x 8, ServerChallenge 0123456789abcdef.

use super::crypto::{encrypt_session_key, seal_key, sign_key};
use super::messages::{
    av_flags, av_id, AvPair, AvPairs, ChallengeMessage, Version, AUTHENTICATE_MIC_OFFSET,
};
use super::*;
use crate::spnego;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn h16(s: &str) -> [u8; 16] {
    hex(s).try_into().unwrap()
}

const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

/// The Version in the §4.2 AUTHENTICATE examples: 5.1 build 2600, revision 15.
const SPEC_VERSION: Version = Version {
    major: 5,
    minor: 1,
    build: 2600,
    revision: 15,
};

fn spec_creds() -> Credentials {
    Credentials {
        user: "User".into(),
        domain: "Domain".into(),
        password: zeroize::Zeroizing::new("Password".into()),
        workstation: "COMPUTER".into(),
    }
}

fn spec_client(opts: NtlmOptions) -> NtlmClient {
    let mut c = NtlmClient::with_fixed_randomness(
        spec_creds(),
        opts,
        FixedRandomness {
            client_challenge: CLIENT_CHALLENGE,
            exported_session_key: RANDOM_SESSION_KEY,
            timestamp: Some(0),
        },
    );
    c.set_version(SPEC_VERSION);
    c
}

/// "Plaintext" in UTF-16LE, the GSS_WrapEx input of §4.2.2.4, §4.2.3.4, §4.2.4.4.
fn plaintext() -> Vec<u8> {
    crate::codec::utf16le("Plaintext")
}

/// Replaces the NegotiateFlags of an AUTHENTICATE_MESSAGE (offset 60): the
/// §4.2 examples set flags (SEAL, TARGET_INFO) that the server's CHALLENGE
/// did not grant, so a client that follows §3.1.5.1.2 cannot reproduce that
/// one field.
fn with_flags(mut msg: Vec<u8>, flags: u32) -> Vec<u8> {
    msg[60..64].copy_from_slice(&flags.to_le_bytes());
    msg
}

// ---------------------------------------------------------------- §4.2.2 NTLMv1

/// §4.2.2.3 CHALLENGE_MESSAGE (flags 0xe2028233, TargetName "Server").
fn v1_challenge() -> Vec<u8> {
    hex(
        "4e544c4d53535000 02000000 0c000c00 38000000 338202e2 0123456789abcdef
         0000000000000000 0000000000000000 060070170000000f
         530065007200760065007200",
    )
}

#[test]
fn v1_challenge_fixture_is_well_formed() {
    let c = v1_challenge();
    assert_eq!(c.len(), 0x44);
    let m = ChallengeMessage::decode(&c).unwrap();
    assert_eq!(m.flags, 0xe202_8233);
    assert_eq!(m.target_name, "Server");
    assert_eq!(m.server_challenge, SERVER_CHALLENGE);
    assert!(m.target_info.0.is_empty());
    assert_eq!(
        m.version,
        Some(Version {
            major: 6,
            minor: 0,
            build: 6000,
            revision: 15
        })
    );
}

#[test]
fn s4_2_2_1_ntlmv1_calculations() {
    // §4.2.2.1.1 LMOWFv1, §4.2.2.1.2 NTOWFv1, §4.2.2.1.3 session base key.
    let lm = lm_owf_v1("Password");
    assert_eq!(lm, h16("e52cac67419a9a224a3b108f3fa6cb6d"));
    let nt = nt_owf_v1("Password");
    assert_eq!(nt, h16("a4f49c406510bdcab6824ee7c30fd852"));
    let sbk = session_base_key_v1(&nt);
    assert_eq!(sbk, h16("d87262b0cde4b1cb7499becccdf10784"));

    // §4.2.2.2.1 NTLMv1 response, §4.2.2.2.2 LMv1 response.
    let nt_resp = ntlmv1_response(&nt, &SERVER_CHALLENGE);
    assert_eq!(
        nt_resp.to_vec(),
        hex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94")
    );
    let lm_resp = ntlmv1_response(&lm, &SERVER_CHALLENGE);
    assert_eq!(
        lm_resp.to_vec(),
        hex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13")
    );

    // §4.2.2.1.3 key exchange key (no LM_KEY / NON_NT_SESSION_KEY) and
    // §4.2.2.2.3 encrypted session key.
    let flags = 0xe202_8233;
    let kek = kxkey(flags, false, &sbk, &lm, &lm_resp, &SERVER_CHALLENGE);
    assert_eq!(kek, sbk);
    assert_eq!(
        encrypt_session_key(&kek, &RANDOM_SESSION_KEY),
        h16("518822b1b3f350c8958682ecbb3e3cb7")
    );

    // With NTLMSSP_REQUEST_NON_NT_SESSION_KEY.
    let kek = kxkey(
        flags | flags::REQUEST_NON_NT_SESSION_KEY,
        false,
        &sbk,
        &lm,
        &lm_resp,
        &SERVER_CHALLENGE,
    );
    assert_eq!(
        encrypt_session_key(&kek, &RANDOM_SESSION_KEY),
        h16("7452ca55c225a1ca04b48fae32cf56fc")
    );

    // With NTLMSSP_NEGOTIATE_LM_KEY.
    let kek = kxkey(
        flags | flags::NEGOTIATE_LM_KEY,
        false,
        &sbk,
        &lm,
        &lm_resp,
        &SERVER_CHALLENGE,
    );
    assert_eq!(kek, h16("b09e379f7fbecb1eaf0afdcb0383c8a0"));
    assert_eq!(
        encrypt_session_key(&kek, &RANDOM_SESSION_KEY),
        h16("4cd7bb57d697ef9b549f02b8f9b37864")
    );
}

/// §4.2.2.3 AUTHENTICATE_MESSAGE.
fn v1_authenticate() -> Vec<u8> {
    hex(
        "4e544c4d53535000 03000000 18001800 6c000000 18001800 84000000 0c000c00
         48000000 08000800 54000000 10001000 5c000000 10001000 9c000000 358280e2
         0501280a0000000f
         44006f006d00610069006e00 5500730065007200 43004f004d0050005500540045005200
         98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13
         67c43011f30298a2ad35ece64f16331c44bdbed927841f94
         518822b1b3f350c8958682ecbb3e3cb7",
    )
}

#[test]
fn s4_2_2_3_authenticate_encoding() {
    let msg = AuthenticateMessage {
        flags: 0xe280_8235,
        lm_challenge_response: hex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13"),
        nt_challenge_response: hex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94"),
        domain: "Domain".into(),
        user: "User".into(),
        workstation: "COMPUTER".into(),
        encrypted_random_session_key: hex("518822b1b3f350c8958682ecbb3e3cb7"),
        version: Some(SPEC_VERSION),
        mic: None,
    };
    let enc = msg.encode().unwrap();
    assert_eq!(enc, v1_authenticate());
    assert_eq!(AuthenticateMessage::decode(&enc).unwrap(), msg);
}

#[test]
fn s4_2_2_3_client_reproduces_authenticate() {
    let mut c = spec_client(NtlmOptions {
        use_ntlm_v2: false,
        extended_session_security: false,
        sign: true,
        ..NtlmOptions::default()
    });
    let _ = c.negotiate();
    let auth = c.authenticate(&v1_challenge()).unwrap();
    let flags = c.negotiated_flags();
    assert_eq!(flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY, 0);
    assert_eq!(auth, with_flags(v1_authenticate(), flags));
    assert_eq!(c.session_key(), Some(&RANDOM_SESSION_KEY));
    assert!(!c.mic_sent());
}

#[test]
fn s4_2_2_4_ntlmv1_seal_and_sign() {
    // No extended session security, no LM_KEY: SealKey = ExportedSessionKey and
    // the signature is RC4(CRC32) with a shared keystream (§3.4.4.1).
    let mut s = NtlmSession::new(0xe202_8233, &RANDOM_SESSION_KEY);
    let (sealed, sig) = s.seal(&plaintext());
    assert_eq!(sealed, hex("56fe04d861f9319af0d7238a2e3b4d457fb8"));
    assert_eq!(sig.to_vec(), hex("01000000 00000000 09dcd1df 2e459d36"));
}

// ------------------------------------------------------ §4.2.3 NTLMv1 with ESS

/// §4.2.3.3 CHALLENGE_MESSAGE (flags 0x820a8233).
fn ess_challenge() -> Vec<u8> {
    hex(
        "4e544c4d53535000 02000000 0c000c00 38000000 33820a82 0123456789abcdef
         0000000000000000 0000000000000000 060070170000000f
         530065007200760065007200",
    )
}

/// §4.2.3.3 AUTHENTICATE_MESSAGE.
fn ess_authenticate() -> Vec<u8> {
    hex(
        "4e544c4d53535000 03000000 18001800 6c000000 18001800 84000000 0c000c00
         48000000 08000800 54000000 10001000 5c000000 00000000 9c000000 35820882
         0501280a0000000f
         44006f006d00610069006e00 5500730065007200 43004f004d0050005500540045005200
         aaaaaaaaaaaaaaaa00000000000000000000000000000000
         7537f803ae367128ca458204bde7caf81e97ed2683267232",
    )
}

#[test]
fn s4_2_3_ntlmv1_ess_calculations() {
    let nt = nt_owf_v1("Password");
    let (nt_resp, lm_resp) = ntlm2_session_response(&nt, &SERVER_CHALLENGE, &CLIENT_CHALLENGE);
    // §4.2.3.2.1 LMv1 response, §4.2.3.2.2 NTLMv1 response.
    assert_eq!(
        lm_resp.to_vec(),
        hex("aaaaaaaaaaaaaaaa00000000000000000000000000000000")
    );
    assert_eq!(
        nt_resp.to_vec(),
        hex("7537f803ae367128ca458204bde7caf81e97ed2683267232")
    );
    // §4.2.3.1.2 session base key, §4.2.3.1.3 key exchange key.
    let sbk = session_base_key_v1(&nt);
    assert_eq!(sbk, h16("d87262b0cde4b1cb7499becccdf10784"));
    let flags = 0x820a_8233;
    let kek = kxkey(
        flags,
        false,
        &sbk,
        &lm_owf_v1("Password"),
        &lm_resp,
        &SERVER_CHALLENGE,
    );
    assert_eq!(kek, h16("eb93429a8bd952f8b89c55b87f475edc"));

    // §4.2.3.4: 56-bit sealing key, signing key, GSS_WrapEx output.
    assert_eq!(
        seal_key(flags, &kek, true).to_vec(),
        hex("04dd7f014d8504d265a25cc86a3a7c06")
    );
    assert_eq!(
        sign_key(flags, &kek, true),
        Some(h16("60e799be5c72fc92922ae8ebe961fb8d"))
    );
    let mut s = NtlmSession::new(flags, &kek);
    let (sealed, sig) = s.seal(&plaintext());
    assert_eq!(sealed, hex("a02372f6530273f3aa1eb90190ce5200c99d"));
    assert_eq!(sig.to_vec(), hex("01000000 ff2aeb52f681793a 00000000"));
}

#[test]
fn s4_2_3_3_client_reproduces_authenticate() {
    let mut c = spec_client(NtlmOptions {
        use_ntlm_v2: false,
        extended_session_security: true,
        sign: true,
        ..NtlmOptions::default()
    });
    let _ = c.negotiate();
    let auth = c.authenticate(&ess_challenge()).unwrap();
    let flags = c.negotiated_flags();
    assert_ne!(flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY, 0);
    assert_eq!(flags & flags::NEGOTIATE_KEY_EXCH, 0);
    assert_eq!(auth, with_flags(ess_authenticate(), flags));
    // Without KEY_EXCH the exported key is the key exchange key.
    assert_eq!(
        c.session_key(),
        Some(&h16("eb93429a8bd952f8b89c55b87f475edc"))
    );
}

// ---------------------------------------------------------------- §4.2.4 NTLMv2

/// §4.2.4 TargetInfo: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", EOL.
fn v2_target_info() -> Vec<u8> {
    hex("02000c00 44006f006d00610069006e00 01000c00 530065007200760065007200 00000000")
}

/// §4.2.4.3 CHALLENGE_MESSAGE (flags 0xe28a8233).
fn v2_challenge() -> Vec<u8> {
    let mut v = hex(
        "4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 0123456789abcdef
         0000000000000000 24002400 44000000 060070170000000f
         530065007200760065007200",
    );
    v.extend(v2_target_info());
    v
}

/// §4.2.4.3 AUTHENTICATE_MESSAGE.
fn v2_authenticate() -> Vec<u8> {
    hex(
        "4e544c4d53535000 03000000 18001800 6c000000 54005400 84000000 0c000c00
         48000000 08000800 54000000 10001000 5c000000 10001000 d8000000 358288e2
         0501280a0000000f
         44006f006d00610069006e00 5500730065007200 43004f004d0050005500540045005200
         86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa
         68cd0ab851e51c96aabc927bebef6a1c
         0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
         02000c00 44006f006d00610069006e00 01000c00 530065007200760065007200 00000000
         00000000
         c5dad2544fc9799094ce1ce90bc9d03e",
    )
}

#[test]
fn s4_2_4_ntlmv2_calculations() {
    // §4.2.4.1.1 NTOWFv2 (= LMOWFv2).
    let key = nt_owf_v2("Password", "User", "Domain");
    assert_eq!(key, h16("0c868a403bfd7a93a3001ef22ef02e3f"));
    // §4.2.4.2.1 LMv2 response.
    assert_eq!(
        lmv2_response(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE).to_vec(),
        hex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
    );
    // §4.2.4.2.2 NTLMv2 response (NTProofStr || temp), §4.2.4.1.2 session base key.
    let (nt, lm, sbk) = ntlmv2_response(
        &key,
        &SERVER_CHALLENGE,
        &CLIENT_CHALLENGE,
        0,
        &v2_target_info(),
    );
    assert_eq!(&nt[..16], &hex("68cd0ab851e51c96aabc927bebef6a1c")[..]);
    let mut temp = hex("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000");
    temp.extend(v2_target_info());
    temp.extend([0u8; 4]);
    assert_eq!(&nt[16..], &temp[..]);
    assert_eq!(
        lm.to_vec(),
        hex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
    );
    assert_eq!(sbk, h16("8de40ccadbc14a82f15cb0ad0de95ca3"));
    // §4.2.4.2.3 encrypted session key (KXKEY = SessionBaseKey for NTLMv2).
    let kek = kxkey(0xe28a_8233, true, &sbk, &[0; 16], &lm, &SERVER_CHALLENGE);
    assert_eq!(
        encrypt_session_key(&kek, &RANDOM_SESSION_KEY),
        h16("c5dad2544fc9799094ce1ce90bc9d03e")
    );
}

#[test]
fn s4_2_4_3_challenge_decodes_into_typed_av_pairs() {
    let m = ChallengeMessage::decode(&v2_challenge()).unwrap();
    assert_eq!(m.flags, 0xe28a_8233);
    assert_eq!(m.target_name, "Server");
    assert_eq!(
        m.target_info,
        AvPairs(vec![
            AvPair::NbDomainName("Domain".into()),
            AvPair::NbComputerName("Server".into())
        ])
    );
    assert_eq!(m.target_info.encode().unwrap(), v2_target_info());
    assert_eq!(m.target_info.name(av_id::NB_COMPUTER_NAME), Some("Server"));
    assert_eq!(m.target_info.timestamp(), None);
    // Our encoder writes the same message back.
    assert_eq!(m.encode().unwrap(), v2_challenge());
}

#[test]
fn s4_2_4_3_client_reproduces_authenticate() {
    let mut c = spec_client(NtlmOptions::default());
    let _ = c.negotiate();
    let auth = c.authenticate(&v2_challenge()).unwrap();
    let flags = c.negotiated_flags();
    assert_ne!(flags & flags::NEGOTIATE_KEY_EXCH, 0);
    assert_eq!(auth, with_flags(v2_authenticate(), flags));
    assert_eq!(c.session_key(), Some(&RANDOM_SESSION_KEY));
    assert!(!c.mic_sent(), "no MsvAvTimestamp in the §4.2.4 challenge");
    let a = AuthenticateMessage::decode(&auth).unwrap();
    assert_eq!(a.user, "User");
    assert_eq!(a.domain, "Domain");
    assert_eq!(a.workstation, "COMPUTER");
    assert_eq!(a.mic, None);
}

#[test]
fn s4_2_4_4_ntlmv2_seal_and_sign() {
    let flags = 0xe28a_8233;
    assert_eq!(
        seal_key(flags, &RANDOM_SESSION_KEY, true).to_vec(),
        hex("59f600973cc4960a25480a7c196e4c58")
    );
    assert_eq!(
        sign_key(flags, &RANDOM_SESSION_KEY, true),
        Some(h16("4788dc861b4782f35d43fd98fe1a2d39"))
    );
    let mut s = NtlmSession::new(flags, &RANDOM_SESSION_KEY);
    let (sealed, sig) = s.seal(&plaintext());
    assert_eq!(sealed, hex("54e50165bf1936dc996020c1811b0f06fb5f"));
    assert_eq!(sig.to_vec(), hex("01000000 7fb38ec5c55d4976 00000000"));
}

// ------------------------------------------------------------ MIC and sessions

/// A server-side view used to check the client: computes the server's
/// signature for `msg` (server-to-client keys, sequence `seq`, fresh handle).
fn server_mac(flags: u32, key: &[u8; 16], msg: &[u8], seq: u32) -> [u8; 16] {
    let sk = sign_key(flags, key, false).unwrap();
    let mut checksum = [0u8; 8];
    checksum.copy_from_slice(&super::crypto::hmac_md5(&sk, &[&seq.to_le_bytes(), msg])[..8]);
    if flags & flags::NEGOTIATE_KEY_EXCH != 0 {
        let seal = seal_key(flags, key, false);
        super::crypto::rc4k(&seal, &mut checksum);
    }
    let mut sig = [0u8; 16];
    sig[0] = 1;
    sig[4..12].copy_from_slice(&checksum);
    sig[12..].copy_from_slice(&seq.to_le_bytes());
    sig
}

/// A modern server's CHALLENGE: target info with MsvAvTimestamp.
fn challenge_with_timestamp(server_flags: u32) -> Vec<u8> {
    ChallengeMessage {
        target_name: "DOMAIN".into(),
        flags: server_flags,
        server_challenge: SERVER_CHALLENGE,
        target_info: AvPairs(vec![
            AvPair::NbDomainName("DOMAIN".into()),
            AvPair::NbComputerName("SERVER".into()),
            AvPair::DnsDomainName("domain.test".into()),
            AvPair::DnsComputerName("server.domain.test".into()),
            AvPair::Timestamp(0x01d9_0000_1234_5678),
            AvPair::Unknown {
                id: 0x7777,
                value: vec![1, 2, 3],
            },
        ]),
        version: Some(Version {
            major: 10,
            minor: 0,
            build: 20348,
            revision: 15,
        }),
    }
    .encode()
    .unwrap()
}

const MODERN_SERVER_FLAGS: u32 = 0xe28a_8215 | flags::NEGOTIATE_TARGET_INFO;

#[test]
fn mic_is_sent_when_the_server_sends_a_timestamp() {
    let mut c = spec_client(NtlmOptions::default());
    let neg = c.negotiate();
    let chal = challenge_with_timestamp(MODERN_SERVER_FLAGS);
    let auth = c.authenticate(&chal).unwrap();
    assert!(c.mic_sent());
    let a = AuthenticateMessage::decode(&auth).unwrap();
    // LmChallengeResponse is Z(24) when MsvAvTimestamp is present (§3.1.5.1.2).
    assert_eq!(a.lm_challenge_response, vec![0u8; 24]);
    // The blob echoes the server's pairs (unknown id included), with the
    // server's timestamp and MsvAvFlags bit 0x2 added.
    let blob = &a.nt_challenge_response[16..];
    assert_eq!(&blob[8..16], &0x01d9_0000_1234_5678u64.to_le_bytes());
    let pairs = AvPairs::decode(&blob[28..]).unwrap();
    assert_eq!(pairs.flags(), Some(av_flags::MIC_PRESENT));
    assert_eq!(pairs.timestamp(), Some(0x01d9_0000_1234_5678));
    assert!(pairs.contains(0x7777));
    // MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with MIC = 0).
    let mic = a.mic.expect("MIC field");
    let mut zeroed = auth.clone();
    zeroed[AUTHENTICATE_MIC_OFFSET..AUTHENTICATE_MIC_OFFSET + 16].fill(0);
    let expected = super::crypto::hmac_md5(&RANDOM_SESSION_KEY, &[&neg, &chal, &zeroed]);
    assert_eq!(mic, expected);
    // The NTProofStr verifies the way a server checks it.
    let key = nt_owf_v2("Password", "User", "Domain");
    let proof = super::crypto::hmac_md5(&key, &[&SERVER_CHALLENGE, blob]);
    assert_eq!(&a.nt_challenge_response[..16], &proof[..]);
}

#[test]
fn existing_msv_av_flags_gain_the_mic_bit() {
    let mut pairs = AvPairs(vec![
        AvPair::Flags(av_flags::CONSTRAINED),
        AvPair::Timestamp(5),
    ]);
    pairs.add_flags(av_flags::MIC_PRESENT);
    assert_eq!(
        pairs.flags(),
        Some(av_flags::CONSTRAINED | av_flags::MIC_PRESENT)
    );
    assert_eq!(pairs.0.len(), 2);
}

#[test]
fn anonymous_is_a_null_session() {
    let mut c = NtlmClient::new(Credentials::anonymous(), NtlmOptions::default());
    assert!(Credentials::anonymous().is_anonymous());
    let _ = c.negotiate();
    let auth = c
        .authenticate(&challenge_with_timestamp(MODERN_SERVER_FLAGS))
        .unwrap();
    let a = AuthenticateMessage::decode(&auth).unwrap();
    assert_eq!(a.lm_challenge_response, vec![0u8]);
    assert!(a.nt_challenge_response.is_empty());
    assert!(a.user.is_empty());
    assert!(a.encrypted_random_session_key.is_empty());
    assert_ne!(a.flags & flags::NEGOTIATE_ANONYMOUS, 0);
    assert_eq!(a.flags & flags::NEGOTIATE_KEY_EXCH, 0);
    assert_eq!(a.mic, None);
    assert_eq!(c.session_key(), None);
    assert!(!c.verify(b"x", &[1; 16]));
}

#[test]
fn sign_and_verify_round_trip_with_a_server_view() {
    let mut c = spec_client(NtlmOptions::default());
    let _ = c.negotiate();
    let _ = c
        .authenticate(&challenge_with_timestamp(MODERN_SERVER_FLAGS))
        .unwrap();
    let flags = c.negotiated_flags();
    let key = *c.session_key().unwrap();
    // Client signatures carry increasing sequence numbers.
    let s0 = c.sign(b"hello");
    let s1 = c.sign(b"hello");
    assert_eq!(&s0[12..], &0u32.to_le_bytes());
    assert_eq!(&s1[12..], &1u32.to_le_bytes());
    // The server's MAC verifies; a wrong one does not.
    let good = server_mac(flags, &key, b"from server", 0);
    assert!(c.verify(b"from server", &good));
    let mut bad = server_mac(flags, &key, b"from server", 1);
    bad[5] ^= 1;
    assert!(!c.verify(b"from server", &bad));
    assert!(!c.verify(b"from server", &[0u8; 3]));
}

#[test]
fn long_password_v1_repeats_the_nt_response() {
    let creds = Credentials::new("u", "d", "a password longer than fourteen");
    let mut c = NtlmClient::new(
        creds,
        NtlmOptions {
            use_ntlm_v2: false,
            extended_session_security: false,
            sign: true,
            ..NtlmOptions::default()
        },
    );
    let _ = c.negotiate();
    let a = AuthenticateMessage::decode(&c.authenticate(&v1_challenge()).unwrap()).unwrap();
    assert_eq!(a.lm_challenge_response, a.nt_challenge_response);
}

#[test]
fn out_of_order_calls_are_errors() {
    let mut c = NtlmClient::new(spec_creds(), NtlmOptions::default());
    assert!(matches!(
        c.authenticate(&v2_challenge()),
        Err(NtlmError::State(_))
    ));
    let _ = c.negotiate();
    c.authenticate(&v2_challenge()).unwrap();
    assert!(matches!(
        c.authenticate(&v2_challenge()),
        Err(NtlmError::State(_))
    ));
}

#[test]
fn negotiate_message_layout() {
    let mut c = NtlmClient::new(spec_creds(), NtlmOptions::default());
    let n = c.negotiate();
    assert_eq!(n.len(), 40);
    assert_eq!(&n[..12], b"NTLMSSP\0\x01\0\0\0");
    let m = NegotiateMessage::decode(&n).unwrap();
    assert_eq!(m.flags, c.offered_flags());
    assert_ne!(m.flags & flags::NEGOTIATE_EXTENDED_SESSIONSECURITY, 0);
    assert_ne!(m.flags & flags::NEGOTIATE_SIGN, 0);
    assert_eq!(m.version, Some(Version::CLIENT_DEFAULT));
    // Domain and workstation fields are empty and point past the header.
    assert_eq!(&n[16..32], &hex("00000000 28000000 00000000 28000000")[..]);
}

// ------------------------------------------------------------ hostile CHALLENGE

#[test]
fn truncated_challenge_is_an_error_never_a_panic() {
    for full in [v1_challenge(), ess_challenge(), v2_challenge()] {
        for n in 0..full.len() {
            assert!(ChallengeMessage::decode(&full[..n]).is_err(), "prefix {n}");
            let mut c = NtlmClient::new(spec_creds(), NtlmOptions::default());
            let _ = c.negotiate();
            assert!(matches!(
                c.authenticate(&full[..n]),
                Err(NtlmError::Decode(_))
            ));
        }
    }
}

#[test]
fn hostile_challenge_fields_are_errors() {
    let base = v2_challenge();
    let patch = |off: usize, bytes: &[u8]| {
        let mut v = base.clone();
        v[off..off + bytes.len()].copy_from_slice(bytes);
        v
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad signature", patch(0, b"NTLMSSQ\0")),
        ("wrong message type", patch(8, &3u32.to_le_bytes())),
        (
            "target name offset past the end",
            patch(16, &0x1000u32.to_le_bytes()),
        ),
        (
            "target name offset+len overflows",
            patch(16, &u32::MAX.to_le_bytes()),
        ),
        ("target name length past the end", patch(12, &[0xff, 0xff])),
        ("odd-length unicode target name", patch(12, &[0x0b, 0x00])),
        (
            "target info offset past the end",
            patch(44, &0xffffu32.to_le_bytes()),
        ),
        (
            "target info offset+len overflows",
            patch(44, &u32::MAX.to_le_bytes()),
        ),
        ("target info length past the end", patch(40, &[0x25, 0x00])),
        // First AV pair claims 0x0c00 bytes.
        (
            "AV pair length past the end",
            patch(0x44 + 2, &[0x00, 0x0c]),
        ),
        // MsvAvFlags with a 2-byte value.
        ("MsvAvFlags of the wrong size", {
            let mut v = base.clone();
            let ti = hex("06000200 0100 00000000");
            v.truncate(0x44);
            v[40..42].copy_from_slice(&(ti.len() as u16).to_le_bytes());
            v.extend(ti);
            v
        }),
        // Unpaired surrogate in the target name.
        ("invalid UTF-16 target name", patch(56, &[0x00, 0xd8])),
    ];
    for (what, msg) in cases {
        assert!(ChallengeMessage::decode(&msg).is_err(), "{what}");
    }
    // An OEM target name with odd length is fine.
    let mut oem = base.clone();
    oem[20] &= !0x01; // clear UNICODE
    oem[12] = 0x0b;
    assert_eq!(
        ChallengeMessage::decode(&oem).unwrap().target_name,
        "S\0e\0r\0v\0e\0r"
    );
}

#[test]
fn av_list_without_eol_and_unknown_ids() {
    let pairs = AvPairs::decode(&hex("01000400 41004200 99000100 7f")).unwrap();
    assert_eq!(
        pairs,
        AvPairs(vec![
            AvPair::NbComputerName("AB".into()),
            AvPair::Unknown {
                id: 0x99,
                value: vec![0x7f]
            }
        ])
    );
    // Re-encoding adds the EOL and keeps the unknown pair.
    assert_eq!(
        pairs.encode().unwrap(),
        hex("01000400 41004200 99000100 7f 00000000")
    );
    // A name that is not valid UTF-16 is kept verbatim.
    let odd = AvPairs::decode(&hex("02000300 414243 00000000")).unwrap();
    assert_eq!(odd.encode().unwrap(), hex("02000300 414243 00000000"));
    // Truncated pair header.
    assert!(AvPairs::decode(&hex("0100")).is_err());
}

#[test]
fn minimal_32_byte_challenge_is_accepted() {
    // Old servers end the message after ServerChallenge.
    let msg = hex("4e544c4d53535000 02000000 00000000 20000000 07820800 0123456789abcdef");
    let m = ChallengeMessage::decode(&msg).unwrap();
    assert_eq!(m.server_challenge, SERVER_CHALLENGE);
    assert!(m.target_info.0.is_empty());
    assert_eq!(m.version, None);
}

#[test]
fn random_challenges_never_panic() {
    let base = challenge_with_timestamp(MODERN_SERVER_FLAGS);
    let mut x = 0x9e37_79b9u32;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for _ in 0..3000 {
        let mut v = base.clone();
        let flips = next() % 6 + 1;
        for _ in 0..flips {
            let i = (next() as usize) % v.len();
            v[i] = next() as u8;
        }
        let cut = (next() as usize) % (v.len() + 1);
        v.truncate(cut.max(12));
        let _ = ChallengeMessage::decode(&v);
        let mut c = NtlmClient::new(spec_creds(), NtlmOptions::default());
        let _ = c.negotiate();
        let _ = c.authenticate(&v);
    }
}

// ---------------------------------------------------------------- SPNEGO + NTLM

fn spnego_client() -> SpnegoNtlm {
    SpnegoNtlm::with_client(spec_client(NtlmOptions::default()))
}

fn server_resp(state: spnego::NegState, token: Option<Vec<u8>>, mic: Option<Vec<u8>>) -> Vec<u8> {
    spnego::encode_neg_token_resp(&spnego::NegTokenResp {
        neg_state: Some(state),
        supported_mech: token.as_ref().map(|_| spnego::OID_NTLMSSP.to_vec()),
        response_token: token,
        mech_list_mic: mic,
    })
}

#[test]
fn spnego_ntlm_full_exchange_with_mech_list_mic() {
    let mut a = spnego_client();
    let init = a.initial_token();
    let parsed = spnego::parse_neg_token_init(&init).unwrap();
    assert_eq!(parsed.mech_types, vec![spnego::OID_NTLMSSP.to_vec()]);
    let negotiate = parsed.mech_token.unwrap();
    assert!(NegotiateMessage::decode(&negotiate).is_ok());

    let chal = challenge_with_timestamp(MODERN_SERVER_FLAGS);
    let out = a
        .step(&server_resp(
            spnego::NegState::AcceptIncomplete,
            Some(chal.clone()),
            None,
        ))
        .unwrap();
    let resp = spnego::parse_neg_token_resp(&out).unwrap();
    assert_eq!(resp.neg_state, None);
    let auth = AuthenticateMessage::decode(resp.response_token.as_deref().unwrap()).unwrap();
    assert!(auth.mic.is_some());
    assert!(a.mech_list_mic_sent());

    // The mechListMIC is NTLM GSS_GetMIC (seq 0) over the DER MechTypeList.
    let key = a.session_key().unwrap();
    let flags = a.ntlm().negotiated_flags();
    let mech_list = spnego::mech_type_list(&[spnego::OID_NTLMSSP]);
    let mut check = NtlmSession::new(flags, &key);
    assert_eq!(
        resp.mech_list_mic.as_deref(),
        Some(&check.sign(&mech_list)[..])
    );

    // The server's accept-completed with its own mechListMIC verifies.
    let server_mic = server_mac(flags, &key, &mech_list, 0);
    let fin = server_resp(
        spnego::NegState::AcceptCompleted,
        None,
        Some(server_mic.to_vec()),
    );
    a.finish(&fin).unwrap();
    assert_eq!(a.session_key(), Some(RANDOM_SESSION_KEY));
}

#[test]
fn spnego_ntlm_rejects_a_bad_server_mic_and_reject_state() {
    let mut a = spnego_client();
    let _ = a.initial_token();
    let chal = challenge_with_timestamp(MODERN_SERVER_FLAGS);
    a.step(&server_resp(
        spnego::NegState::AcceptIncomplete,
        Some(chal),
        None,
    ))
    .unwrap();
    let fin = server_resp(spnego::NegState::AcceptCompleted, None, Some(vec![1; 16]));
    assert!(matches!(
        a.finish(&fin),
        Err(NtlmError::MechListMicMismatch)
    ));

    let mut b = spnego_client();
    let _ = b.initial_token();
    let chal = challenge_with_timestamp(MODERN_SERVER_FLAGS);
    b.step(&server_resp(
        spnego::NegState::AcceptIncomplete,
        Some(chal),
        None,
    ))
    .unwrap();
    assert!(matches!(
        b.finish(&server_resp(spnego::NegState::Reject, None, None)),
        Err(NtlmError::Rejected)
    ));

    let mut c = spnego_client();
    let _ = c.initial_token();
    assert!(matches!(
        c.step(&server_resp(spnego::NegState::Reject, None, None)),
        Err(NtlmError::Rejected)
    ));
}

#[test]
fn spnego_ntlm_without_timestamp_sends_no_mech_list_mic() {
    let mut a = spnego_client();
    let _ = a.initial_token();
    let out = a
        .step(&server_resp(
            spnego::NegState::AcceptIncomplete,
            Some(v2_challenge()),
            None,
        ))
        .unwrap();
    let resp = spnego::parse_neg_token_resp(&out).unwrap();
    assert_eq!(resp.mech_list_mic, None);
    assert_eq!(resp.response_token.unwrap(), {
        let mut c = spec_client(NtlmOptions::default());
        let _ = c.negotiate();
        c.authenticate(&v2_challenge()).unwrap()
    });
    a.finish(&[]).unwrap();
}

#[test]
fn spnego_ntlm_raw_ntlmssp_and_errors() {
    let mut a = spnego_client();
    let _ = a.initial_token();
    let out = a.step(&v2_challenge()).unwrap();
    assert!(out.starts_with(b"NTLMSSP\0\x03\0\0\0"));
    assert!(a.is_raw_ntlmssp());
    a.finish(&[]).unwrap();

    let mut b = spnego_client();
    assert!(matches!(b.step(&v2_challenge()), Err(NtlmError::State(_))));
    let _ = b.initial_token();
    let other_mech = spnego::encode_neg_token_resp(&spnego::NegTokenResp {
        neg_state: Some(spnego::NegState::AcceptIncomplete),
        supported_mech: Some(spnego::OID_KRB5.to_vec()),
        response_token: Some(vec![1, 2, 3]),
        mech_list_mic: None,
    });
    assert!(matches!(
        b.step(&other_mech),
        Err(NtlmError::UnsupportedMech(_))
    ));
    let no_token = server_resp(spnego::NegState::AcceptIncomplete, None, None);
    assert!(matches!(b.step(&no_token), Err(NtlmError::MissingToken(_))));
    assert!(matches!(
        b.step(&[0xa1, 0x05, 0x30]),
        Err(NtlmError::Decode(_))
    ));
}

#[test]
fn anonymous_spnego_has_no_key_and_no_mic() {
    let mut a = SpnegoNtlm::new(Credentials::anonymous(), NtlmOptions::default());
    let _ = a.initial_token();
    let chal = challenge_with_timestamp(MODERN_SERVER_FLAGS);
    let out = a
        .step(&server_resp(
            spnego::NegState::AcceptIncomplete,
            Some(chal),
            None,
        ))
        .unwrap();
    assert_eq!(
        spnego::parse_neg_token_resp(&out).unwrap().mech_list_mic,
        None
    );
    assert_eq!(a.session_key(), None);
    a.finish(&server_resp(spnego::NegState::AcceptCompleted, None, None))
        .unwrap();
}

#[test]
fn fields_longer_than_16_bits_are_refused_naming_the_limit() {
    let msg = |domain: usize| NegotiateMessage {
        flags: flags::NEGOTIATE_OEM_DOMAIN_SUPPLIED,
        domain: vec![b'D'; domain],
        workstation: Vec::new(),
        version: None,
    };
    let ok = msg(65535).encode().unwrap();
    assert_eq!(NegotiateMessage::decode(&ok).unwrap().domain.len(), 65535);
    let err = msg(65536).encode().unwrap_err();
    assert_eq!(
        err.to_string(),
        "NTLM NEGOTIATE DomainName: 65536 bytes, the limit is 65535"
    );
    let pairs = AvPairs(vec![AvPair::Unknown {
        id: 0x0F,
        value: vec![0; 65536],
    }]);
    assert_eq!(
        pairs.encode().unwrap_err().to_string(),
        "NTLM AV_PAIR AvLen: 65536 bytes, the limit is 65535"
    );
}
