//! Pooling family: MaxPool / AveragePool over 2-D windows and GlobalAveragePool.

use ndarray::{ArrayD, IxDyn};

use super::family::{misrouted, OpFamily};
use super::window::{resolve_pads, window_out};
use super::{dims4, std_vec};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{AutoPad, Node, Op, PoolAttrs, Tensor};
use crate::onnx::export::{attr, auto_pad, ints, ExportCx, A};
use crate::onnx::import::ImportCx;

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

/// MaxPool, AveragePool and GlobalAveragePool.
pub struct PoolFamily;

impl OpFamily for PoolFamily {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["MaxPool", "AveragePool", "GlobalAveragePool"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let name = cx.name();
        if op_type == "GlobalAveragePool" {
            return Ok(Op::GlobalAveragePool);
        }
        let outputs = &cx.proto().outputs;
        if outputs.len() > 1 && outputs.get(1).is_some_and(|s| !s.is_empty()) {
            return Err(NpuError::unsupported(name, "MaxPool indices output"));
        }
        if super::convnd::spatial_rank(cx).is_some_and(|r| r != 2) {
            if cx.proto().outputs.len() > 1 {
                cx.keep_outputs(1);
            }
            return super::convnd::import_window(cx, op_type);
        }
        let (k, s, p, d, ap) = cx.window_attrs()?;
        if !cx.has("kernel_shape") {
            return Err(cx.malformed(format!("`{name}` lacks kernel_shape")));
        }
        let pa = PoolAttrs {
            kernel: k,
            strides: s,
            pads: p,
            dilations: d,
            auto_pad: ap,
            ceil_mode: cx.i("ceil_mode", 0) != 0,
            count_include_pad: cx.i("count_include_pad", 0) != 0,
        };
        Ok(if op_type == "MaxPool" {
            cx.keep_outputs(1);
            Op::MaxPool(pa)
        } else {
            Op::AveragePool(pa)
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        cx.float(x)?;
        match op {
            Op::MaxPool(p) | Op::AveragePool(p) => cx.f32(pool_geom(&x.shape, p, ctx)?.0.to_vec()),
            Op::GlobalAveragePool => {
                if x.shape.len() < 3 {
                    return Err(NpuError::shape(ctx, "GlobalAveragePool needs rank >= 3"));
                }
                let mut sh = x.shape[..2].to_vec();
                sh.extend(std::iter::repeat_n(1, x.shape.len() - 2));
                cx.f32(sh)
            }
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let y = match op {
            Op::MaxPool(p) => pool2d(cx.xf()?, p, true, ctx)?,
            Op::AveragePool(p) => pool2d(cx.xf()?, p, false, ctx)?,
            Op::GlobalAveragePool => global_avg_pool(cx.xf()?, ctx)?,
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![Tensor::F32(y)])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let vector_ops = match op {
            Op::MaxPool(pa) | Op::AveragePool(pa) => {
                cx.out_elems() * (pa.kernel[0] * pa.kernel[1]) as u64
            }
            _ => cx.in_elems(),
        };
        Work {
            vector_ops,
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (name, ins, outs) = (node.name.as_str(), &node.inputs, &node.outputs);
        let p = match op {
            Op::MaxPool(p) | Op::AveragePool(p) => p,
            Op::GlobalAveragePool => {
                cx.node(name, "GlobalAveragePool", ins, outs, vec![]);
                return Ok(());
            }
            _ => return Err(misrouted(self.name(), op)),
        };
        let mut at = vec![
            attr("kernel_shape", ints(&p.kernel)),
            attr("strides", ints(&p.strides)),
            attr("ceil_mode", A::I(i64::from(p.ceil_mode))),
        ];
        if p.auto_pad == AutoPad::NotSet {
            at.push(attr("pads", ints(&p.pads)));
        } else {
            at.push(attr("auto_pad", A::S(auto_pad(p.auto_pad))));
        }
        let op_type = if matches!(op, Op::MaxPool(_)) {
            at.push(attr("dilations", ints(&p.dilations)));
            "MaxPool"
        } else {
            at.push(attr(
                "count_include_pad",
                A::I(i64::from(p.count_include_pad)),
            ));
            "AveragePool"
        };
        cx.node(name, op_type, ins, outs, at);
        Ok(())
    }
}
