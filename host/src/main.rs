fn main() -> std::process::ExitCode {
    casefile::cli::main()
}
