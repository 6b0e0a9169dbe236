//! Secrets on the way out and in: `check` on an untrusted clone runs nothing from git config
//! while still telling tracked, ignored and untracked secret files apart.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::Test;

/// git as the test's own setup runs it: no hostile config is in place yet when it does.
fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C"])
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdout(Stdio::null())
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} in {}", dir.display());
}

/// A shell command that leaves `marker` behind if anything ever runs it.
fn touch(marker: &Path) -> String {
    format!("touch {}; false #", marker.display())
}

/// Every way a repository's config (or a file it includes) can name a command, each one
/// touching its own marker under `markers`.
fn hostile_config(markers: &Path, hooks: &Path, included: &Path) -> String {
    let t = |name: &str| touch(&markers.join(name));
    format!(
        "[core]\n\tfsmonitor = \"{}\"\n\thooksPath = {}\n\tpager = \"{}\"\n\teditor = \"{}\"\n\taskPass = \"{}\"\n\tsshCommand = \"{}\"\n\
         [pager]\n\tls-files = \"{}\"\n\tcheck-ignore = \"{}\"\n\
         [filter \"evil\"]\n\tclean = \"{}\"\n\tsmudge = \"{}\"\n\tprocess = \"{}\"\n\trequired = true\n\
         [diff]\n\texternal = \"{}\"\n\
         [diff \"evil\"]\n\ttextconv = \"{}\"\n\tcommand = \"{}\"\n\
         [credential]\n\thelper = \"!{}\"\n\
         [include]\n\tpath = {}\n",
        t("fsmonitor"),
        hooks.display(),
        t("core-pager"),
        t("editor"),
        t("askpass"),
        t("ssh"),
        t("pager-ls-files"),
        t("pager-check-ignore"),
        t("filter-clean"),
        t("filter-smudge"),
        t("filter-process"),
        t("diff-external"),
        t("textconv"),
        t("diff-command"),
        t("credential"),
        included.display(),
    )
}

/// Makes the repository whose git directory is `git_dir` hostile: its config (appended, so
/// the repository still works), an included config that sets fsmonitor again, every hook
/// git has, and attributes that send every file through the filter and diff drivers.
/// The hooks and the included config go in `setup`; `markers` holds only what ran.
fn poison(git_dir: &Path, work_tree: &Path, setup: &Path, markers: &Path) {
    let hooks = setup.join("hooks");
    std::fs::create_dir_all(&hooks).expect("set up the fixture");
    for hook in [
        "post-index-change",
        "pre-commit",
        "post-checkout",
        "reference-transaction",
        "fsmonitor-watchman",
    ] {
        let script = hooks.join(hook);
        std::fs::write(
            &script,
            format!("#!/bin/sh\n{}\n", touch(&markers.join(hook))),
        )
        .expect("set up the fixture");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("set up the fixture");
    }
    let included = setup.join("included.gitconfig");
    std::fs::write(
        &included,
        format!(
            "[core]\n\tfsmonitor = \"{}\"\n",
            touch(&markers.join("included-fsmonitor"))
        ),
    )
    .expect("set up the fixture");
    let mut config = std::fs::read_to_string(git_dir.join("config")).expect("set up the fixture");
    config.push_str(&hostile_config(markers, &hooks, &included));
    std::fs::write(git_dir.join("config"), config).expect("set up the fixture");
    std::fs::write(
        work_tree.join(".gitattributes"),
        "* filter=evil diff=evil\n",
    )
    .expect("set up the fixture");
}

