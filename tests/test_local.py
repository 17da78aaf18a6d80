from conformance import EngineConformance


class TestLocalEngine(EngineConformance):
    engine_name = "local"
