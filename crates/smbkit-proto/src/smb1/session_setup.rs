//! SMB_COM_SESSION_SETUP_ANDX (0x73): the NT LM 0.12 form with extended
//! security (MS-SMB §2.2.4.6) and without it (MS-CIFS §2.2.4.53).

use super::andx::{
    begin_bytes, end_bytes, expect_word_count, first_block, put_andx_none, put_string, read_string,
    read_string_lossy, wire_u16, words_reader,
};
use super::header::{command, flags2};
use super::signing::Smb1Signer;
use crate::codec::{DecodeError, EncodeError, Writer};
use crate::ntlm;
use zeroize::Zeroizing;

/// Action bit SMB_SETUP_GUEST (MS-CIFS §2.2.4.53.2): set when the server
/// logged the client on as guest rather than as the user it authenticated.
pub const ACTION_GUEST: u16 = 0x0001;
/// Action bit SMB_SETUP_USE_LANMAN_KEY (MS-CIFS §2.2.4.53.2): the LM session
/// key is used for signing.
pub const ACTION_USE_LANMAN_KEY: u16 = 0x0002;

/// SMB_COM_SESSION_SETUP_ANDX request with extended security
/// (MS-SMB §2.2.4.6.1, WordCount 12).
///
/// Words: AndX (4), MaxBufferSize (2), MaxMpxCount (2), VcNumber (2),
/// SessionKey (4), SecurityBlobLength (2), Reserved (4), Capabilities (4).
/// Bytes: SecurityBlob, then NativeOS and NativeLanMan as SMB_STRINGs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequestExtended {
    /// MaxBufferSize: the largest message the client accepts.
    pub max_buffer_size: u16,
    /// MaxMpxCount: outstanding requests the client will have.
    pub max_mpx_count: u16,
    /// VcNumber: the virtual circuit number (0 resets the server's other
    /// connections from this client).
    pub vc_number: u16,
    /// SessionKey: echoes the SessionKey of the NEGOTIATE response.
    pub session_key: u32,
    /// Capabilities: client CAP_* bits, including CAP_EXTENDED_SECURITY
    /// (see [`capabilities`](super::negotiate::capabilities)).
    pub capabilities: u32,
    /// SecurityBlob: the GSS (SPNEGO) token.
    pub security_blob: Vec<u8>,
    /// NativeOS.
    pub native_os: String,
    /// NativeLanMan.
    pub native_lanman: String,
}

impl SessionSetupRequestExtended {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0 (whose Flags2 must have UNICODE). The chain ends
    /// here (AndXCommand 0xFF); NativeOS and NativeLanMan are Unicode,
    /// aligned to 2 bytes from the header start.
    ///
    /// # Errors
    ///
    /// If the blob and strings exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let blob_len = wire_u16(
            self.security_blob.len(),
            "SESSION_SETUP_ANDX request SecurityBlobLength",
        )?;
        w.u8(12);
        put_andx_none(w);
        w.u16(self.max_buffer_size)
            .u16(self.max_mpx_count)
            .u16(self.vc_number)
            .u32(self.session_key)
            .u16(blob_len)
            .u32(0)
            .u32(self.capabilities);
        let bc = begin_bytes(w);
        w.bytes(&self.security_blob);
        put_string(w, &self.native_os, true);
        put_string(w, &self.native_lanman, true);
        end_bytes(w, bc, "SESSION_SETUP_ANDX request ByteCount")
    }

    /// Decodes the request (WordCount "MUST be 0x0C"). The blob must fit in
    /// ByteCount; the strings follow the header's UNICODE flag and are
    /// decoded for display (missing ones are empty).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SESSION_SETUP_ANDX request (extended security)";
        let (header, block) = first_block(msg, command::SESSION_SETUP_ANDX, what)?;
        expect_word_count(&block, &[12], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let max_buffer_size = r.u16(what)?;
        let max_mpx_count = r.u16(what)?;
        let vc_number = r.u16(what)?;
        let session_key = r.u32(what)?;
        let blob_len = usize::from(r.u16(what)?);
        r.skip(4, what)?; // Reserved
        let capabilities = r.u32(what)?;
        let mut b = super::andx::bytes_reader(msg, &block, what)?;
        let security_blob = b
            .take(blob_len, "SESSION_SETUP_ANDX SecurityBlob")?
            .to_vec();
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let native_os = read_string_lossy(&mut b, unicode);
        let native_lanman = read_string_lossy(&mut b, unicode);
        Ok(SessionSetupRequestExtended {
            max_buffer_size,
            max_mpx_count,
            vc_number,
            session_key,
            capabilities,
            security_blob,
            native_os,
            native_lanman,
        })
    }
}

