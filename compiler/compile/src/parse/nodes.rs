//! The walkers over the schema's nodes: `site`, `profile` and `machine`, each child checked
//! for its shape (arguments, properties, children) and turned into a definition.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::document::{Node, Value};
use netboot_bundle::Digest;
use netboot_protocol::{Arch, Firmware, Mac, Named};

use super::values::{
    UrlRule, is_placeholder_uuid, is_safe_name, normalize_uuid, string_content_span,
};
use super::{Cx, args};
use crate::diagnostic::{Code, suggest};
use netboot_ipxe::IpxeBuild;

use crate::model::{
    BootFile, BootTarget, ChainMode, FileSpec, ImageLocation, ImageSpec, IpxeBuildDecl, Located,
    MachineDef, PiBoard, PiModel, ProfileDef, SecretFormat, SecretSource, SecretSpec, SiteDef,
    Trust, Vars,
};
use crate::provision::FileKind;
use crate::source::Span;

pub(super) const TOP_LEVEL: &[&str] = &["site", "profile", "machine"];
const SITE_CHILDREN: &[&str] = &[
    "origin",
    "chain",
    "mirror",
    "boot-file",
    "secure-boot",
    "secret",
    "ipxe-build",
];
const TRUST_CHILDREN: &[&str] = &["db", "vendor-cert", "mok"];
const PROFILE_CHILDREN: &[&str] = &[
    "arch",
    "kernel",
    "initrd",
    "shim",
    "secure-boot",
    "image",
    "cmdline",
    "cmdline-append",
    "template",
    "var",
    "file",
    "pi-file",
    "pi-config",
];
const MACHINE_CHILDREN: &[&str] = &[
    "mac",
    "uuid",
    "pi",
    "profile",
    "boot",
    "secure-boot",
    "var",
    "file",
];

