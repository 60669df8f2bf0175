"""smfq_lib.theory: Theorem 0.11's bound, Lemma 0.9's m*, table sizes and the algorithm rule."""

import itertools
import math

import numpy as np
import pytest

from smfq_lib.theory import (
    TABLE_NAMES,
    gap_bound,
    gap_bound_log_argument,
    m_star,
    oracle_calls,
    rule_choice,
    table_sizes,
)

# -- gap_bound: hand-computed values ---------------------------------------------------------


def test_gap_bound_simple_case_by_hand():
    # gamma = 1/2 -> (1-gamma)^2 = 1/4; all sizes 1, n = k = 1:
    # log argument = 40 r~ * 1 * 1 * 1 * 1^(3/2) / (1/4) = 160 r~; pick r~ = e/160 so ln(.) = 1.
    # sqrt((n-k+1)/(2nk)) = sqrt(1/2); r~/(1-gamma)^2 = 4 r~ = e/40.
    r = math.e / 160
    assert gap_bound_log_argument(r, 0.5, 1, 1, 1, 1) == pytest.approx(math.e)
    printed = math.e / 40 * math.sqrt(0.5) * 1.0 + 3.0
    scaled = math.e / 40 * (math.sqrt(0.5) * 1.0 + 3.0)
    assert gap_bound(r, 0.5, 1, 1, 1, 1, 1) == pytest.approx(printed, rel=1e-12)
    assert gap_bound(r, 0.5, 1, 1, 1, 1, 1, reading="scaled") == pytest.approx(scaled, rel=1e-12)


def test_gap_bound_general_case_by_hand():
    # r~ = 1, gamma = 1/2, n = 8, k = 2, S_l = 3, A_l = 2, A_g = 5:
    # log argument = 40 * 1 * 3 * 2 * 5 * 2^(2 + 1/2) / (1/4) = 4800 * 2^2.5
    # sqrt((8-2+1)/(2*8*2)) = sqrt(7/32); r~/(1-gamma)^2 = 4; last term 3/sqrt(2).
    arg = 4800 * 2**2.5
    first = 4 * math.sqrt(7 / 32) * math.sqrt(math.log(arg))
    assert gap_bound_log_argument(1.0, 0.5, 2, 3, 2, 5) == pytest.approx(arg, rel=1e-12)
    assert gap_bound(1.0, 0.5, 8, 2, 3, 2, 5) == pytest.approx(first + 3 / math.sqrt(2), rel=1e-12)
    assert gap_bound(1.0, 0.5, 8, 2, 3, 2, 5, reading="scaled") == pytest.approx(
        first + 4 * 3 / math.sqrt(2), rel=1e-12
    )


def test_gap_bound_k_equals_n_keeps_sampling_term():
    # n = k: sqrt((n-k+1)/(2nk)) = sqrt(1/(2 n^2)) = 1/(n sqrt 2), not 0 (the bound as printed).
    n = 10
    arg = 40 * 2.0 * 2 * 2 * 2 * n**2.5 / 0.1**2
    expected = 2.0 / 0.01 * (1 / (n * math.sqrt(2))) * math.sqrt(math.log(arg)) + 3 / math.sqrt(n)
    assert gap_bound(2.0, 0.9, n, n, 2, 2, 2) == pytest.approx(expected, rel=1e-12)


# -- gap_bound: shape ------------------------------------------------------------------------


@pytest.mark.parametrize("reading", ["printed", "scaled"])
@pytest.mark.parametrize(
    "r_tilde, gamma, S_l, A_l, A_g",
    [(1.0, 0.9, 2, 2, 2), (1.0, 0.99, 3, 4, 5), (10.0, 0.5, 1, 1, 1)],
)
def test_gap_bound_decreasing_in_k(reading, r_tilde, gamma, S_l, A_l, A_g):
    for n in (2, 7, 50, 300):
        values = [
            gap_bound(r_tilde, gamma, n, k, S_l, A_l, A_g, reading=reading) for k in range(1, n + 1)
        ]
        assert all(a > b for a, b in itertools.pairwise(values)), (n, values)


def test_printed_below_scaled_when_scale_exceeds_one():
    cases = [(1.0, 0.5, 8, 3), (1.0, 0.9, 100, 10), (5.0, 0.2, 20, 20), (0.5, 0.5, 4, 1)]
    for r, g, n, k in cases:
        assert r / (1 - g) ** 2 > 1
        printed = gap_bound(r, g, n, k, 2, 3, 2)
        scaled = gap_bound(r, g, n, k, 2, 3, 2, reading="scaled")
        assert printed < scaled
        # they differ exactly in the last term: (scale - 1) * 3/sqrt(k)
        assert scaled - printed == pytest.approx((r / (1 - g) ** 2 - 1) * 3 / math.sqrt(k))
    # and the order flips when r~/(1-gamma)^2 < 1
    assert gap_bound(0.1, 0.5, 8, 3, 2, 3, 2) > gap_bound(0.1, 0.5, 8, 3, 2, 3, 2, reading="scaled")


