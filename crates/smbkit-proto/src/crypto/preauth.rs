//! The SMB 3.1.1 preauthentication integrity hash.

use sha2::{Digest, Sha512};

/// The SMB 3.1.1 preauth integrity hash value (SHA-512 chain).
///
/// Starts as 64 zero bytes; every NEGOTIATE and SESSION_SETUP request and
/// response (each whole SMB2 message, header included, without the 4-byte
/// transport header) is folded in with `H = SHA-512(H || message)`
/// (MS-SMB2 §3.2.5.2 for the connection, §3.2.4.2.3 / §3.2.5.3.1 for the
/// session, which starts from a copy of the connection's value). The final
/// value is the context of the 3.1.1 key derivation
/// ([`super::derive_session_keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreauthHash([u8; 64]);

impl PreauthHash {
    /// The initial value: 64 zero bytes.
    pub fn new() -> Self {
        PreauthHash([0u8; 64])
    }

    /// Folds one message into the chain: `H = SHA-512(H || msg)`.
    pub fn update(&mut self, msg: &[u8]) {
        let next = Sha512::new()
            .chain_update(self.0)
            .chain_update(msg)
            .finalize();
        self.0 = next.into();
    }

    /// The current hash value.
    pub fn value(&self) -> &[u8; 64] {
        &self.0
    }
}

impl Default for PreauthHash {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_is_sha512_of_previous_and_message() {
        let mut h = PreauthHash::default();
        h.update(b"abc");
        let mut input = vec![0u8; 64];
        input.extend_from_slice(b"abc");
        let expected: [u8; 64] = Sha512::digest(&input).into();
        assert_eq!(h.value(), &expected);

        let snapshot = h.clone();
        h.update(b"");
        assert_ne!(h, snapshot);
    }
}
