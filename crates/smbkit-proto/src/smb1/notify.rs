//! Directory change notification over SMB1: the NT_TRANSACT_NOTIFY_CHANGE
//! subcommand of SMB_COM_NT_TRANSACT (MS-CIFS §2.2.7.4), and
//! SMB_COM_NT_CANCEL (MS-CIFS §2.2.4.65), which withdraws it.
//!
//! The request is "single shot": it completes once the folder changes and
//! is sent again to go on watching; between two requests on the same FID
//! the server collects the changes in a buffer of MaxParameterCount bytes
//! (MS-CIFS §3.3.5.59.4). The response's NT_Trans_Parameters are a chain
//! of FILE_NOTIFY_INFORMATION entries ([`crate::fscc::notify`]); "If too
//! many files ... have changed since the last time that the command was
//! issued, then zero bytes are returned and STATUS_NOTIFY_ENUM_DIR" —
//! a success with no entries means the same (MS-CIFS §3.2.5.40.3): the
//! client must enumerate the folder again.
//!
//! Unlike SMB2 there is no interim response: the request simply stays
//! unanswered until something changes or it is cancelled.

use super::header::command;
use super::nt_transact::{function, NtTransactRequest};
use crate::codec::{DecodeError, Reader, Writer};
use crate::fscc::notify::{parse_notify_information, FileNotifyInformation};

/// NT_TRANSACT_NOTIFY_CHANGE request (MS-CIFS §2.2.7.4.1).
///
/// WordCount 0x17 ("This field MUST be 0x17"), MaxSetupCount 0,
/// MaxDataCount 0, Function NT_TRANSACT_NOTIFY_CHANGE, SetupCount 4 and
/// Setup = CompletionFilter (4), FID (2), WatchTree (1), Reserved (1); no
/// parameters, no data. MaxParameterCount is the size of the buffer the
/// server collects changes in and may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyChangeRequest {
    /// CompletionFilter ([`crate::fscc::notify::filter`] bits).
    pub completion_filter: u32,
    /// FID of the open folder.
    pub fid: u16,
    /// WatchTree: watch everything below the folder too.
    pub watch_tree: bool,
    /// MaxParameterCount: the most bytes of entries the client accepts.
    pub max_parameter_count: u32,
}

impl NotifyChangeRequest {
    fn to_nt_transact(self) -> NtTransactRequest {
        NtTransactRequest {
            function: function::NOTIFY_CHANGE,
            setup: vec![
                self.completion_filter as u16,
                (self.completion_filter >> 16) as u16,
                self.fid,
                u16::from(self.watch_tree), // WatchTree, then Reserved 0
            ],
            parameters: Vec::new(),
            data: Vec::new(),
            max_setup_count: 0,
            max_parameter_count: self.max_parameter_count,
            max_data_count: 0,
        }
    }

    /// Appends the request to `w` (holding the SMB_COM_NT_TRANSACT
    /// header). Its fields have fixed sizes, so this does not fail in
    /// practice; the `Result` is that of [`NtTransactRequest::encode`].
    pub fn encode(&self, w: &mut Writer) -> Result<(), crate::codec::EncodeError> {
        self.to_nt_transact().encode(w)
    }

    /// Decodes the request (for test servers and round trips): Function
    /// must be NT_TRANSACT_NOTIFY_CHANGE with 4 setup words and neither
    /// parameters nor data; any nonzero WatchTree byte is true.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "NT_TRANSACT_NOTIFY_CHANGE request";
        let t = NtTransactRequest::decode(msg)?;
        match t.setup[..] {
            [lo, hi, fid, tree]
                if t.function == function::NOTIFY_CHANGE
                    && t.parameters.is_empty()
                    && t.data.is_empty() =>
            {
                Ok(NotifyChangeRequest {
                    completion_filter: u32::from(lo) | (u32::from(hi) << 16),
                    fid,
                    watch_tree: tree & 0xFF != 0,
                    max_parameter_count: t.max_parameter_count,
                })
            }
            _ => Err(DecodeError::invalid(
                what,
                format!(
                    "Function {:#06x} with setup {:04x?}, {} parameter and {} data bytes",
                    t.function,
                    t.setup,
                    t.parameters.len(),
                    t.data.len()
                ),
            )),
        }
    }
}

/// The entries of an NT_TRANSACT_NOTIFY_CHANGE response, from its
/// assembled NT_Trans_Parameters (MS-CIFS §2.2.7.4.2: "FileNotifyInformation:
/// An array of FILE_NOTIFY_INFORMATION structures"; "The server does not
/// return any data"). None for an empty block.
pub fn decode_notify_change_parameters(
    parameters: &[u8],
) -> Result<Vec<FileNotifyInformation>, DecodeError> {
    parse_notify_information(parameters)
}

/// SMB_COM_NT_CANCEL request (MS-CIFS §2.2.4.65.1): WordCount 0, ByteCount
/// 0. The header names the request to cancel (its UID, TID, PID and MID);
/// "The server MUST NOT send a corresponding response". When signing is
/// active it takes one sequence number, not two, since nothing answers it
/// (what Windows and Samba count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtCancelRequest;

impl NtCancelRequest {
    /// Appends WordCount 0 and ByteCount 0 to `w` (holding the header).
    pub fn encode(&self, w: &mut Writer) {
        w.u8(0).u16(0);
    }

