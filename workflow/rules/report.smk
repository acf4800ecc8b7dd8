# Reports: the local HTML report (results/<ds>/report/) and its W&B counterpart (saved when online).


rule report_html:
    input:
        summaries=expand(f"{RESULTS}/{{stage}}_summary.tsv", stage=STAGE_FOLDERS),
        sheets=contact_sheets,
        pretrain=f"{PRETRAIN}/metrics.json",
        features=expand(f"{RESULTS}/features/{{encoder}}", encoder=ENCODERS),
        tasks=expand(f"{RESULTS}/tasks/{{task}}.tsv", task=TASKS),
        metrics=downstream_metrics,
    output:
        page=report(
            directory(f"{RESULTS}/report"),
            htmlindex="index.html",
            caption="../report/html_report.rst",
            category="Report",
        ),
        # the headline numbers in one file: DVC's metrics (dvc metrics show / diff)
        metrics=f"{RESULTS}/metrics.json",
    log:
        f"{LOGS}/report_html.log",
    conda:
        CONDA_ENV
    params:
        results=lambda wildcards, output: os.path.dirname(output.page),
        parsing=PARSING,
        options=shlex.join(
            cli_options(
                {
                    "contact_sheets": config["report"]["contact_sheets"],
                    "mask_videos": config["report"]["mask_videos"],
                }
            )
        ),
    shell:
        "marlinflow report {params.results} --out {output.page}/index.html"
        " --metrics-out {output.metrics} --parsing {params.parsing} {params.options} > {log} 2>&1"


rule report_wandb:
    input:
        results=f"{RESULTS}/report",
        summaries=expand(f"{RESULTS}/{{stage}}_summary.tsv", stage=STAGE_FOLDERS),
        pretrain=f"{PRETRAIN}/metrics.json",
    output:
        f"{RESULTS}/wandb_report.json",
    log:
        f"{LOGS}/report_wandb.log",
    conda:
        CONDA_ENV
    params:
        results=lambda wildcards, input: os.path.dirname(input.results),
        dataset=DATASET,
    shell:
        "marlinflow wandb-report --runs $(find {params.results} -name run.json | sort)"
        " --results {input.results}/results.tsv"
        " --summaries {input.summaries} --dataset {params.dataset} --out {output} > {log} 2>&1"
