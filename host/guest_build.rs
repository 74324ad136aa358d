//! The one command that builds the WebAssembly guests, shared by `host/build.rs` and
//! `tests/reproducible.rs`, so the test rebuilds exactly the way the shipped
//! components are built.
//!
//! Reproducible: the same source gives the same bytes wherever it is checked out and
//! whoever builds it. rustc bakes file paths into a component (panic locations of
//! registry crates, `file!()` in code generated into a build script's `OUT_DIR`), so
//! every place source can come from is remapped to a fixed name. Workspace crates are
//! already compiled with relative paths by cargo; the profile (`wasm-guest`: no debug
//! info, stripped, one codegen unit, LTO) leaves no build ids or timestamps.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The rustflags for the guests: wasm SIMD (memchr and regex use their vectorised
/// searches; wasmtime enables the proposal by default), and the path remapping.
pub fn rustflags(root: &Path, target_dir: &Path) -> Vec<String> {
    let mut flags = vec!["-Ctarget-feature=+simd128".to_string()];
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".rustup")));
    // rustc applies the last prefix that matches, so the more specific ones go
    // later: a target dir or cargo home may sit inside the checkout.
    let remaps = [
        (Some(root.to_path_buf()), "/casefile"),
        (rustup_home, "/rustup"),
        (cargo_home, "/cargo"),
        (Some(target_dir.to_path_buf()), "/target"),
    ];
    for (from, to) in remaps {
        let Some(from) = from else { continue };
        // A path that is not UTF-8 cannot be passed in CARGO_ENCODED_RUSTFLAGS; such
        // a build still works, it just is not reproducible across directories.
        if let Some(from) = from.to_str() {
            flags.push(format!("--remap-path-prefix={from}={to}"));
        }
    }
    flags
}

/// `cargo build` of `crates` for wasm32-wasip2 into `target_dir`, from the workspace
/// at `root`.
pub fn command(cargo: &OsStr, root: &Path, target_dir: &Path, crates: &[&str]) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--profile")
        .arg("wasm-guest")
        .arg("--target")
        .arg("wasm32-wasip2")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for krate in crates {
        cmd.arg("-p").arg(krate);
    }
    // The outer build's flags are for the host target, not for wasm.
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        rustflags(root, target_dir).join("\x1f"),
    );
    cmd
}

/// Where `command` leaves the components (`<crate_name>.wasm`).
pub fn wasm_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("wasm32-wasip2").join("wasm-guest")
}
