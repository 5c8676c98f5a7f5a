//! Prints the JSON Schema of the site file. The committed copy is regenerated with
//!
//! ```text
//! cargo run -p site --example site_schema > assets/schemas/site.schema.json
//! ```
//!
//! (`site/tests/schema.rs` fails when the committed copy differs from the types.)
fn main() {
    print!("{}", site::file::json_schema_text());
}
