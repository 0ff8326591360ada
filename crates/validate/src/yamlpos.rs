//! Lines of the fields of YAML documents: maps a JSON pointer (`/spec/replicas`) inside a
//! document to the line where it is written, so a finding about a field can name its line.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// The lines of one document's fields.
#[derive(Debug, Clone, Default)]
pub struct DocLines {
    /// The line of the document's first node.
    pub start: usize,
    lines: HashMap<String, usize>,
}

impl DocLines {
    /// The line of `pointer` (RFC 6901, `""` for the document), or of its closest written
    /// ancestor when the field itself is not in the file (added by a patch or a default).
    pub fn line_of(&self, pointer: &str) -> usize {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines.get(p) {
                return *line;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.start,
            }
        }
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { index: usize },
}

/// The field lines of every document of a YAML stream, in stream order (empty documents
/// included, as [`keelson_manifest::parse_stream`] returns them). Invalid YAML yields the
/// documents read before the error.
pub fn index(text: &str) -> Vec<DocLines> {
    let mut docs: Vec<DocLines> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    while let Some(Ok((event, span))) = parser.next_event() {
        let line = span.start.line();
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                docs.push(DocLines {
                    start: line,
                    lines: HashMap::new(),
                });
                stack.clear();
                path.clear();
            }
            Event::Scalar(text, ..) => {
                if let Some(Frame::Map { key }) = stack.last_mut()
                    && key.is_none()
                {
                    *key = Some(escape(&text));
                    path.push(escape(&text));
                    record(&mut docs, &path, line);
                    continue;
                }
                value_done(&mut stack, &mut path, &mut docs, line);
            }
            Event::Alias(_) => value_done(&mut stack, &mut path, &mut docs, line),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                enter_item(&mut stack, &mut path, &mut docs, line);
                if matches!(event, Event::MappingStart(..)) {
                    stack.push(Frame::Map { key: None });
                } else {
                    stack.push(Frame::Seq { index: 0 });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                finish_value(&mut stack, &mut path);
            }
            _ => {}
        }
    }
    docs
}

/// A sequence item starts: push its index onto the path.
fn enter_item(stack: &mut [Frame], path: &mut Vec<String>, docs: &mut [DocLines], line: usize) {
    if let Some(Frame::Seq { index }) = stack.last() {
        path.push(index.to_string());
        record(docs, path, line);
    }
}

/// A scalar or alias value ends.
fn value_done(stack: &mut [Frame], path: &mut Vec<String>, docs: &mut [DocLines], line: usize) {
    enter_item(stack, path, docs, line);
    finish_value(stack, path);
}

/// The current value is complete: pop its path segment and advance the parent.
fn finish_value(stack: &mut [Frame], path: &mut Vec<String>) {
    match stack.last_mut() {
        Some(Frame::Map { key }) if key.is_some() => {
            *key = None;
            path.pop();
        }
        Some(Frame::Seq { index }) => {
            *index += 1;
            path.pop();
        }
        Some(Frame::Map { .. }) | None => {}
    }
}

fn record(docs: &mut [DocLines], path: &[String], line: usize) {
    if let Some(doc) = docs.last_mut() {
        let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
        doc.lines.entry(pointer).or_insert(line);
    }
}

/// RFC 6901 escaping of one pointer segment.
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_fields_and_items() {
        let text = "a: 1\n---\n# c\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: x\n    image: y\n  - name: z\n    ports: [80, {containerPort: 1}]\n  nodeSelector: {a/b: c}\n";
        let docs = index(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line_of("/a"), 1);
        let d = &docs[1];
        assert_eq!(d.line_of("/kind"), 5);
        assert_eq!(d.line_of("/spec/containers/0/image"), 9);
        assert_eq!(d.line_of("/spec/containers/1/name"), 10);
        assert_eq!(d.line_of("/spec/containers/1/ports/1/containerPort"), 11);
        assert_eq!(d.line_of("/spec/nodeSelector/a~1b"), 12);
        assert_eq!(d.line_of("/spec/containers/1/missing/deep"), 10);
    }
}
