"""The paper's explicit numbers: Theorem 0.11's bound, Lemma 0.9's ``m*``, and table sizes.

Everything here is closed-form arithmetic on the problem sizes; nothing is learned or simulated.

* :func:`gap_bound` -- the right-hand side of Theorem 0.11 (optimality gap of ``pi_k^est``),
  as printed, or with the other reading of its last term (``reading="scaled"``).
* :func:`m_star` -- the number of samples ``m*`` of Lemma 0.9.
* :func:`table_sizes` -- entries of the Q-tables of tabular Q-learning and mean-field value
  iteration on ``n`` agents (Problem Formulation, Remark 0.7) and of SUBSAMPLE-MFQ's
  Algorithms 1 and 2 on ``k`` agents (Discussion 0.12), with the algorithm the paper's rule picks.
* :func:`oracle_calls` -- the generative-oracle draws (global and local) that the sampled learner
  (eq. 8, 9) spends on ``k`` agents with ``m`` samples per entry: its sample complexity.
* :func:`rule_choice` -- the paper's rule between Algorithm 1 (tabular) and Algorithm 2
  (mean field): ``|Z_l|^(k-1) <= k^|Z_l|`` picks Algorithm 1 (the rule
  ``smfq_lib.learning.choose_algorithm`` applies).

Logarithms: the paper writes ``ln`` in Theorem 0.11 and ``log`` in Lemma 0.9; both are taken as
natural logarithms here.
"""

from __future__ import annotations

import decimal
import math
import numbers

from smfq_lib._utils.checks import check_gamma, check_int
from smfq_lib.model.combinatorics import binom, log_binom

__all__ = [
    "gap_bound",
    "gap_bound_log_argument",
    "m_star",
    "rule_choice",
    "table_sizes",
    "oracle_calls",
    "TABLE_NAMES",
]

READINGS = ("printed", "scaled")

#: Keys of the sizes returned by :func:`table_sizes`, in the order the notebooks plot them.
TABLE_NAMES = ("q_learning", "mean_field", "mean_field_paper", "alg1", "alg2")


# -- validation ------------------------------------------------------------------------------
def _sizes(**sizes) -> list[int]:
    """Each size an integer in ``[1, 2**63 - 1]`` (``ValueError`` naming the first bad one)."""
    return [check_int(name, value, 1) for name, value in sizes.items()]


def _n_k(n, k) -> tuple[int, int]:
    n, k = _sizes(n=n, k=k)
    if k > n:
        raise ValueError(
            f"k must satisfy 1 <= k <= n (k agents are sampled out of n); got k={k} > n={n}."
        )
    return n, k


def _r_tilde(r_tilde) -> float:
    if isinstance(r_tilde, bool) or not isinstance(r_tilde, numbers.Real):
        raise ValueError(f"r_tilde must be a real number >= 0; got {r_tilde!r}.")
    r_tilde = float(r_tilde)
    if not (math.isfinite(r_tilde) and r_tilde >= 0.0):
        raise ValueError(
            f"r_tilde must be a finite number >= 0 (the reward bound of Assumption 0.4); "
            f"got {r_tilde}."
        )
    return r_tilde


# -- Theorem 0.11 ----------------------------------------------------------------------------
def gap_bound_log_argument(r_tilde, gamma, k, S_l, A_l, A_g) -> float:
    """The argument of the logarithm in Theorem 0.11:
    ``40 r~ |S_l||A_l||A_g| k^(|A_l| + 1/2) / (1-gamma)^2``.

    Every factor but ``r~`` is at least 1 (``1/(1-gamma)^2 > 1``), so the argument is at least
    ``40 r~``: it is below 1 only for ``r~ < 1/40``. Computed in logs, so huge ``k`` is fine
    (returns ``inf`` past the float range). Bad input raises ``ValueError`` naming the argument.

    ``r_tilde``: the reward bound ``r~``; ``gamma``: the discount factor; ``k``: sampled
    agents; ``S_l``, ``A_l``, ``A_g``: the sizes in the theorem.
    """
    r_tilde = _r_tilde(r_tilde)
    gamma = check_gamma(gamma)
    k, S_l, A_l, A_g = _sizes(k=k, S_l=S_l, A_l=A_l, A_g=A_g)
    log_arg = _log_argument(r_tilde, gamma, k, S_l, A_l, A_g)
    return math.exp(log_arg) if log_arg < 709.0 else math.inf


