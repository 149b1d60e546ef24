//! Bounds-checked little-endian readers and writers shared by every codec.
//!
//! Every value taken from the wire goes through [`Reader`], whose every take is
//! checked against the bytes that remain, so a truncated or hostile message
//! becomes a [`DecodeError`] and never a panic. Offsets and lengths that the
//! wire carries are validated with [`Reader::slice_at`] / [`checked_range`]
//! using checked arithmetic.
//!
//! The other way, [`Writer`] appends; an encoder whose input can hold a
//! value that its wire field cannot carry (a name longer than a 16-bit
//! length field allows, more entries than a count can say) returns an
//! [`EncodeError`] naming the field, the value and the limit instead of
//! truncating it or panicking. After an error the writer holds a partial
//! message and is to be discarded.

use thiserror::Error;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message ended before a field that the format requires.
    #[error("message truncated: {what} needs {needed} bytes, {available} available")]
    Truncated {
        /// The field or structure being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A field holds a value that the specification does not allow.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field or structure.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// An offset/length pair points outside the message.
    #[error("{what} (offset {offset}, length {length}) lies outside the {bound}-byte message")]
    OutOfBounds {
        /// The field.
        what: &'static str,
        /// The offset the wire gave.
        offset: usize,
        /// The length the wire gave.
        length: usize,
        /// The size of the enclosing message.
        bound: usize,
    },
    /// A length from the wire exceeds a limit this implementation enforces.
    #[error("{what} of {length} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The length the wire gave.
        length: usize,
        /// The limit.
        limit: usize,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Invalid`].
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        DecodeError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// Why a message could not be encoded: the input holds something that the
/// wire format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A length, offset or count does not fit the field that carries it
    /// (for example a path whose UTF-16 form is longer than the 16-bit
    /// NameLength of an SMB2 CREATE can say). Displays as "SMB2 CREATE
    /// NameLength: 80000 bytes, the limit is 65535".
    #[error("{what}: {actual} {unit}, the limit is {limit}")]
    TooLarge {
        /// The message and field, e.g. "SMB2 CREATE NameLength".
        what: &'static str,
        /// What is counted: "bytes", or the items of a count ("ACEs").
        unit: &'static str,
        /// The value the input asked for.
        actual: usize,
        /// The largest value the field can carry.
        limit: usize,
    },
    /// A value the format cannot express at all, whatever its length (a
    /// NUL inside a NUL-terminated string).
    #[error("{what}: {detail}")]
    Invalid {
        /// The message and field.
        what: &'static str,
        /// What is wrong with the value.
        detail: &'static str,
    },
}

impl EncodeError {
    /// A length of `actual` bytes over `limit`.
    pub fn too_long(what: &'static str, actual: usize, limit: usize) -> Self {
        EncodeError::TooLarge {
            what,
            unit: "bytes",
            actual,
            limit,
        }
    }

    /// A count of `actual` items (`unit`, e.g. "ACEs") over `limit`.
    pub fn too_many(what: &'static str, unit: &'static str, actual: usize, limit: usize) -> Self {
        EncodeError::TooLarge {
            what,
            unit,
            actual,
            limit,
        }
    }
}

/// Converts a length or offset in bytes to an 8-bit wire field.
pub fn wire_u8(value: usize, what: &'static str) -> Result<u8, EncodeError> {
    u8::try_from(value).map_err(|_| EncodeError::too_long(what, value, usize::from(u8::MAX)))
}

/// Converts a length or offset in bytes to a 16-bit wire field.
pub fn wire_u16(value: usize, what: &'static str) -> Result<u16, EncodeError> {
    u16::try_from(value).map_err(|_| EncodeError::too_long(what, value, usize::from(u16::MAX)))
}

/// Converts a length or offset in bytes to a 32-bit wire field.
pub fn wire_u32(value: usize, what: &'static str) -> Result<u32, EncodeError> {
    u32::try_from(value).map_err(|_| EncodeError::too_long(what, value, u32_max()))
}

/// Converts a count of `unit` (e.g. "ACEs") to a 16-bit wire field.
pub fn count_u16(value: usize, what: &'static str, unit: &'static str) -> Result<u16, EncodeError> {
    u16::try_from(value)
        .map_err(|_| EncodeError::too_many(what, unit, value, usize::from(u16::MAX)))
}

/// Converts a count of `unit` to a 32-bit wire field.
pub fn count_u32(value: usize, what: &'static str, unit: &'static str) -> Result<u32, EncodeError> {
    u32::try_from(value).map_err(|_| EncodeError::too_many(what, unit, value, u32_max()))
}

/// `u32::MAX` as a `usize` (saturated where it does not fit).
fn u32_max() -> usize {
    usize::try_from(u32::MAX).unwrap_or(usize::MAX)
}

/// The length in bytes of `s` as UTF-16 (what [`Writer::utf16`] appends).
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

/// Returns `offset..offset+length` if it lies within `bound` bytes.
pub fn checked_range(
    what: &'static str,
    offset: usize,
    length: usize,
    bound: usize,
) -> Result<std::ops::Range<usize>, DecodeError> {
    match offset.checked_add(length) {
        Some(end) if end <= bound => Ok(offset..end),
        _ => Err(DecodeError::OutOfBounds {
            what,
            offset,
            length,
            bound,
        }),
    }
}

/// A cursor over a borrowed byte slice whose every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader over `buf` positioned at `pos` (which must be within `buf`).
    pub fn at(buf: &'a [u8], pos: usize, what: &'static str) -> Result<Self, DecodeError> {
        if pos > buf.len() {
            return Err(DecodeError::Truncated {
                what,
                needed: pos,
                available: buf.len(),
            });
        }
        Ok(Reader { buf, pos })
    }

    /// The whole underlying buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// Current position from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        self.take(n, what).map(|_| ())
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a big-endian u16.
    pub fn u16_be(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// Reads a big-endian u32.
    pub fn u32_be(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Returns `length` bytes at `offset` from the start of the buffer,
    /// without moving the cursor; fails if they lie outside the buffer.
    pub fn slice_at(
        &self,
        offset: usize,
        length: usize,
        what: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let r = checked_range(what, offset, length, self.buf.len())?;
        Ok(&self.buf[r])
    }

    /// Fails unless every byte has been read.
    pub fn expect_end(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(DecodeError::invalid(
                what,
                format!("{} trailing bytes", self.remaining()),
            ));
        }
        Ok(())
    }
}

/// A growable little-endian writer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    /// A writer that appends to `buf`.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Writer { buf }
    }

    /// Bytes written so far (including any initial contents).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written, mutably (for patching).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Consumes the writer.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a little-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a big-endian u16.
    pub fn u16_be(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a big-endian u32.
    pub fn u32_be(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }

    /// Pads with zeros until the length is a multiple of `align`.
    pub fn align(&mut self, align: usize) -> &mut Self {
        let rem = self.buf.len() % align;
        if rem != 0 {
            self.zeros(align - rem);
        }
        self
    }

    /// Appends a string as UTF-16LE (no terminator).
    pub fn utf16(&mut self, s: &str) -> &mut Self {
        for u in s.encode_utf16() {
            self.u16(u);
        }
        self
    }

    /// Shortens what was written to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Overwrites a little-endian u16 at `pos` (for lengths/offsets known later).
    pub fn patch_u16(&mut self, pos: usize, v: u16) {
        self.buf[pos..pos + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Overwrites a little-endian u32 at `pos`.
    pub fn patch_u32(&mut self, pos: usize, v: u32) {
        self.buf[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// Encodes a string as UTF-16LE bytes.
pub fn utf16le(s: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.utf16(s);
    w.into_vec()
}

/// Decodes UTF-16LE bytes; an odd length or unpaired surrogate is an error.
pub fn from_utf16le(b: &[u8], what: &'static str) -> Result<String, DecodeError> {
    if !b.len().is_multiple_of(2) {
        return Err(DecodeError::invalid(what, "odd UTF-16 byte length"));
    }
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| DecodeError::invalid(what, "invalid UTF-16"))
}

/// Decodes UTF-16LE bytes, replacing invalid sequences (for display-only text).
pub fn from_utf16le_lossy(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Helpers for the encoders' limit tests.
#[cfg(test)]
pub(crate) mod testutil {
    use super::EncodeError;

    /// Asserts that `r` is the [`EncodeError::TooLarge`] of field `what`
    /// with `actual` over `limit`.
    #[track_caller]
    pub fn assert_too_large<T: core::fmt::Debug>(
        r: Result<T, EncodeError>,
        what: &str,
        actual: usize,
        limit: usize,
    ) {
        match r {
            Err(EncodeError::TooLarge {
                what: w,
                actual: a,
                limit: l,
                ..
            }) => assert_eq!((w, a, l), (what, actual, limit)),
            other => panic!("expected {what} {actual} > {limit}, got {other:?}"),
        }
    }

    /// A name of `units` UTF-16 code units (2 × `units` bytes).
    pub fn name(units: usize) -> String {
        "n".repeat(units)
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::assert_too_large;
    use super::*;

    #[test]
    fn wire_conversions_stop_at_the_field_width() {
        assert_eq!(wire_u8(255, "f"), Ok(255));
        assert_too_large(wire_u8(256, "f"), "f", 256, 255);
        assert_eq!(wire_u16(65535, "f"), Ok(65535));
        assert_too_large(wire_u16(65536, "f"), "f", 65536, 65535);
        assert_eq!(count_u16(65535, "c", "items"), Ok(65535));
        assert_too_large(count_u16(65536, "c", "items"), "c", 65536, 65535);
        #[cfg(target_pointer_width = "64")]
        {
            let max = usize::try_from(u32::MAX).unwrap();
            assert_eq!(wire_u32(max, "f"), Ok(u32::MAX));
            assert_too_large(wire_u32(max + 1, "f"), "f", max + 1, max);
            assert_eq!(count_u32(max, "c", "items"), Ok(u32::MAX));
            assert_too_large(count_u32(max + 1, "c", "items"), "c", max + 1, max);
        }
    }

    #[test]
    fn encode_errors_name_the_field_the_value_and_the_limit() {
        assert_eq!(
            EncodeError::too_long("SMB2 CREATE NameLength", 80000, 65535).to_string(),
            "SMB2 CREATE NameLength: 80000 bytes, the limit is 65535"
        );
        assert_eq!(
            EncodeError::too_many("ACL AceCount", "ACEs", 70000, 65535).to_string(),
            "ACL AceCount: 70000 ACEs, the limit is 65535"
        );
        assert_eq!(utf16_len("a😀"), 6);
    }

    #[test]
    fn reader_checks_bounds() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16("a").unwrap(), 0x0201);
        assert!(matches!(r.u16("b"), Err(DecodeError::Truncated { .. })));
        assert_eq!(r.u8("c").unwrap(), 3);
        assert!(r.expect_end("end").is_ok());
    }

    #[test]
    fn slice_at_rejects_overflow() {
        let r = Reader::new(&[0; 8]);
        assert!(r.slice_at(usize::MAX, 2, "x").is_err());
        assert!(r.slice_at(4, 5, "x").is_err());
        assert_eq!(r.slice_at(4, 4, "x").unwrap().len(), 4);
    }

    #[test]
    fn utf16_round_trip_outside_bmp() {
        let s = "réseau 😀 文件";
        assert_eq!(from_utf16le(&utf16le(s), "s").unwrap(), s);
        assert!(from_utf16le(&[0, 0xd8], "s").is_err());
    }
}
