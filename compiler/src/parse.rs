//! KDL text → definitions ([`FileDefs`]). Pure: no I/O, every problem becomes a diagnostic
//! and parsing carries on with the next node, so one run reports everything.

use std::sync::Arc;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use netboot_bundle::Digest;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::model::{
    Arch, ChainMode, FileDefs, ImageLocation, ImageSpec, Located, MachineDef, ProfileDef, SiteDef,
    Vars,
};
use crate::source::{SourceFile, Span};

/// Deeper nesting than this is refused before the KDL parser (which recurses) sees it.
pub const MAX_DEPTH: usize = 32;

const TOP_LEVEL: &[&str] = &["site", "profile", "machine"];
const SITE_CHILDREN: &[&str] = &["origin", "chain", "mirror", "boot-file"];
const PROFILE_CHILDREN: &[&str] = &[
    "arch",
    "kernel",
    "initrd",
    "image",
    "cmdline",
    "cmdline-append",
    "template",
    "var",
];
const MACHINE_CHILDREN: &[&str] = &["mac", "uuid", "profile", "var"];

pub fn parse_file(source: &Arc<SourceFile>, diags: &mut Diagnostics) -> FileDefs {
    let mut defs = FileDefs::default();
    if let Some(offset) = too_deep(&source.text) {
        diags
            .push(Diagnostic::error(
                Code::TooDeep,
                source,
                offset..offset + 1,
                "nesting is too deep",
            ))
            .label(if source.text[offset..].starts_with("/*") {
                format!("more than {MAX_DEPTH} nested `/*` comments here")
            } else {
                format!("more than {MAX_DEPTH} levels of `{{` here")
            })
            .help("machines, profiles and the site nest two levels; flatten the file");
        return defs;
    }
    let document = match KdlDocument::parse_v2(&source.text) {
        Ok(document) => document,
        Err(error) => {
            for d in error.diagnostics {
                let start = d.span.offset();
                let message = d.message.unwrap_or_else(|| "invalid KDL".to_owned());
                let diagnostic = diags.push(Diagnostic::error(
                    Code::KdlSyntax,
                    source,
                    start..start + d.span.len(),
                    message,
                ));
                diagnostic.label(d.label.unwrap_or_else(|| "here".to_owned()));
                if let Some(help) = d.help {
                    diagnostic.help(help);
                }
            }
            return defs;
        }
    };
    let mut cx = Cx { source, diags };
    for node in document.nodes() {
        match node.name().value() {
            "site" => defs.sites.push(cx.site(node)),
            "profile" => {
                if let Some(profile) = cx.profile(node) {
                    defs.profiles.push(profile);
                }
            }
            "machine" => {
                if let Some(machine) = cx.machine(node) {
                    defs.machines.push(machine);
                }
            }
            _ => cx.unknown_node(node, "at the top level", TOP_LEVEL),
        }
    }
    defs
}

/// The offset of the first `{` past [`MAX_DEPTH`], skipping strings and comments.
pub(crate) fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'#' => {
                // Skip a string: `"…"` and `"""…"""` honour backslash escapes, raw
                // `#"…"#` / `#"""…"""#` (any number of `#`) do not. Getting this wrong would
                // hide the rest of the file, and its braces, from this scan.
                let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
                let rest = &bytes[i + hashes..];
                if !rest.starts_with(b"\"") {
                    i += hashes;
                    continue;
                }
                let quotes = if rest.starts_with(b"\"\"\"") { 3 } else { 1 };
                let mut close = vec![b'"'; quotes];
                close.extend(std::iter::repeat_n(b'#', hashes));
                i += hashes + quotes;
                while i < bytes.len() && !bytes[i..].starts_with(&close) {
                    i += if hashes == 0 && bytes[i] == b'\\' {
                        2
                    } else {
                        1
                    };
                }
                i += close.len();
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Block comments nest in KDL v2, and the parser recurses into each level.
                let mut level = 0usize;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        level += 1;
                        if level > MAX_DEPTH {
                            return Some(i);
                        }
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

struct Cx<'a> {
    source: &'a Arc<SourceFile>,
    diags: &'a mut Diagnostics,
}

fn span_of(s: miette::SourceSpan) -> Span {
    s.offset()..s.offset() + s.len()
}

