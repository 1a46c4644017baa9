"""Test data, one module per app (`inventory`, `orders`, `compensation`), one factory per model.

Defaults are the policy's plain case (an active account with 250 followers and no interactions,
an order placed three days ago, a decided request); a test that relies on a value passes it.
The `make_*` helpers are the factories' typed `create` for call sites that want the model.
"""
