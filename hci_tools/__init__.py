"""Operator and CI tooling around the program (not part of the Pulumi program itself).

pulumi_project: run the real `pulumi` CLI on a copy of a project, against a lab (the e2e tests and the benches).
"""
