# Downstream evaluation: task tables of each evaluated data set, features of its usable face
# clips for every encoder, linear probes and fine-tuning, full-label and low-label.


rule build_task:
    input:
        task_source,
    output:
        table=DS.task_table("{task}"),
        spec=DS.task_spec("{task}"),
    log:
        f"{DS.logs}/build_task/{{task}}.log",
    conda:
        CONDA_ENV
    params:
        code=code_version("build_task"),
        args=task_args,
    shell:
        "marlinflow task {params.args} --out {output.table} > {log} 2>&1"


rule extract_features:
    input:
        weights=EXP.encoder("{encoder}"),
        faces=DS.usable_faces,
    output:
        directory(EXP.features("{ds}", "{encoder}")),
    log:
        f"{EXP.logs}/extract_features/{{ds}}-{{encoder}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        code=code_version("extract_features"),
        options=shlex.join(cli_options(config["downstream"]["features"])),
        tracking=tracking_of("extract_features"),
    shell:
        "{params.tracking} marlinflow extract @{input.faces} --weights {input.weights}"
        " --out {output} {params.options} > {log} 2>&1"


# Both protocols see the same videos: the usable face clips the parse records list.
rule probe:
    input:
        features=EXP.features("{ds}", "{encoder}"),
        task=DS.task_table("{task}"),
        faces=DS.usable_faces,
    output:
        report(
            EXP.metrics("{ds}", "{task}", "probe", "{encoder}"),
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{EXP.logs}/probe/{{ds}}-{{task}}-{{encoder}}.log",
    conda:
        CONDA_ENV
    params:
        code=code_version("probe"),
        out=lambda wildcards, output: os.path.dirname(output[0]),
        options=shlex.join(downstream_options(config["downstream"], "probe")),
        tracking=tracking_of("probe"),
    shell:
        "{params.tracking} marlinflow probe {input.features} {input.task} --usable {input.faces}"
        " --model-name {wildcards.encoder} --out {params.out} {params.options} > {log} 2>&1"


rule finetune:
    input:
        weights=EXP.encoder("{encoder}"),
        task=DS.task_table("{task}"),
        faces=DS.usable_faces,
    output:
        report(
            EXP.metrics("{ds}", "{task}", "finetune", "{encoder}"),
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{EXP.logs}/finetune/{{ds}}-{{task}}-{{encoder}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        code=code_version("finetune"),
        out=lambda wildcards, output: os.path.dirname(output[0]),
        options=shlex.join(downstream_options(config["downstream"], "finetune")),
        tracking=tracking_of("finetune"),
    shell:
        "{params.tracking} marlinflow finetune {input.task} --usable {input.faces}"
        " --encoder {input.weights} --model-name {wildcards.encoder} --out {params.out}"
        " {params.options} > {log} 2>&1"


# Low-label and few-shot runs (downstream.low_label): the same protocols on part of the train
# split, one folder per budget beside the full-label run.
use rule probe as probe_low_label with:
    output:
        report(
            EXP.metrics("{ds}", "{task}", "probe-{budget}", "{encoder}"),
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{EXP.logs}/probe/{{ds}}-{{task}}-{{budget}}-{{encoder}}.log",
    params:
        code=code_version("probe"),
        out=lambda wildcards, output: os.path.dirname(output[0]),
        options=lambda wildcards: shlex.join(
            downstream_options(config["downstream"], "probe", wildcards.budget)
        ),
        tracking=tracking_of("probe"),


use rule finetune as finetune_low_label with:
    output:
        report(
            EXP.metrics("{ds}", "{task}", "finetune-{budget}", "{encoder}"),
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{EXP.logs}/finetune/{{ds}}-{{task}}-{{budget}}-{{encoder}}.log",
    params:
        code=code_version("finetune"),
        out=lambda wildcards, output: os.path.dirname(output[0]),
        options=lambda wildcards: shlex.join(
            downstream_options(config["downstream"], "finetune", wildcards.budget)
        ),
        tracking=tracking_of("finetune"),
