"""Each sentence a page prints, on summaries whose answer is known."""

from generator.render.readings import (ci_words, decision_reading, heads_reading, interactions_reading, scaling_reading,
                                      share, transplant_reading)
from generator.results.compositional import CompositionalSummary, PairInteraction
from generator.results.head_ablation import HeadAblationSummary, SpecificHead, TopHead
from generator.results.scaling import ScalingSummary
from generator.results.token_classes import FormatDifference, TokenClassesSummary
from generator.results.transplant import TransplantSummary


def scaling(counts, baseline=(16, 0, 0, 0), p=((0.04, 1.0),), behaviour="field:bug_answer") -> ScalingSummary:
    rate = tuple(tuple(cell[0] / 16 for cell in row) for row in counts)
    largest = max(abs(r - baseline[0] / 16) for row in rate for r in row)
    return ScalingSummary(behaviour, ("L0 attn_out",), (0.0, 0.5), 16, baseline[0] / 16, rate, largest,
                          counts, 16, baseline, p)


def test_share_names_count_n_and_wilson_interval():
    assert share(5, 16) == "5 of 16 (31%, 95% CI 14%–56%)"


def test_no_valid_answer_is_never_read_as_a_fix():
    reading = scaling_reading(scaling((((0, 0, 0, 16), (10, 6, 0, 0)),)))
    assert reading.startswith("Most fixed: L0 attn_out × 0.5 gives the expected answer on 6 of 16")
    assert "L0 attn_out × 0 gives no valid answer on 16 of 16" in reading and "not fixes" in reading
    assert "inconclusive" in reading  # its adjusted p is 1.0


def test_a_significant_fix_is_not_called_inconclusive_and_none_at_all_is_said():
    fixed = scaling_reading(scaling((((4, 12, 0, 0), (16, 0, 0, 0)),), p=((0.001, 1.0),)))
    assert "12 of 16" in fixed and "p = 0.001, Holm-adjusted over 2 tests" in fixed and "inconclusive" not in fixed
    nothing = scaling_reading(scaling((((16, 0, 0, 0), (15, 0, 1, 0)),)))
    assert nothing == "No scaling gives the expected answer on any of the 16 informative items."


def test_a_run_from_before_outcomes_says_what_it_cannot_tell():
    old = ScalingSummary("field:bug_answer", ("L0 attn_out",), (0.0,), 16, 1.0, ((0.0,),), 1.0)
    assert "may also mean no valid answer" in scaling_reading(old)


def heads(specific: bool) -> HeadAblationSummary:
    grid = ((-14.0, 0.0), (0.0, -12.7))
    top = (TopHead(0, 0, -14.0, 0.0, -15.0, -13.0, 1e-6), TopHead(1, 1, -12.7, 0.1, -15.8, -9.6, 1e-5))
    spec = (SpecificHead(1, 1, -12.9, 9.2, -22.1, -25.5, -18.6, 1e-6),
            SpecificHead(0, 0, -14.6, -11.9, -2.7, -6.0, 0.6, 0.4)) if specific else ()
    return HeadAblationSummary("zero", 24, 1.0, grid, ((0.0, 1.0), (1.0, 0.1)), top, "field:bug_answer",
                               "Q: {question}", ((-11.9, 0.0), (0.0, 9.2)) if specific else None,
                               16 if specific else None, spec)


def test_heads_reading_names_the_specific_head_and_why_the_strongest_is_not():
    reading = heads_reading(heads(True))
    assert reading.startswith("Ablating L0H0 costs the answer in field 'bug_answer' most: -14 nats (95% CI -15 to -13")
    assert "Holm-adjusted over 4 tests" in reading
    assert "L0H0 is not specific: on the informative items it changes the expected answer by -11.9 nats too" in reading
    assert "Most specific to it: L1H1 changes that answer by -12.9 nats and the expected answer by +9.2" in reading
    assert "inconclusive" not in reading
    assert "specific" not in heads_reading(heads(False))


def test_an_interval_containing_zero_reads_inconclusive():
    assert ci_words((-0.1, 0.3)) == "95% CI -0.1 to +0.3, inconclusive"
    assert ci_words((0.1, 0.3)) == "95% CI +0.1 to +0.3"


def test_decision_reading_reports_the_paired_difference_and_that_it_was_chosen():
    summary = TokenClassesSummary(("digits", "point"), "answer", 24, (), (), (), (),
                                  FormatDifference("point", 1, "plain", "qa", 0.41, 0.12, -0.35, -0.2, 16, 36))
    reading = decision_reading(summary)
    assert "n = 16 items), attention to 'point' at layer 1 differs most: plain 0.41, qa 0.12 (difference -0.29" in reading
    assert "largest of 36" in reading
    assert decision_reading(TokenClassesSummary(("d",), "answer", 1, (), ())) is None


def test_transplant_reads_counts_with_intervals_and_a_null_says_what_it_cannot_rule_out():
    rows = ("layer 0", "layer 1", "all layers")
    found = TransplantSummary("P: {question}", "Q: {question}", rows, 24, 16, ((0.0, 0.0), (0.3125, 0.25), (1.0, 1.0)))
    assert transplant_reading(found) == ("Layer 1 alone flips 5 of 16 (31%, 95% CI 14%–56%) (clean → corrupted) and "
                                         "4 of 16 (25%, 95% CI 10%–49%) (corrupted → clean) of the informative items.")
    none = TransplantSummary("P: {question}", "Q: {question}", rows, 24, 16, ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0)))
    assert transplant_reading(none).endswith("a flip rate up to 19% cannot be ruled out).")


def test_interactions_that_look_strong_but_include_zero_read_inconclusive():
    """The reviewer's case: +1.09 and -2.21 look strong in colour, but their intervals contain zero (p about 0.07)."""
    def summary(pairs):
        return CompositionalSummary(0, 24, (-1.0, -2.0, -3.0), ((None,) * 3,) * 3, pairs)

    weak = summary((PairInteraction(1, 2, 24, 1.09, -0.1, 2.3, 0.2), PairInteraction(1, 3, 24, -2.21, -4.6, 0.2, 0.21)))
    assert interactions_reading(weak) == (
        "Inconclusive: no pair's interaction can be told from zero. The largest, steps 1 and 3, is -2.21 (bootstrap "
        "95% CI -4.6 to +0.2, inconclusive; p = 0.21, Holm-adjusted over 2 tests; n = 24).")
    strong = summary((PairInteraction(1, 2, 24, -3.0, -4.0, -2.0, 0.001), PairInteraction(1, 3, 24, 0.1, -0.5, 0.7, 1.0)))
    assert interactions_reading(strong).startswith("Interactions distinguishable from zero: steps 1 and 2: -3 (")
    assert interactions_reading(summary(())) is None
