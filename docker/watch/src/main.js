// The demo watch page: an HTML5 <video> tracked with the Snowplow browser tracker and media
// plugin, with a simulated pre-roll and mid-roll (see ads.js). Every tracking call goes through
// `track()`, which also writes it to the page's event log and to window.__watch (read by the
// browser test).

import {
  newTracker,
  setUserId,
  trackPageView,
  enableActivityTracking,
} from '@snowplow/browser-tracker';
import {
  SnowplowMediaPlugin,
  MediaPlayerAdBreakType,
  startMediaTracking,
  endMediaTracking,
  updateMediaTracking,
  trackMediaReady,
  trackMediaPlay,
  trackMediaPause,
  trackMediaEnd,
  trackMediaSeekStart,
  trackMediaSeekEnd,
  trackMediaVolumeChange,
  trackMediaPlaybackRateChange,
  trackMediaFullscreenChange,
  trackMediaPictureInPictureChange,
  trackMediaBufferStart,
  trackMediaBufferEnd,
  trackMediaError,
  trackMediaAdBreakStart,
  trackMediaAdBreakEnd,
  trackMediaAdStart,
  trackMediaAdFirstQuartile,
  trackMediaAdMidpoint,
  trackMediaAdThirdQuartile,
  trackMediaAdComplete,
  trackMediaAdSkip,
  trackMediaAdClick,
  trackMediaAdPause,
  trackMediaAdResume,
} from '@snowplow/browser-plugin-media';
import { resolveConfig } from './config.js';
import { AD_BREAKS } from './ads.js';

const cfg = resolveConfig(window.LIVEVIEWER_WATCH_CONFIG, window.location.search);

const $ = (id) => document.getElementById(id);
const content = $('content');
const adLayer = $('ad-layer');
const adVideo = $('ad-video');
const adLabel = $('ad-label');
const adSkip = $('ad-skip');
const adClick = $('ad-click');
const logList = $('log');

// State the browser test reads.
const watch = { ready: false, events: [], adPlaying: false, breaksDone: [], config: cfg };
window.__watch = watch;

// ---------------------------------------------------------------------------------------------
// Tracker

const tracker = newTracker('sp', cfg.collectorUrl, {
  appId: cfg.appId,
  platform: 'web',
  // Plain JSON in ue_pr/co (instead of base64 in ue_px/cx): readable in devtools and in the
  // collector's logs. Enrich accepts both.
  encodeBase64: cfg.encodeBase64,
  eventMethod: cfg.eventMethod,
  // Send every event at once: this page feeds a live dashboard.
  bufferSize: 1,
  contexts: { webPage: true },
  plugins: [SnowplowMediaPlugin()],
});
if (cfg.userId) setUserId(cfg.userId);

enableActivityTracking({ minimumVisitLength: 10, heartbeatDelay: 10 });
trackPageView();

// The host's viewer id: user_id when set, else domain_userid (the tracker's first-party cookie).
const viewerId = cfg.userId || (tracker ? tracker.getDomainUserId() : null);
watch.viewerId = viewerId;
if (viewerId) {
  $('viewer-id').textContent = viewerId;
  const link = $('profile-link');
  link.href = `${cfg.dashboardUrl}/api/viewers/${encodeURIComponent(viewerId)}`;
  $('dashboard-link').href = cfg.dashboardUrl;
}
$('collector-url').textContent = cfg.collectorUrl;

// ---------------------------------------------------------------------------------------------
// Helpers

function uuid() {
  // crypto.randomUUID needs a secure context; the page may be served over plain HTTP on a LAN.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function fmt(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function log(name, detail) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toISOString().slice(11, 23)}  ${name}${detail ? `  ${detail}` : ''}`;
  logList.prepend(li);
  while (logList.children.length > 200) logList.lastChild.remove();
}

