//! The create contexts of durable handles and leases (MS-SMB2 §2.2.13.2,
//! §2.2.14.2): what a client asks for so that an open survives the loss of
//! its connection, and what it sends to take the open back on a new one.
//!
//! A server grants durability only to an open that also holds a batch
//! oplock or a lease with handle caching (MS-SMB2 §3.3.5.9.6, §3.3.5.9.10),
//! so a durable CREATE carries [`RequestLease`] (or asks for
//! `oplock_level::BATCH`) beside [`DurableRequestV2`] / [`DurableRequestV1`].
//! Each structure here is the data of one [`CreateContext`]; `to_context`
//! names it, `decode` reads a context's data.

use super::create::{context_name, CreateContext, FileId};
use crate::codec::{DecodeError, Reader, Writer};

/// Flags of the durable handle v2 contexts (MS-SMB2 §2.2.13.2.11,
/// §2.2.14.2.12).
pub mod dhandle_flags {
    /// SMB2_DHANDLE_FLAG_PERSISTENT: a persistent handle (continuously
    /// available shares only).
    pub const PERSISTENT: u32 = 0x0000_0002;
}

/// LeaseState values (MS-SMB2 §2.2.13.2.8).
pub mod lease_state {
    /// SMB2_LEASE_NONE.
    pub const NONE: u32 = 0x0000_0000;
    /// SMB2_LEASE_READ_CACHING.
    pub const READ_CACHING: u32 = 0x0000_0001;
    /// SMB2_LEASE_HANDLE_CACHING: what durability needs.
    pub const HANDLE_CACHING: u32 = 0x0000_0002;
    /// SMB2_LEASE_WRITE_CACHING.
    pub const WRITE_CACHING: u32 = 0x0000_0004;
}

/// Flags of the lease contexts (MS-SMB2 §2.2.13.2.10, §2.2.14.2.11).
pub mod lease_flags {
    /// SMB2_LEASE_FLAG_BREAK_IN_PROGRESS (responses).
    pub const BREAK_IN_PROGRESS: u32 = 0x0000_0002;
    /// SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET (v2).
    pub const PARENT_LEASE_KEY_SET: u32 = 0x0000_0004;
}

/// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 ("DH2Q", MS-SMB2 §2.2.13.2.11),
/// SMB 3.x: Timeout (4), Flags (4), Reserved (8), CreateGuid (16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableRequestV2 {
    /// "The time, in milliseconds, for which the server reserves the handle
    /// after a failover"; 0 lets the server choose.
    pub timeout_ms: u32,
    /// [`dhandle_flags`].
    pub flags: u32,
    /// "A GUID that identifies the create request": the same one is sent
    /// again to reconnect.
    pub create_guid: [u8; 16],
}

impl DurableRequestV2 {
    /// The size of the structure.
    pub const LEN: usize = 32;

    /// The create context carrying it.
    pub fn to_context(&self) -> CreateContext {
        let mut w = Writer::new();
        w.u32(self.timeout_ms)
            .u32(self.flags)
            .zeros(8)
            .bytes(&self.create_guid);
        CreateContext::new(context_name::DURABLE_HANDLE_REQUEST_V2, w.into_vec())
    }

    /// Reads the context's data (exactly 32 bytes).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let timeout_ms = r.u32("DH2Q Timeout")?;
        let flags = r.u32("DH2Q Flags")?;
        r.array::<8>("DH2Q Reserved")?;
        let create_guid = r.array("DH2Q CreateGuid")?;
        r.expect_end("SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2")?;
        Ok(DurableRequestV2 {
            timeout_ms,
            flags,
            create_guid,
        })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2 ("DH2Q" in a CREATE response,
/// MS-SMB2 §2.2.14.2.12): Timeout (4), Flags (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableResponseV2 {
    /// "The time, in milliseconds, it waits for the client to reconnect".
    pub timeout_ms: u32,
    /// [`dhandle_flags`].
    pub flags: u32,
}

impl DurableResponseV2 {
    /// The size of the structure.
    pub const LEN: usize = 8;

    /// The create context carrying it (what a server sends).
    pub fn to_context(&self) -> CreateContext {
        let mut w = Writer::new();
        w.u32(self.timeout_ms).u32(self.flags);
        CreateContext::new(context_name::DURABLE_HANDLE_REQUEST_V2, w.into_vec())
    }

