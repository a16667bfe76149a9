//! Writing enriched TSV lines as Snowplow enrich would: 131 fields, the media entities in
//! `contexts`, the media event in `unstruct_event`, the browser and page fields a real
//! tracker fills (so that a simulated event weighs what a real one does, 2-4 KB).

use liveviewer_wire::time::format_millis;
use serde_json::{json, Value};
use std::fmt::Write as _;

pub const MEDIA_VENDOR: &str = "com.snowplowanalytics.snowplow.media";

/// Who is watching where: fixed for a viewer.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub user_id: Option<String>,
    pub domain_userid: String,
    pub network_userid: String,
    pub domain_sessionid: String,
    pub ip: String,
    pub country: &'static str,
    pub city: &'static str,
    pub timezone: &'static str,
    pub useragent: &'static str,
    pub mobile: bool,
}

/// One event to write.
pub struct EventSpec<'a> {
    pub ts: i64,
    pub event_id: &'a str,
    /// `None` for a page view.
    pub media_event: Option<&'a str>,
    pub data: Value,
    /// Entities as (schema, data).
    pub entities: Vec<(&'static str, Value)>,
    pub page_url: &'a str,
    pub page_title: &'a str,
}

pub const MEDIA_PLAYER: &str = "iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/2-0-0";
pub const SESSION: &str = "iglu:com.snowplowanalytics.snowplow.media/session/jsonschema/1-0-0";
pub const AD: &str = "iglu:com.snowplowanalytics.snowplow.media/ad/jsonschema/1-0-0";
pub const AD_BREAK: &str = "iglu:com.snowplowanalytics.snowplow.media/ad_break/jsonschema/1-0-0";
const WEB_PAGE: &str = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0";

/// `2024-11-16 13:33:29.298`
pub fn tsv_time(ms: i64) -> String {
    let s = format_millis(ms);
    format!("{} {}", &s[..10], &s[11..23])
}

pub fn line(v: &Visitor, e: &EventSpec<'_>) -> String {
    let created = tsv_time(e.ts);
    let sent = tsv_time(e.ts + 3);
    let collector = tsv_time(e.ts + 21);
    let etl = tsv_time(e.ts + 640);
    let mut contexts: Vec<Value> =
        e.entities.iter().map(|(schema, data)| json!({"schema": schema, "data": data})).collect();
    contexts.push(json!({"schema": WEB_PAGE, "data": {"id": format!("{}-page", &v.domain_sessionid[..8])}}));
    let contexts = json!({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0", "data": contexts});
    let derived = json!({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0", "data": [
        {"schema": "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0", "data": {
            "useragentFamily": "Chrome", "useragentMajor": "130", "useragentMinor": "0", "useragentPatch": "0",
            "useragentVersion": "Chrome 130.0.0", "osFamily": if v.mobile { "Android" } else { "Windows" },
            "osMajor": "10", "osVersion": if v.mobile { "Android 14" } else { "Windows 10" },
            "deviceFamily": if v.mobile { "Pixel 8" } else { "Other" }}},
        {"schema": "iglu:nl.basjes/yauaa_context/jsonschema/1-0-4", "data": {
            "deviceClass": if v.mobile { "Phone" } else { "Desktop" }, "agentName": "Chrome",
            "agentVersion": "130.0.0.0", "layoutEngineName": "Blink", "operatingSystemName": if v.mobile { "Android" } else { "Windows NT" }}}
    ]});
    let (event, vendor, name, unstruct) = match e.media_event {
        Some(name) => {
            let ue = json!({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                "data": {"schema": format!("iglu:{MEDIA_VENDOR}/{name}/jsonschema/1-0-0"), "data": e.data}});
            ("unstruct", MEDIA_VENDOR, name, ue.to_string())
        }
        None => ("page_view", "com.snowplowanalytics.snowplow", "page_view", String::new()),
    };
    let (w, h) = if v.mobile { ("412", "915") } else { ("1920", "1080") };
    let fields: [&str; 131] = [
        "liveviewer-demo",                       // app_id
        if v.mobile { "mob" } else { "web" },  // platform
        &etl,
        &collector,
        &created,
        event,
        e.event_id,
        "",                   // txn_id
        "sp",                 // name_tracker
        "js-4.0.1",           // v_tracker
        "ssc-3.2.0-kafka",    // v_collector
        "snowplow-enrich-kafka-5.1.0-common-5.1.0",
        v.user_id.as_deref().unwrap_or(""),
        &v.ip,
        "",
        &v.domain_userid,
        "3",                  // domain_sessionidx
        &v.network_userid,
        v.country,
        "",
        v.city,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        e.page_url,
        e.page_title,
        "https://watch.example.com/",
        "https",
        "watch.example.com",
        "443",
        &e.page_url[e.page_url.find(".com").map_or(0, |i| i + 4)..],
        "",
        "",
        "https",
        "watch.example.com",
        "443",
        "/",
        "",
        "",
        "internal",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        &contexts.to_string(),
        "",
        "",
        "",
        "",
        "",
        &unstruct,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        v.useragent,
        "",
        "",
        "",
        "",
        "",
        "en-GB",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "1",   // br_cookies
        "24",  // br_colordepth
        w,
        h,
        "",
        "",
        "",
        v.timezone,
        "",
        "",
        w,
        h,
        "UTF-8",
        w,
        "3120",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        v.timezone,
        "",
        "",
        "",
        &sent,
        "",
        "",
        &derived.to_string(),
        &v.domain_sessionid,
        &created,
        vendor,
        name,
        "jsonschema",
        "1-0-0",
        "",
        "",
    ];
    let mut out = String::with_capacity(3072);
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        out.push_str(f);
    }
    // The fingerprint enrich would compute; any stable digest of the payload serves.
    let fp = crate::profile::key::fnv1a(out.as_bytes());
    let tail = out.rfind('\t').expect("131 fields");
    let head = out[..tail].rfind('\t').expect("131 fields");
    let mut with_fp = String::with_capacity(out.len() + 20);
    with_fp.push_str(&out[..=head]);
    let _ = write!(with_fp, "{fp:016x}");
    with_fp.push_str(&out[tail..]);
    with_fp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_131_fields_the_module_accepts() {
        let v = Visitor {
            user_id: None,
            domain_userid: "d-1".into(),
            network_userid: "n-1".into(),
            domain_sessionid: "s-1234567890".into(),
            ip: "10.0.0.1".into(),
            country: "PT",
            city: "Lisbon",
            timezone: "Europe/Lisbon",
            useragent: "Mozilla/5.0",
            mobile: false,
        };
        let e = EventSpec {
            ts: 1_731_764_009_298,
            event_id: "e-1",
            media_event: Some("play_event"),
            data: json!({}),
            entities: vec![
                (MEDIA_PLAYER, json!({"currentTime": 1.5, "paused": false, "ended": false, "label": "L"})),
                (SESSION, json!({"mediaSessionId": "m-1"})),
            ],
            page_url: "https://watch.example.com/v/l",
            page_title: "L",
        };
        let l = line(&v, &e);
        assert_eq!(l.split('\t').count(), 131);
        assert!(l.contains("2024-11-16 13:33:29.298"));
        match transform::transform(l.as_bytes()) {
            liveviewer_wire::Outcome::Apply(a) => {
                assert_eq!(a.viewer, "d-1");
                assert_eq!(a.event, "play_event");
                assert_eq!(a.at.ts, 1_731_764_009_298);
            }
            other => panic!("{other:?}"),
        }
    }
}
