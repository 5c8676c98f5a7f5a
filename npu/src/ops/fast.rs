//! Contiguous fast paths shared by the kernels: broadcasting binaries over blocks of
//! standard-layout slices, strided copies (Slice, Split) and block concatenation. Each takes
//! the elements in logical order from the inputs' slices and does per element exactly what
//! the generic `ndarray` path does (the same closure, or a plain copy), so the bits are the
//! same; each returns `None` when an input is not in standard layout, and the caller falls
//! back to the generic path.

use ndarray::ArrayD;

/// Shape padded with leading 1s to `rank`.
fn padded(shape: &[usize], rank: usize) -> Vec<usize> {
    let mut v = vec![1; rank - shape.len().min(rank)];
    v.extend_from_slice(shape);
    v
}

/// Standard-layout strides of `shape`, 0 on every axis of length 1 (broadcast).
fn bcast_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![0; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        s[i] = if shape[i] == 1 { 0 } else { acc };
        acc *= shape[i];
    }
    s
}

/// How the inner block of a broadcasting binary reads its operands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Inner {
    /// Both operands run along the block.
    Both,
    /// `a` runs along the block, `b` is one value.
    ScalarB,
    /// `a` is one value, `b` runs along the block.
    ScalarA,
}

/// `f(a, b)` broadcast to `out` (numpy rules; `out` is the broadcast shape of both), in
/// logical order: the trailing axes where both operands are full (or one is all 1s) form one
/// contiguous inner block, the leading axes are walked once per block. `None` when an
/// operand is not in standard layout.
pub(crate) fn binary_blocks<T: Copy>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    out: &[usize],
    f: impl Fn(T, T) -> T,
) -> Option<Vec<T>> {
    let (sa, sb) = (a.as_slice()?, b.as_slice()?);
    let r = out.len();
    let (pa, pb) = (padded(a.shape(), r), padded(b.shape(), r));
    let total: usize = out.iter().product();
    // Smallest t such that the axes t.. are "full/full", "full/ones" or "ones/full".
    let mut best = (r, Inner::Both);
    for mode in [Inner::Both, Inner::ScalarB, Inner::ScalarA] {
        let mut t = r;
        while t > 0 {
            let i = t - 1;
            let ok = match mode {
                Inner::Both => pa[i] == out[i] && pb[i] == out[i],
                Inner::ScalarB => pa[i] == out[i] && pb[i] == 1,
                Inner::ScalarA => pa[i] == 1 && pb[i] == out[i],
            };
            if !ok {
                break;
            }
            t -= 1;
        }
        if t < best.0 {
            best = (t, mode);
        }
    }
    let (t, mode) = best;
    let inner: usize = out[t..].iter().product();
    let mut v = Vec::with_capacity(total);
    if total == 0 {
        return Some(v);
    }
    let (stra, strb) = (bcast_strides(&pa), bcast_strides(&pb));
    let mut idx = vec![0usize; t];
    let (mut oa, mut ob) = (0usize, 0usize);
    for _ in 0..total / inner.max(1) {
        match mode {
            Inner::Both => v.extend(
                sa[oa..oa + inner]
                    .iter()
                    .zip(&sb[ob..ob + inner])
                    .map(|(&x, &y)| f(x, y)),
            ),
            Inner::ScalarB => {
                let y = sb[ob];
                v.extend(sa[oa..oa + inner].iter().map(|&x| f(x, y)));
            }
            Inner::ScalarA => {
                let x = sa[oa];
                v.extend(sb[ob..ob + inner].iter().map(|&y| f(x, y)));
            }
        }
        // Odometer over the leading axes.
        let mut k = t;
        while k > 0 {
            k -= 1;
            idx[k] += 1;
            oa += stra[k];
            ob += strb[k];
            if idx[k] < out[k] {
                break;
            }
            oa -= stra[k] * out[k];
            ob -= strb[k] * out[k];
            idx[k] = 0;
        }
    }
    Some(v)
}

