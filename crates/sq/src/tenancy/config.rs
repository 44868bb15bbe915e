//! The tenants file: parsing, validation and data-directory creation.
//!
//! Validation is pure: it reads the file and the directories that exist, and decides
//! everything — canonical data directories included — before anything changes. Only a
//! config that is accepted creates its directories ([`Config::create_directories`]).
//!
//! Two shapes are read. The reference map shape,
//! `{"tenants": {"<token>": {"name": "…", "data_dir": "…"}}}`, where each key is a token,
//! and the array shape,
//! `{"tenants": [{"name", "token" | "token_sha256", "data_dir", …}]}`, which can hold
//! tokens as SHA-256 digests only. Both may carry `admin_key` (or `admin_token_sha256`),
//! `defaults` (`quota_mb`, `rate_limit_rps`), `data_root` (where tenants created through
//! the admin API live) and, per tenant, `enabled`, `quota_mb`, `rate_limit_rps` and
//! `expires_at` (unix seconds after which that token stops working: key rotation with
//! grace). A file is accepted whole or not at all, and no message ever contains a token.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use sq_store::TenantId;

use super::token::TokenDigest;

/// One token's tenant entry after validation.
#[derive(Debug, Clone)]
pub struct TenantEntry {
    /// Digest of the token that authenticates as this tenant.
    pub token: TokenDigest,
    /// Display name.
    pub name: String,
    /// The id the store knows the tenant by: the name, or one made from it when the name
    /// is a display name that is not a valid id.
    pub id: TenantId,
    /// Absolute, existing data directory.
    pub data_dir: PathBuf,
    /// A disabled tenant is refused with 403.
    pub enabled: bool,
    /// Storage quota in bytes, if any.
    pub quota_bytes: Option<u64>,
    /// Requests per second allowed, if limited.
    pub rate_limit_rps: Option<f64>,
    /// Unix time after which this token no longer authenticates.
    pub expires_at: Option<u64>,
}

/// Values tenants inherit unless they set their own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// Default storage quota in bytes.
    pub quota_bytes: Option<u64>,
    /// Default request rate.
    pub rate_limit_rps: Option<f64>,
}

/// A validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Digest of the admin token, if one is configured.
    pub admin: Option<TokenDigest>,
    /// Every token's tenant.
    pub tenants: Vec<TenantEntry>,
    /// Inherited settings.
    pub defaults: Defaults,
    /// Where tenants created through the admin API get their directories.
    pub data_root: PathBuf,
    /// Fields SQ does not know, reported but harmless.
    pub warnings: Vec<String>,
}

impl Config {
    /// Creates every tenant's data directory (with parents); call once the config is
    /// accepted.
    pub fn create_directories(&self) -> Result<(), ConfigError> {
        let mut done: std::collections::HashSet<&Path> = std::collections::HashSet::new();
        for entry in &self.tenants {
            if done.insert(&entry.data_dir) {
                create_directory(&entry.name, &entry.data_dir)?;
            }
        }
        Ok(())
    }

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

const TENANT_FIELDS: [&str; 8] = [
    "name",
    "data_dir",
    "enabled",
    "token",
    "token_sha256",
    "quota_mb",
    "rate_limit_rps",
    "expires_at",
];
const TOP_FIELDS: [&str; 6] = [
    "tenants",
    "generation",
    "admin_key",
    "admin_token_sha256",
    "defaults",
    "data_root",
];

/// Validates config text; see [`validate`].
#[cfg(test)]
pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| ConfigError(format!("invalid JSON: {e}")))?;
    validate(&root, base)
}