def test_gap_bound_domain_of_the_logarithm():
    with pytest.raises(ValueError, match="r_tilde=0.0 puts the log argument"):
        gap_bound(0.0, 0.9, 10, 2, 2, 2, 2)
    # 40 r~ * |S_l||A_l||A_g| k^(A_l+1/2) / (1-g)^2 < 1 with r~ = 1e-5, gamma = 0.1, sizes 1, k = 1
    with pytest.raises(ValueError, match="below 1"):
        gap_bound(1e-5, 0.1, 1, 1, 1, 1, 1)
    # every r~ >= 1/40 is inside the domain whatever the other arguments
    assert gap_bound(1 / 40, 1e-9, 1, 1, 1, 1, 1) == pytest.approx(3.0, abs=1e-3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"r_tilde": -1.0}, "r_tilde"),
        ({"r_tilde": float("nan")}, "r_tilde"),
        ({"r_tilde": "1"}, "r_tilde"),
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": 0.0}, "gamma"),
        ({"n": 0}, "n"),
        ({"n": 2.5}, "n"),
        ({"k": 0}, "k"),
        ({"k": 11}, "k"),
        ({"S_l": 0}, "S_l"),
        ({"A_l": 0}, "A_l"),
        ({"A_g": 0}, "A_g"),
        ({"reading": "other"}, "reading"),
    ],
)
def test_gap_bound_validation(kwargs, name):
    args = dict(r_tilde=1.0, gamma=0.9, n=10, k=3, S_l=2, A_l=2, A_g=2)
    reading = kwargs.pop("reading", "printed")
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        gap_bound(**args, reading=reading)


# -- m_star ----------------------------------------------------------------------------------


def test_m_star_by_hand():
    # S_g = A_g = S_l = A_l = 2 (product 16), k = 1, gamma = 1/2:
    # 2 * 16 * 1 / (1/32) * ln 16 * ln 4 = 1024 ln(16) ln(4)
    assert m_star(2, 2, 2, 2, 1, 0.5) == pytest.approx(1024 * math.log(16) * math.log(4), rel=1e-12)
    # k = 4 multiplies by 4^(2.5 + 4) = 2^13
    assert m_star(2, 2, 2, 2, 4, 0.5) == pytest.approx(
        2**13 * 1024 * math.log(16) * math.log(4), rel=1e-12
    )
    # all sizes 1: log(1) = 0
    assert m_star(1, 1, 1, 1, 5, 0.9) == 0.0


def test_m_star_increasing_in_k_and_gamma():
    values = [m_star(2, 3, 2, 2, k, 0.9) for k in range(1, 60)]
    assert all(a < b for a, b in itertools.pairwise(values))
    by_gamma = [m_star(2, 3, 2, 2, 5, g) for g in (0.5, 0.7, 0.9, 0.99)]
    assert all(a < b for a, b in itertools.pairwise(by_gamma))
    assert m_star(10, 10, 10, 10, 1000, 0.99) == math.inf


@pytest.mark.parametrize("bad", ["S_g", "A_g", "S_l", "A_l", "k"])
def test_m_star_validation(bad):
    args = dict(S_g=2, A_g=2, S_l=2, A_l=2, k=3, gamma=0.9)
    args[bad] = 0
    with pytest.raises(ValueError, match=bad):
        m_star(**args)
    with pytest.raises(ValueError, match="gamma"):
        m_star(2, 2, 2, 2, 3, 1.5)


# -- table sizes against brute-force counting ------------------------------------------------


def _brute_counts(S_g, S_l, A_g, A_l, n):
    """Count distinct tabular and mean-field keys by enumerating every joint state and action."""
    tabular = 0
    mean_field = set()
    for s_g, a_g in itertools.product(range(S_g), range(A_g)):
        for s in itertools.product(range(S_l), repeat=n):
            for a in itertools.product(range(A_l), repeat=n):
                tabular += 1
                others = tuple(sorted(zip(s[1:], a[1:], strict=True)))  # F_{z_[n]\1}: the multiset
                mean_field.add((s_g, s[0], a_g, a[0], others))
    return tabular, len(mean_field)


