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
