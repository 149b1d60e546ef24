//! SMB2 ERROR response (MS-SMB2 §2.2.2) and how to recognise one
//! (MS-SMB2 §3.3.4.4).

use super::{structure_size, wire_u32, Header, HEADER_LEN};
use crate::codec::{checked_range, DecodeError, EncodeError, Reader, Writer};
use crate::types::{Command, NtStatus};

/// ErrorId values of the SMB2 ERROR Context (MS-SMB2 §2.2.2.1).
pub mod error_id {
    /// SMB2_ERROR_ID_DEFAULT: "Unless otherwise specified, all errors defined
    /// in the [MS-SMB2] protocol use this error ID."
    pub const DEFAULT: u32 = 0x0000_0000;
    /// SMB2_ERROR_ID_SHARE_REDIRECT: a share redirect (§2.2.2.2.2).
    pub const SHARE_REDIRECT: u32 = 0x7264_5253;
}

/// The most error contexts [`ErrorResponse::contexts`] accepts.
pub const MAX_ERROR_CONTEXTS: usize = 64;

/// Fixed part of the ERROR body: StructureSize, ErrorContextCount, Reserved,
/// ByteCount (StructureSize is 9 because it counts one byte of ErrorData).
const FIXED_LEN: usize = 8;

/// SMB2 ERROR Response (MS-SMB2 §2.2.2).
///
/// Body: StructureSize (2, "The server MUST set this field to 9"),
/// ErrorContextCount (1, "MUST be set to 0 for SMB dialects other than
/// 3.1.1"), Reserved (1, "the client MUST ignore it on receipt"), ByteCount
/// (4, "The number of bytes of data contained in ErrorData[]"), ErrorData.
///
/// "If the ByteCount field is zero then the server MUST supply an ErrorData
/// field that is one byte in length": [`ErrorResponse::encode`] does so, but
/// [`ErrorResponse::decode`] does not insist on that padding byte, so that a
/// server which omits it still has its status reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// ErrorContextCount: when nonzero (3.1.1 only), ErrorData is an array of
    /// SMB2 ERROR Context structures (see [`ErrorResponse::contexts`]).
    pub error_context_count: u8,
    /// ErrorData, ByteCount bytes (the one-byte pad of an empty ErrorData is
    /// not included). Its format depends on the header Status (§2.2.2.2),
    /// e.g. a 4-byte minimum length for STATUS_BUFFER_TOO_SMALL or a symbolic
    /// link error response for STATUS_STOPPED_ON_SYMLINK.
    pub error_data: Vec<u8>,
}

/// One SMB2 ERROR Context (MS-SMB2 §2.2.2.1): ErrorDataLength (4), ErrorId
/// (4), ErrorContextData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorContext {
    /// ErrorId (see [`error_id`]).
    pub error_id: u32,
    /// ErrorContextData, formatted per §2.2.2.2.
    pub data: Vec<u8>,
}

