# Face parsing: each face clip's landmarks -> per-frame part labels (the maps Fasking reads).


rule parse_video:
    input:
        f"{FACES}/{{id}}.status.json",
    output:
        f"{PARSING}/{{id}}.status.json",
    log:
        f"{LOGS}/parse/{{id}}.log",
    group:
        "preprocess"
    conda:
        CONDA_ENV
    resources:
        runtime=15,
        mem_mb=4000,
        gpu=config["compute"]["preprocess_gpus"],
    params:
        options=lambda wildcards: shlex.join(cli_options(config["parse"])),
    shell:
        "marlinflow parse {input} {output} {params.options} > {log} 2>&1"


rule contact_sheet:
    input:
        f"{PARSING}/{{id}}.status.json",
    output:
        report(
            f"{RESULTS}/contact_sheets/{{id}}.png",
            caption="../report/contact_sheet.rst",
            category="Preprocessing",
        ),
    log:
        f"{LOGS}/contact_sheet/{{id}}.log",
    conda:
        CONDA_ENV
    resources:
        runtime=5,
        mem_mb=2000,
    shell:
        "marlinflow contact-sheet {input} {output} > {log} 2>&1"
