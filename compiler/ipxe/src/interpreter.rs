//! The iPXE script language as iPXE runs it (core/exec.c, image/script.c): a line has its
//! settings expanded first, is split on whitespace, and runs command by command, `||`
//! running the next one after a failure, `&&` after a success, `;` always; a line whose
//! last command failed ends the script with that error. `chain` runs another script and
//! returns its status (`--replace`: the new script takes the caller's place).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use netboot_bundle::{Digest, OBJECTS_DIR};
use netboot_protocol::{Firmware, routes};

use super::bounds::{
    Exceeded, MAX_CONSOLE, MAX_EXPANDED, MAX_HELD, MAX_LINE, Settings, work_allowance,
};
use super::{At, Client, End, Fetch, FetchOutcome, Loaded, Origin, Step, Trace};

/// Scripts chained without `--replace`, one inside the other.
const MAX_DEPTH: usize = 8;
/// The error a failed command leaves in `${errno}` (iPXE's "No such file or directory").
const ENOENT: i64 = 0x2d12_6083;
/// `boot`'s error when the firmware refuses the image (EFI_SECURITY_VIOLATION, as iPXE
/// reports it: "Could not boot: Error 0x7f04818f").
const EFI_SECURITY_VIOLATION: i64 = 0x7f04_818f;

/// Simulates `client` from its first script, the dispatcher, to the end of its boot.
pub fn simulate(origin: &dyn Origin, client: &Client) -> Trace {
    let mut machine = Machine {
        origin,
        client,
        vars: Settings::default(),
        steps: Vec::new(),
        kernel: None,
        initrds: Vec::new(),
        errno: 0,
        clock: 0,
        seen: HashSet::new(),
        work: 0,
        script_bytes: 0,
        expanded: 0,
        held: 0,
        console: 0,
        menu: Vec::new(),
        menu_bytes: 0,
        last_failure: None,
        scripts: HashMap::new(),
    };
    let url = format!("{}/{}", origin.bases()[0], routes::DISPATCHER);
    // The first script is chained by the boot file, not by a line of a script.
    let at = || At {
        route: url.clone(),
        line: 0,
    };
    let end = match machine.load_script("chain", &url, at) {
        Err(end) => end,
        Ok(None) => machine.failed_end(None),
        Ok(Some(program)) => match machine.run(program, 0) {
            Err(end) => end,
            Ok(0) => End::Exit(0),
            Ok(_) if machine.last_failure.is_some() => machine.failed_end(None),
            Ok(code) => End::Exit(code),
        },
    };
    Trace {
        last_failure: machine
            .last_failure
            .map(|(fetch, at)| (describe_failure(&fetch), at)),
        steps: machine.steps,
        end,
    }
}

/// A script, split into lines, with its labels.
#[derive(Debug)]
struct Program {
    url: String,
    route: String,
    digest: Digest,
    text: Arc<str>,
    /// Byte ranges of the lines in `text`.
    lines: Vec<(usize, usize)>,
    labels: HashMap<String, usize>,
}

impl Program {
    fn parse(url: String, route: String, digest: Digest, text: Arc<str>) -> Self {
        let mut lines = Vec::new();
        let mut labels = HashMap::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\n', '\r']);
            if let Some(label) = body.trim().strip_prefix(':') {
                labels.entry(label.trim().to_owned()).or_insert(lines.len());
            }
            lines.push((start, start + body.len()));
            start += line.len();
        }
        Self {
            url,
            route,
            digest,
            text,
            lines,
            labels,
        }
    }

    fn line(&self, index: usize) -> Option<&str> {
        self.lines.get(index).map(|&(a, b)| &self.text[a..b])
    }

    fn at(&self, line: usize) -> At {
        At {
            route: self.route.clone(),
            line,
        }
    }
}

/// What one command did.
enum Outcome {
    Ok,
    Failed,
    Goto(String),
    /// `chain --replace` of another script.
    Replace(Arc<Program>),
    Exit(i64),
}

struct Machine<'a> {
    origin: &'a dyn Origin,
    client: &'a Client,
    vars: Settings,
    steps: Vec<Step>,
    kernel: Option<(Loaded, String)>,
    initrds: Vec<Loaded>,
    errno: i64,
    clock: u64,
    /// (script, line, settings) at every jump: a repeat is a loop.
    seen: HashSet<(Digest, usize, u64)>,
    /// Lines and commands run, against [`work_allowance`] of `script_bytes`.
    work: usize,
    /// The bytes of the scripts the boot loaded.
    script_bytes: usize,
    /// The bytes of every line run, expanded (see [`MAX_EXPANDED`]).
    expanded: usize,
    /// Bytes of the trace and of the states seen; with the settings' and the menu's, what
    /// the boot holds (see [`MAX_HELD`]).
    held: usize,
    /// Bytes printed with `echo`.
    console: usize,
    /// `item`s of the current menu: (name, is the default).
    menu: Vec<(String, bool)>,
    menu_bytes: usize,
    /// The last fetch that failed, and where: why a boot that gave up gave up.
    last_failure: Option<(Fetch, At)>,
    /// Parsed scripts by digest.
    scripts: HashMap<Digest, Arc<Program>>,
}

