//! Write order between overlapping batches. A batch takes a ticket when its source hands it
//! over and writes only when every earlier ticket has written, so that the module of one
//! batch runs while the previous one is merged and written, yet every viewer's events are
//! still applied in the order they came. That order is what the per-partition watermarks
//! rely on: a later batch written before an earlier one would make the earlier one look like
//! a redelivery when it comes again.

use super::PipelineError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// The ticket whose turn it is to write.
    next: u64,
    /// A batch failed to write: the tickets below this one that were in flight then may not
    /// write (their source delivers them again). Tickets taken afterwards write as usual.
    refused_below: u64,
}

impl State {
    fn refused(&self, ticket: u64) -> bool {
        ticket < self.refused_below
    }

    /// After a failed write: every ticket issued so far is refused; the next one writes next.
    fn fail(&mut self, issued: u64) {
        self.next = self.next.max(issued);
        self.refused_below = self.refused_below.max(issued);
    }
}

#[derive(Debug, Default)]
pub struct Turns {
    state: Arc<watch::Sender<State>>,
    issued: Arc<AtomicU64>,
}

impl Turns {
    /// Takes the next ticket; call it in the order the source delivered the batches.
    pub fn ticket(&self) -> Turn {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst);
        Turn { state: self.state.clone(), issued: self.issued.clone(), ticket, done: false, granted: Default::default() }
    }
}

/// A batch's place in the write order. Dropped without [`Turn::finish`] before its turn came
/// (cancelled in the module stage), it still passes the turn on once it comes, so later
/// batches never wait on it forever. Dropped after its turn came (a panic or cancellation
/// while writing), it may have written part of the batch: it counts as a failed write.
#[derive(Debug)]
pub struct Turn {
    state: Arc<watch::Sender<State>>,
    issued: Arc<AtomicU64>,
    ticket: u64,
    done: bool,
    granted: AtomicBool,
}

impl Turn {
    /// Waits until every earlier batch has written. Fails when one in flight with it failed.
    pub async fn wait(&self) -> Result<(), PipelineError> {
        let mut rx = self.state.subscribe();
        let ticket = self.ticket;
        let state = *rx.wait_for(|s| s.next == ticket || s.refused(ticket)).await.expect("the sender lives in self");
        if state.refused(ticket) {
            return Err(PipelineError::Refused);
        }
        self.granted.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Passes the turn on; `written: false` refuses the batches in flight behind this one.
    pub fn finish(mut self, written: bool) {
        self.done = true;
        self.pass(written);
    }

    fn pass(&self, written: bool) {
        let (ticket, issued) = (self.ticket, self.issued.load(Ordering::SeqCst));
        self.state.send_modify(|s| {
            if !written {
                s.fail(issued);
            } else if s.next == ticket {
                s.next += 1;
            }
        });
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.granted.load(Ordering::SeqCst) {
            self.pass(false);
            return;
        }
        let (state, ticket) = (self.state.clone(), self.ticket);
        let pass_on = async move {
            let mut rx = state.subscribe();
            let _ = rx.wait_for(|s| s.next == ticket || s.refused(ticket)).await;
            state.send_modify(|s| {
                if s.next == ticket {
                    s.next += 1;
                }
            });
        };
        // No runtime: the process is ending; nothing waits on the turn any more.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(pass_on);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn writes_happen_in_ticket_order() {
        let turns = Turns::default();
        let (a, b, c) = (turns.ticket(), turns.ticket(), turns.ticket());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let spawn = |t: Turn, name: &'static str| {
            let order = order.clone();
            tokio::spawn(async move {
                t.wait().await.unwrap();
                order.lock().unwrap().push(name);
                t.finish(true);
            })
        };
        let hc = spawn(c, "c");
        let hb = spawn(b, "b");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(order.lock().unwrap().is_empty(), "nobody writes before the first ticket");
        let ha = spawn(a, "a");
        for h in [ha, hb, hc] {
            h.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_failed_write_refuses_the_batches_in_flight_but_not_later_ones() {
        let turns = Turns::default();
        let (a, b) = (turns.ticket(), turns.ticket());
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), b.wait()).await.expect("a dropped turn passes on").unwrap();
        let (c, d) = (turns.ticket(), turns.ticket());
        b.finish(false);
        assert!(matches!(c.wait().await, Err(PipelineError::Refused)));
        assert!(matches!(d.wait().await, Err(PipelineError::Refused)));
        drop((c, d));
        let e = turns.ticket();
        tokio::time::timeout(Duration::from_secs(5), e.wait()).await.expect("a batch after the failure writes").unwrap();
        e.finish(true);
    }

    #[tokio::test]
    async fn a_turn_dropped_while_writing_refuses_the_next() {
        let turns = Turns::default();
        let (a, b) = (turns.ticket(), turns.ticket());
        a.wait().await.unwrap();
        drop(a);
        assert!(matches!(b.wait().await, Err(PipelineError::Refused)));
    }
}