impl ErrorResponse {
    /// Appends the ERROR body to `w` (which holds the SMB2 header), adding
    /// the one padding byte the specification requires when ErrorData is
    /// empty.
    ///
    /// # Errors
    ///
    /// If ErrorData exceeds 4 GiB.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let byte_count = wire_u32(self.error_data.len(), "SMB2 ERROR ByteCount")?;
        w.u16(9).u8(self.error_context_count).u8(0).u32(byte_count);
        if self.error_data.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.error_data);
        }
        Ok(())
    }

    /// Decodes an ERROR response (`msg` starts at its SMB2 header, any
    /// command). StructureSize must be 9 and ByteCount bytes of ErrorData
    /// must be present in the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB2 ERROR response";
        Header::decode(msg)?;
        let mut r = Reader::at(msg, HEADER_LEN, what)?;
        structure_size(&mut r, 9, what)?;
        let error_context_count = r.u8(what)?;
        r.skip(1, what)?;
        let byte_count = r.u32(what)?;
        let byte_count = usize::try_from(byte_count).map_err(|_| DecodeError::TooLarge {
            what: "SMB2 ERROR ByteCount",
            length: usize::MAX,
            limit: msg.len(),
        })?;
        let range = checked_range(
            "SMB2 ERROR ErrorData",
            HEADER_LEN + FIXED_LEN,
            byte_count,
            msg.len(),
        )?;
        Ok(ErrorResponse {
            error_context_count,
            error_data: msg[range].to_vec(),
        })
    }

    /// Parses ErrorData as ErrorContextCount SMB2 ERROR Contexts
    /// (MS-SMB2 §2.2.2.1; 3.1.1 only). "Each SMB2 ERROR Context MUST start
    /// at an 8-byte aligned boundary relative to the start of the SMB2 ERROR
    /// Response"; ErrorData starts 8 bytes into that response, so contexts
    /// are aligned to 8 within ErrorData. Returns an empty list when
    /// ErrorContextCount is 0.
    pub fn contexts(&self) -> Result<Vec<ErrorContext>, DecodeError> {
        let count = usize::from(self.error_context_count);
        if count > MAX_ERROR_CONTEXTS {
            return Err(DecodeError::TooLarge {
                what: "ErrorContextCount",
                length: count,
                limit: MAX_ERROR_CONTEXTS,
            });
        }
        let data = &self.error_data;
        let mut out = Vec::with_capacity(count);
        let mut pos = 0usize;
        for i in 0..count {
            if i > 0 {
                pos = pos
                    .checked_add(7)
                    .map(|p| p & !7)
                    .ok_or(DecodeError::OutOfBounds {
                        what: "SMB2 ERROR Context",
                        offset: pos,
                        length: 8,
                        bound: data.len(),
                    })?;
            }
            let head = checked_range("SMB2 ERROR Context header", pos, 8, data.len())?;
            let mut r = Reader::new(&data[head.clone()]);
            let len = r.u32("SMB2 ERROR Context ErrorDataLength")?;
            let error_id = r.u32("SMB2 ERROR Context ErrorId")?;
            let len = usize::try_from(len).map_err(|_| DecodeError::TooLarge {
                what: "SMB2 ERROR Context ErrorDataLength",
                length: usize::MAX,
                limit: data.len(),
            })?;
            let body = checked_range(
                "SMB2 ERROR Context ErrorContextData",
                head.end,
                len,
                data.len(),
            )?;
            out.push(ErrorContext {
                error_id,
                data: data[body.clone()].to_vec(),
            });
            pos = body.end;
        }
        Ok(out)
    }
}

/// The StructureSize of each command's normal (success) response body
/// (MS-SMB2 §2.2.4 .. §2.2.42), or `None` for CANCEL (no response) and
/// unknown commands.
fn normal_response_structure_size(command: Command) -> Option<u16> {
    Some(match command {
        Command::NEGOTIATE => 65,
        Command::SESSION_SETUP => 9,
        Command::LOGOFF => 4,
        Command::TREE_CONNECT => 16,
        Command::TREE_DISCONNECT => 4,
        Command::CREATE => 89,
        Command::CLOSE => 60,
        Command::FLUSH => 4,
        Command::READ => 17,
        Command::WRITE => 17,
        Command::LOCK => 4,
        Command::IOCTL => 49,
        Command::ECHO => 4,
        Command::QUERY_DIRECTORY => 9,
        Command::CHANGE_NOTIFY => 9,
        Command::QUERY_INFO => 9,
        Command::SET_INFO => 2,
        Command::OPLOCK_BREAK => 24,
        _ => return None,
    })
}

