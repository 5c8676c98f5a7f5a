//! Operator kernels on `ndarray`. Convolutions use im2col + GEMM (f32 through
//! `ndarray`'s matrixmultiply backend, int8 through an i8×i8→i32 GEMM); every kernel is
//! deterministic: the same input always gives bit-identical output.

use ndarray::{concatenate, ArrayD, ArrayView2, ArrayViewD, Axis, IxDyn, Zip};

use crate::error::{NpuError, Result};
use crate::ir::{
    Activation, AutoPad, BinaryOp, ConvAttrs, CoordMode, GemmAttrs, NearestMode, PoolAttrs,
    QuantParams, Tensor,
};
use crate::map_tensor;

/// Normalises a possibly negative axis.
pub fn norm_axis(axis: i64, rank: usize, ctx: &str) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(NpuError::shape(
            ctx,
            format!("axis {axis} out of range for rank {rank}"),
        ));
    }
    Ok(a as usize)
}

fn dims4(shape: &[usize], ctx: &str, what: &str) -> Result<[usize; 4]> {
    match shape {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        _ => Err(NpuError::shape(
            ctx,
            format!("{what} must be 4-D (NCHW), got {shape:?}"),
        )),
    }
}

/// Output size of a sliding window along one axis.
#[allow(clippy::too_many_arguments)]
pub fn window_out(
    input: usize,
    k: usize,
    s: usize,
    d: usize,
    pb: usize,
    pe: usize,
    ceil: bool,
    ctx: &str,
) -> Result<usize> {
    if s == 0 || d == 0 || k == 0 {
        return Err(NpuError::shape(ctx, "zero kernel, stride or dilation"));
    }
    let too_big = || NpuError::shape(ctx, "window geometry overflows");
    let span = (k - 1)
        .checked_mul(d)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(too_big)?;
    let total = input
        .checked_add(pb)
        .and_then(|v| v.checked_add(pe))
        .ok_or_else(too_big)?;
    if total < span {
        return Err(NpuError::shape(
            ctx,
            format!("window {span} larger than padded input {total}"),
        ));
    }
    let num = total - span;
    let mut out = if ceil { num.div_ceil(s) } else { num / s } + 1;
    if ceil && (out - 1) * s >= input + pb {
        out -= 1;
    }
    Ok(out)
}

/// Resolves `auto_pad` into explicit (top, left, bottom, right) pads.
pub fn resolve_pads(
    in_hw: [usize; 2],
    k: [usize; 2],
    s: [usize; 2],
    d: [usize; 2],
    auto_pad: AutoPad,
    pads: [usize; 4],
) -> [usize; 4] {
    match auto_pad {
        AutoPad::NotSet => pads,
        AutoPad::Valid => [0; 4],
        AutoPad::SameUpper | AutoPad::SameLower => {
            let mut p = [0usize; 4];
            for i in 0..2 {
                let st = s[i].max(1);
                let out = in_hw[i].div_ceil(st);
                let span = (k[i].max(1) - 1) * d[i].max(1) + 1;
                let total = ((out.saturating_sub(1)) * st + span).saturating_sub(in_hw[i]);
                let small = total / 2;
                let big = total - small;
                if auto_pad == AutoPad::SameUpper {
                    p[i] = small;
                    p[i + 2] = big;
                } else {
                    p[i] = big;
                    p[i + 2] = small;
                }
            }
            p
        }
    }
}

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

fn std_vec<T: Copy>(a: &ArrayD<T>) -> Vec<T> {
    a.iter().copied().collect()
}

/// Quantises to symmetric int8 with round-half-even and saturation to [-127, 127].
#[inline]
pub fn quantize_sym(x: f32, scale: f32) -> i8 {
    let q = (x / scale).round_ties_even();
    q.clamp(-127.0, 127.0) as i8
}

