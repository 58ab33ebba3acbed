//! NIR interchange for spikeburn: trained networks out to the neuromorphic
//! ecosystem (snnTorch, Norse, Spyx, Rockpool, Sinabs, Lava, SpiNNaker2, …)
//! and NIR graphs in, as Burn modules that run on any backend.
//!
//! - [`Graph`] / [`Node`]: the graph in memory, with NIR's node types and
//!   parameter keys; [`Graph::validate`] checks edges and shapes and
//!   [`Graph::to_json`] dumps it.
//! - [`export`]: spikeburn layers → a graph ([`Exporter`], [`export_lsnn`]),
//!   with the mapping of our discrete steps onto NIR's continuous
//!   parameters, and typed refusals of what NIR cannot express.
//! - [`NirNetwork`]: a graph → a Burn module, run at a chosen `dt`.
//! - [`file`]: NIR's HDF5 files (the `hdf5` feature; needs libhdf5).
//!
//! ```
//! use burn::prelude::*;
//! use spikeburn_core::layer::LsnnConfig;
//! use spikeburn_core::neuron::{AlifConfig, Reset};
//! use spikeburn_nir::{ExportOptions, NirNetwork, export_lsnn};
//!
//! let device = Device::default();
//! // A LIF-only LSNN that resets to 0: NIR can express it.
//! let neuron = AlifConfig::new().with_reset(Reset::ToValue { value: 0.0 });
//! let lsnn = LsnnConfig::with_sizes(4, 8, 0, 2, neuron).init(&device).unwrap();
//! let graph = export_lsnn(&lsnn, 1.0, ExportOptions::default()).unwrap();
//! assert_eq!(graph.nodes["lsnn"].kind(), "LIF");
//! // ... and back, stepping at 1 ms.
//! let net = NirNetwork::from_graph(&graph, 1e-3, &device).unwrap();
//! let out = net.run(Tensor::<3>::ones([5, 1, 4], &device)).unwrap();
//! assert_eq!(out.outputs["output"].dims(), [5, 1, 2]);
//! ```

pub mod error;
pub mod export;
pub mod file;
pub mod graph;
pub mod network;

