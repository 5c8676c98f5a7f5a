//! `.npy` (NumPy format v1–v3) reader and writer on top of the `ndarray-npy` crate.
//!
//! Read: f32, f64 (converted to f32), f16 (converted to f32), i8, i32 and i64, little- or
//! big-endian, C or Fortran order (a Fortran-order array is returned in standard layout).
//! Write: the tensor's own dtype (`<f4`, `|i1`, `<i4`, `<i8`), format v1.0, C order.
//!
//! `ndarray-npy` parses the header (a Python literal) and the data of every type it knows;
//! it has no f16 element, so `<f2`/`>f2` data is decoded here after the crate's header parse.
//! Before handing bytes to the crate, the declared header length and the data length implied
//! by the shape are checked against the input, so a hostile header cannot make it allocate
//! more than the input holds.

use std::path::Path;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyExt, ReadableElement, WritableElement, WriteNpyExt};

use crate::error::{NpuError, Result};
use crate::ir::Tensor;
use crate::onnx::import::f16_bits_to_f32;

fn err(s: impl Into<String>) -> NpuError {
    NpuError::Npy(s.into())
}

/// Magic, version and header length, checked against the input before the crate reads it.
fn check_header_len(b: &[u8]) -> Result<()> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(err("not an .npy file (bad magic)"));
    }
    let (hlen, start): (usize, usize) = match b[6] {
        1 => (usize::from(u16::from_le_bytes([b[8], b[9]])), 10),
        2 | 3 => {
            if b.len() < 12 {
                return Err(err("truncated header"));
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        v => return Err(err(format!("unsupported format version {v}"))),
    };
    if start.checked_add(hlen).is_none_or(|e| e > b.len()) {
        return Err(err("truncated header"));
    }
    Ok(())
}

/// Reads an array of a dtype the crate knows, in standard layout (what the kernels expect).
fn read_as<T: ReadableElement + Clone>(b: &[u8]) -> Result<ArrayD<T>> {
    let a = ArrayD::<T>::read_npy(b).map_err(|e| err(e.to_string()))?;
    Ok(a.as_standard_layout().into_owned())
}

/// Parses `.npy` bytes into a tensor.
pub fn read_npy(b: &[u8]) -> Result<Tensor> {
    check_header_len(b)?;
    let mut data = b;
    let header = Header::from_reader(&mut data).map_err(|e| err(e.to_string()))?;
    let descr = header
        .type_descriptor
        .as_string()
        .ok_or_else(|| err(format!("unsupported dtype {}", header.type_descriptor)))?
        .as_str();
    let unit: usize = match descr {
        "<f4" | ">f4" | "<i4" | ">i4" => 4,
        "<f8" | ">f8" | "<i8" | ">i8" => 8,
        "<f2" | ">f2" => 2,
        "|i1" | "i1" | "b" => 1,
        d => return Err(err(format!("unsupported dtype `{d}`"))),
    };
    let shape = header.shape;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| err("shape overflows"))?;
    let need = n.checked_mul(unit).ok_or_else(|| err("shape overflows"))?;
    if data.len() != need {
        return Err(err(format!(
            "data has {} bytes, shape {shape:?} needs {need}",
            data.len()
        )));
    }
    Ok(match descr {
        "<f4" | ">f4" => Tensor::F32(read_as::<f32>(b)?),
        "<f8" | ">f8" => Tensor::F32(read_as::<f64>(b)?.mapv(|v| v as f32)),
        "<i4" | ">i4" => Tensor::I32(read_as::<i32>(b)?),
        "<i8" | ">i8" => Tensor::I64(read_as::<i64>(b)?),
        "<f2" | ">f2" => {
            let big = descr.starts_with('>');
            let v: Vec<f32> = data
                .chunks_exact(2)
                .map(|c| {
                    let bits = if big {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    };
                    f16_bits_to_f32(bits)
                })
                .collect();
            let sh = IxDyn(&shape).set_f(header.layout.is_fortran());
            let a = ArrayD::from_shape_vec(sh, v).map_err(|e| err(e.to_string()))?;
            Tensor::F32(a.as_standard_layout().into_owned())
        }
        _ => Tensor::I8(read_as::<i8>(b)?),
    })
}

/// Reads a `.npy` file; every error names the file.
pub fn read_npy_file(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| NpuError::io(path, e))?;
    read_npy(&bytes).map_err(|e| named(path, e))
}

fn named(path: &Path, e: NpuError) -> NpuError {
    match e {
        NpuError::Npy(m) => NpuError::Npy(format!("{}: {m}", path.display())),
        other => other,
    }
}

fn write_array<T: WritableElement>(a: &ArrayD<T>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    a.write_npy(&mut out).map_err(|e| err(e.to_string()))?;
    Ok(out)
}

