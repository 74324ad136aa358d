//! What the sandbox refused a component: HTTP off its allow-list and file opens that
//! would leave its granted directory. Each refusal is kept for the call's owner
//! (collect) to audit; the component itself only sees the error.
//!
//! Filesystem escapes (`..`, absolute paths, symlinks that lead out) are refused by
//! wasmtime-wasi's capability-based `open-at`; to see them the host wraps that one
//! function and records the refusals it answers.

use std::sync::{Arc, Mutex};

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self as fs, DescriptorFlags, ErrorCode, HostDescriptor, OpenFlags, PathFlags,
};

use super::HostState;

/// One refusal, as the audit log records it: never a URL's query or a body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// `http` or `filesystem`.
    pub kind: &'static str,
    /// `host:port`, or the path the component asked for (shortened).
    pub target: String,
    pub reason: String,
}

/// Where one source's refusals gather during a task; clones share the list.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<Refusal>>>);

/// A hostile component could refuse itself a million times; the audit log keeps
/// the first ones and the count.
const KEEP: usize = 20;

impl Refusals {
    pub fn push(&self, refusal: Refusal) {
        if let Ok(mut list) = self.0.lock() {
            if list.len() < KEEP {
                list.push(refusal);
            }
        }
    }

    /// Takes what gathered so far.
    pub fn drain(&self) -> Vec<Refusal> {
        self.0.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
    }
}

/// The interface name wasmtime-wasi defines; guests importing an older 0.2.x
/// version are linked to it by semver.
const FS_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Replaces `descriptor.open-at` in `linker` (which already has WASI) with the same
/// implementation plus a record of every refusal.
pub fn watch_file_opens(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(FS_TYPES)?.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store,
         (fd, path_flags, path, oflags, flags): (Resource<Descriptor>, PathFlags, String, OpenFlags, DescriptorFlags)| {
            Box::new(async move {
                let state = store.data_mut();
                let mut view = state.filesystem();
                let opened = HostDescriptor::open_at(&mut view, fd, path_flags, path.clone(), oflags, flags).await;
                let answer = match opened {
                    Ok(fd) => Ok(fd),
                    Err(e) => Err(fs::Host::convert_error_code(&mut view, e)?),
                };
                if let Err(code @ (ErrorCode::NotPermitted | ErrorCode::Access)) = &answer {
                    state.refusals.push(Refusal {
                        kind: "filesystem",
                        target: shorten(&path),
                        reason: format!("open outside the granted directory refused ({code:?})"),
                    });
                }
                Ok((answer,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn shorten(path: &str) -> String {
    match path.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &path[..i]),
        None => path.to_string(),
    }
}
