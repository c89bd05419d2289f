"""Withdrawal applications (提取): eligibility rules and submission."""
