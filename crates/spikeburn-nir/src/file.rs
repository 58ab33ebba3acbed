//! NIR's HDF5 files, laid out as the Python `nir` package (1.0.8) reads and
//! writes them: a root string dataset `version` and a group `node` holding
//! the graph (`type` = "NIRGraph", a group `nodes` with one group per node,
//! a 2-D string dataset `edges`). Every node group has a `type` string and
//! its parameters as datasets; arrays are written as gzip-compressed `f32`
//! (shapes as `i64`), and read from any float or integer type.
//!
//! Behind the `hdf5` feature (libhdf5 through `hdf5-metno`); without it
//! [`read`] and [`write`] return [`NirError::NoHdf5`]. Why the C library:
//! a reader of h5py's NIR files needs gzip-compressed chunked datasets,
//! variable-length UTF-8 strings (scalars and the 2-D `edges`) and nested
//! groups. Of the pure-Rust crates, `hdf5-rust` 2.0 reads chunked data only
//! uncompressed; `hdf5-pure` and `rustyhdf5` claim more, but are young and
//! unverified against h5py — libhdf5 is the format's reference
//! implementation, one `apt-get install libhdf5-dev` away, and keeps the
//! default build free of it behind the feature.

use std::path::Path;

use crate::error::{NirError, Result};
use crate::graph::Graph;

/// Reads a NIR file.
pub fn read(path: &Path) -> Result<Graph> {
    imp::read(path)
}

/// Writes `graph` (validated first) to a NIR file, replacing it
/// atomically (written to a temporary file, then renamed).
pub fn write(path: &Path, graph: &Graph) -> Result<()> {
    graph.validate()?;
    let tmp = path.with_extension("nir.tmp");
    imp::write(&tmp, graph)?;
    std::fs::rename(&tmp, path).map_err(|source| NirError::Io {
        action: "rename into place",
        path: path.display().to_string(),
        source,
    })
}

/// Whether this build can read and write NIR files.
pub const AVAILABLE: bool = cfg!(feature = "hdf5");

#[cfg(not(feature = "hdf5"))]
mod imp {
    use super::*;

    pub fn read(_: &Path) -> Result<Graph> {
        Err(NirError::NoHdf5)
    }

    pub fn write(_: &Path, _: &Graph) -> Result<()> {
        Err(NirError::NoHdf5)
    }
}

#[cfg(feature = "hdf5")]
mod imp {
    use std::str::FromStr;

    use hdf5::types::{TypeDescriptor, VarLenUnicode};

    use super::*;
    use crate::graph::{Array, NIR_VERSION, Node, SUPPORTED};

    fn h5(e: hdf5::Error) -> NirError {
        NirError::Hdf5(e.to_string())
    }

    fn not_nir(path: &Path, problem: impl Into<String>) -> NirError {
        NirError::NotNir {
            path: path.display().to_string(),
            problem: problem.into(),
        }
    }

