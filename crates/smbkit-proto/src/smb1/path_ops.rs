//! SMB1 path operations that need no open file: SMB_COM_DELETE (MS-CIFS
//! §2.2.4.7), SMB_COM_CREATE_DIRECTORY (§2.2.4.1), SMB_COM_DELETE_DIRECTORY
//! (§2.2.4.2), SMB_COM_RENAME (§2.2.4.8) and SMB_COM_NT_RENAME (§2.2.4.66).
//!
//! Every request ends with one or two path names, each preceded by
//! BufferFormat 0x04 ("This field MUST be 0x04") and written as a
//! NUL-terminated Unicode SMB_STRING (the driver sets SMB_FLAGS2_UNICODE),
//! 16-bit aligned from the header start: a pad byte follows a BufferFormat
//! that leaves the name on an odd offset (always the case for the second
//! name of RENAME and NT_RENAME). Paths are relative to the share root,
//! e.g. `\dir\a.txt`. All responses are empty (WordCount 0, ByteCount 0):
//! decode them with [`decode_empty_response`].

use super::andx::{begin_bytes, end_bytes};
use super::header::{command, Header, HEADER_LEN};
use super::trans::{blocks, expect_word_count, put_unicode_string, read_smb_string, Blocks};
use crate::codec::{DecodeError, EncodeError, Reader, Writer};

/// BufferFormat of a path name: "This field MUST be 0x04" (MS-CIFS
/// §2.2.4.7.1 and the other path requests).
pub const BUFFER_FORMAT_ASCII: u8 = 0x04;

/// SMB_FILE_ATTRIBUTES (MS-CIFS §2.2.1.2.4), as used by the SearchAttributes
/// of DELETE, RENAME, NT_RENAME and TRANS2_FIND_FIRST2.
pub mod smb_file_attributes {
    /// SMB_FILE_ATTRIBUTE_NORMAL: normal files only.
    pub const NORMAL: u16 = 0x0000;
    /// SMB_FILE_ATTRIBUTE_READONLY.
    pub const READONLY: u16 = 0x0001;
    /// SMB_FILE_ATTRIBUTE_HIDDEN.
    pub const HIDDEN: u16 = 0x0002;
    /// SMB_FILE_ATTRIBUTE_SYSTEM.
    pub const SYSTEM: u16 = 0x0004;
    /// SMB_FILE_ATTRIBUTE_VOLUME.
    pub const VOLUME: u16 = 0x0008;
    /// SMB_FILE_ATTRIBUTE_DIRECTORY.
    pub const DIRECTORY: u16 = 0x0010;
    /// SMB_FILE_ATTRIBUTE_ARCHIVE.
    pub const ARCHIVE: u16 = 0x0020;
    /// SMB_SEARCH_ATTRIBUTE_READONLY: only read-only files.
    pub const SEARCH_READONLY: u16 = 0x0100;
    /// SMB_SEARCH_ATTRIBUTE_HIDDEN: only hidden files.
    pub const SEARCH_HIDDEN: u16 = 0x0200;
    /// SMB_SEARCH_ATTRIBUTE_SYSTEM: only system files.
    pub const SEARCH_SYSTEM: u16 = 0x0400;
    /// SMB_SEARCH_ATTRIBUTE_DIRECTORY: only directories.
    pub const SEARCH_DIRECTORY: u16 = 0x1000;
    /// SMB_SEARCH_ATTRIBUTE_ARCHIVE: only archive files.
    pub const SEARCH_ARCHIVE: u16 = 0x2000;
    /// HIDDEN | SYSTEM: include hidden and system files ("If the system
    /// file or hidden attributes are specified, then the rename is inclusive
    /// of both special types").
    pub const HIDDEN_SYSTEM: u16 = HIDDEN | SYSTEM;
    /// HIDDEN | SYSTEM | DIRECTORY: every entry, the usual SearchAttributes
    /// of TRANS2_FIND_FIRST2.
    pub const ALL_ENTRIES: u16 = HIDDEN | SYSTEM | DIRECTORY;
}

