"""Form input → the API's request models, so a page validates exactly as the endpoint does."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from market.core.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def blank_to_none(data: dict[str, Any]) -> dict[str, Any]:
    """An empty text box means "not given" (as an absent JSON key), not an empty string."""
    return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}


def parse(model: type[M], data: dict[str, Any]) -> M:
    """The API's model from form data; its errors raised as the API's 422 (`validation_failed`, one per field)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "request", "code": err["type"], "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ValidationFailed(details[0]["message"], details=details) from None
