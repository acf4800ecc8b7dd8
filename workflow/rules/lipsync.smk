# Lip synchronisation (a suite protocol lipsync): a lip-sync expert per encoder, trained on the
# train split's videos and scored on the test split's (sync and offset accuracy, offset curves);
# a generator trained against the frozen expert of the reference encoder and of one baseline,
# scored on the test split with SyncNet's LSE-D / LSE-C and FID (lipsync.syncnet, .inception).


rule lipsync_expert:
    input:
        weights=EXP.encoder("{encoder}"),
        videos=DS.sync_videos,
    output:
        expert=EXP.expert("{ds}", "{encoder}"),
        metrics=report(
            EXP.expert_metrics("{ds}", "{encoder}"),
            caption="../report/lipsync.rst",
            category="Lip sync",
        ),
    log:
        f"{EXP.logs}/lipsync_expert/{{ds}}-{{encoder}}.log",
    wildcard_constraints:
        ds=one_of(LIPSYNC_DATASETS),
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        code=code_version("lipsync_expert"),
        options=shlex.join(
            lipsync_options("expert")
            + ["--max-offset", str(config["lipsync"]["eval"]["max_offset"])]
        ),
        tracking=tracking_of("lipsync_expert"),
    shell:
        "{params.tracking} marlinflow lipsync-expert --encoder {input.weights}"
        " --videos {input.videos} --split train --held-out test --out {output.expert}"
        " --metrics {output.metrics} {params.options} > {log} 2>&1"


rule lipsync_generator:
    input:
        expert=EXP.expert("{ds}", "{encoder}"),
        videos=DS.sync_videos,
    output:
        EXP.generator("{ds}", "{encoder}"),
    log:
        f"{EXP.logs}/lipsync_generator/{{ds}}-{{encoder}}.log",
    wildcard_constraints:
        ds=one_of(LIPSYNC_DATASETS),
        encoder=one_of(EXPERIMENT.generator_encoders()),
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        code=code_version("lipsync_generator"),
        options=shlex.join(lipsync_options("generator")),
        tracking=tracking_of("lipsync_generator"),
    shell:
        "{params.tracking} marlinflow lipsync-generator --expert {input.expert}"
        " --videos {input.videos} --split train --out {output} {params.options} > {log} 2>&1"


rule lipsync_eval:
    input:
        generator=EXP.generator("{ds}", "{encoder}"),
        videos=DS.sync_videos,
        weights=lipsync_weights,
    output:
        metrics=report(
            EXP.generator_metrics("{ds}", "{encoder}"),
            caption="../report/lipsync.rst",
            category="Lip sync",
        ),
        frames=EXP.generator_frames("{ds}", "{encoder}"),
    log:
        f"{EXP.logs}/lipsync_eval/{{ds}}-{{encoder}}.log",
    wildcard_constraints:
        ds=one_of(LIPSYNC_DATASETS),
        encoder=one_of(EXPERIMENT.generator_encoders()),
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        code=code_version("lipsync_eval"),
        options=shlex.join(lipsync_options("eval") + lipsync_weight_args()),
        tracking=tracking_of("lipsync_eval"),
    shell:
        "{params.tracking} marlinflow lipsync-eval --generator {input.generator}"
        " --videos {input.videos} --split test --out {output.metrics}"
        " --frames {output.frames} {params.options} > {log} 2>&1"
