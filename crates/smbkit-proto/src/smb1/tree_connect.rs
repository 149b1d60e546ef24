//! SMB_COM_TREE_CONNECT_ANDX (0x75; MS-CIFS §2.2.4.55, MS-SMB §2.2.4.7).

use super::andx::{
    begin_bytes, bytes_reader, end_bytes, expect_word_count, first_block, put_andx_none,
    put_oem_string, put_string, read_oem_string, read_string, read_string_lossy, wire_u16,
    words_reader,
};
use super::header::{command, flags2};
use crate::codec::{DecodeError, EncodeError, Writer};

/// Flags of the request (MS-CIFS §2.2.4.55.1, MS-SMB §2.2.4.7.1).
pub mod tree_connect_flags {
    /// TREE_CONNECT_ANDX_DISCONNECT_TID: "the server MUST attempt to
    /// disconnect the tree that is identified in the SMB Header".
    pub const DISCONNECT_TID: u16 = 0x0001;
    /// TREE_CONNECT_ANDX_EXTENDED_SIGNATURES (MS-SMB): ask for extended
    /// signatures (session key hashing).
    pub const EXTENDED_SIGNATURES: u16 = 0x0004;
    /// TREE_CONNECT_ANDX_EXTENDED_RESPONSE (MS-SMB): ask for the WordCount 7
    /// response with the maximal access rights.
    pub const EXTENDED_RESPONSE: u16 = 0x0008;
}

/// OptionalSupport bits of the response (MS-CIFS §2.2.4.55.2,
/// MS-SMB §2.2.4.7.2).
pub mod optional_support {
    /// SMB_SUPPORT_SEARCH_BITS: the server supports search attribute bits.
    pub const SUPPORT_SEARCH_BITS: u16 = 0x0001;
    /// SMB_SHARE_IS_IN_DFS: the share is managed by DFS.
    pub const SHARE_IS_IN_DFS: u16 = 0x0002;
    /// SMB_CSC_MASK (MS-SMB): the offline caching policy bits.
    pub const CSC_MASK: u16 = 0x000C;
    /// SMB_UNIQUE_FILE_NAME (MS-SMB): long file names are unique.
    pub const UNIQUE_FILE_NAME: u16 = 0x0010;
    /// SMB_EXTENDED_SIGNATURES (MS-SMB): extended signatures are active.
    pub const EXTENDED_SIGNATURES: u16 = 0x0020;
}

/// Service strings (MS-CIFS §2.2.4.55.1): "A:" disk share, "LPT1:" printer,
/// "IPC" named pipe, "COMM" serial device, "?????" any type.
pub mod service {
    /// A disk share.
    pub const DISK: &str = "A:";
    /// A printer share.
    pub const PRINTER: &str = "LPT1:";
    /// The IPC$ share (named pipes).
    pub const IPC: &str = "IPC";
    /// A serial communications device.
    pub const COMM: &str = "COMM";
    /// Any type of device or resource: what a client asks for.
    pub const ANY: &str = "?????";
}

/// SMB_COM_TREE_CONNECT_ANDX request (MS-CIFS §2.2.4.55.1, WordCount 4).
///
/// Words: AndX (4), Flags (2), PasswordLength (2). Bytes: Password, Pad,
/// Path (SMB_STRING), Service (OEM_STRING: always ASCII, even when the
/// message is Unicode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// Flags (see [`tree_connect_flags`]).
    pub flags: u16,
    /// Password: the share-level password; with user-level security a
    /// single zero byte (`vec![0]`).
    pub password: Vec<u8>,
    /// Path: `\\SERVER\SHARE`.
    pub path: String,
    /// Service (see [`service`]); a client sends "?????".
    pub service: String,
}

impl TreeConnectRequest {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0 (whose Flags2 must have UNICODE). Path is
    /// Unicode, aligned to 2 bytes from the header start (with the usual
    /// one-byte password it needs no pad); Service is ASCII with a NUL. The
    /// chain ends here.
    ///
    /// # Errors
    ///
    /// If the password or the data block exceeds 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let password_len = wire_u16(self.password.len(), "TREE_CONNECT_ANDX PasswordLength")?;
        w.u8(4);
        put_andx_none(w);
        w.u16(self.flags).u16(password_len);
        let bc = begin_bytes(w);
        w.bytes(&self.password);
        put_string(w, &self.path, true);
        put_oem_string(w, &self.service);
        end_bytes(w, bc, "TREE_CONNECT_ANDX request ByteCount")
    }

    /// Decodes the request (WordCount "MUST be 0x04"). The password must fit
    /// in ByteCount and Path must be valid in the header's character set;
    /// Service is read as ASCII/Latin-1.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TREE_CONNECT_ANDX request";
        let (header, block) = first_block(msg, command::TREE_CONNECT_ANDX, what)?;
        expect_word_count(&block, &[4], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let flags = r.u16(what)?;
        let password_len = usize::from(r.u16(what)?);
        let mut b = bytes_reader(msg, &block, what)?;
        let password = b.take(password_len, "TREE_CONNECT_ANDX Password")?.to_vec();
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let path = read_string(&mut b, unicode, "TREE_CONNECT_ANDX Path")?;
        let service = read_oem_string(&mut b);
        Ok(TreeConnectRequest {
            flags,
            password,
            path,
            service,
        })
    }
}

