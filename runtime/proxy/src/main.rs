use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let config = netboot_proxy::Config::parse();
    config.log.init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("netboot-proxy: starting the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(netboot_proxy::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netboot-proxy: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
