"""Integration tests of the sources against real backend servers started by the session."""
