//! Failures, their exit codes, and the hints that say what to do next.

use std::fmt;
use std::io;
use std::path::Path;

use smbkit::{Error, NoEncryption, NtStatus, Unsupported};

use crate::args::GlobalOpts;
use crate::target::{split_last, Target};

/// The kinds of failure, each with its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything else (a protocol error, a local file that cannot be written…).
    Other,
    /// 2: the command line is wrong (also clap's own code for usage errors).
    Usage,
    /// 3: the server refused the user name or password.
    Auth,
    /// 4: no such share, file or folder (remote or local).
    NotFound,
    /// 5: the server (or the local system) denied access.
    AccessDenied,
    /// 6: the server did not answer in time.
    Timeout,
    /// 7: the server could not be reached or the connection broke.
    Network,
    /// 8: the server needs something this version of smbkit cannot do
    /// (SMB1, encryption), or forbids what the options ask for.
    Unsupported,
}

impl Kind {
    /// The process exit code for this kind.
    pub fn code(self) -> u8 {
        match self {
            Kind::Other => 1,
            Kind::Usage => 2,
            Kind::Auth => 3,
            Kind::NotFound => 4,
            Kind::AccessDenied => 5,
            Kind::Timeout => 6,
            Kind::Network => 7,
            Kind::Unsupported => 8,
        }
    }
}

/// Why a command failed: what to print, what to suggest, and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// The kind, which sets the exit code.
    pub kind: Kind,
    /// What went wrong.
    pub message: String,
    /// What to do next, if there is something to say.
    pub hint: Option<String>,
    /// The library error behind it, for hints worked out later.
    pub source: Option<Box<Error>>,
}

/// The result of a command.
pub type CmdResult<T = ()> = Result<T, Failure>;

