"""One adapter class per provider; ``providers.registry`` maps provider ids to them."""

from __future__ import annotations
