//! Connection state that is independent of any transport: SMB2 message ids
//! and credit accounting (MS-SMB2 §3.2.4.1.1, §3.2.5.1.4, §3.1.5.2).
//!
//! The client may only send a request whose MessageId lies inside the
//! window the server has granted, and a request with `CreditCharge` N
//! consumes N consecutive message ids. [`Credits`] keeps that window:
//! [`Credits::reserve`] hands out message ids when enough credits are
//! available (the caller waits and retries otherwise), and
//! [`Credits::grant`] adds what each response's `CreditResponse` returns.

/// The number of credits the client tries to keep available, so that many
/// requests can be in flight without waiting for grants.
pub const TARGET_CREDITS: u32 = 512;

/// Largest payload one credit covers (MS-SMB2 §3.1.5.2: 64 KiB).
pub const BYTES_PER_CREDIT: usize = 65536;

/// Credit window and message-id sequence of one SMB2 connection.
#[derive(Debug, Clone)]
pub struct Credits {
    next_message_id: u64,
    available: u32,
    large_mtu: bool,
}

impl Default for Credits {
    fn default() -> Self {
        Self::new()
    }
}

impl Credits {
    /// A fresh connection: one credit, so that the first request (NEGOTIATE,
    /// MessageId 0) can be sent (MS-SMB2 §3.2.4.1.1).
    pub fn new() -> Self {
        Credits {
            next_message_id: 0,
            available: 1,
            large_mtu: false,
        }
    }

    /// Records whether multi-credit requests are allowed: only when the
    /// negotiated dialect is above 2.0.2 and the server set
    /// SMB2_GLOBAL_CAP_LARGE_MTU (MS-SMB2 §3.2.5.2).
    pub fn set_large_mtu(&mut self, large_mtu: bool) {
        self.large_mtu = large_mtu;
    }

    /// True when multi-credit requests are allowed.
    pub fn large_mtu(&self) -> bool {
        self.large_mtu
    }

    /// Credits granted and not yet used.
    pub fn available(&self) -> u32 {
        self.available
    }

    /// The message id the next request will get.
    pub fn next_message_id(&self) -> u64 {
        self.next_message_id
    }

    /// Skips message ids that were used outside this accounting (the SMB1
    /// multi-protocol NEGOTIATE answered by an SMB2 response uses id 0).
    pub fn consume_external(&mut self, ids: u64) {
        self.next_message_id += ids;
        self.available = self.available.saturating_sub(ids as u32);
    }

    /// The CreditCharge for a request moving `payload` bytes (the larger of
    /// what it sends and what it expects back): `(payload - 1) / 65536 + 1`
    /// per MS-SMB2 §3.1.5.2, and always 1 without large MTU support (the
    /// field is then sent as 0).
    pub fn charge_for(&self, payload: usize) -> u16 {
        if !self.large_mtu || payload == 0 {
            return 1;
        }
        let c = (payload - 1) / BYTES_PER_CREDIT + 1;
        u16::try_from(c).unwrap_or(u16::MAX)
    }

    /// Reserves `charge` consecutive message ids if enough credits are
    /// available, returning the first. `None` means: wait for a response
    /// to grant more, then try again.
    pub fn reserve(&mut self, charge: u16) -> Option<u64> {
        let charge = u32::from(charge.max(1));
        if self.available < charge {
            return None;
        }
        let id = self.next_message_id;
        self.available -= charge;
        self.next_message_id += u64::from(charge);
        Some(id)
    }

    /// How many credits to ask for in a request that consumes `charge`:
    /// enough to replace what it uses and to move toward [`TARGET_CREDITS`].
    pub fn request_for(&self, charge: u16) -> u16 {
        let charge = u32::from(charge.max(1));
        let want = TARGET_CREDITS.saturating_sub(self.available).max(charge);
        u16::try_from(want.min(8192)).unwrap_or(u16::MAX)
    }

    /// Adds the credits a response granted (its CreditResponse field).
    /// Every response counts, error and interim (STATUS_PENDING) ones
    /// included, which is how the window recovers after errors.
    pub fn grant(&mut self, credits: u16) {
        self.available = self.available.saturating_add(u32::from(credits));
    }

    /// The CreditCharge field value to put in a header: 0 before large MTU
    /// is negotiated (SMB 2.0.2), else the charge.
    pub fn header_charge(&self, charge: u16) -> u16 {
        if self.large_mtu {
            charge.max(1)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_uses_message_id_zero_then_waits() {
        let mut c = Credits::new();
        assert_eq!(c.reserve(1), Some(0));
        assert_eq!(c.reserve(1), None, "no credit left until a grant");
        c.grant(3);
        assert_eq!(c.reserve(1), Some(1));
        assert_eq!(c.reserve(1), Some(2));
        assert_eq!(c.available(), 1);
    }

    #[test]
    fn multi_credit_requests_consume_consecutive_ids() {
        let mut c = Credits::new();
        c.set_large_mtu(true);
        c.grant(9);
        assert_eq!(c.charge_for(1024 * 1024), 16);
        assert_eq!(c.reserve(8), Some(0));
        assert_eq!(c.next_message_id(), 8);
        assert_eq!(c.reserve(4), None, "never exceed the granted window");
        assert_eq!(c.reserve(2), Some(8));
    }

    #[test]
    fn charge_is_one_without_large_mtu() {
        let c = Credits::new();
        assert_eq!(c.charge_for(8 * 1024 * 1024), 1);
        assert_eq!(c.header_charge(1), 0);
        assert_eq!(c.charge_for(65536), 1);
    }

    #[test]
    fn charge_boundaries() {
        let mut c = Credits::new();
        c.set_large_mtu(true);
        assert_eq!(c.charge_for(65536), 1);
        assert_eq!(c.charge_for(65537), 2);
        assert_eq!(c.header_charge(1), 1);
    }

    #[test]
    fn request_tops_up_toward_target() {
        let mut c = Credits::new();
        c.grant(10);
        assert_eq!(u32::from(c.request_for(1)), TARGET_CREDITS - 11);
        c.grant(2000);
        assert_eq!(c.request_for(4), 4);
    }
}