    /// Reads the context's data (exactly 8 bytes).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let timeout_ms = r.u32("DH2Q response Timeout")?;
        let flags = r.u32("DH2Q response Flags")?;
        r.expect_end("SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2")?;
        Ok(DurableResponseV2 { timeout_ms, flags })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 ("DH2C", MS-SMB2
/// §2.2.13.2.12): FileId (16), CreateGuid (16), Flags (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableReconnectV2 {
    /// The open being taken back.
    pub file_id: FileId,
    /// The CreateGuid of the CREATE that made it durable.
    pub create_guid: [u8; 16],
    /// [`dhandle_flags`].
    pub flags: u32,
}

impl DurableReconnectV2 {
    /// The size of the structure.
    pub const LEN: usize = 36;

    /// The create context carrying it.
    pub fn to_context(&self) -> CreateContext {
        let mut w = Writer::new();
        self.file_id.encode(&mut w);
        w.bytes(&self.create_guid).u32(self.flags);
        CreateContext::new(context_name::DURABLE_HANDLE_RECONNECT_V2, w.into_vec())
    }

    /// Reads the context's data (exactly 36 bytes).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let file_id = FileId::decode(&mut r, "DH2C FileId")?;
        let create_guid = r.array("DH2C CreateGuid")?;
        let flags = r.u32("DH2C Flags")?;
        r.expect_end("SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2")?;
        Ok(DurableReconnectV2 {
            file_id,
            create_guid,
            flags,
        })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_REQUEST ("DHnQ", MS-SMB2 §2.2.13.2.3), SMB
/// 2.x: 16 reserved bytes, zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurableRequestV1;

impl DurableRequestV1 {
    /// The create context carrying it.
    pub fn to_context(&self) -> CreateContext {
        CreateContext::new(context_name::DURABLE_HANDLE_REQUEST, vec![0u8; 16])
    }

    /// Whether a CREATE response's "DHnQ" context (MS-SMB2 §2.2.14.2.3:
    /// 8 reserved bytes) is well formed: its presence grants durability.
    pub fn check_response(data: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(data);
        r.array::<8>("DHnQ response Reserved")?;
        r.expect_end("SMB2_CREATE_DURABLE_HANDLE_RESPONSE")
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT ("DHnC", MS-SMB2 §2.2.13.2.4):
/// the FileId of the open being taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableReconnectV1 {
    /// The open being taken back.
    pub file_id: FileId,
}

impl DurableReconnectV1 {
    /// The create context carrying it.
    pub fn to_context(&self) -> CreateContext {
        let mut w = Writer::new();
        self.file_id.encode(&mut w);
        CreateContext::new(context_name::DURABLE_HANDLE_RECONNECT, w.into_vec())
    }

    /// Reads the context's data (exactly 16 bytes).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let file_id = FileId::decode(&mut r, "DHnC FileId")?;
        r.expect_end("SMB2_CREATE_DURABLE_HANDLE_RECONNECT")?;
        Ok(DurableReconnectV1 { file_id })
    }
}

/// SMB2_CREATE_REQUEST_LEASE / _RESPONSE_LEASE ("RqLs", MS-SMB2
/// §2.2.13.2.8, §2.2.14.2.10; 32 bytes, SMB 2.1) and their v2 forms
/// (§2.2.13.2.10, §2.2.14.2.11; 52 bytes, SMB 3.x, with the parent's lease
/// key and an epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLease {
    /// "A client-generated key that identifies the owner of the lease."
    pub lease_key: [u8; 16],
    /// [`lease_state`] bits asked for (or granted, in a response).
    pub lease_state: u32,
    /// [`lease_flags`].
    pub flags: u32,
    /// The v2 fields: ParentLeaseKey and Epoch; `None` for the v1 form.
    pub v2: Option<([u8; 16], u16)>,
}

impl RequestLease {
    /// The size of the v1 structure.
    pub const V1_LEN: usize = 32;
    /// The size of the v2 structure.
    pub const V2_LEN: usize = 52;

    /// The create context carrying it: LeaseKey (16), LeaseState (4),
    /// Flags (4), LeaseDuration (8, zero), and for v2 ParentLeaseKey (16),
    /// Epoch (2), Reserved (2).
    pub fn to_context(&self) -> CreateContext {
        let mut w = Writer::new();
        w.bytes(&self.lease_key)
            .u32(self.lease_state)
            .u32(self.flags)
            .u64(0);
        if let Some((parent, epoch)) = self.v2 {
            w.bytes(&parent).u16(epoch).u16(0);
        }
        CreateContext::new(context_name::REQUEST_LEASE, w.into_vec())
    }

