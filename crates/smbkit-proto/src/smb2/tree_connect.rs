//! SMB2 TREE_CONNECT request and response (MS-SMB2 §2.2.9, §2.2.10).

use super::{body, buffer, structure_size, wire_u16, HEADER_LEN};
use crate::codec::{from_utf16le, utf16_len, DecodeError, EncodeError, Writer};
use crate::types::Command;

/// Flags of the TREE_CONNECT request (MS-SMB2 §2.2.9, "Flags/Reserved"): "In
/// the SMB 3.1.1 dialect, this field is interpreted as the Flags field"; in
/// other dialects it is Reserved and MUST be 0.
pub mod request_flags {
    /// SMB2_TREE_CONNECT_FLAG_CLUSTER_RECONNECT.
    pub const CLUSTER_RECONNECT: u16 = 0x0001;
    /// SMB2_TREE_CONNECT_FLAG_REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u16 = 0x0002;
    /// SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT: a tree connect request
    /// extension (§2.2.9.1) starts the Buffer. Not supported by this codec:
    /// [`super::TreeConnectRequest::decode`] rejects it.
    pub const EXTENSION_PRESENT: u16 = 0x0004;
}

/// ShareType of the TREE_CONNECT response (MS-SMB2 §2.2.10): "This field MUST
/// contain one of the following values".
pub mod share_type {
    /// SMB2_SHARE_TYPE_DISK: physical disk share.
    pub const DISK: u8 = 0x01;
    /// SMB2_SHARE_TYPE_PIPE: named pipe share.
    pub const PIPE: u8 = 0x02;
    /// SMB2_SHARE_TYPE_PRINT: printer share.
    pub const PRINT: u8 = 0x03;
}

/// ShareFlags of the TREE_CONNECT response (MS-SMB2 §2.2.10). "This field MUST
/// contain one of the following offline caching properties"
/// ([`share_flags::MANUAL_CACHING`], [`share_flags::AUTO_CACHING`],
/// [`share_flags::VDO_CACHING`], [`share_flags::NO_CACHING`], selected by
/// [`share_flags::CACHING_MASK`]) plus any of the other flags.
pub mod share_flags {
    /// SMB2_SHAREFLAG_MANUAL_CACHING (value of the caching field).
    pub const MANUAL_CACHING: u32 = 0x0000_0000;
    /// SMB2_SHAREFLAG_AUTO_CACHING (value of the caching field).
    pub const AUTO_CACHING: u32 = 0x0000_0010;
    /// SMB2_SHAREFLAG_VDO_CACHING (value of the caching field).
    pub const VDO_CACHING: u32 = 0x0000_0020;
    /// SMB2_SHAREFLAG_NO_CACHING (value of the caching field).
    pub const NO_CACHING: u32 = 0x0000_0030;
    /// The bits that hold the offline caching property.
    pub const CACHING_MASK: u32 = 0x0000_0030;
    /// SMB2_SHAREFLAG_DFS: the share is in a DFS tree.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_SHAREFLAG_DFS_ROOT: the share is a DFS root.
    pub const DFS_ROOT: u32 = 0x0000_0002;
    /// SMB2_SHAREFLAG_RESTRICT_EXCLUSIVE_OPENS.
    pub const RESTRICT_EXCLUSIVE_OPENS: u32 = 0x0000_0100;
    /// SMB2_SHAREFLAG_FORCE_SHARED_DELETE.
    pub const FORCE_SHARED_DELETE: u32 = 0x0000_0200;
    /// SMB2_SHAREFLAG_ALLOW_NAMESPACE_CACHING.
    pub const ALLOW_NAMESPACE_CACHING: u32 = 0x0000_0400;
    /// SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM.
    pub const ACCESS_BASED_DIRECTORY_ENUM: u32 = 0x0000_0800;
    /// SMB2_SHAREFLAG_FORCE_LEVELII_OPLOCK.
    pub const FORCE_LEVELII_OPLOCK: u32 = 0x0000_1000;
    /// SMB2_SHAREFLAG_ENABLE_HASH_V1.
    pub const ENABLE_HASH_V1: u32 = 0x0000_2000;
    /// SMB2_SHAREFLAG_ENABLE_HASH_V2.
    pub const ENABLE_HASH_V2: u32 = 0x0000_4000;
    /// SMB2_SHAREFLAG_ENCRYPT_DATA: the server requires encryption of remote
    /// file access messages on this share (SMB 3.x).
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
    /// SMB2_SHAREFLAG_IDENTITY_REMOTING (3.1.1).
    pub const IDENTITY_REMOTING: u32 = 0x0004_0000;
    /// SMB2_SHAREFLAG_COMPRESS_DATA (3.1.1).
    pub const COMPRESS_DATA: u32 = 0x0010_0000;
    /// SMB2_SHAREFLAG_ISOLATED_TRANSPORT.
    pub const ISOLATED_TRANSPORT: u32 = 0x0020_0000;
}

