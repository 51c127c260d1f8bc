//! `palisade-cni` runs in the host's mount namespace of every node, whatever its C library,
//! and the images are FROM scratch: the binaries `scripts/build-static.sh` builds (and the
//! images ship) must need no dynamic loader and no shared library. Checked twice: the ELF program and dynamic headers, and
//! `ldd`. Under CI=true a missing static build fails the test.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use palisade_tests::cri::static_bin;

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NEEDED: u64 = 1;

fn u16_at(b: &[u8], off: usize) -> usize {
    u16::from_le_bytes([b[off], b[off + 1]]) as usize
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// (has an interpreter, shared libraries it names) of a 64-bit little-endian ELF file.
fn elf_dynamic_needs(bytes: &[u8]) -> (bool, usize) {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(bytes[4], 2, "not a 64-bit ELF");
    assert_eq!(bytes[5], 1, "not little-endian");
    let phoff = u64_at(bytes, 0x20) as usize;
    let phentsize = u16_at(bytes, 0x36);
    let phnum = u16_at(bytes, 0x38);
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(bytes, ph) {
            PT_INTERP => interp = true,
            // A static-pie has a dynamic section for its own relocations, but names no library.
            PT_DYNAMIC => {
                let off = u64_at(bytes, ph + 8) as usize;
                let size = u64_at(bytes, ph + 32) as usize;
                needed += bytes[off..off + size]
                    .chunks_exact(16)
                    .filter(|e| u64_at(e, 0) == DT_NEEDED)
                    .count();
            }
            _ => {}
        }
    }
    (interp, needed)
}

/// Every binary the images ship: the images are FROM scratch (scripts/build-images.sh).
#[test]
fn every_image_binary_is_statically_linked() {
    for name in [
        "palisade-cni",
        "palisade-init",
        "palisade-validate",
        "palisade-engine",
        "palisade-injector",
    ] {
        let path = static_bin(name);
        let bytes = std::fs::read(&path).unwrap();
        let (interp, needed) = elf_dynamic_needs(&bytes);
        assert!(!interp, "{name}: has a PT_INTERP (dynamic loader)");
        assert_eq!(needed, 0, "{name}: names {needed} shared libraries");
        let ldd = Command::new("ldd").arg(&path).output().expect("run ldd");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&ldd.stdout),
            String::from_utf8_lossy(&ldd.stderr)
        );
        assert!(
            said.contains("not a dynamic executable") || said.contains("statically linked"),
            "{name}: ldd says {said}"
        );
    }
}

#[test]
fn static_cni_plugin_answers_version() {
    let out = Command::new(static_bin("palisade-cni"))
        .env_clear()
        .env("CNI_COMMAND", "VERSION")
        .output()
        .expect("run the static palisade-cni");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["cniVersion"], "1.1.0");
}
