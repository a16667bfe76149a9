//! How far one profile may grow: every part of the state has a cap.

/// Bounds that keep one profile well under DynamoDB's 400 KB item limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Latest events kept per state field (e.g. `status`), to know since when it holds.
    pub state_window: usize,
    /// Dedupe keys per additive counter: the earliest by event time count, later ones do not.
    pub dedupe_keys: usize,
    /// Media sessions kept in detail; older ones are folded into the totals.
    pub live_sessions: usize,
    /// A media session whose last event is this much older than the viewer's newest event is
    /// folded into the totals.
    pub session_horizon_ms: i64,
    /// Folded sessions whose ids are remembered, so their late events are not counted again.
    pub retired_ids: usize,
    /// Attribute fields per profile and per media session; a delta for a new field past the
    /// cap is dropped.
    pub fields: usize,
    pub session_fields: usize,
    /// Largest attribute value (JSON text); a larger one is dropped.
    pub value_bytes: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            state_window: 32,
            dedupe_keys: 1024,
            live_sessions: 16,
            session_horizon_ms: 24 * 3600 * 1000,
            retired_ids: 256,
            fields: 128,
            session_fields: 64,
            value_bytes: 8 << 10,
        }
    }
}
