//! The `npu` command line: compile, run, info, and clean failures with exit code 2.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npu::builder::Rng;
use npu::npy::{read_npy, write_npy};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_npu"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("npu-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails_cleanly(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("error"), "{err}");
    err
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = bin();
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

#[test]
fn compile_run_info_round_trip() {
    let d = tmp("rt");
    let om = d.join("m.om");
    let out = ok(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"--precision",
        &"fp32",
        &"--gears",
        &"1,2,4",
        &"-o",
        &om,
    ]));
    assert!(out.contains("BN folded"), "{out}");
    let outdir = d.join("out");
    let prof = d.join("prof");
    let out = ok(&run(&[
        &"run",
        &om,
        &"--input",
        &fixture("small_cnn.in0.npy"),
        &"--output",
        &outdir,
        &"--profile",
        &prof,
    ]));
    assert!(out.contains("gear 2"), "{out}");
    let got = read_npy(&std::fs::read(outdir.join("prob.npy")).unwrap()).unwrap();
    let want = read_npy(&std::fs::read(fixture("small_cnn.out0.npy")).unwrap()).unwrap();
    let (g, w) = (got.to_f32(), want.to_f32());
    assert_eq!(g.shape(), w.shape());
    for (a, b) in g.iter().zip(w.iter()) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0));
    }
    assert!(outdir.join("c3.npy").exists());
    assert!(prof.join("trace.json").exists() && prof.join("op_summary.csv").exists());
    let info = ok(&run(&[&"info", &om]));
    assert!(
        info.contains("parameters:") && info.contains("gear   4") && info.contains("MFLOP"),
        "{info}"
    );
    let info910 = ok(&run(&[&"info", &om, &"--device", &"ascend910b"]));
    assert!(info910.contains("ascend910b"));
    // A profile file works too; a doubled clock gives a lower estimate.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/ascend310.toml"),
    )
    .unwrap();
    let fast = d.join("fast310.toml");
    std::fs::write(
        &fast,
        text.replace("cube_freq_mhz = 488.28125", "cube_freq_mhz = 976.5625")
            .replace("name = \"ascend310\"", "name = \"fast310\""),
    )
    .unwrap();
    let om2 = d.join("fast.om");
    ok(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &fast,
        &"--gears",
        &"32",
        &"-o",
        &om2,
    ]));
    let info_fast = ok(&run(&[&"info", &om2, &"--device", &fast]));
    assert!(info_fast.contains("compiled for fast310"), "{info_fast}");
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "name = 1").unwrap();
    fails_cleanly(&run(&[&"info", &om2, &"--device", &bad]));
    std::fs::remove_dir_all(&d).unwrap();
}

fn write_samples(dir: &Path, n: usize, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng::new(seed);
    for i in 0..n {
        let t = rng.tensor(&[2, 4, 11, 13], 1.0);
        std::fs::write(dir.join(format!("s{i}.npy")), write_npy(&t)).unwrap();
    }
}

