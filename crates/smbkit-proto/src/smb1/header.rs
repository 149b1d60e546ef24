//! The SMB1 header (MS-CIFS §2.2.3.1, extended by MS-SMB §2.2.3.1).

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::NtStatus;

/// Size of the SMB1 header: "The SMB_Header structure is a fixed 32-bytes in
/// length" (MS-CIFS §2.2.3.1).
pub const HEADER_LEN: usize = 32;

/// Protocol field: it "MUST contain the 4-byte literal string '\xFF', 'S',
/// 'M', 'B'" (MS-CIFS §2.2.3.1).
pub const PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];

/// Flags bits (MS-CIFS §2.2.3.1, "Flags").
pub mod flags {
    /// SMB_FLAGS_LOCK_AND_READ_OK (obsolete).
    pub const LOCK_AND_READ_OK: u8 = 0x01;
    /// SMB_FLAGS_BUF_AVAIL (obsolete).
    pub const BUF_AVAIL: u8 = 0x02;
    /// SMB_FLAGS_CASE_INSENSITIVE: pathnames are case-insensitive.
    pub const CASE_INSENSITIVE: u8 = 0x08;
    /// SMB_FLAGS_CANONICALIZED_PATHS: pathnames are canonicalized.
    pub const CANONICALIZED_PATHS: u8 = 0x10;
    /// SMB_FLAGS_OPLOCK (obsolete).
    pub const OPLOCK: u8 = 0x20;
    /// SMB_FLAGS_OPBATCH (obsolete).
    pub const OPBATCH: u8 = 0x40;
    /// SMB_FLAGS_REPLY: "When on, this message is being sent from the server
    /// in response to a client request."
    pub const REPLY: u8 = 0x80;
}

/// Flags2 bits (MS-CIFS §2.2.3.1 and MS-SMB §2.2.3.1, "Flags2").
pub mod flags2 {
    /// SMB_FLAGS2_LONG_NAMES: long file names are understood.
    pub const LONG_NAMES: u16 = 0x0001;
    /// SMB_FLAGS2_EAS: extended attributes are understood.
    pub const EAS: u16 = 0x0002;
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE: the message is signed / signing
    /// is supported.
    pub const SECURITY_SIGNATURE: u16 = 0x0004;
    /// SMB_FLAGS2_COMPRESSED (reserved).
    pub const COMPRESSED: u16 = 0x0008;
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE_REQUIRED: signing is required.
    pub const SECURITY_SIGNATURE_REQUIRED: u16 = 0x0010;
    /// SMB_FLAGS2_IS_LONG_NAME: path names in the message are long names.
    pub const IS_LONG_NAME: u16 = 0x0040;
    /// SMB_FLAGS2_REPARSE_PATH (MS-SMB): the path contains an @GMT token.
    pub const REPARSE_PATH: u16 = 0x0400;
    /// SMB_FLAGS2_EXTENDED_SECURITY (MS-SMB): extended (SPNEGO) security.
    pub const EXTENDED_SECURITY: u16 = 0x0800;
    /// SMB_FLAGS2_DFS: paths are resolved through DFS.
    pub const DFS: u16 = 0x1000;
    /// SMB_FLAGS2_PAGING_IO: read permission implies execute.
    pub const PAGING_IO: u16 = 0x2000;
    /// SMB_FLAGS2_NT_STATUS: Status carries a 32-bit NTSTATUS.
    pub const NT_STATUS: u16 = 0x4000;
    /// SMB_FLAGS2_UNICODE: strings are UTF-16LE.
    pub const UNICODE: u16 = 0x8000;
}

/// SMB1 command codes (MS-CIFS §2.2.2.1).
pub mod command {
    /// SMB_COM_CREATE_DIRECTORY.
    pub const CREATE_DIRECTORY: u8 = 0x00;
    /// SMB_COM_DELETE_DIRECTORY.
    pub const DELETE_DIRECTORY: u8 = 0x01;
    /// SMB_COM_CLOSE.
    pub const CLOSE: u8 = 0x04;
    /// SMB_COM_FLUSH.
    pub const FLUSH: u8 = 0x05;
    /// SMB_COM_DELETE.
    pub const DELETE: u8 = 0x06;
    /// SMB_COM_RENAME.
    pub const RENAME: u8 = 0x07;
    /// SMB_COM_LOCKING_ANDX.
    pub const LOCKING_ANDX: u8 = 0x24;
    /// SMB_COM_TRANSACTION.
    pub const TRANSACTION: u8 = 0x25;
    /// SMB_COM_ECHO.
    pub const ECHO: u8 = 0x2B;
    /// SMB_COM_OPEN_ANDX.
    pub const OPEN_ANDX: u8 = 0x2D;
    /// SMB_COM_READ_ANDX.
    pub const READ_ANDX: u8 = 0x2E;
    /// SMB_COM_WRITE_ANDX.
    pub const WRITE_ANDX: u8 = 0x2F;
    /// SMB_COM_TRANSACTION2.
    pub const TRANSACTION2: u8 = 0x32;
    /// SMB_COM_FIND_CLOSE2.
    pub const FIND_CLOSE2: u8 = 0x34;
    /// SMB_COM_TREE_DISCONNECT.
    pub const TREE_DISCONNECT: u8 = 0x71;
    /// SMB_COM_NEGOTIATE.
    pub const NEGOTIATE: u8 = 0x72;
    /// SMB_COM_SESSION_SETUP_ANDX.
    pub const SESSION_SETUP_ANDX: u8 = 0x73;
    /// SMB_COM_LOGOFF_ANDX.
    pub const LOGOFF_ANDX: u8 = 0x74;
    /// SMB_COM_TREE_CONNECT_ANDX.
    pub const TREE_CONNECT_ANDX: u8 = 0x75;
    /// SMB_COM_NT_TRANSACT.
    pub const NT_TRANSACT: u8 = 0xA0;
    /// SMB_COM_NT_CREATE_ANDX.
    pub const NT_CREATE_ANDX: u8 = 0xA2;
    /// SMB_COM_NT_CANCEL.
    pub const NT_CANCEL: u8 = 0xA4;
    /// SMB_COM_NT_RENAME.
    pub const NT_RENAME: u8 = 0xA5;
}

