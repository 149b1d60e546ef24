//! File system data structures of MS-FSCC (and the MS-SMB2 snapshot array):
//! file attributes, information classes, directory enumeration entries,
//! QUERY_INFO / SET_INFO structures, FILETIME helpers and the
//! previous-versions (`@GMT-` token) snapshot list.
//!
//! Everything here decodes bytes that come from a server, so every decoder
//! goes through the bounds-checked [`Reader`] / [`checked_range`]: a short,
//! inconsistent or hostile buffer is a [`DecodeError`], never a panic, and
//! every allocation is bounded by the size of the input. Encoders exist for
//! the client's SET_INFO requests and for test servers; they only panic on
//! caller input the wire format cannot express (documented per function).
//!
//! Section numbers are those of the MS-FSCC revision consulted; MS-FSCC
//! renumbers its §2.4 subsections between revisions (FileIdBothDirectory-
//! Information, for instance, was §2.4.17 in older revisions), so every
//! citation also names the section.
//!
//! Nothing in this module reads the clock: conversions take the time as an
//! argument.
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::{
    checked_range, count_u32, from_utf16le, utf16_len, wire_u32, wire_u8, DecodeError, EncodeError,
    Reader, Writer,
};

pub mod notify;

/// File attribute flags (MS-FSCC §2.6 "File Attributes"), as carried by the
/// FileAttributes field of directory entries, FILE_BASIC_INFORMATION,
/// FILE_NETWORK_OPEN_INFORMATION and the SMB2 CREATE request/response.
pub mod attributes {
    /// FILE_ATTRIBUTE_READONLY: the file or directory is read-only.
    pub const READONLY: u32 = 0x0000_0001;
    /// FILE_ATTRIBUTE_HIDDEN: the file or directory is hidden.
    pub const HIDDEN: u32 = 0x0000_0002;
    /// FILE_ATTRIBUTE_SYSTEM: a file or directory the operating system uses.
    pub const SYSTEM: u32 = 0x0000_0004;
    /// FILE_ATTRIBUTE_DIRECTORY: the entry is a directory.
    pub const DIRECTORY: u32 = 0x0000_0010;
    /// FILE_ATTRIBUTE_ARCHIVE: marked for backup or removal.
    pub const ARCHIVE: u32 = 0x0000_0020;
    /// FILE_ATTRIBUTE_NORMAL: no other attribute is set ("This attribute is
    /// valid only if used alone").
    pub const NORMAL: u32 = 0x0000_0080;
    /// FILE_ATTRIBUTE_TEMPORARY: the file is used for temporary storage.
    pub const TEMPORARY: u32 = 0x0000_0100;
    /// FILE_ATTRIBUTE_SPARSE_FILE: the file is sparse.
    pub const SPARSE_FILE: u32 = 0x0000_0200;
    /// FILE_ATTRIBUTE_REPARSE_POINT: the file or directory has a reparse point.
    pub const REPARSE_POINT: u32 = 0x0000_0400;
    /// FILE_ATTRIBUTE_COMPRESSED: the file or directory is compressed.
    pub const COMPRESSED: u32 = 0x0000_0800;
    /// FILE_ATTRIBUTE_OFFLINE: the data is not immediately available.
    pub const OFFLINE: u32 = 0x0000_1000;
    /// FILE_ATTRIBUTE_NOT_CONTENT_INDEXED: excluded from content indexing.
    pub const NOT_CONTENT_INDEXED: u32 = 0x0000_2000;
    /// FILE_ATTRIBUTE_ENCRYPTED: the file or directory is encrypted.
    pub const ENCRYPTED: u32 = 0x0000_4000;
    /// FILE_ATTRIBUTE_INTEGRITY_STREAM: integrity support (ReFS).
    pub const INTEGRITY_STREAM: u32 = 0x0000_8000;
    /// FILE_ATTRIBUTE_NO_SCRUB_DATA: excluded from the data integrity scan.
    pub const NO_SCRUB_DATA: u32 = 0x0002_0000;
}

/// The search-attribute filter of the reference client (pysmb's
/// `SMB_FILE_ATTRIBUTE_*` values for `listPath(search=...)`), applied on the
/// client side by [`search_matches`].
///
/// The low bits are the SMB_FILE_ATTRIBUTES of MS-CIFS §2.2.1.2.4; the
/// reference uses them for SMB2 listings too, where the server does not
/// filter, so these values never go on the wire in SMB2.
/// [`search::INCL_NORMAL`] is the reference's own placeholder bit, not defined by any
/// specification.
pub mod search {
    /// SMB_FILE_ATTRIBUTE_NORMAL (0): as a whole search value, "normal files
    /// only".
    pub const NORMAL: u32 = 0x0000_0000;
    /// SMB_FILE_ATTRIBUTE_READONLY.
    pub const READONLY: u32 = 0x0000_0001;
    /// SMB_FILE_ATTRIBUTE_HIDDEN.
    pub const HIDDEN: u32 = 0x0000_0002;
    /// SMB_FILE_ATTRIBUTE_SYSTEM.
    pub const SYSTEM: u32 = 0x0000_0004;
    /// SMB_FILE_ATTRIBUTE_VOLUME (the reference documents it as unsupported
    /// for listings).
    pub const VOLUME: u32 = 0x0000_0008;
    /// SMB_FILE_ATTRIBUTE_DIRECTORY.
    pub const DIRECTORY: u32 = 0x0000_0010;
    /// SMB_FILE_ATTRIBUTE_ARCHIVE.
    pub const ARCHIVE: u32 = 0x0000_0020;
    /// SMB_FILE_ATTRIBUTE_INCL_NORMAL: include "normal" files (see
    /// [`super::search_matches`]) alongside the other selected attributes.
    pub const INCL_NORMAL: u32 = 0x0001_0000;
    /// The reference's default search value: READONLY | HIDDEN | SYSTEM |
    /// DIRECTORY | ARCHIVE | INCL_NORMAL = 0x10037 (65591), which lists
    /// everything.
    pub const DEFAULT: u32 = READONLY | HIDDEN | SYSTEM | DIRECTORY | ARCHIVE | INCL_NORMAL;
}

/// Whether a directory entry with `file_attributes` (MS-FSCC §2.6 bits, as
/// returned by the server) passes the client-side `search` filter (bits of
/// [`search`]), exactly as the reference client (pysmb `_listPath`) decides.
///
/// The rule:
///
/// * Only the low 8 bits of the entry's attributes decide whether it is a
///   "normal" file: it is when those 8 bits are `0` or exactly
///   [`attributes::NORMAL`] (0x80). Higher bits (temporary, sparse,
///   compressed, not-indexed, encrypted, ...) are ignored for this test, and
///   `NORMAL` combined with another low bit (e.g. 0x81) is *not* normal.
/// * A normal entry is accepted when `search` is exactly [`search::NORMAL`]
///   (0) or has [`search::INCL_NORMAL`] set.
/// * Any other entry is accepted when it shares at least one bit with
///   `search` (all 32 bits are compared).
///
/// So the default [`search::DEFAULT`] accepts every entry, `DIRECTORY` alone
/// lists only directories, and a search without `INCL_NORMAL` (other than 0)
/// drops plain files whose only attribute is NORMAL.
pub fn search_matches(search: u32, file_attributes: u32) -> bool {
    let low = file_attributes & 0xff;
    if low == 0 || low == attributes::NORMAL {
        search == search::NORMAL || search & search::INCL_NORMAL != 0
    } else {
        file_attributes & search != 0
    }
}

/// File information classes (MS-FSCC §2.4 "File Information Classes"), the
/// FileInformationClass byte of SMB2 QUERY_DIRECTORY, QUERY_INFO and
/// SET_INFO (MS-SMB2 §2.2.33, §2.2.37, §2.2.39) with InfoType
/// SMB2_0_INFO_FILE.
pub mod info_class {
    /// FileDirectoryInformation (directory enumeration).
    pub const FILE_DIRECTORY_INFORMATION: u8 = 1;
    /// FileFullDirectoryInformation (directory enumeration).
    pub const FILE_FULL_DIRECTORY_INFORMATION: u8 = 2;
    /// FileBothDirectoryInformation (directory enumeration, short names).
    pub const FILE_BOTH_DIRECTORY_INFORMATION: u8 = 3;
    /// FileBasicInformation (query / set).
    pub const FILE_BASIC_INFORMATION: u8 = 4;
    /// FileStandardInformation (query).
    pub const FILE_STANDARD_INFORMATION: u8 = 5;
    /// FileInternalInformation (query).
    pub const FILE_INTERNAL_INFORMATION: u8 = 6;
    /// FileEaInformation (query).
    pub const FILE_EA_INFORMATION: u8 = 7;
    /// FileAccessInformation (query).
    pub const FILE_ACCESS_INFORMATION: u8 = 8;
    /// FileNameInformation (local query).
    pub const FILE_NAME_INFORMATION: u8 = 9;
    /// FileRenameInformation (set).
    pub const FILE_RENAME_INFORMATION: u8 = 10;
    /// FileNamesInformation (directory enumeration).
    pub const FILE_NAMES_INFORMATION: u8 = 12;
    /// FileDispositionInformation (set).
    pub const FILE_DISPOSITION_INFORMATION: u8 = 13;
    /// FilePositionInformation (query / set).
    pub const FILE_POSITION_INFORMATION: u8 = 14;
    /// FileModeInformation (query / set).
    pub const FILE_MODE_INFORMATION: u8 = 16;
    /// FileAlignmentInformation (query).
    pub const FILE_ALIGNMENT_INFORMATION: u8 = 17;
    /// FileAllInformation (query).
    pub const FILE_ALL_INFORMATION: u8 = 18;
    /// FileAllocationInformation (set).
    pub const FILE_ALLOCATION_INFORMATION: u8 = 19;
    /// FileEndOfFileInformation (set).
    pub const FILE_END_OF_FILE_INFORMATION: u8 = 20;
    /// FileAlternateNameInformation (query).
    pub const FILE_ALTERNATE_NAME_INFORMATION: u8 = 21;
    /// FileStreamInformation (query).
    pub const FILE_STREAM_INFORMATION: u8 = 22;
    /// FileNetworkOpenInformation (query).
    pub const FILE_NETWORK_OPEN_INFORMATION: u8 = 34;
    /// FileAttributeTagInformation (query).
    pub const FILE_ATTRIBUTE_TAG_INFORMATION: u8 = 35;
    /// FileIdBothDirectoryInformation (directory enumeration, short names
    /// and file ids).
    pub const FILE_ID_BOTH_DIRECTORY_INFORMATION: u8 = 37;
    /// FileIdFullDirectoryInformation (directory enumeration, file ids).
    pub const FILE_ID_FULL_DIRECTORY_INFORMATION: u8 = 38;
    /// FileDispositionInformationEx (set).
    pub const FILE_DISPOSITION_INFORMATION_EX: u8 = 64;
}

