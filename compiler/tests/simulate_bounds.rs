//! `check` on templates that would make the simulator grow without end: each fails with
//! the bound it went over, on its line; long but finite scripts still boot.

mod common;

use common::Test;
use serde_json::Value;

/// The base config with its profile's machine script rendered from `template`.
fn with_template(template: &str) -> Test {
    Test::new()
        .base()
        .file(
            "profiles/flatcar.kdl",
            common::profile_kdl().replace("}\n", "    template \"templates/node.ipxe.j2\"\n}\n"),
        )
        .file("profiles/templates/node.ipxe.j2", template)
}

/// `check --format json`: its exit code and diagnostics.
fn check(test: Test) -> (i32, Vec<Value>) {
    let out = test.args(["check", "--format", "json"]).any_exit().run();
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let list = report["diagnostics"].as_array().expect("a list").clone();
    (out.status, list)
}

#[test]
fn a_setting_doubled_in_a_loop_fails_check_on_its_line() {
    let (status, list) = check(with_template(
        "#!ipxe\nset a xxxxxxxxxxxxxxxx\n:loop\nset a ${a}${a}\ngoto loop\n",
    ));
    assert_eq!(status, 1);
    assert_eq!(list.len(), 1, "{list:#?}");
    let d = &list[0];
    assert_eq!(d["code"], "netbootc::simulation-failed");
    assert_eq!(
        d["message"],
        "machine `node-01` would not boot as configured on uefi-x86_64 firmware: setting `a` would hold 32768 bytes, over the simulator's limit of 16 KiB for one setting"
    );
    assert_eq!(d["line"], 4, "{d:#}");
    assert!(
        d["help"].as_str().is_some_and(
            |h| h.ends_with("rendered from template `profiles/templates/node.ipxe.j2`")
        ),
        "{d:#}"
    );
}

#[test]
fn output_and_what_a_boot_holds_are_bounded_through_check() {
    // A line that prints 8 KiB, a hundred times over: the console bound.
    let print = format!(
        "#!ipxe\nset line {}\n:again\ninc n\necho ${{line}}\niseq ${{n}} 100 || goto again\n",
        "p".repeat(8 * 1024)
    );
    // A new 16 KiB setting each time round: the bound on what one boot holds.
    let hoard = format!(
        "#!ipxe\nset value {}\n:again\ninc n\nset v${{n}} ${{value}}\niseq ${{n}} 1000 || goto again\n",
        "h".repeat(16 * 1024 - 100)
    );
    for (template, reason, line) in [
        (
            print.as_str(),
            "the boot prints more than 256 KiB with `echo`",
            5,
        ),
        (hoard.as_str(), "the boot holds more than 4 MiB", 5),
        (
            "#!ipxe\n:again\ninc n\ngoto again\n",
            "lines and commands without booting and never comes back to the same state",
            3,
        ),
    ] {
        let (status, list) = check(with_template(template));
        assert_eq!((status, list.len()), (1, 1), "{list:#?}");
        let message = list[0]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(
                "machine `node-01` would not boot as configured on uefi-x86_64 firmware: "
            ) && message.contains(reason),
            "{message}"
        );
        assert_eq!(list[0]["line"], line, "{reason}");
    }
}

#[test]
fn long_but_finite_scripts_boot() {
    let boot = ":linux\nkernel {{ images.kernel.url }} {{ cmdline }}\nboot\n";
    // A menu of 10,000 items whose default boots the profile's kernel.
    let menu = format!(
        "#!ipxe\nmenu Pick one\n{{% for i in range(10000) %}}\nitem os{{{{ i }}}} Operating system {{{{ i }}}}\n{{% endfor %}}\nitem --default linux Linux\nchoose --timeout 5000 target || exit 1\ngoto ${{target}}\n{boot}"
    );
    // 10,000 lines one after the other, then the boot.
    let lines = format!(
        "#!ipxe\n{{% for i in range(10000) %}}\necho step {{{{ i }}}}\n{{% endfor %}}\ngoto linux\n{boot}"
    );
    // The same lines run twice, a counter choosing when to go on: a loop that ends.
    let twice = format!(
        "#!ipxe\n:again\ninc round\n{{% for i in range(10000) %}}\nset step {{{{ i }}}}\n{{% endfor %}}\niseq ${{round}} 2 || goto again\ngoto linux\n{boot}"
    );
    for template in [menu, lines, twice] {
        let (status, list) = check(with_template(&template));
        assert_eq!((status, &list), (0, &vec![]), "{}", &template[..80]);
    }
}
