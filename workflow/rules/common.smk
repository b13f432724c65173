# Helpers shared by the rules: the experiment plan (built once, in the nst package) and lookups.
import json
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # the nst package beside this Snakefile, installed or not

from nst.errors import NSTInputError
from nst_pipeline.plan import plan_experiments
from nst.provenance import code_fingerprint

try:
    PLAN = plan_experiments(config, base_dir=Path(workflow.basedir))
except NSTInputError as error:  # bad config: stop before any job, naming the key or file
    raise WorkflowError(str(error)) from None

# Snakemake does not see changes inside the imported nst package; passing this hash of its source
# as a rule parameter makes the default rerun trigger "params" rerun jobs after an engine change.
CODE = code_fingerprint()
RUN_NAMES = sorted(PLAN.runs)


wildcard_constraints:
    run="|".join(map(re.escape, RUN_NAMES)) if RUN_NAMES else "$^",
    experiment="|".join(map(re.escape, PLAN.experiments)),


def run_image(run):
    return f"results/runs/{run}.png"


def run_sidecar(run):
    return f"results/runs/{run}.json"


def stylize_params(wildcards):
    return PLAN.runs[wildcards.run].params


def experiment_runs(experiment, pair):
    return [entry["run"] for entry in PLAN.experiments[experiment].runs[pair]]


def all_grids():
    return [
        f"results/grids/{name}/{pair}.png" for name, experiment in PLAN.experiments.items() for pair in experiment.pairs
    ]


def plan_for_report():
    """What the report script needs to know of the plan, as plain JSON-able data."""
    return json.dumps(
        {
            name: {"claim": e.claim, "varied": e.varied, "pairs": e.pairs, "runs": e.runs}
            for name, e in PLAN.experiments.items()
        },
        sort_keys=True,
    )
