//! Lists the SQL migrations for `src/migrations.rs`: one constant per
//! database of (version, description, `include_str!` of the file), so the
//! binary carries them and a new file is picked up by an incremental build.
//! (sqlx's `migrate!` does the same from a proc-macro crate that builds both
//! database drivers and SQLite's C source a second time.)

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    let mut out = String::new();
    for (constant, db) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(db))
            .unwrap_or_else(|e| panic!("migrations/{db}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        writeln!(
            out,
            "pub(crate) const {constant}: &[(i64, &str, &str)] = &["
        )
        .unwrap();
        for path in files {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let (version, name) = stem
                .split_once('_')
                .unwrap_or_else(|| panic!("{stem}.sql: expected VERSION_NAME.sql"));
            let version: i64 = version
                .parse()
                .unwrap_or_else(|_| panic!("{stem}.sql: the version is not a number"));
            let description = name.replace('_', " ");
            writeln!(
                out,
                "    ({version}, {description:?}, include_str!({:?})),",
                path.display()
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let target = Path::new(&std::env::var("OUT_DIR").unwrap()).join("migrations.rs");
    std::fs::write(target, out).unwrap();
}
