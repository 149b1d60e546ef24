//! The Server Service Remote Protocol, SRVSVC (MS-SRVS): just
//! `NetrShareEnum` at information level 1.
//!
//! The interface is reached over the `\PIPE\srvsvc` named pipe on `IPC$`
//! (MS-SRVS §2.1) and bound as [`SRVSVC_SYNTAX`]. `NetrShareEnum`
//! (MS-SRVS §3.1.4.8, opnum 15) is declared
//!
//! ```text
//! NET_API_STATUS NetrShareEnum(
//!     [in, string, unique] SRVSVC_HANDLE ServerName,
//!     [in, out] LPSHARE_ENUM_STRUCT InfoStruct,
//!     [in] DWORD PreferedMaximumLength,
//!     [out] DWORD* TotalEntries,
//!     [in, out, unique] DWORD* ResumeHandle);
//! ```
//!
//! with `SHARE_ENUM_STRUCT { DWORD Level; [switch_is(Level)]
//! SHARE_ENUM_UNION ShareInfo; }` (§2.2.4.38), a `[switch_type(DWORD)]`
//! union of container pointers (§2.2.3.5), `SHARE_INFO_1_CONTAINER {
//! DWORD EntriesRead; [size_is(EntriesRead)] LPSHARE_INFO_1 Buffer; }`
//! (§2.2.4.33) and `SHARE_INFO_1 { [string] wchar_t* shi1_netname; DWORD
//! shi1_type; [string] wchar_t* shi1_remark; }` (§2.2.4.23).
//!
//! In NDR (C706 chapter 14) the non-encapsulated union is its discriminant
//! (a DWORD, equal to `Level`) followed by the selected arm; `InfoStruct`
//! is a top-level `[ref]` pointer and so has no wire representation of its
//! own; every embedded pointer's pointee is deferred to the end of the
//! top-level parameter (C706 §14.3.12), which gives the response layout
//! decoded by [`parse_netr_share_enum_response`].

use super::ndr::{NdrReader, NdrWriter};
use super::pdu::{SyntaxId, Uuid};
use crate::codec::{DecodeError, EncodeError};

/// The SRVSVC interface UUID, `4b324fc8-1670-01d3-1278-5a47bf6ee188`
/// (MS-SRVS §1.9, §2.1).
pub const SRVSVC_UUID: Uuid = Uuid::from_u128(0x4b324fc8_1670_01d3_1278_5a47bf6ee188);

/// The SRVSVC abstract syntax to [`bind`](super::pdu::bind): version 3.0
/// (MS-SRVS §1.9, §2.1).
pub const SRVSVC_SYNTAX: SyntaxId = SyntaxId::new(SRVSVC_UUID, 3, 0);

/// Name of the named pipe to open on `IPC$`, without the `\PIPE\` prefix
/// that SMB2 CREATE omits (MS-SRVS §2.1).
pub const SRVSVC_PIPE: &str = "srvsvc";

/// Opnum of `NetrShareEnum` (MS-SRVS §3.1.4.8).
pub const OPNUM_NETR_SHARE_ENUM: u16 = 15;

/// `MAX_PREFERRED_LENGTH`: ask the server for every entry in one response
/// (MS-SRVS §3.1.4.8). Some servers (macOS) accept no other
/// `PreferedMaximumLength`.
pub const MAX_PREFERRED_LENGTH: u32 = 0xFFFF_FFFF;

