//! spikeburn layers → a NIR [`Graph`].
//!
//! Our layers are discrete (a step `dt`, decays `α = exp(−dt/τ)`); NIR is
//! continuous. We write the parameters for which NIR's forward-Euler
//! discretisation at the same `dt` — the one [`NirNetwork`](crate::NirNetwork)
//! and Norse use — reproduces our step exactly:
//!
//! ```text
//! ours (LIF, Reset::ToValue{v_r}):
//!   v_t = (1 − z_{t−1}) α v_{t−1} + z_{t−1} v_r + g I_t,   z_t = H(v_t − ϑ)
//! NIR LIF, forward Euler, immediate reset (u = post-reset voltage):
//!   v⁻_t = (1 − dt/τ) u_{t−1} + (dt/τ) R I_t,   z_t = H(v⁻_t − v_th),   u_t = z_t ? v_reset : v⁻_t
//! they agree (v⁻_t = v_t) with
//!   τ = dt / (1 − α),   R = g / (1 − α),   v_th = ϑ,   v_leak = 0,   v_reset = v_r / α
//! ```
//!
//! (our reset value enters after the step's leak, NIR's before it: hence
//! `v_r / α`). The same holds for the exponential synapse
//! (`i_t = d i_{t−1} + g_s u_t` → CubaLIF `τ_syn = dt/(1 − d)`,
//! `w_in = g_s/(1 − d)`) and the leaky readout (`y_t = κ y_{t−1} + g z_t W`
//! → `Linear` then `LI` with `τ = dt/(1 − κ)`, `R = g/(1 − κ)`; its bias,
//! added after the filter in our readout, becomes an `Affine` with identity
//! weight after the `LI`). Note `τ = dt/(1 − α)` is slightly longer than the
//! layer's `τ_m` (20.5 ms for 20 ms at 1 ms): it is the time constant that
//! makes the Euler step decay by our `α`.
//!
//! Time constants are written in **seconds** (dt given in ms, as our layers
//! use it): what snnTorch's and Norse's importers read. Weights: NIR's are
//! `[out, in]`, ours `[pre, post]`; we transpose.
//!
//! Refused, with [`NirError::Unsupported`] naming the layer: ALIF neurons
//! with β ≠ 0 (no adaptive primitive in NIR), reset by subtraction or no
//! reset (NIR's LIF resets to a value), refractory periods, synaptic delays,
//! and Dale's law (a constraint on training; its current weights are
//! expressible, so [`ExportOptions::drop_dale_constraint`] is the explicit
//! opt-in that writes them without it).

use burn::prelude::*;
use spikeburn_core::layer::{LeakyReadout, Lsnn, RecurrentSpiking, SpikingLinear};
use spikeburn_core::neuron::{Alif, Lif, NeuronModel, Reset};
use spikeburn_core::synapse::ExponentialSynapse;

use crate::error::{NirError, Result};
use crate::graph::{Array, Graph, Node};

/// A neuron model's discrete LIF constants, if NIR can express it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifConstants {
    /// Membrane decay per step α.
    pub alpha: f64,
    /// Input gain g.
    pub gain: f64,
    /// Threshold ϑ.
    pub threshold: f64,
    /// Reset value v_r.
    pub reset: f64,
}

/// Neuron models NIR may express as LIF.
pub trait NirNeuron: NeuronModel {
    /// The LIF constants, or why NIR cannot express this population
    /// (`layer` names it in the error).
    fn lif_constants(&self, layer: &str) -> Result<LifConstants>;
}

fn lif_like(
    layer: &str,
    alpha: f64,
    gain: f64,
    threshold: f64,
    reset: Reset,
    refractory_steps: usize,
) -> Result<LifConstants> {
    let reset = match reset {
        Reset::ToValue { value } => value,
        Reset::Subtract => {
            return Err(NirError::unsupported(
                layer,
                "it resets by subtracting the threshold; NIR's LIF resets to a value \
                 (build the layer with Reset::ToValue to export it)",
            ));
        }
        Reset::None => {
            return Err(NirError::unsupported(
                layer,
                "it never resets; NIR's LIF resets to a value",
            ));
        }
    };
    if refractory_steps > 0 {
        return Err(NirError::unsupported(
            layer,
            format!("it has a refractory period ({refractory_steps} steps); NIR's LIF has none"),
        ));
    }
    Ok(LifConstants {
        alpha,
        gain,
        threshold,
        reset,
    })
}

