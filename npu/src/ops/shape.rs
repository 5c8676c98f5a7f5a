//! Shape family: ops that move or relabel data without arithmetic (Concat, Reshape,
//! Flatten, Transpose, Squeeze, Unsqueeze, Shape, Identity).

use ndarray::{concatenate, ArrayD, Axis, IxDyn};

use super::norm_axis;
use crate::error::{NpuError, Result};
use crate::ir::Tensor;
use crate::map_tensor;

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