/// File system information classes (MS-FSCC §2.5 "File System Information
/// Classes"), the FileInformationClass byte of SMB2 QUERY_INFO with InfoType
/// SMB2_0_INFO_FILESYSTEM (MS-SMB2 §2.2.37).
pub mod fs_info_class {
    /// FileFsVolumeInformation.
    pub const FILE_FS_VOLUME_INFORMATION: u8 = 1;
    /// FileFsSizeInformation (§2.5.8).
    pub const FILE_FS_SIZE_INFORMATION: u8 = 3;
    /// FileFsAttributeInformation.
    pub const FILE_FS_ATTRIBUTE_INFORMATION: u8 = 5;
    /// FileFsFullSizeInformation (§2.5.4).
    pub const FILE_FS_FULL_SIZE_INFORMATION: u8 = 7;
}

// ---------------------------------------------------------------------------
// FILETIME
// ---------------------------------------------------------------------------

/// The FILETIME of the Unix epoch: 100-nanosecond intervals between
/// 1601-01-01 and 1970-01-01 UTC (MS-DTYP §2.3.3 FILETIME; MS-FSCC §2.1.1
/// Time).
pub const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// 100-nanosecond intervals per second.
const TICKS_PER_SECOND: u64 = 10_000_000;

/// Converts a FILETIME (MS-DTYP §2.3.3: 100-ns intervals since 1601-01-01
/// UTC) to Unix epoch seconds as a float, as the reference client reports
/// file times.
///
/// The difference from the Unix epoch is taken exactly (in integers) and
/// only then divided, so the result is the correctly rounded
/// `(ft - 116444736000000000) / 1e7`; times before 1970 are negative.
pub fn filetime_to_unix(ft: u64) -> f64 {
    let ticks = i128::from(ft) - i128::from(FILETIME_UNIX_EPOCH);
    ticks as f64 / TICKS_PER_SECOND as f64
}

/// Converts a FILETIME (MS-DTYP §2.3.3) to a [`SystemTime`].
///
/// `None` only when the platform's `SystemTime` cannot represent the instant.
/// A FILETIME of 0 (which MS-FSCC uses for "not specified" in some fields) is
/// not special-cased: it converts to 1601-01-01.
pub fn filetime_to_system_time(ft: u64) -> Option<SystemTime> {
    if ft >= FILETIME_UNIX_EPOCH {
        let d = ft - FILETIME_UNIX_EPOCH;
        UNIX_EPOCH.checked_add(ticks_to_duration(d))
    } else {
        let d = FILETIME_UNIX_EPOCH - ft;
        UNIX_EPOCH.checked_sub(ticks_to_duration(d))
    }
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // The remainder is < 10^7, so the nanoseconds are < 10^9.
    let nanos = (ticks % TICKS_PER_SECOND) as u32 * 100;
    Duration::new(ticks / TICKS_PER_SECOND, nanos)
}

/// Converts Unix time (`secs` since 1970-01-01 UTC, plus `nanos`) to a
/// FILETIME (MS-DTYP §2.3.3). Sub-100-ns precision is truncated; `nanos`
/// above 999 999 999 simply adds on. Instants before 1601 saturate to 0 and
/// instants past the FILETIME range saturate to `u64::MAX`.
pub fn unix_to_filetime(secs: i64, nanos: u32) -> u64 {
    let ticks = i128::from(secs) * i128::from(TICKS_PER_SECOND)
        + i128::from(nanos / 100)
        + i128::from(FILETIME_UNIX_EPOCH);
    if ticks <= 0 {
        0
    } else {
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }
}

/// Converts a [`SystemTime`] to a FILETIME (MS-DTYP §2.3.3), saturating like
/// [`unix_to_filetime`].
pub fn system_time_to_filetime(t: SystemTime) -> u64 {
    let ticks: i128 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ticks(d),
        Err(e) => -duration_ticks(e.duration()),
    };
    let ft = ticks + i128::from(FILETIME_UNIX_EPOCH);
    if ft <= 0 {
        0
    } else {
        u64::try_from(ft).unwrap_or(u64::MAX)
    }
}

fn duration_ticks(d: Duration) -> i128 {
    i128::from(d.as_secs()) * i128::from(TICKS_PER_SECOND) + i128::from(d.subsec_nanos() / 100)
}

// ---------------------------------------------------------------------------
// Directory enumeration
// ---------------------------------------------------------------------------

/// Fixed part of FILE_BOTH_DIR_INFORMATION, up to FileName.
const BOTH_DIR_FIXED_LEN: usize = 94;
/// Fixed part of FILE_ID_BOTH_DIR_INFORMATION, up to FileName.
const ID_BOTH_DIR_FIXED_LEN: usize = 104;
/// Size of the ShortName field: "12 Unicode characters" (24 bytes).
const SHORT_NAME_FIELD_LEN: usize = 24;

/// One directory entry of a FileBothDirectoryInformation (MS-FSCC §2.4.8,
/// FILE_BOTH_DIR_INFORMATION) or FileIdBothDirectoryInformation (MS-FSCC
/// §2.4 FileIdBothDirectoryInformation, FILE_ID_BOTH_DIR_INFORMATION)
/// enumeration.
///
/// Times are FILETIMEs (MS-FSCC §2.1.1); see [`filetime_to_unix`] and
/// [`filetime_to_system_time`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryEntry {
    /// FileIndex: byte offset of the file within the parent directory; "This
    /// member is undefined for file systems, such as NTFS" and is usually 0.
    pub file_index: u32,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// EndOfFile: the file size in bytes.
    pub end_of_file: u64,
    /// AllocationSize: bytes allocated for the file.
    pub allocation_size: u64,
    /// FileAttributes (see [`attributes`]).
    pub file_attributes: u32,
    /// EaSize: combined length of the extended attributes, or the reparse
    /// tag for reparse points.
    pub ea_size: u32,
    /// ShortName: the 8.3 name (at most 12 UTF-16 code units), empty when
    /// the file has none.
    pub short_name: String,
    /// FileId: the 8-byte file reference number (0 for
    /// FileBothDirectoryInformation, which does not carry it).
    pub file_id: u64,
    /// FileName: the name of the entry (no path), e.g. `.` or `report.txt`.
    pub file_name: String,
}

/// Parses the OutputBuffer of a QUERY_DIRECTORY response for
/// FileIdBothDirectoryInformation (MS-FSCC §2.4 FileIdBothDirectory-
/// Information; MS-SMB2 §2.2.34): a chain of FILE_ID_BOTH_DIR_INFORMATION
/// elements.
///
/// Layout of each element (104 bytes, then FileName): NextEntryOffset (4),
/// FileIndex (4), CreationTime, LastAccessTime, LastWriteTime, ChangeTime,
/// EndOfFile, AllocationSize (8 each), FileAttributes (4), FileNameLength
/// (4), EaSize (4), ShortNameLength (1), Reserved1 (1), ShortName (24),
/// Reserved2 (2), FileId (8), FileName (FileNameLength bytes of UTF-16LE).
///
/// The chain is walked with the checks described at
/// [`parse_both_directory_information`].
pub fn parse_id_both_directory_information(buf: &[u8]) -> Result<Vec<DirectoryEntry>, DecodeError> {
    parse_directory_entries(buf, true)
}

/// Parses the OutputBuffer of a QUERY_DIRECTORY response for
/// FileBothDirectoryInformation (MS-FSCC §2.4.8; MS-SMB2 §2.2.34): a chain
/// of FILE_BOTH_DIR_INFORMATION elements, which have the layout of
/// [`parse_id_both_directory_information`] without Reserved2 and FileId
/// (94 bytes, then FileName). [`DirectoryEntry::file_id`] is 0.
///
/// Walking the chain ("An implementation MUST use this value to determine
/// the location of the next entry"):
///
/// * the buffer must hold at least one entry (an empty buffer is an error:
///   a server with nothing to return answers STATUS_NO_MORE_FILES);
/// * NextEntryOffset 0 ends the chain; bytes after the last entry are
///   ignored;
/// * otherwise NextEntryOffset must be a multiple of 8 ("each MUST be
///   aligned on an 8-byte boundary"), must not be smaller than the entry it
///   follows (no overlap, so every step makes progress) and must point
///   inside the buffer; each entry, name included, must lie in the buffer;
/// * ShortNameLength may not exceed the 24-byte ShortName field.
///
/// Names are decoded losslessly: an odd byte length or an unpaired
/// surrogate in FileName or ShortName is an error rather than a replacement
/// character, because names are used to open the file again and must round
/// trip. The number of entries is bounded by the buffer size (every entry
/// takes at least 94 bytes).
pub fn parse_both_directory_information(buf: &[u8]) -> Result<Vec<DirectoryEntry>, DecodeError> {
    parse_directory_entries(buf, false)
}

