//! SMB_COM_NT_CREATE_ANDX (0xA2; MS-CIFS §2.2.4.64, MS-SMB §2.2.4.9).
//!
//! DesiredAccess, ShareAccess, CreateDisposition and CreateOptions take the
//! same values as in SMB2 (see [`crate::smb2::create::access_mask`],
//! [`share_access`](crate::smb2::create::share_access),
//! [`create_disposition`](crate::smb2::create::create_disposition) and
//! [`create_options`](crate::smb2::create::create_options)), and
//! ExtFileAttributes are the [`crate::fscc::attributes`] bits.

use super::andx::{
    begin_bytes, bytes_reader, end_bytes, expect_word_count, first_block, put_andx_none,
    put_string, read_string, wire_u16, words_reader,
};
use super::header::{command, flags2, HEADER_LEN};
use crate::codec::{utf16_len, DecodeError, EncodeError, Reader, Writer};

/// Flags of the request (MS-CIFS §2.2.4.64.1, MS-SMB §2.2.4.9.1).
pub mod create_flags {
    /// NT_CREATE_REQUEST_OPLOCK: request an exclusive oplock.
    pub const REQUEST_OPLOCK: u32 = 0x0000_0002;
    /// NT_CREATE_REQUEST_OPBATCH: request a batch oplock.
    pub const REQUEST_OPBATCH: u32 = 0x0000_0004;
    /// NT_CREATE_OPEN_TARGET_DIR: open the directory containing the target.
    pub const OPEN_TARGET_DIR: u32 = 0x0000_0008;
    /// NT_CREATE_REQUEST_EXTENDED_RESPONSE (MS-SMB): ask for the extended
    /// response (WordCount 42).
    pub const REQUEST_EXTENDED_RESPONSE: u32 = 0x0000_0010;
}

/// ImpersonationLevel values (MS-CIFS §2.2.4.64.1, MS-SMB §2.2.4.9.1).
pub mod impersonation {
    /// SECURITY_ANONYMOUS.
    pub const ANONYMOUS: u32 = 0;
    /// SECURITY_IDENTIFICATION.
    pub const IDENTIFICATION: u32 = 1;
    /// SECURITY_IMPERSONATION: what clients normally send.
    pub const IMPERSONATION: u32 = 2;
    /// SECURITY_DELEGATION (MS-SMB).
    pub const DELEGATION: u32 = 3;
}

/// SecurityFlags bits (MS-CIFS §2.2.4.64.1).
pub mod security_flags {
    /// SMB_SECURITY_CONTEXT_TRACKING: dynamic security tracking.
    pub const CONTEXT_TRACKING: u8 = 0x01;
    /// SMB_SECURITY_EFFECTIVE_ONLY: only the enabled aspects of the
    /// client's security context are available.
    pub const EFFECTIVE_ONLY: u8 = 0x02;
}

/// The action the server took, returned in the response's CreateDisposition
/// field (MS-CIFS §2.2.4.64.2; the values of FILE_SUPERSEDED and friends).
pub mod create_action {
    /// FILE_SUPERSEDED: an existing file was replaced.
    pub const SUPERSEDED: u32 = 0;
    /// FILE_OPENED: an existing file was opened.
    pub const OPENED: u32 = 1;
    /// FILE_CREATED: a new file was created.
    pub const CREATED: u32 = 2;
    /// FILE_OVERWRITTEN: an existing file was overwritten.
    pub const OVERWRITTEN: u32 = 3;
}

/// OpLockLevel values of the response (MS-CIFS §2.2.4.64.2).
pub mod oplock_level {
    /// No oplock granted.
    pub const NONE: u8 = 0;
    /// Exclusive oplock granted.
    pub const EXCLUSIVE: u8 = 1;
    /// Batch oplock granted.
    pub const BATCH: u8 = 2;
    /// Level II oplock granted.
    pub const LEVEL_II: u8 = 3;
}

