//! Reading XML reports (JUnit, Cobertura) with quick-xml: element names and attribute values.
//! quick-xml expands only the predefined entities and character references, never a DTD's.

use anyhow::{Context as _, Result};
use quick_xml::events::BytesStart;

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
