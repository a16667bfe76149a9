# Snowbridge (5.x) for liveviewer: Kafka -> Kafka.
#
#   enrich --(snowplow-enriched-all: every enriched event, TSV)--> Snowbridge
#   Snowbridge --(snowplow-enriched-good: media events only, keyed by viewer)--> liveviewer hosts
#   Snowbridge --(snowbridge-failed: events it could not process)--> whoever watches that topic
#
# The HTTP variant (Snowbridge posts straight to a liveviewer host) is config.http.hcl beside
# this file; compose picks one with SNOWBRIDGE_CONFIG (see docker/README.md).
#
# Format reference: docs.snowplow.io, "Snowbridge configuration" (sources/kafka, targets/kafka,
# transformations/builtin). 5.x takes ONE transform {} block with several `use` blocks inside,
# run in order; 4.x and older took one transform {} block per transformation.
#
# The license is accepted with the ACCEPT_LIMITED_USE_LICENSE environment variable (set in
# compose.snowplow.yaml), not here, so that the choice stays in one place.

source {
  use "kafka" {
    brokers    = "kafka:9092"
    topic_name = "snowplow-enriched-all"

    # The consumer group. Several Snowbridge replicas with the same name share the partitions of
    # snowplow-enriched-all. It must differ from every other consumer of that topic, or they
    # would split the events between them instead of each getting all of them.
    consumer_name = "snowbridge-liveviewer"

    # -2: a new consumer group starts at the oldest retained offset, so nothing enriched before
    # Snowbridge's first start is lost. Once the group has committed offsets, it resumes from
    # them whatever this says.
    offsets_initial = -2

    # Sticky keeps partition ownership stable across rebalances (fewer duplicates on restart).
    assignor = "sticky"

    # target_version is left at the client's default (Kafka protocol 2.1), which Kafka 4.x
    # still accepts (4.0 dropped only the protocol versions older than 2.1).
  }
}

transform {
  # 1. Keep media events only. The filter comes first so that everything after it runs on the
  #    few events we keep. Every event of the Snowplow media plugin (v2 schemas, the ones the
  #    viewer-profile module reads) has event_vendor "com.snowplowanalytics.snowplow.media";
  #    page views, page pings, etc. have "com.snowplowanalytics.snowplow". Filtered events are
  #    acked and dropped (no filter_target).
  #
  #    Snowbridge compiles this with Go's regexp package (RE2 syntax) and keeps an event when the
  #    pattern matches anywhere in the value, hence the anchors. `[.]` is a literal dot written
  #    without a backslash, so HCL string escaping cannot get in the way; the pattern means the
  #    same in RE2 and in Python's re, which docker/tests/check_files.py uses to replay a real
  #    Snowplow Micro session through it.
  #
  #    A tighter alternative on event_name ("^(play|pause|ping|ad_[a-z_]+|...)_event$") would
  #    have to be kept in step with the media plugin's event list; the vendor filter is not.
  use "spEnrichedFilter" {
    atomic_field  = "event_vendor"
    regex         = "^com[.]snowplowanalytics[.]snowplow[.]media$"
    filter_action = "keep"
  }

  # 2. Partition key = viewer id. The Kafka target uses the message's partition key as the
  #    Kafka record key, so all events of one viewer hash to the same partition of
  #    snowplow-enriched-good, and so to the one liveviewer host that owns that partition in the
  #    consumer group. That keeps each viewer's events in order on one partition and each
  #    profile written by a single host (no write contention on its DynamoDB item, and that
  #    host's cache stays warm). The host would still compute the right profile from events
  #    arriving out of order or on several hosts; the key makes it cheap, not correct.
  #
  #    Why domain_userid: it is the first-party cookie id the JavaScript tracker sets on every
  #    event (field 16 of the enriched TSV). user_id is only set when the site calls setUserId
  #    (logged-in viewers), so it is empty for most events; network_userid is the collector's
  #    third-party cookie, which browsers increasingly block.
  #
  #    Limits:
  #    - The module's viewer id is user_id, else domain_userid, else network_userid. For a
  #      logged-in viewer the profile is keyed by user_id while the partition key is the
  #      device's domain_userid: the same user on two devices lands on two partitions (two hosts
  #      may update that profile; the DynamoDB store merges them, but the order between the
  #      devices' events is not guaranteed by Kafka).
  #    - spEnrichedSetPk fails on an EMPTY field: such an event (anonymous tracking with the
  #      cookie disabled, server-side trackers) goes to the failure target below, not to the
  #      host. If you have such traffic, replace this step with a JS transformation that sets
  #      the key to user_id || domain_userid || network_userid (the module's own order).
  #    - The partitioner hashes the key (FNV-1a in Snowbridge's Kafka client), not murmur2 like
  #      Java clients: fine, since Snowbridge is the only producer to this topic.
  use "spEnrichedSetPk" {
    atomic_field = "domain_userid"
  }

  # No spEnrichedToJson here: the host reads the enriched TSV line as it is, which is smaller on
  # the wire and cheaper to parse than the JSON form. (The HTTP variant needs JSON, see
  # config.http.hcl.) Adding it here would also work: the host accepts both.
}

target {
  use "kafka" {
    brokers    = "kafka:9092"
    # The topic liveviewer's [source.kafka] topic reads (4 partitions in this stack).
    topic_name = "snowplow-enriched-good"

    # Wait for all in-sync replicas before counting a write as done. A retry can still write an
    # event twice; that is harmless: the host's profile merge is idempotent and independent of
    # arrival order (host/src/profile/state.rs), so no idempotent producer is needed.
    wait_for_all = true

    batching {
      # Flush every 50 ms (default 200): the dashboard is live. Up to 500 events per batch when
      # traffic is high (default 100). Unset keys keep the target's defaults.
      max_batch_messages  = 500
      flush_period_millis = 50
    }
  }
}

# Where events go that cannot be processed: not parseable as enriched TSV, a transformation
# error (e.g. an empty domain_userid above), or bigger than the target accepts. Snowbridge
# writes them as Snowplow bad rows (JSON) to this topic and acks the originals, so one bad event
# never blocks the stream.
failure_target {
  use "kafka" {
    brokers    = "kafka:9092"
    topic_name = "snowbridge-failed"
  }
}

# Retries of failed writes to the target before giving up.
retry {
  transient {
    delay_ms     = 1000
    max_attempts = 5
  }
  setup {
    delay_ms     = 20000
    max_attempts = 5
  }
}

log_level = "info"

# No anonymous usage heartbeat from a local stack. Remove in a real deployment if you want to
# share telemetry with Snowplow.
disable_telemetry = true