/// SMB_COM_SESSION_SETUP_ANDX request without extended security
/// (MS-CIFS §2.2.4.53.1, WordCount 13), carrying LM/NTLM challenge
/// responses.
///
/// Words: AndX (4), MaxBufferSize (2), MaxMpxCount (2), VcNumber (2),
/// SessionKey (4), OEMPasswordLen (2), UnicodePasswordLen (2), Reserved
/// (4), Capabilities (4). Bytes: OEMPassword, UnicodePassword, Pad,
/// AccountName, PrimaryDomain, NativeOS, NativeLanMan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequestNtlm {
    /// MaxBufferSize.
    pub max_buffer_size: u16,
    /// MaxMpxCount.
    pub max_mpx_count: u16,
    /// VcNumber.
    pub vc_number: u16,
    /// SessionKey from the NEGOTIATE response.
    pub session_key: u32,
    /// Capabilities (without CAP_EXTENDED_SECURITY).
    pub capabilities: u32,
    /// OEMPassword: the LM or LMv2 response (24 bytes), or empty.
    pub oem_password: Vec<u8>,
    /// UnicodePassword: the NT (24 bytes) or NTv2 response, or empty.
    pub unicode_password: Vec<u8>,
    /// AccountName.
    pub account_name: String,
    /// PrimaryDomain.
    pub primary_domain: String,
    /// NativeOS.
    pub native_os: String,
    /// NativeLanMan.
    pub native_lanman: String,
}

impl SessionSetupRequestNtlm {
    /// Appends the request's blocks to `w`, which holds exactly the SMB1
    /// header at position 0 (whose Flags2 must have UNICODE). The strings
    /// are Unicode, preceded by a pad byte when the passwords end at an odd
    /// offset from the header start; the chain ends here.
    ///
    /// # Errors
    ///
    /// If a password or the data block exceeds 65535 bytes.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let oem_len = wire_u16(
            self.oem_password.len(),
            "SESSION_SETUP_ANDX request OEMPasswordLen",
        )?;
        let uni_len = wire_u16(
            self.unicode_password.len(),
            "SESSION_SETUP_ANDX request UnicodePasswordLen",
        )?;
        w.u8(13);
        put_andx_none(w);
        w.u16(self.max_buffer_size)
            .u16(self.max_mpx_count)
            .u16(self.vc_number)
            .u32(self.session_key)
            .u16(oem_len)
            .u16(uni_len)
            .u32(0)
            .u32(self.capabilities);
        let bc = begin_bytes(w);
        w.bytes(&self.oem_password).bytes(&self.unicode_password);
        for s in [
            &self.account_name,
            &self.primary_domain,
            &self.native_os,
            &self.native_lanman,
        ] {
            put_string(w, s, true);
        }
        end_bytes(w, bc, "SESSION_SETUP_ANDX request ByteCount")
    }

    /// Decodes the request (WordCount "MUST be 0x0D"). Both passwords must
    /// fit in ByteCount. AccountName and PrimaryDomain must be valid in the
    /// header's character set (UTF-16 when Flags2 has UNICODE); NativeOS and
    /// NativeLanMan are decoded for display. Missing strings are empty.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SESSION_SETUP_ANDX request (NT LM 0.12)";
        let (header, block) = first_block(msg, command::SESSION_SETUP_ANDX, what)?;
        expect_word_count(&block, &[13], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let max_buffer_size = r.u16(what)?;
        let max_mpx_count = r.u16(what)?;
        let vc_number = r.u16(what)?;
        let session_key = r.u32(what)?;
        let oem_len = usize::from(r.u16(what)?);
        let uni_len = usize::from(r.u16(what)?);
        r.skip(4, what)?; // Reserved
        let capabilities = r.u32(what)?;
        let mut b = super::andx::bytes_reader(msg, &block, what)?;
        let oem_password = b.take(oem_len, "SESSION_SETUP_ANDX OEMPassword")?.to_vec();
        let unicode_password = b
            .take(uni_len, "SESSION_SETUP_ANDX UnicodePassword")?
            .to_vec();
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let account_name = read_string(&mut b, unicode, "SESSION_SETUP_ANDX AccountName")?;
        let primary_domain = read_string(&mut b, unicode, "SESSION_SETUP_ANDX PrimaryDomain")?;
        let native_os = read_string_lossy(&mut b, unicode);
        let native_lanman = read_string_lossy(&mut b, unicode);
        Ok(SessionSetupRequestNtlm {
            max_buffer_size,
            max_mpx_count,
            vc_number,
            session_key,
            capabilities,
            oem_password,
            unicode_password,
            account_name,
            primary_domain,
            native_os,
            native_lanman,
        })
    }
}

