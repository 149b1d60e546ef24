//! SMB2/SMB3 message codecs (MS-SMB2 §2.2).
//!
//! Every message is one SMB2 header ([`header::Header`], MS-SMB2 §2.2.1)
//! followed by a command-specific body. The codecs here follow two
//! conventions:
//!
//! * `encode(&self, w: &mut Writer)` appends a body to a [`Writer`] that
//!   already holds exactly this message's 64-byte header, starting at
//!   position 0. Buffer offsets written into the body are therefore taken
//!   from `w.len()`, which is what MS-SMB2 asks for: every `*Offset` field is
//!   "the offset, in bytes, from the beginning of the SMB2 header". A
//!   compound chain is built by encoding each message into its own
//!   [`Writer`] and concatenating them (see [`header::split_compound`] for
//!   the receive side).
//! * `decode(msg: &[u8])` takes ONE message starting at its SMB2 header,
//!   checks the header, the command and the body's StructureSize, and
//!   validates every offset and length against `msg.len()` with checked
//!   arithmetic. A malformed or hostile message is a [`DecodeError`], never
//!   a panic, and no allocation is larger than the message itself.
//!
//! Both directions exist for every message (requests and responses), so
//! the same codecs serve the client driver and the test server.
//!
//! Variable-length buffers whose length field is zero are returned empty
//! without looking at their offset field (nothing is read, so nothing can
//! be out of bounds; servers are inconsistent about what they put there).
//! Non-empty buffers must lie after the fixed part of the body and inside
//! the message.

pub mod cancel;
pub mod change_notify;
pub mod close;
pub mod copychunk;
pub mod create;
pub mod durable;
pub mod echo;
pub mod error;
pub mod flush;
pub mod header;
pub mod ioctl;
pub mod logoff;
pub mod negotiate;
pub mod oplock;
pub mod query_directory;
pub mod query_info;
pub mod read;
pub mod session_setup;
pub mod set_info;
pub mod transform;
pub mod tree_connect;
pub mod tree_disconnect;
pub mod write;

pub use cancel::CancelRequest;
pub use close::{CloseRequest, CloseResponse};
pub use create::{CreateContext, CreateRequest, CreateResponse, FileId};
pub use echo::{EchoRequest, EchoResponse};
pub use error::{is_error_response, ErrorResponse};
pub use flush::{FlushRequest, FlushResponse};
pub use header::{split_compound, Header, HEADER_LEN};
pub use ioctl::{IoctlRequest, IoctlResponse};
pub use logoff::{LogoffRequest, LogoffResponse};
pub use negotiate::{NegotiateContext, NegotiateRequest, NegotiateResponse};
pub use query_directory::{
    query_directory_response_data_range, QueryDirectoryRequest, QueryDirectoryResponse,
};
pub use query_info::{QueryInfoRequest, QueryInfoResponse};
pub use read::{read_response_data_range, ReadRequest, ReadResponse};
pub use session_setup::{SessionSetupRequest, SessionSetupResponse};
pub use set_info::{SetInfoRequest, SetInfoResponse};
pub use transform::{frame_kind, FrameKind, TransformHeader, TRANSFORM_HEADER_LEN};
pub use tree_connect::{TreeConnectRequest, TreeConnectResponse};
pub use tree_disconnect::{TreeDisconnectRequest, TreeDisconnectResponse};
pub use write::{encode_write_request, write_request_data_range, WriteRequest, WriteResponse};

use crate::codec::{checked_range, wire_u16, wire_u32, DecodeError, Reader, Writer};
use crate::types::Command;

/// Decodes the header of `msg`, checks that it carries `command`, and returns
/// the header with a reader positioned at the first body byte.
fn body<'a>(
    msg: &'a [u8],
    command: Command,
    what: &'static str,
) -> Result<(Header, Reader<'a>), DecodeError> {
    let header = Header::decode(msg)?;
    if header.command != command {
        return Err(DecodeError::invalid(
            what,
            format!("header carries command {}, not {}", header.command, command),
        ));
    }
    let r = Reader::at(msg, HEADER_LEN, what)?;
    Ok((header, r))
}

/// Reads a body's StructureSize and checks it against the value the
/// specification fixes for that structure.
fn structure_size(
    r: &mut Reader<'_>,
    expected: u16,
    what: &'static str,
) -> Result<(), DecodeError> {
    let size = r.u16(what)?;
    if size != expected {
        return Err(DecodeError::invalid(
            what,
            format!("StructureSize is {size}, expected {expected}"),
        ));
    }
    Ok(())
}

