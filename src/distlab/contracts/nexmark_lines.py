"""Nexmark events as the lines a Kafka source carries, so that every engine reads the
same bytes: one CSV line per event, its kind first, then its event id, then the record's
fields in their declared order (contracts/nexmark.py).

* ``p,event_id,id,name,email,city,state,date_time``
* ``a,event_id,id,item_name,initial_bid,reserve,date_time,expires,seller,category``
* ``b,event_id,auction,bidder,price,channel,url,date_time``

No field the generator makes holds a comma or a line break; :func:`encode` refuses one
rather than write a line that reads back otherwise. The event time is a field of every
kind, so an engine's SQL can declare it as a column of the one source table.
"""

from __future__ import annotations

import functools
from dataclasses import astuple, fields

from distlab.contracts.nexmark import Auction, Bid, NexmarkEvent, NexmarkSpec, Person, Record
from distlab.contracts.nexmark_generator import generate

#: the first field of a line: which record it holds
KINDS: dict[str, type[Record]] = {"p": Person, "a": Auction, "b": Bid}
_KIND_OF = {cls: kind for kind, cls in KINDS.items()}
#: per kind, whether each field of the record is an int (else a str)
_INTS = {kind: tuple(f.type == "int" for f in fields(cls)) for kind, cls in KINDS.items()}


def encode(event: NexmarkEvent) -> str:
    values = astuple(event.record)
    for value in values:
        if isinstance(value, str) and ("," in value or "\n" in value or "\r" in value):
            raise ValueError(f"event {event.event_id}: a field holds a separator: {value!r}")
    kind = _KIND_OF[type(event.record)]
    return ",".join((kind, str(event.event_id), *map(str, values)))


def decode(line: str | bytes) -> NexmarkEvent:
    text = line.decode() if isinstance(line, bytes) else line
    kind, event_id, *values = text.rstrip("\r\n").split(",")
    ints = _INTS[kind]
    if len(values) != len(ints):
        raise ValueError(f"a {KINDS[kind].__name__} line has {len(values)} fields: {text!r}")
    record = KINDS[kind](*(int(v) if is_int else v for v, is_int in zip(values, ints, strict=True)))
    return NexmarkEvent(int(event_id), record)


@functools.lru_cache(maxsize=2)
def payloads(spec: NexmarkSpec) -> tuple[bytes, ...]:
    """Every event's line as the bytes a source carries, in send order (made before a
    sender's clock starts)."""
    return tuple(encode(e).encode() for e in generate(spec))
