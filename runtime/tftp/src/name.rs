//! Requested file names: what may reach [`crate::Files::open`].

/// Why a name is refused (ERROR 2, access violation, for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    NotUtf8,
    /// A leading `/` after the one that is stripped (`//x`), an empty segment (`a//b`,
    /// `a/`), or a `.` or `..` segment.
    BadSegment,
    Backslash,
    ControlCharacter,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty file name",
            NameError::NotUtf8 => "file name is not UTF-8",
            NameError::BadSegment => "file name has an empty, '.' or '..' segment",
            NameError::Backslash => "file name has a backslash",
            NameError::ControlCharacter => "file name has a control character",
        })
    }
}

/// Checks a requested name and returns what to pass to [`crate::Files::open`].
///
/// One leading `/` is stripped: many PXE ROMs and `pxelinux` configurations ask for
/// `/pxelinux.0` or `/boot/x`, meaning the TFTP root (tftpd-hpa's `-s` behaves the same).
/// After that the name must be relative: `/etc/passwd` therefore asks for `etc/passwd`
/// under the root, which the file source does not have (ERROR 1), while `//etc/passwd`
/// is refused outright. Segments are separated by `/` only; empty, `.` and `..` segments,
/// backslashes (Windows-style separators) and control characters (C0, DEL, C1) are
/// refused.
pub fn sanitize(raw: &[u8]) -> Result<&str, NameError> {
    let name = std::str::from_utf8(raw).map_err(|_| NameError::NotUtf8)?;
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains('\\') {
        return Err(NameError::Backslash);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if name
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(NameError::BadSegment);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(sanitize(b"pxelinux.0"), Ok("pxelinux.0"));
        assert_eq!(sanitize(b"/pxelinux.0"), Ok("pxelinux.0"));
        assert_eq!(sanitize(b"boot/x86_64/vmlinuz"), Ok("boot/x86_64/vmlinuz"));
        assert_eq!(sanitize(b"/etc/passwd"), Ok("etc/passwd"));
        assert_eq!(sanitize(b"..."), Ok("..."));
        assert_eq!(sanitize(b""), Err(NameError::Empty));
        assert_eq!(sanitize(b"/"), Err(NameError::Empty));
        assert_eq!(sanitize(b"//etc/passwd"), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"../x"), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"a/../../x"), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"a/.."), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"./a"), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"a//b"), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"a/"), Err(NameError::BadSegment));
        assert_eq!(sanitize(b"..\\x"), Err(NameError::Backslash));
        assert_eq!(sanitize(b"a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(sanitize(b"a\x7fb"), Err(NameError::ControlCharacter));
        assert_eq!(
            sanitize("a\u{85}b".as_bytes()),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(sanitize(b"\xff"), Err(NameError::NotUtf8));
    }
}
