//! OPLOCK_BREAK (MS-SMB2 §2.2.23–§2.2.25): the server's notification that
//! an oplock or a lease is being broken, the client's acknowledgment, and
//! the server's response to it. Both kinds share the command; the
//! StructureSize tells them apart (24 for an oplock, 44 for a lease
//! notification, 36 for a lease acknowledgment or response).

use super::body;
use super::create::FileId;
use crate::codec::{DecodeError, Writer};
use crate::Command;

/// Flags of the lease break notification (MS-SMB2 §2.2.23.2).
pub mod break_flags {
    /// SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED: the client must answer
    /// with a Lease Break Acknowledgment.
    pub const ACK_REQUIRED: u32 = 0x0000_0001;
}

/// What a server's OPLOCK_BREAK notification announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakNotification {
    /// Oplock Break Notification (MS-SMB2 §2.2.23.1): StructureSize 24,
    /// OplockLevel (1), Reserved (1), Reserved2 (4), FileId (16).
    Oplock {
        /// "The server will accept an acknowledgment for this oplock
        /// level or lower."
        oplock_level: u8,
        /// The open whose oplock breaks.
        file_id: FileId,
    },
    /// Lease Break Notification (MS-SMB2 §2.2.23.2): StructureSize 44,
    /// NewEpoch (2), Flags (4), LeaseKey (16), CurrentLeaseState (4),
    /// NewLeaseState (4), BreakReason (4), AccessMaskHint (4),
    /// ShareMaskHint (4).
    Lease {
        /// The epoch of the new state (SMB 3.x).
        new_epoch: u16,
        /// [`break_flags`].
        flags: u32,
        /// The lease breaking.
        lease_key: [u8; 16],
        /// The state the lease had.
        current_state: u32,
        /// The state the lease breaks to.
        new_state: u32,
    },
}

impl BreakNotification {
    /// Decodes the body of an OPLOCK_BREAK notification (`msg` starts with
    /// the SMB2 header).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 OPLOCK_BREAK notification";
        let (_, mut r) = body(msg, Command::OPLOCK_BREAK, what)?;
        match r.u16("OPLOCK_BREAK StructureSize")? {
            24 => {
                let oplock_level = r.u8("OPLOCK_BREAK OplockLevel")?;
                r.u8("OPLOCK_BREAK Reserved")?;
                r.u32("OPLOCK_BREAK Reserved2")?;
                let file_id = FileId::decode(&mut r, "OPLOCK_BREAK FileId")?;
                Ok(BreakNotification::Oplock {
                    oplock_level,
                    file_id,
                })
            }
            44 => {
                let new_epoch = r.u16("lease break NewEpoch")?;
                let flags = r.u32("lease break Flags")?;
                let lease_key = r.array("lease break LeaseKey")?;
                let current_state = r.u32("lease break CurrentLeaseState")?;
                let new_state = r.u32("lease break NewLeaseState")?;
                r.u32("lease break BreakReason")?;
                r.u32("lease break AccessMaskHint")?;
                r.u32("lease break ShareMaskHint")?;
                Ok(BreakNotification::Lease {
                    new_epoch,
                    flags,
                    lease_key,
                    current_state,
                    new_state,
                })
            }
            n => Err(DecodeError::Invalid {
                what: "OPLOCK_BREAK StructureSize",
                detail: format!("{n}, neither 24 (oplock) nor 44 (lease)"),
            }),
        }
    }

    /// The acknowledgment that accepts the break as the server proposes
    /// it (a client that caches nothing has nothing to flush first): the
    /// oplock level offered, or the new lease state. `None` when the server
    /// asks for no acknowledgment (a lease break without ACK_REQUIRED).
    pub fn acknowledgment(&self) -> Option<BreakAcknowledgment> {
        match *self {
            BreakNotification::Oplock {
                oplock_level,
                file_id,
            } => Some(BreakAcknowledgment::Oplock {
                oplock_level,
                file_id,
            }),
            BreakNotification::Lease {
                flags,
                lease_key,
                new_state,
                ..
            } if flags & break_flags::ACK_REQUIRED != 0 => Some(BreakAcknowledgment::Lease {
                lease_key,
                lease_state: new_state,
            }),
            BreakNotification::Lease { .. } => None,
        }
    }
}

