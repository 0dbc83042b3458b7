from __future__ import annotations

import pytest

from paperwire_common.search.query import Clause, QuerySyntaxError, parse


def test_terms_phrases_signs_and_fields() -> None:
    q = parse('graph "neural network" +attention -survey title:transformer code:yes')
    assert q.should == [Clause("graph"), Clause("neural network", None, True)]
    assert q.must == [Clause("attention"), Clause("transformer", "title"), Clause("yes", "has_code")]
    assert q.must_not == [Clause("survey")]
    assert q.positive_text() == "graph neural network attention transformer"


def test_empty_query_is_empty() -> None:
    assert parse("   ").empty


@pytest.mark.parametrize(
    ("q", "msg"),
    [('"open', "unbalanced quote"), ("color:red", "unknown field"), ("x" * 10_000, "limit is 1000")],
)
def test_errors_say_what_is_wrong(q: str, msg: str) -> None:
    with pytest.raises(QuerySyntaxError, match=msg):
        parse(q)