    /// Reads a lease context's data: 32 bytes (v1) or 52 (v2).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let lease_key = r.array("lease LeaseKey")?;
        let lease_state = r.u32("lease LeaseState")?;
        let flags = r.u32("lease Flags")?;
        r.u64("lease LeaseDuration")?;
        let v2 = if r.remaining() == 0 {
            None
        } else {
            let parent = r.array("lease ParentLeaseKey")?;
            let epoch = r.u16("lease Epoch")?;
            r.u16("lease Reserved")?;
            Some((parent, epoch))
        };
        r.expect_end("SMB2 lease context")?;
        Ok(RequestLease {
            lease_key,
            lease_state,
            flags,
            v2,
        })
    }
}

/// Which durable handle context an open was made durable with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurableVersion {
    /// "DHnQ"/"DHnC" (SMB 2.x).
    V1,
    /// "DH2Q"/"DH2C" with the CreateGuid the open was asked with (SMB 3.x).
    V2 {
        /// The CreateGuid of the CREATE.
        create_guid: [u8; 16],
    },
}

/// How one open asks for durability, and how it is taken back after the
/// connection is lost (MS-SMB2 §3.2.4.3.5 and §3.2.4.4: a client asks
/// for a durable handle with a batch oplock or a handle-caching lease, and
/// reconnects with the same lease key or oplock level, the FileId and, for
/// v2, the CreateGuid).
///
/// ```
/// use smbkit_proto::smb2::durable::DurableOpen;
/// use smbkit_proto::smb2::negotiate::capabilities;
/// use smbkit_proto::Dialect;
///
/// let d = DurableOpen::new(Dialect::SMB3_1_1, capabilities::LEASING, true, [1; 16], [2; 16]);
/// let (oplock, contexts) = d.request();
/// assert_eq!(oplock, smbkit_proto::smb2::create::oplock_level::LEASE);
/// assert_eq!(contexts.len(), 2); // RqLs v2 + DH2Q
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableOpen {
    /// The durable handle context used.
    pub version: DurableVersion,
    /// The lease asked for (read and handle caching, and write caching
    /// for an open that writes), or `None` for a batch oplock.
    pub lease: Option<RequestLease>,
}

impl DurableOpen {
    /// What to ask for on `dialect` with a server of `capabilities`: v2 on
    /// SMB 3.x, v1 before; a lease where the server leases (v2 form on
    /// 3.x), a batch oplock otherwise. `writes`: the open writes, so the
    /// lease asks for write caching too. `create_guid` and `lease_key`
    /// should be random.
    pub fn new(
        dialect: crate::Dialect,
        capabilities: u32,
        writes: bool,
        create_guid: [u8; 16],
        lease_key: [u8; 16],
    ) -> Self {
        let v3 = dialect.is_smb3();
        let leasing = dialect.0 >= u16::from(crate::Dialect::SMB2_1)
            && dialect != crate::Dialect::SMB2_WILDCARD
            && capabilities & super::negotiate::capabilities::LEASING != 0;
        let lease = leasing.then(|| RequestLease {
            lease_key,
            lease_state: lease_state::READ_CACHING
                | lease_state::HANDLE_CACHING
                | if writes {
                    lease_state::WRITE_CACHING
                } else {
                    0
                },
            flags: 0,
            v2: v3.then_some(([0; 16], 0)),
        });
        DurableOpen {
            version: if v3 {
                DurableVersion::V2 { create_guid }
            } else {
                DurableVersion::V1
            },
            lease,
        }
    }

    fn oplock(&self) -> u8 {
        if self.lease.is_some() {
            super::create::oplock_level::LEASE
        } else {
            super::create::oplock_level::BATCH
        }
    }

    /// The RequestedOplockLevel and create contexts of the CREATE that
    /// asks for durability.
    pub fn request(&self) -> (u8, Vec<CreateContext>) {
        let mut contexts: Vec<CreateContext> = self.lease.iter().map(|l| l.to_context()).collect();
        contexts.push(match self.version {
            DurableVersion::V1 => DurableRequestV1.to_context(),
            DurableVersion::V2 { create_guid } => DurableRequestV2 {
                timeout_ms: 0,
                flags: 0,
                create_guid,
            }
            .to_context(),
        });
        (self.oplock(), contexts)
    }

    /// The RequestedOplockLevel and create contexts of the CREATE that
    /// takes the open `file_id` back on a new connection (MS-SMB2
    /// §3.2.4.4: the same lease key and state, or the batch oplock).
    pub fn reconnect(&self, file_id: FileId) -> (u8, Vec<CreateContext>) {
        let mut contexts: Vec<CreateContext> = self.lease.iter().map(|l| l.to_context()).collect();
        contexts.push(match self.version {
            DurableVersion::V1 => DurableReconnectV1 { file_id }.to_context(),
            DurableVersion::V2 { create_guid } => DurableReconnectV2 {
                file_id,
                create_guid,
                flags: 0,
            }
            .to_context(),
        });
        (self.oplock(), contexts)
    }