/// ResourceType values of the response (MS-CIFS §2.2.4.64.2).
pub mod resource_type {
    /// FileTypeDisk: a file or directory.
    pub const DISK: u16 = 0x0000;
    /// FileTypeByteModePipe.
    pub const BYTE_MODE_PIPE: u16 = 0x0001;
    /// FileTypeMessageModePipe.
    pub const MESSAGE_MODE_PIPE: u16 = 0x0002;
    /// FileTypePrinter.
    pub const PRINTER: u16 = 0x0003;
}

/// Size of the request's parameter words: "WordCount (1 byte): This field
/// MUST be 0x18".
const REQUEST_WORDS: usize = 48;
/// Size of the MS-CIFS response's parameter words (WordCount 0x22 = 34).
const RESPONSE_WORDS: usize = 68;
/// Size of the extended response's words as Windows and Samba send them:
/// the fields of MS-SMB §2.2.4.9.2 take 100 bytes (50 words) although
/// WordCount says 42.
const EXTENDED_RESPONSE_WORDS: usize = 100;
/// The 84 bytes a WordCount of 42 literally describes.
const WORD_COUNT_42_WORDS: usize = 84;

/// SMB_COM_NT_CREATE_ANDX request (MS-CIFS §2.2.4.64.1, MS-SMB §2.2.4.9.1;
/// WordCount 24).
///
/// Words: AndX (4), Reserved (1), NameLength (2), Flags (4),
/// RootDirectoryFID (4), DesiredAccess (4), AllocationSize (8),
/// ExtFileAttributes (4), ShareAccess (4), CreateDisposition (4),
/// CreateOptions (4), ImpersonationLevel (4), SecurityFlags (1). Bytes:
/// Pad, FileName (SMB_STRING).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtCreateAndxRequest {
    /// Flags (see [`create_flags`]).
    pub flags: u32,
    /// RootDirectoryFID: a directory the name is relative to, or 0 for the
    /// share root.
    pub root_directory_fid: u32,
    /// DesiredAccess (an access mask).
    pub desired_access: u32,
    /// AllocationSize for a created or overwritten file.
    pub allocation_size: u64,
    /// ExtFileAttributes for a created file.
    pub ext_file_attributes: u32,
    /// ShareAccess.
    pub share_access: u32,
    /// CreateDisposition: what to do if the file exists or not.
    pub create_disposition: u32,
    /// CreateOptions.
    pub create_options: u32,
    /// ImpersonationLevel (see [`impersonation`]).
    pub impersonation_level: u32,
    /// SecurityFlags (see [`security_flags`]).
    pub security_flags: u8,
    /// FileName relative to the share (or RootDirectoryFID), e.g.
    /// `\dir\file.txt`; empty for the share root.
    pub name: String,
}

impl NtCreateAndxRequest {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0 (whose Flags2 must have UNICODE). FileName is
    /// Unicode and NUL-terminated after one pad byte (the data block starts
    /// at the odd offset 83); NameLength is the name's UTF-16 length in
    /// bytes without the terminator. The chain ends here.
    ///
    /// # Errors
    ///
    /// If the name does not fit the 16-bit NameLength and ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let name_len = wire_u16(utf16_len(&self.name), "NT_CREATE_ANDX NameLength")?;
        w.u8(24);
        put_andx_none(w);
        w.u8(0)
            .u16(name_len)
            .u32(self.flags)
            .u32(self.root_directory_fid)
            .u32(self.desired_access)
            .u64(self.allocation_size)
            .u32(self.ext_file_attributes)
            .u32(self.share_access)
            .u32(self.create_disposition)
            .u32(self.create_options)
            .u32(self.impersonation_level)
            .u8(self.security_flags);
        let bc = begin_bytes(w);
        put_string(w, &self.name, true);
        end_bytes(w, bc, "NT_CREATE_ANDX request ByteCount")
    }

    /// Decodes the request (WordCount "MUST be 0x18"). FileName is read up
    /// to its terminator (or the end of the bytes) in the header's character
    /// set and must be valid; NameLength is not used, as clients disagree on
    /// whether it counts the terminator.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "NT_CREATE_ANDX request";
        let (header, block) = first_block(msg, command::NT_CREATE_ANDX, what)?;
        expect_word_count(&block, &[REQUEST_WORDS / 2], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4 + 1 + 2, what)?; // AndX, Reserved, NameLength
        let flags = r.u32(what)?;
        let root_directory_fid = r.u32(what)?;
        let desired_access = r.u32(what)?;
        let allocation_size = r.u64(what)?;
        let ext_file_attributes = r.u32(what)?;
        let share_access = r.u32(what)?;
        let create_disposition = r.u32(what)?;
        let create_options = r.u32(what)?;
        let impersonation_level = r.u32(what)?;
        let security_flags = r.u8(what)?;
        let mut b = bytes_reader(msg, &block, what)?;
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let name = read_string(&mut b, unicode, "NT_CREATE_ANDX FileName")?;
        Ok(NtCreateAndxRequest {
            flags,
            root_directory_fid,
            desired_access,
            allocation_size,
            ext_file_attributes,
            share_access,
            create_disposition,
            create_options,
            impersonation_level,
            security_flags,
            name,
        })
    }
}

