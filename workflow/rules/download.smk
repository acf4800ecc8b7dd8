# Getting videos in: each data set's manifest, the embedded sample, and one download job per video.


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
    shell:
        "marlinflow sample {params.folder} --videos {params.n} --seed {params.seed} > {log} 2>&1"


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
        stage="|".join(STAGES),
    conda:
        CONDA_ENV
    params:
        tracking=tracking_of("summarize_stage"),
    shell:
        "{params.tracking} marlinflow summary {input} --out {output} > {log} 2>&1"