/// SMB_COM_SESSION_SETUP_ANDX response with extended security
/// (MS-SMB §2.2.4.6.2, WordCount 4).
///
/// Words: AndX (4), Action (2), SecurityBlobLength (2). Bytes:
/// SecurityBlob, then NativeOS and NativeLanMan as SMB_STRINGs. The UID the
/// server assigned is in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponseExtended {
    /// Action (see [`ACTION_GUEST`]).
    pub action: u16,
    /// SecurityBlob: the server's GSS (SPNEGO) token, possibly empty.
    pub security_blob: Vec<u8>,
    /// NativeOS (display only).
    pub native_os: String,
    /// NativeLanMan (display only).
    pub native_lanman: String,
}

impl SessionSetupResponseExtended {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0; `unicode` must match that header's
    /// [`flags2::UNICODE`]. Unicode strings are aligned to 2 bytes from the
    /// header start, as Windows and Samba send them.
    ///
    /// # Errors
    ///
    /// If the blob and strings exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer, unicode: bool) -> Result<(), EncodeError> {
        let blob_len = wire_u16(
            self.security_blob.len(),
            "SESSION_SETUP_ANDX response SecurityBlobLength",
        )?;
        w.u8(4);
        put_andx_none(w);
        w.u16(self.action).u16(blob_len);
        let bc = begin_bytes(w);
        w.bytes(&self.security_blob);
        put_string(w, &self.native_os, unicode);
        put_string(w, &self.native_lanman, unicode);
        end_bytes(w, bc, "SESSION_SETUP_ANDX response ByteCount")
    }

    /// Decodes the response (WordCount 4). Only the first block is read (an
    /// AndX follow-on is left to [`andx_blocks`](super::andx::andx_blocks)).
    /// SecurityBlobLength must fit in ByteCount; the strings follow the
    /// header's UNICODE flag, are decoded lossily and may be absent. An error
    /// response with WordCount 0 is rejected: check the header's Status
    /// first.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SESSION_SETUP_ANDX response (extended security)";
        let (header, block) = first_block(msg, command::SESSION_SETUP_ANDX, what)?;
        expect_word_count(&block, &[4], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let action = r.u16(what)?;
        let blob_len = usize::from(r.u16(what)?);
        let mut b = super::andx::bytes_reader(msg, &block, what)?;
        let security_blob = b
            .take(blob_len, "SESSION_SETUP_ANDX SecurityBlob")?
            .to_vec();
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let native_os = read_string_lossy(&mut b, unicode);
        let native_lanman = read_string_lossy(&mut b, unicode);
        Ok(SessionSetupResponseExtended {
            action,
            security_blob,
            native_os,
            native_lanman,
        })
    }
}

/// SMB_COM_SESSION_SETUP_ANDX response without extended security
/// (MS-CIFS §2.2.4.53.2, WordCount 3).
///
/// Words: AndX (4), Action (2). Bytes: Pad, NativeOS, NativeLanMan,
/// PrimaryDomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponseNtlm {
    /// Action (see [`ACTION_GUEST`]).
    pub action: u16,
    /// NativeOS (display only).
    pub native_os: String,
    /// NativeLanMan (display only).
    pub native_lanman: String,
    /// PrimaryDomain (display only).
    pub primary_domain: String,
}

