//! `unpinned-images`: a job's `container:` or `services.*` image without a digest. A tag
//! can be pushed again with other content; `latest` (or no tag) changes all the time.

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct UnpinnedImages;

impl Rule for UnpinnedImages {
    fn job(&self, _wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        if let Some(c) = job.node.get("container") {
            check(c, "the job container", out);
        }
        for (name, svc) in job.services() {
            check(svc, &format!("service `{name}`"), out);
        }
    }
}

fn check(node: &Node, what: &str, out: &mut Vec<Hit>) {
    let image = if node.is_map() {
        node.get("image")
    } else {
        Some(node)
    };
    let Some(image) = image else { return };
    let Some(text) = image.str().map(str::trim) else {
        return;
    };
    if text.is_empty() || text.contains("${{") {
        return;
    }
    let r = crate::outdated::parse_image(text);
    if r.digest.is_some() {
        return;
    }
    let (severity, msg) = match r.tag.as_deref() {
        None | Some("latest") => (
            Severity::High,
            format!("{what} runs `{text}`: `latest` changes under you"),
        ),
        Some(tag) => (
            Severity::Medium,
            format!("{what} runs `{text}`: the tag `{tag}` can be pushed again"),
        ),
    };
    let fix =
        "pin the digest: IMAGE:TAG@sha256:DIGEST (`docker buildx imagetools inspect IMAGE:TAG`)";
    out.push(Hit::new(
        codes::UNPINNED_IMAGES,
        severity,
        image.pos,
        msg,
        fix,
    ));
}
