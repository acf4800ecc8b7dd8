# MARLIN pretraining on every usable face clip of the data set; with the VideoMAE-style baseline
# (tube masking, no adversarial loss) as a second run when the config asks for it.


rule write_pretrain_settings:
    input:
        parse_records,
    output:
        f"{RESULTS}/pretrain/{{run}}/settings.json",
    log:
        f"{LOGS}/write_pretrain_settings/{{run}}.log",
    conda:
        CONDA_ENV
    params:
        settings=lambda wildcards: {
            **config["pretrain"],
            **PRETRAINED[wildcards.run],
            "model": config["model"],
        },
    run:
        from marlinflow.atomic import write_json

        write_json(output[0], {**params.settings, "index": list(input)})


# last.ckpt is not an output: Snakemake deletes a failed job's outputs, and a killed or
# preempted run must find its checkpoint to resume from.
rule pretrain:
    input:
        f"{RESULTS}/pretrain/{{run}}/settings.json",
    output:
        encoder=f"{RESULTS}/pretrain/{{run}}/encoder.pt",
        metrics=f"{RESULTS}/pretrain/{{run}}/metrics.json",
    log:
        f"{LOGS}/pretrain/{{run}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    # On SLURM: the GPUs, nodes and srun tasks of compute.*, requeued at the time limit
    # (marlinflow.cluster.pretrain_resources). launch is a no-op unless several GPUs or nodes
    # are asked for; locally only the threads count.
    resources:
        **pretrain_resources(
            config["compute"]["gpus_per_node"], config["compute"]["nodes"]
        ),
        runtime=config["compute"]["pretrain_runtime"],
        mem_mb=config["compute"]["pretrain_mem_mb"],
    params:
        run_dir=lambda wildcards, output: os.path.dirname(output.encoder),
    shell:
        "{resources.launch} marlinflow pretrain {input} --run-dir {params.run_dir} > {log} 2>&1"
