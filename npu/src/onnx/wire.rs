//! Hand-written protobuf wire-format decoder and encoder for the subset of the ONNX schema
//! (`onnx.proto3`) this crate needs. Field numbers follow the public ONNX schema.

use crate::error::{NpuError, Result};

const WHAT: &str = "ONNX protobuf";

fn trunc(detail: &str) -> NpuError {
    NpuError::Truncated {
        what: WHAT,
        detail: detail.to_string(),
    }
}

fn bad(detail: impl Into<String>) -> NpuError {
    NpuError::Malformed {
        what: WHAT,
        detail: detail.into(),
    }
}

/// A decoded field value.
#[derive(Debug, Clone, Copy)]
pub enum Wire<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// Sequential reader over one message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reader over a buffer.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| trunc("inside a varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| trunc(&format!("field of {n} bytes at offset {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Next (field number, value), or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(bad("field number 0"));
        }
        let w = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Wire::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| bad("length overflow"))?;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Wire::Fixed32(u32::from_le_bytes(a))
            }
            t => return Err(bad(format!("unsupported wire type {t} (field {field})"))),
        };
        Ok(Some((field, w)))
    }
}

fn as_i64(w: Wire<'_>, f: &str) -> Result<i64> {
    match w {
        Wire::Varint(v) => Ok(v as i64),
        _ => Err(bad(format!("field {f} should be a varint"))),
    }
}

fn as_bytes<'a>(w: Wire<'a>, f: &str) -> Result<&'a [u8]> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(bad(format!("field {f} should be length-delimited"))),
    }
}

fn as_string(w: Wire<'_>, f: &str) -> Result<String> {
    String::from_utf8(as_bytes(w, f)?.to_vec()).map_err(|_| bad(format!("field {f} is not UTF-8")))
}

fn push_ints(w: Wire<'_>, out: &mut Vec<i64>, f: &str) -> Result<()> {
    match w {
        Wire::Varint(v) => out.push(v as i64),
        Wire::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                out.push(r.varint()? as i64);
            }
        }
        _ => return Err(bad(format!("field {f} should hold integers"))),
    }
    Ok(())
}

fn push_floats(w: Wire<'_>, out: &mut Vec<f32>, f: &str) -> Result<()> {
    match w {
        Wire::Fixed32(v) => out.push(f32::from_bits(v)),
        Wire::Bytes(b) => {
            if b.len() % 4 != 0 {
                return Err(bad(format!(
                    "packed floats of field {f} not a multiple of 4"
                )));
            }
            out.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
        }
        _ => return Err(bad(format!("field {f} should hold floats"))),
    }
    Ok(())
}

fn push_doubles(w: Wire<'_>, out: &mut Vec<f64>, f: &str) -> Result<()> {
    match w {
        Wire::Fixed64(v) => out.push(f64::from_bits(v)),
        Wire::Bytes(b) => {
            if b.len() % 8 != 0 {
                return Err(bad(format!(
                    "packed doubles of field {f} not a multiple of 8"
                )));
            }
            out.extend(b.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a)
            }));
        }
        _ => return Err(bad(format!("field {f} should hold doubles"))),
    }
    Ok(())
}

/// `TensorProto` subset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorProto {
    /// Field 1.
    pub dims: Vec<i64>,
    /// Field 2 (1 float, 3 int8, 6 int32, 7 int64, 10 float16, 11 double...).
    pub data_type: i32,
    /// Field 4.
    pub float_data: Vec<f32>,
    /// Field 5 (also holds int8/float16 values).
    pub int32_data: Vec<i64>,
    /// Field 7.
    pub int64_data: Vec<i64>,
    /// Field 8.
    pub name: String,
    /// Field 9.
    pub raw_data: Option<Vec<u8>>,
    /// Field 10.
    pub double_data: Vec<f64>,
    /// Field 14 (1 = external).
    pub data_location: i32,
}

impl TensorProto {
    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut t = TensorProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => push_ints(w, &mut t.dims, "TensorProto.dims")?,
                2 => t.data_type = as_i64(w, "TensorProto.data_type")? as i32,
                4 => push_floats(w, &mut t.float_data, "TensorProto.float_data")?,
                5 => push_ints(w, &mut t.int32_data, "TensorProto.int32_data")?,
                7 => push_ints(w, &mut t.int64_data, "TensorProto.int64_data")?,
                8 => t.name = as_string(w, "TensorProto.name")?,
                9 => t.raw_data = Some(as_bytes(w, "TensorProto.raw_data")?.to_vec()),
                10 => push_doubles(w, &mut t.double_data, "TensorProto.double_data")?,
                14 => t.data_location = as_i64(w, "TensorProto.data_location")? as i32,
                _ => {}
            }
        }
        Ok(t)
    }
}

