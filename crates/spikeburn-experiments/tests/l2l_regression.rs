//! The supervised learning-to-learn experiment (Bellec et al. 2018)
//! through the library API.

use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn_experiments::Validate;
use spikeburn_experiments::bellec2018::l2l_regression::{
    L2lRegressionExperiment, MODEL_FILE, answer_functions, load_lsnn, run,
};
use spikeburn_tasks::function_family::{RandomNetworkFamily, TargetFunction};

/// A tiny run end to end (plumbing: 20 meta-iterations learn nothing yet):
/// every learner meta-trains and checkpoints, and the baselines that see
/// only the episode behave as they must on these smooth functions — the
/// mean of the targets seen scores about the functions' unit variance, and
/// the 3 nearest neighbours beat it clearly on the last examples.
#[test]
fn l2l_regression_runs_every_learner_and_the_baselines() {
    let exp = L2lRegressionExperiment {
        family: RandomNetworkFamily {
            examples: 12,
            ..RandomNetworkFamily::default()
        },
        n_lif: 8,
        n_alif: 8,
        lstm_hidden: 8,
        tasks_per_batch: 8,
        iterations: 4,
        iterations_lstm: 4,
        test_tasks: 64,
        first_last: 3,
        checkpoint_every: 2,
        ..L2lRegressionExperiment::quick()
    };
    let dir = std::env::temp_dir().join(format!("spikeburn-l2l-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = run(&exp, &burn::prelude::Device::default(), &ctx).unwrap();
    let m = |k: &str| report.get(k).unwrap_or_else(|| panic!("{k} missing"));
    let mean = m("mse_last_examples_mean_predictor");
    assert!((0.7..1.5).contains(&mean), "mean predictor {mean}");
    let knn = m("mse_last_examples_knn");
    assert!(knn < 0.7 * mean, "kNN {knn} vs mean {mean}");
    for k in [
        "mse_first_examples_before",
        "mse_last_examples_after",
        "mse_last_examples_lif_only",
        "mse_last_examples_lstm",
        "mse_last_examples_no_feedback",
        "surface_mse_after",
        "sec_per_iter",
    ] {
        assert!(m(k).is_finite() && m(k) > 0.0, "{k} = {}", m(k));
    }
    for learner in ["lsnn", "lif_only", "lstm"] {
        assert!(
            dir.join(learner).join("checkpoint/LATEST").exists(),
            "{learner}"
        );
    }
    // The saved network reloads and answers a user's own function.
    let device = burn::prelude::Device::default();
    let lsnn = load_lsnn(&exp, &dir.join(MODEL_FILE), &device).unwrap();
    let mine = TargetFunction {
        input_weights: vec![[3.0, -3.0]],
        hidden_bias: vec![0.0],
        output_weights: vec![4.0],
        mean: 2.0,
        scale: 1.5,
    };
    let mut rng = StdRng::seed_from_u64(3);
    let (batch, answers) =
        answer_functions(&lsnn, &exp.family, &[mine.clone(), mine], &mut rng, &device).unwrap();
    assert_eq!(answers.len(), batch.examples * 2);
    assert!(answers.iter().all(|a| a.is_finite()));
    let e = load_lsnn(&exp, &dir.join("nowhere.bpk"), &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nowhere.bpk"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reduced meta-training (the quick preset's LSNN, 2 500 iterations,
/// about 50 s): on 128 held-out functions the error on the last 5 of 20
/// examples is below the error on the first 5 and below the mean
/// predictor's, and the same network with its feedback silenced does
/// clearly worse — it learns each function from the feedback, not the
/// family's average shape. Measured (seeds 0 / 1): last 0.48 / 0.59, first
/// 0.81 / 0.80, mean predictor 1.04 / 1.04, no feedback 1.33 / 1.42.
#[test]
fn l2l_regression_quick_learns_within_an_episode() {
    let exp = L2lRegressionExperiment {
        lif_only: false,
        lstm: false,
        ..L2lRegressionExperiment::quick()
    };
    let dir = std::env::temp_dir().join(format!("spikeburn-l2l-quick-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = run(&exp, &burn::prelude::Device::default(), &ctx).unwrap();
    let m = |k: &str| report.get(k).unwrap_or_else(|| panic!("{k} missing"));
    let (first, last) = (m("mse_first_examples_after"), m("mse_last_examples_after"));
    let (mean, silent) = (
        m("mse_last_examples_mean_predictor"),
        m("mse_last_examples_no_feedback"),
    );
    assert!(last < 0.85 * first, "last {last}, first {first}");
    assert!(last < 0.75 * mean, "last {last}, mean predictor {mean}");
    assert!(silent > 1.5 * last, "no feedback {silent}, last {last}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_l2l_configs_are_refused_by_name() {
    let ok = L2lRegressionExperiment::quick();
    assert!(ok.validate().is_ok());
    for (bad, name) in [
        (
            L2lRegressionExperiment {
                family: RandomNetworkFamily {
                    hidden: 0,
                    ..ok.family.clone()
                },
                ..ok.clone()
            },
            "hidden",
        ),
        (
            L2lRegressionExperiment {
                family: RandomNetworkFamily {
                    examples: 0,
                    ..ok.family.clone()
                },
                ..ok.clone()
            },
            "examples",
        ),
        (
            L2lRegressionExperiment {
                family: RandomNetworkFamily {
                    channels_per_value: 0,
                    ..ok.family.clone()
                },
                ..ok.clone()
            },
            "channels_per_value",
        ),
        (
            L2lRegressionExperiment {
                first_last: 1000,
                ..ok.clone()
            },
            "first_last",
        ),
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
}
