//! A small, bounded NDR 2.0 encoder and decoder (C706 chapter 14; the
//! transfer syntax id is in MS-RPCE §2.2.4.12) for little-endian stubs.
//!
//! Only what MS-SRVS share enumeration needs is here:
//!
//! * primitives — `u8`, `u16`, `u32`, `u64` — each aligned to its own size
//!   (C706 §14.2.2). Alignment is relative to the start of the stub, which
//!   is why a writer and a reader each cover exactly one stub;
//! * pointers (C706 §14.3.10–§14.3.12): a unique or full pointer is a
//!   4-byte referent id, 0 for NULL; the pointee of a top-level pointer
//!   follows at once, the pointee of an embedded pointer is deferred until
//!   the end of the enclosing top-level construct. The writer hands out
//!   referent ids; the *order* of deferred pointees is the caller's job;
//! * conformant arrays (C706 §14.3.3.2): a `max_count` then the elements;
//! * conformant varying strings, `[string] wchar_t*` (C706 §14.3.4):
//!   `max_count`, `offset`, `actual_count`, then
//!   `actual_count` UTF-16 code units including the terminating NUL.
//!
//! The reader validates every count against the bytes that remain before
//! it allocates, and never panics on any input.

use crate::codec::{
    count_u32, from_utf16le, from_utf16le_lossy, DecodeError, EncodeError, Reader, Writer,
};

/// The first referent id [`NdrWriter`] hands out; later ids step by 4, as
/// MIDL-generated stubs do (any non-zero value is valid, C706 §14.3.10).
pub const FIRST_REFERENT_ID: u32 = 0x0002_0000;

/// The largest `max_count` [`NdrReader::wstring`] accepts, in UTF-16 code
/// units (64 Ki units, 128 KiB). A conformant varying string's `max_count`
/// says how much the receiver should allocate, not how much is on the
/// wire, so it is capped outright rather than against the buffer.
pub const MAX_WSTRING_UNITS: usize = 1 << 16;

/// Appends NDR 2.0 little-endian data to one stub.
#[derive(Debug, Clone)]
pub struct NdrWriter {
    w: Writer,
    next_referent: u32,
}

impl Default for NdrWriter {
    fn default() -> Self {
        NdrWriter::new()
    }
}

impl NdrWriter {
    /// An empty stub.
    pub fn new() -> Self {
        NdrWriter {
            w: Writer::new(),
            next_referent: FIRST_REFERENT_ID,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.w.len()
    }

    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }

    /// The stub so far.
    pub fn as_slice(&self) -> &[u8] {
        self.w.as_slice()
    }

    /// The finished stub.
    pub fn into_vec(self) -> Vec<u8> {
        self.w.into_vec()
    }

    /// Pads with zeros to a multiple of `align` bytes from the stub start
    /// (C706 §14.2.2).
    pub fn align(&mut self, align: usize) -> &mut Self {
        self.w.align(align.max(1));
        self
    }

