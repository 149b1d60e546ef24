//! SMB2 CREATE request and response (MS-SMB2 §2.2.13, §2.2.14), the
//! SMB2_FILEID (§2.2.14.1) shared by every handle-based command, and the
//! SMB2_CREATE_CONTEXT chain (§2.2.13.2, §2.2.14.2).
//!
//! This module also holds the small helpers that the other file-operation
//! codecs (CLOSE, FLUSH, READ, WRITE, QUERY_DIRECTORY, QUERY_INFO,
//! SET_INFO, IOCTL) share.

use super::{body, buffer, structure_size, wire_u16, wire_u32, HEADER_LEN};
use crate::codec::{
    checked_range, from_utf16le, utf16_len, DecodeError, EncodeError, Reader, Writer,
};
use crate::types::Command;

/// An SMB2_FILEID (MS-SMB2 §2.2.14.1): the handle of an open, as returned in
/// the CREATE response and sent in every request that operates on it.
///
/// "Persistent (8 bytes): A file handle that remains persistent when an open
/// is reconnected after being lost on a disconnect"; "Volatile (8 bytes): A
/// file handle that can be changed when an open is reconnected".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileId {
    /// Persistent part.
    pub persistent: u64,
    /// Volatile part.
    pub volatile: u64,
}

impl FileId {
    /// `{ 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF }`: in a compound request
    /// with SMB2_FLAGS_RELATED_OPERATIONS set, this FileId stands for the
    /// one produced by the previous request in the chain (MS-SMB2
    /// §3.2.4.1.4, §3.3.5.2.7.2). It is also the FileId of IOCTLs that do
    /// not operate on an open, e.g. FSCTL_DFS_GET_REFERRALS and
    /// FSCTL_PIPE_WAIT (§2.2.31).
    pub const ANY: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };

    /// True if this is [`FileId::ANY`].
    pub fn is_any(&self) -> bool {
        *self == FileId::ANY
    }

    /// Appends the 16-byte wire form (Persistent, then Volatile, both
    /// little-endian).
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.persistent).u64(self.volatile);
    }

    /// Reads the 16-byte wire form.
    pub fn decode(r: &mut Reader<'_>, what: &'static str) -> Result<FileId, DecodeError> {
        let persistent = r.u64(what)?;
        let volatile = r.u64(what)?;
        Ok(FileId {
            persistent,
            volatile,
        })
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the file-operation codecs (create, close, flush, read,
// write, query_directory, query_info, set_info, ioctl).
// ---------------------------------------------------------------------------

/// Widens a 32-bit wire length or offset. On a target where it does not fit
/// the result is `usize::MAX`, which every later bounds check rejects.
pub(super) fn wire_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Rounds `v` up to a multiple of 8, or `None` on overflow.
pub(super) fn align8(v: usize) -> Option<usize> {
    v.checked_add(7).map(|x| x & !7)
}

/// Requests whose StructureSize is odd count the first byte of their
/// variable Buffer in it, and MS-SMB2 requires that byte to be present even
/// when the buffer is logically empty (e.g. §2.2.13: "In the request, the
/// Buffer field MUST be at least one byte in length"; §3.3.5.9: a server
/// fails the request "If the size of the SMB2 CREATE Request (excluding the
/// SMB2 header) is less than specified in the StructureSize field"). Samba's
/// server enforces the same for every such request. Fails unless `msg`
/// holds at least `HEADER_LEN + structure_size` bytes.
pub(super) fn require_structure_bytes(
    msg: &[u8],
    structure_size: usize,
    what: &'static str,
) -> Result<(), DecodeError> {
    let needed = HEADER_LEN + structure_size;
    if msg.len() < needed {
        return Err(DecodeError::Truncated {
            what,
            needed,
            available: msg.len(),
        });
    }
    Ok(())
}

/// Like [`super::buffer`], but returns where the buffer lies in `msg`
/// instead of borrowing it, for zero-copy slicing by the caller. A zero
/// length yields the empty range `msg.len()..msg.len()` whatever the offset;
/// otherwise the buffer must start at or after `min_offset` and end inside
/// the message.
pub(super) fn buffer_range(
    msg: &[u8],
    offset: usize,
    length: usize,
    min_offset: usize,
    what: &'static str,
) -> Result<std::ops::Range<usize>, DecodeError> {
    if length == 0 {
        return Ok(msg.len()..msg.len());
    }
    if offset < min_offset {
        return Err(DecodeError::OutOfBounds {
            what,
            offset,
            length,
            bound: msg.len(),
        });
    }
    checked_range(what, offset, length, msg.len())
}

// ---------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------

/// SMB2 Access Mask Encoding (MS-SMB2 §2.2.13.1): the DesiredAccess of the
/// CREATE request. The file/pipe/printer names (§2.2.13.1.1) and the
/// directory names (§2.2.13.1.2) share bit positions.
pub mod access_mask {
    /// FILE_READ_DATA: read data from the file or named pipe.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// FILE_WRITE_DATA: write data into the file or named pipe.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// FILE_APPEND_DATA: append data into the file or named pipe.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// FILE_READ_EA: read the extended attributes.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// FILE_WRITE_EA: write the extended attributes.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// FILE_EXECUTE: execute the file.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// FILE_DELETE_CHILD: delete entries within a directory.
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    /// FILE_READ_ATTRIBUTES: read the attributes of the file.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// FILE_WRITE_ATTRIBUTES: change the attributes of the file.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// FILE_LIST_DIRECTORY (directories, §2.2.13.1.2): enumerate the
    /// directory; same bit as [`FILE_READ_DATA`].
    pub const FILE_LIST_DIRECTORY: u32 = 0x0000_0001;
    /// FILE_ADD_FILE (directories): create a file under the directory; same
    /// bit as [`FILE_WRITE_DATA`].
    pub const FILE_ADD_FILE: u32 = 0x0000_0002;
    /// FILE_ADD_SUBDIRECTORY (directories): create a subdirectory; same bit
    /// as [`FILE_APPEND_DATA`].
    pub const FILE_ADD_SUBDIRECTORY: u32 = 0x0000_0004;
    /// FILE_TRAVERSE (directories): traverse the directory; same bit as
    /// [`FILE_EXECUTE`].
    pub const FILE_TRAVERSE: u32 = 0x0000_0020;
    /// DELETE: delete the file.
    pub const DELETE: u32 = 0x0001_0000;
    /// READ_CONTROL: read the security descriptor.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// WRITE_DAC: change the DACL in the security descriptor.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// WRITE_OWNER: change the owner in the security descriptor.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// SYNCHRONIZE: "SMB2 clients set this flag to any value. SMB2 servers
    /// SHOULD ignore this flag."
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// ACCESS_SYSTEM_SECURITY: read or change the SACL.
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    /// MAXIMUM_ALLOWED: the highest access the client has on the file.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// GENERIC_ALL.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// GENERIC_EXECUTE.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// GENERIC_WRITE.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// GENERIC_READ.
    pub const GENERIC_READ: u32 = 0x8000_0000;
}

/// ShareAccess of the CREATE request (MS-SMB2 §2.2.13): "The field MUST be
/// constructed using a combination of zero or more of the following bit
/// values."
pub mod share_access {
    /// FILE_SHARE_READ: other opens may read while this one is present.
    pub const READ: u32 = 0x0000_0001;
    /// FILE_SHARE_WRITE: other opens may write while this one is present.
    pub const WRITE: u32 = 0x0000_0002;
    /// FILE_SHARE_DELETE: other opens may delete or rename while this one
    /// is present.
    pub const DELETE: u32 = 0x0000_0004;
    /// All three.
    pub const ALL: u32 = READ | WRITE | DELETE;
}

/// CreateDisposition of the CREATE request (MS-SMB2 §2.2.13): "For other
/// files, this field MUST contain one of the following values."
pub mod create_disposition {
    /// FILE_SUPERSEDE: supersede an existing file, otherwise create it.
    pub const SUPERSEDE: u32 = 0x0000_0000;
    /// FILE_OPEN: open an existing file, otherwise fail.
    pub const OPEN: u32 = 0x0000_0001;
    /// FILE_CREATE: fail if the file exists, otherwise create it.
    pub const CREATE: u32 = 0x0000_0002;
    /// FILE_OPEN_IF: open the file if it exists, otherwise create it.
    pub const OPEN_IF: u32 = 0x0000_0003;
    /// FILE_OVERWRITE: overwrite an existing file, otherwise fail.
    pub const OVERWRITE: u32 = 0x0000_0004;
    /// FILE_OVERWRITE_IF: overwrite the file if it exists, otherwise create it.
    pub const OVERWRITE_IF: u32 = 0x0000_0005;
}

/// CreateOptions of the CREATE request (MS-SMB2 §2.2.13): "This field MUST
/// be constructed using the following values."
pub mod create_options {
    /// FILE_DIRECTORY_FILE: the file is a directory.
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    /// FILE_WRITE_THROUGH.
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    /// FILE_SEQUENTIAL_ONLY.
    pub const SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    /// FILE_NO_INTERMEDIATE_BUFFERING.
    pub const NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    /// FILE_SYNCHRONOUS_IO_ALERT ("SHOULD be set to 0").
    pub const SYNCHRONOUS_IO_ALERT: u32 = 0x0000_0010;
    /// FILE_SYNCHRONOUS_IO_NONALERT ("SHOULD be set to 0").
    pub const SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
    /// FILE_NON_DIRECTORY_FILE: fail if the name is a directory. "This flag
    /// MUST NOT be used with FILE_DIRECTORY_FILE".
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    /// FILE_COMPLETE_IF_OPLOCKED ("SHOULD be set to 0").
    pub const COMPLETE_IF_OPLOCKED: u32 = 0x0000_0100;
    /// FILE_NO_EA_KNOWLEDGE.
    pub const NO_EA_KNOWLEDGE: u32 = 0x0000_0200;
    /// FILE_OPEN_REMOTE_INSTANCE ("SHOULD be set to 0").
    pub const OPEN_REMOTE_INSTANCE: u32 = 0x0000_0400;
    /// FILE_RANDOM_ACCESS.
    pub const RANDOM_ACCESS: u32 = 0x0000_0800;
    /// FILE_DELETE_ON_CLOSE: "When this option is set, the DesiredAccess
    /// field MUST include the DELETE flag."
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    /// FILE_OPEN_BY_FILE_ID ("SHOULD be set to 0").
    pub const OPEN_BY_FILE_ID: u32 = 0x0000_2000;
    /// FILE_OPEN_FOR_BACKUP_INTENT.
    pub const OPEN_FOR_BACKUP_INTENT: u32 = 0x0000_4000;
    /// FILE_NO_COMPRESSION.
    pub const NO_COMPRESSION: u32 = 0x0000_8000;
    /// FILE_OPEN_REQUIRING_OPLOCK ("SHOULD be set to 0").
    pub const OPEN_REQUIRING_OPLOCK: u32 = 0x0001_0000;
    /// FILE_DISALLOW_EXCLUSIVE ("SHOULD be set to 0").
    pub const DISALLOW_EXCLUSIVE: u32 = 0x0002_0000;
    /// FILE_RESERVE_OPFILTER ("SHOULD be set to 0").
    pub const RESERVE_OPFILTER: u32 = 0x0010_0000;
    /// FILE_OPEN_REPARSE_POINT: open a reparse point itself, not its target.
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    /// FILE_OPEN_NO_RECALL.
    pub const OPEN_NO_RECALL: u32 = 0x0040_0000;
    /// FILE_OPEN_FOR_FREE_SPACE_QUERY ("SHOULD set this to 0").
    pub const OPEN_FOR_FREE_SPACE_QUERY: u32 = 0x0080_0000;
}

/// ImpersonationLevel of the CREATE request (MS-SMB2 §2.2.13): "MUST
/// contain one of the following values. The server MUST validate this
/// field, but otherwise ignore it."
pub mod impersonation {
    /// Anonymous.
    pub const ANONYMOUS: u32 = 0x0000_0000;
    /// Identification.
    pub const IDENTIFICATION: u32 = 0x0000_0001;
    /// Impersonation (what Windows and Samba clients send).
    pub const IMPERSONATION: u32 = 0x0000_0002;
    /// Delegate.
    pub const DELEGATE: u32 = 0x0000_0003;
}

/// RequestedOplockLevel (CREATE request) and OplockLevel (CREATE response),
/// MS-SMB2 §2.2.13 / §2.2.14.
pub mod oplock_level {
    /// SMB2_OPLOCK_LEVEL_NONE.
    pub const NONE: u8 = 0x00;
    /// SMB2_OPLOCK_LEVEL_II.
    pub const II: u8 = 0x01;
    /// SMB2_OPLOCK_LEVEL_EXCLUSIVE.
    pub const EXCLUSIVE: u8 = 0x08;
    /// SMB2_OPLOCK_LEVEL_BATCH.
    pub const BATCH: u8 = 0x09;
    /// SMB2_OPLOCK_LEVEL_LEASE: "If set, the request packet MUST contain an
    /// SMB2_CREATE_REQUEST_LEASE (section 2.2.13.2.8) create context."
    pub const LEASE: u8 = 0xFF;
}

/// CreateAction of the CREATE response (MS-SMB2 §2.2.14): "This field MUST
/// be one of the following values."
pub mod create_action {
    /// FILE_SUPERSEDED: an existing file was deleted and a new one created.
    pub const SUPERSEDED: u32 = 0x0000_0000;
    /// FILE_OPENED: an existing file was opened.
    pub const OPENED: u32 = 0x0000_0001;
    /// FILE_CREATED: a new file was created.
    pub const CREATED: u32 = 0x0000_0002;
    /// FILE_OVERWRITTEN: an existing file was overwritten.
    pub const OVERWRITTEN: u32 = 0x0000_0003;
}

/// Flags of the CREATE response (MS-SMB2 §2.2.14; SMB 3.x only, otherwise
/// reserved).
pub mod response_flags {
    /// SMB2_CREATE_FLAG_REPARSEPOINT: the last component of the path is a
    /// directory reparse point.
    pub const REPARSEPOINT: u8 = 0x01;
}

/// Well-known create context names (MS-SMB2 §2.2.13.2, §2.2.14.2). The
/// name is "four or more octets"; these are the ASCII tags, the 16-byte
/// GUID names (e.g. SMB2_CREATE_APP_INSTANCE_ID) are not listed.
pub mod context_name {
    /// SMB2_CREATE_EA_BUFFER.
    pub const EA_BUFFER: &[u8] = b"ExtA";
    /// SMB2_CREATE_SD_BUFFER.
    pub const SD_BUFFER: &[u8] = b"SecD";
    /// SMB2_CREATE_DURABLE_HANDLE_REQUEST / _RESPONSE.
    pub const DURABLE_HANDLE_REQUEST: &[u8] = b"DHnQ";
    /// SMB2_CREATE_DURABLE_HANDLE_RECONNECT.
    pub const DURABLE_HANDLE_RECONNECT: &[u8] = b"DHnC";
    /// SMB2_CREATE_ALLOCATION_SIZE.
    pub const ALLOCATION_SIZE: &[u8] = b"AISi";
    /// SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST / _RESPONSE.
    pub const QUERY_MAXIMAL_ACCESS: &[u8] = b"MxAc";
    /// SMB2_CREATE_TIMEWARP_TOKEN.
    pub const TIMEWARP_TOKEN: &[u8] = b"TWrp";
    /// SMB2_CREATE_QUERY_ON_DISK_ID.
    pub const QUERY_ON_DISK_ID: &[u8] = b"QFid";
    /// SMB2_CREATE_REQUEST_LEASE / _V2 and SMB2_CREATE_RESPONSE_LEASE / _V2.
    pub const REQUEST_LEASE: &[u8] = b"RqLs";
    /// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 / _RESPONSE_V2.
    pub const DURABLE_HANDLE_REQUEST_V2: &[u8] = b"DH2Q";
    /// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2.
    pub const DURABLE_HANDLE_RECONNECT_V2: &[u8] = b"DH2C";
}

/// The most create contexts [`decode_create_contexts`] accepts in one chain.
pub const MAX_CREATE_CONTEXTS: usize = 64;

/// Size of the fixed SMB2_CREATE_CONTEXT header: Next, NameOffset,
/// NameLength, Reserved, DataOffset, DataLength.
const CONTEXT_HEADER_LEN: usize = 16;

/// One SMB2_CREATE_CONTEXT (MS-SMB2 §2.2.13.2 request, §2.2.14.2 response):
/// Next (4), NameOffset (2), NameLength (2), Reserved (2), DataOffset (2),
/// DataLength (4), Buffer holding the name and the data.
///
/// The name is the raw tag (see [`context_name`]); the data is left
/// unparsed, its format depends on the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateContext {
    /// The context name, "four or more octets".
    pub name: Vec<u8>,
    /// The context data, possibly empty.
    pub data: Vec<u8>,
}

impl CreateContext {
    /// A context with the given name and data.
    pub fn new(name: &[u8], data: impl Into<Vec<u8>>) -> Self {
        CreateContext {
            name: name.to_vec(),
            data: data.into(),
        }
    }
}

/// Appends a create context chain to `w` at the next 8-byte boundary
/// (relative to the SMB2 header at position 0 of `w`) and returns
/// `(CreateContextsOffset, CreateContextsLength)`, or `(0, 0)` when
/// `contexts` is empty (nothing is written then).
///
/// Layout, as Samba writes it: each context starts 8-byte aligned ("Next:
/// The offset from the beginning of this Create Context to the beginning of
/// a subsequent 8-byte aligned Create Context. This field MUST be set to 0
/// if there are no subsequent contexts"), the name at offset 16, the data at
/// the next 8-byte boundary after the name ("the 8-byte aligned data
/// payload"), DataOffset 0 when the data is empty ("If DataLength is 0, the
/// client SHOULD set this value to 0"). No padding follows the last context.
///
/// # Errors
///
/// If a name exceeds 65535 bytes, or a name or data is so large that an
/// offset or length does not fit its wire field.
fn encode_create_contexts(
    w: &mut Writer,
    contexts: &[CreateContext],
) -> Result<(u32, u32), EncodeError> {
    if contexts.is_empty() {
        return Ok((0, 0));
    }
    w.align(8);
    let start = w.len();
    for (i, c) in contexts.iter().enumerate() {
        let last = i + 1 == contexts.len();
        let ctx_start = w.len();
        let name_len = wire_u16(c.name.len(), "SMB2_CREATE_CONTEXT NameLength")?;
        let data_len = wire_u32(c.data.len(), "SMB2_CREATE_CONTEXT DataLength")?;
        // DataOffset: after the name, rounded up to 8 (relative to the
        // context start, which is itself 8-byte aligned).
        let data_offset = if c.data.is_empty() {
            0
        } else {
            let end = CONTEXT_HEADER_LEN + c.name.len();
            wire_u16((end + 7) & !7, "SMB2_CREATE_CONTEXT DataOffset")?
        };
        w.u32(0) // Next, patched below
            .u16(CONTEXT_HEADER_LEN as u16)
            .u16(name_len)
            .u16(0)
            .u16(data_offset)
            .u32(data_len)
            .bytes(&c.name);
        if !c.data.is_empty() {
            w.align(8);
            w.bytes(&c.data);
        }
        if !last {
            w.align(8);
            let next = wire_u32(w.len() - ctx_start, "SMB2_CREATE_CONTEXT Next")?;
            w.patch_u32(ctx_start, next);
        }
    }
    let offset = wire_u32(start, "SMB2 CREATE CreateContextsOffset")?;
    let length = wire_u32(w.len() - start, "SMB2 CREATE CreateContextsLength")?;
    Ok((offset, length))
}

/// Parses a chain of SMB2_CREATE_CONTEXT structures (MS-SMB2 §2.2.13.2,
/// §2.2.14.2). `chain` is exactly the CreateContextsLength bytes at
/// CreateContextsOffset; offsets inside it are relative to each context.
/// An empty `chain` is an empty list.
///
/// Validation, following the specification and Samba's
/// `smb2_create_blob_parse`:
/// * every 16-byte context header lies inside `chain`;
/// * Next is 0 (last context) or a multiple of 8 (each subsequent context
///   is "8-byte aligned") of at least 16, and the next context starts
///   inside `chain`; as Next is unsigned and non-zero the walk always moves
///   forward, so it terminates;
/// * a context's name and data lie inside that context (before the next
///   one, or before the end of `chain` for the last);
/// * the name is "four or more octets" and starts after the header;
/// * non-empty data starts after the name; empty data is returned empty
///   whatever DataOffset says ("the server MUST ignore it on receipt");
/// * at most [`MAX_CREATE_CONTEXTS`] contexts.
///
/// Bytes after the last context (padding) are ignored.
pub fn decode_create_contexts(chain: &[u8]) -> Result<Vec<CreateContext>, DecodeError> {
    let what = "SMB2_CREATE_CONTEXT";
    let mut out = Vec::new();
    if chain.is_empty() {
        return Ok(out);
    }
    let mut pos = 0usize;
    loop {
        if out.len() == MAX_CREATE_CONTEXTS {
            return Err(DecodeError::TooLarge {
                what: "create context chain",
                length: out.len() + 1,
                limit: MAX_CREATE_CONTEXTS,
            });
        }
        let head = checked_range(
            "SMB2_CREATE_CONTEXT header",
            pos,
            CONTEXT_HEADER_LEN,
            chain.len(),
        )?;
        let mut r = Reader::new(&chain[head]);
        let next = wire_usize(r.u32(what)?);
        let name_offset = usize::from(r.u16(what)?);
        let name_length = usize::from(r.u16(what)?);
        // Reserved: "This value MUST be set to 0 by the client, and ignored
        // by the server."
        r.skip(2, what)?;
        let data_offset = usize::from(r.u16(what)?);
        let data_length = wire_usize(r.u32(what)?);

        // The extent of this context: up to the next one, or to the end of
        // the chain for the last.
        let end = if next == 0 {
            chain.len()
        } else {
            if !next.is_multiple_of(8) || next < CONTEXT_HEADER_LEN {
                return Err(DecodeError::invalid(
                    "SMB2_CREATE_CONTEXT Next",
                    format!("{next} is not a multiple of 8 of at least 16"),
                ));
            }
            checked_range("SMB2_CREATE_CONTEXT Next", pos, next, chain.len())?.end
        };

        if name_length < 4 {
            return Err(DecodeError::invalid(
                "SMB2_CREATE_CONTEXT NameLength",
                format!("{name_length} bytes; a name is four or more octets"),
            ));
        }
        if name_offset < CONTEXT_HEADER_LEN {
            return Err(DecodeError::invalid(
                "SMB2_CREATE_CONTEXT NameOffset",
                format!("{name_offset} points into the context header"),
            ));
        }
        let name = checked_range(
            "SMB2_CREATE_CONTEXT name",
            pos + name_offset,
            name_length,
            end,
        )?;
        let data = if data_length == 0 {
            Vec::new()
        } else {
            if data_offset < name_offset + name_length {
                return Err(DecodeError::invalid(
                    "SMB2_CREATE_CONTEXT DataOffset",
                    format!(
                        "{data_offset} overlaps the header or the name ending at {}",
                        name_offset + name_length
                    ),
                ));
            }
            let range = checked_range(
                "SMB2_CREATE_CONTEXT data",
                pos + data_offset,
                data_length,
                end,
            )?;
            chain[range].to_vec()
        };
        out.push(CreateContext {
            name: chain[name].to_vec(),
            data,
        });
        if next == 0 {
            return Ok(out);
        }
        pos = end;
    }
}

/// Decodes the create context list named by a CreateContextsOffset /
/// CreateContextsLength pair of `msg`.
fn decode_context_list(
    msg: &[u8],
    offset: u32,
    length: u32,
    min_offset: usize,
    what: &'static str,
) -> Result<Vec<CreateContext>, DecodeError> {
    let chain = buffer(
        msg,
        wire_usize(offset),
        wire_usize(length),
        min_offset,
        what,
    )?;
    decode_create_contexts(chain)
}

// ---------------------------------------------------------------------------
// CREATE request.
// ---------------------------------------------------------------------------

/// Fixed part of the request body, StructureSize through
/// CreateContextsLength (StructureSize 57 counts one byte of Buffer).
const REQUEST_FIXED_LEN: usize = 56;
/// Fixed part of the response body, StructureSize through
/// CreateContextsLength (StructureSize 89 counts one byte of Buffer).
const RESPONSE_FIXED_LEN: usize = 88;

/// SMB2 CREATE Request (MS-SMB2 §2.2.13).
///
/// Body: StructureSize (2, "The client MUST set this field to 57 ...
/// regardless of how long Buffer[] actually is"), SecurityFlags (1, "MUST
/// NOT be used and MUST be reserved. The client MUST set this to 0"),
/// RequestedOplockLevel (1), ImpersonationLevel (4), SmbCreateFlags (8,
/// "MUST NOT be used and MUST be reserved. The client SHOULD set this field
/// to zero"), Reserved (8, "the server MUST ignore it on receipt"),
/// DesiredAccess (4), FileAttributes (4), ShareAccess (4),
/// CreateDisposition (4), CreateOptions (4), NameOffset (2), NameLength
/// (2), CreateContextsOffset (4), CreateContextsLength (4), Buffer.
///
/// "In the request, the Buffer field MUST be at least one byte in length":
/// [`CreateRequest::encode`] writes one zero byte when the name and the
/// context list are both empty (as Samba's `smb2cli_create` does), and
/// [`CreateRequest::decode`] rejects a request without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// SecurityFlags: reserved, send 0.
    pub security_flags: u8,
    /// RequestedOplockLevel (see [`oplock_level`]).
    pub requested_oplock_level: u8,
    /// ImpersonationLevel (see [`impersonation`]).
    pub impersonation_level: u32,
    /// SmbCreateFlags: reserved, send 0.
    pub create_flags: u64,
    /// DesiredAccess (see [`access_mask`]).
    pub desired_access: u32,
    /// FileAttributes: MS-FSCC §2.6 FILE_ATTRIBUTE_* bits.
    pub file_attributes: u32,
    /// ShareAccess (see [`share_access`]).
    pub share_access: u32,
    /// CreateDisposition (see [`create_disposition`]).
    pub create_disposition: u32,
    /// CreateOptions (see [`create_options`]).
    pub create_options: u32,
    /// The path relative to the share, e.g. `dir\file.txt`; empty for the
    /// share root ("A zero length file name indicates a request to open the
    /// root of the share"). It MUST NOT begin with a backslash (the name
    /// "MUST conform to the specification of a relative pathname in
    /// [MS-FSCC] section 2.1.5"); neither encode nor decode enforces this,
    /// servers answer STATUS_INVALID_PARAMETER.
    pub name: String,
    /// Create contexts, in wire order.
    pub contexts: Vec<CreateContext>,
}

