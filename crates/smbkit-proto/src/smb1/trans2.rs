//! SMB_COM_TRANSACTION2 subcommands (MS-CIFS §2.2.4.46, §2.2.6; MS-SMB
//! §2.2.4.4, §2.2.6): directory enumeration (TRANS2_FIND_FIRST2,
//! TRANS2_FIND_NEXT2, and SMB_COM_FIND_CLOSE2 to end a search early), file
//! information by path or FID (TRANS2_QUERY/SET_PATH_INFORMATION,
//! TRANS2_QUERY/SET_FILE_INFORMATION) and TRANS2_QUERY_FS_INFORMATION, with
//! decoders for the information levels smbkit reads.
//!
//! Each request is a one-message [`TransRequest`] (SetupCount 1, Setup =
//! the subcommand; see the [`trans`](super::trans) module documentation for
//! the single-message limit) and is encoded into a writer holding the
//! SMB_COM_TRANSACTION2 header with SMB_FLAGS2_UNICODE. Responses come back
//! as one or more [`TransResponsePart`](super::trans::TransResponsePart)s;
//! once a [`TransAssembler`](super::trans::TransAssembler) has the complete
//! parameters and data, decode them with the types here.
//!
//! File names inside Trans2_Parameters are NUL-terminated UTF-16LE. Every
//! request's fixed parameters have an even length and the parameter block
//! is 4-byte aligned, so the names are 16-bit aligned from the header start
//! without padding.

use super::header::{command, flags2, Header};
use super::trans::{blocks, expect_word_count, latin1, take_terminated, wire_u32, TransRequest};
use crate::codec::{
    checked_range, from_utf16le, utf16_len, DecodeError, EncodeError, Reader, Writer,
};
use crate::fscc::{DirectoryEntry, FileBasicInformation, FileStandardInformation};

/// Trans2 subcommand codes, Setup\[0\] of the request (MS-CIFS §2.2.2.2).
pub mod subcommand {
    /// TRANS2_FIND_FIRST2.
    pub const FIND_FIRST2: u16 = 0x0001;
    /// TRANS2_FIND_NEXT2.
    pub const FIND_NEXT2: u16 = 0x0002;
    /// TRANS2_QUERY_FS_INFORMATION.
    pub const QUERY_FS_INFORMATION: u16 = 0x0003;
    /// TRANS2_QUERY_PATH_INFORMATION.
    pub const QUERY_PATH_INFORMATION: u16 = 0x0005;
    /// TRANS2_SET_PATH_INFORMATION.
    pub const SET_PATH_INFORMATION: u16 = 0x0006;
    /// TRANS2_QUERY_FILE_INFORMATION.
    pub const QUERY_FILE_INFORMATION: u16 = 0x0007;
    /// TRANS2_SET_FILE_INFORMATION.
    pub const SET_FILE_INFORMATION: u16 = 0x0008;
    /// TRANS2_GET_DFS_REFERRAL (MS-CIFS §2.2.6.16): a DFS referral, sent
    /// on the IPC$ tree; see [`crate::dfs`].
    pub const GET_DFS_REFERRAL: u16 = 0x0010;
}

/// Flags of TRANS2_FIND_FIRST2 / TRANS2_FIND_NEXT2 requests (MS-CIFS
/// §2.2.6.2.1).
pub mod find_flags {
    /// SMB_FIND_CLOSE_AFTER_REQUEST: close the search after this request.
    pub const CLOSE_AFTER_REQUEST: u16 = 0x0001;
    /// SMB_FIND_CLOSE_AT_EOS: close the search when its end is reached.
    pub const CLOSE_AT_EOS: u16 = 0x0002;
    /// SMB_FIND_RETURN_RESUME_KEYS: return a resume key with each entry
    /// (only for the SMB_INFO_* levels).
    pub const RETURN_RESUME_KEYS: u16 = 0x0004;
    /// SMB_FIND_CONTINUE_FROM_LAST: FIND_NEXT2 resumes after the last entry
    /// returned (ResumeKey and FileName are then not used to position).
    pub const CONTINUE_FROM_LAST: u16 = 0x0008;
    /// SMB_FIND_WITH_BACKUP_INTENT: search with backup intent.
    pub const WITH_BACKUP_INTENT: u16 = 0x0010;
}

/// FIND information levels (MS-CIFS §2.2.2.3.1, MS-SMB §2.2.2.3.1).
pub mod find_level {
    /// SMB_INFO_STANDARD.
    pub const INFO_STANDARD: u16 = 0x0001;
    /// SMB_INFO_QUERY_EA_SIZE.
    pub const INFO_QUERY_EA_SIZE: u16 = 0x0002;
    /// SMB_INFO_QUERY_EAS_FROM_LIST.
    pub const INFO_QUERY_EAS_FROM_LIST: u16 = 0x0003;
    /// SMB_FIND_FILE_DIRECTORY_INFO.
    pub const FILE_DIRECTORY_INFO: u16 = 0x0101;
    /// SMB_FIND_FILE_FULL_DIRECTORY_INFO.
    pub const FILE_FULL_DIRECTORY_INFO: u16 = 0x0102;
    /// SMB_FIND_FILE_NAMES_INFO.
    pub const FILE_NAMES_INFO: u16 = 0x0103;
    /// SMB_FIND_FILE_BOTH_DIRECTORY_INFO (see
    /// [`parse_find_file_both_directory_info`](super::parse_find_file_both_directory_info)).
    pub const FILE_BOTH_DIRECTORY_INFO: u16 = 0x0104;
    /// SMB_FIND_FILE_ID_FULL_DIRECTORY_INFO (MS-SMB).
    pub const FILE_ID_FULL_DIRECTORY_INFO: u16 = 0x0105;
    /// SMB_FIND_FILE_ID_BOTH_DIRECTORY_INFO (MS-SMB).
    pub const FILE_ID_BOTH_DIRECTORY_INFO: u16 = 0x0106;
}

/// QUERY information levels of TRANS2_QUERY_PATH_INFORMATION and
/// TRANS2_QUERY_FILE_INFORMATION (MS-CIFS §2.2.2.3.3).
pub mod query_level {
    /// SMB_INFO_STANDARD.
    pub const INFO_STANDARD: u16 = 0x0001;
    /// SMB_INFO_QUERY_EA_SIZE.
    pub const INFO_QUERY_EA_SIZE: u16 = 0x0002;
    /// SMB_INFO_QUERY_EAS_FROM_LIST.
    pub const INFO_QUERY_EAS_FROM_LIST: u16 = 0x0003;
    /// SMB_INFO_QUERY_ALL_EAS.
    pub const INFO_QUERY_ALL_EAS: u16 = 0x0004;
    /// SMB_INFO_IS_NAME_VALID.
    pub const INFO_IS_NAME_VALID: u16 = 0x0006;
    /// SMB_QUERY_FILE_BASIC_INFO (see [`decode_query_basic_info`](super::decode_query_basic_info)).
    pub const FILE_BASIC_INFO: u16 = 0x0101;
    /// SMB_QUERY_FILE_STANDARD_INFO (see [`decode_query_standard_info`](super::decode_query_standard_info)).
    pub const FILE_STANDARD_INFO: u16 = 0x0102;
    /// SMB_QUERY_FILE_EA_INFO.
    pub const FILE_EA_INFO: u16 = 0x0103;
    /// SMB_QUERY_FILE_NAME_INFO.
    pub const FILE_NAME_INFO: u16 = 0x0104;
    /// SMB_QUERY_FILE_ALL_INFO (see [`SmbQueryFileAllInfo`](super::SmbQueryFileAllInfo)).
    pub const FILE_ALL_INFO: u16 = 0x0107;
    /// SMB_QUERY_FILE_ALT_NAME_INFO.
    pub const FILE_ALT_NAME_INFO: u16 = 0x0108;
    /// SMB_QUERY_FILE_STREAM_INFO.
    pub const FILE_STREAM_INFO: u16 = 0x0109;
    /// SMB_QUERY_FILE_COMPRESSION_INFO.
    pub const FILE_COMPRESSION_INFO: u16 = 0x010B;
}

/// SET information levels of TRANS2_SET_PATH_INFORMATION and
/// TRANS2_SET_FILE_INFORMATION (MS-CIFS §2.2.2.3.4).
pub mod set_level {
    /// SMB_INFO_STANDARD.
    pub const INFO_STANDARD: u16 = 0x0001;
    /// SMB_INFO_SET_EAS.
    pub const INFO_SET_EAS: u16 = 0x0002;
    /// SMB_SET_FILE_BASIC_INFO: the 40-byte FILE_BASIC_INFORMATION layout
    /// (MS-CIFS §2.2.8.4.3).
    pub const FILE_BASIC_INFO: u16 = 0x0101;
    /// SMB_SET_FILE_DISPOSITION_INFO: DeletePending (1 byte).
    pub const FILE_DISPOSITION_INFO: u16 = 0x0102;
    /// SMB_SET_FILE_ALLOCATION_INFO: AllocationSize (8 bytes).
    pub const FILE_ALLOCATION_INFO: u16 = 0x0103;
    /// SMB_SET_FILE_END_OF_FILE_INFO: EndOfFile (8 bytes).
    pub const FILE_END_OF_FILE_INFO: u16 = 0x0104;
}

