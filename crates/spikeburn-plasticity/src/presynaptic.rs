//! Each neuron's plastic presynaptic set: which inputs its trained weights
//! read.

use rand::{Rng, RngExt};

use crate::PlasticityError;

/// Presynaptic index sets of `N` neurons, padded to a common width `K`.
///
/// Neuron `i` reads inputs `index[i*K .. i*K + len[i]]`; slots past `len[i]`
/// are padding (index 0, weight 0, never trained). Weights and RLS
/// regressors use the same `[N][K]` layout.
#[derive(Clone, Debug, PartialEq)]
pub struct PresynapticSets {
    /// Neurons `N`.
    pub neurons: usize,
    /// Inputs the sets draw from (`N` for recurrent sets).
    pub sources: usize,
    /// Slots per neuron `K` (the largest set).
    pub width: usize,
    /// `[N][K]` presynaptic indices, ascending within each set.
    pub index: Vec<u32>,
    /// Set size per neuron.
    pub len: Vec<usize>,
}

impl PresynapticSets {
    /// Builds sets from per-neuron index lists (each sorted, de-duplicated
    /// and checked against `sources`).
    pub fn from_lists(sources: usize, lists: Vec<Vec<u32>>) -> Result<Self, PlasticityError> {
        if lists.is_empty() {
            return Err(PlasticityError::Config(
                "presynaptic sets need at least 1 neuron, got 0".into(),
            ));
        }
        let width = lists.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let neurons = lists.len();
        let mut index = vec![0u32; neurons * width];
        let mut len = Vec::with_capacity(neurons);
        for (i, mut list) in lists.into_iter().enumerate() {
            list.sort_unstable();
            list.dedup();
            if let Some(bad) = list.iter().find(|j| **j as usize >= sources) {
                return Err(PlasticityError::Shape(format!(
                    "neuron {i} lists presynaptic index {bad}, but there are only {sources} sources"
                )));
            }
            index[i * width..i * width + list.len()].copy_from_slice(&list);
            len.push(list.len());
        }
        Ok(Self {
            neurons,
            sources,
            width,
            index,
            len,
        })
    }

    /// Every neuron reads every source (`autapses`: including itself).
    pub fn all_to_all(neurons: usize, autapses: bool) -> Result<Self, PlasticityError> {
        let lists = (0..neurons as u32)
            .map(|i| {
                (0..neurons as u32)
                    .filter(|j| autapses || *j != i)
                    .collect()
            })
            .collect();
        Self::from_lists(neurons, lists)
    }

    /// Each pair `j → i` (`j ≠ i`) present with probability `p`: the
    /// Erdős–Rényi sets of Kim & Chow (their plastic set is whatever is
    /// non-zero at initialisation).
    pub fn bernoulli(neurons: usize, p: f64, rng: &mut impl Rng) -> Result<Self, PlasticityError> {
        check_probability(p)?;
        let lists = (0..neurons as u32)
            .map(|i| {
                (0..neurons as u32)
                    .filter(|j| *j != i && rng.random::<f64>() < p)
                    .collect()
            })
            .collect();
        Self::from_lists(neurons, lists)
    }

    /// Fixed in-degree per source group: neuron `i` draws `count` distinct
    /// presynaptic partners (never itself) from each `(range, count)` group,
    /// e.g. 80 of the excitatory and 20 of the inhibitory neurons.
    pub fn fixed_in_degree(
        neurons: usize,
        groups: &[(std::ops::Range<u32>, usize)],
        rng: &mut impl Rng,
    ) -> Result<Self, PlasticityError> {
        let mut lists = vec![];
        for i in 0..neurons as u32 {
            let mut list = vec![];
            for (range, count) in groups {
                let pool: Vec<u32> = range.clone().filter(|j| *j != i).collect();
                if *count > pool.len() {
                    return Err(PlasticityError::Config(format!(
                        "in-degree {count} from sources {range:?} exceeds the {} available",
                        pool.len()
                    )));
                }
                list.extend(
                    rand::seq::index::sample(rng, pool.len(), *count)
                        .into_iter()
                        .map(|x| pool[x]),
                );
            }
            lists.push(list);
        }
        Self::from_lists(neurons, lists)
    }

    /// Mean set size.
    pub fn mean_len(&self) -> f64 {
        self.len.iter().sum::<usize>() as f64 / self.neurons as f64
    }

    /// `out[i*K + k] = source[index[i*K + k]]` for slots in the set, 0 in the padding.
    pub fn gather(&self, source: &[f32], out: &mut [f32]) {
        for ((row, idx), l) in out
            .chunks_exact_mut(self.width)
            .zip(self.index.chunks_exact(self.width))
            .zip(&self.len)
        {
            for (o, j) in row[..*l].iter_mut().zip(&idx[..*l]) {
                *o = source[*j as usize];
            }
            row[*l..].fill(0.0);
        }
    }

    /// `[N][K]` plastic mask: 1 in each set, 0 in the padding.
    pub fn mask(&self) -> Vec<f32> {
        let mut m = vec![0f32; self.neurons * self.width];
        for (row, l) in m.chunks_exact_mut(self.width).zip(&self.len) {
            row[..*l].fill(1.0);
        }
        m
    }
}

fn check_probability(p: f64) -> Result<(), PlasticityError> {
    if !(p > 0.0 && p <= 1.0) {
        return Err(PlasticityError::Config(format!(
            "connection probability {p} is invalid: expected 0 < p <= 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn sets_have_the_requested_statistics_and_no_autapses() {
        let mut rng = StdRng::seed_from_u64(1);
        let s = PresynapticSets::bernoulli(400, 0.3, &mut rng).unwrap();
        assert!((s.mean_len() - 0.3 * 399.0).abs() < 3.0, "{}", s.mean_len());
        for i in 0..s.neurons {
            let set = &s.index[i * s.width..i * s.width + s.len[i]];
            assert!(!set.contains(&(i as u32)), "autapse at {i}");
            assert!(set.windows(2).all(|w| w[0] < w[1]));
        }
        let d = PresynapticSets::fixed_in_degree(50, &[(0..40, 8), (40..50, 2)], &mut rng).unwrap();
        for i in 0..50 {
            let set = &d.index[i * d.width..(i + 1) * d.width];
            assert_eq!(d.len[i], 10);
            assert_eq!(set.iter().filter(|j| **j < 40).count(), 8);
            assert!(!set.contains(&(i as u32)));
        }
        let mut out = vec![9.0; s.neurons * s.width];
        let src: Vec<f32> = (0..400).map(|x| x as f32).collect();
        s.gather(&src, &mut out);
        assert_eq!(out[0], s.index[0] as f32);
        assert_eq!(
            out[s.width - 1],
            if s.len[0] == s.width {
                s.index[s.width - 1] as f32
            } else {
                0.0
            }
        );
    }

    #[test]
    fn bad_sets_are_refused() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(PresynapticSets::bernoulli(10, 0.0, &mut rng).is_err());
        assert!(PresynapticSets::from_lists(3, vec![vec![0, 5]]).is_err());
        assert!(PresynapticSets::fixed_in_degree(5, &[(0..5, 5)], &mut rng).is_err());
    }
}
