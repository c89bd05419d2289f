"""A realistic, deterministic demo centre: employers, members, ledgers, loans, inbox.

``generator`` makes plain dicts per table, ``writer`` bulk-loads them, ``csvfile`` writes the
demo logins, ``runner`` ties them together for ``gjj seed`` / ``gjj demo``.
"""