impl CreateRequest {
    /// Appends the request body to `w`, which holds exactly the SMB2 header
    /// at position 0. The name follows the fixed part at offset 120 (also
    /// when empty: "The NameOffset field SHOULD be set to the offset of the
    /// Buffer field"), then the context chain at the next 8-byte boundary
    /// ("CreateContextsOffset ... to the first 8-byte aligned
    /// SMB2_CREATE_CONTEXT structure"; 0 when there are no contexts: "If no
    /// SMB2_CREATE_CONTEXTs are being sent, this value MUST be 0").
    ///
    /// # Errors
    ///
    /// If the name exceeds 65535 bytes of UTF-16, or a context cannot be
    /// expressed (see [`CreateContext`]).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let name_len = wire_u16(utf16_len(&self.name), "SMB2 CREATE NameLength")?;
        let body_start = w.len();
        let name_offset = wire_u16(body_start + REQUEST_FIXED_LEN, "SMB2 CREATE NameOffset")?;
        w.u16(57)
            .u8(self.security_flags)
            .u8(self.requested_oplock_level)
            .u32(self.impersonation_level)
            .u64(self.create_flags)
            .u64(0)
            .u32(self.desired_access)
            .u32(self.file_attributes)
            .u32(self.share_access)
            .u32(self.create_disposition)
            .u32(self.create_options)
            .u16(name_offset)
            .u16(name_len);
        let contexts_field = w.len();
        w.u32(0).u32(0);
        w.utf16(&self.name);
        let (offset, length) = encode_create_contexts(w, &self.contexts)?;
        w.patch_u32(contexts_field, offset);
        w.patch_u32(contexts_field + 4, length);
        if w.len() == body_start + REQUEST_FIXED_LEN {
            w.u8(0);
        }
        Ok(())
    }

    /// Decodes a CREATE request. StructureSize must be 57 and the body must
    /// hold at least 57 bytes; the name must lie after the fixed part and
    /// inside the message and be valid UTF-16LE (so NameLength is even: a
    /// server MUST fail the request "If NameLength is not a multiple of 2",
    /// §3.3.5.9); the context list is validated by
    /// [`decode_create_contexts`].
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 CREATE request";
        let (_, mut r) = body(msg, Command::CREATE, what)?;
        structure_size(&mut r, 57, what)?;
        let security_flags = r.u8(what)?;
        let requested_oplock_level = r.u8(what)?;
        let impersonation_level = r.u32(what)?;
        let create_flags = r.u64(what)?;
        r.skip(8, what)?; // Reserved
        let desired_access = r.u32(what)?;
        let file_attributes = r.u32(what)?;
        let share_access = r.u32(what)?;
        let create_disposition = r.u32(what)?;
        let create_options = r.u32(what)?;
        let name_offset = r.u16(what)?;
        let name_length = r.u16(what)?;
        let contexts_offset = r.u32(what)?;
        let contexts_length = r.u32(what)?;
        require_structure_bytes(msg, 57, what)?;
        let min = HEADER_LEN + REQUEST_FIXED_LEN;
        let name = buffer(
            msg,
            usize::from(name_offset),
            usize::from(name_length),
            min,
            "SMB2 CREATE request name",
        )?;
        let name = from_utf16le(name, "SMB2 CREATE request name")?;
        let contexts = decode_context_list(
            msg,
            contexts_offset,
            contexts_length,
            min,
            "SMB2 CREATE request create contexts",
        )?;
        Ok(CreateRequest {
            security_flags,
            requested_oplock_level,
            impersonation_level,
            create_flags,
            desired_access,
            file_attributes,
            share_access,
            create_disposition,
            create_options,
            name,
            contexts,
        })
    }
}

