//! `netbootc fmt`: the kdl crate's canonical formatting, applied file by file.

use std::sync::Arc;

use kdl::KdlDocument;

use crate::source::SourceFile;

/// The canonical text of a KDL file, or `None` if it does not parse (`check` explains why).
pub fn format(file: &Arc<SourceFile>) -> Option<String> {
    if crate::parse::too_deep(&file.text).is_some() {
        return None;
    }
    let mut document = KdlDocument::parse_v2(&file.text).ok()?;
    document.autoformat();
    let mut text = document.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Some(text)
}
