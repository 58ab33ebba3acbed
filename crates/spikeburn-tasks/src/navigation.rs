//! Meta-reinforcement learning (Bellec et al. 2018): an agent in a 2-D
//! arena searches for a hidden goal, is put back at a random place when it
//! finds it, and can go straight back to it on the episode's later trials —
//! if it remembers where it was.
//!
//! [`Environment`] is the small batched reset/step interface an agent loop
//! drives (implement it for your own environment); [`Arena`] is the
//! water-maze-like arena of the paper:
//!
//! - a square `[0, side]²` with walls (a move into a wall stops at it);
//! - a goal disc of radius `goal_radius`, drawn uniformly (fully inside the
//!   arena) per episode and never shown — or, with `goal_sites` n > 0 (not
//!   the paper's task: a smaller family of tasks, where remembering the
//!   goal is a choice among n² places and is learned sooner), centred on
//!   one of the n × n grid cells' centres, drawn uniformly;
//! - four actions (north, east, south, west), each a move of `speed`
//!   (the paper's agent moves continuously; discrete moves are our
//!   simplification);
//! - entering the goal gives reward 1; the agent stays there for one move,
//!   observing the goal's place together with the reward channel, and its
//!   next action is spent being carried to a uniformly drawn place outside
//!   the goal (that move is the first of the next trial). The stay is our
//!   choice: if the agent were carried away at once, it would see the
//!   reward only together with the new place, and would have to infer the
//!   goal from its previous observation and move;
//! - the episode lasts a fixed number of moves, whatever the trials.
//!
//! Observation (firing rates, Hz, per channel): `place_cells²` place cells
//! on a regular grid (Gaussian tuning, width the grid spacing, peak
//! `max_rate_hz`), one channel at `max_rate_hz` on the move after a reward,
//! and one channel per action at `max_rate_hz` for the action just taken —
//! the inputs a meta-RL agent needs to learn in its activity where the goal
//! was. With `goal_visible` (off by default: a positive control, not the
//! paper's task) a second grid of place cells codes the goal's centre on
//! every move, so the task needs no memory — what an agent scores there is
//! the most a perfect memory could give it.
//!
//! Each episode draws its carries from its own random stream, seeded at
//! reset: how many draws one episode's carries take never shifts another
//! episode's, so two agents on the same goals are compared paired.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{Result, TasksError};

/// What one step of a batched environment returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// Observations `[batch][channels]` (row-major), as rates in Hz.
    pub observation: Vec<f32>,
    /// Reward of each episode's move.
    pub reward: Vec<f32>,
    /// Whether the move ended a trial (the goal was reached).
    pub trial_ended: Vec<bool>,
}

/// A batch of episodes an agent acts in, move by move.
pub trait Environment {
    /// Observation channels.
    fn channels(&self) -> usize;
    /// Discrete actions.
    fn actions(&self) -> usize;
    /// Episodes in the batch.
    fn batch(&self) -> usize;
    /// Starts new episodes; returns the first observations.
    fn reset(&mut self, rng: &mut StdRng) -> Vec<f32>;
    /// Applies one action per episode (`actions[b] < actions()`); `rng` is
    /// the caller's stream (an environment may keep per-episode streams
    /// instead, as [`ArenaEpisodes`] does).
    fn step(&mut self, actions: &[usize], rng: &mut StdRng) -> Result<Transition>;
}

/// The arena's geometry and encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Arena {
    /// Side of the square arena.
    pub side: f64,
    /// Radius of the goal disc.
    pub goal_radius: f64,
    /// Length of a move.
    pub speed: f64,
    /// Place cells per side.
    pub place_cells: usize,
    /// Peak rate of every channel (Hz); 1 000 by default (up to a spike per
    /// 1-ms step): with 200 the meta-RL agents of spikeburn's experiment
    /// learned far more slowly and never held the goal in their activity.
    pub max_rate_hz: f64,
    /// Show the goal: a second place-cell grid coding its centre (a
    /// control without the need to remember; off in the paper's task).
    pub goal_visible: bool,
    /// 0: the goal's centre is uniform over the arena (the paper's task);
    /// n > 0: it is the centre of one of the n × n cells of a grid over
    /// the arena, drawn uniformly.
    pub goal_sites: usize,
}

