"""Where a request ends, read from its framing alone (analytics/serving.py)."""

import pytest

from analytics.serving import FramingError, request_length

HEAD = b"POST /v1/ingest HTTP/1.1\r\nHost: a\r\n"
LIMITS = {"max_head": 1024, "max_body": 100}


def length(data: bytes) -> int | None:
    return request_length(bytearray(data), **LIMITS)


def refusal(data: bytes) -> tuple[int, str]:
    with pytest.raises(FramingError) as caught:
        length(data)
    return caught.value.status, caught.value.code


def test_a_request_without_a_body_ends_after_its_headers():
    request = b"GET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n"
    assert length(request + b"GET /next") == len(request)


def test_it_waits_for_the_rest_of_the_headers():
    assert length(HEAD) is None


def test_it_waits_for_the_whole_content_length():
    request = HEAD + b"content-length: 5\r\n\r\n"
    assert length(request + b"{}") is None
    assert length(request + b"12345" + b"GET") == len(request) + 5


def test_a_chunked_body_ends_after_its_last_chunk_and_trailers():
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    body = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    with_trailer = b"3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"
    assert length(request + body + b"GET") == len(request + body)
    assert length(request + with_trailer) == len(request + with_trailer)
    for cut in range(len(body)):
        assert length(request + body[:cut]) is None


def test_it_refuses_a_body_over_the_limit_before_it_arrives():
    assert refusal(HEAD + b"Content-Length: 101\r\n\r\n") == (413, "body_too_large")
    assert refusal(HEAD + b"Transfer-Encoding: chunked\r\n\r\n65\r\n") == (413, "body_too_large")


def test_it_refuses_headers_over_the_limit():
    assert refusal(HEAD + b"X-Long: " + b"a" * 1100) == (431, "headers_too_large")


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: -5\r\n",
        b"Content-Length: 5x\r\n",
    ],
)
def test_it_refuses_ambiguous_or_invalid_lengths(headers):
    assert refusal(HEAD + headers + b"\r\n") == (400, "bad_request")


def test_it_refuses_malformed_chunks():
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    assert refusal(request + b"zz\r\n") == (400, "bad_request")
    assert refusal(request + b"3\r\nabcXY0\r\n\r\n") == (400, "bad_request")


def test_it_leaves_other_transfer_codings_to_be_refused():
    assert refusal(HEAD + b"Transfer-Encoding: gzip\r\n\r\n") == (501, "not_implemented")
