//! JSON bodies flattened into arguments named exactly as libmodsecurity 3.0.9 names
//! them (its yajl callbacks in `request_body_processor/json.cc`):
//! `{"a":{"b":[1,{"c":2}]}}` gives `json.a.b.array_0 = 1` and `json.a.b.array_1.c = 2`;
//! a top-level scalar is `json`, an empty key is `empty-key`. Every value is an
//! argument, duplicate keys included (the app may read either one), and numbers
//! keep their text as sent.
//!
//! The parser is iterative (no recursion), so depth costs no stack; depth, element
//! count, argument count and the bytes of argument names are capped, and over a
//! cap the body is an error (never a partial success).

/// Caps for one document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of arrays and objects (`SecRequestBodyJsonDepthLimit`).
    pub max_depth: usize,
    /// Most arguments the document may add (what `SecArgumentsLimit` leaves).
    pub max_args: usize,
}

/// Most values and containers in one document.
pub const MAX_ELEMENTS: usize = 100_000;
/// Most bytes of argument names and values one document may produce: deep paths
/// repeat in every name below them, so names can outgrow the document itself.
pub const MAX_ARG_BYTES: usize = 4 << 20;

struct Container {
    array: bool,
    counter: usize,
    /// `path` length before this container's name.
    base: usize,
    /// `path` length after its name (an array's `.array_N` follows).
    name_end: usize,
}

struct Flattener<'a> {
    out: &'a mut Vec<(Vec<u8>, Vec<u8>)>,
    limits: Limits,
    /// The concatenated names of all open containers, as libmodsecurity builds
    /// the prefix of every argument.
    path: Vec<u8>,
    stack: Vec<Container>,
    key: Vec<u8>,
    args: usize,
    arg_bytes: usize,
    elements: usize,
}

