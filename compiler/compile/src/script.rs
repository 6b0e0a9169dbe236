//! A rendered iPXE script: what `render` produces, `lint` checks and `bundle` stores.

/// A rendered script and the template it came from.
#[derive(Debug, Clone)]
pub struct Script {
    pub text: String,
    pub template: String,
}