def _log_argument(r_tilde: float, gamma: float, k: int, S_l: int, A_l: int, A_g: int) -> float:
    if r_tilde == 0.0:
        return -math.inf
    return (
        math.log(40.0)
        + math.log(r_tilde)
        + math.log(S_l)
        + math.log(A_l)
        + math.log(A_g)
        + (A_l + 0.5) * math.log(k)
        - 2.0 * math.log1p(-gamma)
    )


def gap_bound(r_tilde, gamma, n, k, S_l, A_l, A_g, *, reading: str = "printed") -> float:
    """Right-hand side of Theorem 0.11: the bound on ``V^{pi*}(s_0) - V^{pi_k^est}(s_0)``.

    As printed in the paper (``reading="printed"``, the default)::

        r~/(1-g)^2 * sqrt((n-k+1)/(2nk)) * sqrt(ln(40 r~ |S_l||A_l||A_g| k^(|A_l|+1/2) / (1-g)^2))
            + 3/sqrt(k)

    The last term ``3/sqrt(k)`` carries no ``r~/(1-g)^2`` factor, which is dimensionally odd
    (the gap scales with the rewards; ``3/sqrt(k)`` does not). The other reading,
    ``reading="scaled"``, puts it inside that factor::

        r~/(1-g)^2 * ( sqrt((n-k+1)/(2nk)) * sqrt(ln(...)) + 3/sqrt(k) )

    The two differ only in the last term; the printed one is the smaller whenever
    ``r~/(1-g)^2 > 1`` (and the larger when ``r~/(1-g)^2 < 1``).

    Domain. The printed formula is a real number only when the log argument
    ``40 r~ |S_l||A_l||A_g| k^(|A_l|+1/2) / (1-g)^2`` is at least 1 (see
    :func:`gap_bound_log_argument`). Since every other factor is >= 1, that holds for every
    ``r~ >= 1/40`` whatever the sizes, ``k`` and ``gamma``. Below it (e.g. ``r~ = 0``) this
    function raises ``ValueError`` rather than clipping the logarithm at 0: a clipped value would
    be a number the paper never states, and the theorem gives no bound there. (With ``r~ = 0``
    every policy has value 0, so the gap is 0 and no bound is needed; for tiny rewards, rescale
    them -- the gap is linear in the rewards -- and evaluate the bound at ``r~ >= 1/40``.)

    Parameters are the reward bound ``r~`` of Assumption 0.4 (``CooperativeSystem.r_tilde``),
    the discount ``gamma`` in (0, 1), the number of agents ``n``, the sample size
    ``1 <= k <= n``, and the sizes ``|S_l|, |A_l|, |A_g| >= 1``. Bad input raises ``ValueError``
    naming the argument. Returns a float (``inf`` if the log argument overflows a float, which
    needs ``k`` beyond ~1e100).
    """
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}; got {reading!r}.")
    r_tilde = _r_tilde(r_tilde)
    gamma = check_gamma(gamma)
    n, k = _n_k(n, k)
    S_l, A_l, A_g = _sizes(S_l=S_l, A_l=A_l, A_g=A_g)

    log_arg = _log_argument(r_tilde, gamma, k, S_l, A_l, A_g)
    if log_arg < 0.0:
        # the r_tilde at which the log argument is 1 (printed as a power of 10 if it underflows)
        log10_r_min = -_log_argument(1.0, gamma, k, S_l, A_l, A_g) / math.log(10.0)
        r_min = f"{10**log10_r_min:.4g}" if log10_r_min > -300 else f"10^({log10_r_min:.4g})"
        raise ValueError(
            f"r_tilde={r_tilde} puts the log argument of Theorem 0.11, "
            f"40 r~ |S_l||A_l||A_g| k^(|A_l|+1/2) / (1-gamma)^2 = {math.exp(log_arg):.4g}, "
            f"below 1, where the printed bound is not a real number. It is defined for "
            f"r_tilde >= {r_min} here (always for r_tilde >= 1/40). With r_tilde = 0 the "
            "gap is 0 for every policy; otherwise rescale the rewards."
        )
    scale = r_tilde / (1.0 - gamma) ** 2
    sampling = math.sqrt((n - k + 1) / (2.0 * n * k)) * math.sqrt(log_arg)
    last = 3.0 / math.sqrt(k)
    if reading == "printed":
        return scale * sampling + last
    return scale * (sampling + last)