impl NirNeuron for Lif {
    fn lif_constants(&self, layer: &str) -> Result<LifConstants> {
        let p = &self.params;
        lif_like(
            layer,
            p.alpha,
            p.gain,
            p.threshold,
            p.reset,
            p.refractory_steps,
        )
    }
}

impl NirNeuron for Alif {
    /// An ALIF population is a LIF one when every β is 0 (a LIF-only LSNN).
    fn lif_constants(&self, layer: &str) -> Result<LifConstants> {
        let beta = floats(self.beta.to_data());
        let adaptive = beta.iter().filter(|b| **b != 0.0).count();
        if adaptive > 0 {
            return Err(NirError::unsupported(
                layer,
                format!(
                    "{adaptive} of its {} neurons are ALIF (threshold adaptation, β up to {}); NIR has no adaptive-threshold neuron",
                    beta.len(),
                    beta.iter().cloned().fold(0.0f32, f32::max)
                ),
            ));
        }
        let p = &self.params;
        lif_like(
            layer,
            p.alpha,
            p.gain,
            p.threshold,
            p.reset,
            p.refractory_steps,
        )
    }
}

/// Explicit opt-ins to approximations.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// Write a Dale's-law layer's current (signed, masked) weights without
    /// the sign constraint.
    pub drop_dale_constraint: bool,
    /// Write `R = 1` and fold our `R` into the weights feeding the layer
    /// (exact: the node's input only arrives through those weights). For
    /// importers that ignore `r`, e.g. Norse's.
    pub unit_resistance: bool,
}

/// Builds a NIR graph layer by layer: an `Input`, then each layer fed by
/// the previous one, then [`finish`](Self::finish) adds the `Output`.
#[derive(Clone, Debug)]
pub struct Exporter {
    graph: Graph,
    /// Step in ms.
    dt_ms: f64,
    last: String,
    width: usize,
    options: ExportOptions,
}

/// A tensor's values as `f32` (whatever the backend's float type).
fn floats(data: burn::tensor::TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .expect("converted to f32")
}

fn values(t: Tensor<2>) -> (usize, usize, Vec<f64>) {
    let [r, c] = t.dims();
    let v = floats(t.into_data());
    (r, c, v.into_iter().map(f64::from).collect())
}

/// Ours `[pre, post]` → NIR `[out, in]`.
fn transposed(t: Tensor<2>) -> Array {
    let (pre, post, v) = values(t);
    let mut w = vec![0.0; pre * post];
    for i in 0..pre {
        for o in 0..post {
            w[o * pre + i] = v[i * post + o];
        }
    }
    Array::matrix(post, pre, w)
}

fn identity(n: usize) -> Array {
    let mut w = vec![0.0; n * n];
    for i in 0..n {
        w[i * n + i] = 1.0;
    }
    Array::matrix(n, n, w)
}

