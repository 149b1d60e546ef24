//! SMB 3.x message encryption (MS-SMB2 §3.1.4.3) and decryption
//! (MS-SMB2 §3.2.5.1.1.1).
//!
//! An encrypted frame is a 52-byte SMB2 TRANSFORM_HEADER
//! ([`crate::smb2::transform`]) followed by the ciphertext of one SMB2
//! message or compound chain. The cipher is AES-CCM with an 11-byte nonce or
//! AES-GCM with a 12-byte nonce, 128- or 256-bit key, 16-byte tag in the
//! header's Signature field, and the header bytes from Nonce through
//! SessionId (offsets 20..52) as additional authenticated data. The AEADs
//! are RustCrypto's `ccm` and `aes-gcm`; this module only lays out their
//! inputs.
//!
//! # Using it from a driver
//!
//! * Build an [`Encryptor`] from Session.EncryptionKey and a [`Decryptor`]
//!   from Session.DecryptionKey ([`super::derive_session_keys`]) once the
//!   session is established, with the [`Cipher`] from
//!   [`Cipher::for_dialect`].
//! * Which requests to encrypt is MS-SMB2 §3.2.4.1.8: every request of a
//!   session or tree with EncryptData set, never NEGOTIATE nor a binding
//!   SESSION_SETUP.
//! * Sending: reserve [`TRANSFORM_HEADER_LEN`] bytes in front of the SMB2
//!   message in one buffer and call [`Encryptor::seal`] on the whole frame;
//!   the message is encrypted where it lies and the header written in front
//!   of it, so a 1 MiB WRITE is touched exactly once by the cipher and never
//!   copied by this module. A driver that keeps a WRITE's data apart from its
//!   header (to send it with a vectored write) cannot encrypt it where it
//!   lies, since the AEADs take one contiguous buffer; it either encodes the
//!   data straight into the frame buffer (one copy, the one it makes today
//!   into its own buffer) or calls [`Encryptor::seal_parts`], which appends
//!   the parts to an output buffer (one copy) and seals that in place. A
//!   4-byte session-service header can sit in the same buffer in front of the
//!   frame: `seal` only looks at the slice it is given.
//! * A message that is encrypted need not be signed: MS-SMB2 §3.2.4.1.1
//!   requires signing only where the session or tree does not encrypt, and
//!   the receiver skips signature verification of a message it decrypted
//!   (§3.2.5.1.3, §3.3.5.2.4). The driver leaves SMB2_FLAGS_SIGNED clear and
//!   the Signature zero.
//! * Receiving: tell frames apart with [`crate::smb2::frame_kind`]; for a
//!   transform frame, pick the session by [`TransformHeader::decode`]'s
//!   `session_id` (an unknown session means disconnecting) and call
//!   [`Decryptor::open`] on the frame buffer; the plaintext message is then
//!   the returned range of that same buffer.
//! * Both types are `Send + Sync` and work through `&self`: one `Encryptor`
//!   per session can be shared by every task and channel of that session
//!   (its nonce counter is atomic). There must be only one `Encryptor` per
//!   encryption key, or nonces could repeat (see [`Encryptor::new`]).
//!
//! [`TransformHeader::decode`]: crate::smb2::TransformHeader::decode

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use aes::{Aes128, Aes256};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::consts::{U11, U16};
use ccm::Ccm;
use thiserror::Error;

use super::{CIPHER_AES_128_CCM, CIPHER_AES_128_GCM, CIPHER_AES_256_CCM, CIPHER_AES_256_GCM};
use crate::codec::DecodeError;
use crate::smb2::transform::{
    TransformHeader, AAD_RANGE, NONCE_RANGE, SIGNATURE_RANGE, TRANSFORM_FLAG_ENCRYPTED,
    TRANSFORM_HEADER_LEN, TRANSFORM_PROTOCOL_ID,
};
use crate::Dialect;

/// AES-128-CCM with the 16-byte tag and 11-byte nonce of MS-SMB2 §2.2.41.
type Aes128Ccm = Ccm<Aes128, U16, U11>;
/// AES-256-CCM, same parameters.
type Aes256Ccm = Ccm<Aes256, U16, U11>;

/// An SMB 3.x encryption cipher (SMB2_ENCRYPTION_CAPABILITIES, MS-SMB2
/// §2.2.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-128-CCM (0x0001): the only cipher of SMB 3.0 and 3.0.2.
    Aes128Ccm,
    /// AES-128-GCM (0x0002).
    Aes128Gcm,
    /// AES-256-CCM (0x0003).
    Aes256Ccm,
    /// AES-256-GCM (0x0004).
    Aes256Gcm,
}

impl fmt::Display for Cipher {
    /// The cipher's usual name, e.g. `AES-128-GCM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::Aes128Ccm => "AES-128-CCM",
            Cipher::Aes128Gcm => "AES-128-GCM",
            Cipher::Aes256Ccm => "AES-256-CCM",
            Cipher::Aes256Gcm => "AES-256-GCM",
        })
    }
}

impl Cipher {
    /// The cipher for a wire id, or `None` for an id this implementation
    /// does not know.
    pub fn from_wire(id: u16) -> Option<Self> {
        match id {
            CIPHER_AES_128_CCM => Some(Cipher::Aes128Ccm),
            CIPHER_AES_128_GCM => Some(Cipher::Aes128Gcm),
            CIPHER_AES_256_CCM => Some(Cipher::Aes256Ccm),
            CIPHER_AES_256_GCM => Some(Cipher::Aes256Gcm),
            _ => None,
        }
    }

    /// The id of this cipher on the wire.
    pub fn wire_id(self) -> u16 {
        match self {
            Cipher::Aes128Ccm => CIPHER_AES_128_CCM,
            Cipher::Aes128Gcm => CIPHER_AES_128_GCM,
            Cipher::Aes256Ccm => CIPHER_AES_256_CCM,
            Cipher::Aes256Gcm => CIPHER_AES_256_GCM,
        }
    }

    /// The cipher a connection encrypts with (MS-SMB2 §3.1.4.3): for 3.1.1
    /// the one the server chose in its SMB2_ENCRYPTION_CAPABILITIES context
    /// (Connection.CipherId), for 3.0 and 3.0.2 always AES-128-CCM.
    /// Dialects before 3.0 cannot encrypt.
    pub fn for_dialect(dialect: Dialect, cipher_id: Option<u16>) -> Result<Self, CipherError> {
        if dialect.0 >= Dialect::SMB3_1_1.0 {
            let id = cipher_id.unwrap_or(0);
            Cipher::from_wire(id).ok_or(CipherError::UnsupportedCipher(id))
        } else if dialect.is_smb3() {
            Ok(Cipher::Aes128Ccm)
        } else {
            Err(CipherError::UnsupportedDialect(dialect))
        }
    }

    /// Key length in bytes: 16 for AES-128, 32 for AES-256.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes128Gcm => 16,
            Cipher::Aes256Ccm | Cipher::Aes256Gcm => 32,
        }
    }

    /// How many leading bytes of the 16-byte Nonce field the cipher uses:
    /// 11 for CCM (AES_CCM_Nonce), 12 for GCM (AES_GCM_Nonce).
    pub fn nonce_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes256Ccm => 11,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 12,
        }
    }
}