/// InformationLevel of SMB_COM_NT_RENAME (MS-CIFS §2.2.4.66.1).
pub mod nt_rename_level {
    /// SMB_NT_RENAME_SET_LINK_INFO (0x0103): "Create a hard link to the
    /// original file" (the file is not renamed).
    pub const SET_LINK_INFO: u16 = 0x0103;
    /// SMB_NT_RENAME_RENAME_FILE (0x0104): "An in-place rename of the
    /// file", treated "as if it is an SMB_COM_RENAME Request" (MS-CIFS
    /// §3.3.5.53).
    pub const RENAME_FILE: u16 = 0x0104;
    /// SMB_NT_RENAME_MOVE_FILE (0x0105): obsolete; clients must not use it.
    pub const MOVE_FILE: u16 = 0x0105;
}

/// Writes `BufferFormat 0x04` and a Unicode path name.
fn put_name(w: &mut Writer, name: &str) {
    w.u8(BUFFER_FORMAT_ASCII);
    put_unicode_string(w, name);
}

/// Appends `words` (as WordCount and Words) and the names (as ByteCount and
/// Bytes) to `w`; `what` names the ByteCount for errors.
fn encode_path_request(
    w: &mut Writer,
    words: &[u8],
    names: &[&str],
    what: &'static str,
) -> Result<(), EncodeError> {
    debug_assert!(words.len().is_multiple_of(2));
    w.u8((words.len() / 2) as u8).bytes(words);
    let byte_count_pos = begin_bytes(w);
    for name in names {
        put_name(w, name);
    }
    end_bytes(w, byte_count_pos, what)
}

/// Reads `count` BufferFormat-prefixed names from the Bytes of `b`.
fn decode_names(
    msg: &[u8],
    b: &Blocks<'_>,
    count: usize,
    what: &'static str,
) -> Result<Vec<String>, DecodeError> {
    let mut pos = b.bytes.start;
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        let format =
            msg.get(pos)
                .copied()
                .filter(|_| pos < b.bytes.end)
                .ok_or(DecodeError::Truncated {
                    what,
                    needed: 1,
                    available: 0,
                })?;
        if format != BUFFER_FORMAT_ASCII {
            return Err(DecodeError::invalid(
                what,
                format!("BufferFormat is {format:#04x} (\"This field MUST be 0x04\")"),
            ));
        }
        let (name, next) = read_smb_string(msg, pos + 1, b.bytes.end, b.unicode(), what)?;
        names.push(name);
        pos = next;
    }
    Ok(names)
}

/// SMB_COM_DELETE request (MS-CIFS §2.2.4.7.1): WordCount 1
/// (SearchAttributes), Bytes: BufferFormat 0x04, FileName. FileName may
/// contain wildcards in its last component; every matching file with the
/// SearchAttributes is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// SearchAttributes (see [`smb_file_attributes`]): the attributes the
    /// files to delete may have; 0 = normal files only.
    pub search_attributes: u16,
    /// FileName: the path, e.g. `\dir\a.txt`.
    pub file_name: String,
}

impl DeleteRequest {
    /// Appends the request to `w` (holding the SMB_COM_DELETE header with
    /// SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name exceeds the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_path_request(
            w,
            &self.search_attributes.to_le_bytes(),
            &[&self.file_name],
            "SMB_COM_DELETE ByteCount",
        )
    }

    /// Decodes the request (for test servers and round trips): WordCount 1,
    /// BufferFormat 0x04 and a NUL-terminated name within ByteCount (Unicode
    /// if the header says so).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_DELETE request";
        let b = blocks(msg, &[command::DELETE], what)?;
        expect_word_count(b.words, 1, what)?;
        let search_attributes = Reader::new(b.words).u16(what)?;
        let mut names = decode_names(msg, &b, 1, what)?;
        Ok(DeleteRequest {
            search_attributes,
            file_name: names.remove(0),
        })
    }
}

