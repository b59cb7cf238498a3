"""The OpenAPI schema against the contract (docs/api-contract.md) and against real answers."""

import json

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator

from conftest import ADMIN_KEY
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db

# Every endpoint of the contract with the status codes it documents.
CONTRACT = {
    ("get", "/v1/health"): {200, 503},
    ("get", "/v1/sdk.js"): {200, 304},
    ("post", "/v1/projects"): {201, 400, 401, 413, 503},
    ("get", "/v1/projects"): {200, 401, 503},
    ("post", "/v1/projects/{project_id}/keys"): {201, 400, 401, 404, 413, 503},
    ("delete", "/v1/projects/{project_id}/keys/{key}"): {204, 401, 404, 503},
    ("post", "/v1/ingest"): {202, 400, 401, 403, 413, 429, 503},
    ("post", "/v1/experiments"): {201, 400, 401, 404, 409, 413, 503},
    ("post", "/v1/experiments/{key}/assign"): {200, 400, 401, 403, 404, 413, 429, 503},
    ("post", "/v1/experiments/{key}/convert"): {200, 400, 401, 403, 404, 413, 429, 503},
    ("get", "/v1/experiments/{key}/results"): {200, 400, 401, 404, 503},
    ("get", "/v1/projects/{project_id}/stats"): {200, 400, 401, 404, 503},
    ("get", "/v1/projects/{project_id}/heatmap"): {200, 400, 401, 404, 503},
    ("get", "/v1/projects/{project_id}/realtime"): {200, 401, 404, 503},
    ("get", "/v1/projects/{project_id}"): {200, 401, 404, 503},
    ("patch", "/v1/projects/{project_id}"): {200, 400, 401, 404, 413, 503},
    ("delete", "/v1/projects/{project_id}/visitors/{anon_id}"): {200, 401, 404, 503},
    ("get", "/v1/projects/{project_id}/visitors/{anon_id}"): {200, 401, 404, 503},
    ("get", "/v1/projects/{project_id}/export"): {200, 400, 401, 404, 503},
}
PUBLIC = {("post", "/v1/ingest"), ("post", "/v1/experiments/{key}/assign"), ("post", "/v1/experiments/{key}/convert")}

