//! `sq tenants generate`: a multi-tenant config with fresh tokens.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::tenancy::token;

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
