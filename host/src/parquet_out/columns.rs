//! Arrow columns from a protobuf message schema, and the builders that fill them record by record.
//!
//! The mapping: each field of the record message is a column, named as in the proto, in
//! declaration order.
//!
//! - Scalars: `bool`, `int32`/`sint32`/`sfixed32` → Int32, 64-bit signed → Int64, `uint32`/
//!   `fixed32` → UInt32, `uint64`/`fixed64` → UInt64, `float` → Float32, `double` → Float64,
//!   `string` → Utf8, `bytes` → Binary.
//! - Timestamps: a singular `int64` field named `timestamp`, `timestamp_*` or `*_timestamp`
//!   (netcap's convention: ns since the Unix epoch) → Timestamp(ns, UTC).
//! - Enums: the value's name as Utf8 (as `dump --json` prints it; a number the schema does not
//!   name prints in decimal), so that queries read `'CONNECT'` rather than a number.
//! - Nested messages: Struct, null when the field is unset. A message type nested inside itself
//!   (a recursive schema), or below [`MAX_DEPTH`] levels, is a Binary column holding the nested
//!   message's protobuf encoding (the schema must be finite). A message type without fields has no
//!   column (Parquet has no empty groups).
//! - Repeated fields: List of the element type (never null; empty when there are none). A map is a
//!   list of `{key, value}` structs in the record's order.
//! - Scalars with explicit presence (`optional`) are null when unset; other scalars are never null
//!   (proto3 has no "unset" for them: an absent value is the default, as `dump` prints it).
//!
//! Records are read straight from their protobuf encoding into the builders ([`wire`]), without
//! decoding them into dynamic messages first.

mod wire;

pub use wire::WireError;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampNanosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ListArray, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use std::sync::Arc;

/// Levels of nested messages that are Struct columns; deeper ones are protobuf-encoded Binary.
pub const MAX_DEPTH: usize = 16;

/// The time zone of timestamp columns.
const UTC: &str = "UTC";

/// Whether `f` holds a time in ns since the epoch (by netcap's naming convention).
pub fn is_timestamp(f: &FieldDescriptor) -> bool {
    let n = f.name();
    matches!(f.kind(), Kind::Int64 | Kind::Sint64 | Kind::Sfixed64)
        && !f.is_list()
        && (n == "timestamp" || n.starts_with("timestamp_") || n.ends_with("_timestamp"))
}

/// The column of one value (a field's, or a list's element).
enum Col {
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Ts(TimestampNanosecondBuilder),
    Enum(StringBuilder, EnumDescriptor),
    Msg(Box<MessageColumns>),
    /// A message nested too deep, or inside itself: its protobuf encoding.
    Encoded(BinaryBuilder),
    List(Box<ListColumn>),
}

/// A repeated field: offsets into the element column.
struct ListColumn {
    offsets: Vec<i32>,
    item: Col,
    item_field: FieldRef,
}

/// A field's column and its Arrow field.
struct FieldColumn {
    field: FieldRef,
    col: Col,
    /// Null when unset (messages, `optional` scalars).
    presence: bool,
    /// The field number and how its values are encoded.
    number: u32,
    enc: wire::Enc,
    /// Repeated (the column is a list).
    list: bool,
    /// The value seen in the record being read (singular fields), or the elements (repeated).
    pending: wire::Pending,
    count: u32,
}

/// The columns of one message type (the record, or a nested Struct).
pub struct MessageColumns {
    fields: Vec<FieldColumn>,
    /// Field number → index in `fields` + 1 (0: no column), for numbers below 4096.
    by_number: Vec<u16>,
    nulls: NullBufferBuilder,
    len: usize,
}

impl MessageColumns {
    /// The columns of `desc` (records of this type are the rows).
    pub fn new(desc: &MessageDescriptor) -> Self {
        Self::nested(desc, &mut vec![desc.clone()])
    }

