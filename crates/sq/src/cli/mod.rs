//! The command line: `sq host`, `sq tenants generate`, `sq version`.

mod host;
mod log_format;
mod log_sink;
mod tenants;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// SQ: a multi-tenant phext database server.
#[derive(Debug, Parser)]
#[command(name = "sq", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the v2 HTTP API.
    Host(HostArgs),
    /// Manage multi-tenant configs.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Print the server's version.
    Version,
}

/// `sq host` flags.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// TCP port to listen on (0 picks a free one).
    pub port: u16,
    /// Address to bind (IPv4 or IPv6).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Multi-tenant mode: tenants come from this JSON file.
    #[arg(long, conflicts_with_all = ["key", "data_dir"])]
    pub config: Option<PathBuf>,
    /// Single-tenant mode behind this token.
    #[arg(long)]
    pub key: Option<String>,
    /// Single-tenant data directory (default: the working directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Largest request body in bytes (at most 1 GiB: a stored record's length is 32 bits).
    #[arg(long, default_value_t = 64 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(0..=1024 * 1024 * 1024))]
    pub max_body: u64,
    /// Largest request head in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_header: usize,
    /// Open connections beyond this are answered 503 (default: what the open-file limit
    /// and an eighth of the memory allow, at 64 KiB per busy connection).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Open connections one client address may hold before it gets 503 (default: a
    /// quarter of --max-connections; 0: no cap). IPv6 addresses count by their /64.
    #[arg(long)]
    pub max_connections_per_address: Option<usize>,
    /// Reverse proxies in front of SQ (addresses or CIDR prefixes, comma-separated or
    /// repeated): they carry many clients, so the per-address cap does not apply to them.
    #[arg(long, value_delimiter = ',', value_parser = parse_network)]
    pub trust_proxy: Vec<ipnet::IpNet>,
    /// Seconds before an idle keep-alive connection is closed.
    #[arg(long, default_value_t = 30)]
    pub idle_timeout: u64,
    /// Seconds a request has to arrive completely (408 after), and an answer may go
    /// unread before the connection is closed.
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Largest coordinate component a request may address.
    #[arg(long, default_value_t = phext::DEFAULT_MAX_COMPONENT)]
    pub max_coordinate: u32,
    /// When writes reach the disk: `batch` syncs before every reply and lets concurrent
    /// writers share a sync; `always` gives every write its own sync; `off` never syncs
    /// (writes survive a crash of SQ, not of the machine).
    #[arg(long, value_enum, default_value_t = Sync::Batch)]
    pub sync: Sync,
    /// Memory budget for resident documents, in MiB; least recently used documents are
    /// checkpointed and evicted beyond it.
    #[arg(long, default_value_t = 512)]
    pub max_resident_mb: u64,
    /// Memory for large response bodies (16 KiB and up) that connections are still
    /// sending, in MiB; a body shared by several readers counts once. Past it, a request
    /// that needs a new one waits up to 5 s for room, then gets 503.
    #[arg(long, default_value_t = 256)]
    pub max_response_mb: u64,
    /// A document's log is folded into its .phext file once it is longer than this (KiB)
    /// and than the document.
    #[arg(long, default_value_t = 4096)]
    pub checkpoint_kb: u64,
    /// A document is folded into its .phext file once it has gone this many seconds
    /// without a write, so the files are current whenever the server is quiet (0: only
    /// when its log is long, on eviction and at shutdown).
    #[arg(long, default_value_t = 5)]
    pub idle_checkpoint_secs: u64,
    /// Failed authentications allowed per client address per minute before it gets 429
    /// (0: no limit).
    #[arg(long, default_value_t = 60)]
    pub auth_failures_per_minute: u32,
    /// Threads serving requests (default: one per CPU core). Fewer leave cores to other
    /// processes on the machine, such as a load generator.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
}

/// An address (a network of one) or a CIDR prefix.
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("'{text}' is neither an IP address nor a CIDR prefix"))
}

/// `--sync` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sync {
    /// One sync per write.
    Always,
    /// Syncs shared by concurrent writers (group commit); durable.
    Batch,
    /// No syncs.
    Off,
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Write a config with N fresh tenants and print their tokens once.
    Generate(tenants::GenerateArgs),
    /// Print the SHA-256 digest (for `token_sha256`) of a token read from stdin.
    Hash,
    /// Convert another config shape (the router's array, the reference map) into SQ's
    /// array shape with hashed tokens, on stdout.
    Import(tenants::ImportArgs),
}

const USAGE: &str = "Usage: sq host <PORT> [--bind ADDR] [--config FILE | [--key TOKEN] [--data-dir DIR]] (sq --help for more)";

/// Runs the command line and returns the process status.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs with explicit arguments: start-up errors exit 1 with a usage line on stderr.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            if !error.use_stderr() {
                return ExitCode::SUCCESS;
            }
            eprintln!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Tenants(TenantsCommand::Generate(args)) => report(tenants::generate(&args)),
        Command::Tenants(TenantsCommand::Hash) => report(tenants::hash()),
        Command::Tenants(TenantsCommand::Import(args)) => report(tenants::import(&args)),
        Command::Host(args) => report(host::run(args)),
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!("{USAGE}");
            ExitCode::from(1)
        }
    }
}
