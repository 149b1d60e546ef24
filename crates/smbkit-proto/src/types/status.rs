//! NTSTATUS values (MS-ERREF §2.3.1), as an open newtype.

crate::wire_enum! {
    /// A 32-bit NT status code (MS-ERREF §2.3). Unknown values are kept and print as hex.
    pub struct NtStatus(u32) {
        /// STATUS_SUCCESS (0X00000000).
        SUCCESS = 0x00000000,
        /// STATUS_PENDING (0X00000103).
        PENDING = 0x00000103,
        /// STATUS_NOTIFY_CLEANUP (0X0000010B).
        NOTIFY_CLEANUP = 0x0000010B,
        /// STATUS_NOTIFY_ENUM_DIR (0X0000010C).
        NOTIFY_ENUM_DIR = 0x0000010C,
        /// STATUS_BUFFER_OVERFLOW (0X80000005).
        BUFFER_OVERFLOW = 0x80000005,
        /// STATUS_NO_MORE_FILES (0X80000006).
        NO_MORE_FILES = 0x80000006,
        /// STATUS_STOPPED_ON_SYMLINK (0X8000002D).
        STOPPED_ON_SYMLINK = 0x8000002D,
        /// STATUS_UNSUCCESSFUL (0XC0000001).
        UNSUCCESSFUL = 0xC0000001,
        /// STATUS_NOT_IMPLEMENTED (0XC0000002).
        NOT_IMPLEMENTED = 0xC0000002,
        /// STATUS_INVALID_INFO_CLASS (0XC0000003).
        INVALID_INFO_CLASS = 0xC0000003,
        /// STATUS_INFO_LENGTH_MISMATCH (0XC0000004).
        INFO_LENGTH_MISMATCH = 0xC0000004,
        /// STATUS_INVALID_HANDLE (0XC0000008).
        INVALID_HANDLE = 0xC0000008,
        /// STATUS_INVALID_PARAMETER (0XC000000D).
        INVALID_PARAMETER = 0xC000000D,
        /// STATUS_NO_SUCH_DEVICE (0XC000000E).
        NO_SUCH_DEVICE = 0xC000000E,
        /// STATUS_NO_SUCH_FILE (0XC000000F).
        NO_SUCH_FILE = 0xC000000F,
        /// STATUS_INVALID_DEVICE_REQUEST (0XC0000010).
        INVALID_DEVICE_REQUEST = 0xC0000010,
        /// STATUS_END_OF_FILE (0XC0000011).
        END_OF_FILE = 0xC0000011,
        /// STATUS_MORE_PROCESSING_REQUIRED (0XC0000016).
        MORE_PROCESSING_REQUIRED = 0xC0000016,
        /// STATUS_NO_MEMORY (0XC0000017).
        NO_MEMORY = 0xC0000017,
        /// STATUS_ACCESS_DENIED (0XC0000022).
        ACCESS_DENIED = 0xC0000022,
        /// STATUS_BUFFER_TOO_SMALL (0XC0000023).
        BUFFER_TOO_SMALL = 0xC0000023,
        /// STATUS_OBJECT_TYPE_MISMATCH (0XC0000024).
        OBJECT_TYPE_MISMATCH = 0xC0000024,
        /// STATUS_OBJECT_NAME_INVALID (0XC0000033).
        OBJECT_NAME_INVALID = 0xC0000033,
        /// STATUS_OBJECT_NAME_NOT_FOUND (0XC0000034).
        OBJECT_NAME_NOT_FOUND = 0xC0000034,
        /// STATUS_OBJECT_NAME_COLLISION (0XC0000035).
        OBJECT_NAME_COLLISION = 0xC0000035,
        /// STATUS_OBJECT_PATH_INVALID (0XC0000039).
        OBJECT_PATH_INVALID = 0xC0000039,
        /// STATUS_OBJECT_PATH_NOT_FOUND (0XC000003A).
        OBJECT_PATH_NOT_FOUND = 0xC000003A,
        /// STATUS_OBJECT_PATH_SYNTAX_BAD (0XC000003B).
        OBJECT_PATH_SYNTAX_BAD = 0xC000003B,
        /// STATUS_SHARING_VIOLATION (0XC0000043).
        SHARING_VIOLATION = 0xC0000043,
        /// STATUS_DELETE_PENDING (0XC0000056).
        DELETE_PENDING = 0xC0000056,
        /// STATUS_PRIVILEGE_NOT_HELD (0XC0000061).
        PRIVILEGE_NOT_HELD = 0xC0000061,
        /// STATUS_WRONG_PASSWORD (0XC000006A).
        WRONG_PASSWORD = 0xC000006A,
        /// STATUS_LOGON_FAILURE (0XC000006D).
        LOGON_FAILURE = 0xC000006D,
        /// STATUS_NTLM_BLOCKED (0XC0000418): the server refuses NTLM.
        NTLM_BLOCKED = 0xC0000418,
        /// STATUS_ACCOUNT_RESTRICTION (0XC000006E).
        ACCOUNT_RESTRICTION = 0xC000006E,
        /// STATUS_INVALID_LOGON_HOURS (0XC000006F).
        INVALID_LOGON_HOURS = 0xC000006F,
        /// STATUS_INVALID_WORKSTATION (0XC0000070).
        INVALID_WORKSTATION = 0xC0000070,
        /// STATUS_PASSWORD_EXPIRED (0XC0000071).
        PASSWORD_EXPIRED = 0xC0000071,
        /// STATUS_ACCOUNT_DISABLED (0XC0000072).
        ACCOUNT_DISABLED = 0xC0000072,
        /// STATUS_NONE_MAPPED (0XC0000073).
        NONE_MAPPED = 0xC0000073,
        /// STATUS_INSUFFICIENT_RESOURCES (0XC000009A).
        INSUFFICIENT_RESOURCES = 0xC000009A,
        /// STATUS_FILE_IS_A_DIRECTORY (0XC00000BA).
        FILE_IS_A_DIRECTORY = 0xC00000BA,
        /// STATUS_NOT_SUPPORTED (0XC00000BB).
        NOT_SUPPORTED = 0xC00000BB,
        /// STATUS_NETWORK_NAME_DELETED (0XC00000C9).
        NETWORK_NAME_DELETED = 0xC00000C9,
        /// STATUS_NETWORK_ACCESS_DENIED (0XC00000CA).
        NETWORK_ACCESS_DENIED = 0xC00000CA,
        /// STATUS_BAD_DEVICE_TYPE (0XC00000CB).
        BAD_DEVICE_TYPE = 0xC00000CB,
        /// STATUS_BAD_NETWORK_NAME (0XC00000CC).
        BAD_NETWORK_NAME = 0xC00000CC,
        /// STATUS_REQUEST_NOT_ACCEPTED (0XC00000D0).
        REQUEST_NOT_ACCEPTED = 0xC00000D0,
        /// STATUS_INTERNAL_ERROR (0XC00000E5).
        INTERNAL_ERROR = 0xC00000E5,
        /// STATUS_DIRECTORY_NOT_EMPTY (0XC0000101).
        DIRECTORY_NOT_EMPTY = 0xC0000101,
        /// STATUS_NOT_A_DIRECTORY (0XC0000103).
        NOT_A_DIRECTORY = 0xC0000103,
        /// STATUS_CANCELLED (0XC0000120).
        CANCELLED = 0xC0000120,
        /// STATUS_FILE_CLOSED (0XC0000128).
        FILE_CLOSED = 0xC0000128,
        /// STATUS_NO_TRUST_SAM_ACCOUNT (0XC000018B).
        NO_TRUST_SAM_ACCOUNT = 0xC000018B,
        /// STATUS_TRUSTED_DOMAIN_FAILURE (0XC000018C).
        TRUSTED_DOMAIN_FAILURE = 0xC000018C,
        /// STATUS_TRUSTED_RELATIONSHIP_FAILURE (0XC000018D).
        TRUSTED_RELATIONSHIP_FAILURE = 0xC000018D,
        /// STATUS_INVALID_DEVICE_STATE (0XC0000184).
        INVALID_DEVICE_STATE = 0xC0000184,
        /// STATUS_NETWORK_SESSION_EXPIRED (0XC000035C).
        NETWORK_SESSION_EXPIRED = 0xC000035C,
        /// STATUS_PASSWORD_MUST_CHANGE (0XC0000224).
        PASSWORD_MUST_CHANGE = 0xC0000224,
        /// STATUS_ACCOUNT_EXPIRED (0XC0000193).
        ACCOUNT_EXPIRED = 0xC0000193,
        /// STATUS_ACCOUNT_LOCKED_OUT (0XC0000234).
        ACCOUNT_LOCKED_OUT = 0xC0000234,
        /// STATUS_USER_SESSION_DELETED (0XC0000203).
        USER_SESSION_DELETED = 0xC0000203,
        /// STATUS_NOT_FOUND (0XC0000225).
        NOT_FOUND = 0xC0000225,
        /// STATUS_DOWNGRADE_DETECTED (0XC0000388).
        DOWNGRADE_DETECTED = 0xC0000388,
        /// STATUS_AUTHENTICATION_FIREWALL_FAILED (0XC0000413).
        AUTHENTICATION_FIREWALL_FAILED = 0xC0000413,
        /// STATUS_LOGON_TYPE_NOT_GRANTED (0XC000015B).
        LOGON_TYPE_NOT_GRANTED = 0xC000015B,
        /// STATUS_DISK_FULL (0XC000007F).
        DISK_FULL = 0xC000007F,
        /// STATUS_FILE_LOCK_CONFLICT (0XC0000054).
        FILE_LOCK_CONFLICT = 0xC0000054,
        /// STATUS_LOCK_NOT_GRANTED (0XC0000055).
        LOCK_NOT_GRANTED = 0xC0000055,
        /// STATUS_CANNOT_DELETE (0XC0000121).
        CANNOT_DELETE = 0xC0000121,
        /// STATUS_FILE_DELETED (0XC0000123).
        FILE_DELETED = 0xC0000123,
        /// STATUS_INVALID_NETWORK_RESPONSE (0XC00000C3).
        INVALID_NETWORK_RESPONSE = 0xC00000C3,
        /// STATUS_INVALID_SIGNATURE (0XC000A000).
        INVALID_SIGNATURE = 0xC000A000,
        /// STATUS_ENCRYPTION_FAILED (0XC000A004).
        ENCRYPTION_FAILED = 0xC000A004,
        /// STATUS_DECRYPTION_FAILED (0XC000A005).
        DECRYPTION_FAILED = 0xC000A005,
        /// STATUS_SMB_BAD_COMMAND (0X00160002).
        SMB_BAD_COMMAND = 0x00160002,
        /// STATUS_MEDIA_WRITE_PROTECTED (0XC00000A2).
        MEDIA_WRITE_PROTECTED = 0xC00000A2,
        /// STATUS_PATH_NOT_COVERED (0XC0000257).
        PATH_NOT_COVERED = 0xC0000257,
        /// STATUS_NOT_SAME_DEVICE (0XC00000D4).
        NOT_SAME_DEVICE = 0xC00000D4,
        /// STATUS_FS_DRIVER_REQUIRED (0XC000019C).
        FS_DRIVER_REQUIRED = 0xC000019C,
        /// STATUS_USER_EXISTS (0XC0000063).
        USER_EXISTS = 0xC0000063,
        /// STATUS_NO_SUCH_USER (0XC0000064).
        NO_SUCH_USER = 0xC0000064,
        /// STATUS_IO_TIMEOUT (0XC00000B5).
        IO_TIMEOUT = 0xC00000B5,
        /// STATUS_INVALID_USER_BUFFER (0XC00000E8).
        INVALID_USER_BUFFER = 0xC00000E8,
        /// STATUS_PIPE_BROKEN (0XC000014B).
        PIPE_BROKEN = 0xC000014B,
        /// STATUS_PIPE_NOT_AVAILABLE (0XC00000AC).
        PIPE_NOT_AVAILABLE = 0xC00000AC,
        /// STATUS_PIPE_DISCONNECTED (0XC00000B0).
        PIPE_DISCONNECTED = 0xC00000B0,
        /// STATUS_PIPE_EMPTY (0XC00000D9).
        PIPE_EMPTY = 0xC00000D9,
        /// STATUS_INVALID_PIPE_STATE (0XC00000AD).
        INVALID_PIPE_STATE = 0xC00000AD,
        /// STATUS_PIPE_BUSY (0XC00000AE).
        PIPE_BUSY = 0xC00000AE,
        /// STATUS_NO_SUCH_LOGON_SESSION (0XC000005F).
        NO_SUCH_LOGON_SESSION = 0xC000005F,
        /// STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP (0XC05D0000).
        SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP = 0xC05D0000,
        /// STATUS_TOO_MANY_OPENED_FILES (0XC000011F).
        TOO_MANY_OPENED_FILES = 0xC000011F,
        /// STATUS_EAS_NOT_SUPPORTED (0XC000004F).
        EAS_NOT_SUPPORTED = 0xC000004F,
        /// STATUS_NOT_A_REPARSE_POINT (0XC0000275).
        NOT_A_REPARSE_POINT = 0xC0000275,
        /// STATUS_OBJECTID_NOT_FOUND (0XC00002F0).
        OBJECTID_NOT_FOUND = 0xC00002F0,
        /// STATUS_INVALID_LEVEL (0XC0000148).
        INVALID_LEVEL = 0xC0000148,
        /// STATUS_SHARING_PAUSED (0XC00000CF).
        SHARING_PAUSED = 0xC00000CF,
        /// STATUS_TOO_MANY_SESSIONS (0XC00000CE).
        TOO_MANY_SESSIONS = 0xC00000CE,
        /// STATUS_REQUEST_ABORTED (0XC0000240).
        REQUEST_ABORTED = 0xC0000240,
        /// STATUS_CONNECTION_DISCONNECTED (0XC000020C).
        CONNECTION_DISCONNECTED = 0xC000020C,
        /// STATUS_CONNECTION_RESET (0XC000020D).
        CONNECTION_RESET = 0xC000020D,
    }
}

