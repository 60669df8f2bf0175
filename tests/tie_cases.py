"""Shared cases of the tie-rule tests: tie-rich tiny systems (tests/brute_force_ties.py), their
learned tables, and the comparison of a count-state table with a joint-space one."""

from __future__ import annotations

import functools
import itertools

import numpy as np
from brute_force import tiny_system
from brute_force_ties import permutation_tie_system, squeeze_system, two_zone_system

from smfq_lib.learning import learn
from smfq_lib.model.combinatorics import rank

SYSTEMS = {
    "two_zone": two_zone_system,
    "squeeze2": squeeze_system,
    "squeeze3": lambda: squeeze_system(3),
    "permutation": permutation_tie_system,
    "aggregate": lambda: tiny_system(2, 2, 2, 2, seed=3, aggregate=True),
}


@functools.cache
def tie_system(name):
    return SYSTEMS[name]()


@functools.cache
def learned(name, k, algorithm="mean_field"):
    """``learn`` on a tie system, exact operator, to 1e-12 (cached across tests)."""
    return learn(tie_system(name), k, None, algorithm=algorithm, tol=1e-12, progress=False)


def max_err_vs_joint(system, table, joint, n):
    """max |joint[s_g, s_1..s_n] - table[s_g, rank(counts)]| over every joint state."""
    err = 0.0
    for st in itertools.product(range(system.S_g), *[range(system.S_l)] * n):
        c = np.bincount(np.array(st[1:]), minlength=system.S_l)
        err = max(err, abs(joint[st] - table[st[0], rank(c)]))
    return err
