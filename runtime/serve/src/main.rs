use clap::Parser;

fn main() -> std::process::ExitCode {
    let config = netboot_serve::Config::parse();
    config.log.init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("netboot-serve: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(netboot_serve::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("netboot-serve: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