    /// Appends a `small` / `byte` (no alignment).
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.w.u8(v);
        self
    }

    /// Appends a 2-byte-aligned `short`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.align(2);
        self.w.u16(v);
        self
    }

    /// Appends a 4-byte-aligned `long` (DWORD).
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.align(4);
        self.w.u32(v);
        self
    }

    /// Appends an 8-byte-aligned `hyper`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.align(8);
        self.w.u64(v);
        self
    }

    /// Appends a non-NULL unique/full pointer: a fresh referent id, which is
    /// returned (C706 §14.3.11, §14.3.12). The pointee must follow —
    /// at once for a top-level pointer, after the enclosing construct for
    /// an embedded one.
    pub fn referent(&mut self) -> u32 {
        let id = self.next_referent;
        self.next_referent = self.next_referent.wrapping_add(4).max(4);
        self.u32(id);
        id
    }

    /// Appends a NULL unique pointer (referent id 0).
    pub fn null_pointer(&mut self) -> &mut Self {
        self.u32(0)
    }

    /// Appends the body of a conformant varying string (C706 §14.3.4):
    /// `max_count` = `actual_count` = UTF-16 units of `s` plus the
    /// terminator, `offset` 0, the units, the NUL, then zero padding to a
    /// 4-byte boundary.
    ///
    /// # Errors
    ///
    /// If `s` has 4 Gi UTF-16 units or more (the counts are 32-bit); then
    /// nothing is written.
    pub fn wstring(&mut self, s: &str) -> Result<&mut Self, EncodeError> {
        let units = s.encode_utf16().count().saturating_add(1);
        let count = count_u32(
            units,
            "NDR conformant varying string max_count",
            "UTF-16 units",
        )?;
        self.u32(count).u32(0).u32(count);
        self.w.utf16(s).u16(0);
        Ok(self.align(4))
    }

    /// Appends a top-level `[unique, string] wchar_t*`: NULL for `None`,
    /// otherwise a referent id immediately followed by the string
    /// (C706 §14.3.11).
    ///
    /// # Errors
    ///
    /// As [`NdrWriter::wstring`].
    pub fn unique_wstring(&mut self, s: Option<&str>) -> Result<&mut Self, EncodeError> {
        match s {
            None => Ok(self.null_pointer()),
            Some(s) => {
                self.referent();
                self.wstring(s)
            }
        }
    }
}

/// Reads NDR 2.0 little-endian data from one stub. Alignment is relative
/// to the start of the slice it was created over.
#[derive(Debug, Clone)]
pub struct NdrReader<'a> {
    r: Reader<'a>,
}

impl<'a> NdrReader<'a> {
    /// A reader at the start of `stub`.
    pub fn new(stub: &'a [u8]) -> Self {
        NdrReader {
            r: Reader::new(stub),
        }
    }

    /// Offset from the stub start.
    pub fn position(&self) -> usize {
        self.r.position()
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.r.remaining()
    }

    /// Skips padding to a multiple of `align` bytes from the stub start
    /// (C706 §14.2.2). The padding's value is not checked.
    pub fn align(&mut self, align: usize, what: &'static str) -> Result<(), DecodeError> {
        let align = align.max(1);
        let pad = (align - self.r.position() % align) % align;
        self.r.skip(pad, what)
    }