/// The SMB1 header (MS-CIFS §2.2.3.1): Protocol (4), Command (1), Status (4),
/// Flags (1), Flags2 (2), PIDHigh (2), SecurityFeatures (8), Reserved (2),
/// TID (2), PIDLow (2), UID (2), MID (2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Command (see [`command`]).
    pub command: u8,
    /// Status, read as a little-endian 32-bit value. With
    /// [`flags2::NT_STATUS`] it is an NTSTATUS; otherwise it is the DOS form
    /// (ErrorClass, Reserved, ErrorCode) kept raw in the same 32 bits.
    pub status: NtStatus,
    /// Flags (see [`flags`]).
    pub flags: u8,
    /// Flags2 (see [`flags2`]).
    pub flags2: u16,
    /// PIDHigh.
    pub pid_high: u16,
    /// SecurityFeatures: the 8-byte signature when signing is active.
    pub security_features: [u8; 8],
    /// TID.
    pub tid: u16,
    /// PIDLow.
    pub pid_low: u16,
    /// UID.
    pub uid: u16,
    /// MID.
    pub mid: u16,
}

impl Header {
    /// Decodes the 32-byte header at the start of `msg`, checking the
    /// Protocol field ("MUST contain ... '\xFF', 'S', 'M', 'B'"). Reserved
    /// is ignored.
    pub fn decode(msg: &[u8]) -> Result<Header, DecodeError> {
        let what = "SMB1 header";
        let mut r = Reader::new(msg);
        let protocol: [u8; 4] = r.array(what)?;
        if protocol != PROTOCOL_ID {
            return Err(DecodeError::invalid(
                "SMB1 header Protocol",
                format!("{protocol:02x?} is not FF 'SMB'"),
            ));
        }
        if msg.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                what,
                needed: HEADER_LEN,
                available: msg.len(),
            });
        }
        let command = r.u8(what)?;
        let status = NtStatus(r.u32(what)?);
        let flags = r.u8(what)?;
        let flags2 = r.u16(what)?;
        let pid_high = r.u16(what)?;
        let security_features = r.array(what)?;
        r.skip(2, what)?;
        let tid = r.u16(what)?;
        let pid_low = r.u16(what)?;
        let uid = r.u16(what)?;
        let mid = r.u16(what)?;
        Ok(Header {
            command,
            status,
            flags,
            flags2,
            pid_high,
            security_features,
            tid,
            pid_low,
            uid,
            mid,
        })
    }

    /// Appends the 32-byte header to `w` (Reserved written as 0).
    pub fn encode(&self, w: &mut Writer) {
        w.bytes(&PROTOCOL_ID)
            .u8(self.command)
            .u32(self.status.0)
            .u8(self.flags)
            .u16(self.flags2)
            .u16(self.pid_high)
            .bytes(&self.security_features)
            .u16(0)
            .u16(self.tid)
            .u16(self.pid_low)
            .u16(self.uid)
            .u16(self.mid);
    }

    /// True if SMB_FLAGS_REPLY is set.
    pub fn is_reply(&self) -> bool {
        self.flags & flags::REPLY != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            command: command::NEGOTIATE,
            status: NtStatus::SUCCESS,
            flags: flags::REPLY | flags::CASE_INSENSITIVE,
            flags2: flags2::UNICODE | flags2::NT_STATUS | flags2::EXTENDED_SECURITY,
            pid_high: 0x0102,
            security_features: [1, 2, 3, 4, 5, 6, 7, 8],
            tid: 0xFFFF,
            pid_low: 0xFEFF,
            uid: 0x0800,
            mid: 3,
        }
    }

    #[test]
    fn layout_and_round_trip() {
        let mut w = Writer::new();
        sample().encode(&mut w);
        let b = w.into_vec();
        let expected: &[u8] = &[
            0xFF, b'S', b'M', b'B', 0x72, 0, 0, 0, 0, 0x88, 0x00, 0xC8, 0x02, 0x01, 1, 2, 3, 4, 5,
            6, 7, 8, 0, 0, 0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x08, 0x03, 0x00,
        ];
        assert_eq!(b, expected);
        let h = Header::decode(&b).unwrap();
        assert_eq!(h, sample());
        assert!(h.is_reply());
    }

    #[test]
    fn hostile_headers_fail() {
        let mut w = Writer::new();
        sample().encode(&mut w);
        let b = w.into_vec();
        for len in 0..b.len() {
            assert!(Header::decode(&b[..len]).is_err());
        }
        let mut smb2 = b.clone();
        smb2[0] = 0xFE;
        assert!(Header::decode(&smb2).is_err());
        let mut dos = b;
        dos[5..9].copy_from_slice(&[0x01, 0x00, 0x02, 0x00]); // ERRDOS/ERRbadfile
        assert_eq!(Header::decode(&dos).unwrap().status, NtStatus(0x0002_0001));
    }
}
