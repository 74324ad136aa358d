//! The source's settings and where they point.

use casefile_guest::types::PluginError;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

/// Where the host preopens the source's granted directory.
pub const DATA: &str = "/data";

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// A directory below `/data` to read instead of all of it.
    pub dir: String,
    /// File extensions to read, without the dot, compared case-insensitively.
    pub extensions: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dir: String::new(),
            extensions: vec!["ndjson".into(), "jsonl".into(), "log".into(), "json".into()],
        }
    }
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, PluginError> {
        if json.trim().is_empty() {
            return Ok(Settings::default());
        }
        let mut s: Settings = serde_json::from_str(json)
            .map_err(|e| PluginError::InvalidInput(format!("settings: {e}")))?;
        for ext in &mut s.extensions {
            *ext = ext.trim_start_matches('.').to_ascii_lowercase();
        }
        Ok(s)
    }

    /// `/data` joined with `dir`, which must stay inside it.
    pub fn root(&self) -> Result<PathBuf, PluginError> {
        self.root_in(Path::new(DATA))
    }

    fn root_in(&self, data: &Path) -> Result<PathBuf, PluginError> {
        if std::fs::metadata(data).is_err() {
            return Err(PluginError::Unavailable(format!(
                "no directory granted: {} is not preopened for this source (grant it a directory in the config)",
                data.display()
            )));
        }
        let rel = Path::new(&self.dir);
        if !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(PluginError::InvalidInput(format!(
                "settings.dir {:?} must be a relative path below {DATA} without `..`",
                self.dir
            )));
        }
        let root = data.join(rel);
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => Ok(root),
            Ok(_) => Err(PluginError::InvalidInput(format!(
                "{} is not a directory",
                root.display()
            ))),
            Err(e) => Err(PluginError::Unavailable(format!("{}: {e}", root.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert!(
            matches!(Settings::parse(r#"{"dir": 5}"#), Err(PluginError::InvalidInput(m)) if m.starts_with("settings:"))
        );
        let s = Settings::parse(r#"{"extensions": [".NDJSON"]}"#).expect("settings");
        assert_eq!(s.extensions, ["ndjson"]);
        assert_eq!(
            Settings::parse(" ").expect("default").extensions,
            ["ndjson", "jsonl", "log", "json"]
        );
    }

    #[test]
    fn root_stays_inside_the_grant() {
        let data =
            std::env::temp_dir().join(format!("casefile-ndjson-data-{}", std::process::id()));
        std::fs::create_dir_all(data.join("app")).expect("mkdir");
        let with = |dir: &str| {
            Settings {
                dir: dir.into(),
                ..Settings::default()
            }
            .root_in(&data)
        };
        assert_eq!(with("").expect("root"), data.join(""));
        assert_eq!(with("app").expect("root"), data.join("app"));
        assert!(matches!(with("../etc"), Err(PluginError::InvalidInput(_))));
        assert!(matches!(with("/etc"), Err(PluginError::InvalidInput(_))));
        assert!(matches!(with("missing"), Err(PluginError::Unavailable(_))));
        let missing = Settings::default().root_in(&data.join("nope"));
        assert!(
            matches!(missing, Err(PluginError::Unavailable(m)) if m.starts_with("no directory granted"))
        );
        let _ = std::fs::remove_dir_all(&data);
    }
}
