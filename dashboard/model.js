// The page's own picture of the viewers: profiles by id, the host's clock, and what counts
// as active. The host's `active` flag is only true at the moment it rendered the profile, so
// activity is recomputed here every second from `last_seen`.

import { GROUPS, num, parseTime, statusInfo } from './format.js';

/** The host's "now": its last `generated_at` plus the time elapsed here since it arrived. */
export class ServerClock {
  constructor() {
    this.base = null;
    this.localAtBase = 0;
  }

  sync(generatedAt) {
    const t = parseTime(generatedAt);
    if (Number.isNaN(t)) return;
    // performance.now() is monotonic, so a jump of the local wall clock cannot expire viewers.
    this.base = t;
    this.localAtBase = performance.now();
  }

  now() {
    return this.base === null ? Date.now() : this.base + (performance.now() - this.localAtBase);
  }
}

const AD_KEYS = ['ads', 'ads_completed', 'ads_skipped', 'ads_clicked'];

export class ViewerStore {
  constructor(clock) {
    this.clock = clock;
    this.windowMs = 90_000;
    this.entries = new Map();
    this.nextSeq = 0;
    // What the host last said about all active viewers; used when it holds more than it lists.
    this.server = { activeCount: null, statusCounts: null, adSummary: null, truncated: false };
  }

  setWindow(seconds) {
    if (typeof seconds === 'number' && seconds > 0) this.windowMs = seconds * 1000;
  }

  /**
   * Stores a profile unless it is older than the one held (a poll answer can arrive after a
   * newer SSE update). Returns true when it was stored.
   */
  upsert(profile) {
    if (!profile || typeof profile.viewer_id !== 'string') return false;
    const lastSeen = parseTime(profile.last_seen);
    const held = this.entries.get(profile.viewer_id);
    if (held && lastSeen < held.lastSeen) return false;
    if (held) {
      held.profile = profile;
      held.lastSeen = lastSeen;
      held.version += 1;
      return true;
    }
    if (!this.isActiveAt(lastSeen, this.clock.now())) return false;
    // Arrival order keeps cards where they are; a new viewer only ever goes at the end.
    this.entries.set(profile.viewer_id, { id: profile.viewer_id, seq: this.nextSeq++, profile, lastSeen, version: 0 });
    return true;
  }

  /** A list answer from GET /api/viewers; new viewers enter oldest first_seen first. */
  applySnapshot(body) {
    this.setWindow(body.active_window_s);
    const profiles = Array.isArray(body.viewers) ? body.viewers.slice() : [];
    profiles.sort((a, b) => (parseTime(a.first_seen) || 0) - (parseTime(b.first_seen) || 0));
    for (const p of profiles) this.upsert(p);
    this.server.truncated = typeof body.total === 'number' && body.total > profiles.length;
    this.server.activeCount = num(body.active_count);
    this.server.statusCounts = body.status_counts ?? null;
    this.server.adSummary = body.ad_summary ?? null;
  }

  applyStats(body) {
    const n = num(body.active_count);
    if (n !== null) this.server.activeCount = n;
  }

  isActiveAt(lastSeen, now) {
    return Number.isFinite(lastSeen) && lastSeen >= now - this.windowMs;
  }

  /** Forgets viewers that left; a returning viewer comes back as a new arrival. */
  prune(now) {
    for (const [id, e] of this.entries) {
      if (!this.isActiveAt(e.lastSeen, now)) this.entries.delete(id);
    }
  }

  /** Active viewers in arrival order. */
  active(now) {
    const out = [];
    for (const e of this.entries.values()) if (this.isActiveAt(e.lastSeen, now)) out.push(e);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Headline figures. The page's own count is exact while it holds every active viewer; when
   * the host said it has more than it listed, its figures are the better ones.
   */
  summary(active) {
    const groups = Object.fromEntries(GROUPS.map((g) => [g, 0]));
    const ads = Object.fromEntries(AD_KEYS.map((k) => [k, 0]));
    let inAd = 0;
    for (const { profile } of active) {
      const { group } = statusInfo(profile.status);
      groups[group] += 1;
      if (group === 'ad') inAd += 1;
      const session = profile.session ?? {};
      for (const k of AD_KEYS) ads[k] += num(session[k]) ?? 0;
    }
    const local = { count: active.length, groups, ads, inAd, partial: false };
    const s = this.server;
    if (!s.truncated || s.activeCount === null || s.activeCount <= active.length) return local;
    const serverGroups = Object.fromEntries(GROUPS.map((g) => [g, 0]));
    for (const [status, n] of Object.entries(s.statusCounts ?? {})) {
      serverGroups[statusInfo(status).group] += num(n) ?? 0;
    }
    return {
      count: s.activeCount,
      groups: s.statusCounts ? serverGroups : groups,
      ads: s.adSummary ? Object.fromEntries(AD_KEYS.map((k) => [k, num(s.adSummary[k]) ?? 0])) : ads,
      inAd: s.statusCounts ? serverGroups.ad : inAd,
      partial: true,
    };
  }
}
