//! SMB2 TRANSFORM_HEADER decoding and decryption of encrypted frames.
//!
//! The decryptors use the decryption keys and session ids of Microsoft's
//! published SMB 3.1.1 (AES-128-GCM, AES-128-CCM) and SMB 3.0 (AES-128-CCM)
//! examples, so the seed frames taken from those examples authenticate and
//! their mutations reach every check after the tag; the AES-256 decryptors
//! use a fixed key.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use smbkit_proto::crypto::{Cipher, Decryptor};
use smbkit_proto::smb2::{frame_kind, split_compound, Header, TransformHeader};

const KEYS: [(Cipher, &[u8], u64); 5] = [
    (
        Cipher::Aes128Gcm,
        &[
            0x74, 0x8C, 0x50, 0x86, 0x8C, 0x90, 0xF3, 0x02, 0x96, 0x2A, 0x5C, 0x35, 0xF5, 0xF9,
            0xA8, 0xBF,
        ],
        0x0000_1000_0000_0025,
    ),
    (
        Cipher::Aes128Ccm,
        &[
            0x95, 0xC5, 0x44, 0xAE, 0xF6, 0x07, 0x26, 0x80, 0xDA, 0x1C, 0xE4, 0x9A, 0x68, 0xA9,
            0x7F, 0xA6,
        ],
        0x0000_1000_0000_0021,
    ),
    (
        Cipher::Aes128Ccm,
        &[
            0x8F, 0xE2, 0xB5, 0x7E, 0xC3, 0x4D, 0x2D, 0xB5, 0xB1, 0xA9, 0x72, 0x7F, 0x52, 0x6B,
            0xBD, 0xB5,
        ],
        0x0008_E400_1400_0011,
    ),
    (Cipher::Aes256Gcm, &[0x5A; 32], 0x0000_1000_0000_0025),
    (Cipher::Aes256Ccm, &[0xA5; 32], 0x0000_1000_0000_0021),
];

static DECRYPTORS: LazyLock<Vec<Decryptor>> = LazyLock::new(|| {
    KEYS.iter()
        .map(|&(cipher, key, session_id)| {
            Decryptor::new(cipher, key, session_id).expect("valid key")
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let _ = frame_kind(data);
    let Ok(header) = TransformHeader::decode(data) else {
        // A frame the header decoder rejects is rejected by every decryptor.
        for d in DECRYPTORS.iter() {
            assert!(d.open(&mut data.to_vec()).is_err());
        }
        return;
    };
    for d in DECRYPTORS.iter() {
        let mut frame = data.to_vec();
        if let Ok(range) = d.open(&mut frame) {
            assert_eq!(header.session_id, d.session_id());
            assert_eq!(range.end, data.len());
            let msg = &frame[range];
            let _ = frame_kind(msg);
            if let Ok(parts) = split_compound(msg) {
                for part in parts {
                    let _ = Header::decode(part);
                }
            }
        }
    }
});