// ---------------------------------------------------------------------------
// CREATE response.
// ---------------------------------------------------------------------------

/// SMB2 CREATE Response (MS-SMB2 §2.2.14).
///
/// Body: StructureSize (2, "The server MUST set this field to 89"),
/// OplockLevel (1), Flags (1), CreateAction (4), CreationTime (8),
/// LastAccessTime (8), LastWriteTime (8), ChangeTime (8), AllocationSize
/// (8), EndofFile (8), FileAttributes (4), Reserved2 (4, "the client MUST
/// ignore it on receipt"), FileId (16), CreateContextsOffset (4),
/// CreateContextsLength (4), Buffer (the create context list).
///
/// Times are raw FILETIMEs (100 ns intervals since 1601-01-01 UTC).
/// Servers (Samba among them) often send the 88-byte fixed part alone when
/// there are no contexts, so decode does not insist on the 89th byte, and
/// encode does not write one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResponse {
    /// OplockLevel granted (see [`oplock_level`]).
    pub oplock_level: u8,
    /// Flags (see [`response_flags`]).
    pub flags: u8,
    /// CreateAction (see [`create_action`]).
    pub create_action: u32,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// AllocationSize in bytes.
    pub allocation_size: u64,
    /// EndofFile: the file size in bytes.
    pub end_of_file: u64,
    /// FileAttributes: MS-FSCC §2.6 FILE_ATTRIBUTE_* bits.
    pub file_attributes: u32,
    /// FileId of the new open.
    pub file_id: FileId,
    /// Create contexts returned by the server, in wire order.
    pub contexts: Vec<CreateContext>,
}

