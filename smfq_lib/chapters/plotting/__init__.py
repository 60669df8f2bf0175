"""The chapters' figures: one style, one way to save a figure with the numbers behind it, and one
function per kind of figure (docs/design.md §6).

* :mod:`~.style`: :func:`use_style`, :func:`save_figure` (PNG + CSV, where :func:`figures_root`
  says), and the pieces several figures share (:func:`draw_grid`, :func:`plot_return_vs_k`,
  :func:`legend_below`, :func:`nudged` and :func:`keep_in_view`, :data:`RULE_STYLE`;
  :func:`figure_series`, what :func:`save_figure` reads from a figure);
* :mod:`~.models`: the model and its sizes (chapters 1, 2);
* :mod:`~.runs`: runs of the learners and executors (chapters 3, 4, 5, 9);
* :mod:`~.studies`: the gap against Theorem 0.11, learning time and speedup, occupancy (chapters
  6, 7, 8);
* :mod:`~.linear`: chapter 10's panels;
* :mod:`~.budget`: chapter 11's gap against oracle calls, and the calls' formulas against ``k``.
* :mod:`~.logarithmic`: chapter 12's panels (costs, gap and return against ``n``).
* :mod:`~.online`: chapter 13's gap against samples and returns at large ``n``.

Every name is re-exported here: ``from smfq_lib.chapters.plotting import save_figure, use_style``.
"""

from smfq_lib.chapters.plotting.budget import plot_calls_vs_k, plot_gap_vs_calls
from smfq_lib.chapters.plotting.linear import draw_gap_vs_M, draw_learning_time, draw_return_vs_k
from smfq_lib.chapters.plotting.logarithmic import (
    plot_cost_vs_n,
    plot_gap_vs_n,
    plot_return_vs_n_exact,
)
from smfq_lib.chapters.plotting.models import (
    plot_exploration_boxes,
    plot_rule_vs_true_count,
    plot_squeeze_reward,
    plot_table_sizes_vs_k,
    plot_table_sizes_vs_n,
)
from smfq_lib.chapters.plotting.online import plot_gap_vs_samples, plot_large_n_returns
from smfq_lib.chapters.plotting.runs import (
    plot_bellman_noise,
    plot_cost_per_step,
    plot_executors_vs_exact,
    plot_residuals,
    plot_return_histograms,
    plot_return_vs_n,
    plot_reward_traces,
    plot_stochastic_reward_gaps,
    plot_value_and_executors,
)
from smfq_lib.chapters.plotting.studies import (
    plot_gap_vs_bound,
    plot_occupancy_grid,
    plot_time_and_speedup,
)
from smfq_lib.chapters.plotting.style import (
    DPI,
    REPO,
    RULE_STYLE,
    SERIES_COLUMNS,
    draw_grid,
    figure_series,
    figures_root,
    keep_in_view,
    legend_below,
    nudged,
    plot_return_vs_k,
    save_figure,
    use_style,
)

__all__ = [
    "DPI",
    "REPO",
    "RULE_STYLE",
    "SERIES_COLUMNS",
    "draw_gap_vs_M",
    "draw_grid",
    "draw_learning_time",
    "draw_return_vs_k",
    "figure_series",
    "figures_root",
    "keep_in_view",
    "legend_below",
    "nudged",
    "plot_bellman_noise",
    "plot_calls_vs_k",
    "plot_cost_per_step",
    "plot_cost_vs_n",
    "plot_executors_vs_exact",
    "plot_exploration_boxes",
    "plot_gap_vs_bound",
    "plot_gap_vs_calls",
    "plot_gap_vs_samples",
    "plot_gap_vs_n",
    "plot_large_n_returns",
    "plot_occupancy_grid",
    "plot_residuals",
    "plot_return_histograms",
    "plot_return_vs_k",
    "plot_return_vs_n",
    "plot_return_vs_n_exact",
    "plot_reward_traces",
    "plot_rule_vs_true_count",
    "plot_squeeze_reward",
    "plot_stochastic_reward_gaps",
    "plot_table_sizes_vs_k",
    "plot_table_sizes_vs_n",
    "plot_time_and_speedup",
    "plot_value_and_executors",
    "save_figure",
    "use_style",
]
