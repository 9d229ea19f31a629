"""Alert policies, notification channels and automated retraining (CONTRACT 8).

    config.py    typed models of ``channels`` and ``alerting`` (pydantic)
    parse.py     validation of a file's sections: every mistake with its path; secrets resolved
    policy.py    which routes fire for an alert: occurrences, cooldowns, severities, retraining (pure)
    messages.py  what each channel sends: Slack blocks, CloudEvents, e-mail, templated requests (pure)
    channels.py  sending one message: HTTP and SMTP, per-attempt timeouts, secrets redacted from errors
    delivery.py  the background delivery queue: retries with backoff and jitter, outcomes
    notifier.py  the notifier agent's logic: policy state and pending deliveries per model (table values)
    log.py       what the API and /metrics show of recent deliveries
    wiring.py    the Faust parts: table, agent, background delivery task (called from topology.py)
"""
