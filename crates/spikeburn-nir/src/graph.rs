//! The NIR graph in memory: nodes with NIR's type names and parameter keys,
//! edges between them, shape checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{NirError, Result};

/// The NIR node types this crate reads, runs and writes.
pub const SUPPORTED: &str = "Input, Output, Affine, Linear, Scale, LIF, CubaLIF, LI, CubaLI";

/// A dense array as NIR stores it: row-major data and its shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Array {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

impl Array {
    /// A 1-D array.
    pub fn vector(data: Vec<f64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A 1-D array of `n` copies of `value`.
    pub fn filled(n: usize, value: f64) -> Self {
        Self::vector(vec![value; n])
    }

    /// A 2-D array `[rows, cols]` from row-major data.
    pub fn matrix(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Self {
            shape: vec![rows, cols],
            data,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// One NIR node. Variant and field names follow NIR's `type` strings and
/// parameter keys (the JSON dump writes them as such). Time constants are
/// in seconds, as the snnTorch and Norse importers read them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Node {
    /// The graph's input: `shape` features per step.
    Input {
        /// Input shape.
        shape: Vec<usize>,
    },
    /// The graph's output.
    Output {
        /// Output shape.
        shape: Vec<usize>,
    },
    /// `y = W x + b`, `W` is `[out, in]`.
    Affine {
        /// `[out, in]`.
        weight: Array,
        /// `[out]`.
        bias: Array,
    },
    /// `y = W x`, `W` is `[out, in]`.
    Linear {
        /// `[out, in]`.
        weight: Array,
    },
    /// `y = s ⊙ x`.
    Scale {
        /// `[n]`.
        scale: Array,
    },
    /// Leaky integrator: `τ v̇ = (v_leak − v) + R I`.
    #[serde(rename = "LI")]
    Li {
        /// τ (s).
        tau: Array,
        /// R.
        r: Array,
        /// v_leak.
        v_leak: Array,
    },
    /// `τ v̇ = (v_leak − v) + R I`, spike when `v > v_threshold`, then
    /// `v ← v_reset`.
    #[serde(rename = "LIF")]
    Lif {
        /// τ (s).
        tau: Array,
        /// R.
        r: Array,
        /// v_leak.
        v_leak: Array,
        /// v_threshold.
        v_threshold: Array,
        /// v_reset.
        v_reset: Array,
    },
    /// `τ_syn İ = −I + w_in S`, `τ_mem v̇ = (v_leak − v) + R I`.
    CubaLI {
        /// τ_syn (s).
        tau_syn: Array,
        /// τ_mem (s).
        tau_mem: Array,
        /// R.
        r: Array,
        /// v_leak.
        v_leak: Array,
        /// w_in.
        w_in: Array,
    },
    /// A [`Node::CubaLI`] that spikes and resets like [`Node::Lif`].
    #[serde(rename = "CubaLIF")]
    CubaLif {
        /// τ_syn (s).
        tau_syn: Array,
        /// τ_mem (s).
        tau_mem: Array,
        /// R.
        r: Array,
        /// v_leak.
        v_leak: Array,
        /// v_threshold.
        v_threshold: Array,
        /// v_reset.
        v_reset: Array,
        /// w_in.
        w_in: Array,
    },
}

impl Node {
    /// The NIR type string.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Input { .. } => "Input",
            Node::Output { .. } => "Output",
            Node::Affine { .. } => "Affine",
            Node::Linear { .. } => "Linear",
            Node::Scale { .. } => "Scale",
            Node::Li { .. } => "LI",
            Node::Lif { .. } => "LIF",
            Node::CubaLI { .. } => "CubaLI",
            Node::CubaLif { .. } => "CubaLIF",
        }
    }

    /// The named parameter arrays, in NIR's keys (Input/Output shapes not
    /// included).
    pub fn params(&self) -> Vec<(&'static str, &Array)> {
        match self {
            Node::Input { .. } | Node::Output { .. } => vec![],
            Node::Affine { weight, bias } => vec![("weight", weight), ("bias", bias)],
            Node::Linear { weight } => vec![("weight", weight)],
            Node::Scale { scale } => vec![("scale", scale)],
            Node::Li { tau, r, v_leak } => vec![("tau", tau), ("r", r), ("v_leak", v_leak)],
            Node::Lif {
                tau,
                r,
                v_leak,
                v_threshold,
                v_reset,
            } => vec![
                ("tau", tau),
                ("r", r),
                ("v_leak", v_leak),
                ("v_threshold", v_threshold),
                ("v_reset", v_reset),
            ],
            Node::CubaLI {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                w_in,
            } => vec![
                ("tau_syn", tau_syn),
                ("tau_mem", tau_mem),
                ("r", r),
                ("v_leak", v_leak),
                ("w_in", w_in),
            ],
            Node::CubaLif {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                v_threshold,
                v_reset,
                w_in,
            } => vec![
                ("tau_syn", tau_syn),
                ("tau_mem", tau_mem),
                ("r", r),
                ("v_leak", v_leak),
                ("v_threshold", v_threshold),
                ("v_reset", v_reset),
                ("w_in", w_in),
            ],
        }
    }

    /// (input size, output size) per step, after checking the node's own
    /// arrays against each other.
    pub fn sizes(&self, name: &str) -> Result<(usize, usize)> {
        let flat = |shape: &[usize], what: &str| -> Result<usize> {
            if shape.len() != 1 || shape[0] == 0 {
                return Err(NirError::Shape {
                    node: name.to_string(),
                    what: what.to_string(),
                    expected: "one non-zero dimension (spikeburn runs 1-D layers)".into(),
                    got: shape.to_vec(),
                });
            }
            Ok(shape[0])
        };
        match self {
            Node::Input { shape } | Node::Output { shape } => {
                let n = flat(shape, "shape")?;
                Ok((n, n))
            }
            Node::Affine { weight, bias } => {
                let (out, inp) = matrix(name, weight)?;
                if bias.shape != [out] {
                    return Err(NirError::Shape {
                        node: name.to_string(),
                        what: "bias".into(),
                        expected: format!("[{out}] (the weight's rows)"),
                        got: bias.shape.clone(),
                    });
                }
                Ok((inp, out))
            }
            Node::Linear { weight } => {
                let (out, inp) = matrix(name, weight)?;
                Ok((inp, out))
            }
            _ => {
                let params = self.params();
                let (first, a) = params[0];
                let n = flat(&a.shape, first)?;
                for (key, p) in &params[1..] {
                    if p.shape != [n] {
                        return Err(NirError::Shape {
                            node: name.to_string(),
                            what: key.to_string(),
                            expected: format!("[{n}], like {first}"),
                            got: p.shape.clone(),
                        });
                    }
                }
                Ok((n, n))
            }
        }
    }
}

fn matrix(name: &str, w: &Array) -> Result<(usize, usize)> {
    if w.shape.len() != 2 || w.shape.contains(&0) || w.data.len() != w.shape[0] * w.shape[1] {
        return Err(NirError::Shape {
            node: name.to_string(),
            what: "weight".into(),
            expected: "[out, in], both non-zero".into(),
            got: w.shape.clone(),
        });
    }
    Ok((w.shape[0], w.shape[1]))
}

/// The order a step evaluates a graph's nodes in, and the edges that close
/// a cycle (they carry the previous step's output).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Node names, every non-back edge going from earlier to later.
    pub order: Vec<String>,
    /// `(from, to)` edges that close a cycle.
    pub back_edges: Vec<(String, String)>,
}

