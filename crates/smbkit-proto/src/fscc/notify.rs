//! Directory change notifications: the completion filter a client watches
//! a folder with, and the FILE_NOTIFY_INFORMATION entries the server
//! answers with (MS-FSCC §2.7.1 FILE_NOTIFY_INFORMATION, §2.4.42 in earlier
//! revisions). SMB 2/3 carries them in the CHANGE_NOTIFY response's output
//! buffer (MS-SMB2 §2.2.36), SMB1 in the NT_Trans_Parameters of the
//! NT_TRANSACT_NOTIFY_CHANGE response (MS-CIFS §2.2.7.4.2).

use crate::codec::{from_utf16le, utf16_len, wire_u32, DecodeError, EncodeError, Reader, Writer};

/// CompletionFilter bits (MS-SMB2 §2.2.35, MS-CIFS §2.2.7.4.1): the kinds
/// of change that complete a notify request. Values outside these are
/// ignored by servers.
pub mod filter {
    /// FILE_NOTIFY_CHANGE_FILE_NAME: a file was created, deleted or
    /// renamed.
    pub const FILE_NAME: u32 = 0x0000_0001;
    /// FILE_NOTIFY_CHANGE_DIR_NAME: a folder was created, deleted or
    /// renamed.
    pub const DIR_NAME: u32 = 0x0000_0002;
    /// FILE_NOTIFY_CHANGE_NAME (MS-CIFS): [`FILE_NAME`] | [`DIR_NAME`].
    pub const NAME: u32 = FILE_NAME | DIR_NAME;
    /// FILE_NOTIFY_CHANGE_ATTRIBUTES: attributes changed.
    pub const ATTRIBUTES: u32 = 0x0000_0004;
    /// FILE_NOTIFY_CHANGE_SIZE: a file's size changed.
    pub const SIZE: u32 = 0x0000_0008;
    /// FILE_NOTIFY_CHANGE_LAST_WRITE: the time of last write changed.
    pub const LAST_WRITE: u32 = 0x0000_0010;
    /// FILE_NOTIFY_CHANGE_LAST_ACCESS: the time of last access changed.
    pub const LAST_ACCESS: u32 = 0x0000_0020;
    /// FILE_NOTIFY_CHANGE_CREATION: the creation time changed.
    pub const CREATION: u32 = 0x0000_0040;
    /// FILE_NOTIFY_CHANGE_EA: extended attributes changed.
    pub const EA: u32 = 0x0000_0080;
    /// FILE_NOTIFY_CHANGE_SECURITY: the security descriptor changed.
    pub const SECURITY: u32 = 0x0000_0100;
    /// FILE_NOTIFY_CHANGE_STREAM_NAME: a named stream was added, removed
    /// or renamed.
    pub const STREAM_NAME: u32 = 0x0000_0200;
    /// FILE_NOTIFY_CHANGE_STREAM_SIZE: a named stream's size changed.
    pub const STREAM_SIZE: u32 = 0x0000_0400;
    /// FILE_NOTIFY_CHANGE_STREAM_WRITE: a named stream was written.
    pub const STREAM_WRITE: u32 = 0x0000_0800;
    /// Every bit above.
    pub const ALL: u32 = 0x0000_0FFF;
}

crate::wire_enum! {
    /// The Action of a FILE_NOTIFY_INFORMATION entry (MS-FSCC §2.7.1):
    /// what happened to the file it names. Unknown values are kept.
    pub struct FileAction(u32) {
        /// FILE_ACTION_ADDED: the file was added to the folder.
        ADDED = 0x0000_0001,
        /// FILE_ACTION_REMOVED: the file was removed from the folder.
        REMOVED = 0x0000_0002,
        /// FILE_ACTION_MODIFIED: the file was modified (its data, times
        /// or attributes).
        MODIFIED = 0x0000_0003,
        /// FILE_ACTION_RENAMED_OLD_NAME: the file was renamed; this is its
        /// old name.
        RENAMED_OLD_NAME = 0x0000_0004,
        /// FILE_ACTION_RENAMED_NEW_NAME: the file was renamed; this is its
        /// new name.
        RENAMED_NEW_NAME = 0x0000_0005,
        /// FILE_ACTION_ADDED_STREAM: a named stream was added to the file.
        ADDED_STREAM = 0x0000_0006,
        /// FILE_ACTION_REMOVED_STREAM: a named stream was removed.
        REMOVED_STREAM = 0x0000_0007,
        /// FILE_ACTION_MODIFIED_STREAM: a named stream was modified.
        MODIFIED_STREAM = 0x0000_0008,
        /// FILE_ACTION_REMOVED_BY_DELETE: an object id was removed with
        /// its file.
        REMOVED_BY_DELETE = 0x0000_0009,
        /// FILE_ACTION_ID_NOT_TUNNELLED: an object id could not be
        /// tunnelled.
        ID_NOT_TUNNELLED = 0x0000_000A,
        /// FILE_ACTION_TUNNELLED_ID_COLLISION: a tunnelled object id
        /// collided.
        TUNNELLED_ID_COLLISION = 0x0000_000B,
    }
}

