//! Resize family: nearest-neighbour resize by scales or sizes (ONNX Resize mode=nearest).

use ndarray::Axis;

use crate::error::{NpuError, Result};
use crate::ir::{CoordMode, NearestMode, Tensor};
use crate::map_tensor;

/// Output shape of a nearest resize.
pub fn resize_shape(x: &[usize], scales: &[f32], sizes: &[usize], ctx: &str) -> Result<Vec<usize>> {
    if !sizes.is_empty() {
        if sizes.len() != x.len() {
            return Err(NpuError::shape(ctx, "Resize sizes rank differs from input"));
        }
        return Ok(sizes.to_vec());
    }
    if scales.len() != x.len() {
        return Err(NpuError::shape(
            ctx,
            "Resize scales rank differs from input",
        ));
    }
    if scales.iter().any(|s| !(s.is_finite() && *s > 0.0))
        || x.iter()
            .zip(scales)
            .any(|(&d, &s)| d as f64 * f64::from(s) > 1e12)
    {
        return Err(NpuError::shape(
            ctx,
            "Resize scales must be positive and sane",
        ));
    }
    Ok(x.iter()
        .zip(scales)
        .map(|(&d, &s)| (d as f32 * s).floor() as usize)
        .collect())
}

/// Nearest-neighbour resize (ONNX Resize mode=nearest).
pub fn resize_nearest(
    x: &Tensor,
    scales: &[f32],
    sizes: &[usize],
    coord: CoordMode,
    nearest: NearestMode,
    ctx: &str,
) -> Result<Tensor> {
    let ins = x.shape().to_vec();
    let outs = resize_shape(&ins, scales, sizes, ctx)?;
    let mut maps = Vec::with_capacity(ins.len());
    for ax in 0..ins.len() {
        let (i, o) = (ins[ax], outs[ax]);
        let scale = if scales.is_empty() {
            o as f32 / i.max(1) as f32
        } else {
            scales[ax]
        };
        let mut idx = Vec::with_capacity(o);
        for xo in 0..o {
            let orig = match coord {
                CoordMode::HalfPixel => (xo as f32 + 0.5) / scale - 0.5,
                CoordMode::Asymmetric => xo as f32 / scale,
                CoordMode::AlignCorners => {
                    if o <= 1 {
                        0.0
                    } else {
                        xo as f32 * (i as f32 - 1.0) / (o as f32 - 1.0)
                    }
                }
            };
            let r = match nearest {
                NearestMode::Floor => orig.floor(),
                NearestMode::Ceil => orig.ceil(),
                NearestMode::RoundPreferFloor => {
                    if orig.fract() == 0.5 {
                        orig.floor()
                    } else {
                        orig.round()
                    }
                }
                NearestMode::RoundPreferCeil => {
                    if orig.fract() == 0.5 {
                        orig.ceil()
                    } else {
                        orig.round()
                    }
                }
            };
            idx.push((r.max(0.0) as usize).min(i.saturating_sub(1)));
        }
        maps.push(idx);
    }
    Ok(map_tensor!(x, a => {
        let mut cur = a.clone();
        for (ax, idx) in maps.iter().enumerate() {
            cur = cur.select(Axis(ax), idx);
        }
        cur
    }))
}
