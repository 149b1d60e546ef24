//! SMB1 message signing (MS-CIFS §3.1.4.1, §3.1.5.1; MS-SMB §3.1.4.1,
//! §3.1.5.1).
//!
//! The signature is the first 8 bytes of MD5(MAC key || message), computed
//! with the message's 8-byte SecurityFeatures field (header offset 14) set
//! to the sequence number (32-bit little-endian, then 4 zero bytes). The
//! client numbers its requests from 0 (the session setup that established
//! the key) and a response carries its request's number + 1; the sequence
//! bookkeeping belongs to the driver.

use std::fmt;

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::header::{flags2, HEADER_LEN};

/// Offset of the 8-byte SecurityFeatures field in the SMB1 header
/// (MS-CIFS §2.2.3.1).
pub const SIGNATURE_OFFSET: usize = 14;
/// Length of the SecurityFeatures / SecuritySignature field.
pub const SIGNATURE_LEN: usize = 8;
/// Offset of the 2-byte Flags2 field.
const FLAGS2_OFFSET: usize = 10;

/// Signs and verifies SMB1 messages with one MAC key.
///
/// The MAC key is what MS-CIFS §3.1.4.1 concatenates in front of the
/// message: for extended security (MS-SMB §3.1.4.1) and NTLMv2 the 16-byte
/// session key alone; for NTLM (v1) without extended security the session
/// key followed by the 24-byte NT challenge response, 40 bytes in all
/// ([`Smb1Signer::with_response`]). The key is zeroed on drop and never
/// printed.
#[derive(Clone)]
pub struct Smb1Signer {
    mac_key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Smb1Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smb1Signer")
            .field("mac_key_len", &self.mac_key.len())
            .finish_non_exhaustive()
    }
}

impl Smb1Signer {
    /// A signer with the given MAC key.
    pub fn new(mac_key: Vec<u8>) -> Self {
        Smb1Signer {
            mac_key: Zeroizing::new(mac_key),
        }
    }

    /// A signer whose MAC key is `session_key` followed by
    /// `challenge_response` (MS-CIFS §3.1.4.1: the key is the concatenation
    /// of the session key and the response that authenticated the session,
    /// used for NTLM without extended security).
    pub fn with_response(session_key: &[u8], challenge_response: &[u8]) -> Self {
        let mut key = Vec::with_capacity(session_key.len() + challenge_response.len());
        key.extend_from_slice(session_key);
        key.extend_from_slice(challenge_response);
        Smb1Signer::new(key)
    }

    /// The 8-byte signature of `msg` (from its SMB1 header) for sequence
    /// number `seq`: MD5 over the MAC key and the message with its
    /// SecurityFeatures replaced by `seq` (LE) and 4 zero bytes; the
    /// message itself is not changed. `None` if `msg` is shorter than the
    /// 32-byte header.
    pub fn signature(&self, msg: &[u8], seq: u32) -> Option<[u8; SIGNATURE_LEN]> {
        self.signature_with_tail(msg, &[], seq)
    }

    /// [`Self::signature`] of the message `msg` followed by `tail` (the
    /// data of a WRITE_ANDX kept in its own buffer), without joining them.
    pub fn signature_with_tail(
        &self,
        msg: &[u8],
        tail: &[u8],
        seq: u32,
    ) -> Option<[u8; SIGNATURE_LEN]> {
        if msg.len() < HEADER_LEN {
            return None;
        }
        let mut seq_field = [0u8; SIGNATURE_LEN];
        seq_field[..4].copy_from_slice(&seq.to_le_bytes());
        let mut h = Md5::new();
        h.update(&self.mac_key[..]);
        h.update(&msg[..SIGNATURE_OFFSET]);
        h.update(seq_field);
        h.update(&msg[SIGNATURE_OFFSET + SIGNATURE_LEN..]);
        h.update(tail);
        let digest: [u8; 16] = h.finalize().into();
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(&digest[..SIGNATURE_LEN]);
        Some(sig)
    }

    /// Signs `msg` (a whole SMB1 message from its header) in place for
    /// sequence number `seq` (MS-CIFS §3.1.4.1): sets
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE in Flags2, then writes the
    /// signature into SecurityFeatures. The flag is set first because the
    /// signature covers it. A message shorter than the 32-byte header is
    /// left as it is.
    pub fn sign(&self, msg: &mut [u8], seq: u32) {
        self.sign_with_tail(msg, &[], seq);
    }

