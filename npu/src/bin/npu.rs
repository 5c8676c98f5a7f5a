//! `npu` command line: compile ONNX models for a simulated Ascend device, run compiled models
//! on `.npy` inputs, and inspect compiled models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use npu::compiler::{compile, CalibMethod, CompileOptions, CompiledModel, Sample};
use npu::device::DeviceProfile;
use npu::ir::{Precision, Tensor};
use npu::runtime::Runtime;
use npu::{npy, om, onnx, NpuError, Result};

#[derive(Parser)]
#[command(
    name = "npu",
    version,
    about = "Simulated Ascend-class NPU: compile, run and inspect models"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile an ONNX model into a compiled model file (like ATC).
    Compile {
        /// Input ONNX model.
        model: PathBuf,
        /// Target device profile: ascend310, ascend310p, ascend910b, or a profile .toml file.
        #[arg(long, value_parser = device_arg)]
        device: DeviceProfile,
        /// Precision.
        #[arg(long, value_enum, default_value_t = PrecisionArg::Fp16)]
        precision: PrecisionArg,
        /// Directory of calibration `.npy` files (one sample each; int8 only).
        #[arg(long)]
        calib: Option<PathBuf>,
        /// Calibration method: `minmax` or `percentile:<p>` (e.g. percentile:99.99).
        #[arg(long, default_value = "minmax", value_parser = calib_method_arg)]
        calib_method: CalibMethod,
        /// Directory of evaluation `.npy` files for the int8 accuracy report.
        #[arg(long)]
        eval: Option<PathBuf>,
        /// Batch gears for a dynamic batch, comma separated (e.g. 1,4,8); each at least 1.
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true, value_parser = positive_usize)]
        gears: Vec<usize>,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Run a compiled model on `.npy` inputs.
    Run {
        /// Compiled model file.
        model: PathBuf,
        /// Input `.npy` (`path` for a single-input model, or `name=path`); repeatable.
        #[arg(long, required = true)]
        input: Vec<String>,
        /// Device profile to load the model on (default: the one it was compiled for): a
        /// built-in name or a profile .toml file.
        #[arg(long, value_parser = device_arg)]
        device: Option<DeviceProfile>,
        /// Directory for the outputs (`<output name>.npy`).
        #[arg(long, default_value = ".")]
        output: PathBuf,
        /// Directory for the profile (trace.json, op_summary.csv).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Simulated submission time in microseconds.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = non_negative_u64)]
        submit_us: u64,
    },
    /// Import an ONNX model, compile it (fp32 by default) and run it on `.npy` inputs in one
    /// step, writing `<output name>.npy` files (what the conformance runner calls per case).
    RunOnnx {
        /// Input ONNX model.
        model: PathBuf,
        /// Input `.npy` (`path` for a single-input model, or `name=path`); repeatable.
        #[arg(long)]
        input: Vec<String>,
        /// Target device profile: a built-in name or a profile .toml file.
        #[arg(long, default_value = "ascend310", value_parser = device_arg)]
        device: DeviceProfile,
        /// Precision (int8 needs calibration: use `compile`).
        #[arg(long, value_enum, default_value_t = PrecisionArg::Fp32)]
        precision: PrecisionArg,
        /// Directory for the outputs.
        #[arg(long, default_value = ".")]
        output: PathBuf,
    },
    /// Cost-model latency of an ONNX model on every built-in device profile (fp32, fp16).
    Latency {
        /// Input ONNX model.
        model: PathBuf,
    },
    /// Describe a compiled model: ops, parameters, FLOPs and estimated latency per gear.
    Info {
        /// Compiled model file.
        model: PathBuf,
        /// Estimate for another device profile (default: the one it was compiled for): a
        /// built-in name or a profile .toml file.
        #[arg(long, value_parser = device_arg)]
        device: Option<DeviceProfile>,
    },
}

/// `--precision` values (clap lists them in its error and in `--help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PrecisionArg {
    Fp32,
    Fp16,
    Int8,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::Fp32 => Precision::Fp32,
            PrecisionArg::Fp16 => Precision::Fp16,
            PrecisionArg::Int8 => Precision::Int8,
        }
    }
}

/// A whole number that must not be negative; the message names the value.
fn non_negative_u64(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("`{s}` is negative: the value must be 0 or more"));
    }
    t.parse::<u64>()
        .map_err(|e| format!("`{s}` is not a whole number: {e}"))
}

