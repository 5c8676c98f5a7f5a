//! The obstacle detector: a small CenterPoint-style CNN over the BEV grid, imported from ONNX,
//! compiled by `npu` for the truck's device profile and run by the `npu` executor.
//!
//! The model contract (what `perception/train/train.py` writes):
//! - input `bev`, `f32 [N, C, H, W]` with the grid of [`BevSpec`] (batch dimension dynamic);
//! - output `heatmap`, `[N, classes, H/2, W/2]` after a sigmoid, one channel per
//!   [`ObstacleClass`] in [`ObstacleClass::ALL`] order;
//! - output `boxes`, `[N, 4, H/2, W/2]`: the centre's offset within its output cell along `x`
//!   and `y` (0–1), then `ln(length)` and `ln(width)` of the footprint.
//!
//! Output cell `(iy, ix)` covers `x ∈ [x_min + s·ix, x_min + s·(ix + 1))` with `s = 2·cell`.
//! Decoding (max-class): a cell scores its best class; a cell that is the maximum of its 3×3
//! neighbourhood and scores at least the threshold is a detection of that class.
//!
//! Numerics run batched across trucks (one executor call for every truck that has a frame
//! ready); the simulated latency is the cost model's for one frame on the truck's own device
//! ([`Detector::latency_us`]): every truck carries its own NPU.

use crate::bev::BevSpec;
use crate::types::{Detection, ObstacleClass};
use npu::compiler::{compile, CompileOptions, CompiledModel};
use npu::device::DeviceProfile;
use npu::ir::{Dim, Precision};
use npu::Tensor;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Output stride of the model, input cells per output cell.
pub const STRIDE: usize = 2;
/// Score threshold of a detection, default (chosen on held-out simulator data: see
/// `assets/models/README.md`).
pub const THRESHOLD: f32 = 0.35;
/// Margin around a kept detection's footprint within which weaker peaks are dropped, m.
pub const NMS_GROW_M: f32 = 0.5;
/// Gears (batch sizes) the numerics are compiled for.
pub const GEARS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// Why a model could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error("{path}: cannot read the model: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: not a valid ONNX model: {reason}")]
    Import { path: PathBuf, reason: String },
    #[error("{path}: wrong model shape: {reason}")]
    Shape { path: PathBuf, reason: String },
    #[error("{path}: cannot compile for {device}: {reason}")]
    Compile {
        path: PathBuf,
        device: String,
        reason: String,
    },
    #[error("detector inference failed: {0}")]
    Run(String),
}

/// A compiled detector.
#[derive(Clone, Debug)]
pub struct Detector {
    pub path: PathBuf,
    pub spec: BevSpec,
    pub model: CompiledModel,
    pub profile: DeviceProfile,
    pub precision: Precision,
    pub threshold: f32,
    latency_us: u64,
    flops: u64,
}

