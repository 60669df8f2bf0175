"""smfq_lib.chapters.reproduce (CLI, settings helper) and smfq_lib.chapters.plotting (figure
locations, files)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from nbformat.v4 import new_code_cell, new_notebook  # noqa: E402

from smfq_lib.chapters import plotting  # noqa: E402
from smfq_lib.chapters.reproduce import check_injected, find_notebooks, settings  # noqa: E402
from smfq_lib.chapters.reproduce import main as reproduce_main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _reproduce(*args, figures: Path, cwd: Path):
    env = dict(os.environ, SMFQ_FIGURES=str(figures))
    return subprocess.run(
        [sys.executable, "-m", "smfq_lib.reproduce", *args, "--no-progress"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _notebook(path: Path, *sources: str) -> None:
    book = new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [new_code_cell(sources[0], metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(src) for src in sources[1:]]
    book.cells = cells
    nbformat.write(book, path)


# -- end to end -----------------------------------------------------------------------------


def test_reproduce_quick_chapter_01(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    proc = _reproduce(
        "--profile",
        "quick",
        "--only",
        "01",
        "--results",
        str(results),
        figures=figures,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    executed = results / "01_system_and_examples.ipynb"
    assert executed.is_file()
    book = nbformat.read(executed, as_version=4)
    injected = [c for c in book.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "quick"' in injected[0].source
    assert not any(
        o.get("output_type") == "error" for c in book.cells for o in c.get("outputs", [])
    )
    for name in ("gaussian_squeeze_reward", "constrained_exploration_boxes"):
        for ext in ("png", "csv"):
            path = figures / "01_system_and_examples" / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
    assert "01_system_and_examples.ipynb" in proc.stdout and "check passed" in proc.stdout
    assert "1/1" in proc.stdout


def test_failing_check_makes_reproduce_fail(tmp_path):
    notebooks, results = tmp_path / "nbs", tmp_path / "out"
    notebooks.mkdir()
    _notebook(notebooks / "01_ok.ipynb", 'profile = "full"', 'assert profile == "quick"')
    _notebook(notebooks / "02_fail.ipynb", 'profile = "quick"', "assert 1 + 1 == 3, 'claim fails'")
    _notebook(notebooks / "03_after.ipynb", 'profile = "quick"', "print('still runs')")
    (notebooks / "not_a_chapter.ipynb").write_text("{}")  # ignored: no NN_ prefix
    proc = _reproduce(
        "--profile",
        "quick",
        "--notebooks",
        str(notebooks),
        "--results",
        str(results),
        figures=tmp_path / "figs",
        cwd=tmp_path,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in results.iterdir()) == [
        "01_ok.ipynb",
        "02_fail.ipynb",
        "03_after.ipynb",
    ]
    lines = {
        line.split()[0]: line for line in proc.stdout.splitlines() if line.endswith(("yes", "NO"))
    }
    assert lines["01_ok.ipynb"].endswith("yes")  # the parameter profile=quick was injected
    assert lines["02_fail.ipynb"].endswith("NO")
    assert lines["03_after.ipynb"].endswith("yes")  # later notebooks still run
    assert "claim fails" in proc.stdout and "2/3" in proc.stdout


_PROBE = (
    "import os, pathlib\n"
    "for var in ('SMFQ_FIGURES', 'SMFQ_RESULTS'):\n"
    "    folder = pathlib.Path(os.environ[var])\n"
    "    folder.mkdir(parents=True, exist_ok=True)\n"
    "    (folder / 'probe.txt').write_text(var)\n"
    "with open(os.environ['SMFQ_SWEEP_LOG'], 'a') as fh:\n"
    "    fh.write('')"
)


def test_relative_paths_are_taken_from_the_callers_folder(tmp_path, monkeypatch):
    """``--notebooks``, ``--results``, ``$SMFQ_FIGURES`` and ``$SMFQ_RESULTS`` given relative to
    the caller's folder land there, not under the notebooks' folder where the kernel runs."""
    (tmp_path / "nbs").mkdir()
    _notebook(tmp_path / "nbs" / "01_probe.ipynb", 'profile = "quick"', _PROBE)
    monkeypatch.setenv("SMFQ_RESULTS", "relstore")
    args = ("--profile", "quick", "--notebooks", "nbs", "--results", "out")
    proc = _reproduce(*args, figures=Path("relfig"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "out" / "01_probe.ipynb").is_file()
    assert (tmp_path / "relfig" / "probe.txt").read_text() == "SMFQ_FIGURES"
    assert (tmp_path / "relstore" / "probe.txt").read_text() == "SMFQ_RESULTS"
    assert sorted(p.name for p in (tmp_path / "nbs").iterdir()) == ["01_probe.ipynb"]
    assert f"sweep results stores -> {tmp_path / 'relstore'}" in proc.stdout


def test_only_unknown_chapter_is_an_error(tmp_path, capsys):
    """The command line's exit status 2 and message, in process: ``main`` refuses before it
    writes or starts anything (``python -m smfq_lib.reproduce`` is ``sys.exit(main())``)."""
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    _notebook(notebooks / "01_ok.ipynb", 'profile = "quick"')
    args = ["--profile", "quick", "--notebooks", str(notebooks), "--only", "07", "--no-progress"]
    args += ["--results", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_:
        reproduce_main(args)
    assert exit_.value.code == 2
    assert "--only 07: no such notebook" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert find_notebooks(notebooks, ["1"]) == [notebooks / "01_ok.ipynb"]


# -- settings --------------------------------------------------------------------------------

PROFILES = {"quick": {"n": 10, "k": 2}, "full": {"n": 1000, "k": 20}}


def test_settings_none_takes_the_profile_value():
    cfg = settings("quick", PROFILES, n=None, k=None)
    assert (cfg.profile, cfg.n, cfg.k) == ("quick", 10, 2)
    cfg = settings("full", PROFILES, n=None, k=5)
    assert (cfg.profile, cfg.n, cfg.k) == ("full", 1000, 5)
    assert dict(cfg.items()) == {"n": 1000, "k": 5} and cfg["k"] == 5
    assert "k = 5" in repr(cfg)
    with pytest.raises(AttributeError):
        cfg.n = 3
    with pytest.raises(AttributeError, match="no knob"):
        _ = cfg.m


def test_settings_validation():
    with pytest.raises(ValueError, match="profile must be one of"):
        settings("medium", PROFILES, n=None, k=None)
    with pytest.raises(ValueError, match=r"missing \['k'\]"):
        settings("quick", PROFILES, n=None)
    with pytest.raises(ValueError, match="unknown knob"):
        settings("quick", PROFILES, n=None, k=None, kk=3)
    with pytest.raises(ValueError, match="same knobs"):
        settings("quick", {"quick": {"n": 1}, "full": {"n": 2, "k": 3}}, n=None)


# -- plotting --------------------------------------------------------------------------------


def test_figures_root_rule(monkeypatch, tmp_path):
    monkeypatch.delenv("SMFQ_FIGURES", raising=False)
    assert plotting.figures_root("full") == REPO / "figures"
    assert plotting.figures_root("quick") == REPO / "results" / "quick" / "figures"
    monkeypatch.setenv("SMFQ_FIGURES", str(tmp_path))
    assert plotting.figures_root("full") == tmp_path


def _read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_save_figure_writes_png_and_csv(monkeypatch, tmp_path):
    monkeypatch.setenv("SMFQ_FIGURES", str(tmp_path))
    plotting.use_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0.5, 0.25, 1 / 3], label="worst-case gap (exact)")
    ax.set(xlabel="k", ylabel="gap")
    png, csv_path = plotting.save_figure(
        fig, "99_test", "gap", {"k": [1, 2], "algorithm": ["tabular", "mean_field"]},
        profile="quick",
    )  # fmt: skip
    assert png == tmp_path / "99_test" / "gap.png" and png.read_bytes()[:4] == b"\x89PNG"
    rows = _read_csv(csv_path)
    assert list(rows[0]) == ["panel", "series", "kind", "x", "y", "k", "algorithm"]
    assert [r["series"] for r in rows[:3]] == ["worst-case gap (exact)"] * 3
    assert float(rows[2]["y"]) == 1 / 3 and rows[2]["kind"] == "line"  # exact round trip
    assert [(r["kind"], r["k"], r["algorithm"]) for r in rows[3:]] == [
        ("table", "1", "tabular"), ("table", "2", "mean_field")
    ]  # fmt: skip
    with pytest.raises(ValueError, match="equal lengths"):
        plotting.save_figure(fig, "99_test", "bad", {"a": [1, 2], "b": [1]}, profile="quick")
    with pytest.raises(ValueError, match="clash"):
        plotting.save_figure(fig, "99_test", "bad", {"x": [1]}, profile="quick")
    with pytest.raises(ValueError, match="plain file name"):
        plotting.save_figure(fig, "../x", "bad", profile="quick")
    ax.set_ylabel("")
    with pytest.raises(ValueError, match="no y label"):
        plotting.save_figure(fig, "99_test", "bad", profile="quick")
    plt.close(fig)


def test_save_figure_writes_every_series_the_figure_shows(monkeypatch, tmp_path):
    """Every series drawn is in the CSV, read from the figure: a figure whose ``data`` holds
    none of them (what the CSV was before: only ``data``) still has all of them, labelled as in
    its legend, in panels named by their titles."""
    monkeypatch.setenv("SMFQ_FIGURES", str(tmp_path))
    fig, (ax, ax2, ax3) = plt.subplots(1, 3)
    k = np.array([1, 2, 3])
    ax.plot(k, [3.0, 2.0, 1.5], "o", label="first (exact)")
    ax.errorbar(k, [2.5, 2.0, 1.0], yerr=[0.1, 0.2, 0.3], fmt="s", label="uniform (MC, 95% CI)",
                transform=plotting.nudged(ax, 4))  # fmt: skip
    ax.axhline(3.5, label="V*")
    ax.fill_between(k, [1.0, 1.0, 1.0], [2.0, 3.0, 4.0], label="band")
    ax.scatter([0.5, 1.5], [1.0, 2.0], label="scatter")
    ax2.stairs([2.0, 5.0], [0.0, 0.5, 1.0], label="returns")
    ax2.bar([0, 1], [4, 1], width=0.5, label="bars")
    ax3.imshow(np.arange(6.0).reshape(2, 3), label="share")
    for a, title in zip((ax, ax2, ax3), ("returns", "histogram", ""), strict=True):
        a.set(xlabel="x", ylabel="y", title=title)
    _, csv_path = plotting.save_figure(fig, "99_test", "all", {"k": k}, profile="quick")
    rows = _read_csv(csv_path)
    by = {}
    for r in rows:
        by.setdefault((r["panel"], r["series"], r["kind"]), []).append(r)
    got = {key: len(v) for key, v in by.items()}
    assert got == {
        ("returns", "first (exact)", "markers"): 3,
        ("returns", "uniform (MC, 95% CI)", "error bars"): 3,
        ("returns", "V*", "horizontal line"): 1,
        ("returns", "band", "band"): 3,
        ("returns", "scatter", "scatter"): 2,
        ("histogram", "returns", "histogram"): 2,
        ("histogram", "bars", "bars"): 2,
        ("[panel 3]", "share", "image"): 6,
        ("", "", "table"): 3,
    }
    err = by["returns", "uniform (MC, 95% CI)", "error bars"]
    assert [float(r["x"]) for r in err] == [1, 2, 3]  # nudged by a transform: x stays k
    assert [(float(r["y_low"]), float(r["y_high"])) for r in err][2] == pytest.approx((0.7, 1.3))
    band = by["returns", "band", "band"]
    assert [(float(r["x"]), float(r["y_low"]), float(r["y_high"])) for r in band] == [
        (1, 1, 2), (2, 1, 3), (3, 1, 4)
    ]  # fmt: skip
    hist = by["histogram", "returns", "histogram"]
    assert [(float(r["x_low"]), float(r["x_high"]), float(r["y"])) for r in hist] == [
        (0.0, 0.5, 2.0), (0.5, 1.0, 5.0)
    ]  # fmt: skip
    image = by["[panel 3]", "share", "image"]
    assert [(float(r["x"]), float(r["y"]), float(r["z"])) for r in image][5] == (2, 1, 5)
    assert float(by["returns", "V*", "horizontal line"][0]["y"]) == 3.5
    ax.plot(k, k, "--")  # a series the legend cannot name is refused
    with pytest.raises(ValueError, match="without a label"):
        plotting.save_figure(fig, "99_test", "bad", profile="quick")
    plt.close(fig)


def test_save_figure_replaces_a_symlink_instead_of_following_it(monkeypatch, tmp_path):
    """A link planted as ``fig.csv`` / ``fig.png`` is replaced by the new file (written beside it,
    then renamed over it); the file it pointed to, outside the figures folder, is untouched, and
    no temporary file is left behind."""
    monkeypatch.setenv("SMFQ_FIGURES", str(tmp_path / "figs"))
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    folder = tmp_path / "figs" / "99_test"
    folder.mkdir(parents=True)
    for suffix in ("csv", "png"):
        (folder / f"fig.{suffix}").symlink_to(outside)
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4], label="gap (exact)")
    ax.set(xlabel="k", ylabel="gap")
    png, csv_path = plotting.save_figure(fig, "99_test", "fig", {"k": [1, 2]}, profile="quick")
    plt.close(fig)
    assert outside.read_text() == "keep me"
    assert not png.is_symlink() and png.read_bytes()[:4] == b"\x89PNG"
    rows = csv_path.read_text().splitlines()
    assert not csv_path.is_symlink() and rows[0] == "panel,series,kind,x,y,k"
    line = "[panel 1],gap (exact),line"
    assert rows[1:] == [f"{line},1.0,3.0,", f"{line},2.0,4.0,", ",,table,,,1", ",,table,,,2"]
    assert sorted(p.name for p in folder.iterdir()) == ["fig.csv", "fig.png"]


def test_committed_notebooks_follow_the_pattern():
    for path in sorted((REPO / "notebooks").glob("0[12]_*.ipynb")):
        book = json.loads(path.read_text())
        cells = book["cells"]
        assert cells[0]["cell_type"] == "markdown", path
        assert "parameters" in cells[1]["metadata"].get("tags", []), path
        params = "".join(cells[1]["source"])
        assert 'profile = "quick"' in params and "PROFILES" in params, path
        assert "settings(" in "".join(cells[2]["source"]), path
        assert any("".join(c["source"]).startswith("# NBVAL_CHECK_OUTPUT") for c in cells), path
        assert "assert " in "".join(cells[-1]["source"]), path


def test_plot_return_vs_k_draws_one_curve_per_rule():
    fig, ax = plt.subplots()
    k = [1, 2, 3]
    plotting.plot_return_vs_k(
        ax,
        k,
        exact={"first": [1.0, 0.0, 0.0], "coordinated": [1.0, 1.5, 1.8]},
        mc={"coordinated": ([1.0, 1.4, 1.9], [0.1, 0.1, 0.1]), "authors": ([1, 1, 1], [0, 0, 0])},
        references=[("$V^*$", 2.0)],
        curves=[("k-agent optimum", [1.0, 2.0, 2.0])],
        title="t",
    )
    labels = ax.get_legend_handles_labels()[1]
    assert labels.count("first (exact)") == 1 and "coordinated (exact)" in labels
    assert "authors' code (comparison) (Monte Carlo, 95% CI)" in labels  # no exact: own label
    assert "coordinated (Monte Carlo, 95% CI)" in labels  # every series names its estimator
    assert "$V^*$ = 2.000" in labels and "k-agent optimum" in labels
    assert ax.get_xlabel() == "sampled agents k" and ax.get_ylabel() == "discounted return"
    # integer k: markers only, no series joined by a line (the reference lines are horizontal)
    for line in ax.get_lines():
        if len(line.get_xdata()) > 1 and len(set(line.get_ydata())) > 1:
            assert line.get_linestyle() == "None", line.get_label()
    # the Monte Carlo legend entry is drawn with an error bar, as the bars it stands for
    handles, labels = ax.get_legend_handles_labels()
    entry = handles[labels.index("coordinated (Monte Carlo, 95% CI)")]
    assert isinstance(entry, ErrorbarContainer) and entry.has_yerr
    assert entry.lines[0].get_xdata().tolist() == k  # nudged by a transform: x stays k
    plt.close(fig)


# -- papermill parameters the notebook does not have ------------------------------------------
PARAMETERS = 'profile = "quick"  # profile\nn = None  # agents\nseed = 0  # not a knob\n'
PARAMETERS += 'PROFILES = {"quick": {"n": 1}, "full": {"n": 2}}'
RESOLVE = "from smfq_lib.chapters.settings import settings\ncfg = settings(profile, PROFILES, n=n)"


def _papermill(notebook: Path, out: Path, *args: str):
    return subprocess.run(
        [sys.executable, "-m", "papermill", str(notebook), str(out), *args],
        cwd=notebook.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_papermill_accepts_the_known_parameters(tmp_path):
    """Known names (knobs, plain parameters, papermill's own paths) run as before; the refusal
    of an unknown one: the next test (one kernel, a chapter's) and check_injected's tests."""
    nb = tmp_path / "tiny.ipynb"
    _notebook(nb, PARAMETERS, RESOLVE, "print(cfg.profile, cfg.n, seed)")
    args = ("-p", "profile", "full", "-p", "seed", "3", "--inject-paths")
    good = _papermill(nb, tmp_path / "good.ipynb", *args)
    assert good.returncode == 0, good.stderr[-2000:]
    outputs = nbformat.read(tmp_path / "good.ipynb", as_version=4).cells[-1].outputs
    assert outputs[0]["text"] == "full 2 3\n"


def test_papermill_refuses_an_unknown_parameter_in_a_chapter(tmp_path):
    # chapter 03 stops at its settings cell, seconds after the kernel starts
    chapter = REPO / "notebooks" / "03_learning.ipynb"
    proc = _papermill(chapter, tmp_path / "out.ipynb", "-p", "profil", "full")
    assert proc.returncode != 0
    assert (
        "papermill was given parameter(s) ['profil'] that this notebook does not have; its "
        "parameters are ['A_g', 'A_l', 'S_g', 'S_l', 'gamma', 'k', 'm', 'profile', "
        "'sample_seed', 'system_seed', 'tol']"
    ) in " ".join(proc.stderr.split())


def _parameters_cell(chapter: str) -> tuple[str, dict]:
    """The committed parameters cell of ``chapter`` and the names it assigns, with values."""
    book = nbformat.read(REPO / "notebooks" / f"{chapter}.ipynb", as_version=4)
    (cell,) = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    namespace: dict = {}
    exec(cell.source, namespace)
    return cell.source, {k: v for k, v in namespace.items() if not k.startswith("__")}


def test_every_chapter_declares_each_parameter_and_its_values_fit():
    """PARAMETERS covers exactly the names of each parameters cell (knobs and plain ones), every
    committed chapter passes its name to settings, and both profiles' values fit."""
    from smfq_lib.chapters.settings import PARAMETERS, check_parameter

    books = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(PARAMETERS) == [p.stem for p in books]
    for path in books:
        chapter = path.stem
        _, names = _parameters_cell(chapter)
        profiles = names.pop("PROFILES")
        names.pop("profile")
        assert set(PARAMETERS[chapter]) == set(names), chapter
        for values in profiles.values():
            for name, value in values.items():
                check_parameter(chapter, name, value)
        for name, value in names.items():
            if name not in profiles["quick"]:
                check_parameter(chapter, name, value)
        cells = nbformat.read(path, as_version=4).cells
        assert any(f'chapter="{chapter}"' in c.source for c in cells), chapter


@pytest.mark.parametrize(
    ("knob", "value", "must"),
    [
        ("n_max", True, "an int >= 1; got True (bool)"),
        ("n_max", 10.5, "an int >= 1; got 10.5 (float)"),
        ("n_max", "abc", "an int >= 1; got 'abc' (str)"),
        ("k_max", -3, "an int >= 1; got -3 (int)"),
        ("Z_max", 1.5, "an int >= 1; got 1.5 (float)"),
    ],
)
def test_a_knob_of_the_wrong_type_or_range_is_refused(knob, value, must):
    _, names = _parameters_cell("02_table_sizes")
    knobs = dict.fromkeys(names["PROFILES"]["quick"]) | {knob: value}
    with pytest.raises(ValueError) as err:
        settings("quick", names["PROFILES"], chapter="02_table_sizes", **knobs)
    assert str(err.value) == (
        f"parameter {knob} of chapter 02_table_sizes must be {must}. Fix it in the parameters "
        f"cell, or pass e.g. papermill -p {knob} <value> with such a value."
    )
    settings("quick", names["PROFILES"], **knobs)  # without chapter= nothing is typed


@pytest.mark.parametrize(
    ("chapter", "args", "message"),
    [
        ("02_table_sizes", ("-p", "n_max", "True"), "parameter n_max of chapter 02_table_sizes "
         "must be an int >= 1; got True (bool)"),
        ("03_learning", ("-p", "system_seed", "abc"), "parameter system_seed of chapter "
         "03_learning must be an int >= 0; got 'abc' (str)"),
    ],
)  # fmt: skip
def test_papermill_refuses_a_value_of_the_wrong_type_in_a_chapter(tmp_path, chapter, args, message):
    """End to end: the chapter stops at its settings cell (a knob; a plain parameter, read from
    the kernel) with the message, instead of running a meaningless chapter."""
    proc = _papermill(REPO / "notebooks" / f"{chapter}.ipynb", tmp_path / "out.ipynb", *args)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_check_injected_reads_the_injected_cell():
    params = "profile = 'quick'  # help\nn = None\nseed: int = 0\nPROFILES = {}"
    check_injected({"n"}, [])  # no injected cell: nothing to check
    check_injected({"n"}, [params, "# Parameters\nprofile = 'full'\nn = 3\nseed = 1\n"])
    check_injected({"n"}, [params, "# Parameters\nPAPERMILL_INPUT_PATH = 'a.ipynb'\n"])
    with pytest.raises(
        ValueError, match=r"\['nn', 'x'\] .* parameters are \['n', 'profile', 'seed'\]"
    ):
        check_injected({"n"}, [params, "# Parameters\nnn = 3\nx = 1\n", "cfg = settings(...)"])
    # the last injected cell counts; without a preceding cell only the knobs are known
    with pytest.raises(ValueError, match=r"\['seed'\]"):
        check_injected({"n"}, ["# Parameters\nseed = 1\n"])


def test_chapter_store_rule(monkeypatch, tmp_path):
    from smfq_lib.chapters.reproduce import chapter_store, results_root

    monkeypatch.delenv("SMFQ_RESULTS", raising=False)
    assert results_root("quick") == REPO / "results" / "quick"
    assert (
        chapter_store("06_gaussian_squeeze", "full")
        == REPO / "results/full/06_gaussian_squeeze.sqlite"
    )
    monkeypatch.setenv("SMFQ_RESULTS", str(tmp_path))
    assert chapter_store("07_x", "quick") == tmp_path / "07_x.sqlite"
    with pytest.raises(ValueError, match="chapter name"):
        chapter_store("../evil", "quick")


def test_notebooks_name_the_kernel_as_it_reports_itself():
    """JupyterLab rewrites a notebook's kernelspec to the kernel's own (and marks the notebook
    modified on opening) unless they agree."""
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        kernelspec = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert kernelspec == {
            "display_name": spec["display_name"], "language": spec["language"], "name": "python3"
        }, path  # fmt: skip
