//! [`DirFiles`]: a [`Files`] over a plain directory (tests, the benchmark, the
//! `tftp-dir` example). The proxy itself serves from its verified cache instead.

use std::path::PathBuf;

use crate::files::{Files, OpenError, Opened};

/// Serves the regular files under a directory. Names come sanitised from the server (no
/// `..`, no absolute paths); symbolic links inside the directory are followed.
#[derive(Debug, Clone)]
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl Files for DirFiles {
    async fn open(&self, name: &str) -> Result<Opened, OpenError> {
        let path = self.root.join(name);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenError::NotFound),
            Err(e) => return Err(OpenError::Unavailable(format!("cannot open: {}", e.kind()))),
        };
        let metadata = file
            .metadata()
            .await
            .map_err(|e| OpenError::Unavailable(format!("cannot stat: {}", e.kind())))?;
        if !metadata.is_file() {
            return Err(OpenError::NotFound);
        }
        Ok(Opened {
            size: metadata.len(),
            reader: Box::pin(file),
        })
    }
}
