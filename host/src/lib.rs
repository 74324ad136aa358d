//! casefile: a diagnostic host for plugin platforms. One module per stage of the
//! flow (see DESIGN.md): api → pipeline (collect → mask → report → ticket →
//! regression), on top of runtime (wasmtime), registry (components) and store (sqlx).

pub mod access;
pub mod api;
pub mod app;
pub mod audit;
pub mod bench;
pub mod cli;
pub mod collect;
pub mod config;
pub mod flags;
pub mod keys;
pub mod mask;
pub mod model;
pub mod notify;
pub mod outbound;
pub mod pipeline;
pub mod registry;
pub mod regression;
pub mod report;
pub mod retention;
pub mod runtime;
pub mod store;
pub mod tenants;
pub mod telemetry;
pub mod ticket;
pub mod trigger;

/// The module graph has no cycles: each stage depends only on what comes before it
/// and on the layers below (runtime, store, model, config), so a change to one stage
/// cannot reach back into another through a loop. Test-only code is not counted.
#[cfg(test)]
mod module_graph {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("host/src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn has_no_cycles() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in files {
            let rel = file.strip_prefix(&src).expect("under src");
            let module = rel.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or_default();
            let module = module.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&file).expect("read");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    edges.entry(module.clone()).or_default().insert(name);
                }
            }
        }
        // Depth-first search for a back edge; the path names the cycle.
        fn visit(
            m: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|p| p == m) {
                let mut cycle = path[at..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            if done.contains(m) {
                return None;
            }
            path.push(m.to_string());
            for next in edges.get(m).into_iter().flatten() {
                if let Some(c) = visit(next, edges, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(m.to_string());
            None
        }
        let mut done = BTreeSet::new();
        for m in edges.keys() {
            if let Some(cycle) = visit(m, &edges, &mut Vec::new(), &mut done) {
                panic!("import cycle between modules: {}", cycle.join(" -> "));
            }
        }
        assert!(edges.len() > 10, "the graph was read: {edges:?}");
    }
}