/// SMB_COM_CREATE_DIRECTORY request (MS-CIFS §2.2.4.1.1): WordCount 0,
/// Bytes: BufferFormat 0x04, DirectoryName. (Obsolescent in MS-CIFS in
/// favour of TRANS2_CREATE_DIRECTORY, but supported by Windows and Samba.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDirectoryRequest {
    /// DirectoryName: the path of the directory to create.
    pub directory_name: String,
}

impl CreateDirectoryRequest {
    /// Appends the request to `w` (holding the SMB_COM_CREATE_DIRECTORY
    /// header with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name exceeds the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_path_request(
            w,
            &[],
            &[&self.directory_name],
            "SMB_COM_CREATE_DIRECTORY ByteCount",
        )
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_CREATE_DIRECTORY request";
        let b = blocks(msg, &[command::CREATE_DIRECTORY], what)?;
        expect_word_count(b.words, 0, what)?;
        let mut names = decode_names(msg, &b, 1, what)?;
        Ok(CreateDirectoryRequest {
            directory_name: names.remove(0),
        })
    }
}

/// SMB_COM_DELETE_DIRECTORY request (MS-CIFS §2.2.4.2.1): WordCount 0,
/// Bytes: BufferFormat 0x04, DirectoryName. The directory must be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteDirectoryRequest {
    /// DirectoryName: the path of the directory to delete.
    pub directory_name: String,
}

impl DeleteDirectoryRequest {
    /// Appends the request to `w` (holding the SMB_COM_DELETE_DIRECTORY
    /// header with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name exceeds the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_path_request(
            w,
            &[],
            &[&self.directory_name],
            "SMB_COM_DELETE_DIRECTORY ByteCount",
        )
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_DELETE_DIRECTORY request";
        let b = blocks(msg, &[command::DELETE_DIRECTORY], what)?;
        expect_word_count(b.words, 0, what)?;
        let mut names = decode_names(msg, &b, 1, what)?;
        Ok(DeleteDirectoryRequest {
            directory_name: names.remove(0),
        })
    }
}

/// SMB_COM_RENAME request (MS-CIFS §2.2.4.8.1): WordCount 1
/// (SearchAttributes), Bytes: BufferFormat1 0x04, OldFileName, BufferFormat2
/// 0x04, NewFileName. With Unicode a pad byte follows BufferFormat2 so that
/// NewFileName is 16-bit aligned. The target must not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameRequest {
    /// SearchAttributes (see [`smb_file_attributes`]); include DIRECTORY to
    /// rename directories and HIDDEN | SYSTEM for such files.
    pub search_attributes: u16,
    /// OldFileName: the current path.
    pub old_file_name: String,
    /// NewFileName: the new path (from the share root).
    pub new_file_name: String,
}

impl RenameRequest {
    /// Appends the request to `w` (holding the SMB_COM_RENAME header with
    /// SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the names exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_path_request(
            w,
            &self.search_attributes.to_le_bytes(),
            &[&self.old_file_name, &self.new_file_name],
            "SMB_COM_RENAME ByteCount",
        )
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_RENAME request";
        let b = blocks(msg, &[command::RENAME], what)?;
        expect_word_count(b.words, 1, what)?;
        let search_attributes = Reader::new(b.words).u16(what)?;
        let mut names = decode_names(msg, &b, 2, what)?.into_iter();
        Ok(RenameRequest {
            search_attributes,
            old_file_name: names.next().unwrap_or_default(),
            new_file_name: names.next().unwrap_or_default(),
        })
    }
}

