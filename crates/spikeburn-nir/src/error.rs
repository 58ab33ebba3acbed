//! Typed errors of NIR export, import and file I/O.

use thiserror::Error;

/// What can go wrong between spikeburn and a NIR graph.
#[derive(Debug, Error)]
pub enum NirError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a NIR file HDF5 can read (truncated, not HDF5, or
    /// missing NIR's `version` and `node` entries).
    #[error("{path} is not a readable NIR file: {problem}")]
    NotNir {
        /// The file.
        path: String,
        /// What was wrong.
        problem: String,
    },
    /// A node lacks an entry or holds one of the wrong kind.
    #[error("NIR node `{node}`: {problem}")]
    Node {
        /// The node's name (`/` for the graph itself).
        node: String,
        /// What was wrong.
        problem: String,
    },
    /// A node type this crate does not run or write.
    #[error(
        "NIR node `{node}` has type `{kind}`, which spikeburn does not support (supported: {supported})"
    )]
    UnknownNode {
        /// The node's name.
        node: String,
        /// Its NIR type.
        kind: String,
        /// The supported types.
        supported: &'static str,
    },
    /// Array shapes that do not fit together.
    #[error("NIR node `{node}`: {what} has shape {got:?}, expected {expected}")]
    Shape {
        /// The node's name.
        node: String,
        /// Which array or connection.
        what: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: Vec<usize>,
    },
    /// An edge names a node that does not exist.
    #[error("NIR edge {from} -> {to}: no node named `{missing}`")]
    Edge {
        /// Source.
        from: String,
        /// Destination.
        to: String,
        /// The missing one.
        missing: String,
    },
    /// A graph without an `Input` node (or whose nodes cannot be reached
    /// from one).
    #[error("NIR graph: {0}")]
    Graph(String),
    /// A spikeburn layer NIR cannot express.
    #[error("cannot export `{layer}` to NIR: {why}")]
    Unsupported {
        /// The layer.
        layer: String,
        /// Why not, and what would work.
        why: String,
    },
    /// A run parameter (time step, input) out of range.
    #[error("{name} = {value}: expected {expected}")]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The HDF5 library reported an error.
    #[error("HDF5: {0}")]
    Hdf5(String),
    /// Built without the `hdf5` feature.
    #[error(
        "spikeburn was built without NIR file support: rebuild with the `nir` feature (`cargo build --release -p spikeburn-cli --features nir`, needs libhdf5: `apt-get install libhdf5-dev`)"
    )]
    NoHdf5,
    /// A core layer refused its parameters.
    #[error(transparent)]
    Core(#[from] spikeburn_core::SpikeburnError),
}

impl NirError {
    pub(crate) fn node(node: &str, problem: impl Into<String>) -> Self {
        Self::Node {
            node: node.to_string(),
            problem: problem.into(),
        }
    }

    pub(crate) fn unsupported(layer: &str, why: impl Into<String>) -> Self {
        Self::Unsupported {
            layer: layer.to_string(),
            why: why.into(),
        }
    }
}

/// Result with [`NirError`].
pub type Result<T> = std::result::Result<T, NirError>;
