//! The committed JSON Schema of the site file is the one the types give, and the shipped
//! site validates against it.

use serde_json::Value;

const REGENERATE: &str =
    "cargo run -p site --example site_schema > assets/schemas/site.schema.json";

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

fn committed_schema() -> String {
    std::fs::read_to_string(repo_file("assets/schemas/site.schema.json")).unwrap_or_else(|e| {
        panic!("assets/schemas/site.schema.json: {e}; regenerate: {REGENERATE}")
    })
}

fn default_site_json(edit: impl Fn(String) -> String) -> Value {
    let text =
        std::fs::read_to_string(repo_file("assets/sites/default.toml")).expect("default site");
    toml::from_str::<Value>(&edit(text)).expect("edited site is TOML")
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&committed_schema()).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
}

#[test]
fn committed_schema_is_up_to_date() {
    let fresh = site::file::json_schema_text();
    assert!(
        committed_schema() == fresh,
        "assets/schemas/site.schema.json is stale; regenerate it with\n    {REGENERATE}"
    );
}

#[test]
fn the_default_site_validates() {
    let v = validator();
    let site = default_site_json(|t| t);
    let errors: Vec<String> = v.iter_errors(&site).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // and with a [radio] table
    let site = default_site_json(|t| t + "\n[radio.carrier]\nbandwidth_hz = 40e6\n");
    assert!(v.is_valid(&site));
}

#[test]
fn mistakes_do_not_validate() {
    let v = validator();
    let misspelt = default_site_json(|t| t.replacen("rim_z = ", "rim_height = ", 1));
    assert!(!v.is_valid(&misspelt), "a misspelt key validates");
    let string = default_site_json(|t| t.replacen("cell_m = 6.0", "cell_m = \"six\"", 1));
    assert!(!v.is_valid(&string), "a string for a number validates");
    let negative_index = default_site_json(|t| t.replacen("lane = ", "lane = -", 1));
    assert!(
        !v.is_valid(&negative_index),
        "a negative lane index validates"
    );
    let short = default_site_json(|t| t.replacen("center = [0.0, 0.0]", "center = [0.0]", 1));
    assert!(!v.is_valid(&short), "a one-element position validates");
    let material =
        default_site_json(|t| t.replacen("material = \"waste\"", "material = \"gold\"", 1));
    assert!(!v.is_valid(&material), "an unknown material validates");
}