/// The fixed part of a FILE_NOTIFY_INFORMATION entry: NextEntryOffset,
/// Action, FileNameLength.
pub const NOTIFY_FIXED_LEN: usize = 12;

/// One FILE_NOTIFY_INFORMATION entry (MS-FSCC §2.7.1): NextEntryOffset
/// (4), Action (4), FileNameLength (4), FileName (FileNameLength bytes of
/// UTF-16LE, not terminated), padded to a 4-byte boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNotifyInformation {
    /// What happened.
    pub action: FileAction,
    /// The name, relative to the watched folder (with backslashes below
    /// it, for a recursive watch).
    pub file_name: String,
}

/// Parses a chain of FILE_NOTIFY_INFORMATION entries (the output buffer of
/// an SMB2 CHANGE_NOTIFY response, the parameters of an SMB1
/// NT_TRANSACT_NOTIFY_CHANGE response). An empty buffer has no entries
/// (what a server sends when the changes did not fit: see
/// [`crate::smb2::change_notify`]).
///
/// Walking the chain ("The offset, in bytes, from the beginning of this
/// structure to the subsequent FILE_NOTIFY_INFORMATION structure. If there
/// are no subsequent structures, the NextEntryOffset field MUST be 0.
/// NextEntryOffset MUST always be an integral multiple of 4"):
///
/// * every entry, its name included, must lie in the buffer;
/// * NextEntryOffset 0 ends the chain; bytes after the last entry are
///   ignored;
/// * otherwise NextEntryOffset must be a multiple of 4, must not be smaller
///   than the entry it follows (no overlap: every step makes progress) and
///   must point inside the buffer;
/// * the name is decoded losslessly: an odd length or an unpaired
///   surrogate is an error.
///
/// The number of entries is bounded by the buffer size (every entry takes
/// at least 12 bytes).
pub fn parse_notify_information(buf: &[u8]) -> Result<Vec<FileNotifyInformation>, DecodeError> {
    let mut entries = Vec::new();
    if buf.is_empty() {
        return Ok(entries);
    }
    let what = "FILE_NOTIFY_INFORMATION";
    let mut offset = 0usize;
    loop {
        // Invariant: offset < buf.len() (checked before advancing).
        let entry = &buf[offset..];
        let mut r = Reader::new(entry);
        let next = r.u32(what)? as usize;
        let action = FileAction(r.u32(what)?);
        let name_len = r.u32(what)? as usize;
        let name = r.take(name_len, "FILE_NOTIFY_INFORMATION FileName")?;
        let file_name = from_utf16le(name, "FILE_NOTIFY_INFORMATION FileName")?;
        let entry_len = NOTIFY_FIXED_LEN + name_len;
        entries.push(FileNotifyInformation { action, file_name });
        if next == 0 {
            return Ok(entries);
        }
        if next < entry_len {
            return Err(DecodeError::invalid(
                "FILE_NOTIFY_INFORMATION NextEntryOffset",
                format!("{next} points inside the {entry_len}-byte entry it follows"),
            ));
        }
        if !next.is_multiple_of(4) {
            return Err(DecodeError::invalid(
                "FILE_NOTIFY_INFORMATION NextEntryOffset",
                format!("{next} is not a multiple of 4"),
            ));
        }
        if next >= entry.len() {
            return Err(DecodeError::OutOfBounds {
                what: "FILE_NOTIFY_INFORMATION NextEntryOffset",
                offset: offset.saturating_add(next),
                length: NOTIFY_FIXED_LEN,
                bound: buf.len(),
            });
        }
        offset += next;
    }
}