# -- Lemma 0.9 -------------------------------------------------------------------------------
def m_star(S_g, A_g, S_l, A_l, k, gamma) -> float:
    """``m*`` of Lemma 0.9, the samples per entry at which ``epsilon_{k,m} <= O~(1/sqrt(k))``::

        m* = 2 |S_g||A_g||S_l||A_l| k^(2.5 + |S_l||A_l|) / (1-gamma)^5
             * log(|S_g||A_g||A_l||S_l|) * log(1/(1-gamma)^2)

    (natural logarithms). It is 0 when every size is 1 (``log 1 = 0``), as printed. Computed in
    logs; returns ``inf`` past the float range (e.g. ``|Z_l| = 100``, ``k = 1000``). Increasing
    in ``k``. Bad input raises ``ValueError`` naming the argument.
    """
    S_g, A_g, S_l, A_l, k = _sizes(S_g=S_g, A_g=A_g, S_l=S_l, A_l=A_l, k=k)
    gamma = check_gamma(gamma)
    sizes = S_g * A_g * S_l * A_l
    if sizes == 1:
        return 0.0
    log_m = (
        math.log(2 * sizes)
        + (2.5 + S_l * A_l) * math.log(k)
        - 5.0 * math.log1p(-gamma)
        + math.log(math.log(sizes))
        + math.log(-2.0 * math.log1p(-gamma))
    )
    return math.exp(log_m) if log_m < 709.0 else math.inf


# -- table sizes and the choice between Algorithms 1 and 2 -----------------------------------
def rule_choice(Z_l, k) -> str:
    """The paper's choice between Algorithms 1 and 2 for a ``k``-agent subsystem.

    Algorithm 1 (tabular over ``S_l^k x A_l^k``) is used if ``|Z_l|^(k-1) <= k^|Z_l|``
    (Algorithm 1's header; the Method section writes ``<`` and ``>`` and leaves the tie open),
    Algorithm 2 (mean field over ``mu_{k-1}(Z_l)``) otherwise. Returns ``"tabular"`` or
    ``"mean_field"``. Note that ``k = 1`` always ties (``1 = 1``) and so picks ``"tabular"``, and
    ``|Z_l| = 1`` always picks ``"tabular"``.

    Compared in logarithms, ``(k-1) ln Z`` against ``Z ln k``, so any size takes microseconds
    (the powers themselves can have billions of digits). Floats decide unless the two are within
    1e-9 relative of each other; then 60-digit decimal logarithms do. No tie is possible past
    ``k = 1`` and ``Z = 1``: ``Z^(k-1) = k^Z`` needs ``Z = t^a``, ``k = t^b`` with
    ``a (t^b - 1) = b t^a``, and ``t^a`` cannot divide ``a`` for ``t >= 2``.

    The rule compares ``k^|Z_l|``, the paper's O-form of the mean-field count, not the true
    number of mean-field entries ``C(k-1+|Z_l|-1, |Z_l|-1)``; see :func:`table_sizes`
    (``"smaller"``) for which table is actually smaller.
    """
    return _rule(*_sizes(Z_l=Z_l, k=k))


