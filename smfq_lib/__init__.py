"""smfq_lib: SUBSAMPLE-MFQ (Anand, Karmarkar, Qu; arXiv 2412.00661).

Algorithms 1-2 (learning on a k-agent subsystem), Algorithm 3 (the randomized decentralized
policy on n agents), exact evaluation and the bound of Theorem 0.11.
"""

__version__ = "0.1.0"

from smfq_lib.system import Aggregate, CooperativeSystem

__all__ = ["Aggregate", "CooperativeSystem", "__version__"]