/// A NIR graph: named nodes and directed edges (cycles allowed: an edge
/// that closes a cycle carries the previous step's output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Graph {
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// `(from, to)` pairs.
    pub edges: Vec<(String, String)>,
}

/// The NIR version string written to files: the layout of the Python `nir`
/// package 1.0.8 (`version` dataset, `node` group), whose reader we test
/// against.
pub const NIR_VERSION: &str = "1.0.8";

impl Graph {
    /// Adds a node (builder style).
    pub fn with_node(mut self, name: &str, node: Node) -> Self {
        self.nodes.insert(name.to_string(), node);
        self
    }

    /// Adds an edge (builder style).
    pub fn with_edge(mut self, from: &str, to: &str) -> Self {
        self.edges.push((from.to_string(), to.to_string()));
        self
    }

    /// Checks that edges join existing nodes whose sizes agree, that there
    /// is exactly one `Input` node and that every node is reachable from it.
    /// Returns each node's `(input, output)` size.
    pub fn validate(&self) -> Result<BTreeMap<String, (usize, usize)>> {
        let mut sizes = BTreeMap::new();
        for (name, node) in &self.nodes {
            sizes.insert(name.clone(), node.sizes(name)?);
        }
        for (from, to) in &self.edges {
            for end in [from, to] {
                if !self.nodes.contains_key(end) {
                    return Err(NirError::Edge {
                        from: from.clone(),
                        to: to.clone(),
                        missing: end.clone(),
                    });
                }
            }
            let out = sizes[from].1;
            let inp = sizes[to].0;
            if out != inp {
                return Err(NirError::Shape {
                    node: to.clone(),
                    what: format!("input from `{from}`"),
                    expected: format!("{inp} features"),
                    got: vec![out],
                });
            }
            if matches!(self.nodes[to], Node::Input { .. }) {
                return Err(NirError::Graph(format!(
                    "edge {from} -> {to} enters the Input node"
                )));
            }
        }
        let inputs = self.inputs();
        match inputs.len() {
            0 => return Err(NirError::Graph("no Input node".into())),
            1 => {}
            _ => {
                return Err(NirError::Graph(format!(
                    "{} Input nodes ({}): spikeburn runs graphs with one input",
                    inputs.len(),
                    inputs.join(", ")
                )));
            }
        }
        let reached = self.reachable(&inputs[0]);
        if let Some(lost) = self.nodes.keys().find(|n| !reached.contains(*n)) {
            return Err(NirError::Graph(format!(
                "node `{lost}` cannot be reached from the Input node `{}`",
                inputs[0]
            )));
        }
        Ok(sizes)
    }

