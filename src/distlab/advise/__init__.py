"""Advice for one function over its items: which engine, chunk size and worker count,
measured here (``distlab advise``, ``distlab.advise``); see distlab.advise.advisor."""

from distlab.advise.advisor import advise
from distlab.advise.answer import Advice

__all__ = ["Advice", "advise"]
