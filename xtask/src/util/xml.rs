//! Reading XML reports (JUnit, Cobertura) with quick-xml: element names and attribute values.
//! quick-xml expands only the predefined entities and character references, never a DTD's.

use anyhow::{Context as _, Result, bail};
use quick_xml::events::{BytesStart, Event};

/// An element's local name (without a namespace prefix).
pub fn tag(e: &BytesStart) -> String {
    e.local_name().as_ref().to_string()
}

/// An attribute's value with entities resolved. Line breaks are kept as written (no XML
/// attribute normalisation): pytest writes a multi-line message into `message`.
pub fn attr(e: &BytesStart, name: &str) -> Result<Option<String>> {
    let Some(a) = e
        .try_get_attribute(name)
        .with_context(|| format!("reading the attributes of <{}>", tag(e)))?
    else {
        return Ok(None);
    };
    let value = quick_xml::escape::unescape(&a.value)
        .with_context(|| format!("attribute `{name}` of <{}>", tag(e)))?;
    Ok(Some(value.into_owned()))
}

/// One step of reading a document, in document order, as [`read`] hands it on.
pub enum Step<'a> {
    /// A start or empty (`<a/>`) element; its name is [`tag`]'s.
    Open {
        e: &'a BytesStart<'a>,
        name: &'a str,
        empty: bool,
    },
    /// The end of a non-empty element, by name.
    Close(&'a str),
    /// Character data between tags (in pieces around entity references).
    Text(&'a str),
    /// A `<![CDATA[..]]>` section's content.
    CData(&'a str),
    /// A character or predefined entity reference, resolved (empty when it is neither).
    Ref(&'a str),
}

/// Reads `text` and hands each [`Step`] to `on`, with the names of the elements open around
/// it (outermost first; for [`Step::Close`], without the element that closes). `trim`
/// drops white space around text. Malformed XML fails naming the byte near which it is, and
/// a document that ends inside an element fails as truncated.
pub fn read(
    text: &str,
    trim: bool,
    mut on: impl FnMut(&[String], Step<'_>) -> Result<()>,
) -> Result<()> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(trim);
    let mut stack: Vec<String> = Vec::new();
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .with_context(|| format!("malformed XML near byte {pos}"))?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                on(&stack, Step::Close(&name))?;
                continue;
            }
            Event::Text(t) => {
                on(
                    &stack,
                    Step::Text(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
                )?;
                continue;
            }
            Event::CData(t) => {
                on(
                    &stack,
                    Step::CData(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
                )?;
                continue;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&r)
                        .unwrap_or_default()
                        .to_string(),
                };
                on(&stack, Step::Ref(&c))?;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = tag(&e);
        on(
            &stack,
            Step::Open {
                e: &e,
                name: &name,
                empty,
            },
        )?;
        if !empty {
            stack.push(name);
        }
    }
    if let Some(open) = stack.last() {
        bail!("the XML ends inside <{open}>: the file is truncated");
    }
    Ok(())
}
