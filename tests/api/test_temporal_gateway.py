"""What the API answers when Temporal cannot take a command: always a 503 the client can
retry (with the same Idempotency-Key), never a 502 it cannot act on."""

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.temporal_gateway import _rpc_problem


@pytest.mark.parametrize(
    ("status", "message"),
    [
        # The workflow task is failing (a bad build, a worker killed mid-task).
        (
            RPCStatusCode.FAILED_PRECONDITION,
            "Unable to perform workflow execution update due to Workflow Task in failed state.",
        ),
        (RPCStatusCode.UNKNOWN, "transport error"),  # the server restarting
        (RPCStatusCode.UNAVAILABLE, "connection refused"),
        (RPCStatusCode.RESOURCE_EXHAUSTED, "namespace rate limit exceeded"),
    ],
)
def test_a_temporal_refusal_is_a_retryable_503_naming_the_cause(
    status: RPCStatusCode, message: str
) -> None:
    problem = _rpc_problem(RPCError(message, status, None))
    assert problem.status == 503
    assert message in problem.detail
