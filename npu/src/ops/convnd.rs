//! N-D window family: convolution and max/average pooling over 1, 3 or more spatial axes
//! (the 2-D ones keep their own `conv`/`pool` kernels with fusion and int8). Convolution is
//! im2col + one GEMM per sample and group (ndarray's matrixmultiply: deterministic), pooling
//! a direct loop. ONNX `Conv`/`MaxPool`/`AveragePool` nodes whose window is not 2-D are
//! routed here by the `conv` and `pool` importers.

use ndarray::{Array2, ArrayD, IxDyn};

use super::family::{misrouted, OpFamily};
use super::window::window_out;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, CubeWork, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{AutoPad, Node, Op, Tensor, WindowNd};
use crate::onnx::export::{attr, auto_pad, ints, ExportCx, A};
use crate::onnx::import::ImportCx;

/// Output spatial sizes and the resolved (begin, end) pads per spatial axis.
pub type NdGeom = (Vec<usize>, Vec<(usize, usize)>);

/// Output spatial sizes and resolved (begin, end) pads of an N-D window over `spatial`.
pub fn window_nd_geom(
    spatial: &[usize],
    kernel: &[usize],
    w: &WindowNd,
    ctx: &str,
) -> Result<NdGeom> {
    let r = spatial.len();
    let get = |v: &[usize], i: usize, d: usize| v.get(i).copied().unwrap_or(d);
    if kernel.len() != r
        || (!w.strides.is_empty() && w.strides.len() != r)
        || (!w.dilations.is_empty() && w.dilations.len() != r)
        || (!w.pads.is_empty() && w.pads.len() != 2 * r)
    {
        return Err(NpuError::shape(
            ctx,
            format!("window attributes do not match {r} spatial axes"),
        ));
    }
    let mut out = Vec::with_capacity(r);
    let mut pads = Vec::with_capacity(r);
    for i in 0..r {
        let (k, s, d) = (kernel[i], get(&w.strides, i, 1), get(&w.dilations, i, 1));
        let (pb, pe) = match w.auto_pad {
            AutoPad::NotSet => (get(&w.pads, i, 0), get(&w.pads, i + r, 0)),
            AutoPad::Valid => (0, 0),
            AutoPad::SameUpper | AutoPad::SameLower => {
                let o = spatial[i].div_ceil(s.max(1));
                let span = (k.max(1) - 1) * d.max(1) + 1;
                let total = ((o.saturating_sub(1)) * s.max(1) + span).saturating_sub(spatial[i]);
                let small = total / 2;
                if w.auto_pad == AutoPad::SameUpper {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            }
        };
        out.push(window_out(spatial[i], k, s, d, pb, pe, w.ceil_mode, ctx)?);
        pads.push((pb, pe));
    }
    Ok((out, pads))
}

fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Multi-index of flat position `f` in `shape` (row-major) into `idx`.
fn unravel(mut f: usize, shape: &[usize], idx: &mut [usize]) {
    for i in (0..shape.len()).rev() {
        let d = shape[i].max(1);
        idx[i] = f % d;
        f /= d;
    }
}

/// Input offset (within one channel plane) of output position `o` and kernel offset `k`, or
/// `None` in the padding.
fn tap(
    o: &[usize],
    k: &[usize],
    spatial: &[usize],
    sstr: &[usize],
    w: &WindowNd,
    pads: &[(usize, usize)],
) -> Option<usize> {
    let mut off = 0;
    for i in 0..o.len() {
        let s = w.strides.get(i).copied().unwrap_or(1);
        let d = w.dilations.get(i).copied().unwrap_or(1);
        let p = (o[i] * s + k[i] * d) as i64 - pads[i].0 as i64;
        if p < 0 || p >= spatial[i] as i64 {
            return None;
        }
        off += p as usize * sstr[i];
    }
    Some(off)
}

/// N-D convolution: x `[N, C, *S]`, w `[M, C/g, *K]`, optional bias `[M]`.
pub fn conv_nd(
    x: &ArrayD<f32>,
    wt: &ArrayD<f32>,
    bias: Option<&[f32]>,
    a: &WindowNd,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let (xs, ws) = (x.shape(), wt.shape());
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(NpuError::shape(
            ctx,
            format!("Conv of {xs:?} with weight {ws:?}"),
        ));
    }
    let (n, c, m, cg) = (xs[0], xs[1], ws[0], ws[1]);
    let g = a.group.max(1);
    if cg * g != c || !m.is_multiple_of(g) || bias.is_some_and(|b| b.len() != m) {
        return Err(NpuError::shape(
            ctx,
            "Conv channels, groups or bias do not match",
        ));
    }
    let spatial = &xs[2..];
    let kernel = &ws[2..];
    let (out, pads) = window_nd_geom(spatial, kernel, a, ctx)?;
    let (plane, kk, pp) = (
        spatial.iter().product::<usize>(),
        kernel.iter().product::<usize>(),
        out.iter().product::<usize>(),
    );
    let sstr = strides_of(spatial);
    let xv = super::std_vec(x);
    let wv = super::std_vec(wt);
    let mg = m / g;
    let kdim = cg * kk;
    // Offsets of every (kernel, output) pair, shared by all channels.
    let mut taps = vec![None; kk * pp];
    let (mut oi, mut ki) = (vec![0; out.len()], vec![0; kernel.len()]);
    for kf in 0..kk {
        unravel(kf, kernel, &mut ki);
        for of in 0..pp {
            unravel(of, &out, &mut oi);
            taps[kf * pp + of] = tap(&oi, &ki, spatial, &sstr, a, &pads);
        }
    }
    let mut y = vec![0f32; n * m * pp];
    let mut cols = Array2::<f32>::zeros((kdim, pp));
    for b in 0..n {
        for gi in 0..g {
            for ci in 0..cg {
                let base = (b * c + gi * cg + ci) * plane;
                for kf in 0..kk {
                    let row = ci * kk + kf;
                    for of in 0..pp {
                        cols[[row, of]] = taps[kf * pp + of].map_or(0.0, |t| xv[base + t]);
                    }
                }
            }
            let wg = Array2::from_shape_vec(
                (mg, kdim),
                wv[gi * mg * kdim..(gi + 1) * mg * kdim].to_vec(),
            )
            .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
            let r = wg.dot(&cols);
            for mi in 0..mg {
                let oc = gi * mg + mi;
                let bv = bias.map_or(0.0, |bb| bb[oc]);
                let dst = &mut y[(b * m + oc) * pp..(b * m + oc + 1) * pp];
                for (d, &v) in dst.iter_mut().zip(r.row(mi).iter()) {
                    *d = v + bv;
                }
            }
        }
    }
    let mut shape = vec![n, m];
    shape.extend(&out);
    ArrayD::from_shape_vec(IxDyn(&shape), y).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// N-D max (`max == true`) or average pooling over x `[N, C, *S]`.
pub fn pool_nd(x: &ArrayD<f32>, a: &WindowNd, max: bool, ctx: &str) -> Result<ArrayD<f32>> {
    let xs = x.shape();
    if xs.len() < 3 {
        return Err(NpuError::shape(ctx, "pool input must be at least 3-D"));
    }
    let (n, c) = (xs[0], xs[1]);
    let spatial = &xs[2..];
    let (out, pads) = window_nd_geom(spatial, &a.kernel, a, ctx)?;
    let (plane, kk, pp) = (
        spatial.iter().product::<usize>(),
        a.kernel.iter().product::<usize>(),
        out.iter().product::<usize>(),
    );
    let sstr = strides_of(spatial);
    let xv = super::std_vec(x);
    let (mut oi, mut ki) = (vec![0; out.len()], vec![0; a.kernel.len()]);
    // Per output position: the in-range taps and the divisor with padding counted.
    let mut taps: Vec<Vec<usize>> = Vec::with_capacity(pp);
    let mut padded_count = Vec::with_capacity(pp);
    for of in 0..pp {
        unravel(of, &out, &mut oi);
        let mut t = Vec::with_capacity(kk);
        let mut cnt = 0usize;
        for kf in 0..kk {
            unravel(kf, &a.kernel, &mut ki);
            if let Some(off) = tap(&oi, &ki, spatial, &sstr, a, &pads) {
                t.push(off);
            }
            // Inside the explicitly padded extent (ceil_mode cells beyond it never count).
            let inside = (0..oi.len()).all(|i| {
                let s = a.strides.get(i).copied().unwrap_or(1);
                let d = a.dilations.get(i).copied().unwrap_or(1);
                oi[i] * s + ki[i] * d < spatial[i] + pads[i].0 + pads[i].1
            });
            cnt += usize::from(inside);
        }
        taps.push(t);
        padded_count.push(cnt);
    }
    let mut y = vec![0f32; n * c * pp];
    for p in 0..n * c {
        let base = p * plane;
        for of in 0..pp {
            let t = &taps[of];
            y[p * pp + of] = if max {
                t.iter()
                    .fold(f32::NEG_INFINITY, |acc, &o| acc.max(xv[base + o]))
            } else {
                let s: f64 = t.iter().map(|&o| f64::from(xv[base + o])).sum();
                let div = if a.count_include_pad {
                    padded_count[of]
                } else {
                    t.len()
                };
                (s / div.max(1) as f64) as f32
            };
        }
    }
    let mut shape = vec![n, c];
    shape.extend(&out);
    ArrayD::from_shape_vec(IxDyn(&shape), y).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

fn usize_attr(cx: &ImportCx<'_>, k: &str) -> Result<Vec<usize>> {
    cx.ints(k)
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            usize::try_from(v)
                .map_err(|_| cx.malformed(format!("negative `{k}` in `{}`", cx.name())))
        })
        .collect()
}

