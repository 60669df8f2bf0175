"""Test-session set-up shared by the unit tests and the nbval notebook run.

Notebooks executed under nbval write their figures to a temporary directory (through
``SMFQ_FIGURES``, read by ``smfq_lib.plotting``), so a test run never touches the committed
``figures/``.
"""

import os
import tempfile

os.environ.setdefault("SMFQ_FIGURES", tempfile.mkdtemp(prefix="smfq-figures-"))