impl Cx<'_> {
    /// Reports a second occurrence of a node that may appear once; true if it is the first.
    fn first_of(&mut self, seen: &mut Vec<(String, Span)>, node: &Node) -> bool {
        let name = node.name();
        if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
            let first = first.clone();
            let source = Arc::clone(self.source);
            self.error(
                Code::DuplicateField,
                node.name_span(),
                format!("`{name}` given twice"),
            )
            .label("second definition")
            .related(&source, first, "first defined here")
            .help(format!("`{name}` may appear once here; remove one of them"));
            return false;
        }
        seen.push((name.to_owned(), node.name_span()));
        true
    }

    fn children<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        node.children().map_or(&[], |c| c.nodes())
    }

    pub(super) fn site(&mut self, node: &Node) -> SiteDef {
        self.check_shape(node, 0, &[], true);
        let mut site = SiteDef {
            origin: None,
            chain: ChainMode::Direct,
            mirror: true,
            boot_files: Vec::new(),
            trust: Trust::default(),
            ipxe_builds: Vec::new(),
            secrets: Vec::new(),
            source: Arc::clone(self.source),
            span: node.name_span(),
        };
        let mut seen = Vec::new();
        for child in self.children(node) {
            let name = child.name();
            if !matches!(name, "boot-file" | "secret" | "ipxe-build")
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
                        .filter(|url| self.check_base_url(url, UrlRule::Https));
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
                    if let Some(file) = self.boot_file(child) {
                        site.boot_files.push(file);
                    }
                }
                "secure-boot" => {
                    self.check_shape(child, 0, &[], true);
                    site.trust = self.trust(child);
                }
                "secret" => {
                    if let Some(secret) = self.secret(child) {
                        self.add_secret(&mut site.secrets, secret);
                    }
                }
                "ipxe-build" => {
                    if let Some(decl) = self.ipxe_build(child) {
                        self.add_ipxe_build(&mut site.ipxe_builds, decl);
                    }
                }
                _ => self.unknown_node(child, "in `site`", SITE_CHILDREN),
            }
        }
        if site.origin.is_none() && !seen.iter().any(|(n, _)| n == "origin") {
            self.error(
                Code::MissingField,
                node.name_span(),
                "`site` needs an `origin`",
            )
            .label("no `origin` in this block")
            .help("add: origin \"https://boot.example.com\"");
        }
        site
    }

    /// Adds `secret` to the site's, unless one of its name is there (then reported).
    fn add_secret(&mut self, secrets: &mut Vec<SecretSpec>, secret: SecretSpec) {
        let Some(first) = secrets.iter().find(|s| s.name.value == secret.name.value) else {
            secrets.push(secret);
            return;
        };
        let first = first.name.span.clone();
        let source = Arc::clone(self.source);
        self.error(
            Code::DuplicateField,
            secret.name.span,
            format!("secret `{}` given twice", secret.name.value),
        )
        .label("second definition")
        .related(&source, first, "first defined here");
    }

    fn chain(&mut self, node: &Node) -> Option<ChainMode> {
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
                Some(proxy) if self.check_base_url(&proxy, UrlRule::Http) => {
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

    /// `secure-boot { db …; vendor-cert …; mok … }`: certificate files, each pinned.
    fn trust(&mut self, node: &Node) -> Trust {
        let mut trust = Trust::default();
        for child in self.children(node) {
            let list = match child.name() {
                "db" => &mut trust.db,
                "vendor-cert" => &mut trust.vendor_certs,
                "mok" => &mut trust.mok,
                _ => {
                    self.unknown_node(child, "in `secure-boot`", TRUST_CHILDREN);
                    continue;
                }
            };
            let Some(cert) = self.image(child, ImageKind::Fixed) else {
                continue;
            };
            if let ImageLocation::Url(_) = cert.location {
                self.error(
                    Code::BadValue,
                    cert.location_span.clone(),
                    format!("`{}` takes a local certificate file", child.name()),
                )
                .label("a URL")
                .help("commit the certificate (it is public) and name it with path=");
                continue;
            }
            list.push(cert);
        }
        trust
    }

    /// A `secure-boot #true|#false` child.
    fn secure_boot(&mut self, node: &Node) -> Option<Located<bool>> {
        self.check_shape(node, 1, &[], false);
        let value = self.bool_arg(node)?;
        Some(self.located_as(value, node.name_span()))
    }

    /// `boot-file "<tftp name>" <url>|path=… sha256=… [firmware="<class>"] [secure-boot=#true]`.
    fn boot_file(&mut self, node: &Node) -> Option<BootFile> {
        let firmware = self.firmware_prop(node);
        let secure_boot = self.bool_prop(node, "secure-boot").unwrap_or(false);
        let image = self.image(node, ImageKind::BootFile)?;
        Some(BootFile {
            image,
            firmware,
            secure_boot,
        })
    }

    /// `ipxe-build "<build>" [firmware="<class>"] [verify-images=#true|#false]`.
    fn ipxe_build(&mut self, node: &Node) -> Option<IpxeBuildDecl> {
        self.check_shape(node, 1, &["firmware", "verify-images"], false);
        let firmware = self.firmware_prop(node);
        let verify_images = self.bool_prop(node, "verify-images").unwrap_or(true);
        let build = self.string_arg(node, 0, "an iPXE build")?;
        let Some(parsed) = IpxeBuild::parse(&build.value) else {
            let help = suggest(&build.value, IpxeBuild::NAMES.iter().copied()).map_or_else(
                || format!("one of: {}", IpxeBuild::NAMES.join(", ")),
                |s| format!("did you mean \"{s}\"?"),
            );
            self.error(
                Code::BadValue,
                build.span,
                format!("unknown iPXE build \"{}\"", build.value),
            )
            .label("not an iPXE build")
            .help(help);
            return None;
        };
        Some(IpxeBuildDecl {
            build: parsed,
            firmware: firmware.map(|f| f.value),
            verify_images,
            span: node.span(),
        })
    }

    /// Adds `decl` to the site's, unless one for its class is there (then reported).
    fn add_ipxe_build(&mut self, decls: &mut Vec<IpxeBuildDecl>, decl: IpxeBuildDecl) {
        let Some(first) = decls.iter().find(|d| d.firmware == decl.firmware) else {
            decls.push(decl);
            return;
        };
        let first = first.span.clone();
        let source = Arc::clone(self.source);
        let class = decl
            .firmware
            .map_or_else(|| "every other class".to_owned(), |f| f.name().to_owned());
        self.error(
            Code::DuplicateField,
            decl.span,
            format!("two `ipxe-build`s for {class}"),
        )
        .label("second definition")
        .related(&source, first, "first defined here")
        .help("one `ipxe-build` per firmware class (and one without `firmware=`)");
    }

    /// `firmware="<class>"`, checked.
    fn firmware_prop(&mut self, node: &Node) -> Option<Located<Firmware>> {
        self.string_prop(node, "firmware").and_then(|class| {
            let Some(firmware) = Firmware::parse(&class.value) else {
                let help = suggest(&class.value, Firmware::NAMES.iter().copied()).map_or_else(
                    || format!("one of: {}", Firmware::NAMES.join(", ")),
                    |s| format!("did you mean \"{s}\"?"),
                );
                self.error(
                    Code::BadValue,
                    class.span,
                    format!("unknown firmware class \"{}\"", class.value),
                )
                .label("not a firmware class")
                .help(help);
                return None;
            };
            Some(Located {
                value: firmware,
                source: class.source,
                span: class.span,
            })
        })
    }

    /// `kernel`, `initrd`, `image "<role>"`, `boot-file "<name>"`:
    /// a URL argument or `path=`, and always `sha256=`.
    fn image(&mut self, node: &Node, kind: ImageKind) -> Option<ImageSpec> {
        let named = matches!(
            kind,
            ImageKind::Image | ImageKind::BootFile | ImageKind::PiFile
        );
        let properties: &[&str] = match kind {
            ImageKind::BootFile => &["path", "sha256", "firmware", "secure-boot"],
            _ => &["path", "sha256"],
        };
        self.check_shape(node, usize::from(named) + 1, properties, false);
        let role = if named {
            let role = self.string_arg(node, 0, "a name")?;
            let sound = match kind {
                ImageKind::PiFile => crate::pi::is_tree_path(&role.value),
                _ => is_safe_name(&role.value),
            };
            if !sound {
                self.bad_name(&role, "image name");
                return None;
            }
            role.value
        } else {
            node.name().to_owned()
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
                    node.name_span(),
                    format!("`{}` needs a URL or `path=`", node.name()),
                )
                .label("no source");
                None
            }
        };
        let sha256 = match sha256 {
            None => {
                self.error(
                    Code::UnpinnedImage,
                    node.name_span(),
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
            span: node.span(),
            location_span: location_span.unwrap_or_else(|| node.name_span()),
            sha256_span: sha256_span.unwrap_or_else(|| node.name_span()),
        })
    }

    /// `secret "<name>" path=…|env=… [format=…] [example=…]`.
    fn secret(&mut self, node: &Node) -> Option<SecretSpec> {
        self.check_shape(node, 1, &["path", "env", "format", "example"], false);
        let name = self.named(node, "secret name");
        let format = match self.string_prop(node, "format") {
            None => Some(SecretFormat::Text),
            Some(format) => {
                let parsed = SecretFormat::parse(&format.value);
                if parsed.is_none() {
                    self.error(
                        Code::BadValue,
                        format.span,
                        format!("unknown secret format \"{}\"", format.value),
                    )
                    .label("not a format")
                    .help(format!("one of: {}", SecretFormat::NAMES.join(", ")));
                }
                parsed
            }
        };
        let example = self.string_prop(node, "example").and_then(|path| {
            let span = path.span.clone();
            self.relative_path(&path).map(|p| self.located(p, span))
        });
        let base = self
            .source
            .name
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
            .to_owned();
        let from = match (
            self.string_prop(node, "path"),
            self.string_prop(node, "env"),
        ) {
            (Some(written), None) if !written.value.is_empty() => {
                Some(SecretSource::Path { written, base })
            }
            (None, Some(var)) if !var.value.is_empty() && !var.value.contains(['=', '\0']) => {
                Some(SecretSource::Env(var))
            }
            (Some(bad), None) | (None, Some(bad)) => {
                self.error(Code::BadValue, bad.span, "not a file path or variable name")
                    .label("empty or invalid");
                None
            }
            (Some(_), Some(env)) => {
                self.error(
                    Code::BadValue,
                    env.span,
                    "a secret comes from `path=` or `env=`, not both",
                )
                .label("second source");
                None
            }
            (None, None) => {
                self.error(
                    Code::MissingField,
                    node.name_span(),
                    "`secret` needs `path=` or `env=`",
                )
                .label("no source")
                .help("keep secrets out of Git: path=\"/etc/netbootc/talos-secrets.yaml\" (a file outside the repository, or one it ignores) or env=\"NETBOOT_JOIN_TOKEN\"");
                None
            }
        };
        Some(SecretSpec {
            name: name?,
            from: from?,
            format: format?,
            example,
        })
    }

    /// `file "<name>" [kind=…] template=… [content-type=…]`.
    fn file(&mut self, node: &Node, files: &mut Vec<FileSpec>) {
        self.check_shape(node, 1, &["kind", "template", "content-type"], false);
        let name = self.named(node, "file name");
        let kind = match self.string_prop(node, "kind") {
            None => Some(None),
            Some(kind) => match FileKind::parse(&kind.value) {
                Some(k) => Some(Some(k)),
                None => {
                    let help = suggest(&kind.value, FileKind::NAMES.iter().copied()).map_or_else(
                        || format!("one of: {}", FileKind::NAMES.join(", ")),
                        |s| format!("did you mean \"{s}\"?"),
                    );
                    self.error(
                        Code::BadValue,
                        kind.span,
                        format!("unknown file kind \"{}\"", kind.value),
                    )
                    .label("not a kind")
                    .help(help);
                    None
                }
            },
        };
        let template = match self.string_prop(node, "template") {
            Some(path) => {
                let span = path.span.clone();
                self.relative_path(&path).map(|p| self.located(p, span))
            }
            None => {
                self.error(
                    Code::MissingField,
                    node.name_span(),
                    "`file` needs `template=`",
                )
                .label("no template")
                .help("add template=\"templates/<name>.j2\": a minijinja template, rendered for each machine");
                None
            }
        };
        let content_type = self.string_prop(node, "content-type").and_then(|t| {
            let valid = t.value.contains('/') && t.value.bytes().all(|b| (0x20..0x7f).contains(&b));
            if !valid {
                self.error(Code::BadValue, t.span, "not a media type")
                    .label("expected type/subtype")
                    .help("e.g. content-type=\"application/json\"");
            }
            valid.then_some(t.value)
        });
        let (Some(name), Some(kind), Some(template)) = (name, kind, template) else {
            return;
        };
        if let Some(first) = files.iter().find(|f| f.name.value == name.value) {
            let first = first.name.span.clone();
            let source = Arc::clone(self.source);
            self.error(
                Code::DuplicateField,
                name.span,
                format!("file `{}` given twice", name.value),
            )
            .label("second definition")
            .related(&source, first, "first defined here");
            return;
        }
        files.push(FileSpec {
            name,
            kind,
            template,
            content_type,
            source: Arc::clone(self.source),
            span: node.span(),
        });
    }

    fn named(&mut self, node: &Node, what: &str) -> Option<Located<String>> {
        let name = self.string_arg(node, 0, "a name")?;
        if !is_safe_name(&name.value) {
            self.bad_name(&name, what);
            return None;
        }
        Some(name)
    }

    /// Adds an `image` to the profile's, unless its role is `kernel`, `initrd` or one
    /// already there (then reported).
    fn add_image(&mut self, images: &mut Vec<ImageSpec>, image: ImageSpec) {
        if matches!(image.role.as_str(), "kernel" | "initrd")
            || images.iter().any(|i| i.role == image.role)
        {
            self.error(
                Code::DuplicateField,
                image.span.clone(),
                format!("image `{}` given twice", image.role),
            )
            .label("second definition");
        } else {
            images.push(image);
        }
    }

    pub(super) fn profile(&mut self, node: &Node) -> Option<ProfileDef> {
        self.check_shape(node, 1, &["extends"], true);
        let name = self.named(node, "profile name")?;
        let mut profile = ProfileDef {
            extends: self.string_prop(node, "extends"),
            name,
            arch: None,
            arch_span: None,
            kernel: None,
            kernel_written: false,
            initrd: None,
            shim: None,
            secure_boot: None,
            images: Vec::new(),
            cmdline: None,
            cmdline_append: Vec::new(),
            template: None,
            vars: Vars::new(),
            var_spans: BTreeMap::new(),
            files: Vec::new(),
            pi_files: Vec::new(),
            pi_config: Vec::new(),
        };
        let mut seen = Vec::new();
        for child in self.children(node) {
            let name = child.name();
            let repeatable = matches!(
                name,
                "image" | "cmdline-append" | "var" | "file" | "pi-file" | "pi-config"
            );
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
                    profile.arch_span = Some(arch.span.clone());
                    if profile.arch.is_none() {
                        let help = suggest(&arch.value, Arch::NAMES.iter().copied()).map_or(
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
                "shim" => profile.shim = self.image(child, ImageKind::Fixed),
                "secure-boot" => profile.secure_boot = self.secure_boot(child),
                "image" => {
                    if let Some(image) = self.image(child, ImageKind::Image) {
                        self.add_image(&mut profile.images, image);
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
                "var" => self.vars(child, &mut profile.vars, &mut profile.var_spans),
                "file" => self.file(child, &mut profile.files),
                "pi-file" => {
                    if let Some(file) = self.image(child, ImageKind::PiFile) {
                        self.add_image(&mut profile.pi_files, file);
                    }
                }
                "pi-config" => {
                    self.check_shape(child, 1, &[], false);
                    let Some(line) = self.string_arg(child, 0, "a config.txt line") else {
                        continue;
                    };
                    if line.value.chars().any(char::is_control) {
                        self.error(
                            Code::BadValue,
                            line.span,
                            "a `pi-config` line has a line break or control character",
                        )
                        .label("one config.txt line per `pi-config`")
                        .help("write each line as its own `pi-config`");
                        continue;
                    }
                    profile.pi_config.push(line);
                }
                _ => self.unknown_node(child, "in `profile`", PROFILE_CHILDREN),
            }
        }
        Some(profile)
    }

    fn cmdline(&mut self, node: &Node) -> Option<Located<String>> {
        let entry = args(node).next();
        let mut value = self.string_arg(node, 0, "a kernel command line")?;
        // Point spans at the string's content so template errors land on the exact column.
        if let Some(entry) = entry {
            value.span = string_content_span(&self.source.text, entry.span(), &value.value);
        }
        Some(value)
    }

    /// `var key=value ...`: properties become template variables; repeats override.
    fn vars(&mut self, node: &Node, vars: &mut Vars, spans: &mut BTreeMap<String, Span>) {
        if let Some(arg) = args(node).next() {
            self.error(
                Code::UnexpectedArgument,
                arg.span(),
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
                Value::String(s) => serde_json::Value::from(s.clone()),
                Value::Integer(i) => match i64::try_from(*i) {
                    Ok(i) => serde_json::Value::from(i),
                    Err(_) => {
                        self.error(Code::BadValue, entry.span(), "integer out of range")
                            .label("does not fit in 64 bits");
                        continue;
                    }
                },
                Value::Float(f) => serde_json::Value::from(*f),
                Value::Bool(b) => serde_json::Value::from(*b),
                Value::Null => serde_json::Value::Null,
            };
            vars.insert(key.to_owned(), value);
            spans.insert(key.to_owned(), entry.span());
        }
    }

    /// `mac "<address>"…`: each address normalised (`52-54-00-aa-00-01`) into `macs`.
    fn macs(&mut self, child: &Node, macs: &mut Vec<Located<Mac>>) {
        self.check_shape(child, usize::MAX, &[], false);
        if args(child).next().is_none() {
            self.string_arg(child, 0, "a MAC address");
        }
        for entry in args(child) {
            let Some(mac) = self.string_value(child, entry, "a MAC address") else {
                continue;
            };
            match Mac::parse(&mac.value) {
                Some(parsed) => macs.push(self.located_as(parsed, mac.span)),
                None => {
                    self.error(
                        Code::BadMac,
                        mac.span,
                        format!("`{}` is not a MAC address", mac.value),
                    )
                    .label("expected six hex pairs")
                    .help("write it as 52:54:00:aa:00:01 (`:` or `-` separators, any case)");
                }
            }
        }
    }

    /// `uuid "<uuid>"`, normalised; `None` (reported) if it is not one or a placeholder.
    fn uuid(&mut self, child: &Node) -> Option<Located<String>> {
        self.check_shape(child, 1, &[], false);
        let uuid = self.string_arg(child, 0, "a UUID")?;
        match normalize_uuid(&uuid.value) {
            Some(norm) if is_placeholder_uuid(&norm) => {
                self.error(Code::PlaceholderUuid, uuid.span, format!("`{}` is a placeholder, not this machine's UUID", uuid.value))
                    .label("firmware without a real UUID reports this")
                    .help("many machines share it, so it cannot pick one: remove `uuid` and let the MAC identify the machine");
                None
            }
            Some(norm) => Some(self.located(norm, uuid.span)),
            None => {
                self.error(
                    Code::BadUuid,
                    uuid.span,
                    format!("`{}` is not a UUID", uuid.value),
                )
                .label("expected 8-4-4-4-12 hex digits")
                .help("iPXE prints it with `show uuid`; `dmidecode -s system-uuid` on Linux");
                None
            }
        }
    }

    /// `boot "network"|"local"`; `None` (reported) for anything else.
    fn boot(&mut self, child: &Node) -> Option<Located<BootTarget>> {
        self.check_shape(child, 1, &[], false);
        let target = self.string_arg(child, 0, "\"network\" or \"local\"")?;
        match BootTarget::parse(&target.value) {
            Some(boot) => Some(self.located_as(boot, target.span)),
            None => {
                let help = suggest(&target.value, BootTarget::NAMES.iter().copied())
                    .map_or("expected \"network\" or \"local\"".to_owned(), |s| {
                        format!("did you mean \"{s}\"?")
                    });
                self.error(
                    Code::BadValue,
                    target.span,
                    format!("unknown boot target \"{}\"", target.value),
                )
                .label("not a boot target")
                .help(help);
                None
            }
        }
    }

    /// `pi "pi4"|"pi5" serial="<hex>"`; `None` (reported) if either is not one.
    fn pi(&mut self, child: &Node) -> Option<Located<PiBoard>> {
        self.check_shape(child, 1, &["serial"], false);
        let model = self.string_arg(child, 0, "a board model")?;
        let serial = self.string_prop(child, "serial");
        let Some(parsed) = PiModel::parse(&model.value) else {
            let help = suggest(&model.value, PiModel::NAMES.iter().copied()).map_or_else(
                || format!("one of: {}", PiModel::NAMES.join(", ")),
                |s| format!("did you mean \"{s}\"?"),
            );
            self.error(
                Code::BadValue,
                model.span,
                format!("unknown Raspberry Pi model \"{}\"", model.value),
            )
            .label("not a network-booting Pi model")
            .help(help);
            return None;
        };
        let Some(serial) = serial else {
            self.error(
                Code::MissingField,
                child.name_span(),
                "`pi` needs `serial=`",
            )
            .label("no serial number")
            .help("the bootloader fetches its files under its serial number: `vcgencmd otp_dump | grep ^28:` or the boot screen shows it");
            return None;
        };
        let Some(normal) = crate::pi::normalize_serial(&serial.value) else {
            self.error(
                Code::BadValue,
                serial.span,
                format!("`{}` is not a Raspberry Pi serial number", serial.value),
            )
            .label("expected 8 hex digits")
            .help("as the bootloader prints it, e.g. serial=\"3a8b1c2d\" (a leading 10000000 may be left on)");
            return None;
        };
        Some(self.located_as(
            PiBoard {
                model: parsed,
                serial: normal,
            },
            child.span(),
        ))
    }

    pub(super) fn machine(&mut self, node: &Node) -> Option<MachineDef> {
        self.check_shape(node, 1, &[], true);
        let name = self.named(node, "machine name")?;
        let mut machine = MachineDef {
            name,
            boot: None,
            macs: Vec::new(),
            uuid: None,
            pi: None,
            profile: None,
            secure_boot: None,
            vars: Vars::new(),
            var_spans: BTreeMap::new(),
            files: Vec::new(),
        };
        let mut seen = Vec::new();
        for child in self.children(node) {
            let kind = child.name();
            let once = matches!(kind, "uuid" | "pi" | "profile" | "boot" | "secure-boot");
            if once && !self.first_of(&mut seen, child) {
                continue;
            }
            match kind {
                "mac" => self.macs(child, &mut machine.macs),
                "uuid" => machine.uuid = self.uuid(child),
                "pi" => machine.pi = self.pi(child),
                "profile" => {
                    self.check_shape(child, 1, &[], false);
                    machine.profile = self.string_arg(child, 0, "a profile name");
                }
                "boot" => machine.boot = self.boot(child),
                "secure-boot" => machine.secure_boot = self.secure_boot(child),
                "var" => self.vars(child, &mut machine.vars, &mut machine.var_spans),
                "file" => self.file(child, &mut machine.files),
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
            && !node
                .children()
                .is_some_and(|c| c.nodes().iter().any(|n| matches!(n.name(), "mac" | "uuid")))
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

#[derive(Clone, Copy)]
enum ImageKind {
    /// `kernel` / `initrd`: the role is the node name.
    Fixed,
    /// `image "<role>" ...`
    Image,
    /// `boot-file "<tftp name>" ...`
    BootFile,
    /// `pi-file "<tree path>" ...`
    PiFile,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::diagnostic::Diagnostics;
    use crate::model::FileDefs;
    use crate::parse::parse_file;
    use crate::source::SourceFile;

    const SHA: &str = "8d53eaeaf1f2eeb15149901cc093dd2f0d65b15bc0929cb07541a937a7e71162";

    /// `text` read as `file`: the definitions, and each diagnostic as (code, the text its
    /// span covers).
    fn read(file: &str, text: &str) -> (FileDefs, Vec<(Code, String)>) {
        let source = SourceFile::new(file, text);
        let mut diags = Diagnostics::default();
        let defs = parse_file(&source, &mut diags);
        let found = diags
            .into_sorted()
            .into_iter()
            .map(|d| (d.code, text[d.span].to_owned()))
            .collect();
        (defs, found)
    }

    /// The stanza the proxy's `/status` offers for an unknown MAC reads back as that
    /// machine (the placeholder profile aside), so pasting it gives the MAC as written.
    #[test]
    fn the_proxys_unknown_mac_stanza_reads_as_a_machine() {
        let mac = Mac::parse("52:54:00:1A:00:99").unwrap();
        let stanza = netboot_protocol::status::stanza(&mac);
        let (defs, diags) = read("machines/new.kdl", &stanza);
        assert_eq!(diags, []);
        let [machine] = defs.machines.as_slice() else {
            panic!("one machine: {:?}", defs.machines);
        };
        assert_eq!(machine.name.value, "new-52-54-00-1a-00-99");
        assert_eq!(
            machine.macs.iter().map(|m| m.value).collect::<Vec<_>>(),
            [mac]
        );
        assert_eq!(machine.profile.as_ref().unwrap().value, "<choose one>");
    }

    #[test]
    fn a_machine_with_every_child_is_read_with_its_values_normalised() {
        let (defs, diags) = read(
            "machines/rack.kdl",
            r#"machine "web-1" {
    mac "52:54:00:AA:00:01" "52-54-00-aa-00-02"
    uuid "4C4C4544-0042-3510-8052-B4C04F4E3332"
    profile "flatcar"
    boot "local"
    var role="worker" replicas=3
}
"#,
        );
        assert_eq!(diags, []);
        let [machine] = defs.machines.as_slice() else {
            panic!("one machine: {:?}", defs.machines);
        };
        assert_eq!(machine.name.value, "web-1");
        let macs: Vec<String> = machine.macs.iter().map(|m| m.value.hexhyp()).collect();
        assert_eq!(macs, ["52-54-00-aa-00-01", "52-54-00-aa-00-02"]);
        assert_eq!(
            machine.uuid.as_ref().unwrap().value,
            "4c4c4544-0042-3510-8052-b4c04f4e3332"
        );
        assert_eq!(machine.profile.as_ref().unwrap().value, "flatcar");
        assert_eq!(machine.boot.as_ref().unwrap().value, BootTarget::Local);
        assert_eq!(machine.vars["role"], serde_json::json!("worker"));
        assert_eq!(machine.vars["replicas"], serde_json::json!(3));
        // Spans point at what was written, for diagnostics later in the pipeline.
        let text = &machine.name.source.text;
        assert_eq!(&text[machine.macs[0].span.clone()], "\"52:54:00:AA:00:01\"");
        assert_eq!(&text[machine.var_spans["replicas"].clone()], "replicas=3");
    }

    #[test]
    fn each_bad_machine_child_is_its_own_diagnostic_and_the_walk_goes_on() {
        let (defs, diags) = read(
            "machines/rack.kdl",
            r#"machine "web-1" {
    mac "52:54:00:aa:00" "52:54:00:aa:00:02"
    uuid "00000000-0000-0000-0000-000000000000"
    boot "netwrk"
    macs "52:54:00:aa:00:03"
    profile "flatcar"
    profile "other"
}
"#,
        );
        assert_eq!(
            diags,
            [
                (Code::BadMac, "\"52:54:00:aa:00\"".to_owned()),
                (
                    Code::PlaceholderUuid,
                    "\"00000000-0000-0000-0000-000000000000\"".to_owned()
                ),
                (Code::BadValue, "\"netwrk\"".to_owned()),
                (Code::UnknownNode, "macs".to_owned()),
                (Code::DuplicateField, "profile".to_owned()),
            ]
        );
        let machine = &defs.machines[0];
        // The good MAC after the bad one is kept; the first `profile` wins.
        assert_eq!(machine.macs.len(), 1);
        assert_eq!(machine.macs[0].value.hexhyp(), "52-54-00-aa-00-02");
        assert_eq!(machine.profile.as_ref().unwrap().value, "flatcar");
        assert!(machine.uuid.is_none() && machine.boot.is_none());
    }

    #[test]
    fn a_machine_that_cannot_be_recognised_or_booted_says_what_is_missing() {
        let (defs, diags) = read("machines/rack.kdl", "machine \"web-1\" {\n}\n");
        assert_eq!(
            diags,
            [
                (Code::MissingField, "\"web-1\"".to_owned()),
                (Code::MissingField, "\"web-1\"".to_owned()),
            ]
        );
        // Still a definition, so validation can report across files.
        assert_eq!(defs.machines.len(), 1);
    }

    #[test]
    fn a_site_is_read_with_its_chain_mirror_and_boot_files() {
        let (defs, diags) = read(
            "profiles/site.kdl",
            &format!(
                r#"site {{
    origin "https://boot.example.com"
    chain "via-proxy" proxy="http://10.0.0.2:8080"
    mirror #false
    boot-file "ipxe.efi" "https://boot.example.com/ipxe.efi" sha256="{SHA}" firmware="uefi-x86_64"
    boot-file "undionly.kpxe" path="bootfiles/undionly.kpxe" sha256="{SHA}"
}}
"#
            ),
        );
        assert_eq!(diags, []);
        let [site] = defs.sites.as_slice() else {
            panic!("one site: {:?}", defs.sites);
        };
        assert_eq!(
            site.origin.as_ref().unwrap().value,
            "https://boot.example.com"
        );
        assert_eq!(
            site.chain,
            ChainMode::ViaProxy {
                proxy: "http://10.0.0.2:8080".to_owned()
            }
        );
        assert!(!site.mirror);
        let [efi, bios] = site.boot_files.as_slice() else {
            panic!("two boot files: {:?}", site.boot_files);
        };
        assert_eq!(efi.image.role, "ipxe.efi");
        assert_eq!(
            efi.image.location,
            ImageLocation::Url("https://boot.example.com/ipxe.efi".to_owned())
        );
        assert_eq!(efi.image.sha256.hex(), SHA);
        assert_eq!(efi.firmware.as_ref().unwrap().value, Firmware::UefiX86_64);
        assert!(
            matches!(&bios.image.location, ImageLocation::Path { display, .. } if display == "bootfiles/undionly.kpxe")
        );
        assert!(bios.firmware.is_none());
    }

    #[test]
    fn each_chain_mode_mistake_is_named_at_its_value() {
        for (chain, code, at) in [
            (
                r#"chain "direct" proxy="http://10.0.0.2:8080""#,
                Code::UnknownProperty,
                r#"proxy="http://10.0.0.2:8080""#,
            ),
            (r#"chain "via-proxy""#, Code::MissingField, r#""via-proxy""#),
            (r#"chain "dirct""#, Code::BadValue, r#""dirct""#),
        ] {
            let text =
                format!("site {{\n    origin \"https://boot.example.com\"\n    {chain}\n}}\n");
            let (_, diags) = read("profiles/site.kdl", &text);
            assert_eq!(diags, [(code, at.to_owned())], "{chain}");
        }
        let (defs, diags) = read("profiles/site.kdl", "site {\n    mirror #true\n}\n");
        assert_eq!(diags, [(Code::MissingField, "site".to_owned())]);
        assert!(defs.sites[0].origin.is_none());
    }

    #[test]
    fn a_profile_is_read_with_its_images_and_command_line() {
        let (defs, diags) = read(
            "profiles/flatcar.kdl",
            &format!(
                r#"profile "flatcar-debug" extends="flatcar" {{
    arch "arm64"
    kernel "https://example.com/vmlinuz" sha256="{SHA}"
    initrd path="images/initrd.img" sha256="{SHA}"
    image "rootfs" "https://example.com/rootfs.img" sha256="{SHA}"
    cmdline "console=ttyS0"
    cmdline-append "flatcar.autologin"
}}
"#
            ),
        );
        assert_eq!(diags, []);
        let profile = &defs.profiles[0];
        assert_eq!(profile.name.value, "flatcar-debug");
        assert_eq!(profile.extends.as_ref().unwrap().value, "flatcar");
        assert_eq!(profile.arch, Some(Arch::Arm64));
        let kernel = profile.kernel.as_ref().unwrap();
        assert_eq!(kernel.role, "kernel");
        assert_eq!(
            kernel.location,
            ImageLocation::Url("https://example.com/vmlinuz".to_owned())
        );
        assert_eq!(profile.initrd.as_ref().unwrap().role, "initrd");
        let roles: Vec<&str> = profile.images.iter().map(|i| i.role.as_str()).collect();
        assert_eq!(roles, ["rootfs"]);
        assert_eq!(profile.cmdline.as_ref().unwrap().value, "console=ttyS0");
        let appended: Vec<&str> = profile
            .cmdline_append
            .iter()
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(appended, ["flatcar.autologin"]);
    }

    #[test]
    fn an_unknown_child_suggests_the_name_it_resembles() {
        let source = SourceFile::new(
            "profiles/flatcar.kdl",
            "profile \"p\" {\n    kernal \"https://example.com/k\"\n}\n",
        );
        let mut diags = Diagnostics::default();
        parse_file(&source, &mut diags);
        let unknown = diags.iter().find(|d| d.code == Code::UnknownNode).unwrap();
        assert_eq!(&source.text[unknown.span.clone()], "kernal");
        let help = unknown.help.as_deref().unwrap_or_default();
        assert!(help.contains("`kernel`"), "{help}");
    }
}
