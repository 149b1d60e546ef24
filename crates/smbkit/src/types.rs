//! What the API hands out: [`ServerInfo`], [`TreeInfo`], [`SharedFile`],
//! [`SharedDevice`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smbkit_proto::crypto::{Cipher, SigningAlgorithm};
use smbkit_proto::fscc::{self, attributes, DirectoryEntry};
use smbkit_proto::rpc::ShareInfo1;
use smbkit_proto::Dialect;

/// What happened last to a connection's link with the server, as
/// [`crate::Connection::events`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// Connected and authenticated; `reconnects` counts the times the
    /// connection was re-established since it was first made.
    Connected {
        /// Reconnects so far.
        reconnects: u32,
    },
    /// The connection was lost (cut, reset, or declared dead).
    Lost,
    /// Attempt number `attempt` (from 1) to reconnect has started.
    Reconnecting {
        /// Which attempt.
        attempt: u32,
    },
    /// Every attempt failed; the connection stays lost until an operation
    /// asks for it again, which starts a new round of attempts.
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        error: String,
    },
    /// Closed by [`crate::Connection::close`].
    Closed,
}

/// What was negotiated with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The SMB2 dialect in use.
    pub dialect: Dialect,
    /// The server's GUID.
    pub server_guid: [u8; 16],
    /// Largest READ the server accepts, in bytes.
    pub max_read_size: u32,
    /// Largest WRITE the server accepts, in bytes.
    pub max_write_size: u32,
    /// Largest IOCTL/QUERY_INFO/QUERY_DIRECTORY buffer, in bytes.
    pub max_transact_size: u32,
    /// The server's clock at NEGOTIATE, as a FILETIME (100 ns since 1601).
    pub system_time: u64,
    /// When the server started, as a FILETIME (often 0).
    pub server_start_time: u64,
    /// The server's SMB2_GLOBAL_CAP_* bits.
    pub capabilities: u32,
    /// True if the server requires signing.
    pub signing_required_by_server: bool,
    /// True if this session signs its messages.
    pub signing: bool,
    /// The signing algorithm, when signing.
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// The cipher the connection can encrypt with: the one the server chose
    /// in its 3.1.1 encryption context, or AES-128-CCM on 3.0/3.0.2 when the
    /// server announced SMB2_GLOBAL_CAP_ENCRYPTION; `None` when it cannot
    /// encrypt (SMB 1, 2.x, or no common cipher).
    pub cipher: Option<Cipher>,
    /// True if every message of the session is encrypted (the server asked
    /// for it, or [`Encryption::Preferred`](crate::Encryption) /
    /// [`Encryption::Required`](crate::Encryption) was set). Shares can
    /// still ask for encryption on their own: see [`TreeInfo::encrypted`].
    pub encrypted: bool,
    /// True for a guest session.
    pub is_guest: bool,
    /// True for an anonymous (null) session.
    pub is_anonymous: bool,
}

/// A connected tree (share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeInfo {
    /// The TreeId the server assigned.
    pub tree_id: u32,
    /// 1 disk, 2 named pipe, 3 printer (MS-SMB2 §2.2.10).
    pub share_type: u8,
    /// The SMB2_SHAREFLAG_* bits.
    pub share_flags: u32,
    /// The SMB2_SHARE_CAP_* bits.
    pub capabilities: u32,
    /// The access rights the user has on the share.
    pub maximal_access: u32,
    /// True if the messages of this tree are encrypted (the share asks for
    /// it, or the whole session is encrypted).
    pub encrypted: bool,
}

