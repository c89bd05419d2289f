"""The ``Idempotency-Key`` header of money-moving requests."""

from __future__ import annotations

import marshmallow as ma

REPLAY_HEADER = "Idempotency-Replayed"


class IdempotencyHeaderSchema(ma.Schema):
    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        metadata={"description": "unique per submission; a replay returns the first answer"},
    )
