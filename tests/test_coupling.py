"""flowlab.coupling: the lesson tools around lab 03's RealNVP (permutations, timing)."""

import numpy as np

from flowlab import coupling


def test_reversals_and_random_permutations():
    assert [p.tolist() for p in coupling.reversals(4, 2)] == [[3, 2, 1, 0]] * 2
    first, second = coupling.random_permutations(6, 2, seed=0)
    assert sorted(first) == list(range(6)) and not np.array_equal(first, second)
    np.testing.assert_array_equal(coupling.random_permutations(6, 2, seed=0)[1], second)


def test_cost_reports_both_directions():
    rows = coupling.cost({"MAF": coupling.maf_flow(2, 2, hidden_units=[8, 8])}, points=100, repeats=1)
    assert rows[0]["flow"] == "MAF"
    assert rows[0]["log_prob_seconds"] > 0 and rows[0]["sample_seconds"] > 0


def test_the_reference_realnvp_is_not_in_the_package():
    # Students could call it instead of writing tasks 2 and 3 (issue 10).
    for name in ("shift_and_log_scale_network", "realnvp_chain", "realnvp_flow"):
        assert not hasattr(coupling, name)