/// SMB_COM_TREE_CONNECT_ANDX response: WordCount 3 (MS-CIFS §2.2.4.55.2) or,
/// when the client asked for TREE_CONNECT_ANDX_EXTENDED_RESPONSE, WordCount
/// 7 (MS-SMB §2.2.4.7.2).
///
/// Words: AndX (4), OptionalSupport (2), then for WordCount 7
/// MaximalShareAccessRights (4) and GuestMaximalShareAccessRights (4).
/// Bytes: Service (OEM_STRING), Pad, NativeFileSystem (SMB_STRING). The TID
/// is in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// OptionalSupport (see [`optional_support`]).
    pub optional_support: u16,
    /// MaximalShareAccessRights (WordCount 7 only).
    pub maximal_access: Option<u32>,
    /// GuestMaximalShareAccessRights (WordCount 7 only).
    pub guest_maximal_access: Option<u32>,
    /// Service: the share type (see [`service`]).
    pub service: String,
    /// NativeFileSystem, e.g. "NTFS"; often empty for IPC$ (display only).
    pub native_file_system: String,
}

impl TreeConnectResponse {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0; `unicode` must match that header's
    /// [`flags2::UNICODE`]. WordCount is 7 if either access mask is present
    /// (a missing one is written as 0), else 3.
    ///
    /// # Errors
    ///
    /// If the strings exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer, unicode: bool) -> Result<(), EncodeError> {
        let extended = self.maximal_access.is_some() || self.guest_maximal_access.is_some();
        w.u8(if extended { 7 } else { 3 });
        put_andx_none(w);
        w.u16(self.optional_support);
        if extended {
            w.u32(self.maximal_access.unwrap_or(0))
                .u32(self.guest_maximal_access.unwrap_or(0));
        }
        let bc = begin_bytes(w);
        put_oem_string(w, &self.service);
        put_string(w, &self.native_file_system, unicode);
        end_bytes(w, bc, "TREE_CONNECT_ANDX response ByteCount")
    }

    /// Decodes the response (WordCount 3 or 7). Service is read as
    /// ASCII/Latin-1 up to its NUL; NativeFileSystem follows the header's
    /// UNICODE flag, is decoded lossily and may be absent.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TREE_CONNECT_ANDX response";
        let (header, block) = first_block(msg, command::TREE_CONNECT_ANDX, what)?;
        let wc = expect_word_count(&block, &[3, 7], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let optional_support = r.u16(what)?;
        let (maximal_access, guest_maximal_access) = if wc == 7 {
            (Some(r.u32(what)?), Some(r.u32(what)?))
        } else {
            (None, None)
        };
        let mut b = bytes_reader(msg, &block, what)?;
        let service = read_oem_string(&mut b);
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let native_file_system = read_string_lossy(&mut b, unicode);
        Ok(TreeConnectResponse {
            optional_support,
            maximal_access,
            guest_maximal_access,
            service,
            native_file_system,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    #[test]
    fn request_bytes_and_round_trip() {
        let req = TreeConnectRequest {
            flags: tree_connect_flags::EXTENDED_RESPONSE,
            password: vec![0],
            path: r"\\SRV\IPC$".into(),
            service: service::ANY.into(),
        };
        let mut w = request_writer(command::TREE_CONNECT_ANDX);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        let mut expected = vec![
            0x04, // WordCount
            0xFF, 0x00, 0x00, 0x00, // AndX
            0x08, 0x00, // Flags: EXTENDED_RESPONSE
            0x01, 0x00, // PasswordLength
            0x1D, 0x00, // ByteCount 1 + 22 + 6
            0x00, // Password, ends at the even offset 44: no pad
        ];
        expected.extend(utf16le("\\\\SRV\\IPC$\0"));
        expected.extend_from_slice(b"?????\0");
        assert_eq!(&msg[32..], &expected[..]);
        assert_eq!(TreeConnectRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, TreeConnectRequest::decode);
        mutate_never_panics(&msg, TreeConnectRequest::decode);

        // A two-byte password puts Path at an odd offset: one pad byte.
        let req = TreeConnectRequest {
            password: vec![0xAB, 0xCD],
            ..req
        };
        let mut w = request_writer(command::TREE_CONNECT_ANDX);
        req.encode(&mut w).unwrap();
        assert_eq!(&w.as_slice()[43..47], &[0xAB, 0xCD, 0x00, b'\\']);
        assert_eq!(TreeConnectRequest::decode(w.as_slice()).unwrap(), req);
    }

    /// Samba's extended reply for a disk share: WordCount 7, "A:" then
    /// "NTFS" (Service ends at the even offset 52: no pad).
    fn samba_disk_response() -> Vec<u8> {
        let mut w = response_writer(command::TREE_CONNECT_ANDX, true);
        w.bytes(&[0x07, 0xFF, 0x00, 0x00, 0x00, 0x11, 0x00]);
        w.u32(0x001F_01FF).u32(0x0012_0089);
        let mut bytes = b"A:\0".to_vec();
        bytes.extend(utf16le("NTFS\0"));
        w.u16(u16::try_from(bytes.len()).unwrap()).bytes(&bytes);
        w.into_vec()
    }

    #[test]
    fn response_decodes_and_round_trips() {
        let msg = samba_disk_response();
        let r = TreeConnectResponse::decode(&msg).unwrap();
        assert_eq!(
            r,
            TreeConnectResponse {
                optional_support: optional_support::SUPPORT_SEARCH_BITS
                    | optional_support::UNIQUE_FILE_NAME,
                maximal_access: Some(0x001F_01FF),
                guest_maximal_access: Some(0x0012_0089),
                service: service::DISK.into(),
                native_file_system: "NTFS".into(),
            }
        );
        let mut w = response_writer(command::TREE_CONNECT_ANDX, true);
        r.encode(&mut w, true).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, TreeConnectResponse::decode);
        mutate_never_panics(&msg, TreeConnectResponse::decode);

        // IPC$, WordCount 3: "IPC" ends at the odd offset 45, so a pad byte
        // precedes the empty NativeFileSystem.
        let ipc = TreeConnectResponse {
            optional_support: 0,
            maximal_access: None,
            guest_maximal_access: None,
            service: service::IPC.into(),
            native_file_system: String::new(),
        };
        let mut w = response_writer(command::TREE_CONNECT_ANDX, true);
        ipc.encode(&mut w, true).unwrap();
        assert_eq!(
            &w.as_slice()[32..],
            &[3, 0xFF, 0, 0, 0, 0, 0, 7, 0, b'I', b'P', b'C', 0, 0, 0, 0]
        );
        assert_eq!(TreeConnectResponse::decode(w.as_slice()).unwrap(), ipc);
        assert_truncations_fail(w.as_slice(), TreeConnectResponse::decode);
        // The OEM form, and a reply with no bytes at all.
        let mut w = response_writer(command::TREE_CONNECT_ANDX, false);
        r.encode(&mut w, false).unwrap();
        assert_eq!(TreeConnectResponse::decode(w.as_slice()).unwrap(), r);
        let mut w = response_writer(command::TREE_CONNECT_ANDX, true);
        w.bytes(&[3, 0xFF, 0, 0, 0, 1, 0, 0, 0]);
        let bare = TreeConnectResponse::decode(w.as_slice()).unwrap();
        assert_eq!((bare.service.as_str(), bare.optional_support), ("", 1));
    }

    #[test]
    fn hostile_responses_fail() {
        let good = samba_disk_response();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            TreeConnectResponse::decode(&m)
        };
        for wc in [0u8, 2, 4, 6, 8, 0xFF] {
            assert!(with(32, &[wc]).is_err(), "WordCount {wc}");
        }
        assert!(with(47, &[0xFF, 0xFF]).is_err()); // ByteCount past the end
        assert!(with(4, &[command::SESSION_SETUP_ANDX]).is_err());
    }

    #[test]
    fn password_path_and_byte_count_limits() {
        use crate::codec::testutil::{assert_too_large, name};
        use crate::smb1::andx::testutil::{byte_count, largest_ok};
        let req = |password: usize, path: usize| {
            let r = TreeConnectRequest {
                flags: 0,
                password: vec![0; password],
                path: name(path),
                service: service::ANY.into(),
            };
            let mut w = request_writer(command::TREE_CONNECT_ANDX);
            r.encode(&mut w).map(|()| w.into_vec())
        };
        assert_too_large(
            req(65536, 1),
            "TREE_CONNECT_ANDX PasswordLength",
            65536,
            65535,
        );
        // Password, path and service share ByteCount: 1 + 2n + 2 + 6.
        assert_eq!(largest_ok(40_000, |n| req(1, n)), 32763);
        assert_eq!(byte_count(&req(1, 32763).unwrap()), 65535);
        assert_too_large(
            req(1, 32764),
            "TREE_CONNECT_ANDX request ByteCount",
            65537,
            65535,
        );
        let resp = |n: usize| {
            let r = TreeConnectResponse {
                optional_support: 1,
                maximal_access: None,
                guest_maximal_access: None,
                service: "A:".into(),
                native_file_system: name(n),
            };
            let mut w = response_writer(command::TREE_CONNECT_ANDX, true);
            r.encode(&mut w, true).map(|()| w.into_vec())
        };
        let n = largest_ok(40_000, resp);
        assert!(byte_count(&resp(n).unwrap()) >= 65534, "{n}");
        assert!(matches!(
            resp(n + 1),
            Err(EncodeError::TooLarge {
                what: "TREE_CONNECT_ANDX response ByteCount",
                ..
            })
        ));
    }
}
