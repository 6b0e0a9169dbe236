//! One boot of one client: its stages in the order it asked for them, and what they add
//! up to.

use std::time::{Duration, SystemTime};

use netboot_bundle::Digest;
use netboot_protocol::routes;
use netboot_protocol::status::{BootState, BootStatus, StageKind};

use super::script::ScriptImages;
use super::stage::Stage;
use crate::clock::{Timestamp, rfc3339};

/// Routes a boot keeps at most; later new routes are counted, not kept. A boot asks for
/// a handful (boot file, dispatcher, one or two script lookups, two images, a few files):
/// this bounds what a client asking for every route of the release can make us hold.
pub const MAX_STAGES: usize = 16;

#[derive(Debug, Clone)]
pub struct Boot {
    /// Oldest first; a route asked for again moves to the end.
    stages: Vec<Stage>,
    /// New routes past [`MAX_STAGES`].
    stages_not_kept: u64,
    /// What the machine script names, once the script was served completely.
    images: Option<ScriptImages>,
    /// The state the boot journal last recorded for it.
    journaled: Option<BootState>,
    /// Routes asked for again while their transfer still ran (at most [`MAX_STAGES`]):
    /// that transfer's end, still to come, is not the new one's. A Raspberry Pi's
    /// bootloader does this for every file: it asks the size, aborts, and asks again.
    superseded: Vec<String>,
}

impl Boot {
    pub fn new(first: Stage) -> Self {
        Self {
            stages: vec![first],
            stages_not_kept: 0,
            images: None,
            journaled: None,
            superseded: Vec::new(),
        }
    }

    /// When its first stage began, on the wall clock (for display).
    pub fn started(&self) -> SystemTime {
        self.stages
            .iter()
            .map(|s| s.started)
            .min_by_key(|t| t.monotonic)
            .map_or(SystemTime::UNIX_EPOCH, |t| t.wall)
    }

    /// The bytes this boot holds, as counted against the status's bounds.
    pub fn weight(&self) -> usize {
        size_of::<Self>()
            + self.stages.iter().map(Stage::weight).sum::<usize>()
            + (self.stages.capacity() - self.stages.len()) * size_of::<Stage>()
            + self
                .images
                .as_ref()
                .map_or(0, |i| i.initrds.capacity() * size_of::<Digest>())
            + self
                .superseded
                .iter()
                .map(|r| size_of::<String>() + r.capacity())
                .sum::<usize>()
    }

    /// Whether a request of `kind` belongs to this boot: anything does, except a step
    /// back to the start of a boot (boot file, dispatcher, script) after a later stage,
    /// which is the machine booting again.
    pub fn continues_with(&self, kind: StageKind) -> bool {
        let reached = self.stages.iter().map(|s| s.kind).max();
        kind > StageKind::Script || reached.is_none_or(|reached| reached <= kind)
    }

    /// The kind of an image request in this boot: kernel or initrd if the boot's script
    /// names that object.
    pub fn image_kind(&self, object: Option<Digest>) -> StageKind {
        match (&self.images, object) {
            (Some(images), Some(object)) if images.kernel == Some(object) => StageKind::Kernel,
            (Some(images), Some(object)) if images.initrds.contains(&object) => StageKind::Initrd,
            _ => StageKind::Image,
        }
    }

    /// Records a request; one for a route already in the boot replaces it (a retry).
    pub fn push(&mut self, stage: Stage) {
        if let Some(at) = self.stages.iter().position(|s| s.route == stage.route) {
            let replaced = self.stages.remove(at);
            if replaced.ended.is_none() && self.superseded.len() < MAX_STAGES {
                self.superseded.push(replaced.route);
            }
        } else if self.stages.len() >= MAX_STAGES {
            self.stages_not_kept += 1;
            return;
        }
        self.stages.push(stage);
    }

    /// Whether an end of `route` belongs to a transfer that was asked for again while it
    /// ran (and so is not the running stage's); counted off once.
    pub fn take_superseded(&mut self, route: &str) -> bool {
        let at = self.superseded.iter().position(|r| r == route);
        at.map(|at| self.superseded.remove(at)).is_some()
    }

    /// The transfer of `route` still running in this boot, if any.
    pub fn running(&mut self, route: &str) -> Option<&mut Stage> {
        self.stages
            .iter_mut()
            .rev()
            .find(|s| s.route == route && s.ended.is_none())
    }

    pub fn set_images(&mut self, images: ScriptImages) {
        self.images = Some(images);
    }