/// Window attributes of an N-D Conv/MaxPool/AveragePool node (the `conv` and `pool`
/// importers call this when the window is not 2-D).
pub fn import_window(cx: &ImportCx<'_>, op_type: &str) -> Result<Op> {
    let group = usize::try_from(cx.i("group", 1))
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| cx.malformed(format!("bad group in `{}`", cx.name())))?;
    let w = WindowNd {
        kernel: usize_attr(cx, "kernel_shape")?,
        strides: usize_attr(cx, "strides")?,
        pads: usize_attr(cx, "pads")?,
        dilations: usize_attr(cx, "dilations")?,
        auto_pad: cx.auto_pad()?,
        group,
        ceil_mode: cx.i("ceil_mode", 0) != 0,
        count_include_pad: cx.i("count_include_pad", 0) != 0,
    };
    Ok(match op_type {
        "Conv" => Op::ConvNd(w),
        "MaxPool" => {
            if w.kernel.is_empty() {
                return Err(cx.malformed(format!("`{}` lacks kernel_shape", cx.name())));
            }
            Op::MaxPoolNd(w)
        }
        "AveragePool" => {
            if w.kernel.is_empty() {
                return Err(cx.malformed(format!("`{}` lacks kernel_shape", cx.name())));
            }
            Op::AveragePoolNd(w)
        }
        _ => return Err(cx.unsupported_op()),
    })
}