/// The client's OPLOCK_BREAK acknowledgment (MS-SMB2 §2.2.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakAcknowledgment {
    /// Oplock Break Acknowledgment (§2.2.24.1): StructureSize 24,
    /// OplockLevel, Reserved (1), Reserved2 (4), FileId.
    Oplock {
        /// The level the client keeps.
        oplock_level: u8,
        /// The open.
        file_id: FileId,
    },
    /// Lease Break Acknowledgment (§2.2.24.2): StructureSize 36, Reserved
    /// (2), Flags (4, 0), LeaseKey, LeaseState, LeaseDuration (8, 0).
    Lease {
        /// The lease.
        lease_key: [u8; 16],
        /// The state the client keeps.
        lease_state: u32,
    },
}

impl BreakAcknowledgment {
    /// Appends the body after the header room in `w`.
    pub fn encode(&self, w: &mut Writer) {
        match *self {
            BreakAcknowledgment::Oplock {
                oplock_level,
                file_id,
            } => {
                w.u16(24).u8(oplock_level).u8(0).u32(0);
                file_id.encode(w);
            }
            BreakAcknowledgment::Lease {
                lease_key,
                lease_state,
            } => {
                w.u16(36)
                    .u16(0)
                    .u32(0)
                    .bytes(&lease_key)
                    .u32(lease_state)
                    .u64(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::header::{flags, Header, HEADER_LEN};

    fn notification(body: &[u8]) -> Vec<u8> {
        let mut h = Header::request(Command::OPLOCK_BREAK);
        h.flags |= flags::SERVER_TO_REDIR;
        h.message_id = u64::MAX;
        let mut w = Writer::new();
        h.encode(&mut w);
        w.bytes(body);
        w.into_vec()
    }

    #[test]
    fn lease_break_notification_and_its_acknowledgment() {
        let mut body = Writer::new();
        body.u16(44)
            .u16(3)
            .u32(break_flags::ACK_REQUIRED)
            .bytes(&[9; 16])
            .u32(7)
            .u32(1)
            .u32(0)
            .u32(0)
            .u32(0);
        let msg = notification(body.as_slice());
        let n = BreakNotification::decode(&msg).unwrap();
        assert_eq!(
            n,
            BreakNotification::Lease {
                new_epoch: 3,
                flags: 1,
                lease_key: [9; 16],
                current_state: 7,
                new_state: 1
            }
        );
        let mut w = Writer::new();
        w.zeros(HEADER_LEN);
        n.acknowledgment().unwrap().encode(&mut w);
        let ack = &w.as_slice()[HEADER_LEN..];
        assert_eq!(ack.len(), 36);
        assert_eq!(&ack[..8], &[36, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&ack[8..24], &[9; 16]);
        assert_eq!(&ack[24..28], &1u32.to_le_bytes(), "the new state");
        for n in HEADER_LEN..msg.len() {
            assert!(BreakNotification::decode(&msg[..n]).is_err(), "{n} bytes");
        }
        // Without ACK_REQUIRED nothing is sent back.
        let mut quiet = body.into_vec();
        quiet[4] = 0;
        let n = BreakNotification::decode(&notification(&quiet)).unwrap();
        assert_eq!(n.acknowledgment(), None);
    }

    #[test]
    fn oplock_break_notification_and_its_acknowledgment() {
        let fid = FileId {
            persistent: 5,
            volatile: 6,
        };
        let mut body = Writer::new();
        body.u16(24).u8(1).u8(0).u32(0);
        fid.encode(&mut body);
        let msg = notification(body.as_slice());
        let n = BreakNotification::decode(&msg).unwrap();
        assert_eq!(
            n,
            BreakNotification::Oplock {
                oplock_level: 1,
                file_id: fid
            }
        );
        let mut w = Writer::new();
        n.acknowledgment().unwrap().encode(&mut w);
        assert_eq!(w.as_slice(), body.as_slice());
        let mut odd = body.into_vec();
        odd[0] = 25;
        assert!(BreakNotification::decode(&notification(&odd)).is_err());
    }
}
