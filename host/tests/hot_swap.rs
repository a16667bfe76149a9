//! Replacing the logic while the host runs: under continuous load a swap loses no event and
//! applies none twice; shadow mode; the authoring loop (`liveviewer module push`) with a new
//! profile field; the watched module file; rollback; a restart resumes with the module it had.


use liveviewer::module::{ModuleVersion, BUILTIN_WASM};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use liveviewer_testkit::modules::*;
use liveviewer_testkit::*;

const TOKEN: &str = "admin-token-for-tests-0123";

/// The built-in logic plus a `logic: "B"` field on every profile.
fn logic_b() -> Vec<u8> {
    std::fs::read(build_mutant(
        "logic-b",
        &Mutation::logic(|l| {
            l.replace(
                "    deltas.push(set(\"last_event\", Value::String(event.to_owned())));",
                "    deltas.push(set(\"last_event\", Value::String(event.to_owned())));\n    deltas.push(set(\"logic\", Value::String(\"B\".into())));",
            )
        }),
    ))
    .unwrap()
}

fn admin(host: &Host, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    liveviewer_testkit::admin(host, method, path, body, TOKEN)
}

fn ingest(url: &str, lines: &[String]) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new().post(format!("{url}ingest/snowbridge")).json(lines).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    })
}

fn demo(dir: &std::path::Path) -> Host {
    Host::start(
        &["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.to_str().unwrap()],
        &[("LIVEVIEWER_ADMIN_TOKEN", TOKEN)],
    )
}

fn active_version(host: &Host) -> String {
    admin(host, "GET", "/admin/module", vec![]).1["active"]["version"].as_str().unwrap().to_owned()
}

/// Counter values per module version from /metrics.
fn per_version(host: &Host, name: &str) -> BTreeMap<String, u64> {
    let text = http_get(&format!("{}metrics", host.url));
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{module_version=\"")))
        .map(|l| {
            let v = l.split('"').nth(1).unwrap().to_owned();
            (v, l.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .collect()
}

fn without(mut p: Value, keys: &[&str]) -> Value {
    for k in keys {
        p.as_object_mut().unwrap().remove(*k);
    }
    p
}

#[test]
fn a_swap_under_load_loses_no_event_and_applies_none_twice() {
    let same = std::fs::read(build_mutant("same-logic", &Mutation::none())).unwrap();
    let field = logic_b();
    let (same_v, field_v) = (ModuleVersion::of_bytes(&same).0, ModuleVersion::of_bytes(&field).0);

    let text = cli(&["simulate", "--viewers", "80", "--events", "20000", "--seed", "21", "--ping-interval-s", "5"], &[]);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let reference = replayed_profiles(file.path());

    let dir = tempfile::tempdir().unwrap();
    let mut host = demo(dir.path());
    let builtin_v = active_version(&host);
    let sent = Arc::new(AtomicUsize::new(0));
    let loader = {
        let (url, lines, sent) = (host.url.clone(), lines.clone(), sent.clone());
        std::thread::spawn(move || {
            for chunk in lines.chunks(250) {
                assert_eq!(ingest(&url, chunk)["accepted"], chunk.len());
                sent.fetch_add(chunk.len(), Ordering::Relaxed);
            }
        })
    };
    wait_until("a third of the load", Duration::from_secs(120), || sent.load(Ordering::Relaxed) >= lines.len() / 3);
    assert_eq!(admin(&host, "PUT", "/admin/module", same).0, 200);
    wait_until("two thirds of the load", Duration::from_secs(120), || sent.load(Ordering::Relaxed) >= 2 * lines.len() / 3);
    assert_eq!(admin(&host, "PUT", "/admin/module", field).0, 200);
    loader.join().unwrap();

    // Every event processed by exactly one module version, each of the three having some.
    let events = per_version(&host, "liveviewer_events_total");
    assert_eq!(events.values().sum::<u64>() as usize, lines.len(), "{events:?}");
    for v in [&builtin_v, &same_v, &field_v] {
        assert!(events.get(v.as_str()).copied().unwrap_or(0) > 0, "{v} processed events: {events:?}");
    }
    assert_eq!(host.proc.terminate(Duration::from_secs(30)).map(|s| s.success()), Some(true));
    let text = cli(&["profiles", "--data-dir", dir.path().to_str().unwrap()], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    let live: Value = serde_json::from_str(&text).unwrap();
    let (live, reference) = (live.as_array().unwrap(), reference.as_array().unwrap());
    assert_eq!(live.len(), reference.len());
    let mut stamped_b = 0;
    for (l, r) in live.iter().zip(reference) {
        let version = l["module_version"].as_str().unwrap();
        assert!([&builtin_v, &same_v, &field_v].iter().any(|v| v.as_str() == version));
        // The version stamp says which logic last wrote the profile.
        assert_eq!(l.get("logic").is_some(), version == field_v, "{}", l["viewer_id"]);
        stamped_b += usize::from(version == field_v);
        // Apart from that, exactly what a run that never swapped computes.
        assert_eq!(without(l.clone(), &["module_version", "logic"]), without(r.clone(), &["module_version"]), "{}", l["viewer_id"]);
    }
    assert!(stamped_b > 0);
}

#[test]
fn shadow_mode_counts_differences_without_writing_and_can_be_promoted_or_dropped() {
    let field = logic_b();
    let dir = tempfile::tempdir().unwrap();
    let host = demo(dir.path());
    let builtin_v = active_version(&host);
    assert_eq!(admin(&host, "DELETE", "/admin/module/shadow", vec![]).0, 404);
    assert_eq!(admin(&host, "POST", "/admin/module/promote", vec![]).0, 409);
    let (code, answer) = admin(&host, "PUT", "/admin/module?mode=shadow", field.clone());
    assert_eq!(code, 200, "{answer}");
    let lines: Vec<String> = cli(&["simulate", "--viewers", "10", "--events", "300", "--seed", "4"], &[]).lines().map(str::to_owned).collect();
    let report = ingest(&host.url, &lines);
    let (_, status) = admin(&host, "GET", "/admin/module", vec![]);
    assert_eq!(status["active"]["version"], builtin_v.as_str());
    let shadow = &status["shadow"];
    assert_eq!(shadow["events_seen"], 300);
    // The shadow adds a field to every media event: each apply differs, skips do not.
    assert_eq!(shadow["differing"], report["applied"], "{shadow}");
    let examples = shadow["examples"].as_array().unwrap();
    assert!(!examples.is_empty() && examples.len() <= 5);
    assert!(examples[0]["shadow"].to_string().contains("\"logic\""));
    assert!(!examples[0]["active"].to_string().contains("\"logic\""));
    // Nothing of the shadow was written.
    let viewers = host.get("/api/viewers?all=true");
    assert!(viewers["viewers"].as_array().unwrap().iter().all(|p| p.get("logic").is_none()));
    // Drop it, shadow it again, promote it.
    assert_eq!(admin(&host, "DELETE", "/admin/module/shadow", vec![]).0, 200);
    assert_eq!(admin(&host, "PUT", "/admin/module?mode=shadow", field.clone()).0, 200);
    let (code, answer) = admin(&host, "POST", "/admin/module/promote", vec![]);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(active_version(&host), ModuleVersion::of_bytes(&field).0);
    ingest(&host.url, &lines[..50]);
    let viewers = host.get("/api/viewers?all=true");
    assert!(viewers["viewers"].as_array().unwrap().iter().any(|p| p["logic"] == "B"));
    // Rollback returns to the built-in module; a second rollback undoes it.
    let (code, _) = admin(&host, "POST", "/admin/module/rollback", vec![]);
    assert_eq!(code, 200);
    assert_eq!(active_version(&host), builtin_v);
    admin(&host, "POST", "/admin/module/rollback", vec![]);
    assert_eq!(active_version(&host), ModuleVersion::of_bytes(&field).0);
}

/// The README's worked example: count seeks per media session.
const SEEKS: &str = "    deltas.push(set(\"last_event\", Value::String(event.to_owned())));";
const SEEKS_ADDED: &str = r#"    deltas.push(set("last_event", Value::String(event.to_owned())));
    if event == "seek_end_event" {
        if let Some(id) = &session_id {
            deltas.push(Delta::Add { field: "seeks".into(), value: 1.0, dedupe: event_id.to_owned(), session: Some(id.clone()) });
        }
    }"#;

#[test]
fn module_push_builds_checks_and_uploads_and_the_new_field_appears_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = demo(dir.path());
    let builtin_v = active_version(&host);
    let push = |crate_dir: &std::path::Path| {
        Command::new(bin())
            .args(["module", "push", "--host", host.url.trim_end_matches('/'), "--token", TOKEN])
            .arg(crate_dir)
            .env("CARGO_TARGET_DIR", mutant_target())
            .env("LIVEVIEWER_LOG", "warn")
            .output()
            .unwrap()
    };
    // A broken plugin is refused locally and never uploaded.
    let broken = mutant_crate("push-broken", &Mutation::logic(|l| l.replace("Some(PAUSED_AD)", "Some(WATCHING_AD)")));
    let out = push(&broken);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && stdout.contains("refused locally at step `vectors`"), "{stdout}");
    assert_eq!(active_version(&host), builtin_v);

    let seeks = mutant_crate("push-seeks", &Mutation::logic(|l| l.replace(SEEKS, SEEKS_ADDED)));
    let out = push(&seeks);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let cases = liveviewer::vectors::VectorSet::embedded().cases().unwrap().len();
    assert!(stdout.contains(&format!("passes {cases} test vectors")) && stdout.contains("answered 200"), "{stdout}");
    let pushed = active_version(&host);
    assert_ne!(pushed, builtin_v);

    let now = liveviewer_wire::time::format_millis(liveviewer::live::wall_ms());
    let seek = |id: &str| {
        json!({
            "event_id": id, "event": "unstruct", "domain_userid": "seeker",
            "derived_tstamp": now, "event_vendor": "com.snowplowanalytics.snowplow.media", "event_name": "seek_end_event",
            "unstruct_event_com_snowplowanalytics_snowplow_media_seek_end_event_1": {},
            "contexts_com_snowplowanalytics_snowplow_media_player_2": [{"currentTime": 42, "paused": false, "ended": false}],
            "contexts_com_snowplowanalytics_snowplow_media_session_1": [{"mediaSessionId": "s-seek"}]
        })
        .to_string()
    };
    ingest(&host.url, &[seek("11111111-0000-4000-8000-000000000001"), seek("11111111-0000-4000-8000-000000000002"), seek("11111111-0000-4000-8000-000000000001")]);
    let profile = host.get("/api/viewers/seeker");
    assert_eq!(profile["session"]["seeks"], 2, "two seeks (one delivered twice): {profile}");
    assert_eq!(profile["totals"]["seeks"], 2);
    assert_eq!(profile["module_version"], pushed.as_str());

    // A restart resumes with the module it had.
    assert_eq!(host.proc.terminate(Duration::from_secs(30)).map(|s| s.success()), Some(true));
    let host = demo(dir.path());
    let (_, status) = admin(&host, "GET", "/admin/module", vec![]);
    assert_eq!(status["active"]["version"], pushed.as_str());
    assert_eq!(status["active"]["origin"], "kept from the last run");
}

#[test]
fn the_module_file_is_watched_and_a_bad_file_changes_nothing() {
    let same = std::fs::read(build_mutant("same-logic", &Mutation::none())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let module_path = dir.path().join("transform.wasm");
    std::fs::write(&module_path, BUILTIN_WASM).unwrap();
    let config = write_config(
        dir.path(),
        "watched",
        &format!(
            "data_dir = {:?}\n[module]\npath = {:?}\n[http]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{TOKEN}\"\n",
            dir.path().join("data").display().to_string(),
            module_path.display().to_string()
        ),
    );
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(active_version(&host), ModuleVersion::of_bytes(BUILTIN_WASM).0);
    // An editor's way of writing: truncate, half, a pause, the rest.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&module_path).unwrap();
        f.write_all(&same[..same.len() / 2]).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        f.write_all(&same[same.len() / 2..]).unwrap();
    }
    let expected = ModuleVersion::of_bytes(&same).0;
    wait_until("the new file to be swapped in", Duration::from_secs(30), || active_version(&host) == expected);
    let (_, status) = admin(&host, "GET", "/admin/module", vec![]);
    assert_eq!(status["active"]["origin"], module_path.display().to_string());
    assert!(status["last_refused"].is_null(), "the half-written file was never tried: {status}");
    std::fs::write(&module_path, b"not a module").unwrap();
    wait_until("the bad file to be refused", Duration::from_secs(30), || {
        admin(&host, "GET", "/admin/module", vec![]).1["last_refused"]["step"] == "compile"
    });
    assert_eq!(active_version(&host), expected, "the active module runs on");
}