/// Returns the `length` bytes at `offset` (from the start of the SMB2
/// header) of `msg`. A zero length yields an empty slice whatever the
/// offset; otherwise the buffer must start at or after `min_offset` (the end
/// of the fixed part of the body) and end inside the message.
fn buffer<'a>(
    msg: &'a [u8],
    offset: usize,
    length: usize,
    min_offset: usize,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if length == 0 {
        return Ok(&[]);
    }
    if offset < min_offset {
        return Err(DecodeError::OutOfBounds {
            what,
            offset,
            length,
            bound: msg.len(),
        });
    }
    let range = checked_range(what, offset, length, msg.len())?;
    Ok(&msg[range])
}

/// The fixed part of the response body that QUERY_INFO (MS-SMB2 §2.2.38)
/// and CHANGE_NOTIFY (§2.2.36) share: StructureSize 9, OutputBufferOffset,
/// OutputBufferLength (StructureSize 9 counts one byte of Buffer); the
/// buffer follows it.
const OUTPUT_BUFFER_FIXED_LEN: usize = 8;

/// Appends that body to `w` (which holds exactly the SMB2 header at
/// position 0), with `data` right after the fixed part, at offset 72;
/// `offset_what` and `length_what` name the fields in errors.
fn encode_output_buffer(
    w: &mut Writer,
    data: &[u8],
    offset_what: &'static str,
    length_what: &'static str,
) -> Result<(), crate::codec::EncodeError> {
    let offset = wire_u16(w.len() + OUTPUT_BUFFER_FIXED_LEN, offset_what)?;
    let length = wire_u32(data.len(), length_what)?;
    w.u16(9).u16(offset).u32(length).bytes(data);
    Ok(())
}

/// Decodes that body of a `command` response: StructureSize must be 9;
/// non-empty data must start at or after offset 72 and end inside the
/// message.
fn decode_output_buffer(
    msg: &[u8],
    command: Command,
    what: &'static str,
    data_what: &'static str,
) -> Result<Vec<u8>, DecodeError> {
    let (_, mut r) = body(msg, command, what)?;
    structure_size(&mut r, 9, what)?;
    let offset = r.u16(what)?;
    let length = r.u32(what)?;
    Ok(buffer(
        msg,
        usize::from(offset),
        create::wire_usize(length),
        HEADER_LEN + OUTPUT_BUFFER_FIXED_LEN,
        data_what,
    )?
    .to_vec())
}

/// Writes a 4-byte body (StructureSize 4 + Reserved), the shape shared by
/// LOGOFF, TREE_DISCONNECT and ECHO requests and responses.
fn encode_empty_body(w: &mut Writer) {
    w.u16(4).u16(0);
}

/// Decodes a 4-byte body (StructureSize 4 + Reserved) for `command`.
fn decode_empty_body(msg: &[u8], command: Command, what: &'static str) -> Result<(), DecodeError> {
    let (_, mut r) = body(msg, command, what)?;
    structure_size(&mut r, 4, what)?;
    // Reserved: "The client/server MUST set this to 0, and the server/client
    // MUST ignore it on receipt."
    r.skip(2, what)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the SMB2 codec tests.

    use super::header::{flags, Header};
    use crate::codec::Writer;
    use crate::types::{Command, NtStatus};

    /// A request header for `command` encoded into a fresh writer.
    pub fn request_writer(command: Command) -> Writer {
        let mut h = Header::request(command);
        h.message_id = 7;
        h.credits = 1;
        h.session_id = 0x1122_3344_5566_7788;
        h.tree_id = 5;
        let mut w = Writer::new();
        h.encode(&mut w);
        w
    }

    /// A response header for `command` with `status` encoded into a fresh writer.
    pub fn response_writer(command: Command, status: NtStatus) -> Writer {
        let mut h = Header::request(command);
        h.flags = flags::SERVER_TO_REDIR;
        h.status = status;
        h.message_id = 7;
        h.credits = 1;
        let mut w = Writer::new();
        h.encode(&mut w);
        w
    }

    /// Asserts that `decode` fails, without panicking, on every proper
    /// prefix of `msg`.
    pub fn assert_truncations_fail<T: core::fmt::Debug, E>(
        msg: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, E>,
    ) {
        for len in 0..msg.len() {
            let r = decode(&msg[..len]);
            assert!(
                r.is_err(),
                "decoding a {len}-byte prefix of {} bytes succeeded: {:?}",
                msg.len(),
                r.ok()
            );
        }
    }

    /// Runs `decode` over many single-byte mutations of `msg` to prove that
    /// no corruption panics (the results themselves are not checked).
    pub fn mutate_never_panics<T, E>(msg: &[u8], decode: impl Fn(&[u8]) -> Result<T, E>) {
        let mut m = msg.to_vec();
        for i in 0..m.len() {
            let orig = m[i];
            for v in [0x00, 0x01, 0x07, 0x08, 0x3F, 0x40, 0x7F, 0x80, 0xFE, 0xFF] {
                m[i] = v;
                let _ = decode(&m);
            }
            m[i] = orig;
        }
    }
}