#[test]
fn int8_compile_reports_accuracy() {
    let d = tmp("int8");
    write_samples(&d.join("calib"), 3, 1);
    write_samples(&d.join("eval"), 2, 2);
    let om = d.join("q.om");
    let out = ok(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310p",
        &"--precision",
        &"int8",
        &"--calib",
        &d.join("calib"),
        &"--calib-method",
        &"percentile:99.99",
        &"--eval",
        &d.join("eval"),
        &"--gears",
        &"2",
        &"-o",
        &om,
    ]));
    assert!(out.contains("int8 accuracy vs fp32 on 2 samples"), "{out}");
    let r = ok(&run(&[
        &"run",
        &om,
        &"--input",
        &format!("x={}", fixture("small_cnn.in0.npy").display()),
        &"--output",
        &d,
    ]));
    assert!(r.contains("prob"));
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"--precision",
        &"int8",
        &"-o",
        &om,
    ]));
    assert!(e.contains("--calib"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_inputs_exit_2_with_a_message() {
    let d = tmp("bad");
    let om = d.join("m.om");
    ok(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"-o",
        &om,
    ]));
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("unsupported.onnx"),
        &"--device",
        &"ascend310",
        &"-o",
        &om.with_extension("x"),
    ]));
    assert!(e.contains("NonZero") && e.contains("nonzero_node"), "{e}");
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"tpu",
        &"-o",
        &om.with_extension("x"),
    ]));
    assert!(e.contains("unknown device"), "{e}");
    let e = fails_cleanly(&run(&[
        &"run",
        &om,
        &"--device",
        &"ascend910b",
        &"--input",
        &fixture("small_cnn.in0.npy"),
    ]));
    assert!(e.contains("recompile"), "{e}");
    let e = fails_cleanly(&run(&[
        &"run",
        &om,
        &"--input",
        &fixture("decoder.in0.npy"),
        &"--output",
        &d,
    ]));
    assert!(e.contains("shape"), "{e}");
    let bytes = std::fs::read(&om).unwrap();
    let cut = d.join("cut.om");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails_cleanly(&run(&[&"info", &cut]));
    let onnx = std::fs::read(fixture("small_cnn.onnx")).unwrap();
    let cut_onnx = d.join("cut.onnx");
    std::fs::write(&cut_onnx, &onnx[..onnx.len() - 100]).unwrap();
    fails_cleanly(&run(&[
        &"compile",
        &cut_onnx,
        &"--device",
        &"ascend310",
        &"-o",
        &om.with_extension("y"),
    ]));
    fails_cleanly(&run(&[&"info", &d.join("missing.om")]));
    fails_cleanly(&run(&[
        &"run",
        &om,
        &"--input",
        &fixture("make_fixtures.py"),
    ]));
    // Usage errors are clap's, also exit code 2.
    assert_eq!(run(&[&"compile"]).status.code(), Some(2));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn unknown_precision_names_the_option_and_the_accepted_values() {
    let d = tmp("prec");
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"--precision",
        &"fp64",
        &"-o",
        &d.join("m.om"),
    ]));
    assert!(e.contains("--precision") && e.contains("fp64"), "{e}");
    for v in ["fp32", "fp16", "int8"] {
        assert!(e.contains(v), "accepted value {v} missing: {e}");
    }
    assert!(!e.contains("in node"), "{e}");
}

#[test]
fn bad_device_profile_file_is_named_in_the_error() {
    let d = tmp("profile");
    let p = d.join("broken_profile.toml");
    std::fs::write(&p, "name = 3\n[[[").unwrap();
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &p,
        &"-o",
        &d.join("m.om"),
    ]));
    assert!(e.contains("broken_profile.toml"), "{e}");
    assert!(e.contains("device profile"), "{e}");
}

#[test]
fn negative_numbers_are_refused_with_a_message_about_the_value() {
    let d = tmp("neg");
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"--gears",
        &"1,-4",
        &"-o",
        &d.join("m.om"),
    ]));
    assert!(e.contains("-4") && e.contains("negative"), "{e}");
    let e = fails_cleanly(&run(&[
        &"run",
        &d.join("m.om"),
        &"--input",
        &fixture("small_cnn.in0.npy"),
        &"--submit-us",
        &"-5",
    ]));
    assert!(e.contains("-5") && e.contains("negative"), "{e}");
}

#[test]
fn zero_gear_is_refused_by_clap_naming_the_option_and_the_bound() {
    let d = tmp("gear0");
    for gears in ["0", "1,0,4"] {
        let e = fails_cleanly(&run(&[
            &"compile",
            &fixture("small_cnn.onnx"),
            &"--device",
            &"ascend310",
            &"--gears",
            &gears,
            &"-o",
            &d.join("m.om"),
        ]));
        assert!(
            e.contains("--gears") && e.contains("must be 1 or more"),
            "{e}"
        );
        assert!(!e.contains("invalid graph"), "{e}");
    }
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"--gears",
        &"-1",
        &"-o",
        &d.join("m.om"),
    ]));
    assert!(
        e.contains("--gears") && e.contains("-1") && e.contains("must be 1 or more"),
        "{e}"
    );
    assert!(!e.contains("unexpected argument"), "{e}");
    assert!(!d.join("m.om").exists());
}

