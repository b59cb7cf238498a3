"""The gunicorn worker: a request reaches the application only once it has fully arrived.

gunicorn's sync worker reads a request while holding its only slot, so a client that sends
its headers or body a byte at a time holds a whole worker; four such clients stop four
workers. Here an event loop in each worker process reads every connection without blocking,
keeps each one's bytes until a whole request (headers and body) is there, and only then runs
the application on it, in the loop's own thread, as the sync worker would. A slow client costs
a socket and a buffer, never the worker, and a request that has not fully arrived within
REQUEST_READ_TIMEOUT seconds is answered 408 and closed.

Answers are queued and written as the client reads them. The application's output is kept in
memory up to OUTPUT_HIGH_WATER bytes; past that (a streamed export) the worker waits for the
client to read, as a sync worker would, up to the worker timeout without progress.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import selectors
import socket
import time
from collections import deque
from datetime import datetime
from http import HTTPStatus

from gunicorn import http
from gunicorn.http import wsgi
from gunicorn.workers import base

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
OUTPUT_HIGH_WATER = 8 * 1024 * 1024
# How often connections are checked against their deadlines.
EXPIRY_INTERVAL = 0.5
HEAD_END = b"\r\n\r\n"
# Seconds the kernel holds a new connection that has sent nothing before handing it over.
DEFER_ACCEPT_S = 5


class FramingError(Exception):
    """A request that can be refused from its headers alone, with its status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _header_values(head: bytes, name: bytes) -> list[bytes]:
    prefix = name + b":"
    values = []
    for line in head.split(b"\r\n")[1:]:
        if line[: len(prefix)].lower() == prefix:
            values.append(line[len(prefix) :].strip())
    return values


