# Face tracking: each downloaded video -> an aligned face clip + per-frame boxes and landmarks.


rule track_video:
    input:
        DS.record("download", "{id}"),
    output:
        DS.record("track", "{id}"),
    log:
        f"{DS.logs}/track/{{id}}.log",
    group:
        "preprocess"
    conda:
        CONDA_ENV
    resources:
        runtime=30,
        mem_mb=4000,
        gpu=config["compute"]["preprocess_gpus"],
    params:
        code=code_version("track_video"),
        options=track_options,
    shell:
        "marlinflow track {input} {output} {params.options} > {log} 2>&1"


# A shard of videos per job (dataset.shard_size); each keeps its own record, as above.
rule track_shard:
    input:
        DS.shard_list("download", "{shard}"),
    output:
        DS.shard_list("track", "{shard}"),
    log:
        f"{DS.logs}/track_shard/{{shard}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["preprocess_threads"]
    resources:
        **shard_request("track"),
        gpu=config["compute"]["preprocess_gpus"],
    params:
        code=code_version("track_video"),
        options=track_options,
        into=lambda wildcards: DatasetLayout(wildcards.ds).stage_dir("track"),
    shell:
        "marlinflow track {input} {output} --into {params.into} --workers {threads}"
        " {params.options} > {log} 2>&1"
