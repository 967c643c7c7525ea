pytest_plugins = ["lab.pytest_plugin"]
