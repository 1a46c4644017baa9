"""Outbound webhooks (docs/storefront.md); the models are in compensation.models_webhooks.

- `addresses`: which URLs may be called (http(s), public hosts unless WEBHOOK_ALLOW_PRIVATE_HOSTS);
- `signing`: the body and the signature receivers verify;
- `client`: the one outbound HTTP client pattern for receivers (pooled Session, timeouts, deadline,
  no redirects);
- `outbox`: `webhooks_emit`, called by the services where an event happens (same transaction);
- `delivery`: sending from the task cluster after commit, back-off, order per request, pausing;
- `endpoints`: endpoints and deliveries as managers change them (admin, management command).
"""
