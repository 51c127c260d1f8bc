//! JSON bodies flattened into arguments the way ModSecurity v3 names them:
//! `{"a":{"b":[1]}}` gives `json.a.b.0 = 1`.
use serde_json::Value;

pub fn parse(body: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // serde_json stops at 128 levels of nesting, which bounds stack use.
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut key = b"json".to_vec();
    flatten(&v, &mut key, out);
    Ok(())
}

fn flatten(v: &Value, key: &mut Vec<u8>, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let len = key.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                key.push(b'.');
                key.extend_from_slice(k.as_bytes());
                flatten(child, key, out);
                key.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                key.push(b'.');
                key.extend_from_slice(i.to_string().as_bytes());
                flatten(child, key, out);
                key.truncate(len);
            }
        }
        Value::String(s) => out.push((key.clone(), s.as_bytes().to_vec())),
        Value::Number(n) => out.push((key.clone(), n.to_string().into_bytes())),
        Value::Bool(b) => out.push((key.clone(), b.to_string().into_bytes())),
        Value::Null => out.push((key.clone(), Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nested_objects_and_arrays_flatten_to_dotted_names() {
        let mut out = Vec::new();
        super::parse(br#"{"a":{"b":[1,"x"]},"c":null}"#, &mut out).unwrap();
        let names: Vec<_> = out
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert_eq!(names, ["json.a.b.0", "json.a.b.1", "json.c"]);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = "[".repeat(100_000);
        assert!(super::parse(body.as_bytes(), &mut Vec::new()).is_err());
    }
}
