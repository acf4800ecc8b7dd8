"""The sections of the local report, in page order, each made from files the experiment's plan lists.

Each section's builder (in the ``parts_*`` modules) returns its HTML parts, or raises
:class:`Missing` when its inputs are not there yet; :func:`all_sections` turns that, or an
unreadable input, into a note on the page, so a partial or damaged run still gets a report. A
section of something the experiment does not declare (:class:`Absent`) is left out.
"""

from __future__ import annotations

import logging

from marlinflow.errors import InputError
from marlinflow.report.html import Section
from marlinflow.report.inputs import Absent, Inputs, Missing
from marlinflow.report.parts_data import contact_sheets_parts, embedding_parts, stages_parts
from marlinflow.report.parts_experiment import experiment_parts
from marlinflow.report.parts_lipsync import lipsync_parts
from marlinflow.report.parts_pretrain import curves_parts, masks_parts, reconstructions_parts
from marlinflow.report.parts_results import results_parts

log = logging.getLogger(__name__)

# (anchor, title, builder) in page order.
SECTIONS = (
    ("experiment", "Experiment", experiment_parts),
    ("results", "Downstream results", results_parts),
    ("lipsync", "Lip synchronisation", lipsync_parts),
    ("pretraining", "Pretraining", curves_parts),
    ("reconstructions", "Reconstructions", reconstructions_parts),
    ("masks", "Fasking masks", masks_parts),
    ("embedding", "Feature space", embedding_parts),
    ("videos", "Videos: usable and skipped", stages_parts),
    ("faces", "Faces and part labels", contact_sheets_parts),
)


def all_sections(inputs: Inputs) -> list[Section]:
    """Every section; one that cannot be drawn carries a note saying why instead."""
    sections = []
    for anchor, title, builder in SECTIONS:
        section = Section(anchor, title)
        try:
            section.parts = builder(inputs)
        except Absent:
            continue
        except Missing as missing:
            section.note = str(missing)
        except (InputError, OSError, ValueError, KeyError, TypeError) as err:
            log.warning("report section %r: %s", title, err)
            section.note = f"Could not be drawn: {err}"
        sections.append(section)
    return sections