/// QUERY_FS information levels of TRANS2_QUERY_FS_INFORMATION (MS-CIFS
/// §2.2.2.3.2).
pub mod fs_level {
    /// SMB_INFO_ALLOCATION.
    pub const INFO_ALLOCATION: u16 = 0x0001;
    /// SMB_INFO_VOLUME.
    pub const INFO_VOLUME: u16 = 0x0002;
    /// SMB_QUERY_FS_VOLUME_INFO.
    pub const QUERY_FS_VOLUME_INFO: u16 = 0x0102;
    /// SMB_QUERY_FS_SIZE_INFO: the FILE_FS_SIZE_INFORMATION layout.
    pub const QUERY_FS_SIZE_INFO: u16 = 0x0103;
    /// SMB_QUERY_FS_DEVICE_INFO.
    pub const QUERY_FS_DEVICE_INFO: u16 = 0x0104;
    /// SMB_QUERY_FS_ATTRIBUTE_INFO.
    pub const QUERY_FS_ATTRIBUTE_INFO: u16 = 0x0105;
}

/// SMB_INFO_PASSTHROUGH (MS-SMB §2.2.2.3.5): "the Information Level ...
/// is passed through" as the native MS-FSCC information class
/// `level - 0x03E8`. Usable when the server announced CAP_INFOLEVEL_PASSTHRU.
pub const INFO_PASSTHROUGH: u16 = 0x03E8;

/// The pass-through information level for an MS-FSCC information class
/// (MS-SMB §2.2.2.3.5): `0x03E8 + class`, e.g.
/// `passthrough_level(fscc::info_class::FILE_ALL_INFORMATION)` = 1018.
pub fn passthrough_level(class: u8) -> u16 {
    INFO_PASSTHROUGH + u16::from(class)
}

/// A MaxDataCount asking for as much as the 16-bit field allows: servers
/// return what the data needs, split over several response messages when it
/// exceeds their buffer size (reassemble with
/// [`TransAssembler`](super::trans::TransAssembler)).
pub const DEFAULT_MAX_DATA_COUNT: u16 = 0xFFFF;

/// Builds the [`TransRequest`] for a Trans2 subcommand.
fn trans2(
    subcommand: u16,
    parameters: Vec<u8>,
    data: Vec<u8>,
    max_parameter_count: u16,
    max_data_count: u16,
) -> TransRequest {
    TransRequest {
        name: None,
        setup: vec![subcommand],
        parameters,
        data,
        max_parameter_count,
        max_data_count,
        max_setup_count: 0,
        flags: 0,
        timeout: 0,
    }
}

/// Decodes an SMB_COM_TRANSACTION2 request for `subcommand`; returns it and
/// whether the header announces Unicode.
fn decode_trans2(
    msg: &[u8],
    subcommand: u16,
    what: &'static str,
) -> Result<(TransRequest, bool), DecodeError> {
    let header = Header::decode(msg)?;
    if header.command != command::TRANSACTION2 {
        return Err(DecodeError::invalid(what, "not SMB_COM_TRANSACTION2"));
    }
    let t = TransRequest::decode(msg)?;
    if t.setup != [subcommand] {
        return Err(DecodeError::invalid(
            what,
            format!("setup {:04x?}, expected [{subcommand:#06x}]", t.setup),
        ));
    }
    Ok((t, header.flags2 & flags2::UNICODE != 0))
}

/// Reads the NUL-terminated FileName that ends a request's parameters.
fn read_file_name(r: &Reader<'_>, unicode: bool) -> Result<String, DecodeError> {
    Ok(take_terminated(r.rest(), unicode, "FileName")?.0)
}

// ---------------------------------------------------------------------------
// TRANS2_FIND_FIRST2 / TRANS2_FIND_NEXT2 / SMB_COM_FIND_CLOSE2
// ---------------------------------------------------------------------------

/// TRANS2_FIND_FIRST2 request (MS-CIFS §2.2.6.2.1).
///
/// Trans2_Parameters: SearchAttributes (2), SearchCount (2), Flags (2),
/// InformationLevel (2), SearchStorageType (4), FileName; no Trans2_Data
/// (SMB_INFO_QUERY_EAS_FROM_LIST, which would carry a
/// GetExtendedAttributeList, is not supported). MaxParameterCount is 10, the
/// size of the response parameters ([`FindFirst2ResponseParameters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindFirst2Request {
    /// SearchAttributes: SMB_FILE_ATTRIBUTES the entries may have, e.g.
    /// HIDDEN | SYSTEM | DIRECTORY = 0x0016 to list everything.
    pub search_attributes: u16,
    /// SearchCount: "The server MUST NOT return more entries than" this.
    pub search_count: u16,
    /// Flags (see [`find_flags`]).
    pub flags: u16,
    /// InformationLevel (see [`find_level`]).
    pub information_level: u16,
    /// SearchStorageType: 0x00000001 FILE_DIRECTORY_FILE or 0x00000040
    /// FILE_NON_DIRECTORY_FILE (only with backup intent); usually 0.
    pub search_storage_type: u32,
    /// FileName: the directory and pattern, e.g. `\dir\*`.
    pub file_name: String,
    /// MaxDataCount: the most entry bytes to return in this response.
    pub max_data_count: u16,
}

impl FindFirst2Request {
    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header
    /// with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name makes the parameters exceed 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut p = Writer::new();
        p.u16(self.search_attributes)
            .u16(self.search_count)
            .u16(self.flags)
            .u16(self.information_level)
            .u32(self.search_storage_type)
            .utf16(&self.file_name)
            .u16(0);
        trans2(
            subcommand::FIND_FIRST2,
            p.into_vec(),
            Vec::new(),
            10,
            self.max_data_count,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_FIND_FIRST2 request";
        let (t, unicode) = decode_trans2(msg, subcommand::FIND_FIRST2, what)?;
        let mut r = Reader::new(&t.parameters);
        Ok(FindFirst2Request {
            search_attributes: r.u16(what)?,
            search_count: r.u16(what)?,
            flags: r.u16(what)?,
            information_level: r.u16(what)?,
            search_storage_type: r.u32(what)?,
            file_name: read_file_name(&r, unicode)?,
            max_data_count: t.max_data_count,
        })
    }
}

/// Trans2_Parameters of a TRANS2_FIND_FIRST2 response (MS-CIFS
/// §2.2.6.2.2): SID, SearchCount, EndOfSearch, EaErrorOffset,
/// LastNameOffset (2 bytes each). The entries are the Trans2_Data, e.g.
/// [`parse_find_file_both_directory_info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FindFirst2ResponseParameters {
    /// SID: the search handle for FIND_NEXT2 and FIND_CLOSE2.
    pub sid: u16,
    /// SearchCount: entries returned.
    pub search_count: u16,
    /// EndOfSearch: non-zero if this response ends the search ("This field
    /// MUST be nonzero if this response is the last").
    pub end_of_search: u16,
    /// EaErrorOffset.
    pub ea_error_offset: u16,
    /// LastNameOffset: offset in Trans2_Data of the last entry's name, 0 if
    /// the server cannot resume. Samba (4.17) points it at the last entry
    /// rather than its name: resume FIND_NEXT2 with the last parsed
    /// entry's `file_name` instead of reading the name here.
    pub last_name_offset: u16,
}

impl FindFirst2ResponseParameters {
    /// Size on the wire.
    pub const LEN: usize = 10;

    /// Decodes the 10 bytes; trailing bytes are ignored.
    pub fn decode(parameters: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_FIND_FIRST2 response parameters";
        let mut r = Reader::new(parameters);
        Ok(FindFirst2ResponseParameters {
            sid: r.u16(what)?,
            search_count: r.u16(what)?,
            end_of_search: r.u16(what)?,
            ea_error_offset: r.u16(what)?,
            last_name_offset: r.u16(what)?,
        })
    }

    /// The encoded parameters (for test servers).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(self.sid)
            .u16(self.search_count)
            .u16(self.end_of_search)
            .u16(self.ea_error_offset)
            .u16(self.last_name_offset);
        w.into_vec()
    }
}