/// A file or folder on a share; the reference's `SharedFile`.
///
/// Times are seconds since the Unix epoch (UTC) as `f64`, as the reference
/// gives them; [`SharedFile::last_write_system_time`] and friends convert.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SharedFile {
    /// When the file was created.
    pub create_time: f64,
    /// When the file was last read.
    pub last_access_time: f64,
    /// When the file's data was last written.
    pub last_write_time: f64,
    /// When the file's attributes last changed.
    pub last_attr_change_time: f64,
    /// The file's size in bytes.
    pub file_size: u64,
    /// The bytes allocated to the file.
    pub alloc_size: u64,
    /// The FILE_ATTRIBUTE_* bits (see [`smbkit_proto::fscc::attributes`]).
    pub file_attributes: u32,
    /// The 8.3 short name, if the server has one.
    pub short_name: String,
    /// The file's name (without its folder).
    pub filename: String,
    /// The server's file id (index number), 0 if unknown.
    pub file_id: u64,
}

fn system_time(secs: f64) -> SystemTime {
    if secs >= 0.0 {
        UNIX_EPOCH + Duration::from_secs_f64(secs)
    } else {
        UNIX_EPOCH - Duration::from_secs_f64(-secs)
    }
}

impl SharedFile {
    pub(crate) fn from_entry(e: DirectoryEntry) -> Self {
        SharedFile {
            create_time: fscc::filetime_to_unix(e.creation_time),
            last_access_time: fscc::filetime_to_unix(e.last_access_time),
            last_write_time: fscc::filetime_to_unix(e.last_write_time),
            last_attr_change_time: fscc::filetime_to_unix(e.change_time),
            file_size: e.end_of_file,
            alloc_size: e.allocation_size,
            file_attributes: e.file_attributes,
            short_name: e.short_name,
            filename: e.file_name,
            file_id: e.file_id,
        }
    }

    /// True for a folder.
    pub fn is_directory(&self) -> bool {
        self.file_attributes & attributes::DIRECTORY != 0
    }

    /// True when the read-only attribute is set.
    pub fn is_read_only(&self) -> bool {
        self.file_attributes & attributes::READONLY != 0
    }

    /// True for a "normal" file as the reference defines it: not read-only,
    /// hidden, system, archive or a folder (other attributes are ignored).
    pub fn is_normal(&self) -> bool {
        self.file_attributes
            & (attributes::READONLY
                | attributes::HIDDEN
                | attributes::SYSTEM
                | attributes::ARCHIVE
                | attributes::DIRECTORY)
            == 0
    }

    /// [`SharedFile::last_write_time`] as a `SystemTime`.
    pub fn last_write_system_time(&self) -> SystemTime {
        system_time(self.last_write_time)
    }

    /// [`SharedFile::create_time`] as a `SystemTime`.
    pub fn create_system_time(&self) -> SystemTime {
        system_time(self.create_time)
    }
}

/// What kind of resource a share is (MS-SRVS §2.2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareType {
    /// A disk share.
    Disk,
    /// A print queue.
    Printer,
    /// A communication device.
    CommDevice,
    /// Interprocess communication (IPC$).
    Ipc,
    /// Any other base type, as the server gave it.
    Other(u32),
}

/// A shared resource; the reference's `SharedDevice`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedDevice {
    /// The share's name.
    pub name: String,
    /// The kind of share.
    pub share_type: ShareType,
    /// The server's comment on the share.
    pub comments: String,
    /// True for administrative shares such as `IPC$` and `C$` (STYPE_SPECIAL).
    pub is_special: bool,
    /// True for temporary shares (STYPE_TEMPORARY).
    pub is_temporary: bool,
    /// The raw share type bits.
    pub raw_type: u32,
}

impl SharedDevice {
    pub(crate) fn from_info(s: ShareInfo1) -> Self {
        use smbkit_proto::rpc::srvsvc::{STYPE_DEVICE, STYPE_DISKTREE, STYPE_IPC, STYPE_PRINTQ};
        let share_type = match s.base_type() {
            STYPE_DISKTREE => ShareType::Disk,
            STYPE_PRINTQ => ShareType::Printer,
            STYPE_DEVICE => ShareType::CommDevice,
            STYPE_IPC => ShareType::Ipc,
            other => ShareType::Other(other),
        };
        SharedDevice {
            share_type,
            is_special: s.is_special(),
            is_temporary: s.is_temporary(),
            raw_type: s.share_type,
            name: s.name,
            comments: s.remark,
        }
    }
}
