//! Finding the files to read and reading them line by line.

use casefile_guest::types::PluginError;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// How deep below the root directories are followed.
const MAX_DEPTH: usize = 16;

/// Regular files under `root` (recursively) with one of `extensions`, sorted by path
/// so that the same directory always yields the same order.
pub fn list(root: &Path, extensions: &[String]) -> Result<Vec<PathBuf>, PluginError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(root)
        .map_err(|e| PluginError::Unavailable(format!("{}: {e}", root.display())))?;
    walk(entries, extensions, 0, &mut found);
    found.sort();
    Ok(found)
}

fn walk(entries: std::fs::ReadDir, extensions: &[String], depth: usize, found: &mut Vec<PathBuf>) {
    for entry in entries.flatten() {
        // `file_type` does not follow symlinks: links are neither read nor descended.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() && depth < MAX_DEPTH {
            if let Ok(sub) = std::fs::read_dir(&path) {
                walk(sub, extensions, depth + 1, found);
            }
        } else if kind.is_file() && has_extension(&path, extensions) {
            found.push(path);
        }
    }
}

fn has_extension(path: &Path, extensions: &[String]) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    ext.is_some_and(|e| extensions.contains(&e))
}

/// Lines of a file as raw bytes, so that one line that is not UTF-8 is skipped
/// instead of ending the file.
pub struct Lines {
    reader: BufReader<File>,
    buf: Vec<u8>,
}

impl Lines {
    pub fn open(path: &Path) -> std::io::Result<Lines> {
        Ok(Lines {
            reader: BufReader::with_capacity(64 * 1024, File::open(path)?),
            buf: Vec::new(),
        })
    }

    /// `Ok(None)` at the end; `Ok(Some(None))` for a line that is not UTF-8.
    pub fn next_line(&mut self) -> std::io::Result<Option<Option<String>>> {
        self.buf.clear();
        if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(Some(String::from_utf8(std::mem::take(&mut self.buf)).ok()))
    }
}
