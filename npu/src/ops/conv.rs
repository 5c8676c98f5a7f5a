//! Convolution family: 2-D Conv by im2col + GEMM (f32 on matrixmultiply, int8 on the exact
//! i8×i8→i32 GEMM of [`super::matmul`]) per sample and group, with bias and activation
//! epilogue; ConvTranspose in direct scatter form.

use std::borrow::Cow;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, IxDyn};

use super::activation::export_with_epilogue;
use super::family::{misrouted, OpFamily};
use super::matmul::{gemm_i8, EXACT_F32_K_BLOCK};
use super::quant::{quantize_sym, quantize_sym_f32};
use super::window::{resolve_pads, window_out};
use super::{dims4, std_vec};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, CubeWork, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::f16::{round_f16, round_f16_slice};
use crate::ir::{Activation, AutoPad, ConvAttrs, Node, Op, QuantParams, Tensor};
use crate::onnx::export::{attr, auto_pad as export_auto_pad, ints, ExportCx, A};
use crate::onnx::import::{arr2, ImportCx};

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
/// Padding is written as zeros; the in-bounds span of each output row is one copy (stride 1)
/// or one strided gather.
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
                // ix = ox * sw + off is in [0, w) for ox in [lo, hi).
                let off = (kx * dw) as isize - pads[1] as isize;
                let lo = if off >= 0 {
                    0
                } else {
                    (off.unsigned_abs()).div_ceil(sw).min(wo)
                };
                let last = w as isize - 1 - off;
                let hi = if last < 0 {
                    lo
                } else {
                    (last as usize / sw + 1).clamp(lo, wo)
                };
                for oy in 0..ho {
                    let iy = (oy * sh + ky * dh) as isize - pads[0] as isize;
                    let drow = &mut dst[oy * wo..(oy + 1) * wo];
                    if iy < 0 || iy >= h as isize {
                        drow.fill(T::default());
                        continue;
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    drow[..lo].fill(T::default());
                    drow[hi..].fill(T::default());
                    if hi > lo {
                        let s0 = ((lo * sw) as isize + off) as usize;
                        if sw == 1 {
                            drow[lo..hi].copy_from_slice(&src[s0..s0 + (hi - lo)]);
                        } else {
                            gather(&mut drow[lo..hi], &src[s0..], sw);
                        }
                    }
                }
            }
        }
    }
}

/// One depthwise plane `ci` of one sample: `acc[oy, ox] = Σ w[ky, kx] · x[ci, iy, ix]` over
/// the in-bounds taps. Only for integer-valued operands whose every partial sum is an exact
/// f32 integer (int8 with depth ≤ [`EXACT_F32_K_BLOCK`]): then the order of the sum does not
/// change the result, and it equals the GEMM's to the bit (+0 for an all-zero sum, as the
/// GEMM's accumulator starts at +0).
fn depthwise_exact(
    x: &[f32],
    wk: &[f32],
    geo: &ConvGeom,
    ci: usize,
    a: &ConvAttrs,
    acc: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let ConvGeom {
        h,
        w,
        kh,
        kw,
        ho,
        wo,
        pads,
        ..
    } = *geo;
    let plane = &x[ci * h * w..(ci + 1) * h * w];
    let (sh, sw) = (a.strides[0], a.strides[1]);
    let (dh, dw) = (a.dilations[0], a.dilations[1]);
    let (hp, wp) = (h + pads[0] + pads[2], w + pads[1] + pads[3]);
    if sh == 1 && sw == 1 && ho + (kh - 1) * dh == hp && wo + (kw - 1) * dw == wp {
        // Stride 1: the plane zero-padded once, each tap one long multiply-add over the
        // flattened output rows of the padded width (the extra columns are dropped after).
        let (plen, flen) = (hp * wp + (kw - 1) * dw, ho * wp);
        scratch.clear();
        scratch.resize(plen + flen, 0.0);
        let (padded, flat) = scratch.split_at_mut(plen);
        for y in 0..h {
            let at = (y + pads[0]) * wp + pads[1];
            padded[at..at + w].copy_from_slice(&plane[y * w..(y + 1) * w]);
        }
        for ky in 0..kh {
            for kx in 0..kw {
                let wv = wk[ky * kw + kx];
                if wv == 0.0 {
                    continue;
                }
                let off = ky * dh * wp + kx * dw;
                for (d, &v) in flat.iter_mut().zip(&padded[off..off + flen]) {
                    *d += wv * v;
                }
            }
        }
        for (dst, src) in acc.chunks_exact_mut(wo).zip(flat.chunks_exact(wp)) {
            dst.copy_from_slice(&src[..wo]);
        }
        return;
    }
    acc.fill(0.0);
    for kx in 0..kw {
        // ix = ox * sw + off is in [0, w) for ox in [lo, hi) (as in `im2col`).
        let off = (kx * dw) as isize - pads[1] as isize;
        let lo = if off >= 0 {
            0
        } else {
            (off.unsigned_abs()).div_ceil(sw).min(wo)
        };
        let last = w as isize - 1 - off;
        let hi = if last < 0 {
            lo
        } else {
            (last as usize / sw + 1).clamp(lo, wo)
        };
        if hi <= lo {
            continue;
        }
        let s0 = ((lo * sw) as isize + off) as usize;
        for ky in 0..kh {
            let wv = wk[ky * kw + kx];
            if wv == 0.0 {
                continue;
            }
            for oy in 0..ho {
                let iy = (oy * sh + ky * dh) as isize - pads[0] as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let src = &plane[iy as usize * w + s0..];
                let dst = &mut acc[oy * wo + lo..oy * wo + hi];
                if sw == 1 {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d += wv * v;
                    }
                } else {
                    for (d, v) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                        *d += wv * *v;
                    }
                }
            }
        }
    }
}

