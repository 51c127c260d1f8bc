//! The front's classifier and head check (`engine/src/proxy/front/`) on arbitrary first
//! bytes: protocol detection, the end of the head, pingora's parser run on a copy, the
//! target escaping and the framing policy. Properties checked besides "no panic":
//! a head httparse parses is never classified as raw TCP, and an escaped target is
//! never refused for the characters it escaped.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::proxy::front::{Proto, classify, head};

fuzz_target!(|data: &[u8]| {
    let proto = classify(data);
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if req.parse(data).is_ok_and(|s| s.is_complete()) {
        assert_ne!(proto, Proto::Other, "httparse takes it as a request");
    }
    let Some(n) = head::head_len(data) else {
        return;
    };
    let head_bytes = &data[..n];
    let _ = head::request_target(head_bytes);
    let escaped = head::escape_target(head_bytes).unwrap_or_else(|| head_bytes.to_vec());
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    if let Err(r) = rt.block_on(head::check(&escaped)) {
        assert!(!r.reason.is_empty() && (400..=431).contains(&r.status), "{r:?}");
    }
});
