//! The error of the `sim-world` library.

/// Why a world cannot be built or a run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("--trucks must be at least 1")]
    NoTrucks,
    #[error("the site has room to start {capacity} trucks, {asked} asked")]
    TooManyTrucks { capacity: usize, asked: usize },
    #[error("cannot build the network: {0}")]
    Network(String),
    /// A configuration value is out of range; the text names the field and the reason.
    #[error("{0}")]
    Config(String),
    /// Writing an output failed; the text names the file.
    #[error("{0}")]
    Output(String),
}
