"""README's findings are generated from the figures' CSVs (smfq_lib.chapters.results): the block
in README.md must be what ``python -m smfq_lib.reproduce --summary`` writes from ``figures/``."""

from pathlib import Path

import pytest

from smfq_lib.chapters import results

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "figures"


def _old_format() -> list[str]:
    return sorted(
        str(p.relative_to(FIGURES)) for p in FIGURES.glob("*/*.csv") if not results.long_format(p)
    )


def test_readme_findings_match_the_figures():
    """Every number of README's findings is the one the committed figures' CSVs give."""
    old = _old_format()
    if old:
        pytest.skip(
            f"{len(old)} CSVs in figures/ are in the format before save_figure wrote every series "
            f"(e.g. {old[0]}): the README's findings cannot be read from them; after `make "
            "reproduce` (which rewrites README's block) this test compares them"
        )
    block = results.readme_block((REPO / "README.md").read_text())
    assert block is not None, "README.md has no generated block of findings"
    expected = results.findings(FIGURES)
    assert block == expected, (
        "README.md's findings differ from figures/*.csv: run `python -m smfq_lib.reproduce "
        "--summary` (and edit smfq_lib/chapters/results.py, not README.md, to change the text)"
    )


def test_readme_has_the_block():
    assert results.readme_block((REPO / "README.md").read_text()) is not None


def test_write_readme_replaces_the_block_only(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "findings", lambda root: f"- from {Path(root).name}: 1.23")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{results.BEGIN}\n- stale: 9.99\n{results.END}\n\nrest\n")
    assert results.write_readme(tmp_path / "figs", readme)
    text = readme.read_text()
    assert results.readme_block(text) == "- from figs: 1.23"
    assert text.startswith("# title\n\n") and text.endswith(f"{results.END}\n\nrest\n")
    assert not results.write_readme(tmp_path / "figs", readme), "a second run changes nothing"
    readme.write_text("# no block\n")
    with pytest.raises(ValueError, match="no block"):
        results.write_readme(tmp_path / "figs", readme)


def test_old_csv_format_is_refused(tmp_path):
    (tmp_path / "03_learning").mkdir()
    (tmp_path / "03_learning" / "residuals.csv").write_text("run,t,residual\na,0,1.0\n")
    assert not results.long_format(tmp_path / "03_learning" / "residuals.csv")
    with pytest.raises(ValueError, match="long format"):
        results.findings(tmp_path)
