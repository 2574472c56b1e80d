"""The HTTP face of the emulator: Bot API requests, file downloads, injected faults."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import socket
import sys
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from emulator.errors import ApiError
from emulator.faults import Fault, Faults
from emulator.methods import METHODS, Params, Upload, is_sending
from emulator.state import State

# Bot API fields whose type is String: sent raw by clients, never JSON-decoded here.
STRING_FIELDS = frozenset(
    {
        "action",
        "address",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "custom_title",
        "description",
        "document",
        "emoji",
        "explanation",
        "explanation_parse_mode",
        "file_id",
        "first_name",
        "foursquare_id",
        "google_place_id",
        "inline_message_id",
        "invite_link",
        "ip_address",
        "language_code",
        "name",
        "parse_mode",
        "photo",
        "query",
        "question",
        "question_parse_mode",
        "secret_token",
        "short_description",
        "sticker",
        "text",
        "title",
        "type",
        "url",
    }
)


class Call(NamedTuple):
    """One request as the emulator saw it; status is None when no answer was sent."""

    method: str
    params: dict[str, Any]
    status: int | None


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    responses_429: int = 0
    errors: Counter[int] = field(default_factory=Counter)


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._stats = Stats()

    def record(self, method: str, params: dict[str, Any], status: int | None) -> None:
        with self._lock:
            self._calls.append(Call(method, params, status))
            self._stats.calls[method] += 1
            if status == 429:
                self._stats.responses_429 += 1
            if status is not None and status >= 300:
                self._stats.errors[status] += 1

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._stats = Stats()

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                Counter(self._stats.calls), self._stats.responses_429, Counter(self._stats.errors)
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 would drop some.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: BotApiServer):
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client vanishing mid-request (a killed bot) is routine, not an emulator bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PTB's connection pool expects
    # Headers and body go out in separate writes; Nagle would delay each answer by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        self.server.api.handle(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: request lines contain the bot token."""


class BotApiServer:
    """Serves /bot<token>/<method> and /file/bot<token>/<path> on 127.0.0.1."""

    def __init__(self, state: State, faults: Faults, log: CallLog, port: int = 0):
        self._state = state
        self._faults = faults
        self._log = log
        self._httpd = _Server(("127.0.0.1", port), self)
        # A short poll interval keeps stop() quick; it only paces the shutdown check.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="emulator-http", daemon=True
        )
        self.internal_errors: list[str] = []

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        # Idle keep-alive connections would otherwise linger with their client unaware.
        with self._httpd.connections_lock:
            for connection in list(self._httpd.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    # --- request handling -------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        body = self._read_body(handler)
        if path.startswith("/file/bot"):
            self._serve_file(handler, path.removeprefix("/file/bot"))
            return
        token, _, method_name = path.removeprefix("/bot").partition("/")
        if not path.startswith("/bot") or not method_name:
            _send_json(handler, 404, _error(404, "Not Found"))
            return
        try:
            params = _parse_params(handler, body)
        except ApiError as error:
            params = Params({})
            self._finish(handler, method_name, params, None, error.code, error.to_response())
            return
        fault = self._faults.take(method_name, is_sending(method_name))
        if fault is not None and not fault.after_processing:
            self._finish(handler, method_name, params, fault, 0, {})
            return
        status, response = self._call(token, method_name, params)
        self._finish(handler, method_name, params, fault, status, response)

    def _call(self, token: str, method_name: str, params: Params) -> tuple[int, dict[str, Any]]:
        if unquote(token) != self._state.token:
            return 401, _error(401, "Unauthorized")
        function = METHODS.get(method_name.lower())
        if function is None:
            return 404, _error(404, "Not Found")
        try:
            with self._state.lock:
                result = function(self._state, params)
        except ApiError as error:
            return error.code, error.to_response()
        except Exception:
            # An emulator bug: answer like a server fault, and keep it visible to the tests.
            self.internal_errors.append(traceback.format_exc())
            traceback.print_exc()
            return 500, _error(500, "Internal Server Error")
        return 200, {"ok": True, "result": result}

    def _finish(
        self,
        handler: _Handler,
        method_name: str,
        params: Params,
        fault: Fault | None,
        status: int,
        response: dict[str, Any],
    ) -> None:
        if fault is not None:
            status, response = self._apply_fault(handler, fault)
        self._log.record(method_name, _loggable(params), status or None)
        if status:
            _send_json(handler, status, response)

    def _apply_fault(self, handler: _Handler, fault: Fault) -> tuple[int, dict[str, Any]]:
        """Return the answer a fault replaces the real one with; 0 means no answer at all."""
        if fault.kind == "retry_after":
            # Announced in Telegram seconds, scaled like the flood limits' own answers.
            scaled = fault.retry_after / self._state.limiter.limits.scale
            retry_after: float = int(scaled) if float(scaled).is_integer() else scaled
            return 429, ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            ).to_response()
        if fault.kind == "status":
            return fault.status, _error(fault.status, _reason(fault.status))
        if fault.kind == "timeout":
            self._faults.wait_released(self._faults.hold)
        handler.close_connection = True
        return 0, {}

    def _serve_file(self, handler: _Handler, rest: str) -> None:
        fault = self._faults.take("file", is_sending=False)
        if fault is not None:
            status, response = self._apply_fault(handler, fault)
            if status:
                _send_json(handler, status, response)
            return
        token, _, file_path = rest.partition("/")
        if unquote(token) != self._state.token:
            _send_json(handler, 401, _error(401, "Unauthorized"))
            return
        with self._state.lock:
            stored = next((f for f in self._state.files.values() if f.path == file_path), None)
        if stored is None:
            _send_json(handler, 404, _error(404, "Not Found"))
            return
        _send(handler, 200, stored.content, "application/octet-stream")

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length > 0 else b""