    /// Whether the CREATE response's `contexts` grant durability: the
    /// server answers with a "DH2Q" (v2) or "DHnQ" (v1) context of its own
    /// (MS-SMB2 §3.3.5.9.6, §3.3.5.9.10). A malformed one is an error.
    pub fn granted(&self, contexts: &[CreateContext]) -> Result<bool, DecodeError> {
        for c in contexts {
            match self.version {
                DurableVersion::V2 { .. } if c.name == context_name::DURABLE_HANDLE_REQUEST_V2 => {
                    DurableResponseV2::decode(&c.data)?;
                    return Ok(true);
                }
                DurableVersion::V1 if c.name == context_name::DURABLE_HANDLE_REQUEST => {
                    DurableRequestV1::check_response(&c.data)?;
                    return Ok(true);
                }
                _ => {}
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FID: FileId = FileId {
        persistent: 0x1122_3344_5566_7788,
        volatile: 0x99aa_bbcc_ddee_ff00,
    };

    /// Every prefix of a well-formed structure is refused, and so is one
    /// byte more.
    fn truncations_and_extensions_fail<T: std::fmt::Debug>(
        data: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
    ) {
        for n in 0..data.len() {
            assert!(decode(&data[..n]).is_err(), "{n} of {} bytes", data.len());
        }
        let mut longer = data.to_vec();
        longer.push(0);
        assert!(decode(&longer).is_err(), "a trailing byte");
    }

    #[test]
    fn durable_request_v2_layout() {
        let req = DurableRequestV2 {
            timeout_ms: 60_000,
            flags: 0,
            create_guid: [0xAB; 16],
        };
        let c = req.to_context();
        assert_eq!(c.name, b"DH2Q");
        assert_eq!(c.data.len(), DurableRequestV2::LEN);
        assert_eq!(&c.data[..4], &60_000u32.to_le_bytes());
        assert_eq!(&c.data[4..16], &[0u8; 12], "Flags 0, Reserved 0");
        assert_eq!(&c.data[16..], &[0xAB; 16]);
        assert_eq!(DurableRequestV2::decode(&c.data).unwrap(), req);
        truncations_and_extensions_fail(&c.data, DurableRequestV2::decode);
    }

    #[test]
    fn durable_response_v2_layout() {
        let data = [0x10, 0x27, 0, 0, 2, 0, 0, 0];
        let r = DurableResponseV2::decode(&data).unwrap();
        assert_eq!(
            r,
            DurableResponseV2 {
                timeout_ms: 10_000,
                flags: dhandle_flags::PERSISTENT
            }
        );
        assert_eq!(r.to_context().data, data);
        truncations_and_extensions_fail(&data, DurableResponseV2::decode);
    }

    #[test]
    fn durable_reconnect_v2_layout() {
        let req = DurableReconnectV2 {
            file_id: FID,
            create_guid: [7; 16],
            flags: 0,
        };
        let c = req.to_context();
        assert_eq!(c.name, b"DH2C");
        assert_eq!(c.data.len(), DurableReconnectV2::LEN);
        assert_eq!(&c.data[..8], &FID.persistent.to_le_bytes());
        assert_eq!(&c.data[8..16], &FID.volatile.to_le_bytes());
        assert_eq!(&c.data[16..32], &[7; 16]);
        assert_eq!(DurableReconnectV2::decode(&c.data).unwrap(), req);
        truncations_and_extensions_fail(&c.data, DurableReconnectV2::decode);
    }

    #[test]
    fn durable_v1_layouts() {
        let c = DurableRequestV1.to_context();
        assert_eq!(
            (c.name.as_slice(), c.data.as_slice()),
            (&b"DHnQ"[..], &[0u8; 16][..])
        );
        DurableRequestV1::check_response(&[0; 8]).unwrap();
        truncations_and_extensions_fail(&[0; 8], DurableRequestV1::check_response);
        let r = DurableReconnectV1 { file_id: FID };
        let c = r.to_context();
        assert_eq!(c.name, b"DHnC");
        assert_eq!(DurableReconnectV1::decode(&c.data).unwrap(), r);
        truncations_and_extensions_fail(&c.data, DurableReconnectV1::decode);
    }

    #[test]
    fn lease_layouts_v1_and_v2() {
        let v1 = RequestLease {
            lease_key: [1; 16],
            lease_state: lease_state::READ_CACHING | lease_state::HANDLE_CACHING,
            flags: 0,
            v2: None,
        };
        let c = v1.to_context();
        assert_eq!(c.name, b"RqLs");
        assert_eq!(c.data.len(), RequestLease::V1_LEN);
        assert_eq!(&c.data[16..20], &3u32.to_le_bytes());
        assert_eq!(RequestLease::decode(&c.data).unwrap(), v1);
        let v2 = RequestLease {
            v2: Some(([2; 16], 5)),
            flags: lease_flags::PARENT_LEASE_KEY_SET,
            ..v1
        };
        let c = v2.to_context();
        assert_eq!(c.data.len(), RequestLease::V2_LEN);
        assert_eq!(&c.data[32..48], &[2; 16]);
        assert_eq!(&c.data[48..52], &[5, 0, 0, 0]);
        assert_eq!(RequestLease::decode(&c.data).unwrap(), v2);
        // Neither 33..51 bytes nor 53 are a lease.
        for n in (0..32).chain(33..52) {
            assert!(RequestLease::decode(&c.data[..n]).is_err(), "{n} bytes");
        }
        let mut longer = c.data.clone();
        longer.push(0);
        assert!(RequestLease::decode(&longer).is_err());
    }

    #[test]
    fn durable_open_per_dialect() {
        use crate::smb2::create::oplock_level;
        use crate::smb2::negotiate::capabilities::LEASING;
        use crate::Dialect;
        // 3.x with leasing: lease v2 (RWH for a writer) + DH2Q; DH2C back.
        let d = DurableOpen::new(Dialect::SMB3_0_2, LEASING, true, [1; 16], [2; 16]);
        let (op, cs) = d.request();
        assert_eq!(op, oplock_level::LEASE);
        assert_eq!(cs[0].name, b"RqLs");
        assert_eq!(cs[0].data.len(), RequestLease::V2_LEN);
        let lease = RequestLease::decode(&cs[0].data).unwrap();
        assert_eq!(lease.lease_key, [2; 16]);
        assert_eq!(lease.lease_state, 7);
        assert_eq!(cs[1].name, b"DH2Q");
        assert_eq!(
            DurableRequestV2::decode(&cs[1].data).unwrap().create_guid,
            [1; 16]
        );
        let fid = FileId {
            persistent: 5,
            volatile: 6,
        };
        let (op, cs) = d.reconnect(fid);
        assert_eq!(op, oplock_level::LEASE);
        assert_eq!(cs[1].name, b"DH2C");
        let r = DurableReconnectV2::decode(&cs[1].data).unwrap();
        assert_eq!((r.file_id, r.create_guid), (fid, [1; 16]));
        // 2.1 with leasing: lease v1 (RH for a reader) + DHnQ; DHnC back.
        let d = DurableOpen::new(Dialect::SMB2_1, LEASING, false, [1; 16], [2; 16]);
        let (_, cs) = d.request();
        assert_eq!(cs[0].data.len(), RequestLease::V1_LEN);
        assert_eq!(RequestLease::decode(&cs[0].data).unwrap().lease_state, 3);
        assert_eq!(cs[1].name, b"DHnQ");
        let (_, cs) = d.reconnect(fid);
        assert_eq!(
            DurableReconnectV1::decode(&cs[1].data).unwrap().file_id,
            fid
        );
        // 2.0.2, or no leasing: a batch oplock + DHnQ.
        for (dialect, caps) in [(Dialect::SMB2_0_2, LEASING), (Dialect::SMB2_1, 0)] {
            let d = DurableOpen::new(dialect, caps, true, [1; 16], [2; 16]);
            let (op, cs) = d.request();
            assert_eq!(op, oplock_level::BATCH);
            assert_eq!(cs.len(), 1);
            assert_eq!(cs[0].name, b"DHnQ");
        }
        // Granted: the server's DH2Q / DHnQ answer; malformed ones are errors.
        let v2 = DurableOpen::new(Dialect::SMB3_1_1, LEASING, false, [1; 16], [2; 16]);
        let ok = DurableResponseV2 {
            timeout_ms: 60_000,
            flags: 0,
        }
        .to_context();
        assert!(v2.granted(std::slice::from_ref(&ok)).unwrap());
        assert!(!v2.granted(&[]).unwrap());
        let bad = CreateContext::new(b"DH2Q", vec![0; 3]);
        assert!(v2.granted(&[bad]).is_err());
        let v1 = DurableOpen::new(Dialect::SMB2_1, 0, false, [1; 16], [2; 16]);
        assert!(!v1.granted(&[ok]).unwrap());
        assert!(v1
            .granted(&[CreateContext::new(b"DHnQ", vec![0; 8])])
            .unwrap());
    }
}