/// Capabilities of the TREE_CONNECT response (MS-SMB2 §2.2.10).
pub mod share_capabilities {
    /// SMB2_SHARE_CAP_DFS.
    pub const DFS: u32 = 0x0000_0008;
    /// SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY.
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x0000_0010;
    /// SMB2_SHARE_CAP_SCALEOUT.
    pub const SCALEOUT: u32 = 0x0000_0020;
    /// SMB2_SHARE_CAP_CLUSTER.
    pub const CLUSTER: u32 = 0x0000_0040;
    /// SMB2_SHARE_CAP_ASYMMETRIC.
    pub const ASYMMETRIC: u32 = 0x0000_0080;
    /// SMB2_SHARE_CAP_REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u32 = 0x0000_0100;
}

/// Fixed part of the request body: StructureSize, Flags, PathOffset,
/// PathLength (StructureSize is 9 because it counts the first byte of Buffer).
const REQUEST_FIXED_LEN: usize = 8;

/// SMB2 TREE_CONNECT Request (MS-SMB2 §2.2.9).
///
/// Body: StructureSize (9, "The client MUST set this field to 9 ...
/// regardless of how long Buffer[] actually is"), Flags/Reserved (2),
/// PathOffset (2, "from the beginning of the SMB2 header"), PathLength (2),
/// Buffer: the path "in the format \\server\share" as UTF-16LE, without a
/// terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// Flags (see [`request_flags`]); must be 0 before SMB 3.1.1. This codec
    /// does not build the §2.2.9.1 extension, so do not set
    /// [`request_flags::EXTENSION_PRESENT`].
    pub flags: u16,
    /// The share path, e.g. `\\server\share`.
    pub path: String,
}

impl TreeConnectRequest {
    /// Appends the request body to `w`, which holds exactly the SMB2 header
    /// at position 0. The path follows the fixed part, at offset 72.
    ///
    /// # Errors
    ///
    /// If the path is longer than 65535 bytes of UTF-16.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let len = wire_u16(utf16_len(&self.path), "SMB2 TREE_CONNECT PathLength")?;
        let offset = wire_u16(w.len() + REQUEST_FIXED_LEN, "SMB2 TREE_CONNECT PathOffset")?;
        w.u16(9)
            .u16(self.flags)
            .u16(offset)
            .u16(len)
            .utf16(&self.path);
        Ok(())
    }

    /// Decodes a TREE_CONNECT request. StructureSize must be 9, the path
    /// must lie after the fixed part and inside the message and be valid
    /// UTF-16LE. Requests with the §2.2.9.1 extension are rejected.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 TREE_CONNECT request";
        let (_, mut r) = body(msg, Command::TREE_CONNECT, what)?;
        structure_size(&mut r, 9, what)?;
        let flags = r.u16(what)?;
        if flags & request_flags::EXTENSION_PRESENT != 0 {
            return Err(DecodeError::invalid(
                what,
                "SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT is not supported",
            ));
        }
        let offset = r.u16(what)?;
        let length = r.u16(what)?;
        let path = buffer(
            msg,
            usize::from(offset),
            usize::from(length),
            HEADER_LEN + REQUEST_FIXED_LEN,
            "SMB2 TREE_CONNECT path",
        )?;
        let path = from_utf16le(path, "SMB2 TREE_CONNECT path")?;
        Ok(TreeConnectRequest { flags, path })
    }
}

