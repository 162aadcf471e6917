"""One place that builds a V3 node schema, so that every node gets the same treatment of
fields that only newer ComfyUI versions know."""
from __future__ import annotations

from comfy_api.v0_0_2 import io


def node_schema(*, search_aliases=(), **fields) -> io.Schema:
    """``io.Schema(**fields)``, plus ``search_aliases`` where this ComfyUI's schema has the field
    (newer versions; older frontends search node ids and display names only, which is why the
    display names say "Inpaint")."""
    if "search_aliases" in getattr(io.Schema, "__dataclass_fields__", {}):
        fields["search_aliases"] = list(search_aliases)
    return io.Schema(**fields)
