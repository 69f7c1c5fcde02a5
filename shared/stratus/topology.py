"""The topology (topology.yaml) as typed data: topics, functions, schedules, retry policy."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from importlib.resources import files

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RetryPolicy(_Data):
    minimum_backoff_seconds: int
    maximum_backoff_seconds: int
    max_delivery_attempts: int = Field(ge=5, le=100)  # Pub/Sub's allowed range
    ack_deadline_seconds: int
    message_retention: str = Field(pattern=r"^[0-9]+s$")

    @property
    def retention(self) -> timedelta:
        """How long Pub/Sub keeps a message: no copy of it arrives after this."""
        return timedelta(seconds=int(self.message_retention.removesuffix("s")))

    @property
    def delivery_window(self) -> timedelta:
        """How long after a message's first delivery Pub/Sub may still deliver it: every
        attempt may run until the ack deadline, and the waits between attempts grow
        exponentially (doubling) from the minimum backoff, capped at the maximum. With
        topology.yaml's policy: 5 x 60 s + 10 + 20 + 40 + 80 s = 450 s."""
        waits = sum(self.backoff_seconds(n) for n in range(1, self.max_delivery_attempts))
        return timedelta(seconds=self.max_delivery_attempts * self.ack_deadline_seconds + waits)

    def backoff_seconds(self, failures: int) -> float:
        """How long Pub/Sub waits before the next delivery after `failures` failed ones:
        exponential from the minimum, capped at the maximum (RetryPolicy's documented
        behaviour; best effort in production, enforced by the local relay)."""
        if failures < 1:
            return 0.0
        return float(
            min(self.maximum_backoff_seconds, self.minimum_backoff_seconds * 2 ** (failures - 1))
        )


# Message fields of a topic's ordering key, unless topology.yaml says otherwise.
DEFAULT_ORDERING = ("account", "symbol")


class Topic(_Data):
    schema_name: str = Field(alias="schema")
    ordered_by: tuple[str, ...] = DEFAULT_ORDERING


class Trigger(_Data):
    topic: str | None = None  # the one topic of a step of the flow
    topics: tuple[str, ...] = ()  # several: a function that hears many (notify)
    dead_letters: bool = False  # and every dead-letter topic
    http: str | None = None  # "public" or "scheduler"

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        kinds = [self.topic is not None, bool(self.topics or self.dead_letters), bool(self.http)]
        if sum(kinds) != 1:
            raise ValueError("a trigger is either a topic, topics or http")
        return self


class Function(_Data):
    trigger: Trigger
    publishes: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    concurrency: int = Field(default=1, ge=1, le=1000)  # deliveries one instance runs at once


class Manager(_Data):
    records: tuple[str, ...] = ()  # shared push subscriptions (and every dead-letter topic)
    streams: tuple[str, ...] = ()  # per-instance subscriptions of the live console
    publishes: tuple[str, ...] = ()


class Watcher(_Data):
    publishes: tuple[str, ...] = ()


class Schedule(_Data):
    cron: str
    function: str


class Topology(_Data):
    retry: RetryPolicy
    topics: dict[str, Topic]
    functions: dict[str, Function]
    manager: Manager = Manager()
    watcher: Watcher = Watcher()
    schedules: dict[str, Schedule]

    @model_validator(mode="after")
    def _references_exist(self) -> Topology:
        for name, function in self.functions.items():
            trigger = function.trigger
            used = [*function.publishes, *filter(None, [trigger.topic]), *trigger.topics]
            for topic in used:
                if topic not in self.topics:
                    raise ValueError(f"function {name} uses unknown topic {topic}")
        manager = self.manager
        for topic in (*manager.records, *manager.streams, *manager.publishes):
            if topic not in self.topics:
                raise ValueError(f"the manager uses unknown topic {topic}")
        for topic in self.watcher.publishes:
            if topic not in self.topics:
                raise ValueError(f"the watcher uses unknown topic {topic}")
        for name, schedule in self.schedules.items():
            if schedule.function not in self.functions:
                raise ValueError(f"schedule {name} targets unknown function {schedule.function}")
        return self

    def subscribers(self, topic: str) -> list[str]:
        """Functions triggered by `topic`, in topology order."""
        return [name for name in self.functions if topic in self.triggers(name)]

    def triggers(self, function: str) -> list[str]:
        """The topics `function` hears, each through its own subscription (none: HTTP)."""
        trigger = self.functions[function].trigger
        topics = [*filter(None, [trigger.topic]), *trigger.topics]
        if trigger.dead_letters:
            topics += [self.dead_letter_topic(topic) for topic in self.topics]
        return topics

    @staticmethod
    def dead_letter_topic(topic: str) -> str:
        return f"{topic}-dead-letter"

    def recorded(self) -> list[str]:
        """Topics the manager's recorder gets pushed: its own and every dead-letter topic."""
        return [*self.manager.records, *(self.dead_letter_topic(t) for t in self.topics)]


@cache
def topology() -> Topology:
    text = (files("stratus") / "topology.yaml").read_text()
    # libyaml's parser when the wheel has it: ~10x faster, on every cold start.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return Topology.model_validate(yaml.load(text, Loader=loader))