@pytest.mark.parametrize(
    "S_g, S_l, A_g, A_l, n, k",
    [
        (1, 2, 1, 2, 3, 2),
        (2, 2, 1, 1, 4, 3),
        (1, 3, 2, 2, 3, 1),
        (2, 1, 2, 3, 3, 3),
        (1, 2, 1, 2, 5, 4),
    ],
)
def test_table_sizes_match_brute_force(S_g, S_l, A_g, A_l, n, k):
    sizes = table_sizes(S_g, S_l, A_g, A_l, n, k)
    tab_n, mf_n = _brute_counts(S_g, S_l, A_g, A_l, n)
    tab_k, mf_k = _brute_counts(S_g, S_l, A_g, A_l, k)
    assert sizes["q_learning"] == tab_n
    assert sizes["mean_field"] == mf_n
    assert sizes["alg1"] == tab_k
    assert sizes["alg2"] == mf_k
    Z = S_l * A_l
    assert sizes["mean_field_paper"] == S_g * A_g * Z * n**Z >= sizes["mean_field"]
    assert sizes["rule"] == rule_choice(Z, k)
    assert sizes["subsample_mfq"] == (tab_k if sizes["rule"] == "tabular" else mf_k)
    assert sizes["smaller"] == ("tabular" if tab_k <= mf_k else "mean_field")
    for name in TABLE_NAMES:
        assert isinstance(sizes[name], int)
        assert sizes["log10"][name] == pytest.approx(math.log10(sizes[name]))


def test_table_sizes_exact_for_huge_values():
    sizes = table_sizes(3, 10, 4, 10, 1000, 100)
    assert sizes["q_learning"] == 3 * 4 * 100**1000  # exact Python int, 2001 digits
    assert sizes["log10"]["q_learning"] == pytest.approx(2000 + math.log10(12))
    assert sizes["alg2"] == 3 * 10 * math.comb(99 + 99, 99) * 10 * 4


def test_table_sizes_beyond_4300_digits_keep_log10_only():
    # constrained exploration at n = 10^6: |Z_l|^n has 10^6 log10(45) digits
    sizes = table_sizes(4, 9, 5, 5, 10**6, 3)
    assert sizes["q_learning"] is None
    assert sizes["log10"]["q_learning"] == pytest.approx(math.log10(20) + 10**6 * math.log10(45))
    assert sizes["mean_field"] == 4 * 9 * math.comb(10**6 - 1 + 44, 44) * 5 * 5


@pytest.mark.parametrize("bad", ["S_g", "S_l", "A_g", "A_l", "n", "k"])
def test_table_sizes_validation(bad):
    args = dict(S_g=2, S_l=2, A_g=2, A_l=2, n=5, k=3)
    args[bad] = 0
    with pytest.raises(ValueError, match=bad):
        table_sizes(**args)
    with pytest.raises(ValueError, match="k must satisfy"):
        table_sizes(2, 2, 2, 2, 3, 4)


# -- rule_choice ------------------------------------------------------------------------------


def test_rule_choice_cases():
    # |Z_l| = 4: 4^(k-1) <= k^4 for k <= 6 (1024 <= 1296), fails at k = 7 (4096 > 2401)
    assert [rule_choice(4, k) for k in range(1, 9)] == ["tabular"] * 6 + ["mean_field"] * 2
    # |Z_l| = 2: switches at k = 7 (64 > 49); |Z_l| = 6: at k = 8 (279936 > 262144)
    assert rule_choice(2, 6) == "tabular" and rule_choice(2, 7) == "mean_field"
    assert rule_choice(6, 7) == "tabular" and rule_choice(6, 8) == "mean_field"
    # k = 1 is a tie (1 = 1) and goes to Algorithm 1; |Z_l| = 1 is always tabular
    assert rule_choice(100, 1) == "tabular"
    assert all(rule_choice(1, k) == "tabular" for k in range(1, 50))
    with pytest.raises(ValueError, match="Z_l"):
        rule_choice(0, 3)
    with pytest.raises(ValueError, match="k"):
        rule_choice(4, 0)


def test_rule_differs_from_true_smaller_table():
    # The rule compares k^|Z_l| with |Z_l|^(k-1), but Algorithm 2 has C(k+Z-2, Z-1) compositions,
    # far fewer than k^Z: for Z = 4, k = 3..6 the rule picks Algorithm 1 although Algorithm 2 is
    # smaller (k = 6: 4^5 = 1024 vs C(8, 3) = 56).
    for k in range(3, 7):
        sizes = table_sizes(1, 2, 1, 2, 10, k)
        assert sizes["rule"] == "tabular" and sizes["smaller"] == "mean_field"
        assert sizes["alg1"] > sizes["alg2"]
    k6 = table_sizes(1, 2, 1, 2, 10, 6)
    assert (k6["alg1"], k6["alg2"]) == (4**6, 2 * math.comb(8, 3) * 2)