impl Failure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Kind::Usage, message)
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// A failure on a local file or folder.
    pub fn local(e: &io::Error, what: &str, path: &Path) -> Failure {
        let kind = match e.kind() {
            io::ErrorKind::NotFound => Kind::NotFound,
            io::ErrorKind::PermissionDenied => Kind::AccessDenied,
            _ => Kind::Other,
        };
        Failure::new(kind, format!("cannot {what} '{}': {e}", path.display()))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            kind: kind_of(&e),
            message: e.to_string(),
            hint: None,
            source: Some(Box::new(e)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// True for the statuses that mean "no such share, file or folder".
pub fn is_not_found(status: NtStatus) -> bool {
    matches!(
        status,
        NtStatus::OBJECT_NAME_NOT_FOUND
            | NtStatus::OBJECT_PATH_NOT_FOUND
            | NtStatus::BAD_NETWORK_NAME
            | NtStatus::NO_SUCH_FILE
            | NtStatus::NOT_FOUND
            | NtStatus::NO_SUCH_DEVICE
    )
}

/// The kind of a library error.
pub fn kind_of(e: &Error) -> Kind {
    match e {
        Error::AuthFailed { .. } | Error::Kerberos(_) => Kind::Auth,
        Error::Timeout { .. } => Kind::Timeout,
        Error::NotConnected
        | Error::NotReady
        | Error::Io(_)
        | Error::NetbiosRejected { .. }
        | Error::NotResumable { .. }
        | Error::ReconnectFailed { .. } => Kind::Network,
        Error::InvalidArgument(_) => Kind::Usage,
        Error::Unsupported(_) => Kind::Unsupported,
        Error::ConnectionClosed { cause } => kind_of(cause),
        Error::HandshakeFailed { .. } => Kind::Network,
        Error::OperationFailure { status, .. } => match *status {
            s if is_not_found(s) => Kind::NotFound,
            NtStatus::ACCESS_DENIED
            | NtStatus::NETWORK_ACCESS_DENIED
            | NtStatus::PRIVILEGE_NOT_HELD
            | NtStatus::MEDIA_WRITE_PROTECTED
            | NtStatus::CANNOT_DELETE => Kind::AccessDenied,
            NtStatus::IO_TIMEOUT => Kind::Timeout,
            NtStatus::NETWORK_NAME_DELETED
            | NtStatus::CONNECTION_DISCONNECTED
            | NtStatus::CONNECTION_RESET
            | NtStatus::USER_SESSION_DELETED
            | NtStatus::NETWORK_SESSION_EXPIRED => Kind::Network,
            s if s.is_logon_failure() => Kind::Auth,
            _ => Kind::Other,
        },
        _ => Kind::Other,
    }
}

/// What to suggest when a transfer that does not reconnect lost its
/// connection.
pub fn lost_hint() -> &'static str {
    "the connection was lost; without --no-retry (or --retries 0), \
     smbkit reconnects and goes on where the transfer was"
}

/// What to suggest after the library error `e`, given the options and the
/// target of the command (when it has one).
pub fn hint_for(e: &Error, opts: &GlobalOpts, target: Option<&Target>) -> Option<String> {
    let server = target.map(Target::server_url);
    let server = server.as_deref().unwrap_or("smb://user@host");
    match e {
        Error::NetbiosRejected { called_name, .. } => Some(format!(
            "the server rejected the name {called_name}; try --netbios-name with the server's own name \
             (or connect without --netbios, over direct TCP on port 445)"
        )),
        Error::Kerberos(k) => kerberos_hint(k),
        Error::AuthFailed { .. } => Some(
            "check the user name, the domain (smb://DOMAIN;user@host) and the password \
             (SMBKIT_PASSWORD, -A FILE or the prompt); older servers may need --ntlmv1"
                .into(),
        ),
        Error::Unsupported(Unsupported::SigningForbidden) => {
            Some("drop --signing never: use --signing required (the default) or --signing supported".into())
        }
        Error::Unsupported(
            Unsupported::EncryptionRequired(NoEncryption::Smb1)
            | Unsupported::NoInfoLevelPassthrough { .. },
        ) => Some(
            "the server speaks only SMB1, which cannot do this; \
             enable SMB2/3 on the server (Samba: server max protocol = SMB3)"
                .into(),
        ),
        Error::Unsupported(Unsupported::EncryptionRequired(_)) => Some(
            "drop --encryption required to connect unencrypted, or use a server that speaks SMB 3"
                .into(),
        ),
        Error::Unsupported(
            Unsupported::SessionRequiresEncryption(_) | Unsupported::ShareRequiresEncryption { .. },
        ) => Some(
            "encryption needs SMB 3.0 or later on both sides; if --smb1 or --netbios limit the \
             dialect, drop them, or enable SMB3 on the server (Samba: server max protocol = SMB3)"
                .into(),
        ),
        Error::Timeout { .. } => Some(format!(
            "the server did not answer within {} s; check the host and port, or raise --timeout",
            opts.timeout
        )),
        Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            let port = target
                .and_then(|t| opts.port.or(t.port))
                .unwrap_or(if opts.netbios { 139 } else { 445 });
            Some(format!(
                "nothing accepts connections on port {port}; is the port right? \
                 (445 for direct TCP, 139 with --netbios; --port sets another)"
            ))
        }
        Error::NotResumable { .. } => Some(
            "the connection came back, but the server could not give the open file back; \
             run the command again (for a download, smbkit get -c keeps what came and fetches the rest)"
                .into(),
        ),
        Error::ReconnectFailed { .. } => Some(
            "the connection was lost and could not be made again; check the network and the \
             server, then run the command again (--retries N sets how many attempts are made)"
                .into(),
        ),
        Error::Io(_) | Error::NotConnected => Some(
            "is the host name right and the server reachable? (445 for direct TCP, 139 with --netbios)"
                .into(),
        ),
        Error::OperationFailure { status, .. } => match *status {
            NtStatus::BAD_NETWORK_NAME => Some(format!(
                "list the server's shares with: smbkit shares {server}"
            )),
            s if is_not_found(s) => target.and_then(|t| {
                t.share.as_ref()?;
                let (parent, _) = split_last(&t.path);
                Some(format!("see what is there with: smbkit ls {}", t.url_of(parent)))
            }),
            NtStatus::ACCESS_DENIED | NtStatus::NETWORK_ACCESS_DENIED
                if matches!(e, Error::OperationFailure { operation: "tree connect", .. }) =>
            {
                Some(
                    "the server refused this user the share; check the user's rights on it \
                     (a share that requires encryption also needs SMB 3.0 or later)"
                        .into(),
                )
            }
            NtStatus::ACCESS_DENIED | NtStatus::NETWORK_ACCESS_DENIED => Some(
                "the server does not let this user do that; check the share's permissions \
                 (smbkit security shows a file's ACL)"
                    .into(),
            ),
            NtStatus::OBJECT_NAME_COLLISION => {
                Some("something of that name exists already; pick another name or remove it first".into())
            }
            NtStatus::DIRECTORY_NOT_EMPTY => target.map(|t| {
                format!(
                    "the folder is not empty; remove it with everything in it using: smbkit rm -r {}",
                    t.url_of(&t.path)
                )
            }),
            NtStatus::SHARING_VIOLATION => {
                Some("another program has the file open; try again when it is closed".into())
            }
            NtStatus::DISK_FULL => Some("the share is full".into()),
            _ => None,
        },
        _ => None,
    }
}

