# Snowbridge (6.x; runs unchanged on 5.x) for liveviewer: Kafka -> Kafka.
#
#   enrich --(snowplow-enriched-all: every enriched event, TSV)--> Snowbridge
#   Snowbridge --(snowplow-enriched-good: media events only, keyed by viewer)--> liveviewer hosts
#   Snowbridge --(snowbridge-failed: events it could not process)--> whoever watches that topic
#
# The HTTP variant (Snowbridge posts straight to a liveviewer host) is config.http.hcl beside
# this file; compose picks one with SNOWBRIDGE_CONFIG (see docker/README.md).
#
# Format reference: docs.snowplow.io, "Snowbridge configuration" (sources/kafka, targets/kafka,
# transformations). 5.x and 6.x take ONE transform {} block with several `use` blocks inside,
# run in order. 6.0 changed only the HTTP target's OAuth2 settings (unused here), the `hash`
# script helper (unused) and the image (distroless: no shell, uid 65532).
#
# Where it runs is set from the environment, so the same file serves the compose stack, the
# AWS deployment (deploy/aws/) and a Snowbridge binary in a test. HCL here knows `env.NAME`
# (an error at start when unset, for what every deployment must say) and `env("NAME")` (the
# empty string when unset, for the optional settings):
#
#   SNOWBRIDGE_KAFKA_BROKERS        bootstrap servers, comma-separated           (required)
#   SNOWBRIDGE_INPUT_TOPIC          the enriched topic enrich writes             (required)
#   SNOWBRIDGE_OUTPUT_TOPIC         the topic the liveviewer hosts read          (required)
#   SNOWBRIDGE_FAILURE_TOPIC        where events Snowbridge cannot process go    (required)
#   SNOWBRIDGE_SCRIPT_PATH          path of viewer-key.js (the partition key)    (required)
#   SNOWBRIDGE_KAFKA_TLS            "true": TLS to the brokers (system CAs)      (optional)
#   SNOWBRIDGE_KAFKA_SASL_USERNAME  set: SASL/SCRAM-SHA-512 with this user       (optional)
#   SNOWBRIDGE_KAFKA_SASL_PASSWORD  its password                                 (optional)
#
# Snowbridge's Kafka client speaks SASL PLAIN and SCRAM only (no AWS IAM): on Amazon MSK it
# uses the SCRAM listener (TLS + SCRAM-SHA-512), which deploy/aws/ enables beside IAM.
#
# The license is accepted with the ACCEPT_LIMITED_USE_LICENSE environment variable (set in
# compose.snowplow.yaml), not here, so that the choice stays in one place.

source {
  use "kafka" {
    brokers    = env.SNOWBRIDGE_KAFKA_BROKERS
    topic_name = env.SNOWBRIDGE_INPUT_TOPIC

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

    # Plaintext unless the environment asks for TLS and SCRAM (Amazon MSK, Confluent, Aiven).
    enable_tls     = env("SNOWBRIDGE_KAFKA_TLS") == "true"
    enable_sasl    = env("SNOWBRIDGE_KAFKA_SASL_USERNAME") != ""
    sasl_username  = env("SNOWBRIDGE_KAFKA_SASL_USERNAME")
    sasl_password  = env("SNOWBRIDGE_KAFKA_SASL_PASSWORD")
    sasl_algorithm = "sha512"
    # SASL handshake v1, as current brokers expect (Snowbridge's default, v0, also turns off the
    # client's API version negotiation).
    sasl_version   = 1
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
  #    Kafka record key, so all events of one viewer hash to the same partition of the output
  #    topic, and so to the one liveviewer host that owns that partition in the consumer group.
  #    That keeps each viewer's events in order on one partition and each profile written by a
  #    single host (no write contention on its DynamoDB item, and that host's cache stays
  #    warm). The host would still compute the right profile from events arriving out of order
  #    or on several hosts; the key makes it cheap, not correct.
  #
  #    The key is the module's viewer id: user_id, else domain_userid, else the mobile
  #    client_session entity's userId, else network_userid (viewer-key.js explains each step).
  #    spEnrichedSetPk takes one field, so a logged-in viewer's events would follow their
  #    device's domain_userid onto several partitions, and a mobile app's (no domain_userid)
  #    would fail; the script keys both by the same id as their profile. An event with no usable
  #    id goes to the failure target with the reason.
  #
  #    Without snowplow_mode the script gets the TSV line as it is and returns it untouched
  #    (with snowplow_mode Snowbridge would re-encode the event as JSON). The partitioner
  #    hashes the key with FNV-1a (Snowbridge's Kafka client), not murmur2 like Java clients:
  #    fine, since Snowbridge is the only producer to this topic.
  use "js" {
    script_path = env.SNOWBRIDGE_SCRIPT_PATH
    timeout_sec = 5
  }

  # No spEnrichedToJson here: the host reads the enriched TSV line as it is, which is smaller on
  # the wire and cheaper to parse than the JSON form. (The HTTP variant needs JSON, see
  # config.http.hcl.) Adding it here would also work: the host accepts both.
}

target {
  use "kafka" {
    brokers    = env.SNOWBRIDGE_KAFKA_BROKERS
    # The topic liveviewer's source.kafka.topic reads (snowplow-enriched-good, 4 partitions, in
    # the compose stack).
    topic_name = env.SNOWBRIDGE_OUTPUT_TOPIC

    # Wait for all in-sync replicas before counting a write as done. A retry can still write an
    # event twice; that is harmless: the host's profile merge is idempotent and independent of
    # arrival order (host/src/profile/state.rs), so no idempotent producer is needed.
    wait_for_all = true

    # As for the source.
    enable_tls     = env("SNOWBRIDGE_KAFKA_TLS") == "true"
    enable_sasl    = env("SNOWBRIDGE_KAFKA_SASL_USERNAME") != ""
    sasl_username  = env("SNOWBRIDGE_KAFKA_SASL_USERNAME")
    sasl_password  = env("SNOWBRIDGE_KAFKA_SASL_PASSWORD")
    sasl_algorithm = "sha512"
    sasl_version   = 1

    batching {
      # Flush every 50 ms (default 200): the dashboard is live. Up to 500 events per batch when
      # traffic is high (default 100). Unset keys keep the target's defaults.
      max_batch_messages  = 500
      flush_period_millis = 50
    }
  }
}

# Where events go that cannot be processed: not parseable as enriched TSV, a transformation
# error (e.g. an event without any viewer id, above), or bigger than the target accepts. Snowbridge
# writes them as Snowplow bad rows (JSON) to this topic and acks the originals, so one bad event
# never blocks the stream.
failure_target {
  use "kafka" {
    brokers    = env.SNOWBRIDGE_KAFKA_BROKERS
    topic_name = env.SNOWBRIDGE_FAILURE_TOPIC

    # As for the source.
    enable_tls     = env("SNOWBRIDGE_KAFKA_TLS") == "true"
    enable_sasl    = env("SNOWBRIDGE_KAFKA_SASL_USERNAME") != ""
    sasl_username  = env("SNOWBRIDGE_KAFKA_SASL_USERNAME")
    sasl_password  = env("SNOWBRIDGE_KAFKA_SASL_PASSWORD")
    sasl_algorithm = "sha512"
    sasl_version   = 1
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