fn parse_directory_entries(buf: &[u8], with_id: bool) -> Result<Vec<DirectoryEntry>, DecodeError> {
    let (fixed_len, what) = if with_id {
        (ID_BOTH_DIR_FIXED_LEN, "FILE_ID_BOTH_DIR_INFORMATION")
    } else {
        (BOTH_DIR_FIXED_LEN, "FILE_BOTH_DIR_INFORMATION")
    };
    if buf.is_empty() {
        return Err(DecodeError::Truncated {
            what,
            needed: fixed_len,
            available: 0,
        });
    }
    let mut entries = Vec::new();
    let mut offset = 0usize;
    loop {
        // Invariant: offset < buf.len() (checked before advancing).
        let entry = &buf[offset..];
        let mut r = Reader::new(entry);
        let next = r.u32("NextEntryOffset")? as usize;
        let file_index = r.u32("FileIndex")?;
        let creation_time = r.u64("CreationTime")?;
        let last_access_time = r.u64("LastAccessTime")?;
        let last_write_time = r.u64("LastWriteTime")?;
        let change_time = r.u64("ChangeTime")?;
        let end_of_file = r.u64("EndOfFile")?;
        let allocation_size = r.u64("AllocationSize")?;
        let file_attributes = r.u32("FileAttributes")?;
        let name_len = r.u32("FileNameLength")? as usize;
        let ea_size = r.u32("EaSize")?;
        let short_len = usize::from(r.u8("ShortNameLength")?);
        r.skip(1, "Reserved1")?;
        let short_field = r.take(SHORT_NAME_FIELD_LEN, "ShortName")?;
        let file_id = if with_id {
            r.skip(2, "Reserved2")?;
            r.u64("FileId")?
        } else {
            0
        };
        if short_len > SHORT_NAME_FIELD_LEN {
            return Err(DecodeError::invalid(
                "ShortNameLength",
                format!("{short_len} exceeds the {SHORT_NAME_FIELD_LEN}-byte ShortName field"),
            ));
        }
        let short_name = from_utf16le(&short_field[..short_len], "ShortName")?;
        let name_range = checked_range("FileName", fixed_len, name_len, entry.len())?;
        let entry_len = name_range.end;
        let file_name = from_utf16le(&entry[name_range], "FileName")?;
        entries.push(DirectoryEntry {
            file_index,
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            end_of_file,
            allocation_size,
            file_attributes,
            ea_size,
            short_name,
            file_id,
            file_name,
        });
        if next == 0 {
            return Ok(entries);
        }
        if next < entry_len {
            return Err(DecodeError::invalid(
                "NextEntryOffset",
                format!("{next} points inside the {entry_len}-byte entry it follows"),
            ));
        }
        if !next.is_multiple_of(8) {
            return Err(DecodeError::invalid(
                "NextEntryOffset",
                format!("{next} is not a multiple of 8"),
            ));
        }
        if next >= entry.len() {
            return Err(DecodeError::OutOfBounds {
                what: "NextEntryOffset",
                offset: offset.saturating_add(next),
                length: fixed_len,
                bound: buf.len(),
            });
        }
        offset += next;
    }
}

/// Encodes `entries` as a FileIdBothDirectoryInformation buffer (the layout
/// of [`parse_id_both_directory_information`]), each entry but the last
/// padded with zeros to an 8-byte boundary and chained by NextEntryOffset.
/// An empty slice gives an empty buffer. Meant for test servers and
/// round-trip tests.
///
/// # Errors
///
/// If a short name is longer than 12 UTF-16 code units, a name longer than
/// `u32::MAX` bytes, or an entry longer than `u32::MAX` bytes.
pub fn encode_id_both_directory_information(
    entries: &[DirectoryEntry],
) -> Result<Vec<u8>, EncodeError> {
    encode_directory_entries(entries, true)
}

/// Encodes `entries` as a FileBothDirectoryInformation buffer (MS-FSCC
/// §2.4.8, the layout of [`parse_both_directory_information`]);
/// [`DirectoryEntry::file_id`] is not represented. See
/// [`encode_id_both_directory_information`].
///
/// # Errors
///
/// As [`encode_id_both_directory_information`].
pub fn encode_both_directory_information(
    entries: &[DirectoryEntry],
) -> Result<Vec<u8>, EncodeError> {
    encode_directory_entries(entries, false)
}

fn encode_directory_entries(
    entries: &[DirectoryEntry],
    with_id: bool,
) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::new();
    for (i, e) in entries.iter().enumerate() {
        let start = w.len();
        let short_len = utf16_len(&e.short_name);
        if short_len > SHORT_NAME_FIELD_LEN {
            return Err(EncodeError::too_long(
                "FILE_BOTH_DIR_INFORMATION ShortName",
                short_len,
                SHORT_NAME_FIELD_LEN,
            ));
        }
        let short_len_u8 = wire_u8(short_len, "FILE_BOTH_DIR_INFORMATION ShortNameLength")?;
        let name_len = wire_u32(
            utf16_len(&e.file_name),
            "FILE_BOTH_DIR_INFORMATION FileNameLength",
        )?;
        w.u32(0) // NextEntryOffset, patched below
            .u32(e.file_index)
            .u64(e.creation_time)
            .u64(e.last_access_time)
            .u64(e.last_write_time)
            .u64(e.change_time)
            .u64(e.end_of_file)
            .u64(e.allocation_size)
            .u32(e.file_attributes)
            .u32(name_len)
            .u32(e.ea_size)
            .u8(short_len_u8)
            .u8(0) // Reserved1
            .utf16(&e.short_name)
            .zeros(SHORT_NAME_FIELD_LEN - short_len);
        if with_id {
            w.u16(0).u64(e.file_id); // Reserved2, FileId
        }
        w.utf16(&e.file_name);
        if i + 1 < entries.len() {
            w.align(8);
            let next = wire_u32(w.len() - start, "FILE_BOTH_DIR_INFORMATION NextEntryOffset")?;
            w.patch_u32(start, next);
        }
    }
    Ok(w.into_vec())
}

// ---------------------------------------------------------------------------
// QUERY_INFO / SET_INFO structures
// ---------------------------------------------------------------------------

/// Special time values for a FILE_BASIC_INFORMATION sent with SET_INFO
/// (MS-FSCC §2.4.7), as unsigned FILETIMEs (the wire field is a signed
/// 64-bit integer).
pub mod set_time {
    /// 0: "the server MUST NOT change this attribute".
    pub const DONT_CHANGE: u64 = 0;
    /// -1: "MUST NOT change this attribute for all subsequent operations on
    /// the same file handle".
    pub const STOP_UPDATES: u64 = u64::MAX;
    /// -2: "MUST change this attribute for all subsequent operations on the
    /// same file handle" (resume automatic updates).
    pub const RESUME_UPDATES: u64 = u64::MAX - 1;
}

/// FILE_BASIC_INFORMATION (MS-FSCC §2.4.7 FileBasicInformation), 40 bytes:
/// CreationTime, LastAccessTime, LastWriteTime, ChangeTime (8 each),
/// FileAttributes (4), Reserved (4).
///
/// Returned by QUERY_INFO and sent with SET_INFO. When setting, a time of 0
/// ([`set_time::DONT_CHANGE`]) leaves that time alone, and FileAttributes 0
/// leaves the attributes alone; to clear every attribute send
/// [`attributes::NORMAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileBasicInformation {
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// FileAttributes (see [`attributes`]).
    pub file_attributes: u32,
}

impl FileBasicInformation {
    /// Size on the wire.
    pub const LEN: usize = 40;

    /// A SET_INFO value that changes only the attributes (every time 0 =
    /// "don't change"). `file_attributes` 0 would change nothing; use
    /// [`attributes::NORMAL`] to reset all attributes.
    pub fn set_attributes(file_attributes: u32) -> Self {
        FileBasicInformation {
            file_attributes,
            ..Default::default()
        }
    }

    /// A SET_INFO value that changes only LastWriteTime.
    pub fn set_last_write_time(last_write_time: u64) -> Self {
        FileBasicInformation {
            last_write_time,
            ..Default::default()
        }
    }

    /// Decodes the 40-byte structure; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        Self::read(&mut r)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let v = FileBasicInformation {
            creation_time: r.u64("CreationTime")?,
            last_access_time: r.u64("LastAccessTime")?,
            last_write_time: r.u64("LastWriteTime")?,
            change_time: r.u64("ChangeTime")?,
            file_attributes: r.u32("FileAttributes")?,
        };
        r.skip(4, "FILE_BASIC_INFORMATION Reserved")?;
        Ok(v)
    }

    /// Appends the 40-byte structure (Reserved written as 0).
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.creation_time)
            .u64(self.last_access_time)
            .u64(self.last_write_time)
            .u64(self.change_time)
            .u32(self.file_attributes)
            .u32(0);
    }

    /// The encoded structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }
}

/// FILE_STANDARD_INFORMATION (MS-FSCC §2.4.45 FileStandardInformation), 24
/// bytes: AllocationSize (8), EndOfFile (8), NumberOfLinks (4),
/// DeletePending (1), Directory (1), Reserved (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStandardInformation {
    /// AllocationSize: bytes allocated.
    pub allocation_size: u64,
    /// EndOfFile: the file size.
    pub end_of_file: u64,
    /// NumberOfLinks: non-deleted links to the file.
    pub number_of_links: u32,
    /// DeletePending: a delete has been requested (Boolean, non-zero = TRUE).
    pub delete_pending: bool,
    /// Directory: the file is a directory (Boolean).
    pub directory: bool,
}

impl FileStandardInformation {
    /// Size on the wire.
    pub const LEN: usize = 24;

    /// Decodes the 24-byte structure; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        Self::read(&mut r)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let v = FileStandardInformation {
            allocation_size: r.u64("AllocationSize")?,
            end_of_file: r.u64("EndOfFile")?,
            number_of_links: r.u32("NumberOfLinks")?,
            delete_pending: r.u8("DeletePending")? != 0,
            directory: r.u8("Directory")? != 0,
        };
        r.skip(2, "FILE_STANDARD_INFORMATION Reserved")?;
        Ok(v)
    }

    /// Appends the 24-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.allocation_size)
            .u64(self.end_of_file)
            .u32(self.number_of_links)
            .u8(u8::from(self.delete_pending))
            .u8(u8::from(self.directory))
            .u16(0);
    }

    /// The encoded structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }
}

