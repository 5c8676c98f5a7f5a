//! ONNX support without protoc: a hand-written wire decoder/encoder, the importer and the
//! writer.

pub mod export;
pub mod import;
pub mod wire;

pub use export::export_onnx;
pub use import::import_onnx;
