//! Server-side copy: the FSCTL payloads of FSCTL_SRV_REQUEST_RESUME_KEY and
//! FSCTL_SRV_COPYCHUNK / FSCTL_SRV_COPYCHUNK_WRITE (MS-SMB2 §2.2.31.1,
//! §2.2.31.1.1, §2.2.32.1, §2.2.32.3, §3.3.5.15.5, §3.3.5.15.6). SMB1
//! carries the same structures as the data of NT_TRANSACT_IOCTL (MS-SMB
//! §2.2.7.2.1.1, §2.2.7.2.2.1, §2.2.7.2.2.2).
//!
//! The client asks the server for a key naming an open source file
//! (FSCTL_SRV_REQUEST_RESUME_KEY on the source's handle), then sends
//! SRV_COPYCHUNK_COPY requests, each a list of ranges, on the
//! destination's handle; the server copies the data itself and tells how
//! much it wrote in a SRV_COPYCHUNK_RESPONSE. A request beyond the server's
//! limits fails with STATUS_INVALID_PARAMETER, and then the response tells
//! those limits instead (§2.2.32.1, §3.3.5.15.6.2): see
//! [`CopychunkResponse::limits`].
//!
//! These are the IOCTL's input and output buffers only; the IOCTL itself
//! is [`super::ioctl`] (or SMB1's `nt_transact::IoctlRequest`).

use crate::codec::{count_u32, DecodeError, EncodeError, Reader, Writer};

/// The length of a resume key (MS-SMB2 §2.2.32.3: "A 24-byte resume key").
pub const RESUME_KEY_LEN: usize = 24;

/// SRV_REQUEST_RESUME_KEY Response (MS-SMB2 §2.2.32.3; MS-SMB
/// §2.2.7.2.2.2): the output of FSCTL_SRV_REQUEST_RESUME_KEY.
///
/// ResumeKey (24 bytes): "The resume key MUST be treated as a 24-byte
/// opaque structure"; ContextLength (4 bytes): "This field is unused. The
/// server MUST set this field to 0, and the client MUST ignore it on
/// receipt"; Context (variable): unused. A server sends 32 bytes
/// (§3.3.5.15.5: "OutputCount MUST be set to 32"), the key, ContextLength
/// and 4 bytes of Context; decode needs the key and ContextLength, and
/// ignores what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeKeyResponse {
    /// ResumeKey: names the open source file in SRV_COPYCHUNK_COPY.
    pub resume_key: [u8; RESUME_KEY_LEN],
    /// ContextLength as received (unused; kept for round trips).
    pub context_length: u32,
}

impl ResumeKeyResponse {
    /// What a server sends: the key, ContextLength and 4 bytes of Context.
    pub const LEN: usize = 32;
    /// The least that holds the key and ContextLength.
    pub const MIN_LEN: usize = RESUME_KEY_LEN + 4;
    /// The MaxOutputResponse a client asks with: room for what servers
    /// send, which "MUST" fit (a smaller buffer is STATUS_INVALID_PARAMETER,
    /// §3.3.5.15.5).
    pub const MAX_OUTPUT: u32 = 64;

    /// Decodes the IOCTL's output buffer: at least
    /// [`ResumeKeyResponse::MIN_LEN`] bytes; the Context after them is
    /// ignored, whatever ContextLength says.
    pub fn decode(output: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(output);
        Ok(ResumeKeyResponse {
            resume_key: r.array("SRV_REQUEST_RESUME_KEY ResumeKey")?,
            context_length: r.u32("SRV_REQUEST_RESUME_KEY ContextLength")?,
        })
    }

    /// The 32 bytes a server sends (for test servers and round trips):
    /// the key, ContextLength, and 4 zero bytes of Context.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&self.resume_key).u32(self.context_length).zeros(4);
        w.into_vec()
    }
}

