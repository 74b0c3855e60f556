//! Untrusted saved-memory bytes: decoding must return Ok or a coded error,
//! never panic, and whatever decodes must score and re-encode stably.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reloop_core::codec::{self, offset};
use reloop_core::ModelId;
use reloop_core::identity::MAX_ID_LEN;

fuzz_target!(|raw: &[u8]| {
    // Also decode a copy with a correct trailing CRC, so the fuzzer gets
    // past the checksum and exercises every field check behind it.
    let mut sealed = raw.to_vec();
    if sealed.len() >= codec::CRC_LEN {
        let n = sealed.len() - codec::CRC_LEN;
        let crc = crc32fast::hash(&sealed[..n]);
        sealed[n..].copy_from_slice(&crc.to_le_bytes());
    }
    check(raw);
    check(&sealed);
});

fn check(data: &[u8]) {
    let _ = codec::peek(data);
    // Try both the identity in the bytes (so the fuzzer can reach the
    // payload checks) and a fixed one.
    let id_len = data.get(offset::MODEL_ID_LEN).map_or(0, |&n| usize::from(n)).min(MAX_ID_LEN);
    let id = data.get(offset::MODEL_ID..offset::MODEL_ID + id_len).and_then(|b| ModelId::from_bytes(b).ok());
    for model_id in [id, Some(ModelId::digest(&[b"fuzz"]))].into_iter().flatten() {
        for centre in [None, Some(vec![0.0f32; 8])] {
            if let Ok(mut memory) = codec::decode(data, &model_id, centre.as_deref()) {
                let d = memory.sketch().config().dim as usize;
                let p = memory.score_one(0.5, &vec![0.25; d]).expect("decoded memory scores");
                assert!(p.score.is_finite() && (0.0..=1.0).contains(&p.score));
                let again = codec::encode(&memory);
                let back = codec::decode(&again, &model_id, centre.as_deref()).expect("re-encoded memory decodes");
                assert_eq!(codec::encode(&back), again);
            }
        }
    }
}
