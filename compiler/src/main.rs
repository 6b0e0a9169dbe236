use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(netbootc::run(std::env::args_os()))
}