/// A whole number of at least 1 (a batch gear); the message names the value.
fn positive_usize(s: &str) -> std::result::Result<usize, String> {
    let v = non_negative_u64(s).map_err(|e| e.replace("0 or more", "1 or more"))?;
    if v == 0 {
        return Err(format!("`{s}` is zero: the value must be 1 or more"));
    }
    usize::try_from(v).map_err(|_| format!("`{s}` is too large"))
}

/// `--device`: a built-in profile name, or a profile `.toml` file (any existing file is read
/// as one). A file's errors name the file and the reason; clap names the option.
fn device_arg(spec: &str) -> std::result::Result<DeviceProfile, String> {
    let names = DeviceProfile::builtin_names();
    if names.contains(&spec) {
        return DeviceProfile::builtin(spec).map_err(|e| e.to_string());
    }
    let path = Path::new(spec);
    if spec.ends_with(".toml") || path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("device profile file {spec}: cannot read it: {e}"))?;
        return DeviceProfile::from_toml(&text).map_err(|e| match e {
            NpuError::Profile(m) => format!("device profile file {spec}: {m}"),
            other => format!("device profile file {spec}: {other}"),
        });
    }
    Err(format!(
        "unknown device `{spec}`: expected one of {} or a profile .toml file",
        names.join(", ")
    ))
}

/// The profile a compiled model names, when no `--device` is given (built-in profiles only:
/// a model compiled for a profile file needs that file again).
fn model_profile(name: &str) -> Result<DeviceProfile> {
    if DeviceProfile::builtin_names().contains(&name) {
        return DeviceProfile::builtin(name);
    }
    Err(NpuError::Profile(format!(
        "the model was compiled for `{name}`, which is not a built-in profile: pass its profile file with `--device FILE.toml`"
    )))
}

/// `--calib-method`: `minmax` or `percentile:<p>` with 0 <= p <= 100.
fn calib_method_arg(s: &str) -> std::result::Result<CalibMethod, String> {
    if s == "minmax" {
        return Ok(CalibMethod::MinMax);
    }
    s.strip_prefix("percentile:")
        .and_then(|p| p.parse::<f32>().ok())
        .filter(|p| (0.0..=100.0).contains(p))
        .map(CalibMethod::Percentile)
        .ok_or_else(|| {
            format!("`{s}` is not a calibration method: expected `minmax` or `percentile:<p>` with 0 <= p <= 100 (e.g. percentile:99.99)")
        })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| NpuError::io(path, e))
}

fn npy_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| NpuError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(NpuError::Calibration(format!(
            "no .npy files in {}",
            dir.display()
        )));
    }
    Ok(v)
}

fn samples(dir: &Path, input: &str) -> Result<Vec<Sample>> {
    npy_files(dir)?
        .iter()
        .map(|p| {
            let t = npy::read_npy_file(p)?;
            Ok(BTreeMap::from([(input.to_string(), t)]))
        })
        .collect()
}

fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn cmd_compile(
    model: &Path,
    profile: DeviceProfile,
    precision: PrecisionArg,
    calib: Option<&Path>,
    calib_method: CalibMethod,
    eval: Option<&Path>,
    gears: Vec<usize>,
    output: &Path,
) -> Result<()> {
    let prec = Precision::from(precision);
    let g = onnx::import_onnx(&read(model)?)?;
    let mut opts = CompileOptions {
        precision: prec,
        gears,
        calib_method: Some(calib_method),
        ..Default::default()
    };
    if prec == Precision::Int8 {
        if g.inputs.len() != 1 {
            return Err(NpuError::Calibration(
                "calibration directories need a single-input model".into(),
            ));
        }
        let dir = calib
            .ok_or_else(|| NpuError::Calibration("--precision int8 needs --calib DIR".into()))?;
        opts.calibration = samples(dir, &g.inputs[0].name)?;
        if let Some(e) = eval {
            opts.evaluation = samples(e, &g.inputs[0].name)?;
        }
    }
    let m = compile(&g, &profile, &opts)?;
    let bytes = om::to_bytes(&m)?;
    std::fs::write(output, &bytes).map_err(|e| NpuError::io(output, e))?;
    let r = &m.report;
    println!(
        "compiled `{}` for {} ({:?}), gears {:?}: {} -> {} nodes ({} folded, {} removed, {} BN folded, {} fusions, {} int8)",
        g.name, profile.name, prec, m.gears, r.nodes_before, r.nodes_after, r.folded_constants,
        r.removed_nodes, r.bn_folded, r.fusions, r.quantized_nodes
    );
    if let Some(acc) = &r.accuracy {
        for o in &acc.outputs {
            println!(
                "int8 accuracy vs fp32 on {} samples, output `{}`: max abs {:.5}, mean abs {:.5}, rel L2 {:.5}, cosine {:.6}{}",
                acc.samples, o.name, o.max_abs_err, o.mean_abs_err, o.rel_l2_err, o.cosine,
                o.top1_agreement.map(|t| format!(", top-1 agreement {:.2}%", t * 100.0)).unwrap_or_default()
            );
        }
    }
    println!("wrote {} ({} bytes)", output.display(), bytes.len());
    Ok(())
}

