from __future__ import annotations

import pytest

from paperwire_common.search.query import BoolQuery, Clause, QuerySyntaxError, check_date, parse


def test_terms_phrases_signs_and_fields() -> None:
    q = parse('graph "neural network" +attention -survey title:transformer code:yes')
    assert q.should == [Clause("graph"), Clause("neural network", None, True)]
    assert q.must == [Clause("attention"), Clause("transformer", "title"), Clause("yes", "has_code")]
    assert q.must_not == [Clause("survey")]
    assert q.positive_text() == "graph neural network attention transformer"


def test_empty_query_is_empty() -> None:
    assert parse("   ").empty
    assert parse("").empty


def test_and_or_not_with_precedence() -> None:
    # NOT binds tightest, then AND, then OR, then juxtaposition (a ranked OR)
    assert parse("a AND b") == BoolQuery(must=[Clause("a"), Clause("b")])
    assert parse("a OR b") == BoolQuery(should=[Clause("a"), Clause("b")])
    assert parse("a OR b AND c") == BoolQuery(should=[Clause("a"), BoolQuery(must=[Clause("b"), Clause("c")])])
    assert parse("a AND NOT b") == BoolQuery(must=[Clause("a")], must_not=[Clause("b")])
    assert parse("a b AND c") == BoolQuery(should=[Clause("a"), BoolQuery(must=[Clause("b"), Clause("c")])])
    assert parse("NOT a") == BoolQuery(must_not=[Clause("a")])
    assert parse("NOT NOT a") == BoolQuery(must=[Clause("a")])


def test_parentheses_group_and_flatten() -> None:
    assert parse("(a OR b) AND c") == BoolQuery(must=[BoolQuery(should=[Clause("a"), Clause("b")]), Clause("c")])
    assert parse("a OR (b OR c)") == BoolQuery(should=[Clause("a"), Clause("b"), Clause("c")])
    assert parse("a AND (b AND -c)") == BoolQuery(must=[Clause("a"), Clause("b")], must_not=[Clause("c")])
    assert parse("((((a))))") == BoolQuery(should=[Clause("a")])
    assert parse("-(a OR b) c") == BoolQuery(
        should=[Clause("c")], must_not=[BoolQuery(should=[Clause("a"), Clause("b")])]
    )
    assert parse("+(a b)") == BoolQuery(must=[BoolQuery(should=[Clause("a"), Clause("b")])])
    # a negated operand of OR means "or anything without it"
    assert parse("a OR -b") == BoolQuery(should=[Clause("a"), BoolQuery(must_not=[Clause("b")])])


def test_lower_case_operators_are_words_and_lone_signs_are_punctuation() -> None:
    assert parse("cats and dogs") == BoolQuery(should=[Clause("cats"), Clause("and"), Clause("dogs")])
    assert parse("covid - 19") == BoolQuery(should=[Clause("covid"), Clause("19")])
    assert parse("a & b").should == [Clause("a"), Clause("b")]


def test_fielded_values_and_phrases() -> None:
    q = parse('author:"Jane Doe" method:"graph attention" dataset:MNIST topic:nlp source:arxiv -code:no')
    assert q.must == [
        Clause("Jane Doe", "authors", True),
        Clause("graph attention", "methods", True),
        Clause("MNIST", "datasets"),
        Clause("nlp", "topics"),
        Clause("arxiv", "source"),
    ]
    assert q.must_not == [Clause("no", "has_code")]
    assert not Clause("no", "has_code").yes and Clause("YES", "has_code").yes
    assert parse("TITLE:x").must == [Clause("x", "title")]  # field names are case-insensitive
    assert parse("a OR title:b") == BoolQuery(should=[Clause("a"), Clause("b", "title")])  # OR'ed: not required


def test_positive_text_skips_negations_and_keyword_fields() -> None:
    q = parse('(graph OR "neural net") AND NOT survey title:gnn topic:ml author:smith')
    assert q.positive_text() == "graph neural net gnn"


@pytest.mark.parametrize(
    ("q", "msg"),
    [
        ('"open', "unbalanced quote"),
        ('title:"open', "unbalanced quote"),
        ("color:red", r"unknown field 'color'; known fields: abstract:, author:, code:, dataset:"),
        ("x" * 10_000, "limit is 1000"),
        ("(a OR b", r"unbalanced parentheses: the '\(' at character 1 is never closed"),
        ("a OR b)", r"unbalanced parentheses: '\)' at character 7 has no '\('"),
        ("a AND", "dangling operator: AND needs a term after it"),
        ("OR b", "dangling operator: OR needs a term before it"),
        ("a OR OR b", "dangling operator: OR needs a term after it"),
        ("a AND OR b", "dangling operator: AND needs a term after it"),
        ("NOT", "dangling operator: NOT needs a term after it"),
        ("(a AND)", "dangling operator: AND needs a term after it"),
        ("a ()", "empty parentheses at character 3"),
        ("(" * 11 + "a" + ")" * 11, "nested deeper than 10 levels"),
        ("title: x", "title: needs a value right after the colon"),
        ("code:maybe", "code: takes yes or no"),
    ],
)
def test_errors_say_what_is_wrong(q: str, msg: str) -> None:
    with pytest.raises(QuerySyntaxError, match=msg):
        parse(q)


def test_ten_levels_of_nesting_are_fine() -> None:
    assert parse("(" * 10 + "a" + ")" * 10) == BoolQuery(should=[Clause("a")])


def test_exactly_1000_characters_is_fine() -> None:
    assert parse("x" * 1000).should == [Clause("x" * 1000)]


def test_check_date() -> None:
    assert check_date("2024-02-29", "date_to").isoformat() == "2024-02-29"
    with pytest.raises(QuerySyntaxError, match="date_to must be a date like"):
        check_date("2024-02-30", "date_to")
