use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let config = netboot_proxy::Config::parse();
    config.log.init();
    netboot_http::process::main_with(
        "netboot-proxy",
        tokio::runtime::Builder::new_multi_thread(),
        netboot_proxy::run(config),
    )
}