impl SessionSetupResponseNtlm {
    /// Appends the response's blocks to `w`, which holds exactly the SMB1
    /// header at position 0; `unicode` must match that header's
    /// [`flags2::UNICODE`]. The Unicode strings start with a pad byte (the
    /// data block begins at the odd offset 41).
    ///
    /// # Errors
    ///
    /// If the strings exceed the 65535 bytes of ByteCount.
    pub fn encode(&self, w: &mut Writer, unicode: bool) -> Result<(), EncodeError> {
        w.u8(3);
        put_andx_none(w);
        w.u16(self.action);
        let bc = begin_bytes(w);
        put_string(w, &self.native_os, unicode);
        put_string(w, &self.native_lanman, unicode);
        put_string(w, &self.primary_domain, unicode);
        end_bytes(w, bc, "SESSION_SETUP_ANDX response ByteCount")
    }

    /// Decodes the response (WordCount "MUST be 0x03"); the strings follow
    /// the header's UNICODE flag, are decoded lossily and may be absent.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let what = "SESSION_SETUP_ANDX response (NT LM 0.12)";
        let (header, block) = first_block(msg, command::SESSION_SETUP_ANDX, what)?;
        expect_word_count(&block, &[3], what)?;
        let mut r = words_reader(msg, &block);
        r.skip(4, what)?; // AndX
        let action = r.u16(what)?;
        let mut b = super::andx::bytes_reader(msg, &block, what)?;
        let unicode = header.flags2 & flags2::UNICODE != 0;
        let native_os = read_string_lossy(&mut b, unicode);
        let native_lanman = read_string_lossy(&mut b, unicode);
        let primary_domain = read_string_lossy(&mut b, unicode);
        Ok(SessionSetupResponseNtlm {
            action,
            native_os,
            native_lanman,
            primary_domain,
        })
    }
}

/// The credentials of a SESSION_SETUP_ANDX without extended security
/// (MS-CIFS §2.2.4.53.1, §3.2.4.2.4): the challenge responses that go in
/// OEMPassword and UnicodePassword, and the session key they establish.
///
/// Signing such a session uses the MAC key that Samba's
/// `smb_signing_activate` and MS-CIFS §3.1.4.1 concatenate: the NT session
/// key (MS-CIFS §3.2.5.3: "the NT Session Key MUST be used" unless the
/// server sets SMB_SETUP_USE_LANMAN_KEY after an LM response) followed by
/// the NT challenge response the session was authenticated with
/// ([`PlainLogon::signer`]). The session key is
///
/// * for NTLM (v1): MD4(NTOWFv1), the "user session key" (MS-NLMP §3.3.1
///   SessionBaseKey);
/// * for NTLMv2: HMAC_MD5(NTOWFv2, NTProofStr) (MS-NLMP §3.3.2
///   SessionBaseKey), with the whole NTLMv2 response after it in the MAC
///   key.
///
/// The key is zeroed on drop and never printed.
pub struct PlainLogon {
    /// OEMPassword: the LM (NTLM) or LMv2 (NTLMv2) response.
    pub oem_password: Vec<u8>,
    /// UnicodePassword: the NT (NTLM) or NTLMv2 response.
    pub unicode_password: Vec<u8>,
    session_key: Zeroizing<[u8; 16]>,
}

impl std::fmt::Debug for PlainLogon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainLogon")
            .field("oem_password_len", &self.oem_password.len())
            .field("unicode_password_len", &self.unicode_password.len())
            .finish_non_exhaustive()
    }
}

impl PlainLogon {
    /// NTLM (v1) responses to the NEGOTIATE `challenge` (MS-NLMP §3.3.1):
    /// DESL(LMOWFv1, challenge) and DESL(NTOWFv1, challenge).
    pub fn ntlm_v1(password: &str, challenge: &[u8; 8]) -> Self {
        let nt_key = Zeroizing::new(ntlm::nt_owf_v1(password));
        let lm_key = Zeroizing::new(ntlm::lm_owf_v1(password));
        PlainLogon {
            oem_password: ntlm::ntlmv1_response(&lm_key, challenge).to_vec(),
            unicode_password: ntlm::ntlmv1_response(&nt_key, challenge).to_vec(),
            session_key: Zeroizing::new(ntlm::session_base_key_v1(&nt_key)),
        }
    }

    /// NTLMv2 responses to the NEGOTIATE `challenge` (MS-NLMP §3.3.2) with
    /// the client's 8-byte nonce and FILETIME `timestamp`, and no AV pairs
    /// (there is no CHALLENGE_MESSAGE to take them from): the LMv2 response
    /// and the NTLMv2 response.
    pub fn ntlm_v2(
        password: &str,
        user: &str,
        domain: &str,
        challenge: &[u8; 8],
        client_challenge: &[u8; 8],
        timestamp: u64,
    ) -> Self {
        let key = Zeroizing::new(ntlm::nt_owf_v2(password, user, domain));
        Self::ntlm_v2_with(&key, challenge, client_challenge, timestamp, &[])
    }