/// FILE_ALL_INFORMATION (MS-FSCC §2.4.2 FileAllInformation): BasicInformation
/// (40 bytes, §2.4.7), StandardInformation (24, §2.4.45),
/// InternalInformation (8, §2.4.26), EaInformation (4), AccessInformation
/// (4), PositionInformation (8), ModeInformation (4), AlignmentInformation
/// (4), NameInformation (FILE_NAME_INFORMATION, §2.1.7: FileNameLength (4)
/// then the name in UTF-16LE). The fixed part is 100 bytes.
///
/// A server whose output buffer is too small for the name answers
/// STATUS_BUFFER_OVERFLOW with the structure cut short while FileNameLength
/// still gives the full length. [`FileAllInformation::decode`] rejects such
/// a buffer; [`FileAllInformation::decode_truncated`] accepts it and returns
/// the part of the name that arrived. Use the latter only for a
/// BUFFER_OVERFLOW response, so a malformed SUCCESS response still fails.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileAllInformation {
    /// BasicInformation.
    pub basic: FileBasicInformation,
    /// StandardInformation.
    pub standard: FileStandardInformation,
    /// InternalInformation: IndexNumber, the 8-byte file reference number.
    pub internal: u64,
    /// EaInformation: EaSize.
    pub ea_size: u32,
    /// AccessInformation: AccessFlags, the access granted on the open.
    pub access_flags: u32,
    /// PositionInformation: CurrentByteOffset.
    pub position: u64,
    /// ModeInformation: Mode.
    pub mode: u32,
    /// AlignmentInformation: AlignmentRequirement.
    pub alignment: u32,
    /// NameInformation: FileName.
    pub name: String,
}

impl FileAllInformation {
    /// Size of the fixed part, up to and including FileNameLength.
    pub const FIXED_LEN: usize = 100;

    /// Decodes the structure; the name must be complete (FileNameLength
    /// bytes present) and valid UTF-16. Trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_inner(buf, false)
    }

    /// Decodes a structure whose name may have been cut short by the
    /// server (STATUS_BUFFER_OVERFLOW): the fixed 100 bytes must be present;
    /// of the name, whatever whole UTF-16 code units arrived are kept (a
    /// trailing odd byte and a dangling high surrogate are dropped). The
    /// rest of the name must still be valid UTF-16.
    pub fn decode_truncated(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_inner(buf, true)
    }

    fn decode_inner(buf: &[u8], allow_truncated_name: bool) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let basic = FileBasicInformation::read(&mut r)?;
        let standard = FileStandardInformation::read(&mut r)?;
        let internal = r.u64("IndexNumber")?;
        let ea_size = r.u32("EaSize")?;
        let access_flags = r.u32("AccessFlags")?;
        let position = r.u64("CurrentByteOffset")?;
        let mode = r.u32("Mode")?;
        let alignment = r.u32("AlignmentRequirement")?;
        let name_len = r.u32("FileNameLength")? as usize;
        let name = if allow_truncated_name && name_len > r.remaining() {
            let avail = r.remaining() & !1;
            let raw = r.take(avail, "FileName")?;
            let mut units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            if matches!(units.last(), Some(u) if (0xD800..=0xDBFF).contains(u)) {
                units.pop();
            }
            String::from_utf16(&units)
                .map_err(|_| DecodeError::invalid("FileName", "invalid UTF-16"))?
        } else {
            from_utf16le(r.take(name_len, "FileName")?, "FileName")?
        };
        Ok(FileAllInformation {
            basic,
            standard,
            internal,
            ea_size,
            access_flags,
            position,
            mode,
            alignment,
            name,
        })
    }

    /// Appends the structure (for test servers).
    ///
    /// # Errors
    ///
    /// If the name is longer than `u32::MAX` bytes of UTF-16.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let name_len = wire_u32(utf16_len(&self.name), "FILE_ALL_INFORMATION FileNameLength")?;
        self.basic.encode(w);
        self.standard.encode(w);
        w.u64(self.internal)
            .u32(self.ea_size)
            .u32(self.access_flags)
            .u64(self.position)
            .u32(self.mode)
            .u32(self.alignment)
            .u32(name_len)
            .utf16(&self.name);
        Ok(())
    }

    /// The encoded structure.
    ///
    /// # Errors
    ///
    /// As [`FileAllInformation::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_vec())
    }
}

/// FILE_NETWORK_OPEN_INFORMATION (MS-FSCC §2.4.33
/// FileNetworkOpenInformation), 56 bytes: CreationTime, LastAccessTime,
/// LastWriteTime, ChangeTime, AllocationSize, EndOfFile (8 each),
/// FileAttributes (4), Reserved (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileNetworkOpenInformation {
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndOfFile: the file size.
    pub end_of_file: u64,
    /// FileAttributes (see [`attributes`]).
    pub file_attributes: u32,
}

impl FileNetworkOpenInformation {
    /// Size on the wire.
    pub const LEN: usize = 56;

    /// Decodes the 56-byte structure; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let v = FileNetworkOpenInformation {
            creation_time: r.u64("CreationTime")?,
            last_access_time: r.u64("LastAccessTime")?,
            last_write_time: r.u64("LastWriteTime")?,
            change_time: r.u64("ChangeTime")?,
            allocation_size: r.u64("AllocationSize")?,
            end_of_file: r.u64("EndOfFile")?,
            file_attributes: r.u32("FileAttributes")?,
        };
        r.skip(4, "FILE_NETWORK_OPEN_INFORMATION Reserved")?;
        Ok(v)
    }

    /// Appends the 56-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.creation_time)
            .u64(self.last_access_time)
            .u64(self.last_write_time)
            .u64(self.change_time)
            .u64(self.allocation_size)
            .u64(self.end_of_file)
            .u32(self.file_attributes)
            .u32(0);
    }

    /// The encoded structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }
}

/// FILE_RENAME_INFORMATION_TYPE_2 (MS-FSCC §2.4 FileRenameInformation,
/// "FileRenameInformation for SMB2"): ReplaceIfExists (1), Reserved (7), RootDirectory (8),
/// FileNameLength (4), FileName (UTF-16LE, not NUL-terminated), Padding.
///
/// Sent with SET_INFO, FileInformationClass
/// [`info_class::FILE_RENAME_INFORMATION`]. In SMB2 the new name is a path
/// relative to the share root (no leading backslash), e.g. `dir\new.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileRenameInformation {
    /// ReplaceIfExists: replace an existing file of that name instead of
    /// failing.
    pub replace_if_exists: bool,
    /// RootDirectory: "For network operations, this value MUST always be
    /// zero."
    pub root_directory: u64,
    /// FileName: the new name.
    pub file_name: String,
}

impl FileRenameInformation {
    /// Size of the fixed part, up to FileName.
    pub const FIXED_LEN: usize = 20;
    /// The smallest buffer the encoder produces: the size of the native
    /// FILE_RENAME_INFORMATION structure, which Windows servers require the
    /// SET_INFO buffer to reach even for one-character names.
    pub const MIN_LEN: usize = 24;

    /// Appends the structure; the Padding field is zeros up to
    /// [`FileRenameInformation::MIN_LEN`] bytes in total (FileNameLength is
    /// not affected).
    ///
    /// # Errors
    ///
    /// If the name is longer than `u32::MAX` bytes of UTF-16.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let start = w.len();
        let name_len = wire_u32(
            utf16_len(&self.file_name),
            "FILE_RENAME_INFORMATION FileNameLength",
        )?;
        w.u8(u8::from(self.replace_if_exists))
            .zeros(7)
            .u64(self.root_directory)
            .u32(name_len)
            .utf16(&self.file_name);
        let written = w.len() - start;
        if written < Self::MIN_LEN {
            w.zeros(Self::MIN_LEN - written);
        }
        Ok(())
    }

    /// The encoded structure.
    ///
    /// # Errors
    ///
    /// As [`FileRenameInformation::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::new();
        self.encode(&mut w)?;
        Ok(w.into_vec())
    }

    /// Decodes the structure (for test servers); Reserved and any padding
    /// after FileName are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let replace_if_exists = r.u8("ReplaceIfExists")? != 0;
        r.skip(7, "FILE_RENAME_INFORMATION Reserved")?;
        let root_directory = r.u64("RootDirectory")?;
        let name_len = r.u32("FileNameLength")? as usize;
        let file_name = from_utf16le(r.take(name_len, "FileName")?, "FileName")?;
        Ok(FileRenameInformation {
            replace_if_exists,
            root_directory,
            file_name,
        })
    }
}

/// FILE_DISPOSITION_INFORMATION (MS-FSCC §2.4 FileDispositionInformation),
/// 1 byte: DeletePending. Sent with SET_INFO to mark an open file for
/// deletion on close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileDispositionInformation {
    /// DeletePending: TRUE deletes the file when the last handle closes.
    pub delete_pending: bool,
}

impl FileDispositionInformation {
    /// Size on the wire.
    pub const LEN: usize = 1;

    /// Appends the 1-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(u8::from(self.delete_pending));
    }

    /// The encoded structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        vec![u8::from(self.delete_pending)]
    }

    /// Decodes the structure (for test servers); non-zero is TRUE.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        Ok(FileDispositionInformation {
            delete_pending: r.u8("DeletePending")? != 0,
        })
    }
}

/// FILE_END_OF_FILE_INFORMATION (MS-FSCC §2.4 FileEndOfFileInformation),
/// 8 bytes: EndOfFile. Sent with SET_INFO to truncate or extend a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileEndOfFileInformation {
    /// EndOfFile: the new file size.
    pub end_of_file: u64,
}

impl FileEndOfFileInformation {
    /// Size on the wire.
    pub const LEN: usize = 8;

    /// Appends the 8-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.end_of_file);
    }

    /// The encoded structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.end_of_file.to_le_bytes().to_vec()
    }

    /// Decodes the structure (for test servers).
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        Ok(FileEndOfFileInformation {
            end_of_file: r.u64("EndOfFile")?,
        })
    }
}

/// FILE_FS_FULL_SIZE_INFORMATION (MS-FSCC §2.5.4 FileFsFullSizeInformation),
/// 32 bytes: TotalAllocationUnits, CallerAvailableAllocationUnits,
/// ActualAvailableAllocationUnits (8 each), SectorsPerAllocationUnit (4),
/// BytesPerSector (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFsFullSizeInformation {
    /// TotalAllocationUnits available to the calling user.
    pub total_allocation_units: u64,
    /// CallerAvailableAllocationUnits: free units available to the caller.
    pub caller_available_allocation_units: u64,
    /// ActualAvailableAllocationUnits: free units on the volume.
    pub actual_available_allocation_units: u64,
    /// SectorsPerAllocationUnit.
    pub sectors_per_allocation_unit: u32,
    /// BytesPerSector.
    pub bytes_per_sector: u32,
}