    fn nested(desc: &MessageDescriptor, path: &mut Vec<MessageDescriptor>) -> Self {
        let fields: Vec<FieldColumn> = desc.fields().filter_map(|f| field_column(&f, path)).collect();
        let max = fields.iter().map(|f| f.number).filter(|&n| n < 4096).max().unwrap_or(0) as usize;
        let mut by_number = vec![0u16; max + 1];
        for (i, f) in fields.iter().enumerate() {
            if let Some(slot) = by_number.get_mut(f.number as usize) {
                *slot = u16::try_from(i + 1).unwrap_or(0);
            }
        }
        MessageColumns { fields, by_number, nulls: NullBufferBuilder::new(0), len: 0 }
    }

    /// The Arrow schema of the record columns.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(self.arrow_fields()))
    }

    fn arrow_fields(&self) -> Fields {
        self.fields.iter().map(|c| c.field.clone()).collect()
    }

    fn push_null(&mut self) {
        for c in &mut self.fields {
            c.col.push_default();
        }
        self.nulls.append_null();
        self.len += 1;
    }

    /// The record columns filled so far; the builders start over empty.
    pub fn finish_columns(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        self.len = 0;
        let _ = self.nulls.finish();
        self.fields.iter_mut().map(|c| c.col.finish()).collect()
    }

    fn finish_struct(&mut self) -> Result<ArrayRef, ArrowError> {
        let len = self.len;
        let nulls = self.nulls.finish();
        let arrays = self.finish_columns()?;
        Ok(Arc::new(StructArray::try_new_with_length(self.arrow_fields(), arrays, nulls, len)?))
    }
}

/// The column of field `f`, or `None` for a message type without fields.
fn field_column(f: &FieldDescriptor, path: &mut Vec<MessageDescriptor>) -> Option<FieldColumn> {
    let list = f.is_list() || f.is_map();
    let presence = !list && f.supports_presence();
    let (col, dt) = if list {
        let (item, item_type) = value_column(f, path)?;
        let item_field = Arc::new(Field::new("element", item_type, false));
        let dt = DataType::List(item_field.clone());
        (Col::List(Box::new(ListColumn { offsets: vec![0], item, item_field })), dt)
    } else {
        value_column(f, path)?
    };
    Some(FieldColumn {
        field: Arc::new(Field::new(f.name(), dt, presence)),
        col,
        presence,
        number: f.number(),
        enc: wire::Enc::of(&f.kind()),
        list,
        pending: wire::Pending::Unset,
        count: 0,
    })
}

/// The column of one value of field `f` (its element when repeated) and its Arrow type.
fn value_column(f: &FieldDescriptor, path: &mut Vec<MessageDescriptor>) -> Option<(Col, DataType)> {
    Some(match f.kind() {
        Kind::Bool => (Col::Bool(BooleanBuilder::new()), DataType::Boolean),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => (Col::I32(Int32Builder::new()), DataType::Int32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 if is_timestamp(f) => (
            Col::Ts(TimestampNanosecondBuilder::new().with_timezone(UTC)),
            DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())),
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => (Col::I64(Int64Builder::new()), DataType::Int64),
        Kind::Uint32 | Kind::Fixed32 => (Col::U32(UInt32Builder::new()), DataType::UInt32),
        Kind::Uint64 | Kind::Fixed64 => (Col::U64(UInt64Builder::new()), DataType::UInt64),
        Kind::Float => (Col::F32(Float32Builder::new()), DataType::Float32),
        Kind::Double => (Col::F64(Float64Builder::new()), DataType::Float64),
        Kind::String => (Col::Str(StringBuilder::new()), DataType::Utf8),
        Kind::Bytes => (Col::Bin(BinaryBuilder::new()), DataType::Binary),
        Kind::Enum(e) => (Col::Enum(StringBuilder::new(), e), DataType::Utf8),
        Kind::Message(m) => {
            if path.len() >= MAX_DEPTH || path.contains(&m) {
                return Some((Col::Encoded(BinaryBuilder::new()), DataType::Binary));
            }
            path.push(m.clone());
            let cols = MessageColumns::nested(&m, path);
            path.pop();
            if cols.fields.is_empty() {
                return None;
            }
            let dt = DataType::Struct(cols.arrow_fields());
            (Col::Msg(Box::new(cols)), dt)
        }
    })
}

