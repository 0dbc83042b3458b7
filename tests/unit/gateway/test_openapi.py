"""The OpenAPI document tells the truth: a named response model for every operation, errors as
application/problem+json with the Problem schema, and the configured bounds."""

from __future__ import annotations

from typing import Any

import pytest

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    app = create_app(make_backends(CommonSettings(backend="embedded")), GatewaySettings(max_events_per_request=77))
    return app.openapi()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def model_of(schema: dict[str, Any]) -> str:
    """The component a response schema names (directly or as the items of an array)."""
    if schema.get("type") == "array":
        schema = schema["items"]
    assert "$ref" in schema, f"not a named model: {schema}"
    return str(schema["$ref"]).removeprefix(REF)


def test_every_operation_answers_a_named_model_with_typed_fields(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert len(operations(doc)) >= 14
    for path, method, op in operations(doc):
        ok = [s for s in op["responses"] if s.startswith("2")]
        assert ok, f"{method} {path}: no success response"
        for status in ok:
            content = op["responses"][status].get("content", {})
            if status == "204":
                assert not content, f"{method} {path}: 204 with a body"
                continue
            if "application/atom+xml" in content:  # a feed: an Atom document (tests/e2e/test_atom_feeds.py)
                assert set(content) == {"application/atom+xml"} and content["application/atom+xml"]["schema"]
                continue
            if "text/html" in content:  # a page (the e-mailed links)
                assert content == {"text/html": {"schema": {"type": "string"}}}, f"{method} {path}"
                continue
            name = model_of(content["application/json"]["schema"])
            props = schemas[name].get("properties")
            assert props, f"{method} {path} {status}: {name} has no properties"
            untyped = [k for k, v in props.items() if not ({"type", "$ref", "anyOf", "allOf", "enum"} & set(v))]
            assert not untyped, f"{name}: untyped fields {untyped}"


def test_errors_are_problem_json_and_fastapi_validation_error_is_gone(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert {"type", "title", "status", "detail", "errors"} <= set(schemas["Problem"]["properties"])
    for path, method, op in operations(doc):
        for status, answer in op["responses"].items():
            if int(status) < 400 or path == "/readyz":  # /readyz answers 503 with its Ready body
                continue
            assert answer["content"] == {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}}, (
                f"{method} {path} {status}"
            )
    want = {
        ("/v1/search", "get"): {"400", "422", "503"},
        ("/v1/papers/{paper_id}", "get"): {"404"},
        ("/v1/topics/{topic_id}", "get"): {"404", "422"},
        ("/v1/events", "post"): {"400", "401", "403", "413", "415", "422", "429"},
        ("/v1/recommendations", "post"): {"404", "413", "415", "422"},
        ("/v1/papers", "post"): {"401", "403", "413", "415", "422", "429", "503"},
        ("/v1/keys", "post"): {"401", "403", "415", "422"},
        ("/v1/keys/{key_id}", "delete"): {"401", "403", "404"},
        ("/v1/subscriptions", "post"): {"401", "403", "415", "422", "429"},
        ("/v1/subscriptions/{subscription_id}", "get"): {"401", "403", "404", "422"},
        ("/v1/subscriptions/{subscription_id}/deliveries", "get"): {"401", "403", "404", "422"},
        ("/v1/subscriptions/{subscription_id}/unsubscribe", "post"): {"404", "422"},
        ("/v1/digests/send", "post"): {"401", "403"},
        ("/v1/subscriptions/email", "post"): {"415", "422", "429"},
    }
    for (path, method), statuses in want.items():
        assert statuses <= set(doc["paths"][path][method]["responses"]), (path, statuses)


def test_settings_bounds_are_in_the_document(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][1]["maxItems"] == 77
    sizes = [
        p
        for _, _, op in operations(doc)
        for p in op.get("parameters", [])
        if (p["name"] == "size" and "max_page_size" in str(p)) or p.get("description", "").startswith("results per")
    ]
    assert len(sizes) >= 6 and all(p["schema"]["maximum"] == 100 for p in sizes)
    assert "x-paperwire" not in str(doc), "a mark was left in the document"


def test_keys_and_quotas_are_in_the_document(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearerKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key (POST /v1/keys with the master key), or the master key",
    }
    for path, method, op in operations(doc):
        if path in ("/healthz", "/readyz"):
            assert "401" not in op["responses"] and "security" not in op, "probes need no key and spend no quota"
            continue
        answers = op["responses"]
        assert {"401", "429"} <= set(answers), (method, path)
        assert "WWW-Authenticate" in answers["401"]["headers"] and "Retry-After" in answers["429"]["headers"]
        for status, answer in answers.items():
            if status != "401":
                assert {"RateLimit", "RateLimit-Policy"} <= set(answer["headers"]), (method, path, status)
        writes = "403" in answers
        assert op["security"] == ([{"bearerKey": []}] if writes else [{}, {"bearerKey": []}]), (method, path)
    assert doc["paths"]["/v1/events"]["post"]["security"] == [{"bearerKey": []}]
    assert doc["paths"]["/v1/search"]["get"]["security"] == [{}, {"bearerKey": []}], "reads are public by default"
