//! Per-partition bookkeeping: records waiting to start, records in flight,
//! and the watermark (the offset to commit), which only advances over a
//! contiguous prefix of finished records.
//!
//! Records with the same key run one at a time, in offset order; records with
//! different keys (or none) run concurrently up to the in-flight bound.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::Record;

/// One assigned partition, from its first received record until it is revoked.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Distinguishes this assignment from earlier ones of the same partition,
    /// so late completions from a revoked assignment are ignored.
    pub(crate) generation: u64,
    /// Received and not finished (queued or in flight). A record that was
    /// given up on without being finished stays here, which keeps the
    /// watermark below it.
    outstanding: BTreeSet<i64>,
    /// Highest finished offset.
    max_done: Option<i64>,
    /// Last offset handed to the client's offset store.
    stored: Option<i64>,
    /// Received, not started.
    queue: VecDeque<Record>,
    /// Started and not ended: offset → key.
    running: HashMap<i64, Option<Vec<u8>>>,
    /// Keys of running records.
    busy_keys: HashSet<Vec<u8>>,
}

impl PartitionState {
    pub(crate) fn new(generation: u64) -> Self {
        Self {
            generation,
            outstanding: BTreeSet::new(),
            max_done: None,
            stored: None,
            queue: VecDeque::new(),
            running: HashMap::new(),
            busy_keys: HashSet::new(),
        }
    }

    /// Takes a newly received record.
    pub(crate) fn receive(&mut self, record: Record) {
        self.outstanding.insert(record.offset);
        self.queue.push_back(record);
    }

    /// The next record to start, if fewer than `max_in_flight` are running:
    /// the oldest queued one whose key is not running, or simply the oldest
    /// when records need not be `ordered` by key.
    pub(crate) fn next_ready(&mut self, max_in_flight: usize, ordered: bool) -> Option<Record> {
        if self.running.len() >= max_in_flight.max(1) {
            return None;
        }
        if !ordered {
            let record = self.queue.pop_front()?;
            self.running.insert(record.offset, None);
            return Some(record);
        }
        let position = self
            .queue
            .iter()
            .position(|r| r.key.as_ref().is_none_or(|k| !self.busy_keys.contains(k)))?;
        let record = self.queue.remove(position)?;
        if let Some(key) = &record.key {
            self.busy_keys.insert(key.clone());
        }
        self.running.insert(record.offset, record.key.clone());
        Some(record)
    }

    /// A started record finished (handled, or dead-lettered).
    pub(crate) fn finish(&mut self, offset: i64) {
        self.end(offset);
        self.outstanding.remove(&offset);
        self.max_done = Some(self.max_done.map_or(offset, |d| d.max(offset)));
    }

    /// A started record stopped without finishing (shutdown, fatal error):
    /// it stays outstanding, so the watermark never passes it.
    pub(crate) fn abandon(&mut self, offset: i64) {
        self.end(offset);
    }

    fn end(&mut self, offset: i64) {
        if let Some(Some(key)) = self.running.remove(&offset) {
            self.busy_keys.remove(&key);
        }
    }