impl Flattener<'_> {
    /// libmodsecurity's `getCurrentKey`.
    fn current_key(&mut self) -> Vec<u8> {
        match self.stack.last() {
            None => b"json".to_vec(),
            Some(top) if self.key.is_empty() => {
                if top.array {
                    Vec::new()
                } else {
                    b"empty-key".to_vec()
                }
            }
            Some(_) => std::mem::take(&mut self.key),
        }
    }

    fn count_element(&mut self) -> Result<(), String> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} JSON elements"));
        }
        Ok(())
    }

    /// Bumps the top array's element counter and rewrites its `.array_N`.
    fn next_in_array(&mut self) {
        if let Some(top) = self.stack.last_mut()
            && top.array
        {
            top.counter += 1;
            self.path.truncate(top.name_end);
            self.path.extend_from_slice(b".array_");
            self.path
                .extend_from_slice(top.counter.to_string().as_bytes());
        }
    }

    fn add(&mut self, value: Vec<u8>) -> Result<(), String> {
        self.count_element()?;
        let mut name = self.path.clone();
        if self.stack.last().is_some_and(|t| t.array) {
            self.next_in_array();
        } else {
            name.extend(self.current_key());
        }
        self.args += 1;
        if self.args > self.limits.max_args {
            return Err(format!(
                "more than {} arguments (SecArgumentsLimit)",
                self.limits.max_args
            ));
        }
        self.arg_bytes += name.len() + value.len();
        if self.arg_bytes > MAX_ARG_BYTES {
            return Err(format!(
                "JSON arguments would take more than {MAX_ARG_BYTES} bytes"
            ));
        }
        self.out.push((name, value));
        Ok(())
    }

    fn open(&mut self, array: bool) -> Result<(), String> {
        self.count_element()?;
        let name = self.current_key();
        if self.stack.len() >= self.limits.max_depth {
            return Err(format!(
                "JSON nesting deeper than {} (SecRequestBodyJsonDepthLimit)",
                self.limits.max_depth
            ));
        }
        let base = self.path.len();
        self.path.extend_from_slice(&name);
        let name_end = self.path.len();
        self.path
            .extend_from_slice(if array { b".array_0" } else { b"." });
        self.stack.push(Container {
            array,
            counter: 0,
            base,
            name_end,
        });
        Ok(())
    }

    fn close(&mut self) {
        if let Some(c) = self.stack.pop() {
            self.path.truncate(c.base);
        }
        self.next_in_array();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value must follow (top level, after `:` or `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After an array element: `,` or `]`.
    ArrayNext,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    ObjectKey,
    /// After a member value: `,` or `}`.
    ObjectNext,
    Done,
}

/// Parses `body` and appends its arguments to `out`; an error names what is wrong
/// and where.
pub fn parse(body: &[u8], limits: Limits, out: &mut Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), String> {
    if body.is_empty() {
        return Ok(());
    }
    std::str::from_utf8(body).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let mut f = Flattener {
        out,
        limits,
        path: Vec::new(),
        stack: Vec::new(),
        key: Vec::new(),
        args: 0,
        arg_bytes: 0,
        elements: 0,
    };
    let mut st = State::Value;
    let mut i = 0;
    let err = |i: usize, what: &str| Err(format!("{what} at byte {i}"));
    loop {
        while i < body.len() && matches!(body[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        let Some(&c) = body.get(i) else {
            return if st == State::Done {
                Ok(())
            } else {
                err(i, "premature end of JSON text")
            };
        };
        let after_value = |f: &Flattener<'_>| match f.stack.last() {
            None => State::Done,
            Some(t) if t.array => State::ArrayNext,
            Some(_) => State::ObjectNext,
        };
        match st {
            State::Done => return err(i, "trailing garbage"),
            State::ArrayNext | State::ObjectNext => {
                let closer = if st == State::ArrayNext { b']' } else { b'}' };
                i += 1;
                if c == b',' {
                    st = if st == State::ArrayNext {
                        State::Value
                    } else {
                        State::ObjectKey
                    };
                } else if c == closer {
                    f.close();
                    st = after_value(&f);
                } else {
                    return err(i - 1, "expected ',' or a closing bracket");
                }
            }
            State::ObjectFirst | State::ObjectKey => {
                if c == b'}' && st == State::ObjectFirst {
                    i += 1;
                    f.close();
                    st = after_value(&f);
                    continue;
                }
                if c != b'"' {
                    return err(i, "expected an object key");
                }
                let (key, next) = string(body, i)?;
                i = next;
                while i < body.len() && matches!(body[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                if body.get(i) != Some(&b':') {
                    return err(i, "expected ':' after an object key");
                }
                i += 1;
                f.key = key;
                st = State::Value;
            }
            State::Value | State::ArrayFirst => {
                if c == b']' && st == State::ArrayFirst {
                    i += 1;
                    f.close();
                    st = after_value(&f);
                    continue;
                }
                match c {
                    b'{' => {
                        i += 1;
                        f.open(false)?;
                        st = State::ObjectFirst;
                        continue;
                    }
                    b'[' => {
                        i += 1;
                        f.open(true)?;
                        st = State::ArrayFirst;
                        continue;
                    }
                    b'"' => {
                        let (v, next) = string(body, i)?;
                        i = next;
                        f.add(v)?;
                    }
                    b't' | b'f' | b'n' => {
                        let (lit, v): (&[u8], &[u8]) = match c {
                            b't' => (b"true", b"true"),
                            b'f' => (b"false", b"false"),
                            _ => (b"null", b""),
                        };
                        if !body[i..].starts_with(lit) {
                            return err(i, "invalid literal");
                        }
                        i += lit.len();
                        f.add(v.to_vec())?;
                    }
                    b'-' | b'0'..=b'9' => {
                        let end = number(body, i)
                            .ok_or_else(|| format!("malformed number at byte {i}"))?;
                        f.add(body[i..end].to_vec())?;
                        i = end;
                    }
                    _ => return err(i, "unexpected character"),
                }
                st = after_value(&f);
            }
        }
    }
}

/// The end of the number starting at `i` (RFC 8259 grammar), or `None`.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i > s).then_some(i)
    };
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i)?,
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    // What follows (`01`, `1x`) is the next token's problem, as in yajl: the
    // number itself is still an argument.
    Some(i)
}

/// Decodes the string starting at the quote at `i`; returns it and the index
/// after the closing quote. Unpaired surrogates become `?` (as yajl does).
fn string(b: &[u8], i: usize) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::new();
    let mut j = i + 1;
    loop {
        let Some(rel) = memchr::memchr2(b'"', b'\\', &b[j..]) else {
            return Err(format!("unterminated string at byte {i}"));
        };
        let run = &b[j..j + rel];
        if let Some(bad) = run.iter().position(|&c| c < 0x20) {
            return Err(format!("control character in string at byte {}", j + bad));
        }
        out.extend_from_slice(run);
        j += rel;
        if b[j] == b'"' {
            return Ok((out, j + 1));
        }
        let esc = *b
            .get(j + 1)
            .ok_or_else(|| format!("unterminated string at byte {i}"))?;
        j += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hi = hex4(b, j).ok_or_else(|| format!("invalid \\u escape at byte {j}"))?;
                j += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    match (b.get(j..j + 2), hex4(b, j + 2)) {
                        (Some(b"\\u"), Some(lo)) if (0xDC00..0xE000).contains(&lo) => {
                            j += 6;
                            Some(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        }
                        _ => None,
                    }
                } else if (0xDC00..0xE000).contains(&hi) {
                    None
                } else {
                    Some(hi)
                };
                match cp.and_then(char::from_u32) {
                    Some(ch) => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    None => out.push(b'?'),
                }
            }
            _ => return Err(format!("invalid escape at byte {}", j - 1)),
        }
    }
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let s = std::str::from_utf8(b.get(i..i + 4)?).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_depth: 512,
        max_args: 1000,
    };

    fn names(body: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        parse(body.as_bytes(), L, &mut out).unwrap();
        out.iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn names_follow_libmodsecurity_3_0_9() {
        assert_eq!(
            names(r#"{"a":{"b":[1,"x",{"c":true},[null,2.50]]},"d":""}"#),
            pairs(&[
                ("json.a.b.array_0", "1"),
                ("json.a.b.array_1", "x"),
                ("json.a.b.array_2.c", "true"),
                ("json.a.b.array_3.array_0", ""),
                ("json.a.b.array_3.array_1", "2.50"),
                ("json.d", ""),
            ])
        );
        assert_eq!(names(r#""top""#), pairs(&[("json", "top")]));
        assert_eq!(
            names(r#"[1,[2],{"":3}]"#),
            pairs(&[
                ("json.array_0", "1"),
                ("json.array_1.array_0", "2"),
                ("json.array_2.empty-key", "3"),
            ])
        );
    }

    #[test]
    fn duplicate_keys_give_every_value() {
        assert_eq!(
            names(r#"{"q":"benign","q":"' or 1=1--"}"#),
            pairs(&[("json.q", "benign"), ("json.q", "' or 1=1--")])
        );
    }

    #[test]
    fn escapes_decode_and_numbers_keep_their_text() {
        assert_eq!(
            names(r#"{"s":"a\"\\\/\n\u0041\ud83d\ude00\ud800","n":-1.5e+3}"#),
            pairs(&[("json.s", "a\"\\/\nA\u{1F600}?"), ("json.n", "-1.5e+3")])
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1 2",
            "{\"a\":1,}",
            "[tru]",
            "\"\t\"",
            "  ",
            "{'a':1}",
            "[1]x",
            "-",
            "1.",
            "1e",
        ] {
            assert!(
                parse(bad.as_bytes(), L, &mut Vec::new()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = "[".repeat(100_000);
        let e = parse(body.as_bytes(), L, &mut Vec::new()).unwrap_err();
        assert!(e.contains("deeper than 512"), "{e}");
    }

    #[test]
    fn argument_and_size_caps_are_errors() {
        let many = format!("[{}1]", "1,".repeat(1000));
        assert!(
            parse(many.as_bytes(), L, &mut Vec::new())
                .unwrap_err()
                .contains("SecArgumentsLimit")
        );
        // A deep path repeated in every name below it.
        let key = "k".repeat(2000);
        let deep = format!(
            "{}[{}0]{}",
            format!("{{\"{key}\":").repeat(400),
            "0,".repeat(900),
            "}".repeat(400)
        );
        let e = parse(deep.as_bytes(), L, &mut Vec::new()).unwrap_err();
        assert!(e.contains("bytes"), "{e}");
    }
}
