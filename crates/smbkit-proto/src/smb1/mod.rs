//! The SMB1 (CIFS) messages smbkit needs: the header (MS-CIFS §2.2.3.1) and
//! SMB_COM_NEGOTIATE (MS-CIFS §2.2.4.52, MS-SMB §2.2.4.5), used for the
//! multi-protocol negotiate that upgrades to SMB2 and to detect SMB1-only
//! servers.
//!
//! As for SMB2, decoders take one message starting at its 32-byte header and
//! turn any malformed or hostile input into a
//! [`DecodeError`](crate::codec::DecodeError), never a panic.

pub mod andx;
pub mod close;
pub mod create;
pub mod dos_error;
pub mod echo;
pub mod header;
pub mod logoff;
pub mod negotiate;
pub mod notify;
pub mod nt_transact;
pub mod path_ops;
pub mod read;
pub mod session_setup;
pub mod signing;
pub mod trans;
pub mod trans2;
pub mod tree_connect;
pub mod write;

pub use andx::{andx_blocks, is_empty_error, AndxBlock};
pub use close::{CloseRequest, CloseResponse};
pub use create::{NtCreateAndxRequest, NtCreateAndxResponse};
pub use echo::{EchoRequest, EchoResponse};
pub use header::{Header, HEADER_LEN};
pub use logoff::{LogoffRequest, LogoffResponse, TreeDisconnectRequest, TreeDisconnectResponse};
pub use negotiate::{decode_negotiate_request, negotiate_request, NegotiateResponse};
pub use nt_transact::{
    IoctlRequest, NtTransactRequest, QuerySecurityDescRequest, QuerySecurityDescResponse,
};
pub use path_ops::{
    decode_empty_response, CreateDirectoryRequest, DeleteDirectoryRequest, DeleteRequest,
    NtRenameRequest, RenameRequest,
};
pub use read::{read_andx_data_range, ReadAndxRequest, ReadAndxResponse};
pub use session_setup::{
    SessionSetupRequestExtended, SessionSetupRequestNtlm, SessionSetupResponseExtended,
    SessionSetupResponseNtlm,
};
pub use signing::Smb1Signer;
pub use trans::{
    TransAssembler, TransPayload, TransRequest, TransResponseFragment, TransResponsePart,
    TransactNmPipeRequest,
};
pub use trans2::{
    parse_find_file_both_directory_info, parse_find_file_id_both_directory_info, FindClose2Request,
    FindFirst2Request, FindFirst2ResponseParameters, FindNext2Request, FindNext2ResponseParameters,
    QueryFileInformationRequest, QueryFsInformationRequest, QueryPathInformationRequest,
    SetFileInformationRequest, SetPathInformationRequest, SmbQueryFileAllInfo,
};
pub use tree_connect::{TreeConnectRequest, TreeConnectResponse};
pub use write::{
    encode_write_andx, encode_write_andx_header, write_andx_data_range, WriteAndxRequest,
    WriteAndxResponse,
};