#[test]
fn unknown_device_and_calibration_method_name_the_option() {
    let d = tmp("opts");
    let onnx = fixture("small_cnn.onnx");
    let om = d.join("m.om");
    for args in [
        vec!["compile", "M", "--device", "tpu", "-o", "O"],
        vec!["run-onnx", "M", "--device", "tpu", "--input", "I"],
        vec!["info", "O", "--device", "tpu"],
    ] {
        let mut c = bin();
        for a in &args {
            match *a {
                "M" => c.arg(&onnx),
                "O" => c.arg(&om),
                "I" => c.arg(fixture("small_cnn.in0.npy")),
                s => c.arg(s),
            };
        }
        let e = fails_cleanly(&c.output().unwrap());
        assert!(
            e.contains("--device") && e.contains("`tpu`"),
            "{args:?}: {e}"
        );
        for v in ["ascend310", "ascend310p", "ascend910b", ".toml"] {
            assert!(e.contains(v), "{args:?}: {v} missing: {e}");
        }
    }
    for m in ["median", "percentile:101", "percentile:x"] {
        let e = fails_cleanly(&run(&[
            &"compile",
            &onnx,
            &"--device",
            &"ascend310",
            &"--calib-method",
            &m,
            &"-o",
            &om,
        ]));
        assert!(
            e.contains("--calib-method") && e.contains(m) && e.contains("minmax"),
            "{e}"
        );
    }
}

#[test]
fn profile_file_errors_name_the_file_the_field_and_the_option() {
    let d = tmp("pfield");
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/ascend310.toml"),
    )
    .unwrap();
    let zero = d.join("zero_cores.toml");
    let changed = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("ai_core_cnt") {
                "ai_core_cnt = 0".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(changed, text);
    std::fs::write(&zero, changed).unwrap();
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &zero,
        &"-o",
        &d.join("m.om"),
    ]));
    assert!(
        e.contains("--device")
            && e.contains("zero_cores.toml")
            && e.contains("soc_info.ai_core_cnt = 0"),
        "{e}"
    );
    let e = fails_cleanly(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &d.join("absent_profile.toml"),
        &"-o",
        &d.join("m.om"),
    ]));
    assert!(
        e.contains("--device") && e.contains("absent_profile.toml") && e.contains("cannot read"),
        "{e}"
    );
    // A model compiled for a profile file needs the file again; the message says so.
    let mine = d.join("mine.toml");
    std::fs::write(
        &mine,
        text.replace("name = \"ascend310\"", "name = \"mine\""),
    )
    .unwrap();
    let om = d.join("mine.om");
    ok(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &mine,
        &"-o",
        &om,
    ]));
    let e = fails_cleanly(&run(&[&"info", &om]));
    assert!(e.contains("`mine`") && e.contains("--device"), "{e}");
    ok(&run(&[&"info", &om, &"--device", &mine]));
}

#[test]
fn bad_npy_input_names_the_file() {
    let d = tmp("npyname");
    let om = d.join("m.om");
    ok(&run(&[
        &"compile",
        &fixture("small_cnn.onnx"),
        &"--device",
        &"ascend310",
        &"-o",
        &om,
    ]));
    let bad = d.join("not_really.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'").unwrap();
    let e = fails_cleanly(&run(&[&"run", &om, &"--input", &bad, &"--output", &d]));
    assert!(e.contains("not_really.npy") && e.contains("npy"), "{e}");
    let e = fails_cleanly(&run(&[
        &"run-onnx",
        &fixture("small_cnn.onnx"),
        &"--input",
        &bad,
        &"--output",
        &d,
    ]));
    assert!(e.contains("not_really.npy"), "{e}");
}
