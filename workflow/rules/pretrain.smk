# MARLIN pretraining on every usable face clip of the data set.


rule write_pretrain_settings:
    input:
        parse_records,
    output:
        f"{PRETRAIN}/settings.json",
    log:
        f"{LOGS}/write_pretrain_settings.log",
    conda:
        CONDA_ENV
    params:
        settings=lambda wildcards: {**config["pretrain"], "model": config["model"]},
    run:
        from marlinflow.atomic import write_json

        write_json(output[0], {**params.settings, "index": list(input)})


# last.ckpt is not an output: Snakemake deletes a failed job's outputs, and a killed or
# preempted run must find its checkpoint to resume from.
rule pretrain:
    input:
        f"{PRETRAIN}/settings.json",
    output:
        encoder=f"{PRETRAIN}/encoder.pt",
        metrics=f"{PRETRAIN}/metrics.json",
    log:
        f"{LOGS}/pretrain.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    params:
        run_dir=lambda wildcards, output: os.path.dirname(output.encoder),
    shell:
        "marlinflow pretrain {input} --run-dir {params.run_dir} > {log} 2>&1"
