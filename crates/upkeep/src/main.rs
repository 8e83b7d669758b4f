//! `upkeep`: production support for small teams, in one binary. See `upkeep --help`.

fn main() -> std::process::ExitCode {
    upkeep::cli::main()
}