/// Validates a parsed config (the file is read by [`super::ledger::Ledger::load`]); creates
/// nothing. Relative data directories are resolved against `base`.
pub fn validate(root: &Value, base: &Path) -> Result<Config, ConfigError> {
    let Value::Object(top) = root else {
        return Err(ConfigError("the config must be a JSON object".into()));
    };
    let mut warnings = Vec::new();
    for key in top.keys().filter(|k| !TOP_FIELDS.contains(&k.as_str())) {
        warnings.push(format!("unknown top-level field \"{key}\" ignored"));
    }
    let admin =
        match (top.get("admin_key"), top.get("admin_token_sha256")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "give either \"admin_key\" or \"admin_token_sha256\", not both".into(),
                ))
            }
            (Some(Value::String(key)), None) if !key.is_empty() => {
                check_presentable("\"admin_key\"", key)?;
                Some(TokenDigest::of(key.as_bytes()))
            }
            (Some(_), None) => {
                return Err(ConfigError(
                    "\"admin_key\" must be a non-empty string".into(),
                ))
            }
            (None, Some(hex)) => Some(digest_field(hex).ok_or_else(|| {
                ConfigError("\"admin_token_sha256\" must be 64 hex digits".into())
            })?),
            (None, None) => None,
        };
    if top.get("generation").is_some_and(|g| g.as_u64().is_none()) {
        return Err(ConfigError(
            "\"generation\" must be a whole number (SQ writes it: keep it as it is)".into(),
        ));
    }
    let defaults = match top.get("defaults") {
        None => Defaults::default(),
        Some(Value::Object(fields)) => {
            for key in fields
                .keys()
                .filter(|k| !matches!(k.as_str(), "quota_mb" | "rate_limit_rps"))
            {
                warnings.push(format!("defaults: unknown field \"{key}\" ignored"));
            }
            Defaults {
                quota_bytes: quota(fields, "defaults")?,
                rate_limit_rps: rate(fields, "defaults")?,
            }
        }
        Some(_) => return Err(ConfigError("\"defaults\" must be an object".into())),
    };
    let data_root = match top.get("data_root") {
        None => base.join("data"),
        Some(Value::String(root)) if !root.is_empty() => base.join(root),
        Some(_) => {
            return Err(ConfigError(
                "\"data_root\" must be a non-empty string".into(),
            ))
        }
    };
    let entries: Vec<(Option<&str>, &Value)> =
        match top.get("tenants") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(token, value)| (Some(token.as_str()), value))
                .collect(),
            Some(Value::Array(list)) => list.iter().map(|value| (None, value)).collect(),
            _ => return Err(ConfigError(
                "\"tenants\" must be an object mapping tokens to tenants, or an array of tenants"
                    .into(),
            )),
        };
    let mut tenants = Vec::with_capacity(entries.len());
    for (position, (key, value)) in entries.into_iter().enumerate() {
        tenants.push(tenant_entry(
            position + 1,
            key,
            value,
            base,
            &defaults,
            &mut warnings,
        )?);
    }
    check_shared_directories(&tenants)?;
    check_nested_directories(&tenants)?;
    check_duplicate_tokens(&tenants)?;
    check_tenant_ids(&tenants)?;
    Ok(Config {
        admin,
        tenants,
        defaults,
        data_root,
        warnings,
    })
}

/// A token some request can present. Header values lose surrounding spaces and tabs and
/// cannot carry other control characters, so a token with either could never
/// authenticate: refused here rather than discovered by a locked-out client. The message
/// never shows the token.
pub fn check_presentable(owner: &str, token: &str) -> Result<(), ConfigError> {
    if token.starts_with([' ', '\t']) || token.ends_with([' ', '\t']) {
        return Err(ConfigError(format!(
            "{owner}: the token has leading or trailing whitespace, which no request can \
             present (header values are trimmed)"
        )));
    }
    if token.chars().any(|c| c != '\t' && c.is_control()) {
        return Err(ConfigError(format!(
            "{owner}: the token contains a control character, which no request can present"
        )));
    }
    Ok(())
}

/// A SHA-256 digest written as 64 hex digits.
fn digest_field(value: &Value) -> Option<TokenDigest> {
    value.as_str().and_then(TokenDigest::from_hex)
}

fn quota(fields: &Map<String, Value>, owner: &str) -> Result<Option<u64>, ConfigError> {
    match fields.get("quota_mb") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_f64() {
            Some(mb) if mb >= 0.0 && mb.is_finite() => Ok(Some((mb * 1024.0 * 1024.0) as u64)),
            _ => Err(ConfigError(format!(
                "{owner}: \"quota_mb\" must be a non-negative number"
            ))),
        },
    }
}

fn rate(fields: &Map<String, Value>, owner: &str) -> Result<Option<f64>, ConfigError> {
    match fields.get("rate_limit_rps") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_f64() {
            Some(rps) if rps > 0.0 && rps.is_finite() => Ok(Some(rps)),
            _ => Err(ConfigError(format!(
                "{owner}: \"rate_limit_rps\" must be a positive number"
            ))),
        },
    }
}

