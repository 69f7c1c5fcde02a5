"""The hostile corpus, tests/data/hostile_webhook.json: requests built from its cases, and
what each came to, for the webhook targets and for the signals topic.

A case has a `name`, a `body`, optional changes to how it is signed, `expect` (the
webhook's status and error reason) and, when accepted, `then`: "order", "nothing" (a
repeated signal_id) or "dead_letter:<reason>" (on_signal refused it on first delivery).

Bodies: {"signal": {...}, "drop": [...], "pad_to": n} changes the corpus's base signal
(its signal_id defaults to c-<name>); {"alert": {...}} is a TradingView alert (source
tv); {"json": text} is sent as UTF-8, {"hex": ...} as those bytes, {"text": t, "times": n}
as t repeated. Signing: `source`, `omit_headers`, `timestamp` (sent and signed as written;
{now}, {now_underscored}, {now_fullwidth} and {now_arabic} are filled in), `skew`,
`secret`, `signature` (sent instead of the right one), `signature_suffix`,
`sign_timestamp_offset`, `sign_body_suffix`. `replays`: the identical request sent again
that many times, each a 409 unless `replay_expect` says otherwise. `topic: false` keeps a
case off the topic run (its refusal depends on the webhook: a header's source, an alert).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from stratus.adapters.local_bus import LocalBus
from stratus.contracts import codec
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.conftest import open_accounts

CORPUS = Path(__file__).parents[1] / "data" / "hostile_webhook.json"
SECRETS = {"corpus": "corpus-secret", "tv": "tv-secret"}
TRADINGVIEW = {
    "tv": {"account": "acct-corpus", "strategy": "tv", "symbols": {"BTCUSDT.P": "BTC/USDT:USDT"}}
}
OPEN, DISABLED = "acct-corpus", "acct-off"
SIGNING = {
    "source", "omit_headers", "timestamp", "skew", "secret", "signature", "signature_suffix",
    "sign_timestamp_offset", "sign_body_suffix", "replays",
}  # fmt: skip
# What a server hands the application: header bytes decoded as Latin-1 (WSGI and ASGI).
Headers = dict[str, str]
Send = Callable[[Headers, bytes], tuple[int, dict[str, Any]]]


def wire(text: str) -> str:
    """A header value as a server decodes it when the client sent it as UTF-8."""
    return text.encode("utf-8").decode("latin-1")


@dataclass(frozen=True)
class Case:
    name: str
    spec: Mapping[str, Any]
    base: Mapping[str, Any]

    @property
    def expect(self) -> tuple[int, str | None]:
        return self.spec["expect"]["status"], self.spec["expect"].get("error")

    @property
    def then(self) -> str:
        return str(self.spec.get("then", "nothing"))

    @property
    def replay_expect(self) -> tuple[int, str | None]:
        expect = self.spec.get("replay_expect", {"status": 409, "error": "replayed"})
        return expect["status"], expect.get("error")

    @property
    def on_topic(self) -> bool:
        """Bad as a message too: only its body differs, and it never trades."""
        bad = self.expect[0] >= 400 or self.then.startswith("dead_letter:")
        return bad and self.spec.get("topic", True) and not SIGNING & set(self.spec)

    @cached_property
    def body(self) -> bytes:
        body = self.spec["body"]
        if "json" in body:
            return str(body["json"]).encode("utf-8")
        if "hex" in body:
            return bytes.fromhex(body["hex"])
        if "text" in body:
            return (str(body["text"]) * int(body["times"])).encode()
        if "alert" in body:
            return json.dumps(body["alert"]).encode()
        raw = json.dumps(self.signal()).encode()
        return raw + b" " * (int(body.get("pad_to", 0)) - len(raw))

    def signal(self, **extra: Any) -> dict[str, Any]:
        body = self.spec["body"]
        record = {"signal_id": f"c-{self.name}", **self.base, **extra, **body["signal"]}
        for name in body.get("drop", []):
            record.pop(name)
        return record

    def request(self, now: float) -> tuple[Headers, bytes]:
        """Headers (as the server sees them) and body, signed as the case says."""
        spec, body = self.spec, self.body
        stamp = str(int(now) + int(spec.get("skew", 0)))
        timestamp = str(spec.get("timestamp", stamp)).format(
            now=stamp,
            now_underscored=f"{int(stamp):_}",
            now_fullwidth=stamp.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}),
            now_arabic=stamp.translate({ord(d): 0x0660 + int(d) for d in "0123456789"}),
        )
        signed_stamp = str(int(stamp) + spec["sign_timestamp_offset"]) if (
            "sign_timestamp_offset" in spec
        ) else timestamp  # fmt: skip
        source = str(spec.get("source", "corpus"))
        secret = str(spec.get("secret", SECRETS.get(source, "none")))
        signed_body = body + str(spec.get("sign_body_suffix", "")).encode()
        signature = str(spec.get("signature", ingest.sign(secret, signed_stamp, signed_body)))
        headers = {
            ingest.SOURCE_HEADER: source,
            ingest.TIMESTAMP_HEADER: timestamp,
            ingest.SIGNATURE_HEADER: signature + str(spec.get("signature_suffix", "")),
            "Content-Type": "application/json",
        }
        for name in spec.get("omit_headers", []):
            headers.pop(name)
        return {name: wire(value) for name, value in headers.items()}, body

    def message(self) -> bytes:
        """The body as someone would publish it straight to the signals topic: with every
        field the topic's schema has a default for (Pub/Sub refuses a message without)."""
        if "signal" not in self.spec["body"]:
            return self.body
        fields = codec.schema("Signal")["fields"]
        defaults = {field["name"]: field["default"] for field in fields if "default" in field}
        stamped = {"source": "corpus", "created_at": datetime.now(UTC).isoformat()}
        return json.dumps({**defaults, **self.signal(**stamped)}).encode()


