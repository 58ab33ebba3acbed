//! Bellec, Salaj, Subramoney, Legenstein & Maass 2018, *Long short-term
//! memory and learning-to-learn in networks of spiking neurons* (NeurIPS):
//! LSNNs ([`spikeburn_core::layer::Lsnn`]: LIF + ALIF neurons) trained by BPTT
//! with Bellec's pseudo-derivative.
//!
//! - [`store_recall`]: the store-recall task of the LSNN tutorial, with a
//!   LIF-only ablation;
//! - [`smnist`]: sequential MNIST with DEEP R at 12 % connectivity.

pub mod smnist;
pub mod store_recall;

/// The spikes of one sequence, `[T, 1, N]`, as `[T][N]` raster rows.
pub(crate) fn raster_rows(spikes: burn::prelude::Tensor<3>) -> crate::Result<Vec<Vec<f32>>> {
    let n = spikes.dims()[2];
    let flat = spikes
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| crate::ExperimentError::NonFinite {
            what: format!("spike raster ({e:?})"),
            value: f64::NAN,
        })?;
    Ok(flat.chunks(n.max(1)).map(<[f32]>::to_vec).collect())
}
