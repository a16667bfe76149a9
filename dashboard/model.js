// The page's clock and its headline figures. The host's `active` flag is only true at the
// moment it rendered a profile, so activity is recomputed here from `last_seen`.

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

/** The host's count of active viewers and their statuses, from `stats` and list answers. */
export class Headline {
  constructor() {
    this.windowMs = 90_000;
    this.activeCount = null;
    this.groups = Object.fromEntries(GROUPS.map((g) => [g, 0]));
    this.heard = false;
  }

  setWindow(seconds) {
    if (typeof seconds === 'number' && seconds > 0) this.windowMs = seconds * 1000;
  }

  /** `stats` events and list answers both carry `active_count` and `status_counts`. */
  apply(body) {
    const n = num(body?.active_count);
    if (n === null) return false;
    this.heard = true;
    this.activeCount = n;
    const groups = Object.fromEntries(GROUPS.map((g) => [g, 0]));
    let stated = 0;
    for (const [status, c] of Object.entries(body.status_counts ?? {})) {
      const k = num(c) ?? 0;
      groups[statusInfo(status).group] += k;
      stated += k;
    }
    // Viewers with no status yet are active too.
    groups.other += Math.max(0, n - stated);
    this.groups = groups;
    return true;
  }
}

export function isActiveAt(lastSeen, now, windowMs) {
  return Number.isFinite(lastSeen) && lastSeen >= now - windowMs;
}