def _chunked_end(buf: bytearray, start: int, max_body: int) -> int | None:
    """Where a chunked body that begins at `start` ends, or None while it is incomplete."""
    position = start
    while True:
        line_end = buf.find(b"\r\n", position)
        if line_end < 0:
            if len(buf) - position > 1024:
                raise FramingError(400, "bad_request", "A chunk size line is too long.")
            return None
        size_field = bytes(buf[position:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise FramingError(400, "bad_request", "A chunk size is not a hexadecimal number.") from None
        if size < 0 or position - start + size > max_body:
            raise FramingError(413, "body_too_large", "The body is too large.")
        if size == 0:
            # The last chunk: optional trailer lines, then an empty line.
            if buf[line_end + 2 : line_end + 4] == b"\r\n":
                return line_end + 4
            trailers_end = buf.find(HEAD_END, line_end)
            return None if trailers_end < 0 else trailers_end + 4
        position = line_end + 2 + size + 2
        if position > len(buf):
            return None
        if buf[position - 2 : position] != b"\r\n":
            raise FramingError(400, "bad_request", "A chunk does not end with CRLF.")


def request_length(buf: bytearray, *, max_head: int, max_body: int) -> int | None:
    """The length of the whole first request in `buf`, or None while it has not all arrived.

    Only the framing is read here (where the headers end, Content-Length or chunked); the
    request itself is parsed and checked by gunicorn's parser once it is complete.
    """
    head_end = buf.find(HEAD_END, 0, max_head + len(HEAD_END))
    if head_end < 0:
        if len(buf) > max_head:
            raise FramingError(431, "headers_too_large", "The request headers are too large.")
        return None
    head = bytes(buf[:head_end])
    body_start = head_end + len(HEAD_END)
    transfer_codings = _header_values(head, b"transfer-encoding")
    lengths = _header_values(head, b"content-length")
    if transfer_codings:
        if lengths:
            raise FramingError(400, "bad_request", "Content-Length and Transfer-Encoding together.")
        if transfer_codings[-1].lower().rsplit(b",", 1)[-1].strip() != b"chunked":
            raise FramingError(501, "not_implemented", "Only chunked transfer coding is supported.")
        return _chunked_end(buf, body_start, max_body)
    if not lengths:
        return body_start
    if len(set(lengths)) != 1 or not lengths[0].isdigit():
        raise FramingError(400, "bad_request", "The Content-Length header is invalid.")
    body_length = int(lengths[0])
    if body_length > max_body:
        raise FramingError(413, "body_too_large", "The body is too large.")
    end = body_start + body_length
    return end if len(buf) >= end else None


def _expects_continue(buf: bytearray) -> bool:
    head = bytes(buf[: buf.find(HEAD_END)])
    return any(value.lower() == b"100-continue" for value in _header_values(head, b"expect"))


class Connection:
    __slots__ = ("addr", "closing", "continued", "deadline", "events", "inbuf", "listener", "out", "out_bytes", "sock")

    def __init__(self, sock: socket.socket, addr, listener: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.addr = addr
        self.listener = listener
        self.inbuf = bytearray()
        self.out: deque[memoryview] = deque()
        self.out_bytes = 0
        self.deadline = deadline
        self.closing = False
        self.continued = False
        self.events = selectors.EVENT_READ


class ResponseSink:
    """What gunicorn's Response writes to: the connection's output queue."""

    def __init__(self, worker: BufferingWorker, conn: Connection) -> None:
        self.worker = worker
        self.conn = conn

    def sendall(self, data: bytes) -> None:
        if data:
            self.worker.queue(self.conn, bytes(data))
            if self.conn.out_bytes > OUTPUT_HIGH_WATER:
                self.worker.drain(self.conn)

    def send(self, data: bytes) -> int:
        # gunicorn answers "Expect: 100-continue" here; the loop has done so already.
        if not (self.conn.continued and data.startswith(b"HTTP/1.1 100")):
            self.sendall(data)
        return len(data)

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        file.seek(offset)
        data = file.read(count) if count else file.read()
        self.sendall(data)
        return len(data)


class BufferingWorker(base.Worker):
    """One event loop per process reading whole requests; the application runs on complete ones."""

    def init_process(self) -> None:
        if self.cfg.is_ssl:
            raise RuntimeError("analytics.serving.BufferingWorker does not terminate TLS; put a proxy in front.")
        self.connections: dict[int, Connection] = {}
        self.read_timeout = float(os.environ.get("REQUEST_READ_TIMEOUT", "10"))
        self.max_head = self.cfg.limit_request_line + self.cfg.limit_request_field_size * 2
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from django.conf import settings

        self.max_body = max(settings.MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    def run(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.listening = False
        for listener in self.sockets:
            listener.setblocking(False)
            if listener.family in (socket.AF_INET, socket.AF_INET6):
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT_S)
        self.listen(True)
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, None)
        next_expiry = 0.0
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            for key, events in self.selector.select(timeout=EXPIRY_INTERVAL):
                self.dispatch(key.data, events)
            now = time.monotonic()
            if now >= next_expiry:
                self.expire(now)
                next_expiry = now + EXPIRY_INTERVAL
        self.shut_down()

    def dispatch(self, target, events: int) -> None:
        if target is None:
            with contextlib.suppress(BlockingIOError):
                os.read(self.PIPE[0], 4096)
        elif isinstance(target, Connection):
            if events & selectors.EVENT_WRITE:
                self.flush(target)
                if not target.out and target.inbuf:
                    self.serve(target)
            elif events & selectors.EVENT_READ:
                self.receive(target)
        else:
            self.accept(target)

    def accept(self, listener: socket.socket) -> None:
        # One connection a wake-up, read at once: the listeners defer accepting until the first
        # bytes are in (TCP_DEFER_ACCEPT), so a request that arrives whole is run before this
        # worker takes another connection, and idle workers share the connections that come
        # together rather than one worker queueing them behind a request it is running.
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, addr, listener, time.monotonic() + self.read_timeout)
        self.connections[sock.fileno()] = conn
        self.selector.register(sock, selectors.EVENT_READ, conn)
        if len(self.connections) >= self.cfg.worker_connections:
            self.listen(False)  # the rest wait in the backlog, for this worker or another
        self.receive(conn)

    def listen(self, on: bool) -> None:
        if on == self.listening:
            return
        for listener in self.sockets:
            if on:
                self.selector.register(listener, selectors.EVENT_READ, listener)
            else:
                self.selector.unregister(listener)
        self.listening = on

    def receive(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        if not data:
            self.close(conn)
            return
        if not conn.inbuf and not conn.out:
            # The first byte of a request starts its clock (an idle keep-alive had its own).
            conn.deadline = time.monotonic() + self.read_timeout
        conn.inbuf += data
        self.serve(conn)

    def serve(self, conn: Connection) -> None:
        """Run the application on every complete request in the buffer, in order, each answer
        written (or queued) before the next request is read."""
        while conn.inbuf and not conn.closing:
            try:
                length = request_length(conn.inbuf, max_head=self.max_head, max_body=self.max_body)
            except FramingError as refusal:
                self.refuse(conn, refusal.status, refusal.code, refusal.message)
                break
            if length is None:
                if not conn.continued and HEAD_END in conn.inbuf and _expects_continue(conn.inbuf):
                    conn.continued = True
                    self.queue(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
                break
            request_bytes = bytes(conn.inbuf[:length])
            del conn.inbuf[:length]
            self.handle(conn, request_bytes)
            conn.continued = False
            self.flush(conn)
            if conn.out:
                return  # the client is not reading: the rest waits until it does
        self.flush(conn)

    def handle(self, conn: Connection, request_bytes: bytes) -> None:
        sink = ResponseSink(self, conn)
        req = None
        try:
            req = next(http.RequestParser(self.cfg, [request_bytes], conn.addr))
            self.handle_request(conn, sink, req)
        except StopIteration:
            conn.closing = True
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            conn.closing = True
        except Exception as error:
            self.handle_error(req, sink, conn.addr, error)
            conn.closing = True

    def handle_request(self, conn: Connection, sink: ResponseSink, req) -> None:
        environ: dict = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            request_start = datetime.now()
            resp, environ = wsgi.create(req, sink, conn.addr, conn.listener.getsockname(), self.cfg)
            self.nr += 1
            if self.nr >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            if not self.alive:
                resp.force_close()
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - request_start)
                if hasattr(respiter, "close"):
                    respiter.close()
            if resp.should_close():
                conn.closing = True
        except Exception:
            if resp is not None and resp.headers_sent:
                # Part of the answer is out: only closing the connection can signal the error.
                self.log.exception("Error handling request")
                conn.out.clear()
                conn.out_bytes = 0
                self.close(conn)
                raise StopIteration from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")

    def handle_error(self, req, client, addr, exc) -> None:
        if isinstance(client, ResponseSink) and not isinstance(exc, http.errors.NoMoreData):
            status, code, message = _parse_error_answer(exc)
            if status == 500:
                self.log.exception("Error handling request")
            else:
                self.log.warning("Invalid request: %s", exc)
            client.conn.out.clear()
            client.conn.out_bytes = 0
            self.refuse(client.conn, status, code, message)
            return
        super().handle_error(req, client, addr, exc)

    def refuse(self, conn: Connection, status: int, code: str, message: str) -> None:
        """Answer with the API's JSON error and close once it is written."""
        from analytics.errors import ApiError

        body = ApiError(status, code, message).response().content
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.queue(conn, head.encode("latin-1") + body)
        conn.inbuf.clear()
        conn.closing = True

    def queue(self, conn: Connection, data: bytes) -> None:
        conn.out.append(memoryview(data))
        conn.out_bytes += len(data)

    def flush(self, conn: Connection) -> None:
        """Write what the socket takes now; wait for writability for the rest."""
        if conn.sock.fileno() < 0:
            return
        try:
            while conn.out:
                chunk = conn.out[0]
                sent = conn.sock.send(chunk)
                conn.out_bytes -= sent
                if sent < len(chunk):
                    conn.out[0] = chunk[sent:]
                    break
                conn.out.popleft()
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close(conn)
            return
        if conn.out:
            # A client that reads nothing for a whole worker timeout is dropped.
            conn.deadline = time.monotonic() + self.timeout
            self.watch(conn, selectors.EVENT_WRITE)
        elif conn.closing:
            self.close(conn)
        else:
            # The rest of a pipelined request has its read clock; an idle connection, keep-alive's.
            conn.deadline = time.monotonic() + (self.read_timeout if conn.inbuf else self.cfg.keepalive)
            self.watch(conn, selectors.EVENT_READ)

    def watch(self, conn: Connection, events: int) -> None:
        if conn.events != events:
            self.selector.modify(conn.sock, events, conn)
            conn.events = events

    def drain(self, conn: Connection) -> None:
        """Block until the client has taken the output down to half the high-water mark."""
        while conn.out_bytes > OUTPUT_HIGH_WATER // 2:
            self.notify()
            _, writable, _ = select.select([], [conn.sock], [], self.timeout)
            if not writable:
                raise OSError(errno.ETIMEDOUT, "the client stopped reading")
            chunk = conn.out[0]
            try:
                sent = conn.sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                continue
            conn.out_bytes -= sent
            if sent < len(chunk):
                conn.out[0] = chunk[sent:]
            else:
                conn.out.popleft()

    def expire(self, now: float) -> None:
        for conn in [c for c in self.connections.values() if c.deadline <= now]:
            if conn.inbuf and not conn.out and not conn.closing:
                self.refuse(conn, 408, "request_timeout", "The request did not arrive in time.")
                self.flush(conn)
            else:
                self.close(conn)

    def close(self, conn: Connection) -> None:
        conn.closing = True
        fileno = conn.sock.fileno()
        if fileno < 0:
            return
        self.connections.pop(fileno, None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn.sock)
        conn.sock.close()
        if self.alive and len(self.connections) < self.cfg.worker_connections:
            self.listen(True)

    def shut_down(self) -> None:
        """Stop accepting, answer the requests that have fully arrived, give queued answers the
        graceful timeout to leave, then close."""
        self.listen(False)
        for conn in list(self.connections.values()):
            if not conn.out and not conn.closing:
                self.receive(conn)
        for conn in list(self.connections.values()):
            if not conn.out:
                self.close(conn)
        give_up = time.monotonic() + self.cfg.graceful_timeout
        while self.connections and time.monotonic() < give_up:
            self.notify()
            for key, events in self.selector.select(timeout=EXPIRY_INTERVAL):
                if isinstance(key.data, Connection) and events & selectors.EVENT_WRITE:
                    key.data.closing = True
                    self.flush(key.data)
        for conn in list(self.connections.values()):
            self.close(conn)


def _parse_error_answer(exc: Exception) -> tuple[int, str, str]:
    errors = http.errors
    if isinstance(exc, errors.LimitRequestHeaders):
        return 431, "headers_too_large", "The request headers are too large."
    if isinstance(exc, errors.LimitRequestLine):
        return 414, "uri_too_long", "The request line is too long."
    if isinstance(exc, errors.UnsupportedTransferCoding):
        return 501, "not_implemented", "This transfer coding is not supported."
    if isinstance(exc, errors.ParseException):
        return 400, "bad_request", "The request is malformed."
    return 500, "internal_error", "Something went wrong on our side."