/// Plain i8×i8→i32 GEMM (`a` m×k, `b` k×n, row-major), four rows of `b` per pass.
pub fn gemm_i8_scalar(a: &[i8], b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        let crow = &mut c[i * n..(i + 1) * n];
        let arow = &a[i * k..(i + 1) * k];
        let mut kk = 0;
        while kk + 4 <= k {
            let (a0, a1, a2, a3) = (
                i32::from(arow[kk]),
                i32::from(arow[kk + 1]),
                i32::from(arow[kk + 2]),
                i32::from(arow[kk + 3]),
            );
            let b0 = &b[kk * n..(kk + 1) * n];
            let b1 = &b[(kk + 1) * n..(kk + 2) * n];
            let b2 = &b[(kk + 2) * n..(kk + 3) * n];
            let b3 = &b[(kk + 3) * n..(kk + 4) * n];
            for ((((cv, &x0), &x1), &x2), &x3) in crow.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3) {
                *cv += a0 * i32::from(x0)
                    + a1 * i32::from(x1)
                    + a2 * i32::from(x2)
                    + a3 * i32::from(x3);
            }
            kk += 4;
        }
        while kk < k {
            let av = i32::from(arow[kk]);
            for (cv, &bv) in crow.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                *cv += av * i32::from(bv);
            }
            kk += 1;
        }
    }
    c
}

/// Depth of one exact f32 block: |i8·i8| ≤ 2^14, so any partial sum of up to 1024 products
/// is an integer of magnitude ≤ 2^24 and therefore exact in f32.
pub const EXACT_F32_K_BLOCK: usize = 1024;

/// i8×i8→i32 GEMM (`a` m×k, `b` k×n, row-major) with the exact i32 result. The depth is cut
/// into blocks of [`EXACT_F32_K_BLOCK`]; each block runs on the f32 SIMD GEMM, where every
/// product and partial sum is an exactly representable integer, and is added in i32. The
/// result is bit-identical to integer arithmetic (checked against [`gemm_i8_scalar`]).
pub fn gemm_i8(a: &[i8], b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let af: Vec<f32> = a.iter().map(|&v| f32::from(v)).collect();
    let bf: Vec<f32> = b.iter().map(|&v| f32::from(v)).collect();
    let (Ok(am), Ok(bm)) = (
        ArrayView2::from_shape((m, k), &af),
        ArrayView2::from_shape((k, n), &bf),
    ) else {
        return gemm_i8_scalar(a, b, m, k, n);
    };
    let mut c = vec![0i32; m * n];
    let mut k0 = 0;
    while k0 < k {
        let k1 = (k0 + EXACT_F32_K_BLOCK).min(k);
        let r = am
            .slice(ndarray::s![.., k0..k1])
            .dot(&bm.slice(ndarray::s![k0..k1, ..]));
        for (cv, rv) in c.iter_mut().zip(r.iter()) {
            *cv += *rv as i32;
        }
        k0 = k1;
    }
    c
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

fn dot2(
    a: &ArrayViewD<'_, f32>,
    b: &ArrayViewD<'_, f32>,
    ctx: &str,
) -> Result<ndarray::Array2<f32>> {
    let a2 = a
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let b2 = b
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    if a2.ncols() != b2.nrows() {
        return Err(NpuError::shape(
            ctx,
            format!("inner dims {} and {} differ", a2.ncols(), b2.nrows()),
        ));
    }
    Ok(a2.dot(&b2))
}

/// Broadcast shape of two shapes (numpy rules).
pub fn broadcast_shape(a: &[usize], b: &[usize], ctx: &str) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(NpuError::shape(
                ctx,
                format!("shapes {a:?} and {b:?} do not broadcast"),
            ));
        };
    }
    Ok(out)
}

/// Output shape of numpy matmul.
pub fn matmul_shape(a: &[usize], b: &[usize], ctx: &str) -> Result<Vec<usize>> {
    if a.is_empty() || b.is_empty() {
        return Err(NpuError::shape(ctx, "MatMul of a scalar"));
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return Err(NpuError::shape(
            ctx,
            format!("MatMul inner dims differ: {a:?} x {b:?}"),
        ));
    }
    let mut batch = broadcast_shape(&a2[..a2.len() - 2], &b2[..b2.len() - 2], ctx)?;
    if a.len() > 1 {
        batch.push(m);
    }
    if b.len() > 1 {
        batch.push(n);
    }
    Ok(batch)
}

