//! A NIR graph as a Burn module that runs on any backend: [`NirNetwork`].
//!
//! NIR is continuous-time; a run picks the step `dt` (seconds, the unit the
//! graph's time constants are in) and discretises every node by forward
//! Euler with an immediate reset, the scheme Norse's importer uses. Per step
//! `t`, with the node's summed input `x_t`:
//!
//! ```text
//! LIF:      v⁻ = (1 − dt/τ) v_{t−1} + (dt/τ)(v_leak + R x_t)
//!           z_t = H(v⁻ − v_threshold),   v_t = z_t ? v_reset : v⁻,   out = z_t
//! CubaLIF:  I_t = (1 − dt/τ_syn) I_{t−1} + (dt/τ_syn) w_in ⊙ x_t
//!           then LIF with τ_mem and R I_t in place of R x_t
//! LI:       v_t = (1 − dt/τ) v_{t−1} + (dt/τ)(v_leak + R x_t),   out = v_t
//! CubaLI:   I_t as CubaLIF, then LI with τ_mem and R I_t
//! Affine:   x_t Wᵀ + b      Linear: x_t Wᵀ      Scale: s ⊙ x_t
//! ```
//!
//! The current is updated first and drives the same step's membrane. Nodes
//! run in the order of [`Graph::schedule`]; an edge that closes a cycle
//! (a recurrent connection) delivers its source's output of the previous
//! step, every other edge the same step's. `dt/τ` must lie in (0, 1] for
//! every neuron (a larger step would make the Euler decay negative).
//!
//! Spikes go through [`spike`] with the default surrogate, so an imported
//! network can be trained further with Burn's autodiff.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use spikeburn_core::spike::{Surrogate, spike};

use crate::error::{NirError, Result};
use crate::graph::{Array, Graph, Node};

/// What one node does per step; indices point into the network's tensors.
#[derive(Clone, Debug)]
enum Op {
    Input,
    Output,
    /// `x W + b` with `W` stored `[in, out]`.
    Project {
        weight: usize,
        bias: Option<usize>,
    },
    Scale(usize),
    /// Coefficients from `coef`: decay, drive, leak, threshold, reset.
    Lif {
        coef: usize,
        synapse: Option<usize>,
    },
    /// Coefficients: decay, drive, leak.
    Li {
        coef: usize,
        synapse: Option<usize>,
    },
}

#[derive(Clone, Debug)]
struct Step {
    name: String,
    op: Op,
    /// Indices (in the schedule) of the nodes feeding this one.
    inputs: Vec<usize>,
    size: usize,
}

/// A NIR graph ready to run: weights as parameters, per-neuron
/// coefficients as constants (see the module docs for the dynamics).
#[derive(Module, Debug)]
pub struct NirNetwork {
    /// Affine/Linear weights, `[in, out]`.
    pub weights: Vec<Param<Tensor<2>>>,
    /// Affine biases.
    pub biases: Vec<Param<Tensor<1>>>,
    /// Per-neuron coefficients (decays, drives, leaks, thresholds, resets,
    /// scales), `[1, n]` each (row vectors that broadcast over the batch).
    pub coefficients: Vec<Tensor<2>>,
    #[module(skip)]
    steps: Vec<Step>,
    #[module(skip)]
    input_size: usize,
    /// The step (s) the coefficients were computed for.
    #[module(skip)]
    pub dt: f64,
}

/// Every node's output over a run, `[T, batch, size]`, by node name
/// (spikes for LIF/CubaLIF, voltages for LI/CubaLI).
#[derive(Clone, Debug)]
pub struct NirTrace {
    /// Outputs by node name.
    pub outputs: BTreeMap<String, Tensor<3>>,
}

fn tensor(a: &[f64], device: &Device) -> Tensor<1> {
    let v: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device)
}