/// Serialises a tensor as `.npy` (v1.0 for every realistic header), or an error where
/// `ndarray-npy` refuses (only a header longer than format v3 allows).
pub fn try_write_npy(t: &Tensor) -> Result<Vec<u8>> {
    match t {
        Tensor::F32(a) => write_array(a),
        Tensor::I8(a) => write_array(a),
        Tensor::I32(a) => write_array(a),
        Tensor::I64(a) => write_array(a),
    }
}

/// Serialises a tensor as `.npy` v1.0.
///
/// Writing into memory cannot fail for these element types: the only error `ndarray-npy`
/// returns for a `Vec` writer is a header over 4 GiB, which needs a shape with more
/// dimensions than a tensor can have (its element count is capped at 2^36).
#[allow(clippy::expect_used)]
pub fn write_npy(t: &Tensor) -> Vec<u8> {
    try_write_npy(t).expect("an .npy header of a tensor fits format v3")
}

/// Writes a tensor to a `.npy` file; every error names the file.
pub fn write_npy_file(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = try_write_npy(t).map_err(|e| named(path, e))?;
    std::fs::write(path, bytes).map_err(|e| NpuError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        let t = Tensor::from_f32(&[2, 3], vec![1.0, -2.0, 3.5, 0.0, 1e-3, 7.0]).unwrap();
        let b = write_npy(&t);
        assert_eq!(b.len() % 64, 24);
        assert_eq!(read_npy(&b).unwrap(), t);
        let s = Tensor::from_i64(&[], vec![42]).unwrap();
        assert_eq!(read_npy(&write_npy(&s)).unwrap(), s);
        for cut in 0..b.len() {
            assert!(read_npy(&b[..cut]).is_err());
        }
        assert!(read_npy(b"hello world, not npy").is_err());
        let mut extra = b.clone();
        extra.push(0);
        assert!(read_npy(&extra).is_err());
    }

    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        h.push_str(&" ".repeat((64 - (10 + h.len() + 1) % 64) % 64));
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn other_dtypes_orders_and_endianness() {
        // f16 1.0, -2.0 (0x3c00, 0xc000), little-endian.
        let h = npy("<f2", false, "(2,)", &[0x00, 0x3c, 0x00, 0xc0]);
        assert_eq!(
            read_npy(&h).unwrap().to_f32().as_slice().unwrap(),
            &[1.0, -2.0]
        );
        let mut d = Vec::new();
        for v in [1.5f64, -3.0] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        let f8 = npy("<f8", false, "(2,)", &d);
        assert_eq!(
            read_npy(&f8).unwrap().to_f32().as_slice().unwrap(),
            &[1.5, -3.0]
        );
        let be = npy(">i4", false, "(1,)", &7i32.to_be_bytes());
        assert_eq!(
            read_npy(&be).unwrap(),
            Tensor::I32(ArrayD::from_shape_vec(IxDyn(&[1]), vec![7]).unwrap())
        );
        // Fortran order [[1, 2, 3], [4, 5, 6]] is stored column by column.
        let mut d = Vec::new();
        for v in [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        let f = read_npy(&npy("<f4", true, "(2, 3)", &d)).unwrap();
        let want = Tensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(f, want);
        assert!(f.to_f32().as_slice().is_some(), "standard layout");
        let e = read_npy(&npy("<u2", false, "(1,)", &[0, 0])).unwrap_err();
        assert!(e.to_string().contains("<u2"), "{e}");
        // A header claiming 2^40 elements is refused before anything is allocated.
        let e = read_npy(&npy("<f4", false, "(1099511627776,)", &[])).unwrap_err();
        assert!(e.to_string().contains("needs"), "{e}");
        // A v2 header length beyond the input.
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_npy(&v2).unwrap_err().to_string().contains("truncated"));
    }

    #[test]
    fn file_errors_name_the_file() {
        let d = std::env::temp_dir().join(format!("npu-npy-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("garbage_input.npy");
        std::fs::write(&p, b"not an npy file at all").unwrap();
        let e = read_npy_file(&p).unwrap_err().to_string();
        assert!(
            e.contains("garbage_input.npy") && e.contains("bad magic"),
            "{e}"
        );
        let e = read_npy_file(&d.join("absent.npy"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.npy"), "{e}");
        let t = Tensor::I32(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1, -1]).unwrap());
        let q = d.join("t.npy");
        write_npy_file(&q, &t).unwrap();
        assert_eq!(read_npy_file(&q).unwrap(), t);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mutated_headers_give_errors_not_panics() {
        let t = Tensor::from_f32(&[2, 3], vec![1.0; 6]).unwrap();
        let b = write_npy(&t);
        for i in 0..b.len() - 24 {
            for v in [0u8, b'(', b')', b',', b'\'', b'9', b'-', b'{', 0xff] {
                let mut m = b.clone();
                m[i] = v;
                if let Ok(t) = read_npy(&m) {
                    assert!(read_npy(&write_npy(&t)).is_ok());
                }
            }
        }
    }
}
