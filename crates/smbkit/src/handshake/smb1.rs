//! The SMB1 (NT LM 0.12) session: the session setup (SPNEGO/NTLMSSP or
//! NTLM in the password fields, and signing) run by the SMB1 state machine
//! over the stream, then the driver and the read and write sizes of the
//! connection.

use smbkit_proto::conn::smb1::Smb1Setup;
use smbkit_proto::conn::smb2::handshake::SigningPolicy;
use smbkit_proto::conn::{Smb1Config, Smb1Connection};
use smbkit_proto::ntlm::{Credentials, NtlmOptions};
use smbkit_proto::smb1::header::flags2;
use smbkit_proto::smb1::negotiate::{capabilities as caps, NegotiateResponse};
use smbkit_proto::Dialect;
use tokio::time::Instant;

use crate::driver::smb1::Smb1Shared;
use crate::error::Error;
use crate::factory::{SignOptions, SmbProtocolFactory};
use crate::types::ServerInfo;

/// NEGOTIATE SecurityMode bits (MS-CIFS §2.2.4.52.2).
const SECURITY_SIGNATURES_REQUIRED: u8 = 0x08;

/// Establishes the session over a stream on which NEGOTIATE chose
/// NT LM 0.12.
pub(crate) async fn connect(
    f: &SmbProtocolFactory,
    stream: crate::transport::BoxStream,
    neg: NegotiateResponse,
    deadline: Instant,
    kerberos: Option<smbkit_proto::kerberos::ServiceTicket>,
) -> Result<(crate::family::Family, ServerInfo), Error> {
    if f.encryption == crate::factory::Encryption::Required {
        return Err(Error::Unsupported(
            crate::error::Unsupported::EncryptionRequired(crate::error::NoEncryption::Smb1),
        ));
    }
    let extended = neg.capabilities & caps::EXTENDED_SECURITY != 0;
    let server_requires = neg.security_mode & SECURITY_SIGNATURES_REQUIRED != 0;
    let flags2 = flags2::UNICODE
        | flags2::NT_STATUS
        | flags2::LONG_NAMES
        | flags2::IS_LONG_NAME
        | flags2::EAS
        | if extended {
            flags2::EXTENDED_SECURITY
        } else {
            0
        };
    let kerberos_principal = kerberos
        .as_ref()
        .filter(|_| extended)
        .map(|t| t.client.to_string());
    let now = Instant::now();
    let setup = Smb1Setup {
        negotiate: neg.clone(),
        credentials: Credentials {
            user: f.username.clone(),
            domain: f.domain.clone(),
            password: f.password.get(),
            workstation: f.my_name.clone(),
        },
        ntlm: NtlmOptions {
            use_ntlm_v2: f.use_ntlm_v2,
            client_time: super::filetime_now(),
            ..NtlmOptions::default()
        },
        kerberos,
        signing: match f.sign_options {
            SignOptions::Never => SigningPolicy::Never,
            SignOptions::WhenSupported => SigningPolicy::WhenSupported,
            SignOptions::WhenRequired => SigningPolicy::WhenRequired,
        },
        max_buffer_size: f
            .tuning
            .smb1_max_buffer
            .unwrap_or(crate::family::smb1::CLIENT_MAX_BUFFER),
        limit: deadline.saturating_duration_since(now),
    };
    let config = Smb1Config {
        max_mpx: neg.max_mpx_count,
        max_buffer: neg.max_buffer_size,
        flags2,
        first_mid: 1,
    };
    // The session setup runs in the SMB1 state machine, pumped over the
    // stream; the driver takes the stream over once it is done.
    let mut core = Smb1Connection::with_session_setup(config, setup, now.into_std());
    let mut stream = stream;
    let session = super::pump_smb1(&mut core, &mut stream).await?;
    core.set_liveness(f.liveness, tokio::time::Instant::now().into_std());
    let (rd, wr) = crate::transport::split(stream);
    let (shared, tasks) = Smb1Shared::start(core, rd, wr);
    let info = ServerInfo {
        dialect: Dialect::NT_LM_0_12,
        server_guid: neg.server_guid.unwrap_or_default(),
        max_read_size: max_read(&neg, f.direct_tcp, shared.signing()),
        max_write_size: max_write(&neg),
        max_transact_size: neg.max_buffer_size,
        system_time: neg.system_time,
        server_start_time: 0,
        capabilities: neg.capabilities,
        signing_required_by_server: server_requires,
        signing: shared.signing(),
        signing_algorithm: None,
        cipher: None,
        encrypted: false,
        is_guest: session.guest,
        is_anonymous: session.anonymous,
        kerberos_principal: kerberos_principal.clone(),
    };
    tracing::debug!(
        ?info,
        security_mode = neg.security_mode,
        "SMB1 session established"
    );
    let family =
        crate::family::Family::Smb1(crate::family::smb1::Smb1::new(shared, tasks, info.clone()));
    Ok((family, info))
}

