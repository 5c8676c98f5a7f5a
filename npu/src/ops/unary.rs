//! Unary family: elementwise maths (Neg, Abs, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round,
//! Sign, Erf, Sin, Cos, Softsign, Softplus, Elu, Selu, HardSigmoid, HardSwish, Shrink, Mish,
//! Gelu) on f32, Neg/Abs/Sign also on integers, and Not on bools (int8 0/1).
//!
//! Transcendentals are computed in f64 and rounded once to f32 (deterministic: no threads,
//! no SIMD).

use super::family::{misrouted, OpFamily};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{DType, Node, Op, Tensor, UnaryOp};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

/// Gauss error function in f64: Maclaurin series for |x| < 2.5, the erfc continued
/// fraction (evaluated backwards from a fixed depth) beyond; |error| well below 1e-12.
pub fn erf64(x: f64) -> f64 {
    let ax = x.abs();
    if ax < 2.5 {
        // 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        for n in 1..120 {
            let n = f64::from(n);
            term *= -x2 / n;
            let t = term / (2.0 * n + 1.0);
            sum += t;
            if t.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        return sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    if ax > 6.0 {
        return 1.0f64.copysign(x);
    }
    // erfc(x) = e^(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
    let mut k = ax;
    for n in (1..=60).rev() {
        k = ax + (f64::from(n) / 2.0) / k;
    }
    let erfc = (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * k);
    (1.0 - erfc).copysign(x)
}

/// Applies a float unary op to one value.
pub fn unary_f32(op: UnaryOp, x: f32) -> f32 {
    let d = f64::from(x);
    let r: f64 = match op {
        UnaryOp::Neg => return -x,
        UnaryOp::Abs => return x.abs(),
        UnaryOp::Floor => return x.floor(),
        UnaryOp::Ceil => return x.ceil(),
        UnaryOp::Round => return x.round_ties_even(),
        UnaryOp::Sign => {
            return if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        }
        UnaryOp::Not => return if x == 0.0 { 1.0 } else { 0.0 },
        UnaryOp::Exp => d.exp(),
        UnaryOp::Log => d.ln(),
        UnaryOp::Sqrt => d.sqrt(),
        UnaryOp::Reciprocal => 1.0 / d,
        UnaryOp::Erf => erf64(d),
        UnaryOp::Sin => d.sin(),
        UnaryOp::Cos => d.cos(),
        UnaryOp::Softsign => d / (1.0 + d.abs()),
        UnaryOp::Softplus => softplus(d),
        UnaryOp::Elu(a) => {
            if d >= 0.0 {
                d
            } else {
                f64::from(a) * d.exp_m1()
            }
        }
        UnaryOp::Selu(a, g) => {
            f64::from(g)
                * if d > 0.0 {
                    d
                } else {
                    f64::from(a) * d.exp_m1()
                }
        }
        UnaryOp::HardSigmoid(a, b) => (f64::from(a) * d + f64::from(b)).clamp(0.0, 1.0),
        UnaryOp::HardSwish => d * (d / 6.0 + 0.5).clamp(0.0, 1.0),
        UnaryOp::Shrink(bias, l) => {
            let (b, l) = (f64::from(bias), f64::from(l));
            if d < -l {
                d + b
            } else if d > l {
                d - b
            } else {
                0.0
            }
        }
        UnaryOp::Mish => d * softplus(d).tanh(),
        UnaryOp::Gelu => 0.5 * d * (1.0 + erf64(d / std::f64::consts::SQRT_2)),
    };
    r as f32
}

fn softplus(d: f64) -> f64 {
    if d > 30.0 {
        d
    } else {
        d.exp().ln_1p()
    }
}

/// Applies a unary op to a tensor (floats; Neg/Abs/Sign on integers; Not on bools).
pub fn unary(op: UnaryOp, x: &Tensor, ctx: &str) -> Result<Tensor> {
    macro_rules! int {
        ($a:expr, $v:ident) => {
            match op {
                UnaryOp::Neg => Ok(Tensor::$v($a.mapv(|v| v.wrapping_neg()))),
                UnaryOp::Abs => Ok(Tensor::$v($a.mapv(|v| v.wrapping_abs()))),
                UnaryOp::Sign => Ok(Tensor::$v($a.mapv(|v| v.signum()))),
                _ => Err(NpuError::DTypeMismatch {
                    node: ctx.into(),
                    detail: format!("{} of an integer tensor", op.type_name()),
                }),
            }
        };
    }
    match x {
        Tensor::F32(a) if op != UnaryOp::Not => Ok(Tensor::F32(a.mapv(|v| unary_f32(op, v)))),
        Tensor::I8(a) if op == UnaryOp::Not => Ok(Tensor::I8(a.mapv(|v| i8::from(v == 0)))),
        Tensor::I8(a) => int!(a, I8),
        Tensor::I32(a) => int!(a, I32),
        Tensor::I64(a) => int!(a, I64),
        Tensor::F32(_) => Err(NpuError::DTypeMismatch {
            node: ctx.into(),
            detail: "Not of a float tensor".into(),
        }),
    }
}

/// Naive f32 reference (for tests): the same op over a plain slice.
pub fn unary_ref(op: UnaryOp, x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| unary_f32(op, v)).collect()
}