/// The fields the extended response adds (MS-SMB §2.2.4.9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtCreateAndxExtended {
    /// VolumeGUID of the volume holding the file.
    pub volume_guid: [u8; 16],
    /// FileId: the file's 64-bit identifier on that volume.
    pub file_id: u64,
    /// MaximalAccessRights of the user on the file.
    pub maximal_access: u32,
    /// GuestMaximalAccessRights of the guest account on the file.
    pub guest_maximal_access: u32,
}

/// SMB_COM_NT_CREATE_ANDX response: WordCount 34 (MS-CIFS §2.2.4.64.2) or
/// the extended WordCount 42 form (MS-SMB §2.2.4.9.2).
///
/// Words: AndX (4), OpLockLevel (1), FID (2), CreateDisposition (4),
/// CreateTime, LastAccessTime, LastWriteTime, LastChangeTime (8 each),
/// ExtFileAttributes (4), AllocationSize (8), EndOfFile (8), ResourceType
/// (2), NMPipeStatus (2), Directory (1); the extended form adds VolumeGUID
/// (16), FileId (8), MaximalAccessRights (4), GuestMaximalAccessRights (4).
/// ByteCount is 0.
///
/// Those extended fields take 100 bytes, 50 words, yet the WordCount field
/// says 42: Windows and Samba both send it so ("We return 50 words, but only
/// set the wcnt to 42 ... It's definitely what happens on the wire", Samba
/// `do_ntcreate_pipe_open`). See [`NtCreateAndxResponse::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtCreateAndxResponse {
    /// OpLockLevel granted (see [`oplock_level`]).
    pub oplock_level: u8,
    /// FID of the new open.
    pub fid: u16,
    /// CreateDisposition: the action taken (see [`create_action`]).
    pub create_disposition: u32,
    /// CreateTime (FILETIME).
    pub create_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// LastChangeTime (FILETIME).
    pub last_change_time: u64,
    /// ExtFileAttributes.
    pub ext_file_attributes: u32,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndOfFile: the file size.
    pub end_of_file: u64,
    /// ResourceType (see [`resource_type`]).
    pub resource_type: u16,
    /// NMPipeStatus (pipes) or FileStatusFlags (MS-SMB, files).
    pub nm_pipe_status: u16,
    /// Directory: the open is a directory.
    pub directory: bool,
    /// The extended fields, when the 50-word extended form was received.
    pub extended: Option<NtCreateAndxExtended>,
}

