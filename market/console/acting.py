"""A console form through the API's own input schema: the same checks, the same error codes and messages.

A form's values are validated by the pydantic schema the API endpoint takes; a refusal is the `ValidationFailed`
the API would answer with (per field: code and message), so the page shows each message next to its field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from market.core.errors import ValidationFailed, validation_details

M = TypeVar("M", bound=BaseModel)


def parse(schema: type[M], data: dict[str, Any]) -> M:
    """`data` as `schema`; else ValidationFailed with the API's details.

    A detail's field is the form field it belongs to (`review_criteria`, not `review_criteria.1.weight`): the
    page has one place for a list's errors; the full path stays in the message.
    """
    try:
        return schema.model_validate(data)
    except PydanticValidationError as exc:
        details = []
        for d in validation_details(exc.errors()):
            top = d["field"].split(".")[0]
            message = d["message"] if top == d["field"] else f"{d['field']}: {d['message']}"
            details.append({"field": top, "code": d["code"], "message": message})
        first = details[0]
        code = first["code"] if len(details) == 1 else "validation_failed"
        message = f"{first['field']}: {first['message']}" if len(details) == 1 else "The request has invalid fields."
        raise ValidationFailed(message, code=code, details=details) from None


def form_values(form: Any) -> dict[str, Any]:
    """A submitted form as a plain dict (the first value of each field), to show back after a refusal."""
    return {k: form.get(k) for k in form.keys()}


def text(form: dict[str, Any], name: str) -> str | None:
    """A text field, stripped; None when empty or absent."""
    value = form.get(name)
    return (value.strip() or None) if isinstance(value, str) else None