impl Machine<'_> {
    /// Runs a script to its end (its last line, `exit N`, or a failed line): the status
    /// its caller sees. `Err` is the end of the whole boot.
    fn run(&mut self, start: Arc<Program>, depth: usize) -> Result<i64, End> {
        let mut program = start;
        let mut pc = 0;
        self.remember(&program, 0)?;
        loop {
            let here = pc;
            let Some(line) = program.line(pc) else {
                return Ok(0);
            };
            pc += 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(':') {
                continue;
            }
            self.spend(|| program.at(here))?;
            match self.run_line(trimmed, &program, here, depth)? {
                Outcome::Ok => {}
                Outcome::Failed => return Ok(self.errno.max(1)),
                Outcome::Exit(code) => return Ok(code),
                Outcome::Goto(label) => match program.labels.get(&label) {
                    Some(&target) => {
                        pc = target + 1;
                        self.remember(&program, pc)?;
                    }
                    None => {
                        return Err(End::Failed {
                            reason: format!("`goto {label}`: the script has no label `{label}`"),
                            at: Some(program.at(here)),
                        });
                    }
                },
                Outcome::Replace(next) => {
                    program = next;
                    pc = 0;
                    self.remember(&program, 0)?;
                }
            }
        }
    }

    /// Records a jump target; the same place with the same settings again is a loop.
    fn remember(&mut self, program: &Program, pc: usize) -> Result<(), End> {
        if !self
            .seen
            .insert((program.digest, pc, self.vars.fingerprint()))
        {
            return Err(self.loop_end());
        }
        self.held += size_of::<(Digest, usize, u64)>();
        self.within_held(|| program.at(pc))
    }

    /// One line or command more: a boot that runs past its allowance without repeating a
    /// state (which would be a loop) is stopped there.
    fn spend(&mut self, at: impl Fn() -> At) -> Result<(), End> {
        self.work += 1;
        if self.work > work_allowance(self.script_bytes) {
            return Err(exceeded(
                Exceeded::Work {
                    script_bytes: self.script_bytes,
                },
                at(),
            ));
        }
        Ok(())
    }

    /// Fails the boot if it holds more than [`MAX_HELD`].
    fn within_held(&self, at: impl Fn() -> At) -> Result<(), End> {
        if self.held + self.vars.bytes() + self.menu_bytes > MAX_HELD {
            return Err(exceeded(Exceeded::Held, at()));
        }
        Ok(())
    }

    /// Adds a step to the trace, within the bounds on console output and on what the boot
    /// holds.
    fn record(&mut self, step: Step, at: impl Fn() -> At) -> Result<(), End> {
        let bytes = size_of::<Step>()
            + match &step {
                Step::Console(text) => {
                    self.console += text.len();
                    if self.console > MAX_CONSOLE {
                        return Err(exceeded(Exceeded::Console, at()));
                    }
                    text.len()
                }
                Step::Sleep(_) => 0,
                Step::Fetch(fetch) => {
                    fetch.command.len()
                        + fetch.url.len()
                        + match &fetch.outcome {
                            FetchOutcome::Served { route, .. }
                            | FetchOutcome::NotFound { route } => route.len(),
                            FetchOutcome::Unfetchable { reason } => reason.len(),
                            FetchOutcome::Upstream => 0,
                        }
                }
            };
        self.held += bytes;
        self.steps.push(step);
        self.within_held(at)
    }

    /// Sets a setting, within the bounds on one setting and on what the boot holds.
    fn set(&mut self, name: &str, value: String, at: impl Fn() -> At) -> Result<(), End> {
        self.vars.set(name, value).map_err(|e| exceeded(e, at()))?;
        self.within_held(at)
    }

    /// The loop's message is what the script printed before it last waited: why it waits.
    fn loop_end(&self) -> End {
        let before_wait = self
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::Sleep(_)))
            .unwrap_or(self.steps.len());
        End::Loop {
            slept: self.clock,
            last_echo: self.steps[..before_wait]
                .iter()
                .rev()
                .find_map(|s| match s {
                    Step::Console(text) => Some(text.clone()),
                    _ => None,
                }),
        }
    }

    /// The end of a boot that failed: the last failed fetch says why.
    fn failed_end(&self, at: Option<At>) -> End {
        match &self.last_failure {
            Some((fetch, where_)) => End::Failed {
                reason: describe_failure(fetch),
                at: Some(where_.clone()),
            },
            None => End::Failed {
                reason: "the script failed".to_owned(),
                at,
            },
        }
    }

    /// Runs line `here` of `program` (its text `line`).
    fn run_line(
        &mut self,
        line: &str,
        program: &Program,
        here: usize,
        depth: usize,
    ) -> Result<Outcome, End> {
        let expanded = self
            .expand(line)
            .map_err(|e| exceeded(e, program.at(here)))?;
        self.expanded += expanded.len();
        if self.expanded > MAX_EXPANDED {
            return Err(exceeded(Exceeded::Expanded, program.at(here)));
        }
        let tokens: Vec<&str> = expanded.split_whitespace().collect();
        let mut ok = true;
        let mut run = true;
        let mut rest = tokens.as_slice();
        loop {
            let end = rest
                .iter()
                .position(|t| matches!(*t, "||" | "&&" | ";"))
                .unwrap_or(rest.len());
            let (command, after) = rest.split_at(end);
            if run && !command.is_empty() {
                self.spend(|| program.at(here))?;
                match self.command(command, program, here, depth)? {
                    Outcome::Ok => ok = true,
                    Outcome::Failed => ok = false,
                    other => return Ok(other),
                }
            } else if run {
                ok = true;
            }
            let Some((terminator, next)) = after.split_first() else {
                break;
            };
            run = match *terminator {
                "||" => !ok,
                "&&" => ok,
                _ => true,
            };
            rest = next;
        }
        Ok(if ok { Outcome::Ok } else { Outcome::Failed })
    }

    /// `${name}` and `${name:type}`; unset settings expand to nothing, as in iPXE. The
    /// line is refused as soon as it would grow past [`MAX_LINE`].
    fn expand(&self, line: &str) -> Result<String, Exceeded> {
        let mut out = String::with_capacity(line.len().min(MAX_LINE));
        let mut push = |piece: &str| {
            if out.len() + piece.len() > MAX_LINE {
                return Err(Exceeded::Line {
                    bytes: out.len() + piece.len(),
                });
            }
            out.push_str(piece);
            Ok(())
        };
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            push(&rest[..start])?;
            let after = &rest[start + 2..];
            let Some(close) = after.find('}') else {
                rest = &rest[start..];
                break;
            };
            let (name, kind) = after[..close]
                .split_once(':')
                .unwrap_or((&after[..close], ""));
            push(&self.setting(name, kind))?;
            rest = &after[close + 1..];
        }
        push(rest)?;
        Ok(out)
    }

    fn setting(&self, name: &str, kind: &str) -> String {
        // `net0/mac` and `netX.dhcp/…` scopes: the client has one NIC.
        let name = name.rsplit('/').next().unwrap_or(name);
        match name {
            "mac" => match kind {
                "hexhyp" => self.client.mac.hexhyp(),
                "hexraw" => self.client.mac.hexhyp().replace('-', ""),
                _ => self.client.mac.to_string(),
            },
            "uuid" => self.client.uuid.clone().unwrap_or_default(),
            "buildarch" => self.client.buildarch().to_owned(),
            "platform" => self.client.platform().to_owned(),
            "errno" => format!("{:#010x}", self.errno),
            _ => self.vars.get(name).unwrap_or_default().to_owned(),
        }
    }

    fn fail(&mut self) -> Outcome {
        self.errno = ENOENT;
        Outcome::Failed
    }

    fn command(
        &mut self,
        argv: &[&str],
        program: &Program,
        here: usize,
        depth: usize,
    ) -> Result<Outcome, End> {
        let at = || program.at(here);
        let name = argv[0];
        self.has_command(name, at)?;
        // `item --default` is a switch; `choose --default <item>` takes the item.
        let with_value: &[&str] = match name {
            "item" => &["key"],
            _ => &["name", "timeout", "default", "drive", "key", "set"],
        };
        let (flags, args) = options(&argv[1..], with_value);
        let flag = |f: &str| flags.iter().any(|(k, _)| *k == f);
        let value = |f: &str| flags.iter().find(|(k, _)| *k == f).and_then(|(_, v)| *v);
        Ok(match name {
            "echo" => {
                self.record(Step::Console(args.join(" ")), at)?;
                Outcome::Ok
            }
            "set" => return self.set_command(&args, at),
            "clear" => {
                for key in &args {
                    self.vars.clear(setting_name(key));
                }
                Outcome::Ok
            }
            "inc" => return self.inc(&args, at),
            "isset" => self.status(args.first().is_some_and(|v| !v.is_empty())),
            "iseq" => self.status(args.len() == 2 && args[0] == args[1]),
            "goto" => match args.first() {
                Some(label) => Outcome::Goto((*label).to_owned()),
                None => self.fail(),
            },
            "sleep" => {
                let seconds = args.first().and_then(|s| s.parse().ok()).unwrap_or(0);
                self.clock = self.clock.saturating_add(seconds);
                self.record(Step::Sleep(seconds), at)?;
                Outcome::Ok
            }
            "cpuid" => {
                // Only the long-mode bit (`--ext 29`) is modelled: every x86 client the
                // fleet boots is 64-bit.
                let bit = args.first().and_then(|b| b.parse::<u32>().ok());
                if !(flag("ext") && bit == Some(29)) {
                    return Err(not_modelled(&argv.join(" "), at()));
                }
                Outcome::Ok
            }
            "imgfree" => {
                self.kernel = None;
                self.initrds.clear();
                Outcome::Ok
            }
            "kernel" | "imgselect" => {
                return self.kernel(name, value("name"), &args, program, here);
            }
            "initrd" | "module" | "imgfetch" => {
                return self.initrd(name, value("name"), &args, program, here);
            }
            // The shim iPXE hands the next `boot` to: fetched (so a missing one fails as
            // on a machine); whether Secure Boot lets it run is `check`'s to decide.
            "shim" => match args.first() {
                Some(url) => match self.load_image(name, None, url, program, here)? {
                    Some(_) => Outcome::Ok,
                    None => self.fail(),
                },
                None => self.fail(),
            },
            "sha256sum" => return self.sha256sum(value("set"), &args, argv, at),
            "imgargs" => match (&mut self.kernel, args.split_first()) {
                (Some((_, cmdline)), Some((_, rest))) => {
                    *cmdline = rest.join(" ");
                    Outcome::Ok
                }
                _ => self.fail(),
            },
            "boot" | "imgexec" => return self.boot(),
            "chain" => return self.chain(&args, flag("replace"), program, depth, at),
            "sanboot" => return self.sanboot(argv, &args, at),
            "exit" => Outcome::Exit(args.first().and_then(|c| c.parse().ok()).unwrap_or(0)),
            "reboot" => return Err(End::Reboot),
            "menu" => {
                self.menu.clear();
                self.menu_bytes = 0;
                Outcome::Ok
            }
            "item" => return self.item(&args, flag("default"), at),
            "choose" => return self.choose(&args, &flags, at),
            // Waits for a key that nobody presses: the timeout is a failure.
            "prompt" => self.fail(),
            "dhcp" | "ifopen" | "ifconf" | "ifclose" | "ifstat" | "show" | "params" | "param"
            | "console" | "colour" | "cpair" | "route" | "imgstat" | "ipstat" | "nstat" => {
                Outcome::Ok
            }
            _ => return Err(not_modelled(name, at())),
        })
    }

    /// Fails the boot if the client's iPXE build lacks `name`.
    fn has_command(&self, name: &str, at: impl Fn() -> At) -> Result<(), End> {
        let Client { ipxe, firmware, .. } = self.client;
        if ipxe.has_command(name, *firmware) {
            return Ok(());
        }
        Err(End::Failed {
            reason: format!("`{name}`: iPXE {ipxe} for {firmware} has no such command"),
            at: Some(at()),
        })
    }

    /// `boot`/`imgexec`: ends the simulation with the loaded kernel, if there is one.
    fn boot(&mut self) -> Result<Outcome, End> {
        match self.kernel.take() {
            Some(_)
                if self.client.secure_boot_refuses && self.client.firmware != Firmware::Bios =>
            {
                self.errno = EFI_SECURITY_VIOLATION;
                self.initrds.clear();
                Ok(Outcome::Failed)
            }
            Some((kernel, cmdline)) => Err(End::Booted {
                kernel: Box::new(kernel),
                initrds: std::mem::take(&mut self.initrds),
                cmdline,
            }),
            None => Ok(self.fail()),
        }
    }

    /// `sanboot` without arguments: the local disk, where the build can boot it.
    fn sanboot(
        &mut self,
        argv: &[&str],
        args: &[&str],
        at: impl Fn() -> At,
    ) -> Result<Outcome, End> {
        if !args.is_empty() {
            return Err(not_modelled(&argv.join(" "), at()));
        }
        if self.client.ipxe.sanboots_local_disk(self.client.firmware) {
            return Err(End::LocalDisk);
        }
        Ok(self.fail())
    }

    /// `set <setting> <value…>`; an empty value clears the setting.
    fn set_command(&mut self, args: &[&str], at: impl Fn() -> At) -> Result<Outcome, End> {
        let Some((key, value)) = args.split_first() else {
            return Ok(self.fail());
        };
        let key = setting_name(key);
        if value.is_empty() {
            self.vars.clear(key);
        } else {
            self.set(key, value.join(" "), at)?;
        }
        Ok(Outcome::Ok)
    }

    /// `inc <setting> [<by>]`: a missing or non-numeric setting counts as 0.
    fn inc(&mut self, args: &[&str], at: impl Fn() -> At) -> Result<Outcome, End> {
        let Some(key) = args.first() else {
            return Ok(self.fail());
        };
        let key = setting_name(key);
        let by: i64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1);
        let now: i64 = self.vars.get(key).and_then(|v| v.parse().ok()).unwrap_or(0);
        self.set(key, now.saturating_add(by).to_string(), at)?;
        Ok(Outcome::Ok)
    }

    /// `kernel`/`imgselect [--name <name>] <url> <cmdline…>`: the image `boot` runs, and
    /// its command line.
    fn kernel(
        &mut self,
        command: &str,
        name: Option<&str>,
        args: &[&str],
        program: &Program,
        here: usize,
    ) -> Result<Outcome, End> {
        let Some((url, cmdline)) = args.split_first() else {
            return Ok(self.fail());
        };
        Ok(match self.load_image(command, name, url, program, here)? {
            Some(loaded) => {
                self.kernel = Some((loaded, cmdline.join(" ")));
                Outcome::Ok
            }
            None => self.fail(),
        })
    }

    /// `initrd`/`module`/`imgfetch [--name <name>] <url>`: one more image handed to the
    /// kernel.
    fn initrd(
        &mut self,
        command: &str,
        name: Option<&str>,
        args: &[&str],
        program: &Program,
        here: usize,
    ) -> Result<Outcome, End> {
        let Some(url) = args.first() else {
            return Ok(self.fail());
        };
        Ok(match self.load_image(command, name, url, program, here)? {
            Some(loaded) => {
                // Held until `imgfree`; counted for good, as the fetch is.
                self.held += size_of::<Loaded>() + loaded.url.len() + loaded.name.len();
                self.initrds.push(loaded);
                self.within_held(|| program.at(here))?;
                Outcome::Ok
            }
            None => self.fail(),
        })
    }

    /// `chain [--replace] <url>`: the fetched script runs in place of this one, or (without
    /// `--replace`) nested, its exit status becoming this command's.
    fn chain(
        &mut self,
        args: &[&str],
        replace: bool,
        program: &Program,
        depth: usize,
        at: impl Fn() -> At,
    ) -> Result<Outcome, End> {
        let Some(url) = args.first() else {
            return Ok(self.fail());
        };
        let url = resolve_relative(&program.url, url);
        Ok(match self.load_script("chain", &url, &at)? {
            None => self.fail(),
            Some(next) if replace => Outcome::Replace(next),
            Some(next) => {
                if depth + 1 >= MAX_DEPTH {
                    return Err(End::Failed {
                        reason: format!("scripts chained {MAX_DEPTH} deep without `--replace`"),
                        at: Some(at()),
                    });
                }
                let code = self.run(next, depth + 1)?;
                if code == 0 {
                    Outcome::Ok
                } else {
                    self.errno = code;
                    Outcome::Failed
                }
            }
        })
    }

    /// `item [--default] <name>`: one more entry of the menu being built.
    fn item(&mut self, args: &[&str], default: bool, at: impl Fn() -> At) -> Result<Outcome, End> {
        if let Some(item) = args.first() {
            self.menu_bytes += size_of::<(String, bool)>() + item.len();
            self.menu.push(((*item).to_owned(), default));
            self.within_held(at)?;
        }
        Ok(Outcome::Ok)
    }

    /// `choose [--default <item>] <setting>`: nobody is at the console, so the timeout
    /// picks the default item (the flag's, else the menu's, else the first).
    fn choose(
        &mut self,
        args: &[&str],
        flags: &[(&str, Option<&str>)],
        at: impl Fn() -> At,
    ) -> Result<Outcome, End> {
        let chosen = flags
            .iter()
            .find(|(k, _)| *k == "default")
            .and_then(|(_, v)| v.map(str::to_owned))
            .or_else(|| self.menu.iter().find(|(_, d)| *d).map(|(n, _)| n.clone()))
            .or_else(|| self.menu.first().map(|(n, _)| n.clone()));
        Ok(match (chosen, args.first()) {
            (Some(item), Some(var)) => {
                self.set(setting_name(var), item, at)?;
                Outcome::Ok
            }
            _ => self.fail(),
        })
    }

    fn status(&mut self, ok: bool) -> Outcome {
        if ok { Outcome::Ok } else { self.fail() }
    }

    /// `sha256sum --set <setting> <image>`: the loaded image's sha256 in hex, as the bytes
    /// the client got say (a tampered object differs from its name). Printing it
    /// (no `--set`) changes nothing the simulation follows.
    fn sha256sum(
        &mut self,
        setting: Option<&str>,
        args: &[&str],
        argv: &[&str],
        at: impl Fn() -> At,
    ) -> Result<Outcome, End> {
        let [name] = args else {
            return Err(not_modelled(&argv.join(" "), at()));
        };
        let image = self
            .kernel
            .iter()
            .map(|(loaded, _)| loaded)
            .chain(&self.initrds)
            .find(|loaded| loaded.name == *name);
        let Some(image) = image else {
            // iPXE would fetch `name` as a URL; scripts name what they loaded.
            return Err(not_modelled(&argv.join(" "), at()));
        };
        let Some(digest) = self.origin.image_digest(image) else {
            return Err(End::Failed {
                reason: format!(
                    "`sha256sum` of {}: the simulator cannot know its bytes",
                    image.url
                ),
                at: Some(at()),
            });
        };
        if let Some(setting) = setting {
            self.set(setting_name(setting), digest.hex(), at)?;
        }
        Ok(Outcome::Ok)
    }

    /// Fetches `url` for `kernel`/`initrd` (named `name`, else by the URL's last segment):
    /// the loaded image, or `None` on a failed fetch.
    fn load_image(
        &mut self,
        command: &str,
        name: Option<&str>,
        url: &str,
        program: &Program,
        here: usize,
    ) -> Result<Option<Loaded>, End> {
        let url = resolve_relative(&program.url, url);
        let outcome = self.fetch(command, &url, || program.at(here))?;
        let name = name.map_or_else(
            || {
                let path = url.split(['?', '#']).next().unwrap_or(&url);
                path.rsplit('/').next().unwrap_or(path).to_owned()
            },
            str::to_owned,
        );
        Ok(match outcome {
            FetchOutcome::Served { object, .. } => Some(Loaded {
                name,
                url,
                object: Some(object),
            }),
            FetchOutcome::Upstream => Some(Loaded {
                name,
                url,
                object: None,
            }),
            _ => None,
        })
    }

    /// Fetches a script for `chain`: `Ok(None)` if the fetch failed (the caller handles
    /// it, like iPXE's `||`). `at`: the line that chains it.
    fn load_script(
        &mut self,
        command: &str,
        url: &str,
        at: impl Fn() -> At,
    ) -> Result<Option<Arc<Program>>, End> {
        match self.fetch(command, url, at)? {
            FetchOutcome::Served { route, object } => {
                if let Some(program) = self.scripts.get(&object) {
                    return Ok(Some(Arc::clone(program)));
                }
                let Some(text) = self.origin.script(&object) else {
                    return Err(End::Failed {
                        reason: format!(
                            "`chain {url}` runs an image that is not an iPXE script; the simulator follows scripts only"
                        ),
                        at: None,
                    });
                };
                self.script_bytes += text.len();
                let program = Arc::new(Program::parse(url.to_owned(), route, object, text));
                self.scripts.insert(object, Arc::clone(&program));
                Ok(Some(program))
            }
            FetchOutcome::Upstream => Err(End::Failed {
                reason: format!(
                    "`chain {url}` leaves the bundle; the simulator follows bundle scripts only"
                ),
                at: None,
            }),
            _ => Ok(None),
        }
    }

    /// Resolves and records one fetch. A URL the client's build cannot fetch at all ends
    /// the simulation: the boot depends on something this client lacks.
    fn fetch(
        &mut self,
        command: &str,
        url: &str,
        at: impl Fn() -> At,
    ) -> Result<FetchOutcome, End> {
        let outcome = self.resolve(url);
        let fetch = Fetch {
            command: command.to_owned(),
            url: url.to_owned(),
            outcome: outcome.clone(),
        };
        self.record(Step::Fetch(fetch.clone()), &at)?;
        match &outcome {
            FetchOutcome::Unfetchable { reason } if reason.contains("no HTTPS") => {
                return Err(End::Failed {
                    reason: reason.clone(),
                    at: Some(at()),
                });
            }
            FetchOutcome::NotFound { .. } | FetchOutcome::Unfetchable { .. } => {
                self.last_failure = Some((fetch, at()));
            }
            _ => {}
        }
        Ok(outcome)
    }

    fn resolve(&self, url: &str) -> FetchOutcome {
        if url.starts_with("https://") && !self.client.ipxe.has_https(self.client.firmware) {
            return FetchOutcome::Unfetchable {
                reason: format!(
                    "iPXE {} for {} has no HTTPS: it cannot fetch {url}",
                    self.client.ipxe, self.client.firmware
                ),
            };
        }
        if self.origin.is_upstream(url) {
            return FetchOutcome::Upstream;
        }
        let path = self.origin.bases().iter().find_map(|base| {
            url.strip_prefix(base.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        });
        let path = match path {
            Some(path) => path.split(['?', '#']).next().unwrap_or(path).to_owned(),
            // TFTP from the proxy: file `X` is route `tftp/X`.
            None => match url.strip_prefix("tftp://").and_then(|r| r.split_once('/')) {
                Some((_, name)) => routes::tftp(name),
                None => {
                    return FetchOutcome::Unfetchable {
                        reason: format!(
                            "{url} is neither a URL of the bundle nor an upstream image"
                        ),
                    };
                }
            },
        };
        if let Some(object) = self.origin.route(&path) {
            return FetchOutcome::Served {
                route: path,
                object,
            };
        }
        let object = path
            .strip_prefix(OBJECTS_DIR)
            .and_then(|r| r.strip_prefix('/'))
            .and_then(|hex| Digest::from_hex(hex).ok())
            .filter(|d| self.origin.has_object(d));
        match object {
            Some(object) => FetchOutcome::Served {
                route: path,
                object,
            },
            None => FetchOutcome::NotFound { route: path },
        }
    }
}