fn name_span(node: &KdlNode) -> Span {
    span_of(node.name().span())
}

fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

fn type_name(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

impl Cx<'_> {
    fn error(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error(code, self.source, span, message))
    }

    fn located(&self, value: String, span: Span) -> Located<String> {
        Located {
            value,
            source: Arc::clone(self.source),
            span,
        }
    }

    fn unknown_node(&mut self, node: &KdlNode, place: &str, known: &[&str]) {
        let name = node.name().value();
        let help = match suggest(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", known.join(", ")),
        };
        self.error(
            Code::UnknownNode,
            name_span(node),
            format!("unknown node `{name}` {place}"),
        )
        .label("not a known node")
        .help(help);
    }

    /// Checks properties against `allowed`, at most `max_args` arguments, no duplicate
    /// properties, and no children unless `children` is set.
    fn check_shape(&mut self, node: &KdlNode, max_args: usize, allowed: &[&str], children: bool) {
        let node_name = node.name().value().to_owned();
        let mut seen: Vec<&str> = Vec::new();
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            let key = key.value();
            if !allowed.contains(&key) {
                let help = match suggest(key, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if allowed.is_empty() => format!("`{node_name}` takes no properties"),
                    None => format!("`{node_name}` takes: {}", allowed.join(", ")),
                };
                self.error(
                    Code::UnknownProperty,
                    span_of(entry.span()),
                    format!("unknown property `{key}` on `{node_name}`"),
                )
                .label("not a known property")
                .help(help);
            } else if seen.contains(&key) {
                self.error(
                    Code::DuplicateField,
                    span_of(entry.span()),
                    format!("property `{key}` given twice on `{node_name}`"),
                )
                .label("second value");
            }
            seen.push(key);
        }
        if let Some(extra) = args(node).nth(max_args) {
            let message = match max_args {
                0 => format!("`{node_name}` takes no arguments"),
                1 => format!("`{node_name}` takes one argument"),
                n => format!("`{node_name}` takes at most {n} arguments"),
            };
            self.error(Code::UnexpectedArgument, span_of(extra.span()), message)
                .label("unexpected");
        }
        if !children && let Some(block) = node.children() {
            self.error(
                Code::UnexpectedArgument,
                span_of(block.span()),
                format!("`{node_name}` takes no children block"),
            )
            .label("unexpected block");
        }
    }

    /// The `index`th argument as a string; reports it missing or of the wrong type.
    fn string_arg(&mut self, node: &KdlNode, index: usize, what: &str) -> Option<Located<String>> {
        match args(node).nth(index) {
            None => {
                self.error(
                    Code::MissingField,
                    name_span(node),
                    format!("`{}` needs {what}", node.name().value()),
                )
                .label(format!("{what} missing"));
                None
            }
            Some(entry) => self.string_value(node, entry, what),
        }
    }

    fn string_value(
        &mut self,
        node: &KdlNode,
        entry: &KdlEntry,
        what: &str,
    ) -> Option<Located<String>> {
        match entry.value() {
            KdlValue::String(s) => Some(self.located(s.clone(), span_of(entry.span()))),
            other => {
                self.error(
                    Code::BadValue,
                    span_of(entry.span()),
                    format!(
                        "`{}` expects {what} as a string, found {}",
                        node.name().value(),
                        type_name(other)
                    ),
                )
                .label("not a string")
                .help("quote it: \"...\"");
                None
            }
        }
    }

    fn string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Located<String>> {
        let entry = node
            .entries()
            .iter()
            .find(|e| e.name().is_some_and(|n| n.value() == key))?;
        self.string_value(node, entry, &format!("`{key}=`"))
    }

    fn bool_arg(&mut self, node: &KdlNode) -> Option<bool> {
        match args(node).next().map(|e| (e, e.value())) {
            Some((_, KdlValue::Bool(b))) => Some(*b),
            Some((entry, other)) => {
                self.error(
                    Code::BadValue,
                    span_of(entry.span()),
                    format!(
                        "`{}` expects #true or #false, found {}",
                        node.name().value(),
                        type_name(other)
                    ),
                )
                .label("not a boolean")
                .help("KDL v2 booleans are written #true and #false");
                None
            }
            None => {
                self.error(
                    Code::MissingField,
                    name_span(node),
                    format!("`{}` needs #true or #false", node.name().value()),
                )
                .label("value missing");
                None
            }
        }
    }

    /// Reports a second occurrence of a node that may appear once; true if it is the first.
    fn first_of(&mut self, seen: &mut Vec<(String, Span)>, node: &KdlNode) -> bool {
        let name = node.name().value();
        if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
            let first = first.clone();
            let source = Arc::clone(self.source);
            self.error(
                Code::DuplicateField,
                name_span(node),
                format!("`{name}` given twice"),
            )
            .label("second definition")
            .related(&source, first, "first defined here")
            .help(format!("`{name}` may appear once here; remove one of them"));
            return false;
        }
        seen.push((name.to_owned(), name_span(node)));
        true
    }

    fn children<'n>(&mut self, node: &'n KdlNode) -> &'n [KdlNode] {
        node.children().map_or(&[], |c| c.nodes())
    }

    fn site(&mut self, node: &KdlNode) -> SiteDef {
        self.check_shape(node, 0, &[], true);
        let mut site = SiteDef {
            origin: None,
            chain: ChainMode::Direct,
            mirror: true,
            boot_files: Vec::new(),
            source: Arc::clone(self.source),
            span: name_span(node),
        };
        let mut seen = Vec::new();
        for child in self.children(node) {
            let name = child.name().value();
            if name != "boot-file"
                && SITE_CHILDREN.contains(&name)
                && !self.first_of(&mut seen, child)
            {
                continue;
            }
            match name {
                "origin" => {
                    self.check_shape(child, 1, &[], false);
                    site.origin = self
                        .string_arg(child, 0, "a URL")
                        .filter(|url| self.check_url(url, UrlRule::Https));
                }
                "chain" => {
                    self.check_shape(child, 1, &["proxy"], false);
                    if let Some(chain) = self.chain(child) {
                        site.chain = chain;
                    }
                }
                "mirror" => {
                    self.check_shape(child, 1, &[], false);
                    if let Some(mirror) = self.bool_arg(child) {
                        site.mirror = mirror;
                    }
                }
                "boot-file" => {
                    if let Some(file) = self.image(child, ImageKind::BootFile) {
                        site.boot_files.push(file);
                    }
                }
                _ => self.unknown_node(child, "in `site`", SITE_CHILDREN),
            }
        }
        if site.origin.is_none() && !seen.iter().any(|(n, _)| n == "origin") {
            self.error(
                Code::MissingField,
                name_span(node),
                "`site` needs an `origin`",
            )
            .label("no `origin` in this block")
            .help("add: origin \"https://boot.example.com\"");
        }
        site
    }

    fn chain(&mut self, node: &KdlNode) -> Option<ChainMode> {
        let mode = self.string_arg(node, 0, "a mode (\"direct\" or \"via-proxy\")")?;
        let proxy = self.string_prop(node, "proxy");
        match mode.value.as_str() {
            "direct" => {
                if let Some(proxy) = proxy {
                    self.error(
                        Code::UnknownProperty,
                        proxy.span,
                        "`proxy=` is only used with `chain \"via-proxy\"`",
                    )
                    .label("ignored in direct mode");
                }
                Some(ChainMode::Direct)
            }
            "via-proxy" => match proxy {
                Some(proxy) if self.check_url(&proxy, UrlRule::Http) => {
                    Some(ChainMode::ViaProxy { proxy: proxy.value })
                }
                Some(_) => None,
                None => {
                    self.error(
                        Code::MissingField,
                        mode.span,
                        "`chain \"via-proxy\"` needs `proxy=`",
                    )
                    .label("no proxy address")
                    .help("add the Pi's LAN address: proxy=\"http://10.0.0.2:8080\"");
                    None
                }
            },
            other => {
                let hint = suggest(other, ["direct", "via-proxy"])
                    .map_or("expected \"direct\" or \"via-proxy\"".to_owned(), |s| {
                        format!("did you mean \"{s}\"?")
                    });
                self.error(
                    Code::BadValue,
                    mode.span,
                    format!("unknown chain mode \"{other}\""),
                )
                .label("not a chain mode")
                .help(hint);
                None
            }
        }
    }

    fn check_url(&mut self, url: &Located<String>, rule: UrlRule) -> bool {
        let value = url.value.as_str();
        let (scheme, rest) = value.split_once("://").unwrap_or(("", value));
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if !matches!(scheme, "http" | "https")
            || host.is_empty()
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.error(
                Code::BadUrl,
                url.span.clone(),
                format!("`{value}` is not an absolute http(s) URL"),
            )
            .label("not a URL")
            .help("write it as https://host/path");
            return false;
        }
        if rule == UrlRule::Https && scheme != "https" && !is_loopback(host) {
            self.error(
                Code::InsecureUrl,
                url.span.clone(),
                format!("`{value}` is not HTTPS"),
            )
            .label("plain HTTP")
            .help(format!(
                "use https://{rest}; plain http is only accepted for loopback hosts"
            ));
            return false;
        }
        true
    }

    /// `kernel`, `initrd`, `image "<role>"`, `boot-file "<name>"`:
    /// a URL argument or `path=`, and always `sha256=`.
    fn image(&mut self, node: &KdlNode, kind: ImageKind) -> Option<ImageSpec> {
        let named = matches!(kind, ImageKind::Image | ImageKind::BootFile);
        self.check_shape(node, usize::from(named) + 1, &["path", "sha256"], false);
        let role = if named {
            let role = self.string_arg(node, 0, "a name")?;
            if !is_safe_name(&role.value) {
                self.bad_name(&role, "image name");
                return None;
            }
            role.value
        } else {
            node.name().value().to_owned()
        };
        let url = args(node)
            .nth(usize::from(named))
            .and_then(|e| self.string_value(node, e, "a URL"));
        let path = self.string_prop(node, "path");
        let sha256 = self.string_prop(node, "sha256");
        let location_span = url.as_ref().or(path.as_ref()).map(|l| l.span.clone());
        let sha256_span = sha256.as_ref().map(|s| s.span.clone());
        // Check the source and the digest both, so one run reports both problems.
        let location = match (url, path) {
            (Some(url), None) => self
                .check_url(&url, UrlRule::Https)
                .then_some(ImageLocation::Url(url.value)),
            (None, Some(path)) => self
                .relative_path(&path)
                .map(|relative| ImageLocation::Path {
                    relative,
                    display: path.value,
                }),
            (Some(url), Some(_)) => {
                self.error(
                    Code::BadValue,
                    url.span,
                    "an image takes a URL or `path=`, not both",
                )
                .label("URL given here as well as `path=`");
                None
            }
            (None, None) => {
                self.error(
                    Code::MissingField,
                    name_span(node),
                    format!("`{}` needs a URL or `path=`", node.name().value()),
                )
                .label("no source");
                None
            }
        };
        let sha256 = match sha256 {
            None => {
                self.error(
                    Code::UnpinnedImage,
                    name_span(node),
                    format!("image `{role}` has no `sha256=`"),
                )
                .label("unpinned")
                .help("pin it: sha256=\"<64 hex digits>\" (sha256sum prints it)");
                None
            }
            Some(s) => match Digest::from_hex(&s.value) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(
                        Code::BadSha256,
                        s.span,
                        format!("`sha256=` of `{role}` is not a sha256 digest"),
                    )
                    .label(e.to_string())
                    .help("`sha256sum <file>` prints the 64 hex digits to pin");
                    None
                }
            },
        };
        let (location, sha256) = (location?, sha256?);
        Some(ImageSpec {
            role,
            location,
            sha256,
            source: Arc::clone(self.source),
            span: span_of(node.span()),
            location_span: location_span.unwrap_or_else(|| name_span(node)),
            sha256_span: sha256_span.unwrap_or_else(|| name_span(node)),
        })
    }

    /// Resolves a path written relative to this KDL file into one relative to the config
    /// directory; refuses absolute paths and paths that leave the config directory, so a
    /// build depends only on the repository.
    fn relative_path(&mut self, path: &Located<String>) -> Option<String> {
        let base = self.source.name.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
        let absolute =
            path.value.starts_with('/') || path.value.contains('\\') || path.value.contains(':');
        let mut escapes = absolute;
        for part in path.value.split('/') {
            match part {
                "" | "." => {}
                ".." => escapes |= parts.pop().is_none(),
                p => parts.push(p),
            }
        }
        if escapes || parts.is_empty() {
            self.error(
                Code::BadValue,
                path.span.clone(),
                format!("path `{}` leaves the config directory", path.value),
            )
            .label("outside the config directory")
            .help("paths are relative to the KDL file and must stay inside the config directory");
            return None;
        }
        Some(parts.join("/"))
    }

    fn bad_name(&mut self, name: &Located<String>, what: &str) {
        self.error(
            Code::BadName,
            name.span.clone(),
            format!("`{}` is not a valid {what}", name.value),
        )
        .label("used in URLs")
        .help(
            "use letters, digits, `.`, `_` and `-`, starting with a letter or digit (at most 63)",
        );
    }

    fn named(&mut self, node: &KdlNode, what: &str) -> Option<Located<String>> {
        let name = self.string_arg(node, 0, "a name")?;
        if !is_safe_name(&name.value) {
            self.bad_name(&name, what);
            return None;
        }
        Some(name)
    }

    fn profile(&mut self, node: &KdlNode) -> Option<ProfileDef> {
        self.check_shape(node, 1, &["extends"], true);
        let name = self.named(node, "profile name")?;
        let mut profile = ProfileDef {
            extends: self.string_prop(node, "extends"),
            name,
            arch: None,
            kernel: None,
            kernel_written: false,
            initrd: None,
            images: Vec::new(),
            cmdline: None,
            cmdline_append: Vec::new(),
            template: None,
            vars: Vars::new(),
        };
        let mut seen = Vec::new();
        for child in self.children(node) {
            let name = child.name().value();
            let repeatable = matches!(name, "image" | "cmdline-append" | "var");
            if !repeatable && PROFILE_CHILDREN.contains(&name) && !self.first_of(&mut seen, child) {
                continue;
            }
            match name {
                "arch" => {
                    self.check_shape(child, 1, &[], false);
                    let Some(arch) = self.string_arg(child, 0, "an architecture") else {
                        continue;
                    };
                    profile.arch = Arch::parse(&arch.value);
                    if profile.arch.is_none() {
                        let help = suggest(&arch.value, Arch::NAMES).map_or(
                            format!("expected one of: {}", Arch::NAMES.join(", ")),
                            |s| format!("did you mean \"{s}\"?"),
                        );
                        self.error(
                            Code::BadValue,
                            arch.span,
                            format!("unknown architecture \"{}\"", arch.value),
                        )
                        .label("not an architecture")
                        .help(help);
                    }
                }
                "kernel" => {
                    profile.kernel_written = true;
                    profile.kernel = self.image(child, ImageKind::Fixed);
                }
                "initrd" => profile.initrd = self.image(child, ImageKind::Fixed),
                "image" => {
                    if let Some(image) = self.image(child, ImageKind::Image) {
                        if matches!(image.role.as_str(), "kernel" | "initrd")
                            || profile.images.iter().any(|i| i.role == image.role)
                        {
                            self.error(
                                Code::DuplicateField,
                                image.span.clone(),
                                format!("image `{}` given twice", image.role),
                            )
                            .label("second definition");
                        } else {
                            profile.images.push(image);
                        }
                    }
                }
                "cmdline" => {
                    self.check_shape(child, 1, &[], false);
                    profile.cmdline = self.cmdline(child);
                }
                "cmdline-append" => {
                    self.check_shape(child, 1, &[], false);
                    profile.cmdline_append.extend(self.cmdline(child));
                }
                "template" => {
                    self.check_shape(child, 1, &[], false);
                    if let Some(path) = self.string_arg(child, 0, "a template path") {
                        let span = path.span.clone();
                        profile.template = self.relative_path(&path).map(|p| self.located(p, span));
                    }
                }
                "var" => self.vars(child, &mut profile.vars),
                _ => self.unknown_node(child, "in `profile`", PROFILE_CHILDREN),
            }
        }
        Some(profile)
    }

    fn cmdline(&mut self, node: &KdlNode) -> Option<Located<String>> {
        let entry = args(node).next();
        let mut value = self.string_arg(node, 0, "a kernel command line")?;
        // Point spans at the string's content so template errors land on the exact column.
        if let Some(entry) = entry {
            value.span =
                string_content_span(&self.source.text, span_of(entry.span()), &value.value);
        }
        Some(value)
    }

    /// `var key=value ...`: properties become template variables; repeats override.
    fn vars(&mut self, node: &KdlNode, vars: &mut Vars) {
        if let Some(arg) = args(node).next() {
            self.error(
                Code::UnexpectedArgument,
                span_of(arg.span()),
                "`var` takes properties only",
            )
            .label("an argument")
            .help("write var key=\"value\"");
        }
        if node.children().is_some() {
            self.check_shape(node, usize::MAX, &[], false);
        }
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            let value = match entry.value() {
                KdlValue::String(s) => serde_json::Value::from(s.clone()),
                KdlValue::Integer(i) => match i64::try_from(*i) {
                    Ok(i) => serde_json::Value::from(i),
                    Err(_) => {
                        self.error(
                            Code::BadValue,
                            span_of(entry.span()),
                            "integer out of range",
                        )
                        .label("does not fit in 64 bits");
                        continue;
                    }
                },
                KdlValue::Float(f) => serde_json::Value::from(*f),
                KdlValue::Bool(b) => serde_json::Value::from(*b),
                KdlValue::Null => serde_json::Value::Null,
            };
            vars.insert(key.value().to_owned(), value);
        }
    }

    fn machine(&mut self, node: &KdlNode) -> Option<MachineDef> {
        self.check_shape(node, 1, &[], true);
        let name = self.named(node, "machine name")?;
        let mut machine = MachineDef {
            name,
            macs: Vec::new(),
            uuid: None,
            profile: None,
            vars: Vars::new(),
        };
        let mut seen = Vec::new();
        for child in self.children(node) {
            let kind = child.name().value();
            if matches!(kind, "uuid" | "profile") && !self.first_of(&mut seen, child) {
                continue;
            }
            match kind {
                "mac" => {
                    self.check_shape(child, usize::MAX, &[], false);
                    if args(child).next().is_none() {
                        self.string_arg(child, 0, "a MAC address");
                    }
                    for entry in args(child) {
                        let Some(mac) = self.string_value(child, entry, "a MAC address") else {
                            continue;
                        };
                        match normalize_mac(&mac.value) {
                            Some(norm) => machine.macs.push(self.located(norm, mac.span)),
                            None => {
                                self.error(Code::BadMac, mac.span, format!("`{}` is not a MAC address", mac.value))
                                    .label("expected six hex pairs")
                                    .help("write it as 52:54:00:aa:00:01 (`:` or `-` separators, any case)");
                            }
                        }
                    }
                }
                "uuid" => {
                    self.check_shape(child, 1, &[], false);
                    let Some(uuid) = self.string_arg(child, 0, "a UUID") else {
                        continue;
                    };
                    match normalize_uuid(&uuid.value) {
                        Some(norm) => machine.uuid = Some(self.located(norm, uuid.span)),
                        None => {
                            self.error(Code::BadUuid, uuid.span, format!("`{}` is not a UUID", uuid.value))
                                .label("expected 8-4-4-4-12 hex digits")
                                .help("iPXE prints it with `show uuid`; `dmidecode -s system-uuid` on Linux");
                        }
                    }
                }
                "profile" => {
                    self.check_shape(child, 1, &[], false);
                    machine.profile = self.string_arg(child, 0, "a profile name");
                }
                "var" => self.vars(child, &mut machine.vars),
                _ => self.unknown_node(child, "in `machine`", MACHINE_CHILDREN),
            }
        }
        if machine.profile.is_none() && !seen.iter().any(|(n, _)| n == "profile") {
            self.error(
                Code::MissingField,
                machine.name.span.clone(),
                format!("machine `{}` has no `profile`", machine.name.value),
            )
            .label("no `profile` in this block")
            .help("add: profile \"<name of a profile>\"");
        }
        if machine.macs.is_empty()
            && machine.uuid.is_none()
            && !node.children().is_some_and(|c| {
                c.nodes()
                    .iter()
                    .any(|n| matches!(n.name().value(), "mac" | "uuid"))
            })
        {
            self.error(
                Code::MissingField,
                machine.name.span.clone(),
                format!("machine `{}` has no `mac` or `uuid`", machine.name.value),
            )
            .label("cannot be recognised at boot")
            .help("add: mac \"52:54:00:aa:00:01\"");
        }
        Some(machine)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlRule {
    Https,
    Http,
}

#[derive(Clone, Copy)]
enum ImageKind {
    /// `kernel` / `initrd`: the role is the node name.
    Fixed,
    /// `image "<role>" ...`
    Image,
    /// `boot-file "<tftp name>" ...`
    BootFile,
}

fn is_loopback(host: &str) -> bool {
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

/// Names that become URL path segments: `[A-Za-z0-9][A-Za-z0-9._-]{0,62}`.
pub fn is_safe_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `52:54:00:AA:00:01`, `52-54-00-aa-00-01` or `525400aa0001` → `52-54-00-aa-00-01`.
pub fn normalize_mac(mac: &str) -> Option<String> {
    let hex: String = mac.chars().filter(|c| !matches!(c, ':' | '-')).collect();
    let separators = mac.len() - hex.len();
    if hex.len() != 12
        || !(separators == 0 || separators == 5)
        || !hex.chars().all(|c| c.is_ascii_hexdigit())
    {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let pairs: Vec<&str> = (0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect();
    Some(pairs.join("-"))
}

/// A UUID in 8-4-4-4-12 form, lowercased.
pub fn normalize_uuid(uuid: &str) -> Option<String> {
    let groups: Vec<&str> = uuid.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| uuid.to_ascii_lowercase())
}

/// The span of a string value's content inside its entry, when the source spells it
/// without escapes; otherwise the whole entry.
fn string_content_span(text: &str, entry: Span, value: &str) -> Span {
    let Some(raw) = text.get(entry.clone()) else {
        return entry;
    };
    match raw.find(value) {
        Some(at)
            if !value.is_empty()
                && raw[at + value.len()..]
                    .trim_start_matches('#')
                    .starts_with('"') =>
        {
            entry.start + at..entry.start + at + value.len()
        }
        _ => entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_normalise_to_ipxe_hexhyp() {
        assert_eq!(
            normalize_mac("52:54:00:AA:00:01").as_deref(),
            Some("52-54-00-aa-00-01")
        );
        assert_eq!(
            normalize_mac("52-54-00-aa-00-01").as_deref(),
            Some("52-54-00-aa-00-01")
        );
        assert_eq!(
            normalize_mac("525400aa0001").as_deref(),
            Some("52-54-00-aa-00-01")
        );
        for bad in [
            "52:54:00:aa:00",
            "52:54:00:aa:00:0g",
            "52:54:00:aa:0001",
            "52::54:00:aa:00:01x",
        ] {
            assert_eq!(normalize_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn uuids_normalise_to_lowercase() {
        assert_eq!(
            normalize_uuid("4C4C4544-0042-3510-8052-B4C04F4D4E31").as_deref(),
            Some("4c4c4544-0042-3510-8052-b4c04f4d4e31")
        );
        assert_eq!(normalize_uuid("4c4c4544-0042-3510-8052"), None);
    }

    #[test]
    fn depth_scan_ignores_braces_in_strings_and_comments() {
        let deep = "a ".to_owned() + &"{ b ".repeat(40) + &"}".repeat(40);
        assert!(too_deep(&deep).is_some());
        let quoted = format!(
            "a \"{}\" // {}\n/* {} */",
            "{".repeat(99),
            "{".repeat(99),
            "{".repeat(99)
        );
        assert_eq!(too_deep(&quoted), None);
    }

    #[test]
    fn paths_stay_inside_the_config_directory() {
        let source = SourceFile::new("profiles/flatcar.kdl", "");
        let mut diags = Diagnostics::default();
        let mut cx = Cx {
            source: &source,
            diags: &mut diags,
        };
        let at = |p: &str| Located {
            value: p.to_owned(),
            source: Arc::clone(&source),
            span: 0..0,
        };
        assert_eq!(
            cx.relative_path(&at("images/a")).as_deref(),
            Some("profiles/images/a")
        );
        assert_eq!(
            cx.relative_path(&at("../machines/x")).as_deref(),
            Some("machines/x")
        );
        assert_eq!(cx.relative_path(&at("../../etc/passwd")), None);
        assert_eq!(cx.relative_path(&at("/etc/passwd")), None);
        assert_eq!(cx.relative_path(&at("C:\\x")), None);
    }
}