/// Numpy-semantics matmul with batch broadcasting.
pub fn matmul(a: &ArrayD<f32>, b: &ArrayD<f32>, ctx: &str) -> Result<ArrayD<f32>> {
    let out_shape = matmul_shape(a.shape(), b.shape(), ctx)?;
    let a2 = if a.ndim() == 1 {
        a.view().insert_axis(Axis(0)).into_dyn()
    } else {
        a.view()
    };
    let b2 = if b.ndim() == 1 {
        b.view().insert_axis(Axis(1)).into_dyn()
    } else {
        b.view()
    };
    let (m, n) = (a2.shape()[a2.ndim() - 2], b2.shape()[b2.ndim() - 1]);
    let k = a2.shape()[a2.ndim() - 1];
    let batch = broadcast_shape(
        &a2.shape()[..a2.ndim() - 2],
        &b2.shape()[..b2.ndim() - 2],
        ctx,
    )?;
    let mut ash = batch.clone();
    ash.extend([m, k]);
    let mut bsh = batch.clone();
    bsh.extend([k, n]);
    let ab = a2
        .broadcast(IxDyn(&ash))
        .ok_or_else(|| NpuError::shape(ctx, "MatMul broadcast"))?;
    let bb = b2
        .broadcast(IxDyn(&bsh))
        .ok_or_else(|| NpuError::shape(ctx, "MatMul broadcast"))?;
    let nb: usize = batch.iter().product();
    let a3 = ab
        .to_shape((nb, m, k))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let b3 = bb
        .to_shape((nb, k, n))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let mut out = Vec::with_capacity(nb * m * n);
    for i in 0..nb {
        let r = a3.index_axis(Axis(0), i).dot(&b3.index_axis(Axis(0), i));
        out.extend(r.iter().copied());
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// Gemm: alpha * A' * B' + beta * C, then the fused activation. With int8 parameters, B is an
/// int8 [K, N] matrix with per-column scales and A is quantised per tensor.
pub fn gemm(
    a: &ArrayD<f32>,
    b: &Tensor,
    c: Option<&ArrayD<f32>>,
    at: &GemmAttrs,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if a.ndim() != 2 || b.shape().len() != 2 {
        return Err(NpuError::shape(ctx, "Gemm operands must be 2-D"));
    }
    let av = if at.trans_a {
        a.t().into_dyn()
    } else {
        a.view()
    };
    let mut y: ndarray::Array2<f32> = match (b, &at.quant) {
        (Tensor::F32(bm), None) => {
            let bv = if at.trans_b {
                bm.t().into_dyn()
            } else {
                bm.view()
            };
            let mut y = dot2(&av, &bv, ctx)?;
            if at.alpha != 1.0 {
                y.mapv_inplace(|v| v * at.alpha);
            }
            y
        }
        (Tensor::I8(bq), Some(q)) => {
            let (m, k) = (av.shape()[0], av.shape()[1]);
            let (k2, n) = (bq.shape()[0], bq.shape()[1]);
            if k != k2 || q.weight_scales.len() != n {
                return Err(NpuError::shape(ctx, "int8 Gemm dims"));
            }
            let aq: Vec<i8> = av.iter().map(|&v| quantize_sym(v, q.input_scale)).collect();
            let acc = gemm_i8(&aq, &std_vec(bq), m, k, n);
            ndarray::Array2::from_shape_fn((m, n), |(i, j)| {
                acc[i * n + j] as f32 * q.input_scale * q.weight_scales[j] * at.alpha
            })
        }
        _ => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: "Gemm weight dtype does not match its quantisation".into(),
            })
        }
    };
    if let Some(c) = c {
        let cb = c.broadcast(y.raw_dim()).ok_or_else(|| {
            NpuError::shape(
                ctx,
                format!(
                    "Gemm C {:?} does not broadcast to {:?}",
                    c.shape(),
                    y.shape()
                ),
            )
        })?;
        Zip::from(&mut y)
            .and(&cb)
            .for_each(|yv, &cv| *yv += at.beta * cv);
    }
    if let Some(act) = at.activation {
        y.mapv_inplace(|v| act.apply(v));
    }
    Ok(y.into_dyn())
}