/// TRANS2_FIND_NEXT2 request (MS-CIFS §2.2.6.3.1).
///
/// Trans2_Parameters: SID (2), SearchCount (2), InformationLevel (2),
/// ResumeKey (4), Flags (2), FileName. MaxParameterCount is 8
/// ([`FindNext2ResponseParameters`]). Windows continues with ResumeKey 0,
/// Flags CONTINUE_FROM_LAST | CLOSE_AT_EOS and FileName = the last name
/// returned; MS-CIFS §3.3.5.58.4: "If the SMB_FIND_CONTINUE_FROM_LAST bit
/// is set ..., the search MUST resume from the point immediately following
/// the last entry previously returned. Otherwise, the search MUST be
/// restarted based upon the ResumeKey".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindNext2Request {
    /// SID from the FIND_FIRST2 response.
    pub sid: u16,
    /// SearchCount: the most entries to return.
    pub search_count: u16,
    /// InformationLevel (see [`find_level`]).
    pub information_level: u16,
    /// ResumeKey.
    pub resume_key: u32,
    /// Flags (see [`find_flags`]).
    pub flags: u16,
    /// FileName: the name of the last entry returned (no path).
    pub file_name: String,
    /// MaxDataCount: the most entry bytes to return in this response.
    pub max_data_count: u16,
}

impl FindNext2Request {
    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header
    /// with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name makes the parameters exceed 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut p = Writer::new();
        p.u16(self.sid)
            .u16(self.search_count)
            .u16(self.information_level)
            .u32(self.resume_key)
            .u16(self.flags)
            .utf16(&self.file_name)
            .u16(0);
        trans2(
            subcommand::FIND_NEXT2,
            p.into_vec(),
            Vec::new(),
            8,
            self.max_data_count,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_FIND_NEXT2 request";
        let (t, unicode) = decode_trans2(msg, subcommand::FIND_NEXT2, what)?;
        let mut r = Reader::new(&t.parameters);
        Ok(FindNext2Request {
            sid: r.u16(what)?,
            search_count: r.u16(what)?,
            information_level: r.u16(what)?,
            resume_key: r.u32(what)?,
            flags: r.u16(what)?,
            file_name: read_file_name(&r, unicode)?,
            max_data_count: t.max_data_count,
        })
    }
}

/// Trans2_Parameters of a TRANS2_FIND_NEXT2 response (MS-CIFS
/// §2.2.6.3.2): SearchCount, EndOfSearch, EaErrorOffset, LastNameOffset
/// (2 bytes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FindNext2ResponseParameters {
    /// SearchCount: entries returned.
    pub search_count: u16,
    /// EndOfSearch: non-zero if the search has ended.
    pub end_of_search: u16,
    /// EaErrorOffset.
    pub ea_error_offset: u16,
    /// LastNameOffset.
    pub last_name_offset: u16,
}

impl FindNext2ResponseParameters {
    /// Size on the wire.
    pub const LEN: usize = 8;

    /// Decodes the 8 bytes; trailing bytes are ignored.
    pub fn decode(parameters: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_FIND_NEXT2 response parameters";
        let mut r = Reader::new(parameters);
        Ok(FindNext2ResponseParameters {
            search_count: r.u16(what)?,
            end_of_search: r.u16(what)?,
            ea_error_offset: r.u16(what)?,
            last_name_offset: r.u16(what)?,
        })
    }

    /// The encoded parameters (for test servers).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(self.search_count)
            .u16(self.end_of_search)
            .u16(self.ea_error_offset)
            .u16(self.last_name_offset);
        w.into_vec()
    }
}

/// SMB_COM_FIND_CLOSE2 request (MS-CIFS §2.2.4.48.1): WordCount 1,
/// SearchHandle (the SID), ByteCount 0. Ends a search that has not reached
/// its end (one closed by CLOSE_AT_EOS needs no FIND_CLOSE2). The response
/// is empty (WordCount 0, ByteCount 0; decode it with
/// [`decode_empty_response`](super::path_ops::decode_empty_response)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindClose2Request {
    /// SearchHandle: the SID of the search.
    pub sid: u16,
}

impl FindClose2Request {
    /// Appends the request to `w` (holding the SMB_COM_FIND_CLOSE2 header).
    pub fn encode(&self, w: &mut Writer) {
        w.u8(1).u16(self.sid).u16(0);
    }

    /// Decodes the request (for test servers): WordCount must be 1; the
    /// ByteCount bytes ("This field MUST be 0x0000") are skipped.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_FIND_CLOSE2 request";
        let b = blocks(msg, &[command::FIND_CLOSE2], what)?;
        expect_word_count(b.words, 1, what)?;
        Ok(FindClose2Request {
            sid: Reader::new(b.words).u16(what)?,
        })
    }
}

/// Fixed part of SMB_FIND_FILE_BOTH_DIRECTORY_INFO, up to FileName.
const BOTH_DIR_FIXED_LEN: usize = 94;
/// Size of the ShortName field: WCHAR ShortName\[12\].
const SHORT_NAME_FIELD_LEN: usize = 24;

/// Parses the Trans2_Data of a FIND_FIRST2 / FIND_NEXT2 response for
/// SMB_FIND_FILE_BOTH_DIRECTORY_INFO (MS-CIFS §2.2.8.1.7, MS-SMB §2.2.8.1.1).
///
/// Each entry: NextEntryOffset (4), FileIndex (4), CreationTime,
/// LastAccessTime, LastWriteTime, LastChangeTime, EndOfFile, AllocationSize
/// (8 each), ExtFileAttributes (4), FileNameLength (4), EaSize (4),
/// ShortNameLength (1), Reserved (1), ShortName (24 bytes: WCHAR\[12\]),
/// FileName (FileNameLength bytes) — the FILE_BOTH_DIR_INFORMATION layout,
/// mapped onto [`DirectoryEntry`] (`change_time` = LastChangeTime,
/// `file_attributes` = ExtFileAttributes, `file_id` 0).
///
/// FileName is UTF-16LE when `unicode` (the response header's
/// SMB_FLAGS2_UNICODE), else OEM bytes read as Latin-1; ShortName is always
/// UTF-16LE. Trailing NULs inside FileNameLength (Samba counts the
/// terminator of non-Unicode names) are dropped. Names are decoded
/// losslessly: an odd Unicode length or an unpaired surrogate is an error.
///
/// The walk follows NextEntryOffset ("the offset, in bytes, from this entry
/// in the list to the next entry"): 0 ends the list, and so does an offset
/// pointing exactly at the end of `data` (Samba leaves the last entry's
/// NextEntryOffset at its padded length instead of 0); otherwise it must
/// not be smaller than the entry it follows (so every step advances at
/// least 94 bytes) and must point inside `data`; every entry, name included, must
/// lie in `data`; ShortNameLength may not exceed 24. Unlike MS-FSCC, SMB1
/// does not require 8-byte alignment, and some servers pack entries, so
/// none is required. Empty `data` (SearchCount 0) gives no entries. The
/// caller should check that the number of entries equals SearchCount.
pub fn parse_find_file_both_directory_info(
    data: &[u8],
    unicode: bool,
) -> Result<Vec<DirectoryEntry>, DecodeError> {
    parse_find_entries(data, unicode, false)
}

/// Fixed part of SMB_FIND_FILE_ID_BOTH_DIRECTORY_INFO, up to FileName.
const ID_BOTH_DIR_FIXED_LEN: usize = 104;

/// Parses the Trans2_Data of a FIND_FIRST2 / FIND_NEXT2 response for
/// SMB_FIND_FILE_ID_BOTH_DIRECTORY_INFO (MS-SMB §2.2.8.1.3): the layout of
/// [`parse_find_file_both_directory_info`] with Reserved2 (2) and FileId
/// (8) between ShortName and FileName (104 bytes before FileName), as the
/// FILE_ID_BOTH_DIR_INFORMATION of MS-FSCC §2.4.17. The FileId goes to
/// [`DirectoryEntry::file_id`]; everything else is read and checked as
/// there.
pub fn parse_find_file_id_both_directory_info(
    data: &[u8],
    unicode: bool,
) -> Result<Vec<DirectoryEntry>, DecodeError> {
    parse_find_entries(data, unicode, true)
}