/// SMB2 TREE_CONNECT Response (MS-SMB2 §2.2.10).
///
/// Body (16 bytes): StructureSize ("The server MUST set this field to 16"),
/// ShareType (1), Reserved (1, "the client MUST ignore it on receipt"),
/// ShareFlags (4), Capabilities (4), MaximalAccess (4). The TreeId is in the
/// SMB2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// ShareType (see [`share_type`]).
    pub share_type: u8,
    /// ShareFlags (see [`share_flags`]).
    pub share_flags: u32,
    /// Capabilities (see [`share_capabilities`]).
    pub capabilities: u32,
    /// MaximalAccess: the access mask the user has on the share.
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    /// Appends the 16-byte response body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(16)
            .u8(self.share_type)
            .u8(0)
            .u32(self.share_flags)
            .u32(self.capabilities)
            .u32(self.maximal_access);
    }

    /// Decodes a TREE_CONNECT response; StructureSize must be 16. ShareType is
    /// returned as sent (values other than [`share_type`]'s are the caller's
    /// to reject).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 TREE_CONNECT response";
        let (_, mut r) = body(msg, Command::TREE_CONNECT, what)?;
        structure_size(&mut r, 16, what)?;
        let share_type = r.u8(what)?;
        r.skip(1, what)?;
        let share_flags = r.u32(what)?;
        let capabilities = r.u32(what)?;
        let maximal_access = r.u32(what)?;
        Ok(TreeConnectResponse {
            share_type,
            share_flags,
            capabilities,
            maximal_access,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    #[test]
    fn request_matches_hand_computed_bytes() {
        let req = TreeConnectRequest {
            flags: 0,
            path: r"\\srv\IPC$".into(),
        };
        let mut w = request_writer(Command::TREE_CONNECT);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        let expected: &[u8] = &[
            0x09, 0x00, // StructureSize 9
            0x00, 0x00, // Flags
            0x48, 0x00, // PathOffset 72
            0x14, 0x00, // PathLength 20
            b'\\', 0, b'\\', 0, b's', 0, b'r', 0, b'v', 0, b'\\', 0, b'I', 0, b'P', 0, b'C', 0,
            b'$', 0,
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(TreeConnectRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, TreeConnectRequest::decode);
        mutate_never_panics(&msg, TreeConnectRequest::decode);
    }

    #[test]
    fn request_round_trips_non_ascii() {
        let req = TreeConnectRequest {
            flags: request_flags::REDIRECT_TO_OWNER,
            path: r"\\serveur\données 😀".into(),
        };
        let mut w = request_writer(Command::TREE_CONNECT);
        req.encode(&mut w).unwrap();
        assert_eq!(TreeConnectRequest::decode(w.as_slice()).unwrap(), req);
    }

    #[test]
    fn hostile_requests_fail() {
        let req = TreeConnectRequest {
            flags: 0,
            path: r"\\a\b".into(),
        };
        let mut w = request_writer(Command::TREE_CONNECT);
        req.encode(&mut w).unwrap();
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            TreeConnectRequest::decode(&m)
        };
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err()); // offset/length huge
        assert!(with(70, &[0x0B, 0x00]).is_err()); // odd length, one past the end
        assert!(with(70, &[0x09, 0x00]).is_err()); // odd length (invalid UTF-16)
        assert!(with(68, &[0x10, 0x00]).is_err()); // inside the header
        assert!(with(66, &[0x04, 0x00]).is_err()); // extension present
        assert!(with(72, &[0x00, 0xD8]).is_err()); // unpaired surrogate
    }

    fn disk_response() -> Vec<u8> {
        let mut w = response_writer(Command::TREE_CONNECT, NtStatus::SUCCESS);
        w.bytes(&[
            0x10, 0x00, 0x01, 0x00, // StructureSize 16, DISK, Reserved
            0x00, 0x88, 0x00, 0x00, // ShareFlags: ENCRYPT_DATA | ACCESS_BASED_DIRECTORY_ENUM
            0x10, 0x00, 0x00, 0x00, // Capabilities: CONTINUOUS_AVAILABILITY
            0xFF, 0x01, 0x1F, 0x00, // MaximalAccess 0x001F01FF
        ]);
        w.into_vec()
    }

    #[test]
    fn response_decodes_and_round_trips() {
        let msg = disk_response();
        let r = TreeConnectResponse::decode(&msg).unwrap();
        assert_eq!(
            r,
            TreeConnectResponse {
                share_type: share_type::DISK,
                share_flags: share_flags::ENCRYPT_DATA | share_flags::ACCESS_BASED_DIRECTORY_ENUM,
                capabilities: share_capabilities::CONTINUOUS_AVAILABILITY,
                maximal_access: 0x001F_01FF,
            }
        );
        let mut w = response_writer(Command::TREE_CONNECT, NtStatus::SUCCESS);
        r.encode(&mut w);
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, TreeConnectResponse::decode);
        mutate_never_panics(&msg, TreeConnectResponse::decode);
        let mut bad = msg;
        bad[64] = 9;
        assert!(TreeConnectResponse::decode(&bad).is_err());
    }

    #[test]
    fn path_length_limit() {
        use crate::codec::testutil::{assert_too_large, name};
        let req = |units: usize| TreeConnectRequest {
            flags: 0,
            path: name(units),
        };
        let mut w = request_writer(Command::TREE_CONNECT);
        req(32767).encode(&mut w).unwrap();
        assert_eq!(
            TreeConnectRequest::decode(w.as_slice()).unwrap(),
            req(32767)
        );
        let mut w = request_writer(Command::TREE_CONNECT);
        assert_too_large(
            req(32768).encode(&mut w),
            "SMB2 TREE_CONNECT PathLength",
            65536,
            65535,
        );
    }
}