def load() -> list[Case]:
    data = json.loads(CORPUS.read_text())
    return [Case(spec["name"], spec, data["base_signal"]) for spec in data["cases"]]


@dataclass(frozen=True)
class Answer:
    status: int
    error: str | None
    replays: tuple[tuple[int, str | None], ...]
    fate: str


def prepare(services: Services) -> None:
    """The corpus's accounts: one open, one disabled."""
    open_accounts(services, OPEN, DISABLED)
    services.accounts.update(DISABLED, {"enabled": False})  # type: ignore[attr-defined]


def run(cases: list[Case], send: Send, services: Services, bus: LocalBus) -> dict[str, Answer]:
    """Every case through `send`, the bus drained after each to see what it came to."""
    answers = {}
    for case in cases:
        headers, body = case.request(time.time())
        status, reply = send(headers, body)
        if status >= 400:
            assert reply.get("detail"), (case.name, reply)
            assert reply.get("trace_id"), (case.name, reply)
        replays = tuple(_error(send(headers, body)) for _ in range(case.spec.get("replays", 0)))
        answers[case.name] = Answer(status, reply.get("error"), replays, _fate(services, bus))
    return answers


def _error(answer: tuple[int, dict[str, Any]]) -> tuple[int, str | None]:
    return answer[0], answer[1].get("error")


def _fate(services: Services, bus: LocalBus) -> str:
    orders, dead = len(services.state.orders()), len(bus.messages("signals-dead-letter"))
    bus.drain()
    letters = bus.messages("signals-dead-letter")[dead:]
    if len(services.state.orders()) > orders:
        return "order"
    if not letters:
        return "nothing"
    [letter] = letters
    attempt = letter.attributes.get("delivery_attempt")
    return f"dead_letter:{letter.attributes['reason']}" + ("" if attempt == "1" else "(retried)")


def check(cases: list[Case], answers: Mapping[str, Answer]) -> None:
    """Each answer is the case's expectation: a 4xx with its reason, or accepted and then
    exactly what `then` says; never a 5xx, never an order the case did not ask for."""
    wrong = {}
    for case in cases:
        answer = answers[case.name]
        want = Answer(*case.expect, (case.replay_expect,) * case.spec.get("replays", 0), case.then)
        if answer != want:
            wrong[case.name] = (answer, want)
    assert not wrong, "\n".join(
        f"{name}: got {got}, want {want}" for name, (got, want) in wrong.items()
    )