    /// A string dataset, whatever string type h5py or another writer chose.
    fn string(ds: &hdf5::Dataset) -> std::result::Result<String, String> {
        let dtype = ds
            .dtype()
            .and_then(|d| d.to_descriptor())
            .map_err(|e| e.to_string())?;
        let values = strings(ds, &dtype)?;
        match values.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(format!("a single string, found {} values", values.len())),
        }
    }

    fn strings(
        ds: &hdf5::Dataset,
        dtype: &TypeDescriptor,
    ) -> std::result::Result<Vec<String>, String> {
        use hdf5::types::{FixedAscii, FixedUnicode, VarLenAscii};
        let e = |e: hdf5::Error| e.to_string();
        Ok(match dtype {
            TypeDescriptor::VarLenUnicode => ds
                .read_raw::<VarLenUnicode>()
                .map_err(e)?
                .into_iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            TypeDescriptor::VarLenAscii => ds
                .read_raw::<VarLenAscii>()
                .map_err(e)?
                .into_iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n) if *n <= 256 => {
                // Read as raw bytes of the fixed width, NUL-padded.
                let bytes = ds.read_raw::<FixedAscii<256>>();
                match bytes {
                    Ok(v) => v.into_iter().map(|s| s.as_str().to_string()).collect(),
                    Err(_) => ds
                        .read_raw::<FixedUnicode<256>>()
                        .map_err(e)?
                        .into_iter()
                        .map(|s| s.as_str().to_string())
                        .collect(),
                }
            }
            other => return Err(format!("a string, found {other:?}")),
        })
    }

    fn array(node: &str, group: &hdf5::Group, key: &str) -> Result<Array> {
        let ds = group
            .dataset(key)
            .map_err(|_| NirError::node(node, format!("missing `{key}`")))?;
        let data = ds
            .read_raw::<f64>()
            .map_err(|e| NirError::node(node, format!("`{key}` is not numeric: {e}")))?;
        let shape = ds.shape();
        Ok(Array { shape, data })
    }

    fn shape(node: &str, group: &hdf5::Group) -> Result<Vec<usize>> {
        let a = array(node, group, "shape")?;
        a.data
            .iter()
            .map(|&v| {
                if v >= 0.0 && v.fract() == 0.0 {
                    Ok(v as usize)
                } else {
                    Err(NirError::node(
                        node,
                        format!("shape entry {v} is not a size"),
                    ))
                }
            })
            .collect()
    }

    /// `v_reset` is optional in NIR (zeros when absent).
    fn reset(node: &str, group: &hdf5::Group, threshold: &Array) -> Result<Array> {
        if group.link_exists("v_reset") {
            array(node, group, "v_reset")
        } else {
            Ok(Array {
                shape: threshold.shape.clone(),
                data: vec![0.0; threshold.len()],
            })
        }
    }

    fn read_node(name: &str, group: &hdf5::Group) -> Result<Node> {
        let kind = group
            .dataset("type")
            .map_err(|_| NirError::node(name, "missing `type`"))
            .and_then(|ds| string(&ds).map_err(|p| NirError::node(name, format!("`type`: {p}"))))?;
        let a = |key| array(name, group, key);
        Ok(match kind.as_str() {
            "Input" => Node::Input {
                shape: shape(name, group)?,
            },
            "Output" => Node::Output {
                shape: shape(name, group)?,
            },
            "Affine" => Node::Affine {
                weight: a("weight")?,
                bias: a("bias")?,
            },
            "Linear" => Node::Linear {
                weight: a("weight")?,
            },
            "Scale" => Node::Scale { scale: a("scale")? },
            "LI" => Node::Li {
                tau: a("tau")?,
                r: a("r")?,
                v_leak: a("v_leak")?,
            },
            "LIF" => {
                let v_threshold = a("v_threshold")?;
                Node::Lif {
                    tau: a("tau")?,
                    r: a("r")?,
                    v_leak: a("v_leak")?,
                    v_reset: reset(name, group, &v_threshold)?,
                    v_threshold,
                }
            }
            "CubaLI" => Node::CubaLI {
                tau_syn: a("tau_syn")?,
                tau_mem: a("tau_mem")?,
                r: a("r")?,
                v_leak: a("v_leak")?,
                w_in: a("w_in")?,
            },
            "CubaLIF" => {
                let v_threshold = a("v_threshold")?;
                Node::CubaLif {
                    tau_syn: a("tau_syn")?,
                    tau_mem: a("tau_mem")?,
                    r: a("r")?,
                    v_leak: a("v_leak")?,
                    v_reset: reset(name, group, &v_threshold)?,
                    v_threshold,
                    w_in: a("w_in")?,
                }
            }
            other => {
                return Err(NirError::UnknownNode {
                    node: name.to_string(),
                    kind: other.to_string(),
                    supported: SUPPORTED,
                });
            }
        })
    }

    pub fn read(path: &Path) -> Result<Graph> {
        if !path.is_file() {
            return Err(NirError::Io {
                action: "open",
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let file = hdf5::File::open(path).map_err(|e| not_nir(path, format!("not HDF5 ({e})")))?;
        let version = file
            .dataset("version")
            .map_err(|_| not_nir(path, "no `version` dataset"))?;
        string(&version).map_err(|p| not_nir(path, format!("`version`: {p}")))?;
        let root = file
            .group("node")
            .map_err(|_| not_nir(path, "no `node` group"))?;
        let kind = root
            .dataset("type")
            .map_err(|_| not_nir(path, "`node` has no `type`"))
            .and_then(|ds| string(&ds).map_err(|p| not_nir(path, p)))?;
        if kind != "NIRGraph" {
            return Err(not_nir(
                path,
                format!("the root node is a `{kind}`, not a NIRGraph"),
            ));
        }
        let nodes = root
            .group("nodes")
            .map_err(|_| NirError::node("/", "missing `nodes`"))?;
        let mut graph = Graph::default();
        for name in nodes.member_names().map_err(h5)? {
            let group = nodes
                .group(&name)
                .map_err(|_| NirError::node(&name, "is not a group"))?;
            let kind = group.dataset("type").ok().and_then(|ds| string(&ds).ok());
            if kind.as_deref() == Some("NIRGraph") {
                return Err(NirError::UnknownNode {
                    node: name,
                    kind: "NIRGraph (a nested subgraph)".into(),
                    supported: SUPPORTED,
                });
            }
            graph.nodes.insert(name.clone(), read_node(&name, &group)?);
        }
        let edges = root
            .dataset("edges")
            .map_err(|_| NirError::node("/", "missing `edges`"))?;
        let shape = edges.shape();
        let n = shape.iter().product::<usize>();
        if n > 0 {
            if shape.len() != 2 || shape[1] != 2 {
                return Err(NirError::Shape {
                    node: "/".into(),
                    what: "edges".into(),
                    expected: "[edges, 2] (source, destination)".into(),
                    got: shape,
                });
            }
            let dtype = edges.dtype().and_then(|d| d.to_descriptor()).map_err(h5)?;
            let names = strings(&edges, &dtype)
                .map_err(|p| NirError::node("/", format!("`edges`: {p}")))?;
            graph.edges = names
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
        }
        graph.validate()?;
        Ok(graph)
    }

    fn put_string(group: &hdf5::Group, key: &str, value: &str) -> Result<()> {
        let s = VarLenUnicode::from_str(value).map_err(|e| NirError::Hdf5(e.to_string()))?;
        group
            .new_dataset::<VarLenUnicode>()
            .create(key)
            .and_then(|ds| ds.write_scalar(&s))
            .map_err(h5)
    }

    fn put_array(group: &hdf5::Group, key: &str, a: &Array) -> Result<()> {
        let data: Vec<f32> = a.data.iter().map(|&v| v as f32).collect();
        let ds = group
            .new_dataset::<f32>()
            .shape(a.shape.clone())
            .chunk(a.shape.clone())
            .deflate(4)
            .create(key)
            .map_err(h5)?;
        ds.write_raw(&data).map_err(h5)
    }

    fn put_shape(group: &hdf5::Group, shape: &[usize]) -> Result<()> {
        let data: Vec<i64> = shape.iter().map(|&v| v as i64).collect();
        let ds = group
            .new_dataset::<i64>()
            .shape(vec![data.len()])
            .create("shape")
            .map_err(h5)?;
        ds.write_raw(&data).map_err(h5)
    }

    pub fn write(path: &Path, graph: &Graph) -> Result<()> {
        let file = hdf5::File::create(path).map_err(h5)?;
        put_string(&file, "version", NIR_VERSION)?;
        let root = file.create_group("node").map_err(h5)?;
        put_string(&root, "type", "NIRGraph")?;
        let nodes = root.create_group("nodes").map_err(h5)?;
        for (name, node) in &graph.nodes {
            let g = nodes.create_group(name).map_err(h5)?;
            put_string(&g, "type", node.kind())?;
            match node {
                Node::Input { shape } | Node::Output { shape } => put_shape(&g, shape)?,
                _ => {
                    for (key, a) in node.params() {
                        put_array(&g, key, a)?;
                    }
                }
            }
        }
        let flat: Vec<VarLenUnicode> = graph
            .edges
            .iter()
            .flat_map(|(a, b)| [a, b])
            .map(|s| VarLenUnicode::from_str(s).map_err(|e| NirError::Hdf5(e.to_string())))
            .collect::<Result<_>>()?;
        let ds = root
            .new_dataset::<VarLenUnicode>()
            .shape(vec![graph.edges.len(), 2])
            .create("edges")
            .map_err(h5)?;
        ds.write_raw(&flat).map_err(h5)?;
        file.close().map_err(h5)
    }
}
