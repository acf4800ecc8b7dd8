# Getting videos in: the manifest, the embedded sample, and one download job per video.


rule write_manifest:
    output:
        f"data/manifests/{DATASET}.tsv",
    log:
        f"{LOGS}/write_manifest.log",
    conda:
        CONDA_ENV
    params:
        rows=len(IDS),
    run:
        from marlinflow.manifest import write_manifest

        write_manifest(MANIFEST, output[0])


if config["dataset"]["builder"] == "sample":

    rule make_sample:
        output:
            videos=expand(f"{SOURCE_ROOT}/{{id}}.mp4", id=IDS),
            manifest=f"{SOURCE_ROOT}/manifest.tsv",
        log:
            f"{LOGS}/make_sample.log",
        conda:
            CONDA_ENV
        resources:
            runtime=10,
            mem_mb=2000,
        params:
            folder=lambda wildcards, output: os.path.dirname(output.manifest),
            n=config["dataset"]["sample_videos"],
            seed=config["dataset"]["seed"],
        shell:
            "marlinflow sample {params.folder} --videos {params.n} --seed {params.seed} > {log} 2>&1"


rule download_video:
    input:
        local_source,
    output:
        f"{RAW}/{{id}}.status.json",
    log:
        f"{LOGS}/download/{{id}}.log",
    conda:
        CONDA_ENV
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        args=download_args,
    shell:
        "marlinflow download {params.args} {output} > {log} 2>&1"


# The stage's preprocessing run (W&B job type summarize_<stage>): every video's statistics. Its
# record (results/<ds>/runs/summarize_<stage>/run.json) is a side record, like a log: DVC
# versions the summary alone.
rule summarize_stage:
    input:
        stage_records,
    output:
        report(
            f"{RESULTS}/{{stage}}_summary.tsv",
            caption="../report/stage_summary.rst",
            category="Videos",
        ),
    log:
        f"{LOGS}/summarize_{{stage}}.log",
    wildcard_constraints:
        stage="download|track|parse",
    conda:
        CONDA_ENV
    shell:
        "marlinflow summary {input} --out {output} > {log} 2>&1"