/// SMB_COM_NT_RENAME request (MS-CIFS §2.2.4.66.1): WordCount 4
/// (SearchAttributes, InformationLevel, Reserved (4, written as 0)), Bytes:
/// BufferFormat1 0x04, OldFileName, BufferFormat2 0x04, NewFileName
/// (Unicode-aligned with a pad byte). "This command does not support wild
/// card characters"; existing files are not overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtRenameRequest {
    /// SearchAttributes (see [`smb_file_attributes`]).
    pub search_attributes: u16,
    /// InformationLevel (see [`nt_rename_level`]): RENAME_FILE (0x0104) to
    /// rename, SET_LINK_INFO (0x0103) to create a hard link.
    pub information_level: u16,
    /// OldFileName: the existing path.
    pub old_file_name: String,
    /// NewFileName: the new path or link.
    pub new_file_name: String,
}

impl NtRenameRequest {
    /// Appends the request to `w` (holding the SMB_COM_NT_RENAME header
    /// with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the names exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut words = Writer::new();
        words
            .u16(self.search_attributes)
            .u16(self.information_level)
            .u32(0);
        encode_path_request(
            w,
            words.as_slice(),
            &[&self.old_file_name, &self.new_file_name],
            "SMB_COM_NT_RENAME ByteCount",
        )
    }

    /// Decodes the request (for test servers and round trips); Reserved is
    /// ignored.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_NT_RENAME request";
        let b = blocks(msg, &[command::NT_RENAME], what)?;
        expect_word_count(b.words, 4, what)?;
        let mut r = Reader::new(b.words);
        let search_attributes = r.u16(what)?;
        let information_level = r.u16(what)?;
        let mut names = decode_names(msg, &b, 2, what)?.into_iter();
        Ok(NtRenameRequest {
            search_attributes,
            information_level,
            old_file_name: names.next().unwrap_or_default(),
            new_file_name: names.next().unwrap_or_default(),
        })
    }
}

