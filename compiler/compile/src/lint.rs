//! Checks a rendered script the way iPXE will read it: `#!ipxe` first, known commands
//! only, every `goto` target defined. Findings point into the rendered text, named after
//! the route it will be served at, with the template named in the help.

use std::collections::BTreeSet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::script::Script;
use crate::source::SourceFile;

/// Every command of upstream iPXE's command reference (ipxe.org/cmd), including ones
/// that a given build may leave out.
const COMMANDS: &[&str] = &[
    "autoboot",
    "boot",
    "certfree",
    "certstat",
    "chain",
    "choose",
    "clear",
    "colour",
    "console",
    "cpair",
    "cpuid",
    "dhcp",
    "echo",
    "exit",
    "fcels",
    "fcstat",
    "fdt",
    "form",
    "gdbstub",
    "goto",
    "ibstat",
    "ifclose",
    "ifconf",
    "ifopen",
    "ifstat",
    "imgargs",
    "imgdecrypt",
    "imgexec",
    "imgextract",
    "imgfetch",
    "imgfree",
    "imgload",
    "imgmem",
    "imgselect",
    "imgstat",
    "imgtrust",
    "imgverify",
    "inc",
    "initrd",
    "ipstat",
    "iseq",
    "isset",
    "item",
    "kernel",
    "login",
    "lotest",
    "menu",
    "module",
    "neighbour",
    "nslookup",
    "nstat",
    "ntp",
    "param",
    "params",
    "pciscan",
    "ping",
    "poweroff",
    "present",
    "profstat",
    "prompt",
    "pxebs",
    "read",
    "reboot",
    "route",
    "sanboot",
    "sanhook",
    "sanunhook",
    "set",
    "shell",
    "shim",
    "show",
    "sleep",
    "stp",
    "sync",
    "time",
    "usbscan",
    "vcreate",
    "vdestroy",
];

/// Whether a diagnostic code comes from this module.
pub fn is_lint(code: Code) -> bool {
    matches!(
        code,
        Code::LintShebang | Code::LintUnknownCommand | Code::LintMissingLabel
    )
}

pub fn lint(script: &Script, route: &str, diags: &mut Diagnostics) {
    let mut found = Vec::new();
    let text = script.text.as_str();
    let first_line = text.lines().next().unwrap_or("");
    if first_line.trim_end() != "#!ipxe" {
        found.push((
            Code::LintShebang,
            0..first_line.len(),
            "the script does not start with `#!ipxe`".to_owned(),
            "iPXE needs `#!ipxe` here".to_owned(),
        ));
    }

    let mut labels = BTreeSet::new();
    let mut gotos = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let body = trimmed.trim_end();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if let Some(label) = body.strip_prefix(':') {
            labels.insert(label.split_whitespace().next().unwrap_or("").to_owned());
            continue;
        }
        // `a && b || c`: each part is a command of its own.
        let mut part_start = start + indent;
        for part in split_commands(body) {
            let words = part.trim_start();
            let at = part_start + (part.len() - words.len());
            part_start += part.len() + 2;
            let mut tokens = words.split_whitespace();
            let Some(command) = tokens.next() else {
                continue;
            };
            if command.contains("${") {
                continue; // a command chosen at run time; nothing to check statically
            }
            if !COMMANDS.contains(&command) {
                found.push((
                    Code::LintUnknownCommand,
                    at..at + command.len(),
                    format!("unknown iPXE command `{command}`"),
                    "not an iPXE command".to_owned(),
                ));
            } else if command == "goto"
                && let Some(target) = tokens.next()
                && !target.contains("${")
            {
                let after = command.len();
                let target_at = at + after + words[after..].find(target).unwrap_or(0);
                gotos.push((target.to_owned(), target_at..target_at + target.len()));
            }
        }
    }
    for (target, span) in gotos {
        if !labels.contains(&target) {
            found.push((
                Code::LintMissingLabel,
                span,
                format!("`goto {target}` has no label `:{target}`"),
                "no such label".to_owned(),
            ));
        }
    }
    if found.is_empty() {
        return;
    }
    let source = SourceFile::new(format!("{route} (rendered)"), text);
    for (code, span, message, label) in found {
        diags
            .push(Diagnostic::error(code, &source, span, message))
            .label(label)
            .help(format!(
                "the script was rendered from template `{}`",
                script.template
            ));
    }
}

/// Splits on `&&` and `||`, the only connectives iPXE's script language has.
fn split_commands(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("&&").into_iter().chain(rest.find("||")).min() {
        parts.push(&rest[..at]);
        rest = &rest[at + 2..];
    }
    parts.push(rest);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(Code, String)> {
        let script = Script {
            text: text.to_owned(),
            template: "t".to_owned(),
        };
        let mut diags = Diagnostics::default();
        lint(&script, "r", &mut diags);
        diags
            .into_sorted()
            .into_iter()
            .map(|d| {
                let span = d.span.clone();
                (
                    d.code,
                    d.source
                        .map(|s| s.text[span].to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn clean_script_passes() {
        let script = "#!ipxe\n:retry\n  kernel http://x/k || goto retry\niseq a b && goto retry ||\n# comment\n${next} arg\n";
        assert_eq!(codes(script), vec![]);
    }

    #[test]
    fn finds_each_problem_at_its_span() {
        let script = "#!pxe\nkernal http://x/k\nboot || goto fail\n";
        assert_eq!(
            codes(script),
            vec![
                (Code::LintShebang, "#!pxe".to_owned()),
                (Code::LintUnknownCommand, "kernal".to_owned()),
                (Code::LintMissingLabel, "fail".to_owned()),
            ]
        );
    }
}