impl NtStatus {
    /// True for success and informational codes (severity 0 or 1).
    pub fn is_success(self) -> bool {
        self.0 >> 30 <= 1
    }

    /// True for error codes (severity 3).
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }

    /// True for warnings (severity 2), e.g. STATUS_BUFFER_OVERFLOW.
    pub fn is_warning(self) -> bool {
        self.0 >> 30 == 2
    }

    /// True for the statuses a failed logon returns (MS-SMB2 §3.3.5.5.3,
    /// MS-NLMP): wrong password, locked, disabled, expired and the like.
    pub fn is_logon_failure(self) -> bool {
        matches!(
            self,
            NtStatus::LOGON_FAILURE
                | NtStatus::NTLM_BLOCKED
                | NtStatus::WRONG_PASSWORD
                | NtStatus::ACCOUNT_RESTRICTION
                | NtStatus::INVALID_LOGON_HOURS
                | NtStatus::INVALID_WORKSTATION
                | NtStatus::PASSWORD_EXPIRED
                | NtStatus::ACCOUNT_DISABLED
                | NtStatus::ACCOUNT_EXPIRED
                | NtStatus::ACCOUNT_LOCKED_OUT
                | NtStatus::PASSWORD_MUST_CHANGE
                | NtStatus::NO_SUCH_USER
                | NtStatus::LOGON_TYPE_NOT_GRANTED
                | NtStatus::NO_TRUST_SAM_ACCOUNT
                | NtStatus::TRUSTED_DOMAIN_FAILURE
                | NtStatus::TRUSTED_RELATIONSHIP_FAILURE
                | NtStatus::AUTHENTICATION_FIREWALL_FAILED
                | NtStatus::NO_SUCH_LOGON_SESSION
                | NtStatus::ACCESS_DENIED
        )
    }
}

