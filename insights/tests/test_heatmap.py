"""GET /v1/projects/<id>/heatmap: bins of known clicks, overlaying screens, scroll depth, PNG."""

import struct
import zlib

import pytest

from ingest.tests.factories import at, make_sample, make_session
from insights.heatmap_png import BACKGROUND, CELL_PX, STOPS, encode_png, heat_colour
from insights.heatmaps import COLUMNS, HeatmapKind, movement_heatmap
from insights.time_ranges import TimeRange

pytestmark = pytest.mark.django_db

RANGE = {"from": "2025-03-10", "to": "2025-03-10"}


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an unfiltered 8-bit RGB PNG (what encode_png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 3
    rows = [raw[i * stride + 1 : (i + 1) * stride] for i in range(height)]
    assert all(raw[i * stride] == 0 for i in range(height))
    return width, height, rows


def pixel(rows: list[bytes], x: int, y: int) -> tuple[int, int, int]:
    return tuple(rows[y][x * 3 : x * 3 + 3])


@pytest.fixture
def clicks(tenant, other_tenant):
    """Three screens clicking the same button at 50% across, 30% of a width down: one bin."""
    desktop = make_session(tenant.project)
    phone = make_session(tenant.project)
    wide = make_session(tenant.project)
    make_sample(desktop, x=500, y=300, vw=1000, path="/pricing")
    make_sample(phone, x=195, y=117, vw=390, path="/pricing")
    make_sample(wide, x=720, y=432, vw=1440, path="/pricing")
    # A second bin, and the edges of what counts.
    make_sample(desktop, x=999, y=0, vw=1000, path="/pricing")  # last column, first row
    make_sample(desktop, x=10, y=9999, vw=1000, path="/pricing")  # last row kept (depth 9999)
    # None of these count: outside the viewport, too deep, unknown width, other kind, path,
    # time or project.
    make_sample(desktop, x=1000, y=10, vw=1000, path="/pricing")
    make_sample(desktop, x=-1, y=10, vw=1000, path="/pricing")
    make_sample(desktop, x=10, y=-1, vw=1000, path="/pricing")
    make_sample(desktop, x=10, y=10_000, vw=1000, path="/pricing")
    make_sample(desktop, x=10, y=10, vw=None, path="/pricing")
    make_sample(desktop, x=10, y=10, vw=0, path="/pricing")
    make_sample(desktop, x=500, y=300, kind="move", path="/pricing")
    make_sample(desktop, x=500, y=300, path="/")
    make_sample(desktop, x=500, y=300, path="/pricing", when="2025-03-11 00:00")
    make_sample(make_session(other_tenant.project), x=500, y=300, path="/pricing")
    return tenant


def test_clicks_from_different_screens_overlay_in_one_bin(clicks):
    heatmap = movement_heatmap(
        project_id=clicks.project.id,
        path="/pricing",
        kind=HeatmapKind.CLICK,
        time_range=TimeRange(start=at("2025-03-10 00:00"), end=at("2025-03-11 00:00")),
    )
    assert [(cell.column, cell.row, cell.count) for cell in heatmap.bins] == [
        (49, 0, 1),
        (25, 15, 3),
        (0, 499, 1),
    ]
    assert heatmap.samples == 5
    assert heatmap.max_count == 3
    assert heatmap.rows == 500


def test_the_heatmap_endpoint_answers_bins_as_json(clicks, admin_api):
    response = admin_api.get(f"/v1/projects/{clicks.project.id}/heatmap", {**RANGE, "path": "/pricing"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "click"
    assert (body["referenceWidth"], body["cellSize"], body["columns"]) == (1000, 20, 50)
    assert body["bins"] == [[49, 0, 1], [25, 15, 3], [0, 499, 1]]
    assert (body["samples"], body["maxCount"], body["rows"]) == (5, 3, 500)
    assert (body["from"], body["to"]) == ("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z")


def test_moves_are_a_heatmap_of_their_own(clicks, admin_api):
    body = admin_api.get(
        f"/v1/projects/{clicks.project.id}/heatmap", {**RANGE, "path": "/pricing", "kind": "move"}
    ).json()
    assert body["bins"] == [[25, 15, 1]]


def test_the_png_puts_the_busiest_bin_in_red_where_it_belongs(clicks, admin_api):
    response = admin_api.get(
        f"/v1/projects/{clicks.project.id}/heatmap", {**RANGE, "path": "/pricing", "format": "png"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    width, height, rows = decode_png(response.content)
    assert (width, height) == (COLUMNS * CELL_PX, 500 * CELL_PX)
    centre = CELL_PX // 2
    assert pixel(rows, 25 * CELL_PX + centre, 15 * CELL_PX + centre) == STOPS[-1]
    assert pixel(rows, 49 * CELL_PX + centre, centre) == heat_colour(1 / 3)
    assert pixel(rows, 10 * CELL_PX + centre, 10 * CELL_PX + centre) == BACKGROUND


def test_an_empty_heatmap_is_still_an_image(tenant, admin_api):
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/heatmap?path=/&format=png")
    assert response.status_code == 200
    width, height, _rows = decode_png(response.content)
    assert (width, height) == (COLUMNS * CELL_PX, 50 * CELL_PX)


def test_encode_png_round_trips():
    rows = [bytes([x, y, 7]) * 1 for y in range(3) for x in range(1)]
    assert decode_png(encode_png(1, 3, rows)) == (1, 3, rows)


def test_heat_colours_run_from_the_first_to_the_last_stop():
    assert heat_colour(0) == STOPS[0]
    assert heat_colour(1) == STOPS[-1]
    assert heat_colour(0.1) != heat_colour(0.5)


def test_scroll_depth_shares_count_each_session_at_its_deepest(tenant, other_tenant, admin_api):
    # Depth = (y + vh) * 1000 / vw: 2000, 1000 and 1750 reference units.
    deep = make_session(tenant.project)
    make_sample(deep, x=0, y=0, kind="scroll", vw=1000, vh=800, path="/docs")
    make_sample(deep, x=0, y=1200, kind="scroll", vw=1000, vh=800, path="/docs")
    shallow = make_session(tenant.project)
    make_sample(shallow, x=0, y=100, kind="scroll", vw=500, vh=400, path="/docs")
    phone = make_session(tenant.project)
    make_sample(phone, x=0, y=0, kind="scroll", vw=400, vh=700, path="/docs")
    # Not counted: another page, no viewport height, a click, another project.
    make_sample(shallow, x=0, y=5000, kind="scroll", vw=500, vh=400, path="/")
    make_sample(shallow, x=0, y=5000, kind="scroll", vw=500, vh=None, path="/docs")
    make_sample(shallow, x=0, y=5000, kind="click", vw=500, vh=400, path="/docs")
    make_sample(make_session(other_tenant.project), x=0, y=9000, kind="scroll", path="/docs")

    body = admin_api.get(f"/v1/projects/{tenant.project.id}/heatmap", {**RANGE, "path": "/docs"}).json()
    depth = body["scrollDepth"]
    assert depth["sessions"] == 3
    reached = {step["depth"]: step["sessions"] for step in depth["steps"]}
    assert reached == {250: 3, 500: 3, 750: 3, 1000: 3, 1250: 2, 1500: 2, 1750: 2, 2000: 1, 2250: 0}
    assert depth["steps"][6]["share"] == pytest.approx(2 / 3)
    assert depth["steps"][7]["share"] == pytest.approx(1 / 3)


def test_no_scroll_samples_means_no_steps(tenant, admin_api):
    body = admin_api.get(f"/v1/projects/{tenant.project.id}/heatmap", {**RANGE, "path": "/docs"}).json()
    assert body["scrollDepth"] == {"sessions": 0, "steps": []}
    assert body["bins"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "/" + "a" * 2048}, "path"),
        # Found by fuzzing: a NUL reached Postgres, which refuses it, and the answer was a 500.
        ({"path": "/a\x00b"}, "path"),
        ({"path": "/", "kind": "scroll"}, "kind"),
        ({"path": "/", "format": "gif"}, "format"),
        ({"path": "/", "from": "soon"}, "from"),
    ],
)
def test_bad_heatmap_parameters_are_400(tenant, admin_api, query, field):
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/heatmap", query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_field", field)


def test_a_heatmap_range_cannot_be_inverted(tenant, admin_api):
    response = admin_api.get(
        f"/v1/projects/{tenant.project.id}/heatmap", {"path": "/", "from": "2025-03-10", "to": "2025-03-01"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_range"


def test_heatmaps_need_the_admin_key_and_a_real_project(tenant, admin_api, client):
    assert client.get(f"/v1/projects/{tenant.project.id}/heatmap?path=/").status_code == 401
    missing = admin_api.get("/v1/projects/00000000-0000-0000-0000-000000000000/heatmap?path=/")
    assert missing.status_code == 404
    assert admin_api.get("/v1/projects/nope/heatmap?path=/").status_code == 404
