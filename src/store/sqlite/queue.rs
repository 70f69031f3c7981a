//! The writer's queue: two lanes, and which jobs make the next batch.
//!
//! Prompt jobs (the outbox's claims and records, acknowledgements, timers)
//! go before bulk ones (ingest): a batch holds prompt jobs alone while any
//! wait, so a page or an acknowledgement waits for the batch being written
//! and its own, never behind the queue an alert storm builds. Within a lane
//! jobs keep their order.

use std::collections::VecDeque;

/// Which lane of the writer's queue a write job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Paging, acknowledgements and every other action: first.
    Prompt,
    /// Ingest: after every prompt job waiting.
    Bulk,
}

/// Most jobs folded into one transaction.
pub(super) const MAX_BATCH: usize = 256;

/// Jobs waiting for the writer, by lane.
pub(super) struct Queue<J> {
    prompt: VecDeque<J>,
    bulk: VecDeque<J>,
}

impl<J> Default for Queue<J> {
    fn default() -> Self {
        Queue {
            prompt: VecDeque::new(),
            bulk: VecDeque::new(),
        }
    }
}

impl<J> Queue<J> {
    pub(super) fn push(&mut self, lane: Lane, job: J) {
        match lane {
            Lane::Prompt => self.prompt.push_back(job),
            Lane::Bulk => self.bulk.push_back(job),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.prompt.is_empty() && self.bulk.is_empty()
    }

    /// The next batch: up to `MAX_BATCH` prompt jobs if any wait, else up
    /// to `MAX_BATCH` bulk jobs; oldest first.
    pub(super) fn next_batch(&mut self) -> Vec<J> {
        let lane = if self.prompt.is_empty() {
            &mut self.bulk
        } else {
            &mut self.prompt
        };
        let n = lane.len().min(MAX_BATCH);
        lane.drain(..n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `(lane, job)` in order, then takes batches until none is left.
    fn check(pushed: &[(Lane, u32)], expected: &[&[u32]]) {
        let mut q = Queue::default();
        for &(lane, job) in pushed {
            q.push(lane, job);
        }
        let mut batches = Vec::new();
        while !q.is_empty() {
            batches.push(q.next_batch());
        }
        let expected: Vec<Vec<u32>> = expected.iter().map(|b| b.to_vec()).collect();
        assert_eq!(batches, expected, "pushed {pushed:?}");
    }

    #[test]
    fn prompt_jobs_go_first_and_each_lane_keeps_its_order() {
        use Lane::{Bulk, Prompt};
        check(&[], &[]);
        check(&[(Bulk, 1), (Bulk, 2)], &[&[1, 2]]);
        check(&[(Prompt, 1), (Prompt, 2)], &[&[1, 2]]);
        // A prompt job sent after bulk ones is written first, alone.
        check(&[(Bulk, 1), (Bulk, 2), (Prompt, 3)], &[&[3], &[1, 2]]);
        check(
            &[(Bulk, 1), (Prompt, 2), (Bulk, 3), (Prompt, 4)],
            &[&[2, 4], &[1, 3]],
        );
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_jobs() {
        let mut q = Queue::default();
        for i in 0..MAX_BATCH + 3 {
            q.push(Lane::Bulk, i);
        }
        q.push(Lane::Prompt, 9999);
        assert_eq!(q.next_batch(), vec![9999]);
        assert_eq!(q.next_batch().len(), MAX_BATCH);
        assert_eq!(
            q.next_batch(),
            vec![MAX_BATCH, MAX_BATCH + 1, MAX_BATCH + 2]
        );
        assert!(q.is_empty());
    }
}
