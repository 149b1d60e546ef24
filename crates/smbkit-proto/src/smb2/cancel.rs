//! SMB2 CANCEL request (MS-SMB2 §2.2.30). CANCEL has no response.

use super::{decode_empty_body, encode_empty_body};
use crate::codec::{DecodeError, Writer};
use crate::types::Command;

/// SMB2 CANCEL Request (MS-SMB2 §2.2.30): StructureSize ("The client MUST
/// set this field to 4") and Reserved. The header carries the MessageId (or,
/// for an asynchronous request, the AsyncId) of the request to cancel, and
/// "the client MUST NOT" consume a credit for it (§3.2.4.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelRequest;

impl CancelRequest {
    /// Appends the 4-byte body to `w` (which holds the SMB2 header).
    pub fn encode(&self, w: &mut Writer) {
        encode_empty_body(w);
    }

    /// Decodes a CANCEL request; StructureSize must be 4.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        decode_empty_body(msg, Command::CANCEL, "SMB2 CANCEL request")?;
        Ok(CancelRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::testutil::{assert_truncations_fail, request_writer};

    #[test]
    fn round_trip_and_truncation() {
        let mut w = request_writer(Command::CANCEL);
        CancelRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(CancelRequest::decode(&msg).unwrap(), CancelRequest);
        assert_truncations_fail(&msg, |m| CancelRequest::decode(m).map(|_| ()));
    }
}
