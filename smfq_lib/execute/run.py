"""Running an executor of Algorithm 3: the argument checks both share, the memory guard, and the
chunked run of a kernel into a :class:`~.rollouts.Rollouts`.

Memory. Before anything is allocated, :func:`check_memory` adds up what the run will hold (the
kept arrays, the start states drawn from a distribution, the executor's working arrays) and
refuses through :func:`smfq_lib._utils.budget.check_fits` when it exceeds ``memory_budget``. With
``keep="returns"`` the kernels accumulate each rollout's discounted return as they go and no
per-step array is kept: 8 bytes per rollout. A system with an aggregate term needs per-step
``(s_g, a_g, x)`` to add ``rho``: they are then held for one block of rollouts per thread
(:data:`BLOCK_STEPS` rollout-steps), and the blocks are fixed by the horizon alone, so the
numbers do not depend on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np

from smfq_lib._utils.budget import check_budget, check_fits, format_gib
from smfq_lib._utils.checks import check_int, check_seed, format_count
from smfq_lib._utils.chunks import run_chunks
from smfq_lib.execute.rollouts import KEEP, Rollouts, discounted_returns
from smfq_lib.learning.policy import policy_laws
from smfq_lib.model.system import CooperativeSystem

__all__ = [
    "AGENTS_FIX",
    "BLOCK_STEPS",
    "check_memory",
    "document",
    "phi_table",
    "run_rollouts",
    "thread_count",
    "validate_common",
]

#: Rollout-steps per block on the aggregate path (8 bytes each per array: 128 KiB).
BLOCK_STEPS = 2**14

# The parameters both executors share, for their docstrings (:func:`document`).
_PARAMETERS = """\
    system : CooperativeSystem
        The system: transitions ``P_g`` (eq. 1) and ``P_l`` (eq. 2), rewards ``r_g``, ``r_l``
        (eq. 3), discount ``gamma``, and optionally an aggregate term and reward noise.
    policy : SubsampledQ, ActionLaws, or an object with ``k``, ``pi_g``, ``pi_l``
        The policy ``pi_k^est`` every agent reads (a :class:`smfq_lib.SubsampledQ` from
        ``learn``; its :class:`~smfq_lib.learning.policy.ActionLaws` under a rule; or integer tables
        ``pi_g``, ``pi_l`` of shape ``(S_g, S_l, C(k-1, S_l))`` holding action codes, which are
        rule ``"first"``). ``policy.k <= n``.
    n : int
        Number of local agents, in ``[k, 2**63 - 1]``.
    s_g : int or None
        Start global state ``s_g(0)`` in ``[0, S_g)``; ``None`` with ``initial=``.
    counts : int array of shape (S_l,), or None
        Start count state: agents per local state, non-negative, summing to ``n``; ``None``
        with ``initial=`` or ``local_states=``.
    horizon : int
        Steps ``H >= 1`` per rollout; returns are truncated there (see Returns).
    rollouts : int
        Number ``R >= 1`` of independent rollouts.
    seed : int
        Key of the random streams, in ``[0, 2**63)``: rollout ``r`` depends on ``(seed, r)``
        only, not on the thread count or on how many rollouts run beside it.
    initial : IIDInitial, float array of shape (S_g, C(n + S_l - 1, S_l - 1)) or flat, or None
        Keyword. A start distribution ``s_0`` (Algorithm 3, line 1) instead of ``(s_g,
        counts)``, drawn once per rollout: an :class:`IIDInitial` (:func:`iid_initial`) or
        weights over the count states indexed ``[s_g, rank(counts)]``
        (:func:`count_state_weights`). Default ``None`` (start at ``(s_g, counts)``).
    local_states : int array of shape (n,), or None
        Keyword. Every agent's start local state, with ``s_g`` (and ``counts=None``).
        {local_states}
    keep : {{"steps", "returns"}}
        Keyword. ``"steps"`` (default) keeps the per-step ``rewards``, ``s_g``, ``a_g``
        (``3 R H`` 8-byte numbers) and the returns; ``"returns"`` keeps only the returns (8 bytes
        per rollout: for large runs).
    record_counts : bool
        Keyword. Also keep ``counts[r, t, s]``, the agents in local state ``s`` at step ``t``
        (``R H S_l`` numbers; needs ``keep="steps"``). Default ``False``.
    progress : bool
        Keyword. Show a tqdm bar over the rollouts. Default ``False``.
    rule : str or None
        Keyword. The tie rule under which the policy is read (``smfq_lib.learning.policy.RULES``);
        ``None`` (default) the policy's own (:func:`smfq_lib.learning.policy.policy_laws`).
    memory_budget : int, float or None
        Keyword. Bytes the run may hold; ``None`` (default) half the memory available now.
        The run is sized first and refused (``ValueError`` naming the arrays, their size, and
        the fix) before anything is allocated.

    Returns
    -------
    Rollouts
        ``returns[r] = sum_{{t < H}} gamma^t r_t`` (Algorithm 3, line 11: the discounted return
        truncated at ``H``; pick ``H`` with ``gamma**H max|r| / (1 - gamma)`` negligible to
        estimate ``V``), with ``r_t`` the realised stage reward of eq. (3) (plus the aggregate
        term and the reward noise of Theorem 0.13, if the system has them); with
        ``keep="steps"`` also ``rewards``, ``s_g``, ``a_g`` per step, and ``counts`` with
        ``record_counts``. Statistics: ``mean()``, ``sem()``, ``ci()``.

    Raises
    ------
    ValueError
        On a bad argument (naming it) or a run that does not fit ``memory_budget``, before any
        work.
