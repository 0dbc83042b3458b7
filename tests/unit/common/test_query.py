from __future__ import annotations

import pytest

from paperwire_common.search.query import BoolQuery, Clause, QuerySyntaxError, check_date, parse


def test_terms_phrases_signs_and_fields() -> None:
    pq = parse('graph "neural network" +attention -survey title:transformer code:yes')
    q = pq.root
    assert q.should == [Clause("graph")]
    # quoted phrases are required, like fielded terms and +terms
    assert q.must == [
        Clause("neural network", None, True),
        Clause("attention"),
        Clause("transformer", "title"),
        Clause("yes", "has_code"),
    ]
    assert q.must_not == [Clause("survey")]
    assert pq.text == "graph neural network attention transformer"
    assert pq.constraints == BoolQuery(must=q.must, must_not=q.must_not) and pq.requires_text
    assert not parse("graph code:yes topic:nlp").requires_text  # filters only: no text is required


def test_empty_query_is_empty() -> None:
    assert parse("   ").empty
    assert parse("").empty
    assert parse("").constraints.empty


def test_and_or_not_with_precedence() -> None:
    # NOT binds tightest, then AND, then OR, then juxtaposition (a ranked OR)
    assert parse("u AND v").root == BoolQuery(must=[Clause("u"), Clause("v")])
    assert parse("u OR v").root == BoolQuery(should=[Clause("u"), Clause("v")])
    assert parse("u OR v AND w").root == BoolQuery(should=[Clause("u"), BoolQuery(must=[Clause("v"), Clause("w")])])
    assert parse("u AND NOT v").root == BoolQuery(must=[Clause("u")], must_not=[Clause("v")])
    assert parse("u v AND w").root == BoolQuery(should=[Clause("u"), BoolQuery(must=[Clause("v"), Clause("w")])])
    assert parse("NOT u").root == BoolQuery(must_not=[Clause("u")])
    assert parse("NOT NOT u").root == BoolQuery(must=[Clause("u")])


def test_parentheses_group_and_flatten() -> None:
    assert parse("(u OR v) AND w").root == BoolQuery(must=[BoolQuery(should=[Clause("u"), Clause("v")]), Clause("w")])
    assert parse("u OR (v OR w)").root == BoolQuery(should=[Clause("u"), Clause("v"), Clause("w")])
    assert parse("u AND (v AND -w)").root == BoolQuery(must=[Clause("u"), Clause("v")], must_not=[Clause("w")])
    assert parse("((((u))))").root == BoolQuery(should=[Clause("u")])
    assert parse("-(u OR v) w").root == BoolQuery(
        should=[Clause("w")], must_not=[BoolQuery(should=[Clause("u"), Clause("v")])]
    )
    assert parse("+(u v)").root == BoolQuery(must=[BoolQuery(should=[Clause("u"), Clause("v")])])
    # a negated operand of OR means "or anything without it"
    assert parse("u OR -v").root == BoolQuery(should=[Clause("u"), BoolQuery(must_not=[Clause("v")])])


def test_lower_case_operators_are_words_and_lone_signs_are_punctuation() -> None:
    assert parse("cats and dogs").root == BoolQuery(should=[Clause("cats"), Clause("dogs")])  # "and": a stop word
    assert parse("covid - 19").root == BoolQuery(should=[Clause("covid"), Clause("19")])
    assert parse("x & y").root.should == [Clause("x"), Clause("y")]


def test_fielded_values_and_phrases() -> None:
    q = parse('author:"Jane Doe" method:"graph attention" dataset:MNIST topic:nlp source:arxiv -code:no').root
    assert q.must == [
        Clause("Jane Doe", "authors", True),
        Clause("graph attention", "methods", True),
        Clause("MNIST", "datasets"),
        Clause("nlp", "topics"),
        Clause("arxiv", "source"),
    ]
    assert q.must_not == [Clause("no", "has_code")]
    assert not Clause("no", "has_code").yes and Clause("YES", "has_code").yes
    assert parse("TITLE:x").root.must == [Clause("x", "title")]  # field names are case-insensitive
    assert parse("x OR title:y").root == BoolQuery(should=[Clause("x"), Clause("y", "title")])  # OR'ed: not required


def test_positive_text_skips_negations_and_keyword_fields() -> None:
    q = parse('(graph OR "neural net") AND NOT survey title:gnn topic:ml author:smith')
    assert q.text == "graph neural net gnn"


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
    assert parse("(" * 10 + "u" + ")" * 10).root == BoolQuery(should=[Clause("u")])


def test_exactly_1000_characters_is_fine() -> None:
    assert parse("x" * 1000).root.should == [Clause("x" * 1000)]


def test_check_date() -> None:
    assert check_date("2024-02-29", "date_to").isoformat() == "2024-02-29"
    with pytest.raises(QuerySyntaxError, match="date_to must be a date like"):
        check_date("2024-02-30", "date_to")


def test_repeated_terms_collapse_and_stop_words_do_not_match_alone() -> None:
    q = parse(" ".join(["a"] * 500))
    assert q.root == BoolQuery(should=[Clause("a")])  # only stop words: they are all there is to match
    assert parse("Graph graph GRAPH -x -x").root == BoolQuery(should=[Clause("Graph")], must_not=[Clause("x")])
    assert parse("(a b) (a b)").root == BoolQuery(should=[Clause("b")])  # flattened, "a" dropped, "b" once
    moe = parse("mixture of experts")
    assert moe.root == BoolQuery(should=[Clause("mixture"), Clause("experts")])
    assert moe.text == "mixture of experts"  # the encoder reads the query as written
    assert parse("+the cat").root.must == [Clause("the")]  # a required stop word stays required


def test_title_phrase_and_text_keep_the_users_words_in_order() -> None:
    q = parse("Language Models as Agent Models")
    assert q.title_phrase == "Language Models as Agent Models"
    assert q.text == "Language Models as Agent Models"
    assert q.title_query() is not None and q.title_query().root.must == [  # type: ignore[union-attr]
        Clause("Language Models as Agent Models", "title", True)
    ]
    assert parse("mamba").title_phrase is None and parse("mamba").title_query() is None
    assert parse('"time series" forecasting -llm').title_phrase == "time series forecasting"
    assert parse(" ".join(["word"] * 17)).title_phrase is None  # too long to be a title
