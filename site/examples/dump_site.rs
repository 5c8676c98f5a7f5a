//! Writes the generated default site as TOML to stdout (see `minesim site generate`).
fn main() {
    let f = site::generate::generate(&site::generate::GenParams::default());
    match site::file::to_toml(&f) {
        Ok(t) => print!("{t}"),
        Err(e) => eprintln!("{e}"),
    }
}