fn load_for(model: &Path, device: Option<DeviceProfile>) -> Result<(CompiledModel, DeviceProfile)> {
    let bytes = read(model)?;
    let m = om::read(&bytes)?;
    let profile = match device {
        Some(p) => p,
        None => model_profile(&m.device)?,
    };
    Ok((om::load(&bytes, &profile)?, profile))
}

fn cmd_run(
    model: &Path,
    inputs: &[String],
    device: Option<DeviceProfile>,
    output: &Path,
    profile_dir: Option<&Path>,
    submit_us: u64,
) -> Result<()> {
    let (m, profile) = load_for(model, device)?;
    let mut sample: BTreeMap<String, Tensor> = BTreeMap::new();
    for spec in inputs {
        let (name, path) = match spec.split_once('=') {
            Some((n, p)) => (n.to_string(), p),
            None => {
                if m.graph.inputs.len() != 1 {
                    return Err(NpuError::ShapeMismatch {
                        node: spec.clone(),
                        detail: "the model has several inputs: use --input name=path".into(),
                    });
                }
                (m.graph.inputs[0].name.clone(), spec.as_str())
            }
        };
        if !m.graph.inputs.iter().any(|i| i.name == name) {
            return Err(NpuError::ShapeMismatch {
                node: name,
                detail: "the model has no such input".into(),
            });
        }
        sample.insert(name, npy::read_npy_file(Path::new(path))?);
    }
    let mut rt = Runtime::new();
    let d = rt.set_device(profile);
    let c = rt.create_context(d)?;
    let id = rt.load_model(c, m)?;
    let r = rt.execute(c, id, std::slice::from_ref(&sample), submit_us)?;
    std::fs::create_dir_all(output).map_err(|e| NpuError::io(output, e))?;
    for (name, t) in r.outputs.first().into_iter().flatten() {
        let p = output.join(format!("{}.npy", safe_name(name)));
        npy::write_npy_file(&p, t)?;
        println!("{} {:?} -> {}", name, t.shape(), p.display());
    }
    println!(
        "gear {}: simulated start {} us, end {} us (latency {} us)",
        r.gear,
        r.start_us,
        r.end_us,
        r.end_us - r.start_us
    );
    if let Some(dir) = profile_dir {
        rt.profiler().write_dir(dir)?;
        println!("profile written to {}", dir.display());
    }
    Ok(())
}

fn read_inputs(names: &[String], inputs: &[String]) -> Result<BTreeMap<String, Tensor>> {
    let mut sample: BTreeMap<String, Tensor> = BTreeMap::new();
    for spec in inputs {
        let (name, path) = match spec.split_once('=') {
            Some((n, p)) => (n.to_string(), p),
            None => {
                if names.len() != 1 {
                    return Err(NpuError::ShapeMismatch {
                        node: spec.clone(),
                        detail: "the model has several inputs: use --input name=path".into(),
                    });
                }
                (names[0].clone(), spec.as_str())
            }
        };
        if !names.contains(&name) {
            return Err(NpuError::ShapeMismatch {
                node: name,
                detail: "the model has no such input".into(),
            });
        }
        sample.insert(name, npy::read_npy_file(Path::new(path))?);
    }
    Ok(sample)
}

