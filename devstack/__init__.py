"""The one-machine stack: a Temporal dev server, demo data, the worker and the API.

`itr dev` runs it; the benchmarks and the tests start their Temporal dev server with the
same builder (`devstack.temporal.DevServer`).
"""