impl ListColumn {
    fn end_row(&mut self, n: usize) {
        let last = *self.offsets.last().unwrap_or(&0);
        self.offsets.push(last + i32::try_from(n).unwrap_or(i32::MAX));
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let values = self.item.finish()?;
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        Ok(Arc::new(ListArray::try_new(self.item_field.clone(), offsets, values, None)?))
    }
}

impl Col {
    /// Appends a null (a field with presence that is unset).
    fn push_null(&mut self) {
        match self {
            Col::Bool(b) => b.append_null(),
            Col::I32(b) => b.append_null(),
            Col::I64(b) => b.append_null(),
            Col::Ts(b) => b.append_null(),
            Col::U32(b) => b.append_null(),
            Col::U64(b) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Str(b) | Col::Enum(b, _) => b.append_null(),
            Col::Bin(b) | Col::Encoded(b) => b.append_null(),
            Col::Msg(cols) => cols.push_null(),
            Col::List(l) => l.end_row(0),
        }
    }

    /// Appends the default value (for the slot of a null parent struct, or a mismatched value).
    fn push_default(&mut self) {
        match self {
            Col::Bool(b) => b.append_value(false),
            Col::I32(b) => b.append_value(0),
            Col::I64(b) => b.append_value(0),
            Col::Ts(b) => b.append_value(0),
            Col::U32(b) => b.append_value(0),
            Col::U64(b) => b.append_value(0),
            Col::F32(b) => b.append_value(0.0),
            Col::F64(b) => b.append_value(0.0),
            Col::Str(b) => b.append_value(""),
            Col::Enum(b, e) => match e.get_value(0) {
                Some(ev) => b.append_value(ev.name()),
                None => b.append_value("0"),
            },
            Col::Bin(b) => b.append_value([]),
            Col::Msg(cols) => cols.push_null(),
            Col::Encoded(b) => b.append_value([]),
            Col::List(l) => l.end_row(0),
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Col::Bool(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::Ts(b) => Arc::new(b.finish()),
            Col::U32(b) => Arc::new(b.finish()),
            Col::U64(b) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Str(b) | Col::Enum(b, _) => Arc::new(b.finish()),
            Col::Bin(b) | Col::Encoded(b) => Arc::new(b.finish()),
            Col::Msg(cols) => cols.finish_struct()?,
            Col::List(l) => l.finish()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, RecordBatch, StringArray, TimestampNanosecondArray};
    use prost::Message as _;
    use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, Value};
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
        FileDescriptorSet, MessageOptions,
    };