/// Elements of `src` (a standard-layout array of `shape`) at `offset + Σ i_k · strides[k]`
/// for every index `i` of `lens`, in logical order. Adjacent axes that are one run are
/// merged; an inner stride of 1 is copied as slices.
pub(crate) fn strided_copy<T: Copy>(
    src: &[T],
    offset: usize,
    lens: &[usize],
    strides: &[isize],
) -> Vec<T> {
    let total: usize = lens.iter().product();
    let mut v = Vec::with_capacity(total);
    if total == 0 {
        return v;
    }
    // Merge axis k into k+1 when stepping k equals a full run of k+1; drop length-1 axes.
    let mut dims: Vec<(usize, isize)> = Vec::with_capacity(lens.len());
    for (&l, &s) in lens.iter().zip(strides) {
        if l == 1 {
            continue;
        }
        dims.push((l, s));
    }
    let mut merged: Vec<(usize, isize)> = Vec::with_capacity(dims.len());
    for &(l, s) in dims.iter().rev() {
        match merged.last_mut() {
            Some((il, is)) if *is * (*il as isize) == s => *il *= l,
            _ => merged.push((l, s)),
        }
    }
    merged.reverse();
    let (inner_len, inner_stride) = merged.pop().unwrap_or((1, 1));
    let outer: usize = merged.iter().map(|d| d.0).product();
    let mut idx = vec![0usize; merged.len()];
    let mut off = offset as isize;
    for _ in 0..outer {
        let o = off as usize;
        if inner_stride == 1 {
            v.extend_from_slice(&src[o..o + inner_len]);
        } else {
            v.extend((0..inner_len).map(|j| src[(off + j as isize * inner_stride) as usize]));
        }
        let mut k = merged.len();
        while k > 0 {
            k -= 1;
            idx[k] += 1;
            off += merged[k].1;
            if idx[k] < merged[k].0 {
                break;
            }
            off -= merged[k].1 * merged[k].0 as isize;
            idx[k] = 0;
        }
    }
    v
}

/// A slice of `a` given by each axis's source indices (every list an arithmetic progression,
/// as [`super::slice_indices`] makes them), copied; `None` when `a` is not in standard
/// layout or a list is not a progression.
pub(crate) fn slice_copy<T: Copy>(a: &ArrayD<T>, idx: &[Vec<usize>]) -> Option<ArrayD<T>> {
    let s = a.as_slice()?;
    if idx.len() != a.ndim() {
        return None;
    }
    let base = bcast_strides(a.shape());
    let mut offset = 0usize;
    let mut lens = Vec::with_capacity(idx.len());
    let mut strides = Vec::with_capacity(idx.len());
    for (k, ix) in idx.iter().enumerate() {
        let step = match ix.as_slice() {
            [] | [_] => 0,
            [p, q, ..] => *q as isize - *p as isize,
        };
        if ix.windows(2).any(|w| w[1] as isize - w[0] as isize != step)
            || ix.iter().any(|&i| i >= a.shape()[k])
        {
            return None;
        }
        // Axis of length 1 in `a` has stride 0 in `base`; any index there is 0.
        let full = if a.shape()[k] == 1 {
            0
        } else {
            base[k] as isize
        };
        offset += ix.first().copied().unwrap_or(0) * full.unsigned_abs();
        lens.push(ix.len());
        strides.push(step * full);
    }
    let v = strided_copy(s, offset, &lens, &strides);
    let shape: Vec<usize> = lens;
    ArrayD::from_shape_vec(ndarray::IxDyn(&shape), v).ok()
}

