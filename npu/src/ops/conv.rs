//! Convolution family: 2-D Conv by im2col + GEMM (f32 on matrixmultiply, int8 on the exact
//! i8×i8→i32 GEMM of [`super::matmul`]) per sample and group, with bias and activation
//! epilogue; ConvTranspose in direct scatter form.

use ndarray::{ArrayD, ArrayView2, IxDyn};

use super::matmul::gemm_i8;
use super::quant::quantize_sym;
use super::window::{resolve_pads, window_out};
use super::{dims4, std_vec};
use crate::error::{NpuError, Result};
use crate::ir::{AutoPad, ConvAttrs, QuantParams};

/// Geometry of a 2-D convolution after attribute resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub m: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Output height.
    pub ho: usize,
    /// Output width.
    pub wo: usize,
    /// Groups.
    pub g: usize,
    /// Resolved pads.
    pub pads: [usize; 4],
}

/// Validates and resolves the geometry of Conv given input and weight shapes.
pub fn conv_geom(x: &[usize], w: &[usize], a: &ConvAttrs, ctx: &str) -> Result<ConvGeom> {
    let [n, c, h, wd] = dims4(x, ctx, "Conv input")?;
    let [m, cg, kh, kw] = dims4(w, ctx, "Conv weight")?;
    let g = a.group.max(1);
    if cg * g != c || m % g != 0 {
        return Err(NpuError::shape(
            ctx,
            format!("input channels {c}, weight {w:?} and group {g} do not fit"),
        ));
    }
    let pads = resolve_pads(
        [h, wd],
        [kh, kw],
        a.strides,
        a.dilations,
        a.auto_pad,
        a.pads,
    );
    let ho = window_out(
        h,
        kh,
        a.strides[0],
        a.dilations[0],
        pads[0],
        pads[2],
        false,
        ctx,
    )?;
    let wo = window_out(
        wd,
        kw,
        a.strides[1],
        a.dilations[1],
        pads[1],
        pads[3],
        false,
        ctx,
    )?;
    Ok(ConvGeom {
        n,
        c,
        h,
        w: wd,
        m,
        kh,
        kw,
        ho,
        wo,
        g,
        pads,
    })
}

