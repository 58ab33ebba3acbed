//! # spikeburn-plasticity
//!
//! Learning rules that need no autodiff graph and update weights directly, on
//! tensors of whatever backend the network runs on.
//!
//! - [`rls`]: recursive least squares on each neuron's plastic presynaptic
//!   weights (Kim & Chow 2018), batched over neurons, with the exact
//!   shared-`P` fast path when every neuron sees the same presynaptic set;
//!   [`HostRls`] is the same rule in host memory, the fast path on CPUs.
//!   Both support per-neuron presynaptic sets of any size, plastic masks and
//!   Dale's law.
//! - [`local_rule`]: local plasticity rules as online non-gradient
//!   optimizers ([`SynapticRule`]: the update of one synapse from its own
//!   weight, what its presynaptic neuron sends and what its postsynaptic
//!   neuron holds), with the voltage-based fast rule ([`FastBalance`]) and
//!   the error-driven Hebbian slow rule ([`SlowHebbian`]) of Bourdoukan &
//!   Denève 2015.
//! - [`ebn`]: the efficient balanced network those rules train, in host
//!   memory ([`HostEbn`]) and on any Burn device ([`TensorEbn`]).
//! - [`presynaptic`]: each neuron's plastic presynaptic set.
//! - [`network`]: the recurrent spiking network of Kim & Chow 2018 (theta or
//!   LIF neurons, exponential synapses, synaptic drive `u = W r`).
//! - [`trial`]: their stimulus protocol; one trial with or without RLS, for
//!   the synaptic drive or the rate (φ₂) variant; correlations.

pub mod ebn;
pub mod error;
pub mod local_rule;
pub mod network;
pub mod presynaptic;
pub mod rls;
pub mod rls_host;
pub mod trial;

pub use network::{
    DriveNetwork, DriveNetworkConfig, DriveNeuron, excitatory_inhibitory, gaussian_weights,
};
pub use presynaptic::PresynapticSets;
pub use trial::{
    DeviceRls, DriveOptimizer, Learner, Protocol, TrainedSignal, TrialRecord, pearson_per_neuron,
    run_trial,
};

pub use ebn::{
    BasisConnections, BasisFunction, CurrentProbe, Drive, EbnConfig, EbnWeights, HostEbn,
    TensorEbn, random_encoder, spread_encoder,
};
pub use error::PlasticityError;
pub use local_rule::{FastBalance, Frozen, LocalSignal, SlowHebbian, SynapticRule, Trigger};
pub use rls::{Rls, RlsConfig};
pub use rls_host::HostRls;
