//! SMB_COM_LOGOFF_ANDX (0x74; MS-CIFS §2.2.4.54) and SMB_COM_TREE_DISCONNECT
//! (0x71; MS-CIFS §2.2.4.51).
//!
//! Neither carries data: the UID (logoff) or TID (tree disconnect) to end is
//! in the header.

use super::andx::{expect_word_count, first_block, put_andx_none, AndxBlock};
use super::header::command;
use crate::codec::{DecodeError, Writer};

/// SMB_COM_LOGOFF_ANDX request (MS-CIFS §2.2.4.54.1): WordCount 2 (the AndX
/// words), ByteCount 0. Logs off the UID in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoffRequest;

/// SMB_COM_LOGOFF_ANDX response (MS-CIFS §2.2.4.54.2): WordCount 2 (the
/// AndX words), ByteCount 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoffResponse;

/// SMB_COM_TREE_DISCONNECT request (MS-CIFS §2.2.4.51.1): WordCount 0,
/// ByteCount 0. Disconnects the TID in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeDisconnectRequest;

/// SMB_COM_TREE_DISCONNECT response (MS-CIFS §2.2.4.51.2): WordCount 0,
/// ByteCount 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeDisconnectResponse;

/// Writes WordCount 2 with the chain-ending AndX words, and ByteCount 0.
fn encode_andx_only(w: &mut Writer) {
    w.u8(2);
    put_andx_none(w);
    w.u16(0);
}

/// Writes WordCount 0 and ByteCount 0.
fn encode_empty(w: &mut Writer) {
    w.u8(0).u16(0);
}

/// Checks the first block of `msg`: command, WordCount, and ByteCount 0
/// ("This field MUST be 0x0000").
fn decode_fixed(
    msg: &[u8],
    cmd: u8,
    word_count: usize,
    what: &'static str,
) -> Result<AndxBlock, DecodeError> {
    let (_, block) = first_block(msg, cmd, what)?;
    expect_word_count(&block, &[word_count], what)?;
    if !block.bytes.is_empty() {
        return Err(DecodeError::invalid(
            what,
            format!("ByteCount is {}, expected 0", block.bytes.len()),
        ));
    }
    Ok(block)
}

impl LogoffRequest {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0; AndXCommand is 0xFF.
    pub fn encode(&self, w: &mut Writer) {
        encode_andx_only(w);
    }

    /// Decodes the request (WordCount "MUST be 0x02", ByteCount 0).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_fixed(msg, command::LOGOFF_ANDX, 2, "LOGOFF_ANDX request").map(|_| LogoffRequest)
    }
}

impl LogoffResponse {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0; AndXCommand is 0xFF.
    pub fn encode(&self, w: &mut Writer) {
        encode_andx_only(w);
    }

    /// Decodes the response (WordCount "MUST be 0x02", ByteCount 0).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_fixed(msg, command::LOGOFF_ANDX, 2, "LOGOFF_ANDX response").map(|_| LogoffResponse)
    }
}

impl TreeDisconnectRequest {
    /// Appends the request's blocks (WordCount 0, ByteCount 0) to `w`, which
    /// holds exactly the SMB1 header at position 0.
    pub fn encode(&self, w: &mut Writer) {
        encode_empty(w);
    }

    /// Decodes the request (WordCount and ByteCount "MUST be" 0).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_fixed(msg, command::TREE_DISCONNECT, 0, "TREE_DISCONNECT request")
            .map(|_| TreeDisconnectRequest)
    }
}

impl TreeDisconnectResponse {
    /// Appends the response's blocks (WordCount 0, ByteCount 0) to `w`,
    /// which holds exactly the SMB1 header at position 0.
    pub fn encode(&self, w: &mut Writer) {
        encode_empty(w);
    }

    /// Decodes the response (WordCount and ByteCount "MUST be" 0). This is
    /// also the shape of an error response: check the header's Status.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_fixed(msg, command::TREE_DISCONNECT, 0, "TREE_DISCONNECT response")
            .map(|_| TreeDisconnectResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    #[test]
    fn logoff_bytes_and_round_trips() {
        let mut w = request_writer(command::LOGOFF_ANDX);
        LogoffRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[32..], &[0x02, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(LogoffRequest::decode(&msg), Ok(LogoffRequest));
        assert_truncations_fail(&msg, LogoffRequest::decode);
        mutate_never_panics(&msg, LogoffRequest::decode);

        // Samba's reply.
        let mut w = response_writer(command::LOGOFF_ANDX, true);
        w.bytes(&[0x02, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00]);
        let msg = w.into_vec();
        assert_eq!(LogoffResponse::decode(&msg), Ok(LogoffResponse));
        let mut w = response_writer(command::LOGOFF_ANDX, true);
        LogoffResponse.encode(&mut w);
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, LogoffResponse::decode);
        mutate_never_panics(&msg, LogoffResponse::decode);

        let mut bad = msg.clone();
        bad[32] = 0;
        assert!(LogoffResponse::decode(&bad).is_err());
        let mut bad = msg;
        bad[37] = 1; // ByteCount 1 with no byte
        assert!(LogoffResponse::decode(&bad).is_err());
    }

    #[test]
    fn tree_disconnect_bytes_and_round_trips() {
        let mut w = request_writer(command::TREE_DISCONNECT);
        TreeDisconnectRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[32..], &[0, 0, 0]);
        assert_eq!(
            TreeDisconnectRequest::decode(&msg),
            Ok(TreeDisconnectRequest)
        );
        assert_truncations_fail(&msg, TreeDisconnectRequest::decode);
        mutate_never_panics(&msg, TreeDisconnectRequest::decode);

        let mut w = response_writer(command::TREE_DISCONNECT, true);
        TreeDisconnectResponse.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(
            TreeDisconnectResponse::decode(&msg),
            Ok(TreeDisconnectResponse)
        );
        assert_truncations_fail(&msg, TreeDisconnectResponse::decode);
        mutate_never_panics(&msg, TreeDisconnectResponse::decode);

        let mut bad = msg.clone();
        bad.extend_from_slice(&[0, 0]);
        bad[32] = 1;
        assert!(TreeDisconnectResponse::decode(&bad).is_err());
        let mut bad = msg;
        bad[33] = 1;
        bad.push(0);
        assert!(TreeDisconnectResponse::decode(&bad).is_err()); // ByteCount 1
        let mut w = request_writer(command::LOGOFF_ANDX);
        TreeDisconnectRequest.encode(&mut w);
        assert!(TreeDisconnectRequest::decode(w.as_slice()).is_err()); // wrong command
    }
}