/// Why an [`Encryptor`] or [`Decryptor`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CipherError {
    /// The cipher id is not one of MS-SMB2 §2.2.3.1.2 (0 when a 3.1.1
    /// connection negotiated none).
    #[error("unsupported encryption cipher 0x{0:04X}")]
    UnsupportedCipher(u16),
    /// The dialect has no encryption (before SMB 3.0).
    #[error("dialect {} does not support encryption", .0.version_str())]
    UnsupportedDialect(Dialect),
    /// The key does not have the cipher's length.
    #[error("{cipher:?} needs a {expected}-byte key, got {actual} bytes")]
    KeyLength {
        /// The cipher.
        cipher: Cipher,
        /// Its key length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
}

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The buffer holds no message after the 52 bytes reserved for the
    /// header (an empty message cannot be sent: the receiver rejects a frame
    /// that is not longer than the header).
    #[error("nothing to encrypt: the frame buffer has {0} bytes, the header alone takes 52")]
    EmptyMessage(usize),
    /// The message does not fit OriginalMessageSize (32 bits).
    #[error("message of {0} bytes is too large to encrypt")]
    TooLarge(usize),
    /// All 2^64 - 1 nonces of this key have been used; the session must be
    /// re-established (never reached in practice, but never wrapped).
    #[error("the session's nonce counter is exhausted")]
    NonceExhausted,
}

/// Why a received frame was rejected. Each of these means, per MS-SMB2
/// §3.2.5.1.1.1, that the client disconnects.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// Not a well-formed TRANSFORM_HEADER frame: too short, wrong
    /// ProtocolId, Flags not 0x0001, OriginalMessageSize not the length of
    /// the rest of the frame.
    #[error("malformed encrypted frame: {0}")]
    Malformed(DecodeError),
    /// The header names a session other than this decryptor's.
    #[error("encrypted frame for session 0x{actual:016X}, expected 0x{expected:016X}")]
    WrongSession {
        /// This decryptor's session.
        expected: u64,
        /// The SessionId in the header.
        actual: u64,
    },
    /// The authentication tag does not match: the frame was altered, or was
    /// encrypted with another key.
    #[error("encrypted frame failed authentication")]
    BadTag,
    /// The decrypted message is itself a TRANSFORM_HEADER frame ("a nested
    /// encrypted message", MS-SMB2 §3.2.5.1.1.1).
    #[error("decrypted message is itself encrypted")]
    NestedTransform,
}

/// The four AEADs, keyed.
#[derive(Clone)]
enum Aead {
    Aes128Ccm(Box<Aes128Ccm>),
    Aes256Ccm(Box<Aes256Ccm>),
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
}

impl Aead {
    fn new(cipher: Cipher, key: &[u8]) -> Result<Self, CipherError> {
        if key.len() != cipher.key_len() {
            return Err(CipherError::KeyLength {
                cipher,
                expected: cipher.key_len(),
                actual: key.len(),
            });
        }
        // The lengths were checked above, so `new_from_slice` cannot fail;
        // map its error anyway rather than unwrap.
        let bad = |_| CipherError::KeyLength {
            cipher,
            expected: cipher.key_len(),
            actual: key.len(),
        };
        Ok(match cipher {
            Cipher::Aes128Ccm => {
                Aead::Aes128Ccm(Box::new(Aes128Ccm::new_from_slice(key).map_err(bad)?))
            }
            Cipher::Aes256Ccm => {
                Aead::Aes256Ccm(Box::new(Aes256Ccm::new_from_slice(key).map_err(bad)?))
            }
            Cipher::Aes128Gcm => {
                Aead::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            Cipher::Aes256Gcm => {
                Aead::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
        })
    }

    /// Encrypts `body` in place; returns the tag. Only fails for inputs
    /// beyond the AEAD's limits, which the callers have already excluded.
    fn seal(&self, nonce: &[u8; 16], aad: &[u8], body: &mut [u8]) -> Option<[u8; 16]> {
        let ccm = ccm_nonce(nonce);
        let gcm = gcm_nonce(nonce);
        let tag = match self {
            Aead::Aes128Ccm(a) => a.encrypt_inout_detached(&ccm.into(), aad, body.into()),
            Aead::Aes256Ccm(a) => a.encrypt_inout_detached(&ccm.into(), aad, body.into()),
            Aead::Aes128Gcm(a) => a.encrypt_inout_detached(&gcm.into(), aad, body.into()),
            Aead::Aes256Gcm(a) => a.encrypt_inout_detached(&gcm.into(), aad, body.into()),
        };
        tag.ok().map(Into::into)
    }

    /// Decrypts `body` in place after checking `tag` (in constant time,
    /// inside the AEAD).
    fn open(&self, nonce: &[u8; 16], aad: &[u8], body: &mut [u8], tag: &[u8; 16]) -> bool {
        let ccm = ccm_nonce(nonce);
        let gcm = gcm_nonce(nonce);
        let tag = (*tag).into();
        match self {
            Aead::Aes128Ccm(a) => a.decrypt_inout_detached(&ccm.into(), aad, body.into(), &tag),
            Aead::Aes256Ccm(a) => a.decrypt_inout_detached(&ccm.into(), aad, body.into(), &tag),
            Aead::Aes128Gcm(a) => a.decrypt_inout_detached(&gcm.into(), aad, body.into(), &tag),
            Aead::Aes256Gcm(a) => a.decrypt_inout_detached(&gcm.into(), aad, body.into(), &tag),
        }
        .is_ok()
    }
}

/// AES_CCM_Nonce: the first 11 bytes of the Nonce field (MS-SMB2 §2.2.41).
fn ccm_nonce(nonce: &[u8; 16]) -> [u8; 11] {
    let mut n = [0u8; 11];
    n.copy_from_slice(&nonce[..11]);
    n
}

/// AES_GCM_Nonce: the first 12 bytes of the Nonce field (MS-SMB2 §2.2.41).
fn gcm_nonce(nonce: &[u8; 16]) -> [u8; 12] {
    let mut n = [0u8; 12];
    n.copy_from_slice(&nonce[..12]);
    n
}

/// Encrypts the messages of one session (MS-SMB2 §3.1.4.3).
///
/// Nonces: MS-SMB2 §2.2.41 only asks that a Nonce "MUST NOT be reused for
/// all encrypted messages within a session". Each `Encryptor` numbers its
/// messages with a 64-bit counter that starts at zero and is never wrapped
/// (the last value is refused with [`EncryptError::NonceExhausted`]). The
/// cipher's nonce is the counter (8 bytes, little-endian) followed by the
/// caller's random salt: 4 bytes for GCM's 12-byte nonce, the first 3 of
/// them for CCM's 11-byte nonce. The unused bytes of the 16-byte Nonce field
/// are zero. The counter alone makes nonces unique for one `Encryptor`; the
/// salt, which the caller draws from a CSPRNG (this crate does no I/O and
/// has no randomness source of its own), keeps two `Encryptor`s created by
/// mistake for the same key from starting on the same sequence. Share one
/// `Encryptor` per session (all channels of a session use the same
/// Session.EncryptionKey) rather than creating several.
pub struct Encryptor {
    cipher: Cipher,
    aead: Aead,
    session_id: u64,
    salt: [u8; 4],
    counter: AtomicU64,
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("cipher", &self.cipher)
            .field("session_id", &format_args!("0x{:016X}", self.session_id))
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// An encryptor for the session `session_id` with `key`
    /// (Session.EncryptionKey for a client, 16 or 32 bytes as `cipher`
    /// needs) and `salt`, four bytes from a cryptographically secure random
    /// generator.
    pub fn new(
        cipher: Cipher,
        key: &[u8],
        session_id: u64,
        salt: [u8; 4],
    ) -> Result<Self, CipherError> {
        Ok(Encryptor {
            cipher,
            aead: Aead::new(cipher, key)?,
            session_id,
            salt,
            counter: AtomicU64::new(0),
        })
    }

    /// The cipher in use.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The session whose messages this encrypts.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// Encrypts one message in place and writes the TRANSFORM_HEADER in
    /// front of it.
    ///
    /// `frame` is the caller's buffer: its first [`TRANSFORM_HEADER_LEN`]
    /// bytes are reserved for the header (their contents are overwritten),
    /// the rest is the plaintext SMB2 message or compound chain. On return
    /// `frame` is the complete encrypted frame, ready to be sent after its
    /// 4-byte session-service header. On error `frame` is unchanged.
    pub fn seal(&self, frame: &mut [u8]) -> Result<(), EncryptError> {
        let nonce = self.check_and_next_nonce(frame.len())?;
        self.seal_with_nonce(&nonce, frame);
        Ok(())
    }

    /// Appends one encrypted frame for the message made of `parts` (for
    /// example a WRITE's header and body, then its data) to `out`.
    ///
    /// The parts are copied once into `out` (whose capacity is grown once,
    /// to the exact size) and encrypted there; whatever `out` held before
    /// is left in front, so it can already hold the session-service header.
    /// On error `out` is unchanged.
    pub fn seal_parts(&self, parts: &[&[u8]], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        let msg_len = parts
            .iter()
            .try_fold(0usize, |n, p| n.checked_add(p.len()))
            .ok_or(EncryptError::TooLarge(usize::MAX))?;
        let frame_len = msg_len
            .checked_add(TRANSFORM_HEADER_LEN)
            .ok_or(EncryptError::TooLarge(msg_len))?;
        let nonce = self.check_and_next_nonce(frame_len)?;
        let start = out.len();
        out.reserve_exact(frame_len);
        out.resize(start + TRANSFORM_HEADER_LEN, 0);
        for p in parts {
            out.extend_from_slice(p);
        }
        self.seal_with_nonce(&nonce, &mut out[start..]);
        Ok(())
    }

    /// Checks that a frame of `frame_len` bytes can be sealed and takes the
    /// next nonce for it.
    fn check_and_next_nonce(&self, frame_len: usize) -> Result<[u8; 16], EncryptError> {
        if frame_len <= TRANSFORM_HEADER_LEN {
            return Err(EncryptError::EmptyMessage(frame_len));
        }
        let msg_len = frame_len - TRANSFORM_HEADER_LEN;
        if u32::try_from(msg_len).is_err() {
            return Err(EncryptError::TooLarge(msg_len));
        }
        let n = self
            .counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1))
            .map_err(|_| EncryptError::NonceExhausted)?;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        let salt_len = self.cipher.nonce_len() - 8;
        nonce[8..8 + salt_len].copy_from_slice(&self.salt[..salt_len]);
        Ok(nonce)
    }

