"""smfq_lib: SUBSAMPLE-MFQ (Anand, Karmarkar, Qu; arXiv 2412.00661).

Algorithms 1-2 (learning on a k-agent subsystem), Algorithm 3 (the randomized decentralized
policy on n agents), exact evaluation and the bound of Theorem 0.11; the non-tabular setting of
Theorem 0.15 (a linear model on the k-agent subsystem) in :mod:`smfq_lib.linear`.
"""

import os
from pathlib import Path

# Numba's OpenMP threading layer busy-waits between parallel launches by default, which costs
# 5-50 ms per launch when the cores are shared (notebook kernels, Dask workers, CI). Passive
# waiting changes no result; a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# Numba invalidates a cached kernel only when its own file changes, not when a function it calls
# from another module does: drop the package's kernel cache whenever any source changed.
import numba  # noqa: E402

from smfq_lib._utils.kernel_cache import drop_stale_cache  # noqa: E402

drop_stale_cache(Path(__file__).resolve().parent, numba.__version__)

from smfq_lib.learning import SubsampledQ, learn, learn_online  # noqa: E402
from smfq_lib.linear import LinearQ, learn_linear  # noqa: E402
from smfq_lib.model.oracle import GenerativeOracle  # noqa: E402
from smfq_lib.model.system import Aggregate, CooperativeSystem, RewardNoise  # noqa: E402

__all__ = [
    "Aggregate",
    "CooperativeSystem",
    "GenerativeOracle",
    "LinearQ",
    "RewardNoise",
    "SubsampledQ",
    "learn",
    "learn_linear",
    "learn_online",
    "__version__",
]
