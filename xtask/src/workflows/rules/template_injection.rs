//! `template-injection`: a `${{ … }}` expression of attacker-controlled context (issue and
//! pull request titles and bodies, branch names, commit messages, `workflow_dispatch`
//! inputs, …) inside `run:` or the `script:` of `actions/github-script`. The runner pastes
//! the value into the script before it runs, so the value becomes code.

use super::{Hit, Job, Rule, Wf, expressions, is_action};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct TemplateInjection;

const FIX: &str = "pass it through `env:` (e.g. `TITLE: ${{ github.event.issue.title }}`) and use \"$TITLE\" in the script";

impl Rule for TemplateInjection {
    fn step(&self, wf: &Wf, _job: Option<&Job>, step: &Node, out: &mut Vec<Hit>) {
        let script = match step.get("run") {
            Some(run) => Some((run, "run:")),
            None if is_action(step, "actions/github-script") => step
                .get("with")
                .and_then(|w| w.get("script"))
                .map(|s| (s, "script:")),
            None => None,
        };
        let Some((node, place)) = script else { return };
        let Some(text) = node.str() else { return };
        let dispatch = wf
            .triggers()
            .iter()
            .any(|(t, _)| *t == "workflow_dispatch" || *t == "workflow_call");
        let mut cursor = node.pos.offset;
        for (start, expr) in expressions(text) {
            let raw = &text[start..start + text[start..].find("}}").map_or(3, |j| j + 2)];
            let pos = wf.locate_from(node, cursor, raw);
            cursor = pos.offset + 1;
            let Some(context) = contexts(expr)
                .into_iter()
                .find(|c| attacker_controlled(c, dispatch))
            else {
                continue;
            };
            let msg = format!(
                "`{context}` is expanded into the `{place}` script: whoever controls it can run code"
            );
            out.push(Hit::new(
                codes::TEMPLATE_INJECTION,
                Severity::High,
                pos,
                msg,
                FIX,
            ));
        }
    }
}

/// The context references of an expression: `github.event.issue.title`, `inputs.name`, …
/// (dotted identifiers; `[*]`/`.*` kept as `*`).
fn contexts(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_string = false;
    let mut depth = 0;
    for c in expr.chars().chain(std::iter::once(' ')) {
        if depth > 0 {
            depth += usize::from(c == '[');
            depth -= usize::from(c == ']');
            continue;
        }
        if c == '\'' {
            in_string = !in_string;
            cur.clear();
            continue;
        }
        if in_string {
            continue;
        }
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*') {
            cur.push(c);
        } else if c == '[' {
            // `commits[0].message` reads as `commits.*.message`.
            cur.push_str(".*");
            depth = 1;
        } else if !cur.is_empty() {
            if cur.contains('.') && cur.starts_with(|c: char| c.is_ascii_alphabetic()) {
                out.push(cur.replace("..", "."));
            }
            cur.clear();
        }
    }
    out
}

/// Fields of events that anyone who can open an issue, a pull request or push a branch
/// can set to any text.
fn attacker_controlled(context: &str, dispatch: bool) -> bool {
    let c = context.to_ascii_lowercase();
    if c == "github.head_ref" || c.starts_with("github.event.inputs.") {
        return true;
    }
    if dispatch && c.starts_with("inputs.") {
        return true;
    }
    let Some(event) = c.strip_prefix("github.event.") else {
        return false;
    };
    let parts: Vec<&str> = event.split('.').collect();
    let last = parts.last().copied().unwrap_or_default();
    parts.contains(&"head_commit")
        || (parts.contains(&"head") && matches!(last, "ref" | "label"))
        || matches!(
            last,
            "title"
                | "body"
                | "head_ref"
                | "head_branch"
                | "label"
                | "message"
                | "page_name"
                | "display_title"
        )
        || (parts.contains(&"author") && matches!(last, "name" | "email"))
        || (parts.contains(&"commits") && matches!(last, "name" | "email"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_contexts_are_attacker_controlled() {
        let yes = [
            "github.event.issue.title",
            "github.event.pull_request.body",
            "github.event.pull_request.head.ref",
            "github.event.pull_request.head.label",
            "github.head_ref",
            "github.event.head_commit.message",
            "github.event.commits.*.message",
            "github.event.comment.body",
            "github.event.workflow_run.head_branch",
            "github.event.inputs.name",
        ];
        for c in yes {
            assert!(attacker_controlled(c, false), "{c}");
        }
        let no = [
            "github.sha",
            "github.event.pull_request.number",
            "github.ref",
            "secrets.TOKEN",
            "inputs.x",
        ];
        for c in no {
            assert!(!attacker_controlled(c, false), "{c}");
        }
        assert!(attacker_controlled("inputs.name", true));
        assert_eq!(
            contexts("format('{0}', github.event.commits[0].message) || 'x.y'"),
            vec!["github.event.commits.*.message"]
        );
    }
}
