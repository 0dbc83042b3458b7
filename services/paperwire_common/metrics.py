"""Prometheus metrics shared by every service (names are the contract of deploy/ dashboards and alerts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROCESSED = Counter("paperwire_events_processed_total", "Events handled and committed", ["service", "topic"])
FAILED = Counter("paperwire_events_failed_total", "Batches that failed and will be retried", ["service", "topic"])
DEAD_LETTERED = Counter(
    "paperwire_events_dead_lettered_total", "Events sent to a dead-letter topic", ["service", "topic"]
)
CONSUMER_LAG = Gauge("paperwire_consumer_lag", "Records after the committed offset", ["service", "group"])
BATCH_SECONDS = Histogram(
    "paperwire_batch_seconds",
    "Time to handle one polled batch",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HALTED = Gauge("paperwire_consumer_halted", "1 when a consumer halted on a poison batch", ["service"])
INGESTED = Counter("paperwire_ingest_records_total", "Records read by the ingestor by outcome", ["outcome"])
# Labelled by the service that counts (the indexer), so that a process which never counts exports no series rather
# than a 0 that max() over the targets would have to outvote.
INDEX_DOCS = Gauge("paperwire_index_documents", "Documents in the search index", ["service"])
GRPC_REQUESTS = Counter("paperwire_grpc_requests_total", "Gateway gRPC calls by outcome", ["method", "code"])
GRPC_WATCHERS = Gauge("paperwire_grpc_watchers", "Open WatchTopicEvents streams")
HTTP_REQUESTS = Counter("paperwire_http_requests_total", "Gateway HTTP requests", ["route", "method", "status"])
HTTP_SECONDS = Histogram(
    "paperwire_http_request_seconds",
    "Gateway HTTP latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# Notifier (paperwire_notifier): webhooks and e-mails.
NOTIFY_QUEUED = Counter(
    "paperwire_notifier_queued_total", "Deliveries queued (one event for one subscription)", ["event_type"]
)
NOTIFY_ATTEMPTS = Counter(
    "paperwire_notifier_deliveries_total",
    "Delivery attempts by event type and outcome (delivered; retry: will be tried again; dead: dead-lettered)",
    ["event_type", "outcome"],
)
NOTIFY_ATTEMPT_SECONDS = Histogram(
    "paperwire_notifier_attempt_seconds",
    "Latency of one delivery attempt (webhook request or SMTP send)",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
NOTIFY_PENDING = Gauge("paperwire_notifier_pending_deliveries", "Deliveries queued or waiting for a retry")
NOTIFY_DISABLED = Gauge("paperwire_notifier_disabled_endpoints", "Webhook subscriptions disabled (410 or failing)")
NOTIFY_EMAILS = Counter(
    "paperwire_notifier_emails_total", "E-mails by kind and outcome (sent, failed)", ["kind", "outcome"]
)
NOTIFY_DIGEST_RUN = Gauge(
    "paperwire_notifier_digest_last_run_timestamp_seconds", "When the digest schedule last ran to completion"
)