# Required fields of bodies, as the contract lists them.
REQUIRED = {
    "IngestBatch": {"apiKey", "session"},
    "IngestEvent": {"type"},
    "IngestMovementSample": {"kind", "x", "y"},
    "IngestResult": {"accepted", "duplicates", "rejected", "rejectedCount"},
    "ProjectInput": {"name"},
    "Project": {"id", "name", "origins", "createdAt", "filterBots", "retentionDays", "timeZone"},
    "Erasure": {"deleted"},
    "Key": {"key", "label", "createdAt", "revokedAt"},
    "NewKey": {"key", "label", "projectId", "createdAt"},
    "ExperimentInput": {"projectId", "key", "variants"},
    "Experiment": {"id", "projectId", "key", "status", "variants", "sequentialTuning", "mde", "primaryGoal"},
    "ExperimentResults": {"experiment", "goal", "variants", "srm", "sampleSize"},
    "SampleSize": {"mde", "requiredPerVariant", "progress"},
    "Sequential": {"ci95", "pValue"},
    "AssignRequest": {"apiKey", "anonId"},
    "Assignment": {"variantKey"},
    "ConvertRequest": {"apiKey", "anonId", "goal"},
    "Error": {"error"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/v1/schema")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return response.json()


def operation(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method]


def test_it_serves_an_openapi_3_schema_of_the_whole_api(schema):
    assert schema["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert documented == set(CONTRACT)


@pytest.mark.parametrize(("method", "path"), sorted(CONTRACT))
def test_each_endpoint_documents_the_status_codes_of_the_contract(schema, method, path):
    responses = operation(schema, method, path)["responses"]
    assert {int(status) for status in responses} == CONTRACT[(method, path)]


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_every_error_answer_has_the_error_shape(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    envelope = schema["components"]["schemas"]["Error"]
    assert (envelope["required"], envelope["additionalProperties"]) == (["error"], False)
    error = resolve(schema, envelope["properties"]["error"])
    assert set(error["required"]) == {"code", "message"}
    assert set(error["properties"]) == {"code", "message", "details"}
    assert error["additionalProperties"] is False


def test_every_answer_component_is_closed(schema):
    # Answers come from their shapes: a key that is not in the schema cannot appear.
    for method, path in CONTRACT:
        for status, response in operation(schema, method, path)["responses"].items():
            body = response.get("content", {}).get("application/json", {}).get("schema")
            if body is not None:
                assert resolve(schema, body)["additionalProperties"] is False, (method, path, status)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/vnd.oai.openapi+json"),
        ("*/*", "application/vnd.oai.openapi+json"),
        ("application/json", "application/json"),
        ("application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json"),
    ],
)
def test_the_schema_is_served_as_json_to_whoever_accepts_json(client, accept, media_type):
    response = client.get("/v1/schema", **({"HTTP_ACCEPT": accept} if accept else {}))
    assert response.status_code == 200
    assert response["Content-Type"] == media_type
    assert response.json()["openapi"].startswith("3.1")


@pytest.mark.parametrize(
    ("query", "accept"), [("?format=yaml", None), ("", "application/yaml"), ("", "application/vnd.oai.openapi")]
)
def test_the_schema_is_served_as_yaml_when_asked(client, query, accept):
    response = client.get(f"/v1/schema{query}", **({"HTTP_ACCEPT": accept} if accept else {}))
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.1")


def test_rate_limited_and_unavailable_answers_carry_retry_after(schema):
    for path, item in schema["paths"].items():
        for op in item.values():
            for status in ("429", "503"):
                if status in op["responses"]:
                    assert "Retry-After" in op["responses"][status]["headers"], (path, status)


@pytest.mark.parametrize(("component", "required"), sorted(REQUIRED.items()))
def test_bodies_require_the_fields_of_the_contract(schema, component, required):
    assert set(schema["components"]["schemas"][component]["required"]) >= required


def test_admin_operations_use_the_admin_key_and_public_ones_the_body_key(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["adminKey"] == {**schemes["adminKey"], "type": "apiKey", "in": "header", "name": "x-admin-key"}
    assert schemes["browserKey"]["x-in"] == "body"
    for method, path in CONTRACT:
        security = operation(schema, method, path)["security"]
        if (method, path) in PUBLIC:
            assert security == [{"browserKey": []}]
        elif path in ("/v1/health", "/v1/sdk.js"):
            assert security == []
        else:
            assert security == [{"adminKey": []}]


def test_the_docs_page_needs_no_cdn(client):
    response = client.get("/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "drf_spectacular_sidecar" in page
    assert "cdn." not in page


class Recorder:
    """Validates every answer against the schema's response for its operation and status."""

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self.checked: set[tuple[str, str, int]] = set()

    def check(self, response, method: str, path: str) -> None:
        documented = operation(self.schema, method, path)["responses"]
        status = response.status_code
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert str(status) in documented, (method, path, status, body)
        content = documented[str(status)].get("content")
        if content is None:
            assert body == b""
        else:
            media_type = response["Content-Type"].split(";")[0]
            assert media_type in content, (method, path, status, media_type)
            if media_type == "application/json":
                body_schema = content[media_type]["schema"]
                validator = Draft202012Validator({"components": self.schema["components"], **body_schema})
                errors = [error.message for error in validator.iter_errors(json.loads(body))]
                assert not errors, (method, path, status, errors)
        self.checked.add((method, path, status))


def test_real_answers_match_the_schema(schema, settings, client, tenant, other_tenant):
    settings.ADMIN_API_KEY = ADMIN_KEY
    admin = {"HTTP_X_ADMIN_KEY": ADMIN_KEY}
    recorder = Recorder(schema)

    def post(path, template, body, **extra):
        response = client.post(path, data=json.dumps(body), content_type="application/json", **extra)
        recorder.check(response, "post", template)
        return response

    def get(path, template, **extra):
        response = client.get(path, **extra)
        recorder.check(response, "get", template)
        return response

    keys = "/v1/projects/{project_id}/keys"
    get("/v1/health", "/v1/health")
    get("/v1/health?deep=1", "/v1/health")
    sdk = get("/v1/sdk.js", "/v1/sdk.js")
    get("/v1/sdk.js", "/v1/sdk.js", HTTP_IF_NONE_MATCH=sdk["ETag"])
    project = post("/v1/projects", "/v1/projects", {"name": "site", "origins": ["https://site.example"]}, **admin)
    post("/v1/projects", "/v1/projects", {"name": ""}, **admin)
    post("/v1/projects", "/v1/projects", {"name": "x"})
    project_id = project.json()["id"]
    key = post(f"/v1/projects/{project_id}/keys", keys, {"label": "web"}, **admin).json()["key"]
    post(f"/v1/projects/{project_id[:-1]}0/keys", keys, {}, **admin)
    get("/v1/projects", "/v1/projects", **admin)
    change = "/v1/projects/{project_id}"

    def patch(path, body):
        response = client.patch(path, data=json.dumps(body), content_type="application/json", **admin)
        recorder.check(response, "patch", change)

    patch(f"/v1/projects/{project_id}", {"filterBots": True})
    patch(f"/v1/projects/{project_id}", {"filterBots": "no"})
    patch(f"/v1/projects/{project_id[:-1]}0", {})

    post("/v1/ingest", "/v1/ingest", make_batch(key, events=2, movement=1, sentAt="yesterday"))
    # Traffic to read back: page views in two sessions, clicks and a scroll on "/".
    clicks = [{"x": 10 * i, "y": 30 * i, "kind": "click", "path": "/", "vw": 1000, "vh": 800} for i in range(5)]
    scroll = {"x": 0, "y": 1200, "kind": "scroll", "path": "/", "vw": 1000, "vh": 800}
    post("/v1/ingest", "/v1/ingest", make_batch(key, events=3, movement=0) | {"movement": [*clicks, scroll]})
    post("/v1/ingest", "/v1/ingest", make_batch(key, events=1, movement=2))
    batch = make_batch(key)
    batch["events"].append({"type": ""})
    post("/v1/ingest", "/v1/ingest", batch)
    post("/v1/ingest", "/v1/ingest", batch)
    post("/v1/ingest", "/v1/ingest", make_batch("ak_" + "n" * 32))
    post("/v1/ingest", "/v1/ingest", make_batch(key), HTTP_ORIGIN="https://elsewhere.example")
    bot = {"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    post("/v1/ingest", "/v1/ingest", make_batch(key), **bot)

    variants = [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}]
    experiment = {"projectId": project_id, "key": "hero", "variants": variants}
    post("/v1/experiments", "/v1/experiments", experiment, **admin)
    post("/v1/experiments", "/v1/experiments", experiment, **admin)
    post("/v1/experiments", "/v1/experiments", {**experiment, "projectId": str(other_tenant.project.id)}, **admin)
    post("/v1/experiments", "/v1/experiments", {**experiment, "projectId": project_id[:-1] + "0"}, **admin)
    assign, convert = "/v1/experiments/{key}/assign", "/v1/experiments/{key}/convert"
    post("/v1/experiments/hero/assign", assign, {"apiKey": key, "anonId": "a1"})
    post("/v1/experiments/nope/assign", assign, {"apiKey": key, "anonId": "a1"})
    post("/v1/experiments/hero/convert", convert, {"apiKey": key, "anonId": "a2", "goal": "signup"})
    post("/v1/experiments/hero/convert", convert, {"apiKey": key, "anonId": "a1", "goal": "signup"})
    post("/v1/experiments/hero/convert", convert, {"apiKey": key, "anonId": "a1", "goal": "signup"})
    post("/v1/experiments/hero/convert", convert, {"apiKey": key, "anonId": ""})
    post("/v1/experiments/hero/assign", assign, {"apiKey": key, "anonId": "a3"}, **bot)
    post("/v1/experiments/hero/convert", convert, {"apiKey": key, "anonId": "a3", "goal": "signup"}, **bot)
    results = "/v1/experiments/{key}/results"
    get(f"/v1/experiments/hero/results?projectId={project_id}&goal=signup", results, **admin)
    get(f"/v1/experiments/hero/results?projectId={project_id}", results, **admin)
    get("/v1/experiments/hero/results", results, **admin)

    stats, heatmap = "/v1/projects/{project_id}/stats", "/v1/projects/{project_id}/heatmap"
    for query in ("", "?interval=hour&from=" + timezone.now().date().isoformat()):
        body = get(f"/v1/projects/{project_id}/stats{query}", stats, **admin).json()
        assert body["totals"]["pageViews"] > 0 and body["totals"]["sessions"] > 0, body
        assert body["topPaths"] and body["topReferrers"] and body["screenSizes"], body
    body = get(f"/v1/projects/{project_id}/stats?device=desktop&browser=Other", stats, **admin).json()
    assert body["filters"] == {"browser": "Other", "device": "desktop"} and body["browsers"], body
    get(f"/v1/projects/{project_id}/stats?device=phone", stats, **admin)
    get(f"/v1/projects/{project_id}/stats?interval=week", stats, **admin)
    get(f"/v1/projects/{project_id[:-1]}0/stats", stats, **admin)
    get(f"/v1/projects/{project_id}/stats", stats)
    body = get(f"/v1/projects/{project_id}/heatmap?path=/", heatmap, **admin).json()
    assert body["samples"] == 5 and body["scrollDepth"]["steps"], body
    get(f"/v1/projects/{project_id}/heatmap?path=/&kind=move", heatmap, **admin)
    get(f"/v1/projects/{project_id}/heatmap?path=/&format=png", heatmap, **admin)
    get(f"/v1/projects/{project_id}/heatmap", heatmap, **admin)
    get(f"/v1/projects/{project_id[:-1]}0/heatmap?path=/", heatmap, **admin)
    get(f"/v1/projects/{project_id}/heatmap?path=/", heatmap)
    realtime = "/v1/projects/{project_id}/realtime"
    body = get(f"/v1/projects/{project_id}/realtime", realtime, **admin).json()
    assert len(body["perMinute"]) == 30 and body["visitors"] >= 0, body
    get(f"/v1/projects/{project_id[:-1]}0/realtime", realtime, **admin)
    get(f"/v1/projects/{project_id}/realtime", realtime)

    one = "/v1/projects/{project_id}"
    get(f"/v1/projects/{project_id}", one, **admin)
    get(f"/v1/projects/{project_id[:-1]}0", one, **admin)
    for change in ({"retentionDays": 30}, {"retentionDays": -1}):
        response = client.patch(f"/v1/projects/{project_id}", json.dumps(change), "application/json", **admin)
        recorder.check(response, "patch", one)
    visitor, export = "/v1/projects/{project_id}/visitors/{anon_id}", "/v1/projects/{project_id}/export"
    anon_id = make_batch(key)["session"]["anonId"]
    get(f"/v1/projects/{project_id}/visitors/{anon_id}", visitor, **admin)
    get(f"/v1/projects/{project_id}/export", export, **admin)
    get(f"/v1/projects/{project_id}/export?format=csv&kind=movement", export, **admin)
    get(f"/v1/projects/{project_id}/export?kind=nope", export, **admin)
    get(f"/v1/projects/{project_id[:-1]}0/export", export, **admin)
    for target in (project_id, project_id[:-1] + "0"):
        recorder.check(client.delete(f"/v1/projects/{target}/visitors/{anon_id}", **admin), "delete", visitor)

    revoke = "/v1/projects/{project_id}/keys/{key}"
    recorder.check(client.delete(f"/v1/projects/{project_id}/keys/{key}", **admin), "delete", revoke)
    recorder.check(client.delete(f"/v1/projects/{project_id}/keys/{tenant.key}", **admin), "delete", revoke)
    post("/v1/experiments/hero/assign", assign, {"apiKey": key, "anonId": "a1"})

    statuses = {status for _, _, status in recorder.checked}
    assert statuses == {200, 201, 202, 204, 304, 400, 401, 403, 404, 409}
    # Every endpoint answered at least once with success, and each of its answers was checked.
    assert {(method, path) for method, path, status in recorder.checked if status < 300} == set(CONTRACT)


@pytest.mark.parametrize(("label", "valid"), [("", True), ("web", True), ("w\x00b", False), ("x" * 101, False)])
def test_request_schemas_accept_what_the_serializers_accept(schema, label, valid):
    # Found by fuzzing: "" matched both alternatives of a blank field's oneOf, so the schema refused it.
    validator = Draft202012Validator({"components": schema["components"], "$ref": "#/components/schemas/KeyInput"})
    assert validator.is_valid({"label": label}) is valid
