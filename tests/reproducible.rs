//! Reproducible components: a shipped plugin built twice from the same source, in two
//! checkouts at different paths with different target dirs, is the same bytes (the
//! same SHA-256), so security can rebuild a component from source and compare its
//! hash with the one uploaded or embedded. The builds use the command host/build.rs
//! uses (`host/guest_build.rs`).

#[path = "../host/guest_build.rs"]
mod guest_build;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The smallest shipped plugin, so the two builds stay short.
const PLUGIN: &str = "ticket-platform";

/// Each build may take this long; a cold one (every dependency) takes about a
/// minute on two busy cores.
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// What a checkout needs to build: the workspace manifest and lock, and every member.
const SOURCE: &[&str] = &["Cargo.toml", "Cargo.lock", "wit", "guest-sdk", "plugins", "host", "tests"];

/// Copies the source fresh (a file removed upstream must not linger), leaving out
/// build output.
fn copy_source(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).expect("remove the old copy");
    }
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in SOURCE {
        copy(&from.join(entry), &to.join(entry));
    }
}

fn copy(from: &Path, to: &Path) {
    let meta = std::fs::symlink_metadata(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    if meta.is_dir() {
        let name = from.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if matches!(name, "target" | ".git" | "node_modules" | "__pycache__") {
            return;
        }
        std::fs::create_dir_all(to).expect("create dir");
        for e in std::fs::read_dir(from).expect("read dir") {
            let e = e.expect("dir entry");
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else if meta.is_file() && from.extension().is_none_or(|x| x != "wasm") {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Builds the plugin from the checkout at `root` into `target`; its bytes.
fn build(root: &Path, target: &Path) -> Vec<u8> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = guest_build::command(&cargo, root, target, &[PLUGIN]);
    // The copied lock decides every dependency; nothing is resolved anew.
    cmd.arg("--locked");
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run cargo");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cargo") {
            break status;
        }
        if started.elapsed() > BUILD_LIMIT {
            let _ = child.kill();
            panic!("building {PLUGIN} in {} took longer than {BUILD_LIMIT:?}", root.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "building {PLUGIN} in {} failed", root.display());
    eprintln!("built {PLUGIN} in {} in {:.1?}", root.display(), started.elapsed());
    let file = guest_build::wasm_dir(target).join(format!("{}.wasm", PLUGIN.replace('-', "_")));
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_plugin_built_twice_in_different_places_is_the_same_bytes() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ sits in the workspace");
    // Kept beside this test's own target dir (…/debug/deps/reproducible-…), so the
    // dependencies build once and later runs rebuild only the workspace crates.
    let exe = std::env::current_exe().expect("test binary path");
    let base: PathBuf = exe.ancestors().nth(3).expect("target dir").join("reproducible");
    // Different names and depths, so no path can line up by chance.
    let (src_a, target_a) = (base.join("a").join("casefile"), base.join("a").join("target"));
    let (src_b, target_b) = (base.join("second-checkout").join("src").join("cf"), base.join("target-b"));
    copy_source(workspace, &src_a);
    copy_source(workspace, &src_b);

    let a = build(&src_a, &target_a);
    let b = build(&src_b, &target_b);
    let (ha, hb) = (sha256(&a), sha256(&b));
    eprintln!("{PLUGIN}: {ha} ({} bytes) in {}", a.len(), src_a.display());
    eprintln!("{PLUGIN}: {hb} ({} bytes) in {}", b.len(), src_b.display());
    // Both copies share cargo's and rustup's homes, so equal hashes alone would not
    // show that those paths stay out; another builder's differ.
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let homes: Vec<PathBuf> = [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")]
        .into_iter()
        .filter_map(|(var, dir)| std::env::var_os(var).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(dir))))
        .collect();
    for (bytes, src, target) in [(&a, &src_a, &target_a), (&b, &src_b, &target_b)] {
        for path in [src, target].into_iter().chain(&homes) {
            let path = path.to_str().expect("UTF-8 test path");
            assert!(!contains(bytes, path), "the component names the build machine's path {path}");
        }
    }
    assert_eq!(ha, hb, "the same source built in two places gave different components");

    // The built-in this binary embeds came from the same command over the whole
    // workspace: rebuilding the plugin alone gives its hash too.
    let shipped = Path::new(env!("CASEFILE_GUEST_DIR")).join(format!("{}.wasm", PLUGIN.replace('-', "_")));
    let shipped = std::fs::read(&shipped).unwrap_or_else(|e| panic!("{}: {e}", shipped.display()));
    assert_eq!(sha256(&shipped), ha, "the embedded {PLUGIN} differs from its rebuild");
}
