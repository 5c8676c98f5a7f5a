//! Half-precision emulation: values stay `f32` but are rounded to the nearest `f16`.

/// Rounds an `f32` to the nearest IEEE binary16 value (ties to even), returned as `f32`.
/// Overflow gives ±infinity, tiny values become f16 subnormals or zero, NaN stays NaN.
///
/// Branch-free integer arithmetic on the bits (no libm call), so that loops over slices
/// vectorise; bit-identical to the quantum formulation kept in the tests.
#[inline]
pub fn round_f16(x: f32) -> f32 {
    let bits = x.to_bits();
    let sign = bits & 0x8000_0000;
    let a = bits & 0x7fff_ffff;
    // Normal f16 range: drop 13 mantissa bits, round half to even (a carry into the exponent
    // is the right answer, up to 65504).
    let normal = (a + 0x0fff + ((a >> 13) & 1)) & !0x1fff;
    // Below 2^-14 the spacing is 2^-24: adding 0.75 (whose f32 spacing is 2^-24) rounds to a
    // multiple of it, ties to even, exactly; subtracting it back is exact.
    let tiny = ((f32::from_bits(a) + 0.75) - 0.75).to_bits();
    let r = if a < 0x3880_0000 {
        tiny
    } else if a < 0x477f_f000 {
        normal
    } else if a <= 0x7f80_0000 {
        0x7f80_0000 // ≥ 65520 rounds to infinity (infinity stays)
    } else {
        a // NaN unchanged
    };
    f32::from_bits(r | sign)
}

/// [`round_f16`] on every element.
pub fn round_f16_slice(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = round_f16(*x));
}

/// The quantum formulation [`round_f16`] must match bit for bit.
#[cfg(test)]
pub(crate) fn round_f16_reference(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let a = x.abs();
    if a >= 65520.0 {
        return if x > 0.0 {
            f32::INFINITY
        } else {
            f32::NEG_INFINITY
        };
    }
    // Smallest normal f16 is 2^-14; below it the spacing is 2^-24.
    let quantum = if a < 6.103_515_6e-5 {
        5.960_464_5e-8_f32
    } else {
        // Exponent e in [-14, 15]: the spacing 2^(e-10) is a normal f32, built from bits.
        let e = ((a.to_bits() >> 23) & 0xff) as i32 - 127;
        f32::from_bits(((e - 10 + 127) as u32) << 23)
    };
    // Division and multiplication by a power of two are exact here.
    (x / quantum).round_ties_even() * quantum
}

#[cfg(test)]
mod tests {
    use super::{round_f16, round_f16_reference};

    fn same(x: f32) {
        let (got, want) = (round_f16(x), round_f16_reference(x));
        assert!(
            got.to_bits() == want.to_bits()
                || (got.is_nan() && want.is_nan() && got.to_bits() == x.to_bits()),
            "round_f16({x:e} = {:#x}) = {got:e}, reference {want:e}",
            x.to_bits()
        );
    }

    #[test]
    fn bits_match_reference() {
        // Every exponent and sign with a spread of mantissas (a stride coprime to 2), plus
        // the neighbourhood of every rounding boundary of interest.
        let mut b: u64 = 0;
        while b <= u64::from(u32::MAX) {
            same(f32::from_bits(b as u32));
            b += 997;
        }
        for base in [
            0x3880_0000u32, // 2^-14
            0x477f_f000,    // 65520
            0x477f_e000,    // 65504
            0x3300_0000,    // 2^-25
            0x3380_0000,    // 2^-24
            0x7f80_0000,    // inf
            0x3f80_0000,    // 1
        ] {
            for d in 0..0x4000u32 {
                for sign in [0, 0x8000_0000] {
                    same(f32::from_bits(
                        (base.wrapping_add(d).wrapping_sub(0x2000)) | sign,
                    ));
                }
            }
        }
        same(f32::NAN);
        same(-f32::NAN);
        same(f32::from_bits(0x7fc0_1234));
        same(0.0);
        same(-0.0);
    }

    #[test]
    fn known_values() {
        assert_eq!(round_f16(1.0), 1.0);
        assert_eq!(round_f16(65504.0), 65504.0);
        assert_eq!(round_f16(65519.0), 65504.0);
        assert_eq!(round_f16(65520.0), f32::INFINITY);
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: ties to even gives 1.
        assert_eq!(round_f16(1.0 + 2f32.powi(-11)), 1.0);
        assert_eq!(
            round_f16(1.0 + 3.0 * 2f32.powi(-11)),
            1.0 + 2.0 * 2f32.powi(-10)
        );
        assert_eq!(round_f16(2f32.powi(-24)), 2f32.powi(-24));
        assert_eq!(round_f16(2f32.powi(-26)), 0.0);
        assert!((round_f16(0.1) - 0.099_975_586).abs() < 1e-9);
        assert!(round_f16(f32::NAN).is_nan());
    }

    #[test]
    fn idempotent_and_close() {
        let mut x = -70000.0f32;
        while x < 70000.0 {
            let r = round_f16(x);
            assert_eq!(round_f16(r), r);
            if x.abs() < 65504.0 {
                assert!((r - x).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25));
            }
            x += 77.7;
        }
    }
}
