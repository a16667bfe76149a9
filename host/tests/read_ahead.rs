//! A batch reads the stored profiles of viewers it has not seen before its turn to merge, so a
//! slow store read holds up its own batch, not the reads of the batches behind it. (Inside the
//! turn, a read made every later batch wait for it: with a new viewer in nearly every batch,
//! the store's read latency was the changelog's lag.)

use liveviewer_testkit::*;
use std::time::Duration;

#[test]
fn a_batch_reads_its_new_viewers_while_the_batch_before_waits_for_the_store() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("reads", 1);
    let moto = Moto::start();
    let proxy = HoldingProxy::start(&moto.endpoint, "held-back-viewer");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "reads",
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"reads\"\ngroup_id = \"reads\"\n\
             [store]\nkind = \"dynamodb\"\n[store.dynamodb]\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\
             [http]\nlisten = \"127.0.0.1:0\"\n[active]\nwindow_s = 3600\n",
            dir.path().join("data").display().to_string(),
            kafka.addr,
            proxy.endpoint
        ),
    );
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    let now = now_ms();
    let first = play_event("held-back-viewer", "7f1a0c52-0000-4000-8000-000000000001", now);
    kafka.produce("reads", &[("held-back-viewer".to_owned(), first.into_bytes())]);
    wait_until("the first viewer's profile read to be held back", Duration::from_secs(60), || proxy.held() == 1);

    // A second batch, for another viewer: its read goes out while the first is still held.
    let second = play_event("next-viewer", "7f1a0c52-0000-4000-8000-000000000002", now + 1);
    kafka.produce("reads", &[("next-viewer".to_owned(), second.into_bytes())]);
    let read_early = try_wait_until(Duration::from_secs(20), || proxy.seen("next-viewer"));
    assert_eq!(proxy.held(), 1, "the first read is still held back");
    assert!(read_early, "the second batch's read waited for the first batch's");

    // Once the store answers, both profiles are merged in order, published and written.
    proxy.release();
    for viewer in ["held-back-viewer", "next-viewer"] {
        wait_until("both profiles in the live view", Duration::from_secs(60), || {
            host.get(&format!("/api/viewers/{viewer}"))["viewer_id"].as_str() == Some(viewer)
        });
    }
    wait_until("the topic committed", Duration::from_secs(60), || kafka.caught_up("reads", "reads", 1));
}
