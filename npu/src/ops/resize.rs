//! Resize family: nearest-neighbour resize by scales or sizes (ONNX Resize mode=nearest).

use ndarray::Axis;

use super::family::{misrouted, OpFamily};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{CoordMode, NearestMode, Node, Op, Tensor};
use crate::map_tensor;
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

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

/// Nearest Resize.
pub struct ResizeFamily;

impl OpFamily for ResizeFamily {
    fn name(&self) -> &'static str {
        "resize"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["Resize"]
    }

    fn import(&self, _op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let name = cx.name();
        let mode = cx.s("mode", "nearest");
        if mode != "nearest" {
            return Err(NpuError::unsupported(
                name,
                format!("Resize mode `{mode}` (only nearest)"),
            ));
        }
        let coord = match cx
            .s("coordinate_transformation_mode", "half_pixel")
            .as_str()
        {
            "half_pixel" | "pytorch_half_pixel" => CoordMode::HalfPixel,
            "asymmetric" => CoordMode::Asymmetric,
            "align_corners" => CoordMode::AlignCorners,
            o => {
                return Err(NpuError::unsupported(
                    name,
                    format!("Resize coordinate mode `{o}`"),
                ))
            }
        };
        let nearest = match cx.s("nearest_mode", "round_prefer_floor").as_str() {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            o => {
                return Err(NpuError::unsupported(
                    name,
                    format!("Resize nearest mode `{o}`"),
                ))
            }
        };
        let scales = cx
            .const_input(2)?
            .map(Tensor::to_f32_vec)
            .unwrap_or_default();
        let sizes = cx
            .const_i64s(3)?
            .unwrap_or_default()
            .into_iter()
            .map(|v| usize::try_from(v).map_err(|_| cx.malformed("negative Resize size")))
            .collect::<Result<Vec<_>>>()?;
        if scales.is_empty() == sizes.is_empty() {
            return Err(NpuError::unsupported(
                name,
                "Resize needs exactly one of scales and sizes",
            ));
        }
        cx.keep_inputs(1);
        Ok(Op::Resize {
            scales,
            sizes,
            coord,
            nearest,
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let Op::Resize { scales, sizes, .. } = op else {
            return Err(misrouted(self.name(), op));
        };
        cx.same(resize_shape(&cx.x().shape, scales, sizes, cx.name())?)
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let Op::Resize {
            scales,
            sizes,
            coord,
            nearest,
        } = op
        else {
            return Err(misrouted(self.name(), op));
        };
        Ok(vec![resize_nearest(
            cx.x()?,
            scales,
            sizes,
            *coord,
            *nearest,
            cx.name(),
        )?])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, _op: &Op, cx: &CostCx<'_>) -> Work {
        Work {
            vector_ops: cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let Op::Resize {
            scales,
            sizes,
            coord,
            nearest,
        } = op
        else {
            return Err(misrouted(self.name(), op));
        };
        let name = node.name.as_str();
        let mut i2 = vec![
            node.inputs.first().cloned().unwrap_or_default(),
            String::new(),
        ];
        if sizes.is_empty() {
            i2.push(cx.const_f32(&format!("{name}_scales"), scales, false));
        } else {
            i2.push(String::new());
            let s: Vec<i64> = sizes.iter().map(|&v| v as i64).collect();
            i2.push(cx.const_i64(&format!("{name}_sizes"), &s));
        }
        let cm = match coord {
            CoordMode::HalfPixel => "half_pixel",
            CoordMode::Asymmetric => "asymmetric",
            CoordMode::AlignCorners => "align_corners",
        };
        let nm = match nearest {
            NearestMode::RoundPreferFloor => "round_prefer_floor",
            NearestMode::RoundPreferCeil => "round_prefer_ceil",
            NearestMode::Floor => "floor",
            NearestMode::Ceil => "ceil",
        };
        let at = vec![
            attr("mode", A::S("nearest")),
            attr("coordinate_transformation_mode", A::S(cm)),
            attr("nearest_mode", A::S(nm)),
        ];
        cx.node(name, "Resize", &i2, &node.outputs, at);
        Ok(())
    }
}
