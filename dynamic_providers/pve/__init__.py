"""The PVE client shared by every provider: credentials (credentials.py), sessions (transport.py),
retries (retry.py), tasks (tasks.py) and one method per REST call (client.py). Import from those
modules; this package imports nothing itself.
"""
