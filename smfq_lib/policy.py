"""The randomized policy ``pi_k^est`` of eq. (10), (11) on a population ``(s_g, counts)``.

Algorithm 3 runs a deterministic k-agent policy table on random samples of the population.
Because the agents are homogeneous and the samples uniform, the action distributions depend on
the joint state only through the population's sufficient statistic ``(s_g, counts)``, where
``counts[s]`` is the number of local agents in state ``s`` (``sum(counts) = n``):

* Global agent, eq. (10). ``Delta`` is ``k`` of the ``n`` agents drawn uniformly without
  replacement; its state counts ``c_k`` (a composition of ``k`` into ``S_l`` parts) follow the
  multivariate hypergeometric law ``MVHG(c_k; counts)``. The table is read at a canonical
  representative of the sample: ``s_1`` := the LOWEST local state present in ``c_k`` plays the
  role of "agent 1" and ``c = c_k - e_{s_1}`` are the other ``k - 1``::

      p_g[a] = sum_{c_k} MVHG(c_k; counts) * 1[pi_g[s_g, s_1(c_k), rank(c_k - e_{s_1})] = a]

* Local agent in state ``s``, eq. (11). ``Delta_i`` is ``k - 1`` of the other ``n - 1`` agents,
  whose state counts are ``counts - e_s``::

      p_l[s, a] = sum_{c} MVHG(c; counts - e_s) * 1[pi_l[s_g, s, rank(c)] = a]

  Rows of states with ``counts[s] = 0`` describe no agent; ``counts - e_s`` is then not a
  population, and those rows are left at zero.

Both sums run over compositions (``combinatorics``), so the cost is ``O(C(k-1, S_l) S_l^2 +
C(k, S_l) S_l)`` whatever ``n``. ``MVHG(c; N) = prod_s C(N_s, c_s) / C(sum N, sum c)`` (the pmf of
``combinatorics.mv_hypergeometric_pmf``) is evaluated in logs from falling factorials; each
non-empty row is renormalised to sum to 1 (removing rounding drift of order 1e-15).

This is the ONE place computing these distributions: the count-level executor
(:mod:`smfq_lib.execute`) and the exact evaluation (:mod:`smfq_lib.evaluate`) both call it.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache

import numpy as np
from numba import njit

from smfq_lib.checks import check_int, format_count
from smfq_lib.combinatorics import compositions, n_compositions, rank

__all__ = [
    "action_distributions",
    "action_distributions_into",
    "policy_tables",
    "scratch_for",
    "validate_counts",
    "validate_index",
    "validate_policy",
]


@lru_cache(maxsize=64)
def policy_tables(k: int, S_l: int):
    """Index tables of a k-agent policy over ``S_l`` local states (read-only arrays).

    Returns ``(comps_km1, comps_k, ck_s1, ck_rank)``: the compositions of ``k - 1`` and of ``k``
    into ``S_l`` parts in rank order, and for every composition ``c_k`` of ``k`` its canonical
    ``s_1`` (lowest state present) and ``rank(c_k - e_{s_1})``.
    """
    comps_km1 = compositions(k - 1, S_l)
    comps_k = compositions(k, S_l)
    ck_s1 = np.argmax(comps_k > 0, axis=1).astype(np.int64)
    ck_rank = np.empty(comps_k.shape[0], dtype=np.int64)
    for j in range(comps_k.shape[0]):
        c = comps_k[j].copy()
        c[ck_s1[j]] -= 1
        ck_rank[j] = rank(c)
    for arr in (comps_km1, comps_k, ck_s1, ck_rank):
        arr.setflags(write=False)
    return comps_km1, comps_k, ck_s1, ck_rank


@njit(cache=True)
def action_distributions_into(
    p_g, p_l, pi_g, pi_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, scratch
):
    """Kernel of eq. (10), (11): fill ``p_g`` (A_g,) and ``p_l`` (S_l, A_l) in place.

    ``comps_km1, comps_k, ck_s1, ck_rank`` come from :func:`policy_tables`; ``scratch`` is a
    float64 array of shape ``(S_l + 1, k + 1)``. See the module docstring for the formulas and
    the canonical representative of the global agent's sample.

    The hypergeometric weights ``prod_s C(N_s, c_s) / C(N, t)`` are evaluated in logs from
    falling factorials ``log N_s (N_s - 1) ... (N_s - c + 1)`` tabulated once per call for
    ``c <= k`` (``scratch[s, c]``), so a call costs ``O(S_l k)`` logarithms plus ``O(S_l)``
    additions per composition, whatever ``n``, and the weights keep full relative precision.
    """
    S_l = counts.shape[0]
    k = 0
    for q in range(S_l):
        k += comps_k[0, q]
    lf = scratch
    lgs = scratch[S_l]  # lgs[c] = log c!
    lgs[0] = 0.0
    for c in range(1, k + 1):
        lgs[c] = lgs[c - 1] + math.log(c)
    n = 0
    for q in range(S_l):
        n += counts[q]
        lf[q, 0] = 0.0
        for c in range(1, k + 1):
            if lf[q, c - 1] == -np.inf or counts[q] - c + 1 <= 0:
                lf[q, c] = -np.inf
            else:
                lf[q, c] = lf[q, c - 1] + math.log(counts[q] - c + 1)
    log_ff_n = 0.0  # log n (n-1) ... (n-k+1)
    for i in range(k):
        log_ff_n += math.log(n - i)
    p_g[:] = 0.0
    p_l[:, :] = 0.0
    # global agent, eq. (10): c_k ~ MVHG(k; counts)
    log_norm = log_ff_n - lgs[k]
    tot = 0.0
    for j in range(comps_k.shape[0]):
        lw = -log_norm
        for q in range(S_l):
            cq = comps_k[j, q]
            lw += lf[q, cq] - lgs[cq]
        if lw > -np.inf:
            w = math.exp(lw)
            p_g[pi_g[s_g, ck_s1[j], ck_rank[j]]] += w
            tot += w
    for a in range(p_g.shape[0]):
        p_g[a] /= tot
    # local agents, eq. (11): c ~ MVHG(k - 1; counts - e_s)
    log_norm = log_ff_n - math.log(n) - lgs[k - 1]
    for s in range(S_l):
        if counts[s] == 0:
            continue
        log_ns = math.log(counts[s])
        tot = 0.0
        for r in range(comps_km1.shape[0]):
            lw = -log_norm
            for q in range(S_l):
                cq = comps_km1[r, q]
                if q == s:  # falling factorial of counts[s] - 1
                    lw += lf[q, cq + 1] - log_ns - lgs[cq]
                else:
                    lw += lf[q, cq] - lgs[cq]
            if lw > -np.inf:
                w = math.exp(lw)
                p_l[s, pi_l[s_g, s, r]] += w
                tot += w
        for a in range(p_l.shape[1]):
            p_l[s, a] /= tot


def scratch_for(k: int, S_l: int) -> np.ndarray:
    """The ``scratch`` array :func:`action_distributions_into` needs."""
    return np.zeros((S_l + 1, k + 1))


def validate_policy(policy, S_g: int, S_l: int, A_g: int, A_l: int, n: int | None = None):
    """Check a policy object (attributes ``k``, ``pi_g``, ``pi_l``) against a system and ``n``.

    Returns ``(k, pi_g, pi_l)`` as ``int``, int64 C-contiguous arrays. Raises ``ValueError``
    naming the offending attribute.
    """
    for attr in ("k", "pi_g", "pi_l"):
        if not hasattr(policy, attr):
            raise ValueError(
                f"policy must have attributes k, pi_g, pi_l (e.g. a SubsampledQ from "
                f"smfq_lib.learn); {type(policy).__name__} has no attribute {attr!r}."
            )
    try:
        k = int(policy.k)
    except (TypeError, ValueError):
        raise ValueError(f"policy.k must be a positive integer; got {policy.k!r}.") from None
    if k != policy.k or k < 1:
        raise ValueError(f"policy.k must be a positive integer; got {policy.k!r}.")
    if n is not None:
        n = check_int("n", n, 1, fix="n is the number of local agents.")
    if n is not None and k > n:
        raise ValueError(
            f"policy.k = {k} exceeds the number of agents n = {n}; Algorithm 3 samples k of "
            f"the n agents, so k <= n is required. Learn with a smaller k or use more agents."
        )
    Cs = n_compositions(k - 1, S_l)
    out = []
    for name, A in (("pi_g", A_g), ("pi_l", A_l)):
        arr = np.asarray(getattr(policy, name))
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"policy.{name} must be an integer array of action codes; got dtype {arr.dtype}."
            )
        if arr.shape != (S_g, S_l, Cs):
            raise ValueError(
                f"policy.{name} must have shape (S_g, S_l, C(k-1, S_l)) = ({S_g}, {S_l}, {Cs}) "
                f"for k = {k}; got {arr.shape}."
            )
        if arr.size and (arr.min() < 0 or arr.max() >= A):
            raise ValueError(
                f"policy.{name} holds action codes outside [0, {A}) (min {arr.min()}, "
                f"max {arr.max()}); each entry must be a valid action index."
            )
        out.append(np.ascontiguousarray(arr, dtype=np.int64))
    return k, out[0], out[1]


def validate_counts(counts, S_l: int, n: int | None) -> np.ndarray:
    """``counts`` as an int64 vector of length ``S_l`` with non-negative entries summing to ``n``
    (to any total if ``n`` is None).

    Entries must be whole numbers (integers, or floats with integral values); the sum is taken
    exactly in Python integers, so it cannot wrap around in int64, and must not exceed
    ``2**63 - 1``. ``ValueError`` otherwise, naming ``counts``.
    """
    try:
        arr = np.asarray(counts)
    except ValueError:  # ragged nesting
        arr = np.asarray(counts, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != S_l:
        raise ValueError(
            f"counts must be a vector of length S_l = {S_l} (agents per local state); got shape "
            f"{arr.shape}."
        )
    values = []
    for x in arr.tolist():
        if isinstance(x, float) and math.isfinite(x) and x == round(x):
            x = int(x)
        if isinstance(x, bool) or not isinstance(x, numbers.Integral):
            raise ValueError(
                f"counts must hold whole numbers of agents; got {arr.tolist()!r} (entry {x!r})."
            )
        values.append(int(x))
    total = sum(values)
    if min(values) < 0 or (n is not None and total != n):
        target = "" if n is None else f" and sum to n = {format_count(n)}"
        raise ValueError(
            f"counts must be non-negative{target}; got {values} (sum {format_count(total)})."
        )
    check_int("the number of agents sum(counts)", total, 1)
    return np.array(values, dtype=np.int64)


def validate_index(name: str, value, size: int) -> int:
    """An integer code in ``[0, size)``."""
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer code in [0, {size}); got {value!r}.") from None
    if v != value or not 0 <= v < size:
        raise ValueError(f"{name} must be an integer code in [0, {size}); got {value!r}.")
    return v


def action_distributions(pi_g, pi_l, k, s_g, counts, *, A_g=None, A_l=None):
    """Action distributions of ``pi_k^est`` (eq. 10, 11) for the population ``(s_g, counts)``.

    ``pi_g``, ``pi_l``: int arrays ``(S_g, S_l, C(k-1, S_l))`` (the learned tables); ``k``: the
    sample size; ``counts``: agents per local state, summing to ``n >= k``.
    Returns ``(p_g, p_l)``: ``p_g[a_g]`` of shape ``(A_g,)`` and ``p_l[s, a]`` of shape
    ``(S_l, A_l)``, the action distribution of any agent in state ``s``. ``A_g``, ``A_l``
    default to one more than the largest action code in the tables; pass the system's sizes
    to get full-width arrays. Rows with
    ``counts[s] = 0`` are zero (see the module docstring).
    """
    pi_g = np.asarray(pi_g)
    pi_l = np.asarray(pi_l)
    if pi_g.ndim != 3:
        raise ValueError(f"pi_g must have shape (S_g, S_l, C(k-1, S_l)); got {pi_g.shape}.")
    S_g, S_l = pi_g.shape[0], pi_g.shape[1]
    counts = validate_counts(counts, S_l, None)
    n = int(counts.sum())
    if A_g is None:
        A_g = int(pi_g.max()) + 1 if pi_g.size else 1
    if A_l is None:
        A_l = int(np.max(pi_l)) + 1 if pi_l.size else 1

    class _P:
        pass

    pol = _P()
    pol.k, pol.pi_g, pol.pi_l = k, pi_g, pi_l
    k, pi_g, pi_l = validate_policy(pol, S_g, S_l, A_g, A_l, n)
    s_g = validate_index("s_g", s_g, S_g)
    p_g = np.zeros(A_g)
    p_l = np.zeros((S_l, A_l))
    action_distributions_into(
        p_g, p_l, pi_g, pi_l, s_g, counts, *policy_tables(k, S_l), scratch_for(k, S_l)
    )
    return p_g, p_l