/// What to do about a Kerberos failure.
fn kerberos_hint(k: &smbkit::KerberosError) -> Option<String> {
    use smbkit::KerberosError as K;
    Some(
        match k {
            K::NoTicket { .. } | K::TicketExpired { .. } => {
                "run kinit (or give a password with -A FILE or SMBKIT_PASSWORD)"
            }
            K::File { .. } | K::UnsupportedCache(_) => {
                "run kinit with KRB5CCNAME=FILE:/path, or give --krb5-ccache FILE"
            }
            K::KdcUnreachable { .. } | K::NoRealm(_) => {
                "name the KDC with --kdc HOST[:PORT] and the realm with --realm, or set them in krb5.conf (KRB5_CONFIG)"
            }
            K::UnknownService { .. } => {
                "connect by the server's host name as registered in the directory (not its address)"
            }
            K::ClockSkew { .. } => "synchronise this machine's clock with the domain's",
            K::WrongPassword { .. } | K::UnknownPrincipal { .. } => {
                "check the user name (user@REALM) and the password"
            }
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let kinds = [
            Kind::Other,
            Kind::Usage,
            Kind::Auth,
            Kind::NotFound,
            Kind::AccessDenied,
            Kind::Timeout,
            Kind::Network,
            Kind::Unsupported,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }

    #[test]
    fn library_errors_map_to_kinds() {
        let op = |status| Error::OperationFailure {
            operation: "open",
            path: "\\share\\x".into(),
            status,
            detail: None,
        };
        assert_eq!(
            kind_of(&op(NtStatus::OBJECT_NAME_NOT_FOUND)),
            Kind::NotFound
        );
        assert_eq!(kind_of(&op(NtStatus::BAD_NETWORK_NAME)), Kind::NotFound);
        assert_eq!(kind_of(&op(NtStatus::ACCESS_DENIED)), Kind::AccessDenied);
        assert_eq!(kind_of(&op(NtStatus::SHARING_VIOLATION)), Kind::Other);
        assert_eq!(kind_of(&Error::NotConnected), Kind::Network);
        let not_resumable = Error::NotResumable {
            operation: "reading",
            path: "\\share\\big.bin".into(),
            reason: smbkit::NotResumableReason::NotDurable,
        };
        assert_eq!(kind_of(&not_resumable), Kind::Network);
        assert!(not_resumable.to_string().contains("\\share\\big.bin"));
        let gave_up = Error::ReconnectFailed {
            attempts: 3,
            last: Box::new(Error::Io(std::io::ErrorKind::ConnectionRefused.into())),
        };
        assert_eq!(kind_of(&gave_up), Kind::Network);
        assert_eq!(
            kind_of(&Error::Unsupported(Unsupported::EncryptionRequired(
                NoEncryption::Smb1
            ))),
            Kind::Unsupported
        );
        assert_eq!(
            kind_of(&Error::Timeout {
                operation: "echo",
                after: std::time::Duration::from_secs(1)
            }),
            Kind::Timeout
        );
    }
}