"""


def document(local_states: str):
    """Decorator: fill ``{parameters}`` in an executor's docstring with the shared parameter
    section, ``local_states`` completing that parameter's entry."""

    def fill(fn):
        text = _PARAMETERS.format(local_states=local_states)
        fn.__doc__ = fn.__doc__.replace("{parameters}", text.strip("\n").lstrip())
        return fn

    return fill


def validate_common(system, policy, n, horizon, rollouts, seed, rule, keep, record_counts, budget):
    """Checked ``(n, horizon, rollouts, seed, laws, budget)``: ``laws`` the
    :class:`~smfq_lib.learning.policy.ActionLaws` of ``policy`` under ``rule``
    (:func:`smfq_lib.learning.policy.policy_laws`), ``budget`` in bytes or None."""
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be a smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    n = check_int("n", n, 1)
    horizon = check_int("horizon", horizon, 1)
    rollouts = check_int("rollouts", rollouts, 1)
    seed = check_seed(seed)
    if keep not in KEEP:
        raise ValueError(
            f"keep must be 'steps' (per-step arrays and returns) or 'returns' (returns only); "
            f"got {keep!r}."
        )
    if not isinstance(record_counts, bool | np.bool_):
        raise ValueError(f"record_counts must be True or False; got {record_counts!r}.")
    if record_counts and keep != "steps":
        raise ValueError(
            "record_counts=True keeps per-step counts, but keep='returns' keeps no per-step "
            "array: pass keep='steps' or record_counts=False."
        )
    budget = check_budget(budget)
    sizes = (system.S_g, system.S_l, system.A_g, system.A_l)
    laws = policy_laws(policy, rule, *sizes, n, fingerprint=system.fingerprint)
    return n, horizon, rollouts, seed, laws, budget


def thread_count(R: int) -> int:
    """Threads a run of ``R`` rollouts uses: ``numba.get_num_threads()``, at most ``R``."""
    return max(1, min(numba.get_num_threads(), R))


