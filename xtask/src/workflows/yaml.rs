//! A YAML tree that remembers where every node starts, built from yaml-rust2's event
//! parser (its `Marker`s). Lines and columns are 1-based; anchors and aliases are resolved
//! (an alias is a copy of the anchored node, at the anchor's position).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Where a node starts: 1-based line and column (in characters), and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub offset: usize,
}

impl Pos {
    fn min_by_offset(self, other: Pos) -> Pos {
        if other.offset < self.offset {
            other
        } else {
            self
        }
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    /// The scalar's text, whatever its style.
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node (its position is what a fix edits) and the value under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// A scalar's text (any style).
    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries of a mapping (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(e) => e,
            _ => &[],
        }
    }

    /// The items of a sequence (empty for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(v) => v,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// A plain `false` (also `False`, `FALSE`): YAML 1.2's core schema boolean.
    pub fn is_false(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.eq_ignore_ascii_case("false"))
    }

    /// A sequence's items, or the node itself when it is a single scalar or mapping.
    pub fn one_or_many(&self) -> Vec<&Node> {
        match &self.value {
            Value::Seq(v) => v.iter().collect(),
            _ => vec![self],
        }
    }
}

/// A parse error with its 1-based line and column.
#[derive(Debug)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.col, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// Byte offsets of line starts, to turn a marker (line, column in characters) into a
/// byte offset: the parser's own index counts characters.
pub struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// Position of a 1-based line and 0-based character column. The parser marks an empty
    /// node at the end of a file without a final newline on the line after the last: that
    /// is the end of the text.
    fn pos(&self, line: usize, col0: usize) -> Pos {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.at(self.text.len());
        };
        let rest = &self.text[start.min(self.text.len())..];
        let offset = start + rest.char_indices().nth(col0).map_or(rest.len(), |(i, _)| i);
        Pos {
            line,
            col: col0 + 1,
            offset,
        }
    }

    /// Position of a byte offset.
    pub fn at(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let col = self.text[start..offset].chars().count() + 1;
        Pos { line, col, offset }
    }
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    Map(Pos, usize, Vec<(Node, Node)>, Option<Node>),
}

struct Builder<'a> {
    lines: &'a Lines<'a>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, entries, key)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None if self.root.is_none() => self.root = Some(node),
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = self.lines.pos(mark.line(), mark.col());
        match ev {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(text, _, anchor, _) => self.finish(
                Node {
                    pos,
                    value: Value::Scalar(text),
                },
                anchor,
            ),
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    pos,
                    value: Value::Scalar(String::new()),
                });
                self.finish(node, 0)
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(pos, anchor, vec![])),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(pos, anchor, vec![], None))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(pos, anchor, items)) => {
                    let value = Value::Seq(items);
                    self.finish(Node { pos, value }, anchor)
                }
                Some(Frame::Map(pos, anchor, entries, _)) => {
                    // A block mapping's start event is marked at its first `:`; the
                    // mapping starts at its first key.
                    let pos = entries
                        .first()
                        .map_or(pos, |(k, _)| k.pos.min_by_offset(pos));
                    let value = Value::Map(entries);
                    self.finish(Node { pos, value }, anchor)
                }
                None => {}
            },
            _ => {}
        }
    }
}

/// Parse the first document of `text` (an empty file gives an empty mapping).
pub fn parse(text: &str, lines: &Lines) -> Result<Node, YamlError> {
    if let Some((line, col)) = crate::util::yaml::alias_bomb(text) {
        return Err(YamlError {
            line,
            col,
            message: format!(
                "aliases expand the file past {} nodes (a YAML bomb)",
                crate::util::yaml::MAX_NODES
            ),
        });
    }
    let mut b = Builder {
        lines,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        documents: 0,
    };
    Parser::new_from_str(text)
        .load(&mut b, false)
        .map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
    Ok(b.root.unwrap_or(Node {
        pos: Pos {
            line: 1,
            col: 1,
            offset: 0,
        },
        value: Value::Map(Vec::new()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(text, &Lines::new(text)).unwrap()
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let text = "on: push\njobs:\n  build:\n    steps:\n      - uses: a/b@v1\n        with: {x: \"é\", y: 2}\n";
        let t = tree(text);
        let (k, _) = t.entry("jobs").unwrap();
        assert_eq!((k.pos.line, k.pos.col), (2, 1));
        let step = &t
            .get("jobs")
            .unwrap()
            .get("build")
            .unwrap()
            .get("steps")
            .unwrap()
            .items()[0];
        assert_eq!(
            (step.pos.line, step.pos.col),
            (5, 9),
            "a step starts at its first key"
        );
        let (k, v) = step.entry("uses").unwrap();
        assert_eq!((k.pos.line, k.pos.col, v.str()), (5, 9, Some("a/b@v1")));
        let y = step.get("with").unwrap().entry("y").unwrap().0;
        assert_eq!((y.pos.line, y.pos.col), (6, 24), "columns count characters");
        assert_eq!(
            &text[y.pos.offset..y.pos.offset + 1],
            "y",
            "offsets count bytes"
        );
    }

    #[test]
    fn block_scalars_and_aliases() {
        let t = tree("a: &x\n  k: v\nb: *x\nc: |\n  line1\n  line2\nd: 'false'\ne: false\n");
        assert_eq!(t.get("b").unwrap().get("k").unwrap().str(), Some("v"));
        assert_eq!(t.get("c").unwrap().str(), Some("line1\nline2\n"));
        assert!(t.get("e").unwrap().is_false());
        assert!(
            t.get("d").unwrap().is_false(),
            "a quoted 'false' is the string GitHub compares"
        );
    }

    /// Found by `fuzz_tests::workflows`: each alias was built as a full copy, so 400 bytes
    /// of aliases of aliases took minutes and gigabytes (billion laughs).
    #[test]
    fn a_yaml_bomb_is_an_error_at_its_line() {
        let text = format!("on: push\n{}", crate::util::yaml::laughs(9));
        let e = crate::fuzz_tests::guard("YAML bomb", move || {
            parse(&text, &Lines::new(&text)).unwrap_err()
        });
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("YAML bomb"), "{e}");
    }

    /// Found by `fuzz_tests::workflows`: an empty value at the end of a file without a final
    /// newline was placed on a line past the last, at offset 0 (the start of the file).
    #[test]
    fn an_empty_value_at_the_end_is_at_the_end() {
        for (text, line, col) in [("a: b\nc:", 2, 3), ("&x", 1, 3), ("a:\n  - b\n  -", 3, 4)] {
            let t = tree(text);
            let mut last = &t;
            while let Some(n) = match &last.value {
                Value::Map(e) => e.last().map(|(_, v)| v),
                Value::Seq(v) => v.last(),
                Value::Scalar(_) => None,
            } {
                last = n;
            }
            assert_eq!(last.str(), Some(""), "{text:?}");
            let p = last.pos;
            assert_eq!(
                (p.line, p.col, p.offset),
                (line, col, text.len()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn errors_carry_the_line() {
        let text = "jobs:\n  a: [1, 2\n  b: 3\n";
        let e = parse(text, &Lines::new(text)).unwrap_err();
        assert!(e.line >= 2, "{e}");
    }
}