fn bin_generic<T: Copy>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    f: impl Fn(T, T) -> T,
    ctx: &str,
) -> Result<ArrayD<T>> {
    let shape = broadcast_shape(a.shape(), b.shape(), ctx)?;
    let av = a
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
    let bv = b
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

/// Broadcasting elementwise binary op.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, ctx: &str) -> Result<Tensor> {
    macro_rules! int_op {
        ($x:expr, $y:expr) => {
            bin_generic(
                $x,
                $y,
                |p, q| match op {
                    BinaryOp::Add => p.wrapping_add(q),
                    BinaryOp::Sub => p.wrapping_sub(q),
                    BinaryOp::Mul => p.wrapping_mul(q),
                    BinaryOp::Div => {
                        if q == 0 {
                            0
                        } else {
                            p.wrapping_div(q)
                        }
                    }
                },
                ctx,
            )
        };
    }
    match (a, b) {
        (Tensor::F32(x), Tensor::F32(y)) => Ok(Tensor::F32(bin_generic(
            x,
            y,
            |p, q| match op {
                BinaryOp::Add => p + q,
                BinaryOp::Sub => p - q,
                BinaryOp::Mul => p * q,
                BinaryOp::Div => p / q,
            },
            ctx,
        )?)),
        (Tensor::I64(x), Tensor::I64(y)) => Ok(Tensor::I64(int_op!(x, y)?)),
        (Tensor::I32(x), Tensor::I32(y)) => Ok(Tensor::I32(int_op!(x, y)?)),
        _ => Err(NpuError::DTypeMismatch {
            node: ctx.into(),
            detail: format!("{:?} with {:?}", a.dtype(), b.dtype()),
        }),
    }
}

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

/// Inference batch normalisation over channel axis 1.
pub fn batch_norm(
    x: &ArrayD<f32>,
    scale: &[f32],
    bias: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if x.ndim() < 2 {
        return Err(NpuError::shape(ctx, "BatchNormalization needs rank >= 2"));
    }
    let c = x.shape()[1];
    if [scale.len(), bias.len(), mean.len(), var.len()]
        .iter()
        .any(|&l| l != c)
    {
        return Err(NpuError::shape(ctx, "BatchNormalization parameter length"));
    }
    let mut y = x.clone();
    for (ci, mut lane) in y.axis_iter_mut(Axis(1)).enumerate() {
        let k = scale[ci] / (var[ci] + eps).sqrt();
        let b = bias[ci] - mean[ci] * k;
        lane.mapv_inplace(|v| v * k + b);
    }
    Ok(y)
}

/// Concatenation along an axis (all inputs of one dtype).
pub fn concat(xs: &[&Tensor], axis: i64, ctx: &str) -> Result<Tensor> {
    let first = xs
        .first()
        .ok_or_else(|| NpuError::shape(ctx, "Concat of nothing"))?;
    let ax = norm_axis(axis, first.shape().len(), ctx)?;
    macro_rules! cat {
        ($v:ident) => {{
            let mut views = Vec::with_capacity(xs.len());
            for t in xs {
                match t {
                    Tensor::$v(a) => views.push(a.view()),
                    _ => {
                        return Err(NpuError::DTypeMismatch {
                            node: ctx.into(),
                            detail: "Concat inputs differ in dtype".into(),
                        })
                    }
                }
            }
            Tensor::$v(
                concatenate(Axis(ax), &views).map_err(|e| NpuError::shape(ctx, e.to_string()))?,
            )
        }};
    }
    Ok(match first {
        Tensor::F32(_) => cat!(F32),
        Tensor::I8(_) => cat!(I8),
        Tensor::I32(_) => cat!(I32),
        Tensor::I64(_) => cat!(I64),
    })
}

/// Resolves a Reshape target (0 copies the input dim, -1 is inferred).
pub fn reshape_target(input: &[usize], shape: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            0 => out.push(
                *input
                    .get(i)
                    .ok_or_else(|| NpuError::shape(ctx, "Reshape 0 beyond input rank"))?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            s if s > 0 => out.push(s as usize),
            _ => {
                return Err(NpuError::shape(
                    ctx,
                    format!("bad Reshape target {shape:?}"),
                ))
            }
        }
    }
    let known: usize = out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpuError::shape(ctx, "Reshape target overflows"))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(NpuError::shape(
                ctx,
                format!("cannot reshape {input:?} to {shape:?}"),
            ));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(NpuError::shape(
            ctx,
            format!("cannot reshape {input:?} to {shape:?}"),
        ));
    }
    Ok(out)
}

