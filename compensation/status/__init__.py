"""The status service (docs/status-service.md): the one outbound HTTP client (`client`), what its
answers mean (`parsing`), the circuit breaker shared by every process (`breaker`), and a real
HTTP server imitating it on 127.0.0.1 for the tests and the demo (`double`, imported from its
module: it is no part of the product's path)."""

from compensation.status.breaker import Breaker, BreakerState, DbBreaker, NullBreaker
from compensation.status.client import (
    FetchResult,
    ProfileQuery,
    StatusClient,
    get_status_client,
    reset_status_client,
)
from compensation.status.parsing import InvalidBody, parse_profile

__all__ = [
    "Breaker",
    "BreakerState",
    "DbBreaker",
    "FetchResult",
    "InvalidBody",
    "NullBreaker",
    "ProfileQuery",
    "StatusClient",
    "get_status_client",
    "parse_profile",
    "reset_status_client",
]