    /// Names of the `Input` nodes.
    pub fn inputs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::Input { .. }))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Names of the `Output` nodes.
    pub fn outputs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::Output { .. }))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Nodes feeding `node`, in edge order.
    pub fn predecessors(&self, node: &str) -> Vec<String> {
        self.edges
            .iter()
            .filter(|(_, to)| to == node)
            .map(|(from, _)| from.clone())
            .collect()
    }

    fn reachable(&self, start: &str) -> Vec<String> {
        let mut seen = vec![start.to_string()];
        let mut stack = vec![start.to_string()];
        while let Some(n) = stack.pop() {
            for (from, to) in &self.edges {
                if *from == n && !seen.contains(to) {
                    seen.push(to.clone());
                    stack.push(to.clone());
                }
            }
        }
        seen
    }

    /// The order a step evaluates the nodes in, and which edges close a
    /// cycle (they carry the previous step's output): a depth-first search
    /// from the input; an edge into a node still on the search's stack is a
    /// back edge. The order is a reverse post-order, so every other edge
    /// goes from an earlier node to a later one.
    pub fn schedule(&self) -> Result<Schedule> {
        self.validate()?;
        let input = self.inputs().remove(0);
        let mut order = vec![];
        let mut back = vec![];
        let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 on stack, 2 done
        // Iterative DFS: (node, next edge index).
        let mut stack: Vec<(&str, usize)> = vec![(input.as_str(), 0)];
        state.insert(input.as_str(), 1);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let succ = self
                .edges
                .iter()
                .enumerate()
                .skip(*next)
                .find(|(_, (from, _))| from == node);
            match succ {
                Some((i, (from, to))) => {
                    *next = i + 1;
                    match state.get(to.as_str()) {
                        None => {
                            state.insert(to.as_str(), 1);
                            stack.push((to.as_str(), 0));
                        }
                        Some(1) => back.push((from.clone(), to.clone())),
                        _ => {}
                    }
                }
                None => {
                    state.insert(node, 2);
                    order.push(node.to_string());
                    stack.pop();
                }
            }
        }
        order.reverse();
        Ok(Schedule {
            order,
            back_edges: back,
        })
    }

    /// The graph as JSON, with NIR's node types and parameter keys: the
    /// independent dump a reader of the HDF5 file compares against.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "version": NIR_VERSION,
            "nodes": self.nodes,
            "edges": self.edges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lif(n: usize) -> Node {
        Node::Lif {
            tau: Array::filled(n, 0.02),
            r: Array::filled(n, 1.0),
            v_leak: Array::filled(n, 0.0),
            v_threshold: Array::filled(n, 1.0),
            v_reset: Array::filled(n, 0.0),
        }
    }

    fn recurrent() -> Graph {
        Graph::default()
            .with_node("input", Node::Input { shape: vec![3] })
            .with_node(
                "w_in",
                Node::Linear {
                    weight: Array::matrix(2, 3, vec![0.0; 6]),
                },
            )
            .with_node("lif", lif(2))
            .with_node(
                "w_rec",
                Node::Linear {
                    weight: Array::matrix(2, 2, vec![0.0; 4]),
                },
            )
            .with_node("output", Node::Output { shape: vec![2] })
            .with_edge("input", "w_in")
            .with_edge("w_in", "lif")
            .with_edge("lif", "w_rec")
            .with_edge("w_rec", "lif")
            .with_edge("lif", "output")
    }

    #[test]
    fn the_recurrent_edge_is_the_one_that_closes_the_cycle() {
        let Schedule {
            order,
            back_edges: back,
        } = recurrent().schedule().unwrap();
        assert_eq!(back, vec![("w_rec".to_string(), "lif".to_string())]);
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("input") < pos("w_in") && pos("w_in") < pos("lif"));
        assert!(pos("lif") < pos("w_rec") && pos("lif") < pos("output"));
    }

    #[test]
    fn bad_graphs_are_refused_by_node() {
        let g = recurrent().with_edge("lif", "nowhere");
        let e = g.validate().unwrap_err().to_string();
        assert!(e.contains("nowhere"), "{e}");
        let mut g = recurrent();
        g.nodes.insert(
            "w_rec".into(),
            Node::Linear {
                weight: Array::matrix(3, 2, vec![0.0; 6]),
            },
        );
        let e = g.validate().unwrap_err().to_string();
        assert!(e.contains("lif") && e.contains("w_rec"), "{e}");
        let mut g = recurrent();
        g.nodes.remove("input");
        g.edges.retain(|(a, _)| a != "input");
        let e = g.validate().unwrap_err().to_string();
        assert!(e.contains("no Input node"), "{e}");
        let mut g = recurrent();
        g.nodes.insert(
            "lif".into(),
            Node::Lif {
                tau: Array::filled(2, 0.02),
                r: Array::filled(3, 1.0),
                v_leak: Array::filled(2, 0.0),
                v_threshold: Array::filled(2, 1.0),
                v_reset: Array::filled(2, 0.0),
            },
        );
        let e = g.validate().unwrap_err().to_string();
        assert!(e.contains("`lif`") && e.contains(" r "), "{e}");
    }

    #[test]
    fn the_json_dump_uses_nir_type_names_and_keys() {
        let j = recurrent().to_json();
        assert_eq!(j["nodes"]["lif"]["type"], "LIF");
        assert_eq!(j["nodes"]["lif"]["v_threshold"]["shape"][0], 2);
        assert_eq!(j["nodes"]["input"]["shape"][0], 3);
        assert_eq!(j["edges"][3][0], "w_rec");
    }
}
