import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from analytics.errors import ApiError
from experiments import selectors, services
from experiments.models import Experiment, Variant
from experiments.report import build_report
from experiments.validation import MAX_VARIANTS, MIN_VARIANTS, validate_variants


def today(time_zone: str) -> datetime.date:
    """The day of the project's time zone that the results page's timeline runs to."""
    return datetime.datetime.now(ZoneInfo(time_zone)).date()


class VariantFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        try:
            validate_variants([(form.cleaned_data["key"], form.cleaned_data["weight"]) for form in kept])
        except ApiError as exc:
            raise forms.ValidationError(exc.message) from None

    def save_new(self, form, commit: bool = True) -> Variant:
        # New variants go after the existing ones, so the control stays first.
        top = self.instance.variants.aggregate(top=Max("position"))["top"]
        form.instance.position = 0 if top is None else top + 1
        return super().save_new(form, commit=commit)


class VariantInline(admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    fields = ["key", "weight"]
    min_num = MIN_VARIANTS
    max_num = MAX_VARIANTS
    extra = 0
    verbose_name_plural = "Variants (the first is the control; weights add up to 100)"


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "project", "status", "split", "created_at", "results_link"]
    list_filter = ["status", "project"]
    search_fields = ["key", "name", "project__name"]
    list_select_related = ["project"]
    fields = [
        "project",
        "key",
        "name",
        "description",
        "primary_goal",
        "mde",
        "sequential_tuning",
        "status",
        "created_at",
        "id",
    ]
    inlines = [VariantInline]
    actions = ["stop", "restart"]
    change_form_template = "admin/experiments/experiment/change_form.html"

    def get_readonly_fields(self, request, obj: Experiment | None = None) -> list[str]:
        # The key is the SDK's handle and the hashing seed, and exposures carry the project:
        # both are fixed once the experiment exists.
        fixed = ["project", "key"] if obj is not None else []
        return [*fixed, "status", "created_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("variants")

    @admin.display(description="Split")
    def split(self, experiment: Experiment) -> str:
        return " / ".join(f"{variant.key} {variant.weight}" for variant in experiment.variants.all())

    @admin.display(description="Results")
    def results_link(self, experiment: Experiment) -> str:
        url = reverse("admin:experiments_experiment_results", args=[experiment.pk])
        return format_html('<a href="{}">Results</a>', url)

    def _set_status(self, request, queryset, status: Experiment.Status) -> None:
        for experiment in queryset:
            services.set_status(experiment=experiment, status=status)
        self.message_user(request, f"{len(queryset)} experiment(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Stop the selected experiments (everyone gets the control)")
    def stop(self, request, queryset) -> None:
        self._set_status(request, queryset, Experiment.Status.STOPPED)

    @admin.action(description="Restart the selected experiments")
    def restart(self, request, queryset) -> None:
        self._set_status(request, queryset, Experiment.Status.RUNNING)

    def get_urls(self):
        results = path(
            "<path:object_id>/results/",
            self.admin_site.admin_view(self.results_view),
            name="experiments_experiment_results",
        )
        return [results, *super().get_urls()]

    def results_view(self, request, object_id: str):
        experiment = self.get_object(request, unquote(object_id))
        if experiment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        goals = selectors.results_by_goal(experiment=experiment)
        by_goal = {results.goal: results for results in goals.results}
        # The primary goal is shown until another is picked; an empty choice means any goal.
        goal = request.GET.get("goal", experiment.primary_goal)
        if goal not in by_goal:
            goal = None
        results = (
            by_goal[goal]
            if goal is not None
            else selectors.experiment_results(
                project_id=experiment.project_id, experiment_key=experiment.key, goal=None
            )
        )
        timeline = selectors.timeline(experiment=experiment, goal=goal, until=today(experiment.project.time_zone))
        mixed = selectors.visitors_in_more_than_one_variant(
            project_id=experiment.project_id, experiment_id=experiment.id
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": experiment,
            "title": f"Results of {experiment}",
            "goals": list(by_goal),
            "goal": goal,
            "report": build_report(
                results,
                goals=goals,
                timeline=timeline,
                pace=selectors.pace(results=results, days_run=len(timeline)),
                visitors_in_several_variants=mixed,
            ),
        }
        return TemplateResponse(request, "admin/experiments/experiment/results.html", context)
