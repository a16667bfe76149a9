//! What the store is asked while the host serves: every request path of the HTTP API, the
//! dashboard and the push channel, used as a dashboard would for a while, against moto's own
//! record of the requests it served. No path may scan the profiles table (a Scan reads, and
//! bills, every profile ever stored); a single viewer is a key lookup.

use liveviewer_testkit::*;
use std::time::Duration;

const TOKEN: &str = "requests-admin-token-0123456789";

#[test]
fn no_request_path_reads_the_whole_profiles_table() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("requests", 2);
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "requests",
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"requests\"\ngroup_id = \"requests\"\n\
             [store]\nkind = \"dynamodb\"\n[store.dynamodb]\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\
             [http]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{TOKEN}\"\n[active]\nwindow_s = 3600\n",
            dir.path().join("data").display().to_string(),
            kafka.addr,
            moto.endpoint
        ),
    );
    let (msgs, _) = workload(1_000, 71);
    kafka.produce("requests", &msgs);
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the topic consumed", Duration::from_secs(120), || kafka.caught_up("requests", "requests", 2));

    moto.start_recording();
    let listed = host.get("/api/viewers?all=true&limit=5");
    let someone = listed["viewers"][0]["viewer_id"].as_str().unwrap().to_owned();
    // A dashboard's minute, compressed: every path, again and again, across the sampler's
    // ticks (every 2 s and 10 s).
    let paths = [
        "/".to_owned(),
        "/app.js".to_owned(),
        "/api/viewers".to_owned(),
        "/api/viewers?all=true&limit=1000".to_owned(),
        "/api/viewers?status=WATCHING_VIDEO&status=PAUSED_VIDEO".to_owned(),
        format!("/api/viewers/{someone}"),
        "/api/viewers/nobody-at-all".to_owned(),
        format!("/api/viewers/{someone}/history?limit=50"),
        format!("/api/viewers/{someone}/sessions"),
        "/api/viewers/nobody-at-all/sessions".to_owned(),
        "/api/viewers?q=user&order=arrival&offset=10&limit=48".to_owned(),
        "/api/viewers?content=Sintel&status=WATCHING_AD,PAUSED_AD".to_owned(),
        "/api/content?limit=1000".to_owned(),
        "/api/windows".to_owned(),
        "/api/windows?content=Sintel".to_owned(),
        "/api/windows/content?window=1h&limit=1000".to_owned(),
        "/api/windows/series?minutes=1440".to_owned(),
        "/api/concurrency?minutes=1440".to_owned(),
        "/api/stats".to_owned(),
        "/metrics".to_owned(),
        "/readyz".to_owned(),
        "/healthz".to_owned(),
    ];
    let started = std::time::Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sse = rt.block_on(async {
        let r = reqwest::get(format!("{}api/events", host.url)).await.unwrap();
        assert_eq!(r.status(), 200);
        let named = reqwest::get(format!("{}api/events?viewers={someone}", host.url)).await.unwrap();
        assert_eq!(named.status(), 200);
        (r, named)
    });
    while started.elapsed() < Duration::from_secs(12) {
        for p in &paths {
            let _ = http_get(&format!("{}{}", host.url, p.trim_start_matches('/')));
        }
        for p in ["/admin/module", "/admin/fleet"] {
            assert_eq!(admin(&host, "GET", p, Vec::new(), TOKEN).0, 200);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(sse);
    let requests = moto.recorded();
    let count = |op: &str| requests.iter().filter(|r| r.operation == op).count();
    assert_eq!(count("Scan"), 0, "no request path scans: {:?}", requests.iter().map(|r| &r.operation).collect::<std::collections::BTreeSet<_>>());
    // The recorder records: the viewer the live view does not hold was a key lookup, and a
    // viewer's history a query on its key.
    assert!(count("BatchGetItem") + count("GetItem") >= 1, "the unknown viewer was looked up by key");
    assert!(count("Query") >= 1, "the history was a query on the viewer's key");
    // The one full read is the explicit export.
    let before = count("Scan");
    profiles(&config);
    assert!(moto.count("Scan") > before, "the export command reads the table");
}
