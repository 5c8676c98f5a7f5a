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
}
