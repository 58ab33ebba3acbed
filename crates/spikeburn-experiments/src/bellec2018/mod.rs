//! Bellec, Salaj, Subramoney, Legenstein & Maass 2018, *Long short-term
//! memory and learning-to-learn in networks of spiking neurons* (NeurIPS):
//! LSNNs ([`spikeburn_core::layer::Lsnn`]: LIF + ALIF neurons) trained by BPTT
//! with Bellec's pseudo-derivative.
//!
//! - [`store_recall`]: the store-recall task of the LSNN tutorial, with a
//!   LIF-only ablation;
//! - [`smnist`]: sequential MNIST with DEEP R at 12 % connectivity;
//! - [`l2l_regression`]: learning to learn a family of functions within an
//!   episode, weights fixed (the outer loop of `spikeburn_train::meta`).

pub mod l2l_regression;
pub mod smnist;
pub mod store_recall;