/// SRV_COPYCHUNK (MS-SMB2 §2.2.31.1.1; MS-SMB §2.2.7.2.1.1): one range to
/// copy. 24 bytes: SourceOffset (8), TargetOffset (8), Length (4),
/// Reserved (4, "SHOULD be set to zero and MUST be ignored on receipt").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// SourceOffset: where in the source file the range starts.
    pub source_offset: u64,
    /// TargetOffset: where in the destination file it goes.
    pub target_offset: u64,
    /// Length: "The number of bytes of data to copy" (a server refuses 0
    /// and more than its ServerSideCopyMaxChunkSize).
    pub length: u32,
}

impl Chunk {
    /// The size of one SRV_COPYCHUNK.
    pub const LEN: usize = 24;
}

/// SRV_COPYCHUNK_COPY (MS-SMB2 §2.2.31.1; MS-SMB §2.2.7.2.1.1): the input
/// of FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE. SourceKey (24),
/// ChunkCount (4), Reserved (4, "MUST be set to 0 by the client"), then
/// ChunkCount SRV_COPYCHUNK entries ("This array MUST be of a length
/// equal to ChunkCount * size of SRV_COPYCHUNK").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopychunkCopy {
    /// SourceKey: the [`ResumeKeyResponse::resume_key`] of the source.
    pub source_key: [u8; RESUME_KEY_LEN],
    /// Chunks: the ranges to copy, in order.
    pub chunks: Vec<Chunk>,
}

impl CopychunkCopy {
    /// The fixed part before the chunks.
    pub const HEADER_LEN: usize = RESUME_KEY_LEN + 8;

    /// The IOCTL input buffer.
    ///
    /// # Errors
    ///
    /// If there are more chunks than ChunkCount (32-bit) can count.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let count = count_u32(self.chunks.len(), "SRV_COPYCHUNK_COPY ChunkCount", "chunks")?;
        let mut w = Writer::new();
        w.bytes(&self.source_key).u32(count).u32(0);
        for c in &self.chunks {
            w.u64(c.source_offset)
                .u64(c.target_offset)
                .u32(c.length)
                .u32(0);
        }
        Ok(w.into_vec())
    }

    /// Decodes the input buffer (for test servers and round trips):
    /// exactly ChunkCount entries, nothing after them. Nothing is allocated
    /// beyond what the buffer holds.
    pub fn decode(input: &[u8]) -> Result<Self, DecodeError> {
        let what = "SRV_COPYCHUNK_COPY";
        let mut r = Reader::new(input);
        let source_key = r.array("SRV_COPYCHUNK_COPY SourceKey")?;
        let count = r.u32("SRV_COPYCHUNK_COPY ChunkCount")? as usize;
        r.skip(4, "SRV_COPYCHUNK_COPY Reserved")?;
        let fits = count
            .checked_mul(Chunk::LEN)
            .is_some_and(|n| n == r.remaining());
        if !fits {
            return Err(DecodeError::invalid(
                what,
                format!(
                    "ChunkCount {count} needs {} bytes of chunks, {} follow",
                    count.saturating_mul(Chunk::LEN),
                    r.remaining()
                ),
            ));
        }
        let mut chunks = Vec::with_capacity(count);
        for _ in 0..count {
            let source_offset = r.u64("SRV_COPYCHUNK SourceOffset")?;
            let target_offset = r.u64("SRV_COPYCHUNK TargetOffset")?;
            let length = r.u32("SRV_COPYCHUNK Length")?;
            r.skip(4, "SRV_COPYCHUNK Reserved")?;
            chunks.push(Chunk {
                source_offset,
                target_offset,
                length,
            });
        }
        r.expect_end(what)?;
        Ok(CopychunkCopy { source_key, chunks })
    }
}

/// SRV_COPYCHUNK_RESPONSE (MS-SMB2 §2.2.32.1; MS-SMB §2.2.7.2.2.1): the
/// output of FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE, 12 bytes.
///
/// What the fields mean depends on the status of the response. Unless it
/// is STATUS_INVALID_PARAMETER: ChunksWritten, "the number of chunks that
/// were successfully written"; ChunkBytesWritten, "the number of bytes
/// written in the last chunk that did not successfully process (if a
/// partial write occurred)"; TotalBytesWritten, "the total number of
/// bytes written in the server-side copy operation". With
/// STATUS_INVALID_PARAMETER they are the server's limits
/// ([`CopychunkResponse::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopychunkResponse {
    /// ChunksWritten.
    pub chunks_written: u32,
    /// ChunkBytesWritten.
    pub chunk_bytes_written: u32,
    /// TotalBytesWritten.
    pub total_bytes_written: u32,
}

