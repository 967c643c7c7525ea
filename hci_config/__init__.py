"""Stack config -> a typed, validated HciConfig.

loader.load_config is the entry point; model.py holds the keys, checks.py the rules, errors.py the
ConfigError that lists every problem. Import those modules directly: this file imports nothing, so
reading one small module (errors, pulumi_source) does not load pydantic and the whole model.
"""
