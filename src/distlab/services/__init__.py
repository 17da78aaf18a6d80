"""Real servers an engine needs (a broker), started and stopped on 127.0.0.1 by PID."""
