"""Every money, date and time a client can send goes through the shared fields of
``backend.fields`` (so their bounds hold everywhere): checked over every route's arguments."""

import marshmallow as ma

from backend.fields import Amount, InputDate, InputDateTime


def _argument_fields(app):
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in getattr(view_class, "methods", None) or ():
            doc = getattr(getattr(view_class, method.lower()), "_apidoc", {})
            for parameter in (doc.get("arguments") or {}).get("parameters", []):
                schema = parameter["schema"]
                schema = schema() if isinstance(schema, type) else schema
                for name, field in schema.fields.items():
                    yield f"{method} {rule.rule} {name}", name, field


def test_every_money_date_and_time_input_uses_the_shared_fields(app):
    checked, offenders = 0, []
    for label, name, field in _argument_fields(app):
        checked += 1
        if isinstance(field, ma.fields.DateTime) and not isinstance(field, InputDateTime):
            offenders.append(label)
        elif isinstance(field, ma.fields.Date) and not isinstance(field, InputDate):
            offenders.append(label)
        elif isinstance(field, ma.fields.Decimal) and not isinstance(field, Amount):
            if not name.endswith("rate"):  # a rate is a percentage, not money
                offenders.append(label)
        elif name in ("amount", "principal", "interest", "penalty"):
            if not isinstance(field, Amount):
                offenders.append(label)
    assert checked > 50
    assert offenders == []