impl Default for Arena {
    fn default() -> Self {
        Self {
            side: 1.0,
            goal_radius: 0.15,
            speed: 0.1,
            place_cells: 6,
            max_rate_hz: 1000.0,
            goal_visible: false,
            goal_sites: 0,
        }
    }
}

/// Moves: north, east, south, west.
const MOVES: [(f64, f64); 4] = [(0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)];

impl Arena {
    /// Refuses an empty arena, a goal that does not fit in it, moves of
    /// length 0 or longer than the arena, and an encoding without channels.
    pub fn validate(&self) -> Result<()> {
        if !(self.side.is_finite() && self.side > 0.0) {
            return Err(TasksError::invalid("side", self.side, "an arena side > 0"));
        }
        if !(self.goal_radius.is_finite()
            && self.goal_radius > 0.0
            && 2.0 * self.goal_radius < self.side)
        {
            return Err(TasksError::invalid(
                "goal_radius",
                self.goal_radius,
                format!("a radius in (0, side / 2 = {})", self.side / 2.0),
            ));
        }
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= self.side) {
            return Err(TasksError::invalid(
                "speed",
                self.speed,
                format!("a move length in (0, side = {}]", self.side),
            ));
        }
        // A goal on a cell's centre fits when the cell (side / n) spans its
        // diameter: n ≤ side / (2 goal_radius).
        let most_sites = (self.side / (2.0 * self.goal_radius)).floor();
        if self.goal_sites as f64 > most_sites {
            return Err(TasksError::invalid(
                "goal_sites",
                self.goal_sites,
                format!(
                    "at most side / (2 goal_radius) = {most_sites:.0} per side, so that a \
                     goal on a cell's centre fits in the arena"
                ),
            ));
        }
        if self.place_cells == 0 {
            return Err(TasksError::invalid("place_cells", 0, "at least 1 per side"));
        }
        if !(self.max_rate_hz.is_finite() && self.max_rate_hz > 0.0 && self.max_rate_hz <= 1000.0) {
            return Err(TasksError::invalid(
                "max_rate_hz",
                self.max_rate_hz,
                "a rate in (0, 1000] Hz",
            ));
        }
        Ok(())
    }

    /// Channels: the place cells, the reward channel, one per action, then
    /// (with `goal_visible`) the goal's place cells.
    pub fn channels(&self) -> usize {
        let grid = self.place_cells * self.place_cells;
        grid + 1 + MOVES.len() + if self.goal_visible { grid } else { 0 }
    }

    /// Writes the grid's rates for point `p` into `cells` (`place_cells²`).
    fn place_code(&self, p: [f64; 2], cells: &mut [f32]) {
        let k = self.place_cells;
        let spacing = self.side / k as f64;
        for i in 0..k {
            for j in 0..k {
                let centre = [(i as f64 + 0.5) * spacing, (j as f64 + 0.5) * spacing];
                let d2 = (p[0] - centre[0]).powi(2) + (p[1] - centre[1]).powi(2);
                cells[i * k + j] = (self.max_rate_hz * (-0.5 * d2 / spacing.powi(2)).exp()) as f32;
            }
        }
    }

    /// `batch` episodes of this arena (validated).
    pub fn episodes(&self, batch: usize) -> Result<ArenaEpisodes> {
        self.validate()?;
        if batch == 0 {
            return Err(TasksError::invalid("batch", 0, "at least 1 episode"));
        }
        Ok(ArenaEpisodes {
            arena: self.clone(),
            position: vec![[0.0; 2]; batch],
            goal: vec![[0.0; 2]; batch],
            arrival: vec![[0.0; 2]; batch],
            last_reward: vec![false; batch],
            last_action: vec![None; batch],
            carry: vec![false; batch],
            streams: (0..batch).map(|_| StdRng::seed_from_u64(0)).collect(),
        })
    }

    fn in_goal(&self, p: [f64; 2], goal: [f64; 2]) -> bool {
        (p[0] - goal[0]).powi(2) + (p[1] - goal[1]).powi(2) < self.goal_radius.powi(2)
    }

    fn draw_goal(&self, rng: &mut StdRng) -> [f64; 2] {
        if self.goal_sites == 0 {
            let r = self.goal_radius;
            return [0, 1].map(|_| r + (self.side - 2.0 * r) * rng.random::<f64>());
        }
        let n = self.goal_sites;
        let site = rng.random_range(0..n * n);
        let cell = self.side / n as f64;
        [site / n, site % n].map(|i| (i as f64 + 0.5) * cell)
    }

    fn draw_outside(&self, goal: [f64; 2], rng: &mut StdRng) -> [f64; 2] {
        loop {
            let p = [0, 1].map(|_| self.side * rng.random::<f64>());
            if !self.in_goal(p, goal) {
                return p;
            }
        }
    }
}

