# Shared names of the real-image rules (rules/images.smk), the claims and the notebooks: the
# config's data sets, which of them are on, and helpers that read a data set's resources.
from advpretrain.images.cost_table import describe as describe_cost
from advpretrain.workflow.image_branch import VARIANTS as IMAGE_VARIANTS
from advpretrain.workflow.image_branch import branch_enabled
from advpretrain.workflow.figures import IMAGE_CATEGORY, image_table

IMAGES = config["images"]
IMAGE_DIR = f"{RESULTS}/images"
IMAGES_ON = [dataset for dataset, section in IMAGES.items() if branch_enabled(section)]
IMAGE_JOB = f"{IMAGE_DIR}/{{dataset}}/{{variant}}/seed{{seed}}"
IMAGE_DATASET_NAMES = "|".join(IMAGES)
IMAGE_VARIANT_NAMES = "|".join(IMAGE_VARIANTS)


def image_resource(rule_name, key="runtime"):
    """A data set's scheduler resource of a rule (runtime minutes, memory, GPUs)."""

    def resource(wildcards):
        section = IMAGES[wildcards.dataset]["resources"]
        if key == "runtime":
            return section["runtime_minutes"][rule_name]
        return section[key]

    return resource


def image_threads(wildcards):
    """2 threads for a GPU data set (host work beside the GPU), 1 for a CPU one: two small CPU
    jobs side by side use two cores better than one job with two threads."""
    return 2 if IMAGES[wildcards.dataset]["resources"]["gpus"] > 0 else 1


def image_partition(wildcards):
    """SLURM partition (profiles/slurm): $ADVPRETRAIN_GPU_PARTITION for a data set that asks for
    GPUs, else $SBATCH_PARTITION (empty: the cluster's default); ignored by local runs."""
    environ = os.environ
    if IMAGES[wildcards.dataset]["resources"]["gpus"] > 0:
        return environ.get("ADVPRETRAIN_GPU_PARTITION") or environ.get("SBATCH_PARTITION", "")
    return environ.get("SBATCH_PARTITION", "")


def image_jobs(dataset, path):
    """``path`` (a pattern of one variant and seed) for every variant and seed of a data set."""
    section = IMAGES[dataset]
    return expand(
        path,
        dataset=dataset,
        variant=section["variants"],
        seed=range(section["seeds"]),
    )


def images_per_seed(dataset):
    """The per-seed table of a data set (what the claims read)."""
    return f"{IMAGE_DIR}/{dataset}/per_seed.csv"
