//! A bound on YAML read from files: an alias is a copy of the node its anchor names, so a
//! few hundred bytes of aliases of aliases expand to billions of nodes ("billion laughs")
//! in any reader that builds a tree. Every YAML file the toolkit reads into a tree is
//! checked here first.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The most nodes a file may expand to, aliases counted at the size of what they copy: far
/// above any workflow or advisory (hundreds to a few thousand), far below what takes
/// noticeable time or memory to build.
pub const MAX_NODES: usize = 1 << 18;

/// Where aliases expand `text` (all its documents) past [`MAX_NODES`]: the 1-based line and
/// column of the alias that crossed it; `None` when they do not. Syntax errors are not
/// reported here but by the reader that builds the tree.
pub fn alias_bomb(text: &str) -> Option<(usize, usize)> {
    // No anchor or no alias: nothing is copied.
    if !(text.contains('&') && text.contains('*')) {
        return None;
    }
    let mut count = Count::default();
    let _ = Parser::new_from_str(text).load(&mut count, true);
    count.over
}

#[derive(Default)]
struct Count {
    /// Nodes so far, each alias counted as the size of its anchor's node.
    nodes: usize,
    /// Open sequences and mappings: the count at their start, and their anchor.
    open: Vec<(usize, usize)>,
    /// Size of each anchored node.
    sizes: HashMap<usize, usize>,
    over: Option<(usize, usize)>,
}

impl MarkedEventReceiver for Count {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.over.is_some() {
            return;
        }
        match ev {
            Event::Scalar(_, _, anchor, _) => {
                self.nodes += 1;
                if anchor != 0 {
                    self.sizes.insert(anchor, 1);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.open.push((self.nodes, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((start, anchor)) = self.open.pop() {
                    self.nodes += 1;
                    if anchor != 0 {
                        self.sizes.insert(anchor, self.nodes - start);
                    }
                }
            }
            Event::Alias(id) => self.nodes += self.sizes.get(&id).copied().unwrap_or(1),
            _ => {}
        }
        if self.nodes > MAX_NODES {
            self.over = Some((mark.line(), mark.col() + 1));
        }
    }
}

/// `levels` levels of ten aliases of the level below: 10^levels nodes from a few hundred
/// bytes.
#[cfg(test)]
pub fn laughs(levels: usize) -> String {
    let mut t = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..levels {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        t.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_at_the_size_they_copy() {
        assert_eq!(alias_bomb("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n"), None);
        assert_eq!(alias_bomb("no: anchors\n"), None);
        assert_eq!(alias_bomb(&laughs(5)), None, "10^5 nodes: within the bound");
        let (line, _) = alias_bomb(&laughs(9)).expect("10^9 nodes");
        assert_eq!(line, 6, "the level where the count crosses 2^18");
        // In a later document too, and in a mapping's keys.
        let later = format!("---\na: 1\n---\n{}", laughs(9));
        assert!(alias_bomb(&later).is_some());
        assert!(alias_bomb("{&k [a, b]: 1, *k : 2}").is_none());
    }
}
