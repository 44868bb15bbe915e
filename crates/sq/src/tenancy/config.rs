//! The tenants file: parsing, validation and data-directory creation.
//!
//! The reference shape is `{"tenants": {"<token>": {"name": "…", "data_dir": "…"}}}`
//! with an optional top-level `admin_key`. A file is accepted whole or not at all, and
//! no message ever contains a token.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::token::TokenDigest;

/// One tenant entry after validation.
#[derive(Debug, Clone)]
pub struct TenantEntry {
    /// Digest of the token that authenticates as this tenant.
    pub token: TokenDigest,
    /// Display name.
    pub name: String,
    /// Absolute, existing data directory.
    pub data_dir: PathBuf,
    /// A disabled tenant is refused with 403.
    pub enabled: bool,
}

/// A validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Digest of the admin token, if one is configured.
    pub admin: Option<TokenDigest>,
    /// Every token's tenant.
    pub tenants: Vec<TenantEntry>,
    /// Fields SQ does not know, reported but harmless.
    pub warnings: Vec<String>,
}

impl Config {
    /// The number of distinct tenants (tokens of one tenant count once).
    pub fn tenant_count(&self) -> usize {
        let mut names: Vec<&str> = self.tenants.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }
}

/// Why a config file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

const TENANT_FIELDS: [&str; 3] = ["name", "data_dir", "enabled"];

/// Reads, validates and applies (creates data directories for) the config at `path`.
/// Relative data directories are resolved against `base`.
pub fn load(path: &Path, base: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config {}: {e}", path.display())))?;
    parse(&text, base)
}

/// Validates config text; see [`load`].
pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| ConfigError(format!("invalid JSON: {e}")))?;
    let Value::Object(root) = root else {
        return Err(ConfigError("the config must be a JSON object".into()));
    };
    let mut warnings = Vec::new();
    for key in root
        .keys()
        .filter(|k| !matches!(k.as_str(), "tenants" | "admin_key"))
    {
        warnings.push(format!("unknown top-level field \"{key}\" ignored"));
    }
    let admin = match root.get("admin_key") {
        None => None,
        Some(Value::String(key)) if !key.is_empty() => Some(TokenDigest::of(key.as_bytes())),
        Some(_) => {
            return Err(ConfigError(
                "\"admin_key\" must be a non-empty string".into(),
            ))
        }
    };
    let Some(Value::Object(tenants)) = root.get("tenants") else {
        return Err(ConfigError(
            "\"tenants\" must be an object mapping each token to {\"name\", \"data_dir\"}".into(),
        ));
    };
    let mut entries = Vec::with_capacity(tenants.len());
    for (position, (token, value)) in tenants.iter().enumerate() {
        entries.push(tenant_entry(
            position + 1,
            token,
            value,
            base,
            &mut warnings,
        )?);
    }
    check_shared_directories(&entries)?;
    Ok(Config {
        admin,
        tenants: entries,
        warnings,
    })
}

fn tenant_entry(
    position: usize,
    token: &str,
    value: &Value,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Result<TenantEntry, ConfigError> {
    let Value::Object(fields) = value else {
        return Err(ConfigError(format!(
            "tenant entry #{position} must be an object"
        )));
    };
    let name = match fields.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => {
            return Err(ConfigError(format!(
                "tenant entry #{position}: \"name\" must be a non-empty string"
            )))
        }
    };
    if token.is_empty() {
        return Err(ConfigError(format!("tenant '{name}': empty token")));
    }
    let data_dir = string_field(fields, "data_dir", &name)?;
    let enabled = match fields.get("enabled") {
        None => true,
        Some(Value::Bool(enabled)) => *enabled,
        Some(_) => {
            return Err(ConfigError(format!(
                "tenant '{name}': \"enabled\" must be true or false"
            )))
        }
    };
    for key in fields
        .keys()
        .filter(|k| !TENANT_FIELDS.contains(&k.as_str()))
    {
        warnings.push(format!("tenant '{name}': unknown field \"{key}\" ignored"));
    }
    Ok(TenantEntry {
        token: TokenDigest::of(token.as_bytes()),
        data_dir: prepare_directory(&name, &base.join(data_dir))?,
        name,
        enabled,
    })
}

