#!/bin/sh
# Creates the stack's Kafka topics (idempotent: existing topics are left alone). Run once by the
# kafka-init service with the apache/kafka image's own CLI; the broker has topic auto-creation
# off, so a typo in a service's topic name fails loudly instead of creating a stray topic.
#
# docker/tests/check_files.py reads the `topic` lines below and checks that every topic the
# collector, enrich, Snowbridge and liveviewer configs name is created here.
set -eu

BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
KAFKA_TOPICS=/opt/kafka/bin/kafka-topics.sh

topic() { # name partitions [config ...]
  name="$1"; partitions="$2"; shift 2
  configs=""
  for c in "$@"; do configs="$configs --config $c"; done
  # shellcheck disable=SC2086 # $configs is a list of flags on purpose
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor 1 $configs
}

echo "waiting for $BOOTSTRAP"
i=0
until "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then echo "kafka at $BOOTSTRAP did not answer in 120 s" >&2; exit 1; fi
  sleep 2
done

# Collector -> enrich: raw payloads (Thrift), and the collector's bad rows.
topic snowplow-raw-good 4
topic snowplow-raw-bad 1

# Enrich -> Snowbridge: every enriched event (TSV), and enrich's bad rows.
topic snowplow-enriched-all 4
topic snowplow-enriched-bad 1

# Snowbridge -> liveviewer: media events only, keyed by viewer (domain_userid). Its partition
# count caps how many liveviewer hosts share the work: one partition is read by one host of the
# consumer group, so have at least as many partitions as hosts (more leaves room to add hosts).
topic snowplow-enriched-good 4
# liveviewer's dead letters: events the module rejected or could not process, with the reason.
topic snowplow-enriched-good.dead-letter 1 retention.ms=1209600000

# Snowbridge's failure target: events it could not process, as bad rows.
topic snowbridge-failed 1 retention.ms=1209600000

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --describe \
  --topic snowplow-enriched-good
echo "topics ready"
