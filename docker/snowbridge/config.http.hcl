# Snowbridge (6.x; runs unchanged on 5.x) for liveviewer, HTTP variant: Kafka -> liveviewer's
# POST /ingest/snowbridge.
#
# Use it when the hosts should not read Kafka themselves (no Kafka access from where they run,
# or a single host): Snowbridge does the consuming and posts batches of media events to a host.
# In this stack: SNOWBRIDGE_CONFIG=config.http.hcl docker compose -f docker/compose.yaml up
# (docker/README.md). Everything not commented here is as in config.hcl, which explains it.
#
# From the environment (config.hcl lists the Kafka ones): SNOWBRIDGE_KAFKA_BROKERS,
# SNOWBRIDGE_INPUT_TOPIC, SNOWBRIDGE_FAILURE_TOPIC, SNOWBRIDGE_SCRIPT_PATH, the optional
# SNOWBRIDGE_KAFKA_TLS / _SASL_USERNAME / _SASL_PASSWORD, and for the target
# LIVEVIEWER_INGEST_URL (the host's POST /ingest/snowbridge) and LIVEVIEWER_INGEST_TOKEN (its
# http.ingest_token, at least 16 characters).
#
# Trade-offs against the Kafka variant: one Snowbridge posts to one URL, so with several hosts
# put a load balancer in front and lose the "one viewer, one host" affinity that the Kafka
# partition key gives (the hosts still merge correctly through DynamoDB, just with more write
# contention); and the host's own consumer lag metric no longer says anything.

source {
  use "kafka" {
    brokers         = env.SNOWBRIDGE_KAFKA_BROKERS
    topic_name      = env.SNOWBRIDGE_INPUT_TOPIC
    # A group of its own: this variant must not share offsets with the Kafka variant's group.
    consumer_name   = "snowbridge-liveviewer-http"
    offsets_initial = -2
    assignor        = "sticky"

    enable_tls     = env("SNOWBRIDGE_KAFKA_TLS") == "true"
    enable_sasl    = env("SNOWBRIDGE_KAFKA_SASL_USERNAME") != ""
    sasl_username  = env("SNOWBRIDGE_KAFKA_SASL_USERNAME")
    sasl_password  = env("SNOWBRIDGE_KAFKA_SASL_PASSWORD")
    sasl_algorithm = "sha512"
    sasl_version   = 1
  }
}

transform {
  # Media events only (same filter as config.hcl; check_files.py checks both).
  use "spEnrichedFilter" {
    atomic_field  = "event_vendor"
    regex         = "^com[.]snowplowanalytics[.]snowplow[.]media$"
    filter_action = "keep"
  }

  # The viewer key, as in config.hcl. An HTTP request has no partition, but the script is kept
  # so that both variants treat the same events the same way: an event without any viewer id
  # goes to the failure target here too, instead of reaching the host.
  use "js" {
    script_path = env.SNOWBRIDGE_SCRIPT_PATH
    timeout_sec = 5
  }

  # The HTTP target sends JSON only (since Snowbridge 3.0), so the TSV line becomes Snowbridge's
  # JSON event (one object per event, contexts and unstruct_event expanded under their schema
  # names). The host accepts this form as well as TSV.
  use "spEnrichedToJson" {}
}

target {
  use "http" {
    # Without a template_file, the body of each request is a JSON array of the batch's events:
    # exactly what POST /ingest/snowbridge takes.
    url          = env.LIVEVIEWER_INGEST_URL
    content_type = "application/json"

    # The host answers 200 only once every event of the batch is durable (applied or
    # dead-lettered), which can take a DynamoDB round trip or two.
    request_timeout_in_millis = 10000

    # Matches the host's http.ingest_token (LIVEVIEWER__HTTP__INGEST_TOKEN); compose gives both
    # the same LIVEVIEWER_INGEST_TOKEN.
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
    brokers    = env.SNOWBRIDGE_KAFKA_BROKERS
    topic_name = env.SNOWBRIDGE_FAILURE_TOPIC

    enable_tls     = env("SNOWBRIDGE_KAFKA_TLS") == "true"
    enable_sasl    = env("SNOWBRIDGE_KAFKA_SASL_USERNAME") != ""
    sasl_username  = env("SNOWBRIDGE_KAFKA_SASL_USERNAME")
    sasl_password  = env("SNOWBRIDGE_KAFKA_SASL_PASSWORD")
    sasl_algorithm = "sha512"
    sasl_version   = 1
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