impl Detector {
    /// Reads, checks and compiles the ONNX model at `path` for `profile` at `precision`
    /// (INT8 calibrates on `calibration`, grids of `spec`).
    pub fn load(
        path: &Path,
        spec: BevSpec,
        profile: DeviceProfile,
        precision: Precision,
        calibration: &[Vec<f32>],
    ) -> Result<Detector, DetectorError> {
        let bytes = std::fs::read(path).map_err(|e| DetectorError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_onnx(path, &bytes, spec, profile, precision, calibration)
    }

    /// Like [`Detector::load`] from the file's bytes (`path` only names it in errors).
    pub fn from_onnx(
        path: &Path,
        bytes: &[u8],
        spec: BevSpec,
        profile: DeviceProfile,
        precision: Precision,
        calibration: &[Vec<f32>],
    ) -> Result<Detector, DetectorError> {
        let graph = npu::onnx::import::import_onnx(bytes).map_err(|e| DetectorError::Import {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let shape_err = |reason: String| DetectorError::Shape {
            path: path.to_path_buf(),
            reason,
        };
        let [c, h, w] = spec.shape();
        let input = graph
            .inputs
            .iter()
            .find(|i| i.name == "bev")
            .ok_or_else(|| shape_err("no input named `bev`".into()))?;
        let dims: Vec<Option<usize>> = input
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(v) => Some(*v),
                Dim::Dynamic(_) => None,
            })
            .collect();
        if dims.len() != 4 || dims[0].is_some() || dims[1..] != [Some(c), Some(h), Some(w)] {
            return Err(shape_err(format!(
                "input `bev` must be [N, {c}, {h}, {w}] with a dynamic batch, found {:?}",
                input.shape
            )));
        }
        for name in ["heatmap", "boxes"] {
            if !graph.outputs.iter().any(|o| o.name == name) {
                return Err(shape_err(format!("no output named `{name}`")));
            }
        }
        let n_calib = calibration.len().min(64);
        let mut calib = Vec::with_capacity(n_calib);
        for g in calibration.iter().take(n_calib) {
            calib.push(one_input(&spec, &[g.as_slice()]).map_err(DetectorError::Run)?);
        }
        let opts = CompileOptions {
            precision,
            gears: GEARS.to_vec(),
            calibration: calib,
            ..Default::default()
        };
        let compile_err = |e: npu::NpuError| DetectorError::Compile {
            path: path.to_path_buf(),
            device: profile.name.clone(),
            reason: e.to_string(),
        };
        let model = compile(&graph, &profile, &opts).map_err(compile_err)?;
        let latency_us = model.latency_us(1, &profile).map_err(compile_err)?;
        let flops = model.flops(1, &profile).map_err(compile_err)?;
        let det = Detector {
            path: path.to_path_buf(),
            spec,
            model,
            profile,
            precision,
            threshold: THRESHOLD,
            latency_us,
            flops,
        };
        // One run on an empty grid proves the output shapes before any truck relies on them.
        let empty = vec![0.0; spec.len()];
        det.infer(&[empty.as_slice()]).map_err(|e| match e {
            DetectorError::Run(r) => shape_err(r),
            other => other,
        })?;
        Ok(det)
    }

    /// Simulated latency of one frame on the truck's device, µs.
    pub fn latency_us(&self) -> u64 {
        self.latency_us
    }

    /// FLOPs of one frame.
    pub fn flops(&self) -> u64 {
        self.flops
    }

    /// Runs the model on every grid (one batched execution per chunk of the largest gear) and
    /// decodes each.
    pub fn infer(&self, grids: &[&[f32]]) -> Result<Vec<Vec<Detection>>, DetectorError> {
        let mut out = Vec::with_capacity(grids.len());
        let max = GEARS[GEARS.len() - 1];
        for chunk in grids.chunks(max) {
            let req = one_input(&self.spec, chunk).map_err(DetectorError::Run)?;
            let res = self
                .model
                .run(&req)
                .map_err(|e| DetectorError::Run(e.to_string()))?;
            let get = |name: &str| -> Result<Vec<f32>, DetectorError> {
                let t = res
                    .get(name)
                    .ok_or_else(|| DetectorError::Run(format!("no output `{name}`")))?;
                let a = t
                    .as_f32(name)
                    .map_err(|e| DetectorError::Run(format!("output `{name}`: {e}")))?;
                Ok(a.iter().copied().collect())
            };
            let (hm, bx) = (get("heatmap")?, get("boxes")?);
            let (oh, ow) = (self.spec.h / STRIDE, self.spec.w / STRIDE);
            let classes = ObstacleClass::ALL.len();
            let (hm_n, bx_n) = (classes * oh * ow, 4 * oh * ow);
            if hm.len() != chunk.len() * hm_n || bx.len() != chunk.len() * bx_n {
                return Err(DetectorError::Run(format!(
                    "outputs must be heatmap [N, {classes}, {oh}, {ow}] and boxes [N, 4, {oh}, {ow}], got {} and {} values for N = {}",
                    hm.len(),
                    bx.len(),
                    chunk.len()
                )));
            }
            for k in 0..chunk.len() {
                out.push(decode(
                    &self.spec,
                    &hm[k * hm_n..(k + 1) * hm_n],
                    &bx[k * bx_n..(k + 1) * bx_n],
                    self.threshold,
                ));
            }
        }
        Ok(out)
    }
}

/// The grids as one `bev` input of batch `grids.len()`.
fn one_input(spec: &BevSpec, grids: &[&[f32]]) -> Result<BTreeMap<String, Tensor>, String> {
    let [c, h, w] = spec.shape();
    let mut data = Vec::with_capacity(grids.len() * spec.len());
    for g in grids {
        if g.len() != spec.len() {
            return Err(format!(
                "a grid has {} values, the model takes {}",
                g.len(),
                spec.len()
            ));
        }
        data.extend_from_slice(g);
    }
    let t = Tensor::from_f32(&[grids.len(), c, h, w], data).map_err(|e| e.to_string())?;
    Ok(BTreeMap::from([("bev".to_string(), t)]))
}

/// Decodes one frame's outputs (`heatmap [classes, oh, ow]`, `boxes [4, oh, ow]`).
pub fn decode(spec: &BevSpec, heatmap: &[f32], boxes: &[f32], threshold: f32) -> Vec<Detection> {
    let (oh, ow) = (spec.h / STRIDE, spec.w / STRIDE);
    let plane = oh * ow;
    let s = spec.cell * STRIDE as f32;
    let mut out = Vec::new();
    // Max-class decoding: the cell's score is its best class; a peak is a cell whose score
    // is the maximum of its 3×3 neighbourhood (ties survive) and reaches the threshold.
    let mut score = vec![0.0f32; plane];
    let mut class = vec![0usize; plane];
    for (k, (sc, cl)) in score.iter_mut().zip(class.iter_mut()).enumerate() {
        for c in 0..ObstacleClass::ALL.len() {
            let v = heatmap[c * plane + k];
            if v > *sc {
                *sc = v;
                *cl = c;
            }
        }
    }
    for iy in 0..oh {
        for ix in 0..ow {
            let v = score[iy * ow + ix];
            if v.is_nan() || v < threshold {
                continue;
            }
            let mut peak = true;
            'n: for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    let (y, x) = (iy as i32 + dy, ix as i32 + dx);
                    if y < 0 || x < 0 || y >= oh as i32 || x >= ow as i32 {
                        continue;
                    }
                    if score[y as usize * ow + x as usize] > v {
                        peak = false;
                        break 'n;
                    }
                }
            }
            let best = peak.then_some((v, class[iy * ow + ix]));
            let Some((conf, c)) = best else { continue };
            let at = |k: usize| boxes[k * plane + iy * ow + ix];
            let (ox, oy) = (at(0).clamp(0.0, 1.0), at(1).clamp(0.0, 1.0));
            let (ll, lw) = (at(2).clamp(-3.0, 3.5), at(3).clamp(-3.0, 3.5));
            out.push(Detection {
                class: ObstacleClass::ALL[c],
                x: spec.x_min + s * (ix as f32 + ox),
                y: spec.y_min + s * (iy as f32 + oy),
                length: ll.exp(),
                width: lw.exp(),
                confidence: conf,
            });
        }
    }
    suppress_inside(out)
}

