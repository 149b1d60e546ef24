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
    /// The Kerberos client principal (`user@REALM`) when the session logged
    /// on with Kerberos; `None` for NTLM, guest and anonymous sessions.
    pub kerberos_principal: Option<String>,
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

/// Times to set on a file or folder with
/// [`crate::Connection::set_file_times`]; a time left `None` is not
/// changed (like [`std::fs::FileTimes`]).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let times = smbkit::FileTimes::new().modified(t).accessed(t);
/// assert_eq!(times.modified, Some(t));
/// assert_eq!(times.created, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileTimes {
    /// CreationTime.
    pub created: Option<SystemTime>,
    /// LastAccessTime.
    pub accessed: Option<SystemTime>,
    /// LastWriteTime (the modification time).
    pub modified: Option<SystemTime>,
    /// ChangeTime (the last change of the data or the metadata).
    pub changed: Option<SystemTime>,
}

impl FileTimes {
    /// No time set: nothing would change.
    pub fn new() -> Self {
        FileTimes::default()
    }

    /// Sets the creation time.
    pub fn created(mut self, t: SystemTime) -> Self {
        self.created = Some(t);
        self
    }

    /// Sets the last access time.
    pub fn accessed(mut self, t: SystemTime) -> Self {
        self.accessed = Some(t);
        self
    }

    /// Sets the last write (modification) time.
    pub fn modified(mut self, t: SystemTime) -> Self {
        self.modified = Some(t);
        self
    }

    /// Sets the change time.
    pub fn changed(mut self, t: SystemTime) -> Self {
        self.changed = Some(t);
        self
    }
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

/// The FILE_ATTRIBUTE_* bits of a file or folder (MS-FSCC §2.6), as a set.
///
/// ```
/// use smbkit::FileAttributes;
///
/// let a = FileAttributes::DIRECTORY | FileAttributes::HIDDEN;
/// assert!(a.is_dir() && a.is_hidden() && !a.is_readonly());
/// assert!(a.contains(FileAttributes::DIRECTORY));
/// assert_eq!(a.bits(), 0x12);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileAttributes(u32);

impl FileAttributes {
    /// FILE_ATTRIBUTE_READONLY.
    pub const READONLY: FileAttributes = FileAttributes(0x0000_0001);
    /// FILE_ATTRIBUTE_HIDDEN.
    pub const HIDDEN: FileAttributes = FileAttributes(0x0000_0002);
    /// FILE_ATTRIBUTE_SYSTEM.
    pub const SYSTEM: FileAttributes = FileAttributes(0x0000_0004);
    /// FILE_ATTRIBUTE_DIRECTORY.
    pub const DIRECTORY: FileAttributes = FileAttributes(0x0000_0010);
    /// FILE_ATTRIBUTE_ARCHIVE.
    pub const ARCHIVE: FileAttributes = FileAttributes(0x0000_0020);
    /// FILE_ATTRIBUTE_NORMAL.
    pub const NORMAL: FileAttributes = FileAttributes(0x0000_0080);
    /// FILE_ATTRIBUTE_TEMPORARY.
    pub const TEMPORARY: FileAttributes = FileAttributes(0x0000_0100);
    /// FILE_ATTRIBUTE_SPARSE_FILE.
    pub const SPARSE_FILE: FileAttributes = FileAttributes(0x0000_0200);
    /// FILE_ATTRIBUTE_REPARSE_POINT.
    pub const REPARSE_POINT: FileAttributes = FileAttributes(0x0000_0400);
    /// FILE_ATTRIBUTE_COMPRESSED.
    pub const COMPRESSED: FileAttributes = FileAttributes(0x0000_0800);
    /// FILE_ATTRIBUTE_OFFLINE.
    pub const OFFLINE: FileAttributes = FileAttributes(0x0000_1000);
    /// FILE_ATTRIBUTE_NOT_CONTENT_INDEXED.
    pub const NOT_CONTENT_INDEXED: FileAttributes = FileAttributes(0x0000_2000);
    /// FILE_ATTRIBUTE_ENCRYPTED.
    pub const ENCRYPTED: FileAttributes = FileAttributes(0x0000_4000);

