"""A local server that speaks the Wonde API over generated or loaded schools, for tests and benchmarks.

Start one with ``running_sandbox()`` (a background thread, for tests) or ``bandsync sandbox`` (a
process); drive it through ``SandboxState`` in-process or the ``/admin`` routes over HTTP.
"""