impl FileFsFullSizeInformation {
    /// Size on the wire.
    pub const LEN: usize = 32;

    /// Decodes the 32-byte structure; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        Ok(FileFsFullSizeInformation {
            total_allocation_units: r.u64("TotalAllocationUnits")?,
            caller_available_allocation_units: r.u64("CallerAvailableAllocationUnits")?,
            actual_available_allocation_units: r.u64("ActualAvailableAllocationUnits")?,
            sectors_per_allocation_unit: r.u32("SectorsPerAllocationUnit")?,
            bytes_per_sector: r.u32("BytesPerSector")?,
        })
    }

    /// Appends the 32-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.total_allocation_units)
            .u64(self.caller_available_allocation_units)
            .u64(self.actual_available_allocation_units)
            .u32(self.sectors_per_allocation_unit)
            .u32(self.bytes_per_sector);
    }

    /// The encoded structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }

    /// Bytes per allocation unit (SectorsPerAllocationUnit ×
    /// BytesPerSector).
    pub fn allocation_unit_bytes(&self) -> u64 {
        u64::from(self.sectors_per_allocation_unit) * u64::from(self.bytes_per_sector)
    }

    /// Total size in bytes available to the caller (saturating).
    pub fn total_bytes(&self) -> u64 {
        self.total_allocation_units
            .saturating_mul(self.allocation_unit_bytes())
    }

    /// Free bytes available to the caller (saturating).
    pub fn caller_available_bytes(&self) -> u64 {
        self.caller_available_allocation_units
            .saturating_mul(self.allocation_unit_bytes())
    }
}

/// FILE_FS_SIZE_INFORMATION (MS-FSCC §2.5.8 FileFsSizeInformation), 24
/// bytes: TotalAllocationUnits, AvailableAllocationUnits (8 each),
/// SectorsPerAllocationUnit (4), BytesPerSector (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFsSizeInformation {
    /// TotalAllocationUnits available to the calling user.
    pub total_allocation_units: u64,
    /// AvailableAllocationUnits: free units available to the caller.
    pub available_allocation_units: u64,
    /// SectorsPerAllocationUnit.
    pub sectors_per_allocation_unit: u32,
    /// BytesPerSector.
    pub bytes_per_sector: u32,
}

impl FileFsSizeInformation {
    /// Size on the wire.
    pub const LEN: usize = 24;

    /// Decodes the 24-byte structure; trailing bytes are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        Ok(FileFsSizeInformation {
            total_allocation_units: r.u64("TotalAllocationUnits")?,
            available_allocation_units: r.u64("AvailableAllocationUnits")?,
            sectors_per_allocation_unit: r.u32("SectorsPerAllocationUnit")?,
            bytes_per_sector: r.u32("BytesPerSector")?,
        })
    }

    /// Appends the 24-byte structure.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.total_allocation_units)
            .u64(self.available_allocation_units)
            .u32(self.sectors_per_allocation_unit)
            .u32(self.bytes_per_sector);
    }
}

// ---------------------------------------------------------------------------
// Previous versions (snapshots)
// ---------------------------------------------------------------------------

/// SRV_SNAPSHOT_ARRAY (MS-SMB2 §2.2.32.2), the output of
/// FSCTL_SRV_ENUMERATE_SNAPSHOTS: NumberOfSnapShots (4),
/// NumberOfSnapShotsReturned (4), SnapShotArraySize (4), then SnapShots:
/// SnapShotArraySize bytes of NUL-terminated UTF-16LE `@GMT-` tokens
/// followed by one more NUL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotArray {
    /// NumberOfSnapShots: previous versions that exist for the file.
    pub number_of_snapshots: u32,
    /// NumberOfSnapShotsReturned: tokens in [`SnapshotArray::snapshots`];
    /// 0 when the output buffer was too small for the whole array.
    pub number_returned: u32,
    /// SnapShotArraySize: bytes of the token array, or, when nothing was
    /// returned, the size needed (so the client can retry with a larger
    /// MaxOutputResponse: 12 + this).
    pub array_size: u32,
    /// The tokens, e.g. `@GMT-2024.01.01-00.00.00` (see
    /// [`parse_gmt_token`]).
    pub snapshots: Vec<String>,
}

impl SnapshotArray {
    /// A complete array listing `snapshots` (NumberOfSnapShots =
    /// NumberOfSnapShotsReturned = their count, SnapShotArraySize computed).
    ///
    /// # Errors
    ///
    /// If the count or the array size exceeds `u32::MAX`.
    pub fn from_snapshots(snapshots: Vec<String>) -> Result<Self, EncodeError> {
        let units: usize = snapshots.iter().map(|s| s.encode_utf16().count() + 1).sum();
        let array_size = if snapshots.is_empty() {
            0
        } else {
            (units + 1) * 2
        };
        let n = count_u32(
            snapshots.len(),
            "SRV_SNAPSHOT_ARRAY NumberOfSnapShots",
            "snapshots",
        )?;
        Ok(SnapshotArray {
            number_of_snapshots: n,
            number_returned: n,
            array_size: wire_u32(array_size, "SRV_SNAPSHOT_ARRAY SnapShotArraySize")?,
            snapshots,
        })
    }

    /// Encodes the structure (for test servers): the three counts as
    /// stored, then, if any snapshots are listed, each token NUL-terminated
    /// plus the final NUL. SnapShotArraySize is written as stored, so a
    /// "buffer too small" answer can be built with an empty list.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.number_of_snapshots)
            .u32(self.number_returned)
            .u32(self.array_size);
        if !self.snapshots.is_empty() {
            for s in &self.snapshots {
                w.utf16(s).u16(0);
            }
            w.u16(0);
        }
        w.into_vec()
    }
}

/// Parses an SRV_SNAPSHOT_ARRAY (MS-SMB2 §2.2.32.2).
///
/// * The 12-byte header must be present.
/// * When NumberOfSnapShotsReturned is 0 ("If the output buffer could not
///   accommodate the entire array, NumberOfSnapShotsReturned will be zero")
///   the list is empty and whatever follows the header is ignored;
///   NumberOfSnapShots and SnapShotArraySize are reported as sent, so the
///   caller can retry with a larger buffer.
/// * Otherwise SnapShotArraySize bytes must follow the header; they must be
///   a whole number of UTF-16 code units, each token must be valid UTF-16
///   and NUL-terminated, and an empty string (the extra NUL) ends the list.
///   The end of the array may also end the list. The number of tokens must
///   equal NumberOfSnapShotsReturned. Tokens are returned as sent (see
///   [`parse_gmt_token`] to interpret them).
pub fn parse_snapshot_array(buf: &[u8]) -> Result<SnapshotArray, DecodeError> {
    let mut r = Reader::new(buf);
    let number_of_snapshots = r.u32("NumberOfSnapShots")?;
    let number_returned = r.u32("NumberOfSnapShotsReturned")?;
    let array_size = r.u32("SnapShotArraySize")?;
    let mut out = SnapshotArray {
        number_of_snapshots,
        number_returned,
        array_size,
        snapshots: Vec::new(),
    };
    if number_returned == 0 {
        return Ok(out);
    }
    let array = r.slice_at(12, array_size as usize, "SnapShots")?;
    if array.len() % 2 != 0 {
        return Err(DecodeError::invalid(
            "SnapShotArraySize",
            "odd UTF-16 byte length",
        ));
    }
    let mut current: Vec<u16> = Vec::new();
    let mut terminated = false;
    for c in array.chunks_exact(2) {
        let unit = u16::from_le_bytes([c[0], c[1]]);
        if unit != 0 {
            current.push(unit);
            continue;
        }
        if current.is_empty() {
            terminated = true;
            break;
        }
        let s = String::from_utf16(&current)
            .map_err(|_| DecodeError::invalid("SnapShots", "invalid UTF-16"))?;
        out.snapshots.push(s);
        current.clear();
    }
    if !terminated && !current.is_empty() {
        return Err(DecodeError::invalid(
            "SnapShots",
            "last snapshot token is not NUL-terminated",
        ));
    }
    if out.snapshots.len() != number_returned as usize {
        return Err(DecodeError::invalid(
            "NumberOfSnapShotsReturned",
            format!(
                "says {number_returned} but the array holds {} tokens",
                out.snapshots.len()
            ),
        ));
    }
    Ok(out)
}

/// Parses a previous-version token `@GMT-YYYY.MM.DD-HH.MM.SS` (the
/// SnapShots entries of MS-SMB2 §2.2.32.2 SRV_SNAPSHOT_ARRAY) into
/// (year, month, day, hour, minute, second), UTC.
///
/// Exactly 24 characters with ASCII digits in place; the date must exist in
/// the proleptic Gregorian calendar (leap years included), hours 0–23,
/// minutes and seconds 0–59. Anything else is `None`.
pub fn parse_gmt_token(s: &str) -> Option<(i32, u8, u8, u8, u8, u8)> {
    let b = s.as_bytes();
    if b.len() != 24 || !s.starts_with("@GMT-") {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &b[range];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    };
    let seps = [(9, b'.'), (12, b'.'), (15, b'-'), (18, b'.'), (21, b'.')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let year = num(5..9)?;
    let month = num(10..12)?;
    let day = num(13..15)?;
    let hour = num(16..18)?;
    let minute = num(19..21)?;
    let second = num(22..24)?;
    let year = year as i32;
    if !(1..=12).contains(&month)
        || day < 1
        || day > u32::from(days_in_month(year, month as u8))
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some((
        year,
        month as u8,
        day as u8,
        hour as u8,
        minute as u8,
        second as u8,
    ))
}

/// Converts a `@GMT-` token (see [`parse_gmt_token`]) to Unix seconds (UTC).
/// E.g. `@GMT-2024.01.01-00.00.00` → 1704067200.
pub fn gmt_token_to_unix(s: &str) -> Option<i64> {
    let (y, mo, d, h, mi, se) = parse_gmt_token(s)?;
    Some(
        days_from_civil(y, mo, d) * 86_400
            + i64::from(h) * 3_600
            + i64::from(mi) * 60
            + i64::from(se),
    )
}

/// Formats Unix seconds (UTC) as a `@GMT-YYYY.MM.DD-HH.MM.SS` token (the
/// inverse of [`gmt_token_to_unix`]); `None` outside years 0000–9999.
pub fn format_gmt_token(unix_secs: i64) -> Option<String> {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "@GMT-{y:04}.{m:02}.{d:02}-{:02}.{:02}.{:02}",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    ))
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian
/// calendar (negative before 1970). `month` is 1–12 and `day` 1–31; other
/// values give an unspecified (but non-panicking) result.
pub fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let m = i64::from(month);
    let d = i64::from(day);
    let y = i64::from(year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month 1–12, day 1–31) that is `days`
