//! The report's JSON Schema is generated from its Rust types, committed, and describes what
//! a run really writes.

use sim_world::run::{run_shift, RunArgs, Sources, WallClock};
use sim_world::NetworkChoice;
use std::sync::Arc;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../assets/schemas/report.schema.json"
);

struct Ticks(std::cell::Cell<f64>);
impl WallClock for Ticks {
    fn elapsed_s(&self) -> f64 {
        self.0.set(self.0.get() + 0.01);
        self.0.get()
    }
    fn sleep_s(&self, _: f64) {}
}

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(SCHEMA).expect("the committed report schema");
    serde_json::from_str(&text).expect("the committed schema is JSON")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = sim_world::report::schema_json().expect("schema");
    let committed = std::fs::read_to_string(SCHEMA).unwrap_or_default();
    assert!(
        committed.trim() == generated.trim(),
        "assets/schemas/report.schema.json is stale: regenerate it with\n  cargo run -p sim-world --example report_schema > assets/schemas/report.schema.json"
    );
}

#[test]
fn a_fresh_report_validates_and_a_broken_one_does_not() {
    let site = Arc::new(site::default_site::load().expect("default site"));
    let args = RunArgs {
        trucks: 4,
        seed: 2,
        duration: site::SimDuration::from_secs(30),
        network: NetworkChoice::InMemory,
        auto_rearm_after: None,
        policy: fleet::assign::Policy::Lp,
        obstacles: Vec::new(),
        traffic: Default::default(),
        perception: None,
        planning: None,
        npu_trace: None,
        sources: Sources {
            site_file: site::default_site::NAME.into(),
            site_sha256: sim_world::run::sha256_hex(site::default_site::TEXT.as_bytes()),
            model_sha256: None,
        },
        interrupt: None,
    };
    let r = run_shift(site, &args, &Ticks(Default::default()), &mut |_| {}).expect("runs");
    let json = serde_json::to_value(&r).expect("report to JSON");
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["config"]["auto_rearm_s"], serde_json::Value::Null);

    // The schema is not vacuous: a missing field and a wrong type are refused.
    let mut missing = json.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("collisions");
    assert!(!validator.is_valid(&missing));
    let mut wrong = json.clone();
    wrong["trucks"] = serde_json::json!("four");
    assert!(!validator.is_valid(&wrong));
    let mut sentinel = json;
    sentinel["min_separation_m"] = serde_json::json!("none");
    assert!(!validator.is_valid(&sentinel));
}
