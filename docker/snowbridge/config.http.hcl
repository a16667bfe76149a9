# Snowbridge (5.x) for liveviewer, HTTP variant: Kafka -> liveviewer's POST /ingest/snowbridge.
#
# Use it when the hosts should not read Kafka themselves (no Kafka access from where they run,
# or a single host): Snowbridge does the consuming and posts batches of media events to a host.
# In this stack: SNOWBRIDGE_CONFIG=config.http.hcl docker compose -f docker/compose.yaml up
# (docker/README.md). Everything not commented here is as in config.hcl, which explains it.
#
# Trade-offs against the Kafka variant: one Snowbridge posts to one URL, so with several hosts
# put a load balancer in front and lose the "one viewer, one host" affinity that the Kafka
# partition key gives (the hosts still merge correctly through DynamoDB, just with more write
# contention); and the host's own consumer lag metric no longer says anything.

source {
  use "kafka" {
    brokers         = "kafka:9092"
    topic_name      = "snowplow-enriched-all"
    # A group of its own: this variant must not share offsets with the Kafka variant's group.
    consumer_name   = "snowbridge-liveviewer-http"
    offsets_initial = -2
    assignor        = "sticky"
  }
}

transform {
  # Media events only (same filter as config.hcl; check_files.py checks both).
  use "spEnrichedFilter" {
    atomic_field  = "event_vendor"
    regex         = "^com[.]snowplowanalytics[.]snowplow[.]media$"
    filter_action = "keep"
  }

  # The HTTP target sends JSON only (since Snowbridge 3.0), so the TSV line becomes Snowbridge's
  # JSON event (one object per event, contexts and unstruct_event expanded under their schema
  # names). The host accepts this form as well as TSV. No spEnrichedSetPk: an HTTP request has
  # no partition.
  use "spEnrichedToJson" {}
}

target {
  use "http" {
    # Without a template_file, the body of each request is a JSON array of the batch's events:
    # exactly what POST /ingest/snowbridge takes.
    url          = "http://liveviewer:8686/ingest/snowbridge"
    content_type = "application/json"

    # The host answers 200 only once every event of the batch is durable (applied or
    # dead-lettered), which can take a DynamoDB round trip or two.
    request_timeout_in_millis = 10000

    # Matches the host's http.ingest_token (LIVEVIEWER__HTTP__INGEST_TOKEN); compose gives both
    # the same LIVEVIEWER_INGEST_TOKEN. Drop this header if the host has no ingest token.
    headers = {
      Authorization = "Bearer ${env.LIVEVIEWER_INGEST_TOKEN}"
    }

    batching {
      # At most 200 events per request. A request stays under max_batch_bytes (default 1 MiB),
      # far below the host's body limit (http.max_body_bytes, 16 MiB by default; 413 above it).
      # Unset batching keys keep the target's defaults; max_batch_bytes must stay >=
      # max_message_bytes (default 1 MiB) or Snowbridge refuses the configuration.
      max_batch_messages  = 200
      flush_period_millis = 100
    }

    # How the host's answers are treated (first matching rule wins; anything else non-2xx is a
    # transient error, retried per the retry block).
    response_rules {
      # 503: the host is applying backpressure; back off and retry, never drop.
      rule {
        type       = "throttle"
        http_codes = [503]
      }
      # 400: the body was not an array of events. Retrying the same body cannot help; the
      # events go to the failure target.
      rule {
        type       = "invalid"
        http_codes = [400]
      }
      # 401/403: the ingest token is wrong. A configuration problem: retried slowly (the setup
      # retry policy) until fixed, not thrown away.
      rule {
        type       = "setup"
        http_codes = [401, 403]
      }
    }
  }
}

failure_target {
  use "kafka" {
    brokers    = "kafka:9092"
    topic_name = "snowbridge-failed"
  }
}

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

log_level         = "info"
disable_telemetry = true
