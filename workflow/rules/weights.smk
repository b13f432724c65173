# torchvision's weights files of the `weights: imagenet` runs, fetched ONCE on the submitting host (a
# localrule: SLURM compute nodes often have no internet) into the pipeline's own torch hub cache, each
# checked against its published sha256 prefix; an input of exactly the runs that load it (Snakemake's
# retrieve-rule pattern). Offline it fails saying which file to put where; only those runs wait.
# Where files come from ($NST_WEIGHTS_MIRROR, the host's torch hub cache, the URL): nst_pipeline/fetch_weights.py.
# No code param: the output is the published file, whatever code fetched it.


rule fetch_weights:
    output:
        paths.imagenet_weights("{weights_file}"),
    log:
        paths.fetch_weights_log("{weights_file}"),
    run:
        fetch_weights_rule(wildcards.weights_file, output[0], log[0])
