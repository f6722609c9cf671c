//! The aggregator's journal: every batch it accepts is put in its own Durable Object storage
//! before the sender is answered, and removed once its counts are in D1. Memory is a cache of
//! the journal, so an eviction, a deploy or a restart loses nothing: the next instance finds
//! the batches and writes them.
//!
//! Each batch has a sequence number, and every D1 write records the highest one it wrote (the
//! watermark, in the same D1 transaction as the counts). A batch found in the journal at or
//! below the watermark was written by an instance that stopped before removing it: it is
//! removed, never counted twice.

use wasm_bindgen::JsValue;
use worker::js_sys::{Array, Map};
use worker::{ListOptions, Result, Storage};

use crate::telemetry::ingest::{parse_batch, Batch};

const BATCH_PREFIX: &str = "batch:";
const LAST_ERROR_KEY: &str = "last_error";
/// Keys one storage delete takes at most.
const DELETE_CHUNK: usize = 128;

/// A journalled batch's sequence number: from the clock (microseconds), so numbers keep
/// growing across instances even when the journal was empty, and one more than the last
/// within an instance.
pub fn next_seq(now_ms: f64, last: Option<u64>) -> u64 {
    let from_clock = (now_ms.max(0.0) * 1000.0) as u64;
    last.map_or(from_clock, |last| from_clock.max(last + 1))
}

fn key(seq: u64) -> String {
    // Zero-padded so the storage's key order is the sequence order.
    format!("{BATCH_PREFIX}{seq:020}")
}

/// What an instance finds in the journal when it starts.
#[derive(Default)]
pub struct Recovered {
    pub batches: Vec<(u64, Batch)>,
    /// Entries that no longer parse (written by another version): removed, and counted.
    pub unreadable: Vec<u64>,
    pub last_error: Option<(f64, String)>,
}

/// Reads every journalled batch, oldest first, and the last write error.
pub async fn recover(storage: &Storage) -> Result<Recovered> {
    let mut recovered = Recovered::default();
    let entries: Map = storage
        .list_with_options(ListOptions::new().prefix(BATCH_PREFIX))
        .await?;
    entries.for_each(&mut |value, key| {
        let Some(seq) = key
            .as_string()
            .and_then(|k| k.strip_prefix(BATCH_PREFIX)?.parse::<u64>().ok())
        else {
            return;
        };
        match value.as_string().map(|body| parse_batch(body.as_bytes())) {
            Some(Ok(batch)) => recovered.batches.push((seq, batch)),
            _ => recovered.unreadable.push(seq),
        }
    });
    recovered.batches.sort_by_key(|(seq, _)| *seq);
    recovered.last_error = storage
        .get::<(f64, String)>(LAST_ERROR_KEY)
        .await
        .ok()
        .flatten();
    Ok(recovered)
}

/// Journals one accepted batch (its JSON text, as the sender sent it).
pub async fn append(storage: &Storage, seq: u64, body: &str) -> Result<()> {
    storage.put_raw(&key(seq), JsValue::from_str(body)).await
}

/// Removes written batches.
pub async fn remove(storage: &Storage, seqs: &[u64]) -> Result<()> {
    for chunk in seqs.chunks(DELETE_CHUNK) {
        let keys: Vec<String> = chunk.iter().map(|&seq| key(seq)).collect();
        storage.delete_multiple(keys).await?;
    }
    Ok(())
}

/// Keeps the last write error (or clears it), so `/health/detailed` still shows it after a
/// restart.
pub async fn set_last_error(storage: &Storage, error: Option<&(f64, String)>) -> Result<()> {
    match error {
        Some(error) => {
            let value = Array::of2(&error.0.into(), &error.1.as_str().into());
            storage.put_raw(LAST_ERROR_KEY, value).await
        }
        None => storage.delete(LAST_ERROR_KEY).await.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_grow_across_instances_and_within_one() {
        let first = next_seq(1_000.0, None);
        assert_eq!(first, 1_000_000);
        assert_eq!(next_seq(1_000.0, Some(first)), first + 1);
        // A later instance with an empty journal still numbers above the last write.
        assert!(next_seq(1_001.0, None) > first + 1);
    }

    #[test]
    fn keys_sort_in_sequence_order() {
        assert!(key(9) < key(10));
        assert!(key(999_999) < key(1_000_000));
    }
}