/// Validates one tenant entry (`key` is its token in the map shape).
pub(super) fn tenant_entry(
    position: usize,
    key: Option<&str>,
    value: &Value,
    base: &Path,
    defaults: &Defaults,
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
    let owner = format!("tenant '{name}'");
    let token = match (key, fields.get("token"), fields.get("token_sha256")) {
        (Some(""), _, _) => return Err(ConfigError(format!("{owner}: empty token"))),
        (Some(key), None, None) => {
            check_presentable(&owner, key)?;
            TokenDigest::of(key.as_bytes())
        }
        (Some(_), _, _) => {
            return Err(ConfigError(format!(
                "{owner}: in the map shape the key is the token; \"token\" and \"token_sha256\" are not allowed"
            )))
        }
        (None, Some(_), Some(_)) => {
            return Err(ConfigError(format!("{owner}: give either \"token\" or \"token_sha256\", not both")))
        }
        (None, Some(Value::String(token)), None) if !token.is_empty() => {
            check_presentable(&owner, token)?;
            TokenDigest::of(token.as_bytes())
        }
        (None, Some(_), None) => return Err(ConfigError(format!("{owner}: empty token"))),
        (None, None, Some(hex)) => digest_field(hex)
            .ok_or_else(|| ConfigError(format!("{owner}: \"token_sha256\" must be 64 hex digits")))?,
        (None, None, None) => {
            return Err(ConfigError(format!("{owner}: needs \"token\" or \"token_sha256\"")))
        }
    };
    let data_dir = match fields.get("data_dir") {
        Some(Value::String(dir)) if !dir.is_empty() => dir.clone(),
        _ => {
            return Err(ConfigError(format!(
                "{owner}: \"data_dir\" must be a non-empty string"
            )))
        }
    };
    let enabled = match fields.get("enabled") {
        None => true,
        Some(Value::Bool(enabled)) => *enabled,
        Some(_) => {
            return Err(ConfigError(format!(
                "{owner}: \"enabled\" must be true or false"
            )))
        }
    };
    let expires_at =
        match fields.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.as_u64().ok_or_else(|| {
                ConfigError(format!("{owner}: \"expires_at\" must be unix seconds"))
            })?),
        };
    for key in fields
        .keys()
        .filter(|k| !TENANT_FIELDS.contains(&k.as_str()))
    {
        warnings.push(format!("{owner}: unknown field \"{key}\" ignored"));
    }
    Ok(TenantEntry {
        token,
        data_dir: resolve_directory(&name, &base.join(data_dir))?,
        enabled,
        quota_bytes: quota(fields, &owner)?.or(defaults.quota_bytes),
        rate_limit_rps: rate(fields, &owner)?.or(defaults.rate_limit_rps),
        expires_at,
        id: TenantId::for_name(&name),
        name,
    })
}