/// Spatial rank of a window node: from `kernel_shape`, else from the weight's rank.
pub fn spatial_rank(cx: &ImportCx<'_>) -> Option<usize> {
    if let Some(k) = cx.ints("kernel_shape") {
        return Some(k.len());
    }
    cx.const_input(1)
        .ok()
        .flatten()
        .map(|w| w.shape().len().saturating_sub(2))
}

/// N-D Conv, MaxPool and AveragePool.
pub struct ConvNdFamily;

impl OpFamily for ConvNdFamily {
    fn name(&self) -> &'static str {
        "convnd"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        // Imported through the `conv` and `pool` families (they own the ONNX op types).
        &[]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        import_window(cx, op_type)
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        cx.float(x)?;
        if x.shape.len() < 3 {
            return Err(NpuError::shape(ctx, "window op input must be at least 3-D"));
        }
        let spatial = &x.shape[2..];
        match op {
            Op::ConvNd(a) => {
                let w = cx.input(1)?;
                if w.shape.len() != x.shape.len() || w.shape[1] * a.group.max(1) != x.shape[1] {
                    return Err(NpuError::shape(
                        ctx,
                        format!("Conv of {:?} with weight {:?}", x.shape, w.shape),
                    ));
                }
                let (out, _) = window_nd_geom(spatial, &w.shape[2..], a, ctx)?;
                let mut s = vec![x.shape[0], w.shape[0]];
                s.extend(out);
                cx.f32(s)
            }
            Op::MaxPoolNd(a) | Op::AveragePoolNd(a) => {
                let (out, _) = window_nd_geom(spatial, &a.kernel, a, ctx)?;
                let mut s = x.shape[..2].to_vec();
                s.extend(out);
                cx.f32(s)
            }
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let y = match op {
            Op::ConvNd(a) => {
                let b = cx.opt_f32_vec(2);
                conv_nd(cx.xf()?, cx.input_f32(1)?, b.as_deref(), a, ctx)?
            }
            Op::MaxPoolNd(a) => pool_nd(cx.xf()?, a, true, ctx)?,
            Op::AveragePoolNd(a) => pool_nd(cx.xf()?, a, false, ctx)?,
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![Tensor::F32(y)])
    }