impl NtCreateAndxResponse {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0: WordCount 34, or with [`Self::extended`] the
    /// WordCount 42 form with 50 words of fields as Windows and Samba send
    /// it; ByteCount 0.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(if self.extended.is_some() { 42 } else { 34 });
        put_andx_none(w);
        w.u8(self.oplock_level)
            .u16(self.fid)
            .u32(self.create_disposition)
            .u64(self.create_time)
            .u64(self.last_access_time)
            .u64(self.last_write_time)
            .u64(self.last_change_time)
            .u32(self.ext_file_attributes)
            .u64(self.allocation_size)
            .u64(self.end_of_file)
            .u16(self.resource_type)
            .u16(self.nm_pipe_status)
            .u8(u8::from(self.directory));
        if let Some(x) = &self.extended {
            w.bytes(&x.volume_guid)
                .u64(x.file_id)
                .u32(x.maximal_access)
                .u32(x.guest_maximal_access);
        }
        w.u16(0);
    }

    /// Decodes the response.
    ///
    /// WordCount 34 has 68 bytes of words. WordCount 42 is the extended
    /// response (MS-SMB, client processing of the response: "It does this
    /// by checking for a proper WordCount value. If WordCount is not equal
    /// to 0x2A, then the client MUST process the response as specified in
    /// [MS-CIFS]"): when at least 100 bytes of
    /// words and a ByteCount follow, it is read as the 50-word form that
    /// Windows and Samba send, with [`Self::extended`] set; otherwise as the
    /// 84 bytes the WordCount literally describes, of which only the common
    /// 68-byte prefix is used. Any other WordCount is an error. ByteCount and
    /// its bytes must be present; they are ignored.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "NT_CREATE_ANDX response";
        super::andx::check_command(msg, command::NT_CREATE_ANDX, what)?;
        let mut r = Reader::at(msg, HEADER_LEN, what)?;
        let words_len = match r.u8(what)? {
            34 => RESPONSE_WORDS,
            42 if r.remaining() >= EXTENDED_RESPONSE_WORDS + 2 => EXTENDED_RESPONSE_WORDS,
            42 => WORD_COUNT_42_WORDS,
            n => {
                return Err(DecodeError::invalid(
                    what,
                    format!("WordCount is {n}, expected 34 or 42"),
                ))
            }
        };
        let mut words = Reader::new(r.take(words_len, what)?);
        let byte_count = usize::from(r.u16(what)?);
        r.skip(byte_count, what)?;

        words.skip(4, what)?; // AndX
        let oplock_level = words.u8(what)?;
        let fid = words.u16(what)?;
        let create_disposition = words.u32(what)?;
        let create_time = words.u64(what)?;
        let last_access_time = words.u64(what)?;
        let last_write_time = words.u64(what)?;
        let last_change_time = words.u64(what)?;
        let ext_file_attributes = words.u32(what)?;
        let allocation_size = words.u64(what)?;
        let end_of_file = words.u64(what)?;
        let resource_type = words.u16(what)?;
        let nm_pipe_status = words.u16(what)?;
        let directory = words.u8(what)? != 0;
        let extended = if words_len == EXTENDED_RESPONSE_WORDS {
            Some(NtCreateAndxExtended {
                volume_guid: words.array(what)?,
                file_id: words.u64(what)?,
                maximal_access: words.u32(what)?,
                guest_maximal_access: words.u32(what)?,
            })
        } else {
            None
        };
        Ok(NtCreateAndxResponse {
            oplock_level,
            fid,
            create_disposition,
            create_time,
            last_access_time,
            last_write_time,
            last_change_time,
            ext_file_attributes,
            allocation_size,
            end_of_file,
            resource_type,
            nm_pipe_status,
            directory,
            extended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::smb2::create::{access_mask, create_disposition, create_options, share_access};

    #[test]
    fn request_matches_spec_layout() {
        let req = NtCreateAndxRequest {
            flags: create_flags::REQUEST_EXTENDED_RESPONSE,
            root_directory_fid: 0,
            desired_access: access_mask::GENERIC_READ | access_mask::SYNCHRONIZE,
            allocation_size: 0x0102_0304_0506_0708,
            ext_file_attributes: 0x80,
            share_access: share_access::READ | share_access::WRITE,
            create_disposition: create_disposition::OPEN,
            create_options: create_options::NON_DIRECTORY_FILE,
            impersonation_level: impersonation::IMPERSONATION,
            security_flags: security_flags::CONTEXT_TRACKING | security_flags::EFFECTIVE_ONLY,
            name: r"\dir\a.txt".into(),
        };
        let mut w = request_writer(command::NT_CREATE_ANDX);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        // MS-CIFS §2.2.4.64.1, laid out by hand.
        let mut expected: Vec<u8> = vec![
            0x18, // WordCount 24
            0xFF, 0x00, 0x00, 0x00, // AndXCommand, AndXReserved, AndXOffset
            0x00, // Reserved
            0x14, 0x00, // NameLength 20 (10 UTF-16 units, no terminator)
            0x10, 0x00, 0x00, 0x00, // Flags
            0x00, 0x00, 0x00, 0x00, // RootDirectoryFID
            0x00, 0x00, 0x10, 0x80, // DesiredAccess
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // AllocationSize
            0x80, 0x00, 0x00, 0x00, // ExtFileAttributes
            0x03, 0x00, 0x00, 0x00, // ShareAccess
            0x01, 0x00, 0x00, 0x00, // CreateDisposition FILE_OPEN
            0x40, 0x00, 0x00, 0x00, // CreateOptions FILE_NON_DIRECTORY_FILE
            0x02, 0x00, 0x00, 0x00, // ImpersonationLevel
            0x03, // SecurityFlags
            0x17, 0x00, // ByteCount 1 + 20 + 2
            0x00, // Pad: the data block starts at the odd offset 83
        ];
        expected.extend(utf16le("\\dir\\a.txt\0"));
        assert_eq!(&msg[32..], &expected[..]);
        assert_eq!(NtCreateAndxRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, NtCreateAndxRequest::decode);
        mutate_never_panics(&msg, NtCreateAndxRequest::decode);

        // The share root: an empty name.
        let root = NtCreateAndxRequest {
            name: String::new(),
            ..req
        };
        let mut w = request_writer(command::NT_CREATE_ANDX);
        root.encode(&mut w).unwrap();
        assert_eq!(&w.as_slice()[81..], &[0x03, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(NtCreateAndxRequest::decode(w.as_slice()).unwrap(), root);
    }

    fn common_words(w: &mut Writer) {
        w.bytes(&[0xFF, 0x00, 0x00, 0x00]); // AndX
        w.u8(oplock_level::BATCH)
            .u16(0x4007)
            .u32(create_action::OPENED);
        for t in 1..=4u64 {
            w.u64(0x01D9_0000_0000_0000 + t);
        }
        w.u32(0x20).u64(8192).u64(5000);
        w.u16(resource_type::DISK).u16(0x0007).u8(0);
    }

    fn plain_response() -> Vec<u8> {
        let mut w = response_writer(command::NT_CREATE_ANDX, true);
        w.u8(34);
        common_words(&mut w);
        w.u16(0);
        w.into_vec()
    }

    /// The extended reply as Samba and Windows send it: WordCount 42, 50
    /// words. The FileId has non-zero low bytes, as real ones do (see
    /// `decode`).
    fn samba_extended_response() -> Vec<u8> {
        let mut w = response_writer(command::NT_CREATE_ANDX, true);
        w.u8(42);
        common_words(&mut w);
        w.bytes(&[0x5A; 16]).u64(0x0003_0000_0000_1234);
        w.u32(0x001F_01FF).u32(0x0012_0089).u16(0);
        w.into_vec()
    }

    fn expected_plain() -> NtCreateAndxResponse {
        NtCreateAndxResponse {
            oplock_level: oplock_level::BATCH,
            fid: 0x4007,
            create_disposition: create_action::OPENED,
            create_time: 0x01D9_0000_0000_0001,
            last_access_time: 0x01D9_0000_0000_0002,
            last_write_time: 0x01D9_0000_0000_0003,
            last_change_time: 0x01D9_0000_0000_0004,
            ext_file_attributes: 0x20,
            allocation_size: 8192,
            end_of_file: 5000,
            resource_type: resource_type::DISK,
            nm_pipe_status: 7,
            directory: false,
            extended: None,
        }
    }

    #[test]
    fn responses_decode_and_round_trip() {
        let msg = plain_response();
        assert_eq!(msg.len(), 32 + 1 + 68 + 2);
        let r = NtCreateAndxResponse::decode(&msg).unwrap();
        assert_eq!(r, expected_plain());
        let mut w = response_writer(command::NT_CREATE_ANDX, true);
        r.encode(&mut w);
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, NtCreateAndxResponse::decode);
        mutate_never_panics(&msg, NtCreateAndxResponse::decode);

        let msg = samba_extended_response();
        assert_eq!(msg.len(), 32 + 1 + 100 + 2);
        let r = NtCreateAndxResponse::decode(&msg).unwrap();
        assert_eq!(
            r,
            NtCreateAndxResponse {
                extended: Some(NtCreateAndxExtended {
                    volume_guid: [0x5A; 16],
                    file_id: 0x0003_0000_0000_1234,
                    maximal_access: 0x001F_01FF,
                    guest_maximal_access: 0x0012_0089,
                }),
                ..expected_plain()
            }
        );
        let mut w = response_writer(command::NT_CREATE_ANDX, true);
        r.encode(&mut w);
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, NtCreateAndxResponse::decode);
        mutate_never_panics(&msg, NtCreateAndxResponse::decode);
    }

    #[test]
    fn literal_word_count_42_is_accepted() {
        // 84 bytes of words and ByteCount 0, as WordCount 42 literally says:
        // the common prefix is decoded, the extension is not reported.
        let mut w = response_writer(command::NT_CREATE_ANDX, true);
        w.u8(42);
        common_words(&mut w);
        w.bytes(&[0x5A; 16]).u16(0);
        let msg = w.into_vec();
        let r = NtCreateAndxResponse::decode(&msg).unwrap();
        assert_eq!(r, expected_plain());
        assert_truncations_fail(&msg, NtCreateAndxResponse::decode);
    }

    #[test]
    fn hostile_responses_fail() {
        let good = samba_extended_response();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            NtCreateAndxResponse::decode(&m)
        };
        for wc in [0u8, 24, 33, 35, 41, 43, 50, 0xFF] {
            assert!(with(32, &[wc]).is_err(), "WordCount {wc}");
        }
        assert!(with(133, &[0x01, 0x00]).is_err()); // ByteCount past the end
        assert!(with(4, &[command::READ_ANDX]).is_err());
        let mut w = response_writer(command::NT_CREATE_ANDX, true);
        w.bytes(&[0, 0, 0]);
        assert!(NtCreateAndxResponse::decode(w.as_slice()).is_err());
    }

    #[test]
    fn name_limits() {
        use crate::codec::testutil::{assert_too_large, name};
        use crate::smb1::andx::testutil::{byte_count, largest_ok};
        let encode = |units: usize| {
            let req = NtCreateAndxRequest {
                flags: 0,
                root_directory_fid: 0,
                desired_access: access_mask::GENERIC_READ,
                allocation_size: 0,
                ext_file_attributes: 0,
                share_access: share_access::READ,
                create_disposition: create_disposition::OPEN,
                create_options: 0,
                impersonation_level: impersonation::IMPERSONATION,
                security_flags: 0,
                name: name(units),
            };
            let mut w = request_writer(command::NT_CREATE_ANDX);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        // ByteCount holds the pad byte, the name and its terminator:
        // 2n + 3 <= 65535, so 32766 units.
        assert_eq!(largest_ok(40_000, encode), 32766);
        let msg = encode(32766).unwrap();
        assert_eq!(byte_count(&msg), 65535);
        assert_eq!(NtCreateAndxRequest::decode(&msg).unwrap().name, name(32766));
        assert_too_large(
            encode(32767),
            "NT_CREATE_ANDX request ByteCount",
            65537,
            65535,
        );
        // Past 32767 units NameLength itself overflows, and says so first.
        assert_too_large(encode(32768), "NT_CREATE_ANDX NameLength", 65536, 65535);
        assert_eq!(
            encode(40_000).unwrap_err().to_string(),
            "NT_CREATE_ANDX NameLength: 80000 bytes, the limit is 65535"
        );
    }
}
