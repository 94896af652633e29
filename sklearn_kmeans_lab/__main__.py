"""The package's command line; ``make demo`` runs its ``demo`` command.

Usage: ``python -m sklearn_kmeans_lab demo [--out DIR] [--random-state N]``.
"""

import argparse
import os
import sys

from sklearn_kmeans_lab._demo import check_out_folder, check_seed, run_demo


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str or path-like, default=None
        The arguments after the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    status : int
        The exit status, 0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_kmeans_lab",
        description="sklearn-kmeans-lab command line tools.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="replay the classic income/age K-Means lesson and save its plots",
        description=(
            "Generate the lesson's 100 people in 5 income/age clusters, fit "
            "StandardScaler + LloydKMeans(5), print the clusters, choose K, and "
            "save the plots as PNG files. Runs without a display."
        ),
    )
    demo.add_argument(
        "--out",
        default="demo_output",
        help="folder for the plots (default: %(default)s)",
    )
    demo.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="seed of the clustering and of the K selection (default: %(default)s)",
    )
    args = parser.parse_args(None if argv is None else [os.fspath(a) for a in argv])

    if args.command == "demo":
        # Checked here as well as in run_demo, to end with argparse's one-line
        # error and exit status 2 before anything is created.
        try:
            check_out_folder(args.out, name="--out")
            check_seed(args.random_state, name="--random-state")
        except ValueError as exc:
            demo.error(str(exc))
        run_demo(args.out, random_state=args.random_state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