    fn ntlm_v2_with(
        key: &[u8; 16],
        challenge: &[u8; 8],
        client_challenge: &[u8; 8],
        timestamp: u64,
        target_info: &[u8],
    ) -> Self {
        let (nt, lm, session_key) =
            ntlm::ntlmv2_response(key, challenge, client_challenge, timestamp, target_info);
        PlainLogon {
            oem_password: lm.to_vec(),
            unicode_password: nt,
            session_key: Zeroizing::new(session_key),
        }
    }

    /// The NT session key (see the [type documentation](Self)).
    pub fn session_key(&self) -> &[u8; 16] {
        &self.session_key
    }

    /// The signer of the session: MAC key = session key || NT response
    /// (MS-CIFS §3.1.4.1, Samba's `smb_signing_activate`).
    pub fn signer(&self) -> Smb1Signer {
        Smb1Signer::with_response(&self.session_key[..], &self.unicode_password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le;
    use crate::smb1::andx::testutil::{
        assert_truncations_fail, mutate_never_panics, request_writer, response_writer,
    };

    fn ntlm_negotiate_token() -> Vec<u8> {
        let mut t = b"NTLMSSP\0".to_vec();
        t.extend_from_slice(&[1, 0, 0, 0, 0x97, 0x82, 0x08, 0xE2]);
        t.extend_from_slice(&[0; 16]);
        t
    }

    fn extended_request() -> SessionSetupRequestExtended {
        SessionSetupRequestExtended {
            max_buffer_size: 61440,
            max_mpx_count: 50,
            vc_number: 1,
            session_key: 0x1122_3344,
            capabilities: 0x8000_C054,
            security_blob: ntlm_negotiate_token(),
            native_os: "Unix".into(),
            native_lanman: "smbkit".into(),
        }
    }

    #[test]
    fn extended_request_matches_spec_layout() {
        let req = extended_request();
        let mut w = request_writer(command::SESSION_SETUP_ANDX);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        // MS-SMB §2.2.4.6.1, laid out by hand.
        let mut expected: Vec<u8> = vec![
            0x0C, // WordCount
            0xFF, 0x00, 0x00, 0x00, // AndXCommand, AndXReserved, AndXOffset
            0x00, 0xF0, // MaxBufferSize 61440
            0x32, 0x00, // MaxMpxCount 50
            0x01, 0x00, // VcNumber
            0x44, 0x33, 0x22, 0x11, // SessionKey
            0x20, 0x00, // SecurityBlobLength 32
            0x00, 0x00, 0x00, 0x00, // Reserved
            0x54, 0xC0, 0x00, 0x80, // Capabilities
            0x39, 0x00, // ByteCount 57
        ];
        expected.extend(ntlm_negotiate_token()); // at 59..91
        expected.push(0); // pad: 91 is odd
        expected.extend(utf16le("Unix\0"));
        expected.extend(utf16le("smbkit\0"));
        assert_eq!(expected.len() - 27, 57); // blob, pad, NativeOS, NativeLanMan
        assert_eq!(&msg[32..], &expected[..]);
        assert_eq!(SessionSetupRequestExtended::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, SessionSetupRequestExtended::decode);
        mutate_never_panics(&msg, SessionSetupRequestExtended::decode);

        // An odd-length blob ends at an even offset: no pad.
        let mut odd = extended_request();
        odd.security_blob.push(0xAA);
        let mut w = request_writer(command::SESSION_SETUP_ANDX);
        odd.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(&msg[92..94], &[b'U', 0]);
        assert_eq!(SessionSetupRequestExtended::decode(&msg).unwrap(), odd);
    }

    #[test]
    fn ntlm_request_round_trips() {
        let req = SessionSetupRequestNtlm {
            max_buffer_size: 16644,
            max_mpx_count: 2,
            vc_number: 0,
            session_key: 0,
            capabilities: 0x0000_D054,
            oem_password: vec![0x11; 24],
            unicode_password: vec![0x22; 24],
            account_name: "alice".into(),
            primary_domain: "WORKGROUP".into(),
            native_os: "Unix".into(),
            native_lanman: "smbkit".into(),
        };
        let mut w = request_writer(command::SESSION_SETUP_ANDX);
        req.encode(&mut w).unwrap();
        let msg = w.into_vec();
        assert_eq!(msg[32], 13);
        // Bytes start at 61; the passwords end at 109, so one pad byte
        // precedes AccountName at 110.
        assert_eq!(&msg[59..61], &[0x69, 0x00]); // ByteCount 48 + 1 + 12 + 20 + 10 + 14
        assert_eq!(msg[109], 0);
        assert_eq!(&msg[110..122], &utf16le("alice\0")[..]);
        assert_eq!(SessionSetupRequestNtlm::decode(&msg).unwrap(), req);
        assert_truncations_fail(&msg, SessionSetupRequestNtlm::decode);
        mutate_never_panics(&msg, SessionSetupRequestNtlm::decode);

        // Invalid UTF-16 in AccountName is refused.
        let mut bad = msg.clone();
        bad[110..112].copy_from_slice(&[0x00, 0xD8]);
        assert!(SessionSetupRequestNtlm::decode(&bad).is_err());
        // Password lengths past ByteCount are refused.
        let mut bad = msg;
        bad[47..49].copy_from_slice(&[0x00, 0x01]);
        assert!(SessionSetupRequestNtlm::decode(&bad).is_err());
    }

    /// A response as Samba sends it mid-NTLMSSP (status
    /// MORE_PROCESSING_REQUIRED, not part of the codec): a challenge blob, a
    /// pad byte, "Unix" and "Samba".
    fn samba_extended_response() -> Vec<u8> {
        let blob = [0xA1, 0x07, 0x30, 0x05, 0xA0, 0x03, 0x0A, 0x01, 0x01];
        let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
        w.bytes(&[0x04, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00]);
        let mut bytes = blob.to_vec(); // at 43..52
        bytes.extend(utf16le("Unix\0")); // 52 is even: no pad
        bytes.extend(utf16le("Samba\0"));
        w.u16(u16::try_from(bytes.len()).unwrap()).bytes(&bytes);
        w.into_vec()
    }

    #[test]
    fn extended_response_decodes_and_round_trips() {
        let msg = samba_extended_response();
        let r = SessionSetupResponseExtended::decode(&msg).unwrap();
        assert_eq!(r.action, 0);
        assert_eq!(r.security_blob.len(), 9);
        assert_eq!(r.native_os, "Unix");
        assert_eq!(r.native_lanman, "Samba");
        let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
        r.encode(&mut w, true).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, SessionSetupResponseExtended::decode);
        mutate_never_panics(&msg, SessionSetupResponseExtended::decode);

        // A guest logon with an even blob (pad byte) and OEM strings.
        let guest = SessionSetupResponseExtended {
            action: ACTION_GUEST,
            security_blob: vec![0xA1, 0x00],
            native_os: "Windows 5.1".into(),
            native_lanman: String::new(),
        };
        for unicode in [true, false] {
            let mut w = response_writer(command::SESSION_SETUP_ANDX, unicode);
            guest.encode(&mut w, unicode).unwrap();
            if unicode {
                assert_eq!(w.as_slice()[45], 0, "pad at the odd offset 45");
            }
            let back = SessionSetupResponseExtended::decode(w.as_slice()).unwrap();
            assert_eq!(back, guest);
            assert_ne!(back.action & ACTION_GUEST, 0);
        }
        // No strings at all (ByteCount = blob only) decodes with empty ones.
        let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
        w.bytes(&[0x04, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x01, 0x00, 0x42]);
        let r = SessionSetupResponseExtended::decode(w.as_slice()).unwrap();
        assert_eq!((r.security_blob, r.native_os), (vec![0x42], String::new()));
    }

    #[test]
    fn hostile_extended_responses_fail() {
        let good = samba_extended_response();
        let with = |pos: usize, bytes: &[u8]| {
            let mut m = good.clone();
            m[pos..pos + bytes.len()].copy_from_slice(bytes);
            SessionSetupResponseExtended::decode(&m)
        };
        assert!(with(4, &[command::TREE_CONNECT_ANDX]).is_err());
        for wc in [0u8, 3, 5, 0xFF] {
            assert!(with(32, &[wc]).is_err(), "WordCount {wc}");
        }
        assert!(with(39, &[0xFF, 0xFF]).is_err()); // blob past ByteCount
        assert!(with(41, &[0xFF, 0xFF]).is_err()); // ByteCount past the end
        assert!(with(41, &[0x08, 0x00]).is_err()); // ByteCount shorter than the blob
                                                   // Empty error response.
        let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
        w.bytes(&[0, 0, 0]);
        assert!(SessionSetupResponseExtended::decode(w.as_slice()).is_err());
    }

    /// An NT LM 0.12 (non-extended) response as Samba sends it: WordCount 3,
    /// a pad byte at 41, then "Unix", "Samba", "WORKGROUP".
    fn samba_ntlm_response() -> Vec<u8> {
        let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
        w.bytes(&[0x03, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00]);
        let mut bytes = vec![0]; // pad
        for s in ["Unix", "Samba", "WORKGROUP"] {
            bytes.extend(utf16le(s));
            bytes.extend([0, 0]);
        }
        w.u16(u16::try_from(bytes.len()).unwrap()).bytes(&bytes);
        w.into_vec()
    }

    #[test]
    fn ntlm_response_decodes_and_round_trips() {
        let msg = samba_ntlm_response();
        let r = SessionSetupResponseNtlm::decode(&msg).unwrap();
        assert_eq!(
            r,
            SessionSetupResponseNtlm {
                action: ACTION_GUEST,
                native_os: "Unix".into(),
                native_lanman: "Samba".into(),
                primary_domain: "WORKGROUP".into(),
            }
        );
        let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
        r.encode(&mut w, true).unwrap();
        assert_eq!(w.as_slice(), &msg[..]);
        assert_truncations_fail(&msg, SessionSetupResponseNtlm::decode);
        mutate_never_panics(&msg, SessionSetupResponseNtlm::decode);
        let mut w = response_writer(command::SESSION_SETUP_ANDX, false);
        r.encode(&mut w, false).unwrap();
        assert_eq!(SessionSetupResponseNtlm::decode(w.as_slice()).unwrap(), r);
        let mut bad = msg;
        bad[32] = 4;
        assert!(SessionSetupResponseNtlm::decode(&bad).is_err());
    }

    // -----------------------------------------------------------------------
    // Logons without extended security: keys (MS-NLMP §4.2 test vectors).
    // -----------------------------------------------------------------------

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

    #[test]
    fn plain_logon_ntlm_v1_matches_ms_nlmp_4_2_2() {
        let l = PlainLogon::ntlm_v1("Password", &CHALLENGE);
        // §4.2.2.2.1 NTLMv1 Response, §4.2.2.2.2 LMv1 Response.
        assert_eq!(
            l.unicode_password,
            hex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94")
        );
        assert_eq!(
            l.oem_password,
            hex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13")
        );
        // §4.2.2.1.3 Session Base Key.
        assert_eq!(
            l.session_key()[..],
            hex("d87262b0cde4b1cb7499becccdf10784")[..]
        );
        // The MAC key is the session key followed by the NT response.
        let mac_key = [&l.session_key()[..], &l.unicode_password[..]].concat();
        assert_eq!(mac_key.len(), 40);
        let mut w = crate::smb1::andx::testutil::response_writer(command::ECHO, true);
        crate::smb1::echo::EchoResponse {
            sequence_number: 1,
            data: b"x".to_vec(),
        }
        .encode(&mut w)
        .unwrap();
        let mut msg = w.into_vec();
        l.signer().sign(&mut msg, 3);
        assert!(Smb1Signer::new(mac_key).verify(&msg, 3));
        assert!(!Smb1Signer::new(l.session_key().to_vec()).verify(&msg, 3));
        assert!(!format!("{l:?}").contains("d8"));
    }

    #[test]
    fn plain_logon_ntlm_v2_matches_ms_nlmp_4_2_4() {
        // §4.2.4: user "User", domain "Domain", client challenge aa..aa,
        // time 0, AV pairs MsvAvNbDomainName "Domain", MsvAvNbComputerName
        // "Server".
        let key = ntlm::nt_owf_v2("Password", "User", "Domain");
        assert_eq!(key[..], hex("0c868a403bfd7a93a3001ef22ef02e3f")[..]);
        let av = hex(concat!(
            "02000c00",
            "44006f006d00610069006e00",
            "01000c00",
            "530065007200760065007200",
            "00000000"
        ));
        let l = PlainLogon::ntlm_v2_with(&key, &CHALLENGE, &[0xaa; 8], 0, &av);
        assert_eq!(
            l.unicode_password[..16],
            hex("68cd0ab851e51c96aabc927bebef6a1c")[..]
        );
        assert_eq!(
            l.session_key()[..],
            hex("8de40ccadbc14a82f15cb0ad0de95ca3")[..]
        );
        assert_eq!(
            l.oem_password,
            hex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        // Without AV pairs (the SMB1 form), the key still follows NTProofStr.
        let plain = PlainLogon::ntlm_v2("Password", "User", "Domain", &CHALLENGE, &[0xaa; 8], 0);
        assert_eq!(plain.unicode_password.len(), 16 + 28 + 4);
        assert_ne!(plain.session_key(), l.session_key());
        assert_eq!(plain.oem_password, l.oem_password);
    }

    #[test]
    fn blob_password_and_byte_count_limits() {
        use crate::codec::testutil::{assert_too_large, name};
        use crate::smb1::andx::testutil::{byte_count, largest_ok};
        let extended = |n: usize| {
            let mut req = extended_request();
            req.security_blob = vec![0x60; n];
            let mut w = request_writer(command::SESSION_SETUP_ANDX);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        // The blob and the two strings share ByteCount.
        let n = largest_ok(70_000, extended);
        assert!(byte_count(&extended(n).unwrap()) >= 65534, "{n}");
        assert_too_large(
            extended(n + 2),
            "SESSION_SETUP_ANDX request ByteCount",
            byte_count(&extended(n).unwrap()) + 2,
            65535,
        );
        assert_too_large(
            extended(65536),
            "SESSION_SETUP_ANDX request SecurityBlobLength",
            65536,
            65535,
        );

        let plain = |oem: usize, uni: usize, account: usize| {
            let req = SessionSetupRequestNtlm {
                max_buffer_size: 61440,
                max_mpx_count: 50,
                vc_number: 1,
                session_key: 0,
                capabilities: 0,
                oem_password: vec![1; oem],
                unicode_password: vec![2; uni],
                account_name: name(account),
                primary_domain: "D".into(),
                native_os: "Unix".into(),
                native_lanman: "smbkit".into(),
            };
            let mut w = request_writer(command::SESSION_SETUP_ANDX);
            req.encode(&mut w).map(|()| w.into_vec())
        };
        assert_too_large(
            plain(65536, 24, 1),
            "SESSION_SETUP_ANDX request OEMPasswordLen",
            65536,
            65535,
        );
        assert_too_large(
            plain(24, 65536, 1),
            "SESSION_SETUP_ANDX request UnicodePasswordLen",
            65536,
            65535,
        );
        let n = largest_ok(40_000, |n| plain(24, 24, n));
        assert!(byte_count(&plain(24, 24, n).unwrap()) >= 65534, "{n}");
        assert!(matches!(
            plain(24, 24, n + 1),
            Err(EncodeError::TooLarge {
                what: "SESSION_SETUP_ANDX request ByteCount",
                ..
            })
        ));

        // The responses' strings fill ByteCount too.
        let response = |n: usize| {
            let r = SessionSetupResponseExtended {
                action: 0,
                security_blob: Vec::new(),
                native_os: name(n),
                native_lanman: "Samba".into(),
            };
            let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
            r.encode(&mut w, true).map(|()| w.into_vec())
        };
        let n = largest_ok(40_000, response);
        assert!(byte_count(&response(n).unwrap()) >= 65534, "{n}");
        assert!(matches!(
            response(n + 1),
            Err(EncodeError::TooLarge {
                what: "SESSION_SETUP_ANDX response ByteCount",
                ..
            })
        ));
        let ntlm_response = |n: usize| {
            let r = SessionSetupResponseNtlm {
                action: 0,
                native_os: name(n),
                native_lanman: "Samba".into(),
                primary_domain: "D".into(),
            };
            let mut w = response_writer(command::SESSION_SETUP_ANDX, true);
            r.encode(&mut w, true).map(|()| w.into_vec())
        };
        let n = largest_ok(40_000, ntlm_response);
        assert!(byte_count(&ntlm_response(n).unwrap()) >= 65534, "{n}");
        assert!(ntlm_response(n + 1).is_err());
    }
}