fn string_field(
    fields: &Map<String, Value>,
    key: &str,
    tenant: &str,
) -> Result<String, ConfigError> {
    match fields.get(key) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
        _ => Err(ConfigError(format!(
            "tenant '{tenant}': \"{key}\" must be a non-empty string"
        ))),
    }
}

/// Creates the directory (with parents) and returns its canonical path.
pub fn prepare_directory(tenant: &str, dir: &Path) -> Result<PathBuf, ConfigError> {
    std::fs::create_dir_all(dir)
        .and_then(|()| dir.canonicalize())
        .map_err(|e| {
            ConfigError(format!(
                "tenant '{tenant}': cannot create data directory {}: {e}",
                dir.display()
            ))
        })
}

/// Two differently named tenants must not share a directory; two tokens of one tenant may.
fn check_shared_directories(entries: &[TenantEntry]) -> Result<(), ConfigError> {
    let mut owners: HashMap<&Path, &str> = HashMap::new();
    for entry in entries {
        match owners.insert(&entry.data_dir, &entry.name) {
            Some(other) if other != entry.name => {
                let (first, second) = if other < entry.name.as_str() {
                    (other, entry.name.as_str())
                } else {
                    (entry.name.as_str(), other)
                };
                return Err(ConfigError(format!(
                    "tenants '{first}' and '{second}' share the data directory {}",
                    entry.data_dir.display()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        parse(text, dir)
    }

    #[test]
    fn reference_shape_loads_and_creates_directories() {
        let dir = tempfile::tempdir().unwrap();
        let config = parse_in(
            dir.path(),
            r#"{"admin_key": "adm", "tenants": {
                "tok:en-1": {"name": "alice", "data_dir": "data/alice"},
                "tok-2": {"name": "alice", "data_dir": "data/alice"},
                "tok-3": {"name": "bob", "data_dir": "data/bob", "enabled": false, "comment": "x", "tier": 2}
            }}"#,
        )
        .unwrap();
        assert_eq!(config.tenants.len(), 3);
        assert_eq!(config.tenant_count(), 2);
        assert!(dir.path().join("data/alice").is_dir());
        assert!(config.admin.is_some());
        let bob = config.tenants.iter().find(|t| t.name == "bob").unwrap();
        assert!(!bob.enabled);
        let mut warnings = config.warnings.clone();
        warnings.sort();
        assert_eq!(
            warnings,
            [
                "tenant 'bob': unknown field \"comment\" ignored",
                "tenant 'bob': unknown field \"tier\" ignored"
            ]
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_message_naming_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let cases = [
            (
                "{",
                "invalid JSON: EOF while parsing an object at line 1 column 1",
            ),
            ("[]", "the config must be a JSON object"),
            (r#"{"tenants": []}"#, "\"tenants\" must be an object"),
            (
                r#"{"tenants": {"": {"name": "eve", "data_dir": "e"}}}"#,
                "tenant 'eve': empty token",
            ),
            (
                r#"{"tenants": {"t": {"data_dir": "e"}}}"#,
                "tenant entry #1: \"name\" must be a non-empty string",
            ),
            (
                r#"{"tenants": {"t": {"name": "eve"}}}"#,
                "tenant 'eve': \"data_dir\" must be a non-empty string",
            ),
            (
                r#"{"tenants": {"t": {"name": "eve", "data_dir": "e", "enabled": "no"}}}"#,
                "tenant 'eve': \"enabled\" must be true or false",
            ),
            (
                r#"{"tenants": {"t": "secret-looking"}}"#,
                "tenant entry #1 must be an object",
            ),
            (
                r#"{"admin_key": "", "tenants": {}}"#,
                "\"admin_key\" must be a non-empty string",
            ),
            (
                r#"{"tenants": {"token-one-secret": {"name": "a", "data_dir": "same"}, "token-two-secret": {"name": "b", "data_dir": "./same/"}}}"#,
                "tenants 'a' and 'b' share the data directory",
            ),
            (
                r#"{"tenants": {"t": {"name": "eve", "data_dir": "file/sub"}}}"#,
                "tenant 'eve': cannot create data directory",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_in(dir.path(), text).unwrap_err().0;
            assert!(error.starts_with(expected), "{text}: got {error:?}");
            for token in ["token-one-secret", "token-two-secret", "secret-looking"] {
                assert!(!error.contains(token), "token leaked in {error:?}");
            }
        }
    }
}
