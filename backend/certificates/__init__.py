"""Certificates (缴存证明, 贷款结清证明): one service issues every kind, renders its PDF and answers
third-party verification. The fund feature issues deposit certificates, loans settlement ones."""