/// Encodes `entries` as a FILE_NOTIFY_INFORMATION chain (the layout of
/// [`parse_notify_information`]), every entry but the last padded with
/// zeros to a 4-byte boundary. An empty slice gives an empty buffer. Meant
/// for test servers and round-trip tests.
///
/// # Errors
///
/// If a name is longer than `u32::MAX` bytes in UTF-16.
pub fn encode_notify_information(
    entries: &[FileNotifyInformation],
) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::new();
    for (i, e) in entries.iter().enumerate() {
        let start = w.len();
        let name_len = wire_u32(
            utf16_len(&e.file_name),
            "FILE_NOTIFY_INFORMATION FileNameLength",
        )?;
        w.u32(0) // NextEntryOffset, patched below
            .u32(e.action.0)
            .u32(name_len)
            .utf16(&e.file_name);
        if i + 1 < entries.len() {
            w.align(4);
            let next = wire_u32(w.len() - start, "FILE_NOTIFY_INFORMATION NextEntryOffset")?;
            w.patch_u32(start, next);
        }
    }
    Ok(w.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::mutate_never_panics;

    fn entry(action: FileAction, name: &str) -> FileNotifyInformation {
        FileNotifyInformation {
            action,
            file_name: name.to_string(),
        }
    }

    /// A rename as MS-FSCC §2.7.1 lays it out and Samba sends it: the old
    /// name ("a.txt", 10 bytes, padded to 24) then the new one ("b.txt").
    #[rustfmt::skip]
    const RENAME: [u8; 46] = [
        0x18, 0x00, 0x00, 0x00, // NextEntryOffset 24
        0x04, 0x00, 0x00, 0x00, // FILE_ACTION_RENAMED_OLD_NAME
        0x0A, 0x00, 0x00, 0x00, // FileNameLength 10
        b'a', 0, b'.', 0, b't', 0, b'x', 0, b't', 0,
        0x00, 0x00,             // padding to 24
        0x00, 0x00, 0x00, 0x00, // NextEntryOffset 0: the last
        0x05, 0x00, 0x00, 0x00, // FILE_ACTION_RENAMED_NEW_NAME
        0x0A, 0x00, 0x00, 0x00, // FileNameLength 10
        b'b', 0, b'.', 0, b't', 0, b'x', 0, b't', 0,
    ];

    #[test]
    fn spec_shaped_rename_pair() {
        let got = parse_notify_information(&RENAME).unwrap();
        assert_eq!(
            got,
            [
                entry(FileAction::RENAMED_OLD_NAME, "a.txt"),
                entry(FileAction::RENAMED_NEW_NAME, "b.txt"),
            ]
        );
        assert_eq!(encode_notify_information(&got).unwrap(), RENAME);
        mutate_never_panics(&RENAME, parse_notify_information);
    }

    #[test]
    fn round_trip_of_every_action_and_names_below_the_folder() {
        let entries: Vec<_> = (1..=12)
            .map(|a| entry(FileAction(a), &format!("sub\\f{a}-\u{e9}\u{1F600}")))
            .collect();
        let buf = encode_notify_information(&entries).unwrap();
        assert_eq!(parse_notify_information(&buf).unwrap(), entries);
        assert_eq!(format!("{:?}", FileAction(12)), "FileAction(0xc)");
        assert_eq!(FileAction::MODIFIED.name(), Some("MODIFIED"));
        // An empty name is accepted (a change of the watched folder itself).
        let one = [entry(FileAction::MODIFIED, "")];
        let buf = encode_notify_information(&one).unwrap();
        assert_eq!(buf.len(), NOTIFY_FIXED_LEN);
        assert_eq!(parse_notify_information(&buf).unwrap(), one);
        // Trailing bytes after the last entry are ignored.
        let mut padded = buf;
        padded.extend_from_slice(&[0xEE; 7]);
        assert_eq!(parse_notify_information(&padded).unwrap(), one);
        assert!(parse_notify_information(&[]).unwrap().is_empty());
        assert_eq!(filter::NAME, 3);
        assert_eq!(filter::ALL, 0xFFF);
    }

    #[test]
    fn hostile_chains_fail() {
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = RENAME.to_vec();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            parse_notify_information(&m)
        };
        // Every truncation fails: the second entry's name is cut, or its
        // header, or the first's.
        for len in 1..RENAME.len() {
            assert!(
                parse_notify_information(&RENAME[..len]).is_err(),
                "a {len}-byte prefix decoded"
            );
        }
        // NextEntryOffset inside the entry it follows (a loop to itself).
        assert!(with(0, &[4, 0, 0, 0]).is_err());
        assert!(with(0, &[20, 0, 0, 0]).is_err());
        // Not a multiple of 4.
        assert!(with(0, &[23, 0, 0, 0]).is_err());
        assert!(with(0, &[26, 0, 0, 0]).is_err());
        // Past the end, and far past it (no overflow).
        assert!(with(0, &[48, 0, 0, 0]).is_err());
        assert!(with(0, &[0xFC, 0xFF, 0xFF, 0xFF]).is_err());
        // A name longer than the buffer; an odd length; 4 GiB.
        assert!(with(8, &[0x40, 0, 0, 0]).is_err());
        assert!(with(8, &[0x09, 0, 0, 0]).is_err());
        assert!(with(8, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // An unpaired surrogate.
        assert!(with(12, &[0x00, 0xD8]).is_err());
        // The smallest self-consistent entry that still points onward.
        let mut tiny = vec![12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        assert!(parse_notify_information(&tiny).is_err());
        tiny.extend_from_slice(&[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            parse_notify_information(&tiny).unwrap(),
            [entry(FileAction::ADDED, ""), entry(FileAction::REMOVED, "")]
        );
    }

    #[test]
    fn a_chain_of_many_entries_is_bounded_by_its_buffer() {
        let entries: Vec<_> = (0..5000)
            .map(|i| entry(FileAction::ADDED, &format!("{i}")))
            .collect();
        let buf = encode_notify_information(&entries).unwrap();
        let got = parse_notify_information(&buf).unwrap();
        assert_eq!(got.len(), 5000);
        assert!(got.len() <= buf.len() / NOTIFY_FIXED_LEN);
    }
}
