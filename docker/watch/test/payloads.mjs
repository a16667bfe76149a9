// Decodes Snowplow JavaScript tracker requests into events, whichever way they were sent:
//   POST .../tp2  body {"schema": ".../payload_data/...", "data": [event, ...]}
//   GET  .../i?e=ue&ue_pr=...   (one event in the query string)
// and whichever encoding the self-describing JSON uses:
//   ue_pr / co   plain JSON (encodeBase64: false)
//   ue_px / cx   base64url JSON (the tracker's default)

/** base64 or base64url, padded or not, to a UTF-8 string. */
export function decodeBase64(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

/** The raw payloads (field maps) a tracker request carries. */
export function payloadsOf(method, url, body) {
  if (method === 'POST') {
    const doc = JSON.parse(body);
    if (!doc || !Array.isArray(doc.data)) throw new Error(`POST body is not payload_data: ${body.slice(0, 200)}`);
    return doc.data;
  }
  const params = new URL(url).searchParams;
  return [Object.fromEntries(params.entries())];
}

function selfDescribing(payload, plainKey, base64Key) {
  if (payload[plainKey] !== undefined) return JSON.parse(payload[plainKey]);
  if (payload[base64Key] !== undefined) return JSON.parse(decodeBase64(payload[base64Key]));
  return null;
}

/**
 * One decoded event: {
 *   e, eid, aid, p, duid, uid,
 *   schema      the self-describing event's schema (unstruct events), or null
 *   data        its data
 *   entities    [{schema, data}] from the contexts
 *   encoding    'plain' | 'base64' | 'none'
 * }
 */
export function decodePayload(payload) {
  const ue = selfDescribing(payload, 'ue_pr', 'ue_px');
  const co = selfDescribing(payload, 'co', 'cx');
  // ue_pr/ue_px wrap the event: {schema: unstruct_event, data: {schema, data}}
  const event = ue ? ue.data : null;
  const encoding = payload.ue_px || payload.cx ? 'base64' : payload.ue_pr || payload.co ? 'plain' : 'none';
  return {
    e: payload.e,
    eid: payload.eid,
    aid: payload.aid,
    p: payload.p,
    duid: payload.duid,
    uid: payload.uid,
    schema: event ? event.schema : null,
    data: event ? event.data : null,
    entities: co && Array.isArray(co.data) ? co.data : [],
    encoding,
  };
}

export function decodeRequest(method, url, body) {
  return payloadsOf(method, url, body).map(decodePayload);
}