/// A batch of episodes in an [`Arena`]: positions, hidden goals.
#[derive(Debug)]
pub struct ArenaEpisodes {
    arena: Arena,
    /// Agent positions.
    pub position: Vec<[f64; 2]>,
    /// Goal centres (hidden from the agent).
    pub goal: Vec<[f64; 2]>,
    /// Where the last move arrived, before any teleport (on a goal hit:
    /// the point inside the goal).
    pub arrival: Vec<[f64; 2]>,
    last_reward: Vec<bool>,
    last_action: Vec<Option<usize>>,
    /// The agent reached the goal on the last move: the next one carries it
    /// away.
    carry: Vec<bool>,
    /// Each episode's stream for its carries, seeded at reset.
    streams: Vec<StdRng>,
}

impl ArenaEpisodes {
    fn observe(&self) -> Vec<f32> {
        let a = &self.arena;
        let (k, c) = (a.place_cells, a.channels());
        let mut obs = vec![0f32; self.position.len() * c];
        for (b, p) in self.position.iter().enumerate() {
            let row = &mut obs[b * c..(b + 1) * c];
            a.place_code(*p, &mut row[..k * k]);
            if a.goal_visible {
                a.place_code(self.goal[b], &mut row[k * k + 1 + MOVES.len()..]);
            }
            if self.last_reward[b] {
                row[k * k] = a.max_rate_hz as f32;
            }
            if let Some(m) = self.last_action[b] {
                row[k * k + 1 + m] = a.max_rate_hz as f32;
            }
        }
        obs
    }
}

impl Environment for ArenaEpisodes {
    fn channels(&self) -> usize {
        self.arena.channels()
    }

    fn actions(&self) -> usize {
        MOVES.len()
    }

    fn batch(&self) -> usize {
        self.position.len()
    }

    fn reset(&mut self, rng: &mut StdRng) -> Vec<f32> {
        let a = self.arena.clone();
        for b in 0..self.batch() {
            self.goal[b] = a.draw_goal(rng);
            self.streams[b] = StdRng::seed_from_u64(rng.random());
            self.position[b] = a.draw_outside(self.goal[b], &mut self.streams[b]);
            self.arrival[b] = self.position[b];
            self.last_reward[b] = false;
            self.last_action[b] = None;
            self.carry[b] = false;
        }
        self.observe()
    }

