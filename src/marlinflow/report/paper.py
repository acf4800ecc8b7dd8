"""The MARLIN paper's headline numbers, to show beside ours where a task matches one of them.

Only the rows of a third-party extraction of the paper's tables are kept (reference: marlin.md
§6.2, rows marked [3rd]); they are reasonably reliable but not checked against the PDF, and the
report says so. The paper's linear-probing rows and its supervised baselines are not known
reliably and are left out. Values are stored as fractions (the paper prints accuracies in %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCE = (
    "MARLIN (Cai et al., CVPR 2023) as extracted by a third party from the paper's tables; "
    "not checked against the PDF"
)


@dataclass(frozen=True)
class PaperNumber:
    task: str  # a regular expression over our task names
    metric: str  # our metric name it corresponds to
    value: float  # as a fraction
    variant: str  # the paper's model, as far as is known
    protocol: str | None  # "finetune" where the extraction says so; None: not stated
    what: str  # task and data set in the paper's words


PAPER: tuple[PaperNumber, ...] = (
    PaperNumber(
        r"celebv_?hq_appearance",
        "acc_micro",
        0.9390,
        "ViT-B, likely",
        "finetune",
        "FAR appearance, CelebV-HQ",
    ),
    PaperNumber(
        r"celebv_?hq_appearance",
        "auc_micro",
        0.9561,
        "ViT-B, likely",
        "finetune",
        "FAR appearance, CelebV-HQ",
    ),
    PaperNumber(
        r"celebv_?hq_action",
        "acc_micro",
        0.9548,
        "ViT-B, likely",
        "finetune",
        "FAR action, CelebV-HQ",
    ),
    PaperNumber(
        r"celebv_?hq_action",
        "auc_micro",
        0.9406,
        "ViT-B, likely",
        "finetune",
        "FAR action, CelebV-HQ",
    ),
    PaperNumber(
        r"(cmu_)?mosei_emotion", "acc_micro", 0.8038, "ViT-S", None, "FER emotion, CMU-MOSEI"
    ),
    PaperNumber(
        r"(cmu_)?mosei_emotion", "acc_micro", 0.8060, "ViT-B", None, "FER emotion, CMU-MOSEI"
    ),
    PaperNumber(r"(cmu_)?mosei_sentiment2?", "acc", 0.7269, "ViT-S", None, "sentiment, CMU-MOSEI"),
    PaperNumber(r"(cmu_)?mosei_sentiment2?", "acc", 0.7370, "ViT-B", None, "sentiment, CMU-MOSEI"),
    PaperNumber(r"(cmu_)?mosei_sentiment2?", "acc", 0.7483, "ViT-L", None, "sentiment, CMU-MOSEI"),
    PaperNumber(r"(faceforensics|ffpp).*", "auc", 0.8863, "ViT-S", None, "DFD, FaceForensics++"),
    PaperNumber(r"(faceforensics|ffpp).*", "auc", 0.9305, "ViT-B", None, "DFD, FaceForensics++"),
    PaperNumber(r"(faceforensics|ffpp).*", "auc", 0.9377, "ViT-L", None, "DFD, FaceForensics++"),
)

# Our registered sizes -> the paper's variant names.
VARIANTS = {"small": "ViT-S", "base": "ViT-B", "large": "ViT-L"}


def paper_numbers(task: str, metric: str, protocol: str) -> list[PaperNumber]:
    """The paper's numbers for one of our (task, metric, protocol); [] where it has none.

    A low-label or few-shot run (protocol ``probe-k10``, ``finetune-frac0.1``) has none: the
    paper's table numbers are trained on every label."""
    if "-" in protocol:
        return []
    return [
        number
        for number in PAPER
        if re.fullmatch(number.task, task.lower())
        and number.metric == metric
        and number.protocol in (None, protocol)
    ]


def closest_number(task: str, metric: str, protocol: str, model: str) -> PaperNumber | None:
    """The paper's number for our model's size if it has one, else its ViT-B one, else any."""
    numbers = paper_numbers(task, metric, protocol)
    if not numbers:
        return None
    wanted = VARIANTS.get(model.removeprefix("marlin_vit_").split("_")[0], "ViT-B")
    for name in (wanted, "ViT-B"):
        for number in numbers:
            if number.variant.startswith(name):
                return number
    return numbers[0]