pub use error::{NirError, Result};
pub use export::{ExportOptions, Exporter, LifConstants, NirNeuron, export_lsnn};
pub use graph::{Array, Graph, NIR_VERSION, Node, SUPPORTED, Schedule};
pub use network::{NirNetwork, NirTrace};

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::tensor::{Distribution, TensorData};
    use spikeburn_core::layer::{LsnnConfig, Record, RecurrentSpikingConfig, SpikingLinearConfig};
    use spikeburn_core::neuron::{AlifConfig, InputScaling, LifConfig, Reset};
    use spikeburn_core::synapse::ExponentialSynapseConfig;

    use super::*;

    fn poisson(steps: usize, batch: usize, n: usize, p: f64, device: &Device) -> Tensor<3> {
        Tensor::<3>::random([steps, batch, n], Distribution::Uniform(0.0, 1.0), device)
            .lower_elem(p)
            .float()
    }

    fn flat(t: Tensor<3>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Fraction of identical entries and the spike count of `a`.
    fn agreement(a: &[f32], b: &[f32]) -> (f64, f32) {
        let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
        (same as f64 / a.len() as f64, a.iter().sum())
    }

    #[test]
    fn an_exported_lsnn_runs_spike_for_spike_as_a_nir_network() {
        let device = Device::default();
        device.seed(3);
        for (scaling, reset) in [(InputScaling::Leaky, 0.0), (InputScaling::Direct, 0.2)] {
            let neuron = AlifConfig::new()
                .with_threshold(0.5)
                .with_input_scaling(scaling)
                .with_reset(Reset::ToValue { value: reset });
            let mut cfg = LsnnConfig::with_sizes(6, 20, 0, 3, neuron);
            cfg.layer = cfg.layer.with_input_gain(3.0).with_recurrent_gain(1.0);
            let lsnn = cfg.init(&device).unwrap();
            let x = poisson(200, 4, 6, 0.2, &device);
            let ours = lsnn.try_forward(x.clone()).unwrap();
            let (z, y) = (flat(ours.spikes), flat(ours.output));
            for unit_resistance in [false, true] {
                let options = ExportOptions {
                    unit_resistance,
                    ..ExportOptions::default()
                };
                let graph = export_lsnn(&lsnn, 1.0, options).unwrap();
                let net = NirNetwork::from_graph(&graph, 1e-3, &device).unwrap();
                let theirs = net.run(x.clone()).unwrap();
                let (same, count) = agreement(&z, &flat(theirs.outputs["lsnn"].clone()));
                assert!(count > 100.0, "the network spikes ({count})");
                assert!(same > 0.999, "{scaling:?}: {same} of the spikes agree");
                let yn = flat(theirs.outputs["output"].clone());
                let err = y
                    .iter()
                    .zip(&yn)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0, f32::max);
                assert!(err < 1e-3, "readout differs by {err}");
            }
        }
    }

    #[test]
    fn feed_forward_and_current_based_layers_round_trip() {
        let device = Device::default();
        device.seed(4);
        let lif = LifConfig::new()
            .with_reset(Reset::ToValue { value: 0.0 })
            .with_threshold(0.3);
        let syn = ExponentialSynapseConfig::new(5.0).with_normalised(true);
        let ff = SpikingLinearConfig::new(5, 12)
            .with_gain(3.0)
            .with_synapse(Some(syn.clone()))
            .init(lif.init(12).unwrap(), &device)
            .unwrap();
        let rec = RecurrentSpikingConfig::new(12, 8)
            .with_input_gain(3.0)
            .with_synapse(Some(ExponentialSynapseConfig::new(8.0)))
            .init(lif.init(8).unwrap(), &device)
            .unwrap();
        let x = poisson(150, 2, 5, 0.3, &device);
        let z1 = ff
            .try_forward_sequence(x.clone(), None, Record::spikes())
            .unwrap()
            .spikes;
        let z2 = rec
            .try_forward_sequence(z1.clone(), None, Record::spikes())
            .unwrap()
            .spikes;
        let graph = Exporter::new(5, 1.0)
            .unwrap()
            .feed_forward("hidden", &ff)
            .unwrap()
            .recurrent("recurrent", &rec)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(graph.nodes["hidden"].kind(), "CubaLIF");
        let net = NirNetwork::from_graph(&graph, 1e-3, &device).unwrap();
        let out = net.run(x).unwrap();
        for (name, ours) in [("hidden", z1), ("recurrent", z2)] {
            let (same, count) = agreement(&flat(ours), &flat(out.outputs[name].clone()));
            assert!(count > 20.0, "{name} spikes ({count})");
            assert!(same > 0.999, "{name}: {same}");
        }
    }

    #[test]
    fn what_nir_cannot_express_is_refused_by_layer() {
        let device = Device::default();
        let alif = AlifConfig::new().with_reset(Reset::ToValue { value: 0.0 });
        let lsnn = LsnnConfig::with_sizes(3, 4, 4, 2, alif)
            .init(&device)
            .unwrap();
        let e = export_lsnn(&lsnn, 1.0, ExportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("lsnn") && e.contains("ALIF"), "{e}");
        let sub = LsnnConfig::with_sizes(3, 4, 0, 2, AlifConfig::new())
            .init(&device)
            .unwrap();
        let e = export_lsnn(&sub, 1.0, ExportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("subtract"), "{e}");
        let refractory = LifConfig::new()
            .with_reset(Reset::ToValue { value: 0.0 })
            .with_refractory_steps(2);
        let rec = RecurrentSpikingConfig::new(3, 4)
            .init(refractory.init(4).unwrap(), &device)
            .unwrap();
        let e = Exporter::new(3, 1.0)
            .unwrap()
            .recurrent("rec", &rec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`rec`") && e.contains("refractory"), "{e}");
        let lif = LifConfig::new().with_reset(Reset::ToValue { value: 0.0 });
        let dale = RecurrentSpikingConfig::new(3, 4)
            .with_excitatory_fraction(Some(0.75))
            .init(lif.init(4).unwrap(), &device)
            .unwrap();
        let e = Exporter::new(3, 1.0)
            .unwrap()
            .recurrent("ei", &dale)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Dale"), "{e}");
        assert!(
            Exporter::new(3, 1.0)
                .unwrap()
                .with_options(ExportOptions {
                    drop_dale_constraint: true,
                    ..ExportOptions::default()
                })
                .recurrent("ei", &dale)
                .is_ok()
        );
        let e = Exporter::new(5, 1.0)
            .unwrap()
            .recurrent("rec", &rec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("5 inputs"), "{e}");
    }

    #[test]
    fn a_hand_computed_lif_node() {
        // τ = 10 ms, R = 2, v_leak = 0.1, threshold 1, reset 0.5, dt = 1 ms:
        // v⁻ = 0.9 v + 0.1 (0.1 + 2 x).
        let device = Device::default();
        let n = |v: f64| Array::filled(1, v);
        let g = Graph::default()
            .with_node("input", Node::Input { shape: vec![1] })
            .with_node(
                "lif",
                Node::Lif {
                    tau: n(0.01),
                    r: n(2.0),
                    v_leak: n(0.1),
                    v_threshold: n(1.0),
                    v_reset: n(0.5),
                },
            )
            .with_node("output", Node::Output { shape: vec![1] })
            .with_edge("input", "lif")
            .with_edge("lif", "output");
        let net = NirNetwork::from_graph(&g, 1e-3, &device).unwrap();
        let x = Tensor::<3>::from_data(
            TensorData::new(vec![3.0f32, 3.0, 0.0, 3.0], [4, 1, 1]),
            &device,
        );
        let z = flat(net.run(x).unwrap().outputs["lif"].clone());
        // v: 0.61, 0.61·0.9 + 0.61 = 1.159 → spike, reset 0.5;
        // 0.45 + 0.01 = 0.46; 0.414 + 0.61 = 1.024 → spike.
        assert_eq!(z, vec![0.0, 1.0, 0.0, 1.0]);
        let e = NirNetwork::from_graph(&g, 0.02, &device)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`lif`") && e.contains("dt/tau"), "{e}");
    }
}