    /// Decodes the request (for test servers): the header's command must be
    /// SMB_COM_NT_CANCEL, WordCount and ByteCount 0.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SMB_COM_NT_CANCEL request";
        let h = super::header::Header::decode(msg)?;
        if h.command != command::NT_CANCEL {
            return Err(DecodeError::invalid(
                what,
                format!("command {:#04x}", h.command),
            ));
        }
        let mut r = Reader::at(msg, super::header::HEADER_LEN, what)?;
        let words = r.u8(what)?;
        let bytes = r.u16(what)?;
        if words != 0 || bytes != 0 {
            return Err(DecodeError::invalid(
                what,
                format!("WordCount {words}, ByteCount {bytes}"),
            ));
        }
        Ok(NtCancelRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fscc::notify::{encode_notify_information, filter, FileAction};
    use crate::smb1::trans::testutil::{request_writer, response_writer};
    use crate::smb1::trans::{TransAssembler, TransResponseFragment, TransResponsePart};
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics};
    use crate::types::NtStatus;

    fn request() -> NotifyChangeRequest {
        NotifyChangeRequest {
            completion_filter: filter::NAME | filter::SIZE | filter::STREAM_WRITE,
            fid: 0x4005,
            watch_tree: true,
            max_parameter_count: 0x1_0000,
        }
    }

    #[test]
    fn request_matches_hand_computed_bytes() {
        let mut w = request_writer(command::NT_TRANSACT);
        request().encode(&mut w).unwrap();
        let msg = w.into_vec();
        let mut expected = msg[..32].to_vec();
        expected.extend_from_slice(&[
            0x17, // WordCount 23 = 19 + 4 setup words
            0x00, // MaxSetupCount
            0x00, 0x00, // Reserved1
            0x00, 0x00, 0x00, 0x00, // TotalParameterCount
            0x00, 0x00, 0x00, 0x00, // TotalDataCount
            0x00, 0x00, 0x01, 0x00, // MaxParameterCount 65536
            0x00, 0x00, 0x00, 0x00, // MaxDataCount 0
            0x00, 0x00, 0x00, 0x00, // ParameterCount
            0x54, 0x00, 0x00, 0x00, // ParameterOffset 84 (after Pad1)
            0x00, 0x00, 0x00, 0x00, // DataCount
            0x54, 0x00, 0x00, 0x00, // DataOffset 84
            0x04, // SetupCount
            0x04, 0x00, // Function NT_TRANSACT_NOTIFY_CHANGE
            0x0B, 0x08, 0x00, 0x00, // CompletionFilter NAME|SIZE|STREAM_WRITE
            0x05, 0x40, // FID
            0x01, // WatchTree
            0x00, // Reserved
            0x03, 0x00, // ByteCount: Pad1 only
            0x00, 0x00, 0x00, // Pad1 to 84
        ]);
        assert_eq!(msg, expected);
        assert_eq!(NotifyChangeRequest::decode(&msg).unwrap(), request());
        assert_truncations_fail(&msg, NotifyChangeRequest::decode);
        mutate_never_panics(&msg, NotifyChangeRequest::decode);
        // Another subcommand is not a notify.
        let mut bad = msg.clone();
        bad[69] = 0x02;
        assert!(NotifyChangeRequest::decode(&bad).is_err());
        let not_tree = NotifyChangeRequest {
            watch_tree: false,
            ..request()
        };
        let mut w = request_writer(command::NT_TRANSACT);
        not_tree.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg[77], 0);
        assert_eq!(NotifyChangeRequest::decode(&msg).unwrap(), not_tree);
    }

    fn assemble(msg: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let part = TransResponsePart::decode(msg)?;
        let (p, _) = TransAssembler::new()
            .add(msg, &part)?
            .ok_or(DecodeError::invalid("response", "incomplete"))?;
        Ok(p)
    }

    #[test]
    fn responses_with_entries_and_without() {
        let entries = vec![
            FileNotifyInformation {
                action: FileAction::ADDED,
                file_name: "new folder".into(),
            },
            FileNotifyInformation {
                action: FileAction::REMOVED,
                file_name: "sub\\gone.txt".into(),
            },
        ];
        let params = encode_notify_information(&entries).unwrap();
        let mut w = response_writer(command::NT_TRANSACT, NtStatus::SUCCESS, true);
        TransResponseFragment::whole(&[], &params, &[])
            .unwrap()
            .encode_nt(&mut w)
            .unwrap();
        let msg = w.into_vec();
        let p = assemble(&msg).unwrap();
        assert_eq!(decode_notify_change_parameters(&p).unwrap(), entries);
        assert_truncations_fail(&msg, assemble);
        mutate_never_panics(&msg, |m| decode_notify_change_parameters(&assemble(m)?));
        // The overflow answers: STATUS_NOTIFY_ENUM_DIR, or a success with
        // no parameters; both decode to no entries.
        for status in [NtStatus::NOTIFY_ENUM_DIR, NtStatus::SUCCESS] {
            let mut w = response_writer(command::NT_TRANSACT, status, true);
            TransResponseFragment::whole(&[], &[], &[])
                .unwrap()
                .encode_nt(&mut w)
                .unwrap();
            let msg = w.into_vec();
            assert!(decode_notify_change_parameters(&assemble(&msg).unwrap())
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn nt_cancel_is_an_empty_message() {
        let mut w = request_writer(command::NT_CANCEL);
        NtCancelRequest.encode(&mut w);
        let msg = w.into_vec();
        assert_eq!(msg.len(), 35);
        assert_eq!(msg[4], 0xA4);
        assert_eq!(&msg[32..], &[0, 0, 0]);
        assert_eq!(NtCancelRequest::decode(&msg).unwrap(), NtCancelRequest);
        assert_truncations_fail(&msg, NtCancelRequest::decode);
        let mut bad = msg.clone();
        bad[32] = 1;
        assert!(NtCancelRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[4] = command::NT_TRANSACT;
        assert!(NtCancelRequest::decode(&bad).is_err());
    }
}
