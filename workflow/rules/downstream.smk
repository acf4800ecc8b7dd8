# Downstream evaluation: task tables, features of every usable face clip, linear probes and
# fine-tuning, for the pretrained encoder and the baselines (VideoMAE-style, random).


if TASKS:

    rule build_task:
        input:
            task_source,
        output:
            table=f"{RESULTS}/tasks/{{task}}.tsv",
            spec=f"{RESULTS}/tasks/{{task}}.json",
        log:
            f"{LOGS}/build_task/{{task}}.log",
        conda:
            CONDA_ENV
        params:
            args=task_args,
        shell:
            "marlinflow task {params.args} --out {output.table} > {log} 2>&1"

else:

    # A data set without downstream tasks (one for pretraining only) still gets its task and
    # results folders, each with a note: every stage of dvc.yaml then has its outputs.
    rule build_task:
        output:
            NO_TASK_NOTES,
        log:
            f"{LOGS}/build_task.log",
        conda:
            CONDA_ENV
        run:
            for note in output:
                with open(note, "w") as file:
                    file.write(
                        "This data set has no downstream tasks (downstream.tasks).\n"
                    )


rule list_usable_faces:
    input:
        parse_records,
    output:
        f"{RESULTS}/usable_faces.txt",
    log:
        f"{LOGS}/list_usable_faces.log",
    conda:
        CONDA_ENV
    run:
        from marlinflow.status import usable_outputs

        with open(output[0], "w") as listing:
            listing.writelines(
                f"{path}\n" for path in usable_outputs(input, "video")
            )


rule random_encoder:
    output:
        f"{RESULTS}/baselines/random-{MODEL}/encoder.pt",
    log:
        f"{LOGS}/random_encoder.log",
    conda:
        CONDA_ENV
    params:
        model=config["model"],
        seed=config["pretrain"]["seed"],
    run:
        from marlinflow.downstream.encoders import write_random_weights

        write_random_weights(params.model, output[0], params.seed)


rule extract_features:
    input:
        weights=encoder_weights,
        faces=f"{RESULTS}/usable_faces.txt",
    output:
        directory(f"{RESULTS}/features/{{encoder}}"),
    log:
        f"{LOGS}/extract_features/{{encoder}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        options=shlex.join(cli_options(config["downstream"]["features"])),
    shell:
        "marlinflow extract @{input.faces} --weights {input.weights} --out {output}"
        " {params.options} > {log} 2>&1"


rule probe:
    input:
        features=f"{RESULTS}/features/{{encoder}}",
        task=f"{RESULTS}/tasks/{{task}}.tsv",
    output:
        report(
            f"{RESULTS}/downstream/{{task}}/probe/{{encoder}}/metrics.json",
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{LOGS}/probe/{{task}}-{{encoder}}.log",
    conda:
        CONDA_ENV
    params:
        out=lambda wildcards, output: os.path.dirname(output[0]),
        records=PARSING,
        options=shlex.join(downstream_options("probe")),
    shell:
        "marlinflow probe {input.features} {input.task} --status-dir {params.records}"
        " --out {params.out} {params.options} > {log} 2>&1"


rule finetune:
    input:
        weights=encoder_weights,
        task=f"{RESULTS}/tasks/{{task}}.tsv",
        faces=f"{RESULTS}/usable_faces.txt",
    output:
        report(
            f"{RESULTS}/downstream/{{task}}/finetune/{{encoder}}/metrics.json",
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{LOGS}/finetune/{{task}}-{{encoder}}.log",
    conda:
        CONDA_ENV
    threads: config["compute"]["threads"]
    resources:
        gpu=config["compute"]["downstream_gpus"],
        runtime=config["compute"]["downstream_runtime"],
        mem_mb=config["compute"]["downstream_mem_mb"],
    params:
        out=lambda wildcards, output: os.path.dirname(output[0]),
        faces=FACES,
        options=shlex.join(downstream_options("finetune")),
    shell:
        "marlinflow finetune {input.task} --faces {params.faces} --encoder {input.weights}"
        " --out {params.out} {params.options} > {log} 2>&1"


# Low-label and few-shot runs (downstream.low_label): the same protocols on part of the train
# split, one folder per budget beside the full-label run.
use rule probe as probe_low_label with:
    output:
        report(
            f"{RESULTS}/downstream/{{task}}/probe-{{budget}}/{{encoder}}/metrics.json",
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{LOGS}/probe/{{task}}-{{budget}}-{{encoder}}.log",
    params:
        options=lambda wildcards: shlex.join(
            downstream_options("probe", wildcards.budget)
        ),


use rule finetune as finetune_low_label with:
    output:
        report(
            f"{RESULTS}/downstream/{{task}}/finetune-{{budget}}/{{encoder}}/metrics.json",
            caption="../report/downstream.rst",
            category="Downstream",
        ),
    log:
        f"{LOGS}/finetune/{{task}}-{{budget}}-{{encoder}}.log",
    params:
        options=lambda wildcards: shlex.join(
            downstream_options("finetune", wildcards.budget)
        ),
