"""The member's provident fund account and its ledger: models and the reads every money feature
shares (the row lock that serialises a member's money-moving requests among them)."""