impl CopychunkResponse {
    /// The size of the structure.
    pub const LEN: usize = 12;

    /// Decodes the IOCTL's output buffer, which must be exactly the
    /// 12-byte structure (§3.3.5.15.6.2: "OutputCount MUST be set to 12").
    pub fn decode(output: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(output);
        let v = CopychunkResponse {
            chunks_written: r.u32("SRV_COPYCHUNK_RESPONSE ChunksWritten")?,
            chunk_bytes_written: r.u32("SRV_COPYCHUNK_RESPONSE ChunkBytesWritten")?,
            total_bytes_written: r.u32("SRV_COPYCHUNK_RESPONSE TotalBytesWritten")?,
        };
        r.expect_end("SRV_COPYCHUNK_RESPONSE")?;
        Ok(v)
    }

    /// The 12 bytes (for test servers and round trips).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.chunks_written)
            .u32(self.chunk_bytes_written)
            .u32(self.total_bytes_written);
        w.into_vec()
    }

    /// The server's limits, which is what the fields hold when the
    /// response's status is STATUS_INVALID_PARAMETER (§2.2.32.1:
    /// ChunksWritten "indicates the maximum number of chunks that the
    /// server will accept in a single request", ChunkBytesWritten "the
    /// maximum number of bytes the server will allow to be written in a
    /// single chunk", TotalBytesWritten "the maximum number of bytes the
    /// server will accept to copy in a single request").
    pub fn limits(&self) -> CopychunkLimits {
        CopychunkLimits {
            max_chunks: self.chunks_written,
            max_chunk_size: self.chunk_bytes_written,
            max_total: self.total_bytes_written,
        }
    }

    /// The response a server sends with STATUS_INVALID_PARAMETER to say
    /// `limits` (for test servers).
    pub fn from_limits(limits: CopychunkLimits) -> Self {
        CopychunkResponse {
            chunks_written: limits.max_chunks,
            chunk_bytes_written: limits.max_chunk_size,
            total_bytes_written: limits.max_total,
        }
    }
}

/// How much one SRV_COPYCHUNK_COPY may ask for: the server's
/// ServerSideCopyMaxNumberofChunks, ServerSideCopyMaxChunkSize and
/// ServerSideCopyMaxDataSize (MS-SMB2 §3.3.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopychunkLimits {
    /// The most chunks in one request.
    pub max_chunks: u32,
    /// The largest chunk.
    pub max_chunk_size: u32,
    /// The most bytes one request copies, all its chunks together.
    pub max_total: u32,
}

impl CopychunkLimits {
    /// The defaults of MS-SMB2 §3.3.3 (and what Windows and Samba use):
    /// 256 chunks, 1 MiB per chunk, 16 MiB per request.
    pub const DEFAULT: CopychunkLimits = CopychunkLimits {
        max_chunks: 256,
        max_chunk_size: 1024 * 1024,
        max_total: 16 * 1024 * 1024,
    };

    /// True when the limits allow a request at all: none of them is 0.
    pub fn is_usable(&self) -> bool {
        self.max_chunks > 0 && self.max_chunk_size > 0 && self.max_total > 0
    }

    /// True when every request these limits allow is allowed by `other`
    /// as well.
    pub fn within(&self, other: &CopychunkLimits) -> bool {
        self.max_chunks <= other.max_chunks
            && self.max_chunk_size <= other.max_chunk_size
            && self.max_total <= other.max_total
    }

    /// The tighter of each limit of `self` and `other`.
    pub fn min(&self, other: &CopychunkLimits) -> CopychunkLimits {
        CopychunkLimits {
            max_chunks: self.max_chunks.min(other.max_chunks),
            max_chunk_size: self.max_chunk_size.min(other.max_chunk_size),
            max_total: self.max_total.min(other.max_total),
        }
    }

