from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from analytics.http import client_ip, json_response, plain_api_view, read_json_object
from ingest import services
from ingest.serializers import IngestResultSerializer
from projects.auth import authenticate_public, is_filtered_bot


@plain_api_view("POST")
def ingest(request: HttpRequest) -> HttpResponse:
    """POST /v1/ingest. A plain view: the hot path skips DRF's request wrapping."""
    received_at = timezone.now()
    payload = read_json_object(request)
    project = authenticate_public(request, payload, scope="ingest")
    result = services.ingest_batch(
        project_id=project.id,
        payload=payload,
        received_at=received_at,
        user_agent=request.headers.get("User-Agent", ""),
        client_address=client_ip(request),
        own_origins=project.origins,
        bot=is_filtered_bot(request, project),
    )
    return json_response(IngestResultSerializer.render(result), status=202)
