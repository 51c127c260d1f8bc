//! Transformation functions (`t:`), byte-exact with ModSecurity's.
mod bestfit;
mod decode;
mod text;

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("unknown transformation {0:?}")]
    Unknown(String),
}

macro_rules! transforms {
    ($($v:ident => $n:literal, $f:path;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Transform { $($v,)* }
        impl Transform {
            pub fn from_name(name: &str) -> Option<Transform> {
                let lower = name.to_ascii_lowercase();
                match lower.as_str() { $(n if n == $n.to_ascii_lowercase() => Some(Transform::$v),)* _ => None }
            }
            /// Writes the transformed `input` into `out` (cleared first).
            pub fn apply(self, input: &[u8], out: &mut Vec<u8>) {
                out.clear();
                match self { $(Transform::$v => $f(input, out),)* }
            }
        }
    };
}

transforms! {
    Base64Decode => "base64Decode", decode::base64_decode;
    Base64DecodeExt => "base64DecodeExt", decode::base64_decode_ext;
    Base64Encode => "base64Encode", text::base64_encode;
    CmdLine => "cmdLine", text::cmd_line;
    CompressWhitespace => "compressWhitespace", text::compress_whitespace;
    CssDecode => "cssDecode", decode::css_decode;
    EscapeSeqDecode => "escapeSeqDecode", decode::escape_seq_decode;
    HexDecode => "hexDecode", decode::hex_decode;
    HexEncode => "hexEncode", text::hex_encode;
    HtmlEntityDecode => "htmlEntityDecode", decode::html_entity_decode;
    JsDecode => "jsDecode", decode::js_decode;
    Length => "length", text::length;
    Lowercase => "lowercase", text::lowercase;
    Md5 => "md5", text::md5;
    NormalisePath => "normalisePath", text::normalize_path;
    NormalizePath => "normalizePath", text::normalize_path;
    NormalisePathWin => "normalisePathWin", text::normalize_path_win;
    NormalizePathWin => "normalizePathWin", text::normalize_path_win;
    ParityEven7bit => "parityEven7bit", text::parity_even;
    ParityOdd7bit => "parityOdd7bit", text::parity_odd;
    ParityZero7bit => "parityZero7bit", text::parity_zero;
    RemoveComments => "removeComments", text::remove_comments;
    RemoveCommentsChar => "removeCommentsChar", text::remove_comments_char;
    RemoveNulls => "removeNulls", text::remove_nulls;
    RemoveWhitespace => "removeWhitespace", text::remove_whitespace;
    ReplaceComments => "replaceComments", text::replace_comments;
    ReplaceNulls => "replaceNulls", text::replace_nulls;
    Sha1 => "sha1", text::sha1;
    SqlHexDecode => "sqlHexDecode", decode::sql_hex_decode;
    Trim => "trim", text::trim;
    TrimLeft => "trimLeft", text::trim_left;
    TrimRight => "trimRight", text::trim_right;
    Uppercase => "uppercase", text::uppercase;
    UrlDecode => "urlDecode", decode::url_decode;
    UrlDecodeUni => "urlDecodeUni", decode::url_decode_uni;
    UrlEncode => "urlEncode", text::url_encode;
    Utf8ToUnicode => "utf8toUnicode", text::utf8_to_unicode;
}

impl Transform {
    /// A cheap scan that proves the transformation would return its input unchanged,
    /// so the common case (benign values) costs no copy. `false` means "maybe changes".
    pub fn is_noop(self, s: &[u8]) -> bool {
        let has = |c: u8| memchr::memchr(c, s).is_some();
        match self {
            Transform::UrlDecode | Transform::UrlDecodeUni => {
                memchr::memchr2(b'%', b'+', s).is_none()
            }
            Transform::HtmlEntityDecode => !has(b'&'),
            Transform::JsDecode | Transform::CssDecode | Transform::EscapeSeqDecode => !has(b'\\'),
            Transform::Lowercase => !s.iter().any(u8::is_ascii_uppercase),
            Transform::Uppercase => !s.iter().any(u8::is_ascii_lowercase),
            Transform::RemoveNulls | Transform::ReplaceNulls => !has(0),
            // ModSecurity's utf8toUnicode drops NUL bytes, so ASCII with a NUL changes.
            Transform::Utf8ToUnicode => s.is_ascii() && !has(0),
            Transform::RemoveWhitespace => !s.iter().any(|&c| is_space(c) || c == 0xa0),
            Transform::CompressWhitespace => {
                !s.iter().any(|&c| (is_space(c) && c != b' ') || c == 0xa0)
                    && memchr::memmem::find(s, b"  ").is_none()
            }
            Transform::ReplaceComments => !has(b'/'),
            Transform::RemoveCommentsChar | Transform::RemoveComments => {
                memchr::memchr3(b'/', b'*', b'<', s).is_none()
                    && memchr::memchr2(b'-', b'#', s).is_none()
            }
            Transform::Trim | Transform::TrimLeft | Transform::TrimRight => {
                !s.first().is_some_and(|c| is_space(*c)) && !s.last().is_some_and(|c| is_space(*c))
            }
            _ => false,
        }
    }
}

/// Applies one transformation by its SecLang name; used by the conformance tests.
pub fn apply_transform_by_name(name: &str, input: &[u8]) -> Result<Vec<u8>, TransformError> {
    let t = Transform::from_name(name).ok_or_else(|| TransformError::Unknown(name.to_string()))?;
    let mut out = Vec::new();
    t.apply(input, &mut out);
    Ok(out)
}

/// ModSecurity's `isspace` plus nothing else: space, \t, \n, \v, \f, \r.
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

pub(crate) fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// ModSecurity's `x2c`: garbage in, the same garbage out as the C code.
pub(crate) fn x2c(hi: u8, lo: u8) -> u8 {
    let d = |c: u8| {
        if c >= b'A' {
            (c & 0xdf).wrapping_sub(b'A').wrapping_add(10)
        } else {
            c.wrapping_sub(b'0')
        }
    };
    d(hi).wrapping_mul(16).wrapping_add(d(lo))
}

pub(crate) fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

pub(crate) use decode::url_decode;