/// `STYPE_DISKTREE`: a disk share (MS-SRVS §2.2.2.4).
pub const STYPE_DISKTREE: u32 = 0x0000_0000;
/// `STYPE_PRINTQ`: a print queue (MS-SRVS §2.2.2.4).
pub const STYPE_PRINTQ: u32 = 0x0000_0001;
/// `STYPE_DEVICE`: a communication device (MS-SRVS §2.2.2.4).
pub const STYPE_DEVICE: u32 = 0x0000_0002;
/// `STYPE_IPC`: interprocess communication, `IPC$` (MS-SRVS §2.2.2.4).
pub const STYPE_IPC: u32 = 0x0000_0003;
/// `STYPE_CLUSTER_FS`: a cluster share (MS-SRVS §2.2.2.4).
pub const STYPE_CLUSTER_FS: u32 = 0x0200_0000;
/// `STYPE_CLUSTER_SOFS`: a scale-out cluster share (MS-SRVS §2.2.2.4).
pub const STYPE_CLUSTER_SOFS: u32 = 0x0400_0000;
/// `STYPE_CLUSTER_DFS`: a DFS share in a cluster (MS-SRVS §2.2.2.4).
pub const STYPE_CLUSTER_DFS: u32 = 0x0800_0000;
/// `STYPE_SPECIAL`: an administrative share such as `IPC$`, `ADMIN$`,
/// `C$` — OR-ed onto the base type (MS-SRVS §2.2.2.4).
pub const STYPE_SPECIAL: u32 = 0x8000_0000;
/// `STYPE_TEMPORARY`: a share that is not persisted — OR-ed onto the base
/// type (MS-SRVS §2.2.2.4).
pub const STYPE_TEMPORARY: u32 = 0x4000_0000;
/// `STYPE_MASK` (0xFF, as in the Windows SDK's `lmshare.h`): isolates the
/// base type `STYPE_DISKTREE`..`STYPE_IPC` from the `STYPE_SPECIAL` /
/// `STYPE_TEMPORARY` flags and the cluster bits of MS-SRVS §2.2.2.4.
pub const STYPE_MASK: u32 = 0x0000_00FF;

/// `NERR_Success` (MS-SRVS §3.1.4.8 return value).
pub const NERR_SUCCESS: u32 = 0;
/// `ERROR_ACCESS_DENIED`.
pub const ERROR_ACCESS_DENIED: u32 = 5;
/// `ERROR_NOT_ENOUGH_MEMORY`.
pub const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
/// `ERROR_INVALID_PARAMETER`.
pub const ERROR_INVALID_PARAMETER: u32 = 87;
/// `ERROR_INVALID_LEVEL`: the server does not support the level.
pub const ERROR_INVALID_LEVEL: u32 = 124;
/// `ERROR_MORE_DATA`: the entries returned are a part; call again with the
/// returned resume handle (MS-SRVS §3.1.4.8).
pub const ERROR_MORE_DATA: u32 = 234;

/// The base type of a `shi1_type` value, `share_type & STYPE_MASK`
/// (one of `STYPE_DISKTREE`..`STYPE_IPC`; MS-SRVS §2.2.2.4).
pub fn share_base_type(share_type: u32) -> u32 {
    share_type & STYPE_MASK
}

/// One share, a decoded `SHARE_INFO_1` (MS-SRVS §2.2.4.23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareInfo1 {
    /// `shi1_netname`, the share name; empty if the server sent a NULL
    /// pointer. Decoded strictly: a name that is not valid UTF-16 fails the
    /// whole response rather than being silently altered, since names are
    /// used to build tree-connect paths.
    pub name: String,
    /// `shi1_type`: a base type plus flags (MS-SRVS §2.2.2.4).
    pub share_type: u32,
    /// `shi1_remark`, the comment; empty if NULL. Decoded lossily.
    pub remark: String,
}

impl ShareInfo1 {
    /// `share_type & STYPE_MASK`.
    pub fn base_type(&self) -> u32 {
        share_base_type(self.share_type)
    }

    /// A disk share (`STYPE_DISKTREE`).
    pub fn is_disk(&self) -> bool {
        self.base_type() == STYPE_DISKTREE
    }

    /// A print queue (`STYPE_PRINTQ`).
    pub fn is_printer(&self) -> bool {
        self.base_type() == STYPE_PRINTQ
    }

    /// A communication device (`STYPE_DEVICE`).
    pub fn is_device(&self) -> bool {
        self.base_type() == STYPE_DEVICE
    }