    fn step(&mut self, actions: &[usize], _rng: &mut StdRng) -> Result<Transition> {
        if actions.len() != self.batch() {
            return Err(TasksError::invalid(
                "actions",
                actions.len(),
                format!("one action per episode ({})", self.batch()),
            ));
        }
        if let Some(&bad) = actions.iter().find(|&&m| m >= MOVES.len()) {
            return Err(TasksError::invalid("action", bad, "0 ..= 3 (N, E, S, W)"));
        }
        let a = self.arena.clone();
        let mut reward = vec![0f32; self.batch()];
        let mut ended = vec![false; self.batch()];
        for (b, &m) in actions.iter().enumerate() {
            if self.carry[b] {
                self.position[b] = a.draw_outside(self.goal[b], &mut self.streams[b]);
                self.arrival[b] = self.position[b];
                self.carry[b] = false;
                self.last_reward[b] = false;
                self.last_action[b] = None;
                continue;
            }
            let (dx, dy) = MOVES[m];
            let p = &mut self.position[b];
            p[0] = (p[0] + a.speed * dx).clamp(0.0, a.side);
            p[1] = (p[1] + a.speed * dy).clamp(0.0, a.side);
            self.arrival[b] = *p;
            let reached = a.in_goal(*p, self.goal[b]);
            if reached {
                reward[b] = 1.0;
                ended[b] = true;
                self.carry[b] = true;
            }
            self.last_reward[b] = reached;
            self.last_action[b] = Some(m);
        }
        Ok(Transition {
            observation: self.observe(),
            reward,
            trial_ended: ended,
        })
    }
}