    /// Reads a `small` / `byte`.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.r.u8(what)
    }

    /// Reads a 2-byte-aligned `short`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.align(2, what)?;
        self.r.u16(what)
    }

    /// Reads a 4-byte-aligned `long` (DWORD).
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.align(4, what)?;
        self.r.u32(what)
    }

    /// Reads an 8-byte-aligned `hyper`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.align(8, what)?;
        self.r.u64(what)
    }

    /// Reads a unique/full pointer's referent id: `None` for NULL (C706
    /// §14.3.10). A non-NULL pointee must then be read where NDR puts it.
    pub fn unique_pointer(&mut self, what: &'static str) -> Result<Option<u32>, DecodeError> {
        let id = self.u32(what)?;
        Ok((id != 0).then_some(id))
    }

    /// Reads an embedded `[ref]` pointer, which must not be NULL (C706
    /// §14.3.12).
    pub fn ref_pointer(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        match self.u32(what)? {
            0 => Err(DecodeError::invalid(what, "NULL [ref] pointer")),
            id => Ok(id),
        }
    }

    /// Reads the `max_count` of a conformant array (C706 §14.3.3.2) whose
    /// elements, `element_size` bytes each, follow immediately, and checks
    /// that that many elements fit in what remains, so the caller may
    /// allocate `max_count` elements.
    pub fn conformance(
        &mut self,
        element_size: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        let count = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        let bytes = count.saturating_mul(element_size);
        if bytes > self.remaining() {
            return Err(DecodeError::TooLarge {
                what,
                length: bytes,
                limit: self.remaining(),
            });
        }
        Ok(count)
    }

    /// Reads a conformant varying string of `wchar_t` (C706 §14.3.4) and
    /// returns its UTF-16LE bytes up to (not including) the first NUL.
    ///
    /// Rejected: `max_count` over [`MAX_WSTRING_UNITS`], a non-zero
    /// `offset` (a `[string]` is always sent from its first element),
    /// `actual_count` above `max_count`, and `actual_count` units that are
    /// not all present. Tolerated: a missing terminator and
    /// `actual_count` 0 (an empty string), which some implementations send.
    pub fn wstring_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let max_count = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        let offset = self.u32(what)?;
        let actual_count = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        if max_count > MAX_WSTRING_UNITS {
            return Err(DecodeError::TooLarge {
                what,
                length: max_count,
                limit: MAX_WSTRING_UNITS,
            });
        }
        if offset != 0 {
            return Err(DecodeError::invalid(
                what,
                format!("string offset {offset}, expected 0"),
            ));
        }
        if actual_count > max_count {
            return Err(DecodeError::invalid(
                what,
                format!("actual_count {actual_count} exceeds max_count {max_count}"),
            ));
        }
        // actual_count <= MAX_WSTRING_UNITS, so this cannot overflow.
        let raw = self.r.take(actual_count * 2, what)?;
        let end = raw
            .chunks_exact(2)
            .position(|u| u == [0, 0])
            .map_or(raw.len(), |i| i * 2);
        Ok(&raw[..end])
    }

    /// [`NdrReader::wstring_bytes`] decoded as UTF-16; an unpaired
    /// surrogate is an error.
    pub fn wstring(&mut self, what: &'static str) -> Result<String, DecodeError> {
        from_utf16le(self.wstring_bytes(what)?, what)
    }

    /// [`NdrReader::wstring_bytes`] decoded as UTF-16, replacing unpaired
    /// surrogates with U+FFFD (for display-only text).
    pub fn wstring_lossy(&mut self, what: &'static str) -> Result<String, DecodeError> {
        Ok(from_utf16le_lossy(self.wstring_bytes(what)?))
    }

    /// Fails unless the whole stub has been read.
    pub fn expect_end(&self, what: &'static str) -> Result<(), DecodeError> {
        self.r.expect_end(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_align_relative_to_stub_start() {
        let mut w = NdrWriter::new();
        w.u8(1).u16(2).u8(3).u32(4).u8(5).u64(6);
        let b = w.into_vec();
        // u8 at 0, u16 at 2, u8 at 4, u32 at 8, u8 at 12, u64 at 16.
        assert_eq!(
            b,
            [1, 0, 2, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut r = NdrReader::new(&b);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u8("c").unwrap(), 3);
        assert_eq!(r.u32("d").unwrap(), 4);
        assert_eq!(r.u8("e").unwrap(), 5);
        assert_eq!(r.u64("f").unwrap(), 6);
        r.expect_end("end").unwrap();
    }

    #[test]
    fn wstring_layout_and_round_trip() {
        let mut w = NdrWriter::new();
        w.unique_wstring(Some("ab"))
            .unwrap()
            .unique_wstring(None)
            .unwrap()
            .u32(7);
        let b = w.into_vec();
        assert_eq!(
            b,
            [
                0x00, 0x00, 0x02, 0x00, // referent id
                3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // max, offset, actual
                b'a', 0, b'b', 0, 0, 0, 0, 0, // "ab\0" + 2 bytes pad
                0, 0, 0, 0, // NULL pointer
                7, 0, 0, 0,
            ]
        );
        let mut r = NdrReader::new(&b);
        assert_eq!(r.unique_pointer("p").unwrap(), Some(FIRST_REFERENT_ID));
        assert_eq!(r.wstring("s").unwrap(), "ab");
        assert_eq!(r.unique_pointer("p").unwrap(), None);
        assert_eq!(r.u32("x").unwrap(), 7);
        r.expect_end("end").unwrap();
    }

    #[test]
    fn referent_ids_step_by_four() {
        let mut w = NdrWriter::new();
        assert_eq!(w.referent(), 0x0002_0000);
        assert_eq!(w.referent(), 0x0002_0004);
        assert_eq!(w.referent(), 0x0002_0008);
    }

    fn string_header(max: u32, offset: u32, actual: u32) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(max).u32(offset).u32(actual);
        w.into_vec()
    }

    #[test]
    fn hostile_string_headers() {
        // Huge max_count.
        let mut b = string_header(u32::MAX, 0, 1);
        b.extend_from_slice(&[0, 0]);
        assert!(matches!(
            NdrReader::new(&b).wstring("s"),
            Err(DecodeError::TooLarge { .. })
        ));
        // actual_count > max_count.
        let mut b = string_header(1, 0, 2);
        b.extend_from_slice(&[b'a', 0, 0, 0]);
        assert!(matches!(
            NdrReader::new(&b).wstring("s"),
            Err(DecodeError::Invalid { .. })
        ));
        // Non-zero offset.
        let mut b = string_header(2, 1, 1);
        b.extend_from_slice(&[0, 0]);
        assert!(matches!(
            NdrReader::new(&b).wstring("s"),
            Err(DecodeError::Invalid { .. })
        ));
        // actual_count larger than the buffer.
        let mut b = string_header(1000, 0, 1000);
        b.extend_from_slice(&[b'a', 0]);
        assert!(matches!(
            NdrReader::new(&b).wstring("s"),
            Err(DecodeError::Truncated { .. })
        ));
        // Unpaired surrogate: strict fails, lossy substitutes.
        let mut b = string_header(2, 0, 2);
        b.extend_from_slice(&[0x00, 0xD8, 0, 0]);
        assert!(NdrReader::new(&b).wstring("s").is_err());
        assert_eq!(NdrReader::new(&b).wstring_lossy("s").unwrap(), "\u{FFFD}");
    }

    #[test]
    fn lenient_terminator_handling() {
        // actual_count 0.
        let b = string_header(0, 0, 0);
        assert_eq!(NdrReader::new(&b).wstring("s").unwrap(), "");
        // No terminator.
        let mut b = string_header(2, 0, 2);
        b.extend_from_slice(&[b'h', 0, b'i', 0]);
        assert_eq!(NdrReader::new(&b).wstring("s").unwrap(), "hi");
        // Embedded NUL cuts the string, as C would.
        let mut b = string_header(3, 0, 3);
        b.extend_from_slice(&[b'h', 0, 0, 0, b'i', 0]);
        assert_eq!(NdrReader::new(&b).wstring("s").unwrap(), "h");
    }

    #[test]
    fn conformance_is_checked_against_the_buffer() {
        let mut w = NdrWriter::new();
        w.u32(3).u32(0).u32(0);
        let b = w.into_vec();
        assert!(NdrReader::new(&b).conformance(4, "a").is_err());
        assert_eq!(NdrReader::new(&b).conformance(4, "a").ok(), None);
        let mut w = NdrWriter::new();
        w.u32(2).u32(0).u32(0);
        let b = w.into_vec();
        assert_eq!(NdrReader::new(&b).conformance(4, "a").unwrap(), 2);
        let mut w = NdrWriter::new();
        w.u32(u32::MAX);
        let b = w.into_vec();
        assert!(NdrReader::new(&b).conformance(12, "a").is_err());
    }

    #[test]
    fn ref_pointer_rejects_null() {
        assert!(NdrReader::new(&[0, 0, 0, 0]).ref_pointer("p").is_err());
        assert_eq!(NdrReader::new(&[4, 0, 0, 0]).ref_pointer("p").unwrap(), 4);
    }

    #[test]
    fn truncated_reads_fail_cleanly() {
        let mut w = NdrWriter::new();
        w.unique_wstring(Some("share")).unwrap().u64(9);
        let b = w.into_vec();
        for n in 0..b.len() {
            let mut r = NdrReader::new(&b[..n]);
            let res = r
                .unique_pointer("p")
                .and_then(|_| r.wstring("s"))
                .and_then(|_| r.u64("x"));
            assert!(res.is_err(), "prefix of {n} bytes decoded");
        }
    }
}