/// Five secrets, each in a hostile repository of its own inside the config: `tracked`
/// (committed), `ignored`, `untracked` (neither), `linked` (committed, in a work tree
/// whose `.git` is a file pointing at its git directory elsewhere) and `bare` (in a bare
/// repository). Plus a hostile global
/// config and `GIT_*` variables in the environment netbootc runs in.
#[test]
fn git_runs_nothing_from_a_hostile_repository_and_still_answers() {
    let test = Test::new().base().file(
        "profiles/site.kdl",
        "site {\n    origin \"https://boot.example.com\"\n    \
         secret \"tracked\" path=\"tracked/secret\"\n    \
         secret \"ignored\" path=\"ignored/secret\"\n    \
         secret \"untracked\" path=\"untracked/secret\"\n    \
         secret \"linked\" path=\"linked/secret\"\n    \
         secret \"bare\" path=\"bare/secret\"\n}\n",
    );
    let root = test.path().to_owned();
    let markers = root.join("markers");
    let setup = root.join("hostile");
    std::fs::create_dir_all(&markers).expect("set up the fixture");
    let test = test.prepare();
    for name in ["tracked", "ignored", "untracked"] {
        let repo = root.join("profiles").join(name);
        std::fs::create_dir_all(&repo).expect("set up the fixture");
        std::fs::write(repo.join("secret"), format!("value-of-{name}-secret\n"))
            .expect("set up the fixture");
        git(&repo, &["init", "-q"]);
        match name {
            "tracked" => {
                git(&repo, &["add", "secret"]);
                git(&repo, &["commit", "-q", "-m", "oops"]);
            }
            "ignored" => {
                std::fs::write(repo.join(".gitignore"), "secret\n").expect("set up the fixture")
            }
            _ => {}
        }
        poison(&repo.join(".git"), &repo, &setup.join(name), &markers);
    }
    let linked = root.join("profiles/linked");
    let linked_git = root.join("linked.git");
    std::fs::create_dir_all(&linked).expect("set up the fixture");
    std::fs::write(linked.join("secret"), "value-of-linked-secret\n").expect("set up the fixture");
    git(
        &linked,
        &[
            "init",
            "-q",
            "--separate-git-dir",
            linked_git.to_str().expect("a UTF-8 temp path"),
        ],
    );
    git(&linked, &["add", "secret"]);
    git(&linked, &["commit", "-q", "-m", "oops"]);
    poison(&linked_git, &linked, &setup.join("linked"), &markers);
    // A bare repository planted in the tree: not a work tree, so no finding, and
    // (safe.bareRepository=explicit) not even opened.
    let bare = root.join("profiles/bare");
    git(&root.join("profiles"), &["init", "-q", "--bare", "bare"]);
    std::fs::write(bare.join("secret"), "value-of-bare-secret\n").expect("set up the fixture");
    poison(&bare, &bare, &setup.join("bare"), &markers);
    let global = setup.join("global.gitconfig");
    std::fs::write(
        &global,
        format!(
            "[core]\n\tfsmonitor = \"{}\"\n",
            touch(&markers.join("global-fsmonitor"))
        ),
    )
    .expect("set up the fixture");

    // What git says of each secret's file, as check reports it.
    let assert_findings = |stderr: &str| {
        for (secret, finding) in [
            ("tracked", Some("is tracked by Git")),
            ("linked", Some("is tracked by Git")),
            ("untracked", Some("is not ignored by Git")),
            ("ignored", None),
            ("bare", None),
        ] {
            let line = format!("the file of secret `{secret}` ");
            match finding {
                Some(finding) => assert!(
                    stderr.contains(&format!("{line}{finding}")),
                    "{secret}: {finding}\n{stderr}"
                ),
                None => assert!(!stderr.contains(&line), "{secret}: no finding\n{stderr}"),
            }
        }
    };

    // The repositories alone, then with the environment hostile as well.
    let out = test.args(["check"]).expect_exit(1).run();
    let ran = common::walk(&markers);
    assert!(
        ran.is_empty(),
        "git ran commands from repository config: {ran:?}"
    );
    assert_findings(&out.stderr);
    let out = out
        .again()
        .env("GIT_CONFIG_GLOBAL", &global)
        .env("GIT_CONFIG_NOSYSTEM", "0")
        // Another repository forced on every git run: the answers must not change.
        .env("GIT_DIR", root.join("profiles/untracked/.git"))
        .env(
            "GIT_CONFIG_PARAMETERS",
            format!(
                "'core.fsmonitor'='{}'",
                touch(&markers.join("env-fsmonitor"))
            ),
        )
        .args(["check"])
        .expect_exit(1)
        .run();
    let ran = common::walk(&markers);
    assert!(
        ran.is_empty(),
        "git ran commands from the environment: {ran:?}"
    );
    assert_findings(&out.stderr);
}

// --- secrets shown only as stand-ins -------------------------------------------------------

/// The issue's reproduction: a password every escaping changes (`"`, `\`, `<`, `>`, `&`).
const PW: &str = "Sup3r\"Secret\\Pass<w>rd&1";

/// The JSON secret `cfg`: a number, a boolean and a string in a mapping.
const CFG: &str = r#"{"port": 12345678, "insecure": true, "token": "t0ken-in-a-mapping"}"#;

/// Pieces of the secrets in every form they can be written in (as they are, JSON- or
/// YAML-escaped, `\u003c`-style): none may appear in anything shown.
const HIDDEN: [&str; 4] = ["Sup3r", "Pass", "12345678", "t0ken-in-a"];

