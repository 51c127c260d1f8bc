//! String, numeric and validation operators.
use super::{Captures, OpKind};
use crate::macros::Resolver;

pub fn eval_kind(
    kind: &OpKind,
    input: &[u8],
    r: &dyn Resolver,
    caps: Option<&mut Captures>,
) -> bool {
    let mut caps = caps;
    let hit = |caps: &mut Option<&mut Captures>, v: &[u8]| {
        if let Some(c) = caps.as_deref_mut() {
            c.clear();
            c.push(v.to_vec());
        }
    };
    match kind {
        OpKind::Rx(rx) => rx.eval(input, r, caps),
        OpKind::Pm(pm) => pm.eval(input, caps),
        OpKind::Streq(p) => input == p.get(r).as_ref(),
        OpKind::Eq(p) => atoi(input) == atoi(&p.get(r)),
        OpKind::Ge(p) => atoi(input) >= atoi(&p.get(r)),
        OpKind::Gt(p) => atoi(input) > atoi(&p.get(r)),
        OpKind::Lt(p) => atoi(input) < atoi(&p.get(r)),
        OpKind::Le(p) => atoi(input) <= atoi(&p.get(r)),
        OpKind::Within(p) => {
            let hay = p.get(r);
            let m = find(&hay, input).is_some();
            if m {
                hit(&mut caps, input);
            }
            m
        }
        OpKind::Contains(p) => {
            let needle = p.get(r);
            let m = find(input, &needle).is_some();
            if m {
                hit(&mut caps, &needle);
            }
            m
        }
        OpKind::ContainsWord(p) => {
            let needle = p.get(r);
            let m = contains_word(input, &needle);
            if m {
                hit(&mut caps, &needle);
            }
            m
        }
        OpKind::BeginsWith(p) => {
            let needle = p.get(r);
            let m = input.starts_with(&needle);
            if m {
                hit(&mut caps, &needle);
            }
            m
        }
        OpKind::EndsWith(p) => {
            let needle = p.get(r);
            let m = input.ends_with(&needle);
            if m {
                hit(&mut caps, &needle);
            }
            m
        }
        OpKind::StrMatch(needle) => find(input, needle).is_some(),
        OpKind::DetectSqli => {
            let res = libinjectionrs::detect_sqli(input);
            if res.is_injection() {
                if let (Some(c), Some(fp)) = (caps, res.fingerprint) {
                    c.clear();
                    c.push(fp.to_string().into_bytes());
                }
                true
            } else {
                false
            }
        }
        OpKind::DetectXss => libinjectionrs::detect_xss(input).is_injection(),
        OpKind::ValidateByteRange(allowed) => input.iter().any(|&c| !allowed[usize::from(c)]),
        OpKind::ValidateUrlEncoding => invalid_url_encoding(input),
        OpKind::ValidateUtf8Encoding => std::str::from_utf8(input).is_err(),
        OpKind::IpMatch(set) => set.contains(input),
        OpKind::Verify(v) => match v.eval(input) {
            Some(m) => {
                hit(&mut caps, &m);
                true
            }
            None => false,
        },
        OpKind::Unconditional => true,
        OpKind::NoMatch | OpKind::External => false,
    }
}

/// C `atoi`: leading whitespace, optional sign, digits; anything else is 0.
pub fn atoi(s: &[u8]) -> i64 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg { -v } else { v }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn contains_word(input: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let mut start = 0;
    while let Some(pos) = find(&input[start..], needle) {
        let at = start + pos;
        let end = at + needle.len();
        let left_ok = at == 0 || !is_word(input[at - 1]);
        let right_ok = end == input.len() || !is_word(input[end]);
        if left_ok && right_ok {
            return true;
        }
        start = at + 1;
    }
    false
}

fn invalid_url_encoding(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            if i + 2 >= input.len()
                || !input[i + 1].is_ascii_hexdigit()
                || !input[i + 2].is_ascii_hexdigit()
            {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

pub fn byte_ranges(param: &str) -> Result<Box<[bool; 256]>, String> {
    let mut allowed = Box::new([false; 256]);
    for part in param.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u8 = lo
            .parse()
            .map_err(|_| format!("{part:?} is not a byte or byte range (0-255)"))?;
        let hi: u8 = hi
            .parse()
            .map_err(|_| format!("{part:?} is not a byte or byte range (0-255)"))?;
        if lo > hi {
            return Err(format!("range {part:?} is reversed"));
        }
        for b in lo..=hi {
            allowed[usize::from(b)] = true;
        }
    }
    Ok(allowed)
}