    /// Drops records not yet started (their offsets stay outstanding).
    pub(crate) fn clear_queue(&mut self) {
        self.queue.clear();
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.running.len()
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The offset to resume from: everything received below it is finished.
    fn watermark(&self) -> Option<i64> {
        let done = self.max_done?;
        Some(
            self.outstanding
                .first()
                .copied()
                .unwrap_or(done.saturating_add(1)),
        )
    }

    /// The watermark, if it moved since the last call.
    pub(crate) fn take_new_watermark(&mut self) -> Option<i64> {
        let w = self.watermark()?;
        if self.stored.is_some_and(|s| s >= w) {
            return None;
        }
        self.stored = Some(w);
        Some(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: i64) -> Record {
        keyed(offset, None)
    }

    fn keyed(offset: i64, key: Option<&str>) -> Record {
        Record {
            topic: "t".into(),
            partition: 0,
            offset,
            key: key.map(|k| k.as_bytes().to_vec()),
            payload: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    fn started(p: &mut PartitionState, max: usize) -> Vec<i64> {
        std::iter::from_fn(|| p.next_ready(max, true).map(|r| r.offset)).collect()
    }

    #[test]
    fn watermark_advances_only_over_a_contiguous_prefix() {
        let mut p = PartitionState::new(1);
        for o in 10..15 {
            p.receive(rec(o));
        }
        assert_eq!(started(&mut p, 3), vec![10, 11, 12]);
        assert_eq!(p.take_new_watermark(), None, "nothing finished yet");
        p.finish(12);
        assert_eq!(p.take_new_watermark(), Some(10), "10 and 11 still running");
        p.finish(10);
        assert_eq!(p.take_new_watermark(), Some(11));
        assert_eq!(started(&mut p, 3), vec![13, 14]);
        p.finish(14);
        assert_eq!(p.take_new_watermark(), None, "11 still running");
        p.finish(11);
        assert_eq!(p.take_new_watermark(), Some(13));
        p.finish(13);
        assert_eq!(p.take_new_watermark(), Some(15));
        assert_eq!(p.take_new_watermark(), None, "unchanged");
    }

    #[test]
    fn gaps_in_offsets_do_not_block() {
        let mut p = PartitionState::new(1);
        for o in [3, 7, 20] {
            p.receive(rec(o));
        }
        assert_eq!(started(&mut p, 10), vec![3, 7, 20]);
        p.finish(7);
        p.finish(3);
        assert_eq!(p.take_new_watermark(), Some(20));
        p.finish(20);
        assert_eq!(p.take_new_watermark(), Some(21));
    }

    #[test]
    fn abandoned_and_queued_records_hold_the_watermark() {
        let mut p = PartitionState::new(1);
        for o in 0..4 {
            p.receive(rec(o));
        }
        assert_eq!(started(&mut p, 2), vec![0, 1]);
        p.finish(0);
        p.abandon(1);
        p.clear_queue();
        assert_eq!(p.take_new_watermark(), Some(1));
        assert_eq!(p.in_flight(), 0);
        assert_eq!(p.queued(), 0);
        assert_eq!(p.outstanding(), 3);
    }

    #[test]
    fn in_flight_is_bounded() {
        let mut p = PartitionState::new(1);
        for o in 0..10 {
            p.receive(rec(o));
        }
        assert_eq!(started(&mut p, 4).len(), 4);
        assert_eq!(p.next_ready(4, true).map(|r| r.offset), None);
        p.finish(2);
        assert_eq!(p.next_ready(4, true).map(|r| r.offset), Some(4));
        assert_eq!(p.queued(), 5);
    }

    #[test]
    fn unordered_handlers_run_one_key_concurrently() {
        let mut p = PartitionState::new(1);
        for o in 0..6 {
            p.receive(keyed(o, Some("campaign")));
        }
        let unordered: Vec<i64> =
            std::iter::from_fn(|| p.next_ready(4, false).map(|r| r.offset)).collect();
        assert_eq!(unordered, vec![0, 1, 2, 3], "bounded, in offset order");
        p.finish(1);
        assert_eq!(p.next_ready(4, false).map(|r| r.offset), Some(4));
        p.finish(0);
        assert_eq!(p.take_new_watermark(), Some(2));
    }

    #[test]
    fn records_with_one_key_run_one_at_a_time_in_order() {
        let mut p = PartitionState::new(1);
        for (o, k) in [
            (0, Some("a")),
            (1, Some("a")),
            (2, Some("b")),
            (3, None),
            (4, Some("a")),
            (5, None),
        ] {
            p.receive(keyed(o, k));
        }
        assert_eq!(
            started(&mut p, 10),
            vec![0, 2, 3, 5],
            "1 and 4 wait for key a"
        );
        p.finish(2);
        assert_eq!(started(&mut p, 10), Vec::<i64>::new());
        p.finish(0);
        assert_eq!(started(&mut p, 10), vec![1]);
        p.abandon(1);
        assert_eq!(
            started(&mut p, 10),
            vec![4],
            "an abandoned record releases its key"
        );
        assert_eq!(p.in_flight(), 3);
    }
}
