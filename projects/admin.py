import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse

from analytics.admin_pages import ReadOnlyPermissions
from projects import services
from projects.models import ApiKey, AuditEntry, Project, time_zone_names
from projects.origins import normalise_origins

INSTALL_TAGS = '<script src="{script_url}"></script>\n<script>analytics.init({{ apiKey: {key} }});</script>'


class ProjectForm(forms.ModelForm):
    origins_text = forms.CharField(
        label="Origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line, scheme://host[:port], e.g. https://example.com",
    )

    class Meta:
        model = Project
        fields = ["name", "filter_bots", "retention_days", "time_zone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["origins_text"].initial = "\n".join(self.instance.origins or [])
        # A list to pick from; the model's validator still refuses anything else posted, and
        # a form sent without it keeps the project's zone (UTC for a new one).
        time_zone = self.fields["time_zone"]
        time_zone.widget = forms.Select(choices=[(name, name) for name in sorted(time_zone_names())])
        time_zone.required = False

    def clean_time_zone(self) -> str:
        return self.cleaned_data["time_zone"] or self.instance.time_zone

    def clean_origins_text(self) -> list[str]:
        lines = [line for line in self.cleaned_data["origins_text"].splitlines() if line.strip()]
        try:
            return normalise_origins(lines)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ["key", "label", "created_at", "revoked_at"]
    readonly_fields = ["key", "created_at", "revoked_at"]
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are minted with the "Mint a browser key" action


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = [
        "name",
        "id",
        "origin_list",
        "active_keys",
        "filter_bots",
        "retention_days",
        "time_zone",
        "created_at",
    ]
    search_fields = ["name", "=id", "=keys__key"]
    list_filter = ["created_at"]
    readonly_fields = ["id", "created_at"]
    inlines = [ApiKeyInline]
    actions = ["mint_key"]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["install_snippets"] = install_snippets(request, obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(active_key_count=Count("keys", filter=Q(keys__revoked_at__isnull=True)))
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Events and movement samples point at their project without a database constraint
        # (they are partitioned and bulk-written), so deleting a project here would orphan
        # them; revoke its keys instead.
        return False

    @admin.display(description="Origins")
    def origin_list(self, project: Project) -> str:
        return ", ".join(project.origins) or "—"

    @admin.display(description="Active keys", ordering="active_key_count")
    def active_keys(self, project: Project) -> int:
        return project.active_key_count

    def save_model(self, request, obj: Project, form, change: bool) -> None:
        name, origins = form.cleaned_data["name"], form.cleaned_data["origins_text"]
        filter_bots = form.cleaned_data["filter_bots"]
        actor = services.staff_actor(request.user)
        settings = {
            "name": name,
            "origins": origins,
            "filter_bots": filter_bots,
            "retention_days": form.cleaned_data["retention_days"],
            "time_zone": form.cleaned_data["time_zone"],
        }
        if change:
            # The form wrote its values into `obj`; the service compares with what is stored.
            stored = Project.objects.get(pk=obj.pk)
            services.update_project(project=stored, **settings, actor=actor)
        else:
            created = services.create_project(**settings, actor=actor)
            obj.pk, obj.created_at = created.pk, created.created_at
            obj._state.adding = False

    @admin.action(description="Mint a browser key for the selected projects")
    def mint_key(self, request, queryset) -> None:
        for project in queryset:
            api_key = services.mint_key(project=project, label="minted in admin")
            self.message_user(request, f"New key for {project.name}: {api_key.key}", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    """The trail is read, never written or edited by hand."""

    list_display = ["at", "actor", "action", "project", "subject_digest", "details"]
    list_filter = ["action", "project"]
    search_fields = ["=subject_digest", "actor"]
    list_select_related = ["project"]


def install_snippets(request, project: Project) -> list[tuple[ApiKey, str]]:
    """The tags a site pastes into its pages, one pair per active key of the project.

    The script's URL carries no version: browsers revalidate it hourly (ETag), so a site
    picks up a new SDK without editing its pages (docs/sdk.md). The page's origin must be
    one of the project's origins.
    """
    script_url = request.build_absolute_uri(reverse("sdk"))
    return [
        (api_key, INSTALL_TAGS.format(script_url=script_url, key=json.dumps(api_key.key)))
        for api_key in project.keys.filter(revoked_at__isnull=True)
    ]


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "project", "label", "created_at", "revoked_at"]
    list_filter = [KeyStateFilter, "project"]
    search_fields = ["=key", "label", "project__name"]
    list_select_related = ["project"]
    fields = ["key", "project", "label", "created_at", "revoked_at"]
    readonly_fields = ["key", "project", "created_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # minted from a project, so the key is always random

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        active = list(queryset.filter(revoked_at__isnull=True))
        for api_key in active:
            services.revoke_key(api_key=api_key)
        self.message_user(request, f"Revoked {len(active)} key(s).", messages.SUCCESS)
