//! Builds the WebAssembly guests from source (plugins/ and tests/guests/) for
//! wasm32-wasip2, like wasmtime's test-programs: the shipped plugins are embedded in
//! the binary as built-ins, and the directory of all built guests is exposed to the
//! tests as CASEFILE_GUEST_DIR, with the example plugins for authors. A guest that
//! does not build fails the build here, with cargo's own error. The command itself
//! (and what makes its output reproducible) is in guest_build.rs, which
//! tests/reproducible.rs uses too.

use std::path::{Path, PathBuf};

#[path = "guest_build.rs"]
mod guest_build;

/// (built-in name, crate name) of the components the binary ships.
const SHIPPED: &[(&str, &str)] = &[
    ("masker-default", "masker-default"),
    ("connector-ndjson", "connector-ndjson"),
    ("connector-loki", "connector-loki"),
    ("connector-prometheus", "connector-prometheus"),
    ("connector-elasticsearch", "connector-elasticsearch"),
    ("connector-tempo", "connector-tempo"),
    ("connector-jaeger", "connector-jaeger"),
    ("connector-export", "connector-export"),
    ("ticket-platform", "ticket-platform"),
    ("ticket-redmine", "ticket-redmine"),
    ("ticket-jira", "ticket-jira"),
    ("ticket-github", "ticket-github"),
    ("ticket-gitlab", "ticket-gitlab"),
];

/// Examples for component authors: built and tested like the shipped plugins, but
/// not embedded (a tenant pushes and binds one like any uploaded component).
const EXAMPLES: &[&str] = &["masker-customer-ids"];

/// Hostile guests the tests use to prove the runtime's limits.
const TEST_GUESTS: &[&str] = &[
    "hostile-loop",
    "hostile-membomb",
    "hostile-flood",
    "hostile-trap",
    "leaky-masker",
    "probe-masker",
    "hostile-mapper",
    "probe-connector",
    "socket-masker",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("host/ sits in the workspace").to_path_buf();
    for dir in ["plugins", "guest-sdk", "wit", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // sqlx::migrate! embeds host/migrations; a new migration file must rebuild the host.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=CASEFILE_GUEST_TARGET_DIR");
    // The guest command and its path remapping (which reads these variables).
    println!("cargo:rerun-if-changed=guest_build.rs");
    for var in ["HOME", "CARGO_HOME", "RUSTUP_HOME"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-env-changed=CASEFILE_SKIP_GUESTS");
    if std::env::var_os("CASEFILE_SKIP_GUESTS").is_some() {
        // For `cargo check` of host code alone: no built-ins, no guest dir.
        std::fs::write(out_dir.join("builtin_plugins.rs"), "pub const ALL: &[(&str, &[u8])] = &[];\n").expect("write");
        println!("cargo:rustc-env=CASEFILE_GUEST_DIR=");
        return;
    }
    let target_dir = guest_target_dir(&out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let crates: Vec<&str> =
        (SHIPPED.iter().map(|(_, k)| *k)).chain(EXAMPLES.iter().copied()).chain(TEST_GUESTS.iter().copied()).collect();
    let mut cmd = guest_build::command(&cargo, &root, &target_dir, &crates);
    let status = cmd.status().expect("cannot run cargo to build the WebAssembly guests");
    if !status.success() {
        panic!(
            "building the WebAssembly guests failed (see above). If the error says the target is missing, run `rustup target add wasm32-wasip2` (scripts/setup does)."
        );
    }

    let wasm_dir = guest_build::wasm_dir(&target_dir);
    let mut generated = String::from("/// (name, component bytes) of every built-in component.\npub const ALL: &[(&str, &[u8])] = &[\n");
    for (name, krate) in SHIPPED {
        let file = wasm_dir.join(format!("{}.wasm", krate.replace('-', "_")));
        assert!(file.exists(), "guest build did not produce {}", file.display());
        generated.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), generated).expect("cannot write builtin_plugins.rs");
    println!("cargo:rustc-env=CASEFILE_GUEST_DIR={}", wasm_dir.display());
}

/// Guests get their own target dir beside the host's (never the same one: the outer
/// cargo holds its lock), so they build incrementally too.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    if let Ok(d) = std::env::var("CASEFILE_GUEST_TARGET_DIR") {
        return PathBuf::from(d);
    }
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    match out_dir.ancestors().nth(4) {
        Some(target) => target.join("guests"),
        None => out_dir.join("guests"),
    }
}
