"""The committed OpenAPI document: ``python -m api.openapi`` rewrites ``api/openapi.json``.

A test fails while the file differs from what the app serves, so a change of the contract is
always a change of this file, reviewed with the code.
"""

from __future__ import annotations

from api.app import OPENAPI_FILE, openapi_document

if __name__ == "__main__":
    OPENAPI_FILE.write_text(openapi_document(), encoding="utf-8")
    print(f"wrote {OPENAPI_FILE}")
