//! XML bodies: `XML:/*` is the text of the whole document, `XML://@*` every attribute value.

pub fn parse(body: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())?;
    let mut content = Vec::new();
    let mut attrs = Vec::new();
    for node in doc.descendants() {
        if node.is_text() {
            if let Some(t) = node.text() {
                content.extend_from_slice(t.as_bytes());
            }
        } else if node.is_element() {
            attrs.extend(node.attributes().map(|a| a.value().as_bytes().to_vec()));
        }
    }
    Ok((content, attrs))
}