    /// Writes the header with `nonce` and encrypts `frame[52..]` in place.
    /// The caller has checked that the message is non-empty and fits 32
    /// bits.
    fn seal_with_nonce(&self, nonce: &[u8; 16], frame: &mut [u8]) {
        let (header, body) = frame.split_at_mut(TRANSFORM_HEADER_LEN);
        let size = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let h = TransformHeader {
            signature: [0; 16],
            nonce: *nonce,
            original_message_size: size,
            flags: TRANSFORM_FLAG_ENCRYPTED,
            session_id: self.session_id,
        };
        header.copy_from_slice(&h.encode());
        // CCM with an 11-byte nonce takes up to 2^32 - 1 bytes and GCM up to
        // 2^36 - 32, so a message that fits OriginalMessageSize never fails.
        let tag = self
            .aead
            .seal(nonce, &header[AAD_RANGE], body)
            .unwrap_or([0; 16]);
        header[SIGNATURE_RANGE].copy_from_slice(&tag);
    }

    #[cfg(test)]
    fn set_counter(&self, value: u64) {
        self.counter.store(value, Ordering::Relaxed);
    }
}

/// Decrypts and authenticates the messages of one session (MS-SMB2
/// §3.2.5.1.1.1).
///
/// [`open`](Decryptor::open) does what that section asks of one frame:
/// rejects a frame not longer than the header, a Flags/EncryptionAlgorithm
/// other than 0x0001, a SessionId that is not this session's, a tag that
/// does not verify ("If signature verification fails, the client MUST
/// disconnect"), and a decrypted message that is itself a TRANSFORM_HEADER
/// frame. A decrypted COMPRESSION_TRANSFORM_HEADER frame is returned as is;
/// decompressing it (or rejecting it when no compression was negotiated) is
/// the caller's business, as is everything §3.2.5.1 asks of the SMB2
/// message itself.
///
/// Replay: the nonces a server picks are "implementation-specific"
/// (MS-SMB2 §2.2.41), so a client cannot demand that they increase, and
/// this type keeps no history of them. An attacker on the path who cannot
/// forge frames can still re-inject a frame the server sent earlier on the
/// same connection (it authenticates, as nothing in it binds it to a
/// position in the stream). The driver is what rejects such a frame: every
/// response carries the MessageId of a request that is still outstanding,
/// MessageIds are never reused on a connection, and the entry is removed
/// when the final response arrives, so a replayed response matches nothing
/// and must be treated as a protocol error. The exceptions are an interim
/// STATUS_PENDING response replayed before the final one (harmless: it only
/// repeats "pending") and an unsolicited oplock or lease break
/// (MessageId 0xFFFFFFFFFFFFFFFF), whose replay can at worst make the
/// client acknowledge a break a second time, which the server refuses.
/// Frames cannot be moved between sessions (the SessionId is authenticated
/// and each session has its own key) nor across a reconnection (a new
/// session has new keys).
#[derive(Clone)]
pub struct Decryptor {
    cipher: Cipher,
    aead: Aead,
    session_id: u64,
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("cipher", &self.cipher)
            .field("session_id", &format_args!("0x{:016X}", self.session_id))
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// A decryptor for the session `session_id` with `key`
    /// (Session.DecryptionKey for a client, 16 or 32 bytes as `cipher`
    /// needs).
    pub fn new(cipher: Cipher, key: &[u8], session_id: u64) -> Result<Self, CipherError> {
        Ok(Decryptor {
            cipher,
            aead: Aead::new(cipher, key)?,
            session_id,
        })
    }