/// True if the message body is an SMB2 ERROR response (MS-SMB2 §2.2.2) rather
/// than the command's normal response: used by the driver to tell an error
/// reply from a normal one before decoding.
///
/// A message qualifies when it is a response (SERVER_TO_REDIR) whose body
/// StructureSize is 9 and either
/// * the command's normal response has a different StructureSize, or
/// * the command's normal response is also 9 (SESSION_SETUP,
///   QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO) or the command is unknown,
///   and the Status is not a success, using MS-SMB2 §3.3.4.4: "An error code
///   other than one of the following indicates a failure:
///   STATUS_MORE_PROCESSING_REQUIRED in an SMB2 SESSION_SETUP Response ...
///   STATUS_BUFFER_OVERFLOW in an SMB2 QUERY_INFO Response ...
///   STATUS_NOTIFY_ENUM_DIR in an SMB2 CHANGE_NOTIFY Response" (the other
///   exceptions listed there, for READ and IOCTL, have StructureSizes other
///   than 9). An interim STATUS_PENDING response therefore counts as an error
///   shape, which it is (§3.3.4.2).
///
/// Malformed input (short, not SMB2) yields `false`; the subsequent decode
/// reports the problem.
pub fn is_error_response(msg: &[u8]) -> bool {
    let Ok(header) = Header::decode(msg) else {
        return false;
    };
    if !header.is_response() {
        return false;
    }
    let Some(size) = msg.get(HEADER_LEN..HEADER_LEN + 2) else {
        return false;
    };
    if u16::from_le_bytes([size[0], size[1]]) != 9 {
        return false;
    }
    match normal_response_structure_size(header.command) {
        Some(normal) if normal != 9 => true,
        _ => {
            let success_shape = matches!(
                (header.command, header.status),
                (_, NtStatus::SUCCESS)
                    | (Command::SESSION_SETUP, NtStatus::MORE_PROCESSING_REQUIRED)
                    | (Command::QUERY_INFO, NtStatus::BUFFER_OVERFLOW)
                    | (Command::CHANGE_NOTIFY, NtStatus::NOTIFY_ENUM_DIR)
            );
            !success_shape
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::header::flags;
    use crate::smb2::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    fn error_msg(command: Command, status: NtStatus, data: &[u8]) -> Vec<u8> {
        let mut w = response_writer(command, status);
        ErrorResponse {
            error_context_count: 0,
            error_data: data.to_vec(),
        }
        .encode(&mut w)
        .unwrap();
        w.into_vec()
    }

    #[test]
    fn encodes_spec_bytes_and_round_trips() {
        let msg = error_msg(Command::CREATE, NtStatus::OBJECT_NAME_NOT_FOUND, &[]);
        assert_eq!(&msg[64..], &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let e = ErrorResponse::decode(&msg).unwrap();
        assert_eq!(e.error_context_count, 0);
        assert!(e.error_data.is_empty());
        // Without the pad byte a server still gets its status through.
        assert_eq!(ErrorResponse::decode(&msg[..72]).unwrap(), e);

        let msg = error_msg(
            Command::QUERY_INFO,
            NtStatus::BUFFER_TOO_SMALL,
            &[0x68, 0, 0, 0],
        );
        assert_eq!(&msg[64..], &[9, 0, 0, 0, 4, 0, 0, 0, 0x68, 0, 0, 0]);
        let e = ErrorResponse::decode(&msg).unwrap();
        assert_eq!(e.error_data, vec![0x68, 0, 0, 0]);
    }

    #[test]
    fn hostile_error_responses_fail() {
        let good = error_msg(
            Command::CREATE,
            NtStatus::STOPPED_ON_SYMLINK,
            &[1, 2, 3, 4, 5],
        );
        assert_truncations_fail(&good, ErrorResponse::decode);
        mutate_never_panics(&good, ErrorResponse::decode);
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            ErrorResponse::decode(&m)
        };
        assert!(with(64, &[8, 0]).is_err());
        assert!(with(68, &[6, 0, 0, 0]).is_err());
        assert!(with(68, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(with(68, &[0, 0, 0, 0x80]).is_err());
    }

    #[test]
    fn error_contexts_parse_and_reject_overruns() {
        // Two contexts: a 2-byte one (padded to 8) and an empty one.
        let mut data = Vec::new();
        data.extend_from_slice(&2u32.to_le_bytes());
        data.extend_from_slice(&error_id::DEFAULT.to_le_bytes());
        data.extend_from_slice(&[0x11, 0x03, 0, 0, 0, 0, 0, 0]);
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&error_id::SHARE_REDIRECT.to_le_bytes());
        let e = ErrorResponse {
            error_context_count: 2,
            error_data: data.clone(),
        };
        let mut w = response_writer(Command::TREE_CONNECT, NtStatus::BAD_NETWORK_NAME);
        e.encode(&mut w).unwrap();
        let d = ErrorResponse::decode(w.as_slice()).unwrap();
        assert_eq!(d, e);
        let ctx = d.contexts().unwrap();
        assert_eq!(
            ctx,
            vec![
                ErrorContext {
                    error_id: error_id::DEFAULT,
                    data: vec![0x11, 0x03]
                },
                ErrorContext {
                    error_id: error_id::SHARE_REDIRECT,
                    data: vec![]
                },
            ]
        );
        let mut bad = e.clone();
        bad.error_context_count = 3;
        assert!(bad.contexts().is_err());
        let mut bad = e.clone();
        bad.error_data[0] = 0xFF;
        assert!(bad.contexts().is_err());
        let mut bad = e.clone();
        bad.error_data[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(bad.contexts().is_err());
        let mut bad = e;
        bad.error_context_count = 200;
        assert!(matches!(bad.contexts(), Err(DecodeError::TooLarge { .. })));
        assert!(ErrorResponse {
            error_context_count: 0,
            error_data: vec![]
        }
        .contexts()
        .unwrap()
        .is_empty());
    }

    #[test]
    fn tells_errors_from_normal_responses() {
        // Commands whose normal response is not 9 bytes.
        assert!(is_error_response(&error_msg(
            Command::CREATE,
            NtStatus::ACCESS_DENIED,
            &[]
        )));
        assert!(is_error_response(&error_msg(
            Command::TREE_CONNECT,
            NtStatus::BAD_NETWORK_NAME,
            &[]
        )));
        assert!(is_error_response(&error_msg(
            Command::NEGOTIATE,
            NtStatus::NOT_SUPPORTED,
            &[]
        )));
        assert!(is_error_response(&error_msg(
            Command::CREATE,
            NtStatus::STOPPED_ON_SYMLINK,
            &[]
        )));
        // SESSION_SETUP: 9 either way, decided by the status.
        assert!(is_error_response(&error_msg(
            Command::SESSION_SETUP,
            NtStatus::LOGON_FAILURE,
            &[]
        )));
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::MORE_PROCESSING_REQUIRED);
        crate::smb2::SessionSetupResponse {
            session_flags: 0,
            security_buffer: vec![1, 2],
        }
        .encode(&mut w)
        .unwrap();
        assert!(!is_error_response(w.as_slice()));
        let mut w = response_writer(Command::SESSION_SETUP, NtStatus::SUCCESS);
        crate::smb2::SessionSetupResponse {
            session_flags: 0,
            security_buffer: vec![],
        }
        .encode(&mut w)
        .unwrap();
        assert!(!is_error_response(w.as_slice()));
        // QUERY_DIRECTORY: NO_MORE_FILES is an error response.
        assert!(is_error_response(&error_msg(
            Command::QUERY_DIRECTORY,
            NtStatus::NO_MORE_FILES,
            &[]
        )));
        assert!(!is_error_response(&error_msg(
            Command::QUERY_INFO,
            NtStatus::BUFFER_OVERFLOW,
            &[]
        )));
        assert!(!is_error_response(&error_msg(
            Command::CHANGE_NOTIFY,
            NtStatus::NOTIFY_ENUM_DIR,
            &[]
        )));
        // Interim async response.
        let mut h = Header::request(Command::CHANGE_NOTIFY);
        h.flags = flags::SERVER_TO_REDIR;
        h.status = NtStatus::PENDING;
        h.async_id = Some(8);
        let mut w = Writer::new();
        h.encode(&mut w);
        ErrorResponse {
            error_context_count: 0,
            error_data: vec![],
        }
        .encode(&mut w)
        .unwrap();
        assert!(is_error_response(w.as_slice()));
        // Normal shapes.
        let mut w = response_writer(Command::ECHO, NtStatus::SUCCESS);
        crate::smb2::EchoResponse.encode(&mut w);
        assert!(!is_error_response(w.as_slice()));
        // Requests, junk and truncated input.
        let mut w = request_writer(Command::TREE_CONNECT);
        crate::smb2::TreeConnectRequest {
            flags: 0,
            path: "x".into(),
        }
        .encode(&mut w)
        .unwrap();
        assert!(!is_error_response(w.as_slice()));
        let msg = error_msg(Command::CREATE, NtStatus::ACCESS_DENIED, &[]);
        for len in 0..66 {
            assert!(!is_error_response(&msg[..len]));
        }
        mutate_never_panics(&msg, |m| Ok::<bool, ()>(is_error_response(m)));
    }
}
