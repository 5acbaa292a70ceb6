//! Rebuilds the crate when a migration is added or changed, so the embedded
//! `MIGRATOR` never goes stale (`sqlx::migrate!` alone does not track new files).

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