    /// [`Self::sign`] for the message `msg` followed on the wire by `tail`:
    /// the signature covers both and goes into `msg`'s header; `tail` is
    /// not copied.
    pub fn sign_with_tail(&self, msg: &mut [u8], tail: &[u8], seq: u32) {
        if msg.len() < HEADER_LEN {
            return;
        }
        let f2 = u16::from_le_bytes([msg[FLAGS2_OFFSET], msg[FLAGS2_OFFSET + 1]])
            | flags2::SECURITY_SIGNATURE;
        msg[FLAGS2_OFFSET..FLAGS2_OFFSET + 2].copy_from_slice(&f2.to_le_bytes());
        if let Some(sig) = self.signature_with_tail(msg, tail, seq) {
            msg[SIGNATURE_OFFSET..SIGNATURE_OFFSET + SIGNATURE_LEN].copy_from_slice(&sig);
        }
    }

    /// True if `msg` carries the signature for sequence number `seq`
    /// (MS-CIFS §3.1.5.1), compared in constant time. `msg` is not
    /// modified; a message shorter than the header does not verify.
    pub fn verify(&self, msg: &[u8], seq: u32) -> bool {
        match self.signature(msg, seq) {
            Some(expected) => ct_eq(
                &expected,
                &msg[SIGNATURE_OFFSET..SIGNATURE_OFFSET + SIGNATURE_LEN],
            ),
            None => false,
        }
    }
}

/// Compares two byte strings without an early exit.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::andx::testutil::{request_writer, response_writer};
    use crate::smb1::echo::{EchoRequest, EchoResponse};
    use crate::smb1::header::command;

    fn echo_request() -> Vec<u8> {
        let mut w = request_writer(command::ECHO);
        EchoRequest {
            echo_count: 1,
            data: b"ping".to_vec(),
        }
        .encode(&mut w)
        .unwrap();
        w.into_vec()
    }

    /// The request signed with key 00 01 .. 0F and sequence number 2, the
    /// signature computed independently with Python's hashlib:
    ///
    /// ```text
    /// key = bytes(range(16))
    /// msg = bytearray(<echo_request()>); msg[10:12] = (0xC805).to_bytes(2, 'little')
    /// msg[14:22] = (2).to_bytes(4, 'little') + bytes(4)
    /// hashlib.md5(key + msg).hexdigest()[:16]
    /// ```
    const SIGNATURE_SEQ_2: [u8; 8] = [0x9A, 0xF7, 0x61, 0x0D, 0x6B, 0xD3, 0xE5, 0x35];

    #[test]
    fn signs_like_the_reference_computation() {
        let signer = Smb1Signer::new((0..16).collect());
        let mut msg = echo_request();
        let original = msg.clone();
        signer.sign(&mut msg, 2);
        assert_eq!(&msg[10..12], &[0x05, 0xC8]); // SECURITY_SIGNATURE added
        assert_eq!(&msg[14..22], &SIGNATURE_SEQ_2);
        assert_eq!(&msg[..10], &original[..10]);
        assert_eq!(&msg[22..], &original[22..]);
        assert!(signer.verify(&msg, 2));
        assert!(!signer.verify(&msg, 3));
        assert!(!Smb1Signer::new(vec![0; 16]).verify(&msg, 2));
        // Every single-bit change outside the signature breaks it.
        for i in (0..msg.len()).filter(|i| !(14..22).contains(i)) {
            let mut m = msg.clone();
            m[i] ^= 0x01;
            assert!(!signer.verify(&m, 2), "flip at {i} still verifies");
        }
        // Short messages neither sign nor verify, without panicking.
        let mut short = [0xFFu8; 31];
        signer.sign(&mut short, 0);
        assert_eq!(short, [0xFF; 31]);
        assert!(!signer.verify(&short, 0));
        assert!(!signer.verify(&[], 0));
    }

    #[test]
    fn a_separate_tail_signs_like_the_joined_message() {
        let signer = Smb1Signer::new((0..16).collect());
        let whole = echo_request();
        for split in [HEADER_LEN, HEADER_LEN + 3, whole.len()] {
            let (head, tail) = whole.split_at(split);
            let mut head = head.to_vec();
            signer.sign_with_tail(&mut head, tail, 2);
            assert_eq!(&head[14..22], &SIGNATURE_SEQ_2, "split at {split}");
            assert!(signer.verify(&[&head[..], tail].concat(), 2));
        }
    }

    #[test]
    fn ntlm_v1_key_is_the_concatenation() {
        let session_key = [0x11u8; 16];
        let nt_response = [0x22u8; 24];
        let a = Smb1Signer::with_response(&session_key, &nt_response);
        let b = Smb1Signer::new([&session_key[..], &nt_response[..]].concat());
        let mut w = response_writer(command::ECHO, true);
        EchoResponse {
            sequence_number: 1,
            data: b"ping".to_vec(),
        }
        .encode(&mut w)
        .unwrap();
        let mut msg = w.into_vec();
        a.sign(&mut msg, 1);
        assert!(b.verify(&msg, 1));
        assert_eq!(a.signature(&msg, 1), b.signature(&msg, 1));
        assert!(!format!("{a:?}").contains("17")); // 0x11 bytes never printed
    }
}