/// days after 1970-01-01 (the inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i128::from(m <= 2);
    // |days| < 2^63 days is < 2^55 years: always fits.
    (y as i64, m, d)
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, short: &str, attrs: u32, id: u64) -> DirectoryEntry {
        DirectoryEntry {
            file_index: 0,
            creation_time: 133_485_408_000_000_000,
            last_access_time: 133_485_408_010_000_000,
            last_write_time: 133_485_408_020_000_000,
            change_time: 133_485_408_030_000_000,
            end_of_file: 12_345,
            allocation_size: 16_384,
            file_attributes: attrs,
            ea_size: 0,
            short_name: short.to_string(),
            file_id: id,
            file_name: name.to_string(),
        }
    }

    fn sample_entries(with_id: bool) -> Vec<DirectoryEntry> {
        let id = |v: u64| if with_id { v } else { 0 };
        vec![
            entry(".", "", attributes::DIRECTORY, id(1)),
            entry("..", "", attributes::DIRECTORY, id(2)),
            entry(
                "Long File Name.txt",
                "LONGFI~1.TXT",
                attributes::ARCHIVE,
                id(0x1234_5678_9abc),
            ),
            entry("réseau 😀 文件", "", attributes::NORMAL, id(u64::MAX)),
            entry("a", "A", attributes::HIDDEN | attributes::READONLY, id(7)),
        ]
    }

    // ---- search filter -------------------------------------------------

    #[test]
    fn search_default_lists_everything() {
        assert_eq!(search::DEFAULT, 0x10037);
        assert_eq!(search::DEFAULT, 65591);
        for attrs in [
            0,
            attributes::NORMAL,
            attributes::DIRECTORY,
            attributes::ARCHIVE,
            attributes::HIDDEN,
            attributes::READONLY | attributes::ARCHIVE,
            attributes::SYSTEM,
            attributes::TEMPORARY,
            attributes::NORMAL | attributes::NOT_CONTENT_INDEXED,
        ] {
            assert!(search_matches(search::DEFAULT, attrs), "{attrs:#x}");
        }
    }

    #[test]
    fn search_filter_semantics() {
        use attributes as a;
        use search as s;
        // Directories only.
        assert!(search_matches(s::DIRECTORY, a::DIRECTORY));
        assert!(search_matches(
            s::DIRECTORY,
            a::DIRECTORY | a::NOT_CONTENT_INDEXED
        ));
        assert!(!search_matches(s::DIRECTORY, a::NORMAL));
        assert!(!search_matches(s::DIRECTORY, a::ARCHIVE));
        assert!(!search_matches(s::DIRECTORY, 0));
        // Files only (the reference's own test uses this combination).
        let files = s::READONLY | s::HIDDEN | s::SYSTEM | s::ARCHIVE | s::INCL_NORMAL;
        assert!(search_matches(files, a::NORMAL));
        assert!(search_matches(files, 0));
        assert!(search_matches(files, a::ARCHIVE));
        assert!(!search_matches(files, a::DIRECTORY));
        // Without INCL_NORMAL, plain files are dropped.
        assert!(!search_matches(s::ARCHIVE, a::NORMAL));
        assert!(search_matches(s::ARCHIVE, a::ARCHIVE));
        // Search 0 means "normal files only".
        assert!(search_matches(s::NORMAL, a::NORMAL));
        assert!(search_matches(s::NORMAL, 0));
        assert!(search_matches(s::NORMAL, a::TEMPORARY));
        assert!(!search_matches(s::NORMAL, a::ARCHIVE));
        assert!(!search_matches(s::NORMAL, a::DIRECTORY));
        // Only the low 8 bits decide "normal": 0x100 alone is normal...
        assert!(!search_matches(s::READONLY, a::TEMPORARY));
        assert!(search_matches(s::INCL_NORMAL, a::TEMPORARY | a::NORMAL));
        // ...and NORMAL with another low bit is not.
        assert!(search_matches(s::READONLY, a::NORMAL | a::READONLY));
        assert!(!search_matches(s::INCL_NORMAL, a::NORMAL | a::READONLY));
        // Non-normal entries compare all 32 bits.
        assert!(search_matches(s::INCL_NORMAL, a::ARCHIVE | 0x1_0000));
    }

    // ---- directory entries ---------------------------------------------

    #[test]
    fn id_both_directory_round_trip() {
        let entries = sample_entries(true);
        let buf = encode_id_both_directory_information(&entries).unwrap();
        assert_eq!(parse_id_both_directory_information(&buf).unwrap(), entries);
        // Each NextEntryOffset is a multiple of 8.
        let first_next = u32::from_le_bytes(buf[0..4].try_into().unwrap());
        assert_eq!(first_next, 104 + 2 + 6); // "." = 2 bytes, padded to 112
    }

    #[test]
    fn both_directory_round_trip() {
        let entries = sample_entries(false);
        let buf = encode_both_directory_information(&entries).unwrap();
        assert_eq!(parse_both_directory_information(&buf).unwrap(), entries);
        let first_next = u32::from_le_bytes(buf[0..4].try_into().unwrap());
        assert_eq!(first_next, 96); // 94 + 2, padded to 96
    }

    #[test]
    fn directory_entry_layout() {
        let e = entry("x.txt", "X.TXT", attributes::ARCHIVE, 0x0102_0304_0506_0708);
        let buf = encode_id_both_directory_information(std::slice::from_ref(&e)).unwrap();
        assert_eq!(buf.len(), 104 + 10);
        assert_eq!(&buf[60..64], &10u32.to_le_bytes()); // FileNameLength
        assert_eq!(&buf[56..60], &attributes::ARCHIVE.to_le_bytes());
        assert_eq!(buf[68], 10); // ShortNameLength
        assert_eq!(&buf[96..104], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&buf[104..], crate::codec::utf16le("x.txt").as_slice());
        let both = encode_both_directory_information(std::slice::from_ref(&e)).unwrap();
        assert_eq!(both.len(), 94 + 10);
        assert_eq!(&both[94..], crate::codec::utf16le("x.txt").as_slice());
    }

    #[test]
    fn every_truncation_is_an_error() {
        for with_id in [true, false] {
            let entries = sample_entries(with_id);
            let buf = if with_id {
                encode_id_both_directory_information(&entries).unwrap()
            } else {
                encode_both_directory_information(&entries).unwrap()
            };
            for len in 0..buf.len() {
                let cut = &buf[..len];
                let res = if with_id {
                    parse_id_both_directory_information(cut)
                } else {
                    parse_both_directory_information(cut)
                };
                assert!(res.is_err(), "with_id={with_id} len={len}");
            }
        }
    }

    fn set_next(buf: &mut [u8], at: usize, v: u32) {
        buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn next_entry_offset_must_make_progress_and_stay_inside() {
        let entries = sample_entries(true);
        let good = encode_id_both_directory_information(&entries).unwrap();
        let first_len = 104 + 2; // "."
        for bad in [
            1u32,                  // no real progress, unaligned
            8,                     // points inside the entry it follows
            first_len as u32 - 2,  // overlaps the name
            112 + 4,               // unaligned
            good.len() as u32,     // exactly the end
            good.len() as u32 + 8, // past the end
            0xFFFF_FFF8,           // "backwards" if added with wrap-around
            u32::MAX,              // huge
        ] {
            let mut buf = good.clone();
            set_next(&mut buf, 0, bad);
            assert!(
                parse_id_both_directory_information(&buf).is_err(),
                "NextEntryOffset {bad:#x}"
            );
        }
        // A self-referencing chain cannot loop: offset 0 would end the list,
        // anything smaller than the entry is refused.
        let mut buf = good.clone();
        set_next(&mut buf, 112, 0); // second entry ends the chain early
        assert_eq!(parse_id_both_directory_information(&buf).unwrap().len(), 2);
    }

    #[test]
    fn trailing_bytes_after_last_entry_are_ignored() {
        let entries = sample_entries(true);
        let mut buf = encode_id_both_directory_information(&entries).unwrap();
        buf.extend_from_slice(&[0u8; 6]);
        assert_eq!(parse_id_both_directory_information(&buf).unwrap(), entries);
    }

    #[test]
    fn bad_names_are_errors() {
        let e = entry("ab", "AB", 0, 1);
        let good = encode_id_both_directory_information(std::slice::from_ref(&e)).unwrap();
        // ShortNameLength beyond the 24-byte field.
        let mut buf = good.clone();
        buf[68] = 26;
        assert!(parse_id_both_directory_information(&buf).is_err());
        buf[68] = 24; // allowed length, but the rest of the field is NULs: fine
        assert!(parse_id_both_directory_information(&buf).is_ok());
        // Odd ShortNameLength.
        let mut buf = good.clone();
        buf[68] = 3;
        assert!(parse_id_both_directory_information(&buf).is_err());
        // Unpaired surrogate in FileName.
        let mut buf = good.clone();
        buf[104..106].copy_from_slice(&0xD800u16.to_le_bytes());
        assert!(parse_id_both_directory_information(&buf).is_err());
        // Odd FileNameLength.
        let mut buf = good.clone();
        buf[60..64].copy_from_slice(&3u32.to_le_bytes());
        assert!(parse_id_both_directory_information(&buf).is_err());
        // FileNameLength past the end (and u32::MAX must not overflow).
        let mut buf = good;
        buf[60..64].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_id_both_directory_information(&buf).is_err());
    }

    #[test]
    fn many_small_entries_are_bounded_by_input() {
        let entries: Vec<_> = (0..500).map(|i| entry("", "", 0, i)).collect();
        let buf = encode_id_both_directory_information(&entries).unwrap();
        assert_eq!(buf.len(), 500 * 104);
        assert_eq!(
            parse_id_both_directory_information(&buf).unwrap().len(),
            500
        );
    }

    // ---- info structures -----------------------------------------------

    #[test]
    fn basic_information_round_trip_and_truncation() {
        let b = FileBasicInformation {
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            file_attributes: attributes::ARCHIVE | attributes::HIDDEN,
        };
        let bytes = b.to_bytes();
        assert_eq!(bytes.len(), FileBasicInformation::LEN);
        assert_eq!(FileBasicInformation::decode(&bytes).unwrap(), b);
        for len in 0..bytes.len() {
            assert!(FileBasicInformation::decode(&bytes[..len]).is_err());
        }
        let reset = FileBasicInformation::set_attributes(attributes::NORMAL).to_bytes();
        assert_eq!(&reset[..32], &[0u8; 32]);
        assert_eq!(&reset[32..36], &0x80u32.to_le_bytes());
        assert_eq!(set_time::STOP_UPDATES as i64, -1);
        assert_eq!(set_time::RESUME_UPDATES as i64, -2);
    }

    #[test]
    fn standard_information_round_trip() {
        let s = FileStandardInformation {
            allocation_size: 4096,
            end_of_file: 10,
            number_of_links: 1,
            delete_pending: false,
            directory: true,
        };
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), 24);
        assert_eq!(FileStandardInformation::decode(&bytes).unwrap(), s);
        for len in 0..bytes.len() {
            assert!(FileStandardInformation::decode(&bytes[..len]).is_err());
        }
        let mut odd = bytes.clone();
        odd[20] = 7; // any non-zero Boolean is TRUE
        assert!(
            FileStandardInformation::decode(&odd)
                .unwrap()
                .delete_pending
        );
    }

    fn sample_all() -> FileAllInformation {
        FileAllInformation {
            basic: FileBasicInformation {
                creation_time: 11,
                last_access_time: 12,
                last_write_time: 13,
                change_time: 14,
                file_attributes: attributes::ARCHIVE,
            },
            standard: FileStandardInformation {
                allocation_size: 8192,
                end_of_file: 5000,
                number_of_links: 1,
                delete_pending: false,
                directory: false,
            },
            internal: 0xdead_beef,
            ea_size: 0,
            access_flags: 0x0012_019f,
            position: 0,
            mode: 0x20,
            alignment: 0,
            name: "\\dir\\😀 file.txt".to_string(),
        }
    }

    #[test]
    fn all_information_round_trip_and_layout() {
        let a = sample_all();
        let bytes = a.to_bytes().unwrap();
        let name_bytes = crate::codec::utf16le(&a.name).len();
        assert_eq!(bytes.len(), FileAllInformation::FIXED_LEN + name_bytes);
        assert_eq!(&bytes[96..100], &(name_bytes as u32).to_le_bytes());
        assert_eq!(FileAllInformation::decode(&bytes).unwrap(), a);
        assert_eq!(FileAllInformation::decode_truncated(&bytes).unwrap(), a);
    }

    #[test]
    fn all_information_truncation() {
        let a = sample_all();
        let bytes = a.to_bytes().unwrap();
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            assert!(FileAllInformation::decode(cut).is_err(), "strict len={len}");
            let lenient = FileAllInformation::decode_truncated(cut);
            if len < FileAllInformation::FIXED_LEN {
                assert!(lenient.is_err(), "lenient len={len}");
            } else {
                // The name that arrived is a prefix of the real one; a cut
                // inside the surrogate pair drops the dangling half.
                let got = lenient.unwrap().name;
                assert!(a.name.starts_with(&got), "len={len} got={got:?}");
            }
        }
        // Invalid UTF-16 in the part that arrived is still an error.
        let mut bad = bytes[..104].to_vec();
        bad[100..102].copy_from_slice(&0xDC00u16.to_le_bytes());
        assert!(FileAllInformation::decode_truncated(&bad).is_err());
    }

    #[test]
    fn network_open_information_round_trip() {
        let n = FileNetworkOpenInformation {
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            allocation_size: 5,
            end_of_file: 6,
            file_attributes: attributes::DIRECTORY,
        };
        let bytes = n.to_bytes();
        assert_eq!(bytes.len(), 56);
        assert_eq!(FileNetworkOpenInformation::decode(&bytes).unwrap(), n);
        for len in 0..bytes.len() {
            assert!(FileNetworkOpenInformation::decode(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn rename_information_layout() {
        let r = FileRenameInformation {
            replace_if_exists: true,
            root_directory: 0,
            file_name: "dir\\new.txt".to_string(),
        };
        let bytes = r.to_bytes().unwrap();
        assert_eq!(bytes.len(), 20 + 22);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..16], &[0u8; 15]);
        assert_eq!(&bytes[16..20], &22u32.to_le_bytes());
        assert_eq!(
            &bytes[20..],
            crate::codec::utf16le("dir\\new.txt").as_slice()
        );
        assert_eq!(FileRenameInformation::decode(&bytes).unwrap(), r);
        // One-character names are padded to the 24-byte minimum.
        let short = FileRenameInformation {
            replace_if_exists: false,
            root_directory: 0,
            file_name: "a".to_string(),
        };
        let bytes = short.to_bytes().unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[16..20], &2u32.to_le_bytes());
        assert_eq!(FileRenameInformation::decode(&bytes).unwrap(), short);
        for len in 0..22 {
            assert!(FileRenameInformation::decode(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn small_set_info_structures() {
        assert_eq!(
            FileDispositionInformation {
                delete_pending: true
            }
            .to_bytes(),
            vec![1]
        );
        assert!(
            FileDispositionInformation::decode(&[1])
                .unwrap()
                .delete_pending
        );
        assert!(FileDispositionInformation::decode(&[]).is_err());
        let eof = FileEndOfFileInformation {
            end_of_file: 0x1_0000_0001,
        };
        assert_eq!(eof.to_bytes(), 0x1_0000_0001u64.to_le_bytes().to_vec());
        assert_eq!(
            FileEndOfFileInformation::decode(&eof.to_bytes()).unwrap(),
            eof
        );
        assert!(FileEndOfFileInformation::decode(&[0; 7]).is_err());
        let mut w = Writer::new();
        eof.encode(&mut w);
        FileDispositionInformation::default().encode(&mut w);
        assert_eq!(w.len(), 9);
    }

    #[test]
    fn fs_full_size_information() {
        let f = FileFsFullSizeInformation {
            total_allocation_units: 1_000,
            caller_available_allocation_units: 400,
            actual_available_allocation_units: 500,
            sectors_per_allocation_unit: 8,
            bytes_per_sector: 512,
        };
        let bytes = f.to_bytes();
        assert_eq!(bytes.len(), 32);
        assert_eq!(FileFsFullSizeInformation::decode(&bytes).unwrap(), f);
        assert_eq!(f.allocation_unit_bytes(), 4096);
        assert_eq!(f.total_bytes(), 4_096_000);
        assert_eq!(f.caller_available_bytes(), 1_638_400);
        for len in 0..bytes.len() {
            assert!(FileFsFullSizeInformation::decode(&bytes[..len]).is_err());
        }
        let huge = FileFsFullSizeInformation {
            total_allocation_units: u64::MAX,
            sectors_per_allocation_unit: u32::MAX,
            bytes_per_sector: u32::MAX,
            ..f
        };
        assert_eq!(huge.total_bytes(), u64::MAX);
        let s = FileFsSizeInformation {
            total_allocation_units: 10,
            available_allocation_units: 5,
            sectors_per_allocation_unit: 1,
            bytes_per_sector: 4096,
        };
        let mut w = Writer::new();
        s.encode(&mut w);
        assert_eq!(w.len(), FileFsSizeInformation::LEN);
        assert_eq!(FileFsSizeInformation::decode(w.as_slice()).unwrap(), s);
        assert!(FileFsSizeInformation::decode(&w.as_slice()[..23]).is_err());
    }

    // ---- snapshots -----------------------------------------------------

    const T1: &str = "@GMT-2024.01.01-00.00.00";
    const T2: &str = "@GMT-2023.12.31-23.59.59";

    fn raw_snapshots(
        n: u32,
        returned: u32,
        size: u32,
        tokens: &[&str],
        extra_nul: bool,
    ) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(n).u32(returned).u32(size);
        for t in tokens {
            w.utf16(t).u16(0);
        }
        if extra_nul {
            w.u16(0);
        }
        w.into_vec()
    }

    #[test]
    fn snapshot_array_zero_one_two() {
        // No previous versions.
        let zero = raw_snapshots(0, 0, 0, &[], false);
        let a = parse_snapshot_array(&zero).unwrap();
        assert_eq!(
            (a.number_of_snapshots, a.number_returned, a.snapshots.len()),
            (0, 0, 0)
        );
        // Windows pads the answer to 16 bytes.
        let zero16 = raw_snapshots(0, 0, 2, &[], true);
        assert!(parse_snapshot_array(&zero16).unwrap().snapshots.is_empty());

        let one = raw_snapshots(1, 1, 50 + 2, &[T1], true);
        let a = parse_snapshot_array(&one).unwrap();
        assert_eq!(a.snapshots, vec![T1.to_string()]);
        assert_eq!(a.array_size, 52);

        let two = raw_snapshots(2, 2, 102, &[T1, T2], true);
        let a = parse_snapshot_array(&two).unwrap();
        assert_eq!(a.snapshots, vec![T1.to_string(), T2.to_string()]);
        assert_eq!(
            SnapshotArray::from_snapshots(a.snapshots.clone()).unwrap(),
            a
        );
        assert_eq!(a.to_bytes(), two);
    }

    #[test]
    fn snapshot_array_buffer_too_small() {
        // MaxOutputResponse too small: nothing returned, size needed given.
        let buf = raw_snapshots(2, 0, 102, &[], false);
        let a = parse_snapshot_array(&buf).unwrap();
        assert_eq!(a.number_of_snapshots, 2);
        assert_eq!(a.number_returned, 0);
        assert_eq!(a.array_size, 102);
        assert!(a.snapshots.is_empty());
        let mut padded = buf.clone();
        padded.extend_from_slice(&[0, 0]);
        assert_eq!(parse_snapshot_array(&padded).unwrap(), a);
        assert_eq!(a.to_bytes(), buf);
    }

    #[test]
    fn snapshot_array_errors() {
        let two = raw_snapshots(2, 2, 102, &[T1, T2], true);
        for len in 0..two.len() {
            assert!(parse_snapshot_array(&two[..len]).is_err(), "len={len}");
        }
        // Array size past the buffer.
        assert!(parse_snapshot_array(&raw_snapshots(1, 1, 54, &[T1], true)).is_err());
        assert!(parse_snapshot_array(&raw_snapshots(1, 1, u32::MAX, &[T1], true)).is_err());
        // Odd array size.
        let mut odd = raw_snapshots(1, 1, 51, &[T1], true);
        odd.push(0);
        assert!(parse_snapshot_array(&odd).is_err());
        // Unterminated token.
        let mut w = Writer::new();
        w.u32(1).u32(1).u32(48).utf16(T1);
        assert!(parse_snapshot_array(w.as_slice()).is_err());
        // Count mismatch.
        assert!(parse_snapshot_array(&raw_snapshots(2, 2, 52, &[T1], true)).is_err());
        assert!(parse_snapshot_array(&raw_snapshots(1, 1, 102, &[T1, T2], true)).is_err());
        // Invalid UTF-16.
        let mut w = Writer::new();
        w.u32(1).u32(1).u32(6).u16(0xD800).u16(0).u16(0);
        assert!(parse_snapshot_array(w.as_slice()).is_err());
        // The final extra NUL may be missing when the array ends there.
        let no_extra = raw_snapshots(1, 1, 50, &[T1], false);
        assert_eq!(parse_snapshot_array(&no_extra).unwrap().snapshots, vec![T1]);
    }

    // ---- @GMT tokens and calendar --------------------------------------

    #[test]
    fn gmt_tokens() {
        assert_eq!(parse_gmt_token(T1), Some((2024, 1, 1, 0, 0, 0)));
        assert_eq!(gmt_token_to_unix(T1), Some(1_704_067_200));
        assert_eq!(gmt_token_to_unix("@GMT-1970.01.01-00.00.00"), Some(0));
        assert_eq!(gmt_token_to_unix(T2), Some(1_704_067_199));
        assert_eq!(
            gmt_token_to_unix("@GMT-2024.02.29-12.34.56"),
            Some(1_709_210_096)
        );
        assert_eq!(gmt_token_to_unix("@GMT-1969.12.31-23.59.59"), Some(-1));
        for bad in [
            "",
            "@GMT-2024.01.01-00.00.0",
            "@GMT-2024.01.01-00.00.000",
            "GMT-2024.01.01-00.00.00x",
            "@gmt-2024.01.01-00.00.00",
            "@GMT-2024-01-01-00.00.00",
            "@GMT-2024.13.01-00.00.00",
            "@GMT-2024.00.01-00.00.00",
            "@GMT-2024.01.00-00.00.00",
            "@GMT-2023.02.29-00.00.00",
            "@GMT-1900.02.29-00.00.00",
            "@GMT-2024.04.31-00.00.00",
            "@GMT-2024.01.01-24.00.00",
            "@GMT-2024.01.01-00.60.00",
            "@GMT-2024.01.01-00.00.60",
            "@GMT-+024.01.01-00.00.00",
            "@GMT-2024.01.01-00.00.0\u{e9}",
        ] {
            assert_eq!(parse_gmt_token(bad), None, "{bad:?}");
        }
        assert!(parse_gmt_token("@GMT-2000.02.29-00.00.00").is_some());
    }

    #[test]
    fn gmt_format_round_trip() {
        assert_eq!(format_gmt_token(1_704_067_200).as_deref(), Some(T1));
        for secs in [
            0i64,
            -1,
            1_709_210_096,
            -62_167_219_200, // 0000-01-01
            253_402_300_799, // 9999-12-31 23:59:59
            951_782_400,     // 2000-02-29
        ] {
            let t = format_gmt_token(secs).unwrap();
            assert_eq!(gmt_token_to_unix(&t), Some(secs), "{t}");
        }
        assert_eq!(format_gmt_token(253_402_300_800), None);
        assert_eq!(format_gmt_token(-62_167_219_201), None);
        assert_eq!(format_gmt_token(i64::MIN), None);
        assert_eq!(format_gmt_token(i64::MAX), None);
    }

    #[test]
    fn civil_day_conversions() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1601, 1, 1), -134_774);
        assert_eq!(civil_from_days(-134_774), (1601, 1, 1));
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y as i32, m, dd), d);
        }
        // Extremes do not overflow.
        let _ = civil_from_days(i64::MAX);
        let _ = civil_from_days(i64::MIN);
        let _ = days_from_civil(i32::MIN, 1, 1);
        let _ = days_from_civil(i32::MAX, 12, 31);
    }

    // ---- FILETIME ------------------------------------------------------

    #[test]
    fn filetime_conversions() {
        assert_eq!(filetime_to_unix(FILETIME_UNIX_EPOCH), 0.0);
        assert_eq!(filetime_to_unix(133_485_408_000_000_000), 1_704_067_200.0);
        assert_eq!(filetime_to_unix(133_485_408_005_000_000), 1_704_067_200.5);
        assert_eq!(filetime_to_unix(0), -11_644_473_600.0);
        assert!(filetime_to_unix(u64::MAX).is_finite());

        assert_eq!(unix_to_filetime(0, 0), FILETIME_UNIX_EPOCH);
        assert_eq!(
            unix_to_filetime(1_704_067_200, 500_000_099),
            133_485_408_005_000_000
        );
        assert_eq!(unix_to_filetime(-11_644_473_600, 0), 0);
        assert_eq!(unix_to_filetime(-11_644_473_601, 0), 0);
        assert_eq!(unix_to_filetime(i64::MIN, 0), 0);
        assert_eq!(unix_to_filetime(i64::MAX, u32::MAX), u64::MAX);

        let t = filetime_to_system_time(133_485_408_005_000_000).unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap(),
            Duration::new(1_704_067_200, 500_000_000)
        );
        assert_eq!(system_time_to_filetime(t), 133_485_408_005_000_000);
        let before = filetime_to_system_time(FILETIME_UNIX_EPOCH - 5_000_000).unwrap();
        assert_eq!(
            UNIX_EPOCH.duration_since(before).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            system_time_to_filetime(before),
            FILETIME_UNIX_EPOCH - 5_000_000
        );
        if let Some(t0) = filetime_to_system_time(0) {
            assert_eq!(system_time_to_filetime(t0), 0);
        }
        if let Some(tmax) = filetime_to_system_time(u64::MAX) {
            assert_eq!(system_time_to_filetime(tmax), u64::MAX);
        }
    }

    /// xorshift64*: deterministic pseudo-random bytes for the no-panic test.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn no_panic_on_mutated_or_random_input() {
        let seeds: Vec<Vec<u8>> = vec![
            encode_id_both_directory_information(&sample_entries(true)).unwrap(),
            encode_both_directory_information(&sample_entries(false)).unwrap(),
            sample_all().to_bytes().unwrap(),
            SnapshotArray::from_snapshots(vec![T1.into(), T2.into()])
                .unwrap()
                .to_bytes(),
            FileRenameInformation {
                replace_if_exists: true,
                root_directory: 0,
                file_name: "x".into(),
            }
            .to_bytes()
            .unwrap(),
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..20_000 {
            let mut buf = if round % 4 == 0 {
                let len = (rng(&mut state) % 300) as usize;
                (0..len).map(|_| rng(&mut state) as u8).collect()
            } else {
                seeds[round % seeds.len()].clone()
            };
            if !buf.is_empty() {
                for _ in 0..1 + rng(&mut state) % 4 {
                    let i = (rng(&mut state) as usize) % buf.len();
                    buf[i] = rng(&mut state) as u8;
                }
                if rng(&mut state).is_multiple_of(3) {
                    let cut = (rng(&mut state) as usize) % (buf.len() + 1);
                    buf.truncate(cut);
                }
            }
            let _ = parse_id_both_directory_information(&buf);
            let _ = parse_both_directory_information(&buf);
            let _ = FileAllInformation::decode(&buf);
            let _ = FileAllInformation::decode_truncated(&buf);
            let _ = FileBasicInformation::decode(&buf);
            let _ = FileStandardInformation::decode(&buf);
            let _ = FileNetworkOpenInformation::decode(&buf);
            let _ = FileRenameInformation::decode(&buf);
            let _ = FileFsFullSizeInformation::decode(&buf);
            if let Ok(a) = parse_snapshot_array(&buf) {
                for s in &a.snapshots {
                    let _ = gmt_token_to_unix(s);
                }
            }
            if buf.len() >= 8 {
                let v = u64::from_le_bytes(buf[..8].try_into().unwrap());
                let _ = filetime_to_unix(v);
                let _ = filetime_to_system_time(v);
                let _ = format_gmt_token(v as i64);
                let _ = unix_to_filetime(v as i64, v as u32);
            }
        }
    }

    #[test]
    fn short_name_limit() {
        use crate::codec::testutil::{assert_too_large, name};
        // ShortName is a 24-byte field: 12 UTF-16 code units.
        let e = entry("LONG NAME.TXT", &name(12), attributes::NORMAL, 1);
        let buf = encode_id_both_directory_information(std::slice::from_ref(&e)).unwrap();
        assert_eq!(parse_id_both_directory_information(&buf).unwrap(), vec![e]);
        let e = entry("LONG NAME.TXT", &name(13), attributes::NORMAL, 1);
        assert_too_large(
            encode_both_directory_information(&[e]),
            "FILE_BOTH_DIR_INFORMATION ShortName",
            26,
            24,
        );
    }
}