/** Calls a media plugin function and records it (page log, window.__watch). */
function track(name, fn, args, detail) {
  fn({ id: mediaId, player: playerState(), ...args });
  watch.events.push(name);
  log(name, detail);
}

/** The media_player entity's fields for the content video. */
function playerState() {
  return {
    currentTime: content.currentTime || 0,
    duration: Number.isFinite(content.duration) ? content.duration : null,
    ended: content.ended,
    paused: content.paused,
    muted: content.muted,
    volume: Math.round(content.volume * 100),
    playbackRate: content.playbackRate,
    loop: content.loop,
    livestream: false,
    fullscreen: document.fullscreenElement != null,
    pictureInPicture: document.pictureInPictureElement != null,
    label: cfg.label,
    mediaType: 'video',
    playerType: 'org.whatwg-media_element',
    quality: content.videoHeight ? `${content.videoHeight}p` : undefined,
  };
}

function setStatus(text) {
  $('status').textContent = text;
}

// Ad state (used by the content's handlers too).
let inBreak = false;
let pausingForAd = false;
let currentBreak = null;
let adIndex = 0;
let quartilesSent = 0;
let skipTimer = null;
const doneBreaks = new Set();

// ---------------------------------------------------------------------------------------------
// Media tracking of the content

// One media session per page view: the id of the media tracking is also the session id.
const mediaId = uuid();
startMediaTracking({
  id: mediaId,
  player: playerState(),
  pings: { pingInterval: cfg.pingInterval, maxPausedPings: 1 },
  boundaries: [10, 25, 50, 75],
});
watch.mediaId = mediaId;

let readySent = false;
let buffering = false;
let lastUpdate = 0;
let previousVolume = Math.round(content.volume * 100);
let previousRate = content.playbackRate;

function onReady() {
  if (readySent) return;
  readySent = true;
  track('ready', trackMediaReady, {});
  watch.ready = true;
  setStatus('Ready: press Play');
}
content.addEventListener('loadedmetadata', onReady);
// The metadata may have loaded before this (deferred) script ran.
if (content.readyState >= HTMLMediaElement.HAVE_METADATA) onReady();

content.addEventListener('play', () => {
  if (inBreak) {
    // The content stays paused while an ad plays (e.g. the native controls were used).
    content.pause();
    return;
  }
  track('play', trackMediaPlay, {}, `at ${fmt(content.currentTime)}`);
  setStatus('Watching');
  const due = dueBreak();
  if (due) startBreak(due);
});

content.addEventListener('pause', () => {
  if (content.ended) return; // 'ended' follows and is tracked instead
  if (inBreak && !pausingForAd) return;
  pausingForAd = false;
  track('pause', trackMediaPause, {}, `at ${fmt(content.currentTime)}`);
  if (!inBreak) setStatus('Paused');
});

content.addEventListener('ended', () => {
  track('end', trackMediaEnd, {});
  setStatus('Ended');
});

content.addEventListener('seeking', () => {
  if (!inBreak) track('seek_start', trackMediaSeekStart, {});
});
content.addEventListener('seeked', () => {
  if (!inBreak) track('seek_end', trackMediaSeekEnd, {}, `to ${fmt(content.currentTime)}`);
});

content.addEventListener('waiting', () => {
  if (inBreak || buffering) return;
  buffering = true;
  track('buffer_start', trackMediaBufferStart, {});
});
content.addEventListener('playing', () => {
  if (!buffering) return;
  buffering = false;
  track('buffer_end', trackMediaBufferEnd, {});
});

content.addEventListener('volumechange', () => {
  const newVolume = content.muted ? 0 : Math.round(content.volume * 100);
  if (newVolume === previousVolume) return;
  track('volume_change', trackMediaVolumeChange, { previousVolume, newVolume });
  previousVolume = newVolume;
});

content.addEventListener('ratechange', () => {
  const newRate = content.playbackRate;
  if (newRate === previousRate) return;
  track('playback_rate_change', trackMediaPlaybackRateChange, { previousRate, newRate });
  previousRate = newRate;
});