    fn cost_class(&self, op: &Op) -> CostClass {
        match op {
            Op::ConvNd(_) => CostClass::Cube,
            _ => CostClass::Vector,
        }
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let o = cx.output_shape(0);
        let out_pix: u64 = o.iter().skip(2).map(|&d| d as u64).product();
        let n = o.first().copied().unwrap_or(0) as u64;
        match op {
            Op::ConvNd(a) => {
                let w = cx.input_shape(1);
                let g = a.group.max(1) as u64;
                let m = w.first().copied().unwrap_or(0) as u64;
                let k: u64 = w.iter().skip(1).map(|&d| d as u64).product();
                let mg = m / g;
                let pix = n * out_pix;
                let macs = g * mg * k * pix;
                let mut work = Work {
                    macs,
                    vector_ops: if cx.has(2) { cx.out_elems() } else { 0 },
                    ..Work::default()
                };
                let cg = w.get(1).copied().unwrap_or(0);
                if cg == 1 && mg == 1 && g > 1 {
                    work.vector_ops += macs;
                } else {
                    work.cube = Some(CubeWork {
                        groups: g,
                        m: pix,
                        k,
                        n: mg,
                    });
                }
                work
            }
            Op::MaxPoolNd(a) | Op::AveragePoolNd(a) => Work {
                vector_ops: cx.out_elems() * a.kernel.iter().product::<usize>() as u64,
                ..Work::default()
            },
            _ => Work::default(),
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (op_type, a) = match op {
            Op::ConvNd(a) => ("Conv", a),
            Op::MaxPoolNd(a) => ("MaxPool", a),
            Op::AveragePoolNd(a) => ("AveragePool", a),
            _ => return Err(misrouted(self.name(), op)),
        };
        let mut at = Vec::new();
        if !a.kernel.is_empty() {
            at.push(attr("kernel_shape", ints(&a.kernel)));
        }
        if !a.strides.is_empty() {
            at.push(attr("strides", ints(&a.strides)));
        }
        if !a.dilations.is_empty() {
            at.push(attr("dilations", ints(&a.dilations)));
        }
        if a.auto_pad == AutoPad::NotSet {
            if !a.pads.is_empty() {
                at.push(attr("pads", ints(&a.pads)));
            }
        } else {
            at.push(attr("auto_pad", A::S(auto_pad(a.auto_pad))));
        }
        match op {
            Op::ConvNd(_) => at.push(attr("group", A::I(a.group as i64))),
            Op::MaxPoolNd(_) => at.push(attr("ceil_mode", A::I(i64::from(a.ceil_mode)))),
            _ => {
                at.push(attr("ceil_mode", A::I(i64::from(a.ceil_mode))));
                at.push(attr(
                    "count_include_pad",
                    A::I(i64::from(a.count_include_pad)),
                ));
            }
        }
        cx.node(&node.name, op_type, &node.inputs, &node.outputs, at);
        Ok(())
    }
}
