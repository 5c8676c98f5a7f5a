//! Half-precision emulation: values stay `f32` but are rounded to the nearest `f16`.

/// Rounds an `f32` to the nearest IEEE binary16 value (ties to even), returned as `f32`.
/// Overflow gives ±infinity, tiny values become f16 subnormals or zero, NaN stays NaN.
pub fn round_f16(x: f32) -> f32 {
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
    use super::round_f16;

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
