//! Bellec, Salaj, Subramoney, Legenstein & Maass 2018, *Long short-term
//! memory and learning-to-learn in networks of spiking neurons* (NeurIPS):
//! LSNNs ([`spikeburn_core::layer::Lsnn`]: LIF + ALIF neurons) trained by BPTT
//! with Bellec's pseudo-derivative.
//!
//! - [`store_recall`]: the store-recall task of the LSNN tutorial, with a
//!   LIF-only ablation;
//! - [`smnist`]: sequential MNIST with DEEP R at 12 % connectivity;
//! - [`l2l_regression`]: learning to learn a family of functions within an
//!   episode, weights fixed (the outer loop of `spikeburn_train::meta`);
//! - [`l2l_navigation`]: meta-reinforcement learning, an agent finding a
//!   hidden goal in an arena (A2C through whole episodes).

pub mod l2l_navigation;
pub mod l2l_regression;
pub mod smnist;
pub mod store_recall;