/// `dst[j] = src[j * step]` (`dst` non-empty, `src` long enough); step 2 has its own loop
/// with a constant stride, which vectorises.
fn gather<T: Copy>(dst: &mut [T], src: &[T], step: usize) {
    let n = dst.len();
    if n == 0 {
        return;
    }
    let src = &src[..(n - 1) * step + 1];
    if step == 2 {
        let (head, last) = dst.split_at_mut(n - 1);
        for (d, pair) in head.iter_mut().zip(src.chunks_exact(2)) {
            *d = pair[0];
        }
        last[0] = src[(n - 1) * 2];
    } else {
        for (d, v) in dst.iter_mut().zip(src.chunks(step)) {
            *d = v[0];
        }
    }
}

/// The plain per-element im2col the fast one must match.
#[cfg(test)]
fn im2col_reference<T: Copy + Default>(
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
///
/// f32: each sample and group is one matrixmultiply GEMM written straight into the output
/// (the same library call, operands and depth order as a plain `dot`, so the same bits).
/// int8 (depth up to [`EXACT_F32_K_BLOCK`]): the quantised input and weights are laid out as
/// f32 integers and multiplied on the same f32 SIMD GEMM, where every product and partial sum
/// is an exact integer — the i32 result of [`gemm_i8`] to the bit. Deeper int8 kernels take
/// the block-wise i32 path.
pub fn conv2d(
    x: &ArrayD<f32>,
    w: Weights<'_>,
    bias: Option<&[f32]>,
    a: &ConvAttrs,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    conv2d_rounding(x, w, bias, a, false, ctx)
}

/// [`conv2d`], each result rounded to f16 when `round` (each output row as it is written,
/// while it is in cache: the same bits as rounding the whole output afterwards).
pub fn conv2d_rounding(
    x: &ArrayD<f32>,
    w: Weights<'_>,
    bias: Option<&[f32]>,
    a: &ConvAttrs,
    round: bool,
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
    let xs = contiguous(x);
    let (wf, scales): (Cow<'_, [f32]>, Option<Requant>) = match w {
        Weights::F32(wt) => (contiguous(wt), None),
        Weights::I8(wt, q) => {
            if q.weight_scales.len() != m {
                return Err(NpuError::shape(
                    ctx,
                    "weight scale count differs from channels",
                ));
            }
            if kdim > EXACT_F32_K_BLOCK {
                let mut y = conv2d_i8_blocked(&xs, wt, q, bias, a, &geo, ctx)?;
                if round {
                    y.mapv_inplace(round_f16);
                }
                return Ok(y);
            }
            let wf: Vec<f32> = wt.iter().map(|&v| f32::from(v)).collect();
            let s = q
                .weight_scales
                .iter()
                .map(|&ws| q.input_scale * ws)
                .collect();
            (Cow::Owned(wf), Some((s, q.input_scale)))
        }
    };
    // A 1x1, stride-1, unpadded kernel's im2col is the input itself.
    let direct = kh == 1 && kw == 1 && a.strides == [1, 1] && geo.pads == [0; 4];
    let mut out: Vec<f32> = Vec::with_capacity(n * m * hw);
    let chw = c * geo.h * geo.w;
    // Scratch, every element written before it is read: the im2col matrix, one sample-group
    // product (cache-resident; the epilogue moves it into `out`) and, for int8, one sample's
    // quantised input as exact f32 integers.
    let dw_exact = scales.is_some() && cg == 1 && mg == 1;
    let cols_len = if direct || dw_exact { 0 } else { kdim * hw };
    let xq_len = if scales.is_some() { chw } else { 0 };
    let mut dw_scratch = Vec::new();
    with_scratch(cols_len + mg * hw + xq_len, |buf| -> Result<()> {
        let (cols, rest) = buf.split_at_mut(cols_len);
        let (acc, xq) = rest.split_at_mut(mg * hw);
        for ni in 0..n {
            let xn: &[f32] = match &scales {
                None => &xs[ni * chw..(ni + 1) * chw],
                Some((_, in_scale)) => {
                    for (q, &v) in xq.iter_mut().zip(&xs[ni * chw..(ni + 1) * chw]) {
                        *q = quantize_sym_f32(v, *in_scale);
                    }
                    xq
                }
            };
            // int8 depthwise (one input and one output channel per group): the exact
            // integer sums accumulated straight from the input rows, no im2col or GEMM.
            if dw_exact {
                for gi in 0..g {
                    let row = &mut acc[..hw];
                    let wk = &wf[gi * kdim..(gi + 1) * kdim];
                    depthwise_exact(xn, wk, &geo, gi, a, row, &mut dw_scratch);
                    let s = scales.as_ref().map(|(s, _)| s[gi]);
                    let b = bias.map_or(0.0, |b| b[gi]);
                    epilogue_into(&mut out, row, s, b, a.activation, round);
                }
                continue;
            }
            for gi in 0..g {
                let cm = if direct {
                    let c0 = gi * cg * hw;
                    ArrayView2::from_shape((kdim, hw), &xn[c0..c0 + kdim * hw])
                } else {
                    im2col(xn, &geo, 0, gi * cg, cg, a, cols);
                    ArrayView2::from_shape((kdim, hw), &cols[..])
                }
                .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
                let wm =
                    ArrayView2::from_shape((mg, kdim), &wf[gi * mg * kdim..(gi + 1) * mg * kdim])
                        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
                {
                    let mut dm = ArrayViewMut2::from_shape((mg, hw), &mut acc[..])
                        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
                    general_mat_mul(1.0, &wm, &cm, 0.0, &mut dm);
                }
                for (mi, row) in acc.chunks_exact(hw).enumerate() {
                    let oc = gi * mg + mi;
                    let b = bias.map_or(0.0, |b| b[oc]);
                    let s = scales.as_ref().map(|(s, _)| s[oc]);
                    epilogue_into(&mut out, row, s, b, a.activation, round);
                }
            }
        }
        Ok(())
    })?;
    ArrayD::from_shape_vec(IxDyn(&[n, m, ho, wo]), out)
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// Largest scratch (elements) kept between calls (16 MiB of f32).
const SCRATCH_KEEP: usize = 4 << 20;

thread_local! {
    /// Per-thread conv scratch, reused across calls (no allocation or zero fill per call).
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` elements (stale contents: `f` must write before it
/// reads).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < len {
                v.resize(len, 0.0);
            }
            let r = f(&mut v[..len]);
            if v.len() > SCRATCH_KEEP {
                *v = Vec::new();
            }
            r
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// int8 requantisation of a convolution: the scale of each output channel (input scale ×
/// weight scale) and the input scale.
type Requant = (Vec<f32>, f32);

/// Appends `act(v * s + b)` (int8 scale `s`) or `act(v + b)` for each `v` of one output row,
/// rounded to f16 when `round`.
fn epilogue_into(
    out: &mut Vec<f32>,
    row: &[f32],
    scale: Option<f32>,
    b: f32,
    act: Option<Activation>,
    round: bool,
) {
    let start = out.len();
    epilogue_append(out, row, scale, b, act);
    if round {
        round_f16_slice(&mut out[start..]);
    }
}

fn epilogue_append(
    out: &mut Vec<f32>,
    row: &[f32],
    scale: Option<f32>,
    b: f32,
    act: Option<Activation>,
) {
    match (scale, act) {
        (None, None) => out.extend(row.iter().map(|&v| v + b)),
        (None, Some(Activation::Relu)) => out.extend(row.iter().map(|&v| (v + b).max(0.0))),
        (None, Some(act)) => out.extend(row.iter().map(|&v| act.apply(v + b))),
        (Some(s), None) => out.extend(row.iter().map(|&v| v * s + b)),
        (Some(s), Some(Activation::Relu)) => out.extend(row.iter().map(|&v| (v * s + b).max(0.0))),
        (Some(s), Some(act)) => out.extend(row.iter().map(|&v| act.apply(v * s + b))),
    }
}

/// The elements of `a` in logical order, borrowed when it is already contiguous.
fn contiguous<T: Copy>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(std_vec(a)),
    }
}

/// In place: `act(v + b)` on one output row.
fn epilogue(row: &mut [f32], b: f32, act: Option<Activation>) {
    match act {
        None => row.iter_mut().for_each(|v| *v += b),
        Some(Activation::Relu) => row.iter_mut().for_each(|v| *v = (*v + b).max(0.0)),
        Some(act) => row.iter_mut().for_each(|v| *v = act.apply(*v + b)),
    }
}

/// int8 convolution of any depth: i8 im2col and the block-wise exact [`gemm_i8`].
fn conv2d_i8_blocked(
    xs: &[f32],
    wt: &ArrayD<i8>,
    q: &QuantParams,
    bias: Option<&[f32]>,
    a: &ConvAttrs,
    geo: &ConvGeom,
    ctx: &str,
) -> Result<ArrayD<f32>> {
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
    } = *geo;
    let (cg, mg) = (c / g, m / g);
    let kdim = cg * kh * kw;
    let hw = ho * wo;
    let wv = contiguous(wt);
    let xq: Vec<i8> = xs.iter().map(|&v| quantize_sym(v, q.input_scale)).collect();
    let mut out = vec![0f32; n * m * hw];
    let mut cols = vec![0i8; kdim * hw];
    for ni in 0..n {
        for gi in 0..g {
            im2col(&xq, geo, ni, gi * cg, cg, a, &mut cols);
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
                let b = bias.map_or(0.0, |b| b[oc]);
                let dst = &mut out[(ni * m + oc) * hw..(ni * m + oc + 1) * hw];
                for (d, &v) in dst.iter_mut().zip(&acc[mi * hw..(mi + 1) * hw]) {
                    *d = v as f32 * s;
                }
                epilogue(dst, b, a.activation);
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[n, m, ho, wo]), out)
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// The plain im2col + `dot` convolution the fast [`conv2d`] must match bit for bit.
#[cfg(test)]
pub(crate) fn conv2d_reference(
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
                    im2col_reference(&xv, &geo, ni, gi * cg, cg, a, &mut cols);
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
                    im2col_reference(&xq, &geo, ni, gi * cg, cg, a, &mut cols);
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

/// Conv and ConvTranspose.
pub struct ConvFamily;

impl OpFamily for ConvFamily {
    fn name(&self) -> &'static str {
        "conv"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["Conv", "ConvTranspose"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let name = cx.name();
        if op_type == "Conv" && super::convnd::spatial_rank(cx).is_some_and(|r| r != 2) {
            return super::convnd::import_window(cx, op_type);
        }
        let (k, s, p, d, ap) = cx.window_attrs()?;
        let op_pad = cx.usizes("output_padding", 2, 0)?;
        if cx.has("output_shape") {
            return Err(NpuError::unsupported(name, "ConvTranspose output_shape"));
        }
        let attrs = ConvAttrs {
            kernel: k,
            strides: s,
            pads: p,
            dilations: d,
            group: usize::try_from(cx.i("group", 1))
                .ok()
                .filter(|&g| g > 0)
                .ok_or_else(|| cx.malformed(format!("bad group in `{name}`")))?,
            auto_pad: ap,
            output_padding: arr2(&op_pad),
            activation: None,
            quant: None,
        };
        Ok(if op_type == "Conv" {
            Op::Conv(attrs)
        } else {
            Op::ConvTranspose(attrs)
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        match op {
            Op::Conv(a) => {
                cx.float(x)?;
                let w = cx.input(1)?;
                let g = conv_geom(&x.shape, &w.shape, a, ctx)?;
                if let Some(b) = cx.opt(2) {
                    if b.len() != g.m {
                        return Err(NpuError::shape(
                            ctx,
                            "bias length differs from output channels",
                        ));
                    }
                }
                cx.f32(vec![g.n, g.m, g.ho, g.wo])
            }
            Op::ConvTranspose(a) => {
                cx.float(x)?;
                let w = cx.input(1)?;
                cx.f32(conv_transpose_out(&x.shape, &w.shape, a, ctx)?.to_vec())
            }
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let y = match op {
            Op::Conv(a) => {
                let w = cx.input(1)?;
                let b = cx.opt_f32_vec(2);
                let wt = match (w, &a.quant) {
                    (Tensor::F32(w), None) => Weights::F32(w),
                    (Tensor::I8(w), Some(q)) => Weights::I8(w, q),
                    _ => {
                        return Err(NpuError::DTypeMismatch {
                            node: ctx.into(),
                            detail: "Conv weight dtype does not match its quantisation".into(),
                        })
                    }
                };
                let y = conv2d_rounding(cx.xf()?, wt, b.as_deref(), a, cx.fp16(), ctx)?;
                if cx.fp16() {
                    cx.mark_rounded();
                }
                y
            }
            Op::ConvTranspose(a) => {
                let w = cx.input_f32(1)?;
                let b = cx.opt_f32_vec(2);
                conv_transpose2d(cx.xf()?, w, b.as_deref(), a, ctx)?
            }
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![Tensor::F32(y)])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Cube
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let in0 = cx.input_shape(0);
        let w = cx.input_shape(1);
        let mut work = Work::default();
        match op {
            Op::Conv(a) => {
                let o = cx.output_shape(0);
                if let ([n, c, _, _], [m, cg, kh, kw], [_, _, ho, wo]) = (&in0[..], &w[..], &o[..])
                {
                    let g = (*c / (*cg).max(1)).max(1) as u64;
                    let mg = (*m as u64) / g;
                    let k = (*cg * *kh * *kw) as u64;
                    let pix = (*n * *ho * *wo) as u64;
                    work.macs = g * mg * k * pix;
                    if *cg == 1 && mg == 1 && g > 1 {
                        // Depthwise: one input channel per output channel. CANN runs these on
                        // the vector unit; the cube would waste 15/16 of every fractal.
                        work.vector_ops += work.macs;
                    } else {
                        work.cube = Some(CubeWork {
                            groups: g,
                            m: pix,
                            k,
                            n: mg,
                        });
                    }
                }
                work.vector_ops += cx.epilogue(a.activation, 2);
            }
            Op::ConvTranspose(a) => {
                if let ([n, c, h, wd], [_, mg, kh, kw]) = (&in0[..], &w[..]) {
                    let g = a.group.max(1) as u64;
                    let cg = (*c as u64) / g;
                    let cols = (*mg * *kh * *kw) as u64;
                    let pix = (*n * *h * *wd) as u64;
                    work.macs = g * cg * cols * pix;
                    work.cube = Some(CubeWork {
                        groups: g,
                        m: pix,
                        k: cg,
                        n: cols,
                    });
                    work.vector_ops += g * cols * pix; // col2im scatter-add
                }
                work.vector_ops += cx.epilogue(a.activation, 2);
            }
            _ => {}
        }
        work
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (Op::Conv(a) | Op::ConvTranspose(a)) = op else {
            return Err(misrouted(self.name(), op));
        };
        let name = node.name.as_str();
        if a.quant.is_some() {
            return Err(NpuError::unsupported(
                name,
                "exporting an int8-compiled node",
            ));
        }
        // The weight's spatial dims are authoritative for the kernel shape.
        let kernel = match node
            .inputs
            .get(1)
            .and_then(|w| cx.graph().initializers.get(w))
            .map(Tensor::shape)
        {
            Some([_, _, kh, kw]) => [*kh, *kw],
            _ => a.kernel,
        };
        let mut at = vec![
            attr("kernel_shape", ints(&kernel)),
            attr("strides", ints(&a.strides)),
            attr("dilations", ints(&a.dilations)),
            attr("group", A::I(a.group as i64)),
        ];
        if a.auto_pad == AutoPad::NotSet {
            at.push(attr("pads", ints(&a.pads)));
        } else {
            at.push(attr("auto_pad", A::S(export_auto_pad(a.auto_pad))));
        }
        let op_type = if matches!(op, Op::Conv(_)) {
            "Conv"
        } else {
            at.push(attr("output_padding", ints(&a.output_padding)));
            "ConvTranspose"
        };
        export_with_epilogue(cx, node, op_type, at, a.activation);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Activation;

    /// Seeded values in [-1, 1), with exact zeros sprinkled in (64-bit LCG).
    fn values(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = ((s >> 40) as f32) / (1u64 << 24) as f32;
                if u < 0.1 {
                    0.0
                } else {
                    2.0 * u - 1.0
                }
            })
            .collect()
    }

    fn arr(shape: &[usize], seed: u64, scale: f32) -> ArrayD<f32> {
        let n = shape.iter().product();
        let v = values(seed, n).into_iter().map(|x| x * scale).collect();
        ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape")
    }

    fn same_bits(got: &ArrayD<f32>, want: &ArrayD<f32>, what: &str) {
        assert_eq!(got.shape(), want.shape(), "{what}");
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{what}: element {i}: {g:e} vs {w:e}"
            );
        }
    }

    /// (x shape, weight shape, strides, pads, dilations, group).
    type Case = (
        [usize; 4],
        [usize; 4],
        [usize; 2],
        [usize; 4],
        [usize; 2],
        usize,
    );

    fn cases() -> Vec<Case> {
        vec![
            (
                [1, 4, 64, 80],
                [8, 4, 3, 3],
                [2, 2],
                [1, 1, 1, 1],
                [1, 1],
                1,
            ),
            ([3, 5, 9, 11], [7, 5, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1),
            (
                [2, 3, 10, 13],
                [5, 3, 3, 3],
                [2, 2],
                [1, 0, 2, 1],
                [1, 1],
                1,
            ),
            (
                [2, 6, 12, 12],
                [6, 3, 3, 3],
                [1, 2],
                [2, 2, 2, 2],
                [2, 2],
                2,
            ),
            (
                [2, 12, 8, 10],
                [12, 12, 3, 3],
                [1, 1],
                [4, 4, 4, 4],
                [4, 4],
                1,
            ),
            ([3, 7, 5, 6], [3, 7, 1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1),
            ([2, 6, 4, 5], [4, 3, 1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 2),
            ([2, 5, 7, 9], [3, 5, 1, 1], [2, 2], [0, 0, 0, 0], [1, 1], 1),
            ([2, 4, 7, 9], [4, 1, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 4),
            ([1, 3, 6, 5], [2, 3, 5, 2], [3, 2], [0, 3, 1, 0], [1, 2], 1),
            // Depthwise as the planner's (7x9 "same", 1x1), strided and dilated, kernel
            // wider than the input.
            (
                [2, 6, 20, 17],
                [6, 1, 7, 9],
                [1, 1],
                [3, 4, 3, 4],
                [1, 1],
                6,
            ),
            ([2, 6, 5, 7], [6, 1, 1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 6),
            (
                [1, 3, 11, 13],
                [3, 1, 3, 3],
                [2, 3],
                [2, 1, 0, 3],
                [2, 2],
                3,
            ),
            ([1, 2, 3, 4], [2, 1, 5, 7], [1, 2], [2, 3, 2, 3], [1, 1], 2),
            ([1, 2, 3, 4], [2, 1, 5, 7], [1, 1], [2, 3, 2, 3], [1, 1], 2),
            ([1, 3, 9, 8], [3, 1, 3, 3], [1, 1], [2, 1, 2, 3], [2, 2], 3),
            ([2, 3, 6, 7], [3, 1, 2, 4], [1, 1], [0, 0, 1, 0], [1, 1], 3),
            // Kernel wider than the padded input in places; an output row of pure padding.
            ([2, 2, 3, 4], [3, 2, 3, 3], [1, 3], [2, 3, 2, 3], [1, 1], 1),
            // Depth over one matrixmultiply block (256) and, for int8, over 1024.
            (
                [1, 30, 6, 7],
                [5, 30, 3, 3],
                [1, 1],
                [1, 1, 1, 1],
                [1, 1],
                1,
            ),
            (
                [1, 120, 4, 5],
                [3, 120, 3, 3],
                [1, 1],
                [1, 1, 1, 1],
                [1, 1],
                1,
            ),
        ]
    }

    fn attrs(c: &Case, act: Option<Activation>) -> ConvAttrs {
        ConvAttrs {
            kernel: [c.1[2], c.1[3]],
            strides: c.2,
            pads: c.3,
            dilations: c.4,
            group: c.5,
            activation: act,
            ..ConvAttrs::default()
        }
    }

    const ACTS: [Option<Activation>; 4] = [
        None,
        Some(Activation::Relu),
        Some(Activation::Sigmoid),
        Some(Activation::LeakyRelu(0.1)),
    ];

    #[test]
    fn im2col_matches_reference() {
        for (i, c) in cases().iter().enumerate() {
            let x = arr(&c.0, i as u64, 1.0);
            let a = attrs(c, None);
            let geo = conv_geom(&c.0, &c.1, &a, "t").expect("geometry");
            let cg = geo.c / geo.g;
            let len = cg * geo.kh * geo.kw * geo.ho * geo.wo;
            let xs = std_vec(&x);
            for ni in 0..geo.n {
                for gi in 0..geo.g {
                    let mut fast = vec![f32::NAN; len];
                    let mut slow = vec![f32::NAN; len];
                    im2col(&xs, &geo, ni, gi * cg, cg, &a, &mut fast);
                    im2col_reference(&xs, &geo, ni, gi * cg, cg, &a, &mut slow);
                    let bad = fast
                        .iter()
                        .zip(&slow)
                        .position(|(f, s)| f.to_bits() != s.to_bits());
                    assert_eq!(bad, None, "case {i} sample {ni} group {gi}");
                }
            }
        }
    }

    #[test]
    fn f32_conv_matches_reference_bits() {
        for (i, c) in cases().iter().enumerate() {
            let x = arr(&c.0, 10 + i as u64, 2.0);
            let w = arr(&c.1, 20 + i as u64, 0.5);
            let b = values(30 + i as u64, c.1[0]);
            for act in ACTS {
                let a = attrs(c, act);
                for bias in [None, Some(b.as_slice())] {
                    let got = conv2d(&x, Weights::F32(&w), bias, &a, "t").expect("fast");
                    let want =
                        conv2d_reference(&x, Weights::F32(&w), bias, &a, "t").expect("reference");
                    same_bits(&got, &want, &format!("f32 case {i} {act:?}"));
                }
            }
        }
    }

    #[test]
    fn f32_conv_non_contiguous_input() {
        let c = &cases()[1];
        let x = arr(&[c.0[0], c.0[1], c.0[3], c.0[2]], 5, 1.0);
        let xt = x.view().permuted_axes(IxDyn(&[0, 1, 3, 2])).to_owned();
        let xt = xt.view().permuted_axes(IxDyn(&[0, 1, 2, 3])).into_owned();
        let xp = x.clone().permuted_axes(IxDyn(&[0, 1, 3, 2]));
        assert!(xp.as_slice().is_none());
        let w = arr(&c.1, 6, 0.5);
        let a = attrs(c, Some(Activation::Relu));
        let got = conv2d(&xp, Weights::F32(&w), None, &a, "t").expect("fast");
        let want = conv2d_reference(&xt, Weights::F32(&w), None, &a, "t").expect("reference");
        same_bits(&got, &want, "permuted input");
    }

    #[test]
    fn int8_conv_matches_reference_bits() {
        for (i, c) in cases().iter().enumerate() {
            let x = arr(&c.0, 40 + i as u64, 3.0);
            let wf = values(50 + i as u64, c.1.iter().product());
            let wq: Vec<i8> = wf.iter().map(|&v| (v * 127.0) as i8).collect();
            let wq = ArrayD::from_shape_vec(IxDyn(&c.1), wq).expect("shape");
            let q = QuantParams {
                input_scale: 3.0 / 127.0,
                weight_scales: values(60 + i as u64, c.1[0])
                    .iter()
                    .map(|v| 0.001 + v.abs() * 0.01)
                    .collect(),
            };
            let b = values(70 + i as u64, c.1[0]);
            for act in ACTS {
                let a = attrs(c, act);
                for bias in [None, Some(b.as_slice())] {
                    let got = conv2d(&x, Weights::I8(&wq, &q), bias, &a, "t").expect("fast");
                    let want = conv2d_reference(&x, Weights::I8(&wq, &q), bias, &a, "t")
                        .expect("reference");
                    same_bits(&got, &want, &format!("int8 case {i} {act:?}"));
                }
            }
        }
    }

    #[test]
    fn fp16_rounded_conv_matches_reference_bits() {
        // The fp16 executor rounds inputs, weights and results to f16.
        let r = |a: &ArrayD<f32>| a.mapv(crate::f16::round_f16_reference);
        for (i, c) in cases().iter().enumerate() {
            let x = r(&arr(&c.0, 80 + i as u64, 2.0));
            let w = r(&arr(&c.1, 90 + i as u64, 0.5));
            let a = attrs(c, Some(Activation::Relu));
            let got = conv2d(&x, Weights::F32(&w), None, &a, "t").expect("fast");
            let want = conv2d_reference(&x, Weights::F32(&w), None, &a, "t").expect("reference");
            let mut g = got.clone();
            g.mapv_inplace(crate::f16::round_f16);
            same_bits(&g, &r(&want), &format!("fp16 case {i}"));
        }
    }

    /// The graph run node by node with the reference conv and f16 rounding (no executor
    /// shortcuts, no gear batching).
    fn run_reference(
        g: &crate::ir::Graph,
        x: &Tensor,
        fp16: bool,
    ) -> std::collections::BTreeMap<String, Tensor> {
        use crate::f16::round_f16_reference as r16;
        let round = |t: Tensor| match t {
            Tensor::F32(a) if fp16 => Tensor::F32(a.mapv(r16)),
            t => t,
        };
        let mut vals = std::collections::BTreeMap::new();
        vals.insert(g.inputs[0].name.clone(), round(x.clone()));
        for node in &g.nodes {
            let ins: Vec<Option<&Tensor>> = node
                .inputs
                .iter()
                .map(|n| {
                    if n.is_empty() {
                        None
                    } else {
                        vals.get(n).or_else(|| g.initializers.get(n))
                    }
                })
                .collect();
            let outs = match &node.op {
                Op::Conv(a) => {
                    let xf = ins[0].and_then(|t| t.as_f32("x").ok()).expect("x");
                    let wt = match (ins[1].expect("w"), &a.quant) {
                        (Tensor::F32(w), None) => Weights::F32(w),
                        (Tensor::I8(w), Some(q)) => Weights::I8(w, q),
                        _ => panic!("weight dtype"),
                    };
                    let b = ins.get(2).copied().flatten().map(Tensor::to_f32_vec);
                    let y = conv2d_reference(xf, wt, b.as_deref(), a, &node.name).expect("conv");
                    vec![Tensor::F32(y)]
                }
                _ => crate::exec::eval_node(node, &ins).expect("node"),
            };
            for (name, t) in node.outputs.iter().zip(outs) {
                vals.insert(name.clone(), round(t));
            }
        }
        g.outputs
            .iter()
            .map(|o| (o.name.clone(), vals[&o.name].clone()))
            .collect()
    }

    #[test]
    fn detector_model_matches_reference_executor() {
        model_matches_reference_executor("detector.onnx", [4, 64, 80]);
    }

    #[test]
    fn planner_model_matches_reference_executor() {
        model_matches_reference_executor("planner.onnx", [8, 160, 33]);
    }

    /// The committed model at fp32/fp16/int8 on sparse inputs, the executor against
    /// [`run_reference`], bit for bit.
    fn model_matches_reference_executor(file: &str, [c, h, w]: [usize; 3]) {
        use crate::compiler::{compile, CompileOptions};
        use crate::ir::Precision;
        use std::collections::BTreeMap;
        let path = format!("{}/../assets/models/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).expect("model");
        let g = crate::onnx::import::import_onnx(&bytes).expect("import");
        let name = g.inputs[0].name.clone();
        let grid = |seed: u64, n: usize| {
            let v: Vec<f32> = values(seed, n * c * h * w)
                .into_iter()
                .map(|x| if x > 0.6 { x } else { 0.0 })
                .collect();
            Tensor::from_f32(&[n, c, h, w], v).expect("grid")
        };
        let calib: Vec<_> = (0..3)
            .map(|i| BTreeMap::from([(name.clone(), grid(200 + i, 1))]))
            .collect();
        let profile = crate::device::DeviceProfile::builtin("ascend310").expect("profile");
        for prec in [Precision::Fp32, Precision::Fp16, Precision::Int8] {
            let opts = CompileOptions {
                precision: prec,
                gears: vec![1, 2, 4],
                calibration: if prec == Precision::Int8 {
                    calib.clone()
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            let m = compile(&g, &profile, &opts).expect("compile");
            // 3 pads to gear 4 (concatenation and split); 2 fills its gear.
            for batch in [3usize, 2] {
                let x = grid(300 + batch as u64, batch);
                let got = m
                    .run(&BTreeMap::from([(name.clone(), x.clone())]))
                    .expect("run");
                let want = run_reference(&m.graph, &x, prec != Precision::Fp32);
                assert_eq!(got.len(), want.len());
                for (k, w) in &want {
                    let gv = got[k].as_f32(k).expect("f32");
                    let wv = w.as_f32(k).expect("f32");
                    same_bits(gv, wv, &format!("{prec:?} batch {batch} output {k}"));
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = arr(&[1, 3, 5, 5], 1, 1.0);
        let w = arr(&[2, 4, 3, 3], 2, 1.0);
        assert!(conv2d(&x, Weights::F32(&w), None, &ConvAttrs::default(), "t").is_err());
        let w = arr(&[2, 3, 3, 3], 2, 1.0);
        assert!(conv2d(
            &x,
            Weights::F32(&w),
            Some(&[1.0]),
            &ConvAttrs::default(),
            "t"
        )
        .is_err());
    }
}
