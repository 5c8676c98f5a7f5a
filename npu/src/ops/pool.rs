//! Pooling family: MaxPool / AveragePool over 2-D windows and GlobalAveragePool.

use ndarray::{ArrayD, IxDyn};

use super::window::{resolve_pads, window_out};
use super::{dims4, std_vec};
use crate::error::{NpuError, Result};
use crate::ir::PoolAttrs;

/// Output shape of a 2-D pooling op, with the resolved pads.
pub fn pool_geom(x: &[usize], p: &PoolAttrs, ctx: &str) -> Result<([usize; 4], [usize; 4])> {
    let [n, c, h, w] = dims4(x, ctx, "pool input")?;
    let pads = resolve_pads([h, w], p.kernel, p.strides, p.dilations, p.auto_pad, p.pads);
    let ho = window_out(
        h,
        p.kernel[0],
        p.strides[0],
        p.dilations[0],
        pads[0],
        pads[2],
        p.ceil_mode,
        ctx,
    )?;
    let wo = window_out(
        w,
        p.kernel[1],
        p.strides[1],
        p.dilations[1],
        pads[1],
        pads[3],
        p.ceil_mode,
        ctx,
    )?;
    Ok(([n, c, ho, wo], pads))
}

/// MaxPool (max == true) or AveragePool over 2-D windows.
pub fn pool2d(x: &ArrayD<f32>, p: &PoolAttrs, max: bool, ctx: &str) -> Result<ArrayD<f32>> {
    let ([n, c, ho, wo], pads) = pool_geom(x.shape(), p, ctx)?;
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let xv = std_vec(x);
    let mut out = Vec::with_capacity(n * c * ho * wo);
    let (dh, dw) = if max {
        (p.dilations[0], p.dilations[1])
    } else {
        (1, 1)
    };
    for plane in 0..n * c {
        let src = &xv[plane * h * w..(plane + 1) * h * w];
        for oy in 0..ho {
            for ox in 0..wo {
                let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
                let mut cnt = 0usize;
                let mut padcnt = 0usize;
                for ky in 0..p.kernel[0] {
                    let iy = (oy * p.strides[0] + ky * dh) as isize - pads[0] as isize;
                    for kx in 0..p.kernel[1] {
                        let ix = (ox * p.strides[1] + kx * dw) as isize - pads[1] as isize;
                        let inside_pad = iy < (h + pads[2]) as isize && ix < (w + pads[3]) as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            if inside_pad {
                                padcnt += 1;
                            }
                            continue;
                        }
                        let v = src[iy as usize * w + ix as usize];
                        if max {
                            if v > acc || v.is_nan() {
                                acc = v;
                            }
                        } else {
                            acc += v;
                        }
                        cnt += 1;
                    }
                }
                if !max {
                    let div = if p.count_include_pad {
                        cnt + padcnt
                    } else {
                        cnt
                    };
                    acc = if div == 0 { 0.0 } else { acc / div as f32 };
                }
                out.push(acc);
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[n, c, ho, wo]), out)
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// Mean over all spatial axes, keeping them as size 1.
pub fn global_avg_pool(x: &ArrayD<f32>, ctx: &str) -> Result<ArrayD<f32>> {
    if x.ndim() < 3 {
        return Err(NpuError::shape(ctx, "GlobalAveragePool needs rank >= 3"));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let sp: usize = x.shape()[2..].iter().product();
    let xs = x
        .to_shape((n, c, sp))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let mut shape = vec![n, c];
    shape.extend(std::iter::repeat_n(1, x.ndim() - 2));
    let v: Vec<f32> = xs
        .outer_iter()
        .flat_map(|p| {
            p.outer_iter()
                .map(|r| r.iter().sum::<f32>() / sp.max(1) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| NpuError::shape(ctx, e.to_string()))
}