fn parse_find_entries(
    data: &[u8],
    unicode: bool,
    with_id: bool,
) -> Result<Vec<DirectoryEntry>, DecodeError> {
    let fixed_len = if with_id {
        ID_BOTH_DIR_FIXED_LEN
    } else {
        BOTH_DIR_FIXED_LEN
    };
    let mut entries = Vec::new();
    if data.is_empty() {
        return Ok(entries);
    }
    let mut offset = 0usize;
    loop {
        // Invariant: offset < data.len().
        let entry = &data[offset..];
        let mut r = Reader::new(entry);
        let next = r.u32("NextEntryOffset")? as usize;
        let file_index = r.u32("FileIndex")?;
        let creation_time = r.u64("CreationTime")?;
        let last_access_time = r.u64("LastAccessTime")?;
        let last_write_time = r.u64("LastWriteTime")?;
        let change_time = r.u64("LastChangeTime")?;
        let end_of_file = r.u64("EndOfFile")?;
        let allocation_size = r.u64("AllocationSize")?;
        let file_attributes = r.u32("ExtFileAttributes")?;
        let name_len = r.u32("FileNameLength")? as usize;
        let ea_size = r.u32("EaSize")?;
        let short_len = usize::from(r.u8("ShortNameLength")?);
        r.skip(1, "Reserved")?;
        let short_field = r.take(SHORT_NAME_FIELD_LEN, "ShortName")?;
        if short_len > SHORT_NAME_FIELD_LEN {
            return Err(DecodeError::invalid(
                "ShortNameLength",
                format!("{short_len} exceeds the {SHORT_NAME_FIELD_LEN}-byte ShortName field"),
            ));
        }
        let short_name = from_utf16le(&short_field[..short_len], "ShortName")?
            .trim_end_matches('\0')
            .to_string();
        let file_id = if with_id {
            r.skip(2, "Reserved2")?;
            r.u64("FileId")?
        } else {
            0
        };
        let name_range = checked_range("FileName", fixed_len, name_len, entry.len())?;
        let entry_len = name_range.end;
        let file_name = decode_name(&entry[name_range], unicode, "FileName")?;
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
        // Samba does not zero the last entry's NextEntryOffset: it holds the
        // entry's padded length, pointing exactly at the end of the data.
        if next == 0 || next == entry.len() {
            return Ok(entries);
        }
        if next < entry_len {
            return Err(DecodeError::invalid(
                "NextEntryOffset",
                format!("{next} points inside the {entry_len}-byte entry it follows"),
            ));
        }
        if next >= entry.len() {
            return Err(DecodeError::OutOfBounds {
                what: "NextEntryOffset",
                offset: offset.saturating_add(next),
                length: fixed_len,
                bound: data.len(),
            });
        }
        offset += next;
    }
}

/// Decodes a counted name (UTF-16LE strictly, or Latin-1), dropping
/// trailing NULs.
fn decode_name(b: &[u8], unicode: bool, what: &'static str) -> Result<String, DecodeError> {
    if unicode {
        Ok(from_utf16le(b, what)?.trim_end_matches('\0').to_string())
    } else {
        Ok(latin1(b).trim_end_matches('\0').to_string())
    }
}

// ---------------------------------------------------------------------------
// Query / set information
// ---------------------------------------------------------------------------

/// TRANS2_QUERY_PATH_INFORMATION request (MS-CIFS §2.2.6.6.1).
///
/// Trans2_Parameters: InformationLevel (2), Reserved (4, "MUST be zero"),
/// FileName; no data. MaxParameterCount is 2 (the response's
/// EaErrorOffset); the Trans2_Data of the response is the structure of the
/// level: [`decode_query_basic_info`], [`decode_query_standard_info`],
/// [`SmbQueryFileAllInfo`], or for a pass-through level
/// ([`passthrough_level`]) the MS-FSCC structure, e.g.
/// [`fscc::FileAllInformation`](crate::fscc::FileAllInformation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPathInformationRequest {
    /// InformationLevel (see [`query_level`], [`passthrough_level`]).
    pub information_level: u16,
    /// FileName: the path from the share root, e.g. `\dir\a.txt` (empty
    /// for the root).
    pub file_name: String,
    /// MaxDataCount: the most data bytes to return.
    pub max_data_count: u16,
}

impl QueryPathInformationRequest {
    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header
    /// with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name makes the parameters exceed 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut p = Writer::new();
        p.u16(self.information_level)
            .u32(0)
            .utf16(&self.file_name)
            .u16(0);
        trans2(
            subcommand::QUERY_PATH_INFORMATION,
            p.into_vec(),
            Vec::new(),
            2,
            self.max_data_count,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips); Reserved is
    /// ignored.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_QUERY_PATH_INFORMATION request";
        let (t, unicode) = decode_trans2(msg, subcommand::QUERY_PATH_INFORMATION, what)?;
        let mut r = Reader::new(&t.parameters);
        let information_level = r.u16(what)?;
        r.skip(4, what)?;
        Ok(QueryPathInformationRequest {
            information_level,
            file_name: read_file_name(&r, unicode)?,
            max_data_count: t.max_data_count,
        })
    }
}

/// TRANS2_QUERY_FILE_INFORMATION request (MS-CIFS §2.2.6.8.1).
///
/// Trans2_Parameters: FID (2), InformationLevel (2); no data. The response
/// is that of [`QueryPathInformationRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryFileInformationRequest {
    /// FID of the open file.
    pub fid: u16,
    /// InformationLevel (see [`query_level`], [`passthrough_level`]).
    pub information_level: u16,
    /// MaxDataCount: the most data bytes to return.
    pub max_data_count: u16,
}

impl QueryFileInformationRequest {
    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header).
    /// Its parameters have fixed sizes, so this does not fail in practice.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut p = Writer::new();
        p.u16(self.fid).u16(self.information_level);
        trans2(
            subcommand::QUERY_FILE_INFORMATION,
            p.into_vec(),
            Vec::new(),
            2,
            self.max_data_count,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_QUERY_FILE_INFORMATION request";
        let (t, _) = decode_trans2(msg, subcommand::QUERY_FILE_INFORMATION, what)?;
        let mut r = Reader::new(&t.parameters);
        Ok(QueryFileInformationRequest {
            fid: r.u16(what)?,
            information_level: r.u16(what)?,
            max_data_count: t.max_data_count,
        })
    }
}

/// TRANS2_SET_PATH_INFORMATION request (MS-CIFS §2.2.6.7.1).
///
/// Trans2_Parameters: InformationLevel (2), Reserved (4), FileName;
/// Trans2_Data: the structure of the level (MS-CIFS §2.2.8.4, or MS-FSCC
/// for pass-through levels). MaxParameterCount is 2 (EaErrorOffset),
/// MaxDataCount 0. (MS-CIFS says TotalDataCount "MUST be zero", which
/// cannot be meant: the data carries the information, as Windows and Samba
/// send it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPathInformationRequest {
    /// InformationLevel (see [`set_level`], [`passthrough_level`]).
    pub information_level: u16,
    /// FileName: the path from the share root.
    pub file_name: String,
    /// Trans2_Data: the information structure.
    pub data: Vec<u8>,
}

impl SetPathInformationRequest {
    /// SMB_SET_FILE_BASIC_INFO (MS-CIFS §2.2.8.4.3) for `file_name`; e.g.
    /// `FileBasicInformation::set_attributes(attributes::NORMAL)` to reset
    /// the attributes, leaving the times alone.
    pub fn basic(file_name: impl Into<String>, info: &FileBasicInformation) -> Self {
        SetPathInformationRequest {
            information_level: set_level::FILE_BASIC_INFO,
            file_name: file_name.into(),
            data: info.to_bytes(),
        }
    }

    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header
    /// with SMB_FLAGS2_UNICODE).
    ///
    /// # Errors
    ///
    /// If the name or data exceed 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut p = Writer::new();
        p.u16(self.information_level)
            .u32(0)
            .utf16(&self.file_name)
            .u16(0);
        trans2(
            subcommand::SET_PATH_INFORMATION,
            p.into_vec(),
            self.data.clone(),
            2,
            0,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_SET_PATH_INFORMATION request";
        let (t, unicode) = decode_trans2(msg, subcommand::SET_PATH_INFORMATION, what)?;
        let mut r = Reader::new(&t.parameters);
        let information_level = r.u16(what)?;
        r.skip(4, what)?;
        Ok(SetPathInformationRequest {
            information_level,
            file_name: read_file_name(&r, unicode)?,
            data: t.data,
        })
    }
}

/// TRANS2_SET_FILE_INFORMATION request (MS-CIFS §2.2.6.9.1).
///
/// Trans2_Parameters: FID (2), InformationLevel (2), Reserved (2);
/// Trans2_Data: the structure of the level. MaxParameterCount 2,
/// MaxDataCount 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFileInformationRequest {
    /// FID of the open file.
    pub fid: u16,
    /// InformationLevel (see [`set_level`], [`passthrough_level`]).
    pub information_level: u16,
    /// Trans2_Data: the information structure.
    pub data: Vec<u8>,
}

impl SetFileInformationRequest {
    /// SMB_SET_FILE_BASIC_INFO (MS-CIFS §2.2.8.4.3).
    pub fn basic(fid: u16, info: &FileBasicInformation) -> Self {
        SetFileInformationRequest {
            fid,
            information_level: set_level::FILE_BASIC_INFO,
            data: info.to_bytes(),
        }
    }

    /// SMB_SET_FILE_DISPOSITION_INFO (MS-CIFS §2.2.8.4.5): DeletePending,
    /// "a boolean ... to indicate whether a file SHOULD be deleted when it
    /// is closed". A native level, so it needs no CAP_INFOLEVEL_PASSTHRU.
    pub fn disposition(fid: u16, delete_pending: bool) -> Self {
        SetFileInformationRequest {
            fid,
            information_level: set_level::FILE_DISPOSITION_INFO,
            data: vec![u8::from(delete_pending)],
        }
    }

