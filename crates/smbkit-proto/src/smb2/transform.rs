//! SMB2 TRANSFORM_HEADER (MS-SMB2 §2.2.41) and telling apart the kinds of
//! frame that an SMB 2/3 connection carries.
//!
//! An encrypted message is one 52-byte TRANSFORM_HEADER followed by the
//! ciphertext of exactly one SMB2 message or compound chain:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 4  | ProtocolId: 0xFD 'S' 'M' 'B' |
//! | 4  | 16 | Signature: the AEAD tag |
//! | 20 | 16 | Nonce: 11 bytes (CCM) or 12 bytes (GCM) used, the rest reserved |
//! | 36 | 4  | OriginalMessageSize: length of the encrypted message |
//! | 40 | 2  | Reserved |
//! | 42 | 2  | Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2): 0x0001 |
//! | 44 | 8  | SessionId |
//!
//! Bytes 20..52 (Nonce through SessionId) are the AEAD's additional
//! authenticated data (MS-SMB2 §3.1.4.3); the cryptography itself lives in
//! [`crate::crypto::Encryptor`] and [`crate::crypto::Decryptor`].

use std::ops::Range;

use crate::codec::{DecodeError, Reader};

/// Size of the SMB2 TRANSFORM_HEADER (MS-SMB2 §2.2.41).
pub const TRANSFORM_HEADER_LEN: usize = 52;

/// ProtocolId of a TRANSFORM_HEADER: "The value MUST be set to 0x424D53FD,
/// also represented as (in network order) 0xFD, 'S', 'M', and 'B'."
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];

/// ProtocolId of an SMB2 COMPRESSION_TRANSFORM_HEADER (MS-SMB2 §2.2.42):
/// 0xFC, 'S', 'M', 'B'.
pub const COMPRESSION_PROTOCOL_ID: [u8; 4] = [0xFC, b'S', b'M', b'B'];

/// ProtocolId of an SMB1 message (MS-CIFS §2.2.3.1): 0xFF, 'S', 'M', 'B'.
pub const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];

/// The one value Flags/EncryptionAlgorithm may hold: SMB2_TRANSFORM_HEADER
/// _FLAG_ENCRYPTED in 3.1.1, SMB2_ENCRYPTION_AES128_CCM in 3.0 and 3.0.2
/// (MS-SMB2 §2.2.41). Both are 0x0001.
pub const TRANSFORM_FLAG_ENCRYPTED: u16 = 0x0001;

/// Where the Signature (the AEAD tag) lies in the header.
pub const SIGNATURE_RANGE: Range<usize> = 4..20;
/// Where the Nonce lies in the header.
pub const NONCE_RANGE: Range<usize> = 20..36;
/// The additional authenticated data: "The SMB2 TRANSFORM_HEADER, excluding
/// the ProtocolId and Signature fields" (MS-SMB2 §3.1.4.3), that is Nonce,
/// OriginalMessageSize, Reserved, Flags and SessionId.
pub const AAD_RANGE: Range<usize> = 20..TRANSFORM_HEADER_LEN;

/// What a received frame (the payload of one session-service message) is,
/// judged by its first four bytes (MS-SMB2 §3.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// 0xFE 'S' 'M' 'B': a plain SMB2 message or compound chain.
    Smb2,
    /// 0xFD 'S' 'M' 'B': an encrypted message behind a TRANSFORM_HEADER.
    Transform,
    /// 0xFC 'S' 'M' 'B': a message behind a COMPRESSION_TRANSFORM_HEADER.
    Compressed,
    /// 0xFF 'S' 'M' 'B': an SMB1 message.
    Smb1,
    /// Anything else, including frames shorter than four bytes.
    Unknown,
}

/// Tells what kind of frame `frame` is from its ProtocolId, without
/// validating anything beyond those four bytes.
pub fn frame_kind(frame: &[u8]) -> FrameKind {
    let Some(id) = frame.get(..4) else {
        return FrameKind::Unknown;
    };
    if id == super::header::PROTOCOL_ID {
        FrameKind::Smb2
    } else if id == TRANSFORM_PROTOCOL_ID {
        FrameKind::Transform
    } else if id == COMPRESSION_PROTOCOL_ID {
        FrameKind::Compressed
    } else if id == SMB1_PROTOCOL_ID {
        FrameKind::Smb1
    } else {
        FrameKind::Unknown
    }
}