/// Concatenation of standard-layout arrays along `ax` (shapes already checked equal off
/// `ax`) as block copies; `None` when an input is not in standard layout.
pub(crate) fn concat_blocks<T: Copy>(xs: &[&ArrayD<T>], ax: usize) -> Option<ArrayD<T>> {
    let first = xs.first()?;
    let rank = first.ndim();
    if ax >= rank
        || xs.iter().any(|x| {
            x.ndim() != rank
                || x.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .any(|(k, (p, q))| k != ax && p != q)
        })
    {
        return None;
    }
    let slices: Vec<&[T]> = xs.iter().map(|x| x.as_slice()).collect::<Option<_>>()?;
    let outer: usize = first.shape()[..ax].iter().product();
    let inner: usize = first.shape()[ax + 1..].iter().product();
    let mut shape = first.shape().to_vec();
    shape[ax] = xs.iter().map(|x| x.shape()[ax]).sum();
    let mut v = Vec::with_capacity(shape.iter().product());
    let blocks: Vec<usize> = xs.iter().map(|x| x.shape()[ax] * inner).collect();
    for o in 0..outer {
        for (s, &bl) in slices.iter().zip(&blocks) {
            v.extend_from_slice(&s[o * bl..(o + 1) * bl]);
        }
    }
    ArrayD::from_shape_vec(ndarray::IxDyn(&shape), v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Rng;
    use crate::ir::Tensor;
    use ndarray::{concatenate, Axis, IxDyn};

    fn arr(rng: &mut Rng, shape: &[usize]) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                let u = rng.uniform();
                if u < 0.1 {
                    0.0
                } else {
                    rng.sym(3.0)
                }
            })
            .collect();
        ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape")
    }

    fn same_bits(got: &ArrayD<f32>, want: &ArrayD<f32>, what: &str) {
        assert_eq!(got.shape(), want.shape(), "{what}");
        let bad = got
            .iter()
            .zip(want.iter())
            .position(|(g, w)| g.to_bits() != w.to_bits());
        assert_eq!(bad, None, "{what}");
    }

    /// Not in standard layout, same logical contents.
    fn permuted(a: &ArrayD<f32>) -> ArrayD<f32> {
        let r = a.ndim();
        // Column-major copy: the transpose in standard layout, its axes reversed back.
        let b = a.t().as_standard_layout().into_owned().reversed_axes();
        assert_eq!(b, *a);
        if r > 1 && a.len() > 1 && a.shape().iter().filter(|&&d| d > 1).count() > 1 {
            assert!(b.as_slice().is_none(), "{:?} stays standard", a.shape());
        }
        b
    }

    const PAIRS: &[(&[usize], &[usize])] = &[
        (&[2, 6, 5, 7], &[2, 6, 5, 7]),
        (&[2, 6, 5, 7], &[2, 1, 5, 7]),
        (&[2, 1, 5, 7], &[2, 6, 5, 7]),
        (&[2, 6, 5, 7], &[1, 6, 1, 1]),
        (&[6, 1, 1], &[2, 6, 5, 7]),
        (&[2, 6, 5, 7], &[7]),
        (&[2, 6, 5, 7], &[]),
        (&[3, 1, 4], &[1, 5, 1]),
        (&[4, 1], &[1, 4]),
        (&[1], &[9]),
        (&[0, 3], &[1, 3]),
    ];

    #[test]
    fn binary_blocks_match_zip_on_every_broadcast() {
        let mut rng = Rng::new(11);
        type Op = (&'static str, fn(f32, f32) -> f32);
        let ops: [Op; 4] = [
            ("add", |p, q| p + q),
            ("sub", |p, q| p - q),
            ("mul", |p, q| p * q),
            ("div", |p, q| p / q),
        ];
        for (sa, sb) in PAIRS {
            let (a, b) = (arr(&mut rng, sa), arr(&mut rng, sb));
            let out = crate::ops::broadcast_shape(sa, sb, "t").expect("broadcast");
            for (name, f) in ops {
                let want = super::super::elementwise::bin_zip(&a, &b, &out, f, "t").expect("zip");
                let v = binary_blocks(&a, &b, &out, f).expect("standard layout");
                let got = ArrayD::from_shape_vec(IxDyn(&out), v).expect("shape");
                same_bits(&got, &want, &format!("{name} {sa:?} {sb:?}"));
            }
        }
    }

    #[test]
    fn binary_falls_back_on_non_standard_layout() {
        let mut rng = Rng::new(12);
        for (sa, sb) in PAIRS.iter().take(5) {
            let (a, b) = (arr(&mut rng, sa), arr(&mut rng, sb));
            let ap = permuted(&a);
            let out = crate::ops::broadcast_shape(sa, sb, "t").expect("broadcast");
            if ap.as_slice().is_none() {
                assert!(binary_blocks(&ap, &b, &out, |p, q| p + q).is_none());
            }
            let got = crate::ops::binary(
                crate::ir::BinaryOp::Add,
                &Tensor::F32(ap),
                &Tensor::F32(b.clone()),
                "t",
            )
            .expect("add");
            let want =
                super::super::elementwise::bin_zip(&a, &b, &out, |p, q| p + q, "t").expect("zip");
            same_bits(got.as_f32("t").expect("f32"), &want, &format!("{sa:?}"));
        }
    }

    #[test]
    fn slice_copy_matches_select_on_random_slices() {
        let mut rng = Rng::new(13);
        let shapes: &[&[usize]] = &[&[3, 8, 10, 9], &[4, 7], &[5], &[2, 1, 6], &[1, 1, 1]];
        for shape in shapes {
            let a = arr(&mut rng, shape);
            for trial in 0..40 {
                let r = shape.len();
                let ax = (rng.next_u64() % r as u64) as i64;
                let d = shape[ax as usize] as i64;
                let pick = |rng: &mut Rng| (rng.next_u64() % (2 * d as u64 + 3)) as i64 - d - 1;
                let (s, e) = (pick(&mut rng), pick(&mut rng));
                let step = [1, 2, 3, -1, -2][(rng.next_u64() % 5) as usize];
                let mut starts = vec![s];
                let mut ends = vec![e];
                let mut axes = vec![ax];
                let mut steps = vec![step];
                if r > 1 && trial % 2 == 0 {
                    // A second axis cut as well.
                    let ax2 = (ax + 1) % r as i64;
                    starts.push(1);
                    ends.push(-1);
                    axes.push(ax2);
                    steps.push(1);
                }
                let idx = crate::ops::slice_indices(shape, &starts, &ends, &axes, &steps, "t")
                    .expect("indices");
                let want = super::super::movement::select_generic(&a, &idx);
                let got = slice_copy(&a, &idx).expect("standard layout");
                same_bits(
                    &got,
                    &want,
                    &format!("{shape:?} {starts:?}:{ends:?}:{steps:?}@{axes:?}"),
                );
                assert!(got.is_standard_layout());
                let ap = permuted(&a);
                if ap.as_slice().is_none() {
                    assert!(slice_copy(&ap, &idx).is_none());
                }
            }
        }
    }

    #[test]
    fn concat_blocks_match_ndarray() {
        let mut rng = Rng::new(14);
        for ax in 0..4 {
            let mut shapes = vec![vec![2, 3, 4, 5]; 3];
            shapes[1][ax] = 1;
            shapes[2][ax] = 4;
            let xs: Vec<ArrayD<f32>> = shapes.iter().map(|s| arr(&mut rng, s)).collect();
            let refs: Vec<&ArrayD<f32>> = xs.iter().collect();
            let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
            let want = concatenate(Axis(ax), &views).expect("concatenate");
            let got = concat_blocks(&refs, ax).expect("standard layout");
            same_bits(&got, &want, &format!("axis {ax}"));
            let p = permuted(&xs[0]);
            let mixed = [&p, refs[1], refs[2]];
            assert!(concat_blocks(&mixed, ax).is_none());
            let ts: Vec<Tensor> = [p.clone(), xs[1].clone(), xs[2].clone()]
                .into_iter()
                .map(Tensor::F32)
                .collect();
            let tr: Vec<&Tensor> = ts.iter().collect();
            let fell_back = crate::ops::concat(&tr, ax as i64, "t").expect("concat");
            same_bits(fell_back.as_f32("t").expect("f32"), &want, "fallback");
        }
        // Mismatched shapes are not concatenated here (the caller reports them).
        let a = arr(&mut rng, &[2, 3]);
        let b = arr(&mut rng, &[3, 3]);
        assert!(concat_blocks(&[&a, &b], 1).is_none());
    }
}
