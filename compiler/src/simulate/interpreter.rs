//! The iPXE script language as iPXE runs it (core/exec.c, image/script.c): a line has its
//! settings expanded first, is split on whitespace, and runs command by command, `||`
//! running the next one after a failure, `&&` after a success, `;` always; a line whose
//! last command failed ends the script with that error. `chain` runs another script and
//! returns its status (`--replace`: the new script takes the caller's place).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use netboot_bundle::{Digest, OBJECTS_DIR, routes};

use super::{At, Client, End, Fetch, FetchOutcome, Loaded, Origin, Step, Trace};

/// Lines run before a boot is called a loop: a real boot runs tens of lines (the
/// built-in machine script's five retries about fifty), and `check` simulates every
/// machine, so a script that counts for ever must cost little.
const LINE_BUDGET: usize = 2_000;
/// Scripts chained without `--replace`, one inside the other.
const MAX_DEPTH: usize = 8;
/// The error a failed command leaves in `${errno}` (iPXE's "No such file or directory").
const ENOENT: i64 = 0x2d12_6083;

/// Simulates `client` from its first script, the dispatcher, to the end of its boot.
pub fn simulate(origin: &dyn Origin, client: &Client) -> Trace {
    let mut machine = Machine {
        origin,
        client,
        vars: BTreeMap::new(),
        steps: Vec::new(),
        kernel: None,
        initrds: Vec::new(),
        errno: 0,
        clock: 0,
        seen: HashSet::new(),
        lines_run: 0,
        menu: Vec::new(),
        last_failure: None,
        scripts: HashMap::new(),
    };
    let url = format!("{}/{}", origin.bases()[0], routes::DISPATCHER);
    let end = match machine.load_script("chain", &url) {
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
    vars: BTreeMap<String, String>,
    steps: Vec<Step>,
    kernel: Option<(Loaded, String)>,
    initrds: Vec<Loaded>,
    errno: i64,
    clock: u64,
    /// (script, line, settings) at every jump: a repeat is a loop.
    seen: HashSet<(Digest, usize, u64)>,
    lines_run: usize,
    /// `item`s of the current menu: (name, is the default).
    menu: Vec<(String, bool)>,
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
            self.lines_run += 1;
            if self.lines_run > LINE_BUDGET {
                return Err(self.loop_end());
            }
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
        let mut hasher = DefaultHasher::new();
        self.vars.hash(&mut hasher);
        if self.seen.insert((program.digest, pc, hasher.finish())) {
            Ok(())
        } else {
            Err(self.loop_end())
        }
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
        let expanded = self.expand(line);
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

    /// `${name}` and `${name:type}`; unset settings expand to nothing, as in iPXE.
    fn expand(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let (name, kind) = after[..close]
                .split_once(':')
                .unwrap_or((&after[..close], ""));
            out.push_str(&self.setting(name, kind));
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn setting(&self, name: &str, kind: &str) -> String {
        // `net0/mac` and `netX.dhcp/…` scopes: the client has one NIC.
        let name = name.rsplit('/').next().unwrap_or(name);
        match name {
            "mac" => match kind {
                "hexhyp" => self.client.mac.clone(),
                "hexraw" => self.client.mac.replace('-', ""),
                _ => self.client.mac.replace('-', ":"),
            },
            "uuid" => self.client.uuid.clone().unwrap_or_default(),
            "buildarch" => self.client.buildarch().to_owned(),
            "platform" => self.client.platform().to_owned(),
            "errno" => format!("{:#010x}", self.errno),
            _ => self.vars.get(name).cloned().unwrap_or_default(),
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
        if !self.client.ipxe.has_command(name, self.client.firmware) {
            return Err(End::Failed {
                reason: format!(
                    "`{name}`: iPXE {} for {} has no such command",
                    self.client.ipxe, self.client.firmware
                ),
                at: Some(at()),
            });
        }
        // `item --default` is a switch; `choose --default <item>` takes the item.
        let with_value: &[&str] = match name {
            "item" => &["key"],
            _ => &["name", "timeout", "default", "drive", "key"],
        };
        let (flags, args) = options(&argv[1..], with_value);
        let flag = |f: &str| flags.iter().any(|(k, _)| *k == f);
        Ok(match name {
            "echo" => {
                self.steps.push(Step::Console(args.join(" ")));
                Outcome::Ok
            }
            "set" => {
                let Some((key, value)) = args.split_first() else {
                    return Ok(self.fail());
                };
                let key = key.split(':').next().unwrap_or(key);
                if value.is_empty() {
                    self.vars.remove(key);
                } else {
                    self.vars.insert(key.to_owned(), value.join(" "));
                }
                Outcome::Ok
            }
            "clear" => {
                for key in &args {
                    self.vars.remove(key.split(':').next().unwrap_or(key));
                }
                Outcome::Ok
            }
            "inc" => {
                let Some(key) = args.first() else {
                    return Ok(self.fail());
                };
                let key = key.split(':').next().unwrap_or(key);
                let by: i64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1);
                let now: i64 = self.vars.get(key).and_then(|v| v.parse().ok()).unwrap_or(0);
                self.vars.insert(key.to_owned(), (now + by).to_string());
                Outcome::Ok
            }
            "isset" => self.status(args.first().is_some_and(|v| !v.is_empty())),
            "iseq" => self.status(args.len() == 2 && args[0] == args[1]),
            "goto" => match args.first() {
                Some(label) => Outcome::Goto((*label).to_owned()),
                None => self.fail(),
            },
            "sleep" => {
                let seconds = args.first().and_then(|s| s.parse().ok()).unwrap_or(0);
                self.clock += seconds;
                self.steps.push(Step::Sleep(seconds));
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
                let Some((url, cmdline)) = args.split_first() else {
                    return Ok(self.fail());
                };
                match self.load_image(name, url, program, here)? {
                    Some(loaded) => {
                        self.kernel = Some((loaded, cmdline.join(" ")));
                        Outcome::Ok
                    }
                    None => self.fail(),
                }
            }
            "initrd" | "module" | "imgfetch" => {
                let Some(url) = args.first() else {
                    return Ok(self.fail());
                };
                match self.load_image(name, url, program, here)? {
                    Some(loaded) => {
                        self.initrds.push(loaded);
                        Outcome::Ok
                    }
                    None => self.fail(),
                }
            }
            "imgargs" => match (&mut self.kernel, args.split_first()) {
                (Some((_, cmdline)), Some((_, rest))) => {
                    *cmdline = rest.join(" ");
                    Outcome::Ok
                }
                _ => self.fail(),
            },
            "boot" | "imgexec" => match self.kernel.take() {
                Some((kernel, cmdline)) => {
                    return Err(End::Booted {
                        kernel,
                        initrds: std::mem::take(&mut self.initrds),
                        cmdline,
                    });
                }
                None => self.fail(),
            },
            "chain" => {
                let Some(url) = args.first() else {
                    return Ok(self.fail());
                };
                let url = resolve_relative(&program.url, url);
                match self.load_script("chain", &url)? {
                    None => self.fail(),
                    Some(next) if flag("replace") => Outcome::Replace(next),
                    Some(next) => {
                        if depth + 1 >= MAX_DEPTH {
                            return Err(End::Failed {
                                reason: format!(
                                    "scripts chained {MAX_DEPTH} deep without `--replace`"
                                ),
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
                }
            }
            "sanboot" => {
                if !args.is_empty() {
                    return Err(not_modelled(&argv.join(" "), at()));
                }
                if self.client.ipxe.sanboots_local_disk(self.client.firmware) {
                    return Err(End::LocalDisk);
                }
                self.fail()
            }
            "exit" => Outcome::Exit(args.first().and_then(|c| c.parse().ok()).unwrap_or(0)),
            "reboot" => return Err(End::Reboot),
            "menu" => {
                self.menu.clear();
                Outcome::Ok
            }
            "item" => {
                if let Some(item) = args.first() {
                    self.menu.push(((*item).to_owned(), flag("default")));
                }
                Outcome::Ok
            }
            "choose" => {
                // Nobody at the console: the timeout picks the default item.
                let chosen = flags
                    .iter()
                    .find(|(k, _)| *k == "default")
                    .and_then(|(_, v)| v.map(str::to_owned))
                    .or_else(|| self.menu.iter().find(|(_, d)| *d).map(|(n, _)| n.clone()))
                    .or_else(|| self.menu.first().map(|(n, _)| n.clone()));
                match (chosen, args.first()) {
                    (Some(item), Some(var)) => {
                        let var = var.split(':').next().unwrap_or(var);
                        self.vars.insert(var.to_owned(), item);
                        Outcome::Ok
                    }
                    _ => self.fail(),
                }
            }
            // Waits for a key that nobody presses: the timeout is a failure.
            "prompt" => self.fail(),
            "dhcp" | "ifopen" | "ifconf" | "ifclose" | "ifstat" | "show" | "params" | "param"
            | "console" | "colour" | "cpair" | "route" | "imgstat" | "ipstat" | "nstat" => {
                Outcome::Ok
            }
            _ => return Err(not_modelled(name, at())),
        })
    }

    fn status(&mut self, ok: bool) -> Outcome {
        if ok { Outcome::Ok } else { self.fail() }
    }

    /// Fetches `url` for `kernel`/`initrd`: the loaded image, or `None` on a failed fetch.
    fn load_image(
        &mut self,
        command: &str,
        url: &str,
        program: &Program,
        here: usize,
    ) -> Result<Option<Loaded>, End> {
        let url = resolve_relative(&program.url, url);
        let outcome = self.fetch(command, &url, || program.at(here))?;
        Ok(match outcome {
            FetchOutcome::Served { object, .. } => Some(Loaded {
                url,
                object: Some(object),
            }),
            FetchOutcome::Upstream => Some(Loaded { url, object: None }),
            _ => None,
        })
    }

    /// Fetches a script for `chain`: `Ok(None)` if the fetch failed (the caller handles
    /// it, like iPXE's `||`).
    fn load_script(&mut self, command: &str, url: &str) -> Result<Option<Arc<Program>>, End> {
        let at = || At {
            route: url.to_owned(),
            line: 0,
        };
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
        at: impl FnOnce() -> At,
    ) -> Result<FetchOutcome, End> {
        let outcome = self.resolve(url);
        let fetch = Fetch {
            command: command.to_owned(),
            url: url.to_owned(),
            outcome: outcome.clone(),
        };
        self.steps.push(Step::Fetch(fetch.clone()));
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

    use netboot_bundle::Firmware;
    use proptest::prelude::*;

    use super::*;
    use crate::simulate::IpxeBuild;

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
    }

    fn client(firmware: Firmware, ipxe: IpxeBuild) -> Client {
        Client {
            mac: "52-54-00-aa-00-01".into(),
            uuid: None,
            firmware,
            ipxe,
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
            prop_assert!(trace.steps.len() <= 4 * LINE_BUDGET);
        }
    }
}
