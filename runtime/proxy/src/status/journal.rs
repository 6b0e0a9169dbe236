//! The boot journal (`--status-log`): each boot as one JSON line appended to a file on
//! the Pi when it comes to something (done, stalled, unknown machine, failed) or is left
//! unfinished by the client's next boot, so a boot's outcome outlives the proxy's bounded
//! memory and its restarts. The file is rotated once it would pass `--status-log-max-bytes`
//! (the previous one kept as `<file>.1`), so it never fills the SD card.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An append-only JSON-lines file with one generation of rotation.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    max_bytes: u64,
    /// The open file and its size; `None` until the first line (or after a failure).
    file: Mutex<Option<(File, u64)>>,
}

impl Journal {
    /// Opens (or creates) the journal now, so a path the proxy cannot write is an error
    /// at start, not a warning at the first boot.
    pub fn open(path: PathBuf, max_bytes: u64) -> io::Result<Self> {
        let journal = Self {
            path,
            max_bytes,
            file: Mutex::new(None),
        };
        let opened = journal.open_file()?;
        *journal
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(opened);
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `lines` (each without its newline), rotating first if they would take the
    /// file past its bound. A failure is reported to the caller, which logs it: the
    /// journal is a record, not something boots wait for.
    pub fn append(&self, lines: &[String]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut slot = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = self.write(&mut slot, lines);
        if result.is_err() {
            *slot = None; // reopened (and re-measured) next time
        }
        result
    }

    fn write(&self, slot: &mut Option<(File, u64)>, lines: &[String]) -> io::Result<()> {
        let mut text = lines.join("\n");
        text.push('\n');
        let added = text.len() as u64;
        if slot.is_none() {
            *slot = Some(self.open_file()?);
        }
        if let Some((_, size)) = slot.as_ref()
            && *size > 0
            && size + added > self.max_bytes
        {
            *slot = None;
            fs::rename(&self.path, rotated(&self.path))?;
            *slot = Some(self.open_file()?);
        }
        let (file, size) = slot.as_mut().expect("opened above");
        file.write_all(text.as_bytes())?;
        *size += added;
        Ok(())
    }

    fn open_file(&self) -> io::Result<(File, u64)> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let size = file.metadata()?.len();
        Ok((file, size))
    }
}

/// Where the previous generation goes: `<file>.1`.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_and_keeps_one_rotated_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boots.jsonl");
        let journal = Journal::open(path.clone(), 30).unwrap();
        journal
            .append(&["{\"a\":1}".into(), "{\"b\":2}".into()])
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
        // 16 + 16 > 30: the first generation moves to .1, the new line starts a file.
        journal.append(&["{\"c\":333333333}".into()]).unwrap();
        assert_eq!(
            fs::read_to_string(rotated(&path)).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"c\":333333333}\n");
        // A restarted proxy measures the file it finds.
        let again = Journal::open(path.clone(), 30).unwrap();
        again.append(&["{\"d\":4444444444}".into()]).unwrap();
        assert_eq!(
            fs::read_to_string(rotated(&path)).unwrap(),
            "{\"c\":333333333}\n"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"d\":4444444444}\n");
        // A place it cannot write is an error when the proxy starts.
        let error = Journal::open(dir.path().join("missing/boots.jsonl"), 30).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