/// Splits `--flag` and `--key=value`/`--key value` options (`with_value`: the ones that
/// take a value, as the command parses them) from the arguments.
fn options<'a>(
    args: &[&'a str],
    with_value: &[&str],
) -> (Vec<(&'a str, Option<&'a str>)>, Vec<&'a str>) {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut iter = args.iter().copied();
    while let Some(arg) = iter.next() {
        match arg.strip_prefix("--") {
            // After the first plain argument, everything is arguments (a kernel's
            // command line may hold `--`).
            Some(flag) if rest.is_empty() => match flag.split_once('=') {
                Some((k, v)) => flags.push((k, Some(v))),
                None if with_value.contains(&flag) => flags.push((flag, iter.next())),
                None => flags.push((flag, None)),
            },
            _ => rest.push(arg),
        }
    }
    (flags, rest)
}

/// A URL relative to the script that names it (`chain next.ipxe`), as iPXE resolves it.
fn resolve_relative(base: &str, url: &str) -> String {
    if url.contains("://") {
        return url.to_owned();
    }
    match base.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{url}"),
        None => url.to_owned(),
    }
}

/// The end of a boot that went over a bound, on the line where it did.
fn exceeded(bound: Exceeded, at: At) -> End {
    End::Failed {
        reason: bound.reason(),
        at: Some(at),
    }
}

