//! Reading a record's protobuf encoding straight into the column builders.
//!
//! A record is read twice: a check pass that finds every value and validates the encoding (wire
//! types, lengths, UTF-8 of strings, nested messages) without touching a builder, then a push pass
//! that appends exactly one row to every column. A malformed record is refused whole, so the
//! columns always hold the same number of rows. Protobuf semantics: the last value of a singular
//! field wins, repeated scalars may be packed or not, occurrences of a singular message field
//! merge (their encodings are concatenated), and unknown fields are skipped.

use super::{Col, MessageColumns};
use prost::encoding::decode_varint;
use prost_reflect::Kind;

/// How a field's values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Enc {
    Varint,
    Zigzag,
    Fixed32,
    Fixed64,
    Len,
}

impl Enc {
    pub(super) fn of(kind: &Kind) -> Self {
        match kind {
            Kind::Sint32 | Kind::Sint64 => Enc::Zigzag,
            Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => Enc::Fixed32,
            Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => Enc::Fixed64,
            Kind::String | Kind::Bytes | Kind::Message(_) => Enc::Len,
            _ => Enc::Varint,
        }
    }

    fn wire_type(self) -> u64 {
        match self {
            Enc::Varint | Enc::Zigzag => 0,
            Enc::Fixed64 => 1,
            Enc::Len => 2,
            Enc::Fixed32 => 5,
        }
    }
}

/// The value of a singular field found in the record being read.
#[derive(Debug, Default)]
pub(super) enum Pending {
    #[default]
    Unset,
    Raw(u64),
    /// Bytes `start..end` of the record's (or nested message's) encoding.
    Span(usize, usize),
    /// A message field given several times: the occurrences concatenated (a rare case).
    Owned(Vec<u8>),
}

/// Why a record's encoding cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the record is not valid protobuf for its schema: {0}")]
pub struct WireError(&'static str);

type R<T> = Result<T, WireError>;

fn varint(buf: &mut &[u8]) -> R<u64> {
    decode_varint(buf).map_err(|_| WireError("bad varint"))
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> R<&'a [u8]> {
    if buf.len() < n {
        return Err(WireError("value past the end"));
    }
    let (a, b) = buf.split_at(n);
    *buf = b;
    Ok(a)
}

/// Reads one value of encoding `enc` (not `Len`) as raw bits.
fn raw(buf: &mut &[u8], enc: Enc) -> R<u64> {
    match enc {
        Enc::Varint | Enc::Zigzag => varint(buf),
        Enc::Fixed32 => Ok(u64::from(u32::from_le_bytes(take(buf, 4)?.try_into().expect("4 bytes")))),
        Enc::Fixed64 => Ok(u64::from_le_bytes(take(buf, 8)?.try_into().expect("8 bytes"))),
        Enc::Len => Err(WireError("length-delimited value read as a number")),
    }
}

fn skip(buf: &mut &[u8], wire_type: u64) -> R<()> {
    match wire_type {
        0 => varint(buf).map(|_| ()),
        1 => take(buf, 8).map(|_| ()),
        2 => {
            let n = varint(buf)?;
            take(buf, usize::try_from(n).map_err(|_| WireError("length too large"))?).map(|_| ())
        }
        5 => take(buf, 4).map(|_| ()),
        _ => Err(WireError("groups are not supported")),
    }
}

impl MessageColumns {
    /// Appends one record from its protobuf encoding; a malformed one is refused and appends
    /// nothing.
    pub fn push_encoded(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.scan(bytes, false)?;
        self.scan(bytes, true)
    }

    /// Appends a record that [`Self::check`] of columns of the same schema accepted.
    pub fn push_checked(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.scan(bytes, true)
    }

    /// Checks a record's encoding (nothing is appended) and leaves its top-level singular values
    /// in `pending`, for [`Self::pending_i64`].
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.scan(bytes, false)
    }

    /// The signed 64-bit value of top-level field `i` found by the last [`Self::check`] (0 when
    /// unset).
    pub fn pending_i64(&self, i: usize) -> i64 {
        match self.fields.get(i).map(|f| (&f.pending, f.enc)) {
            Some((Pending::Raw(v), Enc::Zigzag)) => zigzag64(*v),
            Some((Pending::Raw(v), _)) => *v as i64,
            _ => 0,
        }
    }

    /// The index of the top-level column named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.field.name() == name)
    }

    fn field_index(&self, number: u64) -> Option<usize> {
        match self.by_number.get(usize::try_from(number).ok()?) {
            Some(&i) if i > 0 => Some(usize::from(i) - 1),
            Some(_) => None,
            None => self.fields.iter().position(|f| u64::from(f.number) == number),
        }
    }

    /// One pass over a message's encoding: `push` appends the row, otherwise it is only checked.
    fn scan(&mut self, bytes: &[u8], push: bool) -> R<()> {
        for f in &mut self.fields {
            f.pending = Pending::Unset;
            f.count = 0;
        }
        let mut buf = bytes;
        while !buf.is_empty() {
            let key = varint(&mut buf)?;
            let (number, wt) = (key >> 3, key & 7);
            let Some(i) = self.field_index(number) else {
                skip(&mut buf, wt)?;
                continue;
            };
            let f = &mut self.fields[i];
            if f.list {
                let Col::List(l) = &mut f.col else { return Err(WireError("list column")) };
                if wt == 2 && f.enc != Enc::Len {
                    // Packed scalars.
                    let n = usize::try_from(varint(&mut buf)?).map_err(|_| WireError("length too large"))?;
                    let mut packed = take(&mut buf, n)?;
                    while !packed.is_empty() {
                        let v = raw(&mut packed, f.enc)?;
                        if push {
                            l.item.push_raw(f.enc, v);
                        }
                        f.count += 1;
                    }
                    continue;
                }
                if wt != f.enc.wire_type() {
                    return Err(WireError("wire type does not match the schema"));
                }
                if f.enc == Enc::Len {
                    let v = len_value(&mut buf)?;
                    if push { l.item.push_len(v)? } else { l.item.check_len(v)? }
                } else {
                    let v = raw(&mut buf, f.enc)?;
                    if push {
                        l.item.push_raw(f.enc, v);
                    }
                }
                f.count += 1;
                continue;
            }
            if wt != f.enc.wire_type() {
                return Err(WireError("wire type does not match the schema"));
            }
            if f.enc != Enc::Len {
                f.pending = Pending::Raw(raw(&mut buf, f.enc)?);
                continue;
            }
            let v = len_value(&mut buf)?;
            let offset = bytes.len() - buf.len() - v.len();
            if !push {
                f.col.check_len(v)?;
            }
            f.pending = match std::mem::take(&mut f.pending) {
                // A message given again merges with the earlier one.
                Pending::Span(s, e) if matches!(f.col, Col::Msg(_) | Col::Encoded(_)) => {
                    let mut all = bytes[s..e].to_vec();
                    all.extend_from_slice(v);
                    Pending::Owned(all)
                }
                Pending::Owned(mut all) if matches!(f.col, Col::Msg(_) | Col::Encoded(_)) => {
                    all.extend_from_slice(v);
                    Pending::Owned(all)
                }
                _ => Pending::Span(offset, offset + v.len()),
            };
        }
        if push {
            self.end_row(bytes)?;
        }
        Ok(())
    }

    /// Appends the row from the values `scan` found.
    fn end_row(&mut self, bytes: &[u8]) -> R<()> {
        for f in &mut self.fields {
            match (&mut f.col, std::mem::take(&mut f.pending)) {
                (Col::List(l), _) => l.end_row(f.count as usize),
                (col, Pending::Unset) if f.presence => col.push_null(),
                (col, Pending::Unset) => col.push_default(),
                (col, Pending::Raw(v)) => col.push_raw(f.enc, v),
                (col, Pending::Span(s, e)) => col.push_len(&bytes[s..e])?,
                (col, Pending::Owned(v)) => col.push_len(&v)?,
            }
        }
        self.nulls.append_non_null();
        self.len += 1;
        Ok(())
    }
}

