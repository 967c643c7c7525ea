"""Stack config -> a typed, validated HciConfig (see model.py for the keys, checks.py for the rules)."""

from .errors import ConfigError, Problem
from .loader import load_config
from .model import HciConfig

__all__ = ["ConfigError", "HciConfig", "Problem", "load_config"]
