"""Speed of the PettingZoo environment (smfq_lib.envs) against the compiled executor.

For n = 10 ... 10^5 local agents: microseconds per agent-step of (1) the environment alone
(``env.step`` with fixed actions), (2) the environment's loop with the learned policy's actions
(``agent_policy``, Algorithm 3), and the ratio of (2) to ``rollout_agents`` running the same
process (one rollout, the same horizon, k = 4) in the same run. The target is linear cost in
``n`` (a flat column of microseconds per agent-step): both are O(n) per step, the environment in
vectorised NumPy plus the O(n) dicts of the PettingZoo API, the executor in a Numba kernel.

The system is a random one with S_g = 2, S_l = 3, A_g = 2, A_l = 2. Kernels are compiled (or
loaded from the cache) by a warm-up call before timing; each figure is the best of ``--repeat``
runs.

Usage: ``python benchmarks/bench_envs.py [--repeat 3] [--quick]``. Prints one table.
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best

from smfq_lib import learn
from smfq_lib.envs import agent_policy, parallel_env
from smfq_lib.execute import rollout_agents
from smfq_lib.model.examples import random_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n up to 10^4 only")
    args = parser.parse_args()
    system = random_system(2, 3, 2, 2, gamma=0.9, seed=0)
    q = learn(system, 4, progress=False)
    ns = [10, 100, 1_000, 10_000] + ([] if args.quick else [100_000])
    print(f"{'n':>8} {'steps':>6} {'env us/agent-step':>18} {'env+policy':>11} "
          f"{'rollout_agents':>15} {'ratio':>7}")  # fmt: skip
    for n in ns:
        H = max(5, 20_000 // n)
        env = parallel_env(system, n, horizon=H, seed=0)
        pol = agent_policy(q, env)
        fixed = dict.fromkeys(env.possible_agents, 0)

        def loop(with_policy, env=env, pol=pol, fixed=fixed):
            rng = np.random.default_rng(0)
            obs, _ = env.reset(seed=0)
            while env.agents:
                obs, *_ = env.step(pol(obs, rng) if with_policy else fixed)

        loop(True)  # warm-up
        counts = np.bincount(np.arange(n) % 3, minlength=3)
        compiled = lambda n=n, H=H, c=counts: rollout_agents(  # noqa: E731
            system, q, n, 0, c, H, 1, 0, keep="returns"
        )
        compiled()
        t_env = best(lambda loop=loop: loop(False), args.repeat)
        t_pol = best(lambda loop=loop: loop(True), args.repeat)
        t_ref = best(compiled, args.repeat)
        per = 1e6 / (n * H)
        print(f"{n:>8} {H:>6} {t_env * per:>18.3f} {t_pol * per:>11.3f} {t_ref * per:>15.3f} "
              f"{t_pol / t_ref:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
