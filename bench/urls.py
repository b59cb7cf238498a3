from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from analytics.http import json_response, read_json_object
from analytics.urls import urlpatterns as service_urlpatterns


@csrf_exempt
def noop(request: HttpRequest) -> HttpResponse:
    """The ceiling: parse the JSON body and answer, touching neither database nor cache."""
    payload = read_json_object(request)
    return json_response({"received": len(payload)}, status=202)


urlpatterns = [path("v1/noop", noop), *service_urlpatterns]