    fn field(name: &str, number: i32, label: Label, ty: Type, type_name: Option<&str>) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(label as i32),
            r#type: Some(ty as i32),
            type_name: type_name.map(Into::into),
            json_name: Some(name.into()),
            ..Default::default()
        }
    }

    /// A third-party record type `t.T`: a timestamp, an enum, a map, itself (recursive), an
    /// `optional` string, a repeated nested message and an empty message.
    fn schema() -> MessageDescriptor {
        use Label::{Optional as O, Repeated as R};
        let entry = DescriptorProto {
            name: Some("MEntry".into()),
            field: vec![field("key", 1, O, Type::String, None), field("value", 2, O, Type::Uint32, None)],
            options: Some(MessageOptions { map_entry: Some(true), ..Default::default() }),
            ..Default::default()
        };
        let mut opt = field("o", 5, O, Type::String, None);
        opt.proto3_optional = Some(true);
        opt.oneof_index = Some(0);
        let t = DescriptorProto {
            name: Some("T".into()),
            field: vec![
                field("timestamp", 1, O, Type::Int64, None),
                field("kind", 2, O, Type::Enum, Some(".t.Kind")),
                field("m", 3, R, Type::Message, Some(".t.T.MEntry")),
                field("inner", 4, O, Type::Message, Some(".t.T")),
                opt,
                field("subs", 6, R, Type::Message, Some(".t.Sub")),
                field("nothing", 7, O, Type::Message, Some(".t.Empty")),
            ],
            nested_type: vec![entry],
            oneof_decl: vec![prost_types::OneofDescriptorProto { name: Some("_o".into()), ..Default::default() }],
            ..Default::default()
        };
        let sub = DescriptorProto {
            name: Some("Sub".into()),
            field: vec![field("at_timestamp", 1, O, Type::Int64, None), field("data", 2, O, Type::Bytes, None)],
            ..Default::default()
        };
        let empty = DescriptorProto { name: Some("Empty".into()), ..Default::default() };
        let value =
            |n: &str, v: i32| EnumValueDescriptorProto { name: Some(n.into()), number: Some(v), ..Default::default() };
        let kind = EnumDescriptorProto {
            name: Some("Kind".into()),
            value: vec![value("NONE", 0), value("CONNECT", 1)],
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            message_type: vec![t, sub, empty],
            enum_type: vec![kind],
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        let pool = DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] }).unwrap();
        pool.get_message_by_name("t.T").unwrap()
    }

    #[test]
    fn a_third_party_schema_maps_to_arrow_columns() {
        let desc = schema();
        let mut cols = MessageColumns::new(&desc);
        let s = cols.schema();
        let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["timestamp", "kind", "m", "inner", "o", "subs"], "the empty message has no column");
        assert_eq!(s.field(0).data_type(), &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())));
        assert_eq!(s.field(1).data_type(), &DataType::Utf8);
        assert_eq!(s.field(3).data_type(), &DataType::Binary, "a message inside itself is its protobuf bytes");
        assert!(s.field(4).is_nullable() && !s.field(0).is_nullable());
        let DataType::List(sub) = s.field(5).data_type() else { panic!("subs is a list") };
        let DataType::Struct(sub) = sub.data_type() else { panic!("of structs") };
        assert!(matches!(sub[0].data_type(), DataType::Timestamp(TimeUnit::Nanosecond, _)));

        let mut a = DynamicMessage::new(desc.clone());
        a.set_field_by_name("timestamp", Value::I64(1_600_000_000_123_456_789));
        a.set_field_by_name("kind", Value::EnumNumber(1));
        let mut m = std::collections::HashMap::new();
        m.insert(MapKey::String("b".into()), Value::U32(2));
        m.insert(MapKey::String("a".into()), Value::U32(1));
        a.set_field_by_name("m", Value::Map(m));
        a.set_field_by_name("inner", Value::Message(DynamicMessage::new(desc.clone())));
        a.set_field_by_name("o", Value::String("x".into()));
        let b = DynamicMessage::new(desc.clone());
        cols.push_encoded(&a.encode_to_vec()).unwrap();
        cols.push_encoded(&b.encode_to_vec()).unwrap();
        // Malformed: refused whole, nothing appended.
        assert!(cols.push_encoded(&[0x0a, 0x05, b'x']).is_err());
        assert!(cols.push_encoded(&[0x2a, 0x01, 0xff]).is_err(), "a string that is not UTF-8");
        let batch = RecordBatch::try_new(s.clone(), cols.finish_columns().unwrap()).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let ts = batch.column(0).as_any().downcast_ref::<TimestampNanosecondArray>().unwrap();
        assert_eq!(ts.value(0), 1_600_000_000_123_456_789);
        let kind = batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((kind.value(0), kind.value(1)), ("CONNECT", "NONE"));
        let map = batch.column(2).as_any().downcast_ref::<ListArray>().unwrap();
        let entries = map.value(0);
        let keys = entries.as_any().downcast_ref::<StructArray>().unwrap().column(0).clone();
        let keys = keys.as_any().downcast_ref::<StringArray>().unwrap();
        let mut keys = [keys.value(0), keys.value(1)];
        keys.sort_unstable();
        assert_eq!(keys, ["a", "b"]);
        assert!(batch.column(3).is_valid(0) && batch.column(3).is_null(1), "unset message: null");
        assert!(batch.column(4).is_valid(0) && batch.column(4).is_null(1), "unset optional: null");
    }
}
