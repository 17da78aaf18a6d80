"""Advice for one function over its items: which engine, chunk size and worker count,
measured here (``distlab advise``, ``distlab.advice``); see distlab.advice.advisor."""

from distlab.advice.advisor import advise
from distlab.advice.answer import Advice

__all__ = ["Advice", "advise"]
