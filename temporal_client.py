"""How every process of ours connects to Temporal: the worker, the API and `itr check`.

Here rather than in `worker.py`, so the API reaches Temporal without importing the worker
(and with it every activity and adapter).
"""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from config.settings import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """mTLS for Temporal Cloud or a secured cluster when a client certificate is configured."""
    if settings.temporal_tls_cert is None or settings.temporal_tls_key is None:
        return False
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes(),
        client_private_key=settings.temporal_tls_key.read_bytes(),
        server_root_ca_cert=(
            settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None
        ),
    )


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for ITR_TEMPORAL_ADDRESS and namespace, with the pydantic payload converter
    every workflow and activity of ours expects."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
