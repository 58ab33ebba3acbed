//! Choosing the Burn device from `--backend` (or `BURN_DEVICE`).

use burn::prelude::*;

/// Backends this binary was built with.
pub fn available() -> Vec<&'static str> {
    let mut v = vec![];
    if cfg!(feature = "flex") {
        v.push("flex");
    }
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

/// The device for `name`, or Burn's default (which honours `BURN_DEVICE`)
/// when no name is given. Returns the device and the backend's name.
pub fn select(name: Option<&str>) -> Result<(Device, String), String> {
    let name = match name {
        Some(n) => n.to_lowercase(),
        None => match std::env::var("BURN_DEVICE") {
            Ok(n) => n.to_lowercase(),
            Err(_) => available()
                .first()
                .copied()
                .unwrap_or("default")
                .to_string(),
        },
    };
    let device = match name.as_str() {
        #[cfg(feature = "flex")]
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        other => {
            return Err(format!(
                "backend `{other}` is not available in this build: expected one of {:?} \
                 (build with `--features ndarray` or `--features wgpu` for the others)",
                available()
            ));
        }
    };
    Ok((device, name))
}