def block_rows(H: int) -> int:
    """Rollouts per block on the aggregate path: ``BLOCK_STEPS // H`` (at least 1)."""
    return max(1, BLOCK_STEPS // H)


_STEPS_FIX = (
    "Pass keep='returns' to keep only the returns (8 bytes per rollout), run fewer rollouts or "
    "a shorter horizon, or pass memory_budget= (bytes)."
)
_ROLLOUTS_FIX = (
    "Run fewer rollouts per call (calls with different seeds are independent), or pass "
    "memory_budget= (bytes)."
)
_HORIZON_FIX = "Use a shorter horizon, or pass memory_budget= (bytes)."
#: The fix for the agent-level executor's working arrays (``work`` of :func:`check_memory`).
AGENTS_FIX = (
    "The literal executor holds every agent: use fewer agents, or rollout_counts (the same "
    "process at a cost independent of n), or pass memory_budget= (bytes)."
)


def check_memory(executor, system, R, H, keep, record, drawn_start, work, budget):
    """Refuse (``ValueError``) a run whose arrays exceed ``budget`` bytes, before allocating.

    The message lists every array as ``label: formula = size`` and ends with the fix for the
    largest. ``drawn_start``: the start states are drawn per rollout (``initial=``); ``work``:
    the executor's own working arrays as ``(label, formula, bytes, fix)``."""
    S_l = system.S_l
    items = []
    steps_fix = "Pass record_counts=False and k" + _STEPS_FIX[6:] if record else _STEPS_FIX
    if keep == "steps":
        items.append(("rewards, s_g, a_g", "3 x R x horizon x 8 bytes", 3 * R * H * 8, steps_fix))
    if record:
        items.append(("counts", "R x horizon x S_l x 8 bytes", R * H * S_l * 8, steps_fix))
    items.append(("returns", "R x 8 bytes", R * 8, _ROLLOUTS_FIX))
    items.append(("discount factors", "horizon x 8 bytes", H * 8, _HORIZON_FIX))
    if system.aggregate is not None:
        per = 4 if keep == "steps" else 7  # x and rho's temporaries (+ rewards, s_g, a_g)
        rows, threads = block_rows(H), thread_count(R)
        formula = f"{per} x {threads} threads x {rows} rollouts x horizon x 8 bytes"
        items.append(("aggregate-term blocks", formula, per * threads * rows * H * 8, _HORIZON_FIX))
    if drawn_start:
        formula = "R x (S_l + 4) x 8 bytes"
        items.append(("start states", formula, R * (S_l + 4) * 8, _ROLLOUTS_FIX))
    items += work
    parts = "; ".join(f"{label}: {formula} = {format_gib(b)} GiB" for label, formula, b, _ in items)
    check_fits(
        f"{executor} with R = {format_count(R)} rollouts x horizon = {format_count(H)} steps "
        f"(keep={keep!r}; {parts})",
        sum(item[2] for item in items),
        budget,
        hint=max(items, key=lambda item: item[2])[3],
    )


def phi_table(system):
    """The aggregate term's ``phi[s, a]`` (zeros without an aggregate), for the kernels."""
    if system.aggregate is None:
        return np.zeros((system.S_l, system.A_l))
    # a writable copy, as the zeros above: one kernel signature, not one per read-only flag
    return np.array(system.aggregate.phi, dtype=np.float64, order="C")


def _noise(system):
    """``(noisy, w_g, w_l)`` for the kernels: the half-widths of ``system.reward_noise``."""
    if system.reward_noise is None:
        return False, np.zeros((1, 1)), np.zeros((1, 1, 1))
    w = system.reward_noise
    w_g = np.array(w.w_g, dtype=np.float64, order="C")  # writable, as the zeros above
    w_l = np.array(w.w_l, dtype=np.float64, order="C")
    return True, w_g, w_l


def run_rollouts(kernel_call, system, n, laws, seed, R, H, executor, keep, record, progress):
    """Allocate what ``keep`` keeps, run ``kernel_call`` over chunks of rollouts on the threads,
    add the aggregate term, and return the :class:`Rollouts`.

    ``kernel_call(lo, hi, seed, disc, returns, rewards, xs, s_g, a_g, counts, noisy, w_g, w_l)``
    runs rollouts ``lo .. hi-1`` writing row ``r - lo`` of its arrays; per-step arrays of width 0
    are not written.
    """
    S_l = system.S_l
    steps = keep == "steps"
    aggregate = system.aggregate is not None
    disc = system.gamma ** np.arange(H, dtype=np.float64)
    returns = np.zeros(R)
    width = H if steps else 0
    rewards = np.zeros((R, width))
    sgs = np.zeros((R, width), np.int64)
    ags = np.zeros((R, width), np.int64)
    counts_tr = np.zeros((R, H if record else 0, S_l), np.int64)
    noise = _noise(system)
    key = np.uint64(seed)

    def call(a, b):
        rew, sg, ag = rewards[a:b], sgs[a:b], ags[a:b]
        if aggregate and not steps:  # per-step arrays of this block only
            rew = np.zeros((b - a, H))
            sg, ag = np.zeros((b - a, H), np.int64), np.zeros((b - a, H), np.int64)
        xs = np.zeros((b - a, H if aggregate else 0))
        kernel_call(a, b, key, disc, returns[a:b], rew, xs, sg, ag, counts_tr[a:b], *noise)
        if aggregate:
            rew += system.aggregate_reward(sg, ag, xs / n)
            discounted_returns(rew, disc, returns[a:b])

    block = block_rows(H) if aggregate else None
    run_chunks(call, R, progress, f"rollout_{executor}", unit="rollout", chunk=block)
    return Rollouts(
        returns=returns,
        rewards=rewards if steps else None,
        s_g=sgs if steps else None,
        a_g=ags if steps else None,
        counts=counts_tr if record else None,
        gamma=system.gamma,
        n=n,
        k=laws.k,
        rollouts=R,
        horizon=H,
        seed=seed,
        executor=executor,
        rule=laws.rule,
        keep=keep,
    )
