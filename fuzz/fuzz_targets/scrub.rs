//! Echoed signatures: `scrub::scrub` on any text, with a signature sent as
//! `X-LeadNest-Signature` (64 hex digits, maybe after `sha256=`) or as
//! `webhook-signature` (`v1,` and 44 base64 characters). What it gives holds no
//! echo of the signature in any ASCII case, `\/`-escaped or not, and does not end
//! with one's first 16 characters or more; scrubbing again changes nothing.
//! Input: `signature\ntext`. A signature line starting `v1,` makes a base64
//! one, else a hex one (keeping a `sha256=` label); its characters are kept where
//! they are of the alphabet, others map into it, and it repeats to the length.
#![no_main]

use leadnest_edge::scrub::{scrub, signatures, SHORTEST};
use leadnest_edge_fuzz::{next_line, text};
use libfuzzer_sys::fuzz_target;

const HEX: &[u8] = b"0123456789abcdef";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters of `alphabet` made from `seed` (each character kept if in
/// the alphabet in any case, else mapped into it), repeated to the length.
fn made_of(seed: &[u8], alphabet: &[u8], len: usize) -> String {
    let seed = if seed.is_empty() { b"0" } else { seed };
    seed.iter()
        .cycle()
        .take(len)
        .map(|&b| {
            if alphabet.contains(&b.to_ascii_lowercase()) || alphabet.contains(&b) {
                char::from(b)
            } else {
                char::from(alphabet[usize::from(b) % alphabet.len()])
            }
        })
        .collect()
}

/// Whether `haystack` holds `needle`, ASCII case ignored.
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

fuzz_target!(|data: &[u8]| {
    let (line, rest) = next_line(data).unwrap_or((data, &[]));
    let (header, core) = if let Some(seed) = line.strip_prefix(b"v1,") {
        let core = format!("{}=", made_of(seed, BASE64, 43));
        (format!("v1,{core}"), core)
    } else {
        let label = line
            .get(..7)
            .filter(|label| label.eq_ignore_ascii_case(b"sha256="));
        let seed = line.get(label.map_or(0, <[u8]>::len)..).unwrap_or_default();
        let core = made_of(seed, HEX, 64);
        (format!("{}{core}", text(label.unwrap_or_default())), core)
    };
    let sent: Vec<String> = signatures(&header).map(str::to_string).collect();
    assert_eq!(sent.len(), 1, "{header}");

    let text = text(rest);
    let scrubbed = scrub(&text, &sent);
    let out = scrubbed.as_bytes();
    let escaped = core.replace('/', "\\/");
    for form in [core.as_bytes(), sent[0].as_bytes(), escaped.as_bytes()] {
        assert!(!holds(out, form), "{scrubbed:?} holds {form:?}");
        for len in SHORTEST..=form.len() {
            let cut = &form[..len];
            let tail = out.len().checked_sub(len).map(|at| &out[at..]);
            assert!(
                !tail.is_some_and(|tail| tail.eq_ignore_ascii_case(cut)),
                "{scrubbed:?} ends with {cut:?}"
            );
        }
    }
    assert_eq!(scrub(&scrubbed, &sent), scrubbed);
});
