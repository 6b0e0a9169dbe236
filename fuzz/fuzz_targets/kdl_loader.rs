//! The compiler's front end, loader to validation: any bytes as a machines file next to
//! the example site and profiles are decoded (UTF-8, size), parsed and validated into a
//! config or diagnostics, never a panic; the parser is linear, so a slow input is a finding
//! (libFuzzer's -timeout in fuzz/run.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::loader::decode;
use netboot_compile::parse::parse_file;
use netboot_compile::source::SourceFile;
use netboot_compile::validate::validate;

const SITE: &str = include_str!("../../profiles/site.kdl");
const FLATCAR: &str = include_str!("../../profiles/flatcar.kdl");

fuzz_target!(|bytes: &[u8]| {
    let mut diags = Diagnostics::default();
    let mut defs = Vec::new();
    for file in [
        SourceFile::new("profiles/site.kdl", SITE),
        SourceFile::new("profiles/flatcar.kdl", FLATCAR),
    ] {
        defs.push(parse_file(&file, &mut diags));
    }
    match decode("machines/fuzz.kdl", bytes.to_vec()) {
        Ok(file) => defs.push(parse_file(&file, &mut diags)),
        Err(diagnostic) => {
            diags.push(*diagnostic);
        }
    }
    let _ = validate(defs, &mut diags);
});
