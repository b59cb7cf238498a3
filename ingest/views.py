from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from analytics.errors import ApiError
from analytics.http import json_response, read_json_object
from ingest import services
from projects.auth import authenticate_public


@csrf_exempt
def ingest(request: HttpRequest) -> HttpResponse:
    """POST /v1/ingest. A plain view: the hot path skips DRF's request wrapping."""
    if request.method == "OPTIONS":
        return HttpResponse(status=204)
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "Use POST.", headers={"Allow": "POST, OPTIONS"})
    received_at = timezone.now()
    payload = read_json_object(request)
    project = authenticate_public(request, payload, scope="ingest")
    result = services.ingest_batch(
        project_id=project.id,
        payload=payload,
        received_at=received_at,
        user_agent=request.headers.get("User-Agent", ""),
    )
    return json_response(result.as_json(), status=202)