    /// The machine script served (200), not `unknown.ipxe`.
    fn script(&self) -> Option<&Stage> {
        self.stages.iter().rev().find(|s| {
            s.kind == StageKind::Script && s.status == 200 && s.route != routes::UNKNOWN_MACHINE
        })
    }

    fn unknown_machine(&self) -> bool {
        self.script().is_none()
            && self.stages.iter().any(|s| {
                s.kind == StageKind::Script
                    && (s.route == routes::UNKNOWN_MACHINE
                        || (s.status == 404 && routes::is_machine_by_mac(&s.route)))
            })
    }

    fn fetched(&self, object: &Digest) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.object.as_ref() == Some(object) && s.complete)
    }

    /// A Raspberry Pi bootloader's boot (it began in a Pi tree, `tftp/<serial>/…`): an
    /// unknown board when its `config.txt` was not found (no tree for its serial); done
    /// once its kernel and initramfs went out whole; `None` for any other boot.
    fn raspberry_pi(&self) -> Option<BootState> {
        let first = self.stages.first()?;
        routes::pi_tree_file(&first.route)?;
        let is = |kind: StageKind, status: u16| {
            self.stages.iter().any(|s| {
                s.kind == kind
                    && s.status == status
                    && (status != 200 || s.complete)
                    && routes::pi_tree_file(&s.route).is_some()
            })
        };
        let config_missing = self.stages.iter().all(|s| {
            routes::pi_tree_file(&s.route).is_none_or(|(_, path)| path != routes::PI_CONFIG)
                || s.status == 404
        });
        if config_missing && self.stages.iter().any(|s| s.status == 404) {
            return Some(BootState::UnknownMachine);
        }
        if is(StageKind::Kernel, 200) && is(StageKind::Initrd, 200) {
            return Some(BootState::Done);
        }
        None
    }

    /// The serial of a Raspberry Pi bootloader's boot, if it is one.
    pub fn pi_serial(&self) -> Option<&str> {
        let first = self.stages.first()?;
        routes::pi_tree_file(&first.route).map(|(serial, _)| serial)
    }

    /// What the boot came to by `now`; the stall is measured on monotonic time, so a
    /// step of the wall clock neither makes nor ends one.
    pub fn state(&self, now: Timestamp, stall_timeout: Duration) -> BootState {
        if self.unknown_machine() {
            return BootState::UnknownMachine;
        }
        // Its images may all have been served whole: the bytes were not the script's.
        if self.stages.iter().any(|s| s.kind == StageKind::Refused) {
            return BootState::Refused;
        }
        if let Some(state) = self.raspberry_pi() {
            return state;
        }
        if let (Some(images), Some(_)) = (&self.images, self.script()) {
            if images.all().all(|object| self.fetched(object).is_some()) {
                return BootState::Done;
            }
            let kernel_at = images
                .kernel
                .and_then(|kernel| self.fetched(&kernel))
                .and_then(|stage| stage.ended);
            let initrd_missing = images.initrds.iter().any(|i| self.fetched(i).is_none());
            if let Some(kernel_at) = kernel_at
                && initrd_missing
                && now.since(&kernel_at) >= stall_timeout
            {
                return BootState::Stalled;
            }
        }
        if self.stages.last().is_some_and(Stage::failed) {
            return BootState::Failed;
        }
        BootState::InProgress
    }

    /// The state to record in the boot journal, once per state the boot comes to: done,
    /// stalled, unknown machine or failed; or, once the client has moved on to its next
    /// boot (`superseded`), whatever it was left at.
    pub fn to_journal(
        &mut self,
        now: Timestamp,
        stall_timeout: Duration,
        superseded: bool,
    ) -> Option<BootState> {
        let state = self.state(now, stall_timeout);
        let worth = superseded || state != BootState::InProgress;
        (worth && self.journaled != Some(state)).then(|| {
            self.journaled = Some(state);
            state
        })
    }

    /// The release this boot got: its script's, else its first request's.
    pub fn release(&self) -> Option<Digest> {
        self.script()
            .or(self.stages.first())
            .and_then(|stage| stage.release)
    }

    pub fn to_status(&self, now: Timestamp, stall_timeout: Duration) -> BootStatus {
        let images = self.images.as_ref();
        BootStatus {
            started: rfc3339(self.started()),
            state: self.state(now, stall_timeout),
            release: self.release().map(|d| d.to_string()),
            script: self.script().map(|s| s.route.clone()),
            kernel: images.and_then(|i| i.kernel).map(|d| d.to_string()),
            initrds: images.map(|i| i.initrds.iter().map(ToString::to_string).collect()),
            stages: self.stages.iter().map(Stage::to_status).collect(),
            stages_not_kept: self.stages_not_kept,
        }
    }
}
