//! The crate's single error type.

/// Every failure of the crate: loading files, compiling, running.
#[derive(Debug, thiserror::Error)]
pub enum NpuError {
    /// The input ended before a complete structure was read.
    #[error("truncated {what}: {detail}")]
    Truncated {
        /// Which kind of file or structure.
        what: &'static str,
        /// Where it ended.
        detail: String,
    },
    /// The input is structurally wrong (bad magic, bad wire type, bad field).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which kind of file or structure.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An operator this runtime does not implement.
    #[error("unsupported op `{op_type}` in node `{node}`")]
    UnsupportedOp {
        /// ONNX op type (with domain when not the default one).
        op_type: String,
        /// Node name.
        node: String,
    },
    /// A supported op used with an attribute value or data type we do not implement.
    #[error("unsupported feature in node `{node}`: {detail}")]
    Unsupported {
        /// Node name (or the file part).
        node: String,
        /// What is unsupported.
        detail: String,
    },
    /// Shapes that do not fit together.
    #[error("shape mismatch in `{node}`: {detail}")]
    ShapeMismatch {
        /// Node or input name.
        node: String,
        /// What does not fit.
        detail: String,
    },
    /// Data types that do not fit together.
    #[error("dtype mismatch in `{node}`: {detail}")]
    DTypeMismatch {
        /// Node or input name.
        node: String,
        /// What does not fit.
        detail: String,
    },
    /// A graph that is not well formed (dangling value, cycle, duplicate name).
    #[error("invalid graph: {0}")]
    InvalidGraph(String),
    /// The compiled model does not fit in the device memory.
    #[error("model needs {needed} bytes (weights + activations at batch {batch}) but device `{device}` has {available} bytes")]
    OutOfMemory {
        /// Device profile name.
        device: String,
        /// Bytes required.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// Batch gear at which it was planned.
        batch: usize,
    },
    /// A compiled model loaded for a device profile it was not compiled for.
    #[error("compiled model targets device `{model_device}` but was loaded for `{device}`; recompile it with `--device {device}`")]
    DeviceMismatch {
        /// The profile the model was compiled for.
        model_device: String,
        /// The profile requested.
        device: String,
    },
    /// A batch larger than every compiled gear.
    #[error("batch {requested} exceeds the largest compiled batch gear {max}")]
    NoGear {
        /// Requested batch.
        requested: usize,
        /// Largest gear.
        max: usize,
    },
    /// A bad or unknown device profile.
    #[error("device profile: {0}")]
    Profile(String),
    /// Misuse of the runtime API (unknown handle, wrong stream, ...).
    #[error("runtime: {0}")]
    Runtime(String),
    /// Calibration or quantisation problem.
    #[error("calibration: {0}")]
    Calibration(String),
    /// Bad `.npy` file.
    #[error("npy: {0}")]
    Npy(String),
    /// Operating-system I/O error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// Path involved.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, NpuError>;

impl NpuError {
    /// Helper to build a shape mismatch.
    pub fn shape(node: &str, detail: impl Into<String>) -> Self {
        NpuError::ShapeMismatch {
            node: node.to_string(),
            detail: detail.into(),
        }
    }
    /// Helper to build an unsupported-feature error.
    pub fn unsupported(node: &str, detail: impl Into<String>) -> Self {
        NpuError::Unsupported {
            node: node.to_string(),
            detail: detail.into(),
        }
    }
    /// Helper to build an I/O error carrying the path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        NpuError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