impl Exporter {
    /// Starts a graph with an `Input` of `n_input` features, for layers
    /// stepped every `dt_ms` milliseconds.
    pub fn new(n_input: usize, dt_ms: f64) -> Result<Self> {
        if n_input == 0 {
            return Err(NirError::Invalid {
                name: "n_input",
                value: "0".into(),
                expected: "at least one input feature".into(),
            });
        }
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(NirError::Invalid {
                name: "dt",
                value: dt_ms.to_string(),
                expected: "a step > 0 ms".into(),
            });
        }
        Ok(Self {
            graph: Graph::default().with_node(
                "input",
                Node::Input {
                    shape: vec![n_input],
                },
            ),
            dt_ms,
            last: "input".into(),
            width: n_input,
            options: ExportOptions::default(),
        })
    }

    /// Sets the opt-ins.
    pub fn with_options(mut self, options: ExportOptions) -> Self {
        self.options = options;
        self
    }

    /// τ in seconds for a per-step decay.
    fn tau(&self, decay: f64) -> f64 {
        self.dt_ms * 1e-3 / (1.0 - decay)
    }

    fn check_width(&self, layer: &str, n_in: usize) -> Result<()> {
        if n_in != self.width {
            return Err(NirError::Shape {
                node: layer.to_string(),
                what: format!("input weights (fed by `{}`)", self.last),
                expected: format!("{} inputs", self.width),
                got: vec![n_in],
            });
        }
        Ok(())
    }

    fn neuron_node(
        &self,
        layer: &str,
        c: LifConstants,
        n: usize,
        synapse: Option<ExponentialSynapse>,
    ) -> Result<Node> {
        if !(c.alpha > 0.0 && c.alpha < 1.0) {
            return Err(NirError::unsupported(
                layer,
                format!(
                    "its membrane decay per step is {} (NIR needs a leak: 0 < α < 1)",
                    c.alpha
                ),
            ));
        }
        let tau = Array::filled(n, self.tau(c.alpha));
        let r = Array::filled(n, self.resistance(c.gain / (1.0 - c.alpha)).0);
        let v_leak = Array::filled(n, 0.0);
        let v_threshold = Array::filled(n, c.threshold);
        let v_reset = Array::filled(n, c.reset / c.alpha);
        Ok(match synapse {
            None => Node::Lif {
                tau,
                r,
                v_leak,
                v_threshold,
                v_reset,
            },
            Some(s) => {
                if !(s.decay > 0.0 && s.decay < 1.0) {
                    return Err(NirError::unsupported(
                        layer,
                        format!(
                            "its synaptic decay per step is {} (NIR needs 0 < d < 1)",
                            s.decay
                        ),
                    ));
                }
                // R multiplies the synaptic current, which is linear in the
                // input: folding R into the weights is exact here too.
                Node::CubaLif {
                    tau_syn: Array::filled(n, self.tau(s.decay)),
                    tau_mem: tau,
                    r,
                    v_leak,
                    v_threshold,
                    v_reset,
                    w_in: Array::filled(n, s.gain / (1.0 - s.decay)),
                }
            }
        })
    }

    /// `(R written, factor on the incoming weights)`.
    fn resistance(&self, r: f64) -> (f64, f64) {
        if self.options.unit_resistance {
            (1.0, r)
        } else {
            (r, 1.0)
        }
    }

    fn scaled(a: Array, k: f64) -> Array {
        Array {
            data: a.data.into_iter().map(|v| v * k).collect(),
            ..a
        }
    }

    fn fresh(&self, name: &str) -> Result<()> {
        if self.graph.nodes.contains_key(name) || name == "output" {
            return Err(NirError::Invalid {
                name: "layer name",
                value: name.to_string(),
                expected: "a name not used yet (and not `output`)".into(),
            });
        }
        Ok(())
    }

    /// A feed-forward spiking layer: `Linear` (`{name}.weight`) → `LIF` or
    /// `CubaLIF` (`{name}`).
    pub fn feed_forward<N: NirNeuron>(
        mut self,
        name: &str,
        layer: &SpikingLinear<N>,
    ) -> Result<Self> {
        self.fresh(name)?;
        let w = layer.weights.val();
        let [n_in, n] = w.dims();
        self.check_width(name, n_in)?;
        let c = layer.neuron.lif_constants(name)?;
        let neuron = self.neuron_node(name, c, n, layer.synapse)?;
        let k = self.resistance(c.gain / (1.0 - c.alpha)).1;
        let wname = format!("{name}.weight");
        self.graph = std::mem::take(&mut self.graph)
            .with_node(
                &wname,
                Node::Linear {
                    weight: Self::scaled(transposed(w), k),
                },
            )
            .with_node(name, neuron)
            .with_edge(&self.last, &wname)
            .with_edge(&wname, name);
        self.last = name.to_string();
        self.width = n;
        Ok(self)
    }

    /// A recurrent spiking layer: `Linear` input (`{name}.input`) → `LIF` or
    /// `CubaLIF` (`{name}`), with the recurrence as a cycle through
    /// `{name}.recurrent` (`Linear`).
    pub fn recurrent<N: NirNeuron>(
        mut self,
        name: &str,
        layer: &RecurrentSpiking<N>,
    ) -> Result<Self> {
        self.fresh(name)?;
        if layer.delayed_projections().is_some() {
            return Err(NirError::unsupported(
                name,
                "it has synaptic delays (max_delay > 1); spikeburn does not write NIR Delay nodes",
            ));
        }
        if layer.dale && !self.options.drop_dale_constraint {
            return Err(NirError::unsupported(
                name,
                "its weights obey Dale's law, a training constraint NIR cannot carry \
                 (ExportOptions::drop_dale_constraint writes the current weights without it)",
            ));
        }
        let w_in = layer.input_weights.val();
        let [n_in, n] = w_in.dims();
        self.check_width(name, n_in)?;
        let c = layer.neuron.lif_constants(name)?;
        let neuron = self.neuron_node(name, c, n, layer.synapse)?;
        let k = self.resistance(c.gain / (1.0 - c.alpha)).1;
        let (iname, rname) = (format!("{name}.input"), format!("{name}.recurrent"));
        self.graph = std::mem::take(&mut self.graph)
            .with_node(
                &iname,
                Node::Linear {
                    weight: Self::scaled(transposed(w_in), k),
                },
            )
            .with_node(name, neuron)
            .with_node(
                &rname,
                Node::Linear {
                    weight: Self::scaled(transposed(layer.effective_recurrent_weights()), k),
                },
            )
            .with_edge(&self.last, &iname)
            .with_edge(&iname, name)
            .with_edge(name, &rname)
            .with_edge(&rname, name);
        self.last = name.to_string();
        self.width = n;
        Ok(self)
    }

    /// The leaky readout: `Linear` (`{name}.weight`) → `LI` (`{name}`), then
    /// an `Affine` (`{name}.bias`, identity weight) when the bias is not 0.
    pub fn readout(mut self, name: &str, readout: &LeakyReadout) -> Result<Self> {
        self.fresh(name)?;
        let w = readout.weights.val();
        let [n_in, n] = w.dims();
        self.check_width(name, n_in)?;
        let k = readout.decay;
        if !(k > 0.0 && k < 1.0) {
            return Err(NirError::unsupported(
                name,
                format!("its decay per step is {k} (NIR's LI needs 0 < κ < 1)"),
            ));
        }
        let wname = format!("{name}.weight");
        let (r, factor) = self.resistance(readout.input_gain / (1.0 - k));
        let mut g = std::mem::take(&mut self.graph)
            .with_node(
                &wname,
                Node::Linear {
                    weight: Self::scaled(transposed(w), factor),
                },
            )
            .with_node(
                name,
                Node::Li {
                    tau: Array::filled(n, self.tau(k)),
                    r: Array::filled(n, r),
                    v_leak: Array::filled(n, 0.0),
                },
            )
            .with_edge(&self.last, &wname)
            .with_edge(&wname, name);
        self.last = name.to_string();
        let bias = floats(readout.bias.val().into_data());
        if bias.iter().any(|b| *b != 0.0) {
            let bname = format!("{name}.bias");
            g = g
                .with_node(
                    &bname,
                    Node::Affine {
                        weight: identity(n),
                        bias: Array::vector(bias.into_iter().map(f64::from).collect()),
                    },
                )
                .with_edge(name, &bname);
            self.last = bname;
        }
        self.graph = g;
        self.width = n;
        Ok(self)
    }

    /// Adds the `Output` node after the last layer; validates the graph.
    pub fn finish(self) -> Result<Graph> {
        let g = self
            .graph
            .with_node(
                "output",
                Node::Output {
                    shape: vec![self.width],
                },
            )
            .with_edge(&self.last, "output");
        g.validate()?;
        Ok(g)
    }
}

/// An [`Lsnn`] (recurrent layer `lsnn` + leaky readout `readout`) as a NIR
/// graph; `dt_ms` is the step the network was built with.
pub fn export_lsnn(lsnn: &Lsnn, dt_ms: f64, options: ExportOptions) -> Result<Graph> {
    let [n_in, _] = lsnn.recurrent.input_weights.val().dims();
    Exporter::new(n_in, dt_ms)?
        .with_options(options)
        .recurrent("lsnn", &lsnn.recurrent)?
        .readout("readout", &lsnn.readout)?
        .finish()
}
