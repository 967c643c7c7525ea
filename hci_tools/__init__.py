"""Operator and CI tooling around the proxmox-hci program (not part of the Pulumi program itself;
the program never imports it).

pulumi_project: run the real `pulumi` CLI on a copy of a project, against a lab (the e2e tests and the benches).
lab_stack: a lab in .labs/NAME and stack NAME generated from its shape (stack_shape), and its teardown.
preview_comment: the pull-request comment from `pulumi preview --json` (preview_plan, cluster_facts).
changed_stacks: the stacks a change touches, for the pull-request and deploy workflows.
"""
