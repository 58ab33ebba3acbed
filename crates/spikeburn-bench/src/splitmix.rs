//! The counter-based SplitMix64 stream of `shared/bench/WORKLOADS.md`.
//!
//! `U(seed, stream, i)` is the i-th output (0-based) of the standard SplitMix64
//! generator seeded with `seed + stream·2³²`, mapped to a double in `[0, 1)`.
//! Any language can rebuild the same data bit for bit from it.

/// `U(seed, stream, i)`: a double in `[0, 1)`.
pub fn uniform(seed: u64, stream: u64, i: u64) -> f64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(1 << 32))
        .wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `len` uniform weights with standard deviation `std`: `(2U − 1)·√3·std`,
/// computed in f64 and rounded to f32 once.
pub fn uniform_weights(seed: u64, stream: u64, len: usize, std: f64) -> Vec<f32> {
    (0..len as u64)
        .map(|i| ((2.0 * uniform(seed, stream, i) - 1.0) * 3f64.sqrt() * std) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_sequence() {
        // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c):
        // 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
        let expected = [
            0xE220A8397B1DCDAFu64,
            0x6E789E6AA1B965F4,
            0x06C45D188009454F,
        ];
        for (i, e) in expected.iter().enumerate() {
            let u = uniform(0, 0, i as u64);
            assert_eq!(u, (e >> 11) as f64 / (1u64 << 53) as f64);
        }
        // Streams are the same generator seeded with seed + stream * 2^32.
        assert_eq!(uniform(5, 1, 3), uniform(5 + (1 << 32), 0, 3));
    }

    #[test]
    fn weights_have_the_requested_spread() {
        let w = uniform_weights(1234, 3, 100_000, 0.15);
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / w.len() as f64;
        let var = w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64;
        assert!(mean.abs() < 2e-3 && (var.sqrt() - 0.15).abs() < 2e-3);
    }
}