def _parse_params(handler: _Handler, body: bytes) -> Params:
    query = urlsplit(handler.path).query
    values: dict[str, Any] = {k: _decode(k, v) for k, v in parse_qsl(query, True)}
    uploads: dict[str, Upload] = {}
    content_type = handler.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
        if not isinstance(decoded, dict):
            raise ApiError(400, "Bad Request: can't parse JSON encoded request")
        values.update(decoded)
    elif content_type.startswith("multipart/form-data"):
        fields, uploads = _parse_multipart(content_type, body)
        values.update({k: _decode(k, v) for k, v in fields.items()})
    elif body:
        values.update({k: _decode(k, v) for k, v in parse_qsl(body.decode("utf-8"), True)})
    return Params(values, uploads)


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """The form's fields and files. The body is cut at its boundaries by hand and only each
    part's header block goes through the email parser: parsing a 30 MB upload as one email
    message took about 300 MB (lines, str copies), the whole peak of a year's /export."""
    outer = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(
        f"Content-Type: {content_type}\r\n\r\n")
    boundary = outer.get_boundary()
    fields: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    if not boundary:
        return fields, uploads
    delimiter = b"--" + boundary.encode("latin-1")
    at = body.find(delimiter)
    while at >= 0:
        at += len(delimiter)
        if body.startswith(b"--", at):
            break  # the close delimiter
        start = body.find(b"\r\n", at)
        end = body.find(b"\r\n" + delimiter, start)
        if start < 0 or end < 0:
            break  # truncated: what came before is kept
        start += 2
        split = body.find(b"\r\n\r\n", start - 2, end + 2)
        at = end + 2
        if split < 0:
            continue
        part = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(
            body[start:split + 2])
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = body[split + 4:end] if split + 4 <= end else b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = payload.decode("utf-8")
        else:
            uploads[name] = Upload(filename, payload, part.get_content_type())
    return fields, uploads


def _decode(name: str, value: str) -> Any:
    """Undo the client's encoding: JSON for every field whose Bot API type is not String."""
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _loggable(params: Params) -> dict[str, Any]:
    logged = dict(params.values)
    for name, upload in params.uploads.items():
        logged[name] = {"filename": upload.filename, "size": len(upload.content)}
    return logged


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def _reason(status: int) -> str:
    return _Handler.responses.get(status, ("Error",))[0]


def _send_json(handler: _Handler, status: int, response: dict[str, Any]) -> None:
    _send(handler, status, json.dumps(response).encode(), "application/json")


def _send(handler: _Handler, status: int, body: bytes, content_type: str) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        # The client went away (a killed bot, a timed-out request); nothing to answer.
        handler.close_connection = True