fn len_value<'a>(buf: &mut &'a [u8]) -> R<&'a [u8]> {
    let n = usize::try_from(varint(buf)?).map_err(|_| WireError("length too large"))?;
    take(buf, n)
}

fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

impl Col {
    /// Appends a number read with encoding `enc` (a value of another kind appends the default).
    fn push_raw(&mut self, enc: Enc, v: u64) {
        match self {
            Col::Bool(b) => b.append_value(v != 0),
            Col::I32(b) => b.append_value(if enc == Enc::Zigzag { zigzag32(v) } else { v as i32 }),
            Col::I64(b) => b.append_value(if enc == Enc::Zigzag { zigzag64(v) } else { v as i64 }),
            Col::Ts(b) => b.append_value(if enc == Enc::Zigzag { zigzag64(v) } else { v as i64 }),
            Col::U32(b) => b.append_value(v as u32),
            Col::U64(b) => b.append_value(v),
            Col::F32(b) => b.append_value(f32::from_bits(v as u32)),
            Col::F64(b) => b.append_value(f64::from_bits(v)),
            Col::Enum(b, e) => match e.get_value(v as i32) {
                Some(ev) => b.append_value(ev.name()),
                None => b.append_value((v as i32).to_string()),
            },
            other => other.push_default(),
        }
    }

    /// Checks a length-delimited value: UTF-8 of a string, the encoding of a nested message.
    fn check_len(&mut self, v: &[u8]) -> R<()> {
        match self {
            Col::Str(_) => std::str::from_utf8(v).map(|_| ()).map_err(|_| WireError("a string is not UTF-8")),
            Col::Msg(cols) => cols.scan(v, false),
            Col::Bin(_) | Col::Encoded(_) => Ok(()),
            _ => Err(WireError("length-delimited value for a number")),
        }
    }

    /// Appends a length-delimited value (checked before).
    fn push_len(&mut self, v: &[u8]) -> R<()> {
        match self {
            Col::Str(b) => b.append_value(std::str::from_utf8(v).map_err(|_| WireError("a string is not UTF-8"))?),
            Col::Bin(b) | Col::Encoded(b) => b.append_value(v),
            Col::Msg(cols) => cols.scan(v, true)?,
            other => other.push_default(),
        }
        Ok(())
    }
}
