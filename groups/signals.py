"""What tenancy tells the floors above it, without importing them.

``membership_ended`` is sent inside the transaction that removes a member (or a declined
invitation), so a receiver's writes commit or roll back with the removal.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with ``organization`` (the group) and ``user`` (who left or was removed).
membership_ended = Signal()
