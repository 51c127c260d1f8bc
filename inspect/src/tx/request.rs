//! Fills the variable store from the request and response the host hands over.
use super::store::Store;
use super::{ConnInfo, RequestHead, Transaction};
use crate::rule::BodyProcessor;
use crate::vars::Var;

pub fn set_conn(s: &mut Store, c: &ConnInfo) {
    s.set(Var::RemoteAddr, c.client_ip.as_bytes());
    s.set(Var::RemotePort, c.client_port.to_string());
    s.set(Var::ServerAddr, c.server_ip.as_bytes());
    s.set(Var::ServerPort, c.server_port.to_string());
    s.set(Var::UniqueId, c.unique_id.as_bytes());
    set_time(s);
}

fn set_time(s: &mut Store) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    s.set(Var::TimeEpoch, secs.to_string());
    s.set(Var::TimeYear, y.to_string());
    s.set(Var::TimeMon, format!("{m:02}"));
    s.set(Var::TimeDay, format!("{d:02}"));
    s.set(Var::TimeHour, format!("{hh:02}"));
    s.set(Var::TimeMin, format!("{mm:02}"));
    s.set(Var::TimeSec, format!("{ss:02}"));
    s.set(Var::TimeWday, ((days + 4).rem_euclid(7)).to_string());
    s.set(Var::Time, format!("{hh:02}:{mm:02}:{ss:02}"));
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Splits `a=1&b=2` with the configured separator and URL-decodes names and values.
pub fn parse_args(data: &[u8], sep: u8, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    for piece in data.split(|&c| c == sep).filter(|p| !p.is_empty()) {
        let (k, v) = match piece.iter().position(|&c| c == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let mut dk = Vec::new();
        let mut dv = Vec::new();
        crate::transform::url_decode(k, &mut dk);
        crate::transform::url_decode(v, &mut dv);
        out.push((dk, dv));
    }
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && i + 2 < input.len()
            && input[i + 1].is_ascii_hexdigit()
            && input[i + 2].is_ascii_hexdigit()
        {
            out.push(crate::transform::x2c_pub(input[i + 1], input[i + 2]));
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

/// The origin form of a request target, as an app behind a proxy resolves it: an
/// absolute-form target (`scheme://authority` followed by a path, a query or nothing)
/// loses its scheme and authority, and a target without a path gets `/`, keeping the
/// query (`http://x?q=1` is `/?q=1`, not `/`). Other targets are returned unchanged.
pub fn origin_form(target: &str) -> std::borrow::Cow<'_, str> {
    let Some(colon) = target.find("://") else {
        return target.into();
    };
    let scheme = &target[..colon];
    let is_scheme = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !is_scheme {
        return target.into();
    }
    let rest = &target[colon + 3..];
    let tail = &rest[rest.find(['/', '?', '#']).unwrap_or(rest.len())..];
    if tail.starts_with('/') {
        tail.into()
    } else {
        format!("/{tail}").into()
    }
}

pub fn set_request(tx: &mut Transaction, head: &RequestHead) {
    let s = &mut tx.store;
    let sep = tx.rs.config.arg_separator;
    s.set(Var::RequestMethod, head.method.as_bytes());
    s.set(Var::RequestProtocol, head.protocol.as_bytes());
    s.set(
        Var::RequestLine,
        format!("{} {} {}", head.method, head.uri, head.protocol),
    );
    s.set(Var::RequestUriRaw, head.uri.as_bytes());
    let origin = origin_form(&head.uri);
    let uri = origin.as_ref();
    // ModSecurity v3 hands rules the percent-decoded target as REQUEST_URI (CRS's
    // REQUEST_URI rules count on it, e.g. `/x%5Cu0027` reading `/x\u0027`);
    // REQUEST_URI_RAW stays as received.
    s.set(Var::RequestUri, percent_decode(uri.as_bytes()));
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    let filename = percent_decode(path.as_bytes());
    let base = filename
        .rsplit(|&c| c == b'/')
        .next()
        .unwrap_or(&[])
        .to_vec();
    s.set(Var::RequestFilename, filename);
    s.set(Var::RequestBasename, base);
    s.set(Var::QueryString, query.unwrap_or("").as_bytes());
    if let Some(q) = query {
        parse_args(q.as_bytes(), sep, &mut s.args_get);
        // SecArgumentsLimit: rules never see the arguments past it, and phase 2
        // reports the body error (see reqbody.rs).
        let limit = tx.rs.config.arguments_limit;
        if s.args_get.len() > limit {
            tx.args_over_limit = s.args_get.len();
            s.args_get.truncate(limit);
        }
    }
    for (name, value) in &head.headers {
        s.headers.push((name.as_bytes().to_vec(), value.clone()));
        if name.eq_ignore_ascii_case("cookie") {
            parse_cookies(value, &mut s.cookies);
        } else if name.eq_ignore_ascii_case("host") {
            let host = value.split(|&c| c == b':').next().unwrap_or(value);
            s.set(Var::ServerName, host);
        } else if name.eq_ignore_ascii_case("content-type") {
            tx.content_type.clone_from(value);
        }
    }
    let ct = tx.content_type.to_ascii_lowercase();
    let proc = if ct.starts_with(b"multipart/form-data") {
        Some(BodyProcessor::Multipart)
    } else if ct.starts_with(b"application/x-www-form-urlencoded") {
        Some(BodyProcessor::UrlEncoded)
    } else {
        None
    };
    if let Some(p) = proc {
        tx.body_processor = Some(p);
        s.set(Var::ReqbodyProcessor, p.name());
    }
    update_combined_size(s);
}

fn parse_cookies(value: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    for c in value.split(|&c| c == b';') {
        let c = c.trim_ascii_start();
        if c.is_empty() {
            continue;
        }
        match c.iter().position(|&x| x == b'=') {
            Some(i) => out.push((c[..i].to_vec(), c[i + 1..].to_vec())),
            None => out.push((c.to_vec(), Vec::new())),
        }
    }
}

pub(super) fn update_combined_size(s: &mut Store) {
    let n: usize = s
        .args_get
        .iter()
        .chain(&s.args_post)
        .map(|(k, v)| k.len() + v.len())
        .sum();
    s.set(Var::ArgsCombinedSize, n.to_string());
}

pub fn set_response_head(
    s: &mut Store,
    status: u16,
    protocol: &str,
    headers: &[(String, Vec<u8>)],
) {
    s.set(Var::ResponseStatus, status.to_string());
    s.set(Var::ResponseProtocol, protocol.as_bytes());
    s.set(Var::StatusLine, format!("{protocol} {status}"));
    for (name, value) in headers {
        s.response_headers
            .push((name.as_bytes().to_vec(), value.clone()));
        if name.eq_ignore_ascii_case("content-type") {
            s.set(Var::ResponseContentType, value.as_slice());
        } else if name.eq_ignore_ascii_case("content-length") {
            s.set(Var::ResponseContentLength, value.as_slice());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::origin_form;

    #[test]
    fn absolute_form_targets_keep_path_and_query() {
        for (target, want) in [
            ("/a?b=1", "/a?b=1"),
            ("http://x?q=1", "/?q=1"),
            ("http://x", "/"),
            ("http://x/", "/"),
            ("http://x:8080/p?q=1", "/p?q=1"),
            ("https://x:443?q=1", "/?q=1"),
            ("HTTP://x/p", "/p"),
            ("http://x#f", "/#f"),
            ("http://user@x/p", "/p"),
            ("*", "*"),
            ("/redirect?to=http://evil/", "/redirect?to=http://evil/"),
        ] {
            assert_eq!(origin_form(target), want, "{target}");
        }
    }
}
