"""Specification of ``python -m sklearn_kmeans_lab demo`` (what ``make demo`` runs)."""

import contextlib
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import LloydKMeans, make_income_age_clusters
from sklearn_kmeans_lab.__main__ import main
from sklearn_kmeans_lab._demo import run_demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run the demo once for the whole module: it fits many models."""
    pytest.importorskip("matplotlib")
    # A folder that does not exist yet, two levels down: the demo creates it.
    out = tmp_path_factory.mktemp("demo_output") / "nested" / "plots"
    # capsys is function-scoped; this fixture is shared by the module.
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["demo", "--out", out, "--random-state", "0"])
    return status, out, stdout.getvalue()


def printed_labels(output):
    """The integers printed between 'Labels:' and the next blank line."""
    block = output.split("Labels:\n", 1)[1].split("\n\n", 1)[0]
    return np.array([int(v) for v in re.findall(r"\d+", block)])


def test_demo_exits_successfully(demo_run):
    status, _, _ = demo_run
    assert status == 0


def test_demo_prints_the_labels_of_the_k5_pipeline(demo_run):
    _, _, output = demo_run
    X, _ = make_income_age_clusters(100, 5, random_state=10)
    model = make_pipeline(StandardScaler(), LloydKMeans(5, random_state=0)).fit(X)
    assert_array_equal(printed_labels(output), model[-1].labels_)


def test_demo_prints_cluster_sizes_that_add_up(demo_run):
    _, _, output = demo_run
    table = output.split("back in income/age units:\n", 1)[1].split("\n\n", 1)[0]
    rows = table.splitlines()[1:]
    assert len(rows) == 5
    sizes = [int(row.split()[1]) for row in rows]
    assert_array_equal(sizes, np.bincount(printed_labels(output), minlength=5))


def test_demo_saves_the_scatter_plot_where_it_says(demo_run):
    _, out, output = demo_run
    path = out / "clusters_k5.png"
    assert f"Scatter plot saved to {path}" in output
    content = path.read_bytes()
    assert content.startswith(PNG_SIGNATURE) and len(content) > 10_000


def test_demo_chooses_k_when_kselector_is_available(demo_run):
    _, out, output = demo_run
    try:
        from sklearn_kmeans_lab import KSelector  # noqa: F401
    except ImportError:
        assert "KSelector is not available" in output
        assert not (out / "gap_statistic.png").exists()
        return
    assert re.search(r"Chosen K \(gap statistic\): \d+", output)
    assert re.search(r"Chosen K \(silhouette\): \d+", output)
    assert re.search(r"Chosen K \(Calinski-Harabasz\): \d+", output)
    content = (out / "gap_statistic.png").read_bytes()
    assert content.startswith(PNG_SIGNATURE) and len(content) > 10_000


def test_demo_opens_no_pyplot_figure(demo_run):
    # The demo draws on bare Figures so that it needs no GUI backend.
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


def test_module_entry_point_shows_the_demo_command():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_kmeans_lab", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--out" in result.stdout and "--random-state" in result.stdout


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["plot-everything"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_results_table_without_pandas_is_aligned_text(monkeypatch):
    from sklearn_kmeans_lab._demo import _results_table

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    table = _results_table(
        {
            "k": np.array([1, 2]),
            "gap": np.array([np.nan, 1.23456]),
            "gap_se": [0.1, 0.2],
        }
    )
    header, *rows = table.splitlines()
    assert header.split() == ["k", "gap", "gap_se"]
    assert [row.split() for row in rows] == [["1", "nan", "0.1"], ["2", "1.235", "0.2"]]
    assert len({len(line) for line in table.splitlines()}) == 1


def bad_demo_arguments(tmp_path):
    """(arguments, expected message) pairs the demo must refuse."""
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    return [
        (["--random-state", "-1"], "--random-state must be an int in the range"),
        (["--random-state", str(2**32)], "[0, 4294967295]; got 4294967296."),
        (["--out", a_file], f"--out {str(a_file)!r} is an existing file"),
        (
            ["--out", a_file / "plots" / "k5"],
            f"lies under {str(a_file)!r}, which is an existing file, not a folder",
        ),
    ]


@pytest.mark.parametrize("case", range(4))
def test_bad_arguments_are_one_line_errors_that_create_nothing(tmp_path, capsys, case):
    argv, message = bad_demo_arguments(tmp_path)[case]
    out = tmp_path / "new_folder"
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as excinfo:
        main(["demo", "--out", out, *argv])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    (error_line,) = [line for line in err.splitlines() if "error:" in line]
    assert error_line.startswith("python -m sklearn_kmeans_lab demo: error: ")
    assert message in error_line
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


def test_run_demo_refuses_bad_arguments_before_creating_anything(tmp_path):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match="out .* is an existing file"):
        run_demo(a_file / "plots", file=io.StringIO())
    with pytest.raises(ValueError, match="random_state must be an int"):
        run_demo(tmp_path / "plots", random_state=-1, file=io.StringIO())
    with pytest.raises(ValueError, match="random_state must be an int"):
        run_demo(tmp_path / "plots", random_state="0", file=io.StringIO())
    assert sorted(tmp_path.iterdir()) == [a_file]


def test_an_unwritable_parent_is_refused(tmp_path, capsys, monkeypatch):
    import os

    # Root may write anywhere, so the permission check is made to say no.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(SystemExit) as excinfo:
        main(["demo", "--out", tmp_path / "plots"])
    assert excinfo.value.code == 2
    assert f"{str(tmp_path)!r} is not writable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_demo_prints_bootstrap_frequencies_for_every_criterion(demo_run):
    _, _, output = demo_run
    block = output.split("bootstrap resamples (the whole selection repeated):\n")[1]
    header, *rows = block.split("\n\n", 1)[0].splitlines()
    assert header.split()[1:] == [f"K={k}" for k in range(1, 9)]
    assert {row.rsplit(maxsplit=8)[0] for row in rows} >= {
        "gap statistic",
        "silhouette",
    }
    for row in rows:
        shares = [int(v) for v in re.findall(r"(\d+)%", row)]
        assert len(shares) == 8 and 95 <= sum(shares) <= 100  # rounded shares
    assert "only its reference sets are resampled" in output


def test_every_printed_choice_has_its_column_in_the_table(demo_run):
    _, _, output = demo_run
    table = output.split("n_splits=20):\n", 1)[1].split("\n\n", 1)[0]
    header, *rows = table.splitlines()
    columns = header.split()
    names = {
        "gap statistic": "gap",
        "silhouette": "silhouette",
        "Calinski-Harabasz": "calinski_harabasz",
        "Davies-Bouldin": "davies_bouldin",
        "prediction strength": "prediction_strength",
        "jump method": "jump",
    }
    printed = re.findall(r"Chosen K \(([^)]+)\): (\d+)", output)
    assert {name for name, _ in printed} == set(names)
    for name, _ in printed:
        values = [row.split()[columns.index(names[name])] for row in rows]
        assert any(v != "NaN" and v != "nan" for v in values), name
