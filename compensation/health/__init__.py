"""Operations: /healthz for load balancers and monitors, /metrics for Prometheus, the task
cluster's heartbeat, and the counters behind the metrics (HTTP answers, status-service calls,
e-mails). A Django app of its own (label `health`) so its table and migrations stay apart from
the desk's; it reads the desk's models, nothing in the desk depends on it except the status
client's one-line latency hook (`counters.status_call_observed`)."""
