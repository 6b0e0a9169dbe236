//! `cargo run -p netboot-devcerts --example dev-certs -- <dir> [name|IP]...`: the generator without the CLI.
fn main() -> Result<(), netboot_devcerts::Error> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: dev-certs <dir> [server name or IP]...")?;
    let names: Vec<String> = args.collect();
    for path in netboot_devcerts::write_dev_certs(std::path::Path::new(&dir), &names, &[])? {
        println!("{}", path.display());
    }
    Ok(())
}
