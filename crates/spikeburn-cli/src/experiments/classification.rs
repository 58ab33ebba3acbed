//! Losses and scores shared by the classification experiments.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

/// Mean softmax cross-entropy of `logits` (`[batch, classes]`) against `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    let device = logits.device();
    let mut one_hot = vec![0f32; batch * classes];
    for (b, &l) in labels.iter().enumerate() {
        one_hot[b * classes + l] = 1.0;
    }
    let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [batch, classes]), &device);
    (log_softmax(logits, 1) * one_hot).sum_dim(1).mean().neg()
}

/// Fraction of rows whose largest logit is the label.
pub fn accuracy(logits: Tensor<2>, labels: &[usize]) -> f64 {
    let predicted = logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap_or_default();
    let hits = predicted
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p as usize == **l)
        .count();
    hits as f64 / labels.len().max(1) as f64
}
