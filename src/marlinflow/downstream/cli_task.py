"""Build a downstream task table from a data set's own label files (or a CSV of your own).

``marlinflow task NAME SOURCE --out tasks/NAME.tsv`` writes the table and its ``.json`` spec.
NAME and SOURCE:

- celebv_hq_appearance | celebv_hq_action | celebv_hq_emotion: ``celebvhq_info.json``
- cmu_mosei_emotion | cmu_mosei_sentiment2 | cmu_mosei_sentiment7 | cmu_mosei_sentiment:
  ``CMU_MOSEI_Labels.csd`` (needs h5py) or its CSV export, with ``--folds cmu_mosei_std_folds.py``
- faceforensics: the data set's root (``--compression``, ``--methods``)
- dfew: the data set's root (``--fold`` 1..5)
- csv: your CSV/TSV (``--kind``, ``--label-columns``; ``split`` column optional)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marlinflow.errors import InputError

NAMES = (
    "celebv_hq_appearance", "celebv_hq_action", "celebv_hq_emotion",
    "cmu_mosei_emotion", "cmu_mosei_sentiment2", "cmu_mosei_sentiment7", "cmu_mosei_sentiment",
    "faceforensics", "dfew", "csv",
)  # fmt: skip


def build_task(args: argparse.Namespace):
    """The Task that NAME and SOURCE describe."""
    from marlinflow.downstream import adapters, mosei

    name, source = args.name, args.source
    if name in ("celebv_hq_appearance", "celebv_hq_action"):
        return adapters.celebv_hq_attributes(source, name.rsplit("_", 1)[1], args.seed)
    if name == "celebv_hq_emotion":
        return adapters.celebv_hq_emotion(source, args.multi, args.seed)
    if name.startswith("cmu_mosei_"):
        if args.folds is None:
            raise InputError(
                source, "CMU-MOSEI tasks need --folds (the SDK's cmu_mosei_std_folds.py)"
            )
        labels, folds = mosei.read_labels(source), mosei.read_folds(args.folds)
        return mosei.mosei_task(labels, folds, name.removeprefix("cmu_mosei_"))
    if name == "faceforensics":
        methods = tuple(args.methods) if args.methods else adapters.FF_METHODS
        return adapters.faceforensics(source, args.compression, methods)
    if name == "dfew":
        return adapters.dfew(source, args.fold, seed=args.seed)
    if not args.kind or not args.label_columns:
        raise InputError(source, "a csv task needs --kind and --label-columns")
    return adapters.from_csv(source, args.kind, args.label_columns, args.task_name, args.seed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=NAMES, help="which task to build")
    parser.add_argument("source", type=Path, help="the data set's label file or root folder")
    parser.add_argument("--out", type=Path, required=True, help="task table TSV to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of hashed splits")
    parser.add_argument("--multi", choices=("dominant", "drop"), default="dominant",
                        help="CelebV-HQ clips with several emotions: longest one, or drop")  # fmt: skip
    parser.add_argument("--folds", type=Path, help="CMU-MOSEI: cmu_mosei_std_folds.py")
    parser.add_argument("--compression", default="c23", help="FaceForensics++: c0, c23 or c40")
    parser.add_argument("--methods", nargs="+", help="FaceForensics++ manipulations (default all)")
    parser.add_argument("--fold", type=int, default=1, help="DFEW fold 1..5")
    parser.add_argument("--kind", help="csv: multilabel, multiclass, binary or regression")
    parser.add_argument("--label-columns", nargs="+", help="csv: the label column(s)")
    parser.add_argument("--task-name", help="csv: the task's name (default: the file's stem)")


def run(args: argparse.Namespace) -> int:
    try:
        task = build_task(args)
        task.save(args.out)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {task.name} ({task.kind}), {task.counts()}, {len(task.excluded)} excluded")
    return 0