/// The canonical path `dir` has, or will have once created, without creating anything:
/// the longest existing ancestor canonicalized (symlinks resolved), then the components
/// that do not exist yet, which cannot be symlinks.
pub fn resolve_directory(tenant: &str, dir: &Path) -> Result<PathBuf, ConfigError> {
    let refuse = |why: String| {
        ConfigError(format!(
            "tenant '{tenant}': cannot create data directory {}: {why}",
            dir.display()
        ))
    };
    let absolute = std::path::absolute(dir).map_err(|e| refuse(e.to_string()))?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    let canonical = loop {
        match existing.canonicalize() {
            Ok(canonical) => break canonical,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let (Some(parent), Some(last)) =
                    (existing.parent(), existing.components().next_back())
                else {
                    return Err(refuse(error.to_string()));
                };
                missing.push(last);
                existing = parent;
            }
            Err(error) => return Err(refuse(error.to_string())),
        }
    };
    if !canonical.is_dir() {
        return Err(refuse("Not a directory".into()));
    }
    let mut resolved = canonical;
    for component in missing.into_iter().rev() {
        match component {
            std::path::Component::ParentDir => {
                resolved.pop();
            }
            std::path::Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    Ok(resolved)
}

/// Creates `dir` (with parents) and returns its canonical path.
pub fn prepare_directory(tenant: &str, dir: &Path) -> Result<PathBuf, ConfigError> {
    create_directory(tenant, dir)?;
    dir.canonicalize().map_err(|e| {
        ConfigError(format!(
            "tenant '{tenant}': cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}

/// Creates `dir` with its parents.
pub(super) fn create_directory(tenant: &str, dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        ConfigError(format!(
            "tenant '{tenant}': cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}

/// One tenant's directory may not lie inside another's, either way round: deleting the
/// outer tenant would move the inner one's data away from under it.
fn check_nested_directories(entries: &[TenantEntry]) -> Result<(), ConfigError> {
    let mut dirs: Vec<(&Path, &str)> = entries
        .iter()
        .map(|e| (e.data_dir.as_path(), e.name.as_str()))
        .collect();
    dirs.sort_unstable();
    dirs.dedup_by(|a, b| a.0 == b.0);
    // In component order an ancestor is immediately followed by a path inside it.
    for pair in dirs.windows(2) {
        let ((outer, outer_name), (inner, inner_name)) = (pair[0], pair[1]);
        if inner.starts_with(outer) {
            return Err(ConfigError(format!(
                "tenants '{outer_name}' and '{inner_name}' have nested data directories: \
                 {} lies inside {}",
                inner.display(),
                outer.display()
            )));
        }
    }
    Ok(())
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

/// One token may not open two entries.
fn check_duplicate_tokens(entries: &[TenantEntry]) -> Result<(), ConfigError> {
    let mut seen: HashMap<TokenDigest, &str> = HashMap::new();
    for entry in entries {
        if let Some(other) = seen.insert(entry.token, &entry.name) {
            return Err(ConfigError(format!(
                "tenants '{other}' and '{}' use the same token",
                entry.name
            )));
        }
    }
    Ok(())
}

/// Two differently named tenants may not have one id (a display name's made id equal to
/// another tenant's name, say).
fn check_tenant_ids(entries: &[TenantEntry]) -> Result<(), ConfigError> {
    let mut seen: HashMap<&TenantId, &str> = HashMap::new();
    for entry in entries {
        match seen.insert(&entry.id, &entry.name) {
            Some(other) if other != entry.name => {
                return Err(ConfigError(format!(
                    "tenants '{other}' and '{}' have the same id '{}'",
                    entry.name, entry.id
                )))
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
    fn display_names_keep_loading_under_ids_made_from_them() {
        let dir = tempfile::tempdir().unwrap();
        let config = parse_in(
            dir.path(),
            r#"{"tenants": {
                "token-one": {"name": "Alice's notes", "data_dir": "a"},
                "token-two": {"name": "Alice's notes", "data_dir": "a"},
                "token-three": {"name": "bob", "data_dir": "b"}
            }}"#,
        )
        .unwrap();
        let mut ids: Vec<&str> = config.tenants.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        let made = TenantId::for_name("Alice's notes");
        assert_eq!(ids, ["bob", made.as_str(), made.as_str()]);
        assert!(made.as_str().starts_with("t-"));

        // A name equal to another's made id would merge two tenants: refused.
        let clash = format!(
            r#"{{"tenants": {{
                "token-one": {{"name": "Alice's notes", "data_dir": "a"}},
                "token-two": {{"name": "{made}", "data_dir": "b"}}
            }}}}"#
        );
        let error = parse_in(dir.path(), &clash).unwrap_err();
        assert!(error.0.contains("have the same id"), "{}", error.0);
    }

    #[test]
    fn reference_shape_loads_and_creates_directories_once_accepted() {
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
        assert!(
            !dir.path().join("data").exists(),
            "validation creates nothing"
        );
        config.create_directories().unwrap();
        assert!(dir.path().join("data/alice").is_dir());
        assert!(dir.path().join("data/bob").is_dir());
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
            (
                r#"{"tenants": 5}"#,
                "\"tenants\" must be an object mapping tokens to tenants, or an array",
            ),
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
            (
                r#"{"tenants": {"token-one-secret": {"name": "outer", "data_dir": "d"}, "token-two-secret": {"name": "inner", "data_dir": "d/new/../in"}}}"#,
                "tenants 'outer' and 'inner' have nested data directories",
            ),
            (
                r#"{"tenants": {"token-one-secret": {"name": "inner", "data_dir": "e/f/g"}, "token-two-secret": {"name": "outer", "data_dir": "e"}}}"#,
                "tenants 'outer' and 'inner' have nested data directories",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_in(dir.path(), text).unwrap_err().0;
            assert!(error.starts_with(expected), "{text}: got {error:?}");
            for token in ["token-one-secret", "token-two-secret", "secret-looking"] {
                assert!(!error.contains(token), "token leaked in {error:?}");
            }
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"], "refused configs create nothing");
    }

    #[test]
    fn nesting_is_seen_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real/alice")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real/alice"), dir.path().join("link")).unwrap();
        let error = parse_in(
            dir.path(),
            r#"{"tenants": {"a": {"name": "alice", "data_dir": "real/alice"}, "b": {"name": "bob", "data_dir": "link/bob"}}}"#,
        )
        .unwrap_err()
        .0;
        assert!(
            error.contains("tenants 'alice' and 'bob' have nested data directories"),
            "{error}"
        );
        // Siblings whose names share a prefix are not nested.
        let ok = parse_in(
            dir.path(),
            r#"{"tenants": {"a": {"name": "a", "data_dir": "x/ab"}, "b": {"name": "b", "data_dir": "x/a"}, "c": {"name": "c", "data_dir": "x/a-b"}}}"#,
        );
        assert!(ok.is_ok(), "{:?}", ok.err());
    }

    #[test]
    fn array_shape_with_digests_defaults_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let digest = TokenDigest::of(b"hashed-secret").to_hex();
        let text = format!(
            r#"{{"admin_token_sha256": "{digest}", "defaults": {{"quota_mb": 1, "rate_limit_rps": 5}},
                "data_root": "tenants",
                "tenants": [
                  {{"name": "a", "token_sha256": "{digest}", "data_dir": "a"}},
                  {{"name": "b", "token": "plain", "data_dir": "b", "quota_mb": 0.5, "rate_limit_rps": 100,
                    "enabled": false, "expires_at": 1700000000}}
                ]}}"#
        );
        let config = parse_in(dir.path(), &text).unwrap();
        assert_eq!(config.admin, Some(TokenDigest::of(b"hashed-secret")));
        assert_eq!(config.data_root, dir.path().join("tenants"));
        let a = &config.tenants[0];
        assert_eq!(a.token, TokenDigest::of(b"hashed-secret"));
        assert_eq!(
            (a.quota_bytes, a.rate_limit_rps),
            (Some(1 << 20), Some(5.0))
        );
        let b = &config.tenants[1];
        assert_eq!(b.token, TokenDigest::of(b"plain"));
        assert_eq!(
            (b.quota_bytes, b.rate_limit_rps),
            (Some(1 << 19), Some(100.0))
        );
        assert_eq!((b.enabled, b.expires_at), (false, Some(1_700_000_000)));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn array_shape_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                r#"{"tenants": [{"name": "a", "data_dir": "a"}]}"#,
                "tenant 'a': needs \"token\" or \"token_sha256\"",
            ),
            (
                r#"{"tenants": [{"name": "a", "token": "", "data_dir": "a"}]}"#,
                "tenant 'a': empty token",
            ),
            (
                r#"{"tenants": [{"name": "a", "token_sha256": "xyz", "data_dir": "a"}]}"#,
                "tenant 'a': \"token_sha256\" must be 64 hex digits",
            ),
            (
                r#"{"tenants": [{"name": "a", "token": "t", "token_sha256": "t", "data_dir": "a"}]}"#,
                "tenant 'a': give either",
            ),
            (
                r#"{"tenants": [{"name": "a", "token": "t", "data_dir": "a"}, {"name": "b", "token": "t", "data_dir": "b"}]}"#,
                "tenants 'a' and 'b' use the same token",
            ),
            (
                r#"{"tenants": [{"name": "a", "token": "t", "data_dir": "a", "quota_mb": -1}]}"#,
                "tenant 'a': \"quota_mb\" must be a non-negative number",
            ),
            (
                r#"{"tenants": [{"name": "a", "token": "t", "data_dir": "a", "rate_limit_rps": 0}]}"#,
                "tenant 'a': \"rate_limit_rps\" must be a positive number",
            ),
            (
                r#"{"tenants": {"t": {"name": "a", "data_dir": "a", "token": "x"}}}"#,
                "tenant 'a': in the map shape the key is the token",
            ),
            (
                r#"{"tenants": [{"name": "pad", "token": "  padded-token\t", "data_dir": "a"}]}"#,
                "tenant 'pad': the token has leading or trailing whitespace",
            ),
            (
                r#"{"tenants": {"trailing-token ": {"name": "pad", "data_dir": "a"}}}"#,
                "tenant 'pad': the token has leading or trailing whitespace",
            ),
            (
                r#"{"tenants": [{"name": "nl", "token": "line\nbreak", "data_dir": "a"}]}"#,
                "tenant 'nl': the token contains a control character",
            ),
            (
                r#"{"admin_key": "\tsecret-admin", "tenants": []}"#,
                "\"admin_key\": the token has leading or trailing whitespace",
            ),
            (
                r#"{"admin_key": "k", "admin_token_sha256": "k", "tenants": []}"#,
                "give either \"admin_key\" or \"admin_token_sha256\"",
            ),
            (
                r#"{"defaults": [], "tenants": []}"#,
                "\"defaults\" must be an object",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_in(dir.path(), text).unwrap_err().0;
            assert!(error.starts_with(expected), "{text}: got {error:?}");
            for token in ["padded-token", "trailing-token", "break", "secret-admin"] {
                assert!(!error.contains(token), "token leaked in {error:?}");
            }
        }
        // Inner spaces and tabs can be presented, and so are fine.
        let inner = r#"{"tenants": [{"name": "ok", "token": "a b\tc", "data_dir": "a"}]}"#;
        assert!(parse_in(dir.path(), inner).is_ok());
    }
}