    /// The set of these bits (unknown bits are kept as they are).
    pub const fn from_bits(bits: u32) -> Self {
        FileAttributes(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: FileAttributes) -> bool {
        self.0 & other.0 == other.0
    }

    /// A folder.
    pub const fn is_dir(self) -> bool {
        self.contains(Self::DIRECTORY)
    }

    /// Read-only.
    pub const fn is_readonly(self) -> bool {
        self.contains(Self::READONLY)
    }

    /// Hidden.
    pub const fn is_hidden(self) -> bool {
        self.contains(Self::HIDDEN)
    }

    /// A system file.
    pub const fn is_system(self) -> bool {
        self.contains(Self::SYSTEM)
    }

    /// A reparse point (a symbolic link or junction, for instance).
    pub const fn is_reparse_point(self) -> bool {
        self.contains(Self::REPARSE_POINT)
    }
}

impl std::ops::BitOr for FileAttributes {
    type Output = FileAttributes;
    fn bitor(self, rhs: FileAttributes) -> FileAttributes {
        FileAttributes(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for FileAttributes {
    fn bitor_assign(&mut self, rhs: FileAttributes) {
        self.0 |= rhs.0;
    }
}

impl std::fmt::Debug for FileAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(FileAttributes, &str); 13] = [
            (FileAttributes::READONLY, "READONLY"),
            (FileAttributes::HIDDEN, "HIDDEN"),
            (FileAttributes::SYSTEM, "SYSTEM"),
            (FileAttributes::DIRECTORY, "DIRECTORY"),
            (FileAttributes::ARCHIVE, "ARCHIVE"),
            (FileAttributes::NORMAL, "NORMAL"),
            (FileAttributes::TEMPORARY, "TEMPORARY"),
            (FileAttributes::SPARSE_FILE, "SPARSE_FILE"),
            (FileAttributes::REPARSE_POINT, "REPARSE_POINT"),
            (FileAttributes::COMPRESSED, "COMPRESSED"),
            (FileAttributes::OFFLINE, "OFFLINE"),
            (FileAttributes::NOT_CONTENT_INDEXED, "NOT_CONTENT_INDEXED"),
            (FileAttributes::ENCRYPTED, "ENCRYPTED"),
        ];
        let mut rest = self.0;
        let mut first = true;
        f.write_str("FileAttributes(")?;
        for (a, name) in NAMES {
            if self.contains(a) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !a.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
        } else if first {
            f.write_str("0")?;
        }
        f.write_str(")")
    }
}

/// One entry of a folder, as [`crate::Connection::read_dir`] yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    name: String,
    short_name: String,
    len: u64,
    alloc_size: u64,
    attributes: FileAttributes,
    created: SystemTime,
    accessed: SystemTime,
    modified: SystemTime,
    changed: SystemTime,
    file_id: u64,
}

impl DirEntry {
    pub(crate) fn from_shared(f: SharedFile) -> DirEntry {
        DirEntry {
            created: system_time(f.create_time),
            accessed: system_time(f.last_access_time),
            modified: system_time(f.last_write_time),
            changed: system_time(f.last_attr_change_time),
            len: f.file_size,
            alloc_size: f.alloc_size,
            attributes: FileAttributes(f.file_attributes),
            short_name: f.short_name,
            name: f.filename,
            file_id: f.file_id,
        }
    }

    /// The entry's name, without its folder.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 8.3 short name, empty if the server has none.
    pub fn short_name(&self) -> &str {
        &self.short_name
    }

    /// True for a folder.
    pub fn is_dir(&self) -> bool {
        self.attributes.is_dir()
    }

    /// The size in bytes (0 for a folder on most servers).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the size is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes the server has allocated to it.
    pub fn alloc_size(&self) -> u64 {
        self.alloc_size
    }

    /// Its attributes.
    pub fn attributes(&self) -> FileAttributes {
        self.attributes
    }

    /// When it was created.
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// When it was last read.
    pub fn accessed(&self) -> SystemTime {
        self.accessed
    }

    /// When its data was last written.
    pub fn modified(&self) -> SystemTime {
        self.modified
    }

    /// When its attributes last changed.
    pub fn changed(&self) -> SystemTime {
        self.changed
    }

    /// The server's file id (index number), 0 if unknown.
    pub fn file_id(&self) -> u64 {
        self.file_id
    }
}
