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

    // The repositories alone, then with the environment hostile as well.
    let out = test.args(["check"]).expect_exit(1).run();
    let ran = common::walk(&markers);
    assert!(
        ran.is_empty(),
        "git ran commands from repository config: {ran:?}"
    );
    let out = out
        .again()
        .env("GIT_CONFIG_GLOBAL", &global)
        .env("GIT_CONFIG_NOSYSTEM", "0")
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
    let stderr = &out.stderr;
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
}
