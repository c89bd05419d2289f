"""Channel library: Alipay, WeChat and SMS clients, typed errors and loopback fakes.

Knows nothing of ``backend`` (import-linter enforces it). See adapters/README.md.
"""
