//! The compiler's KDL front end: any text gives definitions and diagnostics, never a
//! panic. (Slow inputs are the libFuzzer timeout's to report: see issue 12.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use netbootc::diagnostic::Diagnostics;
use netbootc::source::SourceFile;

fuzz_target!(|text: &str| {
    let file = SourceFile::new("machines/fuzz.kdl", text);
    let mut diags = Diagnostics::default();
    let _ = netbootc::parse::parse_file(&file, &mut diags);
});
