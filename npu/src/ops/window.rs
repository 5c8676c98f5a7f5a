//! Sliding-window geometry shared by convolutions and pools: output size along one axis
//! and `auto_pad` resolution.

use crate::error::{NpuError, Result};
use crate::ir::AutoPad;

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
