"""Scripts that print speed and request figures; each runs as a module from the repository root.

python -m bench.lab_bringup | bench.providers_requests | bench.orchestration | bench.noop_preview
python -m bench.peer_pool | bench.gen_stack
"""