    /// The chunks of one request copying `[offset, end)` to the same
    /// offsets in the destination, within these limits: each at most
    /// `max_chunk_size` bytes (the total capped by `max_total`), at most
    /// `max_chunks` of them. Empty when the range is, or when the limits
    /// are not [usable](CopychunkLimits::is_usable).
    pub fn chunks_from(&self, offset: u64, end: u64) -> Vec<Chunk> {
        let mut out = Vec::new();
        if !self.is_usable() {
            return out;
        }
        let mut at = offset;
        let mut budget = u64::from(self.max_total);
        while at < end && budget > 0 && out.len() < self.max_chunks as usize {
            let len = (end - at).min(u64::from(self.max_chunk_size)).min(budget);
            out.push(Chunk {
                source_offset: at,
                target_offset: at,
                length: len as u32,
            });
            at += len;
            budget -= len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::create::FileId;
    use crate::smb2::ioctl::{ctl_code, IoctlResponse};
    use crate::smb2::testutil::{assert_truncations_fail, mutate_never_panics, response_writer};
    use crate::types::{Command, NtStatus};

    const KEY: [u8; 24] = [
        0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // persistent id
        0x1f, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // volatile id
        0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x02, 0x03, 0x04, // server-chosen
    ];

    /// An IOCTL response as a server sends it: InputOffset at the Buffer,
    /// no input, the output at offset 112.
    fn ioctl_response(code: u32, status: NtStatus, output: &[u8]) -> Vec<u8> {
        let mut w = response_writer(Command::IOCTL, status);
        IoctlResponse {
            ctl_code: code,
            file_id: FileId {
                persistent: 0x2d,
                volatile: 0x3c1f,
            },
            input: vec![],
            output: output.to_vec(),
            flags: 0,
        }
        .encode(&mut w)
        .unwrap();
        w.into_vec()
    }

    #[test]
    fn resume_key_response_as_a_server_sends_it() {
        // §3.3.5.15.5: OutputCount 32, the key, ContextLength 0, 4 bytes.
        let mut out = KEY.to_vec();
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        let msg = ioctl_response(
            ctl_code::FSCTL_SRV_REQUEST_RESUME_KEY,
            NtStatus::SUCCESS,
            &out,
        );
        #[rustfmt::skip]
        let fixed: &[u8] = &[
            0x31, 0x00, 0x00, 0x00, // StructureSize 49, Reserved
            0x78, 0x00, 0x14, 0x00, // FSCTL_SRV_REQUEST_RESUME_KEY
            0x2d, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0x3c, 0, 0, 0, 0, 0, 0,
            0x70, 0x00, 0x00, 0x00, // InputOffset 112
            0x00, 0x00, 0x00, 0x00, // InputCount
            0x70, 0x00, 0x00, 0x00, // OutputOffset 112
            0x20, 0x00, 0x00, 0x00, // OutputCount 32
            0x00, 0x00, 0x00, 0x00, // Flags
            0x00, 0x00, 0x00, 0x00, // Reserved2
        ];
        assert_eq!(&msg[64..112], fixed);
        let output = IoctlResponse::decode(&msg).unwrap().output;
        let r = ResumeKeyResponse::decode(&output).unwrap();
        assert_eq!(
            r,
            ResumeKeyResponse {
                resume_key: KEY,
                context_length: 0
            }
        );
        assert_eq!(r.to_bytes(), out);
        assert_eq!(r.to_bytes().len(), ResumeKeyResponse::LEN);
        // The key and ContextLength are needed; the Context is not, and a
        // ContextLength that promises more is ignored as the spec says.
        assert_truncations_fail(
            &out[..ResumeKeyResponse::MIN_LEN],
            ResumeKeyResponse::decode,
        );
        assert!(ResumeKeyResponse::decode(&out[..ResumeKeyResponse::MIN_LEN]).is_ok());
        let mut odd = out.clone();
        odd[24..28].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(ResumeKeyResponse::decode(&odd).unwrap().resume_key, KEY);
        mutate_never_panics(&out, ResumeKeyResponse::decode);
    }

    #[test]
    fn copychunk_copy_layout_and_round_trip() {
        let req = CopychunkCopy {
            source_key: KEY,
            chunks: vec![
                Chunk {
                    source_offset: 0,
                    target_offset: 0,
                    length: 0x10_0000,
                },
                Chunk {
                    source_offset: 0x10_0000,
                    target_offset: 0x1_0010_0000,
                    length: 0x1234,
                },
            ],
        };
        let b = req.to_bytes().unwrap();
        assert_eq!(b.len(), CopychunkCopy::HEADER_LEN + 2 * Chunk::LEN);
        assert_eq!(&b[..24], &KEY);
        #[rustfmt::skip]
        let rest: &[u8] = &[
            0x02, 0x00, 0x00, 0x00, // ChunkCount 2
            0x00, 0x00, 0x00, 0x00, // Reserved
            0, 0, 0, 0, 0, 0, 0, 0, // SourceOffset 0
            0, 0, 0, 0, 0, 0, 0, 0, // TargetOffset 0
            0x00, 0x00, 0x10, 0x00, // Length 1 MiB
            0x00, 0x00, 0x00, 0x00, // Reserved
            0x00, 0x00, 0x10, 0x00, 0, 0, 0, 0, // SourceOffset 1 MiB
            0x00, 0x00, 0x10, 0x00, 1, 0, 0, 0, // TargetOffset 4 GiB + 1 MiB
            0x34, 0x12, 0x00, 0x00, // Length 0x1234
            0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(&b[24..], rest);
        assert_eq!(CopychunkCopy::decode(&b).unwrap(), req);
        assert_truncations_fail(&b, CopychunkCopy::decode);
        mutate_never_panics(&b, CopychunkCopy::decode);

        // No chunks: the header alone.
        let none = CopychunkCopy {
            source_key: KEY,
            chunks: vec![],
        };
        let b = none.to_bytes().unwrap();
        assert_eq!(b.len(), 32);
        assert_eq!(CopychunkCopy::decode(&b).unwrap(), none);
    }

    #[test]
    fn hostile_copychunk_copies_fail() {
        let one = CopychunkCopy {
            source_key: KEY,
            chunks: vec![Chunk {
                source_offset: 1,
                target_offset: 2,
                length: 3,
            }],
        };
        let good = one.to_bytes().unwrap();
        let with_count = |n: u32| {
            let mut m = good.clone();
            m[24..28].copy_from_slice(&n.to_le_bytes());
            CopychunkCopy::decode(&m)
        };
        assert!(with_count(1).is_ok());
        assert!(with_count(0).is_err()); // a chunk left over
        assert!(with_count(2).is_err()); // one missing
                                         // A count whose array would be huge: no allocation, just an error.
        assert!(with_count(u32::MAX).is_err());
        assert!(with_count(0x0AAA_AAAB).is_err()); // wraps a 32-bit multiply
        let mut longer = good.clone();
        longer.push(0);
        assert!(CopychunkCopy::decode(&longer).is_err());
    }

    #[test]
    fn copychunk_response_of_a_finished_copy() {
        let resp = CopychunkResponse {
            chunks_written: 16,
            chunk_bytes_written: 0,
            total_bytes_written: 16 << 20,
        };
        let out = resp.to_bytes();
        assert_eq!(out, [0x10, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01]);
        let msg = ioctl_response(ctl_code::FSCTL_SRV_COPYCHUNK_WRITE, NtStatus::SUCCESS, &out);
        assert_eq!(&msg[100..104], &[12, 0, 0, 0]); // OutputCount 12
        let output = IoctlResponse::decode(&msg).unwrap().output;
        assert_eq!(CopychunkResponse::decode(&output).unwrap(), resp);
        assert_truncations_fail(&out, CopychunkResponse::decode);
        let mut longer = out.clone();
        longer.push(0);
        assert!(CopychunkResponse::decode(&longer).is_err());
        mutate_never_panics(&msg, |m| {
            IoctlResponse::decode(m).and_then(|r| CopychunkResponse::decode(&r.output))
        });
    }

    #[test]
    fn invalid_parameter_response_carries_the_limits() {
        // §3.3.5.15.6.2: STATUS_INVALID_PARAMETER, OutputCount 12, the
        // limits in the three fields (here Samba's and Windows' defaults).
        #[rustfmt::skip]
        let out: &[u8] = &[
            0x00, 0x01, 0x00, 0x00, // ServerSideCopyMaxNumberofChunks 256
            0x00, 0x00, 0x10, 0x00, // ServerSideCopyMaxChunkSize 1 MiB
            0x00, 0x00, 0x00, 0x01, // ServerSideCopyMaxDataSize 16 MiB
        ];
        let msg = ioctl_response(
            ctl_code::FSCTL_SRV_COPYCHUNK_WRITE,
            NtStatus::INVALID_PARAMETER,
            out,
        );
        let output = IoctlResponse::decode(&msg).unwrap().output;
        let limits = CopychunkResponse::decode(&output).unwrap().limits();
        assert_eq!(limits, CopychunkLimits::DEFAULT);
        assert_eq!(
            CopychunkResponse::from_limits(limits).to_bytes(),
            out.to_vec()
        );
    }

    #[test]
    fn limits_compare_and_combine() {
        let d = CopychunkLimits::DEFAULT;
        let small = CopychunkLimits {
            max_chunks: 16,
            max_chunk_size: 65536,
            max_total: 1 << 20,
        };
        assert!(d.is_usable() && small.is_usable());
        assert!(small.within(&d) && !d.within(&small) && d.within(&d));
        assert_eq!(d.min(&small), small);
        let odd = CopychunkLimits {
            max_chunks: 1000,
            max_chunk_size: 4096,
            max_total: 1 << 30,
        };
        assert_eq!(
            d.min(&odd),
            CopychunkLimits {
                max_chunks: 256,
                max_chunk_size: 4096,
                max_total: 16 << 20
            }
        );
        for zero in [
            CopychunkLimits { max_chunks: 0, ..d },
            CopychunkLimits {
                max_chunk_size: 0,
                ..d
            },
            CopychunkLimits { max_total: 0, ..d },
        ] {
            assert!(!zero.is_usable());
            assert!(zero.chunks_from(0, 100).is_empty());
        }
    }

    #[test]
    fn chunks_follow_the_limits() {
        let l = CopychunkLimits {
            max_chunks: 16,
            max_chunk_size: 1 << 20,
            max_total: 16 << 20,
        };
        // Exactly one chunk.
        assert_eq!(
            l.chunks_from(0, 1 << 20),
            [Chunk {
                source_offset: 0,
                target_offset: 0,
                length: 1 << 20
            }]
        );
        // A short tail.
        let c = l.chunks_from(5, (3 << 20) + 7);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].source_offset, 5);
        assert_eq!(c[3].length, 2);
        assert_eq!(
            c.iter().map(|c| u64::from(c.length)).sum::<u64>(),
            (3 << 20) + 2
        );
        assert!(c.iter().all(|c| c.source_offset == c.target_offset));
        // Stops at the count, and at the total.
        let c = l.chunks_from(0, 100 << 20);
        assert_eq!(c.len(), 16);
        assert_eq!(c.last().unwrap().source_offset, 15 << 20);
        let by_total = CopychunkLimits {
            max_total: (2 << 20) + 1,
            ..l
        };
        let c = by_total.chunks_from(0, 100 << 20);
        assert_eq!(
            c.iter().map(|c| c.length).collect::<Vec<_>>(),
            [1 << 20, 1 << 20, 1]
        );
        // Contiguous, in order.
        for w in c.windows(2) {
            assert_eq!(
                w[0].source_offset + u64::from(w[0].length),
                w[1].source_offset
            );
        }
        assert!(l.chunks_from(10, 10).is_empty());
        assert!(l.chunks_from(10, 5).is_empty());
        // Near the end of the offset space: no overflow.
        let c = l.chunks_from(u64::MAX - 3, u64::MAX);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].length, 3);
    }
}
