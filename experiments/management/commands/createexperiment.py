from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from experiments import services
from experiments.stats import DEFAULT_MDE, SEQUENTIAL_TUNING
from projects.selectors import get_project_by_id_or_name


def variant_argument(value: str) -> tuple[str, int]:
    """KEY:WEIGHT, e.g. control:50; the rules on keys and weights are checked with the others."""
    key, separator, weight = value.rpartition(":")
    if not separator:
        raise ArgumentTypeError(f"{value!r} is not KEY:WEIGHT, e.g. control:50")
    try:
        return key, int(weight)
    except ValueError:
        raise ArgumentTypeError(f"the weight in {value!r} is not a whole number") from None


class Command(BaseCommand):
    help = "Create a running A/B experiment in a project (id or name); the first variant is the control."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project")
        parser.add_argument("key")
        parser.add_argument(
            "--variant",
            action="append",
            type=variant_argument,
            default=[],
            dest="variants",
            metavar="KEY:WEIGHT",
            help="repeat for each variant, control first; the weights add up to 100",
        )
        parser.add_argument("--name", default="")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--sequential-tuning",
            type=int,
            default=SEQUENTIAL_TUNING,
            metavar="N",
            help=f"N* of the sequential test, the total exposures where it is tightest (default {SEQUENTIAL_TUNING})",
        )
        parser.add_argument(
            "--mde",
            type=float,
            default=DEFAULT_MDE,
            help=f"the relative change the sample size is planned for (default {DEFAULT_MDE}, i.e. 10%%)",
        )
        parser.add_argument("--primary-goal", default=None, help="the goal the experiment is decided on")

    def handle(
        self,
        *args,
        project: str,
        key: str,
        variants,
        name: str,
        description: str,
        sequential_tuning: int,
        mde: float,
        primary_goal: str | None,
        **options,
    ) -> None:
        try:
            target = get_project_by_id_or_name(ref=project)
            experiment = services.create_experiment(
                project=target,
                key=key,
                variants=variants,
                name=name,
                description=description,
                sequential_tuning=sequential_tuning,
                mde=mde,
                primary_goal=primary_goal,
            )
        except ApiError as exc:
            raise CommandError(exc.message) from None
        split = ", ".join(f"{variant.key} {variant.weight}%" for variant in experiment.variants.all())
        self.stdout.write(f"Created experiment {experiment.key} ({experiment.id}) in project {target.name}: {split}")
