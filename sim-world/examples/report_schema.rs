//! Prints the JSON Schema of `minesim run --report`, generated from the report's Rust types:
//!
//! ```sh
//! cargo run -p sim-world --example report_schema > assets/schemas/report.schema.json
//! ```
//!
//! `tests/report_schema.rs` checks that the committed file is what this prints.

fn main() -> Result<(), serde_json::Error> {
    println!("{}", sim_world::report::schema_json()?);
    Ok(())
}
