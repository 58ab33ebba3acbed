//! The meta-RL navigation experiment (Bellec et al. 2018) through the
//! library API.

use spikeburn_experiments::Validate;
use spikeburn_experiments::bellec2018::l2l_navigation::{NavigationExperiment, run};
use spikeburn_tasks::navigation::Arena;

/// A tiny run end to end (plumbing: two meta-iterations learn nothing):
/// every agent is scored on the same held-out goals, with censored trial
/// lengths within the episode, and the meta-training checkpoints.
#[test]
fn l2l_navigation_scores_every_agent_the_same_way() {
    let exp = NavigationExperiment {
        moves: 40,
        n_lif: 6,
        n_alif: 6,
        batch: 4,
        iterations: 2,
        // Enough episodes that several find a goal: the goal decoder needs
        // later trials in both halves.
        test_episodes: 96,
        checkpoint_every: 1,
        ..NavigationExperiment::quick()
    };
    let dir = std::env::temp_dir().join(format!("spikeburn-nav-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = run(&exp, &burn::prelude::Device::default(), &ctx).unwrap();
    for suffix in ["", "_before", "_lif_only", "_random_walk", "_memory_wiped"] {
        let m = |k: &str| {
            let key = format!("{k}{suffix}");
            report.get(&key).unwrap_or_else(|| panic!("{key} missing"))
        };
        for k in ["steps_to_goal_first_trial", "steps_to_goal_later_trials"] {
            assert!((1.0..=40.0).contains(&m(k)), "{k}{suffix} = {}", m(k));
        }
        assert!((0.0..=1.0).contains(&m("goal_reached_fraction")));
        assert!(m("reward_per_episode") >= 0.0);
    }
    for suffix in ["", "_memory_wiped"] {
        for k in [
            "goal_decoding_r2",
            "goal_decoding_r2_first_trial",
            "position_decoding_r2",
        ] {
            let r2 = report.get(&format!("{k}{suffix}")).unwrap();
            assert!(r2 <= 1.0 && r2.is_finite(), "{k}{suffix} = {r2}");
        }
    }
    assert!(report.get("sec_per_iter").unwrap() > 0.0);
    assert!(dir.join("lsnn/checkpoint/LATEST").exists());
    assert!(dir.join("lif_only/metrics.jsonl").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reduced meta-training (`--quick` without the LIF-only agent, about
/// 40 s) learns to search: the first trial of a held-out episode, where
/// there is nothing to remember yet, takes clearly fewer moves than before
/// meta-training and than a random walk, and the agent finds several times
/// as many goals. (Remembering the goal takes thousands of iterations —
/// see the README — beyond a CI test.) Measured: 29.6 moves against 42 /
/// 44, 2.5 goals per episode against 0.7.
#[test]
fn a_reduced_meta_training_learns_to_search() {
    let exp = NavigationExperiment {
        lif_only: false,
        ..NavigationExperiment::quick()
    };
    let dir = std::env::temp_dir().join(format!("spikeburn-nav-learn-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = run(&exp, &burn::prelude::Device::default(), &ctx).unwrap();
    let m = |k: &str| report.get(k).unwrap_or_else(|| panic!("{k} missing"));
    let first = m("steps_to_goal_first_trial");
    for reference in ["_before", "_random_walk"] {
        let other = m(&format!("steps_to_goal_first_trial{reference}"));
        assert!(
            first < 0.8 * other,
            "first trial {first} vs {other} {reference}"
        );
    }
    let (reward, walk) = (m("reward_per_episode"), m("reward_per_episode_random_walk"));
    assert!(reward > 2.0 * walk, "{reward} goals per episode vs {walk}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_navigation_configs_are_refused_by_name() {
    let ok = NavigationExperiment::quick();
    assert!(ok.validate().is_ok());
    for (bad, name) in [
        (
            NavigationExperiment {
                moves: 0,
                ..ok.clone()
            },
            "moves",
        ),
        (
            NavigationExperiment {
                arena: Arena {
                    side: 0.0,
                    ..Arena::default()
                },
                ..ok.clone()
            },
            "side",
        ),
        (
            NavigationExperiment {
                arena: Arena {
                    goal_radius: 2.0,
                    ..Arena::default()
                },
                ..ok.clone()
            },
            "goal_radius",
        ),
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
}