    /// SMB_SET_FILE_END_OF_FILE_INFO (MS-CIFS §2.2.8.4.7): EndOfFile (8).
    pub fn end_of_file(fid: u16, end_of_file: u64) -> Self {
        SetFileInformationRequest {
            fid,
            information_level: set_level::FILE_END_OF_FILE_INFO,
            data: end_of_file.to_le_bytes().to_vec(),
        }
    }

    /// Rename by FID with the pass-through level FileRenameInformation
    /// (1010, MS-SMB §2.2.2.3.5) carrying FILE_RENAME_INFORMATION_TYPE_1
    /// (see [`file_rename_information_type1`]). Needs
    /// CAP_INFOLEVEL_PASSTHRU.
    ///
    /// # Errors
    ///
    /// If the name is longer than `u32::MAX` bytes of UTF-16.
    pub fn rename(fid: u16, replace_if_exists: bool, new_name: &str) -> Result<Self, EncodeError> {
        Ok(SetFileInformationRequest {
            fid,
            information_level: passthrough_level(crate::fscc::info_class::FILE_RENAME_INFORMATION),
            data: file_rename_information_type1(replace_if_exists, new_name)?,
        })
    }

    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header).
    ///
    /// # Errors
    ///
    /// If the data exceed 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let mut p = Writer::new();
        p.u16(self.fid).u16(self.information_level).u16(0);
        trans2(
            subcommand::SET_FILE_INFORMATION,
            p.into_vec(),
            self.data.clone(),
            2,
            0,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips); Reserved is
    /// ignored.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_SET_FILE_INFORMATION request";
        let (t, _) = decode_trans2(msg, subcommand::SET_FILE_INFORMATION, what)?;
        let mut r = Reader::new(&t.parameters);
        let fid = r.u16(what)?;
        let information_level = r.u16(what)?;
        r.skip(2, what)?;
        Ok(SetFileInformationRequest {
            fid,
            information_level,
            data: t.data,
        })
    }
}

/// TRANS2_QUERY_FS_INFORMATION request (MS-CIFS §2.2.6.4.1):
/// Trans2_Parameters InformationLevel (2), no data; the response has no
/// parameters and the level's structure as data (for the pass-through
/// level 1007, FILE_FS_FULL_SIZE_INFORMATION:
/// [`fscc::FileFsFullSizeInformation`](crate::fscc::FileFsFullSizeInformation)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryFsInformationRequest {
    /// InformationLevel (see [`fs_level`], [`passthrough_level`]).
    pub information_level: u16,
    /// MaxDataCount: the most data bytes to return.
    pub max_data_count: u16,
}

impl QueryFsInformationRequest {
    /// Appends the request to `w` (holding the SMB_COM_TRANSACTION2 header).
    /// Its parameters have fixed sizes, so this does not fail in practice.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        trans2(
            subcommand::QUERY_FS_INFORMATION,
            self.information_level.to_le_bytes().to_vec(),
            Vec::new(),
            0,
            self.max_data_count,
        )
        .encode(w)
    }

    /// Decodes the request (for test servers and round trips).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "TRANS2_QUERY_FS_INFORMATION request";
        let (t, _) = decode_trans2(msg, subcommand::QUERY_FS_INFORMATION, what)?;
        Ok(QueryFsInformationRequest {
            information_level: Reader::new(&t.parameters).u16(what)?,
            max_data_count: t.max_data_count,
        })
    }
}

/// The part of SMB_QUERY_FILE_BASIC_INFO before Reserved, which Samba
/// omits.
const BASIC_INFO_MIN_LEN: usize = 36;

/// Decodes SMB_QUERY_FILE_BASIC_INFO (MS-CIFS §2.2.8.3.6): CreationTime,
/// LastAccessTime, LastWriteTime, LastChangeTime (8 each),
/// ExtFileAttributes (4), Reserved (4) — the layout of MS-FSCC
/// FILE_BASIC_INFORMATION, so this also decodes the pass-through level
/// FileBasicInformation (1004). Samba sends this level without the trailing
/// Reserved (36 bytes), so only the first 36 bytes are required; trailing
/// bytes are ignored.
pub fn decode_query_basic_info(data: &[u8]) -> Result<FileBasicInformation, DecodeError> {
    let what = "SMB_QUERY_FILE_BASIC_INFO";
    if data.len() < BASIC_INFO_MIN_LEN {
        return Err(DecodeError::Truncated {
            what,
            needed: BASIC_INFO_MIN_LEN,
            available: data.len(),
        });
    }
    read_basic_info(&mut Reader::new(data))
}

/// Reads the five fields SMB_QUERY_FILE_BASIC_INFO and
/// SMB_QUERY_FILE_ALL_INFO share: the four times and ExtFileAttributes.
fn read_basic_info(r: &mut Reader<'_>) -> Result<FileBasicInformation, DecodeError> {
    Ok(FileBasicInformation {
        creation_time: r.u64("CreationTime")?,
        last_access_time: r.u64("LastAccessTime")?,
        last_write_time: r.u64("LastWriteTime")?,
        change_time: r.u64("LastChangeTime")?,
        file_attributes: r.u32("ExtFileAttributes")?,
    })
}

/// Reads the fields SMB_QUERY_FILE_STANDARD_INFO and
/// SMB_QUERY_FILE_ALL_INFO share: sizes, links and the two flags.
fn read_standard_info(r: &mut Reader<'_>) -> Result<FileStandardInformation, DecodeError> {
    Ok(FileStandardInformation {
        allocation_size: r.u64("AllocationSize")?,
        end_of_file: r.u64("EndOfFile")?,
        number_of_links: r.u32("NumberOfLinks")?,
        delete_pending: r.u8("DeletePending")? != 0,
        directory: r.u8("Directory")? != 0,
    })
}

/// Size of SMB_QUERY_FILE_STANDARD_INFO as MS-CIFS defines it (no trailing
/// Reserved).
const STANDARD_INFO_LEN: usize = 22;

/// Decodes SMB_QUERY_FILE_STANDARD_INFO (MS-CIFS §2.2.8.3.7):
/// AllocationSize (8), EndOfFile (8), NumberOfLinks (4), DeletePending (1),
/// Directory (1) — 22 bytes; servers usually append the 2 Reserved bytes of
/// MS-FSCC FILE_STANDARD_INFORMATION, so this also decodes the pass-through
/// level FileStandardInformation (1005). Trailing bytes are ignored.
pub fn decode_query_standard_info(data: &[u8]) -> Result<FileStandardInformation, DecodeError> {
    let what = "SMB_QUERY_FILE_STANDARD_INFO";
    if data.len() < STANDARD_INFO_LEN {
        return Err(DecodeError::Truncated {
            what,
            needed: STANDARD_INFO_LEN,
            available: data.len(),
        });
    }
    read_standard_info(&mut Reader::new(data))
}

/// SMB_QUERY_FILE_ALL_INFO (MS-CIFS §2.2.8.3.10), the SMB1 form (for the
/// pass-through FileAllInformation, 1018, use
/// [`fscc::FileAllInformation`](crate::fscc::FileAllInformation)):
/// CreationTime, LastAccessTime, LastWriteTime, LastChangeTime (8 each),
/// ExtFileAttributes (4), Reserved1 (4), AllocationSize, EndOfFile (8
/// each), NumberOfLinks (4), DeletePending (1), Directory (1), Reserved2
/// (2), EaSize (4), FileNameLength (4), FileName (WCHAR, FileNameLength
/// bytes). The fixed part is 72 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmbQueryFileAllInfo {
    /// The times and ExtFileAttributes (the SMB_QUERY_FILE_BASIC_INFO part).
    pub basic: FileBasicInformation,
    /// Sizes, links and flags (the SMB_QUERY_FILE_STANDARD_INFO part).
    pub standard: FileStandardInformation,
    /// EaSize.
    pub ea_size: u32,
    /// FileName (trailing NULs dropped).
    pub file_name: String,
}

impl SmbQueryFileAllInfo {
    /// Size of the fixed part, up to and including FileNameLength.
    pub const FIXED_LEN: usize = 72;