/// Decodes a response without parameters or data: the header, WordCount 0
/// ("This field MUST be 0x00") and ByteCount, whose bytes (MUST be 0, but
/// any present are tolerated) must lie in the message.
///
/// This is the response of DELETE (MS-CIFS §2.2.4.7.2), CREATE_DIRECTORY
/// (§2.2.4.1.2), DELETE_DIRECTORY (§2.2.4.2.2), RENAME (§2.2.4.8.2),
/// NT_RENAME (§2.2.4.66.2) and FIND_CLOSE2 (§2.2.4.48.2), and also the
/// usual shape of an error response (status in the header, no words, no
/// bytes), which therefore decodes too. The Command and Status of the
/// header are not checked: the caller matches the MID and looks at the
/// status.
pub fn decode_empty_response(msg: &[u8]) -> Result<(), DecodeError> {
    let what = "empty SMB1 response";
    Header::decode(msg)?;
    let mut r = Reader::at(msg, HEADER_LEN, what)?;
    let word_count = r.u8(what)?;
    if word_count != 0 {
        return Err(DecodeError::invalid(
            what,
            format!("WordCount is {word_count}, expected 0"),
        ));
    }
    let byte_count = r.u16(what)?;
    r.skip(usize::from(byte_count), what)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;
    use crate::smb1::trans::testutil::{request_writer, response_writer};
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};
    use crate::types::NtStatus;

    fn encode_with(cmd: u8, f: impl FnOnce(&mut Writer) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut w = request_writer(cmd);
        f(&mut w).unwrap();
        w.into_vec()
    }

    fn name_bytes(s: &str) -> Vec<u8> {
        let mut v = utf16le(s);
        v.extend_from_slice(&[0, 0]);
        v
    }

    #[test]
    fn delete_request_layout_and_round_trip() {
        let req = DeleteRequest {
            search_attributes: smb_file_attributes::HIDDEN_SYSTEM,
            file_name: "\\dir\\a.txt".into(),
        };
        let msg = encode_with(command::DELETE, |w| req.encode(w));
        let mut expected = msg[..32].to_vec();
        expected.extend_from_slice(&[1, 0x06, 0x00]); // WordCount, SearchAttributes
        let n = name_bytes("\\dir\\a.txt");
        expected.extend_from_slice(&((1 + n.len()) as u16).to_le_bytes());
        expected.push(0x04); // BufferFormat at 37: the name starts at 38, no pad
        expected.extend(n);
        assert_eq!(msg, expected);
        assert_eq!(DeleteRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, DeleteRequest::decode);
        mutate_never_panics(&msg, DeleteRequest::decode);
        let mut bad = msg.clone();
        bad[37] = 0x02;
        assert!(DeleteRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[4] = command::RENAME;
        assert!(DeleteRequest::decode(&bad).is_err());
    }

    #[test]
    fn directory_requests_round_trip() {
        let req = CreateDirectoryRequest {
            directory_name: "\\new dir".into(),
        };
        let msg = encode_with(command::CREATE_DIRECTORY, |w| req.encode(w));
        assert_eq!(msg[32], 0); // WordCount
        assert_eq!(msg[35], 0x04); // BufferFormat; the name at 36
        assert_eq!(&msg[36..], &name_bytes("\\new dir")[..]);
        assert_eq!(CreateDirectoryRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, CreateDirectoryRequest::decode);
        mutate_never_panics(&msg, CreateDirectoryRequest::decode);
        assert!(DeleteDirectoryRequest::decode(&msg).is_err());

        let req = DeleteDirectoryRequest {
            directory_name: "\\old".into(),
        };
        let msg = encode_with(command::DELETE_DIRECTORY, |w| req.encode(w));
        assert_eq!(DeleteDirectoryRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, DeleteDirectoryRequest::decode);
    }

    #[test]
    fn rename_request_pads_the_second_name() {
        let req = RenameRequest {
            search_attributes: smb_file_attributes::ALL_ENTRIES,
            old_file_name: "\\a.txt".into(),
            new_file_name: "\\b.txt".into(),
        };
        let msg = encode_with(command::RENAME, |w| req.encode(w));
        let mut expected = msg[..32].to_vec();
        expected.extend_from_slice(&[1, 0x16, 0x00]);
        let old = name_bytes("\\a.txt");
        let new = name_bytes("\\b.txt");
        expected.extend_from_slice(&((1 + old.len() + 2 + new.len()) as u16).to_le_bytes());
        expected.push(0x04); // BufferFormat1 at 37
        expected.extend(old); // 38..52
        expected.extend_from_slice(&[0x04, 0x00]); // BufferFormat2 at 52, pad at 53
        expected.extend(new); // 54..
        assert_eq!(msg, expected);
        assert_eq!(RenameRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, RenameRequest::decode);
        mutate_never_panics(&msg, RenameRequest::decode);
    }

    #[test]
    fn nt_rename_request_round_trips() {
        for level in [nt_rename_level::RENAME_FILE, nt_rename_level::SET_LINK_INFO] {
            let req = NtRenameRequest {
                search_attributes: smb_file_attributes::HIDDEN_SYSTEM,
                information_level: level,
                old_file_name: "\\dir\\été.txt".into(),
                new_file_name: "\\dir\\😀.txt".into(),
            };
            let msg = encode_with(command::NT_RENAME, |w| req.encode(w));
            assert_eq!(msg[32], 4);
            assert_eq!(&msg[35..37], &level.to_le_bytes());
            assert_eq!(&msg[37..41], &[0, 0, 0, 0]); // Reserved
            assert_eq!(msg[43], 0x04); // BufferFormat1; old name at 44
            assert_eq!(NtRenameRequest::decode(&msg).unwrap(), req);
            assert_truncations_fail(&msg, NtRenameRequest::decode);
            mutate_never_panics(&msg, NtRenameRequest::decode);
        }
    }

    #[test]
    fn empty_responses() {
        for cmd in [
            command::DELETE,
            command::CREATE_DIRECTORY,
            command::DELETE_DIRECTORY,
            command::RENAME,
            command::NT_RENAME,
            command::FIND_CLOSE2,
        ] {
            let mut w = response_writer(cmd, NtStatus::SUCCESS, true);
            w.u8(0).u16(0);
            let msg = w.into_vec();
            decode_empty_response(&msg).unwrap();
            assert_truncations_fail(&msg, decode_empty_response);
            mutate_never_panics(&msg, decode_empty_response);
        }
        // An error response has the same shape.
        let mut w = response_writer(command::RENAME, NtStatus(0xC000_0035), true);
        w.u8(0).u16(0);
        decode_empty_response(w.as_slice()).unwrap();
        // Words, or a ByteCount past the end, are errors.
        let mut w = response_writer(command::DELETE, NtStatus::SUCCESS, true);
        w.u8(1).u16(0).u16(0);
        assert!(decode_empty_response(w.as_slice()).is_err());
        let mut w = response_writer(command::DELETE, NtStatus::SUCCESS, true);
        w.u8(0).u16(2);
        assert!(decode_empty_response(w.as_slice()).is_err());
    }

    /// Encodes with `f` into a request of `cmd`, keeping the error.
    fn try_encode(
        cmd: u8,
        f: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut w = request_writer(cmd);
        f(&mut w).map(|()| w.into_vec())
    }

    #[test]
    fn names_fill_byte_count_and_no_more() {
        use crate::codec::testutil::{assert_too_large, name};
        use crate::smb1::andx::testutil::{byte_count, largest_ok};
        // One name: BufferFormat, the name and its terminator (no pad: the
        // name starts at an even offset) = 2n + 3 bytes, so 32766 units.
        let delete = |n: usize| {
            try_encode(command::DELETE, |w| {
                DeleteRequest {
                    search_attributes: 0,
                    file_name: name(n),
                }
                .encode(w)
            })
        };
        let mkdir = |n: usize| {
            try_encode(command::CREATE_DIRECTORY, |w| {
                CreateDirectoryRequest {
                    directory_name: name(n),
                }
                .encode(w)
            })
        };
        let rmdir = |n: usize| {
            try_encode(command::DELETE_DIRECTORY, |w| {
                DeleteDirectoryRequest {
                    directory_name: name(n),
                }
                .encode(w)
            })
        };
        assert_eq!(largest_ok(40_000, delete), 32766);
        assert_eq!(byte_count(&delete(32766).unwrap()), 65535);
        assert_too_large(delete(32767), "SMB_COM_DELETE ByteCount", 65537, 65535);
        assert_eq!(largest_ok(40_000, mkdir), 32766);
        assert_too_large(
            mkdir(32767),
            "SMB_COM_CREATE_DIRECTORY ByteCount",
            65537,
            65535,
        );
        assert_eq!(largest_ok(40_000, rmdir), 32766);
        assert_too_large(
            rmdir(40_000),
            "SMB_COM_DELETE_DIRECTORY ByteCount",
            80_003,
            65535,
        );
        // Two names share ByteCount: 2a + 2b + 7 bytes (the second name
        // needs a pad byte), so 16382 units each.
        let rename = |n: usize| {
            try_encode(command::RENAME, |w| {
                RenameRequest {
                    search_attributes: 0,
                    old_file_name: name(n),
                    new_file_name: name(n),
                }
                .encode(w)
            })
        };
        let nt_rename = |n: usize| {
            try_encode(command::NT_RENAME, |w| {
                NtRenameRequest {
                    search_attributes: 0,
                    information_level: nt_rename_level::RENAME_FILE,
                    old_file_name: name(n),
                    new_file_name: name(n),
                }
                .encode(w)
            })
        };
        assert_eq!(largest_ok(40_000, rename), 16382);
        assert_eq!(byte_count(&rename(16382).unwrap()), 65535);
        assert_too_large(rename(16383), "SMB_COM_RENAME ByteCount", 65539, 65535);
        assert_eq!(largest_ok(40_000, nt_rename), 16382);
        assert_too_large(
            nt_rename(16383),
            "SMB_COM_NT_RENAME ByteCount",
            65539,
            65535,
        );
    }
}