/// `AttributeProto` subset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeProto {
    /// Field 1.
    pub name: String,
    /// Field 2.
    pub f: Option<f32>,
    /// Field 3.
    pub i: Option<i64>,
    /// Field 4.
    pub s: Option<Vec<u8>>,
    /// Field 5.
    pub t: Option<TensorProto>,
    /// Field 7.
    pub floats: Vec<f32>,
    /// Field 8.
    pub ints: Vec<i64>,
    /// Field 20 (1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 5 GRAPH, 6 FLOATS, 7 INTS...).
    pub ty: i32,
    /// Whether a subgraph (field 6/10) was present.
    pub has_graph: bool,
}

impl AttributeProto {
    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut a = AttributeProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => a.name = as_string(w, "AttributeProto.name")?,
                2 => match w {
                    Wire::Fixed32(v) => a.f = Some(f32::from_bits(v)),
                    _ => return Err(bad("AttributeProto.f should be fixed32")),
                },
                3 => a.i = Some(as_i64(w, "AttributeProto.i")?),
                4 => a.s = Some(as_bytes(w, "AttributeProto.s")?.to_vec()),
                5 => a.t = Some(TensorProto::decode(as_bytes(w, "AttributeProto.t")?)?),
                6 | 10 => a.has_graph = true,
                7 => push_floats(w, &mut a.floats, "AttributeProto.floats")?,
                8 => push_ints(w, &mut a.ints, "AttributeProto.ints")?,
                20 => a.ty = as_i64(w, "AttributeProto.type")? as i32,
                _ => {}
            }
        }
        Ok(a)
    }
}

/// `NodeProto` subset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeProto {
    /// Field 1.
    pub inputs: Vec<String>,
    /// Field 2.
    pub outputs: Vec<String>,
    /// Field 3.
    pub name: String,
    /// Field 4.
    pub op_type: String,
    /// Field 5.
    pub attributes: Vec<AttributeProto>,
    /// Field 7.
    pub domain: String,
}

impl NodeProto {
    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut n = NodeProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => n.inputs.push(as_string(w, "NodeProto.input")?),
                2 => n.outputs.push(as_string(w, "NodeProto.output")?),
                3 => n.name = as_string(w, "NodeProto.name")?,
                4 => n.op_type = as_string(w, "NodeProto.op_type")?,
                5 => n
                    .attributes
                    .push(AttributeProto::decode(as_bytes(w, "NodeProto.attribute")?)?),
                7 => n.domain = as_string(w, "NodeProto.domain")?,
                _ => {}
            }
        }
        Ok(n)
    }
}

/// One dimension of a `TensorShapeProto`.
#[derive(Debug, Clone, PartialEq)]
pub enum DimProto {
    /// `dim_value` (field 1).
    Value(i64),
    /// `dim_param` (field 2), or unknown when empty.
    Param(String),
}

/// `ValueInfoProto` restricted to tensor types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueInfoProto {
    /// Field 1.
    pub name: String,
    /// TypeProto.tensor_type.elem_type.
    pub elem_type: i32,
    /// TypeProto.tensor_type.shape, when present.
    pub shape: Option<Vec<DimProto>>,
}

impl ValueInfoProto {
    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut v = ValueInfoProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => v.name = as_string(w, "ValueInfoProto.name")?,
                2 => {
                    let mut tr = Reader::new(as_bytes(w, "ValueInfoProto.type")?);
                    while let Some((tf, tw)) = tr.next_field()? {
                        if tf != 1 {
                            continue; // only tensor_type
                        }
                        let mut rr = Reader::new(as_bytes(tw, "TypeProto.tensor_type")?);
                        while let Some((ef, ew)) = rr.next_field()? {
                            match ef {
                                1 => v.elem_type = as_i64(ew, "Tensor.elem_type")? as i32,
                                2 => {
                                    let mut dims = Vec::new();
                                    let mut sr = Reader::new(as_bytes(ew, "Tensor.shape")?);
                                    while let Some((sf, sw)) = sr.next_field()? {
                                        if sf != 1 {
                                            continue;
                                        }
                                        let mut dr = Reader::new(as_bytes(sw, "Dimension")?);
                                        let mut d = DimProto::Param(String::new());
                                        while let Some((df, dw)) = dr.next_field()? {
                                            match df {
                                                1 => d = DimProto::Value(as_i64(dw, "dim_value")?),
                                                2 => {
                                                    d = DimProto::Param(as_string(dw, "dim_param")?)
                                                }
                                                _ => {}
                                            }
                                        }
                                        dims.push(d);
                                    }
                                    v.shape = Some(dims);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(v)
    }
}

/// `GraphProto` subset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphProto {
    /// Field 1.
    pub nodes: Vec<NodeProto>,
    /// Field 2.
    pub name: String,
    /// Field 5.
    pub initializers: Vec<TensorProto>,
    /// Field 11.
    pub inputs: Vec<ValueInfoProto>,
    /// Field 12.
    pub outputs: Vec<ValueInfoProto>,
}

impl GraphProto {
    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut g = GraphProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => g
                    .nodes
                    .push(NodeProto::decode(as_bytes(w, "GraphProto.node")?)?),
                2 => g.name = as_string(w, "GraphProto.name")?,
                5 => g
                    .initializers
                    .push(TensorProto::decode(as_bytes(w, "GraphProto.initializer")?)?),
                11 => g
                    .inputs
                    .push(ValueInfoProto::decode(as_bytes(w, "GraphProto.input")?)?),
                12 => g
                    .outputs
                    .push(ValueInfoProto::decode(as_bytes(w, "GraphProto.output")?)?),
                _ => {}
            }
        }
        Ok(g)
    }
}