fn cmd_run_onnx(
    model: &Path,
    inputs: &[String],
    profile: DeviceProfile,
    precision: PrecisionArg,
    output: &Path,
) -> Result<()> {
    let prec = Precision::from(precision);
    if prec == Precision::Int8 {
        return Err(NpuError::Calibration(
            "run-onnx compiles without calibration: use fp32 or fp16 (or `npu compile --precision int8`)".into(),
        ));
    }
    let g = onnx::import_onnx(&read(model)?)?;
    let names: Vec<String> = g.inputs.iter().map(|i| i.name.clone()).collect();
    let sample = read_inputs(&names, inputs)?;
    let opts = CompileOptions {
        precision: prec,
        ..Default::default()
    };
    let m = compile(&g, &profile, &opts)?;
    let outs = m.run(&sample)?;
    std::fs::create_dir_all(output).map_err(|e| NpuError::io(output, e))?;
    for o in &m.graph.outputs {
        let t = outs
            .get(&o.name)
            .ok_or_else(|| NpuError::Runtime(format!("output `{}` not produced", o.name)))?;
        let p = output.join(format!("{}.npy", safe_name(&o.name)));
        npy::write_npy_file(&p, t)?;
        println!("{} {:?} -> {}", o.name, t.shape(), p.display());
    }
    println!(
        "latency on {}: {} us",
        profile.name,
        m.latency_us(m.gears.first().copied().unwrap_or(1), &profile)?
    );
    Ok(())
}

fn cmd_latency(model: &Path) -> Result<()> {
    let g = onnx::import_onnx(&read(model)?)?;
    println!("| device | precision | kernels | GFLOP | latency (us) |");
    println!("|---|---|---:|---:|---:|");
    for dev in ["ascend310", "ascend310p", "ascend910b"] {
        let profile = DeviceProfile::builtin(dev)?;
        for prec in [Precision::Fp32, Precision::Fp16] {
            let opts = CompileOptions {
                precision: prec,
                ..Default::default()
            };
            let m = compile(&g, &profile, &opts)?;
            let gear = m.gears.first().copied().unwrap_or(1);
            let costs = m.kernel_costs(gear, &profile)?;
            let flops: u64 = costs.iter().map(|k| k.flops).sum();
            println!(
                "| {dev} | {prec:?} | {} | {:.3} | {} |",
                costs.len(),
                flops as f64 / 1e9,
                npu::cost::total_latency_us(&costs)
            );
        }
    }
    Ok(())
}

fn cmd_info(model: &Path, device: Option<DeviceProfile>) -> Result<()> {
    let bytes = read(model)?;
    let m = om::read(&bytes)?;
    let profile = match device {
        Some(p) => p,
        None => model_profile(&m.device)?,
    };
    println!(
        "model `{}` compiled for {} ({:?})",
        m.graph.name, m.device, m.precision
    );
    for i in &m.graph.inputs {
        println!("  input  {} {:?} {:?}", i.name, i.dtype, i.shape);
    }
    for o in &m.graph.outputs {
        println!("  output {} {:?}", o.name, o.dtype);
    }
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &m.graph.nodes {
        *ops.entry(n.op.type_name()).or_insert(0) += 1;
    }
    let list: Vec<String> = ops.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!(
        "  ops: {} kernels: {}",
        m.graph.nodes.len(),
        list.join(", ")
    );
    println!("  parameters: {}", m.graph.parameter_count());
    println!("  estimates on {} ({}):", profile.name, profile.description);
    for (i, &g) in m.gears.iter().enumerate() {
        let costs = m.kernel_costs(g, &profile)?;
        let flops: u64 = costs.iter().map(|k| k.flops).sum();
        let lat = npu::cost::total_latency_us(&costs);
        let mem = m.mem_plans.get(i).map_or(0, |p| p.total_bytes);
        println!(
            "    gear {g:>3}: {:.3} MFLOP, latency {lat} us, {:.1} us/sample, device memory {:.2} MiB",
            flops as f64 / 1e6,
            lat as f64 / g as f64,
            mem as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Compile {
            model,
            device,
            precision,
            calib,
            calib_method,
            eval,
            gears,
            output,
        } => cmd_compile(
            &model,
            device,
            precision,
            calib.as_deref(),
            calib_method,
            eval.as_deref(),
            gears,
            &output,
        ),
        Cmd::Run {
            model,
            input,
            device,
            output,
            profile,
            submit_us,
        } => cmd_run(
            &model,
            &input,
            device,
            &output,
            profile.as_deref(),
            submit_us,
        ),
        Cmd::RunOnnx {
            model,
            input,
            device,
            precision,
            output,
        } => cmd_run_onnx(&model, &input, device, precision, &output),
        Cmd::Latency { model } => cmd_latency(&model),
        Cmd::Info { model, device } => cmd_info(&model, device),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