impl NirNetwork {
    /// Builds the network of `graph` for steps of `dt` seconds.
    pub fn from_graph(graph: &Graph, dt: f64, device: &Device) -> Result<Self> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(NirError::Invalid {
                name: "dt",
                value: dt.to_string(),
                expected: "a step > 0 (seconds)".into(),
            });
        }
        let sizes = graph.validate()?;
        let order = graph.schedule()?.order;
        let index: BTreeMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut net = NirNetwork {
            weights: vec![],
            biases: vec![],
            coefficients: vec![],
            steps: vec![],
            input_size: 0,
            dt,
        };
        for name in &order {
            let node = &graph.nodes[name];
            let size = sizes[name].1;
            let inputs = graph
                .predecessors(name)
                .iter()
                .map(|p| index[p.as_str()])
                .collect();
            let op = net.op(name, node, dt, device)?;
            if matches!(op, Op::Input) {
                net.input_size = size;
            }
            net.steps.push(Step {
                name: name.clone(),
                op,
                inputs,
                size,
            });
        }
        Ok(net)
    }

    fn push(&mut self, values: Vec<f64>, device: &Device) -> usize {
        self.coefficients
            .push(tensor(&values, device).unsqueeze_dim::<2>(0));
        self.coefficients.len() - 1
    }

    /// Euler coefficients `dt/τ`, checked.
    fn rate(name: &str, key: &str, tau: &Array, dt: f64) -> Result<Vec<f64>> {
        tau.data
            .iter()
            .map(|&t| {
                let k = dt / t;
                if t > 0.0 && k > 0.0 && k <= 1.0 {
                    Ok(k)
                } else {
                    Err(NirError::node(
                        name,
                        format!(
                            "{key} = {t} s with dt = {dt} s: dt/{key} must lie in (0, 1] (a smaller dt, or a positive {key})"
                        ),
                    ))
                }
            })
            .collect()
    }

    /// `(τ, R, v_leak)` → decay, drive, leak coefficients.
    fn membrane(
        &mut self,
        name: &str,
        key: &str,
        (tau, r, v_leak): (&Array, &Array, &Array),
        dt: f64,
        device: &Device,
    ) -> Result<usize> {
        let k = Self::rate(name, key, tau, dt)?;
        let decay = k.iter().map(|k| 1.0 - k).collect();
        let drive = k.iter().zip(&r.data).map(|(k, r)| k * r).collect();
        let leak = k.iter().zip(&v_leak.data).map(|(k, v)| k * v).collect();
        let first = self.push(decay, device);
        self.push(drive, device);
        self.push(leak, device);
        Ok(first)
    }

    fn synapse(
        &mut self,
        name: &str,
        tau_syn: &Array,
        w_in: &Array,
        dt: f64,
        device: &Device,
    ) -> Result<usize> {
        let k = Self::rate(name, "tau_syn", tau_syn, dt)?;
        let decay = k.iter().map(|k| 1.0 - k).collect();
        let drive = k.iter().zip(&w_in.data).map(|(k, w)| k * w).collect();
        let first = self.push(decay, device);
        self.push(drive, device);
        Ok(first)
    }

    fn project(&mut self, weight: &Array, bias: Option<&Array>, device: &Device) -> Op {
        let (out, inp) = (weight.shape[0], weight.shape[1]);
        // NIR's [out, in] → our [in, out].
        let mut t = vec![0f32; out * inp];
        for o in 0..out {
            for i in 0..inp {
                t[i * out + o] = weight.data[o * inp + i] as f32;
            }
        }
        self.weights.push(Param::from_tensor(Tensor::from_data(
            TensorData::new(t, [inp, out]),
            device,
        )));
        let bias = bias.map(|b| {
            self.biases
                .push(Param::from_tensor(tensor(&b.data, device)));
            self.biases.len() - 1
        });
        Op::Project {
            weight: self.weights.len() - 1,
            bias,
        }
    }

    fn op(&mut self, name: &str, node: &Node, dt: f64, device: &Device) -> Result<Op> {
        Ok(match node {
            Node::Input { .. } => Op::Input,
            Node::Output { .. } => Op::Output,
            Node::Affine { weight, bias } => self.project(weight, Some(bias), device),
            Node::Linear { weight } => self.project(weight, None, device),
            Node::Scale { scale } => Op::Scale(self.push(scale.data.clone(), device)),
            Node::Lif {
                tau,
                r,
                v_leak,
                v_threshold,
                v_reset,
            } => {
                let coef = self.membrane(name, "tau", (tau, r, v_leak), dt, device)?;
                self.push(v_threshold.data.clone(), device);
                self.push(v_reset.data.clone(), device);
                Op::Lif {
                    coef,
                    synapse: None,
                }
            }
            Node::CubaLif {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                v_threshold,
                v_reset,
                w_in,
            } => {
                let coef = self.membrane(name, "tau_mem", (tau_mem, r, v_leak), dt, device)?;
                self.push(v_threshold.data.clone(), device);
                self.push(v_reset.data.clone(), device);
                let synapse = Some(self.synapse(name, tau_syn, w_in, dt, device)?);
                Op::Lif { coef, synapse }
            }
            Node::Li { tau, r, v_leak } => Op::Li {
                coef: self.membrane(name, "tau", (tau, r, v_leak), dt, device)?,
                synapse: None,
            },
            Node::CubaLI {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                w_in,
            } => {
                let coef = self.membrane(name, "tau_mem", (tau_mem, r, v_leak), dt, device)?;
                let synapse = Some(self.synapse(name, tau_syn, w_in, dt, device)?);
                Op::Li { coef, synapse }
            }
        })
    }

    /// Input features per step.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Node names in evaluation order.
    pub fn nodes(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// Runs the network from rest on `input` `[T, batch, input_size]`.
    pub fn run(&self, input: Tensor<3>) -> Result<NirTrace> {
        let [steps, batch, features] = input.dims();
        if features != self.input_size || steps == 0 || batch == 0 {
            return Err(NirError::Shape {
                node: "input".into(),
                what: "the input sequence".into(),
                expected: format!("[T > 0, batch > 0, {}]", self.input_size),
                got: vec![steps, batch, features],
            });
        }
        let device = input.device();
        let c = |i: usize| self.coefficients[i].clone();
        let zeros = |n: usize| Tensor::<2>::zeros([batch, n], &device);
        let mut out: Vec<Tensor<2>> = self.steps.iter().map(|s| zeros(s.size)).collect();
        let mut membrane: Vec<Option<Tensor<2>>> = self
            .steps
            .iter()
            .map(|s| matches!(s.op, Op::Lif { .. } | Op::Li { .. }).then(|| zeros(s.size)))
            .collect();
        let mut current = membrane.clone();
        let mut record: Vec<Vec<Tensor<2>>> = vec![Vec::with_capacity(steps); self.steps.len()];
        let surrogate = Surrogate::default();
        for t in 0..steps {
            let x_t = input.clone().slice(s![t..t + 1]).squeeze_dim::<2>(0);
            for (k, step) in self.steps.iter().enumerate() {
                let summed = || {
                    step.inputs
                        .iter()
                        .map(|&i| out[i].clone())
                        .reduce(|a, b| a + b)
                        .unwrap_or_else(|| zeros(step.size))
                };
                let y = match &step.op {
                    Op::Input => x_t.clone(),
                    Op::Output => summed(),
                    Op::Project { weight, bias } => {
                        let y = summed().matmul(self.weights[*weight].val());
                        match bias {
                            Some(b) => y + self.biases[*b].val().unsqueeze_dim::<2>(0),
                            None => y,
                        }
                    }
                    Op::Scale(s) => summed() * c(*s),
                    Op::Lif { coef, synapse } | Op::Li { coef, synapse } => {
                        let mut drive = summed();
                        if let Some(s) = synapse {
                            let i = current[k].take().expect("a synaptic state") * c(*s)
                                + drive * c(s + 1);
                            current[k] = Some(i.clone());
                            drive = i;
                        }
                        let v = membrane[k].take().expect("a membrane state");
                        let pre = v * c(*coef) + drive * c(coef + 1) + c(coef + 2);
                        if let Op::Lif { .. } = step.op {
                            let z = spike(pre.clone() - c(coef + 3), &surrogate);
                            let keep = z.clone().neg() + 1.0;
                            membrane[k] = Some(pre * keep + z.clone() * c(coef + 4));
                            z
                        } else {
                            membrane[k] = Some(pre.clone());
                            pre
                        }
                    }
                };
                record[k].push(y.clone());
                out[k] = y;
            }
        }
        let outputs = self
            .steps
            .iter()
            .zip(record)
            .map(|(s, r)| (s.name.clone(), Tensor::stack(r, 0)))
            .collect();
        Ok(NirTrace { outputs })
    }
}