/// The 32-bit buffer lengths. A buffer of 4 GiB is allocated zeroed, which
/// the allocator maps without touching, and every encoder refuses it
/// before reading it; the largest length that fits is checked through
/// `wire_u32` in the codec tests, since encoding it would copy 4 GiB.
#[cfg(all(test, target_pointer_width = "64"))]
mod u32_limits {
    use super::testutil::{request_writer, response_writer};
    use super::*;
    use crate::codec::testutil::assert_too_large;
    use crate::types::NtStatus;

    const OVER: usize = 1 << 32;
    const LIMIT: usize = OVER - 1;

    #[test]
    fn four_gib_buffers_are_refused_naming_their_field() {
        let big = vec![0u8; OVER];
        let mut w = request_writer(Command::WRITE);
        assert_too_large(
            encode_write_request(&mut w, 0, FileId::ANY, 0, &big),
            "SMB2 WRITE Length",
            OVER,
            LIMIT,
        );
        let set = SetInfoRequest {
            info_type: 1,
            file_info_class: 4,
            additional_information: 0,
            file_id: FileId::ANY,
            data: big,
        };
        let mut w = request_writer(Command::SET_INFO);
        assert_too_large(
            set.encode(&mut w),
            "SMB2 SET_INFO BufferLength",
            OVER,
            LIMIT,
        );
        let ioctl = IoctlRequest {
            ctl_code: 0,
            file_id: FileId::ANY,
            input: set.data,
            max_input_response: 0,
            max_output_response: 0,
            flags: 0,
        };
        let mut w = request_writer(Command::IOCTL);
        assert_too_large(ioctl.encode(&mut w), "SMB2 IOCTL InputCount", OVER, LIMIT);
        let query = QueryInfoRequest {
            info_type: 1,
            file_info_class: 5,
            output_buffer_length: 0,
            additional_information: 0,
            flags: 0,
            file_id: FileId::ANY,
            input: ioctl.input,
        };
        let mut w = request_writer(Command::QUERY_INFO);
        assert_too_large(
            query.encode(&mut w),
            "SMB2 QUERY_INFO InputBufferLength",
            OVER,
            LIMIT,
        );
        let read = ReadResponse {
            data_remaining: 0,
            data: query.input,
        };
        let mut w = response_writer(Command::READ, NtStatus::SUCCESS);
        assert_too_large(
            read.encode(&mut w),
            "SMB2 READ response DataLength",
            OVER,
            LIMIT,
        );
        let error = ErrorResponse {
            error_context_count: 0,
            error_data: read.data,
        };
        let mut w = response_writer(Command::READ, NtStatus::ACCESS_DENIED);
        assert_too_large(error.encode(&mut w), "SMB2 ERROR ByteCount", OVER, LIMIT);
        let listing = QueryDirectoryResponse {
            data: error.error_data,
        };
        let mut w = response_writer(Command::QUERY_DIRECTORY, NtStatus::SUCCESS);
        assert_too_large(
            listing.encode(&mut w),
            "SMB2 QUERY_DIRECTORY OutputBufferLength",
            OVER,
            LIMIT,
        );
        let info = QueryInfoResponse { data: listing.data };
        let mut w = response_writer(Command::QUERY_INFO, NtStatus::SUCCESS);
        assert_too_large(
            info.encode(&mut w),
            "SMB2 QUERY_INFO OutputBufferLength",
            OVER,
            LIMIT,
        );
        let ioctl = IoctlResponse {
            ctl_code: 0,
            file_id: FileId::ANY,
            input: Vec::new(),
            output: info.data,
            flags: 0,
        };
        let mut w = response_writer(Command::IOCTL, NtStatus::SUCCESS);
        assert_too_large(
            ioctl.encode(&mut w),
            "SMB2 IOCTL response OutputCount",
            OVER,
            LIMIT,
        );
        let create = CreateResponse {
            oplock_level: 0,
            flags: 0,
            create_action: 1,
            creation_time: 0,
            last_access_time: 0,
            last_write_time: 0,
            change_time: 0,
            allocation_size: 0,
            end_of_file: 0,
            file_attributes: 0,
            file_id: FileId::ANY,
            contexts: vec![CreateContext {
                name: b"MxAc".to_vec(),
                data: ioctl.output,
            }],
        };
        let mut w = response_writer(Command::CREATE, NtStatus::SUCCESS);
        assert_too_large(
            create.encode(&mut w),
            "SMB2_CREATE_CONTEXT DataLength",
            OVER,
            LIMIT,
        );
    }
}
