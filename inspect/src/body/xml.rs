//! XML bodies: `XML:/*` is the text of the whole document, `XML://@*` every attribute value.
//!
//! roxmltree bounds the depth of entity references (10) but not how often a
//! top-level reference is used: one 20,000-byte entity referenced 12,000 times
//! expands to 240 MB. So internal entities are measured before parsing (their
//! expanded size and how many references they cost, nested ones included) and a
//! document over [`MAX_EXPANDED_BYTES`] or [`MAX_ENTITY_REFERENCES`] is refused
//! without being parsed. Element depth and node count are capped too; over any
//! cap the body is an error.
use std::collections::HashMap;

/// Most bytes entity references may add to a document.
pub const MAX_EXPANDED_BYTES: usize = 1 << 20;
/// Most entity references (nested ones counted) one document may resolve.
pub const MAX_ENTITY_REFERENCES: usize = 10_000;
/// Deepest element nesting (libxml2's default limit).
pub const MAX_DEPTH: usize = 256;
/// Most nodes (elements, text, comments, ...) in one document.
pub const MAX_NODES: u32 = 100_000;
/// roxmltree's own limit on nested entity references.
const MAX_ENTITY_NESTING: usize = 10;

pub fn parse(body: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    check_entities(text)?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())?;
    let mut content = Vec::new();
    let mut attrs = Vec::new();
    // Descendants come in document order, so a parent's depth is known first.
    let mut depths = vec![0u16; doc.descendants().count()];
    for node in doc.descendants() {
        let depth = node
            .parent()
            .and_then(|p| depths.get(p.id().get_usize()).copied())
            .unwrap_or(0)
            + u16::from(node.is_element());
        if usize::from(depth) > MAX_DEPTH {
            return Err(format!("elements nested deeper than {MAX_DEPTH}"));
        }
        if let Some(d) = depths.get_mut(node.id().get_usize()) {
            *d = depth;
        }
        if node.is_element() {
            attrs.extend(node.attributes().map(|a| a.value().as_bytes().to_vec()));
        } else if node.is_text()
            && let Some(t) = node.text()
        {
            content.extend_from_slice(t.as_bytes());
        }
    }
    Ok((content, attrs))
}

/// An internal entity's cost: bytes it expands to, references it resolves.
#[derive(Clone, Copy)]
struct Cost {
    bytes: usize,
    refs: usize,
}

/// Measures every reference to a DTD-declared entity in `text`; errors when the
/// expansion would pass a cap.
fn check_entities(text: &str) -> Result<(), String> {
    let Some((decls, subset)) = internal_entities(text) else {
        return Ok(());
    };
    if decls.is_empty() {
        return Ok(());
    }
    let mut memo: HashMap<&str, Cost> = HashMap::new();
    let mut total = Cost { bytes: 0, refs: 0 };
    for (range, name) in references(text) {
        if subset.contains(&range.start) {
            continue; // counted through the entities that use it
        }
        if !decls.contains_key(name) {
            continue;
        }
        let c = cost(name, &decls, &mut memo, 0)?;
        total.bytes = total.bytes.saturating_add(c.bytes);
        total.refs = total.refs.saturating_add(c.refs);
        over_caps(total)?;
    }
    Ok(())
}

fn over_caps(c: Cost) -> Result<(), String> {
    if c.bytes > MAX_EXPANDED_BYTES {
        return Err(format!("entity expansion over {MAX_EXPANDED_BYTES} bytes"));
    }
    if c.refs > MAX_ENTITY_REFERENCES {
        return Err(format!(
            "more than {MAX_ENTITY_REFERENCES} entity references"
        ));
    }
    Ok(())
}

fn cost<'a>(
    name: &'a str,
    decls: &HashMap<&'a str, &'a str>,
    memo: &mut HashMap<&'a str, Cost>,
    depth: usize,
) -> Result<Cost, String> {
    if let Some(c) = memo.get(name) {
        return Ok(*c);
    }
    if depth > MAX_ENTITY_NESTING {
        return Err(format!(
            "entity references nested deeper than {MAX_ENTITY_NESTING} (or a loop)"
        ));
    }
    let value = decls.get(name).copied().unwrap_or("");
    let mut c = Cost {
        bytes: value.len(),
        refs: 1,
    };
    // Character references in an entity value are replaced when it is declared,
    // so `&#38;e;` becomes a reference to `e` when the entity is used.
    let value = value
        .replace("&#38;", "&")
        .replace("&#x26;", "&")
        .replace("&#X26;", "&");
    for (_, inner) in references(&value) {
        if let Some((&key, _)) = decls.get_key_value(inner) {
            let ic = cost(key, decls, memo, depth + 1)?;
            c.bytes = c.bytes.saturating_add(ic.bytes);
            c.refs = c.refs.saturating_add(ic.refs);
            over_caps(c)?;
        }
    }
    memo.insert(name, c);
    Ok(c)
}

