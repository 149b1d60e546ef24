//! SMB_COM_ECHO (0x2B; MS-CIFS §2.2.4.39).

use super::andx::{expect_word_count, first_block, words_reader};
use super::header::command;
use crate::codec::{wire_u16, EncodeError};
use crate::codec::{DecodeError, Writer};

/// SMB_COM_ECHO request (MS-CIFS §2.2.4.39.1): WordCount 1 (EchoCount),
/// then Data ("up to 64 KB" of bytes the server echoes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoRequest {
    /// EchoCount: how many echo responses the server sends (one per
    /// response; 0 means none).
    pub echo_count: u16,
    /// Data to echo.
    pub data: Vec<u8>,
}

/// SMB_COM_ECHO response (MS-CIFS §2.2.4.39.2): WordCount 1
/// (SequenceNumber), then the echoed Data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoResponse {
    /// SequenceNumber: 1 for the first response, counting up to EchoCount.
    pub sequence_number: u16,
    /// The echoed data.
    pub data: Vec<u8>,
}

fn encode_echo(w: &mut Writer, word: u16, data: &[u8]) -> Result<(), EncodeError> {
    let byte_count = wire_u16(data.len(), "SMB_COM_ECHO ByteCount")?;
    w.u8(1).u16(word).u16(byte_count).bytes(data);
    Ok(())
}

fn decode_echo(msg: &[u8], what: &'static str) -> Result<(u16, Vec<u8>), DecodeError> {
    let (_, block) = first_block(msg, command::ECHO, what)?;
    expect_word_count(&block, &[1], what)?;
    let word = words_reader(msg, &block).u16(what)?;
    Ok((word, msg[block.bytes].to_vec()))
}

impl EchoRequest {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0.
    ///
    /// # Errors
    ///
    /// If the data exceeds the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_echo(w, self.echo_count, &self.data)
    }

    /// Decodes the request (WordCount "MUST be 0x01"; Data is the ByteCount
    /// bytes).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let (echo_count, data) = decode_echo(msg, "SMB_COM_ECHO request")?;
        Ok(EchoRequest { echo_count, data })
    }
}

impl EchoResponse {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0.
    ///
    /// # Errors
    ///
    /// If the data exceeds the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        encode_echo(w, self.sequence_number, &self.data)
    }

    /// Decodes the response (WordCount "MUST be 0x01"; Data is the
    /// ByteCount bytes).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let (sequence_number, data) = decode_echo(msg, "SMB_COM_ECHO response")?;
        Ok(EchoResponse {
            sequence_number,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    #[test]
    fn request_bytes_and_round_trip() {
        let req = EchoRequest {
            echo_count: 1,
            data: b"ping".to_vec(),
        };
        let mut w = request_writer(command::ECHO);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(
            &msg[32..],
            &[0x01, 0x01, 0x00, 0x04, 0x00, b'p', b'i', b'n', b'g']
        );
        assert_eq!(EchoRequest::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, EchoRequest::decode);
        mutate_never_panics(&msg, EchoRequest::decode);
    }

    #[test]
    fn response_decodes_and_round_trips() {
        let mut w = response_writer(command::ECHO, true);
        w.bytes(&[0x01, 0x01, 0x00, 0x04, 0x00, b'p', b'i', b'n', b'g']);
        let msg = w.into_vec();
        let r = EchoResponse::decode(&msg).unwrap();
        assert_eq!(r.sequence_number, 1);
        assert_eq!(r.data, b"ping");
        let mut w = response_writer(command::ECHO, true);
        r.encode(&mut w).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, EchoResponse::decode);
        mutate_never_panics(&msg, EchoResponse::decode);
        let mut bad = msg.clone();
        bad[32] = 0;
        assert!(EchoResponse::decode(&bad).is_err());
        let mut bad = msg;
        bad[35] = 5; // ByteCount past the end
        assert!(EchoResponse::decode(&bad).is_err());
    }

    #[test]
    fn data_limit() {
        use crate::codec::testutil::assert_too_large;
        let req = |n: usize| EchoRequest {
            echo_count: 1,
            data: vec![0xEE; n],
        };
        let mut w = request_writer(command::ECHO);
        req(65535).encode(&mut w).unwrap();
        assert_eq!(EchoRequest::decode(w.as_slice()).unwrap().data.len(), 65535);
        let mut w = request_writer(command::ECHO);
        assert_too_large(
            req(65536).encode(&mut w),
            "SMB_COM_ECHO ByteCount",
            65536,
            65535,
        );
        let resp = EchoResponse {
            sequence_number: 1,
            data: vec![0xEE; 65536],
        };
        let mut w = response_writer(command::ECHO, true);
        assert_too_large(resp.encode(&mut w), "SMB_COM_ECHO ByteCount", 65536, 65535);
    }
}
