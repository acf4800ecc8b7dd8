# The experiment's encoders: pretrained on the corpus (ours, and variants such as the
# VideoMAE-style baseline), randomly initialised, or imported from a weights file. Each
# encoder.pt carries its geometry and provenance.


# Refused before anything runs (common.smk) when the corpus holds an evaluation val or test
# video; this is the record of the check, for the report.
rule record_overlap_check:
    output:
        EXP.overlap,
    log:
        f"{EXP.logs}/record_overlap_check.log",
    conda:
        CONDA_ENV
    params:
        record=OVERLAP,
    run:
        from marlinflow.atomic import write_json

        write_json(output[0], params.record)


rule write_pretrain_settings:
    input:
        corpus_records,
    output:
        f"{EXP.encoder_dir('{encoder}')}/settings.json",
    log:
        f"{EXP.logs}/write_pretrain_settings/{{encoder}}.log",
    wildcard_constraints:
        encoder=one_of(PRETRAINED),
    conda:
        CONDA_ENV
    params:
        settings=pretrain_settings,
        # the groups themselves can be a million entries: their digest tells a change
        groups=digest(CORPUS_GROUPS),
    run:
        from marlinflow.atomic import write_json

        settings = {
            **params.settings,
            "index": corpus_index(),
            "groups": CORPUS_GROUPS,
        }
        write_json(output[0], settings)


# last.ckpt is not an output: Snakemake deletes a failed job's outputs, and a killed or
# preempted run must find its checkpoint to resume from.
rule pretrain:
    input:
        settings=f"{EXP.encoder_dir('{encoder}')}/settings.json",
        init=pretrain_init,
    output:
        encoder=EXP.encoder("{encoder}"),
        metrics=f"{EXP.encoder_dir('{encoder}')}/metrics.json",
    log:
        f"{EXP.logs}/pretrain/{{encoder}}.log",
    wildcard_constraints:
        encoder=one_of(PRETRAINED),
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    # On SLURM: the GPUs, nodes and srun tasks of compute.*, requeued at the time limit
    # (marlinflow.compute.slurm.pretrain_resources). launch is a no-op unless several GPUs or nodes
    # are asked for; locally only the threads count.
    resources:
        **pretrain_resources(
            config["compute"]["gpus_per_node"], config["compute"]["nodes"]
        ),
        runtime=config["compute"]["pretrain_runtime"],
        mem_mb=config["compute"]["pretrain_mem_mb"],
    params:
        code=code_version("pretrain"),
        run_dir=lambda wildcards, output: os.path.dirname(output.encoder),
        tracking=tracking_of("pretrain"),
    shell:
        "{params.tracking} {resources.launch} marlinflow pretrain {input.settings}"
        " --run-dir {params.run_dir} > {log} 2>&1"


rule random_encoder:
    output:
        EXP.encoder("{encoder}"),
    log:
        f"{EXP.logs}/random_encoder/{{encoder}}.log",
    wildcard_constraints:
        encoder=one_of(EXPERIMENT.encoders_of("random")),
    conda:
        CONDA_ENV
    params:
        code=code_version("random_encoder"),
        model=lambda wildcards: encoder_model(wildcards.encoder),
        seed=config["pretrain"]["seed"],
    run:
        from marlinflow.downstream.encoders import write_random_weights

        write_random_weights(params.model, output[0], params.seed)


# An external weights file (the official release, an encoder of another experiment), written as
# ours with the geometry it records, the one its config entry gives, or the one its shapes fit
# (refused where two geometries fit).
rule import_encoder:
    input:
        lambda wildcards: EXPERIMENT.encoders[wildcards.encoder].weights,
    output:
        EXP.encoder("{encoder}"),
    log:
        f"{EXP.logs}/import_encoder/{{encoder}}.log",
    wildcard_constraints:
        encoder=one_of(EXPERIMENT.encoders_of("external")),
    conda:
        CONDA_ENV
    params:
        code=code_version("import_encoder"),
        model=lambda wildcards: model_option(encoder_model(wildcards.encoder)),
    shell:
        "marlinflow import-encoder {input} --out {output} {params.model} > {log} 2>&1"