/// A setting's name without its type (`name:hex` → `name`).
fn setting_name(key: &str) -> &str {
    key.split(':').next().unwrap_or(key)
}

fn not_modelled(command: &str, at: At) -> End {
    End::Failed {
        reason: format!(
            "`{command}` is not modelled by the simulator, so it cannot say what happens next"
        ),
        at: Some(at),
    }
}

fn describe_failure(fetch: &Fetch) -> String {
    match &fetch.outcome {
        FetchOutcome::NotFound { route } => {
            format!(
                "`{}` of {} got 404: the bundle has no route `{route}`",
                fetch.command, fetch.url
            )
        }
        FetchOutcome::Unfetchable { reason } => format!("`{}`: {reason}", fetch.command),
        _ => format!("`{}` of {} failed", fetch.command, fetch.url),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use netboot_protocol::{Firmware, Mac};
    use proptest::prelude::*;

    use super::*;
    use crate::IpxeBuild;
    use crate::bounds::MAX_SETTING;

    const BASE: &str = "http://pi:8080";

    /// Scripts by route; anything else under `BASE` is a 404.
    struct Scripts(HashMap<String, (Digest, Arc<str>)>);

    impl Scripts {
        fn new(routes: &[(&str, &str)]) -> Self {
            Self(
                routes
                    .iter()
                    .map(|(route, text)| {
                        let text = format!("#!ipxe\n{text}");
                        (
                            (*route).to_owned(),
                            (Digest::of(text.as_bytes()), text.into()),
                        )
                    })
                    .collect(),
            )
        }
    }

    impl Origin for Scripts {
        fn bases(&self) -> &[String] {
            static BASES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            BASES.get_or_init(|| vec![BASE.to_owned()])
        }
        fn route(&self, route: &str) -> Option<Digest> {
            self.0.get(route).map(|(d, _)| *d)
        }
        fn has_object(&self, _: &Digest) -> bool {
            false
        }
        fn script(&self, digest: &Digest) -> Option<Arc<str>> {
            self.0
                .values()
                .find(|(d, _)| d == digest)
                .map(|(_, t)| Arc::clone(t))
        }
        fn is_upstream(&self, url: &str) -> bool {
            url.starts_with("https://upstream/")
        }
        /// An image's bytes are its URL's, except that `…/swapped` serves other bytes.
        fn image_digest(&self, image: &Loaded) -> Option<Digest> {
            let bytes = if image.url.ends_with("/swapped") {
                "other bytes"
            } else {
                &image.url
            };
            Some(Digest::of(bytes.as_bytes()))
        }
    }

    fn client(firmware: Firmware, ipxe: IpxeBuild) -> Client {
        Client {
            mac: Mac::new([0x52, 0x54, 0x00, 0xaa, 0x00, 0x01]),
            uuid: None,
            firmware,
            ipxe,
            secure_boot_refuses: false,
        }
    }

    fn run(dispatcher: &str, more: &[(&str, &str)]) -> Trace {
        let mut routes = vec![("boot.ipxe", dispatcher)];
        routes.extend_from_slice(more);
        simulate(
            &Scripts::new(&routes),
            &client(Firmware::UefiX86_64, IpxeBuild::V2),
        )
    }

    fn echoes(trace: &Trace) -> Vec<&str> {
        trace
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Console(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn secure_boot_refusing_the_kernel_fails_boot_with_the_firmwares_error_on_uefi_only() {
        let script = "kernel k\nboot ||\necho refused ${errno}\nexit 1";
        let routes = [("boot.ipxe", script), ("k", "a kernel")];
        let refused = |firmware| {
            simulate(
                &Scripts::new(&routes),
                &Client {
                    secure_boot_refuses: true,
                    ..client(firmware, IpxeBuild::V2)
                },
            )
        };
        let uefi = refused(Firmware::UefiArm64);
        assert_eq!(echoes(&uefi), ["refused 0x7f04818f"]);
        assert_eq!(uefi.end, End::Exit(1));
        // BIOS has no Secure Boot: the kernel runs.
        assert!(matches!(refused(Firmware::Bios).end, End::Booted { .. }));
    }

    #[test]
    fn operators_run_the_next_command_as_ipxe_does() {
        let trace = run(
            "iseq a b && echo no1 || echo yes1\niseq a a && echo yes2 || echo no2\nisset ${nothing} ; echo yes3\niseq a b ||\necho yes4\nexit 3",
            &[],
        );
        assert_eq!(echoes(&trace), ["yes1", "yes2", "yes3", "yes4"]);
        assert_eq!(trace.end, End::Exit(3));
    }

    #[test]
    fn a_failing_line_ends_the_script_and_chain_returns_its_status() {
        // `${errno}` on the failing line is expanded before the line runs (as in iPXE);
        // the next line sees the chained script's error.
        let trace = run(
            "chain sub.ipxe || echo sub failed with ${errno}\necho then ${errno}\nchain ok.ipxe && echo ok returned\niseq x y\necho never",
            &[
                ("sub.ipxe", "echo in sub\niseq 1 2\necho never"),
                ("ok.ipxe", "echo in ok"),
            ],
        );
        assert_eq!(
            echoes(&trace),
            [
                "in sub",
                "sub failed with 0x00000000",
                "then 0x2d126083",
                "in ok",
                "ok returned"
            ]
        );
        assert!(
            matches!(trace.end, End::Failed { .. } | End::Exit(_)),
            "{:?}",
            trace.end
        );
    }

    #[test]
    fn settings_expand_before_the_line_is_split() {
        let trace = run(
            "set cmd echo\nset two a b\n${cmd} ${mac:hexhyp} ${mac} ${buildarch} ${platform} [${unset}] ${two}\nset n:int32 4\ninc n\ninc n 10\necho ${n}",
            &[],
        );
        assert_eq!(
            echoes(&trace),
            [
                "52-54-00-aa-00-01 52:54:00:aa:00:01 x86_64 efi [] a b",
                "15"
            ]
        );
    }

    #[test]
    fn kernel_initrd_boot_and_what_the_build_lacks() {
        let trace = run(
            "kernel https://upstream/vmlinuz quiet console=ttyS0\ninitrd --name initrd https://upstream/initrd\nboot",
            &[],
        );
        let End::Booted {
            kernel,
            initrds,
            cmdline,
        } = &trace.end
        else {
            panic!("{:?}", trace.end);
        };
        assert_eq!(kernel.url, "https://upstream/vmlinuz");
        assert_eq!(initrds.len(), 1);
        assert_eq!(cmdline, "quiet console=ttyS0");
        // BIOS iPXE 2.0 has no HTTPS: the first HTTPS fetch ends the boot.
        let scripts = Scripts::new(&[("boot.ipxe", "kernel https://upstream/vmlinuz\nboot")]);
        let trace = simulate(&scripts, &client(Firmware::Bios, IpxeBuild::V2));
        assert!(
            matches!(&trace.end, End::Failed { reason, .. } if reason.contains("has no HTTPS")),
            "{:?}",
            trace.end
        );
        // Nor `sha256sum` (no DIGEST_CMD on BIOS), nor `imgverify` anywhere.
        for (firmware, line) in [
            (Firmware::Bios, "sha256sum x"),
            (Firmware::UefiX86_64, "imgverify a b"),
        ] {
            let scripts = Scripts::new(&[("boot.ipxe", line)]);
            let trace = simulate(&scripts, &client(firmware, IpxeBuild::V2));
            assert!(
                matches!(&trace.end, End::Failed { reason, .. } if reason.contains("has no such command")),
                "{line}: {:?}",
                trace.end
            );
        }
    }

    #[test]
    fn sha256sum_sets_the_digest_of_the_bytes_the_client_got() {
        let script = |url: &str| {
            let pinned = Digest::of(url.as_bytes()).hex();
            format!(
                "kernel --name kernel {url}\nsha256sum --set got kernel\niseq ${{got}} {pinned} || goto refused\nboot\n:refused\necho refused ${{got}}\nexit 1"
            )
        };
        let trace = run(&script("https://upstream/vmlinuz"), &[]);
        assert!(matches!(trace.end, End::Booted { .. }), "{:?}", trace.end);
        let trace = run(&script("https://upstream/swapped"), &[]);
        assert_eq!(trace.end, End::Exit(1));
        let other = format!("refused {}", Digest::of(b"other bytes").hex());
        assert_eq!(echoes(&trace), [other.as_str()]);
        // An image is found by its name (`--name`, else the URL's last segment) only.
        let trace = run(
            "kernel https://upstream/vmlinuz\nsha256sum --set got vmlinuz\necho ${got}\nsha256sum --set got kernel",
            &[],
        );
        assert_eq!(
            echoes(&trace),
            [Digest::of(b"https://upstream/vmlinuz").hex().as_str()]
        );
        assert!(
            matches!(&trace.end, End::Failed { reason, .. } if reason.contains("not modelled")),
            "{:?}",
            trace.end
        );
    }

    #[test]
    fn retries_are_loops_once_nothing_changes() {
        let trace = run("echo waiting\nsleep 30\nchain --replace boot.ipxe", &[]);
        assert_eq!(
            trace.end,
            End::Loop {
                slept: 30,
                last_echo: Some("waiting".into())
            }
        );
        // A counter makes progress until the script gives up.
        let trace = run(":a\ninc i\niseq ${i} 50 && reboot ||\ngoto a", &[]);
        assert_eq!(trace.end, End::Reboot);
        let trace = run("goto nowhere", &[]);
        assert!(
            matches!(&trace.end, End::Failed { reason, .. } if reason.contains("no label `nowhere`"))
        );
    }

    /// The reason and the line (0-based, `#!ipxe` is line 0) of a boot that failed.
    fn failure(trace: &Trace) -> (&str, usize) {
        match &trace.end {
            End::Failed {
                reason,
                at: Some(at),
            } => (reason.as_str(), at.line),
            other => panic!("not a failure on a line: {other:?}"),
        }
    }

    #[test]
    fn a_setting_doubled_in_a_loop_stops_at_the_setting_bound() {
        let trace = run(
            "set a xxxxxxxxxxxxxxxx\n:loop\nset a ${a}${a}\ngoto loop",
            &[],
        );
        let (reason, line) = failure(&trace);
        assert_eq!(line, 3, "the `set` line (0-based, after `#!ipxe`)");
        assert_eq!(
            reason,
            "setting `a` would hold 32768 bytes, over the simulator's limit of 16 KiB for one setting"
        );
        // The same through `choose` and `inc`: every way a setting is written is bounded.
        let big = "y".repeat(MAX_SETTING + 1);
        let trace = run(&format!("menu\nitem {big}\nchoose x"), &[]);
        assert!(
            failure(&trace).0.starts_with("setting `x` would hold"),
            "{:?}",
            trace.end
        );
    }

    #[test]
    fn a_line_is_bounded_while_it_expands() {
        let half = "z".repeat(MAX_SETTING);
        // Five settings of 16 KiB on one line: refused once the fourth is in (`echo ` and
        // 64 KiB), before the line is all built.
        let trace = run(
            &format!("set a {half}\necho ${{a}}${{a}}${{a}}${{a}}${{a}}"),
            &[],
        );
        let (reason, line) = failure(&trace);
        assert_eq!(line, 2);
        assert!(
            reason.starts_with("the line is 65541 bytes or more once its settings are expanded, over the simulator's limit of 64 KiB"),
            "{reason}"
        );
        // A line that is long as written is refused too.
        let trace = run(&format!("echo {}", "w".repeat(MAX_LINE)), &[]);
        assert_eq!(failure(&trace).1, 1);
        // Four fit.
        let trace = run(&format!("set a {half}\necho ${{a}}${{a}}${{a}}"), &[]);
        assert_eq!(trace.end, End::Exit(0));
    }

    #[test]
    fn counters_and_the_clock_saturate_instead_of_overflowing() {
        let trace = run(
            "set n 9223372036854775807\ninc n\ninc n 5\necho ${n}\nsleep 18446744073709551615\nsleep 5\nexit 2",
            &[],
        );
        assert_eq!(echoes(&trace), ["9223372036854775807"]);
        assert_eq!(trace.end, End::Exit(2));
    }

    #[test]
    fn the_bytes_a_boot_expands_are_bounded() {
        // Three 16 KiB settings on a line that prints nothing, ten thousand times.
        let value = "x".repeat(MAX_SETTING);
        let trace = run(
            &format!(
                "set a {value}\n:again\ninc n\niseq ${{a}}${{a}}${{a}} x ||\niseq ${{n}} 10000 || goto again"
            ),
            &[],
        );
        let (reason, line) = failure(&trace);
        assert_eq!(
            reason,
            "the boot expands more than 64 MiB of lines, the simulator's limit for the lines of one boot"
        );
        assert_eq!(line, 4);
    }

    #[test]
    fn echo_output_is_bounded() {
        let line = "e".repeat(8 * 1024);
        let trace = run(
            &format!(
                "set line {line}\n:again\ninc n\necho ${{line}}\niseq ${{n}} 100 || goto again"
            ),
            &[],
        );
        let (reason, line) = failure(&trace);
        assert_eq!(line, 4);
        assert_eq!(
            reason,
            "the boot prints more than 256 KiB with `echo`, the simulator's limit for console output"
        );
        // 32 lines of 8 KiB is what it printed, and all the trace holds.
        assert_eq!(echoes(&trace).len(), MAX_CONSOLE / (8 * 1024));
    }

    #[test]
    fn what_one_boot_holds_is_bounded() {
        let value = "v".repeat(MAX_SETTING - 100);
        // Each grows what the boot holds by one more item per round, line 4 adding it:
        // settings under their own bound, fetches with long URLs (steps of the trace),
        // initrds (held three times: a fetch of the trace, an image loaded and its name), menu items of
        // three settings each.
        let growers = [
            "set v${n} ${value}",
            "chain ${n}${value} ||",
            "initrd https://upstream/${n}${value}",
            "item ${n}${value}${value}${value}",
        ];
        for grower in growers {
            let trace = run(
                &format!(
                    "set value {value}\n:again\ninc n\n{grower}\niseq ${{n}} 1000 || goto again"
                ),
                &[],
            );
            let (reason, line) = failure(&trace);
            assert!(
                reason.starts_with("the boot holds more than 4 MiB"),
                "{grower}: {reason}"
            );
            assert_eq!(line, 4, "{grower}");
            if grower.starts_with("initrd") {
                let initrds = trace
                    .steps
                    .iter()
                    .filter(|s| matches!(s, Step::Fetch(f) if f.command == "initrd"))
                    .count();
                // Each about 48 KiB held (its URL in the trace and in the image, and the
                // image's name, the URL's last segment): some 85 of them in 4 MiB.
                assert!((80..=90).contains(&initrds), "{initrds}");
            }
        }
    }

    #[test]
    fn a_long_script_runs_to_its_end() {
        // 10,000 lines, one after the other.
        let lines: String = (0..10_000).map(|i| format!("echo line {i}\n")).collect();
        let trace = run(&format!("{lines}exit 7"), &[]);
        assert_eq!(trace.end, End::Exit(7));
        assert_eq!(echoes(&trace).len(), 10_000);
        // A 10,000-item menu whose default boots.
        let items: String = (0..10_000)
            .map(|i| format!("item os{i} Operating system {i}\n"))
            .collect();
        let trace = run(
            &format!(
                "menu Pick one\n{items}item --default rescue Rescue\nchoose --timeout 5000 os || exit 1\ngoto ${{os}}\n:rescue\nkernel https://upstream/vmlinuz\nboot"
            ),
            &[],
        );
        assert!(matches!(trace.end, End::Booted { .. }), "{:?}", trace.end);
        // The same, chained: the allowance grows with every script loaded.
        let trace = run(
            "chain menu.ipxe",
            &[("menu.ipxe", &format!("{lines}exit 0"))],
        );
        assert_eq!(trace.end, End::Exit(0));
    }

    #[test]
    fn a_counter_with_no_limit_is_not_called_a_loop_without_progress() {
        let trace = run(":again\ninc n\ngoto again", &[]);
        let (reason, line) = failure(&trace);
        assert!(
            reason.starts_with("it runs more than 2060 lines and commands without booting and never comes back to the same state"),
            "{reason}"
        );
        assert!(
            reason.ends_with("plus 2 per byte of the 30 bytes of scripts it loaded"),
            "{reason}"
        );
        assert!((1..=3).contains(&line), "{line}");
    }

    proptest! {
        /// Any script made of the commands the simulator knows ends, and ends within its
        /// budget (no panic, no hang), whatever the jumps and chains.
        #[test]
        fn every_script_ends(lines in prop::collection::vec(prop_oneof![
            Just("echo x"), Just("goto a"), Just("goto b"), Just(":a"), Just(":b"),
            Just("inc n"), Just("iseq ${n} 3 && goto b ||"), Just("chain boot.ipxe"),
            Just("chain --replace boot.ipxe"), Just("chain sub.ipxe ||"), Just("sleep 1"),
            Just("exit"), Just("isset ${n} || set n 0"), Just("kernel /k"), Just("boot ||"),
            Just("imgfree"), Just("clear n"), Just("sanboot --drive 0x80 ||"),
        ], 0..24)) {
            let text = lines.join("\n");
            let trace = run(&text, &[("sub.ipxe", &text), ("k", "not a script")]);
            // Every step is a command, and the two scripts are all it can load.
            let loaded = 2 * "#!ipxe\n".len() + 2 * text.len();
            prop_assert!(trace.steps.len() <= work_allowance(loaded));
        }
    }
}
