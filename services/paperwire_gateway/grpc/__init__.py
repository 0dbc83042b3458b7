"""The gRPC API (proto/paperwire/v1/*.proto): `paperwire.v1.Papers` over the same read services as REST, the
standard health service and server reflection. Generated code comes from `make proto` into services/paperwire/.

server.py builds and runs the server (with the readiness-backed health service); papers.py serves the unary
reads, watch.py the topic event stream; auth.py checks keys and quotas as REST does; convert.py turns the
services' dicts into messages and errors.py maps failures to status codes (never an exception's class or
message to the client)."""

from .server import serve_grpc

__all__ = ["serve_grpc"]
