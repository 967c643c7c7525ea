"""PVE's HA stack in the lab: the config and the CRM's decisions (`state`), and the manager that applies them."""
