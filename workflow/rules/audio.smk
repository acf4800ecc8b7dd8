# Sound: each video's mel spectrogram on its face clip's frame clock, for the data sets of a
# lip-sync evaluation (a suite protocol lipsync). A video without sound is recorded no_audio.


rule audio_video:
    input:
        source=DS.record("download", "{id}"),
        track=DS.record("track", "{id}"),
    output:
        DS.record("audio", "{id}"),
    log:
        f"{DS.logs}/audio/{{id}}.log",
    wildcard_constraints:
        ds=one_of(LIPSYNC_DATASETS),
    conda:
        CONDA_ENV
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        code=code_version("audio_video"),
    shell:
        "marlinflow audio {input.source} {input.track} {output} > {log} 2>&1"


# A shard of videos per job (dataset.shard_size): the shard's download and track lists.
rule audio_shard:
    input:
        source=DS.shard_list("download", "{shard}"),
        track=DS.shard_list("track", "{shard}"),
    output:
        DS.shard_list("audio", "{shard}"),
    log:
        f"{DS.logs}/audio_shard/{{shard}}.log",
    wildcard_constraints:
        ds=one_of(LIPSYNC_DATASETS),
    conda:
        CONDA_ENV
    threads: config["compute"]["preprocess_threads"]
    resources:
        **shard_request("audio"),
    params:
        code=code_version("audio_video"),
        into=lambda wildcards: DatasetLayout(wildcards.ds).stage_dir("audio"),
    shell:
        "marlinflow audio {input.source} {input.track} {output} --into {params.into}"
        " --workers {threads} > {log} 2>&1"


# The videos a lip-sync evaluation reads: usable face clip and sound, with their splits.
rule list_sync_videos:
    input:
        audio=lambda wildcards: stage_inputs("audio", wildcards.ds),
        manifest=DS.manifest,
    output:
        DS.sync_videos,
    log:
        f"{DS.logs}/list_sync_videos.log",
    wildcard_constraints:
        ds=one_of(LIPSYNC_DATASETS),
    conda:
        CONDA_ENV
    params:
        track=lambda wildcards: DatasetLayout(wildcards.ds).stage_dir("track"),
        download=lambda wildcards: DatasetLayout(wildcards.ds).stage_dir("download"),
    run:
        from marlinflow.lipsync.videos import write_sync_videos

        splits = MANIFESTS[wildcards.ds]["split"].to_dict()
        write_sync_videos(
            input.audio, params.track, params.download, splits, output[0]
        )