def _rule(Z_l: int, k: int) -> str:
    if k == 1 or Z_l == 1:
        return "tabular"
    lhs, rhs = (k - 1) * math.log(Z_l), Z_l * math.log(k)
    if abs(lhs - rhs) <= 1e-9 * rhs:
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            lhs = (k - 1) * decimal.Decimal(Z_l).ln()
            rhs = Z_l * decimal.Decimal(k).ln()
    return "tabular" if lhs <= rhs else "mean_field"


#: Sizes with more digits than this are given by their ``log10`` only: Python's default limit
#: for printing an int, and far past any table that can be allocated.
_MAX_DIGITS = 4300
_LN10 = math.log(10.0)


def table_sizes(S_g, S_l, A_g, A_l, n, k) -> dict:
    """Number of Q-table entries of each method: exact Python integers, with their ``log10``.

    With ``Z = |Z_l| = |S_l||A_l|`` and ``C(a, b)`` the binomial coefficient:

    ``"q_learning"``        ``|S_g||S_l|^n|A_g||A_l|^n`` -- tabular Q-learning on all ``n``
                            agents (Problem Formulation; ``O(|S_g||A_g||Z_l|^n)`` of Remark 0.7).
    ``"mean_field"``        ``|S_g||S_l| C(n-1+Z-1, Z-1) |A_l||A_g|`` -- mean-field value
                            iteration on ``n`` agents, exact: ``Q^(s_g, s_1, a_g, a_1, F)``
                            over the compositions ``F`` of the ``n-1`` other agents into ``Z``
                            cells.
    ``"mean_field_paper"``  ``|S_g||A_g||Z_l| n^|Z_l|`` -- the paper's O-form of the same
                            (Remark 0.7), an upper bound on ``"mean_field"``.
    ``"alg1"``              ``|S_g||A_g||Z_l|^k`` -- SUBSAMPLE-MFQ Algorithm 1 (tabular over
                            ``S_g x S_l^k x A_g x A_l^k``).
    ``"alg2"``              ``|S_g||S_l| C(k-1+Z-1, Z-1) |A_l||A_g|`` -- Algorithm 2 (exact).
    ``"rule"``              :func:`rule_choice` ``(Z, k)``: ``"tabular"`` or ``"mean_field"``.
    ``"subsample_mfq"``     the entries of the algorithm the rule picks.
    ``"smaller"``           which of Algorithms 1 and 2 really has fewer entries
                            (``"tabular"`` on a tie), i.e. ``Z^(k-1) <= C(k+Z-2, Z-1)``.
    ``"log10"``             dict: ``log10`` of each of the five sizes and of
                            ``"subsample_mfq"``, as floats.

    Each size is an exact Python int when it has at most ``_MAX_DIGITS`` (4300) digits, the
    most Python prints, and ``None`` beyond (``q_learning`` has ``n log10(Z)`` digits); its
    ``"log10"`` is always given (finite floats, from the integer when there is one, else from
    logarithms: :func:`smfq_lib.model.combinatorics.log_binom`), so plot and print those. No integer
    past the limit is ever built, so the call takes microseconds at any size.

    ``"smaller"`` needs no arithmetic: ``C(k+Z-2, Z-1)`` counts the multisets of ``k - 1``
    cells and ``Z^(k-1)`` the sequences, each multiset being at least one sequence, so Algorithm
    2's table is never larger, and equal only for ``k <= 2`` or ``Z = 1`` (the tie goes to
    ``"tabular"``).

    ``S_g, S_l, A_g, A_l`` and ``1 <= k <= n`` are integers of at most ``2**63 - 1``; bad input
    raises ``ValueError`` naming the argument.
    """
    S_g, S_l, A_g, A_l = _sizes(S_g=S_g, S_l=S_l, A_g=A_g, A_l=A_l)
    n, k = _n_k(n, k)
    Z = S_l * A_l
    base = S_g * A_g * Z  # |S_g||S_l||A_l||A_g|, common to every table but Q-learning's
    ln_base = math.log(base)
    # (natural log, exact value) of each size; the value is built only if it is printable
    sizes = {
        "q_learning": (math.log(S_g * A_g) + n * math.log(Z), lambda: S_g * A_g * Z**n),
        "mean_field": (
            ln_base + log_binom(n + Z - 2, Z - 1),
            lambda: base * binom(n + Z - 2, Z - 1),
        ),
        "mean_field_paper": (ln_base + Z * math.log(n), lambda: base * n**Z),
        "alg1": (ln_base + (k - 1) * math.log(Z), lambda: base * Z ** (k - 1)),
        "alg2": (ln_base + log_binom(k + Z - 2, Z - 1), lambda: base * binom(k + Z - 2, Z - 1)),
    }
    out: dict = {}
    log10 = {}
    for name, (ln_size, exact) in sizes.items():
        if ln_size / _LN10 < _MAX_DIGITS - 1:
            out[name] = exact()
            log10[name] = math.log10(out[name])
        else:
            out[name] = None
            log10[name] = ln_size / _LN10
    rule = _rule(Z, k)  # Z may exceed 2**63 - 1 here: it is not an argument
    out["rule"] = rule
    picked = "alg1" if rule == "tabular" else "alg2"
    out["subsample_mfq"] = out[picked]
    log10["subsample_mfq"] = log10[picked]
    out["smaller"] = "tabular" if k <= 2 or Z == 1 else "mean_field"
    out["log10"] = log10
    return out