def test_learners_use_the_same_rule():
    from smfq_lib.learning import choose_algorithm

    for Z in range(1, 30):
        for k in range(1, 60):
            assert choose_algorithm(Z, k, "paper")[0] == rule_choice(Z, k), (Z, k)


# -- huge arguments: log space, no big powers ---------------------------------------------------
def test_rule_choice_matches_exact_integers():
    for Z in range(1, 60):
        for k in range(1, 400):
            exact = "tabular" if Z ** (k - 1) <= k**Z else "mean_field"
            assert rule_choice(Z, k) == exact, (Z, k)


def test_rule_choice_and_table_sizes_at_huge_sizes():
    # these took hours with exact powers (45^(10^8 - 1) has 1.65e8 digits)
    assert rule_choice(45, 10**8) == "mean_field"
    assert rule_choice(2**63 - 1, 2) == "tabular"  # (k-1) ln Z = 43.7 <= Z ln 2
    sizes = table_sizes(2, 3, 2, 2, 10**9, 10**9)
    Z = 6
    assert sizes["q_learning"] is None and sizes["alg1"] is None  # 7.8e8 digits
    assert sizes["log10"]["q_learning"] == pytest.approx(math.log10(4) + 10**9 * math.log10(Z))
    assert sizes["log10"]["alg1"] == pytest.approx(math.log10(4) + 10**9 * math.log10(Z))
    assert sizes["mean_field"] == 24 * math.comb(10**9 - 1 + Z - 1, Z - 1)
    assert sizes["mean_field_paper"] == 24 * (10**9) ** Z
    assert sizes["rule"] == "mean_field" and sizes["subsample_mfq"] == sizes["alg2"]
    assert sizes["smaller"] == "mean_field"


def test_table_sizes_keep_exact_integers_up_to_4300_digits():
    # |Z_l| = 100: Z^n has 2n digits; 2 * 2149 + log10(|S_g||A_g|) < 4300 <= 2 * 2150 + ...
    below, above = table_sizes(1, 10, 1, 10, 2149, 1), table_sizes(1, 10, 1, 10, 2150, 1)
    assert below["q_learning"] == 100**2149 and above["q_learning"] is None
    assert above["log10"]["q_learning"] == pytest.approx(4300.0)
    big = table_sizes(2, 9, 2, 5, 10**6, 10**6)  # C(10^6 + 43, 44): 246 digits, exact
    assert big["alg2"] == big["mean_field"] == 4 * 45 * math.comb(10**6 + 43, 44)
    assert big["log10"]["alg2"] == pytest.approx(math.log10(big["alg2"]), rel=1e-12)


def test_table_sizes_smaller_is_the_multiset_count():
    # C(k+Z-2, Z-1) (multisets of k - 1 cells) <= Z^(k-1) (sequences): equality iff k <= 2, Z = 1
    for Z in range(1, 25):
        for k in range(1, 30):
            exact = "tabular" if Z ** (k - 1) <= math.comb(k + Z - 2, Z - 1) else "mean_field"
            assert table_sizes(1, Z, 1, 1, 40, k)["smaller"] == exact, (Z, k)


@pytest.mark.parametrize("S_g, S_l, A_g, A_l", [(1, 2, 1, 2), (2, 3, 2, 2), (2, 2, 3, 1)])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_oracle_calls_count_every_entry_and_agent(S_g, S_l, A_g, A_l, k):
    """Every entry of the learned Q table (its real shape) draws one global and k local next
    states per sample: counted by enumerating the entries, not by the formula."""
    from brute_force import tiny_system

    from smfq_lib.learning import learn

    system = tiny_system(S_g, S_l, A_g, A_l, seed=1)
    for algorithm in ("tabular", "mean_field"):
        q = learn(system, k, 3, algorithm=algorithm, progress=False)
        entries = sum(1 for _ in np.ndindex(q.Q.shape))
        calls = oracle_calls(S_g, S_l, A_g, A_l, k, 3, algorithm)
        assert calls == {"global": entries * 3, "local": entries * 3 * k}


def test_oracle_calls_refuses_bad_input():
    with pytest.raises(ValueError, match="algorithm"):
        oracle_calls(2, 2, 2, 2, 3, 5, "auto")
    with pytest.raises(ValueError, match="m"):
        oracle_calls(2, 2, 2, 2, 3, 0, "tabular")
