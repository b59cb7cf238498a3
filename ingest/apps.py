from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"

    def ready(self) -> None:
        from ingest import enrichment

        # Opened at start, so that a missing country database is said once, up front.
        enrichment.countries()