    /// Decodes the structure: the whole name must be present and valid
    /// UTF-16 ("WCHAR FileName[FileNameLength/2]", whatever the header's
    /// Unicode flag). Trailing bytes are ignored.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let basic = read_basic_info(&mut r)?;
        r.skip(4, "Reserved1")?;
        let standard = read_standard_info(&mut r)?;
        r.skip(2, "Reserved2")?;
        let ea_size = r.u32("EaSize")?;
        let name_len = r.u32("FileNameLength")? as usize;
        let file_name = decode_name(r.take(name_len, "FileName")?, true, "FileName")?;
        Ok(SmbQueryFileAllInfo {
            basic,
            standard,
            ea_size,
            file_name,
        })
    }

    /// The encoded structure (for test servers and tests).
    ///
    /// # Errors
    ///
    /// If the name is longer than `u32::MAX` bytes of UTF-16.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let name_len = wire_u32(
            utf16_len(&self.file_name),
            "SMB_QUERY_FILE_ALL_INFO FileNameLength",
        )?;
        let mut w = Writer::new();
        self.basic.encode(&mut w);
        w.u64(self.standard.allocation_size)
            .u64(self.standard.end_of_file)
            .u32(self.standard.number_of_links)
            .u8(u8::from(self.standard.delete_pending))
            .u8(u8::from(self.standard.directory))
            .u16(0)
            .u32(self.ea_size)
            .u32(name_len)
            .utf16(&self.file_name);
        Ok(w.into_vec())
    }
}