impl CreateResponse {
    /// Appends the response body to `w` (which holds exactly the SMB2
    /// header at position 0). The contexts, if any, start at offset 152,
    /// which is where Samba's client requires them.
    ///
    /// # Errors
    ///
    /// If a context cannot be expressed (see [`CreateContext`]).
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u16(89)
            .u8(self.oplock_level)
            .u8(self.flags)
            .u32(self.create_action)
            .u64(self.creation_time)
            .u64(self.last_access_time)
            .u64(self.last_write_time)
            .u64(self.change_time)
            .u64(self.allocation_size)
            .u64(self.end_of_file)
            .u32(self.file_attributes)
            .u32(0);
        self.file_id.encode(w);
        let contexts_field = w.len();
        w.u32(0).u32(0);
        let (offset, length) = encode_create_contexts(w, &self.contexts)?;
        w.patch_u32(contexts_field, offset);
        w.patch_u32(contexts_field + 4, length);
        Ok(())
    }

    /// Decodes a CREATE response. StructureSize must be 89; the context
    /// list must lie after the fixed part and inside the message and is
    /// validated by [`decode_create_contexts`]. An SMB2 ERROR response
    /// (StructureSize 9) fails here; check [`super::is_error_response`]
    /// first.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 CREATE response";
        let (_, mut r) = body(msg, Command::CREATE, what)?;
        structure_size(&mut r, 89, what)?;
        let oplock_level = r.u8(what)?;
        let flags = r.u8(what)?;
        let create_action = r.u32(what)?;
        let creation_time = r.u64(what)?;
        let last_access_time = r.u64(what)?;
        let last_write_time = r.u64(what)?;
        let change_time = r.u64(what)?;
        let allocation_size = r.u64(what)?;
        let end_of_file = r.u64(what)?;
        let file_attributes = r.u32(what)?;
        r.skip(4, what)?; // Reserved2
        let file_id = FileId::decode(&mut r, what)?;
        let contexts_offset = r.u32(what)?;
        let contexts_length = r.u32(what)?;
        let contexts = decode_context_list(
            msg,
            contexts_offset,
            contexts_length,
            HEADER_LEN + RESPONSE_FIXED_LEN,
            "SMB2 CREATE response create contexts",
        )?;
        Ok(CreateResponse {
            oplock_level,
            flags,
            create_action,
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            allocation_size,
            end_of_file,
            file_attributes,
            file_id,
            contexts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };
    use crate::types::NtStatus;

    fn open_request() -> CreateRequest {
        CreateRequest {
            security_flags: 0,
            requested_oplock_level: oplock_level::NONE,
            impersonation_level: impersonation::IMPERSONATION,
            create_flags: 0,
            desired_access: access_mask::FILE_READ_DATA
                | access_mask::FILE_READ_EA
                | access_mask::FILE_READ_ATTRIBUTES
                | access_mask::READ_CONTROL
                | access_mask::SYNCHRONIZE,
            file_attributes: 0x80, // FILE_ATTRIBUTE_NORMAL
            share_access: share_access::ALL,
            create_disposition: create_disposition::OPEN,
            create_options: create_options::NON_DIRECTORY_FILE,
            name: r"a\b.txt".into(),
            contexts: vec![CreateContext::new(context_name::QUERY_MAXIMAL_ACCESS, [])],
        }
    }

    fn encode_request(req: &CreateRequest) -> Vec<u8> {
        let mut w = request_writer(Command::CREATE);
        req.encode(&mut w).unwrap();
        w.into_vec()
    }

    #[test]
    fn request_matches_hand_computed_bytes() {
        let msg = encode_request(&open_request());
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x39, 0x00,             // StructureSize 57
            0x00,                   // SecurityFlags
            0x00,                   // RequestedOplockLevel NONE
            0x02, 0x00, 0x00, 0x00, // ImpersonationLevel: Impersonation
            0, 0, 0, 0, 0, 0, 0, 0, // SmbCreateFlags
            0, 0, 0, 0, 0, 0, 0, 0, // Reserved
            0x89, 0x00, 0x12, 0x00, // DesiredAccess 0x00120089
            0x80, 0x00, 0x00, 0x00, // FileAttributes NORMAL
            0x07, 0x00, 0x00, 0x00, // ShareAccess READ|WRITE|DELETE
            0x01, 0x00, 0x00, 0x00, // CreateDisposition FILE_OPEN
            0x40, 0x00, 0x00, 0x00, // CreateOptions NON_DIRECTORY_FILE
            0x78, 0x00,             // NameOffset 120
            0x0E, 0x00,             // NameLength 14
            0x88, 0x00, 0x00, 0x00, // CreateContextsOffset 136 (120+14, aligned to 8)
            0x14, 0x00, 0x00, 0x00, // CreateContextsLength 20
            b'a', 0, b'\\', 0, b'b', 0, b'.', 0, b't', 0, b'x', 0, b't', 0,
            0x00, 0x00,             // padding to 136
            0x00, 0x00, 0x00, 0x00, // Next 0 (last)
            0x10, 0x00,             // NameOffset 16
            0x04, 0x00,             // NameLength 4
            0x00, 0x00,             // Reserved
            0x00, 0x00,             // DataOffset 0 (no data)
            0x00, 0x00, 0x00, 0x00, // DataLength 0
            b'M', b'x', b'A', b'c',
        ];
        assert_eq!(&msg[64..], expected);
        assert_eq!(CreateRequest::decode(&msg).unwrap(), open_request());
        assert_truncations_fail(&msg, CreateRequest::decode);
        mutate_never_panics(&msg, CreateRequest::decode);
    }

    #[test]
    fn empty_name_still_sends_one_buffer_byte() {
        let req = CreateRequest {
            name: String::new(),
            contexts: vec![],
            create_options: create_options::DIRECTORY_FILE,
            ..open_request()
        };
        let msg = encode_request(&req);
        assert_eq!(msg.len(), 64 + 57);
        assert_eq!(
            &msg[64 + 44..64 + 56],
            &[0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(msg[64 + 56], 0);
        assert_eq!(CreateRequest::decode(&msg).unwrap(), req);
        // Without the Buffer byte the request is malformed.
        assert!(CreateRequest::decode(&msg[..msg.len() - 1]).is_err());
        assert_truncations_fail(&msg, CreateRequest::decode);

        // Empty name with contexts: the chain starts right at 120.
        let req = CreateRequest {
            name: String::new(),
            ..open_request()
        };
        let msg = encode_request(&req);
        assert_eq!(&msg[64 + 48..64 + 52], &[0x78, 0, 0, 0]);
        assert_eq!(CreateRequest::decode(&msg).unwrap(), req);
    }

    #[test]
    fn request_round_trips_contexts_with_data() {
        let req = CreateRequest {
            requested_oplock_level: oplock_level::LEASE,
            name: r"dossier\données 😀.txt".into(),
            contexts: vec![
                CreateContext::new(context_name::DURABLE_HANDLE_REQUEST_V2, [7u8; 32]),
                CreateContext::new(context_name::QUERY_MAXIMAL_ACCESS, []),
                CreateContext::new(
                    &[
                        0x93, 0xAD, 0x25, 0x50, 0x9C, 0xB4, 0x11, 0xE7, 0xB4, 0x23, 0x83, 0xDE,
                        0x96, 0x8B, 0xCD, 0x7C,
                    ],
                    [1, 2, 3],
                ),
                CreateContext::new(context_name::REQUEST_LEASE, [9u8; 52]),
            ],
            ..open_request()
        };
        let msg = encode_request(&req);
        assert_eq!(CreateRequest::decode(&msg).unwrap(), req);
        // Every context starts 8-byte aligned relative to the header.
        let off = u32::from_le_bytes(msg[64 + 48..64 + 52].try_into().unwrap()) as usize;
        assert_eq!(off % 8, 0);
        let mut pos = off;
        loop {
            assert_eq!(pos % 8, 0);
            let next = u32::from_le_bytes(msg[pos..pos + 4].try_into().unwrap()) as usize;
            if next == 0 {
                break;
            }
            pos += next;
        }
        assert_truncations_fail(&msg, CreateRequest::decode);
        mutate_never_panics(&msg, CreateRequest::decode);
    }

    #[test]
    fn hostile_requests_fail() {
        let good = encode_request(&open_request());
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            CreateRequest::decode(&m)
        };
        assert!(with(64, &[0x38, 0x00]).is_err()); // StructureSize
        assert!(with(12, &[0x06, 0x00]).is_err()); // not CREATE
        assert!(with(108, &[0x00, 0x00]).is_err()); // NameOffset into the header
        assert!(with(108, &[0x70, 0x00]).is_err()); // NameOffset into the fixed part
        assert!(with(108, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err()); // huge offset+length
        assert!(with(110, &[0x0F, 0x00]).is_err()); // odd NameLength
        assert!(with(120, &[0x00, 0xD8]).is_err()); // unpaired surrogate
        assert!(with(112, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err()); // contexts offset
        assert!(with(112, &[0x00, 0x00, 0x00, 0x00]).is_err()); // contexts into header
        assert!(with(116, &[0x15, 0x00, 0x00, 0x00]).is_err()); // contexts length +1
        assert!(with(116, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err()); // contexts length huge
        assert!(with(116, &[0x0F, 0x00, 0x00, 0x00]).is_err()); // shorter than a header
                                                                // A zero length with any offset is empty.
        let r = with(112, &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]).unwrap();
        assert!(r.contexts.is_empty());
    }

    /// Builds a raw context header.
    fn raw_context(
        next: u32,
        name_off: u16,
        name_len: u16,
        data_off: u16,
        data_len: u32,
    ) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(next)
            .u16(name_off)
            .u16(name_len)
            .u16(0)
            .u16(data_off)
            .u32(data_len);
        w.into_vec()
    }

    #[test]
    fn context_chain_bad_next_values_fail() {
        // Two well-formed contexts, for reference: "MxAc" (24 bytes with
        // padding) then "QFid".
        let mut ok = raw_context(24, 16, 4, 0, 0);
        ok.extend_from_slice(b"MxAc\0\0\0\0");
        ok.extend(raw_context(0, 16, 4, 0, 0));
        ok.extend_from_slice(b"QFid");
        let parsed = decode_create_contexts(&ok).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].name, b"QFid");

        let with_next = |next: u32| {
            let mut m = ok.clone();
            m[0..4].copy_from_slice(&next.to_le_bytes());
            decode_create_contexts(&m)
        };
        assert!(with_next(20).is_err()); // not 8-aligned
        assert!(with_next(8).is_err()); // inside the header
        assert!(with_next(32).is_err()); // next header would be truncated
        assert!(with_next(40).is_err()); // past the end
        assert!(with_next(0xFFFF_FFF8).is_err()); // huge
        assert!(with_next(16).is_err()); // name runs past the context's extent
                                         // The whole chain truncated anywhere fails.
        for len in 1..ok.len() {
            assert!(decode_create_contexts(&ok[..len]).is_err(), "prefix {len}");
        }
        mutate_never_panics(
            &{
                let mut w = request_writer(Command::CREATE);
                w.bytes(&ok);
                w.into_vec()
            },
            |m: &[u8]| decode_create_contexts(&m[64..]),
        );
    }

    #[test]
    fn context_chain_bad_name_and_data_fail() {
        let ctx = |name_off: u16, name_len: u16, data_off: u16, data_len: u32| {
            let mut m = raw_context(0, name_off, name_len, data_off, data_len);
            m.extend_from_slice(b"DH2Q\0\0\0\0");
            m.extend_from_slice(&[5u8; 16]);
            decode_create_contexts(&m)
        };
        let good = ctx(16, 4, 24, 16).unwrap();
        assert_eq!(good, vec![CreateContext::new(b"DH2Q", [5u8; 16])]);
        assert!(ctx(8, 4, 24, 16).is_err()); // name inside the header
        assert!(ctx(16, 2, 24, 16).is_err()); // name shorter than 4
        assert!(ctx(16, 0xFFFF, 24, 16).is_err()); // name past the end
        assert!(ctx(16, 4, 16, 16).is_err()); // data overlaps the name
        assert!(ctx(16, 4, 0, 16).is_err()); // data overlaps the header
        assert!(ctx(16, 4, 24, 17).is_err()); // data one byte too long
        assert!(ctx(16, 4, 0xFFFF, 16).is_err()); // data offset past the end
        assert!(ctx(16, 4, 24, u32::MAX).is_err()); // huge data length
                                                    // Empty data ignores DataOffset entirely.
        assert_eq!(ctx(16, 4, 0xFFFF, 0).unwrap()[0].data, Vec::<u8>::new());
    }

    #[test]
    fn context_count_is_capped() {
        let many = |n: usize| CreateRequest {
            contexts: (0..n).map(|_| CreateContext::new(b"ABCD", [1])).collect(),
            ..open_request()
        };
        let msg = encode_request(&many(MAX_CREATE_CONTEXTS));
        assert_eq!(
            CreateRequest::decode(&msg).unwrap().contexts.len(),
            MAX_CREATE_CONTEXTS
        );
        let msg = encode_request(&many(MAX_CREATE_CONTEXTS + 1));
        assert!(matches!(
            CreateRequest::decode(&msg),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    fn sample_response() -> CreateResponse {
        CreateResponse {
            oplock_level: oplock_level::BATCH,
            flags: 0,
            create_action: create_action::OPENED,
            creation_time: 0x01D9_0000_1111_2222,
            last_access_time: 0x01D9_0000_3333_4444,
            last_write_time: 0x01D9_0000_5555_6666,
            change_time: 0x01D9_0000_7777_8888,
            allocation_size: 4096,
            end_of_file: 1234,
            file_attributes: 0x20,
            file_id: FileId {
                persistent: 0x0102_0304_0506_0708,
                volatile: 0x1112_1314_1516_1718,
            },
            contexts: vec![CreateContext::new(
                context_name::QUERY_MAXIMAL_ACCESS,
                [0, 0, 0, 0, 0xFF, 0x01, 0x1F, 0x00],
            )],
        }
    }

    #[test]
    fn response_round_trips_and_truncations_fail() {
        let resp = sample_response();
        let mut w = response_writer(Command::CREATE, NtStatus::SUCCESS);
        resp.encode(&mut w).unwrap();
        let msg = w.into_vec();
        // Offsets as Samba's client requires them.
        assert_eq!(&msg[64 + 80..64 + 84], &[152, 0, 0, 0]);
        assert_eq!(
            &msg[64 + 64..64 + 80],
            &[8, 7, 6, 5, 4, 3, 2, 1, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11]
        );
        // The context's data is 8-byte aligned: DataOffset 24.
        assert_eq!(&msg[152 + 10..152 + 12], &[24, 0]);
        assert_eq!(CreateResponse::decode(&msg).unwrap(), resp);
        assert_truncations_fail(&msg, CreateResponse::decode);
        mutate_never_panics(&msg, CreateResponse::decode);

        let bare = CreateResponse {
            contexts: vec![],
            ..sample_response()
        };
        let mut w = response_writer(Command::CREATE, NtStatus::SUCCESS);
        bare.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg.len(), 64 + 88);
        assert_eq!(CreateResponse::decode(&msg).unwrap(), bare);
        assert_truncations_fail(&msg, CreateResponse::decode);
    }

    #[test]
    fn hostile_responses_fail() {
        let mut w = response_writer(Command::CREATE, NtStatus::SUCCESS);
        sample_response().encode(&mut w).unwrap();
        let good = w.into_vec();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            CreateResponse::decode(&m)
        };
        assert!(with(64, &[9, 0]).is_err()); // an ERROR body
        assert!(with(144, &[0x90, 0, 0, 0]).is_err()); // contexts inside the fixed part
        assert!(with(144, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(148, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(148, &[33, 0, 0, 0]).is_err()); // one past the end
        assert!(with(152, &[8, 0, 0, 0]).is_err()); // Next inside the header
                                                    // An ERROR response to a CREATE does not decode as a CREATE response.
        let mut w = response_writer(Command::CREATE, NtStatus::OBJECT_NAME_NOT_FOUND);
        w.bytes(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(CreateResponse::decode(w.as_slice()).is_err());
    }

    #[test]
    fn file_id_any() {
        assert!(FileId::ANY.is_any());
        assert!(!FileId::default().is_any());
        let mut w = Writer::new();
        FileId::ANY.encode(&mut w);
        assert_eq!(w.as_slice(), &[0xFF; 16]);
        let mut r = Reader::new(w.as_slice());
        assert_eq!(FileId::decode(&mut r, "id").unwrap(), FileId::ANY);
        assert!(FileId::decode(&mut Reader::new(&[0; 15]), "id").is_err());
    }

    #[test]
    fn name_length_limit() {
        use crate::codec::testutil::{assert_too_large, name};
        let mut req = open_request();
        req.contexts.clear();
        // NameLength is 16 bits: 32767 UTF-16 units (65534 bytes) fit.
        req.name = name(32767);
        let msg = encode_request(&req);
        assert_eq!(
            &msg[HEADER_LEN + 46..HEADER_LEN + 48],
            &65534u16.to_le_bytes()
        );
        assert_eq!(CreateRequest::decode(&msg).unwrap().name, req.name);
        req.name = name(32768);
        let mut w = request_writer(Command::CREATE);
        assert_too_large(req.encode(&mut w), "SMB2 CREATE NameLength", 65536, 65535);
        // 40,000 characters, as a caller might pass.
        req.name = name(40_000);
        assert_eq!(
            req.encode(&mut request_writer(Command::CREATE))
                .unwrap_err()
                .to_string(),
            "SMB2 CREATE NameLength: 80000 bytes, the limit is 65535"
        );
    }

    #[test]
    fn name_offset_limit() {
        use crate::codec::testutil::assert_too_large;
        let req = open_request();
        // NameOffset (16 bits) counts from the start of `w`: the name
        // follows the 56-byte fixed body, which must end by 65535.
        let mut w = Writer::new();
        w.zeros(65535 - REQUEST_FIXED_LEN);
        req.encode(&mut w).unwrap();
        let mut w = Writer::new();
        w.zeros(65536 - REQUEST_FIXED_LEN);
        assert_too_large(req.encode(&mut w), "SMB2 CREATE NameOffset", 65536, 65535);
    }

    #[test]
    fn create_context_limits() {
        use crate::codec::testutil::assert_too_large;
        let with = |name_len: usize, data: &[u8]| {
            let mut req = open_request();
            req.contexts = vec![CreateContext::new(&vec![b'N'; name_len], data.to_vec())];
            let mut w = request_writer(Command::CREATE);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        // NameLength is 16 bits.
        let msg = with(65535, &[]).unwrap();
        let back = CreateRequest::decode(&msg).unwrap();
        assert_eq!(back.contexts[0].name.len(), 65535);
        assert_too_large(
            with(65536, &[]),
            "SMB2_CREATE_CONTEXT NameLength",
            65536,
            65535,
        );
        // DataOffset, the 8-byte boundary after the name from the context
        // start, is 16 bits too: a name of 65512 bytes ends at 65528.
        let msg = with(65512, b"d").unwrap();
        assert_eq!(CreateRequest::decode(&msg).unwrap().contexts[0].data, b"d");
        assert_too_large(
            with(65513, b"d"),
            "SMB2_CREATE_CONTEXT DataOffset",
            65536,
            65535,
        );
    }
}