/// Describes an NT status in a few words for messages.
pub fn describe_status(status: NtStatus) -> &'static str {
    match status {
        NtStatus::LOGON_FAILURE => "unknown user name or bad password",
        NtStatus::NTLM_BLOCKED => "the server refuses NTLM logons (use Kerberos)",
        NtStatus::WRONG_PASSWORD => "wrong password",
        NtStatus::ACCOUNT_LOCKED_OUT => "the account is locked out",
        NtStatus::ACCOUNT_DISABLED => "the account is disabled",
        NtStatus::ACCOUNT_EXPIRED => "the account has expired",
        NtStatus::PASSWORD_EXPIRED => "the password has expired",
        NtStatus::PASSWORD_MUST_CHANGE => "the password must be changed",
        NtStatus::ACCOUNT_RESTRICTION => "account restrictions prevent this logon",
        NtStatus::INVALID_LOGON_HOURS => "logon is not allowed at this time",
        NtStatus::INVALID_WORKSTATION => "logon is not allowed from this workstation",
        NtStatus::ACCESS_DENIED => "access denied",
        NtStatus::BAD_NETWORK_NAME => "no such share",
        NtStatus::OBJECT_NAME_NOT_FOUND => "no such file or folder",
        NtStatus::OBJECT_PATH_NOT_FOUND => "no such path",
        NtStatus::NOT_SUPPORTED => "not supported by the server",
        NtStatus::OBJECT_NAME_COLLISION => "the name exists already",
        NtStatus::DIRECTORY_NOT_EMPTY => "the folder is not empty",
        NtStatus::FILE_IS_A_DIRECTORY => "it is a folder, not a file",
        NtStatus::NOT_A_DIRECTORY => "it is a file, not a folder",
        NtStatus::SHARING_VIOLATION => "the file is in use",
        NtStatus::CANNOT_DELETE => "the file cannot be deleted (read-only?)",
        NtStatus::DELETE_PENDING => "the file is being deleted",
        NtStatus::OBJECT_NAME_INVALID => "the name is not valid on the server",
        NtStatus::DISK_FULL => "the server's disk is full",
        NtStatus::NETWORK_NAME_DELETED => "the share was disconnected",
        NtStatus::NO_SUCH_FILE => "nothing matches",
        NtStatus::INVALID_DEVICE_REQUEST => "the server does not support this on that share",
        NtStatus::NETWORK_SESSION_EXPIRED => "the session has expired",
        NtStatus::USER_SESSION_DELETED => "the session no longer exists on the server",
        _ => "the server refused the request",
    }
}

#[cfg(test)]
mod tests {
    use super::NtStatus;

    #[test]
    fn unknown_status_survives_and_prints_hex() {
        let s = NtStatus(0xC0DE0001);
        assert_eq!(s.name(), None);
        assert_eq!(format!("{s:?}"), "NtStatus(0xc0de0001)");
        assert_eq!(format!("{:?}", NtStatus::LOGON_FAILURE), "LOGON_FAILURE");
        assert!(NtStatus::BUFFER_OVERFLOW.is_warning());
        assert!(NtStatus::PENDING.is_success());
    }
}
