//! `sq tenants generate`: a multi-tenant config with fresh tokens.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::tenancy::config::check_presentable;
use crate::tenancy::token::{self, TokenDigest};

/// `sq tenants generate` flags.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many tenants.
    #[arg(long)]
    pub count: usize,
    /// Each tenant's data directory is `<DATA_ROOT>/tenant-NNNN`.
    #[arg(long)]
    pub data_root: PathBuf,
    /// Where to write the config (never overwritten).
    #[arg(long, default_value = "tenants.json")]
    pub out: PathBuf,
}

/// Writes the config and prints `name<TAB>token` per tenant, the only time the tokens
/// are shown besides the file itself.
pub fn generate(args: &GenerateArgs) -> Result<(), String> {
    if args.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let width = args.count.to_string().len().max(4);
    let mut tenants = Map::new();
    let mut listing = String::new();
    for i in 1..=args.count {
        let name = format!("tenant-{i:0width$}");
        let token = token::generate();
        let data_dir = args.data_root.join(&name);
        tenants.insert(
            token.clone(),
            json!({"name": name, "data_dir": data_dir.to_string_lossy()}),
        );
        listing.push_str(&format!("{name}\t{token}\n"));
    }
    let config = json!({ "tenants": Value::Object(tenants) });
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    print!("{listing}");
    eprintln!("wrote {} tenants to {}", args.count, args.out.display());
    Ok(())
}

/// Reads a token from stdin (one line; surrounding whitespace ignored) and prints its
/// digest.
pub fn hash() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_line(&mut input)
        .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
    let token = input.trim();
    if token.is_empty() {
        return Err("no token on stdin".into());
    }
    println!("{}", TokenDigest::of(token.as_bytes()).to_hex());
    Ok(())
}

/// `sq tenants import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The config to convert.
    pub file: PathBuf,
}

/// Converts the router's `{"tenants": [{"token", "port", "data_dir"}]}` (or the
/// reference map shape) into SQ's array shape, tokens replaced by their digests.
pub fn import(args: &ImportArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let root: Value = serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?;
    let converted = convert(&root)?;
    let out = serde_json::to_string_pretty(&converted).map_err(|e| e.to_string())?;
    println!("{out}");
    Ok(())
}

fn convert(root: &Value) -> Result<Value, String> {
    let mut tenants = Vec::new();
    match root.get("tenants") {
        Some(Value::Array(list)) => {
            for (i, entry) in list.iter().enumerate() {
                let fields = entry
                    .as_object()
                    .ok_or(format!("tenant entry #{} is not an object", i + 1))?;
                let token = fields
                    .get("token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or(format!("tenant entry #{} has no token", i + 1))?;
                check_presentable(&format!("tenant entry #{}", i + 1), token).map_err(|e| e.0)?;
                let data_dir = fields
                    .get("data_dir")
                    .and_then(Value::as_str)
                    .ok_or(format!("tenant entry #{} has no data_dir", i + 1))?;
                // The router has no names: the data directory's last part, else the port.
                let name = match fields.get("name").and_then(Value::as_str) {
                    Some(name) => name.to_owned(),
                    None => std::path::Path::new(data_dir)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .or_else(|| fields.get("port").map(|p| format!("port-{p}")))
                        .unwrap_or_else(|| format!("tenant-{}", i + 1)),
                };
                if fields.contains_key("port") {
                    eprintln!(
                        "tenant '{name}': \"port\" dropped (SQ serves every tenant on one port)"
                    );
                }
                tenants.push(json!({
                    "name": name,
                    "token_sha256": TokenDigest::of(token.as_bytes()).to_hex(),
                    "data_dir": data_dir,
                }));
            }
        }
        Some(Value::Object(map)) => {
            for (token, fields) in map {
                let mut entry = fields
                    .as_object()
                    .cloned()
                    .ok_or("a tenant entry is not an object")?;
                let owner = match entry.get("name").and_then(Value::as_str) {
                    Some(name) => format!("tenant '{name}'"),
                    None => "a tenant entry".to_owned(),
                };
                check_presentable(&owner, token).map_err(|e| e.0)?;
                entry.insert(
                    "token_sha256".into(),
                    json!(TokenDigest::of(token.as_bytes()).to_hex()),
                );
                tenants.push(Value::Object(entry));
            }
        }
        _ => return Err("no \"tenants\" array or object to import".into()),
    }
    let mut out = Map::new();
    if let Some(Value::String(key)) = root.get("admin_key") {
        out.insert(
            "admin_token_sha256".into(),
            json!(TokenDigest::of(key.as_bytes()).to_hex()),
        );
    }
    out.insert("tenants".into(), Value::Array(tenants));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_entries_become_hashed_tenants() {
        let router = json!({"tenants": [
            {"token": "secret-1", "port": 8001, "data_dir": "/srv/sq/alice"},
            {"token": "secret-2", "port": 8002, "data_dir": "/"}
        ]});
        let converted = convert(&router).unwrap();
        let text = converted.to_string();
        assert!(!text.contains("secret-"), "{text}");
        assert_eq!(converted["tenants"][0]["name"], "alice");
        assert_eq!(converted["tenants"][1]["name"], "port-8002");
        assert_eq!(
            converted["tenants"][0]["token_sha256"],
            TokenDigest::of(b"secret-1").to_hex()
        );
    }

    #[test]
    fn tokens_no_request_can_present_are_refused() {
        let router = json!({"tenants": [{"token": "secret-1 ", "data_dir": "/srv/a"}]});
        let error = convert(&router).unwrap_err();
        assert!(
            error.starts_with("tenant entry #1: the token has leading"),
            "{error}"
        );
        assert!(!error.contains("secret-1"));
        let map = json!({"tenants": {"\tsecret-2": {"name": "b", "data_dir": "b"}}});
        let error = convert(&map).unwrap_err();
        assert!(
            error.starts_with("tenant 'b': the token has leading"),
            "{error}"
        );
    }
}
