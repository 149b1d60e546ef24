//! The connection state machines: everything a client decides about an SMB
//! connection, with no I/O.
//!
//! [`Smb2Connection`] is the SMB 2/3 connection. It is shaped like
//! quinn-proto's `Connection`: the caller (a driver that owns the socket and
//! the clock) feeds it the frames it receives ([`Smb2Connection::handle_frame`])
//! and the current time ([`Smb2Connection::handle_timeout`]), and polls out
//! the frames to send ([`Smb2Connection::poll_transmit`]), what happened
//! ([`Smb2Connection::poll_event`]) and when it next needs the time
//! ([`Smb2Connection::poll_timeout`]). Requests are started with
//! [`Smb2Connection::start`] and given up with [`Smb2Connection::cancel`],
//! both by [`RequestId`]. The handshake (NEGOTIATE, SESSION_SETUP with
//! SPNEGO/NTLM, key derivation, the encryption decision) runs through the
//! same interface before any request is accepted.
//!
//! Nothing here reads a clock, spawns a thread or touches a socket; every
//! method runs to completion, so one connection can sit behind any lock,
//! inside any event loop, or in a simulation with a made-up clock.

mod auth;
mod book;
mod error;
pub mod liveness;
pub mod reconnect;
pub mod smb1;
pub mod smb2;

pub use error::{
    AuthHint, AuthStage, BadAnswer, CommandCode, ConnError, Decryption, HandshakeStep,
    HandshakeViolation, InvalidRequest, NoEncryption, Tampering, UnexpectedMessage, Unsupported,
    Violation,
};
pub use liveness::Liveness;
pub use reconnect::ReconnectPolicy;
pub use smb1::{Smb1Config, Smb1Connection};
pub use smb2::{Smb2Config, Smb2Connection};

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::crypto::{Encryptor, Signer};

/// Identifies one request started on a connection, for as long as the
/// connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The number behind the id (unique per connection, increasing).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// One frame the connection wants sent. The signing or encryption of a
/// large message is left in it, to be done by [`Transmit::finish`] outside
/// whatever lock guards the connection (so that the connection is not held
/// while a megabyte is encrypted); the connection has already decided
/// everything (the key, the message id), only the arithmetic remains.
#[derive(Debug)]
pub struct Transmit {
    msg: Vec<u8>,
    tail: bytes::Bytes,
    work: Work,
}

/// What [`Transmit::finish`] still has to do.
enum Work {
    None,
    /// Sign the message (with the tail appended) with this key.
    Sign(Arc<Signer>),
    /// Encrypt message and tail behind a TRANSFORM_HEADER.
    Seal(Arc<Encryptor>),
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Work::None => "None",
            Work::Sign(_) => "Sign",
            Work::Seal(_) => "Seal",
        })
    }
}

/// A frame ready for the wire: the 4-byte session-message header (RFC 1002
/// §4.3.1, also used by direct TCP, MS-SMB2 §2.1), the message, and bytes
/// that follow it without having been copied into it (WRITE data).
#[derive(Debug)]
pub struct Frame {
    /// The session-message header: type 0 and the 24-bit length of `msg` +
    /// `tail`.
    pub header: [u8; 4],
    /// The message (or the encrypted frame).
    pub msg: Vec<u8>,
    /// Sent right after `msg`.
    pub tail: bytes::Bytes,
}

impl Frame {
    /// The number of bytes this frame puts on the wire.
    pub fn len(&self) -> usize {
        4 + self.msg.len() + self.tail.len()
    }

    /// Never true: a frame always has its 4-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(
    a: Option<std::time::Instant>,
    b: Option<std::time::Instant>,
) -> Option<std::time::Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Fails unless a frame of `len` bytes fits a session message.
fn check_len(len: usize) -> Result<(), ConnError> {
    crate::nbss::message_header(len)
        .map(|_| ())
        .map_err(|e| ConnError::InvalidRequest(InvalidRequest::Unencodable(e)))
}

impl Transmit {
    /// A frame of `msg` followed by `tail`, sent as it is.
    pub(crate) fn new(msg: Vec<u8>, tail: bytes::Bytes) -> Result<Self, ConnError> {
        check_len(msg.len() + tail.len())?;
        Ok(Transmit {
            msg,
            tail,
            work: Work::None,
        })
    }