fn assert_hidden(what: &str, shown: &str) {
    for piece in HIDDEN {
        assert!(!shown.contains(piece), "{what} shows `{piece}`:\n{shown}");
    }
}

/// The base config with secrets `pw` (environment) and `cfg` (a JSON file), and the profile
/// rendering `files`: (name, kind, template text), each under `profiles/templates/`.
fn with_files(files: &[(&str, &str, &str)]) -> Test {
    let mut profile = format!(
        "profile \"flatcar-stable\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n",
        common::kernel_sha256()
    );
    let mut test = Test::new().base();
    for (name, kind, text) in files {
        profile.push_str(&format!(
            "    file \"{name}\" kind=\"{kind}\" template=\"templates/{name}.j2\"\n"
        ));
        test = test.file(&format!("profiles/templates/{name}.j2"), text);
    }
    profile.push_str("    cmdline \"ds=nocloud;s={{ files_url }}\"\n}\n");
    test.file(
        "profiles/site.kdl",
        "site {\n    origin \"https://boot.example.com\"\n    secret \"pw\" env=\"NETBOOT_PW\"\n    secret \"cfg\" path=\"cfg.json\" format=\"json\"\n}\n",
    )
    .file("profiles/cfg.json", CFG)
    .file("profiles/flatcar.kdl", profile)
    .env("NETBOOT_PW", PW)
}

const IGNITION: &str = r#"{
  "ignition": { "version": "3.4.0" },
  "passwd": { "users": [ { "name": "core", "passwordHash": {{ secrets.pw | tojson }} } ] },
  "storage": { "files": [ { "path": "/etc/cfg", "mode": {{ secrets.cfg.port }}, "contents": { "source": "data:,{{ secrets.cfg.token }}" } } ] }
}
"#;

const USER_DATA: &str = "#cloud-config\npassword: {{ secrets.pw | tojson }}\nquoted: '{{ secrets.cfg.token }}'\nport: {{ secrets.cfg.port }}\ninsecure: {{ secrets.cfg.insecure | tojson }}\n";

/// `render --file` shows each file, merged ones re-serialised too, with stand-ins of the
/// secrets' types; the bundle has the real values.
#[test]
fn render_file_shows_stand_ins_however_the_value_is_escaped_or_typed() {
    let test = with_files(&[
        ("ignition", "ignition", IGNITION),
        ("user-data", "cloud-config", USER_DATA),
    ])
    // The machine's own user-data merged over the profile's: re-serialised YAML.
    .file(
        "machines/rack-a.kdl",
        common::MACHINE_KDL.replace(
            "}\n",
            "    file \"user-data\" template=\"../profiles/templates/own.j2\"\n}\n",
        ),
    )
    .file(
        "profiles/templates/own.j2",
        "#cloud-config\nhostname: {{ machine.name }}\n",
    );
    let out = test.args(["render", "node-01", "--file", "ignition"]).run();
    assert_hidden("render --file ignition", &out.stdout);
    assert_eq!(
        out.stdout,
        IGNITION
            .replace("{{ secrets.pw | tojson }}", "\"SECRET-pw\"")
            .replace("{{ secrets.cfg.port }}", "0")
            .replace("{{ secrets.cfg.token }}", "SECRET-cfg.token")
    );
    let out = out
        .again()
        .env("NETBOOT_PW", PW)
        .args(["render", "node-01", "--file", "user-data"])
        .run();
    assert_hidden("render --file user-data (merged)", &out.stdout);
    assert_eq!(
        out.stdout,
        "#cloud-config\nhostname: node-01\ninsecure: false\npassword: SECRET-pw\nport: 0\nquoted: SECRET-cfg.token\n"
    );
    // The bundle has the real values, in each file's own escaping.
    let out = out.again().env("NETBOOT_PW", PW).args(["build"]).run();
    assert_hidden("build", &format!("{}{}", out.stdout, out.stderr));
    let objects: Vec<String> = common::walk(&out.path().join("out/objects"))
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    for real in [
        r#""passwordHash": "Sup3r\"Secret\\Pass\u003cw\u003erd\u00261""#,
        r#""mode": 12345678"#,
        "data:,t0ken-in-a-mapping",
        "port: 12345678\n",
        "insecure: true\n",
    ] {
        assert!(
            objects.iter().any(|o| o.contains(real)),
            "no object holds {real}"
        );
    }
}

