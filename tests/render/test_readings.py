"""Each sentence a page prints, on summaries whose answer is known."""

import numpy as np

from generator.render.readings.attention import decision_reading
from generator.render.readings.agent import counterfactual_reading
from generator.render.readings.interventions import (heads_reading, interactions_reading, patching_reading,
                                                     scaling_no_effect, scaling_reading, transplant_heads_reading,
                                                     transplant_reading)
from generator.render.readings.words import ci_words, share
from generator.results.compositional import CompositionalSummary, PairInteraction
from generator.results.agent import AgentSummary
from generator.results.head_ablation import HeadAblationSummary, SpecificHead, TopHead
from generator.results.patching import PatchingSummary
from generator.results.scaling import ScalingSummary
from generator.results.statistics import RateWithCI
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


def test_the_unablated_first_choice_is_a_count_with_its_interval():
    """It printed the bare rate ("first choice without ablation in: 1")."""
    import dataclasses

    from generator.render.sections.head_ablation import baseline_share

    assert baseline_share(heads(False)) == "24 of 24 (100%, 95% CI 86%–100%)"
    assert baseline_share(dataclasses.replace(heads(False), baseline_correct_rate=23 / 24)) == \
        "23 of 24 (96%, 95% CI 80%–99%)"
    assert baseline_share(dataclasses.replace(heads(False), n_scored=0, baseline_correct_rate=None)) == "none measured"


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


def test_no_effect_is_judged_by_the_adjusted_tests_not_a_threshold():
    nothing = scaling(((((15, 1, 0, 0), (14, 2, 0, 0)),)), p=((0.5, 0.25),))
    assert scaling_no_effect(nothing) == (
        "No effect detected: no setting changes the behaviour item by item beyond chance (smallest p = 0.25, "
        "Holm-adjusted over 2 tests; n = 16 informative items): a negative result at this n, where effects on a "
        "few items cannot be ruled out.")
    assert scaling_no_effect(scaling((((4, 12, 0, 0), (16, 0, 0, 0)),), p=((0.001, 1.0),))) is None
    old = ScalingSummary("field:bug_answer", ("L0 attn_out",), (0.0,), 16, 1.0, ((0.95,),), 0.05)
    assert "cannot be told: inconclusive" in scaling_no_effect(old)


def test_single_heads_name_the_best_transplant_and_say_it_was_chosen():
    rows = ("layer 0", "layer 1", "all layers")
    heads = (((0.0, 0.0), (0.0, 0.0)), ((0.0, 0.0625), (0.25, 0.0)))
    found = TransplantSummary("P: {question}", "Q: {question}", rows, 24, 16, ((0.0, 0.0),) * 3, heads)
    assert transplant_heads_reading(found) == (
        "One head alone flips at most 4 of 16 (25%, 95% CI 10%–49%) informative items: L1H1, clean → corrupted "
        "(the largest of 8 head-and-direction transplants, chosen after looking).")
    none = TransplantSummary("P: {question}", "Q: {question}", rows, 24, 16, ((0.0, 0.0),) * 3,
                             (((0.0, 0.0),) * 2,) * 2)
    assert "No single head's weights flip any of the 16" in transplant_heads_reading(none)
    assert transplant_heads_reading(TransplantSummary("a", "b", rows, 24, 16, ((0.0, 0.0),) * 3)) is None


def test_patching_names_the_patch_with_most_flips_and_ties():
    def cell(k):
        return RateWithCI(k, 16, k / 16, 0.0, 1.0)

    grid = ((cell(0), cell(3)), (cell(16), cell(16)))
    summary = PatchingSummary(("attn_out", "mlp_out"), "differing", "a", "b", 20, 16,
                              tuple(tuple(c.rate for c in row) for row in grid), grid)
    assert patching_reading(summary) == ("Patching layer 1 attn_out and layer 1 mlp_out flips the most: 16 of 16 "
                                         "(100%, 95% CI 81%–100%) informative items each (of 4 patches).")
    zero = PatchingSummary(("attn_out",), "last", "a", "b", 20, 16, ((0.0,),), ((cell(0),),))
    assert patching_reading(zero).endswith("a flip rate up to 19% cannot be ruled out).")


def test_the_counterfactual_check_reads_as_a_share_with_its_interval():
    summary = AgentSummary(12, 12, 0, 24, 0, 10, 9, {})
    assert counterfactual_reading(summary) == ("In 9 of 10 (90%, 95% CI 60%–98%) runs whose last numeric observation "
                                               "was replaced by another number, the answer became that number.")
    assert "inconclusive" in counterfactual_reading(AgentSummary(1, 1, 0, 0, 0, 0, 0, {}))


def test_entropy_names_the_extreme_layers_with_intervals_clipped_at_zero():
    from generator.intervals import t_interval
    from generator.render.readings.attention import entropy_reading
    from generator.results.attention import AttentionSummary

    per_example = np.array([[0.9, 2.6], [1.1, 2.7], [1.0, 2.65]])  # examples x layers
    summary = AttentionSummary(3, tuple(per_example.mean(0)), tuple(per_example.std(0)), ((0.0,),))
    low, high = t_interval(per_example[:, 0])
    assert entropy_reading(summary) == (
        f"Attention is most focused at layer 0 (1.00 nats, 95% CI {low:.2f}–{high:.2f}) and most diffuse at layer 1 "
        f"(2.65 nats, 95% CI {t_interval(per_example[:, 1])[0]:.2f}–{t_interval(per_example[:, 1])[1]:.2f}); n = 3 "
        "examples, each averaged over its heads and query tokens.")
    two = AttentionSummary(2, (0.5, 0.6), (0.4, 0.4), ((0.0,),))
    reading = entropy_reading(two)
    assert "95% CI 0.00–" in reading and reading.endswith("so which layer is more focused is inconclusive.")
