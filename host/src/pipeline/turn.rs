//! Write order between overlapping batches. A batch takes a ticket when its source hands it
//! over and writes only when every earlier ticket has written, so that the module of one
//! batch runs while the previous one is merged and written, yet every viewer's events are
//! still applied in the order they came. That order is what the per-partition watermarks
//! rely on: a later batch written before an earlier one would make the earlier one look like
//! a redelivery when it comes again.

use super::PipelineError;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// The ticket whose turn it is to write.
    next: u64,
    /// A batch failed to write: no later batch may write (the source delivers them again).
    broken: bool,
}

#[derive(Debug)]
pub struct Turns {
    state: Arc<watch::Sender<State>>,
    issued: std::sync::atomic::AtomicU64,
}

impl Default for Turns {
    fn default() -> Self {
        Turns { state: Arc::new(watch::Sender::new(State::default())), issued: Default::default() }
    }
}

impl Turns {
    /// Takes the next ticket; call it in the order the source delivered the batches.
    pub fn ticket(&self) -> Turn {
        let ticket = self.issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Turn { state: self.state.clone(), ticket, done: false, granted: Default::default() }
    }
}

/// A batch's place in the write order. Dropped without [`Turn::finish`] before its turn came
/// (cancelled in the module stage), it still passes the turn on once it comes, so later
/// batches never wait on it forever. Dropped after its turn came (a panic or cancellation
/// while writing), it may have written part of the batch: later batches must not write.
#[derive(Debug)]
pub struct Turn {
    state: Arc<watch::Sender<State>>,
    ticket: u64,
    done: bool,
    granted: std::sync::atomic::AtomicBool,
}

impl Turn {
    /// Waits until every earlier batch has written. Fails when one of them failed.
    pub async fn wait(&self) -> Result<(), PipelineError> {
        let mut rx = self.state.subscribe();
        let state = *rx.wait_for(|s| s.next == self.ticket || s.broken).await.expect("the sender lives in self");
        if state.broken {
            return Err(PipelineError::ShuttingDown);
        }
        self.granted.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Passes the turn on; `written: false` stops every later batch from writing.
    pub fn finish(mut self, written: bool) {
        self.done = true;
        let ticket = self.ticket;
        self.state.send_modify(|s| {
            if s.next == ticket {
                s.next += 1;
            }
            s.broken |= !written;
        });
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.granted.load(std::sync::atomic::Ordering::SeqCst) {
            let ticket = self.ticket;
            self.state.send_modify(|s| {
                s.next = s.next.max(ticket + 1);
                s.broken = true;
            });
            return;
        }
        let (state, ticket) = (self.state.clone(), self.ticket);
        let pass_on = async move {
            let mut rx = state.subscribe();
            let _ = rx.wait_for(|s| s.next == ticket || s.broken).await;
            state.send_modify(|s| {
                if s.next == ticket {
                    s.next += 1;
                }
            });
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(pass_on);
            }
            // No runtime: the process is ending; nothing waits on the turn any more.
            Err(_) => {}
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
    async fn a_failed_write_stops_later_ones_and_a_dropped_turn_passes_on() {
        let turns = Turns::default();
        let (a, b) = (turns.ticket(), turns.ticket());
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), b.wait()).await.expect("a dropped turn passes on").unwrap();
        let c = turns.ticket();
        b.finish(false);
        assert!(matches!(c.wait().await, Err(PipelineError::ShuttingDown)));
    }

    #[tokio::test]
    async fn a_turn_dropped_while_writing_stops_later_ones() {
        let turns = Turns::default();
        let (a, b) = (turns.ticket(), turns.ticket());
        a.wait().await.unwrap();
        drop(a);
        assert!(matches!(b.wait().await, Err(PipelineError::ShuttingDown)));
    }
}
