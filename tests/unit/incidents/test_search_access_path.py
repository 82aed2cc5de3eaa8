"""The embedded search's choice of access path (tables.search_plan, pure): read every match
through the indexes when few incidents match, else walk the newest first."""

import pytest

from soc_platform.incidents.tables import SEARCH_WINDOW_MIN, SearchStats, SearchTerms, search_plan


def test_no_free_text_or_no_statistics_leaves_the_choice_to_the_planner() -> None:
    assert search_plan(SearchTerms(None, None, 100_000.0), 20) is None
    assert search_plan(SearchTerms("'block':*", 0.7, None), 20) is None  # never analysed


def test_rare_words_read_their_matches_through_the_index() -> None:
    # 485 of 100,000 (an IP prefix like "45.23"): below sqrt(20 * 100,000 / 3) = 816
    assert search_plan(SearchTerms("'45.23':*", 485 / 100_000, 100_000.0), 20) is None


def test_common_words_walk_a_window_sized_to_hold_twice_the_limit() -> None:
    # 20,000 of 100,000 match ("192.168"): 2 * 20 / 0.2 = 200 incidents hold ~40 matches
    assert search_plan(SearchTerms("'192.168':*", 0.2, 100_000.0), 20) == 200
    # a word in every incident: the smallest window
    assert search_plan(SearchTerms("'block':*", 1.0, 100_000.0), 20) == SEARCH_WINDOW_MIN
    # an unknown share (a typo's similar words) counts as every incident
    assert search_plan(SearchTerms("'inject':*", None, 100_000.0), 20) == SEARCH_WINDOW_MIN


def test_the_window_grows_as_matches_thin_out_and_the_index_takes_over() -> None:
    windows = [
        search_plan(SearchTerms("'x':*", share, 1_000_000.0), 20)
        for share in (1.0, 0.1, 0.01, 0.005, 0.003)
    ]
    assert windows == [100, 400, 4000, 8000, 13334]
    # at 1,000,000 incidents the index wins below sqrt(20e6 / 3) = 2,582 matches
    assert search_plan(SearchTerms("'x':*", 0.0025, 1_000_000.0), 20) is None


def test_a_words_share_is_the_larger_of_its_common_lexemes_and_its_vocabulary() -> None:
    stats = SearchStats(1000.0, {"block": 0.7, "blocker": 0.1, "attempt": 0.99})
    # a common word: the frequencies of the common lexemes it starts
    assert stats.selectivity(["block"], [2]) == pytest.approx(0.8)
    # a prefix of many rare words ANALYZE does not list: one incident per vocabulary word
    assert stats.selectivity(["192.168"], [300]) == pytest.approx(0.3)
    # a term of several words: its rarest word
    assert stats.selectivity(["attempt", "192.168"], [1, 300]) == pytest.approx(0.3)
    # never above every incident, and no statistics yet: the vocabulary alone
    assert SearchStats(10.0, {"a": 0.9, "ab": 0.9}).selectivity(["a"], [1]) == 1.0
    assert SearchStats(None).selectivity(["x"], [0]) == 0.0
