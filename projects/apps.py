from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        from projects import auth  # noqa: F401  (connects the CORS signal handler)
