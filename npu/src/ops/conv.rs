//! Convolution family: 2-D Conv by im2col + GEMM (f32 on matrixmultiply, int8 on the exact
//! i8×i8→i32 GEMM of [`super::matmul`]) per sample and group, with bias and activation
//! epilogue; ConvTranspose in direct scatter form.

use ndarray::{ArrayD, ArrayView2, IxDyn};

use super::activation::export_with_epilogue;
use super::family::{misrouted, OpFamily};
use super::matmul::gemm_i8;
use super::quant::quantize_sym;
use super::window::{resolve_pads, window_out};
use super::{dims4, std_vec};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, CubeWork, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{AutoPad, ConvAttrs, Node, Op, QuantParams, Tensor};
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
                conv2d(cx.xf()?, wt, b.as_deref(), a, ctx)?
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
