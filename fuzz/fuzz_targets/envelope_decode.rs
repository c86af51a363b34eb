//! Fuzzes the sync-queue envelope (a BINARY cell anyone can write through the API): arbitrary
//! bytes must never panic, and whatever decodes must survive an encode/decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsd::timeline::envelope::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::decode(data) {
        let bytes = envelope.encode();
        let again = Envelope::decode(&bytes).expect("re-encoded envelope decodes");
        assert_eq!(again, envelope);
        // The current version re-encodes to the very same bytes (values have no slack).
        if data.first() == bytes.first() {
            assert_eq!(bytes, data);
        }
    }
});