content.addEventListener('error', () => {
  const err = content.error;
  track('error', trackMediaError, {
    errorCode: err ? String(err.code) : undefined,
    errorName: err ? ['', 'aborted', 'network', 'decode', 'src_not_supported'][err.code] : undefined,
    errorDescription: err ? err.message : undefined,
  });
  setStatus('Playback error');
});

content.addEventListener('timeupdate', () => {
  $('position').textContent = `${fmt(content.currentTime)} / ${fmt(content.duration)}`;
  // Keeps the player state fresh for the plugin's pings and percent-progress events.
  const now = Date.now();
  if (now - lastUpdate >= 1000) {
    lastUpdate = now;
    updateMediaTracking({ id: mediaId, player: playerState() });
  }
  if (!inBreak && !content.paused && !content.seeking) {
    const due = dueBreak();
    if (due) startBreak(due);
  }
});

document.addEventListener('fullscreenchange', () => {
  track('fullscreen_change', trackMediaFullscreenChange, {
    fullscreen: document.fullscreenElement != null,
  });
});
content.addEventListener('enterpictureinpicture', () => {
  track('picture_in_picture_change', trackMediaPictureInPictureChange, { pictureInPicture: true });
});
content.addEventListener('leavepictureinpicture', () => {
  track('picture_in_picture_change', trackMediaPictureInPictureChange, { pictureInPicture: false });
});

window.addEventListener('pagehide', () => endMediaTracking({ id: mediaId }));

// ---------------------------------------------------------------------------------------------
// Ads

/** The first break not played yet whose start time the content has reached. */
function dueBreak() {
  return AD_BREAKS.find((b) => !doneBreaks.has(b.breakId) && content.currentTime >= b.startTime - 0.05);
}

function currentAd() {
  return currentBreak.ads[adIndex];
}

function adEntity() {
  const ad = currentAd();
  return {
    adId: ad.adId,
    name: ad.name,
    creativeId: ad.creativeId,
    podPosition: adIndex + 1,
    duration: Number.isFinite(adVideo.duration) ? adVideo.duration : undefined,
    skippable: ad.skippable,
  };
}

function adPercent() {
  const d = adVideo.duration;
  return Number.isFinite(d) && d > 0 ? Math.min(100, Math.round((adVideo.currentTime / d) * 100)) : 0;
}

function startBreak(brk) {
  doneBreaks.add(brk.breakId);
  inBreak = true;
  currentBreak = brk;
  adIndex = 0;
  track('ad_break_start', trackMediaAdBreakStart, {
    adBreak: {
      breakId: brk.breakId,
      name: brk.name,
      breakType: MediaPlayerAdBreakType.Linear,
      podSize: brk.ads.length,
      startTime: content.currentTime,
    },
  }, brk.name);
  adLayer.hidden = false;
  playAd();
}

function playAd() {
  const ad = currentAd();
  quartilesSent = 0;
  adVideo.src = ad.src;
  adVideo.load();
  adVideo.addEventListener('loadedmetadata', onAdMetadata, { once: true });
  adLabel.textContent = `Ad ${adIndex + 1} of ${currentBreak.ads.length} · ${ad.name}`;
  setupSkip(ad);
}

function onAdMetadata() {
  track('ad_start', trackMediaAdStart, { ad: adEntity() }, currentAd().adId);
  // The content pauses while the ads play (tracked as a pause, as real ad SDK integrations do).
  if (!content.paused) {
    pausingForAd = true;
    content.pause();
  }
  watch.adPlaying = true;
  setStatus(`Watching an ad (${currentBreak.name})`);
  adVideo.play().catch(() => {
    // No autoplay with sound without a user gesture: retry muted.
    adVideo.muted = true;
    return adVideo.play();
  }).catch((e) => log('ad playback failed', String(e)));
}

