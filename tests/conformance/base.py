"""What every conformance suite shares: one engine per test class, started once."""

from __future__ import annotations

import pytest

import distlab


class EngineSuite:
    """Set ``engine_name`` (and override ``engine_kwargs`` for servers to point at)."""

    engine_name: str = ""

    def engine_kwargs(self) -> dict:
        return {"workers": 2}

    def make_engine(self):
        return distlab.engine(self.engine_name, **self.engine_kwargs())

    @pytest.fixture(scope="class")
    @classmethod
    def shared_engine(cls):
        # Started once per class; a failed start is reported for each test, not retried.
        eng = cls._shared = cls().make_engine()
        eng.start()
        yield eng
        eng.close()
        cls._shared = None

    @pytest.fixture
    def engine(self, shared_engine):
        if not shared_engine.started:  # the leak check closed it: start it again
            shared_engine.start()
        return shared_engine
