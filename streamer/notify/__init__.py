"""Alert policies, notification channels and automated retraining (CONTRACT 8).

    config.py    typed models of ``channels`` and ``alerting`` (pydantic), path-named mistakes, secrets
    policy.py    which routes fire for an alert: occurrences, cooldowns, severities, retraining (pure)
    messages.py  what each channel sends: Slack blocks, CloudEvents, e-mail, templated requests (pure)
    channels.py  sending one message: HTTP and SMTP, per-attempt timeouts, secrets redacted from errors
    delivery.py  the background delivery queue: retries with backoff and jitter, outcomes
    notifier.py  the notifier agent's logic: policy state and pending deliveries per model (table values)
    log.py       what the API and /metrics show of recent deliveries
"""
