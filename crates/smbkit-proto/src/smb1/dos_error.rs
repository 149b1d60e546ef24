//! DOS error classes and codes (MS-CIFS §2.2.2.4) mapped to NT status codes,
//! for servers that answer without SMB_FLAGS2_NT_STATUS.

use crate::types::NtStatus;

/// Error class ERRDOS.
pub const ERRDOS: u8 = 0x01;
/// Error class ERRSRV.
pub const ERRSRV: u8 = 0x02;
/// Error class ERRHRD.
pub const ERRHRD: u8 = 0x03;

/// Splits the header's Status field as a DOS error: ErrorClass (byte 0),
/// Reserved (byte 1), ErrorCode (bytes 2-3), per MS-CIFS §2.2.3.1.
pub fn split(status: u32) -> (u8, u16) {
    ((status & 0xFF) as u8, (status >> 16) as u16)
}

/// The NT status that corresponds to a DOS error (MS-CIFS §2.2.2.4 lists
/// the pairs); unknown pairs become STATUS_UNSUCCESSFUL, and "no error"
/// (class 0) STATUS_SUCCESS.
pub fn to_nt_status(class: u8, code: u16) -> NtStatus {
    match (class, code) {
        (0, _) => NtStatus::SUCCESS,
        (ERRDOS, 1) => NtStatus::INVALID_DEVICE_REQUEST, // ERRbadfunc
        (ERRDOS, 2) => NtStatus::OBJECT_NAME_NOT_FOUND,  // ERRbadfile
        (ERRDOS, 3) => NtStatus::OBJECT_PATH_NOT_FOUND,  // ERRbadpath
        (ERRDOS, 4) => NtStatus::TOO_MANY_OPENED_FILES,  // ERRnofids
        (ERRDOS, 5) => NtStatus::ACCESS_DENIED,          // ERRnoaccess
        (ERRDOS, 6) => NtStatus::INVALID_HANDLE,         // ERRbadfid
        (ERRDOS, 8) => NtStatus::INSUFFICIENT_RESOURCES, // ERRnomem
        (ERRDOS, 16) => NtStatus::DIRECTORY_NOT_EMPTY,   // ERRremcd
        (ERRDOS, 17) => NtStatus::NOT_SAME_DEVICE,       // ERRdiffdevice
        (ERRDOS, 18) => NtStatus::NO_MORE_FILES,         // ERRnofiles
        (ERRDOS, 32) => NtStatus::SHARING_VIOLATION,     // ERRbadshare
        (ERRDOS, 33) => NtStatus::FILE_LOCK_CONFLICT,    // ERRlock
        (ERRDOS, 50) => NtStatus::NOT_SUPPORTED,         // ERRunsup
        (ERRDOS, 80) => NtStatus::OBJECT_NAME_COLLISION, // ERRfilexists
        (ERRDOS, 87) => NtStatus::INVALID_PARAMETER,     // ERRinvalidparam
        (ERRDOS, 123) => NtStatus::OBJECT_NAME_INVALID,  // ERRinvalidname
        (ERRDOS, 145) => NtStatus::DIRECTORY_NOT_EMPTY,  // ERRdirnotempty
        (ERRDOS, 183) => NtStatus::OBJECT_NAME_COLLISION, // ERRalreadyexists
        (ERRDOS, 234) => NtStatus::BUFFER_OVERFLOW,      // ERRmoredata
        (ERRSRV, 1) => NtStatus::UNSUCCESSFUL,           // ERRerror
        (ERRSRV, 2) => NtStatus::LOGON_FAILURE,          // ERRbadpw
        (ERRSRV, 4) => NtStatus::ACCESS_DENIED,          // ERRaccess
        (ERRSRV, 5) => NtStatus::NETWORK_NAME_DELETED,   // ERRinvtid
        (ERRSRV, 6) => NtStatus::BAD_NETWORK_NAME,       // ERRinvnetname
        (ERRSRV, 7) => NtStatus::BAD_DEVICE_TYPE,        // ERRinvdevice
        (ERRSRV, 91) => NtStatus::USER_SESSION_DELETED,  // ERRbaduid
        (ERRSRV, 2239) => NtStatus::ACCOUNT_EXPIRED,     // ERRaccountExpired
        (ERRHRD, 19) => NtStatus::MEDIA_WRITE_PROTECTED, // ERRnowrite
        (ERRHRD, 39) => NtStatus::DISK_FULL,             // ERRdiskfull
        _ => NtStatus::UNSUCCESSFUL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_dos_errors_map_to_nt_statuses() {
        // ERRDOS/ERRbadfile as it sits in the header's Status field.
        let (class, code) = split(0x0002_0001);
        assert_eq!((class, code), (ERRDOS, 2));
        assert_eq!(to_nt_status(class, code), NtStatus::OBJECT_NAME_NOT_FOUND);
        assert_eq!(to_nt_status(ERRSRV, 2), NtStatus::LOGON_FAILURE);
        assert_eq!(to_nt_status(ERRSRV, 6), NtStatus::BAD_NETWORK_NAME);
        assert_eq!(to_nt_status(ERRDOS, 5), NtStatus::ACCESS_DENIED);
        assert_eq!(to_nt_status(0, 0), NtStatus::SUCCESS);
        assert_eq!(to_nt_status(0x7F, 1), NtStatus::UNSUCCESSFUL);
    }
}
