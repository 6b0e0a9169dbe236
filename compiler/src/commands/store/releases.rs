//! `releases`: the history of a store's `current`.

use netboot_bundle::{Digest, Record};
use netboot_store::{Location, history};
use serde::Serialize;

use crate::cli::ReleasesArgs;
use crate::error::Error;
use crate::output::{print, to_stderr};

use super::{runtime, short};

#[derive(Serialize)]
struct ReleaseJson<'a> {
    current: bool,
    record: Option<Digest>,
    /// Only when there is no record (whose own `manifest` field is flattened in).
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<Digest>,
    #[serde(flatten)]
    detail: Option<&'a Record>,
}

pub fn releases(args: ReleasesArgs) -> Result<(), Error> {
    let location = Location::open(&args.url, false)?;
    runtime()?.block_on(async {
        let history::History {
            entries: history,
            broken,
        } = history::read_history(&location, args.limit).await?;
        if let Some(broken) = &broken {
            // Reported, not fatal: what could be read is listed.
            to_stderr(&format!(
                "warning: {}: release record {} cannot be read ({}); older releases are not listed\n",
                location.label, broken.record, broken.reason
            ));
        }
        if args.json {
            let list: Vec<ReleaseJson> = history
                .iter()
                .enumerate()
                .map(|(i, e)| ReleaseJson {
                    current: i == 0,
                    record: e.record,
                    manifest: e.detail.is_none().then_some(e.manifest),
                    detail: e.detail.as_ref(),
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
            text.push('\n');
            return print(&text);
        }
        if history.is_empty() {
            return print(&format!("{} has no release\n", location.label));
        }
        let mut out = format!(
            "  {:<12}  {:<12}  {:<20}  {:<8}  {}\n",
            "RELEASE", "MANIFEST", "PUBLISHED", "ACTION", "BY"
        );
        for (i, e) in history.iter().enumerate() {
            let d = e.detail.as_ref();
            out += &format!(
                "{} {:<12}  {:<12}  {:<20}  {:<8}  {}\n",
                if i == 0 { '*' } else { ' ' },
                e.record.as_ref().map_or_else(|| "-".to_owned(), short),
                short(&e.manifest),
                d.and_then(|r| r.published_at.as_deref()).unwrap_or("-"),
                d.map_or("-", |r| r.action.as_str()),
                d.and_then(|r| r.published_by.as_deref()).unwrap_or("-"),
            );
        }
        print(&out)
    })
}
