//! The crate's modules form layers: none names an item of the crate root or of another
//! ancestor, and no two name each other, directly or round a circle.

use std::path::Path;

use netboot_testkit::layering::Layering;

#[test]
fn modules_form_layers_without_circles_or_upward_imports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layering = Layering::read(&src).expect("reading src/");
    assert_eq!(layering.upward(), Vec::<String>::new(), "upward imports");
    assert_eq!(layering.circle(), None, "a module circle");
}