/// Box suppression after peak picking: a detection whose centre lies inside the footprint
/// (grown by [`NMS_GROW_M`]) of a more confident one is the same object (a haul truck is
/// several output cells long and can show two peaks).
fn suppress_inside(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        let inside = kept.iter().any(|k| {
            (d.x - k.x).abs() <= 0.5 * k.length + NMS_GROW_M
                && (d.y - k.y).abs() <= 0.5 * k.width + NMS_GROW_M
        });
        if !inside {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_finds_peaks_and_places_them() {
        let spec = BevSpec::default();
        let (oh, ow) = (spec.h / 2, spec.w / 2);
        let plane = oh * ow;
        let mut hm = vec![0.0f32; 4 * plane];
        let mut bx = vec![0.0f32; 4 * plane];
        // A rock peak at (iy 16, ix 10) with a weaker neighbour, and a sub-threshold blip.
        hm[16 * ow + 10] = 0.9;
        hm[16 * ow + 11] = 0.6;
        hm[plane + 3 * ow + 3] = 0.2;
        bx[16 * ow + 10] = 0.25;
        bx[plane + 16 * ow + 10] = 0.5;
        bx[2 * plane + 16 * ow + 10] = 2.0f32.ln();
        bx[3 * plane + 16 * ow + 10] = 1.0f32.ln();
        let d = decode(&spec, &hm, &bx, 0.3);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].class, ObstacleClass::Rock);
        assert!((d[0].x - (-8.0 + 2.0 * 10.25)).abs() < 1e-5);
        assert!((d[0].y - (-32.0 + 2.0 * 16.5)).abs() < 1e-5);
        assert!((d[0].length - 2.0).abs() < 1e-5 && (d[0].width - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_bad_file_is_named_with_its_reason() {
        let spec = BevSpec::default();
        let p = Path::new("/nonexistent/detector.onnx");
        let prof = DeviceProfile::builtin("ascend310").expect("builtin");
        let e = Detector::load(p, spec, prof.clone(), Precision::Fp16, &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/detector.onnx: cannot read"),
            "{e}"
        );
        let e = Detector::from_onnx(
            p,
            b"\x08\x07garbage",
            spec,
            prof.clone(),
            Precision::Fp16,
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, DetectorError::Import { .. }), "{e}");
        // A real model of the wrong shape (the zoo's CNN takes images).
        let g = npu::zoo::small_cnn(1).expect("zoo");
        let bytes = npu::onnx::export::export_onnx(&g).expect("export");
        let e = Detector::from_onnx(p, &bytes, spec, prof, Precision::Fp16, &[]).unwrap_err();
        assert!(matches!(e, DetectorError::Shape { .. }), "{e}");
    }
}