/// Elementwise unary maths.
pub struct UnaryFamily;

const TYPES: &[&str] = &[
    "Neg",
    "Abs",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Erf",
    "Sin",
    "Cos",
    "Softsign",
    "Softplus",
    "Elu",
    "Selu",
    "HardSigmoid",
    "HardSwish",
    "Shrink",
    "Mish",
    "Gelu",
    "Not",
];

impl OpFamily for UnaryFamily {
    fn name(&self) -> &'static str {
        "unary"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        TYPES
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let u = match op_type {
            "Neg" => UnaryOp::Neg,
            "Abs" => UnaryOp::Abs,
            "Exp" => UnaryOp::Exp,
            "Log" => UnaryOp::Log,
            "Sqrt" => UnaryOp::Sqrt,
            "Reciprocal" => UnaryOp::Reciprocal,
            "Floor" => UnaryOp::Floor,
            "Ceil" => UnaryOp::Ceil,
            "Round" => UnaryOp::Round,
            "Sign" => UnaryOp::Sign,
            "Erf" => UnaryOp::Erf,
            "Sin" => UnaryOp::Sin,
            "Cos" => UnaryOp::Cos,
            "Softsign" => UnaryOp::Softsign,
            "Softplus" => UnaryOp::Softplus,
            "Elu" => UnaryOp::Elu(cx.f("alpha", 1.0)),
            "Selu" => UnaryOp::Selu(cx.f("alpha", 1.673_263_2), cx.f("gamma", 1.050_701)),
            "HardSigmoid" => UnaryOp::HardSigmoid(cx.f("alpha", 0.2), cx.f("beta", 0.5)),
            "HardSwish" => UnaryOp::HardSwish,
            "Shrink" => UnaryOp::Shrink(cx.f("bias", 0.0), cx.f("lambd", 0.5)),
            "Mish" => UnaryOp::Mish,
            "Gelu" => {
                let a = cx.s("approximate", "none");
                if a != "none" {
                    return Err(NpuError::unsupported(
                        cx.name(),
                        format!("Gelu approximate={a}"),
                    ));
                }
                UnaryOp::Gelu
            }
            "Not" => UnaryOp::Not,
            _ => return Err(cx.unsupported_op()),
        };
        Ok(Op::Unary(u))
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let Op::Unary(u) = op else {
            return Err(misrouted(self.name(), op));
        };
        let x = cx.x();
        let int_ok = matches!(u, UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign);
        match (u, x.dtype) {
            (UnaryOp::Not, DType::I8) => {}
            (UnaryOp::Not, d) => {
                return Err(NpuError::DTypeMismatch {
                    node: cx.name().into(),
                    detail: format!("Not expects a bool, got {d:?}"),
                })
            }
            (_, DType::F32 | DType::F16) => {}
            (_, _) if int_ok => {}
            (_, d) => {
                return Err(NpuError::DTypeMismatch {
                    node: cx.name().into(),
                    detail: format!("{} expects a float, got {d:?}", u.type_name()),
                })
            }
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let Op::Unary(u) = op else {
            return Err(misrouted(self.name(), op));
        };
        Ok(vec![unary(*u, cx.x()?, cx.name())?])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        // Vector-unit element-ops per element: 1 for sign/abs-like, 4 for transcendentals
        // (as Sigmoid/Tanh), 8 for the composite ones.
        let per = match op {
            Op::Unary(
                UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round
                | UnaryOp::Sign
                | UnaryOp::Not,
            ) => 1,
            Op::Unary(UnaryOp::Shrink(..) | UnaryOp::HardSigmoid(..) | UnaryOp::HardSwish) => 3,
            Op::Unary(UnaryOp::Mish | UnaryOp::Gelu | UnaryOp::Selu(..) | UnaryOp::Elu(_)) => 8,
            _ => 4,
        };
        Work {
            vector_ops: per * cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let Op::Unary(u) = op else {
            return Err(misrouted(self.name(), op));
        };
        let at = match *u {
            UnaryOp::Elu(a) => vec![attr("alpha", A::F(a))],
            UnaryOp::Selu(a, g) => vec![attr("alpha", A::F(a)), attr("gamma", A::F(g))],
            UnaryOp::HardSigmoid(a, b) => vec![attr("alpha", A::F(a)), attr("beta", A::F(b))],
            UnaryOp::Shrink(b, l) => vec![attr("bias", A::F(b)), attr("lambd", A::F(l))],
            _ => vec![],
        };
        cx.node(&node.name, u.type_name(), &node.inputs, &node.outputs, at);
        Ok(())
    }
}
