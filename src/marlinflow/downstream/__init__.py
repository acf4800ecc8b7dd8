"""Downstream evaluation: tasks from each data set's files, metrics, linear probe, fine-tuning.

The flow, one command each::

    marlinflow task celebv_hq_appearance celebvhq_info.json --out tasks/appearance.tsv
    marlinflow extract data/interim/celebv_hq/faces/*.mp4 --weights encoder.pt --out features/
    marlinflow probe features/ tasks/appearance.tsv --out results/downstream/appearance/lp --seeds 0 1 2
    marlinflow finetune tasks/appearance.tsv --usable results/datasets/celebvhq/usable_faces.txt \\
        --encoder encoder.pt --baseline --out results/downstream/appearance/ft

Modules: ``tasks`` (the task table and its spec; each data set's module of
:mod:`marlinflow.datasets` builds the tables of its tasks), ``kinds`` (what each kind of task
predicts, and how it is trained and scored), ``splits`` (seeded splits and few-shot subsets),
``metrics`` (with bootstrap intervals), ``training`` (the official optimiser and schedule),
``probe`` and ``finetune`` (the two protocols), ``encoders`` (trained weights and the random /
VideoMAE baselines), ``results`` (metrics.json and predictions.csv).
"""
