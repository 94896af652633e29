"""Write the small datasets that ``make_clusgap_fixture.R`` feeds to R's ``clusGap``.

Run from the repository root::

    python benchmarks/r/make_clusgap_datasets.py

It writes ``tests/data/clusgap_<name>.csv`` (header ``x1,x2,...``, values with
17 significant digits so that R reads back exactly the float64 numbers Python
made). The CSVs are committed: ``tests/test_gap_vs_r.py`` reads them rather
than regenerating, so the test sees byte for byte what R saw. Each generator
below is deterministic (fixed seeds), so rerunning this script reproduces the
committed files.
"""

from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parents[2] / "tests" / "data"


def three_blobs_2d():
    """Three well-separated round blobs in 2-D (true K = 3), 50 points each.

    Not an equilateral triangle: there, splitting off one blob (K = 2) lowers
    log W_k about as much as it does on uniform data, gap(2) ~ gap(1), and the
    Tibshirani rule stops at K = 1 on some seeds (R did, on 1 seed in 10).
    """
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [8.0, 0.0], [3.0, 4.0]])
    return np.vstack([c + rng.normal(size=(50, 2)) for c in centers])


def income_age_scaled():
    """The seed article's income/age data (N=100, k=5), standardised.

    Written out with the seed's own recipe rather than imported from the
    package, so the fixture does not move if the package's generator changes.
    The seed's author saw four clusters by eye (two of the five overlap).
    """
    np.random.seed(10)
    n, k = 100, 5
    rows = []
    for _ in range(k):
        income_centre = np.random.uniform(20000.0, 200000.0)
        age_centre = np.random.uniform(20.0, 70.0)
        for _ in range(n // k):
            income = np.random.normal(income_centre, 10000.0)
            age = np.random.normal(age_centre, 2.0)
            rows.append([income, age])
    X = np.array(rows)
    # sklearn.preprocessing.scale: centre, divide by the population sd (ddof=0).
    return (X - X.mean(axis=0)) / X.std(axis=0)


def uniform_square():
    """Uniform noise in the unit square: no cluster structure (true K = 1)."""
    return np.random.default_rng(2).uniform(size=(100, 2))


def four_blobs_5d():
    """Four overlapping Gaussian blobs in 5-D, 50 points each (true K = 4)."""
    rng = np.random.default_rng(3)
    centers = rng.normal(scale=1.5, size=(4, 5))
    return np.vstack([c + rng.normal(size=(50, 5)) for c in centers])


DATASETS = {
    "three_blobs_2d": three_blobs_2d,
    "income_age_scaled": income_age_scaled,
    "uniform_square": uniform_square,
    "four_blobs_5d": four_blobs_5d,
}


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, make in DATASETS.items():
        X = make()
        header = ",".join(f"x{j + 1}" for j in range(X.shape[1]))
        path = OUT_DIR / f"clusgap_{name}.csv"
        np.savetxt(path, X, fmt="%.17g", delimiter=",", header=header, comments="")
        print(f"wrote {path.relative_to(OUT_DIR.parents[1])} {X.shape}")


if __name__ == "__main__":
    main()
