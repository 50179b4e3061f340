fn main() -> std::process::ExitCode {
    gknb::cli::main()
}
