"""Request-body conventions of the enrollment routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from services.enrollment.titles import problem
from shared.inputs import Note
from shared.limits import UPLOAD


class StrictIn(BaseModel):
    """Request bodies: unknown fields are a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


Reason = Annotated[Note, Field(min_length=1, max_length=500)]


# The request body of a CSV import, as /openapi.json describes it: the file as the body, or a
# multipart form's file field (a browser's upload).
CSV_UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
}}} | UPLOAD


async def csv_text(request: Request, max_bytes: int) -> str:
    """A CSV import's text: the raw body or a multipart form's first file, in UTF-8 (with or
    without a BOM) or GB18030, which is how Excel in China saves CSV."""
    raw = await request.body()
    if len(raw) > max_bytes:
        raise problem("payload_too_large", f"at most {max_bytes} bytes", 413)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        files = [v for _, v in (await request.form()).multi_items() if not isinstance(v, str)]
        if not files:
            raise problem("bad_csv", "no file in the form", 422)
        raw = await files[0].read()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise problem("bad_csv", "the file must be text in UTF-8 or GB18030 (GBK)", 422)
