//! The `sq` binary.

fn main() -> std::process::ExitCode {
    sq::cli::main()
}
