# Getting videos in: each data set's manifest, the embedded sample, and one download job per video
# (or per shard of videos: dataset.shard_size).


rule write_manifest:
    output:
        DS.manifest,
    log:
        f"{DS.logs}/write_manifest.log",
    conda:
        CONDA_ENV
    params:
        code=code_version("write_manifest"),
        rows=lambda wildcards: len(MANIFESTS[wildcards.ds]),
    run:
        from marlinflow.manifest import write_manifest

        write_manifest(MANIFESTS[wildcards.ds], output[0])


# The embedded sample's videos are made with their manifest, which stands for them as the
# download step's input.
rule make_sample:
    output:
        f"{DS.sample_sources}/manifest.tsv",
    log:
        f"{DS.logs}/make_sample.log",
    conda:
        CONDA_ENV
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        code=code_version("make_sample"),
        folder=lambda wildcards, output: os.path.dirname(output[0]),
        n=lambda wildcards: DATASETS[wildcards.ds].config["sample_videos"],
        seed=lambda wildcards: DATASETS[wildcards.ds].config["seed"],
        # a data set of a lip-sync evaluation: its talking heads get a voice
        sound=lambda wildcards: "--sound" if wildcards.ds in LIPSYNC_DATASETS else "",
    shell:
        "marlinflow sample {params.folder} --videos {params.n} --seed {params.seed}"
        " {params.sound} > {log} 2>&1"


rule download_video:
    input:
        local_source,
    output:
        DS.record("download", "{id}"),
    log:
        f"{DS.logs}/download/{{id}}.log",
    conda:
        CONDA_ENV
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        code=code_version("download_video"),
        args=download_args,
    shell:
        "marlinflow download {params.args} {output} > {log} 2>&1"


# A large data set's shards (dataset.shard_size): each shard's rows in a file of their own,
# rewritten only when they change (the params trigger), so that rows appended to a manifest
# rerun only the shards they fall in.
rule write_shard_rows:
    output:
        DS.shard_rows("{shard}"),
    log:
        f"{DS.logs}/write_shard_rows/{{shard}}.log",
    conda:
        CONDA_ENV
    params:
        code=code_version("write_manifest"),
        rows=shard_rows_digest,
    run:
        from marlinflow.manifest import write_manifest

        write_manifest(shard_table(wildcards), output[0])


# A shard job fetches its videos compute.preprocess_threads at a time, each with its record as
# download_video writes it; a killed one, run again, resumes after the videos it finished.
rule download_shard:
    input:
        rows=DS.shard_rows("{shard}"),
        sources=generated_sources,
    output:
        DS.shard_list("download", "{shard}"),
    log:
        f"{DS.logs}/download_shard/{{shard}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["preprocess_threads"]
    resources:
        **shard_request("download"),
    params:
        code=code_version("download_video"),
        into=lambda wildcards: DatasetLayout(wildcards.ds).stage_dir("download"),
        args=download_settings,
    shell:
        "marlinflow download --rows {input.rows} --into {params.into} --workers {threads}"
        " {params.args} {output} > {log} 2>&1"


# The stage's preprocessing run (W&B job type summarize_<stage>): every video's statistics. Its
# record (results/datasets/<ds>/runs/summarize_<stage>/run.json) is a side record, like a log:
# DVC versions the summary alone.
rule summarize_stage:
    input:
        stage_records,
    output:
        report(
            DS.summary("{stage}"),
            caption="../report/stage_summary.rst",
            category="Videos",
        ),
    log:
        f"{DS.logs}/summarize_{{stage}}.log",
    wildcard_constraints:
        stage="|".join((*STAGES, AUDIO)),
    conda:
        CONDA_ENV
    params:
        tracking=tracking_of("summarize_stage"),
    shell:
        "{params.tracking} marlinflow summary {input} --out {output} > {log} 2>&1"
