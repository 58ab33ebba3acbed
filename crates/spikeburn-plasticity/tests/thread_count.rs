//! Host RLS gives bit-identical results on any number of threads. One test
//! in its own binary: it changes the process-wide pool.

use spikeburn_core::{num_threads, set_num_threads};
use spikeburn_plasticity::HostRls;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Weights and `P` after `updates` RLS steps, as bit patterns.
fn train(n: usize, k: usize, shared: bool, updates: usize) -> (Vec<u32>, Vec<u32>, usize) {
    let mut rls = HostRls::new(n, k, 1.0, shared).unwrap();
    if !shared {
        // Sets of different sizes, one of them empty.
        let lengths = (0..n)
            .map(|i| if i == 3 { 0 } else { k - (i % 5) * 7 })
            .collect();
        rls = rls.with_lengths(lengths).unwrap();
    }
    let mut rng = Lcg(21);
    let mut w: Vec<f32> = (0..n * k).map(|_| 0.1 * rng.next()).collect();
    for _ in 0..updates {
        let q: Vec<f32> = (0..if shared { k } else { n * k })
            .map(|_| rng.next().abs())
            .collect();
        let e: Vec<f32> = (0..n).map(|_| rng.next()).collect();
        rls.update(&mut w, &q, &e).unwrap();
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect();
    (bits(&w), bits(&rls.p), rls.update_threads())
}

#[test]
fn rls_updates_are_bit_identical_on_one_and_two_threads() {
    // Per-neuron: K = 200 gives 6 neurons per task, 7 tasks for 40 neurons;
    // shared: K = 1600 gives two tasks of 800 rows.
    for (n, k, shared) in [(40, 200, false), (5, 1600, true)] {
        let mut runs = vec![];
        for threads in [1, 2] {
            set_num_threads(threads).unwrap();
            assert_eq!(num_threads(), threads);
            runs.push(train(n, k, shared, 6));
        }
        assert_eq!(runs[0].2, 1);
        assert_eq!(
            runs[1].2, 2,
            "shared = {shared}: the update did not use two threads"
        );
        assert!(runs[0].0 == runs[1].0, "shared = {shared}: weights differ");
        assert!(runs[0].1 == runs[1].1, "shared = {shared}: P differs");
    }
}