/// `ModelProto` subset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelProto {
    /// Field 1.
    pub ir_version: i64,
    /// Field 8: (domain, version).
    pub opset_import: Vec<(String, i64)>,
    /// Field 2.
    pub producer_name: String,
    /// Field 7.
    pub graph: Option<GraphProto>,
}

impl ModelProto {
    /// Decodes a whole `.onnx` file.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut m = ModelProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => m.ir_version = as_i64(w, "ModelProto.ir_version")?,
                2 => m.producer_name = as_string(w, "ModelProto.producer_name")?,
                7 => m.graph = Some(GraphProto::decode(as_bytes(w, "ModelProto.graph")?)?),
                8 => {
                    let mut or = Reader::new(as_bytes(w, "ModelProto.opset_import")?);
                    let (mut d, mut v) = (String::new(), 0);
                    while let Some((of, ow)) = or.next_field()? {
                        match of {
                            1 => d = as_string(ow, "OperatorSetIdProto.domain")?,
                            2 => v = as_i64(ow, "OperatorSetIdProto.version")?,
                            _ => {}
                        }
                    }
                    m.opset_import.push((d, v));
                }
                _ => {}
            }
        }
        Ok(m)
    }
}

/// Protobuf encoder.
#[derive(Default)]
pub struct Writer {
    /// Encoded bytes.
    pub buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(b);
                return;
            }
            self.buf.push(b | 0x80);
        }
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }
    /// Varint field (int64/int32/enum).
    pub fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }
    /// fixed32 float field.
    pub fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Length-delimited bytes.
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
    /// String field.
    pub fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    /// Embedded message.
    pub fn message(&mut self, field: u32, m: Writer) {
        self.bytes(field, &m.buf);
    }
    /// Packed repeated varints.
    pub fn packed_ints(&mut self, field: u32, v: &[i64]) {
        let mut w = Writer::default();
        for &x in v {
            w.varint(x as u64);
        }
        self.bytes(field, &w.buf);
    }
    /// Packed repeated floats.
    pub fn packed_floats(&mut self, field: u32, v: &[f32]) {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.bytes(field, &b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_roundtrip_and_truncation() {
        let mut w = Writer::default();
        w.int(3, -5);
        w.int(1, 300);
        w.string(2, "abc");
        w.packed_floats(4, &[1.5, -2.0]);
        let mut r = Reader::new(&w.buf);
        assert!(matches!(r.next_field().unwrap(), Some((3, Wire::Varint(v))) if v as i64 == -5));
        assert!(matches!(
            r.next_field().unwrap(),
            Some((1, Wire::Varint(300)))
        ));
        assert!(matches!(
            r.next_field().unwrap(),
            Some((2, Wire::Bytes(b"abc")))
        ));
        let mut f = Vec::new();
        let (_, wv) = r.next_field().unwrap().unwrap();
        push_floats(wv, &mut f, "x").unwrap();
        assert_eq!(f, vec![1.5, -2.0]);
        assert!(r.next_field().unwrap().is_none());
        for cut in 1..w.buf.len() {
            let mut r = Reader::new(&w.buf[..cut]);
            let mut res = Ok(());
            loop {
                match r.next_field() {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        res = Err(e);
                        break;
                    }
                }
            }
            // Every cut either ends on a field boundary or reports truncation.
            if let Err(e) = res {
                assert!(matches!(e, NpuError::Truncated { .. }), "{e}");
            }
        }
    }
}