/// im2col of one sample and one group: rows are (channel, ky, kx), columns are (oy, ox).
fn im2col<T: Copy + Default>(
    x: &[T],
    geo: &ConvGeom,
    ni: usize,
    c0: usize,
    cg: usize,
    a: &ConvAttrs,
    cols: &mut [T],
) {
    let ConvGeom {
        c,
        h,
        w,
        kh,
        kw,
        ho,
        wo,
        pads,
        ..
    } = *geo;
    let p = ho * wo;
    let (sh, sw) = (a.strides[0], a.strides[1]);
    let (dh, dw) = (a.dilations[0], a.dilations[1]);
    for ci in 0..cg {
        let plane = &x[(ni * c + c0 + ci) * h * w..(ni * c + c0 + ci + 1) * h * w];
        for ky in 0..kh {
            for kx in 0..kw {
                let row = (ci * kh + ky) * kw + kx;
                let dst = &mut cols[row * p..(row + 1) * p];
                for oy in 0..ho {
                    let iy = (oy * sh + ky * dh) as isize - pads[0] as isize;
                    let drow = &mut dst[oy * wo..(oy + 1) * wo];
                    if iy < 0 || iy >= h as isize {
                        drow.iter_mut().for_each(|v| *v = T::default());
                        continue;
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    for (ox, dv) in drow.iter_mut().enumerate() {
                        let ix = (ox * sw + kx * dw) as isize - pads[1] as isize;
                        *dv = if ix < 0 || ix >= w as isize {
                            T::default()
                        } else {
                            src[ix as usize]
                        };
                    }
                }
            }
        }
    }
}
/// Weight operand of a convolution or Gemm: float, or int8 with its quantisation.
pub enum Weights<'a> {
    /// f32 weights.
    F32(&'a ArrayD<f32>),
    /// int8 weights with per-channel scales and the input scale.
    I8(&'a ArrayD<i8>, &'a QuantParams),
}

/// 2-D convolution (NCHW) by im2col + GEMM, with optional bias and fused activation.
pub fn conv2d(
    x: &ArrayD<f32>,
    w: Weights<'_>,
    bias: Option<&[f32]>,
    a: &ConvAttrs,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let wshape = match &w {
        Weights::F32(t) => t.shape().to_vec(),
        Weights::I8(t, _) => t.shape().to_vec(),
    };
    let geo = conv_geom(x.shape(), &wshape, a, ctx)?;
    let ConvGeom {
        n,
        m,
        ho,
        wo,
        g,
        kh,
        kw,
        c,
        ..
    } = geo;
    if let Some(b) = bias {
        if b.len() != m {
            return Err(NpuError::shape(
                ctx,
                format!("bias has {} values for {m} channels", b.len()),
            ));
        }
    }
    let cg = c / g;
    let mg = m / g;
    let kdim = cg * kh * kw;
    let hw = ho * wo;
    let xv = std_vec(x);
    let mut out = vec![0f32; n * m * hw];
    // Writes one output row (sample, channel oc) with bias and activation.
    let epilogue = |dst: &mut [f32], src: &mut dyn Iterator<Item = f32>, oc: usize| {
        let b = bias.map_or(0.0, |b| b[oc]);
        for (d, v) in dst.iter_mut().zip(src) {
            let y = v + b;
            *d = match a.activation {
                Some(act) => act.apply(y),
                None => y,
            };
        }
    };
    match w {
        Weights::F32(wt) => {
            let wv = std_vec(wt);
            let mut cols = vec![0f32; kdim * hw];
            for ni in 0..n {
                for gi in 0..g {
                    im2col(&xv, &geo, ni, gi * cg, cg, a, &mut cols);
                    let wm = ArrayView2::from_shape(
                        (mg, kdim),
                        &wv[gi * mg * kdim..(gi + 1) * mg * kdim],
                    )
                    .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
                    let cm = ArrayView2::from_shape((kdim, hw), &cols)
                        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
                    let r = wm.dot(&cm);
                    for (mi, row) in r.outer_iter().enumerate() {
                        let oc = gi * mg + mi;
                        let dst = &mut out[(ni * m + oc) * hw..(ni * m + oc + 1) * hw];
                        epilogue(dst, &mut row.iter().copied(), oc);
                    }
                }
            }
        }
        Weights::I8(wt, q) => {
            if q.weight_scales.len() != m {
                return Err(NpuError::shape(
                    ctx,
                    "weight scale count differs from channels",
                ));
            }
            let wv = std_vec(wt);
            let xq: Vec<i8> = xv.iter().map(|&v| quantize_sym(v, q.input_scale)).collect();
            let mut cols = vec![0i8; kdim * hw];
            for ni in 0..n {
                for gi in 0..g {
                    im2col(&xq, &geo, ni, gi * cg, cg, a, &mut cols);
                    let acc = gemm_i8(
                        &wv[gi * mg * kdim..(gi + 1) * mg * kdim],
                        &cols,
                        mg,
                        kdim,
                        hw,
                    );
                    for mi in 0..mg {
                        let oc = gi * mg + mi;
                        let s = q.input_scale * q.weight_scales[oc];
                        let dst = &mut out[(ni * m + oc) * hw..(ni * m + oc + 1) * hw];
                        epilogue(
                            dst,
                            &mut acc[mi * hw..(mi + 1) * hw].iter().map(|&v| v as f32 * s),
                            oc,
                        );
                    }
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[n, m, ho, wo]), out)
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// Output spatial size of a transposed convolution.
pub fn conv_transpose_out(
    x: &[usize],
    w: &[usize],
    a: &ConvAttrs,
    ctx: &str,
) -> Result<[usize; 4]> {
    let [n, c, h, wd] = dims4(x, ctx, "ConvTranspose input")?;
    let [ci, mg, kh, kw] = dims4(w, ctx, "ConvTranspose weight")?;
    let g = a.group.max(1);
    if ci != c || c % g != 0 {
        return Err(NpuError::shape(
            ctx,
            format!("input channels {c} do not fit weight {w:?} with group {g}"),
        ));
    }
    if !matches!(a.auto_pad, AutoPad::NotSet | AutoPad::Valid) {
        return Err(NpuError::unsupported(ctx, "ConvTranspose auto_pad SAME"));
    }
    let pads = if a.auto_pad == AutoPad::Valid {
        [0; 4]
    } else {
        a.pads
    };
    let size = |i: usize, k: usize, ax: usize| -> Result<usize> {
        let full = a.strides[ax]
            .checked_mul(i.max(1) - 1)
            .and_then(|v| v.checked_add(a.output_padding[ax]))
            .and_then(|v| v.checked_add((k.max(1) - 1).checked_mul(a.dilations[ax])?))
            .and_then(|v| v.checked_add(1))
            .ok_or_else(|| NpuError::shape(ctx, "ConvTranspose geometry overflows"))?;
        full.checked_sub(pads[ax].saturating_add(pads[ax + 2]))
            .filter(|&v| v > 0)
            .ok_or_else(|| NpuError::shape(ctx, "ConvTranspose pads exceed output"))
    };
    Ok([n, mg * g, size(h, kh, 0)?, size(wd, kw, 1)?])
}

/// Transposed 2-D convolution (direct scatter form).
pub fn conv_transpose2d(
    x: &ArrayD<f32>,
    w: &ArrayD<f32>,
    bias: Option<&[f32]>,
    a: &ConvAttrs,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let [n, m, ho, wo] = conv_transpose_out(x.shape(), w.shape(), a, ctx)?;
    let [_, c, h, wd] = dims4(x.shape(), ctx, "input")?;
    let [_, mg, kh, kw] = dims4(w.shape(), ctx, "weight")?;
    let g = a.group.max(1);
    let cg = c / g;
    let pads = if a.auto_pad == AutoPad::Valid {
        [0; 4]
    } else {
        a.pads
    };
    let xv = std_vec(x);
    let wv = std_vec(w);
    let mut out = vec![0f32; n * m * ho * wo];
    for ni in 0..n {
        for gi in 0..g {
            for cl in 0..cg {
                let ci = gi * cg + cl;
                for y in 0..h {
                    for xx in 0..wd {
                        let v = xv[((ni * c + ci) * h + y) * wd + xx];
                        for mo in 0..mg {
                            let oc = gi * mg + mo;
                            for ky in 0..kh {
                                let oy = (y * a.strides[0] + ky * a.dilations[0]) as isize
                                    - pads[0] as isize;
                                if oy < 0 || oy >= ho as isize {
                                    continue;
                                }
                                for kx in 0..kw {
                                    let ox = (xx * a.strides[1] + kx * a.dilations[1]) as isize
                                        - pads[1] as isize;
                                    if ox < 0 || ox >= wo as isize {
                                        continue;
                                    }
                                    out[((ni * m + oc) * ho + oy as usize) * wo + ox as usize] +=
                                        v * wv[((ci * mg + mo) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    for ni in 0..n {
        for oc in 0..m {
            let b = bias.map_or(0.0, |b| b.get(oc).copied().unwrap_or(0.0));
            for v in &mut out[(ni * m + oc) * ho * wo..(ni * m + oc + 1) * ho * wo] {
                *v += b;
                if let Some(act) = a.activation {
                    *v = act.apply(*v);
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[n, m, ho, wo]), out)
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}