def oracle_calls(S_g, S_l, A_g, A_l, k, m, algorithm) -> dict:
    """Draws from the generative oracle that the sampled learner makes (its sample complexity).

    The empirical operators (eq. 8, 9) draw ``m`` next states for every entry of ``Q_k`` once:
    each sample is one global draw ``s_g' ~ P_g(.|s_g, a_g)`` and ``k`` local draws ``s_i' ~
    P_l(.|s_i, s_g, a_i)`` (agent 1 and the ``k - 1`` others). So with ``E`` the entries of the
    algorithm's table (:func:`table_sizes`: ``"alg1"`` = ``|S_g||A_g||Z_l|^k`` for
    ``algorithm="tabular"``, ``"alg2"`` = ``|S_g||S_l||A_l||A_g| C(k-1+Z-1, Z-1)`` for
    ``"mean_field"``), the calls are ``{"global": E m, "local": E m k}``, exact Python integers.
    With ``k = n`` and ``algorithm="mean_field"`` this is mean-field value iteration on all ``n``
    agents fed the same oracle (Remark 0.7's comparator).

    ``S_g, S_l, A_g, A_l, k, m`` are integers ``>= 1``; ``algorithm`` is ``"tabular"`` or
    ``"mean_field"`` (resolved, as :func:`smfq_lib.learning.choose_algorithm` returns it); bad
    input raises ``ValueError`` naming the argument.
    """
    S_g, S_l, A_g, A_l, k, m = _sizes(S_g=S_g, S_l=S_l, A_g=A_g, A_l=A_l, k=k, m=m)
    if algorithm not in ("tabular", "mean_field"):
        raise ValueError(
            f"algorithm must be 'tabular' or 'mean_field' (the algorithm that ran); got "
            f"{algorithm!r}."
        )
    Z = S_l * A_l
    if algorithm == "tabular":
        entries = S_g * A_g * Z**k
    else:
        entries = S_g * A_g * Z * binom(k + Z - 2, Z - 1)
    return {"global": entries * m, "local": entries * m * k}