/// The largest SMB message a NetBIOS session message carries: its length
/// field is 17 bits (RFC 1002 §4.3.1: 16 bits and the E bit of the flags).
const NBSS_MAX_MESSAGE: u32 = 0x1_FFFF;
/// The largest SMB message of the direct TCP transport: a 24-bit length
/// (MS-SMB §2.1, MS-SMB2 §2.1).
const DIRECT_TCP_MAX_MESSAGE: u32 = 0xFF_FFFF;
/// What precedes the data of a READ_ANDX response (MS-SMB §2.2.4.2.2): the
/// 32-byte header, WordCount, 12 words, ByteCount and one pad byte. Samba
/// subtracts the same 60 bytes (`MIN_SMB_SIZE + VWV(12) + 1` in
/// `calc_read_size`).
const READ_RESPONSE_OVERHEAD: u32 = 32 + 1 + 24 + 2 + 1;
/// What precedes the data of a WRITE_ANDX request (MS-SMB §2.2.4.3.1):
/// header, WordCount, 14 words, ByteCount, Pad (the DataOffset of 64 that
/// `encode_write_andx_header` writes).
const WRITE_REQUEST_OVERHEAD: u32 = 32 + 1 + 28 + 2 + 1;
/// READ_ANDX size over direct TCP on an unsigned session. A response may
/// be up to [`DIRECT_TCP_MAX_MESSAGE`], and Samba answers reads of up to
/// 0xFFFFFF − 60 bytes in one message there (`calc_max_read_pdu`: 0xFFFFFF
/// without signing when `smb1 unix extensions` is on, its default); larger
/// requests would only add memory: the window keeps 8 of them in flight.
/// A server that sends less is read on from where its data ended, and
/// later requests ask for what it sent.
const DIRECT_TCP_READ: u32 = 1024 * 1024;

/// Largest READ_ANDX data smbkit asks for (MS-SMB §3.2.4.4.1).
///
/// With CAP_LARGE_READX: over NetBIOS, what fits a 17-bit session message
/// (0x1FFFF − 60 = 131011 bytes); over direct TCP, [`DIRECT_TCP_READ`],
/// except on signed sessions, where Samba answers at most 131011 bytes
/// whatever the framing (`calc_max_read_pdu` returns 0x1FFFF when signing
/// is active). Without it, the response must fit both MaxBufferSizes.
fn max_read(neg: &NegotiateResponse, direct_tcp: bool, signing: bool) -> u32 {
    if neg.capabilities & caps::LARGE_READX != 0 {
        if direct_tcp && !signing {
            DIRECT_TCP_READ.min(DIRECT_TCP_MAX_MESSAGE - READ_RESPONSE_OVERHEAD)
        } else {
            NBSS_MAX_MESSAGE - READ_RESPONSE_OVERHEAD
        }
    } else {
        neg.max_buffer_size
            .min(u32::from(crate::family::smb1::CLIENT_MAX_BUFFER))
            .saturating_sub(READ_RESPONSE_OVERHEAD)
            .max(1024)
    }
}

/// Largest WRITE_ANDX data smbkit sends (MS-SMB §2.2.4.3.1, §3.3.5.8).
///
/// With CAP_LARGE_WRITEX: 0x1FFFF − 64 = 131007 bytes, whatever the
/// framing. Samba's smbd reads the length of every incoming SMB1 message as
/// 17 bits (`smb_len`, i.e. `smb_len_nbt`, in
/// `read_smb_length_return_keepalive`), over direct TCP too, and
/// `reply_write_and_X` then takes no more data than that length holds: a
/// 1 MiB WRITE_ANDX reads as a 64-byte message asking to write 0 bytes,
/// and its data as garbage frames that end the connection. (Samba reads
/// 24-bit lengths only on its receivefile path, off by default.) Without
/// CAP_LARGE_WRITEX, the request must fit the server's MaxBufferSize and
/// DataLength alone.
fn max_write(neg: &NegotiateResponse) -> u32 {
    if neg.capabilities & caps::LARGE_WRITEX != 0 {
        NBSS_MAX_MESSAGE - WRITE_REQUEST_OVERHEAD
    } else {
        neg.max_buffer_size
            .saturating_sub(WRITE_REQUEST_OVERHEAD)
            .clamp(1024, 0xFFFF)
    }
}
