//! Classification loss and score over logits `[batch, classes]`.

use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;
use burn::tensor::{Int, TensorData};

use crate::error::{Result, TrainError};

fn check_labels(classes: usize, batch: usize, labels: &[usize]) -> Result<()> {
    if labels.len() != batch {
        return Err(TrainError::mismatch(
            "labels",
            format!("{} labels for a batch of {batch}", labels.len()),
        ));
    }
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
        return Err(TrainError::invalid(
            format!("label {i}"),
            l,
            format!("a class index below {classes}"),
        ));
    }
    Ok(())
}

/// Mean softmax cross-entropy of `logits` against `labels` (Burn's
/// `CrossEntropyLoss`). A label outside `0..classes` is an error, not an
/// index panic.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Result<Tensor<1>> {
    let [batch, classes] = logits.dims();
    check_labels(classes, batch, labels)?;
    let device = logits.device();
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(labels.iter().map(|&l| l as i64).collect(), [batch]),
        &device,
    );
    Ok(CrossEntropyLoss::new(None, &device).forward(logits, targets))
}

/// Fraction of rows whose largest logit is the label.
pub fn accuracy(logits: Tensor<2>, labels: &[usize]) -> Result<f64> {
    let [batch, classes] = logits.dims();
    check_labels(classes, batch, labels)?;
    let predicted = logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| TrainError::mismatch("accuracy", format!("{e:?}")))?;
    let hits = predicted
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p as usize == **l)
        .count();
    Ok(hits as f64 / batch.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_hand_computed_value_and_refuses_bad_labels() {
        let device = Device::default();
        let logits = Tensor::<2>::from_floats([[2.0, 0.0], [0.0, 1.0]], &device);
        let ce: f32 = cross_entropy(logits.clone(), &[0, 0])
            .unwrap()
            .into_scalar();
        let lse = |a: f64, b: f64| (a.exp() + b.exp()).ln();
        let expected = ((lse(2.0, 0.0) - 2.0) + (lse(0.0, 1.0) - 0.0)) / 2.0;
        assert!((ce as f64 - expected).abs() < 1e-5, "{ce} vs {expected}");
        assert_eq!(accuracy(logits.clone(), &[0, 0]).unwrap(), 0.5);
        let e = cross_entropy(logits.clone(), &[0, 7])
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 1") && e.contains('7'), "{e}");
        assert!(accuracy(logits, &[0]).is_err());
    }
}
