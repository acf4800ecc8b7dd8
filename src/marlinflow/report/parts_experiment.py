"""The "Experiment" section: what was pretrained on what, which encoders, the evaluation suite,
and the record that pretraining never saw a video it is evaluated on."""

from __future__ import annotations

import json

import pandas as pd

from marlinflow.report.html import heading, paragraph, table
from marlinflow.report.inputs import Inputs


def corpus_table(inputs: Inputs) -> pd.DataFrame:
    rows = [
        {
            "data set": item["dataset"],
            "splits": ", ".join(item.get("splits", [])),
            "videos": item.get("videos", ""),
        }
        for item in inputs.plan.corpus
    ]
    return pd.DataFrame(rows, columns=["data set", "splits", "videos"])


def model_text(model) -> str:
    """A size name, or a mapping as ``tiny (img_size=128)``."""
    if isinstance(model, dict):
        extra = ", ".join(f"{k}={v}" for k, v in model.items() if k != "name")
        return f"{model.get('name', '?')} ({extra})" if extra else str(model.get("name", "?"))
    return "" if model is None else str(model)


def encoders_table(inputs: Inputs) -> pd.DataFrame:
    reference = inputs.plan.reference
    rows = [
        {
            "encoder": name + (" (reference)" if name == reference else ""),
            "kind": e.get("kind", ""),
            "model": model_text(e.get("model")),
            "source": e.get("source", "") if e.get("kind") == "external" else "",
        }
        for name, e in inputs.plan.encoders.items()
    ]
    return pd.DataFrame(rows, columns=["encoder", "kind", "model", "source"])


def suite_table(inputs: Inputs) -> pd.DataFrame:
    """(data set, task) -> its protocols and encoders, from the plan's results."""
    suite: dict[tuple[str, str], dict[str, list[str]]] = {}
    for entry in inputs.plan.results:
        cell = suite.setdefault((entry["dataset"], entry["task"]), {"p": [], "e": []})
        for key, value in (("p", entry["protocol"]), ("e", entry["encoder"])):
            if value not in cell[key]:
                cell[key].append(value)
    rows = [
        {
            "data set": ds,
            "task": task,
            "protocols": ", ".join(c["p"]),
            "encoders": ", ".join(c["e"]),
        }
        for (ds, task), c in suite.items()
    ]
    return pd.DataFrame(rows, columns=["data set", "task", "protocols", "encoders"])


def overlap_statement(record: dict) -> str:
    """One sentence of the overlap record (see ``marlinflow.experiment.check_overlap``)."""
    evaluation = record.get("evaluation") or {}
    counts = {ds: int(c.get("val", 0)) + int(c.get("test", 0)) for ds, c in evaluation.items()}
    per_set = ", ".join(
        f"{ds} ({c.get('val', 0)} val, {c.get('test', 0)} test)" for ds, c in evaluation.items()
    )
    by = ", and by ".join(record.get("by") or ["dataset and id"])
    if record.get("overlap"):
        found = ", ".join(map(str, record["overlap"][:20]))
        return f"Pretraining saw {len(record['overlap'])} evaluation video(s): {found}."
    if not record.get("checked"):
        return "The overlap record says the check was not run."
    return (
        f"Pretraining saw none of the {sum(counts.values())} val/test videos of "
        f"{per_set or 'the evaluation suite'} (checked by {by})."
    )


def overlap_parts(inputs: Inputs) -> list[str]:
    path = inputs.plan.document.get("overlap")
    if not path:
        return [paragraph("The plan names no overlap record.", "source")]
    try:
        record = json.loads(inputs.plan.path(path).read_text())
    except (OSError, ValueError) as err:
        return [
            paragraph(f"No overlap record to read ({path}: {err.__class__.__name__}).", "source")
        ]
    return [paragraph(overlap_statement(record))]


def experiment_parts(inputs: Inputs) -> list[str]:
    corpus, suite = corpus_table(inputs), suite_table(inputs)
    return [
        heading("Pretraining corpus"),
        table(corpus) if not corpus.empty else paragraph("No encoder is pretrained here."),
        *overlap_parts(inputs),
        heading("Encoders"),
        table(encoders_table(inputs)),
        heading("Evaluation suite"),
        table(suite) if not suite.empty else paragraph("No downstream evaluation is planned."),
        *[paragraph(note, "source") for note in inputs.plan.document.get("notes") or []],
    ]