/// Reshape to a concrete shape (row-major).
pub fn reshape(x: &Tensor, shape: &[usize], ctx: &str) -> Result<Tensor> {
    if shape.iter().product::<usize>() != x.len() {
        return Err(NpuError::shape(
            ctx,
            format!("cannot reshape {:?} to {shape:?}", x.shape()),
        ));
    }
    Ok(map_tensor!(x, a => {
        ArrayD::from_shape_vec(IxDyn(shape), a.iter().copied().collect())
            .map_err(|e| NpuError::shape(ctx, e.to_string()))?
    }))
}

/// Output shape of Squeeze.
pub fn squeeze_shape(x: &[usize], axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok(x.iter().copied().filter(|&d| d != 1).collect());
    }
    let mut drop = Vec::new();
    for &a in axes {
        let ax = norm_axis(a, x.len(), ctx)?;
        if x[ax] != 1 {
            return Err(NpuError::shape(
                ctx,
                format!("cannot squeeze axis {a} of {x:?}"),
            ));
        }
        drop.push(ax);
    }
    Ok(x.iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, &d)| d)
        .collect())
}

/// Output shape of Unsqueeze.
pub fn unsqueeze_shape(x: &[usize], axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let r = x.len() + axes.len();
    let mut ins = Vec::new();
    for &a in axes {
        let ax = norm_axis(a, r, ctx)?;
        if ins.contains(&ax) {
            return Err(NpuError::shape(ctx, "duplicate Unsqueeze axis"));
        }
        ins.push(ax);
    }
    let mut it = x.iter();
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        if ins.contains(&i) {
            out.push(1);
        } else {
            out.push(
                *it.next()
                    .ok_or_else(|| NpuError::shape(ctx, "Unsqueeze rank"))?,
            );
        }
    }
    Ok(out)
}

/// Validates a permutation (empty = reverse).
pub fn perm_or_reverse(perm: &[usize], rank: usize, ctx: &str) -> Result<Vec<usize>> {
    let p: Vec<usize> = if perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        perm.to_vec()
    };
    let mut seen = vec![false; rank];
    if p.len() != rank {
        return Err(NpuError::shape(ctx, "Transpose perm rank"));
    }
    for &i in &p {
        if i >= rank || seen[i] {
            return Err(NpuError::shape(ctx, format!("bad permutation {p:?}")));
        }
        seen[i] = true;
    }
    Ok(p)
}

/// Transpose.
pub fn transpose(x: &Tensor, perm: &[usize], ctx: &str) -> Result<Tensor> {
    let p = perm_or_reverse(perm, x.shape().len(), ctx)?;
    Ok(map_tensor!(x, a => a.view().permuted_axes(IxDyn(&p)).as_standard_layout().into_owned()))
}

/// Softmax along one axis.
pub fn softmax(x: &ArrayD<f32>, axis: i64, ctx: &str) -> Result<ArrayD<f32>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    let mut y = x.clone();
    for mut lane in y.lanes_mut(Axis(ax)) {
        let m = lane.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        lane.mapv_inplace(|v| (v - m).exp());
        let s: f32 = lane.iter().sum();
        lane.mapv_inplace(|v| v / s);
    }
    Ok(y)
}

