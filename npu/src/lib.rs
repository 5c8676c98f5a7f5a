//! Simulated NPU runtime modelled on Huawei Ascend and its CANN stack.
//!
//! The crate holds the graph IR, the ONNX importer and writer, the compiler passes (what ATC
//! does), the per-device cost model, the executor on `ndarray`, the AscendCL-like runtime API
//! and the profiler. It depends on no other crate of the workspace.
//!
//! # Assumptions and limits
//!
//! * Numbers are real: every op is computed in f32 on the host (fp16 is emulated by rounding
//!   each result to the nearest half; int8 Conv/Gemm use i8×i8→i32 GEMMs whose exact integer
//!   result is obtained on the f32 SIMD GEMM in blocks of at most 1024 products, where every
//!   partial sum is an exactly representable integer).
//! * Deterministic: no threads, fixed loop orders; on one machine the same input always gives
//!   bit-identical output (the GEMM backend picks its SIMD path per CPU, so bits may differ
//!   between CPUs within f32 rounding).
//! * Timing is an analytical, structure-faithful model of an Ascend-class AI core (cube unit,
//!   vector unit, local buffers, memory bandwidth, launch overhead). It is **not**
//!   cycle-accurate; the device figures in `profiles/` marked unverified are estimates.
//! * Simulated time is integer microseconds passed in by the caller; the wall clock is never
//!   read.
//!
//! # Example
//!
//! Compile a model for an onboard Ascend 310, load it and run one request submitted at
//! t = 1000 µs:
//!
//! ```
//! use std::collections::BTreeMap;
//! use npu::compiler::{compile, CompileOptions};
//! use npu::device::DeviceProfile;
//! use npu::runtime::Runtime;
//! use npu::zoo;
//!
//! let profile = DeviceProfile::builtin("ascend310")?;
//! let opts = CompileOptions { gears: vec![1, 4], ..Default::default() };
//! let model = compile(&zoo::small_cnn(1)?, &profile, &opts)?;
//! let bytes = npu::om::to_bytes(&model)?; // the compiled-model file
//!
//! let mut rt = Runtime::new();
//! let dev = rt.set_device(profile);
//! let ctx = rt.create_context(dev)?;
//! let id = rt.load_model_from_bytes(ctx, &bytes)?;
//! let request = BTreeMap::from([("image".to_string(), zoo::synthetic_images(7, 1, 32, 32))]);
//! let done = rt.execute(ctx, id, &[request], 1_000)?;
//! assert_eq!(done.start_us, 1_000);
//! assert_eq!(done.end_us - done.start_us, rt.model_latency_us(id, 1)?);
//! assert_eq!(done.outputs[0].values().next().map(|t| t.shape().to_vec()), Some(vec![1, 10]));
//! # Ok::<(), npu::NpuError>(())
//! ```

pub mod builder;
pub mod compiler;
pub mod cost;
pub mod device;
pub mod error;
pub mod exec;
pub mod f16;
pub mod ir;
pub mod npy;
pub mod om;
pub mod onnx;
pub mod ops;
pub mod profiler;
pub mod runtime;
pub mod zoo;

pub use error::{NpuError, Result};
pub use ir::{DType, Graph, Node, Op, Tensor, TensorInfo};