    /// The IPC share (`STYPE_IPC`).
    pub fn is_ipc(&self) -> bool {
        self.base_type() == STYPE_IPC
    }

    /// `STYPE_SPECIAL` is set (administrative share).
    pub fn is_special(&self) -> bool {
        self.share_type & STYPE_SPECIAL != 0
    }

    /// `STYPE_TEMPORARY` is set.
    pub fn is_temporary(&self) -> bool {
        self.share_type & STYPE_TEMPORARY != 0
    }
}

/// The decoded `[out]` parameters of `NetrShareEnum` at level 1
/// (MS-SRVS §3.1.4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareEnumResult {
    /// The entries of the `SHARE_INFO_1_CONTAINER`, in server order.
    pub shares: Vec<ShareInfo1>,
    /// `TotalEntries`: how many entries the server has in all.
    pub total_entries: u32,
    /// `ResumeHandle`, or `None` if the server returned a NULL pointer.
    pub resume_handle: Option<u32>,
    /// The `NET_API_STATUS` return value: [`NERR_SUCCESS`],
    /// [`ERROR_MORE_DATA`] or another Win32 error code. Not turned into an
    /// error here, because `ERROR_MORE_DATA` comes with valid entries.
    pub status: u32,
}

/// Marshals the `NetrShareEnum` request stub (MS-SRVS §3.1.4.8, opnum
/// [`OPNUM_NETR_SHARE_ENUM`]) for [`request`](super::pdu::request):
///
/// 1. `ServerName`, a top-level `[unique, string]` pointer: a referent id
///    and the conformant varying string — or NULL when `server_name` is
///    empty (the server then means itself). Callers usually pass
///    `\\host`; the server ignores the value (MS-SRVS §3.1.4.8);
/// 2. `InfoStruct`: `Level`, the union discriminant (= `level`), a
///    referent id for the container pointer, then the deferred container
///    with `EntriesRead` 0 and a NULL `Buffer` (every level's container has
///    this same shape, MS-SRVS §2.2.4.32–§2.2.4.37);
/// 3. `PreferedMaximumLength` = `prefmaxlen` (use
///    [`MAX_PREFERRED_LENGTH`]);
/// 4. `ResumeHandle`: a referent id and 0, the start of an enumeration.
///
/// Only level 1 responses can be decoded by
/// [`parse_netr_share_enum_response`].
///
/// # Errors
///
/// If `server_name` is too long for a conformant varying string
/// ([`NdrWriter::wstring`]).
pub fn netr_share_enum_request(
    server_name: &str,
    level: u32,
    prefmaxlen: u32,
) -> Result<Vec<u8>, EncodeError> {
    netr_share_enum_request_resume(server_name, level, prefmaxlen, 0)
}

/// [`netr_share_enum_request`] continuing an enumeration from a
/// `resume_handle` the previous response returned with
/// [`ERROR_MORE_DATA`] (MS-SRVS §3.1.4.8).
pub fn netr_share_enum_request_resume(
    server_name: &str,
    level: u32,
    prefmaxlen: u32,
    resume_handle: u32,
) -> Result<Vec<u8>, EncodeError> {
    let mut w = NdrWriter::new();
    w.unique_wstring((!server_name.is_empty()).then_some(server_name))?;
    // SHARE_ENUM_STRUCT: Level, then the union's discriminant and arm.
    w.u32(level).u32(level);
    w.referent(); // SHARE_INFO_n_CONTAINER*, pointee deferred to here:
    w.u32(0); // EntriesRead
    w.null_pointer(); // Buffer
    w.u32(prefmaxlen);
    w.referent(); // ResumeHandle
    w.u32(resume_handle);
    Ok(w.into_vec())
}

/// Bytes of one `SHARE_INFO_1` in the conformant array: two pointers and a
/// DWORD.
const SHARE_INFO_1_LEN: usize = 12;

