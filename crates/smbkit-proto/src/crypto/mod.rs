//! SMB2/SMB3 message signing, encryption and key derivation (MS-SMB2).
//!
//! * [`kdf`] — the SP800-108 counter-mode KDF with HMAC-SHA256 that SMB 3.x
//!   uses for every session key (MS-SMB2 §3.1.4.2).
//! * [`derive_session_keys`] — the signing, encryption, decryption and
//!   application keys of a session for each dialect (MS-SMB2 §3.2.5.3.1).
//! * [`Signer`] — signs and verifies single SMB2 messages with HMAC-SHA256,
//!   AES-128-CMAC or AES-128-GMAC (MS-SMB2 §3.1.4.1 and §3.1.5.1).
//! * [`PreauthHash`] — the SMB 3.1.1 pre-authentication integrity hash chain
//!   (MS-SMB2 §3.2.5.2 and §3.2.5.3.1).
//! * [`Encryptor`] / [`Decryptor`] — SMB 3.x message encryption behind the
//!   SMB2 TRANSFORM_HEADER with AES-128/256-CCM or -GCM ([`Cipher`];
//!   MS-SMB2 §3.1.4.3 and §3.2.5.1.1.1).
//!
//! All primitives come from the RustCrypto crates (`hmac`, `sha2`, `cmac`,
//! `aes`, `aes-gcm`, `ccm`); this module only arranges their inputs as
//! MS-SMB2 prescribes. Key material is held in [`zeroize::Zeroizing`]
//! buffers, and the ciphers' key schedules are built with the crates'
//! `zeroize` feature, so both are wiped when dropped.

mod encryption;
mod kdf;
mod preauth;
mod signing;

pub use encryption::{Cipher, CipherError, DecryptError, Decryptor, EncryptError, Encryptor};
pub use kdf::{derive_session_keys, kdf, SessionKeys};
pub use preauth::PreauthHash;
pub use signing::{Signer, SigningAlgorithm};

/// Cipher id of AES-128-CCM in SMB2_ENCRYPTION_CAPABILITIES (MS-SMB2 §2.2.3.1.2).
pub const CIPHER_AES_128_CCM: u16 = 0x0001;
/// Cipher id of AES-128-GCM (MS-SMB2 §2.2.3.1.2).
pub const CIPHER_AES_128_GCM: u16 = 0x0002;
/// Cipher id of AES-256-CCM (MS-SMB2 §2.2.3.1.2).
pub const CIPHER_AES_256_CCM: u16 = 0x0003;
/// Cipher id of AES-256-GCM (MS-SMB2 §2.2.3.1.2).
pub const CIPHER_AES_256_GCM: u16 = 0x0004;