fn reduce_axes(rank: usize, axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let mut v: Vec<usize> = if axes.is_empty() {
        (0..rank).collect()
    } else {
        axes.iter()
            .map(|&a| norm_axis(a, rank, ctx))
            .collect::<Result<_>>()?
    };
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Output shape of a reduction.
pub fn reduce_shape(x: &[usize], axes: &[i64], keep: bool, ctx: &str) -> Result<Vec<usize>> {
    let ax = reduce_axes(x.len(), axes, ctx)?;
    Ok(x.iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if ax.contains(&i) {
                keep.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect())
}

/// ReduceMin (min == true) or ReduceSum.
pub fn reduce(
    x: &ArrayD<f32>,
    axes: &[i64],
    keep: bool,
    min: bool,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let ax = reduce_axes(x.ndim(), axes, ctx)?;
    if min && ax.iter().any(|&a| x.shape()[a] == 0) {
        return Err(NpuError::shape(ctx, "ReduceMin over an empty axis"));
    }
    let mut y = x.clone();
    for &a in ax.iter().rev() {
        y = if min {
            y.fold_axis(Axis(a), f32::INFINITY, |&acc, &v| acc.min(v))
        } else {
            y.sum_axis(Axis(a))
        };
        if keep {
            y = y.insert_axis(Axis(a));
        }
    }
    Ok(y)
}

/// ArgMax (max == true) or ArgMin, first index on ties; i64 output.
pub fn arg_reduce(
    x: &ArrayD<f32>,
    axis: i64,
    keep: bool,
    max: bool,
    ctx: &str,
) -> Result<ArrayD<i64>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    if x.shape()[ax] == 0 {
        return Err(NpuError::shape(ctx, "arg-reduction over an empty axis"));
    }
    let y = x.map_axis(Axis(ax), |lane| {
        let mut best = 0usize;
        let mut bv = lane[0];
        for (i, &v) in lane.iter().enumerate().skip(1) {
            if (max && v > bv) || (!max && v < bv) {
                best = i;
                bv = v;
            }
        }
        best as i64
    });
    Ok(if keep { y.insert_axis(Axis(ax)) } else { y })
}

/// Gather along an axis with (possibly negative) integer indices.
pub fn gather(data: &Tensor, indices: &Tensor, axis: i64, ctx: &str) -> Result<Tensor> {
    let ds = data.shape().to_vec();
    let ax = norm_axis(axis, ds.len(), ctx)?;
    let dim = ds[ax] as i64;
    let idx: Vec<usize> = indices
        .to_i64_vec(ctx)?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim } else { i };
            if j < 0 || j >= dim {
                Err(NpuError::shape(
                    ctx,
                    format!("Gather index {i} out of range {dim}"),
                ))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<_>>()?;
    let mut shape: Vec<usize> = ds[..ax].to_vec();
    shape.extend_from_slice(indices.shape());
    shape.extend_from_slice(&ds[ax + 1..]);
    let sel = map_tensor!(data, a => a.select(Axis(ax), &idx));
    reshape(&sel, &shape, ctx)
}

fn per_axis(params: &[f32], x: &[usize], axis: i64, ctx: &str) -> Result<(usize, usize)> {
    if params.len() <= 1 {
        return Ok((0, 1));
    }
    let ax = norm_axis(axis, x.len(), ctx)?;
    if x[ax] != params.len() {
        return Err(NpuError::shape(
            ctx,
            "per-axis scale length differs from the axis",
        ));
    }
    Ok((ax, params.len()))
}

/// ONNX QuantizeLinear to int8: saturate(round(x / scale) + zero_point).
pub fn quantize_linear(
    x: &ArrayD<f32>,
    scale: &[f32],
    zp: &[i64],
    axis: i64,
    ctx: &str,
) -> Result<ArrayD<i8>> {
    let (ax, n) = per_axis(scale, x.shape(), axis, ctx)?;
    let mut out = ArrayD::<i8>::zeros(x.raw_dim());
    for ((idx, &v), o) in x.indexed_iter().zip(out.iter_mut()) {
        let c = if n == 1 { 0 } else { idx[ax] };
        let s = *scale
            .get(c)
            .ok_or_else(|| NpuError::shape(ctx, "empty scale"))?;
        let z = zp.get(c).copied().unwrap_or(0) as f32;
        *o = ((v / s).round_ties_even() + z).clamp(-128.0, 127.0) as i8;
    }
    Ok(out)
}

/// ONNX DequantizeLinear: (x - zero_point) * scale.
pub fn dequantize_linear(
    x: &Tensor,
    scale: &[f32],
    zp: &[i64],
    axis: i64,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let xi: ArrayD<i64> = match x {
        Tensor::I8(a) => a.mapv(i64::from),
        Tensor::I32(a) => a.mapv(i64::from),
        _ => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: "DequantizeLinear needs int8 or int32 input".into(),
            })
        }
    };
    let (ax, n) = per_axis(scale, xi.shape(), axis, ctx)?;
    let mut out = ArrayD::<f32>::zeros(xi.raw_dim());
    for ((idx, &v), o) in xi.indexed_iter().zip(out.iter_mut()) {
        let c = if n == 1 { 0 } else { idx[ax] };
        let s = *scale
            .get(c)
            .ok_or_else(|| NpuError::shape(ctx, "empty scale"))?;
        let z = zp.get(c).copied().unwrap_or(0);
        *o = (v - z) as f32 * s;
    }
    Ok(out)
}

/// Applies an activation elementwise.
pub fn activation(x: &ArrayD<f32>, act: Activation) -> ArrayD<f32> {
    x.mapv(|v| act.apply(v))
}