    /// `msg` and `tail`, signed with `signer` when finished.
    pub(crate) fn signed(
        msg: Vec<u8>,
        tail: bytes::Bytes,
        signer: Arc<Signer>,
    ) -> Result<Self, ConnError> {
        check_len(msg.len() + tail.len())?;
        Ok(Transmit {
            msg,
            tail,
            work: Work::Sign(signer),
        })
    }

    /// `msg` and `tail`, encrypted with `enc` when finished.
    pub(crate) fn sealed(
        msg: Vec<u8>,
        tail: bytes::Bytes,
        enc: Arc<Encryptor>,
    ) -> Result<Self, ConnError> {
        check_len(crate::smb2::TRANSFORM_HEADER_LEN + msg.len() + tail.len())?;
        Ok(Transmit {
            msg,
            tail,
            work: Work::Seal(enc),
        })
    }

    /// How many bytes [`Transmit::finish`] still has to sign or encrypt (0
    /// when it only frames the message): a driver may finish large ones on
    /// other threads, several at once, as long as it sends the frames in
    /// the order it took them.
    pub fn work(&self) -> usize {
        match self.work {
            Work::None => 0,
            Work::Sign(_) | Work::Seal(_) => self.msg.len() + self.tail.len(),
        }
    }

    /// Signs or encrypts as the connection decided, and frames the result.
    pub fn finish(self) -> Result<Frame, ConnError> {
        let Transmit {
            mut msg,
            mut tail,
            work,
        } = self;
        match work {
            Work::None => {}
            Work::Sign(signer) => {
                if !tail.is_empty() {
                    // The signature covers the tail.
                    msg.extend_from_slice(&tail);
                    tail = bytes::Bytes::new();
                }
                signer.sign(&mut msg);
            }
            Work::Seal(enc) => {
                let mut frame =
                    Vec::with_capacity(crate::smb2::TRANSFORM_HEADER_LEN + msg.len() + tail.len());
                enc.seal_parts(&[&msg, &tail], &mut frame)
                    .map_err(InvalidRequest::CannotEncrypt)?;
                msg = frame;
                tail = bytes::Bytes::new();
            }
        }
        let header = crate::nbss::message_header(msg.len() + tail.len())
            .map_err(|e| ConnError::InvalidRequest(InvalidRequest::Unencodable(e)))?;
        Ok(Frame { header, msg, tail })
    }
}

/// The nonces of the last [`NonceWindow::CAPACITY`] encrypted frames
/// received. An authentic frame whose nonce is among them is a replay (a
/// server never reuses a nonce under one key: MS-SMB2 §2.2.41), refused
/// before its MessageId is even looked at; older replays still fail the
/// MessageId check.
#[derive(Debug, Default)]
pub(crate) struct NonceWindow {
    order: VecDeque<[u8; 16]>,
    set: HashSet<[u8; 16]>,
}

impl NonceWindow {
    pub(crate) const CAPACITY: usize = 4096;

    /// Records `nonce`; false if it is in the window already.
    pub(crate) fn insert(&mut self, nonce: [u8; 16]) -> bool {
        if !self.set.insert(nonce) {
            return false;
        }
        self.order.push_back(nonce);
        if self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_window_refuses_repeats_and_forgets_the_oldest() {
        let mut w = NonceWindow::default();
        let n = |i: usize| {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&(i as u64).to_le_bytes());
            a
        };
        for i in 0..NonceWindow::CAPACITY {
            assert!(w.insert(n(i)));
        }
        assert!(!w.insert(n(0)));
        assert!(!w.insert(n(NonceWindow::CAPACITY - 1)));
        assert!(w.insert(n(NonceWindow::CAPACITY)));
        // The oldest was forgotten to make room.
        assert!(w.insert(n(0)));
        assert_eq!(w.order.len(), NonceWindow::CAPACITY);
        assert_eq!(w.set.len(), NonceWindow::CAPACITY);
    }

    #[test]
    fn transmit_counts_its_header() {
        let t = Transmit::new(vec![1, 2, 3], bytes::Bytes::from_static(&[4, 5]))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(t.header, [0, 0, 0, 5]);
        assert_eq!(t.len(), 9);
    }
}
