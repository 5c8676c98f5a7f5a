//! Pass: fp16 precision — every float constant is rounded to half precision (the executor
//! then rounds every result too).

use crate::f16::round_f16;
use crate::ir::{Graph, Tensor};

/// Rounds all float initializers to f16 values; returns how many tensors were touched.
pub fn to_fp16(g: &mut Graph) -> usize {
    let mut n = 0;
    for t in g.initializers.values_mut() {
        if let Tensor::F32(a) = t {
            a.mapv_inplace(round_f16);
            n += 1;
        }
    }
    n
}