/// SMB2 TRANSFORM_HEADER (MS-SMB2 §2.2.41).
///
/// Reserved is not modelled: encoding writes zero ("The sender MUST set this
/// to zero") and decoding ignores it ("the receiver MUST ignore it on
/// receipt"); it is still part of the authenticated data, which is taken
/// from the wire bytes as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformHeader {
    /// "The 16-byte signature of the message generated using negotiated
    /// encryption algorithm": the AEAD tag.
    pub signature: [u8; 16],
    /// "An implementation-specific value assigned for every encrypted
    /// message. This MUST NOT be reused for all encrypted messages within a
    /// session." AES-CCM uses the first 11 bytes, AES-GCM the first 12; the
    /// remaining bytes are reserved (zero when we send, ignored apart from
    /// being authenticated when we receive).
    pub nonce: [u8; 16],
    /// "The size, in bytes, of the SMB2 message" that was encrypted.
    pub original_message_size: u32,
    /// Flags (3.1.1) or EncryptionAlgorithm (3.0, 3.0.2): 0x0001.
    pub flags: u16,
    /// "Uniquely identifies the established session for the command."
    pub session_id: u64,
}

impl TransformHeader {
    /// Decodes the TRANSFORM_HEADER at the start of `frame`, which must be a
    /// whole received frame (header and encrypted message), and checks it as
    /// MS-SMB2 §3.2.5.1.1.1 and §3.3.5.2.1.1 ask before decrypting:
    ///
    /// * the frame is longer than the 52-byte header ("If the size of the
    ///   message received ... is not greater than the size of SMB2
    ///   TRANSFORM_HEADER ... disconnect");
    /// * ProtocolId is 0xFD 'S' 'M' 'B';
    /// * Flags/EncryptionAlgorithm is 0x0001 ("If the Flags/
    ///   EncryptionAlgorithm in the SMB2 TRANSFORM_HEADER is not 0x0001 ...
    ///   disconnect");
    /// * OriginalMessageSize equals the number of bytes after the header, so
    ///   the ciphertext is exactly the rest of the frame. A sender sets it to
    ///   "the size of the SMB2 message being sent" (MS-SMB2 §3.1.4.3) and
    ///   encrypts one message or whole compound chain per frame; a shorter
    ///   frame cannot be decrypted, and trailing bytes after the encrypted
    ///   message (which Samba's client would go on to parse as further
    ///   messages) are refused here rather than processed unauthenticated.
    ///
    /// Every violation is a [`DecodeError`]; the function never panics.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "SMB2 TRANSFORM_HEADER";
        if frame.len() <= TRANSFORM_HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: WHAT,
                needed: TRANSFORM_HEADER_LEN + 1,
                available: frame.len(),
            });
        }
        let mut r = Reader::new(frame);
        let protocol: [u8; 4] = r.array("TRANSFORM_HEADER ProtocolId")?;
        if protocol != TRANSFORM_PROTOCOL_ID {
            return Err(DecodeError::invalid(
                "TRANSFORM_HEADER ProtocolId",
                format!("{protocol:02X?} is not FD 'SMB'"),
            ));
        }
        let signature = r.array("TRANSFORM_HEADER Signature")?;
        let nonce = r.array("TRANSFORM_HEADER Nonce")?;
        let original_message_size = r.u32("TRANSFORM_HEADER OriginalMessageSize")?;
        r.skip(2, "TRANSFORM_HEADER Reserved")?;
        let flags = r.u16("TRANSFORM_HEADER Flags")?;
        let session_id = r.u64("TRANSFORM_HEADER SessionId")?;
        if flags != TRANSFORM_FLAG_ENCRYPTED {
            return Err(DecodeError::invalid(
                "TRANSFORM_HEADER Flags",
                format!("0x{flags:04X}, expected 0x0001"),
            ));
        }
        let remaining = r.remaining();
        if usize::try_from(original_message_size).ok() != Some(remaining) {
            return Err(DecodeError::invalid(
                "TRANSFORM_HEADER OriginalMessageSize",
                format!("{original_message_size}, but {remaining} bytes follow the header"),
            ));
        }
        Ok(TransformHeader {
            signature,
            nonce,
            original_message_size,
            flags,
            session_id,
        })
    }

    /// The 52 header bytes, Reserved written as zero.
    pub fn encode(&self) -> [u8; TRANSFORM_HEADER_LEN] {
        let mut h = [0u8; TRANSFORM_HEADER_LEN];
        h[..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
        h[SIGNATURE_RANGE].copy_from_slice(&self.signature);
        h[NONCE_RANGE].copy_from_slice(&self.nonce);
        h[36..40].copy_from_slice(&self.original_message_size.to_le_bytes());
        // 40..42: Reserved, zero.
        h[42..44].copy_from_slice(&self.flags.to_le_bytes());
        h[44..52].copy_from_slice(&self.session_id.to_le_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};

    fn sample() -> TransformHeader {
        TransformHeader {
            signature: [0xA5; 16],
            nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0],
            original_message_size: 5,
            flags: 1,
            session_id: 0x0000_1000_0000_0025,
        }
    }

    fn frame(h: &TransformHeader, body: &[u8]) -> Vec<u8> {
        let mut f = h.encode().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn round_trip_and_layout() {
        let h = sample();
        let f = frame(&h, b"hello");
        assert_eq!(f.len(), TRANSFORM_HEADER_LEN + 5);
        assert_eq!(&f[..4], &[0xFD, b'S', b'M', b'B']);
        assert_eq!(&f[4..20], &[0xA5; 16]);
        assert_eq!(&f[36..40], &5u32.to_le_bytes());
        assert_eq!(&f[40..42], &[0, 0]);
        assert_eq!(&f[42..44], &[1, 0]);
        assert_eq!(&f[44..52], &[0x25, 0, 0, 0, 0, 0x10, 0, 0]);
        assert_eq!(TransformHeader::decode(&f).unwrap(), h);
    }

    /// The header of the AES-128-GCM WRITE request in Microsoft's Open
    /// Specifications blog "SMB 3.1.1 Encryption in Windows 10" (Appendix
    /// A.1): fields as published, and the published header bytes.
    #[test]
    fn published_header_fields() {
        let bytes = hex(
            "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000\
             000001002500000000100000",
        );
        assert_eq!(bytes.len(), TRANSFORM_HEADER_LEN);
        let mut f = bytes.clone();
        f.resize(TRANSFORM_HEADER_LEN + 0x87, 0);
        let h = TransformHeader::decode(&f).unwrap();
        assert_eq!(
            h.signature.to_vec(),
            hex("BD73D97D2BC9001BCAFAC0FDFF5FEEBC")
        );
        assert_eq!(h.nonce.to_vec(), hex("C7D6822D269CAF48904C664C00000000"));
        assert_eq!(h.original_message_size, 0x87);
        assert_eq!(h.flags, 1);
        assert_eq!(h.session_id, 0x1000_0000_0025);
        assert_eq!(h.encode().to_vec(), bytes);
    }

    #[test]
    fn reserved_is_ignored() {
        let mut f = frame(&sample(), b"hello");
        f[40] = 0xFF;
        f[41] = 0x7F;
        assert_eq!(TransformHeader::decode(&f).unwrap(), sample());
    }

    #[test]
    fn rejects_bad_fields() {
        let good = frame(&sample(), b"hello");
        // ProtocolId: a plain SMB2 header, a compressed one, garbage.
        for id in [[0xFE, b'S', b'M', b'B'], [0xFC, b'S', b'M', b'B'], [0; 4]] {
            let mut f = good.clone();
            f[..4].copy_from_slice(&id);
            assert!(matches!(
                TransformHeader::decode(&f),
                Err(DecodeError::Invalid { .. })
            ));
        }
        // Flags other than 1.
        for flags in [0u16, 2, 0x0101, 0xFFFF] {
            let mut f = good.clone();
            f[42..44].copy_from_slice(&flags.to_le_bytes());
            assert!(matches!(
                TransformHeader::decode(&f),
                Err(DecodeError::Invalid { .. })
            ));
        }
        // OriginalMessageSize disagreeing with the frame length either way.
        for size in [0u32, 4, 6, u32::MAX] {
            let mut f = good.clone();
            f[36..40].copy_from_slice(&size.to_le_bytes());
            assert!(matches!(
                TransformHeader::decode(&f),
                Err(DecodeError::Invalid { .. })
            ));
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(TransformHeader::decode(&longer).is_err());
    }

    #[test]
    fn header_alone_or_shorter_is_truncated() {
        let mut h = sample();
        h.original_message_size = 0;
        let f = h.encode();
        assert!(matches!(
            TransformHeader::decode(&f),
            Err(DecodeError::Truncated { .. })
        ));
        assert_truncations_fail(&frame(&sample(), b"hello"), TransformHeader::decode);
        mutate_never_panics(&frame(&sample(), b"hello"), TransformHeader::decode);
    }

    #[test]
    fn frame_kinds() {
        assert_eq!(frame_kind(b"\xFESMB rest"), FrameKind::Smb2);
        assert_eq!(frame_kind(b"\xFDSMB"), FrameKind::Transform);
        assert_eq!(frame_kind(b"\xFCSMB...."), FrameKind::Compressed);
        assert_eq!(frame_kind(b"\xFFSMB...."), FrameKind::Smb1);
        assert_eq!(frame_kind(b"\xFESM"), FrameKind::Unknown);
        assert_eq!(frame_kind(b""), FrameKind::Unknown);
        assert_eq!(frame_kind(b"\xFEsmb"), FrameKind::Unknown);
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
