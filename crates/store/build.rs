// `sqlx::migrate!` embeds the migration files at compile time; without this a
// new migration is missed by an incremental build (sqlx's documented fix).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
