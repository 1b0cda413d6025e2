//! The JSON of GitHub Actions exports as read, before checking: runs, jobs and steps with
//! borrowed strings, and a file's documents (an object or an array of runs). Both readers
//! produce these: the fast scanner (`scan.rs`) and serde (the reference, and the errors).

use std::borrow::Cow;

use anyhow::{Context as _, Result};
use serde::Deserialize;

/// A run, or a document holding runs or jobs: the fields of all of them, each optional
/// (one struct, so that a page is parsed in one pass without buffering). REST names, with
/// `gh`'s camelCase spellings as aliases.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct Raw<'a> {
    #[serde(alias = "databaseId")]
    pub(super) id: Option<u64>,
    #[serde(borrow)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(rename = "workflowName", borrow)]
    pub(super) workflow_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) conclusion: Option<Cow<'a, str>>,
    #[serde(alias = "attempt")]
    pub(super) run_attempt: Option<u32>,
    #[serde(alias = "createdAt", borrow)]
    pub(super) created_at: Option<Cow<'a, str>>,
    #[serde(alias = "startedAt", borrow)]
    pub(super) run_started_at: Option<Cow<'a, str>>,
    #[serde(alias = "updatedAt", borrow)]
    pub(super) updated_at: Option<Cow<'a, str>>,
    #[serde(alias = "headSha", borrow)]
    pub(super) head_sha: Option<Cow<'a, str>>,
    #[serde(alias = "headBranch", borrow)]
    pub(super) head_branch: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) event: Option<Cow<'a, str>>,
    pub(super) total_count: Option<u64>,
    #[serde(borrow)]
    pub(super) workflow_runs: Option<Vec<Raw<'a>>>,
    #[serde(borrow)]
    pub(super) jobs: Option<Vec<RawJob<'a>>>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawJob<'a> {
    #[serde(alias = "databaseId")]
    pub(super) id: Option<u64>,
    pub(super) run_id: Option<u64>,
    pub(super) run_attempt: Option<u32>,
    #[serde(borrow)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) conclusion: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) created_at: Option<Cow<'a, str>>,
    #[serde(alias = "startedAt", borrow)]
    pub(super) started_at: Option<Cow<'a, str>>,
    #[serde(alias = "completedAt", borrow)]
    pub(super) completed_at: Option<Cow<'a, str>>,
    /// `gh` jobs carry their run id only in their URL (`.../actions/runs/ID/job/JOB`).
    #[serde(borrow)]
    pub(super) url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) steps: Option<Vec<RawStep<'a>>>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct RawStep<'a> {
    #[serde(borrow)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) conclusion: Option<Cow<'a, str>>,
    #[serde(alias = "startedAt", borrow)]
    pub(super) started_at: Option<Cow<'a, str>>,
    #[serde(alias = "completedAt", borrow)]
    pub(super) completed_at: Option<Cow<'a, str>>,
}

/// One JSON document of a file: an object, or an array of runs (`gh run list`).
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) enum Top<'a> {
    Object(Box<Raw<'a>>),
    Array(Vec<Raw<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Top<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Top<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Top<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object (an API page, a run) or an array of runs")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, m: M) -> Result<Top<'a>, M::Error> {
                Raw::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(|r| Top::Object(Box::new(r)))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, s: S) -> Result<Top<'a>, S::Error> {
                Vec::<Raw>::deserialize(serde::de::value::SeqAccessDeserializer::new(s))
                    .map(Top::Array)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Every JSON document of a file through serde: the reference the scanner must match, and
/// the errors (with line and column) of a file the scanner gave up on.
pub(super) fn serde_documents<'a>(bytes: &'a [u8], shown: &str) -> Result<Vec<Top<'a>>> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Top>()
        .enumerate()
        .map(|(n, doc)| {
            doc.with_context(|| {
                format!(
                    "{shown}: not a GitHub Actions export (JSON document {})",
                    n + 1
                )
            })
        })
        .collect()
}