/// Trial lengths (moves) of one episode from its per-move `trial_ended`
/// flags: every completed trial, then the unfinished last one with its
/// censored length (the moves it had when the episode ended), if any.
/// Returns `(lengths, completed)`.
pub fn trial_lengths(ended: &[bool]) -> (Vec<usize>, usize) {
    let mut lengths = vec![];
    let mut current = 0;
    for &e in ended {
        current += 1;
        if e {
            lengths.push(current);
            current = 0;
        }
    }
    let completed = lengths.len();
    if current > 0 {
        lengths.push(current);
    }
    (lengths, completed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn moves_stop_at_walls_and_the_goal_rewards_then_carries_away() {
        let arena = Arena::default();
        let mut env = arena.episodes(1).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        env.reset(&mut rng);
        // Put the agent near the west wall, far from a known goal.
        env.goal[0] = [0.8, 0.8];
        env.position[0] = [0.05, 0.2];
        let t = env.step(&[3], &mut rng).unwrap();
        assert_eq!(env.position[0], [0.0, 0.2]);
        assert_eq!(t.reward, vec![0.0]);
        // Walk east and north into the goal.
        let mut rewarded = false;
        for m in [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0] {
            let t = env.step(&[m], &mut rng).unwrap();
            if t.reward[0] > 0.0 {
                rewarded = true;
                assert!(t.trial_ended[0]);
                assert!(arena.in_goal(env.position[0], env.goal[0]), "stays inside");
                // The reward channel fires with the goal's place cells.
                let k = arena.place_cells;
                assert_eq!(t.observation[k * k], 1000.0);
                let cell = |v: f64| ((v * k as f64) as usize).min(k - 1);
                let best = (0..k * k)
                    .max_by(|&i, &j| t.observation[i].total_cmp(&t.observation[j]))
                    .unwrap();
                assert_eq!(
                    best,
                    cell(env.position[0][0]) * k + cell(env.position[0][1])
                );
                // The next move, whatever the action, carries it away.
                let t = env.step(&[3], &mut rng).unwrap();
                assert!(
                    !arena.in_goal(env.position[0], env.goal[0]),
                    "carried outside"
                );
                assert_eq!((t.reward[0], t.trial_ended[0]), (0.0, false));
                assert_eq!(t.observation[k * k], 0.0, "the reward channel is off");
                break;
            }
        }
        assert!(rewarded, "the path east then north crosses the goal");
        assert!(env.step(&[4], &mut rng).is_err());
        assert!(env.step(&[0, 1], &mut rng).is_err());
    }

    #[test]
    fn place_cells_peak_at_the_agent_and_goals_fit_in_the_arena() {
        let arena = Arena::default();
        let mut env = arena.episodes(64).unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let obs = env.reset(&mut rng);
        let (k, c) = (arena.place_cells, arena.channels());
        for b in 0..64 {
            let g = env.goal[b];
            assert!(g.iter().all(|v| *v >= 0.15 && *v <= 0.85), "{g:?}");
            let row = &obs[b * c..b * c + k * k];
            let best = (0..k * k)
                .max_by(|&i, &j| row[i].total_cmp(&row[j]))
                .unwrap();
            let p = env.position[b];
            let cell = |v: f64| ((v * k as f64) as usize).min(k - 1);
            assert_eq!(best, cell(p[0]) * k + cell(p[1]), "{p:?}");
        }
    }

    #[test]
    fn goal_sites_put_every_goal_on_a_grid_cells_centre() {
        let arena = Arena {
            goal_sites: 2,
            ..Arena::default()
        };
        let mut env = arena.episodes(256).unwrap();
        env.reset(&mut StdRng::seed_from_u64(4));
        let mut seen = [0usize; 4];
        for g in &env.goal {
            let site = |v: f64| match v {
                0.25 => 0,
                0.75 => 1,
                _ => panic!("goal {g:?} off the sites"),
            };
            seen[site(g[0]) * 2 + site(g[1])] += 1;
        }
        // 64 expected per site; a binomial spread of ±8.
        assert!(seen.iter().all(|&n| (32..=96).contains(&n)), "{seen:?}");
        assert!(
            Arena {
                goal_sites: 3,
                ..Arena::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn a_visible_goal_has_its_own_place_cells() {
        let arena = Arena {
            goal_visible: true,
            ..Arena::default()
        };
        let (k, c) = (arena.place_cells, arena.channels());
        assert_eq!(c, 2 * k * k + 5);
        let mut env = arena.episodes(8).unwrap();
        let obs = env.reset(&mut StdRng::seed_from_u64(3));
        let cell = |v: f64| ((v * k as f64) as usize).min(k - 1);
        for b in 0..8 {
            let row = &obs[b * c + k * k + 5..(b + 1) * c];
            let best = (0..k * k)
                .max_by(|&i, &j| row[i].total_cmp(&row[j]))
                .unwrap();
            let g = env.goal[b];
            assert_eq!(best, cell(g[0]) * k + cell(g[1]), "{g:?}");
        }
    }

    #[test]
    fn one_episodes_carries_do_not_shift_anothers() {
        let arena = Arena::default();
        let (mut a, mut b) = (arena.episodes(2).unwrap(), arena.episodes(2).unwrap());
        a.reset(&mut StdRng::seed_from_u64(4));
        b.reset(&mut StdRng::seed_from_u64(4));
        let mut shared = StdRng::seed_from_u64(5);
        // Episode 1 is carried in `a` only, then episode 0 in both.
        a.carry[1] = true;
        a.step(&[0, 0], &mut shared).unwrap();
        b.step(&[0, 0], &mut shared).unwrap();
        assert_ne!(a.position[1], b.position[1]);
        a.carry[0] = true;
        b.carry[0] = true;
        a.step(&[0, 0], &mut shared).unwrap();
        b.step(&[0, 0], &mut shared).unwrap();
        assert_eq!(a.position[0], b.position[0]);
        assert!(!arena.in_goal(a.position[0], a.goal[0]));
    }

    #[test]
    fn censored_trials_count_with_their_length() {
        let e = [false, false, true, false, true, false, false];
        assert_eq!(trial_lengths(&e), (vec![3, 2, 2], 2));
        assert_eq!(trial_lengths(&[false; 4]), (vec![4], 0));
        assert_eq!(trial_lengths(&[true, true]), (vec![1, 1], 2));
    }

    #[test]
    fn bad_arenas_are_refused_by_name() {
        let ok = Arena::default();
        for (bad, name) in [
            (
                Arena {
                    side: 0.0,
                    ..ok.clone()
                },
                "side",
            ),
            (
                Arena {
                    goal_radius: 0.6,
                    ..ok.clone()
                },
                "goal_radius",
            ),
            (
                Arena {
                    speed: 0.0,
                    ..ok.clone()
                },
                "speed",
            ),
            (
                Arena {
                    place_cells: 0,
                    ..ok.clone()
                },
                "place_cells",
            ),
            (
                // Cells of side 0.25 cannot hold a disc of radius 0.15.
                Arena {
                    goal_sites: 4,
                    ..ok.clone()
                },
                "goal_sites",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        assert!(ok.episodes(0).unwrap_err().to_string().contains("batch"));
    }
}