/// Encodes FILE_RENAME_INFORMATION_TYPE_1 (MS-FSCC §2.4.41.1, the SMB form
/// used with the pass-through level FileRenameInformation):
/// ReplaceIfExists (1), Reserved (3), RootDirectory (4, "For network
/// operations, this value MUST be zero"), FileNameLength (4), FileName
/// (UTF-16LE, no terminator).
///
/// # Errors
///
/// If the name is longer than `u32::MAX` bytes of UTF-16.
pub fn file_rename_information_type1(
    replace_if_exists: bool,
    file_name: &str,
) -> Result<Vec<u8>, EncodeError> {
    let name_len = wire_u32(
        utf16_len(file_name),
        "FILE_RENAME_INFORMATION_TYPE_1 FileNameLength",
    )?;
    let mut w = Writer::new();
    w.u8(u8::from(replace_if_exists))
        .zeros(3)
        .u32(0)
        .u32(name_len)
        .utf16(file_name);
    Ok(w.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;
    use crate::fscc::attributes;
    use crate::smb1::trans::testutil::{request_writer, response_writer};
    use crate::smb1::trans::{TransAssembler, TransResponseFragment, TransResponsePart};
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};
    use crate::types::NtStatus;

    fn encode_with(cmd: u8, f: impl FnOnce(&mut Writer) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut w = request_writer(cmd);
        f(&mut w).unwrap();
        w.into_vec()
    }

    fn find_first() -> FindFirst2Request {
        FindFirst2Request {
            search_attributes: 0x0016,
            search_count: 1366,
            flags: find_flags::CLOSE_AT_EOS | find_flags::RETURN_RESUME_KEYS,
            information_level: find_level::FILE_BOTH_DIRECTORY_INFO,
            search_storage_type: 0,
            file_name: "\\*".into(),
            max_data_count: 16644,
        }
    }

    #[test]
    fn find_first2_request_matches_hand_computed_bytes() {
        let msg = encode_with(command::TRANSACTION2, |w| find_first().encode(w));
        let mut expected = msg[..32].to_vec();
        assert_eq!(expected[4], 0x32);
        expected.extend_from_slice(&[
            0x0F, // WordCount 14 + 1
            0x12, 0x00, // TotalParameterCount 18
            0x00, 0x00, // TotalDataCount 0
            0x0A, 0x00, // MaxParameterCount 10
            0x04, 0x41, // MaxDataCount 16644
            0x00, // MaxSetupCount
            0x00, // Reserved1
            0x00, 0x00, // Flags
            0x00, 0x00, 0x00, 0x00, // Timeout
            0x00, 0x00, // Reserved2
            0x12, 0x00, // ParameterCount 18
            0x44, 0x00, // ParameterOffset 68
            0x00, 0x00, // DataCount 0
            0x56, 0x00, // DataOffset 86
            0x01, // SetupCount
            0x00, // Reserved3
            0x01, 0x00, // Setup[0] TRANS2_FIND_FIRST2
            0x15, 0x00, // ByteCount 21
            0x00, // pad: Name aligned to 66
            0x00, 0x00, // Name: empty Unicode string
            // Trans2_Parameters at 68:
            0x16, 0x00, // SearchAttributes
            0x56, 0x05, // SearchCount 1366
            0x06, 0x00, // Flags CLOSE_AT_EOS | RETURN_RESUME_KEYS
            0x04, 0x01, // SMB_FIND_FILE_BOTH_DIRECTORY_INFO
            0x00, 0x00, 0x00, 0x00, // SearchStorageType
            b'\\', 0x00, b'*', 0x00, 0x00, 0x00, // FileName "\*"
        ]);
        assert_eq!(msg, expected);
        assert_eq!(FindFirst2Request::decode(&msg).unwrap(), find_first());
        assert_truncations_fail(&msg, FindFirst2Request::decode);
        mutate_never_panics(&msg, FindFirst2Request::decode);
    }

    #[test]
    fn every_request_round_trips() {
        let t2 = command::TRANSACTION2;
        let req = find_first();
        let msg = encode_with(t2, |w| req.encode(w));
        assert_eq!(FindFirst2Request::decode(&msg).unwrap(), req);

        let req = FindNext2Request {
            sid: 0x0A01,
            search_count: 100,
            information_level: find_level::FILE_BOTH_DIRECTORY_INFO,
            resume_key: 0,
            flags: find_flags::CONTINUE_FROM_LAST | find_flags::CLOSE_AT_EOS,
            file_name: "réseau 😀.txt".into(),
            max_data_count: 16644,
        };
        let msg = encode_with(t2, |w| req.encode(w));
        assert_eq!(FindNext2Request::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, FindNext2Request::decode);
        mutate_never_panics(&msg, FindNext2Request::decode);
        assert!(FindFirst2Request::decode(&msg).is_err()); // other subcommand

        let req = QueryPathInformationRequest {
            information_level: query_level::FILE_ALL_INFO,
            file_name: "\\dir\\a.txt".into(),
            max_data_count: DEFAULT_MAX_DATA_COUNT,
        };
        let msg = encode_with(t2, |w| req.encode(w));
        assert_eq!(QueryPathInformationRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, QueryPathInformationRequest::decode);
        mutate_never_panics(&msg, QueryPathInformationRequest::decode);
        // Parameter layout: level, 4 reserved bytes, name.
        let t = TransRequest::decode(&msg).unwrap();
        assert_eq!(&t.parameters[..6], &[0x07, 0x01, 0, 0, 0, 0]);
        assert_eq!(t.max_parameter_count, 2);

        let req = QueryFileInformationRequest {
            fid: 0x4002,
            information_level: passthrough_level(crate::fscc::info_class::FILE_ALL_INFORMATION),
            max_data_count: 4096,
        };
        assert_eq!(req.information_level, 1018);
        let msg = encode_with(t2, |w| req.encode(w));
        assert_eq!(QueryFileInformationRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, QueryFileInformationRequest::decode);

        let req = SetPathInformationRequest::basic(
            "\\ro.txt",
            &FileBasicInformation::set_attributes(attributes::NORMAL),
        );
        assert_eq!(req.data.len(), 40);
        let msg = encode_with(t2, |w| req.encode(w));
        assert_eq!(SetPathInformationRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, SetPathInformationRequest::decode);
        mutate_never_panics(&msg, SetPathInformationRequest::decode);
        let t = TransRequest::decode(&msg).unwrap();
        assert_eq!(t.data[32..36], attributes::NORMAL.to_le_bytes());

        for req in [
            SetFileInformationRequest::basic(7, &FileBasicInformation::set_last_write_time(5)),
            SetFileInformationRequest::disposition(7, true),
            SetFileInformationRequest::end_of_file(7, 1 << 40),
            SetFileInformationRequest::rename(7, true, "new.txt").unwrap(),
        ] {
            let msg = encode_with(t2, |w| req.encode(w));
            assert_eq!(SetFileInformationRequest::decode(&msg).unwrap(), req);
            assert_truncations_fail(&msg, SetFileInformationRequest::decode);
            let t = TransRequest::decode(&msg).unwrap();
            assert_eq!(t.parameters.len(), 6);
            assert_eq!(t.data, req.data);
        }
        assert_eq!(
            SetFileInformationRequest::disposition(7, true).data,
            vec![1]
        );
        let rename = SetFileInformationRequest::rename(7, true, "n").unwrap();
        assert_eq!(rename.information_level, 1010);
        assert_eq!(
            rename.data,
            vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'n', 0]
        );

        let req = QueryFsInformationRequest {
            information_level: passthrough_level(7),
            max_data_count: 1024,
        };
        let msg = encode_with(t2, |w| req.encode(w));
        assert_eq!(QueryFsInformationRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, QueryFsInformationRequest::decode);

        let req = FindClose2Request { sid: 0x0A01 };
        let msg = encode_with(command::FIND_CLOSE2, |w| {
            req.encode(w);
            Ok(())
        });
        assert_eq!(&msg[32..], &[1, 0x01, 0x0A, 0, 0]);
        assert_eq!(FindClose2Request::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, FindClose2Request::decode);
        mutate_never_panics(&msg, FindClose2Request::decode);
    }

    const T1: u64 = 0x01D9_A0B1_2233_4455;
    const T2: u64 = 0x01DA_0000_1111_2222;

    /// One SMB_FIND_FILE_BOTH_DIRECTORY_INFO entry for a Unicode client.
    /// Unless `last`, it is padded to 8 bytes and NextEntryOffset is its
    /// padded length (Samba does this for every entry, the last included);
    /// a `last` entry has no padding and NextEntryOffset 0.
    fn samba_entry(name: &str, short: &str, attrs: u32, size: u64, last: bool) -> Vec<u8> {
        let name = utf16le(name);
        let short = utf16le(short);
        let mut e = Vec::new();
        e.extend_from_slice(&0u32.to_le_bytes()); // NextEntryOffset, patched
        e.extend_from_slice(&0u32.to_le_bytes()); // FileIndex
        e.extend_from_slice(&T1.to_le_bytes()); // CreationTime
        e.extend_from_slice(&T2.to_le_bytes()); // LastAccessTime
        e.extend_from_slice(&T2.to_le_bytes()); // LastWriteTime
        e.extend_from_slice(&T2.to_le_bytes()); // LastChangeTime
        e.extend_from_slice(&size.to_le_bytes()); // EndOfFile
        e.extend_from_slice(&size.next_multiple_of(4096).to_le_bytes()); // AllocationSize
        e.extend_from_slice(&attrs.to_le_bytes()); // ExtFileAttributes
        e.extend_from_slice(&(name.len() as u32).to_le_bytes()); // FileNameLength
        e.extend_from_slice(&0u32.to_le_bytes()); // EaSize
        e.push(short.len() as u8); // ShortNameLength
        e.push(0); // Reserved
        let mut field = short.clone();
        field.resize(24, 0);
        e.extend(field);
        assert_eq!(e.len(), 94);
        e.extend(name);
        if !last {
            while e.len() % 8 != 0 {
                e.push(0);
            }
            let len = e.len() as u32;
            e[..4].copy_from_slice(&len.to_le_bytes());
        }
        e
    }

    fn samba_find_first_response() -> (Vec<u8>, usize) {
        let mut data = samba_entry(".", "", attributes::DIRECTORY, 0, false);
        data.extend(samba_entry("..", "", attributes::DIRECTORY, 0, false));
        let last = data.len();
        // As Samba 4.17 sends it: the last entry is padded too and its
        // NextEntryOffset points just past the data.
        data.extend(samba_entry(
            "Long file name.txt",
            "LONGFI~1.TXT",
            attributes::ARCHIVE,
            12345,
            false,
        ));
        let params = FindFirst2ResponseParameters {
            sid: 0x8F01,
            search_count: 3,
            end_of_search: 1,
            ea_error_offset: 0,
            // Samba 4.17 points LastNameOffset at the last entry itself,
            // not at its FileName as MS-CIFS §2.2.6.2.2 says.
            last_name_offset: last as u16,
        }
        .to_bytes();
        let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
        TransResponseFragment::whole(&[], &params, &data)
            .unwrap()
            .encode(&mut w)
            .unwrap();
        (w.into_vec(), last)
    }

    #[test]
    fn decodes_a_samba_like_find_first2_response() {
        let (msg, _) = samba_find_first_response();
        let part = TransResponsePart::decode(&msg).unwrap();
        let (params, data) = TransAssembler::new().add(&msg, &part).unwrap().unwrap();
        let p = FindFirst2ResponseParameters::decode(&params).unwrap();
        assert_eq!(
            p,
            FindFirst2ResponseParameters {
                sid: 0x8F01,
                search_count: 3,
                end_of_search: 1,
                ea_error_offset: 0,
                last_name_offset: 96 + 104, // "." padded to 96, ".." to 104
            }
        );
        let unicode = Header::decode(&msg).unwrap().flags2 & flags2::UNICODE != 0;
        let entries = parse_find_file_both_directory_info(&data, unicode).unwrap();
        assert_eq!(entries.len(), usize::from(p.search_count));
        assert_eq!(
            entries
                .iter()
                .map(|e| e.file_name.as_str())
                .collect::<Vec<_>>(),
            [".", "..", "Long file name.txt"]
        );
        assert_eq!(
            entries[2],
            DirectoryEntry {
                file_index: 0,
                creation_time: T1,
                last_access_time: T2,
                last_write_time: T2,
                change_time: T2,
                end_of_file: 12345,
                allocation_size: 16384,
                file_attributes: attributes::ARCHIVE,
                ea_size: 0,
                short_name: "LONGFI~1.TXT".into(),
                file_id: 0,
                file_name: "Long file name.txt".into(),
            }
        );
        assert_eq!(entries[0].file_attributes, attributes::DIRECTORY);
        assert_eq!(entries[0].short_name, "");
        // The last entry ends exactly at the end of the data, padding included.
        assert_eq!(data.len(), 96 + 104 + 136);
        assert_eq!(&data[200..204], &136u32.to_le_bytes());
        // fscc's FILE_BOTH_DIR_INFORMATION encoder produces the same layout.
        let reencoded = crate::fscc::encode_both_directory_information(&entries).unwrap();
        assert_eq!(
            parse_find_file_both_directory_info(&reencoded, true).unwrap(),
            entries
        );
        assert_truncations_fail(&msg, TransResponsePart::decode);
        mutate_never_panics(&msg, |m| {
            let part = TransResponsePart::decode(m)?;
            let (_, d) = TransAssembler::new()
                .add(m, &part)?
                .ok_or(DecodeError::invalid("x", "incomplete"))?;
            parse_find_file_both_directory_info(&d, true)
        });
    }

    #[test]
    fn directory_info_edge_cases() {
        let (msg, last) = samba_find_first_response();
        let part = TransResponsePart::decode(&msg).unwrap();
        let data = part.data_bytes(&msg).to_vec();
        // Every proper prefix fails, except those ending at an entry
        // boundary: as Samba's last NextEntryOffset points at the end of the
        // data, they read as shorter lists (which the caller catches by
        // comparing with SearchCount).
        for len in 1..data.len() {
            let r = parse_find_file_both_directory_info(&data[..len], true);
            match len {
                96 => assert_eq!(r.unwrap().len(), 1),
                200 => assert_eq!(r.unwrap().len(), 2),
                _ => assert!(r.is_err(), "{len}"),
            }
        }
        assert_eq!(
            parse_find_file_both_directory_info(&[], true).unwrap(),
            vec![]
        );
        // NextEntryOffset pointing back into the entry, or past the end.
        let mut bad = data.clone();
        bad[..4].copy_from_slice(&8u32.to_le_bytes());
        assert!(parse_find_file_both_directory_info(&bad, true).is_err());
        let mut bad = data.clone();
        bad[..4].copy_from_slice(&(data.len() as u32 + 8).to_le_bytes());
        assert!(parse_find_file_both_directory_info(&bad, true).is_err());
        // Pointing exactly at the end ends the list (Samba's last entry).
        let mut short = data.clone();
        short[..4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(
            parse_find_file_both_directory_info(&short, true)
                .unwrap()
                .len(),
            1
        );
        // ShortNameLength beyond the 24-byte field.
        let mut bad = data.clone();
        bad[last + 68] = 26;
        assert!(parse_find_file_both_directory_info(&bad, true).is_err());
        // Unaligned (packed) entries are accepted.
        let mut packed = samba_entry("abc", "", 0x80, 1, true);
        assert_eq!(packed.len(), 100);
        packed[..4].copy_from_slice(&100u32.to_le_bytes());
        packed.extend(samba_entry("bc", "", 0x80, 2, true));
        let entries = parse_find_file_both_directory_info(&packed, true).unwrap();
        assert_eq!(entries[1].file_name, "bc");
        // OEM names (non-Unicode), with the terminator Samba counts.
        let mut oem = samba_entry("x", "", 0x20, 1, true);
        oem.truncate(94);
        oem[60..64].copy_from_slice(&4u32.to_le_bytes());
        oem.extend_from_slice(b"\xe9t\xe9\0");
        let entries = parse_find_file_both_directory_info(&oem, false).unwrap();
        assert_eq!(entries[0].file_name, "été");
        // Unpaired surrogate in a Unicode name.
        let mut bad = samba_entry("ab", "", 0x20, 1, true);
        bad[94..96].copy_from_slice(&0xD800u16.to_le_bytes());
        assert!(parse_find_file_both_directory_info(&bad, true).is_err());
    }

    #[test]
    fn id_both_directory_info() {
        let (msg, _) = samba_find_first_response();
        let part = TransResponsePart::decode(&msg).unwrap();
        let mut entries = parse_find_file_both_directory_info(part.data_bytes(&msg), true).unwrap();
        for (i, e) in entries.iter_mut().enumerate() {
            e.file_id = 0x0102_0304_0506_0700 + i as u64;
        }
        // FILE_ID_BOTH_DIR_INFORMATION has the same layout.
        let data = crate::fscc::encode_id_both_directory_information(&entries).unwrap();
        assert_eq!(
            parse_find_file_id_both_directory_info(&data, true).unwrap(),
            entries
        );
        // FileId sits after ShortName and two reserved bytes.
        assert_eq!(&data[96..104], &0x0102_0304_0506_0700u64.to_le_bytes());
        assert_eq!(
            parse_find_file_id_both_directory_info(&[], true).unwrap(),
            vec![]
        );
        // An entry too short for the FileId, and a name past the end.
        assert!(parse_find_file_id_both_directory_info(&data[..100], true).is_err());
        let mut bad = data.clone();
        bad[60..64].copy_from_slice(&(data.len() as u32).to_le_bytes());
        assert!(parse_find_file_id_both_directory_info(&bad, true).is_err());
        mutate_never_panics(&data, |d| parse_find_file_id_both_directory_info(d, true));
    }

    #[test]
    fn find_response_parameters() {
        let p = FindFirst2ResponseParameters {
            sid: 1,
            search_count: 2,
            end_of_search: 0,
            ea_error_offset: 0,
            last_name_offset: 300,
        };
        let b = p.to_bytes();
        assert_eq!(b.len(), FindFirst2ResponseParameters::LEN);
        assert_eq!(FindFirst2ResponseParameters::decode(&b).unwrap(), p);
        assert_truncations_fail(&b, FindFirst2ResponseParameters::decode);
        let n = FindNext2ResponseParameters {
            search_count: 5,
            end_of_search: 1,
            ea_error_offset: 0,
            last_name_offset: 0,
        };
        let b = n.to_bytes();
        assert_eq!(b.len(), FindNext2ResponseParameters::LEN);
        assert_eq!(FindNext2ResponseParameters::decode(&b).unwrap(), n);
        assert_truncations_fail(&b, FindNext2ResponseParameters::decode);
    }

    #[test]
    fn query_info_levels_decode() {
        let basic = FileBasicInformation {
            creation_time: T1,
            last_access_time: T2,
            last_write_time: T2,
            change_time: T2,
            file_attributes: attributes::READONLY | attributes::ARCHIVE,
        };
        let b = basic.to_bytes();
        assert_eq!(decode_query_basic_info(&b).unwrap(), basic);
        // Samba omits Reserved: 36 bytes.
        assert_eq!(decode_query_basic_info(&b[..36]).unwrap(), basic);
        assert_truncations_fail(&b[..36], decode_query_basic_info);

        let standard = FileStandardInformation {
            allocation_size: 4096,
            end_of_file: 10,
            number_of_links: 1,
            delete_pending: false,
            directory: true,
        };
        let full = standard.to_bytes(); // 24 bytes, as servers send
        assert_eq!(decode_query_standard_info(&full).unwrap(), standard);
        assert_eq!(decode_query_standard_info(&full[..22]).unwrap(), standard);
        assert_truncations_fail(&full[..22], decode_query_standard_info);

        let all = SmbQueryFileAllInfo {
            basic,
            standard,
            ea_size: 0,
            file_name: "\\dir\\a.txt".into(),
        };
        let b = all.to_bytes().unwrap();
        assert_eq!(b.len(), SmbQueryFileAllInfo::FIXED_LEN + 20);
        assert_eq!(&b[36..40], &[0, 0, 0, 0]); // Reserved1
        assert_eq!(&b[62..64], &[0, 0]); // Reserved2
        assert_eq!(SmbQueryFileAllInfo::decode(&b).unwrap(), all);
        assert_truncations_fail(&b, SmbQueryFileAllInfo::decode);
        mutate_never_panics(&b, SmbQueryFileAllInfo::decode);
        // A NUL-terminated name (counted in FileNameLength) is accepted.
        let mut with_nul = b.clone();
        with_nul[68..72].copy_from_slice(&22u32.to_le_bytes());
        with_nul.extend_from_slice(&[0, 0]);
        assert_eq!(
            SmbQueryFileAllInfo::decode(&with_nul).unwrap().file_name,
            "\\dir\\a.txt"
        );
    }

    #[test]
    fn query_path_response_in_two_parts() {
        // EaErrorOffset in the first part, the ALL_INFO data split in two.
        let all = SmbQueryFileAllInfo {
            file_name: "x".repeat(50),
            ..Default::default()
        }
        .to_bytes()
        .unwrap();
        let mut asm = TransAssembler::new();
        let mut out = None;
        for (pd, pc, dd, dc) in [
            (0usize, 2usize, 0usize, 100usize),
            (2, 0, 100, all.len() - 100),
        ] {
            let params = [0u8, 0];
            let mut w = response_writer(command::TRANSACTION2, NtStatus::SUCCESS, true);
            TransResponseFragment {
                total_parameter_count: 2,
                total_data_count: all.len() as u32,
                parameter_displacement: pd as u32,
                data_displacement: dd as u32,
                setup: &[],
                parameters: &params[pd..pd + pc],
                data: &all[dd..dd + dc],
            }
            .encode(&mut w)
            .unwrap();
            let msg = w.into_vec();
            let part = TransResponsePart::decode(&msg).unwrap();
            out = asm.add(&msg, &part).unwrap();
        }
        let (params, data) = out.unwrap();
        assert_eq!(params, vec![0, 0]);
        assert_eq!(
            SmbQueryFileAllInfo::decode(&data).unwrap().file_name.len(),
            50
        );
    }

    #[test]
    fn path_requests_stop_at_data_offset() {
        use crate::codec::testutil::{assert_too_large, name};
        use crate::smb1::andx::testutil::largest_ok;
        let try_encode = |f: &dyn Fn(&mut Writer) -> Result<(), EncodeError>| {
            let mut w = request_writer(command::TRANSACTION2);
            f(&mut w).map(|()| w.into_vec())
        };
        // The parameters start at offset 68 (after the words, ByteCount,
        // the empty Name and its pad); DataOffset, the 16-bit offset of
        // what follows them from the header start, is what a long name
        // overflows first. QUERY_PATH_INFORMATION: 2n + 8 bytes of
        // parameters, so DataOffset is 2n + 76.
        let query = |n: usize| {
            try_encode(&|w| {
                QueryPathInformationRequest {
                    information_level: query_level::FILE_BASIC_INFO,
                    file_name: name(n),
                    max_data_count: 40,
                }
                .encode(w)
            })
        };
        assert_eq!(largest_ok(40_000, query), 32729);
        assert_too_large(query(32730), "TRANSACTION2 DataOffset", 65536, 65535);
        // Past that the parameters alone overflow TotalParameterCount.
        assert_too_large(
            query(40_000),
            "TRANSACTION2 TotalParameterCount",
            80_008,
            65535,
        );
        // FIND_FIRST2 and FIND_NEXT2: 12 bytes of parameters before the
        // name.
        let find = |n: usize| {
            try_encode(&|w| {
                FindFirst2Request {
                    file_name: name(n),
                    ..find_first()
                }
                .encode(w)
            })
        };
        assert_eq!(largest_ok(40_000, find), 32726);
        assert_too_large(find(32727), "TRANSACTION2 DataOffset", 65536, 65535);
        let next = |n: usize| {
            try_encode(&|w| {
                FindNext2Request {
                    sid: 1,
                    search_count: 10,
                    information_level: find_level::FILE_BOTH_DIRECTORY_INFO,
                    resume_key: 0,
                    flags: 0,
                    file_name: name(n),
                    max_data_count: 1000,
                }
                .encode(w)
            })
        };
        assert_eq!(largest_ok(40_000, next), 32726);
        assert_too_large(next(32727), "TRANSACTION2 DataOffset", 65536, 65535);
        // SET_PATH_INFORMATION: the data starts at the 4-byte boundary
        // after the 2n + 8 bytes of parameters.
        let set = |n: usize| {
            try_encode(&|w| {
                SetPathInformationRequest::basic(name(n), &FileBasicInformation::default())
                    .encode(w)
            })
        };
        assert_eq!(largest_ok(40_000, set), 32728);
        assert_too_large(set(32729), "TRANSACTION2 DataOffset", 65536, 65535);
    }

    #[test]
    fn set_file_information_data_limit() {
        use crate::codec::testutil::assert_too_large;
        let req = SetFileInformationRequest {
            fid: 1,
            information_level: set_level::FILE_BASIC_INFO,
            data: vec![0; 65536],
        };
        let mut w = request_writer(command::TRANSACTION2);
        assert_too_large(
            req.encode(&mut w),
            "TRANSACTION2 TotalDataCount",
            65536,
            65535,
        );
    }
}
