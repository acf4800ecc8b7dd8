# marlinflow: MARLIN from raw face videos to pretraining, downstream evaluation and reports.
# Configuration keys and their defaults: workflow/schemas/config.schema.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
