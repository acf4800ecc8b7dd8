# Face parsing: each face clip's landmarks -> per-frame part labels (the maps Fasking reads).
# Each record also measures what the pretraining mask shows of the video (its visible-token
# composition) at the pretrain section's mask settings and the config's model: changing those
# re-runs this step, so that its records stay true.


rule parse_video:
    input:
        DS.record("track", "{id}"),
    output:
        DS.record("parse", "{id}"),
    log:
        f"{DS.logs}/parse/{{id}}.log",
    group:
        "preprocess"
    conda:
        CONDA_ENV
    resources:
        runtime=15,
        mem_mb=4000,
        gpu=config["compute"]["preprocess_gpus"],
    params:
        code=code_version("parse_video"),
        options=lambda wildcards: shlex.join(cli_options(parse_options(config))),
    shell:
        "marlinflow parse {input} {output} {params.options} > {log} 2>&1"


# A shard of videos per job (dataset.shard_size); each keeps its own record, as above.
rule parse_shard:
    input:
        DS.shard_list("track", "{shard}"),
    output:
        DS.shard_list("parse", "{shard}"),
    log:
        f"{DS.logs}/parse_shard/{{shard}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["preprocess_threads"]
    resources:
        **shard_request("parse"),
        gpu=config["compute"]["preprocess_gpus"],
    params:
        code=code_version("parse_video"),
        options=lambda wildcards: shlex.join(cli_options(parse_options(config))),
        into=lambda wildcards: DatasetLayout(wildcards.ds).stage_dir("parse"),
    shell:
        "marlinflow parse {input} {output} --into {params.into} --workers {threads}"
        " {params.options} > {log} 2>&1"


# Given the video's record; its input is that record, or the list of the shard holding it.
rule contact_sheet:
    input:
        parse_record_input,
    output:
        report(
            DS.contact_sheet("{id}"),
            caption="../report/contact_sheet.rst",
            category="Preprocessing",
        ),
    log:
        f"{DS.logs}/contact_sheet/{{id}}.log",
    conda:
        CONDA_ENV
    resources:
        runtime=5,
        mem_mb=2000,
    params:
        code=code_version("contact_sheet"),
        record=lambda wildcards: DatasetLayout(wildcards.ds).record(
            "parse", wildcards.id
        ),
    shell:
        "marlinflow contact-sheet {params.record} {output} > {log} 2>&1"


# The face clips of a data set's usable videos: what feature extraction and fine-tuning read.
rule list_usable_faces:
    input:
        parse_records,
    output:
        DS.usable_faces,
    log:
        f"{DS.logs}/list_usable_faces.log",
    conda:
        CONDA_ENV
    run:
        from marlinflow.stages import write_usable_list

        write_usable_list(input, output[0])
