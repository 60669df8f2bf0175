"""An example's modelling choices as Markdown, for the notebooks (chapter 1).

Each example function documents, in reStructuredText, how the paper's description became finite
``(P_g, P_l, r_g, r_l)`` arrays. :func:`describe` turns that docstring into Markdown (inline
literals, Sphinx roles), so that a notebook shows it rendered:
``IPython.display.Markdown(describe(gaussian_squeeze))``.
"""

from __future__ import annotations

import inspect
import re

__all__ = ["describe", "rst_to_markdown"]

#: ``:role:`~pkg.mod.name``` or ``:role:`name``` -> the shown name (the last part after ``~``).
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc):`(~?)([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``", re.S)  # a literal may run over a line break


def _role(match: re.Match) -> str:
    target = match.group(2)
    shown = target.rsplit(".", 1)[-1] if match.group(1) else target
    return f"`{shown}`"


def rst_to_markdown(text: str) -> str:
    """The reStructuredText of a docstring as Markdown: inline literals ````x```` become
    ```x```, Sphinx roles (``:class:`~a.b.C```, ``:func:`f```, ...) become the name in code
    font (the last component when written with ``~``), and a line ending in ``::`` ends in
    ``:``. Bullets, ``**bold**`` and paragraphs are the same in both. ``text``: the docstring
    (dedented, e.g. by ``inspect.getdoc``)."""
    text = _ROLE.sub(_role, text)
    text = _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)
    return re.sub(r"::$", ":", text, flags=re.M)


def describe(example, heading_level: int = 3) -> str:
    """Markdown of an example function's docstring under a heading with its name: what it
    models, its sizes and every modelling choice. ``example``: a function of
    :mod:`smfq_lib.model.examples` (any documented callable); ``heading_level``: the number of ``#``
    of the heading (1 to 6)."""
    if not callable(example) or not inspect.getdoc(example):
        raise ValueError(
            f"example must be a documented function such as gaussian_squeeze; got {example!r}."
        )
    if heading_level not in range(1, 7):
        raise ValueError(f"heading_level must be 1 to 6; got {heading_level!r}.")
    name = getattr(example, "__name__", type(example).__name__)
    body = rst_to_markdown(inspect.getdoc(example))
    return f"{'#' * heading_level} `{name}`\n\n{body}\n"