/// `&name;` references in `s`, with their byte ranges (character references
/// `&#...;` are not entities).
fn references(s: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    let b = s.as_bytes();
    memchr::memchr_iter(b'&', b).filter_map(move |i| {
        let rest = &s[i + 1..];
        let end = rest.find(';')?;
        let name = &rest[..end];
        let ok = !name.is_empty()
            && !name.starts_with('#')
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        ok.then(|| (i..i + end + 2, name))
    })
}

/// The general entities declared with a literal value in the internal DTD subset
/// (name to raw value), and the subset's byte range; `None` without a DTD.
fn internal_entities(text: &str) -> Option<(HashMap<&str, &str>, std::ops::Range<usize>)> {
    let start = text.find("<!DOCTYPE")?;
    let open = start + text[start..].find('[')?;
    // Only a `[` inside the DOCTYPE starts an internal subset (not a later CDATA).
    if text[start..open].contains('>') {
        return None;
    }
    // The subset ends at the first `]` outside a quoted literal.
    let b = text.as_bytes();
    let mut i = open + 1;
    let mut quote = 0u8;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') if quote == 0 => quote = q,
            q if q == quote => quote = 0,
            b']' if quote == 0 => break,
            _ => {}
        }
        i += 1;
    }
    let subset = &text[open + 1..i];
    let mut decls = HashMap::new();
    let mut rest = subset;
    while let Some(p) = rest.find("<!ENTITY") {
        rest = &rest[p + 8..];
        let r = rest.trim_start();
        if r.starts_with('%') {
            continue; // parameter entities are not expanded in content
        }
        let name_len = r.find(|c: char| c.is_whitespace()).unwrap_or(r.len());
        let name = &r[..name_len];
        let r = r[name_len..].trim_start();
        let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue; // an external entity: nothing to expand without a resolver
        };
        let Some(end) = r[1..].find(q) else {
            continue;
        };
        // XML keeps the first declaration of a name.
        decls.entry(name).or_insert(&r[1..1 + end]);
    }
    Some((decls, open + 1..i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_collected() {
        let (text, attrs) = parse(br#"<a x="1"><b y="2">hi</b> there</a>"#).unwrap();
        assert_eq!(text, b"hi there");
        assert_eq!(attrs, vec![b"1".to_vec(), b"2".to_vec()]);
    }

    #[test]
    fn small_internal_entities_still_expand() {
        let doc = br#"<!DOCTYPE a [<!ENTITY e "val">]><a>&e;&e;&amp;</a>"#;
        assert_eq!(parse(doc).unwrap().0, b"valval&");
    }

    #[test]
    fn one_big_entity_referenced_many_times_is_refused() {
        let big = "x".repeat(20_000);
        let refs = "&e;".repeat(12_000);
        let doc =
            format!(r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "{big}">]><a>{refs}</a>"#);
        let e = parse(doc.as_bytes()).unwrap_err();
        assert!(e.contains("entity expansion"), "{e}");
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut dtd = String::from(r#"<!ENTITY l0 "lol">"#);
        for i in 1..10 {
            let prev = format!("&l{};", i - 1).repeat(10);
            dtd.push_str(&format!(r#"<!ENTITY l{i} "{prev}">"#));
        }
        let doc = format!("<!DOCTYPE a [{dtd}]><a>&l9;</a>");
        assert!(parse(doc.as_bytes()).is_err());
    }

    #[test]
    fn references_hidden_behind_character_references_are_counted() {
        let mut dtd = String::from(r#"<!ENTITY l0 "lollollollollollollollollollollollol">"#);
        for i in 1..8 {
            let prev = format!("&#38;l{};", i - 1).repeat(10);
            dtd.push_str(&format!(r#"<!ENTITY l{i} "{prev}">"#));
        }
        let doc = format!("<!DOCTYPE a [{dtd}]><a>&l7;</a>");
        let e = parse(doc.as_bytes()).unwrap_err();
        assert!(
            e.contains("entity expansion") || e.contains("entity references"),
            "{e}"
        );
    }

    #[test]
    fn a_cdata_section_is_not_an_internal_subset() {
        let doc = br#"<!DOCTYPE a SYSTEM "a.dtd"><a><![CDATA[<!ENTITY x "y">]]>&amp;</a>"#;
        assert!(internal_entities(std::str::from_utf8(doc).unwrap()).is_none());
    }

    #[test]
    fn many_cheap_references_over_the_count_cap_are_refused() {
        let doc = format!(
            r#"<!DOCTYPE a [<!ENTITY e "">]><a>{}</a>"#,
            "&e;".repeat(MAX_ENTITY_REFERENCES + 1)
        );
        assert!(parse(doc.as_bytes()).unwrap_err().contains("references"));
    }

    #[test]
    fn depth_and_node_caps_are_errors() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deeper"));
        let wide = format!("<a>{}</a>", "<b/>".repeat(MAX_NODES as usize));
        assert!(parse(wide.as_bytes()).is_err());
    }
}
