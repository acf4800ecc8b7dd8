# Reports of the experiment: the plan they read, the local HTML report and its W&B counterpart
# (saved when online). Each is given its inputs through the plan, never by searching a folder.


# Everything the experiment declares, with the path of every input of its reports. Rewritten
# when the experiment changes (Snakemake's params trigger).
rule write_plan:
    output:
        EXP.plan,
    log:
        f"{EXP.logs}/write_plan.log",
    conda:
        CONDA_ENV
    params:
        plan=plan_document(
            EXPERIMENT, MANIFESTS, CORPUS, config["downstream"], config["report"]
        ),
    run:
        from marlinflow.atomic import write_json

        write_json(output[0], params.plan)


rule report_html:
    input:
        plan=EXP.plan,
        overlap=EXP.overlap,
        summaries=[
            DatasetLayout(ds).summary(stage)
            for ds in DATASETS
            for stage in dataset_stages(ds)
        ],
        sheets=[sheet for ds in DATASETS for sheet in contact_sheets(ds)],
        encoders=[EXP.encoder(name) for name in EXPERIMENT.encoders],
        pretrain=[f"{EXP.encoder_dir(name)}/metrics.json" for name in PRETRAINED],
        tasks=[
            DatasetLayout(e.dataset).task_table(task)
            for e in EXPERIMENT.suite
            for task in e.tasks
        ],
        features=[
            EXP.features(ds, name)
            for ds in EXPERIMENT.task_datasets()
            for name in EXPERIMENT.encoders
        ],
        metrics=[run.metrics(EXP) for run in RUNS],
        lipsync=lipsync_outputs(),
    output:
        page=report(
            directory(EXP.report),
            htmlindex="index.html",
            caption="../report/html_report.rst",
            category="Report",
        ),
        # the headline numbers in one file: DVC's metrics (dvc metrics show / diff)
        metrics=EXP.headline,
    log:
        f"{EXP.logs}/report_html.log",
    conda:
        CONDA_ENV
    params:
        code=code_version("report_html"),
        tracking=run_tracking("report_html"),
    shell:
        "{params.tracking} marlinflow report {input.plan} --out {output.page}/index.html"
        " --metrics-out {output.metrics} > {log} 2>&1"


rule report_wandb:
    input:
        plan=EXP.plan,
        results=EXP.report,
    output:
        EXP.wandb_report,
    log:
        f"{EXP.logs}/report_wandb.log",
    conda:
        CONDA_ENV
    shell:
        "marlinflow wandb-report {input.plan} --results {input.results}/results.tsv"
        " --out {output} > {log} 2>&1"
