use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let config = netboot_serve::Config::parse();
    config.log.init();
    netboot_http::process::main_with(
        "netboot-serve",
        tokio::runtime::Builder::new_multi_thread(),
        netboot_serve::run(config),
    )
}
