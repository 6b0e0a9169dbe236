//! `cargo run -p netboot-devcerts --example dev-certs -- <dir>`: the generator without the CLI.
fn main() -> Result<(), netboot_devcerts::Error> {
    let dir = std::env::args().nth(1).ok_or("usage: dev-certs <dir>")?;
    for path in netboot_devcerts::write_dev_certs(std::path::Path::new(&dir))? {
        println!("{}", path.display());
    }
    Ok(())
}
