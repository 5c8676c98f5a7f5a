//! Simulated NPU runtime modelled on Huawei Ascend and its CANN stack.
//!
//! This crate will hold the graph IR, the ONNX importer, the compiler passes (what ATC does),
//! the per-device cost model, the executor on `ndarray`, the AscendCL-like runtime API and the
//! profiler. It depends on no other crate of the workspace. (Work tracked by the NPU issue.)