/// Decodes the `NetrShareEnum` response stub at level 1 (MS-SRVS
/// §3.1.4.8). The layout is, in order:
///
/// * `InfoStruct`: `Level` (must be 1), the union discriminant (must equal
///   `Level`), the unique pointer to the `SHARE_INFO_1_CONTAINER`;
/// * if that is non-NULL, the container: `EntriesRead` and the unique
///   pointer `Buffer`; if `Buffer` is non-NULL, the conformant array:
///   `max_count` (must equal `EntriesRead`) and `max_count` `SHARE_INFO_1`
///   entries of two referent ids and a type each; then, deferred, the
///   strings in entry order — name then remark of entry 0, name then
///   remark of entry 1, … — skipping those whose pointer was NULL;
/// * `TotalEntries`;
/// * `ResumeHandle`: a unique pointer and, if non-NULL, the DWORD;
/// * the `NET_API_STATUS` return value.
///
/// A NULL container or `Buffer` gives no shares (servers send that with an
/// error status). Bytes after the return value are ignored. Every count is
/// checked against the stub before anything is allocated.
pub fn parse_netr_share_enum_response(stub: &[u8]) -> Result<ShareEnumResult, DecodeError> {
    let mut r = NdrReader::new(stub);
    let level = r.u32("SHARE_ENUM_STRUCT.Level")?;
    if level != 1 {
        return Err(DecodeError::invalid(
            "SHARE_ENUM_STRUCT.Level",
            format!("level {level}; only level 1 is supported"),
        ));
    }
    let discriminant = r.u32("SHARE_ENUM_UNION discriminant")?;
    if discriminant != level {
        return Err(DecodeError::invalid(
            "SHARE_ENUM_UNION discriminant",
            format!("{discriminant} differs from Level {level}"),
        ));
    }
    let mut shares = Vec::new();
    if r.unique_pointer("SHARE_ENUM_UNION.Level1")?.is_some() {
        let entries_read = r.u32("SHARE_INFO_1_CONTAINER.EntriesRead")?;
        if r.unique_pointer("SHARE_INFO_1_CONTAINER.Buffer")?.is_some() {
            let count = r.conformance(SHARE_INFO_1_LEN, "SHARE_INFO_1 array max_count")?;
            if u32::try_from(count).ok() != Some(entries_read) {
                return Err(DecodeError::invalid(
                    "SHARE_INFO_1 array max_count",
                    format!("{count} differs from EntriesRead {entries_read}"),
                ));
            }
            // `count` entries of 12 bytes fit in the stub: bounded allocation.
            let mut fixed = Vec::with_capacity(count);
            for _ in 0..count {
                let name = r.unique_pointer("SHARE_INFO_1.shi1_netname")?;
                let share_type = r.u32("SHARE_INFO_1.shi1_type")?;
                let remark = r.unique_pointer("SHARE_INFO_1.shi1_remark")?;
                fixed.push((name.is_some(), share_type, remark.is_some()));
            }
            shares.reserve_exact(count);
            for (has_name, share_type, has_remark) in fixed {
                let name = if has_name {
                    r.wstring("SHARE_INFO_1.shi1_netname")?
                } else {
                    String::new()
                };
                let remark = if has_remark {
                    r.wstring_lossy("SHARE_INFO_1.shi1_remark")?
                } else {
                    String::new()
                };
                shares.push(ShareInfo1 {
                    name,
                    share_type,
                    remark,
                });
            }
        }
    }
    let total_entries = r.u32("TotalEntries")?;
    let resume_handle = match r.unique_pointer("ResumeHandle")? {
        Some(_) => Some(r.u32("*ResumeHandle")?),
        None => None,
    };
    let status = r.u32("NET_API_STATUS")?;
    Ok(ShareEnumResult {
        shares,
        total_entries,
        resume_handle,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pdu::{self, Reassembler};

    /// NetrShareEnum request for `\\host`, level 1, written out by hand
    /// from the NDR rules (C706 chapter 14).
    #[rustfmt::skip]
    const REQUEST_HOST: [u8; 64] = [
        // ServerName: referent id, max_count 7, offset 0, actual_count 7.
        0x00, 0x00, 0x02, 0x00,
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
        // "\\host\0" in UTF-16LE (14 bytes) + 2 bytes of padding.
        b'\\', 0, b'\\', 0, b'h', 0, b'o', 0, b's', 0, b't', 0, 0, 0, 0, 0,
        // Level 1, union discriminant 1, container referent id.
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x02, 0x00,
        // Deferred container: EntriesRead 0, Buffer NULL.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        // PreferedMaximumLength 0xFFFFFFFF.
        0xff, 0xff, 0xff, 0xff,
        // ResumeHandle: referent id, value 0.
        0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// A level-1 response listing `IPC$` (0x80000003, "IPC Service
    /// (Samba)") and `share` (0, ""), written out by hand from the NDR
    /// rules: fixed parts first, deferred strings after, each string
    /// 4-byte aligned.
    #[rustfmt::skip]
    const RESPONSE_TWO_SHARES: [u8; 180] = [
        // 0: Level 1, discriminant 1, container referent id.
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
        // 12: EntriesRead 2, Buffer referent id.
        0x02, 0x00, 0x00, 0x00, 0x04, 0x00, 0x02, 0x00,
        // 20: conformant array max_count 2.
        0x02, 0x00, 0x00, 0x00,
        // 24: entry 0: netname ref, type 0x80000003, remark ref.
        0x08, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x80, 0x0c, 0x00, 0x02, 0x00,
        // 36: entry 1: netname ref, type 0, remark ref.
        0x10, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00,
        // 48: "IPC$": max 5, offset 0, actual 5, 10 bytes, 2 pad.
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
        b'I', 0, b'P', 0, b'C', 0, b'$', 0, 0, 0, 0, 0,
        // 72: "IPC Service (Samba)": 20 units.
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
        b'I', 0, b'P', 0, b'C', 0, b' ', 0, b'S', 0, b'e', 0, b'r', 0, b'v', 0,
        b'i', 0, b'c', 0, b'e', 0, b' ', 0, b'(', 0, b'S', 0, b'a', 0, b'm', 0,
        b'b', 0, b'a', 0, b')', 0, 0, 0,
        // 124: "share": 6 units.
        0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
        b's', 0, b'h', 0, b'a', 0, b'r', 0, b'e', 0, 0, 0,
        // 148: "": 1 unit (the terminator), 2 pad.
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0, 0, 0, 0,
        // 164: TotalEntries 2.
        0x02, 0x00, 0x00, 0x00,
        // 168: ResumeHandle referent id, value 0.
        0x18, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        // 176: NET_API_STATUS NERR_Success.
        0x00, 0x00, 0x00, 0x00,
    ];

    fn expected_two_shares() -> ShareEnumResult {
        ShareEnumResult {
            shares: vec![
                ShareInfo1 {
                    name: "IPC$".into(),
                    share_type: STYPE_IPC | STYPE_SPECIAL,
                    remark: "IPC Service (Samba)".into(),
                },
                ShareInfo1 {
                    name: "share".into(),
                    share_type: STYPE_DISKTREE,
                    remark: String::new(),
                },
            ],
            total_entries: 2,
            resume_handle: Some(0),
            status: NERR_SUCCESS,
        }
    }

    /// Builds a level-1 response with the NDR writer, the way a server
    /// marshals it.
    fn build_response(
        shares: &[(Option<&str>, u32, Option<&str>)],
        resume: Option<u32>,
        status: u32,
    ) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(1).u32(1);
        w.referent(); // container
        w.u32(shares.len() as u32);
        w.referent(); // Buffer
        w.u32(shares.len() as u32); // max_count
        for (name, ty, remark) in shares {
            match name {
                Some(_) => {
                    w.referent();
                }
                None => {
                    w.null_pointer();
                }
            }
            w.u32(*ty);
            match remark {
                Some(_) => {
                    w.referent();
                }
                None => {
                    w.null_pointer();
                }
            }
        }
        for (name, _, remark) in shares {
            if let Some(n) = name {
                w.wstring(n).unwrap();
            }
            if let Some(r) = remark {
                w.wstring(r).unwrap();
            }
        }
        w.u32(shares.len() as u32);
        match resume {
            Some(v) => {
                w.referent();
                w.u32(v);
            }
            None => {
                w.null_pointer();
            }
        }
        w.u32(status);
        w.into_vec()
    }

    #[test]
    fn request_matches_hand_layout() {
        assert_eq!(
            netr_share_enum_request("\\\\host", 1, MAX_PREFERRED_LENGTH).unwrap(),
            REQUEST_HOST
        );
        // Empty server name: NULL pointer.
        let stub = netr_share_enum_request("", 1, MAX_PREFERRED_LENGTH).unwrap();
        assert_eq!(stub[..4], [0, 0, 0, 0]);
        assert_eq!(stub.len(), 4 + 32);
        // Resume handle is carried through.
        let stub = netr_share_enum_request_resume("\\\\host", 1, 0x1000, 7).unwrap();
        assert_eq!(stub[52..56], 0x1000u32.to_le_bytes());
        assert_eq!(stub[60..64], 7u32.to_le_bytes());
    }

    #[test]
    fn writer_reproduces_the_literal_response() {
        let built = build_response(
            &[
                (Some("IPC$"), 0x8000_0003, Some("IPC Service (Samba)")),
                (Some("share"), 0, Some("")),
            ],
            Some(0),
            0,
        );
        assert_eq!(built, RESPONSE_TWO_SHARES);
    }

    #[test]
    fn literal_response_decodes() {
        let res = parse_netr_share_enum_response(&RESPONSE_TWO_SHARES).unwrap();
        assert_eq!(res, expected_two_shares());
        let ipc = &res.shares[0];
        assert!(ipc.is_ipc() && ipc.is_special() && !ipc.is_temporary());
        assert_eq!(ipc.base_type(), STYPE_IPC);
        assert!(res.shares[1].is_disk() && !res.shares[1].is_special());
    }

    #[test]
    fn null_pointers_and_error_status() {
        // NULL name and remark pointers: no deferred strings.
        let stub = build_response(
            &[(None, STYPE_PRINTQ, Some("lp")), (Some("x"), 0, None)],
            None,
            ERROR_MORE_DATA,
        );
        let res = parse_netr_share_enum_response(&stub).unwrap();
        assert_eq!(res.shares[0].name, "");
        assert_eq!(res.shares[0].remark, "lp");
        assert!(res.shares[0].is_printer());
        assert_eq!(res.shares[1].name, "x");
        assert_eq!(res.shares[1].remark, "");
        assert_eq!(res.resume_handle, None);
        assert_eq!(res.status, ERROR_MORE_DATA);

        // Access denied: NULL Buffer, no shares.
        let mut w = NdrWriter::new();
        w.u32(1).u32(1);
        w.referent();
        w.u32(0).null_pointer();
        w.u32(0).null_pointer().u32(ERROR_ACCESS_DENIED);
        let res = parse_netr_share_enum_response(&w.into_vec()).unwrap();
        assert!(res.shares.is_empty());
        assert_eq!(res.status, ERROR_ACCESS_DENIED);

        // NULL container.
        let mut w = NdrWriter::new();
        w.u32(1).u32(1).null_pointer();
        w.u32(0).null_pointer().u32(ERROR_INVALID_LEVEL);
        let res = parse_netr_share_enum_response(&w.into_vec()).unwrap();
        assert!(res.shares.is_empty());
        assert_eq!(res.status, ERROR_INVALID_LEVEL);
    }

    #[test]
    fn empty_enumeration() {
        let stub = build_response(&[], Some(0), 0);
        let res = parse_netr_share_enum_response(&stub).unwrap();
        assert!(res.shares.is_empty());
        assert_eq!(res.total_entries, 0);
    }

    #[test]
    fn non_ascii_names_round_trip() {
        let stub = build_response(&[(Some("données 😀"), 0, Some("récap"))], Some(0), 0);
        let res = parse_netr_share_enum_response(&stub).unwrap();
        assert_eq!(res.shares[0].name, "données 😀");
        assert_eq!(res.shares[0].remark, "récap");
    }

    fn patched(offset: usize, value: u32) -> Vec<u8> {
        let mut b = RESPONSE_TWO_SHARES.to_vec();
        b[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        b
    }

    #[test]
    fn hostile_responses_are_errors() {
        let cases: &[(&str, Vec<u8>)] = &[
            ("level 2", patched(0, 2)),
            ("discriminant != level", patched(4, 0)),
            ("huge array max_count", patched(20, 0xFFFF_FFFF)),
            ("array max_count beyond stub", patched(20, 100)),
            ("max_count != EntriesRead", {
                let mut b = patched(12, 3);
                b[20..24].copy_from_slice(&2u32.to_le_bytes());
                b
            }),
            ("huge string max_count", patched(48, 0xFFFF_FFFF)),
            ("string actual_count > max_count", patched(56, 6)),
            ("string offset != 0", patched(52, 1)),
            ("string actual_count beyond stub", {
                let mut b = patched(72, 0x10000);
                b[80..84].copy_from_slice(&0x10000u32.to_le_bytes());
                b
            }),
            ("unpaired surrogate in name", {
                let mut b = RESPONSE_TWO_SHARES.to_vec();
                b[60..62].copy_from_slice(&[0x00, 0xDC]);
                b
            }),
        ];
        for (what, stub) in cases {
            assert!(
                parse_netr_share_enum_response(stub).is_err(),
                "{what} was accepted"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        for n in 0..RESPONSE_TWO_SHARES.len() {
            assert!(
                parse_netr_share_enum_response(&RESPONSE_TWO_SHARES[..n]).is_err(),
                "prefix of {n} bytes decoded"
            );
        }
    }

    #[test]
    fn mutated_responses_never_panic() {
        let mut st = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            st
        };
        for _ in 0..20_000 {
            let mut b = RESPONSE_TWO_SHARES.to_vec();
            for _ in 0..(next() % 6 + 1) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            // Sometimes make a count enormous.
            if next() % 4 == 0 {
                let i = ((next() as usize) % (b.len() / 4)) * 4;
                b[i..i + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
            }
            let _ = parse_netr_share_enum_response(&b);
        }
    }

    #[test]
    fn end_to_end_over_fragments() {
        // The request PDU as the driver sends it.
        let stub = netr_share_enum_request("\\\\host", 1, MAX_PREFERRED_LENGTH).unwrap();
        let req = pdu::request(2, pdu::CONTEXT_ID, OPNUM_NETR_SHARE_ENUM, &stub);
        assert_eq!(req.len(), 24 + 64);
        assert_eq!(req[22..24], 15u16.to_le_bytes());

        // The response split into three fragments, delivered in odd chunks.
        let body = RESPONSE_TWO_SHARES;
        let mut stream = Vec::new();
        for (i, part) in [&body[..64], &body[64..128], &body[128..]]
            .iter()
            .enumerate()
        {
            let mut flags = 0;
            if i == 0 {
                flags |= pdu::pfc::FIRST_FRAG;
            }
            if i == 2 {
                flags |= pdu::pfc::LAST_FRAG;
            }
            let mut w = crate::codec::Writer::new();
            w.bytes(&[5, 0, 2, flags, 0x10, 0, 0, 0])
                .u16((24 + part.len()) as u16)
                .u16(0)
                .u32(2)
                .u32(part.len() as u32)
                .u16(0)
                .u16(0)
                .bytes(part);
            stream.extend_from_slice(w.as_slice());
        }
        let mut re = Reassembler::new(2);
        let mut got = None;
        for chunk in stream.chunks(37) {
            if let Some(s) = re.push(chunk).unwrap() {
                got = Some(s);
            }
        }
        let res = parse_netr_share_enum_response(&got.unwrap()).unwrap();
        assert_eq!(res, expected_two_shares());
    }
}