function setupSkip(ad) {
  clearInterval(skipTimer);
  adSkip.hidden = !ad.skippable;
  adSkip.disabled = true;
  if (!ad.skippable) return;
  const tick = () => {
    const left = Math.ceil((ad.skipOffset || 0) - adVideo.currentTime);
    if (left > 0) {
      adSkip.textContent = `Skip ad in ${left}`;
    } else {
      adSkip.textContent = 'Skip ad ▸';
      adSkip.disabled = false;
      clearInterval(skipTimer);
    }
  };
  tick();
  skipTimer = setInterval(tick, 200);
}

adVideo.addEventListener('timeupdate', () => {
  if (!inBreak) return;
  const pct = adPercent();
  const quartiles = [
    [25, 'ad_first_quartile', trackMediaAdFirstQuartile],
    [50, 'ad_midpoint', trackMediaAdMidpoint],
    [75, 'ad_third_quartile', trackMediaAdThirdQuartile],
  ];
  while (quartilesSent < 3 && pct >= quartiles[quartilesSent][0]) {
    const [, name, fn] = quartiles[quartilesSent];
    track(name, fn, { ad: adEntity() }, `${quartiles[quartilesSent][0]}%`);
    quartilesSent += 1;
  }
});

adVideo.addEventListener('ended', () => {
  if (!inBreak) return;
  track('ad_complete', trackMediaAdComplete, { ad: adEntity() }, currentAd().adId);
  nextAd();
});

adSkip.addEventListener('click', () => {
  if (!inBreak || adSkip.disabled) return;
  const percentProgress = adPercent();
  adVideo.pause();
  track('ad_skip', trackMediaAdSkip, { ad: adEntity(), percentProgress }, `${currentAd().adId} at ${percentProgress}%`);
  nextAd();
});

adClick.addEventListener('click', () => {
  if (!inBreak) return;
  const percentProgress = adPercent();
  track('ad_click', trackMediaAdClick, { percentProgress }, currentAd().adId);
  // A real ad would open the advertiser's page here; the demo only says so.
  const note = $('ad-note');
  note.textContent = `${currentAd().name}: the advertiser's page would open now.`;
  note.hidden = false;
  setTimeout(() => { note.hidden = true; }, 2500);
});

// Clicking the ad itself pauses and resumes it.
adVideo.addEventListener('click', () => {
  if (!inBreak) return;
  if (adVideo.paused) {
    adVideo.play();
    track('ad_resume', trackMediaAdResume, { ad: adEntity(), percentProgress: adPercent() });
  } else {
    adVideo.pause();
    track('ad_pause', trackMediaAdPause, { percentProgress: adPercent() });
  }
});

function nextAd() {
  watch.adPlaying = false;
  if (adIndex + 1 < currentBreak.ads.length) {
    adIndex += 1;
    playAd();
  } else {
    endBreak();
  }
}

function endBreak() {
  clearInterval(skipTimer);
  track('ad_break_end', trackMediaAdBreakEnd, {}, currentBreak.name);
  watch.breaksDone.push(currentBreak.breakId);
  adVideo.removeAttribute('src');
  adVideo.load();
  adLayer.hidden = true;
  inBreak = false;
  currentBreak = null;
  content.play().catch((e) => log('content playback failed', String(e)));
}

// ---------------------------------------------------------------------------------------------
// Page controls (besides the video's own controls)

$('btn-play').addEventListener('click', () => {
  content.play().catch((e) => log('content playback failed', String(e)));
});
$('btn-pause').addEventListener('click', () => content.pause());
$('btn-jump').addEventListener('click', () => {
  const next = AD_BREAKS.find((b) => !doneBreaks.has(b.breakId) && b.startTime > 0);
  content.currentTime = next ? Math.max(0, next.startTime - 2) : Math.max(0, content.duration - 5);
});
$('btn-mute').addEventListener('click', () => {
  content.muted = !content.muted;
});