/// Every report that quotes a rendered file or a template error: what is shown comes from
/// the stand-ins, or, when only the real value fails, the place without the reason.
#[test]
fn check_reports_never_show_a_secret_in_any_form() {
    let user = r#"{ "name": "core", "passwordHash": {{ secrets.pw | tojson }} }"#;
    let cases: [(&str, &str, &str); 6] = [
        // The issue's reproduction: the JSON-escaped value on the line a problem is on.
        (
            "ignition",
            &IGNITION.replace(
                user,
                r#"{ "name": "core", "passwordHash": {{ secrets.pw | tojson }}, "sshAuthorizedKeys": ["bad"] }"#,
            ),
            r#""passwordHash": "SECRET-pw", "sshAuthorizedKeys": ["bad"]"#,
        ),
        // A number that makes the file invalid, quoted by the reason.
        (
            "ignition",
            &IGNITION.replace("3.4.0", "{{ secrets.cfg.port }}"),
            "Ignition spec version `0` is not supported",
        ),
        // Written without `tojson`, the value's `"` breaks the JSON: only the place.
        (
            "ignition",
            &IGNITION.replace("data:,{{ secrets.cfg.token }}", "data:,{{ secrets.pw }}"),
            "would be rejected: line 4 is invalid with the real values",
        ),
        // A template error quoting the value (the name of a template to include).
        (
            "raw",
            "{% include secrets.pw %}\n",
            "tried to include non-existing template 'SECRET-pw'",
        ),
        // A template error only the real value causes: its place, not its text.
        (
            "raw",
            "{% if secrets.pw | length > 12 %}{% include secrets.cfg.token %}{% endif %}\n",
            "with the real values of its secrets only",
        ),
        // YAML broken on a line that holds a value: shown with its stand-in.
        (
            "cloud-config",
            &USER_DATA.replace("port: {{", "port: [{{"),
            "port: [0",
        ),
    ];
    // Every case runs, and every one that shows too much or too little is named.
    let mut wrong = Vec::new();
    for (kind, template, expected) in cases {
        let out = with_files(&[("file", kind, template)])
            .args(["check"])
            .expect_exit(1)
            .run();
        let shown: Vec<&str> = HIDDEN
            .into_iter()
            .filter(|piece| out.stderr.contains(piece))
            .collect();
        if !shown.is_empty() || !out.stderr.contains(expected) {
            wrong.push(format!(
                "{template}\nshows {shown:?}; expected `{expected}` in:\n{}",
                out.stderr
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The reports as a person reads them: the issue's reproduction (the JSON-escaped value on
/// a line with a problem), and a value that breaks the JSON only as itself.
#[test]
fn reports_quote_stand_ins_or_withhold_the_reason() {
    let reproduction = IGNITION.replace(
        r#"{ "name": "core", "passwordHash": {{ secrets.pw | tojson }} }"#,
        r#"{ "name": "core", "passwordHash": {{ secrets.pw | tojson }}, "sshAuthorizedKeys": ["bad"] }"#,
    );
    let out = with_files(&[("ignition", "ignition", &reproduction)])
        .args(["check"])
        .expect_exit(1)
        .run();
    assert_hidden("check", &out.stderr);
    insta::assert_snapshot!("reproduction", out.stderr);
    let unquoted = IGNITION.replace("{{ secrets.pw | tojson }}", "\"{{ secrets.pw }}\"");
    let out = with_files(&[("ignition", "ignition", &unquoted)])
        .args(["check"])
        .expect_exit(1)
        .run();
    assert_hidden("check", &out.stderr);
    insta::assert_snapshot!("withheld", out.stderr);
}

/// The public lines of a PEM secret (its markers) are in every certificate: a config with
/// another certificate is not reported; one with a line of the secret's body is.
#[test]
fn secret_in_config_ignores_pem_markers_and_finds_the_body() {
    let secret = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUfV0secretbody\n-----END CERTIFICATE-----\n";
    let public =
        "-----BEGIN CERTIFICATE-----\nMIIBpublicpublicpublicpublic\n-----END CERTIFICATE-----\n";
    let site =
        "site {\n    origin \"https://boot.example.com\"\n    secret \"ca\" path=\"ca.pem\"\n}\n";
    let template = |cert: &str| {
        format!(
            "#cloud-config\nca_certs:\n  trusted:\n    - |\n{}    - |\n      {{{{ secrets.ca | indent(6) }}}}\n",
            cert.lines()
                .map(|l| format!("      {l}\n"))
                .collect::<String>()
        )
    };
    let out = Test::new()
        .base()
        .file("profiles/site.kdl", site)
        .file("profiles/ca.pem", secret)
        .file(
            "profiles/flatcar.kdl",
            format!(
                "profile \"flatcar-stable\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    file \"user-data\" kind=\"cloud-config\" template=\"templates/user-data.j2\"\n    cmdline \"ds=nocloud;s={{{{ files_url }}}}\"\n}}\n",
                common::kernel_sha256()
            ),
        )
        .file("profiles/templates/user-data.j2", template(public))
        .args(["check"])
        .expect_stderr("")
        .run();
    let out = out
        .again()
        .file(
            "profiles/templates/user-data.j2",
            template(&public.replace(
                "MIIBpublicpublicpublicpublic",
                "MIIBszCCAVmgAwIBAgIUfV0secretbody",
            )),
        )
        .args(["check"])
        .expect_exit(1)
        .run();
    assert!(
        out.stderr
            .contains("`profiles/templates/user-data.j2` line 6 holds a value of secret `ca`"),
        "{}",
        out.stderr
    );
}

/// A `text` secret from a file with Windows line ends has none of its `\r`.
#[test]
fn a_text_secret_from_a_crlf_file_loses_its_carriage_returns() {
    let out = Test::new()
        .base()
        .file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    secret \"one\" path=\"one.txt\"\n    secret \"two\" path=\"two.txt\"\n}\n",
        )
        .file("profiles/one.txt", "crlf-secret-value\r\n")
        .file("profiles/two.txt", "line-one-value\r\nline-two-value\r\n")
        .file(
            "profiles/flatcar.kdl",
            format!(
                "profile \"flatcar-stable\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    file \"values\" template=\"templates/values.j2\"\n    cmdline \"v={{{{ files.values.url }}}}\"\n}}\n",
                common::kernel_sha256()
            ),
        )
        .file(
            "profiles/templates/values.j2",
            "{{ secrets.one | tojson }} {{ secrets.two | tojson }}\n",
        )
        .args(["build"])
        .run();
    let objects: Vec<String> = common::walk(&out.path().join("out/objects"))
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    assert!(
        objects.contains(&"\"crlf-secret-value\" \"line-one-value\\nline-two-value\"\n".to_owned()),
        "{objects:?}"
    );
}

// --- modes of objects in out/ --------------------------------------------------------------

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// This process's umask (the built binary inherits it), from `/proc/self/status`.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("a Umask line");
    u32::from_str_radix(line.trim(), 8).expect("an octal umask")
}

/// Provisioning files (which hold the secrets) are `0640` in `out/`, from creation, when
/// kept from an older build that wrote them `0644`, and when a torn one is replaced;
/// everything else stays as the umask makes it.
#[test]
fn provisioning_objects_are_readable_by_owner_and_group_only() {
    let out = with_files(&[
        ("ignition", "ignition", IGNITION),
        ("user-data", "cloud-config", USER_DATA),
    ])
    .args(["build"])
    .run();
    let bundle = out.path().join("out");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bundle.join("manifest.json")).expect("read the manifest"),
    )
    .expect("a JSON manifest");
    let mut private = Vec::new();
    let mut public = Vec::new();
    for (route, entry) in manifest["routes"].as_object().expect("routes") {
        let digest = entry["object"].as_str().expect("an object digest");
        let path = bundle
            .join("objects/sha256")
            .join(digest.trim_start_matches("sha256:"));
        if route.starts_with("files/") {
            private.push(path);
        } else {
            public.push(path);
        }
    }
    assert_eq!(private.len(), 2, "the two provisioning files");
    let check = |when: &str| {
        for path in &private {
            let (got, want) = (mode(path), 0o640 & !umask());
            assert_eq!(
                got,
                want,
                "{when}: {} is {got:o}, not {want:o}",
                path.display()
            );
        }
        for path in &public {
            let (got, want) = (mode(path), 0o666 & !umask());
            assert_eq!(
                got,
                want,
                "{when}: {} is {got:o}, not {want:o}",
                path.display()
            );
        }
    };
    check("written");
    // As an older netbootc left them: readable by all, one of them torn.
    use std::os::unix::fs::PermissionsExt;
    for path in &private {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .expect("chmod the object");
    }
    std::fs::write(&private[0], "torn").expect("tear the object");
    std::fs::set_permissions(&private[0], std::fs::Permissions::from_mode(0o644))
        .expect("chmod the object");
    // Held, or the temp dir goes with it before the check.
    let _rebuilt = out.again().env("NETBOOT_PW", PW).args(["build"]).run();
    check("rebuilt");
}
