//! Minimal `.npy` (NumPy format v1–v3) reader and writer for little-endian f32/f64/f16,
//! i8/i32/i64 C-order arrays.

use ndarray::{ArrayD, IxDyn};

use crate::error::{NpuError, Result};
use crate::ir::Tensor;
use crate::onnx::import::f16_bits_to_f32;

fn err(s: impl Into<String>) -> NpuError {
    NpuError::Npy(s.into())
}

fn header_value<'a>(h: &'a str, key: &str) -> Result<&'a str> {
    let k = format!("'{key}'");
    let at = h
        .find(&k)
        .ok_or_else(|| err(format!("header lacks {key}")))?;
    let rest = h[at + k.len()..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| err("header: expected ':'"))?
        .trim_start();
    Ok(rest)
}

/// Parses `.npy` bytes into a tensor.
pub fn read_npy(b: &[u8]) -> Result<Tensor> {
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
        v => return Err(err(format!("unsupported version {v}"))),
    };
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| err("truncated header"))?;
    let h = std::str::from_utf8(&b[start..end]).map_err(|_| err("header is not text"))?;
    let descr_v = header_value(h, "descr")?;
    let descr = descr_v
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| err("bad descr"))?;
    if header_value(h, "fortran_order")?.starts_with("True") {
        return Err(err("Fortran-order arrays are not supported"));
    }
    let sv = header_value(h, "shape")?;
    let inner = sv
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| err("bad shape"))?;
    let mut shape = Vec::new();
    for p in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        shape.push(
            p.parse::<usize>()
                .map_err(|_| err(format!("bad dim `{p}`")))?,
        );
    }
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| err("shape overflows"))?;
    let data = &b[end..];
    let unit = match descr {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        "<f2" => 2,
        "|i1" | "<i1" => 1,
        d => return Err(err(format!("unsupported dtype `{d}`"))),
    };
    if data.len() != n.saturating_mul(unit) {
        return Err(err(format!(
            "data has {} bytes, shape {shape:?} needs {}",
            data.len(),
            n.saturating_mul(unit)
        )));
    }
    let sh = IxDyn(&shape);
    let se = |e: ndarray::ShapeError| err(e.to_string());
    Ok(match descr {
        "<f4" => Tensor::F32(
            ArrayD::from_shape_vec(
                sh,
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
            .map_err(se)?,
        ),
        "<f8" => Tensor::F32(
            ArrayD::from_shape_vec(
                sh,
                data.chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        f64::from_le_bytes(a) as f32
                    })
                    .collect(),
            )
            .map_err(se)?,
        ),
        "<f2" => Tensor::F32(
            ArrayD::from_shape_vec(
                sh,
                data.chunks_exact(2)
                    .map(|c| f16_bits_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            )
            .map_err(se)?,
        ),
        "<i4" => Tensor::I32(
            ArrayD::from_shape_vec(
                sh,
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
            .map_err(se)?,
        ),
        "<i8" => Tensor::I64(
            ArrayD::from_shape_vec(
                sh,
                data.chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        i64::from_le_bytes(a)
                    })
                    .collect(),
            )
            .map_err(se)?,
        ),
        _ => Tensor::I8(
            ArrayD::from_shape_vec(sh, data.iter().map(|&v| v as i8).collect()).map_err(se)?,
        ),
    })
}

/// Serialises a tensor as `.npy` v1.0.
pub fn write_npy(t: &Tensor) -> Vec<u8> {
    let descr = match t {
        Tensor::F32(_) => "<f4",
        Tensor::I8(_) => "|i1",
        Tensor::I32(_) => "<i4",
        Tensor::I64(_) => "<i8",
    };
    let shape = t.shape();
    let dims = match shape.len() {
        0 => String::new(),
        1 => format!("{},", shape[0]),
        _ => shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat((64 - total % 64) % 64));
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    match t {
        Tensor::F32(a) => a
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        Tensor::I8(a) => a.iter().for_each(|&v| out.push(v as u8)),
        Tensor::I32(a) => a
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        Tensor::I64(a) => a
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
    }
    out
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
    }
}