    /// The cipher in use.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The session whose messages this decrypts.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// Checks and decrypts one received frame in place.
    ///
    /// `frame` is the whole frame (the payload of one session-service
    /// message): the TRANSFORM_HEADER and the ciphertext. On success the
    /// ciphertext has been replaced by the plaintext and the returned range
    /// (always `52..frame.len()`) is where the SMB2 message lies in `frame`.
    /// On error the contents of `frame` after the header are unspecified
    /// (ciphertext, or zeros where the AEAD wiped unauthenticated
    /// plaintext) and must be discarded.
    pub fn open(&self, frame: &mut [u8]) -> Result<Range<usize>, DecryptError> {
        let header = TransformHeader::decode(frame).map_err(DecryptError::Malformed)?;
        if header.session_id != self.session_id {
            return Err(DecryptError::WrongSession {
                expected: self.session_id,
                actual: header.session_id,
            });
        }
        let (head, body) = frame.split_at_mut(TRANSFORM_HEADER_LEN);
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&head[NONCE_RANGE]);
        if !self
            .aead
            .open(&nonce, &head[AAD_RANGE], body, &header.signature)
        {
            return Err(DecryptError::BadTag);
        }
        if body.get(..4) == Some(&TRANSFORM_PROTOCOL_ID[..]) {
            return Err(DecryptError::NestedTransform);
        }
        Ok(TRANSFORM_HEADER_LEN..frame.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::mutate_never_panics;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn nonce16(s: &str) -> [u8; 16] {
        let mut n = [0u8; 16];
        let b = hex(s);
        n[..b.len()].copy_from_slice(&b);
        n
    }

    /// One encrypted request from a published example: the inputs, the
    /// published fields, and the published transformed message.
    struct Request {
        nonce: &'static str,
        plaintext: &'static str,
        signature: &'static str,
        encrypted: &'static str,
        transformed: &'static str,
    }

    /// One encrypted response from a published example.
    struct Response {
        transformed: &'static str,
        decrypted: &'static str,
    }

    struct Example {
        cipher: Cipher,
        session_id: u64,
        encryption_key: &'static str,
        decryption_key: &'static str,
        requests: [Request; 2],
        responses: [Response; 2],
    }

    /// Microsoft Open Specifications blog, "SMB 3.1.1 Encryption in Windows
    /// 10" (2015-09-09), Appendix A.1 "Test vector with AES-GCM": a WRITE
    /// and a READ of "Smb3 encryption testing" and their responses.
    const SMB311_GCM: Example = Example {
        cipher: Cipher::Aes128Gcm,
        session_id: 0x1000_0000_0025,
        encryption_key: "A2F5E80E5D59103034F32E52F698E5EC",
        decryption_key: "748C50868C90F302962A5C35F5F9A8BF",
        requests: [
            Request {
                nonce: "C7D6822D269CAF48904C664C",
                plaintext: "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
                            25000000001000000000000000000000000000000000000031007000170000000000000000000000
                            0600000004000000010000000400000000000000000000007000000000000000536D623320656E63
                            72797074696F6E2074657374696E67",
                signature: "BD73D97D2BC9001BCAFAC0FDFF5FEEBC",
                encrypted: "6ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02D14EF247F8BDE38ACF6256F8
                            B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB44576545567C24D4C014D47C9
                            FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E91AF013F00D17E3ABC2FC3D36
                            C8C1B6B93973253852DBD442E46EE8",
                transformed: "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000
                              0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02
                              D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4
                              4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9
                              1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8",
            },
            Request {
                nonce: "D7AA8C6D36859243B715E0A6",
                plaintext: "FE534D4240000100000000000800010008000000000000000600000000000000FFFE000001000000
                            25000000001000000000000000000000000000000000000031000000170000000000000000000000
                            060000000400000001000000040000000000000000000000000000000000000000",
                signature: "6DAC0B6FD85A3ED42BB917DA38FE0386",
                encrypted: "88A47BF09CA3C3141CDD7306BE9D9475AB24FCCB833D77461C041F8FB983D0C188F0729272B31D9D
                            3D0DC6B687C069EEE0CC8EACA2C536D019ACC9E185D1EB630E0FCB793EEECEB06D82A1D77706E700
                            DBEBFB4FEB54D7AD2D97E7288804F90757FE4D08D6A84A3FF433E7451E768E4699",
                transformed: "FD534D426DAC0B6FD85A3ED42BB917DA38FE0386D7AA8C6D36859243B715E0A60000000071000000
                              00000100250000000010000088A47BF09CA3C3141CDD7306BE9D9475AB24FCCB833D77461C041F8F
                              B983D0C188F0729272B31D9D3D0DC6B687C069EEE0CC8EACA2C536D019ACC9E185D1EB630E0FCB79
                              3EEECEB06D82A1D77706E700DBEBFB4FEB54D7AD2D97E7288804F90757FE4D08D6A84A3FF433E745
                              1E768E4699",
            },
        ],
        responses: [
            Response {
                transformed: "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
                              00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
                              F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
                              82E03C9E18A050FF0EA1C967",
                decrypted: "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
                            25000000001000000000000000000000000000000000000011000000170000000000000000000000",
            },
            Response {
                transformed: "FD534D427F714B3B9D8FA1198584E71C2BAA1CB6E16831DD2E8EB7B4000000000000000067000000
                              000001002500000000100000FECEDF4D03BB11A6CC5D8A53BE33D6D8701986342B4197D306E16F9C
                              BB218E92F7F8281F51CE68BB85A20D87DE90EBBF80538066D1C37513C0A58D70936D537B624F5500
                              202A612B6CD30D448A82791A0B2E049ED512AFAEFB06E98AB3D6F931D7D50DB2DBD36A",
                decrypted: "FE534D4240000100000000000800010001000000000000000600000000000000FFFE000001000000
                            25000000001000000000000000000000000000000000000011005000170000000000000000000000
                            536D623320656E6372797074696F6E2074657374696E67",
            },
        ],
    };

    /// The same blog, Appendix A.2 "Test vector with AES-CCM" (3.1.1 with
    /// CipherId 0x0001).
    const SMB311_CCM: Example = Example {
        cipher: Cipher::Aes128Ccm,
        session_id: 0x1000_0000_0021,
        encryption_key: "DFAAA31AAE40A2485D47AC4DF09FDA1D",
        decryption_key: "95C544AEF6072680DA1CE49A68A97FA6",
        requests: [
            Request {
                nonce: "9F6F1EAAD7E9F24AACD38F",
                plaintext: "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
                            21000000001000000000000000000000000000000000000031007000170000000000000000000000
                            0500000004000000010000000400000000000000000000007000000000000000536D623320656E63
                            72797074696F6E2074657374696E67",
                signature: "E89551D666DAB8993488F5A97103116C",
                encrypted: "56A74778199A9D2B6E9C3A376FD88D27680694FED253A313BEB07381AE8689F973ACDB8D716E4477
                            803BCE53A92E1B81FA3E965AD9AF2C89C08CE66A344664453B8FC88118EDC9814CF58E92AA465E6E
                            FB09958A9FDAD96FBD55B36A710C30D5E7C64AD7B9449F9F17EDD024FE8BA79154F340A82740D1D5
                            180C69B0A2DE6A4BA893BD55D3210E",
                transformed: "FD534D42E89551D666DAB8993488F5A97103116C9F6F1EAAD7E9F24AACD38F000000000087000000
                              00000100210000000010000056A74778199A9D2B6E9C3A376FD88D27680694FED253A313BEB07381
                              AE8689F973ACDB8D716E4477803BCE53A92E1B81FA3E965AD9AF2C89C08CE66A344664453B8FC881
                              18EDC9814CF58E92AA465E6EFB09958A9FDAD96FBD55B36A710C30D5E7C64AD7B9449F9F17EDD024
                              FE8BA79154F340A82740D1D5180C69B0A2DE6A4BA893BD55D3210E",
            },
            Request {
                nonce: "A0F92E964EDC3049B86E19",
                plaintext: "FE534D4240000100000000000800010008000000000000000600000000000000FFFE000001000000
                            21000000001000000000000000000000000000000000000031000000170000000000000000000000
                            050000000400000001000000040000000000000000000000000000000000000000",
                signature: "35BF9600C841F0CDA9BD1BC3727B7E36",
                encrypted: "C4CCD3EB483A0638E69C99E391E7F64BCC10D6BEE46FEEA258C4BCAF792CB5A6E69283924081806D
                            AB64827E9D14A5345D5221AB6DAFCB0E89FC2606B63D92163F4F6C93D1213D86ABF123B93EAD3AEF
                            9A3471EFD68A423A00A6E0064D9AE3C842EFFFAD236A3BF25D37F4CD054C97DE18",
                transformed: "FD534D4235BF9600C841F0CDA9BD1BC3727B7E36A0F92E964EDC3049B86E19000000000071000000
                              000001002100000000100000C4CCD3EB483A0638E69C99E391E7F64BCC10D6BEE46FEEA258C4BCAF
                              792CB5A6E69283924081806DAB64827E9D14A5345D5221AB6DAFCB0E89FC2606B63D92163F4F6C93
                              D1213D86ABF123B93EAD3AEF9A3471EFD68A423A00A6E0064D9AE3C842EFFFAD236A3BF25D37F4CD
                              054C97DE18",
            },
        ],
        responses: [
            Response {
                transformed: "FD534D42DD33EC41A927DD51476FE887C2D3C136D96831DD2E8EB7B4000000000000000050000000
                              000001002100000000100000F783157E0F6F1C055D746753CA16D20C21088E2A67564E056C2F68A7
                              F14F226C3BD809B7A2D52E5FE4ECF49821BC6001733430CF174E2764B3CCB213AAD8BB9FBAF6C15E
                              13D9120965390E004A96A3F7",
                decrypted: "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
                            21000000001000000000000000000000000000000000000011000000170000000000000000000000",
            },
            Response {
                transformed: "FD534D42E241A13C7E1EE42ECF1FD69F3B8668C6DA6831DD2E8EB7B4000000000000000067000000
                              00000100210000000010000015D67234FC8358D7BA1BF037ABC8EFD41A0A8F9BB04B16DEB1E85606
                              BD8C2770823FE6239A286CB3E3D5762ABBD53FD8DE11ED491FE905E146A8FFCE09414AB741103D63
                              7E28B19C6BA759B399DCC21FAE24CF2A455A13B215FC2857ABB513927F9F271D1C208B",
                decrypted: "FE534D4240000100000000000800010001000000000000000600000000000000FFFE000001000000
                            21000000001000000000000000000000000000000000000011005000170000000000000000000000
                            536D623320656E6372797074696F6E2074657374696E67",
            },
        ],
    };

    /// Microsoft Open Specifications blog, "Encryption in SMB 3.0: A
    /// protocol perspective" (2012-10-05), test vector section: dialect 3.0,
    /// AES-128-CCM. Windows filled all 16 Nonce bytes here (the last 5 are
    /// not part of the CCM nonce but are authenticated), which checks that
    /// the reserved nonce bytes are carried in the AAD and not required to
    /// be zero.
    const SMB30_CCM: Example = Example {
        cipher: Cipher::Aes128Ccm,
        session_id: 0x0008_E400_1400_0011,
        encryption_key: "261B72350558F2E9DCF613070383EDBF",
        decryption_key: "8FE2B57EC34D2DB5B1A9727F526BBDB5",
        requests: [
            Request {
                nonce: "66E69A111892584FB5ED524A744DA3EE",
                plaintext: "FE534D4240000100000000000900400008000000000000000400000000000000
                            FFFE0000010000001100001400E4080000000000000000000000000000000000
                            3100700017000000000000000000000015010000390000020100000039020000
                            00000000000000007000000000000000536D623320656E6372797074696F6E20
                            74657374696E67",
                signature: "81A286535415445DAE393921E44FA42E",
                encrypted: "25C8FEE16605A437832D1CD52DA9F4645333482A175FE5384563F45FCDAFAEF3
                            8BC62BA4D5C62897996625A44C29BE5658DE2E6117585779E7B59FFD971278D0
                            8580D7FA899E410E910EABF5AA1DB43050B33B49182637759AC15D84BFCDF5B6
                            B238993C0F4CF4D6012023F6C627297075D84B7803912D0A9639634453595EF3
                            E33FFE4E7AC2AB",
                transformed: "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A
                              744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5
                              2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4
                              4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5
                              AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6
                              C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB",
            },
            Request {
                nonce: "A5123A25F983E245983F413B8B429AF2",
                plaintext: "FE534D4240000100000000000800400008000000000000000500000000000000
                            FFFE0000010000001100001400E4080000000000000000000000000000000000
                            3100000017000000000000000000000015010000390000020100000039020000
                            0000000000000000000000000000000000",
                signature: "E93601498B76D6F7A72D5EF9B6C79FAF",
                encrypted: "9A464F709AA663F8C2FC3907D63CBF6F98B1E3DD649ED366009FD0B40A365224
                            718E5440E053F6E01AE462FDB721BF91C3A6E52E14F9EFF005F445761289FF12
                            72908B52754C8FCB949F228AC104A66204289A205BCBC47509D04AF9A907002B
                            96863358B3B7CBA5E377930074FCDF3550",
                transformed: "FD534D42E93601498B76D6F7A72D5EF9B6C79FAFA5123A25F983E245983F413B
                              8B429AF271000000000001001100001400E408009A464F709AA663F8C2FC3907
                              D63CBF6F98B1E3DD649ED366009FD0B40A365224718E5440E053F6E01AE462FD
                              B721BF91C3A6E52E14F9EFF005F445761289FF1272908B52754C8FCB949F228A
                              C104A66204289A205BCBC47509D04AF9A907002B96863358B3B7CBA5E3779300
                              74FCDF3550",
            },
        ],
        responses: [
            Response {
                transformed: "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014
                              00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079
                              E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787
                              1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1
                              77309E5B",
                decrypted: "FE534D4240000100000000000900210009000000000000000400000000000000
                            FFFE0000010000001100001400E4080000000000000000000000000000000000
                            11000000170000000000000000000000",
            },
            Response {
                transformed: "FD534D42ABD518B68C2F04D7879F482B689EB83F870000000000000011000014
                              00E4080067000000000001001100001400E40800493D6FE2BDBEB435CF5F5469
                              70C7BB57BF20E713C75A3D045507E0D68E5C0346659D6FFB8AC1504A786CA2BB
                              89C9E7FE4F313E910A04180D2D0EA7DF636329E5A3285984500EF86FE9D55DA4
                              FAB9531CFDD4C551D47F3C73124BB4590A45052B694048B991CCF5",
                decrypted: "FE534D4240000100000000000800210009000000000000000500000000000000
                            FFFE0000010000001100001400E4080000000000000000000000000000000000
                            11005000170000000000000000000000536D623320656E6372797074696F6E20
                            74657374696E67",
            },
        ],
    };

    fn check_example(ex: &Example) {
        let enc_key = hex(ex.encryption_key);
        let dec_key = hex(ex.decryption_key);
        let enc = Encryptor::new(ex.cipher, &enc_key, ex.session_id, [0; 4]).unwrap();
        for req in &ex.requests {
            let plaintext = hex(req.plaintext);
            let transformed = hex(req.transformed);
            let nonce = nonce16(req.nonce);
            // The published fields and the published frame agree (guards
            // the transcription of both).
            let expected_header = TransformHeader {
                signature: hex(req.signature).try_into().unwrap(),
                nonce,
                original_message_size: plaintext.len() as u32,
                flags: 1,
                session_id: ex.session_id,
            }
            .encode();
            assert_eq!(
                [&expected_header[..], &hex(req.encrypted)].concat(),
                transformed
            );

            // Encrypting the plaintext with the published nonce gives the
            // published frame, byte for byte.
            let mut frame = vec![0u8; TRANSFORM_HEADER_LEN];
            frame.extend_from_slice(&plaintext);
            enc.seal_with_nonce(&nonce, &mut frame);
            assert_eq!(frame, transformed);

            // And the published frame decrypts back (as the server would,
            // with the same key).
            let server = Decryptor::new(ex.cipher, &enc_key, ex.session_id).unwrap();
            let mut frame = transformed.clone();
            let range = server.open(&mut frame).unwrap();
            assert_eq!(range, TRANSFORM_HEADER_LEN..transformed.len());
            assert_eq!(frame[range], plaintext[..]);
        }
        let dec = Decryptor::new(ex.cipher, &dec_key, ex.session_id).unwrap();
        for resp in &ex.responses {
            let mut frame = hex(resp.transformed);
            let range = dec.open(&mut frame).unwrap();
            assert_eq!(frame[range], hex(resp.decrypted)[..]);
            // The response does not authenticate under the other key.
            let mut frame = hex(resp.transformed);
            let wrong = Decryptor::new(ex.cipher, &enc_key, ex.session_id).unwrap();
            assert_eq!(wrong.open(&mut frame), Err(DecryptError::BadTag));
        }
    }

    #[test]
    fn smb311_aes128_gcm_published_vectors() {
        check_example(&SMB311_GCM);
    }

    #[test]
    fn smb311_aes128_ccm_published_vectors() {
        check_example(&SMB311_CCM);
    }

    #[test]
    fn smb30_aes128_ccm_published_vectors() {
        assert_eq!(
            Cipher::for_dialect(Dialect::SMB3_0, None),
            Ok(Cipher::Aes128Ccm)
        );
        check_example(&SMB30_CCM);
    }

    /// The 3.0 example end to end from the session key: the keys
    /// [`super::super::derive_session_keys`] derives encrypt the request to
    /// the published frame.
    #[test]
    fn smb30_vector_from_session_key() {
        let keys = super::super::derive_session_keys(
            Dialect::SMB3_0,
            &hex("B4546771B515F766A86735532DD6C4F0"),
            None,
            None,
        );
        let cipher = Cipher::for_dialect(Dialect::SMB3_0, None).unwrap();
        let enc =
            Encryptor::new(cipher, &keys.encryption_key, SMB30_CCM.session_id, [0; 4]).unwrap();
        let req = &SMB30_CCM.requests[0];
        let mut frame = vec![0u8; TRANSFORM_HEADER_LEN];
        frame.extend_from_slice(&hex(req.plaintext));
        enc.seal_with_nonce(&nonce16(req.nonce), &mut frame);
        assert_eq!(frame, hex(req.transformed));
        let dec = Decryptor::new(cipher, &keys.decryption_key, SMB30_CCM.session_id).unwrap();
        let mut frame = hex(SMB30_CCM.responses[1].transformed);
        let range = dec.open(&mut frame).unwrap();
        assert_eq!(frame[range], hex(SMB30_CCM.responses[1].decrypted)[..]);
    }

    /// NIST CAVP AES-256-GCM vector (gcmEncryptExtIV256.rsp, 96-bit IV,
    /// 128-bit AAD, 128-bit plaintext, 128-bit tag) as shipped in the
    /// RustCrypto `aes-gcm` crate's tests, through our AEAD selection and
    /// nonce handling (the 12-byte IV is the start of the 16-byte Nonce
    /// field). No published SMB example uses AES-256.
    #[test]
    fn aes256_gcm_nist_vector() {
        let aead = Aead::new(
            Cipher::Aes256Gcm,
            &hex("92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b"),
        )
        .unwrap();
        let nonce = nonce16("ac93a1a6145299bde902f21a");
        let aad = hex("1e0889016f67601c8ebea4943bc23ad6");
        let mut body = hex("2d71bcfa914e4ac045b2aa60955fad24");
        let tag = aead.seal(&nonce, &aad, &mut body).unwrap();
        assert_eq!(body, hex("8995ae2e6df3dbf96fac7b7137bae67f"));
        assert_eq!(tag.to_vec(), hex("eca5aa77d51d4a0a14d9c51e1da474ab"));
        assert!(aead.open(&nonce, &aad, &mut body, &tag));
        assert_eq!(body, hex("2d71bcfa914e4ac045b2aa60955fad24"));
        // The 4 bytes after the IV are not part of the GCM nonce.
        let mut other = nonce;
        other[12..].copy_from_slice(&[1, 2, 3, 4]);
        let mut body = hex("2d71bcfa914e4ac045b2aa60955fad24");
        assert_eq!(aead.seal(&other, &aad, &mut body), Some(tag));
    }

    /// NIST CAVP AES-256-CCM vector with SMB's parameters (16-byte tag,
    /// 11-byte nonce; 32-byte AAD like the TRANSFORM_HEADER's), the first
    /// entry of `cavp_ccm_aes256_16_11_pass` in the RustCrypto `ccm`
    /// crate's test data.
    #[test]
    fn aes256_ccm_nist_vector() {
        let aead = Aead::new(
            Cipher::Aes256Ccm,
            &hex("97BC7482A87BA005475DFA3448F59D4B3F9C4C969D08B39B1B21EF965C0F5125"),
        )
        .unwrap();
        let nonce = nonce16("0BCF78103EC52D6DF28887");
        let aad = hex("049C10F0CB37AE08EAE2D0766563B7C5A8454F841C2061A4F71A0A2158AE6CE5");
        let plaintext = hex("B99BF4DC781795FC4D3A8467B06E1665D4E543657F23129F");
        let mut body = plaintext.clone();
        let tag = aead.seal(&nonce, &aad, &mut body).unwrap();
        assert_eq!(
            body,
            hex("0D3891FA0CAAC1F7EBE41B480920FFD34D4155064C24F3B1")
        );
        assert_eq!(tag.to_vec(), hex("7A483163DD8F228D1F20CD4F86CF38FD"));
        assert!(aead.open(&nonce, &aad, &mut body, &tag));
        assert_eq!(body, plaintext);
        // Bytes 11..16 of the Nonce field are not part of the CCM nonce.
        let mut other = nonce;
        other[11..].copy_from_slice(&[9; 5]);
        let mut body = plaintext.clone();
        assert_eq!(aead.seal(&other, &aad, &mut body), Some(tag));
    }

    const ALL: [Cipher; 4] = [
        Cipher::Aes128Ccm,
        Cipher::Aes128Gcm,
        Cipher::Aes256Ccm,
        Cipher::Aes256Gcm,
    ];

    fn key(cipher: Cipher, seed: u8) -> Vec<u8> {
        (0..cipher.key_len() as u8)
            .map(|i| i.wrapping_mul(7).wrapping_add(seed))
            .collect()
    }

    fn message(len: usize) -> Vec<u8> {
        let mut m: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        if len >= 4 {
            m[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
        }
        m
    }

    fn pair(cipher: Cipher, session_id: u64) -> (Encryptor, Decryptor) {
        let k = key(cipher, 3);
        (
            Encryptor::new(cipher, &k, session_id, [0xA1, 0xB2, 0xC3, 0xD4]).unwrap(),
            Decryptor::new(cipher, &k, session_id).unwrap(),
        )
    }

    fn sealed(enc: &Encryptor, msg: &[u8]) -> Vec<u8> {
        let mut frame = vec![0u8; TRANSFORM_HEADER_LEN];
        frame.extend_from_slice(msg);
        enc.seal(&mut frame).unwrap();
        frame
    }

    #[test]
    fn round_trip_every_cipher_and_size() {
        for cipher in ALL {
            let (enc, dec) = pair(cipher, 0x77);
            for len in [1usize, 4, 15, 16, 17, 64, 1000, 65_536 + 3] {
                let msg = message(len);
                let mut frame = sealed(&enc, &msg);
                assert_eq!(frame.len(), TRANSFORM_HEADER_LEN + len);
                assert_ne!(frame[TRANSFORM_HEADER_LEN..], msg[..], "{cipher:?} {len}");
                let h = TransformHeader::decode(&frame).unwrap();
                assert_eq!(h.session_id, 0x77);
                assert_eq!(h.original_message_size as usize, len);
                let range = dec.open(&mut frame).unwrap();
                assert_eq!(frame[range], msg[..], "{cipher:?} {len}");
            }
        }
    }

    #[test]
    fn nonces_count_up_with_the_salt_after_and_zeros_last() {
        for cipher in ALL {
            let (enc, _) = pair(cipher, 1);
            for i in 0u64..3 {
                let frame = sealed(&enc, b"msg");
                let nonce = &frame[NONCE_RANGE];
                assert_eq!(nonce[..8], i.to_le_bytes());
                let salt_len = cipher.nonce_len() - 8;
                assert_eq!(nonce[8..8 + salt_len], [0xA1, 0xB2, 0xC3, 0xD4][..salt_len]);
                assert!(nonce[cipher.nonce_len()..].iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn the_nonce_counter_never_wraps() {
        let (enc, dec) = pair(Cipher::Aes128Gcm, 1);
        enc.set_counter(u64::MAX - 1);
        let mut frame = sealed(&enc, b"last");
        assert_eq!(frame[20..28], (u64::MAX - 1).to_le_bytes());
        assert!(dec.open(&mut frame).is_ok());
        let mut frame = vec![0u8; TRANSFORM_HEADER_LEN + 4];
        let before = frame.clone();
        assert_eq!(enc.seal(&mut frame), Err(EncryptError::NonceExhausted));
        assert_eq!(frame, before);
        let mut out = Vec::new();
        assert_eq!(
            enc.seal_parts(&[b"a"], &mut out),
            Err(EncryptError::NonceExhausted)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn shared_encryptor_never_repeats_a_nonce() {
        let (enc, _) = pair(Cipher::Aes128Ccm, 1);
        let enc = std::sync::Arc::new(enc);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let enc = enc.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| {
                            let f = sealed(&enc, b"x");
                            <[u8; 16]>::try_from(&f[NONCE_RANGE]).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<[u8; 16]> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2000);
    }

    #[test]
    fn seal_parts_matches_a_contiguous_message() {
        for cipher in ALL {
            let (enc, dec) = pair(cipher, 9);
            let head = message(112);
            let data = message(5000);
            let mut out = vec![0, 0, 0, 0]; // room for a session-service header
            enc.seal_parts(&[&head, &data], &mut out).unwrap();
            assert_eq!(out[..4], [0, 0, 0, 0]);
            assert_eq!(out.len(), 4 + TRANSFORM_HEADER_LEN + 5112);
            let range = dec.open(&mut out[4..]).unwrap();
            assert_eq!(out[4..][range], [&head[..], &data[..]].concat()[..]);
        }
    }

    #[test]
    fn an_empty_message_cannot_be_sealed() {
        let (enc, _) = pair(Cipher::Aes256Gcm, 1);
        for len in [0, 10, TRANSFORM_HEADER_LEN] {
            let mut frame = vec![0u8; len];
            assert_eq!(enc.seal(&mut frame), Err(EncryptError::EmptyMessage(len)));
        }
        let mut out = Vec::new();
        assert_eq!(
            enc.seal_parts(&[b"", b""], &mut out),
            Err(EncryptError::EmptyMessage(TRANSFORM_HEADER_LEN))
        );
        // Nothing was consumed: the first real message gets nonce 0.
        let frame = sealed(&enc, b"m");
        assert_eq!(frame[20..28], [0; 8]);
    }

    /// Every single-bit change of a frame is rejected with the error its
    /// field calls for.
    #[test]
    fn tampering_is_detected() {
        for cipher in ALL {
            let (enc, dec) = pair(cipher, 0x0102_0304_0506_0708);
            let good = sealed(&enc, &message(40));
            for byte in 0..good.len() {
                for bit in [0x01u8, 0x80] {
                    let mut f = good.clone();
                    f[byte] ^= bit;
                    let r = dec.open(&mut f);
                    match byte {
                        0..=3 | 36..=39 | 42..=43 => {
                            assert!(
                                matches!(r, Err(DecryptError::Malformed(_))),
                                "{cipher:?} byte {byte}: {r:?}"
                            )
                        }
                        44..=51 => assert!(
                            matches!(r, Err(DecryptError::WrongSession { .. })),
                            "{cipher:?} byte {byte}: {r:?}"
                        ),
                        // Signature, Nonce (used and unused bytes), Reserved,
                        // and the ciphertext.
                        _ => assert_eq!(r, Err(DecryptError::BadTag), "{cipher:?} byte {byte}"),
                    }
                }
            }
            // SessionId is authenticated too: a decryptor for the altered
            // session (same key) still refuses the frame.
            let mut f = good.clone();
            f[44] ^= 1;
            let other = Decryptor::new(cipher, &key(cipher, 3), 0x0102_0304_0506_0709).unwrap();
            assert_eq!(other.open(&mut f), Err(DecryptError::BadTag));
            // Another key.
            let mut f = good.clone();
            let wrong = Decryptor::new(cipher, &key(cipher, 4), 0x0102_0304_0506_0708).unwrap();
            assert_eq!(wrong.open(&mut f), Err(DecryptError::BadTag));
            // Truncated or extended frames.
            for len in 0..good.len() {
                let mut f = good[..len].to_vec();
                assert!(matches!(dec.open(&mut f), Err(DecryptError::Malformed(_))));
            }
            let mut f = good.clone();
            f.push(0);
            assert!(matches!(dec.open(&mut f), Err(DecryptError::Malformed(_))));
            // A frame whose size fields were both adjusted to a shorter
            // ciphertext decodes but fails authentication.
            let mut f = good[..good.len() - 1].to_vec();
            let size = (f.len() - TRANSFORM_HEADER_LEN) as u32;
            f[36..40].copy_from_slice(&size.to_le_bytes());
            assert_eq!(dec.open(&mut f), Err(DecryptError::BadTag));
        }
    }

    #[test]
    fn a_nested_transform_frame_is_rejected() {
        let (enc, dec) = pair(Cipher::Aes128Gcm, 5);
        let inner = sealed(&enc, b"inner message");
        let mut outer = sealed(&enc, &inner);
        assert_eq!(dec.open(&mut outer), Err(DecryptError::NestedTransform));
        // A decrypted compressed frame is handed back for the caller.
        let mut f = sealed(&enc, b"\xFCSMB compressed");
        let range = dec.open(&mut f).unwrap();
        assert_eq!(
            crate::smb2::frame_kind(&f[range]),
            crate::smb2::FrameKind::Compressed
        );
    }

    #[test]
    fn malformed_and_hostile_frames_never_panic() {
        let (enc, dec) = pair(Cipher::Aes128Ccm, 5);
        let good = sealed(&enc, &message(70));
        mutate_never_panics(&good, |f| dec.open(&mut f.to_vec()));
    }

    #[test]
    fn construction_errors() {
        assert_eq!(
            Encryptor::new(Cipher::Aes128Gcm, &[0; 32], 1, [0; 4]).unwrap_err(),
            CipherError::KeyLength {
                cipher: Cipher::Aes128Gcm,
                expected: 16,
                actual: 32
            }
        );
        assert!(Decryptor::new(Cipher::Aes256Ccm, &[0; 16], 1).is_err());
        assert!(Decryptor::new(Cipher::Aes256Ccm, &[], 1).is_err());
        assert_eq!(
            Cipher::for_dialect(Dialect::SMB3_1_1, Some(7)),
            Err(CipherError::UnsupportedCipher(7))
        );
        assert_eq!(
            Cipher::for_dialect(Dialect::SMB3_1_1, None),
            Err(CipherError::UnsupportedCipher(0))
        );
        assert_eq!(
            Cipher::for_dialect(Dialect::SMB3_1_1, Some(4)),
            Ok(Cipher::Aes256Gcm)
        );
        assert_eq!(
            Cipher::for_dialect(Dialect::SMB3_0_2, Some(2)),
            Ok(Cipher::Aes128Ccm)
        );
        assert_eq!(
            Cipher::for_dialect(Dialect::SMB2_1, None),
            Err(CipherError::UnsupportedDialect(Dialect::SMB2_1))
        );
        for c in ALL {
            assert_eq!(Cipher::from_wire(c.wire_id()), Some(c));
        }
        assert_eq!(Cipher::from_wire(0), None);
    }

    #[test]
    fn debug_does_not_print_keys() {
        let (enc, dec) = pair(Cipher::Aes128Gcm, 1);
        for s in [format!("{enc:?}"), format!("{dec:?}")] {
            assert!(s.contains("redacted"), "{s}");
            assert!(!s.contains("key: ["), "{s}");
        }
    }

    /// Throughput of sealing and opening 1 MiB messages, printed, not
    /// asserted: the best and the median of 64 runs of each operation (the
    /// best is what an unloaded core does). Run with
    /// `cargo test --release -p smbkit-proto --lib -- --ignored --nocapture encryption_throughput`.
    #[test]
    #[ignore = "measurement; run by hand in release mode"]
    fn encryption_throughput() {
        use std::time::{Duration, Instant};
        const LEN: usize = 1 << 20;
        fn measure(mut op: impl FnMut()) -> String {
            op();
            let mut runs: Vec<Duration> = (0..64)
                .map(|_| {
                    let t = Instant::now();
                    op();
                    t.elapsed()
                })
                .collect();
            runs.sort_unstable();
            let rate = |d: Duration| LEN as f64 / 1e6 / d.as_secs_f64();
            format!(
                "{:.0} (median {:.0})",
                rate(runs[0]),
                rate(runs[runs.len() / 2])
            )
        }
        println!("aes hardware accelerated: {}", aes::hardware_accelerated());
        let data = message(LEN);
        let mut frame = vec![0u8; TRANSFORM_HEADER_LEN + LEN];
        println!(
            "memcpy of 1 MiB: {} MB/s",
            measure(|| frame[TRANSFORM_HEADER_LEN..].copy_from_slice(std::hint::black_box(&data)))
        );
        for cipher in ALL {
            let (enc, dec) = pair(cipher, 1);
            let mut sealed = vec![0u8; TRANSFORM_HEADER_LEN];
            sealed.extend_from_slice(&data);
            enc.seal(&mut sealed).unwrap();
            let seal = measure(|| enc.seal(&mut frame).unwrap());
            let open = measure(|| {
                frame.copy_from_slice(&sealed);
                dec.open(&mut frame).unwrap();
            });
            assert_eq!(frame[TRANSFORM_HEADER_LEN..], data[..]);
            let (head, tail) = data.split_at(112);
            let mut out = Vec::with_capacity(4 + TRANSFORM_HEADER_LEN + LEN);
            let parts = measure(|| {
                out.clear();
                enc.seal_parts(&[head, tail], &mut out).unwrap();
            });
            // The bare AEAD on the same buffer, for the wrapper's overhead.
            let aead = Aead::new(cipher, &key(cipher, 3)).unwrap();
            let raw = measure(|| {
                aead.seal(&[7; 16], &[0; 32], &mut frame[TRANSFORM_HEADER_LEN..]);
            });
            println!(
                "{cipher:?} MB/s: seal {seal}, open incl. 1 MiB copy {open}, \
                 seal_parts {parts}, bare AEAD seal {raw}"
            );
        }
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Encryptor>();
        assert_send_sync::<Decryptor>();
    }
}
