"""Which failures mean "a backend is down, retry later" rather than a bug (503 / gRPC UNAVAILABLE).

By class name and module, so the shared package needs none of the client libraries imported to tell.
"""

from __future__ import annotations

from .bus.kafka import BusUnavailable

# (module prefix, class names) of the clients' connection and timeout errors
_TRANSIENT = (
    ("elastic_transport", {"ConnectionError", "ConnectionTimeout", "TransportError"}),
    ("elasticsearch", {"ConnectionError", "ConnectionTimeout"}),
    ("redis", {"ConnectionError", "TimeoutError", "BusyLoadingError"}),
    ("aiokafka", {"KafkaConnectionError", "KafkaTimeoutError", "NodeNotReadyError", "RequestTimedOutError"}),
)


def backend_unavailable(exc: BaseException) -> bool:
    """True for a connection refused, a timeout or an unreachable broker, index or store."""
    if isinstance(exc, BusUnavailable | ConnectionError | TimeoutError):
        return True
    for cls in type(exc).__mro__:
        for module, names in _TRANSIENT:
            if cls.__module__.startswith(module) and cls.__name__ in names:
                return True
    return False
